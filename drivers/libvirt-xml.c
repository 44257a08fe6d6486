/* SPDX-License-Identifier: Apache-2.0 */
#include "libvirt-xml.h"

#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void fputs_escaped(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&apos;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

/* open_memstream() buffers are only valid after fclose(); this does both. */
static int memstream_finish(FILE *f, char **buf, char **ret) {
        bool failed = ferror(f);
        if (fclose(f) != 0 || failed) {
                free(*buf);
                *buf = NULL;
                return -ENOMEM;
        }
        *ret = *buf;
        *buf = NULL;
        return 0;
}

char *xml_escape(const char *s) {
        char *buf = NULL, *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs_escaped(f, s);
        return memstream_finish(f, &buf, &out) < 0 ? NULL : out;
}

int libvirt_xml_domain_name(const char *resource_id, char **ret) {
        if (!driver_resource_id_is_valid(resource_id))
                return -EINVAL;
        char *s = NULL;
        if (asprintf(&s, "cb-%s", resource_id) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int libvirt_xml_volume_name(const char *resource_id, char **ret) {
        if (!driver_resource_id_is_valid(resource_id))
                return -EINVAL;
        char *s = NULL;
        if (asprintf(&s, "cb-%s.img", resource_id) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int libvirt_xml_add_device(const char *domain_xml, const char *device, char **ret) {
        const char *end = domain_xml ? strstr(domain_xml, "</devices>") : NULL;
        char *s = NULL;
        if (!end || strstr(end + 1, "</devices>") || !device)
                return -EBADMSG;
        /* At the start of the closing line, so that taking it out restores the text. */
        while (end > domain_xml && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (asprintf(&s, "%.*s%s%s", (int)(end - domain_xml), domain_xml, device, end) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int libvirt_xml_remove_disk(const char *domain_xml, const char *serial, char **ret) {
        _cleanup_(freep) char *want = NULL;
        const char *p, *found, *begin = NULL, *end;
        char *s = NULL;

        if (!domain_xml || !serial)
                return -ENOENT;
        if (asprintf(&want, "<serial>%s</serial>", serial) < 0)
                return -ENOMEM;
        found = strstr(domain_xml, want);
        if (!found)
                return -ENOENT;
        /* The <disk ...> that opens last before the serial must close after it. */
        for (p = domain_xml; (p = strstr(p, "<disk")) && p < found; p++)
                if (p[5] == ' ' || p[5] == '>')
                        begin = p;
        end = strstr(found, "</disk>");
        if (!begin || !end)
                return -EBADMSG;
        {
                const char *close = strstr(begin, "</disk>");
                if (close != end)
                        return -EBADMSG;
        }
        end += strlen("</disk>");
        /* Take the line's indentation and end with it. */
        while (begin > domain_xml && (begin[-1] == ' ' || begin[-1] == '\t'))
                begin--;
        if (*end == '\n')
                end++;
        if (asprintf(&s, "%.*s%s", (int)(begin - domain_xml), domain_xml, end) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

bool libvirt_xml_attach_target_is_valid(const char *target) {
        return target && strlen(target) == 3 && target[0] == 'v' && target[1] == 'd' && target[2] >= 'c' &&
               target[2] <= 'z';
}

static int disk_xml(const char *pool, const char *volume_resource_id, const char *target, char first,
                    char **ret, CbError *err) {
        _cleanup_(freep) char *volume = NULL, *epool = NULL;
        char *s = NULL;

        if (!driver_resource_id_is_valid(volume_resource_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "volume_id",
                                          "volume_id: '%s' is not a resource id",
                                          volume_resource_id ? volume_resource_id : "(null)");
        if (!target || strlen(target) != 3 || target[0] != 'v' || target[1] != 'd' || target[2] < first ||
            target[2] > 'z')
                return cb_error_set_field(err, CB_ERR_VALIDATION, "target",
                                          "target: '%s' is not one of vd%c..vdz", target ? target : "(null)",
                                          first);
        if (libvirt_xml_volume_name(volume_resource_id, &volume) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        epool = xml_escape(isempty(pool) ? "default" : pool);
        if (!epool)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (asprintf(&s,
                     "<disk type='volume' device='disk'>\n"
                     "  <driver name='qemu' type='raw'/>\n"
                     "  <source pool='%s' volume='%s'/>\n"
                     "  <target dev='%s' bus='virtio'/>\n"
                     "  <serial>%s</serial>\n"
                     "</disk>\n",
                     epool, volume, target, volume_resource_id) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = s;
        return 0;
}

int libvirt_xml_attached_disk(const char *pool, const char *volume_resource_id, const char *target,
                              char **ret, CbError *err) {
        return disk_xml(pool, volume_resource_id, target, 'c', ret, err);
}

int libvirt_xml_moved_disk(const char *pool, const char *volume_resource_id, const char *target, char **ret,
                           CbError *err) {
        return disk_xml(pool, volume_resource_id, target, 'b', ret, err);
}

int libvirt_xml_seed_name(const char *resource_id, char **ret) {
        if (!driver_resource_id_is_valid(resource_id))
                return -EINVAL;
        char *s = NULL;
        if (asprintf(&s, "cb-%s-seed.iso", resource_id) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int libvirt_xml_volume_resource_id(const char *volume_name, char **ret) {
        size_t n = volume_name ? strlen(volume_name) : 0;
        static const char seed[] = "-seed.iso";
        if (n > strlen("cb-") + strlen(seed) && strncmp(volume_name, "cb-", 3) == 0 &&
            streq(volume_name + n - strlen(seed), seed)) {
                char *id = strndup(volume_name + 3, n - 3 - strlen(seed));
                if (!id)
                        return -ENOMEM;
                if (!driver_resource_id_is_valid(id)) {
                        free(id);
                        return -ENOENT;
                }
                *ret = id;
                return 0;
        }
        if (n <= strlen("cb-.img") || strncmp(volume_name, "cb-", 3) != 0 ||
            !streq(volume_name + n - 4, ".img"))
                return -ENOENT;
        char *id = strndup(volume_name + 3, n - 7);
        if (!id)
                return -ENOMEM;
        if (!driver_resource_id_is_valid(id)) {
                free(id);
                return -ENOENT;
        }
        *ret = id;
        return 0;
}

static const char *spec_pool(const ProvisionSpec *spec) {
        return isempty(spec->pool) ? "default" : spec->pool;
}

static void write_elem(FILE *f, const char *name, const char *value) {
        fprintf(f, "      <" CB_XML_NS_PREFIX ":%s>", name);
        fputs_escaped(f, value);
        fprintf(f, "</" CB_XML_NS_PREFIX ":%s>\n", name);
}

/* virDomainSetMetadata() puts the namespace on the element itself: the
 * text has none (a declaration of the prefix is refused), and its children
 * are unprefixed, the fragment GetMetadata gives back. */
static void write_plain(FILE *f, const char *name, const char *value) {
        fprintf(f, "  <%s>", name);
        fputs_escaped(f, value ? value : "");
        fprintf(f, "</%s>\n", name);
}

int libvirt_xml_stamp(const DriverStamp *stamp, char **ret, CbError *err) {
        if (!driver_resource_id_is_valid(stamp->resource_id))
                return cb_error_set(err, CB_ERR_INVALID, "invalid resource id");
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        fputs("<" CB_XML_STAMP_KEY " version='1'>\n", f);
        write_plain(f, "resource-id", stamp->resource_id);
        write_plain(f, "name", stamp->name);
        write_plain(f, "project-id", stamp->project_id);
        write_plain(f, "approval-no", stamp->approval_no);
        write_plain(f, "service-id", stamp->service_id);
        write_plain(f, "plan-id", stamp->plan_id);
        fprintf(f, "  <catalog-revision>%u</catalog-revision>\n", stamp->catalog_revision);
        fputs("</" CB_XML_STAMP_KEY ">\n", f);
        if (fclose(f) != 0 || !buf)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = TAKE_PTR(buf);
        return 0;
}

int libvirt_xml_domain(const ProvisionSpec *spec, const char *domain_type, char **ret, CbError *err) {
        int r = provision_spec_validate(spec, err);
        if (r < 0)
                return r;
        if (!driver_resource_id_is_valid(domain_type))
                return cb_error_set(err, CB_ERR_INVALID, "invalid domain type");

        _cleanup_(freep) char *name = NULL, *volume = NULL;
        if (libvirt_xml_domain_name(spec->resource_id, &name) < 0 ||
            libvirt_xml_volume_name(spec->resource_id, &volume) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        const char *arch = spec->arch ? spec->arch : "x86_64";
        bool x86 = streq(arch, "x86_64") || streq(arch, "i686");

        _cleanup_(freep) char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        fprintf(f, "<domain type='%s'>\n", domain_type);
        fprintf(f, "  <name>%s</name>\n", name);
        fputs("  <title>", f);
        fputs_escaped(f, spec->name);
        fputs("</title>\n", f);
        fputs("  <description>cloudbroker resource ", f);
        fputs_escaped(f, spec->resource_id);
        fputs(" of project ", f);
        fputs_escaped(f, spec->project_id);
        fputs("</description>\n", f);

        fputs("  <metadata>\n", f);
        fputs("    <" CB_XML_NS_PREFIX ":" CB_XML_STAMP_KEY " xmlns:" CB_XML_NS_PREFIX "='" CB_XML_NS_URI
              "' version='1'>\n",
              f);
        write_elem(f, "resource-id", spec->resource_id);
        write_elem(f, "name", spec->name);
        write_elem(f, "project-id", spec->project_id);
        write_elem(f, "approval-no", spec->approval_no);
        write_elem(f, "service-id", spec->catalog_service_id);
        write_elem(f, "plan-id", spec->catalog_plan_id);
        fprintf(f,
                "      <" CB_XML_NS_PREFIX ":catalog-revision>%u</" CB_XML_NS_PREFIX ":catalog-revision>\n",
                spec->catalog_revision);
        fputs("    </" CB_XML_NS_PREFIX ":" CB_XML_STAMP_KEY ">\n", f);
        fputs("  </metadata>\n", f);

        fprintf(f, "  <memory unit='MiB'>%" PRIu64 "</memory>\n", spec->memory_mib);
        fprintf(f, "  <currentMemory unit='MiB'>%" PRIu64 "</currentMemory>\n", spec->memory_mib);
        fprintf(f, "  <vcpu placement='static'>%u</vcpu>\n", spec->vcpus);
        fprintf(f, "  <os>\n    <type arch='%s'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n", arch);
        /* ACPI is what makes a graceful shutdown request reach the guest. */
        fprintf(f, "  <features>\n    <acpi/>\n%s  </features>\n", x86 ? "    <apic/>\n" : "");
        fputs("  <on_poweroff>destroy</on_poweroff>\n"
              "  <on_reboot>restart</on_reboot>\n"
              "  <on_crash>destroy</on_crash>\n",
              f);

        fputs("  <devices>\n", f);
        if (spec->disk_gib > 0)
                fprintf(f,
                        "    <disk type='volume' device='disk'>\n"
                        "      <driver name='qemu' type='%s'/>\n"
                        "      <source pool='%s' volume='%s'/>\n"
                        "      <target dev='vda' bus='virtio'/>\n"
                        "    </disk>\n",
                        spec->disk_format ? spec->disk_format : "raw", spec_pool(spec), volume);
        if (spec->seed_meta_data) {
                _cleanup_(freep) char *seed = NULL;
                if (libvirt_xml_seed_name(spec->resource_id, &seed) < 0) {
                        fclose(f);
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                /* A virtio disk, as every arch has one; cloud-init finds it by its label. */
                fprintf(f,
                        "    <disk type='volume' device='disk'>\n"
                        "      <driver name='qemu' type='raw'/>\n"
                        "      <source pool='%s' volume='%s'/>\n"
                        "      <target dev='vdb' bus='virtio'/>\n"
                        "      <readonly/>\n"
                        "    </disk>\n",
                        spec_pool(spec), seed);
        }
        if (!isempty(spec->network))
                fprintf(f,
                        "    <interface type='network'>\n"
                        "%s%s%s"
                        "      <source network='%s'/>\n"
                        "      <model type='virtio'/>\n"
                        "    </interface>\n",
                        spec->mac ? "      <mac address='" : "", spec->mac ? spec->mac : "",
                        spec->mac ? "'/>\n" : "", spec->network);
        /* The pty stays (virsh console works); libvirt copies what the guest
         * writes into the log, which GET .../console reads back. */
        fprintf(f,
                "    <serial type='pty'>\n"
                "      <log file='" LIBVIRT_CONSOLE_LOG_DIR "/%s-console.log' append='off'/>\n"
                "      <target port='0'/>\n"
                "    </serial>\n",
                name);
        fputs("    <console type='pty'>\n"
              "      <target type='serial' port='0'/>\n"
              "    </console>\n",
              f);
        /* The guest agent's port (libvirt picks the socket): where a guest
         * runs qemu-ga, its addresses come from it. */
        if (!isempty(spec->network))
                fputs("    <channel type='unix'>\n"
                      "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
                      "    </channel>\n",
                      f);
        fputs("  </devices>\n</domain>\n", f);

        if (memstream_finish(f, &buf, ret) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return 0;
}

int libvirt_xml_volume(const ProvisionSpec *spec, char **ret, CbError *err) {
        int r = provision_spec_validate(spec, err);
        if (r < 0)
                return r;
        if (spec->disk_gib == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "disk_gib", "no disk requested");
        _cleanup_(freep) char *volume = NULL;
        if (libvirt_xml_volume_name(spec->resource_id, &volume) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        char *s = NULL;
        /* allocation 0: a sparse raw file, created without qemu-img. */
        if (asprintf(&s,
                     "<volume>\n"
                     "  <name>%s</name>\n"
                     "  <capacity unit='GiB'>%" PRIu64 "</capacity>\n"
                     "  <allocation unit='bytes'>0</allocation>\n"
                     "  <target>\n"
                     "    <format type='raw'/>\n"
                     "  </target>\n"
                     "</volume>\n",
                     volume, spec->disk_gib) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = s;
        return 0;
}

/* --- reading the stamp back --------------------------------------------- */

static void put_utf8(char **o, unsigned cp) {
        unsigned char *p = (unsigned char *)*o;
        if (cp < 0x80)
                *p++ = cp;
        else if (cp < 0x800) {
                *p++ = 0xc0 | (cp >> 6);
                *p++ = 0x80 | (cp & 0x3f);
        } else if (cp < 0x10000) {
                *p++ = 0xe0 | (cp >> 12);
                *p++ = 0x80 | ((cp >> 6) & 0x3f);
                *p++ = 0x80 | (cp & 0x3f);
        } else {
                *p++ = 0xf0 | (cp >> 18);
                *p++ = 0x80 | ((cp >> 12) & 0x3f);
                *p++ = 0x80 | ((cp >> 6) & 0x3f);
                *p++ = 0x80 | (cp & 0x3f);
        }
        *o = (char *)p;
}

/* Decodes XML character data [s, e): the five predefined entities and
 * numeric character references. Any markup inside is refused. A decoded
 * string is never longer than its encoding, so one allocation suffices. */
static int xml_unescape(const char *s, const char *e, char **ret) {
        _cleanup_(freep) char *out = malloc(e - s + 1);
        if (!out)
                return -ENOMEM;
        char *o = out;
        while (s < e) {
                if (*s == '<')
                        return -EBADMSG;
                if (*s != '&') {
                        *o++ = *s++;
                        continue;
                }
                const char *semi = memchr(s, ';', e - s);
                if (!semi || semi - s > 12)
                        return -EBADMSG;
                size_t n = semi - s - 1;
                const char *ent = s + 1;
                if (n == 2 && !strncmp(ent, "lt", 2))
                        *o++ = '<';
                else if (n == 2 && !strncmp(ent, "gt", 2))
                        *o++ = '>';
                else if (n == 3 && !strncmp(ent, "amp", 3))
                        *o++ = '&';
                else if (n == 4 && !strncmp(ent, "quot", 4))
                        *o++ = '"';
                else if (n == 4 && !strncmp(ent, "apos", 4))
                        *o++ = '\'';
                else if (n >= 2 && ent[0] == '#') {
                        bool hex = ent[1] == 'x';
                        const char *d = ent + (hex ? 2 : 1);
                        if (d >= semi)
                                return -EBADMSG;
                        unsigned long cp = 0;
                        for (; d < semi; d++) {
                                int v;
                                if (*d >= '0' && *d <= '9')
                                        v = *d - '0';
                                else if (hex && *d >= 'a' && *d <= 'f')
                                        v = *d - 'a' + 10;
                                else if (hex && *d >= 'A' && *d <= 'F')
                                        v = *d - 'A' + 10;
                                else
                                        return -EBADMSG;
                                cp = cp * (hex ? 16 : 10) + v;
                                if (cp > 0x10ffff)
                                        return -EBADMSG;
                        }
                        if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                                return -EBADMSG;
                        put_utf8(&o, cp);
                } else
                        return -EBADMSG;
                s = semi + 1;
        }
        *o = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

static bool is_name_end(char c) {
        return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Finds "<qname" followed by the end of the name in [s, e). */
static const char *find_tag(const char *s, const char *e, const char *qname) {
        size_t n = strlen(qname);
        for (const char *p = s; p + n + 1 < e; p++) {
                p = memchr(p, '<', e - p);
                if (!p || p + n + 1 >= e)
                        return NULL;
                if (!strncmp(p + 1, qname, n) && is_name_end(p[1 + n]))
                        return p;
        }
        return NULL;
}

/* The text of child element `local` of the stamp body [s, e); NULL (and 0)
 * when the child is absent; "" for an empty element. */
static int stamp_child(const char *s, const char *e, const char *prefix, const char *local, char **ret) {
        _cleanup_(freep) char *qname = NULL;
        if (asprintf(&qname, "%s%s%s", prefix, *prefix ? ":" : "", local) < 0)
                return -ENOMEM;
        const char *tag = find_tag(s, e, qname);
        if (!tag) {
                *ret = NULL;
                return 0;
        }
        const char *gt = memchr(tag, '>', e - tag);
        if (!gt)
                return -EBADMSG;
        if (gt[-1] == '/') {
                char *empty = strdup("");
                if (!empty)
                        return -ENOMEM;
                *ret = empty;
                return 0;
        }
        _cleanup_(freep) char *close = NULL;
        if (asprintf(&close, "</%s>", qname) < 0)
                return -ENOMEM;
        const char *end = memmem(gt + 1, e - gt - 1, close, strlen(close));
        if (!end)
                return -EBADMSG;
        return xml_unescape(gt + 1, end, ret);
}

/* The namespace declaration xmlns:PFX="URI" (or xmlns="URI") whose URI
 * starts at uri: its prefix and the '<' of the element carrying it.
 * -EBADMSG when the URI stands anywhere else, e.g. in a VM's title, where
 * escaping keeps it from ever following a quote. */
static int stamp_declared_at(const char *xml, const char *uri, char **ret_prefix, const char **ret_start) {
        const char *q = uri - 1, *start;
        char *prefix;

        if (uri - xml < 2 || (*q != '"' && *q != '\''))
                return -EBADMSG;
        q--;
        while (q > xml && (*q == ' ' || *q == '\t'))
                q--;
        if (q <= xml || *q != '=')
                return -EBADMSG;
        q--;
        while (q > xml && (*q == ' ' || *q == '\t'))
                q--;
        const char *name_end = q + 1;
        while (q > xml && !strchr(" \t\r\n<", *q))
                q--;
        const char *attr = q + 1;
        if (name_end - attr > 6 && !strncmp(attr, "xmlns:", 6))
                prefix = strndup(attr + 6, name_end - attr - 6);
        else if (name_end - attr == 5 && !strncmp(attr, "xmlns", 5))
                prefix = strdup("");
        else
                return -EBADMSG;
        if (!prefix)
                return -ENOMEM;
        for (start = q; start > xml && *start != '<'; start--)
                ;
        if (*start != '<') {
                free(prefix);
                return -EBADMSG;
        }
        *ret_prefix = prefix;
        *ret_start = start;
        return 0;
}

/* Locates the stamp element: its namespace prefix and the body between its
 * start and end tags. */
static int find_stamp(const char *xml, char **ret_prefix, const char **ret_body, const char **ret_end) {
        const char *xml_end = xml + strlen(xml);
        const char *start = NULL;
        _cleanup_(freep) char *prefix = NULL;

        /* The first occurrence that is a declaration: the URI may also
         * stand in text (a VM named after it, in its title or in the
         * stamp's own name). Only as text, it is a fragment without one. */
        const char *uri;
        for (uri = strstr(xml, CB_XML_NS_URI); uri; uri = strstr(uri + 1, CB_XML_NS_URI)) {
                int r = stamp_declared_at(xml, uri, &prefix, &start);
                if (r == 0)
                        break;
                if (r != -EBADMSG)
                        return r;
        }
        if (!uri) {
                /* virDomainGetMetadata() returns the element without its namespace. */
                const char *p = xml;
                while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                        p++;
                if (!strncmp(p, "<?xml", 5)) {
                        p = strstr(p, "?>");
                        if (!p)
                                return -EBADMSG;
                        p += 2;
                        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                                p++;
                }
                if (strncmp(p, "<" CB_XML_STAMP_KEY, strlen("<" CB_XML_STAMP_KEY)) ||
                    !is_name_end(p[strlen("<" CB_XML_STAMP_KEY)]))
                        return -ENOENT;
                start = p;
                prefix = strdup("");
                if (!prefix)
                        return -ENOMEM;
        }

        _cleanup_(freep) char *qname = NULL;
        if (asprintf(&qname, "%s%s" CB_XML_STAMP_KEY, prefix, *prefix ? ":" : "") < 0)
                return -ENOMEM;
        size_t qlen = strlen(qname);
        if (strncmp(start + 1, qname, qlen) || !is_name_end(start[1 + qlen]))
                return -EBADMSG;
        const char *gt = strchr(start, '>');
        if (!gt || gt[-1] == '/')
                return -EBADMSG; /* no body: no resource-id */
        _cleanup_(freep) char *close = NULL;
        if (asprintf(&close, "</%s>", qname) < 0)
                return -ENOMEM;
        const char *end = memmem(gt + 1, xml_end - gt - 1, close, strlen(close));
        if (!end)
                return -EBADMSG;
        *ret_prefix = TAKE_PTR(prefix);
        *ret_body = gt + 1;
        *ret_end = end;
        return 0;
}

int libvirt_xml_parse_stamp(const char *xml, DriverStamp *ret) {
        if (!xml || !ret)
                return -EINVAL;
        _cleanup_(freep) char *prefix = NULL;
        const char *body = NULL, *end = NULL;
        int r = find_stamp(xml, &prefix, &body, &end);
        if (r < 0)
                return r;

        DriverStamp s = { 0 };
        _cleanup_(freep) char *revision = NULL;
        if ((r = stamp_child(body, end, prefix, "resource-id", &s.resource_id)) < 0 ||
            (r = stamp_child(body, end, prefix, "name", &s.name)) < 0 ||
            (r = stamp_child(body, end, prefix, "project-id", &s.project_id)) < 0 ||
            (r = stamp_child(body, end, prefix, "approval-no", &s.approval_no)) < 0 ||
            (r = stamp_child(body, end, prefix, "service-id", &s.service_id)) < 0 ||
            (r = stamp_child(body, end, prefix, "plan-id", &s.plan_id)) < 0 ||
            (r = stamp_child(body, end, prefix, "catalog-revision", &revision)) < 0)
                goto fail;
        if (isempty(s.resource_id)) {
                r = -EBADMSG;
                goto fail;
        }
        if (revision) {
                char *q = NULL;
                errno = 0;
                unsigned long v = strtoul(revision, &q, 10);
                if (errno || q == revision || *q || revision[0] == '-' || v > UINT32_MAX) {
                        r = -EBADMSG;
                        goto fail;
                }
                s.catalog_revision = (unsigned)v;
        }
        *ret = s;
        return 0;
fail:
        driver_stamp_done(&s);
        return r;
}

/* --- host capabilities ---------------------------------------------------- */

static bool offers_type(const char *s, const char *e, const char *type) {
        char a[64], b[64];
        snprintf(a, sizeof(a), "<domain type='%s'", type);
        snprintf(b, sizeof(b), "<domain type=\"%s\"", type);
        return memmem(s, e - s, a, strlen(a)) || memmem(s, e - s, b, strlen(b));
}

const char *libvirt_xml_pick_domain_type(const char *caps_xml, const char *arch, const char *want) {
        static const char *const preferred[] = { "kvm", "qemu", "test" };
        if (!caps_xml)
                return NULL;
        const char *s = caps_xml, *e = caps_xml + strlen(caps_xml);

        /* Prefer the block of the requested arch; a host without one (the
         * test driver has only i686) is judged on the whole document. */
        if (arch) {
                char a[96], b[96];
                snprintf(a, sizeof(a), "<arch name='%s'>", arch);
                snprintf(b, sizeof(b), "<arch name=\"%s\">", arch);
                const char *blk = strstr(caps_xml, a);
                if (!blk)
                        blk = strstr(caps_xml, b);
                if (blk) {
                        const char *blk_end = strstr(blk, "</arch>");
                        s = blk;
                        e = blk_end ? blk_end : e;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(preferred); i++)
                if ((!want || strcmp(want, preferred[i]) == 0) && offers_type(s, e, preferred[i]))
                        return preferred[i];
        return NULL;
}

/* --- a storage volume's format -------------------------------------------- */

int libvirt_xml_volume_format(const char *xml, char *ret, size_t size) {
        const char *t, *f, *end, *v;
        char quote;
        size_t n = 0;

        t = xml ? strstr(xml, "<target>") : NULL;
        if (!t)
                return -ENOENT;
        end = strstr(t, "</target>");
        f = strstr(t, "<format");
        /* The backing store has a <format> of its own, after </target>. */
        if (!f || (end && f > end) || !is_name_end(f[7]))
                return -ENOENT;
        v = strstr(f, "type=");
        if (!v || (end && v > end))
                return -ENOENT;
        v += 5;
        quote = *v;
        if (quote != '\'' && quote != '"')
                return -EBADMSG;
        for (v++; v[n] && v[n] != quote; n++)
                if (!((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= '0' && v[n] <= '9')) || n + 1 >= size)
                        return -EBADMSG;
        if (v[n] != quote || n == 0)
                return -EBADMSG;
        memcpy(ret, v, n);
        ret[n] = 0;
        return 0;
}

/* --- the system disk from an image ---------------------------------------- */

int libvirt_xml_system_disk(const ProvisionSpec *spec, const char *backing_path, char **ret, CbError *err) {
        int r = provision_spec_validate(spec, err);
        if (r < 0)
                return r;
        if (!spec->image_volume)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "image_volume",
                                          "no image to build the disk from");
        if (backing_path && (backing_path[0] != '/' || strlen(backing_path) > 4096))
                return cb_error_set(err, CB_ERR_INVALID, "the image's path must be absolute");

        _cleanup_(freep) char *volume = NULL, *buf = NULL;
        size_t len = 0;
        if (libvirt_xml_volume_name(spec->resource_id, &volume) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        fprintf(f,
                "<volume>\n"
                "  <name>%s</name>\n"
                "  <capacity unit='GiB'>%" PRIu64 "</capacity>\n",
                volume, spec->disk_gib);
        if (backing_path) {
                /* allocation 0: only what the guest writes takes space; the
                 * backing file is opened read-only by QEMU. */
                fputs("  <allocation unit='bytes'>0</allocation>\n"
                      "  <target>\n"
                      "    <format type='qcow2'/>\n"
                      "  </target>\n"
                      "  <backingStore>\n"
                      "    <path>",
                      f);
                fputs_escaped(f, backing_path);
                fprintf(f,
                        "</path>\n"
                        "    <format type='%s'/>\n"
                        "  </backingStore>\n",
                        spec->image_format);
        } else
                /* A clone names no format: each pool type has its own
                 * vocabulary (partition types for disk pools, none for
                 * logical ones), and what it holds is raw to the guest. */
                fputs("  <target/>\n", f);
        fputs("</volume>\n", f);
        if (memstream_finish(f, &buf, ret) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return 0;
}

int libvirt_xml_pool_type(const char *xml, char *ret, size_t size) {
        const char *p = xml ? strstr(xml, "<pool") : NULL, *v, *gt;
        char quote;
        size_t n = 0;

        if (!p || !is_name_end(p[5]))
                return -ENOENT;
        gt = strchr(p, '>');
        v = strstr(p, "type=");
        if (!v || (gt && v > gt))
                return -ENOENT;
        v += 5;
        quote = *v;
        if (quote != '\'' && quote != '"')
                return -EBADMSG;
        for (v++; v[n] && v[n] != quote; n++)
                if (!((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= '0' && v[n] <= '9') || v[n] == '-') ||
                    n + 1 >= size)
                        return -EBADMSG;
        if (v[n] != quote || n == 0)
                return -EBADMSG;
        memcpy(ret, v, n);
        ret[n] = 0;
        return 0;
}

bool libvirt_xml_pool_has_backing(const char *pool_type) {
        return pool_type && (streq(pool_type, "dir") || streq(pool_type, "fs") || streq(pool_type, "netfs"));
}

int libvirt_xml_seed_volume(const char *resource_id, size_t len, char **ret) {
        _cleanup_(freep) char *name = NULL;
        char *s = NULL;
        if (libvirt_xml_seed_name(resource_id, &name) < 0)
                return -EINVAL;
        if (asprintf(&s,
                     "<volume>\n"
                     "  <name>%s</name>\n"
                     "  <capacity unit='bytes'>%zu</capacity>\n"
                     "  <target/>\n" /* the pool's default format: raw bytes (see the clone) */
                     "</volume>\n",
                     name, len) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int libvirt_xml_image_volume(const char *name, uint64_t size, const char *format, char **ret) {
        _cleanup_(freep) char *escaped = xml_escape(name);
        char *s = NULL;
        if (!escaped || !format)
                return -ENOMEM;
        if (asprintf(&s,
                     "<volume>\n"
                     "  <name>%s</name>\n"
                     "  <capacity unit='bytes'>%" PRIu64 "</capacity>\n"
                     "  <target>\n"
                     "    <format type='%s'/>\n"
                     "  </target>\n"
                     "</volume>\n",
                     escaped, size, format) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int libvirt_xml_console_log(const char *xml, char **ret) {
        /* The serial device, <serial type=...>: not a disk's <serial>ID</serial>
         * (an attached volume's, which comes before the devices' consoles). */
        const char *serial = xml ? strstr(xml, "<serial") : NULL;
        while (serial && serial[7] == '>')
                serial = strstr(serial + 7, "<serial");
        if (!serial)
                return -ENOENT;
        const char *end = strstr(serial, "</serial>");
        const char *log = strstr(serial, "<log file=");
        if (!log || (end && log > end))
                return -ENOENT;
        log += strlen("<log file=");
        char q = *log;
        if (q != '\'' && q != '"')
                return -EBADMSG;
        const char *stop = strchr(log + 1, q);
        if (!stop || stop == log + 1)
                return -EBADMSG;
        return xml_unescape(log + 1, stop, ret);
}

/* The text of the first <tag ...>TEXT</tag> in [s, e), without markup
 * inside; NULL when absent. *ret_n is its length. */
static const char *elem_text(const char *s, const char *e, const char *tag, size_t *ret_n) {
        const char *t = find_tag(s, e, tag), *v, *end;
        if (!t)
                return NULL;
        v = memchr(t, '>', e - t);
        if (!v || v[-1] == '/')
                return NULL;
        v++;
        end = memchr(v, '<', e - v);
        if (!end)
                return NULL;
        *ret_n = (size_t)(end - v);
        return v;
}

int libvirt_xml_volume_fingerprint(const char *xml, char *ret, size_t size) {
        static const char *const top[] = { "key", "capacity", "allocation" };
        static const char *const times[] = { "mtime", "ctime" };
        const char *e, *t, *te, *v;
        size_t n, len = 0;
        char buf[512];

        if (!xml || !ret || size == 0)
                return -EINVAL;
        e = xml + strlen(xml);
        t = find_tag(xml, e, "target");
        te = t ? strstr(t, "</target>") : NULL;
        if (!t || !te)
                return -ENODATA;
        for (size_t i = 0; i < ELEMENTSOF(top); i++) {
                /* Before <target>: the volume's own, not its backing store's. */
                v = elem_text(xml, t, top[i], &n);
                if (!v)
                        return -ENODATA;
                int w = snprintf(buf + len, sizeof(buf) - len, "%s=%.*s;", top[i], (int)n, v);
                if (w < 0 || (size_t)w >= sizeof(buf) - len)
                        return -ENOSPC;
                len += (size_t)w;
        }
        for (size_t i = 0; i < ELEMENTSOF(times); i++) {
                v = elem_text(t, te, times[i], &n);
                if (!v || n == 0)
                        return -ENODATA; /* no timestamps: nothing tells a rewrite */
                int w = snprintf(buf + len, sizeof(buf) - len, "%s=%.*s;", times[i], (int)n, v);
                if (w < 0 || (size_t)w >= sizeof(buf) - len)
                        return -ENOSPC;
                len += (size_t)w;
        }
        if (len + 1 > size)
                return -ENOSPC;
        memcpy(ret, buf, len + 1);
        return 0;
}

json_t *libvirt_agent_addresses(const json_t *agent) {
        json_t *kept = json_array(), *iface;
        size_t i;

        if (!kept)
                return NULL;
        json_array_foreach(agent, i, iface) {
                const char *mac = json_string_value(json_object_get(iface, "mac"));
                if (!mac || !*mac || strspn(mac, "0:") == strlen(mac) ||
                    json_array_size(json_object_get(iface, "addresses")) == 0)
                        continue;
                if (json_array_append(kept, iface) < 0) {
                        json_decref(kept);
                        return NULL;
                }
        }
        if (json_array_size(kept) == 0) {
                json_decref(kept);
                return NULL;
        }
        return kept;
}

/* The unescaped value of attribute name of the tag [t, gt); NULL and 0 when
 * absent. */
static int tag_attr(const char *t, const char *gt, const char *name, char **ret) {
        size_t n = strlen(name);
        *ret = NULL;
        for (const char *p = t; p + n + 2 < gt; p++) {
                if ((*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') || strncmp(p + 1, name, n) != 0 ||
                    p[1 + n] != '=')
                        continue;
                char q = p[2 + n];
                if (q != '\'' && q != '"')
                        return -EBADMSG;
                const char *v = p + 3 + n, *stop = memchr(v, q, gt - v);
                if (!stop)
                        return -EBADMSG;
                return xml_unescape(v, stop, ret);
        }
        return 0;
}

/* The attribute of the first <tag> inside [s, e). */
static int child_attr(const char *s, const char *e, const char *tag, const char *name, char **ret) {
        const char *t = find_tag(s, e, tag), *gt;
        *ret = NULL;
        if (!t)
                return 0;
        gt = memchr(t, '>', e - t);
        if (!gt)
                return -EBADMSG;
        return tag_attr(t, gt, name, ret);
}

static bool same_str(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

int libvirt_xml_merge_disks(const char *xml, bool live, DriverDisk **disks, size_t *n) {
        const char *p = xml, *end = xml ? xml + strlen(xml) : NULL;
        int r;

        /* Only <devices> holds disks; a stamp's text cannot hold a "<disk". */
        while (p && (p = find_tag(p, end, "disk"))) {
                const char *gt = memchr(p, '>', end - p), *close;
                if (!gt)
                        return -EBADMSG;
                close = gt[-1] == '/' ? gt + 1 : strstr(gt, "</disk>");
                if (!close)
                        return -EBADMSG;
                DriverDisk d = { 0 };
                char *src = NULL;
                if ((r = child_attr(gt, close, "source", "volume", &src)) < 0 ||
                    (!src && (r = child_attr(gt, close, "source", "file", &src)) < 0) ||
                    (r = child_attr(gt, close, "target", "dev", &d.target)) < 0) {
                        free(src);
                        driver_disk_done(&d);
                        return r;
                }
                d.source = src;
                if (src) {
                        const char *base = strrchr(src, '/');
                        base = base ? base + 1 : src;
                        r = libvirt_xml_volume_resource_id(base, &d.volume_id);
                        if (r == -ENOMEM) {
                                driver_disk_done(&d);
                                return r;
                        }
                        size_t bl = strlen(base);
                        d.seed = d.volume_id && bl > 9 && streq(base + bl - 9, "-seed.iso");
                }
                DriverDisk *have = NULL;
                for (size_t i = 0; i < *n && !have; i++)
                        if (same_str((*disks)[i].source, d.source) && same_str((*disks)[i].target, d.target))
                                have = &(*disks)[i];
                if (have)
                        driver_disk_done(&d);
                else {
                        DriverDisk *nv = realloc(*disks, (*n + 1) * sizeof(*nv));
                        if (!nv) {
                                driver_disk_done(&d);
                                return -ENOMEM;
                        }
                        *disks = nv;
                        have = &nv[(*n)++];
                        *have = d;
                }
                if (live)
                        have->live = true;
                else
                        have->persistent = true;
                p = close;
        }
        return 0;
}
