/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Each provider's OS image library (issue 9). An image is a volume that
 * already exists in the pool the provider names for images (its
 * image_pool setting), recorded under a name plans use as os_image, with
 * its OS and version, arch, format (qcow2 or raw), digest (SHA-256 or SM3
 * over the volume's bytes), size, minimum disk and whether the OS is
 * secure-and-controllable (openEuler, Kylin, UOS: Art. 24).
 *
 * The promise:
 *  - Registering reads the volume whole through the provider (libvirt:
 *    virStorageVolDownload) on a worker, never on the main loop, and records
 *    it only when the digest the operator gives is the volume's: a wrong
 *    digest, another format, an unknown pool or volume is refused naming the
 *    field, and nothing is stored. The record and its audit record
 *    (image.register) are one transaction.
 *  - An image is never changed; it is retired (image.retire), and a retired
 *    image is no longer offered to plans or to new VMs. Existing VMs keep
 *    their disks.
 *  - Reads (list, show) are for every role: departments order plans that
 *    name images. Registering and retiring are for operators.
 *
 * The core answers with ImageRecord; each face serializes it once
 * (rest_image_json).
 */

#include <jansson.h>

#include "catalog-validate.h"
#include "error.h"
#include "page.h"
#include "principal.h"
#include "providers.h"
#include "states.h"
#include "store.h"
#include "worker.h"

typedef struct Images Images;

/* One image of the library, as stored. retired_at and retired_by are
 * NULL while it is active. */
typedef struct ImageRecord {
        char *provider, *name, *pool, *volume, *os, *os_version, *arch, *format;
        char digest_alg[8];
        char digest[IMAGE_DIGEST_HEX]; /* lowercase hex */
        uint64_t size_bytes;
        int64_t min_disk_gib;
        bool secure_controllable;
        ImageState state;
        char *created_at, *created_by, *retired_at, *retired_by;
} ImageRecord;
void image_record_done(ImageRecord *rec);

typedef struct ImageList {
        ImageRecord *v;
        size_t n;
} ImageList;
void image_list_done(ImageList *l);

int images_new(Store *store, Providers *providers, WorkerPool *pool, Images **ret);
/* The worker pool must be drained first (jobs hold the Images). */
Images *images_free(Images *im);
DEFINE_TRIVIAL_CLEANUP_FUNC(Images *, images_free);

/* Called on the main loop exactly once: the stored image (borrowed for
 * the call), or NULL and why. */
typedef void (*ImageDoneFn)(const ImageRecord *image, const CbError *err, void *userdata);

/* POST /v1/images {"provider", "name", "volume"[, "pool"], "os", "os_version",
 * "arch", "format", "digest"[, "min_disk_gib"]}. What can be checked at once
 * is: a refusal returns < 0 with err and done is never called. Otherwise 0,
 * and done reports the outcome once the volume has been read. */
int images_register(Images *im, const CbCaller *caller, const json_t *body, ImageDoneFn done, void *userdata,
                    CbError *err);
/* The same for a volume that is not there yet: exactly size bytes read
 * from fd (taken over, closed in every case) become it, through the provider
 * (libvirt: virStorageVolUpload) on a worker, digested as they pass; the
 * volume is kept and registered only when the digest is the one given,
 * and deleted otherwise. A volume of that name already there: 409 naming
 * "volume". D-Bus UploadImage, cloudbrokerctl image upload. */
int images_upload(Images *im, const CbCaller *caller, const json_t *body, int fd, uint64_t size,
                  ImageDoneFn done, void *userdata, CbError *err);
/* provider NULL: every provider's; one page in (provider, name) order. */
int images_list(Images *im, const CbCaller *caller, const char *provider, const Page *page, ImageList *ret,
                char ret_next[PAGE_TOKEN_MAX], CbError *err);
int images_get(Images *im, const CbCaller *caller, const char *provider, const char *name, ImageRecord *ret,
               CbError *err);
/* POST /v1/images/{provider}/{name}/retire; a retired one: CB_ERR_CONFLICT. */
int images_retire(Images *im, const CbCaller *caller, const char *provider, const char *name,
                  ImageRecord *ret, CbError *err);

/* What the library holds under name, over every provider (the catalogue
 * does not know where a plan will be placed). -EIO on a database error. */
int images_facts(Store *s, const char *name, const char *arch, CatalogImageFacts *ret);

/* For catalog.c before a service goes to sign-off: every plan's os_image
 * is a registered, active image of the plan's arch, and a secure-and-
 * controllable one when the service is (Art. 24). CB_ERR_VALIDATION
 * naming "plans[i].spec.os_image". */
int images_check_service(Store *s, const json_t *service, CbError *err);

/* What a provision needs of an image on the provider it was placed on. */
typedef struct ImageUse {
        char pool[129];
        char volume[129];
        char format[8];
        char digest_alg[8];
        char digest[IMAGE_DIGEST_HEX];
        uint64_t size_bytes;
        int64_t min_disk_gib;
} ImageUse;

/* The active image name on provider of arch: CB_ERR_VALIDATION naming
 * "os_image" when there is none (unknown, retired, other arch). */
int images_lookup_use(Store *s, const char *provider, const char *name, const char *arch, ImageUse *ret,
                      CbError *err);
