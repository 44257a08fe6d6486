/* SPDX-License-Identifier: Apache-2.0 */
/* A catalogue service document as an operator POSTs it (catalog_validate_service,
 * the pure step of catalog_create/catalog_update). Promise checked beyond no
 * crash: a document that passes comes back normalized, and the normalized
 * copy passes again unchanged; a refusal names a field and turns into JSON. */
#include "catalog-validate.h"
#include "id.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CbError err = CB_ERROR_INIT;
        json_t *doc = fuzz_json(data, size), *out = NULL, *again = NULL;
        int r;

        if (!doc)
                return 0;
        r = catalog_validate_service(doc, &out, &err);
        fuzz_check_refusal(r, &err);
        if (r < 0) {
                FUZZ_ASSERT(!out);
                FUZZ_ASSERT(err.kind == CB_ERR_VALIDATION || err.kind == CB_ERR_INTERNAL);
        } else {
                CbError err2 = CB_ERROR_INIT;
                FUZZ_ASSERT(out);
                FUZZ_ASSERT(catalog_validate_service(out, &again, &err2) == 0);
                FUZZ_ASSERT(json_equal(out, again));
                FUZZ_ASSERT(id_is_valid(json_string_value(json_object_get(out, "id"))));
                cb_error_clear(&err2);
        }
        json_decref(again);
        json_decref(out);
        json_decref(doc);
        cb_error_clear(&err);
        return 0;
}
