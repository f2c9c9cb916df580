/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Query semantics: ranges by open time, candles_last, the allocating variant, coverage of the
 * whole series, and the anchor. */
#include "cmee_test.h"

/* [from, to) selects candles by open time; unaligned bounds round inwards at the start. */
static void test_range_semantics(void **state)
{
    cmee_market *m = cmee_test_market(42);
    cmee_candle c[10];
    size_t n = 0;
    int64_t t = CMEE_ANCHOR_TIME;
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, t + 1, t + 3 * HOUR_MS + 1, c,
                                         10, &n),
                  CMEE_OK);
    assert_int_equal(n, 3); /* opens at t+1h, t+2h, t+3h */
    assert_int_equal(c[0].time, t + HOUR_MS);
    assert_int_equal(c[2].time, t + 3 * HOUR_MS);
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, t, t + 1, c, 10, &n), CMEE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].time, t);
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, t + 1, t + 2, c, 10, &n),
                  CMEE_OK);
    assert_int_equal(n, 0); /* no candle opens in (t, t+2ms) */
    cmee_market_free(m);
}

/* candles_last returns complete candles ending at or before end, never later data. */
static void test_last(void **state)
{
    cmee_market *m = cmee_test_market(42);
    cmee_candle a[24], b[24];
    size_t n;
    int64_t end = CMEE_ANCHOR_TIME + 5 * DAY_MS + 30 * MIN_MS; /* mid-hour */
    assert_status(m, cmee_market_candles_last(m, "ETHUSD", CMEE_TF_1H, end, 24, a, 24, &n),
                  CMEE_OK);
    assert_int_equal(n, 24);
    assert_int_equal(a[23].time, CMEE_ANCHOR_TIME + 5 * DAY_MS - HOUR_MS);
    assert_true(a[23].time + HOUR_MS <= end);
    assert_status(m, cmee_market_candles(m, "ETHUSD", CMEE_TF_1H, a[0].time,
                                         a[23].time + HOUR_MS, b, 24, &n),
                  CMEE_OK);
    assert_memory_equal(a, b, sizeof a);
    cmee_market_free(m);
}

/* The allocating variant equals the buffer variant; sizing with (NULL, 0) gives the count. */
static void test_alloc_and_sizing(void **state)
{
    cmee_market *m = cmee_test_market(1);
    int64_t from = CMEE_ANCHOR_TIME - 3 * DAY_MS, to = CMEE_ANCHOR_TIME + 2 * DAY_MS + 1;
    size_t need = 0;
    assert_status(m, cmee_market_candles(m, "EURUSD", CMEE_TF_15M, from, to, NULL, 0, &need),
                  CMEE_OK);
    assert_int_equal(need, 5 * 96 + 1);
    cmee_candle *p;
    size_t n;
    assert_status(m, cmee_market_candles_alloc(m, "EURUSD", CMEE_TF_15M, from, to, &p, &n),
                  CMEE_OK);
    assert_int_equal(n, need);
    cmee_candle buf[5 * 96 + 1];
    size_t got;
    assert_status(m, cmee_market_candles(m, "EURUSD", CMEE_TF_15M, from, to, buf, need, &got),
                  CMEE_OK);
    assert_memory_equal(p, buf, sizeof buf);
    cmee_market_release(m, p);
    cmee_market_free(m);
}

/* The series covers 2000 to beyond 2100 for every symbol, with sane prices throughout. */
static void test_coverage(void **state)
{
    cmee_market *m = cmee_test_market(42);
    const int64_t times[] = {CMEE_TIME_MIN + DAY_MS, INT64_C(1262304000000) /* 2010 */,
                             CMEE_ANCHOR_TIME, INT64_C(4102444800000) /* 2100 */,
                             INT64_C(4133980800000) /* 2101 */, CMEE_TIME_MAX};
    size_t nsym = cmee_market_symbol_count(m);
    for (size_t s = 0; s < nsym; s++) {
        cmee_symbol_spec spec;
        assert_status(m, cmee_market_symbol_at(m, s, &spec), CMEE_OK);
        for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
            cmee_candle c;
            size_t n;
            assert_status(m, cmee_market_candles_last(m, spec.symbol, CMEE_TF_1D, times[i], 1,
                                                      &c, 1, &n),
                          CMEE_OK);
            assert_true(c.low > 0 && c.high >= c.low);
        }
    }
    cmee_market_free(m);
}

/* The anchor: every symbol's 1m candle at CMEE_ANCHOR_TIME opens at its seed price, and a day
 * later the price has moved by a plausible amount for its volatility. */
static void test_anchor(void **state)
{
    cmee_market *m = cmee_test_market(99);
    size_t nsym = cmee_market_symbol_count(m);
    for (size_t s = 0; s < nsym; s++) {
        cmee_symbol_spec spec;
        assert_status(m, cmee_market_symbol_at(m, s, &spec), CMEE_OK);
        cmee_candle c;
        size_t n;
        assert_status(m, cmee_market_candles(m, spec.symbol, CMEE_TF_1M, CMEE_ANCHOR_TIME,
                                             CMEE_ANCHOR_TIME + MIN_MS, &c, 1, &n),
                      CMEE_OK);
        assert_true(c.open == spec.seed_price);
        assert_status(m, cmee_market_candles(m, spec.symbol, CMEE_TF_1D, CMEE_ANCHOR_TIME,
                                             CMEE_ANCHOR_TIME + DAY_MS, &c, 1, &n),
                      CMEE_OK);
        double daily_sd = spec.volatility / sqrt(365.25);
        assert_true(fabs(log(c.close / c.open)) < 6 * daily_sd);
    }
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_semantics),  cmocka_unit_test(test_last),
        cmocka_unit_test(test_alloc_and_sizing), cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_anchor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
