/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The http driver (an OSB client on libcurl's multi interface inside
 * sd-event) against the project's test OSB provider, started here on
 * 127.0.0.1 by PID and ended by PID: the catalogue, synchronous and
 * asynchronous provision and deprovision with last_operation and
 * Retry-After, the headers and context every request carries (read back from
 * the provider's own record), and every way a provider can fail: 5xx,
 * refusals with its description, conflicts, malformed and oversized bodies,
 * hangs and drips cut off by the time limit, a port nobody listens on, bad
 * credentials, and a connection closed with a request in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"

static sd_event *loop;
static pid_t provider_pid;
static char base_url[64];
static const DriverOps *http;
static char provider_exe[PATH_MAX]; /* beside this test's binary */

/* ---- the provider process ---- */

static void start_provider(void) {
        const char *exe = provider_exe, *dir = "etc/catalog";
        int pipefd[2];
        char line[128] = { 0 };
        ssize_t n = 0;

        assert_int_equal(pipe(pipefd), 0);
        provider_pid = fork();
        assert_true(provider_pid >= 0);
        if (provider_pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                close(pipefd[0]);
                execl(exe, exe, "--catalog-dir", dir, "--port", "0", "--username", "cb", "--password", "pw",
                      (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        /* "listening 127.0.0.1:PORT\n", within 10 s */
        for (int i = 0; i < 100 && !strchr(line, '\n'); i++) {
                struct timespec ts = { 0, 100 * 1000000 };
                ssize_t k = read(pipefd[0], line + n, sizeof(line) - 1 - (size_t)n);
                if (k > 0)
                        n += k;
                else if (k == 0)
                        break;
                else
                        nanosleep(&ts, NULL);
        }
        close(pipefd[0]);
        unsigned port = 0;
        if (sscanf(line, "listening 127.0.0.1:%u", &port) != 1)
                fail_msg("the test provider (%s) did not start: '%s'", exe, line);
        snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u", port);
}

static void stop_provider(void) {
        int status;
        if (provider_pid > 0) {
                kill(provider_pid, SIGTERM);
                for (int i = 0; i < 50 && waitpid(provider_pid, &status, WNOHANG) == 0; i++)
                        usleep(100 * 1000);
                if (waitpid(provider_pid, &status, WNOHANG) == 0) {
                        kill(provider_pid, SIGKILL);
                        waitpid(provider_pid, &status, 0);
                }
        }
        provider_pid = 0;
}

static size_t collect(char *d, size_t s, size_t n, void *u) {
        json_t **out = u;
        json_t *j = json_loadb(d, s * n, 0, NULL);
        if (j) {
                json_decref(*out);
                *out = j;
        }
        return s * n;
}

/* The provider's control route, straight (a blocking call is fine in a test). */
static json_t *control(const char *post) {
        char url[128];
        json_t *out = NULL;
        CURL *e = curl_easy_init();
        snprintf(url, sizeof(url), "%s/control", base_url);
        curl_easy_setopt(e, CURLOPT_URL, url);
        if (post)
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L);
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        curl_easy_cleanup(e);
        assert_non_null(out);
        return out;
}

static void reset(void) {
        json_decref(control("{\"reset\": true}"));
}

static json_t *instance(const char *id) {
        json_t *st = control(NULL), *v, *copy = NULL;
        size_t i;
        json_array_foreach(json_object_get(st, "instances"), i,
                           v) if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0) copy =
                json_incref(v);
        json_decref(st);
        return copy;
}

/* ---- calls through the driver, run on the loop until they answer ---- */

typedef struct Result {
        int calls;
        int r;
        DriverReply reply;
        char operation[128];
        char description[512];
        CbError err;
        json_t *body;
} Result;

static void on_reply(int r, const DriverReply *reply, const CbError *err, void *userdata) {
        Result *res = userdata;
        res->calls++;
        res->r = r;
        res->reply = *reply;
        res->reply.operation = res->reply.description = NULL;
        res->reply.body = NULL;
        snprintf(res->operation, sizeof(res->operation), "%s", reply->operation ?: "");
        snprintf(res->description, sizeof(res->description), "%s", reply->description ?: "");
        res->err.kind = err->kind;
        snprintf(res->err.field, sizeof(res->err.field), "%s", err->field);
        snprintf(res->err.message, sizeof(res->err.message), "%s", err->message);
        res->body = reply->body ? json_deep_copy(reply->body) : NULL;
}

/* Runs the loop until res has its answer; at most 10 s. Returns the ms it took. */
static long wait_for(Result *res) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 1000 && res->calls == 0; i++)
                assert_true(sd_event_run(loop, 10000) >= 0);
        assert_int_equal(res->calls, 1);
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static DriverConn *open_conn(const char *user, const char *pass, unsigned timeout_ms) {
        DriverConn *c = NULL;
        CbError err = CB_ERROR_INIT;
        DriverOpenOptions o = {
                .username = user, .password = pass, .api_version = "2.17", .timeout_ms = timeout_ms
        };
        assert_int_equal(driver_open_with(http, base_url, &o, &c, &err), 0);
        return c;
}

static const DriverCallContext ctx_mysql = {
        .principal = "dept-edu",
        .department = "edu",
        .project_id = "edu-cloud",
        .approval_no = "临政信审〔2026〕12号",
        .system_id = "edu-portal",
        .request_id = "req-test-1",
        .remote_service_id = "mysql-rds",
        .remote_plan_id = "mysql-ha-2c4g-100g",
};

static ProvisionSpec spec_for(const char *rid) {
        return (ProvisionSpec){ .resource_id = rid,
                                .name = "edu db",
                                .project_id = "edu-cloud",
                                .approval_no = "临政信审〔2026〕12号",
                                .catalog_service_id = "rds-mysql",
                                .catalog_plan_id = "rds-mysql-2c4g" };
}

static void provision(DriverConn *c, const char *rid, const DriverCallContext *ctx, Result *res) {
        ProvisionSpec spec = spec_for(rid);
        CbError err = CB_ERROR_INIT;
        json_decref(res->body);
        *res = (Result){ 0 };
        assert_int_equal(driver_provision_async(http, c, &spec, ctx, on_reply, res, &err), 0);
        /* never from within the call */
        assert_int_equal(res->calls, 0);
        wait_for(res);
}

static void deprovision(DriverConn *c, const char *rid, Result *res) {
        DriverRef ref = { .resource_id = rid };
        CbError err = CB_ERROR_INIT;
        json_decref(res->body);
        *res = (Result){ 0 };
        assert_int_equal(driver_deprovision_async(http, c, &ref, &ctx_mysql, on_reply, res, &err), 0);
        wait_for(res);
}

static void last_operation(DriverConn *c, const char *rid, const char *op, Result *res) {
        DriverRef ref = { .resource_id = rid };
        CbError err = CB_ERROR_INIT;
        json_decref(res->body);
        *res = (Result){ 0 };
        assert_int_equal(driver_last_operation_async(http, c, &ref, &ctx_mysql, op, on_reply, res, &err), 0);
        wait_for(res);
}

static void fetch(DriverConn *c, const char *rid, Result *res) {
        DriverRef ref = { .resource_id = rid };
        CbError err = CB_ERROR_INIT;
        json_decref(res->body);
        *res = (Result){ 0 };
        assert_int_equal(driver_fetch_async(http, c, &ref, &ctx_mysql, on_reply, res, &err), 0);
        wait_for(res);
}

static void update(DriverConn *c, const char *rid, const char *plan_id, Result *res) {
        DriverRef ref = { .resource_id = rid };
        CbError err = CB_ERROR_INIT;
        json_decref(res->body);
        *res = (Result){ 0 };
        assert_int_equal(driver_update_async(http, c, &ref, &ctx_mysql, plan_id, NULL, on_reply, res, &err),
                         0);
        assert_int_equal(res->calls, 0);
        wait_for(res);
}

static void result_done(Result *res) {
        json_decref(res->body);
        res->body = NULL;
}

/* ---- the tests ---- */

static void test_catalog(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        CbError err = CB_ERROR_INIT;
        Result res = { 0 };
        (void)state;

        assert_int_equal(driver_catalog_async(http, c, on_reply, &res, &err), 0);
        wait_for(&res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.http_status, 200);
        assert_non_null(res.body);
        /* the shipped catalogue's six http services, each with its plans */
        assert_int_equal(json_array_size(json_object_get(res.body, "services")), 6);
        json_t *s, *mysql = NULL;
        size_t i;
        json_array_foreach(json_object_get(res.body, "services"), i,
                           s) if (strcmp(json_string_value(json_object_get(s, "id")), "mysql-rds") == 0)
                mysql = s;
        assert_non_null(mysql);
        assert_int_equal(json_array_size(json_object_get(mysql, "plans")), 3);
        result_done(&res);
        result_done(&res);
        driver_close(http, c);
}

static void test_sync_lifecycle_and_headers(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        Result res = { 0 };
        json_t *in;
        (void)state;
        reset();

        provision(c, "r-sync1", &ctx_mysql, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.http_status, 201);
        assert_int_equal(res.reply.state, DRIVER_OP_SUCCEEDED);
        result_done(&res);

        /* what the provider received */
        in = instance("r-sync1");
        assert_non_null(in);
        assert_string_equal(json_string_value(json_object_get(in, "plan_id")), "mysql-ha-2c4g-100g");
        json_t *ctx = json_object_get(in, "context");
        assert_string_equal(json_string_value(json_object_get(ctx, "platform")), "cloudbroker");
        assert_string_equal(json_string_value(json_object_get(ctx, "department")), "edu");
        assert_string_equal(json_string_value(json_object_get(ctx, "project_id")), "edu-cloud");
        assert_string_equal(json_string_value(json_object_get(ctx, "approval_no")), "临政信审〔2026〕12号");
        assert_string_equal(json_string_value(json_object_get(ctx, "system_id")), "edu-portal");
        assert_string_equal(json_string_value(json_object_get(in, "request_identity")), "req-test-1");
        const char *oi = json_string_value(json_object_get(in, "originating_identity"));
        assert_non_null(oi);
        assert_memory_equal(oi, "cloudbroker ", 12);
        unsigned char decoded[256] = { 0 };
        int dl = EVP_DecodeBlock(decoded, (const unsigned char *)oi + 12, (int)strlen(oi + 12));
        assert_true(dl > 0);
        json_t *who = json_loads((char *)decoded, JSON_DISABLE_EOF_CHECK, NULL);
        assert_non_null(who);
        assert_string_equal(json_string_value(json_object_get(who, "user_id")), "dept-edu");
        json_decref(who);
        json_decref(in);

        /* the same again: 200, still one instance */
        provision(c, "r-sync1", &ctx_mysql, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.http_status, 200);
        result_done(&res);
        json_t *st = control(NULL);
        assert_int_equal(json_array_size(json_object_get(st, "instances")), 1);
        json_decref(st);

        /* another plan for the same id: a conflict, final */
        DriverCallContext other = ctx_mysql;
        other.remote_plan_id = "mysql-ha-4c8g-200g";
        provision(c, "r-sync1", &other, &res);
        assert_int_equal(res.r, -EBUSY);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_REFUSED);
        assert_int_equal(res.err.kind, CB_ERR_CONFLICT);

        /* a plan the provider does not have: refused with its description */
        other.remote_plan_id = "no-such-plan";
        provision(c, "r-sync2", &other, &res);
        assert_true(res.r < 0);
        assert_int_equal(res.reply.http_status, 400);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_REFUSED);
        assert_non_null(strstr(res.err.message, "no such service or plan"));

        /* the instance as the provider shows it */
        fetch(c, "r-sync1", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_SUCCEEDED);
        assert_string_equal(json_string_value(json_object_get(res.body, "plan_id")), "mysql-ha-2c4g-100g");
        result_done(&res);

        deprovision(c, "r-sync1", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_SUCCEEDED);
        assert_null(instance("r-sync1"));
        /* gone: 404 is GONE for a fetch */
        fetch(c, "r-sync1", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_GONE);
        /* absent: 410, a success */
        deprovision(c, "r-sync1", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_GONE);
        result_done(&res);
        driver_close(http, c);
}

static void test_async_with_retry_after(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        Result res = { 0 };
        (void)state;
        reset();
        json_decref(control("{\"async_ms\": 300, \"retry_after\": 2}"));

        provision(c, "r-async1", &ctx_mysql, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.http_status, 202);
        assert_int_equal(res.reply.state, DRIVER_OP_IN_PROGRESS);
        assert_string_equal(res.operation, "provision");

        last_operation(c, "r-async1", "provision", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_IN_PROGRESS);
        assert_int_equal(res.reply.retry_after_s, 2);

        usleep(400 * 1000);
        last_operation(c, "r-async1", "provision", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_SUCCEEDED);

        deprovision(c, "r-async1", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_IN_PROGRESS);
        usleep(400 * 1000);
        last_operation(c, "r-async1", "deprovision", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_GONE);

        /* an asynchronous provision that fails at the provider */
        json_decref(control("{\"fail_provision\": true}"));
        provision(c, "r-async2", &ctx_mysql, &res);
        usleep(400 * 1000);
        last_operation(c, "r-async2", "provision", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_FAILED);
        assert_non_null(strstr(res.description, "injected failure"));
        result_done(&res);
        driver_close(http, c);
}

/* A plan change: PATCH, 200 when done at once, 202 and last_operation when
 * not; a plan the provider does not have is refused (4xx, final) and the
 * instance keeps its plan. */
static void test_update(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        Result res = { 0 };
        json_t *in;
        CbError err = CB_ERROR_INIT;
        DriverRef ref = { .resource_id = "r-upd1" };
        (void)state;
        reset();

        provision(c, "r-upd1", &ctx_mysql, &res);
        assert_int_equal(res.r, 0);
        update(c, "r-upd1", "mysql-ha-4c8g-200g", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.http_status, 200);
        assert_int_equal(res.reply.state, DRIVER_OP_SUCCEEDED);
        in = instance("r-upd1");
        assert_non_null(in);
        assert_string_equal(json_string_value(json_object_get(in, "plan_id")), "mysql-ha-4c8g-200g");
        json_decref(in);

        update(c, "r-upd1", "no-such-plan", &res);
        assert_true(res.r < 0);
        assert_int_equal(res.reply.http_status, 400);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_REFUSED);
        assert_non_null(strstr(res.err.message, "refused the update"));
        in = instance("r-upd1");
        assert_string_equal(json_string_value(json_object_get(in, "plan_id")), "mysql-ha-4c8g-200g");
        json_decref(in);

        /* Parameters alone (OSB: plan_id optional): the PATCH carries them and no
         * plan_id, previous_values the plan it is on, and the plan stays. */
        {
                json_t *params = json_pack("{s:s, s:{s:i}}", "charset", "gbk", "backup", "days", 7), *upd;
                json_decref(res.body);
                res = (Result){ 0 };
                assert_int_equal(
                        driver_update_async(http, c, &ref, &ctx_mysql, NULL, params, on_reply, &res, &err),
                        0);
                wait_for(&res);
                assert_int_equal(res.r, 0);
                in = instance("r-upd1");
                upd = json_object_get(in, "update");
                assert_true(json_equal(json_object_get(upd, "parameters"), params));
                assert_null(json_object_get(upd, "plan_id"));
                assert_string_equal(json_string_value(json_object_get(json_object_get(upd, "previous_values"),
                                                                      "plan_id")),
                                    ctx_mysql.remote_plan_id);
                assert_string_equal(json_string_value(json_object_get(in, "plan_id")), "mysql-ha-4c8g-200g");
                json_decref(in);
                json_decref(params);
        }
        /* neither: refused before anything is sent */
        assert_int_equal(driver_update_async(http, c, &ref, &ctx_mysql, NULL, NULL, on_reply, &res, &err),
                         -EINVAL);
        cb_error_clear(&err);

        /* no plan: refused before anything is sent, naming the field */
        assert_int_equal(driver_update_async(http, c, &ref, &ctx_mysql, "", NULL, on_reply, &res, &err),
                         -EINVAL);
        assert_string_equal(err.field, "plan_id");
        cb_error_clear(&err);

        json_decref(control("{\"async_ms\": 300}"));
        update(c, "r-upd1", "mysql-ha-2c4g-100g", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.http_status, 202);
        assert_int_equal(res.reply.state, DRIVER_OP_IN_PROGRESS);
        assert_string_equal(res.operation, "update");
        usleep(400 * 1000);
        last_operation(c, "r-upd1", "update", &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.reply.state, DRIVER_OP_SUCCEEDED);
        in = instance("r-upd1");
        assert_string_equal(json_string_value(json_object_get(in, "plan_id")), "mysql-ha-2c4g-100g");
        json_decref(in);
        result_done(&res);
        driver_close(http, c);
}

static void test_server_errors_and_refusals(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        Result res = { 0 };
        (void)state;
        reset();

        json_decref(control("{\"fail_next\": 1}"));
        provision(c, "r-err1", &ctx_mysql, &res);
        assert_int_equal(res.r, -EAGAIN);
        assert_int_equal(res.reply.http_status, 500);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_SERVER);
        assert_int_equal(res.err.kind, CB_ERR_UNAVAILABLE);
        assert_non_null(strstr(res.err.message, "injected failure"));
        /* the next one goes through */
        provision(c, "r-err1", &ctx_mysql, &res);
        assert_int_equal(res.r, 0);

        /* a lost instance: last_operation answers 404, final */
        json_decref(control("{\"lose\": \"r-err1\"}"));
        last_operation(c, "r-err1", NULL, &res);
        assert_true(res.r < 0);
        assert_int_equal(res.reply.http_status, 404);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_REFUSED);
        driver_close(http, c);

        /* wrong credentials */
        c = open_conn("cb", "wrong", 0);
        provision(c, "r-err2", &ctx_mysql, &res);
        assert_int_equal(res.reply.http_status, 401);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_REFUSED);
        result_done(&res);
        driver_close(http, c);
}

static void test_malformed_and_huge(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        Result res = { 0 };
        CbError err = CB_ERROR_INIT;
        (void)state;
        reset();

        json_decref(control("{\"malformed\": true}"));
        provision(c, "r-bad1", &ctx_mysql, &res);
        assert_true(res.r < 0);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_MALFORMED);
        assert_int_equal(res.err.kind, CB_ERR_UNPROCESSABLE);
        assert_non_null(strstr(res.err.message, "not JSON"));

        result_done(&res);
        res = (Result){ 0 };
        assert_int_equal(driver_catalog_async(http, c, on_reply, &res, &err), 0);
        wait_for(&res);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_MALFORMED);
        assert_null(res.body);

        json_decref(control("{\"malformed\": false, \"huge\": true}"));
        result_done(&res);
        res = (Result){ 0 };
        assert_int_equal(driver_catalog_async(http, c, on_reply, &res, &err), 0);
        wait_for(&res);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_TOO_LARGE);
        assert_non_null(strstr(res.err.message, "cut off"));
        reset();
        result_done(&res);
        driver_close(http, c);
}

static void test_hang_and_drip_time_out(void **state) {
        DriverConn *c = open_conn("cb", "pw", 600);
        Result res = { 0 };
        long ms;
        (void)state;
        reset();

        json_decref(control("{\"hang\": true}"));
        provision(c, "r-hang", &ctx_mysql, &res);
        assert_int_equal(res.r, -EAGAIN);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_TRANSPORT);
        assert_non_null(strstr(res.err.message, "unreachable"));

        json_decref(control("{\"hang\": false, \"drip\": true}"));
        ProvisionSpec spec = spec_for("r-drip");
        CbError err = CB_ERROR_INIT;
        result_done(&res);
        res = (Result){ 0 };
        assert_int_equal(driver_provision_async(http, c, &spec, &ctx_mysql, on_reply, &res, &err), 0);
        ms = wait_for(&res);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_TRANSPORT);
        assert_true(ms < 3000);
        reset();
        result_done(&res);
        driver_close(http, c);
}

static void test_nobody_listens(void **state) {
        DriverConn *c = NULL;
        CbError err = CB_ERROR_INIT;
        DriverOpenOptions o = { .username = "cb", .password = "pw" };
        Result res = { 0 };
        (void)state;

        /* port 1 on loopback: nothing listens there */
        assert_int_equal(driver_open_with(http, "http://127.0.0.1:1/", &o, &c, &err), 0);
        provision(c, "r-none", &ctx_mysql, &res);
        assert_int_equal(res.r, -EAGAIN);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_TRANSPORT);
        assert_int_equal(res.reply.http_status, 0);
        result_done(&res);
        driver_close(http, c);
}

static void test_close_with_call_in_flight(void **state) {
        DriverConn *c = open_conn("cb", "pw", 0);
        ProvisionSpec spec = spec_for("r-close");
        CbError err = CB_ERROR_INIT;
        Result res = { 0 };
        (void)state;
        reset();
        json_decref(control("{\"hang\": true}"));

        assert_int_equal(driver_provision_async(http, c, &spec, &ctx_mysql, on_reply, &res, &err), 0);
        for (int i = 0; i < 5; i++)
                sd_event_run(loop, 20000);
        assert_int_equal(res.calls, 0);
        driver_close(http, c);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.r, -ECANCELED);
        assert_int_equal(res.reply.failure, DRIVER_FAILURE_CANCELLED);
        /* and never again */
        for (int i = 0; i < 5; i++)
                sd_event_run(loop, 20000);
        assert_int_equal(res.calls, 1);
        reset();
}

static void test_open_refusals(void **state) {
        DriverConn *c = NULL;
        CbError err = CB_ERROR_INIT;
        Result res = { 0 };
        (void)state;

        assert_int_equal(driver_open_with(http, "ftp://127.0.0.1/", NULL, &c, &err), -EINVAL);
        assert_string_equal(err.field, "url");
        DriverOpenOptions o = { .api_version = "2.12" };
        assert_int_equal(driver_open_with(http, base_url, &o, &c, &err), -EINVAL);
        assert_string_equal(err.field, "api_version");
        o = (DriverOpenOptions){ .username = "cb" };
        assert_int_equal(driver_open_with(http, base_url, &o, &c, &err), -EINVAL);
        assert_string_equal(err.field, "password");
        assert_null(c);

        /* a call without the plan's remote ids is refused before any I/O */
        c = open_conn("cb", "pw", 0);
        ProvisionSpec spec = spec_for("r-x");
        DriverCallContext ctx = ctx_mysql;
        ctx.remote_plan_id = NULL;
        assert_int_equal(driver_provision_async(http, c, &spec, &ctx, on_reply, &res, &err), -EINVAL);
        assert_string_equal(err.field, "spec.remote_plan_id");
        spec.resource_id = "bad id";
        assert_int_equal(driver_provision_async(http, c, &spec, &ctx_mysql, on_reply, &res, &err), -EINVAL);
        assert_string_equal(err.field, "resource_id");
        /* blocking operations do not exist on it */
        assert_int_equal(driver_ping(http, c, &err), -EOPNOTSUPP);
        assert_true(driver_is_async(http));
        assert_false(driver_is_async(&libvirt_driver_ops));
        assert_int_equal(res.calls, 0);
        result_done(&res);
        driver_close(http, c);
}

static int setup(void **state) {
        CbError err = CB_ERROR_INIT;
        (void)state;
        http = driver_find("http");
        assert_non_null(http);
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(driver_attach_event(loop, &err), 0);
        start_provider();
        return 0;
}

static int teardown(void **state) {
        (void)state;
        stop_provider();
        driver_global_shutdown();
        loop = sd_event_unref(loop);
        return 0;
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_catalog),
                cmocka_unit_test(test_sync_lifecycle_and_headers),
                cmocka_unit_test(test_async_with_retry_after),
                cmocka_unit_test(test_update),
                cmocka_unit_test(test_server_errors_and_refusals),
                cmocka_unit_test(test_malformed_and_huge),
                cmocka_unit_test(test_hang_and_drip_time_out),
                cmocka_unit_test(test_nobody_listens),
                cmocka_unit_test(test_close_with_call_in_flight),
                cmocka_unit_test(test_open_refusals),
        };
        const char *slash = strrchr(argv[0], '/');
        (void)argc;
        snprintf(provider_exe, sizeof(provider_exe), "%.*sosb-provider",
                 slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
