/* SPDX-License-Identifier: Apache-2.0 */
/* The config loader: what it accepts, and "file:line: what" for each mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char tmpdir[] = "/tmp/cbconfig.XXXXXX";

static char *write_conf(const char *name, const char *text) {
        char *path;
        FILE *f;
        assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return path;
}

#define TOKEN_EDU "84b7f488b88ebf069dd0c82868e1b9c87f29aeaf029db2da4a52bb763fbe9226" /* "dev-edu" */

static void test_shipped_dev_config(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        const Principal *p;
        (void)state;

        assert_int_equal(config_load("etc/cloudbroker.conf", &c, &err), 0);
        assert_non_null(c);
        /* Relative paths resolve against the config's folder. */
        assert_non_null(strstr(c->database, "/etc/../var/cloudbroker.db"));
        assert_string_equal(c->rest_listen, "127.0.0.1:8080");
        assert_non_null(strstr(c->secrets_key, "/etc/dev-keys/dev-secrets.key"));
        p = config_principal_by_token(c, "dev-edu");
        assert_non_null(p);
        assert_string_equal(p->name, "dev-edu");
        assert_string_equal(p->department, "edu");
        assert_int_equal(p->roles, CB_ROLE_DEPARTMENT);
        assert_null(config_principal_by_token(c, "dev-edu "));
        assert_null(config_principal_by_token(c, ""));
        p = config_principal_by_uid(c, 0);
        assert_non_null(p);
        assert_true(p->roles & CB_ROLE_OPERATOR);
        assert_null(config_principal_by_uid(c, 4242));
        assert_true(config_check_osb(c, "osb", "dev-osb"));
        assert_false(config_check_osb(c, "osb", "dev-osb2"));
        assert_false(config_check_osb(c, "osbx", "dev-osb"));
        assert_false(config_check_osb(c, NULL, NULL));
        /* The dev platform's principal carries its name, the platform role and no department. */
        {
                const ConfigPlatform *pf = config_platform_by_basic(c, "osb", "dev-osb");
                assert_non_null(pf);
                assert_string_equal(pf->name, "dev-portal");
                assert_string_equal(pf->principal.name, "osb:dev-portal");
                assert_int_equal(pf->principal.roles, CB_ROLE_PLATFORM);
                assert_null(pf->principal.department);
                assert_null(config_platform_by_basic(c, "osb", ""));
        }
        for (const char *const *t =
                     (const char *const[]){ "dev-operator", "dev-authority", "dev-finance", "dev-migration",
                                            "dev-auditor", "dev-health", NULL };
             *t; t++)
                assert_non_null(config_principal_by_token(c, *t));
        config_free(c);
}

static void test_minimal_config(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        char *path = write_conf("min.conf", "database = \"/var/x.db\";\n");
        (void)state;

        assert_int_equal(config_load(path, &c, &err), 0);
        assert_string_equal(c->database, "/var/x.db");
        assert_string_equal(c->bus, "system");
        assert_int_equal(c->rest_max_body, 1024 * 1024);
        assert_int_equal(c->n_principals, 0);
        config_free(c);
        free(path);
}

typedef struct BadCase {
        const char *name;
        const char *text;
        const char *expect; /* substring after "file:LINE: " */
        int line;
} BadCase;

static const BadCase bad_cases[] = {
        { "syntax", "database = \"x\"\nrest = {;\n", "syntax error", 2 },
        { "unknown-top", "database = \"x\";\n\nfrobnicate = 1;\n", "unknown setting 'frobnicate'", 3 },
        { "wrong-type", "database = 42;\n", "'database' must be a string", 1 },
        { "bad-bus", "bus = \"sessionx\";\n", "'bus' must be", 1 },
        { "rest-unknown", "rest = {\n  listen = \"127.0.0.1:1\";\n  port = 3;\n};\n",
          "unknown setting 'port' in 'rest'", 3 },
        { "body-limit", "rest = { max_body_bytes = 10; };\n", "max_body_bytes", 1 },
        { "principal-no-roles", "principals = (\n { name = \"a\"; }\n);\n", "principal 'a' has no 'roles'",
          2 },
        { "principal-bad-role", "principals = (\n { name = \"a\";\n   roles = [\"admin\"]; }\n);\n",
          "unknown role 'admin'", 3 },
        { "principal-bad-token",
          "principals = (\n { name = \"a\"; roles = [\"operator\"];\n   token_sha256 = \"abc\"; }\n);\n",
          "principal 'a': token_sha256 must be 64", 3 },
        { "principal-dup",
          "principals = (\n { name = \"a\"; roles = [\"operator\"]; },\n { name = \"a\"; roles = "
          "[\"finance\"]; }\n);\n",
          "principal 'a' defined twice", 3 },
        { "department-missing", "principals = (\n { name = \"d\"; roles = [\"department\"]; }\n);\n",
          "has role department but no 'department'", 2 },
        { "uid-twice",
          "principals = (\n { name = \"a\"; roles = [\"operator\"]; uids = [0]; },\n { name = \"b\"; roles = "
          "[\"auditor\"];\n uids = [0]; }\n);\n",
          "uid 0 is mapped to two principals", 4 },
        { "token-shared",
          "principals = (\n { name = \"a\"; roles = [\"operator\"]; token_sha256 = \"" TOKEN_EDU "\"; },\n"
          " { name = \"b\"; roles = [\"auditor\"]; token_sha256 = \"" TOKEN_EDU "\"; }\n);\n",
          "principal 'b' shares its token with 'a'", 3 },
        { "osb-incomplete", "osb = { username = \"osb\"; };\n",
          "'osb' needs 'username' and 'password_sha256'", 1 },
        { "principal-osb-name", "principals = (\n { name = \"osb:x\"; roles = [\"operator\"]; }\n);\n",
          "principal 'osb:x': names starting with 'osb:' are the OSB platforms'", 2 },
        { "platform-incomplete", "platforms = (\n { name = \"p\"; username = \"u\"; }\n);\n",
          "a platform needs 'name', 'username' and 'password_sha256'", 2 },
        { "platform-name",
          "platforms = (\n { name = \"Big Portal\"; username = \"u\"; password_sha256 = "
          "\"59dcce65be91cad18a5c78398060262d54652e644c3b1d9e1d33f64452220730\"; }\n);\n",
          "platform name 'Big Portal': 1 to 64 of a-z, 0-9 and '-'", 2 },
        { "platform-hash",
          "platforms = (\n { name = \"p\"; username = \"u\"; password_sha256 = \"abc\"; }\n);\n",
          "'password_sha256' must be 64 lowercase hex digits", 2 },
        { "platform-dup",
          "platforms = (\n { name = \"p\"; username = \"u\"; password_sha256 = "
          "\"59dcce65be91cad18a5c78398060262d54652e644c3b1d9e1d33f64452220730\"; },\n"
          " { name = \"p\"; username = \"v\"; password_sha256 = "
          "\"59dcce65be91cad18a5c78398060262d54652e644c3b1d9e1d33f64452220730\"; }\n);\n",
          "platform 'p' defined twice", 3 },
        { "platform-user-shared",
          "platforms = (\n { name = \"p\"; username = \"u\"; password_sha256 = "
          "\"59dcce65be91cad18a5c78398060262d54652e644c3b1d9e1d33f64452220730\"; },\n"
          " { name = \"q\"; username = \"u\"; password_sha256 = "
          "\"59dcce65be91cad18a5c78398060262d54652e644c3b1d9e1d33f64452220730\"; }\n);\n",
          "platform 'q': username 'u' is already platform 'p''s", 3 },
        { "key-alg", "trusted_keys = (\n { id = \"k\"; alg = \"rsa\"; public_key = \"k.pem\"; }\n);\n",
          "alg must be \"sm2-sm3\" or \"ed25519\"", 2 },
        { "provider-driver", "providers = (\n { name = \"p\"; driver = \"xen\"; uri = \"x\"; }\n);\n",
          "driver must be \"libvirt\" or \"http\"", 2 },
        { "domain-type",
          "providers = (\n { name = \"p\"; driver = \"libvirt\"; uri = \"x\"; domain_type = \"xen\"; }\n);\n",
          "provider 'p': domain_type must be \"auto\", \"kvm\" or \"qemu\"", 2 },
        { "domain-type-http",
          "providers = (\n { name = \"p\"; driver = \"http\"; uri = \"x\"; domain_type = \"qemu\"; }\n);\n",
          "domain_type is for libvirt providers", 2 },
        { "http-password-alone",
          "providers = (\n { name = \"p\"; driver = \"http\"; url = \"http://x\"; password = \"s\"; }\n);\n",
          "provider 'p': username and password go together", 2 },
        { "http-api-version",
          "providers = (\n { name = \"p\"; driver = \"http\"; url = \"http://x\"; api_version = \"2.18\"; "
          "}\n);\n",
          "provider 'p': api_version must be one of 2.13 to 2.17", 2 },
        { "http-field-on-libvirt",
          "providers = (\n { name = \"p\"; driver = \"libvirt\"; uri = \"x\"; username = \"u\"; }\n);\n",
          "provider 'p': username is for http providers", 2 },
        { "http-timeout",
          "providers = (\n { name = \"p\"; driver = \"http\"; url = \"http://x\"; timeout_seconds = 0; "
          "}\n);\n",
          "provider 'p': timeout_seconds must be between 1 and 300", 2 },
        { "http-no-url", "providers = (\n { name = \"p\"; driver = \"http\"; }\n);\n",
          "provider 'p' has no 'url'", 2 },
        { "image-pool",
          "providers = (\n { name = \"p\"; driver = \"libvirt\"; uri = \"x\"; image_pool = \"../x\"; }\n);\n",
          "provider 'p': image_pool must be a storage pool name", 2 },
        { "image-pool-http",
          "providers = (\n { name = \"p\"; driver = \"http\"; url = \"http://x\"; image_pool = \"images\"; "
          "}\n);\n",
          "image_pool is for libvirt providers", 2 },
        { "managed-only-image-pool",
          "providers = (\n { name = \"p\"; driver = \"libvirt\"; uri = \"x\"; managed_only = true; "
          "image_pool = \"images\"; }\n);\n",
          "a managed_only provider has no image_pool", 2 },
        { "managed-only-type",
          "providers = (\n { name = \"p\"; driver = \"libvirt\"; uri = \"x\"; managed_only = 1; }\n);\n",
          "managed_only", 2 },
        { "stop-timeout", "stop_timeout_seconds = 3601;\n", "'stop_timeout_seconds' must be", 1 },
        { "connect-timeout", "connect_timeout_seconds = 0;\n",
          "'connect_timeout_seconds' must be between 1 and 600", 1 },
        { "migration-copies", "migration = { max_copies_per_host = 0; };\n",
          "'migration.max_copies_per_host' must be between 1 and 64", 1 },
        { "migration-copies-high", "migration = {\n max_copies_per_host = 65;\n};\n",
          "'migration.max_copies_per_host' must be between 1 and 64", 2 },
        { "migration-rate", "migration = { copy_rate_limit_bytes = -1; };\n",
          "'migration.copy_rate_limit_bytes' must be 0 (none) or more", 1 },
        { "migration-unknown", "migration = { max_copies = 2; };\n",
          "unknown setting 'max_copies' in 'migration'", 1 },
        { "migration-type", "migration = { max_copies_per_host = \"2\"; };\n",
          "'max_copies_per_host' must be an integer", 1 },
        { "operations-zero", "operations = { max_in_flight = 0; };\n",
          "'operations.max_in_flight' must be between 1 and 1000000", 1 },
        { "operations-high", "operations = {\n max_in_flight = 1000001;\n};\n",
          "'operations.max_in_flight' must be between 1 and 1000000", 2 },
        { "operations-negative", "operations = { max_in_flight = -1; };\n",
          "'operations.max_in_flight' must be between 1 and 1000000", 1 },
        { "operations-type", "operations = { max_in_flight = \"2\"; };\n",
          "'max_in_flight' must be an integer", 1 },
        { "operations-group", "operations = 2;\n", "'operations' must be a group", 1 },
        { "operations-unknown", "operations = { max_inflight = 2; };\n",
          "unknown setting 'max_inflight' in 'operations'", 1 },
        { "secrets-absent", "secrets = { key = \"no-such.key\"; };\n", "No such file", 1 },
        { "secrets-empty", "secrets = { key = \"\"; };\n", "'secrets.key' must name a file of 32", 1 },
        { "secrets-unknown", "secrets = { path = \"x\"; };\n", "unknown setting 'path' in 'secrets'", 1 },
        { "reconcile", "reconcile_seconds = 0;\n", "'reconcile_seconds' must be between 1 and 86400", 1 },
        { "provider-name", "providers = (\n { name = \"P Q\"; driver = \"libvirt\"; uri = \"x\"; }\n);\n",
          "provider 'name' must match", 2 },
};

static void test_bad_configs(void **state) {
        (void)state;
        for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
                const BadCase *bc = &bad_cases[i];
                CbError err = CB_ERROR_INIT;
                Config *c = NULL;
                char name[64], prefix[512];
                char *path;

                snprintf(name, sizeof(name), "%s.conf", bc->name);
                path = write_conf(name, bc->text);
                assert_int_not_equal(config_load(path, &c, &err), 0);
                assert_null(c);
                snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bc->line);
                if (strncmp(err.message, prefix, strlen(prefix)) != 0 || !strstr(err.message, bc->expect))
                        fail_msg("case %s: got \"%s\", want prefix \"%s\" and \"%s\"", bc->name, err.message,
                                 prefix, bc->expect);
                free(path);
        }
}

/* The secrets key file: size and mode are checked at load, naming the setting. */
static void test_secrets_key(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        char *conf = write_conf("secrets.conf", "secrets = { key = \"secrets.key\"; };\n");
        char *key;
        FILE *f;
        (void)state;

        assert_true(asprintf(&key, "%s/secrets.key", tmpdir) > 0);
        f = fopen(key, "w");
        assert_non_null(f);
        fputs("too short", f);
        fclose(f);
        assert_int_equal(chmod(key, 0600), 0);
        assert_int_not_equal(config_load(conf, &c, &err), 0);
        assert_non_null(strstr(err.message, "'secrets.key'"));
        assert_non_null(strstr(err.message, "exactly 32"));
        f = fopen(key, "w");
        assert_non_null(f);
        fputs("0123456789abcdef0123456789abcdef", f);
        fclose(f);
        assert_int_equal(chmod(key, 0640), 0);
        assert_int_not_equal(config_load(conf, &c, &err), 0);
        assert_non_null(strstr(err.message, "mode 0640"));
        assert_int_equal(chmod(key, 0600), 0);
        assert_int_equal(config_load(conf, &c, &err), 0);
        assert_string_equal(c->secrets_key, key);
        config_free(c);
        unlink(key);
        free(key);
        free(conf);
}

static void test_missing_file(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        (void)state;
        assert_int_not_equal(config_load("/nonexistent/x.conf", &c, &err), 0);
        assert_non_null(strstr(err.message, "/nonexistent/x.conf"));
        assert_null(c);
}

static void test_migration_settings(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        char *none = write_conf("mig-none.conf", "bus = \"none\";\n");
        char *set = write_conf("mig-set.conf",
                               "migration = { max_copies_per_host = 3; copy_rate_limit_bytes = 1048576;"
                               " test_fail_after_bytes = 4096; };\n");
        (void)state;
        assert_int_equal(config_load(none, &c, &err), 0);
        /* Unset: two copies per host, unthrottled, never failing on purpose. */
        assert_int_equal(c->migration_max_copies_per_host, 2);
        assert_int_equal(c->migration_rate_limit_bps, 0);
        assert_int_equal(c->migration_fail_after_bytes, 0);
        config_free(c);
        c = NULL;
        assert_int_equal(config_load(set, &c, &err), 0);
        assert_int_equal(c->migration_max_copies_per_host, 3);
        assert_int_equal(c->migration_rate_limit_bps, 1048576);
        assert_int_equal(c->migration_fail_after_bytes, 4096);
        config_free(c);
        free(none);
        free(set);
}

/* operations.max_in_flight: 4096 unset, the bounds themselves accepted. */
static void test_operations_settings(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        char *none = write_conf("ops-none.conf", "bus = \"none\";\n");
        char *two = write_conf("ops-two.conf", "operations = { max_in_flight = 2; };\n");
        char *one = write_conf("ops-one.conf", "operations = { max_in_flight = 1; };\n");
        char *top = write_conf("ops-top.conf", "operations = { max_in_flight = 1000000; };\n");
        (void)state;
        assert_int_equal(config_load(none, &c, &err), 0);
        assert_int_equal(c->operations_max_in_flight, 4096);
        config_free(c);
        c = NULL;
        assert_int_equal(config_load(two, &c, &err), 0);
        assert_int_equal(c->operations_max_in_flight, 2);
        config_free(c);
        c = NULL;
        assert_int_equal(config_load(one, &c, &err), 0);
        assert_int_equal(c->operations_max_in_flight, 1);
        config_free(c);
        c = NULL;
        assert_int_equal(config_load(top, &c, &err), 0);
        assert_int_equal(c->operations_max_in_flight, 1000000);
        config_free(c);
        free(none);
        free(two);
        free(one);
        free(top);
}

static void test_relative_test_uri(void **state) {
        CbError err = CB_ERROR_INIT;
        Config *c = NULL;
        char *path = write_conf("prov.conf",
                                "providers = (\n"
                                " { name = \"t\"; driver = \"libvirt\"; uri = \"test:///node.xml\"; },\n"
                                " { name = \"d\"; driver = \"libvirt\"; uri = \"test:///default\";"
                                " managed_only = true; },\n"
                                " { name = \"q\"; driver = \"libvirt\"; uri = \"qemu:///system\";"
                                " domain_type = \"qemu\"; image_pool = \"images\"; }\n);\n");
        char *want, *want2;
        (void)state;

        assert_int_equal(config_load(path, &c, &err), 0);
        assert_int_equal(c->n_providers, 3);
        assert_true(asprintf(&want, "test://%s/node.xml", c->dir) > 0);
        assert_string_equal(c->providers[0].uri, want);
        assert_string_equal(c->providers[1].uri, "test:///default");
        assert_string_equal(c->providers[2].uri, "qemu:///system");
        assert_int_equal(c->providers[1].domain_type, DRIVER_DOMAIN_AUTO);
        assert_int_equal(c->providers[2].domain_type, DRIVER_DOMAIN_QEMU);
        assert_null(c->providers[1].image_pool);
        assert_string_equal(c->providers[2].image_pool, "images");
        assert_true(c->providers[1].managed_only);
        assert_false(c->providers[2].managed_only);
        config_free(c);
        c = NULL;
        free(path);
        /* An absolute node file stays absolute, as libvirt reads it. */
        path = write_conf("abs.conf",
                          "providers = (\n"
                          " { name = \"a\"; driver = \"libvirt\"; uri = \"test:///etc/hostname\"; }\n);\n");
        assert_int_equal(config_load(path, &c, &err), 0);
        assert_string_equal(c->providers[0].uri, "test:///etc/hostname");
        config_free(c);
        c = NULL;
        free(path);
        /* An http provider: its url, credentials, version; a relative CA file beside the config. */
        path = write_conf("http.conf",
                          "providers = (\n"
                          " { name = \"linfen-paas\"; driver = \"http\"; url = \"http://127.0.0.1:8091\";"
                          " username = \"cb\"; password = \"pw\"; api_version = \"2.15\"; ca_file = "
                          "\"ca.pem\"; }\n);\n");
        assert_int_equal(config_load(path, &c, &err), 0);
        assert_string_equal(c->providers[0].uri, "http://127.0.0.1:8091");
        assert_string_equal(c->providers[0].username, "cb");
        assert_string_equal(c->providers[0].password, "pw");
        assert_string_equal(c->providers[0].api_version, "2.15");
        assert_true(asprintf(&want2, "%s/ca.pem", c->dir) > 0);
        assert_string_equal(c->providers[0].ca_file, want2);
        free(want2);
        free(want);
        free(path);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped_dev_config), cmocka_unit_test(test_minimal_config),
                cmocka_unit_test(test_bad_configs),        cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_secrets_key),        cmocka_unit_test(test_relative_test_uri),
                cmocka_unit_test(test_migration_settings), cmocka_unit_test(test_operations_settings),
        };
        int r;
        if (!mkdtemp(tmpdir))
                return 1;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
                return 1;
        return r;
}
