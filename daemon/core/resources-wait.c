/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Waiting for a new resource's provision, or a deprovision, to settle
 * (resources.h, resources_wait_settled): OSB answers 201 (200 for a
 * deprovision) for an instance ready (gone) at once and 202 for one under
 * way, so its face waits for the provider's first answer. The waiters are few and short-lived: a list on the
 * main loop.
 */
#include <stdio.h>
#include <systemd/sd-event.h>

#include "log.h"
#include "operations-http.h"
#include "resources-internal.h"

typedef struct Waiter Waiter;
struct Waiter {
        Waiter *next;
        Resources *r;
        char id[64];
        sd_event_source *timer;
        bool until_done; /* a provider's "under way" does not end the wait */
        ResourceSettledFn fn;
        void *userdata;
};

static Waiter *waiters;

static void waiter_fire(Waiter *w, const Resource *settled) {
        Waiter **p = &waiters;
        while (*p && *p != w)
                p = &(*p)->next;
        if (*p)
                *p = w->next;
        sd_event_source_disable_unref(w->timer);
        w->fn(w->id, settled, w->userdata);
        free(w);
}

/* Every waiter for id, once: settled (the record) when the provision ended. */
static void fire_for(const char *id, const Resource *settled) {
        Waiter *w = waiters;
        while (w) {
                Waiter *next = w->next;
                if (streq(w->id, id) && (settled || !w->until_done)) {
                        waiter_fire(w, settled);
                        next = waiters; /* the list changed: start over (few entries) */
                }
                w = next;
        }
}

static void on_progress(const char *resource_id, void *userdata) {
        (void)userdata;
        fire_for(resource_id, NULL);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        (void)s;
        (void)usec;
        waiter_fire(userdata, NULL);
        return 0;
}

void resources_settle_check(Resources *r, const char *id) {
        _cleanup_(resource_done) Resource res = { 0 };
        bool any = false;
        for (Waiter *w = waiters; w; w = w->next)
                any = any || streq(w->id, id);
        if (!any || resources_record(r, id, &res) < 0 || res.state == RESOURCE_PROVISIONING ||
            res.state == RESOURCE_DEPROVISIONING)
                return;
        fire_for(id, &res);
}

int resources_wait_settled(Resources *r, const char *id, unsigned timeout_ms, bool until_done,
                           ResourceSettledFn fn, void *userdata) {
        sd_event *e = NULL;
        uint64_t now = 0;
        Waiter *w;
        int q;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (Waiter){ .r = r, .until_done = until_done, .fn = fn, .userdata = userdata };
        snprintf(w->id, sizeof(w->id), "%s", id);
        q = sd_event_default(&e);
        if (q >= 0)
                q = sd_event_now(e, CLOCK_MONOTONIC, &now);
        if (q >= 0)
                q = sd_event_add_time(e, &w->timer, CLOCK_MONOTONIC, now + (uint64_t)timeout_ms * 1000, 1000,
                                      on_timeout, w);
        sd_event_unref(e);
        if (q < 0) {
                free(w);
                return q;
        }
        http_operations_set_progress(on_progress, NULL);
        w->next = waiters;
        waiters = w;
        return 0;
}

void resources_wait_cancel_all(void) {
        while (waiters)
                waiter_fire(waiters, NULL);
}
