/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The symbol registry: built-in symbols, spec validation, overrides, timeframe and asset-class
 * names, layout sizes and correlation groups. */
#include <stdbool.h>
#include <stdlib.h>

#include "cmee_test.h"

#define SENTINEL 0xAB

/* Field-by-field, bit-for-bit equality of two specs (padding bytes are not part of a value). */
static void assert_spec_equal_at(const cmee_symbol_spec *a, const cmee_symbol_spec *b,
                                 const char *file, int line)
{
    bool same = memcmp(a->symbol, b->symbol, sizeof a->symbol) == 0 &&
                a->asset_class == b->asset_class && a->precision == b->precision &&
                a->ticks_per_minute == b->ticks_per_minute;
#define SAME_DOUBLE(f) same = same && memcmp(&a->f, &b->f, sizeof a->f) == 0
    SAME_DOUBLE(seed_price);
    SAME_DOUBLE(tick_size);
    SAME_DOUBLE(volatility);
    SAME_DOUBLE(drift);
    SAME_DOUBLE(volume);
    SAME_DOUBLE(tail_dof);
    SAME_DOUBLE(clustering);
    SAME_DOUBLE(jump_rate);
    SAME_DOUBLE(jump_mean);
    SAME_DOUBLE(jump_stdev);
#undef SAME_DOUBLE
    if (!same) {
        print_error("specs differ: %.16s (%.17g) vs %.16s (%.17g)\n", a->symbol, a->seed_price,
                    b->symbol, b->seed_price);
        _fail(file, line);
    }
}
#define assert_spec_equal(a, b) assert_spec_equal_at(&(a), &(b), __FILE__, __LINE__)

/* Is @p price a whole number of ticks? Compared in units of 10^-precision. */
static bool on_grid(double price, double tick, int precision)
{
    double p10 = pow(10.0, precision);
    double units = price * p10, tick_units = round(tick * p10);
    double k = units / tick_units;
    return tick_units >= 1 && fabs(k - round(k)) <= 1e-6;
}

/* @p n candles of @p sym at @p tf from @p from, failing unless exactly @p n come back. */
static void get_candles(const cmee_market *m, const char *sym, cmee_timeframe tf, int64_t from,
                        size_t n, cmee_candle *out)
{
    size_t got = 0;
    int64_t to = from + (int64_t)n * cmee_timeframe_ms(tf);
    assert_status(m, cmee_market_candles(m, sym, tf, from, to, out, n, &got), CMEE_OK);
    assert_int_equal(got, n);
}

/* The price at the anchor, three ways, must be @p want exactly: the open of the 1m and 1d
 * candles starting there, the close of the 1m candle ending there, and cmee_market_price. */
static void assert_anchor_price_at(const cmee_market *m, const char *sym, double want,
                                   const char *file, int line)
{
    cmee_candle c1, c0, cd;
    double p = -1;
    get_candles(m, sym, CMEE_TF_1M, CMEE_ANCHOR_TIME, 1, &c1);
    get_candles(m, sym, CMEE_TF_1M, CMEE_ANCHOR_TIME - MIN_MS, 1, &c0);
    get_candles(m, sym, CMEE_TF_1D, CMEE_ANCHOR_TIME, 1, &cd);
    assert_status(m, cmee_market_price(m, sym, CMEE_ANCHOR_TIME, &p), CMEE_OK);
    if (!(c1.open == want && c0.close == want && cd.open == want && p == want)) {
        print_error("%s at the anchor: want %.17g, 1m open %.17g, previous close %.17g, "
                    "1d open %.17g, price %.17g\n",
                    sym, want, c1.open, c0.close, cd.open, p);
        _fail(file, line);
    }
}
#define assert_anchor_price(m, sym, want) assert_anchor_price_at(m, sym, want, __FILE__, __LINE__)

/* Sample correlation of 1m log returns of two symbols over @p n minutes from @p from. */
static double return_corr(const cmee_market *m, const char *a, const char *b, int64_t from,
                          size_t n)
{
    cmee_candle *ca = calloc(n, sizeof *ca), *cb = calloc(n, sizeof *cb);
    assert_non_null(ca);
    assert_non_null(cb);
    get_candles(m, a, CMEE_TF_1M, from, n, ca);
    get_candles(m, b, CMEE_TF_1M, from, n, cb);
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (size_t i = 0; i < n; i++) {
        double ra = log(ca[i].close / ca[i].open), rb = log(cb[i].close / cb[i].open);
        sa += ra;
        sb += rb;
        saa += ra * ra;
        sbb += rb * rb;
        sab += ra * rb;
    }
    free(ca);
    free(cb);
    double dn = (double)n;
    double cov = sab / dn - (sa / dn) * (sb / dn);
    double va = saa / dn - (sa / dn) * (sa / dn), vb = sbb / dn - (sb / dn) * (sb / dn);
    return cov / sqrt(va * vb);
}

/* ---- the built-in registry -------------------------------------------------------------- */

/* More than 20 symbols, the majors by name, and every advertised asset class present. */
static void test_registry_contents(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n = cmee_market_symbol_count(m);
    assert_true(n >= 20);
    const char *majors[] = {"BTCUSD", "ETHUSD", "SOLUSD", "EURUSD", "GBPUSD",
                            "USDJPY", "AUDUSD", "XAUUSD", "XAGUSD"};
    for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++) {
        cmee_symbol_spec s;
        assert_status(m, cmee_market_symbol(m, majors[i], &s), CMEE_OK);
        assert_string_equal(s.symbol, majors[i]);
    }
    int per_class[7] = {0};
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec s;
        assert_status(m, cmee_market_symbol_at(m, i, &s), CMEE_OK);
        assert_true((unsigned)s.asset_class < 7);
        per_class[s.asset_class]++;
    }
    assert_true(per_class[CMEE_CLASS_CRYPTO] >= 1);
    assert_true(per_class[CMEE_CLASS_FX] >= 1);
    assert_true(per_class[CMEE_CLASS_METAL] >= 1);
    assert_true(per_class[CMEE_CLASS_INDEX] >= 1);
    assert_true(per_class[CMEE_CLASS_STOCK] >= 1);
    /* The majors are in the classes one expects. */
    cmee_symbol_spec s;
    assert_status(m, cmee_market_symbol(m, "BTCUSD", &s), CMEE_OK);
    assert_int_equal(s.asset_class, CMEE_CLASS_CRYPTO);
    assert_status(m, cmee_market_symbol(m, "EURUSD", &s), CMEE_OK);
    assert_int_equal(s.asset_class, CMEE_CLASS_FX);
    assert_status(m, cmee_market_symbol(m, "XAUUSD", &s), CMEE_OK);
    assert_int_equal(s.asset_class, CMEE_CLASS_METAL);
    assert_int_equal(cmee_market_seed(m), 42);
    cmee_market_free(m);
    assert_int_equal(cmee_market_symbol_count(NULL), 0);
    assert_int_equal(cmee_market_seed(NULL), 0);
}

/* Every built-in spec is within the documented ranges, on its own tick grid, uniquely named,
 * and accepted back by cmee_market_set_symbol unchanged. */
static void test_builtin_specs_valid(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n = cmee_market_symbol_count(m);
    cmee_symbol_spec *all = calloc(n, sizeof *all);
    assert_non_null(all);
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec *s = &all[i];
        assert_status(m, cmee_market_symbol_at(m, i, s), CMEE_OK);
        size_t len = strnlen(s->symbol, sizeof s->symbol);
        assert_true(len >= 1 && len < CMEE_SYMBOL_MAX);
        for (size_t k = 0; k < len; k++) {
            char c = s->symbol[k];
            assert_true((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                        c == '_');
        }
        assert_non_null(cmee_asset_class_name(s->asset_class));
        assert_true(s->seed_price > 0);
        assert_true(s->tick_size > 0);
        assert_true(s->seed_price >= s->tick_size);
        assert_in_range(s->precision, 0, 10);
        assert_true(on_grid(s->tick_size, pow(10.0, -s->precision), s->precision));
        if (!on_grid(s->seed_price, s->tick_size, s->precision)) {
            print_error("%s: seed %.17g is not on the grid of %.17g\n", s->symbol, s->seed_price,
                        s->tick_size);
            fail();
        }
        assert_true(s->volatility > 0 && s->volatility <= 3);
        assert_true(s->drift >= -2 && s->drift <= 2);
        assert_true(s->volume >= 1 && s->volume <= 1e9);
        assert_int_equal(s->ticks_per_minute, 60);
        /* Lookup by name finds the same spec as lookup by index. */
        cmee_symbol_spec byname;
        assert_status(m, cmee_market_symbol(m, s->symbol, &byname), CMEE_OK);
        assert_spec_equal(*s, byname);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(all[j].symbol, s->symbol);
    }
    /* Registering each built-in spec again is accepted and changes nothing. */
    for (size_t i = 0; i < n; i++) {
        assert_status(m, cmee_market_set_symbol(m, &all[i]), CMEE_OK);
        assert_int_equal(cmee_market_symbol_count(m), n);
        cmee_symbol_spec back;
        assert_status(m, cmee_market_symbol_at(m, i, &back), CMEE_OK);
        assert_spec_equal(all[i], back);
    }
    free(all);
    cmee_market_free(m);
}

/* Lookups out of range or of unknown names fail with their codes and leave *out untouched. */
static void test_lookup_errors(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n = cmee_market_symbol_count(m);
    cmee_symbol_spec out, pristine;
    memset(&pristine, SENTINEL, sizeof pristine);
    const size_t bad_index[] = {n, n + 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad_index / sizeof bad_index[0]; i++) {
        memset(&out, SENTINEL, sizeof out);
        assert_status(m, cmee_market_symbol_at(m, bad_index[i], &out), CMEE_ERANGE);
        assert_memory_equal(&out, &pristine, sizeof out);
        assert_true(cmee_market_errmsg(m)[0] != '\0');
    }
    const char *bad_name[] = {"NOPE", "btcusd", "BTCUSD ", "", "BTC"};
    for (size_t i = 0; i < sizeof bad_name / sizeof bad_name[0]; i++) {
        memset(&out, SENTINEL, sizeof out);
        assert_status(m, cmee_market_symbol(m, bad_name[i], &out), CMEE_ENOTFOUND);
        assert_memory_equal(&out, &pristine, sizeof out);
    }
    memset(&out, SENTINEL, sizeof out);
    assert_status(m, cmee_market_symbol(m, NULL, &out), CMEE_EINVAL);
    assert_memory_equal(&out, &pristine, sizeof out);
    assert_status(m, cmee_market_symbol(m, "BTCUSD", NULL), CMEE_EINVAL);
    assert_status(m, cmee_market_symbol_at(m, 0, NULL), CMEE_EINVAL);
    assert_status(NULL, cmee_market_symbol_at(NULL, 0, &out), CMEE_EINVAL);
    assert_status(NULL, cmee_market_symbol(NULL, "BTCUSD", &out), CMEE_EINVAL);
    assert_memory_equal(&out, &pristine, sizeof out);
    /* The last valid index works. */
    assert_status(m, cmee_market_symbol_at(m, n - 1, &out), CMEE_OK);
    cmee_market_free(m);
}

/* Every built-in symbol trades exactly at its seed price at CMEE_ANCHOR_TIME. */
static void test_builtin_anchor_prices(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n = cmee_market_symbol_count(m);
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec s;
        assert_status(m, cmee_market_symbol_at(m, i, &s), CMEE_OK);
        assert_anchor_price(m, s.symbol, s.seed_price);
    }
    cmee_market_free(m);
    /* Whatever the market seed. */
    m = cmee_test_market(UINT64_MAX);
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec s;
        assert_status(m, cmee_market_symbol_at(m, i, &s), CMEE_OK);
        assert_anchor_price(m, s.symbol, s.seed_price);
    }
    cmee_market_free(m);
}

/* ---- user symbols and overrides ------------------------------------------------------------ */

/* cmee_symbol_spec_init fills exactly the documented defaults and truncates long names. */
static void test_spec_init_defaults(void **state)
{
    (void)state;
    cmee_symbol_spec s;
    memset(&s, SENTINEL, sizeof s);
    cmee_symbol_spec_init(&s, "ABC");
    assert_string_equal(s.symbol, "ABC");
    for (size_t i = 3; i < sizeof s.symbol; i++)
        assert_int_equal(s.symbol[i], 0);
    assert_int_equal(s.asset_class, CMEE_CLASS_OTHER);
    assert_true(s.seed_price == 100.0);
    assert_true(s.tick_size == 0.01);
    assert_int_equal(s.precision, 2);
    assert_true(s.volatility == 0.2);
    assert_true(s.drift == 0.0);
    assert_true(s.volume == 100.0);
    assert_int_equal(s.ticks_per_minute, 60);
    assert_true(s.tail_dof == 0.0 && s.clustering == 0.0);
    assert_true(s.jump_rate == 0.0 && s.jump_mean == 0.0 && s.jump_stdev == 0.0);

    cmee_symbol_spec_init(&s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    assert_int_equal(strnlen(s.symbol, sizeof s.symbol), CMEE_SYMBOL_MAX - 1);
    assert_memory_equal(s.symbol, "ABCDEFGHIJKLMNO", CMEE_SYMBOL_MAX);
    cmee_symbol_spec_init(&s, NULL);
    assert_string_equal(s.symbol, "");
    cmee_symbol_spec_init(NULL, "ABC"); /* a no-op, not a crash */
}

/* A new symbol is appended, reads back identical by name and index, and trades at its seed
 * price at the anchor; a 15-character name with every allowed character class is accepted. */
static void test_custom_symbol(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n = cmee_market_symbol_count(m);
    cmee_symbol_spec s, back;
    cmee_symbol_spec_init(&s, "TEST-1_X.Y");
    s.asset_class = CMEE_CLASS_COMMODITY;
    s.seed_price = 123.45;
    s.tick_size = 0.05;
    s.precision = 2;
    s.volatility = 0.4;
    s.drift = 0.1;
    s.volume = 500;
    s.ticks_per_minute = 30;
    s.tail_dof = 5;
    s.clustering = 0.5;
    s.jump_rate = 20;
    s.jump_mean = -0.02;
    s.jump_stdev = 0.03;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    assert_int_equal(cmee_market_symbol_count(m), n + 1);
    assert_status(m, cmee_market_symbol(m, "TEST-1_X.Y", &back), CMEE_OK);
    assert_spec_equal(s, back);
    assert_status(m, cmee_market_symbol_at(m, n, &back), CMEE_OK);
    assert_spec_equal(s, back);
    assert_anchor_price(m, "TEST-1_X.Y", 123.45);

    /* A 15-character name, the longest allowed. */
    cmee_symbol_spec_init(&s, "ABCDEFGHIJ01234");
    s.seed_price = 7;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    assert_int_equal(cmee_market_symbol_count(m), n + 2);
    assert_status(m, cmee_market_symbol_at(m, n + 1, &back), CMEE_OK);
    assert_spec_equal(s, back);
    assert_anchor_price(m, "ABCDEFGHIJ01234", 7.0);

    /* Replacing the custom symbol keeps its index and the count. */
    s.seed_price = 8;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    assert_int_equal(cmee_market_symbol_count(m), n + 2);
    assert_status(m, cmee_market_symbol_at(m, n + 1, &back), CMEE_OK);
    assert_spec_equal(s, back);
    assert_anchor_price(m, "ABCDEFGHIJ01234", 8.0);
    cmee_market_free(m);
}

/* Specs at the edges of every documented range are accepted and pass through their seed. */
static void test_edge_specs_accepted(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    cmee_symbol_spec s;
    struct {
        const char *name;
        double seed, tick;
        int precision;
        double vol, drift, volume;
        int tpm;
        double dof, clus, jr, jm, js;
    } edge[] = {
        {"E1", 0.01, 0.01, 2, 3.0, 2.0, 1, 4, 100, 2.0, 1000, 1.0, 1.0},
        {"E2", 1e12, 1.0, 0, 1e-6, -2.0, 1e9, 600, 2.001, 1e-3, 0, -1.0, 0},
        {"E3", 2e-10, 1e-10, 10, 0.3, 0, 100, 60, 0, 0, 1, 0, 0},
        {"E4", 35, 5, 0, 0.2, 0, 100, 60, 0, 0, 0, 0, 0},
        {"E5", 0.25, 0.25, 2, 0.2, 0, 100, 7, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        cmee_symbol_spec_init(&s, edge[i].name);
        s.seed_price = edge[i].seed;
        s.tick_size = edge[i].tick;
        s.precision = edge[i].precision;
        s.volatility = edge[i].vol;
        s.drift = edge[i].drift;
        s.volume = edge[i].volume;
        s.ticks_per_minute = edge[i].tpm;
        s.tail_dof = edge[i].dof;
        s.clustering = edge[i].clus;
        s.jump_rate = edge[i].jr;
        s.jump_mean = edge[i].jm;
        s.jump_stdev = edge[i].js;
        assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
        assert_anchor_price(m, edge[i].name, edge[i].seed);
    }
    cmee_market_free(m);
}

/* A fixture market, freed by the teardown even when the test fails. */
static int market_setup(void **state)
{
    cmee_market *m = NULL;
    *state = NULL;
    if (cmee_market_new(42, NULL, &m) != CMEE_OK)
        return -1;
    *state = m;
    return 0;
}

static int market_teardown(void **state)
{
    cmee_market_free(*state);
    return 0;
}

/* The header promises both that every series passes through its seed price at the anchor and
 * that prices lie on the tick grid, so a seed between two ticks must be refused, naming
 * seed_price (or, if accepted, be the exact anchor price). */
static void test_off_grid_seed(void **state)
{
    cmee_market *m = *state;
    const struct {
        double seed, tick;
        int precision;
    } cases[] = {{100.005, 0.01, 2}, {5880.1, 0.25, 2}, {35, 10, 0}, {1.000015, 0.00001, 6}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cmee_symbol_spec s;
        cmee_symbol_spec_init(&s, "OFFGRID");
        s.seed_price = cases[i].seed;
        s.tick_size = cases[i].tick;
        s.precision = cases[i].precision;
        size_t n = cmee_market_symbol_count(m);
        cmee_status st = cmee_market_set_symbol(m, &s);
        if (st == CMEE_OK) {
            double p = 0;
            assert_status(m, cmee_market_price(m, "OFFGRID", CMEE_ANCHOR_TIME, &p), CMEE_OK);
            if (p != cases[i].seed) {
                print_error("seed %.17g (tick %g) accepted but the anchor price is %.17g\n",
                            cases[i].seed, cases[i].tick, p);
                fail();
            }
        } else {
            assert_status(m, st, CMEE_EINVAL);
            assert_int_equal(strncmp(cmee_market_errmsg(m), "seed_price:", 11), 0);
            assert_int_equal(cmee_market_symbol_count(m), n);
        }
    }
}

/* Moving BTCUSD's seed price moves its anchor exactly there and scales the same random path:
 * every candle keeps its close/open ratio up to tick rounding. Other symbols are untouched. */
static void test_override_seed_price(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n = cmee_market_symbol_count(m);
    cmee_candle before[24], after[24], eth0[24], eth1[24], y0, y1;
    get_candles(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME + DAY_MS, 24, before);
    get_candles(m, "BTCUSD", CMEE_TF_1D, CMEE_ANCHOR_TIME + 365 * DAY_MS, 1, &y0);
    get_candles(m, "ETHUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME + DAY_MS, 24, eth0);

    cmee_symbol_spec s, back;
    assert_status(m, cmee_market_symbol(m, "BTCUSD", &s), CMEE_OK);
    assert_true(s.seed_price == 93500.0);
    s.seed_price = 50000;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    assert_int_equal(cmee_market_symbol_count(m), n);
    assert_status(m, cmee_market_symbol(m, "BTCUSD", &back), CMEE_OK);
    assert_spec_equal(s, back);
    assert_status(m, cmee_market_symbol_at(m, 0, &back), CMEE_OK);
    assert_string_equal(back.symbol, "BTCUSD"); /* still first: replaced in place */
    assert_anchor_price(m, "BTCUSD", 50000.0);

    get_candles(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME + DAY_MS, 24, after);
    get_candles(m, "BTCUSD", CMEE_TF_1D, CMEE_ANCHOR_TIME + 365 * DAY_MS, 1, &y1);
    for (int i = 0; i < 24; i++) {
        assert_true(after[i].time == before[i].time);
        assert_true(after[i].volume == before[i].volume);
        assert_rel_near(after[i].close / after[i].open, before[i].close / before[i].open, 1e-6);
        assert_rel_near(after[i].high / after[i].low, before[i].high / before[i].low, 1e-6);
        assert_rel_near(after[i].open / before[i].open, 50000.0 / 93500.0, 1e-6);
    }
    assert_rel_near(y1.close / y1.open, y0.close / y0.open, 1e-6);
    assert_rel_near(y1.close / y0.close, 50000.0 / 93500.0, 1e-6);
    get_candles(m, "ETHUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME + DAY_MS, 24, eth1);
    assert_memory_equal(eth0, eth1, sizeof eth0);

    /* Restoring the seed restores the series bit for bit. */
    s.seed_price = 93500;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    get_candles(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME + DAY_MS, 24, after);
    assert_memory_equal(before, after, sizeof before);
    cmee_market_free(m);
}

/* Changing the volatility reshapes the path but keeps the anchor, and the result is a pure
 * function of (seed, spec): the same in another market and restored by the old spec. */
static void test_override_volatility(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42), *m2 = cmee_test_market(42);
    cmee_candle before[48], after[48], again[48], other[48];
    const int64_t from = CMEE_ANCHOR_TIME + 30 * DAY_MS;
    get_candles(m, "BTCUSD", CMEE_TF_1H, from, 48, before);

    cmee_symbol_spec s, orig;
    assert_status(m, cmee_market_symbol(m, "BTCUSD", &orig), CMEE_OK);
    s = orig;
    s.volatility = 1.1;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
    assert_status(m2, cmee_market_set_symbol(m2, &s), CMEE_OK);
    assert_anchor_price(m, "BTCUSD", 93500.0);
    get_candles(m, "BTCUSD", CMEE_TF_1H, from, 48, after);
    get_candles(m, "BTCUSD", CMEE_TF_1H, from, 48, again);
    get_candles(m2, "BTCUSD", CMEE_TF_1H, from, 48, other);
    assert_memory_equal(after, again, sizeof after);
    assert_memory_equal(after, other, sizeof after);
    int differ = 0;
    for (int i = 0; i < 48; i++)
        differ += after[i].close != before[i].close;
    assert_true(differ >= 40);
    /* The same noise on a variance clock four times faster: with x = -V/2 + W(V) the log
     * move from the anchor becomes x_new = 2 x_old - 0.55^2 t (t in years), up to ticks. */
    for (int i = 0; i < 48; i++) {
        double t = (double)(before[i].time + HOUR_MS - CMEE_ANCHOR_TIME) / (365.25 * DAY_MS);
        double x_old = log(before[i].close / 93500.0), x_new = log(after[i].close / 93500.0);
        assert_near(x_new, 2.0 * x_old - 0.55 * 0.55 * t, 1e-6);
    }

    assert_status(m, cmee_market_set_symbol(m, &orig), CMEE_OK);
    get_candles(m, "BTCUSD", CMEE_TF_1H, from, 48, again);
    assert_memory_equal(before, again, sizeof before);
    cmee_market_free(m);
    cmee_market_free(m2);
}

/* ---- bad specs ------------------------------------------------------------------------------ */

typedef enum field_id {
    F_SYMBOL,
    F_SEED,
    F_TICK,
    F_PRECISION,
    F_VOL,
    F_DRIFT,
    F_VOLUME,
    F_TPM,
    F_DOF,
    F_CLUSTERING,
    F_JUMP_RATE,
    F_JUMP_MEAN,
    F_JUMP_STDEV,
    F_CLASS,
} field_id;

typedef struct bad_spec {
    const char *field; /* the name errmsg must start with */
    field_id id;
    double value;     /* for numeric fields */
    const char *name; /* for F_SYMBOL: up to 16 bytes copied, no NUL added at 16 */
} bad_spec;

static const bad_spec bad_specs[] = {
    {"symbol", F_SYMBOL, 0, ""},
    {"symbol", F_SYMBOL, 0, "btc"},
    {"symbol", F_SYMBOL, 0, "BTCusd"},
    {"symbol", F_SYMBOL, 0, "ABCDEFGHIJKLMNOP"}, /* 16 characters: no room for the NUL */
    {"symbol", F_SYMBOL, 0, "A B"},
    {"symbol", F_SYMBOL, 0, "A/B"},
    {"seed_price", F_SEED, 0, NULL},
    {"seed_price", F_SEED, -1, NULL},
    {"seed_price", F_SEED, NAN, NULL},
    {"seed_price", F_SEED, INFINITY, NULL},
    {"seed_price", F_SEED, 0.005, NULL}, /* below one tick of 0.01 */
    {"tick_size", F_TICK, 0, NULL},
    {"tick_size", F_TICK, -0.01, NULL},
    {"tick_size", F_TICK, 0.015, NULL}, /* precision 2: not a whole number of 0.01 */
    {"tick_size", F_TICK, 0.001, NULL}, /* precision 2: finer than 0.01 */
    {"tick_size", F_TICK, NAN, NULL},
    {"precision", F_PRECISION, -1, NULL},
    {"precision", F_PRECISION, 11, NULL},
    {"volatility", F_VOL, 0, NULL},
    {"volatility", F_VOL, -0.5, NULL},
    {"volatility", F_VOL, 3.5, NULL},
    {"volatility", F_VOL, NAN, NULL},
    {"volatility", F_VOL, INFINITY, NULL},
    {"drift", F_DRIFT, 3, NULL},
    {"drift", F_DRIFT, -2.5, NULL},
    {"drift", F_DRIFT, NAN, NULL},
    {"volume", F_VOLUME, 0, NULL},
    {"volume", F_VOLUME, 0.5, NULL},
    {"volume", F_VOLUME, 2e9, NULL},
    {"volume", F_VOLUME, NAN, NULL},
    {"ticks_per_minute", F_TPM, 3, NULL},
    {"ticks_per_minute", F_TPM, 601, NULL},
    {"ticks_per_minute", F_TPM, 0, NULL},
    {"tail_dof", F_DOF, 2, NULL},
    {"tail_dof", F_DOF, 1.5, NULL},
    {"tail_dof", F_DOF, 101, NULL},
    {"tail_dof", F_DOF, -3, NULL},
    {"tail_dof", F_DOF, NAN, NULL},
    {"clustering", F_CLUSTERING, -0.1, NULL},
    {"clustering", F_CLUSTERING, 2.5, NULL},
    {"clustering", F_CLUSTERING, NAN, NULL},
    {"jump_rate", F_JUMP_RATE, -1, NULL},
    {"jump_rate", F_JUMP_RATE, 1001, NULL},
    {"jump_rate", F_JUMP_RATE, NAN, NULL},
    {"jump_mean", F_JUMP_MEAN, 2, NULL},
    {"jump_mean", F_JUMP_MEAN, -1.5, NULL},
    {"jump_stdev", F_JUMP_STDEV, -0.1, NULL},
    {"jump_stdev", F_JUMP_STDEV, 1.5, NULL},
    {"asset_class", F_CLASS, 99, NULL},
    {"asset_class", F_CLASS, -1, NULL},
    {"asset_class", F_CLASS, 7, NULL},
};

static void apply_bad(cmee_symbol_spec *s, const bad_spec *b)
{
    switch (b->id) {
    case F_SYMBOL: {
        size_t len = strlen(b->name);
        memset(s->symbol, 0, sizeof s->symbol);
        memcpy(s->symbol, b->name, len < sizeof s->symbol ? len : sizeof s->symbol);
        break;
    }
    case F_SEED:
        s->seed_price = b->value;
        break;
    case F_TICK:
        s->tick_size = b->value;
        break;
    case F_PRECISION:
        s->precision = (int)b->value;
        break;
    case F_VOL:
        s->volatility = b->value;
        break;
    case F_DRIFT:
        s->drift = b->value;
        break;
    case F_VOLUME:
        s->volume = b->value;
        break;
    case F_TPM:
        s->ticks_per_minute = (int)b->value;
        break;
    case F_DOF:
        s->tail_dof = b->value;
        break;
    case F_CLUSTERING:
        s->clustering = b->value;
        break;
    case F_JUMP_RATE:
        s->jump_rate = b->value;
        break;
    case F_JUMP_MEAN:
        s->jump_mean = b->value;
        break;
    case F_JUMP_STDEV:
        s->jump_stdev = b->value;
        break;
    case F_CLASS:
        s->asset_class = (cmee_asset_class)(int)b->value;
        break;
    }
}

/* All specs of a market, in order. */
static cmee_symbol_spec *snapshot(const cmee_market *m, size_t *n)
{
    *n = cmee_market_symbol_count(m);
    cmee_symbol_spec *all = calloc(*n, sizeof *all);
    assert_non_null(all);
    for (size_t i = 0; i < *n; i++)
        assert_status(m, cmee_market_symbol_at(m, i, &all[i]), CMEE_OK);
    return all;
}

static void assert_registry_unchanged(const cmee_market *m, const cmee_symbol_spec *all, size_t n)
{
    assert_int_equal(cmee_market_symbol_count(m), n);
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec s;
        assert_status(m, cmee_market_symbol_at(m, i, &s), CMEE_OK);
        assert_spec_equal(s, all[i]);
    }
}

static void check_bad(cmee_market *m, const cmee_symbol_spec *spec, const bad_spec *b,
                      const cmee_symbol_spec *all, size_t n)
{
    cmee_status st = cmee_market_set_symbol(m, spec);
    const char *msg = cmee_market_errmsg(m);
    size_t flen = strlen(b->field);
    if (st != CMEE_EINVAL || strncmp(msg, b->field, flen) != 0 || msg[flen] != ':') {
        print_error("bad %s (value %g, name \"%s\") on \"%.16s\": got %s, errmsg \"%s\"\n",
                    b->field, b->value, b->name ? b->name : "", spec->symbol, cmee_status_name(st),
                    msg);
        fail();
    }
    assert_registry_unchanged(m, all, n);
}

/* Each bad field is refused with CMEE_EINVAL, names itself first in errmsg, and changes
 * nothing: neither as an override of BTCUSD nor as a new symbol. */
static void test_bad_specs(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    size_t n;
    cmee_symbol_spec *all = snapshot(m, &n);
    cmee_candle c0[8], c1[8];
    get_candles(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME, 8, c0);
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
        const bad_spec *b = &bad_specs[i];
        cmee_symbol_spec s;
        /* As an override of an existing symbol (for symbol names: a rename attempt). */
        assert_status(m, cmee_market_symbol(m, "BTCUSD", &s), CMEE_OK);
        apply_bad(&s, b);
        check_bad(m, &s, b, all, n);
        /* As a new symbol built from the defaults. */
        cmee_symbol_spec_init(&s, "NEWSYM");
        apply_bad(&s, b);
        check_bad(m, &s, b, all, n);
        cmee_symbol_spec probe;
        assert_status(m, cmee_market_symbol(m, "NEWSYM", &probe), CMEE_ENOTFOUND);
    }
    get_candles(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME, 8, c1);
    assert_memory_equal(c0, c1, sizeof c0);

    assert_status(m, cmee_market_set_symbol(m, NULL), CMEE_EINVAL);
    assert_true(cmee_market_errmsg(m)[0] != '\0');
    assert_registry_unchanged(m, all, n);
    cmee_symbol_spec ok;
    cmee_symbol_spec_init(&ok, "GOOD");
    assert_status(NULL, cmee_market_set_symbol(NULL, &ok), CMEE_EINVAL);
    assert_status(NULL, cmee_market_set_symbol(NULL, NULL), CMEE_EINVAL);
    free(all);
    cmee_market_free(m);
}

/* ---- names ---------------------------------------------------------------------------------- */

/* All six timeframes parse, name and measure consistently; anything else is refused. */
static void test_timeframes(void **state)
{
    (void)state;
    const struct {
        const char *name;
        cmee_timeframe tf;
        int64_t ms;
    } tfs[] = {
        {"1m", CMEE_TF_1M, 60000},   {"5m", CMEE_TF_5M, 300000},   {"15m", CMEE_TF_15M, 900000},
        {"1h", CMEE_TF_1H, 3600000}, {"4h", CMEE_TF_4H, 14400000}, {"1d", CMEE_TF_1D, 86400000},
    };
    for (size_t i = 0; i < sizeof tfs / sizeof tfs[0]; i++) {
        cmee_timeframe tf = (cmee_timeframe)0;
        assert_int_equal(cmee_timeframe_parse(tfs[i].name, &tf), CMEE_OK);
        assert_int_equal(tf, tfs[i].tf);
        assert_non_null(cmee_timeframe_name(tfs[i].tf));
        assert_string_equal(cmee_timeframe_name(tfs[i].tf), tfs[i].name);
        assert_true(cmee_timeframe_ms(tfs[i].tf) == tfs[i].ms);
        assert_true(cmee_timeframe_ms(tfs[i].tf) == (int64_t)tfs[i].tf * MIN_MS);
    }
    const char *bad[] = {"", "2h", "1M", "1H", "1 m", "1m ", "60", "1w", "d1", "15"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cmee_timeframe tf = (cmee_timeframe)12345;
        assert_int_equal(cmee_timeframe_parse(bad[i], &tf), CMEE_EINVAL);
        assert_int_equal(tf, 12345);
    }
    cmee_timeframe tf = (cmee_timeframe)12345;
    assert_int_equal(cmee_timeframe_parse(NULL, &tf), CMEE_EINVAL);
    assert_int_equal(tf, 12345);
    assert_int_equal(cmee_timeframe_parse("1h", NULL), CMEE_EINVAL);
    const int notf[] = {7, 0, 2, -1, 100000, 1441};
    for (size_t i = 0; i < sizeof notf / sizeof notf[0]; i++) {
        assert_null(cmee_timeframe_name((cmee_timeframe)notf[i]));
        assert_true(cmee_timeframe_ms((cmee_timeframe)notf[i]) == 0);
    }
}

/* All seven asset classes round-trip through their names; other names and values are not
 * classes. */
static void test_asset_classes(void **state)
{
    (void)state;
    const char *names[] = {"crypto", "fx", "metal", "index", "stock", "commodity", "other"};
    for (int i = 0; i < 7; i++) {
        const char *name = cmee_asset_class_name((cmee_asset_class)i);
        assert_non_null(name);
        assert_string_equal(name, names[i]);
        cmee_asset_class c = (cmee_asset_class)77;
        assert_int_equal(cmee_asset_class_parse(name, &c), CMEE_OK);
        assert_int_equal(c, i);
    }
    assert_int_equal(CMEE_CLASS_CRYPTO, 0);
    assert_int_equal(CMEE_CLASS_OTHER, 6);
    const char *bad[] = {"", "Crypto", "FX", "crypt", "cryptos", "stocks", " fx", "7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cmee_asset_class c = (cmee_asset_class)77;
        assert_int_equal(cmee_asset_class_parse(bad[i], &c), CMEE_EINVAL);
        assert_int_equal(c, 77);
    }
    cmee_asset_class c = (cmee_asset_class)77;
    assert_int_equal(cmee_asset_class_parse(NULL, &c), CMEE_EINVAL);
    assert_int_equal(c, 77);
    assert_int_equal(cmee_asset_class_parse("fx", NULL), CMEE_EINVAL);
    assert_null(cmee_asset_class_name((cmee_asset_class)7));
    assert_null(cmee_asset_class_name((cmee_asset_class)99));
    assert_null(cmee_asset_class_name((cmee_asset_class)-1));
}

/* The library's struct sizes equal the header's, so bindings can check layouts. */
static void test_sizeof(void **state)
{
    (void)state;
    assert_int_equal(cmee_sizeof_candle(), sizeof(cmee_candle));
    assert_int_equal(cmee_sizeof_tick(), sizeof(cmee_tick));
    assert_int_equal(cmee_sizeof_symbol_spec(), sizeof(cmee_symbol_spec));
    assert_int_equal(sizeof(cmee_candle), 48);
    assert_int_equal(sizeof(cmee_tick), 24);
}

/* ---- correlation ---------------------------------------------------------------------------- */

#define CN 48 /* hourly candles compared */
static const int64_t CFROM = CMEE_ANCHOR_TIME + 10 * DAY_MS;

static void series(const cmee_market *m, const char *sym, cmee_candle *out)
{
    get_candles(m, sym, CMEE_TF_1H, CFROM - DAY_MS, CN, out);
}

/* Correlating {BTCUSD, ETHUSD} keeps BTCUSD bit-identical, changes ETHUSD (still through its
 * seed at the anchor), gives 1m returns the asked correlation, and n == 1 undoes it. */
static void test_correlation_basic(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    cmee_candle btc0[CN], eth0[CN], btc1[CN], eth1[CN];
    series(m, "BTCUSD", btc0);
    series(m, "ETHUSD", eth0);
    double r0 = return_corr(m, "BTCUSD", "ETHUSD", CFROM, 2000);
    assert_true(fabs(r0) < 0.1);

    const char *pair[] = {"BTCUSD", "ETHUSD"};
    const double rho8[] = {1, 0.8, 0.8, 1};
    assert_status(m, cmee_market_set_correlation(m, pair, 2, rho8), CMEE_OK);
    series(m, "BTCUSD", btc1);
    series(m, "ETHUSD", eth1);
    assert_memory_equal(btc0, btc1, sizeof btc0);
    int differ = 0;
    for (int i = 0; i < CN; i++)
        differ += eth1[i].close != eth0[i].close;
    assert_true(differ >= CN - 4);
    assert_anchor_price(m, "BTCUSD", 93500.0);
    assert_anchor_price(m, "ETHUSD", 3350.0);
    double r1 = return_corr(m, "BTCUSD", "ETHUSD", CFROM, 2000);
    assert_near(r1, 0.8, 0.05);
    /* Other symbols are not affected. */
    double rs = return_corr(m, "BTCUSD", "SOLUSD", CFROM, 2000);
    assert_true(fabs(rs) < 0.1);

    /* A group of one dissolves the group: ETHUSD is back to its own series, bit for bit. */
    const char *eth[] = {"ETHUSD"};
    const double one[] = {1};
    assert_status(m, cmee_market_set_correlation(m, eth, 1, one), CMEE_OK);
    series(m, "ETHUSD", eth1);
    series(m, "BTCUSD", btc1);
    assert_memory_equal(eth0, eth1, sizeof eth0);
    assert_memory_equal(btc0, btc1, sizeof btc0);
    /* Both are free again: each may join a new group. */
    const char *pair2[] = {"ETHUSD", "SOLUSD"};
    assert_status(m, cmee_market_set_correlation(m, pair2, 2, rho8), CMEE_OK);
    series(m, "ETHUSD", eth1);
    assert_memory_equal(eth0, eth1, sizeof eth0); /* first of its group now */
    const char *pair3[] = {"BTCUSD", "XAUUSD"};
    assert_status(m, cmee_market_set_correlation(m, pair3, 2, rho8), CMEE_OK);
    /* Removing a symbol that is in no group is a no-op success. */
    const char *eur[] = {"EURUSD"};
    cmee_candle e0[CN], e1[CN];
    series(m, "EURUSD", e0);
    assert_status(m, cmee_market_set_correlation(m, eur, 1, one), CMEE_OK);
    series(m, "EURUSD", e1);
    assert_memory_equal(e0, e1, sizeof e0);
    cmee_market_free(m);
}

/* Setting the same symbols again replaces the group's matrix; listing them in another order
 * makes the new first symbol the one that keeps its own series. */
static void test_correlation_replace(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    cmee_candle btc0[CN], eth0[CN], eth8[CN], x[CN];
    series(m, "BTCUSD", btc0);
    series(m, "ETHUSD", eth0);
    const char *pair[] = {"BTCUSD", "ETHUSD"};
    const double rho8[] = {1, 0.8, 0.8, 1}, rho_neg[] = {1, -0.5, -0.5, 1};
    assert_status(m, cmee_market_set_correlation(m, pair, 2, rho8), CMEE_OK);
    series(m, "ETHUSD", eth8);

    assert_status(m, cmee_market_set_correlation(m, pair, 2, rho_neg), CMEE_OK);
    series(m, "BTCUSD", x);
    assert_memory_equal(btc0, x, sizeof x);
    series(m, "ETHUSD", x);
    assert_memory_not_equal(eth8, x, sizeof x);
    assert_memory_not_equal(eth0, x, sizeof x);
    assert_near(return_corr(m, "BTCUSD", "ETHUSD", CFROM, 2000), -0.5, 0.05);

    /* Back to 0.8: the same series as the first time (a pure function of the matrix). */
    assert_status(m, cmee_market_set_correlation(m, pair, 2, rho8), CMEE_OK);
    series(m, "ETHUSD", x);
    assert_memory_equal(eth8, x, sizeof x);

    /* The same two symbols in the other order replace the group, ETHUSD leading. */
    const char *rev[] = {"ETHUSD", "BTCUSD"};
    assert_status(m, cmee_market_set_correlation(m, rev, 2, rho8), CMEE_OK);
    series(m, "ETHUSD", x);
    assert_memory_equal(eth0, x, sizeof x);
    series(m, "BTCUSD", x);
    assert_memory_not_equal(btc0, x, sizeof x);
    assert_anchor_price(m, "BTCUSD", 93500.0);
    assert_near(return_corr(m, "BTCUSD", "ETHUSD", CFROM, 2000), 0.8, 0.05);

    /* A three-symbol group, and a second group beside it. */
    const char *tri[] = {"SOLUSD", "BNBUSD", "XRPUSD"};
    const double m3[] = {1, 0.5, 0.3, 0.5, 1, 0.2, 0.3, 0.2, 1};
    assert_status(m, cmee_market_set_correlation(m, tri, 3, m3), CMEE_OK);
    assert_near(return_corr(m, "SOLUSD", "XRPUSD", CFROM, 2000), 0.3, 0.06);
    assert_near(return_corr(m, "BNBUSD", "XRPUSD", CFROM, 2000), 0.2, 0.06);
    series(m, "ETHUSD", x);
    assert_memory_equal(eth0, x, sizeof x);
    cmee_market_free(m);
}

/* Bad groups are refused with their codes and change nothing. */
static void test_correlation_errors(void **state)
{
    (void)state;
    cmee_market *m = cmee_test_market(42);
    const char *pair[] = {"BTCUSD", "ETHUSD"};
    const double rho8[] = {1, 0.8, 0.8, 1};
    assert_status(m, cmee_market_set_correlation(m, pair, 2, rho8), CMEE_OK);
    cmee_candle btc[CN], eth[CN], sol[CN], bnb[CN], x[CN];
    series(m, "BTCUSD", btc);
    series(m, "ETHUSD", eth);
    series(m, "SOLUSD", sol);
    series(m, "BNBUSD", bnb);

    const char *free_pair[] = {"SOLUSD", "BNBUSD"};
    const struct {
        const char *what;
        const double *mat;
        size_t n;
        const char *const *syms;
        cmee_status want;
    } cases[] = {
        {"non-symmetric", (const double[]){1, 0.5, 0.4, 1}, 2, free_pair, CMEE_EINVAL},
        {"diagonal 0.9", (const double[]){0.9, 0.5, 0.5, 1}, 2, free_pair, CMEE_EINVAL},
        {"diagonal 1.1", (const double[]){1, 0.5, 0.5, 1.1}, 2, free_pair, CMEE_EINVAL},
        {"rho 1.5", (const double[]){1, 1.5, 1.5, 1}, 2, free_pair, CMEE_EINVAL},
        {"rho -1.01", (const double[]){1, -1.01, -1.01, 1}, 2, free_pair, CMEE_EINVAL},
        {"rho NaN", (const double[]){1, NAN, NAN, 1}, 2, free_pair, CMEE_EINVAL},
        {"singular rho 1", (const double[]){1, 1, 1, 1}, 2, free_pair, CMEE_EINVAL},
        {"singular rho -1", (const double[]){1, -1, -1, 1}, 2, free_pair, CMEE_EINVAL},
        {"not positive definite", (const double[]){1, 0.9, 0.9, 0.9, 1, -0.9, 0.9, -0.9, 1}, 3,
         (const char *const[]){"SOLUSD", "BNBUSD", "XRPUSD"}, CMEE_EINVAL},
        {"unknown symbol", rho8, 2, (const char *const[]){"SOLUSD", "NOPE"}, CMEE_ENOTFOUND},
        {"duplicate symbol", rho8, 2, (const char *const[]){"SOLUSD", "SOLUSD"}, CMEE_EINVAL},
        {"NULL symbol", rho8, 2, (const char *const[]){"SOLUSD", NULL}, CMEE_EINVAL},
        {"ETHUSD in a group", rho8, 2, (const char *const[]){"SOLUSD", "ETHUSD"}, CMEE_EEXIST},
        {"BTCUSD in a group", rho8, 2, (const char *const[]){"BTCUSD", "SOLUSD"}, CMEE_EEXIST},
        {"superset of a group", (const double[]){1, 0.2, 0.2, 0.2, 1, 0.2, 0.2, 0.2, 1}, 3,
         (const char *const[]){"BTCUSD", "ETHUSD", "SOLUSD"}, CMEE_EEXIST},
        {"n == 0", rho8, 0, free_pair, CMEE_EINVAL},
        {"group of one, diagonal 0.5", (const double[]){0.5}, 1, (const char *const[]){"ETHUSD"},
         CMEE_EINVAL},
        {"NULL matrix", NULL, 2, free_pair, CMEE_EINVAL},
        {"NULL symbols", rho8, 2, NULL, CMEE_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cmee_status st = cmee_market_set_correlation(m, cases[i].syms, cases[i].n, cases[i].mat);
        if (st != cases[i].want) {
            print_error("%s: got %s, want %s (%s)\n", cases[i].what, cmee_status_name(st),
                        cmee_status_name(cases[i].want), cmee_market_errmsg(m));
            fail();
        }
        assert_true(cmee_market_errmsg(m)[0] != '\0');
        series(m, "BTCUSD", x);
        assert_memory_equal(btc, x, sizeof x);
        series(m, "ETHUSD", x);
        assert_memory_equal(eth, x, sizeof x);
        series(m, "SOLUSD", x);
        assert_memory_equal(sol, x, sizeof x);
        series(m, "BNBUSD", x);
        assert_memory_equal(bnb, x, sizeof x);
    }
    assert_status(NULL, cmee_market_set_correlation(NULL, pair, 2, rho8), CMEE_EINVAL);
    /* None of the refused calls grouped SOLUSD or BNBUSD: they are free to join a group. */
    assert_status(m, cmee_market_set_correlation(m, free_pair, 2, rho8), CMEE_OK);
    series(m, "SOLUSD", x);
    assert_memory_equal(sol, x, sizeof x);
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_contents),
        cmocka_unit_test(test_builtin_specs_valid),
        cmocka_unit_test(test_lookup_errors),
        cmocka_unit_test(test_builtin_anchor_prices),
        cmocka_unit_test(test_spec_init_defaults),
        cmocka_unit_test(test_custom_symbol),
        cmocka_unit_test(test_edge_specs_accepted),
        cmocka_unit_test_setup_teardown(test_off_grid_seed, market_setup, market_teardown),
        cmocka_unit_test(test_override_seed_price),
        cmocka_unit_test(test_override_volatility),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_timeframes),
        cmocka_unit_test(test_asset_classes),
        cmocka_unit_test(test_sizeof),
        cmocka_unit_test(test_correlation_basic),
        cmocka_unit_test(test_correlation_replace),
        cmocka_unit_test(test_correlation_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
