/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/session.h
 * @brief Sessions: one user's simulation — a clock, a market view and a paper-trading account.
 *
 * A ::cmee_session owns a market (its own seed, the built-in symbols, the scenarios applied to
 * it), a clock that turns wall time into sim time, and an account: market, limit and stop
 * orders, one net position per symbol with stop-loss and take-profit, binary CALL/PUT options,
 * and an append-only ledger through which all money moves.
 *
 * **Money** is exact: amounts are int64_t counts of 10^-8 currency units (::CMEE_MONEY_SCALE
 * per unit), so the balance is always exactly the sum of the ledger. Prices and quantities are
 * doubles; every amount that comes from them is rounded to the nearest 10^-8 once, where it is
 * booked.
 *
 * **Time.** The session's "now" is sim time: it advances with wall time times the speed while
 * running, never moves backward, and stands still while paused. In manual-clock mode only
 * cmee_session_step() and cmee_session_seek() move it (tests and backtests). Nothing a session
 * reveals lies after its now: prices, candles and fills are of times <= now.
 *
 * **Fills are driven by the market's path.** Every state-changing call first brings the
 * session up to its clock (cmee_session_advance()): limit and stop orders, stop-loss and
 * take-profit levels and option expiries are processed in time order over the market between
 * the last processed time and now, across all symbols. How an order meets the market is the
 * session's fill model (::cmee_fill_model):
 * - ::CMEE_FILL_BOOK (the default) uses the microstructure of cmee/book.h. A market order
 *   walks the order book at now for its quantity and fills at the size-weighted average price
 *   of the levels it takes (slippage); what the displayed levels do not hold fills at the last
 *   level's price. A limit buy fills at its price once the trade tape prints *below* it (a
 *   print at the price is not enough), or at once if the ask is at or below it when placed:
 *   it takes the asks up to its price, and what they do not hold fills at its price. A stop
 *   buy triggers when the tape prints at or above its price and then walks the book like a
 *   market order (a gap or a thin book fills worse than the stop). Sells mirror this on the
 *   bids.
 * - ::CMEE_FILL_QUOTE puts a fixed spread (spread_bps) around every tick's price. A limit buy
 *   fills at its price when the ask reaches it (or at once at the ask if that is already at or
 *   below it when placed); a stop buy triggers when the ask reaches its price and fills at
 *   that tick's ask (so a gap fills worse than the stop); sells mirror this on the bid.
 *
 * Stop-loss and take-profit close the whole position like a stop and a limit order. Fills are
 * all or nothing (no partial fills), and a session's own fills do not use up the book: each
 * fill walks the book as the market shows it. docs/sessions.md has the rules, including fees,
 * spread, margin and the option win/loss/tie rules.
 *
 * **Account model.** Positions are netted per symbol with an average price. The balance moves
 * only by realised P&L, fees and option stakes and payouts (each a ledger entry); equity is
 * balance plus unrealised P&L at the last price. A position takes margin equal to its notional
 * at the average price divided by its leverage (1 by default: no leverage): an order or option
 * whose margin, fee or stake exceeds the free margin (equity minus used margin) is refused.
 *
 * **Margin accounts.** A session created with cmee_session_config::leverage above 1 trades on
 * margin: a position's leverage is the session's, capped by its asset class
 * (cmee_session_config::max_leverage). Its margin level is equity / used margin. When the level
 * falls below cmee_session_config::margin_call_level a ::CMEE_SESSION_EV_MARGIN_CALL event is
 * raised (once; again only after the level has come back to the call level); when it falls
 * below cmee_session_config::maintenance_level the session liquidates: it closes positions at
 * the market, the one with the lowest unrealised P&L first, until the level is back at the
 * maintenance level or no position is left (::CMEE_ORDER_LIQUIDATION orders, their fees and P&L
 * in the ledger, then a ::CMEE_SESSION_EV_LIQUIDATION event). Both are checked at every tick of
 * the symbols held, in time order across symbols, and after every change of the account, so a
 * liquidation happens at the first tick at which the level is below the maintenance level,
 * never earlier or later. A session of leverage 1 is a cash account, as before margin
 * accounts existed: it is never called or liquidated.
 *
 * **Market impact** (off by default, cmee_session_config::impact): with ::CMEE_IMPACT_SQRT the
 * session's own fills move its market's prices from the first tick after each fill, decaying
 * with a half-life; everything the session shows and trades on follows, the public market and
 * other sessions do not (::cmee_impact_config, cmee_session_impact()).
 *
 * **Refused operations** (insufficient funds, unknown symbol, bad quantity, market halted,
 * unknown or finished order...) return a status, set cmee_session_errmsg() and change nothing.
 *
 * **Persistence.** A session created with a ::cmee_store writes every change to it as one
 * transaction before the call returns ::CMEE_OK; cmee_session_load() restores it exactly as
 * last committed, its clock continuing from the sim time it had then (the time the process was
 * down does not count). If a write fails the call fails and the session reloads its last
 * committed state (if even that fails, every later call returns ::CMEE_ESTATE until the session
 * is freed and loaded again). One session should be changed through one handle at a time.
 *
 * Thread-safety: one session, one thread at a time. Different sessions are independent and may
 * be used from different threads, but sessions sharing one ::cmee_store share its thread
 * rule (one thread at a time per store handle).
 */
#ifndef CMEE_SESSION_H
#define CMEE_SESSION_H

#include <stdbool.h>

#include <cmee/core.h>
#include <cmee/market.h>
#include <cmee/scenario.h>
#include <cmee/store.h>
#include <cmee/broadcast.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Money units per currency unit: amounts are counts of 10^-8. */
#define CMEE_MONEY_SCALE INT64_C(100000000)
/** Size of a session id buffer, including the NUL: ids are 1 to 39 characters. */
#define CMEE_SESSION_ID_MAX 40
/** Size of a session label buffer, including the NUL. */
#define CMEE_SESSION_LABEL_MAX 64
/** The most symbols a session's config may list. */
#define CMEE_SESSION_MAX_SYMBOLS 32
/** Size of a currency code buffer, including the NUL. */
#define CMEE_CURRENCY_MAX 8
/** Number of asset classes (::cmee_asset_class, CMEE_CLASS_CRYPTO to CMEE_CLASS_OTHER): the
 *  length of cmee_session_config::max_leverage. @since 0.2.0 */
#define CMEE_SESSION_CLASSES 7

/**
 * How a session's orders meet the market (docs/sessions.md has the rules).
 * @since 0.2.0
 */
typedef enum cmee_fill_model {
    /** A spread around the tick price: the ask is mid x (1 + spread_bps / 20000) and the bid
     *  mid x (1 - spread_bps / 20000) on the tick grid; market orders fill at the ask or bid
     *  whatever their size, limit and stop orders trigger on every tick's bid or ask. The
     *  model of sessions created before the fill model existed. */
    CMEE_FILL_QUOTE = 0,
    /** The market's microstructure (cmee/book.h): quotes are the touch of the synthetic order
     *  book, a market order walks the book's levels for its quantity (a large order pays
     *  slippage), limit orders fill when the trade tape prints through their price and stop
     *  orders trigger on the tape and then walk the book. The default. */
    CMEE_FILL_BOOK = 1,
} cmee_fill_model;

/**
 * Market impact models: how a session's own fills move that session's prices
 * (docs/sessions.md, "Market impact").
 * @since 0.2.0
 */
typedef enum cmee_impact_model {
    /** No impact: the session's prices are its market's (the default). */
    CMEE_IMPACT_NONE = 0,
    /** Square-root impact with exponential decay. A fill of quantity q at time t moves the
     *  session's log price by sign x coefficient x sigma_d x sqrt(q / V_d), where sign is +1
     *  for a buy and -1 for a sell, sigma_d = the symbol's volatility / sqrt(365.25) (its daily
     *  volatility) and V_d = 1440 x the symbol's mean 1m volume (its daily volume). The move
     *  shows from the first tick after t and halves every half_life ms. */
    CMEE_IMPACT_SQRT = 1,
} cmee_impact_model;

/**
 * A session's market impact settings (part of ::cmee_session_config).
 *
 * With ::CMEE_IMPACT_SQRT every fill of the session's own orders — market, limit and stop
 * orders, stop-loss and take-profit closes and liquidations alike: each is a trade of the
 * account — adds a kick; a tick of the session's market at time u is priced at its market
 * price times exp(I(u)), rounded to the tick grid, where
 * I(u) = sum over fills at times t_i < u of a_i x 2^(-(u - t_i) / half_life), clamped to
 * [-1, 1]. Ticks at or before a fill's time never change. The sum is dropped once 40
 * half-lives (a factor of 2^-40) pass without a fill in the symbol. Everything the session
 * shows and trades on — quotes, book, tape, candles, fills, triggers, margin, option
 * settlement — follows the impacted ticks; the public market and other sessions do not see it.
 * @since 0.2.0
 */
typedef struct cmee_impact_config {
    /** ::CMEE_IMPACT_NONE (default) or ::CMEE_IMPACT_SQRT. */
    cmee_impact_model model;
    /** The square-root law's coefficient: (0, 10]; default 1. */
    double coefficient;
    /** Half-life of the decay in ms: [1000, 86400000] (1 s to 1 day); default 300000
     *  (5 minutes). */
    int64_t half_life;
} cmee_impact_config;

/** What a session is created from. Fill with cmee_session_config_init(). */
typedef struct cmee_session_config {
    /** 1 to 39 characters from A-Z a-z 0-9 _ -; "" to have one generated (32 hex digits). */
    char id[CMEE_SESSION_ID_MAX];
    /** Free text shown to people; may be "". */
    char label[CMEE_SESSION_LABEL_MAX];
    /** Seed of the session's market. */
    uint64_t seed;
    /** Sim time when the session starts (ms UTC), inside the series; default
     *  ::CMEE_ANCHOR_TIME. */
    int64_t start_time;
    /** Sim ms per wall ms while running: (0, 1e6]; default 1 (real time). */
    double speed;
    /** Start paused. */
    bool paused;
    /** Manual clock: only cmee_session_step() and cmee_session_seek() move it. */
    bool manual_clock;
    /** Opening balance in money units (> 0, at most 1e10 currency units); default 10,000. */
    int64_t initial_balance;
    /** Currency code, 1 to 7 letters A-Z; default "USD". */
    char currency[CMEE_CURRENCY_MAX];
    /** Fee per fill as a fraction of its notional: [0, 0.1]; default 0.001 (0.1 %). */
    double fee_rate;
    /** Full bid-ask spread in basis points of the mid price: [0, 1000]; default 2. The ask is
     *  mid x (1 + spread / 20000) and the bid mid x (1 - spread / 20000), each on the tick
     *  grid (ask rounded up, bid down). Used by ::CMEE_FILL_QUOTE only: with
     *  ::CMEE_FILL_BOOK the spread is the market's (cmee_market_spread()). */
    double spread_bps;
    /** Default payout of a winning option as a fraction of its stake: (0, 10]; default 0.8. */
    double option_payout;
    /** The symbols the session trades and shows: the first @p nsymbols names, each a symbol
     *  of the built-in registry, no duplicates; nsymbols 0 (default) means all of them. */
    char symbols[CMEE_SESSION_MAX_SYMBOLS][CMEE_SYMBOL_MAX];
    size_t nsymbols;
    /** Scenario applied at the start time, or NULL. Copied. */
    const cmee_scenario *scenario;
    /** How orders fill: ::CMEE_FILL_BOOK (default) or ::CMEE_FILL_QUOTE. Stored with the
     *  session; a session stored before this field existed loads as ::CMEE_FILL_QUOTE, the
     *  model its history was made with. @since 0.2.0 */
    cmee_fill_model fill_model;
    /** Leverage of the account: [1, 1000]; default 1, a cash account (positions take their
     *  whole notional as margin; never called or liquidated). Above 1 the session is a margin
     *  account: a position takes |quantity| x average price / its leverage, which is this
     *  capped by @p max_leverage of the symbol's class. Stored with the session; a session
     *  stored before this field existed loads with 1. @since 0.2.0 */
    double leverage;
    /** The most leverage a position of each asset class may have, indexed by
     *  ::cmee_asset_class: each in [1, 1000]. Defaults: crypto 5, fx 50, metal 20, index 20,
     *  stock 5, commodity 10, other 5. @since 0.2.0 */
    double max_leverage[CMEE_SESSION_CLASSES];
    /** Margin level (equity / used margin, 1 = 100 %) below which a margin account gets a
     *  margin call (::CMEE_SESSION_EV_MARGIN_CALL): [0, 10], 0 for none; default 1. A call is
     *  raised once per crossing: again only after the level has been back at or above it.
     *  @since 0.2.0 */
    double margin_call_level;
    /** Margin level below which a margin account is liquidated: [0, 1] and at most
     *  @p margin_call_level when that is not 0; 0 for never; default 0.5 (50 %).
     *  @since 0.2.0 */
    double maintenance_level;
    /** Market impact of the session's own fills: off (::CMEE_IMPACT_NONE) by default.
     *  Validated even when off. Stored with the session; a session stored before this field
     *  existed loads without impact. @since 0.2.0 */
    cmee_impact_config impact;
} cmee_session_config;

/** Fill @p c with the defaults documented on each field. Nothing happens if NULL.
 *  @since 0.2.0 */
CMEE_API void cmee_session_config_init(cmee_session_config *c);

/** A session. Opaque; see cmee_session_new(). */
typedef struct cmee_session cmee_session;

/**
 * Create a session. With @p store it is saved there at once (a duplicate id is ::CMEE_EEXIST)
 * and every later change is committed before the call returns; without, it lives in memory.
 *
 * @param[in]  store  where to persist it, or NULL. Not owned: it must outlive the session.
 * @param[in]  alloc  allocator for the session, or NULL.
 * @param[out] out    the session; free with cmee_session_free().
 * @param[out] err    details of a failure, or NULL.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for a bad field (named in @p err); ::CMEE_ERANGE for a
 *          start time outside the series; ::CMEE_EEXIST; store errors (::CMEE_EIO,
 *          ::CMEE_EBUSY); ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_new(const cmee_session_config *config, cmee_store *store,
                                      const cmee_allocator *alloc, cmee_session **out,
                                      cmee_error *err);

/**
 * Load session @p id from @p store exactly as last committed: config, applied scenarios,
 * account, orders, options, ledger and clock (continuing from its sim time).
 *
 * @returns ::CMEE_OK; ::CMEE_ENOTFOUND; ::CMEE_ECORRUPT if its records do not agree (for
 *          example a balance that is not the sum of its ledger); store errors; ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_load(cmee_store *store, const char *id,
                                       const cmee_allocator *alloc, cmee_session **out,
                                       cmee_error *err);

/**
 * The ids of the sessions in @p store, oldest first, into @p ids (each
 * ::CMEE_SESSION_ID_MAX bytes). (NULL, 0) sets *n to the count only; a short buffer gives
 * ::CMEE_ENOSPACE with nothing written.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_list(cmee_store *store, char (*ids)[CMEE_SESSION_ID_MAX],
                                       size_t cap, size_t *n);

/** Delete session @p id and all its records from @p store. @returns ::CMEE_OK,
 *  ::CMEE_ENOTFOUND, store errors. @since 0.2.0 */
CMEE_API cmee_status cmee_session_delete(cmee_store *store, const char *id);

/** Free a session (its stored records stay). Accepts NULL. @since 0.2.0 */
CMEE_API void cmee_session_free(cmee_session *s);

/** Text of the last failure on @p s, naming the field and value; "" if none. Borrowed, valid
 *  until the next call on @p s. @since 0.2.0 */
CMEE_API const char *cmee_session_errmsg(const cmee_session *s);

/** The session's id (borrowed). @since 0.2.0 */
CMEE_API const char *cmee_session_id(const cmee_session *s);

/** Copy the session's configuration (its scenario pointer is NULL in the copy).
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_session_config_get(const cmee_session *s, cmee_session_config *out);

/** The session's market (borrowed: valid while @p s lives, until a call fails with a store
 *  error, after which the session reloads and its market is a new object). Read it freely — but its prices
 *  after the session's now are the future: show users only what the session functions give.
 *  Do not change it (apply scenarios through cmee_session_apply_scenario()). @since 0.2.0 */
CMEE_API const cmee_market *cmee_session_market(const cmee_session *s);

/* ---- clock ---------------------------------------------------------------------------- */

/** The state of a session's clock. */
typedef struct cmee_clock {
    int64_t now;     /**< sim time, ms UTC */
    double speed;    /**< sim ms per wall ms */
    bool paused;     /**< not advancing with wall time */
    bool manual;     /**< manual-clock mode */
    int64_t processed; /**< sim time up to which fills and settlements are done */
    /** The session's epoch: 1, then one more at each cmee_session_reset(). @since 0.2.0 */
    uint64_t epoch;
} cmee_clock;

/** The clock as of this call (reads wall time; processes nothing). @since 0.2.0 */
CMEE_API cmee_status cmee_session_clock(const cmee_session *s, cmee_clock *out);

/**
 * Bring the session up to its clock: process every fill, stop-loss, take-profit and option
 * settlement due up to now, in time order. Every other state-changing call does this first.
 * @param[out] now the sim time processed to, or NULL.
 * @returns ::CMEE_OK; ::CMEE_ERANGE if the clock ran past the end of the series (it stops
 *          there); store errors.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_advance(cmee_session *s, int64_t *now);

/** Pause (idempotent). @since 0.2.0 */
CMEE_API cmee_status cmee_session_pause(cmee_session *s);
/** Resume after a pause (idempotent); ::CMEE_ESTATE in manual-clock mode. @since 0.2.0 */
CMEE_API cmee_status cmee_session_resume(cmee_session *s);
/** Change the speed: (0, 1e6]. @since 0.2.0 */
CMEE_API cmee_status cmee_session_set_speed(cmee_session *s, double speed);
/** Move the clock forward by @p ms (>= 0) and process up to there; works paused or manual.
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_session_step(cmee_session *s, int64_t ms);
/** Move the clock forward to @p t; ::CMEE_ESTATE if @p t is before now (never backward).
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_session_seek(cmee_session *s, int64_t t);

/**
 * Replace the wall clock (ms, any epoch) the session reads, for tests and simulations of time;
 * NULL restores the real one (CLOCK_REALTIME). Not persisted.
 * @since 0.2.0
 */
CMEE_API void cmee_session_set_wall_clock(cmee_session *s, int64_t (*now_ms)(void *ud),
                                          void *ud);

/* ---- market view ----------------------------------------------------------------------- */

/** A quote at the session's now. */
typedef struct cmee_quote {
    char symbol[CMEE_SYMBOL_MAX];
    int64_t time;   /**< the session's now */
    double price;   /**< last tick at or before now: the last price (the mark) */
    double bid;     /**< the best bid: the book's (::CMEE_FILL_BOOK), or price less half the
                         spread on the tick grid (::CMEE_FILL_QUOTE) */
    double ask;     /**< the best ask: the book's, or price plus half the spread */
    bool halted;    /**< a scenario halts trading now */
} cmee_quote;

/** The quote of @p symbol at the session's now (after advancing). @returns ::CMEE_OK,
 *  ::CMEE_ENOTFOUND, ::CMEE_EINVAL. @since 0.2.0 */
CMEE_API cmee_status cmee_session_quote(cmee_session *s, const char *symbol, cmee_quote *out);

/**
 * The last @p count candles of @p symbol at @p tf up to the session's now, oldest first: the
 * complete ones and, last, the candle forming now (its close is the current price, its high,
 * low and volume those of its ticks up to now). Never a price after now. Buffers as in
 * cmee_market_candles_last().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_candles(cmee_session *s, const char *symbol,
                                          cmee_timeframe tf, size_t count, cmee_candle *buf,
                                          size_t cap, size_t *written);

/**
 * The log price impact of the session's own fills on @p symbol at time @p t: I(t) of
 * ::cmee_impact_config, so the session's tick at t is its market's price times exp(I(t)) on the
 * tick grid. 0 without impact or before the first fill.
 *
 * @param[in]  t   a time up to the session's processed time (cmee_clock::processed).
 * @param[out] out written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL (NULL @p out); ::CMEE_ENOTFOUND (symbol);
 *          ::CMEE_ERANGE (@p t after the processed time or before the series).
 * Reads only; thread-safety as the other queries.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_impact(cmee_session *s, const char *symbol, int64_t t,
                                         double *out);

/**
 * Apply @p sc to the session's market from its now (recorded, persisted and announced to the
 * listener). @param[out] id the application id, or NULL. @returns as cmee_scenario_apply().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_apply_scenario(cmee_session *s, const cmee_scenario *sc,
                                                 cmee_application_id *id);

/** Cancel a scenario application from now. @returns as cmee_scenario_cancel(). @since 0.2.0 */
CMEE_API cmee_status cmee_session_cancel_scenario(cmee_session *s, cmee_application_id id);

/* ---- account --------------------------------------------------------------------------- */

/** Buy or sell. */
typedef enum cmee_side {
    CMEE_SIDE_BUY = 0,  /**< buy (go or add long, reduce short) */
    CMEE_SIDE_SELL = 1, /**< sell (go or add short, reduce long) */
} cmee_side;

/** Order types. */
typedef enum cmee_order_type {
    CMEE_ORDER_MARKET = 0, /**< fill now against the asks (buy) or bids (sell) */
    CMEE_ORDER_LIMIT = 1,  /**< fill at @c price or better when the market trades through it */
    CMEE_ORDER_STOP = 2,   /**< become a market order when the market reaches @c price */
    /** A market order the session placed itself to close a position of a margin account whose
     *  margin level fell below the maintenance level. Not a type to place: a request with it
     *  is ::CMEE_EINVAL. @since 0.2.0 */
    CMEE_ORDER_LIQUIDATION = 3,
} cmee_order_type;

/** Order states. */
typedef enum cmee_order_state {
    CMEE_ORDER_OPEN = 0,      /**< waiting for its price */
    CMEE_ORDER_FILLED = 1,    /**< filled completely */
    CMEE_ORDER_CANCELLED = 2, /**< cancelled by the user */
    CMEE_ORDER_REJECTED = 3,  /**< triggered but refused (insufficient margin or halted) */
} cmee_order_state;

/** An order to place. Fill with cmee_order_request_init(). */
typedef struct cmee_order_request {
    char symbol[CMEE_SYMBOL_MAX];
    cmee_side side;
    cmee_order_type type;
    double quantity;    /**< > 0, finite, at most 1e12 */
    double price;       /**< limit or stop price (> 0); ignored for market orders */
    double stop_loss;   /**< set on the resulting position when filled; 0 = none */
    double take_profit; /**< likewise; 0 = none */
} cmee_order_request;

/** An order as the session records it. */
typedef struct cmee_order {
    uint64_t id;               /**< 1, 2, ... within the session */
    char symbol[CMEE_SYMBOL_MAX];
    cmee_side side;
    cmee_order_type type;
    cmee_order_state state;
    double quantity;
    double price;              /**< limit or stop price; 0 for market orders */
    double stop_loss, take_profit;
    int64_t created;           /**< sim time placed */
    int64_t closed;            /**< sim time filled, cancelled or rejected; 0 while open */
    double fill_price;         /**< 0 unless filled */
    int64_t fee;               /**< money units charged */
    uint64_t epoch;            /**< the epoch it belongs to (cmee_session_reset()) @since 0.2.0 */
} cmee_order;

/** A position: the net holding of one symbol. */
typedef struct cmee_position {
    char symbol[CMEE_SYMBOL_MAX];
    double quantity;     /**< > 0 long, < 0 short */
    double avg_price;    /**< average entry price */
    double mark;         /**< current mid price */
    int64_t unrealised;  /**< (mark - avg_price) x quantity, money units */
    int64_t realised;    /**< P&L realised on this symbol so far (all positions) */
    double stop_loss;    /**< 0 = none */
    double take_profit;  /**< 0 = none */
    /** Its leverage: the session's, capped by the class's (1 in a cash account). @since 0.2.0 */
    double leverage;
    /** Margin it takes: |quantity| x avg_price / leverage, money units. @since 0.2.0 */
    int64_t margin;
} cmee_position;

/** Binary option kinds. */
typedef enum cmee_option_kind {
    CMEE_OPTION_CALL = 0, /**< wins if the price at expiry is above the strike */
    CMEE_OPTION_PUT = 1,  /**< wins if the price at expiry is below the strike */
} cmee_option_kind;

/** Binary option states. */
typedef enum cmee_option_state {
    CMEE_OPTION_OPEN = 0, /**< not expired yet */
    CMEE_OPTION_WON = 1,  /**< paid stake x (1 + payout) */
    CMEE_OPTION_LOST = 2, /**< the stake is lost */
    CMEE_OPTION_TIE = 3,  /**< expiry price equals the strike: the stake is returned */
} cmee_option_state;

/** A binary option to buy. Fill with cmee_option_request_init(). */
typedef struct cmee_option_request {
    char symbol[CMEE_SYMBOL_MAX];
    cmee_option_kind kind;
    int64_t stake;    /**< money units, > 0 */
    int64_t duration; /**< ms from now to expiry: 1 second to 30 days */
    double payout;    /**< fraction of the stake paid on a win, (0, 10]; 0 = session default */
} cmee_option_request;

/** A binary option as the session records it. */
typedef struct cmee_option {
    uint64_t id;
    char symbol[CMEE_SYMBOL_MAX];
    cmee_option_kind kind;
    cmee_option_state state;
    int64_t stake;
    double payout;
    int64_t opened;       /**< sim time bought */
    int64_t expires;      /**< sim time of expiry */
    double strike;        /**< the price when bought */
    double settle_price;  /**< the price at expiry; 0 while open */
    int64_t paid;         /**< money units paid back (0 if lost) */
    uint64_t epoch;       /**< the epoch it belongs to (cmee_session_reset()) @since 0.2.0 */
} cmee_option;

/** Kinds of ledger entry. */
typedef enum cmee_ledger_kind {
    CMEE_LEDGER_DEPOSIT = 0,        /**< the opening balance */
    CMEE_LEDGER_FEE = 1,            /**< a fill's fee (negative) */
    CMEE_LEDGER_PNL = 2,            /**< P&L realised by reducing or closing a position */
    CMEE_LEDGER_OPTION_STAKE = 3,   /**< an option's stake (negative) */
    CMEE_LEDGER_OPTION_PAYOUT = 4,  /**< a winning or tied option's payment */
} cmee_ledger_kind;

/** One ledger entry. The ledger only grows; balance = sum of amounts. */
typedef struct cmee_ledger_entry {
    uint64_t seq;      /**< 1, 2, ... */
    int64_t time;      /**< sim time */
    cmee_ledger_kind kind;
    int64_t amount;    /**< money units, signed */
    int64_t balance;   /**< the balance after this entry */
    uint64_t ref;      /**< the order or option id (0 for the deposit) */
    char symbol[CMEE_SYMBOL_MAX];
    uint64_t epoch;    /**< the epoch it belongs to (cmee_session_reset()) @since 0.2.0 */
} cmee_ledger_entry;

/** The account at the session's now. */
typedef struct cmee_account {
    char currency[CMEE_CURRENCY_MAX];
    int64_t balance;     /**< the sum of the ledger */
    int64_t unrealised;  /**< sum over positions */
    int64_t equity;      /**< balance + unrealised */
    int64_t used_margin; /**< sum of the positions' margins, |quantity| x avg_price / leverage */
    int64_t free_margin; /**< equity - used_margin */
    size_t positions;    /**< open positions */
    size_t open_orders;  /**< orders waiting for their price */
    size_t open_options; /**< options not expired */
    size_t ledger_entries;
    /** equity / used_margin as a ratio (1 = 100 %); +infinity (HUGE_VAL) when no margin is
     *  used (no position). @since 0.2.0 */
    double margin_level;
    /** A margin call is in force: the level fell below the call level and has not been back
     *  at or above it since (always false in a cash account). @since 0.2.0 */
    bool margin_call;
    /** The session's epoch (cmee_session_reset()): the account is the epoch's. @since 0.2.0 */
    uint64_t epoch;
} cmee_account;

/** Defaults: market buy of quantity 0 (set it), no stop-loss or take-profit. @since 0.2.0 */
CMEE_API void cmee_order_request_init(cmee_order_request *r, const char *symbol);
/** Defaults: CALL, stake 0 (set it), duration one minute, session payout. @since 0.2.0 */
CMEE_API void cmee_option_request_init(cmee_option_request *r, const char *symbol);

/**
 * Place an order (after advancing). A market order fills now or is refused; a limit or stop
 * order is checked and waits. A limit order whose price is already reached (a buy at or above
 * the ask) fills now at its price or better; a stop order whose price is already reached (by
 * the ask or bid with ::CMEE_FILL_QUOTE, by the last price with ::CMEE_FILL_BOOK) fills now
 * as a market order.
 * @param[out] out the order as recorded, or NULL.
 * @returns ::CMEE_OK; ::CMEE_EINVAL (bad field); ::CMEE_ENOTFOUND (symbol); ::CMEE_ESTATE
 *          (market halted); ::CMEE_ENOSPACE (insufficient free margin for the fill and its
 *          fee); store errors. Refusals change nothing.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_order(cmee_session *s, const cmee_order_request *req,
                                        cmee_order *out);

/** Cancel an open order. @returns ::CMEE_OK, ::CMEE_ENOTFOUND, ::CMEE_ESTATE (not open).
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_session_cancel_order(cmee_session *s, uint64_t order_id);

/** Set or clear (0) the stop-loss and take-profit of the open position in @p symbol. A long's
 *  stop-loss must be below the bid and its take-profit above it (mirrored for a short).
 *  @returns ::CMEE_OK, ::CMEE_ENOTFOUND (no position), ::CMEE_EINVAL. @since 0.2.0 */
CMEE_API cmee_status cmee_session_protect(cmee_session *s, const char *symbol, double stop_loss,
                                          double take_profit);

/** Close the whole position in @p symbol at the market. @param[out] out the closing order, or
 *  NULL. @returns as cmee_session_order(); ::CMEE_ENOTFOUND if flat. @since 0.2.0 */
CMEE_API cmee_status cmee_session_close_position(cmee_session *s, const char *symbol,
                                                 cmee_order *out);

/**
 * Buy a binary option at the current price (the strike), paying its stake now. It settles at
 * the price at expiry: a CALL wins above the strike, a PUT below; equal is a tie and returns
 * the stake. A win pays stake x (1 + payout), rounded to money units.
 * @returns ::CMEE_OK; ::CMEE_EINVAL; ::CMEE_ENOTFOUND; ::CMEE_ESTATE (halted);
 *          ::CMEE_ERANGE (expiry past the series end); ::CMEE_ENOSPACE (stake above the free
 *          margin); store errors.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_option(cmee_session *s, const cmee_option_request *req,
                                         cmee_option *out);

/** The account (after advancing). @since 0.2.0 */
CMEE_API cmee_status cmee_session_account(cmee_session *s, cmee_account *out);

/** Open positions, in symbol order; buffers as cmee_session_list(). Marks at now (call
 *  cmee_session_advance() first for fresh marks). @since 0.2.0 */
CMEE_API cmee_status cmee_session_positions(const cmee_session *s, cmee_position *buf,
                                            size_t cap, size_t *n);

/** Orders, oldest first; @p open_only to list open ones only. @since 0.2.0 */
CMEE_API cmee_status cmee_session_orders(const cmee_session *s, bool open_only, cmee_order *buf,
                                         size_t cap, size_t *n);

/** Options, oldest first; @p open_only to list open ones only. @since 0.2.0 */
CMEE_API cmee_status cmee_session_options(const cmee_session *s, bool open_only,
                                          cmee_option *buf, size_t cap, size_t *n);

/** Ledger entries with seq > @p after (0 for all), oldest first. @since 0.2.0 */
CMEE_API cmee_status cmee_session_ledger(const cmee_session *s, uint64_t after,
                                         cmee_ledger_entry *buf, size_t cap, size_t *n);

/* ---- events ------------------------------------------------------------------------------ */

/** Kinds of session event. */
typedef enum cmee_session_event_kind {
    CMEE_SESSION_EV_ORDER_FILLED = 0,      /**< an order filled (also stop-loss and take-profit) */
    CMEE_SESSION_EV_ORDER_REJECTED = 1,    /**< a triggered order could not fill */
    CMEE_SESSION_EV_OPTION_SETTLED = 2,    /**< an option expired and settled */
    CMEE_SESSION_EV_SCENARIO_APPLIED = 3,  /**< a scenario was applied */
    CMEE_SESSION_EV_SCENARIO_CANCELLED = 4,/**< a scenario application was cancelled */
    CMEE_SESSION_EV_CLOCK_CHANGED = 5,     /**< paused, resumed, speed changed, stepped or sought */
    /** A margin account's margin level fell below its margin call level. @since 0.2.0 */
    CMEE_SESSION_EV_MARGIN_CALL = 6,
    /** A margin account was liquidated (after the fills of its liquidation orders).
     *  @since 0.2.0 */
    CMEE_SESSION_EV_LIQUIDATION = 7,
} cmee_session_event_kind;

/** An event, passed to the listener during the call that caused it. */
typedef struct cmee_session_event {
    cmee_session_event_kind kind;
    int64_t time;           /**< sim time it happened */
    const char *session_id; /**< borrowed for the call */
    const char *json;       /**< details as a JSON object (borrowed for the call) */
} cmee_session_event;

/** Kind name ("order_filled", "order_rejected", "option_settled", "scenario_applied",
 *  "scenario_cancelled", "clock_changed", "margin_call", "liquidation"), or NULL.
 *  @since 0.2.0 */
CMEE_API const char *cmee_session_event_kind_name(cmee_session_event_kind kind);

/** Set (or clear, with NULL) the function told of every event, on the calling thread, after
 *  the change is committed. It must not call back into @p s. @since 0.2.0 */
CMEE_API void cmee_session_set_listener(cmee_session *s,
                                        void (*fn)(void *ud, const cmee_session_event *ev),
                                        void *ud);

/* ---- the action log and replay ----------------------------------------------------------- */

/**
 * Kinds of action: the calls that change a session, as its action log records them.
 *
 * Every call that changes a session's state and returns ::CMEE_OK appends one action, with the
 * sim time it took effect, in order. What the engine does by itself as time passes (fills of
 * waiting orders, stop-loss and take-profit closes, liquidations, option settlements, margin
 * calls) is not an action: it follows from the actions and the market, and replay does it
 * again. Refused calls change nothing and are not recorded; neither are reads, nor
 * cmee_session_advance() (time passing), nor a pause of a paused clock or a resume of a
 * running one (no change).
 * @since 0.2.0
 */
typedef enum cmee_action_kind {
    /** cmee_session_order(); cmee_session_close_position() is recorded as the order it placed. */
    CMEE_ACTION_ORDER = 0,
    CMEE_ACTION_CANCEL_ORDER = 1,    /**< cmee_session_cancel_order() */
    CMEE_ACTION_PROTECT = 2,         /**< cmee_session_protect() */
    CMEE_ACTION_OPTION = 3,          /**< cmee_session_option() */
    /** cmee_session_apply_scenario(), and the scenario of the config at creation. */
    CMEE_ACTION_APPLY_SCENARIO = 4,
    CMEE_ACTION_CANCEL_SCENARIO = 5, /**< cmee_session_cancel_scenario() */
    CMEE_ACTION_PAUSE = 6,           /**< cmee_session_pause() of a running clock */
    CMEE_ACTION_RESUME = 7,          /**< cmee_session_resume() of a paused clock */
    CMEE_ACTION_SET_SPEED = 8,       /**< cmee_session_set_speed() */
    CMEE_ACTION_STEP = 9,            /**< cmee_session_step() */
    CMEE_ACTION_SEEK = 10,           /**< cmee_session_seek() */
} cmee_action_kind;

/** One entry of a session's action log. Only the fields of its kind are set; the rest are 0. */
typedef struct cmee_session_action {
    uint64_t seq;               /**< 1, 2, ... within the session's epoch */
    int64_t time;               /**< sim time it took effect (for a step or seek: the time the
                                     clock moved to) */
    cmee_action_kind kind;
    /** ORDER: the request as made (symbol NUL-padded; a market order's price as given). */
    cmee_order_request order;
    /** OPTION: the request as made (payout 0 = the session default). */
    cmee_option_request option;
    char symbol[CMEE_SYMBOL_MAX]; /**< PROTECT: the position's symbol */
    double stop_loss;           /**< PROTECT */
    double take_profit;         /**< PROTECT */
    /** ORDER: the id of the order placed; CANCEL_ORDER: the order cancelled; OPTION: the id of
     *  the option bought; APPLY_SCENARIO, CANCEL_SCENARIO: the application id. */
    uint64_t ref;
    double speed;               /**< SET_SPEED: the new speed */
    int64_t ms;                 /**< STEP: the step in ms; SEEK: the time sought */
    /** APPLY_SCENARIO: the scenario's name. */
    char scenario[CMEE_SCENARIO_NAME_MAX];
} cmee_session_action;

/** Kind name ("order", "cancel_order", "protect", "option", "apply_scenario",
 *  "cancel_scenario", "pause", "resume", "set_speed", "step", "seek"), or NULL. @since 0.2.0 */
CMEE_API const char *cmee_action_kind_name(cmee_action_kind kind);

/**
 * The action log of the session's current epoch, oldest first, actions with seq > @p after (0
 * for all); buffers as cmee_session_list(). It is stored with the session (append-only) and
 * survives cmee_session_load().
 * @returns ::CMEE_OK; ::CMEE_EINVAL; ::CMEE_ENOSPACE (short buffer, nothing written).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_actions(const cmee_session *s, uint64_t after,
                                          cmee_session_action *buf, size_t cap, size_t *n);

/** Whether the session can be replayed: false only for a session stored before the action
 *  log existed (store schema version 6 or older), until it is reset (cmee_session_reset()).
 *  @since 0.2.0 */
CMEE_API bool cmee_session_replayable(const cmee_session *s);

/**
 * Replay a session: build a new in-memory session from @p s's configuration and re-run its
 * action log through the public calls, each at the sim time it took effect, then process up
 * to @p s's processed time (cmee_clock::processed). Markets are deterministic, so the replay
 * has the same orders, fills, positions, options, settlements, ledger and action log as @p s,
 * bit for bit (cmee_session_replay_check() verifies it). The replay has no store, its own
 * listener (none) and the real wall clock; its clock has the state @p s's has (speed, paused,
 * manual), standing at the processed time. @p s is not changed.
 *
 * Thread-safety: reads @p s only, but @p s must not be changed by another thread meanwhile
 * (the session's thread rule); the replay is a new session of its own. Cost: the market work of
 * the whole epoch again (tests/bench/bench_replay.c: about 0.2-0.3 ms per action).
 *
 * @param[in]  s      the session (not changed; reads only).
 * @param[in]  alloc  allocator for the replay, or NULL.
 * @param[out] out    the replay; free with cmee_session_free().
 * @param[out] err    details of a failure, or NULL.
 * @returns ::CMEE_OK; ::CMEE_ESTATE if @p s is not replayable (stored before the action log);
 *          ::CMEE_ECORRUPT if an action is refused on replay (the log and the market do not
 *          agree: @p err names the action); ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_replay(const cmee_session *s, const cmee_allocator *alloc,
                                         cmee_session **out, cmee_error *err);

/** The outcome of comparing two sessions' records (cmee_session_compare(),
 *  cmee_session_replay_check()). */
typedef struct cmee_replay_result {
    bool same;              /**< every compared record is equal, field by field, bit for bit */
    uint64_t actions;       /**< actions replayed (cmee_session_replay_check()) */
    size_t orders;          /**< orders compared (of the first session) */
    size_t options;         /**< options compared */
    size_t ledger_entries;  /**< ledger entries compared */
    /** When not @p same, the first difference: the record ("action", "order", "option",
     *  "ledger", "position", "account"), its 1-based number (seq or id; 0 for a count or
     *  the account), the field ("count", "fill_price", ... or "status" for an action refused
     *  on replay), and both values as text (doubles with %.17g, so different bits read
     *  differently). Records are compared in that order. */
    char record[16];
    uint64_t index;
    char field[32];
    char original[64];      /**< the value in the first session (the original) */
    char replayed[64];      /**< the value in the second session (the replay) */
} cmee_replay_result;

/**
 * Compare the records of @p a and @p b: their action logs, orders, options, ledgers,
 * positions and balances, every field bit for bit (doubles by their bits, so -0.0 differs
 * from 0.0), and report the first difference. Reads only.
 * @returns ::CMEE_OK (whatever the outcome: see cmee_replay_result::same); ::CMEE_EINVAL.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_compare(const cmee_session *a, const cmee_session *b,
                                          cmee_replay_result *out);

/**
 * Audit a session: replay it (cmee_session_replay()) and compare the replay with it
 * (cmee_session_compare()). An action refused on replay is reported as a difference
 * (record "action", field "status"), not as a failure. Costs a replay: the market work of the
 * whole epoch again. @p s is not changed.
 * @returns ::CMEE_OK (see cmee_replay_result::same); ::CMEE_EINVAL; ::CMEE_ESTATE (not
 *          replayable); ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_replay_check(const cmee_session *s,
                                               cmee_replay_result *out);

/* ---- reset and epochs ------------------------------------------------------------------------ */

/**
 * Reset a session to its start state in a new epoch: the clock at the config's start time
 * with its speed and pause (or manual) state, the market rebuilt from the seed with only the
 * config's scenario (other scenarios applied since are gone with the epoch), the opening
 * balance deposited again, and no positions, orders, options or margin call. Everything due up
 * to now is processed first (and committed), so the old epoch's history is complete; then the
 * old epoch's orders, options, ledger and action log are kept, readable with
 * cmee_session_epoch_orders() and the like, and the epoch number goes up by one (ids and
 * sequence numbers start again at 1). Listings, the account and the clock show the new epoch;
 * replay replays it. A session stored before the action log becomes replayable from its new
 * epoch on. One clock_changed event ({"change":"reset","epoch":N,...}) follows. Persisted in
 * one transaction (after the commit of the advance).
 * @returns ::CMEE_OK; ::CMEE_ENOMEM (nothing changed); store errors (the session goes back
 *          to its last committed state).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_reset(cmee_session *s);

/** The session's current epoch: 1 for a new session, one more after each reset; 0 if @p s is
 *  NULL. @since 0.2.0 */
CMEE_API uint64_t cmee_session_epoch(const cmee_session *s);

/**
 * The orders, options, ledger entries or action log of epoch @p epoch (1 to the current one;
 * the current one gives what cmee_session_orders(s, false, ...), cmee_session_options(s,
 * false, ...), cmee_session_ledger(s, 0, ...) and cmee_session_actions(s, 0, ...) give), oldest
 * first. Buffers as cmee_session_list(). Past epochs are kept in memory and in the store and
 * come back with cmee_session_load(). A session stored before the action log has no actions in
 * its first epoch.
 * @returns ::CMEE_OK; ::CMEE_EINVAL; ::CMEE_ENOTFOUND (no such epoch); ::CMEE_ENOSPACE.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_epoch_orders(const cmee_session *s, uint64_t epoch,
                                               cmee_order *buf, size_t cap, size_t *n);
/** See cmee_session_epoch_orders(). @since 0.2.0 */
CMEE_API cmee_status cmee_session_epoch_options(const cmee_session *s, uint64_t epoch,
                                                cmee_option *buf, size_t cap, size_t *n);
/** See cmee_session_epoch_orders(). @since 0.2.0 */
CMEE_API cmee_status cmee_session_epoch_ledger(const cmee_session *s, uint64_t epoch,
                                               cmee_ledger_entry *buf, size_t cap, size_t *n);
/** See cmee_session_epoch_orders(). @since 0.2.0 */
CMEE_API cmee_status cmee_session_epoch_actions(const cmee_session *s, uint64_t epoch,
                                                cmee_session_action *buf, size_t cap,
                                                size_t *n);

/* ---- the driver: sessions in real time, on a broadcaster ------------------------------------ */

/**
 * A driver keeps a set of sessions moving and publishes what happens in them. Each
 * cmee_driver_pump() advances every session to its clock and publishes, for each session:
 *  - its events on "session.<id>" (type = cmee_session_event_kind_name(), payload = the JSON);
 *  - the ticks of its watched symbols since the last pump on "session.<id>.ticks.<symbol>"
 *    (message kind tick; at most the latest ::CMEE_DRIVER_MAX_TICKS per symbol and pump);
 *  - the 1m candles of its watched symbols that closed since the last pump on
 *    "session.<id>.candles.<symbol>.1m" (at most the latest ::CMEE_DRIVER_MAX_CANDLES).
 * Each session has its own market (seed, scenarios), so its streams are its own; subscribe to
 * "session.<id>.*" for all of one session's streams.
 *
 * The driver is a pump, not a thread: call it from your event loop's timer (a server) or a
 * loop of your own. It installs its own listener on every session it drives (replacing yours).
 *
 * Thread-safety: a driver and its sessions are used from one thread at a time; publishing is
 * what may reach subscribers on other threads.
 */
typedef struct cmee_driver cmee_driver;

/** The most ticks per symbol one pump publishes (the latest). */
#define CMEE_DRIVER_MAX_TICKS 600
/** The most closed candles per symbol one pump publishes (the latest). */
#define CMEE_DRIVER_MAX_CANDLES 60

/** Create a driver publishing to @p b (not owned; NULL to only advance). @since 0.2.0 */
CMEE_API cmee_status cmee_driver_new(cmee_broadcaster *b, const cmee_allocator *alloc,
                                     cmee_driver **out);
/** Free a driver (its sessions are not freed; their listeners are cleared). Accepts NULL.
 *  @since 0.2.0 */
CMEE_API void cmee_driver_free(cmee_driver *d);
/**
 * Drive @p s (not owned; remove it before freeing it) and watch @p n symbols of it (may be 0).
 * Adding a session already driven replaces its watch list.
 * @returns ::CMEE_OK, ::CMEE_EINVAL, ::CMEE_ENOTFOUND (a symbol), ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_driver_add(cmee_driver *d, cmee_session *s,
                                     const char *const *symbols, size_t n);
/** Stop driving @p s. @returns ::CMEE_OK or ::CMEE_ENOTFOUND. @since 0.2.0 */
CMEE_API cmee_status cmee_driver_remove(cmee_driver *d, cmee_session *s);
/** Number of sessions driven. @since 0.2.0 */
CMEE_API size_t cmee_driver_count(const cmee_driver *d);
/**
 * Advance every session and publish (see ::cmee_driver). A session whose advance fails is
 * skipped this time (its error stays in cmee_session_errmsg()).
 * @param[out] failed number of sessions that failed to advance, or NULL.
 * @returns ::CMEE_OK, or the first failure's status.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_driver_pump(cmee_driver *d, size_t *failed);

/** sizeof of the public session structs as compiled, for bindings. @since 0.2.0 */
CMEE_API size_t cmee_sizeof_session_struct(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_SESSION_H */
