/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sessions in memory: the clock, the market view that never shows the future, orders, options,
 * the ledger invariant over 10,000 random operations, refusals that change nothing, events. */
#include <stdlib.h>
#include <string.h>

#include "cmee_test.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS + 30 * MIN_MS; /* 2026-01-01 */

static cmee_session *manual_model(uint64_t seed, cmee_fill_model model)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.fill_model = model;
    c.seed = seed;
    c.start_time = START;
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    cmee_session *s = NULL;
    cmee_error err;
    if (cmee_session_new(&c, NULL, NULL, &s, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    return s;
}

/* A manual-clock session of the default (book) fill model. The tests of the quote model's
 * spread and trigger rules ask for CMEE_FILL_QUOTE; test_session_book.c has the book's. */
static cmee_session *manual(uint64_t seed)
{
    return manual_model(seed, CMEE_FILL_BOOK);
}

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s)); \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static size_t ledger(cmee_session *s, cmee_ledger_entry *buf, size_t cap)
{
    size_t n;
    OK(s, cmee_session_ledger(s, 0, buf, cap, &n));
    return n;
}

/* The ledger invariant: running balances and the total agree with the account. */
static void assert_balanced(cmee_session *s)
{
    static cmee_ledger_entry e[40000];
    size_t n = ledger(s, e, 40000);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += e[i].amount;
        assert_int_equal(e[i].seq, i + 1);
        assert_int_equal(e[i].balance, sum);
        if (i > 0)
            assert_true(e[i].time >= e[i - 1].time);
    }
    cmee_account a;
    OK(s, cmee_session_account(s, &a));
    assert_int_equal(a.balance, sum);
    assert_int_equal(a.equity, a.balance + a.unrealised);
    assert_int_equal(a.free_margin, a.equity - a.used_margin);
    assert_int_equal(a.ledger_entries, n);
}

static void test_config(void **state)
{
    (void)state;
    cmee_session_config c;
    cmee_session_config_init(&c);
    assert_int_equal(c.initial_balance, 10000 * SCALE);
    assert_string_equal(c.currency, "USD");
    assert_true(c.speed == 1.0 && c.fee_rate == 0.001 && c.spread_bps == 2.0);
    assert_int_equal(c.fill_model, CMEE_FILL_BOOK);
    cmee_session *s = NULL;
    cmee_error err;
    c.speed = -1;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "speed");
    assert_non_null(strstr(err.text, "-1"));
    cmee_session_config_init(&c);
    strcpy(c.id, "bad id!");
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "id");
    cmee_session_config_init(&c);
    strcpy(c.currency, "us$");
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "currency");
    cmee_session_config_init(&c);
    c.initial_balance = 0;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "initial_balance");
    cmee_session_config_init(&c);
    c.fee_rate = 0.5;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "fee_rate");
    cmee_session_config_init(&c);
    c.fill_model = (cmee_fill_model)2;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "fill_model");
    cmee_session_config_init(&c);
    c.start_time = CMEE_TIME_MAX;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_ERANGE);
    assert_null(s);
    /* A symbol list: unknown names and duplicates are refused; unlisted symbols cannot be
     * traded or quoted; the list survives the store. */
    cmee_session_config_init(&c);
    strcpy(c.symbols[0], "BTCUSD");
    strcpy(c.symbols[1], "NOPE");
    c.nsymbols = 2;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_ENOTFOUND);
    assert_string_equal(err.field, "symbols");
    assert_non_null(strstr(err.text, "NOPE"));
    strcpy(c.symbols[1], "BTCUSD");
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_non_null(strstr(err.text, "twice"));
    strcpy(c.symbols[1], "EURUSD");
    strcpy(c.id, "listed");
    cmee_store *store = NULL;
    assert_int_equal(cmee_store_open(":memory:", NULL, NULL, &store, NULL), CMEE_OK);
    assert_int_equal(cmee_session_new(&c, store, NULL, &s, &err), CMEE_OK);
    cmee_quote q;
    assert_int_equal(cmee_session_quote(s, "ETHUSD", &q), CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_session_errmsg(s), "not one of this session's symbols"));
    assert_int_equal(cmee_session_quote(s, "EURUSD", &q), CMEE_OK);
    cmee_session_free(s);
    assert_int_equal(cmee_session_load(store, "listed", NULL, &s, &err), CMEE_OK);
    cmee_session_config back;
    assert_int_equal(cmee_session_config_get(s, &back), CMEE_OK);
    assert_int_equal(back.nsymbols, 2);
    assert_string_equal(back.symbols[0], "BTCUSD");
    assert_string_equal(back.symbols[1], "EURUSD");
    cmee_session_free(s);
    cmee_store_close(store);
    /* A generated id: 32 hex digits, different each time. */
    cmee_session_config_init(&c);
    cmee_session *a = NULL, *b = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &a, NULL), CMEE_OK);
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &b, NULL), CMEE_OK);
    assert_int_equal(strlen(cmee_session_id(a)), 32);
    assert_string_not_equal(cmee_session_id(a), cmee_session_id(b));
    /* The deposit opens the ledger. */
    cmee_ledger_entry e[4];
    assert_int_equal(ledger(a, e, 4), 1);
    assert_int_equal(e[0].kind, CMEE_LEDGER_DEPOSIT);
    assert_int_equal(e[0].amount, 10000 * SCALE);
    cmee_session_free(a);
    cmee_session_free(b);
}

/* A wall clock the test moves by hand. */
static int64_t fake_wall(void *ud)
{
    return *(int64_t *)ud;
}

static void test_clock(void **state)
{
    (void)state;
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.start_time = START;
    c.speed = 60;
    /* Created paused: the real wall clock runs (at 60x) until the fake one takes over, and a
     * slow machine (valgrind) spends more than a millisecond there. */
    c.paused = true;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
    int64_t wall = 1000000;
    cmee_session_set_wall_clock(s, fake_wall, &wall);
    OK(s, cmee_session_resume(s));
    cmee_clock k;
    OK(s, cmee_session_clock(s, &k));
    assert_int_equal(k.now, START);
    wall += 1000; /* one wall second at 60x: one sim minute */
    OK(s, cmee_session_clock(s, &k));
    assert_int_equal(k.now, START + MIN_MS);
    OK(s, cmee_session_pause(s));
    wall += 5000;
    OK(s, cmee_session_clock(s, &k));
    assert_int_equal(k.now, START + MIN_MS);
    assert_true(k.paused);
    OK(s, cmee_session_step(s, 30000)); /* steps work while paused */
    OK(s, cmee_session_clock(s, &k));
    assert_int_equal(k.now, START + MIN_MS + 30000);
    OK(s, cmee_session_resume(s));
    OK(s, cmee_session_set_speed(s, 2));
    wall += 1000;
    OK(s, cmee_session_clock(s, &k));
    assert_int_equal(k.now, START + MIN_MS + 32000);
    /* Never backward: neither by seek nor by a wall clock that goes back. */
    int64_t before = k.now;
    assert_int_equal(cmee_session_seek(s, before - 1), CMEE_ESTATE);
    assert_non_null(strstr(cmee_session_errmsg(s), "never goes back"));
    OK(s, cmee_session_advance(s, NULL));
    wall -= 100000;
    OK(s, cmee_session_clock(s, &k));
    assert_true(k.now >= before);
    OK(s, cmee_session_seek(s, before + HOUR_MS));
    OK(s, cmee_session_clock(s, &k));
    assert_true(k.now >= before + HOUR_MS);
    assert_int_equal(cmee_session_set_speed(s, 0), CMEE_EINVAL);
    assert_int_equal(cmee_session_step(s, -1), CMEE_EINVAL);
    cmee_session_free(s);
    /* Manual mode: only step and seek move it, and it cannot be resumed. */
    s = manual(1);
    assert_int_equal(cmee_session_resume(s), CMEE_ESTATE);
    OK(s, cmee_session_clock(s, &k));
    assert_true(k.manual && k.paused);
    assert_int_equal(k.now, START);
    cmee_session_free(s);
}

/* The view never reveals a price after the session's now. */
static void test_market_view(void **state)
{
    (void)state;
    cmee_session *s = manual_model(7, CMEE_FILL_QUOTE); /* bid < price < ask */
    OK(s, cmee_session_step(s, 17 * MIN_MS + 23456)); /* inside a 1h candle and a minute */
    cmee_clock k;
    OK(s, cmee_session_clock(s, &k));
    const cmee_market *m = cmee_session_market(s);
    cmee_quote q;
    OK(s, cmee_session_quote(s, "BTCUSD", &q));
    assert_int_equal(q.time, k.now);
    double p;
    assert_int_equal(cmee_market_price(m, "BTCUSD", k.now, &p), CMEE_OK);
    assert_true(q.price == p);
    assert_true(q.bid < q.price && q.ask > q.price);
    assert_false(q.halted);
    cmee_candle c[50];
    size_t n;
    OK(s, cmee_session_candles(s, "BTCUSD", CMEE_TF_1H, 50, c, 50, &n));
    assert_int_equal(n, 50);
    /* 49 complete candles as the market has them, then the forming one. */
    cmee_candle full[50];
    size_t nf;
    int64_t hour = k.now - (k.now - CMEE_TIME_MIN) % HOUR_MS;
    assert_int_equal(cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, hour, 49, full, 50, &nf),
                     CMEE_OK);
    assert_memory_equal(c, full, 49 * sizeof *c);
    cmee_candle *f = &c[49];
    assert_int_equal(f->time, hour);
    assert_true(f->open == c[48].close);
    assert_true(f->close == q.price);
    /* Its high and low are those of the ticks up to now: at most the hour's. */
    cmee_candle whole;
    assert_int_equal(cmee_market_candles(m, "BTCUSD", CMEE_TF_1H, hour, hour + 1, &whole, 1, &nf),
                     CMEE_OK);
    assert_true(f->high <= whole.high && f->low >= whole.low);
    assert_true(f->volume < whole.volume);
    for (int i = 0; i < 49; i++)
        assert_true(c[i].time + HOUR_MS <= k.now);
    assert_int_equal(cmee_session_quote(s, "NOPE", &q), CMEE_ENOTFOUND);
    cmee_session_free(s);
}

static cmee_order market_order(cmee_session *s, const char *sym, cmee_side side, double qty)
{
    cmee_order_request r;
    cmee_order_request_init(&r, sym);
    r.side = side;
    r.quantity = qty;
    cmee_order o;
    OK(s, cmee_session_order(s, &r, &o));
    return o;
}

static void test_market_orders(void **state)
{
    (void)state;
    cmee_session *s = manual_model(3, CMEE_FILL_QUOTE); /* fills at the quote's ask and bid */
    cmee_quote q;
    OK(s, cmee_session_quote(s, "ETHUSD", &q));
    cmee_order o = market_order(s, "ETHUSD", CMEE_SIDE_BUY, 2);
    assert_int_equal(o.state, CMEE_ORDER_FILLED);
    assert_true(o.fill_price == q.ask);
    assert_int_equal(o.fee, llround(2 * q.ask * 0.001 * SCALE));
    cmee_position p[4];
    size_t n;
    OK(s, cmee_session_positions(s, p, 4, &n));
    assert_int_equal(n, 1);
    assert_true(p[0].quantity == 2 && p[0].avg_price == q.ask);
    OK(s, cmee_session_step(s, 2 * HOUR_MS));
    OK(s, cmee_session_quote(s, "ETHUSD", &q));
    cmee_order o2 = market_order(s, "ETHUSD", CMEE_SIDE_SELL, 3); /* close 2, open 1 short */
    assert_true(o2.fill_price == q.bid);
    cmee_ledger_entry e[16];
    size_t ne = ledger(s, e, 16);
    assert_int_equal(e[ne - 1].kind, CMEE_LEDGER_PNL);
    assert_int_equal(e[ne - 1].amount, llround((q.bid - o.fill_price) * 2 * SCALE));
    OK(s, cmee_session_positions(s, p, 4, &n));
    assert_int_equal(n, 1);
    assert_true(p[0].quantity == -1 && p[0].avg_price == q.bid);
    assert_int_equal(p[0].realised, e[ne - 1].amount);
    assert_balanced(s);
    cmee_order o3;
    OK(s, cmee_session_close_position(s, "ETHUSD", &o3));
    assert_int_equal(o3.side, CMEE_SIDE_BUY);
    OK(s, cmee_session_positions(s, p, 4, &n));
    assert_int_equal(n, 0);
    assert_int_equal(cmee_session_close_position(s, "ETHUSD", NULL), CMEE_ENOTFOUND);
    assert_balanced(s);
    cmee_session_free(s);
}

/* Limit and stop orders fill on the tick path at the documented prices; stop-loss and
 * take-profit close positions. */
static void test_pending_orders(void **state)
{
    (void)state;
    cmee_session *s = manual_model(12, CMEE_FILL_QUOTE);
    cmee_quote q;
    OK(s, cmee_session_quote(s, "BTCUSD", &q));
    cmee_order_request r;
    cmee_order_request_init(&r, "BTCUSD");
    r.type = CMEE_ORDER_LIMIT;
    r.quantity = 0.1;
    r.price = floor(q.ask * 0.997);
    cmee_order lim;
    OK(s, cmee_session_order(s, &r, &lim));
    assert_int_equal(lim.state, CMEE_ORDER_OPEN);
    r.type = CMEE_ORDER_STOP;
    r.price = ceil(q.ask * 1.003);
    cmee_order stp;
    OK(s, cmee_session_order(s, &r, &stp));
    cmee_order far = stp;
    r.price = q.ask * 3;
    OK(s, cmee_session_order(s, &r, &far));
    assert_int_equal(cmee_session_cancel_order(s, far.id), CMEE_OK);
    assert_int_equal(cmee_session_cancel_order(s, far.id), CMEE_ESTATE);
    assert_int_equal(cmee_session_cancel_order(s, 999), CMEE_ENOTFOUND);
    /* Step until both have filled (BTC moves 0.3 % within days). */
    cmee_order all[8];
    size_t n = 0;
    for (int day = 0; day < 60; day++) {
        OK(s, cmee_session_step(s, 12 * HOUR_MS));
        OK(s, cmee_session_orders(s, true, all, 8, &n));
        if (n == 0)
            break;
    }
    assert_int_equal(n, 0);
    OK(s, cmee_session_orders(s, false, all, 8, &n));
    assert_int_equal(n, 3);
    assert_int_equal(all[0].state, CMEE_ORDER_FILLED);
    assert_true(all[0].fill_price == lim.price);
    assert_int_equal(all[1].state, CMEE_ORDER_FILLED);
    assert_true(all[1].fill_price >= stp.price);
    assert_int_equal(all[2].state, CMEE_ORDER_CANCELLED);
    /* The tick that filled the stop had an ask at or above the stop; the one before it did
     * not (unless at the same time as the order). */
    const cmee_market *m = cmee_session_market(s);
    double p;
    assert_int_equal(cmee_market_price(m, "BTCUSD", all[1].closed, &p), CMEE_OK);
    assert_true(p * (1 + 1e-4) + 0.01 >= stp.price);
    assert_true(all[0].closed > lim.created && all[1].closed > stp.created);
    cmee_position pos[2];
    OK(s, cmee_session_positions(s, pos, 2, &n));
    assert_int_equal(n, 1);
    assert_true(fabs(pos[0].quantity - 0.2) < 1e-12);
    /* Protection: a take-profit just above and a stop-loss below; one of them closes it. */
    OK(s, cmee_session_quote(s, "BTCUSD", &q));
    assert_int_equal(cmee_session_protect(s, "BTCUSD", q.bid * 1.01, 0), CMEE_EINVAL);
    OK(s, cmee_session_protect(s, "BTCUSD", floor(q.bid * 0.995), ceil(q.bid * 1.005)));
    for (int day = 0; day < 60; day++) {
        OK(s, cmee_session_step(s, 12 * HOUR_MS));
        OK(s, cmee_session_positions(s, pos, 2, &n));
        if (n == 0)
            break;
    }
    assert_int_equal(n, 0);
    OK(s, cmee_session_orders(s, false, all, 8, &n));
    assert_int_equal(n, 4);
    assert_int_equal(all[3].side, CMEE_SIDE_SELL);
    assert_int_equal(all[3].state, CMEE_ORDER_FILLED);
    assert_true(all[3].type == CMEE_ORDER_STOP || all[3].fill_price == ceil(q.bid * 1.005));
    assert_balanced(s);
    cmee_session_free(s);
}

static void test_options(void **state)
{
    (void)state;
    cmee_session *s = manual(5);
    int won = 0, lost = 0;
    for (int i = 0; i < 40; i++) {
        cmee_option_request r;
        cmee_option_request_init(&r, i % 2 ? "EURUSD" : "BTCUSD");
        r.kind = i % 3 ? CMEE_OPTION_CALL : CMEE_OPTION_PUT;
        r.stake = 10 * SCALE;
        r.duration = 5 * MIN_MS;
        cmee_option o;
        OK(s, cmee_session_option(s, &r, &o));
        assert_int_equal(o.state, CMEE_OPTION_OPEN);
        assert_true(o.payout == 0.8);
        OK(s, cmee_session_step(s, 7 * MIN_MS));
        cmee_option all[64];
        size_t n;
        OK(s, cmee_session_options(s, false, all, 64, &n));
        cmee_option *x = &all[n - 1];
        double p;
        assert_int_equal(cmee_market_price(cmee_session_market(s), x->symbol, x->expires, &p),
                         CMEE_OK);
        assert_true(x->settle_price == p);
        bool up = p > x->strike, down = p < x->strike;
        if ((x->kind == CMEE_OPTION_CALL && up) || (x->kind == CMEE_OPTION_PUT && down)) {
            assert_int_equal(x->state, CMEE_OPTION_WON);
            assert_int_equal(x->paid, 18 * SCALE);
            won++;
        } else if (up || down) {
            assert_int_equal(x->state, CMEE_OPTION_LOST);
            assert_int_equal(x->paid, 0);
            lost++;
        } else {
            assert_int_equal(x->state, CMEE_OPTION_TIE);
            assert_int_equal(x->paid, 10 * SCALE);
        }
    }
    assert_true(won > 5 && lost > 5);
    size_t n;
    OK(s, cmee_session_options(s, true, NULL, 0, &n));
    assert_int_equal(n, 0);
    assert_balanced(s);
    /* Refusals. */
    cmee_option_request r;
    cmee_option_request_init(&r, "BTCUSD");
    r.stake = 0;
    assert_int_equal(cmee_session_option(s, &r, NULL), CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "stake"));
    r.stake = SCALE;
    r.duration = 10;
    assert_int_equal(cmee_session_option(s, &r, NULL), CMEE_EINVAL);
    r.duration = MIN_MS;
    r.stake = 10000000 * SCALE;
    assert_int_equal(cmee_session_option(s, &r, NULL), CMEE_ENOSPACE);
    assert_non_null(strstr(cmee_session_errmsg(s), "insufficient funds"));
    cmee_session_free(s);
}

/* Refused operations return a status with a message and change nothing. */
static void test_refusals(void **state)
{
    (void)state;
    cmee_session *s = manual(9);
    market_order(s, "ETHUSD", CMEE_SIDE_BUY, 1);
    cmee_account a0, a1;
    OK(s, cmee_session_account(s, &a0));
    cmee_ledger_entry l0[64], l1[64];
    size_t n0 = ledger(s, l0, 64);
    cmee_order_request r;
    cmee_order_request_init(&r, "ETHUSD");
    r.quantity = 1e6; /* far beyond the balance */
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_ENOSPACE);
    assert_non_null(strstr(cmee_session_errmsg(s), "insufficient funds"));
    r.quantity = -1;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "quantity"));
    r.quantity = NAN;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_EINVAL);
    cmee_order_request_init(&r, "NOPE");
    r.quantity = 1;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_ENOTFOUND);
    cmee_order_request_init(&r, "ETHUSD");
    r.quantity = 1;
    r.type = CMEE_ORDER_LIMIT;
    r.price = 0;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "price"));
    r.type = CMEE_ORDER_MARKET;
    r.stop_loss = 1e9;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "stop_loss"));
    OK(s, cmee_session_account(s, &a1));
    assert_memory_equal(&a0, &a1, sizeof a0);
    assert_int_equal(ledger(s, l1, 64), n0);
    assert_memory_equal(l0, l1, n0 * sizeof *l0);
    size_t no;
    OK(s, cmee_session_orders(s, false, NULL, 0, &no));
    assert_int_equal(no, 1);
    /* A halted market refuses orders and options. */
    cmee_scenario *halt = NULL;
    assert_int_equal(cmee_scenario_preset("trading_halt", NULL, &halt, NULL), CMEE_OK);
    cmee_application_id id;
    OK(s, cmee_session_apply_scenario(s, halt, &id));
    OK(s, cmee_session_step(s, 5 * MIN_MS));
    cmee_quote q;
    OK(s, cmee_session_quote(s, "ETHUSD", &q));
    assert_true(q.halted);
    cmee_order_request_init(&r, "ETHUSD");
    r.quantity = 0.1;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_ESTATE);
    assert_non_null(strstr(cmee_session_errmsg(s), "halted"));
    cmee_option_request orq;
    cmee_option_request_init(&orq, "ETHUSD");
    orq.stake = SCALE;
    assert_int_equal(cmee_session_option(s, &orq, NULL), CMEE_ESTATE);
    OK(s, cmee_session_step(s, 30 * MIN_MS));
    market_order(s, "ETHUSD", CMEE_SIDE_SELL, 0.1);
    cmee_scenario_free(halt);
    assert_balanced(s);
    cmee_session_free(s);
}

typedef struct seen {
    int count[6];
    char last[512];
} seen;

static void listen(void *ud, const cmee_session_event *ev)
{
    seen *x = ud;
    x->count[ev->kind]++;
    snprintf(x->last, sizeof x->last, "%s", ev->json);
    assert_non_null(cmee_session_event_kind_name(ev->kind));
}

static void test_events(void **state)
{
    (void)state;
    cmee_session *s = manual(2);
    seen x = {{0}, ""};
    cmee_session_set_listener(s, listen, &x);
    market_order(s, "BTCUSD", CMEE_SIDE_BUY, 0.01);
    assert_int_equal(x.count[CMEE_SESSION_EV_ORDER_FILLED], 1);
    assert_non_null(strstr(x.last, "\"symbol\":\"BTCUSD\""));
    cmee_option_request r;
    cmee_option_request_init(&r, "BTCUSD");
    r.stake = SCALE;
    OK(s, cmee_session_option(s, &r, NULL));
    OK(s, cmee_session_step(s, 2 * MIN_MS));
    assert_int_equal(x.count[CMEE_SESSION_EV_OPTION_SETTLED], 1);
    assert_int_equal(x.count[CMEE_SESSION_EV_CLOCK_CHANGED], 1);
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &sc, NULL), CMEE_OK);
    cmee_application_id id;
    OK(s, cmee_session_apply_scenario(s, sc, &id));
    assert_int_equal(x.count[CMEE_SESSION_EV_SCENARIO_APPLIED], 1);
    assert_non_null(strstr(x.last, "crash"));
    OK(s, cmee_session_step(s, MIN_MS));
    OK(s, cmee_session_cancel_scenario(s, id));
    assert_int_equal(x.count[CMEE_SESSION_EV_SCENARIO_CANCELLED], 1);
    cmee_scenario_free(sc);
    cmee_session_free(s);
}

/* 10,000 random operations from a fixed seed; after every one the balance is the sum of the
 * ledger. */
static void random_ledger(cmee_fill_model model)
{
    cmee_session *s = manual_model(77, model);
    srand(20261124);
    const char *syms[] = {"BTCUSD", "ETHUSD", "EURUSD", "XAUUSD", "AAPL"};
    int refused = 0;
    /* Fewer at a CMEE_TEST_SCALE below 1 (cmee_test.h). */
    const size_t count = cmee_test_scaled(10000);
    for (size_t i = 0; i < count; i++) {
        const char *sym = syms[rand() % 5];
        int op = rand() % 10;
        cmee_status st = CMEE_OK;
        if (op < 3) {
            cmee_order_request r;
            cmee_order_request_init(&r, sym);
            r.side = rand() % 2 ? CMEE_SIDE_BUY : CMEE_SIDE_SELL;
            cmee_quote q;
            OK(s, cmee_session_quote(s, sym, &q));
            r.quantity = (double)(1 + rand() % 50) * 200.0 / q.price;
            r.type = (cmee_order_type)(rand() % 3);
            if (r.type != CMEE_ORDER_MARKET) {
                double off = 1.0 + ((rand() % 200) - 100) / 10000.0;
                r.price = q.price * off;
            }
            st = cmee_session_order(s, &r, NULL);
        } else if (op < 5) {
            cmee_option_request r;
            cmee_option_request_init(&r, sym);
            r.kind = rand() % 2 ? CMEE_OPTION_CALL : CMEE_OPTION_PUT;
            r.stake = (int64_t)(1 + rand() % 100) * SCALE;
            r.duration = (1 + rand() % 30) * MIN_MS;
            st = cmee_session_option(s, &r, NULL);
        } else if (op < 6) {
            cmee_position p[8];
            size_t n;
            OK(s, cmee_session_positions(s, p, 8, &n));
            if (n > 0)
                st = cmee_session_close_position(s, p[rand() % n].symbol, NULL);
        } else if (op < 7) {
            cmee_order o[64];
            size_t n;
            st = cmee_session_orders(s, true, NULL, 0, &n);
            if (n > 0 && n <= 64) {
                OK(s, cmee_session_orders(s, true, o, 64, &n));
                st = cmee_session_cancel_order(s, o[rand() % n].id);
            }
        } else {
            st = cmee_session_step(s, (int64_t)(rand() % 600) * 1000);
        }
        if (st != CMEE_OK) {
            assert_true(st == CMEE_ENOSPACE || st == CMEE_EINVAL);
            refused++;
        }
        /* The invariant, cheaply: balance equals the last running balance and the sum. */
        cmee_account a;
        OK(s, cmee_session_account(s, &a));
        cmee_ledger_entry last;
        size_t n;
        OK(s, cmee_session_ledger(s, a.ledger_entries - 1, &last, 1, &n));
        assert_int_equal(last.balance, a.balance);
    }
    assert_balanced(s);
    cmee_account a;
    OK(s, cmee_session_account(s, &a));
    print_message("%zu operations (%s fills): %zu ledger entries, %d refused, balance %.2f\n",
                  count, model == CMEE_FILL_BOOK ? "book" : "quote", a.ledger_entries, refused,
                  (double)a.balance / SCALE);
    assert_true(a.ledger_entries > cmee_test_scaled(3000));
    cmee_session_free(s);
}

static void test_random_ledger(void **state)
{
    (void)state;
    random_ledger(CMEE_FILL_QUOTE);
}

static void test_random_ledger_book(void **state)
{
    (void)state;
    random_ledger(CMEE_FILL_BOOK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),          cmocka_unit_test(test_clock),
        cmocka_unit_test(test_market_view),     cmocka_unit_test(test_market_orders),
        cmocka_unit_test(test_pending_orders),  cmocka_unit_test(test_options),
        cmocka_unit_test(test_refusals),        cmocka_unit_test(test_events),
        cmocka_unit_test(test_random_ledger),   cmocka_unit_test(test_random_ledger_book),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
