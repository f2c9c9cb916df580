/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Writes tests/data/session/v3_book.sqlite: a store at schema version 3, as libcmee wrote it
 * before sessions had leverage and margin levels (every session was a cash account, leverage
 * 1). tests/session/test_margin.c loads it with the current library. Kept for the record; not
 * built. It was built against the library of commit 446e5df:
 *
 *   cc -Iinclude -Ibuild/include make_v3_fixture.c -Lbuild -lcmee -o make_v3_fixture
 *   LD_LIBRARY_PATH=build ./make_v3_fixture v3_book.sqlite
 *   sqlite3 v3_book.sqlite 'PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM'
 *
 * Two sessions with the same configuration (book fill model, the crash preset applied at the
 * start) go through the same calls: "early" stops after them; "late" then steps 12 more hours,
 * filling and triggering orders on the way. test_margin.c runs the same calls (its
 * v3_script()) on a new session of leverage 1 and checks that it is "early" record for record,
 * and that loading "early" and stepping it 12 hours gives exactly "late".
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
    cmee_scenario *crash = NULL;
    check(NULL, cmee_scenario_preset("crash", NULL, &crash, NULL), "preset");
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.seed = 2027;
    c.start_time = INT64_C(1767225600000) + 9 * HOUR_MS; /* 2026-01-01 09:00 UTC */
    c.manual_clock = true;
    c.initial_balance = 100000 * SCALE;
    c.scenario = crash;
    cmee_session *s = NULL;
    check(NULL, cmee_session_new(&c, st, NULL, &s, NULL), "new");
    cmee_scenario_free(crash);
    cmee_quote b, e;
    check(s, cmee_session_quote(s, "BTCUSD", &b), "quote");
    check(s, cmee_session_quote(s, "ETHUSD", &e), "quote");
    /* Most of the equity long BTC through the crash: far below half its margin in a leveraged
     * account, never liquidated in a cash one. */
    order(s, "BTCUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, floor(60000 / b.ask * 100) / 100, 0, 0,
          0);
    order(s, "ETHUSD", CMEE_SIDE_SELL, CMEE_ORDER_MARKET, 2, 0, 0, floor(e.bid * 0.9));
    order(s, "ETHUSD", CMEE_SIDE_BUY, CMEE_ORDER_LIMIT, 1, floor(e.ask * 0.97), 0, 0);
    cmee_option_request o;
    cmee_option_request_init(&o, "EURUSD");
    o.stake = 50 * SCALE;
    o.duration = 90 * MIN_MS;
    check(s, cmee_session_option(s, &o, NULL), "option");
    check(s, cmee_session_step(s, 3 * HOUR_MS), "step");
    check(s, cmee_session_quote(s, "BTCUSD", &b), "quote");
    order(s, "BTCUSD", CMEE_SIDE_SELL, CMEE_ORDER_STOP, 0.05, floor(b.bid * 0.97), 0, 0);
    order(s, "XAUUSD", CMEE_SIDE_BUY, CMEE_ORDER_MARKET, 2, 0, 0, 0);
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
    if (cmee_store_schema_version(st) != 3) {
        fprintf(stderr, "needs a libcmee of store schema version 3\n");
        return 1;
    }
    cmee_session_free(script(st, "early"));
    cmee_session *late = script(st, "late");
    check(late, cmee_session_step(late, 12 * HOUR_MS), "step");
    size_t n;
    cmee_order os[32];
    check(late, cmee_session_orders(late, false, os, 32, &n), "orders");
    for (size_t i = 0; i < n; i++)
        printf("order %llu %s type %d state %d fill %.17g at %lld\n", (unsigned long long)os[i].id,
               os[i].symbol, (int)os[i].type, (int)os[i].state, os[i].fill_price,
               (long long)os[i].closed);
    cmee_account a;
    check(late, cmee_session_account(late, &a), "account");
    printf("balance %.8f equity %.8f used %.8f\n", (double)a.balance / SCALE,
           (double)a.equity / SCALE, (double)a.used_margin / SCALE);
    cmee_session_free(late);
    cmee_store_close(st);
    return 0;
}
