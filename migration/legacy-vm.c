/* SPDX-License-Identifier: Apache-2.0 */
#include "legacy-vm.h"

#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* Untrusted text from a host we do not run: no network, no DTD, no entity
 * substitution, no error printing on stderr. */
#define XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS)

static void doc_freep(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}

static bool is(const xmlNode *n, const char *name) {
        return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name) {
        for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
                if (is(c, name))
                        return c;
        return NULL;
}

/* The attribute copied into buf ("" when absent); false when it does not fit. */
static bool attr(const xmlNode *n, const char *name, char *buf, size_t size) {
        xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
        int w = snprintf(buf, size, "%s", v ? (const char *)v : "");
        xmlFree(v);
        return w >= 0 && (size_t)w < size;
}

/* The text content copied into buf, spaces trimmed. */
static bool text(const xmlNode *n, char *buf, size_t size) {
        xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
        const char *s = v ? (const char *)v : "";
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
                s++;
        size_t len = strlen(s);
        while (len && strchr(" \n\t\r", s[len - 1]))
                len--;
        int w = snprintf(buf, size, "%.*s", (int)len, s);
        xmlFree(v);
        return w >= 0 && (size_t)w < size;
}

/* A libvirt scaled integer (<memory unit='KiB'>N</memory>) in bytes;
 * default_unit when the unit attribute is absent. */
static int scaled(const xmlNode *n, uint64_t default_unit, uint64_t *ret) {
        static const struct {
                const char *name;
                uint64_t factor;
        } units[] = {
                { "b", 1 },
                { "bytes", 1 },
                { "KB", 1000ULL },
                { "k", 1024ULL },
                { "KiB", 1024ULL },
                { "MB", 1000ULL * 1000 },
                { "M", 1024ULL * 1024 },
                { "MiB", 1024ULL * 1024 },
                { "GB", 1000ULL * 1000 * 1000 },
                { "G", 1024ULL * 1024 * 1024 },
                { "GiB", 1024ULL * 1024 * 1024 },
                { "TB", 1000ULL * 1000 * 1000 * 1000 },
                { "T", 1024ULL * 1024 * 1024 * 1024 },
                { "TiB", 1024ULL * 1024 * 1024 * 1024 },
        };
        char num[32], unit[16];
        uint64_t factor = default_unit;
        char *end = NULL;

        if (!text(n, num, sizeof(num)) || !attr(n, "unit", unit, sizeof(unit)) || !num[0] || num[0] == '-')
                return -EBADMSG;
        if (unit[0]) {
                factor = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (!strcmp(unit, units[i].name))
                                factor = units[i].factor;
                if (!factor)
                        return -EBADMSG;
        }
        errno = 0;
        unsigned long long v = strtoull(num, &end, 10);
        if (errno || *end || v > UINT64_MAX / factor)
                return -EBADMSG;
        *ret = v * factor;
        return 0;
}

static int bad(CbError *err, const char *field, const char *what) {
        cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: %s", field, what);
        return -EBADMSG;
}

static int parse_disk(const xmlNode *n, LegacyDisk *d, CbError *err) {
        const xmlNode *src = child(n, "source");
        char file[sizeof(d->source)] = "", pool[64] = "", vol[128] = "";

        *d = (LegacyDisk){ 0 };
        if (!attr(n, "device", d->device, sizeof(d->device)) ||
            !attr(child(n, "target"), "dev", d->target, sizeof(d->target)) ||
            !attr(child(n, "target"), "bus", d->bus, sizeof(d->bus)) ||
            !attr(child(n, "driver"), "type", d->format, sizeof(d->format)))
                return bad(err, "devices.disk", "an attribute is too long");
        if (!d->device[0])
                snprintf(d->device, sizeof(d->device), "disk");
        if (!d->target[0])
                return bad(err, "devices.disk.target", "a disk has no target dev");
        if (src) {
                if (!attr(src, "file", file, sizeof(file)) ||
                    (!file[0] && !attr(src, "dev", file, sizeof(file))) ||
                    !attr(src, "pool", pool, sizeof(pool)) || !attr(src, "volume", vol, sizeof(vol)))
                        return bad(err, "devices.disk.source", "a source is too long");
                if (file[0])
                        snprintf(d->source, sizeof(d->source), "%s", file);
                else if (pool[0] && vol[0])
                        snprintf(d->source, sizeof(d->source), "%s/%s", pool, vol);
        }
        return 0;
}

static int parse_nic(const xmlNode *n, LegacyNic *nic, CbError *err) {
        const xmlNode *src = child(n, "source");
        *nic = (LegacyNic){ 0 };
        if (!attr(n, "type", nic->type, sizeof(nic->type)) ||
            !attr(child(n, "mac"), "address", nic->mac, sizeof(nic->mac)) ||
            !attr(child(n, "model"), "type", nic->model, sizeof(nic->model)))
                return bad(err, "devices.interface", "an attribute is too long");
        if (!attr(src, "network", nic->source, sizeof(nic->source)) ||
            (!nic->source[0] && !attr(src, "bridge", nic->source, sizeof(nic->source))) ||
            (!nic->source[0] && !attr(src, "dev", nic->source, sizeof(nic->source))))
                return bad(err, "devices.interface.source", "too long");
        return 0;
}

static int parse_devices(const xmlNode *devs, LegacyVm *vm, CbError *err) {
        int r;
        for (const xmlNode *c = devs ? devs->children : NULL; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE || is(c, "emulator"))
                        continue;
                if (is(c, "disk")) {
                        if (vm->n_disks >= LEGACY_VM_DISKS_MAX)
                                return bad(err, "devices.disk", "more disks than the assessment reads");
                        r = parse_disk(c, &vm->disks[vm->n_disks], err);
                        if (r < 0)
                                return r;
                        vm->n_disks++;
                } else if (is(c, "interface")) {
                        if (vm->n_nics >= LEGACY_VM_NICS_MAX)
                                return bad(err, "devices.interface", "more NICs than the assessment reads");
                        r = parse_nic(c, &vm->nics[vm->n_nics], err);
                        if (r < 0)
                                return r;
                        vm->n_nics++;
                } else {
                        LegacyDevice *d;
                        if (vm->n_devices >= LEGACY_VM_DEVICES_MAX)
                                return bad(err, "devices", "more devices than the assessment reads");
                        d = &vm->devices[vm->n_devices];
                        snprintf(d->kind, sizeof(d->kind), "%.23s", (const char *)c->name);
                        if (!attr(c, "type", d->type, sizeof(d->type)) ||
                            (!d->type[0] && !attr(c, "model", d->type, sizeof(d->type))) ||
                            (!d->type[0] && !attr(child(c, "model"), "type", d->type, sizeof(d->type))))
                                return bad(err, "devices", "an attribute is too long");
                        vm->n_devices++;
                }
        }
        return 0;
}

int legacy_vm_parse(const char *domain_xml, LegacyVm *ret, CbError *err) {
        _cleanup_(doc_freep) xmlDocPtr doc = NULL;
        LegacyVm *vm;
        const xmlNode *root, *os, *n;
        char num[32];
        uint64_t mem;
        int r;

        if (!domain_xml || !ret)
                return -EINVAL;
        doc = xmlReadMemory(domain_xml, (int)strnlen(domain_xml, INT32_MAX), "domain.xml", NULL, XML_OPTIONS);
        root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!is(root, "domain"))
                return bad(err, "domain", "not a libvirt domain document");
        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;

        r = -EBADMSG;
        if (!text(child(root, "name"), vm->name, sizeof(vm->name)) || !vm->name[0]) {
                bad(err, "name", "missing or too long");
                goto fail;
        }
        text(child(root, "uuid"), vm->uuid, sizeof(vm->uuid));
        if (!text(child(root, "vcpu"), num, sizeof(num)) || !num[0]) {
                bad(err, "vcpu", "missing");
                goto fail;
        }
        char *end = NULL;
        unsigned long v = strtoul(num, &end, 10);
        if (*end || num[0] == '-' || v == 0 || v > 4096) {
                bad(err, "vcpu", "not a count of 1-4096");
                goto fail;
        }
        vm->vcpus = (unsigned)v;
        n = child(root, "memory");
        if (!n || scaled(n, 1024, &mem) < 0 || mem == 0) {
                bad(err, "memory", "missing or not a size");
                goto fail;
        }
        vm->memory_mib = (mem + (1ULL << 20) - 1) >> 20;

        os = child(root, "os");
        char fw[16] = "", loader_type[16] = "";
        attr(os, "firmware", fw, sizeof(fw));
        attr(child(os, "loader"), "type", loader_type, sizeof(loader_type));
        snprintf(vm->firmware, sizeof(vm->firmware), "%s",
                 !strcmp(fw, "efi") || !strcmp(loader_type, "pflash") ? "efi" : "bios");
        attr(child(os, "type"), "arch", vm->arch, sizeof(vm->arch));
        attr(child(os, "type"), "machine", vm->machine, sizeof(vm->machine));

        r = parse_devices(child(root, "devices"), vm, err);
        if (r < 0)
                goto fail;
        *ret = *vm;
        free(vm);
        return 0;
fail:
        free(vm);
        return r;
}

int legacy_vm_add_volume(LegacyVm *vm, size_t i, const char *volume_xml, CbError *err) {
        _cleanup_(doc_freep) xmlDocPtr doc = NULL;
        const xmlNode *root, *n;
        uint64_t cap, alloc = 0;
        char format[16] = "";

        if (!vm || i >= vm->n_disks || !volume_xml)
                return -EINVAL;
        doc = xmlReadMemory(volume_xml, (int)strnlen(volume_xml, INT32_MAX), "volume.xml", NULL, XML_OPTIONS);
        root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!is(root, "volume"))
                return bad(err, "volume", "not a libvirt storage volume document");
        n = child(root, "capacity");
        if (!n || scaled(n, 1, &cap) < 0)
                return bad(err, "volume.capacity", "missing or not a size");
        n = child(root, "allocation");
        if (n && scaled(n, 1, &alloc) < 0)
                return bad(err, "volume.allocation", "not a size");
        attr(child(child(root, "target"), "format"), "type", format, sizeof(format));
        vm->disks[i].capacity_bytes = cap;
        vm->disks[i].allocation_bytes = alloc;
        vm->disks[i].sized = true;
        if (!vm->disks[i].format[0])
                snprintf(vm->disks[i].format, sizeof(vm->disks[i].format), "%s", format);
        return 0;
}

uint64_t legacy_vm_disk_bytes(const LegacyVm *vm) {
        uint64_t sum = 0;
        for (size_t i = 0; i < vm->n_disks; i++)
                if (!strcmp(vm->disks[i].device, "disk"))
                        sum += vm->disks[i].capacity_bytes;
        return sum;
}

uint64_t legacy_vm_system_disk_bytes(const LegacyVm *vm) {
        for (size_t i = 0; i < vm->n_disks; i++)
                if (!strcmp(vm->disks[i].device, "disk"))
                        return vm->disks[i].capacity_bytes;
        return 0;
}

json_t *legacy_vm_to_json(const LegacyVm *vm) {
        json_t *disks = json_array(), *nics = json_array(), *devices = json_array();
        for (size_t i = 0; disks && i < vm->n_disks; i++) {
                const LegacyDisk *d = &vm->disks[i];
                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "target", d->target, "device", d->device,
                                      "bus", d->bus, "format", d->format, "source", d->source);
                if (o && d->sized) {
                        json_object_set_new(o, "capacity_bytes", json_integer((json_int_t)d->capacity_bytes));
                        json_object_set_new(o, "allocation_bytes",
                                            json_integer((json_int_t)d->allocation_bytes));
                }
                json_array_append_new(disks, o);
        }
        for (size_t i = 0; nics && i < vm->n_nics; i++)
                json_array_append_new(nics, json_pack("{s:s, s:s, s:s, s:s}", "mac", vm->nics[i].mac, "type",
                                                      vm->nics[i].type, "source", vm->nics[i].source, "model",
                                                      vm->nics[i].model));
        for (size_t i = 0; devices && i < vm->n_devices; i++)
                json_array_append_new(devices, json_pack("{s:s, s:s}", "kind", vm->devices[i].kind, "type",
                                                         vm->devices[i].type));
        if (!disks || !nics || !devices) {
                json_decref(disks);
                json_decref(nics);
                json_decref(devices);
                return NULL;
        }
        return json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "name", vm->name, "uuid",
                         vm->uuid, "power", vm->power, "vcpus", (int)vm->vcpus, "memory_mib",
                         (json_int_t)vm->memory_mib, "arch", vm->arch, "machine", vm->machine, "firmware",
                         vm->firmware, "disks", disks, "nics", nics, "devices", devices);
}

static bool copy_str(const json_t *o, const char *name, char *buf, size_t size) {
        const char *s = json_string_value(json_object_get(o, name));
        int w = snprintf(buf, size, "%s", s ? s : "");
        return s && w >= 0 && (size_t)w < size;
}

int legacy_vm_from_json(const json_t *j, LegacyVm *ret) {
        LegacyVm *vm = calloc(1, sizeof(*vm));
        const json_t *a, *e;
        size_t i;
        int r = -EBADMSG;

        if (!vm)
                return -ENOMEM;
        if (!json_is_object(j) || !copy_str(j, "name", vm->name, sizeof(vm->name)) ||
            !json_is_integer(json_object_get(j, "vcpus")) ||
            !json_is_integer(json_object_get(j, "memory_mib")))
                goto out;
        copy_str(j, "uuid", vm->uuid, sizeof(vm->uuid));
        copy_str(j, "arch", vm->arch, sizeof(vm->arch));
        copy_str(j, "machine", vm->machine, sizeof(vm->machine));
        copy_str(j, "firmware", vm->firmware, sizeof(vm->firmware));
        copy_str(j, "power", vm->power, sizeof(vm->power));
        vm->vcpus = (unsigned)json_integer_value(json_object_get(j, "vcpus"));
        vm->memory_mib = (uint64_t)json_integer_value(json_object_get(j, "memory_mib"));
        a = json_object_get(j, "disks");
        if (json_array_size(a) > LEGACY_VM_DISKS_MAX)
                goto out;
        json_array_foreach(a, i, e) {
                LegacyDisk *d = &vm->disks[vm->n_disks++];
                copy_str(e, "target", d->target, sizeof(d->target));
                copy_str(e, "device", d->device, sizeof(d->device));
                copy_str(e, "bus", d->bus, sizeof(d->bus));
                copy_str(e, "format", d->format, sizeof(d->format));
                copy_str(e, "source", d->source, sizeof(d->source));
                d->sized = json_is_integer(json_object_get(e, "capacity_bytes"));
                d->capacity_bytes = (uint64_t)json_integer_value(json_object_get(e, "capacity_bytes"));
                d->allocation_bytes = (uint64_t)json_integer_value(json_object_get(e, "allocation_bytes"));
        }
        a = json_object_get(j, "nics");
        if (json_array_size(a) > LEGACY_VM_NICS_MAX)
                goto out;
        json_array_foreach(a, i, e) {
                LegacyNic *n = &vm->nics[vm->n_nics++];
                copy_str(e, "mac", n->mac, sizeof(n->mac));
                copy_str(e, "type", n->type, sizeof(n->type));
                copy_str(e, "source", n->source, sizeof(n->source));
                copy_str(e, "model", n->model, sizeof(n->model));
        }
        a = json_object_get(j, "devices");
        if (json_array_size(a) > LEGACY_VM_DEVICES_MAX)
                goto out;
        json_array_foreach(a, i, e) {
                LegacyDevice *d = &vm->devices[vm->n_devices++];
                copy_str(e, "kind", d->kind, sizeof(d->kind));
                copy_str(e, "type", d->type, sizeof(d->type));
        }
        *ret = *vm;
        r = 0;
out:
        free(vm);
        return r;
}
