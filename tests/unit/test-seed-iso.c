/* SPDX-License-Identifier: Apache-2.0 */
/* drivers/seed-iso: the NoCloud seed read back with isoinfo (genisoimage):
 * volume id cidata, /meta-data and /user-data byte for byte under their
 * Rock Ridge and Joliet names, and seeds built from several threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "seed-iso.h"

static char *run(const char *cmd) {
        FILE *p = popen(cmd, "r");
        char *out = calloc(1, 65536);
        size_t n;
        assert_non_null(p);
        assert_non_null(out);
        n = fread(out, 1, 65535, p);
        out[n] = 0;
        assert_int_equal(pclose(p), 0);
        return out;
}

static void write_iso(const char *path, const unsigned char *buf, size_t len) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void test_read_back(void **state) {
        const char *meta =
                "instance-id: r-42\nlocal-hostname: web-1\npublic-keys:\n  - \"ssh-ed25519 AAAA x\"\n";
        const char *user = "#cloud-config\nruncmd:\n  - [echo, 教育]\n";
        char path[] = "/tmp/cbseed.XXXXXX", cmd[256];
        unsigned char *iso = NULL;
        size_t len = 0;
        CbError err = CB_ERROR_INIT;
        int fd;
        (void)state;

        assert_int_equal(seed_iso_build(meta, user, &iso, &len, &err), 0);
        assert_true(len > 0 && len % 2048 == 0 && len < 1024 * 1024);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        write_iso(path, iso, len);
        free(iso);

        snprintf(cmd, sizeof(cmd), "isoinfo -d -i %s", path);
        char *d = run(cmd);
        assert_non_null(strstr(d, "Volume id: cidata\n"));
        assert_non_null(strstr(d, "Rock Ridge signatures version"));
        assert_non_null(strstr(d, "Joliet with UCS level"));
        free(d);
        snprintf(cmd, sizeof(cmd), "isoinfo -R -i %s -x /meta-data", path);
        char *m = run(cmd);
        assert_string_equal(m, meta);
        free(m);
        snprintf(cmd, sizeof(cmd), "isoinfo -R -i %s -x /user-data", path);
        char *u = run(cmd);
        assert_string_equal(u, user);
        free(u);
        snprintf(cmd, sizeof(cmd), "isoinfo -R -l -i %s", path);
        char *l = run(cmd);
        assert_non_null(strstr(l, "meta-data"));
        assert_non_null(strstr(l, "user-data"));
        assert_non_null(strstr(l, "-r--r--r--"));
        free(l);
        snprintf(cmd, sizeof(cmd), "isoinfo -J -l -i %s", path);
        char *j = run(cmd);
        assert_non_null(strstr(j, " meta-data \n"));
        assert_non_null(strstr(j, " user-data \n"));
        free(j);
        unlink(path);

        assert_int_equal(seed_iso_build(NULL, user, &iso, &len, &err), -EINVAL);
}

static void *build_many(void *arg) {
        CbError err = CB_ERROR_INIT;
        (void)arg;
        for (int i = 0; i < 20; i++) {
                unsigned char *iso = NULL;
                size_t len = 0;
                if (seed_iso_build("instance-id: x\n", "#cloud-config\n{}\n", &iso, &len, &err) < 0)
                        return (void *)1;
                free(iso);
        }
        return NULL;
}

static void test_threads(void **state) {
        pthread_t t[4];
        void *res;
        (void)state;
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&t[i], NULL, build_many, NULL), 0);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(t[i], &res), 0);
                assert_null(res);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_back),
                cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
