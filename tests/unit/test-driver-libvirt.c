/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libvirt driver on libvirt's test driver, in process: the whole life of
 * a VM (provision, idempotent re-provision, stop, start, reboot, deprovision
 * twice), inventory telling managed from unmanaged domains, capacity, refusal
 * to touch what the broker did not stamp, rollback of a failed provision,
 * lifecycle events handed to the owner's thread, concurrent use of one
 * connection from worker threads, and the dispatch layer's "unsupported".
 *
 * etc/test-node.xml gets a fresh private state on every open; test:///default
 * is shared by all connections of the process, so there a second, raw libvirt
 * connection checks what the driver did (volumes, metadata) independently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <libvirt/libvirt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "driver.h"
#include "libvirt-xml.h"
#include "worker.h"

static const DriverOps *lv;
static char node_uri[PATH_MAX + 16];

#define LEGACY_UUID "7f3c1a52-5b2e-4d7a-9c61-2f0a8e4b9d10"

static ProvisionSpec spec_for(const char *rid) {
        return (ProvisionSpec){
                .resource_id = rid,
                .name = "教育平台 <web> & \"api\"",
                .project_id = "lf-edu-cloud-2026",
                .approval_no = "临政信审〔2026〕12号",
                .catalog_service_id = "ecs-general",
                .catalog_plan_id = "c4m8",
                .catalog_revision = 2,
                .vcpus = 4,
                .memory_mib = 8192,
                .disk_gib = 20,
                .network = "default",
        };
}

static DriverConn *open_or_fail(const char *uri) {
        DriverConn *c = NULL;
        CbError err = CB_ERROR_INIT;
        int r = driver_open(lv, uri, &c, &err);
        if (r < 0)
                fail_msg("open %s: %s", uri, err.message);
        return c;
}

static DriverInstance lookup_ok(DriverConn *c, const char *rid, const char *provider_ref) {
        DriverInstance in = { 0 };
        CbError err = CB_ERROR_INIT;
        DriverRef ref = { .resource_id = rid, .provider_ref = provider_ref };
        int r = driver_lookup(lv, c, &ref, &in, &err);
        if (r < 0)
                fail_msg("lookup %s: %s", rid, err.message);
        return in;
}

static DriverState state_of(DriverConn *c, const char *rid) {
        DriverInstance in = lookup_ok(c, rid, NULL);
        DriverState s = in.state;
        driver_instance_done(&in);
        return s;
}

static size_t count_named(const DriverInventory *inv, const char *name) {
        size_t n = 0;
        for (size_t i = 0; i < inv->n_items; i++)
                n += streq(inv->items[i].name, name);
        return n;
}

static size_t count_kind(const DriverInventory *inv, DriverObjectKind kind) {
        size_t n = 0;
        for (size_t i = 0; i < inv->n_items; i++)
                n += inv->items[i].kind == kind;
        return n;
}

static void test_lifecycle_on_node_file(void **state) {
        (void)state;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;
        ProvisionSpec spec = spec_for("r-life");

        _cleanup_(freep) char *ref1 = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref1, &err), 0);
        assert_non_null(ref1);
        assert_int_equal(strlen(ref1), 36); /* a domain UUID */

        DriverInstance in = lookup_ok(c, "r-life", ref1);
        assert_string_equal(in.name, "cb-r-life");
        assert_string_equal(in.provider_ref, ref1);
        assert_int_equal(in.state, DRIVER_STATE_RUNNING);
        assert_int_equal(in.vcpus, 4);
        assert_int_equal(in.memory_mib, 8192);
        assert_true(in.managed);
        assert_string_equal(in.stamp.resource_id, "r-life");
        assert_string_equal(in.stamp.name, spec.name);
        assert_string_equal(in.stamp.project_id, "lf-edu-cloud-2026");
        assert_string_equal(in.stamp.approval_no, "临政信审〔2026〕12号");
        assert_string_equal(in.stamp.service_id, "ecs-general");
        assert_string_equal(in.stamp.plan_id, "c4m8");
        assert_int_equal(in.stamp.catalog_revision, 2);
        driver_instance_done(&in);

        /* Same resource again: the same domain, no second one. */
        _cleanup_(freep) char *ref2 = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref2, &err), 0);
        assert_string_equal(ref1, ref2);
        _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        /* Two domains, and the VM's disk: a broker-named volume stamped by its name. */
        assert_int_equal(inv->n_items, 3);
        assert_int_equal(count_kind(inv, DRIVER_OBJECT_VM), 2);
        assert_int_equal(count_named(inv, "cb-r-life"), 1);
        for (size_t i = 0; i < inv->n_items; i++) {
                DriverInstance *it = &inv->items[i];
                if (it->kind == DRIVER_OBJECT_VOLUME) {
                        assert_string_equal(it->name, "cb-r-life.img");
                        assert_true(it->managed);
                        assert_string_equal(it->stamp.resource_id, "r-life");
                        assert_int_equal(it->state, DRIVER_STATE_PRESENT);
                        assert_int_equal(it->size_gib, 20);
                        assert_non_null(strstr(it->provider_ref, "cb-r-life.img"));
                } else if (streq(it->name, "legacy-oa-server")) {
                        assert_false(it->managed);
                        assert_null(it->stamp.resource_id);
                        assert_string_equal(it->provider_ref, LEGACY_UUID);
                        assert_int_equal(it->state, DRIVER_STATE_SHUTOFF);
                } else {
                        assert_true(it->managed);
                        assert_string_equal(it->stamp.resource_id, "r-life");
                        assert_int_equal(it->state, DRIVER_STATE_RUNNING);
                }
        }

        DriverRef ref = { .resource_id = "r-life", .provider_ref = ref1 };
        assert_int_equal(driver_stop(lv, c, &ref, 2000, &err), 0);
        assert_int_equal(state_of(c, "r-life"), DRIVER_STATE_SHUTOFF);
        assert_int_equal(driver_stop(lv, c, &ref, 2000, &err), 0); /* already off */

        /* Reboot needs a running domain. */
        cb_error_clear(&err);
        assert_int_equal(driver_reboot(lv, c, &ref, &err), -EBUSY);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);

        assert_int_equal(driver_start(lv, c, &ref, &err), 0);
        assert_int_equal(state_of(c, "r-life"), DRIVER_STATE_RUNNING);
        assert_int_equal(driver_start(lv, c, &ref, &err), 0); /* already on */
        assert_int_equal(driver_reboot(lv, c, &ref, &err), 0);
        assert_int_equal(state_of(c, "r-life"), DRIVER_STATE_RUNNING);

        /* Forced stop (timeout 0), then provision brings it back up. */
        assert_int_equal(driver_stop(lv, c, &ref, 0, &err), 0);
        assert_int_equal(state_of(c, "r-life"), DRIVER_STATE_SHUTOFF);
        _cleanup_(freep) char *ref3 = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref3, &err), 0);
        assert_string_equal(ref1, ref3);
        assert_int_equal(state_of(c, "r-life"), DRIVER_STATE_RUNNING);

        /* Without the provider_ref (crash before it was recorded): found by stamp name. */
        DriverRef by_id = { .resource_id = "r-life" };
        assert_int_equal(driver_deprovision(lv, c, &by_id, &err), 0);
        DriverInstance gone = { 0 };
        cb_error_clear(&err);
        assert_int_equal(driver_lookup(lv, c, &ref, &gone, &err), -ENOENT);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_int_equal(driver_deprovision(lv, c, &ref, &err), 0); /* absent = success */
        cb_error_clear(&err);
        assert_int_equal(driver_start(lv, c, &ref, &err), -ENOENT);

        inv = driver_inventory_free(inv);
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_int_equal(inv->n_items, 1);
        assert_string_equal(inv->items[0].name, "legacy-oa-server");

        driver_close(lv, c);
}

/* A cold resize: the definition takes the new size, the VM runs again when
 * asked to (or stays off), a second run changes nothing, a failure (the test
 * driver cannot grow a volume) puts the old size back and the VM running;
 * unstamped domains and volumes are refused. */
static void test_resize(void **state) {
        (void)state;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;
        ProvisionSpec spec = spec_for("r-resize");
        _cleanup_(freep) char *ref1 = NULL;
        DriverInstance in;

        assert_int_equal(driver_provision(lv, c, &spec, &ref1, &err), 0);
        DriverRef ref = { .resource_id = "r-resize", .provider_ref = ref1 };
        ResizeSpec rs = { .vcpus = 2, .memory_mib = 4096, .disk_gib = 20, .run = true, .stop_timeout_ms = 0 };

        assert_int_equal(driver_resize(lv, c, &ref, &rs, &err), 0);
        in = lookup_ok(c, "r-resize", ref1);
        assert_int_equal(in.vcpus, 2);
        assert_int_equal(in.memory_mib, 4096);
        assert_int_equal(in.state, DRIVER_STATE_RUNNING);
        driver_instance_done(&in);
        /* Again (a resumed operation): the same. */
        assert_int_equal(driver_resize(lv, c, &ref, &rs, &err), 0);
        in = lookup_ok(c, "r-resize", ref1);
        assert_int_equal(in.vcpus, 2);
        assert_int_equal(in.state, DRIVER_STATE_RUNNING);
        driver_instance_done(&in);

        /* Larger, left off (it was stopped before the resize). */
        rs = (ResizeSpec){ .vcpus = 8, .memory_mib = 16384, .disk_gib = 10, .run = false };
        assert_int_equal(driver_resize(lv, c, &ref, &rs, &err), 0);
        in = lookup_ok(c, "r-resize", ref1);
        assert_int_equal(in.vcpus, 8);
        assert_int_equal(in.memory_mib, 16384);
        assert_int_equal(in.state, DRIVER_STATE_SHUTOFF);
        driver_instance_done(&in);
        assert_int_equal(driver_start(lv, c, &ref, &err), 0);

        /* A disk to grow: the test driver cannot, so it fails and rolls back. */
        rs = (ResizeSpec){ .vcpus = 1, .memory_mib = 1024, .disk_gib = 40, .run = true };
        assert_true(driver_resize(lv, c, &ref, &rs, &err) < 0);
        assert_non_null(strstr(err.message, "cannot grow the system disk"));
        cb_error_clear(&err);
        in = lookup_ok(c, "r-resize", ref1);
        assert_int_equal(in.vcpus, 8);
        assert_int_equal(in.memory_mib, 16384);
        assert_int_equal(in.state, DRIVER_STATE_RUNNING);
        driver_instance_done(&in);

        /* Bad input and what is not the broker's. */
        rs = (ResizeSpec){ .vcpus = 0, .memory_mib = 1024 };
        assert_int_equal(driver_resize(lv, c, &ref, &rs, &err), -EINVAL);
        assert_string_equal(err.field, "vcpus");
        cb_error_clear(&err);
        rs = (ResizeSpec){ .vcpus = 1, .memory_mib = 1024 };
        DriverRef legacy = { .resource_id = "r-resize", .provider_ref = LEGACY_UUID };
        assert_true(driver_resize(lv, c, &legacy, &rs, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        cb_error_clear(&err);
        DriverRef vol = { .kind = DRIVER_OBJECT_VOLUME, .resource_id = "r-resize" };
        assert_int_equal(driver_resize(lv, c, &vol, &rs, &err), -EOPNOTSUPP);
        cb_error_clear(&err);
        DriverRef none = { .resource_id = "r-none" };
        assert_int_equal(driver_resize(lv, c, &none, &rs, &err), -ENOENT);
        cb_error_clear(&err);

        assert_int_equal(driver_deprovision(lv, c, &ref, &err), 0);
        driver_close(lv, c);
}

static void test_refuses_unstamped(void **state) {
        (void)state;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;

        /* The legacy domain, addressed by its UUID under some resource id. */
        DriverRef legacy = { .resource_id = "r-legacy", .provider_ref = LEGACY_UUID };
        assert_int_equal(driver_start(lv, c, &legacy, &err), -EBUSY);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_non_null(strstr(err.message, "legacy-oa-server"));
        cb_error_clear(&err);
        assert_int_equal(driver_deprovision(lv, c, &legacy, &err), -EBUSY);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);

        /* It is still there, untouched. */
        _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_int_equal(count_named(inv, "legacy-oa-server"), 1);
        assert_int_equal(inv->items[0].state, DRIVER_STATE_SHUTOFF);

        /* Another resource's domain is not ours either. */
        ProvisionSpec spec = spec_for("r-a");
        _cleanup_(freep) char *ref_a = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref_a, &err), 0);
        DriverRef wrong = { .resource_id = "r-b", .provider_ref = ref_a };
        cb_error_clear(&err);
        assert_int_equal(driver_stop(lv, c, &wrong, 0, &err), -EBUSY);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_int_equal(state_of(c, "r-a"), DRIVER_STATE_RUNNING);

        driver_close(lv, c);
}

static void test_capacity_and_validation(void **state) {
        (void)state;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;
        DriverCapacity cap;

        assert_int_equal(driver_capacity(lv, c, &cap, &err), 0);
        assert_int_equal(cap.total_vcpus, 16);
        assert_int_equal(cap.total_memory_mib, 65536);
        assert_int_equal(cap.used_vcpus, 0); /* the legacy domain is shut off */
        assert_int_equal(cap.running, 0);
        assert_int_equal(cap.free_vcpus, 16);
        /* The node file's three pools, and what placement asks of them. */
        assert_true(cap.pools_complete);
        assert_int_equal(cap.n_pools, 3);
        assert_true(driver_capacity_has_pool(&cap, NULL)); /* "default" */
        assert_true(driver_capacity_has_pool(&cap, "ssd-pool"));
        assert_true(driver_capacity_has_pool(&cap, "sata-pool"));
        assert_false(driver_capacity_has_pool(&cap, "nowhere-pool"));
        DriverCapacity unknown = { .pools_complete = false };
        assert_true(driver_capacity_has_pool(&unknown, "nowhere-pool")); /* not ruled out */

        ProvisionSpec spec = spec_for("r-cap");
        _cleanup_(freep) char *ref = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref, &err), 0);
        assert_int_equal(driver_capacity(lv, c, &cap, &err), 0);
        assert_int_equal(cap.used_vcpus, 4);
        assert_int_equal(cap.free_vcpus, 12);
        assert_int_equal(cap.used_memory_mib, 8192);
        assert_int_equal(cap.free_memory_mib, 65536 - 8192);
        assert_int_equal(cap.running, 1);

        /* A bad spec is refused by field before anything is created. */
        ProvisionSpec bad = spec_for("r-bad");
        bad.vcpus = 0;
        char *none = NULL;
        cb_error_clear(&err);
        assert_int_equal(driver_provision(lv, c, &bad, &none, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "vcpus");
        assert_null(none);

        /* A missing pool fails the provision and leaves no domain behind. */
        bad = spec_for("r-nopool");
        bad.pool = "nope";
        cb_error_clear(&err);
        assert_int_equal(driver_provision(lv, c, &bad, &none, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_UNPROCESSABLE);
        assert_string_equal(err.field, "pool");
        assert_null(none);
        _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_int_equal(count_named(inv, "cb-r-nopool"), 0);
        assert_int_equal(count_kind(inv, DRIVER_OBJECT_VM), 2);

        /* Refs are checked too. */
        DriverRef badref = { .resource_id = "../x" };
        cb_error_clear(&err);
        assert_int_equal(driver_stop(lv, c, &badref, 0, &err), -EINVAL);
        assert_string_equal(err.field, "resource_id");

        driver_close(lv, c);
}

static void test_unreachable_uri(void **state) {
        (void)state;
        DriverConn *c = NULL;
        CbError err = CB_ERROR_INIT;
        assert_int_equal(driver_open(lv, "test:///no/such/node.xml", &c, &err), -EAGAIN);
        assert_int_equal(err.kind, CB_ERR_UNAVAILABLE);
        assert_null(c);
        cb_error_clear(&err);
        assert_int_equal(driver_open(lv, "", &c, &err), -EINVAL);
        assert_null(c);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A host that accepts the TCP connection and never answers: libvirt's own
 * open would wait for good; the driver gives up after the connect timeout. */
static void test_connect_timeout(void **state) {
        (void)state;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        socklen_t len = sizeof(sa);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        assert_int_equal(listen(fd, 8), 0); /* the kernel accepts; nobody answers */
        char uri[96];
        snprintf(uri, sizeof(uri), "qemu+tcp://127.0.0.1:%u/system", ntohs(sa.sin_port));

        driver_set_connect_timeout_ms(600);
        DriverConn *c = NULL;
        CbError err = CB_ERROR_INIT;
        double t0 = now_s();
        assert_int_equal(driver_open(lv, uri, &c, &err), -EAGAIN);
        double took = now_s() - t0;
        assert_null(c);
        assert_int_equal(err.kind, CB_ERR_UNAVAILABLE);
        assert_non_null(strstr(err.message, "no answer within 600 ms"));
        assert_true(took >= 0.5 && took < 5.0);
        cb_error_clear(&err);

        /* A refused connection is reported as it happens, not after the timeout. */
        close(fd);
        driver_set_connect_timeout_ms(10000);
        t0 = now_s();
        assert_int_equal(driver_open(lv, uri, &c, &err), -EAGAIN);
        assert_true(now_s() - t0 < 5.0);
        assert_null(strstr(err.message, "no answer within"));
        cb_error_clear(&err);
}

/* The disk of the inventory's item name whose source is source, or NULL. */
static const DriverDisk *inventory_disk(const DriverInventory *inv, const char *name, const char *source) {
        for (size_t i = 0; i < inv->n_items; i++)
                if (streq(inv->items[i].name, name))
                        for (size_t k = 0; k < inv->items[i].n_disks; k++)
                                if (inv->items[i].disks[k].source &&
                                    streq(inv->items[i].disks[k].source, source))
                                        return &inv->items[i].disks[k];
        return NULL;
}

static void redefine(virConnectPtr raw, const char *name, const char *device, const char *remove_serial) {
        virDomainPtr d = virDomainLookupByName(raw, name);
        assert_non_null(d);
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE), *edited = NULL;
        assert_non_null(xml);
        if (device)
                assert_int_equal(libvirt_xml_add_device(xml, device, &edited), 0);
        else
                assert_int_equal(libvirt_xml_remove_disk(xml, remove_serial, &edited), 0);
        virDomainPtr nd = virDomainDefineXML(raw, edited);
        assert_non_null(nd);
        virDomainFree(nd);
        virDomainFree(d);
        free(xml);
        free(edited);
}

/* The inventory lists each domain's disks as the provider has them, a disk
 * put on (or taken off) outside the broker too: a redefinition stands for
 * `virsh attach-disk --config` on test:///default. */
static void test_inventory_disks(void **state) {
        (void)state;
        DriverConn *c = open_or_fail("test:///default");
        virConnectPtr raw = virConnectOpen("test:///default");
        assert_non_null(raw);
        CbError err = CB_ERROR_INIT;
        ProvisionSpec spec = spec_for("r-dsk");
        spec.pool = "default-pool";
        spec.disk_gib = 1;
        _cleanup_(freep) char *ref = NULL, *vol = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref, &err), 0);

        _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        const DriverDisk *sys = inventory_disk(inv, "cb-r-dsk", "cb-r-dsk.img");
        assert_non_null(sys);
        assert_string_equal(sys->volume_id, "r-dsk"); /* its own: the reconcile leaves it be */
        assert_string_equal(sys->target, "vda");
        assert_true(sys->persistent && sys->live);
        assert_false(sys->seed);
        assert_null(inventory_disk(inv, "cb-r-dsk", "cb-vol-q.img"));

        /* Attached outside the broker: in the persistent definition only. */
        assert_int_equal(libvirt_xml_attached_disk("default-pool", "vol-q", "vdc", &vol, &err), 0);
        redefine(raw, "cb-r-dsk", vol, NULL);
        redefine(raw, "cb-r-dsk",
                 "<disk type='file' device='disk'><source file='/srv/own.img'/><target dev='vdd'/></disk>",
                 NULL);
        inv = driver_inventory_free(inv);
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        const DriverDisk *q = inventory_disk(inv, "cb-r-dsk", "cb-vol-q.img");
        assert_non_null(q);
        assert_string_equal(q->volume_id, "vol-q");
        assert_string_equal(q->target, "vdc");
        assert_true(q->persistent);
        assert_false(q->live);
        const DriverDisk *own = inventory_disk(inv, "cb-r-dsk", "/srv/own.img");
        assert_non_null(own);
        assert_null(own->volume_id);
        assert_string_equal(own->target, "vdd");

        /* Detached outside the broker: gone from the inventory. */
        redefine(raw, "cb-r-dsk", NULL, "vol-q");
        inv = driver_inventory_free(inv);
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_null(inventory_disk(inv, "cb-r-dsk", "cb-vol-q.img"));
        assert_non_null(inventory_disk(inv, "cb-r-dsk", "/srv/own.img"));

        DriverRef dref = {
                .kind = DRIVER_OBJECT_VM, .resource_id = "r-dsk", .provider_ref = ref, .pool = "default-pool"
        };
        assert_int_equal(driver_deprovision(lv, c, &dref, &err), 0);
        virConnectClose(raw);
        driver_close(lv, c);
}

/* test:///default: a raw second connection sees the same state. */
static void test_volume_on_shared_default(void **state) {
        (void)state;
        DriverConn *c = open_or_fail("test:///default");
        virConnectPtr raw = virConnectOpen("test:///default");
        assert_non_null(raw);
        virStoragePoolPtr pool = virStoragePoolLookupByName(raw, "default-pool");
        assert_non_null(pool);
        CbError err = CB_ERROR_INIT;

        ProvisionSpec spec = spec_for("r-vol");
        spec.pool = "default-pool";
        spec.disk_gib = 5;
        _cleanup_(freep) char *ref = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref, &err), 0);

        virStorageVolPtr vol = virStorageVolLookupByName(pool, "cb-r-vol.img");
        assert_non_null(vol);
        virStorageVolInfo vinfo;
        assert_int_equal(virStorageVolGetInfo(vol, &vinfo), 0);
        assert_true(vinfo.capacity == 5ULL << 30);
        virStorageVolFree(vol);

        virDomainPtr d = virDomainLookupByName(raw, "cb-r-vol");
        assert_non_null(d);
        assert_int_equal(virDomainIsActive(d), 1);
        char *md = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, CB_XML_NS_URI, 0);
        assert_non_null(md);
        assert_non_null(strstr(md, "<resource-id>r-vol</resource-id>"));
        free(md);
        char *dxml = virDomainGetXMLDesc(d, 0);
        assert_non_null(dxml);
        assert_non_null(strstr(dxml, "volume='cb-r-vol.img'"));
        free(dxml);
        virDomainFree(d);

        /* A same-named domain without a stamp: provision refuses, leaves it be. */
        const char *squatter = "<domain type='test'><name>cb-r-squat</name><memory unit='MiB'>64</memory>"
                               "<os><type>hvm</type></os></domain>";
        virDomainPtr sq = virDomainDefineXML(raw, squatter);
        assert_non_null(sq);
        ProvisionSpec s2 = spec_for("r-squat");
        s2.pool = "default-pool";
        char *none = NULL;
        cb_error_clear(&err);
        assert_int_equal(driver_provision(lv, c, &s2, &none, &err), -EBUSY);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_null(none);
        assert_int_equal(virDomainIsActive(sq), 0);
        virStorageVolPtr sqvol = virStorageVolLookupByName(pool, "cb-r-squat.img");
        assert_null(sqvol);
        assert_int_equal(virDomainUndefine(sq), 0);
        virDomainFree(sq);

        DriverRef r = { .resource_id = "r-vol", .provider_ref = ref, .pool = "default-pool" };
        assert_int_equal(driver_deprovision(lv, c, &r, &err), 0);
        assert_null(virStorageVolLookupByName(pool, "cb-r-vol.img"));
        assert_null(virDomainLookupByName(raw, "cb-r-vol"));
        assert_int_equal(driver_deprovision(lv, c, &r, &err), 0);

        /* An orphaned volume (crash after the volume, before the domain) is
         * cleaned by deprovision too. */
        virStorageVolPtr orphan = virStorageVolCreateXML(
                pool, "<volume><name>cb-r-orphan.img</name><capacity unit='GiB'>1</capacity></volume>", 0);
        assert_non_null(orphan);
        virStorageVolFree(orphan);
        DriverRef o = { .resource_id = "r-orphan", .pool = "default-pool" };
        assert_int_equal(driver_deprovision(lv, c, &o, &err), 0);
        assert_null(virStorageVolLookupByName(pool, "cb-r-orphan.img"));

        virStoragePoolFree(pool);
        virConnectClose(raw);
        driver_close(lv, c);
}

/* Events: the callback runs on libvirt's event thread and hands each event
 * to the owner's thread through the worker pool, as the daemon will. */
typedef struct SeenEvent {
        DriverEventKind kind;
        DriverState state;
        char resource_id[64];
} SeenEvent;

static SeenEvent seen[64];
static unsigned n_seen;
static pthread_t owner;

static void event_done(int result, void *userdata) {
        (void)result;
        SeenEvent *e = userdata;
        assert_true(pthread_equal(pthread_self(), owner));
        if (n_seen < ELEMENTSOF(seen))
                seen[n_seen++] = *e;
        free(e);
}

static void on_event(const DriverEvent *ev, void *userdata) {
        WorkerPool *pool = userdata;
        SeenEvent *e = calloc(1, sizeof(*e));
        if (!e)
                return;
        e->kind = ev->kind;
        e->state = ev->state;
        snprintf(e->resource_id, sizeof(e->resource_id), "%s", ev->resource_id ? ev->resource_id : "");
        if (worker_post(pool, event_done, 0, e) < 0)
                free(e);
}

static bool have_event(DriverEventKind kind, const char *rid) {
        for (unsigned i = 0; i < n_seen; i++)
                if (seen[i].kind == kind && streq(seen[i].resource_id, rid))
                        return true;
        return false;
}

static void wait_event(WorkerPool *pool, DriverEventKind kind, const char *rid) {
        for (int i = 0; i < 50 && !have_event(kind, rid); i++) {
                struct pollfd p = { .fd = worker_pool_fd(pool), .events = POLLIN };
                if (poll(&p, 1, 100) > 0)
                        worker_dispatch(pool);
        }
        if (!have_event(kind, rid))
                fail_msg("no %s event for %s within 5 s", driver_event_kind_to_string(kind), rid);
}

static void test_events(void **state) {
        (void)state;
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(2, &pool), 0);
        owner = pthread_self();
        n_seen = 0;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;
        assert_int_equal(driver_watch_events(lv, c, on_event, pool, &err), 0);

        ProvisionSpec spec = spec_for("r-ev");
        _cleanup_(freep) char *ref = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref, &err), 0);
        wait_event(pool, DRIVER_EVENT_STARTED, "r-ev");

        DriverRef r = { .resource_id = "r-ev", .provider_ref = ref };
        assert_int_equal(driver_stop(lv, c, &r, 1000, &err), 0);
        wait_event(pool, DRIVER_EVENT_STOPPED, "r-ev");
        for (unsigned i = 0; i < n_seen; i++)
                if (seen[i].kind == DRIVER_EVENT_STOPPED)
                        assert_int_equal(seen[i].state, DRIVER_STATE_SHUTOFF);
        assert_int_equal(driver_deprovision(lv, c, &r, &err), 0);
        wait_event(pool, DRIVER_EVENT_UNDEFINED, ""); /* no stamp left to read */

        /* Unwatched: nothing more arrives. */
        assert_int_equal(driver_watch_events(lv, c, NULL, NULL, &err), 0);
        unsigned before = n_seen;
        _cleanup_(freep) char *ref2 = NULL;
        spec.resource_id = "r-ev2";
        assert_int_equal(driver_provision(lv, c, &spec, &ref2, &err), 0);
        for (int i = 0; i < 3; i++) {
                struct pollfd p = { .fd = worker_pool_fd(pool), .events = POLLIN };
                if (poll(&p, 1, 100) > 0)
                        worker_dispatch(pool);
        }
        assert_int_equal(n_seen, before);

        /* Close with a watch registered, then free the pool. */
        assert_int_equal(driver_watch_events(lv, c, on_event, pool, &err), 0);
        driver_close(lv, c);
        worker_pool_free(pool);
}

/* A block volume of its own: created in its pool, idempotent by name, listed
 * as a volume, no power operations, deleted by deprovision. */
static void test_volume_resource(void **state) {
        (void)state;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;
        ProvisionSpec spec = spec_for("r-disk");
        spec.kind = DRIVER_OBJECT_VOLUME;
        spec.vcpus = 0; /* not a VM: no vCPUs or memory needed */
        spec.memory_mib = 0;
        spec.disk_gib = 500;
        spec.pool = "sata-pool";
        _cleanup_(freep) char *ref1 = NULL, *ref2 = NULL, *none = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref1, &err), 0);
        assert_string_equal(ref1, "/var/lib/libvirt/images/sata/cb-r-disk.img");
        assert_int_equal(driver_provision(lv, c, &spec, &ref2, &err), 0);
        assert_string_equal(ref1, ref2);

        _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_int_equal(count_named(inv, "cb-r-disk.img"), 1);
        assert_int_equal(count_named(inv, "cb-r-disk"), 0); /* no domain */
        for (size_t i = 0; i < inv->n_items; i++)
                if (streq(inv->items[i].name, "cb-r-disk.img")) {
                        assert_int_equal(inv->items[i].kind, DRIVER_OBJECT_VOLUME);
                        assert_int_equal(inv->items[i].size_gib, 500);
                        assert_string_equal(inv->items[i].stamp.resource_id, "r-disk");
                }

        DriverRef ref = { .kind = DRIVER_OBJECT_VOLUME,
                          .resource_id = "r-disk",
                          .provider_ref = ref1,
                          .pool = "sata-pool" };
        assert_int_equal(driver_start(lv, c, &ref, &err), -EOPNOTSUPP);
        assert_int_equal(err.kind, CB_ERR_UNSUPPORTED);
        assert_non_null(strstr(err.message, "no power state"));
        cb_error_clear(&err);
        assert_int_equal(driver_stop(lv, c, &ref, 0, &err), -EOPNOTSUPP);
        cb_error_clear(&err);
        assert_int_equal(driver_reboot(lv, c, &ref, &err), -EOPNOTSUPP);
        cb_error_clear(&err);

        assert_int_equal(driver_deprovision(lv, c, &ref, &err), 0);
        assert_int_equal(driver_deprovision(lv, c, &ref, &err), 0); /* absent = success */
        inv = driver_inventory_free(inv);
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_int_equal(count_named(inv, "cb-r-disk.img"), 0);

        /* A volume without a size, or in a pool the host lacks, is refused. */
        spec.disk_gib = 0;
        assert_int_equal(driver_provision(lv, c, &spec, &none, &err), -EINVAL);
        assert_string_equal(err.field, "disk_gib");
        cb_error_clear(&err);
        spec.disk_gib = 10;
        spec.pool = "nope";
        assert_int_equal(driver_provision(lv, c, &spec, &none, &err), -EINVAL);
        assert_string_equal(err.field, "pool");
        assert_null(none);
        cb_error_clear(&err);
        driver_close(lv, c);
}

/* Provisioning from several workers on one connection at once. */
typedef struct ProvJob {
        DriverConn *conn;
        char rid[32];
        char *ref;
        CbError err;
        unsigned *done;
} ProvJob;

static int prov_job(void *userdata) {
        ProvJob *j = userdata;
        ProvisionSpec spec = spec_for(j->rid);
        spec.vcpus = 1;
        spec.memory_mib = 256;
        return driver_provision(lv, j->conn, &spec, &j->ref, &j->err);
}

static void prov_done(int result, void *userdata) {
        ProvJob *j = userdata;
        if (result < 0)
                fail_msg("provision %s: %s", j->rid, j->err.message);
        (*j->done)++;
}

static void test_concurrent_workers(void **state) {
        (void)state;
        enum { N = 24 };
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(4, &pool), 0);
        DriverConn *c = open_or_fail(node_uri);
        ProvJob jobs[N];
        unsigned done = 0;
        for (unsigned i = 0; i < N; i++) {
                jobs[i] = (ProvJob){ .conn = c, .done = &done };
                snprintf(jobs[i].rid, sizeof(jobs[i].rid), "r-par-%u", i % (N / 2)); /* each id twice */
                assert_int_equal(worker_submit(pool, prov_job, prov_done, &jobs[i]), 0);
        }
        for (int i = 0; i < 300 && done < N; i++) {
                struct pollfd p = { .fd = worker_pool_fd(pool), .events = POLLIN };
                if (poll(&p, 1, 100) > 0)
                        worker_dispatch(pool);
        }
        assert_int_equal(done, N);
        /* Twin requests raced; each resource still has exactly one domain. */
        for (unsigned i = 0; i < N / 2; i++)
                assert_string_equal(jobs[i].ref, jobs[i + N / 2].ref);
        _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
        CbError err = CB_ERROR_INIT;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        assert_int_equal(count_kind(inv, DRIVER_OBJECT_VM), 1 + N / 2);
        assert_int_equal(count_kind(inv, DRIVER_OBJECT_VOLUME), N / 2); /* one disk each */
        for (unsigned i = 0; i < N; i++)
                free(jobs[i].ref);
        worker_pool_free(pool);
        driver_close(lv, c);
}

/* --- the dispatch layer, with a fake table ---------------------------------- */

static int fake_open(const char *uri, DriverConn **ret, CbError *err) {
        (void)uri;
        (void)err;
        DriverConn *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        extern const DriverOps fake_ops;
        c->ops = &fake_ops;
        *ret = c;
        return 0;
}

static void fake_close(DriverConn *c) {
        free(c);
}

const DriverOps fake_ops = { .name = "fake", .open = fake_open, .close = fake_close };

static void test_unsupported_operations(void **state) {
        (void)state;
        CbError err = CB_ERROR_INIT;
        DriverConn *c = NULL;
        assert_int_equal(driver_open(&fake_ops, "fake://", &c, &err), 0);
        assert_non_null(c);

        ProvisionSpec spec = spec_for("r-fake");
        char *ref = NULL;
        assert_int_equal(driver_provision(&fake_ops, c, &spec, &ref, &err), -EOPNOTSUPP);
        assert_int_equal(err.kind, CB_ERR_UNSUPPORTED);
        assert_string_equal(err.message, "driver fake does not support provision");
        assert_null(ref);

        DriverRef r = { .resource_id = "r-fake" };
        DriverInventory *inv = NULL;
        DriverCapacity cap;
        DriverInstance in;
        cb_error_clear(&err);
        assert_int_equal(driver_start(&fake_ops, c, &r, &err), -EOPNOTSUPP);
        assert_string_equal(err.message, "driver fake does not support start");
        assert_int_equal(driver_stop(&fake_ops, c, &r, 10, &err), -EOPNOTSUPP);
        assert_int_equal(driver_reboot(&fake_ops, c, &r, &err), -EOPNOTSUPP);
        assert_int_equal(driver_deprovision(&fake_ops, c, &r, &err), -EOPNOTSUPP);
        assert_string_equal(err.message, "driver fake does not support deprovision");
        assert_int_equal(driver_inventory(&fake_ops, c, &inv, &err), -EOPNOTSUPP);
        assert_int_equal(driver_capacity(&fake_ops, c, &cap, &err), -EOPNOTSUPP);
        assert_int_equal(driver_lookup(&fake_ops, c, &r, &in, &err), -EOPNOTSUPP);
        assert_int_equal(driver_ping(&fake_ops, c, &err), -EOPNOTSUPP);
        assert_int_equal(driver_watch_events(&fake_ops, c, on_event, NULL, &err), -EOPNOTSUPP);
        LegacyVm vm;
        assert_int_equal(driver_assess_domain(&fake_ops, c, "x", &vm, &err), -EOPNOTSUPP);
        assert_int_equal(err.kind, CB_ERR_UNSUPPORTED);
        assert_null(inv);

        /* A connection used with another driver's table is refused, not dispatched. */
        cb_error_clear(&err);
        assert_int_equal(driver_start(lv, c, &r, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_int_equal(driver_start(lv, NULL, &r, &err), -EINVAL);
        assert_int_equal(driver_start(NULL, c, &r, &err), -EINVAL);

        /* A table without open. */
        static const DriverOps empty = { .name = "empty" };
        DriverConn *c2 = NULL;
        assert_int_equal(driver_open(&empty, "x://", &c2, &err), -EOPNOTSUPP);
        assert_string_equal(err.message, "driver empty does not support open");
        assert_null(c2);

        assert_null(driver_close(&fake_ops, c));
        assert_true(driver_find("libvirt") == &libvirt_driver_ops);
        assert_true(driver_find("http") == &http_driver_ops);
        assert_null(driver_find("nfs"));
        assert_null(driver_find(NULL));
        assert_string_equal(driver_state_to_string(DRIVER_STATE_SHUTOFF), "shutoff");
        assert_string_equal(driver_state_to_string((DriverState)99), "unknown");
}

/* A legacy server room (tests/integration/legacy-node.xml): its VMs read
 * as they are defined, disks sized from their pool's volumes, nothing
 * changed on the host. */
static void test_assess_domain(void **state) {
        char path[PATH_MAX], uri[PATH_MAX + 16];
        CbError err = CB_ERROR_INIT;
        LegacyVm *vm = calloc(1, sizeof(*vm));
        (void)state;

        assert_non_null(realpath("tests/integration/legacy-node.xml", path));
        snprintf(uri, sizeof(uri), "test://%s", path);
        DriverConn *c = open_or_fail(uri);

        assert_int_equal(driver_assess_domain(lv, c, "oa-db", vm, &err), 0);
        assert_string_equal(vm->name, "oa-db");
        assert_int_equal(vm->vcpus, 3);
        assert_int_equal(vm->memory_mib, 6144);
        assert_string_equal(vm->firmware, "efi");
        assert_string_equal(vm->power, "shutoff");
        assert_int_equal(vm->n_disks, 2);
        assert_true(vm->disks[0].sized && vm->disks[1].sized);
        assert_int_equal(vm->disks[0].capacity_bytes, 40ULL << 30);
        assert_int_equal(vm->disks[0].allocation_bytes, 12ULL << 30);
        assert_string_equal(vm->disks[1].format, "vmdk");
        assert_int_equal(legacy_vm_disk_bytes(vm), 70ULL << 30);
        assert_string_equal(vm->nics[0].mac, "52:54:00:12:00:02");
        assert_int_equal(vm->n_devices, 1);
        assert_string_equal(vm->devices[0].kind, "sound");

        assert_int_equal(driver_assess_domain(lv, c, "no-such-vm", vm, &err), -ENOENT);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_int_equal(driver_assess_domain(lv, c, "", vm, &err), -EINVAL);

        /* Reading changed nothing: the VM is still shut off and undefined by nobody. */
        DriverInventory *inv = NULL;
        assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
        size_t seen = 0;
        for (size_t i = 0; i < inv->n_items; i++)
                if (inv->items[i].kind == DRIVER_OBJECT_VM && !inv->items[i].managed) {
                        seen++;
                        assert_int_equal(inv->items[i].state, DRIVER_STATE_SHUTOFF);
                }
        assert_int_equal(seen, 4);
        driver_inventory_free(inv);
        driver_close(lv, c);
        free(vm);
}

static void test_ping(void **state) {
        (void)state;
        DriverConn *c = open_or_fail(node_uri);
        CbError err = CB_ERROR_INIT;
        assert_int_equal(driver_ping(lv, c, &err), 0);
        driver_close(lv, c);
}

/* OS images: a volume of tests/integration/images-node.xml read whole and
 * digested (the test driver has no download; the driver reads a test://
 * volume at its path, which this test fills). */
static void write_file(const char *path, const unsigned char *buf, size_t n) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

static void test_image_inspect(void **state) {
        static unsigned char bytes[700001];
        char dir[] = "/tmp/cbimg.XXXXXX", path[PATH_MAX], uri[PATH_MAX + 16], cmd[PATH_MAX + 64];
        char sha[DIGEST_HEX_MAX], sm3[DIGEST_HEX_MAX];
        CbError err = CB_ERROR_INIT;
        DriverImageInfo info;
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd),
                 "mkdir %s/images && sed 's|@DIR@|%s|g' tests/integration/images-node.xml >%s/node.xml", dir,
                 dir, dir);
        assert_int_equal(system(cmd), 0);
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = (unsigned char)(i * 7 + (i >> 9));
        snprintf(path, sizeof(path), "%s/images/openEuler-22.03-LTS-x86_64.qcow2", dir);
        write_file(path, bytes, sizeof(bytes));
        snprintf(path, sizeof(path), "%s/images/debian-12-x86_64.raw", dir);
        write_file(path, bytes, 1000);
        assert_int_equal(digest_hex("sha256", bytes, sizeof(bytes), sha), 0);
        assert_int_equal(digest_hex("sm3", bytes, 1000, sm3), 0);

        snprintf(uri, sizeof(uri), "test://%s/node.xml", dir);
        DriverConn *c = open_or_fail(uri);
        assert_int_equal(driver_image_inspect(lv, c, "images", "openEuler-22.03-LTS-x86_64.qcow2", "sha256",
                                              &info, &err),
                         0);
        assert_string_equal(info.digest, sha);
        assert_string_equal(info.format, "qcow2");
        assert_true(info.capacity_bytes == 2ULL * 1024 * 1024 * 1024);
        assert_true(info.read_bytes == sizeof(bytes)); /* more than one chunk */
        assert_int_equal(driver_image_inspect(lv, c, "images", "debian-12-x86_64.raw", "sm3", &info, &err),
                         0);
        assert_string_equal(info.digest, sm3);
        assert_string_equal(info.format, "raw");

        /* What is not there names the field. */
        assert_int_equal(driver_image_inspect(lv, c, "images", "nothing.qcow2", "sha256", &info, &err),
                         -ENOENT);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_string_equal(err.field, "volume");
        cb_error_clear(&err);
        assert_int_equal(driver_image_inspect(lv, c, "nopool", "x", "sha256", &info, &err), -ENOENT);
        assert_string_equal(err.field, "pool");
        cb_error_clear(&err);
        /* A volume whose bytes are gone cannot be digested. */
        assert_int_equal(driver_image_inspect(lv, c, "images", "openEuler-22.03-LTS-aarch64.qcow2", "sha256",
                                              &info, &err),
                         -EINVAL);
        assert_int_equal(err.kind, CB_ERR_UNPROCESSABLE);
        cb_error_clear(&err);
        assert_int_equal(driver_image_inspect(lv, c, "images", "x", "md5", &info, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        cb_error_clear(&err);
        assert_int_equal(driver_image_inspect(lv, c, "", "x", "sha256", &info, &err), -EINVAL);
        assert_string_equal(err.field, "pool");
        cb_error_clear(&err);
        driver_close(lv, c);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* The system disk from an image, on test:///default (a raw connection sees
 * what the driver made): copy-on-write in a dir pool, a full clone in a
 * disk pool (no backing files there), the image digested first and never written; a changed
 * image, a missing one or a disk smaller than the image are refused with
 * nothing left behind. */
static char *vol_xml(virStoragePoolPtr pool, const char *name) {
        virStorageVolPtr v = virStorageVolLookupByName(pool, name);
        char *x;
        if (!v)
                return NULL;
        x = virStorageVolGetXMLDesc(v, 0);
        virStorageVolFree(v);
        return x;
}

static void test_system_disk_from_image(void **state) {
        static unsigned char bytes[300000];
        char dir[] = "/tmp/cbdisk.XXXXXX", xml[1024], path[PATH_MAX], sha[DIGEST_HEX_MAX],
             after[DIGEST_HEX_MAX];
        char cmd[PATH_MAX + 16], bad[65];
        CbError err = CB_ERROR_INIT;
        (void)state;

        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = (unsigned char)(i * 13 + 5);
        assert_int_equal(digest_hex("sha256", bytes, sizeof(bytes), sha), 0);
        virConnectPtr raw = virConnectOpen("test:///default");
        assert_non_null(raw);
        snprintf(xml, sizeof(xml),
                 "<pool type='dir'><name>cb-ut-images</name><target><path>%s</path></target></pool>", dir);
        virStoragePoolPtr ipool = virStoragePoolCreateXML(raw, xml, 0);
        assert_non_null(ipool);
        snprintf(xml, sizeof(xml),
                 "<pool type='disk'><name>cb-ut-lvm</name><source><device path='/dev/vdz'/></source>"
                 "<target><path>%s</path></target></pool>",
                 dir);
        virStoragePoolPtr lpool = virStoragePoolCreateXML(raw, xml, 0);
        assert_non_null(lpool);
        virStorageVolFree(
                virStorageVolCreateXML(ipool,
                                       "<volume><name>euler.qcow2</name><capacity unit='MiB'>1536</capacity>"
                                       "<target><format type='qcow2'/></target></volume>",
                                       0));
        virStorageVolFree(virStorageVolCreateXML(
                lpool, "<volume><name>euler-lv</name><capacity unit='MiB'>1536</capacity></volume>", 0));
        snprintf(path, sizeof(path), "%s/euler.qcow2", dir);
        write_file(path, bytes, sizeof(bytes));
        snprintf(path, sizeof(path), "%s/euler-lv", dir);
        write_file(path, bytes, sizeof(bytes));
        virStoragePoolPtr dpool = virStoragePoolLookupByName(raw, "cb-ut-images");
        assert_non_null(dpool);

        DriverConn *c = open_or_fail("test:///default");
        ProvisionSpec spec = spec_for("r-img");
        spec.pool = "cb-ut-images"; /* a real folder: the seed is written there */
        spec.os_image = "openeuler-22.03";
        spec.image_pool = "cb-ut-images";
        spec.image_volume = "euler.qcow2";
        spec.image_format = "qcow2";
        spec.image_digest_alg = "sha256";
        spec.image_digest = sha;
        spec.seed_meta_data = "instance-id: r-img\nlocal-hostname: web\n";
        spec.seed_user_data = "#cloud-config\n{}\n";
        _cleanup_(freep) char *ref = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref, &err), 0);

        /* The seed: a volume beside the disk, read-only to the guest. */
        _cleanup_(freep) char *seed = vol_xml(dpool, "cb-r-img-seed.iso");
        assert_non_null(seed);
        assert_non_null(strstr(seed, "<format type='raw'/>")); /* a dir pool's default */
        /* The inventory knows the seed as r-img's (stamped by its name), like
         * its disk, so the reconcile and GET .../inventory tie it to the VM. */
        {
                _cleanup_(driver_inventory_freep) DriverInventory *inv = NULL;
                int seen = 0;
                assert_int_equal(driver_inventory(lv, c, &inv, &err), 0);
                for (size_t i = 0; i < inv->n_items; i++)
                        if (inv->items[i].kind == DRIVER_OBJECT_VOLUME && inv->items[i].name &&
                            strcmp(inv->items[i].name, "cb-r-img-seed.iso") == 0) {
                                assert_true(inv->items[i].managed);
                                assert_string_equal(inv->items[i].stamp.resource_id, "r-img");
                                seen++;
                        }
                assert_int_equal(seen, 1);
        }

        /* Copy-on-write: a qcow2 of disk_gib over the image. */
        _cleanup_(freep) char *disk = vol_xml(dpool, "cb-r-img.img");
        assert_non_null(disk);
        snprintf(path, sizeof(path), "<path>%s/euler.qcow2</path>", dir);
        assert_non_null(strstr(disk, "<backingStore>"));
        assert_non_null(strstr(disk, path));
        assert_non_null(strstr(disk, "<capacity unit='bytes'>21474836480</capacity>"));
        assert_non_null(strstr(disk, "<format type='qcow2'/>"));
        virDomainPtr d = virDomainLookupByName(raw, "cb-r-img");
        assert_non_null(d);
        _cleanup_(freep) char *dxml = virDomainGetXMLDesc(d, 0);
        assert_non_null(strstr(dxml, "type='qcow2'"));
        virDomainFree(d);
        /* Idempotent: the disk is found again, not made twice. */
        _cleanup_(freep) char *ref2 = NULL;
        assert_int_equal(driver_provision(lv, c, &spec, &ref2, &err), 0);
        assert_string_equal(ref, ref2);
        /* A seed gone from the pool of a VM that is off is made again by the
         * provision's retry, which then starts the VM. */
        {
                virDomainPtr off = virDomainLookupByName(raw, "cb-r-img");
                assert_non_null(off);
                assert_int_equal(virDomainDestroy(off), 0);
                virStorageVolPtr sv = virStorageVolLookupByName(dpool, "cb-r-img-seed.iso");
                assert_non_null(sv);
                assert_int_equal(virStorageVolDelete(sv, 0), 0);
                virStorageVolFree(sv);
                assert_null(vol_xml(dpool, "cb-r-img-seed.iso"));
                _cleanup_(freep) char *ref3 = NULL;
                assert_int_equal(driver_provision(lv, c, &spec, &ref3, &err), 0);
                assert_string_equal(ref, ref3);
                _cleanup_(freep) char *again = vol_xml(dpool, "cb-r-img-seed.iso");
                assert_non_null(again);
                assert_int_equal(virDomainIsActive(off), 1);
                virDomainFree(off);
        }
        DriverRef r = { .resource_id = "r-img", .provider_ref = ref, .pool = "cb-ut-images" };
        assert_non_null(strstr(dxml, "volume='cb-r-img-seed.iso'"));
        assert_non_null(strstr(dxml, "<readonly/>"));
        assert_int_equal(driver_deprovision(lv, c, &r, &err), 0);
        assert_null(vol_xml(dpool, "cb-r-img.img"));
        assert_null(vol_xml(dpool, "cb-r-img-seed.iso"));

        /* A pool without backing files (a partitioned disk; the test driver
         * clones only within one pool): a full clone, raw. */
        ProvisionSpec cl = spec;
        cl.resource_id = "r-clone";
        cl.pool = "cb-ut-lvm";
        cl.image_pool = "cb-ut-lvm";
        cl.image_volume = "euler-lv";
        cl.image_format = "raw";
        _cleanup_(freep) char *cref = NULL;
        int q = driver_provision(lv, c, &cl, &cref, &err);
        if (q < 0)
                fail_msg("clone: %s", err.message);
        _cleanup_(freep) char *clone = vol_xml(lpool, "cb-r-clone.img");
        assert_non_null(clone);
        assert_null(strstr(clone, "<backingStore>"));
        d = virDomainLookupByName(raw, "cb-r-clone");
        assert_non_null(d);
        _cleanup_(freep) char *cxml = virDomainGetXMLDesc(d, 0);
        assert_non_null(strstr(cxml, "type='raw'"));
        assert_null(strstr(cxml, "type='qcow2'"));
        virDomainFree(d);
        DriverRef rc = { .resource_id = "r-clone", .provider_ref = cref, .pool = "cb-ut-lvm" };
        assert_int_equal(driver_deprovision(lv, c, &rc, &err), 0);

        /* The image is never written. */
        snprintf(path, sizeof(path), "%s/euler.qcow2", dir);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        unsigned char back[sizeof(bytes) + 1];
        size_t n = fread(back, 1, sizeof(back), f);
        fclose(f);
        assert_int_equal(n, sizeof(bytes));
        assert_int_equal(digest_hex("sha256", back, n, after), 0);
        assert_string_equal(after, sha);

        /* A changed image (another digest on record) is refused; nothing is made. */
        memcpy(bad, sha, sizeof(bad));
        bad[0] = bad[0] == '0' ? '1' : '0';
        ProvisionSpec ch = spec;
        ch.resource_id = "r-changed";
        ch.image_digest = bad;
        char *none = NULL;
        assert_int_equal(driver_provision(lv, c, &ch, &none, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "os_image");
        assert_non_null(strstr(err.message, "changed since it was registered"));
        assert_null(none);
        assert_null(vol_xml(dpool, "cb-r-changed.img"));
        assert_null(virDomainLookupByName(raw, "cb-r-changed"));
        cb_error_clear(&err);

        ch.image_digest = sha;
        ch.image_volume = "gone.qcow2";
        assert_int_equal(driver_provision(lv, c, &ch, &none, &err), -EINVAL);
        assert_string_equal(err.field, "os_image");
        cb_error_clear(&err);
        ch.image_volume = "euler.qcow2";
        ch.disk_gib = 1;
        assert_int_equal(driver_provision(lv, c, &ch, &none, &err), -EINVAL);
        assert_string_equal(err.field, "disk_gib");
        assert_null(vol_xml(dpool, "cb-r-changed.img"));
        assert_null(virDomainLookupByName(raw, "cb-r-changed"));
        cb_error_clear(&err);

        /* The digest cache: the image read by the provisions above is not
         * read again while its fingerprint stands; rewritten in place (same
         * size: only its mtime and ctime move), it is read again, and the
         * digest on record no longer matches. */
        DriverImageInfo info;
        assert_int_equal(driver_image_inspect(lv, c, "cb-ut-images", "euler.qcow2", "sha256", &info, &err),
                         0);
        assert_true(info.from_cache);
        assert_string_equal(info.digest, sha);
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = (unsigned char)(i * 17 + 3);
        snprintf(path, sizeof(path), "%s/euler.qcow2", dir);
        write_file(path, bytes, sizeof(bytes));
        assert_int_equal(driver_image_inspect(lv, c, "cb-ut-images", "euler.qcow2", "sha256", &info, &err),
                         0);
        assert_false(info.from_cache);
        assert_int_equal(info.read_bytes, sizeof(bytes));
        assert_string_not_equal(info.digest, sha);
        ch = spec;
        ch.resource_id = "r-rewritten";
        assert_int_equal(driver_provision(lv, c, &ch, &none, &err), -EINVAL);
        assert_string_equal(err.field, "os_image");
        assert_non_null(strstr(err.message, "changed since it was registered"));
        assert_null(virDomainLookupByName(raw, "cb-r-rewritten"));
        cb_error_clear(&err);
        /* The new content is what is remembered now. */
        assert_int_equal(driver_image_inspect(lv, c, "cb-ut-images", "euler.qcow2", "sha256", &info, &err),
                         0);
        assert_true(info.from_cache);
        assert_string_not_equal(info.digest, sha);

        driver_close(lv, c);
        virStoragePoolFree(dpool);
        virStoragePoolDestroy(ipool);
        virStoragePoolDestroy(lpool);
        virStoragePoolFree(ipool);
        virStoragePoolFree(lpool);
        virConnectClose(raw);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        char path[PATH_MAX];
        if (!realpath("etc/test-node.xml", path)) {
                fprintf(stderr, "etc/test-node.xml not found: run from the repository root\n");
                return 1;
        }
        snprintf(node_uri, sizeof(node_uri), "test://%s", path);
        lv = driver_find("libvirt");
        CbError err = CB_ERROR_INIT;
        if (!lv || driver_global_init(&err) < 0) {
                fprintf(stderr, "driver init: %s\n", err.message);
                return 1;
        }

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lifecycle_on_node_file),
                cmocka_unit_test(test_resize),
                cmocka_unit_test(test_refuses_unstamped),
                cmocka_unit_test(test_capacity_and_validation),
                cmocka_unit_test(test_unreachable_uri),
                cmocka_unit_test(test_connect_timeout),
                cmocka_unit_test(test_volume_on_shared_default),
                cmocka_unit_test(test_events),
                cmocka_unit_test(test_concurrent_workers),
                cmocka_unit_test(test_volume_resource),
                cmocka_unit_test(test_unsupported_operations),
                cmocka_unit_test(test_ping),
                cmocka_unit_test(test_assess_domain),
                cmocka_unit_test(test_image_inspect),
                cmocka_unit_test(test_system_disk_from_image),
                cmocka_unit_test(test_inventory_disks),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        driver_global_shutdown();
        return r;
}
