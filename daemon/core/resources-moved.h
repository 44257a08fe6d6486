/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The record of a VM that came onto the cloud by a legacy move (Art. 35)
 * rather than by a provision: the resources core's own row for it, active
 * on its provider with the domain's UUID, in the migration project under
 * its approval, with the cost the policy engine projected, so that it is
 * metered, reconciled and managed like any ordered resource from then on.
 * Written in the caller's transaction (the move's cut-over and its audit
 * record), so the move and the record land together or not at all.
 */

#include "store.h"

typedef struct MovedResource {
        const char *id, *name, *project_id, *system_id, *department;
        const char *service_id, *plan_id, *approval_no;
        unsigned catalog_revision;
        const char *cost_kind; /* "construction" or "om" */
        int64_t committed_fen;
        const char *provider, *provider_ref;
        const char *created_by, *now;
        /* NULL: the VM. Else a block volume (kind volume), one of the VM's
         * other disks, recorded attached to attached_to as its disk dev. */
        const char *attached_to, *dev;
} MovedResource;

int resources_record_moved(Store *s, const MovedResource *m, CbError *err);
