/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Adoption (issue 12, Art. 35): a VM found on a provider that the broker
 * did not create (an industry cloud under management, typically) is taken
 * under management as a resource of a project and a system. It is checked
 * like an order (the approval, its quantities, the budget): a refusal names
 * its article and changes nothing. Allowed, the domain is stamped with the
 * broker's metadata on a worker, then an active (or stopped) resource of
 * kind vm is recorded with its audit record in one transaction; from then
 * on it is metered (the usage triggers) and reconciled like any order, and
 * the inventory no longer calls it UNMANAGED_RESOURCE.
 */

#include <jansson.h>

#include "error.h"
#include "principal.h"
#include "resources.h"

/* body: {"domain" (name or UUID), "project_id", "system_id", "service_id",
 * "plan_id", ["name"]}. Operators, or the project's department. Refusals
 * come back synchronously (then done is never called); otherwise done is
 * called once on the main thread with the new resource ({"id", "state",
 * "provider", "provider_ref", "domain", ...}) or the error. */
typedef void (*AdoptDoneFn)(json_t *resource, const CbError *err, void *userdata);
int resources_adopt(Resources *r, const CbCaller *caller, const char *provider, const json_t *body,
                    AdoptDoneFn done, void *userdata, CbError *err);
