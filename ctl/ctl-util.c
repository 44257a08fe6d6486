/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl-util.h"

#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <wchar.h>

#define CTL_FILE_MAX (16u * 1024u * 1024u)

int ctl_error(int r, const char *fmt, ...) {
        va_list ap;

        fputs("cloudbrokerctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r < 0 ? r : -EINVAL;
}

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

int ctl_bus(Ctl *ctl, sd_bus **ret) {
        const char *address = ctl->bus_address;
        int r;

        if (ctl->bus) {
                *ret = ctl->bus;
                return 0;
        }
        if (isempty(address))
                address = getenv("CLOUDBROKER_BUS_ADDRESS");
        if (!isempty(address)) {
                r = bus_open_address(address, &ctl->bus);
                if (r < 0)
                        return ctl_error(r, "cannot connect to the bus at %s: %s", address, strerror(-r));
        } else {
                r = sd_bus_open_system(&ctl->bus);
                if (r < 0)
                        return ctl_error(r, "cannot connect to the system bus: %s", strerror(-r));
        }
        *ret = ctl->bus;
        return 0;
}

void ctl_done(Ctl *ctl) {
        ctl->bus = sd_bus_flush_close_unref(ctl->bus);
}

bool ctl_error_is_not_found(const sd_bus_error *error) {
        return sd_bus_error_has_names(error, CTL_INTERFACE("Error.NotFound"),
                                      CTL_INTERFACE("Error.AccessDenied"), SD_BUS_ERROR_UNKNOWN_OBJECT);
}

/* Sends a built call; the one place a D-Bus error is printed and counted. */
static int ctl_send(Ctl *ctl, sd_bus_message *call, const char *method, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call(ctl->bus, call, ctl->call_timeout_usec, &error, &reply);
        if (r < 0) {
                if (ctl_error_is_not_found(&error))
                        ctl->not_found = true;
                if (sd_bus_error_is_set(&error))
                        return ctl_error(r, "%s: %s", error.name, error.message ? error.message : "");
                return ctl_error(r, "calling %s failed: %s", method, strerror(-r));
        }
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return 0;
}

static int ctl_callv(Ctl *ctl, const char *interface, const char *method, sd_bus_message **ret_reply,
                     const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &call, CTL_BUS_NAME, CTL_BUS_PATH, interface, method);
        if (r < 0)
                return ctl_error(r, "cannot build the %s call: %s", method, strerror(-r));
        if (!isempty(types)) {
                r = sd_bus_message_appendv(call, types, ap);
                /* D-Bus strings must be UTF-8 without NUL; a file is the usual culprit */
                if (r < 0)
                        return ctl_error(r, "cannot pass the arguments of %s: %s%s", method, strerror(-r),
                                         r == -EINVAL ? " (not valid UTF-8 text?)" : "");
        }
        return ctl_send(ctl, call, method, ret_reply);
}

int ctl_call(Ctl *ctl, const char *interface, const char *method, sd_bus_message **ret_reply,
             const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = ctl_callv(ctl, interface, method, ret_reply, types, ap);
        va_end(ap);
        return r;
}

static int reply_json(sd_bus_message *reply, const char *method, json_t **ret) {
        json_error_t jerr;
        const char *text;
        json_t *v;
        int r;

        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return ctl_error(r, "unexpected reply to %s: %s", method, strerror(-r));
        v = json_loads(text, 0, &jerr);
        if (!v)
                return ctl_error(-EBADMSG, "the reply to %s is not JSON: line %d, column %d: %s", method,
                                 jerr.line, jerr.column, jerr.text);
        *ret = v;
        return 0;
}

int ctl_call_json(Ctl *ctl, const char *interface, const char *method, json_t **ret, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = ctl_callv(ctl, interface, method, &reply, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return reply_json(reply, method, ret);
}

static int append_member(sd_bus_message *m, const char *key, const json_t *v) {
        size_t i;
        json_t *e;
        int r;

        switch (json_typeof(v)) {
        case JSON_STRING:
                return sd_bus_message_append(m, "{sv}", key, "s", json_string_value(v));
        case JSON_TRUE:
        case JSON_FALSE:
                return sd_bus_message_append(m, "{sv}", key, "b", json_is_true(v));
        case JSON_INTEGER:
                return sd_bus_message_append(m, "{sv}", key, "x", (int64_t)json_integer_value(v));
        case JSON_REAL:
                return sd_bus_message_append(m, "{sv}", key, "d", json_real_value(v));
        case JSON_ARRAY:
                json_array_foreach(v, i, e) if (!json_is_string(e)) return -EDOM;
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", key);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "s");
                json_array_foreach(v, i, e) {
                        if (r < 0)
                                break;
                        r = sd_bus_message_append(m, "s", json_string_value(e));
                }
                for (int k = 0; k < 3 && r >= 0; k++)
                        r = sd_bus_message_close_container(m);
                return r;
        default:
                return -EDOM;
        }
}

/* The call with [s id,] the a{sv} of doc, left open for more arguments. */
static int dict_call(Ctl *ctl, const char *interface, const char *method, const char *id, const json_t *doc,
                     sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        const char *key;
        sd_bus *bus;
        json_t *v;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &call, CTL_BUS_NAME, CTL_BUS_PATH, interface, method);
        if (r >= 0 && id)
                r = sd_bus_message_append(call, "s", id);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r < 0)
                return ctl_error(r, "cannot build the %s call: %s", method, strerror(-r));
        json_object_foreach((json_t *)doc, key, v) {
                r = append_member(call, key, v);
                if (r == -EDOM)
                        return ctl_error(-EINVAL,
                                         "member '%s': only strings, booleans, numbers and arrays of strings "
                                         "travel on the bus",
                                         key);
                if (r < 0)
                        return ctl_error(r, "cannot pass member '%s' to %s: %s", key, method, strerror(-r));
        }
        r = sd_bus_message_close_container(call);
        if (r < 0)
                return ctl_error(r, "cannot build the %s call: %s", method, strerror(-r));
        *ret = TAKE_PTR(call);
        return 0;
}

int ctl_call_dict_json(Ctl *ctl, const char *interface, const char *method, const char *id, const json_t *doc,
                       json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        int r;

        r = dict_call(ctl, interface, method, id, doc, &call);
        if (r < 0)
                return r;
        r = ctl_send(ctl, call, method, &reply);
        if (r < 0)
                return r;
        return reply_json(reply, method, ret);
}

typedef struct FeedCall {
        sd_bus_message *reply;
        bool done;
} FeedCall;

static int feed_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FeedCall *fc = userdata;
        (void)error;
        fc->reply = sd_bus_message_ref(m);
        fc->done = true;
        return 0;
}

/* An upload may take long: a day, not the bus's 25 s. */
#define CTL_FEED_TIMEOUT_USEC (24ULL * 3600 * 1000000)

int ctl_call_dict_feed(Ctl *ctl, const char *interface, const char *method, const json_t *doc, uint64_t size,
                       CtlFeedFn feed, void *userdata, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        FeedCall fc = { 0 };
        int p[2], r, wfd;

        r = dict_call(ctl, interface, method, NULL, doc, &call);
        if (r < 0)
                return r;
        if (pipe2(p, O_CLOEXEC) < 0)
                return ctl_error(-errno, "cannot make a pipe: %s", strerror(errno));
        wfd = p[1];
        r = sd_bus_message_append(call, "ht", p[0], size); /* the message keeps a copy of p[0] */
        close(p[0]);
        if (r >= 0 && fcntl(wfd, F_SETFL, O_NONBLOCK) < 0)
                r = -errno;
        if (r >= 0)
                r = sd_bus_call_async(ctl->bus, &slot, call, feed_reply, &fc, CTL_FEED_TIMEOUT_USEC);
        if (r < 0) {
                close(wfd);
                return ctl_error(r, "cannot call %s: %s", method, strerror(-r));
        }
        while (!fc.done) {
                struct pollfd fds[2] = { { .fd = sd_bus_get_fd(ctl->bus),
                                           .events = (short)sd_bus_get_events(ctl->bus) },
                                         { .fd = wfd, .events = POLLOUT } };
                r = sd_bus_process(ctl->bus, NULL);
                if (r < 0) {
                        if (wfd >= 0)
                                close(wfd);
                        return ctl_error(r, "the bus failed during %s: %s", method, strerror(-r));
                }
                if (r > 0 || fc.done)
                        continue;
                if (poll(fds, wfd >= 0 ? 2 : 1, 1000) < 0 && errno != EINTR) {
                        if (wfd >= 0)
                                close(wfd);
                        return ctl_error(-errno, "poll: %s", strerror(errno));
                }
                if (wfd >= 0 && fds[1].revents) {
                        r = feed(userdata, wfd);
                        if (r <= 0) { /* done, or the daemon stopped reading: its answer says why */
                                close(wfd);
                                wfd = -1;
                        }
                }
        }
        if (wfd >= 0)
                close(wfd);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = fc.reply;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e) {
                if (ctl_error_is_not_found(e))
                        ctl->not_found = true;
                return ctl_error(-EIO, "%s: %s", e->name, e->message ? e->message : "");
        }
        return reply_json(reply, method, ret);
}

/* Enough for ten million records at the daemon's largest page. */
#define CTL_PAGES_MAX 10000u

int ctl_call_pages(Ctl *ctl, const char *interface, const char *method, const char *department,
                   json_t **ret) {
        json_auto_t *all = json_array();
        _cleanup_(freep) char *token = strdup("");
        int r;

        if (!all || !token)
                return ctl_error(-ENOMEM, "out of memory");
        for (unsigned pages = 0; pages < CTL_PAGES_MAX; pages++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                json_auto_t *items = NULL;
                const char *text, *next;
                json_error_t jerr;

                if (department)
                        r = ctl_call(ctl, interface, method, &reply, "sus", department, 0u, token);
                else
                        r = ctl_call(ctl, interface, method, &reply, "us", 0u, token);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(reply, "ss", &text, &next);
                if (r < 0)
                        return ctl_error(r, "unexpected reply to %s: %s", method, strerror(-r));
                items = json_loads(text, 0, &jerr);
                if (!json_is_array(items))
                        return ctl_error(-EBADMSG, "the reply to %s is not a JSON array", method);
                if (json_array_extend(all, items) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
                if (isempty(next)) {
                        *ret = TAKE_PTR(all);
                        return 0;
                }
                free(token);
                token = strdup(next);
                if (!token)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        return ctl_error(-E2BIG, "%s answered more than %u pages", method, CTL_PAGES_MAX);
}

int ctl_read_json_object(const char *path, json_t **ret) {
        _cleanup_(freep) char *text = NULL;
        json_error_t jerr;
        json_t *doc;
        int r;

        r = ctl_read_file(path, &text);
        if (r < 0)
                return r;
        doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return ctl_error(-EINVAL, "%s is not valid JSON: line %d, column %d: %s", path, jerr.line,
                                 jerr.column, jerr.text);
        if (!json_is_object(doc)) {
                json_decref(doc);
                return ctl_error(-EINVAL, "%s is not a JSON object", path);
        }
        *ret = doc;
        return 0;
}

/* "budget_year" -> "Budget year:" */
static void field_label(const char *key, char *buf, size_t size) {
        size_t i = 0;

        for (; key[i] && i + 2 < size; i++)
                buf[i] = key[i] == '_' ? ' ' : key[i];
        if (i > 0 && buf[0] >= 'a' && buf[0] <= 'z')
                buf[0] = (char)(buf[0] - 'a' + 'A');
        buf[i++] = ':';
        buf[i] = '\0';
}

static char *value_text(const json_t *v) {
        if (json_is_string(v))
                return strdup(json_string_value(v));
        if (json_is_null(v) || !v)
                return strdup("-");
        return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

void ctl_print_fields(const json_t *o) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)o, key, v) {
                _cleanup_(freep) char *text = value_text(v);
                char label[64];

                field_label(key, label, sizeof(label));
                printf("%-24s %s\n", label, text && *text ? text : "-");
        }
}

int ctl_print_list(Ctl *ctl, const json_t *list, size_t n, const char *const *headers,
                   const char *const *members) {
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        const char *row[16];
        size_t i;
        json_t *o;

        if (ctl->json)
                return ctl_print_json(list);
        if (!json_is_array(list))
                return ctl_error(-EBADMSG, "the daemon's list is not a JSON array");
        assert(n <= ELEMENTSOF(row));
        t = ctl_table_new(n, headers);
        if (!t)
                return ctl_error(-ENOMEM, "out of memory");
        json_array_foreach(list, i, o) {
                char *cells[16] = { 0 };
                int r = 0;

                for (size_t k = 0; k < n; k++) {
                        const json_t *v = json_object_get(o, members[k]);
                        cells[k] = value_text(v);
                        row[k] = cells[k] ? cells[k] : "-";
                }
                r = ctl_table_add(t, row);
                for (size_t k = 0; k < n; k++)
                        free(cells[k]);
                if (r < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        ctl_table_print(t, stdout);
        return 0;
}

int ctl_print_json(const json_t *v) {
        if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) < 0)
                return ctl_error(-EIO, "cannot write the JSON document");
        fputc('\n', stdout);
        return 0;
}

int ctl_read_file(const char *path, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        FILE *f;
        size_t len = 0, cap = 0;
        bool is_stdin = streq(path, "-");
        int r = 0;

        f = is_stdin ? stdin : fopen(path, "re");
        if (!f) {
                r = -errno;
                return ctl_error(r, "cannot open %s: %s", path, strerror(-r));
        }
        for (;;) {
                size_t n;

                if (cap - len < 4096) {
                        char *nb;

                        if (cap >= CTL_FILE_MAX) {
                                r = ctl_error(-EFBIG, "%s is larger than %u bytes", path, CTL_FILE_MAX);
                                break;
                        }
                        cap = cap ? cap * 2 : 8192;
                        nb = realloc(buf, cap + 1);
                        if (!nb) {
                                r = ctl_error(-ENOMEM, "out of memory reading %s", path);
                                break;
                        }
                        buf = nb;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0) {
                        if (ferror(f))
                                r = ctl_error(-EIO, "cannot read %s", path);
                        break;
                }
        }
        if (!is_stdin)
                fclose(f);
        if (r < 0)
                return r;
        if (len == 0)
                return ctl_error(-EINVAL, "%s is empty; expected a JSON text", path);
        buf[len] = '\0';
        if (memchr(buf, '\0', len))
                return ctl_error(-EINVAL, "%s contains a NUL byte; expected a JSON text", path);
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Wide characters when the locale cannot tell: the East Asian Wide and
 * Fullwidth blocks a catalogue is likely to hold. */
static int fallback_width(uint32_t cp) {
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
                return 0;
        if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
            (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
            (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
            (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
            (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
            (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd))
                return 2;
        return 1;
}

size_t ctl_display_width(const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        size_t width = 0;

        while (*p) {
                uint32_t cp;
                size_t n;
                int w;

                if (*p < 0x80)
                        cp = *p, n = 0;
                else if ((*p & 0xe0) == 0xc0)
                        cp = *p & 0x1f, n = 1;
                else if ((*p & 0xf0) == 0xe0)
                        cp = *p & 0x0f, n = 2;
                else if ((*p & 0xf8) == 0xf0)
                        cp = *p & 0x07, n = 3;
                else
                        cp = 0xfffd, n = 0; /* stray byte: one column, like a replacement character */
                p++;
                for (; n > 0 && (*p & 0xc0) == 0x80; n--, p++)
                        cp = (cp << 6) | (*p & 0x3f);

                w = wcwidth((wchar_t)cp);
                width += (size_t)(w >= 0 ? w : fallback_width(cp));
        }
        return width;
}

const char *ctl_format_fen(long long fen, char *buf, size_t size) {
        unsigned long long a = fen < 0 ? 0ULL - (unsigned long long)fen : (unsigned long long)fen;

        snprintf(buf, size, "%s%llu.%02llu", fen < 0 ? "-" : "", a / 100, a % 100);
        return buf;
}

const char *ctl_json_str(const json_t *o, const char *key, const char *def) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : def;
}

struct CtlTable {
        size_t n_columns;
        size_t n_cells; /* headers included */
        size_t cap;
        char **cells;
};

CtlTable *ctl_table_new(size_t n_columns, const char *const *headers) {
        CtlTable *t;

        if (n_columns == 0)
                return NULL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        if (ctl_table_add(t, headers) < 0)
                return ctl_table_free(t);
        return t;
}

int ctl_table_add(CtlTable *t, const char *const *cells) {
        if (t->n_cells + t->n_columns > t->cap) {
                size_t cap = t->cap ? t->cap * 2 : t->n_columns * 16;
                char **nc = realloc(t->cells, cap * sizeof(char *));
                if (!nc)
                        return -ENOMEM;
                t->cells = nc;
                t->cap = cap;
        }
        for (size_t i = 0; i < t->n_columns; i++) {
                char *c = strdup(cells[i] ? cells[i] : "-");
                if (!c) {
                        for (size_t k = 0; k < i; k++)
                                free(t->cells[t->n_cells + k]);
                        return -ENOMEM;
                }
                t->cells[t->n_cells + i] = c;
        }
        t->n_cells += t->n_columns;
        return 0;
}

static bool table_legend = true;

void ctl_table_set_legend(bool legend) {
        table_legend = legend;
}

void ctl_table_print(const CtlTable *t, FILE *f) {
        _cleanup_(freep) size_t *widths = calloc(t->n_columns, sizeof(size_t));

        if (!widths)
                return;
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = ctl_display_width(t->cells[i]);
                if (w > widths[i % t->n_columns])
                        widths[i % t->n_columns] = w;
        }
        /* Widths count the headers even without them: columns stay where
         * a script that read the legend once expects them. */
        for (size_t i = table_legend ? 0 : t->n_columns; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col == t->n_columns - 1;

                fputs(t->cells[i], f);
                if (last) {
                        fputc('\n', f);
                        continue;
                }
                /* printf's %-*s counts bytes, which misaligns CJK: pad by columns */
                for (size_t w = ctl_display_width(t->cells[i]); w < widths[col] + 2; w++)
                        fputc(' ', f);
        }
}

CtlTable *ctl_table_free(CtlTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}
