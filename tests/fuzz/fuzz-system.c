/* SPDX-License-Identifier: Apache-2.0 */
/* A system document (POST /v1/systems, PUT /v1/systems/{id}) through the core
 * functions themselves, systems_create() and systems_update(), as the
 * operator and as department edu, in a rolled-back transaction of the fuzz
 * world (fuzz-world.h). Promise checked beyond no crash: what is stored is
 * what was sent, and a refusal hands out nothing. */
#include "fuzz-world.h"
#include "rest-records.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        fuzz_world_init(&fuzz_world);
        return 0;
}

static void check(int r, const CbError *err, const json_t *doc, System *sys) {
        json_t *ret;
        fuzz_check_refusal(r, err);
        if (r < 0) {
                FUZZ_ASSERT(!sys);
                return;
        }
        FUZZ_ASSERT(sys);
        /* What was stored is what was sent, in the shape the faces answer. */
        ret = rest_system_json(sys);
        FUZZ_ASSERT(ret);
        const char *const keys[] = { "id",         "name",        "department", "protection_level",
                                     "classified", "data_sharing" };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                FUZZ_ASSERT(json_equal(json_object_get(doc, keys[i]), json_object_get(ret, keys[i])));
        json_decref(ret);
        system_free(sys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *doc = fuzz_json(data, size);
        const CbCaller *callers[] = { &fuzz_operator, &fuzz_edu };

        if (!doc)
                return 0;
        for (size_t i = 0; i < 2; i++) {
                CbError err = CB_ERROR_INIT;
                System *ret = NULL;
                int r;

                fuzz_world_begin(&fuzz_world);
                r = systems_create(fuzz_world.store, callers[i], doc, &ret, &err);
                check(r, &err, doc, ret);
                cb_error_clear(&err);
                fuzz_world_end(&fuzz_world);

                ret = NULL;
                fuzz_world_begin(&fuzz_world);
                r = systems_update(fuzz_world.store, callers[i], FUZZ_SYSTEM, doc, &ret, &err);
                check(r, &err, doc, ret);
                cb_error_clear(&err);
                fuzz_world_end(&fuzz_world);
        }
        json_decref(doc);
        return 0;
}
