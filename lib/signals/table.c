/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The indicator table: names, inputs, parameters (TA-Lib's defaults), outputs, lookbacks. */
#include <stdio.h>
#include <string.h>

#include "ind.h"

#define H CMEE_IN_HIGH
#define L CMEE_IN_LOW
#define C CMEE_IN_CLOSE
#define V CMEE_IN_VOLUME
#define P(name, def, lo, hi, integer) name, def, lo, hi, integer
#define PERIOD(def) P("period", def, 1, 100000, 1)
#define NONE P(NULL, 0, 0, 0, 0)

/* One row per indicator: id, name, title, inputs, nparams, then three parameter slots
 * (name, default, min, max, integer) and three output names. */
#define ROW(id, name, title, in, np, p1, p2, p3, no, o1, o2, o3)                                   \
    [CMEE_IND_##id] = {CMEE_IND_##id, name, title, in, np, ROW_P(p1, p2, p3), no, {o1, o2, o3}},
#define ROW_P(n1, d1, lo1, hi1, i1, n2, d2, lo2, hi2, i2, n3, d3, lo3, hi3, i3)                    \
    {n1, n2, n3}, {d1, d2, d3}, {lo1, lo2, lo3}, {hi1, hi2, hi3}, { i1, i2, i3 }

static const cmee_ind_info table[CMEE_IND_COUNT] = {
    ROW(SMA, "sma", "Simple Moving Average", C, 1, PERIOD(30), NONE, NONE, 1, "sma", 0, 0)
    ROW(EMA, "ema", "Exponential Moving Average", C, 1, PERIOD(30), NONE, NONE, 1, "ema", 0, 0)
    ROW(WMA, "wma", "Weighted Moving Average", C, 1, PERIOD(30), NONE, NONE, 1, "wma", 0, 0)
    ROW(DEMA, "dema", "Double Exponential Moving Average", C, 1, PERIOD(30), NONE, NONE, 1, "dema",
        0, 0)
    ROW(TEMA, "tema", "Triple Exponential Moving Average", C, 1, PERIOD(30), NONE, NONE, 1, "tema",
        0, 0)
    ROW(RSI, "rsi", "Relative Strength Index", C, 1, PERIOD(14), NONE, NONE, 1, "rsi", 0, 0)
    ROW(MACD, "macd", "Moving Average Convergence/Divergence", C, 3, P("fast", 12, 1, 100000, 1),
        P("slow", 26, 1, 100000, 1), P("signal", 9, 1, 100000, 1), 3, "macd", "signal", "hist")
    ROW(BBANDS, "bbands", "Bollinger Bands", C, 3, PERIOD(5), P("up", 2, 0, 100, 0),
        P("down", 2, 0, 100, 0), 3, "upper", "middle", "lower")
    ROW(ATR, "atr", "Average True Range", H | L | C, 1, PERIOD(14), NONE, NONE, 1, "atr", 0, 0)
    ROW(NATR, "natr", "Normalized Average True Range", H | L | C, 1, PERIOD(14), NONE, NONE, 1,
        "natr", 0, 0)
    ROW(STOCH, "stoch", "Stochastic (slow %K and %D)", H | L | C, 3, P("k", 5, 1, 100000, 1),
        P("slowk", 3, 1, 100000, 1), P("slowd", 3, 1, 100000, 1), 2, "slowk", "slowd", 0)
    ROW(STOCHRSI, "stochrsi", "Stochastic RSI", C, 3, PERIOD(14), P("k", 5, 1, 100000, 1),
        P("d", 3, 1, 100000, 1), 2, "k", "d", 0)
    ROW(ADX, "adx", "Average Directional Index with +DI and -DI", H | L | C, 1, PERIOD(14), NONE,
        NONE, 3, "adx", "plus_di", "minus_di")
    ROW(CCI, "cci", "Commodity Channel Index", H | L | C, 1, PERIOD(14), NONE, NONE, 1, "cci", 0, 0)
    ROW(MOM, "mom", "Momentum", C, 1, PERIOD(10), NONE, NONE, 1, "mom", 0, 0)
    ROW(ROC, "roc", "Rate of Change, in percent", C, 1, PERIOD(10), NONE, NONE, 1, "roc", 0, 0)
    ROW(WILLR, "willr", "Williams' %R", H | L | C, 1, PERIOD(14), NONE, NONE, 1, "willr", 0, 0)
    ROW(OBV, "obv", "On Balance Volume", C | V, 0, NONE, NONE, NONE, 1, "obv", 0, 0)
    ROW(SAR, "sar", "Parabolic SAR", H | L, 2, P("accel", 0.02, 0, 1, 0), P("max", 0.2, 0, 1, 0),
        NONE, 1, "sar", 0, 0)
    ROW(VWAP, "vwap", "Rolling Volume-Weighted Average Price", H | L | C | V, 1, PERIOD(14), NONE,
        NONE, 1, "vwap", 0, 0)
    ROW(STDDEV, "stddev", "Rolling Standard Deviation (population)", C, 1, PERIOD(5), NONE, NONE,
        1, "stddev", 0, 0)
};

const cmee_ind_info *cmee_ind_info_get(cmee_ind_id id)
{
    return (unsigned)id < CMEE_IND_COUNT ? &table[id] : NULL;
}

cmee_status cmee_ind_find(const char *name, cmee_ind_id *out)
{
    if (!name || !out)
        return CMEE_EINVAL;
    for (int i = 0; i < CMEE_IND_COUNT; i++) {
        if (strcmp(table[i].name, name) == 0) {
            *out = (cmee_ind_id)i;
            return CMEE_OK;
        }
    }
    return CMEE_ENOTFOUND;
}

cmee_status cmee__ind_fail(cmee_error *err, cmee_status st, const char *field, const char *fmt,
                           ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = st;
        cmee__fmt(err->field, sizeof err->field, "%s", field);
        cmee__vfmt(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return st;
}

cmee_status cmee__ind_params(cmee_ind_id id, const double *params, double *full, cmee_error *err)
{
    const cmee_ind_info *info = cmee_ind_info_get(id);
    if (!info)
        return cmee__ind_fail(err, CMEE_EINVAL, "id", "id: unknown indicator %d", (int)id);
    for (size_t k = 0; k < CMEE_IND_MAX_PARAMS; k++)
        full[k] = k < info->nparams ? info->param_defaults[k] : 0.0;
    if (!params)
        return CMEE_OK;
    for (size_t k = 0; k < info->nparams; k++) {
        double v = params[k];
        const char *nm = info->param_names[k];
        if (!(v >= info->param_min[k] && v <= info->param_max[k]))
            return cmee__ind_fail(err, CMEE_EINVAL, nm, "%s: %s must be in [%g, %g], got %g",
                                  nm, info->name, info->param_min[k], info->param_max[k], v);
        if (info->param_integer[k] && v != (double)(long long)v)
            return cmee__ind_fail(err, CMEE_EINVAL, nm, "%s: %s must be a whole number, got %g",
                                  nm, info->name, v);
        full[k] = v;
    }
    return CMEE_OK;
}

size_t cmee__ind_lookback(cmee_ind_id id, const double *p)
{
    size_t a = (size_t)p[0], b = (size_t)p[1], c = (size_t)p[2];
    switch (id) {
    case CMEE_IND_SMA:
    case CMEE_IND_EMA:
    case CMEE_IND_WMA:
    case CMEE_IND_BBANDS:
    case CMEE_IND_CCI:
    case CMEE_IND_WILLR:
    case CMEE_IND_VWAP:
    case CMEE_IND_STDDEV:
        return a - 1;
    case CMEE_IND_DEMA:
        return 2 * (a - 1);
    case CMEE_IND_TEMA:
        return 3 * (a - 1);
    case CMEE_IND_RSI:
    case CMEE_IND_ATR:
    case CMEE_IND_NATR:
    case CMEE_IND_MOM:
    case CMEE_IND_ROC:
        return a;
    case CMEE_IND_MACD:
        return (a > b ? a : b) - 1 + c - 1;
    case CMEE_IND_STOCH:
        return (a - 1) + (b - 1) + (c - 1);
    case CMEE_IND_STOCHRSI:
        return a + (b - 1) + (c - 1);
    case CMEE_IND_ADX:
        return 2 * a - 1;
    case CMEE_IND_OBV:
        return 0;
    case CMEE_IND_SAR:
        return 1;
    case CMEE_IND_COUNT:
        break;
    }
    return 0;
}

cmee_status cmee_ind_lookback(cmee_ind_id id, const double *params, size_t *out, cmee_error *err)
{
    double full[CMEE_IND_MAX_PARAMS];
    cmee_status st = cmee__ind_params(id, params, full, err);
    if (st != CMEE_OK)
        return st;
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    *out = cmee__ind_lookback(id, full);
    return CMEE_OK;
}

cmee_status cmee_series_from_candles(const cmee_candle *candles, size_t n, double *buf,
                                     cmee_series *out)
{
    if (!out || (n > 0 && (!candles || !buf)))
        return CMEE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        buf[i] = candles[i].open;
        buf[n + i] = candles[i].high;
        buf[2 * n + i] = candles[i].low;
        buf[3 * n + i] = candles[i].close;
        buf[4 * n + i] = candles[i].volume;
    }
    *out = (cmee_series){buf, buf + n, buf + 2 * n, buf + 3 * n, buf + 4 * n, n};
    return CMEE_OK;
}
