/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *libc_malloc(void *ud, size_t size)
{
    (void)ud;
    return malloc(size);
}

static void *libc_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    return realloc(ptr, size);
}

static void libc_free(void *ud, void *ptr)
{
    (void)ud;
    free(ptr);
}

cmee_status cmee__alloc_init(cmee__alloc *out, const cmee_allocator *user)
{
    if (!user) {
        out->a = (cmee_allocator){libc_malloc, libc_realloc, libc_free, NULL};
        return CMEE_OK;
    }
    if (!user->malloc || !user->realloc || !user->free)
        return CMEE_EINVAL;
    out->a = *user;
    return CMEE_OK;
}

void *cmee__malloc(const cmee__alloc *al, size_t size)
{
    return al->a.malloc(al->a.ud, size ? size : 1);
}

void *cmee__calloc(const cmee__alloc *al, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    void *p = cmee__malloc(al, bytes);
    if (p && bytes)
        memset(p, 0, bytes);
    return p;
}

void *cmee__realloc(const cmee__alloc *al, void *ptr, size_t size)
{
    return al->a.realloc(al->a.ud, ptr, size ? size : 1);
}

void cmee__free(const cmee__alloc *al, void *ptr)
{
    if (ptr)
        al->a.free(al->a.ud, ptr);
}

void cmee__vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
    if (cap == 0)
        return;
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0)
        buf[0] = '\0';
}

void cmee__fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(buf, cap, fmt, ap);
    va_end(ap);
}
