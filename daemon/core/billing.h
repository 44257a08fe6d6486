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
#include "legacy.h"
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
 * it was. cal may be NULL (every deadline counted Monday to Friday); lg,
 * the legacy register for Art. 35, may be NULL (nothing overdue). */
/* max_bytes > 0 bounds what is held: a bigger statement stops there,
 * 413 (CB_ERR_TOO_LARGE), for one to stream instead. */
int billing_statement(Store *s, const Calendar *cal, Legacy *lg, const CbCaller *caller,
                      const BillingRequest *req, int64_t now, size_t max_bytes, BillingExport *ret,
                      CbError *err);

/*
 * Streaming exports. A statement is written as it is made, in slices, so
 * that neither the daemon nor the loop holds it whole:
 *
 *   billing_stream_new()     on the loop: validates, authorizes, reads the
 *                            headers (a closed month's digest); the errors of
 *                            billing_statement() come from here
 *   billing_stream_detach()  on the loop, to write it elsewhere: gathers the
 *                            facts only the loop may read (the legacy
 *                            register) and opens a read-only connection of
 *                            its own; 503 while STREAMS_MAX others run
 *   billing_stream_write()   on one thread (a worker once detached; the loop
 *                            otherwise), once: the bytes through fn, which
 *                            may block (the reader's pace); fn < 0 stops it
 *
 * The bytes are billing_statement()'s, byte for byte; a closed month's are
 * the stored ones, read a slice at a time.
 */
typedef int (*BillingWriteFn)(void *userdata, const void *p, size_t n);
typedef struct BillingStream BillingStream;

int billing_stream_new(Store *s, const Calendar *cal, Legacy *lg, const CbCaller *caller,
                       const BillingRequest *req, int64_t now, BillingStream **ret, CbError *err);
int billing_stream_detach(BillingStream *bs, CbError *err);
int billing_stream_write(BillingStream *bs, BillingWriteFn fn, void *userdata, CbError *err);
/* billing_stream_write() into a non-blocking fd (a pipe): waits while it is
 * full, gives up when the reader closes it, takes nothing for 2 minutes, or
 * billing_streams_stop() was called. */
int billing_stream_write_fd(BillingStream *bs, int fd, CbError *err);
/* content_type, and for a closed month sm3, signature, alg, key_id (text NULL). */
const BillingExport *billing_stream_headers(const BillingStream *bs);
/* How many lines there may be (resources that existed before the month
 * ended; 0 for a closed month): for a progress bar. */
int64_t billing_stream_lines_hint(const BillingStream *bs);
BillingStream *billing_stream_free(BillingStream *bs);
DEFINE_TRIVIAL_CLEANUP_FUNC(BillingStream *, billing_stream_free);
/* The daemon is stopping: every writer gives up at its next wait. */
void billing_streams_stop(void);

/* Art. 13, each resource counted once (docs/billing.md, "Budget"): per
 * cost kind ([0] construction, [1] O&M), what the project's resources were
 * charged before `today` (YYYY-MM-DD, CST), rated as the statements rate
 * it, and what those that still exist commit from today to valid_until
 * (the approval's last day) inclusive, as the policy engine commits an
 * order (rating_budget_spend()). Reads only. */
typedef struct BillingSpend {
        int64_t charged_fen[2];
        int64_t committed_fen[2];
} BillingSpend;
int billing_project_spend(Store *s, const char *project_id, const char *today, const char *valid_until,
                          int64_t now, BillingSpend *ret, CbError *err);
/* The same by a full re-rating of the project's history, never the kept
 * row: billing_project_spend() keeps the charged part per project and day
 * (billing_spend_cache, dropped in the transaction of a backdated write or
 * a re-pricing) and computes the committed part from per-price counts kept
 * by triggers (project_priced_holdings), so that an evaluation reads one
 * row per distinct price. Tests hold the two against each other. */
int billing_project_spend_uncached(Store *s, const char *project_id, const char *today,
                                   const char *valid_until, int64_t now, BillingSpend *ret, CbError *err);

/* A month's closing: who froze it when, the key that signed it, and each
 * file stored (the whole city's first, department "", then each
 * department's, CSV before JSON). The faces serialize it (rest-records.h). */
typedef struct BillingClosedFile {
        char *department;         /* "": the whole city's */
        bool csv;                 /* else JSON */
        char sm3[DIGEST_HEX_MAX]; /* lowercase hex of the file's bytes */
} BillingClosedFile;

typedef struct BillingClosing {
        char *period; /* "YYYY-MM" */
        char *closed_at, *closed_by;
        char *alg, *key_id;
        BillingClosedFile *files;
        size_t n_files;
} BillingClosing;
BillingClosing *billing_closing_free(BillingClosing *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(BillingClosing *, billing_closing_free);

/* POST /v1/billing/statements/{period}/close, finance only: freezes the
 * month once it has ended (409 before, naming period). Renders the whole
 * city's statement and each department's, CSV and JSON, on a worker of
 * pool (NULL: right here), each straight into the store as slices of 256
 * KiB (through a connection of the worker's own, one short transaction a
 * slice) with its SM3 computed as it is written, signed with the audit
 * trail's checkpoint key (503 without one); then, on the loop, stores the
 * closing, each file's digest, signature and length, with a billing.close
 * audit record in one transaction, or nothing: the slices count only once
 * that transaction names their month, so a failure or a crash before
 * leaves the month open (its slices are dropped then, or at the next
 * start). No one holds a file whole. Every later export of the month is
 * those bytes. One close runs at a time: another is 409 meanwhile.
 *
 * Returns 1 with *ret when the month was closed already (closing again
 * changes nothing and answers the first closing); 0 when done(r, closing,
 * err, userdata) will run once on the loop (closing NULL on failure, err
 * set; both borrowed); < 0 when refused, err set, done never runs. */
typedef void (*BillingCloseDoneFn)(int r, const BillingClosing *closing, const CbError *err, void *userdata);
typedef struct WorkerPool WorkerPool;
int billing_close(Store *s, WorkerPool *pool, const Calendar *cal, Legacy *lg, const CbCaller *caller,
                  const char *period, int64_t now, BillingClosing **ret, BillingCloseDoneFn done,
                  void *userdata, CbError *err);

/* At start, before anything closes: drops the slices that a close which
 * did not finish (a crash, kill -9) stored for a month that stayed open.
 * They never counted (an export reads a month's slices only once it is
 * closed); this frees their room. */
int billing_recover(Store *s, CbError *err);

/* Adjustments of a closed month: billing-adjustments.h. */
