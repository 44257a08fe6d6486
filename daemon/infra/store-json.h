/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Rows of the store as JSON, for the read side of the faces: a row is an
 * object keyed by its column names exactly as the SELECT names them;
 * integers stay integers, reals numbers, text strings; a NULL column is
 * either left out or kept as null, as the caller chooses.
 */

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

/* The current row of st; NULL only when out of memory. */
json_t *store_json_row(sqlite3_stmt *st, bool keep_null);

/* Every row of sql (a literal: the statement is cached) with its one text
 * parameter bound to param, as an array. A query that fails yields the rows
 * read so far; NULL only when out of memory. */
json_t *store_json_rows(Store *s, const char *sql, const char *param, bool keep_null);
