/* SPDX-License-Identifier: Apache-2.0 */
/* The broker's metadata stamp in a libvirt domain (libvirt_xml_parse_stamp),
 * which the driver reads back from whatever XML a host returns, and the
 * capabilities reader (libvirt_xml_pick_domain_type). Promises checked
 * beyond no crash:
 *   - a stamp read has a resource id, a refusal is -ENOENT or -EBADMSG and
 *     leaves the result untouched;
 *   - the escaping round trip: the input's lines taken as a spec's
 *     resource id, name, project, approval number, service and plan; when
 *     libvirt_xml_domain() accepts that spec, reading the stamp back from
 *     its XML, and from the metadata fragment libvirt makes of it, gives
 *     every string back unchanged. */
#include "fuzz.h"
#include "libvirt-xml.h"

static void check_parse(const char *xml) {
        DriverStamp s = { 0 };
        int r = libvirt_xml_parse_stamp(xml, &s);

        if (r < 0) {
                FUZZ_ASSERT(r == -ENOENT || r == -EBADMSG);
                FUZZ_ASSERT(!s.resource_id && !s.name && !s.project_id && !s.approval_no && !s.service_id &&
                            !s.plan_id && s.catalog_revision == 0);
                return;
        }
        FUZZ_ASSERT(s.resource_id && s.resource_id[0]);
        driver_stamp_done(&s);
}

static bool same(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static void check_same(const DriverStamp *s, const ProvisionSpec *spec) {
        FUZZ_ASSERT(same(s->resource_id, spec->resource_id) && same(s->name, spec->name) &&
                    same(s->project_id, spec->project_id) && same(s->approval_no, spec->approval_no) &&
                    same(s->service_id, spec->catalog_service_id) &&
                    same(s->plan_id, spec->catalog_plan_id) && s->catalog_revision == spec->catalog_revision);
}

/* The stamp as virDomainGetMetadata(ELEMENT) hands it to the driver: the
 * element alone, without prefix and namespace declaration. Text holds no
 * '<' (escaped), so only tags change. */
static char *metadata_fragment(const char *xml) {
        const char *b = strstr(xml, "<" CB_XML_NS_PREFIX ":" CB_XML_STAMP_KEY " ");
        const char *e = b ? strstr(b, "</" CB_XML_NS_PREFIX ":" CB_XML_STAMP_KEY ">") : NULL;
        const char *decl = " xmlns:" CB_XML_NS_PREFIX "='" CB_XML_NS_URI "'";
        char *out, *o;

        FUZZ_ASSERT(b && e);
        e += strlen("</" CB_XML_NS_PREFIX ":" CB_XML_STAMP_KEY ">");
        out = o = malloc(e - b + 1);
        FUZZ_ASSERT(out);
        for (const char *p = b; p < e;) {
                if (!strncmp(p, "<" CB_XML_NS_PREFIX ":", 4))
                        *o++ = '<', p += 4;
                else if (!strncmp(p, "</" CB_XML_NS_PREFIX ":", 5))
                        *o++ = '<', *o++ = '/', p += 5;
                else if (!strncmp(p, decl, strlen(decl)))
                        p += strlen(decl);
                else
                        *o++ = *p++;
        }
        *o = 0;
        return out;
}

static void check_round_trip(char *text) {
        const char *fields[6] = { 0 };
        char *save = NULL, *line, *xml = NULL, *fragment;
        size_t n = 0;
        CbError err = CB_ERROR_INIT;
        DriverStamp s = { 0 };

        for (line = strtok_r(text, "\n", &save); line && n < 6; line = strtok_r(NULL, "\n", &save))
                fields[n++] = line;
        if (n < 6)
                return;
        ProvisionSpec spec = {
                .resource_id = fields[0],
                .name = fields[1],
                .project_id = fields[2],
                .approval_no = fields[3],
                .catalog_service_id = fields[4],
                .catalog_plan_id = fields[5],
                .catalog_revision = 7,
                .vcpus = 1,
                .memory_mib = 64,
        };
        if (libvirt_xml_domain(&spec, "qemu", &xml, &err) < 0) {
                fuzz_check_refusal(-EINVAL, &err);
                return;
        }
        FUZZ_ASSERT(libvirt_xml_parse_stamp(xml, &s) == 0);
        check_same(&s, &spec);
        driver_stamp_done(&s);
        fragment = metadata_fragment(xml);
        FUZZ_ASSERT(libvirt_xml_parse_stamp(fragment, &s) == 0);
        check_same(&s, &spec);
        free(fragment);
        FUZZ_ASSERT(libvirt_xml_pick_domain_type(xml, "x86_64", NULL) == NULL ||
                    strcmp(libvirt_xml_pick_domain_type(xml, "x86_64", NULL), "qemu") == 0);
        driver_stamp_done(&s);
        free(xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_cstring(data, size);
        const char *type;

        check_parse(text);
        type = libvirt_xml_pick_domain_type(text, "x86_64", NULL);
        FUZZ_ASSERT(!type || !strcmp(type, "kvm") || !strcmp(type, "qemu") || !strcmp(type, "test"));
        type = libvirt_xml_pick_domain_type(text, "aarch64", "qemu");
        FUZZ_ASSERT(!type || !strcmp(type, "qemu"));
        check_round_trip(text);
        free(text);
        return 0;
}
