/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Block volumes on VMs (issue 9): attach and detach are operations on the
 * VM (operations.h), recorded with the attachment and their audit record in
 * one transaction, carried out live and in the persistent definition, and
 * resumed after a crash like any other. A volume is on one VM at most; the
 * volume and the VM are of one project, and another project's volume is
 * answered exactly as an unknown one.
 */

#include <jansson.h>

#include "resources.h"

/* POST /v1/resources/{vm}/volumes: 202 and the attach operation; NotFound
 * for an unknown VM or volume (or one of another project), Conflict for a
 * volume attached anywhere already, an operation under way on either, a VM
 * neither active nor stopped, a volume not active or on another provider. */
int resources_attach_volume(Resources *r, const CbCaller *caller, const char *vm_id, const char *volume_id,
                            ResourceTicket *ret, CbError *err);
/* DELETE /v1/resources/{vm}/volumes/{volume}: the detach operation;
 * NotFound when the volume is not attached to this VM. */
int resources_detach_volume(Resources *r, const CbCaller *caller, const char *vm_id, const char *volume_id,
                            ResourceTicket *ret, CbError *err);
/* A volume on a VM, as volume_attachments records it. */
typedef struct VolumeAttachment {
        char *volume_id;
        char *target; /* the disk it is on the VM: vdb, ... */
        AttachmentState state;
        char *attached_at;
} VolumeAttachment;

typedef struct VolumeAttachmentList {
        VolumeAttachment *v;
        size_t n;
} VolumeAttachmentList;
void volume_attachment_list_done(VolumeAttachmentList *l);

/* The VM's attachments, by target. */
int resources_volume_attachments(Resources *r, const CbCaller *caller, const char *vm_id,
                                 VolumeAttachmentList *ret, CbError *err);
/* DELETE /v1/resources/{id}?delete_volumes=true: a VM's deletion, its
 * attached volumes deleted after it (false: detached and kept, as
 * resources_act "delete" does). */
int resources_delete(Resources *r, const CbCaller *caller, const char *id, bool delete_volumes,
                     ResourceTicket *ret, CbError *err);
