/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "bus-util.h"
#include "log.h"
#include "manager.h"

/*
 * The D-Bus face's wiring: which bus, which objects, who is calling, and
 * how a core refusal reads on the bus. The interfaces themselves live in
 * bus-<area>.c; a new one is one line in bus_objects[].
 */

static const struct {
        const char *path;
        const char *interface;
        const sd_bus_vtable *vtable;
        int (*attach)(Manager *m); /* optional: signals driven by core state */
} bus_objects[] = {
        { BUS_PATH, BUS_CATALOG_INTERFACE, bus_catalog_vtable, bus_catalog_attach },
        { BUS_PATH, BUS_POLICY_INTERFACE, bus_policy_vtable, NULL },
        { BUS_PATH, BUS_RESOURCES_INTERFACE, bus_resources_vtable, bus_resources_attach },
        { BUS_PATH, BUS_APPROVALS_INTERFACE, bus_approvals_vtable, NULL },
        { BUS_PATH, BUS_PROJECTS_INTERFACE, bus_projects_vtable, NULL },
        { BUS_PATH, BUS_SYSTEMS_INTERFACE, bus_systems_vtable, NULL },
        { BUS_PATH, BUS_INCIDENTS_INTERFACE, bus_incidents_vtable, NULL },
        { BUS_PATH, BUS_PROVIDERS_INTERFACE, bus_providers_vtable, NULL },
        { BUS_PATH, BUS_MIGRATION_INTERFACE, bus_migration_vtable, bus_migration_attach },
        { BUS_PATH, BUS_IMAGES_INTERFACE, bus_images_vtable, NULL },
        { BUS_PATH, BUS_AUDIT_INTERFACE, bus_audit_vtable, NULL },
        { BUS_PATH, BUS_IDENTITY_INTERFACE, bus_identity_vtable, NULL },
        { BUS_PATH, BUS_BILLING_INTERFACE, bus_billing_vtable, NULL },
};

static int bus_open_address(const char *address, sd_bus **ret) {
        sd_bus *b = NULL;
        int r;

        /* systemd 252 has no sd_bus_open_with_address(). */
        r = sd_bus_new(&b);
        if (r < 0)
                return r;
        r = sd_bus_set_address(b, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(b, 1);
        if (r >= 0)
                r = sd_bus_start(b);
        if (r < 0) {
                sd_bus_unref(b);
                return r;
        }
        *ret = b;
        return 0;
}

/* 0 and NULL in *ret for "none". */
static int bus_open_configured(const Config *c, sd_bus **ret, const char **ret_which) {
        if (!isempty(c->bus_address)) {
                *ret_which = c->bus_address;
                return bus_open_address(c->bus_address, ret);
        }
        *ret_which = c->bus;
        if (streq_ptr(c->bus, "none")) {
                *ret = NULL;
                return 0;
        }
        if (streq_ptr(c->bus, "session"))
                return sd_bus_open_user(ret);
        if (streq_ptr(c->bus, "system"))
                return sd_bus_open_system(ret);
        return -EINVAL;
}

static const char *request_name_hint(int r) {
        switch (r) {
        case -EEXIST:
                return "it is taken (is another cloudbrokerd running?)";
        case -EACCES:
        case -EPERM:
                return "the bus policy does not allow it (install units/org.cloudbroker.Broker1.conf)";
        default:
                return strerror(-r);
        }
}

int bus_setup(Manager *m, CbError *err) {
        sd_bus *b = NULL;
        const char *which = NULL;
        int r;

        r = bus_open_configured(m->config, &b, &which);
        if (r < 0)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot connect to the bus '%s': %s",
                                    which ? which : "(unset)", strerror(-r));
        if (!b)
                return 0;

        (void)sd_bus_set_description(b, "cloudbrokerd");
        r = sd_bus_attach_event(b, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                cb_error_set(err, CB_ERR_INTERNAL, "cannot attach the bus to the event loop: %s",
                             strerror(-r));
                goto fail;
        }

        /* Objects first, name last: once the name is ours, calls may arrive. */
        for (size_t i = 0; i < ELEMENTSOF(bus_objects); i++) {
                r = sd_bus_add_object_vtable(b, NULL, bus_objects[i].path, bus_objects[i].interface,
                                             bus_objects[i].vtable, m);
                if (r < 0) {
                        cb_error_set(err, CB_ERR_INTERNAL, "cannot export %s: %s", bus_objects[i].interface,
                                     strerror(-r));
                        goto fail;
                }
        }

        r = sd_bus_request_name(b, BUS_NAME, 0);
        if (r < 0) {
                cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot own the bus name %s on the bus '%s': %s",
                             BUS_NAME, which, request_name_hint(r));
                goto fail;
        }

        m->bus = b;
        for (size_t i = 0; i < ELEMENTSOF(bus_objects); i++) {
                if (!bus_objects[i].attach)
                        continue;
                r = bus_objects[i].attach(m);
                if (r < 0) {
                        m->bus = NULL;
                        cb_error_set(err, CB_ERR_INTERNAL, "cannot set up %s signals: %s",
                                     bus_objects[i].interface, strerror(-r));
                        goto fail;
                }
        }
        return 0;

fail:
        sd_bus_flush_close_unref(b);
        return -cb_error_errno(err ? err->kind : CB_ERR_INTERNAL);
}

int bus_caller(Manager *m, sd_bus_message *msg, CbCaller *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *denied = cb_error_dbus_name(CB_ERR_FORBIDDEN);
        const Principal *p;
        uid_t uid;
        int r;

        /* The bus driver vouches for the UID (dbus-daemon's UnixUserID comes
         * from SO_PEERCRED, and sd-bus 252 reports it as the EUID). No
         * SD_BUS_CREDS_AUGMENT: its fallback reads /proc/PID, which a
         * reused PID could answer for someone else. */
        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0) {
                sd_bus_error_setf(error, denied, "cannot determine the caller's UID: %s", strerror(-r));
                return -EACCES;
        }

        p = config_principal_by_uid(m->config, uid);
        if (!p) {
                sd_bus_error_setf(error, denied, "UID %u is not a known principal", (unsigned)uid);
                return -EACCES;
        }
        *ret = (CbCaller){ .principal = p, .face = "dbus" };
        return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), 0 when invalid. */
static size_t utf8_sequence(const unsigned char *s) {
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
            cp > 0x10ffff)
                return 0;
        return n;
}

/* sd-bus refuses to send a string that is not UTF-8, and the caller would
 * then wait for a reply that never comes. CbError messages are cut at a
 * fixed size, which can split a Chinese character: replace what is broken. */
static void utf8_scrub(char *s) {
        unsigned char *p = (unsigned char *)s;

        while (*p) {
                size_t n = utf8_sequence(p);
                if (n == 0) {
                        *p = '?';
                        n = 1;
                }
                p += n;
        }
}

int bus_error_from_cb(sd_bus_error *error, const CbError *err) {
        CbErrorKind kind = err && err->kind != CB_ERR_NONE ? err->kind : CB_ERR_INTERNAL;
        const char *name = cb_error_dbus_name(kind);
        _cleanup_(freep) char *violations = NULL;
        _cleanup_(freep) char *message = NULL;
        int r;

        /* busctl shows only the message, so the violations travel inside it. */
        if (err && err->violations && json_array_size(err->violations) > 0)
                violations = json_dumps(err->violations, JSON_COMPACT | JSON_PRESERVE_ORDER);
        r = asprintf(&message, "%s%s%s", err && err->message[0] ? err->message : cb_error_code(kind),
                     violations ? " violations: " : "", violations ? violations : "");
        if (r < 0) {
                message = NULL;
                sd_bus_error_set(error, name, cb_error_code(kind));
                return -cb_error_errno(kind);
        }
        utf8_scrub(message);
        sd_bus_error_set(error, name, message);
        return -cb_error_errno(kind);
}

size_t bus_json_arg_max(const Manager *m) {
        return m->config && m->config->rest_max_body > 0 ? m->config->rest_max_body : 1024 * 1024;
}

int bus_parse_json_arg(const char *text, size_t max_bytes, const char *what, json_t **ret_doc,
                       sd_bus_error *error) {
        json_error_t jerr;
        size_t len = strlen(text);
        json_t *doc;

        if (max_bytes > 0 && len > max_bytes) {
                sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_TOO_LARGE),
                                  "%s is %zu bytes, more than the %zu allowed", what, len, max_bytes);
                return -cb_error_errno(CB_ERR_TOO_LARGE);
        }
        doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
                sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_MALFORMED_JSON),
                                  "%s is not valid JSON: line %d, column %d: %s", what, jerr.line,
                                  jerr.column, jerr.text);
                return -cb_error_errno(CB_ERR_MALFORMED_JSON);
        }
        *ret_doc = doc;
        return 0;
}

int bus_reply_json(sd_bus_message *msg, const json_t *v) {
        _cleanup_(freep) char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!s)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "s", s);
}

static int dict_value(sd_bus_message *msg, const char *key, const char *sig, json_t **ret,
                      sd_bus_error *error) {
        union {
                uint8_t y;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                int b;
                const char *s;
        } v;
        bool basic = strlen(sig) == 1 && strchr("sbynqiuxtd", sig[0]);
        char **strv = NULL;
        json_t *j = NULL;
        int r;

        if (basic) {
                r = sd_bus_message_read_basic(msg, sig[0], &v);
                if (r < 0)
                        return r;
        }
        switch (basic || streq(sig, "as") ? sig[0] : 0) {
        case 's':
                j = json_string(v.s);
                break;
        case 'b':
                j = json_boolean(v.b);
                break;
        case 'y':
                j = json_integer(v.y);
                break;
        case 'n':
                j = json_integer(v.n);
                break;
        case 'q':
                j = json_integer(v.q);
                break;
        case 'i':
                j = json_integer(v.i);
                break;
        case 'u':
                j = json_integer(v.u);
                break;
        case 'x':
                j = json_integer(v.x);
                break;
        case 't':
                if (v.t > INT64_MAX)
                        return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_INVALID),
                                                 "%s: %" PRIu64 " is out of range", key, v.t);
                j = json_integer((json_int_t)v.t);
                break;
        case 'd':
                j = json_real(v.d);
                break;
        case 'a':
                if (!streq(sig, "as"))
                        break;
                r = sd_bus_message_read_strv(msg, &strv);
                if (r < 0)
                        return r;
                j = json_array();
                for (char **p = strv; j && p && *p; p++)
                        if (json_array_append_new(j, json_string(*p)) < 0)
                                j = (json_decref(j), NULL);
                for (char **p = strv; p && *p; p++)
                        free(*p);
                free(strv);
                if (!j)
                        return -ENOMEM;
                break;
        default:
                break;
        }
        if (!j && basic)
                return -ENOMEM;
        if (!j)
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_INVALID),
                                         "%s: a value of type '%s' is not accepted (s, b, integers, d, as)",
                                         key, sig);
        *ret = j;
        return 0;
}

int bus_read_dict_json(sd_bus_message *msg, json_t **ret, sd_bus_error *error) {
        json_auto_t *o = json_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key, *sig;
                json_t *v = NULL;
                char type;

                r = sd_bus_message_enter_container(msg, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(msg, &type, &sig);
                if (r < 0)
                        return r;
                if (json_object_get(o, key))
                        return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_INVALID),
                                                 "%s is given twice", key);
                r = sd_bus_message_enter_container(msg, 'v', sig);
                if (r < 0)
                        return r;
                r = dict_value(msg, key, sig, &v, error);
                if (r < 0)
                        return r;
                if (json_object_set_new(o, key, v) < 0)
                        return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_INVALID),
                                                 "%s is not a valid UTF-8 key", key);
                r = sd_bus_message_exit_container(msg);
                if (r >= 0)
                        r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(msg);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int bus_reply_core(sd_bus_message *msg, int r, const json_t *v, CbError *err, sd_bus_error *error) {
        if (r < 0) {
                int q = bus_error_from_cb(error, err);
                cb_error_clear(err);
                return q;
        }
        if (!v)
                return -ENOMEM;
        return bus_reply_json(msg, v);
}

int bus_page(uint32_t limit, const char *page_token, Page *ret, CbError *err) {
        char buf[16];

        if (limit > 0)
                snprintf(buf, sizeof(buf), "%" PRIu32, limit);
        return page_parse(limit > 0 ? buf : NULL, isempty(page_token) ? NULL : page_token, ret, err);
}

int bus_reply_page(sd_bus_message *msg, int r, const json_t *items, const char *next, CbError *err,
                   sd_bus_error *error) {
        _cleanup_(freep) char *s = NULL;

        if (r < 0) {
                int q = bus_error_from_cb(error, err);
                cb_error_clear(err);
                return q;
        }
        s = items ? json_dumps(items, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
        if (!s)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "ss", s, next ? next : "");
}

int bus_call_begin(Manager *m, sd_bus_message *msg, CbCaller *ret_caller, sd_bus_error *error,
                   const char *types, ...) {
        va_list ap;
        int r;

        if (!isempty(types)) {
                va_start(ap, types);
                r = sd_bus_message_readv(msg, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return bus_caller(m, msg, ret_caller, error);
}

int bus_reply_new(sd_bus_message *msg, int r, json_t *v, CbError *err, sd_bus_error *error) {
        json_auto_t *owned = v;
        return bus_reply_core(msg, r, owned, err, error);
}

int bus_reply_page_new(sd_bus_message *msg, int r, json_t *items, const char *next, CbError *err,
                       sd_bus_error *error) {
        json_auto_t *owned = items;
        return bus_reply_page(msg, r, owned, next, err, error);
}

int bus_reply_pending(sd_bus_message *msg, int r, CbError *err, sd_bus_error *error) {
        int q;

        if (r >= 0)
                return 1;
        sd_bus_message_unref(msg);
        q = bus_error_from_cb(error, err);
        cb_error_clear(err);
        return q;
}

void bus_answer_pending(sd_bus_message *msg, bool ok, const json_t *v, const CbError *err, const char *what) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (ok && v)
                r = bus_reply_json(msg, v);
        else if (ok)
                r = sd_bus_reply_method_errno(msg, ENOMEM, NULL);
        else {
                bus_error_from_cb(&error, err);
                r = sd_bus_reply_method_error(msg, &error);
        }
        if (r < 0)
                log_warning("cannot answer %s: %s", what, strerror(-r));
        sd_bus_message_unref(msg);
}
