/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Keyset pagination for the lists (resources, projects, systems, incidents):
 * a page is at most `limit` records after a position, and the position is an
 * opaque token the previous page handed out. A position is the sort key of
 * the last record returned: one or two text fields (e.g. created_at and id),
 * so a page costs the same however deep it is, and a record added or deleted
 * meanwhile never shifts the pages after it.
 *
 * The token is the key's bytes in hex: opaque to clients, checked strictly
 * here (hex only, bounded, printable ASCII inside), never SQL.
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define PAGE_LIMIT_DEFAULT 100U
#define PAGE_LIMIT_MAX     1000U
#define PAGE_KEY_MAX       96U
#define PAGE_TOKEN_MAX     (2U * (2U * PAGE_KEY_MAX + 1U) + 1U)

typedef struct Page {
        unsigned limit;
        bool has_after;
        char after[2][PAGE_KEY_MAX + 1]; /* the key of the last record of the previous page */
} Page;

/* A page from the query strings (either may be NULL: the first page of the
 * default size). CB_ERR_VALIDATION naming "limit" (1..PAGE_LIMIT_MAX) or
 * "page_token" (not one this daemon made). */
int page_parse(const char *limit, const char *page_token, Page *ret, CbError *err);

/* The token that continues after the record whose key is (a, b); b may be NULL. */
void page_token_make(const char *a, const char *b, char ret[PAGE_TOKEN_MAX]);
