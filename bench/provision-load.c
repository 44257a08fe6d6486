/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load generator for bench/provision.sh: requests N resources through
 * cloudbrokerd's REST API and times each one from its POST to the moment a
 * GET first shows it "active".
 *
 *   provision-load --url http://127.0.0.1:PORT --token TOKEN --project P
 *                  --system S --service SVC --plan PLAN [--count 2000]
 *                  [--concurrency 64] [--time-limit 300] [--poll-ms 10]
 *                  [--poll-window CONCURRENCY] [--prefix bench] [--dump FILE]
 *
 * One libcurl multi handle, one thread: up to CONCURRENCY POSTs in flight on
 * keep-alive connections, named PREFIX-000000.. in order.
 *
 * Watching for "active": GET /v1/resources?project_id= answers with every
 * resource of the project, so with 2,000 of them each list call costs the
 * daemon's loop tens of milliseconds, and polling it every few ms would
 * measure the list rather than provisioning. Instead up to POLL_WINDOW
 * GET /v1/resources/{id} are in flight, for the oldest resources that are
 * acknowledged and not yet active, each asked POLL_MS after its 202 and again
 * POLL_MS after every answer that is not yet "active" (and not "failed").
 * That is what a client waiting for its VM does, one GET a resource when it
 * is quick; the GETs queue in the daemon's loop beside the POSTs, so the
 * window is as wide as the POST concurrency by default, or detection would
 * fall behind provisioning. A resource's "active" time is when the answer
 * that said so arrived: an upper bound, late by at most POLL_MS plus one GET
 * round trip (its median under load is printed as get_rtt_p50_ms). At the
 * end one list call must show all N resources active (the authoritative
 * count).
 *
 * Output, one line of key=value on stdout:
 *   requested accepted active failed seconds per_sec p50_ms p99_ms
 *   ack_seconds ack_per_sec ack_p50_ms ack_p99_ms gets get_rtt_p50_ms
 *   listed_active
 * per_sec = active / (last active - first POST); p50/p99 over request->active;
 * ack = POST -> 202 received (ack_per_sec = accepted / (last 202 - first
 * POST): how fast requests are taken, as opposed to carried out); gets = GET /v1/resources/{id} calls made;
 * listed_active = ours shown active by the final list (every page of it).
 * --dump FILE writes one line per request, "index sent acked active" in
 * seconds from the first POST (0 for what never happened): the timeline
 * behind the percentiles.
 * Exits 1 unless every request was answered 202 and every resource became
 * active within the time limit, 2 on bad usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define ID_MAX 64

typedef struct {
        char *data;
        size_t len, cap;
} Buf;

/* One easy handle and what it is busy with: a POST or a GET of one resource. */
typedef struct {
        CURL *h;
        Buf resp;
        char body[512];
        char url[256];
        long idx; /* request index, -1 when free */
        bool is_get;
} Slot;

typedef struct {
        const char *url, *token, *project, *system, *service, *plan, *prefix, *dump;
        long count, concurrency, time_limit_s, poll_ms, poll_window;
} Options;

typedef struct {
        double sent, acked, active, last_check, get_sent;
        char id[ID_MAX]; /* empty until the 202 */
        bool failed, polling;
} Req;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *userdata) {
        Buf *b = userdata;
        size_t n = size * nmemb;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *d = realloc(b->data, cap);
                if (!d)
                        return 0; /* curl aborts the transfer */
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return n;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *v, size_t n, double p) {
        if (n == 0)
                return 0;
        size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return v[k - 1];
}

static bool parse_long(const char *s, long lo, long hi, long *ret) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return false;
        *ret = v;
        return true;
}

static int usage(const char *msg) {
        fprintf(stderr,
                "provision-load: %s\n"
                "usage: provision-load --url URL --token T --project P --system S --service SVC --plan PLAN\n"
                "       [--count N] [--concurrency C] [--time-limit SEC] [--poll-ms MS] [--poll-window W]"
                " [--prefix NAME]\n"
                "       [--dump FILE]\n",
                msg);
        return 2;
}

/* An id as the broker spells them: [a-z0-9-]{1,63}. */
static bool is_plain(const char *s) {
        size_t n = strlen(s);
        return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int parse_options(int argc, char **argv, Options *o) {
        *o = (Options){ .count = 2000,
                        .concurrency = 64,
                        .time_limit_s = 300,
                        .poll_ms = 10,
                        .poll_window = 0,
                        .prefix = "bench" };
        for (int i = 1; i < argc; i++) {
                const char *k = argv[i];
                if (i + 1 >= argc)
                        return usage("missing value");
                const char *v = argv[++i];
                if (!strcmp(k, "--url"))
                        o->url = v;
                else if (!strcmp(k, "--token"))
                        o->token = v;
                else if (!strcmp(k, "--project"))
                        o->project = v;
                else if (!strcmp(k, "--system"))
                        o->system = v;
                else if (!strcmp(k, "--service"))
                        o->service = v;
                else if (!strcmp(k, "--plan"))
                        o->plan = v;
                else if (!strcmp(k, "--prefix"))
                        o->prefix = v;
                else if (!strcmp(k, "--dump"))
                        o->dump = v;
                else if (!strcmp(k, "--count")) {
                        if (!parse_long(v, 1, 999999, &o->count))
                                return usage("--count must be 1..999999");
                } else if (!strcmp(k, "--concurrency")) {
                        if (!parse_long(v, 1, 1024, &o->concurrency))
                                return usage("--concurrency must be 1..1024");
                } else if (!strcmp(k, "--time-limit")) {
                        if (!parse_long(v, 1, 3600, &o->time_limit_s))
                                return usage("--time-limit must be 1..3600 seconds");
                } else if (!strcmp(k, "--poll-ms")) {
                        if (!parse_long(v, 1, 10000, &o->poll_ms))
                                return usage("--poll-ms must be 1..10000");
                } else if (!strcmp(k, "--poll-window")) {
                        if (!parse_long(v, 1, 1024, &o->poll_window))
                                return usage("--poll-window must be 1..1024");
                } else
                        return usage("unknown option");
        }
        if (o->poll_window == 0)
                o->poll_window = o->concurrency;
        if (!o->url || !o->token || !o->project || !o->system || !o->service || !o->plan)
                return usage("--url, --token, --project, --system, --service and --plan are required");
        /* They go into JSON and URLs unescaped: keep them plain. */
        if (!is_plain(o->project) || !is_plain(o->system) || !is_plain(o->service) || !is_plain(o->plan) ||
            !is_plain(o->prefix) || strlen(o->prefix) > 40 || strlen(o->url) > 120 || strlen(o->token) > 200)
                return usage(
                        "ids and the prefix must match [a-z0-9-]{1,63} (prefix at most 40), url at most 120");
        return 0;
}

/* The request index a resource name stands for, or -1 when it is not ours. */
static long index_of_name(const char *name, const char *prefix, long count) {
        size_t pl = strlen(prefix);
        long v;
        if (!name || strncmp(name, prefix, pl) || name[pl] != '-' || strlen(name + pl + 1) != 6 ||
            !parse_long(name + pl + 1, 0, count - 1, &v))
                return -1;
        return v;
}

static CURL *new_handle(struct curl_slist *hdrs, Buf *resp, void *priv) {
        CURL *h = curl_easy_init();
        if (!h)
                return NULL;
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(h, CURLOPT_PRIVATE, priv);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        return h;
}

/* After the run: one list call, counting our resources that are active. */
/* Walks every page of the list (limit=1000, next_page_token), bounded. */
static long count_active_listed(CURL *h, Buf *resp, const Options *o, const char *base) {
        char url[1024], token[512] = "";
        long n = 0;

        for (int page = 0; page < 1000; page++) {
                if (token[0])
                        snprintf(url, sizeof(url), "%s&limit=1000&page_token=%s", base, token);
                else
                        snprintf(url, sizeof(url), "%s&limit=1000", base);
                resp->len = 0;
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
                long code = 0;
                if (curl_easy_perform(h) != CURLE_OK ||
                    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), code != 200))
                        return -1;
                json_t *doc = json_loadb(resp->data, resp->len, 0, NULL), *item;
                json_t *list = json_object_get(doc, "resources");
                size_t i;
                if (!json_is_array(list)) {
                        json_decref(doc);
                        return -1;
                }
                json_array_foreach(list, i, item) {
                        const char *state = json_string_value(json_object_get(item, "state"));
                        if (index_of_name(json_string_value(json_object_get(item, "name")), o->prefix,
                                          o->count) >= 0 &&
                            state && !strcmp(state, "active"))
                                n++;
                }
                const char *next = json_string_value(json_object_get(doc, "next_page_token"));
                snprintf(token, sizeof(token), "%s", next ? next : "");
                json_decref(doc);
                if (!token[0])
                        return n;
        }
        return -1;
}

int main(int argc, char **argv) {
        Options o;
        int r = parse_options(argc, argv, &o);
        if (r)
                return r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT))
                return 1;
        const long n = o.count, nslots = o.concurrency + o.poll_window;
        CURLM *multi = curl_multi_init();
        Req *req = calloc((size_t)n, sizeof(Req));
        Slot *slots = calloc((size_t)nslots, sizeof(Slot));
        char auth[256], post_url[160], list_url[256];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
        snprintf(post_url, sizeof(post_url), "%s/v1/resources", o.url);
        snprintf(list_url, sizeof(list_url), "%s/v1/resources?project_id=%s", o.url, o.project);
        struct curl_slist *hdrs = NULL;
        hdrs = curl_slist_append(hdrs, auth);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (!multi || !req || !slots || !hdrs) {
                fprintf(stderr, "provision-load: out of memory\n");
                return 1;
        }
        /* Room for every connection, so none is closed and reopened. */
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, nslots + 4);
        for (long s = 0; s < nslots; s++) {
                slots[s].idx = -1;
                slots[s].is_get = s >= o.concurrency;
                if (!(slots[s].h = new_handle(hdrs, &slots[s].resp, &slots[s])))
                        return 1;
                if (!slots[s].is_get)
                        curl_easy_setopt(slots[s].h, CURLOPT_URL, post_url);
        }

        long next = 0, accepted = 0, n_done = 0, n_active = 0, n_failed = 0, errors = 0, gets = 0;
        double *rtt = calloc((size_t)(4 * n), sizeof(double)); /* GET round trips, the first 4N */
        size_t n_rtt = 0;
        if (!rtt)
                return 1;
        long cursor = 0; /* every request below it is active or failed */
        const double poll_s = (double)o.poll_ms / 1e3;
        const double deadline = now_s() + (double)o.time_limit_s;

        while (n_done < n && errors == 0) {
                double now = now_s();
                if (now >= deadline) {
                        fprintf(stderr, "provision-load: time limit of %ld s reached\n", o.time_limit_s);
                        break;
                }
                /* POSTs: keep CONCURRENCY in flight. */
                for (long s = 0; s < o.concurrency && next < n; s++) {
                        Slot *sl = &slots[s];
                        if (sl->idx >= 0)
                                continue;
                        snprintf(sl->body, sizeof(sl->body),
                                 "{\"project_id\":\"%s\",\"system_id\":\"%s\",\"service_id\":\"%s\","
                                 "\"plan_id\":\"%s\",\"name\":\"%s-%06ld\"}",
                                 o.project, o.system, o.service, o.plan, o.prefix, next);
                        curl_easy_setopt(sl->h, CURLOPT_POSTFIELDS, sl->body);
                        sl->resp.len = 0;
                        sl->idx = next;
                        req[next++].sent = now_s();
                        curl_multi_add_handle(multi, sl->h);
                }
                /* GETs: among the POLL_WINDOW oldest acknowledged, pending
                 * resources, those not asked within POLL_MS. Only those: when
                 * the daemon accepts faster than it provisions, thousands are
                 * pending, and asking any of them that is due kept every GET
                 * slot busy without a pause (11.8 M GETs for 8,410 VMs in a
                 * 20,000 run of bench/scale.sh), which measured the GET path
                 * and starved the loop that finishes the provisions. */
                while (cursor < n && (req[cursor].active > 0 || req[cursor].failed))
                        cursor++;
                long cand = cursor, window_left = o.poll_window;
                for (long s = o.concurrency; s < nslots; s++) {
                        Slot *sl = &slots[s];
                        bool found = false;
                        if (sl->idx >= 0)
                                continue;
                        for (; cand < next && window_left > 0; cand++) {
                                Req *q = &req[cand];
                                if (!q->id[0] || q->active > 0 || q->failed)
                                        continue;
                                window_left--;
                                if (!q->polling && now - q->last_check >= poll_s) {
                                        found = true;
                                        break;
                                }
                        }
                        if (!found)
                                break;
                        snprintf(sl->url, sizeof(sl->url), "%s/v1/resources/%s", o.url, req[cand].id);
                        curl_easy_setopt(sl->h, CURLOPT_URL, sl->url);
                        sl->resp.len = 0;
                        sl->idx = cand;
                        req[cand].polling = true;
                        req[cand].get_sent = now_s();
                        gets++;
                        curl_multi_add_handle(multi, sl->h);
                        cand++;
                }

                int running;
                curl_multi_perform(multi, &running);
                CURLMsg *m;
                int left;
                while ((m = curl_multi_info_read(multi, &left))) {
                        if (m->msg != CURLMSG_DONE)
                                continue;
                        double t = now_s();
                        CURLcode res = m->data.result;
                        long code = 0;
                        Slot *sl = NULL;
                        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
                        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
                        curl_multi_remove_handle(multi, sl->h);
                        Req *q = &req[sl->idx];
                        long idx = sl->idx;
                        sl->idx = -1;
                        json_t *doc =
                                res == CURLE_OK ? json_loadb(sl->resp.data, sl->resp.len, 0, NULL) : NULL;
                        const char *id = json_string_value(json_object_get(doc, "id"));
                        const char *state = json_string_value(json_object_get(doc, "state"));
                        if (sl->is_get) {
                                q->polling = false;
                                q->last_check = t;
                                if (n_rtt < (size_t)(4 * n))
                                        rtt[n_rtt++] = t - q->get_sent;
                                if (res != CURLE_OK || code != 200 || !state) {
                                        fprintf(stderr, "provision-load: GET %s answered %ld (%s): %.300s\n",
                                                q->id, code, curl_easy_strerror(res),
                                                sl->resp.data ? sl->resp.data : "");
                                        errors++;
                                } else if (!strcmp(state, "active") && q->active == 0) {
                                        q->active = t;
                                        n_active++;
                                        n_done++;
                                } else if (!strcmp(state, "failed") && !q->failed) {
                                        fprintf(stderr, "provision-load: %s-%06ld (%s) failed\n", o.prefix,
                                                idx, q->id);
                                        q->failed = true;
                                        n_failed++;
                                        n_done++;
                                }
                        } else if (res != CURLE_OK || code != 202 || !id || strlen(id) >= ID_MAX ||
                                   !is_plain(id)) {
                                fprintf(stderr, "provision-load: POST #%ld answered %ld (%s): %.300s\n", idx,
                                        code, curl_easy_strerror(res), sl->resp.data ? sl->resp.data : "");
                                errors++;
                        } else {
                                q->acked = t;
                                /* The first check waits POLL_MS like every other. */
                                q->last_check = t;
                                snprintf(q->id, sizeof(q->id), "%s", id);
                                accepted++;
                        }
                        json_decref(doc);
                }
                curl_multi_poll(multi, NULL, 0, (int)(o.poll_ms < 100 ? o.poll_ms : 100), NULL);
        }

        double last_active = 0, last_ack = 0;
        double *lat = calloc((size_t)n, sizeof(double)), *ack = calloc((size_t)n, sizeof(double));
        size_t nl = 0, na = 0;
        if (!lat || !ack)
                return 1;
        for (long i = 0; i < n; i++) {
                if (req[i].active > 0) {
                        lat[nl++] = req[i].active - req[i].sent;
                        if (req[i].active > last_active)
                                last_active = req[i].active;
                }
                if (req[i].acked > 0) {
                        ack[na++] = req[i].acked - req[i].sent;
                        if (req[i].acked > last_ack)
                                last_ack = req[i].acked;
                }
        }
        qsort(lat, nl, sizeof(double), cmp_double);
        qsort(ack, na, sizeof(double), cmp_double);
        qsort(rtt, n_rtt, sizeof(double), cmp_double);
        double seconds = nl ? last_active - req[0].sent : 0;
        double ack_seconds = na ? last_ack - req[0].sent : 0;

        if (o.dump) {
                FILE *f = fopen(o.dump, "we");
                if (!f) {
                        fprintf(stderr, "provision-load: cannot write %s: %m\n", o.dump);
                        errors++;
                } else {
                        for (long i = 0; i < n; i++) {
                                const Req *q = &req[i];
                                fprintf(f, "%ld %.6f %.6f %.6f\n", i, q->sent ? q->sent - req[0].sent : 0,
                                        q->acked ? q->acked - req[0].sent : 0,
                                        q->active ? q->active - req[0].sent : 0);
                        }
                        if (fclose(f) != 0)
                                errors++;
                }
        }
        for (long s = 0; s < nslots; s++)
                if (slots[s].idx >= 0)
                        curl_multi_remove_handle(multi, slots[s].h);
        long listed = count_active_listed(slots[nslots - 1].h, &slots[nslots - 1].resp, &o, list_url);
        if (listed != n_active)
                fprintf(stderr,
                        "provision-load: the final list shows %ld of ours active, the polls saw %ld\n",
                        listed, n_active);

        printf("requested=%ld accepted=%ld active=%ld failed=%ld seconds=%.4f per_sec=%.1f p50_ms=%.2f "
               "p99_ms=%.2f ack_seconds=%.4f ack_per_sec=%.1f ack_p50_ms=%.2f ack_p99_ms=%.2f gets=%ld "
               "get_rtt_p50_ms=%.2f "
               "listed_active=%ld\n",
               next, accepted, n_active, n_failed, seconds, seconds > 0 ? (double)nl / seconds : 0,
               percentile(lat, nl, 50) * 1e3, percentile(lat, nl, 99) * 1e3, ack_seconds,
               ack_seconds > 0 ? (double)na / ack_seconds : 0, percentile(ack, na, 50) * 1e3,
               percentile(ack, na, 99) * 1e3, gets, percentile(rtt, n_rtt, 50) * 1e3, listed);

        for (long s = 0; s < nslots; s++) {
                curl_easy_cleanup(slots[s].h);
                free(slots[s].resp.data);
        }
        curl_slist_free_all(hdrs);
        curl_multi_cleanup(multi);
        curl_global_cleanup();
        free(req);
        free(slots);
        free(lat);
        free(ack);
        free(rtt);
        return (errors == 0 && accepted == n && n_active == n && listed == n) ? 0 : 1;
}
