/* SPDX-License-Identifier: Apache-2.0 */
#include "manager.h"

#include "log.h"
#include "rest.h"

int manager_new(Config *config, Manager **ret, CbError *err) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        m->config = config;

        r = sd_event_default(&m->event);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot create the event loop: %s", strerror(-r));
        sd_event_now(m->event, CLOCK_MONOTONIC, &m->started_usec);

        r = store_open(config->database, &m->store, err);
        if (r < 0)
                return r;
        r = catalog_new(m->store, &m->catalog);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (config->catalog_seed) {
                r = catalog_import_seed(m->catalog, config->catalog_seed, err);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->rest = rest_free(m->rest);
        if (m->bus) {
                sd_bus_flush(m->bus);
                m->bus = sd_bus_flush_close_unref(m->bus);
        }
        catalog_free(m->catalog);
        store_free(m->store);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
