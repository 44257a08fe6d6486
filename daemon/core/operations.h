/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The operation runner. An operation (provision, start, stop, reboot,
 * deprovision) is a row of the store before any provider hears of it; it
 * is handed to the worker pool only once that row is durable, runs the
 * driver there (the one place that dispatches an operation kind onto a
 * driver call: op_job_run in operations.c), and its result comes back to
 * the main loop, which records the outcome, the resource's new state and
 * the audit record in one transaction. An operation whose result was never
 * recorded (the daemon stopped or crashed) stays pending or running and is
 * run again when its provider (re)connects: the driver calls are
 * idempotent by the resource id stamped on every provider object. An
 * operation is never in flight twice in one process.
 */

#include "placement.h"
#include "resources.h"
#include "states.h"

/* The newest unfinished operation of a resource: 1 and its id and kind,
 * 0 when there is none, -EIO. */
int operation_pending(Resources *r, const char *resource_id, char ret_id[64], char ret_kind[32]);
/* Queues an operation: its row, pending, in the caller's transaction (the
 * change the audit record is written with). Nothing runs until
 * operation_submit_when_durable(). */
int operation_record(Store *s, const char *op_id, const char *resource_id, OperationKind kind,
                     const char *now, CbError *err);
/* The resource's first operation (its provision): 0, or -ENOENT. */
int operation_first(Resources *r, const char *resource_id, char ret[64]);

/* Hands the recorded operation op_id to the pool once the current
 * transaction is durable (at once when none is open); a rolled-back one is
 * never submitted. Takes over *held (zeroed): it ends with the operation,
 * or now on failure. A provider not connected yet runs it when it connects. */
void operation_submit_when_durable(Resources *r, const char *op_id, OperationKind kind,
                                   const char *resource_id, Reservation *held);

/* Crash recovery: submits every unfinished operation on provider p that is
 * not in flight already. */
void operations_resume(Resources *r, Provider *p);

/* Frees the runner's part of r (in-flight ids, spec cache). */
void operations_state_free(Resources *r);
