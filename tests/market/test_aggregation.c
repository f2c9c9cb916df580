/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Contract 2: a candle of any timeframe is exactly the aggregate of its finer candles, for every
 * pair of timeframes, over 35 days, with every model extension on and off. */
#include <stdlib.h>

#include "cmee_test.h"

static const cmee_timeframe tfs[] = {CMEE_TF_1M, CMEE_TF_5M, CMEE_TF_15M,
                                     CMEE_TF_1H, CMEE_TF_4H, CMEE_TF_1D};
#define NTF (sizeof tfs / sizeof tfs[0])
#define DAYS 35

static void aggregate_check(const cmee_candle *fine, size_t nfine, int ratio,
                            const cmee_candle *coarse, size_t ncoarse)
{
    assert_int_equal(nfine, ncoarse * (size_t)ratio);
    for (size_t j = 0; j < ncoarse; j++) {
        const cmee_candle *f = &fine[j * (size_t)ratio];
        cmee_candle agg = {f[0].time, f[0].open, f[0].high, f[0].low, f[ratio - 1].close, 0};
        for (int i = 0; i < ratio; i++) {
            if (f[i].high > agg.high)
                agg.high = f[i].high;
            if (f[i].low < agg.low)
                agg.low = f[i].low;
            agg.volume += f[i].volume;
        }
        assert_candle_equal(agg, coarse[j]);
    }
}

static void check_symbol(cmee_market *m, const char *sym, int64_t from)
{
    int64_t to = from + DAYS * DAY_MS;
    cmee_candle *c[NTF];
    size_t n[NTF];
    for (size_t i = 0; i < NTF; i++) {
        assert_status(m, cmee_market_candles_alloc(m, sym, tfs[i], from, to, &c[i], &n[i]),
                      CMEE_OK);
        assert_int_equal(n[i], (size_t)(DAYS * 1440 / (int)tfs[i]));
        /* UTC alignment: a 1h candle starts on the hour, 4h on 00/04/08..., 1d at 00:00. */
        for (size_t k = 0; k < n[i]; k++)
            assert_int_equal(c[i][k].time % cmee_timeframe_ms(tfs[i]), 0);
        assert_int_equal(c[i][0].time, from);
    }
    for (size_t a = 0; a < NTF; a++)
        for (size_t b = a + 1; b < NTF; b++)
            aggregate_check(c[a], n[a], (int)(tfs[b] / tfs[a]), c[b], n[b]);
    for (size_t i = 0; i < NTF; i++)
        cmee_market_release(m, c[i]);
}

/* Plain geometric random walk, several symbol classes, around the anchor. */
static void test_plain(void **state)
{
    cmee_market *m = cmee_test_market(42);
    const char *syms[] = {"BTCUSD", "EURUSD", "XAUUSD", "SPX500", "AAPL", "DOGEUSD"};
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        check_symbol(m, syms[i], CMEE_ANCHOR_TIME - 10 * DAY_MS);
    cmee_market_free(m);
}

/* Fat tails, clustering and jumps all on, far from the anchor and across a year boundary. */
static void test_all_models(void **state)
{
    cmee_market *m = cmee_test_market(7);
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "WILD");
    s.seed_price = 250.0;
    s.volatility = 1.2;
    s.drift = 0.3;
    s.tail_dof = 3.5;
    s.clustering = 1.5;
    s.jump_rate = 400; /* many jumps, so minutes with a jump are in the window */
    s.jump_mean = -0.01;
    s.jump_stdev = 0.03;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    check_symbol(m, "WILD", INT64_C(2524608000000) - 20 * DAY_MS); /* around 2050-01-01 */
    check_symbol(m, "WILD", CMEE_TIME_MIN);
    cmee_market_free(m);
}

/* Correlated symbols aggregate the same way. */
static void test_correlated(void **state)
{
    cmee_market *m = cmee_test_market(3);
    const char *g[] = {"BTCUSD", "ETHUSD", "SOLUSD"};
    const double rho[] = {1, 0.8, 0.6, 0.8, 1, 0.7, 0.6, 0.7, 1};
    assert_status(m, cmee_market_set_correlation(m, g, 3, rho), CMEE_OK);
    check_symbol(m, "SOLUSD", CMEE_ANCHOR_TIME + 100 * DAY_MS);
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_all_models),
        cmocka_unit_test(test_correlated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
