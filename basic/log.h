/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Logging to stderr with sd-daemon priority prefixes, which journald reads
 * when the daemon runs under systemd and a terminal shows harmlessly. */

#include "macro.h"

void log_full(int prio, const char *fmt, ...) _printf_(2, 3);
void log_set_max_level(int prio);

#define log_error(...)   log_full(3, __VA_ARGS__)
#define log_warning(...) log_full(4, __VA_ARGS__)
#define log_notice(...)  log_full(5, __VA_ARGS__)
#define log_info(...)    log_full(6, __VA_ARGS__)
#define log_debug(...)   log_full(7, __VA_ARGS__)
