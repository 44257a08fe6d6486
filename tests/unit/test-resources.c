/* SPDX-License-Identifier: Apache-2.0 */
/* The resources core on a temporary store with libvirt's test:///default as
 * its provider: a request the policy allows reaches active; a refusal names
 * its article and writes nothing; an idempotent repeat; what the host does
 * behind its back (events); stop, start, delete;
 * a deleted resource is no object; and a pending operation that a crash
 * left behind completes once the store is reopened. The loop is the worker
 * pool's own fd, pumped here as the daemon's sd-event loop would. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "attachments.h"
#include "audit.h"
#include "catalog.h"
#include "driver.h"
#include "libvirt-xml.h"
#include "operations.h"
#include "projects.h"
#include "providers.h"
#include "resize.h"
#include "vm-guest.h"
#include "resources.h"
#include "signature.h"
#include "states.h"
#include "systems.h"
#include "worker.h"

#define PROVIDER     "t-default"
#define APPROVAL_KEY "etc/dev-keys/dev-authority.key.pem"
#define APPROVAL_PUB "etc/dev-keys/dev-authority.pub.pem"
/* How long an operation on test:///default may take before the test fails. */
#define PUMP_TIMEOUT_MS 10000

static Principal operator_p = { .name = (char *)"t-operator", .roles = CB_ROLE_OPERATOR };
static Principal edu_p = { .name = (char *)"t-edu",
                           .department = (char *)"edu",
                           .roles = CB_ROLE_DEPARTMENT };
static Principal health_p = { .name = (char *)"t-health",
                              .department = (char *)"health",
                              .roles = CB_ROLE_DEPARTMENT };
static const CbCaller operator_c = { .principal = &operator_p, .face = "cli" };
static const CbCaller edu_c = { .principal = &edu_p, .face = "cli" };
static const CbCaller health_c = { .principal = &health_p, .face = "cli" };

/* Everything the daemon wires together for resources, on one store. */
typedef struct World {
        Store *store;
        Catalog *catalog;
        TrustedKeys *keys;
        Projects *projects;
        WorkerPool *pool;
        Providers *providers;
        Resources *resources;
        bool drivers;
} World;

static char tmpdir[] = "/tmp/cbresources.XXXXXX";
static char db_path[256], seed_dir[256];
static World w;
/* Held for the whole run: test:///default keeps its state while one
 * connection to it is open, so what the broker made survives the
 * "crash" below, as a real host's VMs would. */
static virConnectPtr host;

/* A catalogue of one service: a diskless VM plan the approval covers
 * (test:///default has no pool named "default" for a disk) and one it does
 * not. */
static const char seed_json[] =
        "{\"id\": \"t-vm\", \"name\": \"t-vm\", \"display_name\": \"测试云服务器\", \"category\": \"IaaS\","
        " \"driver\": \"libvirt\", \"description\": \"a VM on the test driver\", \"secure_controllable\": "
        "false,"
        " \"max_protection_level\": 3, \"bindable\": false, \"tags\": [\"test\"],"
        " \"plans\": ["
        "  {\"id\": \"t-small\", \"name\": \"t-small\", \"display_name\": \"小\", \"description\": \"1 "
        "vCPU\","
        "   \"spec\": {\"kind\": \"vm\", \"vcpus\": 1, \"memory_mib\": 128, \"disk_gib\": 0},"
        "   \"price\": {\"amount_fen\": 10, \"unit\": \"hour\"}},"
        "  {\"id\": \"t-other\", \"name\": \"t-other\", \"display_name\": \"另\", \"description\": \"2 "
        "vCPU\","
        "   \"spec\": {\"kind\": \"vm\", \"vcpus\": 2, \"memory_mib\": 256, \"disk_gib\": 0},"
        "   \"price\": {\"amount_fen\": 20, \"unit\": \"hour\"}},"
        "  {\"id\": \"t-large\", \"name\": \"t-large\", \"display_name\": \"大\", \"description\": \"2 "
        "vCPU\","
        "   \"spec\": {\"kind\": \"vm\", \"vcpus\": 2, \"memory_mib\": 256, \"disk_gib\": 0},"
        "   \"price\": {\"amount_fen\": 30, \"unit\": \"hour\"}},"
        "  {\"id\": \"t-disk\", \"name\": \"t-disk\", \"display_name\": \"盘\", \"description\": \"a "
        "disk\","
        "   \"spec\": {\"kind\": \"vm\", \"vcpus\": 4, \"memory_mib\": 512, \"disk_gib\": 1},"
        "   \"price\": {\"amount_fen\": 40, \"unit\": \"hour\"}}]}";

static void on_provider_ready(Provider *p, void *userdata) {
        World *world = userdata;
        if (world->resources)
                resources_provider_ready(world->resources, p);
}

/* Runs the loop (the pool's results) until done(arg) holds; false when it
 * did not within PUMP_TIMEOUT_MS. */
static bool pump_until(bool (*done)(const void *arg), const void *arg) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned i = 0; i < 100000; i++) {
                struct pollfd pfd = { .fd = worker_pool_fd(w.pool), .events = POLLIN };
                if (done(arg))
                        return true;
                if (poll(&pfd, 1, 50) > 0)
                        worker_dispatch(w.pool);
                clock_gettime(CLOCK_MONOTONIC, &t);
                if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > PUMP_TIMEOUT_MS)
                        return done(arg);
        }
        return done(arg);
}

static bool past(const void *arg) {
        const struct timespec *until = arg;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec > until->tv_sec || (t.tv_sec == until->tv_sec && t.tv_nsec >= until->tv_nsec);
}

/* Runs the loop for ms milliseconds, whatever arrives. */
static void pump_for_ms(unsigned ms) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (long)(ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
        }
        assert_true(pump_until(past, &until));
}

static bool provider_connected(const void *arg) {
        (void)arg;
        Provider *p = providers_find(w.providers, PROVIDER);
        return p && p->status == PROVIDER_CONNECTED && !p->probing;
}

static bool pool_idle(const void *arg) {
        (void)arg;
        return worker_pool_pending(w.pool) == 0;
}

/* Opens the world on db_path; with_provider false leaves the provider out
 * (the daemon before its provider answers). */
static void world_open(bool with_provider) {
        CbError err = CB_ERROR_INIT;

        assert_int_equal(store_open(db_path, &w.store, &err), 0);
        assert_int_equal(catalog_new(w.store, &w.catalog), 0);
        assert_int_equal(trusted_keys_new(&w.keys), 0);
        assert_int_equal(trusted_keys_add_pem_file(w.keys, "dev-authority", "sm2-sm3", APPROVAL_PUB, &err),
                         0);
        assert_int_equal(projects_new(w.store, w.catalog, w.keys, NULL, &w.projects), 0);
        assert_int_equal(worker_pool_new(2, &w.pool), 0);
        assert_int_equal(driver_global_init(&err), 0);
        w.drivers = true;
        assert_int_equal(providers_new(w.store, w.pool, &w.providers), 0);
        assert_int_equal(resources_new(w.store, w.projects, w.providers, w.pool, &w.resources), 0);
        resources_set_stop_timeout(w.resources, 0);
        providers_set_ready_callback(w.providers, on_provider_ready, &w);
        if (with_provider)
                assert_int_equal(providers_add_config(w.providers, PROVIDER, "libvirt", "test:///default",
                                                      DRIVER_DOMAIN_AUTO, NULL, &err),
                                 0);
        cb_error_clear(&err);
        if (with_provider)
                assert_true(pump_until(provider_connected, NULL));
}

/* In the daemon's order (manager_free): events, the pool, then the rest. */
static void world_close(void) {
        if (w.resources)
                resources_stop(w.resources);
        w.pool = worker_pool_free(w.pool);
        w.resources = resources_free(w.resources);
        w.providers = providers_free(w.providers);
        if (w.drivers)
                driver_global_shutdown();
        w.projects = projects_free(w.projects);
        w.keys = trusted_keys_free(w.keys);
        w.catalog = catalog_free(w.catalog);
        w.store = store_free(w.store);
        w = (World){ 0 };
}

/* The host's domain for resource id: 1 running, 0 present but not
 * running, -1 absent. */
static int host_domain(const char *id) {
        char name[128];
        virDomainPtr d;
        int running;

        snprintf(name, sizeof(name), "cb-%s", id);
        d = virDomainLookupByName(host, name);
        if (!d) {
                virResetLastError();
                return -1;
        }
        running = virDomainIsActive(d);
        virDomainFree(d);
        return running > 0 ? 1 : 0;
}

static int64_t count(const char *sql) {
        CbError err = CB_ERROR_INIT;
        int64_t n = -1;
        assert_int_equal(store_query_int(w.store, sql, NULL, &n, "counting", &err), 0);
        return n;
}

static json_t *request_body(const char *plan, const char *name) {
        json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "project_id", "t-proj", "system_id", "t-sys",
                              "service_id", "t-vm", "plan_id", plan, "name", name);
        assert_non_null(b);
        return b;
}

/* The resource's state on record. */
static ResourceState state_of(const char *id) {
        Resource res = { 0 };
        assert_int_equal(resources_record(w.resources, id, &res), 0);
        ResourceState s = res.state;
        resource_done(&res);
        return s;
}

static bool operation_finished(const void *arg) {
        CbError err = CB_ERROR_INIT;
        Operation op = { 0 };
        bool done;
        if (operations_get(w.resources, &operator_c, arg, &op, &err) < 0) {
                cb_error_clear(&err);
                return false;
        }
        done = op.state == OPERATION_SUCCEEDED || op.state == OPERATION_FAILED;
        operation_done(&op);
        return done;
}

/* Waits for the operation and asserts it succeeded. */
static void wait_succeeded(const char *op_id) {
        CbError err = CB_ERROR_INIT;
        Operation op = { 0 };
        assert_true(pump_until(operation_finished, op_id));
        assert_int_equal(operations_get(w.resources, &operator_c, op_id, &op, &err), 0);
        if (op.state != OPERATION_SUCCEEDED)
                fail_msg("operation %s: %s (%s)", op_id, operation_state_to_string(op.state),
                         op.error ? op.error : "no error");
        assert_null(op.error);
        operation_done(&op);
}

static int setup(void **state) {
        CbError err = CB_ERROR_INIT;
        char path[300];
        FILE *f;
        int year;
        time_t now = time(NULL);
        struct tm tm;
        (void)state;

        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(db_path, sizeof(db_path), "%s/broker.db", tmpdir);
        snprintf(seed_dir, sizeof(seed_dir), "%s/catalog", tmpdir);
        snprintf(path, sizeof(path), "mkdir -p %s", seed_dir);
        if (system(path) != 0)
                return -1;
        snprintf(path, sizeof(path), "%s/t-vm.json", seed_dir);
        f = fopen(path, "we");
        if (!f || fputs(seed_json, f) < 0 || fclose(f) != 0)
                return -1;

        /* The host's own domain "test" takes more memory than the node has:
         * gone, so that placement finds room. */
        host = virConnectOpen("test:///default");
        if (!host)
                return -1;
        virDomainPtr d = virDomainLookupByName(host, "test");
        if (!d || virDomainDestroy(d) < 0 || virDomainUndefine(d) < 0)
                return -1;
        virDomainFree(d);

        world_open(true);
        if (catalog_import_seed(w.catalog, seed_dir, &err) < 0) {
                fprintf(stderr, "seed: %s\n", err.message);
                return -1;
        }

        /* The system in the directory, and the authority's signed approval
         * for project t-proj covering t-small sixteen times (the queue tests
         * order seven), t-large and t-disk once. */
        json_t *sys =
                json_pack("{s:s, s:s, s:s, s:i, s:b, s:s}", "id", "t-sys", "name", "测试系统", "department",
                          "edu", "protection_level", 2, "classified", false, "data_sharing", "compliant");
        System *created = NULL;
        if (systems_create(w.store, &operator_c, sys, &created, &err) < 0) {
                fprintf(stderr, "system: %s\n", err.message);
                return -1;
        }
        json_decref(sys);
        system_free(created);

        gmtime_r(&now, &tm);
        year = tm.tm_year + 1900;
        json_t *doc = json_pack(
                "{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:{s:I, s:I}, s:[s], s:[{s:s, s:s, s:i}, "
                "{s:s, s:s, s:i}, {s:s, s:s, s:i}], s:b, s:b}",
                "approval_no", "测试〔1〕号", "project_id", "t-proj", "project_name", "测试项目",
                "department", "edu", "revision", 1, "valid_from", "", "valid_until", "", "budget",
                "construction_fen", (json_int_t)1000000000, "om_fen", (json_int_t)100000000, "systems",
                "t-sys", "items", "service_id", "t-vm", "plan_id", "t-small", "quantity", 16, "service_id",
                "t-vm", "plan_id", "t-large", "quantity", 1, "service_id", "t-vm", "plan_id", "t-disk",
                "quantity", 1, "requires_secure_controllable", false, "dedicated_network_consent", false);
        char from[32], until[32];
        snprintf(from, sizeof(from), "%d-01-01", year);
        snprintf(until, sizeof(until), "%d-12-31", year + 1);
        json_object_set_new(doc, "valid_from", json_string(from));
        json_object_set_new(doc, "valid_until", json_string(until));
        char *text = json_dumps(doc, JSON_COMPACT);
        json_t *env = NULL;
        json_decref(doc);
        if (!text || envelope_sign(NULL, "dev-authority", APPROVAL_KEY, text, strlen(text), &env, &err) < 0) {
                fprintf(stderr, "sign: %s\n", err.message);
                return -1;
        }
        free(text);
        if (approvals_import(w.projects, &edu_c, env, NULL, &err) < 0) {
                fprintf(stderr, "approval: %s\n", err.message);
                return -1;
        }
        json_decref(env);
        return 0;
}

static int teardown(void **state) {
        char cmd[300];
        (void)state;
        world_close();
        if (host)
                virConnectClose(host);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static char r1[64], r1_op[64];

static void test_request_goes_active(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", "web-1");
        ResourceTicket t;
        Resource res = { 0 };
        (void)state;

        if (resources_request(w.resources, &edu_c, body, "key-1", &t, &err) < 0)
                fail_msg("request refused: %s", err.message);
        json_decref(body);
        assert_int_equal(t.state, RESOURCE_PROVISIONING);
        assert_true(strncmp(t.id, "r-", 2) == 0);
        assert_true(strncmp(t.operation_id, "op-", 3) == 0);
        snprintf(r1, sizeof(r1), "%s", t.id);
        snprintf(r1_op, sizeof(r1_op), "%s", t.operation_id);

        wait_succeeded(r1_op);
        assert_int_equal(resources_get(w.resources, &edu_c, r1, &res, &err), 0);
        assert_int_equal(res.state, RESOURCE_ACTIVE);
        assert_int_equal(res.kind, RESOURCE_KIND_VM);
        assert_string_equal(res.provider, PROVIDER);
        assert_non_null(res.provider_ref); /* the VM it made */
        assert_int_equal(host_domain(r1), 1);
        assert_string_equal(res.department, "edu");
        assert_string_equal(res.approval_no, "测试〔1〕号");
        assert_int_equal(res.catalog_revision, 1);
        resource_done(&res);

        /* Another department: an unknown id, whatever it names. */
        assert_int_equal(resources_get(w.resources, &health_c, r1, &res, &err), -ENOENT);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        cb_error_clear(&err);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'resource.provision.done'"), 1);
}

/* A reconcile reads the addresses of the active VMs (a bounded number per
 * provider, longest unread first) and keeps them on the record, without
 * anyone asking for them. */
static void test_reconcile_reads_addresses(void **state) {
        (void)state;
        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(count("SELECT COUNT(*) FROM resource_addresses"), 0);
        resources_reconcile_all(w.resources);
        assert_true(pump_until(pool_idle, NULL));
        CbError err = CB_ERROR_INIT;
        VmAddressList *a = NULL;
        assert_int_equal(vm_addresses_stored(w.store, r1, &a, &err), 0);
        assert_true(a->n >= 1);
        assert_non_null(a->items[0].mac);
        assert_true(a->items[0].n_addresses >= 1);
        assert_non_null(a->items[0].addresses[0].address);
        vm_address_list_free(a);
        assert_int_equal(count("SELECT COUNT(*) FROM resource_addresses"),
                         count("SELECT COUNT(*) FROM resources WHERE kind = 'vm' AND state = 'active'"));
}

static void test_refusal_names_article_writes_nothing(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-other", "db-1");
        int64_t resources = count("SELECT COUNT(*) FROM resources");
        int64_t operations = count("SELECT COUNT(*) FROM operations");
        ResourceTicket t = { .id = "untouched" };
        const json_t *v;
        size_t i;
        bool named = false;
        (void)state;

        assert_true(resources_request(w.resources, &edu_c, body, NULL, &t, &err) < 0);
        json_decref(body);
        assert_int_equal(err.kind, CB_ERR_POLICY_DENIED);
        assert_true(json_array_size(err.violations) > 0);
        json_array_foreach(err.violations, i, v) {
                assert_true(json_integer_value(json_object_get(v, "article")) >
                            0); /* every one names its article */
                if (streq_ptr(json_string_value(json_object_get(v, "code")), "ITEM_NOT_APPROVED")) {
                        assert_int_equal(json_integer_value(json_object_get(v, "article")),
                                         policy_code_article(POLICY_ITEM_NOT_APPROVED));
                        named = true;
                }
        }
        assert_true(named);
        cb_error_clear(&err);
        assert_string_equal(t.id, "untouched");
        assert_int_equal(count("SELECT COUNT(*) FROM resources"), resources);
        assert_int_equal(count("SELECT COUNT(*) FROM operations"), operations);
        /* The refusal itself is on record. */
        assert_int_equal(
                count("SELECT COUNT(*) FROM audit WHERE action = 'resource.request' AND outcome = 'denied'"),
                1);
}

static void test_idempotent_repeat(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", "web-1");
        int64_t resources = count("SELECT COUNT(*) FROM resources");
        ResourceTicket t;
        (void)state;

        /* Same key, same body: the first request's resource and provision, as it is now. */
        assert_int_equal(resources_request(w.resources, &edu_c, body, "key-1", &t, &err), 0);
        json_decref(body);
        assert_string_equal(t.id, r1);
        assert_string_equal(t.operation_id, r1_op);
        assert_int_equal(t.state, RESOURCE_ACTIVE);
        assert_int_equal(count("SELECT COUNT(*) FROM resources"), resources);

        /* Same key, another body: a conflict, nothing made. */
        body = request_body("t-small", "web-2");
        assert_true(resources_request(w.resources, &edu_c, body, "key-1", &t, &err) < 0);
        json_decref(body);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        cb_error_clear(&err);
        assert_int_equal(count("SELECT COUNT(*) FROM resources"), resources);
}

static bool r1_is_stopped(const void *arg) {
        (void)arg;
        return state_of(r1) == RESOURCE_STOPPED;
}

static bool r1_is_active(const void *arg) {
        (void)arg;
        return state_of(r1) == RESOURCE_ACTIVE;
}

/* What the host does behind the broker's back arrives as events: a stop
 * and a start change the record (each with its audit record); a domain
 * defined again (an edit by hand) changes nothing and records nothing. */
static void test_host_events(void **state) {
        char name[128];
        (void)state;

        snprintf(name, sizeof(name), "cb-%s", r1);
        virDomainPtr d = virDomainLookupByName(host, name);
        assert_non_null(d);
        assert_int_equal(state_of(r1), RESOURCE_ACTIVE);

        assert_int_equal(virDomainDestroy(d), 0);
        assert_true(pump_until(r1_is_stopped, NULL));
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'resource.event.stopped'"), 1);

        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(xml);
        virDomainPtr again = virDomainDefineXML(host, xml);
        free(xml);
        assert_non_null(again);
        virDomainFree(again);
        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(state_of(r1), RESOURCE_STOPPED);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action LIKE 'resource.event.%'"), 1);

        assert_int_equal(virDomainCreate(d), 0);
        assert_true(pump_until(r1_is_active, NULL));
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'resource.event.started'"), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action LIKE 'resource.event.%'"), 2);

        /* Events arrive late: a stop and a start that are both over by the
         * time the loop hears of them (as the broker's own resize's are
         * when its end is recorded first) leave a VM that runs, and the
         * record says so; it never reads "stopped" in between. */
        assert_int_equal(virDomainDestroy(d), 0);
        assert_int_equal(virDomainCreate(d), 0);
        for (int i = 0; i < 10; i++) {
                pump_for_ms(20);
                assert_int_equal(state_of(r1), RESOURCE_ACTIVE);
        }
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action LIKE 'resource.event.%'"), 2);
        virDomainFree(d);
}

static void test_stop_start_delete(void **state) {
        CbError err = CB_ERROR_INIT;
        ResourceTicket t;
        (void)state;

        assert_int_equal(resources_act(w.resources, &edu_c, r1, "stop", &t, &err), 0);
        assert_string_equal(t.id, r1);
        wait_succeeded(t.operation_id);
        assert_int_equal(state_of(r1), RESOURCE_STOPPED);
        assert_int_equal(host_domain(r1), 0);

        /* From stopped, a stop is refused and changes nothing. */
        assert_true(resources_act(w.resources, &edu_c, r1, "stop", &t, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        cb_error_clear(&err);

        /* resources_act_known: the record a face read, not read again; the
         * same checks of the caller and the state over it. */
        {
                _cleanup_(resource_done) Resource res = { 0 };
                assert_int_equal(resources_get(w.resources, &edu_c, r1, &res, &err), 0);
                assert_true(resources_act_known(w.resources, &health_c, &res, "start", &t, &err) < 0);
                assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
                cb_error_clear(&err);
                assert_true(resources_act_known(w.resources, &edu_c, &res, "stop", &t, &err) < 0);
                assert_int_equal(err.kind, CB_ERR_CONFLICT);
                cb_error_clear(&err);
                assert_int_equal(resources_act_known(w.resources, &edu_c, &res, "start", &t, &err), 0);
                assert_string_equal(t.id, r1);
        }
        wait_succeeded(t.operation_id);
        assert_int_equal(state_of(r1), RESOURCE_ACTIVE);
        assert_int_equal(host_domain(r1), 1);

        /* Another department cannot act on it: as if it did not exist. */
        assert_true(resources_act(w.resources, &health_c, r1, "delete", &t, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        cb_error_clear(&err);

        assert_int_equal(resources_act(w.resources, &edu_c, r1, "delete", &t, &err), 0);
        assert_int_equal(t.state, RESOURCE_DEPROVISIONING);
        wait_succeeded(t.operation_id);
        assert_int_equal(state_of(r1), RESOURCE_DELETED);
        assert_int_equal(host_domain(r1), -1);
        assert_true(resources_act(w.resources, &edu_c, r1, "start", &t, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        cb_error_clear(&err);
}

static void test_deleted_is_hidden(void **state) {
        CbError err = CB_ERROR_INIT;
        ResourceList list = { 0 };
        Resource res = { 0 };
        char next[PAGE_TOKEN_MAX];
        char **ids = NULL;
        bool listed = false;
        (void)state;

        /* No object any more, for the owner and for the daemon itself. */
        assert_int_equal(resources_object_exists(w.resources, &edu_c, r1), 0);
        assert_int_equal(resources_object_exists(w.resources, NULL, r1), 0);
        assert_int_equal(resources_object_ids(w.resources, &edu_c, &ids, &err), 0);
        for (char **p = ids; *p; p++) {
                assert_string_not_equal(*p, r1);
                free(*p);
        }
        free(ids);

        /* The record stays: read and listed as deleted. */
        assert_int_equal(resources_get(w.resources, &edu_c, r1, &res, &err), 0);
        assert_int_equal(res.state, RESOURCE_DELETED);
        resource_done(&res);
        assert_int_equal(
                resources_list(w.resources, &edu_c, NULL, &(Page){ .limit = 100 }, &list, next, &err), 0);
        for (size_t i = 0; i < list.n; i++)
                if (streq(list.items[i].id, r1)) {
                        assert_int_equal(list.items[i].state, RESOURCE_DELETED);
                        listed = true;
                }
        assert_true(listed);
        assert_string_equal(next, "");
        resource_list_done(&list);

        /* health's list holds none of edu's. */
        assert_int_equal(
                resources_list(w.resources, &health_c, NULL, &(Page){ .limit = 100 }, &list, next, &err), 0);
        assert_int_equal(list.n, 0);
        resource_list_done(&list);
}

/* The daemon dies after a request committed and before its provider ran
 * it: the provision is on record, pending. Reopened, the broker runs it
 * once the provider connects, and the resource becomes active. */
static void test_crash_recovery(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", "web-3");
        Provider *p = providers_find(w.providers, PROVIDER);
        char id[64], op_id[64];
        ResourceTicket t;
        Operation op = { 0 };
        (void)state;

        assert_true(pump_until(pool_idle, NULL)); /* nothing of earlier tests still under way */
        /* The provider is gone between the commit and the hand-over to it. */
        assert_int_equal(store_begin(w.store), 0);
        assert_int_equal(resources_request(w.resources, &edu_c, body, NULL, &t, &err), 0);
        json_decref(body);
        p->status = PROVIDER_LOST;
        assert_int_equal(store_commit(w.store), 0);
        snprintf(id, sizeof(id), "%s", t.id);
        snprintf(op_id, sizeof(op_id), "%s", t.operation_id);
        assert_int_equal(worker_pool_pending(w.pool), 0); /* not handed to the pool */
        assert_int_equal(host_domain(id), -1);
        assert_int_equal(state_of(id), RESOURCE_PROVISIONING);

        /* Killed: nothing of this process's state survives but the store. */
        world_close();
        world_open(false);
        assert_int_equal(operations_get(w.resources, &edu_c, op_id, &op, &err), 0);
        assert_int_equal(op.kind, OPERATION_PROVISION);
        assert_int_equal(op.state, OPERATION_PENDING);
        operation_done(&op);
        assert_int_equal(state_of(id), RESOURCE_PROVISIONING);

        /* The provider connects: the pending provision runs, once. */
        assert_int_equal(providers_add_config(w.providers, PROVIDER, "libvirt", "test:///default",
                                              DRIVER_DOMAIN_AUTO, NULL, &err),
                         0);
        assert_true(pump_until(provider_connected, NULL));
        wait_succeeded(op_id);
        assert_int_equal(state_of(id), RESOURCE_ACTIVE);
        assert_int_equal(host_domain(id), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM operations WHERE kind = 'provision' AND state IN "
                               "('pending', 'running')"),
                         0);
        assert_true(pump_until(pool_idle, NULL));
}

/* Whether the host's persistent definition of resource id's domain has the
 * disk of volume vol (its serial). */
static bool host_has_volume(const char *id, const char *vol) {
        char name[128], serial[128];
        virDomainPtr d;
        char *xml;
        bool has;

        snprintf(name, sizeof(name), "cb-%s", id);
        snprintf(serial, sizeof(serial), "<serial>%s</serial>", vol);
        d = virDomainLookupByName(host, name);
        if (!d) {
                virResetLastError();
                return false;
        }
        xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        virDomainFree(d);
        has = xml && strstr(xml, serial);
        free(xml);
        return has;
}

static bool operation_failed(const char *op_id) {
        CbError err = CB_ERROR_INIT;
        Operation op = { 0 };
        assert_true(pump_until(operation_finished, op_id));
        assert_int_equal(operations_get(w.resources, &operator_c, op_id, &op, &err), 0);
        bool failed = op.state == OPERATION_FAILED;
        operation_done(&op);
        return failed;
}

/* An attach recorded but never handed to the provider (the daemon died)
 * runs when the provider connects again; an attach that fails (the domain
 * went away behind the broker's back) leaves no attachment, the volume
 * free and the VM's state as it was. */
static void test_attach_recovery_and_rollback(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", "web-vol");
        Provider *p;
        ResourceTicket t;
        char vm[64], op_id[64];
        (void)state;

        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(resources_request(w.resources, &edu_c, body, NULL, &t, &err), 0);
        json_decref(body);
        snprintf(vm, sizeof(vm), "%s", t.id);
        wait_succeeded(t.operation_id);
        /* A block volume of the project, on the host and on record (no volume
         * plan in this catalogue). */
        virStoragePoolPtr pool = virStoragePoolLookupByName(host, "default-pool");
        assert_non_null(pool);
        virStorageVolPtr sv =
                virStorageVolCreateXML(pool,
                                       "<volume><name>cb-vol-t1.img</name><capacity unit='G'>1</capacity>"
                                       "<target><format type='raw'/></target></volume>",
                                       0);
        assert_non_null(sv);
        virStorageVolFree(sv);
        virStoragePoolFree(pool);
        assert_int_equal(
                store_exec(w.store,
                           "INSERT INTO resources (id, name, project_id, system_id, department, service_id,"
                           " plan_id, catalog_revision, approval_no, cost_kind, committed_fen, state,"
                           " created_at, created_by, updated_at, provider, kind) VALUES ('vol-t1', 'data',"
                           " 't-proj', 't-sys', 'edu', 't-vm', 't-small', 1, 'A', 'om', 0, 'active', 't',"
                           " 'me', 't', '" PROVIDER "', 'volume')",
                           &err),
                0);

        p = providers_find(w.providers, PROVIDER);
        assert_int_equal(store_begin(w.store), 0);
        assert_int_equal(resources_attach_volume(w.resources, &edu_c, vm, "vol-t1", &t, &err), 0);
        p->status = PROVIDER_LOST;
        assert_int_equal(store_commit(w.store), 0);
        snprintf(op_id, sizeof(op_id), "%s", t.operation_id);
        assert_false(host_has_volume(vm, "vol-t1"));

        world_close();
        world_open(false);
        assert_int_equal(count("SELECT COUNT(*) FROM volume_attachments WHERE state = 'attaching'"), 1);
        assert_int_equal(providers_add_config(w.providers, PROVIDER, "libvirt", "test:///default",
                                              DRIVER_DOMAIN_AUTO, NULL, &err),
                         0);
        assert_true(pump_until(provider_connected, NULL));
        wait_succeeded(op_id);
        assert_true(host_has_volume(vm, "vol-t1"));
        assert_int_equal(count("SELECT COUNT(*) FROM volume_attachments WHERE volume_id = 'vol-t1' AND "
                               "state = 'attached'"),
                         1);

        /* Detached again; then someone puts a disk of their own on slot vdc
         * behind the broker's back, and the next attach (to vdc) fails. */
        assert_int_equal(resources_detach_volume(w.resources, &edu_c, vm, "vol-t1", &t, &err), 0);
        wait_succeeded(t.operation_id);
        assert_false(host_has_volume(vm, "vol-t1"));
        char name[128], *xml = NULL, *edited = NULL;
        snprintf(name, sizeof(name), "cb-%s", vm);
        virDomainPtr d = virDomainLookupByName(host, name);
        assert_non_null(d);
        xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        assert_int_equal(
                libvirt_xml_add_device(xml,
                                       "<disk type='file' device='disk'><source file='/nonexistent'/>"
                                       "<target dev='vdc' bus='virtio'/></disk>",
                                       &edited),
                0);
        virDomainPtr nd = virDomainDefineXML(host, edited);
        assert_non_null(nd);
        virDomainFree(nd);
        virDomainFree(d);
        free(xml);
        free(edited);
        assert_true(pump_until(pool_idle, NULL));
        ResourceState before = state_of(vm);
        if (resources_attach_volume(w.resources, &edu_c, vm, "vol-t1", &t, &err) < 0)
                fail_msg("attach: %s", err.message);
        assert_true(operation_failed(t.operation_id));
        assert_int_equal(count("SELECT COUNT(*) FROM volume_attachments WHERE volume_id = 'vol-t1'"), 0);
        assert_int_equal(state_of(vm), before);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'resource.attach.failed'"), 1);
        cb_error_clear(&err);
        assert_true(pump_until(pool_idle, NULL));
}

/* Puts volume vol on (or takes it off) the persistent definition of domain
 * name, as `virsh attach-disk --config` would behind the broker's back. */
static void host_put_volume(const char *name, const char *vol, const char *target, bool on) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        char *xml, *disk = NULL, *edited = NULL;
        virDomainPtr d = virDomainLookupByName(host, name), nd;
        assert_non_null(d);
        xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(xml);
        if (on) {
                assert_int_equal(libvirt_xml_attached_disk("default-pool", vol, target, &disk, &err), 0);
                assert_int_equal(libvirt_xml_add_device(xml, disk, &edited), 0);
        } else
                assert_int_equal(libvirt_xml_remove_disk(xml, vol, &edited), 0);
        nd = virDomainDefineXML(host, edited);
        assert_non_null(nd);
        virDomainFree(nd);
        virDomainFree(d);
        free(xml);
        free(disk);
        free(edited);
}

static void reconcile_now(void) {
        assert_true(pump_until(pool_idle, NULL));
        resources_reconcile_all(w.resources);
        assert_true(pump_until(pool_idle, NULL));
}

/* Which volume is on which VM is compared with what the provider shows: a
 * volume detached or attached outside the broker is reported once, as
 * drift with its audit record, and cleared when it is put right; a disk
 * that is no broker volume is left alone. */
static void test_attachment_drift(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", "drift-vm");
        ResourceTicket t;
        char vm[64], dom[128];
        (void)state;

        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(resources_request(w.resources, &edu_c, body, NULL, &t, &err), 0);
        json_decref(body);
        snprintf(vm, sizeof(vm), "%s", t.id);
        snprintf(dom, sizeof(dom), "cb-%s", vm);
        wait_succeeded(t.operation_id);
        /* Shut off, so that its persistent definition is all it has. */
        virDomainPtr d = virDomainLookupByName(host, dom);
        assert_non_null(d);
        assert_int_equal(virDomainDestroy(d), 0);
        virDomainFree(d);

        virStoragePoolPtr pool = virStoragePoolLookupByName(host, "default-pool");
        assert_non_null(pool);
        virStorageVolPtr sv =
                virStorageVolCreateXML(pool,
                                       "<volume><name>cb-vol-d1.img</name><capacity unit='G'>1</capacity>"
                                       "<target><format type='raw'/></target></volume>",
                                       0);
        assert_non_null(sv);
        virStorageVolFree(sv);
        virStoragePoolFree(pool);
        assert_int_equal(
                store_exec(w.store,
                           "INSERT INTO resources (id, name, project_id, system_id, department, service_id,"
                           " plan_id, catalog_revision, approval_no, cost_kind, committed_fen, state,"
                           " created_at, created_by, updated_at, provider, kind) VALUES ('vol-d1', 'data',"
                           " 't-proj', 't-sys', 'edu', 't-vm', 't-small', 1, 'A', 'om', 0, 'active', 't',"
                           " 'me', 't', '" PROVIDER "', 'volume')",
                           &err),
                0);
        assert_int_equal(resources_attach_volume(w.resources, &edu_c, vm, "vol-d1", &t, &err), 0);
        wait_succeeded(t.operation_id);
        assert_true(host_has_volume(vm, "vol-d1"));
        /* A disk of someone's own on the VM: not the broker's, not drift. */
        host_put_volume(dom, "other", "vdh", true);

        reconcile_now();
        reconcile_now();
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 0);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'attachment.drift'"), 0);

        /* (a) Detached behind the broker's back: reported once, however many passes. */
        host_put_volume(dom, "vol-d1", NULL, false);
        reconcile_now();
        reconcile_now();
        reconcile_now();
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift WHERE volume_id = 'vol-d1' AND "
                               "kind = 'missing' AND target = 'vdc'"),
                         1);
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'attachment.drift' AND "
                               "outcome = 'reported' AND object = 'resource:vol-d1'"),
                         1);
        /* Put back: cleared, and that on record too. */
        host_put_volume(dom, "vol-d1", "vdc", true);
        reconcile_now();
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 0);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'attachment.drift' AND "
                               "outcome = 'resolved'"),
                         1);

        /* (b) The same volume on a domain that is not the broker's as well. */
        virDomainPtr other =
                virDomainDefineXML(host, "<domain type='test'><name>outsider</name>"
                                         "<memory unit='MiB'>64</memory><os><type>hvm</type></os>"
                                         "<devices></devices></domain>");
        assert_non_null(other);
        host_put_volume("outsider", "vol-d1", "vdd", true);
        reconcile_now();
        reconcile_now();
        assert_int_equal(
                count("SELECT COUNT(*) FROM attachment_drift WHERE volume_id = 'vol-d1' AND "
                      "kind = 'unrecorded' AND domain = 'outsider' AND vm_id IS NULL AND target = 'vdd'"),
                1);
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'attachment.drift' AND "
                               "outcome = 'reported'"),
                         2);
        host_put_volume("outsider", "vol-d1", NULL, false);
        reconcile_now();
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 0);
        assert_int_equal(virDomainUndefine(other), 0);
        virDomainFree(other);

        /* (b) Detached through the broker, then attached again outside it. */
        assert_int_equal(resources_detach_volume(w.resources, &edu_c, vm, "vol-d1", &t, &err), 0);
        wait_succeeded(t.operation_id);
        assert_false(host_has_volume(vm, "vol-d1"));
        reconcile_now();
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 0);
        host_put_volume(dom, "vol-d1", "vde", true);
        reconcile_now();
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM attachment_drift WHERE volume_id = 'vol-d1' AND kind = 'unrecorded' "
                 "AND vm_id = '%s' AND domain = '%s' AND target = 'vde'",
                 vm, dom);
        assert_int_equal(count(sql), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 1);
        host_put_volume(dom, "vol-d1", NULL, false);
        reconcile_now();
        assert_int_equal(count("SELECT COUNT(*) FROM attachment_drift"), 0);
        cb_error_clear(&err);
}

/* The vCPUs of resource id's domain in its persistent definition, or -1. */
static int host_vcpus(const char *id) {
        char name[128];
        snprintf(name, sizeof(name), "cb-%s", id);
        virDomainPtr d = virDomainLookupByName(host, name);
        if (!d) {
                virResetLastError();
                return -1;
        }
        int n = virDomainGetVcpusFlags(d, VIR_DOMAIN_AFFECT_CONFIG);
        virDomainFree(d);
        return n;
}

static int64_t committed_of(const char *id) {
        Resource res = { 0 };
        if (resources_record(w.resources, id, &res) < 0)
                return -1;
        int64_t c = res.committed_fen;
        resource_done(&res);
        return c;
}

static bool plan_is(const char *id, const char *plan) {
        Resource res = { 0 };
        if (resources_record(w.resources, id, &res) < 0)
                return false;
        bool is = streq_ptr(res.plan_id, plan);
        resource_done(&res);
        return is;
}

/* Resize: a plan outside the approval is refused by the policy engine with
 * its article and writes nothing; a resize recorded but never handed to
 * the provider (the daemon died) runs when it connects again; a resize the
 * provider cannot carry out (a disk where the host has no pool) puts the old
 * plan and commitment back and leaves the VM as it was. */
static void test_resize_recovery_and_rollback(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", "web-resize");
        Provider *p;
        ResourceTicket t;
        char vm[64], op_id[64];
        Operation op = { 0 };
        int64_t small_fen;
        (void)state;

        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(resources_request(w.resources, &edu_c, body, NULL, &t, &err), 0);
        json_decref(body);
        snprintf(vm, sizeof(vm), "%s", t.id);
        wait_succeeded(t.operation_id);
        small_fen = committed_of(vm);
        assert_true(small_fen > 0);
        assert_int_equal(host_vcpus(vm), 1);

        /* Not in the approval: refused, its article named, nothing written. */
        assert_true(resources_resize(w.resources, &edu_c, vm, "t-other", &t, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_POLICY_DENIED);
        char *violations = json_dumps(err.violations, JSON_COMPACT);
        assert_non_null(violations);
        assert_non_null(strstr(violations, "ITEM_NOT_APPROVED"));
        free(violations);
        cb_error_clear(&err);
        assert_int_equal(count("SELECT COUNT(*) FROM operations WHERE kind = 'resize'"), 0);
        assert_true(plan_is(vm, "t-small"));
        /* Another department: unknown. */
        assert_int_equal(resources_resize(w.resources, &health_c, vm, "t-large", &t, &err), -ENOENT);
        cb_error_clear(&err);

        /* Recorded, then the provider is gone before it hears of it; killed. */
        p = providers_find(w.providers, PROVIDER);
        assert_int_equal(store_begin(w.store), 0);
        if (resources_resize(w.resources, &edu_c, vm, "t-large", &t, &err) < 0)
                fail_msg("resize: %s", err.message);
        p->status = PROVIDER_LOST;
        assert_int_equal(store_commit(w.store), 0);
        snprintf(op_id, sizeof(op_id), "%s", t.operation_id);
        assert_true(plan_is(vm, "t-large"));
        assert_int_equal(host_vcpus(vm), 1);
        world_close();
        world_open(false);
        assert_int_equal(operations_get(w.resources, &edu_c, op_id, &op, &err), 0);
        assert_int_equal(op.kind, OPERATION_RESIZE);
        assert_int_equal(op.state, OPERATION_PENDING);
        operation_done(&op);
        assert_int_equal(providers_add_config(w.providers, PROVIDER, "libvirt", "test:///default",
                                              DRIVER_DOMAIN_AUTO, NULL, &err),
                         0);
        assert_true(pump_until(provider_connected, NULL));
        wait_succeeded(op_id);
        assert_int_equal(host_vcpus(vm), 2);
        assert_int_equal(state_of(vm), RESOURCE_ACTIVE);
        assert_true(plan_is(vm, "t-large"));
        assert_true(committed_of(vm) > small_fen);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'resource.resize.done'"), 1);
        /* Metered: a segment at the new plan, in the same state. */
        assert_true(count("SELECT COUNT(*) FROM usage_segments WHERE plan_id = 't-large'") >= 1);

        /* The host has no pool for t-disk's disk: it fails and rolls back. */
        int64_t large_fen = committed_of(vm);
        assert_true(pump_until(pool_idle, NULL));
        if (resources_resize(w.resources, &edu_c, vm, "t-disk", &t, &err) < 0)
                fail_msg("resize: %s", err.message);
        assert_true(operation_failed(t.operation_id));
        assert_true(plan_is(vm, "t-large"));
        assert_int_equal(committed_of(vm), large_fen);
        assert_int_equal(state_of(vm), RESOURCE_ACTIVE);
        assert_int_equal(host_vcpus(vm), 2);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = 'resource.resize.failed'"), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM project_holdings WHERE plan_id = 't-disk' AND "
                               "quantity > 0"),
                         0);
        assert_true(pump_until(pool_idle, NULL));
}

/* Orders a t-small VM named name: its id and its provision's id. */
static void order_vm(const char *name, char id[64], char op_id[64]) {
        CbError err = CB_ERROR_INIT;
        json_t *body = request_body("t-small", name);
        ResourceTicket t;
        if (resources_request(w.resources, &edu_c, body, NULL, &t, &err) < 0)
                fail_msg("request %s refused: %s", name, err.message);
        json_decref(body);
        snprintf(id, 64, "%s", t.id);
        snprintf(op_id, 64, "%s", t.operation_id);
}

static OperationState op_state(const char *op_id) {
        CbError err = CB_ERROR_INIT;
        Operation op = { 0 };
        assert_int_equal(operations_get(w.resources, &operator_c, op_id, &op, &err), 0);
        OperationState s = op.state;
        operation_done(&op);
        return s;
}

/* The audit records of resource id's provision ending (done or failed). */
static int64_t provision_ends(const char *id) {
        /* A literal: the store caches statements by the address of their text. */
        static const char sql[] = "SELECT COUNT(*) FROM audit WHERE object = 'resource:' || ?1 AND action IN "
                                  "('resource.provision.done', 'resource.provision.failed')";
        CbError err = CB_ERROR_INIT;
        int64_t n = -1;
        assert_int_equal(store_query_int(w.store, sql, STORE_ARGS(SA_TEXT(id)), &n, "counting", &err), 0);
        return n;
}

/* An operation waiting for a slot is resumed by its provider's reconnect
 * (which resumes every open operation) when there is room that no ending
 * operation handed over: here the limit is raised, the provider resumes,
 * and the limit is lowered again. Whichever ends first finds the other in
 * flight; the last one's end finds the resumed one still first in line,
 * already run. It must not run again (a second provision, a second 'done'
 * record). */
static void test_resume_while_waiting_runs_once(void **state) {
        Provider *p = providers_find(w.providers, PROVIDER);
        char a[64], a_op[64], b[64], b_op[64];
        (void)state;

        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(resources_set_max_in_flight(w.resources, 1), 0);
        order_vm("wait-a", a, a_op);
        order_vm("wait-b", b, b_op);
        assert_int_equal(op_state(a_op), OPERATION_RUNNING);
        assert_int_equal(op_state(b_op), OPERATION_PENDING); /* waiting */

        assert_int_equal(resources_set_max_in_flight(w.resources, 2), 0);
        operations_resume(w.resources, p);
        assert_int_equal(op_state(b_op), OPERATION_RUNNING); /* in flight, and still in line */
        assert_int_equal(resources_set_max_in_flight(w.resources, 1), 0);

        wait_succeeded(a_op);
        wait_succeeded(b_op);
        assert_true(pump_until(pool_idle, NULL));
        pump_for_ms(100);
        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(provision_ends(a), 1);
        assert_int_equal(provision_ends(b), 1);
        assert_int_equal(op_state(b_op), OPERATION_SUCCEEDED);
        assert_int_equal(state_of(a), RESOURCE_ACTIVE);
        assert_int_equal(state_of(b), RESOURCE_ACTIVE);
        assert_int_equal(resources_set_max_in_flight(w.resources, RESOURCES_MAX_IN_FLIGHT_DEFAULT), 0);
}

#define N_QUEUED 5
static char queued_op[N_QUEUED][64];
static bool queue_broken;

/* Every step of the loop: what left pending is a prefix of the order
 * (handed over in submit order), and at most two run at once. True once
 * all ended or the order broke. */
static bool queue_drained(const void *arg) {
        bool seen_pending = false;
        unsigned running = 0, ended = 0;
        (void)arg;
        for (size_t i = 0; i < N_QUEUED; i++) {
                OperationState s = op_state(queued_op[i]);
                if (s == OPERATION_PENDING) {
                        seen_pending = true;
                        continue;
                }
                if (seen_pending) {
                        print_error("%s left pending before an earlier one\n", queued_op[i]);
                        queue_broken = true;
                }
                if (s == OPERATION_RUNNING)
                        running++;
                else
                        ended++;
        }
        if (running > 2) {
                print_error("%u operations running with a limit of 2\n", running);
                queue_broken = true;
        }
        return queue_broken || ended == N_QUEUED;
}

/* With a limit of two, five orders at once: two run, three wait and are
 * handed over in order as the others end; all end, each once. */
static void test_limit_queues_in_order(void **state) {
        char id[N_QUEUED][64];
        (void)state;

        assert_int_equal(resources_set_max_in_flight(w.resources, 0), -EINVAL);
        assert_int_equal(resources_set_max_in_flight(w.resources, RESOURCES_MAX_IN_FLIGHT_LIMIT + 1),
                         -EINVAL);
        assert_true(pump_until(pool_idle, NULL));
        assert_int_equal(resources_set_max_in_flight(w.resources, 2), 0);
        for (size_t i = 0; i < N_QUEUED; i++) {
                char name[32];
                snprintf(name, sizeof(name), "queued-%zu", i);
                order_vm(name, id[i], queued_op[i]);
        }
        assert_int_equal(worker_pool_pending(w.pool), 2);
        assert_int_equal(op_state(queued_op[1]), OPERATION_RUNNING);
        assert_int_equal(op_state(queued_op[2]), OPERATION_PENDING);
        queue_broken = false;
        assert_true(pump_until(queue_drained, NULL));
        assert_false(queue_broken);
        assert_true(pump_until(pool_idle, NULL));
        for (size_t i = 0; i < N_QUEUED; i++) {
                wait_succeeded(queued_op[i]);
                assert_int_equal(state_of(id[i]), RESOURCE_ACTIVE);
                assert_int_equal(host_domain(id[i]), 1);
                assert_int_equal(provision_ends(id[i]), 1);
        }
        assert_int_equal(resources_set_max_in_flight(w.resources, RESOURCES_MAX_IN_FLIGHT_DEFAULT), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_goes_active),
                cmocka_unit_test(test_reconcile_reads_addresses),
                cmocka_unit_test(test_refusal_names_article_writes_nothing),
                cmocka_unit_test(test_idempotent_repeat),
                cmocka_unit_test(test_host_events),
                cmocka_unit_test(test_stop_start_delete),
                cmocka_unit_test(test_deleted_is_hidden),
                cmocka_unit_test(test_crash_recovery),
                cmocka_unit_test(test_attach_recovery_and_rollback),
                cmocka_unit_test(test_attachment_drift),
                cmocka_unit_test(test_resize_recovery_and_rollback),
                cmocka_unit_test(test_resume_while_waiting_runs_once),
                cmocka_unit_test(test_limit_queues_in_order),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
