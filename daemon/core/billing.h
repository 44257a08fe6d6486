/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Billing statements for finance (docs/billing.md; regulation Art. 11, 13,
 * 25, 28, 35). A statement is one calendar month in China Standard Time:
 * one line per resource that was charged in it, rated by policy/rating.h
 * at the price of the catalogue revision the resource was ordered under,
 * with totals per project and department, each project's billed money
 * beside its approval's budget (construction and O&M apart), and what the
 * regulation says to withhold, with the articles.
 *
 * The promise: finance, the authority and auditors read every line (and may
 * ask for one department's); a department reads its own lines only, and
 * asking for another's is refused (403) whether or not that department
 * exists; every other role is refused. A malformed period or format is
 * 400 naming it; a month without usage is an empty statement. The same
 * request gives the same bytes on every face: the core serializes.
 * Nothing is written.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "error.h"
#include "principal.h"
#include "store.h"

typedef struct BillingRequest {
        const char *period;     /* "YYYY-MM" */
        const char *format;     /* "json" (also for NULL) or "csv" */
        const char *department; /* NULL: every line the caller may read */
        bool excel;             /* csv only: a UTF-8 byte order mark first, for Excel */
} BillingRequest;

/* The statement as of `now` (UTC seconds; usage of a month not yet over
 * counts until then). *ret_text is malloc'd, *ret_content_type static.
 * cal may be NULL (every deadline counted Monday to Friday). */
int billing_statement(Store *s, const Calendar *cal, const CbCaller *caller, const BillingRequest *req,
                      int64_t now, char **ret_text, size_t *ret_len, const char **ret_content_type,
                      CbError *err);
