/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The daemon's configuration (libconfig syntax), documented in README.md.
 * Relative paths in the file are resolved against the file's own folder.
 * Loading either yields a complete, checked Config or fails with
 * "file:line: what is wrong" in err, never half a config.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "principal.h"
#include "digest.h"
#include "driver.h"

/* Records between two audit checkpoints unless audit.checkpoint_every says otherwise. */
#define AUDIT_CHECKPOINT_EVERY 1000

typedef struct ConfigPrincipal {
        Principal principal;
        char token_sha256[DIGEST_HEX_MAX]; /* "" when the principal has no token */
        uid_t *uids;
        size_t n_uids;
} ConfigPrincipal;

/* An OSB platform (/v2): its name is recorded on everything it causes
 * (its principal is "osb:NAME"), it logs in with HTTP basic auth. */
#define PLATFORM_NAME_MAX 64
typedef struct ConfigPlatform {
        Principal principal; /* name "osb:NAME", role platform, no department */
        char *name;
        char *username;
        char password_sha256[DIGEST_HEX_MAX];
} ConfigPlatform;

typedef struct ConfigTrustedKey {
        char *id;
        char *alg;  /* "sm2-sm3" or "ed25519" */
        char *path; /* PEM public key, absolute */
} ConfigTrustedKey;

typedef struct ConfigProvider {
        char *name;
        char *driver; /* "libvirt", "http" */
        char *uri;    /* relative test:/// node paths already made absolute; http: its "url" */
        DriverDomainType domain_type;
        /* http (OSB) providers only; NULL when not given. */
        char *username, *password;
        char *api_version;  /* "2.13" .. "2.17" */
        char *ca_file;      /* absolute */
        unsigned timeout_s; /* a whole request; 0: the driver's default (30 s) */
        char *image_pool;   /* the pool holding its OS images; NULL: no image library */
        bool managed_only;  /* an industry cloud: inventoried, never provisioned on (Art. 35) */
} ConfigProvider;

typedef struct Config {
        char *path; /* as given */
        char *dir;  /* folder the file lives in, absolute */

        char *database;
        char *rest_listen; /* "HOST:PORT", "" disables REST */
        size_t rest_max_body;
        unsigned rest_max_connections;          /* all clients together */
        unsigned rest_max_connections_per_ip;   /* 0: no per-address limit */
        unsigned rest_header_timeout_s;         /* ready -> end of the request's headers, absolute */
        unsigned rest_body_timeout_s;           /* end of the headers -> end of the body, absolute */
        char *bus;                              /* "system", "session", "none" */
        char *bus_address;                      /* overrides bus when set */
        char *catalog_seed;                     /* folder of *.json, NULL for none */
        char *calendar_dir;                     /* folder of working-day calendars, NULL for none */
        uint64_t reconcile_usec;                /* how often the record is compared with the providers */
        unsigned stop_timeout_ms;               /* a graceful VM stop waits this long, then forces it off */
        unsigned connect_timeout_ms;            /* opening a provider connection gives up after this */
        unsigned migration_max_copies_per_host; /* legacy disk copies at once per source host, 1..64 */
        uint64_t migration_rate_limit_bps;      /* per copy; 0 = unthrottled */
        uint64_t migration_fail_after_bytes;    /* tests only: a copy fails past it; 0 = never */
        unsigned operations_max_in_flight;      /* operations handed over at once; more wait, 1..1000000 */

        /* The audit checkpoint key (PEM private key), absolute; NULL: the
         * checkpoint-key credential when there is one, else unsigned. */
        char *checkpoint_key;
        unsigned checkpoint_key_line; /* where it was set, for errors */
        unsigned checkpoint_every;    /* records between checkpoints */

        /* The key that seals credentials at rest (secretbox.h), absolute;
         * NULL: the secrets-key credential when there is one, else none
         * (credentials cannot be stored: bindings and http providers'
         * passwords are refused). */
        char *secrets_key;
        unsigned secrets_key_line;

        ConfigPlatform *platforms;
        size_t n_platforms;

        ConfigPrincipal *principals;
        size_t n_principals;
        ConfigTrustedKey *trusted_keys;
        size_t n_trusted_keys;
        ConfigProvider *providers;
        size_t n_providers;
} Config;

int config_load(const char *path, Config **ret, CbError *err);
/* A config with the embedded defaults and no principals (for tests). */
int config_new_default(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

const Principal *config_principal_by_uid(const Config *c, uid_t uid);
const Principal *config_principal_by_token(const Config *c, const char *token);
const Principal *config_principal_by_name(const Config *c, const char *name);
/* The platform whose basic-auth credential this is; NULL for none. Every
 * platform is compared (constant time), so timing says nothing about which
 * user names exist. */
const ConfigPlatform *config_platform_by_basic(const Config *c, const char *user, const char *password);
bool config_check_osb(const Config *c, const char *user, const char *password);

/* Joins a relative path onto the config's folder; absolute paths are copied. */
char *config_resolve_path(const Config *c, const char *path);
