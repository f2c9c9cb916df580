/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/signals.h
 * @brief Technical indicators, batch and streaming, with TA-Lib's classic values.
 *
 * The signals module depends only on core: it works on any price series, generated or real.
 *
 * Every indicator is described by a ::cmee_ind_info (name, inputs, parameters with defaults and
 * ranges, outputs) and computed two ways that give bit-identical numbers:
 *  - batch, cmee_ind_compute(): a whole series in, one array per output, aligned with the input
 *    (output[i] belongs to bar i) and NaN for the first `lookback` bars;
 *  - streaming, cmee_ind_stream_update(): one bar at a time with O(1) work per bar (O(period)
 *    for CCI, whose mean deviation needs the whole window).
 *
 * Values follow TA-Lib's classic conventions for the same parameters (EMA seeded with the SMA of
 * its first period, Wilder smoothing for RSI/ATR/ADX, MACD's fast EMA seeded late so both EMAs
 * start together, ROC in percent, OBV starting at the first volume, TA-Lib's SAR start). The
 * deliberate differences are listed in docs/signals.md.
 *
 * Input rules, for every indicator: parameters outside their documented range (e.g. a period
 * below 1) and NaN or infinite input values are refused with ::CMEE_EINVAL and a
 * ::cmee_error naming the parameter or the first bad element; a series shorter than the
 * lookback is valid and gives all-NaN outputs.
 *
 * Thread-safety: the batch functions and the info functions are thread-safe; a stream handle is
 * used by one thread at a time.
 */
#ifndef CMEE_SIGNALS_H
#define CMEE_SIGNALS_H

#include <cmee/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The indicator table: X(ID, "name"). The order is the order of ::cmee_ind_id and of
 * cmee_ind_info(); new indicators are appended.
 */
#define CMEE_INDICATOR_MAP(X)                                                                      \
    X(SMA, "sma")                                                                                  \
    X(EMA, "ema")                                                                                  \
    X(WMA, "wma")                                                                                  \
    X(DEMA, "dema")                                                                                \
    X(TEMA, "tema")                                                                                \
    X(RSI, "rsi")                                                                                  \
    X(MACD, "macd")                                                                                \
    X(BBANDS, "bbands")                                                                            \
    X(ATR, "atr")                                                                                  \
    X(NATR, "natr")                                                                                \
    X(STOCH, "stoch")                                                                              \
    X(STOCHRSI, "stochrsi")                                                                        \
    X(ADX, "adx")                                                                                  \
    X(CCI, "cci")                                                                                  \
    X(MOM, "mom")                                                                                  \
    X(ROC, "roc")                                                                                  \
    X(WILLR, "willr")                                                                              \
    X(OBV, "obv")                                                                                  \
    X(SAR, "sar")                                                                                  \
    X(VWAP, "vwap")                                                                                \
    X(STDDEV, "stddev")

/** Indicator identifiers, CMEE_IND_SMA to CMEE_IND_STDDEV. */
typedef enum cmee_ind_id {
#define CMEE__IND_ENUM(id, name) CMEE_IND_##id,
    CMEE_INDICATOR_MAP(CMEE__IND_ENUM)
#undef CMEE__IND_ENUM
        CMEE_IND_COUNT /**< number of indicators */
} cmee_ind_id;

/** Most parameters any indicator has. */
#define CMEE_IND_MAX_PARAMS 3
/** Most outputs any indicator has. */
#define CMEE_IND_MAX_OUTPUTS 3

/** Input fields, as a bit mask in cmee_ind_info::inputs. */
enum cmee_ind_input {
    CMEE_IN_OPEN = 1,    /**< open prices */
    CMEE_IN_HIGH = 2,    /**< high prices */
    CMEE_IN_LOW = 4,     /**< low prices */
    CMEE_IN_CLOSE = 8,   /**< close prices */
    CMEE_IN_VOLUME = 16, /**< volumes */
};

/** Static description of an indicator. */
typedef struct cmee_ind_info {
    cmee_ind_id id;     /**< its identifier */
    const char *name;   /**< short name, e.g. "macd" (the CLI and Python use it) */
    const char *title;  /**< e.g. "Moving Average Convergence/Divergence" */
    unsigned inputs;    /**< mask of ::cmee_ind_input fields it reads */
    size_t nparams;     /**< number of parameters, 0 to ::CMEE_IND_MAX_PARAMS */
    const char *param_names[CMEE_IND_MAX_PARAMS];  /**< e.g. "fast", "slow", "signal" */
    double param_defaults[CMEE_IND_MAX_PARAMS];    /**< TA-Lib's defaults */
    double param_min[CMEE_IND_MAX_PARAMS];         /**< smallest accepted value */
    double param_max[CMEE_IND_MAX_PARAMS];         /**< largest accepted value */
    int param_integer[CMEE_IND_MAX_PARAMS];        /**< nonzero: must be a whole number */
    size_t noutputs;                               /**< number of outputs, 1 to 3 */
    const char *output_names[CMEE_IND_MAX_OUTPUTS]; /**< e.g. "macd", "signal", "hist" */
} cmee_ind_info;

/**
 * The description of indicator @p id.
 * @returns a borrowed pointer to static data, or NULL if @p id is not a ::cmee_ind_id.
 * @since 0.1.0
 */
CMEE_API const cmee_ind_info *cmee_ind_info_get(cmee_ind_id id);

/**
 * Find an indicator by its short name ("sma", ..., "stddev").
 * @param[out] out written only on success.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ENOTFOUND for an unknown name.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_ind_find(const char *name, cmee_ind_id *out);

/**
 * A price series as one array per field, all of length @p n. Only the fields an indicator
 * reads (cmee_ind_info::inputs) need to be non-NULL. Arrays are borrowed for the call.
 */
typedef struct cmee_series {
    const double *open;   /**< open prices */
    const double *high;   /**< high prices */
    const double *low;    /**< low prices */
    const double *close;  /**< close prices */
    const double *volume; /**< volumes */
    size_t n;             /**< number of bars */
} cmee_series;

/**
 * Split @p n candles into the five arrays of @p buf (5 * n doubles: open, high, low, close,
 * volume in turn) and point @p out at them. A convenience for callers holding candles.
 *
 * @returns ::CMEE_OK, or ::CMEE_EINVAL for NULL arguments (with n > 0).
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_series_from_candles(const cmee_candle *candles, size_t n, double *buf,
                                              cmee_series *out);

/**
 * How many leading outputs of indicator @p id are undefined (NaN) for these parameters.
 *
 * @param[in]  params cmee_ind_info::nparams values, or NULL for the defaults.
 * @param[out] out    written only on success.
 * @param[out] err    optional details of a failure.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for a bad id, NULL @p out or a parameter out of range.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_ind_lookback(cmee_ind_id id, const double *params, size_t *out,
                                       cmee_error *err);

/**
 * Compute indicator @p id over a whole series.
 *
 * Cost: O(n) (O(n x period) for CCI); no allocation for periods up to 512 (larger windows use
 * one allocation per call).
 *
 * @param[in]  params cmee_ind_info::nparams values, or NULL for the defaults.
 * @param[in]  in     the series; the fields the indicator reads must be non-NULL and finite.
 * @param[out] out    cmee_ind_info::noutputs caller arrays of in->n doubles each, never kept;
 *                    out[k][i] is output k at bar i, NaN for i < lookback. Written only on
 *                    success.
 * @param[out] err    optional details of a failure.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for a bad id, NULL arguments, a parameter out of range or a
 *          non-finite input value; ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_ind_compute(cmee_ind_id id, const double *params, const cmee_series *in,
                                      double *const *out, cmee_error *err);

/** An incremental indicator: one bar in, the outputs for that bar out. Opaque. */
typedef struct cmee_ind_stream cmee_ind_stream;

/**
 * Create a stream for indicator @p id. Feeding it the bars of a series one by one gives exactly
 * (bit for bit) the batch outputs for that series.
 *
 * @param[in]  params cmee_ind_info::nparams values, or NULL for the defaults.
 * @param[in]  alloc  allocator, or NULL for malloc/free.
 * @param[out] out    the new stream, owned by the caller: free with cmee_ind_stream_free().
 * @param[out] err    optional details of a failure.
 * @returns ::CMEE_OK, ::CMEE_EINVAL (bad id, parameter, allocator or NULL @p out),
 *          ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_ind_stream_new(cmee_ind_id id, const double *params,
                                         const cmee_allocator *alloc, cmee_ind_stream **out,
                                         cmee_error *err);

/**
 * Feed the next bar. Writes cmee_ind_info::noutputs values to @p out: NaN while the stream is
 * inside its lookback. O(1) work (O(period) for CCI), no allocation.
 *
 * @param[in]  bar the bar; the fields the indicator reads must be finite (time is ignored).
 * @param[out] out room for cmee_ind_info::noutputs doubles; written only on success.
 * @returns ::CMEE_OK, or ::CMEE_EINVAL for NULL arguments or a non-finite input (the stream is
 *          left unchanged).
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_ind_stream_update(cmee_ind_stream *s, const cmee_candle *bar,
                                            double *out);

/** Forget every bar fed so far, as if just created. Accepts NULL. @since 0.1.0 */
CMEE_API void cmee_ind_stream_reset(cmee_ind_stream *s);

/** The indicator a stream computes. @p s must not be NULL. @since 0.1.0 */
CMEE_API cmee_ind_id cmee_ind_stream_id(const cmee_ind_stream *s);

/** Free a stream. Accepts NULL. @since 0.1.0 */
CMEE_API void cmee_ind_stream_free(cmee_ind_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_SIGNALS_H */
