/* SPDX-License-Identifier: Apache-2.0 */
#include "seed-iso.h"

/* libisofs declares struct burn_source (libburn's) only when told that
 * libburn is not included; the daemon reads the image itself. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_lib(void) {
        init_result = iso_init();
}

/* A file of the image from a copy of text (the stream owns the copy). */
static int add_file(IsoDir *root, const char *name, const char *text, CbError *err) {
        size_t n = strlen(text);
        unsigned char *copy = malloc(n ? n : 1);
        IsoStream *stream = NULL;
        IsoFile *file = NULL;
        int r;

        if (!copy)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        memcpy(copy, text, n);
        r = iso_memory_stream_new(copy, n, &stream);
        if (r < 0) {
                free(copy);
                return cb_error_set(err, CB_ERR_INTERNAL, "libisofs: cannot make a stream (%d)", r);
        }
        r = iso_tree_add_new_file(root, name, stream, &file);
        if (r < 0) {
                iso_stream_unref(stream);
                return cb_error_set(err, CB_ERR_INTERNAL, "libisofs: cannot add %s (%d)", name, r);
        }
        iso_node_set_permissions((IsoNode *)file, 0444);
        return 0;
}

int seed_iso_build(const char *meta_data, const char *user_data, unsigned char **ret, size_t *ret_len,
                   CbError *err) {
        IsoImage *image = NULL;
        IsoWriteOpts *opts = NULL;
        struct burn_source *src = NULL;
        unsigned char *buf = NULL;
        size_t len = 0;
        int r;

        if (!meta_data || !user_data)
                return cb_error_set(err, CB_ERR_INVALID, "the seed needs meta-data and user-data");
        pthread_once(&init_once, init_lib);
        if (init_result < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "libisofs: cannot initialise (%d)", init_result);
        r = iso_image_new(SEED_ISO_VOLUME_ID, &image);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "libisofs: cannot make an image (%d)", r);
        iso_image_set_volume_id(image, SEED_ISO_VOLUME_ID);
        r = add_file(iso_image_get_root(image), "meta-data", meta_data, err);
        if (r >= 0)
                r = add_file(iso_image_get_root(image), "user-data", user_data, err);
        if (r < 0)
                goto out;
        r = iso_write_opts_new(&opts, 0);
        if (r < 0) {
                r = cb_error_set(err, CB_ERR_INTERNAL, "libisofs: cannot make write options (%d)", r);
                goto out;
        }
        /* cloud-init finds "meta-data" by its Rock Ridge or Joliet name
         * (ISO 9660 level 1 has no '-'). */
        iso_write_opts_set_rockridge(opts, 1);
        iso_write_opts_set_joliet(opts, 1);
        /* Joliet names as written ("user-data", not "user-data.;1"). */
        iso_write_opts_set_omit_version_numbers(opts, 2);
        iso_write_opts_set_no_force_dots(opts, 2);
        iso_write_opts_set_always_gmt(opts, 1);
        /* The label stays "cidata" as written, like genisoimage -V cidata
         * (ISO 9660 would upper-case it; blkid and cloud-init read it as is). */
        iso_write_opts_set_relaxed_vol_atts(opts, 1);
        r = iso_image_create_burn_source(image, opts, &src);
        if (r < 0) {
                r = cb_error_set(err, CB_ERR_INTERNAL, "libisofs: cannot start writing (%d)", r);
                goto out;
        }
        /* Sector by sector, bounded by SEED_ISO_MAX. */
        for (;;) {
                unsigned char *grown;
                int n;

                if (len + 2048 > SEED_ISO_MAX) {
                        src->cancel(src);
                        r = cb_error_set(err, CB_ERR_INTERNAL, "the seed image exceeds %d bytes",
                                         SEED_ISO_MAX);
                        goto out;
                }
                grown = realloc(buf, len + 2048);
                if (!grown) {
                        src->cancel(src);
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        goto out;
                }
                buf = grown;
                n = src->read_xt(src, buf + len, 2048);
                if (n == 0)
                        break;
                if (n != 2048) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "libisofs: writing the image failed (%d)", n);
                        goto out;
                }
                len += 2048;
        }
        *ret = buf;
        *ret_len = len;
        buf = NULL;
        r = 0;
out:
        if (src) {
                src->free_data(src);
                free(src);
        }
        iso_write_opts_free(opts);
        if (image)
                iso_image_unref(image);
        free(buf);
        return r;
}
