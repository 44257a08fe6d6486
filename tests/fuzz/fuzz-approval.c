/* SPDX-License-Identifier: Apache-2.0 */
/* The approval document, the signed bytes inside an envelope (approval_parse).
 * Promise checked beyond no crash: an accepted document dumps
 * (approval_to_json) to one that parses to an equal dump, every field
 * within the bounds approval.h states; a refusal is malformed JSON or names
 * the field. */
#include "approval.h"
#include "calendar.h"
#include "date.h"
#include "fuzz.h"

static void check_bounds(const Approval *a) {
        FUZZ_ASSERT(approval_id_valid(a->project_id));
        FUZZ_ASSERT(approval_id_valid(a->department));
        FUZZ_ASSERT(strlen(a->approval_no) >= 1 && strlen(a->approval_no) <= APPROVAL_NO_MAX);
        FUZZ_ASSERT(a->revision >= 1 && a->revision <= APPROVAL_REVISION_MAX);
        FUZZ_ASSERT(date_is_valid(a->valid_from) && date_is_valid(a->valid_until));
        FUZZ_ASSERT(strcmp(a->valid_from, a->valid_until) <= 0);
        FUZZ_ASSERT(a->construction_fen >= 0 && a->construction_fen <= APPROVAL_FEN_MAX);
        FUZZ_ASSERT(a->om_fen >= 0 && a->om_fen <= APPROVAL_FEN_MAX);
        FUZZ_ASSERT(a->n_items >= 1);
        for (size_t i = 0; i < a->n_items; i++) {
                FUZZ_ASSERT(a->items[i].quantity >= 1 && a->items[i].quantity <= APPROVAL_QUANTITY_MAX);
                FUZZ_ASSERT(approval_find_item(a, a->items[i].service_id, a->items[i].plan_id) ==
                            &a->items[i]);
        }
        for (size_t i = 0; i < a->n_systems; i++)
                FUZZ_ASSERT(approval_lists_system(a, a->systems[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CbError err = CB_ERROR_INIT;
        Approval *a = NULL;
        int r;

        r = approval_parse((const char *)data, size, &a, &err);
        fuzz_check_refusal(r, &err);
        if (r < 0) {
                FUZZ_ASSERT(!a);
                FUZZ_ASSERT(err.kind == CB_ERR_MALFORMED_JSON || err.kind == CB_ERR_VALIDATION ||
                            err.kind == CB_ERR_INTERNAL);
        } else {
                CbError err2 = CB_ERROR_INIT;
                Approval *b = NULL;
                json_t *j = approval_to_json(a), *k;
                char *text;

                check_bounds(a);
                FUZZ_ASSERT(j);
                text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                FUZZ_ASSERT(text);
                FUZZ_ASSERT(approval_parse(text, strlen(text), &b, &err2) == 0);
                k = approval_to_json(b);
                FUZZ_ASSERT(k && json_equal(j, k));
                json_decref(k);
                json_decref(j);
                free(text);
                approval_free(b);
                cb_error_clear(&err2);
        }
        approval_free(a);
        cb_error_clear(&err);
        return 0;
}
