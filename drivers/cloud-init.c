/* SPDX-License-Identifier: Apache-2.0 */
#include "cloud-init.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "macro.h"

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static size_t label_of(const char *s, char *out, size_t max) {
        size_t n = 0;
        bool dash = false;

        for (; s && *s && n < max; s++) {
                if (is_alnum(*s)) {
                        if (dash && n > 0 && n + 1 < max)
                                out[n++] = '-';
                        dash = false;
                        out[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
                } else
                        dash = true;
        }
        while (n > 0 && out[n - 1] == '-')
                n--;
        out[n] = 0;
        return n;
}

void cloud_init_hostname(const char *name, const char *resource_id, char ret[CLOUD_INIT_HOSTNAME_MAX + 1]) {
        if (label_of(name, ret, CLOUD_INIT_HOSTNAME_MAX) > 0)
                return;
        memcpy(ret, "vm-", 4);
        if (label_of(resource_id, ret + 3, CLOUD_INIT_HOSTNAME_MAX - 3) == 0)
                memcpy(ret, "vm", 3);
}

/* ---- SSH public keys ---- */

/* Decodes the first bytes of base64 text s (len bytes, '=' padding at the
 * end only) into out (at most max bytes); -1 when it is not base64. */
static long b64_decode(const char *s, size_t len, unsigned char *out, size_t max) {
        uint32_t acc = 0;
        size_t n = 0, pad = 0;
        int bits = 0;

        if (len == 0 || len % 4 != 0)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '=') {
                        if (i + 2 < len)
                                return -1;
                        pad++;
                        continue;
                }
                int v = unbase64char(s[i]);
                if (v < 0 || pad > 0)
                        return -1;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n < max)
                                out[n] = (unsigned char)(acc >> bits);
                        n++;
                }
        }
        return (long)n;
}

int cloud_init_check_ssh_key(const char *key, const char *field, CbError *err) {
        static const char *const types[] = {
                "ssh-ed25519",
                "ssh-rsa",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "sk-ssh-ed25519@openssh.com",
                "sk-ecdsa-sha2-nistp256@openssh.com",
                NULL,
        };
        unsigned char blob[64];
        const char *sp, *b64, *end;
        size_t tlen, blen;
        bool known = false;
        long n;

        if (!key || !*key)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: empty", field);
        if (strlen(key) > CLOUD_INIT_KEY_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: longer than %d bytes", field,
                                          CLOUD_INIT_KEY_MAX);
        for (const char *p = key; *p; p++)
                /* printable ASCII only: nothing that could end a YAML string or a line */
                if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
                        return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                                  "%s: only printable ASCII without quotes or backslashes",
                                                  field);
        sp = strchr(key, ' ');
        if (!sp)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: not \"TYPE BASE64 [COMMENT]\"",
                                          field);
        tlen = (size_t)(sp - key);
        for (size_t i = 0; types[i]; i++)
                known |= strlen(types[i]) == tlen && strncmp(types[i], key, tlen) == 0;
        if (!known)
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, field,
                        "%s: key type '%.*s' is not ssh-ed25519, ssh-rsa, ecdsa-sha2-* or sk-*", field,
                        (int)(tlen > 40 ? 40 : tlen), key);
        b64 = sp + 1;
        end = strchr(b64, ' ');
        blen = end ? (size_t)(end - b64) : strlen(b64);
        n = b64_decode(b64, blen, blob, sizeof(blob));
        /* The blob begins with the type again, as a length-prefixed string. */
        if (n < 4 || (size_t)n < 4 + tlen ||
            ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3]) != tlen ||
            tlen + 4 > sizeof(blob) || memcmp(blob + 4, key, tlen) != 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                          "%s: the key data is not base64 of a %.*s key", field, (int)tlen,
                                          key);
        return 0;
}

/* ---- user data ---- */

static bool is_clear_secret_key(const char *k) {
        static const char *const keys[] = { "password", "plain_text_passwd", "passwd", "chpasswd", NULL };
        for (size_t i = 0; keys[i]; i++)
                if (streq(k, keys[i]))
                        return true;
        return false;
}

#define YAML_DEPTH_MAX 64

int cloud_init_check_user_data(const char *u, CbError *err) {
        /* Per open collection: is it a mapping, and is its next scalar a key. */
        bool mapping[YAML_DEPTH_MAX], want_key[YAML_DEPTH_MAX];
        yaml_parser_t parser;
        yaml_event_t ev;
        int depth = 0, r = 0, events = 0;
        bool top_seen = false, done = false;
        size_t len;

        if (!u)
                return 0;
        len = strlen(u);
        if (len > CLOUD_INIT_USER_DATA_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                          "user_data: longer than %d bytes", CLOUD_INIT_USER_DATA_MAX);
        if (strncmp(u, "#cloud-config\n", 14) != 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                          "user_data: only #cloud-config is accepted (the first line)");
        if (!yaml_parser_initialize(&parser))
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        yaml_parser_set_input_string(&parser, (const unsigned char *)u, len);
        while (!done && r == 0) {
                if (!yaml_parser_parse(&parser, &ev)) {
                        r = cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                               "user_data: not YAML: %s at line %zu",
                                               parser.problem ? parser.problem : "syntax error",
                                               parser.problem_mark.line + 1);
                        break;
                }
                /* A value scalar or collection turns the parent back to wanting a key. */
                bool is_value_start = ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
                                      ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_ALIAS_EVENT;
                bool was_key = depth > 0 && mapping[depth - 1] && want_key[depth - 1];
                if (++events > 100000)
                        r = cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                               "user_data: too many nodes");
                else if (ev.type == YAML_STREAM_END_EVENT)
                        done = true;
                else if (ev.type == YAML_DOCUMENT_START_EVENT && top_seen)
                        r = cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                               "user_data: one YAML document only");
                else if (is_value_start && depth == 0) {
                        top_seen = true;
                        if (ev.type != YAML_MAPPING_START_EVENT)
                                r = cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                                       "user_data: the document must be a mapping");
                } else if (ev.type == YAML_SCALAR_EVENT && was_key &&
                           is_clear_secret_key((const char *)ev.data.scalar.value))
                        r = cb_error_set_field(
                                err, CB_ERR_VALIDATION, "user_data",
                                "user_data: '%s' would put a secret into the seed in clear (use "
                                "hashed_passwd or an SSH key)",
                                (const char *)ev.data.scalar.value);
                if (r == 0 && is_value_start && depth > 0 && mapping[depth - 1])
                        want_key[depth - 1] = !want_key[depth - 1];
                if (r == 0 && (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)) {
                        if (depth >= YAML_DEPTH_MAX)
                                r = cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                                       "user_data: nested too deep");
                        else {
                                mapping[depth] = ev.type == YAML_MAPPING_START_EVENT;
                                want_key[depth] = true;
                                depth++;
                        }
                }
                if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
                        depth--;
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&parser);
        if (r == 0 && !top_seen)
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "user_data",
                                       "user_data: the document must be a mapping");
        return r;
}

/* ---- the documents ---- */

int cloud_init_meta_data(const char *instance_id, const char *hostname, const char *const *keys,
                         size_t n_keys, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        /* instance-id and hostname are [A-Za-z0-9._-]; keys were checked
         * to hold no quote, backslash or control character. */
        fprintf(f, "instance-id: %s\nlocal-hostname: %s\n", instance_id, hostname);
        if (n_keys > 0) {
                fputs("public-keys:\n", f);
                for (size_t i = 0; i < n_keys; i++)
                        fprintf(f, "  - \"%s\"\n", keys[i]);
        }
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int cloud_init_user_data(const char *user_data, char **ret) {
        char *s = strdup(user_data ? user_data : "#cloud-config\n{}\n");
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
