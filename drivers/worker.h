/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A small pool of threads for blocking work (libvirt calls), with results
 * handed back to the thread that owns the pool (the main loop).
 *
 *   job_fn(userdata)            runs on a worker thread; returns an int result
 *   done_fn(result, userdata)   runs on the owner's thread, inside
 *                               worker_dispatch(), exactly once per submit
 *
 * The owner adds worker_pool_fd() (an eventfd, readable when results wait)
 * to its event loop (sd_event_add_io(..., EPOLLIN, ...)) and calls
 * worker_dispatch() when it fires. Jobs start in submission order; results
 * come back in completion order.
 *
 * Every submitted job's done_fn runs exactly once, also when the pool is
 * freed: worker_pool_free() cancels jobs that have not started (their
 * done_fn gets -ECANCELED and job_fn never runs), waits for running jobs to
 * finish (a blocking call cannot be interrupted), then runs every pending
 * done_fn on the calling thread. So userdata can always be freed in done_fn.
 *
 * worker_submit(), worker_dispatch() and worker_pool_free() belong to the
 * owner's thread. worker_post() may be called from any thread (a libvirt
 * event callback, a job) as long as the pool is alive: stop such sources
 * before freeing the pool.
 */

#include "macro.h"

typedef struct WorkerPool WorkerPool;

typedef int (*WorkerJobFn)(void *userdata);
typedef void (*WorkerDoneFn)(int result, void *userdata);

/* n_threads: 1..64. */
int worker_pool_new(unsigned n_threads, WorkerPool **ret);
WorkerPool *worker_pool_free(WorkerPool *pool);
DEFINE_TRIVIAL_CLEANUP_FUNC(WorkerPool *, worker_pool_free);

/* done_fn is required; job_fn too. -ENOMEM, or -ESHUTDOWN while freeing. */
int worker_submit(WorkerPool *pool, WorkerJobFn job_fn, WorkerDoneFn done_fn, void *userdata);

/* Queues done_fn(result, userdata) for the owner's thread without a job:
 * how another thread hands something to the main loop. */
int worker_post(WorkerPool *pool, WorkerDoneFn done_fn, int result, void *userdata);

/* The eventfd to poll for EPOLLIN. Owned by the pool. */
int worker_pool_fd(WorkerPool *pool);

/* Runs the done_fn of every result that is waiting; returns how many ran.
 * A done_fn may submit new jobs (they are dispatched by a later call). */
int worker_dispatch(WorkerPool *pool);

/* Jobs queued or running, not yet dispatched (owner's thread). */
unsigned worker_pool_pending(WorkerPool *pool);
