/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "secretbox.h"
#include "id.h"

#include <ctype.h>
#include <libconfig.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "catalog-validate.h"

#define DEFAULT_MAX_BODY (1024 * 1024)

static char *xstrdup0(const char *s) {
        return s ? strdup(s) : NULL;
}

char *config_resolve_path(const Config *c, const char *path) {
        char *out;
        if (!path)
                return NULL;
        if (path[0] == '/' || !c->dir)
                return strdup(path);
        if (asprintf(&out, "%s/%s", c->dir, path) < 0)
                return NULL;
        return out;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->dir);
        free(c->database);
        free(c->rest_listen);
        free(c->bus);
        free(c->bus_address);
        free(c->catalog_seed);
        free(c->calendar_dir);
        free(c->checkpoint_key);
        free(c->secrets_key);
        for (size_t i = 0; i < c->n_platforms; i++) {
                principal_done(&c->platforms[i].principal);
                free(c->platforms[i].name);
                free(c->platforms[i].username);
        }
        free(c->platforms);
        for (size_t i = 0; i < c->n_principals; i++) {
                principal_done(&c->principals[i].principal);
                free(c->principals[i].uids);
        }
        free(c->principals);
        for (size_t i = 0; i < c->n_trusted_keys; i++) {
                free(c->trusted_keys[i].id);
                free(c->trusted_keys[i].alg);
                free(c->trusted_keys[i].path);
        }
        free(c->trusted_keys);
        for (size_t i = 0; i < c->n_providers; i++) {
                free(c->providers[i].name);
                free(c->providers[i].driver);
                free(c->providers[i].uri);
                free(c->providers[i].username);
                if (c->providers[i].password)
                        explicit_bzero(c->providers[i].password, strlen(c->providers[i].password));
                free(c->providers[i].password);
                free(c->providers[i].api_version);
                free(c->providers[i].ca_file);
                free(c->providers[i].image_pool);
        }
        free(c->providers);
        free(c);
        return NULL;
}

int config_new_default(Config **ret) {
        Config *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->database = strdup("var/cloudbroker.db");
        c->rest_listen = strdup("127.0.0.1:8080");
        c->bus = strdup("system");
        c->rest_max_body = DEFAULT_MAX_BODY;
        c->rest_max_connections = 1000;
        c->rest_max_connections_per_ip = 64;
        c->rest_header_timeout_s = 10;
        c->rest_body_timeout_s = 30;
        c->reconcile_usec = 30ULL * 1000000ULL;
        c->stop_timeout_ms = 30000;
        c->migration_max_copies_per_host = 2;
        c->operations_max_in_flight = 4096;
        c->connect_timeout_ms = 10000;
        c->checkpoint_every = AUDIT_CHECKPOINT_EVERY;
        if (!c->database || !c->rest_listen || !c->bus) {
                config_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

/* --- the schema: which keys exist, of which type --- */

typedef struct Key {
        const char *name;
        int type;
} Key;

static const Key top_keys[] = {
        { "database", CONFIG_TYPE_STRING },
        { "rest", CONFIG_TYPE_GROUP },
        { "bus", CONFIG_TYPE_STRING },
        { "bus_address", CONFIG_TYPE_STRING },
        { "catalog_seed", CONFIG_TYPE_STRING },
        { "calendar_dir", CONFIG_TYPE_STRING },
        { "osb", CONFIG_TYPE_GROUP },
        { "platforms", CONFIG_TYPE_LIST },
        { "principals", CONFIG_TYPE_LIST },
        { "trusted_keys", CONFIG_TYPE_LIST },
        { "providers", CONFIG_TYPE_LIST },
        { "reconcile_seconds", CONFIG_TYPE_INT },
        { "stop_timeout_seconds", CONFIG_TYPE_INT },
        { "connect_timeout_seconds", CONFIG_TYPE_INT },
        { "audit", CONFIG_TYPE_GROUP },
        { "secrets", CONFIG_TYPE_GROUP },
        { "migration", CONFIG_TYPE_GROUP },
        { "operations", CONFIG_TYPE_GROUP },
        { NULL, 0 },
};
static const Key operations_keys[] = {
        { "max_in_flight", CONFIG_TYPE_INT },
        { NULL, 0 },
};
static const Key migration_keys[] = {
        { "max_copies_per_host", CONFIG_TYPE_INT },
        { "copy_rate_limit_bytes", CONFIG_TYPE_INT },
        { "test_fail_after_bytes", CONFIG_TYPE_INT },
        { NULL, 0 },
};
static const Key audit_keys[] = {
        { "checkpoint_key", CONFIG_TYPE_STRING },
        { "checkpoint_every", CONFIG_TYPE_INT },
        { NULL, 0 },
};
static const Key secrets_keys[] = {
        { "key", CONFIG_TYPE_STRING },
        { NULL, 0 },
};
static const Key rest_keys[] = {
        { "listen", CONFIG_TYPE_STRING },
        { "max_body_bytes", CONFIG_TYPE_INT },
        { "max_connections", CONFIG_TYPE_INT },
        { "max_connections_per_ip", CONFIG_TYPE_INT },
        { "header_timeout_seconds", CONFIG_TYPE_INT },
        { "body_timeout_seconds", CONFIG_TYPE_INT },
        { NULL, 0 },
};
static const Key osb_keys[] = {
        { "username", CONFIG_TYPE_STRING },
        { "password_sha256", CONFIG_TYPE_STRING },
        { NULL, 0 },
};
static const Key platform_keys[] = {
        { "name", CONFIG_TYPE_STRING },
        { "username", CONFIG_TYPE_STRING },
        { "password_sha256", CONFIG_TYPE_STRING },
        { NULL, 0 },
};
static const Key principal_keys[] = {
        { "name", CONFIG_TYPE_STRING },
        { "roles", CONFIG_TYPE_ARRAY },
        { "department", CONFIG_TYPE_STRING },
        { "department_name", CONFIG_TYPE_STRING },
        { "token_sha256", CONFIG_TYPE_STRING },
        { "uids", CONFIG_TYPE_ARRAY },
        { NULL, 0 },
};
static const Key key_keys[] = {
        { "id", CONFIG_TYPE_STRING },
        { "alg", CONFIG_TYPE_STRING },
        { "public_key", CONFIG_TYPE_STRING },
        { NULL, 0 },
};
static const Key provider_keys[] = {
        { "name", CONFIG_TYPE_STRING },
        { "driver", CONFIG_TYPE_STRING },
        { "uri", CONFIG_TYPE_STRING },
        { "domain_type", CONFIG_TYPE_STRING },
        { "url", CONFIG_TYPE_STRING },
        { "username", CONFIG_TYPE_STRING },
        { "password", CONFIG_TYPE_STRING },
        { "api_version", CONFIG_TYPE_STRING },
        { "ca_file", CONFIG_TYPE_STRING },
        { "timeout_seconds", CONFIG_TYPE_INT },
        { "image_pool", CONFIG_TYPE_STRING },
        { "managed_only", CONFIG_TYPE_BOOL },
        { NULL, 0 },
};

static const char *type_name(int t) {
        switch (t) {
        case CONFIG_TYPE_GROUP:
                return "a group { ... }";
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array [ ... ]";
        case CONFIG_TYPE_LIST:
                return "a list ( ... )";
        default:
                return "a value";
        }
}

typedef struct Loader {
        const char *file;
        CbError *err;
} Loader;

static int fail_at(Loader *l, const config_setting_t *s, const char *fmt, ...) _printf_(3, 4);
static int fail_at(Loader *l, const config_setting_t *s, const char *fmt, ...) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return cb_error_set(l->err, CB_ERR_VALIDATION, "%s:%u: %s", l->file,
                            s ? (unsigned)config_setting_source_line(s) : 0u, msg);
}

/* Every key of the group must be in the table, with the declared type. */
static int check_keys(Loader *l, const config_setting_t *group, const Key *keys, const char *where) {
        int n = config_setting_length(group);
        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
                const char *name = config_setting_name(s);
                const Key *k;

                for (k = keys; k->name; k++)
                        if (name && streq(k->name, name))
                                break;
                if (!k->name)
                        return fail_at(l, s, "unknown setting '%s'%s%s", name ? name : "?",
                                       where ? " in " : "", where ? where : "");
                if (config_setting_type(s) != k->type &&
                    !(k->type == CONFIG_TYPE_ARRAY && config_setting_type(s) == CONFIG_TYPE_LIST))
                        return fail_at(l, s, "'%s' must be %s", name, type_name(k->type));
        }
        return 0;
}

static const char *get_str(const config_setting_t *g, const char *name) {
        const config_setting_t *s = config_setting_get_member(g, name);
        return s ? config_setting_get_string(s) : NULL;
}

static bool is_hex64(const char *s) {
        if (strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
                        return false;
        return true;
}

static bool is_id(const char *s) {
        if (isempty(s) || strlen(s) > 63)
                return false;
        for (; *s; s++)
                if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-'))
                        return false;
        return true;
}

static int set_path(Loader *l, Config *c, const config_setting_t *s, char **field) {
        char *p = config_resolve_path(c, config_setting_get_string(s));
        if (!p)
                return fail_at(l, s, "out of memory");
        free(*field);
        *field = p;
        return 0;
}

static int load_principal(Loader *l, Config *c, const config_setting_t *g, ConfigPrincipal *p) {
        const config_setting_t *roles, *uids;
        const char *name, *dept, *tok;
        int r;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return fail_at(l, g, "each principal must be a group { ... }");
        r = check_keys(l, g, principal_keys, "a principal");
        if (r < 0)
                return r;
        name = get_str(g, "name");
        if (isempty(name))
                return fail_at(l, g, "principal without 'name'");
        if (config_principal_by_name(c, name))
                return fail_at(l, g, "principal '%s' defined twice", name);
        /* "osb:NAME" is how the record names platforms (their principals). */
        if (strncmp(name, "osb:", 4) == 0)
                return fail_at(l, g, "principal '%s': names starting with 'osb:' are the OSB platforms'",
                               name);
        p->principal.name = strdup(name);

        roles = config_setting_get_member(g, "roles");
        if (!roles || config_setting_length(roles) == 0)
                return fail_at(l, g, "principal '%s' has no 'roles'", name);
        for (int i = 0; i < config_setting_length(roles); i++) {
                const config_setting_t *e = config_setting_get_elem(roles, (unsigned)i);
                const char *rs = config_setting_get_string(e);
                unsigned bit = rs ? cb_role_from_string(rs) : 0;
                if (!bit || bit == CB_ROLE_PLATFORM)
                        return fail_at(l, e,
                                       "principal '%s': unknown role '%s' (known: department, operator, "
                                       "authority, finance, migration, auditor)",
                                       name, rs ? rs : "?");
                p->principal.roles |= bit;
        }

        dept = get_str(g, "department");
        if (dept) {
                if (!is_id(dept))
                        return fail_at(l, g, "principal '%s': department '%s' must match ^[a-z0-9-]+$", name,
                                       dept);
                p->principal.department = strdup(dept);
        }
        if ((p->principal.roles & CB_ROLE_DEPARTMENT) && !dept)
                return fail_at(l, g, "principal '%s' has role department but no 'department'", name);
        p->principal.department_name = xstrdup0(get_str(g, "department_name"));

        tok = get_str(g, "token_sha256");
        if (tok) {
                if (!is_hex64(tok))
                        return fail_at(l, config_setting_get_member(g, "token_sha256"),
                                       "principal '%s': token_sha256 must be 64 lowercase hex digits "
                                       "(printf %%s TOKEN | sha256sum)",
                                       name);
                for (size_t i = 0; i < c->n_principals; i++)
                        if (streq(c->principals[i].token_sha256, tok))
                                return fail_at(l, g, "principal '%s' shares its token with '%s'", name,
                                               c->principals[i].principal.name);
                snprintf(p->token_sha256, sizeof(p->token_sha256), "%s", tok);
        }

        uids = config_setting_get_member(g, "uids");
        if (uids) {
                int n = config_setting_length(uids);
                p->uids = calloc(n > 0 ? (size_t)n : 1, sizeof(uid_t));
                if (!p->uids)
                        return fail_at(l, g, "out of memory");
                for (int i = 0; i < n; i++) {
                        const config_setting_t *e = config_setting_get_elem(uids, (unsigned)i);
                        long long v;
                        if (config_setting_type(e) != CONFIG_TYPE_INT &&
                            config_setting_type(e) != CONFIG_TYPE_INT64)
                                return fail_at(l, e, "principal '%s': uids must be integers", name);
                        v = config_setting_get_int64(e);
                        if (v < 0 || v >= UINT32_MAX)
                                return fail_at(l, e, "principal '%s': uid %lld out of range", name, v);
                        if (config_principal_by_uid(c, (uid_t)v))
                                return fail_at(l, e, "uid %lld is mapped to two principals", v);
                        p->uids[p->n_uids++] = (uid_t)v;
                }
        }
        if (!p->principal.name || (dept && !p->principal.department))
                return fail_at(l, g, "out of memory");
        return 0;
}

/* Platform names become principal names ("osb:NAME") and appear in the
 * record: a short id; names and user names are unique. */
static int add_platform(Loader *l, Config *c, const config_setting_t *g, const char *name) {
        const char *user = get_str(g, "username"), *hash = get_str(g, "password_sha256");
        ConfigPlatform *p, *nv;

        if (strlen(name) > PLATFORM_NAME_MAX || !id_is_valid(name))
                return fail_at(l, g, "platform name '%s': 1 to %d of a-z, 0-9 and '-'", name,
                               PLATFORM_NAME_MAX);
        if (!is_hex64(hash))
                return fail_at(l, config_setting_get_member(g, "password_sha256"),
                               "'password_sha256' must be 64 lowercase hex digits");
        for (size_t i = 0; i < c->n_platforms; i++) {
                if (streq(c->platforms[i].name, name))
                        return fail_at(l, g, "platform '%s' defined twice", name);
                if (streq(c->platforms[i].username, user))
                        return fail_at(l, g, "platform '%s': username '%s' is already platform '%s''s", name,
                                       user, c->platforms[i].name);
        }
        nv = realloc(c->platforms, (c->n_platforms + 1) * sizeof(*nv));
        if (!nv)
                return fail_at(l, g, "out of memory");
        c->platforms = nv;
        p = &c->platforms[c->n_platforms];
        *p = (ConfigPlatform){ .principal.roles = CB_ROLE_PLATFORM };
        c->n_platforms++;
        p->name = strdup(name);
        p->username = strdup(user);
        if (asprintf(&p->principal.name, "osb:%s", name) < 0)
                p->principal.name = NULL;
        snprintf(p->password_sha256, sizeof(p->password_sha256), "%s", hash);
        if (!p->name || !p->username || !p->principal.name)
                return fail_at(l, g, "out of memory");
        return 0;
}

static int load_list(Loader *l, Config *c, const config_setting_t *root) {
        const config_setting_t *list;
        int r;

        list = config_setting_get_member(root, "principals");
        if (list) {
                int n = config_setting_length(list);
                c->principals = calloc(n > 0 ? (size_t)n : 1, sizeof(ConfigPrincipal));
                if (!c->principals)
                        return fail_at(l, list, "out of memory");
                for (int i = 0; i < n; i++) {
                        /* Counted before loading so lookups see the earlier ones only. */
                        r = load_principal(l, c, config_setting_get_elem(list, (unsigned)i),
                                           &c->principals[i]);
                        c->n_principals = (size_t)i + 1;
                        if (r < 0)
                                return r;
                }
        }

        list = config_setting_get_member(root, "trusted_keys");
        if (list) {
                int n = config_setting_length(list);
                c->trusted_keys = calloc(n > 0 ? (size_t)n : 1, sizeof(ConfigTrustedKey));
                if (!c->trusted_keys)
                        return fail_at(l, list, "out of memory");
                for (int i = 0; i < n; i++) {
                        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
                        ConfigTrustedKey *k = &c->trusted_keys[i];
                        const char *id, *alg, *pk;

                        c->n_trusted_keys = (size_t)i + 1;
                        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                                return fail_at(l, g, "each trusted key must be a group { ... }");
                        r = check_keys(l, g, key_keys, "a trusted key");
                        if (r < 0)
                                return r;
                        id = get_str(g, "id");
                        alg = get_str(g, "alg");
                        pk = get_str(g, "public_key");
                        if (isempty(id) || isempty(alg) || isempty(pk))
                                return fail_at(l, g, "a trusted key needs 'id', 'alg' and 'public_key'");
                        if (!streq(alg, "sm2-sm3") && !streq(alg, "ed25519"))
                                return fail_at(
                                        l, g, "trusted key '%s': alg must be \"sm2-sm3\" or \"ed25519\"", id);
                        for (int j = 0; j < i; j++)
                                if (streq(c->trusted_keys[j].id, id))
                                        return fail_at(l, g, "trusted key '%s' defined twice", id);
                        k->id = strdup(id);
                        k->alg = strdup(alg);
                        k->path = config_resolve_path(c, pk);
                        if (!k->id || !k->alg || !k->path)
                                return fail_at(l, g, "out of memory");
                }
        }

        list = config_setting_get_member(root, "providers");
        if (list) {
                int n = config_setting_length(list);
                c->providers = calloc(n > 0 ? (size_t)n : 1, sizeof(ConfigProvider));
                if (!c->providers)
                        return fail_at(l, list, "out of memory");
                for (int i = 0; i < n; i++) {
                        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
                        ConfigProvider *p = &c->providers[i];
                        const char *name, *driver, *uri;

                        c->n_providers = (size_t)i + 1;
                        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                                return fail_at(l, g, "each provider must be a group { ... }");
                        r = check_keys(l, g, provider_keys, "a provider");
                        if (r < 0)
                                return r;
                        name = get_str(g, "name");
                        driver = get_str(g, "driver");
                        uri = get_str(g, "uri");
                        if (!uri)
                                uri = get_str(g, "url");
                        if (!is_id(name))
                                return fail_at(l, g, "provider 'name' must match ^[a-z0-9-]+$");
                        if (isempty(driver) || (!streq(driver, "libvirt") && !streq(driver, "http")))
                                return fail_at(l, g, "provider '%s': driver must be \"libvirt\" or \"http\"",
                                               name);
                        if (isempty(uri))
                                return fail_at(l, g, "provider '%s' has no '%s'", name,
                                               streq(driver, "http") ? "url" : "uri");
                        static const char *const http_only[] = { "url",         "username", "password",
                                                                 "api_version", "ca_file",  "timeout_seconds",
                                                                 NULL };
                        for (const char *const *k = http_only; *k && !streq(driver, "http"); k++)
                                if (config_setting_get_member(g, *k))
                                        return fail_at(l, g, "provider '%s': %s is for http providers", name,
                                                       *k);
                        if (config_setting_get_member(g, "uri") && config_setting_get_member(g, "url"))
                                return fail_at(l, g, "provider '%s': give 'url' or 'uri', not both", name);
                        if (!get_str(g, "username") != !get_str(g, "password"))
                                return fail_at(l, g, "provider '%s': username and password go together",
                                               name);
                        const char *av = get_str(g, "api_version");
                        if (av &&
                            !(strlen(av) == 4 && strncmp(av, "2.1", 3) == 0 && av[3] >= '3' && av[3] <= '7'))
                                return fail_at(l, g, "provider '%s': api_version must be one of 2.13 to 2.17",
                                               name);
                        if (get_str(g, "username") && (!(p->username = strdup(get_str(g, "username"))) ||
                                                       !(p->password = strdup(get_str(g, "password")))))
                                return fail_at(l, g, "out of memory");
                        const config_setting_t *ts = config_setting_get_member(g, "timeout_seconds");
                        if (ts) {
                                int t = config_setting_get_int(ts);
                                if (t < 1 || t > 300)
                                        return fail_at(
                                                l, ts,
                                                "provider '%s': timeout_seconds must be between 1 and 300",
                                                name);
                                p->timeout_s = (unsigned)t;
                        }
                        if (av && !(p->api_version = strdup(av)))
                                return fail_at(l, g, "out of memory");
                        if (get_str(g, "ca_file") &&
                            !(p->ca_file = config_resolve_path(c, get_str(g, "ca_file"))))
                                return fail_at(l, g, "out of memory");
                        const char *dt = get_str(g, "domain_type");
                        int t = dt ? driver_domain_type_from_string(dt) : DRIVER_DOMAIN_AUTO;
                        if (t < 0)
                                return fail_at(
                                        l, g,
                                        "provider '%s': domain_type must be \"auto\", \"kvm\" or \"qemu\"",
                                        name);
                        if (dt && !streq(driver, "libvirt"))
                                return fail_at(l, g, "provider '%s': domain_type is for libvirt providers",
                                               name);
                        p->domain_type = (DriverDomainType)t;
                        const char *ip = get_str(g, "image_pool");
                        if (ip && !image_volume_name_is_valid(ip))
                                return fail_at(l, g,
                                               "provider '%s': image_pool must be a storage pool name "
                                               "([A-Za-z0-9._-], at most 128)",
                                               name);
                        if (ip && !streq(driver, "libvirt"))
                                return fail_at(l, g, "provider '%s': image_pool is for libvirt providers",
                                               name);
                        if (ip && !(p->image_pool = strdup(ip)))
                                return fail_at(l, g, "out of memory");
                        const config_setting_t *mo = config_setting_get_member(g, "managed_only");
                        p->managed_only = mo && config_setting_get_bool(mo);
                        if (p->managed_only && ip)
                                return fail_at(l, g,
                                               "provider '%s': a managed_only provider has no image_pool "
                                               "(nothing is provisioned there)",
                                               name);
                        for (int j = 0; j < i; j++)
                                if (streq(c->providers[j].name, name))
                                        return fail_at(l, g, "provider '%s' defined twice", name);
                        p->name = strdup(name);
                        p->driver = strdup(driver);
                        /* libvirt reads test:///PATH as the absolute /PATH; when no such
                         * file exists, PATH names a node file beside the config. */
                        if (strncmp(uri, "test:///", 8) == 0 && uri[8] && uri[8] != '/' &&
                            !streq(uri, "test:///default") && access(uri + 7, F_OK) < 0) {
                                _cleanup_(freep) char *abs = config_resolve_path(c, uri + 8);
                                if (!abs || asprintf(&p->uri, "test://%s", abs) < 0)
                                        p->uri = NULL;
                        } else
                                p->uri = strdup(uri);
                        if (!p->name || !p->driver || !p->uri)
                                return fail_at(l, g, "out of memory");
                }
        }
        return 0;
}

static int load_root(Loader *l, Config *c, const config_setting_t *root) {
        const config_setting_t *s, *g;
        int r;

        r = check_keys(l, root, top_keys, NULL);
        if (r < 0)
                return r;

        if ((s = config_setting_get_member(root, "database")) && (r = set_path(l, c, s, &c->database)) < 0)
                return r;
        if ((s = config_setting_get_member(root, "catalog_seed")) &&
            (r = set_path(l, c, s, &c->catalog_seed)) < 0)
                return r;
        if ((s = config_setting_get_member(root, "calendar_dir")) &&
            (r = set_path(l, c, s, &c->calendar_dir)) < 0)
                return r;
        if ((s = config_setting_get_member(root, "bus"))) {
                const char *v = config_setting_get_string(s);
                if (!streq(v, "system") && !streq(v, "session") && !streq(v, "none"))
                        return fail_at(l, s, "'bus' must be \"system\", \"session\" or \"none\", not \"%s\"",
                                       v);
                free(c->bus);
                c->bus = strdup(v);
        }
        if ((s = config_setting_get_member(root, "bus_address"))) {
                free(c->bus_address);
                c->bus_address = strdup(config_setting_get_string(s));
        }

        if ((s = config_setting_get_member(root, "reconcile_seconds"))) {
                int v = config_setting_get_int(s);
                if (v < 1 || v > 86400)
                        return fail_at(l, s, "'reconcile_seconds' must be between 1 and 86400");
                c->reconcile_usec = (uint64_t)v * 1000000ULL;
        }
        /* 0 forces VMs off at once; guests without ACPI handling never stop by themselves. */
        if ((s = config_setting_get_member(root, "stop_timeout_seconds"))) {
                int v = config_setting_get_int(s);
                if (v < 0 || v > 3600)
                        return fail_at(l, s, "'stop_timeout_seconds' must be between 0 and 3600");
                c->stop_timeout_ms = (unsigned)v * 1000U;
        }
        if ((s = config_setting_get_member(root, "connect_timeout_seconds"))) {
                int v = config_setting_get_int(s);
                if (v < 1 || v > 600)
                        return fail_at(l, s, "'connect_timeout_seconds' must be between 1 and 600");
                c->connect_timeout_ms = (unsigned)v * 1000U;
        }

        if ((g = config_setting_get_member(root, "rest"))) {
                r = check_keys(l, g, rest_keys, "'rest'");
                if (r < 0)
                        return r;
                if ((s = config_setting_get_member(g, "listen"))) {
                        free(c->rest_listen);
                        c->rest_listen = strdup(config_setting_get_string(s));
                }
                if ((s = config_setting_get_member(g, "max_body_bytes"))) {
                        int v = config_setting_get_int(s);
                        if (v < 1024 || v > 64 * 1024 * 1024)
                                return fail_at(l, s, "'max_body_bytes' must be between 1024 and 67108864");
                        c->rest_max_body = (size_t)v;
                }
                if ((s = config_setting_get_member(g, "max_connections"))) {
                        int v = config_setting_get_int(s);
                        if (v < 16 || v > 100000)
                                return fail_at(l, s, "'max_connections' must be between 16 and 100000");
                        c->rest_max_connections = (unsigned)v;
                }
                if ((s = config_setting_get_member(g, "max_connections_per_ip"))) {
                        int v = config_setting_get_int(s);
                        if (v < 0 || v > 100000)
                                return fail_at(l, s, "'max_connections_per_ip' must be between 0 and 100000");
                        c->rest_max_connections_per_ip = (unsigned)v;
                }
                if ((s = config_setting_get_member(g, "header_timeout_seconds"))) {
                        int v = config_setting_get_int(s);
                        if (v < 1 || v > 600)
                                return fail_at(l, s, "'header_timeout_seconds' must be between 1 and 600");
                        c->rest_header_timeout_s = (unsigned)v;
                }
                if ((s = config_setting_get_member(g, "body_timeout_seconds"))) {
                        int v = config_setting_get_int(s);
                        if (v < 1 || v > 3600)
                                return fail_at(l, s, "'body_timeout_seconds' must be between 1 and 3600");
                        c->rest_body_timeout_s = (unsigned)v;
                }
                /* One address must not be able to take every slot: health and the other
                 * clients need room. */
                if (c->rest_max_connections_per_ip > c->rest_max_connections / 2)
                        return fail_at(l, g,
                                       "'max_connections_per_ip' (%u) must be at most half of "
                                       "'max_connections' (%u)",
                                       c->rest_max_connections_per_ip, c->rest_max_connections);
        }

        /* Legacy moves (Art. 35): a wave must not take a source host down. */
        if ((g = config_setting_get_member(root, "migration"))) {
                r = check_keys(l, g, migration_keys, "'migration'");
                if (r < 0)
                        return r;
                if ((s = config_setting_get_member(g, "max_copies_per_host"))) {
                        int v = config_setting_get_int(s);
                        if (v < 1 || v > 64)
                                return fail_at(l, s,
                                               "'migration.max_copies_per_host' must be between 1 and 64");
                        c->migration_max_copies_per_host = (unsigned)v;
                }
                if ((s = config_setting_get_member(g, "copy_rate_limit_bytes"))) {
                        int v = config_setting_get_int(s);
                        if (v < 0)
                                return fail_at(l, s,
                                               "'migration.copy_rate_limit_bytes' must be 0 (none) or more");
                        c->migration_rate_limit_bps = (uint64_t)v;
                }
                /* For tests of the rollback only: a copy fails past this many bytes. */
                if ((s = config_setting_get_member(g, "test_fail_after_bytes"))) {
                        int v = config_setting_get_int(s);
                        if (v < 0)
                                return fail_at(l, s,
                                               "'migration.test_fail_after_bytes' must be 0 (never) or more");
                        c->migration_fail_after_bytes = (uint64_t)v;
                }
        }
        /* Operations run at once: each in flight holds a worker's queue slot
         * or an http provider's connection; more wait and keep their order. */
        if ((g = config_setting_get_member(root, "operations"))) {
                r = check_keys(l, g, operations_keys, "'operations'");
                if (r < 0)
                        return r;
                if ((s = config_setting_get_member(g, "max_in_flight"))) {
                        int v = config_setting_get_int(s);
                        if (v < 1 || v > 1000000)
                                return fail_at(l, s,
                                               "'operations.max_in_flight' must be between 1 and 1000000");
                        c->operations_max_in_flight = (unsigned)v;
                }
        }
        if ((g = config_setting_get_member(root, "audit"))) {
                r = check_keys(l, g, audit_keys, "'audit'");
                if (r < 0)
                        return r;
                if ((s = config_setting_get_member(g, "checkpoint_key"))) {
                        struct stat st;
                        if (isempty(config_setting_get_string(s)))
                                return fail_at(l, s, "'checkpoint_key' must name a PEM private key file");
                        r = set_path(l, c, s, &c->checkpoint_key);
                        if (r < 0)
                                return r;
                        c->checkpoint_key_line = (unsigned)config_setting_source_line(s);
                        if (stat(c->checkpoint_key, &st) < 0)
                                return fail_at(l, s, "'checkpoint_key': %s: %s", c->checkpoint_key,
                                               strerror(errno));
                        /* Whoever reads the key can sign a rewritten trail. */
                        if (st.st_mode & 0077)
                                return fail_at(l, s,
                                               "'checkpoint_key': %s is readable or writable by group or "
                                               "others (mode %04o): only the daemon's user may read it "
                                               "(chmod 600)",
                                               c->checkpoint_key, (unsigned)(st.st_mode & 07777));
                }
                if ((s = config_setting_get_member(g, "checkpoint_every"))) {
                        int v = config_setting_get_int(s);
                        if (v < 1 || v > 1000000)
                                return fail_at(l, s, "'checkpoint_every' must be between 1 and 1000000");
                        c->checkpoint_every = (unsigned)v;
                }
        }

        if ((g = config_setting_get_member(root, "secrets"))) {
                r = check_keys(l, g, secrets_keys, "'secrets'");
                if (r < 0)
                        return r;
                if ((s = config_setting_get_member(g, "key"))) {
                        _cleanup_(secretbox_freep) SecretBox *box = NULL;
                        CbError kerr = CB_ERROR_INIT;
                        if (isempty(config_setting_get_string(s)))
                                return fail_at(l, s, "'secrets.key' must name a file of %d random bytes",
                                               SECRETBOX_KEY_SIZE);
                        r = set_path(l, c, s, &c->secrets_key);
                        if (r < 0)
                                return r;
                        c->secrets_key_line = (unsigned)config_setting_source_line(s);
                        /* Absent, wrong size, loose mode: refused here, at load. */
                        if (secretbox_load(c->secrets_key, false, &box, &kerr) < 0)
                                return fail_at(l, s, "'secrets.key': %s", kerr.message);
                }
        }

        /* The older single-platform form: one platform named by its user. */
        if ((g = config_setting_get_member(root, "osb"))) {
                r = check_keys(l, g, osb_keys, "'osb'");
                if (r < 0)
                        return r;
                if (isempty(get_str(g, "username")) || !get_str(g, "password_sha256"))
                        return fail_at(l, g, "'osb' needs 'username' and 'password_sha256'");
                r = add_platform(l, c, g, get_str(g, "username"));
                if (r < 0)
                        return r;
        }
        if ((g = config_setting_get_member(root, "platforms"))) {
                int n = config_setting_length(g);
                for (int i = 0; i < n; i++) {
                        const config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
                        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
                                return fail_at(l, e, "each platform must be a group { ... }");
                        r = check_keys(l, e, platform_keys, "a platform");
                        if (r < 0)
                                return r;
                        if (isempty(get_str(e, "name")) || isempty(get_str(e, "username")) ||
                            !get_str(e, "password_sha256"))
                                return fail_at(l, e,
                                               "a platform needs 'name', 'username' and 'password_sha256'");
                        r = add_platform(l, c, e, get_str(e, "name"));
                        if (r < 0)
                                return r;
                }
        }

        return load_list(l, c, root);
}

int config_load(const char *path, Config **ret, CbError *err) {
        _cleanup_(config_freep) Config *c = NULL;
        config_t cfg;
        char real[PATH_MAX];
        Loader l = { .file = path, .err = err };
        int r;

        r = config_new_default(&c);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        c->path = strdup(path);
        if (!realpath(path, real))
                return cb_error_set(err, CB_ERR_VALIDATION, "%s: cannot open: %s", path, strerror(errno));
        *strrchr(real, '/') = 0;
        c->dir = strdup(real[0] ? real : "/");
        if (!c->path || !c->dir)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        config_init(&cfg);
        if (config_read_file(&cfg, path) != CONFIG_TRUE) {
                r = cb_error_set(err, CB_ERR_VALIDATION, "%s:%d: %s",
                                 config_error_file(&cfg) ? config_error_file(&cfg) : path,
                                 config_error_line(&cfg), config_error_text(&cfg));
                config_destroy(&cfg);
                return r;
        }
        r = load_root(&l, c, config_root_setting(&cfg));
        config_destroy(&cfg);
        if (r < 0)
                return r;
        if (!c->database || !c->rest_listen || !c->bus)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        *ret = TAKE_PTR(c);
        return 0;
}

const Principal *config_principal_by_uid(const Config *c, uid_t uid) {
        for (size_t i = 0; i < c->n_principals; i++)
                for (size_t j = 0; j < c->principals[i].n_uids; j++)
                        if (c->principals[i].uids[j] == uid)
                                return &c->principals[i].principal;
        return NULL;
}

const Principal *config_principal_by_token(const Config *c, const char *token) {
        char hex[DIGEST_HEX_MAX];
        const Principal *found = NULL;

        if (isempty(token) || digest_sha256_hex(token, strlen(token), hex) < 0)
                return NULL;
        /* No early exit: the time taken does not tell which entry matched. */
        for (size_t i = 0; i < c->n_principals; i++)
                if (c->principals[i].token_sha256[0] && digest_equal_ct(c->principals[i].token_sha256, hex))
                        found = &c->principals[i].principal;
        return found;
}

const Principal *config_principal_by_name(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_principals; i++)
                if (c->principals[i].principal.name && streq(c->principals[i].principal.name, name))
                        return &c->principals[i].principal;
        return NULL;
}

const ConfigPlatform *config_platform_by_basic(const Config *c, const char *user, const char *password) {
        const ConfigPlatform *found = NULL;
        char hex[DIGEST_HEX_MAX];

        if (!user || !password || digest_sha256_hex(password, strlen(password), hex) < 0)
                return NULL;
        for (size_t i = 0; i < c->n_platforms; i++) {
                bool user_ok = digest_equal_ct(c->platforms[i].username, user);
                bool pass_ok = digest_equal_ct(c->platforms[i].password_sha256, hex);
                if (user_ok && pass_ok && !found)
                        found = &c->platforms[i];
        }
        return found;
}

bool config_check_osb(const Config *c, const char *user, const char *password) {
        return config_platform_by_basic(c, user, password) != NULL;
}
