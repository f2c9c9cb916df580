/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Contract 1: the same seed and settings give bit-identical candles whatever the order, range or
 * timeframe of requests, the market instance, and the number of threads. */
#include <pthread.h>
#include <stdlib.h>

#include "cmee_test.h"

#define N 3000 /* 1h candles: about four months */

static const int64_t START = INT64_C(1735689600000) - 40 * DAY_MS;

static void reference(cmee_market *m, const char *sym, cmee_timeframe tf, cmee_candle *out)
{
    size_t got;
    assert_status(m, cmee_market_candles(m, sym, tf, START, START + N * cmee_timeframe_ms(tf),
                                         out, N, &got),
                  CMEE_OK);
    assert_int_equal(got, N);
}

static void add_wild(cmee_market *m)
{
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "WILD");
    s.volatility = 0.9;
    s.tail_dof = 4;
    s.clustering = 1;
    s.jump_rate = 100;
    s.jump_mean = 0.01;
    s.jump_stdev = 0.05;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
}

/* Pieces of random length requested in random order equal one request for the whole. */
static void test_order_and_ranges(void **state)
{
    cmee_market *m = cmee_test_market(42);
    add_wild(m);
    const char *syms[] = {"BTCUSD", "EURUSD", "WILD"};
    static cmee_candle whole[N], pieces[N];
    srand(12345);
    for (size_t si = 0; si < 3; si++) {
        for (int tfi = 0; tfi < 2; tfi++) {
            cmee_timeframe tf = tfi ? CMEE_TF_1H : CMEE_TF_15M;
            int64_t tfms = cmee_timeframe_ms(tf);
            reference(m, syms[si], tf, whole);
            /* Cut [0, N) at random points and fetch the pieces back to front. */
            size_t cuts[64], nc = 0;
            cuts[nc++] = 0;
            while (cuts[nc - 1] < N && nc < 63) {
                size_t step = 1 + (size_t)rand() % 200;
                cuts[nc] = cuts[nc - 1] + step > N ? N : cuts[nc - 1] + step;
                nc++;
            }
            cuts[nc - 1] = N;
            memset(pieces, 0, sizeof pieces);
            for (size_t p = nc - 1; p > 0; p--) {
                size_t a = cuts[p - 1], b = cuts[p], got;
                assert_status(m,
                              cmee_market_candles(m, syms[si], tf, START + (int64_t)a * tfms,
                                                  START + (int64_t)b * tfms, pieces + a, b - a,
                                                  &got),
                              CMEE_OK);
                assert_int_equal(got, b - a);
            }
            assert_memory_equal(whole, pieces, sizeof whole);
            /* And candles_last over the same window. */
            size_t got;
            assert_status(m,
                          cmee_market_candles_last(m, syms[si], tf, START + N * tfms + tfms / 2,
                                                   N, pieces, N, &got),
                          CMEE_OK);
            assert_memory_equal(whole, pieces, sizeof whole);
        }
    }
    cmee_market_free(m);
}

/* Another market with the same seed, after other requests, gives the same; another seed,
 * another symbol give different candles. */
static void test_instances_and_seeds(void **state)
{
    static cmee_candle a[N], b[N];
    cmee_market *m1 = cmee_test_market(42), *m2 = cmee_test_market(42), *m3 = cmee_test_market(43);
    add_wild(m1);
    add_wild(m2);
    size_t got;
    /* Warm m2 with unrelated requests first. */
    assert_status(m2, cmee_market_candles(m2, "WILD", CMEE_TF_1D, CMEE_TIME_MIN,
                                          CMEE_TIME_MIN + 400 * DAY_MS, a, N, &got),
                  CMEE_OK);
    reference(m1, "WILD", CMEE_TF_1H, a);
    reference(m2, "WILD", CMEE_TF_1H, b);
    assert_memory_equal(a, b, sizeof a);
    reference(m1, "BTCUSD", CMEE_TF_1H, a);
    reference(m3, "BTCUSD", CMEE_TF_1H, b);
    size_t same = 0;
    for (size_t i = 0; i < N; i++)
        same += a[i].close == b[i].close;
    assert_true(same < N / 50);
    reference(m1, "ETHUSD", CMEE_TF_1H, b);
    for (size_t i = 1; i < N; i++) /* not a rescaled copy of BTCUSD */
        if (a[i].close / a[0].close != b[i].close / b[0].close)
            goto differ;
    fail_msg("ETHUSD follows BTCUSD");
differ:
    cmee_market_free(m1);
    cmee_market_free(m2);
    cmee_market_free(m3);
}

typedef struct job {
    cmee_market *m;
    const char *sym;
    cmee_candle *out;
    int order; /* 0: front to back in one call; 1: back to front in days */
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    int64_t tfms = HOUR_MS;
    size_t got;
    if (j->order == 0) {
        cmee_market_candles(j->m, j->sym, CMEE_TF_1H, START, START + N * tfms, j->out, N, &got);
    } else {
        for (int64_t i = N - 24; i >= 0; i -= 24)
            cmee_market_candles(j->m, j->sym, CMEE_TF_1H, START + i * tfms,
                                START + (i + 24) * tfms, j->out + i, 24, &got);
    }
    return NULL;
}

/* Eight threads on one market, in different orders, get the single-threaded answer. */
static void test_threads(void **state)
{
    cmee_market *m = cmee_test_market(42);
    add_wild(m);
    static cmee_candle ref[2][N], out[8][N];
    reference(m, "WILD", CMEE_TF_1H, ref[0]);
    reference(m, "BTCUSD", CMEE_TF_1H, ref[1]);
    pthread_t th[8];
    job jobs[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){m, i % 2 ? "BTCUSD" : "WILD", out[i], (i / 2) % 2};
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++)
        assert_memory_equal(out[i], ref[i % 2], sizeof ref[0]);
    cmee_market_free(m);
}

/* Random access: a window decades away costs no replay and equals the same window fetched as
 * part of a longer range. */
static void test_far_window(void **state)
{
    cmee_market *m = cmee_test_market(5);
    static cmee_candle a[500], b[2000];
    int64_t t = INT64_C(4102444800000); /* 2100-01-01 */
    size_t got;
    assert_status(m, cmee_market_candles_last(m, "XAUUSD", CMEE_TF_1H, t, 500, a, 500, &got),
                  CMEE_OK);
    assert_status(m, cmee_market_candles_last(m, "XAUUSD", CMEE_TF_1H, t + 1500 * HOUR_MS, 2000,
                                              b, 2000, &got),
                  CMEE_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(a[499].time, t - HOUR_MS);
    cmee_market_free(m);
}

typedef struct failer {
    cmee_market *m;
    int bad; /* which bad request this thread repeats */
    int torn;
} failer;

static void *run_failer(void *arg)
{
    failer *f = arg;
    static const char *const want[] = {"symbol: unknown symbol \"NOPE\"",
                                       "timeframe: must be one of 1m 5m 15m 1h 4h 1d, got 7"};
    cmee_candle c[1];
    size_t n;
    char buf[CMEE_SYMBOL_MAX * 8];
    for (int i = 0; i < 2000; i++) {
        if (f->bad == 0)
            cmee_market_candles(f->m, "NOPE", CMEE_TF_1H, CMEE_ANCHOR_TIME,
                                CMEE_ANCHOR_TIME + HOUR_MS, c, 1, &n);
        else
            cmee_market_candles(f->m, "BTCUSD", (cmee_timeframe)7, CMEE_ANCHOR_TIME,
                                CMEE_ANCHOR_TIME + HOUR_MS, c, 1, &n);
        size_t len = cmee_market_errmsg_copy(f->m, buf, sizeof buf);
        /* Whichever thread failed last, the copy is one whole message. */
        if (!(strcmp(buf, want[0]) == 0 || strcmp(buf, want[1]) == 0) || len != strlen(buf))
            f->torn++;
    }
    return NULL;
}

/* Failing queries on several threads leave whole messages for cmee_market_errmsg_copy(). */
static void test_errmsg_threads(void **state)
{
    cmee_market *m = cmee_test_market(1);
    pthread_t th[4];
    failer f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (failer){m, i % 2, 0};
        assert_int_equal(pthread_create(&th[i], NULL, run_failer, &f[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].torn, 0);
    }
    char small[8];
    assert_int_equal(cmee_market_errmsg_copy(m, small, sizeof small), strlen(cmee_market_errmsg(m)));
    assert_int_equal(strlen(small), 7);
    assert_int_equal(cmee_market_errmsg_copy(m, NULL, 0), 0);
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ranges),
        cmocka_unit_test(test_instances_and_seeds),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_far_window),
        cmocka_unit_test(test_errmsg_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
