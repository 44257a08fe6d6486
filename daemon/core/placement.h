/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Placement: which provider a new resource goes to. The pinned provider of
 * the plan, or the connected libvirt provider with the most free memory
 * that fits the plan; the plan's share of it is held (a Reservation) from
 * the choice until the provision ends, so that a burst of requests spreads
 * before any of it runs and no two requests are placed on the same free
 * memory. Reads the provider registry only; writes nothing to the store.
 */

#include <jansson.h>

#include "error.h"
#include "providers.h"

typedef struct Resources Resources;

/* A provision's share of its provider, from placement until the provision
 * ends; moved from the request to the deferred submit to the job. p NULL:
 * nothing held. */
typedef struct Reservation {
        Provider *p;
        unsigned vcpus;
        uint64_t memory_mib;
} Reservation;

Reservation reservation_take(Provider *p, unsigned vcpus, uint64_t memory_mib);
/* ran: the provision ended with the VM running (its share stays held until
 * the provider's capacity is read again). */
void reservation_end(Reservation *res, bool ran);
/* The same for a provision whose VM was running by ran_by_ns
 * (provider_clock_ns(), taken where the provision ended). */
void reservation_end_ran_by(Reservation *res, uint64_t ran_by_ns);
/* The provision did not happen: the share is free again. Takes NULL p. */
void reservation_drop(Reservation *res);

/* The provider for a plan spec (its "provider", "vcpus", "memory_mib",
 * "disk_gib", "pool", "kind"), its share held in *ret_held; NULL with err
 * (CB_ERR_UNAVAILABLE saying why nothing fits) otherwise. */
Provider *placement_choose(Resources *r, const json_t *spec, Reservation *ret_held, CbError *err);

/* An http plan goes to the provider its spec names ("provider"), which
 * must be a connected http provider (its catalogue read); nothing is held.
 * NULL with err otherwise: CB_ERR_UNAVAILABLE when it is not connected
 * (try again), CB_ERR_UNSUPPORTED when the plan names no provider. */
Provider *placement_choose_http(Resources *r, const char *plan_id, const json_t *spec, CbError *err);
