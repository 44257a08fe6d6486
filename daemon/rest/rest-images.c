/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1/images: each provider's OS image library (images.h). Parse,
 * call the core, reply. Registering reads the volume on a worker: the
 * request waits for it without holding the loop. */
#include "rest.h"

#include <stdio.h>

#include "images.h"
#include "rest-records.h"

static void register_done(const ImageRecord *image, const CbError *err, void *userdata) {
        RestAsync *a = userdata;
        if (image)
                rest_async_complete(a, 201, rest_image_json(image));
        else
                rest_async_fail(a, err);
}

static int on_image_register(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *body = NULL;
        RestAsync *a;
        int r;
        (void)reply;

        r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        a = rest_suspend(req);
        r = images_register(req->manager->images, &req->caller, body, register_done, a, err);
        json_decref(body);
        if (r < 0) {
                rest_async_fail(a, err);
                cb_error_clear(err);
        }
        return REST_ASYNC;
}

static int on_images_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(image_list_done) ImageList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = images_list(req->manager->images, &req->caller, rest_query(req, "provider"), &page, &list,
                                next, err);
        if (r < 0)
                return r;
        return rest_reply_page(reply, "images", rest_image_list_json(&list), next);
}

static int on_image_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(image_record_done) ImageRecord v = { 0 };
        int r = images_get(req->manager->images, &req->caller, req->params[0], req->params[1], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_image_json(&v));
}

static int on_image_retire(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(image_record_done) ImageRecord v = { 0 };
        int r = images_retire(req->manager->images, &req->caller, req->params[0], req->params[1], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_image_json(&v));
}

const RestRoute rest_images_routes[] = {
        { "GET", "/v1/images", REST_AUTH_BEARER, on_images_list, NULL },
        { "POST", "/v1/images", REST_AUTH_BEARER, on_image_register, NULL },
        { "GET", "/v1/images/{provider}/{name}", REST_AUTH_BEARER, on_image_get, NULL },
        { "POST", "/v1/images/{provider}/{name}/retire", REST_AUTH_BEARER, on_image_retire, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
