/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bad input to the market queries: every failure returns its documented code, explains itself
 * in errmsg and writes nothing. Then the edges of the series, NULL-safe destructors and the
 * allocator hook, including a failure of every allocation in turn. */
#include <stdbool.h>
#include <stdlib.h>

#include "cmee_test.h"

#define SENTINEL 0xAB
#define NBUF 64
#define WRITTEN_SENTINEL ((size_t)0xABABABABu)
#define PRICE_SENTINEL (-12345.678)
/* 2100-01-01T00:00:00Z */
#define Y2100 INT64_C(4102444800000)

static const cmee_timeframe all_tfs[] = {CMEE_TF_1M, CMEE_TF_5M, CMEE_TF_15M,
                                         CMEE_TF_1H, CMEE_TF_4H, CMEE_TF_1D};
#define NTFS (sizeof all_tfs / sizeof all_tfs[0])
static const int bad_tfs[] = {0, 2, 7, -1, 100000};
#define NBADTFS (sizeof bad_tfs / sizeof bad_tfs[0])

/* How the caller's buffer is passed. */
typedef enum bufmode {
    BUF_GIVEN,  /* a sentinel-filled buffer of the given capacity */
    BUF_NULL,   /* buf NULL with the given capacity */
    NO_WRITTEN, /* a buffer, but written NULL */
} bufmode;

/* A fresh market, so its errmsg is "" until the call under test fails. */
static cmee_market *fresh(void)
{
    cmee_market *m = cmee_test_market(42);
    assert_string_equal(cmee_market_errmsg(m), "");
    return m;
}

static void report(const char *fn, int line, cmee_status got, cmee_status want, const char *msg)
{
    print_error("%s (test line %d): got %s, want %s; errmsg \"%s\"\n", fn, line,
                cmee_status_name(got), cmee_status_name(want), msg);
    fail();
}

/* cmee_market_candles must fail with @p want, set errmsg and leave every output alone. */
static void candles_fail(int line, bool null_market, const char *sym, cmee_timeframe tf,
                         int64_t from, int64_t to, bufmode mode, size_t cap, cmee_status want)
{
    cmee_market *m = fresh();
    cmee_candle buf[NBUF], pristine[NBUF];
    memset(buf, SENTINEL, sizeof buf);
    memset(pristine, SENTINEL, sizeof pristine);
    size_t written = WRITTEN_SENTINEL;
    cmee_status st = cmee_market_candles(null_market ? NULL : m, sym, tf, from, to,
                                         mode == BUF_NULL ? NULL : buf, cap,
                                         mode == NO_WRITTEN ? NULL : &written);
    if (st != want)
        report("cmee_market_candles", line, st, want, cmee_market_errmsg(m));
    assert_true(written == WRITTEN_SENTINEL);
    assert_memory_equal(buf, pristine, sizeof buf);
    if (!null_market)
        assert_true(cmee_market_errmsg(m)[0] != '\0');
    cmee_market_free(m);
}
#define CANDLES_FAIL(...) candles_fail(__LINE__, __VA_ARGS__)

static void last_fail(int line, bool null_market, const char *sym, cmee_timeframe tf, int64_t end,
                      size_t count, bufmode mode, size_t cap, cmee_status want)
{
    cmee_market *m = fresh();
    cmee_candle buf[NBUF], pristine[NBUF];
    memset(buf, SENTINEL, sizeof buf);
    memset(pristine, SENTINEL, sizeof pristine);
    size_t written = WRITTEN_SENTINEL;
    cmee_status st = cmee_market_candles_last(null_market ? NULL : m, sym, tf, end, count,
                                              mode == BUF_NULL ? NULL : buf, cap,
                                              mode == NO_WRITTEN ? NULL : &written);
    if (st != want)
        report("cmee_market_candles_last", line, st, want, cmee_market_errmsg(m));
    assert_true(written == WRITTEN_SENTINEL);
    assert_memory_equal(buf, pristine, sizeof buf);
    if (!null_market)
        assert_true(cmee_market_errmsg(m)[0] != '\0');
    cmee_market_free(m);
}
#define LAST_FAIL(...) last_fail(__LINE__, __VA_ARGS__)

static cmee_candle alloc_sentinel[1];

static void alloc_fail(int line, bool null_market, const char *sym, cmee_timeframe tf, int64_t from,
                       int64_t to, bool null_out, bool null_n, cmee_status want)
{
    cmee_market *m = fresh();
    cmee_candle *out = alloc_sentinel;
    size_t n = WRITTEN_SENTINEL;
    cmee_status st = cmee_market_candles_alloc(null_market ? NULL : m, sym, tf, from, to,
                                               null_out ? NULL : &out, null_n ? NULL : &n);
    if (st != want)
        report("cmee_market_candles_alloc", line, st, want, cmee_market_errmsg(m));
    assert_ptr_equal(out, alloc_sentinel);
    assert_true(n == WRITTEN_SENTINEL);
    if (!null_market)
        assert_true(cmee_market_errmsg(m)[0] != '\0');
    cmee_market_free(m);
}
#define ALLOC_FAIL(...) alloc_fail(__LINE__, __VA_ARGS__)

static void ticks_fail(int line, bool null_market, const char *sym, int64_t t, bufmode mode,
                       size_t cap, cmee_status want)
{
    cmee_market *m = fresh();
    cmee_tick buf[NBUF], pristine[NBUF];
    memset(buf, SENTINEL, sizeof buf);
    memset(pristine, SENTINEL, sizeof pristine);
    size_t written = WRITTEN_SENTINEL;
    cmee_status st =
        cmee_market_ticks(null_market ? NULL : m, sym, t, mode == BUF_NULL ? NULL : buf, cap,
                          mode == NO_WRITTEN ? NULL : &written);
    if (st != want)
        report("cmee_market_ticks", line, st, want, cmee_market_errmsg(m));
    assert_true(written == WRITTEN_SENTINEL);
    assert_memory_equal(buf, pristine, sizeof buf);
    if (!null_market)
        assert_true(cmee_market_errmsg(m)[0] != '\0');
    cmee_market_free(m);
}
#define TICKS_FAIL(...) ticks_fail(__LINE__, __VA_ARGS__)

static void price_fail(int line, bool null_market, const char *sym, int64_t t, bool null_price,
                       cmee_status want)
{
    cmee_market *m = fresh();
    double price = PRICE_SENTINEL;
    cmee_status st = cmee_market_price(null_market ? NULL : m, sym, t, null_price ? NULL : &price);
    if (st != want)
        report("cmee_market_price", line, st, want, cmee_market_errmsg(m));
    assert_true(price == PRICE_SENTINEL);
    if (!null_market)
        assert_true(cmee_market_errmsg(m)[0] != '\0');
    cmee_market_free(m);
}
#define PRICE_FAIL(...) price_fail(__LINE__, __VA_ARGS__)

static const int64_t A = CMEE_ANCHOR_TIME;

/* ---- failures -------------------------------------------------------------------------------- */

/* cmee_market_candles: every documented failure, with nothing written. */
static void test_candles_errors(void **state)
{
    (void)state;
    const int64_t D = A + DAY_MS;
    CANDLES_FAIL(false, "NOPE", CMEE_TF_1H, A, D, BUF_GIVEN, NBUF, CMEE_ENOTFOUND);
    CANDLES_FAIL(false, "btcusd", CMEE_TF_1H, A, D, BUF_GIVEN, NBUF, CMEE_ENOTFOUND);
    CANDLES_FAIL(false, "", CMEE_TF_1H, A, D, BUF_GIVEN, NBUF, CMEE_ENOTFOUND);
    for (size_t i = 0; i < NBADTFS; i++)
        CANDLES_FAIL(false, "BTCUSD", (cmee_timeframe)bad_tfs[i], A, D, BUF_GIVEN, NBUF,
                     CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, A, BUF_GIVEN, NBUF, CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, D, A, BUF_GIVEN, NBUF, CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A + 1, A, BUF_GIVEN, NBUF, CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, CMEE_TIME_MIN - 1, CMEE_TIME_MIN + HOUR_MS, BUF_GIVEN,
                 NBUF, CMEE_ERANGE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, INT64_MIN, CMEE_TIME_MIN + HOUR_MS, BUF_GIVEN, NBUF,
                 CMEE_ERANGE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, CMEE_TIME_MAX - HOUR_MS, CMEE_TIME_MAX + 1, BUF_GIVEN,
                 NBUF, CMEE_ERANGE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, CMEE_TIME_MAX - HOUR_MS, INT64_MAX, BUF_GIVEN, NBUF,
                 CMEE_ERANGE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1D, 0, DAY_MS, BUF_GIVEN, NBUF, CMEE_ERANGE);
    CANDLES_FAIL(true, "BTCUSD", CMEE_TF_1H, A, D, BUF_GIVEN, NBUF, CMEE_EINVAL);
    CANDLES_FAIL(false, NULL, CMEE_TF_1H, A, D, BUF_GIVEN, NBUF, CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, NO_WRITTEN, NBUF, CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, BUF_NULL, 24, CMEE_EINVAL);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, BUF_NULL, 1, CMEE_EINVAL);
    /* 24 candles needed. */
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, BUF_GIVEN, 23, CMEE_ENOSPACE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, BUF_GIVEN, 1, CMEE_ENOSPACE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, BUF_GIVEN, 0, CMEE_ENOSPACE);
    /* More than CMEE_MARKET_MAX_QUERY candles, even when only counting. */
    const int64_t big = (int64_t)CMEE_MARKET_MAX_QUERY + 1;
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1M, CMEE_TIME_MIN, CMEE_TIME_MIN + big * MIN_MS,
                 BUF_GIVEN, NBUF, CMEE_ERANGE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1M, CMEE_TIME_MIN, CMEE_TIME_MIN + big * MIN_MS, BUF_NULL,
                 0, CMEE_ERANGE);
    CANDLES_FAIL(false, "BTCUSD", CMEE_TF_1M, CMEE_TIME_MIN, CMEE_TIME_MAX, BUF_NULL, 0,
                 CMEE_ERANGE);
}

/* cmee_market_candles_last: every documented failure, with nothing written. */
static void test_candles_last_errors(void **state)
{
    (void)state;
    LAST_FAIL(false, "NOPE", CMEE_TF_1H, A, 10, BUF_GIVEN, NBUF, CMEE_ENOTFOUND);
    for (size_t i = 0; i < NBADTFS; i++)
        LAST_FAIL(false, "BTCUSD", (cmee_timeframe)bad_tfs[i], A, 10, BUF_GIVEN, NBUF, CMEE_EINVAL);
    LAST_FAIL(true, "BTCUSD", CMEE_TF_1H, A, 10, BUF_GIVEN, NBUF, CMEE_EINVAL);
    LAST_FAIL(false, NULL, CMEE_TF_1H, A, 10, BUF_GIVEN, NBUF, CMEE_EINVAL);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, A, 10, NO_WRITTEN, NBUF, CMEE_EINVAL);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, A, 10, BUF_NULL, 10, CMEE_EINVAL);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, A, 10, BUF_GIVEN, 9, CMEE_ENOSPACE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, A, 10, BUF_GIVEN, 0, CMEE_ENOSPACE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, A, 0, BUF_GIVEN, NBUF, CMEE_EINVAL);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, A, 0, BUF_NULL, 0, CMEE_EINVAL);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1M, A, SIZE_MAX, BUF_GIVEN, NBUF, CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1M, A, CMEE_MARKET_MAX_QUERY + 1, BUF_NULL, 0, CMEE_ERANGE);
    /* Candles that would start before 2000. */
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1D, CMEE_TIME_MIN + 5 * DAY_MS, 6, BUF_GIVEN, NBUF,
              CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1M, CMEE_TIME_MIN + 10 * MIN_MS + 59999, 11, BUF_GIVEN, NBUF,
              CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1M, CMEE_TIME_MIN, 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1M, CMEE_TIME_MIN + MIN_MS - 1, 1, BUF_GIVEN, NBUF,
              CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1D, CMEE_TIME_MIN - DAY_MS, 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1D, 0, 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
    /* End beyond the series. */
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1H, CMEE_TIME_MAX + 1, 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1D, CMEE_TIME_MAX + DAY_MS, 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
    LAST_FAIL(false, "BTCUSD", CMEE_TF_1D, INT64_MAX, 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
}

/* cmee_market_candles_alloc: every documented failure, with *out and *n untouched. */
static void test_candles_alloc_errors(void **state)
{
    (void)state;
    const int64_t D = A + DAY_MS;
    ALLOC_FAIL(false, "NOPE", CMEE_TF_1H, A, D, false, false, CMEE_ENOTFOUND);
    for (size_t i = 0; i < NBADTFS; i++)
        ALLOC_FAIL(false, "BTCUSD", (cmee_timeframe)bad_tfs[i], A, D, false, false, CMEE_EINVAL);
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1H, A, A, false, false, CMEE_EINVAL);
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1H, D, A, false, false, CMEE_EINVAL);
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1H, CMEE_TIME_MIN - 1, A, false, false, CMEE_ERANGE);
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1H, A, CMEE_TIME_MAX + 1, false, false, CMEE_ERANGE);
    ALLOC_FAIL(true, "BTCUSD", CMEE_TF_1H, A, D, false, false, CMEE_EINVAL);
    ALLOC_FAIL(false, NULL, CMEE_TF_1H, A, D, false, false, CMEE_EINVAL);
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, true, false, CMEE_EINVAL);
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1H, A, D, false, true, CMEE_EINVAL);
    const int64_t big = (int64_t)CMEE_MARKET_MAX_QUERY + 1;
    ALLOC_FAIL(false, "BTCUSD", CMEE_TF_1M, A, A + big * MIN_MS, false, false, CMEE_ERANGE);
}

/* cmee_market_ticks: every documented failure, with nothing written. */
static void test_ticks_errors(void **state)
{
    (void)state;
    TICKS_FAIL(false, "NOPE", A, BUF_GIVEN, NBUF, CMEE_ENOTFOUND);
    TICKS_FAIL(false, "btcusd", A, BUF_GIVEN, NBUF, CMEE_ENOTFOUND);
    TICKS_FAIL(true, "BTCUSD", A, BUF_GIVEN, NBUF, CMEE_EINVAL);
    TICKS_FAIL(false, NULL, A, BUF_GIVEN, NBUF, CMEE_EINVAL);
    TICKS_FAIL(false, "BTCUSD", A, NO_WRITTEN, NBUF, CMEE_EINVAL);
    TICKS_FAIL(false, "BTCUSD", A, BUF_NULL, 60, CMEE_EINVAL);
    TICKS_FAIL(false, "BTCUSD", A, BUF_GIVEN, 59, CMEE_ENOSPACE);
    TICKS_FAIL(false, "BTCUSD", A, BUF_GIVEN, 0, CMEE_ENOSPACE);
    TICKS_FAIL(false, "BTCUSD", CMEE_TIME_MIN - 1, BUF_GIVEN, NBUF, CMEE_ERANGE);
    TICKS_FAIL(false, "BTCUSD", CMEE_TIME_MIN - 1, BUF_NULL, 0, CMEE_ERANGE);
    TICKS_FAIL(false, "BTCUSD", CMEE_TIME_MAX, BUF_GIVEN, NBUF, CMEE_ERANGE);
    TICKS_FAIL(false, "BTCUSD", INT64_MIN, BUF_GIVEN, NBUF, CMEE_ERANGE);
    TICKS_FAIL(false, "BTCUSD", INT64_MAX, BUF_GIVEN, NBUF, CMEE_ERANGE);
    TICKS_FAIL(false, "BTCUSD", 0, BUF_GIVEN, NBUF, CMEE_ERANGE);
}

/* cmee_market_price: every documented failure, with *price untouched. */
static void test_price_errors(void **state)
{
    (void)state;
    PRICE_FAIL(false, "NOPE", A, false, CMEE_ENOTFOUND);
    PRICE_FAIL(true, "BTCUSD", A, false, CMEE_EINVAL);
    PRICE_FAIL(false, NULL, A, false, CMEE_EINVAL);
    PRICE_FAIL(false, "BTCUSD", A, true, CMEE_EINVAL);
    PRICE_FAIL(false, "BTCUSD", CMEE_TIME_MIN - 1, false, CMEE_ERANGE);
    PRICE_FAIL(false, "BTCUSD", CMEE_TIME_MAX, false, CMEE_ERANGE);
    PRICE_FAIL(false, "BTCUSD", INT64_MIN, false, CMEE_ERANGE);
    PRICE_FAIL(false, "BTCUSD", INT64_MAX, false, CMEE_ERANGE);
}

/* A failure leaves the market fully usable, and errmsg says which argument was wrong. */
static void test_errmsg_and_recovery(void **state)
{
    (void)state;
    cmee_market *m = fresh();
    cmee_candle before[4], after[4], bad[4];
    size_t n = 0;
    assert_status(m,
                  cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, A, A + 4 * HOUR_MS, before, 4, &n),
                  CMEE_OK);
    assert_status(m, cmee_market_candles(m, "NOPE", CMEE_TF_1H, A, A + 4 * HOUR_MS, bad, 4, &n),
                  CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_market_errmsg(m), "NOPE"));
    assert_status(m,
                  cmee_market_candles(m, "BTCUSD", (cmee_timeframe)7, A, A + HOUR_MS, bad, 4, &n),
                  CMEE_EINVAL);
    assert_non_null(strstr(cmee_market_errmsg(m), "timeframe"));
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, A, A + 4 * HOUR_MS, bad, 3, &n),
                  CMEE_ENOSPACE);
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, A, A + 4 * HOUR_MS, after, 4, &n),
                  CMEE_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(before, after, sizeof before);
    cmee_market_free(m);
    /* NULL-safe calls. */
    cmee_market_free(NULL);
    assert_non_null(cmee_market_errmsg(NULL));
    assert_true(cmee_market_errmsg(NULL)[0] != '\0');
    m = fresh();
    cmee_market_release(m, NULL);
    cmee_market_release(NULL, NULL);
    assert_status(NULL, cmee_market_new(1, NULL, NULL), CMEE_EINVAL);
    cmee_market_free(m);
}

/* ---- counting and boundaries --------------------------------------------------------------- */

static size_t count_candles(const cmee_market *m, cmee_timeframe tf, int64_t from, int64_t to)
{
    size_t n = WRITTEN_SENTINEL;
    assert_status(m, cmee_market_candles(m, "BTCUSD", tf, from, to, NULL, 0, &n), CMEE_OK);
    return n;
}

/* buf NULL with cap 0 returns the number of candles whose open time is in [from, to), and a
 * real query writes exactly those, aligned and in order. */
static void test_count_only(void **state)
{
    (void)state;
    cmee_market *m = fresh();
    const struct {
        cmee_timeframe tf;
        int64_t from, to;
        size_t want;
    } cases[] = {
        {CMEE_TF_1H, A, A + DAY_MS, 24},
        {CMEE_TF_1H, A + 1, A + 3 * HOUR_MS + 1, 3},
        {CMEE_TF_1H, A - 1, A + 1, 1},
        {CMEE_TF_1M, A, A + DAY_MS, 1440},
        {CMEE_TF_5M, A + 1, A + HOUR_MS, 11},
        {CMEE_TF_15M, A, A + HOUR_MS + 1, 5},
        {CMEE_TF_4H, A + 1, A + 4 * HOUR_MS, 0},
        {CMEE_TF_4H, A + 1, A + 4 * HOUR_MS + 1, 1},
        {CMEE_TF_4H, A - 2 * HOUR_MS, A + DAY_MS, 6},
        {CMEE_TF_1D, A - 1, A + 1, 1},
        {CMEE_TF_1D, A + 1, A + DAY_MS, 0},
        {CMEE_TF_1D, A, A + 31 * DAY_MS, 31},
        {CMEE_TF_1M, A, A + 1, 1},
        {CMEE_TF_1M, CMEE_TIME_MIN, CMEE_TIME_MAX, 65536 * 1440},
        {CMEE_TF_1D, CMEE_TIME_MIN, CMEE_TIME_MAX, 65536},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].want > CMEE_MARKET_MAX_QUERY)
            continue; /* refused, checked in test_candles_errors */
        size_t n = count_candles(m, cases[i].tf, cases[i].from, cases[i].to);
        if (n != cases[i].want) {
            print_error("case %zu: %zu candles counted, want %zu\n", i, n, cases[i].want);
            fail();
        }
        if (n > 2000)
            continue;
        cmee_candle buf[2000];
        size_t w = WRITTEN_SENTINEL;
        assert_status(m,
                      cmee_market_candles(m, "BTCUSD", cases[i].tf, cases[i].from, cases[i].to, buf,
                                          2000, &w),
                      CMEE_OK);
        assert_int_equal(w, n);
        int64_t tfms = cmee_timeframe_ms(cases[i].tf);
        for (size_t k = 0; k < w; k++) {
            assert_true(buf[k].time >= cases[i].from && buf[k].time < cases[i].to);
            assert_true((buf[k].time - CMEE_TIME_MIN) % tfms == 0);
            if (k > 0)
                assert_true(buf[k].time == buf[k - 1].time + tfms);
        }
        /* An exact-size buffer is enough. */
        if (n > 0) {
            assert_status(m,
                          cmee_market_candles(m, "BTCUSD", cases[i].tf, cases[i].from, cases[i].to,
                                              buf, n, &w),
                          CMEE_OK);
            assert_int_equal(w, n);
        }
    }
    /* Exactly CMEE_MARKET_MAX_QUERY candles may be counted, and asked for with candles_last. */
    int64_t max = (int64_t)CMEE_MARKET_MAX_QUERY;
    assert_int_equal(count_candles(m, CMEE_TF_1M, A - max * MIN_MS, A), CMEE_MARKET_MAX_QUERY);
    size_t n = 0;
    assert_status(
        m, cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1M, A, CMEE_MARKET_MAX_QUERY, NULL, 0, &n),
        CMEE_OK);
    assert_int_equal(n, CMEE_MARKET_MAX_QUERY);
    assert_status(m, cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, A, 24, NULL, 0, &n),
                  CMEE_OK);
    assert_int_equal(n, 24);
    assert_status(m, cmee_market_ticks(m, "BTCUSD", A, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 60);
    cmee_market_free(m);
}

static void assert_candle_sane(const cmee_candle *c)
{
    assert_true(c->low > 0);
    assert_true(c->low <= c->open && c->open <= c->high);
    assert_true(c->low <= c->close && c->close <= c->high);
    assert_true(c->volume >= 0 && c->volume == floor(c->volume));
    assert_true(isfinite(c->high));
}

/* The first candle of the series, the last candle of every timeframe and a day in 2100 are
 * served, agree between candles and candles_last, and unaligned ends behave as documented. */
static void test_boundaries(void **state)
{
    (void)state;
    cmee_market *m = fresh();
    cmee_candle c, d;
    size_t n = 0;
    for (size_t i = 0; i < NTFS; i++) {
        int64_t tfms = cmee_timeframe_ms(all_tfs[i]);
        /* First candle. */
        assert_status(m,
                      cmee_market_candles(m, "EURUSD", all_tfs[i], CMEE_TIME_MIN,
                                          CMEE_TIME_MIN + tfms, &c, 1, &n),
                      CMEE_OK);
        assert_int_equal(n, 1);
        assert_true(c.time == CMEE_TIME_MIN);
        assert_candle_sane(&c);
        assert_status(
            m,
            cmee_market_candles_last(m, "EURUSD", all_tfs[i], CMEE_TIME_MIN + tfms, 1, &d, 1, &n),
            CMEE_OK);
        assert_candle_equal(c, d);
        /* Last candle. */
        assert_status(m,
                      cmee_market_candles(m, "EURUSD", all_tfs[i], CMEE_TIME_MAX - tfms,
                                          CMEE_TIME_MAX, &c, 1, &n),
                      CMEE_OK);
        assert_int_equal(n, 1);
        assert_true(c.time == CMEE_TIME_MAX - tfms);
        assert_candle_sane(&c);
        assert_status(
            m, cmee_market_candles_last(m, "EURUSD", all_tfs[i], CMEE_TIME_MAX, 1, &d, 1, &n),
            CMEE_OK);
        assert_int_equal(n, 1);
        assert_candle_equal(c, d);
    }
    /* The price at the first and last millisecond. */
    double p = PRICE_SENTINEL;
    assert_status(m,
                  cmee_market_candles(m, "EURUSD", CMEE_TF_1M, CMEE_TIME_MIN,
                                      CMEE_TIME_MIN + MIN_MS, &c, 1, &n),
                  CMEE_OK);
    assert_status(m, cmee_market_price(m, "EURUSD", CMEE_TIME_MIN, &p), CMEE_OK);
    assert_true(p == c.open);
    assert_status(m,
                  cmee_market_candles(m, "EURUSD", CMEE_TF_1M, CMEE_TIME_MAX - MIN_MS,
                                      CMEE_TIME_MAX, &c, 1, &n),
                  CMEE_OK);
    assert_status(m, cmee_market_price(m, "EURUSD", CMEE_TIME_MAX - 1, &p), CMEE_OK);
    assert_true(p == c.close);
    cmee_tick ticks[60];
    assert_status(m, cmee_market_ticks(m, "EURUSD", CMEE_TIME_MAX - 1, ticks, 60, &n), CMEE_OK);
    assert_int_equal(n, 60);
    assert_true(ticks[0].time == CMEE_TIME_MAX - MIN_MS);

    /* 2100-01-01: a daily candle and its 24 hours agree. */
    cmee_candle h[24];
    assert_status(m, cmee_market_candles(m, "XAUUSD", CMEE_TF_1D, Y2100, Y2100 + DAY_MS, &c, 1, &n),
                  CMEE_OK);
    assert_int_equal(n, 1);
    assert_true(c.time == Y2100);
    assert_candle_sane(&c);
    assert_status(m, cmee_market_candles(m, "XAUUSD", CMEE_TF_1H, Y2100, Y2100 + DAY_MS, h, 24, &n),
                  CMEE_OK);
    assert_int_equal(n, 24);
    double hi = h[0].high, lo = h[0].low, vol = 0;
    for (int i = 0; i < 24; i++) {
        hi = fmax(hi, h[i].high);
        lo = fmin(lo, h[i].low);
        vol += h[i].volume;
    }
    assert_true(c.open == h[0].open && c.close == h[23].close);
    assert_true(c.high == hi && c.low == lo && c.volume == vol);

    /* candles_last: complete candles only, the last one ending at or before end. */
    assert_status(
        m, cmee_market_candles_last(m, "XAUUSD", CMEE_TF_1H, Y2100 + 30 * MIN_MS, 2, h, 24, &n),
        CMEE_OK);
    assert_int_equal(n, 2);
    assert_true(h[0].time == Y2100 - 2 * HOUR_MS && h[1].time == Y2100 - HOUR_MS);
    assert_status(m, cmee_market_candles_last(m, "XAUUSD", CMEE_TF_1H, Y2100, 1, h, 24, &n),
                  CMEE_OK);
    assert_true(h[0].time == Y2100 - HOUR_MS);
    /* The earliest start allowed: exactly at CMEE_TIME_MIN. */
    assert_status(m,
                  cmee_market_candles_last(m, "XAUUSD", CMEE_TF_1D, CMEE_TIME_MIN + 5 * DAY_MS + 1,
                                           5, h, 24, &n),
                  CMEE_OK);
    assert_int_equal(n, 5);
    assert_true(h[0].time == CMEE_TIME_MIN);
    /* A range that holds no open time is empty, not an error. */
    n = WRITTEN_SENTINEL;
    assert_status(m, cmee_market_candles(m, "XAUUSD", CMEE_TF_1D, A + 1, A + 2, h, 24, &n),
                  CMEE_OK);
    assert_int_equal(n, 0);
    cmee_market_free(m);
}

/* ---- allocators ------------------------------------------------------------------------------ */

static void sample(const cmee_market *m, const char *sym, cmee_candle out[8])
{
    size_t n = 0;
    assert_status(m, cmee_market_candles(m, sym, CMEE_TF_1H, A, A + 8 * HOUR_MS, out, 8, &n),
                  CMEE_OK);
    assert_int_equal(n, 8);
}

/* A custom allocator is used for everything the market allocates, sees every block released,
 * and produces the same prices as malloc. */
static void test_counting_allocator(void **state)
{
    (void)state;
    chaos c = {0};
    cmee_allocator al = chaos_allocator(&c);
    cmee_market *m = NULL;
    assert_status(NULL, cmee_market_new(42, &al, &m), CMEE_OK);
    memset(&al, 0, sizeof al); /* the struct is copied: it need not outlive the call */
    assert_non_null(m);
    assert_true(c.calls >= 1);
    assert_true(c.live >= 1);
    long base = c.live;

    cmee_market *plain = cmee_test_market(42);
    cmee_candle a[8], b[8];
    sample(m, "BTCUSD", a);
    sample(plain, "BTCUSD", b);
    assert_memory_equal(a, b, sizeof a);

    cmee_candle *arr = NULL;
    size_t n = 0;
    assert_status(m,
                  cmee_market_candles_alloc(m, "BTCUSD", CMEE_TF_1H, A, A + 8 * HOUR_MS, &arr, &n),
                  CMEE_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(arr, a, sizeof a);
    assert_int_equal(c.live, base + 1);
    cmee_market_release(m, arr);
    assert_int_equal(c.live, base);
    /* An empty range still gives a releasable array. */
    arr = NULL;
    n = WRITTEN_SENTINEL;
    assert_status(m, cmee_market_candles_alloc(m, "BTCUSD", CMEE_TF_1D, A + 1, A + 2, &arr, &n),
                  CMEE_OK);
    assert_int_equal(n, 0);
    cmee_market_release(m, arr);
    assert_int_equal(c.live, base);

    /* Grow the registry and add a correlation group, then free everything. */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "SYM%d", i);
        cmee_symbol_spec s;
        cmee_symbol_spec_init(&s, name);
        assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    }
    const char *pair[] = {"BTCUSD", "ETHUSD"};
    const double rho[] = {1, 0.5, 0.5, 1};
    assert_status(m, cmee_market_set_correlation(m, pair, 2, rho), CMEE_OK);
    cmee_market_free(m);
    assert_int_equal(c.live, 0);
    assert_true(c.frees >= 1);
    cmee_market_free(plain);
}

/* An allocator missing any one function is refused, and *out stays untouched. */
static void test_incomplete_allocator(void **state)
{
    (void)state;
    chaos c = {0};
    for (int which = 0; which < 3; which++) {
        cmee_allocator al = chaos_allocator(&c);
        if (which == 0)
            al.malloc = NULL;
        else if (which == 1)
            al.realloc = NULL;
        else
            al.free = NULL;
        cmee_market *m = (cmee_market *)&c; /* a sentinel, never dereferenced */
        assert_status(NULL, cmee_market_new(42, &al, &m), CMEE_EINVAL);
        assert_ptr_equal(m, (cmee_market *)&c);
    }
    assert_int_equal(c.calls, 0);
    assert_int_equal(c.live, 0);
}

/* Failing the Nth allocation of cmee_market_new, for every N until it succeeds: each failure
 * is CMEE_ENOMEM with *out untouched and nothing leaked. */
static void test_chaos_market_new(void **state)
{
    (void)state;
    long n;
    bool succeeded = false;
    cmee_market *plain = cmee_test_market(42);
    cmee_candle want[8], got[8];
    sample(plain, "SOLUSD", want);
    for (n = 1; n < 1000; n++) {
        chaos c = {.fail_at = n};
        cmee_allocator al = chaos_allocator(&c);
        cmee_market *m = (cmee_market *)&c; /* a sentinel, never dereferenced */
        cmee_status st = cmee_market_new(42, &al, &m);
        if (st == CMEE_OK) {
            assert_true(c.calls < n); /* the Nth call was never made */
            assert_int_equal(cmee_market_symbol_count(m), cmee_market_symbol_count(plain));
            sample(m, "SOLUSD", got);
            assert_memory_equal(want, got, sizeof want);
            cmee_market_free(m);
            assert_int_equal(c.live, 0);
            succeeded = true;
            break;
        }
        assert_status(NULL, st, CMEE_ENOMEM);
        assert_ptr_equal(m, (cmee_market *)&c);
        assert_int_equal(c.live, 0);
    }
    assert_true(succeeded);
    assert_true(n > 1); /* at least one allocation was exercised */
    cmee_market_free(plain);
}

/* A failed cmee_market_candles_alloc is CMEE_ENOMEM, writes nothing, leaks nothing, and the
 * market works afterwards. */
static void test_chaos_candles_alloc(void **state)
{
    (void)state;
    chaos c = {0};
    cmee_allocator al = chaos_allocator(&c);
    cmee_market *m = NULL;
    assert_status(NULL, cmee_market_new(42, &al, &m), CMEE_OK);
    long base = c.live;
    cmee_candle want[8];
    sample(m, "ETHUSD", want);

    c.fail_at = c.calls + 1;
    cmee_candle *arr = alloc_sentinel;
    size_t n = WRITTEN_SENTINEL;
    assert_status(m,
                  cmee_market_candles_alloc(m, "ETHUSD", CMEE_TF_1H, A, A + 8 * HOUR_MS, &arr, &n),
                  CMEE_ENOMEM);
    assert_ptr_equal(arr, alloc_sentinel);
    assert_true(n == WRITTEN_SENTINEL);
    assert_int_equal(c.live, base);
    assert_true(cmee_market_errmsg(m)[0] != '\0');

    c.fail_all = true;
    assert_status(m,
                  cmee_market_candles_alloc(m, "ETHUSD", CMEE_TF_1D, A, A + 30 * DAY_MS, &arr, &n),
                  CMEE_ENOMEM);
    assert_ptr_equal(arr, alloc_sentinel);
    /* Queries into caller buffers need no allocation at all. */
    cmee_candle got[8];
    sample(m, "ETHUSD", got);
    assert_memory_equal(want, got, sizeof want);
    double p;
    assert_status(m, cmee_market_price(m, "ETHUSD", A, &p), CMEE_OK);
    c.fail_all = false;

    assert_status(m,
                  cmee_market_candles_alloc(m, "ETHUSD", CMEE_TF_1H, A, A + 8 * HOUR_MS, &arr, &n),
                  CMEE_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(arr, want, sizeof want);
    cmee_market_release(m, arr);
    assert_int_equal(c.live, base);
    cmee_market_free(m);
    assert_int_equal(c.live, 0);
}

/* Adding symbols while every allocation fails: each add either needs no memory and succeeds,
 * or is CMEE_ENOMEM and changes nothing; the registry must grow before 200 adds. */
static void test_chaos_set_symbol(void **state)
{
    (void)state;
    chaos c = {0};
    cmee_allocator al = chaos_allocator(&c);
    cmee_market *m = NULL;
    assert_status(NULL, cmee_market_new(42, &al, &m), CMEE_OK);
    cmee_candle btc[8], x[8];
    sample(m, "BTCUSD", btc);
    int failures = 0;
    for (int i = 0; i < 200 && failures < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "CHAOS%d", i);
        cmee_symbol_spec s, probe;
        cmee_symbol_spec_init(&s, name);
        s.seed_price = 10 + i;
        size_t before = cmee_market_symbol_count(m);
        long live = c.live;
        c.fail_all = true;
        cmee_status st = cmee_market_set_symbol(m, &s);
        if (st == CMEE_OK) {
            c.fail_all = false;
            assert_int_equal(cmee_market_symbol_count(m), before + 1);
            continue;
        }
        failures++;
        assert_status(m, st, CMEE_ENOMEM);
        assert_true(cmee_market_errmsg(m)[0] != '\0');
        assert_int_equal(cmee_market_symbol_count(m), before);
        assert_int_equal(c.live, live);
        assert_status(m, cmee_market_symbol(m, name, &probe), CMEE_ENOTFOUND);
        /* Replacing an existing symbol needs no memory even now. */
        cmee_symbol_spec eth;
        assert_status(m, cmee_market_symbol(m, "ETHUSD", &eth), CMEE_OK);
        assert_status(m, cmee_market_set_symbol(m, &eth), CMEE_OK);
        sample(m, "BTCUSD", x);
        assert_memory_equal(btc, x, sizeof x);
        /* With memory back the same add succeeds. */
        c.fail_all = false;
        assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
        assert_int_equal(cmee_market_symbol_count(m), before + 1);
        assert_status(m, cmee_market_symbol(m, name, &probe), CMEE_OK);
        assert_true(probe.seed_price == s.seed_price);
    }
    assert_true(failures >= 1);
    cmee_market_free(m);
    assert_int_equal(c.live, 0);
}

/* A correlation group that cannot get memory is CMEE_ENOMEM and groups nothing. */
static void test_chaos_set_correlation(void **state)
{
    (void)state;
    chaos c = {0};
    cmee_allocator al = chaos_allocator(&c);
    cmee_market *m = NULL;
    assert_status(NULL, cmee_market_new(42, &al, &m), CMEE_OK);
    cmee_candle eth[8], x[8];
    sample(m, "ETHUSD", eth);
    const char *pair[] = {"BTCUSD", "ETHUSD"};
    const double rho[] = {1, 0.5, 0.5, 1};
    c.fail_all = true;
    cmee_status st = cmee_market_set_correlation(m, pair, 2, rho);
    c.fail_all = false;
    if (st == CMEE_OK) {
        /* The implementation needed no memory: nothing more to check here. */
        cmee_market_free(m);
        assert_int_equal(c.live, 0);
        return;
    }
    assert_status(m, st, CMEE_ENOMEM);
    sample(m, "ETHUSD", x);
    assert_memory_equal(eth, x, sizeof x);
    /* Neither symbol was left in a group: both may join other ones. */
    const char *p1[] = {"ETHUSD", "SOLUSD"}, *p2[] = {"BTCUSD", "XAUUSD"};
    assert_status(m, cmee_market_set_correlation(m, p1, 2, rho), CMEE_OK);
    assert_status(m, cmee_market_set_correlation(m, p2, 2, rho), CMEE_OK);
    cmee_market_free(m);
    assert_int_equal(c.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candles_errors),       cmocka_unit_test(test_candles_last_errors),
        cmocka_unit_test(test_candles_alloc_errors), cmocka_unit_test(test_ticks_errors),
        cmocka_unit_test(test_price_errors),         cmocka_unit_test(test_errmsg_and_recovery),
        cmocka_unit_test(test_count_only),           cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_counting_allocator),   cmocka_unit_test(test_incomplete_allocator),
        cmocka_unit_test(test_chaos_market_new),     cmocka_unit_test(test_chaos_candles_alloc),
        cmocka_unit_test(test_chaos_set_symbol),     cmocka_unit_test(test_chaos_set_correlation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
