/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Market analysis at the last bar: trend, volatility, pivots and swing points.
 *
 * Definitions (they are the documentation of cmee_analysis):
 *
 *  - slope_pct, r2: least-squares fit of ln(close) on the bar index over the last 50 bars;
 *    slope_pct = 100 * (exp(slope) - 1), the fitted growth per bar. r2 is 0 for a flat window.
 *  - trend: +1 or -1 when the mean of the last 49 log returns (the same 50 bars) is more than
 *    2 standard errors from zero, t = mean / (sd / sqrt(49)), AND the fitted slope has the same
 *    sign; else 0. The t statistic of the regression slope itself is not used: its standard
 *    error assumes independent residuals, and the residuals of a price path around a line are
 *    strongly autocorrelated, so a driftless random walk "trends" by that test in about 80 % of
 *    50-bar windows (spurious regression). The return t test flags about 5 % of them.
 *  - trend_strength: 0 when trend is 0; min(1, ADX / 50) when +DI vs -DI points the trend's
 *    way; min(1, ADX / 50) * r2 when the DI lines disagree with it (a weak, noisy trend).
 *  - adx, plus_di, minus_di, atr: the library's ADX(14) and ATR(14) at the last bar.
 *  - realized_vol: sample standard deviation of the last 50 log returns times
 *    sqrt(bars per year), bars per year = 365.25 * 86400000 / timeframe_ms.
 *  - vol_percentile: 100 * (windows of 50 consecutive log returns whose standard deviation is
 *    <= the last window's) / (number of such windows, n - 50). Always > 0: the last window
 *    counts itself.
 *  - pivots from the previous bar's (n - 2) high H, low L and close C: P = (H + L + C) / 3,
 *    classic R1 = 2P - L, S1 = 2P - H, R2 = P + (H - L), S2 = P - (H - L), R3 = H + 2(P - L),
 *    S3 = L - 2(H - P); Fibonacci R/S k = P +/- {0.382, 0.618, 1} * (H - L).
 *  - swings: bar j is a swing high when its high is strictly above the highs of the two bars on
 *    each side (a fractal), likewise swing lows; the last two bars cannot qualify, nothing is
 *    read beyond the series. The 8 most recent of each are kept, most recent first, and
 *    nswing_highs / nswing_lows count the kept ones (<= 8). Unused slots are NaN.
 *  - support: the highest kept swing low strictly below the last close; resistance: the lowest
 *    kept swing high strictly above it; NaN if there is none.
 *
 * Input: at least 60 candles, times strictly increasing, open/high/low/close finite and close
 * positive (its logarithm is used). Volume is not read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_fit.h>
#include <gsl/gsl_statistics_double.h>

#include "ind.h"

#define MIN_BARS 60
#define WINDOW 50 /* bars of the regression; returns of the volatility windows */
#define NSWING 8
#define YEAR_MS (365.25 * 86400000.0)

static int sgn(double x)
{
    return (x > 0) - (x < 0);
}

static cmee_status check_input(const cmee_candle *c, size_t n, int64_t timeframe_ms,
                               cmee_error *err)
{
    if (!c)
        return cmee__ind_fail(err, CMEE_EINVAL, "candles", "candles: must not be NULL");
    if (n < MIN_BARS)
        return cmee__ind_fail(err, CMEE_EINVAL, "candles", "candles: need at least %d, got %zu",
                              MIN_BARS, n);
    if (timeframe_ms < 0)
        return cmee__ind_fail(err, CMEE_EINVAL, "timeframe_ms",
                              "timeframe_ms: must be >= 0 (0 to infer), got %lld",
                              (long long)timeframe_ms);
    for (size_t i = 0; i < n; i++) {
        const char *names[4] = {"open", "high", "low", "close"};
        double v[4] = {c[i].open, c[i].high, c[i].low, c[i].close};
        char f[32];
        for (int k = 0; k < 4; k++) {
            if (!isfinite(v[k])) {
                cmee__fmt(f, sizeof f, "%s[%zu]", names[k], i);
                return cmee__ind_fail(err, CMEE_EINVAL, f, "%s: must be finite, got %g", f, v[k]);
            }
        }
        if (!(c[i].close > 0)) {
            cmee__fmt(f, sizeof f, "close[%zu]", i);
            return cmee__ind_fail(err, CMEE_EINVAL, f, "%s: must be positive, got %g", f,
                                  c[i].close);
        }
        if (i > 0 && c[i].time <= c[i - 1].time) {
            cmee__fmt(f, sizeof f, "time[%zu]", i);
            return cmee__ind_fail(err, CMEE_EINVAL, f, "%s: not after time[%zu] (%lld <= %lld)", f,
                                  i - 1, (long long)c[i].time, (long long)c[i - 1].time);
        }
    }
    return CMEE_OK;
}

/* Trend from the last WINDOW closes; logc holds their logarithms. */
static void trend_fit(const double *logc, cmee_analysis *a)
{
    double x[WINDOW];
    for (int k = 0; k < WINDOW; k++)
        x[k] = k;
    double c0, c1, cov00, cov01, cov11, sumsq;
    gsl_fit_linear(x, 1, logc, 1, WINDOW, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    double tss = gsl_stats_tss(logc, 1, WINDOW);
    a->slope_pct = 100.0 * expm1(c1);
    a->r2 = tss > 0 ? fmax(0.0, 1.0 - sumsq / tss) : 0.0;

    double r[WINDOW - 1];
    for (int k = 1; k < WINDOW; k++)
        r[k - 1] = logc[k] - logc[k - 1];
    double mean = gsl_stats_mean(r, 1, WINDOW - 1);
    double sd = gsl_stats_sd_m(r, 1, WINDOW - 1, mean);
    /* |t| > 2 written without dividing, so sd == 0 (a perfect trend) needs no special case. */
    bool significant = fabs(mean) * sqrt(WINDOW - 1.0) > 2.0 * sd;
    a->trend = significant && sgn(mean) == sgn(c1) ? sgn(mean) : 0;

    double adx_part = fmin(1.0, a->adx / 50.0);
    int di = sgn(a->plus_di - a->minus_di);
    if (a->trend == 0)
        a->trend_strength = 0.0;
    else if (di == a->trend)
        a->trend_strength = adx_part;
    else
        a->trend_strength = adx_part * a->r2;
}

/* Realised volatility of the last window and its rank among all windows. ret has n - 1 log
 * returns. Every window's deviation is computed the same way, so the last one ties itself. */
static void volatility(const double *ret, size_t nret, double bars_per_year, cmee_analysis *a)
{
    size_t nwin = nret - WINDOW + 1;
    double last = gsl_stats_sd(ret + nwin - 1, 1, WINDOW);
    size_t below = 0;
    for (size_t w = 0; w < nwin; w++)
        below += gsl_stats_sd(ret + w, 1, WINDOW) <= last;
    a->realized_vol = last * sqrt(bars_per_year);
    a->vol_percentile = 100.0 * (double)below / (double)nwin;
}

static void pivots(const cmee_candle *prev, cmee_analysis *a)
{
    double h = prev->high, l = prev->low, c = prev->close, range = h - l;
    double p = (h + l + c) / 3.0;
    a->pivot = p;
    a->r1 = 2.0 * p - l;
    a->s1 = 2.0 * p - h;
    a->r2_level = p + range;
    a->s2 = p - range;
    a->r3 = h + 2.0 * (p - l);
    a->s3 = l - 2.0 * (h - p);
    a->fib_r1 = p + 0.382 * range;
    a->fib_r2 = p + 0.618 * range;
    a->fib_r3 = p + range;
    a->fib_s1 = p - 0.382 * range;
    a->fib_s2 = p - 0.618 * range;
    a->fib_s3 = p - range;
}

static void swings(const cmee_candle *c, size_t n, cmee_analysis *a)
{
    a->nswing_highs = a->nswing_lows = 0;
    for (int k = 0; k < NSWING; k++)
        a->swing_highs[k] = a->swing_lows[k] = CMEE__NAN;
    for (size_t j = n - 3; j >= 2; j--) {
        bool hi = true, lo = true;
        for (size_t k = j - 2; k <= j + 2; k++) {
            if (k == j)
                continue;
            hi = hi && c[j].high > c[k].high;
            lo = lo && c[j].low < c[k].low;
        }
        if (hi && a->nswing_highs < NSWING)
            a->swing_highs[a->nswing_highs++] = c[j].high;
        if (lo && a->nswing_lows < NSWING)
            a->swing_lows[a->nswing_lows++] = c[j].low;
        if (a->nswing_highs == NSWING && a->nswing_lows == NSWING)
            break;
    }
    double close = c[n - 1].close;
    a->support = a->resistance = CMEE__NAN;
    for (size_t k = 0; k < a->nswing_lows; k++)
        if (a->swing_lows[k] < close && !(a->swing_lows[k] <= a->support))
            a->support = a->swing_lows[k];
    for (size_t k = 0; k < a->nswing_highs; k++)
        if (a->swing_highs[k] > close && !(a->swing_highs[k] >= a->resistance))
            a->resistance = a->swing_highs[k];
}

cmee_status cmee_analyze(const cmee_candle *candles, size_t n, int64_t timeframe_ms,
                         cmee_analysis *out, cmee_error *err)
{
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    cmee_status st = check_input(candles, n, timeframe_ms, err);
    if (st != CMEE_OK)
        return st;

    /* One block: the five series columns, ADX's three outputs, ATR, then n scratch doubles
     * (time differences, later log returns). */
    double *mem = n <= SIZE_MAX / (10 * sizeof *mem) ? malloc(10 * n * sizeof *mem) : NULL;
    if (!mem)
        return cmee__ind_fail(err, CMEE_ENOMEM, "candles", "out of memory for %zu candles", n);
    double *adx[3] = {mem + 5 * n, mem + 6 * n, mem + 7 * n};
    double *atr[1] = {mem + 8 * n};
    double *scratch = mem + 9 * n;
    cmee_series s;
    cmee_analysis a;
    memset(&a, 0, sizeof a);
    st = cmee_series_from_candles(candles, n, mem, &s);
    if (st == CMEE_OK)
        st = cmee_ind_compute(CMEE_IND_ADX, NULL, &s, adx, err);
    if (st == CMEE_OK)
        st = cmee_ind_compute(CMEE_IND_ATR, NULL, &s, atr, err);
    if (st != CMEE_OK) {
        free(mem);
        return st;
    }

    double tf = (double)timeframe_ms;
    if (tf == 0) {
        /* Median bar spacing: robust to gaps (weekends, missing bars). Doubles cannot overflow
         * on extreme times; gsl_stats_median sorts its input in place. */
        for (size_t i = 1; i < n; i++)
            scratch[i - 1] = (double)candles[i].time - (double)candles[i - 1].time;
        tf = gsl_stats_median(scratch, 1, n - 1);
    }

    const cmee_candle *last = &candles[n - 1];
    a.n = n;
    a.time = last->time;
    a.close = last->close;
    a.adx = adx[0][n - 1];
    a.plus_di = adx[1][n - 1];
    a.minus_di = adx[2][n - 1];
    a.atr = atr[0][n - 1];
    a.atr_pct = a.atr / a.close * 100.0;

    /* Log closes of the last WINDOW bars in the ADX slot no longer needed, then returns. */
    double *logc = adx[0];
    for (size_t k = 0; k < WINDOW; k++)
        logc[k] = log(candles[n - WINDOW + k].close);
    trend_fit(logc, &a);
    for (size_t i = 1; i < n; i++)
        scratch[i - 1] = log(candles[i].close / candles[i - 1].close);
    volatility(scratch, n - 1, YEAR_MS / tf, &a);
    pivots(&candles[n - 2], &a);
    swings(candles, n, &a);
    free(mem);
    *out = a;
    return CMEE_OK;
}
