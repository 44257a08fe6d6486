/* SPDX-License-Identifier: Apache-2.0 */
/* drivers/cloud-init: hostnames from resource names, SSH public keys and
 * user data as an order gives them (and their refusals, naming the field),
 * and the NoCloud documents built from them. Pure: domain and basic only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud-init.h"

#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPxEscCcRTASZG8wVPobKypNGRPmkAxhJqEX7xUgcs5L ops@lf"
#define RSA                                                                                            \
        "ssh-rsa "                                                                                     \
        "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDjnGBQY61Fldt9wRXMTKkLXuTh378vqhgYvByklRbRPcVgDK+ZPf0tRtx7ddM/" \
        "UW3hAyZjaM7FJm0F4ZtmBMkxK/"                                                                   \
        "McJeOFF7h3XTH3jCqP+omqnVmDG4y2OFrwlso94+mrx+F5WPysO8r3UNoCaje+vVV7WLCFyTzW6PgZOwrdPw== "

static void test_hostname(void **state) {
        char h[CLOUD_INIT_HOSTNAME_MAX + 1];
        (void)state;
        cloud_init_hostname("Web Server #1", "r-1", h);
        assert_string_equal(h, "web-server-1");
        cloud_init_hostname("--edu..portal--", "r-1", h);
        assert_string_equal(h, "edu-portal");
        cloud_init_hostname("教育平台 web", "r-1", h);
        assert_string_equal(h, "web");
        cloud_init_hostname("教育平台", "r-2026.AB_7", h);
        assert_string_equal(h, "vm-r-2026-ab-7");
        cloud_init_hostname(NULL, "", h);
        assert_string_equal(h, "vm");
        cloud_init_hostname("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbb", "r",
                            h);
        assert_true(strlen(h) <= 63);
        assert_true(h[strlen(h) - 1] != '-');
}

static void key_refused(const char *key, const char *why) {
        CbError err = CB_ERROR_INIT;
        assert_int_equal(cloud_init_check_ssh_key(key, "ssh_authorized_keys[2]", &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "ssh_authorized_keys[2]");
        if (!strstr(err.message, why))
                fail_msg("'%s': message '%s' lacks '%s'", key, err.message, why);
}

static void test_ssh_keys(void **state) {
        CbError err = CB_ERROR_INIT;
        (void)state;
        assert_int_equal(cloud_init_check_ssh_key(ED25519, "k", &err), 0);
        assert_int_equal(cloud_init_check_ssh_key(RSA, "k", &err), 0);
        /* without a comment */
        assert_int_equal(
                cloud_init_check_ssh_key(
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPxEscCcRTASZG8wVPobKypNGRPmkAxhJqEX7xUgcs5L",
                        "k", &err),
                0);
        key_refused("", "empty");
        key_refused("ssh-ed25519", "TYPE BASE64");
        key_refused("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "is not ssh-ed25519");
        key_refused("ssh-ed25519 not*base64", "not base64");
        /* an RSA blob under the ed25519 type */
        key_refused("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAgQDjnGBQY61Fldt9wRXMTKkL",
                    "not base64 of a ssh-ed25519");
        key_refused(ED25519 "\nssh-rsa AAAA", "printable ASCII");
        key_refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPxEscCcRTASZG8wVPobKypNGRPmkAxhJqEX7xUgcs5L \"x\"",
                    "printable ASCII");
        key_refused(NULL, "empty");
}

static void data_refused(const char *u, const char *why) {
        CbError err = CB_ERROR_INIT;
        assert_int_equal(cloud_init_check_user_data(u, &err), -EINVAL);
        assert_string_equal(err.field, "user_data");
        if (!strstr(err.message, why))
                fail_msg("message '%s' lacks '%s'", err.message, why);
}

static void test_user_data(void **state) {
        CbError err = CB_ERROR_INIT;
        (void)state;
        assert_int_equal(cloud_init_check_user_data(NULL, &err), 0);
        assert_int_equal(
                cloud_init_check_user_data("#cloud-config\npackages: [nginx]\nruncmd:\n  - [echo, hi]\n"
                                           "users:\n  - name: ops\n    hashed_passwd: $6$x$y\n",
                                           &err),
                0);
        data_refused("#!/bin/sh\necho hi\n", "only #cloud-config");
        data_refused("packages: [nginx]\n", "only #cloud-config");
        data_refused("#cloud-config\npackages: [nginx\n", "not YAML");
        data_refused("#cloud-config\n- a\n- b\n", "must be a mapping");
        data_refused("#cloud-config\n", "must be a mapping");
        data_refused("#cloud-config\na: 1\n---\nb: 2\n", "one YAML document");
        data_refused("#cloud-config\nusers:\n  - name: ops\n    plain_text_passwd: hunter2\n", "in clear");
        data_refused("#cloud-config\npassword: hunter2\n", "in clear");
        data_refused("#cloud-config\nchpasswd:\n  list: |\n    root:hunter2\n", "in clear");
        /* 'password' as a value, not a key, is no secret */
        assert_int_equal(
                cloud_init_check_user_data("#cloud-config\nwrite_files:\n  - content: password\n", &err), 0);
        char *big = malloc(CLOUD_INIT_USER_DATA_MAX + 32);
        assert_non_null(big);
        strcpy(big, "#cloud-config\na: \"");
        memset(big + strlen(big), 'x', CLOUD_INIT_USER_DATA_MAX);
        strcpy(big + CLOUD_INIT_USER_DATA_MAX + 10, "\"\n");
        data_refused(big, "longer than");
        free(big);
}

static void test_documents(void **state) {
        const char *keys[] = { ED25519, RSA };
        char *m = NULL, *u = NULL;
        (void)state;
        assert_int_equal(cloud_init_meta_data("r-42", "web-1", keys, 2, &m), 0);
        assert_string_equal(m, "instance-id: r-42\nlocal-hostname: web-1\npublic-keys:\n  - \"" ED25519
                               "\"\n  - \"" RSA "\"\n");
        free(m);
        assert_int_equal(cloud_init_meta_data("r-42", "web-1", NULL, 0, &m), 0);
        assert_string_equal(m, "instance-id: r-42\nlocal-hostname: web-1\n");
        free(m);
        assert_int_equal(cloud_init_user_data(NULL, &u), 0);
        assert_string_equal(u, "#cloud-config\n{}\n");
        CbError err = CB_ERROR_INIT;
        assert_int_equal(cloud_init_check_user_data(u, &err), 0); /* what we write we accept */
        free(u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hostname),
                cmocka_unit_test(test_ssh_keys),
                cmocka_unit_test(test_user_data),
                cmocka_unit_test(test_documents),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
