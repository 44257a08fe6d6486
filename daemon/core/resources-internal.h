/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What the modules behind resources.h share, and nothing else: the one
 * Resources object (each module owns its own fields, named below) and the
 * change notification. For daemon/core/resources.c, operations.c, vm-guest.c,
 * placement.c and reconcile.c only; faces include resources.h.
 */

#include "resources.h"

/* Who may see every resource; departments see their own. */
#define RESOURCE_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)
/* Who may act on any resource (Art. 28: the authority; operators run the platform). */
#define RESOURCE_ACTORS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY)
#define INFLIGHT_MAX    4096

struct Resources {
        Store *store;
        Projects *projects;
        Providers *providers;
        WorkerPool *pool;
        ResourceChangedFn changed;
        void *changed_userdata;
        unsigned stop_timeout_ms;
        /* operations.c: operation ids handed to the pool and not back yet:
         * never submitted twice. */
        char *inflight[INFLIGHT_MAX];
        size_t n_inflight;
        /* reconcile.c: the providers whose events are watched. */
        struct Watch *watches[256];
        size_t n_watches;
        /* operations.c: plan specs by (service, revision, plan), parsed
         * once: a revision that has left draft is never edited (Art. 12), so
         * an entry never goes stale. Round robin over a few slots: a burst
         * orders few plans. */
        struct {
                char *service_id, *plan_id;
                unsigned revision;
                json_t *spec;
        } specs[16];
        size_t next_spec;
};

/* Tells the face (resources_set_change_callback) that resource id changed;
 * on the main thread, after the change committed. */
void resources_notify(Resources *r, const char *id, bool created);

static inline const char *jstr(const json_t *o, const char *k) {
        return json_string_value(json_object_get(o, k));
}
