/* SPDX-License-Identifier: Apache-2.0 */
#include "vm-guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "macro.h"
#include "resources-internal.h"

typedef enum GuestWhat {
        GUEST_CONSOLE,
        GUEST_ADDRESSES,
} GuestWhat;

typedef struct GuestJob {
        Resources *r;
        GuestWhat what;
        const DriverOps *ops;
        DriverConn *conn;
        char resource_id[64];
        char provider_ref[64];
        size_t max_bytes;
        unsigned lines;
        /* the worker's results */
        char *data;
        size_t len;
        bool truncated;
        VmAddressList *addresses;
        CbError err;
        VmGuestDoneFn done;
        VmAddressesDoneFn addresses_done;
        void *userdata;
} GuestJob;

static void guest_job_free(GuestJob *j) {
        if (!j)
                return;
        free(j->data);
        vm_address_list_free(j->addresses);
        cb_error_clear(&j->err);
        free(j);
}

/* The VM a guest read is about, on a provider that answers now. */
static int guest_target(Resources *r, const CbCaller *caller, const char *id, unsigned roles,
                        const char *action, Resource *res, Provider **ret_p, CbError *err) {
        int q = caller_require_role(caller, roles, action, err);
        if (q < 0)
                return q;
        q = resources_get(r, caller, id, res, err);
        if (q < 0)
                return q;
        if (res->kind != RESOURCE_KIND_VM)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "id", "resource %s is not a VM", id);
        if (res->state == RESOURCE_DELETED)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource %s is deleted", id);
        if (!res->provider)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource %s is on no provider yet", id);
        Provider *p = providers_find(r->providers, res->provider);
        if (!p)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is not configured",
                                    res->provider);
        if (driver_is_async(p->ops))
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "provider '%s' (http) shows no guest", p->name);
        if (p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is %s%s%s", p->name,
                                    provider_status_to_string(p->status), p->last_error[0] ? ": " : "",
                                    p->last_error);
        *ret_p = p;
        return 0;
}

static int console_args(unsigned kib, unsigned lines, CbError *err) {
        if (kib < 1 || kib > VM_CONSOLE_MAX_KIB)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "kib", "kib: must be 1..%u",
                                          VM_CONSOLE_MAX_KIB);
        if (lines > VM_CONSOLE_MAX_LINES)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "lines", "lines: must be 1..%u",
                                          VM_CONSOLE_MAX_LINES);
        return 0;
}

/* The console is what the guest prints: operators run the platform, the
 * department owns the VM; auditors and finance have no need of it. */
#define CONSOLE_READERS (CB_ROLE_OPERATOR | CB_ROLE_DEPARTMENT)

int vm_console_check(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
                     CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        int q = console_args(kib, lines, err);
        if (q < 0)
                return q;
        return guest_target(r, caller, id, CONSOLE_READERS, "read VM consoles", &res, &p, err);
}

int vm_addresses_check(Resources *r, const CbCaller *caller, const char *id, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        return guest_target(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read VM addresses", &res,
                            &p, err);
}

static int guest_job_run(void *userdata) {
        GuestJob *j = userdata;
        DriverRef ref = { .resource_id = j->resource_id, .provider_ref = j->provider_ref };
        if (j->what == GUEST_CONSOLE)
                return driver_console_tail(j->ops, j->conn, &ref, j->max_bytes, &j->data, &j->len,
                                           &j->truncated, &j->err);
        json_auto_t *a = NULL;
        int q = driver_addresses(j->ops, j->conn, &ref, &a, &j->err);
        if (q < 0)
                return q;
        q = vm_address_list_from_json(a, &j->addresses);
        if (q < 0)
                return cb_error_set(&j->err, CB_ERR_INTERNAL,
                                    "provider answered addresses in no known shape: %s", strerror(-q));
        return 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t cp;
        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* What a guest wrote, as text: anything that is no text (invalid UTF-8,
 * terminal control codes) becomes '?', so the answer is always valid
 * UTF-8. A malloc'd string of *ret_len bytes (NUL-terminated), or NULL. */
static char *console_text(const char *data, size_t len, unsigned lines, size_t *ret_len) {
        const unsigned char *s = (const unsigned char *)data;
        size_t start = 0;
        if (lines > 0) {
                /* The last `lines` lines: a final newline ends the last line, it starts none. */
                size_t seen = 0, i = len;
                if (i > 0 && s[i - 1] == '\n')
                        i--;
                while (i > 0) {
                        if (s[i - 1] == '\n' && ++seen == lines)
                                break;
                        i--;
                }
                start = i;
        }
        char *out = malloc(len - start + 1);
        if (!out)
                return NULL;
        size_t o = 0;
        for (size_t i = start; i < len;) {
                size_t l = utf8_len(s + i, len - i);
                if (l == 0 || (l == 1 && s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') ||
                    (l == 1 && s[i] == 0x7f)) {
                        /* a carriage return before a newline is the serial line's, not the guest's text */
                        if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
                                out[o++] = '?';
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, l);
                o += l;
                i += l;
        }
        out[o] = '\0';
        *ret_len = o;
        return out;
}

static const char *const vm_address_type_table[_VM_ADDRESS_TYPE_MAX] = {
        [VM_ADDRESS_IPV4] = "ipv4",
        [VM_ADDRESS_IPV6] = "ipv6",
        [VM_ADDRESS_UNKNOWN] = "unknown",
};
DEFINE_STRING_TABLE(vm_address_type, VmAddressType, _VM_ADDRESS_TYPE_MAX);

static void vm_interface_done(VmInterface *i) {
        free(i->name);
        free(i->mac);
        for (size_t k = 0; k < i->n_addresses; k++)
                free(i->addresses[k].address);
        free(i->addresses);
}

VmAddressList *vm_address_list_free(VmAddressList *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                vm_interface_done(&l->items[i]);
        free(l->items);
        free(l);
        return NULL;
}

bool vm_address_list_equal(const VmAddressList *a, const VmAddressList *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const VmInterface *x = &a->items[i], *y = &b->items[i];
                if (!streq_ptr(x->name, y->name) || !streq_ptr(x->mac, y->mac) ||
                    x->n_addresses != y->n_addresses)
                        return false;
                for (size_t k = 0; k < x->n_addresses; k++)
                        if (x->addresses[k].type != y->addresses[k].type ||
                            x->addresses[k].prefix != y->addresses[k].prefix ||
                            !streq_ptr(x->addresses[k].address, y->addresses[k].address))
                                return false;
        }
        return true;
}

/* A member that is a string, absent or null (NULL); anything else is -EINVAL. */
static int opt_string(const json_t *o, const char *key, char **ret) {
        const json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return -EINVAL;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int interface_from_json(const json_t *o, VmInterface *ret) {
        const json_t *addrs = json_object_get(o, "addresses"), *a;
        size_t k;
        int r;

        if (!json_is_object(o) || (addrs && !json_is_array(addrs)))
                return -EINVAL;
        if ((r = opt_string(o, "name", &ret->name)) < 0 || (r = opt_string(o, "mac", &ret->mac)) < 0)
                return r;
        if (json_array_size(addrs) == 0)
                return 0;
        ret->addresses = calloc(json_array_size(addrs), sizeof(*ret->addresses));
        if (!ret->addresses)
                return -ENOMEM;
        json_array_foreach(addrs, k, a) {
                VmAddress *v = &ret->addresses[k];
                const json_t *prefix = json_object_get(a, "prefix");
                int t;
                if (!json_is_object(a) || (prefix && !json_is_integer(prefix)))
                        return -EINVAL;
                t = vm_address_type_from_string(json_string_value(json_object_get(a, "type")));
                v->type = t < 0 ? VM_ADDRESS_UNKNOWN : (VmAddressType)t;
                v->prefix = (int)json_integer_value(prefix);
                ret->n_addresses++;
                if ((r = opt_string(a, "address", &v->address)) < 0)
                        return r;
        }
        return 0;
}

int vm_address_list_from_json(const json_t *driver, VmAddressList **ret) {
        _cleanup_(vm_address_list_freep) VmAddressList *l = NULL;
        const json_t *o;
        size_t i;

        if (!json_is_array(driver))
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        if (json_array_size(driver) > 0) {
                l->items = calloc(json_array_size(driver), sizeof(*l->items));
                if (!l->items)
                        return -ENOMEM;
        }
        json_array_foreach(driver, i, o) {
                l->n++; /* counted before it is filled, so that a failure frees what it holds */
                int r = interface_from_json(o, &l->items[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The column's text: the shape the driver answers, so that rows kept
 * before this record existed read the same. */
static json_t *address_list_column(const VmAddressList *l) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < l->n; i++) {
                const VmInterface *in = &l->items[i];
                json_t *addrs = json_array();
                for (size_t k = 0; addrs && k < in->n_addresses; k++)
                        if (json_array_append_new(addrs,
                                                  json_pack("{s:s, s:s?, s:i}", "type",
                                                            vm_address_type_to_string(in->addresses[k].type),
                                                            "address", in->addresses[k].address, "prefix",
                                                            in->addresses[k].prefix)) < 0)
                                json_decref(TAKE_PTR(addrs));
                if (!addrs || json_array_append_new(list, json_pack("{s:s?, s:s?, s:o}", "name", in->name,
                                                                    "mac", in->mac, "addresses", addrs)) < 0)
                        json_decref(TAKE_PTR(list));
        }
        return list;
}

int vm_addresses_keep(Store *s, const char *id, const VmAddressList *addresses, CbError *err) {
        static const char sql[] = "INSERT INTO resource_addresses (resource_id, addresses, read_at) "
                                  "VALUES (?1, ?2, ?3) ON CONFLICT (resource_id) DO UPDATE SET "
                                  "addresses = excluded.addresses, read_at = excluded.read_at";
        json_auto_t *column = address_list_column(addresses);
        _cleanup_(freep) char *text = column ? json_dumps(column, JSON_COMPACT) : NULL;
        char now[32];
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        int q = store_run(s, sql, STORE_ARGS(SA_TEXT(id), SA_TEXT(text), SA_TEXT(now)),
                          "keeping the addresses", err);
        return q < 0 ? q : 0;
}

int vm_addresses_stored(Store *s, const char *id, VmAddressList **ret, CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        json_auto_t *v = NULL;
        int r = store_query(s, "SELECT addresses FROM resource_addresses WHERE resource_id = ?1",
                            STORE_ARGS(SA_TEXT(id)), &q, "reading the addresses", err);
        if (r >= 0)
                r = store_rows_next(q, err);
        if (r < 0)
                return r;
        if (r > 0)
                v = json_loads(store_rows_text(q, 0), 0, NULL);
        /* Only this module writes the column, in this shape; should a row
         * be anything else, no addresses is the true answer. */
        r = vm_address_list_from_json(v, ret);
        if (r == -EINVAL) {
                *ret = calloc(1, sizeof(**ret));
                r = *ret ? 0 : -ENOMEM;
        }
        return r < 0 ? cb_error_set(err, CB_ERR_INTERNAL, "out of memory") : 0;
}

static void guest_job_done(int result, void *userdata) {
        GuestJob *j = userdata;
        _cleanup_(freep) char *text = NULL;
        VmConsole console = { .resource_id = j->resource_id, .bytes = j->len, .truncated = j->truncated };

        if (result == -ECANCELED && !j->err.message[0])
                cb_error_set(&j->err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
        else if (result >= 0 && j->what == GUEST_CONSOLE) {
                text = console_text(j->data, j->len, j->lines, &console.output_len);
                console.output = text;
                if (!text)
                        cb_error_set(&j->err, CB_ERR_INTERNAL, "out of memory");
        } else if (result >= 0) {
                char now[32];
                store_now(now);
                if (vm_addresses_keep(j->r->store, j->resource_id, j->addresses, &j->err) >= 0) {
                        resources_notify(j->r, j->resource_id, false);
                        j->addresses_done(&(VmAddressRead){ j->resource_id, now, j->addresses }, NULL,
                                          j->userdata);
                        guest_job_free(j);
                        return;
                }
        } else if (!j->err.message[0])
                cb_error_set(&j->err, CB_ERR_INTERNAL, "reading the guest failed: %s", strerror(-result));
        if (j->what == GUEST_ADDRESSES)
                j->addresses_done(NULL, &j->err, j->userdata);
        else
                j->done(text ? &console : NULL, text ? NULL : &j->err, j->userdata);
        guest_job_free(j);
}

static int guest_submit(Resources *r, GuestWhat what, const Resource *res, Provider *p, size_t max_bytes,
                        unsigned lines, VmGuestDoneFn done, VmAddressesDoneFn addresses_done, void *userdata,
                        CbError *err) {
        GuestJob *j = calloc(1, sizeof(*j));
        if (!j)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *j = (GuestJob){ .r = r,
                         .what = what,
                         .ops = p->ops,
                         .conn = p->conn,
                         .max_bytes = max_bytes,
                         .lines = lines,
                         .err = CB_ERROR_INIT,
                         .done = done,
                         .addresses_done = addresses_done,
                         .userdata = userdata };
        snprintf(j->resource_id, sizeof(j->resource_id), "%s", res->id);
        snprintf(j->provider_ref, sizeof(j->provider_ref), "%s", res->provider_ref ? res->provider_ref : "");
        int q = worker_submit(r->pool, guest_job_run, guest_job_done, j);
        if (q < 0) {
                guest_job_free(j);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue the read: %s", strerror(-q));
        }
        return 0;
}

int vm_console(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
               VmGuestDoneFn done, void *userdata, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        int q = console_args(kib, lines, err);
        if (q >= 0)
                q = guest_target(r, caller, id, CONSOLE_READERS, "read VM consoles", &res, &p, err);
        if (q < 0)
                return q;
        return guest_submit(r, GUEST_CONSOLE, &res, p, (size_t)kib * 1024, lines, done, NULL, userdata, err);
}

int vm_addresses_refresh(Resources *r, const CbCaller *caller, const char *id, VmAddressesDoneFn done,
                         void *userdata, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        int q = guest_target(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read VM addresses", &res,
                             &p, err);
        if (q < 0)
                return q;
        return guest_submit(r, GUEST_ADDRESSES, &res, p, 0, 0, NULL, done, userdata, err);
}
