/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/report.h
 * @brief The results report of a session: P&L, return, drawdown, Sharpe and Sortino of the
 *        equity curve, trades and options with a win rate and its Wilson interval, best and
 *        worst trade, exposure.
 *
 * The report is computed from what the session records (its ledger, orders, options and
 * market), so the same session always gives the same report, and a session reloaded from its
 * store gives the report it had.
 *
 * Definitions (docs/report.md has the details):
 * - **Equity curve**: the balance (sum of the ledger up to t) plus the open positions marked at
 *   the last trade price at t, sampled every `sample_ms` of sim time from the session's start to
 *   its now, plus the final equity at now as the last point. Positions over time are
 *   rebuilt from the filled orders with the session's own rules (average price on adding,
 *   realised P&L on reducing, a flip opens at the fill price).
 * - **Return**: P&L over the opening balance, P&L = final equity minus the opening balance.
 * - **Max drawdown**: the largest fall of the curve from a running peak, in money and as a
 *   fraction of that peak.
 * - **Sharpe / Sortino**: of the curve's simple returns between samples, annualised with
 *   sqrt(samples per year), risk-free rate 0; Sortino uses the downside deviation
 *   sqrt(mean(min(r, 0)^2)). 0 when fewer than two returns or no variation.
 * - **Trades**: each fill that realised P&L (a reduction or close of a position) is a trade,
 *   won if its P&L net of its fee is > 0. Options count separately; a tie is neither won nor lost.
 * - **Win rate**: over decided trades and options together, with a 95 % Wilson interval.
 * - **Exposure**: the fraction of the session's sim time with at least one open position.
 *
 * Thread-safety: as the session's other calls.
 */
#ifndef CMEE_REPORT_H
#define CMEE_REPORT_H

#include <cmee/session.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How to compute a report. Fill with cmee_report_config_init(). */
typedef struct cmee_report_config {
    /** Sampling step of the equity curve in sim ms: [1000, 30 days]; default one hour. */
    int64_t sample_ms;
    /** Most samples (the step grows to fit): [2, 10,000,000]; default 100,000. */
    size_t max_samples;
    /** Bring the session up to its clock first (default true), as cmee_session_account()
     *  does; the final equity is then the account's. With false the report describes the
     *  session as last processed and changes nothing, not even its store (for reading a
     *  store another process serves); its final equity marks the positions at the last trade
     *  price, like the rest of the curve. */
    bool advance;
} cmee_report_config;

/** Set the defaults documented on each field. Nothing happens if NULL. @since 0.2.0 */
CMEE_API void cmee_report_config_init(cmee_report_config *c);

/** A session's results. Money in units of 10^-8 (::CMEE_MONEY_SCALE). */
typedef struct cmee_report {
    char session[CMEE_SESSION_ID_MAX];
    char currency[CMEE_CURRENCY_MAX];
    int64_t start;            /**< the session's start time (sim ms) */
    int64_t end;              /**< its now when the report was made */
    int64_t initial_balance;  /**< the opening deposit */
    int64_t final_equity;     /**< the equity at now (see cmee_report_config::advance) */
    int64_t pnl;              /**< final_equity - initial_balance */
    double ret;               /**< pnl / initial_balance (0.05 = +5 %) */
    int64_t fees;             /**< total fees paid (>= 0) */
    int64_t max_drawdown;     /**< largest peak-to-trough fall of the curve, money (>= 0) */
    double max_drawdown_pct;  /**< that fall over its peak, in [0, 1] */
    double sharpe;            /**< annualised, 0 if undefined */
    double sortino;           /**< annualised, 0 if undefined */
    int64_t sample_ms;        /**< the step actually used */
    size_t samples;           /**< points of the equity curve */
    size_t fills;             /**< filled orders (including stop-loss and take-profit) */
    size_t trades;            /**< fills that realised P&L */
    size_t trades_won;        /**< ... with P&L net of fee > 0 */
    size_t options;           /**< options bought */
    size_t options_won, options_lost, options_tied;
    double win_rate;          /**< won / decided over trades and settled options; 0 if none */
    double win_rate_low;      /**< 95 % Wilson interval; 0 and 1 if nothing decided */
    double win_rate_high;
    int64_t best_trade;       /**< largest net P&L of a trade or option; 0 if none */
    int64_t worst_trade;      /**< smallest; 0 if none */
    uint64_t best_ref;        /**< its order or option id; 0 if none */
    uint64_t worst_ref;
    double exposure;          /**< fraction of [start, end] with an open position, in [0, 1] */
} cmee_report;

/**
 * Compute the report of @p s at its now (after advancing its clock, as the account does,
 * unless cmee_report_config::advance is false).
 *
 * @param[in]  cfg the settings, or NULL for the defaults.
 * @param[out] out written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL @p s or @p out or a setting out of range (message
 *          in cmee_session_errmsg()); ::CMEE_ENOMEM; the session's own errors.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_session_report(cmee_session *s, const cmee_report_config *cfg,
                                         cmee_report *out);

/**
 * Write @p r as one JSON object (docs/report.md has the schema: money as decimal numbers of
 * the currency, times in ms, ratios as numbers) into @p buf.
 *
 * Numbers that are not money are in the shortest form that reads back to the same double; money
 * is the exact decimal of its units (10000.5, -0.00000001).
 *
 * @param[in]  buf NULL with @p cap 0 to ask for the length only (returns ::CMEE_OK).
 * @param[out] len length of the text without the NUL, written on ::CMEE_OK and ::CMEE_ENOSPACE;
 *                 may be NULL.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL @p r or a NULL @p buf with a capacity;
 *          ::CMEE_ENOSPACE if @p cap <= length (nothing written).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_report_to_json(const cmee_report *r, char *buf, size_t cap,
                                         size_t *len);

/** sizeof(cmee_report) as compiled into the library. @since 0.2.0 */
CMEE_API size_t cmee_sizeof_report(void);

#ifdef __cplusplus
}
#endif

#endif
