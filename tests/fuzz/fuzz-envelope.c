/* SPDX-License-Identifier: Apache-2.0 */
/* The signed envelope of an approval (envelope_verify), against the dev
 * authority's SM2 and Ed25519 keys as the dev config trusts them, and the
 * strict base64 decoder under it. Promise checked beyond no crash: a
 * refusal is CB_ERR_UNPROCESSABLE and hands out nothing; base64 has one
 * accepted encoding per byte string, so whatever decodes encodes back to
 * the very same text. */
#include "fuzz.h"
#include "signature.h"

static TrustedKeys *keys;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        CbError err = CB_ERROR_INIT;
        (void)argc;
        (void)argv;
        FUZZ_ASSERT(trusted_keys_new(&keys) == 0);
        FUZZ_ASSERT(trusted_keys_add_pem_file(keys, "dev-authority", SIGNATURE_ALG_SM2_SM3,
                                              CB_SOURCE_DIR "/etc/dev-keys/dev-authority.pub.pem",
                                              &err) == 0);
        FUZZ_ASSERT(trusted_keys_add_pem_file(keys, "dev-authority-ed25519", SIGNATURE_ALG_ED25519,
                                              CB_SOURCE_DIR "/etc/dev-keys/dev-authority-ed25519.pub.pem",
                                              &err) == 0);
        return 0;
}

static void check_base64(const uint8_t *data, size_t size) {
        void *bytes = NULL;
        char *text = NULL;
        size_t len = 0;

        if (signature_base64_decode((const char *)data, size, &bytes, &len) < 0) {
                FUZZ_ASSERT(!bytes);
                return;
        }
        FUZZ_ASSERT(len <= size / 4 * 3);
        FUZZ_ASSERT(signature_base64_encode(bytes, len, &text) == 0);
        FUZZ_ASSERT(strlen(text) == size && memcmp(text, data, size) == 0);
        free(text);
        free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CbError err = CB_ERROR_INIT;
        json_t *env = fuzz_json(data, size);
        char *doc = NULL, *key_id = NULL;
        size_t len = 0;
        int r;

        check_base64(data, size);
        if (!env)
                return 0;
        r = envelope_verify(keys, env, &doc, &len, &key_id, &err);
        fuzz_check_refusal(r, &err);
        if (r < 0) {
                FUZZ_ASSERT(!doc && !key_id);
                FUZZ_ASSERT(err.kind == CB_ERR_UNPROCESSABLE || err.kind == CB_ERR_INTERNAL);
        } else {
                FUZZ_ASSERT(doc && key_id && trusted_keys_alg(keys, key_id));
                FUZZ_ASSERT(len > 0 && len <= SIGNATURE_DOCUMENT_MAX && doc[len] == 0);
        }
        free(doc);
        free(key_id);
        json_decref(env);
        cb_error_clear(&err);
        return 0;
}
