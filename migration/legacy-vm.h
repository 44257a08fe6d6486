/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What an assessment learns about one source VM (regulation Art. 35; the
 * inventory step of Forklift and virt-v2v), read from libvirt's domain XML
 * and the storage-volume XML of its disks. Pure text work, no libvirt
 * calls: the driver fetches the documents on a worker, this module reads
 * them (libxml2, from memory, no network, no entity expansion).
 *
 * Promise: legacy_vm_parse() either fills the whole LegacyVm or returns an
 * error naming what is wrong; sizes are in bytes and MiB exactly as the
 * units in the XML say (b, KiB, MiB, GiB, TiB, KB, MB, GB, TB, k, M, G, T);
 * more disks, NICs or devices than the limits below is an error, never a
 * silent cut.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LEGACY_VM_DISKS_MAX   16
#define LEGACY_VM_NICS_MAX    16
#define LEGACY_VM_DEVICES_MAX 64

typedef struct LegacyDisk {
        char target[32];  /* "vda" */
        char device[16];  /* "disk", "cdrom", "floppy", "lun" */
        char bus[16];     /* "virtio", "ide", ... */
        char format[16];  /* the driver type: "raw", "qcow2", "vmdk", ...; "" unknown */
        char source[512]; /* the file or block path, or "pool/volume"; "" none (empty cdrom) */
        bool sized;       /* a volume was found: capacity and allocation are known */
        uint64_t capacity_bytes;
        uint64_t allocation_bytes;
} LegacyDisk;

typedef struct LegacyNic {
        char mac[18];    /* "52:54:00:..", "" when libvirt would make one up */
        char type[16];   /* "network", "bridge", "direct", ... */
        char source[64]; /* network or bridge name */
        char model[32];
} LegacyNic;

typedef struct LegacyDevice {
        char kind[24]; /* the element under <devices>: "hostdev", "sound", ... */
        char type[24]; /* its type or model attribute, "" when none */
} LegacyDevice;

typedef struct LegacyVm {
        char name[128];
        char uuid[40];
        unsigned vcpus;
        uint64_t memory_mib;
        char arch[16];
        char machine[64];
        char firmware[8]; /* "bios" or "efi" */
        char power[16];   /* "running", "shutoff", ... as the host reported it; "" unknown */
        size_t n_disks;
        LegacyDisk disks[LEGACY_VM_DISKS_MAX];
        size_t n_nics;
        LegacyNic nics[LEGACY_VM_NICS_MAX];
        size_t n_devices; /* everything under <devices> but disks, NICs and the emulator */
        LegacyDevice devices[LEGACY_VM_DEVICES_MAX];
} LegacyVm;

/* -EBADMSG (CB_ERR_VALIDATION naming the element) when the document is not
 * a domain or a value is out of range. */
int legacy_vm_parse(const char *domain_xml, LegacyVm *ret, CbError *err);

/* Fills the size and, when the disk named none, the format of disk i from
 * its storage volume's XML (virStorageVolGetXMLDesc). */
int legacy_vm_add_volume(LegacyVm *vm, size_t i, const char *volume_xml, CbError *err);

/* Sum of the capacities of the VM's disks (device "disk"), in bytes. */
uint64_t legacy_vm_disk_bytes(const LegacyVm *vm);
/* The capacity of its first disk, the one that becomes the target's system
 * disk (the others move as block volumes of their own), in bytes. */
uint64_t legacy_vm_system_disk_bytes(const LegacyVm *vm);

/* {"name", "uuid", "vcpus", "memory_mib", "arch", "machine", "firmware",
 *  "disks": [{"target", "device", "bus", "format", "source", "capacity_bytes",
 *  "allocation_bytes"}], "power", "nics": [{"mac", "type", "source", "model"}],
 *  "devices": [{"kind", "type"}]}; sizes absent for a disk not sized. */
json_t *legacy_vm_to_json(const LegacyVm *vm);
/* The inverse, for what the store kept; -EBADMSG when it is not one. */
int legacy_vm_from_json(const json_t *j, LegacyVm *ret);
