/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What replay costs: a manual-clock session through the crash preset, leverage 10, with a
 * stored and an in-memory twin, N random actions (orders with stop-loss and take-profit,
 * limits, options, steps); then the time of cmee_session_replay() and of
 * cmee_session_replay_check() (median of 5), against the time the original calls took, the
 * commit cost of the action log (the same run with a file store), and the memory an action takes.
 * Prints figures; asserts nothing but that the replay is the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmee.h>

#include "bench_util.h"

#define MIN_MS INT64_C(60000)

static double rnd(uint64_t *x)
{
    *x = *x * 6364136223846793005u + 1442695040888963407u;
    return (double)(*x >> 11) / 9007199254740992.0;
}

static cmee_session *make(cmee_store *st, const char *id)
{
    cmee_scenario *crash = NULL;
    cmee_scenario_preset("crash", NULL, &crash, NULL);
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.seed = 5;
    c.start_time = INT64_C(1767225600000) + 9 * 3600000;
    c.manual_clock = true;
    c.initial_balance = 1000000 * CMEE_MONEY_SCALE;
    c.leverage = 10;
    c.scenario = crash;
    cmee_session *s = NULL;
    cmee_error err;
    if (cmee_session_new(&c, st, NULL, &s, &err) != CMEE_OK) {
        fprintf(stderr, "%s\n", err.text);
        exit(1);
    }
    cmee_scenario_free(crash);
    return s;
}

static void trade(cmee_session *s, int n)
{
    static const char *const syms[] = {"BTCUSD", "EURUSD", "XAUUSD", "TSLA"};
    uint64_t x = 42;
    for (int i = 0; i < n; i++) {
        const char *sym = syms[(size_t)(rnd(&x) * 4)];
        cmee_quote q;
        cmee_session_quote(s, sym, &q);
        double u = rnd(&x);
        if (u < 0.4) {
            cmee_order_request o;
            cmee_order_request_init(&o, sym);
            o.side = rnd(&x) < 0.5 ? CMEE_SIDE_BUY : CMEE_SIDE_SELL;
            o.quantity = 5000 / q.ask;
            bool buy = o.side == CMEE_SIDE_BUY;
            o.stop_loss = buy ? q.bid * 0.995 : q.ask * 1.005;
            o.take_profit = buy ? q.ask * 1.005 : q.bid * 0.995;
            cmee_session_order(s, &o, NULL);
        } else if (u < 0.55) {
            cmee_order_request o;
            cmee_order_request_init(&o, sym);
            o.type = CMEE_ORDER_LIMIT;
            o.side = rnd(&x) < 0.5 ? CMEE_SIDE_BUY : CMEE_SIDE_SELL;
            o.price = o.side == CMEE_SIDE_BUY ? q.bid * 0.998 : q.ask * 1.002;
            o.quantity = 2000 / q.ask;
            cmee_session_order(s, &o, NULL);
        } else if (u < 0.65) {
            cmee_option_request o;
            cmee_option_request_init(&o, sym);
            o.stake = 10 * CMEE_MONEY_SCALE;
            o.duration = 5 * MIN_MS;
            cmee_session_option(s, &o, NULL);
        } else {
            cmee_session_step(s, (int64_t)(rnd(&x) * 10 * MIN_MS) + 1000);
        }
    }
}

int main(void)
{
    static const int sizes[] = {1000, 5000};
    char dir[] = "/tmp/cmee_bench_replay_XXXXXX", path[96];
    if (!mkdtemp(dir))
        return 1;
    printf("%-8s %9s %11s %11s %11s %11s %12s %12s\n", "ops", "actions", "orig(ms)",
           "stored(ms)", "replay(ms)", "check(ms)", "us/action", "B/action");
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int n = sizes[k];
        cmee_session *s = make(NULL, "mem");
        double t0 = bench_now();
        trade(s, n);
        double orig = bench_now() - t0;
        snprintf(path, sizeof path, "%s/b%d.db", dir, n);
        cmee_store *st = NULL;
        if (cmee_store_open(path, NULL, NULL, &st, NULL) != CMEE_OK)
            return 1;
        cmee_session *d = make(st, "disk");
        t0 = bench_now();
        trade(d, n);
        double stored = bench_now() - t0;
        size_t nacts;
        cmee_session_actions(s, 0, NULL, 0, &nacts);
        double rep[5], chk[5];
        for (int r = 0; r < 5; r++) {
            cmee_session *x = NULL;
            cmee_error err;
            t0 = bench_now();
            if (cmee_session_replay(s, NULL, &x, &err) != CMEE_OK)
                return 1;
            rep[r] = bench_now() - t0;
            cmee_session_free(x);
            cmee_replay_result res;
            t0 = bench_now();
            if (cmee_session_replay_check(s, &res) != CMEE_OK || !res.same)
                return 1;
            chk[r] = bench_now() - t0;
        }
        double rm = bench_median(rep, 5), cm = bench_median(chk, 5);
        printf("%-8d %9zu %11.1f %11.1f %11.1f %11.1f %12.1f %12zu\n", n, nacts, orig * 1e3,
               stored * 1e3, rm * 1e3, cm * 1e3, rm * 1e6 / (double)nacts,
               sizeof(cmee_session_action));
        cmee_session_free(s);
        cmee_session_free(d);
        cmee_store_close(st);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
