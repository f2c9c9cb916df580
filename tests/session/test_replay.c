/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The action log and replay: a randomised session of thousands of operations — market, limit
 * and stop orders with stop-loss and take-profit, protection, cancels, closes, options,
 * leverage with liquidations through the crash preset, scenarios applied and cancelled, and a
 * running clock paused, resumed, sped up, stepped and sought, with reads in between that
 * advance it — replays bit for bit: cmee_session_replay_check() finds every record equal, and
 * the test compares the public listings of the original and the replay itself, field by field
 * and bit by bit. A tampered log and a different seed make the check report the first
 * difference exactly; a stored session replays after a reload; refusals are not in the log;
 * a session stored before the action log is not replayable; out of memory in a replay fails
 * cleanly at every allocation. */
#include <unistd.h>

#include "cmee_test.h"
#include "session/session_int.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS; /* 2026-01-01 09:00 UTC */
static char tmpdir[64];

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s));    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static int64_t wall_ms = INT64_C(1000000000000);

static int64_t fake_wall(void *ud)
{
    (void)ud;
    return wall_ms;
}

typedef struct stats {
    size_t liquidations, margin_calls, settlements, fills, rejected, scenarios, cancels;
    size_t refusals;
} stats;

static void on_event(void *ud, const cmee_session_event *e)
{
    stats *st = ud;
    st->liquidations += e->kind == CMEE_SESSION_EV_LIQUIDATION;
    st->margin_calls += e->kind == CMEE_SESSION_EV_MARGIN_CALL;
    st->settlements += e->kind == CMEE_SESSION_EV_OPTION_SETTLED;
    st->fills += e->kind == CMEE_SESSION_EV_ORDER_FILLED;
    st->rejected += e->kind == CMEE_SESSION_EV_ORDER_REJECTED;
}

static void config(cmee_session_config *c, const char *id, uint64_t seed, cmee_fill_model model,
                   double leverage, bool manual)
{
    cmee_session_config_init(c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->seed = seed;
    c->start_time = START;
    c->speed = 60;
    c->manual_clock = manual;
    c->initial_balance = 100000 * SCALE;
    c->fill_model = model;
    c->leverage = leverage;
    c->margin_call_level = 1.0;
    c->maintenance_level = 0.8;
}

static cmee_session *open_session(const char *id, uint64_t seed, cmee_fill_model model,
                                  double leverage, bool manual, cmee_store *store)
{
    cmee_scenario *crash = NULL;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    cmee_session_config c;
    config(&c, id, seed, model, leverage, manual);
    c.scenario = crash;
    cmee_session *s = NULL;
    cmee_error err;
    if (cmee_session_new(&c, store, NULL, &s, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    cmee_scenario_free(crash);
    cmee_session_set_wall_clock(s, fake_wall, NULL);
    return s;
}

static const char *const syms[] = {"BTCUSD", "ETHUSD", "EURUSD", "XAUUSD", "NAS100", "TSLA"};
static const char *const presets[] = {"volatility_spike", "bull_trend", "bear_trend",
                                      "flash_crash_recovery", "trading_halt", "crash"};

typedef struct rng {
    uint64_t x;
} rng;

static double rnd(rng *r)
{
    r->x = r->x * 6364136223846793005u + 1442695040888963407u;
    return (double)(r->x >> 11) / 9007199254740992.0;
}

/* @p n random operations on @p s from @p seed. Refusals are checked to change nothing, the
 * action log included. */
static void run_ops(cmee_session *s, uint64_t seed, int n, stats *stt)
{
    rng r = {seed};
    /* Fewer at a CMEE_TEST_SCALE below 1 (cmee_test.h: valgrind runs the code ~50x slower). */
    n = (int)cmee_test_scaled((size_t)n);
    cmee_session_config cfg;
    OK(s, cmee_session_config_get(s, &cfg));
    for (int op = 0; op < n; op++) {
        wall_ms += (int64_t)(rnd(&r) * rnd(&r) * 20000); /* up to 20 sim minutes at speed 60 */
        double u = rnd(&r);
        const char *sym = syms[(size_t)(rnd(&r) * 6)];
        cmee_account a;
        OK(s, cmee_session_account(s, &a));
        cmee_quote q;
        OK(s, cmee_session_quote(s, sym, &q));
        size_t nact0, nl0;
        OK(s, cmee_session_actions(s, 0, NULL, 0, &nact0));
        OK(s, cmee_session_ledger(s, 0, NULL, 0, &nl0));
        cmee_status st = CMEE_OK;
        if (u < 0.22) {
            /* Market orders up to 1.3 times what the free margin allows. */
            cmee_order_request o;
            cmee_order_request_init(&o, sym);
            double notional = (double)(a.free_margin > 0 ? a.free_margin : SCALE) / SCALE *
                              fmin(cfg.leverage, 5) * (0.05 + 1.25 * rnd(&r));
            o.side = rnd(&r) < 0.6 ? CMEE_SIDE_BUY : CMEE_SIDE_SELL;
            o.quantity = notional / q.ask;
            if (rnd(&r) < 0.4) {
                bool buy = o.side == CMEE_SIDE_BUY;
                o.stop_loss = buy ? q.bid * (1 - 0.01 * rnd(&r) - 0.001)
                                  : q.ask * (1 + 0.01 * rnd(&r) + 0.001);
                o.take_profit = buy ? q.ask * (1 + 0.01 * rnd(&r) + 0.001)
                                    : q.bid * (1 - 0.01 * rnd(&r) - 0.001);
            }
            st = cmee_session_order(s, &o, NULL);
        } else if (u < 0.34) {
            cmee_order_request o;
            cmee_order_request_init(&o, sym);
            bool buy = rnd(&r) < 0.5, limit = rnd(&r) < 0.5;
            o.side = buy ? CMEE_SIDE_BUY : CMEE_SIDE_SELL;
            o.type = limit ? CMEE_ORDER_LIMIT : CMEE_ORDER_STOP;
            double off = 0.002 + 0.01 * rnd(&r);
            o.price = buy == limit ? q.bid * (1 - off) : q.ask * (1 + off);
            o.quantity = 2000 / q.ask * (0.5 + rnd(&r));
            if (rnd(&r) < 0.5) {
                o.stop_loss = buy ? o.price * 0.98 : o.price * 1.02;
                o.take_profit = buy ? o.price * 1.03 : o.price * 0.97;
            }
            st = cmee_session_order(s, &o, NULL);
        } else if (u < 0.38) {
            cmee_position p[32];
            size_t np;
            OK(s, cmee_session_positions(s, p, 32, &np));
            st = np ? cmee_session_close_position(s, p[(size_t)(rnd(&r) * (double)np)].symbol,
                                                  NULL)
                    : cmee_session_close_position(s, sym, NULL); /* flat: ENOTFOUND */
        } else if (u < 0.45) {
            cmee_position p[32];
            size_t np;
            OK(s, cmee_session_positions(s, p, 32, &np));
            const char *ps = np ? p[(size_t)(rnd(&r) * (double)np)].symbol : sym;
            cmee_quote pq;
            OK(s, cmee_session_quote(s, ps, &pq));
            bool lg = np == 0 || p[0].quantity > 0; /* sometimes the wrong side: EINVAL */
            double k = rnd(&r) < 0.1 ? 0 : 0.005 + 0.02 * rnd(&r);
            st = cmee_session_protect(s, ps, k == 0 ? 0 : lg ? pq.bid * (1 - k) : pq.ask * (1 + k),
                                      rnd(&r) < 0.5 ? 0 : lg ? pq.ask * (1 + k) : pq.bid * (1 - k));
        } else if (u < 0.51) {
            cmee_option_request o;
            cmee_option_request_init(&o, sym);
            o.kind = rnd(&r) < 0.5 ? CMEE_OPTION_CALL : CMEE_OPTION_PUT;
            o.stake = (int64_t)((double)(a.free_margin > 0 ? a.free_margin : 1) * 0.1 * rnd(&r)) +
                      (rnd(&r) < 0.05 ? 1000000 * SCALE : 1); /* sometimes too much */
            o.duration = 1000 + (int64_t)(rnd(&r) * 30 * MIN_MS);
            o.payout = rnd(&r) < 0.5 ? 0 : 0.5 + rnd(&r);
            st = cmee_session_option(s, &o, NULL);
        } else if (u < 0.56) {
            size_t no;
            OK(s, cmee_session_orders(s, false, NULL, 0, &no));
            /* Any order, open or not (not open: ESTATE), or one that does not exist. */
            st = cmee_session_cancel_order(s, (uint64_t)(rnd(&r) * (double)(no + 2)));
            stt->cancels += st == CMEE_OK;
        } else if (u < 0.59) {
            cmee_scenario *sc = NULL;
            assert_int_equal(cmee_scenario_preset(presets[(size_t)(rnd(&r) * 6)], NULL, &sc, NULL),
                             CMEE_OK);
            st = cmee_session_apply_scenario(s, sc, NULL);
            stt->scenarios += st == CMEE_OK;
            cmee_scenario_free(sc);
        } else if (u < 0.61) {
            st = cmee_session_cancel_scenario(s, (cmee_application_id)(rnd(&r) * 8));
        } else if (u < 0.64) {
            cmee_clock c;
            OK(s, cmee_session_clock(s, &c));
            st = c.paused ? cmee_session_resume(s) : cmee_session_pause(s);
        } else if (u < 0.66) {
            st = cmee_session_set_speed(s, rnd(&r) < 0.1 ? -1 : 1 + 300 * rnd(&r));
        } else if (u < 0.74) {
            st = cmee_session_step(s, (int64_t)(rnd(&r) * rnd(&r) * 2 * HOUR_MS));
        } else if (u < 0.76) {
            cmee_clock c;
            OK(s, cmee_session_clock(s, &c));
            /* Sometimes into the past: ESTATE. */
            st = cmee_session_seek(s, c.now + (int64_t)((rnd(&r) - 0.1) * HOUR_MS));
        } else {
            int64_t now;
            OK(s, cmee_session_advance(s, &now)); /* time passing only: not an action */
        }
        size_t nact1, nl1;
        OK(s, cmee_session_actions(s, 0, NULL, 0, &nact1));
        OK(s, cmee_session_ledger(s, 0, NULL, 0, &nl1));
        if (st == CMEE_OK) {
            assert_true(nact1 <= nact0 + 1);
        } else {
            /* A refusal is not an action; nothing but time passing was booked. */
            assert_true(st == CMEE_EINVAL || st == CMEE_ENOSPACE || st == CMEE_ESTATE ||
                        st == CMEE_ENOTFOUND || st == CMEE_ERANGE);
            stt->refusals++;
            assert_int_equal(nact1, nact0);
        }
    }
}

/* ---- comparing listings from outside ---------------------------------------------------------- */

static bool same_f(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

#define SAME_F(a, b) assert_true(same_f((a), (b)))

static void *listing(cmee_session *s, int what, size_t *n)
{
    cmee_status st;
    size_t size[] = {sizeof(cmee_order), sizeof(cmee_option), sizeof(cmee_ledger_entry),
                     sizeof(cmee_position), sizeof(cmee_session_action)};
    switch (what) {
    case 0: st = cmee_session_orders(s, false, NULL, 0, n); break;
    case 1: st = cmee_session_options(s, false, NULL, 0, n); break;
    case 2: st = cmee_session_ledger(s, 0, NULL, 0, n); break;
    case 3: st = cmee_session_positions(s, NULL, 0, n); break;
    default: st = cmee_session_actions(s, 0, NULL, 0, n); break;
    }
    assert_int_equal(st, CMEE_OK);
    void *buf = calloc(*n + 1, size[what]);
    assert_non_null(buf);
    switch (what) {
    case 0: st = cmee_session_orders(s, false, buf, *n, n); break;
    case 1: st = cmee_session_options(s, false, buf, *n, n); break;
    case 2: st = cmee_session_ledger(s, 0, buf, *n, n); break;
    case 3: st = cmee_session_positions(s, buf, *n, n); break;
    default: st = cmee_session_actions(s, 0, buf, *n, n); break;
    }
    assert_int_equal(st, CMEE_OK);
    return buf;
}

/* Everything the public API lists of @p a and @p b is equal, field by field, bit for bit. */
static void assert_same_sessions(cmee_session *a, cmee_session *b)
{
    size_t na, nb;
    cmee_order *oa = listing(a, 0, &na), *ob = listing(b, 0, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(oa[i].id, ob[i].id);
        assert_string_equal(oa[i].symbol, ob[i].symbol);
        assert_int_equal(oa[i].side, ob[i].side);
        assert_int_equal(oa[i].type, ob[i].type);
        assert_int_equal(oa[i].state, ob[i].state);
        SAME_F(oa[i].quantity, ob[i].quantity);
        SAME_F(oa[i].price, ob[i].price);
        SAME_F(oa[i].stop_loss, ob[i].stop_loss);
        SAME_F(oa[i].take_profit, ob[i].take_profit);
        assert_int_equal(oa[i].created, ob[i].created);
        assert_int_equal(oa[i].closed, ob[i].closed);
        SAME_F(oa[i].fill_price, ob[i].fill_price);
        assert_int_equal(oa[i].fee, ob[i].fee);
    }
    free(oa);
    free(ob);
    cmee_option *pa = listing(a, 1, &na), *pb = listing(b, 1, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(pa[i].id, pb[i].id);
        assert_string_equal(pa[i].symbol, pb[i].symbol);
        assert_int_equal(pa[i].kind, pb[i].kind);
        assert_int_equal(pa[i].state, pb[i].state);
        assert_int_equal(pa[i].stake, pb[i].stake);
        SAME_F(pa[i].payout, pb[i].payout);
        assert_int_equal(pa[i].opened, pb[i].opened);
        assert_int_equal(pa[i].expires, pb[i].expires);
        SAME_F(pa[i].strike, pb[i].strike);
        SAME_F(pa[i].settle_price, pb[i].settle_price);
        assert_int_equal(pa[i].paid, pb[i].paid);
    }
    free(pa);
    free(pb);
    cmee_ledger_entry *la = listing(a, 2, &na), *lb = listing(b, 2, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(la[i].seq, lb[i].seq);
        assert_int_equal(la[i].time, lb[i].time);
        assert_int_equal(la[i].kind, lb[i].kind);
        assert_int_equal(la[i].amount, lb[i].amount);
        assert_int_equal(la[i].balance, lb[i].balance);
        assert_int_equal(la[i].ref, lb[i].ref);
        assert_string_equal(la[i].symbol, lb[i].symbol);
    }
    free(la);
    free(lb);
    cmee_position *qa = listing(a, 3, &na), *qb = listing(b, 3, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(qa[i].symbol, qb[i].symbol);
        SAME_F(qa[i].quantity, qb[i].quantity);
        SAME_F(qa[i].avg_price, qb[i].avg_price);
        SAME_F(qa[i].mark, qb[i].mark);
        assert_int_equal(qa[i].unrealised, qb[i].unrealised);
        assert_int_equal(qa[i].realised, qb[i].realised);
        SAME_F(qa[i].stop_loss, qb[i].stop_loss);
        SAME_F(qa[i].take_profit, qb[i].take_profit);
        assert_int_equal(qa[i].margin, qb[i].margin);
    }
    free(qa);
    free(qb);
    cmee_session_action *aa = listing(a, 4, &na), *ab = listing(b, 4, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(aa[i].seq, ab[i].seq);
        assert_int_equal(aa[i].time, ab[i].time);
        assert_int_equal(aa[i].kind, ab[i].kind);
        assert_int_equal(aa[i].ref, ab[i].ref);
        SAME_F(aa[i].order.quantity, ab[i].order.quantity);
        SAME_F(aa[i].speed, ab[i].speed);
        assert_int_equal(aa[i].ms, ab[i].ms);
    }
    free(aa);
    free(ab);
    cmee_clock ca, cb;
    OK(a, cmee_session_clock(a, &ca));
    OK(b, cmee_session_clock(b, &cb));
    assert_int_equal(ca.processed, cb.processed);
    SAME_F(ca.speed, cb.speed);
    assert_int_equal(ca.paused, cb.paused);
    assert_int_equal(ca.manual, cb.manual);
}

/* The check of a session that replays. */
static void assert_replays(cmee_session *s)
{
    cmee_replay_result r;
    memset(&r, 0x5a, sizeof r);
    OK(s, cmee_session_replay_check(s, &r));
    if (!r.same)
        print_error("first difference: %s %llu %s: %s vs %s\n", r.record,
                    (unsigned long long)r.index, r.field, r.original, r.replayed);
    assert_true(r.same);
    assert_string_equal(r.record, "");
    size_t n;
    OK(s, cmee_session_actions(s, 0, NULL, 0, &n));
    assert_int_equal(r.actions, n);
    OK(s, cmee_session_orders(s, false, NULL, 0, &n));
    assert_int_equal(r.orders, n);
    OK(s, cmee_session_ledger(s, 0, NULL, 0, &n));
    assert_int_equal(r.ledger_entries, n);
}

/* ---- the tests ---------------------------------------------------------------------------------- */

/* Thousands of random operations on a running clock, both fill models, a margin account
 * through the crash: the replay is the session, record for record and bit for bit. */
static void test_random_replays(void **state)
{
    (void)state;
    size_t liquidations = 0;
    for (int run = 0; run < 2; run++) {
        cmee_fill_model model = run ? CMEE_FILL_QUOTE : CMEE_FILL_BOOK;
        stats stt = {0};
        cmee_session *s = open_session("rand", 2026 + (uint64_t)run, model, 20, false, NULL);
        cmee_session_set_listener(s, on_event, &stt);
        run_ops(s, 99 + (uint64_t)run, 2500, &stt);
        size_t nact, nord, nopt, nled;
        OK(s, cmee_session_actions(s, 0, NULL, 0, &nact));
        OK(s, cmee_session_orders(s, false, NULL, 0, &nord));
        OK(s, cmee_session_options(s, false, NULL, 0, &nopt));
        OK(s, cmee_session_ledger(s, 0, NULL, 0, &nled));
        /* How much of each kind the log holds, so that the run is known to cover them. */
        size_t kinds[CMEE_ACTION_SEEK + 1] = {0};
        cmee_session_action *acts = listing(s, 4, &nact);
        for (size_t i = 0; i < nact; i++) {
            assert_int_equal(acts[i].seq, i + 1);
            assert_true(i == 0 || acts[i].time >= acts[i - 1].time);
            kinds[acts[i].kind]++;
        }
        assert_int_equal(acts[0].kind, CMEE_ACTION_APPLY_SCENARIO);
        assert_int_equal(acts[0].time, START);
        assert_string_equal(acts[0].scenario, "crash");
        free(acts);
        for (int k = 0; k <= CMEE_ACTION_SEEK; k++) {
            print_message("  %-16s %zu\n", cmee_action_kind_name((cmee_action_kind)k), kinds[k]);
            assert_true(kinds[k] >= (cmee_test_scale() < 1 ? 1 : 3));
        }
        print_message("model %s: %zu actions, %zu orders, %zu options, %zu ledger entries, %zu "
                      "fills, %zu rejected, %zu settlements, %zu margin calls, %zu liquidations, "
                      "%zu refusals\n",
                      run ? "quote" : "book", nact, nord, nopt, nled, stt.fills, stt.rejected,
                      stt.settlements, stt.margin_calls, stt.liquidations, stt.refusals);
        assert_true(nact >= cmee_test_scaled(1000));
        liquidations += stt.liquidations;
        assert_true(stt.settlements >= cmee_test_scaled(50));
        assert_true(stt.refusals >= cmee_test_scaled(50));
        /* Orders the engine made (stop-loss, take-profit, liquidation) are not actions. */
        assert_true(nord > kinds[CMEE_ACTION_ORDER]);
        assert_replays(s);
        cmee_session *r = NULL;
        cmee_error err;
        OK(s, cmee_session_replay(s, NULL, &r, &err));
        assert_same_sessions(s, r);
        /* The replay is a live session: it trades on, and replays in turn. */
        cmee_session_set_wall_clock(r, fake_wall, NULL);
        cmee_session_set_wall_clock(s, fake_wall, NULL);
        stats s2 = {0};
        run_ops(r, 7, 200, &s2);
        assert_replays(r);
        cmee_session_free(r);
        cmee_session_free(s);
    }
    /* Both runs reach the crash and liquidate at full scale; a scaled-down run may stop
     * before it (the liquidation path is tested on its own in test_margin). */
    assert_true(liquidations >= (cmee_test_scale() < 1 ? 0 : 4));
}

/* A tampered log: the check names the first record that differs, its field and both values. */
static void test_tampered_log(void **state)
{
    (void)state;
    stats stt = {0};
    cmee_session *s = open_session("tamper", 5, CMEE_FILL_BOOK, 20, false, NULL);
    run_ops(s, 3, 400, &stt);
    assert_replays(s);
    /* The first market order that filled: replayed with another quantity. */
    size_t k = 0;
    for (; k < s->nacts; k++)
        if (s->acts[k].kind == CMEE_ACTION_ORDER && s->acts[k].order.type == CMEE_ORDER_MARKET)
            break;
    assert_true(k < s->nacts);
    double q0 = s->acts[k].order.quantity;
    uint64_t id = s->acts[k].ref;
    s->acts[k].order.quantity = q0 * 0.5;
    cmee_replay_result r;
    OK(s, cmee_session_replay_check(s, &r));
    assert_false(r.same);
    /* The replay's log is the tampered one, so the first difference is the order it placed. */
    assert_string_equal(r.record, "order");
    assert_int_equal(r.index, id);
    assert_string_equal(r.field, "quantity");
    char want[40];
    snprintf(want, sizeof want, "%.17g", q0);
    assert_string_equal(r.original, want);
    snprintf(want, sizeof want, "%.17g", q0 * 0.5);
    assert_string_equal(r.replayed, want);
    s->acts[k].order.quantity = q0;
    assert_replays(s);

    /* A time moved by a millisecond: the replay's log has it too, so the first difference is
     * the next action if it was made at the same time (the clock never goes back: it is made a
     * millisecond later too), or else the order placed a millisecond later. */
    int64_t t0 = s->acts[k].time;
    s->acts[k].time = t0 + 1;
    OK(s, cmee_session_replay_check(s, &r));
    assert_false(r.same);
    if (k + 1 < s->nacts && s->acts[k + 1].time == t0) {
        assert_string_equal(r.record, "action");
        assert_int_equal(r.index, s->acts[k + 1].seq);
        assert_string_equal(r.field, "time");
    } else {
        assert_string_equal(r.record, "order");
        assert_int_equal(r.index, id);
        assert_string_equal(r.field, "created");
    }
    snprintf(want, sizeof want, "%lld", (long long)t0);
    assert_string_equal(r.original, want);
    snprintf(want, sizeof want, "%lld", (long long)t0 + 1);
    assert_string_equal(r.replayed, want);
    s->acts[k].time = t0;

    /* An action the market cannot take: cancelling an order that does not exist. */
    cmee_session_action keep = s->acts[k];
    s->acts[k].kind = CMEE_ACTION_CANCEL_ORDER;
    s->acts[k].ref = 999999;
    OK(s, cmee_session_replay_check(s, &r));
    assert_false(r.same);
    assert_string_equal(r.record, "action");
    assert_int_equal(r.index, keep.seq);
    assert_string_equal(r.field, "status");
    assert_non_null(strstr(r.replayed, "ENOTFOUND"));
    cmee_session *out = (cmee_session *)&keep;
    cmee_error err;
    assert_int_equal(cmee_session_replay(s, NULL, &out, &err), CMEE_ECORRUPT);
    assert_ptr_equal(out, (cmee_session *)&keep); /* not written */
    assert_non_null(strstr(err.text, "cancel_order"));
    s->acts[k] = keep;
    assert_replays(s);
    cmee_session_free(s);
}

/* Another seed is another market: the same log does not give the same records. */
static void test_other_seed(void **state)
{
    (void)state;
    stats stt = {0};
    cmee_session *s = open_session("seed", 11, CMEE_FILL_QUOTE, 20, false, NULL);
    run_ops(s, 17, 300, &stt);
    assert_replays(s);
    s->cfg.seed = 12;
    cmee_replay_result r;
    OK(s, cmee_session_replay_check(s, &r));
    assert_false(r.same);
    assert_true(strcmp(r.record, "") != 0);
    assert_true(strcmp(r.original, r.replayed) != 0);
    print_message("seed 12 instead of 11: first difference %s %llu %s: %s vs %s\n", r.record,
                  (unsigned long long)r.index, r.field, r.original, r.replayed);
    s->cfg.seed = 11;
    assert_replays(s);

    /* Two independent sessions compared directly. */
    cmee_session *t = open_session("seed2", 12, CMEE_FILL_QUOTE, 20, false, NULL);
    OK(t, cmee_session_compare(s, t, &r));
    assert_false(r.same);
    OK(s, cmee_session_compare(s, s, &r));
    assert_true(r.same);
    assert_int_equal(cmee_session_compare(NULL, s, &r), CMEE_EINVAL);
    assert_int_equal(cmee_session_compare(s, s, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_session_replay_check(NULL, &r), CMEE_EINVAL);
    cmee_session_free(t);
    cmee_session_free(s);
}

/* A manual clock and a cash account: steps and seeks only. */
static void test_manual_cash(void **state)
{
    (void)state;
    stats stt = {0};
    cmee_session *s = open_session("manual", 21, CMEE_FILL_BOOK, 1, true, NULL);
    run_ops(s, 23, 800, &stt);
    assert_replays(s);
    cmee_session_free(s);
}

/* Market impact moves the session's own prices with its fills: given the log, it is the same
 * again, and so is everything that trades on those prices. */
static void test_impact_replays(void **state)
{
    (void)state;
    for (int run = 0; run < 2; run++) {
        cmee_scenario *crash = NULL;
        assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
        cmee_session_config c;
        config(&c, "impact", 77 + (uint64_t)run, run ? CMEE_FILL_QUOTE : CMEE_FILL_BOOK, 20,
               false);
        c.scenario = crash;
        c.impact.model = CMEE_IMPACT_SQRT;
        c.impact.coefficient = 2;
        /* Created paused and resumed once the fake wall clock is in: the real one would move
         * it meanwhile (by 60 ms per ms at speed 60, and valgrind takes milliseconds). */
        c.paused = true;
        cmee_session *s = NULL;
        cmee_error err;
        OK(s, cmee_session_new(&c, NULL, NULL, &s, &err));
        cmee_scenario_free(crash);
        cmee_session_set_wall_clock(s, fake_wall, NULL);
        OK(s, cmee_session_resume(s));
        stats stt = {0};
        run_ops(s, 79, 800, &stt);
        /* Paused (an action the replay repeats), so that neither clock runs on with the real
         * wall clock while the candles up to now are compared. */
        OK(s, cmee_session_pause(s));
        assert_replays(s);
        cmee_session *r = NULL;
        OK(s, cmee_session_replay(s, NULL, &r, &err));
        assert_same_sessions(s, r);
        /* The impacted prices too. */
        cmee_candle ca[60], cb[60];
        size_t na, nb;
        OK(s, cmee_session_candles(s, "BTCUSD", CMEE_TF_1M, 60, ca, 60, &na));
        OK(r, cmee_session_candles(r, "BTCUSD", CMEE_TF_1M, 60, cb, 60, &nb));
        assert_int_equal(na, nb);
        assert_memory_equal(ca, cb, na * sizeof *ca);
        cmee_session_free(r);
        cmee_session_free(s);
    }
}

/* A stored session: its log is stored, and a reload replays exactly as the original does. */
static void test_store_reload(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/replay.db", tmpdir);
    unlink(path);
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
    stats stt = {0};
    cmee_session *s = open_session("stored", 31, CMEE_FILL_BOOK, 20, false, st);
    run_ops(s, 37, 600, &stt);
    assert_true(cmee_session_replayable(s));
    cmee_session *twin = NULL;
    cmee_error err;
    OK(s, cmee_session_replay(s, NULL, &twin, &err));
    cmee_session_free(s);
    cmee_store_close(st);

    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
    assert_int_equal(cmee_session_load(st, "stored", NULL, &s, &err), CMEE_OK);
    assert_true(cmee_session_replayable(s));
    assert_same_sessions(s, twin);
    assert_replays(s);
    /* It goes on trading and the log goes on growing, stored. */
    cmee_session_set_wall_clock(s, fake_wall, NULL);
    run_ops(s, 41, 100, &stt);
    size_t n0;
    OK(s, cmee_session_actions(s, 0, NULL, 0, &n0));
    cmee_session_free(s);
    assert_int_equal(cmee_session_load(st, "stored", NULL, &s, &err), CMEE_OK);
    size_t n1;
    OK(s, cmee_session_actions(s, 0, NULL, 0, &n1));
    assert_int_equal(n0, n1);
    assert_replays(s);
    cmee_session_free(s);
    cmee_session_free(twin);
    cmee_store_close(st);
    unlink(path);
}

/* Listing the log: buffers, after, and the kinds' names. */
static void test_actions_listing(void **state)
{
    (void)state;
    cmee_session *s = open_session("list", 1, CMEE_FILL_BOOK, 1, true, NULL);
    cmee_order_request o;
    cmee_order_request_init(&o, "EURUSD");
    o.quantity = 1000;
    OK(s, cmee_session_order(s, &o, NULL));
    o.quantity = 0; /* refused */
    assert_int_equal(cmee_session_order(s, &o, NULL), CMEE_EINVAL);
    OK(s, cmee_session_step(s, MIN_MS));
    OK(s, cmee_session_pause(s)); /* already paused (manual): no change, not an action */
    cmee_session_action a[4];
    size_t n;
    OK(s, cmee_session_actions(s, 0, a, 4, &n));
    assert_int_equal(n, 3);
    assert_int_equal(a[0].kind, CMEE_ACTION_APPLY_SCENARIO);
    assert_int_equal(a[1].kind, CMEE_ACTION_ORDER);
    assert_int_equal(a[1].seq, 2);
    assert_int_equal(a[1].time, START);
    assert_string_equal(a[1].order.symbol, "EURUSD");
    assert_true(a[1].order.quantity == 1000);
    assert_int_equal(a[1].ref, 1);
    assert_int_equal(a[2].kind, CMEE_ACTION_STEP);
    assert_int_equal(a[2].time, START + MIN_MS);
    assert_int_equal(a[2].ms, MIN_MS);
    OK(s, cmee_session_actions(s, 2, a, 4, &n));
    assert_int_equal(n, 1);
    assert_int_equal(a[0].seq, 3);
    OK(s, cmee_session_actions(s, 3, NULL, 0, &n));
    assert_int_equal(n, 0);
    assert_int_equal(cmee_session_actions(s, 0, a, 2, &n), CMEE_ENOSPACE);
    assert_int_equal(cmee_session_actions(s, 0, NULL, 2, &n), CMEE_EINVAL);
    assert_int_equal(cmee_session_actions(NULL, 0, NULL, 0, &n), CMEE_EINVAL);
    assert_string_equal(cmee_action_kind_name(CMEE_ACTION_ORDER), "order");
    assert_string_equal(cmee_action_kind_name(CMEE_ACTION_SEEK), "seek");
    assert_null(cmee_action_kind_name((cmee_action_kind)11));
    assert_null(cmee_action_kind_name((cmee_action_kind)-1));
    assert_int_equal(cmee_session_replay(NULL, NULL, NULL, NULL), CMEE_EINVAL);
    assert_false(cmee_session_replayable(NULL));
    cmee_session_free(s);
}

/* A session stored before the action log (schema version 3, migrated on open) loads but is not
 * replayable: the replay and the check say so instead of replaying it wrongly. */
static void test_old_store_not_replayable(void **state)
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
    FILE *in = fopen(from, "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, k, out), k);
    fclose(in);
    fclose(out);
    cmee_store *st = NULL;
    cmee_error err;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, &err), CMEE_OK);
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_load(st, "early", NULL, &s, &err), CMEE_OK);
    assert_false(cmee_session_replayable(s));
    size_t n;
    OK(s, cmee_session_actions(s, 0, NULL, 0, &n));
    assert_int_equal(n, 0);
    cmee_session *r = NULL;
    assert_int_equal(cmee_session_replay(s, NULL, &r, &err), CMEE_ESTATE);
    assert_null(r);
    assert_non_null(strstr(err.text, "cannot be replayed"));
    cmee_replay_result res;
    assert_int_equal(cmee_session_replay_check(s, &res), CMEE_ESTATE);
    /* It trades on as before; its log starts now but it stays not replayable. */
    OK(s, cmee_session_step(s, MIN_MS));
    OK(s, cmee_session_actions(s, 0, NULL, 0, &n));
    assert_int_equal(n, 1);
    cmee_session_free(s);
    assert_int_equal(cmee_session_load(st, "early", NULL, &s, &err), CMEE_OK);
    assert_false(cmee_session_replayable(s));
    OK(s, cmee_session_actions(s, 0, NULL, 0, &n));
    assert_int_equal(n, 1);
    cmee_session_free(s);
    cmee_store_close(st);
    unlink(path);
}

/* Out of memory at every allocation of a replay and of a check: ENOMEM, nothing leaked, the
 * source unchanged; then both succeed. */
static void test_out_of_memory(void **state)
{
    (void)state;
    stats stt = {0};
    cmee_session *s = open_session("oom", 3, CMEE_FILL_BOOK, 20, true, NULL);
    run_ops(s, 5, 120, &stt);
    chaos c = {0};
    cmee_allocator a = chaos_allocator(&c);
    long points = 0;
    for (long n = 1;; n++) {
        c = (chaos){0};
        c.fail_at = n;
        cmee_session *r = NULL;
        cmee_error err;
        cmee_status st = cmee_session_replay(s, &a, &r, &err);
        if (st == CMEE_OK) {
            assert_true(c.calls < n);
            assert_same_sessions(s, r);
            cmee_session_free(r);
            assert_int_equal(c.live, 0);
            points = n - 1;
            break;
        }
        assert_int_equal(st, CMEE_ENOMEM);
        assert_null(r);
        assert_int_equal(c.live, 0);
    }
    print_message("a replay of %zu actions has %ld allocation points\n", s->nacts, points);
    assert_true(points > 10);
    /* The check allocates with the session's allocator: a session made with the chaos one. */
    cmee_session *t = NULL;
    c = (chaos){0};
    cmee_error err;
    OK(s, cmee_session_replay(s, &a, &t, &err));
    long live = c.live;
    for (long n = 1;; n++) {
        c.calls = 0;
        c.fail_at = n;
        cmee_replay_result res;
        cmee_status st = cmee_session_replay_check(t, &res);
        c.fail_at = 0;
        assert_int_equal(c.live, live);
        if (st == CMEE_OK) {
            assert_true(res.same);
            break;
        }
        assert_int_equal(st, CMEE_ENOMEM);
    }
    cmee_session_free(t);
    assert_int_equal(c.live, 0);
    cmee_session_free(s);
}

/* ---- reset and epochs ------------------------------------------------------------------------- */

typedef struct snap {
    cmee_order *orders;
    cmee_option *options;
    cmee_ledger_entry *ledger;
    cmee_session_action *acts;
    size_t norders, noptions, nledger, nacts;
} snap;

static void take_snap(cmee_session *s, snap *p)
{
    p->orders = listing(s, 0, &p->norders);
    p->options = listing(s, 1, &p->noptions);
    p->ledger = listing(s, 2, &p->nledger);
    p->acts = listing(s, 4, &p->nacts);
}

static void free_snap(snap *p)
{
    free(p->orders);
    free(p->options);
    free(p->ledger);
    free(p->acts);
}

/* Epoch @p e of @p s lists exactly what @p p took (byte for byte: the records are copies). */
static void assert_epoch_is(cmee_session *s, uint64_t e, const snap *p)
{
    size_t n;
    cmee_order *o = calloc(p->norders + 1, sizeof *o);
    OK(s, cmee_session_epoch_orders(s, e, o, p->norders, &n));
    assert_int_equal(n, p->norders);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(o[i].epoch, e);
        assert_int_equal(o[i].id, p->orders[i].id);
        SAME_F(o[i].fill_price, p->orders[i].fill_price);
        assert_int_equal(o[i].fee, p->orders[i].fee);
        assert_int_equal(o[i].state, p->orders[i].state);
        assert_int_equal(o[i].closed, p->orders[i].closed);
    }
    free(o);
    cmee_option *q = calloc(p->noptions + 1, sizeof *q);
    OK(s, cmee_session_epoch_options(s, e, q, p->noptions, &n));
    assert_int_equal(n, p->noptions);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(q[i].epoch, e);
        assert_int_equal(q[i].paid, p->options[i].paid);
        SAME_F(q[i].settle_price, p->options[i].settle_price);
    }
    free(q);
    cmee_ledger_entry *l = calloc(p->nledger + 1, sizeof *l);
    OK(s, cmee_session_epoch_ledger(s, e, l, p->nledger, &n));
    assert_int_equal(n, p->nledger);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l[i].epoch, e);
        assert_int_equal(l[i].seq, p->ledger[i].seq);
        assert_int_equal(l[i].amount, p->ledger[i].amount);
        assert_int_equal(l[i].balance, p->ledger[i].balance);
        assert_int_equal(l[i].time, p->ledger[i].time);
    }
    free(l);
    cmee_session_action *a = calloc(p->nacts + 1, sizeof *a);
    OK(s, cmee_session_epoch_actions(s, e, a, p->nacts, &n));
    assert_int_equal(n, p->nacts);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].seq, p->acts[i].seq);
        assert_int_equal(a[i].time, p->acts[i].time);
        assert_int_equal(a[i].kind, p->acts[i].kind);
        assert_int_equal(a[i].ref, p->acts[i].ref);
    }
    free(a);
}

/* The start state of epoch @p e: the config's clock, one deposit, nothing else but the crash. */
static void assert_start_state(cmee_session *s, uint64_t e, bool manual)
{
    cmee_account a;
    OK(s, cmee_session_account(s, &a));
    assert_int_equal(a.epoch, e);
    assert_int_equal(a.balance, 100000 * SCALE);
    assert_int_equal(a.equity, 100000 * SCALE);
    assert_int_equal(a.positions, 0);
    assert_int_equal(a.open_orders, 0);
    assert_int_equal(a.open_options, 0);
    assert_int_equal(a.ledger_entries, 1);
    assert_false(a.margin_call);
    cmee_clock c;
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.epoch, e);
    assert_int_equal(c.processed, START);
    assert_int_equal(c.manual, manual);
    assert_true(c.speed == 60);
    assert_int_equal(cmee_session_epoch(s), e);
    cmee_ledger_entry l[2];
    size_t n;
    OK(s, cmee_session_ledger(s, 0, l, 2, &n));
    assert_int_equal(n, 1);
    assert_int_equal(l[0].kind, CMEE_LEDGER_DEPOSIT);
    assert_int_equal(l[0].epoch, e);
    assert_int_equal(l[0].time, START);
    cmee_session_action act[2];
    OK(s, cmee_session_actions(s, 0, act, 2, &n));
    assert_int_equal(n, 1);
    assert_int_equal(act[0].kind, CMEE_ACTION_APPLY_SCENARIO);
    assert_string_equal(act[0].scenario, "crash");
    OK(s, cmee_session_orders(s, false, NULL, 0, &n));
    assert_int_equal(n, 0);
    assert_true(cmee_session_replayable(s));
}

/* Reset, in memory and stored: the start state in a new epoch, the old epochs readable (and
 * after a reload), trading on and replaying the new epoch, with the same market as a new
 * session's. */
static void test_reset(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/reset.db", tmpdir);
    for (int stored = 0; stored < 2; stored++) {
        unlink(path);
        cmee_store *st = NULL;
        if (stored)
            assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
        stats stt = {0};
        cmee_session *s = open_session("reset", 61, CMEE_FILL_BOOK, 20, false, st);
        run_ops(s, 63, 400, &stt);
        OK(s, cmee_session_advance(s, NULL));
        snap e1;
        take_snap(s, &e1);
        assert_true(e1.norders > 20);
        OK(s, cmee_session_reset(s));
        assert_start_state(s, 2, false);
        assert_epoch_is(s, 1, &e1);
        size_t n;
        assert_int_equal(cmee_session_epoch_orders(s, 3, NULL, 0, &n), CMEE_ENOTFOUND);
        assert_int_equal(cmee_session_epoch_orders(s, 0, NULL, 0, &n), CMEE_ENOTFOUND);
        assert_int_equal(cmee_session_epoch_ledger(s, 1, NULL, 0, NULL), CMEE_EINVAL);
        /* The market is the new session's: the same prices at the start. */
        cmee_session *fresh = NULL;
        {
            /* Paused, so that the real wall clock cannot move it before the fake one is in. */
            cmee_scenario *crash = NULL;
            assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
            cmee_session_config fc;
            config(&fc, "fresh", 61, CMEE_FILL_BOOK, 20, false);
            fc.scenario = crash;
            fc.paused = true;
            OK(fresh, cmee_session_new(&fc, NULL, NULL, &fresh, NULL));
            cmee_scenario_free(crash);
            cmee_session_set_wall_clock(fresh, fake_wall, NULL);
        }
        cmee_quote qa, qb;
        OK(s, cmee_session_quote(s, "BTCUSD", &qa));
        OK(fresh, cmee_session_quote(fresh, "BTCUSD", &qb));
        SAME_F(qa.price, qb.price);
        SAME_F(qa.bid, qb.bid);
        cmee_session_free(fresh);
        /* Trade in the new epoch; it replays. */
        run_ops(s, 65, 300, &stt);
        assert_replays(s);
        OK(s, cmee_session_advance(s, NULL));
        snap e2;
        take_snap(s, &e2);
        for (size_t i = 0; i < e2.norders; i++)
            assert_int_equal(e2.orders[i].epoch, 2);
        if (stored) {
            cmee_session *twin = NULL;
            cmee_error err;
            OK(s, cmee_session_replay(s, NULL, &twin, &err));
            cmee_session_free(s);
            assert_int_equal(cmee_session_load(st, "reset", NULL, &s, &err), CMEE_OK);
            assert_int_equal(cmee_session_epoch(s), 2);
            assert_same_sessions(s, twin);
            assert_epoch_is(s, 1, &e1);
            assert_epoch_is(s, 2, &e2);
            assert_replays(s);
            cmee_session_free(twin);
            cmee_session_set_wall_clock(s, fake_wall, NULL);
        }
        /* A second reset keeps both past epochs. */
        OK(s, cmee_session_reset(s));
        assert_start_state(s, 3, false);
        assert_epoch_is(s, 1, &e1);
        assert_epoch_is(s, 2, &e2);
        run_ops(s, 67, 100, &stt);
        assert_replays(s);
        if (stored) {
            cmee_session_free(s);
            cmee_error err;
            assert_int_equal(cmee_session_load(st, "reset", NULL, &s, &err), CMEE_OK);
            assert_int_equal(cmee_session_epoch(s), 3);
            assert_epoch_is(s, 1, &e1);
            assert_epoch_is(s, 2, &e2);
            assert_replays(s);
            assert_int_equal(cmee_store_check(st), CMEE_OK);
        }
        free_snap(&e1);
        free_snap(&e2);
        cmee_session_free(s);
        cmee_store_close(st);
    }
    unlink(path);
}

/* A session stored before the action log becomes replayable by a reset. */
static void test_reset_old_store(void **state)
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
    snprintf(path, sizeof path, "%s/v3r.db", tmpdir);
    FILE *in = fopen(from, "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, k, out), k);
    fclose(in);
    fclose(out);
    cmee_store *st = NULL;
    cmee_error err;
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, &err), CMEE_OK);
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_load(st, "late", NULL, &s, &err), CMEE_OK);
    assert_false(cmee_session_replayable(s));
    snap e1;
    take_snap(s, &e1);
    OK(s, cmee_session_reset(s));
    assert_true(cmee_session_replayable(s));
    assert_int_equal(cmee_session_epoch(s), 2);
    assert_epoch_is(s, 1, &e1);
    OK(s, cmee_session_step(s, HOUR_MS));
    assert_replays(s);
    cmee_session_free(s);
    assert_int_equal(cmee_session_load(st, "late", NULL, &s, &err), CMEE_OK);
    assert_true(cmee_session_replayable(s));
    assert_epoch_is(s, 1, &e1);
    assert_replays(s);
    free_snap(&e1);
    cmee_session_free(s);
    cmee_store_close(st);
    unlink(path);
}

/* Out of memory at every allocation of a reset: ENOMEM and nothing changed (the epoch, the
 * records, the clock), nothing leaked; then it succeeds. */
static void test_reset_out_of_memory(void **state)
{
    (void)state;
    for (int stored = 0; stored < 2; stored++) {
        chaos c = {0};
        cmee_allocator a = chaos_allocator(&c);
        cmee_store *st = NULL;
        if (stored)
            assert_int_equal(cmee_store_open(":memory:", NULL, NULL, &st, NULL), CMEE_OK);
        cmee_scenario *crash = NULL;
        assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
        cmee_session_config cfg;
        config(&cfg, "oomreset", 9, CMEE_FILL_BOOK, 20, true);
        cfg.scenario = crash;
        cmee_session *s = NULL;
        cmee_error err;
        OK(s, cmee_session_new(&cfg, st, &a, &s, &err));
        cmee_scenario_free(crash);
        stats stt = {0};
        run_ops(s, 11, 60, &stt);
        snap before;
        take_snap(s, &before);
        long points = 0;
        for (long n = 1;; n++) {
            c.calls = 0;
            c.fail_at = n;
            cmee_status r = cmee_session_reset(s);
            c.fail_at = 0;
            if (r == CMEE_OK) {
                points = n - 1;
                break;
            }
            assert_int_equal(r, CMEE_ENOMEM);
            assert_int_equal(cmee_session_epoch(s), 1);
            assert_epoch_is(s, 1, &before);
        }
        print_message("reset (%s) has %ld allocation points\n", stored ? "stored" : "in memory",
                      points);
        assert_true(points >= 5);
        assert_start_state(s, 2, true);
        assert_epoch_is(s, 1, &before);
        free_snap(&before);
        cmee_session_free(s);
        cmee_store_close(st);
        assert_int_equal(c.live, 0);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee_replay_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actions_listing),
        cmocka_unit_test(test_random_replays),
        cmocka_unit_test(test_tampered_log),
        cmocka_unit_test(test_other_seed),
        cmocka_unit_test(test_manual_cash),
        cmocka_unit_test(test_impact_replays),
        cmocka_unit_test(test_store_reload),
        cmocka_unit_test(test_old_store_not_replayable),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_reset_old_store),
        cmocka_unit_test(test_reset_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
