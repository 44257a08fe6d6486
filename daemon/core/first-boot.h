/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What an order says about a VM's first boot (issue 9): the SSH public keys
 * ("ssh_authorized_keys", at most CLOUD_INIT_KEYS_MAX) and optional
 * "user_data" of POST /v1/resources, checked by drivers/cloud-init.h and
 * kept beside the resource, so that a provision resumed after a crash
 * builds the same NoCloud seed. Neither enters the audit trail. The seed's
 * documents are made here for the provision: instance-id is the resource
 * id, the hostname comes from the resource's name.
 */

#include <jansson.h>

#include "error.h"
#include "store.h"

/* The two members of an order's body (absent is fine); CB_ERR_VALIDATION
 * naming "ssh_authorized_keys[i]" or "user_data". */
int first_boot_check(const json_t *body, CbError *err);
/* Records them for resource_id in the current transaction (nothing when
 * the body has neither). body must have passed first_boot_check(). */
int first_boot_store(Store *s, const char *resource_id, const json_t *body, CbError *err);
/* The seed's meta-data and user-data (malloc'd) for resource_id named
 * name, with what was stored (no keys, empty cloud-config when nothing). */
int first_boot_seed(Store *s, const char *resource_id, const char *name, char **ret_meta, char **ret_user,
                    CbError *err);
