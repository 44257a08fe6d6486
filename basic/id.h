/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The broker's identifiers: services, plans, projects, systems,
 * departments, providers. One rule, ^[a-z0-9-]{1,63}$, checked over the
 * whole string (a NUL or any other byte outside the set makes it invalid).
 */

#include <stdbool.h>
#include <stddef.h>

#define ID_MAX 63

/* false for NULL. */
bool id_is_valid(const char *s);
/* The same rule over exactly len bytes (no terminator needed). */
bool id_is_valid_n(const char *s, size_t len);
