/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Adoption (issue 12, Art. 35): a VM found on a provider that the broker
 * did not create (an industry cloud under management, typically) is taken
 * under management as a resource of a project and a system. It is checked
 * like an order (the approval, its quantities, the budget): a refusal names
 * its article, is on record, and changes nothing.
 *
 * Allowed, it is an operation of its own, like an order's provision: the
 * resource (provisioning) and its operation (kind adopt, naming the
 * domain) are written with their audit record (resource.adopt) in one
 * transaction before the provider hears of it. The operation runner
 * (operations.c) then stamps the domain with the broker's metadata on a
 * worker and records the outcome (resource.adopt.done or .failed): the
 * resource becomes active (or stopped, as the domain is), metered and
 * reconciled like any order, and the inventory no longer calls it
 * UNMANAGED_RESOURCE; a failed adoption (no such domain, one already
 * stamped) leaves the resource deleted, so it holds no quantity. A daemon
 * stopped in between finds the operation unfinished and runs it again when
 * the provider connects: stamping a domain that already carries this
 * resource's stamp is success.
 */

#include <jansson.h>

#include "error.h"
#include "principal.h"
#include "resources.h"

/* body: {"domain" (name or UUID), "project_id", "system_id", "service_id",
 * "plan_id", ["name"]}. Operators, or the project's department. *ret: the
 * new resource (provisioning) and its adopt operation (follow it with
 * operations_get). */
int resources_adopt(Resources *r, const CbCaller *caller, const char *provider, const json_t *body,
                    ResourceTicket *ret, CbError *err);

/* For the operation runner: the domain the adopt operation op_id takes
 * over, into ret (size n). 0, -ENOENT, -EIO. */
int adopt_operation_domain(Resources *r, const char *op_id, char *ret, size_t n);
