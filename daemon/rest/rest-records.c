/* SPDX-License-Identifier: Apache-2.0 */
#include "rest-records.h"

#include "json-text.h"

static json_t *string_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

json_t *rest_resource_json(const Resource *res) {
        return json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o, s:o, s:s, s:s, s:s, s:s, "
                "s:s}",
                "id", res->id, "name", res->name, "project_id", res->project_id, "system_id", res->system_id,
                "department", res->department, "service_id", res->service_id, "plan_id", res->plan_id,
                "catalog_revision", (json_int_t)res->catalog_revision, "approval_no", res->approval_no,
                "cost_kind", res->cost_kind, "committed_fen", (json_int_t)res->committed_fen, "provider",
                string_or_null(res->provider), "provider_ref", string_or_null(res->provider_ref), "state",
                resource_state_to_string(res->state), "created_at", res->created_at, "created_by",
                res->created_by, "updated_at", res->updated_at, "kind", resource_kind_to_string(res->kind));
}

json_t *rest_resource_list_json(const ResourceList *list) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < list->n; i++)
                if (json_array_append_new(a, rest_resource_json(&list->items[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static void resource_text(JsonText *w, const Resource *res) {
        json_text_begin_object(w);
        json_text_key_lit(w, "id");
        json_text_string(w, res->id);
        json_text_key_lit(w, "name");
        json_text_string(w, res->name);
        json_text_key_lit(w, "project_id");
        json_text_string(w, res->project_id);
        json_text_key_lit(w, "system_id");
        json_text_string(w, res->system_id);
        json_text_key_lit(w, "department");
        json_text_string(w, res->department);
        json_text_key_lit(w, "service_id");
        json_text_string(w, res->service_id);
        json_text_key_lit(w, "plan_id");
        json_text_string(w, res->plan_id);
        json_text_key_lit(w, "catalog_revision");
        json_text_int(w, res->catalog_revision);
        json_text_key_lit(w, "approval_no");
        json_text_string(w, res->approval_no);
        json_text_key_lit(w, "cost_kind");
        json_text_string(w, res->cost_kind);
        json_text_key_lit(w, "committed_fen");
        json_text_int(w, res->committed_fen);
        json_text_key_lit(w, "provider");
        json_text_string_or_null(w, res->provider);
        json_text_key_lit(w, "provider_ref");
        json_text_string_or_null(w, res->provider_ref);
        json_text_key_lit(w, "state");
        json_text_string(w, resource_state_to_string(res->state));
        json_text_key_lit(w, "created_at");
        json_text_string(w, res->created_at);
        json_text_key_lit(w, "created_by");
        json_text_string(w, res->created_by);
        json_text_key_lit(w, "updated_at");
        json_text_string(w, res->updated_at);
        json_text_key_lit(w, "kind");
        json_text_string(w, resource_kind_to_string(res->kind));
        json_text_end_object(w);
}

int rest_resource_page_text(const ResourceList *list, const char *next, char **ret, size_t *ret_len) {
        JsonText w = JSON_TEXT_INIT;
        /* About 450 bytes a record. */
        json_text_reserve(&w, 512 * list->n + 256);
        json_text_begin_object(&w);
        json_text_key_lit(&w, "resources");
        json_text_begin_array(&w);
        for (size_t i = 0; i < list->n; i++)
                resource_text(&w, &list->items[i]);
        json_text_end_array(&w);
        if (next && next[0]) {
                json_text_key_lit(&w, "next_page_token");
                json_text_string(&w, next);
        }
        json_text_end_object(&w);
        return json_text_finish(&w, ret, ret_len);
}

json_t *rest_operation_json(const Operation *o) {
        json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s}", "id", o->id, "resource_id",
                              o->resource_id, "kind", operation_kind_to_string(o->kind), "state",
                              operation_state_to_string(o->state), "error", o->error, "created_at",
                              o->created_at, "updated_at", o->updated_at);
        if (v && o->domain)
                json_object_set_new(v, "domain", json_string(o->domain));
        return v;
}

/* The operations list as JSON (REST and D-Bus answer the same array). */
json_t *rest_operations_json(const OperationList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_operation_json(&l->items[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_ticket_json(const ResourceTicket *t) {
        return json_pack("{s:s, s:s, s:s}", "id", t->id, "state", resource_state_to_string(t->state),
                         "operation_id", t->operation_id);
}

json_t *rest_system_json(const System *sys) {
        return json_pack("{s:s, s:s, s:s, s:i, s:b, s:s, s:s, s:s}", "id", sys->id, "name", sys->name,
                         "department", sys->department, "protection_level", (int)sys->protection_level,
                         "classified", sys->classified, "data_sharing",
                         sys->data_sharing_compliant ? "compliant" : "noncompliant", "created_at",
                         sys->created_at, "updated_at", sys->updated_at);
}

json_t *rest_system_list_json(const SystemList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_system_json(l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *ids_json(char *const *v, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_incident_json(const Incident *inc) {
        json_t *v = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:o, s:o, s:s, s:s, s:s, s:b, s:s?}", "id", inc->id,
                              "status", incident_status_to_string(inc->status), "severity", inc->severity,
                              "department", inc->department, "description", inc->description, "systems",
                              ids_json(inc->systems, inc->n_systems), "resources",
                              ids_json(inc->resources, inc->n_resources), "reported_at", inc->reported_at,
                              "reported_by", inc->reported_by, "report_due", inc->report_due,
                              "report_overdue", inc->report_overdue, "report_made_at", inc->report_made_at);
        json_t *records;

        if (!v)
                return NULL;
        if (inc->occurred_at && json_object_set_new(v, "occurred_at", json_string(inc->occurred_at)) < 0)
                goto fail;
        if (!inc->has_records)
                return v;
        records = json_array();
        if (!records || json_object_set_new(v, "records", records) < 0)
                goto fail;
        for (size_t i = 0; i < inc->n_records; i++) {
                const IncidentRecord *rec = &inc->records[i];
                if (json_array_append_new(records,
                                          json_pack("{s:s, s:s, s:s, s:s}", "at", rec->at, "by", rec->by,
                                                    "status", incident_status_to_string(rec->status), "note",
                                                    rec->note)) < 0)
                        goto fail;
        }
        return v;
fail:
        json_decref(v);
        return NULL;
}

json_t *rest_incident_list_json(const IncidentList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_incident_json(l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *deadline_to_json(const ProjectDeadline *pd) {
        const Deadline *d = &pd->deadline;
        json_t *v = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:s?, s:s}", "kind",
                              deadline_kind_to_string(d->kind), "article", (int)d->article, "event",
                              pd->event, "event_date", d->event_date, "due", d->due, "provisional",
                              d->provisional, "filed_on", pd->filed_on[0] ? pd->filed_on : NULL, "status",
                              deadline_status_to_string(d->status));
        if (v && d->kind == DEADLINE_SELF_EVALUATION &&
            json_object_set_new(v, "budget_year", json_integer(d->budget_year)) < 0) {
                json_decref(v);
                return NULL;
        }
        return v;
}

static json_t *milestone_to_json(const ProjectMilestone *m) {
        json_t *v = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)m->id, "kind",
                              milestone_kind_to_string(m->kind), "date", m->date, "recorded_at",
                              m->recorded_at, "recorded_by", m->recorded_by);
        /* A budget year only where there is one: the self-evaluations. */
        if (v && m->budget_year && json_object_set_new(v, "budget_year", json_integer(m->budget_year)) < 0) {
                json_decref(v);
                return NULL;
        }
        return v;
}

/* Appends make(item) for each of n items of size bytes to a new array under key. */
static int set_array(json_t *o, const char *key, const void *items, size_t n, size_t size,
                     json_t *(*make)(const void *)) {
        json_t *a = json_array();
        if (!a || json_object_set_new(o, key, a) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(a, make((const char *)items + i * size)) < 0)
                        return -ENOMEM;
        return 0;
}

static json_t *deadline_item(const void *p) {
        return deadline_to_json(p);
}
static json_t *milestone_item(const void *p) {
        return milestone_to_json(p);
}
static json_t *revision_item(const void *p) {
        return rest_approval_revision_json(p);
}
static json_t *event_item(const void *p) {
        const ProjectEvent *e = p;
        return json_pack("{s:s, s:s, s:s, s:s}", "action", e->action, "reason", e->reason, "principal",
                         e->principal, "at", e->at);
}

json_t *rest_project_json(const Project *pr) {
        const Approval *a = pr->approval;
        json_t *v = json_pack(
                "{s:s, s:s, s:s, s:s, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:b, s:s, s:s}", "id",
                pr->id, "name", pr->name, "department", pr->department, "status",
                project_status_to_string(pr->status), "revision", (int)pr->revision, "approval",
                approval_to_json(a), "budget", "construction_fen", (json_int_t)a->construction_fen, "om_fen",
                (json_int_t)a->om_fen, "used_construction_fen", (json_int_t)pr->used_construction_fen,
                "used_om_fen", (json_int_t)pr->used_om_fen, "remaining_construction_fen",
                (json_int_t)(a->construction_fen - pr->used_construction_fen), "remaining_om_fen",
                (json_int_t)(a->om_fen - pr->used_om_fen), "blocked", pr->blocked, "created_at",
                pr->created_at, "updated_at", pr->updated_at);
        int r;

        if (!v)
                return NULL;
        r = set_array(v, "deadlines", pr->deadlines, pr->n_deadlines, sizeof(*pr->deadlines), deadline_item);
        if (r >= 0 && pr->full)
                r = set_array(v, "approval_history", pr->history.v, pr->history.n, sizeof(*pr->history.v),
                              revision_item);
        if (r >= 0 && pr->full)
                r = set_array(v, "milestones", pr->milestones, pr->n_milestones, sizeof(*pr->milestones),
                              milestone_item);
        if (r >= 0 && pr->full)
                r = set_array(v, "events", pr->events, pr->n_events, sizeof(*pr->events), event_item);
        if (r < 0) {
                json_decref(v);
                return NULL;
        }
        return v;
}

json_t *rest_project_list_json(const ProjectList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_project_json(l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_approval_receipt_json(const ApprovalRecord *a) {
        return json_pack("{s:s, s:s, s:I}", "project_id", a->project_id, "approval_no", a->approval_no,
                         "revision", (json_int_t)a->revision);
}

json_t *rest_approval_revision_json(const ApprovalRecord *a) {
        return json_pack("{s:I, s:s, s:s, s:s, s:s}", "revision", (json_int_t)a->revision, "approval_no",
                         a->approval_no, "key_id", a->key_id, "received_at", a->received_at, "received_by",
                         a->received_by);
}

json_t *rest_approval_history_json(const ApprovalList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_approval_revision_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_approval_json(const ApprovalRecord *a) {
        json_t *v = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:b}", "project_id", a->project_id,
                              "department", a->department, "revision", (json_int_t)a->revision, "approval_no",
                              a->approval_no, "key_id", a->key_id, "received_at", a->received_at,
                              "received_by", a->received_by, "in_force", a->in_force);
        if (v && a->document && json_object_set_new(v, "document", approval_to_json(a->document)) < 0) {
                json_decref(v);
                return NULL;
        }
        return v;
}

json_t *rest_approval_list_json(const ApprovalList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_approval_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_evaluation_json(const Evaluation *e) {
        json_t *out = policy_decision_to_json(&e->decision);
        if (!out)
                return NULL;
        if (json_object_set_new(out, "projected_cost_fen", json_integer(e->projected_cost_fen)) < 0 ||
            json_object_set_new(out, "cost_kind",
                                json_string(e->cost_kind == POLICY_COST_OM ? "om" : "construction")) < 0) {
                json_decref(out);
                return NULL;
        }
        return out;
}

static json_t *offered_json(const ProviderRecord *p) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < p->n_offered; i++) {
                const ProviderOffer *o = &p->offered[i];
                if (json_array_append_new(a, json_pack("{s:s, s:o}", "id", o->id, "plans",
                                                       ids_json(o->plans, o->n_plans))) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *capacity_json(const ProviderRecord *p) {
        json_t *c =
                json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "total_vcpus", (json_int_t)p->total_vcpus,
                          "free_vcpus", (json_int_t)p->free_vcpus, "total_memory_mib",
                          (json_int_t)p->total_memory_mib, "free_memory_mib", (json_int_t)p->free_memory_mib,
                          "running", (json_int_t)p->running, "reserved_vcpus", (json_int_t)p->reserved_vcpus,
                          "reserved_memory_mib", (json_int_t)p->reserved_memory_mib);
        json_t *pools;

        if (!c || !p->has_pools)
                return c;
        pools = json_array();
        if (!pools || json_object_set_new(c, "pools", pools) < 0)
                goto fail;
        for (unsigned i = 0; i < p->n_pools; i++)
                if (json_array_append_new(pools, json_string(p->pools[i])) < 0)
                        goto fail;
        return c;
fail:
        json_decref(c);
        return NULL;
}

json_t *rest_provider_json(const ProviderRecord *p) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", p->name, "driver", p->driver, "uri",
                              p->uri, "status", provider_status_to_string(p->status), "source",
                              p->from_config ? "config" : "api");
        int r = 0;

        if (!o)
                return NULL;
        if (p->has_domain_type)
                r = json_object_set_new(o, "domain_type",
                                        json_string(driver_domain_type_to_string(p->domain_type)));
        if (r >= 0 && p->image_pool)
                r = json_object_set_new(o, "image_pool", json_string(p->image_pool));
        if (r >= 0)
                r = json_object_set_new(o, "managed_only", json_boolean(p->managed_only));
        if (r >= 0 && p->error)
                r = json_object_set_new(o, "error", json_string(p->error));
        if (r >= 0 && p->http) {
                r = json_object_set_new(o, "api_version", json_string(p->api_version));
                if (r >= 0 && p->username)
                        r = json_object_set_new(o, "username", json_string(p->username));
                if (r >= 0 && p->ca_file)
                        r = json_object_set_new(o, "ca_file", json_string(p->ca_file));
                if (r >= 0)
                        r = json_object_set_new(o, "timeout_seconds", json_integer(p->timeout_s));
                if (r >= 0 && p->has_offered)
                        r = json_object_set_new(o, "offered", offered_json(p));
                if (r >= 0 && p->has_offered)
                        r = json_object_set_new(o, "catalog_read_at", json_string(p->catalog_read_at));
        }
        if (r >= 0 && p->has_capacity)
                r = json_object_set_new(o, "capacity", capacity_json(p));
        if (r < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *rest_provider_list_json(const ProviderList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_provider_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *inventory_item_json(const InventoryItem *it) {
        json_t *o;
        int r = 0;

        if (it->kind == DRIVER_OBJECT_VOLUME)
                o = json_pack("{s:s, s:s?, s:I, s:b, s:s?}", "name", it->name, "provider_ref",
                              it->provider_ref, "size_gib", (json_int_t)it->size_gib, "managed", it->managed,
                              "resource_id", it->resource_id);
        else
                o = json_pack("{s:s, s:s?, s:s, s:I, s:I, s:b, s:s?}", "name", it->name, "provider_ref",
                              it->provider_ref, "state", driver_state_to_string(it->state), "vcpus",
                              (json_int_t)it->vcpus, "memory_mib", (json_int_t)it->memory_mib, "managed",
                              it->managed, "resource_id", it->resource_id);
        if (!o)
                return NULL;
        if (it->attached_to) {
                r = json_object_set_new(o, "attached_to", json_string(it->attached_to));
                if (r >= 0)
                        r = json_object_set_new(
                                o, "attachment_state",
                                json_string(attachment_state_to_string(it->attachment_state)));
        }
        /* The provider's view beside the record's, and where they differ. */
        if (r >= 0 && it->kind == DRIVER_OBJECT_VOLUME && it->managed) {
                json_t *on = json_array(), *drift = json_array();
                for (size_t k = 0; on && k < it->n_on; k++)
                        if (json_array_append_new(
                                    on, json_pack("{s:s, s:s?, s:s?, s:b, s:b}", "domain", it->on[k].domain,
                                                  "resource_id", it->on[k].resource_id, "target",
                                                  it->on[k].target, "persistent", it->on[k].persistent,
                                                  "live", it->on[k].live)) < 0)
                                r = -1;
                for (size_t k = 0; drift && k < it->n_drift; k++)
                        if (json_array_append_new(drift,
                                                  json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "kind",
                                                            attachment_drift_to_string(it->drift[k].kind),
                                                            "domain", it->drift[k].domain, "vm_id",
                                                            it->drift[k].vm_id, "target", it->drift[k].target,
                                                            "first_seen", it->drift[k].first_seen)) < 0)
                                r = -1;
                if (json_object_set_new(o, "provider_attachments", on) < 0 ||
                    json_object_set_new(o, "attachment_drift", drift) < 0)
                        r = -1;
        }
        /* Art. 10: what the broker did not place is a finding, on every face alike. */
        if (r >= 0 && !it->managed)
                r = json_object_set_new(o, "violation",
                                        json_pack("{s:s, s:i, s:s}", "code", "UNMANAGED_RESOURCE", "article",
                                                  10, "message", "no approval covers this object"));
        if (r < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *rest_inventory_json(const Inventory *inv) {
        json_t *domains = json_array(), *volumes = json_array();

        for (size_t i = 0; domains && volumes && i < inv->n; i++) {
                const InventoryItem *it = &inv->v[i];
                if (json_array_append_new(it->kind == DRIVER_OBJECT_VOLUME ? volumes : domains,
                                          inventory_item_json(it)) < 0)
                        goto fail;
        }
        if (!domains || !volumes)
                goto fail;
        return json_pack("{s:s, s:o, s:o}", "provider", inv->provider, "domains", domains, "volumes",
                         volumes);
fail:
        json_decref(domains);
        json_decref(volumes);
        return NULL;
}

json_t *rest_audit_record_json(const AuditRecord *a) {
        return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:s}", "seq", (json_int_t)a->seq,
                         "at", a->at, "principal", a->principal, "face", a->face, "action", a->action,
                         "object", a->object, "outcome", a->outcome, "codes", a->codes, "detail", a->detail,
                         "prev_hash", a->prev_hash, "hash", a->hash);
}

json_t *rest_audit_list_json(const AuditList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_audit_record_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_volume_attachment_list_json(const VolumeAttachmentList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++) {
                const VolumeAttachment *v = &l->v[i];
                if (json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "volume_id", v->volume_id,
                                                       "target", v->target, "state",
                                                       attachment_state_to_string(v->state), "attached_at",
                                                       v->attached_at)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

json_t *rest_image_json(const ImageRecord *im) {
        char digest[sizeof(im->digest_alg) + 1 + IMAGE_DIGEST_HEX];
        json_t *o;

        snprintf(digest, sizeof(digest), "%s:%s", im->digest_alg, im->digest);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:s, s:s, s:s}",
                      "provider", im->provider, "name", im->name, "pool", im->pool, "volume", im->volume,
                      "os", im->os, "os_version", im->os_version, "arch", im->arch, "format", im->format,
                      "digest", digest, "size_bytes", (json_int_t)im->size_bytes, "min_disk_gib",
                      (json_int_t)im->min_disk_gib, "secure_controllable", im->secure_controllable, "state",
                      image_state_to_string(im->state), "created_at", im->created_at, "created_by",
                      im->created_by);
        if (o && im->retired_at &&
            (json_object_set_new(o, "retired_at", json_string(im->retired_at)) < 0 ||
             json_object_set_new(o, "retired_by", json_string(im->retired_by ? im->retired_by : "")) < 0)) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *rest_image_list_json(const ImageList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_image_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_legacy_json(const LegacyRecord *rec) {
        json_t *o = json_pack(
                "{s:s, s:s, s:{s:s, s:s}, s:O?, s:s, s:s?, s:s, s:s?, s:O?, s:O?, s:O?, s:s, s:b, s:I, s:s, "
                "s:s, s:s}",
                "system_id", rec->system_id, "department", rec->department, "hosting", "kind",
                legacy_hosting_to_string(rec->hosting), "location", rec->location, "source", rec->source,
                "deadline", rec->deadline, "wave", rec->wave, "state", legacy_state_to_string(rec->state),
                "state_reason", rec->state_reason, "exemption", rec->exemption, "assessment", rec->assessment,
                "plan", rec->plan, "due", rec->due, "overdue", rec->overdue, "days_overdue",
                (json_int_t)rec->days_overdue, "created_at", rec->created_at, "created_by", rec->created_by,
                "updated_at", rec->updated_at);
        if (o && rec->assessing && json_object_set_new(o, "assessing", json_true()) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *rest_legacy_list_json(const LegacyList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_legacy_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *legacy_group_json(const LegacySummaryGroup *g) {
        json_t *counts = json_object(), *overdue = json_array();
        bool ok = counts && overdue;

        for (int i = 0; ok && i < _LEGACY_STATE_MAX; i++)
                ok = json_object_set_new(counts, legacy_state_to_string((LegacyState)i),
                                         json_integer(g->counts[i])) == 0;
        for (size_t i = 0; ok && i < g->n_overdue; i++) {
                const LegacySummaryOverdue *e = &g->overdue[i];
                ok = json_array_append_new(overdue,
                                           json_pack("{s:s, s:s, s:s, s:I}", "system_id", e->system_id,
                                                     "state", legacy_state_to_string(e->state), "due", e->due,
                                                     "days_overdue", (json_int_t)e->days_overdue)) == 0;
        }
        if (!ok) {
                json_decref(counts);
                json_decref(overdue);
                return NULL;
        }
        return json_pack("{s:s, s:s?, s:I, s:I, s:o, s:o}", "department", g->department, "wave", g->wave,
                         "total", (json_int_t)g->total, "done", (json_int_t)g->done, "counts", counts,
                         "overdue", overdue);
}

json_t *rest_legacy_summary_json(const LegacySummary *s) {
        json_t *groups = json_array();
        for (size_t i = 0; groups && i < s->n_groups; i++)
                if (json_array_append_new(groups, legacy_group_json(&s->groups[i])) < 0) {
                        json_decref(groups);
                        return NULL;
                }
        if (!groups)
                return NULL;
        return json_pack("{s:s, s:o}", "today", s->today, "groups", groups);
}

json_t *rest_billing_adjustment_json(const BillingAdjustment *a) {
        json_t *so = json_array(), *o;

        for (size_t i = 0; so && i < a->n_signoffs; i++)
                if (json_array_append_new(so, json_pack("{s:s, s:s, s:s}", "role",
                                                        adjustment_signer_to_string(a->signoffs[i].role),
                                                        "principal", a->signoffs[i].principal, "signed_at",
                                                        a->signoffs[i].signed_at)) < 0) {
                        json_decref(so);
                        return NULL;
                }
        if (!so)
                return NULL;
        o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:s, s:s, s:s, s:o, s:s}", "id", a->id, "period",
                      a->period, "department", a->department, "project_id", a->project_id, "approval_no",
                      a->approval_no, "amount_fen", (json_int_t)a->amount_fen, "reason", a->reason,
                      "created_at", a->created_at, "created_by", a->created_by, "signoffs", so, "status",
                      a->in_force ? "signed" : "pending");
        return o;
}

json_t *rest_billing_adjustment_list_json(const BillingAdjustmentList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_billing_adjustment_json(&l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        if (!a)
                return NULL;
        return json_pack("{s:s, s:b, s:o, s:I}", "period", l->period, "closed", l->closed, "adjustments", a,
                         "signed_fen", (json_int_t)l->signed_fen);
}

json_t *rest_vm_address_list_json(const VmAddressList *l) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < l->n; i++) {
                const VmInterface *in = &l->items[i];
                json_t *addrs = json_array();
                for (size_t k = 0; addrs && k < in->n_addresses; k++) {
                        const VmAddress *a = &in->addresses[k];
                        if (json_array_append_new(addrs, json_pack("{s:s, s:o, s:i}", "type",
                                                                   vm_address_type_to_string(a->type),
                                                                   "address", string_or_null(a->address),
                                                                   "prefix", a->prefix)) < 0)
                                json_decref(TAKE_PTR(addrs));
                }
                if (!addrs ||
                    json_array_append_new(list,
                                          json_pack("{s:o, s:o, s:o}", "name", string_or_null(in->name),
                                                    "mac", string_or_null(in->mac), "addresses", addrs)) < 0)
                        json_decref(TAKE_PTR(list));
        }
        return list;
}

json_t *rest_vm_address_read_json(const VmAddressRead *a) {
        json_t *list = rest_vm_address_list_json(a->addresses);
        return list ? json_pack("{s:s, s:o, s:s}", "resource_id", a->resource_id, "addresses", list,
                                "read_at", a->read_at)
                    : NULL;
}

json_t *rest_billing_closing_json(const BillingClosing *c) {
        json_t *files = json_array();
        for (size_t i = 0; files && i < c->n_files; i++)
                if (json_array_append_new(files,
                                          json_pack("{s:s, s:s, s:s}", "department", c->files[i].department,
                                                    "format", c->files[i].csv ? "csv" : "json", "sm3",
                                                    c->files[i].sm3)) < 0)
                        json_decref(TAKE_PTR(files));
        return files ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "period", c->period, "closed_at",
                                 c->closed_at, "closed_by", c->closed_by, "alg", c->alg, "key_id", c->key_id,
                                 "files", files)
                     : NULL;
}

json_t *rest_service_binding_json(const ServiceBinding *b) {
        return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s, s:s, s:s, s:s*, s:O*, s:O*}", "id", b->id,
                         "binding_id", b->binding_key, "resource_id", b->resource_id, "state",
                         binding_state_to_string(b->state), "error", b->error, "created_by", b->created_by,
                         "created_at", b->created_at, "updated_at", b->updated_at, "deleted_at",
                         b->deleted_at, "credentials", b->credentials, "parameters", b->parameters);
}

json_t *rest_service_binding_list_json(const ServiceBindingList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, rest_service_binding_json(&l->items[i])) < 0)
                        json_decref(TAKE_PTR(a));
        return a;
}
