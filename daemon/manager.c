/* SPDX-License-Identifier: Apache-2.0 */
#include "manager.h"

#include "billing.h"
#include "vm-access.h"

#include <stdio.h>
#include <time.h>
#include <sys/stat.h>

#include "audit.h"
#include "incidents.h"
#include "log.h"
#include "rest.h"

/* Enough threads that a slow provider does not hold up the others. */
#define MANAGER_WORKERS 4

static void arm_capacity_timer(Manager *m);

static int on_pool_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        (void)s;
        (void)fd;
        (void)revents;
        /* Results that arrived together are recorded with one commit. */
        store_batch_begin(m->store);
        worker_dispatch(m->pool);
        store_batch_end(m->store);
        arm_capacity_timer(m);
        return 0;
}

static int on_catalog_submit(const json_t *doc, void *userdata, CbError *err) {
        Manager *m = userdata;
        return providers_check_service(m->providers, doc, err);
}

static void on_provider_ready(Provider *p, void *userdata) {
        Manager *m = userdata;
        resources_provider_ready(m->resources, p);
        legacy_recover_moves(m->legacy, p->name);
}

static int on_project_terminated(const char *project_id, const CbCaller *caller, void *userdata) {
        Manager *m = userdata;
        CbError err = CB_ERROR_INIT;
        int r = resources_retire_project(m->resources, project_id, caller, &err);
        cb_error_clear(&err);
        return r;
}

/* The audit head goes to the log at most this often while it moves, and at
 * start and stop (main.c). */
#define ANCHOR_LOG_USEC (15ULL * 60 * 1000000)

void manager_check_budgets(Manager *m) {
        CbError err = CB_ERROR_INIT;
        if (billing_budget_check(m->store, (int64_t)time(NULL), bus_budget_alert, m, &err) < 0)
                log_error("cannot check the budgets: %s", err.message);
        cb_error_clear(&err);
}

static int on_reconcile(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        /* Bounds how long a relaxed commit (store_relaxed_begin) can wait
         * for the disk when no durable commit follows it. */
        int q = store_sync(m->store);
        if (q < 0)
                log_warning("cannot sync the database's log: %s", strerror(-q));
        resources_reconcile_all(m->resources);
        manager_check_budgets(m);
        if (usec >= m->anchor_logged_usec + ANCHOR_LOG_USEC &&
            audit_log_anchor(m->store, "periodic", &m->anchor_logged_seq)) {
                CbError err = CB_ERROR_INIT;
                m->anchor_logged_usec = usec;
                if (audit_checkpoint(m->store, "periodic", true, &err) < 0)
                        log_error("cannot sign a periodic audit checkpoint: %s", err.message);
                cb_error_clear(&err);
        }
        sd_event_source_set_time(s, usec + m->config->reconcile_usec);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

/* Capacity read again a second after a change, however many operations
 * changed it meanwhile: a reading walks every running domain. The timer is
 * armed only then, so an idle daemon does not wake for it. */
#define CAPACITY_REFRESH_USEC 1000000ULL

static int on_capacity_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        (void)s;
        (void)usec;
        providers_refresh_stale(m->providers);
        return 0;
}

static void arm_capacity_timer(Manager *m) {
        int enabled = SD_EVENT_OFF;
        uint64_t now;

        if (!m->capacity_timer || !providers_any_stale(m->providers))
                return;
        if (sd_event_source_get_enabled(m->capacity_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(m->capacity_timer, now + CAPACITY_REFRESH_USEC);
        sd_event_source_set_enabled(m->capacity_timer, SD_EVENT_ONESHOT);
}

int manager_start_providers(Manager *m, CbError *err) {
        uint64_t now;
        int r;

        r = driver_global_init(err);
        if (r < 0)
                return r;
        m->drivers_initialized = true;
        /* http providers' requests run on this loop (libcurl multi on sd-event). */
        r = driver_attach_event(m->event, err);
        if (r < 0)
                return r;
        providers_set_ready_callback(m->providers, on_provider_ready, m);
        for (size_t i = 0; i < m->config->n_providers; i++) {
                const ConfigProvider *cp = &m->config->providers[i];
                ProviderSettings set = { .name = cp->name,
                                         .driver = cp->driver,
                                         .uri = cp->uri,
                                         .domain_type = cp->domain_type,
                                         .username = cp->username,
                                         .password = cp->password,
                                         .api_version = cp->api_version,
                                         .ca_file = cp->ca_file,
                                         .timeout_s = cp->timeout_s,
                                         .image_pool = cp->image_pool,
                                         .managed_only = cp->managed_only };
                r = providers_add_config_settings(m->providers, &set, err);
                if (r < 0)
                        return r;
        }
        r = providers_load(m->providers, err);
        if (r < 0)
                return r;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(m->event, &m->reconcile_timer, CLOCK_MONOTONIC, now + m->config->reconcile_usec,
                              0, on_reconcile, m);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start the reconcile timer: %s",
                                    strerror(-r));
        r = sd_event_add_time(m->event, &m->capacity_timer, CLOCK_MONOTONIC, now + CAPACITY_REFRESH_USEC,
                              100000, on_capacity_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->capacity_timer, SD_EVENT_OFF);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start the capacity timer: %s",
                                    strerror(-r));
        return 0;
}

/* The checkpoint key: audit.checkpoint_key, else systemd's LoadCredential=
 * checkpoint-key, else none (unsigned, development). */
#define CHECKPOINT_CREDENTIAL "checkpoint-key"

static int load_checkpoint_key(const Config *config, SigKey **ret, CbError *err) {
        _cleanup_(freep) char *cred = NULL;
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        const char *path = config->checkpoint_key, *source = "file";
        struct stat st;
        int r;

        if (!path && dir && asprintf(&cred, "%s/%s", dir, CHECKPOINT_CREDENTIAL) >= 0 &&
            access(cred, F_OK) == 0) {
                path = cred;
                source = "credential";
                /* Only "others" counts here: systemd may grant the service
                 * user read access by an ACL, whose mask shows as group bits,
                 * inside a folder only the service may enter. */
                if (stat(path, &st) == 0 && (st.st_mode & 0007))
                        return cb_error_set(err, CB_ERR_VALIDATION,
                                            "%s: the checkpoint key is readable or writable by others (mode "
                                            "%04o): only the daemon's user may read it",
                                            path, (unsigned)(st.st_mode & 07777));
        }
        if (!path) {
                *ret = NULL;
                return 0;
        }
        r = sig_key_load_private(path, ret, err);
        if (r < 0) {
                char msg[sizeof(err->message)];
                snprintf(msg, sizeof(msg), "%s", err->message);
                if (streq(source, "file"))
                        return cb_error_set(err, CB_ERR_VALIDATION, "%s:%u: 'checkpoint_key': %s",
                                            config->path, config->checkpoint_key_line, msg);
                return cb_error_set(err, CB_ERR_VALIDATION, "credential %s: %s", CHECKPOINT_CREDENTIAL, msg);
        }
        log_info("audit checkpoint key: %s %s (%s)", source, path, sig_key_alg(*ret));
        return 0;
}

/* The secrets key: secrets.key (checked at config load), else systemd's
 * LoadCredential= secrets-key, else none. */
#define SECRETS_CREDENTIAL "secrets-key"

static int load_secrets_key(const Config *config, SecretBox **ret, CbError *err) {
        _cleanup_(freep) char *cred = NULL;
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        int r;

        if (config->secrets_key) {
                r = secretbox_load(config->secrets_key, false, ret, err);
                if (r < 0) {
                        char msg[sizeof(err->message)];
                        snprintf(msg, sizeof(msg), "%s", err->message);
                        return cb_error_set(err, CB_ERR_VALIDATION, "%s:%u: 'secrets.key': %s", config->path,
                                            config->secrets_key_line, msg);
                }
                log_info("secrets key: file %s", config->secrets_key);
                return 0;
        }
        if (dir && asprintf(&cred, "%s/%s", dir, SECRETS_CREDENTIAL) >= 0 && access(cred, F_OK) == 0) {
                /* Group bits may be systemd's ACL for the service user (see
                 * load_checkpoint_key). */
                r = secretbox_load(cred, true, ret, err);
                if (r < 0) {
                        char msg[sizeof(err->message)];
                        snprintf(msg, sizeof(msg), "%s", err->message);
                        return cb_error_set(err, CB_ERR_VALIDATION, "credential %s: %s", SECRETS_CREDENTIAL,
                                            msg);
                }
                log_info("secrets key: credential %s", cred);
                return 0;
        }
        log_info("no secrets key (secrets.key or credential %s): credentials cannot be stored",
                 SECRETS_CREDENTIAL);
        *ret = NULL;
        return 0;
}

static int open_audit_trail(Manager *m, CbError *err) {
        SigKey *key = NULL;
        int r;

        r = load_checkpoint_key(m->config, &key, err);
        if (r < 0)
                return r;
        r = audit_trail_new(m->store, key, m->config->checkpoint_every, &m->audit);
        if (r < 0) {
                sig_key_free(key);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        r = audit_trail_check(m->audit, err);
        if (r < 0)
                return r;
        if (audit_trail_state(m->audit) == AUDIT_STATE_FAILED) {
                CbError ierr = CB_ERROR_INIT;
                /* The incidents table is written directly: audit_append,
                 * the path every other change takes, refuses now. */
                if (incidents_report_audit_failure(m->store, audit_trail_failure(m->audit), m->audit_incident,
                                                   &ierr) >= 0)
                        log_error("AUDIT TRAIL FAILED: filed incident %s (Art. 38)", m->audit_incident);
                else
                        log_error("AUDIT TRAIL FAILED: cannot file an incident (Art. 38): %s; report it by "
                                  "hand",
                                  ierr.message);
                cb_error_clear(&ierr);
        }
        return 0;
}

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
        r = load_secrets_key(config, &m->secrets, err);
        if (r < 0)
                return r;
        r = open_audit_trail(m, err);
        if (r < 0)
                return r;
        /* What a close cut short by a crash stored: nothing closes yet. */
        r = billing_recover(m->store, err);
        if (r < 0)
                return r;
        r = catalog_new(m->store, &m->catalog);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        /* The seed's records would be refused with every other change. */
        if (config->catalog_seed && audit_trail_state(m->audit) != AUDIT_STATE_FAILED) {
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
                        return cb_error_set(err, CB_ERR_VALIDATION, "%s: trusted key '%s': %s", config->path,
                                            k->id, msg);
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

        r = worker_pool_new(MANAGER_WORKERS, &m->pool);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start the worker pool: %s", strerror(-r));
        r = sd_event_add_io(m->event, &m->pool_source, worker_pool_fd(m->pool), EPOLLIN, on_pool_ready, m);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot watch the worker pool: %s", strerror(-r));
        driver_set_connect_timeout_ms(config->connect_timeout_ms);
        r = providers_new(m->store, m->pool, &m->providers);
        if (r >= 0)
                r = resources_new(m->store, m->projects, m->providers, m->pool, &m->resources);
        if (r >= 0)
                r = legacy_new(m->store, m->catalog, m->projects, m->providers, m->pool, m->calendar,
                               &m->legacy);
        if (r >= 0)
                r = images_new(m->store, m->providers, m->pool, &m->images);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        projects_set_terminated_callback(m->projects, on_project_terminated, m);
        catalog_set_submit_check(m->catalog, on_catalog_submit, m);
        projects_set_migration_callback(m->projects, legacy_orders_held, m->legacy);
        resources_set_stop_timeout(m->resources, config->stop_timeout_ms);
        /* The config refused anything out of range; this can only fail on a
         * Config that did not come from config_load(). */
        r = resources_set_max_in_flight(m->resources, config->operations_max_in_flight);
        if (r < 0)
                return cb_error_set(err, CB_ERR_VALIDATION, "operations.max_in_flight %u is out of range",
                                    config->operations_max_in_flight);
        providers_set_secrets(m->providers, m->secrets);
        vm_access_set_secrets(m->resources, m->secrets);
        /* Rows from before secrets at rest are sealed now, once; without a
         * key the daemon refuses to start rather than keep them in clear. */
        {
                unsigned n_pw = 0, n_keys = 0;
                r = providers_seal_stored(m->providers, &n_pw, err);
                if (r >= 0)
                        r = vm_access_seal_stored(m->resources, &n_keys, err);
                if (r < 0)
                        return r;
                if (n_pw + n_keys > 0)
                        log_info("sealed %u provider password(s) and %u binding private key(s) stored in "
                                 "clear",
                                 n_pw, n_keys);
        }
        legacy_set_move_options(m->legacy, config->migration_max_copies_per_host,
                                config->migration_rate_limit_bps, config->migration_fail_after_bytes,
                                config->stop_timeout_ms);

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Events first, then the pool: its last done callbacks may still
         * answer suspended REST requests and touch the store. */
        if (m->resources)
                resources_stop(m->resources);
        sd_event_source_disable_unref(m->reconcile_timer);
        sd_event_source_disable_unref(m->capacity_timer);
        driver_cancel_waits();
        /* A statement export waiting on a client that no longer reads. */
        billing_streams_stop();
        /* What the pool still hands back is recorded as on the loop
         * (on_pool_ready): one commit, not one fdatasync per result. */
        if (m->store)
                store_batch_begin(m->store);
        m->pool = worker_pool_free(m->pool);
        if (m->store)
                store_batch_end(m->store);
        sd_event_source_disable_unref(m->pool_source);
        m->rest = rest_free(m->rest);
        bus_budget_watchers_free(m);
        if (m->bus) {
                sd_bus_flush(m->bus);
                m->bus = sd_bus_flush_close_unref(m->bus);
        }
        images_free(m->images);
        resources_free(m->resources);
        legacy_free(m->legacy);
        providers_free(m->providers);
        if (m->drivers_initialized)
                driver_global_shutdown();
        projects_free(m->projects);
        calendar_free(m->calendar);
        trusted_keys_free(m->keys);
        catalog_free(m->catalog);
        audit_trail_free(m->audit);
        secretbox_free(m->secrets);
        store_free(m->store);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
