/* SPDX-License-Identifier: Apache-2.0 */
#include "manager.h"

#include <stdio.h>

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

        r = trusted_keys_new(&m->keys);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        for (size_t i = 0; i < config->n_trusted_keys; i++) {
                const ConfigTrustedKey *k = &config->trusted_keys[i];
                r = trusted_keys_add_pem_file(m->keys, k->id, k->alg, k->path, err);
                if (r < 0) {
                        char msg[sizeof(err->message)];
                        snprintf(msg, sizeof(msg), "%s", err->message);
                        return cb_error_set(err, CB_ERR_VALIDATION, "%s: trusted key '%s': %s", config->path, k->id,
                                            msg);
                }
        }

        if (config->calendar_dir) {
                r = calendar_new(&m->calendar);
                if (r < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                r = calendar_load_dir(m->calendar, config->calendar_dir, err);
                if (r < 0)
                        return r;
        }

        r = projects_new(m->store, m->catalog, m->keys, m->calendar, &m->projects);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

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
        projects_free(m->projects);
        calendar_free(m->calendar);
        trusted_keys_free(m->keys);
        catalog_free(m->catalog);
        store_free(m->store);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
