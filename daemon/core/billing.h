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
 * Reading writes nothing; closing a month (finance) freezes it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "calendar.h"
#include "digest.h"
#include "error.h"
#include "principal.h"
#include "store.h"

typedef struct BillingRequest {
        const char *period;     /* "YYYY-MM" */
        const char *format;     /* "json" (also for NULL) or "csv" */
        const char *department; /* NULL: every line the caller may read */
        bool excel;             /* csv only: a UTF-8 byte order mark first, for Excel */
} BillingRequest;

typedef struct BillingExport {
        char *text; /* malloc'd */
        size_t len;
        const char *content_type; /* static */
        /* A closed month's file: the SM3 digest (lowercase hex) of text (for
         * CSV with excel, of text after the byte order mark), the
         * daemon's signature over that digest's hex, base64, and its key;
         * "" and NULL for an open month. */
        char sm3[DIGEST_HEX_MAX];
        char *signature;
        char alg[16], key_id[80];
} BillingExport;

void billing_export_done(BillingExport *e);

/* The statement as of `now` (UTC seconds; usage of a month not yet over
 * counts until then), or, once the month is closed, the bytes stored when
 * it was. cal may be NULL (every deadline counted Monday to Friday). */
int billing_statement(Store *s, const Calendar *cal, const CbCaller *caller, const BillingRequest *req,
                      int64_t now, BillingExport *ret, CbError *err);

/* POST /v1/billing/statements/{period}/close, finance only: freezes the
 * month once it has ended (409 before, naming period). Renders the whole
 * city's statement and each department's, CSV and JSON, signs the SM3 of
 * each with the audit trail's checkpoint key (503 without one) and stores
 * them with a billing.close audit record, in one transaction. Every later
 * export of the month is those bytes. Closing again changes nothing and
 * answers the first closing. *ret: {period, closed_at, closed_by, alg,
 * key_id, files: [{department, format, sm3}]}. */
int billing_close(Store *s, const Calendar *cal, const CbCaller *caller, const char *period, int64_t now,
                  json_t **ret, CbError *err);
