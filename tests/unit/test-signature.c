/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Envelopes signed and verified with SM2-SM3 and Ed25519. Keys are made
 * here, plus the shipped etc/dev-keys; the known-answer envelopes below
 * were signed by the openssl 3.0 CLI (commands in docs/approvals.md), so
 * interoperability is checked without the CLI being installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "signature.h"

#define DEV_SM2_PUB     "etc/dev-keys/dev-authority.pub.pem"
#define DEV_SM2_KEY     "etc/dev-keys/dev-authority.key.pem"
#define DEV_ED25519_PUB "etc/dev-keys/dev-authority-ed25519.pub.pem"
#define DEV_ED25519_KEY "etc/dev-keys/dev-authority-ed25519.key.pem"

/* `printf %s "$KAT_DOC" > kat.txt` then
 * openssl dgst -sm3 -sign dev-authority.key.pem -sigopt distid:1234567812345678 -out kat.sig kat.txt
 * openssl pkeyutl -sign -inkey dev-authority-ed25519.key.pem -rawin -in kat.txt -out kat.ed.sig
 * openssl dgst -sm3 -sign dev-authority.key.pem -out kat.noid.sig kat.txt   (OpenSSL's empty ID) */
#define KAT_DOC     "cloudbroker interop: signed by the openssl 3.0 CLI"
#define KAT_DOC_B64 "Y2xvdWRicm9rZXIgaW50ZXJvcDogc2lnbmVkIGJ5IHRoZSBvcGVuc3NsIDMuMCBDTEk="
#define KAT_SM2_SIG \
        "MEUCIQCPInJSOlnpOr+iBX0DpoL1Ay80Th3hIrrvC453DSp5WAIgMvTZ+ZrSWs1sTxSbovNM9rHnre2MqWV2kop9kyBxEek="
#define KAT_ED25519_SIG \
        "6WJjdFhZFaDiHVGfy5T7/PjFWBg4tJ61pB4VW+jRtdXjzct2l5CWvp1dDGgwhOJiB7/Esu3QGJF7U8otXEmECg=="
#define KAT_SM2_NOID_SIG \
        "MEUCIEqNQ4qILww+lV23OPNLT5+xTv6GLCHux/tbuvbYhU+GAiEA8XJ3lD0XzJDW8/aXafiDEJbq04vF+xUPwSYlE7eJiJw="

static const char doc[] = "{\"approval_no\": \"LF-2026-001\", \"revision\": 1}\n";

/* ---- helpers ---- */

static EVP_PKEY *keygen_sm2(void) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
        EVP_PKEY *pkey = NULL;
        assert_non_null(ctx);
        assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
        assert_int_equal(EVP_PKEY_keygen(ctx, &pkey), 1);
        EVP_PKEY_CTX_free(ctx);
        assert_true(EVP_PKEY_is_a(pkey, "SM2"));
        return pkey;
}

static EVP_PKEY *keygen_ed25519(void) {
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_non_null(pkey);
        return pkey;
}

static EVP_PKEY *keygen_p256(void) {
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_non_null(pkey);
        return pkey;
}

static char *pubkey_pem(EVP_PKEY *pkey, size_t *ret_len) {
        BIO *bio = BIO_new(BIO_s_mem());
        char *data, *copy;
        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
        long n = BIO_get_mem_data(bio, &data);
        assert_true(n > 0);
        copy = strndup(data, (size_t)n);
        assert_non_null(copy);
        *ret_len = (size_t)n;
        BIO_free(bio);
        return copy;
}

/* Writes the private key as PKCS#8 PEM to a fresh file; caller unlinks. */
static void privkey_file(EVP_PKEY *pkey, char path[64]) {
        strcpy(path, "/tmp/test-signature-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
        assert_int_equal(fclose(f), 0);
}

static void add_key(TrustedKeys *k, const char *id, const char *alg, EVP_PKEY *pkey) {
        CbError err = CB_ERROR_INIT;
        size_t len;
        char *pem = pubkey_pem(pkey, &len);
        int r = trusted_keys_add_pem(k, id, alg, pem, len, &err);
        if (r < 0)
                fail_msg("add %s: %s", id, err.message);
        free(pem);
}

static json_t *sign_with(EVP_PKEY *pkey, const char *alg, const char *key_id, const void *data, size_t len) {
        CbError err = CB_ERROR_INIT;
        char path[64];
        json_t *e = NULL;
        privkey_file(pkey, path);
        int r = envelope_sign(alg, key_id, path, data, len, &e, &err);
        unlink(path);
        if (r < 0)
                fail_msg("sign: %s", err.message);
        return e;
}

static json_t *envelope(const char *alg, const char *key_id, const char *doc_b64, const char *sig_b64) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "alg", alg, "key_id", key_id, "document", doc_b64,
                              "signature", sig_b64);
        assert_non_null(e);
        return e;
}

static void assert_verifies(const TrustedKeys *k, const json_t *e, const char *key_id, const void *data,
                            size_t len) {
        CbError err = CB_ERROR_INIT;
        char *got = NULL, *id = NULL;
        size_t got_len = 0;
        int r = envelope_verify(k, e, &got, &got_len, &id, &err);
        if (r < 0)
                fail_msg("verify refused: %s", err.message);
        assert_int_equal(got_len, len);
        assert_memory_equal(got, data, len);
        assert_int_equal(got[len], 0);
        assert_string_equal(id, key_id);
        free(got);
        free(id);
}

static void assert_refused(const TrustedKeys *k, const json_t *e, const char *field, const char *message) {
        CbError err = CB_ERROR_INIT;
        char *got = (char *)"untouched", *id = (char *)"untouched";
        size_t len = 4242;
        int r = envelope_verify(k, e, &got, &len, &id, &err);
        assert_true(r < 0);
        assert_int_equal(err.kind, CB_ERR_UNPROCESSABLE);
        assert_string_equal(err.message, message);
        assert_string_equal(err.field, field);
        /* out-params only on success */
        assert_string_equal(got, "untouched");
        assert_string_equal(id, "untouched");
        assert_int_equal(len, 4242);
        /* nothing left behind for an unrelated caller to trip over */
        assert_int_equal(ERR_peek_error(), 0);
}

/* Replaces a base64 field with the encoding of its decoded bytes, one bit
 * flipped at offset `at` (negative: from the end). */
static void flip_field(json_t *e, const char *field, long at) {
        const char *s = json_string_value(json_object_get(e, field));
        void *raw;
        size_t len;
        char *b64;
        assert_int_equal(signature_base64_decode(s, strlen(s), &raw, &len), 0);
        size_t i = at >= 0 ? (size_t)at : len - (size_t)(-at);
        assert_true(i < len);
        ((unsigned char *)raw)[i] ^= 0x01;
        assert_int_equal(signature_base64_encode(raw, len, &b64), 0);
        json_object_set_new(e, field, json_string(b64));
        free(raw);
        free(b64);
}

/* ---- base64 ---- */

static void test_base64_vectors(void **state) {
        (void)state;
        /* RFC 4648 section 10 */
        static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
        static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

        for (size_t i = 0; i < ELEMENTSOF(plain); i++) {
                char *e;
                void *d;
                size_t len;
                assert_int_equal(signature_base64_encode(plain[i], strlen(plain[i]), &e), 0);
                assert_string_equal(e, enc[i]);
                assert_int_equal(signature_base64_decode(enc[i], strlen(enc[i]), &d, &len), 0);
                assert_int_equal(len, strlen(plain[i]));
                assert_memory_equal(d, plain[i], len);
                assert_int_equal(((char *)d)[len], 0);
                free(e);
                free(d);
        }

        unsigned char all[256];
        for (size_t i = 0; i < sizeof(all); i++)
                all[i] = (unsigned char)(255 - i);
        for (size_t n = 0; n <= sizeof(all); n += 37) {
                char *e;
                void *d;
                size_t len;
                assert_int_equal(signature_base64_encode(all, n, &e), 0);
                assert_int_equal(strlen(e), (n + 2) / 3 * 4);
                assert_int_equal(signature_base64_decode(e, strlen(e), &d, &len), 0);
                assert_int_equal(len, n);
                assert_memory_equal(d, all, n);
                free(e);
                free(d);
        }
}

static void test_base64_invalid(void **state) {
        (void)state;
        static const char *const bad[] = {
                "Zg",       /* not a multiple of 4 */
                "Zg=",      /* idem */
                "Zm9vY",    /* idem */
                "a===",     /* three padding characters */
                "====",     /* padding only */
                "ab=c",     /* padding inside */
                "Zg==Zm8=", /* padding before more data */
                "Zh==",     /* non-zero trailing bits: would alias "Zg==" */
                "Zm9=",     /* idem for one padding character */
                "Zm9v\n",   /* whitespace */
                " Zm9v",    /* idem */
                "Zm9-",     /* base64url alphabet */
                "Zm9_",     /* idem */
                "Zm*v",     /* not base64 at all */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                void *d = (void *)"untouched";
                size_t len = 99;
                int r = signature_base64_decode(bad[i], strlen(bad[i]), &d, &len);
                if (r != -EINVAL)
                        fail_msg("\"%s\" decoded (r=%d)", bad[i], r);
                assert_int_equal(len, 99);
        }
        /* an embedded NUL is not base64 either */
        void *d;
        size_t len;
        assert_int_equal(signature_base64_decode("Zm\0v", 4, &d, &len), -EINVAL);
}

/* ---- trusted keys ---- */

static void test_trusted_keys_add(void **state) {
        (void)state;
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        EVP_PKEY *sm2 = keygen_sm2(), *ed = keygen_ed25519(), *p256 = keygen_p256();
        CbError err = CB_ERROR_INIT;
        size_t sm2_len, ed_len, p256_len;
        char *sm2_pem = pubkey_pem(sm2, &sm2_len), *ed_pem = pubkey_pem(ed, &ed_len),
             *p256_pem = pubkey_pem(p256, &p256_len);

        assert_int_equal(trusted_keys_new(&k), 0);
        assert_int_equal(trusted_keys_count(k), 0);
        assert_int_equal(trusted_keys_add_pem(k, "a", "sm2-sm3", sm2_pem, sm2_len, &err), 0);
        assert_int_equal(trusted_keys_add_pem(k, "b", "ed25519", ed_pem, ed_len, &err), 0);
        assert_int_equal(trusted_keys_count(k), 2);
        assert_string_equal(trusted_keys_alg(k, "a"), "sm2-sm3");
        assert_string_equal(trusted_keys_alg(k, "b"), "ed25519");
        assert_null(trusted_keys_alg(k, "c"));

        /* key type must match alg */
        assert_true(trusted_keys_add_pem(k, "c", "sm2-sm3", ed_pem, ed_len, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_string_equal(err.message, "trusted key c: (inline) is a ED25519 key, alg sm2-sm3 needs SM2");
        assert_true(trusted_keys_add_pem(k, "c", "ed25519", sm2_pem, sm2_len, &err) < 0);
        assert_string_equal(err.message, "trusted key c: (inline) is a SM2 key, alg ed25519 needs ED25519");
        /* an EC key on another curve is no SM2 key */
        assert_true(trusted_keys_add_pem(k, "c", "sm2-sm3", p256_pem, p256_len, &err) < 0);
        assert_string_equal(err.message, "trusted key c: (inline) is a EC key, alg sm2-sm3 needs SM2");

        assert_true(trusted_keys_add_pem(k, "a", "sm2-sm3", sm2_pem, sm2_len, &err) < 0);
        assert_string_equal(err.message, "trusted key a: duplicate key id");
        assert_true(trusted_keys_add_pem(k, "c", "rsa", sm2_pem, sm2_len, &err) < 0);
        assert_string_equal(err.message, "trusted key c: unknown alg rsa (expected sm2-sm3 or ed25519)");
        assert_true(trusted_keys_add_pem(k, "", "sm2-sm3", sm2_pem, sm2_len, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_true(trusted_keys_add_pem(k, "c", "sm2-sm3", "garbage", 7, &err) < 0);
        assert_string_equal(err.message, "trusted key c: (inline) holds no PEM public key");
        /* a truncated PEM */
        assert_true(trusted_keys_add_pem(k, "c", "sm2-sm3", sm2_pem, sm2_len / 2, &err) < 0);
        /* a private key is not accepted where a public one is expected */
        assert_true(trusted_keys_add_pem_file(k, "c", "sm2-sm3", DEV_SM2_KEY, &err) < 0);
        assert_string_equal(err.message, "trusted key c: " DEV_SM2_KEY " holds no PEM public key");
        assert_true(trusted_keys_add_pem_file(k, "c", "sm2-sm3", "/nonexistent/key.pem", &err) < 0);
        assert_string_equal(err.message,
                            "trusted key c: cannot read /nonexistent/key.pem: No such file or directory");
        assert_int_equal(trusted_keys_count(k), 2);
        assert_int_equal(ERR_peek_error(), 0);

        assert_null(trusted_keys_free(NULL));
        free(sm2_pem);
        free(ed_pem);
        free(p256_pem);
        EVP_PKEY_free(sm2);
        EVP_PKEY_free(ed);
        EVP_PKEY_free(p256);
}

/* ---- sign and verify ---- */

static void roundtrip(const char *alg, EVP_PKEY *pkey) {
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        assert_int_equal(trusted_keys_new(&k), 0);
        add_key(k, "signer", alg, pkey);

        json_t *e = sign_with(pkey, alg, "signer", doc, strlen(doc));
        assert_int_equal(json_object_size(e), 4);
        assert_string_equal(json_string_value(json_object_get(e, "alg")), alg);
        assert_string_equal(json_string_value(json_object_get(e, "key_id")), "signer");
        assert_verifies(k, e, "signer", doc, strlen(doc));

        /* optional out-params */
        char *got;
        assert_int_equal(envelope_verify(k, e, &got, NULL, NULL, NULL), 0);
        assert_string_equal(got, doc);
        free(got);

        /* one bit of the document, first and last byte */
        json_t *t = json_deep_copy(e);
        flip_field(t, "document", 0);
        assert_refused(k, t, "signature", "signature does not verify");
        json_decref(t);
        t = json_deep_copy(e);
        flip_field(t, "document", -1);
        assert_refused(k, t, "signature", "signature does not verify");
        json_decref(t);

        /* one bit of the signature, in the middle and at the end */
        t = json_deep_copy(e);
        flip_field(t, "signature", 20);
        assert_refused(k, t, "signature", "signature does not verify");
        json_decref(t);
        t = json_deep_copy(e);
        flip_field(t, "signature", -1);
        assert_refused(k, t, "signature", "signature does not verify");
        json_decref(t);

        /* a signature lifted from another document */
        json_t *other = sign_with(pkey, alg, "signer", "other", 5);
        t = json_deep_copy(e);
        json_object_set(t, "signature", json_object_get(other, "signature"));
        assert_refused(k, t, "signature", "signature does not verify");
        json_decref(t);
        json_decref(other);

        /* the right id, but the trusted key under it is another one */
        _cleanup_(trusted_keys_freep) TrustedKeys *k2 = NULL;
        EVP_PKEY *stranger = streq(alg, "sm2-sm3") ? keygen_sm2() : keygen_ed25519();
        assert_int_equal(trusted_keys_new(&k2), 0);
        add_key(k2, "signer", alg, stranger);
        assert_refused(k2, e, "signature", "signature does not verify");
        EVP_PKEY_free(stranger);

        /* a signer the broker does not trust */
        t = json_deep_copy(e);
        json_object_set_new(t, "key_id", json_string("someone-else"));
        assert_refused(k, t, "key_id", "unknown key_id someone-else");
        json_decref(t);

        json_decref(e);
}

static void test_sm2_roundtrip(void **state) {
        (void)state;
        EVP_PKEY *pkey = keygen_sm2();
        roundtrip("sm2-sm3", pkey);
        EVP_PKEY_free(pkey);
}

static void test_ed25519_roundtrip(void **state) {
        (void)state;
        EVP_PKEY *pkey = keygen_ed25519();
        roundtrip("ed25519", pkey);
        EVP_PKEY_free(pkey);
}

static void test_binary_document(void **state) {
        (void)state;
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        EVP_PKEY *pkey = keygen_sm2();
        unsigned char bytes[300];
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = (unsigned char)(i * 7);
        bytes[10] = 0;

        assert_int_equal(trusted_keys_new(&k), 0);
        add_key(k, "s", "sm2-sm3", pkey);
        json_t *e = sign_with(pkey, "sm2-sm3", "s", bytes, sizeof(bytes));
        assert_verifies(k, e, "s", bytes, sizeof(bytes));
        json_decref(e);
        EVP_PKEY_free(pkey);
}

static void test_alg_mismatch(void **state) {
        (void)state;
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        EVP_PKEY *sm2 = keygen_sm2(), *ed = keygen_ed25519();

        assert_int_equal(trusted_keys_new(&k), 0);
        add_key(k, "sm2-key", "sm2-sm3", sm2);
        add_key(k, "ed-key", "ed25519", ed);

        /* an Ed25519 envelope naming the SM2 key */
        json_t *e = sign_with(ed, "ed25519", "sm2-key", doc, strlen(doc));
        assert_refused(k, e, "alg", "alg mismatch: key sm2-key is sm2-sm3");
        json_decref(e);

        /* a genuine SM2 envelope relabelled */
        e = sign_with(sm2, "sm2-sm3", "sm2-key", doc, strlen(doc));
        json_object_set_new(e, "alg", json_string("ed25519"));
        assert_refused(k, e, "alg", "alg mismatch: key sm2-key is sm2-sm3");
        /* and pointed at the Ed25519 key: the alg then matches, the
         * signature cannot */
        json_object_set_new(e, "key_id", json_string("ed-key"));
        assert_refused(k, e, "signature", "signature does not verify");
        json_decref(e);

        e = sign_with(sm2, "sm2-sm3", "ed-key", doc, strlen(doc));
        assert_refused(k, e, "alg", "alg mismatch: key ed-key is ed25519");
        json_decref(e);

        EVP_PKEY_free(sm2);
        EVP_PKEY_free(ed);
}

static void test_envelope_shape(void **state) {
        (void)state;
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        CbError err = CB_ERROR_INIT;
        char *got;
        json_t *e;

        assert_int_equal(trusted_keys_new(&k), 0);
        assert_int_equal(trusted_keys_add_pem_file(k, "dev-authority", "sm2-sm3", DEV_SM2_PUB, &err), 0);

        e = json_array();
        assert_true(envelope_verify(k, e, &got, NULL, NULL, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_UNPROCESSABLE);
        assert_string_equal(err.message, "envelope must be a JSON object");
        json_decref(e);

        static const char *const fields[] = { "alg", "key_id", "document", "signature" };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                char msg[64];
                e = envelope("sm2-sm3", "dev-authority", KAT_DOC_B64, KAT_SM2_SIG);
                json_object_del(e, fields[i]);
                snprintf(msg, sizeof(msg), "missing field %s", fields[i]);
                assert_refused(k, e, fields[i], msg);
                json_object_set_new(e, fields[i], json_integer(1));
                snprintf(msg, sizeof(msg), "field %s must be a string", fields[i]);
                assert_refused(k, e, fields[i], msg);
                json_object_set_new(e, fields[i], json_null());
                assert_refused(k, e, fields[i], msg);
                json_decref(e);
        }

        e = envelope("sm2-sm3", "dev-authority", KAT_DOC_B64, KAT_SM2_SIG);
        assert_verifies(k, e, "dev-authority", KAT_DOC, strlen(KAT_DOC));
        json_object_set_new(e, "comment", json_string("approved by phone"));
        assert_refused(k, e, "comment", "unknown field comment");
        json_decref(e);

        e = envelope("rsa-sha256", "dev-authority", KAT_DOC_B64, KAT_SM2_SIG);
        assert_refused(k, e, "alg", "unknown alg rsa-sha256 (expected sm2-sm3 or ed25519)");
        json_decref(e);
        e = envelope("SM2-SM3", "dev-authority", KAT_DOC_B64, KAT_SM2_SIG);
        assert_refused(k, e, "alg", "unknown alg SM2-SM3 (expected sm2-sm3 or ed25519)");
        json_decref(e);

        static const char *const bad_b64[] = { "abc", "ab=c", "Y2xvdWRi\n", "Y2xvdWRi cm9r",
                                               "Y2xvdWRicm9rZX-" };
        for (size_t i = 0; i < ELEMENTSOF(bad_b64); i++) {
                e = envelope("sm2-sm3", "dev-authority", bad_b64[i], KAT_SM2_SIG);
                assert_refused(k, e, "document", "document is not valid base64");
                json_decref(e);
                e = envelope("sm2-sm3", "dev-authority", KAT_DOC_B64, bad_b64[i]);
                assert_refused(k, e, "signature", "signature is not valid base64");
                json_decref(e);
        }
        e = envelope("sm2-sm3", "dev-authority", "", KAT_SM2_SIG);
        assert_refused(k, e, "document", "document is empty");
        json_decref(e);
        e = envelope("sm2-sm3", "dev-authority", KAT_DOC_B64, "");
        assert_refused(k, e, "signature", "signature does not verify");
        json_decref(e);

        /* the decoder's bound comes before any decoding work */
        size_t big = (size_t)SIGNATURE_DOCUMENT_MAX / 3 * 4 + 8;
        char *huge = malloc(big + 1);
        assert_non_null(huge);
        memset(huge, 'A', big);
        huge[big] = 0;
        e = envelope("sm2-sm3", "dev-authority", huge, KAT_SM2_SIG);
        assert_refused(k, e, "document", "document exceeds 1048576 bytes");
        json_decref(e);
        free(huge);
}

/* ---- the shipped dev keys and the openssl CLI ---- */

static void test_dev_keys_and_cli_signatures(void **state) {
        (void)state;
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        CbError err = CB_ERROR_INIT;
        json_t *e;

        assert_int_equal(trusted_keys_new(&k), 0);
        assert_int_equal(trusted_keys_add_pem_file(k, "dev-authority", "sm2-sm3", DEV_SM2_PUB, &err), 0);
        assert_int_equal(
                trusted_keys_add_pem_file(k, "dev-authority-ed25519", "ed25519", DEV_ED25519_PUB, &err), 0);
        /* the dev pairs are not swapped */
        _cleanup_(trusted_keys_freep) TrustedKeys *k2 = NULL;
        assert_int_equal(trusted_keys_new(&k2), 0);
        assert_true(trusted_keys_add_pem_file(k2, "x", "ed25519", DEV_SM2_PUB, &err) < 0);
        assert_true(trusted_keys_add_pem_file(k2, "x", "sm2-sm3", DEV_ED25519_PUB, &err) < 0);

        /* signed by the openssl CLI */
        e = envelope("sm2-sm3", "dev-authority", KAT_DOC_B64, KAT_SM2_SIG);
        assert_verifies(k, e, "dev-authority", KAT_DOC, strlen(KAT_DOC));
        json_decref(e);
        e = envelope("ed25519", "dev-authority-ed25519", KAT_DOC_B64, KAT_ED25519_SIG);
        assert_verifies(k, e, "dev-authority-ed25519", KAT_DOC, strlen(KAT_DOC));
        json_decref(e);
        /* the CLI without -sigopt distid: OpenSSL 3.0's empty ID */
        e = envelope("sm2-sm3", "dev-authority", KAT_DOC_B64, KAT_SM2_NOID_SIG);
        assert_refused(k, e, "signature", "signature does not verify");
        json_decref(e);

        /* signed here with the shipped private keys */
        e = NULL;
        assert_int_equal(envelope_sign("sm2-sm3", "dev-authority", DEV_SM2_KEY, doc, strlen(doc), &e, &err),
                         0);
        assert_verifies(k, e, "dev-authority", doc, strlen(doc));
        json_decref(e);
        e = NULL;
        assert_int_equal(envelope_sign("ed25519", "dev-authority-ed25519", DEV_ED25519_KEY, doc, strlen(doc),
                                       &e, &err),
                         0);
        assert_verifies(k, e, "dev-authority-ed25519", doc, strlen(doc));
        json_decref(e);

        /* alg taken from the key, as `cloudbrokerctl approval sign` does */
        e = NULL;
        assert_int_equal(envelope_sign(NULL, "dev-authority", DEV_SM2_KEY, doc, strlen(doc), &e, &err), 0);
        assert_string_equal(json_string_value(json_object_get(e, "alg")), "sm2-sm3");
        assert_verifies(k, e, "dev-authority", doc, strlen(doc));
        json_decref(e);
        e = NULL;
        assert_int_equal(
                envelope_sign(NULL, "dev-authority-ed25519", DEV_ED25519_KEY, doc, strlen(doc), &e, &err), 0);
        assert_string_equal(json_string_value(json_object_get(e, "alg")), "ed25519");
        assert_verifies(k, e, "dev-authority-ed25519", doc, strlen(doc));
        json_decref(e);
}

/* The ID must really reach the Z computation on our side: a signature made
 * with OpenSSL's default (empty) ID is refused, one made through another
 * OpenSSL 3 route for the ID (a "distid" parameter) is accepted. */
static void test_sm2_distinguishing_id(void **state) {
        (void)state;
        _cleanup_(trusted_keys_freep) TrustedKeys *k = NULL;
        EVP_PKEY *pkey = keygen_sm2();
        unsigned char sig[128];
        size_t siglen;
        char *sig_b64, *doc_b64;

        assert_int_equal(trusted_keys_new(&k), 0);
        add_key(k, "s", "sm2-sm3", pkey);
        assert_int_equal(signature_base64_encode(doc, strlen(doc), &doc_b64), 0);

        for (int with_id = 0; with_id <= 1; with_id++) {
                EVP_MD_CTX *md = EVP_MD_CTX_new();
                EVP_PKEY_CTX *pctx = NULL;
                OSSL_PARAM params[2] = {
                        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_DIST_ID, (void *)SIGNATURE_SM2_ID,
                                                          strlen(SIGNATURE_SM2_ID)),
                        OSSL_PARAM_END,
                };
                assert_int_equal(EVP_DigestSignInit_ex(md, &pctx, "SM3", NULL, NULL, pkey, NULL), 1);
                /* 3.0 refuses "distid" among init's own params; after init,
                 * before any data, it is still in time for Z. */
                if (with_id)
                        assert_int_equal(EVP_PKEY_CTX_set_params(pctx, params), 1);
                siglen = sizeof(sig);
                assert_int_equal(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)doc, strlen(doc)),
                                 1);
                EVP_MD_CTX_free(md);

                assert_int_equal(signature_base64_encode(sig, siglen, &sig_b64), 0);
                json_t *e = envelope("sm2-sm3", "s", doc_b64, sig_b64);
                if (with_id)
                        assert_verifies(k, e, "s", doc, strlen(doc));
                else
                        assert_refused(k, e, "signature", "signature does not verify");
                json_decref(e);
                free(sig_b64);
        }
        free(doc_b64);
        EVP_PKEY_free(pkey);
}

static void test_sign_refusals(void **state) {
        (void)state;
        CbError err = CB_ERROR_INIT;
        json_t *e = NULL;
        EVP_PKEY *p256 = keygen_p256();
        char p256_path[64];
        privkey_file(p256, p256_path);

        assert_true(envelope_sign("sm2-sm3", "k", DEV_ED25519_KEY, doc, strlen(doc), &e, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_string_equal(err.message, DEV_ED25519_KEY " is a ED25519 key, alg sm2-sm3 needs SM2");
        assert_true(envelope_sign("ed25519", "k", DEV_SM2_KEY, doc, strlen(doc), &e, &err) < 0);
        assert_string_equal(err.message, DEV_SM2_KEY " is a SM2 key, alg ed25519 needs ED25519");
        assert_true(envelope_sign("sm2-sm3", "k", p256_path, doc, strlen(doc), &e, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_true(envelope_sign("sm2-sm3", "k", DEV_SM2_PUB, doc, strlen(doc), &e, &err) < 0);
        assert_string_equal(err.message, DEV_SM2_PUB " holds no unencrypted PEM private key");
        assert_true(envelope_sign("sm2-sm3", "k", "/nonexistent.pem", doc, strlen(doc), &e, &err) < 0);
        assert_string_equal(err.message, "cannot read /nonexistent.pem: No such file or directory");
        assert_true(envelope_sign("rsa", "k", DEV_SM2_KEY, doc, strlen(doc), &e, &err) < 0);
        assert_string_equal(err.message, "unknown alg rsa (expected sm2-sm3 or ed25519)");
        assert_true(envelope_sign("sm2-sm3", "", DEV_SM2_KEY, doc, strlen(doc), &e, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_true(envelope_sign("sm2-sm3", "bad\nid", DEV_SM2_KEY, doc, strlen(doc), &e, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_true(envelope_sign("sm2-sm3", "k", DEV_SM2_KEY, doc, 0, &e, &err) < 0);
        assert_string_equal(err.message, "document is empty");
        assert_true(envelope_sign(NULL, "k", p256_path, doc, strlen(doc), &e, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_null(e);
        assert_int_equal(ERR_peek_error(), 0);

        unlink(p256_path);
        EVP_PKEY_free(p256);
}

/* audit keygen: each algorithm's pair signs and verifies, the private file
 * is 0600, an existing file is never replaced, an unknown algorithm is refused. */
static void test_key_generate(void **state) {
        static const char *const algs[] = { "ed25519", "sm2-sm3" };
        char dir[] = "/tmp/cbkeygen.XXXXXX";
        (void)state;
        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < 2; i++) {
                CbError err = CB_ERROR_INIT;
                char priv[96], pubpath[96];
                char *pub = NULL, *sig = NULL, *again = NULL;
                SigKey *k = NULL, *kp = NULL;
                struct stat sb;

                snprintf(priv, sizeof(priv), "%s/%s.pem", dir, algs[i]);
                snprintf(pubpath, sizeof(pubpath), "%s/%s.pub.pem", dir, algs[i]);
                assert_int_equal(sig_key_generate(algs[i], priv, &pub, &err), 0);
                assert_int_equal(stat(priv, &sb), 0);
                assert_int_equal(sb.st_mode & 0777, 0600);
                assert_int_equal(sig_key_load_private(priv, &k, &err), 0);
                assert_string_equal(sig_key_alg(k), algs[i]);
                FILE *f = fopen(pubpath, "w");
                assert_non_null(f);
                fputs(pub, f);
                fclose(f);
                assert_int_equal(sig_key_load_public(pubpath, &kp, &err), 0);
                assert_string_equal(sig_key_id(kp), sig_key_id(k));
                assert_int_equal(sig_key_sign(k, "checkpoint", 10, &sig), 0);
                assert_int_equal(sig_key_verify(kp, "checkpoint", 10, sig), 1);
                assert_int_equal(sig_key_verify(kp, "checkpoinT", 10, sig), 0);
                /* Never over a key in use. */
                assert_int_equal(sig_key_generate(algs[i], priv, &again, &err), -EEXIST);
                assert_null(again);
                cb_error_clear(&err);
                free(sig);
                free(pub);
                sig_key_free(k);
                sig_key_free(kp);
                unlink(priv);
                unlink(pubpath);
        }
        CbError err = CB_ERROR_INIT;
        char *pub = NULL, path[96];
        snprintf(path, sizeof(path), "%s/rsa.pem", dir);
        assert_true(sig_key_generate("rsa", path, &pub, &err) < 0);
        assert_null(pub);
        assert_int_equal(access(path, F_OK), -1);
        cb_error_clear(&err);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_generate),
                cmocka_unit_test(test_base64_vectors),
                cmocka_unit_test(test_base64_invalid),
                cmocka_unit_test(test_trusted_keys_add),
                cmocka_unit_test(test_sm2_roundtrip),
                cmocka_unit_test(test_ed25519_roundtrip),
                cmocka_unit_test(test_binary_document),
                cmocka_unit_test(test_alg_mismatch),
                cmocka_unit_test(test_envelope_shape),
                cmocka_unit_test(test_dev_keys_and_cli_signatures),
                cmocka_unit_test(test_sm2_distinguishing_id),
                cmocka_unit_test(test_sign_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
