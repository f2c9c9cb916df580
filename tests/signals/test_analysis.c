/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee_analyze(): trend on exact geometric series, pivots and swings on hand-made bars,
 * realised volatility on a series with a known answer and on generated random walks (where
 * the trend rule must mostly say "sideways"), timeframe inference, and bad input. */
#include <stdlib.h>

#include "cmee_test.h"

#define N 100
#define YEAR_MS (365.25 * 86400000.0)

static cmee_candle bars[2000];

/* close_i = 100 * g^i with a 0.1 % range around it and open = previous close. */
static void geometric(cmee_candle *c, size_t n, double g)
{
    for (size_t i = 0; i < n; i++) {
        double close = 100.0 * pow(g, (double)i);
        double open = i ? c[i - 1].close : close / g;
        c[i] = (cmee_candle){(int64_t)i * HOUR_MS, open, close * 1.001, close * 0.999, close, 10};
    }
}

/* Flat bars at 100 with a range of 1 either side: no swing points, no trend. */
static void flat(cmee_candle *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c[i] = (cmee_candle){(int64_t)i * HOUR_MS, 100, 101, 99, 100, 10};
}

static cmee_analysis analyze(const cmee_candle *c, size_t n, int64_t tf)
{
    cmee_analysis a;
    cmee_error err = {0};
    cmee_status st = cmee_analyze(c, n, tf, &a, &err);
    if (st != CMEE_OK)
        print_error("cmee_analyze: %s (%s)\n", cmee_status_name(st), err.text);
    assert_int_equal(st, CMEE_OK);
    return a;
}

static void test_rising(void **state)
{
    (void)state;
    geometric(bars, N, 1.01);
    cmee_analysis a = analyze(bars, N, HOUR_MS);
    assert_int_equal(a.n, N);
    assert_int_equal(a.time, (N - 1) * HOUR_MS);
    assert_true(a.close == bars[N - 1].close);
    assert_int_equal(a.trend, 1);
    assert_near(a.slope_pct, 1.0, 1e-9);
    assert_near(a.r2, 1.0, 1e-12);
    assert_true(a.plus_di > a.minus_di);
    /* -DM is never positive, so DX is 100 at every bar and so is ADX: full strength. */
    assert_near(a.adx, 100.0, 1e-9);
    assert_near(a.trend_strength, 1.0, 1e-12);
    /* Every return is ln(1.01): no volatility at all. */
    assert_near(a.realized_vol, 0.0, 1e-9);

    /* ADX and ATR are the library's, at the last bar. */
    static double buf[5 * N], o[3][N];
    cmee_series s;
    assert_int_equal(cmee_series_from_candles(bars, N, buf, &s), CMEE_OK);
    double *adx[3] = {o[0], o[1], o[2]};
    assert_int_equal(cmee_ind_compute(CMEE_IND_ADX, NULL, &s, adx, NULL), CMEE_OK);
    assert_true(a.adx == o[0][N - 1] && a.plus_di == o[1][N - 1] && a.minus_di == o[2][N - 1]);
    double *atr[1] = {o[0]};
    assert_int_equal(cmee_ind_compute(CMEE_IND_ATR, NULL, &s, atr, NULL), CMEE_OK);
    assert_true(a.atr == o[0][N - 1]);
    assert_rel_near(a.atr_pct, a.atr / a.close * 100.0, 1e-15);
    /* The true range is high - previous close = close * (1.001 - 1/1.01), growing 1 % a bar;
     * Wilder's average A = (13 A' + TR) / 14 then settles at q = 1 / (14 - 13 / 1.01) of it. */
    double q = 1.0 / (14.0 - 13.0 / 1.01);
    assert_near(a.atr_pct, 100 * (1.001 - 1 / 1.01) * q, 1e-3);
}

static void test_falling(void **state)
{
    (void)state;
    geometric(bars, N, 0.99);
    cmee_analysis a = analyze(bars, N, HOUR_MS);
    assert_int_equal(a.trend, -1);
    assert_near(a.slope_pct, -1.0, 1e-9);
    assert_near(a.r2, 1.0, 1e-12);
    assert_true(a.minus_di > a.plus_di);
    assert_near(a.trend_strength, 1.0, 1e-12);
}

/* No movement: sideways, no strength, r2 defined as 0, no swing points. */
static void test_flat(void **state)
{
    (void)state;
    flat(bars, N);
    cmee_analysis a = analyze(bars, N, HOUR_MS);
    assert_int_equal(a.trend, 0);
    assert_true(a.trend_strength == 0.0);
    assert_true(a.slope_pct == 0.0);
    assert_true(a.r2 == 0.0);
    assert_true(a.realized_vol == 0.0);
    assert_near(a.atr, 2.0, 1e-12);
    assert_near(a.atr_pct, 2.0, 1e-12);
    assert_int_equal(a.nswing_highs, 0);
    assert_int_equal(a.nswing_lows, 0);
    assert_true(isnan(a.support) && isnan(a.resistance));
    assert_true(isnan(a.swing_highs[0]) && isnan(a.swing_lows[7]));
    /* Every window has the same (zero) volatility: all rank at or below the last. */
    assert_true(a.vol_percentile == 100.0);
}

/* Pivots of the previous bar: H 110, L 100, C 104, so P = 314 / 3. */
static void test_pivots(void **state)
{
    (void)state;
    flat(bars, N);
    bars[N - 2] = (cmee_candle){(N - 2) * HOUR_MS, 100, 110, 100, 104, 10};
    bars[N - 1] = (cmee_candle){(N - 1) * HOUR_MS, 104, 105, 103, 103, 10};
    cmee_analysis a = analyze(bars, N, HOUR_MS);
    const double p = 314.0 / 3.0, t = 1e-12;
    assert_near(a.pivot, p, t);
    assert_near(a.r1, 109.0 + 1.0 / 3.0, t);
    assert_near(a.s1, 99.0 + 1.0 / 3.0, t);
    assert_near(a.r2_level, 114.0 + 2.0 / 3.0, t);
    assert_near(a.s2, 94.0 + 2.0 / 3.0, t);
    assert_near(a.r3, 119.0 + 1.0 / 3.0, t);
    assert_near(a.s3, 89.0 + 1.0 / 3.0, t);
    assert_near(a.fib_r1, p + 3.82, t);
    assert_near(a.fib_r2, p + 6.18, t);
    assert_near(a.fib_r3, p + 10.0, t);
    assert_near(a.fib_s1, p - 3.82, t);
    assert_near(a.fib_s2, p - 6.18, t);
    assert_near(a.fib_s3, p - 10.0, t);
    assert_true(a.close == 103.0);
}

static void set_high(size_t j, double h)
{
    bars[j].high = h;
}

static void set_low(size_t j, double l)
{
    bars[j].low = l;
}

/* A hand-made zigzag on flat bars: known swing points, nearest support and resistance. */
static void test_swings(void **state)
{
    (void)state;
    enum { M = 80 };
    flat(bars, M);
    set_high(20, 110);
    set_high(40, 120);
    set_high(60, 105);
    set_high(75, 130);
    set_high(78, 140); /* second to last bar: its right side is not known yet */
    set_high(1, 150);  /* too close to the start to have two bars on its left */
    set_low(30, 90);
    set_low(50, 95);
    set_low(70, 97);
    set_low(79, 50);   /* the last bar */
    set_high(10, 108); /* two equal highs close together: neither is a strict maximum */
    set_high(12, 108);
    cmee_analysis a = analyze(bars, M, HOUR_MS);
    assert_int_equal(a.nswing_highs, 4);
    assert_true(a.swing_highs[0] == 130 && a.swing_highs[1] == 105 && a.swing_highs[2] == 120 &&
                a.swing_highs[3] == 110);
    assert_true(isnan(a.swing_highs[4]));
    assert_int_equal(a.nswing_lows, 3);
    assert_true(a.swing_lows[0] == 97 && a.swing_lows[1] == 95 && a.swing_lows[2] == 90);
    assert_true(isnan(a.swing_lows[3]));
    assert_true(a.close == 100.0);
    assert_true(a.support == 97);
    assert_true(a.resistance == 105);

    /* Above every swing high: no resistance; support still the highest low below. */
    bars[M - 1].close = 135;
    a = analyze(bars, M, HOUR_MS);
    assert_true(isnan(a.resistance));
    assert_true(a.support == 97);

    /* A saw-tooth with 15 peaks: the 8 most recent are kept, most recent first. */
    flat(bars, M);
    for (size_t k = 0; k < 15; k++)
        set_high(3 + 5 * k, 200 + (double)k);
    a = analyze(bars, M, HOUR_MS);
    assert_int_equal(a.nswing_highs, 8);
    for (size_t k = 0; k < 8; k++)
        assert_true(a.swing_highs[k] == 214 - (double)k);
    assert_true(a.resistance == 207);
}

/* Closes alternating 100 and 100 e^x: 50 returns of +x and -x, sample sd x sqrt(50 / 49). */
static void test_realized_vol_exact(void **state)
{
    (void)state;
    const double x = 0.01;
    for (size_t i = 0; i < N; i++) {
        double c = i % 2 ? 100.0 * exp(x) : 100.0;
        bars[i] = (cmee_candle){(int64_t)i * HOUR_MS, 100, c + 1, 99, c, 10};
    }
    cmee_analysis a = analyze(bars, N, HOUR_MS);
    double want = x * sqrt(50.0 / 49.0) * sqrt(YEAR_MS / HOUR_MS);
    assert_rel_near(a.realized_vol, want, 1e-9);
    /* Daily bars: the same returns, fewer bars per year. */
    a = analyze(bars, N, DAY_MS);
    assert_rel_near(a.realized_vol, x * sqrt(50.0 / 49.0) * sqrt(365.25), 1e-9);
    /* No net drift: sideways. */
    assert_int_equal(a.trend, 0);
}

/* Quiet first, wild last: the last window is the most volatile (100); and the reverse, where
 * only the last window itself ranks at or below it (100 / (n - 50)). */
static void test_vol_percentile(void **state)
{
    (void)state;
    for (int rev = 0; rev < 2; rev++) {
        double c = 100;
        for (size_t i = 0; i < N; i++) {
            bool wild = (i >= N - 50) != rev;
            double x = wild ? 0.02 : 0.002;
            if (i > 0)
                c *= exp(i % 2 ? x : -x);
            bars[i] = (cmee_candle){(int64_t)i * HOUR_MS, c, c * 1.01, c * 0.99, c, 10};
        }
        cmee_analysis a = analyze(bars, N, HOUR_MS);
        if (!rev)
            assert_true(a.vol_percentile == 100.0);
        else
            assert_near(a.vol_percentile, 100.0 / (N - 50), 1e-12);
    }
}

/* 0 infers the median spacing, even with gaps; it equals passing the timeframe. */
static void test_timeframe_inference(void **state)
{
    (void)state;
    geometric(bars, N, 1.003);
    for (size_t i = 0; i < N; i++)
        bars[i].close *= 1 + 0.01 * sin((double)i);
    for (size_t i = 1; i < N; i++)
        bars[i].time = bars[i - 1].time + (i % 7 == 0 ? 3 * HOUR_MS : HOUR_MS);
    cmee_analysis inferred = analyze(bars, N, 0);
    cmee_analysis given = analyze(bars, N, HOUR_MS);
    assert_memory_equal(&inferred, &given, sizeof given);
    cmee_analysis daily = analyze(bars, N, DAY_MS);
    assert_rel_near(given.realized_vol / daily.realized_vol, sqrt(24.0), 1e-12);
}

static cmee_market *gbm_market(double vol, double drift)
{
    cmee_market *m = cmee_test_market(42);
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "RW");
    s.tick_size = 1e-8;
    s.precision = 8;
    s.volatility = vol;
    s.drift = drift;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    return m;
}

/* Generated GBM with volatility 0.5 on 1h bars: each 50-return estimate has a relative
 * standard error of about 1 / sqrt(98) = 10 %; the mean over 39 disjoint windows about
 * 1.6 %. And a driftless walk is called a trend in few windows (about 5 % expected; the
 * regression-slope t test would say about 80 %). */
static void test_realized_vol_gbm(void **state)
{
    (void)state;
    enum { M = 2000 };
    cmee_market *m = gbm_market(0.5, 0.0);
    size_t got;
    assert_status(m,
                  cmee_market_candles_last(m, "RW", CMEE_TF_1H, CMEE_ANCHOR_TIME, M, bars, M, &got),
                  CMEE_OK);
    cmee_analysis a = analyze(bars, M, 0);
    assert_near(a.realized_vol, 0.5, 0.2);
    assert_true(a.vol_percentile > 0 && a.vol_percentile <= 100);

    double sum = 0;
    int windows = 0, trends = 0;
    for (size_t end = 100; end <= M; end += 50, windows++) {
        a = analyze(bars, end, HOUR_MS);
        sum += a.realized_vol;
        trends += a.trend != 0;
        assert_true(a.vol_percentile > 0 && a.vol_percentile <= 100);
        assert_true(a.trend_strength >= 0 && a.trend_strength <= 1);
    }
    print_message("mean realised vol %.4f over %d windows, %d called a trend\n", sum / windows,
                  windows, trends);
    assert_near(sum / windows, 0.5, 0.05);
    assert_true(trends <= windows / 5);
    cmee_market_free(m);
}

/* A strong generated drift is called a trend up. */
static void test_trend_gbm(void **state)
{
    (void)state;
    enum { M = 200 };
    cmee_market *m = gbm_market(0.1, 2.0);
    size_t got;
    assert_status(m,
                  cmee_market_candles_last(m, "RW", CMEE_TF_1D, CMEE_ANCHOR_TIME + 400 * DAY_MS, M,
                                           bars, M, &got),
                  CMEE_OK);
    cmee_analysis a = analyze(bars, M, 0);
    assert_int_equal(a.trend, 1);
    assert_true(a.slope_pct > 0);
    assert_true(a.trend_strength > 0);
    cmee_market_free(m);
}

static void expect_error(const cmee_candle *c, size_t n, int64_t tf, const char *field,
                         const char *prefix)
{
    cmee_analysis a;
    memset(&a, 0x5a, sizeof a);
    cmee_analysis before = a;
    cmee_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(cmee_analyze(c, n, tf, &a, &err), CMEE_EINVAL);
    assert_int_equal(err.status, CMEE_EINVAL);
    assert_string_equal(err.field, field);
    if (strncmp(err.text, prefix, strlen(prefix)) != 0) {
        print_error("text \"%s\" does not start with \"%s\"\n", err.text, prefix);
        fail();
    }
    assert_memory_equal(&a, &before, sizeof a);
}

static void test_errors(void **state)
{
    (void)state;
    geometric(bars, N, 1.001);
    expect_error(bars, 12, HOUR_MS, "candles", "candles: need at least 60, got 12");
    expect_error(bars, 59, 0, "candles", "candles: need at least 60, got 59");
    expect_error(NULL, N, 0, "candles", "candles: must not be NULL");
    expect_error(bars, N, -1, "timeframe_ms", "timeframe_ms: must be >= 0");

    bars[5].time = bars[4].time;
    expect_error(bars, N, 0, "time[5]", "time[5]: not after time[4]");
    bars[5].time = bars[4].time - 1;
    expect_error(bars, N, 0, "time[5]", "time[5]: not after time[4]");
    geometric(bars, N, 1.001);
    bars[17].close = NAN;
    expect_error(bars, N, 0, "close[17]", "close[17]: must be finite");
    geometric(bars, N, 1.001);
    bars[3].high = INFINITY;
    expect_error(bars, N, 0, "high[3]", "high[3]: must be finite");
    geometric(bars, N, 1.001);
    bars[60].low = -INFINITY;
    expect_error(bars, N, 0, "low[60]", "low[60]: must be finite");
    geometric(bars, N, 1.001);
    bars[0].open = NAN;
    expect_error(bars, N, 0, "open[0]", "open[0]: must be finite");
    geometric(bars, N, 1.001);
    bars[9].close = 0;
    expect_error(bars, N, 0, "close[9]", "close[9]: must be positive");

    /* Volume is not read. */
    geometric(bars, N, 1.001);
    bars[9].volume = NAN;
    analyze(bars, N, 0);

    /* NULL out, NULL err. */
    assert_int_equal(cmee_analyze(bars, N, 0, NULL, NULL), CMEE_EINVAL);
    cmee_analysis a;
    assert_int_equal(cmee_analyze(bars, 3, 0, &a, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_analyze(bars, 60, 0, &a, NULL), CMEE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rising),
        cmocka_unit_test(test_falling),
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_pivots),
        cmocka_unit_test(test_swings),
        cmocka_unit_test(test_realized_vol_exact),
        cmocka_unit_test(test_vol_percentile),
        cmocka_unit_test(test_timeframe_inference),
        cmocka_unit_test(test_realized_vol_gbm),
        cmocka_unit_test(test_trend_gbm),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
