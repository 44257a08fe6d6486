/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl image ...: each provider's OS image library through
 * org.cloudbroker.Broker1.Images. An image to register is a JSON file with
 * the REST API's members (POST /v1/images); the daemon reads the volume
 * and judges it.
 */

#include <stdio.h>

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
        int r;

        (void)argc;
        r = ctl_read_json_object(argv[0], &doc);
        if (r < 0)
                return r;
        r = ctl_call_dict_json(ctl, IMAGES, "RegisterImage", NULL, doc, &out);
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
