/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Out of memory in every public session operation. Each case prepares a session the same way
 * (the session, its store, driver and broadcaster all allocating through one counting
 * allocator), then runs one operation with the allocator failing its Nth call, for every N
 * until the operation runs without meeting a failure. For every N:
 *  - the call returns CMEE_ENOMEM and the session lists exactly what it listed before (clock,
 *    account, orders, options, positions, ledger, scenario applications, future prices; with a
 *    store, the stored copy too), no event reaches the listener, and the same call made again
 *    with memory succeeds with exactly the result of a run that never failed;
 *  - or the call absorbs the failure (only a lost event may do that) and returns CMEE_OK with
 *    exactly that result;
 *  - and once everything is freed every block the allocator handed out was returned (ASan and
 *    valgrind check the same from outside).
 * The number of allocation points each operation has is printed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmee_test.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS + 30 * MIN_MS; /* 2026-01-01 */
static const int64_t WALL0 = INT64_C(1000000000000);

static char tmpdir[64];
static char dbpath[128];
/* The fill model of every session the cases make (test_quote_model() switches it). */
static cmee_fill_model fill_model = CMEE_FILL_BOOK;
/* The impact model of every session the cases make (test_impact_model() switches it). */
static cmee_impact_model impact_model = CMEE_IMPACT_NONE;

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s));    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- the fixture: everything allocates through f->c ----------------------------------------- */

typedef struct fx {
    chaos c;
    cmee_allocator a;
    bool stored;
    bool manual;
    int pad;                 /* extra trades before the operation: see build_busy() */
    cmee_store *st;
    cmee_session *s;
    cmee_broadcaster *b;
    cmee_subscriber *sub;
    cmee_driver *d;
    int64_t wall;            /* the session's wall clock (ms), moved by the pump case */
    long events;             /* events the listener was told of */
    uint64_t order_id;       /* an open order */
    cmee_application_id app; /* an applied scenario */
    size_t listed;           /* what cmee_session_list counted */
    size_t ticks, candles, evmsgs; /* what the driver published */
} fx;

static int64_t fake_wall(void *ud)
{
    return ((fx *)ud)->wall;
}

static void on_event(void *ud, const cmee_session_event *ev)
{
    (void)ev;
    ((fx *)ud)->events++;
}

static void config(cmee_session_config *c, bool manual)
{
    cmee_session_config_init(c);
    snprintf(c->id, sizeof c->id, "oom");
    c->seed = 7;
    c->start_time = START;
    c->manual_clock = manual;
    c->initial_balance = 100000 * SCALE;
    c->fill_model = fill_model;
    c->impact.model = impact_model;
}

/* What a new session gets once it exists: the listener and, for a running clock, the wall. */
static void adopt(fx *f)
{
    cmee_session_set_listener(f->s, on_event, f);
    if (!f->manual)
        cmee_session_set_wall_clock(f->s, fake_wall, f);
}

static void remove_db(void)
{
    char p[160];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
}

static void open_store(fx *f)
{
    cmee_error e;
    if (cmee_store_open(dbpath, NULL, &f->a, &f->st, &e) != CMEE_OK) {
        print_error("store: %s\n", e.text);
        fail();
    }
}

/* A stored fixture keeps its session in a new file. */
static void fx_init(fx *f, bool stored, int pad)
{
    memset(f, 0, sizeof *f);
    f->a = chaos_allocator(&f->c);
    f->stored = stored;
    f->manual = true;
    f->pad = pad;
    f->wall = WALL0;
    if (stored) {
        remove_db();
        open_store(f);
    }
}

static void fx_free(fx *f)
{
    cmee_driver_free(f->d);
    cmee_session_free(f->s);
    cmee_subscriber_free(f->sub);
    cmee_broadcaster_free(f->b);
    cmee_store_close(f->st);
    if (f->stored)
        remove_db();
    if (f->c.live != 0) {
        print_error("%ld blocks not freed\n", f->c.live);
        fail();
    }
}

static void open_session(fx *f)
{
    cmee_session_config c;
    config(&c, f->manual);
    c.paused = true; /* a running clock starts on the fake wall, not on the real one */
    cmee_error e;
    if (cmee_session_new(&c, f->st, &f->a, &f->s, &e) != CMEE_OK) {
        print_error("new: %s\n", e.text);
        fail();
    }
    adopt(f);
    if (!f->manual)
        OK(f->s, cmee_session_resume(f->s));
}

/* For a stored fixture: close the store and open the file again, and load the session (if
 * any) through the new handle. The operation then runs on a session as a server finds it after
 * a restart, with a store whose statements are not prepared yet (they allocate too). */
static void reopen(fx *f)
{
    if (!f->stored)
        return;
    bool had = f->s != NULL, running = had && !f->manual;
    if (running)
        OK(f->s, cmee_session_pause(f->s)); /* no real time passes while it is reloaded */
    cmee_session_free(f->s);
    f->s = NULL;
    cmee_store_close(f->st);
    f->st = NULL;
    open_store(f);
    if (!had)
        return;
    cmee_error e;
    if (cmee_session_load(f->st, "oom", &f->a, &f->s, &e) != CMEE_OK) {
        print_error("load: %s\n", e.text);
        fail();
    }
    adopt(f);
    if (running)
        OK(f->s, cmee_session_resume(f->s));
}

/* ---- what a session shows, compared bit for bit -------------------------------------------- */

#define MAXN 128
static const char *const SYMS[3] = {"BTCUSD", "ETHUSD", "EURUSD"};

typedef struct snap {
    cmee_session_config cfg;
    cmee_clock clock;
    cmee_account acct;
    cmee_order orders[MAXN];
    size_t norders;
    cmee_option options[MAXN];
    size_t noptions;
    cmee_position pos[32];
    size_t npos;
    cmee_ledger_entry ledger[MAXN];
    size_t nledger;
    cmee_application apps[8];
    size_t napps;
    double future[3]; /* an hour ahead: where an applied scenario shows */
} snap;

/* Reads only. The account is read (it advances) only when the clock has nothing to process,
 * so taking a snapshot neither allocates nor changes anything. */
/* Zero a string's bytes after its terminator, so that records compare with memcmp. */
static void tidy(char *str, size_t cap)
{
    size_t n = strnlen(str, cap);
    memset(str + n, 0, cap - n);
}

static void take(cmee_session *s, snap *p)
{
    memset(p, 0, sizeof *p);
    OK(s, cmee_session_config_get(s, &p->cfg));
    OK(s, cmee_session_clock(s, &p->clock));
    if (p->clock.now == p->clock.processed)
        OK(s, cmee_session_account(s, &p->acct));
    OK(s, cmee_session_orders(s, false, p->orders, MAXN, &p->norders));
    OK(s, cmee_session_options(s, false, p->options, MAXN, &p->noptions));
    OK(s, cmee_session_positions(s, p->pos, 32, &p->npos));
    OK(s, cmee_session_ledger(s, 0, p->ledger, MAXN, &p->nledger));
    for (size_t i = 0; i < p->norders; i++)
        tidy(p->orders[i].symbol, CMEE_SYMBOL_MAX);
    for (size_t i = 0; i < p->noptions; i++)
        tidy(p->options[i].symbol, CMEE_SYMBOL_MAX);
    for (size_t i = 0; i < p->npos; i++)
        tidy(p->pos[i].symbol, CMEE_SYMBOL_MAX);
    for (size_t i = 0; i < p->nledger; i++)
        tidy(p->ledger[i].symbol, CMEE_SYMBOL_MAX);
    const cmee_market *m = cmee_session_market(s);
    p->napps = cmee_scenario_application_count(m);
    assert_true(p->napps <= 8);
    for (size_t i = 0; i < p->napps; i++)
        assert_int_equal(cmee_scenario_application_at(m, i, &p->apps[i]), CMEE_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cmee_market_price(m, SYMS[i], p->clock.processed + HOUR_MS, &p->future[i]),
                         CMEE_OK);
}

#define assert_snap_equal(a, b) snap_equal((a), (b), false, __FILE__, __LINE__)
/* Against a copy loaded with a running clock, which moves on with the real wall from its load:
 * its records and processed time, not its now or the account at that now. */
#define assert_records_equal(a, b) snap_equal((a), (b), true, __FILE__, __LINE__)

static void snap_equal(const snap *a, const snap *b, bool records, const char *file, int line)
{
    const char *what = NULL;
    if (memcmp(&a->cfg, &b->cfg, sizeof a->cfg) != 0)
        what = "config";
    else if ((!records && a->clock.now != b->clock.now) ||
             a->clock.processed != b->clock.processed || a->clock.paused != b->clock.paused ||
             a->clock.speed != b->clock.speed)
        what = "clock";
    else if (!records && memcmp(&a->acct, &b->acct, sizeof a->acct) != 0)
        what = "account";
    else if (a->norders != b->norders ||
             memcmp(a->orders, b->orders, a->norders * sizeof *a->orders) != 0)
        what = "orders";
    else if (a->noptions != b->noptions ||
             memcmp(a->options, b->options, a->noptions * sizeof *a->options) != 0)
        what = "options";
    else if (a->npos != b->npos || memcmp(a->pos, b->pos, a->npos * sizeof *a->pos) != 0)
        what = "positions";
    else if (a->nledger != b->nledger ||
             memcmp(a->ledger, b->ledger, a->nledger * sizeof *a->ledger) != 0)
        what = "ledger";
    else if (a->napps != b->napps)
        what = "scenario applications";
    else if (memcmp(a->future, b->future, sizeof a->future) != 0)
        what = "future prices";
    for (size_t i = 0; !what && i < a->napps; i++)
        if (a->apps[i].id != b->apps[i].id || a->apps[i].t0 != b->apps[i].t0 ||
            a->apps[i].end != b->apps[i].end || strcmp(a->apps[i].name, b->apps[i].name) != 0)
            what = "scenario applications";
    if (what) {
        print_error("clock now %lld/%lld processed %lld/%lld paused %d/%d speed %g/%g\n",
                    (long long)a->clock.now, (long long)b->clock.now,
                    (long long)a->clock.processed, (long long)b->clock.processed, a->clock.paused,
                    b->clock.paused, a->clock.speed, b->clock.speed);
        print_error("the sessions differ in their %s (ledger %zu/%zu, orders %zu/%zu, "
                    "processed %lld/%lld)\n",
                    what, a->nledger, b->nledger, a->norders, b->norders,
                    (long long)a->clock.processed, (long long)b->clock.processed);
        _fail(file, line);
    }
}

/* ---- preparations ------------------------------------------------------------------------- */

static cmee_status order(cmee_session *s, const char *sym, cmee_side side, cmee_order_type type,
                         double qty, double price, double sl, double tp, cmee_order *out)
{
    cmee_order_request r;
    cmee_order_request_init(&r, sym);
    r.side = side;
    r.type = type;
    r.quantity = qty;
    r.price = price;
    r.stop_loss = sl;
    r.take_profit = tp;
    return cmee_session_order(s, &r, out);
}

static cmee_quote quote(cmee_session *s, const char *sym)
{
    cmee_quote q;
    OK(s, cmee_session_quote(s, sym, &q));
    return q;
}

/* A scenario of a few hours on two symbols, with a shock if @p shock is not 0: the presets act
 * on every symbol for days, which would make every sweep run slow to prepare. */
static cmee_scenario *small(const char *name, double drift, double shock)
{
    static const char *const syms[] = {"BTCUSD", "ETHUSD"};
    cmee_regime r;
    cmee_regime_init(&r);
    r.start = 0;
    r.end = 3 * HOUR_MS;
    r.drift_mode = CMEE_DRIFT_SPAN;
    r.drift = drift;
    r.vol_mult = 1.5;
    cmee_event e;
    cmee_event_init(&e, CMEE_EVENT_SHOCK);
    e.at = 10 * MIN_MS;
    e.size = shock;
    cmee_scenario_spec spec = {.name = name, .symbols = syms, .nsymbols = 2, .regimes = &r,
                               .nregimes = 1, .events = &e, .nevents = shock != 0};
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, NULL), CMEE_OK);
    return sc;
}

static void prep_none(fx *f)
{
    (void)f;
}

/* New positions (and options) that pad the account's records by f->pad each: the sweeps run at
 * several pads, so that the operations meet the records' growth at different places. */
static const struct {
    const char *symbol;
    double quantity;
} PADS[] = {{"SOLUSD", 2},   {"BNBUSD", 1},   {"XRPUSD", 200}, {"GBPUSD", 400},
            {"USDJPY", 3},   {"SPX500", 0.1}, {"AAPL", 2},     {"MSFT", 1}};
#define NPADS ((int)(sizeof PADS / sizeof *PADS))

/* A session with a history: a long with stop-loss and take-profit, a short, a pending limit
 * order, an open option, an applied scenario, a minute passed, and the pads. */
static void build_busy(fx *f)
{
    open_session(f);
    cmee_session *s = f->s;
    cmee_quote q = quote(s, "BTCUSD");
    OK(s, order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 0.2, 0, q.ask * 0.97, q.ask * 1.03,
                NULL));
    OK(s, order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 2, 0, 0, 0, NULL));
    q = quote(s, "EURUSD");
    cmee_order o;
    OK(s, order(s, "EURUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 1000, q.bid * 0.99, 0, 0, &o));
    f->order_id = o.id;
    cmee_option_request r;
    cmee_option_request_init(&r, "EURUSD");
    r.stake = 100 * SCALE;
    r.duration = 10 * MIN_MS;
    OK(s, cmee_session_option(s, &r, NULL));
    cmee_scenario *calm = small("calm-ish", 0.01, 0);
    OK(s, cmee_session_apply_scenario(s, calm, &f->app));
    cmee_scenario_free(calm);
    OK(s, cmee_session_step(s, MIN_MS));
    for (int i = 0; i < f->pad; i++) {
        OK(s, order(s, PADS[i].symbol, CMEE_SIDE_BUY, CMEE_ORDER_MARKET, PADS[i].quantity, 0, 0, 0,
                    NULL));
        r.stake = 10 * SCALE;
        r.duration = 30 * MIN_MS;
        OK(s, cmee_session_option(s, &r, NULL));
    }
}

static void prep_busy(fx *f)
{
    build_busy(f);
    reopen(f);
}

/* The busy session with work for the clock: limit and stop orders around the price on three
 * symbols, some with stop-loss and take-profit, and options expiring over the next minutes,
 * so that moving the clock a few hours fills, protects, closes and settles many times and the
 * account's arrays grow while it does. */
static void build_pending(fx *f)
{
    build_busy(f);
    cmee_session *s = f->s;
    for (int k = 1; k <= 6; k++) {
        cmee_quote q = quote(s, "BTCUSD");
        double lim = q.bid * (1 - 0.0015 * k);
        OK(s, order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 0.02, lim, lim * 0.99, lim * 1.004,
                    NULL));
        q = quote(s, "ETHUSD");
        OK(s, order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 0.5, q.ask * (1 + 0.0015 * k), 0,
                    0, NULL));
        q = quote(s, "EURUSD");
        OK(s, order(s, "EURUSD", CMEE_SIDE_BUY, CMEE_ORDER_STOP, 2000, q.ask * (1 + 0.0002 * k), 0,
                    0, NULL));
        cmee_option_request r;
        cmee_option_request_init(&r, SYMS[k % 3]);
        r.kind = k % 2 ? CMEE_OPTION_CALL : CMEE_OPTION_PUT;
        r.stake = 50 * SCALE;
        r.duration = k * 3 * MIN_MS;
        OK(s, cmee_session_option(s, &r, NULL));
    }
}

static void prep_pending(fx *f)
{
    build_pending(f);
    reopen(f);
}

/* The busy session kept in the store, then freed: the load case reads it back. */
static void prep_saved(fx *f)
{
    build_busy(f);
    cmee_session_free(f->s);
    f->s = NULL;
    reopen(f);
}

/* Sessions in the store for listing. */
static void prep_listed(fx *f)
{
    build_busy(f);
    cmee_session_config c;
    config(&c, true);
    for (int i = 0; i < 20; i++) {
        cmee_session *t = NULL;
        snprintf(c.id, sizeof c.id, "other-%02d", i);
        assert_int_equal(cmee_session_new(&c, f->st, &f->a, &t, NULL), CMEE_OK);
        cmee_session_free(t);
    }
    reopen(f);
}

static void prep_driver(fx *f)
{
    prep_busy(f);
    assert_int_equal(cmee_broadcaster_new(&f->a, &f->b), CMEE_OK);
    cmee_subscriber_options o;
    cmee_subscriber_options_init(&o);
    o.capacity = 4096;
    assert_int_equal(cmee_broadcaster_subscribe(f->b, "session.oom.*", &o, &f->sub), CMEE_OK);
    assert_int_equal(cmee_subscriber_add_pattern(f->sub, "session.oom"), CMEE_OK);
}

static void prep_driven(fx *f)
{
    f->manual = false; /* a running clock on the fake wall: the pump advances it */
    build_pending(f);
    OK(f->s, cmee_session_set_speed(f->s, 60));
    reopen(f);
    assert_int_equal(cmee_broadcaster_new(NULL, &f->b), CMEE_OK);
    cmee_subscriber_options o;
    cmee_subscriber_options_init(&o);
    o.capacity = 8192;
    assert_int_equal(cmee_broadcaster_subscribe(f->b, "session.oom.*", &o, &f->sub), CMEE_OK);
    assert_int_equal(cmee_subscriber_add_pattern(f->sub, "session.oom"), CMEE_OK);
    assert_int_equal(cmee_driver_new(f->b, &f->a, &f->d), CMEE_OK);
    const char *watch[] = {"BTCUSD", "EURUSD"};
    /* The driver takes over the listener: events are counted as published messages. */
    assert_int_equal(cmee_driver_add(f->d, f->s, watch, 2), CMEE_OK);
}

/* ---- operations ----------------------------------------------------------------------------- */

static cmee_status op_new(fx *f)
{
    cmee_session_config c;
    config(&c, true);
    cmee_scenario *bull = small("bull-ish", 0.05, 0);
    c.scenario = bull;
    cmee_error e;
    cmee_status r = cmee_session_new(&c, f->st, &f->a, &f->s, &e);
    cmee_scenario_free(bull);
    if (r == CMEE_OK)
        adopt(f);
    else
        assert_int_equal(e.status, r);
    return r;
}

static cmee_status op_load(fx *f)
{
    cmee_error e;
    cmee_status r = cmee_session_load(f->st, "oom", &f->a, &f->s, &e);
    if (r == CMEE_OK)
        adopt(f);
    return r;
}

static cmee_status op_market(fx *f)
{
    return order(f->s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 1, 0, 0, 0, NULL);
}

static cmee_status op_market_sltp(fx *f)
{
    cmee_quote q = quote(f->s, "XAUUSD");
    cmee_order o;
    cmee_status r = order(f->s, "XAUUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 3, 0, q.bid * 1.02,
                          q.bid * 0.98, &o);
    if (r == CMEE_OK)
        assert_int_equal(o.state, CMEE_ORDER_FILLED);
    return r;
}

static cmee_status op_reduce(fx *f)
{
    return order(f->s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 0.05, 0, 0, 0, NULL);
}

static cmee_status op_limit(fx *f)
{
    cmee_quote q = quote(f->s, "BTCUSD");
    return order(f->s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 0.1, q.ask * 1.01,
                 q.ask * 1.05, q.ask * 0.95, NULL);
}

static cmee_status op_limit_now(fx *f)
{
    cmee_quote q = quote(f->s, "EURUSD");
    cmee_order o;
    cmee_status r = order(f->s, "EURUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 5000, q.ask * 1.001,
                          q.ask * 0.99, 0, &o);
    if (r == CMEE_OK)
        assert_int_equal(o.state, CMEE_ORDER_FILLED);
    return r;
}

static cmee_status op_stop(fx *f)
{
    cmee_quote q = quote(f->s, "ETHUSD");
    return order(f->s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_STOP, 1, q.ask * 1.01, 0, 0, NULL);
}

static cmee_status op_cancel(fx *f)
{
    return cmee_session_cancel_order(f->s, f->order_id);
}

static cmee_status op_protect(fx *f)
{
    cmee_quote q = quote(f->s, "ETHUSD");
    return cmee_session_protect(f->s, "ETHUSD", q.ask * 1.05, q.ask * 0.9);
}

static cmee_status op_close(fx *f)
{
    return cmee_session_close_position(f->s, "ETHUSD", NULL);
}

static cmee_status op_option(fx *f)
{
    cmee_option_request r;
    cmee_option_request_init(&r, "BTCUSD");
    r.kind = CMEE_OPTION_PUT;
    r.stake = 250 * SCALE;
    r.duration = 5 * MIN_MS;
    return cmee_session_option(f->s, &r, NULL);
}

static cmee_status op_step(fx *f)
{
    return cmee_session_step(f->s, 3 * HOUR_MS);
}

static cmee_status op_seek(fx *f)
{
    cmee_clock c;
    OK(f->s, cmee_session_clock(f->s, &c));
    return cmee_session_seek(f->s, c.now + 4 * HOUR_MS + 17 * 1000);
}

static cmee_status op_pause(fx *f)
{
    return cmee_session_pause(f->s);
}

static cmee_status op_speed(fx *f)
{
    return cmee_session_set_speed(f->s, 25);
}

static cmee_status op_apply(fx *f)
{
    cmee_scenario *crash = small("crash-ish", -0.05, -0.04);
    cmee_status r = cmee_session_apply_scenario(f->s, crash, NULL);
    cmee_scenario_free(crash);
    return r;
}

static cmee_status op_unapply(fx *f)
{
    return cmee_session_cancel_scenario(f->s, f->app);
}

static cmee_status op_queries(fx *f)
{
    cmee_session *s = f->s;
    cmee_account a;
    cmee_status r = cmee_session_account(s, &a);
    if (r != CMEE_OK)
        return r;
    cmee_quote q;
    if ((r = cmee_session_quote(s, "BTCUSD", &q)) != CMEE_OK)
        return r;
    static cmee_ledger_entry led[MAXN];
    static cmee_order ord[MAXN];
    static cmee_option opt[MAXN];
    cmee_position pos[32];
    size_t n;
    if ((r = cmee_session_ledger(s, 2, led, MAXN, &n)) != CMEE_OK ||
        (r = cmee_session_orders(s, true, ord, MAXN, &n)) != CMEE_OK ||
        (r = cmee_session_options(s, false, opt, MAXN, &n)) != CMEE_OK ||
        (r = cmee_session_positions(s, pos, 32, &n)) != CMEE_OK)
        return r;
    cmee_clock c;
    return cmee_session_clock(s, &c);
}

static cmee_status op_candles(fx *f)
{
    /* A 4h candle forming for hours: the session aggregates its minutes (an allocation). */
    static cmee_candle buf[50];
    size_t n;
    return cmee_session_candles(f->s, "BTCUSD", CMEE_TF_4H, 50, buf, 50, &n);
}

static cmee_status op_list(fx *f)
{
    static char ids[32][CMEE_SESSION_ID_MAX];
    return cmee_session_list(f->st, ids, 32, &f->listed);
}

static cmee_status op_delete(fx *f)
{
    cmee_status r = cmee_session_delete(f->st, "oom");
    if (r == CMEE_OK) {
        /* The handle lives on but its records are gone: check the store, not the handle. */
        size_t n = 9;
        assert_int_equal(cmee_session_list(f->st, NULL, 0, &n), CMEE_OK);
        assert_int_equal(n, 0);
    }
    return r;
}

static cmee_status op_driver_new(fx *f)
{
    cmee_status r = cmee_driver_new(f->b, &f->a, &f->d);
    if (r == CMEE_OK)
        r = cmee_driver_add(f->d, f->s, SYMS, 3);
    if (r != CMEE_OK) {
        cmee_driver_free(f->d); /* a driver that could not take its session is dropped */
        f->d = NULL;
        cmee_session_set_listener(f->s, on_event, f);
    }
    return r;
}

static void drain(fx *f)
{
    static cmee_message msgs[512];
    size_t n;
    while (cmee_subscriber_drain(f->sub, msgs, 512, 0, &n) == CMEE_OK)
        for (size_t i = 0; i < n; i++) {
            f->ticks += msgs[i].kind == CMEE_MSG_TICK;
            f->candles += msgs[i].kind == CMEE_MSG_CANDLE;
            f->evmsgs += msgs[i].kind == CMEE_MSG_EVENT;
        }
}

static cmee_status op_pump(fx *f)
{
    drain(f);
    f->ticks = f->candles = f->evmsgs = 0;
    f->wall += 3 * MIN_MS; /* three wall minutes at speed 60: three sim hours */
    size_t failed = 9;
    cmee_status r = cmee_driver_pump(f->d, &failed);
    assert_int_equal(failed, r == CMEE_OK ? 0 : 1);
    drain(f);
    if (r != CMEE_OK) {
        /* Nothing is published for a session that did not advance. */
        assert_int_equal(f->ticks + f->candles + f->evmsgs, 0);
        f->wall -= 3 * MIN_MS; /* the retry moves it again */
    }
    return r;
}

/* ---- the sweep -------------------------------------------------------------------------------- */

enum { MEMORY = 1, STORED = 2, BOTH = 3 };

typedef struct opcase {
    const char *name;
    int modes;
    void (*prepare)(fx *f);
    cmee_status (*op)(fx *f);
    bool padded;     /* run at every pad (else at pad 0 only) */
    long min_points; /* the operation must allocate at least this often over its runs */
    size_t min_new;  /* ledger entries it must add (the clock cases: fills and settlements) */
} opcase;

/* What the runs of one case at one pad found. */
typedef struct tally {
    long points, refused, absorbed;
} tally;

static void check_stored(fx *f, const snap *want)
{
    cmee_session *copy = NULL;
    cmee_error e;
    cmee_status r = cmee_session_load(f->st, "oom", NULL, &copy, &e);
    if (r != CMEE_OK) {
        print_error("reload: %s\n", e.text);
        fail();
    }
    static snap got;
    take(copy, &got);
    cmee_session_free(copy);
    if (got.clock.manual || got.clock.paused)
        assert_snap_equal(want, &got);
    else
        assert_records_equal(want, &got);
}

static size_t stored_count(fx *f)
{
    size_t n = 0;
    assert_int_equal(cmee_session_list(f->st, NULL, 0, &n), CMEE_OK);
    return n;
}

static void sweep_at(const opcase *oc, bool stored, int pad, tally *t)
{
    static snap ref, before, after;
    fx f;
    /* The run without failures: what every run must end with. */
    fx_init(&f, stored, pad);
    oc->prepare(&f);
    /* The same reads as the failing runs make, so that the allocations match call for call. */
    if (f.st)
        stored_count(&f);
    if (f.s)
        take(f.s, &before);
    f.c.calls = 0;
    cmee_status r = oc->op(&f);
    if (r != CMEE_OK) {
        print_error("%s: %s (%s)\n", oc->name, cmee_status_name(r),
                    f.s ? cmee_session_errmsg(f.s) : "");
        fail();
    }
    long points = f.c.calls;
    long ref_events = f.events;
    size_t ref_listed = f.listed, ref_ticks = f.ticks, ref_candles = f.candles;
    size_t ref_evmsgs = f.evmsgs;
    size_t ref_stored = f.st ? stored_count(&f) : 0;
    if (f.s)
        take(f.s, &ref);
    fx_free(&f);
    if (oc->min_new > 0 && ref.nledger < before.nledger + oc->min_new) {
        print_error("%s at pad %d: %zu ledger entries added, expected at least %zu\n", oc->name,
                    pad, ref.nledger - before.nledger, oc->min_new);
        fail();
    }

    long refused = 0, absorbed = 0;
    for (long n = 1;; n++) {
        fx_init(&f, stored, pad);
        oc->prepare(&f);
        bool had = f.s != NULL;
        size_t stored_before = f.st ? stored_count(&f) : 0;
        if (had)
            take(f.s, &before);
        long ev0 = f.events;
        f.c.calls = 0;
        f.c.fail_at = n;
        r = oc->op(&f);
        f.c.fail_at = 0;
        long calls = f.c.calls;
        if (r == CMEE_ENOMEM) {
            refused++;
            assert_int_equal(f.events, ev0);
            if (had) {
                take(f.s, &after);
                assert_snap_equal(&before, &after);
                if (f.st && stored_before > 0)
                    check_stored(&f, &before);
            } else {
                assert_null(f.s);
            }
            if (f.st)
                assert_int_equal(stored_count(&f), stored_before);
            /* Nothing is left half done: the same call with memory ends like the reference. */
            r = oc->op(&f);
            if (r != CMEE_OK) {
                print_error("%s, retry after failing allocation %ld: %s (%s)\n", oc->name, n,
                            cmee_status_name(r), f.s ? cmee_session_errmsg(f.s) : "");
                fail();
            }
            assert_int_equal(f.events, ref_events);
            assert_int_equal(f.ticks, ref_ticks);
            assert_int_equal(f.candles, ref_candles);
            assert_int_equal(f.evmsgs, ref_evmsgs);
        } else if (r == CMEE_OK) {
            if (calls >= n) {
                /* A failure the call absorbed: only an event may be lost to it. */
                absorbed++;
                assert_true(f.events < ref_events || f.evmsgs < ref_evmsgs);
            } else {
                assert_int_equal(f.events, ref_events);
                assert_int_equal(f.evmsgs, ref_evmsgs);
            }
            assert_int_equal(f.ticks, ref_ticks);
            assert_int_equal(f.candles, ref_candles);
        } else {
            print_error("%s, failing allocation %ld of %ld: %s (%s)\n", oc->name, n, points,
                        cmee_status_name(r), f.s ? cmee_session_errmsg(f.s) : "");
            fail();
        }
        assert_int_equal(f.listed, ref_listed);
        if (f.s) {
            take(f.s, &after);
            assert_snap_equal(&ref, &after);
        }
        if (f.st)
            assert_int_equal(stored_count(&f), ref_stored);
        if (f.st && f.s && ref_stored > 0)
            check_stored(&f, &ref);
        fx_free(&f);
        if (calls < n)
            break; /* the call ran without meeting the failure: every point was tried */
    }
    if (refused + absorbed != points) {
        print_error("%s at pad %d: %ld allocations, %ld refused and %ld absorbed\n", oc->name, pad,
                    points, refused, absorbed);
        fail();
    }
    t->points += points;
    t->refused += refused;
    t->absorbed += absorbed;
}

static void sweep(const opcase *oc, bool stored)
{
    /* Every pad; at a CMEE_TEST_SCALE below 1 (cmee_test.h) fewer, first those at which the
     * account's arrays grow in most operations. */
    static const int order[NPADS] = {5, 6, 7, 0, 1, 2, 3, 4};
    tally t = {0};
    int pads = oc->padded ? (int)cmee_test_scaled(NPADS) : 1;
    for (int i = 0; i < pads; i++)
        sweep_at(oc, stored, oc->padded ? order[i] : 0, &t);
    print_message("%-22s %-6s %-5s%s %4ld allocations over %d states: %4ld refused with ENOMEM, "
                  "%ld absorbed\n",
                  oc->name, stored ? "stored" : "memory",
                  fill_model == CMEE_FILL_BOOK ? "book" : "quote",
                  impact_model == CMEE_IMPACT_NONE ? "" : "+impact", t.points, pads, t.refused,
                  t.absorbed);
    if (t.points < oc->min_points && pads == (oc->padded ? NPADS : 1)) {
        print_error("%s: %ld allocations, expected at least %ld\n", oc->name, t.points,
                    oc->min_points);
        fail();
    }
}

static const opcase CASES[] = {
    {"session_new", BOTH, prep_none, op_new, false, 4, 0},
    {"session_load", STORED, prep_saved, op_load, true, 8, 0},
    {"order market", BOTH, prep_busy, op_market, true, 1, 0},
    {"order market sl/tp", BOTH, prep_busy, op_market_sltp, true, 1, 0},
    {"order reduce", BOTH, prep_busy, op_reduce, true, 1, 0},
    {"order limit", BOTH, prep_busy, op_limit, true, 1, 0},
    {"order limit fills", BOTH, prep_busy, op_limit_now, true, 1, 0},
    {"order stop", BOTH, prep_busy, op_stop, true, 1, 0},
    {"cancel order", BOTH, prep_busy, op_cancel, true, 0, 0},
    {"protect", BOTH, prep_busy, op_protect, true, 0, 0},
    {"close position", BOTH, prep_busy, op_close, true, 1, 0},
    {"option", BOTH, prep_busy, op_option, true, 1, 0},
    {"step (fills, settles)", BOTH, prep_pending, op_step, true, 1, 12},
    {"seek (fills, settles)", BOTH, prep_pending, op_seek, true, 1, 12},
    {"pause", BOTH, prep_busy, op_pause, true, 0, 0},
    {"set speed", BOTH, prep_busy, op_speed, true, 0, 0},
    {"apply scenario", BOTH, prep_busy, op_apply, true, 2, 0},
    {"cancel scenario", BOTH, prep_busy, op_unapply, true, 0, 0},
    {"queries", BOTH, prep_busy, op_queries, true, 0, 0},
    {"candles", BOTH, prep_busy, op_candles, false, 1, 0},
    {"session_list", STORED, prep_listed, op_list, false, 1, 0},
    {"session_delete", STORED, prep_busy, op_delete, false, 0, 0},
    {"driver new+add", BOTH, prep_driver, op_driver_new, false, 2, 0},
    {"driver pump", BOTH, prep_driven, op_pump, true, 1, 12},
};

static void test_memory(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
        if (CASES[i].modes & MEMORY)
            sweep(&CASES[i], false);
}

static void test_stored(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
        if (CASES[i].modes & STORED)
            sweep(&CASES[i], true);
}

static int setup(void **state)
{
    (void)state;
    /* In memory if the system has a tmpfs there: the sweeps create thousands of files. */
    snprintf(tmpdir, sizeof tmpdir, "/dev/shm/cmee-salloc-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-salloc-XXXXXX");
        if (!mkdtemp(tmpdir))
            return -1;
    }
    snprintf(dbpath, sizeof dbpath, "%s/alloc.db", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_db();
    rmdir(tmpdir);
    return 0;
}

/* The same in memory with the spread-around-the-tick fill model (the default is the book). */
static void test_quote_model(void **state)
{
    fill_model = CMEE_FILL_QUOTE;
    test_memory(state);
    fill_model = CMEE_FILL_BOOK;
}

/* The same, in memory and stored, with market impact: fills also grow the session market's
 * impact records, and a load rebuilds them from the orders. At a CMEE_TEST_SCALE below 1
 * (valgrind) the stored sweep keeps only the load, the case that rebuilds the impact; the
 * stored operations are the in-memory ones plus their commit, swept above. */
static void test_impact_model(void **state)
{
    impact_model = CMEE_IMPACT_SQRT;
    test_memory(state);
    if (cmee_test_scale() < 1) {
        for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
            if (strcmp(CASES[i].name, "session_load") == 0)
                sweep(&CASES[i], true);
    } else {
        test_stored(state);
    }
    impact_model = CMEE_IMPACT_NONE;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_stored),
        cmocka_unit_test(test_quote_model),
        cmocka_unit_test(test_impact_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
