/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Signed envelopes: how an approval (regulation Art. 8, 10) reaches the
 * broker with proof that the authority issued it. An envelope is the JSON
 * object
 *
 *   {"alg": "sm2-sm3" | "ed25519", "key_id": "...",
 *    "document": base64 of the exact signed bytes, "signature": base64}
 *
 * with exactly these four fields. The signature covers the decoded document
 * bytes, never a re-serialization, so no canonical JSON is needed: what was
 * signed is what is parsed.
 *
 * sm2-sm3 is SM2 over SM3 with the GM/T 0009 distinguishing ID
 * "1234567812345678" (OpenSSL 3.0 defaults to an empty ID, which would not
 * interoperate with other SM2 implementations); ed25519 is pure Ed25519.
 * Both match the openssl CLI, see docs/approvals.md.
 *
 * envelope_verify() hands out the document only when the signature verifies
 * under a trusted key whose algorithm is the envelope's; every refusal is
 * CB_ERR_UNPROCESSABLE with the envelope field named.
 */

#include <jansson.h>
#include <stddef.h>

#include "error.h"

#define SIGNATURE_ALG_SM2_SM3 "sm2-sm3"
#define SIGNATURE_ALG_ED25519 "ed25519"
#define SIGNATURE_SM2_ID      "1234567812345678"
#define SIGNATURE_KEY_ID_MAX  128
/* Decoded document bytes; an approval is a few KiB. */
#define SIGNATURE_DOCUMENT_MAX (1024 * 1024)

typedef struct TrustedKeys TrustedKeys;

int trusted_keys_new(TrustedKeys **ret);
TrustedKeys *trusted_keys_free(TrustedKeys *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(TrustedKeys *, trusted_keys_free);

/* Adds a public key (PEM "PUBLIC KEY", i.e. SubjectPublicKeyInfo). The key
 * type must match alg: an SM2 key for sm2-sm3, an Ed25519 key for ed25519.
 * A duplicate id, an unknown alg, an unreadable or mismatched key are
 * refused with CB_ERR_INVALID, naming the path or "(inline)". */
int trusted_keys_add_pem(TrustedKeys *k, const char *id, const char *alg, const char *pem, size_t len,
                         CbError *err);
int trusted_keys_add_pem_file(TrustedKeys *k, const char *id, const char *alg, const char *path,
                              CbError *err);
size_t trusted_keys_count(const TrustedKeys *k);
/* The alg the key was added under, NULL when id is unknown. */
const char *trusted_keys_alg(const TrustedKeys *k, const char *id);

/* On success *ret_document holds the decoded, verified bytes plus a
 * terminating NUL (not counted in *ret_len), and *ret_key_id the signer's
 * key id. ret_len and ret_key_id may be NULL. */
int envelope_verify(const TrustedKeys *k, const json_t *envelope, char **ret_document, size_t *ret_len,
                    char **ret_key_id, CbError *err);

/* Signs doc with the private key (PEM, PKCS#8 or traditional, not
 * encrypted) at private_pem_path and returns the envelope. alg NULL means
 * "what the key is": sm2-sm3 for an SM2 key, ed25519 for an Ed25519 key.
 * Bad arguments or a key that does not match alg are CB_ERR_INVALID. */
int envelope_sign(const char *alg, const char *key_id, const char *private_pem_path, const void *doc,
                  size_t len, json_t **ret_envelope, CbError *err);

/*
 * A single signing or verification key, its algorithm read from the key
 * itself: sm2-sm3 for an SM2 key, ed25519 for an Ed25519 key (anything else
 * is refused). The audit trail's checkpoints use it: the daemon holds the
 * private key, auditors the public one. The key id is the lowercase hex
 * SHA-256 of the DER SubjectPublicKeyInfo, the same for both halves:
 *   openssl pkey -pubin -in PUB.pem -outform DER | sha256sum
 */
typedef struct SigKey SigKey;

/* PEM private key (PKCS#8 or traditional, not encrypted); it verifies too. */
int sig_key_load_private(const char *path, SigKey **ret, CbError *err);
/* PEM public key (SubjectPublicKeyInfo); verify only. */
int sig_key_load_public(const char *path, SigKey **ret, CbError *err);
/* Makes a new key pair of alg ("ed25519" or "sm2-sm3") and writes the
 * private half, PKCS#8 PEM, to path: created with mode 0600, never over an
 * existing file (-EEXIST). *ret_public_pem: the public half, PEM, malloc'd. */
int sig_key_generate(const char *alg, const char *path, char **ret_public_pem, CbError *err);
SigKey *sig_key_free(SigKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(SigKey *, sig_key_free);
const char *sig_key_alg(const SigKey *k);
const char *sig_key_id(const SigKey *k);
/* Base64 signature of data; -EPERM for a public-only key. */
int sig_key_sign(const SigKey *k, const void *data, size_t len, char **ret_b64);
/* 1 when sig_b64 is a valid signature of data, 0 when not (including
 * malformed base64), negative when the check could not run. */
int sig_key_verify(const SigKey *k, const void *data, size_t len, const char *sig_b64);

/* Standard base64 with padding (RFC 4648 section 4). The decoder is strict:
 * no whitespace, length a multiple of 4, '=' only as final padding, unused
 * trailing bits zero; so each byte string has exactly one accepted
 * encoding. Both results are NUL-terminated; the decoded length excludes
 * the NUL. Invalid input is -EINVAL. */
int signature_base64_encode(const void *data, size_t len, char **ret);
int signature_base64_decode(const char *s, size_t len, void **ret, size_t *ret_len);
