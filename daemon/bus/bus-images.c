/* SPDX-License-Identifier: Apache-2.0 */

/*
 * org.cloudbroker.Broker1.Images on /org/cloudbroker/Broker1, documented in
 * docs/dbus/org.cloudbroker.Broker1.Images.xml: each provider's OS image
 * library. RegisterImage reads the volume on a worker, as POST /v1/images
 * does: the method returns at once and the reply is sent when the core
 * calls back.
 */

#include <fcntl.h>

#include "bus-util.h"
#include "images.h"
#include "log.h"
#include "rest-records.h"

/* The core's answer to a pending RegisterImage or UploadImage; userdata
 * is the call. */
static void register_done(const ImageRecord *image, const CbError *err, void *userdata) {
        json_auto_t *v = image ? rest_image_json(image) : NULL;
        bus_answer_pending(userdata, image, v, err, "RegisterImage");
}

static int method_register_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = images_register(m->images, &caller, doc, register_done, sd_bus_message_ref(msg), &err);
        return bus_reply_pending(msg, r, &err, error);
}

/* The image's bytes come as a file descriptor (a pipe or a file the
 * caller opened): read on a worker, never on the loop. */
static int method_upload_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        CbCaller caller;
        uint64_t size;
        int r, fd, own;

        r = bus_caller(m, msg, &caller, error);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ht", &fd, &size);
        if (r < 0)
                return r;
        /* The message owns fd; the job needs one of its own. */
        own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (own < 0)
                return sd_bus_error_set_errnof(error, errno, "cannot take the data: %m");
        r = images_upload(m->images, &caller, doc, own, size, register_done, sd_bus_message_ref(msg), &err);
        return bus_reply_pending(msg, r, &err, error);
}

static int method_list_images(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        _cleanup_(image_list_done) ImageList list = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
        const char *provider, *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sus", &provider, &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = images_list(m->images, &caller, bus_optional(provider), &page, &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_image_list_json(&list) : NULL, next, &err, error);
}

static int method_get_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(image_record_done) ImageRecord image = { 0 };
        Manager *m = userdata;
        const char *provider, *name;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &provider, &name);
        if (r < 0)
                return r;
        r = images_get(m->images, &caller, provider, name, &image, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_image_json(&image) : NULL, &err, error);
}

static int method_retire_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(image_record_done) ImageRecord image = { 0 };
        Manager *m = userdata;
        const char *provider, *name;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &provider, &name);
        if (r < 0)
                return r;
        r = images_retire(m->images, &caller, provider, name, &image, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_image_json(&image) : NULL, &err, error);
}

const sd_bus_vtable bus_images_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("RegisterImage", SD_BUS_ARGS("a{sv}", image), SD_BUS_RESULT("s", image),
                                method_register_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UploadImage", SD_BUS_ARGS("a{sv}", image, "h", data, "t", size),
                                SD_BUS_RESULT("s", image), method_upload_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListImages", SD_BUS_ARGS("s", provider, "u", limit, "s", page_token),
                                SD_BUS_RESULT("s", images, "s", next_page_token), method_list_images,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImage", SD_BUS_ARGS("s", provider, "s", name), SD_BUS_RESULT("s", image),
                                method_get_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RetireImage", SD_BUS_ARGS("s", provider, "s", name),
                                SD_BUS_RESULT("s", image), method_retire_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
