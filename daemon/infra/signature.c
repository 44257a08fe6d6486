/* SPDX-License-Identifier: Apache-2.0 */
#include "signature.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "digest.h"
#include "macro.h"

typedef enum SigAlg {
        SIG_ALG_INVALID = 0,
        SIG_ALG_SM2_SM3,
        SIG_ALG_ED25519,
} SigAlg;

typedef struct TrustedKey {
        char *id;
        SigAlg alg;
        EVP_PKEY *pkey;
} TrustedKey;

struct TrustedKeys {
        TrustedKey *keys;
        size_t n;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

static SigAlg sig_alg_from_string(const char *s) {
        if (!s)
                return SIG_ALG_INVALID;
        if (streq(s, SIGNATURE_ALG_SM2_SM3))
                return SIG_ALG_SM2_SM3;
        if (streq(s, SIGNATURE_ALG_ED25519))
                return SIG_ALG_ED25519;
        return SIG_ALG_INVALID;
}

static const char *sig_alg_to_string(SigAlg a) {
        return a == SIG_ALG_SM2_SM3   ? SIGNATURE_ALG_SM2_SM3
               : a == SIG_ALG_ED25519 ? SIGNATURE_ALG_ED25519
                                      : "?";
}

/* OpenSSL decodes a key on the SM2 curve as type "SM2", never as "EC", so
 * a NIST P-256 key cannot pass for an SM2 one. */
static bool pkey_matches(EVP_PKEY *pkey, SigAlg alg) {
        switch (alg) {
        case SIG_ALG_SM2_SM3:
                return EVP_PKEY_is_a(pkey, "SM2");
        case SIG_ALG_ED25519:
                return EVP_PKEY_is_a(pkey, "ED25519");
        default:
                return false;
        }
}

static const char *pkey_describe(EVP_PKEY *pkey) {
        const char *n = EVP_PKEY_get0_type_name(pkey);
        return n ? n : "unknown";
}

/* Without a callback OpenSSL would prompt on the terminal for the
 * passphrase of an encrypted key; a daemon or a script must fail instead. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u) {
        (void)buf;
        (void)size;
        (void)rwflag;
        (void)u;
        return -1;
}

static bool key_id_valid(const char *id) {
        size_t n = id ? strlen(id) : 0;
        if (n == 0 || n > SIGNATURE_KEY_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
                        return false;
        return true;
}

/* ---- base64 ---- */

int signature_base64_encode(const void *data, size_t len, char **ret) {
        if (len > (size_t)INT_MAX / 4 * 3 - 3)
                return -E2BIG;
        size_t outlen = (len + 2) / 3 * 4;
        _cleanup_(freep) char *out = malloc(outlen + 1);
        if (!out)
                return -ENOMEM;
        int r = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
        if (r < 0 || (size_t)r != outlen)
                return -EIO;
        out[outlen] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int signature_base64_decode(const char *s, size_t len, void **ret, size_t *ret_len) {
        size_t pad = 0;

        /* EVP_DecodeBlock tolerates '=' anywhere, surrounding whitespace,
         * and reports padding as decoded zero bytes, so the shape is
         * checked here and the padding subtracted below. */
        if (len % 4 != 0 || len > INT_MAX)
                return -EINVAL;
        if (len > 0 && s[len - 1] == '=')
                pad = (len > 1 && s[len - 2] == '=') ? 2 : 1;
        for (size_t i = 0; i < len - pad; i++)
                if (unbase64char(s[i]) < 0)
                        return -EINVAL;
        /* The bits the last character carries beyond the data must be 0,
         * or two spellings would decode to the same bytes. */
        if (pad == 1 && (unbase64char(s[len - 2]) & 0x3) != 0)
                return -EINVAL;
        if (pad == 2 && (unbase64char(s[len - 3]) & 0xf) != 0)
                return -EINVAL;

        size_t outlen = len / 4 * 3;
        _cleanup_(freep) unsigned char *out = malloc(outlen + 1);
        if (!out)
                return -ENOMEM;
        int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
        if (r < 0 || (size_t)r != outlen)
                return -EINVAL;
        outlen -= pad;
        out[outlen] = 0;
        *ret = TAKE_PTR(out);
        *ret_len = outlen;
        return 0;
}

/* ---- trusted keys ---- */

int trusted_keys_new(TrustedKeys **ret) {
        TrustedKeys *k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        *ret = k;
        return 0;
}

TrustedKeys *trusted_keys_free(TrustedKeys *k) {
        if (!k)
                return NULL;
        for (size_t i = 0; i < k->n; i++) {
                free(k->keys[i].id);
                EVP_PKEY_free(k->keys[i].pkey);
        }
        free(k->keys);
        free(k);
        return NULL;
}

static const TrustedKey *trusted_keys_find(const TrustedKeys *k, const char *id) {
        for (size_t i = 0; k && i < k->n; i++)
                if (streq(k->keys[i].id, id))
                        return &k->keys[i];
        return NULL;
}

size_t trusted_keys_count(const TrustedKeys *k) {
        return k ? k->n : 0;
}

const char *trusted_keys_alg(const TrustedKeys *k, const char *id) {
        const TrustedKey *t = id ? trusted_keys_find(k, id) : NULL;
        return t ? sig_alg_to_string(t->alg) : NULL;
}

static int trusted_keys_add_bio(TrustedKeys *k, const char *id, const char *alg, BIO *bio, const char *origin,
                                CbError *err) {
        SigAlg a = sig_alg_from_string(alg);

        if (!key_id_valid(id))
                return cb_error_set(err, CB_ERR_INVALID,
                                    "trusted key %s: key id must be 1-%d printable characters", origin,
                                    SIGNATURE_KEY_ID_MAX);
        if (a == SIG_ALG_INVALID)
                return cb_error_set(err, CB_ERR_INVALID, "trusted key %s: unknown alg %s (expected %s or %s)",
                                    id, alg ? alg : "(null)", SIGNATURE_ALG_SM2_SM3, SIGNATURE_ALG_ED25519);
        if (trusted_keys_find(k, id))
                return cb_error_set(err, CB_ERR_INVALID, "trusted key %s: duplicate key id", id);

        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase_cb, NULL);
        if (!pkey) {
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INVALID, "trusted key %s: %s holds no PEM public key", id,
                                    origin);
        }
        if (!pkey_matches(pkey, a))
                return cb_error_set(err, CB_ERR_INVALID, "trusted key %s: %s is a %s key, alg %s needs %s",
                                    id, origin, pkey_describe(pkey), alg,
                                    a == SIG_ALG_SM2_SM3 ? "SM2" : "ED25519");

        TrustedKey *keys = reallocarray(k->keys, k->n + 1, sizeof(*keys));
        if (!keys)
                return -ENOMEM;
        k->keys = keys;
        char *dup = strdup(id);
        if (!dup)
                return -ENOMEM;
        k->keys[k->n++] = (TrustedKey){ .id = dup, .alg = a, .pkey = TAKE_PTR(pkey) };
        return 0;
}

int trusted_keys_add_pem(TrustedKeys *k, const char *id, const char *alg, const char *pem, size_t len,
                         CbError *err) {
        if (len > INT_MAX)
                return cb_error_set(err, CB_ERR_INVALID, "trusted key %s: PEM too large", id ? id : "(null)");
        _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int)len);
        if (!bio)
                return -ENOMEM;
        return trusted_keys_add_bio(k, id, alg, bio, "(inline)", err);
}

int trusted_keys_add_pem_file(TrustedKeys *k, const char *id, const char *alg, const char *path,
                              CbError *err) {
        _cleanup_(BIO_freep) BIO *bio = BIO_new_file(path, "r");
        if (!bio) {
                int e = errno ? errno : ENOENT;
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INVALID, "trusted key %s: cannot read %s: %s",
                                    id ? id : "(null)", path, strerror(e));
        }
        return trusted_keys_add_bio(k, id, alg, bio, path, err);
}

/* ---- sign and verify ---- */

/* The SM2 ID enters Z = SM3(ENTL || ID || curve || public key), which
 * EVP_DigestSignInit/VerifyInit hash first; so the ID goes onto a pkey
 * context created here and handed to the MD context before init. */
static int md_ctx_init(SigAlg alg, EVP_PKEY *pkey, bool sign, EVP_MD_CTX **ret_md, EVP_PKEY_CTX **ret_pctx) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new(); /* after pctx: freed first */
        const EVP_MD *type = NULL;

        if (!md)
                return -ENOMEM;
        if (alg == SIG_ALG_SM2_SM3) {
                pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
                if (!pctx)
                        return -ENOMEM;
                if (EVP_PKEY_CTX_set1_id(pctx, SIGNATURE_SM2_ID, strlen(SIGNATURE_SM2_ID)) <= 0)
                        return -EIO;
                EVP_MD_CTX_set_pkey_ctx(md, pctx);
                type = EVP_sm3();
        }
        int r = sign ? EVP_DigestSignInit(md, NULL, type, NULL, pkey)
                     : EVP_DigestVerifyInit(md, NULL, type, NULL, pkey);
        if (r != 1)
                return -EIO;
        /* The MD context borrows pctx, so both go back to the caller, who
         * frees the MD context first. */
        *ret_md = TAKE_PTR(md);
        *ret_pctx = TAKE_PTR(pctx);
        return 0;
}

static int sign_bytes(SigAlg alg, EVP_PKEY *pkey, const void *doc, size_t len, unsigned char **ret_sig,
                      size_t *ret_siglen) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = NULL; /* declared after pctx: freed first */
        _cleanup_(freep) unsigned char *sig = NULL;
        size_t siglen = 0;
        int r;

        r = md_ctx_init(alg, pkey, true, &md, &pctx);
        if (r < 0)
                return r;
        if (EVP_DigestSign(md, NULL, &siglen, doc, len) != 1 || siglen == 0)
                return -EIO;
        sig = malloc(siglen);
        if (!sig)
                return -ENOMEM;
        if (EVP_DigestSign(md, sig, &siglen, doc, len) != 1)
                return -EIO;
        *ret_sig = TAKE_PTR(sig);
        *ret_siglen = siglen;
        return 0;
}

/* 1 when the signature verifies, 0 when it does not, negative on failure
 * to even try. */
static int verify_bytes(SigAlg alg, EVP_PKEY *pkey, const void *doc, size_t len, const void *sig,
                        size_t siglen) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = NULL; /* declared after pctx: freed first */
        int r;

        r = md_ctx_init(alg, pkey, false, &md, &pctx);
        if (r < 0)
                return r;
        return EVP_DigestVerify(md, sig, siglen, doc, len) == 1;
}

static const char *const envelope_fields[] = { "alg", "key_id", "document", "signature" };

static int envelope_string(const json_t *envelope, const char *name, const char **ret, CbError *err) {
        const json_t *v = json_object_get(envelope, name);
        if (!v)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, name, "missing field %s", name);
        if (!json_is_string(v))
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, name, "field %s must be a string", name);
        *ret = json_string_value(v);
        return 0;
}

int envelope_verify(const TrustedKeys *k, const json_t *envelope, char **ret_document, size_t *ret_len,
                    char **ret_key_id, CbError *err) {
        const char *alg_s, *key_id, *doc_b64, *sig_b64, *name;
        _cleanup_(freep) void *doc = NULL;
        _cleanup_(freep) void *sig = NULL;
        size_t doclen, siglen;
        const json_t *v;
        int r;

        if (!json_is_object(envelope))
                return cb_error_set(err, CB_ERR_UNPROCESSABLE, "envelope must be a JSON object");
        json_object_foreach((json_t *)envelope, name, v) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(envelope_fields); i++)
                        known = known || streq(name, envelope_fields[i]);
                if (!known)
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, name, "unknown field %s", name);
        }
        if ((r = envelope_string(envelope, "alg", &alg_s, err)) < 0 ||
            (r = envelope_string(envelope, "key_id", &key_id, err)) < 0 ||
            (r = envelope_string(envelope, "document", &doc_b64, err)) < 0 ||
            (r = envelope_string(envelope, "signature", &sig_b64, err)) < 0)
                return r;

        SigAlg alg = sig_alg_from_string(alg_s);
        if (alg == SIG_ALG_INVALID)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "alg",
                                          "unknown alg %s (expected %s or %s)", alg_s, SIGNATURE_ALG_SM2_SM3,
                                          SIGNATURE_ALG_ED25519);
        const TrustedKey *key = trusted_keys_find(k, key_id);
        if (!key)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "key_id", "unknown key_id %s", key_id);
        if (key->alg != alg)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "alg", "alg mismatch: key %s is %s",
                                          key_id, sig_alg_to_string(key->alg));

        size_t doc_b64_len = json_string_length(json_object_get(envelope, "document"));
        if (doc_b64_len > (size_t)SIGNATURE_DOCUMENT_MAX / 3 * 4 + 4)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "document", "document exceeds %d bytes",
                                          SIGNATURE_DOCUMENT_MAX);
        r = signature_base64_decode(doc_b64, doc_b64_len, &doc, &doclen);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "document",
                                          "document is not valid base64");
        if (doclen == 0)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "document", "document is empty");
        if (doclen > SIGNATURE_DOCUMENT_MAX)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "document", "document exceeds %d bytes",
                                          SIGNATURE_DOCUMENT_MAX);

        size_t sig_b64_len = json_string_length(json_object_get(envelope, "signature"));
        /* A DER SM2 signature is at most 72 bytes, Ed25519 exactly 64. */
        if (sig_b64_len > 1024)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "signature", "signature is too long");
        r = signature_base64_decode(sig_b64, sig_b64_len, &sig, &siglen);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "signature",
                                          "signature is not valid base64");

        r = verify_bytes(alg, key->pkey, doc, doclen, sig, siglen);
        /* A failed verification leaves reasons on OpenSSL's per-thread
         * queue; they must not surface in someone else's later error. */
        ERR_clear_error();
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot set up %s verification", alg_s);
        if (r == 0)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "signature",
                                          "signature does not verify");

        if (ret_key_id) {
                char *id = strdup(key_id);
                if (!id)
                        return -ENOMEM;
                *ret_key_id = id;
        }
        *ret_document = TAKE_PTR(doc);
        if (ret_len)
                *ret_len = doclen;
        return 0;
}

static int load_private_key(const char *path, EVP_PKEY **ret, CbError *err) {
        _cleanup_(BIO_freep) BIO *bio = BIO_new_file(path, "r");
        if (!bio) {
                int e = errno ? errno : ENOENT;
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INVALID, "cannot read %s: %s", path, strerror(e));
        }
        EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL);
        if (!pkey) {
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INVALID, "%s holds no unencrypted PEM private key", path);
        }
        *ret = pkey;
        return 0;
}

int envelope_sign(const char *alg, const char *key_id, const char *private_pem_path, const void *doc,
                  size_t len, json_t **ret_envelope, CbError *err) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(freep) unsigned char *sig = NULL;
        _cleanup_(freep) char *doc_b64 = NULL;
        _cleanup_(freep) char *sig_b64 = NULL;
        size_t siglen = 0;
        int r;

        SigAlg a = sig_alg_from_string(alg);
        if (alg && a == SIG_ALG_INVALID)
                return cb_error_set(err, CB_ERR_INVALID, "unknown alg %s (expected %s or %s)", alg,
                                    SIGNATURE_ALG_SM2_SM3, SIGNATURE_ALG_ED25519);
        if (!key_id_valid(key_id))
                return cb_error_set(err, CB_ERR_INVALID, "key id must be 1-%d printable characters",
                                    SIGNATURE_KEY_ID_MAX);
        if (len == 0)
                return cb_error_set(err, CB_ERR_INVALID, "document is empty");
        if (len > SIGNATURE_DOCUMENT_MAX)
                return cb_error_set(err, CB_ERR_INVALID, "document exceeds %d bytes", SIGNATURE_DOCUMENT_MAX);

        r = load_private_key(private_pem_path, &pkey, err);
        if (r < 0)
                return r;
        if (!alg) {
                a = pkey_matches(pkey, SIG_ALG_SM2_SM3)   ? SIG_ALG_SM2_SM3
                    : pkey_matches(pkey, SIG_ALG_ED25519) ? SIG_ALG_ED25519
                                                          : SIG_ALG_INVALID;
                if (a == SIG_ALG_INVALID)
                        return cb_error_set(err, CB_ERR_INVALID, "%s is a %s key, not an SM2 or ED25519 one",
                                            private_pem_path, pkey_describe(pkey));
        } else if (!pkey_matches(pkey, a))
                return cb_error_set(err, CB_ERR_INVALID, "%s is a %s key, alg %s needs %s", private_pem_path,
                                    pkey_describe(pkey), alg, a == SIG_ALG_SM2_SM3 ? "SM2" : "ED25519");

        r = sign_bytes(a, pkey, doc, len, &sig, &siglen);
        ERR_clear_error();
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "%s signing failed", sig_alg_to_string(a));

        if (signature_base64_encode(doc, len, &doc_b64) < 0 ||
            signature_base64_encode(sig, siglen, &sig_b64) < 0)
                return -ENOMEM;
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "alg", sig_alg_to_string(a), "key_id", key_id,
                              "document", doc_b64, "signature", sig_b64);
        if (!e)
                return -ENOMEM;
        *ret_envelope = e;
        return 0;
}

/* ---- single keys ---- */

struct SigKey {
        SigAlg alg;
        bool private;
        EVP_PKEY *pkey;
        char id[DIGEST_HEX_MAX];
};

SigKey *sig_key_free(SigKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
}

static int sig_key_new(EVP_PKEY **pkey, bool private, const char *path, SigKey **ret, CbError *err) {
        _cleanup_(sig_key_freep) SigKey *k = calloc(1, sizeof(*k));
        _cleanup_(freep) unsigned char *der = NULL;
        int n;

        if (!k)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        k->pkey = TAKE_PTR(*pkey);
        k->private = private;
        k->alg = pkey_matches(k->pkey, SIG_ALG_SM2_SM3)   ? SIG_ALG_SM2_SM3
                 : pkey_matches(k->pkey, SIG_ALG_ED25519) ? SIG_ALG_ED25519
                                                          : SIG_ALG_INVALID;
        if (k->alg == SIG_ALG_INVALID)
                return cb_error_set(err, CB_ERR_INVALID, "%s is a %s key, not an SM2 or ED25519 one", path,
                                    pkey_describe(k->pkey));
        n = i2d_PUBKEY(k->pkey, &der);
        if (n <= 0 || digest_sha256_hex(der, (size_t)n, k->id) < 0) {
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INTERNAL, "%s: cannot encode the public key", path);
        }
        *ret = TAKE_PTR(k);
        return 0;
}

int sig_key_load_private(const char *path, SigKey **ret, CbError *err) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        int r = load_private_key(path, &pkey, err);
        if (r < 0)
                return r;
        return sig_key_new(&pkey, true, path, ret, err);
}

int sig_key_generate(const char *alg, const char *path, char **ret_public_pem, CbError *err) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(BIO_freep) BIO *pub = NULL;
        _cleanup_(freep) char *pem = NULL;
        FILE *f;
        char *data;
        long n;
        int fd;

        if (streq_ptr(alg, "ed25519"))
                pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        else if (streq_ptr(alg, "sm2-sm3"))
                pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
        else
                return cb_error_set(err, CB_ERR_INVALID, "algorithm '%s': must be ed25519 or sm2-sm3",
                                    alg ? alg : "");
        if (!pkey) {
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot make a %s key", alg);
        }
        pub = BIO_new(BIO_s_mem());
        if (!pub || PEM_write_bio_PUBKEY(pub, pkey) != 1 || (n = BIO_get_mem_data(pub, &data)) <= 0 ||
            !(pem = strndup(data, (size_t)n))) {
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot write the public key");
        }
        /* O_EXCL: a key in use is never replaced by accident. */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return errno == EEXIST
                               ? (cb_error_set(err, CB_ERR_CONFLICT, "%s exists already: not replaced", path),
                                  -EEXIST)
                               : cb_error_set(err, CB_ERR_INVALID, "cannot create %s: %s", path,
                                              strerror(errno));
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                unlink(path);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot write %s", path);
        }
        if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
            fsync(fd) < 0) {
                fclose(f);
                unlink(path);
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot write the private key to %s", path);
        }
        if (fclose(f) != 0) {
                unlink(path);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot write %s", path);
        }
        *ret_public_pem = TAKE_PTR(pem);
        return 0;
}

int sig_key_load_public(const char *path, SigKey **ret, CbError *err) {
        _cleanup_(BIO_freep) BIO *bio = BIO_new_file(path, "r");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;

        if (!bio) {
                int e = errno ? errno : ENOENT;
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INVALID, "cannot read %s: %s", path, strerror(e));
        }
        pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase_cb, NULL);
        if (!pkey) {
                ERR_clear_error();
                return cb_error_set(err, CB_ERR_INVALID, "%s holds no PEM public key", path);
        }
        return sig_key_new(&pkey, false, path, ret, err);
}

const char *sig_key_alg(const SigKey *k) {
        return sig_alg_to_string(k->alg);
}

const char *sig_key_id(const SigKey *k) {
        return k->id;
}

int sig_key_sign(const SigKey *k, const void *data, size_t len, char **ret_b64) {
        _cleanup_(freep) unsigned char *sig = NULL;
        size_t siglen = 0;
        int r;

        if (!k->private)
                return -EPERM;
        r = sign_bytes(k->alg, k->pkey, data, len, &sig, &siglen);
        ERR_clear_error();
        if (r < 0)
                return r;
        return signature_base64_encode(sig, siglen, ret_b64);
}

int sig_key_verify(const SigKey *k, const void *data, size_t len, const char *sig_b64) {
        _cleanup_(freep) void *sig = NULL;
        size_t siglen = 0;
        int r;

        if (!sig_b64 || signature_base64_decode(sig_b64, strlen(sig_b64), &sig, &siglen) < 0 || siglen == 0)
                return 0;
        r = verify_bytes(k->alg, k->pkey, data, len, sig, siglen);
        ERR_clear_error();
        return r < 0 ? r : r == 1;
}
