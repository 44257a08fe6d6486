/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The operation runner's half for http (Open Service Broker) providers: the
 * same recorded operations as VMs (operations.h), run on the main loop
 * through the driver's asynchronous calls instead of on the worker pool.
 * One operation is a small state machine:
 *
 *   provision     PUT ?accepts_incomplete=true; a 202 is polled on
 *                 last_operation, as often as Retry-After says (else every
 *                 second) and no longer than the plan's
 *                 maximum_polling_duration in the provider's catalogue (else
 *                 an hour);
 *   deprovision   DELETE, polled the same way; gone (410) is done.
 *
 * Connection errors and 5xx are retried with backoff (0.5 s doubling, at
 * most 30 s apart, 6 tries for a request of its own); a 4xx is final and its
 * message carries the provider's description. Orphan mitigation: a
 * provision that the provider says failed, whose answer was malformed, that
 * timed out, or whose PUT may have landed unanswered, is followed by a
 * DELETE, retried with backoff until the provider confirms the instance is
 * gone; only then does the operation end (failed, with the first reason).
 * The phase and the provider's operation token are written to the operation
 * row as they change, so a daemon killed mid-operation resumes where it was
 * (a provision not yet acknowledged is PUT again: the provider answers the
 * same instance, never a second one).
 *
 * The timer, retries, polling deadline and orphan mitigation are the state
 * machine bindings share (osb-poll.h); what a phase sends and what its
 * answer means for an operation is here.
 */

#include <jansson.h>

#include "providers.h"
#include "resources.h"
#include "secretbox.h"
#include "states.h"

/* result 0: done; <0: failed, error says why (for the record and the
 * department); -ECANCELED: the daemon is stopping, the operation stays open. */
typedef void (*HttpOpDoneFn)(int result, const char *error, void *userdata);

/* Starts operation op_id (kind provision or deprovision) of the resource
 * res, ordered with plan_spec (its "remote_service_id", "remote_plan_id"),
 * on its provider. Both are copied. A provision sends the parameters sealed
 * on its row (http_parameters_seal(), opened with secrets). On 0, done is
 * called exactly once, later, on the loop. Other kinds: -EOPNOTSUPP with err
 * set, and done is not called. */
int http_operation_start(Store *store, Providers *ps, const SecretBox *secrets, const char *op_id,
                         OperationKind kind, const Resource *res, const json_t *plan_spec, HttpOpDoneFn done,
                         void *userdata, CbError *err);

/* An order's parameters (not NULL) held against what provider p says its
 * plan takes for a new instance (schemas.service_instance.create.parameters
 * of plan_spec's remote plan; osb_params_check()): CB_ERR_VALIDATION naming
 * the parameter. A plan p does not list (yet) is the provider's to check. */
int http_provision_parameters_check(const Provider *p, const json_t *plan_spec, const json_t *parameters,
                                    CbError *err);
/* An update's parameters (not NULL) held against what provider p says the
 * plan of plan_spec takes for an update (schemas.service_instance.update.parameters). */
int http_update_parameters_check(const Provider *p, const json_t *plan_spec, const json_t *parameters,
                                 CbError *err);
/* params sealed for the parameters column of operation op_id (*ret, malloc'd). */
int http_parameters_seal(const SecretBox *secrets, const char *op_id, const json_t *params, char **ret);
/* The parameters sealed on operation op_id: *ret a new reference, or NULL for none. */
int http_operation_parameters(Store *store, const SecretBox *secrets, const char *op_id, json_t **ret,
                              CbError *err);

/* The entry of plan (a remote plan id) of service in what provider p offers
 * (its /v2/catalog), and in *ret_service (may be NULL) its service's: borrowed,
 * or NULL when p offers no such plan. */
const json_t *http_offered_plan(const Provider *p, const char *service, const char *plan,
                                const json_t **ret_service);

/* The plan's maximum_polling_duration (seconds) in what provider p offers,
 * else an hour: how long an asynchronous operation of it is polled. */
unsigned http_plan_max_polling(const Provider *p, const char *service, const char *plan);

/* fn (NULL: none) hears of every provision and deprovision the provider
 * accepted as under way (202, to be polled), with the resource's id.
 * Process-wide. */
void http_operations_set_progress(void (*fn)(const char *resource_id, void *userdata), void *userdata);

/* Ends every operation under way with -ECANCELED (their done runs now),
 * for the daemon's stop: none is left pending on a timer. */
void http_operations_cancel_all(void);

/* Reconcile for an http provider (it cannot list its instances, so the
 * broker's own record is the inventory): each active service resource on p
 * with no operation under way is fetched (GET service_instances/<id>), and
 * one the provider no longer has is marked failed, audited
 * (resource.lost) and logged: a lost instance shows up here. Answers come
 * later on the loop; a fetch already under way for p is not repeated. */
void http_reconcile_provider(Store *store, Providers *ps, Provider *p,
                             void (*changed)(const char *id, void *userdata), void *userdata);
