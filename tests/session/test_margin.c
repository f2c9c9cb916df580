/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Margin accounts: leverage capped per asset class, margin level, margin calls once per
 * crossing, liquidation at the first tick below the maintenance level — checked against a
 * brute-force scan of every tick of the symbols held, with no pruning — refusals that change
 * nothing, a randomised run of leveraged trades through the crash preset whose equity the
 * ledger always explains, the store round trip, and leverage 1 giving exactly what libcmee did
 * before margin accounts (a store written by that library, tests/data/session/v3_book.sqlite).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmee_test.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS; /* 2026-01-01 09:00 UTC */
static char tmpdir[64];

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s)); \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- events ---------------------------------------------------------------------------------- */

typedef struct ev {
    cmee_session_event_kind kind;
    int64_t time;
    char json[512];
} ev;

static ev evs[20000];
static size_t nevs;

static void on_event(void *ud, const cmee_session_event *e)
{
    (void)ud;
    if (nevs < sizeof evs / sizeof *evs) {
        evs[nevs].kind = e->kind;
        evs[nevs].time = e->time;
        snprintf(evs[nevs].json, sizeof evs[nevs].json, "%s", e->json);
        nevs++;
    }
}

/* The time of the first event of @p kind from index @p from on, or -1. */
static int64_t first_event(cmee_session_event_kind kind, size_t from)
{
    for (size_t i = from; i < nevs; i++)
        if (evs[i].kind == kind)
            return evs[i].time;
    return -1;
}

/* ---- sessions ------------------------------------------------------------------------------ */

static cmee_session *open_levels(uint64_t seed, double leverage, cmee_fill_model model,
                                 const char *preset, double call, double maint)
{
    cmee_scenario *sc = NULL;
    if (preset)
        assert_int_equal(cmee_scenario_preset(preset, NULL, &sc, NULL), CMEE_OK);
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.seed = seed;
    c.start_time = START;
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    c.fill_model = model;
    c.leverage = leverage;
    c.margin_call_level = call;
    c.maintenance_level = maint;
    c.scenario = sc;
    cmee_session *s = NULL;
    cmee_error err;
    if (cmee_session_new(&c, NULL, NULL, &s, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    cmee_scenario_free(sc);
    cmee_session_set_listener(s, on_event, NULL);
    return s;
}

/* An in-memory session with the default call and maintenance levels (100 %, 50 %). */
static cmee_session *open_margin(uint64_t seed, double leverage, cmee_fill_model model,
                                 const char *preset)
{
    return open_levels(seed, leverage, model, preset, 1.0, 0.5);
}

static cmee_status order(cmee_session *s, const char *sym, cmee_side side, cmee_order_type type,
                         double qty, double price, cmee_order *out)
{
    cmee_order_request r;
    cmee_order_request_init(&r, sym);
    r.side = side;
    r.type = type;
    r.quantity = qty;
    r.price = price;
    return cmee_session_order(s, &r, out);
}

static int64_t now_of(cmee_session *s)
{
    cmee_clock c;
    OK(s, cmee_session_clock(s, &c));
    return c.processed;
}

/* ---- the account as the test works it out ------------------------------------------------ */

/* A position, with the leverage the test derives from the config and the symbol's class. */
typedef struct hold {
    char sym[CMEE_SYMBOL_MAX];
    double q, avg, lev;
} hold;

typedef struct book {
    hold h[32];
    size_t n;
    int64_t balance, used;
    bool called;
} book;

/* The default caps of cmee_session_config_init(), by asset class. */
static const double cmee_test_caps[CMEE_SESSION_CLASSES] = {5, 50, 20, 20, 5, 10, 5};

static int64_t money(double units)
{
    return (int64_t)llround(units * (double)SCALE);
}

/* The documented margin of a position: |q| x avg / leverage, rounded to money units. */
static int64_t margin_of(double q, double avg, double lev)
{
    return money(fabs(q) * avg / lev);
}

/* The positions and balance of @p s, each position's leverage worked out from the config (the
 * session's, capped by the class's; 1 in a cash account) and checked against what it reports,
 * and the account's margin figures checked against them. */
static void take_book(cmee_session *s, book *b)
{
    cmee_session_config c;
    OK(s, cmee_session_config_get(s, &c));
    cmee_account a;
    OK(s, cmee_session_account(s, &a));
    cmee_position p[32];
    size_t n;
    OK(s, cmee_session_positions(s, p, 32, &n));
    const cmee_market *m = cmee_session_market(s);
    memset(b, 0, sizeof *b);
    int64_t unreal = 0;
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec spec;
        assert_int_equal(cmee_market_symbol(m, p[i].symbol, &spec), CMEE_OK);
        double lev = c.leverage > 1 ? fmin(c.leverage, c.max_leverage[spec.asset_class]) : 1.0;
        assert_true(p[i].leverage == lev);
        assert_int_equal(p[i].margin, margin_of(p[i].quantity, p[i].avg_price, lev));
        double mark;
        assert_int_equal(cmee_market_price(m, p[i].symbol, now_of(s), &mark), CMEE_OK);
        assert_true(p[i].mark == mark);
        assert_int_equal(p[i].unrealised, money((mark - p[i].avg_price) * p[i].quantity));
        unreal += p[i].unrealised;
        hold *h = &b->h[b->n++];
        memcpy(h->sym, p[i].symbol, sizeof h->sym);
        h->q = p[i].quantity;
        h->avg = p[i].avg_price;
        h->lev = lev;
        b->used += p[i].margin;
    }
    b->balance = a.balance;
    b->called = a.margin_call;
    /* Equity is the ledger's balance plus the positions' unrealised P&L, nothing else. */
    assert_int_equal(a.unrealised, unreal);
    assert_int_equal(a.equity, a.balance + unreal);
    assert_int_equal(a.used_margin, b->used);
    assert_int_equal(a.free_margin, a.equity - a.used_margin);
    if (b->used > 0)
        assert_true(a.margin_level == (double)a.equity / (double)a.used_margin);
    else
        assert_true(isinf(a.margin_level) && a.margin_level > 0);
    if (c.leverage == 1)
        assert_false(a.margin_call);
}

/* The ledger invariant: running balances and the total agree with the account, and every
 * entry but the deposit belongs to an order or an option of the session. */
static void assert_ledger(cmee_session *s)
{
    static cmee_ledger_entry e[60000];
    static cmee_order o[20000];
    size_t n, no, nopt;
    OK(s, cmee_session_ledger(s, 0, e, 60000, &n));
    OK(s, cmee_session_orders(s, false, o, 20000, &no));
    OK(s, cmee_session_options(s, false, NULL, 0, &nopt));
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += e[i].amount;
        assert_int_equal(e[i].seq, i + 1);
        assert_int_equal(e[i].balance, sum);
        if (i > 0)
            assert_true(e[i].time >= e[i - 1].time);
        if (e[i].kind == CMEE_LEDGER_FEE || e[i].kind == CMEE_LEDGER_PNL) {
            assert_true(e[i].ref >= 1 && e[i].ref <= no);
            const cmee_order *x = &o[e[i].ref - 1];
            assert_int_equal(x->state, CMEE_ORDER_FILLED);
            assert_int_equal(x->closed, e[i].time);
            if (e[i].kind == CMEE_LEDGER_FEE)
                assert_int_equal(e[i].amount, -x->fee);
        } else if (e[i].kind != CMEE_LEDGER_DEPOSIT) {
            assert_true(e[i].ref >= 1 && e[i].ref <= nopt);
        }
    }
    cmee_account a;
    OK(s, cmee_session_account(s, &a));
    assert_int_equal(a.balance, sum);
    assert_int_equal(a.ledger_entries, n);
}

/* ---- the brute force ---------------------------------------------------------------------- */

/* Every tick moment in (after, until] of the symbols held in @p b, in time order, with the
 * account's margin level there: each price is its symbol's last tick at or before the moment,
 * equity = balance + sum of round((price - avg) x q), used margin as held. No pruning: every
 * tick of every minute is looked at. */
static size_t tick_levels(const cmee_market *m, const book *b, int64_t after, int64_t until,
                          int64_t *ts, double *lv, size_t cap)
{
    static cmee_tick tk[32][600];
    static size_t nt[32];
    static int64_t times[32 * 600];
    size_t out = 0;
    for (int64_t minute = after - (after - CMEE_TIME_MIN) % MIN_MS; minute <= until;
         minute += MIN_MS) {
        size_t nall = 0;
        for (size_t i = 0; i < b->n; i++) {
            assert_int_equal(cmee_market_ticks(m, b->h[i].sym, minute, tk[i], 600, &nt[i]),
                             CMEE_OK);
            for (size_t k = 0; k < nt[i]; k++)
                times[nall++] = tk[i][k].time;
        }
        /* Sort the moments (insertion sort: each symbol's are already in order). */
        for (size_t i = 1; i < nall; i++)
            for (size_t j = i; j > 0 && times[j - 1] > times[j]; j--) {
                int64_t x = times[j];
                times[j] = times[j - 1];
                times[j - 1] = x;
            }
        for (size_t k = 0; k < nall; k++) {
            int64_t t = times[k];
            if ((k > 0 && t == times[k - 1]) || t <= after || t > until)
                continue;
            int64_t equity = b->balance;
            for (size_t i = 0; i < b->n; i++) {
                double price = 0;
                bool have = false;
                for (size_t j = 0; j < nt[i] && tk[i][j].time <= t; j++) {
                    price = tk[i][j].price;
                    have = true;
                }
                assert_true(have);
                equity += money((price - b->h[i].avg) * b->h[i].q);
            }
            assert_true(out < cap);
            ts[out] = t;
            lv[out] = (double)equity / (double)b->used;
            out++;
        }
    }
    return out;
}

static int64_t lts[400000];
static double lvs[400000];

/* From the state in @p b, the first tick in (after, until] below @p maint (-1 if none), and
 * the margin calls due up to it (armed unless @p b->called; a call at each tick below @p call
 * while armed, re-armed at each tick at or above it). */
static int64_t expect(const cmee_market *m, const book *b, double call, double maint,
                      int64_t after, int64_t until, int64_t *calls, size_t *ncalls)
{
    size_t n = b->n ? tick_levels(m, b, after, until, lts, lvs, 400000) : 0;
    bool armed = !b->called;
    *ncalls = 0;
    for (size_t k = 0; k < n; k++) {
        if (call > 0 && armed && lvs[k] < call) {
            calls[(*ncalls)++] = lts[k];
            armed = false;
        } else if (call > 0 && !armed && !(lvs[k] < call)) {
            armed = true;
        }
        if (maint > 0 && lvs[k] < maint)
            return lts[k];
    }
    return -1;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_config(void **state)
{
    (void)state;
    cmee_session_config c;
    cmee_session_config_init(&c);
    assert_true(c.leverage == 1 && c.margin_call_level == 1 && c.maintenance_level == 0.5);
    assert_memory_equal(c.max_leverage, cmee_test_caps, sizeof cmee_test_caps);
    struct {
        const char *field;
        double leverage, cap, call, maint;
    } bad[] = {
        {"leverage", 0.5, 5, 1, 0.5},          {"leverage", 1001, 5, 1, 0.5},
        {"leverage", NAN, 5, 1, 0.5},          {"max_leverage", 10, 0.9, 1, 0.5},
        {"max_leverage", 10, INFINITY, 1, 0.5}, {"margin_call_level", 10, 5, -0.1, 0},
        {"margin_call_level", 10, 5, 11, 0.5}, {"maintenance_level", 10, 5, 1, 1.5},
        {"maintenance_level", 10, 5, 0.4, 0.5}, {"maintenance_level", 10, 5, 1, -0.1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cmee_session_config_init(&c);
        c.leverage = bad[i].leverage;
        c.max_leverage[CMEE_CLASS_STOCK] = bad[i].cap;
        c.margin_call_level = bad[i].call;
        c.maintenance_level = bad[i].maint;
        cmee_session *s = NULL;
        cmee_error err;
        assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, &err), CMEE_EINVAL);
        assert_string_equal(err.field, bad[i].field);
        assert_null(s);
    }
    /* A call level of 0 (none) lets the maintenance level be anything in [0, 1]; -0.0 is 0. */
    cmee_session_config_init(&c);
    c.leverage = 10;
    c.margin_call_level = -0.0;
    c.maintenance_level = 0.8;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
    cmee_session_config got;
    OK(s, cmee_session_config_get(s, &got));
    assert_false(signbit(got.margin_call_level));
    assert_true(got.leverage == 10 && got.maintenance_level == 0.8);
    /* The session never places a liquidation order for you. */
    assert_int_equal(order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIQUIDATION, 1, 0, NULL),
                     CMEE_EINVAL);
    cmee_session_free(s);
    assert_string_equal(cmee_session_event_kind_name(CMEE_SESSION_EV_MARGIN_CALL), "margin_call");
    assert_string_equal(cmee_session_event_kind_name(CMEE_SESSION_EV_LIQUIDATION), "liquidation");
    assert_null(cmee_session_event_kind_name((cmee_session_event_kind)8));
}

/* Leverage caps by class, the margin of each position, and refusals that change nothing. */
static void test_leverage_and_refusals(void **state)
{
    (void)state;
    cmee_session *s = open_margin(5, 30, CMEE_FILL_BOOK, NULL);
    cmee_quote qb, qe;
    OK(s, cmee_session_quote(s, "BTCUSD", &qb));
    OK(s, cmee_session_quote(s, "EURUSD", &qe));
    /* 100,000 of equity: 250,000 of BTC at 5x (crypto's cap) takes 50,000 of margin... */
    double qty = floor(250000 / qb.ask * 1000) / 1000;
    OK(s, order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, qty, 0, NULL));
    /* ... 1,000,000 of EURUSD at 30x (FX's cap is 50) about 33,333 more. */
    OK(s, order(s, "EURUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 1000000 / qe.bid, 0, NULL));
    book b;
    take_book(s, &b);
    assert_int_equal(b.n, 2);
    assert_true(b.h[0].lev == 5 && b.h[1].lev == 30);
    assert_true(b.used > 80000 * SCALE && b.used < 85000 * SCALE);
    /* A cash account would have refused both: the notional is 12x the equity. */
    cmee_account a0, a1;
    OK(s, cmee_session_account(s, &a0));
    assert_true(a0.margin_level > 1 && a0.margin_level < 1.25);
    static cmee_order o0[64], o1[64];
    static cmee_ledger_entry l0[256], l1[256];
    static cmee_position p0[32], p1[32];
    size_t no0, no1, nl0, nl1, np0, np1;
    OK(s, cmee_session_orders(s, false, o0, 64, &no0));
    OK(s, cmee_session_ledger(s, 0, l0, 256, &nl0));
    OK(s, cmee_session_positions(s, p0, 32, &np0));
    /* More than the free margin: refused, nothing changes. */
    double more = (double)(a0.free_margin + 1000 * SCALE) / SCALE * 5 / qb.ask;
    assert_int_equal(order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, more, 0, NULL),
                     CMEE_ENOSPACE);
    assert_non_null(strstr(cmee_session_errmsg(s), "insufficient funds"));
    cmee_option_request r;
    cmee_option_request_init(&r, "EURUSD");
    r.stake = a0.free_margin + 1;
    assert_int_equal(cmee_session_option(s, &r, NULL), CMEE_ENOSPACE);
    OK(s, cmee_session_account(s, &a1));
    OK(s, cmee_session_orders(s, false, o1, 64, &no1));
    OK(s, cmee_session_ledger(s, 0, l1, 256, &nl1));
    OK(s, cmee_session_positions(s, p1, 32, &np1));
    assert_memory_equal(&a0, &a1, sizeof a0);
    assert_int_equal(no0, no1);
    assert_memory_equal(o0, o1, no0 * sizeof *o0);
    assert_int_equal(nl0, nl1);
    assert_memory_equal(l0, l1, nl0 * sizeof *l0);
    assert_int_equal(np0, np1);
    assert_memory_equal(p0, p1, np0 * sizeof *p0);
    /* Within the free margin it fills; reducing a position needs no margin at all. */
    OK(s, order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, more / 4, 0, NULL));
    OK(s, order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, qty, 0, NULL));
    take_book(s, &b);
    assert_ledger(s);
    cmee_session_free(s);

    /* Leverage lets a position outgrow the notional limit of one fill; it may not: refused
     * with EINVAL, even with the margin for it. */
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.manual_clock = true;
    c.start_time = START;
    c.initial_balance = INT64_C(1000000000) * SCALE;
    c.leverage = 50;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
    OK(s, order(s, "EURUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 6e9, 0, NULL));
    assert_int_equal(order(s, "EURUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 6e9, 0, NULL),
                     CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "position"));
    cmee_session_free(s);
}

/* The first tick below the maintenance level liquidates — never a tick earlier or later — for
 * portfolios of one to three symbols, long and short, both fill models, leverage 3 to 50,
 * through the crash preset. Twin sessions: one is stepped to the tick before and then to the
 * tick, the other over the whole window at once. */
static void test_liquidation_exact(void **state)
{
    (void)state;
    static const char *const syms[] = {"BTCUSD", "ETHUSD", "SOLUSD", "XAUUSD", "SPX500",
                                       "EURUSD", "AAPL",   "WTIUSD"};
    uint64_t rng = 77;
    size_t found = 0, multi = 0, shorts = 0;
    for (int trial = 0; trial < 36; trial++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        double leverage = 3 + (double)(rng >> 40) / (double)(1ull << 24) * 47;
        cmee_fill_model model = trial % 3 == 2 ? CMEE_FILL_QUOTE : CMEE_FILL_BOOK;
        size_t k = 1 + (size_t)(trial % 3);
        cmee_session *s[2];
        for (int w = 0; w < 2; w++)
            s[w] = open_margin(1000 + (uint64_t)trial, leverage, model, "crash");
        /* Positions that take most of the free margin: longs lose in the crash. */
        for (size_t i = 0; i < k; i++) {
            const char *sym = syms[(trial + 3 * (int)i) % 8];
            cmee_side side = (i == 1 && trial % 4 == 1) ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
            shorts += side == CMEE_SIDE_SELL;
            cmee_account a;
            cmee_quote q;
            OK(s[0], cmee_session_account(s[0], &a));
            OK(s[0], cmee_session_quote(s[0], sym, &q));
            /* Sized for the session's leverage; the class may cap it (take_book checks). */
            double qty = (double)a.free_margin / SCALE * 0.9 / (double)(k - i) * leverage / q.ask;
            for (int w = 0; w < 2; w++) {
                cmee_status st = order(s[w], sym, side, CMEE_ORDER_MARKET, qty, 0, NULL);
                while (st == CMEE_ENOSPACE) { /* the class caps the leverage: ask for less */
                    qty /= 2;
                    st = order(s[w], sym, side, CMEE_ORDER_MARKET, qty, 0, NULL);
                }
                OK(s[w], st);
            }
        }
        book b;
        take_book(s[0], &b);
        int64_t now = now_of(s[0]), until = now + 12 * HOUR_MS;
        int64_t calls[4096];
        size_t ncalls;
        int64_t tl = expect(cmee_session_market(s[0]), &b, 1.0, 0.5, now, until, calls, &ncalls);
        nevs = 0;
        if (tl < 0) {
            OK(s[0], cmee_session_seek(s[0], until));
            assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, 0), -1);
            book after;
            take_book(s[0], &after);
            assert_int_equal(after.n, b.n);
        } else {
            found++;
            multi += b.n > 1;
            /* Never earlier: at the tick before, every position is still there. */
            OK(s[0], cmee_session_seek(s[0], tl - 1));
            assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, 0), -1);
            book before;
            take_book(s[0], &before);
            assert_int_equal(before.n, b.n);
            assert_int_equal(before.balance, b.balance);
            /* At it: liquidation orders at exactly that time, their fees and P&L booked. */
            OK(s[0], cmee_session_seek(s[0], tl));
            assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, 0), tl);
            static cmee_order o[64];
            size_t no;
            OK(s[0], cmee_session_orders(s[0], false, o, 64, &no));
            size_t nliq = 0;
            for (size_t i = 0; i < no; i++) {
                if (o[i].type != CMEE_ORDER_LIQUIDATION)
                    continue;
                nliq++;
                assert_int_equal(o[i].closed, tl);
                assert_int_equal(o[i].created, tl);
                assert_int_equal(o[i].state, CMEE_ORDER_FILLED);
                /* It closed a whole position at the market. */
                const hold *h = NULL;
                for (size_t j = 0; j < b.n; j++)
                    if (strcmp(b.h[j].sym, o[i].symbol) == 0)
                        h = &b.h[j];
                assert_non_null(h);
                assert_true(o[i].quantity == fabs(h->q));
                assert_int_equal(o[i].side, h->q > 0 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY);
                cmee_book bk;
                assert_int_equal(cmee_market_book(cmee_session_market(s[0]), o[i].symbol, tl,
                                                  CMEE_BOOK_MAX_DEPTH, &bk),
                                 CMEE_OK);
                /* Walking the book: at the touch or worse (a level's size-weighted average
                 * may be an ulp off its price). */
                if (model == CMEE_FILL_BOOK && h->q > 0 &&
                    !(o[i].fill_price <= bk.bid * (1 + 1e-15)))
                    fail_msg("sold at %.17g above the bid %.17g", o[i].fill_price, bk.bid);
                if (model == CMEE_FILL_BOOK && h->q < 0 &&
                    !(o[i].fill_price >= bk.ask * (1 - 1e-15)))
                    fail_msg("bought at %.17g below the ask %.17g", o[i].fill_price, bk.ask);
            }
            assert_true(nliq >= 1);
            char want[64];
            snprintf(want, sizeof want, "\"orders\":%zu", nliq);
            for (size_t i = 0; i < nevs; i++)
                if (evs[i].kind == CMEE_SESSION_EV_LIQUIDATION)
                    assert_non_null(strstr(evs[i].json, want));
            /* The level is back at the maintenance level, or nothing is left. */
            cmee_account a;
            OK(s[0], cmee_session_account(s[0], &a));
            assert_true(a.positions == 0 || a.margin_level >= 0.5);
            assert_ledger(s[0]);
            take_book(s[0], &before);
        }
        /* The margin calls before it: each at its tick, once per crossing. */
        size_t got = 0;
        for (size_t i = 0; i < nevs; i++)
            if (evs[i].kind == CMEE_SESSION_EV_MARGIN_CALL) {
                assert_true(got < ncalls);
                assert_int_equal(evs[i].time, calls[got]);
                got++;
            }
        assert_int_equal(got, ncalls);
        /* The twin, over the whole window in one step, liquidates at the same tick. */
        size_t mark = nevs;
        OK(s[1], cmee_session_step(s[1], until - now));
        assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, mark), tl);
        cmee_session_free(s[0]);
        cmee_session_free(s[1]);
    }
    print_message("%zu of 36 portfolios liquidated (%zu with several symbols, %zu shorts)\n",
                  found, multi, shorts);
    assert_true(found >= 18);
    assert_true(multi >= 6);
}

/* Margin calls: raised at the first tick below the call level, re-armed at the first tick back
 * at or above it, raised again at the next crossing; exactly the brute force's list. */
static void test_margin_call_once(void **state)
{
    (void)state;
    size_t total = 0;
    for (int trial = 0; trial < 4; trial++) {
        cmee_fill_model model = trial % 2 ? CMEE_FILL_QUOTE : CMEE_FILL_BOOK;
        const char *sym = trial < 2 ? "BTCUSD" : "XAUUSD";
        /* Find the level a position gives, then call just below it: the level wanders around
         * it and crosses many times. No liquidation (maintenance 0) keeps the position. */
        cmee_session *probe = open_margin(40 + (uint64_t)trial, 20, model, NULL);
        cmee_quote q;
        OK(probe, cmee_session_quote(probe, sym, &q));
        double qty = 300000 / q.ask;
        OK(probe, order(probe, sym, CMEE_SIDE_BUY, CMEE_ORDER_MARKET, qty, 0, NULL));
        cmee_account a;
        OK(probe, cmee_session_account(probe, &a));
        cmee_session_free(probe);

        cmee_session_config c;
        cmee_session_config_init(&c);
        c.seed = 40 + (uint64_t)trial;
        c.start_time = START;
        c.manual_clock = true;
        c.initial_balance = 100000 * SCALE;
        c.fill_model = model;
        c.leverage = 20;
        c.margin_call_level = a.margin_level * 0.9995;
        c.maintenance_level = 0;
        cmee_session *s = NULL;
        assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
        cmee_session_set_listener(s, on_event, NULL);
        nevs = 0;
        OK(s, order(s, sym, CMEE_SIDE_BUY, CMEE_ORDER_MARKET, qty, 0, NULL));
        assert_int_equal(nevs, 1); /* filled, not called */
        book b;
        take_book(s, &b);
        assert_false(b.called);
        int64_t now = now_of(s), until = now + 6 * HOUR_MS;
        static int64_t calls[100000];
        size_t ncalls;
        assert_int_equal(expect(cmee_session_market(s), &b, c.margin_call_level, 0, now, until,
                                calls, &ncalls),
                         -1);
        /* In pieces of random length: the state carries across calls. */
        uint64_t rng = 99 + (uint64_t)trial;
        while (now_of(s) < until) {
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            int64_t d = 1 + (int64_t)((rng >> 33) % (40 * MIN_MS));
            OK(s, cmee_session_seek(s, now_of(s) + d < until ? now_of(s) + d : until));
        }
        size_t got = 0;
        for (size_t i = 0; i < nevs; i++) {
            assert_true(evs[i].kind != CMEE_SESSION_EV_LIQUIDATION);
            if (evs[i].kind != CMEE_SESSION_EV_MARGIN_CALL)
                continue;
            assert_true(got < ncalls);
            assert_int_equal(evs[i].time, calls[got]);
            assert_non_null(strstr(evs[i].json, "\"margin_level\":"));
            got++;
        }
        assert_int_equal(got, ncalls);
        assert_true(ncalls >= 2);
        total += ncalls;
        cmee_session_free(s);
    }
    print_message("%zu margin calls, each at the brute force's tick\n", total);
}

/* A cash account (leverage 1) is never called or liquidated, even far below half its margin;
 * the same trade on margin is liquidated. */
static void test_cash_account(void **state)
{
    (void)state;
    cmee_event shock;
    cmee_event_init(&shock, CMEE_EVENT_SHOCK);
    shock.at = HOUR_MS;
    shock.size = -0.6;
    const char *sym = "BTCUSD";
    cmee_scenario_spec spec = {.name = "drop", .symbols = &sym, .nsymbols = 1,
                               .events = &shock, .nevents = 1};
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, NULL), CMEE_OK);
    for (int lev = 1; lev <= 2; lev++) {
        cmee_session *s = open_margin(8, lev, CMEE_FILL_BOOK, NULL);
        OK(s, cmee_session_apply_scenario(s, sc, NULL));
        cmee_quote q;
        OK(s, cmee_session_quote(s, sym, &q));
        OK(s, order(s, sym, CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 95000.0 * lev / q.ask, 0, NULL));
        book b;
        take_book(s, &b);
        int64_t calls[64];
        size_t ncalls;
        int64_t now = now_of(s);
        int64_t tl = expect(cmee_session_market(s), &b, 1.0, 0.5, now, now + 2 * HOUR_MS, calls,
                            &ncalls);
        assert_true(tl > now + HOUR_MS); /* in the shock's minute */
        nevs = 0;
        OK(s, cmee_session_step(s, 2 * HOUR_MS));
        cmee_account a;
        OK(s, cmee_session_account(s, &a));
        if (lev == 1) {
            assert_true(a.margin_level < 0.5);
            assert_false(a.margin_call);
            assert_int_equal(a.positions, 1);
            assert_int_equal(first_event(CMEE_SESSION_EV_MARGIN_CALL, 0), -1);
            assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, 0), -1);
        } else {
            assert_int_equal(a.positions, 0);
            assert_int_equal(ncalls, 1);
            assert_int_equal(first_event(CMEE_SESSION_EV_MARGIN_CALL, 0), calls[0]);
            assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, 0), tl);
            assert_true(isinf(a.margin_level));
            assert_false(a.margin_call); /* no margin used: re-armed */
        }
        assert_ledger(s);
        cmee_session_free(s);
    }
    cmee_scenario_free(sc);
}

/* A halted symbol cannot trade: the liquidation closes what can, and the halted position at its
 * first tick after the halt, if the level is still below the maintenance level then. A fee of
 * 10 % makes closing the euro position cost more than the margin it frees, so the level stays
 * below the maintenance level with only the halted position left. */
static void test_liquidation_waits_for_a_halt(void **state)
{
    (void)state;
    const char *btc = "BTCUSD", *eur = "EURUSD";
    cmee_event halt, shock;
    cmee_event_init(&halt, CMEE_EVENT_HALT);
    halt.at = HOUR_MS;
    halt.end = 2 * HOUR_MS;
    cmee_event_init(&shock, CMEE_EVENT_SHOCK);
    shock.at = HOUR_MS + 10 * MIN_MS;
    shock.size = -0.6;
    cmee_scenario_spec hs = {.name = "halt", .symbols = &btc, .nsymbols = 1, .events = &halt,
                             .nevents = 1};
    cmee_scenario_spec ss = {.name = "drop", .symbols = &eur, .nsymbols = 1, .events = &shock,
                             .nevents = 1};
    cmee_scenario *h = NULL, *d = NULL;
    assert_int_equal(cmee_scenario_new(&hs, NULL, NULL, &h, NULL), CMEE_OK);
    assert_int_equal(cmee_scenario_new(&ss, NULL, NULL, &d, NULL), CMEE_OK);
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.seed = 11;
    c.start_time = START;
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    c.leverage = 50;
    c.fee_rate = 0.1;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
    cmee_session_set_listener(s, on_event, NULL);
    OK(s, cmee_session_apply_scenario(s, h, NULL));
    OK(s, cmee_session_apply_scenario(s, d, NULL));
    cmee_scenario_free(h);
    cmee_scenario_free(d);
    cmee_quote q;
    OK(s, cmee_session_quote(s, btc, &q));
    OK(s, order(s, btc, CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 1, 0, NULL));
    OK(s, cmee_session_quote(s, eur, &q));
    OK(s, order(s, eur, CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 300000 / q.ask, 0, NULL));
    nevs = 0;
    OK(s, cmee_session_step(s, 3 * HOUR_MS));
    size_t nliq = 0;
    int64_t when[2] = {0, 0};
    for (size_t i = 0; i < nevs; i++)
        if (evs[i].kind == CMEE_SESSION_EV_LIQUIDATION) {
            assert_true(nliq < 2);
            when[nliq] = evs[i].time;
            assert_non_null(strstr(evs[i].json, "\"orders\":1,\"positions_left\":"));
            nliq++;
        }
    assert_int_equal(nliq, 2);
    /* EUR in the shock's minute, while BTC is halted; BTC at the tick its halt ends. */
    assert_true(when[0] >= START + HOUR_MS + 10 * MIN_MS &&
                when[0] < START + HOUR_MS + 11 * MIN_MS);
    assert_int_equal(when[1], START + 2 * HOUR_MS);
    cmee_order o[8];
    size_t no;
    OK(s, cmee_session_orders(s, false, o, 8, &no));
    assert_int_equal(no, 4);
    assert_string_equal(o[2].symbol, eur);
    assert_int_equal(o[2].closed, when[0]);
    assert_string_equal(o[3].symbol, btc);
    assert_int_equal(o[3].closed, when[1]);
    assert_int_equal(o[3].type, CMEE_ORDER_LIQUIDATION);
    assert_ledger(s);
    cmee_session_free(s);
}

/* A randomised run of leveraged trades through the crash: after every operation the balance
 * is the sum of the ledger and equity is balance plus the positions' unrealised P&L; refusals
 * change nothing; and over every step without orders, protection or options to interfere, the
 * first liquidation and the margin calls before it are at the brute force's ticks. */
static void test_crash_random(void **state)
{
    (void)state;
    static const char *const syms[] = {"BTCUSD", "ETHUSD", "EURUSD", "XAUUSD", "NAS100",
                                       "TSLA"};
    size_t checked_steps = 0, checked_liq = 0, liquidations = 0, refusals = 0;
    for (int run = 0; run < 2; run++) {
        cmee_fill_model model = run ? CMEE_FILL_QUOTE : CMEE_FILL_BOOK;
        cmee_session *s = open_levels(2026 + (uint64_t)run, 50, model, "crash", 1.0, 0.8);
        uint64_t rng = 12345 + (uint64_t)run;
#define RND()                                                                                      \
    (rng = rng * 6364136223846793005u + 1442695040888963407u,                                      \
     (double)(rng >> 11) / 9007199254740992.0)
        for (int op = 0; op < 1000; op++) {
            double u = RND();
            const char *sym = syms[(size_t)(RND() * 6)];
            cmee_account a;
            OK(s, cmee_session_account(s, &a));
            cmee_quote q;
            OK(s, cmee_session_quote(s, sym, &q));
            static cmee_ledger_entry l0[60000];
            size_t nl0;
            OK(s, cmee_session_ledger(s, 0, l0, 60000, &nl0));
            cmee_status st = CMEE_OK;
            if (u < 0.32) {
                /* Up to 1.2 times what the free margin allows at the class's leverage. */
                cmee_symbol_spec spec;
                assert_int_equal(cmee_market_symbol(cmee_session_market(s), sym, &spec), CMEE_OK);
                double lev = fmin(50, cmee_test_caps[spec.asset_class]);
                double notional = (double)(a.free_margin > 0 ? a.free_margin : SCALE) / SCALE *
                                  lev * (0.2 + RND());
                st = order(s, sym, RND() < 0.7 ? CMEE_SIDE_BUY : CMEE_SIDE_SELL,
                           CMEE_ORDER_MARKET, notional / q.ask, 0, NULL);
            } else if (u < 0.40) {
                cmee_position p[32];
                size_t n;
                OK(s, cmee_session_positions(s, p, 32, &n));
                if (n > 0)
                    st = cmee_session_close_position(s, p[(size_t)(RND() * (double)n)].symbol,
                                                     NULL);
            } else if (u < 0.46) {
                bool buy = RND() < 0.5, limit = RND() < 0.5;
                double px = buy == limit ? q.bid * 0.995 : q.ask * 1.005;
                st = order(s, sym, buy ? CMEE_SIDE_BUY : CMEE_SIDE_SELL,
                           limit ? CMEE_ORDER_LIMIT : CMEE_ORDER_STOP, 1000 / q.ask, px, NULL);
            } else if (u < 0.50) {
                cmee_position p[32];
                size_t n;
                OK(s, cmee_session_positions(s, p, 32, &n));
                if (n > 0) {
                    const cmee_position *pp = &p[(size_t)(RND() * (double)n)];
                    cmee_quote pq;
                    OK(s, cmee_session_quote(s, pp->symbol, &pq));
                    bool lg = pp->quantity > 0;
                    st = cmee_session_protect(s, pp->symbol, lg ? pq.bid * 0.98 : pq.ask * 1.02,
                                              0);
                }
            } else if (u < 0.53) {
                cmee_option_request r;
                cmee_option_request_init(&r, sym);
                r.stake = (int64_t)((double)(a.free_margin > 0 ? a.free_margin : 1) * 0.2 *
                                    RND()) + 1;
                r.duration = 10 * MIN_MS;
                st = cmee_session_option(s, &r, NULL);
            } else if (u < 0.57) {
                size_t n;
                OK(s, cmee_session_orders(s, true, NULL, 0, &n));
                if (n > 0) {
                    static cmee_order oo[20000];
                    OK(s, cmee_session_orders(s, true, oo, 20000, &n));
                    OK(s, cmee_session_cancel_order(s, oo[0].id));
                }
            } else {
                /* A step; checked against the brute force when nothing else can fire. */
                int64_t d = 1000 + (int64_t)(RND() * RND() * 3 * HOUR_MS);
                size_t nopen, nopt;
                OK(s, cmee_session_orders(s, true, NULL, 0, &nopen));
                OK(s, cmee_session_options(s, true, NULL, 0, &nopt));
                cmee_position p[32];
                size_t n;
                OK(s, cmee_session_positions(s, p, 32, &n));
                bool quiet = nopen == 0 && nopt == 0;
                for (size_t i = 0; i < n; i++)
                    quiet = quiet && p[i].stop_loss == 0 && p[i].take_profit == 0;
                book b;
                int64_t tl = -1, calls[4096];
                size_t ncalls = 0;
                int64_t now = now_of(s);
                if (quiet) {
                    take_book(s, &b);
                    tl = expect(cmee_session_market(s), &b, 1.0, 0.8, now, now + d, calls,
                                &ncalls);
                }
                nevs = 0;
                OK(s, cmee_session_step(s, d));
                liquidations += first_event(CMEE_SESSION_EV_LIQUIDATION, 0) >= 0;
                if (quiet) {
                    checked_steps++;
                    checked_liq += tl >= 0;
                    assert_int_equal(first_event(CMEE_SESSION_EV_LIQUIDATION, 0), tl);
                    size_t got = 0;
                    for (size_t i = 0; i < nevs; i++)
                        if (evs[i].kind == CMEE_SESSION_EV_MARGIN_CALL &&
                            (tl < 0 || evs[i].time <= tl)) {
                            assert_true(got < ncalls);
                            assert_int_equal(evs[i].time, calls[got]);
                            got++;
                        }
                    assert_int_equal(got, ncalls);
                }
            }
            if (st == CMEE_ENOSPACE) {
                /* Refused: the account and the ledger are as they were. */
                refusals++;
                cmee_account a1;
                OK(s, cmee_session_account(s, &a1));
                assert_memory_equal(&a, &a1, sizeof a);
                static cmee_ledger_entry l1[60000];
                size_t nl1;
                OK(s, cmee_session_ledger(s, 0, l1, 60000, &nl1));
                assert_int_equal(nl0, nl1);
                assert_memory_equal(l0, l1, nl0 * sizeof *l0);
            } else if (st != CMEE_OK && st != CMEE_EINVAL && st != CMEE_ESTATE) {
                OK(s, st);
            }
            book b;
            take_book(s, &b);
            assert_ledger(s);
        }
#undef RND
        cmee_session_free(s);
    }
    print_message("%zu steps checked against the brute force (%zu with a liquidation), %zu steps "
                  "with a liquidation in all, %zu refusals\n",
                  checked_steps, checked_liq, liquidations, refusals);
    assert_true(checked_steps >= 150);
    assert_true(checked_liq >= 2);
    assert_true(liquidations >= 3);
    assert_true(refusals >= 10);
}

/* ---- the store ---------------------------------------------------------------------------- */

static void remove_store(const char *path)
{
    char p[200];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

/* Everything a session shows, to compare two of them. */
typedef struct record {
    cmee_session_config cfg;
    cmee_account acct;
    cmee_position pos[32];
    size_t npos;
    cmee_order orders[512];
    size_t norders;
    cmee_option options[64];
    size_t noptions;
    cmee_ledger_entry ledger[2048];
    size_t nledger;
} record;

static void take(cmee_session *s, record *r)
{
    memset(r, 0, sizeof *r);
    OK(s, cmee_session_config_get(s, &r->cfg));
    memset(r->cfg.id, 0, sizeof r->cfg.id);
    OK(s, cmee_session_account(s, &r->acct));
    OK(s, cmee_session_positions(s, r->pos, 32, &r->npos));
    OK(s, cmee_session_orders(s, false, r->orders, 512, &r->norders));
    OK(s, cmee_session_options(s, false, r->options, 64, &r->noptions));
    OK(s, cmee_session_ledger(s, 0, r->ledger, 2048, &r->nledger));
}

static void assert_same(const record *a, const record *b)
{
    assert_memory_equal(&a->cfg, &b->cfg, sizeof a->cfg);
    assert_memory_equal(&a->acct, &b->acct, sizeof a->acct);
    assert_int_equal(a->npos, b->npos);
    assert_memory_equal(a->pos, b->pos, a->npos * sizeof *a->pos);
    assert_int_equal(a->norders, b->norders);
    assert_memory_equal(a->orders, b->orders, a->norders * sizeof *a->orders);
    assert_int_equal(a->noptions, b->noptions);
    assert_memory_equal(a->options, b->options, a->noptions * sizeof *a->options);
    assert_int_equal(a->nledger, b->nledger);
    assert_memory_equal(a->ledger, b->ledger, a->nledger * sizeof *a->ledger);
}

/* The new settings and the margin call state survive the store; a reloaded session goes on
 * exactly as the one that never left memory; a changed setting is found damaged. */
static void test_store_roundtrip(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/margin.db", tmpdir);
    remove_store(path);
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
    assert_true(cmee_store_schema_version(st) >= 4); /* margins came with version 4 */
    cmee_scenario *crash = NULL;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "margin");
    c.seed = 1001;
    c.start_time = START;
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    c.leverage = 40;
    c.max_leverage[CMEE_CLASS_CRYPTO] = 8;
    c.max_leverage[CMEE_CLASS_FX] = 33.5;
    c.margin_call_level = 1.2;
    c.maintenance_level = 0.9;
    c.scenario = crash;
    cmee_session *mem = NULL, *s = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &mem, NULL), CMEE_OK);
    assert_int_equal(cmee_session_new(&c, st, NULL, &s, NULL), CMEE_OK);
    cmee_scenario_free(crash);
    cmee_session *both[2] = {mem, s};
    for (int w = 0; w < 2; w++) {
        cmee_quote q;
        OK(both[w], cmee_session_quote(both[w], "BTCUSD", &q));
        OK(both[w], order(both[w], "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 650000 / q.ask, 0,
                          NULL));
        OK(both[w], cmee_session_quote(both[w], "EURUSD", &q));
        OK(both[w], order(both[w], "EURUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 100000 / q.bid, 0,
                          NULL));
    }
    static record a, b;
    /* The thin book made the BTC order costly: the account is called, and stays so across a
     * reload. */
    cmee_session_free(s);
    assert_int_equal(cmee_session_load(st, "margin", NULL, &s, NULL), CMEE_OK);
    take(mem, &a);
    take(s, &b);
    assert_same(&a, &b);
    bool saw_call = a.acct.margin_call, saw_liq = false;
    for (int k = 0; k < 12; k++) {
        OK(mem, cmee_session_step(mem, 10 * MIN_MS));
        OK(s, cmee_session_step(s, 10 * MIN_MS));
        cmee_session_free(s); /* and back from the store, each time */
        cmee_error err;
        if (cmee_session_load(st, "margin", NULL, &s, &err) != CMEE_OK) {
            print_error("%s\n", err.text);
            fail();
        }
        take(mem, &a);
        take(s, &b);
        assert_same(&a, &b);
        saw_call = saw_call || a.acct.margin_call;
        for (size_t i = 0; i < a.norders; i++)
            saw_liq = saw_liq || a.orders[i].type == CMEE_ORDER_LIQUIDATION;
        if (a.acct.positions == 0) {
            cmee_quote q;
            for (int w = 0; w < 2; w++) {
                cmee_session *x = w ? s : mem;
                OK(x, cmee_session_quote(x, "ETHUSD", &q));
                OK(x, order(x, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 200000 / q.ask, 0,
                            NULL));
            }
        }
    }
    assert_true(saw_call && saw_liq);
    assert_true(a.cfg.leverage == 40 && a.cfg.max_leverage[CMEE_CLASS_FX] == 33.5 &&
                a.cfg.margin_call_level == 1.2 && a.cfg.maintenance_level == 0.9);
    cmee_session_free(s);
    cmee_session_free(mem);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);

    /* A margin setting changed behind the library's back is found. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE session SET leverage = 30.0 WHERE id = 'margin'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE session SET margin_called = 2", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
    cmee_error err;
    assert_int_equal(cmee_session_load(st, "margin", NULL, &s, &err), CMEE_ECORRUPT);
    assert_non_null(strstr(err.text, "session row"));
    cmee_store_close(st);
    remove_store(path);
}

/* ---- out of memory ------------------------------------------------------------------------- */

/* A margin account with two positions and an open order, all through one counting allocator. */
static cmee_session *oom_session(chaos *c, cmee_allocator *a)
{
    *a = chaos_allocator(c);
    cmee_scenario *crash = NULL;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    cmee_session_config cfg;
    cmee_session_config_init(&cfg);
    cfg.seed = 1004;
    cfg.start_time = START;
    cfg.manual_clock = true;
    cfg.initial_balance = 100000 * SCALE;
    cfg.leverage = 20;
    cfg.margin_call_level = 1.5;
    cfg.maintenance_level = 0.9;
    cfg.scenario = crash;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&cfg, NULL, a, &s, NULL), CMEE_OK);
    cmee_scenario_free(crash);
    cmee_quote q;
    OK(s, cmee_session_quote(s, "ETHUSD", &q));
    OK(s, order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 250000 / q.ask, 0, NULL));
    OK(s, order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 10, q.bid * 0.9, NULL));
    OK(s, cmee_session_quote(s, "XAUUSD", &q));
    OK(s, order(s, "XAUUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 400000 / q.ask, 0, NULL));
    return s;
}

/* Out of memory at every allocation of a step that liquidates, and of an order and an option
 * in a margin account: each call either fails with ENOMEM and changes nothing, or succeeds
 * with exactly the result of a run that never failed; nothing leaks. */
static void test_out_of_memory(void **state)
{
    (void)state;
    static record ref, before, after;
    for (int op = 0; op < 3; op++) {
        chaos c = {0};
        cmee_allocator a;
        cmee_session *s = oom_session(&c, &a);
        cmee_status want = CMEE_OK;
        cmee_option_request r;
        cmee_option_request_init(&r, "EURUSD");
        r.stake = 100 * SCALE;
#define RUN(x)                                                                                     \
    (op == 0 ? cmee_session_step((x), 48 * HOUR_MS)                                                \
     : op == 1 ? order((x), "XAUUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 10, 0, NULL)               \
               : cmee_session_option((x), &r, NULL))
        OK(s, RUN(s));
        take(s, &ref);
        if (op == 0) {
            bool liquidated = false;
            for (size_t i = 0; i < ref.norders; i++)
                liquidated = liquidated || ref.orders[i].type == CMEE_ORDER_LIQUIDATION;
            assert_true(liquidated);
        }
        cmee_session_free(s);
        assert_int_equal(c.live, 0);
        long points = 0;
        for (long n = 1;; n++) {
            chaos cc = {0};
            s = oom_session(&cc, &a);
            take(s, &before);
            cc.calls = 0;
            cc.fail_at = n;
            cmee_status st = RUN(s);
            long calls = cc.calls;
            cc.fail_at = 0;
            if (st == CMEE_ENOMEM) {
                take(s, &after);
                assert_same(&before, &after);
                OK(s, RUN(s));
            } else {
                assert_int_equal(st, want);
            }
            take(s, &after);
            assert_same(&ref, &after);
            cmee_session_free(s);
            assert_int_equal(cc.live, 0);
            if (calls < n)
                break;
            points++;
        }
#undef RUN
        print_message("margin account, operation %d: %ld allocation points\n", op, points);
    }
}

/* ---- leverage 1 is what libcmee did before -------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        print_error("cannot open %s (CMEE_TEST_DATA is the tests/data directory)\n", from);
        fail();
    }
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* The calls of tests/data/session/make_v3_fixture.c, on a session of the current library. */
static cmee_session *v3_script(cmee_store *st, const char *id)
{
    cmee_scenario *crash = NULL;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.seed = 2027;
    c.start_time = START;
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    c.scenario = crash;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&c, st, NULL, &s, NULL), CMEE_OK);
    cmee_scenario_free(crash);
    cmee_quote b, e;
    OK(s, cmee_session_quote(s, "BTCUSD", &b));
    OK(s, cmee_session_quote(s, "ETHUSD", &e));
    cmee_order_request r;
    cmee_order_request_init(&r, "BTCUSD");
    r.quantity = floor(60000 / b.ask * 100) / 100;
    OK(s, cmee_session_order(s, &r, NULL));
    cmee_order_request_init(&r, "ETHUSD");
    r.side = CMEE_SIDE_SELL;
    r.quantity = 2;
    r.take_profit = floor(e.bid * 0.9);
    OK(s, cmee_session_order(s, &r, NULL));
    OK(s, order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 1, floor(e.ask * 0.97), NULL));
    cmee_option_request o;
    cmee_option_request_init(&o, "EURUSD");
    o.stake = 50 * SCALE;
    o.duration = 90 * MIN_MS;
    OK(s, cmee_session_option(s, &o, NULL));
    OK(s, cmee_session_step(s, 3 * HOUR_MS));
    OK(s, cmee_session_quote(s, "BTCUSD", &b));
    OK(s, order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_STOP, 0.05, floor(b.bid * 0.97), NULL));
    OK(s, order(s, "XAUUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 2, 0, NULL));
    return s;
}

/* A store of schema version 3, written before margin accounts, migrates to 4; its sessions load
 * as cash accounts with the default caps and levels; "early" stepped 12 hours is exactly "late",
 * which the old library stepped; and the same calls on a new session of leverage 1 give, record
 * for record, what the old library recorded. */
static void test_leverage_one_is_the_old_rules(void **state)
{
    (void)state;
    const char *data = getenv("CMEE_TEST_DATA");
    char from[512], path[160];
    if (data)
        snprintf(from, sizeof from, "%s/session/v3_book.sqlite", data);
    else
        snprintf(from, sizeof from, "%.*s/../data/session/v3_book.sqlite",
                 (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
                 strrchr(__FILE__, '/') ? __FILE__ : ".");
    snprintf(path, sizeof path, "%s/v3.db", tmpdir);
    remove_store(path);
    copy_file(from, path);
    cmee_store *st = NULL;
    cmee_error err;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, &err), CMEE_OK);
    assert_int_equal(cmee_store_schema_version(st), CMEE_STORE_SCHEMA_VERSION);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_session *early = NULL, *late = NULL;
    assert_int_equal(cmee_session_load(st, "early", NULL, &early, &err), CMEE_OK);
    assert_int_equal(cmee_session_load(st, "late", NULL, &late, &err), CMEE_OK);
    cmee_session_config c, def;
    cmee_session_config_init(&def);
    OK(early, cmee_session_config_get(early, &c));
    assert_true(c.leverage == 1 && c.margin_call_level == def.margin_call_level &&
                c.maintenance_level == def.maintenance_level);
    assert_memory_equal(c.max_leverage, def.max_leverage, sizeof c.max_leverage);
    assert_int_equal(c.fill_model, CMEE_FILL_BOOK);

    /* The same calls today, in memory: record for record what the old library stored. */
    static record a, b;
    cmee_session *now = v3_script(NULL, "early");
    take(now, &a);
    take(early, &b);
    assert_same(&a, &b);

    /* Twelve hours on: the crash takes the account far down, and nothing is liquidated. */
    OK(early, cmee_session_step(early, 12 * HOUR_MS));
    OK(now, cmee_session_step(now, 12 * HOUR_MS));
    take(early, &a);
    take(late, &b);
    assert_same(&a, &b);
    take(now, &b);
    assert_same(&a, &b);
    for (size_t i = 0; i < a.norders; i++)
        assert_true(a.orders[i].type != CMEE_ORDER_LIQUIDATION);
    assert_false(a.acct.margin_call);
    cmee_session_free(now);
    cmee_session_free(late);
    cmee_session_free(early);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
    remove_store(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-margin-XXXXXX");
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
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_leverage_and_refusals),
        cmocka_unit_test(test_liquidation_exact),
        cmocka_unit_test(test_margin_call_once),
        cmocka_unit_test(test_cash_account),
        cmocka_unit_test(test_liquidation_waits_for_a_halt),
        cmocka_unit_test(test_crash_random),
        cmocka_unit_test(test_store_roundtrip),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_leverage_one_is_the_old_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
