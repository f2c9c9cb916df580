/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The driver: sessions advanced and their events, ticks and closed candles published. */
#include <string.h>

#include "cmee_test.h"

static const int64_t START = INT64_C(1767225600000) + 10 * HOUR_MS + 15 * 1000;

static cmee_session *manual(const char *id, uint64_t seed)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.seed = seed;
    c.start_time = START;
    c.manual_clock = true;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
    return s;
}

static void test_pump_publishes(void **state)
{
    (void)state;
    cmee_broadcaster *b = NULL;
    assert_int_equal(cmee_broadcaster_new(NULL, &b), CMEE_OK);
    cmee_driver *d = NULL;
    assert_int_equal(cmee_driver_new(b, NULL, &d), CMEE_OK);
    cmee_session *s1 = manual("alice", 1), *s2 = manual("bob", 2);
    const char *w1[] = {"BTCUSD", "EURUSD"};
    assert_int_equal(cmee_driver_add(d, s1, w1, 2), CMEE_OK);
    assert_int_equal(cmee_driver_add(d, s2, NULL, 0), CMEE_OK);
    assert_int_equal(cmee_driver_count(d), 2);
    const char *bad[] = {"NOPE"};
    assert_int_equal(cmee_driver_add(d, s1, bad, 1), CMEE_ENOTFOUND);

    cmee_subscriber_options opt;
    cmee_subscriber_options_init(&opt);
    opt.capacity = 4096;
    cmee_subscriber *all = NULL, *events = NULL;
    assert_int_equal(cmee_broadcaster_subscribe(b, "session.alice.*", &opt, &all), CMEE_OK);
    assert_int_equal(cmee_broadcaster_subscribe(b, "session.alice", &opt, &events), CMEE_OK);

    assert_int_equal(cmee_session_step(s1, 2 * MIN_MS), CMEE_OK);
    assert_int_equal(cmee_session_step(s2, 2 * MIN_MS), CMEE_OK);
    size_t failed = 9;
    assert_int_equal(cmee_driver_pump(d, &failed), CMEE_OK);
    assert_int_equal(failed, 0);

    static cmee_message msgs[4096];
    size_t n;
    assert_int_equal(cmee_subscriber_drain(all, msgs, 4096, 0, &n), CMEE_OK);
    /* Between START and START + 2 min: 120 ticks per symbol (60 a minute), and two closed
     * 1m candles per symbol (the minutes opening at 10:01 and 10:02 close at 10:02, 10:03?). */
    const cmee_market *m = cmee_session_market(s1);
    int ticks[2] = {0, 0}, candles[2] = {0, 0};
    int64_t last_tick = 0;
    for (size_t i = 0; i < n; i++) {
        int k = strcmp(msgs[i].symbol, "BTCUSD") == 0 ? 0 : 1;
        if (msgs[i].kind == CMEE_MSG_TICK) {
            ticks[k]++;
            assert_true(msgs[i].time > START && msgs[i].time <= START + 2 * MIN_MS);
            double p;
            assert_int_equal(cmee_market_price(m, msgs[i].symbol, msgs[i].time, &p), CMEE_OK);
            assert_true(p == msgs[i].tick.price);
            if (k == 0) {
                assert_true(msgs[i].time > last_tick);
                last_tick = msgs[i].time;
            }
        } else if (msgs[i].kind == CMEE_MSG_CANDLE) {
            candles[k]++;
            cmee_candle c;
            size_t got;
            assert_int_equal(cmee_market_candles(m, msgs[i].symbol, CMEE_TF_1M, msgs[i].candle.time,
                                                 msgs[i].candle.time + 1, &c, 1, &got),
                             CMEE_OK);
            assert_memory_equal(&c, &msgs[i].candle, sizeof c);
            assert_true(msgs[i].time <= START + 2 * MIN_MS);
            assert_true(msgs[i].time > START);
        }
    }
    assert_int_equal(ticks[0], 120);
    assert_int_equal(ticks[1], 120);
    assert_int_equal(candles[0], 2);
    assert_int_equal(candles[1], 2);
    /* The clock events of alice (not bob) arrive on "session.alice". */
    assert_int_equal(cmee_subscriber_drain(events, msgs, 4096, 0, &n), CMEE_OK);
    assert_true(n >= 1);
    assert_int_equal(msgs[0].kind, CMEE_MSG_EVENT);
    assert_string_equal(msgs[0].type, "clock_changed");
    for (size_t i = 0; i < n; i++)
        assert_string_equal(msgs[i].topic, "session.alice");
    /* A fill is published too. */
    cmee_order_request r;
    cmee_order_request_init(&r, "BTCUSD");
    r.quantity = 0.01;
    assert_int_equal(cmee_session_order(s1, &r, NULL), CMEE_OK);
    assert_int_equal(cmee_subscriber_next(events, &msgs[0], 0), CMEE_OK);
    assert_string_equal(msgs[0].type, "order_filled");
    assert_non_null(strstr(msgs[0].payload, "BTCUSD"));
    /* A second pump without time passing publishes nothing new. */
    assert_int_equal(cmee_driver_pump(d, NULL), CMEE_OK);
    assert_int_equal(cmee_subscriber_drain(all, msgs, 4096, 0, &n), CMEE_ENOTFOUND);
    /* A long jump publishes only the latest ticks and candles. */
    assert_int_equal(cmee_session_step(s1, 3 * HOUR_MS), CMEE_OK);
    assert_int_equal(cmee_driver_pump(d, NULL), CMEE_OK);
    assert_int_equal(cmee_subscriber_drain(all, msgs, 4096, 0, &n), CMEE_OK);
    int t = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        t += msgs[i].kind == CMEE_MSG_TICK;
        c += msgs[i].kind == CMEE_MSG_CANDLE;
    }
    assert_true(t <= 2 * CMEE_DRIVER_MAX_TICKS && t > 0);
    assert_int_equal(c, 2 * CMEE_DRIVER_MAX_CANDLES);
    assert_int_equal(cmee_driver_remove(d, s2), CMEE_OK);
    assert_int_equal(cmee_driver_remove(d, s2), CMEE_ENOTFOUND);
    cmee_subscriber_free(all);
    cmee_subscriber_free(events);
    cmee_driver_free(d);
    cmee_session_free(s1);
    cmee_session_free(s2);
    cmee_broadcaster_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pump_publishes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
