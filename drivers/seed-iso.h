/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The cloud-init NoCloud seed as an ISO 9660 image (volume id "cidata")
 * holding /meta-data and /user-data, with Rock Ridge and Joliet names, made
 * by libisofs in memory (no file, no external tool). The documents come
 * from drivers/cloud-init.h. Safe to call from several threads.
 */

#include <stddef.h>

#include "error.h"

#define SEED_ISO_VOLUME_ID "cidata"
/* The documents are small; an image larger than this is refused. */
#define SEED_ISO_MAX (4 * 1024 * 1024)

/* *ret: malloc'd ISO bytes (a multiple of 2048), *ret_len their count. */
int seed_iso_build(const char *meta_data, const char *user_data, unsigned char **ret, size_t *ret_len,
                   CbError *err);
