/* SPDX-License-Identifier: Apache-2.0 */
#include "worker.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>

typedef struct WorkerJob {
        struct WorkerJob *next;
        WorkerJobFn job_fn;
        WorkerDoneFn done_fn;
        void *userdata;
        int result;
} WorkerJob;

/* A FIFO of jobs linked through next. */
typedef struct JobQueue {
        WorkerJob *head, *tail;
} JobQueue;

struct WorkerPool {
        pthread_mutex_t lock;
        pthread_cond_t cond; /* signalled when todo gains a job or stopping is set */
        JobQueue todo;       /* submitted, not started */
        JobQueue done;       /* finished, done_fn not yet run */
        bool stopping;
        unsigned pending; /* submitted and not yet dispatched; owner's thread only */
        int efd;
        unsigned n_threads;
        pthread_t threads[];
};

static void queue_push(JobQueue *q, WorkerJob *j) {
        j->next = NULL;
        if (q->tail)
                q->tail->next = j;
        else
                q->head = j;
        q->tail = j;
}

static WorkerJob *queue_pop(JobQueue *q) {
        WorkerJob *j = q->head;
        if (j) {
                q->head = j->next;
                if (!q->head)
                        q->tail = NULL;
        }
        return j;
}

/* Called with the lock held. Only the transition from empty needs a wakeup:
 * worker_dispatch() drains the whole queue after reading the eventfd. */
static void done_push_locked(WorkerPool *pool, WorkerJob *j) {
        bool was_empty = !pool->done.head;
        queue_push(&pool->done, j);
        if (was_empty) {
                uint64_t one = 1;
                /* Only fails when the counter would overflow: it is readable then anyway. */
                ssize_t n = write(pool->efd, &one, sizeof(one));
                (void)n;
        }
}

static void *worker_main(void *arg) {
        WorkerPool *pool = arg;

        pthread_mutex_lock(&pool->lock);
        for (;;) {
                while (!pool->todo.head && !pool->stopping)
                        pthread_cond_wait(&pool->cond, &pool->lock);
                if (pool->stopping)
                        break;
                WorkerJob *j = queue_pop(&pool->todo);
                pthread_mutex_unlock(&pool->lock);

                j->result = j->job_fn(j->userdata);

                pthread_mutex_lock(&pool->lock);
                done_push_locked(pool, j);
        }
        pthread_mutex_unlock(&pool->lock);
        return NULL;
}

int worker_pool_new(unsigned n_threads, WorkerPool **ret) {
        if (n_threads < 1 || n_threads > 64 || !ret)
                return -EINVAL;

        WorkerPool *pool = calloc(1, sizeof(WorkerPool) + n_threads * sizeof(pthread_t));
        if (!pool)
                return -ENOMEM;
        pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (pool->efd < 0) {
                int r = -errno;
                free(pool);
                return r;
        }
        pthread_mutex_init(&pool->lock, NULL);
        pthread_cond_init(&pool->cond, NULL);

        for (unsigned i = 0; i < n_threads; i++) {
                int r = pthread_create(&pool->threads[i], NULL, worker_main, pool);
                if (r != 0) {
                        worker_pool_free(pool);
                        return -r;
                }
                pool->n_threads++;
        }
        *ret = pool;
        return 0;
}

int worker_submit(WorkerPool *pool, WorkerJobFn job_fn, WorkerDoneFn done_fn, void *userdata) {
        if (!pool || !job_fn || !done_fn)
                return -EINVAL;
        WorkerJob *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (WorkerJob){ .job_fn = job_fn, .done_fn = done_fn, .userdata = userdata };

        pthread_mutex_lock(&pool->lock);
        if (pool->stopping) {
                pthread_mutex_unlock(&pool->lock);
                free(j);
                return -ESHUTDOWN;
        }
        queue_push(&pool->todo, j);
        pthread_cond_signal(&pool->cond);
        pthread_mutex_unlock(&pool->lock);
        pool->pending++;
        return 0;
}

int worker_post(WorkerPool *pool, WorkerDoneFn done_fn, int result, void *userdata) {
        if (!pool || !done_fn)
                return -EINVAL;
        WorkerJob *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (WorkerJob){ .done_fn = done_fn, .userdata = userdata, .result = result };

        pthread_mutex_lock(&pool->lock);
        done_push_locked(pool, j);
        pthread_mutex_unlock(&pool->lock);
        return 0;
}

int worker_pool_fd(WorkerPool *pool) {
        return pool ? pool->efd : -EINVAL;
}

unsigned worker_pool_pending(WorkerPool *pool) {
        return pool ? pool->pending : 0;
}

/* Runs a detached list of finished jobs. Posted entries (no job_fn) were
 * never counted in pending. */
static int run_done(WorkerPool *pool, WorkerJob *j) {
        int n = 0;
        while (j) {
                WorkerJob *next = j->next;
                if (j->job_fn)
                        pool->pending--;
                j->done_fn(j->result, j->userdata);
                free(j);
                j = next;
                n++;
        }
        return n;
}

int worker_dispatch(WorkerPool *pool) {
        if (!pool)
                return -EINVAL;
        uint64_t counter;
        /* Reset before draining, so a result pushed after the drain re-arms it. */
        if (read(pool->efd, &counter, sizeof(counter)) < 0 && errno != EAGAIN)
                return -errno;

        pthread_mutex_lock(&pool->lock);
        WorkerJob *list = pool->done.head;
        pool->done = (JobQueue){ 0 };
        pthread_mutex_unlock(&pool->lock);

        return run_done(pool, list);
}

WorkerPool *worker_pool_free(WorkerPool *pool) {
        if (!pool)
                return NULL;

        pthread_mutex_lock(&pool->lock);
        pool->stopping = true;
        /* Not started: cancelled, reported like any other result. */
        for (WorkerJob *j; (j = queue_pop(&pool->todo));) {
                j->result = -ECANCELED;
                queue_push(&pool->done, j);
        }
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->lock);

        /* Running jobs finish and land on done. */
        for (unsigned i = 0; i < pool->n_threads; i++)
                pthread_join(pool->threads[i], NULL);

        /* A done_fn may still worker_post(); drain until nothing is left. */
        for (;;) {
                pthread_mutex_lock(&pool->lock);
                WorkerJob *list = pool->done.head;
                pool->done = (JobQueue){ 0 };
                pthread_mutex_unlock(&pool->lock);
                if (!list)
                        break;
                run_done(pool, list);
        }

        pthread_cond_destroy(&pool->cond);
        pthread_mutex_destroy(&pool->lock);
        close(pool->efd);
        free(pool);
        return NULL;
}
