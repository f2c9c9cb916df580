/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sessions in the store: a session traded, freed and loaded again lists exactly what it listed
 * before (bit for bit) and carries on exactly as one that never left memory; the clock continues
 * from the committed sim time; list and delete; a damaged row is refused with CMEE_ECORRUPT; a
 * failed write leaves the session at its last committed state; a version-1 file migrates. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmee_test.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS + 30 * MIN_MS; /* 2026-01-01 */

static char tmpdir[64];
static int nfile;

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s));    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* A fresh store file in the test's directory. */
static cmee_store *open_store(char *path, size_t cap, int busy_ms)
{
    snprintf(path, cap, "%s/s%d.db", tmpdir, nfile++);
    cmee_store_options o;
    cmee_store_options_init(&o);
    o.busy_timeout_ms = busy_ms;
    cmee_store *st = NULL;
    cmee_error e;
    if (cmee_store_open(path, &o, NULL, &st, &e) != CMEE_OK) {
        print_error("open %s: %s\n", path, e.text);
        fail();
    }
    return st;
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

static cmee_session *create(cmee_store *st, const char *id, bool manual, const cmee_scenario *sc)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.label, sizeof c.label, "label of %s", id);
    c.seed = UINT64_C(0xfedcba9876543210); /* above INT64_MAX: stored bit-cast */
    c.start_time = START;
    c.manual_clock = manual;
    c.initial_balance = 100000 * SCALE;
    c.fee_rate = 0.0007;
    c.spread_bps = 3.5;
    c.option_payout = 0.85;
    c.scenario = sc;
    cmee_session *s = NULL;
    cmee_error err;
    cmee_status r = cmee_session_new(&c, st, NULL, &s, &err);
    if (r != CMEE_OK) {
        print_error("new %s: %s: %s\n", id, cmee_status_name(r), err.text);
        fail();
    }
    return s;
}

static cmee_session *load(cmee_store *st, const char *id)
{
    cmee_session *s = NULL;
    cmee_error err = {0};
    cmee_status r = cmee_session_load(st, id, NULL, &s, &err);
    if (r != CMEE_OK) {
        print_error("load %s: %s: %s\n", id, cmee_status_name(r), err.text);
        fail();
    }
    return s;
}

/* ---- snapshots, compared bit for bit ------------------------------------------------------ */

#define MAXN 512

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
    cmee_quote quote[3];
} snap;

static const char *const SYMS[3] = {"BTCUSD", "ETHUSD", "EURUSD"};

/* Everything the session lists. Reads only: the clock is not advanced (a manual clock or a
 * paused one keeps the marks where they were). */
static void take(cmee_session *s, snap *p)
{
    memset(p, 0, sizeof *p);
    OK(s, cmee_session_config_get(s, &p->cfg));
    OK(s, cmee_session_clock(s, &p->clock));
    OK(s, cmee_session_account(s, &p->acct));
    OK(s, cmee_session_orders(s, false, p->orders, MAXN, &p->norders));
    OK(s, cmee_session_options(s, false, p->options, MAXN, &p->noptions));
    OK(s, cmee_session_positions(s, p->pos, 32, &p->npos));
    OK(s, cmee_session_ledger(s, 0, p->ledger, MAXN, &p->nledger));
    for (int i = 0; i < 3; i++)
        OK(s, cmee_session_quote(s, SYMS[i], &p->quote[i]));
}

static bool same_d(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

#define EQ(f)                                                                                      \
    do {                                                                                           \
        if ((a->f) != (b->f)) {                                                                    \
            print_error("%s differs\n", #f);                                                       \
            _fail(file, line);                                                                     \
        }                                                                                          \
    } while (0)
#define EQD(f)                                                                                     \
    do {                                                                                           \
        if (!same_d(a->f, b->f)) {                                                                 \
            print_error("%s differs: %.17g vs %.17g\n", #f, a->f, b->f);                           \
            _fail(file, line);                                                                     \
        }                                                                                          \
    } while (0)
#define EQS(f)                                                                                     \
    do {                                                                                           \
        if (strcmp(a->f, b->f) != 0) {                                                             \
            print_error("%s differs: %s vs %s\n", #f, a->f, b->f);                                 \
            _fail(file, line);                                                                     \
        }                                                                                          \
    } while (0)

#define assert_snap_equal(a, b, clock) snap_equal((a), (b), (clock), __FILE__, __LINE__)

static void snap_equal(const snap *x, const snap *y, bool clock, const char *file, int line)
{
    {
        const cmee_session_config *a = &x->cfg, *b = &y->cfg;
        EQS(id);
        EQS(label);
        EQ(seed);
        EQ(start_time);
        EQD(speed);
        EQ(paused);
        EQ(manual_clock);
        EQ(initial_balance);
        EQS(currency);
        EQD(fee_rate);
        EQD(spread_bps);
        EQD(option_payout);
        EQ(fill_model);
    }
    if (clock) {
        const cmee_clock *a = &x->clock, *b = &y->clock;
        EQ(now);
        EQD(speed);
        EQ(paused);
        EQ(manual);
        EQ(processed);
    }
    {
        const cmee_account *a = &x->acct, *b = &y->acct;
        EQS(currency);
        EQ(balance);
        EQ(unrealised);
        EQ(equity);
        EQ(used_margin);
        EQ(free_margin);
        EQ(positions);
        EQ(open_orders);
        EQ(open_options);
        EQ(ledger_entries);
    }
    if (x->norders != y->norders || x->noptions != y->noptions || x->npos != y->npos ||
        x->nledger != y->nledger) {
        print_error("counts differ: orders %zu/%zu options %zu/%zu positions %zu/%zu ledger "
                    "%zu/%zu\n",
                    x->norders, y->norders, x->noptions, y->noptions, x->npos, y->npos, x->nledger,
                    y->nledger);
        _fail(file, line);
    }
    for (size_t i = 0; i < x->norders; i++) {
        const cmee_order *a = &x->orders[i], *b = &y->orders[i];
        EQ(id);
        EQS(symbol);
        EQ(side);
        EQ(type);
        EQ(state);
        EQD(quantity);
        EQD(price);
        EQD(stop_loss);
        EQD(take_profit);
        EQ(created);
        EQ(closed);
        EQD(fill_price);
        EQ(fee);
    }
    for (size_t i = 0; i < x->noptions; i++) {
        const cmee_option *a = &x->options[i], *b = &y->options[i];
        EQ(id);
        EQS(symbol);
        EQ(kind);
        EQ(state);
        EQ(stake);
        EQD(payout);
        EQ(opened);
        EQ(expires);
        EQD(strike);
        EQD(settle_price);
        EQ(paid);
    }
    for (size_t i = 0; i < x->npos; i++) {
        const cmee_position *a = &x->pos[i], *b = &y->pos[i];
        EQS(symbol);
        EQD(quantity);
        EQD(avg_price);
        EQD(mark);
        EQ(unrealised);
        EQ(realised);
        EQD(stop_loss);
        EQD(take_profit);
    }
    for (size_t i = 0; i < x->nledger; i++) {
        const cmee_ledger_entry *a = &x->ledger[i], *b = &y->ledger[i];
        EQ(seq);
        EQ(time);
        EQ(kind);
        EQ(amount);
        EQ(balance);
        EQ(ref);
        EQS(symbol);
    }
    /* Quotes are at the clock's now: comparable only when the clocks are (a running clock on
     * the real wall clock moves between the two snapshots). */
    for (int i = 0; clock && i < 3; i++) {
        const cmee_quote *a = &x->quote[i], *b = &y->quote[i];
        EQS(symbol);
        EQ(time);
        EQD(price);
        EQD(bid);
        EQD(ask);
        EQ(halted);
    }
}

/* ---- a trading script ------------------------------------------------------------------- */

static cmee_order order(cmee_session *s, const char *sym, cmee_side side, cmee_order_type type,
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

static void option(cmee_session *s, const char *sym, cmee_option_kind kind, int64_t duration)
{
    cmee_option_request r;
    cmee_option_request_init(&r, sym);
    r.kind = kind;
    r.stake = 25 * SCALE;
    r.duration = duration;
    OK(s, cmee_session_option(s, &r, NULL));
}

static cmee_scenario *preset(const char *name)
{
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_preset(name, NULL, &sc, NULL), CMEE_OK);
    return sc;
}

/* Part one: market, limit and stop orders, protection, options, a scenario applied and one
 * cancelled. Returns the id of the scenario still acting. */
static cmee_application_id script_one(cmee_session *s)
{
    cmee_quote q;
    order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 2, 0);
    OK(s, cmee_session_quote(s, "BTCUSD", &q));
    order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 0.1, floor(q.ask * 0.998));
    order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 0.05, ceil(q.bid * 1.5)); /* stays open */
    cmee_order far = order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_STOP, 0.05, ceil(q.ask * 3));
    {
        /* -0.0 is a valid "none" and must come back as -0.0, not 0.0. */
        cmee_order_request r;
        cmee_order_request_init(&r, "BTCUSD");
        r.type = CMEE_ORDER_LIMIT;
        r.quantity = 0.01;
        r.price = floor(q.bid * 0.5);
        r.stop_loss = -0.0;
        cmee_order o;
        OK(s, cmee_session_order(s, &r, &o));
        assert_true(signbit(o.stop_loss));
    }
    OK(s, cmee_session_cancel_order(s, far.id));
    option(s, "EURUSD", CMEE_OPTION_CALL, 5 * MIN_MS);
    option(s, "BTCUSD", CMEE_OPTION_PUT, 3 * DAY_MS); /* still open at the end */
    OK(s, cmee_session_step(s, 7 * MIN_MS));
    cmee_scenario *bull = preset("bull_trend");
    cmee_scenario *spike = preset("volatility_spike");
    cmee_application_id a1, a2;
    OK(s, cmee_session_apply_scenario(s, spike, &a1));
    OK(s, cmee_session_step(s, HOUR_MS));
    OK(s, cmee_session_cancel_scenario(s, a1));
    OK(s, cmee_session_step(s, 30 * MIN_MS));
    OK(s, cmee_session_apply_scenario(s, bull, &a2));
    cmee_scenario_free(bull);
    cmee_scenario_free(spike);
    order(s, "EURUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 1000, 0);
    OK(s, cmee_session_quote(s, "EURUSD", &q));
    OK(s, cmee_session_protect(s, "EURUSD", q.ask * 1.05, q.ask * 0.95));
    for (int i = 0; i < 6; i++) {
        option(s, i % 2 ? "ETHUSD" : "EURUSD", i % 3 ? CMEE_OPTION_CALL : CMEE_OPTION_PUT,
               (i + 1) * MIN_MS);
        OK(s, cmee_session_step(s, 10 * MIN_MS + i * 1234));
    }
    order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 0.5, 0);
    OK(s, cmee_session_step(s, 2 * HOUR_MS + 777));
    return a2;
}

/* Part two, after a reload or not: more of everything, including the scenario applied in part
 * one (its application id must still work). */
static void script_two(cmee_session *s, cmee_application_id a)
{
    cmee_quote q;
    OK(s, cmee_session_quote(s, "ETHUSD", &q));
    order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 1, ceil(q.bid * 1.001));
    order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_STOP, 0.5, floor(q.bid * 0.995));
    option(s, "BTCUSD", CMEE_OPTION_CALL, 20 * MIN_MS);
    for (int i = 0; i < 12; i++)
        OK(s, cmee_session_step(s, 4 * HOUR_MS));
    OK(s, cmee_session_cancel_scenario(s, a));
    cmee_position pos[8];
    size_t n = 0;
    OK(s, cmee_session_positions(s, pos, 8, &n));
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++)
        OK(s, cmee_session_close_position(s, pos[i].symbol, NULL));
    order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 0.02, 0);
    OK(s, cmee_session_step(s, 3 * DAY_MS));
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    char pa[128], pb[128];
    cmee_store *sa = open_store(pa, sizeof pa, 0), *sb = open_store(pb, sizeof pb, 0);
    cmee_scenario *calm = preset("calm");
    static snap before, after, twin;

    /* A: the session never leaves memory. B: freed and reloaded between the two parts. */
    cmee_session *a = create(sa, "sess-A", true, calm);
    cmee_session *b = create(sb, "sess-A", true, calm);
    cmee_application_id ida = script_one(a), idb = script_one(b);
    assert_int_equal(ida, idb);
    take(b, &before);
    assert_true(before.norders >= 6 && before.noptions >= 8 && before.npos >= 1);
    assert_true(before.acct.open_orders >= 1 && before.acct.open_options >= 1);
    cmee_session_free(b);
    b = load(sb, "sess-A");
    take(b, &after);
    assert_snap_equal(&before, &after, true);

    /* Carries on exactly like the session that stayed. */
    script_two(a, ida);
    script_two(b, idb);
    take(a, &twin);
    take(b, &after);
    assert_snap_equal(&twin, &after, true);

    /* And once more from the store, in a second handle on the same file. */
    cmee_store *sb2 = NULL;
    assert_int_equal(cmee_store_open(pb, NULL, NULL, &sb2, NULL), CMEE_OK);
    cmee_session *b2 = load(sb2, "sess-A");
    take(b2, &before);
    assert_snap_equal(&after, &before, true);
    assert_int_equal(cmee_store_check(sb2), CMEE_OK);

    cmee_session_free(b2);
    cmee_session_free(a);
    cmee_session_free(b);
    cmee_scenario_free(calm);
    cmee_store_close(sb2);
    cmee_store_close(sa);
    cmee_store_close(sb);
    remove_store(pa);
    remove_store(pb);
}

static int64_t fake_wall(void *ud)
{
    return *(const int64_t *)ud;
}

static int64_t real_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The clock continues from the committed sim time: the time the session spent out of memory
 * does not count. */
static void test_clock_continues(void **state)
{
    (void)state;
    char path[128];
    cmee_store *st = open_store(path, sizeof path, 0);
    int64_t wall = INT64_C(1000000);
    cmee_session *s = create(st, "clock", false, NULL);
    OK(s, cmee_session_set_speed(s, 60));
    cmee_session_set_wall_clock(s, fake_wall, &wall);
    wall += 10000; /* 10 s of wall time = 10 min of sim time */
    order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 1, 0); /* advances and commits */
    cmee_clock c0;
    OK(s, cmee_session_clock(s, &c0));
    assert_true(c0.now >= START + 10 * MIN_MS);
    assert_int_equal(c0.processed, c0.now);
    int64_t stored = c0.processed;
    wall += 5000; /* time that passes uncommitted is not kept */
    cmee_session_free(s);

    /* Running: reloaded, it starts at the stored now, whatever the wall clock did meanwhile. */
    wall += HOUR_MS;
    int64_t t0 = real_ms();
    s = load(st, "clock");
    cmee_session_set_wall_clock(s, fake_wall, &wall);
    int64_t slack = (real_ms() - t0 + 2) * 60; /* real ms between load and the fake clock */
    cmee_clock c;
    OK(s, cmee_session_clock(s, &c));
    assert_true(c.now >= stored && c.now <= stored + slack);
    assert_int_equal(c.processed, stored);
    assert_true(c.speed == 60 && !c.paused && !c.manual);
    int64_t base = c.now;
    wall += 1000;
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.now, base + 60000);
    int64_t now = 0;
    OK(s, cmee_session_advance(s, &now));
    assert_int_equal(now, base + 60000);

    /* Paused: exactly the stored now, and it advances from there once resumed. */
    OK(s, cmee_session_pause(s));
    OK(s, cmee_session_clock(s, &c0));
    stored = c0.now;
    cmee_session_free(s);
    wall += 5 * HOUR_MS;
    s = load(st, "clock");
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.now, stored);
    assert_true(c.paused);
    cmee_session_set_wall_clock(s, fake_wall, &wall);
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.now, stored);
    OK(s, cmee_session_resume(s));
    wall += 2000;
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.now, stored + 120000);
    cmee_session_free(s);

    /* A manual clock stays exactly where it was. */
    s = create(st, "manual", true, NULL);
    OK(s, cmee_session_step(s, 5 * HOUR_MS + 17));
    cmee_session_free(s);
    s = load(st, "manual");
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.now, START + 5 * HOUR_MS + 17);
    assert_true(c.manual && c.paused);
    cmee_session_free(s);
    cmee_store_close(st);
    remove_store(path);
}

static long long raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int raw_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    return db;
}

static void test_list_delete(void **state)
{
    (void)state;
    char path[128];
    cmee_store *st = open_store(path, sizeof path, 0);
    size_t n = 99;
    assert_int_equal(cmee_session_list(st, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 0);
    const char *ids[4] = {"zeta", "alpha", "mid-1", "b_2"};
    for (int i = 0; i < 4; i++) {
        cmee_session *s = create(st, ids[i], true, NULL);
        order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 0.01, 0);
        option(s, "ETHUSD", CMEE_OPTION_CALL, HOUR_MS);
        cmee_session_free(s);
    }
    /* A duplicate id is refused and changes nothing. */
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "alpha");
    cmee_session *dup = NULL;
    cmee_error err;
    assert_int_equal(cmee_session_new(&c, st, NULL, &dup, &err), CMEE_EEXIST);
    assert_null(dup);

    char buf[4][CMEE_SESSION_ID_MAX];
    assert_int_equal(cmee_session_list(st, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 4);
    n = 99;
    assert_int_equal(cmee_session_list(st, buf, 3, &n), CMEE_ENOSPACE);
    assert_int_equal(n, 99);
    assert_int_equal(cmee_session_list(st, NULL, 3, &n), CMEE_EINVAL);
    assert_int_equal(cmee_session_list(st, buf, 4, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_session_list(NULL, buf, 4, &n), CMEE_EINVAL);
    assert_int_equal(cmee_session_list(st, buf, 4, &n), CMEE_OK);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(buf[i], ids[i]); /* oldest first */

    assert_int_equal(cmee_session_delete(st, "alpha"), CMEE_OK);
    assert_int_equal(cmee_session_delete(st, "alpha"), CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_store_errmsg(st), "alpha"));
    assert_int_equal(cmee_session_delete(st, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_session_delete(NULL, "zeta"), CMEE_EINVAL);
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_load(st, "alpha", NULL, &s, &err), CMEE_ENOTFOUND);
    assert_null(s);
    assert_int_equal(cmee_session_load(st, NULL, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "id");
    assert_int_equal(cmee_session_list(st, buf, 4, &n), CMEE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(buf[0], "zeta");
    assert_string_equal(buf[1], "mid-1");
    assert_string_equal(buf[2], "b_2");

    /* Every row of the deleted session went with it (ON DELETE CASCADE). */
    sqlite3 *db = raw_open(path);
    const char *tables[] = {"session_scenario", "session_position", "session_realised",
                            "session_order",    "session_option",   "session_ledger"};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE session = 'alpha'", tables[i]);
        assert_int_equal(raw_int(db, sql), 0);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE session = 'zeta'", tables[i]);
        if (strcmp(tables[i], "session_scenario") != 0)
            assert_true(raw_int(db, sql) > 0);
    }
    sqlite3_close(db);

    /* The others still load; the deleted id can be used again. */
    s = load(st, "mid-1");
    cmee_session_free(s);
    s = create(st, "alpha", true, NULL);
    cmee_session_free(s);
    assert_int_equal(cmee_session_list(st, buf, 4, &n), CMEE_OK);
    assert_string_equal(buf[3], "alpha");
    cmee_store_close(st);
    remove_store(path);
}

/* Damaged rows are refused, never believed. */
static void test_corrupt(void **state)
{
    (void)state;
    char path[128];
    cmee_store *st = open_store(path, sizeof path, 0);
    cmee_scenario *crash = preset("crash");
    const char *ids[5] = {"ledger", "order", "count", "session", "scenario"};
    for (int i = 0; i < 5; i++) {
        cmee_session *s = create(st, ids[i], true, crash);
        order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 1, 0);
        OK(s, cmee_session_step(s, HOUR_MS));
        order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 1, 0);
        cmee_session_free(s);
    }
    cmee_scenario_free(crash);
    sqlite3 *db = raw_open(path);
    /* The ledger is append-only: the schema refuses an update outright. */
    assert_int_not_equal(raw_exec(db, "UPDATE session_ledger SET amount = amount + 1 "
                                      "WHERE session = 'ledger' AND seq = 2"),
                         SQLITE_OK);
    assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
    /* Replacing the row with a different amount passes SQL but not the checksum. */
    assert_int_equal(raw_exec(db, "BEGIN;"
                                  "CREATE TEMP TABLE t AS SELECT * FROM session_ledger "
                                  "  WHERE session = 'ledger' AND seq = 2;"
                                  "DELETE FROM session_ledger WHERE session = 'ledger' AND seq = 2;"
                                  "INSERT INTO session_ledger SELECT session, seq, time, kind,"
                                  "  amount - 100000000, balance, ref, symbol, checksum FROM t;"
                                  "DROP TABLE t;"
                                  "COMMIT"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "UPDATE session_order SET price = 1.5 "
                                  "WHERE session = 'order' AND id = 1"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "DELETE FROM session_order WHERE session = 'count' AND id = 2"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "UPDATE session SET balance = balance + 1 WHERE id = 'session'"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "UPDATE session_scenario SET t0 = t0 + 60000 "
                                  "WHERE session = 'scenario'"),
                     SQLITE_OK);
    sqlite3_close(db);

    const char *want[5] = {"ledger entry 2", "order 1", "orders", "session row",
                           "scenario record 1"};
    for (int i = 0; i < 5; i++) {
        cmee_session *s = NULL;
        cmee_error err = {0};
        cmee_status r = cmee_session_load(st, ids[i], NULL, &s, &err);
        if (r != CMEE_ECORRUPT || !strstr(err.text, want[i])) {
            print_error("%s: %s: %s\n", ids[i], cmee_status_name(r), err.text);
            fail();
        }
        assert_null(s);
        assert_non_null(strstr(cmee_store_errmsg(st), ids[i]));
    }
    cmee_store_close(st);
    remove_store(path);
}

/* A write that fails (the store is locked by another connection past the busy timeout) fails
 * the call with CMEE_EBUSY and leaves the session at its last committed state. */
static void test_failed_write(void **state)
{
    (void)state;
    char path[128];
    cmee_store *st = open_store(path, sizeof path, 50);
    cmee_session *s = create(st, "busy", true, NULL);
    order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 0.2, 0);
    option(s, "EURUSD", CMEE_OPTION_PUT, 2 * MIN_MS);
    cmee_quote q;
    OK(s, cmee_session_quote(s, "ETHUSD", &q));
    cmee_order lim = order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 1, floor(q.ask * 0.99));
    static snap before, after;
    take(s, &before);

    sqlite3 *db = raw_open(path);
    assert_int_equal(raw_exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);

    /* Each kind of change fails whole. */
    cmee_order_request r;
    cmee_order_request_init(&r, "ETHUSD");
    r.quantity = 1;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_EBUSY);
    assert_non_null(strstr(cmee_session_errmsg(s), "locked"));
    take(s, &after);
    assert_snap_equal(&before, &after, true);
    assert_int_equal(cmee_session_step(s, HOUR_MS), CMEE_EBUSY); /* would settle the option */
    take(s, &after);
    assert_snap_equal(&before, &after, true);
    cmee_option_request o;
    cmee_option_request_init(&o, "BTCUSD");
    o.stake = 5 * SCALE;
    assert_int_equal(cmee_session_option(s, &o, NULL), CMEE_EBUSY);
    assert_int_equal(cmee_session_cancel_order(s, lim.id), CMEE_EBUSY);
    cmee_scenario *bear = preset("bear_trend");
    assert_int_equal(cmee_session_apply_scenario(s, bear, NULL), CMEE_EBUSY);
    take(s, &after);
    assert_snap_equal(&before, &after, true);

    /* The lock gone, the same calls succeed, and the store agrees with memory. */
    assert_int_equal(raw_exec(db, "ROLLBACK"), SQLITE_OK);
    sqlite3_close(db);
    OK(s, cmee_session_order(s, &r, NULL));
    OK(s, cmee_session_apply_scenario(s, bear, NULL));
    OK(s, cmee_session_step(s, HOUR_MS));
    OK(s, cmee_session_cancel_order(s, lim.id));
    take(s, &before);
    cmee_session *l = load(st, "busy");
    take(l, &after);
    assert_snap_equal(&before, &after, true);
    cmee_session_free(l);
    cmee_session_free(s);
    cmee_scenario_free(bear);
    cmee_store_close(st);
    remove_store(path);
}

/* The same with a running clock: the failed call is undone, the clock is not set back (it
 * never goes backward), and the next call catches up from the committed time. */
static void test_failed_write_running(void **state)
{
    (void)state;
    char path[128];
    cmee_store *st = open_store(path, sizeof path, 30);
    int64_t wall = 5000;
    cmee_session *s = create(st, "busy-running", false, NULL);
    cmee_session_set_wall_clock(s, fake_wall, &wall);
    OK(s, cmee_session_set_speed(s, 100));
    order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 1, 0);
    cmee_clock c0, c;
    OK(s, cmee_session_clock(s, &c0));
    static snap before, after;
    wall += 3000; /* five minutes of sim time, uncommitted */
    OK(s, cmee_session_clock(s, &c));
    int64_t shown = c.now;
    assert_int_equal(shown, c0.now + 300000);

    sqlite3 *db = raw_open(path);
    assert_int_equal(raw_exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    cmee_order_request r;
    cmee_order_request_init(&r, "BTCUSD");
    r.quantity = 0.1;
    assert_int_equal(cmee_session_order(s, &r, NULL), CMEE_EBUSY);
    OK(s, cmee_session_clock(s, &c));
    assert_int_equal(c.now, shown);              /* not set back */
    assert_int_equal(c.processed, c0.processed); /* but processed only as committed */
    assert_true(c.speed == 100 && !c.paused);
    assert_int_equal(cmee_session_set_speed(s, 7), CMEE_EBUSY);
    assert_int_equal(cmee_session_pause(s), CMEE_EBUSY);
    OK(s, cmee_session_clock(s, &c));
    assert_true(c.speed == 100 && !c.paused); /* both undone */
    size_t n;
    OK(s, cmee_session_orders(s, false, NULL, 0, &n));
    assert_int_equal(n, 1);
    assert_int_equal(raw_exec(db, "ROLLBACK"), SQLITE_OK);
    sqlite3_close(db);

    wall += 1000;
    cmee_order o;
    OK(s, cmee_session_order(s, &r, &o));
    assert_int_equal(o.created, shown + 100000);
    take(s, &before);
    cmee_session *l = load(st, "busy-running");
    take(l, &after);
    assert_snap_equal(&before, &after, false);
    OK(l, cmee_session_clock(l, &c));
    assert_true(c.now >= o.created);
    cmee_session_free(l);
    cmee_session_free(s);
    cmee_store_close(st);
    remove_store(path);
}

/* A file at schema version 1 (scenarios only) gains the session tables on open. */
static void test_migrate_from_v1(void **state)
{
    (void)state;
    char path[128];
    cmee_store *st = open_store(path, sizeof path, 0);
    cmee_scenario *calm = preset("calm");
    assert_int_equal(cmee_store_scenario_save(st, calm, CMEE_STORE_SAVE_ANY, NULL), CMEE_OK);
    cmee_store_close(st);
    sqlite3 *db = raw_open(path);
    assert_int_equal(raw_exec(db, "DROP TABLE session_action; DROP TABLE session_order_epoch;"
                                  "DROP TABLE session_option_epoch; DROP TABLE session_ledger_epoch;"
                                  "DROP TABLE session_ledger; DROP TABLE session_option;"
                                  "DROP TABLE session_order; DROP TABLE session_realised;"
                                  "DROP TABLE session_position; DROP TABLE session_scenario;"
                                  "DROP TABLE session; DROP TABLE market_event;"
                                  "PRAGMA user_version = 1"),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(cmee_store_open(path, NULL, NULL, &st, NULL), CMEE_OK);
    assert_int_equal(cmee_store_schema_version(st), CMEE_STORE_SCHEMA_VERSION);
    cmee_session *s = create(st, "after-migration", true, calm);
    cmee_session_free(s);
    s = load(st, "after-migration");
    cmee_session_free(s);
    cmee_scenario *back = NULL;
    assert_int_equal(cmee_store_scenario_load(st, "calm", 0, NULL, NULL, &back), CMEE_OK);
    cmee_scenario_free(back);
    cmee_scenario_free(calm);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
    remove_store(path);
}

/* Loading with an allocator that fails the Nth call, for every N: ENOMEM, nothing leaked, and
 * once enough memory is there the same session as with malloc. */
static void test_load_oom(void **state)
{
    (void)state;
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(":memory:", NULL, NULL, &st, NULL), CMEE_OK);
    cmee_scenario *calm = preset("calm");
    cmee_session *s = create(st, "oom", true, calm);
    cmee_scenario_free(calm);
    script_one(s);
    static snap before, after;
    take(s, &before);
    cmee_session_free(s);
    bool done = false;
    for (long n = 1; !done && n < 100000; n++) {
        chaos c = {.fail_at = n};
        cmee_allocator a = chaos_allocator(&c);
        cmee_session *l = NULL;
        cmee_error err;
        cmee_status r = cmee_session_load(st, "oom", &a, &l, &err);
        if (r == CMEE_OK) {
            take(l, &after);
            assert_snap_equal(&before, &after, true);
            cmee_session_free(l);
            done = c.calls < n; /* no call failed: every failure point was tried */
        } else {
            if (r != CMEE_ENOMEM)
                print_error("fail_at %ld: %s: %s\n", n, cmee_status_name(r), err.text);
            assert_int_equal(r, CMEE_ENOMEM);
            assert_null(l);
        }
        assert_int_equal(c.live, 0);
    }
    assert_true(done);
    cmee_store_close(st);
}

/* An in-memory store works like a file. */
static void test_memory_store(void **state)
{
    (void)state;
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(":memory:", NULL, NULL, &st, NULL), CMEE_OK);
    cmee_session *s = create(st, "mem", true, NULL);
    cmee_application_id a = script_one(s);
    (void)a;
    static snap before, after;
    take(s, &before);
    cmee_session_free(s);
    s = load(st, "mem");
    take(s, &after);
    assert_snap_equal(&before, &after, true);
    cmee_session_free(s);
    cmee_store_close(st);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-sstore-XXXXXX");
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
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_clock_continues),
        cmocka_unit_test(test_list_delete),     cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_failed_write),    cmocka_unit_test(test_failed_write_running),
        cmocka_unit_test(test_migrate_from_v1), cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_load_oom),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
