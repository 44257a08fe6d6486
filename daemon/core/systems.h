/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The information-system directory (regulation Art. 10): every system a
 * project may involve is listed here with its owner department, its
 * graded-protection level (Art. 37), whether it is classified (Art. 3) and
 * whether it shares data as required (Art. 11). The policy engine reads
 * these facts through systems_get_facts().
 *
 * The promise: a department lists and changes only its own systems, and
 * another department's system is invisible to it: every answer about it
 * (reads, changes, policy evaluation) is the answer for an unknown id;
 * creating a system under a taken id is refused the same way whoever holds
 * it (409, the holder not named); operators change any; the authority, finance and auditors
 * read all. Every change and every refused change is an audit record in the
 * same transaction (system.create, system.update).
 *
 * A system document: {"id", "name", "department", "protection_level": 1-4,
 * "classified": bool, "data_sharing": "compliant"|"noncompliant"}. The
 * answers are System records; each face serializes them (the REST shape
 * adds "created_at" and "updated_at").
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "page.h"
#include "principal.h"
#include "store.h"

#define SYSTEM_NAME_MAX 200

typedef struct SystemFacts {
        bool listed; /* always true on success: the system is in the directory */
        bool classified;
        uint8_t protection_level; /* 1..4 */
        bool data_sharing_compliant;
        char department[64];
} SystemFacts;

/* A system of the directory as the core hands it to the faces. */
typedef struct System {
        char *id, *name, *department;
        uint8_t protection_level; /* 1..4 */
        bool classified;
        bool data_sharing_compliant;
        char *created_at, *updated_at; /* UTC, store_now()'s format */
} System;

System *system_free(System *sys);
DEFINE_TRIVIAL_CLEANUP_FUNC(System *, system_free);

typedef struct SystemList {
        System **v;
        size_t n;
} SystemList;
void system_list_done(SystemList *l);

/* POST /v1/systems. *ret: the stored system (may be NULL). */
int systems_create(Store *s, const CbCaller *caller, const json_t *doc, System **ret, CbError *err);
/* PUT /v1/systems/{id}: the full document; its "id" must equal id. */
int systems_update(Store *s, const CbCaller *caller, const char *id, const json_t *doc, System **ret,
                   CbError *err);
int systems_get(Store *s, const CbCaller *caller, const char *id, System **ret, CbError *err);
/* department NULL: every system the caller may see. One page (page.h) in
 * id order; ret_next is "" on the last page. */
int systems_list(Store *s, const CbCaller *caller, const char *department, const Page *page, SystemList *ret,
                 char ret_next[PAGE_TOKEN_MAX], CbError *err);

/* Without authorization, for the policy engine: -ENOENT when the system is
 * not in the directory, -EIO on a database error. */
int systems_get_facts(Store *s, const char *id, SystemFacts *ret);
/* The same, as the caller sees the directory (systems_get): -ENOENT also
 * for a system the caller may not read, so that whatever answers with
 * these facts (policy evaluation, incident reports) cannot tell another
 * department's system from an unknown one. */
int systems_get_visible_facts(Store *s, const CbCaller *caller, const char *id, SystemFacts *ret);
