/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A raw HTTP client for tests/integration/test-rest-hardening.sh, to send
 * what curl will not (NUL bytes, garbage, slow trickles), always to
 * 127.0.0.1 and bounded in time.
 *
 *   http-probe raw PORT TIMEOUT_MS
 *       sends stdin on one connection, prints what comes back until the
 *       server closes or TIMEOUT_MS pass, then "\n# closed_ms=N" (the
 *       time the server took to close; -1 if it did not).
 *
 *   http-probe slow SRC_ADDR PORT N SECONDS INTERVAL_MS head|body
 *       opens N connections from SRC_ADDR (another loopback address, so
 *       that the per-address limit falls on these and not on the test's
 *       other clients), and on each one trickles a request: "head" sends
 *       the request line, then one header line every INTERVAL_MS, never
 *       ending the headers; "body" sends complete headers of a POST with
 *       Content-Length 100, then one body byte every INTERVAL_MS. After
 *       SECONDS it prints one line of key=value figures:
 *         opened     connections the kernel accepted
 *         refused    closed by the server within 500 ms, before any answer
 *         cut        closed by the server later, while still trickling
 *         alive      still open at the end
 *         answered408  the cut ones that got "HTTP/1.1 408" first
 *         json408    of those, with a JSON body naming "request_timeout"
 *         max_life_ms / min_cut_ms  the longest life of a cut connection, the shortest
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(const char *src, int port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        if (src) {
                struct sockaddr_in la = { .sin_family = AF_INET };
                if (inet_pton(AF_INET, src, &la.sin_addr) != 1 ||
                    bind(fd, (struct sockaddr *)&la, sizeof(la)) < 0) {
                        close(fd);
                        return -1;
                }
        }
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static int cmd_raw(int port, int timeout_ms) {
        char buf[65536];
        size_t n = 0;
        ssize_t k;
        long long start, closed = -1;
        int fd = dial(NULL, port);

        if (fd < 0) {
                perror("connect");
                return 2;
        }
        while ((k = read(0, buf + n, sizeof(buf) - n)) > 0 && n < sizeof(buf))
                n += (size_t)k;
        start = now_ms();
        if (n && send(fd, buf, n, MSG_NOSIGNAL) < 0) {
                perror("send");
                return 2;
        }
        for (;;) {
                long long left = start + timeout_ms - now_ms();
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                        break;
                k = recv(fd, buf, sizeof(buf), 0);
                if (k <= 0) {
                        closed = now_ms() - start;
                        break;
                }
                fwrite(buf, 1, (size_t)k, stdout);
        }
        printf("\n# closed_ms=%lld\n", closed);
        close(fd);
        return 0;
}

typedef struct Slow {
        int fd;
        long long opened, closed;
        size_t sent;
        char head[16];
        size_t head_len;
        bool got408_json;
} Slow;

static int cmd_slow(const char *src, int port, int n, int seconds, int interval_ms, bool body) {
        static const char head_req[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\n";
        static const char body_req[] = "POST /v1/policy/evaluate HTTP/1.1\r\nHost: x\r\n"
                                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        struct rlimit rl;
        Slow *c = calloc((size_t)n, sizeof(*c));
        struct pollfd *p = calloc((size_t)n, sizeof(*p));
        long long start = now_ms(), next = start + interval_ms, end = start + seconds * 1000LL;
        int opened = 0, refused = 0, cut = 0, alive = 0, ans408 = 0, json408 = 0;
        long long max_life = 0, min_cut = -1;

        if (!c || !p)
                return 2;
        /* One descriptor a connection: raise the soft limit as far as allowed. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
                rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (int i = 0; i < n && now_ms() < end; i++) {
                const char *req = body ? body_req : head_req;
                c[i].fd = dial(src, port);
                c[i].closed = -1;
                if (c[i].fd < 0)
                        continue;
                c[i].opened = now_ms();
                opened++;
                fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
                if (send(c[i].fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
                        c[i].closed = now_ms();
                        close(c[i].fd);
                        c[i].fd = -1;
                }
        }
        while (now_ms() < end) {
                int m = 0;
                long long t = now_ms();
                for (int i = 0; i < n; i++)
                        if (c[i].fd >= 0 && c[i].opened)
                                p[m++] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
                if (t >= next) {
                        for (int i = 0; i < n; i++) {
                                const char *piece = body ? "{" : "X-Trickle: 1\r\n";
                                if (c[i].fd >= 0 && c[i].opened)
                                        (void)send(c[i].fd, piece, strlen(piece), MSG_NOSIGNAL);
                        }
                        next = t + interval_ms;
                }
                if (poll(p, (nfds_t)m, (int)(next - t < end - t ? next - t : end - t)) <= 0)
                        continue;
                for (int j = 0; j < m; j++) {
                        Slow *s = NULL;
                        char buf[4096];
                        ssize_t k;
                        if (!p[j].revents)
                                continue;
                        for (int i = 0; i < n; i++)
                                if (c[i].fd == p[j].fd)
                                        s = &c[i];
                        if (!s)
                                continue;
                        while ((k = recv(s->fd, buf, sizeof(buf) - 1, 0)) > 0) {
                                buf[k] = 0;
                                if (s->head_len < sizeof(s->head) - 1) {
                                        size_t take = sizeof(s->head) - 1 - s->head_len;
                                        if ((size_t)k < take)
                                                take = (size_t)k;
                                        memcpy(s->head + s->head_len, buf, take);
                                        s->head_len += take;
                                }
                                if (strstr(buf, "{\"error\":\"request_timeout\""))
                                        s->got408_json = true;
                        }
                        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                                s->closed = now_ms();
                                close(s->fd);
                                s->fd = -1;
                        }
                }
        }
        for (int i = 0; i < n; i++) {
                if (!c[i].opened)
                        continue;
                if (c[i].fd >= 0) {
                        alive++;
                        close(c[i].fd);
                        continue;
                }
                long long life = c[i].closed - c[i].opened;
                if (life < 500 && c[i].head_len == 0) {
                        refused++;
                        continue;
                }
                cut++;
                if (life > max_life)
                        max_life = life;
                if (min_cut < 0 || life < min_cut)
                        min_cut = life;
                if (strncmp(c[i].head, "HTTP/1.1 408", 12) == 0) {
                        ans408++;
                        json408 += c[i].got408_json;
                }
        }
        printf("opened=%d refused=%d cut=%d alive=%d answered408=%d json408=%d max_life_ms=%lld "
               "min_cut_ms=%lld\n",
               opened, refused, cut, alive, ans408, json408, max_life, min_cut);
        free(c);
        free(p);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 4 && strcmp(argv[1], "raw") == 0)
                return cmd_raw(atoi(argv[2]), atoi(argv[3]));
        if (argc == 8 && strcmp(argv[1], "slow") == 0)
                return cmd_slow(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                                strcmp(argv[7], "body") == 0);
        fprintf(stderr, "usage: http-probe raw PORT TIMEOUT_MS < request\n"
                        "       http-probe slow SRC_ADDR PORT N SECONDS INTERVAL_MS head|body\n");
        return 2;
}
