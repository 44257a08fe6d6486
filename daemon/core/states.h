/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The life-cycle states of the broker's records, as enums with their one
 * string table each. The names are the API's and the schema's: the store's
 * CHECK constraints and triggers spell the same lists, and
 * tests/unit/test-states.c holds every table against the schema.
 */

#include "string-table.h"

/* LegacyState and LegacyHosting (Art. 35) live with their transition rule
 * in the pure domain (migration/legacy-rules.h); listed here so that this
 * header stays the one index of the broker's states. */
#include "legacy-rules.h"

/* A catalogue revision's life cycle (docs/catalog-format.md). */
typedef enum CatalogStatus {
        CATALOG_DRAFT,
        CATALOG_SUBMITTED,
        CATALOG_PUBLISHED,
        CATALOG_SUPERSEDED,
        CATALOG_DEPRECATED,
        CATALOG_RETIRED,
        _CATALOG_STATUS_MAX,
} CatalogStatus;
DECLARE_STRING_TABLE(catalog_status, CatalogStatus);

typedef enum ResourceState {
        RESOURCE_PROVISIONING,
        RESOURCE_ACTIVE,
        RESOURCE_STOPPED,
        RESOURCE_FAILED,
        RESOURCE_DEPROVISIONING,
        RESOURCE_DELETED,
        _RESOURCE_STATE_MAX,
} ResourceState;
DECLARE_STRING_TABLE(resource_state, ResourceState);

typedef enum ResourceKind {
        RESOURCE_KIND_VM,
        RESOURCE_KIND_VOLUME,
        RESOURCE_KIND_SERVICE, /* an Open Service Broker instance on an http provider */
        _RESOURCE_KIND_MAX,
} ResourceKind;
DECLARE_STRING_TABLE(resource_kind, ResourceKind);

typedef enum OperationKind {
        OPERATION_PROVISION,
        OPERATION_START,
        OPERATION_STOP,
        OPERATION_REBOOT,
        OPERATION_DEPROVISION,
        OPERATION_ATTACH, /* a block volume onto the VM (the operation's volume_id) */
        OPERATION_DETACH,
        OPERATION_RESIZE, /* a VM onto another plan of its service (resize.h) */
        OPERATION_ADOPT,  /* a VM the broker did not create, taken under management (adopt.h) */
        _OPERATION_KIND_MAX,
} OperationKind;
DECLARE_STRING_TABLE(operation_kind, OperationKind);

typedef enum OperationState {
        OPERATION_PENDING,
        OPERATION_RUNNING,
        OPERATION_SUCCEEDED,
        OPERATION_FAILED,
        _OPERATION_STATE_MAX,
} OperationState;
DECLARE_STRING_TABLE(operation_state, OperationState);

typedef enum ProjectStatus {
        PROJECT_ACTIVE,
        PROJECT_SUSPENDED,
        PROJECT_TERMINATED,
        _PROJECT_STATUS_MAX,
} ProjectStatus;
DECLARE_STRING_TABLE(project_status, ProjectStatus);

typedef enum MilestoneKind {
        MILESTONE_CONTRACT_SIGNED,
        MILESTONE_CONTRACT_FILED,
        MILESTONE_COMPLETED,
        MILESTONE_ACCEPTANCE_FILED,
        MILESTONE_SELF_EVALUATION_FILED,
        _MILESTONE_KIND_MAX,
} MilestoneKind;
DECLARE_STRING_TABLE(milestone_kind, MilestoneKind);

/* In the order an incident moves through them (Art. 38). */
typedef enum IncidentStatus {
        INCIDENT_OPEN,
        INCIDENT_HANDLING,
        INCIDENT_REPORTED,
        INCIDENT_RESOLVED,
        _INCIDENT_STATUS_MAX,
} IncidentStatus;
DECLARE_STRING_TABLE(incident_status, IncidentStatus);

/* An OS image in a provider's library (images.h). */
typedef enum ImageState {
        IMAGE_ACTIVE,
        IMAGE_RETIRED,
        _IMAGE_STATE_MAX,
} ImageState;
DECLARE_STRING_TABLE(image_state, ImageState);

/* Who signs a billing adjustment (billing-adjustments.h). */
typedef enum AdjustmentSigner {
        ADJUSTMENT_SIGNER_AUTHORITY,
        ADJUSTMENT_SIGNER_FINANCE,
        _ADJUSTMENT_SIGNER_MAX,
} AdjustmentSigner;
DECLARE_STRING_TABLE(adjustment_signer, AdjustmentSigner);

/* A block volume on a VM (volume_attachments). */
typedef enum AttachmentState {
        ATTACHMENT_ATTACHING,
        ATTACHMENT_ATTACHED,
        ATTACHMENT_DETACHING,
        _ATTACHMENT_STATE_MAX,
} AttachmentState;
DECLARE_STRING_TABLE(attachment_state, AttachmentState);

/* How the provider's disks differ from volume_attachments (attachment_drift). */
typedef enum AttachmentDrift {
        ATTACHMENT_DRIFT_MISSING,    /* recorded on a VM, not on its domain */
        ATTACHMENT_DRIFT_UNRECORDED, /* on a domain, not recorded there */
        _ATTACHMENT_DRIFT_MAX,
} AttachmentDrift;
DECLARE_STRING_TABLE(attachment_drift, AttachmentDrift);

/* A service binding of an http resource (bindings.h, service_bindings). */
typedef enum BindingState {
        BINDING_CREATING,  /* asked of the provider, not confirmed yet */
        BINDING_BOUND,     /* the provider answered its credentials */
        BINDING_UNBINDING, /* the deletion is asked of the provider */
        BINDING_UNBOUND,   /* gone at the provider; the record stays */
        BINDING_FAILED,    /* not made (and deleted again at the provider) */
        _BINDING_STATE_MAX,
} BindingState;
DECLARE_STRING_TABLE(binding_state, BindingState);
