/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's config file (config_load, libconfig syntax), written to a
 * file in the harness's scratch folder because the loader takes a path (it
 * resolves relative paths against the file's folder). Promise checked beyond
 * no crash: a refusal is CB_ERR_VALIDATION with "file:line: what", nothing
 * handed out; a loaded config is complete (database, a bus, absolute
 * folder) and finds each principal by its own name. */
#include "config.h"
#include "fuzz.h"

static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        snprintf(path, sizeof(path), "%s/cloudbroker.conf", fuzz_tmpdir());
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        int r;

        /* libconfig's @include would read any file the input names (a
         * device that never ends included); the config is the operator's
         * own file, so includes are not what is under test here. */
        if (memmem(data, size, "@include", 8))
                return 0;
        fuzz_write_file(path, data, size);
        r = config_load(path, &c, &err);
        fuzz_check_refusal_text(r, &err);
        if (r < 0) {
                FUZZ_ASSERT(!c);
                FUZZ_ASSERT(err.kind == CB_ERR_VALIDATION || err.kind == CB_ERR_INTERNAL);
        } else {
                FUZZ_ASSERT(c && c->database && c->bus && c->dir && c->dir[0] == '/');
                for (size_t i = 0; i < c->n_principals; i++)
                        FUZZ_ASSERT(config_principal_by_name(c, c->principals[i].principal.name) ==
                                    &c->principals[i].principal);
                config_free(c);
        }
        cb_error_clear(&err);
        return 0;
}
