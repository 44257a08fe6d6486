/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The daemon's single owner of state: the event loop, the config, the store
 * and the core services, and the faces attached to them. Only the main
 * thread touches a Manager.
 */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "calendar.h"
#include "catalog.h"
#include "config.h"
#include "legacy.h"
#include "images.h"
#include "projects.h"
#include "providers.h"
#include "billing-budget.h"
#include "resources.h"
#include "signature.h"
#include "store.h"

typedef struct RestServer RestServer;

typedef struct Manager {
        sd_event *event;
        Config *config;
        Store *store;
        Catalog *catalog;
        TrustedKeys *keys;
        Calendar *calendar; /* NULL without calendar_dir: every year provisional */
        Projects *projects;
        WorkerPool *pool;
        sd_event_source *pool_source;
        Providers *providers;
        Resources *resources;
        Legacy *legacy; /* the legacy register (Art. 35) */
        Images *images;
        sd_event_source *reconcile_timer;
        sd_event_source *capacity_timer;
        AuditTrail *audit;         /* checkpoint key and the start check's verdict */
        char audit_incident[32];   /* the incident filed for a failed check, "" when none */
        int64_t anchor_logged_seq; /* the audit head last written to the log */
        uint64_t anchor_logged_usec;
        bool drivers_initialized;

        sd_bus *bus; /* NULL with --bus none */
        /* Who asked for BudgetAlert signals (bus-billing.c): never a broadcast. */
        struct BudgetWatcher *budget_watchers;
        size_t n_budget_watchers;
        RestServer *rest;

        uint64_t started_usec; /* CLOCK_MONOTONIC */
} Manager;

/* Opens the store, checks the audit trail (a failed check refuses changes,
 * it does not stop the daemon) and the core services; attaches no face. */
int manager_new(Config *config, Manager **ret, CbError *err);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Connects the providers (config and stored) and starts the periodic
 * reconcile; unfinished operations resume as providers connect. */
int manager_start_providers(Manager *m, CbError *err);

/* D-Bus face (daemon/bus*.c): connects as configured, exports the objects
 * and takes the bus name. */
int bus_setup(Manager *m, CbError *err);
/* Raises the budget alerts that are due (billing-budget.h) and hands each
 * to the watchers on the bus; called at start and on every reconcile. */
void manager_check_budgets(Manager *m);
/* BudgetAlert to each watcher allowed to read the project (bus-billing.c). */
void bus_budget_alert(const BudgetAlert *a, void *userdata);
/* Drops every watcher; before the bus goes. */
void bus_budget_watchers_free(Manager *m);
/* Resolves the sender of a method call to a principal; AccessDenied-style
 * sd_bus_error when unknown. */
int bus_caller(Manager *m, sd_bus_message *msg, CbCaller *ret, sd_bus_error *error);
/* Turns a CbError into the named D-Bus error. Returns a negative errno. */
int bus_error_from_cb(sd_bus_error *error, const CbError *err);
