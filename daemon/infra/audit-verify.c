/* SPDX-License-Identifier: Apache-2.0 */
/* audit_verify (audit.h): the chain recomputed, the checkpoints checked. */
#include "audit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "audit-internal.h"

typedef struct Checkpoint {
        int64_t id, seq, every;
        char hash[DIGEST_HEX_MAX], at[32], key_id[DIGEST_HEX_MAX];
        char *signature;
        bool trusted; /* its signature verified (or, from the last checkpoint, it is an older one) */
} Checkpoint;

typedef struct Checkpoints {
        Checkpoint *v;
        size_t n;
} Checkpoints;

static void checkpoints_done(Checkpoints *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->v[i].signature);
        free(c->v);
        c->v = NULL;
        c->n = 0;
}

static void copy_col(sqlite3_stmt *st, int i, char *buf, size_t size) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        snprintf(buf, size, "%s", v ? v : "");
}

static int checkpoints_load(Store *s, Checkpoints *ret) {
        static const char sql[] =
                "SELECT id, seq, hash, at, every, key_id, signature FROM audit_checkpoints ORDER BY id";
        Checkpoints c = { 0 };
        sqlite3_stmt *st;
        int r;

        if (store_prepare(s, sql, &st) < 0)
                return -EIO;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                Checkpoint *v = reallocarray(c.v, c.n + 1, sizeof(*v));
                const char *sig = (const char *)sqlite3_column_text(st, 6);
                if (!v) {
                        r = -ENOMEM;
                        break;
                }
                c.v = v;
                v = &c.v[c.n];
                *v = (Checkpoint){ .id = sqlite3_column_int64(st, 0),
                                   .seq = sqlite3_column_int64(st, 1),
                                   .every = sqlite3_column_int64(st, 4) };
                copy_col(st, 2, v->hash, sizeof(v->hash));
                copy_col(st, 3, v->at, sizeof(v->at));
                copy_col(st, 5, v->key_id, sizeof(v->key_id));
                v->signature = strdup(sig ? sig : "");
                if (!v->signature) {
                        r = -ENOMEM;
                        break;
                }
                c.n++;
        }
        sqlite3_reset(st);
        if (r != SQLITE_DONE) {
                checkpoints_done(&c);
                return r == -ENOMEM ? r : -EIO;
        }
        *ret = c;
        return 0;
}

typedef struct Problem {
        const char *kind; /* NULL: none */
        int64_t seq, through, checkpoint;
        char message[400];
} Problem;

/* Keeps the problem at the lowest record: that is the first bad one. */
static void problem_set(Problem *p, int64_t seq, int64_t through, int64_t checkpoint, const char *kind,
                        const char *fmt, ...) _printf_(6, 7);
static void problem_set(Problem *p, int64_t seq, int64_t through, int64_t checkpoint, const char *kind,
                        const char *fmt, ...) {
        va_list ap;
        if (p->kind && p->seq <= seq)
                return;
        p->kind = kind;
        p->seq = seq;
        p->through = through;
        p->checkpoint = checkpoint;
        va_start(ap, fmt);
        vsnprintf(p->message, sizeof(p->message), fmt, ap);
        va_end(ap);
        audit_ascii_if_invalid(p->message);
}

static const SigKey *key_for(const AuditVerifyOptions *o, const char *key_id) {
        for (size_t i = 0; i < o->n_keys; i++)
                if (streq(sig_key_id(o->keys[i]), key_id))
                        return o->keys[i];
        return NULL;
}

/* Signatures and numbering; a bad checkpoint is not used to vouch for a record. */
static int checkpoints_check(const AuditVerifyOptions *o, Checkpoints *c, Problem *p) {
        int64_t expect_id = 1;

        for (size_t i = 0; i < c->n; i++) {
                Checkpoint *cp = &c->v[i];
                const SigKey *k;
                _cleanup_(freep) char *statement = NULL;
                int r;

                if (cp->id != expect_id)
                        problem_set(p, cp->seq, 0, expect_id, "missing-checkpoint",
                                    "checkpoints #%" PRId64 "..#%" PRId64 " are missing (deleted): the "
                                    "checkpoints jump from #%" PRId64 " to #%" PRId64 " at record %" PRId64,
                                    expect_id, cp->id - 1, expect_id - 1, cp->id, cp->seq);
                expect_id = cp->id + 1;
                if (o->from_last_checkpoint && i + 1 < c->n) {
                        cp->trusted = true;
                        continue;
                }
                k = key_for(o, cp->key_id);
                if (!k) {
                        problem_set(p, cp->seq, 0, cp->id, "forged-checkpoint",
                                    "checkpoint #%" PRId64 " (record %" PRId64
                                    ", %s) is signed by key %.16s, "
                                    "which is not %s",
                                    cp->id, cp->seq, cp->at, cp->key_id,
                                    o->n_keys == 1 ? "the key given" : "one of the keys given");
                        continue;
                }
                statement = audit_checkpoint_statement(cp->id, cp->seq, cp->hash, cp->at, cp->every);
                if (!statement)
                        return -ENOMEM;
                r = sig_key_verify(k, statement, strlen(statement), cp->signature);
                if (r < 0)
                        return r;
                if (r == 0) {
                        problem_set(p, cp->seq, 0, cp->id, "forged-checkpoint",
                                    "checkpoint #%" PRId64 " (record %" PRId64 ", %s): its %s signature does "
                                    "not verify: the checkpoint was forged or edited",
                                    cp->id, cp->seq, cp->at, sig_key_alg(k));
                        continue;
                }
                cp->trusted = true;
        }
        return 0;
}

static int cmp_checkpoint_seq(const void *a, const void *b) {
        const Checkpoint *x = *(const Checkpoint *const *)a, *y = *(const Checkpoint *const *)b;
        return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : x->id < y->id ? -1 : x->id > y->id;
}

static const char *const field_names[] = { "at",     "principal", "face",  "action",
                                           "object", "outcome",   "codes", "detail" };

int audit_verify(Store *s, const AuditVerifyOptions *o, AuditVerifyResult *ret, CbError *err) {
        static const char sql[] = "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY seq";
        static const char head_sql[] = "SELECT seq, hash FROM audit_head WHERE id = 1";
        static const AuditVerifyOptions none = { 0 };
        _cleanup_(freep) const Checkpoint **by_seq = NULL;
        char prev[DIGEST_HEX_MAX] = AUDIT_GENESIS, hash[DIGEST_HEX_MAX];
        int64_t expect_seq = 1, n = 0, vouched = 0, rehash_after = 0, signed_seq = 0;
        const Checkpoint *last = NULL;
        Checkpoints c = { 0 };
        Problem p = { 0 };
        bool walk_ok = true;
        size_t j = 0, n_trusted = 0;
        sqlite3_stmt *st;
        int r;

        if (!o)
                o = &none;
        if (checkpoints_load(s, &c) < 0)
                return store_error(s, err, "reading the audit checkpoints");
        if (o->n_keys > 0 && c.n > 0) {
                r = checkpoints_check(o, &c, &p);
                if (r >= 0 && !(by_seq = calloc(c.n, sizeof(*by_seq))))
                        r = -ENOMEM;
                if (r < 0) {
                        checkpoints_done(&c);
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot check the audit checkpoints: %s",
                                            strerror(-r));
                }
                for (size_t i = 0; i < c.n; i++)
                        if (c.v[i].trusted) {
                                by_seq[n_trusted++] = &c.v[i];
                                last = &c.v[i];
                                if (c.v[i].seq > signed_seq)
                                        signed_seq = c.v[i].seq;
                        }
                qsort(by_seq, n_trusted, sizeof(*by_seq), cmp_checkpoint_seq);
                /* The newest vouches for the records behind it without rehashing them. */
                if (o->from_last_checkpoint && last)
                        rehash_after = last->seq;
                /* Checkpoints of the empty trail sign the genesis hash. */
                for (; j < n_trusted && by_seq[j]->seq == 0; j++)
                        if (!streq(by_seq[j]->hash, AUDIT_GENESIS))
                                problem_set(&p, 1, 0, by_seq[j]->id, "rewritten",
                                            "checkpoint #%" PRId64
                                            " signed the empty trail, but with another "
                                            "hash",
                                            by_seq[j]->id);
        }

        if (store_prepare(s, sql, &st) < 0) {
                checkpoints_done(&c);
                return store_error(s, err, "reading the audit trail");
        }
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t seq = sqlite3_column_int64(st, 0);
                const char *cols[10];
                bool rehash = seq > rehash_after;
                _cleanup_(freep) char *content = NULL;
                const char *bad_field = NULL;

                for (int i = 0; i < 10; i++) {
                        cols[i] = (const char *)sqlite3_column_text(st, i + 1);
                        if (!cols[i])
                                cols[i] = "";
                }
                if (seq != expect_seq) {
                        /* A gap names the first missing record, as a missing tail does below. */
                        if (seq > expect_seq + 1)
                                problem_set(&p, expect_seq, seq - 1, 0, "deleted",
                                            "records %" PRId64 "..%" PRId64
                                            " are missing: after record %" PRId64 " comes record %" PRId64,
                                            expect_seq, seq - 1, expect_seq - 1, seq);
                        else if (seq > expect_seq)
                                problem_set(&p, expect_seq, 0, 0, "deleted",
                                            "record %" PRId64 " is missing: after record %" PRId64
                                            " comes record %" PRId64,
                                            expect_seq, expect_seq - 1, seq);
                        else
                                problem_set(&p, seq, 0, 0, "reordered",
                                            "expected record %" PRId64 ", found %" PRId64, expect_seq, seq);
                        walk_ok = false;
                        break;
                }
                n++;
                for (int i = 0; i < 8 && !bad_field; i++)
                        if (!audit_utf8_valid((const unsigned char *)cols[i]))
                                bad_field = field_names[i];
                if (bad_field) {
                        problem_set(&p, seq, 0, 0, "edited",
                                    "record %" PRId64 ": its %s is not valid UTF-8 (the daemon writes only "
                                    "UTF-8): the record was edited",
                                    seq, bad_field);
                        walk_ok = false;
                        break;
                }
                if (rehash || !streq(cols[8], prev)) {
                        content = audit_record_content(seq, cols[0], cols[1], cols[2], cols[3], cols[4],
                                                       cols[5], cols[6], cols[7]);
                        if (!content) {
                                sqlite3_reset(st);
                                checkpoints_done(&c);
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        }
                }
                if (!streq(cols[8], prev)) {
                        char own[DIGEST_HEX_MAX];
                        /* Consistent with the hash it names: the record before it changed. */
                        if (seq > 1 && audit_record_hash(cols[8], content, own) >= 0 && streq(own, cols[9]))
                                problem_set(&p, seq - 1, 0, 0, "edited",
                                            "record %" PRId64
                                            " was changed and given a new hash: record %" PRId64
                                            " still names its former hash",
                                            seq - 1, seq);
                        else
                                problem_set(&p, seq, 0, 0, "reordered",
                                            "record %" PRId64 " does not follow the record before it", seq);
                        walk_ok = false;
                        break;
                }
                if (rehash) {
                        if (audit_record_hash(prev, content, hash) < 0) {
                                sqlite3_reset(st);
                                checkpoints_done(&c);
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        }
                        if (!streq(cols[9], hash)) {
                                problem_set(&p, seq, 0, 0, "edited",
                                            "record %" PRId64 " does not match its hash", seq);
                                walk_ok = false;
                                break;
                        }
                } else
                        snprintf(hash, sizeof(hash), "%s", cols[9]);
                for (; j < n_trusted && by_seq[j]->seq == seq; j++) {
                        if (streq(by_seq[j]->hash, hash)) {
                                vouched = seq;
                                continue;
                        }
                        problem_set(&p, vouched + 1, seq, by_seq[j]->id, "rewritten",
                                    "records %" PRId64 "..%" PRId64 " were rewritten: record %" PRId64
                                    " is not the one checkpoint #%" PRId64 " signed at %s%s",
                                    vouched + 1, seq, seq, by_seq[j]->id, by_seq[j]->at,
                                    vouched ? "" : " (no earlier checkpoint vouches for any record)");
                        walk_ok = false;
                        break;
                }
                if (!walk_ok)
                        break;
                if (o->anchor && seq == o->anchor->seq && !streq(hash, o->anchor->hash)) {
                        problem_set(&p, seq, 0, 0, "edited",
                                    "record %" PRId64
                                    " is not the one anchored: the chain was rewritten from "
                                    "here or before",
                                    seq);
                        walk_ok = false;
                        break;
                }
                snprintf(prev, sizeof(prev), "%s", hash);
                expect_seq++;
        }
        sqlite3_reset(st);
        if (walk_ok && r != SQLITE_DONE) {
                checkpoints_done(&c);
                return store_error(s, err, "reading the audit trail");
        }

        if (walk_ok) {
                int64_t head_seq = -1;
                char head_hash[DIGEST_HEX_MAX] = "";

                if (store_prepare(s, head_sql, &st) < 0) {
                        checkpoints_done(&c);
                        return store_error(s, err, "reading the audit head");
                }
                if (sqlite3_step(st) == SQLITE_ROW) {
                        head_seq = sqlite3_column_int64(st, 0);
                        copy_col(st, 1, head_hash, sizeof(head_hash));
                }
                sqlite3_reset(st);
                if (head_seq < 0 && n > 0)
                        problem_set(&p, n, 0, 0, "head-missing",
                                    "the head row is missing: the chain ends at record %" PRId64
                                    ", but nothing confirms the trail ends there (newer records may "
                                    "have been cut off with it)",
                                    n);
                else if (head_seq > n)
                        problem_set(&p, n + 1, head_seq, 0, "deleted",
                                    "the chain ends at record %" PRId64 " but the head names record %" PRId64
                                    ": records %" PRId64 "..%" PRId64 " were deleted",
                                    n, head_seq, n + 1, head_seq);
                else if (head_seq >= 0 && head_seq < n)
                        problem_set(&p, head_seq + 1, n, 0, "beyond-head",
                                    "records %" PRId64 "..%" PRId64 " lie beyond the head (record %" PRId64
                                    "): they were added without the daemon",
                                    head_seq + 1, n, head_seq);
                else if (head_seq == n && n > 0 && !streq(head_hash, prev))
                        problem_set(&p, n, 0, 0, "edited",
                                    "the head names record %" PRId64 " with another hash", n);

                if (signed_seq > n) {
                        const Checkpoint *cut = NULL;
                        for (size_t i = 0; i < n_trusted; i++)
                                if (by_seq[i]->seq == signed_seq)
                                        cut = by_seq[i];
                        problem_set(&p, n + 1, signed_seq, cut ? cut->id : 0, "deleted",
                                    "records %" PRId64 "..%" PRId64 " were cut off: checkpoint #%" PRId64
                                    " (%s) signs record %" PRId64 ", the trail ends at record %" PRId64,
                                    n + 1, signed_seq, cut ? cut->id : 0, cut ? cut->at : "?", signed_seq, n);
                }
                if (last && n >= last->seq + last->every && last->every > 0)
                        problem_set(&p, last->seq + last->every, n, last->id, "unsigned-tail",
                                    "records %" PRId64 "..%" PRId64
                                    " carry no checkpoint, though one is signed "
                                    "every %" PRId64 " records and the newest, #%" PRId64
                                    ", signs record %" PRId64
                                    ": newer checkpoints were deleted, or records added without the daemon",
                                    last->seq + 1, n, last->every, last->id, last->seq);
                if (o->anchor && o->anchor->seq > n)
                        problem_set(&p, n + 1, o->anchor->seq, 0, "deleted",
                                    "the chain ends at record %" PRId64
                                    " but the anchor names record %" PRId64 ": records were cut off its end",
                                    n, o->anchor->seq);
        }

        AuditVerifyResult out = { .ok = !p.kind,
                                  .records = n,
                                  .head_seq = expect_seq - 1,
                                  .checkpoints = (int64_t)c.n,
                                  .signed_seq = signed_seq,
                                  .signatures = c.n == 0         ? AUDIT_SIGNATURES_NONE
                                                : o->n_keys == 0 ? AUDIT_SIGNATURES_NOT_CHECKED
                                                                 : AUDIT_SIGNATURES_VERIFIED };
        checkpoints_done(&c);
        snprintf(out.head, sizeof(out.head), "%s", prev);
        if (p.kind) {
                out.first_bad = (AuditProblem){ .problem = p.kind,
                                                .seq = p.seq,
                                                .through = p.through > p.seq ? p.through : 0,
                                                .checkpoint = p.checkpoint > 0 ? p.checkpoint : 0 };
                snprintf(out.first_bad.message, sizeof(out.first_bad.message), "%s", p.message);
        }
        *ret = out;
        return 0;
}

json_t *audit_verify_result_to_json(const AuditVerifyResult *v) {
        const AuditProblem *bad = &v->first_bad;
        json_t *o =
                json_pack("{s:b, s:I, s:s, s:I, s:I, s:s, s:I}", "ok", v->ok, "records",
                          (json_int_t)v->records, "head", v->head, "head_seq", (json_int_t)v->head_seq,
                          "checkpoints", (json_int_t)v->checkpoints, "signatures",
                          audit_signatures_to_string(v->signatures), "signed_seq", (json_int_t)v->signed_seq);
        json_t *b;
        int r = 0;

        if (!o)
                return NULL;
        if (bad->problem) {
                b = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)bad->seq, "problem", bad->problem,
                              "message", bad->message);
                r = json_object_set_new(o, "first_bad", b);
                if (r >= 0 && bad->through)
                        r = json_object_set_new(b, "through", json_integer(bad->through));
                if (r >= 0 && bad->checkpoint)
                        r = json_object_set_new(b, "checkpoint", json_integer(bad->checkpoint));
        }
        if (r >= 0 && v->has_state)
                r = json_object_set_new(o, "audit", json_string(audit_state_to_string(v->state)));
        if (r < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}
