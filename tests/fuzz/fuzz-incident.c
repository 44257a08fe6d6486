/* SPDX-License-Identifier: Apache-2.0 */
/* An incident report (POST /v1/incidents) and a handling record (POST
 * /v1/incidents/{id}/records) through incidents_report() and
 * incidents_add_record(), as the operator and as department edu, in a
 * rolled-back transaction of the fuzz world (fuzz-world.h). Promise checked
 * beyond no crash: an accepted report has an id and the severity sent, and
 * a refusal hands out nothing. */
#include "fuzz-world.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        fuzz_world_init(&fuzz_world);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *doc = fuzz_json(data, size);
        const CbCaller *callers[] = { &fuzz_operator, &fuzz_edu };

        if (!doc)
                return 0;
        for (size_t i = 0; i < 2; i++) {
                CbError err = CB_ERROR_INIT;
                Incident *ret = NULL;
                int r;

                fuzz_world_begin(&fuzz_world);
                r = incidents_report(fuzz_world.store, callers[i], doc, &ret, &err);
                fuzz_check_refusal(r, &err);
                if (r < 0)
                        FUZZ_ASSERT(!ret);
                else {
                        FUZZ_ASSERT(ret->id && ret->id[0]);
                        FUZZ_ASSERT(streq_ptr(ret->severity,
                                              json_string_value(json_object_get(doc, "severity"))));
                        FUZZ_ASSERT(incident_report_hours(ret->severity) > 0);
                }
                incident_free(ret);
                cb_error_clear(&err);
                fuzz_world_end(&fuzz_world);

                ret = NULL;
                fuzz_world_begin(&fuzz_world);
                r = incidents_add_record(fuzz_world.store, callers[i], fuzz_world.incident_id, doc, &ret,
                                         &err);
                fuzz_check_refusal(r, &err);
                if (r < 0)
                        FUZZ_ASSERT(!ret);
                else
                        FUZZ_ASSERT(streq_ptr(incident_status_to_string(ret->status),
                                              json_string_value(json_object_get(doc, "status"))) &&
                                    ret->has_records && ret->n_records >= 1);
                incident_free(ret);
                cb_error_clear(&err);
                fuzz_world_end(&fuzz_world);
        }
        json_decref(doc);
        return 0;
}
