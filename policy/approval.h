/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The approval document (项目审批, regulation Art. 8, 10, 20): what the
 * authority allowed a project to build, for how long and for how much.
 * It arrives as the signed bytes of an envelope (signature.h); this module
 * only checks its shape. Pure: no I/O, no clock, no store.
 *
 * approval_parse() yields either a complete Approval in which every rule
 * below holds, or CB_ERR_MALFORMED_JSON ("line:column: reason") or
 * CB_ERR_VALIDATION naming the JSON path of the first offending field
 * ("items[2].quantity"); never half a document. Every field is required
 * and unknown fields are refused, so a typo cannot silently drop a
 * restriction the authority meant to impose. Duplicate object keys are
 * malformed JSON: a signed document must have one meaning.
 *
 *   approval_no         string, 1-64 bytes, no control characters
 *   project_id          id: ^[a-z0-9-]+$, at most 63 bytes
 *   project_name        string, 1-512 bytes, no control characters
 *   department          id
 *   revision            integer >= 1
 *   valid_from          "YYYY-MM-DD", a real calendar date (calendar.h's rule)
 *   valid_until         the same, not before valid_from
 *   budget              {"construction_fen": int >= 0, "om_fen": int >= 0}
 *   systems             array of unique ids, may be empty
 *   items               non-empty array of {"service_id": id, "plan_id": id,
 *                       "quantity": int >= 1}, no (service_id, plan_id) twice
 *   requires_secure_controllable, dedicated_network_consent   booleans
 *
 * Integers are bounded (APPROVAL_FEN_MAX, APPROVAL_QUANTITY_MAX) so that
 * quantity times a catalogue price and sums over budgets stay far inside
 * int64_t.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define APPROVAL_ID_MAX       63
#define APPROVAL_NO_MAX       64
#define APPROVAL_NAME_MAX     512
#define APPROVAL_FEN_MAX      INT64_C(1000000000000000) /* 10^13 yuan */
#define APPROVAL_QUANTITY_MAX INT64_C(1000000000)
#define APPROVAL_REVISION_MAX INT64_C(2147483647)
#define APPROVAL_DATE_LEN     10 /* "YYYY-MM-DD" */

typedef struct ApprovalItem {
        char *service_id;
        char *plan_id;
        int64_t quantity;
} ApprovalItem;

typedef struct Approval {
        char *approval_no;
        char *project_id;
        char *project_name;
        char *department;
        int64_t revision;
        /* ISO dates compare correctly as strings: strcmp(a, b) <= 0. */
        char valid_from[APPROVAL_DATE_LEN + 1];
        char valid_until[APPROVAL_DATE_LEN + 1];
        int64_t construction_fen;
        int64_t om_fen;
        char **systems;
        size_t n_systems;
        ApprovalItem *items;
        size_t n_items;
        bool requires_secure_controllable;
        bool dedicated_network_consent;
} Approval;

int approval_parse(const char *doc, size_t len, Approval **ret, CbError *err);
/* The same checks on an already parsed document (e.g. embedded in a
 * request). */
int approval_from_json(const json_t *doc, Approval **ret, CbError *err);
Approval *approval_free(Approval *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Approval *, approval_free);

/* The document again, fields in the order above; NULL on OOM. Parsing
 * the dump yields an equal Approval. */
json_t *approval_to_json(const Approval *a);

/* The item for (service_id, plan_id), NULL when the approval lacks it. */
const ApprovalItem *approval_find_item(const Approval *a, const char *service_id, const char *plan_id);
bool approval_lists_system(const Approval *a, const char *system_id);

/* ^[a-z0-9-]+$ and at most APPROVAL_ID_MAX bytes. */
bool approval_id_valid(const char *s);
