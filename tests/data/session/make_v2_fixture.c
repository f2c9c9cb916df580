/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Writes tests/data/session/v2_quote.sqlite: a store at schema version 2, as libcmee wrote it
 * before sessions had a fill model (they all filled with what is now CMEE_FILL_QUOTE).
 * tests/session/test_session_book.c loads it with the current library. Kept for the record;
 * not built. It was built against the library of commit 3d2466b:
 *
 *   cc -Iinclude -Ibuild/include make_v2_fixture.c -Lbuild -lcmee -o make_v2_fixture
 *   LD_LIBRARY_PATH=build ./make_v2_fixture v2_quote.sqlite
 *   sqlite3 v2_quote.sqlite 'PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM'
 *
 * Two sessions with the same configuration go through the same calls: "early" stops after
 * them; "late" then steps 12 more hours, filling and triggering orders on the way. Loading
 * "early" and stepping it 12 hours must give exactly "late": the quote model replayed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmee.h>

#define SCALE CMEE_MONEY_SCALE
#define MIN_MS INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)

static void check(cmee_session *s, cmee_status st, const char *what)
{
    if (st != CMEE_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, cmee_status_name(st),
                s ? cmee_session_errmsg(s) : "");
        exit(1);
    }
}

static void order(cmee_session *s, const char *sym, cmee_side side, cmee_order_type type,
                  double qty, double price, double sl, double tp)
{
    cmee_order_request r;
    cmee_order_request_init(&r, sym);
    r.side = side;
    r.type = type;
    r.quantity = qty;
    r.price = price;
    r.stop_loss = sl;
    r.take_profit = tp;
    check(s, cmee_session_order(s, &r, NULL), sym);
}

static cmee_session *script(cmee_store *st, const char *id)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.seed = 2026;
    c.start_time = INT64_C(1767225600000) + 9 * HOUR_MS; /* 2026-01-01 09:00 UTC */
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    c.spread_bps = 3;
    cmee_session *s = NULL;
    check(NULL, cmee_session_new(&c, st, NULL, &s, NULL), "new");
    cmee_quote b, e;
    check(s, cmee_session_quote(s, "BTCUSD", &b), "quote");
    check(s, cmee_session_quote(s, "ETHUSD", &e), "quote");
    order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 0.2, 0, floor(b.bid * 0.99),
          ceil(b.ask * 1.01));
    order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 2, floor(e.ask * 0.998), 0, 0);
    order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_STOP, 1, floor(e.bid * 0.995), 0, 0);
    order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 0.1, ceil(b.ask * 1.004), 0, 0);
    cmee_option_request o;
    cmee_option_request_init(&o, "EURUSD");
    o.stake = 50 * SCALE;
    o.duration = 90 * MIN_MS;
    check(s, cmee_session_option(s, &o, NULL), "option");
    check(s, cmee_session_step(s, 30 * MIN_MS), "step");
    order(s, "EURUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 1000, 0, 0, 0);
    cmee_scenario *sc = NULL;
    check(s, cmee_scenario_preset("volatility_spike", NULL, &sc, NULL), "preset");
    check(s, cmee_session_apply_scenario(s, sc, NULL), "scenario");
    cmee_scenario_free(sc);
    check(s, cmee_session_step(s, 2 * HOUR_MS), "step");
    /* Orders and an option left open, to fill and settle in the 12 hours after. */
    check(s, cmee_session_quote(s, "BTCUSD", &b), "quote");
    check(s, cmee_session_quote(s, "ETHUSD", &e), "quote");
    order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 0.3, floor(b.ask * 0.996),
          floor(b.ask * 0.98), ceil(b.ask * 1.004));
    order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_STOP, 3, ceil(e.ask * 1.004), 0, 0);
    order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_LIMIT, 1.5, ceil(e.bid * 1.008), 0, 0);
    o.kind = CMEE_OPTION_PUT;
    o.duration = 5 * HOUR_MS;
    check(s, cmee_session_option(s, &o, NULL), "option");
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    cmee_store *st = NULL;
    cmee_error err;
    if (cmee_store_open(argv[1], NULL, NULL, &st, &err) != CMEE_OK) {
        fprintf(stderr, "%s\n", err.text);
        return 1;
    }
    if (cmee_store_schema_version(st) != 2) {
        fprintf(stderr, "needs a libcmee of store schema version 2\n");
        return 1;
    }
    cmee_session_free(script(st, "early"));
    cmee_session *late = script(st, "late");
    check(late, cmee_session_step(late, 12 * HOUR_MS), "step");
    size_t n;
    check(late, cmee_session_orders(late, false, NULL, 0, &n), "orders");
    cmee_order os[32];
    check(late, cmee_session_orders(late, false, os, 32, &n), "orders");
    for (size_t i = 0; i < n; i++)
        printf("order %llu %s type %d state %d fill %.17g at %lld\n", (unsigned long long)os[i].id,
               os[i].symbol, (int)os[i].type, (int)os[i].state, os[i].fill_price,
               (long long)os[i].closed);
    cmee_session_free(late);
    cmee_store_close(st);
    return 0;
}
