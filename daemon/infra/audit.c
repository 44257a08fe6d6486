/* SPDX-License-Identifier: Apache-2.0 */
#include "audit.h"
#include "audit-internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "digest.h"
#include "log.h"

/* The hashed content: every column but the hashes, in a fixed order, as a
 * JSON array (unambiguous, unlike plain concatenation). */
char *audit_record_content(int64_t seq, const char *at, const char *principal, const char *face,
                           const char *action, const char *object, const char *outcome, const char *codes,
                           const char *detail) {
        json_t *a = json_pack("[I, s, s, s, s, s, s, s, s]", (json_int_t)seq, at, principal, face, action,
                              object, outcome, codes, detail);
        char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        return s;
}

struct AuditTrail {
        Store *store;
        SigKey *key;
        unsigned every;
        AuditState state;
        int64_t signed_seq;  /* the record the newest committed checkpoint signs */
        int64_t pending_seq; /* signed in a transaction not yet committed, 0 when none */
        char failure[480];
        /* The head this connection (store) last wrote, so that an append
         * need not read it back: good while store_epoch() is head_epoch
         * (a rollback, a failed commit or raw SQL may have undone or
         * changed it; then it is read again). Only the trail's own store
         * appends on the loop; other connections never move the head. */
        bool head_known;
        uint64_t head_epoch;
        int64_t head_seq;
        char head_hash[DIGEST_HEX_MAX];
};

static const char *const audit_state_table[_AUDIT_STATE_MAX] = {
        [AUDIT_STATE_SIGNED] = "signed",
        [AUDIT_STATE_UNSIGNED] = "unsigned",
        [AUDIT_STATE_FAILED] = "failed",
};

const char *audit_state_to_string(AuditState s) {
        return s >= 0 && s < _AUDIT_STATE_MAX ? audit_state_table[s] : NULL;
}

static const char *const audit_signatures_table[_AUDIT_SIGNATURES_MAX] = {
        [AUDIT_SIGNATURES_NONE] = "none",
        [AUDIT_SIGNATURES_NOT_CHECKED] = "not checked",
        [AUDIT_SIGNATURES_VERIFIED] = "verified",
};

const char *audit_signatures_to_string(AuditSignatures s) {
        return s >= 0 && s < _AUDIT_SIGNATURES_MAX ? audit_signatures_table[s] : NULL;
}

static int audit_gate(Store *s, CbError *err) {
        AuditTrail *t = store_audit(s);
        if (t && t->state == AUDIT_STATE_FAILED)
                return cb_error_set(err, CB_ERR_UNAVAILABLE,
                                    "changes are refused: the audit trail failed its check at start (%s); "
                                    "reads still work, see GET /v1/health",
                                    t->failure);
        return 0;
}

static int checkpoint_insert(Store *s, AuditTrail *t, int64_t seq, const char *hash, const char *reason,
                             int64_t *ret_id, CbError *err);
static int read_head(Store *s, int64_t *ret_seq, char ret_hash[DIGEST_HEX_MAX]);

static void on_checkpoint_committed(void *userdata, int result) {
        AuditTrail *t = userdata;
        if (result >= 0 && t->pending_seq > t->signed_seq)
                t->signed_seq = t->pending_seq;
        t->pending_seq = 0;
}

/* Runs inside audit_append's transaction: the checkpoint commits with the
 * record it signs or not at all. */
static int checkpoint_if_due(Store *s, int64_t seq, const char *hash, CbError *err) {
        AuditTrail *t = store_audit(s);
        int64_t last;
        int r;

        if (!t || !t->key || t->state != AUDIT_STATE_SIGNED)
                return 0;
        last = t->pending_seq > t->signed_seq ? t->pending_seq : t->signed_seq;
        if (seq - last < (int64_t)t->every)
                return 0;
        r = checkpoint_insert(s, t, seq, hash, "count", NULL, err);
        if (r < 0)
                return r;
        t->pending_seq = seq;
        return store_defer(s, on_checkpoint_committed, t);
}

int audit_record_hash(const char *prev, const char *content, char ret[DIGEST_HEX_MAX]) {
        _cleanup_(freep) char *buf = NULL;
        if (asprintf(&buf, "%s\n%s", prev, content) < 0)
                return -ENOMEM;
        return digest_sm3_hex(buf, strlen(buf), ret);
}

static int append_in_tx(Store *s, const CbCaller *caller, const AuditEntry *e, CbError *err);

/* The change and its record share one transaction level: a savepoint of the
 * record's own would only double the pages SQLite journals for it, as a
 * failure of either rolls both back. */
int audit_change(Store *s, const CbCaller *caller, const AuditEntry *entry, AuditChangeFn change,
                 void *userdata, CbError *err) {
        /* Refused before the change runs, not only when its record is. */
        int r = audit_gate(s, err);

        if (r < 0)
                return r;
        if (store_begin(s) < 0)
                return store_error(s, err, "starting a transaction");
        r = change(s, userdata, err);
        if (r >= 0)
                r = append_in_tx(s, caller, entry, err);
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

/* The record, in the transaction the caller holds: a failure leaves it to
 * the caller to roll back (its change goes with it). */
static int append_in_tx(Store *s, const CbCaller *caller, const AuditEntry *e, CbError *err) {
        static const char ins_sql[] =
                "INSERT INTO audit (seq, at, principal, face, action, object, outcome, "
                "codes, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
        static const char head_sql[] =
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) "
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
        _cleanup_(freep) char *codes = NULL, *detail = NULL, *content = NULL;
        char prev[DIGEST_HEX_MAX] = AUDIT_GENESIS, hash[DIGEST_HEX_MAX], now[32];
        const char *principal = caller && caller->principal ? caller->principal->name : "system";
        const char *face = caller && caller->face ? caller->face : "system";
        AuditTrail *t;
        int64_t seq;
        int r;

        codes = e->codes ? json_dumps(e->codes, JSON_COMPACT) : strdup("[]");
        detail = e->detail ? json_dumps(e->detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
        if (!codes || !detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        t = store_audit(s);
        if (t && t->store != s)
                t = NULL;
        if (t && t->head_known && t->head_epoch == store_epoch(s)) {
                seq = t->head_seq;
                memcpy(prev, t->head_hash, sizeof(prev));
        } else {
                r = read_head(s, &seq, prev);
                if (r < 0)
                        return store_error(s, err, "appending an audit record");
        }
        seq++;

        store_now(now);
        content = audit_record_content(seq, now, principal, face, e->action, e->object, e->outcome, codes,
                                       detail);
        if (!content || audit_record_hash(prev, content, hash) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot hash an audit record");
        r = store_run(s, ins_sql,
                      STORE_ARGS(SA_INT(seq), SA_TEXT(now), SA_TEXT(principal), SA_TEXT(face),
                                 SA_TEXT(e->action), SA_TEXT(e->object), SA_TEXT(e->outcome), SA_TEXT(codes),
                                 SA_TEXT(detail), SA_TEXT(prev), SA_TEXT(hash)),
                      "appending an audit record", err);
        /* The head makes the deletion of the newest records detectable too. */
        if (r >= 0)
                r = store_run(s, head_sql, STORE_ARGS(SA_INT(seq), SA_TEXT(hash)), "moving the audit head",
                              err);
        if (r >= 0 && t) {
                t->head_known = true;
                t->head_epoch = store_epoch(s);
                t->head_seq = seq;
                memcpy(t->head_hash, hash, sizeof(t->head_hash));
        }
        if (r >= 0)
                r = checkpoint_if_due(s, seq, hash, err);
        return r;
}

int audit_append(Store *s, const CbCaller *caller, const AuditEntry *e, CbError *err) {
        int r = audit_gate(s, err);

        if (r < 0)
                return r;
        r = store_begin(s);
        if (r < 0)
                return store_error(s, err, "starting an audit transaction");
        r = append_in_tx(s, caller, e, err);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (store_commit(s) < 0)
                return store_error(s, err, "committing an audit record");
        return 0;
}

void audit_refusal(Store *s, const CbCaller *caller, const char *action, const char *object,
                   const char *outcome, json_t *codes) {
        CbError err = CB_ERROR_INIT;
        if (audit_append(s, caller, &(AuditEntry){ action, object, outcome, codes, NULL }, &err) < 0)
                log_warning("cannot record a refused %s on %s: %s", action, object, err.message);
        cb_error_clear(&err);
}

/* A field the database holds as invalid UTF-8 (an edit) is shown with
 * U+FFFD in place of each bad byte, so the record is listed, not dropped.
 * NULL: out of memory. */
static char *text_fixed(const char *s) {
        char *fixed;
        size_t n = 0;

        if (!s)
                return strdup("");
        if (audit_utf8_valid((const unsigned char *)s))
                return strdup(s);
        fixed = malloc(strlen(s) * 3 + 1);
        if (!fixed)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                char one[5] = { (char)*p, 0 };
                size_t len = 1;
                /* The longest valid sequence starting here. */
                for (size_t l = 4; l > 1; l--) {
                        size_t k;
                        for (k = 0; k < l && p[k]; k++)
                                one[k] = (char)p[k];
                        one[k] = 0;
                        if (k == l && audit_utf8_valid((const unsigned char *)one)) {
                                len = l;
                                break;
                        }
                }
                if (len == 1 && *p >= 0x80)
                        memcpy(fixed + n, "\xef\xbf\xbd", 3), n += 3;
                else
                        memcpy(fixed + n, p, len), n += len;
                p += len - 1;
        }
        fixed[n] = 0;
        return fixed;
}

static void audit_record_clear(AuditRecord *rec) {
        free(rec->at);
        free(rec->principal);
        free(rec->face);
        free(rec->action);
        free(rec->object);
        free(rec->outcome);
        json_decref(rec->codes);
        json_decref(rec->detail);
        free(rec->prev_hash);
        free(rec->hash);
        *rec = (AuditRecord){ 0 };
}

void audit_list_done(AuditList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                audit_record_clear(&l->v[i]);
        free(l->v);
        *l = (AuditList){ 0 };
}

static int row_record(StoreRows *rows, AuditRecord *ret) {
        AuditRecord rec = { .seq = store_rows_int(rows, 0) };
        char **texts[] = { &rec.at, &rec.principal, &rec.face, &rec.action, &rec.object, &rec.outcome };
        bool ok = true;

        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                if (!(*texts[i] = text_fixed(store_rows_text(rows, (int)i + 1))))
                        ok = false;
        rec.codes = json_loads(store_rows_text(rows, 7) ?: "", 0, NULL);
        if (!rec.codes)
                rec.codes = json_array();
        rec.detail = json_loads(store_rows_text(rows, 8) ?: "", 0, NULL);
        if (!rec.detail)
                rec.detail = json_object();
        rec.prev_hash = text_fixed(store_rows_text(rows, 9));
        rec.hash = text_fixed(store_rows_text(rows, 10));
        if (!ok || !rec.codes || !rec.detail || !rec.prev_hash || !rec.hash) {
                audit_record_clear(&rec);
                return -ENOMEM;
        }
        *ret = rec;
        return 0;
}

int audit_list(Store *s, const CbCaller *caller, int64_t after, unsigned limit, AuditList *ret,
               CbError *err) {
        static const char sql[] = "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(audit_list_done) AuditList l = { 0 };
        int r;

        r = caller_require_role(caller, AUDIT_READERS, "read the audit trail", err);
        if (r < 0)
                return r;
        if (after < 0)
                return cb_error_set_field(err, CB_ERR_INVALID, "after",
                                          "after: must be 0 or a sequence number");
        if (limit < 1 || limit > AUDIT_LIST_MAX)
                return cb_error_set_field(err, CB_ERR_INVALID, "limit", "limit: must be 1..%u",
                                          AUDIT_LIST_MAX);
        r = store_query(s, sql, STORE_ARGS(SA_INT(after), SA_INT(limit)), &rows, "reading the audit trail",
                        err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                AuditRecord *v = reallocarray(l.v, l.n + 1, sizeof(*l.v));
                if (!v || row_record(rows, &(v[l.n])) < 0) {
                        if (v)
                                l.v = v;
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                l.v = v;
                l.n++;
        }
        if (r < 0)
                return r;
        *ret = l;
        l = (AuditList){ 0 };
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
        if (n != strlen(AUDIT_GENESIS) || strspn(colon + 1, "0123456789abcdef") != n)
                return -EINVAL;
        memcpy(a.hash, colon + 1, n + 1);
        *ret = a;
        return 0;
}

int audit_head_anchor(Store *s, AuditAnchor *ret) {
        static const char sql[] = "SELECT seq, hash FROM audit_head WHERE id = 1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        AuditAnchor a = { 0 };
        int r;

        r = store_query(s, sql, NULL, &rows, "reading the audit head", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r > 0 && store_rows_int(rows, 0) > 0 && store_rows_text(rows, 1)) {
                a.seq = store_rows_int(rows, 0);
                snprintf(a.hash, sizeof(a.hash), "%s", store_rows_text(rows, 1));
        }
        if (a.seq == 0)
                return -ENOENT;
        *ret = a;
        return 0;
}

bool audit_log_anchor(Store *s, const char *when, int64_t *last_seq) {
        AuditAnchor a;
        /* The journal's copy must never name a record a power loss can undo. */
        if (store_sync(s) < 0)
                return false;
        if (audit_head_anchor(s, &a) < 0 || a.seq == *last_seq)
                return false;
        log_info("audit anchor %" PRId64 ":%s (%s)", a.seq, a.hash, when);
        *last_seq = a.seq;
        return true;
}

/* ---- checkpoints ---- */

bool audit_utf8_valid(const unsigned char *p) {
        while (*p) {
                unsigned c = *p, n, min;
                uint32_t cp;
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, min = 0x80, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, min = 0x800, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, min = 0x10000, cp = c & 0x07;
                else
                        return false;
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

/* Text copied from the database into a message may be anything. */
void audit_ascii_if_invalid(char *s) {
        if (audit_utf8_valid((const unsigned char *)s))
                return;
        for (; *s; s++)
                if ((unsigned char)*s >= 0x80)
                        *s = '?';
}

char *audit_checkpoint_statement(int64_t id, int64_t seq, const char *hash, const char *at, int64_t every) {
        char *s = NULL;
        if (asprintf(&s,
                     "cloudbroker audit checkpoint v1\nid=%" PRId64 "\nseq=%" PRId64
                     "\nhash=%s\nat=%s\nevery=%" PRId64 "\n",
                     id, seq, hash, at, every) < 0)
                return NULL;
        return s;
}

static void on_anchor_durable(void *userdata, int result) {
        _cleanup_(freep) char *anchor = userdata;
        if (result >= 0)
                log_info("%s", anchor);
}

static int checkpoint_insert(Store *s, AuditTrail *t, int64_t seq, const char *hash, const char *reason,
                             int64_t *ret_id, CbError *err) {
        static const char id_sql[] = "SELECT coalesce(max(id), 0) + 1 FROM audit_checkpoints";
        static const char ins_sql[] = "INSERT INTO audit_checkpoints (id, seq, hash, at, every, reason, alg, "
                                      "key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        _cleanup_(freep) char *statement = NULL, *sig = NULL, *anchor = NULL;
        int64_t id = 0;
        char now[32];
        int r;

        r = store_query_int(s, id_sql, NULL, &id, "numbering an audit checkpoint", err);
        if (r < 0)
                return r;
        if (id < 1)
                return store_error(s, err, "numbering an audit checkpoint");
        store_now(now);
        statement = audit_checkpoint_statement(id, seq, hash, now, t->every);
        if (!statement)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = sig_key_sign(t->key, statement, strlen(statement), &sig);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot sign an audit checkpoint (%s): %s",
                                    sig_key_alg(t->key), strerror(-r));
        r = store_run(s, ins_sql,
                      STORE_ARGS(SA_INT(id), SA_INT(seq), SA_TEXT(hash), SA_TEXT(now), SA_INT(t->every),
                                 SA_TEXT(reason), SA_TEXT(sig_key_alg(t->key)), SA_TEXT(sig_key_id(t->key)),
                                 SA_TEXT(sig)),
                      "storing an audit checkpoint", err);
        if (r < 0)
                return r;
        /* The journal keeps a copy the database's owner cannot rewrite:
         * logged once the checkpoint is on disk (store_defer: after the
         * outermost commit, fdatasync'd even when it was relaxed), never
         * for one a rollback or a power cut takes back, which a later
         * verification against the journal would report as a deletion. */
        if (asprintf(&anchor,
                     "audit checkpoint #%" PRId64 " anchor %" PRId64 ":%s at %s (%s; %s key %.16s; "
                     "every %u) signature %s",
                     id, seq, hash, now, reason, sig_key_alg(t->key), sig_key_id(t->key), t->every, sig) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_defer(s, on_anchor_durable, anchor);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue an audit anchor: %s", strerror(-r));
        TAKE_PTR(anchor);
        if (ret_id)
                *ret_id = id;
        return 0;
}

static int read_head(Store *s, int64_t *ret_seq, char ret_hash[DIGEST_HEX_MAX]) {
        AuditAnchor a;
        int r = audit_head_anchor(s, &a);
        if (r == -ENOENT) {
                *ret_seq = 0;
                snprintf(ret_hash, DIGEST_HEX_MAX, "%s", AUDIT_GENESIS);
                return 0;
        }
        if (r < 0)
                return r;
        *ret_seq = a.seq;
        snprintf(ret_hash, DIGEST_HEX_MAX, "%s", a.hash);
        return 0;
}

int audit_checkpoint(Store *s, const char *reason, bool only_if_moved, CbError *err) {
        AuditTrail *t = store_audit(s);
        char hash[DIGEST_HEX_MAX];
        int64_t seq;
        int r;

        if (!t || !t->key || t->state != AUDIT_STATE_SIGNED)
                return 0;
        if (read_head(s, &seq, hash) < 0)
                return store_error(s, err, "reading the audit head");
        if (only_if_moved && seq == t->signed_seq)
                return 0;
        r = store_begin(s);
        if (r < 0)
                return store_error(s, err, "starting a checkpoint transaction");
        r = checkpoint_insert(s, t, seq, hash, reason, NULL, err);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (store_commit(s) < 0)
                return store_error(s, err, "committing an audit checkpoint");
        t->signed_seq = seq;
        return 1;
}

/* ---- the trail's state ---- */

int audit_trail_new(Store *s, SigKey *key, unsigned every, AuditTrail **ret) {
        AuditTrail *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->store = s;
        t->key = key;
        t->every = every > 0 ? every : 1000;
        t->state = key ? AUDIT_STATE_SIGNED : AUDIT_STATE_UNSIGNED;
        store_set_audit(s, t);
        *ret = t;
        return 0;
}

AuditTrail *audit_trail_free(AuditTrail *t) {
        if (!t)
                return NULL;
        if (store_audit(t->store) == t)
                store_set_audit(t->store, NULL);
        sig_key_free(t->key);
        free(t);
        return NULL;
}

AuditState audit_trail_state(const AuditTrail *t) {
        return t ? t->state : AUDIT_STATE_UNSIGNED;
}

const char *audit_trail_failure(const AuditTrail *t) {
        return t && t->state == AUDIT_STATE_FAILED ? t->failure : "";
}

const SigKey *audit_trail_key(const AuditTrail *t) {
        return t ? t->key : NULL;
}

static int count_checkpoints(Store *s, int64_t *ret_n, int64_t *ret_last_seq) {
        static const char sql[] = "SELECT count(*), coalesce((SELECT seq FROM audit_checkpoints ORDER BY id "
                                  "DESC LIMIT 1), 0) FROM audit_checkpoints";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(s, sql, NULL, &rows, "reading the audit checkpoints", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r <= 0)
                return -EIO;
        *ret_n = store_rows_int(rows, 0);
        *ret_last_seq = store_rows_int(rows, 1);
        return 0;
}

int audit_trail_check(AuditTrail *t, CbError *err) {
        AuditVerifyResult v;
        const SigKey *keys[1] = { t->key };
        AuditVerifyOptions o = { .keys = keys, .n_keys = t->key ? 1 : 0 };
        int64_t n_checkpoints = 0, last_seq = 0;
        int r;

        if (count_checkpoints(t->store, &n_checkpoints, &last_seq) < 0)
                return store_error(t->store, err, "reading the audit checkpoints");
        /* With checkpoints, the newest vouches for the records before it
         * and only the stretch after it is hashed again. */
        o.from_last_checkpoint = t->key && n_checkpoints > 0;
        r = audit_verify(t->store, &o, &v, err);
        if (r < 0)
                return r;
        if (!v.ok) {
                t->state = AUDIT_STATE_FAILED;
                snprintf(t->failure, sizeof(t->failure), "record %" PRId64 ": %s: %s", v.first_bad.seq,
                         v.first_bad.problem, v.first_bad.message);
                audit_ascii_if_invalid(t->failure);
                log_error("AUDIT TRAIL FAILED its check at start: %s. Every change is refused until it is "
                          "restored; reads still work.",
                          t->failure);
                return 0;
        }
        if (!t->key) {
                log_warning("AUDIT TRAIL UNSIGNED: no checkpoint key (audit.checkpoint_key or the "
                            "checkpoint-key credential): anyone who can write the database can rewrite the "
                            "trail undetected. Development only.");
                return 0;
        }
        if (n_checkpoints == 0 && v.records > 0)
                log_info("audit trail: %" PRId64 " records verified once, signing their first checkpoint",
                         v.records);
        t->signed_seq = last_seq;
        r = audit_checkpoint(t->store, n_checkpoints == 0 ? "upgrade" : "start", false, err);
        return r < 0 ? r : 0;
}

int audit_trail_verify(AuditTrail *t, Store *s, const CbCaller *caller, const AuditAnchor *anchor,
                       AuditVerifyResult *ret, CbError *err) {
        const SigKey *key = t ? audit_trail_key(t) : NULL;
        AuditVerifyResult v;
        int r;

        r = caller_require_role(caller, AUDIT_READERS, "verify the audit trail", err);
        if (r < 0)
                return r;
        r = audit_verify(s, &(AuditVerifyOptions){ .anchor = anchor, .keys = &key, .n_keys = key ? 1 : 0 },
                         &v, err);
        if (r < 0)
                return r;
        if (t) {
                v.has_state = true;
                v.state = audit_trail_state(t);
        }
        *ret = v;
        return 0;
}
