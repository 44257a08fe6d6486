/* SPDX-License-Identifier: Apache-2.0 */
/*
 * osb-provider: an Open Service Broker (v2.13-2.17) provider for the tests,
 * and nothing else. It listens on 127.0.0.1 only, keeps its instances in
 * memory (with --state on disk as well), and offers exactly the services and
 * plans that the broker's own catalogue files name in their http plans'
 * specs (remote_service_id, remote_plan_id), so the two cannot drift apart.
 *
 *   osb-provider --catalog-dir etc/catalog [--provider linfen-paas] [--port 0]
 *                [--username U --password P] [--state FILE] [switches...]
 *
 * It prints "listening 127.0.0.1:PORT" on stdout once it serves.
 *
 * --state FILE           keep the instances and bindings durably, as a real
 *                        provider would: every change (an instance created,
 *                        updated, deleted or lost; a binding created or
 *                        deleted; an asynchronous operation ending) is
 *                        appended to FILE as one JSON line,
 *                        {"event", "id", "instance": {...} or null, "gone"?},
 *                        and fdatasync'd before the answer is sent (a line
 *                        is the instance's whole record with its bindings;
 *                        null: the instance is gone). At start-up FILE is
 *                        replayed, so a restarted provider still knows its
 *                        instances; a torn last line (a crash mid-write) is
 *                        ignored with a message on stderr and cut off, any
 *                        other bad line refuses the start. An operation
 *                        under way when the provider stopped ends at its
 *                        first look after the restart. Switches and counters
 *                        are not kept. A failed write ends the provider
 *                        (exit 1): answering would promise what is not on
 *                        disk. GET /control counts the fdatasyncs
 *                        ("state_syncs"). Without --state nothing is written.
 *
 * Switches (on the command line as --name[=value], or at run time with
 * POST /control {"name": value, ...}; GET /control answers the switches, the
 * instances and the counters, for the tests' "exactly one instance" checks):
 *
 *   async_ms N             provisions, updates and deprovisions answer 202 and
 *                          finish N ms later (0: synchronous, 201/200)
 *   retry_after S          last_operation answers carry Retry-After: S
 *   fail_next N            the next N /v2/service_instances requests answer 500
 *   refuse_next N          the next N provisions answer 400 (a final refusal)
 *   hang                   /v2 requests are never answered (held 120 s at most)
 *   drip                   /v2 bodies are sent one byte every 300 ms
 *   malformed              /v2 bodies are not JSON
 *   malformed_provision    only the answers to PUT service_instances are not JSON
 *   huge                   /v2 bodies are 4 MiB of JSON
 *   fail_provision         an asynchronous provision ends in state "failed"
 *                          (the instance stays: the broker must delete it)
 *   forget_deprovision     DELETE answers success and keeps the instance
 *   lose ID                forgets instance ID at once (POST /control only)
 *   max_polling_duration S every plan says so in the catalogue
 *   fail_update            an asynchronous update (plan change) ends in state "failed"
 *   bind_async_ms N        bindings and unbindings answer 202 and finish N ms
 *                          later, polled on the binding's last_operation
 *   fail_bind              an asynchronous binding ends in state "failed"
 *                          (the binding stays: the broker must delete it)
 *   malformed_bind         only the answers to PUT service_bindings are not JSON
 *                          (the binding is made: the broker must delete it)
 *   binding_schema         every plan's catalogue entry carries
 *                          schemas.service_binding.create.parameters (app_name
 *                          required, 1 to 32 of Chinese characters, ASCII
 *                          letters, digits, _ and -; read_only, db_password,
 *                          client_ip (format ipv4); nothing else),
 *                          read by the broker when it next reads /v2/catalog
 *   unbindable             every plan in /v2/catalog says bindable: false
 *   instance_schema        every plan carries schemas.service_instance.create.
 *                          parameters (charset: utf8mb4 or gbk, admin_password;
 *                          nothing else) and .update.parameters (the same and
 *                          backup: {window (required, at most 11 characters),
 *                          retention_days (1 to 35)}; nothing else)
 *
 * The parameters a binding's or an instance's PUT carried are kept with it and
 * shown in GET /control (instances[].binding_parameters, .parameters), and
 * the last PATCH as instances[].update ({plan_id, parameters,
 * previous_values}, counted in "updates"), so that a test sees what arrived.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY      (64 * 1024)
#define HANG_SECONDS  120
#define MAX_INSTANCES 4096

typedef struct Instance {
        char *id;
        char *service_id, *plan_id;
        json_t *context;
        char *originating_identity, *request_identity;
        /* "in progress" until ready_ms; then "succeeded" or "failed" */
        char op[16]; /* provision, update, deprovision */
        long long ready_ms;
        bool failed;
        int op_seq;
        json_t *bindings;   /* binding id -> {"credentials": ...} */
        json_t *parameters; /* what the provisioning PUT carried, or NULL */
        json_t *update;     /* the last PATCH: {plan_id?, parameters?, previous_values?}, or NULL */
} Instance;

static struct {
        pthread_mutex_t lock;
        json_t *catalog;
        const char *username, *password;
        long async_ms;
        long retry_after;
        long fail_next, refuse_next;
        bool hang, drip, malformed, malformed_provision, huge, fail_provision, forget_deprovision;
        long max_polling_duration;
        Instance *inst[MAX_INSTANCES];
        size_t n_inst;
        long bind_async_ms;
        bool fail_bind, malformed_bind, fail_update, binding_schema, unbindable, instance_schema;
        long requests, provisions, deprovisions, polls, rejected, binds, unbinds, updates;
        volatile sig_atomic_t stop;
        json_t *gone_ops; /* instance id -> true: deprovisioned, last_operation says 410 */
        int state_fd;     /* --state FILE, appended to; -1 without */
        long state_syncs; /* fdatasyncs of FILE done */
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .state_fd = -1 };

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the catalogue, read from the broker's own catalogue files ---- */

static json_t *find_by_id(json_t *array, const char *id) {
        size_t i;
        json_t *v;
        json_array_foreach(array, i, v) {
                if (strcmp(json_string_value(json_object_get(v, "id")) ?: "", id) == 0)
                        return v;
        }
        return NULL;
}

static int add_plan(const char *service_file_id, const char *service_name, bool bindable, json_t *plan,
                    const char *filter) {
        json_t *spec = json_object_get(plan, "spec");
        const char *prov = json_string_value(json_object_get(spec, "provider"));
        const char *rs = json_string_value(json_object_get(spec, "remote_service_id"));
        const char *rp = json_string_value(json_object_get(spec, "remote_plan_id"));
        json_t *services = json_object_get(P.catalog, "services"), *svc, *plans;

        if (!rs || !rp || (filter && (!prov || strcmp(prov, filter) != 0)))
                return 0;
        svc = find_by_id(services, rs);
        if (!svc) {
                svc = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:[]}", "id", rs, "name", rs, "description",
                                service_name, "bindable", bindable, "instances_retrievable", 1,
                                "bindings_retrievable", 1, "plans");
                json_array_append_new(services, svc);
        }
        plans = json_object_get(svc, "plans");
        if (find_by_id(plans, rp))
                return 0;
        json_t *p = json_pack("{s:s, s:s, s:s, s:b}", "id", rp, "name", rp, "description",
                              json_string_value(json_object_get(plan, "display_name")) ?: rp,
                              "plan_updateable", 1);
        if (P.max_polling_duration > 0)
                json_object_set_new(p, "maximum_polling_duration", json_integer(P.max_polling_duration));
        json_array_append_new(plans, p);
        (void)service_file_id;
        return 1;
}

static int load_catalog(const char *dir, const char *filter) {
        char cmd[4096];
        FILE *ls;
        char path[4096];
        int n = 0;

        P.catalog = json_pack("{s:[]}", "services");
        snprintf(cmd, sizeof(cmd), "ls -1 '%s'/*.json", dir);
        ls = popen(cmd, "r");
        if (!ls)
                return -errno;
        while (fgets(path, sizeof(path), ls)) {
                json_error_t e;
                json_t *svc, *plans, *plan;
                size_t i;

                path[strcspn(path, "\n")] = 0;
                svc = json_load_file(path, 0, &e);
                if (!svc) {
                        fprintf(stderr, "osb-provider: %s:%d: %s\n", path, e.line, e.text);
                        pclose(ls);
                        return -EINVAL;
                }
                if (strcmp(json_string_value(json_object_get(svc, "driver")) ?: "", "http") == 0) {
                        plans = json_object_get(svc, "plans");
                        json_array_foreach(plans, i, plan) {
                                n += add_plan(json_string_value(json_object_get(svc, "id")),
                                              json_string_value(json_object_get(svc, "display_name")) ?: "",
                                              json_is_true(json_object_get(svc, "bindable")), plan, filter);
                        }
                }
                json_decref(svc);
        }
        pclose(ls);
        return n;
}

/* What the switches binding_schema and unbindable make of the catalogue answered. */
static void catalog_switches(json_t *cat) {
        json_t *svc, *plan;
        size_t i, j;
        json_array_foreach(json_object_get(cat, "services"), i, svc) {
                json_array_foreach(json_object_get(svc, "plans"), j, plan) {
                        if (P.unbindable)
                                json_object_set_new(plan, "bindable", json_false());
                        if (P.binding_schema || P.instance_schema)
                                json_object_set_new(plan, "schemas", json_object());
                        if (P.instance_schema)
                                json_object_set_new(
                                        json_object_get(plan, "schemas"), "service_instance",
                                        json_pack("{s:{s:{s:s, s:b, s:{s:{s:s, s:[s, s]}, s:{s:s}}}}}",
                                                  "create", "parameters", "type", "object",
                                                  "additionalProperties", 0, "properties", "charset", "type",
                                                  "string", "enum", "utf8mb4", "gbk", "admin_password",
                                                  "type", "string"));
                        /* An update takes nested parameters: a backup window and retention. */
                        if (P.instance_schema)
                                json_object_set_new(
                                        json_object_get(json_object_get(plan, "schemas"), "service_instance"),
                                        "update",
                                        json_pack(
                                                "{s:{s:s, s:b, s:{s:{s:s, s:[s, s]}, s:{s:s}, "
                                                "s:{s:s, s:[s], s:b, s:{s:{s:s, s:I}, s:{s:s, s:I, s:I}}}}}}",
                                                "parameters", "type", "object", "additionalProperties", 0,
                                                "properties", "charset", "type", "string", "enum", "utf8mb4",
                                                "gbk", "admin_password", "type", "string", "backup", "type",
                                                "object", "required", "window", "additionalProperties", 0,
                                                "properties", "window", "type", "string", "maxLength",
                                                (json_int_t)11, "retention_days", "type", "integer",
                                                "minimum", (json_int_t)1, "maximum", (json_int_t)35));
                        if (P.binding_schema)
                                json_object_set_new(
                                        json_object_get(plan, "schemas"), "service_binding",
                                        json_pack("{s:{s:{s:s, s:[s], s:b, s:{s:{s:s, s:s}, s:{s:s}, "
                                                  "s:{s:s}, s:{s:s, s:s}}}}}",
                                                  "create", "parameters", "type", "object", "required",
                                                  "app_name", "additionalProperties", 0, "properties",
                                                  "app_name", "type", "string", "pattern",
                                                  "^[\\u4e00-\\u9fa5A-Za-z0-9_-]{1,32}$", "read_only", "type",
                                                  "boolean", "db_password", "type", "string", "client_ip",
                                                  "type", "string", "format", "ipv4"));
                }
        }
}

static json_t *catalog_plan(const char *service_id, const char *plan_id) {
        json_t *svc = find_by_id(json_object_get(P.catalog, "services"), service_id);
        return svc ? find_by_id(json_object_get(svc, "plans"), plan_id) : NULL;
}

/* ---- instances (under P.lock) ---- */

static Instance *inst_find(const char *id) {
        for (size_t i = 0; i < P.n_inst; i++)
                if (strcmp(P.inst[i]->id, id) == 0)
                        return P.inst[i];
        return NULL;
}

static void inst_remove(const char *id) {
        for (size_t i = 0; i < P.n_inst; i++)
                if (strcmp(P.inst[i]->id, id) == 0) {
                        Instance *in = P.inst[i];
                        free(in->id);
                        free(in->service_id);
                        free(in->plan_id);
                        free(in->originating_identity);
                        free(in->request_identity);
                        json_decref(in->context);
                        json_decref(in->parameters);
                        json_decref(in->update);
                        json_decref(in->bindings);
                        free(in);
                        P.inst[i] = P.inst[--P.n_inst];
                        return;
                }
}

/* ---- the state file (--state FILE; under P.lock) ---- */

static char *dupnull(const char *s) {
        return s ? strdup(s) : NULL;
}

/* An instance's whole record, as a line of the state file holds it. The
 * bindings' ready_ms are this run's monotonic clock: the replay reads any
 * non-zero one as "under way". */
static json_t *inst_record(const Instance *in) {
        return json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?, s:s?, s:s?, s:s, s:b, s:b, s:O}", "id", in->id,
                         "service_id", in->service_id, "plan_id", in->plan_id, "context", in->context,
                         "parameters", in->parameters, "update", in->update, "originating_identity",
                         in->originating_identity, "request_identity", in->request_identity, "op", in->op,
                         "failed", in->failed, "in_progress", in->ready_ms != 0, "bindings", in->bindings);
}

static void die_state(const char *what) {
        fprintf(stderr, "osb-provider: cannot %s the state file: %s; stopping\n", what, strerror(errno));
        _exit(1);
}

/* Appends one change to the state file and makes it durable before the
 * caller answers: what a real provider's 201 or 200 promises. in NULL: the
 * instance id is gone. gone: an instance or binding id whose last_operation
 * now answers 410. A write that fails ends the provider (die_state): an
 * answer after it would promise what is not on disk. */
static void journal(const char *event, const char *id, const Instance *in, const char *gone) {
        json_t *o;
        char *text, *line;
        size_t len, off = 0;

        if (P.state_fd < 0)
                return;
        o = json_pack("{s:s, s:s, s:o, s:s?}", "event", event, "id", id, "instance",
                      in ? inst_record(in) : json_null(), "gone", gone);
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!text) {
                errno = ENOMEM;
                die_state("encode a line of");
        }
        len = strlen(text);
        line = realloc(text, len + 2);
        if (!line) {
                free(text);
                errno = ENOMEM;
                die_state("encode a line of");
        }
        line[len++] = '\n';
        line[len] = 0;
        while (off < len) {
                ssize_t n = write(P.state_fd, line + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n == 0)
                                errno = EIO;
                        die_state("write");
                }
                off += (size_t)n;
        }
        free(line);
        if (fdatasync(P.state_fd) < 0)
                die_state("fdatasync");
        P.state_syncs++;
}

static json_t *json_or_null(json_t *v) {
        return v && !json_is_null(v) ? json_incref(v) : NULL;
}

/* An instance back from its record (state_replay). */
static int inst_from_record(const char *id, json_t *r) {
        const char *sid = json_string_value(json_object_get(r, "service_id"));
        const char *pid = json_string_value(json_object_get(r, "plan_id"));
        const char *op = json_string_value(json_object_get(r, "op"));
        json_t *bindings = json_object_get(r, "bindings"), *b;
        const char *bid;
        Instance *in;

        if (!sid || !pid || !op || strlen(op) >= sizeof(in->op) || !json_is_object(bindings))
                return -EINVAL;
        if (P.n_inst >= MAX_INSTANCES)
                return -ENOSPC;
        in = calloc(1, sizeof(*in));
        if (!in)
                return -ENOMEM;
        in->id = strdup(id);
        in->service_id = strdup(sid);
        in->plan_id = strdup(pid);
        in->context = json_or_null(json_object_get(r, "context"));
        in->parameters = json_or_null(json_object_get(r, "parameters"));
        in->update = json_or_null(json_object_get(r, "update"));
        in->originating_identity = dupnull(json_string_value(json_object_get(r, "originating_identity")));
        in->request_identity = dupnull(json_string_value(json_object_get(r, "request_identity")));
        snprintf(in->op, sizeof(in->op), "%s", op);
        in->failed = json_is_true(json_object_get(r, "failed"));
        /* An operation under way when the provider stopped ends at its first look. */
        in->ready_ms = json_is_true(json_object_get(r, "in_progress")) ? now_ms() ?: 1 : 0;
        in->bindings = json_deep_copy(bindings);
        json_object_foreach(in->bindings, bid, b) {
                if (json_integer_value(json_object_get(b, "ready_ms")))
                        json_object_set_new(b, "ready_ms", json_integer(now_ms() ?: 1));
                json_object_del(P.gone_ops, bid);
        }
        json_object_del(P.gone_ops, id);
        P.inst[P.n_inst++] = in;
        return 0;
}

/* One line of the state file, applied: the instance's record replaces what
 * was known of it (null: it is gone). */
static int state_apply(json_t *line) {
        const char *id = json_string_value(json_object_get(line, "id"));
        const char *gone = json_string_value(json_object_get(line, "gone"));
        json_t *r = json_object_get(line, "instance");

        if (!id || !r || !(json_is_null(r) || json_is_object(r)))
                return -EINVAL;
        inst_remove(id);
        if (gone)
                json_object_set_new(P.gone_ops, gone, json_true());
        return json_is_null(r) ? 0 : inst_from_record(id, r);
}

/* Replays FILE (it may not exist yet), cuts off a torn last line, and opens
 * it for appending. A bad line before the last is not a crash's tear but a
 * damaged file: the provider refuses to start rather than guess. */
static int state_open(const char *path) {
        FILE *f = fopen(path, "r");
        char *text = NULL, dir[4096], *slash;
        size_t cap = 0;
        ssize_t n;
        off_t good = 0;
        long lineno = 0, records = 0;
        bool torn = false;
        int fd, dfd;

        if (!f && errno != ENOENT)
                return -errno;
        while (f && (n = getline(&text, &cap, f)) > 0) {
                bool whole = text[n - 1] == '\n';
                json_t *line = whole ? json_loadb(text, (size_t)n, 0, NULL) : NULL;
                int r = line ? state_apply(line) : -EINVAL;
                int next = fgetc(f);

                lineno++;
                json_decref(line);
                if (r < 0 && next == EOF && (!whole || !line)) {
                        fprintf(stderr,
                                "osb-provider: %s:%ld: a torn last line (%zd bytes) ignored and cut off\n",
                                path, lineno, n);
                        torn = true;
                        break;
                }
                if (r < 0) {
                        fprintf(stderr, "osb-provider: %s:%ld: not a state record (%s); refusing to start\n",
                                path, lineno, strerror(-r));
                        free(text);
                        fclose(f);
                        return -EINVAL;
                }
                if (next != EOF)
                        ungetc(next, f);
                good += n;
                records++;
        }
        free(text);
        if (f)
                fclose(f);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (torn && (ftruncate(fd, good) < 0 || fdatasync(fd) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        /* The file's name in its directory is durable too (it may be new). */
        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        else
                snprintf(dir, sizeof(dir), ".");
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) {
                int r = -errno;
                if (dfd >= 0)
                        close(dfd);
                close(fd);
                return r;
        }
        close(dfd);
        fprintf(stderr, "osb-provider: %s: %ld records replayed, %zu instances\n", path, records, P.n_inst);
        P.state_fd = fd;
        return 0;
}

/* Moves an operation whose time has come to its end. */
static void inst_settle(Instance *in) {
        if (in->ready_ms == 0 || now_ms() < in->ready_ms)
                return;
        in->ready_ms = 0;
        if (strcmp(in->op, "provision") == 0 && P.fail_provision)
                in->failed = true;
        if (strcmp(in->op, "update") == 0 && P.fail_update)
                in->failed = true;
        if (strcmp(in->op, "deprovision") == 0 && !P.forget_deprovision) {
                json_object_set_new(P.gone_ops, in->id, json_true());
                journal("settle", in->id, NULL, in->id);
                inst_remove(in->id);
                return;
        }
        journal("settle", in->id, in, NULL);
}

static const char *inst_state(const Instance *in) {
        if (in->ready_ms)
                return "in progress";
        return in->failed ? "failed" : "succeeded";
}

static json_t *inst_to_json(const Instance *in) {
        json_t *ids = json_array();
        const char *k;
        json_t *v;
        json_t *params = json_object();
        json_object_foreach(in->bindings, k, v) {
                json_array_append_new(ids, json_string(k));
                json_object_set(params, k, json_object_get(v, "parameters") ?: json_null());
        }
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O?, s:s?, s:s?, s:I, s:o, s:o, s:O?, s:O?}", "id",
                         in->id, "service_id", in->service_id, "plan_id", in->plan_id, "last_operation",
                         in->op, "state", inst_state(in), "context", in->context, "originating_identity",
                         in->originating_identity, "request_identity", in->request_identity, "bindings",
                         (json_int_t)json_object_size(in->bindings), "binding_ids", ids, "binding_parameters",
                         params, "parameters", in->parameters, "update", in->update);
}

/* ---- answers ---- */

typedef struct Req {
        char *body;
        size_t len;
        bool too_big;
} Req;

typedef struct Drip {
        char *data;
        size_t len, pos;
} Drip;

static ssize_t drip_read(void *cls, uint64_t pos, char *buf, size_t max) {
        Drip *d = cls;
        (void)pos;
        if (d->pos >= d->len)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (P.stop)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        usleep(300 * 1000);
        if (max < 1)
                return 0;
        buf[0] = d->data[d->pos++];
        return 1;
}

static void drip_free(void *cls) {
        Drip *d = cls;
        free(d->data);
        free(d);
}

/* Sends body (taken) with status; the misbehaviour switches apply to /v2. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, json_t *body, bool v2,
                              long retry_after) {
        char *text;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        bool malformed, huge, drip;

        pthread_mutex_lock(&P.lock);
        malformed = v2 && P.malformed;
        huge = v2 && P.huge;
        drip = v2 && P.drip;
        pthread_mutex_unlock(&P.lock);

        if (huge) {
                size_t n = 4 * 1024 * 1024;
                text = malloc(n + 16);
                if (!text)
                        return MHD_NO;
                strcpy(text, "{\"pad\":\"");
                memset(text + 8, 'x', n);
                strcpy(text + 8 + n, "\"}");
        } else if (malformed)
                text = strdup("{\"state\": \"succeeded\", oops");
        else
                text = json_dumps(body ? body : json_object(), JSON_COMPACT);
        json_decref(body);
        if (!text)
                return MHD_NO;
        if (drip) {
                Drip *d = calloc(1, sizeof(*d));
                if (!d) {
                        free(text);
                        return MHD_NO;
                }
                d->data = text;
                d->len = strlen(text);
                resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1, drip_read, d, drip_free);
        } else
                resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/json");
        if (retry_after > 0) {
                char ra[32];
                snprintf(ra, sizeof(ra), "%ld", retry_after);
                MHD_add_response_header(resp, "Retry-After", ra);
        }
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result osb_error(struct MHD_Connection *c, unsigned status, const char *error,
                                 const char *description) {
        json_t *o = json_pack("{s:s}", "description", description);
        if (error)
                json_object_set_new(o, "error", json_string(error));
        return answer(c, status, o, true, 0);
}

static const char *query(struct MHD_Connection *c, const char *key) {
        return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static const char *header(struct MHD_Connection *c, const char *key) {
        return MHD_lookup_connection_value(c, MHD_HEADER_KIND, key);
}

static bool accepts_incomplete(struct MHD_Connection *c) {
        const char *v = query(c, "accepts_incomplete");
        return v && strcmp(v, "true") == 0;
}

/* PUT /v2/service_instances/ID */
static enum MHD_Result provision(struct MHD_Connection *c, const char *id, json_t *body) {
        const char *sid = json_string_value(json_object_get(body, "service_id"));
        const char *pid = json_string_value(json_object_get(body, "plan_id"));
        Instance *in;
        json_t *reply;
        unsigned status;

        if (!sid || !pid)
                return osb_error(c, 400, NULL, "service_id and plan_id are required");
        if (!catalog_plan(sid, pid))
                return osb_error(c, 400, NULL, "no such service or plan in this provider's catalogue");
        pthread_mutex_lock(&P.lock);
        P.provisions++;
        if (P.refuse_next > 0) {
                P.refuse_next--;
                pthread_mutex_unlock(&P.lock);
                return osb_error(c, 400, "BadRequest", "refused by the test provider (injected)");
        }
        in = inst_find(id);
        if (in) {
                inst_settle(in);
                bool same = strcmp(in->service_id, sid) == 0 && strcmp(in->plan_id, pid) == 0;
                status = !same ? 409 : in->ready_ms ? 202 : 200;
                reply = status == 202 ? json_pack("{s:s}", "operation", in->op) : json_object();
                pthread_mutex_unlock(&P.lock);
                return answer(c, status, reply, true, 0);
        }
        if (P.async_ms > 0 && !accepts_incomplete(c)) {
                pthread_mutex_unlock(&P.lock);
                return osb_error(c, 422, "AsyncRequired",
                                 "this service plan requires asynchronous operations");
        }
        if (P.n_inst >= MAX_INSTANCES) {
                pthread_mutex_unlock(&P.lock);
                return osb_error(c, 507, NULL, "full");
        }
        in = calloc(1, sizeof(*in));
        in->id = strdup(id);
        in->service_id = strdup(sid);
        in->plan_id = strdup(pid);
        in->context = json_incref(json_object_get(body, "context"));
        in->parameters = json_incref(json_object_get(body, "parameters"));
        in->originating_identity = dupnull(header(c, "X-Broker-API-Originating-Identity"));
        in->request_identity = dupnull(header(c, "X-Broker-API-Request-Identity"));
        in->bindings = json_object();
        snprintf(in->op, sizeof(in->op), "provision");
        in->ready_ms = P.async_ms > 0 ? now_ms() + P.async_ms : 0;
        P.inst[P.n_inst++] = in;
        json_object_del(P.gone_ops, id);
        journal("provision", id, in, NULL);
        status = in->ready_ms ? 202 : 201;
        reply = in->ready_ms ? json_pack("{s:s}", "operation", "provision") : json_object();
        json_object_set_new(reply, "dashboard_url", json_sprintf("http://127.0.0.1/dashboard/%s", id));
        if (P.malformed_provision) {
                static char bad[] = "{\"operation\": oops";
                struct MHD_Response *resp =
                        MHD_create_response_from_buffer(strlen(bad), bad, MHD_RESPMEM_PERSISTENT);
                pthread_mutex_unlock(&P.lock);
                json_decref(reply);
                enum MHD_Result ret = MHD_queue_response(c, status, resp);
                MHD_destroy_response(resp);
                return ret;
        }
        pthread_mutex_unlock(&P.lock);
        return answer(c, status, reply, true, 0);
}

/* PATCH /v2/service_instances/ID */
static enum MHD_Result update(struct MHD_Connection *c, const char *id, json_t *body) {
        const char *pid = json_string_value(json_object_get(body, "plan_id"));
        const char *sid = json_string_value(json_object_get(body, "service_id"));
        Instance *in;
        bool async;

        if (!sid)
                return osb_error(c, 400, NULL, "service_id is required");
        pthread_mutex_lock(&P.lock);
        in = inst_find(id);
        if (in)
                inst_settle(in);
        if (!in || strcmp(in->service_id, sid) != 0 || (pid && !catalog_plan(sid, pid)) || in->ready_ms) {
                bool busy = in && in->ready_ms;
                pthread_mutex_unlock(&P.lock);
                return busy ? osb_error(c, 422, "ConcurrencyError", "an operation is under way")
                            : osb_error(c, 400, NULL, "no such instance, service or plan");
        }
        async = P.async_ms > 0;
        if (async && !accepts_incomplete(c)) {
                pthread_mutex_unlock(&P.lock);
                return osb_error(c, 422, "AsyncRequired",
                                 "this service plan requires asynchronous operations");
        }
        if (pid) {
                free(in->plan_id);
                in->plan_id = strdup(pid);
        }
        json_decref(in->update);
        in->update = json_pack("{s:O*, s:O*, s:O*}", "plan_id", json_object_get(body, "plan_id"),
                               "parameters", json_object_get(body, "parameters"), "previous_values",
                               json_object_get(body, "previous_values"));
        P.updates++;
        snprintf(in->op, sizeof(in->op), "update");
        in->failed = false;
        in->ready_ms = async ? now_ms() + P.async_ms : 0;
        journal("update", id, in, NULL);
        pthread_mutex_unlock(&P.lock);
        return answer(c, async ? 202 : 200, async ? json_pack("{s:s}", "operation", "update") : json_object(),
                      true, 0);
}

/* DELETE /v2/service_instances/ID?service_id=..&plan_id=.. */
static enum MHD_Result deprovision(struct MHD_Connection *c, const char *id) {
        const char *sid = query(c, "service_id"), *pid = query(c, "plan_id");
        Instance *in;
        bool async;

        if (!sid || !pid)
                return osb_error(c, 400, NULL, "service_id and plan_id are required");
        pthread_mutex_lock(&P.lock);
        P.deprovisions++;
        in = inst_find(id);
        if (in)
                inst_settle(in);
        if (!in) {
                pthread_mutex_unlock(&P.lock);
                return answer(c, 410, json_object(), true, 0);
        }
        if (in->ready_ms && strcmp(in->op, "deprovision") == 0) {
                pthread_mutex_unlock(&P.lock);
                return answer(c, 202, json_pack("{s:s}", "operation", "deprovision"), true, 0);
        }
        async = P.async_ms > 0;
        if (async && !accepts_incomplete(c)) {
                pthread_mutex_unlock(&P.lock);
                return osb_error(c, 422, "AsyncRequired",
                                 "this service plan requires asynchronous operations");
        }
        if (async) {
                snprintf(in->op, sizeof(in->op), "deprovision");
                in->failed = false;
                in->ready_ms = now_ms() + P.async_ms;
                journal("deprovision", id, in, NULL);
        } else if (!P.forget_deprovision) {
                json_object_set_new(P.gone_ops, id, json_true());
                journal("deprovision", id, NULL, id);
                inst_remove(id);
        }
        pthread_mutex_unlock(&P.lock);
        return answer(c, async ? 202 : 200,
                      async ? json_pack("{s:s}", "operation", "deprovision") : json_object(), true, 0);
}

/* GET /v2/service_instances/ID/last_operation */
static enum MHD_Result last_operation(struct MHD_Connection *c, const char *id) {
        Instance *in;
        json_t *reply;
        long ra;

        pthread_mutex_lock(&P.lock);
        P.polls++;
        ra = P.retry_after;
        in = inst_find(id);
        if (in)
                inst_settle(in);
        in = inst_find(id);
        if (!in) {
                bool gone = json_is_true(json_object_get(P.gone_ops, id));
                pthread_mutex_unlock(&P.lock);
                return gone ? answer(c, 410, json_object(), true, 0)
                            : osb_error(c, 404, NULL, "no such instance");
        }
        reply = json_pack("{s:s, s:s}", "state", inst_state(in), "description",
                          in->failed ? "the provider could not build the instance (injected failure)"
                                     : in->op);
        pthread_mutex_unlock(&P.lock);
        return answer(c, 200, reply, true, ra);
}

/* GET /v2/service_instances/ID */
static enum MHD_Result fetch_instance(struct MHD_Connection *c, const char *id) {
        Instance *in;
        json_t *reply = NULL;

        pthread_mutex_lock(&P.lock);
        in = inst_find(id);
        if (in) {
                inst_settle(in);
                in = inst_find(id);
        }
        if (in && !in->ready_ms)
                reply = json_pack("{s:s, s:s, s:{}}", "service_id", in->service_id, "plan_id", in->plan_id,
                                  "parameters");
        pthread_mutex_unlock(&P.lock);
        if (!in)
                return osb_error(c, 404, NULL, "no such instance");
        if (!reply)
                return osb_error(c, 422, "ConcurrencyError", "an operation is under way");
        return answer(c, 200, reply, true, 0);
}

/* A binding: {"credentials", "ready_ms", "op" ("bind"/"unbind"), "failed"}; its
 * operation settles like an instance's. */
static void binding_settle(Instance *in, const char *bid, json_t *b) {
        json_int_t ready = json_integer_value(json_object_get(b, "ready_ms"));
        if (ready == 0 || now_ms() < ready)
                return;
        json_object_set_new(b, "ready_ms", json_integer(0));
        if (strcmp(json_string_value(json_object_get(b, "op")) ?: "", "unbind") == 0) {
                json_object_set_new(P.gone_ops, bid, json_true());
                json_object_del(in->bindings, bid);
                journal("settle", in->id, in, bid);
                return;
        }
        if (P.fail_bind)
                json_object_set_new(b, "failed", json_true());
        journal("settle", in->id, in, NULL);
}

/* PUT/GET/DELETE /v2/service_instances/ID/service_bindings/BID[/last_operation] */
static enum MHD_Result binding(struct MHD_Connection *c, const char *method, const char *id, const char *bid,
                               bool last_op, json_t *body) {
        Instance *in;
        json_t *b;
        bool async;

        pthread_mutex_lock(&P.lock);
        in = inst_find(id);
        if (in)
                inst_settle(in);
        in = inst_find(id);
        if (!in) {
                pthread_mutex_unlock(&P.lock);
                return strcmp(method, "DELETE") == 0 ? answer(c, 410, json_object(), true, 0)
                                                     : osb_error(c, 404, NULL, "no such instance");
        }
        b = json_object_get(in->bindings, bid);
        if (b)
                binding_settle(in, bid, b);
        b = json_object_get(in->bindings, bid);
        async = P.bind_async_ms > 0;
        if (last_op) {
                json_t *reply;
                long ra = P.retry_after;
                bool gone = !b && json_is_true(json_object_get(P.gone_ops, bid));
                P.polls++;
                if (!b) {
                        pthread_mutex_unlock(&P.lock);
                        return gone ? answer(c, 410, json_object(), true, 0)
                                    : osb_error(c, 404, NULL, "no such binding");
                }
                reply = json_pack("{s:s, s:s}", "state",
                                  json_integer_value(json_object_get(b, "ready_ms")) ? "in progress"
                                  : json_is_true(json_object_get(b, "failed"))       ? "failed"
                                                                                     : "succeeded",
                                  "description",
                                  json_is_true(json_object_get(b, "failed"))
                                          ? "the provider could not make the binding (injected failure)"
                                          : json_string_value(json_object_get(b, "op")) ?: "bind");
                pthread_mutex_unlock(&P.lock);
                return answer(c, 200, reply, true, ra);
        }
        if (strcmp(method, "PUT") == 0) {
                unsigned status;
                json_t *reply;
                P.binds++;
                if (async && !accepts_incomplete(c)) {
                        pthread_mutex_unlock(&P.lock);
                        return osb_error(c, 422, "AsyncRequired", "this plan binds asynchronously");
                }
                if (b) {
                        bool busy = json_integer_value(json_object_get(b, "ready_ms")) != 0;
                        status = busy ? 202 : 200;
                } else {
                        b = json_pack("{s:{s:s, s:i, s:s, s:s}, s:I, s:s}", "credentials", "host",
                                      "127.0.0.1", "port", 3306, "username", bid, "password",
                                      "s3cret-test-only", "ready_ms",
                                      (json_int_t)(async ? now_ms() + P.bind_async_ms : 0), "op", "bind");
                        json_object_set(b, "parameters", json_object_get(body, "parameters") ?: json_null());
                        json_object_set_new(in->bindings, bid, b);
                        json_object_del(P.gone_ops, bid);
                        journal("bind", id, in, NULL);
                        status = async ? 202 : 201;
                }
                reply = status == 202 ? json_pack("{s:s}", "operation", "bind")
                                      : json_pack("{s:O}", "credentials", json_object_get(b, "credentials"));
                if (P.malformed_bind) {
                        static char bad[] = "{\"credentials\": oops";
                        struct MHD_Response *resp =
                                MHD_create_response_from_buffer(strlen(bad), bad, MHD_RESPMEM_PERSISTENT);
                        pthread_mutex_unlock(&P.lock);
                        json_decref(reply);
                        enum MHD_Result ret = MHD_queue_response(c, status, resp);
                        MHD_destroy_response(resp);
                        return ret;
                }
                pthread_mutex_unlock(&P.lock);
                return answer(c, status, reply, true, 0);
        }
        if (strcmp(method, "GET") == 0) {
                json_t *reply = b && !json_integer_value(json_object_get(b, "ready_ms")) &&
                                                !json_is_true(json_object_get(b, "failed"))
                                        ? json_pack("{s:O}", "credentials", json_object_get(b, "credentials"))
                                        : NULL;
                pthread_mutex_unlock(&P.lock);
                return reply ? answer(c, 200, reply, true, 0) : osb_error(c, 404, NULL, "no such binding");
        }
        P.unbinds++;
        if (!b) {
                pthread_mutex_unlock(&P.lock);
                return answer(c, 410, json_object(), true, 0);
        }
        if (async) {
                json_object_set_new(b, "op", json_string("unbind"));
                json_object_set_new(b, "failed", json_false());
                json_object_set_new(b, "ready_ms", json_integer(now_ms() + P.bind_async_ms));
                journal("unbind", id, in, NULL);
                pthread_mutex_unlock(&P.lock);
                return answer(c, 202, json_pack("{s:s}", "operation", "unbind"), true, 0);
        }
        json_object_set_new(P.gone_ops, bid, json_true());
        json_object_del(in->bindings, bid);
        journal("unbind", id, in, bid);
        pthread_mutex_unlock(&P.lock);
        return answer(c, 200, json_object(), true, 0);
}

/* ---- the control route ---- */

static int set_switch(const char *name, json_t *v) {
        if (strcmp(name, "lose") == 0) {
                if (!json_is_string(v))
                        return -EINVAL;
                if (inst_find(json_string_value(v)))
                        journal("lose", json_string_value(v), NULL, NULL);
                inst_remove(json_string_value(v));
                return 0;
        }
        if (strcmp(name, "reset") == 0) {
                P.async_ms = P.retry_after = P.fail_next = P.refuse_next = 0;
                P.hang = P.drip = P.malformed = P.malformed_provision = P.huge = P.fail_provision =
                        P.forget_deprovision = false;
                P.bind_async_ms = 0;
                P.fail_bind = P.malformed_bind = P.fail_update = P.binding_schema = P.unbindable =
                        P.instance_schema = false;
                return 0;
        }
#define LONG_SWITCH(n)                             \
        if (strcmp(name, #n) == 0) {               \
                if (!json_is_integer(v))           \
                        return -EINVAL;            \
                P.n = (long)json_integer_value(v); \
                return 0;                          \
        }
#define BOOL_SWITCH(n)                   \
        if (strcmp(name, #n) == 0) {     \
                if (!json_is_boolean(v)) \
                        return -EINVAL;  \
                P.n = json_is_true(v);   \
                return 0;                \
        }
        LONG_SWITCH(async_ms)
        LONG_SWITCH(retry_after)
        LONG_SWITCH(fail_next)
        LONG_SWITCH(refuse_next)
        LONG_SWITCH(bind_async_ms)
        BOOL_SWITCH(fail_bind)
        BOOL_SWITCH(malformed_bind)
        BOOL_SWITCH(fail_update)
        BOOL_SWITCH(binding_schema)
        BOOL_SWITCH(unbindable)
        BOOL_SWITCH(instance_schema)
        BOOL_SWITCH(hang)
        BOOL_SWITCH(drip)
        BOOL_SWITCH(malformed)
        BOOL_SWITCH(malformed_provision)
        BOOL_SWITCH(huge)
        BOOL_SWITCH(fail_provision)
        BOOL_SWITCH(forget_deprovision)
#undef LONG_SWITCH
#undef BOOL_SWITCH
        return -ENOENT;
}

static json_t *control_state(void) {
        json_t *a = json_array();
        /* Settling may remove an instance: settle them all before listing. */
        for (size_t i = P.n_inst; i > 0; i--)
                inst_settle(P.inst[i - 1]);
        for (size_t i = 0; i < P.n_inst; i++)
                json_array_append_new(a, inst_to_json(P.inst[i]));
        return json_pack("{s:{s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:b, s:b}, s:o, s:I, s:I, s:I, s:I, s:I, "
                         "s:I, s:I, s:I, s:I}",
                         "switches", "async_ms", (json_int_t)P.async_ms, "retry_after",
                         (json_int_t)P.retry_after, "fail_next", (json_int_t)P.fail_next, "hang", P.hang,
                         "drip", P.drip, "malformed", P.malformed, "huge", P.huge, "fail_provision",
                         P.fail_provision, "forget_deprovision", P.forget_deprovision, "instances", a,
                         "requests", (json_int_t)P.requests, "provisions", (json_int_t)P.provisions,
                         "deprovisions", (json_int_t)P.deprovisions, "polls", (json_int_t)P.polls, "rejected",
                         (json_int_t)P.rejected, "binds", (json_int_t)P.binds, "unbinds",
                         (json_int_t)P.unbinds, "updates", (json_int_t)P.updates, "state_syncs",
                         (json_int_t)P.state_syncs);
}

static enum MHD_Result control(struct MHD_Connection *c, const char *method, json_t *body) {
        const char *k;
        json_t *v, *state;

        pthread_mutex_lock(&P.lock);
        if (strcmp(method, "POST") == 0) {
                if (!json_is_object(body)) {
                        pthread_mutex_unlock(&P.lock);
                        return answer(c, 400, json_pack("{s:s}", "error", "a JSON object please"), false, 0);
                }
                json_object_foreach(body, k, v) {
                        if (set_switch(k, v) < 0) {
                                pthread_mutex_unlock(&P.lock);
                                return answer(c, 400,
                                              json_pack("{s:s, s:s}", "error", "bad switch", "switch", k),
                                              false, 0);
                        }
                }
        }
        state = control_state();
        pthread_mutex_unlock(&P.lock);
        return answer(c, 200, state, false, 0);
}

/* ---- dispatch ---- */

static bool version_ok(const char *v) {
        int major, minor;
        return v && sscanf(v, "%d.%d", &major, &minor) == 2 && major == 2 && minor >= 13;
}

static bool auth_ok(struct MHD_Connection *c) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        bool ok = user && pass && strcmp(user, P.username) == 0 && strcmp(pass, P.password) == 0;
        MHD_free(user);
        MHD_free(pass);
        return ok;
}

static enum MHD_Result route_v2(struct MHD_Connection *c, const char *url, const char *method, json_t *body) {
        char id[256], bid[256], rest[64];
        bool hang, fail;

        pthread_mutex_lock(&P.lock);
        P.requests++;
        hang = P.hang;
        /* Not the catalogue: a broker's periodic read would take the failure
         * meant for an operation. */
        fail = P.fail_next > 0 && strncmp(url, "/v2/service_instances/", 22) == 0;
        if (fail)
                P.fail_next--;
        pthread_mutex_unlock(&P.lock);

        if (!auth_ok(c)) {
                __atomic_add_fetch(&P.rejected, 1, __ATOMIC_RELAXED);
                return osb_error(c, 401, NULL, "basic auth required");
        }
        if (!version_ok(header(c, "X-Broker-API-Version"))) {
                __atomic_add_fetch(&P.rejected, 1, __ATOMIC_RELAXED);
                return osb_error(c, 412, NULL, "X-Broker-API-Version 2.13 or later required");
        }
        if (hang) {
                for (int i = 0; i < HANG_SECONDS * 10 && !P.stop; i++)
                        usleep(100 * 1000);
                return MHD_NO;
        }
        if (fail)
                return osb_error(c, 500, NULL, "injected failure");

        if (strcmp(url, "/v2/catalog") == 0 && strcmp(method, "GET") == 0) {
                json_t *cat;
                pthread_mutex_lock(&P.lock);
                cat = json_deep_copy(P.catalog);
                catalog_switches(cat);
                pthread_mutex_unlock(&P.lock);
                return answer(c, 200, cat, true, 0);
        }
        if (sscanf(url, "/v2/service_instances/%255[^/]/service_bindings/%255[^/]", id, bid) == 2) {
                const char *tail =
                        strstr(url, "/service_bindings/") + strlen("/service_bindings/") + strlen(bid);
                if (*tail && strcmp(tail, "/last_operation") != 0)
                        return osb_error(c, 404, NULL, "no such route");
                if (*tail && strcmp(method, "GET") != 0)
                        return osb_error(c, 404, NULL, "no such route");
                return binding(c, method, id, bid, *tail != 0, body);
        }
        if (sscanf(url, "/v2/service_instances/%255[^/]/%63s", id, rest) == 2) {
                if (strcmp(rest, "last_operation") == 0 && strcmp(method, "GET") == 0)
                        return last_operation(c, id);
                return osb_error(c, 404, NULL, "no such route");
        }
        if (sscanf(url, "/v2/service_instances/%255[^/]", id) == 1) {
                if (strcmp(method, "PUT") == 0)
                        return body ? provision(c, id, body)
                                    : osb_error(c, 400, NULL, "a JSON body is required");
                if (strcmp(method, "PATCH") == 0)
                        return body ? update(c, id, body)
                                    : osb_error(c, 400, NULL, "a JSON body is required");
                if (strcmp(method, "DELETE") == 0)
                        return deprovision(c, id);
                if (strcmp(method, "GET") == 0)
                        return fetch_instance(c, id);
        }
        return osb_error(c, 404, NULL, "no such route");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls) {
        Req *r = *con_cls;
        json_t *body = NULL;
        enum MHD_Result ret;
        (void)cls;
        (void)version;

        if (!r) {
                r = calloc(1, sizeof(*r));
                if (!r)
                        return MHD_NO;
                *con_cls = r;
                return MHD_YES;
        }
        if (*upload_size) {
                if (r->len + *upload_size > MAX_BODY)
                        r->too_big = true;
                else {
                        char *nb = realloc(r->body, r->len + *upload_size + 1);
                        if (!nb)
                                return MHD_NO;
                        r->body = nb;
                        memcpy(r->body + r->len, upload, *upload_size);
                        r->len += *upload_size;
                        r->body[r->len] = 0;
                }
                *upload_size = 0;
                return MHD_YES;
        }
        if (r->too_big)
                return answer(c, 413, json_pack("{s:s}", "description", "body too large"), false, 0);
        if (r->len) {
                body = json_loadb(r->body, r->len, 0, NULL);
                if (!body)
                        return answer(c, 400, json_pack("{s:s}", "description", "the body is not JSON"),
                                      false, 0);
        }
        if (strcmp(url, "/control") == 0)
                ret = control(c, method, body);
        else if (strncmp(url, "/v2/", 4) == 0)
                ret = route_v2(c, url, method, body);
        else
                ret = answer(c, 404, json_pack("{s:s}", "description", "no such route"), false, 0);
        json_decref(body);
        return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe) {
        Req *r = *con_cls;
        (void)cls;
        (void)c;
        (void)toe;
        if (r) {
                free(r->body);
                free(r);
        }
        *con_cls = NULL;
}

static void on_signal(int sig) {
        (void)sig;
        P.stop = 1;
}

static int cmdline_switch(const char *name, const char *value) {
        json_t *v;
        int r;
        if (!value)
                v = json_true();
        else if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
                v = json_boolean(strcmp(value, "true") == 0);
        else
                v = json_integer(strtol(value, NULL, 10));
        r = set_switch(name, v);
        if (r == -EINVAL && json_is_true(v)) /* a bare numeric switch */
                r = -EINVAL;
        json_decref(v);
        return r;
}

int main(int argc, char **argv) {
        const char *dir = NULL, *filter = NULL, *state = NULL;
        unsigned port = 0;
        struct MHD_Daemon *d;
        const union MHD_DaemonInfo *info;
        int n;

        P.username = "broker";
        P.password = "broker-secret";
        P.gone_ops = json_object();
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *next = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--catalog-dir") == 0 && next)
                        dir = argv[++i];
                else if (strcmp(a, "--provider") == 0 && next)
                        filter = argv[++i];
                else if (strcmp(a, "--port") == 0 && next)
                        port = (unsigned)strtoul(argv[++i], NULL, 10);
                else if (strcmp(a, "--username") == 0 && next)
                        P.username = argv[++i];
                else if (strcmp(a, "--password") == 0 && next)
                        P.password = argv[++i];
                else if (strcmp(a, "--state") == 0 && next)
                        state = argv[++i];
                else if (strcmp(a, "--max-polling-duration") == 0 && next)
                        P.max_polling_duration = strtol(argv[++i], NULL, 10);
                else if (strncmp(a, "--", 2) == 0) {
                        char name[64];
                        const char *eq = strchr(a, '=');
                        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
                        if (len >= sizeof(name))
                                len = sizeof(name) - 1;
                        memcpy(name, a + 2, len);
                        name[len] = 0;
                        for (char *p = name; *p; p++)
                                if (*p == '-')
                                        *p = '_';
                        if (cmdline_switch(name, eq ? eq + 1 : NULL) < 0) {
                                fprintf(stderr, "osb-provider: unknown or bad switch %s\n", a);
                                return 2;
                        }
                } else {
                        fprintf(stderr, "osb-provider: unexpected argument %s\n", a);
                        return 2;
                }
        }
        if (!dir) {
                fprintf(stderr, "usage: osb-provider --catalog-dir DIR [--provider NAME] [--port N] ...\n");
                return 2;
        }
        n = load_catalog(dir, filter);
        if (n <= 0) {
                fprintf(stderr, "osb-provider: no http plans in %s%s%s\n", dir, filter ? " for " : "",
                        filter ?: "");
                return 1;
        }
        if (state) {
                int r = state_open(state);
                if (r < 0) {
                        fprintf(stderr, "osb-provider: --state %s: %s\n", state, strerror(-r));
                        return 1;
                }
        }

        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        d = MHD_start_daemon(
                MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HANG_SECONDS + 10, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "osb-provider: cannot listen on 127.0.0.1:%u\n", port);
                return 1;
        }
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        printf("listening 127.0.0.1:%u\n", info ? info->port : port);
        fflush(stdout);
        while (!P.stop)
                pause();
        MHD_stop_daemon(d);
        json_decref(P.catalog);
        json_decref(P.gone_ops);
        while (P.n_inst)
                inst_remove(P.inst[0]->id);
        if (P.state_fd >= 0)
                close(P.state_fd);
        return 0;
}
