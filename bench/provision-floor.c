/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The floor for bench/provision.sh: N x (virDomainDefineXML + virDomainCreate)
 * straight through the libvirt API, one process, one thread, on a test-driver
 * node file: what provisioning costs with no broker in front of it.
 *
 *   provision-floor [--with-volume] N test:///ABS/PATH/node.xml
 *
 * The domain XML has the shape cloudbrokerd generates for ecs-general-1c2g
 * (title, description, the cb: metadata stamp, 1 vCPU, 2 GiB, a raw volume
 * disk in pool "default", serial console), so libvirt parses the same amount
 * of XML on both sides. --with-volume also creates that volume first
 * (virStorageVolCreateXML), which the broker does too; the plain floor is
 * define+start only.
 *
 * Prints one line: "calls=N seconds=S per_sec=R p50_ms=A p99_ms=B
 * cpu_ms_per_call=C rss_before_kib=X rss_after_kib=Y", where a call is one
 * define+start (+ volume) and its latency is measured around it; C is this
 * process's user+system CPU per call (steadier than wall time on a busy
 * machine); the RSS pair is libvirt's own memory for N running test domains,
 * a reference for the broker's.
 * Exits non-zero on the first libvirt error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *v, size_t n, double p) {
        size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return v[k - 1];
}

/* VmRSS of this process in KiB, 0 when unreadable. */
static long rss_kib(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        long v = 0;
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static double cpu_s(void) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void silence(void *userdata, virErrorPtr e) {
        (void)userdata;
        (void)e;
}

static int fail(const char *what, long i) {
        virErrorPtr e = virGetLastError();
        fprintf(stderr, "provision-floor: %s #%ld: %s\n", what, i, e && e->message ? e->message : "?");
        return 1;
}

int main(int argc, char **argv) {
        int with_volume = 0, argi = 1;
        if (argi < argc && !strcmp(argv[argi], "--with-volume")) {
                with_volume = 1;
                argi++;
        }
        if (argc - argi != 2) {
                fprintf(stderr, "usage: provision-floor [--with-volume] N test:///ABS/PATH/node.xml\n");
                return 2;
        }
        char *end;
        errno = 0;
        long n = strtol(argv[argi], &end, 10);
        if (errno || *end || n < 1 || n > 1000000) {
                fprintf(stderr, "provision-floor: N must be 1..1000000\n");
                return 2;
        }
        const char *uri = argv[argi + 1];

        virSetErrorFunc(NULL, silence);
        virConnectPtr vc = virConnectOpen(uri);
        if (!vc)
                return fail("virConnectOpen", 0);
        virStoragePoolPtr pool = NULL;
        if (with_volume && !(pool = virStoragePoolLookupByName(vc, "default")))
                return fail("virStoragePoolLookupByName default", 0);

        double *lat = calloc((size_t)n, sizeof(*lat));
        char *xml = NULL, *vxml = NULL;
        if (!lat)
                return 1;

        long rss_before = rss_kib();
        double t0 = now_s(), cpu0 = cpu_s();
        for (long i = 0; i < n; i++) {
                /* The XML is built inside the timed call: the broker builds its own per request too. */
                double a = now_s();
                free(xml);
                free(vxml);
                xml = vxml = NULL;
                if (asprintf(&xml,
                             "<domain type='test'>\n"
                             "  <name>cb-floor-%06ld</name>\n"
                             "  <title>floor-%06ld</title>\n"
                             "  <description>cloudbroker resource floor-%06ld of project "
                             "bench-provision</description>\n"
                             "  <metadata>\n"
                             "    <cb:resource xmlns:cb='https://cloudbroker.example/xmlns/domain/1.0' "
                             "version='1'>\n"
                             "      <cb:resource-id>floor-%06ld</cb:resource-id>\n"
                             "      <cb:name>floor-%06ld</cb:name>\n"
                             "      <cb:project-id>bench-provision</cb:project-id>\n"
                             "      <cb:approval-no>BENCH-1</cb:approval-no>\n"
                             "      <cb:service-id>ecs-general</cb:service-id>\n"
                             "      <cb:plan-id>ecs-general-1c2g</cb:plan-id>\n"
                             "      <cb:catalog-revision>1</cb:catalog-revision>\n"
                             "    </cb:resource>\n"
                             "  </metadata>\n"
                             "  <memory unit='MiB'>2048</memory>\n"
                             "  <currentMemory unit='MiB'>2048</currentMemory>\n"
                             "  <vcpu placement='static'>1</vcpu>\n"
                             "  <os>\n    <type arch='x86_64'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n"
                             "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n"
                             "  <on_poweroff>destroy</on_poweroff>\n"
                             "  <on_reboot>restart</on_reboot>\n"
                             "  <on_crash>destroy</on_crash>\n"
                             "  <devices>\n"
                             "    <disk type='volume' device='disk'>\n"
                             "      <driver name='qemu' type='raw'/>\n"
                             "      <source pool='default' volume='cb-floor-%06ld.img'/>\n"
                             "      <target dev='vda' bus='virtio'/>\n"
                             "    </disk>\n"
                             "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n"
                             "    <console type='pty'>\n      <target type='serial' port='0'/>\n    "
                             "</console>\n"
                             "  </devices>\n</domain>\n",
                             i, i, i, i, i, i) < 0)
                        return 1;
                if (with_volume) {
                        if (asprintf(&vxml,
                                     "<volume>\n  <name>cb-floor-%06ld.img</name>\n"
                                     "  <capacity unit='GiB'>40</capacity>\n"
                                     "  <allocation unit='bytes'>0</allocation>\n"
                                     "  <target>\n    <format type='raw'/>\n  </target>\n</volume>\n",
                                     i) < 0)
                                return 1;
                        virStorageVolPtr vol = virStorageVolCreateXML(pool, vxml, 0);
                        if (!vol)
                                return fail("virStorageVolCreateXML", i);
                        virStorageVolFree(vol);
                }
                virDomainPtr d = virDomainDefineXML(vc, xml);
                if (!d)
                        return fail("virDomainDefineXML", i);
                if (virDomainCreate(d) < 0)
                        return fail("virDomainCreate", i);
                virDomainFree(d);
                lat[i] = now_s() - a;
        }
        double total = now_s() - t0, cpu = cpu_s() - cpu0;

        /* Everything really runs: a floor that silently did less would flatter itself. */
        int active = virConnectNumOfDomains(vc);
        if (active < n) {
                fprintf(stderr, "provision-floor: only %d domains running after %ld starts\n", active, n);
                return 1;
        }

        qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
        printf("calls=%ld seconds=%.4f per_sec=%.1f p50_ms=%.3f p99_ms=%.3f cpu_ms_per_call=%.3f "
               "rss_before_kib=%ld rss_after_kib=%ld\n",
               n, total, (double)n / total, percentile(lat, (size_t)n, 50) * 1e3,
               percentile(lat, (size_t)n, 99) * 1e3, cpu * 1e3 / (double)n, rss_before, rss_kib());
        free(xml);
        free(vxml);
        free(lat);
        if (pool)
                virStoragePoolFree(pool);
        virConnectClose(vc);
        return 0;
}
