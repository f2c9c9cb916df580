/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Microstructure (cmee/book.h): the tape folds exactly into the candles, quotes and books are
 * ordered and on the grid, everything is deterministic and reachable by random access, and
 * scenarios never change the past. */
#include "cmee_test.h"

#define NCANDLES 10080 /* a week of 1m candles per symbol */

/* A price on the symbol's tick grid: a whole number of ticks, and the double nearest it. */
static void assert_on_grid(const cmee_symbol_spec *sp, double price)
{
    double units = sp->tick_size * pow(10.0, sp->precision);
    double k = nearbyint(price * pow(10.0, sp->precision) / units);
    assert_true(k >= 1.0);
    assert_true(k * units / pow(10.0, sp->precision) == price);
}

static bool multiple_of(double x, double q)
{
    double r = x / q;
    return r == floor(r);
}

/* The contract of the issue, over a week of 1m candles for three symbols of different size
 * quanta: trade sizes sum exactly to the volume, prices stay in [low, high], the first trade
 * prints at the open and the last at the close, and buys print at the ask, sells at the bid. */
static void check_tape_folds(cmee_market *m, const char *sym, int64_t from)
{
    cmee_symbol_spec sp;
    assert_status(m, cmee_market_symbol(m, sym, &sp), CMEE_OK);
    double q;
    assert_status(m, cmee_market_size_quantum(m, sym, &q), CMEE_OK);
    cmee_candle *c = malloc(NCANDLES * sizeof *c);
    size_t nc;
    assert_status(m, cmee_market_candles(m, sym, CMEE_TF_1M, from, from + NCANDLES * MIN_MS, c,
                                         NCANDLES, &nc),
                  CMEE_OK);
    assert_int_equal(nc, NCANDLES);
    cmee_tape *tp;
    assert_status(m, cmee_tape_new(m, sym, &tp), CMEE_OK);
    size_t cap = (size_t)sp.ticks_per_minute;
    cmee_trade *tr = malloc(cap * sizeof *tr);
    cmee_bbo *bbo = malloc(cap * sizeof *bbo);
    cmee_tick *tk = malloc(cap * sizeof *tk);
    size_t ntrades = 0, nempty = 0;
    for (size_t i = 0; i < nc; i++) {
        size_t n, nb, nt;
        assert_status(m, cmee_tape_trades(tp, c[i].time, c[i].time + MIN_MS, tr, cap, &n),
                      CMEE_OK);
        assert_status(m, cmee_market_bbo_ticks(m, sym, c[i].time, bbo, cap, &nb), CMEE_OK);
        assert_status(m, cmee_market_ticks(m, sym, c[i].time, tk, cap, &nt), CMEE_OK);
        assert_int_equal(nb, nt);
        double sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            assert_true(tr[j].time >= c[i].time && tr[j].time < c[i].time + MIN_MS);
            assert_true(j == 0 || tr[j].time > tr[j - 1].time);
            assert_true(tr[j].price >= c[i].low && tr[j].price <= c[i].high);
            assert_true(tr[j].size > 0.0 && multiple_of(tr[j].size, q));
            sum += tr[j].size;
            /* The quote at the trade's tick: the trade is its last price, on the aggressor's
             * side of the spread. */
            size_t k = 0;
            while (bbo[k].time != tr[j].time)
                k++;
            assert_true(bbo[k].last == tr[j].price);
            assert_true(tk[k].price == tr[j].price);
            assert_int_equal(bbo[k].side, tr[j].side);
            if (tr[j].side == CMEE_AGGRESSOR_BUY)
                assert_true(tr[j].price == bbo[k].ask);
            else
                assert_true(tr[j].price == bbo[k].bid);
        }
        assert_true(sum == c[i].volume); /* exact: sizes are multiples of a power of two */
        if (c[i].volume == 0.0) {
            assert_int_equal(n, 0);
            nempty++;
        } else {
            assert_true(n >= 1);
            assert_true(tr[n - 1].price == c[i].close);
            assert_int_equal(tr[n - 1].time, tk[nt - 1].time);
            if (c[i].volume * (1.0 / q) >= 2.0) {
                assert_true(tr[0].price == c[i].open);
                assert_int_equal(tr[0].time, c[i].time);
            }
        }
        /* Every tick's quote: bid < ask, spread a whole number of ticks, at least one. */
        for (size_t k = 0; k < nb; k++) {
            assert_true(bbo[k].bid < bbo[k].ask);
            assert_true(bbo[k].bid >= sp.tick_size * (1 - 1e-12));
            assert_true(bbo[k].ask - bbo[k].bid >= sp.tick_size * (1 - 1e-9));
            assert_true(bbo[k].last == bbo[k].bid || bbo[k].last == bbo[k].ask);
            assert_true(bbo[k].last == tk[k].price);
        }
        ntrades += n;
    }
    /* The week's tape as one range query equals the minute-by-minute one. */
    size_t total;
    assert_status(m, cmee_market_trades(m, sym, from, from + NCANDLES * MIN_MS, NULL, 0, &total),
                  CMEE_OK);
    assert_int_equal(total, ntrades);
    assert_true(ntrades > NCANDLES * 3); /* a real tape, not one print per minute */
    (void)nempty;
    cmee_tape_free(tp);
    free(c);
    free(tr);
    free(bbo);
    free(tk);
}

static void test_tape_folds_into_candles(void **state)
{
    cmee_market *m = cmee_test_market(42);
    check_tape_folds(m, "BTCUSD", CMEE_ANCHOR_TIME);             /* quantum 1/16 */
    check_tape_folds(m, "EURUSD", CMEE_ANCHOR_TIME + 40 * DAY_MS); /* quantum 1/2 */
    check_tape_folds(m, "AAPL", CMEE_ANCHOR_TIME - 400 * DAY_MS);  /* quantum 1 */
    cmee_market_free(m);
}

/* The same contract on a market a crash and a halt rewrote: halted minutes have no trades. */
static void test_tape_under_scenarios(void **state)
{
    cmee_market *m = cmee_test_market(7);
    cmee_scenario *crash, *halt;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    assert_int_equal(cmee_scenario_preset("trading_halt", NULL, &halt, NULL), CMEE_OK);
    cmee_application_id id;
    int64_t t0 = CMEE_ANCHOR_TIME + 3 * HOUR_MS;
    assert_status(m, cmee_scenario_apply(m, crash, t0, &id), CMEE_OK);
    assert_status(m, cmee_scenario_apply(m, halt, t0 + DAY_MS, &id), CMEE_OK);
    check_tape_folds(m, "ETHUSD", CMEE_ANCHOR_TIME);
    size_t n;
    cmee_trade tr[600];
    assert_status(m, cmee_market_trades(m, "ETHUSD", t0 + DAY_MS, t0 + DAY_MS + 30 * MIN_MS, tr,
                                        600, &n),
                  CMEE_OK);
    assert_int_equal(n, 0);
    cmee_scenario_free(crash);
    cmee_scenario_free(halt);
    cmee_market_free(m);
}

static void check_book(cmee_market *m, const cmee_symbol_spec *sp, double q, const cmee_book *b,
                       int depth)
{
    assert_true(b->bid < b->ask);
    assert_true(b->ask - b->bid >= sp->tick_size * (1 - 1e-9)); /* the spread floor */
    assert_int_equal(b->nasks, (size_t)depth);
    assert_true(b->nbids <= (size_t)depth);
    assert_true(b->nbids >= 1);
    assert_true(b->bids[0].price == b->bid && b->asks[0].price == b->ask);
    for (size_t i = 0; i < b->nbids; i++) {
        assert_on_grid(sp, b->bids[i].price);
        assert_true(b->bids[i].size > 0 && multiple_of(b->bids[i].size, q));
        if (i > 0) {
            assert_true(b->bids[i].price < b->bids[i - 1].price);
            assert_true(b->bids[i].size > b->bids[i - 1].size);
        }
    }
    for (size_t i = 0; i < b->nasks; i++) {
        assert_on_grid(sp, b->asks[i].price);
        assert_true(b->asks[i].size > 0 && multiple_of(b->asks[i].size, q));
        if (i > 0) {
            assert_true(b->asks[i].price > b->asks[i - 1].price);
            assert_true(b->asks[i].size > b->asks[i - 1].size);
        }
    }
    for (size_t i = b->nbids; i < CMEE_BOOK_MAX_DEPTH; i++)
        assert_true(b->bids[i].price == 0.0 && b->bids[i].size == 0.0);
    (void)m;
}

/* Books at sampled moments: ordered, on the grid, above the spread floor, matching the quote. */
static void test_book_ordering(void **state)
{
    cmee_market *m = cmee_test_market(42);
    const char *syms[] = {"BTCUSD", "EURUSD", "AAPL", "SPX500", "DOGEUSD", "US30"};
    uint64_t x = 12345;
    for (size_t s = 0; s < 6; s++) {
        cmee_symbol_spec sp;
        double q;
        assert_status(m, cmee_market_symbol(m, syms[s], &sp), CMEE_OK);
        assert_status(m, cmee_market_size_quantum(m, syms[s], &q), CMEE_OK);
        for (int i = 0; i < 500; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t t = CMEE_TIME_MIN + (int64_t)((x >> 11) % (uint64_t)(CMEE_TIME_MAX -
                                                                          CMEE_TIME_MIN));
            int depth = 1 + (int)((x >> 3) % CMEE_BOOK_MAX_DEPTH);
            cmee_book b;
            cmee_bbo bbo;
            assert_status(m, cmee_market_book(m, syms[s], t, depth, &b), CMEE_OK);
            check_book(m, &sp, q, &b, depth);
            /* A shallow book is the top of the deepest one. */
            cmee_book full;
            assert_status(m, cmee_market_book(m, syms[s], t, CMEE_BOOK_MAX_DEPTH, &full),
                          CMEE_OK);
            assert_memory_equal(b.bids, full.bids, b.nbids * sizeof b.bids[0]);
            assert_memory_equal(b.asks, full.asks, b.nasks * sizeof b.asks[0]);
            assert_status(m, cmee_market_bbo(m, syms[s], t, &bbo), CMEE_OK);
            assert_true(bbo.bid == b.bid && bbo.ask == b.ask);
            assert_int_equal(bbo.time, b.time);
            assert_true(b.time <= t && t - b.time < MIN_MS);
            double price;
            assert_status(m, cmee_market_price(m, syms[s], t, &price), CMEE_OK);
            assert_true(bbo.last == price);
        }
    }
    cmee_market_free(m);
}

/* A symbol trading a few ticks above zero: bids never leave the grid, so fewer levels. */
static void test_book_near_zero(void **state)
{
    cmee_market *m = cmee_test_market(1);
    cmee_symbol_spec sp;
    cmee_symbol_spec_init(&sp, "PENNY");
    sp.seed_price = 0.03;
    sp.volatility = 0.05;
    assert_status(m, cmee_market_set_symbol(m, &sp), CMEE_OK);
    cmee_spread_spec ss = {.bps = 0, .ticks = 2, .vol_weight = 0};
    assert_status(m, cmee_market_set_spread(m, "PENNY", &ss), CMEE_OK);
    cmee_book b;
    assert_status(m, cmee_market_book(m, "PENNY", CMEE_ANCHOR_TIME, 50, &b), CMEE_OK);
    assert_true(b.nbids < 50);
    assert_true(b.nbids >= 1);
    assert_int_equal(b.nasks, 50);
    assert_true(b.bids[b.nbids - 1].price >= 0.01);
    double q;
    assert_status(m, cmee_market_size_quantum(m, "PENNY", &q), CMEE_OK);
    assert_true(q == 0.25); /* 100 a minute over 60 ticks: four quanta per tick need 1/4 */
    check_book(m, &sp, q, &b, 50);
    assert_true(fabs((b.ask - b.bid) - 0.02) < 1e-12); /* exactly two ticks, vol_weight 0 */
    /* The asks do not depend on where the bids stopped. */
    for (int d = 1; d <= 50; d++) {
        cmee_book s;
        assert_status(m, cmee_market_book(m, "PENNY", CMEE_ANCHOR_TIME, d, &s), CMEE_OK);
        assert_int_equal(s.nasks, d);
        assert_memory_equal(s.asks, b.asks, (size_t)d * sizeof s.asks[0]);
        assert_int_equal(s.nbids, (size_t)d < b.nbids ? (size_t)d : b.nbids);
    }
    cmee_market_free(m);
}

/* The spread floor: with a base of zero the spread is one tick at every tick moment. */
static void test_spread_floor(void **state)
{
    cmee_market *m = cmee_test_market(3);
    cmee_spread_spec ss = {.bps = 0, .ticks = 0, .vol_weight = 2};
    assert_status(m, cmee_market_set_spread(m, "GBPUSD", &ss), CMEE_OK);
    cmee_spread_spec got;
    assert_status(m, cmee_market_spread(m, "GBPUSD", &got), CMEE_OK);
    assert_true(got.bps == 0 && got.ticks == 0 && got.vol_weight == 2);
    cmee_bbo bbo[60];
    size_t n;
    for (int64_t t = CMEE_ANCHOR_TIME; t < CMEE_ANCHOR_TIME + 200 * MIN_MS; t += MIN_MS) {
        assert_status(m, cmee_market_bbo_ticks(m, "GBPUSD", t, bbo, 60, &n), CMEE_OK);
        for (size_t i = 0; i < n; i++)
            assert_true(fabs(bbo[i].spread - 0.00001) < 1e-15);
    }
    cmee_market_free(m);
}

static double mean_spread(cmee_market *m, const char *sym, int64_t from, int minutes)
{
    double sum = 0;
    for (int i = 0; i < minutes; i++) {
        cmee_bbo b;
        assert_status(m, cmee_market_bbo(m, sym, from + i * MIN_MS, &b), CMEE_OK);
        sum += b.spread / b.last;
    }
    return sum / minutes;
}

/* The spread widens with the current volatility: a 4x volatility spike widens it markedly;
 * vol_weight 0 keeps it constant. */
static void test_spread_widens_with_volatility(void **state)
{
    cmee_market *m = cmee_test_market(11);
    int64_t t0 = CMEE_ANCHOR_TIME + 10 * HOUR_MS;
    double before = mean_spread(m, "ETHUSD", t0, 60);
    cmee_scenario *spike;
    assert_int_equal(cmee_scenario_preset("volatility_spike", NULL, &spike, NULL), CMEE_OK);
    cmee_application_id id;
    assert_status(m, cmee_scenario_apply(m, spike, t0, &id), CMEE_OK);
    double during = mean_spread(m, "ETHUSD", t0, 60);
    assert_true(during > 1.8 * before);
    /* And the past before the spike is untouched. */
    double past = mean_spread(m, "ETHUSD", t0 - 60 * MIN_MS, 60);
    cmee_market *plain = cmee_test_market(11);
    assert_true(past == mean_spread(plain, "ETHUSD", t0 - 60 * MIN_MS, 60));
    cmee_spread_spec ss = {.bps = 3, .ticks = 1, .vol_weight = 0};
    assert_status(m, cmee_market_set_spread(m, "ETHUSD", &ss), CMEE_OK);
    cmee_bbo a, b;
    assert_status(m, cmee_market_bbo(m, "ETHUSD", t0 + 5 * MIN_MS, &a), CMEE_OK);
    assert_status(m, cmee_market_bbo(m, "ETHUSD", t0 + 5 * MIN_MS + 1000, &b), CMEE_OK);
    assert_true(a.spread == b.spread); /* constant within a minute */
    cmee_scenario_free(spike);
    cmee_market_free(plain);
    cmee_market_free(m);
}

/* Determinism and random access: the same answers whatever was asked before, from a fresh
 * market or a reader, in any order; another seed gives another tape. */
static void test_determinism(void **state)
{
    cmee_market *a = cmee_test_market(99), *b = cmee_test_market(99), *c = cmee_test_market(100);
    int64_t t = CMEE_ANCHOR_TIME + 1234567;
    cmee_book ba, bb;
    /* Warm b with unrelated queries first. */
    cmee_trade junk[2000];
    size_t n;
    assert_status(b, cmee_market_trades(b, "SOLUSD", t - DAY_MS, t - DAY_MS + 30 * MIN_MS, junk,
                                        2000, &n),
                  CMEE_OK);
    assert_status(a, cmee_market_book(a, "SOLUSD", t, 20, &ba), CMEE_OK);
    assert_status(b, cmee_market_book(b, "SOLUSD", t, 20, &bb), CMEE_OK);
    assert_memory_equal(&ba, &bb, sizeof ba);
    cmee_tape *tp;
    assert_status(b, cmee_tape_new(b, "SOLUSD", &tp), CMEE_OK);
    for (int64_t u = t + 5 * MIN_MS; u > t - 5 * MIN_MS; u -= 7777) { /* backwards too */
        cmee_book x, y;
        assert_status(b, cmee_tape_book(tp, u, 20, &x), CMEE_OK);
        assert_status(a, cmee_market_book(a, "SOLUSD", u, 20, &y), CMEE_OK);
        assert_memory_equal(&x, &y, sizeof x);
        cmee_bbo qx, qy;
        /* Zeroed first: the struct has tail padding the library does not write, and
         * assert_memory_equal reads it (valgrind: uninitialised value). */
        memset(&qx, 0, sizeof qx);
        memset(&qy, 0, sizeof qy);
        assert_status(b, cmee_tape_bbo(tp, u, &qx), CMEE_OK);
        assert_status(a, cmee_market_bbo(a, "SOLUSD", u, &qy), CMEE_OK);
        assert_memory_equal(&qx, &qy, sizeof qx);
    }
    /* A range equals its two halves; trades_last equals the tail of a range. */
    static cmee_trade whole[20000], h1[20000], h2[20000], last[500];
    size_t nw, n1, n2, nl;
    int64_t f = t - 2 * HOUR_MS, mid = t - HOUR_MS + 12345, e = t;
    assert_status(a, cmee_market_trades(a, "SOLUSD", f, e, whole, 20000, &nw), CMEE_OK);
    assert_status(b, cmee_tape_trades(tp, f, mid, h1, 20000, &n1), CMEE_OK);
    assert_status(b, cmee_tape_trades(tp, mid, e, h2, 20000, &n2), CMEE_OK);
    assert_int_equal(nw, n1 + n2);
    assert_memory_equal(whole, h1, n1 * sizeof *h1);
    assert_memory_equal(whole + n1, h2, n2 * sizeof *h2);
    assert_status(a, cmee_market_trades_last(a, "SOLUSD", e, 500, last, 500, &nl), CMEE_OK);
    assert_int_equal(nl, 500);
    assert_memory_equal(last, whole + nw - 500, 500 * sizeof *last);
    /* Another seed, another market. */
    cmee_book bc;
    assert_status(c, cmee_market_book(c, "SOLUSD", t, 20, &bc), CMEE_OK);
    assert_true(memcmp(&ba, &bc, sizeof ba) != 0);
    cmee_tape_free(tp);
    cmee_market_free(a);
    cmee_market_free(b);
    cmee_market_free(c);
}

/* A reader notices changes to its market: after a scenario it answers like a fresh query, and
 * before the scenario's start nothing moved (past immutability). */
static void test_reader_follows_changes(void **state)
{
    cmee_market *m = cmee_test_market(5);
    cmee_tape *tp;
    assert_status(m, cmee_tape_new(m, "XAUUSD", &tp), CMEE_OK);
    int64_t t0 = CMEE_ANCHOR_TIME + 17 * MIN_MS + 500;
    static cmee_trade before[20000], after[20000], fresh[20000];
    size_t nb, na, nf;
    assert_status(m, cmee_tape_trades(tp, t0 - HOUR_MS, t0 + HOUR_MS, before, 20000, &nb),
                  CMEE_OK);
    cmee_scenario *crash;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    cmee_application_id id;
    assert_status(m, cmee_scenario_apply(m, crash, t0, &id), CMEE_OK);
    assert_status(m, cmee_tape_trades(tp, t0 - HOUR_MS, t0 + HOUR_MS, after, 20000, &na), CMEE_OK);
    assert_status(m, cmee_market_trades(m, "XAUUSD", t0 - HOUR_MS, t0 + HOUR_MS, fresh, 20000,
                                        &nf),
                  CMEE_OK);
    assert_int_equal(na, nf);
    assert_memory_equal(after, fresh, na * sizeof *after);
    /* Every trade before the first minute boundary at or after t0 (where the scenario starts)
     * is the same; the tape differs from there on. */
    int64_t start = t0 + (MIN_MS - (t0 - CMEE_TIME_MIN) % MIN_MS) % MIN_MS;
    size_t same = 0;
    while (same < nb && same < na && memcmp(&before[same], &after[same], sizeof *before) == 0)
        same++;
    assert_true(same > 0 && same < nb && same < na);
    assert_true(before[same - 1].time < start);
    assert_true(before[same].time >= start && after[same].time >= start);
    cmee_scenario_free(crash);
    cmee_tape_free(tp);
    cmee_market_free(m);
}

/* A market order bigger than the top level pays a worse average price. */
static void test_book_walk(void **state)
{
    cmee_market *m = cmee_test_market(42);
    cmee_book b;
    assert_status(m, cmee_market_book(m, "AAPL", CMEE_ANCHOR_TIME + 999, 20, &b), CMEE_OK);
    cmee_book_fill f;
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, b.asks[0].size / 2, &f), CMEE_OK);
    assert_true(f.avg_price == b.ask && f.levels == 1 && f.filled == b.asks[0].size / 2);
    double big = b.asks[0].size + b.asks[1].size + 1;
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, big, &f), CMEE_OK);
    assert_true(f.avg_price > b.ask);
    assert_true(f.worst_price == b.asks[2].price && f.levels == 3 && f.filled == big);
    double want = (b.asks[0].size * b.asks[0].price + b.asks[1].size * b.asks[1].price +
                   b.asks[2].price) / big;
    assert_rel_near(f.avg_price, want, 1e-15);
    big = b.bids[0].size + b.bids[1].size + 1;
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_SELL, big, &f), CMEE_OK);
    assert_true(f.avg_price < b.bid && f.worst_price == b.bids[2].price);
    /* More than the whole side: filled stops at the displayed depth. */
    double all = 0;
    for (size_t i = 0; i < b.nasks; i++)
        all += b.asks[i].size;
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, all * 2, &f), CMEE_OK);
    assert_true(f.filled == all && f.levels == b.nasks);
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, 0, &f), CMEE_EINVAL);
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, NAN, &f), CMEE_EINVAL);
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, INFINITY, &f), CMEE_EINVAL);
    assert_int_equal(cmee_book_walk(&b, (cmee_aggressor)7, 1, &f), CMEE_EINVAL);
    assert_int_equal(cmee_book_walk(NULL, CMEE_AGGRESSOR_BUY, 1, &f), CMEE_EINVAL);
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, 1, NULL), CMEE_EINVAL);
    cmee_market_free(m);
}

/* Bad input gets a status and a message, and writes nothing. */
static void test_errors(void **state)
{
    cmee_market *m = cmee_test_market(42);
    int64_t t = CMEE_ANCHOR_TIME;
    cmee_book b;
    memset(&b, 0xAB, sizeof b);
    cmee_book untouched = b;
    assert_status(m, cmee_market_book(m, "BTCUSD", t, 0, &b), CMEE_EINVAL);
    assert_non_null(strstr(cmee_market_errmsg(m), "depth"));
    assert_status(m, cmee_market_book(m, "BTCUSD", t, 51, &b), CMEE_EINVAL);
    assert_status(m, cmee_market_book(m, "NOPE", t, 5, &b), CMEE_ENOTFOUND);
    assert_status(m, cmee_market_book(m, NULL, t, 5, &b), CMEE_EINVAL);
    assert_status(m, cmee_market_book(m, "BTCUSD", t, 5, NULL), CMEE_EINVAL);
    assert_status(m, cmee_market_book(m, "BTCUSD", CMEE_TIME_MIN - 1, 5, &b), CMEE_ERANGE);
    assert_status(m, cmee_market_book(m, "BTCUSD", CMEE_TIME_MAX, 5, &b), CMEE_ERANGE);
    assert_memory_equal(&b, &untouched, sizeof b);
    assert_int_equal(cmee_market_book(NULL, "BTCUSD", t, 5, &b), CMEE_EINVAL);

    cmee_bbo q;
    assert_status(m, cmee_market_bbo(m, "BTCUSD", CMEE_TIME_MAX, &q), CMEE_ERANGE);
    assert_status(m, cmee_market_bbo(m, "BTCUSD", t, NULL), CMEE_EINVAL);
    size_t n = 77;
    assert_status(m, cmee_market_bbo_ticks(m, "BTCUSD", t, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 60);
    cmee_bbo qs[10];
    assert_status(m, cmee_market_bbo_ticks(m, "BTCUSD", t, qs, 10, &n), CMEE_ENOSPACE);
    assert_status(m, cmee_market_bbo_ticks(m, "BTCUSD", t, NULL, 3, &n), CMEE_EINVAL);

    cmee_trade tr[8];
    memset(tr, 0x5A, sizeof tr);
    unsigned char copy[sizeof tr];
    memcpy(copy, tr, sizeof tr);
    n = 12345;
    assert_status(m, cmee_market_trades(m, "BTCUSD", t + 10, t, tr, 8, &n), CMEE_EINVAL);
    assert_status(m, cmee_market_trades(m, "BTCUSD", t, t + 32 * DAY_MS, tr, 8, &n), CMEE_ERANGE);
    assert_status(m, cmee_market_trades(m, "BTCUSD", CMEE_TIME_MIN - 1, t, tr, 8, &n),
                  CMEE_ERANGE);
    assert_status(m, cmee_market_trades(m, "BTCUSD", t, t + HOUR_MS, tr, 8, &n), CMEE_ENOSPACE);
    assert_memory_equal(tr, copy, sizeof tr); /* nothing written on failure */
    assert_int_equal(n, 12345);
    assert_status(m, cmee_market_trades(m, "BTCUSD", t, t + HOUR_MS, NULL, 8, &n), CMEE_EINVAL);
    assert_status(m, cmee_market_trades(m, "BTCUSD", t, t + HOUR_MS, tr, 8, NULL), CMEE_EINVAL);
    assert_status(m, cmee_market_trades(m, "BTCUSD", t, t, tr, 8, &n), CMEE_OK);
    assert_int_equal(n, 0);
    assert_status(m, cmee_market_trades_last(m, "BTCUSD", t, 0, tr, 8, &n), CMEE_EINVAL);
    assert_status(m, cmee_market_trades_last(m, "BTCUSD", t, 9, tr, 8, &n), CMEE_ENOSPACE);
    assert_status(m, cmee_market_trades_last(m, "BTCUSD", CMEE_TIME_MIN, 1, tr, 8, &n),
                  CMEE_ERANGE);
    assert_memory_equal(tr, copy, sizeof tr);
    /* Near the start of the series there are fewer trades than asked. */
    assert_status(m, cmee_market_trades_last(m, "BTCUSD", CMEE_TIME_MIN + 1001, 8, tr, 8, &n),
                  CMEE_OK);
    assert_true(n <= 2);
    assert_status(m, cmee_market_trades_last(m, "BTCUSD", t, 8, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 8);

    cmee_spread_spec bad = {.bps = -1, .ticks = 1, .vol_weight = 0.5}, got;
    assert_status(m, cmee_market_set_spread(m, "BTCUSD", &bad), CMEE_EINVAL);
    assert_non_null(strstr(cmee_market_errmsg(m), "bps"));
    bad.bps = NAN;
    assert_status(m, cmee_market_set_spread(m, "BTCUSD", &bad), CMEE_EINVAL);
    bad = (cmee_spread_spec){.bps = 1, .ticks = 2e6, .vol_weight = 0.5};
    assert_status(m, cmee_market_set_spread(m, "BTCUSD", &bad), CMEE_EINVAL);
    bad = (cmee_spread_spec){.bps = 1, .ticks = 1, .vol_weight = 11};
    assert_status(m, cmee_market_set_spread(m, "BTCUSD", &bad), CMEE_EINVAL);
    assert_status(m, cmee_market_set_spread(m, "BTCUSD", NULL), CMEE_EINVAL);
    assert_status(m, cmee_market_spread(m, "BTCUSD", &got), CMEE_OK);
    cmee_spread_spec def;
    cmee_spread_spec_default(CMEE_CLASS_CRYPTO, &def);
    assert_memory_equal(&got, &def, sizeof got); /* unchanged by the refusals */

    double qz;
    assert_status(m, cmee_market_size_quantum(m, "BTCUSD", &qz), CMEE_OK);
    assert_true(qz == 0.0625);
    assert_status(m, cmee_market_size_quantum(m, "AAPL", &qz), CMEE_OK);
    assert_true(qz == 1.0);
    assert_status(m, cmee_market_size_quantum(m, "NOPE", &qz), CMEE_ENOTFOUND);

    cmee_tape *tp = NULL;
    assert_status(m, cmee_tape_new(m, "NOPE", &tp), CMEE_ENOTFOUND);
    assert_null(tp);
    assert_int_equal(cmee_tape_book(NULL, t, 5, &b), CMEE_EINVAL);
    cmee_tape_free(NULL);
    assert_string_equal(cmee_aggressor_name(CMEE_AGGRESSOR_BUY), "buy");
    assert_string_equal(cmee_aggressor_name(CMEE_AGGRESSOR_SELL), "sell");
    assert_null(cmee_aggressor_name((cmee_aggressor)2));
    cmee_market_free(m);
}

/* Re-registering a symbol keeps its spread settings; a new symbol gets its class's. */
static void test_spread_settings_survive_reregistration(void **state)
{
    cmee_market *m = cmee_test_market(42);
    cmee_spread_spec ss = {.bps = 7, .ticks = 3, .vol_weight = 1}, got;
    assert_status(m, cmee_market_set_spread(m, "XAGUSD", &ss), CMEE_OK);
    cmee_symbol_spec sp;
    assert_status(m, cmee_market_symbol(m, "XAGUSD", &sp), CMEE_OK);
    sp.volatility = 0.5;
    assert_status(m, cmee_market_set_symbol(m, &sp), CMEE_OK);
    assert_status(m, cmee_market_spread(m, "XAGUSD", &got), CMEE_OK);
    assert_memory_equal(&got, &ss, sizeof ss);
    cmee_symbol_spec_init(&sp, "NEWFX");
    sp.asset_class = CMEE_CLASS_FX;
    assert_status(m, cmee_market_set_symbol(m, &sp), CMEE_OK);
    assert_status(m, cmee_market_spread(m, "NEWFX", &got), CMEE_OK);
    cmee_spread_spec_default(CMEE_CLASS_FX, &ss);
    assert_memory_equal(&got, &ss, sizeof ss);
    cmee_market_free(m);
}

/* The reader's only allocation fails cleanly. */
static void test_reader_alloc_failure(void **state)
{
    chaos c = {0};
    cmee_allocator al = chaos_allocator(&c);
    cmee_market *m = NULL;
    assert_int_equal(cmee_market_new(1, &al, &m), CMEE_OK);
    c.fail_all = true;
    cmee_tape *tp = NULL;
    assert_status(m, cmee_tape_new(m, "BTCUSD", &tp), CMEE_ENOMEM);
    assert_null(tp);
    c.fail_all = false;
    assert_status(m, cmee_tape_new(m, "BTCUSD", &tp), CMEE_OK);
    cmee_tape_free(tp);
    cmee_market_free(m);
    assert_int_equal(c.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tape_folds_into_candles),
        cmocka_unit_test(test_tape_under_scenarios),
        cmocka_unit_test(test_book_ordering),
        cmocka_unit_test(test_book_near_zero),
        cmocka_unit_test(test_spread_floor),
        cmocka_unit_test(test_spread_widens_with_volatility),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_reader_follows_changes),
        cmocka_unit_test(test_book_walk),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_spread_settings_survive_reregistration),
        cmocka_unit_test(test_reader_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
