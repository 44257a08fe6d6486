/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Pure text work for the libvirt driver, no libvirt calls: the domain and
 * storage-volume XML generated from a ProvisionSpec, the broker's metadata
 * stamp, and reading that stamp back. Every string that enters XML is
 * escaped; specs are validated first (provision_spec_validate()), so a
 * generated document always passes `virt-xml-validate FILE domain`.
 *
 * The stamp, inside the domain's <metadata>:
 *
 *   <cb:resource xmlns:cb="https://cloudbroker.example/xmlns/domain/1.0" version="1">
 *     <cb:resource-id>r-42</cb:resource-id>
 *     <cb:name>教育平台 web</cb:name>
 *     <cb:project-id>..</cb:project-id>
 *     <cb:approval-no>..</cb:approval-no>
 *     <cb:service-id>..</cb:service-id>
 *     <cb:plan-id>..</cb:plan-id>
 *     <cb:catalog-revision>3</cb:catalog-revision>
 *   </cb:resource>
 *
 * Names are derived from the resource id, so an object can be found again
 * without any record of the provider's own id: domain "cb-<id>", volume
 * "cb-<id>.img" (raw, sparse: no qemu-img needed on the host).
 */

#include <jansson.h>

#include "driver-types.h"

#define CB_XML_NS_URI    "https://cloudbroker.example/xmlns/domain/1.0"
#define CB_XML_NS_PREFIX "cb"
#define CB_XML_STAMP_KEY "resource"

/* resource_id must satisfy driver_resource_id_is_valid(). */
int libvirt_xml_domain_name(const char *resource_id, char **ret);
int libvirt_xml_volume_name(const char *resource_id, char **ret);
/* A VM's first-boot seed: "cb-<id>-seed.iso". */
int libvirt_xml_seed_name(const char *resource_id, char **ret);
/* The inverse of both: the resource id a volume named by the broker stands
 * for (its disk or its seed); -ENOENT for any other name. */
int libvirt_xml_volume_resource_id(const char *volume_name, char **ret);

/* The stamp alone, as the element virDomainSetMetadata(ELEMENT, key
 * CB_XML_NS_PREFIX, uri CB_XML_NS_URI) takes: what libvirt_xml_domain()
 * writes into <metadata>, for a domain the broker did not define (an
 * adopted one, Art. 35). stamp->resource_id must be valid. */
int libvirt_xml_stamp(const DriverStamp *stamp, char **ret, CbError *err);

/* domain_type: "kvm", "qemu", "test", ... (see libvirt_xml_pick_domain_type). */
int libvirt_xml_domain(const ProvisionSpec *spec, const char *domain_type, char **ret, CbError *err);
int libvirt_xml_volume(const ProvisionSpec *spec, char **ret, CbError *err);
/* The <disk> of a block volume (a resource of kind volume) attached to a
 * VM: its broker-named volume in pool (NULL or "" = "default") as target
 * (vdc..vdz: vda is the system disk, vdb the seed), with the volume's
 * resource id as <serial> so that the guest and the broker both recognise
 * it. -EINVAL (field named) for a bad id, pool or target. */
int libvirt_xml_attached_disk(const char *pool, const char *volume_resource_id, const char *target,
                              char **ret, CbError *err);
/* The same <disk> for a disk that came with a moved VM (Art. 35): as
 * target it keeps the source's name, vdb..vdz (a moved VM has no seed). */
int libvirt_xml_moved_disk(const char *pool, const char *volume_resource_id, const char *target, char **ret,
                           CbError *err);
/* A domain definition with device (one element) added at the end of its
 * <devices>, or with the <disk> whose <serial> is serial taken out: for a
 * driver that cannot change devices but can define a domain again (the
 * test driver). -EBADMSG when domain_xml has no single </devices>, -ENOENT
 * when no disk has that serial. */
int libvirt_xml_add_device(const char *domain_xml, const char *device, char **ret);
int libvirt_xml_remove_disk(const char *domain_xml, const char *serial, char **ret);
/* Whether target is one an attached volume may take: "vd" and c..z. */
bool libvirt_xml_attach_target_is_valid(const char *target);

/* Reads the stamp from a whole domain XML (namespace looked up by URI, any
 * prefix) or from the fragment virDomainGetMetadata(ELEMENT) returns (which
 * libvirt gives back without the namespace). -ENOENT when there is no stamp,
 * -EBADMSG when there is one but it is malformed or lacks resource-id. */
int libvirt_xml_parse_stamp(const char *xml, DriverStamp *ret);

/* The domain type to use for arch, from the host's capabilities XML. want
 * NULL: the best offered, "kvm", then "qemu", then "test"; otherwise want
 * itself if the host offers it. NULL when nothing fits. Static string. */
const char *libvirt_xml_pick_domain_type(const char *caps_xml, const char *arch, const char *want);

/* An image volume to upload into: name (checked by the caller), size
 * bytes, format "qcow2" or "raw". */
int libvirt_xml_image_volume(const char *name, uint64_t size, const char *format, char **ret);

/* The seed volume of len bytes (raw), to be uploaded. */
int libvirt_xml_seed_volume(const char *resource_id, size_t len, char **ret);

/* The system disk made from spec's image (spec->image_volume set):
 * backing_path non-NULL: a copy-on-write qcow2 of disk_gib over the image
 * at that path (its format spec->image_format); NULL: the volume to give
 * virStorageVolCreateXMLFrom for a full clone (disk_gib, no format: the
 * pool's own, raw to the guest). The name is
 * the broker's ("cb-<id>.img") either way. */
int libvirt_xml_system_disk(const ProvisionSpec *spec, const char *backing_path, char **ret, CbError *err);

/* The type of a storage pool from its XML (<pool type='dir'>), into ret
 * (size bytes): -ENOENT when absent, -EBADMSG when malformed or too long. */
int libvirt_xml_pool_type(const char *xml, char *ret, size_t size);
/* Whether volumes of a pool of that type can be qcow2 files over a backing
 * file (dir, fs, netfs); other pools (logical, disk, iscsi, rbd, ...) need a
 * full clone. */
bool libvirt_xml_pool_has_backing(const char *pool_type);

/* The format of a storage volume from its XML (virStorageVolGetXMLDesc):
 * <target><format type='X'/>, copied into ret (size bytes). -ENOENT when
 * there is none, -EBADMSG when it does not fit or is not [a-z0-9]. */
int libvirt_xml_volume_format(const char *xml, char *ret, size_t size);

/* What tells one content of a file volume from another without reading it,
 * from its XML: its key, capacity and allocation and its target's mtime and
 * ctime (an in-place rewrite moves both; ctime cannot be set back by the
 * writer), as "key=..;capacity=..;allocation=..;mtime=..;ctime=..;" in ret
 * (size bytes). -ENODATA when any is missing (a volume without timestamps
 * cannot be fingerprinted: its digest is never cached), -ENOSPC when it does
 * not fit. The image digest cache (drivers/libvirt.c) trusts exactly this. */
#define LIBVIRT_XML_FINGERPRINT_MAX 512
int libvirt_xml_volume_fingerprint(const char *xml, char *ret, size_t size);

/* XML-escapes s (&, <, >, ", ') into a new string. */
char *xml_escape(const char *s);

/* Where the serial console of a broker domain is logged: libvirt's own log
 * folder for QEMU, so virtlogd may write it; the file is named after the
 * domain ("<domain>-console.log"). */
#define LIBVIRT_CONSOLE_LOG_DIR "/var/log/libvirt/qemu"
/* The file of the first serial port's <log file=...> in a domain XML
 * (malloc'd, unescaped): -ENOENT when it has none, -EBADMSG, -ENOMEM. */
int libvirt_xml_console_log(const char *xml, char **ret);

/* Adds the <disk>s of a domain XML to (*disks, *n): a disk already there
 * (same source and target) gets the flag of this definition (live: the
 * running one, else the persistent one), any other is appended with it.
 * The source is a <source volume=...>'s volume or a <source file=...>'s
 * file (its last path component names a broker volume). 0, -EBADMSG for
 * an unclosed <disk>, -ENOMEM; on failure *disks holds what was added. */
int libvirt_xml_merge_disks(const char *xml, bool live, DriverDisk **disks, size_t *n);

/* The guest's own interfaces from what the guest agent answered (a list of
 * {"name", "mac", "addresses": [...]}, as the driver's addresses op gives):
 * those with a MAC other than all zeros and at least one address, so the
 * guest's loopback ("lo", no MAC) is left out. A new reference, or NULL
 * when none is left (no agent answer worth taking: the caller reads the
 * DHCP leases instead) or on no memory. */
json_t *libvirt_agent_addresses(const json_t *agent);
