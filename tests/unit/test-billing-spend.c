/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The budget's money (Art. 13, billing_project_spend()) on a temporary
 * store: random histories of state changes written as the daemon writes
 * them (resources rows whose updates fire the metering triggers), and after
 * every change the kept answer (billing_spend_cache, one row read) equals a
 * full re-rating of the project's history, to the fen; a change of another
 * project leaves this one's row alone; the row is what a later evaluation
 * reads (a planted row is returned as it is, so the answer really comes
 * from it); and the money is what rating_budget_spend() gives each
 * resource on its own. The plan's price is remembered beside its revision
 * (billing.c, PriceMemo): after random changes of resources and catalogue
 * revisions (drafts edited in place, published, resources moved between
 * revisions) the answer still equals the full re-rating, two stores keep
 * their own prices, and a rolled-back publication is not remembered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "billing.h"
#include "rating.h"
#include "store.h"

static char tmpdir[] = "/tmp/cbspend.XXXXXX";

#define TODAY "2026-06-15"
#define UNTIL "2026-12-31"
/* 2026-06-15 12:00 CST: the month of today, as "now". */
#define NOW_T 1781496000

static Store *open_store(const char *name) {
        char path[256];
        Store *s = NULL;
        CbError err = CB_ERROR_INIT;
        snprintf(path, sizeof(path), "%s/%s.db", tmpdir, name);
        assert_int_equal(store_open(path, &s, &err), 0);
        cb_error_clear(&err);
        return s;
}

static void exec(Store *s, const char *sql) {
        CbError err = CB_ERROR_INIT;
        if (store_exec(s, sql, &err) < 0)
                fail_msg("%s: %s", sql, err.message);
        cb_error_clear(&err);
}

static void setup_world(Store *s) {
        exec(s, "INSERT INTO services VALUES ('vm', 1, 'published', "
                "'{\"plans\":[{\"id\":\"small\",\"price\":{\"amount_fen\":35,\"unit\":\"hour\"}},"
                "{\"id\":\"big\",\"price\":{\"amount_fen\":1799,\"unit\":\"hour\"}}]}', "
                "'2026-01-01T00:00:00Z', 't', '2026-01-01T00:00:00Z', NULL);"
                "INSERT INTO services VALUES ('disk', 1, 'published', "
                "'{\"plans\":[{\"id\":\"ssd\",\"price\":{\"amount_fen\":3500,\"unit\":\"month\"}}]}', "
                "'2026-01-01T00:00:00Z', 't', '2026-01-01T00:00:00Z', NULL);"
                "INSERT INTO projects VALUES ('pa', 'a', 'edu', 'active', 1, '2026-01-01T00:00:00Z', "
                "'2026-01-01T00:00:00Z');"
                "INSERT INTO projects VALUES ('pb', 'b', 'edu', 'active', 1, '2026-01-01T00:00:00Z', "
                "'2026-01-01T00:00:00Z');");
}

static void spend(Store *s, const char *project, bool cached, BillingSpend *ret) {
        CbError err = CB_ERROR_INIT;
        int r = cached ? billing_project_spend(s, project, TODAY, UNTIL, NOW_T, ret, &err)
                       : billing_project_spend_uncached(s, project, TODAY, UNTIL, NOW_T, ret, &err);
        if (r < 0)
                fail_msg("spend %s: %s", project, err.message);
        cb_error_clear(&err);
}

static void assert_spend_equal(const BillingSpend *a, const BillingSpend *b) {
        for (int k = 0; k < 2; k++) {
                assert_int_equal(a->charged_fen[k], b->charged_fen[k]);
                assert_int_equal(a->committed_fen[k], b->committed_fen[k]);
        }
}

static int64_t cache_rows(Store *s, const char *project) {
        CbError err = CB_ERROR_INIT;
        int64_t n = -1;
        assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM billing_spend_cache WHERE project_id = ?1",
                                         STORE_ARGS(SA_TEXT(project)), &n, "counting", &err),
                         0);
        return n;
}

static void format_utc(int64_t t, char buf[32]) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *const states[] = { "active",  "stopped", "active", "failed",
                                      "stopped", "active",  "active", "deleted" };

/* Property: after every random change, kept == re-rated. */
static void test_cache_equals_rerating(void **state) {
        Store *s = open_store("random");
        unsigned seed = 20260615;
        int64_t t = 1767196800; /* 2026-01-01 00:00 CST */
        char ids[24][20];
        bool gone[24] = { false };
        int n = 0, checks = 0;
        (void)state;

        setup_world(s);
        for (int step = 0; step < 3000 && checks < 300 && t < NOW_T - 86400 * 2; step++) {
                char at[32], sql[768];
                BillingSpend kept, full, other_before, other_after;
                int pick = rand_r(&seed) % 24;
                bool in_b = pick % 3 == 2;
                const char *project = in_b ? "pb" : "pa";

                t += (int64_t)(rand_r(&seed) % 20000);
                format_utc(t, at);
                if (pick >= n && n < 24) {
                        /* A new resource: a VM of either plan, or a disk, in either kind. */
                        int what = rand_r(&seed) % 3;
                        snprintf(ids[n], sizeof(ids[n]), "r-%016x", n + 1);
                        snprintf(sql, sizeof(sql),
                                 "INSERT INTO resources (id, name, project_id, system_id, department, "
                                 "service_id, "
                                 "plan_id, catalog_revision, approval_no, cost_kind, committed_fen, state, "
                                 "created_at, created_by, updated_at, kind) VALUES ('%s', 'n', '%s', 'sys', "
                                 "'edu', "
                                 "'%s', '%s', 1, 'A', '%s', 0, 'active', '%s', 't', '%s', '%s')",
                                 ids[n], (n % 3 == 2) ? "pb" : "pa", what == 2 ? "disk" : "vm",
                                 what == 0   ? "small"
                                 : what == 1 ? "big"
                                             : "ssd",
                                 rand_r(&seed) % 2 ? "om" : "construction", at, at,
                                 what == 2 ? "volume" : "vm");
                        project = (n % 3 == 2) ? "pb" : "pa";
                        n++;
                } else {
                        int i = pick % (n ? n : 1);
                        if (n == 0 || gone[i])
                                continue;
                        const char *st = states[rand_r(&seed) % ELEMENTSOF(states)];
                        gone[i] = streq(st, "deleted");
                        project = (i % 3 == 2) ? "pb" : "pa";
                        snprintf(sql, sizeof(sql),
                                 "UPDATE resources SET state = '%s', updated_at = '%s' WHERE id = '%s'", st,
                                 at, ids[i]);
                }
                const char *other = streq(project, "pa") ? "pb" : "pa";
                /* Both kept before the change. */
                spend(s, "pa", true, &kept);
                spend(s, "pb", true, &kept);
                assert_int_equal(cache_rows(s, "pa"), 1);
                spend(s, other, true, &other_before);
                exec(s, sql);
                /* The change dropped its project's row only when it wrote a segment. */
                spend(s, project, true, &kept);
                spend(s, project, false, &full);
                assert_spend_equal(&kept, &full);
                spend(s, other, true, &other_after);
                assert_spend_equal(&other_before, &other_after);
                spend(s, other, false, &full);
                assert_spend_equal(&other_after, &full);
                checks++;
        }
        print_message("# %d changes checked\n", checks);
        assert_true(checks > 100);
        assert_true(n == 24);
        store_free(s);
}

/* The kept row is what is read: planted figures come back as they are, until a
 * segment of the project is written. */
static void test_cache_is_read(void **state) {
        Store *s = open_store("planted");
        BillingSpend got, full;
        (void)state;

        setup_world(s);
        exec(s, "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, state, created_at, created_by, "
                "updated_at, "
                "kind) VALUES ('r-1', 'n', 'pa', 'sys', 'edu', 'vm', 'small', 1, 'A', 'construction', 0, "
                "'active', "
                "'2026-06-01T16:00:00Z', 't', '2026-06-01T16:00:00Z', 'vm')");
        spend(s, "pa", true, &got);
        /* 2 June 00:00 CST to 15 June 00:00 CST: 13 days at 35 fen/hour; then 15 June .. 31 Dec. */
        assert_int_equal(got.charged_fen[0], 35 * 24 * 13);
        assert_int_equal(got.committed_fen[0], 35 * 24 * 200);
        assert_int_equal(got.charged_fen[1] + got.committed_fen[1], 0);
        /* The resource on its own gives the same. */
        {
                RatingSegment seg = { .active = true };
                int64_t c, m;
                assert_int_equal(rating_parse_time("2026-06-01T16:00:00Z", &seg.start), 0);
                assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 35, &seg, 1, TODAY, UNTIL, &c, &m), 0);
                assert_int_equal(c, got.charged_fen[0]);
                assert_int_equal(m, got.committed_fen[0]);
        }
        exec(s, "UPDATE billing_spend_cache SET charged_construction_fen = 7 WHERE project_id = 'pa'");
        spend(s, "pa", true, &got);
        assert_int_equal(got.charged_fen[0], 7);
        /* Another day, or another approval end, is not the kept row. */
        {
                CbError err = CB_ERROR_INIT;
                assert_int_equal(billing_project_spend(s, "pa", TODAY, "2026-12-30", NOW_T, &got, &err), 0);
                assert_int_equal(got.committed_fen[0], 35 * 24 * 199);
                exec(s,
                     "UPDATE billing_spend_cache SET charged_construction_fen = 7 WHERE project_id = 'pa'");
        }
        /* A change of the resource's plan (what a resize writes) drops it. */
        exec(s, "UPDATE resources SET plan_id = 'big', updated_at = '2026-06-10T16:00:00Z' WHERE id = 'r-1'");
        spend(s, "pa", true, &got);
        spend(s, "pa", false, &full);
        assert_spend_equal(&got, &full);
        /* 2 .. 11 June on the small plan, 11 .. 15 June on the big one; from
         * today only the big plan commits (the small one ended at the resize). */
        assert_int_equal(got.charged_fen[0], 35 * 24 * 9 + 1799 * 24 * 4);
        assert_int_equal(got.committed_fen[0], 1799 * 24 * 200);
        /* Deleting the resource's row (never done by the daemon) drops it too. */
        exec(s, "UPDATE billing_spend_cache SET charged_construction_fen = 7 WHERE project_id = 'pa'");
        exec(s,
             "DELETE FROM usage_segments WHERE resource_id = 'r-1'; DELETE FROM resources WHERE id = 'r-1'");
        assert_int_equal(cache_rows(s, "pa"), 0);
        spend(s, "pa", true, &got);
        assert_int_equal(got.charged_fen[0] + got.committed_fen[0], 0);
        store_free(s);
}

static void spend_on(Store *s, const char *project, const char *today, int64_t now, bool cached,
                     BillingSpend *ret) {
        CbError err = CB_ERROR_INIT;
        int r = cached ? billing_project_spend(s, project, today, UNTIL, now, ret, &err)
                       : billing_project_spend_uncached(s, project, today, UNTIL, now, ret, &err);
        if (r < 0)
                fail_msg("spend %s on %s: %s", project, today, err.message);
        cb_error_clear(&err);
}

static void add_resource(Store *s, int i, const char *at) {
        char sql[768];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                 "catalog_revision, approval_no, cost_kind, committed_fen, state, created_at, created_by, "
                 "updated_at, kind) VALUES ('b-%04d', 'n', 'pa', 'sys', 'edu', '%s', '%s', 1, 'A', '%s', 0, "
                 "'%s', '%s', 't', '%s', '%s')",
                 i, i % 3 == 2 ? "disk" : "vm",
                 i % 3 == 0   ? "small"
                 : i % 3 == 1 ? "big"
                              : "ssd",
                 i % 2 ? "om" : "construction", i % 5 == 4 ? "provisioning" : "active", at, at,
                 i % 3 == 2 ? "volume" : "vm");
        exec(s, sql);
}

/* A burst of orders today (as provisioning writes them) keeps the row: what
 * was charged before today does not move, and the committed part follows the
 * new resources; a day's roll-over rates again, and a backdated segment or a
 * deleted one drops the row. Each answer equals the full re-rating. */
static void test_burst_rollover_backdated(void **state) {
        Store *s = open_store("burst");
        BillingSpend kept, full, before;
        char at[32], sql[256];
        /* 15 June 00:00 CST, as UTC seconds. */
        const int64_t day = NOW_T - 12 * 3600;
        int64_t t;
        (void)state;

        setup_world(s);
        for (int i = 0; i < 6; i++) {
                format_utc(day - 86400 * (10 + 3 * i), at);
                add_resource(s, i, at);
        }
        spend(s, "pa", true, &before);
        spend(s, "pa", false, &full);
        assert_spend_equal(&before, &full);
        assert_true(before.charged_fen[0] > 0 && before.charged_fen[1] > 0);
        /* The burst: new resources and state changes of old ones, all today. */
        t = day;
        for (int i = 6; i < 66; i++) {
                t += 500;
                format_utc(t, at);
                if (i % 4 == 3) {
                        snprintf(sql, sizeof(sql),
                                 "UPDATE resources SET state = '%s', updated_at = '%s' WHERE id = 'b-%04d'",
                                 i % 8 == 3 ? "stopped" : "active", at, i % 6);
                        exec(s, sql);
                } else
                        add_resource(s, i, at);
                assert_int_equal(cache_rows(s, "pa"), 1);
                spend(s, "pa", true, &kept);
                spend(s, "pa", false, &full);
                assert_spend_equal(&kept, &full);
                assert_int_equal(kept.charged_fen[0], before.charged_fen[0]);
                assert_int_equal(kept.charged_fen[1], before.charged_fen[1]);
        }
        assert_true(kept.committed_fen[0] > before.committed_fen[0]);
        /* Deleting today: the resource stops committing, the past stays. */
        format_utc(t + 60, at);
        snprintf(sql, sizeof(sql),
                 "UPDATE resources SET state = 'deleted', updated_at = '%s' WHERE id = 'b-0006'", at);
        exec(s, sql);
        assert_int_equal(cache_rows(s, "pa"), 1);
        spend(s, "pa", true, &kept);
        spend(s, "pa", false, &full);
        assert_spend_equal(&kept, &full);
        /* The next day: today's usage is now in the past. */
        spend_on(s, "pa", "2026-06-16", NOW_T + 86400, true, &kept);
        spend_on(s, "pa", "2026-06-16", NOW_T + 86400, false, &full);
        assert_spend_equal(&kept, &full);
        assert_true(kept.charged_fen[0] > before.charged_fen[0]);
        {
                CbError err = CB_ERROR_INIT;
                assert_int_equal(store_query_int(s,
                                                 "SELECT COUNT(*) FROM billing_spend_cache WHERE today = ?1",
                                                 STORE_ARGS(SA_TEXT("2026-06-16")), &t, "counting", &err),
                                 0);
                assert_int_equal(t, 1);
        }
        /* A segment written on the 15th is backdated for the 16th's row. */
        format_utc(day + 3600 * 5, at);
        add_resource(s, 100, at);
        assert_int_equal(cache_rows(s, "pa"), 0);
        spend_on(s, "pa", "2026-06-16", NOW_T + 86400, true, &kept);
        spend_on(s, "pa", "2026-06-16", NOW_T + 86400, false, &full);
        assert_spend_equal(&kept, &full);
        /* Back on the 15th: a resource created on 1 June is backdated too. */
        spend(s, "pa", true, &kept);
        assert_int_equal(cache_rows(s, "pa"), 1);
        add_resource(s, 101, "2026-06-01T02:00:00Z");
        assert_int_equal(cache_rows(s, "pa"), 0);
        spend(s, "pa", true, &kept);
        spend(s, "pa", false, &full);
        assert_spend_equal(&kept, &full);
        assert_true(kept.charged_fen[0] + kept.charged_fen[1] >
                    before.charged_fen[0] + before.charged_fen[1]);
        /* A deleted segment (never done by the daemon) drops it as well. */
        exec(s, "DELETE FROM usage_segments WHERE resource_id = 'b-0001' AND seq = 1");
        assert_int_equal(cache_rows(s, "pa"), 0);
        spend(s, "pa", true, &kept);
        spend(s, "pa", false, &full);
        assert_spend_equal(&kept, &full);
        store_free(s);
}

static void vm_revision(Store *s, int revision, const char *status, int small_fen) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO services VALUES ('vm', %d, '%s', "
                 "'{\"plans\":[{\"id\":\"small\",\"price\":{\"amount_fen\":%d,\"unit\":\"hour\"}},"
                 "{\"id\":\"big\",\"price\":{\"amount_fen\":1799,\"unit\":\"hour\"}}]}', "
                 "'2026-01-01T00:00:00Z', 't', '2026-01-01T00:00:00Z', NULL)",
                 revision, status, small_fen);
        exec(s, sql);
}

/* Property: the price memo (a revision that can no longer change is not
 * read again) equals a full re-rating after random changes of the
 * resources and of the catalogue: resources on published and on draft
 * revisions, drafts edited in place (another price, same revision),
 * submitted, published, and resources moved to another revision. */
static void test_price_memo_equals_rerating(void **state) {
        Store *s = open_store("memo");
        unsigned seed = 7;
        int64_t t = 1767196800; /* 2026-01-01 00:00 CST */
        int n = 0, checks = 0, edits = 0, draft = 2, draft_status = 0;
        (void)state;

        setup_world(s);
        vm_revision(s, 2, "draft", 40);
        for (int step = 0; step < 400; step++) {
                char at[32], sql[768];
                BillingSpend kept, full;
                int what = rand_r(&seed) % 6;

                t += (int64_t)(rand_r(&seed) % 20000);
                format_utc(t, at);
                if (what <= 1 || n == 0) {
                        /* A resource on revision 1 or on the current draft. */
                        int rev = rand_r(&seed) % 2 ? 1 : draft;
                        snprintf(sql, sizeof(sql),
                                 "INSERT INTO resources (id, name, project_id, system_id, department, "
                                 "service_id, plan_id, catalog_revision, approval_no, cost_kind, "
                                 "committed_fen, state, created_at, created_by, updated_at, kind) VALUES "
                                 "('m-%04d', 'n', 'pa', 'sys', 'edu', 'vm', 'small', %d, 'A', "
                                 "'construction', 0, 'active', '%s', 't', '%s', 'vm')",
                                 n++, rev, at, at);
                } else if (what == 2 && draft_status < 2) {
                        /* The draft (or submitted) revision edited in place: another price. */
                        snprintf(sql, sizeof(sql),
                                 "UPDATE services SET document = "
                                 "'{\"plans\":[{\"id\":\"small\",\"price\":{\"amount_fen\":%u,\"unit\":"
                                 "\"hour\"}}]}', updated_at = '%s' WHERE id = 'vm' AND revision = %d",
                                 40 + rand_r(&seed) % 1000, at, draft);
                        edits++;
                } else if (what == 3) {
                        /* draft -> submitted -> published; then a new draft. */
                        static const char *const next[] = { "submitted", "published" };
                        if (draft_status < 2) {
                                snprintf(
                                        sql, sizeof(sql),
                                        "UPDATE services SET status = '%s' WHERE id = 'vm' AND revision = %d",
                                        next[draft_status], draft);
                                draft_status++;
                        } else {
                                draft++;
                                draft_status = 0;
                                vm_revision(s, draft, "draft", 40 + (int)(rand_r(&seed) % 1000));
                                continue;
                        }
                } else if (what == 4) {
                        /* A resource moved to another revision (a re-pricing). */
                        snprintf(sql, sizeof(sql),
                                 "UPDATE resources SET catalog_revision = %u, updated_at = '%s' WHERE id = "
                                 "'m-%04d'",
                                 1 + rand_r(&seed) % (unsigned)draft, at, (int)(rand_r(&seed) % (unsigned)n));
                } else
                        snprintf(sql, sizeof(sql),
                                 "UPDATE resources SET state = '%s', updated_at = '%s' WHERE id = 'm-%04d'",
                                 states[rand_r(&seed) % (ELEMENTSOF(states) - 1)], at,
                                 (int)(rand_r(&seed) % (unsigned)n));
                spend(s, "pa", true, &kept); /* the memo filled before the change */
                exec(s, sql);
                /* The kept row of what was charged follows the resources and
                 * their segments (the tests above), not documents edited in
                 * place: the daemon orders only published revisions, so no
                 * resource of its own is ever on a draft. Dropped here, so
                 * that what is compared is the price memo. */
                if (what == 2)
                        exec(s, "DELETE FROM billing_spend_cache");
                spend(s, "pa", true, &kept);
                spend(s, "pa", false, &full);
                assert_spend_equal(&kept, &full);
                checks++;
        }
        print_message("# %d changes checked, %d drafts edited, %d revisions\n", checks, edits, draft);
        assert_true(checks > 300 && edits > 20 && draft > 3);
        store_free(s);
}

/* Two stores with other documents under the same ids: each answers its own
 * price (the memo is keyed by the store); a revision published inside a
 * transaction that rolled back is not remembered as published. */
static void test_price_memo_per_store_and_rollback(void **state) {
        Store *a = open_store("memo-a"), *b = open_store("memo-b");
        BillingSpend sa, sb, full;
        CbError err = CB_ERROR_INIT;
        static const char res_sql[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, state, created_at, created_by, "
                "updated_at, kind) VALUES ('r-1', 'n', 'pa', 'sys', 'edu', 'vm', 'small', 2, 'A', "
                "'construction', 0, 'active', '2026-06-14T16:00:00Z', 't', '2026-06-14T16:00:00Z', 'vm')";
        (void)state;

        setup_world(a);
        setup_world(b);
        vm_revision(a, 2, "published", 100);
        vm_revision(b, 2, "published", 200);
        exec(a, res_sql);
        exec(b, res_sql);
        spend(a, "pa", true, &sa);
        spend(b, "pa", true, &sb);
        assert_int_equal(sa.committed_fen[0], 100 * 24 * 200);
        assert_int_equal(sb.committed_fen[0], 200 * 24 * 200);
        spend(a, "pa", true, &sa);
        assert_int_equal(sa.committed_fen[0], 100 * 24 * 200);
        store_free(b);

        /* Revision 3 published and priced inside a transaction that rolls back. */
        assert_int_equal(store_begin(a), 0);
        vm_revision(a, 3, "published", 300);
        exec(a, "UPDATE resources SET catalog_revision = 3 WHERE id = 'r-1'");
        assert_int_equal(billing_project_spend(a, "pa", TODAY, UNTIL, NOW_T, &sa, &err), 0);
        assert_int_equal(sa.committed_fen[0], 300 * 24 * 200);
        store_rollback(a);
        /* Now revision 3 is a draft of another price, edited, then published. */
        vm_revision(a, 3, "draft", 5);
        exec(a, "UPDATE resources SET catalog_revision = 3 WHERE id = 'r-1'");
        spend(a, "pa", true, &sa);
        assert_int_equal(sa.committed_fen[0], 5 * 24 * 200);
        exec(a, "UPDATE services SET document = "
                "'{\"plans\":[{\"id\":\"small\",\"price\":{\"amount_fen\":7,\"unit\":\"hour\"}}]}' "
                "WHERE id = 'vm' AND revision = 3");
        exec(a, "UPDATE services SET status = 'published' WHERE id = 'vm' AND revision = 3");
        spend(a, "pa", true, &sa);
        spend(a, "pa", false, &full);
        assert_spend_equal(&sa, &full);
        assert_int_equal(sa.committed_fen[0], 7 * 24 * 200);
        cb_error_clear(&err);
        store_free(a);
}

static int setup(void **state) {
        (void)state;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* An evaluation reads the money in its read snapshot (store_read_begin):
 * keeping the answer must not turn that snapshot into a write transaction,
 * whose end would be a durable commit (an fdatasync on every first
 * evaluation of a day); the row is kept once the snapshot ends, and read by
 * the next evaluation. */
static void test_cache_kept_after_snapshot(void **state) {
        Store *s = open_store("snapshot");
        BillingSpend got, again;
        (void)state;

        setup_world(s);
        exec(s, "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, state, created_at, created_by, "
                "updated_at, kind) VALUES ('r-1', 'n', 'pa', 'sys', 'edu', 'vm', 'small', 1, 'A', "
                "'construction', 0, 'active', '2026-06-01T16:00:00Z', 't', '2026-06-01T16:00:00Z', 'vm')");
        assert_int_equal(cache_rows(s, "pa"), 0);
        int opened = store_read_begin(s);
        assert_int_equal(opened, 1);
        spend(s, "pa", true, &got);
        assert_int_equal(got.charged_fen[0], 35 * 24 * 13);
        assert_int_equal(sqlite3_txn_state(store_db(s), "main"), SQLITE_TXN_READ);
        store_read_end(s, opened);
        assert_true(sqlite3_get_autocommit(store_db(s)));
        assert_int_equal(cache_rows(s, "pa"), 1);
        /* A memo, committed relaxed: nothing waited for the disk for it. */
        assert_true(store_unsynced(s));
        exec(s, "UPDATE billing_spend_cache SET charged_construction_fen = 7 WHERE project_id = 'pa'");
        spend(s, "pa", true, &again);
        assert_int_equal(again.charged_fen[0], 7);
        store_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cache_equals_rerating),
                cmocka_unit_test(test_cache_is_read),
                cmocka_unit_test(test_cache_kept_after_snapshot),
                cmocka_unit_test(test_burst_rollover_backdated),
                cmocka_unit_test(test_price_memo_equals_rerating),
                cmocka_unit_test(test_price_memo_per_store_and_rollback),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
