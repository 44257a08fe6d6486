/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Small helpers every module uses: scope-bound cleanup, array sizes, and
 * string comparisons. Kept deliberately tiny; anything richer belongs in a
 * module of its own.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x)    __builtin_expect(!!(x), 1)
#define _unlikely_(x)  __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* A macro's value as a string literal (SQL built at compile time). */
#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* A hex digit's value (either case), or -1. */
static inline int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* A base64 character's value (RFC 4648, not the URL alphabet), or -1 ('=' too). */
static inline int unbase64char(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* A copy of s, NULL staying NULL, for filling a record field by field:
 * *ok goes false when memory runs out, so one check after the last field
 * does for all. */
static inline char *strdup_or_null(const char *s, bool *ok) {
        char *d;
        if (!s)
                return NULL;
        d = strdup(s);
        if (!d)
                *ok = false;
        return d;
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

/* Defines foo_freep() for a type whose foo_free() accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        func(*p);               \
        }

/* Hands ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                      \
        ({                               \
                __typeof__(p) _tp = (p); \
                (p) = NULL;              \
                _tp;                     \
        })

#define TAKE_FD(fd)              \
        ({                       \
                int _tfd = (fd); \
                (fd) = -1;       \
                _tfd;            \
        })
