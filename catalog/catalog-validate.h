/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Validation of one catalogue service document (regulation Art. 12) as an
 * operator submits it. Pure: no I/O and no changing state, so the REST and
 * D-Bus faces and the seed import all get the same answer for the same
 * document.
 *
 * The promise: a document that passes has only documented fields, each of
 * the right JSON type and in range, and the returned copy has every
 * defaulted field filled in (tags, spec.kind, spec.arch, spec.network), so
 * later code never guesses. A refusal is CB_ERR_VALIDATION naming the first
 * offending field by its JSON path in err->field, e.g.
 * "plans[1].price.amount_fen" ("" for the document itself), with a message
 * that repeats the path and says what is wrong. The format is described in
 * docs/catalog-format.md.
 */

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "id.h"

#define CATALOG_ID_MAX ID_MAX

/* Upper bound of price.amount_fen (1亿元): keeps amount x hours x quantity
 * inside int64 in billing. */
#define CATALOG_PRICE_MAX_FEN 10000000000LL

/* 0 and a new normalized deep copy in *ret_service; or a negative errno
 * with err filled: CB_ERR_VALIDATION for the document, CB_ERR_INTERNAL when
 * memory runs out. doc is not modified. */
int catalog_validate_service(const json_t *doc, json_t **ret_service, CbError *err);

/* ---- OS images (daemon/core/images.c keeps the library; these are its
 * pure rules, and the catalogue's rule for a plan's os_image) ---- */

#define IMAGE_NAME_MAX 63

/* An image's name, as a plan's os_image names it: [a-z0-9._-]{1,63}, not
 * starting with '.' or '-' ("openeuler-22.03-lts-x86_64"). */
bool image_name_is_valid(const char *s);
/* A libvirt pool or volume name the broker accepts: [A-Za-z0-9._-]{1,128},
 * not starting with '.' or '-' (no path, no XML to escape). */
bool image_volume_name_is_valid(const char *s);
/* Whether an OS counts as secure-and-controllable (自主可控) for Art. 24:
 * openEuler, Kylin, UOS; compared without case. */
bool image_os_is_secure_controllable(const char *os);
/* "sha256:<64 hex>" or "sm3:<64 hex>" (hex in either case): the alg and the
 * hex in lowercase; -EINVAL for anything else. */
#define IMAGE_DIGEST_HEX 65
int image_digest_parse(const char *s, char ret_alg[8], char ret_hex[IMAGE_DIGEST_HEX]);

/* What the library holds under the name a plan gives (images.c reads it). */
typedef struct CatalogImageFacts {
        bool registered;   /* some image of that name, in any state */
        bool active;       /* ... one not retired */
        bool arch_matches; /* ... one not retired, of the plan's arch */
        bool secure;       /* ... one of those, secure-and-controllable */
        char arch[16];     /* an active one's arch, for the message */
} CatalogImageFacts;

/* Whether a plan of a service may name the image: CB_ERR_VALIDATION naming
 * field ("plans[0].spec.os_image") when it is not registered, retired, of
 * another arch than plan_arch, or (service_secure: the service offers
 * secure-and-controllable products, Art. 24) not such an image. */
int catalog_check_plan_image(const char *field, const char *os_image, const char *plan_arch,
                             bool service_secure, const CatalogImageFacts *facts, CbError *err);
