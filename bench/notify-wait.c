/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify-wait OUTFILE -- CMD ARGS...
 *
 * Starts CMD the way systemd starts a Type=notify service: with NOTIFY_SOCKET
 * pointing at a datagram socket we listen on. Waits (at most 30 s) for
 * "READY=1", then writes "pid=N\nready_usec=N\n" to OUTFILE, prints the PID
 * and exits 0, leaving CMD running (it is reparented). ready_usec counts from
 * the moment exec succeeded, so fork and our own start-up are not included.
 *
 * On failure (exec failed, CMD exited, no READY within 30 s) CMD is killed if
 * still running, nothing is written to OUTFILE, and the exit status is 1.
 *
 * CMD inherits stdout and stderr: redirect them when capturing our output
 * with $(...), or the substitution waits for CMD to exit.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_USEC (30ULL * 1000 * 1000)

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* A datagram may carry several assignments, one per line. */
static bool has_ready(const char *buf) {
        const char *p = buf;

        for (;;) {
                if (strncmp(p, "READY=1", 7) == 0 && (p[7] == '\n' || p[7] == '\0'))
                        return true;
                p = strchr(p, '\n');
                if (!p)
                        return false;
                p++;
        }
}

static void stop_child(pid_t pid) {
        kill(pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return;
                usleep(100 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* Child side: the exec pipe is close-on-exec, so EOF on it means exec worked. */
static void run_child(int sock, int errpipe, const char *path, char **argv) {
        int e;

        close(sock);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        if (setenv("NOTIFY_SOCKET", path, 1) == 0)
                execvp(argv[0], argv);
        e = errno;
        if (write(errpipe, &e, sizeof(e)) < 0) {
                /* nothing more to report with */
        }
        _exit(127);
}

int main(int argc, char **argv) {
        char dir[] = "/tmp/notify-wait.XXXXXX";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int sock = -1, pipefd[2], e = 0, ret = 1, status;
        uint64_t t_exec, t_ready, deadline;
        ssize_t n;
        pid_t pid;
        FILE *out;

        if (argc < 4 || strcmp(argv[2], "--") != 0) {
                fprintf(stderr, "usage: %s OUTFILE -- CMD [ARGS...]\n", argv[0]);
                return 2;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("notify socket");
                goto out_dir;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                perror("pipe2");
                goto out_sock;
        }

        pid = fork();
        if (pid < 0) {
                perror("fork");
                close(pipefd[0]);
                close(pipefd[1]);
                goto out_sock;
        }
        if (pid == 0) {
                close(pipefd[0]);
                run_child(sock, pipefd[1], sa.sun_path, argv + 3);
        }
        close(pipefd[1]);
        do
                n = read(pipefd[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        t_exec = now_usec();
        close(pipefd[0]);
        if (n > 0) {
                fprintf(stderr, "notify-wait: cannot execute %s: %s\n", argv[3], strerror(e));
                waitpid(pid, NULL, 0);
                goto out_sock;
        }

        deadline = t_exec + TIMEOUT_USEC;
        for (;;) {
                struct pollfd pfd = { .fd = sock, .events = POLLIN };
                char buf[4096];
                uint64_t now = now_usec();
                int r;

                if (waitpid(pid, &status, WNOHANG) == pid) {
                        fprintf(stderr, "notify-wait: %s exited (status %d) before READY=1\n", argv[3],
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                        goto out_sock;
                }
                if (now >= deadline) {
                        fprintf(stderr, "notify-wait: no READY=1 from %s within %llu s, killing pid %d\n",
                                argv[3], TIMEOUT_USEC / 1000000, (int)pid);
                        stop_child(pid);
                        goto out_sock;
                }
                /* Short slices so a child that dies is noticed promptly. */
                r = poll(&pfd, 1, 100);
                if (r < 0 && errno != EINTR) {
                        perror("poll");
                        stop_child(pid);
                        goto out_sock;
                }
                if (r <= 0)
                        continue;
                n = recv(sock, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                if (has_ready(buf)) {
                        t_ready = now_usec();
                        break;
                }
        }

        out = fopen(argv[1], "we");
        if (!out) {
                perror(argv[1]);
                stop_child(pid);
                goto out_sock;
        }
        fprintf(out, "pid=%d\nready_usec=%llu\n", (int)pid, (unsigned long long)(t_ready - t_exec));
        if (fclose(out) != 0) {
                perror(argv[1]);
                stop_child(pid);
                goto out_sock;
        }
        printf("%d\n", (int)pid);
        ret = 0;

out_sock:
        if (sock >= 0)
                close(sock);
        unlink(sa.sun_path);
out_dir:
        rmdir(dir);
        return ret;
}
