/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed records of providers, inventories and the audit trail, and
 * their one serializer each (rest-records.c): the snapshot of a provider
 * keeps no password and fills in the driver's defaults, every shape comes
 * out with its members in the documented order, the done and free
 * functions take NULL, and audit_list pages by sequence number.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attachments.h"
#include "audit.h"
#include "bindings.h"
#include "driver.h"
#include "providers.h"
#include "resources.h"
#include "rest-records.h"

static char tmpdir[] = "/tmp/cbrecords.XXXXXX";

/* The compact text of v (consumed), as the faces send it. */
static char *text_of(json_t *v) {
        char *text;
        assert_non_null(v);
        text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(v);
        assert_non_null(text);
        return text;
}

static void assert_text(json_t *v, const char *want) {
        char *got = text_of(v);
        assert_string_equal(got, want);
        free(got);
}

/* An http provider as the registry holds it, password and all. */
static void test_provider_record_has_no_password(void **state) {
        (void)state;
        char name[] = "osb", driver[] = "http", uri[] = "http://127.0.0.1:9/", user[] = "cb",
             password[] = "s3cret-never-shown";
        Provider p = { .name = name,
                       .driver = driver,
                       .uri = uri,
                       .ops = driver_find("http"),
                       .status = PROVIDER_CONNECTED,
                       .username = user,
                       .password = password };
        ProviderRecord rec = { 0 };
        char *text;

        assert_non_null(p.ops);
        p.offered = json_pack("{s:[{s:s, s:[{s:s}, {s:s}]}]}", "services", "id", "redis", "plans", "id",
                              "small", "id", "large");
        assert_non_null(p.offered);
        snprintf(p.catalog_read_at, sizeof(p.catalog_read_at), "2026-12-02T04:00:00Z");
        assert_int_equal(provider_record(&p, &rec), 0);
        /* The driver's defaults, written out. */
        assert_string_equal(rec.api_version, "2.17");
        assert_int_equal(rec.timeout_s, 30);
        assert_true(rec.http);
        assert_false(rec.has_domain_type);
        text = text_of(rest_provider_json(&rec));
        assert_null(strstr(text, "s3cret"));
        assert_null(strstr(text, "password"));
        assert_string_equal(text, "{\"name\":\"osb\",\"driver\":\"http\",\"uri\":\"http://127.0.0.1:9/\","
                                  "\"status\":\"connected\",\"source\":\"api\",\"managed_only\":false,"
                                  "\"api_version\":\"2.17\",\"username\":\"cb\",\"timeout_seconds\":30,"
                                  "\"offered\":[{\"id\":\"redis\",\"plans\":[\"small\",\"large\"]}],"
                                  "\"catalog_read_at\":\"2026-12-02T04:00:00Z\"}");
        free(text);
        provider_record_done(&rec);
        json_decref(p.offered);
}

/* A libvirt provider with a reading: the capacity less the reservations. */
static void test_provider_record_capacity(void **state) {
        (void)state;
        char name[] = "kvm1", driver[] = "libvirt", uri[] = "test:///default", pool[] = "images";
        Provider p = { .name = name,
                       .driver = driver,
                       .uri = uri,
                       .ops = driver_find("libvirt"),
                       .domain_type = DRIVER_DOMAIN_QEMU,
                       .image_pool = pool,
                       .from_config = true,
                       .status = PROVIDER_LOST,
                       .capacity_valid = true,
                       .capacity = { .total_vcpus = 8,
                                     .free_vcpus = 8,
                                     .total_memory_mib = 8192,
                                     .free_memory_mib = 8192,
                                     .running = 1,
                                     .n_pools = 2,
                                     .pools_complete = true },
                       .reserved_vcpus = 2,
                       .reserved_memory_mib = 1024,
                       .unread = { .vcpus = 1, .memory_mib = 512 } };
        ProviderRecord rec = { 0 };

        snprintf(p.last_error, sizeof(p.last_error), "connection lost");
        snprintf(p.capacity.pools[0], sizeof(p.capacity.pools[0]), "default");
        snprintf(p.capacity.pools[1], sizeof(p.capacity.pools[1]), "images");
        assert_int_equal(provider_record(&p, &rec), 0);
        assert_int_equal(rec.free_vcpus, provider_free_vcpus(&p));
        assert_text(
                rest_provider_json(&rec),
                "{\"name\":\"kvm1\",\"driver\":\"libvirt\",\"uri\":\"test:///default\",\"status\":\"lost\","
                "\"source\":\"config\",\"domain_type\":\"qemu\",\"image_pool\":\"images\",\"managed_only\":"
                "false,\"error\":\"connection lost\",\"capacity\":{\"total_vcpus\":8,\"free_vcpus\":5,"
                "\"total_memory_mib\":8192,\"free_memory_mib\":6656,\"running\":1,\"reserved_vcpus\":3,"
                "\"reserved_memory_mib\":1536,\"pools\":[\"default\",\"images\"]}}");

        /* An incomplete pool list is not shown as if it were all. */
        rec.has_pools = false;
        assert_text(
                rest_provider_json(&rec),
                "{\"name\":\"kvm1\",\"driver\":\"libvirt\",\"uri\":\"test:///default\",\"status\":\"lost\","
                "\"source\":\"config\",\"domain_type\":\"qemu\",\"image_pool\":\"images\",\"managed_only\":"
                "false,\"error\":\"connection lost\",\"capacity\":{\"total_vcpus\":8,\"free_vcpus\":5,"
                "\"total_memory_mib\":8192,\"free_memory_mib\":6656,\"running\":1,\"reserved_vcpus\":3,"
                "\"reserved_memory_mib\":1536}}");

        ProviderList l = { .v = &rec, .n = 1 };
        char *text = text_of(rest_provider_list_json(&l));
        assert_int_equal(text[0], '[');
        assert_non_null(strstr(text, "\"name\":\"kvm1\""));
        free(text);
        provider_record_done(&rec);
}

static void test_done_takes_null_and_zero(void **state) {
        (void)state;
        ProviderRecord rec = { 0 };
        ProviderList pl = { 0 };
        AuditList al = { 0 };

        provider_record_done(NULL);
        provider_list_done(NULL);
        audit_list_done(NULL);
        assert_null(inventory_free(NULL));
        /* A zeroed one, and one done twice. */
        provider_record_done(&rec);
        provider_record_done(&rec);
        provider_list_done(&pl);
        audit_list_done(&al);
        audit_list_done(&al);
        assert_text(rest_provider_list_json(&pl), "[]");
        assert_text(rest_audit_list_json(&al), "[]");
}

static void test_inventory_json(void **state) {
        (void)state;
        Inventory *inv = calloc(1, sizeof(*inv));
        assert_non_null(inv);
        inv->provider = strdup("dev-test");
        inv->v = calloc(3, sizeof(*inv->v));
        assert_non_null(inv->v);
        inv->n = 3;
        inv->v[0] = (InventoryItem){ .kind = DRIVER_OBJECT_VOLUME,
                                     .name = strdup("cb-vol-1"),
                                     .size_gib = 20,
                                     .managed = true,
                                     .resource_id = strdup("r-vol"),
                                     .attached_to = strdup("r-vm"),
                                     .attachment_state = ATTACHMENT_ATTACHED };
        inv->v[1] = (InventoryItem){ .kind = DRIVER_OBJECT_VM,
                                     .name = strdup("legacy"),
                                     .provider_ref = strdup("uuid-1"),
                                     .state = DRIVER_STATE_SHUTOFF,
                                     .vcpus = 2,
                                     .memory_mib = 4096 };
        inv->v[2] = (InventoryItem){ .kind = DRIVER_OBJECT_VOLUME, .name = strdup("stray"), .size_gib = 1 };
        /* Domains and volumes apart, each in the provider's order; what no
         * approval covers carries the Art. 10 finding. */
        assert_text(
                rest_inventory_json(inv),
                "{\"provider\":\"dev-test\",\"domains\":[{\"name\":\"legacy\",\"provider_ref\":\"uuid-1\","
                "\"state\":\"shutoff\",\"vcpus\":2,\"memory_mib\":4096,\"managed\":false,\"resource_id\":"
                "null,"
                "\"violation\":{\"code\":\"UNMANAGED_RESOURCE\",\"article\":10,\"message\":\"no approval "
                "covers this object\"}}],\"volumes\":[{\"name\":\"cb-vol-1\",\"provider_ref\":null,"
                "\"size_gib\":20,\"managed\":true,\"resource_id\":\"r-vol\",\"attached_to\":\"r-vm\","
                "\"attachment_state\":\"attached\",\"provider_attachments\":[],\"attachment_drift\":[]},{"
                "\"name\":\"stray\",\"provider_ref\":null,\"size_gib\":1,"
                "\"managed\":false,\"resource_id\":null,\"violation\":{\"code\":\"UNMANAGED_RESOURCE\","
                "\"article\":10,\"message\":\"no approval covers this object\"}}]}");
        inventory_free(inv);
}

static void append(Store *s, const char *object) {
        CbError err = CB_ERROR_INIT;
        json_auto_t *codes = json_pack("[s]", "CODE");
        json_auto_t *detail = json_pack("{s:i}", "n", 1);
        assert_int_equal(
                audit_append(s, NULL, &(AuditEntry){ "test.append", object, "ok", codes, detail }, &err), 0);
}

/* The seq numbers of a page, comma-separated. */
static void assert_page(Store *s, int64_t after, unsigned limit, const char *want) {
        Principal auditor = { .name = (char *)"a", .roles = CB_ROLE_AUDITOR };
        CbCaller caller = { &auditor, "test" };
        CbError err = CB_ERROR_INIT;
        AuditList l = { 0 };
        char got[64] = "";
        size_t n = 0;

        assert_int_equal(audit_list(s, &caller, after, limit, &l, &err), 0);
        for (size_t i = 0; i < l.n; i++)
                n += snprintf(got + n, sizeof(got) - n, "%s%lld", i ? "," : "", (long long)l.v[i].seq);
        assert_string_equal(got, want);
        audit_list_done(&l);
}

static void test_audit_pages_and_shape(void **state) {
        (void)state;
        Principal auditor = { .name = (char *)"a", .roles = CB_ROLE_AUDITOR };
        CbCaller caller = { &auditor, "test" };
        CbError err = CB_ERROR_INIT;
        AuditList l = { 0 };
        Store *s = NULL;
        char *path = NULL, *text;

        assert_true(asprintf(&path, "%s/pages.db", tmpdir) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        for (int i = 0; i < 5; i++)
                append(s, "object:p");
        assert_page(s, 0, 2, "1,2");
        assert_page(s, 2, 2, "3,4");
        assert_page(s, 4, 2, "5");
        assert_page(s, 5, 2, "");
        assert_page(s, 0, AUDIT_LIST_MAX, "1,2,3,4,5");

        assert_int_equal(audit_list(s, &caller, 0, 1, &l, &err), 0);
        assert_int_equal(l.n, 1);
        text = text_of(rest_audit_record_json(&l.v[0]));
        /* Members in the trail's column order; the hashes are the chain's. */
        char want[1024];
        snprintf(want, sizeof(want),
                 "{\"seq\":1,\"at\":\"%s\",\"principal\":\"system\",\"face\":\"system\",\"action\":"
                 "\"test.append\",\"object\":\"object:p\",\"outcome\":\"ok\",\"codes\":[\"CODE\"],\"detail\":"
                 "{\"n\":1},\"prev_hash\":\"%s\",\"hash\":\"%s\"}",
                 l.v[0].at, l.v[0].prev_hash, l.v[0].hash);
        assert_string_equal(text, want);
        assert_int_equal(strlen(l.v[0].hash), 64);
        free(text);
        audit_list_done(&l);
        assert_null(l.v);
        store_free(s);
        unlink(path);
        free(path);
}

static void test_audit_verify_json(void **state) {
        (void)state;
        AuditVerifyResult v = { .ok = true,
                                .records = 12,
                                .head_seq = 12,
                                .checkpoints = 3,
                                .signed_seq = 10,
                                .signatures = AUDIT_SIGNATURES_VERIFIED };

        snprintf(v.head, sizeof(v.head), "abc");
        assert_text(audit_verify_result_to_json(&v),
                    "{\"ok\":true,\"records\":12,\"head\":\"abc\",\"head_seq\":12,\"checkpoints\":3,"
                    "\"signatures\":\"verified\",\"signed_seq\":10}");

        v.ok = false;
        v.signatures = AUDIT_SIGNATURES_NOT_CHECKED;
        v.first_bad = (AuditProblem){ .problem = "deleted", .seq = 9, .through = 12, .checkpoint = 2 };
        snprintf(v.first_bad.message, sizeof(v.first_bad.message), "records 9..12 were deleted");
        v.has_state = true;
        v.state = AUDIT_STATE_FAILED;
        assert_text(audit_verify_result_to_json(&v),
                    "{\"ok\":false,\"records\":12,\"head\":\"abc\",\"head_seq\":12,\"checkpoints\":3,"
                    "\"signatures\":\"not checked\",\"signed_seq\":10,\"first_bad\":{\"seq\":9,\"problem\":"
                    "\"deleted\",\"message\":\"records 9..12 were deleted\",\"through\":12,\"checkpoint\":2},"
                    "\"audit\":\"failed\"}");

        /* One record, no checkpoint: neither member. */
        v.first_bad.through = 0;
        v.first_bad.checkpoint = 0;
        v.has_state = false;
        v.signatures = AUDIT_SIGNATURES_NONE;
        assert_text(audit_verify_result_to_json(&v),
                    "{\"ok\":false,\"records\":12,\"head\":\"abc\",\"head_seq\":12,\"checkpoints\":3,"
                    "\"signatures\":\"none\",\"signed_seq\":10,\"first_bad\":{\"seq\":9,\"problem\":"
                    "\"deleted\",\"message\":\"records 9..12 were deleted\"}}");
        assert_null(audit_signatures_to_string(_AUDIT_SIGNATURES_MAX));
}

static void test_volume_attachments_json(void **state) {
        (void)state;
        VolumeAttachmentList l = { 0 };
        char vol[] = "r-vol", target[] = "vdb", at[] = "2026-12-02T04:00:00Z";
        VolumeAttachment v = {
                .volume_id = vol, .target = target, .state = ATTACHMENT_DETACHING, .attached_at = at
        };

        volume_attachment_list_done(NULL);
        volume_attachment_list_done(&l);
        assert_text(rest_volume_attachment_list_json(&l), "[]");
        l = (VolumeAttachmentList){ .v = &v, .n = 1 };
        assert_text(rest_volume_attachment_list_json(&l),
                    "[{\"volume_id\":\"r-vol\",\"target\":\"vdb\",\"state\":\"detaching\",\"attached_at\":"
                    "\"2026-12-02T04:00:00Z\"}]");
}

/* The addresses a driver answers come out of the record in the same
 * bytes (what the REST record, the live read and the D-Bus property showed
 * when they passed the driver's JSON on), null members included; another
 * shape is refused, not half-read. */
static void test_vm_addresses_json(void **state) {
        static const char driver[] =
                "[{\"name\":\"vnet0\",\"mac\":\"52:54:00:aa:bb:cc\",\"addresses\":[{\"type\":\"ipv4\","
                "\"address\":\"192.168.122.10\",\"prefix\":24},{\"type\":\"ipv6\",\"address\":"
                "\"fe80::1\",\"prefix\":64}]},{\"name\":null,\"mac\":null,\"addresses\":[{\"type\":"
                "\"unknown\",\"address\":null,\"prefix\":0}]},{\"name\":\"lo\",\"mac\":\"00:00:00:00:00:00\","
                "\"addresses\":[]}]";
        json_auto_t *in = json_loads(driver, 0, NULL);
        json_auto_t *bad = json_loads("[{\"name\":\"vnet0\",\"addresses\":[{\"prefix\":\"24\"}]}]", 0, NULL);
        json_auto_t *obj = json_loads("{}", 0, NULL);
        VmAddressList *l = NULL, *m = NULL;
        (void)state;

        assert_null(vm_address_list_free(NULL));
        assert_int_equal(vm_address_list_from_json(in, &l), 0);
        assert_int_equal(l->n, 3);
        assert_int_equal(l->items[0].addresses[1].type, VM_ADDRESS_IPV6);
        assert_null(l->items[1].name);
        assert_null(l->items[1].addresses[0].address);
        assert_text(rest_vm_address_list_json(l), driver);
        assert_text(
                rest_vm_address_read_json(&(VmAddressRead){ "r-1", "2026-12-02T04:00:00Z", l }),
                "{\"resource_id\":\"r-1\",\"addresses\":[{\"name\":\"vnet0\",\"mac\":"
                "\"52:54:00:aa:bb:cc\",\"addresses\":[{\"type\":\"ipv4\",\"address\":\"192.168.122.10\","
                "\"prefix\":24},{\"type\":\"ipv6\",\"address\":\"fe80::1\",\"prefix\":64}]},{\"name\":null,"
                "\"mac\":null,\"addresses\":[{\"type\":\"unknown\",\"address\":null,\"prefix\":0}]},"
                "{\"name\":\"lo\",\"mac\":\"00:00:00:00:00:00\",\"addresses\":[]}],\"read_at\":"
                "\"2026-12-02T04:00:00Z\"}");
        assert_int_equal(vm_address_list_from_json(in, &m), 0);
        assert_true(vm_address_list_equal(l, m));
        m->items[0].addresses[0].prefix = 16;
        assert_false(vm_address_list_equal(l, m));
        m = vm_address_list_free(m);

        assert_int_equal(vm_address_list_from_json(bad, &m), -EINVAL);
        assert_int_equal(vm_address_list_from_json(obj, &m), -EINVAL);
        assert_int_equal(vm_address_list_from_json(NULL, &m), -EINVAL);
        assert_null(m);
        vm_address_list_free(l);
}

/* A closing answers what POST .../close and Billing.CloseStatement always
 * answered: the files in the order stored, the whole city's as "". */
static void test_billing_closing_json(void **state) {
        char period[] = "2024-02", at[] = "2024-03-01T00:00:05Z", by[] = "dev-finance", alg[] = "ed25519",
             key[] = "k1", all[] = "", edu[] = "edu";
        BillingClosedFile files[] = {
                { .department = all, .csv = true, .sm3 = "aa" },
                { .department = all, .csv = false, .sm3 = "bb" },
                { .department = edu, .csv = true, .sm3 = "cc" },
        };
        BillingClosing c = { period, at, by, alg, key, files, ELEMENTSOF(files) };
        (void)state;

        assert_null(billing_closing_free(NULL));
        assert_text(rest_billing_closing_json(&c),
                    "{\"period\":\"2024-02\",\"closed_at\":\"2024-03-01T00:00:05Z\",\"closed_by\":"
                    "\"dev-finance\",\"alg\":\"ed25519\",\"key_id\":\"k1\",\"files\":[{\"department\":"
                    "\"\",\"format\":\"csv\",\"sm3\":\"aa\"},{\"department\":\"\",\"format\":\"json\","
                    "\"sm3\":\"bb\"},{\"department\":\"edu\",\"format\":\"csv\",\"sm3\":\"cc\"}]}");
}

/* A binding answers what every face answered when the core handed out
 * JSON (the bytes below are from test-http-bindings.sh's answers):
 * optional members absent rather than null, credentials and parameters
 * only when the record holds them, a list in its order. */
static void test_service_bindings_json(void **state) {
        char id[] = "sb-a3efdeab0324ce8b", key[] = "app-1", rid[] = "r-ed2655db21673872", by[] = "dev-edu",
             at[] = "2026-12-02T17:35:37Z", later[] = "2026-12-02T17:35:38Z", why[] = "the provider failed";
        json_auto_t *creds =
                json_loads("{\"host\":\"127.0.0.1\",\"port\":3306,\"password\":\"s3cret\"}", 0, NULL);
        json_auto_t *params = json_loads("{\"app_name\":\"resumed-app\"}", 0, NULL);
        ServiceBinding v[] = {
                { .id = id,
                  .binding_key = key,
                  .resource_id = rid,
                  .created_by = by,
                  .created_at = at,
                  .updated_at = at,
                  .state = BINDING_BOUND,
                  .credentials = creds,
                  .parameters = params },
                { .id = id,
                  .binding_key = key,
                  .resource_id = rid,
                  .created_by = by,
                  .created_at = at,
                  .updated_at = later,
                  .deleted_at = later,
                  .state = BINDING_UNBOUND },
                { .id = id,
                  .binding_key = key,
                  .resource_id = rid,
                  .created_by = by,
                  .created_at = at,
                  .updated_at = at,
                  .error = why,
                  .state = BINDING_FAILED },
        };
        ServiceBindingList l = { .items = v, .n = ELEMENTSOF(v) }, none = { 0 };
        json_t *all;
        (void)state;

        assert_null(service_binding_list_free(NULL));
        assert_text(rest_service_binding_json(&v[0]),
                    "{\"id\":\"sb-a3efdeab0324ce8b\",\"binding_id\":\"app-1\",\"resource_id\":"
                    "\"r-ed2655db21673872\",\"state\":\"bound\",\"created_by\":\"dev-edu\",\"created_at\":"
                    "\"2026-12-02T17:35:37Z\",\"updated_at\":\"2026-12-02T17:35:37Z\",\"credentials\":"
                    "{\"host\":\"127.0.0.1\",\"port\":3306,\"password\":\"s3cret\"},\"parameters\":"
                    "{\"app_name\":\"resumed-app\"}}");
        assert_text(rest_service_binding_list_json(&none), "[]");
        assert_text(rest_service_binding_list_json(&(ServiceBindingList){ .items = v + 1, .n = 2 }),
                    "[{\"id\":\"sb-a3efdeab0324ce8b\",\"binding_id\":\"app-1\",\"resource_id\":"
                    "\"r-ed2655db21673872\",\"state\":\"unbound\",\"created_by\":\"dev-edu\",\"created_at\":"
                    "\"2026-12-02T17:35:37Z\",\"updated_at\":\"2026-12-02T17:35:38Z\",\"deleted_at\":"
                    "\"2026-12-02T17:35:38Z\"},{\"id\":\"sb-a3efdeab0324ce8b\",\"binding_id\":\"app-1\","
                    "\"resource_id\":\"r-ed2655db21673872\",\"state\":\"failed\",\"error\":\"the provider "
                    "failed\",\"created_by\":\"dev-edu\",\"created_at\":\"2026-12-02T17:35:37Z\","
                    "\"updated_at\":\"2026-12-02T17:35:37Z\"}]");
        all = rest_service_binding_list_json(&l);
        assert_int_equal(json_array_size(all), 3);
        json_decref(all);
        /* The serializer borrows: the record still owns what it holds. */
        assert_int_equal(creds->refcount, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_provider_record_has_no_password),
                cmocka_unit_test(test_provider_record_capacity),
                cmocka_unit_test(test_done_takes_null_and_zero),
                cmocka_unit_test(test_inventory_json),
                cmocka_unit_test(test_audit_pages_and_shape),
                cmocka_unit_test(test_audit_verify_json),
                cmocka_unit_test(test_volume_attachments_json),
                cmocka_unit_test(test_vm_addresses_json),
                cmocka_unit_test(test_billing_closing_json),
                cmocka_unit_test(test_service_bindings_json),
        };
        int r;

        assert_non_null(mkdtemp(tmpdir));
        r = cmocka_run_group_tests(tests, NULL, NULL);
        rmdir(tmpdir);
        return r;
}
