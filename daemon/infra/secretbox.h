/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Secrets at rest: what the database holds of a credential (an http
 * provider's password, a binding's credentials, a VM binding's private key).
 *
 * AES-256-GCM through OpenSSL EVP, a fresh random 96-bit nonce per value,
 * and the owning record's id as associated data: a sealed value copied into
 * another row does not open there. A sealed value is text, safe for a TEXT
 * column:
 *
 *   "sb1:" base64(nonce[12] || ciphertext || tag[16])
 *
 * The key is 32 raw bytes in a file that only the daemon's user may read
 * (secrets.key in the config, or systemd's LoadCredential= secrets-key).
 * secretbox_open() fails with -EBADMSG for a tampered value, a wrong record
 * id and a wrong key alike: they cannot be told apart, and none hands out a
 * byte of plaintext.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "macro.h"

#define SECRETBOX_KEY_SIZE   32
#define SECRETBOX_NONCE_SIZE 12
#define SECRETBOX_TAG_SIZE   16
#define SECRETBOX_PREFIX     "sb1:"
/* A credential is a few KiB at most (an SSH private key, a JSON object). */
#define SECRETBOX_PLAIN_MAX (256 * 1024)

typedef struct SecretBox SecretBox;

/* From raw key bytes (tests, key rotation tools). */
int secretbox_new(const uint8_t key[SECRETBOX_KEY_SIZE], SecretBox **ret);
/* From a key file: exactly SECRETBOX_KEY_SIZE bytes, a regular file that
 * "others" may not read or write, and group neither unless allow_group
 * (systemd grants a credential to the service by an ACL, shown as group
 * bits). Refusals are CB_ERR_VALIDATION naming the path and what is wrong. */
int secretbox_load(const char *path, bool allow_group, SecretBox **ret, CbError *err);
SecretBox *secretbox_free(SecretBox *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(SecretBox *, secretbox_free);

/* Seals len bytes of plain under the record id ad (non-empty). *ret is a
 * NUL-terminated "sb1:..." string to free(). 0, -EINVAL (no ad, too long),
 * -ENOMEM, -EIO (OpenSSL failed). */
int secretbox_seal(const SecretBox *b, const char *ad, const void *plain, size_t len, char **ret);
/* The plaintext (plus a NUL not counted in *ret_len, which may be NULL),
 * to free() - callers holding a credential wipe it with explicit_bzero()
 * first. -EINVAL when sealed is not "sb1:" base64 of a plausible length,
 * -EBADMSG when it does not authenticate under this key and ad. */
int secretbox_open(const SecretBox *b, const char *ad, const char *sealed, char **ret_plain, size_t *ret_len);

/* Whether a stored value looks sealed (its prefix): what a migration that
 * seals rows in clear tests. */
bool secretbox_is_sealed(const char *s);
