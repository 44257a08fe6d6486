/* SPDX-License-Identifier: Apache-2.0 */
#include "catalog-validate.h"
#include "id.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

/*
 * One table-driven walker serves services, plans, specs and prices: each
 * object kind is an ObjectSpec (a list of FieldSpecs plus an optional
 * cross-field check), so a new field is one table line and every field gets
 * the same type, range, unknown-field and default handling.
 *
 * The walker builds the normalized copy while it checks, in table order, so
 * the output has a stable field order whatever order the operator used.
 */

#define ID_REGEX "^[a-z0-9-]+$"

typedef struct Path {
        char buf[sizeof(((CbError *)NULL)->field)];
        size_t len;
} Path;

typedef struct Ctx {
        Path path;
        /* The normalized service built so far: a plan's spec needs the
         * service's driver, which the table validates before the plans. */
        const json_t *service;
        CbError *err;
} Ctx;

typedef enum FieldType {
        FT_STRING,  /* min..max bytes of UTF-8 */
        FT_ID,      /* ID_REGEX, 1..CATALOG_ID_MAX */
        FT_ENUM,    /* one of choices */
        FT_BOOL,    /* true or false */
        FT_INT,     /* JSON integer in min..max */
        FT_STRINGS, /* array of distinct strings, each min..max bytes, at most max_items */
        FT_OBJECT,  /* object by `object`, or by the spec `select` picks */
        FT_OBJECTS, /* array of `object`, min..max entries, `unique` keys distinct */
        FT_COUNTS,  /* object of quota name -> integer in min..max, at most max_items */
} FieldType;

typedef struct ObjectSpec ObjectSpec;

typedef struct FieldSpec {
        const char *name;
        FieldType type;
        bool required;
        long long min, max;
        bool single_line;           /* FT_STRING/FT_STRINGS: no control characters at all */
        const char *const *choices; /* FT_ENUM, NULL-terminated */
        const char *def;            /* JSON text of the default of an optional field */
        const ObjectSpec *object;
        int (*select)(const json_t *v, Ctx *c, const ObjectSpec **ret);
        const char *const *unique; /* FT_OBJECTS, NULL-terminated */
        long long max_items;
} FieldSpec;

struct ObjectSpec {
        const char *what; /* for messages: "unknown field in a <what>" */
        const FieldSpec *fields;
        size_t n_fields;
        int (*check)(const json_t *normalized, Ctx *c);
};

static void path_advance(Path *p, int n) {
        if (n < 0)
                n = 0;
        p->len += (size_t)n;
        if (p->len >= sizeof(p->buf))
                p->len = sizeof(p->buf) - 1;
}

static size_t path_push_key(Path *p, const char *key) {
        size_t old = p->len;
        path_advance(p, snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%s", p->len ? "." : "", key));
        return old;
}

static size_t path_push_index(Path *p, size_t i) {
        size_t old = p->len;
        path_advance(p, snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "[%zu]", i));
        return old;
}

static void path_pop(Path *p, size_t old) {
        p->len = old;
        p->buf[old] = '\0';
}

/* Refuses at the current path. The path is not popped after a refusal: the
 * walk stops there. */
_printf_(2, 3) static int fail(Ctx *c, const char *fmt, ...) {
        char msg[384];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return cb_error_set_field(c->err, CB_ERR_VALIDATION, c->path.buf, "%s %s",
                                  c->path.len ? c->path.buf : "the service", msg);
}

static int oom(Ctx *c) {
        cb_error_set(c->err, CB_ERR_INTERNAL, "out of memory");
        return -ENOMEM;
}

static bool utf8_valid(const unsigned char *s, size_t len) {
        size_t i = 0;

        while (i < len) {
                unsigned char b = s[i];
                size_t n;
                uint32_t cp;

                if (b < 0x80) {
                        i++;
                        continue;
                }
                if (b >= 0xc2 && b <= 0xdf)
                        n = 1, cp = b & 0x1f;
                else if (b >= 0xe0 && b <= 0xef)
                        n = 2, cp = b & 0x0f;
                else if (b >= 0xf0 && b <= 0xf4)
                        n = 3, cp = b & 0x07;
                else
                        return false;
                if (len - i <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                /* overlong forms, surrogates, beyond U+10FFFF */
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
                    cp > 0x10ffff)
                        return false;
                i += n + 1;
        }
        return true;
}

/* Quota names follow resource-counter style (storage_gib, max_connections). */
static bool quota_name_valid(const char *s) {
        size_t len = strlen(s);

        if (len < 1 || len > CATALOG_ID_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
                      s[i] == '-'))
                        return false;
        return true;
}

static int check_string(const json_t *v, Ctx *c, long long min, long long max, bool single_line) {
        if (!json_is_string(v))
                return fail(c, "must be a string");

        const char *s = json_string_value(v);
        size_t len = json_string_length(v);

        if (strlen(s) != len)
                return fail(c, "must not contain NUL characters");
        if (!utf8_valid((const unsigned char *)s, len))
                return fail(c, "must be valid UTF-8");
        if ((long long)len < min)
                return min == 1 ? fail(c, "must not be empty") : fail(c, "must be at least %lld bytes", min);
        if ((long long)len > max)
                return fail(c, "must be at most %lld bytes (UTF-8), is %zu", max, len);
        for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char)s[i];
                bool allowed = !single_line && (b == '\n' || b == '\t' || b == '\r');

                if ((b < 0x20 || b == 0x7f) && !allowed)
                        return fail(c, "must not contain control characters");
        }
        return 0;
}

static int check_id(const json_t *v, Ctx *c) {
        if (!json_is_string(v))
                return fail(c, "must be a string");

        size_t len = json_string_length(v);

        if (len > CATALOG_ID_MAX)
                return fail(c, "must be at most %d characters", CATALOG_ID_MAX);
        if (!id_is_valid_n(json_string_value(v), len))
                return fail(c, "must match %s", ID_REGEX);
        return 0;
}

static int check_enum(const json_t *v, Ctx *c, const char *const *choices) {
        char list[128] = "";
        size_t used = 0;

        if (json_is_string(v))
                for (const char *const *ch = choices; *ch; ch++)
                        if (streq(json_string_value(v), *ch))
                                return 0;
        for (const char *const *ch = choices; *ch; ch++) {
                int n = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", ch == choices ? "" : ", ",
                                 *ch);

                if (n > 0 && (size_t)n < sizeof(list) - used)
                        used += (size_t)n;
        }
        return json_is_string(v) ? fail(c, "must be one of %s", list)
                                 : fail(c, "must be a string, one of %s", list);
}

static int check_int(const json_t *v, Ctx *c, long long min, long long max) {
        /* jansson keeps true and 2.0 apart from integers, which is what we want */
        if (!json_is_integer(v))
                return fail(c, "must be an integer");

        long long x = json_integer_value(v);

        if (x < min || x > max) {
                if (max == LLONG_MAX)
                        return fail(c, "must be >= %lld", min);
                return fail(c, "must be between %lld and %lld", min, max);
        }
        return 0;
}

static int validate_object(const ObjectSpec *spec, const json_t *v, Ctx *c, json_t **ret);

static int validate_strings(const FieldSpec *f, const json_t *v, Ctx *c, json_t **ret) {
        if (!json_is_array(v))
                return fail(c, "must be an array of strings");
        if ((long long)json_array_size(v) > f->max_items)
                return fail(c, "must have at most %lld entries", f->max_items);

        for (size_t i = 0; i < json_array_size(v); i++) {
                const json_t *item = json_array_get(v, i);
                size_t old = path_push_index(&c->path, i);
                int r = check_string(item, c, f->min, f->max, f->single_line);

                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (json_equal((json_t *)json_array_get(v, j), (json_t *)item))
                                return fail(c, "duplicates entry [%zu]", j);
                path_pop(&c->path, old);
        }
        *ret = json_deep_copy(v);
        return *ret ? 0 : oom(c);
}

static int validate_counts(const FieldSpec *f, const json_t *v, Ctx *c, json_t **ret) {
        const char *key;
        json_t *value;

        if (!json_is_object(v))
                return fail(c, "must be an object of name to integer");
        if ((long long)json_object_size(v) > f->max_items)
                return fail(c, "must have at most %lld entries", f->max_items);
        /* json_object_foreach() wants a mutable object but only reads it */
        json_object_foreach((json_t *)v, key, value) {
                size_t old = path_push_key(&c->path, key);
                int r;

                if (!quota_name_valid(key))
                        return fail(c, "is not a valid quota name (^[a-z0-9_-]+$, 1-%d characters)",
                                    CATALOG_ID_MAX);
                r = check_int(value, c, f->min, f->max);
                if (r < 0)
                        return r;
                path_pop(&c->path, old);
        }
        *ret = json_deep_copy(v);
        return *ret ? 0 : oom(c);
}

static int validate_objects(const FieldSpec *f, const json_t *v, Ctx *c, json_t **ret) {
        json_auto_t *out = NULL;
        size_t n;

        if (!json_is_array(v))
                return fail(c, "must be an array of objects");
        n = json_array_size(v);
        if ((long long)n < f->min)
                return f->min == 1 ? fail(c, "must not be empty")
                                   : fail(c, "must have at least %lld entries", f->min);
        if ((long long)n > f->max)
                return fail(c, "must have at most %lld entries", f->max);

        out = json_array();
        if (!out)
                return oom(c);
        for (size_t i = 0; i < n; i++) {
                json_t *item = NULL;
                size_t old = path_push_index(&c->path, i);
                int r = validate_object(f->object, json_array_get(v, i), c, &item);

                if (r < 0)
                        return r;
                if (json_array_append_new(out, item) < 0)
                        return oom(c);
                path_pop(&c->path, old);
        }

        /* The normalized entries already passed, so each unique key is a string. */
        for (const char *const *u = f->unique; u && *u; u++)
                for (size_t j = 1; j < n; j++)
                        for (size_t i = 0; i < j; i++) {
                                const char *a =
                                        json_string_value(json_object_get(json_array_get(out, i), *u));
                                const char *b =
                                        json_string_value(json_object_get(json_array_get(out, j), *u));

                                if (streq_ptr(a, b)) {
                                        int base = (int)c->path.len;

                                        path_push_index(&c->path, j);
                                        path_push_key(&c->path, *u);
                                        return fail(c, "duplicates %.*s[%zu].%s (\"%s\")", base, c->path.buf,
                                                    i, *u, a ? a : "");
                                }
                        }

        *ret = TAKE_PTR(out);
        return 0;
}

/* 0 and a new reference in *ret. */
static int validate_value(const FieldSpec *f, const json_t *v, Ctx *c, json_t **ret) {
        const ObjectSpec *spec = f->object;
        int r = 0;

        switch (f->type) {
        case FT_STRING:
                r = check_string(v, c, f->min, f->max, f->single_line);
                break;
        case FT_ID:
                r = check_id(v, c);
                break;
        case FT_ENUM:
                r = check_enum(v, c, f->choices);
                break;
        case FT_BOOL:
                if (!json_is_boolean(v))
                        r = fail(c, "must be true or false");
                break;
        case FT_INT:
                r = check_int(v, c, f->min, f->max);
                break;
        case FT_STRINGS:
                return validate_strings(f, v, c, ret);
        case FT_COUNTS:
                return validate_counts(f, v, c, ret);
        case FT_OBJECTS:
                return validate_objects(f, v, c, ret);
        case FT_OBJECT:
                if (f->select) {
                        r = f->select(v, c, &spec);
                        if (r < 0)
                                return r;
                }
                return validate_object(spec, v, c, ret);
        }
        if (r < 0)
                return r;
        *ret = json_deep_copy(v);
        return *ret ? 0 : oom(c);
}

static const FieldSpec *find_field(const ObjectSpec *spec, const char *name) {
        for (size_t i = 0; i < spec->n_fields; i++)
                if (streq(spec->fields[i].name, name))
                        return &spec->fields[i];
        return NULL;
}

/* Fills `out`, which the caller created, so that a nested select can look at
 * what is already normalized (the service's driver). */
static int validate_object_into(const ObjectSpec *spec, const json_t *v, Ctx *c, json_t *out) {
        const char *key;
        json_t *value;

        if (!json_is_object(v))
                return fail(c, "must be an object");

        /* Unknown fields first: a misspelt "vcpu" is better reported as
         * itself than as a missing "vcpus". */
        json_object_foreach((json_t *)v, key, value) {
                if (!find_field(spec, key)) {
                        path_push_key(&c->path, key);
                        return fail(c, "is an unknown field in a %s", spec->what);
                }
        }

        for (size_t i = 0; i < spec->n_fields; i++) {
                const FieldSpec *f = &spec->fields[i];
                const json_t *in = json_object_get(v, f->name);
                size_t old = path_push_key(&c->path, f->name);
                json_t *norm = NULL;
                int r;

                if (!in && f->required)
                        return fail(c, "is required");
                if (!in && !f->def) {
                        path_pop(&c->path, old);
                        continue;
                }
                if (in) {
                        r = validate_value(f, in, c, &norm);
                        if (r < 0)
                                return r;
                } else {
                        norm = json_loads(f->def, JSON_DECODE_ANY, NULL);
                        if (!norm)
                                return cb_error_set_field(c->err, CB_ERR_INTERNAL, c->path.buf,
                                                          "bad built-in default for %s", c->path.buf);
                }
                if (json_object_set_new(out, f->name, norm) < 0)
                        return oom(c);
                path_pop(&c->path, old);
        }

        return spec->check ? spec->check(out, c) : 0;
}

static int validate_object(const ObjectSpec *spec, const json_t *v, Ctx *c, json_t **ret) {
        json_auto_t *out = json_object();
        int r;

        if (!out)
                return oom(c);
        r = validate_object_into(spec, v, c, out);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

/* The tables. */

static const char *const categories[] = { "IaaS", "PaaS", "SaaS", NULL };
static const char *const drivers[] = { "libvirt", "http", NULL };
static const char *const units[] = { "hour", "month", NULL };
static const char *const kinds[] = { "vm", "volume", NULL };
static const char *const arches[] = { "x86_64", "aarch64", "loongarch64", NULL };
static const char *const plan_unique[] = { "id", "name", NULL };

#define F_ID(n, req) \
        { .name = n, .type = FT_ID, .required = req }
#define F_STR(n, req, lo, hi, one_line) \
        { .name = n, .type = FT_STRING, .required = req, .min = lo, .max = hi, .single_line = one_line }
#define F_ENUM(n, req, list, dflt) \
        { .name = n, .type = FT_ENUM, .required = req, .choices = list, .def = dflt }
#define F_INT(n, lo, hi) \
        { .name = n, .type = FT_INT, .required = true, .min = lo, .max = hi }
#define F_BOOL(n) \
        { .name = n, .type = FT_BOOL, .required = true }

static const FieldSpec price_fields[] = {
        F_INT("amount_fen", 0, CATALOG_PRICE_MAX_FEN),
        F_ENUM("unit", true, units, NULL),
};
static const ObjectSpec price_spec = { "price", price_fields, ELEMENTSOF(price_fields), NULL };

static const FieldSpec libvirt_vm_fields[] = {
        F_ENUM("kind", false, kinds, "\"vm\""),
        F_INT("vcpus", 1, 256),
        F_INT("memory_mib", 64, 4194304),
        F_INT("disk_gib", 0, 65536),
        F_ENUM("arch", false, arches, "\"x86_64\""),
        F_ID("provider", false),
        { .name = "network",
          .type = FT_STRING,
          .min = 1,
          .max = 255,
          .single_line = true,
          .def = "\"default\"" },
        F_STR("os_image", false, 1, 255, true),
};
static const ObjectSpec libvirt_vm_spec = { "libvirt vm spec", libvirt_vm_fields,
                                            ELEMENTSOF(libvirt_vm_fields), NULL };

static const FieldSpec libvirt_volume_fields[] = {
        F_ENUM("kind", true, kinds, NULL),
        F_INT("size_gib", 1, 65536),
        F_ID("provider", false),
        F_STR("pool", false, 1, 255, true),
};
static const ObjectSpec libvirt_volume_spec = { "libvirt volume spec", libvirt_volume_fields,
                                                ELEMENTSOF(libvirt_volume_fields), NULL };

static const FieldSpec http_fields[] = {
        F_ID("provider", false),
        F_STR("remote_service_id", false, 1, 255, true),
        F_STR("remote_plan_id", false, 1, 255, true),
        { .name = "quotas", .type = FT_COUNTS, .min = 0, .max = LLONG_MAX, .max_items = 64 },
};
static const ObjectSpec http_spec = { "http spec", http_fields, ELEMENTSOF(http_fields), NULL };

static int select_spec(const json_t *v, Ctx *c, const ObjectSpec **ret) {
        const char *driver = json_string_value(json_object_get(c->service, "driver"));
        const json_t *kind;

        if (streq_ptr(driver, "http")) {
                *ret = &http_spec;
                return 0;
        }
        if (!streq_ptr(driver, "libvirt"))
                return cb_error_set_field(c->err, CB_ERR_INTERNAL, c->path.buf,
                                          "plan spec checked before driver");

        if (!json_is_object(v))
                return fail(c, "must be an object");
        kind = json_object_get(v, "kind");
        if (kind) {
                size_t old = path_push_key(&c->path, "kind");
                int r = check_enum(kind, c, kinds);

                if (r < 0)
                        return r;
                path_pop(&c->path, old);
        }
        *ret = kind && streq(json_string_value(kind), "volume") ? &libvirt_volume_spec : &libvirt_vm_spec;
        return 0;
}

static const FieldSpec plan_fields[] = {
        F_ID("id", true),
        F_ID("name", true),
        F_STR("display_name", true, 1, 200, true),
        F_STR("description", true, 0, 4000, false),
        { .name = "spec", .type = FT_OBJECT, .required = true, .select = select_spec },
        { .name = "price", .type = FT_OBJECT, .required = true, .object = &price_spec },
};
static const ObjectSpec plan_spec = { "plan", plan_fields, ELEMENTSOF(plan_fields), NULL };

static int check_service(const json_t *s, Ctx *c) {
        const char *driver = json_string_value(json_object_get(s, "driver"));
        const char *category = json_string_value(json_object_get(s, "category"));

        /* libvirt hands out bare machines and disks: infrastructure by definition */
        if (streq_ptr(driver, "libvirt") && !streq_ptr(category, "IaaS")) {
                path_push_key(&c->path, "category");
                return fail(c, "must be \"IaaS\" for a libvirt service");
        }
        return 0;
}

static const FieldSpec service_fields[] = {
        F_ID("id", true),
        F_ID("name", true),
        F_STR("display_name", true, 1, 200, true),
        F_ENUM("category", true, categories, NULL),
        F_ENUM("driver", true, drivers, NULL),
        F_STR("description", true, 0, 4000, false),
        F_BOOL("secure_controllable"),
        F_INT("max_protection_level", 1, 4),
        F_BOOL("bindable"),
        { .name = "tags",
          .type = FT_STRINGS,
          .min = 1,
          .max = 64,
          .single_line = true,
          .def = "[]",
          .max_items = 32 },
        { .name = "plans",
          .type = FT_OBJECTS,
          .required = true,
          .min = 1,
          .max = 64,
          .object = &plan_spec,
          .unique = plan_unique },
};
static const ObjectSpec service_spec = { "service", service_fields, ELEMENTSOF(service_fields),
                                         check_service };

int catalog_validate_service(const json_t *doc, json_t **ret_service, CbError *err) {
        json_auto_t *out = NULL;
        Ctx c = { .err = err };
        int r;

        if (!doc || !json_is_object(doc))
                return fail(&c, "must be a JSON object");
        out = json_object();
        if (!out)
                return oom(&c);
        c.service = out;
        r = validate_object_into(&service_spec, doc, &c, out);
        if (r < 0)
                return r;
        *ret_service = TAKE_PTR(out);
        return 0;
}

/* ---- OS images ---- */

static bool name_chars_ok(const char *s, size_t max, bool upper) {
        size_t n = 0;

        if (!s || !*s || *s == '.' || *s == '-')
                return false;
        for (; s[n]; n++) {
                char ch = s[n];
                if (n >= max)
                        return false;
                if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
                    (ch == '_'))
                        continue;
                if (upper && ch >= 'A' && ch <= 'Z')
                        continue;
                return false;
        }
        return true;
}

bool image_name_is_valid(const char *s) {
        return name_chars_ok(s, IMAGE_NAME_MAX, false);
}

bool image_volume_name_is_valid(const char *s) {
        return name_chars_ok(s, 128, true);
}

bool image_os_is_secure_controllable(const char *os) {
        static const char *const secure[] = { "openeuler", "kylin", "uos", NULL };
        if (!os)
                return false;
        for (size_t i = 0; secure[i]; i++)
                if (strcasecmp(os, secure[i]) == 0)
                        return true;
        return false;
}

int image_digest_parse(const char *s, char ret_alg[8], char ret_hex[IMAGE_DIGEST_HEX]) {
        char hex[IMAGE_DIGEST_HEX];
        const char *colon, *h;
        size_t alen;

        if (!s || !(colon = strchr(s, ':')))
                return -EINVAL;
        alen = (size_t)(colon - s);
        if (!((alen == 6 && strncmp(s, "sha256", 6) == 0) || (alen == 3 && strncmp(s, "sm3", 3) == 0)))
                return -EINVAL;
        h = colon + 1;
        /* SHA-256 and SM3 are both 256-bit digests. */
        if (strlen(h) != 64)
                return -EINVAL;
        for (size_t i = 0; i < 64; i++) {
                char ch = h[i];
                if (ch >= 'A' && ch <= 'F')
                        ch = (char)(ch - 'A' + 'a');
                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
                        return -EINVAL;
                hex[i] = ch;
        }
        hex[64] = 0;
        memcpy(ret_alg, s, alen);
        ret_alg[alen] = 0;
        memcpy(ret_hex, hex, sizeof(hex));
        return 0;
}

int catalog_check_plan_image(const char *field, const char *os_image, const char *plan_arch,
                             bool service_secure, const CatalogImageFacts *f, CbError *err) {
        if (!f->registered)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                          "%s: '%s' is not a registered image (POST /v1/images)", field,
                                          os_image);
        if (!f->active)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: image '%s' is retired", field,
                                          os_image);
        if (!f->arch_matches)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                          "%s: image '%s' is for %s, the plan's arch is %s", field, os_image,
                                          f->arch, plan_arch);
        if (service_secure && !f->secure)
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, field,
                        "%s: image '%s' is not a secure-and-controllable OS, and the service "
                        "offers secure-and-controllable products (Art. 24)",
                        field, os_image);
        return 0;
}
