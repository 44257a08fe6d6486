/* SPDX-License-Identifier: Apache-2.0 */
#include "osb-poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/param.h> /* MIN */

#include "log.h"
#include "operations-http.h"

#define RETRY_FIRST_USEC       500000ULL
#define RETRY_MAX_USEC         30000000ULL
#define POLL_DEFAULT_USEC      1000000ULL
#define POLL_RETRY_AFTER_CAP_S 300

static const char *const phase_names[_OSB_PHASE_MAX] = {
        [OSB_PHASE_SEND] = "send",         [OSB_PHASE_POLL] = "poll",
        [OSB_PHASE_MITIGATE] = "mitigate", [OSB_PHASE_MITIGATE_POLL] = "mitigate_poll",
        [OSB_PHASE_VERIFY] = "verify",     [OSB_PHASE_FETCH] = "fetch",
};

const char *osb_phase_to_string(OsbPhase phase) {
        return phase >= 0 && phase < _OSB_PHASE_MAX ? phase_names[phase] : NULL;
}

static OsbPoll *polls_head;

static uint64_t now_usec(void) {
        sd_event *e = NULL;
        uint64_t t = 0;
        if (sd_event_default(&e) >= 0) {
                sd_event_now(e, CLOCK_MONOTONIC, &t);
                sd_event_unref(e);
        }
        return t;
}

uint64_t osb_poll_backoff_usec(unsigned tries) {
        uint64_t d = RETRY_FIRST_USEC << MIN(tries, 16U);
        return MIN(d, RETRY_MAX_USEC);
}

static bool is_poll_phase(OsbPhase phase) {
        return phase == OSB_PHASE_POLL || phase == OSB_PHASE_MITIGATE_POLL;
}

static char *dup_str(const char *v, bool *oom) {
        char *d = v ? strdup(v) : NULL;
        if (v && !d)
                *oom = true;
        return d;
}

int osb_poll_init(OsbPoll *p, const OsbPollOps *ops, Providers *ps, const char *id, const Resource *res,
                  const char *principal, const char *remote_service_id, const char *remote_plan_id,
                  const char *phase, const char *remote_operation) {
        Provider *prov = res->provider ? providers_find(ps, res->provider) : NULL;
        bool oom = false;

        p->ops = ops;
        p->ps = ps;
        snprintf(p->id, sizeof(p->id), "%s", id);
        snprintf(p->resource_id, sizeof(p->resource_id), "%s", res->id);
        snprintf(p->provider, sizeof(p->provider), "%s", res->provider ?: "");
        p->principal = dup_str(principal, &oom);
        p->department = dup_str(res->department, &oom);
        p->project_id = dup_str(res->project_id, &oom);
        p->approval_no = dup_str(res->approval_no, &oom);
        p->system_id = dup_str(res->system_id, &oom);
        p->remote_service_id = dup_str(remote_service_id, &oom);
        p->remote_plan_id = dup_str(remote_plan_id, &oom);
        p->remote_operation = dup_str(remote_operation, &oom);
        if (oom)
                return -ENOMEM;
        for (int i = 0; phase && i < _OSB_PHASE_MAX; i++)
                if (streq(phase, phase_names[i]))
                        p->phase = (OsbPhase)i;
        p->max_polling_s = prov ? http_plan_max_polling(prov, remote_service_id, remote_plan_id) : 3600;
        if (is_poll_phase(p->phase))
                p->poll_deadline_usec = now_usec() + (uint64_t)p->max_polling_s * 1000000ULL;
        return 0;
}

static void unlink_poll(OsbPoll *p) {
        if (p->prev)
                p->prev->next = p->next;
        else if (polls_head == p)
                polls_head = p->next;
        if (p->next)
                p->next->prev = p->prev;
        p->prev = p->next = NULL;
}

void osb_poll_done(OsbPoll *p) {
        if (!p)
                return;
        unlink_poll(p);
        p->timer = sd_event_source_disable_unref(p->timer);
        free(p->remote_operation);
        free(p->principal);
        free(p->department);
        free(p->project_id);
        free(p->approval_no);
        free(p->system_id);
        free(p->remote_service_id);
        free(p->remote_plan_id);
        p->remote_operation = p->principal = p->department = p->project_id = p->approval_no = p->system_id =
                p->remote_service_id = p->remote_plan_id = NULL;
}

void osb_poll_start(OsbPoll *p) {
        p->next = polls_head;
        if (polls_head)
                polls_head->prev = p;
        polls_head = p;
        /* Never from within the call: the caller finishes its bookkeeping first. */
        osb_poll_schedule(p, 0);
}

OsbPoll *osb_poll_find(const OsbPollOps *ops, const char *id) {
        for (OsbPoll *p = polls_head; p; p = p->next)
                if (p->ops == ops && streq(p->id, id))
                        return p;
        return NULL;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        OsbPoll *p = userdata;
        (void)s;
        (void)usec;
        p->timer = sd_event_source_disable_unref(p->timer);
        osb_poll_step(p);
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
        return on_timer(s, 0, userdata);
}

void osb_poll_schedule(OsbPoll *p, uint64_t delay_usec) {
        sd_event *e = NULL;
        int r = sd_event_default(&e);
        /* "Now" (every start) is a defer source, dispatched on the next
         * iteration as a timer at now was: a timer moved the timerfd to now
         * and back again (two timerfd_settime) and woke epoll for it. */
        if (r >= 0)
                r = delay_usec ? sd_event_add_time(e, &p->timer, CLOCK_MONOTONIC, now_usec() + delay_usec,
                                                   10000, on_timer, p)
                               : sd_event_add_defer(e, &p->timer, on_defer, p);
        sd_event_unref(e);
        if (r < 0)
                p->ops->schedule_failed(p, r);
}

void osb_poll_step(OsbPoll *p) {
        Provider *prov = providers_find(p->ps, p->provider);
        DriverCallContext ctx = {
                .principal = p->principal,
                .department = p->department,
                .project_id = p->project_id,
                .approval_no = p->approval_no,
                .system_id = p->system_id,
                .request_id = p->id,
                .remote_service_id = p->remote_service_id,
                .remote_plan_id = p->remote_plan_id,
        };
        CbError err = CB_ERROR_INIT;
        int r;

        if (!prov || !prov->conn) {
                /* Not connected (yet): try again later, like a connection error. */
                p->tries++;
                osb_poll_schedule(p, osb_poll_backoff_usec(p->tries));
                return;
        }
        r = p->ops->send(p, prov, &ctx, &err);
        if (r < 0) {
                char msg[sizeof(err.message)];
                snprintf(msg, sizeof(msg), "%s", err.message);
                cb_error_clear(&err);
                p->ops->send_failed(p, r, msg);
                return;
        }
        p->in_flight = true;
}

void osb_poll_set_phase(OsbPoll *p, OsbPhase phase, const char *remote_operation) {
        p->phase = phase;
        p->tries = 0;
        free(p->remote_operation);
        p->remote_operation = remote_operation ? strdup(remote_operation) : NULL;
        if (is_poll_phase(phase))
                p->poll_deadline_usec = now_usec() + (uint64_t)p->max_polling_s * 1000000ULL;
        p->ops->save(p);
}

bool osb_poll_retryable(const DriverReply *reply) {
        return reply->failure == DRIVER_FAILURE_TRANSPORT || reply->failure == DRIVER_FAILURE_SERVER;
}

bool osb_poll_past_deadline(const OsbPoll *p) {
        return now_usec() >= p->poll_deadline_usec;
}

void osb_poll_retry_later(OsbPoll *p) {
        osb_poll_schedule(p, osb_poll_backoff_usec(p->tries - 1));
}

bool osb_poll_retry(OsbPoll *p, const DriverReply *reply) {
        if (!osb_poll_retryable(reply) || ++p->tries >= OSB_POLL_TRIES)
                return false;
        osb_poll_retry_later(p);
        return true;
}

void osb_poll_again(OsbPoll *p, const DriverReply *reply) {
        uint64_t d =
                reply->retry_after_s > 0
                        ? (uint64_t)MIN(reply->retry_after_s, (unsigned)POLL_RETRY_AFTER_CAP_S) * 1000000ULL
                        : POLL_DEFAULT_USEC;
        osb_poll_schedule(p, d);
}

OsbPollOutcome osb_poll_on_poll(OsbPoll *p, int r, const DriverReply *reply) {
        if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                if (osb_poll_past_deadline(p))
                        return OSB_POLL_TIMED_OUT;
                p->tries = 0;
                osb_poll_again(p, reply);
                return OSB_POLL_WAITING;
        }
        if (r >= 0)
                return reply->state == DRIVER_OP_SUCCEEDED ? OSB_POLL_SUCCEEDED
                       : reply->state == DRIVER_OP_GONE    ? OSB_POLL_GONE
                                                           : OSB_POLL_FAILED;
        if (osb_poll_retryable(reply) && !osb_poll_past_deadline(p)) {
                p->tries++;
                osb_poll_retry_later(p);
                return OSB_POLL_WAITING;
        }
        return OSB_POLL_ERROR;
}

void osb_poll_mitigate(OsbPoll *p, const char *why) {
        if (!p->error[0])
                snprintf(p->error, sizeof(p->error), "%s", why);
        log_warning("%s %s: %s; deleting %s at provider %s (orphan mitigation)", p->ops->what, p->id, why,
                    p->ops->object, p->provider);
        osb_poll_set_phase(p, OSB_PHASE_MITIGATE, NULL);
        if (p->ops->mitigating)
                p->ops->mitigating(p);
        osb_poll_step(p);
}

/* The answers of orphan mitigation: until the provider confirms, nothing is
 * left live (paid for, or credentials) and unknown. */
static void on_mitigation_reply(OsbPoll *p, int r, const DriverReply *reply, const char *why) {
        if (p->phase == OSB_PHASE_MITIGATE) {
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        osb_poll_set_phase(p, OSB_PHASE_MITIGATE_POLL, reply->operation);
                        osb_poll_again(p, reply);
                } else if (r >= 0)
                        p->ops->mitigated(p);
                else {
                        p->tries++;
                        log_warning("%s %s: orphan mitigation at %s: %s; retrying", p->ops->what, p->id,
                                    p->provider, why);
                        osb_poll_retry_later(p);
                }
                return;
        }
        if (r >= 0 && (reply->state == DRIVER_OP_GONE || reply->state == DRIVER_OP_SUCCEEDED))
                p->ops->mitigated(p);
        else if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                p->tries = 0;
                osb_poll_again(p, reply);
        } else {
                /* Failed, refused or unanswered: DELETE again, later. */
                unsigned tries = p->tries + 1;
                osb_poll_set_phase(p, OSB_PHASE_MITIGATE, NULL);
                p->tries = tries;
                osb_poll_retry_later(p);
        }
}

void osb_poll_on_reply(int r, const DriverReply *reply, const CbError *err, void *userdata) {
        OsbPoll *p = userdata;
        char why[512];

        p->in_flight = false;
        if (p->detached) {
                p->ops->free(p);
                return;
        }
        if (r == -ECANCELED) {
                p->ops->cancelled(p);
                return;
        }
        snprintf(why, sizeof(why), "%s", err->message);
        if (p->phase == OSB_PHASE_MITIGATE || p->phase == OSB_PHASE_MITIGATE_POLL)
                on_mitigation_reply(p, r, reply, why);
        else
                p->ops->reply(p, r, reply, why);
}

void osb_poll_cancel_all(const OsbPollOps *ops) {
        OsbPoll *p = polls_head;
        while (p) {
                OsbPoll *next = p->next;
                if (p->ops != ops) {
                        p = next;
                        continue;
                }
                if (ops->stopping)
                        ops->stopping(p);
                if (p->in_flight) {
                        /* Its reply comes when the provider's connection closes: it only frees. */
                        p->detached = true;
                        p->timer = sd_event_source_disable_unref(p->timer);
                        unlink_poll(p);
                } else
                        ops->free(p);
                p = next;
        }
}
