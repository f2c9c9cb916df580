/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Streaming equals batch bit for bit, for every indicator in the table, with default and random
 * parameters, on trending, volatile and flat data; reset starts over; a refused bar leaves the
 * stream unchanged; the batch kernels' special paths (every length around their thresholds,
 * outputs in place, bad values anywhere) agree. VWAP (not in TA-Lib) is checked against a direct
 * windowed computation.
 */
#include <stdlib.h>

#include "cmee_test.h"

#define N 6000

typedef struct data {
    cmee_candle c[N];
    double buf[5 * N];
    cmee_series s;
} data;

static data sets[3];

static int setup(void **state)
{
    cmee_market *m = cmee_test_market(77);
    cmee_symbol_spec flat;
    cmee_symbol_spec_init(&flat, "FLAT");
    flat.seed_price = 50;
    flat.tick_size = 1;
    flat.precision = 0;
    flat.volatility = 0.05; /* moves of less than a tick most minutes: many flat bars */
    assert_int_equal(cmee_market_set_symbol(m, &flat), CMEE_OK);
    const char *sym[3] = {"BTCUSD", "DOGEUSD", "FLAT"};
    const cmee_timeframe tf[3] = {CMEE_TF_1H, CMEE_TF_5M, CMEE_TF_1M};
    for (int k = 0; k < 3; k++) {
        size_t n;
        assert_int_equal(cmee_market_candles_last(m, sym[k], tf[k], CMEE_ANCHOR_TIME, N,
                                                  sets[k].c, N, &n),
                         CMEE_OK);
        assert_int_equal(cmee_series_from_candles(sets[k].c, N, sets[k].buf, &sets[k].s),
                         CMEE_OK);
    }
    cmee_market_free(m);
    return 0;
}

static void random_params(const cmee_ind_info *info, double *p)
{
    for (size_t k = 0; k < info->nparams; k++) {
        if (info->param_integer[k])
            p[k] = 1 + rand() % 60;
        else
            p[k] = info->param_defaults[k] * (0.5 + 1.5 * rand() / (double)RAND_MAX);
    }
}

static bool same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_equal(cmee_ind_id id, const double *params, const data *d)
{
    const cmee_ind_info *info = cmee_ind_info_get(id);
    static double ob[CMEE_IND_MAX_OUTPUTS][N];
    double *out[CMEE_IND_MAX_OUTPUTS] = {ob[0], ob[1], ob[2]};
    cmee_error err;
    if (cmee_ind_compute(id, params, &d->s, out, &err) != CMEE_OK)
        fail_msg("%s: %s", info->name, err.text);
    size_t lookback;
    assert_int_equal(cmee_ind_lookback(id, params, &lookback, NULL), CMEE_OK);

    cmee_ind_stream *s;
    assert_int_equal(cmee_ind_stream_new(id, params, NULL, &s, NULL), CMEE_OK);
    assert_int_equal(cmee_ind_stream_id(s), id);
    /* Half the series, a reset, then all of it: the reset must forget everything. */
    for (int pass = 0; pass < 2; pass++) {
        size_t stop = pass == 0 ? N / 2 : N;
        for (size_t i = 0; i < stop; i++) {
            double o[CMEE_IND_MAX_OUTPUTS];
            assert_int_equal(cmee_ind_stream_update(s, &d->c[i], o), CMEE_OK);
            for (size_t k = 0; k < info->noutputs; k++) {
                if (!same(o[k], out[k][i]))
                    fail_msg("%s(%g,%g,%g) %s[%zu]: stream %.17g, batch %.17g", info->name,
                             params ? params[0] : 0, params ? params[1] : 0,
                             params ? params[2] : 0, info->output_names[k], i, o[k], out[k][i]);
                /* NaN exactly inside the lookback. */
                if (isnan(out[k][i]) != (i < lookback))
                    fail_msg("%s(%g,%g,%g) %s[%zu] = %g with lookback %zu", info->name,
                             params ? params[0] : 0, params ? params[1] : 0,
                             params ? params[2] : 0, info->output_names[k], i, out[k][i],
                             lookback);
            }
        }
        cmee_ind_stream_reset(s);
    }
    cmee_ind_stream_free(s);
}

/* Every indicator: defaults, then 12 random parameter sets, on three kinds of data. */
static void test_stream_equals_batch(void **state)
{
    srand(2024);
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        for (int k = 0; k < 3; k++)
            check_equal((cmee_ind_id)id, NULL, &sets[k]);
        for (int r = 0; r < 12; r++) {
            double p[CMEE_IND_MAX_PARAMS] = {0};
            random_params(info, p);
            check_equal((cmee_ind_id)id, p, &sets[r % 3]);
        }
    }
}

/* The batch kernels of lib/signals/batch.h (direct reads, vector lanes, the check folded into
 * the chain) equal the stream at every length from 0 to past the point where the split into two
 * halves starts, with periods around the vector widths. */
static void test_batch_paths(void **state)
{
    enum { M = 200 };
    static const double pset[][3] = {{1, 1, 1}, {2, 1, 1},  {3, 2, 2},  {4, 3, 1},
                                     {5, 2, 2},  {7, 5, 3},  {8, 3, 2},  {9, 12, 4},
                                     {13, 26, 9}, {14, 14, 5}, {16, 9, 3}, {17, 40, 6},
                                     {30, 4, 20}, {45, 1, 2}};
    const data *d = &sets[0];
    static double ob[CMEE_IND_MAX_OUTPUTS][M], os[CMEE_IND_MAX_OUTPUTS][M];
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        for (size_t q = 0; q < sizeof pset / sizeof pset[0]; q++) {
            double p[CMEE_IND_MAX_PARAMS];
            for (size_t k = 0; k < info->nparams; k++)
                p[k] = info->param_integer[k] ? pset[q][k] : info->param_defaults[k] * (1 + 0.1 * k);
            cmee_ind_stream *st;
            assert_int_equal(cmee_ind_stream_new((cmee_ind_id)id, p, NULL, &st, NULL), CMEE_OK);
            for (size_t i = 0; i < M; i++) {
                double o[CMEE_IND_MAX_OUTPUTS];
                assert_int_equal(cmee_ind_stream_update(st, &d->c[i], o), CMEE_OK);
                for (size_t k = 0; k < info->noutputs; k++)
                    os[k][i] = o[k];
            }
            cmee_ind_stream_free(st);
            for (size_t n = 0; n <= M; n++) {
                cmee_series s = d->s;
                s.n = n;
                double *out[CMEE_IND_MAX_OUTPUTS] = {ob[0], ob[1], ob[2]};
                assert_int_equal(cmee_ind_compute((cmee_ind_id)id, p, &s, out, NULL), CMEE_OK);
                for (size_t k = 0; k < info->noutputs; k++)
                    for (size_t i = 0; i < n; i++)
                        if (!same(ob[k][i], os[k][i]))
                            fail_msg("%s(%g,%g,%g) n=%zu %s[%zu]: batch %.17g, stream %.17g",
                                     info->name, p[0], p[1], p[2], n, info->output_names[k], i,
                                     ob[k][i], os[k][i]);
            }
        }
    }
}

/* An output array that is also an input (or another output) takes the generic loop, which
 * reads bar i before writing it: the same values as with separate arrays. */
static void test_batch_in_place(void **state)
{
    enum { M = 1000 };
    const data *d = &sets[1];
    static double sep[CMEE_IND_MAX_OUTPUTS][M], buf[5 * M], o1[M], o2[M];
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        cmee_series s;
        assert_int_equal(cmee_series_from_candles(d->c, M, buf, &s), CMEE_OK);
        double *out[CMEE_IND_MAX_OUTPUTS] = {sep[0], sep[1], sep[2]};
        assert_int_equal(cmee_ind_compute((cmee_ind_id)id, NULL, &s, out, NULL), CMEE_OK);
        /* Output 0 over the close (for SAR, which does not read it, over the high). */
        double *victim = (double *)(info->inputs & CMEE_IN_CLOSE ? s.close : s.high);
        double *inplace[CMEE_IND_MAX_OUTPUTS] = {victim, o1, o2};
        assert_int_equal(cmee_ind_compute((cmee_ind_id)id, NULL, &s, inplace, NULL), CMEE_OK);
        for (size_t i = 0; i < M; i++) {
            assert_true(same(victim[i], sep[0][i]));
            if (info->noutputs > 1)
                assert_true(same(o1[i], sep[1][i]));
            if (info->noutputs > 2)
                assert_true(same(o2[i], sep[2][i]));
        }
    }
}

/* SMA, ATR and NATR check their input while computing (batch.h): a NaN or infinity anywhere,
 * in any field they read, is still refused with the first bad element named and nothing
 * written. */
static void test_batch_refuses(void **state)
{
    enum { M = 300 };
    static const cmee_ind_id ids[] = {CMEE_IND_SMA, CMEE_IND_ATR, CMEE_IND_NATR};
    static double buf[5 * M], o[M];
    for (size_t q = 0; q < sizeof ids / sizeof ids[0]; q++) {
        const cmee_ind_info *info = cmee_ind_info_get(ids[q]);
        for (unsigned bit = CMEE_IN_HIGH; bit <= CMEE_IN_CLOSE; bit <<= 1) {
            if (!(info->inputs & bit))
                continue;
            for (size_t at = 0; at < M; at++) {
                cmee_series s;
                assert_int_equal(cmee_series_from_candles(sets[0].c, M, buf, &s), CMEE_OK);
                double *x = (double *)(bit == CMEE_IN_HIGH  ? s.high
                                       : bit == CMEE_IN_LOW ? s.low
                                                            : s.close);
                x[at] = at % 2 ? NAN : -INFINITY;
                for (size_t i = 0; i < M; i++)
                    o[i] = -1;
                double *out[1] = {o};
                cmee_error err;
                double period = 5;
                assert_int_equal(cmee_ind_compute(ids[q], &period, &s, out, &err), CMEE_EINVAL);
                char want[32];
                snprintf(want, sizeof want, "%s[%zu]",
                         bit == CMEE_IN_HIGH ? "high" : bit == CMEE_IN_LOW ? "low" : "close", at);
                assert_string_equal(err.field, want);
                for (size_t i = 0; i < M; i++)
                    assert_true(o[i] == -1);
            }
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

/* Whether the CPU reports which register states are in use (XGETBV with ECX = 1). */
static bool xinuse_supported(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return false;
    return __get_cpuid_count(0xd, 1, &a, &b, &c, &d) && (a & 4);
}

/* Bit 2: the upper halves of the 256-bit registers are not all zero. */
static bool avx_upper_dirty(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
    return (lo & 4) != 0;
}
#endif

/* The AVX2 batch kernels leave the upper register halves zeroed: left dirty, they made the SSE
 * code that ran after them (other indicators, and the caller's) up to 2.7x slower. */
static void test_batch_leaves_avx_clean(void **state)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!xinuse_supported())
        skip(); /* older CPUs, valgrind */
    static double ob[CMEE_IND_MAX_OUTPUTS][N];
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        double *out[CMEE_IND_MAX_OUTPUTS] = {ob[0], ob[1], ob[2]};
        assert_int_equal(cmee_ind_compute((cmee_ind_id)id, NULL, &sets[0].s, out, NULL), CMEE_OK);
        if (avx_upper_dirty())
            fail_msg("%s left the AVX upper state dirty", cmee_ind_info_get((cmee_ind_id)id)->name);
    }
#else
    skip();
#endif
}

/* A bar with NaN or infinity is refused and changes nothing. */
static void test_refused_bar(void **state)
{
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        cmee_ind_stream *a, *b;
        assert_int_equal(cmee_ind_stream_new((cmee_ind_id)id, NULL, NULL, &a, NULL), CMEE_OK);
        assert_int_equal(cmee_ind_stream_new((cmee_ind_id)id, NULL, NULL, &b, NULL), CMEE_OK);
        for (size_t i = 0; i < 300; i++) {
            double oa[3] = {1, 2, 3}, ob[3];
            if (i % 7 == 3) {
                cmee_candle bad = sets[0].c[i];
                bad.close = NAN;
                bad.high = INFINITY;
                bad.low = -INFINITY;
                bad.volume = NAN;
                assert_int_equal(cmee_ind_stream_update(a, &bad, oa), CMEE_EINVAL);
                assert_true(oa[0] == 1 && oa[1] == 2 && oa[2] == 3); /* out untouched */
            }
            assert_int_equal(cmee_ind_stream_update(a, &sets[0].c[i], oa), CMEE_OK);
            assert_int_equal(cmee_ind_stream_update(b, &sets[0].c[i], ob), CMEE_OK);
            for (size_t k = 0; k < info->noutputs; k++)
                assert_true(same(oa[k], ob[k]));
        }
        assert_int_equal(cmee_ind_stream_update(a, NULL, (double[3]){0}), CMEE_EINVAL);
        cmee_ind_stream_free(a);
        cmee_ind_stream_free(b);
    }
}

/* VWAP is libcmee's own: a rolling volume-weighted typical price, checked directly. */
static void test_vwap_direct(void **state)
{
    const size_t periods[] = {1, 14, 50};
    for (int k = 0; k < 3; k++) {
        for (size_t pi = 0; pi < 3; pi++) {
            size_t p = periods[pi];
            double param = (double)p;
            static double ob[N];
            double *out[1] = {ob};
            assert_int_equal(cmee_ind_compute(CMEE_IND_VWAP, &param, &sets[k].s, out, NULL),
                             CMEE_OK);
            for (size_t i = p - 1; i < N; i++) {
                double pv = 0, v = 0, tp_sum = 0;
                for (size_t j = i + 1 - p; j <= i; j++) {
                    const cmee_candle *c = &sets[k].c[j];
                    double tp = (c->high + c->low + c->close) / 3.0;
                    pv += tp * c->volume;
                    v += c->volume;
                    tp_sum += tp;
                }
                double want = v > 0 ? pv / v : tp_sum / (double)p;
                assert_rel_near(ob[i], want, 1e-9);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_equals_batch),
        cmocka_unit_test(test_batch_paths),
        cmocka_unit_test(test_batch_in_place),
        cmocka_unit_test(test_batch_refuses),
        cmocka_unit_test(test_batch_leaves_avx_clean),
        cmocka_unit_test(test_refused_bar),
        cmocka_unit_test(test_vwap_direct),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
