/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The JSON of the core's records: the one serializer of each record the
 * core hands out as a struct (Resource, Operation, ResourceTicket, System,
 * Incident, Project, ApprovalRecord, Evaluation, ProviderRecord, Inventory,
 * AuditRecord, ServiceBinding), whose output is the REST bodies that docs/openapi.yaml
 * describes (for resources: members in the record's column order; a
 * provider or provider_ref not there yet, and an operation's error unless
 * it failed, as null). The D-Bus face answers documents in the same shapes
 * (docs/faces.md: Resources.GetOperation, Systems, Incidents, Projects,
 * Approvals, Policy.Evaluate, Providers, Audit) and serializes through here
 * too, so the two cannot drift apart. Each returns a new reference, NULL
 * only when out of memory.
 */

#include <jansson.h>

#include "attachments.h"
#include "audit.h"
#include "billing.h"
#include "billing-adjustments.h"
#include "bindings.h"
#include "images.h"
#include "incidents.h"
#include "legacy.h"
#include "projects.h"
#include "providers.h"
#include "resources.h"
#include "systems.h"
#include "vm-guest.h"

json_t *rest_resource_json(const Resource *res);
/* {"resources": [...]} is the caller's: this is the array. */
json_t *rest_resource_list_json(const ResourceList *list);
/* The whole page body, {"resources": [...], "next_page_token": next}
 * (no token when next is NULL or empty), written straight to text: the
 * bytes json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) makes of
 * rest_resource_list_json() inside rest_reply_page(), without building the
 * tree (a page of 1,000 is 450 KB; the tree and its dump were most of the
 * loop time of a page). 0, or -ENOMEM/-EILSEQ/-EINVAL (a NULL field). */
int rest_resource_page_text(const ResourceList *list, const char *next, char **ret, size_t *ret_len);
json_t *rest_operation_json(const Operation *o);
/* An operations page's items, each as rest_operation_json(). */
json_t *rest_operations_json(const OperationList *l);
/* {"id", "state", "operation_id"}: what a request or an action answers. */
json_t *rest_ticket_json(const ResourceTicket *t);

/* {"id", "name", "department", "protection_level", "classified",
 *  "data_sharing", "created_at", "updated_at"} */
json_t *rest_system_json(const System *sys);
/* An array of them, in the list's order (likewise below). */
json_t *rest_system_list_json(const SystemList *l);

/* {"id", "status", "severity", "department" (null: none), "description",
 *  "systems", "resources", "reported_at", "reported_by", "report_due",
 *  "report_overdue", "report_made_at" (null: not yet), ["occurred_at"],
 *  ["records": [{"at", "by", "status", "note"}] when the incident has them]} */
json_t *rest_incident_json(const Incident *inc);
json_t *rest_incident_list_json(const IncidentList *l);

/* {"id", "name", "department", "status", "revision", "approval", "budget":
 *  {construction_fen, om_fen, used_..., remaining_...}, "deadlines",
 *  "blocked", "created_at", "updated_at"} and, for a full record,
 *  "approval_history", "milestones" and "events". */
json_t *rest_project_json(const Project *pr);
json_t *rest_project_list_json(const ProjectList *l);

/* An approval revision: what POST /v1/approvals answers, {"project_id",
 * "approval_no", "revision"}; a project's approval_history entry,
 * {"revision", "approval_no", "key_id", "received_at", "received_by"}
 * (and an array of them); and the GET /v1/approvals entry,
 * {"project_id", "department", "revision", "approval_no", "key_id",
 * "received_at", "received_by", "in_force"}, with "document" (the
 * approval, policy/approval.h's approval_to_json) when the record has it. */
json_t *rest_approval_receipt_json(const ApprovalRecord *a);
json_t *rest_approval_revision_json(const ApprovalRecord *a);
json_t *rest_approval_history_json(const ApprovalList *l);
json_t *rest_approval_json(const ApprovalRecord *a);
json_t *rest_approval_list_json(const ApprovalList *l);

/* A policy decision for a request: {"allowed", "violations" (policy.h's
 * policy_decision_to_json), "projected_cost_fen", "cost_kind"}, what
 * POST /v1/policy/evaluate and Policy.Evaluate answer. */
json_t *rest_evaluation_json(const Evaluation *e);

/* A provider: {"name", "driver", "uri", "status", "source" ("config" or
 * "api"), ["domain_type" (libvirt)], ["image_pool"], "managed_only",
 * ["error"], http: {"api_version", ["username"], ["ca_file"],
 * "timeout_seconds", ["offered": [{"id", "plans": [id...]}],
 * "catalog_read_at"]}, ["capacity": {"total_vcpus", "free_vcpus",
 * "total_memory_mib", "free_memory_mib", "running", "reserved_vcpus",
 * "reserved_memory_mib", ["pools"]}]}: what GET /v1/providers lists and
 * POST /v1/providers answers. The record holds no password to show. */
json_t *rest_provider_json(const ProviderRecord *p);
json_t *rest_provider_list_json(const ProviderList *l);

/* A provider's live inventory: {"provider", "domains": [{"name",
 * "provider_ref", "state", "vcpus", "memory_mib", "managed", "resource_id",
 * ["violation"]}], "volumes": [{"name", "provider_ref", "size_gib",
 * "managed", "resource_id", ["attached_to", "attachment_state"] (the
 * record), and for a managed one "provider_attachments": [{"domain",
 * "resource_id", "target", "persistent", "live"}] (the provider) and
 * "attachment_drift": [{"kind", "domain", "vm_id", "target", "first_seen"}],
 * ["violation"]}]}, provider_ref and resource_id null when there is none;
 * violation is the Art. 10 finding {"code": "UNMANAGED_RESOURCE",
 * "article": 10, "message"} of an object no approval covers. */
json_t *rest_inventory_json(const Inventory *inv);

/* An audit record, {"seq", "at", "principal", "face", "action", "object",
 * "outcome", "codes", "detail", "prev_hash", "hash"}, and an array of them
 * (GET /v1/audit's "records", Audit.ListRecords). */
json_t *rest_audit_record_json(const AuditRecord *a);
json_t *rest_audit_list_json(const AuditList *l);

/* A VM's volumes, [{"volume_id", "target", "state", "attached_at"}] (GET
 * /v1/resources/{id}/volumes' "volumes", Resource.ListVolumes). */
json_t *rest_volume_attachment_list_json(const VolumeAttachmentList *l);

/* {"provider", "name", "pool", "volume", "os", "os_version", "arch",
 * "format", "digest": "<alg>:<hex>", "size_bytes", "min_disk_gib",
 * "secure_controllable", "state", "created_at", "created_by"[,
 * "retired_at", "retired_by"]}: an image of the library (GET /v1/images,
 * Images.GetImage and the answers of registering and retiring). */
json_t *rest_image_json(const ImageRecord *im);
json_t *rest_image_list_json(const ImageList *l);

/* {"system_id", "department", "hosting": {"kind", "location"}, "source",
 * "deadline", "wave", "state", "state_reason", "exemption", "assessment",
 * "plan", "due", "overdue", "days_overdue", "created_at", "created_by",
 * "updated_at"[, "assessing": true]}, absent ones as null: a system of the
 * legacy register (GET /v1/legacy-systems/{id}, Migration.Get and the
 * answers of every change). The list is an array of them. */
json_t *rest_legacy_json(const LegacyRecord *rec);
json_t *rest_legacy_list_json(const LegacyList *l);
/* {"today", "groups": [{"department", "wave", "total", "done", "counts":
 * {state: n, ...} (every state, in the order of legacy_state), "overdue":
 * [{"system_id", "state", "due", "days_overdue"}]}]} (GET
 * /v1/migrations/summary, Migration.Summary). */
json_t *rest_legacy_summary_json(const LegacySummary *s);

/* {"id", "period", "department", "project_id", "approval_no" (null when
 * none), "amount_fen", "reason", "created_at", "created_by", "signoffs":
 * [{"role", "principal", "signed_at"}], "status": "pending"|"signed"}. */
json_t *rest_billing_adjustment_json(const BillingAdjustment *a);
/* {"period", "closed", "adjustments": [...], "signed_fen"}
 * (GET .../adjustments, Billing.ListAdjustments). */
json_t *rest_billing_adjustment_list_json(const BillingAdjustmentList *l);

/* A VM's addresses, [{"name", "mac", "addresses": [{"type", "address",
 * "prefix"}]}], name, mac and address null when the provider gave none:
 * the record's "addresses" (GET /v1/resources/{id}) and the Addresses
 * property. */
json_t *rest_vm_address_list_json(const VmAddressList *l);
/* {"resource_id", "addresses", "read_at"}: a live read (GET
 * /v1/resources/{id}/addresses, Resource.ReadAddresses). */
json_t *rest_vm_address_read_json(const VmAddressRead *a);

/* {"period", "closed_at", "closed_by", "alg", "key_id", "files":
 * [{"department" ("" for the whole city), "format": "csv"|"json", "sm3"}]}:
 * a month's closing (POST /v1/billing/statements/{period}/close,
 * Billing.CloseStatement). */
json_t *rest_billing_closing_json(const BillingClosing *c);

/* {"id", "binding_id" (the key), "resource_id", "state", ["error"],
 * "created_by", "created_at", "updated_at", ["deleted_at"], ["credentials"],
 * ["parameters"]}: a binding of a service resource (POST, GET and DELETE
 * /v1/resources/{id}/bindings..., Resource.Bind, BindWithParameters, Unbind
 * and GetBinding). Credentials and parameters are in it only when the core
 * put them in the record: for the resource's department (bindings.h). */
json_t *rest_service_binding_json(const ServiceBinding *b);
/* An array of them (GET /v1/resources/{id}/bindings' "bindings",
 * Resource.ListBindings). */
json_t *rest_service_binding_list_json(const ServiceBindingList *l);
