/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Streaming equals batch bit for bit, for every indicator in the table, with default and random
 * parameters, on trending, volatile and flat data; reset starts over; a refused bar leaves the
 * stream unchanged. VWAP (not in TA-Lib) is checked against a direct windowed computation.
 */
#include <stdlib.h>

#include "cmee_test.h"

#define N 6000

typedef struct data {
    cmee_candle c[N];
    double buf[5 * N];
    cmee_series s;
} data;

static data sets[3];

static int setup(void **state)
{
    cmee_market *m = cmee_test_market(77);
    cmee_symbol_spec flat;
    cmee_symbol_spec_init(&flat, "FLAT");
    flat.seed_price = 50;
    flat.tick_size = 1;
    flat.precision = 0;
    flat.volatility = 0.05; /* moves of less than a tick most minutes: many flat bars */
    assert_int_equal(cmee_market_set_symbol(m, &flat), CMEE_OK);
    const char *sym[3] = {"BTCUSD", "DOGEUSD", "FLAT"};
    const cmee_timeframe tf[3] = {CMEE_TF_1H, CMEE_TF_5M, CMEE_TF_1M};
    for (int k = 0; k < 3; k++) {
        size_t n;
        assert_int_equal(cmee_market_candles_last(m, sym[k], tf[k], CMEE_ANCHOR_TIME, N,
                                                  sets[k].c, N, &n),
                         CMEE_OK);
        assert_int_equal(cmee_series_from_candles(sets[k].c, N, sets[k].buf, &sets[k].s),
                         CMEE_OK);
    }
    cmee_market_free(m);
    return 0;
}

static void random_params(const cmee_ind_info *info, double *p)
{
    for (size_t k = 0; k < info->nparams; k++) {
        if (info->param_integer[k])
            p[k] = 1 + rand() % 60;
        else
            p[k] = info->param_defaults[k] * (0.5 + 1.5 * rand() / (double)RAND_MAX);
    }
}

static bool same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_equal(cmee_ind_id id, const double *params, const data *d)
{
    const cmee_ind_info *info = cmee_ind_info_get(id);
    static double ob[CMEE_IND_MAX_OUTPUTS][N];
    double *out[CMEE_IND_MAX_OUTPUTS] = {ob[0], ob[1], ob[2]};
    cmee_error err;
    if (cmee_ind_compute(id, params, &d->s, out, &err) != CMEE_OK)
        fail_msg("%s: %s", info->name, err.text);
    size_t lookback;
    assert_int_equal(cmee_ind_lookback(id, params, &lookback, NULL), CMEE_OK);

    cmee_ind_stream *s;
    assert_int_equal(cmee_ind_stream_new(id, params, NULL, &s, NULL), CMEE_OK);
    assert_int_equal(cmee_ind_stream_id(s), id);
    /* Half the series, a reset, then all of it: the reset must forget everything. */
    for (int pass = 0; pass < 2; pass++) {
        size_t stop = pass == 0 ? N / 2 : N;
        for (size_t i = 0; i < stop; i++) {
            double o[CMEE_IND_MAX_OUTPUTS];
            assert_int_equal(cmee_ind_stream_update(s, &d->c[i], o), CMEE_OK);
            for (size_t k = 0; k < info->noutputs; k++) {
                if (!same(o[k], out[k][i]))
                    fail_msg("%s(%g,%g,%g) %s[%zu]: stream %.17g, batch %.17g", info->name,
                             params ? params[0] : 0, params ? params[1] : 0,
                             params ? params[2] : 0, info->output_names[k], i, o[k], out[k][i]);
                /* NaN exactly inside the lookback. */
                if (isnan(out[k][i]) != (i < lookback))
                    fail_msg("%s(%g,%g,%g) %s[%zu] = %g with lookback %zu", info->name,
                             params ? params[0] : 0, params ? params[1] : 0,
                             params ? params[2] : 0, info->output_names[k], i, out[k][i],
                             lookback);
            }
        }
        cmee_ind_stream_reset(s);
    }
    cmee_ind_stream_free(s);
}

/* Every indicator: defaults, then 12 random parameter sets, on three kinds of data. */
static void test_stream_equals_batch(void **state)
{
    srand(2024);
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        for (int k = 0; k < 3; k++)
            check_equal((cmee_ind_id)id, NULL, &sets[k]);
        for (int r = 0; r < 12; r++) {
            double p[CMEE_IND_MAX_PARAMS] = {0};
            random_params(info, p);
            check_equal((cmee_ind_id)id, p, &sets[r % 3]);
        }
    }
}

/* A bar with NaN or infinity is refused and changes nothing. */
static void test_refused_bar(void **state)
{
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        cmee_ind_stream *a, *b;
        assert_int_equal(cmee_ind_stream_new((cmee_ind_id)id, NULL, NULL, &a, NULL), CMEE_OK);
        assert_int_equal(cmee_ind_stream_new((cmee_ind_id)id, NULL, NULL, &b, NULL), CMEE_OK);
        for (size_t i = 0; i < 300; i++) {
            double oa[3] = {1, 2, 3}, ob[3];
            if (i % 7 == 3) {
                cmee_candle bad = sets[0].c[i];
                bad.close = NAN;
                bad.high = INFINITY;
                bad.low = -INFINITY;
                bad.volume = NAN;
                assert_int_equal(cmee_ind_stream_update(a, &bad, oa), CMEE_EINVAL);
                assert_true(oa[0] == 1 && oa[1] == 2 && oa[2] == 3); /* out untouched */
            }
            assert_int_equal(cmee_ind_stream_update(a, &sets[0].c[i], oa), CMEE_OK);
            assert_int_equal(cmee_ind_stream_update(b, &sets[0].c[i], ob), CMEE_OK);
            for (size_t k = 0; k < info->noutputs; k++)
                assert_true(same(oa[k], ob[k]));
        }
        assert_int_equal(cmee_ind_stream_update(a, NULL, (double[3]){0}), CMEE_EINVAL);
        cmee_ind_stream_free(a);
        cmee_ind_stream_free(b);
    }
}

/* VWAP is libcmee's own: a rolling volume-weighted typical price, checked directly. */
static void test_vwap_direct(void **state)
{
    const size_t periods[] = {1, 14, 50};
    for (int k = 0; k < 3; k++) {
        for (size_t pi = 0; pi < 3; pi++) {
            size_t p = periods[pi];
            double param = (double)p;
            static double ob[N];
            double *out[1] = {ob};
            assert_int_equal(cmee_ind_compute(CMEE_IND_VWAP, &param, &sets[k].s, out, NULL),
                             CMEE_OK);
            for (size_t i = p - 1; i < N; i++) {
                double pv = 0, v = 0, tp_sum = 0;
                for (size_t j = i + 1 - p; j <= i; j++) {
                    const cmee_candle *c = &sets[k].c[j];
                    double tp = (c->high + c->low + c->close) / 3.0;
                    pv += tp * c->volume;
                    v += c->volume;
                    tp_sum += tp;
                }
                double want = v > 0 ? pv / v : tp_sum / (double)p;
                assert_rel_near(ob[i], want, 1e-9);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_equals_batch),
        cmocka_unit_test(test_refused_bar),
        cmocka_unit_test(test_vwap_direct),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
