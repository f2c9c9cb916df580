/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Internal interface of the indicators. Each indicator is one state machine:
 *
 *   size_t cmee__<x>_scratch(const double *p);          doubles of window storage it needs
 *   void   cmee__<x>_init(<x>_state *, const double *p, double *scratch);
 *   static inline void <x>_update(<x>_state *, const cmee__bar *b, double *out);
 *
 * The batch loop (compute.c) and the stream (stream.c) call the same inline update, so they
 * produce the same numbers bit for bit; out[k] is NaN while the indicator is inside its
 * lookback. Parameters arrive validated (table.c) and complete (defaults filled in).
 */
#ifndef CMEE_SIGNALS_IND_H
#define CMEE_SIGNALS_IND_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include <cmee/signals.h>

typedef struct cmee__bar {
    double o, h, l, c, v;
} cmee__bar;

/* A fixed window of the last `cap` values, oldest overwritten first. */
typedef struct cmee__ring {
    double *buf;
    size_t cap, pos, count;
} cmee__ring;

static inline void cmee__ring_init(cmee__ring *r, double *storage, size_t cap)
{
    r->buf = storage;
    r->cap = cap;
    r->pos = 0;
    r->count = 0;
}

/* The ring functions read each field once into a local and write it once: the compiler must
 * assume the store into buf may alias the fields, and reloading them after it would put a
 * store-to-load round trip on every streaming update. */

/* Append x; when full, returns the value that fell out (else 0). */
static inline double cmee__ring_push(cmee__ring *r, double x)
{
    double *buf = r->buf;
    size_t pos = r->pos, cap = r->cap, count = r->count;
    double old = count == cap ? buf[pos] : 0.0;
    buf[pos] = x;
    r->pos = pos + 1 == cap ? 0 : pos + 1;
    r->count = count < cap ? count + 1 : count;
    return old;
}

/* Append x; once the window holds cap values, returns true with *oldest set to the oldest of
 * them (the value cmee__ring_oldest() would give after the push). */
static inline bool cmee__ring_push_full(cmee__ring *r, double x, double *oldest)
{
    double *buf = r->buf;
    size_t pos = r->pos, cap = r->cap, count = r->count;
    buf[pos] = x;
    size_t next = pos + 1 == cap ? 0 : pos + 1;
    r->pos = next;
    if (count < cap)
        r->count = ++count;
    if (count < cap)
        return false;
    *oldest = buf[next];
    return true;
}

/* The oldest value held (the first one pushed of those still in the window). */
static inline double cmee__ring_oldest(const cmee__ring *r)
{
    return r->count == r->cap ? r->buf[r->pos] : r->buf[0];
}

/* The i-th oldest value held, 0 <= i < count. */
static inline double cmee__ring_at(const cmee__ring *r, size_t i)
{
    size_t start = r->count == r->cap ? r->pos : 0;
    size_t k = start + i;
    return r->buf[k >= r->cap ? k - r->cap : k];
}

/* Parameter k of p as a whole number (validated beforehand). */
static inline size_t cmee__pint(const double *p, int k)
{
    return (size_t)p[k];
}

#define CMEE__NAN (__builtin_nan(""))

/* Branch-free selections. Compilers turn such ternaries into jumps as often as not, and on
 * price data those jumps are mispredicted about half the time. On x86-64 the SSE2 compare and
 * max instructions have exactly the ternaries' semantics; elsewhere a bit mask does the same. */
#if defined(__SSE2__)
#include <emmintrin.h>

/* c ? x : +0.0 for c = (a > b) */
static inline double cmee__when_gt(double a, double b, double x)
{
    __m128d m = _mm_cmpgt_sd(_mm_set_sd(a), _mm_set_sd(b));
    return _mm_cvtsd_f64(_mm_and_pd(m, _mm_set_sd(x)));
}

/* a > b ? a : b */
static inline double cmee__max_of(double a, double b)
{
    return _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(a), _mm_set_sd(b)));
}
#else
static inline double cmee__when_gt(double a, double b, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u &= -(uint64_t)(a > b);
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline double cmee__max_of(double a, double b)
{
    uint64_t ua, ub, m = -(uint64_t)(a > b);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & m) | (ub & ~m);
    memcpy(&a, &ua, sizeof a);
    return a;
}
#endif

/* c ? x : +0.0, for a condition already computed */
static inline double cmee__when(bool c, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u &= -(uint64_t)c;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* d > 0 ? d : +0.0 */
static inline double cmee__pos_part(double d)
{
    return cmee__when_gt(d, 0.0, d);
}

/* Lookback of indicator id for complete, valid parameters. */
size_t cmee__ind_lookback(cmee_ind_id id, const double *p);

/* Validate params (NULL = defaults) into full[CMEE_IND_MAX_PARAMS]; fills err on failure. */
cmee_status cmee__ind_params(cmee_ind_id id, const double *params, double *full, cmee_error *err);

/* Fill err (if not NULL) and return st. */
cmee_status cmee__ind_fail(cmee_error *err, cmee_status st, const char *field, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

#endif
