/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bad input to the indicators: a status, a cmee_error naming the field, nothing written, no
 * leak; short series are valid and all-NaN. Also the table itself. */
#include <stdlib.h>

#include "cmee_test.h"

#define N 100

static double close_[N], high_[N], low_[N], vol_[N];

static int setup(void **state)
{
    for (int i = 0; i < N; i++) {
        close_[i] = 100 + 10 * sin(i / 5.0);
        high_[i] = close_[i] + 1;
        low_[i] = close_[i] - 1;
        vol_[i] = 10 + i;
    }
    return 0;
}

static cmee_series series(size_t n)
{
    return (cmee_series){close_, high_, low_, close_, vol_, n};
}

/* The table: 21 indicators with the names, parameters and output columns. */
static void test_table(void **state)
{
    static const char *const names[] = {"sma",   "ema",   "wma",  "dema", "tema",     "rsi",
                                        "macd",  "bbands", "atr", "natr", "stoch",    "stochrsi",
                                        "adx",   "cci",   "mom",  "roc",  "willr",    "obv",
                                        "sar",   "vwap",  "stddev"};
    assert_int_equal(CMEE_IND_COUNT, 21);
    for (int i = 0; i < CMEE_IND_COUNT; i++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)i);
        assert_non_null(info);
        assert_int_equal(info->id, i);
        assert_string_equal(info->name, names[i]);
        cmee_ind_id id;
        assert_int_equal(cmee_ind_find(names[i], &id), CMEE_OK);
        assert_int_equal(id, i);
        assert_true(info->noutputs >= 1 && info->noutputs <= CMEE_IND_MAX_OUTPUTS);
        for (size_t k = 0; k < info->nparams; k++)
            assert_true(info->param_defaults[k] >= info->param_min[k] &&
                        info->param_defaults[k] <= info->param_max[k]);
    }
    const cmee_ind_info *m = cmee_ind_info_get(CMEE_IND_MACD);
    assert_string_equal(m->param_names[0], "fast");
    assert_string_equal(m->param_names[1], "slow");
    assert_string_equal(m->param_names[2], "signal");
    assert_string_equal(m->output_names[2], "hist");
    assert_string_equal(cmee_ind_info_get(CMEE_IND_BBANDS)->output_names[0], "upper");
    assert_string_equal(cmee_ind_info_get(CMEE_IND_STOCH)->output_names[1], "slowd");
    assert_string_equal(cmee_ind_info_get(CMEE_IND_STOCHRSI)->param_names[0], "period");
    assert_string_equal(cmee_ind_info_get(CMEE_IND_ADX)->output_names[1], "plus_di");
    assert_string_equal(cmee_ind_info_get(CMEE_IND_SAR)->param_names[1], "max");
    assert_null(cmee_ind_info_get(CMEE_IND_COUNT));
    assert_null(cmee_ind_info_get((cmee_ind_id)-1));
    cmee_ind_id id = CMEE_IND_SMA;
    assert_int_equal(cmee_ind_find("SMA", &id), CMEE_ENOTFOUND);
    assert_int_equal(cmee_ind_find(NULL, &id), CMEE_EINVAL);
    assert_int_equal(id, CMEE_IND_SMA);
}

/* Lookbacks for TA-Lib's defaults. */
static void test_lookbacks(void **state)
{
    static const size_t want[CMEE_IND_COUNT] = {
        [CMEE_IND_SMA] = 29,   [CMEE_IND_EMA] = 29,      [CMEE_IND_WMA] = 29,
        [CMEE_IND_DEMA] = 58,  [CMEE_IND_TEMA] = 87,     [CMEE_IND_RSI] = 14,
        [CMEE_IND_MACD] = 33,  [CMEE_IND_BBANDS] = 4,    [CMEE_IND_ATR] = 14,
        [CMEE_IND_NATR] = 14,  [CMEE_IND_STOCH] = 8,     [CMEE_IND_STOCHRSI] = 20,
        [CMEE_IND_ADX] = 27,   [CMEE_IND_CCI] = 13,      [CMEE_IND_MOM] = 10,
        [CMEE_IND_ROC] = 10,   [CMEE_IND_WILLR] = 13,    [CMEE_IND_OBV] = 0,
        [CMEE_IND_SAR] = 1,    [CMEE_IND_VWAP] = 13,     [CMEE_IND_STDDEV] = 4,
    };
    for (int i = 0; i < CMEE_IND_COUNT; i++) {
        size_t lb = 999;
        assert_int_equal(cmee_ind_lookback((cmee_ind_id)i, NULL, &lb, NULL), CMEE_OK);
        assert_int_equal(lb, want[i]);
    }
    double macd_swapped[3] = {26, 12, 9}; /* TA-Lib swaps fast and slow */
    size_t lb;
    assert_int_equal(cmee_ind_lookback(CMEE_IND_MACD, macd_swapped, &lb, NULL), CMEE_OK);
    assert_int_equal(lb, 33);
}

/* Parameters out of range: EINVAL, the error names the parameter, outputs untouched. */
static void test_bad_params(void **state)
{
    struct {
        cmee_ind_id id;
        double p[3];
        const char *field;
    } cases[] = {
        {CMEE_IND_SMA, {0}, "period"},         {CMEE_IND_SMA, {-1}, "period"},
        {CMEE_IND_EMA, {14.5}, "period"},      {CMEE_IND_RSI, {NAN}, "period"},
        {CMEE_IND_RSI, {1e9}, "period"},       {CMEE_IND_MACD, {12, 0, 9}, "slow"},
        {CMEE_IND_MACD, {12, 26, -3}, "signal"}, {CMEE_IND_BBANDS, {5, -1, 2}, "up"},
        {CMEE_IND_BBANDS, {5, 2, INFINITY}, "down"}, {CMEE_IND_STOCH, {5, 0, 3}, "slowk"},
        {CMEE_IND_SAR, {-0.02, 0.2}, "accel"}, {CMEE_IND_SAR, {0.02, 2}, "max"},
    };
    cmee_series s = series(N);
    static double o[3][N];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < N; i++)
                o[k][i] = 7.0;
        double *out[3] = {o[0], o[1], o[2]};
        cmee_error err;
        memset(&err, 0, sizeof err);
        assert_int_equal(cmee_ind_compute(cases[c].id, cases[c].p, &s, out, &err), CMEE_EINVAL);
        assert_int_equal(err.status, CMEE_EINVAL);
        assert_string_equal(err.field, cases[c].field);
        assert_int_equal(strncmp(err.text, cases[c].field, strlen(cases[c].field)), 0);
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < N; i++)
                assert_true(o[k][i] == 7.0);
        size_t lb = 5;
        assert_int_equal(cmee_ind_lookback(cases[c].id, cases[c].p, &lb, NULL), CMEE_EINVAL);
        assert_int_equal(lb, 5);
        cmee_ind_stream *st = (cmee_ind_stream *)&lb;
        assert_int_equal(cmee_ind_stream_new(cases[c].id, cases[c].p, NULL, &st, NULL),
                         CMEE_EINVAL);
        assert_ptr_equal(st, (cmee_ind_stream *)&lb);
    }
}

/* NaN and infinities in the input are refused, naming the first bad element. */
static void test_non_finite_input(void **state)
{
    static double c2[N];
    memcpy(c2, close_, sizeof c2);
    c2[17] = NAN;
    cmee_series s = {NULL, high_, low_, c2, vol_, N};
    static double o[3][N];
    double *out[3] = {o[0], o[1], o[2]};
    cmee_error err;
    assert_int_equal(cmee_ind_compute(CMEE_IND_SMA, NULL, &s, out, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "close[17]");
    c2[17] = close_[17];
    c2[42] = -INFINITY;
    assert_int_equal(cmee_ind_compute(CMEE_IND_RSI, NULL, &s, out, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "close[42]");
    /* A field the indicator does not read may be anything, even NULL. */
    s.close = close_;
    s.volume = NULL;
    assert_int_equal(cmee_ind_compute(CMEE_IND_ATR, NULL, &s, out, &err), CMEE_OK);
    assert_int_equal(cmee_ind_compute(CMEE_IND_OBV, NULL, &s, out, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "volume");
    s.volume = vol_;
    double h2[N];
    memcpy(h2, high_, sizeof h2);
    h2[3] = INFINITY;
    s.high = h2;
    assert_int_equal(cmee_ind_compute(CMEE_IND_ADX, NULL, &s, out, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "high[3]");
}

/* NULL arguments. */
static void test_null(void **state)
{
    cmee_series s = series(N);
    static double o[3][N];
    double *out[3] = {o[0], o[1], o[2]};
    double *holes[3] = {o[0], NULL, o[2]};
    assert_int_equal(cmee_ind_compute(CMEE_IND_SMA, NULL, NULL, out, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_ind_compute(CMEE_IND_SMA, NULL, &s, NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_ind_compute(CMEE_IND_MACD, NULL, &s, holes, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_ind_compute(CMEE_IND_COUNT, NULL, &s, out, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_ind_lookback(CMEE_IND_SMA, NULL, NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_ind_stream_new(CMEE_IND_SMA, NULL, NULL, NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_ind_stream_update(NULL, NULL, NULL), CMEE_EINVAL);
    cmee_ind_stream_free(NULL);
    cmee_ind_stream_reset(NULL);
    assert_int_equal(cmee_series_from_candles(NULL, 3, NULL, &s), CMEE_EINVAL);
}

/* Shorter than the lookback (or empty): valid, every output NaN. */
static void test_short_series(void **state)
{
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        size_t lb;
        assert_int_equal(cmee_ind_lookback((cmee_ind_id)id, NULL, &lb, NULL), CMEE_OK);
        cmee_series s = series(lb);
        static double o[3][N];
        double *out[3] = {o[0], o[1], o[2]};
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < lb; i++)
                o[k][i] = 0;
        assert_int_equal(cmee_ind_compute((cmee_ind_id)id, NULL, &s, out, NULL), CMEE_OK);
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        for (size_t k = 0; k < info->noutputs; k++)
            for (size_t i = 0; i < lb; i++)
                assert_true(isnan(o[k][i]));
        s.n = 0;
        assert_int_equal(cmee_ind_compute((cmee_ind_id)id, NULL, &s, out, NULL), CMEE_OK);
    }
}

/* Large windows take the allocation path and still agree with the stream. */
static void test_large_window(void **state)
{
    enum { M = 3000 };
    static double x[M], o[M];
    for (int i = 0; i < M; i++)
        x[i] = 100 + sin(i * 0.01) + i * 1e-3;
    cmee_series s = {NULL, NULL, NULL, x, NULL, M};
    double p = 2000;
    double *out[1] = {o};
    assert_int_equal(cmee_ind_compute(CMEE_IND_SMA, &p, &s, out, NULL), CMEE_OK);
    double direct = 0;
    for (int i = M - 2000; i < M; i++)
        direct += x[i];
    assert_rel_near(o[M - 1], direct / 2000, 1e-12);
}

/* Every allocation of cmee_ind_stream_new failing in turn: ENOMEM, nothing leaked. */
static void test_stream_oom(void **state)
{
    chaos c;
    cmee_allocator a = chaos_allocator(&c);
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        for (long fail_at = 1;; fail_at++) {
            c = (chaos){.fail_at = fail_at};
            cmee_ind_stream *s = NULL;
            cmee_status st = cmee_ind_stream_new((cmee_ind_id)id, NULL, &a, &s, NULL);
            if (st == CMEE_OK) {
                cmee_ind_stream_free(s);
                assert_int_equal(c.live, 0);
                break;
            }
            assert_int_equal(st, CMEE_ENOMEM);
            assert_null(s);
            assert_int_equal(c.live, 0);
        }
    }
    cmee_allocator bad = {chaos_malloc, NULL, chaos_free, &c};
    cmee_ind_stream *s = NULL;
    assert_int_equal(cmee_ind_stream_new(CMEE_IND_SMA, NULL, &bad, &s, NULL), CMEE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_lookbacks),
        cmocka_unit_test(test_bad_params),     cmocka_unit_test(test_non_finite_input),
        cmocka_unit_test(test_null),           cmocka_unit_test(test_short_series),
        cmocka_unit_test(test_large_window),   cmocka_unit_test(test_stream_oom),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
