/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker pool: every job's done callback runs exactly once, on the
 * owner's thread, with the job's result; freeing the pool with jobs queued
 * and running cancels or finishes each of them without a leak (run under
 * ASan); posts from foreign threads arrive on the owner's thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "worker.h"

#define N_JOBS 1000

typedef struct Job {
        unsigned index;
        pthread_t owner;
        bool ran; /* job_fn ran (on a worker) */
        pthread_t ran_on;
        unsigned *done_count; /* per-index counters */
        unsigned *total;
        int *results;
} Job;

static int job_fn(void *userdata) {
        Job *j = userdata;
        j->ran = true;
        j->ran_on = pthread_self();
        if (j->index % 97 == 0)
                usleep(200);
        return (int)(j->index * 3);
}

static void done_fn(int result, void *userdata) {
        Job *j = userdata;
        assert_true(pthread_equal(pthread_self(), j->owner));
        j->done_count[j->index]++;
        j->results[j->index] = result;
        (*j->total)++;
        if (j->ran)
                assert_false(pthread_equal(j->ran_on, j->owner));
        free(j);
}

/* Waits on the eventfd as a main loop would, bounded in time. */
static void pump_until(WorkerPool *pool, const unsigned *total, unsigned want) {
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (*total < want) {
                struct pollfd p = { .fd = worker_pool_fd(pool), .events = POLLIN };
                int r = poll(&p, 1, 1000);
                assert_true(r >= 0);
                if (r > 0)
                        assert_true(worker_dispatch(pool) >= 0);
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > 30)
                        fail_msg("only %u of %u results after 30 s", *total, want);
        }
}

static Job *new_job(unsigned i, unsigned *counts, unsigned *total, int *results) {
        Job *j = calloc(1, sizeof(*j));
        assert_non_null(j);
        *j = (Job){
                .index = i, .owner = pthread_self(), .done_count = counts, .total = total, .results = results
        };
        return j;
}

static void test_many_jobs_each_done_once(void **state) {
        (void)state;
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(4, &pool), 0);
        assert_true(worker_pool_fd(pool) >= 0);

        unsigned *counts = calloc(N_JOBS, sizeof(unsigned));
        int *results = calloc(N_JOBS, sizeof(int));
        unsigned total = 0;
        assert_non_null(counts);
        assert_non_null(results);

        for (unsigned i = 0; i < N_JOBS; i++)
                assert_int_equal(worker_submit(pool, job_fn, done_fn, new_job(i, counts, &total, results)),
                                 0);
        assert_true(worker_pool_pending(pool) > 0);
        pump_until(pool, &total, N_JOBS);

        for (unsigned i = 0; i < N_JOBS; i++) {
                assert_int_equal(counts[i], 1);
                assert_int_equal(results[i], (int)(i * 3));
        }
        assert_int_equal(worker_pool_pending(pool), 0);
        /* Nothing more arrives: a further dispatch runs nothing. */
        assert_int_equal(worker_dispatch(pool), 0);

        pool = worker_pool_free(pool);
        assert_null(pool);
        assert_int_equal(total, N_JOBS);
        free(counts);
        free(results);
}

static int slow_job(void *userdata) {
        (void)userdata;
        usleep(2000);
        return 1;
}

static void test_free_with_jobs_in_flight(void **state) {
        (void)state;
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(2, &pool), 0);

        enum { N = 200 };
        unsigned counts[N] = { 0 };
        int results[N];
        unsigned total = 0;
        for (unsigned i = 0; i < N; i++) {
                results[i] = 1234;
                assert_int_equal(worker_submit(pool, slow_job, done_fn, new_job(i, counts, &total, results)),
                                 0);
        }
        usleep(5000); /* let some start and finish */
        worker_pool_free(pool);

        unsigned finished = 0, cancelled = 0;
        for (unsigned i = 0; i < N; i++) {
                assert_int_equal(counts[i], 1);
                if (results[i] == 1)
                        finished++;
                else {
                        assert_int_equal(results[i], -ECANCELED);
                        cancelled++;
                }
        }
        assert_int_equal(finished + cancelled, N);
        /* 2 threads x 2 ms each cannot have finished 200 jobs in ~5 ms. */
        assert_true(cancelled > 0);
        assert_int_equal(total, N);
}

static void test_free_idle_and_null(void **state) {
        (void)state;
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(1, &pool), 0);
        assert_null(worker_pool_free(pool));
        assert_null(worker_pool_free(NULL));
        assert_int_equal(worker_pool_new(0, &pool), -EINVAL);
        assert_int_equal(worker_pool_new(65, &pool), -EINVAL);
        assert_int_equal(worker_submit(NULL, job_fn, done_fn, NULL), -EINVAL);
}

typedef struct Post {
        WorkerPool *pool;
        unsigned n;
} Post;

static unsigned posted_seen;
static pthread_t main_thread;

static void posted_done(int result, void *userdata) {
        (void)userdata;
        assert_true(pthread_equal(pthread_self(), main_thread));
        assert_int_equal(result, 7);
        posted_seen++;
}

static void *poster(void *arg) {
        Post *p = arg;
        for (unsigned i = 0; i < p->n; i++)
                assert_int_equal(worker_post(p->pool, posted_done, 7, NULL), 0);
        return NULL;
}

static void test_post_from_other_threads(void **state) {
        (void)state;
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(1, &pool), 0);
        main_thread = pthread_self();
        posted_seen = 0;

        Post p = { .pool = pool, .n = 250 };
        pthread_t t[4];
        for (unsigned i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(pthread_create(&t[i], NULL, poster, &p), 0);
        for (unsigned i = 0; i < ELEMENTSOF(t); i++)
                pthread_join(t[i], NULL);
        pump_until(pool, &posted_seen, 1000);
        assert_int_equal(posted_seen, 1000);
        /* Posts are not jobs. */
        assert_int_equal(worker_pool_pending(pool), 0);
        worker_pool_free(pool);
}

/* A done callback that submits more work: chains run to the end. */
typedef struct Chain {
        WorkerPool *pool;
        unsigned left;
        unsigned done;
} Chain;

static int chain_job(void *userdata) {
        (void)userdata;
        return 0;
}

static void chain_done(int result, void *userdata) {
        Chain *c = userdata;
        assert_int_equal(result, 0);
        c->done++;
        if (c->left > 0) {
                c->left--;
                assert_int_equal(worker_submit(c->pool, chain_job, chain_done, c), 0);
        }
}

static void test_resubmit_from_done(void **state) {
        (void)state;
        WorkerPool *pool = NULL;
        assert_int_equal(worker_pool_new(3, &pool), 0);
        Chain c = { .pool = pool, .left = 50 };
        assert_int_equal(worker_submit(pool, chain_job, chain_done, &c), 0);
        pump_until(pool, &c.done, 51);
        assert_int_equal(c.left, 0);
        worker_pool_free(pool);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_many_jobs_each_done_once),
                cmocka_unit_test(test_free_with_jobs_in_flight),
                cmocka_unit_test(test_free_idle_and_null),
                cmocka_unit_test(test_post_from_other_threads),
                cmocka_unit_test(test_resubmit_from_done),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
