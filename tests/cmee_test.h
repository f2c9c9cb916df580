/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared helpers for the cmocka tests. Domain asserts are built on cmocka's _assert_* and
 * _fail primitives with __FILE__/__LINE__ of the caller, so a failure points at the test line. */
#ifndef CMEE_TEST_H
#define CMEE_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cmee.h>

/* |a - b| <= tol */
#define assert_near(a, b, tol) cmee_test_near((a), (b), (tol), #a, #b, __FILE__, __LINE__)
/* |a - b| <= rel * max(|a|, |b|) */
#define assert_rel_near(a, b, rel)                                                                 \
    cmee_test_rel_near((a), (b), (rel), #a, #b, __FILE__, __LINE__)
/* A status equal to the expected one, printing both names and the market's message. */
#define assert_status(m, got, want) cmee_test_status((m), (got), (want), __FILE__, __LINE__)
/* Two candles bit for bit. */
#define assert_candle_equal(a, b) cmee_test_candle_equal(&(a), &(b), __FILE__, __LINE__)

static inline void cmee_test_near(double a, double b, double tol, const char *sa, const char *sb,
                                  const char *file, int line)
{
    if (!(fabs(a - b) <= tol)) {
        print_error("%s = %.17g and %s = %.17g differ by %.3g > %.3g\n", sa, a, sb, b,
                    fabs(a - b), tol);
        _fail(file, line);
    }
}

static inline void cmee_test_rel_near(double a, double b, double rel, const char *sa,
                                      const char *sb, const char *file, int line)
{
    double scale = fmax(fabs(a), fabs(b));
    if (!(fabs(a - b) <= rel * scale)) {
        print_error("%s = %.17g and %s = %.17g differ by %.3g relative > %.3g\n", sa, a, sb, b,
                    scale > 0 ? fabs(a - b) / scale : 0.0, rel);
        _fail(file, line);
    }
}

static inline void cmee_test_status(const cmee_market *m, cmee_status got, cmee_status want,
                                    const char *file, int line)
{
    if (got != want) {
        print_error("status %s (%s), expected %s; errmsg: %s\n", cmee_status_name(got),
                    cmee_status_str(got), cmee_status_name(want),
                    m ? cmee_market_errmsg(m) : "(no market)");
        _fail(file, line);
    }
}

static inline void cmee_test_candle_equal(const cmee_candle *a, const cmee_candle *b,
                                          const char *file, int line)
{
    if (memcmp(a, b, sizeof *a) != 0) {
        print_error("candles differ:\n  %lld %.17g %.17g %.17g %.17g %.17g\n"
                    "  %lld %.17g %.17g %.17g %.17g %.17g\n",
                    (long long)a->time, a->open, a->high, a->low, a->close, a->volume,
                    (long long)b->time, b->open, b->high, b->low, b->close, b->volume);
        _fail(file, line);
    }
}

/* CMEE_TEST_SCALE, a number in (0, 1] (default 1): the fraction of their repetitions the heavy
 * tests run (random inputs, candles checked, statistical samples, whose tolerances follow the
 * sample size). The code paths are the same at any scale; `meson test --setup=valgrind` sets
 * it, since memcheck runs the code tens of times slower. */
static inline double cmee_test_scale(void)
{
    const char *v = getenv("CMEE_TEST_SCALE");
    double s = v ? strtod(v, NULL) : 1.0;
    return s > 0 && s <= 1 ? s : 1.0;
}

/* @p n repetitions scaled by cmee_test_scale(), at least 1. */
static inline size_t cmee_test_scaled(size_t n)
{
    size_t k = (size_t)((double)n * cmee_test_scale());
    return k > 0 ? k : 1;
}

#define DAY_MS INT64_C(86400000)
#define HOUR_MS INT64_C(3600000)
#define MIN_MS INT64_C(60000)

/* A market with seed 42, failing the test if it cannot be made. */
static inline cmee_market *cmee_test_market(uint64_t seed)
{
    cmee_market *m = NULL;
    cmee_status st = cmee_market_new(seed, NULL, &m);
    if (st != CMEE_OK) {
        print_error("cmee_market_new: %s\n", cmee_status_str(st));
        fail();
    }
    return m;
}

/* An allocator for out-of-memory tests: counts live blocks and fails the call numbered fail_at
 * (1-based), or every call once fail_all is set. Pass it with chaos_allocator(&c). */
typedef struct chaos {
    long live;
    long calls;
    long fail_at;
    bool fail_all;
    long frees;
} chaos;

static inline bool chaos_fails(chaos *c)
{
    c->calls++;
    return c->fail_all || (c->fail_at > 0 && c->calls == c->fail_at);
}

static inline void *chaos_malloc(void *ud, size_t size)
{
    chaos *c = ud;
    if (chaos_fails(c))
        return NULL;
    void *p = malloc(size);
    if (p)
        c->live++;
    return p;
}

static inline void *chaos_realloc(void *ud, void *ptr, size_t size)
{
    chaos *c = ud;
    if (chaos_fails(c))
        return NULL;
    void *p = realloc(ptr, size);
    if (p && !ptr)
        c->live++;
    return p;
}

static inline void chaos_free(void *ud, void *ptr)
{
    chaos *c = ud;
    if (ptr) {
        c->live--;
        c->frees++;
    }
    free(ptr);
}

static inline cmee_allocator chaos_allocator(chaos *c)
{
    return (cmee_allocator){chaos_malloc, chaos_realloc, chaos_free, c};
}

#endif
