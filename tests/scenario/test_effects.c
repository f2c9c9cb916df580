/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What scenarios do to prices, checked statistically over many seeds. Tolerances come from the
 * sample size: a mean is checked to within 4.5 standard errors of its expectation. */
#include <stdlib.h>
#include <string.h>

#include "cmee_test.h"

#define SEEDS 400
#define SIGMA 0.55 /* BTCUSD's volatility */

/* 2026-02-10 13:00 plus 7 minutes. */
static const int64_t T0 = INT64_C(1770728400000) + 7 * MIN_MS;

static const char *const BTC[] = {"BTCUSD"};

static cmee_scenario *make(const cmee_regime *r, size_t nr, const cmee_event *e, size_t ne)
{
    cmee_scenario_spec spec = {.name = "effect", .symbols = BTC, .nsymbols = 1, .regimes = r,
                               .nregimes = nr, .events = e, .nevents = ne};
    cmee_scenario *sc = NULL;
    cmee_error err;
    if (cmee_scenario_new(&spec, NULL, NULL, &sc, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    return sc;
}

/* Log of the price at minute boundary t: the close of the 1m candle that ends there. */
static double log_at(const cmee_market *m, int64_t t)
{
    cmee_candle c;
    size_t n;
    assert_status(m, cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1M, t, 1, &c, 1, &n),
                  CMEE_OK);
    return log(c.close);
}

typedef struct stats {
    double sum, sum2;
    int n;
} stats;

static void add(stats *s, double x)
{
    s->sum += x;
    s->sum2 += x * x;
    s->n++;
}

static double mean(const stats *s)
{
    return s->sum / s->n;
}

static double var(const stats *s)
{
    double m = mean(s);
    return (s->sum2 - s->n * m * m) / (s->n - 1);
}

static void assert_mean(const stats *s, double want, const char *what)
{
    double se = sqrt(var(s) / s->n);
    double z = (mean(s) - want) / se;
    print_message("%s: mean %.5f, expected %.5f, se %.5f (z = %.2f)\n", what, mean(s), want, se,
                  z);
    assert_true(fabs(z) < 4.5);
}

/* Mean log move from a to b over SEEDS seeds, with the scenario applied at T0. */
static void log_moves(const cmee_scenario *sc, int64_t a, int64_t b, stats *out)
{
    memset(out, 0, sizeof *out);
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        cmee_market *m = cmee_test_market(seed);
        assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
        add(out, log_at(m, b) - log_at(m, a));
        cmee_market_free(m);
    }
}

/* Bull and bear trends move the expected log price by ln(1 + drift) over their span; extra
 * jumps add rate x span x mean. */
static void test_trends(void **state)
{
    (void)state;
    const double drifts[] = {0.25, -0.2};
    for (int i = 0; i < 2; i++) {
        cmee_regime r;
        cmee_regime_init(&r);
        r.start = HOUR_MS;
        r.end = HOUR_MS + 30 * DAY_MS;
        r.drift_mode = CMEE_DRIFT_SPAN;
        r.drift = drifts[i];
        cmee_scenario *sc = make(&r, 1, NULL, 0);
        stats s;
        log_moves(sc, T0 + HOUR_MS, T0 + HOUR_MS + 30 * DAY_MS, &s);
        assert_mean(&s, log1p(drifts[i]), i == 0 ? "bull: log move" : "bear: log move");
        /* The spread is the symbol's own: sigma sqrt(30 days). */
        double sd = sqrt(var(&s)), want = SIGMA * sqrt(30.0 / 365.25);
        assert_true(fabs(sd / want - 1.0) < 0.2);
        cmee_scenario_free(sc);
    }
    /* A crash regime: drift -25 % over 3 days plus 500 jumps a year of mean -3 %. */
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = 3 * DAY_MS;
    r.drift_mode = CMEE_DRIFT_SPAN;
    r.drift = -0.25;
    r.vol_mult = 2.5;
    r.jump_rate = 500;
    r.jump_mean = -0.03;
    r.jump_stdev = 0.02;
    cmee_scenario *sc = make(&r, 1, NULL, 0);
    stats s;
    log_moves(sc, T0, T0 + 3 * DAY_MS, &s);
    assert_mean(&s, log(0.75) + 500 * (3 / 365.25) * -0.03, "crash: log move");
    cmee_scenario_free(sc);
}

/* A shock moves the price by its percentage at its time (plus one minute of noise). */
static void test_shock(void **state)
{
    (void)state;
    cmee_event e;
    cmee_event_init(&e, CMEE_EVENT_SHOCK);
    e.at = 2 * HOUR_MS;
    e.size = -0.1;
    cmee_scenario *sc = make(NULL, 0, &e, 1);
    int64_t ts = T0 + 2 * HOUR_MS;
    stats s = {0};
    for (uint64_t seed = 1; seed <= SEEDS / 4; seed++) {
        cmee_market *m = cmee_test_market(seed);
        assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
        double move = log_at(m, ts + MIN_MS) - log_at(m, ts);
        assert_true(fabs(move - log(0.9)) < 0.01);
        add(&s, move);
        /* The shock minute's range covers the move. */
        cmee_candle c;
        size_t n;
        assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1M, ts, ts + MIN_MS, &c, 1, &n),
                      CMEE_OK);
        assert_true(c.high >= c.open && c.low <= c.close && c.close < 0.95 * c.open);
        cmee_market_free(m);
    }
    assert_mean(&s, log(0.9), "shock: log move");
    cmee_scenario_free(sc);
}

/* Realised variance of 1m log returns over [a, b) in market m. */
static double realised(const cmee_market *m, int64_t a, int64_t b)
{
    size_t n;
    cmee_candle *c = NULL;
    assert_status(m, cmee_market_candles_alloc(m, "BTCUSD", CMEE_TF_1M, a, b, &c, &n), CMEE_OK);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double r = log(c[i].close / c[i].open);
        sum += r * r;
    }
    cmee_market_release(m, c);
    return sum;
}

/* A volatility spike raises realised variance by about its multiplier squared, then decays; a
 * calm regime scales it by its multiplier squared. The ratio to the base path of the same seed
 * is checked against the mean of m(t)^2 over the window. */
static void test_volatility(void **state)
{
    (void)state;
    cmee_event e;
    cmee_event_init(&e, CMEE_EVENT_SPIKE);
    e.at = 0;
    e.size = 4;
    e.half_life = 2 * HOUR_MS;
    cmee_regime r;
    cmee_regime_init(&r);
    r.start = 3 * DAY_MS;
    r.end = 4 * DAY_MS;
    r.vol_mult = 0.5;
    cmee_scenario *sc = make(&r, 1, &e, 1);
    int64_t t0 = T0; /* on a minute boundary */
    struct {
        int64_t a, b;
        double want;
    } win[3] = {{0, 60, 0}, {720, 840, 0}, {3 * 1440, 4 * 1440, 0.25}};
    for (int w = 0; w < 2; w++) {
        double sum = 0;
        for (int64_t k = win[w].a; k < win[w].b; k++) {
            double mk = 1.0 + 3.0 * exp2(-(double)k / 120.0);
            sum += mk * mk;
        }
        win[w].want = sum / (double)(win[w].b - win[w].a);
    }
    for (int w = 0; w < 3; w++) {
        stats s = {0};
        for (uint64_t seed = 1; seed <= 60; seed++) {
            cmee_market *base = cmee_test_market(seed), *m = cmee_test_market(seed);
            assert_status(m, cmee_scenario_apply(m, sc, t0, NULL), CMEE_OK);
            int64_t a = t0 + win[w].a * MIN_MS, b = t0 + win[w].b * MIN_MS;
            add(&s, realised(m, a, b) / realised(base, a, b));
            cmee_market_free(base);
            cmee_market_free(m);
        }
        char what[64];
        snprintf(what, sizeof what, "variance ratio, minutes [%lld, %lld)",
                 (long long)win[w].a, (long long)win[w].b);
        if (w < 2) {
            assert_mean(&s, win[w].want, what);
            assert_true(fabs(mean(&s) / win[w].want - 1.0) < 0.1);
        } else {
            /* A constant multiplier scales the same increments: the ratio is nearly exact. */
            print_message("%s: %.6f, expected %.6f\n", what, mean(&s), win[w].want);
            assert_true(fabs(mean(&s) / win[w].want - 1.0) < 0.01);
        }
    }
    cmee_scenario_free(sc);
}

/* "Reach P by T": the log price at T is ln P on average, for a relative and an absolute
 * target. */
static void test_target(void **state)
{
    (void)state;
    cmee_event e;
    cmee_event_init(&e, CMEE_EVENT_TARGET);
    e.at = HOUR_MS;
    e.end = HOUR_MS + DAY_MS;
    e.target = (cmee_level){CMEE_LEVEL_CHANGE, 0.1};
    cmee_scenario *sc = make(NULL, 0, &e, 1);
    stats s;
    log_moves(sc, T0 + HOUR_MS, T0 + HOUR_MS + DAY_MS, &s);
    assert_mean(&s, log(1.1), "target +10 %: log move");
    cmee_scenario_free(sc);

    e.target = (cmee_level){CMEE_LEVEL_PRICE, 150000};
    e.end = HOUR_MS + 5 * DAY_MS;
    cmee_event shock;
    cmee_event_init(&shock, CMEE_EVENT_SHOCK); /* inside the window: the drift allows for it */
    shock.at = 2 * DAY_MS;
    shock.size = -0.05;
    const cmee_event ev[2] = {e, shock};
    sc = make(NULL, 0, ev, 2);
    stats p = {0};
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        cmee_market *m = cmee_test_market(seed);
        assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
        add(&p, log_at(m, T0 + HOUR_MS + 5 * DAY_MS));
        cmee_market_free(m);
    }
    assert_mean(&p, log(150000.0), "target 150000: log price");
    cmee_scenario_free(sc);
}

/* Mean reversion keeps the log price near its level: an AR(1) by the hour with coefficient
 * phi = 2^(-1 h / half-life), so the spread after many half-lives is sigma_h / sqrt(1 - phi^2)
 * instead of sigma sqrt(t). */
static void test_mean_reversion(void **state)
{
    (void)state;
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = 14 * DAY_MS;
    r.revert_half_life = 6 * HOUR_MS;
    r.revert_to = (cmee_level){CMEE_LEVEL_CHANGE, 0.0};
    cmee_scenario *sc = make(&r, 1, NULL, 0);
    stats s;
    log_moves(sc, T0, T0 + 14 * DAY_MS, &s);
    double phi = exp2(-1.0 / 6.0);
    double sd_h = SIGMA * sqrt(1.0 / (24 * 365.25));
    double want = sd_h / sqrt(1.0 - phi * phi);
    double sd = sqrt(var(&s));
    print_message("reversion: sd %.5f, expected %.5f (free walk %.5f)\n", sd, want,
                  SIGMA * sqrt(14 / 365.25));
    /* The sample sd of 400 draws is within 4.5 x 3.5 % of the truth. */
    assert_true(fabs(sd / want - 1.0) < 0.16);
    assert_mean(&s, 0.0, "reversion: log move");
    cmee_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trends),
        cmocka_unit_test(test_shock),
        cmocka_unit_test(test_volatility),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_mean_reversion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
