/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Enums with string tables, one way for all of them (after systemd's
 * DEFINE_STRING_TABLE_LOOKUP): a state is compared as an enum, and its name
 * is spelled once, in its table.
 *
 *   DECLARE_STRING_TABLE(resource_state, ResourceState);          in the .h
 *   static const char *const resource_state_table[_RESOURCE_STATE_MAX] = {
 *           [RESOURCE_ACTIVE] = "active", ... };                     in the .c
 *   DEFINE_STRING_TABLE(resource_state, ResourceState, _RESOURCE_STATE_MAX);
 *
 * gives resource_state_to_string(v) (NULL outside the table) and
 * resource_state_from_string(s) (the value, or -EINVAL for NULL and for any
 * other string), and resource_state_table_get() with resource_state_table_size() for
 * tests and error messages.
 */

#include <stddef.h>

/* The index of s in table[0..n), or -EINVAL. */
int string_table_lookup(const char *const *table, size_t n, const char *s);
/* "a, b, c" of table[0..n) into buf (truncated to size); returns buf. */
const char *string_table_join(const char *const *table, size_t n, char *buf, size_t size);

#define DECLARE_STRING_TABLE(name, type)       \
        const char *name##_to_string(type v);  \
        int name##_from_string(const char *s); \
        size_t name##_table_size(void);        \
        const char *const *name##_table_get(void)

#define DEFINE_STRING_TABLE(name, type, max)                                   \
        const char *name##_to_string(type v) {                                 \
                return (unsigned)v < (unsigned)(max) ? name##_table[v] : NULL; \
        }                                                                      \
        int name##_from_string(const char *s) {                                \
                return string_table_lookup(name##_table, (size_t)(max), s);    \
        }                                                                      \
        size_t name##_table_size(void) {                                       \
                return (size_t)(max);                                          \
        }                                                                      \
        const char *const *name##_table_get(void) {                            \
                return name##_table;                                           \
        }
