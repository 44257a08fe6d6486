/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Service bindings of http (Open Service Broker) resources: a department
 * binds its PaaS/SaaS instance and gets the provider's credentials. The
 * REST, D-Bus and /v2 faces all call these functions.
 *
 * One binding is one row of service_bindings and, while it is asked of the
 * provider, a small state machine on the main loop (like operations-http.h):
 *
 *   bind     PUT .../service_bindings/<id>?accepts_incomplete=true; a 202 is
 *            polled on the binding's last_operation (Retry-After, the plan's
 *            maximum_polling_duration), then GET fetches the credentials;
 *   unbind   DELETE, polled the same way; gone (410) is done.
 *
 * Connection errors and 5xx are retried with backoff; a 4xx is final and
 * its message carries the provider's description. Orphan mitigation: a
 * bind that failed at or after the provider (a malformed or oversized
 * answer, a time-out, "failed" from last_operation) is followed by DELETEs,
 * with backoff, until the provider confirms; only then is the binding
 * failed. The phase is on the row, so a restarted daemon resumes it. The
 * timer, retries, deadline and mitigation are the state machine instance
 * operations share (osb-poll.h).
 *
 * Who: only a department principal of the resource's department binds (an
 * OSB platform acts as one); the credentials are answered only to that
 * department, are sealed at rest (secretbox.h, under the binding's id) and
 * never logged nor audited (the audit record names the credential fields,
 * not their values). Operators and auditors see that a binding exists.
 * One binder's key (binding_key; the REST binding_id, the OSB binding_id)
 * names one binding ever: the same request again answers it, another
 * request under it conflicts.
 */

#include "resources.h"

typedef struct ServiceBinding {
        const char *id; /* the broker's "sb-..." */
        const char *binding_key;
        const char *resource_id;
        const char *created_by;
        const char *error; /* why it failed, or why the last unbind did not happen; NULL */
        const char *created_at;
        const char *updated_at;
        const char *deleted_at; /* set once unbound */
        BindingState state;
        json_t *credentials; /* opened, owned; NULL unless bound and the caller is the department */
        json_t *parameters;  /* what it was asked with: like credentials, the department's only; NULL */
        char *mem_;
} ServiceBinding;
void service_binding_done(ServiceBinding *b);

/* The bindings of a resource, as resource_bindings_list() reads them. */
typedef struct ServiceBindingList {
        ServiceBinding *items;
        size_t n;
} ServiceBindingList;
ServiceBindingList *service_binding_list_free(ServiceBindingList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(ServiceBindingList *, service_binding_list_free);

/* Called once, on the loop, after the provider's first answer to a bind or
 * unbind this call started: b as it then stands (bound/unbound at once,
 * creating/unbinding while under way or retried, failed), err set when it
 * failed. b and err are borrowed. */
typedef void (*BindingAnswerFn)(const ServiceBinding *b, const CbError *err, void *userdata);

/* Binds resource_id (a service resource of the caller's department, active)
 * under binding_key (NULL: the new binding's id) with parameters (NULL or an
 * object): checked by osb_params_check() (policy/osb-params.h) against the
 * schema the provider's catalogue plan gives for bindings
 * (schemas.service_binding.create.parameters), sent in the PUT, and kept
 * sealed on the row (like credentials: secretbox.h, under the binding's id)
 * until the binding is unbound or failed, so a resumed bind sends them again;
 * the audit record names them (parameter_names), never their values. A repeat
 * must carry the same parameters ({} and none are the same).
 * request_hash says what was asked (NULL: nothing but the binding). On 0: either *ret_pending is false and
 * *ret is the existing binding (a repeat; answer is never called), or
 * *ret_pending is true, the binding is recorded as creating and answer
 * follows. CB_ERR_CONFLICT: another request under the key, a failed or
 * unbound key, a resource not active; CB_ERR_VALIDATION: not a service, not
 * bindable (the catalogue's service, or the provider's service or plan, says
 * bindable: false), parameters the schema refuses (err->field names the
 * parameter); CB_ERR_UNAVAILABLE: no secrets key, no provider. Every refusal
 * comes before anything is written or sent. */
int resource_bind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
                  const json_t *parameters, const char *request_hash, BindingAnswerFn answer, void *userdata,
                  ServiceBinding *ret, bool *ret_pending, CbError *err);
/* resource_bind of res, the record the caller read with resources_get in
 * this same turn of the loop (a face that had to read it first): not read
 * again. */
int resource_bind_known(Resources *r, const CbCaller *caller, const Resource *res, const char *binding_key,
                        const json_t *parameters, const char *request_hash, BindingAnswerFn answer,
                        void *userdata, ServiceBinding *ret, bool *ret_pending, CbError *err);

/* The binding id (or, by_key, the caller's own binding_key) of resource_id,
 * as the caller may see it: credentials only for the department.
 * CB_ERR_NOT_FOUND for none (or one the caller may not see). */
int resource_binding_get(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                         bool by_key, ServiceBinding *ret, CbError *err);

/* The bindings of resource_id, newest first, without credentials or
 * parameters (whoever lists: not even the department sees them here). */
int resource_bindings_list(Resources *r, const CbCaller *caller, const char *resource_id,
                           ServiceBindingList **ret, CbError *err);

/* Unbinds binding id (or by_key) of resource_id: like resource_bind, either
 * *ret_pending with answer to follow, or CB_ERR_NOT_FOUND when it is unbound
 * (or failed) already, CB_ERR_CONFLICT while it is being made or unbound. */
int resource_unbind(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                    bool by_key, BindingAnswerFn answer, void *userdata, ServiceBinding *ret,
                    bool *ret_pending, CbError *err);
/* resource_unbind of res, read as for resource_bind_known. */
int resource_unbind_known(Resources *r, const CbCaller *caller, const Resource *res, const char *id,
                          bool by_key, BindingAnswerFn answer, void *userdata, ServiceBinding *ret,
                          bool *ret_pending, CbError *err);

/* Resumes the bindings and unbindings a stop left open on provider p (once
 * it is connected); one already under way is not started twice. */
void bindings_resume(Resources *r, Provider *p);
/* Ends every binding state machine for the daemon's stop; an unanswered
 * caller is answered with CB_ERR_UNAVAILABLE. The rows stay as they are. */
void bindings_cancel_all(void);
