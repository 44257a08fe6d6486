/* SPDX-License-Identifier: Apache-2.0 */
#include "audit.h"

#include <inttypes.h>
#include <stdio.h>

#include "digest.h"
#include "log.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* The hashed content: every column but the hashes, in a fixed order, as a
 * JSON array (unambiguous, unlike plain concatenation). */
static char *record_content(int64_t seq, const char *at, const char *principal, const char *face,
                            const char *action, const char *object, const char *outcome, const char *codes,
                            const char *detail) {
        json_t *a = json_pack("[I, s, s, s, s, s, s, s, s]", (json_int_t)seq, at, principal, face, action,
                              object, outcome, codes, detail);
        char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        return s;
}

static int record_hash(const char *prev, const char *content, char ret[DIGEST_HEX_MAX]) {
        _cleanup_(freep) char *buf = NULL;
        if (asprintf(&buf, "%s\n%s", prev, content) < 0)
                return -ENOMEM;
        return digest_sm3_hex(buf, strlen(buf), ret);
}

int audit_change(Store *s, const CbCaller *caller, const AuditEntry *entry, AuditChangeFn change,
                 void *userdata, CbError *err) {
        int r;

        if (store_begin(s) < 0)
                return store_error(s, err, "starting a transaction");
        r = change(s, userdata, err);
        if (r >= 0)
                r = audit_append(s, caller, entry, err);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (store_commit(s) < 0) {
                r = store_error(s, err, "committing");
                store_rollback(s);
                return r;
        }
        return 0;
}

int audit_append(Store *s, const CbCaller *caller, const AuditEntry *e, CbError *err) {
        static const char last_sql[] = "SELECT seq, hash FROM audit_head WHERE id = 1";
        static const char head_sql[] = "INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?, ?)";
        static const char ins_sql[] =
                "INSERT INTO audit (seq, at, principal, face, action, object, outcome, "
                "codes, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        _cleanup_(freep) char *codes = NULL, *detail = NULL, *content = NULL;
        char prev[DIGEST_HEX_MAX] = GENESIS, hash[DIGEST_HEX_MAX], now[32];
        const char *principal = caller && caller->principal ? caller->principal->name : "system";
        const char *face = caller && caller->face ? caller->face : "system";
        sqlite3_stmt *st;
        int64_t seq = 1;
        int r;

        codes = e->codes ? json_dumps(e->codes, JSON_COMPACT) : strdup("[]");
        detail = e->detail ? json_dumps(e->detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
        if (!codes || !detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        r = store_begin(s);
        if (r < 0)
                return store_error(s, err, "starting an audit transaction");
        if (store_prepare(s, last_sql, &st) < 0)
                goto fail;
        if (sqlite3_step(st) == SQLITE_ROW) {
                seq = sqlite3_column_int64(st, 0) + 1;
                snprintf(prev, sizeof(prev), "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);

        store_now(now);
        content = record_content(seq, now, principal, face, e->action, e->object, e->outcome, codes, detail);
        if (!content || record_hash(prev, content, hash) < 0)
                goto fail;
        if (store_prepare(s, ins_sql, &st) < 0)
                goto fail;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, principal, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, face, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, e->action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, e->object, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, e->outcome, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, codes, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, detail, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, prev, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, hash, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                goto fail;
        /* The head makes the deletion of the newest records detectable too. */
        if (store_prepare(s, head_sql, &st) < 0)
                goto fail;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                goto fail;
        if (store_commit(s) < 0)
                return store_error(s, err, "committing an audit record");
        return 0;
fail:
        r = store_error(s, err, "appending an audit record");
        store_rollback(s);
        return r;
}

void audit_refusal(Store *s, const CbCaller *caller, const char *action, const char *object,
                   const char *outcome, json_t *codes) {
        CbError err = CB_ERROR_INIT;
        if (audit_append(s, caller, &(AuditEntry){ action, object, outcome, codes, NULL }, &err) < 0)
                log_warning("cannot record a refused %s on %s: %s", action, object, err.message);
        cb_error_clear(&err);
}

static json_t *row_json(sqlite3_stmt *st) {
        json_t *codes = json_loads((const char *)sqlite3_column_text(st, 7), 0, NULL);
        json_t *detail = json_loads((const char *)sqlite3_column_text(st, 8), 0, NULL);
        return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "seq",
                         (json_int_t)sqlite3_column_int64(st, 0), "at", sqlite3_column_text(st, 1),
                         "principal", sqlite3_column_text(st, 2), "face", sqlite3_column_text(st, 3),
                         "action", sqlite3_column_text(st, 4), "object", sqlite3_column_text(st, 5),
                         "outcome", sqlite3_column_text(st, 6), "codes", codes ? codes : json_array(),
                         "detail", detail ? detail : json_object(), "prev_hash", sqlite3_column_text(st, 9),
                         "hash", sqlite3_column_text(st, 10));
}

#define AUDIT_COLUMNS "seq, at, principal, face, action, object, outcome, codes, detail, prev_hash, hash"

int audit_list(Store *s, int64_t after, unsigned limit, json_t **ret, CbError *err) {
        static const char sql[] = "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ? ORDER BY seq LIMIT ?";
        sqlite3_stmt *st;
        json_t *a = json_array();
        int r;

        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (store_prepare(s, sql, &st) < 0) {
                json_decref(a);
                return store_error(s, err, "reading the audit trail");
        }
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int(st, 2, (int)limit);
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
                json_array_append_new(a, row_json(st));
        sqlite3_reset(st);
        if (r != SQLITE_DONE) {
                json_decref(a);
                return store_error(s, err, "reading the audit trail");
        }
        *ret = a;
        return 0;
}

int audit_anchor_parse(const char *s, AuditAnchor *ret) {
        AuditAnchor a = { 0 };
        char *end;
        const char *colon = s ? strchr(s, ':') : NULL;
        size_t n;

        if (!colon)
                return -EINVAL;
        errno = 0;
        a.seq = strtoll(s, &end, 10);
        if (errno || end != colon || end == s || a.seq < 1)
                return -EINVAL;
        n = strlen(colon + 1);
        if (n != strlen(GENESIS) || strspn(colon + 1, "0123456789abcdef") != n)
                return -EINVAL;
        memcpy(a.hash, colon + 1, n + 1);
        *ret = a;
        return 0;
}

int audit_head_anchor(Store *s, AuditAnchor *ret) {
        static const char sql[] = "SELECT seq, hash FROM audit_head WHERE id = 1";
        sqlite3_stmt *st;
        AuditAnchor a = { 0 };
        int r;

        if (store_prepare(s, sql, &st) < 0)
                return -EIO;
        r = sqlite3_step(st);
        if (r == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0 && sqlite3_column_text(st, 1)) {
                a.seq = sqlite3_column_int64(st, 0);
                snprintf(a.hash, sizeof(a.hash), "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);
        if (r != SQLITE_ROW && r != SQLITE_DONE)
                return -EIO;
        if (a.seq == 0)
                return -ENOENT;
        *ret = a;
        return 0;
}

bool audit_log_anchor(Store *s, const char *when, int64_t *last_seq) {
        AuditAnchor a;
        if (audit_head_anchor(s, &a) < 0 || a.seq == *last_seq)
                return false;
        log_info("audit anchor %" PRId64 ":%s (%s)", a.seq, a.hash, when);
        *last_seq = a.seq;
        return true;
}

int audit_verify(Store *s, const AuditAnchor *anchor, json_t **ret, CbError *err) {
        /* Physical order (rowid) is what a reorder or a renumbering changes. */
        static const char sql[] = "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY rowid";
        char prev[DIGEST_HEX_MAX] = GENESIS, hash[DIGEST_HEX_MAX];
        int64_t expect_seq = 1, n = 0, bad_seq = 0;
        const char *problem = NULL;
        char detail[200] = "";
        sqlite3_stmt *st;
        int r;

        if (store_prepare(s, sql, &st) < 0)
                return store_error(s, err, "reading the audit trail");
        while (!problem && (r = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t seq = sqlite3_column_int64(st, 0);
                const char *cols[10];
                _cleanup_(freep) char *content = NULL;

                for (int i = 0; i < 10; i++)
                        cols[i] = (const char *)sqlite3_column_text(st, i + 1);
                n++;
                if (seq != expect_seq) {
                        /* A gap names the first missing record, as a missing tail does below. */
                        bad_seq = seq > expect_seq ? expect_seq : seq;
                        problem = seq > expect_seq ? "deleted" : "reordered";
                        snprintf(detail, sizeof(detail), "expected record %" PRId64 ", found %" PRId64,
                                 expect_seq, seq);
                        break;
                }
                if (!cols[8] || !streq(cols[8], prev)) {
                        bad_seq = seq;
                        problem = "reordered";
                        snprintf(detail, sizeof(detail),
                                 "record %" PRId64 " does not follow the record before it", seq);
                        break;
                }
                for (int i = 0; i < 8; i++)
                        if (!cols[i])
                                cols[i] = "";
                content = record_content(seq, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6],
                                         cols[7]);
                if (!content || record_hash(prev, content, hash) < 0) {
                        sqlite3_reset(st);
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                if (!cols[9] || !streq(cols[9], hash)) {
                        bad_seq = seq;
                        problem = "edited";
                        snprintf(detail, sizeof(detail), "record %" PRId64 " does not match its hash", seq);
                        break;
                }
                if (anchor && seq == anchor->seq && !streq(hash, anchor->hash)) {
                        bad_seq = seq;
                        problem = "edited";
                        snprintf(detail, sizeof(detail),
                                 "record %" PRId64
                                 " is not the one anchored: the chain was rewritten from here "
                                 "or before",
                                 seq);
                        break;
                }
                snprintf(prev, sizeof(prev), "%s", hash);
                expect_seq++;
        }
        sqlite3_reset(st);

        if (!problem) {
                static const char head_sql[] = "SELECT seq, hash FROM audit_head WHERE id = 1";
                int64_t head_seq = 0;
                const char *head_hash = GENESIS;
                if (store_prepare(s, head_sql, &st) < 0)
                        return store_error(s, err, "reading the audit head");
                if (sqlite3_step(st) == SQLITE_ROW) {
                        head_seq = sqlite3_column_int64(st, 0);
                        head_hash = (const char *)sqlite3_column_text(st, 1);
                }
                if (head_seq != n || !head_hash || !streq(head_hash, prev)) {
                        problem = head_seq > n ? "deleted" : "edited";
                        bad_seq = n + 1;
                        snprintf(detail, sizeof(detail),
                                 "the chain ends at record %" PRId64 " but the head names record %" PRId64, n,
                                 head_seq);
                }
                sqlite3_reset(st);
        }
        if (!problem && anchor && anchor->seq > n) {
                problem = "deleted";
                bad_seq = n + 1;
                snprintf(detail, sizeof(detail),
                         "the chain ends at record %" PRId64 " but the anchor names record %" PRId64
                         ": records were cut off its end",
                         n, anchor->seq);
        }

        json_t *o = json_pack("{s:b, s:I, s:s, s:I}", "ok", !problem, "records", (json_int_t)n, "head", prev,
                              "head_seq", (json_int_t)(expect_seq - 1));
        if (!o)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (problem)
                json_object_set_new(o, "first_bad",
                                    json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)bad_seq, "problem",
                                              problem, "message", detail));
        *ret = o;
        return 0;
}
