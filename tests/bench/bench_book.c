/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Microstructure costs (cmee/book.h): trades generated per second, books of depth 20 per second
 * (through a reader walking forward, and by random access), and a day of 1m candles with its
 * tape against the candles alone. Medians of REPS runs; prints figures, asserts nothing. */
#include <cmee.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

#define REPS 7
#define DAY INT64_C(86400000)

static volatile double sink;

static void die(cmee_market *m, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, cmee_market_errmsg(m));
    exit(1);
}

/* Trades of one day: trades per second of generation. */
static void bench_trades(cmee_market *m, const char *sym)
{
    size_t cap = 600 * 1440, n = 0;
    cmee_trade *buf = malloc(cap * sizeof *buf);
    double v[REPS];
    for (int r = 0; r < REPS; r++) {
        int64_t from = CMEE_ANCHOR_TIME + (int64_t)r * DAY;
        double t0 = bench_now();
        if (cmee_market_trades(m, sym, from, from + DAY, buf, cap, &n) != CMEE_OK)
            die(m, "trades");
        v[r] = (double)n / (bench_now() - t0);
        sink += buf[n / 2].price;
    }
    printf("trades %-8s %8zu a day   %6.2f M trades/s\n", sym, n, bench_median(v, REPS) / 1e6);
    free(buf);
}

/* Books of depth 20 at every second of a day through a reader (60 per minute, the minute's
 * ticks generated once), and the book alone (the same moment asked again). */
static void bench_books(cmee_market *m, const char *sym)
{
    double seq[REPS], same[REPS], rnd[REPS];
    cmee_book b;
    for (int r = 0; r < REPS; r++) {
        cmee_tape *tp;
        if (cmee_tape_new(m, sym, &tp) != CMEE_OK)
            die(m, "tape");
        int64_t from = CMEE_ANCHOR_TIME + (int64_t)r * DAY;
        double t0 = bench_now();
        for (int64_t t = from; t < from + DAY; t += 1000) {
            if (cmee_tape_book(tp, t, 20, &b) != CMEE_OK)
                die(m, "book");
            sink += b.bid;
        }
        seq[r] = (bench_now() - t0) / 86400.0;

        t0 = bench_now();
        for (int i = 0; i < 100000; i++) {
            if (cmee_tape_book(tp, from + 1500, 20, &b) != CMEE_OK)
                die(m, "book");
            sink += b.asks[19].size;
        }
        same[r] = (bench_now() - t0) / 100000.0;
        cmee_tape_free(tp);

        uint64_t x = 88172645463325252ULL + (uint64_t)r;
        t0 = bench_now();
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int64_t t = CMEE_TIME_MIN + (int64_t)(x % (uint64_t)(CMEE_TIME_MAX - CMEE_TIME_MIN));
            if (cmee_market_book(m, sym, t, 20, &b) != CMEE_OK)
                die(m, "book");
            sink += b.ask;
        }
        rnd[r] = (bench_now() - t0) / 2000.0;
    }
    double s = bench_median(seq, REPS), o = bench_median(same, REPS),
           a = bench_median(rnd, REPS);
    printf("book20 %-8s reader, every second: %6.3f us (%5.2f M books/s)   book alone: %6.3f us"
           "   random access: %6.2f us\n",
           sym, s * 1e6, 1e-6 / s, o * 1e6, a * 1e6);
}

/* A day of 1m candles, with and without the tape of every candle. */
static void bench_window(cmee_market *m, const char *sym)
{
    cmee_candle c[1440];
    size_t cap = 600 * 1440, n;
    cmee_trade *buf = malloc(cap * sizeof *buf);
    double plain[REPS], tape[REPS];
    for (int r = 0; r < REPS; r++) {
        int64_t from = CMEE_ANCHOR_TIME + (int64_t)(r + 20) * DAY;
        double t0 = bench_now();
        if (cmee_market_candles(m, sym, CMEE_TF_1M, from, from + DAY, c, 1440, &n) != CMEE_OK)
            die(m, "candles");
        plain[r] = bench_now() - t0;
        sink += c[n - 1].close;
        t0 = bench_now();
        if (cmee_market_candles(m, sym, CMEE_TF_1M, from, from + DAY, c, 1440, &n) != CMEE_OK ||
            cmee_market_trades(m, sym, from, from + DAY, buf, cap, &n) != CMEE_OK)
            die(m, "candles + trades");
        tape[r] = bench_now() - t0;
        sink += buf[n - 1].price;
    }
    double p = bench_median(plain, REPS), t = bench_median(tape, REPS);
    printf("window %-8s a day of 1m candles: %7.3f ms   with the tape: %7.3f ms   (%.1fx)\n",
           sym, p * 1e3, t * 1e3, t / p);
    free(buf);
}

int main(void)
{
    cmee_market *m;
    if (cmee_market_new(42, NULL, &m) != CMEE_OK)
        return 1;
    const char *syms[] = {"BTCUSD", "EURUSD", "AAPL"};
    for (int i = 0; i < 3; i++)
        bench_trades(m, syms[i]);
    for (int i = 0; i < 3; i++)
        bench_books(m, syms[i]);
    for (int i = 0; i < 3; i++)
        bench_window(m, syms[i]);
    printf("target: a 20-level book in under 2 us\n");
    cmee_market_free(m);
    return sink == 42.0;
}
