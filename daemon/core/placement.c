/* SPDX-License-Identifier: Apache-2.0 */
#include "placement.h"

#include "resources-internal.h"
#include "states.h"

Reservation reservation_take(Provider *p, unsigned vcpus, uint64_t memory_mib) {
        provider_reserve(p, vcpus, memory_mib);
        return (Reservation){ .p = p, .vcpus = vcpus, .memory_mib = memory_mib };
}

static void reservation_release(Reservation *res, bool ran, uint64_t ran_by_ns) {
        if (res->p)
                provider_release(res->p, res->vcpus, res->memory_mib, ran, ran_by_ns);
        *res = (Reservation){ 0 };
}

void reservation_end(Reservation *res, bool ran) {
        /* Now is late enough: the VM ran before its provision's end reached the loop. */
        reservation_release(res, ran, ran ? provider_clock_ns() : 0);
}

void reservation_end_ran_by(Reservation *res, uint64_t ran_by_ns) {
        reservation_release(res, true, ran_by_ns);
}

void reservation_drop(Reservation *res) {
        reservation_end(res, false);
}

/* An order pinned to an industry cloud under management is refused: the
 * broker provisions nothing there (Art. 35), it only inventories it. */
static int refuse_managed_only(const Provider *p, CbError *err) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "provider '%s' is an industry cloud under management (managed_only): the broker provisions "
                 "nothing there",
                 p->name);
        return cb_error_set_violations(err,
                                       json_pack("[{s:s, s:i, s:s}]", "code", "MANAGED_ONLY_PROVIDER",
                                                 "article", 35, "message", msg),
                                       "Art. 35: %s", msg);
}

/* Chooses a provider for the plan: the pinned one, or the connected libvirt
 * provider with the most free memory that fits the plan (vCPUs, memory, and
 * the storage pool of its disk or volume); and holds the plan's share of it
 * (a volume's is nothing). */
Provider *placement_choose(Resources *r, const json_t *spec, Reservation *ret_held, CbError *err) {
        const char *pin = jstr(spec, "provider");
        unsigned vcpus = (unsigned)json_integer_value(json_object_get(spec, "vcpus"));
        uint64_t mem = (uint64_t)json_integer_value(json_object_get(spec, "memory_mib"));
        /* A disk or a volume lives in a pool that the host must have. */
        bool needs_pool = resource_kind_from_string(jstr(spec, "kind")) == RESOURCE_KIND_VOLUME ||
                          json_integer_value(json_object_get(spec, "disk_gib")) > 0;
        const char *pool = isempty(jstr(spec, "pool")) ? "default" : jstr(spec, "pool");
        Provider *best = NULL, *unreached = NULL;
        bool any = false, any_connected = false;

        for (size_t i = 0; i < providers_count(r->providers); i++) {
                Provider *p = providers_at(r->providers, i);
                if (!streq(p->driver, "libvirt") || (pin && !streq(p->name, pin)))
                        continue;
                if (p->managed_only) {
                        if (pin) {
                                refuse_managed_only(p, err);
                                return NULL;
                        }
                        continue; /* never picked */
                }
                any = true;
                if (p->status != PROVIDER_CONNECTED) {
                        if (!unreached)
                                unreached = p;
                        continue;
                }
                any_connected = true;
                if (p->capacity_valid &&
                    (provider_free_vcpus(p) < vcpus || provider_free_memory_mib(p) < mem ||
                     (needs_pool && !driver_capacity_has_pool(&p->capacity, pool))))
                        continue;
                if (!best ||
                    (p->capacity_valid &&
                     (!best->capacity_valid || provider_free_memory_mib(p) > provider_free_memory_mib(best))))
                        best = p;
        }
        if (!best) {
                if (pin && !any)
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "the plan is pinned to provider '%s', which does not exist", pin);
                else if (!any_connected && unreached)
                        /* Not a matter of capacity: nothing can be placed on a host
                         * not reached yet (its first probe after a start is under
                         * way, or it fails); the client retries. Accepting and
                         * queueing instead would hold a request no reading has
                         * checked, for a host that may never answer. */
                        cb_error_set(err, CB_ERR_UNAVAILABLE, "%s: '%s' is %s%s%s; try again shortly",
                                     pin ? "the provider the plan is pinned to is not connected yet"
                                         : "no libvirt provider is connected yet",
                                     unreached->name, provider_status_to_string(unreached->status),
                                     unreached->last_error[0] ? ": " : "", unreached->last_error);
                else if (needs_pool)
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "no connected libvirt provider has %u free vCPUs, %llu MiB free and "
                                     "storage pool '%s'",
                                     vcpus, (unsigned long long)mem, pool);
                else
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "no connected libvirt provider has %u free vCPUs and %llu MiB free",
                                     vcpus, (unsigned long long)mem);
                return NULL;
        }
        /* Held at once, so that a burst spreads before any of it runs. */
        *ret_held = reservation_take(best, vcpus, mem);
        return best;
}

Provider *placement_choose_http(Resources *r, const char *plan_id, const json_t *spec, CbError *err) {
        const char *name = jstr(spec, "provider");
        Provider *p = name ? providers_find(r->providers, name) : NULL;

        if (!name || !jstr(spec, "remote_service_id") || !jstr(spec, "remote_plan_id")) {
                cb_error_set(
                        err, CB_ERR_UNSUPPORTED,
                        "plan '%s' names no provider and remote service and plan: nothing can provision it",
                        plan_id);
                return NULL;
        }
        if (p && p->managed_only) {
                refuse_managed_only(p, err);
                return NULL;
        }
        if (!p || !driver_is_async(p->ops)) {
                cb_error_set(err, CB_ERR_UNAVAILABLE,
                             "plan '%s' is served by provider '%s', which is not registered", plan_id, name);
                return NULL;
        }
        if (p->status != PROVIDER_CONNECTED || !p->conn) {
                cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is %s%s%s; try again shortly", p->name,
                             provider_status_to_string(p->status), p->last_error[0] ? ": " : "",
                             p->last_error);
                return NULL;
        }
        return p;
}
