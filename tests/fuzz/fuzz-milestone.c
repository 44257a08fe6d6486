/* SPDX-License-Identifier: Apache-2.0 */
/* A milestone (POST /v1/projects/{id}/milestones) through
 * projects_add_milestone() as department edu on the fuzz world's project,
 * which holds a contract_signed milestone (fuzz-world.h), in a rolled-back
 * transaction. Promise checked beyond no crash: an accepted milestone is in
 * the project's answer, and a refusal hands out nothing. */
#include "fuzz-world.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        fuzz_world_init(&fuzz_world);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *doc = fuzz_json(data, size);
        Project *ret = NULL;
        CbError err = CB_ERROR_INIT;
        int r;

        if (!doc)
                return 0;
        fuzz_world_begin(&fuzz_world);
        r = projects_add_milestone(fuzz_world.projects, &fuzz_edu, FUZZ_PROJECT, doc, &ret, &err);
        fuzz_check_refusal(r, &err);
        if (r < 0)
                FUZZ_ASSERT(!ret);
        else {
                bool found = false;

                FUZZ_ASSERT(ret && ret->full);
                for (size_t i = 0; i < ret->n_milestones; i++)
                        found |= streq_ptr(milestone_kind_to_string(ret->milestones[i].kind),
                                           json_string_value(json_object_get(doc, "kind"))) &&
                                 streq_ptr(ret->milestones[i].date,
                                           json_string_value(json_object_get(doc, "date")));
                FUZZ_ASSERT(found);
                project_free(ret);
        }
        cb_error_clear(&err);
        fuzz_world_end(&fuzz_world);
        json_decref(doc);
        return 0;
}
