/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee_evaluate(): a random walk honestly scores about 50 % (its Wilson interval contains
 * one half), a trend rule on a strongly drifting market does clearly better, the counts and
 * the formulas hold on a series whose trades are counted by hand, trades never overlap, the
 * replay is deterministic, and bad settings are refused. */
#include <stdlib.h>

#include "cmee_test.h"

#define Z95 1.959963984540054

static cmee_candle *walk, *drift;
static size_t nwalk, ndrift;

/* Candles of a custom GBM symbol with a tiny tick (no rounding ties), oldest first. */
static cmee_candle *gbm(uint64_t seed, double vol, double mu, cmee_timeframe tf, int64_t end,
                        size_t n)
{
    cmee_market *m = cmee_test_market(seed);
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "GBM");
    s.tick_size = 1e-8;
    s.precision = 8;
    s.volatility = vol;
    s.drift = mu;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    cmee_candle *c = malloc(n * sizeof *c);
    assert_non_null(c);
    size_t got;
    assert_status(m, cmee_market_candles_last(m, "GBM", tf, end, n, c, n, &got), CMEE_OK);
    assert_int_equal(got, n);
    cmee_market_free(m);
    return c;
}

static int setup(void **state)
{
    (void)state;
    nwalk = 20000;
    walk = gbm(42, 0.5, 0.0, CMEE_TF_1H, CMEE_ANCHOR_TIME, nwalk);
    ndrift = 1000;
    drift = gbm(42, 0.1, 2.0, CMEE_TF_1D, CMEE_ANCHOR_TIME + 1000 * DAY_MS, ndrift);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(walk);
    free(drift);
    return 0;
}

static cmee_eval_result evaluate(const cmee_candle *c, size_t n, const cmee_eval_config *cfg)
{
    cmee_eval_result r;
    cmee_error err = {0};
    cmee_status st = cmee_evaluate(c, n, cfg, &r, &err);
    if (st != CMEE_OK)
        print_error("cmee_evaluate: %s (%s)\n", cmee_status_name(st), err.text);
    assert_int_equal(st, CMEE_OK);
    return r;
}

/* The invariants of any result, with the formulas recomputed independently. */
static void check_result(const cmee_eval_result *r, double payout)
{
    assert_int_equal(r->wins + r->losses + r->ties, r->trades);
    assert_int_equal(r->calls + r->puts, r->trades);
    assert_rel_near(r->breakeven, 1.0 / (1.0 + payout), 1e-15);
    size_t m = r->wins + r->losses;
    if (m == 0) {
        assert_true(isnan(r->hit_rate) && isnan(r->ci_low) && isnan(r->ci_high));
    } else {
        double p = (double)r->wins / (double)m, z2 = Z95 * Z95, nn = (double)m;
        double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
        double half = Z95 / (1 + z2 / nn) * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
        assert_true(r->hit_rate == p);
        assert_near(r->ci_low, centre - half, 1e-12);
        assert_near(r->ci_high, centre + half, 1e-12);
        assert_true(r->ci_low <= p && p <= r->ci_high);
    }
    if (r->trades == 0)
        assert_true(isnan(r->expectancy));
    else
        assert_near(r->expectancy,
                    ((double)r->wins * payout - (double)r->losses) / (double)r->trades, 1e-12);
}

static void print_result(const char *what, const cmee_eval_result *r)
{
    print_message("%s: %zu trades (%zu calls, %zu puts), %zu-%zu-%zu, hit %.4f [%.4f, %.4f], "
                  "expectancy %.4f\n",
                  what, r->trades, r->calls, r->puts, r->wins, r->losses, r->ties, r->hit_rate,
                  r->ci_low, r->ci_high, r->expectancy);
}

static void test_config_init(void **state)
{
    (void)state;
    cmee_eval_config cfg;
    memset(&cfg, 0xff, sizeof cfg);
    cmee_eval_config_init(&cfg);
    cmee_signal_config sc;
    cmee_binary_config bc;
    cmee_signal_config_init(&sc);
    cmee_binary_config_init(&bc);
    /* Field by field: padding bytes may differ. */
    for (int k = 0; k < CMEE_RULE_COUNT; k++)
        assert_true(cfg.signal.weight[k] == sc.weight[k]);
#define SAME(f) assert_true(cfg.signal.f == sc.f)
    SAME(rsi_period);
    SAME(rsi_overbought);
    SAME(rsi_oversold);
    SAME(macd_fast);
    SAME(macd_slow);
    SAME(macd_signal);
    SAME(ma_fast);
    SAME(ma_slow);
    SAME(bb_period);
    SAME(bb_k);
    SAME(squeeze_quantile);
    SAME(stoch_k);
    SAME(stoch_slowk);
    SAME(stoch_slowd);
    SAME(stoch_overbought);
    SAME(stoch_oversold);
    SAME(adx_period);
    SAME(adx_trend);
    SAME(cross_bars);
    SAME(threshold);
#undef SAME
    assert_true(cfg.binary.min_strength == bc.min_strength);
    assert_int_equal(cfg.binary.expiry_bars, bc.expiry_bars);
    assert_int_equal(cfg.binary.expiry_ms, bc.expiry_ms);
    assert_true(cfg.payout == 0.8);
    assert_int_equal(cfg.warmup, 50);
    cmee_eval_config_init(NULL);
}

/* The driftless walk with the default rules: about 50 %, honestly. */
static void test_random_walk(void **state)
{
    (void)state;
    cmee_eval_result r = evaluate(walk, nwalk, NULL);
    print_result("random walk, defaults", &r);
    check_result(&r, 0.8);
    assert_true(r.trades >= 200);
    assert_true(r.ci_low < 0.5 && 0.5 < r.ci_high);
    /* Paying 0.8 for a coin flip loses about 10 % of the stake per trade. */
    assert_true(r.expectancy < 0);
    assert_rel_near(r.breakeven, 1 / 1.8, 1e-15);
    /* NULL and the defaults are the same thing. */
    cmee_eval_config cfg;
    cmee_eval_config_init(&cfg);
    cmee_eval_result r2 = evaluate(walk, nwalk, &cfg);
    assert_memory_equal(&r, &r2, sizeof r);
}

/* Other seeds: each interval contains one half with probability about 0.95, so nearly all of
 * ten do (8 or more: 99 %), and the pooled hit rate is within its own interval of one half. */
static void test_random_walk_seeds(void **state)
{
    (void)state;
    enum { SEEDS = 10, M = 5000 };
    size_t cover = 0, wins = 0, decided = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        cmee_candle *c = gbm(seed, 0.5, 0.0, CMEE_TF_1H, CMEE_ANCHOR_TIME, M);
        cmee_eval_result r = evaluate(c, M, NULL);
        free(c);
        check_result(&r, 0.8);
        cover += r.ci_low < 0.5 && 0.5 < r.ci_high;
        wins += r.wins;
        decided += r.wins + r.losses;
    }
    double p = (double)wins / (double)decided;
    double se = sqrt(0.25 / (double)decided);
    print_message("%d seeds: %zu intervals contain 0.5; pooled %zu of %zu = %.4f\n", SEEDS, cover,
                  wins, decided, p);
    assert_true(cover >= 8);
    assert_true(decided >= 1000);
    assert_true(fabs(p - 0.5) < Z95 * se);
}

/* Only the trend-following rules (EMA cross and ADX) vote. */
static cmee_eval_config trend_config(void)
{
    cmee_eval_config cfg;
    cmee_eval_config_init(&cfg);
    for (int k = 0; k < CMEE_RULE_COUNT; k++)
        cfg.signal.weight[k] = 0;
    cfg.signal.weight[CMEE_RULE_MA_CROSS] = 1;
    cfg.signal.weight[CMEE_RULE_ADX] = 1;
    return cfg;
}

/* A drift of +200 % a year against 10 % volatility: following the trend must do clearly
 * better than a coin flip, and better than the same rules on the driftless walk. */
static void test_drift(void **state)
{
    (void)state;
    cmee_eval_config cfg = trend_config();
    cmee_eval_result d = evaluate(drift, ndrift, &cfg);
    cmee_eval_result w = evaluate(walk, nwalk, &cfg);
    print_result("drift, trend rules", &d);
    print_result("random walk, trend rules", &w);
    check_result(&d, cfg.payout);
    check_result(&w, cfg.payout);
    assert_true(d.trades >= 30);
    assert_true(d.calls > d.puts);
    assert_true(d.ci_low > 0.5);
    assert_true(d.hit_rate > w.hit_rate);
    assert_true(d.expectancy > 0);
    assert_true(w.ci_low < 0.5 && 0.5 < w.ci_high);
}

/*
 * A series counted by hand. Highs and lows rise by 1 every bar, so -DM is always 0, DX is
 * 100 and ADX is 100 from its first value (bar 27): with only the ADX rule voting, the signal
 * is a CALL at every bar from there on. The outcome depends on closes alone, which are free
 * within the wide ranges: with warmup 30 and expiry 5 the options open at bars 30, 35, ...,
 * 55 and settle 5 bars later.
 */
static void test_hand_counted(void **state)
{
    (void)state;
    enum { M = 61 };
    static const double settle[7] = {100, 101, 100.5, 100.5, 102, 103, 99};
    cmee_candle c[M];
    for (size_t i = 0; i < M; i++) {
        double close = i % 5 == 0 && i >= 30 ? settle[(i - 30) / 5] : 100 + 0.1 * (double)(i % 3);
        c[i] = (cmee_candle){(int64_t)i * HOUR_MS, 100, 200 + (double)i, 10 + (double)i, close, 1};
    }
    cmee_eval_config cfg;
    cmee_eval_config_init(&cfg);
    for (int k = 0; k < CMEE_RULE_COUNT; k++)
        cfg.signal.weight[k] = 0;
    cfg.signal.weight[CMEE_RULE_ADX] = 1;
    /* Whatever the ADX rule's scaling, a clear vote is enough. */
    cfg.signal.threshold = 0.01;
    cfg.binary.min_strength = 0.01;
    cfg.warmup = 30;
    cmee_eval_result r = evaluate(c, M, &cfg);
    print_result("hand-counted", &r);
    check_result(&r, 0.8);
    /* 100 -> 101 win, -> 100.5 loss, -> 100.5 tie, -> 102 win, -> 103 win, -> 99 loss. */
    assert_int_equal(r.trades, 6);
    assert_int_equal(r.calls, 6);
    assert_int_equal(r.puts, 0);
    assert_int_equal(r.wins, 3);
    assert_int_equal(r.losses, 2);
    assert_int_equal(r.ties, 1);
    assert_near(r.hit_rate, 0.6, 1e-15);
    assert_near(r.expectancy, (3 * 0.8 - 2) / 6.0, 1e-15);
    assert_near(r.breakeven, 1 / 1.8, 1e-15);
    /* Wilson for 3 of 5 (worked out by hand): 0.2307 to 0.8824. */
    assert_near(r.ci_low, 0.23072, 1e-4);
    assert_near(r.ci_high, 0.88236, 1e-4);

    /* A payout of 1.5 changes only expectancy and breakeven. */
    cfg.payout = 1.5;
    cmee_eval_result r2 = evaluate(c, M, &cfg);
    check_result(&r2, 1.5);
    assert_near(r2.expectancy, (3 * 1.5 - 2) / 6.0, 1e-15);
    assert_near(r2.breakeven, 0.4, 1e-15);

    /* One bar fewer: the option opened at 55 cannot settle, so it is never taken. */
    cfg.payout = 0.8;
    r = evaluate(c, M - 1, &cfg);
    assert_int_equal(r.trades, 5);
    assert_int_equal(r.ties, 1);
    /* Expiry 1 from bar 30: a CALL at every bar 30..59, each settling on the next close. */
    cfg.binary.expiry_bars = 1;
    r = evaluate(c, M, &cfg);
    check_result(&r, 0.8);
    assert_int_equal(r.trades, M - 1 - 30);
    /* Only the squeeze rule, which never votes: valid, no trades. */
    cfg.signal.weight[CMEE_RULE_ADX] = 0;
    cfg.signal.weight[CMEE_RULE_SQUEEZE] = 1;
    r = evaluate(c, M, &cfg);
    check_result(&r, 0.8);
    assert_int_equal(r.trades, 0);
}

/* Options never overlap: with expiry 10 at most one per 10 bars after the warmup. */
static void test_no_overlap(void **state)
{
    (void)state;
    cmee_eval_config cfg;
    cmee_eval_config_init(&cfg);
    cfg.binary.expiry_bars = 10;
    cfg.binary.min_strength = 0;
    cfg.signal.threshold = 1e-9;
    size_t n = 5000;
    cmee_eval_result r = evaluate(walk, n, &cfg);
    print_result("expiry 10, always trade", &r);
    check_result(&r, cfg.payout);
    assert_true(r.trades <= (n - cfg.warmup) / 10);
    assert_true(r.trades >= (n - cfg.warmup) / 10 / 2);
}

/* The same inputs give the same result, bit for bit. */
static void test_deterministic(void **state)
{
    (void)state;
    cmee_eval_config cfg = trend_config();
    cmee_eval_result a = evaluate(walk, 6000, &cfg);
    cmee_eval_result b = evaluate(walk, 6000, &cfg);
    assert_memory_equal(&a, &b, sizeof a);
}

/* Too short for any trade: valid, zero trades, NaN rates. */
static void test_short(void **state)
{
    (void)state;
    cmee_eval_config cfg;
    cmee_eval_config_init(&cfg);
    size_t lens[] = {0, 1, 2, 50, 55};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        cmee_eval_result r = evaluate(walk, lens[k], &cfg);
        assert_int_equal(r.trades, 0);
        check_result(&r, 0.8);
    }
}

static void expect_error(const cmee_candle *c, size_t n, const cmee_eval_config *cfg,
                         const char *field)
{
    cmee_eval_result r;
    memset(&r, 0x5a, sizeof r);
    cmee_eval_result before = r;
    cmee_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(cmee_evaluate(c, n, cfg, &r, &err), CMEE_EINVAL);
    assert_int_equal(err.status, CMEE_EINVAL);
    if (field) {
        assert_string_equal(err.field, field);
        assert_int_equal(strncmp(err.text, field, strlen(field)), 0);
    } else {
        assert_true(err.field[0] != '\0');
    }
    assert_memory_equal(&r, &before, sizeof r);
}

static void test_errors(void **state)
{
    (void)state;
    cmee_eval_config cfg;
    double bad_payout[] = {0, -0.5, NAN, INFINITY};
    for (size_t k = 0; k < 4; k++) {
        cmee_eval_config_init(&cfg);
        cfg.payout = bad_payout[k];
        expect_error(walk, 500, &cfg, "payout");
        expect_error(walk, 0, &cfg, "payout");
    }
    cmee_eval_config_init(&cfg);
    cfg.binary.expiry_bars = 0;
    expect_error(walk, 500, &cfg, "binary.expiry_bars");
    cfg.binary.expiry_bars = -3;
    expect_error(walk, 500, &cfg, "binary.expiry_bars");
    /* The signal settings are judged by the signal context, even with no trade possible. */
    cmee_eval_config_init(&cfg);
    cfg.signal.rsi_period = 0;
    expect_error(walk, 500, &cfg, NULL);
    expect_error(walk, 10, &cfg, NULL);
    expect_error(walk, 0, &cfg, NULL);
    cmee_eval_config_init(&cfg);
    cfg.binary.min_strength = NAN;
    expect_error(walk, 500, &cfg, "binary.min_strength");
    cfg.binary.min_strength = 1.5;
    expect_error(walk, 0, &cfg, "binary.min_strength");
    /* expiry_ms is not used, so it is not judged either. */
    cmee_eval_config_init(&cfg);
    cfg.binary.expiry_ms = -5;
    cmee_eval_result ok = evaluate(walk, 500, &cfg);
    check_result(&ok, 0.8);
    /* Non-finite candles. */
    cmee_candle c[100];
    memcpy(c, walk, sizeof c);
    c[42].close = NAN;
    expect_error(c, 100, NULL, NULL);
    /* NULL arguments. */
    cmee_eval_result r;
    expect_error(NULL, 100, NULL, "candles");
    assert_int_equal(cmee_evaluate(walk, 100, NULL, NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_evaluate(NULL, 100, NULL, &r, NULL), CMEE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_init),
        cmocka_unit_test(test_random_walk),
        cmocka_unit_test(test_random_walk_seeds),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_hand_counted),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_short),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
