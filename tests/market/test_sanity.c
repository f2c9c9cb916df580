/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Contract 5 over more than 1,000,000 candles: low <= min(open, close) <= max(open, close) <=
 * high, prices > 0 and on the tick grid, open equals the previous close, whole volumes. */
#include <stdlib.h>

#include "cmee_test.h"

static size_t checked;

static void check_series(cmee_market *m, const char *sym, cmee_timeframe tf, int64_t from,
                         int64_t to)
{
    cmee_symbol_spec spec;
    assert_status(m, cmee_market_symbol(m, sym, &spec), CMEE_OK);
    double scale = pow(10.0, spec.precision);
    double tick = spec.tick_size * scale;
    cmee_candle *c;
    size_t n;
    assert_status(m, cmee_market_candles_alloc(m, sym, tf, from, to, &c, &n), CMEE_OK);
    for (size_t i = 0; i < n; i++) {
        const cmee_candle *k = &c[i];
        double lo = fmin(k->open, k->close), hi = fmax(k->open, k->close);
        if (!(k->low > 0 && k->low <= lo && hi <= k->high && isfinite(k->high)))
            fail_msg("%s %s candle %lld: o=%.17g h=%.17g l=%.17g c=%.17g", sym,
                     cmee_timeframe_name(tf), (long long)k->time, k->open, k->high, k->low,
                     k->close);
        if (i > 0 && k->open != c[i - 1].close)
            fail_msg("%s candle %lld opens at %.17g, previous closed at %.17g", sym,
                     (long long)k->time, k->open, c[i - 1].close);
        if (i > 0 && k->time != c[i - 1].time + cmee_timeframe_ms(tf))
            fail_msg("%s candle %lld does not follow %lld", sym, (long long)k->time,
                     (long long)c[i - 1].time);
        if (!(k->volume >= 0 && k->volume == floor(k->volume)))
            fail_msg("%s candle %lld volume %.17g", sym, (long long)k->time, k->volume);
        /* On the grid: price * 10^precision is a whole multiple of the tick in those units. */
        double prices[4] = {k->open, k->high, k->low, k->close};
        for (int p = 0; p < 4; p++) {
            double units = prices[p] * scale / tick;
            if (fabs(units - round(units)) > 1e-6)
                fail_msg("%s price %.17g is off the %.17g grid", sym, prices[p], spec.tick_size);
        }
    }
    checked += n;
    cmee_market_release(m, c);
}

/* 1.2 M 1m candles across symbol classes and models, plus every coarser timeframe. */
static void test_million(void **state)
{
    cmee_market *m = cmee_test_market(2024);
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "WILD");
    s.seed_price = 5.0;
    s.tick_size = 0.001;
    s.precision = 3;
    s.volatility = 2.5; /* extreme, to push prices towards the one-tick floor */
    s.drift = -1.0;
    s.tail_dof = 2.5;
    s.clustering = 2.0;
    s.jump_rate = 1000;
    s.jump_mean = -0.05;
    s.jump_stdev = 0.2;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    const char *syms[] = {"BTCUSD", "EURUSD", "USDJPY", "XAGUSD", "GER40", "TSLA", "WILD"};
    checked = 0;
    /* Fewer days of each at a CMEE_TEST_SCALE below 1 (cmee_test.h). */
    int64_t d1m = (int64_t)cmee_test_scaled(120), d1h = (int64_t)cmee_test_scaled(2000);
    int64_t d1d = (int64_t)cmee_test_scaled(3650);
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        int64_t from = CMEE_TIME_MIN + (int64_t)(i * 5000) * DAY_MS;
        check_series(m, syms[i], CMEE_TF_1M, from, from + d1m * DAY_MS);
        check_series(m, syms[i], CMEE_TF_1H, from, from + d1h * DAY_MS);
        check_series(m, syms[i], CMEE_TF_1D, from, from + d1d * DAY_MS);
    }
    print_message("checked %zu candles\n", checked);
    assert_true(checked >= cmee_test_scaled(1000000));
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
