/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Who is calling. Every face maps its own credential (D-Bus UID, REST bearer
 * token, OSB basic auth) to a Principal from the config, then hands the core
 * a CbCaller. The core decides what the caller may do with the helpers
 * below, so each authorization rule is written once.
 */

#include <stdbool.h>

#include "error.h"

typedef enum CbRole {
        CB_ROLE_DEPARTMENT = 1u << 0,
        CB_ROLE_OPERATOR = 1u << 1,
        CB_ROLE_AUTHORITY = 1u << 2,
        CB_ROLE_FINANCE = 1u << 3,
        CB_ROLE_MIGRATION = 1u << 4,
        CB_ROLE_AUDITOR = 1u << 5,
        CB_ROLE_PLATFORM = 1u << 6, /* an OSB platform; never in the config's roles list */
} CbRole;

typedef struct Principal {
        char *name;
        char *department;      /* department id, NULL when none */
        char *department_name; /* display name, may be NULL */
        unsigned roles;        /* CbRole bits */
} Principal;

typedef struct CbCaller {
        const Principal *principal; /* never NULL for an authenticated call */
        const char *face;           /* "rest", "dbus", "osb", "cli", "system" */
} CbCaller;

/* "operator" -> CB_ROLE_OPERATOR; 0 when unknown. */
unsigned cb_role_from_string(const char *s);
const char *cb_role_to_string(CbRole role);

static inline bool caller_has_role(const CbCaller *c, unsigned roles) {
        return c && c->principal && (c->principal->roles & roles);
}

/* Succeeds when the caller holds any of the roles; otherwise fills err with
 * CB_ERR_FORBIDDEN naming what was needed for `action`. */
int caller_require_role(const CbCaller *c, unsigned roles, const char *action, CbError *err);

/* Succeeds for a department principal acting on its own department, or for
 * any holder of `privileged` roles. */
int caller_require_department(const CbCaller *c, const char *department, unsigned privileged,
                              const char *action, CbError *err);

/* True when the caller is a department principal of exactly this department. */
bool caller_in_department(const CbCaller *c, const char *department);

/* Whether an object of `department` exists for the caller at all: it holds
 * one of `readers`, or is that department. An object the caller may not see
 * must be answered exactly as an unknown id (same error, same message), so
 * that refusals do not tell other departments which ids are in use. */
bool caller_may_see(const CbCaller *c, const char *department, unsigned readers);

/* JSON {"name", "department", "roles": [...]} for whoami and the audit trail. */
json_t *principal_to_json(const Principal *p);
void principal_done(Principal *p);
