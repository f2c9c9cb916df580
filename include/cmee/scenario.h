/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/scenario.h
 * @brief Scenarios: named timelines of regimes and events, and applying them to a market.
 *
 * A ::cmee_scenario is an immutable value: a name, the symbols it applies to, and a timeline of
 * regimes (drift, volatility, jumps, mean reversion over a span) and events (shock, halt,
 * volatility spike, price target). Times in a scenario are offsets in milliseconds from the
 * moment it is applied. A scenario is validated completely when it is created, so every
 * ::cmee_scenario that exists is valid; errors name the bad field and value
 * ("regimes[1].start: overlaps regimes[0], which ends at 3600000").
 *
 * Applying a scenario to a ::cmee_market at time t0 (cmee_scenario_apply()) transforms that
 * market's path *after* t0 and nothing before it (DESIGN.md contract 4): the scenario acts on
 * the increments of the base path minute by minute, so every candle, tick and price before t0
 * stays bit-identical, and the same timeline always gives the same prices. docs/scenarios.md
 * has the model and what each preset does.
 *
 * Units: fractions, as in ::cmee_symbol_spec (0.05 = +5 %); times in ms; rates per year.
 *
 * Thread-safety: a ::cmee_scenario is immutable; any number of threads may read or apply the
 * same scenario at once. cmee_scenario_apply() and cmee_scenario_cancel() change the market and
 * need exclusive access to it, like cmee_market_set_symbol().
 */
#ifndef CMEE_SCENARIO_H
#define CMEE_SCENARIO_H

#include <stdbool.h>

#include <cmee/core.h>
#include <cmee/market.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Size of a scenario name buffer, including the terminating NUL. */
#define CMEE_SCENARIO_NAME_MAX 64
/** The most regimes, events or symbols in one scenario. */
#define CMEE_SCENARIO_MAX_ITEMS 256
/** The latest end of any regime or event: 10 years after the scenario is applied. */
#define CMEE_SCENARIO_MAX_SPAN (INT64_C(3652) * INT64_C(86400000))

/** How a regime's drift is given. */
typedef enum cmee_drift_mode {
    /** Keep the symbol's own drift (the default). */
    CMEE_DRIFT_KEEP = 0,
    /** cmee_regime::drift is the expected change over the whole regime: the expected log price
     *  moves by ln(1 + drift) from the regime's start to its end. drift > -1. */
    CMEE_DRIFT_SPAN = 1,
    /** cmee_regime::drift is annualised: the expected log price moves by ln(1 + drift) a
     *  year. drift > -1. */
    CMEE_DRIFT_ANNUAL = 2,
} cmee_drift_mode;

/** How a price level is given (a mean-reversion level or a target). */
typedef enum cmee_level_kind {
    /** No level (mean reversion off); value must be 0. */
    CMEE_LEVEL_NONE = 0,
    /** An absolute price: value > 0. */
    CMEE_LEVEL_PRICE = 1,
    /** A change relative to the price when the regime or event starts: value > -1
     *  (0.1 = 10 % above it). */
    CMEE_LEVEL_CHANGE = 2,
} cmee_level_kind;

/** A price level. */
typedef struct cmee_level {
    cmee_level_kind kind; /**< how @p value is meant */
    double value;         /**< a price, or a fractional change */
} cmee_level;

/**
 * A regime: market settings over [start, end) after the scenario is applied. Regimes of one
 * scenario must not overlap; outside every regime the symbol behaves as configured.
 * Fill with cmee_regime_init() and change what you need.
 */
typedef struct cmee_regime {
    int64_t start;              /**< ms after the apply time; >= 0 */
    int64_t end;                /**< ms after the apply time; > start, <= ::CMEE_SCENARIO_MAX_SPAN */
    cmee_drift_mode drift_mode; /**< how @p drift is meant */
    double drift;               /**< see ::cmee_drift_mode; > -1, and 0 with ::CMEE_DRIFT_KEEP */
    double vol_mult;            /**< multiplier of the symbol's volatility; in (0, 20], default 1 */
    double jump_rate;           /**< extra jumps per year, 0 (default) to 100000 */
    double jump_mean;           /**< mean log size of the extra jumps; in [-1, 1] */
    double jump_stdev;          /**< standard deviation of their log size; in [0, 1] */
    /** Mean reversion: half-life in ms of the distance to @p revert_to (0 = off, default;
     *  else from one hour to ::CMEE_SCENARIO_MAX_SPAN). Needs a @p revert_to level. */
    int64_t revert_half_life;
    cmee_level revert_to;       /**< level the log price reverts toward */
    /** Multiplier of the symbol's traded volume (every 1m candle's and so every tick's) over
     *  the regime, on top of the volume that follows the size of each move; in (0, 100],
     *  default 1. 0 is taken as 1, so a regime filled field by field by code written before
     *  this field existed keeps its meaning. @since 0.3.0 */
    double volume_mult;
} cmee_regime;

/** Kinds of event. */
typedef enum cmee_event_kind {
    /** An instant move: the price changes by cmee_event::size (a fraction in (-1, 10]) at
     *  `at`. */
    CMEE_EVENT_SHOCK = 0,
    /** Trading halts over [at, end): flat prices, zero range, zero volume. */
    CMEE_EVENT_HALT = 1,
    /** Volatility jumps to cmee_event::size times its level at `at` (size in (1, 20]) and the
     *  excess decays with half-life cmee_event::half_life. */
    CMEE_EVENT_SPIKE = 2,
    /** Over [at, end) the drift is set so that the expected log price at `end` is the log of
     *  cmee_event::target ("reach P, or +X %, by T", in expectation). */
    CMEE_EVENT_TARGET = 3,
} cmee_event_kind;

/** An event. Fill with cmee_event_init() and change what you need. */
typedef struct cmee_event {
    cmee_event_kind kind; /**< what happens */
    int64_t at;           /**< ms after the apply time; >= 0 */
    int64_t end;          /**< halt and target: end (exclusive), > at; ignored otherwise */
    double size;          /**< shock: fractional move; spike: volatility multiplier */
    int64_t half_life;    /**< spike: ms for the excess volatility to halve; 1 minute to 30 days */
    cmee_level target;    /**< target: the price to reach (CMEE_LEVEL_CHANGE is relative to the
                               price at `at`) */
} cmee_event;

/** What cmee_scenario_new() is made from. Every pointer is read only during the call. */
typedef struct cmee_scenario_spec {
    /** Name: 1 to 63 characters from A-Z a-z 0-9 and "_-. " (not starting or ending with a
     *  space). */
    const char *name;
    /** Free text, may be NULL; at most 1023 bytes. */
    const char *description;
    /** The symbols it applies to; NULL with @p nsymbols 0 means every symbol of the market. */
    const char *const *symbols;
    size_t nsymbols;
    const cmee_regime *regimes; /**< in any order; must not overlap */
    size_t nregimes;
    const cmee_event *events;   /**< in any order */
    size_t nevents;
} cmee_scenario_spec;

/** A validated, immutable scenario. Opaque; see cmee_scenario_new(). */
typedef struct cmee_scenario cmee_scenario;

/** Fill @p r with a regime that changes nothing: drift kept, vol_mult 1, volume_mult 1, no
 *  jumps, no reversion, over [0, 0) (set start and end). Nothing happens if @p r is NULL.
 *  @since 0.2.0 */
CMEE_API void cmee_regime_init(cmee_regime *r);

/** Fill @p e with a zeroed event of kind @p kind (half_life one hour for a spike). Nothing
 *  happens if @p e is NULL. @since 0.2.0 */
CMEE_API void cmee_event_init(cmee_event *e, cmee_event_kind kind);

/**
 * Validate @p spec and make a scenario from a copy of it.
 *
 * Rules (each failure names the field and value): a valid name; every regime within
 * [0, ::CMEE_SCENARIO_MAX_SPAN] with start < end, and no two overlapping; fields in their
 * ranges; halts and targets must not overlap each other; no shock during a halt; at most
 * ::CMEE_SCENARIO_MAX_ITEMS of each list; symbols valid, unique and, when @p registry is not
 * NULL, registered there. Times need not be whole minutes: the effect starts at the first
 * minute boundary at or after each time (docs/scenarios.md).
 *
 * @param[in]  spec     what to build.
 * @param[in]  registry market whose symbols the symbol list is checked against, or NULL.
 * @param[in]  alloc    allocator for the scenario, or NULL for malloc/free. (The JSON parser's
 *                      temporary memory goes through jansson's own, process-wide allocator.)
 * @param[out] out      the scenario, written only on success; free with cmee_scenario_free().
 * @param[out] err      details of a failure, or NULL.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments or a bad field; ::CMEE_ENOTFOUND for a
 *          symbol not in @p registry; ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_scenario_new(const cmee_scenario_spec *spec,
                                       const cmee_market *registry,
                                       const cmee_allocator *alloc, cmee_scenario **out,
                                       cmee_error *err);

/**
 * Make a scenario from its JSON form (the form cmee_scenario_to_json() writes; docs/scenarios.md
 * has the schema). Validation is that of cmee_scenario_new(); unknown keys and wrong types are
 * errors naming the JSON path ("regimes[0].vol_mult: expected a number").
 *
 * @param[in] json text of @p len bytes (need not be NUL-terminated); at most 1 MiB.
 * @returns as cmee_scenario_new(); ::CMEE_EINVAL also for malformed JSON (with line and
 *          column).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_scenario_from_json(const char *json, size_t len,
                                             const cmee_market *registry,
                                             const cmee_allocator *alloc, cmee_scenario **out,
                                             cmee_error *err);

/**
 * The canonical JSON form of a scenario: compact, keys in a fixed order, every field written,
 * numbers in the shortest form that reads back to the same double. cmee_scenario_from_json() of
 * it gives an equal scenario, and equal scenarios give identical text.
 *
 * @param[in]  buf NULL with @p cap 0 to ask for the length only (returns ::CMEE_OK).
 * @param[out] len length of the text without the NUL, written on ::CMEE_OK and ::CMEE_ENOSPACE.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments; ::CMEE_ENOSPACE if @p buf is given and
 *          @p cap <= length (nothing written).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_scenario_to_json(const cmee_scenario *sc, char *buf, size_t cap,
                                           size_t *len);

/**
 * A built-in preset by name: "calm", "bull_trend", "bear_trend", "crash",
 * "flash_crash_recovery", "volatility_spike", "sideways_range", and more listed by
 * cmee_scenario_preset_name(). Presets apply to every symbol; docs/scenarios.md says what each
 * does.
 *
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments; ::CMEE_ENOTFOUND for an unknown name;
 *          ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_scenario_preset(const char *name, const cmee_allocator *alloc,
                                          cmee_scenario **out, cmee_error *err);

/** Name of preset @p i (0, 1, ...), or NULL past the last. Static string. @since 0.2.0 */
CMEE_API const char *cmee_scenario_preset_name(size_t i);

/** Free a scenario. Accepts NULL. @since 0.2.0 */
CMEE_API void cmee_scenario_free(cmee_scenario *sc);

/** The scenario's name (borrowed, valid while @p sc lives; "" if @p sc is NULL). @since 0.2.0 */
CMEE_API const char *cmee_scenario_name(const cmee_scenario *sc);

/** The description (borrowed; "" if none or @p sc is NULL). @since 0.2.0 */
CMEE_API const char *cmee_scenario_description(const cmee_scenario *sc);

/** Number of symbols listed (0 means every symbol). @since 0.2.0 */
CMEE_API size_t cmee_scenario_symbol_count(const cmee_scenario *sc);

/** Symbol @p i of the list (borrowed), or NULL for a bad index. @since 0.2.0 */
CMEE_API const char *cmee_scenario_symbol_at(const cmee_scenario *sc, size_t i);

/** Whether the scenario applies to @p symbol (true for every symbol when the list is empty).
 *  @since 0.2.0 */
CMEE_API bool cmee_scenario_applies_to(const cmee_scenario *sc, const char *symbol);

/** Number of regimes, sorted by start. @since 0.2.0 */
CMEE_API size_t cmee_scenario_regime_count(const cmee_scenario *sc);

/** Copy regime @p i (sorted by start). @returns ::CMEE_OK, ::CMEE_EINVAL, ::CMEE_ERANGE.
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_scenario_regime_at(const cmee_scenario *sc, size_t i,
                                             cmee_regime *out);

/** Number of events, sorted by `at` (stable). @since 0.2.0 */
CMEE_API size_t cmee_scenario_event_count(const cmee_scenario *sc);

/** Copy event @p i (sorted by `at`). @returns ::CMEE_OK, ::CMEE_EINVAL, ::CMEE_ERANGE.
 *  @since 0.2.0 */
CMEE_API cmee_status cmee_scenario_event_at(const cmee_scenario *sc, size_t i, cmee_event *out);

/**
 * How long the scenario acts, in ms after it is applied: the latest end of its regimes and
 * events (a spike ends when its excess volatility falls below 1 %). After that the symbol
 * follows its own settings again, from wherever the scenario left the price.
 * @since 0.2.0
 */
CMEE_API int64_t cmee_scenario_duration(const cmee_scenario *sc);

/** Name of an event kind ("shock", "halt", "spike", "target"), or NULL. @since 0.2.0 */
CMEE_API const char *cmee_event_kind_name(cmee_event_kind kind);

/** Name of a drift mode ("keep", "span", "annual"), or NULL. @since 0.2.0 */
CMEE_API const char *cmee_drift_mode_name(cmee_drift_mode mode);

/* ---- applying scenarios to a market ----------------------------------------------------- */

/** Identifies one application of a scenario to a market. */
typedef uint32_t cmee_application_id;

/** What cmee_scenario_application_at() reports. */
typedef struct cmee_application {
    cmee_application_id id;            /**< as returned by cmee_scenario_apply() */
    char name[CMEE_SCENARIO_NAME_MAX]; /**< the scenario's name */
    int64_t t0;                        /**< when it was applied (first affected minute) */
    int64_t end;                       /**< when it stops acting: t0 + duration, or the time it
                                            was cancelled or superseded */
} cmee_application;

/**
 * Apply @p sc to @p m from time @p t0: every symbol the scenario names (or every symbol of the
 * market, if it names none) follows the scenario from the first minute boundary at or after
 * t0. The market copies what it needs; @p sc may be freed afterwards.
 *
 * Contract: nothing before t0 changes, candle for candle and tick for tick. A symbol has one
 * acting scenario at a time: applying another at t0 ends the previous one there (its effect on
 * the price level stays). Applications on a symbol must come in time order.
 *
 * Cost: O(days + irregular hours) of the scenario's span, once, to record where it leaves the
 * price. Later queries inside an acting scenario cost O(hours since its t0) more; after it
 * ends, nothing more.
 *
 * @param[out] id the application's id, or NULL.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments; ::CMEE_ENOTFOUND for a listed symbol
 *          the market lacks; ::CMEE_ERANGE if t0 is outside the series or the scenario would
 *          run past ::CMEE_TIME_MAX; ::CMEE_ESTATE if t0 is before the start of an earlier
 *          application on one of the symbols; ::CMEE_ENOMEM. Details in cmee_market_errmsg().
 *          On failure nothing changes.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_scenario_apply(cmee_market *m, const cmee_scenario *sc, int64_t t0,
                                         cmee_application_id *id);

/**
 * Stop application @p id from time @p t1 (the first minute boundary at or after it): from then
 * on its symbols follow their own settings again from the price the scenario left. Nothing
 * before t1 changes. Cancelling at or after its end changes nothing.
 *
 * @returns ::CMEE_OK; ::CMEE_EINVAL for a NULL market; ::CMEE_ENOTFOUND for an unknown id;
 *          ::CMEE_ESTATE if t1 is before the application's t0. (An application superseded by a
 *          later one has already ended where that one started: cancelling it then changes
 *          nothing.)
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_scenario_cancel(cmee_market *m, cmee_application_id id, int64_t t1);

/** Number of applications recorded on @p m (0 if NULL). @since 0.2.0 */
CMEE_API size_t cmee_scenario_application_count(const cmee_market *m);

/** Copy application @p i (in the order they were made). @returns ::CMEE_OK, ::CMEE_EINVAL,
 *  ::CMEE_ERANGE. @since 0.2.0 */
CMEE_API cmee_status cmee_scenario_application_at(const cmee_market *m, size_t i,
                                                  cmee_application *out);

/**
 * Whether @p symbol is halted by a scenario at time @p t (within a halt event of an acting
 * application).
 * @param[out] halted written only on success.
 * @returns as cmee_market_price().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_market_halted(const cmee_market *m, const char *symbol, int64_t t,
                                        bool *halted);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_SCENARIO_H */
