/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int max_level = 6;

void log_set_max_level(int prio) {
        max_level = prio;
}

void log_full(int prio, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        if (prio > max_level)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        /* journald reads the priority prefix; a terminal gets plain lines. */
        if (getenv("JOURNAL_STREAM"))
                fprintf(stderr, "<%d>%s\n", prio, buf);
        else
                fprintf(stderr, "cloudbrokerd: %s\n", buf);
}
