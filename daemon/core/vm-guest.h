/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What a VM's guest shows from outside: the tail of its serial console log
 * (Nova's get-console-output) and its addresses (the DHCP leases of its
 * network). Both are read from the provider on a worker, never on the loop,
 * and answered later through done, on the main thread. The console is
 * readable by the owning department and operators only (it may show what
 * the guest prints at boot); another department's VM is NOT_FOUND, as an
 * unknown one. Addresses are readable like the resource itself, and every
 * live read is kept (resource_addresses) so that the record shows the last
 * one without asking the provider; a reconcile refreshes them too.
 */

#include <jansson.h>
#include <stdbool.h>

#include "resources.h"

#define VM_CONSOLE_DEFAULT_KIB 64u
#define VM_CONSOLE_MAX_KIB     1024u
#define VM_CONSOLE_MAX_LINES   100000u

/* console or addresses: a new reference, or NULL and err. */
typedef void (*VmGuestDoneFn)(json_t *answer, const CbError *err, void *userdata);

/* The refusal vm_console() would give (who, which VM, which numbers),
 * without starting anything: for a face that must decide whether to wait.
 * kib: 1..VM_CONSOLE_MAX_KIB (field "kib"); lines: 0 (all) or
 * 1..VM_CONSOLE_MAX_LINES (field "lines"). */
int vm_console_check(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
                     CbError *err);
/* {"resource_id", "output" (UTF-8: invalid bytes and control characters
 * other than \n and \t become '?'), "bytes" (read), "truncated" (older
 * output left off)}: the last kib KiB of the log, then its last `lines`
 * lines when lines > 0. */
int vm_console(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
               VmGuestDoneFn done, void *userdata, CbError *err);

int vm_addresses_check(Resources *r, const CbCaller *caller, const char *id, CbError *err);
/* Reads the addresses now and keeps them: {"resource_id", "addresses":
 * [{"name", "mac", "addresses": [{"type", "address", "prefix"}]}],
 * "read_at"}. */
int vm_addresses_refresh(Resources *r, const CbCaller *caller, const char *id, VmGuestDoneFn done,
                         void *userdata, CbError *err);
/* The addresses last kept for resource id, without authorization (the
 * caller has read the resource): a new array reference, an empty one when
 * none were read yet; NULL on a store error. */
json_t *vm_addresses_stored(Store *s, const char *id);
/* Keeps addresses (a JSON array) for resource id; for the reconcile. */
int vm_addresses_keep(Store *s, const char *id, const json_t *addresses, CbError *err);
