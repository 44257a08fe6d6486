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
