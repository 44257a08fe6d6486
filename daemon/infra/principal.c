/* SPDX-License-Identifier: Apache-2.0 */
#include "principal.h"

#include <stdio.h>

static const char *const role_names[] = {
        "department", "operator", "authority", "finance", "migration", "auditor", "platform",
};

unsigned cb_role_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
                if (streq(s, role_names[i]))
                        return 1u << i;
        return 0;
}

const char *cb_role_to_string(CbRole role) {
        for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
                if (role == 1u << i)
                        return role_names[i];
        return NULL;
}

static void roles_describe(unsigned roles, char *buf, size_t n) {
        size_t off = 0;
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(role_names) && off < n; i++)
                if (roles & (1u << i)) {
                        int w = snprintf(buf + off, n - off, "%s%s", off ? " or " : "", role_names[i]);
                        if (w < 0)
                                break;
                        off += (size_t)w;
                }
}

int caller_require_role(const CbCaller *c, unsigned roles, const char *action, CbError *err) {
        char need[128];

        if (!c || !c->principal)
                return cb_error_set(err, CB_ERR_UNAUTHENTICATED, "authentication required to %s", action);
        if (c->principal->roles & roles)
                return 0;
        roles_describe(roles, need, sizeof(need));
        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s may not %s: role %s required", c->principal->name,
                            action, need);
}

int caller_require_department(const CbCaller *c, const char *department, unsigned privileged,
                              const char *action, CbError *err) {
        if (!c || !c->principal)
                return cb_error_set(err, CB_ERR_UNAUTHENTICATED, "authentication required to %s", action);
        if (c->principal->roles & privileged)
                return 0;
        if (caller_in_department(c, department))
                return 0;
        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s may not %s for department %s", c->principal->name,
                            action, department ? department : "(none)");
}

bool caller_in_department(const CbCaller *c, const char *department) {
        return caller_has_role(c, CB_ROLE_DEPARTMENT) && c->principal->department && department &&
               streq(c->principal->department, department);
}

bool caller_may_see(const CbCaller *c, const char *department, unsigned readers) {
        return caller_has_role(c, readers) || caller_in_department(c, department);
}

json_t *principal_to_json(const Principal *p) {
        json_t *roles = json_array();
        for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
                if (p->roles & (1u << i))
                        json_array_append_new(roles, json_string(role_names[i]));
        return json_pack("{s:s, s:s?, s:s?, s:o}", "name", p->name, "department", p->department,
                         "department_name", p->department_name, "roles", roles);
}

void principal_done(Principal *p) {
        if (!p)
                return;
        free(p->name);
        free(p->department);
        free(p->department_name);
        *p = (Principal){ 0 };
}
