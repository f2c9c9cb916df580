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

/* ============================================================================================
 * Signals: per-indicator rules combined into a consensus
 * ========================================================================================== */

/** The rules a consensus is built from. Each votes in [-1, 1] (+ buy, - sell) with a reason. */
typedef enum cmee_rule {
    CMEE_RULE_RSI = 0,      /**< RSI below oversold votes buy, above overbought votes sell */
    CMEE_RULE_MACD = 1,     /**< MACD line crossing its signal line (recently), and its side */
    CMEE_RULE_MA_CROSS = 2, /**< fast EMA crossing the slow EMA (recently), and its side */
    CMEE_RULE_BBANDS = 3,   /**< close outside a Bollinger band: breakout in that direction */
    CMEE_RULE_SQUEEZE = 4,  /**< Bollinger bandwidth at a low of the series: says so, no vote */
    CMEE_RULE_STOCH = 5,    /**< slow %K crossing %D in the oversold / overbought zone */
    CMEE_RULE_ADX = 6,      /**< ADX above the trend level: votes with +DI vs -DI, scaled */
    CMEE_RULE_COUNT = 7     /**< number of rules */
} cmee_rule;

/**
 * The short name of a rule ("rsi", "macd", "ma_cross", "bbands", "squeeze", "stoch", "adx"),
 * or NULL for a bad value. @since 0.1.0
 */
CMEE_API const char *cmee_rule_name(cmee_rule rule);

/** Direction of a consensus signal. */
typedef enum cmee_direction {
    CMEE_SELL = -1,   /**< sell */
    CMEE_NEUTRAL = 0, /**< no clear direction */
    CMEE_BUY = 1,     /**< buy */
} cmee_direction;

/** "BUY", "SELL" or "NEUTRAL" (NULL for a bad value). @since 0.1.0 */
CMEE_API const char *cmee_direction_name(cmee_direction d);

/** Weights and thresholds of the rules; fill with cmee_signal_config_init(). */
typedef struct cmee_signal_config {
    double weight[CMEE_RULE_COUNT]; /**< >= 0; a rule with weight 0 is skipped (default 1) */
    int rsi_period;                 /**< 14 */
    double rsi_overbought;          /**< 70 */
    double rsi_oversold;            /**< 30 */
    int macd_fast, macd_slow, macd_signal; /**< 12, 26, 9 (fast < slow) */
    int ma_fast, ma_slow;           /**< EMA periods, 9 and 21 (fast < slow) */
    int bb_period;                  /**< 20 */
    double bb_k;                    /**< band width in standard deviations, 2 */
    double squeeze_quantile;        /**< bandwidth at or below this quantile of the series, 0.1 */
    int stoch_k, stoch_slowk, stoch_slowd; /**< 14, 3, 3 */
    double stoch_overbought;        /**< 80 */
    double stoch_oversold;          /**< 20 */
    int adx_period;                 /**< 14 */
    double adx_trend;               /**< ADX level that means a trend, 25 */
    int cross_bars;                 /**< a cross within this many bars still counts, 3 */
    double threshold;               /**< |score| needed for BUY / SELL, 0.2 */
} cmee_signal_config;

/** Fill @p cfg with the defaults listed in ::cmee_signal_config. Accepts NULL. @since 0.1.0 */
CMEE_API void cmee_signal_config_init(cmee_signal_config *cfg);

/** One rule's contribution to a signal. */
typedef struct cmee_signal_reason {
    cmee_rule rule; /**< which rule */
    double vote;    /**< in [-1, 1]: + buy, - sell, 0 no opinion */
    double weight;  /**< the rule's weight */
    char text[112]; /**< what it saw, e.g. "RSI(14) 27.4 below 30: oversold" */
} cmee_signal_reason;

/** A consensus signal at one bar. */
typedef struct cmee_signal {
    cmee_direction direction; /**< BUY if score >= threshold, SELL if <= -threshold */
    double score;             /**< weighted mean vote of the voting rules, in [-1, 1]: rules in
                                   their lookback and the squeeze (which never votes) are left
                                   out of the weights */
    double strength;          /**< |score|, in [0, 1] */
    size_t index;             /**< the bar it was computed at */
    int64_t time;             /**< that bar's time */
    size_t nreasons;          /**< rules that had something to say (vote != 0 or a squeeze) */
    cmee_signal_reason reasons[CMEE_RULE_COUNT]; /**< those rules, in ::cmee_rule order */
} cmee_signal;

/**
 * Indicators of a whole candle series, computed once, from which a signal at any bar is
 * derived without look-ahead: the signal at bar i reads bars 0..i only. Opaque.
 */
typedef struct cmee_signal_ctx cmee_signal_ctx;

/**
 * Compute the indicators the rules need over @p candles (copied; not kept). Reads high, low
 * and close only. n == 0 is valid (an empty context; @p candles may then be NULL).
 *
 * @param[in]  cfg   weights and thresholds, or NULL for the defaults.
 * @param[out] out   new context, owned by the caller: free with cmee_signal_ctx_free().
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments, a bad setting (named in @p err) or
 *          non-finite candles; ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_signal_ctx_new(const cmee_candle *candles, size_t n,
                                         const cmee_signal_config *cfg,
                                         const cmee_allocator *alloc, cmee_signal_ctx **out,
                                         cmee_error *err);

/** Number of candles in the context. @since 0.1.0 */
CMEE_API size_t cmee_signal_ctx_size(const cmee_signal_ctx *ctx);

/**
 * The consensus signal at bar @p index. Rules whose indicators are still inside their lookback
 * abstain. Only reads the context: threads may share one.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ERANGE for index >= size.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_signal_ctx_at(const cmee_signal_ctx *ctx, size_t index,
                                        cmee_signal *out);

/** Free a context. Accepts NULL. @since 0.1.0 */
CMEE_API void cmee_signal_ctx_free(cmee_signal_ctx *ctx);

/**
 * The consensus signal at the last candle: cmee_signal_ctx_new() + cmee_signal_ctx_at() +
 * cmee_signal_ctx_free() in one call.
 * @returns as those; ::CMEE_EINVAL also for n == 0.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_signal_compute(const cmee_candle *candles, size_t n,
                                         const cmee_signal_config *cfg, cmee_signal *out,
                                         cmee_error *err);

/* ============================================================================================
 * Binary signals: CALL / PUT / NONE with an expiry
 * ========================================================================================== */

/** Direction of a binary-option signal. */
typedef enum cmee_binary_dir {
    CMEE_PUT = -1, /**< the price will be lower at expiry */
    CMEE_NONE = 0, /**< no trade */
    CMEE_CALL = 1, /**< the price will be higher at expiry */
} cmee_binary_dir;

/** "CALL", "PUT" or "NONE" (NULL for a bad value). @since 0.1.0 */
CMEE_API const char *cmee_binary_dir_name(cmee_binary_dir d);

/** How a consensus becomes a binary signal; fill with cmee_binary_config_init(). */
typedef struct cmee_binary_config {
    double min_strength;  /**< consensus strength needed for CALL / PUT, 0.3 */
    int expiry_bars;      /**< expiry in bars of the series' timeframe, 5 */
    int64_t expiry_ms;    /**< if > 0, the expiry in ms instead of expiry_bars (0) */
} cmee_binary_config;

/** Fill @p cfg with the defaults listed in ::cmee_binary_config. Accepts NULL. @since 0.1.0 */
CMEE_API void cmee_binary_config_init(cmee_binary_config *cfg);

/** A binary-option signal. */
typedef struct cmee_binary_signal {
    cmee_binary_dir direction; /**< CALL for BUY, PUT for SELL, when strong enough */
    double confidence;   /**< 0.5 + strength / 2 for CALL / PUT, in [0.5, 1]; 0 for NONE */
    int64_t expiry_ms;   /**< time from the signal to expiry */
    int64_t time;        /**< time of the bar it was computed at */
    int64_t expiry_time; /**< time + expiry_ms */
} cmee_binary_signal;

/**
 * Convert a consensus signal into a binary signal. CALL when the direction is BUY and the
 * strength is at least min_strength, PUT likewise for SELL, else NONE.
 *
 * @param[in] cfg          the settings; required (fill with cmee_binary_config_init()).
 * @param[in] timeframe_ms the bar length, for expiry_bars (e.g. cmee_timeframe_ms()).
 * @returns ::CMEE_OK, or ::CMEE_EINVAL for NULL arguments, a bad setting (min_strength outside
 *          [0, 1], expiry_bars < 1, negative expiry_ms, timeframe_ms <= 0 when it is used) or
 *          an expiry that overflows; nothing is written then.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_binary_from_signal(const cmee_signal *sig, const cmee_binary_config *cfg,
                                             int64_t timeframe_ms, cmee_binary_signal *out);

/* ============================================================================================
 * Market analysis
 * ========================================================================================== */

/** Trend, volatility and support/resistance of a candle series, at its last bar. */
typedef struct cmee_analysis {
    size_t n;               /**< candles analysed */
    int64_t time;           /**< time of the last candle */
    double close;           /**< its close */
    /* Trend */
    int trend;              /**< +1 up, -1 down, 0 sideways: the mean of the last 49 log returns
                                 is more than 2 standard errors from 0 and the fitted slope agrees */
    double trend_strength;  /**< in [0, 1]: 0 when sideways; min(1, ADX / 50) when +DI vs -DI
                                 agrees with the trend, that times r2 when it does not */
    double adx, plus_di, minus_di; /**< ADX(14) and its lines at the last bar */
    double slope_pct;       /**< least-squares slope of log close over the last 50 bars, % per bar */
    double r2;              /**< R^2 of that regression (0 if those closes are all equal) */
    /* Volatility */
    double atr;             /**< ATR(14) */
    double atr_pct;         /**< ATR / close * 100 */
    double realized_vol;    /**< annualised volatility of log returns over the last 50 bars */
    double vol_percentile;  /**< where that volatility ranks among all 50-bar windows, 0..100 */
    /* Support and resistance */
    double pivot, r1, r2_level, r3, s1, s2, s3;  /**< classic floor pivots of the previous bar */
    double fib_r1, fib_r2, fib_r3, fib_s1, fib_s2, fib_s3; /**< Fibonacci pivots, same bar */
    double support;         /**< nearest swing low below the close (NaN if none) */
    double resistance;      /**< nearest swing high above the close (NaN if none) */
    size_t nswing_highs, nswing_lows;  /**< swing points kept (at most 8 of each) */
    double swing_highs[8];  /**< highs above the 2 bars on each side, most recent first; NaN
                                 in unused slots */
    double swing_lows[8];   /**< lows below the 2 bars on each side, most recent first */
} cmee_analysis;

/**
 * Analyse @p candles at the last bar. Needs at least 60 candles (for ADX(14) and the 50-bar
 * windows).
 *
 * @param[in] timeframe_ms bar length for annualising volatility; 0 to infer it from the times.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments, fewer than 60 candles, non-finite
 *          values, a close at or below 0, or times not increasing (named in @p err).
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_analyze(const cmee_candle *candles, size_t n, int64_t timeframe_ms,
                                  cmee_analysis *out, cmee_error *err);

/* ============================================================================================
 * Evaluation: how binary signals really did
 * ========================================================================================== */

/** Settings of an evaluation; fill with cmee_eval_config_init(). */
typedef struct cmee_eval_config {
    cmee_signal_config signal; /**< the consensus rules */
    cmee_binary_config binary; /**< conversion to CALL / PUT (expiry_bars is used) */
    double payout;             /**< a winning option returns stake x payout, 0.8 */
    size_t warmup;             /**< bars skipped at the start, 50 */
} cmee_eval_config;

/** Fill @p cfg with defaults. Accepts NULL. @since 0.1.0 */
CMEE_API void cmee_eval_config_init(cmee_eval_config *cfg);

/** What an evaluation found. */
typedef struct cmee_eval_result {
    size_t trades;         /**< CALL / PUT signals taken (one open at a time) */
    size_t calls, puts;    /**< of which CALL and PUT */
    size_t wins, losses, ties; /**< outcomes at expiry (a tie returns the stake) */
    double hit_rate;       /**< wins / (wins + losses); NaN with no decided trade */
    double ci_low, ci_high; /**< Wilson 95 % interval of the hit rate */
    double expectancy;     /**< mean profit per unit stake: (wins x payout - losses) / trades */
    double breakeven;      /**< hit rate at which expectancy is 0: 1 / (1 + payout) */
} cmee_eval_result;

/**
 * Replay @p candles bar by bar: at each bar after the warmup where no option is open, take the
 * binary signal (computed from bars up to that one only), enter at its close, and settle at
 * the close expiry_bars later: win if the price moved the signal's way, tie if unchanged.
 * Trades never overlap, so outcomes are independent enough for the Wilson interval to mean
 * what it says.
 *
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments, bad settings or non-finite candles;
 *          ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_evaluate(const cmee_candle *candles, size_t n,
                                   const cmee_eval_config *cfg, cmee_eval_result *out,
                                   cmee_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_SIGNALS_H */
