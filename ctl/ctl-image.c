/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl image ...: each provider's OS image library through
 * org.cloudbroker.Broker1.Images. An image to register is a JSON file with
 * the REST API's members (POST /v1/images); the daemon reads the volume
 * and judges it.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl-util.h"

#define IMAGES CTL_INTERFACE("Images")

static int print_doc(Ctl *ctl, const json_t *v) {
        if (ctl->json)
                return ctl_print_json(v);
        ctl_print_fields(v);
        return 0;
}

static int image_register(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL, *out = NULL;
        sd_bus *bus;
        int r;

        (void)argc;
        r = ctl_read_json_object(argv[0], &doc);
        if (r < 0)
                return r;
        /* The daemon reads the whole volume before it answers: minutes for a
         * large image, not the bus's default 25 s. */
        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        (void)sd_bus_set_method_call_timeout(bus, 3600ULL * 1000000);
        r = ctl_call_dict_json(ctl, IMAGES, "RegisterImage", NULL, doc, &out);
        if (r < 0)
                return r;
        return print_doc(ctl, out);
}

/* Copies the file into the pipe as the daemon reads it, and shows how far
 * it got on standard error (one bar, redrawn; a line at the end). */
typedef struct Upload {
        int fd;
        uint64_t size, sent;
        char buf[65536];
        size_t len, off;
        int shown; /* per mille last drawn, -1 none */
        bool tty;
} Upload;

static void draw(Upload *u, bool last) {
        int permille = u->size ? (int)(u->sent * 1000 / u->size) : 1000;
        char bar[41];

        if (permille == u->shown && !last)
                return;
        if (!u->tty && !last && permille / 100 == u->shown / 100)
                return; /* not a terminal: a line every 10 % */
        u->shown = permille;
        for (int i = 0; i < 40; i++)
                bar[i] = i < permille * 40 / 1000 ? '#' : '.';
        bar[40] = 0;
        fprintf(stderr, "%supload [%s] %3d%% %llu/%llu bytes%s", u->tty ? "\r" : "", bar, permille / 10,
                (unsigned long long)u->sent, (unsigned long long)u->size, u->tty && !last ? "" : "\n");
}

static int feed(void *userdata, int wfd) {
        Upload *u = userdata;

        for (unsigned rounds = 0; rounds < 64; rounds++) {
                if (u->off == u->len) {
                        ssize_t n = u->sent < u->size ? read(u->fd, u->buf, sizeof(u->buf)) : 0;
                        if (n < 0)
                                return ctl_error(-errno, "cannot read the image: %s", strerror(errno));
                        if (n == 0) {
                                draw(u, true);
                                return 0;
                        }
                        u->len = (size_t)n, u->off = 0;
                }
                ssize_t w = write(wfd, u->buf + u->off, u->len - u->off);
                if (w < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (w < 0)
                        return 0; /* EPIPE: the daemon refused; its answer says why */
                u->off += (size_t)w;
                u->sent += (uint64_t)w;
        }
        draw(u, false);
        return 1;
}

static int image_upload(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL, *out = NULL;
        Upload u = { .fd = -1, .shown = -1, .tty = isatty(STDERR_FILENO) };
        struct stat st;
        int r;

        (void)argc;
        r = ctl_read_json_object(argv[1], &doc);
        if (r < 0)
                return r;
        u.fd = open(argv[0], O_RDONLY | O_CLOEXEC);
        if (u.fd < 0 || fstat(u.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = ctl_error(-errno, "%s: not a readable file", argv[0]);
                if (u.fd >= 0)
                        close(u.fd);
                return r;
        }
        u.size = (uint64_t)st.st_size;
        signal(SIGPIPE, SIG_IGN); /* a refusal closes the pipe: write() says EPIPE */
        r = ctl_call_dict_feed(ctl, IMAGES, "UploadImage", doc, u.size, feed, &u, &out);
        close(u.fd);
        if (r < 0)
                return r;
        return print_doc(ctl, out);
}

static int image_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = {
                "PROVIDER", "NAME", "OS", "VERSION", "ARCH", "FORMAT", "STATE"
        };
        static const char *const members[] = { "provider", "name",   "os",   "os_version",
                                               "arch",     "format", "state" };
        json_auto_t *list = NULL;
        int r;

        r = ctl_call_pages(ctl, IMAGES, "ListImages", argc > 0 ? argv[0] : "", &list);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static int image_show(Ctl *ctl, int argc, char **argv) {
        json_auto_t *out = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, IMAGES, "GetImage", &out, "ss", argv[0], argv[1]);
        if (r < 0)
                return r;
        return print_doc(ctl, out);
}

static int image_retire(Ctl *ctl, int argc, char **argv) {
        json_auto_t *out = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, IMAGES, "RetireImage", &out, "ss", argv[0], argv[1]);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        printf("%s/%s: %s\n", argv[0], argv[1], ctl_json_str(out, "state", "?"));
        return 0;
}

static const CtlCommand image_commands[] = {
        { "register", "FILE", "Register a volume of a provider's image pool as an OS image (the operator)", 1,
          1, image_register, 0, 0 },
        { "upload", "FILE IMAGE.json",
          "Upload FILE as a new volume of the image pool and register it (the operator); shows progress", 2,
          2, image_upload, 0, 0 },
        { "list", "[PROVIDER]", "List the OS images, of one provider or all", 0, 1, image_list, 0, 0 },
        { "show", "PROVIDER NAME", "Show one OS image", 2, 2, image_show, 0, 0 },
        { "retire", "PROVIDER NAME", "Retire an OS image: no new plan or VM may use it (the operator)", 2, 2,
          image_retire, 0, 0 },
};

const CtlGroup ctl_group_image = {
        .name = "image",
        .summary = "OS images of the providers",
        .commands = image_commands,
        .n_commands = ELEMENTSOF(image_commands),
};
