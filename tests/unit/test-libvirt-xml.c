/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Domain and volume XML generation: every generated document passes
 * libvirt's own schema (virt-xml-validate), hostile strings are escaped,
 * bad specs are refused by field, and the metadata stamp reads back
 * unchanged from both the whole domain XML and the fragment libvirt returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "libvirt-xml.h"

static ProvisionSpec base_spec(void) {
        return (ProvisionSpec){
                .resource_id = "r-0001",
                .name = "web01",
                .project_id = "lf-edu-cloud-2026",
                .approval_no = "临政信审〔2026〕12号",
                .catalog_service_id = "ecs-general",
                .catalog_plan_id = "c4m8",
                .catalog_revision = 3,
                .vcpus = 4,
                .memory_mib = 8192,
                .disk_gib = 40,
                .network = "default",
        };
}

/* Writes text to a temp file and runs virt-xml-validate on it. */
static int validate(const char *text, const char *kind) {
        char path[] = "/tmp/cb-xml-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "virt-xml-validate %s %s >/dev/null 2>&1", path, kind);
        int status = system(cmd);
        unlink(path);
        return status;
}

static void check_roundtrip(const ProvisionSpec *spec, const char *xml) {
        DriverStamp st = { 0 };
        assert_int_equal(libvirt_xml_parse_stamp(xml, &st), 0);
        assert_string_equal(st.resource_id, spec->resource_id);
        assert_string_equal(st.name, spec->name);
        assert_string_equal(st.project_id, spec->project_id);
        assert_string_equal(st.approval_no, spec->approval_no);
        assert_string_equal(st.service_id, spec->catalog_service_id);
        assert_string_equal(st.plan_id, spec->catalog_plan_id);
        assert_int_equal(st.catalog_revision, spec->catalog_revision);
        driver_stamp_done(&st);
        assert_null(st.resource_id);
}

static void test_generated_xml_validates(void **state) {
        (void)state;
        /* The checker itself rejects broken domains: it is no rubber stamp. */
        assert_int_not_equal(validate("<domain type='kvm'><nam>x</nam></domain>", "domain"), 0);
        assert_int_not_equal(
                validate("<domain type='kvm'><name>x</name><vcpu>many</vcpu></domain>", "domain"), 0);
        assert_int_not_equal(
                validate("<domain type='kvm'><name>x</name><title>a\nb</title></domain>", "domain"), 0);

        ProvisionSpec specs[5];
        for (size_t i = 0; i < ELEMENTSOF(specs); i++)
                specs[i] = base_spec();
        specs[1].name = "<script>alert('x')</script> & \"quoted\" ]]> --";
        specs[1].project_id = "p&<>\"'";
        specs[2].name = "临汾市教育资源公共服务平台 应用服务器";
        specs[2].resource_id = "9f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
        specs[3].disk_gib = 0;   /* no volume */
        specs[3].network = NULL; /* no NIC */
        specs[3].catalog_revision = 4294967295u;
        specs[4].arch = "aarch64";
        specs[4].pool = "fast_ssd";
        specs[4].vcpus = 1;
        specs[4].memory_mib = 64;

        const char *types[] = { "kvm", "qemu", "test" };
        for (size_t i = 0; i < ELEMENTSOF(specs); i++)
                for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                        _cleanup_(freep) char *xml = NULL;
                        CbError err = CB_ERROR_INIT;
                        assert_int_equal(libvirt_xml_domain(&specs[i], types[t], &xml, &err), 0);
                        if (validate(xml, "domain") != 0)
                                fail_msg("spec %zu type %s does not validate:\n%s", i, types[t], xml);
                        check_roundtrip(&specs[i], xml);
                }

        /* The hostile strings never appear raw. */
        _cleanup_(freep) char *xml = NULL;
        assert_int_equal(libvirt_xml_domain(&specs[1], "kvm", &xml, NULL), 0);
        assert_null(strstr(xml, "<script>"));
        assert_non_null(
                strstr(xml, "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;quoted&quot;"));
        assert_non_null(strstr(xml, "<name>cb-r-0001</name>"));

        /* Disk and NIC appear exactly when asked for. */
        _cleanup_(freep) char *bare = NULL;
        assert_int_equal(libvirt_xml_domain(&specs[3], "qemu", &bare, NULL), 0);
        assert_null(strstr(bare, "<disk"));
        assert_null(strstr(bare, "<interface"));
        assert_null(strstr(bare, "org.qemu.guest_agent.0")); /* no NIC, no addresses to ask for */
        assert_non_null(strstr(xml, "<source pool='default' volume='cb-r-0001.img'/>"));
        assert_non_null(strstr(xml, "<source network='default'/>"));
        /* A VM with a NIC has the guest agent's port, the first source of its addresses. */
        assert_non_null(strstr(xml, "<target type='virtio' name='org.qemu.guest_agent.0'/>"));
        _cleanup_(freep) char *arm = NULL;
        assert_int_equal(libvirt_xml_domain(&specs[4], "kvm", &arm, NULL), 0);
        assert_non_null(strstr(arm, "<source pool='fast_ssd' volume='cb-r-0001.img'/>"));
        assert_null(strstr(arm, "<apic/>"));
}

static void test_volume_xml_validates(void **state) {
        (void)state;
        ProvisionSpec spec = base_spec();
        _cleanup_(freep) char *xml = NULL;
        assert_int_equal(libvirt_xml_volume(&spec, &xml, NULL), 0);
        if (validate(xml, "storagevol") != 0)
                fail_msg("volume XML does not validate:\n%s", xml);
        assert_non_null(strstr(xml, "<name>cb-r-0001.img</name>"));
        assert_non_null(strstr(xml, "<capacity unit='GiB'>40</capacity>"));

        spec.disk_gib = 0;
        char *none = NULL;
        CbError err = CB_ERROR_INIT;
        assert_int_equal(libvirt_xml_volume(&spec, &none, &err), -EINVAL);
        assert_null(none);
        assert_string_equal(err.field, "disk_gib");
}

/* A moved VM keeps its MAC (Art. 35 moves): it is in the NIC, the document
 * still validates, and a malformed one is refused before any XML. */
static void test_mac_kept(void **state) {
        (void)state;
        ProvisionSpec spec = base_spec();
        _cleanup_(freep) char *xml = NULL, *plain = NULL;
        spec.network = "cb-net";
        spec.mac = "52:54:00:cb:00:0A";
        assert_int_equal(libvirt_xml_domain(&spec, "kvm", &xml, NULL), 0);
        if (validate(xml, "domain") != 0)
                fail_msg("domain XML with a MAC does not validate:\n%s", xml);
        assert_non_null(strstr(xml, "<mac address='52:54:00:cb:00:0A'/>"));
        spec.mac = NULL;
        assert_int_equal(libvirt_xml_domain(&spec, "kvm", &plain, NULL), 0);
        assert_null(strstr(plain, "<mac "));

        static const char *const bad[] = { "52:54:00:cb:00", "52-54-00-cb-00-0a", "52:54:00:cb:00:0g",
                                           "52:54:00:cb:00:0a'/><x", "" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_false(driver_mac_is_valid(bad[i]));
                char *none = NULL;
                CbError err = CB_ERROR_INIT;
                spec.mac = bad[i];
                assert_int_equal(libvirt_xml_domain(&spec, "kvm", &none, &err), -EINVAL);
                assert_null(none);
                assert_string_equal(err.field, "mac");
        }
        assert_true(driver_mac_is_valid("00:11:22:aa:BB:ff"));
}

static void test_migrate_steps(void **state) {
        (void)state;
        static const char *const want[] = { "queued", "shutdown", "copy", "verify-copy", "convert",
                                            "define", "start",    "done", "rollback" };
        assert_int_equal(_MIGRATE_STEP_MAX, sizeof(want) / sizeof(want[0]));
        for (int i = 0; i < _MIGRATE_STEP_MAX; i++)
                assert_string_equal(migrate_step_to_string((MigrateStep)i), want[i]);
        assert_null(migrate_step_to_string(_MIGRATE_STEP_MAX));
}

static void expect_refused(ProvisionSpec spec, const char *field) {
        char *xml = NULL;
        CbError err = CB_ERROR_INIT;
        assert_int_equal(libvirt_xml_domain(&spec, "kvm", &xml, &err), -EINVAL);
        assert_null(xml);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, field);
}

static void test_bad_specs_refused(void **state) {
        (void)state;
        ProvisionSpec s;

        s = base_spec(), s.resource_id = "../etc/passwd";
        expect_refused(s, "resource_id");
        s = base_spec(), s.resource_id = "";
        expect_refused(s, "resource_id");
        s = base_spec(), s.resource_id = "-rf";
        expect_refused(s, "resource_id");
        s = base_spec(), s.resource_id = "a234567890123456789012345678901234567890123456789012345678901234x";
        expect_refused(s, "resource_id");
        s = base_spec(), s.name = "line\nbreak";
        expect_refused(s, "name");
        s = base_spec(), s.name = "bad \xff utf8";
        expect_refused(s, "name");
        s = base_spec(), s.name = "overlong \xc0\xaf";
        expect_refused(s, "name");
        s = base_spec(), s.name = NULL;
        expect_refused(s, "name");
        s = base_spec(), s.project_id = "";
        expect_refused(s, "project_id");
        s = base_spec(), s.approval_no = "\x01";
        expect_refused(s, "approval_no");
        s = base_spec(), s.vcpus = 0;
        expect_refused(s, "vcpus");
        s = base_spec(), s.memory_mib = 0;
        expect_refused(s, "memory_mib");
        s = base_spec(), s.network = "def'ault";
        expect_refused(s, "network");
        s = base_spec(), s.pool = "a b";
        expect_refused(s, "pool");
        s = base_spec(), s.arch = "x86_64'><evil";
        expect_refused(s, "arch");

        /* A bad domain type is refused too. */
        s = base_spec();
        char *xml = NULL;
        assert_int_equal(libvirt_xml_domain(&s, "kvm' x='y", &xml, NULL), -EINVAL);
        assert_null(xml);
}

static void test_parse_fragment_forms(void **state) {
        (void)state;
        DriverStamp st = { 0 };

        /* What virDomainGetMetadata(ELEMENT) returns: no namespace, libxml2's
         * quoting, character references, an empty element. */
        const char *fragment = "<resource version=\"1\">\n"
                               "  <resource-id>r-7</resource-id>\n"
                               "  <name>a &lt;b&gt; &amp; &quot;c&quot; &#x4E34;&#27774; &apos;</name>\n"
                               "  <project-id/>\n"
                               "  <catalog-revision>12</catalog-revision>\n"
                               "</resource>\n";
        assert_int_equal(libvirt_xml_parse_stamp(fragment, &st), 0);
        assert_string_equal(st.resource_id, "r-7");
        assert_string_equal(st.name, "a <b> & \"c\" 临汾 '");
        assert_string_equal(st.project_id, "");
        assert_null(st.approval_no);
        assert_int_equal(st.catalog_revision, 12);
        driver_stamp_done(&st);

        /* Another prefix bound to our namespace, inside a whole domain. */
        const char *other_prefix = "<domain type='kvm'><name>x</name><metadata>"
                                   "<other:foo xmlns:other='urn:x'><other:resource-id>no</other:resource-id>"
                                   "</other:foo>"
                                   "<b:resource xmlns:b=\"" CB_XML_NS_URI "\">"
                                   "<b:resource-idx>wrong</b:resource-idx><b:resource-id>r-8</b:resource-id>"
                                   "</b:resource></metadata></domain>";
        assert_int_equal(libvirt_xml_parse_stamp(other_prefix, &st), 0);
        assert_string_equal(st.resource_id, "r-8");
        driver_stamp_done(&st);

        /* Absent and malformed stamps. */
        assert_int_equal(libvirt_xml_parse_stamp("<domain type='kvm'><name>legacy</name></domain>", &st),
                         -ENOENT);
        assert_int_equal(libvirt_xml_parse_stamp("<other:resource xmlns:other='urn:x'><other:resource-id>r"
                                                 "</other:resource-id></other:resource>",
                                                 &st),
                         -ENOENT);
        assert_int_equal(libvirt_xml_parse_stamp("<resource><name>x</name></resource>", &st), -EBADMSG);
        assert_int_equal(libvirt_xml_parse_stamp("<resource/>", &st), -EBADMSG);
        assert_int_equal(libvirt_xml_parse_stamp("<resource><resource-id>r</resource-id>", &st), -EBADMSG);
        assert_int_equal(
                libvirt_xml_parse_stamp("<resource><resource-id>a&bogus;</resource-id></resource>", &st),
                -EBADMSG);
        assert_int_equal(libvirt_xml_parse_stamp("<resource><resource-id>r</resource-id>"
                                                 "<catalog-revision>-1</catalog-revision></resource>",
                                                 &st),
                         -EBADMSG);
        assert_int_equal(libvirt_xml_parse_stamp("<resource><resource-id>&#0;</resource-id></resource>", &st),
                         -EBADMSG);
        assert_null(st.resource_id);
}

/* Found by tests/fuzz/fuzz-stamp: a department names its VM after the
 * broker's namespace URI. The reader took the first occurrence of the URI
 * for the namespace declaration: in the domain XML the name's copy in
 * <title> comes first, and in the metadata fragment the driver reads there
 * is no declaration at all, so the VM's stamp could not be read back
 * (-EBADMSG: the broker no longer knew the VM as its own). */
static void test_stamp_survives_namespace_in_name(void **state) {
        (void)state;
        ProvisionSpec s = base_spec();
        DriverStamp st = { 0 };
        char *xml = NULL;

        s.name = "see " CB_XML_NS_URI " and xmlns:cb=\"" CB_XML_NS_URI "\"";
        assert_int_equal(libvirt_xml_domain(&s, "qemu", &xml, NULL), 0);
        assert_int_equal(libvirt_xml_parse_stamp(xml, &st), 0);
        assert_string_equal(st.resource_id, "r-0001");
        assert_string_equal(st.name, s.name);
        assert_string_equal(st.approval_no, "临政信审〔2026〕12号");
        driver_stamp_done(&st);
        free(xml);

        /* What the driver reads: virDomainGetMetadata()'s fragment, without a
         * declaration, the URI only in the name (libvirt 9.0's test driver
         * answers exactly this for such a VM). */
        const char *fragment = "<resource version=\"1\">\n"
                               "  <resource-id>r-9</resource-id>\n"
                               "  <name>see " CB_XML_NS_URI "</name>\n"
                               "</resource>\n";
        assert_int_equal(libvirt_xml_parse_stamp(fragment, &st), 0);
        assert_string_equal(st.resource_id, "r-9");
        assert_string_equal(st.name, "see " CB_XML_NS_URI);
        driver_stamp_done(&st);

        /* Only as text, and no stamp: there is none. */
        assert_int_equal(libvirt_xml_parse_stamp("<domain><title>" CB_XML_NS_URI "</title></domain>", &st),
                         -ENOENT);
        assert_int_equal(libvirt_xml_parse_stamp("\"" CB_XML_NS_URI, &st), -ENOENT);
        assert_int_equal(libvirt_xml_parse_stamp(CB_XML_NS_URI, &st), -ENOENT);
        assert_null(st.resource_id);
}

static void test_pick_domain_type(void **state) {
        (void)state;
        const char *kvm_host = "<capabilities><guest><os_type>hvm</os_type><arch name='x86_64'>"
                               "<domain type='qemu'/><domain type='kvm'/></arch></guest>"
                               "<guest><os_type>hvm</os_type><arch name='aarch64'><domain type='qemu'/>"
                               "</arch></guest></capabilities>";
        assert_string_equal(libvirt_xml_pick_domain_type(kvm_host, "x86_64", NULL), "kvm");
        assert_string_equal(libvirt_xml_pick_domain_type(kvm_host, "aarch64", NULL), "qemu");
        const char *tcg_host = "<capabilities><guest><arch name='x86_64'><domain type='qemu'/></arch>"
                               "</guest></capabilities>";
        assert_string_equal(libvirt_xml_pick_domain_type(tcg_host, "x86_64", NULL), "qemu");
        const char *test_host = "<capabilities><guest><arch name='i686'><domain type='test'/></arch>"
                                "</guest></capabilities>";
        assert_string_equal(libvirt_xml_pick_domain_type(test_host, "x86_64", NULL), "test");
        assert_null(libvirt_xml_pick_domain_type("<capabilities/>", "x86_64", NULL));
        assert_null(libvirt_xml_pick_domain_type(NULL, "x86_64", NULL));

        /* domain_type "qemu" on a host that offers kvm too: qemu (TCG);
         * "kvm" where only qemu is offered: nothing, never a silent downgrade. */
        assert_string_equal(libvirt_xml_pick_domain_type(kvm_host, "x86_64", "qemu"), "qemu");
        assert_string_equal(libvirt_xml_pick_domain_type(kvm_host, "x86_64", "kvm"), "kvm");
        assert_null(libvirt_xml_pick_domain_type(tcg_host, "x86_64", "kvm"));
        assert_null(libvirt_xml_pick_domain_type(test_host, "x86_64", "qemu"));
}

static void test_names_and_escape(void **state) {
        (void)state;
        _cleanup_(freep) char *d = NULL, *v = NULL, *e = NULL;
        assert_int_equal(libvirt_xml_domain_name("r-1", &d), 0);
        assert_string_equal(d, "cb-r-1");
        assert_int_equal(libvirt_xml_volume_name("r-1", &v), 0);
        assert_string_equal(v, "cb-r-1.img");
        char *bad = NULL;
        assert_int_equal(libvirt_xml_domain_name("a/b", &bad), -EINVAL);
        assert_null(bad);
        /* The volume name read back: only the broker's own names are ours. */
        _cleanup_(freep) char *id = NULL;
        assert_int_equal(libvirt_xml_volume_resource_id(v, &id), 0);
        assert_string_equal(id, "r-1");
        static const char *const not_ours[] = { "r-1.img",        "cb-.img",   "cb-r-1.qcow2",
                                                "cb-r/1.img",     "cb--x.img", "data.img",
                                                "cb-r-1.img.bak", "",          NULL };
        for (size_t i = 0; not_ours[i]; i++)
                assert_int_equal(libvirt_xml_volume_resource_id(not_ours[i], &bad), -ENOENT);
        assert_int_equal(libvirt_xml_volume_resource_id(NULL, &bad), -ENOENT);
        assert_null(bad);
        e = xml_escape("<&>\"'临");
        assert_string_equal(e, "&lt;&amp;&gt;&quot;&apos;临");
}

static void test_volume_format(void **state) {
        char f[16];
        (void)state;
        assert_int_equal(libvirt_xml_volume_format("<volume type='file'><name>a</name><target><path>/p</path>"
                                                   "<format type='qcow2'/></target></volume>",
                                                   f, sizeof(f)),
                         0);
        assert_string_equal(f, "qcow2");
        assert_int_equal(
                libvirt_xml_volume_format("<volume><target>\n  <format type=\"raw\"/>\n</target>"
                                          "<backingStore><format type='qcow2'/></backingStore></volume>",
                                          f, sizeof(f)),
                0);
        assert_string_equal(f, "raw");
        /* The backing store's format is not the volume's. */
        assert_int_equal(libvirt_xml_volume_format("<volume><target><path>/p</path></target><backingStore>"
                                                   "<format type='qcow2'/></backingStore></volume>",
                                                   f, sizeof(f)),
                         -ENOENT);
        assert_int_equal(libvirt_xml_volume_format("<volume/>", f, sizeof(f)), -ENOENT);
        assert_int_equal(libvirt_xml_volume_format(NULL, f, sizeof(f)), -ENOENT);
        assert_int_equal(libvirt_xml_volume_format("<target><format type='qc\"ow'/></target>", f, sizeof(f)),
                         -EBADMSG);
        assert_int_equal(libvirt_xml_volume_format("<target><format type='qcow2'/></target>", f, 4),
                         -EBADMSG);
        assert_int_equal(libvirt_xml_volume_format("<target><formats type='raw'/></target>", f, sizeof(f)),
                         -ENOENT);
}

static ProvisionSpec image_spec(void) {
        ProvisionSpec spec = base_spec();
        spec.os_image = "openeuler-22.03-lts-x86_64";
        spec.image_pool = "images";
        spec.image_volume = "openEuler-22.03-LTS-x86_64.qcow2";
        spec.image_format = "qcow2";
        spec.image_digest_alg = "sm3";
        spec.image_digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        return spec;
}

static void test_system_disk_xml(void **state) {
        (void)state;
        ProvisionSpec spec = image_spec();
        _cleanup_(freep) char *cow = NULL, *clone = NULL, *dom = NULL;
        CbError err = CB_ERROR_INIT;
        char *none = NULL;

        /* Copy-on-write: qcow2 over the image's path (escaped), of disk_gib. */
        assert_int_equal(libvirt_xml_system_disk(&spec, "/var/lib/images/a&b<c>.qcow2", &cow, &err), 0);
        if (validate(cow, "storagevol") != 0)
                fail_msg("CoW volume XML does not validate:\n%s", cow);
        assert_non_null(strstr(cow, "<name>cb-r-0001.img</name>"));
        assert_non_null(strstr(cow, "<capacity unit='GiB'>40</capacity>"));
        assert_non_null(strstr(cow, "<target>\n    <format type='qcow2'/>"));
        assert_non_null(strstr(cow, "<path>/var/lib/images/a&amp;b&lt;c&gt;.qcow2</path>"));
        assert_non_null(strstr(cow, "<backingStore>"));
        assert_int_equal(libvirt_xml_system_disk(&spec, "relative/path", &clone, &err), -EINVAL);
        cb_error_clear(&err);

        /* A clone: no backing store, no format (the pool's own). */
        spec.image_format = "raw";
        assert_int_equal(libvirt_xml_system_disk(&spec, NULL, &clone, &err), 0);
        if (validate(clone, "storagevol") != 0)
                fail_msg("clone volume XML does not validate:\n%s", clone);
        assert_null(strstr(clone, "backingStore"));
        assert_null(strstr(clone, "<format"));

        /* The domain's disk driver follows disk_format; the seed is a read-only second disk. */
        spec.disk_format = "qcow2";
        spec.seed_meta_data = "instance-id: r-0001\n";
        spec.seed_user_data = "#cloud-config\n{}\n";
        assert_int_equal(libvirt_xml_domain(&spec, "kvm", &dom, &err), 0);
        if (validate(dom, "domain") != 0)
                fail_msg("domain XML does not validate:\n%s", dom);
        assert_non_null(strstr(dom, "<driver name='qemu' type='qcow2'/>"));
        assert_non_null(strstr(dom, "volume='cb-r-0001-seed.iso'/>\n      <target dev='vdb' bus='virtio'/>\n"
                                    "      <readonly/>"));
        _cleanup_(freep) char *seedvol = NULL, *rid = NULL;
        assert_int_equal(libvirt_xml_seed_volume("r-0001", 71680, &seedvol), 0);
        if (validate(seedvol, "storagevol") != 0)
                fail_msg("seed volume XML does not validate:\n%s", seedvol);
        assert_non_null(strstr(seedvol, "<capacity unit='bytes'>71680</capacity>"));
        assert_int_equal(libvirt_xml_volume_resource_id("cb-r-0001-seed.iso", &rid), 0);
        assert_string_equal(rid, "r-0001");
        assert_int_equal(libvirt_xml_volume_resource_id("cb--seed.iso", &none), -ENOENT);
        assert_int_equal(libvirt_xml_volume_resource_id("cb-a b-seed.iso", &none), -ENOENT);
        spec.seed_user_data = NULL;
        assert_int_equal(libvirt_xml_domain(&spec, "kvm", &none, &err), -EINVAL);
        assert_string_equal(err.field, "seed");
        cb_error_clear(&err);
        spec.seed_meta_data = NULL;

        /* What the spec must say about its image. */
        ProvisionSpec b;
        b = image_spec(), b.image_digest = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "image_digest");
        b = image_spec(), b.image_format = "vmdk";
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "image_format");
        b = image_spec(), b.image_volume = "../../etc/shadow";
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "image_volume");
        b = image_spec(), b.image_pool = NULL;
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "image_pool");
        b = image_spec(), b.image_digest_alg = "md5";
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "image_digest_alg");
        b = image_spec(), b.disk_gib = 0;
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "disk_gib");
        b = image_spec(), b.disk_format = "vmdk";
        assert_int_equal(libvirt_xml_domain(&b, "kvm", &none, &err), -EINVAL);
        assert_string_equal(err.field, "disk_format");
        b = base_spec();
        assert_int_equal(libvirt_xml_system_disk(&b, NULL, &none, &err), -EINVAL);
        assert_string_equal(err.field, "image_volume");
        assert_null(none);
}

static void test_pool_type(void **state) {
        char t[16];
        (void)state;
        assert_int_equal(libvirt_xml_pool_type("<pool type='dir'>\n  <name>default</name>", t, sizeof(t)), 0);
        assert_string_equal(t, "dir");
        assert_true(libvirt_xml_pool_has_backing(t));
        assert_int_equal(libvirt_xml_pool_type("<pool type=\"logical\"><name>x</name></pool>", t, sizeof(t)),
                         0);
        assert_string_equal(t, "logical");
        assert_false(libvirt_xml_pool_has_backing(t));
        assert_true(libvirt_xml_pool_has_backing("netfs"));
        assert_true(libvirt_xml_pool_has_backing("fs"));
        assert_false(libvirt_xml_pool_has_backing("rbd"));
        assert_false(libvirt_xml_pool_has_backing(NULL));
        assert_int_equal(libvirt_xml_pool_type("<pool><name>x</name><source type='y'/></pool>", t, sizeof(t)),
                         -ENOENT);
        assert_int_equal(libvirt_xml_pool_type("<pools type='dir'>", t, sizeof(t)), -ENOENT);
        assert_int_equal(libvirt_xml_pool_type("<pool type='dir<'>", t, sizeof(t)), -EBADMSG);
        assert_int_equal(libvirt_xml_pool_type(NULL, t, sizeof(t)), -ENOENT);
}

/* An attached block volume: its broker-named volume in its pool, the target
 * asked for, its resource id as serial; bad ids and targets refused by field. */
static void test_attached_disk_xml(void **state) {
        (void)state;
        _cleanup_(freep) char *x = NULL, *y = NULL;
        CbError err = CB_ERROR_INIT;

        assert_int_equal(libvirt_xml_attached_disk("data", "vol-1", "vdc", &x, &err), 0);
        assert_non_null(strstr(x, "<source pool='data' volume='cb-vol-1.img'/>"));
        assert_non_null(strstr(x, "<target dev='vdc' bus='virtio'/>"));
        assert_non_null(strstr(x, "<serial>vol-1</serial>"));
        assert_int_equal(libvirt_xml_attached_disk(NULL, "vol-2", "vdz", &y, &err), 0);
        assert_non_null(strstr(y, "<source pool='default' volume='cb-vol-2.img'/>"));

        char *z = NULL;
        assert_int_equal(libvirt_xml_attached_disk("data", "../x", "vdc", &z, &err), -EINVAL);
        assert_string_equal(err.field, "volume_id");
        assert_null(z);
        cb_error_clear(&err);
        assert_int_equal(libvirt_xml_attached_disk("data", "vol-1", "vda", &z, &err), -EINVAL);
        assert_string_equal(err.field, "target");
        cb_error_clear(&err);
        assert_int_equal(libvirt_xml_attached_disk("p'x", "vol-1", "vdc", &z, &err), 0);
        assert_non_null(strstr(z, "pool='p&apos;x'"));
        free(z);
        z = NULL;
        /* vdb is the seed's for an attach, but a moved VM's second disk keeps it. */
        assert_int_equal(libvirt_xml_attached_disk("data", "vol-1", "vdb", &z, &err), -EINVAL);
        assert_string_equal(err.field, "target");
        cb_error_clear(&err);
        assert_int_equal(libvirt_xml_moved_disk("data", "mig-1", "vdb", &z, &err), 0);
        assert_non_null(strstr(z, "<target dev='vdb' bus='virtio'/>"));
        assert_non_null(strstr(z, "<source pool='data' volume='cb-mig-1.img'/>"));
        assert_non_null(strstr(z, "<serial>mig-1</serial>"));
        free(z);
        z = NULL;
        assert_int_equal(libvirt_xml_moved_disk("data", "mig-1", "vda", &z, &err), -EINVAL);
        assert_string_equal(err.field, "target");
        assert_null(z);
        cb_error_clear(&err);
        assert_int_equal(libvirt_xml_moved_disk("data", "mig-1", "sdb", &z, &err), -EINVAL);
        cb_error_clear(&err);
        /* The device XML the attach hands to libvirt, in the domain the
         * broker generates (as virDomainAttachDeviceFlags CONFIG leaves it),
         * validates: virt-xml-validate takes whole documents only. */
        ProvisionSpec spec = base_spec();
        _cleanup_(freep) char *dom = NULL, *with = NULL;
        assert_int_equal(libvirt_xml_domain(&spec, "qemu", &dom, &err), 0);
        assert_int_equal(libvirt_xml_add_device(dom, x, &with), 0);
        if (validate(with, "domain") != 0)
                fail_msg("a domain with the attached disk does not validate:\n%s", with);
        assert_false(libvirt_xml_attach_target_is_valid("vdb"));
        assert_false(libvirt_xml_attach_target_is_valid("vdcc"));
        assert_false(libvirt_xml_attach_target_is_valid(NULL));
        assert_true(libvirt_xml_attach_target_is_valid("vdc"));
}

/* For a driver without device hot-plug: the disk goes into the definition
 * and comes out of it again, nothing else changes, another disk stays. */
static void test_definition_edit(void **state) {
        (void)state;
        static const char dom[] = "<domain>\n  <devices>\n    <disk type='volume' device='disk'>\n"
                                  "      <target dev='vda'/>\n    </disk>\n  </devices>\n</domain>\n";
        _cleanup_(freep) char *disk = NULL, *with = NULL, *without = NULL;
        CbError err = CB_ERROR_INIT;
        char *x = NULL;

        assert_int_equal(libvirt_xml_attached_disk("data", "vol-1", "vdc", &disk, &err), 0);
        assert_int_equal(libvirt_xml_add_device(dom, disk, &with), 0);
        assert_non_null(strstr(with, "<serial>vol-1</serial>"));
        assert_true(strstr(with, "<serial>vol-1</serial>") < strstr(with, "</devices>"));
        assert_non_null(strstr(with, "<target dev='vda'/>"));
        assert_int_equal(libvirt_xml_remove_disk(with, "vol-1", &without), 0);
        assert_string_equal(without, dom);
        assert_int_equal(libvirt_xml_remove_disk(dom, "vol-1", &x), -ENOENT);
        assert_int_equal(libvirt_xml_remove_disk(with, "vol-", &x), -ENOENT);
        assert_int_equal(libvirt_xml_add_device("<domain/>", disk, &x), -EBADMSG);
        assert_int_equal(libvirt_xml_add_device("<devices></devices><devices></devices>", disk, &x),
                         -EBADMSG);
        assert_null(x);
}

/* An adopted domain's stamp (virDomainSetMetadata takes it without the
 * namespace declaration) reads back as the same stamp; text is escaped. */
static void test_adopt_stamp(void **state) {
        CbError err = CB_ERROR_INIT;
        DriverStamp in = { .resource_id = "r-0123456789abcdef",
                           .name = "门户 <a&b>",
                           .project_id = "edu-ic",
                           .approval_no = "临政信审〔2026〕35号",
                           .service_id = "ecs-general",
                           .plan_id = "ecs-general-1c2g",
                           .catalog_revision = 3 };
        DriverStamp out = { 0 };
        char *xml = NULL;
        (void)state;

        assert_int_equal(libvirt_xml_stamp(&in, &xml, &err), 0);
        assert_null(strstr(xml, "xmlns"));
        assert_non_null(strstr(xml, "&lt;a&amp;b&gt;"));
        assert_int_equal(libvirt_xml_parse_stamp(xml, &out), 0);
        assert_string_equal(out.resource_id, in.resource_id);
        assert_string_equal(out.name, in.name);
        assert_string_equal(out.project_id, in.project_id);
        assert_string_equal(out.approval_no, in.approval_no);
        assert_string_equal(out.plan_id, in.plan_id);
        assert_int_equal(out.catalog_revision, 3);
        driver_stamp_done(&out);
        free(xml);

        /* No valid resource id: nothing is written. */
        in.resource_id = "bad id/";
        xml = NULL;
        assert_int_equal(libvirt_xml_stamp(&in, &xml, &err), -EINVAL);
        assert_null(xml);
        cb_error_clear(&err);
}

/* The digest cache's fingerprint: key, capacity, allocation and the
 * target's mtime and ctime; a volume without them has none. */
static void test_volume_fingerprint(void **state) {
        static const char vol[] =
                "<volume type='file'>\n  <name>tiny.raw</name>\n  <key>/img/tiny.raw</key>\n"
                "  <capacity unit='bytes'>50331648</capacity>\n  <allocation unit='bytes'>4096</allocation>\n"
                "  <target>\n    <path>/img/tiny.raw</path>\n    <format type='raw'/>\n    <timestamps>\n"
                "      <atime>1764646000.1</atime>\n      <mtime>1764645000.123456789</mtime>\n"
                "      <ctime>1764645001.5</ctime>\n    </timestamps>\n  </target>\n"
                "  <backingStore><path>/x</path><timestamps><mtime>9</mtime><ctime>9</ctime></timestamps>"
                "</backingStore>\n</volume>\n";
        char fp[LIBVIRT_XML_FINGERPRINT_MAX], fp2[LIBVIRT_XML_FINGERPRINT_MAX], small[16];
        (void)state;

        assert_int_equal(libvirt_xml_volume_fingerprint(vol, fp, sizeof(fp)), 0);
        assert_string_equal(fp,
                            "key=/img/tiny.raw;capacity=50331648;allocation=4096;mtime=1764645000.123456789;"
                            "ctime=1764645001.5;");
        /* An access (atime) is no change; a rewrite (mtime, ctime) is. */
        char *other = strdup(vol);
        assert_non_null(other);
        memcpy(strstr(other, "<atime>") + 7, "2", 1);
        assert_int_equal(libvirt_xml_volume_fingerprint(other, fp2, sizeof(fp2)), 0);
        assert_string_equal(fp, fp2);
        memcpy(strstr(other, "<ctime>") + 7, "2", 1);
        assert_int_equal(libvirt_xml_volume_fingerprint(other, fp2, sizeof(fp2)), 0);
        assert_string_not_equal(fp, fp2);
        free(other);
        /* No timestamps (or only the backing store's): none. */
        assert_int_equal(
                libvirt_xml_volume_fingerprint("<volume><key>k</key><capacity>1</capacity>"
                                               "<allocation>1</allocation><target><path>/p</path>"
                                               "</target><backingStore><timestamps><mtime>9</mtime>"
                                               "<ctime>9</ctime></timestamps></backingStore></volume>",
                                               fp, sizeof(fp)),
                -ENODATA);
        assert_int_equal(libvirt_xml_volume_fingerprint("<volume/>", fp, sizeof(fp)), -ENODATA);
        assert_int_equal(libvirt_xml_volume_fingerprint(vol, small, sizeof(small)), -ENOSPC);
        assert_int_equal(libvirt_xml_volume_fingerprint(NULL, fp, sizeof(fp)), -EINVAL);
}

/* The console log's path from a live domain XML, also when an attached
 * volume's disk (its <serial>ID</serial>) comes before the serial device. */
/* What the guest agent answers is taken only when it names one of the
 * guest's NICs with an address; its loopback is left out. */
static void test_agent_addresses(void **state) {
        (void)state;
        json_t *agent = json_loads(
                "[{\"name\": \"lo\", \"mac\": \"00:00:00:00:00:00\", \"addresses\": "
                "[{\"type\": \"ipv4\", \"address\": \"127.0.0.1\", \"prefix\": 8}]},"
                " {\"name\": \"eth0\", \"mac\": \"52:54:00:12:34:56\", \"addresses\": "
                "[{\"type\": \"ipv4\", \"address\": \"10.0.0.5\", \"prefix\": 24}]},"
                " {\"name\": \"eth1\", \"mac\": \"52:54:00:12:34:57\", \"addresses\": []},"
                " {\"name\": \"dummy0\", \"addresses\": [{\"type\": \"ipv4\", \"address\": \"1.2.3.4\", "
                "\"prefix\": 32}]}]",
                0, NULL);
        assert_non_null(agent);
        json_t *kept = libvirt_agent_addresses(agent);
        assert_non_null(kept);
        assert_int_equal(json_array_size(kept), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(kept, 0), "name")), "eth0");
        json_decref(kept);
        json_decref(agent);

        /* Only the loopback, or nothing: no answer worth taking (the leases are read instead). */
        agent = json_loads("[{\"name\": \"lo\", \"mac\": \"00:00:00:00:00:00\", \"addresses\": "
                           "[{\"type\": \"ipv4\", \"address\": \"127.0.0.1\", \"prefix\": 8}]}]",
                           0, NULL);
        assert_null(libvirt_agent_addresses(agent));
        json_decref(agent);
        agent = json_array();
        assert_null(libvirt_agent_addresses(agent));
        json_decref(agent);
}

static void test_console_log_path(void **state) {
        static const char plain[] = "<domain><devices><serial type='pty'><log file='/var/log/c.log' "
                                    "append='off'/><target port='0'/></serial></devices></domain>";
        static const char attached[] =
                "<domain><devices><disk type='volume' device='disk'><source pool='default' volume='v.img'/>"
                "<target dev='vdc' bus='virtio'/><serial>r-0123456789abcdef</serial></disk>"
                "<serial type='pty'><log file='/var/log/c.log' append='off'/></serial></devices></domain>";
        char *path = NULL;
        (void)state;

        assert_int_equal(libvirt_xml_console_log(plain, &path), 0);
        assert_string_equal(path, "/var/log/c.log");
        free(path);
        path = NULL;
        assert_int_equal(libvirt_xml_console_log(attached, &path), 0);
        assert_string_equal(path, "/var/log/c.log");
        free(path);
        assert_int_equal(libvirt_xml_console_log("<domain><devices><disk><serial>x</serial></disk></devices>"
                                                 "</domain>",
                                                 &path),
                         -ENOENT);
}

/* The disks of a persistent and a live definition merged: the source (a
 * pool volume's name or a file's path), its broker volume, the target, and
 * which definitions have it. */
static void test_merge_disks(void **state) {
        (void)state;
        static const char persistent[] =
                "<domain><name>cb-r-1</name><devices>"
                "<disk type='volume' device='disk'><source pool='p' volume='cb-r-1.img'/>"
                "<target dev='vda' bus='virtio'/></disk>"
                "<disk type='file' device='cdrom'><source file='/var/lib/x/cb-r-1-seed.iso'/>"
                "<target dev='vdb'/><readonly/></disk>"
                "<disk type='volume' device='disk'><source pool='p' volume='cb-vol-a.img'/>"
                "<target dev=\"vdc\" bus='virtio'/><serial>vol-a</serial></disk>"
                "<disk type='file' device='disk'><source file='/srv/a&amp;b.img'/><target dev='vdd'/></disk>"
                "<disk type='file' device='cdrom'><target dev='hdc'/></disk>"
                "</devices></domain>";
        static const char live[] =
                "<domain><devices><disk type='volume' device='disk'><source pool='p' volume='cb-r-1.img'/>"
                "<target dev='vda'/></disk>"
                "<disk type='file' device='disk'><source file='/images/cb-vol-b.img'/><target dev='vde'/>"
                "</disk></devices></domain>";
        DriverDisk *d = NULL;
        size_t n = 0;
        assert_int_equal(libvirt_xml_merge_disks(persistent, false, &d, &n), 0);
        assert_int_equal(libvirt_xml_merge_disks(live, true, &d, &n), 0);
        assert_int_equal(n, 6);
        assert_string_equal(d[0].source, "cb-r-1.img");
        assert_string_equal(d[0].volume_id, "r-1");
        assert_true(d[0].persistent && d[0].live);
        assert_string_equal(d[1].volume_id, "r-1");
        assert_true(d[1].seed);
        assert_string_equal(d[2].volume_id, "vol-a");
        assert_string_equal(d[2].target, "vdc");
        assert_true(d[2].persistent);
        assert_false(d[2].live);
        assert_string_equal(d[3].source, "/srv/a&b.img");
        assert_null(d[3].volume_id);
        assert_null(d[4].source); /* an empty drive */
        assert_string_equal(d[4].target, "hdc");
        assert_string_equal(d[5].volume_id, "vol-b"); /* a file whose name is the broker's */
        assert_false(d[5].persistent);
        assert_true(d[5].live);
        for (size_t i = 0; i < n; i++)
                driver_disk_done(&d[i]);
        free(d);

        /* An unclosed <disk> is refused. */
        d = NULL;
        n = 0;
        assert_int_equal(
                libvirt_xml_merge_disks("<devices><disk type='file'><source file='x'/>", false, &d, &n),
                -EBADMSG);
        assert_int_equal(n, 0);
        free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_console_log_path),
                cmocka_unit_test(test_volume_fingerprint),
                cmocka_unit_test(test_definition_edit),
                cmocka_unit_test(test_attached_disk_xml),
                cmocka_unit_test(test_generated_xml_validates),
                cmocka_unit_test(test_volume_xml_validates),
                cmocka_unit_test(test_bad_specs_refused),
                cmocka_unit_test(test_parse_fragment_forms),
                cmocka_unit_test(test_stamp_survives_namespace_in_name),
                cmocka_unit_test(test_pick_domain_type),
                cmocka_unit_test(test_names_and_escape),
                cmocka_unit_test(test_mac_kept),
                cmocka_unit_test(test_migrate_steps),
                cmocka_unit_test(test_volume_format),
                cmocka_unit_test(test_system_disk_xml),
                cmocka_unit_test(test_pool_type),
                cmocka_unit_test(test_adopt_stamp),
                cmocka_unit_test(test_agent_addresses),
                cmocka_unit_test(test_merge_disks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
