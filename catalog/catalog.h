/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The published cloud service catalogue (regulation Art. 12) and its life
 * cycle. Every face calls these functions; they authorize the caller,
 * validate, change the store in one transaction, and return the service as
 * JSON. Nothing here knows about HTTP or D-Bus.
 *
 * Life cycle of one revision:
 *   draft -> submitted -> published (authority and finance signed, two
 *   different principals) -> deprecated -> retired.
 * A published service is never edited: an update starts the next revision
 * as a draft, and the published one stays in force until the new one is
 * published, when it becomes "superseded".
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "principal.h"
#include "store.h"

typedef struct Catalog Catalog;

int catalog_new(Store *store, Catalog **ret);
Catalog *catalog_free(Catalog *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Catalog *, catalog_free);

/* Imports every *.json in dir as published, revision 1, when the catalogue
 * is empty; does nothing otherwise. All or nothing. */
int catalog_import_seed(Catalog *c, const char *dir, CbError *err);

/* The published catalogue {"services": [...]}, serialized once per change.
 * The pointers stay valid until the next catalogue change. */
int catalog_published(Catalog *c, const char **ret_json, size_t *ret_len, const char **ret_etag);
/* Bumped on every change; lets faces cache derived documents (OSB). */
uint64_t catalog_generation(Catalog *c);
/* The published services as a JSON array (new reference). */
int catalog_list_published(Catalog *c, json_t **ret);

/* The caller's view of service `id`: revision 0 means the current one (the
 * revision in force, or the latest draft for those who may see drafts). The
 * result has "status", "revision", "signoffs" and, where a newer revision is
 * under way, "pending_revision". */
int catalog_get(Catalog *c, const CbCaller *caller, const char *id, unsigned revision, json_t **ret,
                CbError *err);
/* All services the caller may see, every status (operators, authority, finance). */
int catalog_list_all(Catalog *c, const CbCaller *caller, json_t **ret, CbError *err);

int catalog_create(Catalog *c, const CbCaller *caller, const json_t *doc, json_t **ret, CbError *err);
int catalog_update(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, json_t **ret,
                   CbError *err);
/* Refused when the submit check (below) refuses the draft's document. */
int catalog_submit(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err);
/* What a draft must pass before it goes to sign-off beyond its own
 * validation, from outside the catalogue (the manager wires the providers':
 * an http plan must map to what its provider offers). NULL: none. */
typedef int (*CatalogSubmitCheckFn)(const json_t *doc, void *userdata, CbError *err);
void catalog_set_submit_check(Catalog *c, CatalogSubmitCheckFn fn, void *userdata);
int catalog_approve(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err);
int catalog_deprecate(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err);
int catalog_retire(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err);

/* Whether the service exists for the caller: a revision it may read
 * (catalog_get). Drafts and submitted revisions exist only for operators,
 * the authority and finance; to anyone else a service that is nothing but
 * a draft is an unknown id. */
bool catalog_exists(Catalog *c, const CbCaller *caller, const char *id);

/* The revision currently published (what may be ordered now): -ENOENT
 * when the service has none. *ret is shared with a cache kept until the
 * catalogue next changes (every policy decision reads it): read it, never
 * modify it; json_decref() it as usual. */
int catalog_get_published(Catalog *c, const char *id, json_t **ret);

/* A specific published (or deprecated/superseded) revision, for pinning
 * what was ordered. NULL service when absent. A shared reference (kept for
 * the catalogue generation): read it, do not change it. */
int catalog_get_revision(Catalog *c, const char *id, unsigned revision, json_t **ret);
