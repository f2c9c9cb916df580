/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Generator benchmark. Prints, from one run:
 *   - raw normal variates per second of the RNG the generator uses (GSL ziggurat on Philox),
 *   - 1m candles generated per second on one core,
 *   - their ratio: how many normals' worth of time one 1m candle costs,
 *   - the time to fetch 500 1h candles five years after the series starts,
 *   - the same far from the anchor (2090) to show the cost does not grow with distance.
 * Every figure is the median of several repetitions. Nothing is asserted: machines are noisy.
 * Usage: bench_market [repetitions]   (default 15)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "market/rng.h"
#include <cmee.h>

#include "bench_util.h"

#define DAY INT64_C(86400000)

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 15;
    if (reps < 3 || reps > 1000)
        reps = 15;
    double *t = malloc(sizeof(double) * (size_t)reps);
    if (!t)
        return 1;

    /* 1. Raw normals. */
    gsl_rng *r = gsl_rng_alloc(cmee__philox_type());
    const int nn = 20000000;
    volatile double sink = 0;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now(), acc = 0;
        for (int k = 0; k < nn; k++)
            acc += gsl_ran_gaussian_ziggurat(r, 1.0);
        t[i] = bench_now() - t0;
        sink += acc;
    }
    double normals_per_s = nn / bench_median(t, reps);
    gsl_rng_free(r);

    /* 2. 1m candles: 10 days at a time, each repetition a different window. */
    cmee_market *m;
    if (cmee_market_new(42, NULL, &m) != CMEE_OK)
        return 1;
    const size_t n1m = 10 * 1440;
    cmee_candle *buf = malloc(n1m * sizeof *buf);
    if (!buf)
        return 1;
    for (int i = 0; i < reps; i++) {
        int64_t from = CMEE_ANCHOR_TIME + (int64_t)i * 10 * DAY;
        size_t got;
        double t0 = bench_now();
        if (cmee_market_candles(m, "BTCUSD", CMEE_TF_1M, from, from + 10 * DAY, buf, n1m, &got))
            return 1;
        t[i] = bench_now() - t0;
    }
    double candles_per_s = (double)n1m / bench_median(t, reps);

    /* 3. 500 1h candles five years after the series starts (2005-01-01), cold each time: the
     *    library keeps no cache, and each repetition asks for a different window. */
    int reps3 = reps * 10;
    double *t3 = malloc(sizeof(double) * (size_t)reps3);
    double *t4 = malloc(sizeof(double) * (size_t)reps3);
    if (!t3 || !t4)
        return 1;
    int64_t five_years = CMEE_TIME_MIN + INT64_C(1827) * DAY;
    int64_t far = INT64_C(3786825600000); /* 2090-01-01 */
    for (int i = 0; i < reps3; i++) {
        size_t got;
        double t0 = bench_now();
        if (cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, five_years + (int64_t)i * 3 * DAY,
                                     500, buf, n1m, &got))
            return 1;
        t3[i] = bench_now() - t0;
        t0 = bench_now();
        if (cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, far + (int64_t)i * 3 * DAY, 500,
                                     buf, n1m, &got))
            return 1;
        t4[i] = bench_now() - t0;
    }
    double fetch_ms = bench_median(t3, reps3) * 1e3;
    double far_ms = bench_median(t4, reps3) * 1e3;

    printf("bench_market: medians of %d repetitions\n", reps);
    printf("raw normals (GSL ziggurat on Philox4x32-10): %.1f M/s\n", normals_per_s / 1e6);
    printf("1m candles, one core:                        %.2f M/s\n", candles_per_s / 1e6);
    printf("ratio normals/s : candles/s:                 %.2f (a 1m candle costs the time of "
           "%.2f normals)\n",
           normals_per_s / candles_per_s, normals_per_s / candles_per_s);
    printf("500 1h candles at 2005 (5 years in), cold:   %.3f ms (median of %d)\n", fetch_ms,
           reps3);
    printf("500 1h candles at 2090, cold:                %.3f ms (median of %d)\n", far_ms,
           reps3);
    free(buf);
    free(t);
    free(t3);
    free(t4);
    cmee_market_free(m);
    return sink == 12345.0; /* keep the normals loop from being optimised away */
}
