/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What an active scenario costs: a window generated with a scenario acting on it versus the
 * same window of the plain generator (issue target: under 1.5x), a window deep inside a long
 * scenario (the query seeks from the scenario's start), a window after it ended, and the cost
 * of applying a scenario. Medians of interleaved repetitions; nothing is asserted.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cmee.h>

#include "bench_util.h"

#define REPS 21
#define HOUR INT64_C(3600000)
#define DAY (24 * HOUR)

static const int64_t T0 = INT64_C(1767225600000); /* 2026-01-01 */

static cmee_scenario *preset(const char *name)
{
    cmee_scenario *sc = NULL;
    cmee_error err;
    if (cmee_scenario_preset(name, NULL, &sc, &err) != CMEE_OK) {
        fprintf(stderr, "preset %s: %s\n", name, err.text);
        exit(1);
    }
    return sc;
}

/* Seconds for one query of @p n candles of @p tf starting at @p from. */
static double query(const cmee_market *m, cmee_timeframe tf, int64_t from, size_t n,
                    cmee_candle *buf)
{
    size_t got;
    double t = bench_now();
    cmee_status st = cmee_market_candles(m, "BTCUSD", tf, from,
                                         from + (int64_t)n * cmee_timeframe_ms(tf), buf, n, &got);
    t = bench_now() - t;
    if (st != CMEE_OK || got != n) {
        fprintf(stderr, "query: %s\n", cmee_market_errmsg(m));
        exit(1);
    }
    return t;
}

static void compare(const char *label, const cmee_market *plain, const cmee_market *scen,
                    cmee_timeframe tf, int64_t from, size_t n, cmee_candle *buf)
{
    double a[REPS], b[REPS];
    for (int r = 0; r < REPS; r++) { /* interleaved, so drift in machine load hits both */
        a[r] = query(plain, tf, from, n, buf);
        b[r] = query(scen, tf, from, n, buf);
    }
    double ma = bench_median(a, REPS), mb = bench_median(b, REPS);
    printf("%-52s plain %8.3f ms  scenario %8.3f ms  ratio %.2fx\n", label, ma * 1e3, mb * 1e3,
           mb / ma);
}

int main(void)
{
    static cmee_candle buf[20000];
    const char *names[] = {"crash", "flash_crash_recovery", "volatility_spike", "bull_trend",
                           "sideways_range"};
    printf("bench_scenario: BTCUSD, medians of %d interleaved repetitions\n", REPS);
    cmee_market *plain = NULL;
    cmee_market_new(42, NULL, &plain);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        cmee_scenario *sc = preset(names[i]);
        cmee_market *m = NULL;
        cmee_market_new(42, NULL, &m);
        double t = bench_now();
        cmee_scenario_apply(m, sc, T0, NULL);
        t = bench_now() - t;
        printf("\n%s: applied to all %zu symbols in %.3f ms (span %.1f days)\n", names[i],
               cmee_market_symbol_count(m), t * 1e3,
               (double)cmee_scenario_duration(sc) / (double)DAY);
        char label[96];
        snprintf(label, sizeof label, "  10000 1m from t0");
        compare(label, plain, m, CMEE_TF_1M, T0, 10000, buf);
        snprintf(label, sizeof label, "  500 1h from t0");
        compare(label, plain, m, CMEE_TF_1H, T0, 500, buf);
        snprintf(label, sizeof label, "  200 1m, 2 days into the scenario");
        compare(label, plain, m, CMEE_TF_1M, T0 + 2 * DAY, 200, buf);
        snprintf(label, sizeof label, "  200 1m, 10 days into the scenario (or after)");
        compare(label, plain, m, CMEE_TF_1M, T0 + 10 * DAY, 200, buf);
        snprintf(label, sizeof label, "  500 1h, 60 days after t0 (scenario over)");
        compare(label, plain, m, CMEE_TF_1H, T0 + 60 * DAY, 500, buf);
        cmee_market_free(m);
        cmee_scenario_free(sc);
    }
    cmee_market_free(plain);
    return 0;
}
