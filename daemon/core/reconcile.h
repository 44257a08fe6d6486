/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Reconcile and events: keeps the record in line with what the providers
 * actually run. A driver event (a VM shut down or crashed from inside)
 * changes a resource's state when no operation of the broker is under way
 * for it; a reconcile (at start, when a provider connects, periodically)
 * compares the record with the provider's inventory, takes back a failed
 * resource whose VM exists after all and marks a lost one failed, each
 * with its audit record. An object on a provider that no resource covers is
 * reported once as UNMANAGED_RESOURCE (Art. 10). A resource that changed
 * after the inventory was queued is left to the next reconcile.
 *
 * The public entry points (resources_inventory*, resources_watch,
 * resources_provider_ready, resources_reconcile_all) are in resources.h.
 */

#include "error.h"
#include "store.h"

/* Sets up the change counter the reconcile compares by (in the store
 * connection's TEMP schema); once per store, before any resource changes. */
int reconcile_init(Store *s, CbError *err);
