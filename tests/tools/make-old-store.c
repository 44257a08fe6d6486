/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make-old-store: writes a database as an older cloudbrokerd left it, for
 * tests of upgrades (tests/integration/test-checkpoints.sh, cb_old_store in
 * tests/integration/lib.sh). It runs this build's own migrations up to the
 * version asked for, so a new migration needs no edit anywhere to keep an
 * old database old.
 *
 *   make-old-store PATH VERSION   create PATH (or upgrade it) at VERSION:
 *                                 a number from 0, or latest-N
 *   make-old-store --latest       print the version a fresh database gets
 *
 * Exit status: 0 done, 1 refused (said on stderr), 2 wrong usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static int usage(void) {
        fputs("usage: make-old-store PATH VERSION (a number, or latest-N)\n"
              "       make-old-store --latest\n",
              stderr);
        return 2;
}

/* A version as given, "12" or "latest-3", into *ret (which may come out
 * negative: store_open_at_version() names the range); -EINVAL for neither. */
static int parse_version(const char *text, int *ret) {
        const char *digits = text;
        int base = 0, sign = 1;
        char *end;
        long n;

        if (strncmp(text, "latest", 6) == 0) {
                base = store_latest_version();
                if (text[6] == 0) {
                        *ret = base;
                        return 0;
                }
                if (text[6] != '-')
                        return -EINVAL;
                digits = text + 7;
                sign = -1;
        }
        if (*digits < '0' || *digits > '9')
                return -EINVAL;
        errno = 0;
        n = strtol(digits, &end, 10);
        if (errno != 0 || *end != 0 || n > INT_MAX / 2)
                return -EINVAL;
        *ret = base + sign * (int)n;
        return 0;
}

int main(int argc, char **argv) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        int version;

        if (argc == 2 && strcmp(argv[1], "--latest") == 0) {
                printf("%d\n", store_latest_version());
                return 0;
        }
        if (argc != 3 || argv[1][0] == '-')
                return usage();
        if (parse_version(argv[2], &version) < 0) {
                fprintf(stderr, "make-old-store: VERSION: '%s' is neither a number nor latest-N\n", argv[2]);
                return 2;
        }
        if (store_open_at_version(argv[1], version, &s, &err) < 0) {
                fprintf(stderr, "make-old-store: %s\n", err.message);
                return 1;
        }
        store_free(s);
        return 0;
}
