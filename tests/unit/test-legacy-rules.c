/* SPDX-License-Identifier: Apache-2.0 */
/* The pure rules of the legacy register (migration/): the state way, the
 * Art. 35 deadline on the working-day calendar, reading a source VM from
 * libvirt XML, the smallest fitting plan and the pre-flight concerns (the
 * other disks' volume plans and orders too), a plan's orders judged
 * together, and a move's cumulative progress. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calendar.h"
#include "legacy-fit.h"
#include "legacy-progress.h"
#include "legacy-rules.h"
#include "legacy-vm.h"

static void test_transitions(void **state) {
        (void)state;
        /* The main line, step by step. */
        for (int s = LEGACY_REGISTERED; s < LEGACY_DECOMMISSIONED; s++)
                assert_true(legacy_transition_allowed((LegacyState)s, (LegacyState)(s + 1)));
        /* No skipping ahead, no way back from the end, no moving an exempt system. */
        assert_false(legacy_transition_allowed(LEGACY_REGISTERED, LEGACY_PLANNED));
        assert_false(legacy_transition_allowed(LEGACY_ASSESSED, LEGACY_MIGRATING));
        assert_false(legacy_transition_allowed(LEGACY_PLANNED, LEGACY_VERIFIED));
        assert_false(legacy_transition_allowed(LEGACY_DECOMMISSIONED, LEGACY_REGISTERED));
        assert_false(legacy_transition_allowed(LEGACY_EXEMPT, LEGACY_ASSESSED));
        assert_false(legacy_transition_allowed(LEGACY_VERIFIED, LEGACY_FAILED));
        /* Moving systems cannot be exempted; one not yet moving can. */
        assert_false(legacy_transition_allowed(LEGACY_MIGRATING, LEGACY_EXEMPT));
        assert_false(legacy_transition_allowed(LEGACY_CUT_OVER, LEGACY_EXEMPT));
        assert_true(legacy_transition_allowed(LEGACY_PLANNED, LEGACY_EXEMPT));
        assert_true(legacy_transition_allowed(LEGACY_EXEMPT, LEGACY_REGISTERED));
        /* Fail anywhere before verified, retry from an earlier step. */
        for (int s = LEGACY_REGISTERED; s < LEGACY_VERIFIED; s++)
                assert_true(legacy_transition_allowed((LegacyState)s, LEGACY_FAILED));
        assert_true(legacy_transition_allowed(LEGACY_FAILED, LEGACY_PLANNED));
        assert_false(legacy_transition_allowed(LEGACY_FAILED, LEGACY_MIGRATING));
        assert_true(legacy_transition_allowed(LEGACY_ASSESSED, LEGACY_ASSESSED));
        assert_false(legacy_transition_allowed(LEGACY_PLANNED, LEGACY_PLANNED));
        assert_false(legacy_transition_allowed(_LEGACY_STATE_MAX, LEGACY_FAILED));
        assert_string_equal(legacy_state_to_string(LEGACY_CUT_OVER), "cut-over");
        assert_int_equal(legacy_hosting_from_string("industry-cloud"), LEGACY_HOSTING_INDUSTRY_CLOUD);
        assert_int_equal(legacy_hosting_from_string("cloud"), -EINVAL);
}

static Calendar *calendar_2026(void) {
        Calendar *c = NULL;
        CbError err = CB_ERROR_INIT;
        assert_int_equal(calendar_new(&c), 0);
        assert_int_equal(calendar_load_file(c, "etc/calendar/2026.txt", &err), 0);
        return c;
}

static void test_deadline(void **state) {
        Calendar *c = calendar_2026();
        char due[DATE_LEN + 1];
        bool prov = true;
        LegacyOverdue o;
        (void)state;

        /* A Wednesday is its own due day. */
        assert_int_equal(legacy_deadline_due(c, "2026-06-03", due, &prov), 0);
        assert_string_equal(due, "2026-06-03");
        assert_false(prov);
        /* Saturday 2026-06-06 carries to Monday 06-08. */
        assert_int_equal(legacy_deadline_due(c, "2026-06-06", due, &prov), 0);
        assert_string_equal(due, "2026-06-08");
        /* New Year's Day 2026 (Thursday, a holiday to 01-03) carries to Sunday 01-04, an adjusted workday. */
        assert_int_equal(legacy_deadline_due(c, "2026-01-01", due, &prov), 0);
        assert_string_equal(due, "2026-01-04");
        /* Spring Festival 02-15..02-23 carries to Tuesday 02-24. */
        assert_int_equal(legacy_deadline_due(c, "2026-02-16", due, &prov), 0);
        assert_string_equal(due, "2026-02-24");
        /* A year without a file is Monday to Friday, provisional. */
        assert_int_equal(legacy_deadline_due(c, "2031-05-03", due, &prov), 0);
        assert_string_equal(due, "2031-05-05");
        assert_true(prov);
        assert_int_equal(legacy_deadline_due(c, "2026-02-30", due, &prov), -EINVAL);

        /* Overdue the day after the due day, counting calendar days. */
        assert_int_equal(legacy_overdue(c, LEGACY_PLANNED, "2026-02-16", "2026-02-24", &o), 0);
        assert_false(o.overdue);
        assert_int_equal(o.days_overdue, 0);
        assert_int_equal(legacy_overdue(c, LEGACY_PLANNED, "2026-02-16", "2026-02-25", &o), 0);
        assert_true(o.overdue);
        assert_int_equal(o.days_overdue, 1);
        assert_string_equal(o.due, "2026-02-24");
        assert_int_equal(legacy_overdue(c, LEGACY_REGISTERED, "2026-06-03", "2027-06-03", &o), 0);
        assert_true(o.overdue);
        assert_int_equal(o.days_overdue, 365);
        /* Verified, decommissioned or exempt: never overdue. */
        assert_int_equal(legacy_overdue(c, LEGACY_VERIFIED, "2026-06-03", "2027-06-03", &o), 0);
        assert_false(o.overdue);
        assert_int_equal(legacy_overdue(c, LEGACY_DECOMMISSIONED, "2026-06-03", "2027-06-03", &o), 0);
        assert_false(o.overdue);
        assert_int_equal(legacy_overdue(c, LEGACY_EXEMPT, "2026-06-03", "2027-06-03", &o), 0);
        assert_false(o.overdue);
        /* Failed or cut over but not verified still counts. */
        assert_int_equal(legacy_overdue(c, LEGACY_CUT_OVER, "2026-06-03", "2026-06-04", &o), 0);
        assert_true(o.overdue);
        assert_int_equal(legacy_overdue(c, LEGACY_FAILED, "2026-06-03", "not-a-date", &o), -EINVAL);
        assert_int_equal(legacy_days_between("2024-02-28", "2024-03-01"), 2);
        assert_int_equal(legacy_days_between("2026-03-01", "2026-02-28"), -1);
        calendar_free(c);
}

static const char domain_xml[] =
        "<domain type='kvm'>"
        "  <name>oa-db</name><uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>"
        "  <memory unit='GiB'>6</memory><vcpu placement='static'>3</vcpu>"
        "  <os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
        "  <devices>"
        "    <emulator>/usr/bin/qemu-system-x86_64</emulator>"
        "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "      <source file='/var/lib/libvirt/images/oa-db.qcow2'/><target dev='vda' bus='virtio'/></disk>"
        "    <disk type='volume' device='disk'><driver name='qemu' type='vmdk'/>"
        "      <source pool='legacy' volume='oa-data.vmdk'/><target dev='vdb' bus='virtio'/></disk>"
        "    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>"
        "    <interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='dmz'/>"
        "      <model type='virtio'/></interface>"
        "    <interface type='bridge'><mac address='52:54:00:aa:bb:02'/><source bridge='br0'/></interface>"
        "    <hostdev mode='subsystem' type='pci'/>"
        "    <sound model='ich9'/>"
        "    <video><model type='qxl'/></video>"
        "  </devices>"
        "</domain>";

static void test_vm_parse(void **state) {
        LegacyVm *vm = calloc(1, sizeof(*vm));
        CbError err = CB_ERROR_INIT;
        (void)state;

        assert_int_equal(legacy_vm_parse(domain_xml, vm, &err), 0);
        assert_string_equal(vm->name, "oa-db");
        assert_string_equal(vm->uuid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_int_equal(vm->vcpus, 3);
        assert_int_equal(vm->memory_mib, 6144);
        assert_string_equal(vm->firmware, "efi");
        assert_string_equal(vm->arch, "x86_64");
        assert_string_equal(vm->machine, "pc-q35-7.2");
        assert_int_equal(vm->n_disks, 3);
        assert_string_equal(vm->disks[0].format, "qcow2");
        assert_string_equal(vm->disks[0].source, "/var/lib/libvirt/images/oa-db.qcow2");
        assert_string_equal(vm->disks[1].source, "legacy/oa-data.vmdk");
        assert_string_equal(vm->disks[2].device, "cdrom");
        assert_string_equal(vm->disks[2].source, "");
        assert_int_equal(vm->n_nics, 2);
        assert_string_equal(vm->nics[0].mac, "52:54:00:aa:bb:01");
        assert_string_equal(vm->nics[0].source, "dmz");
        assert_string_equal(vm->nics[1].source, "br0");
        assert_string_equal(vm->nics[1].model, "");
        assert_int_equal(vm->n_devices, 3);
        assert_string_equal(vm->devices[0].kind, "hostdev");
        assert_string_equal(vm->devices[0].type, "pci");
        assert_string_equal(vm->devices[1].type, "ich9");
        assert_string_equal(vm->devices[2].type, "qxl");
        assert_false(vm->disks[0].sized);

        /* Sizes come from the volume. */
        assert_int_equal(legacy_vm_add_volume(vm, 0,
                                              "<volume><name>oa-db.qcow2</name>"
                                              "<capacity unit='bytes'>21474836480</capacity>"
                                              "<allocation unit='KiB'>1048576</allocation>"
                                              "<target><format type='qcow2'/></target></volume>",
                                              &err),
                         0);
        assert_true(vm->disks[0].sized);
        assert_int_equal(vm->disks[0].capacity_bytes, 21474836480ULL);
        assert_int_equal(vm->disks[0].allocation_bytes, 1073741824ULL);
        assert_int_equal(legacy_vm_disk_bytes(vm), 21474836480ULL);
        assert_int_equal(legacy_vm_add_volume(vm, 0, "<pool/>", &err), -EBADMSG);
        assert_int_equal(
                legacy_vm_add_volume(vm, 0, "<volume><capacity unit='parsec'>1</capacity></volume>", &err),
                -EBADMSG);
        assert_int_equal(legacy_vm_add_volume(vm, 9, "<volume/>", &err), -EINVAL);

        /* The JSON round trip keeps what planning needs. */
        json_t *j = legacy_vm_to_json(vm);
        LegacyVm *back = calloc(1, sizeof(*back));
        assert_non_null(j);
        assert_int_equal(legacy_vm_from_json(j, back), 0);
        assert_int_equal(back->vcpus, 3);
        assert_int_equal(back->memory_mib, 6144);
        assert_int_equal(back->n_disks, 3);
        assert_true(back->disks[0].sized);
        assert_false(back->disks[1].sized);
        assert_int_equal(back->disks[0].capacity_bytes, 21474836480ULL);
        assert_string_equal(back->power, "");
        assert_string_equal(back->nics[1].mac, "52:54:00:aa:bb:02");
        assert_string_equal(back->devices[0].kind, "hostdev");
        json_decref(j);
        free(back);
        free(vm);
}

static void test_vm_parse_refusals(void **state) {
        LegacyVm *vm = calloc(1, sizeof(*vm));
        CbError err = CB_ERROR_INIT;
        (void)state;

        assert_int_equal(legacy_vm_parse("<pool/>", vm, &err), -EBADMSG);
        assert_string_equal(err.field, "domain");
        assert_int_equal(legacy_vm_parse("<domain><name>x", vm, &err), -EBADMSG);
        assert_int_equal(legacy_vm_parse("<domain><name>x</name><memory>1024</memory></domain>", vm, &err),
                         -EBADMSG);
        assert_string_equal(err.field, "vcpu");
        assert_int_equal(
                legacy_vm_parse("<domain><name>x</name><vcpu>0</vcpu><memory>1</memory></domain>", vm, &err),
                -EBADMSG);
        assert_int_equal(
                legacy_vm_parse(
                        "<domain><name>x</name><vcpu>1</vcpu><memory unit='furlong'>1</memory></domain>", vm,
                        &err),
                -EBADMSG);
        assert_string_equal(err.field, "memory");
        /* An external entity is not fetched, nor expanded. */
        assert_int_equal(
                legacy_vm_parse("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                                "<domain><name>&x;</name><vcpu>1</vcpu><memory>1024</memory></domain>",
                                vm, &err),
                -EBADMSG);
        /* Memory without a unit is KiB, rounded up to whole MiB. */
        assert_int_equal(legacy_vm_parse("<domain><name>x</name><vcpu>1</vcpu><memory>1025</memory></domain>",
                                         vm, &err),
                         0);
        assert_int_equal(vm->memory_mib, 2);
        assert_string_equal(vm->firmware, "bios");
        /* More disks than the limit is refused, not cut. */
        char *big = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&big, &len);
        fputs("<domain><name>x</name><vcpu>1</vcpu><memory>1024</memory><devices>", f);
        for (int i = 0; i <= LEGACY_VM_DISKS_MAX; i++)
                fprintf(f, "<disk device='disk'><target dev='vd%c'/></disk>", 'a' + i);
        fputs("</devices></domain>", f);
        fclose(f);
        assert_int_equal(legacy_vm_parse(big, vm, &err), -EBADMSG);
        assert_string_equal(err.field, "devices.disk");
        free(big);
        free(vm);
}

static const LegacyPlanOption plans[] = {
        { "ecs-general", "g-8c16g", 8, 16384, 160, 140 }, { "ecs-general", "g-2c4g", 2, 4096, 40, 35 },
        { "ecs-general", "g-4c8g", 4, 8192, 80, 70 },     { "ecs-optimized", "c-4c8g", 4, 8192, 80, 60 },
        { "ecs-general", "g-1c2g", 1, 2048, 40, 18 },
};

static LegacyVm *small_vm(unsigned vcpus, uint64_t mem, uint64_t disk_gib) {
        LegacyVm *vm = calloc(1, sizeof(*vm));
        snprintf(vm->name, sizeof(vm->name), "vm");
        snprintf(vm->firmware, sizeof(vm->firmware), "bios");
        vm->vcpus = vcpus;
        vm->memory_mib = mem;
        vm->n_disks = 1;
        snprintf(vm->disks[0].device, sizeof(vm->disks[0].device), "disk");
        snprintf(vm->disks[0].target, sizeof(vm->disks[0].target), "vda");
        snprintf(vm->disks[0].format, sizeof(vm->disks[0].format), "raw");
        vm->disks[0].sized = true;
        vm->disks[0].capacity_bytes = disk_gib << 30;
        return vm;
}

static void test_fit(void **state) {
        size_t i = 99;
        (void)state;
        LegacyVm *vm = small_vm(1, 1024, 10);
        assert_int_equal(legacy_fit(vm, plans, ELEMENTSOF(plans), &i), 0);
        assert_string_equal(plans[i].plan_id, "g-1c2g");
        free(vm);
        /* 2 vCPUs and 3 GiB: the 2c4g, not the cheaper 1c2g. */
        vm = small_vm(2, 3072, 40);
        assert_int_equal(legacy_fit(vm, plans, ELEMENTSOF(plans), &i), 0);
        assert_string_equal(plans[i].plan_id, "g-2c4g");
        free(vm);
        /* A 41 GiB disk needs the 80 GiB plans; of two equal sizes the cheaper. */
        vm = small_vm(1, 1024, 41);
        assert_int_equal(legacy_fit(vm, plans, ELEMENTSOF(plans), &i), 0);
        assert_string_equal(plans[i].plan_id, "c-4c8g");
        free(vm);
        vm = small_vm(16, 1024, 10);
        assert_int_equal(legacy_fit(vm, plans, ELEMENTSOF(plans), &i), -ENOENT);
        assert_int_equal(legacy_fit(vm, NULL, 0, &i), -ENOENT);
        free(vm);
}

static bool has(const LegacyConcern *c, size_t n, const char *code, LegacyConcernLevel level) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(c[i].code, code) && c[i].level == level)
                        return true;
        return false;
}

static void test_preflight(void **state) {
        LegacyConcern c[LEGACY_CONCERNS_MAX];
        size_t n = 0;
        (void)state;
        LegacyVm *vm = small_vm(2, 4096, 30);
        LegacyPreflightFacts f = {
                .vm = vm,
                .source_reachable = true,
                .plan = &plans[1],
                .policy = { .evaluated = true },
                .target = { .connected = true,
                            .capacity_known = true,
                            .free_vcpus = 8,
                            .free_memory_mib = 8192,
                            .name = "dev-test" },
        };
        /* All is well: nothing to say. */
        assert_false(legacy_preflight(&f, c, &n));
        assert_int_equal(n, 0);

        /* The policy engine's violations for the order, and room. */
        PolicyViolation pv[2] = { { POLICY_QUANTITY_EXCEEDED, 20, "2 of 1 approved" },
                                  { POLICY_BUDGET_EXCEEDED, 13, "over budget" } };
        f.policy.n = 2;
        f.policy.violations = pv;
        f.target.free_memory_mib = 1024;
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "QUANTITY_EXCEEDED", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "BUDGET_EXCEEDED", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "NO_ROOM", LEGACY_CONCERN_CRITICAL));
        assert_int_equal(n, 3);
        assert_string_equal(c[0].message, "Art. 20: 2 of 1 approved");
        assert_int_equal(c[1].article, 13);
        f.policy.n = 0;
        f.target.free_memory_mib = 8192;
        /* A pool the target does not have; unknown pools say nothing. */
        f.target.pool = "nvme";
        f.target.pools_known = true;
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "TARGET_POOL_MISSING", LEGACY_CONCERN_CRITICAL));
        assert_int_equal(n, 1);
        assert_non_null(strstr(c[0].message, "'nvme'"));
        f.target.pools_known = false;
        assert_false(legacy_preflight(&f, c, &n));

        /* An overriding plan too small on disk is critical, on memory a warning. */
        f.plan = &plans[4];
        f.plan_overridden = true;
        vm->disks[0].capacity_bytes = 50ULL << 30;
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "DISK_LARGER_THAN_PLAN", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "PLAN_SMALLER_THAN_VM", LEGACY_CONCERN_WARNING));
        vm->disks[0].capacity_bytes = 30ULL << 30;
        f.plan = &plans[1];

        /* Devices, formats, firmware. */
        vm->n_devices = 2;
        snprintf(vm->devices[0].kind, sizeof(vm->devices[0].kind), "sound");
        snprintf(vm->devices[1].kind, sizeof(vm->devices[1].kind), "video");
        snprintf(vm->disks[0].format, sizeof(vm->disks[0].format), "vmdk");
        snprintf(vm->firmware, sizeof(vm->firmware), "efi");
        assert_false(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "UNSUPPORTED_DEVICE", LEGACY_CONCERN_WARNING));
        assert_true(has(c, n, "DISK_CONVERSION", LEGACY_CONCERN_WARNING));
        assert_true(has(c, n, "FIRMWARE_EFI", LEGACY_CONCERN_INFO));
        assert_int_equal(n, 3); /* video is fine */
        /* qcow2 is converted as a matter of course (info); a format the move
         * cannot convert blocks the run; one that names none is raw. */
        snprintf(vm->disks[0].format, sizeof(vm->disks[0].format), "qcow2");
        assert_false(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "DISK_CONVERSION", LEGACY_CONCERN_INFO));
        assert_false(has(c, n, "DISK_CONVERSION", LEGACY_CONCERN_WARNING));
        snprintf(vm->disks[0].format, sizeof(vm->disks[0].format), "iso");
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "DISK_FORMAT_UNKNOWN", LEGACY_CONCERN_CRITICAL));
        vm->disks[0].format[0] = '\0';
        assert_false(legacy_preflight(&f, c, &n));
        assert_false(has(c, n, "DISK_CONVERSION", LEGACY_CONCERN_INFO));
        assert_false(has(c, n, "DISK_FORMAT_UNKNOWN", LEGACY_CONCERN_CRITICAL));
        assert_int_equal(n, 2);
        /* A second disk moves as a block volume: no concern, and the plan's
         * disk holds the first one only (this one is far larger than it). */
        vm->n_disks = 2;
        vm->disks[1] = vm->disks[0];
        snprintf(vm->disks[1].target, sizeof(vm->disks[1].target), "vdb");
        vm->disks[1].capacity_bytes = 4096ull << 30;
        assert_false(legacy_preflight(&f, c, &n));
        assert_false(has(c, n, "DISK_LARGER_THAN_PLAN", LEGACY_CONCERN_CRITICAL));
        assert_int_equal(n, 2);
        snprintf(vm->disks[1].device, sizeof(vm->disks[1].device), "cdrom");
        assert_false(legacy_preflight(&f, c, &n)); /* a CD-ROM is no disk to move */
        vm->n_disks = 0;
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "NO_DISK", LEGACY_CONCERN_CRITICAL));
        vm->n_disks = 1;
        snprintf(vm->disks[0].format, sizeof(vm->disks[0].format), "vmdk");
        snprintf(vm->power, sizeof(vm->power), "running");
        assert_false(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "SOURCE_RUNNING", LEGACY_CONCERN_INFO));
        vm->power[0] = '\0';
        snprintf(vm->devices[0].kind, sizeof(vm->devices[0].kind), "hostdev");
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "UNSUPPORTED_DEVICE", LEGACY_CONCERN_CRITICAL));
        vm->n_devices = 0;

        /* No plan, no approval, unreachable, planned elsewhere, classified. */
        f.plan = NULL;
        f.classified = true;
        f.source_reachable = false;
        f.source_error = "provider lost";
        f.other_plan_system = "oa-2";
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "NO_FITTING_PLAN", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "CLASSIFIED_SYSTEM", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "SOURCE_UNREACHABLE", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "ALREADY_PLANNED", LEGACY_CONCERN_CRITICAL));
        assert_int_equal(c[0].article, 3);
        assert_non_null(strstr(c[0].message, "Art. 3"));
        assert_non_null(strstr(c[1].message, "provider lost"));
        f = (LegacyPreflightFacts){ .vm = vm,
                                    .source_reachable = true,
                                    .plan = &plans[1],
                                    .target = { .connected = false, .name = "t" } };
        snprintf(vm->disks[0].format, sizeof(vm->disks[0].format), "raw");
        snprintf(vm->firmware, sizeof(vm->firmware), "bios");
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "POLICY_NOT_EVALUATED", LEGACY_CONCERN_CRITICAL));
        assert_true(has(c, n, "TARGET_UNAVAILABLE", LEGACY_CONCERN_CRITICAL));
        assert_int_equal(n, 2);

        json_t *j = legacy_concerns_to_json(c, n);
        assert_int_equal(json_array_size(j), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "level")), "critical");
        assert_null(json_object_get(json_array_get(j, 0), "article"));
        json_decref(j);
        free(vm);
}

static const LegacyVolumeOption volumes[] = {
        { "evs-block", "ssd-500", 500, 2500 },
        { "evs-block", "sata-500", 500, 1000 },
        { "evs-block", "ssd-100", 100, 490 },
        { "evs-block", "sata-1t", 1024, 1800 },
};

static void test_volume_fit(void **state) {
        size_t i = 99;
        (void)state;
        /* The smallest that holds it; exactly 100 GiB fits the 100 GiB plan. */
        assert_int_equal(legacy_volume_fit(30ULL << 30, volumes, ELEMENTSOF(volumes), &i), 0);
        assert_string_equal(volumes[i].plan_id, "ssd-100");
        assert_int_equal(legacy_volume_fit(100ULL << 30, volumes, ELEMENTSOF(volumes), &i), 0);
        assert_string_equal(volumes[i].plan_id, "ssd-100");
        /* One byte more: of the two 500 GiB plans the cheaper. */
        assert_int_equal(legacy_volume_fit((100ULL << 30) + 1, volumes, ELEMENTSOF(volumes), &i), 0);
        assert_string_equal(volumes[i].plan_id, "sata-500");
        assert_int_equal(legacy_volume_fit(1024ULL << 30, volumes, ELEMENTSOF(volumes), &i), 0);
        assert_string_equal(volumes[i].plan_id, "sata-1t");
        /* Larger than any plan: none. */
        i = 99;
        assert_int_equal(legacy_volume_fit((1024ULL << 30) + 1, volumes, ELEMENTSOF(volumes), &i), -ENOENT);
        assert_int_equal(i, 99);
        assert_int_equal(legacy_volume_fit(1, NULL, 0, &i), -ENOENT);
        assert_int_equal(legacy_volume_fit(1, NULL, 1, &i), -EINVAL);
        /* A plan of size 0 holds nothing, not even an empty disk. */
        LegacyVolumeOption zero = { "evs-block", "zero", 0, 0 };
        assert_int_equal(legacy_volume_fit(0, &zero, 1, &i), -ENOENT);
}

static bool has_disk(const LegacyConcern *c, size_t n, const char *disk, const char *code,
                     LegacyConcernLevel level) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(c[i].code, code) && c[i].level == level && !strcmp(c[i].disk, disk))
                        return true;
        return false;
}

/* The disks after the first: their volume plans and orders, each concern naming its disk. */
static void test_preflight_disks(void **state) {
        LegacyConcern c[LEGACY_CONCERNS_MAX];
        size_t n = 0;
        (void)state;
        LegacyVm *vm = small_vm(2, 4096, 30);
        vm->n_disks = 3;
        vm->disks[1] = vm->disks[0];
        snprintf(vm->disks[1].target, sizeof(vm->disks[1].target), "vdb");
        vm->disks[2] = vm->disks[0];
        snprintf(vm->disks[2].target, sizeof(vm->disks[2].target), "vdc");
        snprintf(vm->disks[2].format, sizeof(vm->disks[2].format), "vmdk");
        PolicyViolation quantity = { POLICY_QUANTITY_EXCEEDED, 20,
                                     "2 of evs-block/ssd-100 asked, 1 approved" };
        LegacyDiskFacts disks[2] = {
                { .dev = "vdb",
                  .capacity_bytes = 30ULL << 30,
                  .plan = &volumes[2],
                  .policy = { .evaluated = true } },
                { .dev = "vdc",
                  .capacity_bytes = 30ULL << 30,
                  .plan = &volumes[2],
                  .policy = { .evaluated = true, .n = 1, .violations = &quantity } },
        };
        LegacyPreflightFacts f = {
                .vm = vm,
                .source_reachable = true,
                .plan = &plans[1],
                .policy = { .evaluated = true },
                .disks = disks,
                .n_disks = 2,
                .target = { .connected = true, .name = "t" },
        };
        /* The second volume of the plan is one more than approved: critical, about vdc only. */
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has_disk(c, n, "vdc", "QUANTITY_EXCEEDED", LEGACY_CONCERN_CRITICAL));
        assert_true(has_disk(c, n, "vdc", "DISK_CONVERSION", LEGACY_CONCERN_WARNING));
        assert_int_equal(n, 2);
        assert_string_equal(c[1].message,
                            "disk vdc of vm: Art. 20: 2 of evs-block/ssd-100 asked, 1 approved");
        assert_int_equal(c[1].article, 20);
        json_t *j = legacy_concerns_to_json(c, n);
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "disk")), "vdc");
        json_decref(j);

        /* Approved, and the VM's own concerns say nothing of a disk. */
        disks[1].policy.n = 0;
        assert_false(legacy_preflight(&f, c, &n));
        assert_int_equal(n, 1);
        f.policy = (LegacyPolicyVerdict){ .evaluated = false, .error = "no project lf-x" };
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has_disk(c, n, "", "POLICY_NOT_EVALUATED", LEGACY_CONCERN_CRITICAL));
        f.policy = (LegacyPolicyVerdict){ .evaluated = true };

        /* No volume plan holds vdb; an overriding one smaller than vdc. */
        disks[0].plan = NULL;
        disks[0].capacity_bytes = (2048ULL << 30) - 1;
        disks[1].plan = &volumes[2];
        disks[1].plan_overridden = true;
        disks[1].capacity_bytes = (100ULL << 30) + 1;
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has_disk(c, n, "vdb", "NO_FITTING_PLAN", LEGACY_CONCERN_CRITICAL));
        assert_true(has_disk(c, n, "vdc", "DISK_LARGER_THAN_PLAN", LEGACY_CONCERN_CRITICAL));
        for (size_t i = 0; i < n; i++)
                if (!strcmp(c[i].code, "NO_FITTING_PLAN")) {
                        assert_string_equal(c[i].message,
                                            "no published block-volume plan holds disk vdb of vm (2048 GiB)");
                        assert_int_equal(c[i].article, 12);
                }
        /* A disk without a plan has no order to judge: its policy facts say nothing more. */
        disks[0].policy = (LegacyPolicyVerdict){ .evaluated = false };
        size_t before = n;
        assert_true(legacy_preflight(&f, c, &n));
        assert_int_equal(n, before);
        /* The disks are judged even when no VM plan fits. */
        f.plan = NULL;
        assert_true(legacy_preflight(&f, c, &n));
        assert_true(has(c, n, "NO_FITTING_PLAN", LEGACY_CONCERN_CRITICAL));
        assert_true(has_disk(c, n, "vdb", "NO_FITTING_PLAN", LEGACY_CONCERN_CRITICAL));
        free(vm);
}

/* A plan's orders together: the n-th of a catalogue plan at quantity n,
 * the budget with the others' commitment. */
static void test_batch(void **state) {
        LegacyBatch *b = calloc(1, sizeof(*b));
        uint32_t q = 0;
        int64_t others = -1;
        (void)state;

        assert_int_equal(legacy_batch_next(b, "ecs", "2c4g", &q, &others), 0);
        assert_int_equal(q, 1);
        assert_int_equal(others, 0);
        assert_int_equal(legacy_batch_priced(b, "ecs", "2c4g", 1000), 1000);
        /* A volume: the first of its plan; the VM's 1000 count against the budget. */
        assert_int_equal(legacy_batch_next(b, "evs", "ssd-100", &q, &others), 0);
        assert_int_equal(q, 1);
        assert_int_equal(others, 1000);
        assert_int_equal(legacy_batch_priced(b, "evs", "ssd-100", 300), 300);
        /* The second volume of that plan: quantity 2, priced for both (600); this one adds 300. */
        assert_int_equal(legacy_batch_next(b, "evs", "ssd-100", &q, &others), 0);
        assert_int_equal(q, 2);
        assert_int_equal(others, 1000);
        assert_int_equal(legacy_batch_priced(b, "evs", "ssd-100", 600), 300);
        /* The second VM: the volumes' 600 are the others'. */
        assert_int_equal(legacy_batch_next(b, "ecs", "2c4g", &q, &others), 0);
        assert_int_equal(q, 2);
        assert_int_equal(others, 600);
        /* The same plan id under another service is another plan. */
        assert_int_equal(legacy_batch_next(b, "ecs-2", "2c4g", &q, &others), 0);
        assert_int_equal(q, 1);
        assert_int_equal(others, 1600);
        assert_int_equal(legacy_batch_next(b, NULL, "2c4g", &q, &others), -EINVAL);
        /* Full: a new plan is refused, a known one still counts. */
        static char ids[LEGACY_BATCH_PLANS_MAX][16];
        for (size_t i = b->n; i < LEGACY_BATCH_PLANS_MAX; i++) {
                snprintf(ids[i], sizeof(ids[i]), "p%zu", i);
                assert_int_equal(legacy_batch_next(b, "x", ids[i], &q, &others), 0);
        }
        assert_int_equal(legacy_batch_next(b, "x", "one-more", &q, &others), -E2BIG);
        assert_int_equal(legacy_batch_next(b, "ecs", "2c4g", &q, &others), 0);
        assert_int_equal(q, 3);
        /* An unknown plan priced: all of it is its own. */
        assert_int_equal(legacy_batch_priced(b, "y", "z", 70), 70);
        free(b);
}

/* Bytes over every disk of every VM: monotone, 0 to the total once. */
static void test_progress(void **state) {
        LegacyProgress *p = calloc(1, sizeof(*p));
        (void)state;
        const uint64_t a[] = { 600, 400 }, b[] = { 1000 };
        assert_int_equal(legacy_progress_add_vm(p, a, 2), 0);
        assert_int_equal(legacy_progress_add_vm(p, b, 1), 0);
        assert_int_equal(legacy_progress_total(p), 2000);
        assert_int_equal(legacy_progress_vm_total(p, 0), 1000);
        assert_int_equal(legacy_progress_vm_total(p, 1), 1000);
        assert_int_equal(legacy_progress_done(p), 0);

        legacy_progress_disk(p, 0, 0, 250, false);
        assert_int_equal(legacy_progress_vm_done(p, 0), 250);
        assert_int_equal(legacy_progress_done(p), 250);
        /* A stale, smaller report does not take it back. */
        legacy_progress_disk(p, 0, 0, 100, false);
        assert_int_equal(legacy_progress_done(p), 250);
        /* More data than assessed (the VM wrote since): held at the disk's weight. */
        legacy_progress_disk(p, 0, 0, 900, false);
        assert_int_equal(legacy_progress_vm_done(p, 0), 600);
        /* The second disk starts: the first counts whole, the count goes on from there. */
        legacy_progress_disk(p, 0, 1, 0, false);
        assert_int_equal(legacy_progress_vm_done(p, 0), 600);
        legacy_progress_disk(p, 0, 1, 100, false);
        assert_int_equal(legacy_progress_vm_done(p, 0), 700);
        /* A late report for the first disk changes nothing. */
        legacy_progress_disk(p, 0, 0, 10, false);
        assert_int_equal(legacy_progress_vm_done(p, 0), 700);
        /* Its copy ended with less data than assessed: it counts whole. */
        legacy_progress_disk(p, 0, 1, 350, true);
        assert_int_equal(legacy_progress_vm_done(p, 0), 1000);
        assert_int_equal(legacy_progress_vm_done(p, 1), 0);
        /* The next VM: its own count from 0, the plan's goes on. */
        legacy_progress_disk(p, 1, 0, 500, false);
        assert_int_equal(legacy_progress_vm_done(p, 0), 1000);
        assert_int_equal(legacy_progress_vm_done(p, 1), 500);
        assert_int_equal(legacy_progress_done(p), 1500);
        legacy_progress_vm_copied(p, 1);
        assert_int_equal(legacy_progress_done(p), 2000);
        assert_int_equal(legacy_progress_vm_done(p, 1), 1000);
        /* Out of range: ignored. */
        legacy_progress_disk(p, 1, 1, 5, false);
        legacy_progress_disk(p, 9, 0, 5, false);
        assert_int_equal(legacy_progress_done(p), 2000);

        /* A VM's copy skipping straight to its define: every disk whole. */
        LegacyProgress *q = calloc(1, sizeof(*q));
        assert_int_equal(legacy_progress_add_vm(q, a, 2), 0);
        legacy_progress_vm_copied(q, 0);
        assert_int_equal(legacy_progress_done(q), 1000);
        /* Limits. */
        memset(q, 0, sizeof(*q));
        uint64_t w[1] = { 1 };
        for (size_t i = 0; i < LEGACY_PROGRESS_VMS_MAX; i++)
                assert_int_equal(legacy_progress_add_vm(q, w, 1), 0);
        assert_int_equal(legacy_progress_add_vm(q, w, 1), -E2BIG);
        assert_int_equal(legacy_progress_add_vm(q, NULL, 1), -EINVAL);
        free(q);
        free(p);

        assert_int_equal(legacy_rate_bps(1048576, 1000), 1048576);
        assert_int_equal(legacy_rate_bps(1000, 0), 0);
        assert_int_equal(legacy_rate_bps(UINT64_MAX / 10, 1000), UINT64_MAX / 10 / 1000 * 1000);
        assert_int_equal(legacy_eta_seconds(0, 3000, 1000), 3);
        assert_int_equal(legacy_eta_seconds(0, 3001, 1000), 4);
        assert_int_equal(legacy_eta_seconds(5, 5, 0), 0);
        assert_int_equal(legacy_eta_seconds(1, 5, 0), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transitions), cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_vm_parse),    cmocka_unit_test(test_vm_parse_refusals),
                cmocka_unit_test(test_fit),         cmocka_unit_test(test_preflight),
                cmocka_unit_test(test_volume_fit),  cmocka_unit_test(test_preflight_disks),
                cmocka_unit_test(test_batch),       cmocka_unit_test(test_progress),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
