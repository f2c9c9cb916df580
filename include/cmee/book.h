/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/book.h
 * @brief Market microstructure: bid/ask quotes, a synthetic L2 order book and a trade tape,
 *        consistent with the candles of cmee/market.h.
 *
 * Everything here is derived from the same deterministic path as the candles, so it keeps the
 * generator's contracts: a pure function of (seed, symbol settings, spread settings, time),
 * reachable by random access, and nothing before a scenario's start time ever changes.
 *
 * The model (docs/microstructure.md has the details):
 * - **Ticks are trade prints.** Each tick of cmee_market_ticks() is a moment at which the last
 *   traded price is known. Its aggressor side follows the tick test (an uptick is a buy, a
 *   downtick a sell, an unchanged price keeps the previous side; the first tick of a minute
 *   draws its side). A buy prints at the ask and a sell at the bid, so the quote at a tick is
 *   `ask = price, bid = price - spread` after a buy and `bid = price, ask = price + spread`
 *   after a sell (a buy whose bid would fall below one tick counts as a sell).
 * - **Spread.** Per symbol, a base of `max(bps x open / 10^4, ticks x tick_size)`, widened
 *   with the minute's volatility: times `1 + vol_weight x (r - 1)` (clamped to [0.25, 50]),
 *   where r is the minute's high-low range over the range a minute of the symbol's configured
 *   volatility has on average. Rounded to a whole number of ticks, never below one tick.
 *   Constant within a minute.
 * - **Tape.** The trades of a 1m candle are at its tick moments and prices: the first at the
 *   open, the last at the close, every price inside [low, high]. Their sizes are whole
 *   multiples of the symbol's size quantum (cmee_market_size_quantum(), a power of two, so sums
 *   are exact) and add up to the candle's volume exactly. A tick that gets no size prints no
 *   trade; a candle with volume 0 (for example a halted minute) has no trades.
 * - **Book.** At every tick moment, N levels per side (N up to ::CMEE_BOOK_MAX_DEPTH) on the
 *   tick grid: level 1 at the quote, prices strictly moving away from it, sizes (multiples of
 *   the quantum) strictly growing away from it. Bid levels stop above zero, so a symbol
 *   trading a few ticks above zero may show fewer bid levels than asked.
 *
 * Cost: a random-access query generates the hour of the minute it falls in (as
 * cmee_market_ticks()). A ::cmee_tape reader keeps the current minute, so walking forward in
 * time (a simulator, a server feed) costs only the book itself per query.
 *
 * Thread-safety: as cmee/market.h. Functions taking a `const cmee_market *` may run
 * concurrently; cmee_market_set_spread() needs exclusive access to the market. A ::cmee_tape
 * is used by one thread at a time; several readers over one market may run concurrently.
 */
#ifndef CMEE_BOOK_H
#define CMEE_BOOK_H

#include <cmee/market.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The most levels per side of a ::cmee_book. */
#define CMEE_BOOK_MAX_DEPTH 50
/** The longest range cmee_market_trades() accepts: 31 days, in ms. */
#define CMEE_TRADES_MAX_SPAN INT64_C(2678400000)
/** The most trades cmee_market_trades_last() returns. */
#define CMEE_TRADES_LAST_MAX ((size_t)1000000)

/** Which side took liquidity in a trade. */
typedef enum cmee_aggressor {
    CMEE_AGGRESSOR_BUY = 0,  /**< a buyer lifted the ask */
    CMEE_AGGRESSOR_SELL = 1  /**< a seller hit the bid */
} cmee_aggressor;

/** "buy" or "sell"; NULL for a value outside the enum. @since 0.2.0 */
CMEE_API const char *cmee_aggressor_name(cmee_aggressor side);

/** The spread settings of a symbol. */
typedef struct cmee_spread_spec {
    /** Base full spread in basis points of the minute's open: [0, 1000]. */
    double bps;
    /** Base full spread in ticks: [0, 1e6]. The base is the larger of the two. */
    double ticks;
    /** How strongly the spread follows the minute's volatility: [0, 10]; 0 keeps it at the
     *  base, 1 makes it proportional to the minute's range. */
    double vol_weight;
} cmee_spread_spec;

/**
 * The default spread settings for an asset class: bps 1 (crypto), 0.5 (FX, indices, stocks),
 * 2 (metals), 3 (commodities), 1 (other); ticks 1; vol_weight 0.5. Nothing happens if @p out
 * is NULL.
 * @since 0.2.0
 */
CMEE_API void cmee_spread_spec_default(cmee_asset_class cls, cmee_spread_spec *out);

/**
 * The spread settings of @p symbol. A symbol starts with its class's defaults
 * (cmee_spread_spec_default()); re-registering it with cmee_market_set_symbol() keeps them.
 *
 * @param[out] out written only on success.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ENOTFOUND for an unknown symbol.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_spread(const cmee_market *m, const char *symbol,
                                        cmee_spread_spec *out);

/**
 * Set the spread settings of @p symbol. Changes quotes, books and trade sides at every time
 * (not prices, sizes or candles): set them before handing the market out. Needs exclusive
 * access to @p m.
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments or a field out of range (the message
 *          names it), ::CMEE_ENOTFOUND for an unknown symbol. Nothing changes on failure.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_set_spread(cmee_market *m, const char *symbol,
                                            const cmee_spread_spec *spec);

/**
 * The size quantum of @p symbol: every trade and book size is a whole multiple of it. It is
 * 2^-k for the smallest k in [0, 20] such that the symbol's mean 1m volume is at least four
 * quanta per tick (volume x 2^k >= 4 x ticks_per_minute): 1 for most symbols, 1/16 for
 * BTCUSD. Sums of sizes are exact in binary floating point.
 *
 * @param[out] out written only on success.
 * @returns ::CMEE_OK, ::CMEE_EINVAL, ::CMEE_ENOTFOUND.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_size_quantum(const cmee_market *m, const char *symbol,
                                              double *out);

/** The best bid and offer (the quote) at a tick moment. */
typedef struct cmee_bbo {
    int64_t time;          /**< the tick's time, ms UTC */
    double bid;            /**< best bid, on the tick grid, at least one tick */
    double ask;            /**< best ask = bid + spread */
    double last;           /**< the tick's price: equals bid or ask (see side) */
    double spread;         /**< ask - bid as a price (a whole number of ticks, >= 1 tick) */
    cmee_aggressor side;   /**< side of the print at this tick (buys print at the ask) */
} cmee_bbo;

/** One trade of the tape. */
typedef struct cmee_trade {
    int64_t time;          /**< ms UTC: a tick moment */
    double price;          /**< on the tick grid, inside its 1m candle's [low, high] */
    double size;           /**< > 0, a whole multiple of the symbol's size quantum */
    cmee_aggressor side;   /**< buys print at the ask, sells at the bid */
} cmee_trade;

/** One price level of a book. */
typedef struct cmee_book_level {
    double price;          /**< on the tick grid */
    double size;           /**< > 0, a whole multiple of the size quantum */
} cmee_book_level;

/** A synthetic L2 order book at one tick moment. A caller-owned value (about 1.6 KiB). */
typedef struct cmee_book {
    int64_t time;          /**< the tick moment the book belongs to (at or before the query) */
    double bid;            /**< best bid (= bids[0].price) */
    double ask;            /**< best ask (= asks[0].price) */
    size_t nbids;          /**< bid levels filled, best first; may be below the depth asked */
    size_t nasks;          /**< ask levels filled, best first */
    cmee_book_level bids[CMEE_BOOK_MAX_DEPTH];
    cmee_book_level asks[CMEE_BOOK_MAX_DEPTH];
} cmee_book;

/**
 * The quote in force at time @p t: that of the last tick at or before @p t.
 *
 * @param[out] out written only on success.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ENOTFOUND for an unknown
 *          symbol, ::CMEE_ERANGE for @p t outside [::CMEE_TIME_MIN, ::CMEE_TIME_MAX).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_bbo(const cmee_market *m, const char *symbol, int64_t t,
                                       cmee_bbo *out);

/**
 * The quotes of every tick of the 1m candle containing @p t, in the order and at the times of
 * cmee_market_ticks() (whose prices are their `last`). Buffers work as there.
 *
 * @returns as cmee_market_ticks().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_bbo_ticks(const cmee_market *m, const char *symbol, int64_t t,
                                        cmee_bbo *buf, size_t cap, size_t *written);

/**
 * The order book in force at time @p t (that of the last tick at or before @p t), with up to
 * @p depth levels per side.
 *
 * @param[in]  depth 1 to ::CMEE_BOOK_MAX_DEPTH. A book of depth d is the first d levels of
 *                   any deeper book at the same moment.
 * @param[out] out   written only on success; levels past nbids/nasks are zeroed.
 * @returns as cmee_market_bbo(); ::CMEE_EINVAL also for a depth out of range.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_book(const cmee_market *m, const char *symbol, int64_t t,
                                      int depth, cmee_book *out);

/**
 * The trades with @p from <= time < @p to, oldest first. Buffers work as in
 * cmee_market_candles(): with @p buf NULL and @p cap 0 only *written is set (the count, which
 * costs the generation); with a @p cap too small, ::CMEE_ENOSPACE and nothing written.
 *
 * @param[out] written number of trades written (or needed), written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments or @p from > @p to; ::CMEE_ENOTFOUND;
 *          ::CMEE_ERANGE for a range outside the series or longer than
 *          ::CMEE_TRADES_MAX_SPAN (31 days);
 *          ::CMEE_ENOSPACE.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_trades(const cmee_market *m, const char *symbol, int64_t from,
                                        int64_t to, cmee_trade *buf, size_t cap,
                                        size_t *written);

/**
 * The last @p count trades with time < @p end, oldest first (fewer if the series start comes
 * first). Never reveals anything at or after @p end. With @p buf NULL and @p cap 0 only sets
 * *written to @p count.
 *
 * @param[in]  count 1 to ::CMEE_TRADES_LAST_MAX.
 * @param[out] written trades written, written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments or a count out of range;
 *          ::CMEE_ENOTFOUND; ::CMEE_ERANGE for @p end outside (::CMEE_TIME_MIN,
 *          ::CMEE_TIME_MAX]; ::CMEE_ENOSPACE when @p cap < @p count.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_trades_last(const cmee_market *m, const char *symbol,
                                             int64_t end, size_t count, cmee_trade *buf,
                                             size_t cap, size_t *written);

/** What walking a book for a quantity gives (cmee_book_walk()). */
typedef struct cmee_book_fill {
    double filled;       /**< quantity matched: the order's, or less when the levels run out */
    double avg_price;    /**< size-weighted average price of what was matched (0 if nothing) */
    double worst_price;  /**< price of the last level touched (0 if nothing) */
    size_t levels;       /**< levels touched */
} cmee_book_fill;

/**
 * Match a market order of @p qty against @p book: a buy takes the asks from level 1 outwards,
 * a sell the bids, each level up to its size. An order larger than level 1 therefore pays a
 * worse average price (slippage). Pure function of its arguments.
 *
 * @param[in]  side the order's side (::CMEE_AGGRESSOR_BUY takes the asks).
 * @param[in]  qty  > 0 and finite.
 * @param[out] out  written only on success.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL pointers, a bad side or quantity.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_book_walk(const cmee_book *book, cmee_aggressor side, double qty,
                                    cmee_book_fill *out);

/**
 * A reader of one symbol's microstructure that keeps the minute it last generated, so queries
 * moving forward in time (or staying in one minute) cost only what they return. Opaque.
 * It reads the market it was made from: that market must outlive it. After a change to the
 * market (a symbol, spread, correlation or scenario change) it notices and regenerates.
 */
typedef struct cmee_tape cmee_tape;

/**
 * Create a reader for @p symbol of @p m, allocating with the market's allocator.
 *
 * @param[out] out the reader, written only on success; free with cmee_tape_free().
 * @returns ::CMEE_OK, ::CMEE_EINVAL, ::CMEE_ENOTFOUND, ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_tape_new(const cmee_market *m, const char *symbol, cmee_tape **out);

/** Free a reader. Accepts NULL. @since 0.2.0 */
CMEE_API void cmee_tape_free(cmee_tape *tp);

/** As cmee_market_bbo(), through the reader's cache. Errors are recorded on the market.
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_tape_bbo(cmee_tape *tp, int64_t t, cmee_bbo *out);

/** As cmee_market_book(), through the reader's cache. @since 0.2.0 */
CMEE_API cmee_status cmee_tape_book(cmee_tape *tp, int64_t t, int depth, cmee_book *out);

/** As cmee_market_trades(), through the reader's cache (the last minute of the range stays
 *  cached). @since 0.2.0 */
CMEE_API cmee_status cmee_tape_trades(cmee_tape *tp, int64_t from, int64_t to,
                                      cmee_trade *buf, size_t cap, size_t *written);

/** sizeof(cmee_bbo) as compiled into the library. @since 0.2.0 */
CMEE_API size_t cmee_sizeof_bbo(void);
/** sizeof(cmee_trade) as compiled into the library. @since 0.2.0 */
CMEE_API size_t cmee_sizeof_trade(void);
/** sizeof(cmee_book) as compiled into the library. @since 0.2.0 */
CMEE_API size_t cmee_sizeof_book(void);

#ifdef __cplusplus
}
#endif

#endif
