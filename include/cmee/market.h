/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/market.h
 * @brief The market generator: symbols, deterministic random-walk candles and ticks.
 *
 * A ::cmee_market is a seed plus a registry of symbols. Every price it produces is a pure
 * function of (seed, symbol settings, time): the same request gives bit-identical candles
 * whatever the order, range or timeframe of earlier requests and whatever the thread.
 *
 * The model (docs/market.md has the derivation): the log price is a Brownian motion run on a
 * variance clock, plus drift and optional compound-Poisson jumps. It is built top-down: a binary
 * tree of Brownian bridges over days, then a bridge over the 24 hours of a day, then over the 60
 * minutes of an hour. Any day is reached by walking 16 tree levels, so a window of N candles
 * costs O(16 x days + minutes covered), never a replay from the start of the series. The base
 * candle is 1m; every other timeframe is its exact aggregate. High and low of a 1m candle are
 * sampled from the Brownian-bridge extremes given its open and close. Prices lie on the symbol's
 * tick grid; volumes are whole units, so sums are exact in any order.
 *
 * Time is int64_t milliseconds since the Unix epoch, UTC. The series covers
 * [::CMEE_TIME_MIN, ::CMEE_TIME_MAX) and passes through each symbol's seed price at
 * ::CMEE_ANCHOR_TIME.
 *
 * Thread-safety: the query functions (those taking a `const cmee_market *`) may run
 * concurrently on one market from any number of threads. Functions that change the market
 * (cmee_market_set_symbol(), cmee_market_set_correlation(), cmee_market_free()) need exclusive
 * access: no other call on the same market may run at the same time.
 */
#ifndef CMEE_MARKET_H
#define CMEE_MARKET_H

#include <cmee/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/** First instant covered by every series: 2000-01-01T00:00:00Z. */
#define CMEE_TIME_MIN INT64_C(946684800000)
/** End (exclusive) of every series: 2^16 days after ::CMEE_TIME_MIN, 2179-06-07T00:00:00Z. */
#define CMEE_TIME_MAX (CMEE_TIME_MIN + INT64_C(65536) * INT64_C(86400000))
/** The instant at which every symbol trades exactly at its seed price: 2025-01-01T00:00:00Z. */
#define CMEE_ANCHOR_TIME INT64_C(1735689600000)
/** The most candles one query may return. */
#define CMEE_MARKET_MAX_QUERY ((size_t)10000000)
/** Size of cmee_symbol_spec::symbol, including the terminating NUL. */
#define CMEE_SYMBOL_MAX 16

/** One price update inside a 1m candle. */
typedef struct cmee_tick {
    int64_t time;  /**< ms since the Unix epoch (UTC) */
    double price;  /**< on the tick grid, within the candle's [low, high] */
    double volume; /**< whole units; the ticks of a candle sum to its volume */
} cmee_tick;

/** Candle timeframes. The value of each is its length in minutes. */
typedef enum cmee_timeframe {
    CMEE_TF_1M = 1,    /**< one minute: the base candle */
    CMEE_TF_5M = 5,    /**< five minutes */
    CMEE_TF_15M = 15,  /**< fifteen minutes */
    CMEE_TF_1H = 60,   /**< one hour, starting on the hour */
    CMEE_TF_4H = 240,  /**< four hours, starting at 00, 04, 08, 12, 16, 20 UTC */
    CMEE_TF_1D = 1440, /**< one day, starting at 00:00 UTC */
} cmee_timeframe;

/**
 * Parse a timeframe name: "1m", "5m", "15m", "1h", "4h" or "1d".
 *
 * @param[in]  name NUL-terminated name.
 * @param[out] out  the timeframe, written only on success.
 * @returns ::CMEE_OK, or ::CMEE_EINVAL for NULL arguments or an unknown name.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_timeframe_parse(const char *name, cmee_timeframe *out);

/**
 * The name of a timeframe ("1h"), or NULL if @p tf is not a ::cmee_timeframe.
 * @returns a borrowed, static string.
 * @since 0.1.0
 */
CMEE_API const char *cmee_timeframe_name(cmee_timeframe tf);

/**
 * The length of a timeframe in milliseconds, or 0 if @p tf is not a ::cmee_timeframe.
 * @since 0.1.0
 */
CMEE_API int64_t cmee_timeframe_ms(cmee_timeframe tf);

/** Broad asset class of a symbol. */
typedef enum cmee_asset_class {
    CMEE_CLASS_CRYPTO = 0,    /**< cryptocurrency, quoted in USD */
    CMEE_CLASS_FX = 1,        /**< foreign-exchange pair */
    CMEE_CLASS_METAL = 2,     /**< precious metal, quoted in USD per troy ounce */
    CMEE_CLASS_INDEX = 3,     /**< equity index */
    CMEE_CLASS_STOCK = 4,     /**< single stock */
    CMEE_CLASS_COMMODITY = 5, /**< other commodity */
    CMEE_CLASS_OTHER = 6,     /**< anything else */
} cmee_asset_class;

/**
 * The name of an asset class ("crypto", "fx", "metal", "index", "stock", "commodity",
 * "other"), or NULL if @p cls is not a ::cmee_asset_class.
 * @returns a borrowed, static string.
 * @since 0.1.0
 */
CMEE_API const char *cmee_asset_class_name(cmee_asset_class cls);

/**
 * Parse an asset-class name as printed by cmee_asset_class_name().
 *
 * @returns ::CMEE_OK, or ::CMEE_EINVAL for NULL arguments or an unknown name; @p out is
 *          written only on success.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_asset_class_parse(const char *name, cmee_asset_class *out);

/**
 * Everything that defines one symbol's series. A plain value: fill it with
 * cmee_symbol_spec_init() and change the fields you need. The randomness of a series is keyed
 * by the market seed and the symbol *name*, so changing any other field reshapes the same
 * random path instead of drawing a new one.
 *
 * Model fields default to a plain geometric random walk; each extension is off at 0.
 *
 * Prices never leave [one tick, 2^52 ticks]: a path that would go below one tick or above the
 * cap stays flat there until it comes back. Only extreme settings reach these bounds within the
 * series (for example jump_rate 1000 with large jumps, whose drift compensation alone moves the
 * price by orders of magnitude a year).
 */
typedef struct cmee_symbol_spec {
    /** Name: 1 to 15 characters from A-Z, 0-9, '.', '-' and '_'. */
    char symbol[CMEE_SYMBOL_MAX];
    /** Asset class; informational. */
    cmee_asset_class asset_class;
    /** Price at ::CMEE_ANCHOR_TIME: a whole number of ticks, from one tick up to 1e12 (and at
     *  most 4e15 ticks). */
    double seed_price;
    /** Price increment; > 0, a whole multiple of 10^-precision, at most 1e12 such units. */
    double tick_size;
    /** Decimal places used to print prices; 0 to 10. */
    int precision;
    /** Annualised volatility of log returns (0.6 = 60 %); in (0, 3]. */
    double volatility;
    /** Annualised drift: expected price growth rate (0.05 = +5 % a year); in [-2, 2]. */
    double drift;
    /** Mean volume of a 1m candle in whole units; in [1, 1e9]. */
    double volume;
    /** Ticks per 1m candle streamed by cmee_market_ticks(); 4 to 600 (default 60). */
    int ticks_per_minute;
    /**
     * Fat tails: 0 for Gaussian 1m returns (default), else the degrees of freedom nu in
     * (2, 100] of Student-t-like 1m returns (smaller is fatter). Implemented as random
     * inverse-gamma variance weights inside each hour, so hourly and longer variance stays as
     * configured.
     */
    double tail_dof;
    /**
     * Volatility clustering: 0 for off (default), else the standard deviation of the log of
     * the local variance, in (0, 2]. A multiplicative cascade over time scales from 64 days
     * down to one minute, so busy and quiet periods persist at every scale.
     */
    double clustering;
    /** Jumps (Merton): expected number per year, 0 for off (default); at most 1000. */
    double jump_rate;
    /** Mean of the log jump size (-0.05 = jumps of about -5 % on average); in [-1, 1]. */
    double jump_mean;
    /** Standard deviation of the log jump size; in [0, 1]. */
    double jump_stdev;
} cmee_symbol_spec;

/**
 * Fill @p spec with defaults for a new symbol named @p symbol: class other, seed price 100,
 * tick 0.01, precision 2, volatility 0.2, drift 0, volume 100, 60 ticks per minute, and every
 * model extension off. The name is copied (truncated to 15 characters; validation happens in
 * cmee_market_set_symbol()).
 *
 * @param[out] spec   the struct to fill; nothing happens if NULL.
 * @param[in]  symbol the name, or NULL for an empty name.
 * @since 0.1.0
 */
CMEE_API void cmee_symbol_spec_init(cmee_symbol_spec *spec, const char *symbol);

/** A market: a seed and a registry of symbols. Opaque; see cmee_market_new(). */
typedef struct cmee_market cmee_market;

/**
 * Create a market with the built-in symbol registry (more than 20 major symbols across
 * crypto, FX, metals, indices and stocks; list them with cmee_market_symbol_at()).
 *
 * @param[in]  seed  the seed of every series; the same seed gives the same prices.
 * @param[in]  alloc allocator for this market, or NULL for malloc/free.
 * @param[out] out   the new market, written only on success. Owned by the caller: free it with
 *                   cmee_market_free().
 * @returns ::CMEE_OK, ::CMEE_EINVAL if @p out is NULL or @p alloc lacks a function,
 *          ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_new(uint64_t seed, const cmee_allocator *alloc,
                                     cmee_market **out);

/**
 * Free a market and everything it owns. Accepts NULL. Arrays returned by
 * cmee_market_candles_alloc() must be released before, with cmee_market_release().
 * @since 0.1.0
 */
CMEE_API void cmee_market_free(cmee_market *m);

/**
 * Text of the most recent failure of a call on this market, naming the bad field and value
 * (e.g. "volatility: must be in (0, 3], got -0.5"). After a success the text is unspecified.
 *
 * Thread-safety: the returned pointer is into the market, and another thread's failing query
 * rewrites it. Use it when no other thread may be failing a call on @p m at the same time;
 * otherwise use cmee_market_errmsg_copy().
 *
 * @returns a borrowed string valid until the next call on @p m; "" if nothing failed yet;
 *          a static message if @p m is NULL.
 * @since 0.1.0
 */
CMEE_API const char *cmee_market_errmsg(const cmee_market *m);

/**
 * Copy the text of the most recent failure on this market into @p buf (truncated to
 * @p cap - 1 bytes, always NUL-terminated). Safe to call while other threads query @p m: with
 * failing queries on several threads it copies one whole message, the latest.
 *
 * @returns the length of the whole message (as snprintf), or 0 if @p buf is NULL or @p cap 0.
 * @since 0.1.0
 */
CMEE_API size_t cmee_market_errmsg_copy(const cmee_market *m, char *buf, size_t cap);

/** The seed the market was created with (0 if @p m is NULL). @since 0.1.0 */
CMEE_API uint64_t cmee_market_seed(const cmee_market *m);

/** Number of registered symbols (0 if @p m is NULL). @since 0.1.0 */
CMEE_API size_t cmee_market_symbol_count(const cmee_market *m);

/**
 * Copy the spec of the symbol at @p index (0 to count-1, in registration order: the built-in
 * registry first, then user symbols).
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ERANGE for a bad index.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_symbol_at(const cmee_market *m, size_t index,
                                           cmee_symbol_spec *out);

/**
 * Copy the spec of a symbol by name (exact, case-sensitive).
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ENOTFOUND for an unknown symbol.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_symbol(const cmee_market *m, const char *symbol,
                                        cmee_symbol_spec *out);

/**
 * Register a symbol, or replace every field of an existing one with the same name. The spec is
 * validated first; on any error nothing changes and cmee_market_errmsg() names the bad field.
 * Cost: O(16) to pin the new series at its seed price.
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments or a bad field, ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_set_symbol(cmee_market *m, const cmee_symbol_spec *spec);

/**
 * Correlate the Brownian parts of a group of symbols. @p matrix is the n x n correlation
 * matrix in row-major order: symmetric, ones on the diagonal, positive definite. Symbol i of
 * the group is driven by sum_j L[i][j] * e_j where L is the Cholesky factor and e_j is the
 * noise symbol j would use on its own, so the first symbol's series is unchanged. With
 * clustering off, 1m log returns then have correlation matrix @p matrix.
 *
 * A symbol belongs to at most one group; passing a group whose symbols are exactly those of an
 * existing group replaces it; n == 1 removes the symbol's group. A group has at most 32
 * symbols. Cost: a correlated symbol draws the noise of every symbol before it in its group.
 *
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments, n == 0, n > 32, a bad matrix or a
 *          duplicate symbol; ::CMEE_ENOTFOUND for an unknown symbol; ::CMEE_EEXIST if a symbol
 *          is already in another group; ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_set_correlation(cmee_market *m, const char *const *symbols,
                                                 size_t n, const double *matrix);

/**
 * The candles of @p symbol at timeframe @p tf whose open time lies in [@p from, @p to), oldest
 * first. @p from and @p to need not be aligned; [from, to) must lie within
 * [::CMEE_TIME_MIN, ::CMEE_TIME_MAX).
 *
 * Cost: O(16 x days + minutes) covered by the range, independent of its distance from the
 * anchor; no replay from the start of the series.
 *
 * @param[in]  buf     caller buffer for @p cap candles; never kept. With @p buf NULL and
 *                     @p cap 0, only *written is set, to the number of candles in the range.
 * @param[out] written number of candles written (or needed), written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments, a bad timeframe or from >= to;
 *          ::CMEE_ENOTFOUND for an unknown symbol; ::CMEE_ERANGE for times outside the series
 *          or more than ::CMEE_MARKET_MAX_QUERY candles; ::CMEE_ENOSPACE if @p cap is too small
 *          (nothing written); ::CMEE_ENOMEM.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_candles(const cmee_market *m, const char *symbol,
                                         cmee_timeframe tf, int64_t from, int64_t to,
                                         cmee_candle *buf, size_t cap, size_t *written);

/**
 * The @p count complete candles that end at or before @p end, oldest first: with tf the
 * timeframe's length in ms, the last one opens at floor(end / tf) * tf - tf. Never reveals a
 * price after @p end. Buffers work as in cmee_market_candles(): (NULL, 0) sets *written to
 * @p count, and a @p cap below @p count gives ::CMEE_ENOSPACE with nothing written.
 *
 * @returns as cmee_market_candles(); also ::CMEE_EINVAL for @p count 0, and ::CMEE_ERANGE when
 *          @p end is outside (::CMEE_TIME_MIN, ::CMEE_TIME_MAX], the candles would start
 *          before ::CMEE_TIME_MIN, or @p count exceeds ::CMEE_MARKET_MAX_QUERY.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_candles_last(const cmee_market *m, const char *symbol,
                                              cmee_timeframe tf, int64_t end, size_t count,
                                              cmee_candle *buf, size_t cap, size_t *written);

/**
 * Like cmee_market_candles() but into an array the library allocates with the market's
 * allocator.
 *
 * @param[out] out new array, owned by the caller: release it with cmee_market_release().
 *                 Written only on success.
 * @param[out] n   number of candles in @p out.
 * @returns as cmee_market_candles() except ::CMEE_ENOSPACE.
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_candles_alloc(const cmee_market *m, const char *symbol,
                                               cmee_timeframe tf, int64_t from, int64_t to,
                                               cmee_candle **out, size_t *n);

/**
 * Release memory the market allocated for the caller (cmee_market_candles_alloc()). Accepts
 * NULL.
 * @since 0.1.0
 */
CMEE_API void cmee_market_release(const cmee_market *m, void *ptr);

/**
 * The ticks of the 1m candle containing time @p t: cmee_symbol_spec::ticks_per_minute ticks at
 * evenly spaced times starting at the candle's open time. They fold exactly into that candle:
 * the first price is its open, the last its close, the highest its high, the lowest its low,
 * and the volumes sum to its volume.
 *
 * Cost: one hour of 1m candles plus the ticks.
 *
 * @param[in]  buf     caller buffer; with @p buf NULL and @p cap 0, only *written is set.
 * @param[out] written number of ticks written (or needed), written only on success.
 * @returns as cmee_market_candles().
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_ticks(const cmee_market *m, const char *symbol, int64_t t,
                                       cmee_tick *buf, size_t cap, size_t *written);

/**
 * The price at time @p t: the last tick at or before @p t.
 *
 * @param[out] price written only on success.
 * @returns as cmee_market_candles().
 * @since 0.1.0
 */
CMEE_API cmee_status cmee_market_price(const cmee_market *m, const char *symbol, int64_t t,
                                       double *price);

/** sizeof(cmee_candle) as compiled into the library, for bindings to check layouts. @since 0.1.0 */
CMEE_API size_t cmee_sizeof_candle(void);

/** sizeof(cmee_tick) as compiled into the library. @since 0.1.0 */
CMEE_API size_t cmee_sizeof_tick(void);

/** sizeof(cmee_symbol_spec) as compiled into the library. @since 0.1.0 */
CMEE_API size_t cmee_sizeof_symbol_spec(void);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_MARKET_H */
