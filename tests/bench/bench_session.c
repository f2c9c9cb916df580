/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sessions at scale: 10,000 live sessions in one process, each advanced once a (simulated)
 * second by a driver — CPU per round, sessions advanced per second, the share of one core that
 * ticking all of them once a second takes, and memory per session; then persisted operations
 * per second on a file store. Medians; nothing is asserted.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmee.h>

#include "bench_util.h"

#define SESSIONS 10000
#define ROUNDS 9

static int64_t wall_ms;

static int64_t fake_wall(void *ud)
{
    (void)ud;
    return wall_ms;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void die(const char *what, cmee_status st)
{
    fprintf(stderr, "%s: %s\n", what, cmee_status_name(st));
    exit(1);
}

/* One round per simulated second: wall time moves 1 s, every session advances. */
static void rounds(const char *label, cmee_driver *d, size_t n)
{
    double cpu[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        wall_ms += 1000;
        double t = cpu_now();
        size_t failed;
        cmee_status st = cmee_driver_pump(d, &failed);
        cpu[r] = cpu_now() - t;
        if (st != CMEE_OK || failed)
            die("pump", st);
    }
    double med = bench_median(cpu, ROUNDS);
    printf("%-46s %8.2f ms CPU per round  %10.0f sessions/s  %5.1f %% of a core at 1 Hz\n",
           label, med * 1e3, (double)n / med, med * 100.0);
}

int main(void)
{
    printf("bench_session: %d sessions, medians of %d rounds (one round = every session "
           "advanced by one simulated second)\n",
           SESSIONS, ROUNDS);
    cmee_broadcaster *b = NULL;
    cmee_broadcaster_new(NULL, &b);
    cmee_subscriber *sub = NULL;
    cmee_subscriber_options opt;
    cmee_subscriber_options_init(&opt);
    opt.capacity = 1 << 16;
    cmee_broadcaster_subscribe(b, "session.*", &opt, &sub);
    cmee_driver *d = NULL;
    cmee_driver_new(b, NULL, &d);

    static cmee_session *ss[SESSIONS];
    size_t before = heap_bytes();
    for (int i = 0; i < SESSIONS; i++) {
        cmee_session_config c;
        cmee_session_config_init(&c);
        snprintf(c.id, sizeof c.id, "s%05d", i);
        c.seed = (uint64_t)i;
        c.start_time = INT64_C(1767225600000) + (int64_t)(i % 1440) * 60000;
        cmee_status st = cmee_session_new(&c, NULL, NULL, &ss[i], NULL);
        if (st != CMEE_OK)
            die("session", st);
        cmee_session_set_wall_clock(ss[i], fake_wall, NULL);
        cmee_driver_add(d, ss[i], NULL, 0);
    }
    size_t after = heap_bytes();
    printf("memory per session (heap, market of 27 symbols included): %.1f KiB\n",
           (double)(after - before) / SESSIONS / 1024.0);

    rounds("idle sessions", d, SESSIONS);

    /* Every session with an open limit order and a position with stop-loss and take-profit:
     * each advance scans the tick path for triggers. */
    for (int i = 0; i < SESSIONS; i++) {
        cmee_quote q;
        cmee_session_quote(ss[i], "BTCUSD", &q);
        cmee_order_request r;
        cmee_order_request_init(&r, "BTCUSD");
        r.quantity = 0.01;
        r.stop_loss = q.bid * 0.9;
        r.take_profit = q.ask * 1.1;
        cmee_status st = cmee_session_order(ss[i], &r, NULL);
        if (st != CMEE_OK)
            die("order", st);
        r.type = CMEE_ORDER_LIMIT;
        r.price = q.bid * 0.8;
        r.stop_loss = r.take_profit = 0;
        st = cmee_session_order(ss[i], &r, NULL);
        if (st != CMEE_OK)
            die("limit", st);
    }
    rounds("with an order and a protected position", d, SESSIONS);

    /* The same, each publishing its BTCUSD ticks and 1m candles to a subscriber. */
    const char *w[] = {"BTCUSD"};
    for (int i = 0; i < SESSIONS; i++)
        cmee_driver_add(d, ss[i], w, 1);
    static cmee_message msgs[1024];
    double cpu[ROUNDS];
    uint64_t delivered = 0;
    for (int r = 0; r < ROUNDS; r++) {
        wall_ms += 1000;
        double t = cpu_now();
        cmee_driver_pump(d, NULL);
        cpu[r] = cpu_now() - t;
        size_t n;
        while (cmee_subscriber_drain(sub, msgs, 1024, 0, &n) == CMEE_OK)
            delivered += n;
    }
    double med = bench_median(cpu, ROUNDS);
    printf("%-46s %8.2f ms CPU per round  %10.0f sessions/s  %5.1f %% of a core at 1 Hz\n",
           "... and publishing 1 symbol's ticks each", med * 1e3, SESSIONS / med, med * 100.0);
    printf("  messages published per round: %.0f\n", (double)delivered / ROUNDS);

    cmee_driver_free(d);
    for (int i = 0; i < SESSIONS; i++)
        cmee_session_free(ss[i]);

    /* Margin accounts (leverage 10) with the same order and protected position: each advance
     * also bounds the margin level over the minute with the 1m candle of the symbol held. */
    cmee_driver_new(b, NULL, &d);
    for (int i = 0; i < SESSIONS; i++) {
        cmee_session_config c;
        cmee_session_config_init(&c);
        snprintf(c.id, sizeof c.id, "m%05d", i);
        c.seed = (uint64_t)i;
        c.start_time = INT64_C(1767225600000) + (int64_t)(i % 1440) * 60000;
        c.leverage = 10;
        cmee_status st = cmee_session_new(&c, NULL, NULL, &ss[i], NULL);
        if (st != CMEE_OK)
            die("session", st);
        cmee_session_set_wall_clock(ss[i], fake_wall, NULL);
        cmee_driver_add(d, ss[i], NULL, 0);
        cmee_quote q;
        cmee_session_quote(ss[i], "BTCUSD", &q);
        cmee_order_request r;
        cmee_order_request_init(&r, "BTCUSD");
        r.quantity = 0.01;
        r.stop_loss = q.bid * 0.9;
        r.take_profit = q.ask * 1.1;
        if ((st = cmee_session_order(ss[i], &r, NULL)) != CMEE_OK)
            die("order", st);
        r.type = CMEE_ORDER_LIMIT;
        r.price = q.bid * 0.8;
        r.stop_loss = r.take_profit = 0;
        if ((st = cmee_session_order(ss[i], &r, NULL)) != CMEE_OK)
            die("limit", st);
    }
    rounds("... as margin accounts (leverage 10)", d, SESSIONS);
    cmee_driver_free(d);
    for (int i = 0; i < SESSIONS; i++)
        cmee_session_free(ss[i]);

    /* Market impact on (square root, 5-minute half-life), with the same order and protected
     * position: the market order's fill moves the session's own prices for 40 half-lives, and
     * the trigger scan's 1m candles over those minutes are folded from impacted ticks. */
    cmee_driver_new(b, NULL, &d);
    for (int i = 0; i < SESSIONS; i++) {
        cmee_session_config c;
        cmee_session_config_init(&c);
        snprintf(c.id, sizeof c.id, "i%05d", i);
        c.seed = (uint64_t)i;
        c.start_time = INT64_C(1767225600000) + (int64_t)(i % 1440) * 60000;
        c.impact.model = CMEE_IMPACT_SQRT;
        cmee_status st = cmee_session_new(&c, NULL, NULL, &ss[i], NULL);
        if (st != CMEE_OK)
            die("session", st);
        cmee_session_set_wall_clock(ss[i], fake_wall, NULL);
        cmee_driver_add(d, ss[i], NULL, 0);
        cmee_quote q;
        cmee_session_quote(ss[i], "BTCUSD", &q);
        cmee_order_request r;
        cmee_order_request_init(&r, "BTCUSD");
        r.quantity = 0.01;
        r.stop_loss = q.bid * 0.9;
        r.take_profit = q.ask * 1.1;
        if ((st = cmee_session_order(ss[i], &r, NULL)) != CMEE_OK)
            die("order", st);
        r.type = CMEE_ORDER_LIMIT;
        r.price = q.bid * 0.8;
        r.stop_loss = r.take_profit = 0;
        if ((st = cmee_session_order(ss[i], &r, NULL)) != CMEE_OK)
            die("limit", st);
    }
    rounds("... with market impact (sqrt, 5 min half-life)", d, SESSIONS);
    cmee_driver_free(d);
    /* One session's last 100 1m candles, 100 minutes after a market order: with impact they
     * are folded from the impacted ticks (the fill's impact lasts 200 minutes); without, they
     * are the market's candles. */
    {
        cmee_session *two[2] = {NULL, NULL};
        double tq[2][ROUNDS];
        for (int k = 0; k < 2; k++) {
            cmee_session_config c;
            cmee_session_config_init(&c);
            c.manual_clock = true;
            c.start_time = INT64_C(1767225600000);
            c.impact.model = k ? CMEE_IMPACT_SQRT : CMEE_IMPACT_NONE;
            cmee_session_new(&c, NULL, NULL, &two[k], NULL);
            cmee_order_request r;
            cmee_order_request_init(&r, "BTCUSD");
            r.quantity = 0.01;
            cmee_session_order(two[k], &r, NULL);
            cmee_session_step(two[k], 100 * 60000);
        }
        static cmee_candle cbuf[100];
        size_t n;
        for (int r = 0; r < ROUNDS; r++)
            for (int k = 0; k < 2; k++) {
                double t = cpu_now();
                for (int j = 0; j < 20; j++)
                    cmee_session_candles(two[k], "BTCUSD", CMEE_TF_1M, 100, cbuf, 100, &n);
                tq[k][r] = (cpu_now() - t) / 20;
            }
        printf("last 100 1m candles of a session: %.3f ms without impact, %.3f ms inside the "
               "impact's stretch\n",
               bench_median(tq[0], ROUNDS) * 1e3, bench_median(tq[1], ROUNDS) * 1e3);
        cmee_session_free(two[0]);
        cmee_session_free(two[1]);
    }
    for (int i = 0; i < SESSIONS; i++)
        cmee_session_free(ss[i]);
    cmee_subscriber_free(sub);
    cmee_broadcaster_free(b);

    /* Persisted operations per second: a manual-clock session on a file store, alternating a
     * market order, an option and a one-minute step; every call is one transaction. */
    char path[] = "/tmp/cmee-bench-session-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    cmee_store *store = NULL;
    cmee_status st = cmee_store_open(path, NULL, NULL, &store, NULL);
    if (st != CMEE_OK)
        die("store", st);
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.manual_clock = true;
    c.initial_balance = 1000000 * CMEE_MONEY_SCALE;
    cmee_session *s = NULL;
    st = cmee_session_new(&c, store, NULL, &s, NULL);
    if (st != CMEE_OK)
        die("stored session", st);
    double rates[5];
    for (int r = 0; r < 5; r++) {
        int ops = 600;
        double t = bench_now();
        for (int i = 0; i < ops; i++) {
            if (i % 3 == 0) {
                cmee_order_request o;
                cmee_order_request_init(&o, "ETHUSD");
                o.side = i % 2 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
                o.quantity = 0.1;
                st = cmee_session_order(s, &o, NULL);
            } else if (i % 3 == 1) {
                cmee_option_request o;
                cmee_option_request_init(&o, "EURUSD");
                o.stake = 10 * CMEE_MONEY_SCALE;
                st = cmee_session_option(s, &o, NULL);
            } else {
                st = cmee_session_step(s, 60000);
            }
            if (st != CMEE_OK)
                die(cmee_session_errmsg(s), st);
        }
        rates[r] = ops / (bench_now() - t);
    }
    printf("persisted session operations (file store, WAL): %.0f ops/s\n",
           bench_median(rates, 5));
    cmee_session_free(s);
    cmee_store_close(store);
    char side[sizeof path + 8];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return 0;
}
