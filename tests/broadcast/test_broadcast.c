/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The broadcaster: topic names, exact and prefix patterns, message fields, order, bounded queues
 * that drop the oldest (or the newest) with exact counts, the eventfd readable exactly while a
 * queue is not empty, timeouts, callbacks on their own thread, publishers on several threads,
 * slow subscribers that never hold a publisher up, churn while publishing, subscriber groups
 * (one fd and a ready list for many subscribers: exactness of the list and the fd, members
 * freed while listed, several publishers), bad arguments, and a failure of every allocation in
 * turn. White-box where it helps (the pattern table, the ready list). */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "cmee_test.h"
#include "broadcast/broadcast_int.h"

#define OUT_SENTINEL ((cmee_subscriber *)(uintptr_t)0x5e5e5e5e)

/* A broadcaster status equal to the expected one, printing both names and the errmsg. */
#define assert_bst(b, got, want) bst((b), (got), (want), __FILE__, __LINE__)

static void bst(const cmee_broadcaster *b, cmee_status got, cmee_status want, const char *file,
                int line)
{
    if (got != want) {
        char msg[CMEE__ERRMSG_MAX];
        cmee_broadcaster_errmsg_copy(b, msg, sizeof msg);
        print_error("status %s, expected %s; errmsg: %s\n", cmee_status_name(got),
                    cmee_status_name(want), msg);
        _fail(file, line);
    }
}

/* The broadcaster's message contains the text. */
#define assert_errmsg_has(b, text) errmsg_has((b), (text), __FILE__, __LINE__)

static void errmsg_has(const cmee_broadcaster *b, const char *text, const char *file, int line)
{
    char msg[CMEE__ERRMSG_MAX];
    cmee_broadcaster_errmsg_copy(b, msg, sizeof msg);
    if (!strstr(msg, text)) {
        print_error("errmsg \"%s\" lacks \"%s\"\n", msg, text);
        _fail(file, line);
    }
}

static cmee_broadcaster *make_b(void)
{
    cmee_broadcaster *b = NULL;
    assert_int_equal(cmee_broadcaster_new(NULL, &b), CMEE_OK);
    return b;
}

static cmee_subscriber *sub_cap(cmee_broadcaster *b, const char *pattern, size_t cap,
                                cmee_overflow ov)
{
    cmee_subscriber_options o;
    cmee_subscriber_options_init(&o);
    o.capacity = cap;
    o.overflow = ov;
    cmee_subscriber *s = NULL;
    assert_bst(b, cmee_broadcaster_subscribe(b, pattern, &o, &s), CMEE_OK);
    return s;
}

static cmee_subscriber *sub_of(cmee_broadcaster *b, const char *pattern)
{
    return sub_cap(b, pattern, 0, CMEE_OVERFLOW_DROP_OLDEST);
}

static cmee_tick tick_at(int64_t t, double price)
{
    return (cmee_tick){.time = t, .price = price, .volume = 1};
}

/* Every message waiting, without waiting; returns how many (up to cap). */
static size_t take_all(cmee_subscriber *s, cmee_message *out, size_t cap)
{
    size_t got = 0, n = 0;
    while (got < cap) {
        cmee_status st = cmee_subscriber_drain(s, out + got, cap - got, 0, &n);
        if (st == CMEE_ENOTFOUND)
            break;
        assert_int_equal(st, CMEE_OK);
        got += n;
    }
    return got;
}

static size_t count_waiting(cmee_subscriber *s)
{
    cmee_subscriber_stats st;
    assert_int_equal(cmee_subscriber_stats_get(s, &st), CMEE_OK);
    return st.queued;
}

static bool fd_readable(cmee_subscriber *s)
{
    struct pollfd p = {.fd = cmee_subscriber_fd(s), .events = POLLIN};
    int r = poll(&p, 1, 0);
    assert_true(r >= 0);
    return r == 1 && (p.revents & POLLIN);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* An allocator like cmee_test.h's chaos, but with atomic counters: callbacks free messages on
 * their own threads. */
typedef struct achaos {
    atomic_long live, calls;
    long fail_at;
} achaos;

static void *ac_malloc(void *ud, size_t size)
{
    achaos *c = ud;
    long n = atomic_fetch_add(&c->calls, 1) + 1;
    if (c->fail_at > 0 && n == c->fail_at)
        return NULL;
    void *p = malloc(size);
    if (p)
        atomic_fetch_add(&c->live, 1);
    return p;
}

static void *ac_realloc(void *ud, void *ptr, size_t size)
{
    achaos *c = ud;
    long n = atomic_fetch_add(&c->calls, 1) + 1;
    if (c->fail_at > 0 && n == c->fail_at)
        return NULL;
    void *p = realloc(ptr, size);
    if (p && !ptr)
        atomic_fetch_add(&c->live, 1);
    return p;
}

static void ac_free(void *ud, void *ptr)
{
    achaos *c = ud;
    if (ptr)
        atomic_fetch_sub(&c->live, 1);
    free(ptr);
}

/* ---- topics --------------------------------------------------------------------------- */

static void test_topics(void **state)
{
    (void)state;
    char buf[CMEE_TOPIC_MAX];
    assert_int_equal(cmee_topic_ticks(buf, sizeof buf, "BTCUSD"), CMEE_OK);
    assert_string_equal(buf, "ticks.BTCUSD");
    assert_int_equal(cmee_topic_candles(buf, sizeof buf, "BTCUSD", CMEE_TF_1M), CMEE_OK);
    assert_string_equal(buf, "candles.BTCUSD.1m");
    assert_int_equal(cmee_topic_candles(buf, sizeof buf, "EURUSD", CMEE_TF_4H), CMEE_OK);
    assert_string_equal(buf, "candles.EURUSD.4h");
    assert_int_equal(cmee_topic_candles(buf, sizeof buf, "BRK.B", CMEE_TF_15M), CMEE_OK);
    assert_string_equal(buf, "candles.BRK.B.15m");
    assert_int_equal(cmee_topic_session(buf, sizeof buf, "alice-1_x"), CMEE_OK);
    assert_string_equal(buf, "session.alice-1_x");
    /* The longest names fit in CMEE_TOPIC_MAX. */
    assert_int_equal(cmee_topic_candles(buf, sizeof buf, "ABCDEFGHIJKLMNO", CMEE_TF_15M),
                     CMEE_OK);
    char id[48];
    memset(id, 'a', 47);
    id[47] = '\0';
    assert_int_equal(cmee_topic_session(buf, sizeof buf, id), CMEE_OK);
    assert_int_equal(strlen(buf), 8 + 47);

    /* Exactly enough room, and one byte short: nothing written. */
    char small[13];
    assert_int_equal(cmee_topic_ticks(small, 13, "BTCUSD"), CMEE_OK);
    assert_string_equal(small, "ticks.BTCUSD");
    memset(small, 'Z', sizeof small);
    assert_int_equal(cmee_topic_ticks(small, 12, "BTCUSD"), CMEE_ENOSPACE);
    assert_int_equal(small[0], 'Z');
    assert_int_equal(cmee_topic_ticks(small, 0, "BTCUSD"), CMEE_ENOSPACE);

    assert_int_equal(cmee_topic_ticks(NULL, 10, "BTCUSD"), CMEE_EINVAL);
    assert_int_equal(cmee_topic_ticks(buf, sizeof buf, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_topic_ticks(buf, sizeof buf, ""), CMEE_EINVAL);
    assert_int_equal(cmee_topic_ticks(buf, sizeof buf, "btcusd"), CMEE_EINVAL);
    assert_int_equal(cmee_topic_ticks(buf, sizeof buf, "ABCDEFGHIJKLMNOP"), CMEE_EINVAL);
    assert_int_equal(cmee_topic_candles(buf, sizeof buf, "BTCUSD", (cmee_timeframe)2),
                     CMEE_EINVAL);
    assert_int_equal(cmee_topic_session(buf, sizeof buf, "a.b"), CMEE_EINVAL);
    assert_int_equal(cmee_topic_session(buf, sizeof buf, "a*"), CMEE_EINVAL);
    assert_int_equal(cmee_topic_session(buf, sizeof buf, ""), CMEE_EINVAL);
    char longid[49];
    memset(longid, 'a', 48);
    longid[48] = '\0';
    assert_int_equal(cmee_topic_session(buf, sizeof buf, longid), CMEE_EINVAL);

    assert_int_equal(cmee_sizeof_message(), sizeof(cmee_message));
}

/* ---- matching ------------------------------------------------------------------------- */

static void test_exact_and_prefix(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *exact = sub_of(b, "ticks.BTCUSD");
    cmee_subscriber *ticks = sub_of(b, "ticks.*");
    cmee_subscriber *btc_candles = sub_of(b, "candles.BTCUSD.*");
    cmee_subscriber *all = sub_of(b, "*");
    cmee_subscriber *sessions = sub_of(b, "session.*");
    cmee_subscriber *alice = sub_of(b, "session.alice");
    cmee_subscriber *bare = sub_of(b, "ticks");     /* a topic of its own, not a prefix */
    cmee_subscriber *tick_pfx = sub_of(b, "tick.*"); /* prefixes end at a '.' */
    cmee_subscriber *none = sub_of(b, NULL);
    cmee_subscriber *brk = sub_of(b, "candles.BRK.*");

    cmee_tick t = tick_at(1000, 1.5);
    cmee_candle c = {.time = 0, .open = 1, .high = 2, .low = 0.5, .close = 1.5, .volume = 3};
    assert_int_equal(cmee_broadcaster_publish_tick(b, "BTCUSD", &t), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "EURUSD", &t), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_candle(b, "BTCUSD", CMEE_TF_1M, &c), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_candle(b, "BTCUSD", CMEE_TF_1H, &c), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_candle(b, "EURUSD", CMEE_TF_1H, &c), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_candle(b, "BRK.B", CMEE_TF_1M, &c), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_event(b, "alice", 5, "order_filled", "{}"),
                     CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_event(b, "bob", 6, "clock_changed", NULL),
                     CMEE_OK);

    static cmee_message m[16];
    size_t n = take_all(exact, m, 16);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].topic, "ticks.BTCUSD");

    n = take_all(ticks, m, 16);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].topic, "ticks.BTCUSD");
    assert_string_equal(m[1].topic, "ticks.EURUSD");

    n = take_all(btc_candles, m, 16);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].topic, "candles.BTCUSD.1m");
    assert_string_equal(m[1].topic, "candles.BTCUSD.1h");

    n = take_all(all, m, 16);
    assert_int_equal(n, 8);
    const char *order[] = {"ticks.BTCUSD",     "ticks.EURUSD",      "candles.BTCUSD.1m",
                           "candles.BTCUSD.1h", "candles.EURUSD.1h", "candles.BRK.B.1m",
                           "session.alice",    "session.bob"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(m[i].topic, order[i]);

    n = take_all(sessions, m, 16);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].type, "order_filled");
    assert_string_equal(m[1].type, "clock_changed");
    assert_int_equal(take_all(alice, m, 16), 1);
    assert_int_equal(take_all(bare, m, 16), 0);
    assert_int_equal(take_all(tick_pfx, m, 16), 0);
    assert_int_equal(take_all(none, m, 16), 0);
    /* Plain string prefixes: a symbol with a dot spans two parts (documented). */
    assert_int_equal(take_all(brk, m, 16), 1);

    /* A subscriber whose patterns overlap gets one copy, through whichever matches first. */
    assert_int_equal(cmee_subscriber_add_pattern(exact, "ticks.*"), CMEE_OK);
    assert_int_equal(cmee_subscriber_add_pattern(exact, "*"), CMEE_OK);
    assert_int_equal(cmee_subscriber_add_pattern(none, "*"), CMEE_OK);
    assert_int_equal(cmee_subscriber_add_pattern(none, "ticks.BTCUSD"), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "BTCUSD", &t), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "XAUUSD", &t), CMEE_OK);
    assert_int_equal(take_all(exact, m, 16), 2);
    assert_int_equal(take_all(none, m, 16), 2);

    /* Patterns are added once and removed as spelled. */
    assert_bst(b, cmee_subscriber_add_pattern(exact, "ticks.*"), CMEE_EEXIST);
    assert_errmsg_has(b, "already followed");
    assert_bst(b, cmee_subscriber_remove_pattern(exact, "ticks.E*"), CMEE_ENOTFOUND);
    assert_errmsg_has(b, "not followed");
    assert_int_equal(cmee_subscriber_remove_pattern(exact, "*"), CMEE_OK);
    assert_int_equal(cmee_subscriber_remove_pattern(exact, "ticks.*"), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "XAUUSD", &t), CMEE_OK);
    assert_int_equal(take_all(exact, m, 16), 0);
    assert_int_equal(cmee_subscriber_remove_pattern(exact, "ticks.BTCUSD"), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "BTCUSD", &t), CMEE_OK);
    assert_int_equal(take_all(exact, m, 16), 0);
    /* Removing a pattern keeps what was queued. */
    assert_int_equal(count_waiting(ticks), 4);
    assert_int_equal(cmee_subscriber_remove_pattern(ticks, "ticks.*"), CMEE_OK);
    assert_int_equal(count_waiting(ticks), 4);

    cmee_broadcaster_free(b);
}

/* Patterns no longer followed leave the table; the table grows and still finds everything. */
static void test_table(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    enum { N = 300 };
    cmee_subscriber *subs[N];
    char topic[CMEE_TOPIC_MAX];
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof topic, "t.s%d", i);
        subs[i] = sub_cap(b, topic, 4, CMEE_OVERFLOW_DROP_OLDEST);
        /* Every other one also shares a pattern. */
        if (i % 2)
            assert_int_equal(cmee_subscriber_add_pattern(subs[i], "t.*"), CMEE_OK);
    }
    assert_int_equal(b->nnodes, N + 1);
    assert_true(b->nbuckets >= N);
    cmee_message m;
    for (int i = 0; i < N; i++) {
        m = (cmee_message){.kind = CMEE_MSG_EVENT};
        snprintf(m.topic, sizeof m.topic, "t.s%d", i);
        strcpy(m.type, "x");
        assert_int_equal(cmee_broadcaster_publish(b, &m), CMEE_OK);
    }
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof topic, "t.s%d", i);
        size_t want = i % 2 ? 4 : 1; /* "t.*" brought them all; capacity 4 kept the last */
        assert_int_equal(count_waiting(subs[i]), want);
        assert_int_equal(cmee_subscriber_next(subs[i], &m, 0), CMEE_OK);
        if (i % 2 == 0)
            assert_string_equal(m.topic, topic);
    }
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof topic, "t.s%d", i);
        assert_int_equal(cmee_subscriber_remove_pattern(subs[i], topic), CMEE_OK);
    }
    assert_int_equal(b->nnodes, 1);
    for (int i = 0; i < N; i++)
        cmee_subscriber_free(subs[i]);
    assert_int_equal(b->nnodes, 0);
    assert_null(b->subs);
    cmee_broadcaster_free(b);
}

/* ---- messages ------------------------------------------------------------------------- */

static void test_message_fields(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_of(b, "*");
    cmee_tick t = {.time = 1735689600123, .price = 101.25, .volume = 7};
    cmee_candle c = {.time = 1735689600000, .open = 1, .high = 3, .low = 0.5, .close = 2,
                     .volume = 40};
    const char *json = "{\"order\":7,\"price\":101.25}";
    assert_int_equal(cmee_broadcaster_publish_tick(b, "BTCUSD", &t), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_candle(b, "ETHUSD", CMEE_TF_5M, &c), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_event(b, "s1", 42, "order_filled", json), CMEE_OK);

    cmee_message m;
    memset(&m, 0x55, sizeof m);
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_int_equal(m.kind, CMEE_MSG_TICK);
    assert_string_equal(m.topic, "ticks.BTCUSD");
    assert_string_equal(m.symbol, "BTCUSD");
    assert_int_equal(m.time, t.time);
    assert_memory_equal(&m.tick, &t, sizeof t);
    assert_int_equal(m.timeframe, 0);
    assert_string_equal(m.type, "");
    assert_int_equal(m.payload_len, 0);
    assert_string_equal(m.payload, "");
    assert_int_equal(m.seq, 1);
    assert_int_equal(m.dropped, 0);
    int64_t pub1 = m.published_ns;
    assert_true(pub1 > 0);

    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_int_equal(m.kind, CMEE_MSG_CANDLE);
    assert_string_equal(m.topic, "candles.ETHUSD.5m");
    assert_string_equal(m.symbol, "ETHUSD");
    assert_int_equal(m.timeframe, CMEE_TF_5M);
    assert_int_equal(m.time, c.time + 5 * MIN_MS); /* the instant it closed */
    assert_candle_equal(m.candle, c);
    assert_int_equal(m.seq, 2);
    assert_true(m.published_ns >= pub1);

    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_int_equal(m.kind, CMEE_MSG_EVENT);
    assert_string_equal(m.topic, "session.s1");
    assert_string_equal(m.symbol, "");
    assert_int_equal(m.time, 42);
    assert_string_equal(m.type, "order_filled");
    assert_int_equal(m.payload_len, strlen(json));
    assert_string_equal(m.payload, json);
    assert_int_equal(m.seq, 3);

    /* The generic form: any valid topic; only the kind's fields are read. */
    cmee_message in;
    memset(&in, 0x77, sizeof in);
    strcpy(in.topic, "admin:ops.note");
    in.kind = CMEE_MSG_EVENT;
    in.time = -5;
    strcpy(in.type, "note.v1");
    memcpy(in.payload, "[1,2,3]", 7); /* no NUL needed after payload_len bytes */
    in.payload_len = 7;
    assert_int_equal(cmee_broadcaster_publish(b, &in), CMEE_OK);
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_string_equal(m.topic, "admin:ops.note");
    assert_int_equal(m.time, -5);
    assert_string_equal(m.payload, "[1,2,3]");
    assert_int_equal(m.payload_len, 7);
    assert_string_equal(m.symbol, "");
    assert_int_equal(m.tick.price, 0);

    /* The largest payload travels whole. */
    char big[CMEE_PAYLOAD_MAX + 1];
    memset(big, 'x', CMEE_PAYLOAD_MAX);
    big[CMEE_PAYLOAD_MAX] = '\0';
    assert_int_equal(cmee_broadcaster_publish_event(b, "s1", 1, "big", big), CMEE_OK);
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_int_equal(m.payload_len, CMEE_PAYLOAD_MAX);
    assert_string_equal(m.payload, big);

    /* Out-parameters untouched when there is nothing. */
    memset(&m, 0x55, sizeof m);
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_ENOTFOUND);
    assert_int_equal((unsigned char)m.topic[0], 0x55);
    cmee_broadcaster_free(b);
}

static void test_order(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_cap(b, "ticks.*", 2000, CMEE_OVERFLOW_DROP_OLDEST);
    cmee_subscriber *one = sub_of(b, "ticks.A");
    for (int i = 0; i < 1500; i++) {
        cmee_tick t = tick_at(i, 100 + i);
        assert_int_equal(cmee_broadcaster_publish_tick(b, i % 3 ? "B" : "A", &t), CMEE_OK);
    }
    cmee_message *m = malloc(1500 * sizeof *m);
    assert_non_null(m);
    /* Mixed batch sizes, including one past the internal chunk. */
    size_t got = 0, n;
    size_t sizes[] = {1, 7, 64, 65, 200, 1};
    for (size_t k = 0; got < 1500; k++) {
        assert_int_equal(cmee_subscriber_drain(s, m + got, sizes[k % 6], 0, &n), CMEE_OK);
        assert_int_equal(n, sizes[k % 6] < 1500 - got ? sizes[k % 6] : 1500 - got);
        got += n;
    }
    for (int i = 0; i < 1500; i++) {
        assert_int_equal(m[i].tick.time, i);
        assert_int_equal(m[i].seq, (uint64_t)i + 1);
    }
    assert_int_equal(cmee_subscriber_drain(s, m, 10, 0, &n), CMEE_ENOTFOUND);
    size_t k = take_all(one, m, 1500);
    assert_int_equal(k, 500); /* every third tick, all within the default capacity */
    for (size_t i = 0; i < k; i++)
        assert_int_equal(m[i].tick.time, (int64_t)(3 * i));
    free(m);
    cmee_broadcaster_free(b);
}

/* ---- overflow ------------------------------------------------------------------------- */

static void test_overflow_oldest(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_cap(b, "ticks.X", 8, CMEE_OVERFLOW_DROP_OLDEST);
    cmee_subscriber *big = sub_cap(b, "ticks.X", 100, CMEE_OVERFLOW_DROP_OLDEST);
    for (int i = 1; i <= 20; i++) {
        cmee_tick t = tick_at(i, i);
        assert_int_equal(cmee_broadcaster_publish_tick(b, "X", &t), CMEE_OK);
        assert_int_equal(cmee_subscriber_dropped(s), i > 8 ? (uint64_t)(i - 8) : 0);
    }
    cmee_subscriber_stats st;
    assert_int_equal(cmee_subscriber_stats_get(s, &st), CMEE_OK);
    assert_int_equal(st.queued, 8);
    assert_int_equal(st.capacity, 8);
    assert_int_equal(st.dropped, 12);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.patterns, 1);

    cmee_message m[32];
    size_t n = take_all(s, m, 32);
    assert_int_equal(n, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(m[i].tick.time, 13 + i); /* the newest eight */
        assert_int_equal(m[i].dropped, 12);
    }
    assert_int_equal(take_all(big, m, 32), 20);
    assert_int_equal(cmee_subscriber_dropped(big), 0);

    /* It goes on counting from there. */
    for (int i = 21; i <= 30; i++) {
        cmee_tick t = tick_at(i, i);
        assert_int_equal(cmee_broadcaster_publish_tick(b, "X", &t), CMEE_OK);
    }
    assert_int_equal(cmee_subscriber_next(s, &m[0], 0), CMEE_OK);
    assert_int_equal(m[0].tick.time, 23);
    assert_int_equal(m[0].dropped, 14);
    assert_int_equal(cmee_subscriber_stats_get(s, &st), CMEE_OK);
    assert_int_equal(st.delivered, 9);
    assert_int_equal(st.queued, 7);
    /* Per subscriber: arrivals = delivered + dropped + waiting. */
    assert_int_equal(st.delivered + st.dropped + st.queued, 30);

    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(b, &bs), CMEE_OK);
    assert_int_equal(bs.published, 30);
    assert_int_equal(bs.queued, 60);
    assert_int_equal(bs.dropped, 14);
    assert_int_equal(bs.delivered, 9 + 20);
    assert_int_equal(bs.subscribers, 2);

    /* Capacity 1: always the latest. */
    cmee_subscriber *one = sub_cap(b, "ticks.X", 1, CMEE_OVERFLOW_DROP_OLDEST);
    for (int i = 0; i < 5; i++) {
        cmee_tick t = tick_at(100 + i, 1);
        assert_int_equal(cmee_broadcaster_publish_tick(b, "X", &t), CMEE_OK);
    }
    assert_int_equal(cmee_subscriber_next(one, &m[0], 0), CMEE_OK);
    assert_int_equal(m[0].tick.time, 104);
    assert_int_equal(m[0].dropped, 4);

    /* Totals keep what freed subscribers counted. */
    cmee_subscriber_free(s);
    assert_int_equal(cmee_broadcaster_stats(b, &bs), CMEE_OK);
    assert_int_equal(bs.published, 35);
    /* s: 7 waiting + 5 more in 8 places loses 4 more; one: 4. */
    assert_int_equal(bs.dropped, 14 + 4 + 4);
    assert_int_equal(bs.subscribers, 2);
    cmee_broadcaster_free(b);
}

static void test_overflow_newest(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_cap(b, "ticks.X", 8, CMEE_OVERFLOW_DROP_NEWEST);
    for (int i = 1; i <= 20; i++) {
        cmee_tick t = tick_at(i, i);
        assert_int_equal(cmee_broadcaster_publish_tick(b, "X", &t), CMEE_OK);
    }
    assert_int_equal(cmee_subscriber_dropped(s), 12);
    cmee_message m[32];
    size_t n = take_all(s, m, 32);
    assert_int_equal(n, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(m[i].tick.time, 1 + i); /* the first eight */
    cmee_tick t = tick_at(21, 21);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "X", &t), CMEE_OK);
    assert_int_equal(cmee_subscriber_next(s, &m[0], 0), CMEE_OK);
    assert_int_equal(m[0].tick.time, 21);
    assert_int_equal(m[0].dropped, 12);
    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(b, &bs), CMEE_OK);
    assert_int_equal(bs.queued, 9);
    assert_int_equal(bs.dropped, 12);
    assert_int_equal(bs.delivered, 9);
    cmee_broadcaster_free(b);
}

/* ---- the file descriptor and waiting -------------------------------------------------- */

static void test_fd(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_cap(b, "ticks.*", 3, CMEE_OVERFLOW_DROP_OLDEST);
    int fd = cmee_subscriber_fd(s);
    assert_true(fd >= 0);
    assert_false(fd_readable(s));
    cmee_tick t = tick_at(1, 1);
    cmee_message m;
    size_t n;

    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_true(fd_readable(s));
    assert_true(fd_readable(s)); /* level: polling does not clear it */
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_false(fd_readable(s));

    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "B", &t), CMEE_OK);
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_true(fd_readable(s)); /* one still waiting */
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_OK);
    assert_false(fd_readable(s));

    /* Through overflow it stays readable; a drain empties and clears it. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_true(fd_readable(s));
    cmee_message ms[8];
    assert_int_equal(cmee_subscriber_drain(s, ms, 2, 0, &n), CMEE_OK);
    assert_int_equal(n, 2);
    assert_true(fd_readable(s));
    assert_int_equal(cmee_subscriber_drain(s, ms, 8, 0, &n), CMEE_OK);
    assert_int_equal(n, 1);
    assert_false(fd_readable(s));
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_ENOTFOUND);
    assert_false(fd_readable(s));

    /* A message nobody follows does not wake anyone. */
    assert_int_equal(cmee_broadcaster_publish_event(b, "x", 1, "y", "{}"), CMEE_OK);
    assert_false(fd_readable(s));

    /* Every subscriber has its own descriptor. */
    cmee_subscriber *s2 = sub_of(b, "ticks.A");
    assert_int_not_equal(cmee_subscriber_fd(s2), fd);
    assert_int_equal(cmee_subscriber_fd(NULL), -1);
    cmee_broadcaster_free(b);
}

static void test_timeout(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_of(b, "ticks.*");
    cmee_message m;
    size_t n;

    double t0 = now_s();
    assert_int_equal(cmee_subscriber_next(s, &m, 0), CMEE_ENOTFOUND);
    assert_int_equal(cmee_subscriber_next(s, &m, 60), CMEE_ENOTFOUND);
    double waited = now_s() - t0;
    assert_true(waited >= 0.060);
    assert_true(waited < 30.0);

    t0 = now_s();
    assert_int_equal(cmee_subscriber_drain(s, &m, 1, 25, &n), CMEE_ENOTFOUND);
    assert_true(now_s() - t0 >= 0.025);

    /* A message already there returns at once, whatever the timeout. */
    cmee_tick t = tick_at(9, 9);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_int_equal(cmee_subscriber_next(s, &m, -1), CMEE_OK);
    assert_int_equal(m.tick.time, 9);
    cmee_broadcaster_free(b);
}

typedef struct later {
    cmee_broadcaster *b;
    int delay_ms;
    int count;
} later;

static void *publish_later(void *arg)
{
    later *l = arg;
    sleep_ms(l->delay_ms);
    for (int i = 0; i < l->count; i++) {
        cmee_tick t = tick_at(1000 + i, 1);
        if (cmee_broadcaster_publish_tick(l->b, "A", &t) != CMEE_OK)
            abort();
    }
    return NULL;
}

/* A waiting receive wakes up when a message arrives on another thread. */
static void test_wait_wakes(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber *s = sub_of(b, "ticks.*");
    later l = {b, 30, 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_later, &l), 0);
    cmee_message m;
    assert_int_equal(cmee_subscriber_next(s, &m, -1), CMEE_OK);
    assert_int_equal(m.tick.time, 1000);
    pthread_join(th, NULL);

    l = (later){b, 20, 3};
    assert_int_equal(pthread_create(&th, NULL, publish_later, &l), 0);
    assert_int_equal(cmee_subscriber_next(s, &m, 20000), CMEE_OK);
    pthread_join(th, NULL);
    cmee_broadcaster_free(b);
}

/* ---- callbacks ------------------------------------------------------------------------ */

typedef struct cbstate {
    cmee_broadcaster *b;
    atomic_long count;
    atomic_long last_time;
    atomic_int bad_order;
    int sleep_ms;
    bool republish; /* publish each tick again as an event */
    cmee_subscriber *self;
} cbstate;

static void on_msg(const cmee_message *m, void *ud)
{
    cbstate *c = ud;
    if (m->kind == CMEE_MSG_TICK) {
        if (m->tick.time <= atomic_load(&c->last_time))
            atomic_store(&c->bad_order, 1);
        atomic_store(&c->last_time, m->tick.time);
    }
    if (c->sleep_ms)
        sleep_ms(c->sleep_ms);
    if (c->republish && m->kind == CMEE_MSG_TICK) {
        char json[64];
        snprintf(json, sizeof json, "{\"t\":%lld}", (long long)m->tick.time);
        if (cmee_broadcaster_publish_event(c->b, "echo", m->time, "echo", json) != CMEE_OK)
            abort();
    }
    if (c->self) /* must be refused, not deadlock */
        cmee_subscriber_free(c->self);
    atomic_fetch_add(&c->count, 1);
}

static void wait_count(atomic_long *v, long want)
{
    for (int i = 0; i < 20000 && atomic_load(v) < want; i++)
        sleep_ms(1);
    assert_int_equal(atomic_load(v), want);
}

static void test_callback(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cbstate c = {.b = b, .republish = true};
    atomic_init(&c.count, 0);
    atomic_init(&c.last_time, -1);
    atomic_init(&c.bad_order, 0);
    cmee_subscriber_options o = {.capacity = 5000, .callback = on_msg, .ud = &c};
    cmee_subscriber *s = NULL;
    assert_int_equal(cmee_broadcaster_subscribe(b, "ticks.*", &o, &s), CMEE_OK);
    cmee_subscriber *echo = sub_cap(b, "session.echo", 5000, CMEE_OVERFLOW_DROP_OLDEST);
    assert_int_equal(cmee_subscriber_fd(s), -1);
    cmee_message m;
    size_t n;
    assert_bst(b, cmee_subscriber_next(s, &m, 0), CMEE_ESTATE);
    assert_errmsg_has(b, "callback");
    assert_bst(b, cmee_subscriber_drain(s, &m, 1, 0, &n), CMEE_ESTATE);

    for (int i = 0; i < 3000; i++) {
        cmee_tick t = tick_at(i, 1);
        assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    }
    wait_count(&c.count, 3000);
    assert_int_equal(atomic_load(&c.bad_order), 0);
    /* What the callback published arrived, in order. */
    static cmee_message got[3000];
    assert_int_equal(take_all(echo, got, 3000), 3000);
    for (int i = 0; i < 3000; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"t\":%d}", i);
        assert_string_equal(got[i].payload, json);
    }
    cmee_subscriber_stats st;
    assert_int_equal(cmee_subscriber_stats_get(s, &st), CMEE_OK);
    assert_int_equal(st.delivered, 3000);
    assert_int_equal(st.dropped, 0);
    cmee_subscriber_free(s);
    cmee_broadcaster_free(b);
}

/* A slow callback fills its own queue and drops; the publisher never waits for it. */
static void test_callback_slow(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cbstate c = {.b = b, .sleep_ms = 2};
    atomic_init(&c.count, 0);
    atomic_init(&c.last_time, -1);
    atomic_init(&c.bad_order, 0);
    cmee_subscriber_options o = {.capacity = 4, .callback = on_msg, .ud = &c};
    cmee_subscriber *s = NULL;
    assert_int_equal(cmee_broadcaster_subscribe(b, "ticks.*", &o, &s), CMEE_OK);
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        cmee_tick t = tick_at(i, 1);
        assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    }
    /* Publishing N took far less than N sleeps of the callback: it never waited for it. */
    assert_true(atomic_load(&c.count) < N / 2);
    assert_true(cmee_subscriber_dropped(s) > 0);
    /* The callback still sees a rising sequence; in the end everything is accounted for. */
    cmee_subscriber_stats st;
    for (int i = 0; i < 20000; i++) {
        assert_int_equal(cmee_subscriber_stats_get(s, &st), CMEE_OK);
        if (st.queued == 0 && (long)st.delivered == atomic_load(&c.count))
            break;
        sleep_ms(1);
    }
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.delivered + st.dropped, N);
    assert_int_equal(atomic_load(&c.bad_order), 0);
    assert_int_equal(atomic_load(&c.last_time), N - 1); /* drop-oldest: the latest got there */
    cmee_broadcaster_free(b); /* stops and joins the delivery thread */
}

/* A callback freeing its own subscriber is refused (it would wait for itself). */
static void test_callback_self_free(void **state)
{
    (void)state;
    achaos ac = {0};
    cmee_allocator a = {ac_malloc, ac_realloc, ac_free, &ac};
    cmee_broadcaster *b = NULL;
    assert_int_equal(cmee_broadcaster_new(&a, &b), CMEE_OK);
    cbstate c = {.b = b};
    atomic_init(&c.count, 0);
    atomic_init(&c.last_time, -1);
    atomic_init(&c.bad_order, 0);
    cmee_subscriber_options o = {.callback = on_msg, .ud = &c};
    cmee_subscriber *s = NULL;
    assert_int_equal(cmee_broadcaster_subscribe(b, "ticks.*", &o, &s), CMEE_OK);
    c.self = s;
    cmee_tick t = tick_at(1, 1);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    wait_count(&c.count, 1);
    assert_errmsg_has(b, "own callback");
    /* Queued messages and live callback subscribers go with the broadcaster. */
    for (int i = 0; i < 50; i++)
        assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    cmee_broadcaster_free(b);
    assert_int_equal(atomic_load(&ac.live), 0);
}

/* ---- several threads ------------------------------------------------------------------ */

enum { MT_PUB = 4, MT_N = 5000, MT_SUBS = 50, MT_CONS = 4 };

typedef struct mt {
    cmee_broadcaster *b;
    cmee_subscriber *subs[MT_SUBS];
    long got[MT_SUBS][MT_PUB];   /* messages from each publisher, per subscriber */
    int64_t last[MT_SUBS][MT_PUB];
    atomic_int errors;
    atomic_int done_publishers;
} mt;

typedef struct mt_arg {
    mt *m;
    int id;
} mt_arg;

static void *mt_publisher(void *arg)
{
    mt_arg *a = arg;
    char sym[8];
    snprintf(sym, sizeof sym, "P%d", a->id);
    for (int i = 0; i < MT_N; i++) {
        cmee_tick t = {.time = i, .price = 1, .volume = a->id};
        if (cmee_broadcaster_publish_tick(a->m->b, sym, &t) != CMEE_OK)
            atomic_fetch_add(&a->m->errors, 1);
    }
    atomic_fetch_add(&a->m->done_publishers, 1);
    return NULL;
}

/* A consumer owns subscribers id, id + MT_CONS, ... and polls their fds like an event loop. */
static void *mt_consumer(void *arg)
{
    mt_arg *a = arg;
    mt *m = a->m;
    struct pollfd pf[MT_SUBS];
    int idx[MT_SUBS], np = 0;
    for (int s = a->id; s < MT_SUBS; s += MT_CONS) {
        pf[np] = (struct pollfd){.fd = cmee_subscriber_fd(m->subs[s]), .events = POLLIN};
        idx[np++] = s;
    }
    cmee_message *buf = malloc(32 * sizeof *buf);
    long want = (long)MT_PUB * MT_N * np, have = 0;
    while (have < want) {
        int r = poll(pf, (nfds_t)np, 5000);
        if (r <= 0) {
            atomic_fetch_add(&m->errors, 1000000); /* stalled */
            break;
        }
        for (int k = 0; k < np; k++) {
            if (!(pf[k].revents & POLLIN))
                continue;
            int s = idx[k];
            size_t n;
            if (cmee_subscriber_drain(m->subs[s], buf, 32, 0, &n) != CMEE_OK) {
                atomic_fetch_add(&m->errors, 1);
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                int p = (int)buf[i].tick.volume;
                if (p < 0 || p >= MT_PUB || buf[i].tick.time != m->last[s][p] + 1)
                    atomic_fetch_add(&m->errors, 1);
                else
                    m->last[s][p] = buf[i].tick.time;
                m->got[s][p]++;
            }
            have += (long)n;
        }
    }
    free(buf);
    return NULL;
}

static void test_mt_publishers(void **state)
{
    (void)state;
    mt *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->b = make_b();
    atomic_init(&m->errors, 0);
    atomic_init(&m->done_publishers, 0);
    for (int s = 0; s < MT_SUBS; s++) {
        /* Different patterns, each matching every publisher; capacity holds everything. */
        m->subs[s] = sub_cap(m->b, s % 3 == 0 ? "*" : "ticks.*", MT_PUB * MT_N,
                             CMEE_OVERFLOW_DROP_OLDEST);
        if (s % 5 == 0)
            assert_int_equal(cmee_subscriber_add_pattern(m->subs[s], "ticks.P1"), CMEE_OK);
        for (int p = 0; p < MT_PUB; p++)
            m->last[s][p] = -1;
    }
    /* A subscriber nobody reads and a slow callback: both just drop. */
    cmee_subscriber *stuck = sub_cap(m->b, "ticks.*", 16, CMEE_OVERFLOW_DROP_OLDEST);
    cbstate c = {.b = m->b, .sleep_ms = 1};
    atomic_init(&c.count, 0);
    atomic_init(&c.last_time, -1);
    atomic_init(&c.bad_order, 0);
    cmee_subscriber_options o = {.capacity = 8, .callback = on_msg, .ud = &c};
    cmee_subscriber *slow = NULL;
    assert_int_equal(cmee_broadcaster_subscribe(m->b, "ticks.P0", &o, &slow), CMEE_OK);

    pthread_t pubs[MT_PUB], cons[MT_CONS];
    mt_arg pa[MT_PUB], ca[MT_CONS];
    for (int i = 0; i < MT_CONS; i++) {
        ca[i] = (mt_arg){m, i};
        assert_int_equal(pthread_create(&cons[i], NULL, mt_consumer, &ca[i]), 0);
    }
    for (int i = 0; i < MT_PUB; i++) {
        pa[i] = (mt_arg){m, i};
        assert_int_equal(pthread_create(&pubs[i], NULL, mt_publisher, &pa[i]), 0);
    }
    for (int i = 0; i < MT_PUB; i++)
        pthread_join(pubs[i], NULL);
    /* The publishers are done while the slow callback has seen only a part of its share. */
    assert_true(atomic_load(&c.count) < MT_N);
    for (int i = 0; i < MT_CONS; i++)
        pthread_join(cons[i], NULL);

    assert_int_equal(atomic_load(&m->errors), 0);
    for (int s = 0; s < MT_SUBS; s++) {
        for (int p = 0; p < MT_PUB; p++) {
            assert_int_equal(m->got[s][p], MT_N);
            assert_int_equal(m->last[s][p], MT_N - 1);
        }
        assert_int_equal(cmee_subscriber_dropped(m->subs[s]), 0);
    }
    cmee_subscriber_stats st;
    assert_int_equal(cmee_subscriber_stats_get(stuck, &st), CMEE_OK);
    assert_int_equal(st.queued, 16);
    assert_int_equal(st.dropped, MT_PUB * MT_N - 16);
    assert_true(cmee_subscriber_dropped(slow) > 0);
    assert_int_equal(atomic_load(&c.bad_order), 0);

    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(m->b, &bs), CMEE_OK);
    assert_int_equal(bs.published, MT_PUB * MT_N);
    assert_int_equal(bs.subscribers, MT_SUBS + 2);
    cmee_broadcaster_free(m->b);
    free(m);
}

/* Subscribing, changing patterns and freeing while others publish and read statistics. */
enum { CH_PUB = 2, CH_N = 20000 };

typedef struct churn {
    cmee_broadcaster *b;
    atomic_int stop;
    atomic_int errors;
} churn;

static void *churn_publisher(void *arg)
{
    churn *c = arg;
    const char *syms[] = {"A", "B", "C"};
    for (int i = 0; i < CH_N; i++) {
        cmee_tick t = tick_at(i, 1);
        cmee_status st;
        if (i % 7 == 0)
            st = cmee_broadcaster_publish_event(c->b, "s1", i, "clock_changed", "{}");
        else
            st = cmee_broadcaster_publish_tick(c->b, syms[i % 3], &t);
        if (st != CMEE_OK)
            atomic_fetch_add(&c->errors, 1);
    }
    return NULL;
}

static void *churn_stats(void *arg)
{
    churn *c = arg;
    uint64_t last = 0;
    while (!atomic_load(&c->stop)) {
        cmee_broadcast_stats bs;
        if (cmee_broadcaster_stats(c->b, &bs) != CMEE_OK || bs.published < last)
            atomic_fetch_add(&c->errors, 1);
        last = bs.published;
        sleep_ms(1);
    }
    return NULL;
}

static void count_cb(const cmee_message *m, void *ud)
{
    (void)m;
    atomic_fetch_add((atomic_long *)ud, 1);
}

static void test_churn(void **state)
{
    (void)state;
    churn c = {.b = make_b()};
    atomic_init(&c.stop, 0);
    atomic_init(&c.errors, 0);
    cmee_subscriber *keep = sub_cap(c.b, "*", 4, CMEE_OVERFLOW_DROP_OLDEST);
    pthread_t pubs[CH_PUB], stats;
    for (int i = 0; i < CH_PUB; i++)
        assert_int_equal(pthread_create(&pubs[i], NULL, churn_publisher, &c), 0);
    assert_int_equal(pthread_create(&stats, NULL, churn_stats, &c), 0);

    const char *pats[] = {"ticks.*", "ticks.A", "*", "session.*", "session.s1", "ticks.B"};
    atomic_long cbcount;
    atomic_init(&cbcount, 0);
    cmee_message m[8];
    size_t n;
    uint32_t rnd = 12345;
    for (int round = 0; round < 300; round++) {
        cmee_subscriber *live[6];
        for (int k = 0; k < 6; k++) {
            rnd = rnd * 1103515245u + 12345u;
            cmee_subscriber_options o = {.capacity = 1 + rnd % 16,
                                         .overflow = (cmee_overflow)(rnd >> 8 & 1)};
            if (k == 5 && round % 10 == 0) {
                o.callback = count_cb;
                o.ud = &cbcount;
            }
            assert_int_equal(cmee_broadcaster_subscribe(c.b, pats[(rnd >> 4) % 6], &o, &live[k]),
                             CMEE_OK);
            cmee_status st = cmee_subscriber_add_pattern(live[k], pats[(rnd >> 12) % 6]);
            assert_true(st == CMEE_OK || st == CMEE_EEXIST);
        }
        for (int k = 0; k < 6; k++) {
            if (!live[k]->cb) {
                cmee_status st = cmee_subscriber_drain(live[k], m, 8, 0, &n);
                assert_true(st == CMEE_OK || st == CMEE_ENOTFOUND);
            }
            cmee_status st = cmee_subscriber_remove_pattern(live[k], pats[k]);
            assert_true(st == CMEE_OK || st == CMEE_ENOTFOUND);
        }
        for (int k = 0; k < 6; k++)
            cmee_subscriber_free(live[k]);
    }
    for (int i = 0; i < CH_PUB; i++)
        pthread_join(pubs[i], NULL);
    atomic_store(&c.stop, 1);
    pthread_join(stats, NULL);
    assert_int_equal(atomic_load(&c.errors), 0);

    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(c.b, &bs), CMEE_OK);
    assert_int_equal(bs.published, CH_PUB * CH_N);
    assert_int_equal(bs.subscribers, 1);
    cmee_subscriber_stats st;
    assert_int_equal(cmee_subscriber_stats_get(keep, &st), CMEE_OK);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.dropped, CH_PUB * CH_N - 4);
    assert_int_equal(c.b->nnodes, 1);
    cmee_broadcaster_free(c.b);
}

/* ---- subscriber groups ---------------------------------------------------------------- */

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 0);
    assert_true(r >= 0);
    return r == 1 && (p.revents & POLLIN);
}

static cmee_subscriber *sub_in(cmee_broadcaster *b, const char *pattern, size_t cap,
                               cmee_overflow ov, cmee_subscriber_group *g)
{
    cmee_subscriber_options o = {.capacity = cap, .overflow = ov, .group = g};
    cmee_subscriber *s = NULL;
    assert_bst(b, cmee_broadcaster_subscribe(b, pattern, &o, &s), CMEE_OK);
    return s;
}

static cmee_subscriber_group *make_group(cmee_broadcaster *b)
{
    cmee_subscriber_group *g = NULL;
    assert_bst(b, cmee_broadcaster_group_new(b, &g), CMEE_OK);
    return g;
}

/* The members cmee_subscriber_group_ready() lists now, all of them (up to cap). */
static size_t ready_all(cmee_subscriber_group *g, cmee_subscriber **out, size_t cap)
{
    size_t n = 0;
    cmee_status st = cmee_subscriber_group_ready(g, out, cap, &n);
    if (st == CMEE_ENOTFOUND)
        return 0;
    assert_int_equal(st, CMEE_OK);
    return n;
}

static bool listed(cmee_subscriber *const *list, size_t n, const cmee_subscriber *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == s)
            return true;
    return false;
}

/* The value of an eventfd's counter (white-box: read it and put it back). */
static uint64_t efd_value(int fd)
{
    uint64_t v = 0;
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
        return 0;
    assert_int_equal(write(fd, &v, sizeof v), (ssize_t)sizeof v);
    return v;
}

/* The group fd is readable exactly while some member has messages; the ready list is exactly
 * the members with messages; one eventfd write per publish however many members it reaches. */
static void test_group_fd(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber_group *g = make_group(b);
    int gfd = cmee_subscriber_group_fd(g);
    assert_true(gfd >= 0);
    assert_false(readable(gfd));
    enum { M = 100 };
    cmee_subscriber *mem[M], *got[M + 8];
    for (int i = 0; i < M; i++) {
        mem[i] = sub_in(b, i % 2 ? "ticks.*" : "ticks.A", 8, CMEE_OVERFLOW_DROP_OLDEST, g);
        assert_int_equal(cmee_subscriber_fd(mem[i]), -1); /* no fd of its own */
    }
    cmee_subscriber *plain = sub_of(b, "ticks.*"); /* mixed with an ungrouped subscriber */
    assert_true(cmee_subscriber_fd(plain) >= 0);
    assert_int_not_equal(cmee_subscriber_fd(plain), gfd);
    assert_int_equal(g->nmembers, M);
    assert_int_equal(cmee_subscriber_group_ready(g, got, M, &(size_t){0}), CMEE_ENOTFOUND);

    /* A publish nobody in the group follows leaves it alone. */
    cmee_tick t = tick_at(1, 1);
    assert_int_equal(cmee_broadcaster_publish_event(b, "x", 1, "y", "{}"), CMEE_OK);
    assert_false(readable(gfd));

    /* "B" reaches the odd members: 50 of them listed, one eventfd write. */
    assert_int_equal(cmee_broadcaster_publish_tick(b, "B", &t), CMEE_OK);
    assert_true(readable(gfd));
    assert_true(readable(gfd)); /* level: polling does not clear it */
    assert_int_equal(efd_value(gfd), 1);
    assert_true(fd_readable(plain));
    size_t n = ready_all(g, got, M + 8);
    assert_int_equal(n, M / 2);
    for (int i = 0; i < M; i++)
        assert_int_equal(listed(got, n, mem[i]), i % 2 == 1);
    /* Listing does not take anything. */
    assert_int_equal(ready_all(g, got, M + 8), M / 2);
    assert_true(readable(gfd));

    /* "A" reaches everyone: all listed, still one write in all. */
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_int_equal(efd_value(gfd), 1);
    assert_int_equal(ready_all(g, got, M + 8), M);
    assert_int_equal(g->nready, M);

    /* Draining a member completely unlists it; partly, keeps it. The last one out clears the
     * fd. */
    cmee_message ms[8];
    for (int i = 0; i < M; i++) {
        size_t want = i % 2 ? 3 : 2;
        assert_int_equal(count_waiting(mem[i]), want);
        assert_int_equal(cmee_subscriber_drain(mem[i], ms, 1, 0, &n), CMEE_OK);
        assert_true(listed(got, ready_all(g, got, M + 8), mem[i]));
        assert_true(readable(gfd));
        assert_int_equal(cmee_subscriber_drain(mem[i], ms, 8, 0, &n), CMEE_OK);
        assert_int_equal(n, want - 1);
        n = ready_all(g, got, M + 8);
        assert_false(listed(got, n, mem[i]));
        assert_int_equal(n, (size_t)(M - 1 - i));
        assert_int_equal(readable(gfd), i < M - 1);
        assert_int_equal(cmee_subscriber_next(mem[i], ms, 0), CMEE_ENOTFOUND);
    }
    assert_false(readable(gfd));
    assert_int_equal(cmee_subscriber_group_ready(g, got, M, &(size_t){0}), CMEE_ENOTFOUND);
    assert_true(fd_readable(plain)); /* the ungrouped one kept its own state */
    assert_int_equal(take_all(plain, ms, 8), 3);
    assert_false(fd_readable(plain));

    /* With more ready than cap, members returned go to the back: everyone gets a turn. */
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    bool seen[M] = {false};
    for (int round = 0; round < M / 7 + 1; round++) {
        assert_int_equal(cmee_subscriber_group_ready(g, got, 7, &n), CMEE_OK);
        assert_int_equal(n, 7);
        for (size_t k = 0; k < n; k++)
            for (int i = 0; i < M; i++)
                if (got[k] == mem[i])
                    seen[i] = true;
    }
    for (int i = 0; i < M; i++)
        assert_true(seen[i]);
    for (int i = 0; i < M; i++)
        assert_int_equal(take_all(mem[i], ms, 8), 1);
    /* Drained members stay in the list, marked empty, until the next listing drops them; that
     * is what clears the fd (so draining costs no group lock). */
    assert_true(readable(gfd));
    assert_int_equal(g->nready, M);
    assert_int_equal(cmee_subscriber_group_ready(g, got, 7, &n), CMEE_ENOTFOUND);
    assert_int_equal(g->nready, 0);
    assert_false(readable(gfd));

    /* Overflow keeps a member listed, with either policy, and a queue of one too. */
    cmee_subscriber *one = sub_in(b, "session.q", 1, CMEE_OVERFLOW_DROP_OLDEST, g);
    cmee_subscriber *newest = sub_in(b, "session.q", 2, CMEE_OVERFLOW_DROP_NEWEST, g);
    for (int i = 0; i < 10; i++)
        assert_int_equal(cmee_broadcaster_publish_event(b, "q", 100 + i, "x", "{}"), CMEE_OK);
    assert_int_equal(efd_value(gfd), 1);
    assert_int_equal(g->nready, 2);
    assert_int_equal(ready_all(g, got, M), 2);
    assert_int_equal(cmee_subscriber_next(one, ms, 0), CMEE_OK);
    assert_int_equal(ms[0].time, 109);
    assert_int_equal(ms[0].dropped, 9);
    assert_int_equal(ready_all(g, got, M), 1);
    assert_ptr_equal(got[0], newest);
    assert_true(readable(gfd));
    assert_int_equal(take_all(newest, ms, 8), 2);
    assert_int_equal(ms[1].time, 101);
    assert_int_equal(ready_all(g, got, M), 0);
    assert_int_equal(g->nready, 0);
    assert_false(readable(gfd));
    /* Refilled after draining, before any listing: listed once, not twice. */
    assert_int_equal(cmee_broadcaster_publish_event(b, "q", 200, "x", "{}"), CMEE_OK);
    assert_int_equal(take_all(one, ms, 8), 1);
    assert_int_equal(cmee_broadcaster_publish_event(b, "q", 201, "x", "{}"), CMEE_OK);
    assert_int_equal(g->nready, 2);
    assert_int_equal(ready_all(g, got, M), 2);
    assert_int_equal(take_all(one, ms, 8), 1);
    assert_int_equal(take_all(newest, ms, 8), 2);
    assert_int_equal(ready_all(g, got, M), 0);
    assert_false(readable(gfd));

    /* Two groups reached by one publish each get their write. */
    cmee_subscriber_group *g2 = make_group(b);
    cmee_subscriber *other = sub_in(b, "ticks.C", 4, CMEE_OVERFLOW_DROP_OLDEST, g2);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "C", &t), CMEE_OK);
    assert_true(readable(gfd));
    assert_true(readable(cmee_subscriber_group_fd(g2)));
    assert_int_equal(ready_all(g2, got, M), 1);
    assert_ptr_equal(got[0], other);
    assert_int_equal(take_all(other, ms, 8), 1);
    assert_int_equal(ready_all(g2, got, M), 0);
    assert_false(readable(cmee_subscriber_group_fd(g2)));
    assert_true(readable(gfd));

    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(b, &bs), CMEE_OK);
    assert_int_equal(bs.subscribers, M + 4);
    cmee_broadcaster_free(b); /* frees both groups and their members */
}

/* Receiving from a member with a timeout waits on the member, not on the group's fd. */
static void test_group_wait(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b();
    cmee_subscriber_group *g = make_group(b);
    cmee_subscriber *s = sub_in(b, "ticks.*", 0, CMEE_OVERFLOW_DROP_OLDEST, g);
    cmee_message m;
    size_t n;
    double t0 = now_s();
    assert_int_equal(cmee_subscriber_next(s, &m, 40), CMEE_ENOTFOUND);
    assert_true(now_s() - t0 >= 0.040);
    t0 = now_s();
    assert_int_equal(cmee_subscriber_drain(s, &m, 1, 15, &n), CMEE_ENOTFOUND);
    assert_true(now_s() - t0 >= 0.015);

    later l = {b, 30, 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_later, &l), 0);
    assert_int_equal(cmee_subscriber_next(s, &m, -1), CMEE_OK);
    assert_int_equal(m.tick.time, 1000);
    pthread_join(th, NULL);
    cmee_subscriber *got[2];
    assert_int_equal(ready_all(g, got, 2), 0);
    assert_false(readable(cmee_subscriber_group_fd(g)));

    l = (later){b, 20, 3};
    assert_int_equal(pthread_create(&th, NULL, publish_later, &l), 0);
    assert_int_equal(cmee_subscriber_next(s, &m, 20000), CMEE_OK);
    pthread_join(th, NULL);
    assert_int_equal(take_all(s, &m, 1) + 1 + take_all(s, &m, 1), 3);
    assert_int_equal(ready_all(g, got, 2), 0);
    assert_false(readable(cmee_subscriber_group_fd(g)));
    cmee_broadcaster_free(b);
}

/* A member freed while listed is never returned again; freeing the group frees its members. */
static void test_group_free(void **state)
{
    (void)state;
    achaos ac = {0};
    cmee_allocator a = {ac_malloc, ac_realloc, ac_free, &ac};
    cmee_broadcaster *b = NULL;
    assert_int_equal(cmee_broadcaster_new(&a, &b), CMEE_OK);
    cmee_subscriber_group *g = make_group(b);
    int gfd = cmee_subscriber_group_fd(g);
    cmee_subscriber *m1 = sub_in(b, "ticks.*", 4, CMEE_OVERFLOW_DROP_OLDEST, g);
    cmee_subscriber *m2 = sub_in(b, "ticks.*", 4, CMEE_OVERFLOW_DROP_OLDEST, g);
    cmee_subscriber *m3 = sub_in(b, "ticks.*", 4, CMEE_OVERFLOW_DROP_OLDEST, g);
    cmee_subscriber *quiet = sub_in(b, "session.*", 4, CMEE_OVERFLOW_DROP_OLDEST, g);
    cmee_tick t = tick_at(1, 1);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    cmee_subscriber *got[8];
    assert_int_equal(ready_all(g, got, 8), 3);

    cmee_subscriber_free(m2); /* listed, with a message queued */
    size_t n = ready_all(g, got, 8);
    assert_int_equal(n, 2);
    assert_true(listed(got, n, m1) && listed(got, n, m3));
    assert_false(listed(got, n, m2));
    assert_int_equal(g->nmembers, 3);
    cmee_subscriber_free(quiet); /* not listed */
    assert_int_equal(ready_all(g, got, 8), 2);
    cmee_message m;
    assert_int_equal(cmee_subscriber_next(m1, &m, 0), CMEE_OK);
    assert_int_equal(ready_all(g, got, 8), 1);
    assert_ptr_equal(got[0], m3);
    assert_true(readable(gfd));
    cmee_subscriber_free(m3); /* the last listed one: the fd clears */
    assert_false(readable(gfd));
    assert_int_equal(cmee_subscriber_group_ready(g, got, 8, &n), CMEE_ENOTFOUND);
    assert_int_equal(g->nready, 0);
    assert_int_equal(g->nmembers, 1);

    /* The group goes with its remaining members, queued messages and all; others stay. */
    cmee_subscriber *plain = sub_of(b, "ticks.*");
    for (int i = 0; i < 3; i++)
        assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    (void)sub_in(b, "ticks.*", 4, CMEE_OVERFLOW_DROP_OLDEST, g);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    cmee_subscriber_group_free(g);
    cmee_subscriber_group_free(NULL);
    assert_int_equal(b->nsubs, 1);
    assert_null(b->groups);
    assert_int_equal(take_all(plain, &m, 1), 1);
    assert_int_equal(count_waiting(plain), 3);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);

    /* An empty group and a group with members both go with the broadcaster. */
    (void)make_group(b);
    cmee_subscriber_group *g3 = make_group(b);
    (void)sub_in(b, "*", 4, CMEE_OVERFLOW_DROP_OLDEST, g3);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    cmee_broadcaster_free(b);
    assert_int_equal(atomic_load(&ac.live), 0);
}

/* Four publishers, members in two groups (one consumer polls its group level-triggered and
 * takes one batch per member per wakeup, the other waits edge-triggered with epoll and drains
 * until nothing is listed) and ungrouped subscribers beside them: every member receives every
 * message exactly once, in each publisher's order. */
enum { GM_PUB = 4, GM_N = 2000, GM_MEM = 60, GM_PLAIN = 6 };

typedef struct gmt {
    cmee_broadcaster *b;
    cmee_subscriber_group *g[2];
    cmee_subscriber *subs[2 * GM_MEM + GM_PLAIN]; /* group 0, group 1, then ungrouped */
    cmee_subscriber *stuck;                       /* in group 0, never drained */
    long got[2 * GM_MEM + GM_PLAIN][GM_PUB];
    int64_t last[2 * GM_MEM + GM_PLAIN][GM_PUB];
    atomic_int errors;
} gmt;

typedef struct gm_arg {
    gmt *m;
    int id;
} gm_arg;

static void *gm_publisher(void *arg)
{
    gm_arg *a = arg;
    char sym[8];
    snprintf(sym, sizeof sym, "P%d", a->id);
    for (int i = 0; i < GM_N; i++) {
        cmee_tick t = {.time = i, .price = 1, .volume = a->id};
        if (cmee_broadcaster_publish_tick(a->m->b, sym, &t) != CMEE_OK)
            atomic_fetch_add(&a->m->errors, 1);
    }
    return NULL;
}

/* Check and count what subscriber s received. */
static void gm_account(gmt *m, int s, const cmee_message *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int p = (int)buf[i].tick.volume;
        if (p < 0 || p >= GM_PUB || buf[i].tick.time != m->last[s][p] + 1)
            atomic_fetch_add(&m->errors, 1);
        else
            m->last[s][p] = buf[i].tick.time;
        if (p >= 0 && p < GM_PUB)
            m->got[s][p]++;
    }
}

static int gm_index(gmt *m, int first, int count, const cmee_subscriber *s)
{
    for (int i = first; i < first + count; i++)
        if (m->subs[i] == s)
            return i;
    return -1;
}

static void *gm_group_consumer(void *arg)
{
    gm_arg *a = arg;
    gmt *m = a->m;
    bool edge = a->id == 1;
    cmee_subscriber_group *g = m->g[a->id];
    int fd = cmee_subscriber_group_fd(g), ep = -1;
    if (edge) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            atomic_fetch_add(&m->errors, 1000000);
    }
    cmee_message *buf = malloc(16 * sizeof *buf);
    cmee_subscriber *ready[8];
    long want = (long)GM_PUB * GM_N * GM_MEM, have = 0;
    while (have < want) {
        int r;
        if (edge) {
            struct epoll_event ev;
            r = epoll_wait(ep, &ev, 1, 10000);
        } else {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            r = poll(&p, 1, 10000);
        }
        if (r <= 0) {
            atomic_fetch_add(&m->errors, 1000000); /* stalled: a member was lost */
            break;
        }
        size_t nr;
        while (cmee_subscriber_group_ready(g, ready, 8, &nr) == CMEE_OK) {
            for (size_t k = 0; k < nr; k++) {
                if (ready[k] == m->stuck)
                    continue;
                int s = gm_index(m, a->id * GM_MEM, GM_MEM, ready[k]);
                size_t n;
                if (s < 0) {
                    atomic_fetch_add(&m->errors, 1);
                    continue;
                }
                /* Often returns less than the queue holds: the member stays listed. */
                cmee_status st = cmee_subscriber_drain(ready[k], buf, 16, 0, &n);
                if (st == CMEE_OK) {
                    gm_account(m, s, buf, n);
                    have += (long)n;
                } else if (st != CMEE_ENOTFOUND) {
                    atomic_fetch_add(&m->errors, 1);
                }
            }
            if (!edge)
                break; /* level-triggered: poll again */
        }
    }
    free(buf);
    if (ep >= 0)
        close(ep);
    return NULL;
}

static void *gm_plain_consumer(void *arg)
{
    gm_arg *a = arg;
    gmt *m = a->m;
    struct pollfd pf[GM_PLAIN];
    for (int i = 0; i < GM_PLAIN; i++)
        pf[i] = (struct pollfd){.fd = cmee_subscriber_fd(m->subs[2 * GM_MEM + i]),
                                .events = POLLIN};
    cmee_message *buf = malloc(16 * sizeof *buf);
    long want = (long)GM_PUB * GM_N * GM_PLAIN, have = 0;
    while (have < want) {
        if (poll(pf, GM_PLAIN, 10000) <= 0) {
            atomic_fetch_add(&m->errors, 1000000);
            break;
        }
        for (int i = 0; i < GM_PLAIN; i++) {
            size_t n;
            if (!(pf[i].revents & POLLIN))
                continue;
            if (cmee_subscriber_drain(m->subs[2 * GM_MEM + i], buf, 16, 0, &n) == CMEE_OK) {
                gm_account(m, 2 * GM_MEM + i, buf, n);
                have += (long)n;
            }
        }
    }
    free(buf);
    return NULL;
}

static void test_group_mt(void **state)
{
    (void)state;
    gmt *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->b = make_b();
    atomic_init(&m->errors, 0);
    m->g[0] = make_group(m->b);
    m->g[1] = make_group(m->b);
    for (int s = 0; s < 2 * GM_MEM + GM_PLAIN; s++) {
        const char *pat = s % 3 == 0 ? "*" : "ticks.*";
        m->subs[s] = sub_in(m->b, pat, GM_PUB * GM_N, CMEE_OVERFLOW_DROP_OLDEST,
                            s < 2 * GM_MEM ? m->g[s / GM_MEM] : NULL);
        if (s % 5 == 0)
            assert_int_equal(cmee_subscriber_add_pattern(m->subs[s], "ticks.P1"), CMEE_OK);
        for (int p = 0; p < GM_PUB; p++)
            m->last[s][p] = -1;
    }
    /* A member the level-triggered consumer never drains: it stays listed (so that consumer
     * never sleeps) and drops, and the others still get their turns. (An edge-triggered loop
     * must drain every member it is given, or it waits for an edge that never comes.) */
    m->stuck = sub_in(m->b, "ticks.*", 16, CMEE_OVERFLOW_DROP_OLDEST, m->g[0]);

    pthread_t pubs[GM_PUB], cons[3];
    gm_arg pa[GM_PUB], ca[3];
    for (int i = 0; i < 3; i++) {
        ca[i] = (gm_arg){m, i};
        assert_int_equal(pthread_create(&cons[i], NULL,
                                        i < 2 ? gm_group_consumer : gm_plain_consumer, &ca[i]),
                         0);
    }
    for (int i = 0; i < GM_PUB; i++) {
        pa[i] = (gm_arg){m, i};
        assert_int_equal(pthread_create(&pubs[i], NULL, gm_publisher, &pa[i]), 0);
    }
    for (int i = 0; i < GM_PUB; i++)
        pthread_join(pubs[i], NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(cons[i], NULL);

    assert_int_equal(atomic_load(&m->errors), 0);
    for (int s = 0; s < 2 * GM_MEM + GM_PLAIN; s++) {
        for (int p = 0; p < GM_PUB; p++) {
            assert_int_equal(m->got[s][p], GM_N);
            assert_int_equal(m->last[s][p], GM_N - 1);
        }
        assert_int_equal(cmee_subscriber_dropped(m->subs[s]), 0);
        assert_int_equal(count_waiting(m->subs[s]), 0);
    }
    assert_false(readable(cmee_subscriber_group_fd(m->g[1])));
    assert_int_equal(m->g[1]->nready, 0);
    /* Only the stuck member is left listed. */
    cmee_subscriber *got[4];
    assert_int_equal(ready_all(m->g[0], got, 4), 1);
    assert_ptr_equal(got[0], m->stuck);
    assert_true(readable(cmee_subscriber_group_fd(m->g[0])));
    assert_int_equal(cmee_subscriber_dropped(m->stuck), GM_PUB * GM_N - 16);
    cmee_broadcaster_free(m->b);
    free(m);
}

/* Members freed (often while listed) and created while others publish, then the whole group
 * freed while they still publish. The consumer owns the frees, as an event loop would. */
enum { GC_PUB = 2, GC_MEM = 16 };

typedef struct gchurn {
    cmee_broadcaster *b;
    atomic_int stop;
    atomic_int errors;
} gchurn;

static void *gc_publisher(void *arg)
{
    gchurn *c = arg;
    const char *syms[] = {"A", "B", "C"};
    for (long i = 0; !atomic_load(&c->stop); i++) {
        cmee_tick t = tick_at(i, 1);
        cmee_status st = i % 5 == 0
                             ? cmee_broadcaster_publish_event(c->b, "s1", i, "clock_changed", "{}")
                             : cmee_broadcaster_publish_tick(c->b, syms[i % 3], &t);
        if (st != CMEE_OK)
            atomic_fetch_add(&c->errors, 1);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void test_group_churn(void **state)
{
    (void)state;
    gchurn c = {.b = make_b()};
    atomic_init(&c.stop, 0);
    atomic_init(&c.errors, 0);
    cmee_subscriber_group *g = make_group(c.b);
    const char *pats[] = {"ticks.*", "ticks.A", "*", "session.*", "ticks.B"};
    cmee_subscriber *mem[GC_MEM];
    uint32_t rnd = 777;
    for (int i = 0; i < GC_MEM; i++) {
        mem[i] = sub_in(c.b, pats[i % 5], 1 + (size_t)i % 4, (cmee_overflow)(i & 1), g);
        assert_int_equal(cmee_subscriber_add_pattern(mem[i], "admin.poke"), CMEE_OK);
    }
    cmee_message poke = {.kind = CMEE_MSG_EVENT, .topic = "admin.poke", .type = "poke"};
    pthread_t pubs[GC_PUB];
    for (int i = 0; i < GC_PUB; i++)
        assert_int_equal(pthread_create(&pubs[i], NULL, gc_publisher, &c), 0);

    cmee_subscriber *ready[GC_MEM];
    cmee_message msgs[4];
    long frees_listed = 0;
    for (int round = 0; round < 3000; round++) {
        struct pollfd p = {.fd = cmee_subscriber_group_fd(g), .events = POLLIN};
        poll(&p, 1, 1);
        size_t nr = ready_all(g, ready, GC_MEM);
        for (size_t k = 0; k < nr; k++) {
            size_t n;
            cmee_status st = cmee_subscriber_drain(ready[k], msgs, 4, 0, &n);
            assert_true(st == CMEE_OK || st == CMEE_ENOTFOUND);
        }
        rnd = rnd * 1103515245u + 12345u;
        int i = (int)(rnd >> 8) % GC_MEM;
        if (round % 3 == 0) {
            /* Free a member while it is listed (the poke makes sure it has a message), and
             * check the list no longer has it before anything else of the consumer's can be
             * allocated at its address. */
            cmee_subscriber *gone = mem[i];
            assert_int_equal(cmee_broadcaster_publish(c.b, &poke), CMEE_OK);
            nr = ready_all(g, ready, GC_MEM);
            frees_listed += listed(ready, nr, gone);
            cmee_subscriber_free(gone);
            nr = ready_all(g, ready, GC_MEM);
            assert_false(listed(ready, nr, gone));
            mem[i] = sub_in(c.b, pats[(rnd >> 16) % 5], 1 + (rnd >> 4) % 4,
                            (cmee_overflow)(rnd >> 20 & 1), g);
            assert_int_equal(cmee_subscriber_add_pattern(mem[i], "admin.poke"), CMEE_OK);
        }
    }
    assert_int_equal(frees_listed, 1000);
    cmee_subscriber_group_free(g); /* while the publishers go on */
    sleep_ms(5);
    atomic_store(&c.stop, 1);
    for (int i = 0; i < GC_PUB; i++)
        pthread_join(pubs[i], NULL);
    assert_int_equal(atomic_load(&c.errors), 0);
    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(c.b, &bs), CMEE_OK);
    assert_int_equal(bs.subscribers, 0);
    assert_int_equal(c.b->nnodes, 0);
    cmee_broadcaster_free(c.b);
}

static void test_group_bad_args(void **state)
{
    (void)state;
    cmee_broadcaster *b = make_b(), *b2 = make_b();
    cmee_subscriber_group *g = (cmee_subscriber_group *)(uintptr_t)0x5e5e5e5e;
    assert_int_equal(cmee_broadcaster_group_new(NULL, &g), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_group_new(b, NULL), CMEE_EINVAL);
    assert_errmsg_has(b, "out: NULL");
    assert_ptr_equal(g, (cmee_subscriber_group *)(uintptr_t)0x5e5e5e5e);
    g = make_group(b);
    cmee_subscriber_group *g2 = make_group(b2);
    assert_int_equal(cmee_subscriber_group_fd(NULL), -1);
    cmee_subscriber_group_free(NULL);

    /* Joining: a group of another broadcaster, or with a callback. */
    cmee_subscriber *s = OUT_SENTINEL;
    cmee_subscriber_options o = {.group = g2};
    assert_bst(b, cmee_broadcaster_subscribe(b, "*", &o, &s), CMEE_EINVAL);
    assert_errmsg_has(b, "group: belongs to another broadcaster");
    atomic_long cnt;
    atomic_init(&cnt, 0);
    o = (cmee_subscriber_options){.group = g, .callback = count_cb, .ud = &cnt};
    assert_bst(b, cmee_broadcaster_subscribe(b, "*", &o, &s), CMEE_EINVAL);
    assert_errmsg_has(b, "group: a callback subscriber");
    o = (cmee_subscriber_options){.group = g, .capacity = CMEE_SUBSCRIBER_CAPACITY_MAX + 1};
    assert_bst(b, cmee_broadcaster_subscribe(b, "*", &o, &s), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_subscribe(b, "bad*", &o, &s), CMEE_EINVAL);
    assert_ptr_equal(s, OUT_SENTINEL);
    assert_int_equal(g->nmembers, 0);
    assert_int_equal(b->nsubs, 0);

    /* Listing. */
    cmee_subscriber *list[2] = {OUT_SENTINEL, OUT_SENTINEL};
    size_t n = 99;
    assert_int_equal(cmee_subscriber_group_ready(NULL, list, 2, &n), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_group_ready(g, NULL, 2, &n), CMEE_EINVAL);
    assert_errmsg_has(b, "out: NULL");
    assert_bst(b, cmee_subscriber_group_ready(g, list, 0, &n), CMEE_EINVAL);
    assert_errmsg_has(b, "cap: 0");
    assert_bst(b, cmee_subscriber_group_ready(g, list, 2, NULL), CMEE_EINVAL);
    assert_errmsg_has(b, "n: NULL");
    assert_bst(b, cmee_subscriber_group_ready(g, list, 2, &n), CMEE_ENOTFOUND);
    assert_int_equal(n, 99);
    assert_ptr_equal(list[0], OUT_SENTINEL);

    /* A member refuses nothing a subscriber accepts; bad receive arguments as before. */
    cmee_subscriber *m = sub_in(b, "ticks.*", 0, CMEE_OVERFLOW_DROP_NEWEST, g);
    cmee_message msg;
    assert_bst(b, cmee_subscriber_next(m, NULL, 0), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_drain(m, &msg, 0, 0, &n), CMEE_EINVAL);
    assert_int_equal(cmee_subscriber_add_pattern(m, "session.*"), CMEE_OK);
    cmee_tick t = tick_at(1, 1);
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_int_equal(cmee_subscriber_group_ready(g, list, 1, &n), CMEE_OK);
    assert_int_equal(n, 1);
    assert_ptr_equal(list[0], m);
    assert_ptr_equal(list[1], OUT_SENTINEL);
    cmee_broadcaster_free(b);
    cmee_broadcaster_free(b2);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_bad_args(void **state)
{
    (void)state;
    cmee_broadcaster *b = NULL;
    assert_int_equal(cmee_broadcaster_new(NULL, NULL), CMEE_EINVAL);
    cmee_allocator half = {chaos_malloc, NULL, chaos_free, NULL};
    assert_int_equal(cmee_broadcaster_new(&half, &b), CMEE_EINVAL);
    assert_null(b);
    b = make_b();
    cmee_broadcaster_free(NULL);
    cmee_subscriber_free(NULL);
    cmee_subscriber_options_init(NULL);

    /* Subscribing. */
    cmee_subscriber *s = OUT_SENTINEL;
    const char *bad_patterns[] = {"", "ticks*", "*.x", "ticks.*.x", "**", ".ticks", "ticks.",
                                  "ticks..A", "ticks A", "ticks.*x", "t/x", "ticks.\xc3\xa9",
                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad_patterns / sizeof *bad_patterns; i++) {
        assert_bst(b, cmee_broadcaster_subscribe(b, bad_patterns[i], NULL, &s), CMEE_EINVAL);
        assert_errmsg_has(b, "pattern:");
        assert_ptr_equal(s, OUT_SENTINEL);
    }
    cmee_subscriber_options o = {.capacity = CMEE_SUBSCRIBER_CAPACITY_MAX + 1};
    assert_bst(b, cmee_broadcaster_subscribe(b, "*", &o, &s), CMEE_EINVAL);
    assert_errmsg_has(b, "capacity:");
    o = (cmee_subscriber_options){.overflow = (cmee_overflow)7};
    assert_bst(b, cmee_broadcaster_subscribe(b, "*", &o, &s), CMEE_EINVAL);
    assert_errmsg_has(b, "overflow:");
    assert_bst(b, cmee_broadcaster_subscribe(b, "*", NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_broadcaster_subscribe(NULL, "*", NULL, &s), CMEE_EINVAL);
    assert_ptr_equal(s, OUT_SENTINEL);
    assert_int_equal(b->nsubs, 0);

    /* The longest valid pattern (63 characters). */
    char p63[64];
    memset(p63, 'a', 61);
    memcpy(p63 + 61, ".*", 3);
    s = sub_of(b, p63);
    assert_bst(b, cmee_subscriber_add_pattern(s, NULL), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_add_pattern(s, "a.**"), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_remove_pattern(s, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_subscriber_add_pattern(NULL, "*"), CMEE_EINVAL);
    assert_int_equal(cmee_subscriber_remove_pattern(NULL, "*"), CMEE_EINVAL);
    char p[CMEE_TOPIC_MAX];
    for (int i = 1; i < CMEE_SUBSCRIBER_PATTERNS_MAX; i++) {
        snprintf(p, sizeof p, "x.p%d", i);
        assert_int_equal(cmee_subscriber_add_pattern(s, p), CMEE_OK);
    }
    assert_bst(b, cmee_subscriber_add_pattern(s, "x.one-too-many"), CMEE_ERANGE);
    assert_errmsg_has(b, "at most 64");

    /* Receiving. */
    cmee_message m;
    size_t n = 99;
    assert_int_equal(cmee_subscriber_next(NULL, &m, 0), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_next(s, NULL, 0), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_drain(s, &m, 0, 0, &n), CMEE_EINVAL);
    assert_errmsg_has(b, "cap: 0");
    assert_bst(b, cmee_subscriber_drain(s, NULL, 1, 0, &n), CMEE_EINVAL);
    assert_bst(b, cmee_subscriber_drain(s, &m, 1, 0, NULL), CMEE_EINVAL);
    assert_int_equal(n, 99);
    assert_int_equal(cmee_subscriber_stats_get(NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_subscriber_dropped(NULL), 0);
    assert_int_equal(cmee_broadcaster_stats(b, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_broadcaster_stats(NULL, NULL), CMEE_EINVAL);

    /* Publishing. */
    cmee_tick t = tick_at(1, 1);
    cmee_candle c = {0};
    assert_int_equal(cmee_broadcaster_publish_tick(NULL, "A", &t), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_publish_tick(b, NULL, &t), CMEE_EINVAL);
    assert_errmsg_has(b, "symbol: NULL");
    assert_bst(b, cmee_broadcaster_publish_tick(b, "btc", &t), CMEE_EINVAL);
    assert_errmsg_has(b, "symbol: must be 1 to 15 characters");
    assert_bst(b, cmee_broadcaster_publish_tick(b, "A", NULL), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_publish_candle(b, "A", (cmee_timeframe)3, &c), CMEE_EINVAL);
    assert_errmsg_has(b, "tf: unknown timeframe 3");
    assert_bst(b, cmee_broadcaster_publish_candle(b, "A", CMEE_TF_1M, NULL), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_publish_event(b, NULL, 0, "x", "{}"), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_publish_event(b, "a.b", 0, "x", "{}"), CMEE_EINVAL);
    assert_errmsg_has(b, "session_id:");
    assert_bst(b, cmee_broadcaster_publish_event(b, "s", 0, NULL, "{}"), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_publish_event(b, "s", 0, "Order", "{}"), CMEE_EINVAL);
    assert_errmsg_has(b, "type: must be");
    assert_bst(b, cmee_broadcaster_publish_event(b, "s", 0, "", "{}"), CMEE_EINVAL);
    char big[CMEE_PAYLOAD_MAX + 500];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_bst(b, cmee_broadcaster_publish_event(b, "s", 0, "x", big), CMEE_ERANGE);
    assert_errmsg_has(b, "json: 1523 bytes, at most 1024");
    big[CMEE_PAYLOAD_MAX + 1] = '\0';
    assert_bst(b, cmee_broadcaster_publish_event(b, "s", 0, "x", big), CMEE_ERANGE);
    big[CMEE_PAYLOAD_MAX] = '\0';
    assert_bst(b, cmee_broadcaster_publish_event(b, "s", 0, "x", big), CMEE_OK);

    cmee_message in = {.kind = CMEE_MSG_EVENT};
    strcpy(in.type, "x");
    assert_bst(b, cmee_broadcaster_publish(b, NULL), CMEE_EINVAL);
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL); /* empty topic */
    assert_errmsg_has(b, "topic:");
    const char *bad_topics[] = {"a..b", ".a", "a.", "ticks.*", "*", "a b", "a/b"};
    for (size_t i = 0; i < sizeof bad_topics / sizeof *bad_topics; i++) {
        strcpy(in.topic, bad_topics[i]);
        assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL);
        assert_errmsg_has(b, "topic:");
    }
    memset(in.topic, 'a', sizeof in.topic); /* no NUL in the buffer */
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL);
    strcpy(in.topic, "ok.topic");
    in.payload_len = CMEE_PAYLOAD_MAX + 1;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_ERANGE);
    assert_errmsg_has(b, "payload_len: 1025 bytes, at most 1024");
    strcpy(in.payload, "ab\0cd");
    in.payload_len = 5;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL);
    assert_errmsg_has(b, "payload: NUL");
    in.payload_len = 2;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_OK);
    in.kind = (cmee_message_kind)9;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL);
    assert_errmsg_has(b, "kind: unknown message kind 9");
    in.kind = CMEE_MSG_TICK;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL); /* no symbol */
    strcpy(in.symbol, "A");
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_OK);
    in.kind = CMEE_MSG_CANDLE;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_EINVAL); /* no timeframe */
    assert_errmsg_has(b, "timeframe: unknown timeframe 0");
    in.timeframe = CMEE_TF_1D;
    assert_bst(b, cmee_broadcaster_publish(b, &in), CMEE_OK);

    char msg[8];
    size_t len = cmee_broadcaster_errmsg_copy(NULL, msg, sizeof msg);
    assert_int_equal(len, strlen("broadcaster is NULL"));
    assert_string_equal(msg, "broadca");
    assert_int_equal(cmee_broadcaster_errmsg_copy(b, NULL, 5), 0);

    /* Failed publishes counted nothing. */
    cmee_broadcast_stats bs;
    assert_int_equal(cmee_broadcaster_stats(b, &bs), CMEE_OK);
    assert_int_equal(bs.published, 4);
    cmee_broadcaster_free(b);
}

/* ---- out of memory -------------------------------------------------------------------- */

/* One run of everything that allocates; returns the first failure, or CMEE_OK. */
static cmee_status oom_run(const cmee_allocator *a, long *published)
{
    cmee_broadcaster *b = NULL;
    cmee_status st = cmee_broadcaster_new(a, &b);
    if (st != CMEE_OK)
        return st;
    cmee_subscriber *s1 = NULL, *s2 = NULL, *s3 = NULL, *g1 = NULL, *g2 = NULL;
    cmee_subscriber_group *g = NULL;
    cmee_subscriber *ready[4];
    cmee_subscriber_options o = {.capacity = 2};
    cmee_message m[4];
    size_t n;
    cmee_tick t = tick_at(1, 1);
    cmee_candle c = {0};
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((st = (call)) != CMEE_OK)                                                              \
            goto out;                                                                              \
    } while (0)
    TRY(cmee_broadcaster_subscribe(b, "ticks.*", NULL, &s1));
    TRY(cmee_broadcaster_subscribe(b, "candles.BTCUSD.1m", &o, &s2));
    TRY(cmee_broadcaster_subscribe(b, NULL, NULL, &s3));
    TRY(cmee_subscriber_add_pattern(s1, "session.s1"));
    TRY(cmee_subscriber_add_pattern(s3, "*"));
    TRY(cmee_subscriber_add_pattern(s3, "session.s1"));
    TRY(cmee_subscriber_add_pattern(s2, "session.s1"));
    TRY(cmee_broadcaster_group_new(b, &g));
    cmee_subscriber_options og = {.capacity = 2, .group = g};
    TRY(cmee_broadcaster_subscribe(b, "ticks.*", &og, &g1));
    TRY(cmee_broadcaster_subscribe(b, "session.*", &og, &g2));
    TRY(cmee_subscriber_add_pattern(g1, "candles.*"));
    for (int i = 0; i < 3; i++) {
        TRY(cmee_broadcaster_publish_tick(b, "BTCUSD", &t));
        ++*published;
        TRY(cmee_broadcaster_publish_candle(b, "BTCUSD", CMEE_TF_1M, &c));
        ++*published;
        TRY(cmee_broadcaster_publish_event(b, "s1", 1, "order_filled", "{\"a\":1}"));
        ++*published;
    }
    TRY(cmee_subscriber_drain(s1, m, 4, 0, &n));
    TRY(cmee_subscriber_group_ready(g, ready, 4, &n));
    TRY(cmee_subscriber_drain(ready[0], m, 4, 0, &n));
    cmee_subscriber_free(g1);
    g1 = NULL;
    TRY(cmee_subscriber_remove_pattern(s3, "*"));
    cmee_subscriber_free(s1);
    s1 = NULL;
    TRY(cmee_broadcaster_publish_event(b, "s1", 1, "order_filled", "{\"a\":1}"));
    ++*published;
#undef TRY
out:
    if (st == CMEE_OK) {
        cmee_broadcast_stats bs;
        cmee_broadcaster_stats(b, &bs);
        if (bs.published != (uint64_t)*published)
            st = CMEE_EINTERNAL;
    }
    cmee_subscriber_free(s2);
    if (*published % 2) /* the group and g2 go alone or with the broadcaster */
        cmee_subscriber_group_free(g);
    cmee_broadcaster_free(b); /* frees s1, s3, g1, g2 and g if still there */
    return st;
}

static void test_oom(void **state)
{
    (void)state;
    int failures = 0;
    for (long k = 1;; k++) {
        chaos c = {.fail_at = k};
        cmee_allocator a = chaos_allocator(&c);
        long published = 0;
        cmee_status st = oom_run(&a, &published);
        assert_int_equal(c.live, 0);
        if (c.calls < k) { /* nothing failed: every path was tried */
            assert_int_equal(st, CMEE_OK);
            break;
        }
        assert_int_equal(st, CMEE_ENOMEM);
        failures++;
    }
    assert_true(failures > 20);

    /* Everything failing at once, and nothing failing. */
    chaos all = {.fail_all = true};
    cmee_allocator a = chaos_allocator(&all);
    long published = 0;
    assert_int_equal(oom_run(&a, &published), CMEE_ENOMEM);
    chaos none = {0};
    a = chaos_allocator(&none);
    published = 0;
    assert_int_equal(oom_run(&a, &published), CMEE_OK);
    assert_int_equal(none.live, 0);
}

/* A publish that cannot allocate its message reaches nobody and says so. */
static void test_publish_enomem(void **state)
{
    (void)state;
    chaos c = {0};
    cmee_allocator a = chaos_allocator(&c);
    cmee_broadcaster *b = NULL;
    assert_int_equal(cmee_broadcaster_new(&a, &b), CMEE_OK);
    cmee_subscriber *s1 = NULL, *s2 = NULL;
    assert_int_equal(cmee_broadcaster_subscribe(b, "ticks.*", NULL, &s1), CMEE_OK);
    assert_int_equal(cmee_broadcaster_subscribe(b, "ticks.A", NULL, &s2), CMEE_OK);
    cmee_tick t = tick_at(1, 1);
    c.fail_all = true;
    assert_bst(b, cmee_broadcaster_publish_tick(b, "A", &t), CMEE_ENOMEM);
    assert_errmsg_has(b, "out of memory");
    assert_errmsg_has(b, "ticks.A");
    assert_int_equal(count_waiting(s1), 0);
    assert_int_equal(count_waiting(s2), 0);
    assert_false(fd_readable(s1));
    /* Nobody wants it: no allocation, no failure. */
    assert_int_equal(cmee_broadcaster_publish_event(b, "zz", 0, "x", "{}"), CMEE_OK);
    c.fail_all = false;
    assert_int_equal(cmee_broadcaster_publish_tick(b, "A", &t), CMEE_OK);
    assert_int_equal(count_waiting(s1), 1);
    cmee_broadcaster_free(b);
    assert_int_equal(c.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_exact_and_prefix),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_message_fields),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_overflow_oldest),
        cmocka_unit_test(test_overflow_newest),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_wait_wakes),
        cmocka_unit_test(test_callback),
        cmocka_unit_test(test_callback_slow),
        cmocka_unit_test(test_callback_self_free),
        cmocka_unit_test(test_mt_publishers),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_group_fd),
        cmocka_unit_test(test_group_wait),
        cmocka_unit_test(test_group_free),
        cmocka_unit_test(test_group_mt),
        cmocka_unit_test(test_group_churn),
        cmocka_unit_test(test_group_bad_args),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_publish_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
