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

#include "macro.h"
#include "resources.h"
#include "string-table.h"

#define VM_CONSOLE_DEFAULT_KIB 64u
#define VM_CONSOLE_MAX_KIB     1024u
#define VM_CONSOLE_MAX_LINES   100000u

/* What vm_console() read: output is UTF-8 (invalid bytes and control
 * characters other than \n and \t became '?'), output_len bytes of it;
 * bytes: how much of the log was read; truncated: older output left off. */
typedef struct VmConsole {
        const char *resource_id;
        const char *output;
        size_t output_len;
        uint64_t bytes;
        bool truncated;
} VmConsole;

/* The console (valid during the call), or NULL and err. */
typedef void (*VmGuestDoneFn)(const VmConsole *answer, const CbError *err, void *userdata);

/* The refusal vm_console() would give (who, which VM, which numbers),
 * without starting anything: for a face that must decide whether to wait.
 * kib: 1..VM_CONSOLE_MAX_KIB (field "kib"); lines: 0 (all) or
 * 1..VM_CONSOLE_MAX_LINES (field "lines"). */
int vm_console_check(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
                     CbError *err);
/* The last kib KiB of the console log, then its last `lines` lines when
 * lines > 0 (a VmConsole). */
int vm_console(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
               VmGuestDoneFn done, void *userdata, CbError *err);

/*
 * A VM's addresses as the provider reported them: one VmInterface per
 * network interface (name and mac NULL when the provider named none), each
 * with its addresses. What is kept (resource_addresses) and what every face
 * shows are this record; the faces serialize it (rest-records.h).
 */
typedef enum VmAddressType {
        VM_ADDRESS_IPV4,
        VM_ADDRESS_IPV6,
        VM_ADDRESS_UNKNOWN, /* a family libvirt has no name for */
        _VM_ADDRESS_TYPE_MAX,
} VmAddressType;
DECLARE_STRING_TABLE(vm_address_type, VmAddressType);

typedef struct VmAddress {
        VmAddressType type;
        char *address; /* NULL: the provider gave none */
        int prefix;
} VmAddress;

typedef struct VmInterface {
        char *name; /* NULL: none given */
        char *mac;  /* NULL: none given */
        VmAddress *addresses;
        size_t n_addresses;
} VmInterface;

typedef struct VmAddressList {
        VmInterface *items;
        size_t n;
} VmAddressList;
VmAddressList *vm_address_list_free(VmAddressList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(VmAddressList *, vm_address_list_free);
bool vm_address_list_equal(const VmAddressList *a, const VmAddressList *b);
/* The record of what a driver's addresses op answers (driver.h: an array
 * of {"name", "mac", "addresses": [{"type", "address", "prefix"}]}): 0, or
 * -EINVAL for another shape, -ENOMEM. */
int vm_address_list_from_json(const json_t *driver, VmAddressList **ret);

/* A live read: whose, when (store_now()), and what. */
typedef struct VmAddressRead {
        const char *resource_id;
        const char *read_at;
        const VmAddressList *addresses;
} VmAddressRead;
/* answer is borrowed (NULL on failure, err set). */
typedef void (*VmAddressesDoneFn)(const VmAddressRead *answer, const CbError *err, void *userdata);

int vm_addresses_check(Resources *r, const CbCaller *caller, const char *id, CbError *err);
/* Reads the addresses now and keeps them; done answers them. */
int vm_addresses_refresh(Resources *r, const CbCaller *caller, const char *id, VmAddressesDoneFn done,
                         void *userdata, CbError *err);
/* The addresses last kept for resource id, without authorization (the
 * caller has read the resource): an empty list when none were read yet.
 * 0, or < 0 with err set (a store error). */
int vm_addresses_stored(Store *s, const char *id, VmAddressList **ret, CbError *err);
/* Keeps addresses for resource id; for the reconcile. */
int vm_addresses_keep(Store *s, const char *id, const VmAddressList *addresses, CbError *err);
