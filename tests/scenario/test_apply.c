/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Applying and cancelling scenarios: contract 4 (nothing before t0 changes, candle for candle
 * and tick for tick), determinism whatever the query ranges, halts, supersession, errors. */
#include <stdlib.h>
#include <string.h>

#include "cmee_test.h"
#include "market/market_int.h"

/* 2025-03-03 09:37:25: not on a minute, hour or day boundary. */
static const int64_t T0 = INT64_C(1740994645000);

/* A scenario that uses every kind of regime and event, all starting within its first day. */
static cmee_scenario *everything(void)
{
    cmee_regime r[3];
    for (int i = 0; i < 3; i++)
        cmee_regime_init(&r[i]);
    r[0].start = 0;
    r[0].end = 6 * HOUR_MS + 17 * MIN_MS;
    r[0].drift_mode = CMEE_DRIFT_SPAN;
    r[0].drift = -0.2;
    r[0].vol_mult = 2.5;
    r[0].jump_rate = 3000;
    r[0].jump_mean = -0.01;
    r[0].jump_stdev = 0.005;
    r[1].start = 8 * HOUR_MS;
    r[1].end = 3 * DAY_MS + 90 * 1000;
    r[1].vol_mult = 0.7;
    r[1].revert_half_life = 6 * HOUR_MS;
    r[1].revert_to = (cmee_level){CMEE_LEVEL_CHANGE, 0.05};
    r[2].start = 3 * DAY_MS + 90 * 1000;
    r[2].end = 9 * DAY_MS;
    r[2].drift_mode = CMEE_DRIFT_ANNUAL;
    r[2].drift = 0.8;
    cmee_event e[5];
    cmee_event_init(&e[0], CMEE_EVENT_SHOCK);
    e[0].at = 0;
    e[0].size = -0.08;
    cmee_event_init(&e[1], CMEE_EVENT_HALT);
    e[1].at = 7 * HOUR_MS + 5 * MIN_MS;
    e[1].end = 7 * HOUR_MS + 50 * MIN_MS;
    cmee_event_init(&e[2], CMEE_EVENT_SPIKE);
    e[2].at = 20 * MIN_MS;
    e[2].size = 4;
    e[2].half_life = 90 * MIN_MS;
    cmee_event_init(&e[3], CMEE_EVENT_TARGET);
    e[3].at = DAY_MS;
    e[3].end = 2 * DAY_MS;
    e[3].target = (cmee_level){CMEE_LEVEL_CHANGE, 0.1};
    cmee_event_init(&e[4], CMEE_EVENT_SHOCK);
    e[4].at = 30 * HOUR_MS + 30 * 1000;
    e[4].size = 0.03;
    cmee_scenario_spec spec = {.name = "everything", .regimes = r, .nregimes = 3,
                               .events = e, .nevents = 5};
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st = cmee_scenario_new(&spec, NULL, NULL, &sc, &err);
    if (st != CMEE_OK) {
        print_error("cmee_scenario_new: %s\n", err.text);
        fail();
    }
    return sc;
}

static cmee_scenario *simple(const char *name, double vol_mult, int64_t end)
{
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = end;
    r.vol_mult = vol_mult;
    cmee_scenario_spec spec = {.name = name, .regimes = &r, .nregimes = 1};
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, NULL), CMEE_OK);
    return sc;
}

static cmee_candle *candles(cmee_market *m, const char *sym, cmee_timeframe tf, int64_t from,
                            int64_t to, size_t *n)
{
    cmee_candle *c = NULL;
    assert_status(m, cmee_market_candles_alloc(m, sym, tf, from, to, &c, n), CMEE_OK);
    return c;
}

static const char *const SYMS[] = {"BTCUSD", "EURUSD", "WILD"};

static void add_wild(cmee_market *m)
{
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "WILD");
    s.volatility = 0.9;
    s.tail_dof = 4;
    s.clustering = 1;
    s.jump_rate = 200;
    s.jump_mean = 0.01;
    s.jump_stdev = 0.05;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
}

static bool same_candles(const cmee_candle *a, const cmee_candle *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* Contract 4: everything that opens and closes before t0 is bit-identical with and without the
 * scenario, in every timeframe; the 1m candle containing t0 too (effects start at the next
 * minute boundary). Ticks and prices before t0 too. After t0 the path differs. */
static void test_past_is_immutable(void **state)
{
    (void)state;
    cmee_market *base = cmee_test_market(11), *m = cmee_test_market(11);
    add_wild(base);
    add_wild(m);
    cmee_scenario *sc = everything();
    cmee_application_id id = 0;
    assert_status(m, cmee_scenario_apply(m, sc, T0, &id), CMEE_OK);
    assert_true(id != 0);
    int64_t t0min = T0 - T0 % MIN_MS + MIN_MS; /* first affected boundary */
    for (size_t s = 0; s < 3; s++) {
        const cmee_timeframe tfs[] = {CMEE_TF_1M, CMEE_TF_5M, CMEE_TF_1H, CMEE_TF_1D};
        for (size_t t = 0; t < 4; t++) {
            int64_t tfms = cmee_timeframe_ms(tfs[t]);
            int64_t from = T0 - 400 * tfms;
            size_t na, nb;
            /* Candles that end at or before t0min. */
            int64_t to = (t0min / tfms) * tfms - tfms + 1;
            cmee_candle *a = candles(base, SYMS[s], tfs[t], from, to, &na);
            cmee_candle *b = candles(m, SYMS[s], tfs[t], from, to, &nb);
            assert_int_equal(na, nb);
            assert_true(na > 300);
            assert_true(same_candles(a, b, na));
            cmee_market_release(base, a);
            cmee_market_release(m, b);
        }
        /* Ticks of the minute containing t0, and prices up to it. */
        cmee_tick ta[600], tb[600];
        size_t na, nb;
        assert_status(m, cmee_market_ticks(base, SYMS[s], T0, ta, 600, &na), CMEE_OK);
        assert_status(m, cmee_market_ticks(m, SYMS[s], T0, tb, 600, &nb), CMEE_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(ta, tb, na * sizeof *ta);
        for (int64_t t = T0 - 3 * HOUR_MS; t < t0min; t += 7001) {
            double pa, pb;
            assert_status(base, cmee_market_price(base, SYMS[s], t, &pa), CMEE_OK);
            assert_status(m, cmee_market_price(m, SYMS[s], t, &pb), CMEE_OK);
            assert_true(pa == pb);
        }
        /* After t0: the shock alone moves the price by 8 %. */
        size_t n1, n2;
        cmee_candle *a = candles(base, SYMS[s], CMEE_TF_1M, t0min, t0min + 10 * DAY_MS, &n1);
        cmee_candle *b = candles(m, SYMS[s], CMEE_TF_1M, t0min, t0min + 10 * DAY_MS, &n2);
        assert_int_equal(n1, n2);
        assert_true(a[0].open == b[0].open);
        assert_true(b[0].close < a[0].close * 0.95);
        size_t differ = 0;
        for (size_t i = 0; i < n1; i++)
            differ += a[i].close != b[i].close;
        assert_true(differ > n1 * 9 / 10);
        cmee_market_release(base, a);
        cmee_market_release(m, b);
    }
    cmee_scenario_free(sc);
    cmee_market_free(base);
    cmee_market_free(m);
}

/* Contract 1 with a scenario: pieces of random length requested in random order equal one
 * request for the whole, in every timeframe, across every regime and event and after the end.
 * The pieces start in regular and irregular hours alike, so the closed form that seeks through
 * regular hours must agree with the minute-by-minute sum bit for bit. */
static void test_ranges_and_order(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(5);
    add_wild(m);
    cmee_scenario *sc = everything();
    assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
    int64_t from = T0 - 2 * HOUR_MS - (T0 % HOUR_MS);
    int64_t to = from + 12 * DAY_MS;
    srand(99);
    for (size_t s = 0; s < 3; s++) {
        const cmee_timeframe tfs[] = {CMEE_TF_1M, CMEE_TF_15M, CMEE_TF_1H};
        for (size_t t = 0; t < 3; t++) {
            size_t n;
            cmee_candle *all = candles(m, SYMS[s], tfs[t], from, to, &n);
            int64_t tfms = cmee_timeframe_ms(tfs[t]);
            for (int rep = 0; rep < 40; rep++) {
                size_t i = (size_t)rand() % n;
                size_t len = 1 + (size_t)rand() % (tfs[t] == CMEE_TF_1M ? 3000 : 200);
                if (i + len > n)
                    len = n - i;
                cmee_candle part[3000];
                size_t got;
                int64_t a = all[i].time;
                assert_status(m, cmee_market_candles(m, SYMS[s], tfs[t], a, a + (int64_t)len * tfms,
                                                     part, 3000, &got),
                              CMEE_OK);
                assert_int_equal(got, len);
                assert_true(same_candles(part, all + i, len));
            }
            /* OHLC sanity and continuity hold under the scenario. */
            for (size_t i = 0; i < n; i++) {
                const cmee_candle *c = &all[i];
                assert_true(c->low > 0);
                assert_true(c->low <= fmin(c->open, c->close));
                assert_true(c->high >= fmax(c->open, c->close));
                if (i > 0)
                    assert_true(c->open == all[i - 1].close);
            }
            cmee_market_release(m, all);
        }
    }
    /* A second market with the same timeline gives the same prices. */
    cmee_market *m2 = cmee_test_market(5);
    add_wild(m2);
    assert_status(m2, cmee_scenario_apply(m2, sc, T0, NULL), CMEE_OK);
    for (size_t s = 0; s < 3; s++) {
        size_t n1, n2;
        cmee_candle *a = candles(m, SYMS[s], CMEE_TF_5M, from, to, &n1);
        cmee_candle *b = candles(m2, SYMS[s], CMEE_TF_5M, from, to, &n2);
        assert_int_equal(n1, n2);
        assert_true(same_candles(a, b, n1));
        cmee_market_release(m, a);
        cmee_market_release(m2, b);
    }
    cmee_scenario_free(sc);
    cmee_market_free(m);
    cmee_market_free(m2);
}

/* White-box, sharper than candles (which round to the tick grid): the log price of every minute
 * boundary of an hour is bit-identical whether the hour is reached by a fresh seek (the closed
 * form through regular hours) or by walking from the hour before (the minute-by-minute sums). */
static void test_seek_equals_walk(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(9);
    add_wild(m);
    cmee_scenario *sc = everything();
    assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
    int64_t h0 = (T0 - CMEE_TIME_MIN) / HOUR_MS - 2;
    for (size_t idx = 0; idx < m->nsyms; idx++) {
        if (strcmp(m->syms[idx].spec.symbol, "BTCUSD") && strcmp(m->syms[idx].spec.symbol, "WILD"))
            continue;
        cmee__daycache dc = {.day = -1}, dc2 = {.day = -1};
        cmee__scur walk = {.hour = -1};
        static cmee__hour a, b;
        for (int64_t H = h0; H < h0 + 10 * 24 + 5; H++) {
            cmee__engine_hour(m, idx, H, &dc, &walk, &a);
            cmee__scur fresh = {.hour = -1};
            dc2.day = -1;
            cmee__engine_hour(m, idx, H, &dc2, &fresh, &b);
            assert_memory_equal(a.x, b.x, sizeof a.x);
            assert_memory_equal(a.mass, b.mass, sizeof a.mass);
            assert_memory_equal(a.vol, b.vol, sizeof a.vol);
            assert_true(walk.x == fresh.x);
        }
    }
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

/* Every timeframe is the aggregate of its 1m candles, and ticks fold into their candle, under a
 * scenario too. */
static void test_aggregation_and_ticks(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(8);
    add_wild(m);
    cmee_scenario *sc = everything();
    assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
    int64_t from = T0 - T0 % DAY_MS;
    size_t nm, nh;
    cmee_candle *mins = candles(m, "WILD", CMEE_TF_1M, from, from + 2 * DAY_MS, &nm);
    cmee_candle *hours = candles(m, "WILD", CMEE_TF_1H, from, from + 2 * DAY_MS, &nh);
    assert_int_equal(nh * 60, nm);
    for (size_t h = 0; h < nh; h++) {
        const cmee_candle *c = &mins[h * 60];
        double hi = c[0].high, lo = c[0].low, vol = 0;
        for (int k = 0; k < 60; k++) {
            hi = fmax(hi, c[k].high);
            lo = fmin(lo, c[k].low);
            vol += c[k].volume;
        }
        assert_true(hours[h].open == c[0].open);
        assert_true(hours[h].close == c[59].close);
        assert_true(hours[h].high == hi);
        assert_true(hours[h].low == lo);
        assert_true(hours[h].volume == vol);
    }
    for (size_t i = 0; i < nm; i += 37) {
        cmee_tick tk[600];
        size_t n;
        assert_status(m, cmee_market_ticks(m, "WILD", mins[i].time + 1234, tk, 600, &n),
                      CMEE_OK);
        double hi = tk[0].price, lo = tk[0].price, vol = 0;
        for (size_t k = 0; k < n; k++) {
            hi = fmax(hi, tk[k].price);
            lo = fmin(lo, tk[k].price);
            vol += tk[k].volume;
        }
        assert_true(tk[0].price == mins[i].open);
        assert_true(tk[n - 1].price == mins[i].close);
        assert_true(hi == mins[i].high);
        assert_true(lo == mins[i].low);
        assert_true(vol == mins[i].volume);
    }
    cmee_market_release(m, mins);
    cmee_market_release(m, hours);
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

/* A halt gives flat candles with zero range and zero volume, and cmee_market_halted says so. */
static void test_halt(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(3);
    cmee_scenario *sc = everything();
    assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
    int64_t t0min = T0 - T0 % MIN_MS + MIN_MS;
    int64_t h0 = t0min + 7 * HOUR_MS + 5 * MIN_MS, h1 = t0min + 7 * HOUR_MS + 50 * MIN_MS;
    size_t n;
    cmee_candle *c = candles(m, "BTCUSD", CMEE_TF_1M, h0 - 5 * MIN_MS, h1 + 5 * MIN_MS, &n);
    assert_int_equal(n, 55);
    for (size_t i = 0; i < n; i++) {
        bool in = c[i].time >= h0 && c[i].time < h1;
        bool halted = false;
        assert_status(m, cmee_market_halted(m, "BTCUSD", c[i].time + 30000, &halted), CMEE_OK);
        assert_int_equal(halted, in);
        if (in) {
            assert_true(c[i].high == c[i].low);
            assert_true(c[i].open == c[i].close);
            assert_true(c[i].open == c[4].close);
            assert_true(c[i].volume == 0);
        } else {
            assert_true(c[i].volume > 0);
        }
    }
    assert_true(c[n - 1].high > c[n - 1].low);
    bool halted = true;
    assert_status(m, cmee_market_halted(m, "EURUSD", T0 - DAY_MS, &halted), CMEE_OK);
    assert_false(halted);
    cmee_market_release(m, c);
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

/* Cancelling at t1 changes nothing before t1; afterwards the symbol moves as the base path
 * does (same log returns, up to tick rounding), from where the scenario left it. */
static void test_cancel(void **state)
{
    (void)state;
    cmee_market *base = cmee_test_market(21), *m = cmee_test_market(21);
    cmee_scenario *sc = simple("wild", 5.0, 20 * DAY_MS);
    cmee_application_id id;
    assert_status(m, cmee_scenario_apply(m, sc, T0, &id), CMEE_OK);
    int64_t t1 = T0 + 2 * DAY_MS + 13 * MIN_MS + 777;
    int64_t t1min = t1 - t1 % MIN_MS + MIN_MS;
    size_t n0, n1, nb;
    cmee_candle *before = candles(m, "BTCUSD", CMEE_TF_1M, T0 - HOUR_MS, t1 + 5 * DAY_MS, &n0);
    assert_status(m, cmee_scenario_cancel(m, id, t1), CMEE_OK);
    cmee_candle *after = candles(m, "BTCUSD", CMEE_TF_1M, T0 - HOUR_MS, t1 + 5 * DAY_MS, &n1);
    cmee_candle *b = candles(base, "BTCUSD", CMEE_TF_1M, T0 - HOUR_MS, t1 + 5 * DAY_MS, &nb);
    assert_int_equal(n0, n1);
    size_t k = 0;
    while (after[k].time < t1min)
        k++;
    assert_true(k > 2000);
    assert_true(same_candles(before, after, k));
    assert_false(same_candles(before + k, after + k, n1 - k));
    /* After t1: log returns of the base path, to within tick rounding. */
    double tick = 0.01, worst = 0;
    for (size_t i = k + 1; i < n1; i++) {
        double ra = log(after[i].close / after[i - 1].close);
        double rb = log(b[i].close / b[i - 1].close);
        double tol = 2 * tick / fmin(after[i].close, b[i].close);
        worst = fmax(worst, fabs(ra - rb) - tol);
    }
    assert_true(worst <= 1e-12);
    cmee_application app;
    assert_status(m, cmee_scenario_application_at(m, 0, &app), CMEE_OK);
    assert_int_equal(app.id, id);
    assert_string_equal(app.name, "wild");
    assert_int_equal(app.t0, T0 - T0 % MIN_MS + MIN_MS);
    assert_int_equal(app.end, t1min);
    /* Cancelling again, later, changes nothing. */
    assert_status(m, cmee_scenario_cancel(m, id, t1 + DAY_MS), CMEE_OK);
    cmee_candle *again = candles(m, "BTCUSD", CMEE_TF_1M, T0 - HOUR_MS, t1 + 5 * DAY_MS, &n1);
    assert_true(same_candles(after, again, n1));
    cmee_market_release(m, before);
    cmee_market_release(m, after);
    cmee_market_release(m, again);
    cmee_market_release(base, b);
    cmee_scenario_free(sc);
    cmee_market_free(base);
    cmee_market_free(m);
}

/* Applying a second scenario at t1 ends the first there and changes nothing before t1; only
 * the listed symbols are touched. */
static void test_supersede_and_symbols(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(4), *base = cmee_test_market(4);
    cmee_scenario *a = everything();
    const char *only[] = {"EURUSD"};
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = DAY_MS;
    r.drift_mode = CMEE_DRIFT_SPAN;
    r.drift = 0.5;
    cmee_scenario_spec spec = {.name = "eur up", .symbols = only, .nsymbols = 1, .regimes = &r,
                               .nregimes = 1};
    cmee_scenario *b = NULL;
    assert_int_equal(cmee_scenario_new(&spec, m, NULL, &b, NULL), CMEE_OK);
    assert_status(m, cmee_scenario_apply(m, a, T0, NULL), CMEE_OK);
    int64_t t1 = T0 + 30 * HOUR_MS + 7 * MIN_MS;
    size_t n0, n1;
    cmee_candle *e0 = candles(m, "EURUSD", CMEE_TF_1M, T0, T0 + 4 * DAY_MS, &n0);
    cmee_candle *b0 = candles(m, "BTCUSD", CMEE_TF_1M, T0, T0 + 4 * DAY_MS, &n0);
    assert_status(m, cmee_scenario_apply(m, b, t1, NULL), CMEE_OK);
    cmee_candle *e1 = candles(m, "EURUSD", CMEE_TF_1M, T0, T0 + 4 * DAY_MS, &n1);
    cmee_candle *b1 = candles(m, "BTCUSD", CMEE_TF_1M, T0, T0 + 4 * DAY_MS, &n1);
    size_t k = (size_t)((t1 - T0) / MIN_MS);
    assert_true(same_candles(e0, e1, k));
    assert_false(same_candles(e0 + k + 1, e1 + k + 1, n1 - k - 1));
    assert_true(same_candles(b0, b1, n1)); /* BTCUSD is not in b's list */
    assert_int_equal(cmee_scenario_application_count(m), 2);
    cmee_application app;
    assert_status(m, cmee_scenario_application_at(m, 0, &app), CMEE_OK);
    assert_int_equal(app.end, t1 - t1 % MIN_MS + MIN_MS);
    /* Applying before the start of an earlier application is refused, changing nothing. */
    assert_status(m, cmee_scenario_apply(m, b, t1 - HOUR_MS, NULL), CMEE_ESTATE);
    assert_non_null(strstr(cmee_market_errmsg(m), "EURUSD"));
    assert_int_equal(cmee_scenario_application_count(m), 2);
    cmee_candle *e2 = candles(m, "EURUSD", CMEE_TF_1M, T0, T0 + 4 * DAY_MS, &n1);
    assert_true(same_candles(e1, e2, n1));
    cmee_market_release(m, e0);
    cmee_market_release(m, e1);
    cmee_market_release(m, e2);
    cmee_market_release(m, b0);
    cmee_market_release(m, b1);
    cmee_scenario_free(a);
    cmee_scenario_free(b);
    cmee_market_free(m);
    cmee_market_free(base);
}

/* Re-registering a symbol with the same spec keeps every price; with a new spec the segments
 * are recomputed and still start from the new path's value at t0. */
static void test_symbol_change(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(6);
    cmee_scenario *sc = everything();
    assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
    size_t n0, n1;
    cmee_candle *c0 = candles(m, "BTCUSD", CMEE_TF_15M, T0 - DAY_MS, T0 + 12 * DAY_MS, &n0);
    cmee_symbol_spec spec;
    assert_status(m, cmee_market_symbol(m, "BTCUSD", &spec), CMEE_OK);
    assert_status(m, cmee_market_set_symbol(m, &spec), CMEE_OK);
    cmee_candle *c1 = candles(m, "BTCUSD", CMEE_TF_15M, T0 - DAY_MS, T0 + 12 * DAY_MS, &n1);
    assert_true(same_candles(c0, c1, n0));
    cmee_market_release(m, c0);
    cmee_market_release(m, c1);
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

static void test_errors(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(1);
    cmee_scenario *sc = simple("x", 2.0, DAY_MS);
    cmee_application_id id = 77;
    assert_int_equal(cmee_scenario_apply(NULL, sc, T0, &id), CMEE_EINVAL);
    assert_status(m, cmee_scenario_apply(m, NULL, T0, &id), CMEE_EINVAL);
    assert_status(m, cmee_scenario_apply(m, sc, CMEE_TIME_MIN - 1, &id), CMEE_ERANGE);
    assert_status(m, cmee_scenario_apply(m, sc, CMEE_TIME_MAX - HOUR_MS, &id), CMEE_ERANGE);
    assert_non_null(strstr(cmee_market_errmsg(m), "past the series end"));
    assert_int_equal(id, 77);
    /* A scenario listing a symbol this market lacks. */
    cmee_market *other = cmee_test_market(1);
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "ONLYHERE");
    assert_status(other, cmee_market_set_symbol(other, &s), CMEE_OK);
    const char *syms[] = {"ONLYHERE"};
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = HOUR_MS;
    cmee_scenario_spec spec = {.name = "y", .symbols = syms, .nsymbols = 1, .regimes = &r,
                               .nregimes = 1};
    cmee_scenario *sy = NULL;
    assert_int_equal(cmee_scenario_new(&spec, other, NULL, &sy, NULL), CMEE_OK);
    assert_status(m, cmee_scenario_apply(m, sy, T0, &id), CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_market_errmsg(m), "ONLYHERE"));
    assert_int_equal(cmee_scenario_application_count(m), 0);
    /* Cancel. */
    assert_status(m, cmee_scenario_cancel(m, 12345, T0), CMEE_ENOTFOUND);
    assert_status(m, cmee_scenario_apply(m, sc, T0, &id), CMEE_OK);
    assert_status(m, cmee_scenario_cancel(m, id, T0 - HOUR_MS), CMEE_ESTATE);
    assert_int_equal(cmee_scenario_cancel(NULL, id, T0), CMEE_EINVAL);
    cmee_application app;
    assert_status(m, cmee_scenario_application_at(m, 1, &app), CMEE_ERANGE);
    assert_int_equal(cmee_scenario_application_at(m, 0, NULL), CMEE_EINVAL);
    bool halted;
    assert_status(m, cmee_market_halted(m, "NOPE", T0, &halted), CMEE_ENOTFOUND);
    assert_status(m, cmee_market_halted(m, "BTCUSD", CMEE_TIME_MAX, &halted), CMEE_ERANGE);
    assert_status(m, cmee_market_halted(m, "BTCUSD", T0, NULL), CMEE_EINVAL);
    cmee_scenario_free(sc);
    cmee_scenario_free(sy);
    cmee_market_free(m);
    cmee_market_free(other);
}

/* Out of memory at any allocation: a clean ENOMEM, the market unchanged, nothing leaked. */
static void test_out_of_memory(void **state)
{
    (void)state;
    cmee_scenario *sc = everything();
    for (long n = 1;; n++) {
        chaos c = {0};
        cmee_allocator al = chaos_allocator(&c);
        cmee_market *m = NULL;
        if (cmee_market_new(2, &al, &m) != CMEE_OK) {
            assert_int_equal(c.live, 0);
            continue; /* fails before the call under test: covered by the market's tests */
        }
        c.fail_at = c.calls + n;
        cmee_status st = cmee_scenario_apply(m, sc, T0, NULL);
        if (st == CMEE_OK) {
            cmee_market_free(m);
            assert_int_equal(c.live, 0);
            break;
        }
        assert_int_equal(st, CMEE_ENOMEM);
        assert_int_equal(cmee_scenario_application_count(m), 0);
        cmee_market *b = cmee_test_market(2);
        cmee_candle x[50], y[50];
        size_t nx, ny;
        assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, T0, T0 + 50 * HOUR_MS, x,
                                             50, &nx),
                      CMEE_OK);
        assert_status(b, cmee_market_candles(b, "BTCUSD", CMEE_TF_1H, T0, T0 + 50 * HOUR_MS, y,
                                             50, &ny),
                      CMEE_OK);
        assert_true(same_candles(x, y, 50));
        cmee_market_free(b);
        cmee_market_free(m);
        assert_int_equal(c.live, 0);
        assert_true(n < 1000);
    }
    cmee_scenario_free(sc);
}

/* volume_mult scales the volume of every minute the regime covers, and nothing else: before
 * t0 every candle is bit-identical, inside the regime each 1m volume is the base one times the
 * factor (up to rounding each to whole units), after it the base volumes come back; prices
 * follow the base path (vol_mult 1, drift kept), and ticks still fold into the candles. */
static void test_volume_mult(void **state)
{
    (void)state;
    cmee_market *base = cmee_test_market(5), *m = cmee_test_market(5);
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = DAY_MS;
    r.volume_mult = 4;
    const char *const btc[] = {"BTCUSD"};
    cmee_scenario_spec spec = {.name = "busy", .symbols = btc, .nsymbols = 1, .regimes = &r,
                               .nregimes = 1};
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, NULL), CMEE_OK);
    assert_status(m, cmee_scenario_apply(m, sc, T0, NULL), CMEE_OK);
    int64_t t0min = T0 - T0 % MIN_MS + MIN_MS, t1 = t0min + DAY_MS;

    size_t na, nb;
    cmee_candle *a = candles(base, "BTCUSD", CMEE_TF_1M, T0 - 3 * HOUR_MS, t1 + DAY_MS, &na);
    cmee_candle *b = candles(m, "BTCUSD", CMEE_TF_1M, T0 - 3 * HOUR_MS, t1 + DAY_MS, &nb);
    assert_int_equal(na, nb);
    double in_a = 0, in_b = 0, out_a = 0, out_b = 0;
    size_t before = 0;
    for (size_t i = 0; i < na; i++) {
        if (a[i].time < t0min) {
            assert_memory_equal(&a[i], &b[i], sizeof a[i]);
            before++;
        } else if (a[i].time < t1) {
            /* round(4 v) against 4 round(v): at most 2.5 apart, plus a hair of float noise in
             * the size of the move the volume follows. */
            assert_true(fabs(b[i].volume - 4 * a[i].volume) <= 3 + 1e-3 * b[i].volume);
            assert_rel_near(b[i].close, a[i].close, 1e-9);
            in_a += a[i].volume;
            in_b += b[i].volume;
        } else {
            assert_true(fabs(b[i].volume - a[i].volume) <= 1 + 1e-3 * a[i].volume);
            out_a += a[i].volume;
            out_b += b[i].volume;
        }
    }
    assert_true(before >= 170);
    print_message("volume inside x%.4f, after x%.4f\n", in_b / in_a, out_b / out_a);
    assert_true(in_b / in_a > 3.99 && in_b / in_a < 4.01);
    assert_true(out_b / out_a > 0.999 && out_b / out_a < 1.001);

    /* The ticks of a scaled minute sum to its candle's volume. */
    cmee_tick tk[600];
    size_t nt;
    assert_status(m, cmee_market_ticks(m, "BTCUSD", t0min + 37 * MIN_MS, tk, 600, &nt), CMEE_OK);
    double sum = 0;
    for (size_t i = 0; i < nt; i++)
        sum += tk[i].volume;
    cmee_candle c;
    size_t n1;
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1M, t0min + 37 * MIN_MS,
                                         t0min + 38 * MIN_MS, &c, 1, &n1), CMEE_OK);
    assert_true(sum == c.volume);
    /* Hours and days aggregate the scaled minutes. */
    cmee_candle h;
    assert_status(m, cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, t0min + 3 * HOUR_MS - t0min % HOUR_MS,
                                         t0min + 4 * HOUR_MS - t0min % HOUR_MS, &h, 1, &n1), CMEE_OK);
    size_t nm;
    cmee_candle *mins = candles(m, "BTCUSD", CMEE_TF_1M, h.time, h.time + HOUR_MS, &nm);
    double hv = 0;
    for (size_t i = 0; i < nm; i++)
        hv += mins[i].volume;
    assert_true(hv == h.volume);

    cmee_market_release(m, mins);
    cmee_market_release(base, a);
    cmee_market_release(m, b);
    cmee_scenario_free(sc);
    cmee_market_free(base);
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_past_is_immutable),
        cmocka_unit_test(test_ranges_and_order),
        cmocka_unit_test(test_seek_equals_walk),
        cmocka_unit_test(test_aggregation_and_ticks),
        cmocka_unit_test(test_halt),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_supersede_and_symbols),
        cmocka_unit_test(test_symbol_change),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_volume_mult),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
