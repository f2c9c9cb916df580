/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sessions filling against the book (CMEE_FILL_BOOK): quotes are the book's touch; a market
 * order walks the levels and pays exactly cmee_book_walk()'s average (slippage past the top
 * level); a limit fills at its price only once the tape prints through it, not when a print
 * merely touches it; stops, stop-losses and take-profits trigger on the tape, not on ticks that
 * trade nothing; the fill model is stored, and a store of schema version 2 loads as
 * CMEE_FILL_QUOTE and replays its history exactly; the same calls give bit-identical fills. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmee_test.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS + 30 * MIN_MS; /* 2026-01-01 */

static char tmpdir[64];

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s));    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static cmee_session *open_session(uint64_t seed, cmee_fill_model model, cmee_store *store,
                                  const char *id)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    if (id)
        snprintf(c.id, sizeof c.id, "%s", id);
    c.seed = seed;
    c.start_time = START;
    c.manual_clock = true;
    c.initial_balance = 1000000000 * SCALE; /* room for orders deeper than the book */
    c.fill_model = model;
    cmee_session *s = NULL;
    cmee_error err;
    if (cmee_session_new(&c, store, NULL, &s, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    return s;
}

/* A market like the session's: the same seed, no scenario. */
static cmee_market *twin(uint64_t seed)
{
    cmee_market *m = NULL;
    assert_int_equal(cmee_market_new(seed, NULL, &m), CMEE_OK);
    return m;
}

static cmee_order place(cmee_session *s, const char *sym, cmee_side side, cmee_order_type type,
                        double qty, double price)
{
    cmee_order_request r;
    cmee_order_request_init(&r, sym);
    r.side = side;
    r.type = type;
    r.quantity = qty;
    r.price = price;
    cmee_order o;
    OK(s, cmee_session_order(s, &r, &o));
    return o;
}

static cmee_order order_by_id(cmee_session *s, uint64_t id)
{
    static cmee_order all[256];
    size_t n;
    OK(s, cmee_session_orders(s, false, all, 256, &n));
    assert_true(id >= 1 && id <= n);
    return all[id - 1];
}

static void seek(cmee_session *s, int64_t t)
{
    OK(s, cmee_session_seek(s, t));
}

static cmee_book book_of(const cmee_market *m, const char *sym, int64_t t)
{
    cmee_book b;
    assert_int_equal(cmee_market_book(m, sym, t, CMEE_BOOK_MAX_DEPTH, &b), CMEE_OK);
    return b;
}

/* The quote is the touch of the book; the price is the last tick's, which is the bid or the
 * ask; the spread setting of the quote model plays no part. */
static void test_quote_is_touch(void **state)
{
    (void)state;
    const char *syms[] = {"BTCUSD", "EURUSD", "AAPL"};
    cmee_session *s = open_session(5, CMEE_FILL_BOOK, NULL, NULL);
    cmee_market *m = twin(5);
    for (int i = 0; i < 40; i++) {
        OK(s, cmee_session_step(s, 7919 + i * 1301));
        for (int k = 0; k < 3; k++) {
            cmee_quote q;
            OK(s, cmee_session_quote(s, syms[k], &q));
            cmee_bbo b;
            double p;
            assert_int_equal(cmee_market_bbo(m, syms[k], q.time, &b), CMEE_OK);
            assert_int_equal(cmee_market_price(m, syms[k], q.time, &p), CMEE_OK);
            assert_true(q.bid == b.bid && q.ask == b.ask);
            assert_true(q.price == p && q.price == b.last);
            assert_true(q.price == q.bid || q.price == q.ask);
            assert_true(q.bid < q.ask);
        }
    }
    cmee_market_free(m);
    cmee_session_free(s);
}

/* A market order larger than the top level walks the book: its price is exactly the book walk's
 * average, worse than the touch; the fee is on that notional. Beyond the displayed depth the
 * rest fills at the last level's price. */
static void test_market_walk(void **state)
{
    (void)state;
    const char *syms[] = {"BTCUSD", "ETHUSD", "EURUSD", "AAPL", "XAUUSD"};
    for (int k = 0; k < 5; k++) {
        cmee_session *s = open_session(11 + (uint64_t)k, CMEE_FILL_BOOK, NULL, NULL);
        cmee_market *m = twin(11 + (uint64_t)k);
        OK(s, cmee_session_step(s, 4 * MIN_MS + 1234 * k));
        for (int side = 0; side < 2; side++) {
            OK(s, cmee_session_step(s, 31 * 1000));
            cmee_clock c;
            OK(s, cmee_session_clock(s, &c));
            cmee_book b = book_of(m, syms[k], c.now);
            bool buy = side == 0;
            const cmee_book_level *lv = buy ? b.asks : b.bids;
            double qty = lv[0].size + lv[1].size + lv[2].size / 2; /* into the third level */
            cmee_book_fill f;
            assert_int_equal(
                cmee_book_walk(&b, buy ? CMEE_AGGRESSOR_BUY : CMEE_AGGRESSOR_SELL, qty, &f),
                CMEE_OK);
            assert_int_equal(f.levels, 3);
            cmee_order o =
                place(s, syms[k], buy ? CMEE_SIDE_BUY : CMEE_SIDE_SELL, CMEE_ORDER_MARKET, qty, 0);
            assert_int_equal(o.state, CMEE_ORDER_FILLED);
            assert_true(o.fill_price == f.avg_price);
            if (buy)
                assert_true(o.fill_price > lv[0].price && o.fill_price < lv[2].price);
            else
                assert_true(o.fill_price < lv[0].price && o.fill_price > lv[2].price);
            assert_int_equal(o.fee, llround(qty * f.avg_price * 0.001 * (double)SCALE));
            /* A quantity within the top level pays the touch. */
            cmee_order t = place(s, syms[k], buy ? CMEE_SIDE_BUY : CMEE_SIDE_SELL,
                                 CMEE_ORDER_MARKET, lv[0].size / 2, 0);
            assert_int_equal(cmee_book_walk(&b, buy ? CMEE_AGGRESSOR_BUY : CMEE_AGGRESSOR_SELL,
                                            lv[0].size / 2, &f),
                             CMEE_OK);
            assert_true(t.fill_price == f.avg_price);
            assert_near(t.fill_price, lv[0].price, 1e-12 * lv[0].price);
        }
        /* Deeper than the book: the displayed levels at their prices, the rest at the last. */
        cmee_clock c;
        OK(s, cmee_session_clock(s, &c));
        cmee_book b = book_of(m, syms[k], c.now);
        double depth = 0;
        for (size_t i = 0; i < b.nasks; i++)
            depth += b.asks[i].size;
        double qty = depth * 1.5;
        cmee_book_fill f;
        assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, qty, &f), CMEE_OK);
        assert_true(f.filled == depth && f.levels == b.nasks);
        cmee_order o = place(s, syms[k], CMEE_SIDE_BUY, CMEE_ORDER_MARKET, qty, 0);
        double want = (f.avg_price * f.filled + (qty - f.filled) * f.worst_price) / qty;
        assert_true(o.fill_price == want);
        assert_true(o.fill_price > f.avg_price && o.fill_price < f.worst_price);
        cmee_market_free(m);
        cmee_session_free(s);
    }
}

/* A marketable limit takes the levels up to its price; what they do not hold fills at it. */
static void test_marketable_limit(void **state)
{
    (void)state;
    cmee_session *s = open_session(21, CMEE_FILL_BOOK, NULL, NULL);
    cmee_market *m = twin(21);
    OK(s, cmee_session_step(s, 3 * MIN_MS));
    cmee_book b = book_of(m, "ETHUSD", START + 3 * MIN_MS);
    double two = b.asks[0].size + b.asks[1].size;
    cmee_book_fill f;
    assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_BUY, two, &f), CMEE_OK);
    cmee_order o = place(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, two, b.asks[1].price);
    assert_int_equal(o.state, CMEE_ORDER_FILLED);
    assert_true(o.fill_price == f.avg_price);
    /* More than the two levels within the limit: the rest at the limit, never worse. */
    double more = two + b.asks[2].size;
    o = place(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, more, b.asks[1].price);
    assert_int_equal(o.state, CMEE_ORDER_FILLED);
    assert_true(o.fill_price > f.avg_price && o.fill_price <= b.asks[1].price);
    assert_near(o.fill_price, (f.avg_price * two + b.asks[2].size * b.asks[1].price) / more,
                1e-9 * o.fill_price);
    /* A sell limit above the bid waits. */
    o = place(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 1, b.bids[0].price + 100);
    assert_int_equal(o.state, CMEE_ORDER_OPEN);
    cmee_market_free(m);
    cmee_session_free(s);
}

/* From @p from on, the trades of @p sym one minute at a time, calling @p fn(ud, trade) until
 * it returns true; fails the test after @p days days. */
static void scan_trades(const cmee_market *m, const char *sym, int64_t from, int days,
                        bool (*fn)(void *ud, const cmee_trade *t), void *ud)
{
    static cmee_trade tr[600];
    for (int64_t t = from; t < from + days * DAY_MS; t += MIN_MS) {
        size_t n;
        assert_int_equal(cmee_market_trades(m, sym, t, t + MIN_MS, tr, 600, &n), CMEE_OK);
        for (size_t i = 0; i < n; i++)
            if (fn(ud, &tr[i]))
                return;
    }
    fail_msg("no suitable trade of %s within %d days", sym, days);
}

/* Looking for a limit level that the tape touches before it trades through it. For a buy: a
 * new low of the tape below @p below (so a buy limit there rests), then the next new low,
 * strictly below it. Sells mirror this with highs. */
typedef struct touch_search {
    bool buy;
    double below;    /* buy: the level must be below this (above it for a sell) */
    double extreme;  /* the running low (high) so far */
    double level;    /* the level found, 0 until then */
    int64_t touched; /* the first print at the level */
    int64_t through; /* the first print strictly through it */
} touch_search;

static bool touch_step(void *ud, const cmee_trade *t)
{
    touch_search *x = ud;
    bool beyond = x->buy ? t->price < x->extreme : t->price > x->extreme;
    if (!beyond)
        return false;
    x->extreme = t->price;
    if (x->level != 0) {
        x->through = t->time; /* strictly through the level: the order fills here */
        return true;
    }
    if (x->buy ? t->price < x->below : t->price > x->below) {
        x->level = t->price;
        x->touched = t->time;
    }
    return false;
}

/* A limit fills at its price once a print goes through it; a print at its price is not enough;
 * the fill is at the limit however far the print went. */
static void test_limit_through(void **state)
{
    (void)state;
    const char *syms[] = {"BTCUSD", "EURUSD", "AAPL"};
    for (int k = 0; k < 3; k++) {
        for (int side = 0; side < 2; side++) {
            uint64_t seed = 31 + (uint64_t)(2 * k + side);
            cmee_session *s = open_session(seed, CMEE_FILL_BOOK, NULL, NULL);
            cmee_market *m = twin(seed);
            bool buy = side == 0;
            cmee_quote q;
            OK(s, cmee_session_quote(s, syms[k], &q));
            touch_search x = {buy, buy ? q.bid : q.ask, buy ? INFINITY : -INFINITY, 0, 0, 0};
            scan_trades(m, syms[k], START + 1, 10, touch_step, &x);
            assert_true(x.touched > START && x.through > x.touched);
            cmee_order o = place(s, syms[k], buy ? CMEE_SIDE_BUY : CMEE_SIDE_SELL, CMEE_ORDER_LIMIT,
                                 1, x.level);
            assert_int_equal(o.state, CMEE_ORDER_OPEN);
            seek(s, x.touched); /* printed at the level: not through it */
            assert_int_equal(order_by_id(s, o.id).state, CMEE_ORDER_OPEN);
            seek(s, x.through - 1);
            assert_int_equal(order_by_id(s, o.id).state, CMEE_ORDER_OPEN);
            seek(s, x.through);
            cmee_order f = order_by_id(s, o.id);
            assert_int_equal(f.state, CMEE_ORDER_FILLED);
            assert_int_equal(f.closed, x.through);
            assert_true(f.fill_price == x.level);
            cmee_market_free(m);
            cmee_session_free(s);
        }
    }
}

/* Looking for a stop level beyond the price (above it for a buy): the first price beyond it
 * and every trade since that the market reaches, preferably at a tick that trades nothing (a
 * tick that prints nothing must not trigger the stop), else at a trade. */
typedef struct stop_search {
    const cmee_market *m;
    const char *sym;
    bool buy;
    double from;   /* the level must be beyond this and every trade so far */
    int64_t after; /* and its tick after this time */
    double level;
    int64_t tick;  /* a tick at the level that is not a trade, or 0 */
    int64_t trade; /* the first trade at or through the level */
} stop_search;

static bool stop_step(void *ud, const cmee_trade *t)
{
    stop_search *x = ud;
    if (x->level == 0) {
        /* The ticks of this trade's minute before it that trade nothing: one beyond every
         * trade so far makes the level. */
        static cmee_tick tk[600];
        static cmee_trade tr[600];
        size_t n, nt;
        int64_t m0 = t->time - (t->time - CMEE_TIME_MIN) % MIN_MS;
        assert_int_equal(cmee_market_ticks(x->m, x->sym, t->time, tk, 600, &n), CMEE_OK);
        assert_int_equal(cmee_market_trades(x->m, x->sym, m0, m0 + MIN_MS, tr, 600, &nt), CMEE_OK);
        for (size_t i = 0; i < n && tk[i].time < t->time && x->level == 0; i++) {
            bool traded = false;
            for (size_t j = 0; j < nt && !traded; j++)
                traded = tr[j].time == tk[i].time;
            if (!traded && tk[i].time > x->after &&
                (x->buy ? tk[i].price > x->from : tk[i].price < x->from)) {
                x->level = tk[i].price;
                x->tick = tk[i].time;
            }
        }
        if (x->level == 0 && (x->buy ? t->price > x->from : t->price < x->from))
            x->level = t->price; /* no such tick (where every tick trades): this trade's price */
        if (x->level == 0) {
            x->from = x->buy ? fmax(x->from, t->price) : fmin(x->from, t->price);
            return false;
        }
    }
    if (x->buy ? t->price >= x->level : t->price <= x->level) {
        x->trade = t->time;
        return true;
    }
    return false;
}

/* A stop triggers on the first trade at or through its price (a tick that trades nothing does
 * not count) and fills as a market order against the book at that moment. */
static void test_stop_on_tape(void **state)
{
    (void)state;
    const char *syms[] = {"BTCUSD", "EURUSD", "AAPL"};
    int tick_checks = 0;
    for (int k = 0; k < 3; k++) {
        for (int side = 0; side < 2; side++) {
            uint64_t seed = 41 + (uint64_t)(2 * k + side);
            cmee_session *s = open_session(seed, CMEE_FILL_BOOK, NULL, NULL);
            cmee_market *m = twin(seed);
            bool buy = side == 0;
            cmee_quote q;
            OK(s, cmee_session_quote(s, syms[k], &q));
            stop_search x = {m, syms[k], buy, q.price, START, 0, 0, 0};
            scan_trades(m, syms[k], START + 1, 10, stop_step, &x);
            assert_true(x.trade > START);
            cmee_book b0 = book_of(m, syms[k], START);
            double qty = (buy ? b0.asks[0].size : b0.bids[0].size) * 3;
            cmee_order o = place(s, syms[k], buy ? CMEE_SIDE_BUY : CMEE_SIDE_SELL, CMEE_ORDER_STOP,
                                 qty, x.level);
            assert_int_equal(o.state, CMEE_ORDER_OPEN);
            if (x.tick > 0 && x.tick < x.trade) {
                seek(s, x.tick); /* a tick at the level, but no trade */
                assert_int_equal(order_by_id(s, o.id).state, CMEE_ORDER_OPEN);
                tick_checks++;
            }
            seek(s, x.trade - 1);
            assert_int_equal(order_by_id(s, o.id).state, CMEE_ORDER_OPEN);
            seek(s, x.trade);
            cmee_order f = order_by_id(s, o.id);
            assert_int_equal(f.state, CMEE_ORDER_FILLED);
            assert_int_equal(f.closed, x.trade);
            cmee_book b = book_of(m, syms[k], x.trade);
            cmee_book_fill w;
            assert_int_equal(
                cmee_book_walk(&b, buy ? CMEE_AGGRESSOR_BUY : CMEE_AGGRESSOR_SELL, qty, &w),
                CMEE_OK);
            assert_true(f.fill_price == w.avg_price);
            cmee_market_free(m);
            cmee_session_free(s);
        }
    }
    print_message("a stop was not triggered by a tick that traded nothing: %d of 6 cases\n",
                  tick_checks);
    assert_true(tick_checks >= 1);
}

/* A position's stop-loss is a stop on the tape that walks the book; its take-profit a limit
 * that needs a print through it and fills at its level. */
static void test_protection(void **state)
{
    (void)state;
    for (int which = 0; which < 2; which++) {
        uint64_t seed = 61 + (uint64_t)which;
        cmee_session *s = open_session(seed, CMEE_FILL_BOOK, NULL, NULL);
        cmee_market *m = twin(seed);
        cmee_order buy = place(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 2, 0);
        cmee_quote q;
        OK(s, cmee_session_quote(s, "ETHUSD", &q));
        double sl = 0, tp = 0;
        int64_t at = 0;
        if (which == 0) {
            /* Stop-loss: the first trade at or below it. */
            stop_search x = {m, "ETHUSD", false, q.bid, START, 0, 0, 0};
            scan_trades(m, "ETHUSD", START + 1, 10, stop_step, &x);
            sl = x.level;
            at = x.trade;
        } else {
            touch_search x = {false, q.ask, -INFINITY, 0, 0, 0};
            scan_trades(m, "ETHUSD", START + 1, 10, touch_step, &x);
            tp = x.level;
            at = x.through;
            OK(s, cmee_session_protect(s, "ETHUSD", 0, tp));
            seek(s, x.touched);
            size_t n;
            OK(s, cmee_session_positions(s, NULL, 0, &n));
            assert_int_equal(n, 1); /* touched, not through */
        }
        if (sl > 0)
            OK(s, cmee_session_protect(s, "ETHUSD", sl, 0));
        seek(s, at - 1);
        size_t n;
        OK(s, cmee_session_positions(s, NULL, 0, &n));
        assert_int_equal(n, 1);
        seek(s, at);
        OK(s, cmee_session_positions(s, NULL, 0, &n));
        assert_int_equal(n, 0);
        cmee_order c = order_by_id(s, buy.id + 1);
        assert_int_equal(c.state, CMEE_ORDER_FILLED);
        assert_int_equal(c.closed, at);
        assert_int_equal(c.side, CMEE_SIDE_SELL);
        if (which == 0) {
            cmee_book b = book_of(m, "ETHUSD", at);
            cmee_book_fill w;
            assert_int_equal(cmee_book_walk(&b, CMEE_AGGRESSOR_SELL, 2, &w), CMEE_OK);
            assert_int_equal(c.type, CMEE_ORDER_STOP);
            assert_true(c.fill_price == w.avg_price);
        } else {
            assert_int_equal(c.type, CMEE_ORDER_LIMIT);
            assert_true(c.fill_price == tp);
        }
        cmee_market_free(m);
        cmee_session_free(s);
    }
}

/* ---- the same calls, the same fills ---------------------------------------------------------- */

#define MAXREC 4096

typedef struct record {
    cmee_order orders[256];
    size_t norders;
    cmee_ledger_entry ledger[MAXREC];
    size_t nledger;
    cmee_position pos[32];
    size_t npos;
    cmee_option options[64];
    size_t noptions;
    cmee_account acct;
} record;

static void take(cmee_session *s, record *r)
{
    memset(r, 0, sizeof *r);
    OK(s, cmee_session_account(s, &r->acct));
    OK(s, cmee_session_orders(s, false, r->orders, 256, &r->norders));
    OK(s, cmee_session_ledger(s, 0, r->ledger, MAXREC, &r->nledger));
    OK(s, cmee_session_positions(s, r->pos, 32, &r->npos));
    OK(s, cmee_session_options(s, false, r->options, 64, &r->noptions));
}

static void assert_same(const record *a, const record *b)
{
    assert_int_equal(a->norders, b->norders);
    assert_memory_equal(a->orders, b->orders, a->norders * sizeof *a->orders);
    assert_int_equal(a->nledger, b->nledger);
    assert_memory_equal(a->ledger, b->ledger, a->nledger * sizeof *a->ledger);
    assert_int_equal(a->npos, b->npos);
    assert_memory_equal(a->pos, b->pos, a->npos * sizeof *a->pos);
    assert_int_equal(a->noptions, b->noptions);
    assert_memory_equal(a->options, b->options, a->noptions * sizeof *a->options);
    assert_memory_equal(&a->acct, &b->acct, sizeof a->acct);
}

/* A fixed log of calls: orders of every type near the price, protection, options and steps
 * (of @p stride ms, or the whole span at once when 0). */
static void play(cmee_session *s, int64_t stride)
{
    const char *syms[] = {"BTCUSD", "ETHUSD", "EURUSD", "AAPL"};
    for (int round = 0; round < 6; round++) {
        for (int k = 0; k < 4; k++) {
            cmee_quote q;
            OK(s, cmee_session_quote(s, syms[k], &q));
            double unit = 2000.0 / q.price;
            cmee_order_request r;
            cmee_order_request_init(&r, syms[k]);
            r.side = (round + k) % 2 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
            r.quantity = unit * (1 + round);
            bool buy = r.side == CMEE_SIDE_BUY;
            r.stop_loss = buy ? q.bid * 0.997 : q.ask * 1.003;
            r.take_profit = buy ? q.ask * 1.002 : q.bid * 0.998;
            OK(s, cmee_session_order(s, &r, NULL));
            cmee_order_request_init(&r, syms[k]);
            r.side = buy ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
            r.type = CMEE_ORDER_LIMIT;
            r.quantity = unit;
            r.price = buy ? q.ask * 1.001 : q.bid * 0.999;
            OK(s, cmee_session_order(s, &r, NULL));
            r.type = CMEE_ORDER_STOP;
            r.price = buy ? q.bid * 0.9985 : q.ask * 1.0015;
            OK(s, cmee_session_order(s, &r, NULL));
            cmee_option_request o;
            cmee_option_request_init(&o, syms[k]);
            o.kind = buy ? CMEE_OPTION_CALL : CMEE_OPTION_PUT;
            o.stake = 20 * SCALE;
            o.duration = 17 * MIN_MS;
            OK(s, cmee_session_option(s, &o, NULL));
        }
        int64_t span = 2 * HOUR_MS;
        if (stride == 0)
            OK(s, cmee_session_step(s, span));
        for (int64_t d = 0; stride > 0 && d < span; d += stride)
            OK(s, cmee_session_step(s, stride < span - d ? stride : span - d));
    }
}

static void test_determinism(void **state)
{
    (void)state;
    static record a, b, c;
    cmee_session *s1 = open_session(77, CMEE_FILL_BOOK, NULL, NULL);
    cmee_session *s2 = open_session(77, CMEE_FILL_BOOK, NULL, NULL);
    cmee_session *s3 = open_session(77, CMEE_FILL_BOOK, NULL, NULL);
    play(s1, 0);
    play(s2, 0);
    play(s3, 61 * 1000); /* the same span in steps of 61 s: the same fills at the same times */
    take(s1, &a);
    take(s2, &b);
    take(s3, &c);
    assert_same(&a, &b);
    assert_same(&a, &c);
    size_t filled = 0;
    for (size_t i = 0; i < a.norders; i++)
        filled += a.orders[i].state == CMEE_ORDER_FILLED;
    print_message("%zu orders, %zu filled, %zu ledger entries\n", a.norders, filled, a.nledger);
    assert_true(filled > a.norders / 2 && a.norders > 72);
    /* The quote model, fed the same calls, fills differently. */
    cmee_session *q = open_session(77, CMEE_FILL_QUOTE, NULL, NULL);
    play(q, 0);
    take(q, &c);
    assert_true(c.norders != a.norders ||
                memcmp(c.orders, a.orders, a.norders * sizeof *a.orders) != 0);
    cmee_session_free(q);
    cmee_session_free(s3);
    cmee_session_free(s2);
    cmee_session_free(s1);
}

/* ---- persistence ----------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        fail_msg("cannot open %s (CMEE_TEST_DATA is the tests/data directory)", from);
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void remove_store(const char *path)
{
    char p[256];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* The fill model is kept: a book session and a quote session come back as they were and go on
 * exactly as twins that stayed in memory. */
static void test_persist_model(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/model.db", tmpdir);
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
    static record a, b;
    for (int model = 0; model < 2; model++) {
        const char *id = model ? "book" : "quote";
        cmee_session *s = open_session(91, (cmee_fill_model)model, st, id);
        cmee_session *mem = open_session(91, (cmee_fill_model)model, NULL, id);
        play(s, 0);
        play(mem, 0);
        cmee_session_free(s);
        cmee_error err;
        assert_int_equal(cmee_session_load(st, id, NULL, &s, &err), CMEE_OK);
        cmee_session_config c;
        OK(s, cmee_session_config_get(s, &c));
        assert_int_equal(c.fill_model, model);
        OK(s, cmee_session_step(s, 5 * HOUR_MS));
        OK(mem, cmee_session_step(mem, 5 * HOUR_MS));
        take(s, &a);
        take(mem, &b);
        assert_same(&a, &b);
        cmee_session_free(mem);
        cmee_session_free(s);
    }
    /* The schema refuses a fill model it does not know. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc =
        sqlite3_exec(db, "UPDATE session SET fill_model = 7 WHERE id = 'book'", NULL, NULL, &msg);
    assert_int_equal(rc, SQLITE_CONSTRAINT); /* the CHECK refuses it */
    sqlite3_free(msg);
    sqlite3_close(db);
    cmee_store_close(st);
    remove_store(path);
}

/* A store of schema version 2, written by libcmee before sessions had a fill model, migrates on
 * open; its sessions load with the quote model they were made with and replay exactly: the
 * session "early" stepped 12 hours is the session "late" that the old library stepped. */
static void test_old_schema(void **state)
{
    (void)state;
    const char *data = getenv("CMEE_TEST_DATA"); /* set by meson */
    char from[512], path[128];
    if (data)
        snprintf(from, sizeof from, "%s/session/v2_quote.sqlite", data);
    else /* run by hand from the build directory: __FILE__ is relative to it */
        snprintf(from, sizeof from, "%.*s/../data/session/v2_quote.sqlite",
                 (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
                 strrchr(__FILE__, '/') ? __FILE__ : ".");
    snprintf(path, sizeof path, "%s/v2.db", tmpdir);
    copy_file(from, path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    sqlite3_finalize(q);
    sqlite3_close(db);

    cmee_store *st = NULL;
    cmee_error err;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, &err), CMEE_OK);
    assert_int_equal(cmee_store_schema_version(st), CMEE_STORE_SCHEMA_VERSION);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_session *early = NULL, *late = NULL;
    assert_int_equal(cmee_session_load(st, "early", NULL, &early, &err), CMEE_OK);
    assert_int_equal(cmee_session_load(st, "late", NULL, &late, &err), CMEE_OK);
    cmee_session_config c;
    OK(early, cmee_session_config_get(early, &c));
    assert_int_equal(c.fill_model, CMEE_FILL_QUOTE);
    cmee_clock ce, cl;
    OK(early, cmee_session_clock(early, &ce));
    OK(late, cmee_session_clock(late, &cl));
    assert_int_equal(cl.now - ce.now, 12 * HOUR_MS);
    static record a, b;
    take(early, &a);
    size_t open_before = a.acct.open_orders;
    OK(early, cmee_session_step(early, 12 * HOUR_MS));
    take(early, &a);
    take(late, &b);
    assert_true(a.acct.open_orders < open_before); /* orders filled on the way */
    assert_same(&a, &b);
    cmee_session_free(late);
    cmee_session_free(early);
    /* The migrated store takes new sessions of either model. */
    cmee_session *s = open_session(3, CMEE_FILL_BOOK, st, "new-book");
    place(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 0.01, 0);
    cmee_session_free(s);
    assert_int_equal(cmee_session_load(st, "new-book", NULL, &s, &err), CMEE_OK);
    OK(s, cmee_session_config_get(s, &c));
    assert_int_equal(c.fill_model, CMEE_FILL_BOOK);
    cmee_session_free(s);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
    remove_store(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-session-book-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_is_touch),   cmocka_unit_test(test_market_walk),
        cmocka_unit_test(test_marketable_limit), cmocka_unit_test(test_limit_through),
        cmocka_unit_test(test_stop_on_tape),     cmocka_unit_test(test_protection),
        cmocka_unit_test(test_determinism),      cmocka_unit_test(test_persist_model),
        cmocka_unit_test(test_old_schema),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
