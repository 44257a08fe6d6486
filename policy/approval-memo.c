/* SPDX-License-Identifier: Apache-2.0 */
#include "approval-memo.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct MemoSlot {
        char *doc; /* NULL: empty */
        size_t len;
        uint64_t hash;
        Approval *approval;
} MemoSlot;

struct ApprovalMemo {
        MemoSlot *slots;
        size_t n;
        size_t next; /* the slot replaced next */
        size_t last; /* the slot handed out last (SIZE_MAX: none) */
        size_t parses;
};

/* FNV-1a: a cheap first test before the full comparison. */
static uint64_t doc_hash(const char *doc, size_t len) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)doc[i];
                h *= UINT64_C(1099511628211);
        }
        return h;
}

ApprovalMemo *approval_memo_new(size_t slots) {
        ApprovalMemo *m;

        if (slots == 0)
                return NULL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->slots = calloc(slots, sizeof(*m->slots));
        if (!m->slots) {
                free(m);
                return NULL;
        }
        m->n = slots;
        m->last = SIZE_MAX;
        return m;
}

static void slot_clear(MemoSlot *s) {
        free(s->doc);
        approval_free(s->approval);
        *s = (MemoSlot){ 0 };
}

ApprovalMemo *approval_memo_free(ApprovalMemo *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                slot_clear(&m->slots[i]);
        free(m->slots);
        free(m);
        return NULL;
}

int approval_memo_parse(ApprovalMemo *m, const char *doc, size_t len, const Approval **ret, CbError *err) {
        uint64_t h = doc_hash(doc, len);
        Approval *a = NULL;
        char *copy;
        size_t victim;
        int r;

        for (size_t i = 0; i < m->n; i++) {
                MemoSlot *s = &m->slots[i];
                if (s->doc && s->hash == h && s->len == len && memcmp(s->doc, doc, len) == 0) {
                        m->last = i;
                        *ret = s->approval;
                        return 0;
                }
        }

        r = approval_parse(doc, len, &a, err);
        if (r < 0)
                return r;
        m->parses++;
        copy = malloc(len + 1);
        if (!copy) {
                approval_free(a);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        memcpy(copy, doc, len);
        copy[len] = '\0';

        victim = m->next;
        if (victim == m->last && m->n > 1)
                victim = (victim + 1) % m->n;
        m->next = (victim + 1) % m->n;
        slot_clear(&m->slots[victim]);
        m->slots[victim] = (MemoSlot){ .doc = copy, .len = len, .hash = h, .approval = a };
        m->last = victim;
        *ret = a;
        return 0;
}

size_t approval_memo_parses(const ApprovalMemo *m) {
        return m->parses;
}
