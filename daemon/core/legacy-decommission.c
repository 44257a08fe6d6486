/* SPDX-License-Identifier: Apache-2.0 */

/*
 * The decommission of a moved legacy system (Art. 35): the move leaves each
 * source domain defined and shut off until an operator confirms. Confirmed
 * (cut-over or verified), the source domains of the record are undefined
 * on the worker pool (their disks kept unless remove_disks), and the state
 * becomes decommissioned with its legacy.decommission audit record. A
 * failure leaves the state as it was, on record as a failed
 * legacy.decommission; undefining again is harmless (absent is success).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "driver.h"
#include "json-util.h"
#include "legacy-internal.h"
#include "log.h"

#define DECOMMISSION_DOMAINS_MAX 64

typedef struct DecommissionJob {
        Legacy *lg;
        const DriverOps *ops;
        DriverConn *conn;
        CbCaller caller;
        char id[128], from[32], provider[128];
        bool remove_disks;
        char *domains[DECOMMISSION_DOMAINS_MAX];
        size_t n, n_done;
        CbError err;
} DecommissionJob;

static void job_free(DecommissionJob *j) {
        for (size_t i = 0; i < j->n; i++)
                free(j->domains[i]);
        cb_error_clear(&j->err);
        free(j);
}

static int job_run(void *userdata) {
        DecommissionJob *j = userdata;
        for (size_t i = 0; i < j->n; i++) {
                int r = j->ops->undefine_source(j->conn, j->domains[i], j->remove_disks, &j->err);
                if (r < 0)
                        return r;
                j->n_done++;
        }
        return 0;
}

static void job_done(int result, void *userdata) {
        DecommissionJob *j = userdata;
        json_t *names = json_array();
        for (size_t i = 0; i < j->n; i++)
                json_array_append_new(names, json_string(j->domains[i]));
        if (result >= 0) {
                json_t *detail = json_pack("{s:s, s:o, s:b}", "provider", j->provider, "undefined", names,
                                           "disks_removed", j->remove_disks);
                StateWrite w = { .id = j->id,
                                 .from = j->from,
                                 .to = legacy_state_to_string(LEGACY_DECOMMISSIONED),
                                 .reason = j->remove_disks ? "source domains and disks removed"
                                                           : "source domains undefined, disks kept" };
                int r = legacy_change_state(j->lg, &j->caller, "legacy.decommission", &w, detail, &j->err);
                json_decref(detail);
                if (r < 0)
                        log_error(
                                "legacy system %s: its source domains are undefined but the state failed: %s",
                                j->id, j->err.message);
                else
                        log_info("legacy system %s decommissioned: %zu source domain(s) on %s undefined",
                                 j->id, j->n, j->provider);
        } else {
                char object[160];
                snprintf(object, sizeof(object), "legacy:%s", j->id);
                log_warning("legacy system %s: decommission failed after %zu of %zu domain(s): %s", j->id,
                            j->n_done, j->n, j->err.message[0] ? j->err.message : strerror(-result));
                audit_refusal(j->lg->store, &j->caller, "legacy.decommission", object, "failed", NULL);
                json_decref(names);
        }
        job_free(j);
}

int legacy_decommission(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body,
                        LegacyRecord *ret, CbError *err) {
        static const char *const fields[] = { "remove_disks", NULL };
        _cleanup_(legacy_record_done) LegacyRecord old = { 0 };
        bool remove_disks = false;
        const json_t *d;
        size_t i;
        int r;

        r = caller_require_role(caller, CB_ROLE_OPERATOR, "confirm a decommission", err);
        if (r < 0) {
                if (err && err->kind == CB_ERR_FORBIDDEN)
                        legacy_refused(lg, caller, "legacy.decommission", id, "forbidden", NULL);
                return r;
        }
        r = legacy_load_visible(lg, caller, id, &old, err);
        if (r < 0)
                return r;
        if (body) {
                r = json_check_object(body, fields, err);
                if (r >= 0)
                        r = json_get_bool(body, "remove_disks", false, &remove_disks, err);
                if (r < 0)
                        return r;
        }
        const char *from = legacy_state_to_string(old.state);
        if (old.state != LEGACY_CUT_OVER && old.state != LEGACY_VERIFIED)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "state",
                                          "legacy system '%s' is %s: only a moved system (cut-over or "
                                          "verified) is decommissioned",
                                          id, from);
        const json_t *source = old.source;
        const char *pname = json_string_value(json_object_get(source, "provider"));
        Provider *p = pname ? providers_find(lg->providers, pname) : NULL;
        if (!pname)
                return cb_error_set(err, CB_ERR_UNPROCESSABLE,
                                    "legacy system '%s' names no registered source provider: its source is "
                                    "not the broker's to undefine",
                                    id);
        if (!p || !p->ops->undefine_source)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "source provider '%s' is not registered", pname);
        if (p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "source provider '%s' is %s", pname,
                                    provider_status_to_string(p->status));

        DecommissionJob *j = calloc(1, sizeof(*j));
        if (!j)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *j = (DecommissionJob){
                .lg = lg, .ops = p->ops, .conn = p->conn, .caller = *caller, .remove_disks = remove_disks
        };
        snprintf(j->id, sizeof(j->id), "%s", id);
        snprintf(j->from, sizeof(j->from), "%s", from);
        snprintf(j->provider, sizeof(j->provider), "%s", pname);
        json_array_foreach(json_object_get(source, "domains"), i, d) {
                if (j->n >= DECOMMISSION_DOMAINS_MAX || !json_is_string(d) ||
                    !(j->domains[j->n] = strdup(json_string_value(d)))) {
                        job_free(j);
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the source domains");
                }
                j->n++;
        }
        r = worker_submit(lg->pool, job_run, job_done, j);
        if (r < 0) {
                job_free(j);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue the decommission: %s", strerror(-r));
        }
        if (ret) {
                *ret = old;
                old = (LegacyRecord){ 0 };
        }
        return 0;
}
