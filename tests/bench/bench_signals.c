/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Indicator benchmark: ns per bar for every indicator on 1,000,000 bars, batch (median of runs)
 * and streaming (median of runs), with the reference figures for TA-Lib and Tulip
 * Indicators measured on this machine class. Nothing is asserted: machines are noisy.
 * Usage: bench_signals [repetitions [indicator]]   (default 7, every indicator)
 */
#include <math.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmee.h>

#include "bench_util.h"

#define N 1000000

/* TA-Lib / Tulip ns per bar from the issue, where given. */
static const struct {
    const char *name;
    double talib, tulip;
} ref[] = {{"sma", 1.2, 1.2},    {"ema", 2.4, 2.4},   {"rsi", 6.9, 6.4},
           {"macd", 57.8, 3.0},  {"bbands", 5.9, 2.7}, {"atr", 6.7, 2.5},
           {"stoch", 12.3, 13.3}, {"adx", 10.8, 8.9},  {"cci", 22.8, 9.9}};

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > 100)
        reps = 7;
    cmee_market *m;
    if (cmee_market_new(42, NULL, &m) != CMEE_OK)
        return 1;
    cmee_candle *c;
    size_t n;
    if (cmee_market_candles_alloc(m, "BTCUSD", CMEE_TF_1M, CMEE_ANCHOR_TIME,
                                  CMEE_ANCHOR_TIME + (int64_t)N * 60000, &c, &n) != CMEE_OK)
        return 1;
    double *buf = malloc(5 * N * sizeof *buf);
    double *o = malloc(3 * N * sizeof *o);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!buf || !o || !t)
        return 1;
    cmee_series s;
    cmee_series_from_candles(c, N, buf, &s);
    double *out[3] = {o, o + N, o + 2 * N};
    volatile double sink = 0;

    printf("bench_signals: ns per bar on %d bars of BTCUSD 1m, default parameters, median of %d\n",
           N, reps);
    printf("%-9s %9s %9s %7s   %s\n", "indicator", "batch", "stream", "ratio",
           "reference TA-Lib / Tulip");
    const char *only = argc > 2 ? argv[2] : NULL;
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        if (only && strcmp(only, info->name) != 0)
            continue;
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now();
            if (cmee_ind_compute((cmee_ind_id)id, NULL, &s, out, NULL) != CMEE_OK)
                return 1;
            t[r] = bench_now() - t0;
            sink += o[N - 1];
        }
        double batch = bench_median(t, reps) / N * 1e9;
        /* As many runs as batch: with three, one noisy run on a shared machine moved the
         * median by tens of percent. */
        int sreps = reps;
        for (int r = 0; r < sreps; r++) {
            cmee_ind_stream *st;
            if (cmee_ind_stream_new((cmee_ind_id)id, NULL, NULL, &st, NULL) != CMEE_OK)
                return 1;
            double v[3];
            double t0 = bench_now();
            for (size_t i = 0; i < N; i++)
                cmee_ind_stream_update(st, &c[i], v);
            t[r] = bench_now() - t0;
            sink += v[0];
            cmee_ind_stream_free(st);
        }
        double stream = bench_median(t, sreps) / N * 1e9;
        char refs[40] = "";
        for (size_t k = 0; k < sizeof ref / sizeof ref[0]; k++)
            if (strcmp(ref[k].name, info->name) == 0)
                snprintf(refs, sizeof refs, "%.1f / %.1f", ref[k].talib, ref[k].tulip);
        printf("%-9s %9.2f %9.2f %6.2fx   %s\n", info->name, batch, stream, stream / batch, refs);
    }
    free(buf);
    free(o);
    free(t);
    cmee_market_release(m, c);
    cmee_market_free(m);
    return sink == 12345.0;
}
