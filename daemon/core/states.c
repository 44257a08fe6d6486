/* SPDX-License-Identifier: Apache-2.0 */
#include "states.h"

static const char *const catalog_status_table[_CATALOG_STATUS_MAX] = {
        [CATALOG_DRAFT] = "draft",           [CATALOG_SUBMITTED] = "submitted",
        [CATALOG_PUBLISHED] = "published",   [CATALOG_SUPERSEDED] = "superseded",
        [CATALOG_DEPRECATED] = "deprecated", [CATALOG_RETIRED] = "retired",
};
DEFINE_STRING_TABLE(catalog_status, CatalogStatus, _CATALOG_STATUS_MAX);

static const char *const resource_state_table[_RESOURCE_STATE_MAX] = {
        [RESOURCE_PROVISIONING] = "provisioning",
        [RESOURCE_ACTIVE] = "active",
        [RESOURCE_STOPPED] = "stopped",
        [RESOURCE_FAILED] = "failed",
        [RESOURCE_DEPROVISIONING] = "deprovisioning",
        [RESOURCE_DELETED] = "deleted",
};
DEFINE_STRING_TABLE(resource_state, ResourceState, _RESOURCE_STATE_MAX);

static const char *const resource_kind_table[_RESOURCE_KIND_MAX] = {
        [RESOURCE_KIND_VM] = "vm",
        [RESOURCE_KIND_VOLUME] = "volume",
        [RESOURCE_KIND_SERVICE] = "service",
};
DEFINE_STRING_TABLE(resource_kind, ResourceKind, _RESOURCE_KIND_MAX);

static const char *const operation_kind_table[_OPERATION_KIND_MAX] = {
        [OPERATION_PROVISION] = "provision",
        [OPERATION_START] = "start",
        [OPERATION_STOP] = "stop",
        [OPERATION_REBOOT] = "reboot",
        [OPERATION_DEPROVISION] = "deprovision",
        [OPERATION_ATTACH] = "attach",
        [OPERATION_DETACH] = "detach",
        [OPERATION_RESIZE] = "resize",
        [OPERATION_ADOPT] = "adopt",
};
DEFINE_STRING_TABLE(operation_kind, OperationKind, _OPERATION_KIND_MAX);

static const char *const operation_state_table[_OPERATION_STATE_MAX] = {
        [OPERATION_PENDING] = "pending",
        [OPERATION_RUNNING] = "running",
        [OPERATION_SUCCEEDED] = "succeeded",
        [OPERATION_FAILED] = "failed",
};
DEFINE_STRING_TABLE(operation_state, OperationState, _OPERATION_STATE_MAX);

static const char *const project_status_table[_PROJECT_STATUS_MAX] = {
        [PROJECT_ACTIVE] = "active",
        [PROJECT_SUSPENDED] = "suspended",
        [PROJECT_TERMINATED] = "terminated",
};
DEFINE_STRING_TABLE(project_status, ProjectStatus, _PROJECT_STATUS_MAX);

static const char *const milestone_kind_table[_MILESTONE_KIND_MAX] = {
        [MILESTONE_CONTRACT_SIGNED] = "contract_signed",
        [MILESTONE_CONTRACT_FILED] = "contract_filed",
        [MILESTONE_COMPLETED] = "completed",
        [MILESTONE_ACCEPTANCE_FILED] = "acceptance_filed",
        [MILESTONE_SELF_EVALUATION_FILED] = "self_evaluation_filed",
};
DEFINE_STRING_TABLE(milestone_kind, MilestoneKind, _MILESTONE_KIND_MAX);

static const char *const incident_status_table[_INCIDENT_STATUS_MAX] = {
        [INCIDENT_OPEN] = "open",
        [INCIDENT_HANDLING] = "handling",
        [INCIDENT_REPORTED] = "reported",
        [INCIDENT_RESOLVED] = "resolved",
};
DEFINE_STRING_TABLE(incident_status, IncidentStatus, _INCIDENT_STATUS_MAX);

static const char *const image_state_table[_IMAGE_STATE_MAX] = {
        [IMAGE_ACTIVE] = "active",
        [IMAGE_RETIRED] = "retired",
};
DEFINE_STRING_TABLE(image_state, ImageState, _IMAGE_STATE_MAX);

static const char *const adjustment_signer_table[_ADJUSTMENT_SIGNER_MAX] = {
        [ADJUSTMENT_SIGNER_AUTHORITY] = "authority",
        [ADJUSTMENT_SIGNER_FINANCE] = "finance",
};
DEFINE_STRING_TABLE(adjustment_signer, AdjustmentSigner, _ADJUSTMENT_SIGNER_MAX);

static const char *const attachment_state_table[_ATTACHMENT_STATE_MAX] = {
        [ATTACHMENT_ATTACHING] = "attaching",
        [ATTACHMENT_ATTACHED] = "attached",
        [ATTACHMENT_DETACHING] = "detaching",
};
DEFINE_STRING_TABLE(attachment_state, AttachmentState, _ATTACHMENT_STATE_MAX);

static const char *const attachment_drift_table[_ATTACHMENT_DRIFT_MAX] = {
        [ATTACHMENT_DRIFT_MISSING] = "missing",
        [ATTACHMENT_DRIFT_UNRECORDED] = "unrecorded",
};
DEFINE_STRING_TABLE(attachment_drift, AttachmentDrift, _ATTACHMENT_DRIFT_MAX);

static const char *const binding_state_table[_BINDING_STATE_MAX] = {
        [BINDING_CREATING] = "creating", [BINDING_BOUND] = "bound",   [BINDING_UNBINDING] = "unbinding",
        [BINDING_UNBOUND] = "unbound",   [BINDING_FAILED] = "failed",
};
DEFINE_STRING_TABLE(binding_state, BindingState, _BINDING_STATE_MAX);
