/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>

/*
 * What the core and a driver say to each other: what to build (ProvisionSpec),
 * which object (DriverRef), what is there (DriverInstance, DriverInventory,
 * DriverCapacity) and what happened (DriverEvent), with their string tables
 * and checks. Pure data and pure functions (the domain layer): the libvirt
 * XML builder uses them without the driver table (driver.h) or any I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "macro.h"

/* What a provisioned object is. A volume is a block-storage disk of its own
 * (the catalogue's "volume" plans): it has a size and a pool, no power state. */
typedef enum DriverObjectKind {
        DRIVER_OBJECT_VM = 0,
        DRIVER_OBJECT_VOLUME,
} DriverObjectKind;

/* "vm", "volume". */
const char *driver_object_kind_to_string(DriverObjectKind k);

/* Which libvirt domain type a provider's VMs get. AUTO takes the best the
 * host offers (kvm, then qemu); KVM or QEMU insist on that one, so a host
 * whose /dev/kvm QEMU cannot open can still run VMs under TCG. */
typedef enum DriverDomainType {
        DRIVER_DOMAIN_AUTO = 0,
        DRIVER_DOMAIN_KVM,
        DRIVER_DOMAIN_QEMU,
        _DRIVER_DOMAIN_MAX,
} DriverDomainType;

/* "auto", "kvm", "qemu"; from_string: -EINVAL for anything else (NULL too). */
const char *driver_domain_type_to_string(DriverDomainType t);
int driver_domain_type_from_string(const char *s);

/* What to build. Strings are borrowed for the duration of the call. */
typedef struct ProvisionSpec {
        DriverObjectKind kind;          /* VM unless set */
        const char *resource_id;        /* required, [A-Za-z0-9._-]{1,64}: names provider objects */
        const char *name;               /* required, human name: UTF-8, no control characters */
        const char *project_id;         /* required */
        const char *approval_no;        /* required */
        const char *catalog_service_id; /* required */
        const char *catalog_plan_id;    /* required */
        unsigned catalog_revision;
        /* An http (OSB) provision's "parameters" (an object); NULL: {}. */
        const json_t *parameters;
        unsigned vcpus;       /* 1..1024; ignored for a volume */
        uint64_t memory_mib;  /* 1..16 TiB; ignored for a volume */
        uint64_t disk_gib;    /* 0 = no disk volume; a volume's size, 1.. */
        const char *arch;     /* NULL = "x86_64" */
        const char *network;  /* NULL or "" = no NIC */
        const char *pool;     /* NULL = "default" */
        const char *os_image; /* the image's name, for messages; the image itself: */
        /* The system disk's image (a VM with disk_gib > 0): the disk is a
         * copy-on-write qcow2 over this volume, or a full clone where the
         * disk's pool cannot hold backing files. NULL image_volume: an
         * empty disk. The volume is digested before the disk is made and
         * must still have image_digest. Never written. */
        const char *image_pool;
        const char *image_volume;
        const char *image_format;     /* "qcow2" or "raw" */
        const char *image_digest_alg; /* "sha256" or "sm3" */
        const char *image_digest;     /* lowercase hex */
        const char *disk_format;      /* the system disk's format in the domain: NULL = "raw" */
        /* The cloud-init NoCloud seed (drivers/cloud-init.h): both NULL, no
         * seed. Made into volume "cb-<id>-seed.iso" beside the disk, read-only
         * to the guest, deleted with the VM. */
        const char *seed_meta_data;
        const char *seed_user_data;
        DriverDomainType domain_type; /* AUTO unless the provider says otherwise */
        const char *mac; /* NULL = libvirt picks; else the NIC's MAC (a moved VM keeps its own) */
} ProvisionSpec;

/* An OS image as the provider holds it: a volume read whole, its digest
 * computed over every byte (what the guest would boot). */
#define DRIVER_IMAGE_DIGEST_HEX 129
typedef struct DriverImageInfo {
        char format[16];                      /* the volume's format: "qcow2", "raw", ... ("" when unknown) */
        uint64_t capacity_bytes;              /* the virtual size a guest sees */
        uint64_t read_bytes;                  /* how many bytes the digest covers */
        char digest[DRIVER_IMAGE_DIGEST_HEX]; /* lowercase hex of alg over the volume's content */
        /* The digest of an earlier read, the volume's fingerprint unchanged
         * since (libvirt_xml_volume_fingerprint): nothing was read now. */
        bool from_cache;
} DriverImageInfo;

/* Names one provisioned object for start/stop/reboot/deprovision/lookup. */
typedef struct DriverRef {
        DriverObjectKind kind;    /* what provision built */
        const char *resource_id;  /* required: the stamp the object must carry */
        const char *provider_ref; /* what provision returned, or NULL if it was never recorded */
        const char *pool;         /* NULL = "default": where the disk volume lives */
        const char *binding_id;   /* an OSB service binding of the instance; NULL: the instance */
} DriverRef;

typedef enum DriverState {
        DRIVER_STATE_UNKNOWN = 0,
        DRIVER_STATE_RUNNING,
        DRIVER_STATE_PAUSED,
        DRIVER_STATE_SHUTTING_DOWN,
        DRIVER_STATE_SHUTOFF,
        DRIVER_STATE_CRASHED,
        DRIVER_STATE_PRESENT, /* a volume: it exists, it has no power state */
        _DRIVER_STATE_MAX,
} DriverState;

/* "running", "paused", "shutting-down", "shutoff", "crashed", "present", "unknown". */
const char *driver_state_to_string(DriverState s);

/* The broker's stamp as read back from a provider object. */
typedef struct DriverStamp {
        char *resource_id; /* never NULL in a valid stamp */
        char *name;
        char *project_id;
        char *approval_no;
        char *service_id;
        char *plan_id;
        unsigned catalog_revision;
} DriverStamp;

/* Frees the strings and zeroes the struct; safe on a zeroed struct. */
void driver_stamp_done(DriverStamp *s);

/* A disk of a domain as the provider shows it: which volume or file is
 * behind which target, and in which of the domain's definitions. */
typedef struct DriverDisk {
        char *source;    /* the volume's name, or the file's path; NULL: none (an empty drive) */
        char *volume_id; /* the resource id a broker-named source ("cb-<id>.img") carries, else NULL */
        char *target;    /* target dev ("vdc"); NULL when the definition has none */
        bool seed;       /* the source is a first-boot seed ("cb-<id>-seed.iso") */
        bool persistent; /* in the persistent definition */
        bool live;       /* in the running domain's definition */
} DriverDisk;

void driver_disk_done(DriverDisk *d);

/* Volumes are listed only when their name is the broker's ("cb-<resource
 * id>.img"): a volume carries no metadata, so its name is its stamp, and the
 * stamp holds only resource_id. That includes the disk of a VM resource. */
typedef struct DriverInstance {
        DriverObjectKind kind;
        char *name;         /* provider's name for it */
        char *provider_ref; /* libvirt: domain UUID, or the volume's key */
        DriverState state;
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t size_gib; /* a volume's capacity */
        bool managed;      /* carries a broker stamp */
        DriverStamp stamp; /* valid only when managed */
        DriverDisk *disks; /* a domain's disks, persistent and live merged; none for a volume */
        size_t n_disks;
} DriverInstance;

void driver_instance_done(DriverInstance *i);

typedef struct DriverInventory {
        DriverInstance *items;
        size_t n_items;
} DriverInventory;

DriverInventory *driver_inventory_free(DriverInventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(DriverInventory *, driver_inventory_free);

/* Free = total - what running instances are given (no overcommit model); clamped at 0. */
typedef struct DriverCapacity {
        unsigned total_vcpus;
        unsigned used_vcpus;
        unsigned free_vcpus;
        uint64_t total_memory_mib;
        uint64_t used_memory_mib;
        uint64_t free_memory_mib;
        unsigned running; /* running instances, managed or not */
        /* The active storage pools, for placing disks and volumes; a host
         * with more than DRIVER_POOLS_MAX leaves pools_complete false, and
         * then any pool counts as present. */
#define DRIVER_POOLS_MAX 16
        char pools[DRIVER_POOLS_MAX][64];
        unsigned n_pools;
        bool pools_complete;
} DriverCapacity;

/* Whether the reading shows pool (NULL or "" = "default"); true when the
 * list is incomplete. */
bool driver_capacity_has_pool(const DriverCapacity *c, const char *pool);

typedef enum DriverEventKind {
        DRIVER_EVENT_DEFINED,
        DRIVER_EVENT_UNDEFINED,
        DRIVER_EVENT_STARTED,
        DRIVER_EVENT_SUSPENDED,
        DRIVER_EVENT_RESUMED,
        DRIVER_EVENT_SHUTDOWN, /* the guest is shutting down; STOPPED follows */
        DRIVER_EVENT_STOPPED,
        DRIVER_EVENT_CRASHED,
        DRIVER_EVENT_OTHER,
        DRIVER_EVENT_CONNECTION_LOST, /* no instance: the provider went away */
        _DRIVER_EVENT_MAX,
} DriverEventKind;

const char *driver_event_kind_to_string(DriverEventKind k);

/* Borrowed for the duration of the callback only. */
typedef struct DriverEvent {
        DriverEventKind kind;
        DriverState state;        /* state the event implies */
        const char *name;         /* NULL for CONNECTION_LOST */
        const char *provider_ref; /* NULL for CONNECTION_LOST */
        const char *resource_id;  /* from the stamp when it could be read, else NULL */
        int detail;               /* provider-specific detail code */
} DriverEvent;

/* A cold move of one legacy VM (Art. 35) onto a provider: each disk
 * copied with sparse storage-volume streams, checked by a SHA-256 digest of
 * both sides, the target defined from target (with the source's MAC) and
 * started. Steps in the order they run. */
typedef enum MigrateStep {
        MIGRATE_STEP_QUEUED = 0,
        MIGRATE_STEP_SHUTDOWN,
        MIGRATE_STEP_COPY,
        MIGRATE_STEP_VERIFY_COPY,
        MIGRATE_STEP_CONVERT, /* a disk of another format made raw on the target (qemu-img, by libvirt) */
        MIGRATE_STEP_DEFINE,
        MIGRATE_STEP_START,
        MIGRATE_STEP_DONE,
        MIGRATE_STEP_ROLLBACK,
        _MIGRATE_STEP_MAX,
} MigrateStep;

/* "queued", "shutdown", "copy", "verify-copy", "define", "start", "done", "rollback". */
const char *migrate_step_to_string(MigrateStep s);

/* Where a move is, for its progress. */
typedef struct MigrateProgress {
        MigrateStep step;
        size_t disk;        /* the disk the step is at: 0 the system disk, then spec.extra's in order */
        uint64_t disk_data; /* that disk's data bytes that crossed so far (holes not counted) */
        /* The step's own count, holes included: the copy's or the read-back's bytes of the disk. */
        uint64_t step_done, step_total;
} MigrateProgress;

/* Called on the worker thread, at most a few times a second: keep it short. */
typedef void (*MigrateProgressFn)(const MigrateProgress *progress, void *userdata);

/* A VM's disk after its first (the system disk): a block volume of its own
 * at the target, named by resource_id (a resource of kind volume), put
 * into the target's definition as dev (vdb..vdz, the source's name). */
#define MIGRATE_DISKS_MAX 16
typedef struct MigrateDisk {
        const char *source_volume; /* "pool/volume" or a path, as assessed */
        const char *source_format; /* as source_format below */
        const char *resource_id;   /* names the target volume */
        const char *dev;
} MigrateDisk;

typedef struct MigrateDiskResult {
        uint64_t capacity_bytes, data_bytes;
        char source_sha256[65];
        char target_sha256[65];
} MigrateDiskResult;

typedef struct MigrateSpec {
        const char *source_domain; /* its name on the source provider; NULL: an image source, no domain */
        const char *source_volume; /* the disk: "pool/volume" or a path, as assessed */
        /* The disk's format as assessed: NULL or "raw" is copied as it is;
         * another (qcow2, vmdk, ...) crosses as its file into a scratch
         * volume of that format in the target pool, which libvirt then
         * converts into the raw target volume (virStorageVolCreateXMLFrom). */
        const char *source_format;
        bool source_was_running;  /* rollback starts it again */
        unsigned stop_timeout_ms; /* graceful shutdown, then forced */
        ProvisionSpec target;     /* resource_id names the target domain and volume */
        /* The other disks, in the source's order: each copied, checked and
         * converted as the first, then defined with it; rollback removes them all. */
        const MigrateDisk *extra;
        size_t n_extra;             /* at most MIGRATE_DISKS_MAX - 1 */
        uint64_t rate_limit_bps;    /* 0 = unthrottled */
        uint64_t fail_after_bytes;  /* test switch: 0 = never; else the copy fails past it */
        MigrateProgressFn progress; /* may be NULL */
        void *userdata;
} MigrateSpec;

typedef struct MigrateResult {
        uint64_t capacity_bytes; /* the disk's size */
        uint64_t data_bytes;     /* data bytes that crossed (holes are not sent) */
        char source_sha256[65];
        char target_sha256[65];
        char *provider_ref;                             /* the target domain's UUID; malloc'd */
        MigrateDiskResult extra[MIGRATE_DISKS_MAX - 1]; /* spec.extra's, in order */
} MigrateResult;

void migrate_result_done(MigrateResult *r);

/* Checks a spec field by field (CB_ERR_VALIDATION naming the field). */
int provision_spec_validate(const ProvisionSpec *spec, CbError *err);
/* "52:54:00:ab:cd:ef": six hex pairs and colons. */
bool driver_mac_is_valid(const char *mac);
/* [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'. */
bool driver_resource_id_is_valid(const char *id);
