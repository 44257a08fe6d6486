/* SPDX-License-Identifier: Apache-2.0 */
#include "first-boot.h"

#include <stdio.h>

#include "cloud-init.h"
#include "macro.h"

int first_boot_check(const json_t *body, CbError *err) {
        const json_t *keys = json_object_get(body, "ssh_authorized_keys");
        const json_t *user = json_object_get(body, "user_data");
        const json_t *k;
        size_t i;
        int r;

        if (keys && !json_is_array(keys))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "ssh_authorized_keys",
                                          "ssh_authorized_keys: must be an array of OpenSSH public keys");
        if (json_array_size(keys) > CLOUD_INIT_KEYS_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "ssh_authorized_keys",
                                          "ssh_authorized_keys: at most %d keys", CLOUD_INIT_KEYS_MAX);
        json_array_foreach(keys, i, k) {
                char field[48];
                snprintf(field, sizeof(field), "ssh_authorized_keys[%zu]", i);
                if (!json_is_string(k))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: must be a string",
                                                  field);
                r = cloud_init_check_ssh_key(json_string_value(k), field, err);
                if (r < 0)
                        return r;
        }
        if (user && !json_is_string(user))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "user_data", "user_data: must be a string");
        if (user && json_string_length(user) != strlen(json_string_value(user)))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "user_data", "user_data: contains a NUL");
        return cloud_init_check_user_data(json_string_value(user), err);
}

int first_boot_store(Store *s, const char *resource_id, const json_t *body, CbError *err) {
        static const char ins[] = "INSERT INTO resource_first_boot (resource_id, ssh_authorized_keys, "
                                  "user_data) VALUES (?1, ?2, ?3)";
        const json_t *keys = json_object_get(body, "ssh_authorized_keys");
        const char *user = json_string_value(json_object_get(body, "user_data"));
        _cleanup_(freep) char *text = NULL;
        int r;

        if (json_array_size(keys) == 0 && !user)
                return 0;
        text = json_dumps(keys ? keys : json_array(), JSON_COMPACT);
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_run(s, ins, STORE_ARGS(SA_TEXT(resource_id), SA_TEXT(text), SA_TEXT(user)),
                      "recording the first boot", err);
        return r < 0 ? r : 0;
}

int first_boot_seed(Store *s, const char *resource_id, const char *name, char **ret_meta, char **ret_user,
                    CbError *err) {
        static const char sql[] =
                "SELECT ssh_authorized_keys, user_data FROM resource_first_boot WHERE resource_id = ?1";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        _cleanup_(json_decrefp) json_t *keys = NULL;
        _cleanup_(freep) char *user = NULL, *meta = NULL;
        const char *list[CLOUD_INIT_KEYS_MAX];
        char hostname[CLOUD_INIT_HOSTNAME_MAX + 1];
        size_t n = 0, i;
        json_t *k;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(resource_id)), &q, "reading the first boot", err);
        if (r >= 0)
                r = store_rows_next(q, err);
        if (r < 0)
                return r;
        if (r > 0) {
                keys = json_loads(store_rows_text(q, 0), 0, NULL);
                if (!store_rows_is_null(q, 1) && !(user = store_rows_dup(q, 1)))
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        json_array_foreach(keys, i, k) if (n < CLOUD_INIT_KEYS_MAX && json_is_string(k)) list[n++] =
                json_string_value(k);
        cloud_init_hostname(name, resource_id, hostname);
        if (cloud_init_meta_data(resource_id, hostname, list, n, &meta) < 0 ||
            cloud_init_user_data(user, ret_user) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret_meta = TAKE_PTR(meta);
        return 0;
}
