/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What the OSB face's files share (osb.c: the catalogue and the version
 * window; osb-instances.c; osb-bindings.c): the X-Broker-API-Version check,
 * OSB error bodies ({"error", "description"}, the spec's names), and the
 * principal a platform acts as for one department. The face parses and
 * answers in OSB's terms; every decision is the core's (resources.h).
 */

#include "resources.h"
#include "rest.h"

#define OSB_MIN_MINOR 13
#define OSB_MAX_MINOR 17

/* The minor version of X-Broker-API-Version. Outside the window, or
 * missing: the 412 is in reply already and the function answers false. */
bool osb_version_ok(RestRequest *req, RestReply *reply, int *ret_minor);

/* An OSB error reply: {"error": error, "description": ...}; error NULL
 * leaves that member out (the spec's plain 400). Returns 0. */
int osb_fail(RestReply *reply, unsigned status, const char *error, const char *fmt, ...) _printf_(4, 5);
/* A core refusal in OSB's terms: a policy refusal is 403 PolicyDenied with
 * every violation's article in the description, a bad field is 400, the
 * rest keep their HTTP status. Returns 0. */
int osb_fail_err(RestReply *reply, const CbError *err);

/* OSB ids (instance_id, binding_id): 1 to 200 bytes of the URL's
 * unreserved characters. */
bool osb_id_ok(const char *id);
/* accepts_incomplete=true in the query. */
bool osb_accepts_incomplete(RestRequest *req);

/* The principal a platform acts as for one department (an OSB
 * organization_guid): the platform's own name, so that the record and the
 * audit trail say which platform did it, with the department role for
 * that department only. The platform's name is borrowed (the config's);
 * the department is copied. Not to be copied itself (it points into itself). */
typedef struct OsbActor {
        Principal principal;
        CbCaller caller;
        char department[64];
} OsbActor;
void osb_actor_init(OsbActor *a, const CbCaller *platform, const char *department);
/* The instance the platform made under instance id iid, and an actor for
 * its department (ret_actor->department): 0, -ENOENT (none), or -EIO. */
int osb_instance_find(RestRequest *req, const char *iid, char ret_id[64], OsbActor *ret_actor);
/* osb_instance_find, then resources_get of it for ret_actor, in one read of
 * the record: 0, -ENOENT (none), or -EIO (not read, or resources_get's
 * refusal, then in err). */
int osb_instance_load(RestRequest *req, const char *iid, OsbActor *ret_actor, Resource *ret, CbError *err);
