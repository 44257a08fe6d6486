/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What a VM's first boot is told (cloud-init's NoCloud data source), as pure
 * text work: the checks of what the order gives (SSH public keys, optional
 * user data) and the two documents of the seed, meta-data and user-data.
 * drivers/seed-iso.h puts them on an ISO 9660 volume labelled "cidata".
 *
 * The promise: every refusal is CB_ERR_VALIDATION naming the field
 * ("ssh_authorized_keys[1]", "user_data"); the documents contain only what
 * was checked. User data is "#cloud-config" YAML only, at most
 * CLOUD_INIT_USER_DATA_MAX bytes, parsed (libyaml) as one mapping; a
 * password in clear (password, plain_text_passwd, passwd, chpasswd) is
 * refused: secrets never enter the seed in clear (hashed_passwd is fine).
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CLOUD_INIT_KEYS_MAX      16
#define CLOUD_INIT_KEY_MAX       16384
#define CLOUD_INIT_USER_DATA_MAX (32 * 1024)
#define CLOUD_INIT_HOSTNAME_MAX  63

/* A hostname (RFC 1123 label) from a resource's name: ASCII letters and
 * digits lowercased, every other run of characters one '-', no '-' at
 * either end, at most 63; a name with nothing usable (Chinese, say) gives
 * "vm-" and the resource id made safe the same way. */
void cloud_init_hostname(const char *name, const char *resource_id, char ret[CLOUD_INIT_HOSTNAME_MAX + 1]);

/* One OpenSSH public key line "TYPE BASE64 [COMMENT]": a known type, base64
 * that decodes to a key blob naming the same type, a printable one-line
 * comment. field names it in the error. */
int cloud_init_check_ssh_key(const char *key, const char *field, CbError *err);

/* NULL is fine (no user data). */
int cloud_init_check_user_data(const char *user_data, CbError *err);

/* The seed's two documents (malloc'd): meta-data with instance-id, the
 * hostname and the keys (public-keys); user-data as given, or an empty
 * "#cloud-config". Inputs must have passed the checks above. */
int cloud_init_meta_data(const char *instance_id, const char *hostname, const char *const *keys,
                         size_t n_keys, char **ret);
int cloud_init_user_data(const char *user_data, char **ret);
