/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Ticks: they fold exactly into their 1m candle, cmee_market_price is the last tick at or
 * before t, and both are deterministic. Checked on random minutes of 2000-2100 for built-in
 * and custom symbols (4, 7, 20 and 600 ticks a minute, fat tails, clustering, jumps). The
 * jump symbols drift far from their seed over decades (the jump compensator) and may sit at
 * the one-tick floor or the price cap there; TAILS stays in range for the whole century. */
#include <stdbool.h>
#include <stdlib.h>

#include "cmee_test.h"

#define SENTINEL 0xAB
#define MAXT 600
/* 2100-01-01T00:00:00Z */
#define Y2100 INT64_C(4102444800000)
#define NRANDOM 300

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A uniform integer in [0, n). */
static int64_t uniform(uint64_t *s, int64_t n)
{
    return (int64_t)(splitmix(s) % (uint64_t)n);
}

typedef struct custom {
    const char *name;
    int tpm;
    double seed, tick;
    int precision;
    double vol, dof, clustering, jump_rate, jump_mean, jump_stdev;
} custom;

static const custom customs[] = {
    {"TPM4", 4, 50.0, 0.01, 2, 0.3, 0, 0, 0, 0, 0},
    {"TPM600", 600, 1.2345, 0.0001, 4, 0.5, 0, 0, 0, 0, 0},
    {"TPM7", 7, 100.0, 0.25, 2, 0.8, 0, 0, 0, 0, 0},
    {"TAILS", 60, 250.0, 0.01, 2, 0.4, 3.0, 1.0, 0, 0, 0},
    {"FAT", 60, 250.0, 0.01, 2, 0.4, 3.0, 1.5, 1000, 0.0, 0.05},
    {"JUMPY", 20, 20.0, 0.001, 3, 0.1, 0, 0, 1000, -0.02, 0.1},
};
#define NCUSTOM (sizeof customs / sizeof customs[0])

static const char *const builtin_syms[] = {"BTCUSD", "EURUSD",  "USDJPY",
                                           "XAUUSD", "DOGEUSD", "US30"};
#define NBUILTIN (sizeof builtin_syms / sizeof builtin_syms[0])
#define NSYMS (NBUILTIN + NCUSTOM)

static void add_custom(cmee_market *m, const custom *c)
{
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, c->name);
    s.ticks_per_minute = c->tpm;
    s.seed_price = c->seed;
    s.tick_size = c->tick;
    s.precision = c->precision;
    s.volatility = c->vol;
    s.tail_dof = c->dof;
    s.clustering = c->clustering;
    s.jump_rate = c->jump_rate;
    s.jump_mean = c->jump_mean;
    s.jump_stdev = c->jump_stdev;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
}

/* A market with seed 42 and the custom symbols, registered in either order. */
static cmee_market *make_market(uint64_t seed, bool reverse)
{
    cmee_market *m = cmee_test_market(seed);
    for (size_t i = 0; i < NCUSTOM; i++)
        add_custom(m, &customs[reverse ? NCUSTOM - 1 - i : i]);
    return m;
}

static const char *sym_at(size_t i)
{
    return i < NBUILTIN ? builtin_syms[i] : customs[i - NBUILTIN].name;
}

/* Is @p price the double nearest to a whole number of ticks? Exact at any magnitude, where
 * price * 10^precision itself would carry rounding error. */
static bool on_grid(double price, const cmee_symbol_spec *s)
{
    double p10 = pow(10.0, s->precision), units = round(s->tick_size * p10);
    double k = round(price * p10 / units);
    return k >= 1 && (k * units) / p10 == price;
}

static double price_at(const cmee_market *m, const char *sym, int64_t t)
{
    double p = -1;
    assert_status(m, cmee_market_price(m, sym, t, &p), CMEE_OK);
    return p;
}

/* The price of the last tick at or before t. */
static double last_tick_price(const cmee_tick *ticks, size_t n, int64_t t)
{
    size_t i = 0;
    while (i + 1 < n && ticks[i + 1].time <= t)
        i++;
    return ticks[i].price;
}

/* Everything about the ticks of the minute starting at @p t0 that can be checked against its
 * 1m candle, plus cmee_market_price at a few instants. Returns the candle. */
static cmee_candle check_minute(const cmee_market *m, const char *sym, int64_t t0, uint64_t *rng)
{
    cmee_symbol_spec spec;
    assert_status(m, cmee_market_symbol(m, sym, &spec), CMEE_OK);
    size_t tpm = (size_t)spec.ticks_per_minute;
    cmee_candle c;
    size_t n = 0;
    assert_status(m, cmee_market_candles(m, sym, CMEE_TF_1M, t0, t0 + MIN_MS, &c, 1, &n), CMEE_OK);
    assert_int_equal(n, 1);
    assert_true(c.time == t0);

    static cmee_tick ticks[MAXT], again[MAXT];
    assert_status(m, cmee_market_ticks(m, sym, t0, ticks, MAXT, &n), CMEE_OK);
    assert_int_equal(n, tpm);
    /* Any instant of the minute names the same ticks. */
    int64_t off = uniform(rng, MIN_MS);
    size_t n2 = 0;
    assert_status(m, cmee_market_ticks(m, sym, t0 + off, again, MAXT, &n2), CMEE_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(ticks, again, n * sizeof *ticks);

    double hi = ticks[0].price, lo = ticks[0].price, vol = 0;
    bool touched_hi = false, touched_lo = false;
    for (size_t i = 0; i < n; i++) {
        const cmee_tick *k = &ticks[i];
        assert_true(k->time >= t0 && k->time < t0 + MIN_MS);
        if (i > 0)
            assert_true(k->time > ticks[i - 1].time);
        if (!(k->price > 0 && on_grid(k->price, &spec) && k->price >= c.low &&
              k->price <= c.high)) {
            print_error("%s tick %zu at %lld: price %.17g, candle low %.17g high %.17g\n", sym, i,
                        (long long)k->time, k->price, c.low, c.high);
            fail();
        }
        assert_true(k->volume >= 0 && k->volume == floor(k->volume));
        hi = fmax(hi, k->price);
        lo = fmin(lo, k->price);
        vol += k->volume;
        touched_hi = touched_hi || k->price == c.high;
        touched_lo = touched_lo || k->price == c.low;
    }
    if (!(ticks[0].time == t0 && ticks[0].price == c.open && ticks[n - 1].price == c.close &&
          hi == c.high && lo == c.low && vol == c.volume && touched_hi && touched_lo)) {
        print_error("%s minute %lld: ticks open %.17g close %.17g high %.17g low %.17g "
                    "volume %.17g; candle %.17g %.17g %.17g %.17g %.17g\n",
                    sym, (long long)t0, ticks[0].price, ticks[n - 1].price, hi, lo, vol, c.open,
                    c.close, c.high, c.low, c.volume);
        fail();
    }
    /* Ticks are evenly spaced from the open time. */
    for (size_t i = 0; i < n; i++)
        assert_true(ticks[i].time == t0 + (int64_t)i * MIN_MS / (int64_t)n);

    /* The price is the last tick at or before t. */
    assert_true(price_at(m, sym, t0) == c.open);
    assert_true(price_at(m, sym, t0 + MIN_MS - 1) == c.close);
    assert_true(price_at(m, sym, t0 + off) == last_tick_price(ticks, n, t0 + off));
    assert_true(price_at(m, sym, t0 + MIN_MS / 2) == last_tick_price(ticks, n, t0 + MIN_MS / 2));
    size_t i = 1 + (size_t)uniform(rng, (int64_t)n - 1);
    assert_true(price_at(m, sym, ticks[i].time) == ticks[i].price);
    assert_true(price_at(m, sym, ticks[i].time - 1) == ticks[i - 1].price);
    if (t0 + MIN_MS < CMEE_TIME_MAX)
        assert_true(price_at(m, sym, t0 + MIN_MS) == c.close); /* the next open */
    return c;
}

/* On 300 random minutes of 2000-2100 and 100 within 60 days of the anchor, ticks fold exactly
 * into the 1m candle of every symbol, and cmee_market_price follows the ticks. Every symbol
 * must see at least 50 minutes that moved, so no symbol passes on flat minutes alone. */
static void test_ticks_fold_random_minutes(void **state)
{
    (void)state;
    cmee_market *m = make_market(42, false);
    uint64_t rng = 20250101;
    const int64_t minutes = (Y2100 - CMEE_TIME_MIN) / MIN_MS;
    const int64_t near = 60 * DAY_MS / MIN_MS;
    int moved[NSYMS] = {0};
    for (int r = 0; r < NRANDOM + 100; r++) {
        int64_t t0 = r < NRANDOM ? CMEE_TIME_MIN + uniform(&rng, minutes) * MIN_MS
                                 : CMEE_ANCHOR_TIME + (uniform(&rng, 2 * near) - near) * MIN_MS;
        for (size_t s = 0; s < NSYMS; s++) {
            cmee_candle c = check_minute(m, sym_at(s), t0, &rng);
            moved[s] += c.high > c.low;
        }
    }
    for (size_t s = 0; s < NSYMS; s++) {
        if (moved[s] < 50) {
            print_error("%s: only %d of %d minutes moved\n", sym_at(s), moved[s], NRANDOM + 100);
            fail();
        }
    }
    cmee_market_free(m);
}

/* The edges: the first and last minute of the series, the anchor, and the first and last minute
 * of an hour and of a day. */
static void test_ticks_fold_edge_minutes(void **state)
{
    (void)state;
    cmee_market *m = make_market(42, false);
    uint64_t rng = 7;
    const int64_t A = CMEE_ANCHOR_TIME;
    const int64_t edges[] = {
        CMEE_TIME_MIN,
        CMEE_TIME_MIN + MIN_MS,
        CMEE_TIME_MAX - MIN_MS,
        A,
        A - MIN_MS,
        A + 59 * MIN_MS,
        A + HOUR_MS,
        A + DAY_MS - MIN_MS,
        Y2100,
        Y2100 - MIN_MS,
        CMEE_TIME_MAX - DAY_MS,
    };
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
        for (size_t s = 0; s < NSYMS; s++)
            check_minute(m, sym_at(s), edges[e], &rng);
    /* At the anchor every symbol's first tick is its seed price. */
    for (size_t s = 0; s < NSYMS; s++) {
        cmee_symbol_spec spec;
        assert_status(m, cmee_market_symbol(m, sym_at(s), &spec), CMEE_OK);
        assert_true(price_at(m, sym_at(s), A) == spec.seed_price);
    }
    cmee_market_free(m);
}

/* Minutes with a jump (found as 1m candles whose range dwarfs the diffusion) still fold
 * exactly, for a jump-only symbol and one with fat tails and clustering too. */
static void test_ticks_fold_jump_minutes(void **state)
{
    (void)state;
    cmee_market *m = make_market(42, false);
    uint64_t rng = 99;
    const char *syms[] = {"JUMPY", "FAT"};
    /* 1m diffusion is ~1.4e-4 (JUMPY) or ~5.5e-4 (FAT) in log terms; a 2 % range is a jump. */
    const double threshold = 0.02;
    static cmee_candle day[1440];
    for (size_t s = 0; s < 2; s++) {
        int found = 0;
        for (int d = 0; d < 60 && found < 15; d++) {
            int64_t from = CMEE_ANCHOR_TIME + (int64_t)(d * 37) * DAY_MS;
            size_t n = 0;
            assert_status(
                m, cmee_market_candles(m, syms[s], CMEE_TF_1M, from, from + DAY_MS, day, 1440, &n),
                CMEE_OK);
            assert_int_equal(n, 1440);
            for (size_t k = 0; k < n && found < 15; k++) {
                if (log(day[k].high / day[k].low) > threshold) {
                    cmee_candle c = check_minute(m, syms[s], day[k].time, &rng);
                    assert_candle_equal(c, day[k]);
                    found++;
                }
            }
        }
        if (found < 5) {
            print_error("%s: only %d jump minutes found\n", syms[s], found);
            fail();
        }
    }
    cmee_market_free(m);
}

/* Ticks and prices are a pure function of (seed, spec, time): the same twice, the same in a
 * market whose symbols were registered in another order, different under another seed. */
static void test_ticks_deterministic(void **state)
{
    (void)state;
    cmee_market *m1 = make_market(42, false), *m2 = make_market(42, true);
    cmee_market *other = make_market(43, false);
    static cmee_tick a[MAXT], b[MAXT], c[MAXT], d[MAXT];
    uint64_t rng = 5;
    const int64_t minutes = (Y2100 - CMEE_TIME_MIN) / MIN_MS;
    int differ = 0, total = 0;
    for (int r = 0; r < 40; r++) {
        int64_t t = CMEE_TIME_MIN + uniform(&rng, minutes * MIN_MS);
        for (size_t s = 0; s < NSYMS; s++) {
            const char *sym = sym_at(s);
            size_t na = 0, nb = 0, nc = 0, nd = 0;
            memset(a, 0, sizeof a);
            memset(b, SENTINEL, sizeof b);
            assert_status(m1, cmee_market_ticks(m1, sym, t, a, MAXT, &na), CMEE_OK);
            assert_status(m1, cmee_market_ticks(m1, sym, t, b, MAXT, &nb), CMEE_OK);
            assert_status(m2, cmee_market_ticks(m2, sym, t, c, MAXT, &nc), CMEE_OK);
            assert_status(other, cmee_market_ticks(other, sym, t, d, MAXT, &nd), CMEE_OK);
            assert_int_equal(na, nb);
            assert_int_equal(na, nc);
            assert_int_equal(na, nd);
            assert_memory_equal(a, b, na * sizeof *a);
            assert_memory_equal(a, c, na * sizeof *a);
            differ += memcmp(a, d, na * sizeof *a) != 0;
            total++;
            assert_true(price_at(m1, sym, t) == price_at(m2, sym, t));
        }
    }
    assert_true(differ >= total - 2);
    cmee_market_free(m1);
    cmee_market_free(m2);
    cmee_market_free(other);
}

/* buf NULL with cap 0 gives ticks_per_minute; a small cap is CMEE_ENOSPACE with the buffer
 * untouched; a large one is filled only up to ticks_per_minute. */
static void test_ticks_capacity(void **state)
{
    (void)state;
    cmee_market *m = make_market(42, false);
    static cmee_tick buf[MAXT + 8], pristine[MAXT + 8];
    const int64_t t = CMEE_ANCHOR_TIME + 12345678;
    for (size_t s = 0; s < NSYMS; s++) {
        const char *sym = sym_at(s);
        cmee_symbol_spec spec;
        assert_status(m, cmee_market_symbol(m, sym, &spec), CMEE_OK);
        size_t tpm = (size_t)spec.ticks_per_minute, n = 0;
        assert_status(m, cmee_market_ticks(m, sym, t, NULL, 0, &n), CMEE_OK);
        assert_int_equal(n, tpm);

        memset(buf, SENTINEL, sizeof buf);
        memset(pristine, SENTINEL, sizeof pristine);
        n = 777;
        assert_status(m, cmee_market_ticks(m, sym, t, buf, tpm - 1, &n), CMEE_ENOSPACE);
        assert_int_equal(n, 777);
        assert_memory_equal(buf, pristine, sizeof buf);
        assert_true(cmee_market_errmsg(m)[0] != '\0');

        assert_status(m, cmee_market_ticks(m, sym, t, buf, tpm, &n), CMEE_OK);
        assert_int_equal(n, tpm);
        assert_memory_equal(buf + tpm, pristine + tpm, 8 * sizeof *buf);
        memset(buf, SENTINEL, sizeof buf);
        assert_status(m, cmee_market_ticks(m, sym, t, buf, MAXT + 8, &n), CMEE_OK);
        assert_int_equal(n, tpm);
        assert_memory_equal(buf + tpm, pristine + tpm, (MAXT + 8 - tpm) * sizeof *buf);
    }
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_fold_random_minutes),
        cmocka_unit_test(test_ticks_fold_edge_minutes),
        cmocka_unit_test(test_ticks_fold_jump_minutes),
        cmocka_unit_test(test_ticks_deterministic),
        cmocka_unit_test(test_ticks_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
