/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * C reference for tests/bench/bench_python.py: the same bulk calls the Python bindings make,
 * timed in C, so the Python/C ratio is measured on one machine in one run.
 *
 *  - candles: cmee_market_candles_last() for COUNT BTCUSD 1m candles ending at END, into a
 *    fresh malloc'd buffer each run (a Python caller gets a new buffer per call too);
 *  - rsi:     cmee_ind_compute(RSI, period 14) over the COUNT closes, into a fresh output array
 *    each run ("rsi") and into one reused array ("rsi_prealloc", the pure computation).
 *
 * Prints one "key value" line per figure (milliseconds, medians of RUNS runs), for
 * bench_python.py to parse. Nothing is asserted: machines are noisy.
 *
 * Usage: bench_ffi_ref [RUNS [COUNT [END_MS]]]
 *        defaults: 7 runs, 1,000,000 candles, END = CMEE_ANCHOR_TIME + COUNT minutes
 */
#include <stdio.h>
#include <stdlib.h>

#include <cmee.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > 1000)
        runs = 7;
    size_t count = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 1000000;
    if (count < 1 || count > CMEE_MARKET_MAX_QUERY)
        count = 1000000;
    int64_t end = argc > 3 ? (int64_t)strtoll(argv[3], NULL, 10)
                           : CMEE_ANCHOR_TIME + (int64_t)count * 60000;

    cmee_market *m;
    if (cmee_market_new(42, NULL, &m) != CMEE_OK)
        return 1;
    double *t = malloc((size_t)runs * sizeof *t);
    double *closes = malloc(count * sizeof *closes);
    double *pre = malloc(count * sizeof *pre);
    if (!t || !closes || !pre)
        return 1;
    volatile double sink = 0;

    /* Candles: buffer allocated, filled and released per run. */
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        cmee_candle *c = malloc(count * sizeof *c);
        size_t written;
        if (!c || cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1M, end, count, c, count,
                                           &written) != CMEE_OK || written != count) {
            fprintf(stderr, "bench_ffi_ref: candles: %s\n", cmee_market_errmsg(m));
            return 1;
        }
        t[r] = bench_now() - t0;
        for (size_t i = 0; i < count; i++)
            closes[i] = c[i].close;
        sink += c[count - 1].close;
        free(c);
    }
    double candles_ms = bench_median(t, runs) * 1e3;

    cmee_series s = {.close = closes, .n = count};
    double period = 14;
    cmee_error err;
    /* RSI into a fresh array per run. */
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        double *o = malloc(count * sizeof *o);
        if (!o || cmee_ind_compute(CMEE_IND_RSI, &period, &s, &o, &err) != CMEE_OK) {
            fprintf(stderr, "bench_ffi_ref: rsi: %s\n", o ? err.text : "out of memory");
            return 1;
        }
        t[r] = bench_now() - t0;
        sink += o[count - 1];
        free(o);
    }
    double rsi_ms = bench_median(t, runs) * 1e3;
    /* RSI into one reused array: the computation alone. */
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        if (cmee_ind_compute(CMEE_IND_RSI, &period, &s, &pre, &err) != CMEE_OK)
            return 1;
        t[r] = bench_now() - t0;
        sink += pre[count - 1];
    }
    double rsi_pre_ms = bench_median(t, runs) * 1e3;

    printf("runs %d\ncount %zu\nend %lld\n", runs, count, (long long)end);
    printf("candles %.3f\nrsi %.3f\nrsi_prealloc %.3f\n", candles_ms, rsi_ms, rsi_pre_ms);
    printf("last_close %.17g\n", closes[count - 1]);
    free(pre);
    free(closes);
    free(t);
    cmee_market_free(m);
    return sink == 12345.678 ? 2 : 0;
}
