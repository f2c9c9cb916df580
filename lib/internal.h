/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal helpers shared by the modules. Non-static internal symbols use the cmee__ prefix;
 * they are hidden from the shared library by visibility and by libcmee.map. */
#ifndef CMEE_INTERNAL_H
#define CMEE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <cmee.h>

#define CMEE__ERRMSG_MAX 256

/* The allocator a handle was created with; a copy lives in every handle. */
typedef struct cmee__alloc {
    cmee_allocator a;
} cmee__alloc;

/* Fill *out from a user allocator or the C library's; CMEE_EINVAL if one is incomplete. */
cmee_status cmee__alloc_init(cmee__alloc *out, const cmee_allocator *user);
void *cmee__malloc(const cmee__alloc *al, size_t size);
void *cmee__calloc(const cmee__alloc *al, size_t n, size_t size);
void *cmee__realloc(const cmee__alloc *al, void *ptr, size_t size);
void cmee__free(const cmee__alloc *al, void *ptr);

/* vsnprintf into a fixed buffer, never overflowing. */
void cmee__fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cmee__vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
