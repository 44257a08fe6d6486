/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The part of an asynchronous Open Service Broker request that an instance's
 * operation (operations-http.c) and a binding (bindings.c) share: one small
 * state machine on the main loop, per request, of which this module keeps
 * the timer, the phase, the provider's operation token, the retries and the
 * polling deadline; the owner says what each phase sends and what an answer
 * means, through OsbPollOps.
 *
 *   send            the request itself (PUT, PATCH or DELETE)
 *   poll            its last_operation, as often as Retry-After says (else
 *                   every second, Retry-After capped at 5 minutes) and no
 *                   longer than the plan's maximum_polling_duration
 *   mitigate        orphan mitigation: DELETE what a failed request may have
 *                   left at the provider, with backoff until it confirms
 *   mitigate_poll   last_operation of that DELETE
 *   verify, fetch   the owner's own (GET the instance, GET the binding)
 *
 * Connection errors and 5xx are retried with backoff (0.5 s doubling, at
 * most 30 s apart; OSB_POLL_TRIES tries for a request of its own). The phase
 * and the token are the owner's to save (ops->save, at every phase change),
 * so a restarted daemon resumes with osb_poll_init() from what it saved.
 * The mitigation phases are driven here entirely: ops->mitigated() hears
 * when the provider confirmed the deletion.
 *
 * Every OsbPoll is on one process-wide list while it runs; the owner embeds
 * it as the FIRST member of its own struct, so that a callback's OsbPoll *
 * is its struct too.
 */

#include <systemd/sd-event.h>

#include "driver.h"
#include "providers.h"
#include "resources.h"

#define OSB_POLL_TRIES 6

typedef enum OsbPhase {
        OSB_PHASE_SEND,
        OSB_PHASE_POLL,
        OSB_PHASE_MITIGATE,
        OSB_PHASE_MITIGATE_POLL,
        OSB_PHASE_VERIFY,
        OSB_PHASE_FETCH,
        _OSB_PHASE_MAX,
} OsbPhase;

/* The name a phase is saved under ("send", "poll", ...). */
const char *osb_phase_to_string(OsbPhase phase);

typedef struct OsbPoll OsbPoll;

typedef struct OsbPollOps {
        const char *what;   /* for the log: "operation", "binding" */
        const char *object; /* what mitigation deletes, for the log: "the instance", "it" */
        /* Sends the request of p->phase (the mitigation's DELETE and its
         * last_operation too: what is deleted is the owner's to say), ctx
         * filled from p, with osb_poll_on_reply and p as the driver's
         * callback: what the driver call returned. */
        int (*send)(OsbPoll *p, Provider *prov, const DriverCallContext *ctx, CbError *err);
        /* The driver refused to send (r < 0, msg why): the request ends. */
        void (*send_failed)(OsbPoll *p, int r, const char *msg);
        /* The answer to a request of phase send, poll, verify or fetch (the
         * mitigation phases' are handled here). */
        void (*reply)(OsbPoll *p, int r, const DriverReply *reply, const char *why);
        /* The driver cancelled the request (the daemon stops): p is to end. */
        void (*cancelled)(OsbPoll *p);
        /* The timer could not be set (r): p stays where it is. */
        void (*schedule_failed)(OsbPoll *p, int r);
        /* The phase changed (osb_poll_set_phase): record it. */
        void (*save)(OsbPoll *p);
        /* Mitigation began (after p->error is set and the phase saved). NULL: nothing. */
        void (*mitigating)(OsbPoll *p);
        /* The provider confirmed the deletion of mitigation: p ends (failed, p->error). */
        void (*mitigated)(OsbPoll *p);
        /* osb_poll_cancel_all(): p is being stopped (before it is freed or detached). */
        void (*stopping)(OsbPoll *p);
        /* Frees the owner's struct (after osb_poll_done()). */
        void (*free)(OsbPoll *p);
} OsbPollOps;

struct OsbPoll {
        OsbPoll *prev, *next;
        const OsbPollOps *ops;
        Providers *ps;
        char id[64]; /* the request's: operation or binding id (X-Broker-API-Request-Identity) */
        char resource_id[64], provider[64];
        OsbPhase phase;
        char *remote_operation;
        /* the context every request carries, owned */
        char *principal, *department, *project_id, *approval_no, *system_id;
        char *remote_service_id, *remote_plan_id;
        uint64_t poll_deadline_usec;
        unsigned max_polling_s;
        unsigned tries; /* failed tries of the current request */
        sd_event_source *timer;
        bool in_flight;  /* a driver request is out: its reply frees a detached one */
        bool detached;   /* stopped already (cancel_all); only the reply is awaited */
        char error[512]; /* why the request failed, kept through its mitigation */
};

/* Fills p for request id on resource res (its department, project, approval,
 * system, provider), in the name of principal, for the provider's
 * remote_service_id/remote_plan_id; where a previous daemon left it: phase
 * (its saved name; NULL: send) and remote_operation (NULL: none). -ENOMEM. */
int osb_poll_init(OsbPoll *p, const OsbPollOps *ops, Providers *ps, const char *id, const Resource *res,
                  const char *principal, const char *remote_service_id, const char *remote_plan_id,
                  const char *phase, const char *remote_operation);
/* Frees what osb_poll_init() made and takes p off the list. */
void osb_poll_done(OsbPoll *p);
/* Puts p on the list and sends its first request on the next loop iteration. */
void osb_poll_start(OsbPoll *p);

/* The one running with this id under ops, or NULL. */
OsbPoll *osb_poll_find(const OsbPollOps *ops, const char *id);

/* Sends the request of p's phase now (ops->send), or, while the provider is
 * not connected, tries again later like after a connection error. */
void osb_poll_step(OsbPoll *p);
/* Runs osb_poll_step() in delay_usec. */
void osb_poll_schedule(OsbPoll *p, uint64_t delay_usec);
/* Sets the phase (and token: NULL for none), zeroes the tries, starts the
 * polling deadline for a poll phase, and calls ops->save. */
void osb_poll_set_phase(OsbPoll *p, OsbPhase phase, const char *remote_operation);

/* The driver callback for every request of p (userdata). */
void osb_poll_on_reply(int r, const DriverReply *reply, const CbError *err, void *userdata);

/* Whether reply failed so that the request may be tried again: a connection
 * error or a 5xx, and (counting this one) fewer than OSB_POLL_TRIES failures
 * of it; then the retry is scheduled with backoff. */
bool osb_poll_retry(OsbPoll *p, const DriverReply *reply);
/* Sends the request again after the backoff of p->tries failures (counted by the caller). */
void osb_poll_retry_later(OsbPoll *p);
/* The backoff after tries failures: 0.5 s doubling, at most 30 s. */
uint64_t osb_poll_backoff_usec(unsigned tries);
/* Polls again as the reply's Retry-After says. */
void osb_poll_again(OsbPoll *p, const DriverReply *reply);
bool osb_poll_retryable(const DriverReply *reply);
bool osb_poll_past_deadline(const OsbPoll *p);

/* What an answer to last_operation (phase poll) comes to. */
typedef enum OsbPollOutcome {
        OSB_POLL_WAITING,   /* polled again later: in progress, or a retryable error in time */
        OSB_POLL_TIMED_OUT, /* in progress past maximum_polling_duration */
        OSB_POLL_SUCCEEDED,
        OSB_POLL_GONE,
        OSB_POLL_FAILED, /* the provider says failed (reply->description says why) */
        OSB_POLL_ERROR,  /* no usable answer, and no more retries: the why of the reply */
} OsbPollOutcome;
OsbPollOutcome osb_poll_on_poll(OsbPoll *p, int r, const DriverReply *reply);

/* Orphan mitigation: remembers why (the first reason only), logs, and sends
 * the DELETE (then its polling, and retries until the provider confirms). */
void osb_poll_mitigate(OsbPoll *p, const char *why);

/* Ends every request of ops for the daemon's stop: ops->stopping, then freed,
 * or detached while its reply is awaited. */
void osb_poll_cancel_all(const OsbPollOps *ops);
