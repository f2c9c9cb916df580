/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON forms of libcmee's signal results, built with jansson: the market analysis, the
 * consensus signal with its reasons, the binary signal and the latest value of every indicator.
 * Shared by `cmee analyze` and cmee-signals so that both print the same fields with the same
 * names. Every function returns a new reference (free with json_decref()), or NULL when an
 * allocation failed; NaN and infinities become JSON null, which JSON has instead. */
#ifndef CMEE_EXAMPLES_SIGNALS_JSON_H
#define CMEE_EXAMPLES_SIGNALS_JSON_H

#include <stdbool.h>

#include <jansson.h>

#include <cmee.h>

/* A number, or null for NaN and infinities. */
json_t *signals_json_number(double v);

/* o[key] = v, stealing v even on failure. False if o or v is NULL (an allocation failed) or
 * the set fails. */
bool signals_json_put(json_t *o, const char *key, json_t *v);

/* The analysis as one flat object: trend ("up", "down" or "sideways"), trend_strength, adx,
 * plus_di, minus_di, slope_pct, r2, atr, atr_pct, realized_vol, vol_percentile, pivots,
 * fibonacci, support, resistance, swing_highs, swing_lows (the order `cmee analyze` prints). */
json_t *signals_json_analysis(const cmee_analysis *a);

/* The same fields in three groups: {direction, strength, adx, plus_di, minus_di, slope_pct, r2}
 * (direction being "up", "down" or "sideways"). */
json_t *signals_json_trend(const cmee_analysis *a);
/* {atr, atr_pct, realized_vol, vol_percentile}. */
json_t *signals_json_volatility(const cmee_analysis *a);
/* {pivots, fibonacci, support, resistance, swing_highs, swing_lows}. */
json_t *signals_json_levels(const cmee_analysis *a);

/* {<direction_key>: "BUY"|"SELL"|"NEUTRAL", score, strength, reasons: [{rule, vote, weight,
 * text}]}; `cmee analyze` names the verdict "direction", cmee-signals "consensus". */
json_t *signals_json_signal(const cmee_signal *s, const char *direction_key);

/* {direction: "CALL"|"PUT"|"NONE", confidence, expiry_ms, expiry_time}. */
json_t *signals_json_binary(const cmee_binary_signal *b);

/* {name: {output: value at the last bar}} for every indicator of the table, with its default
 * parameters, over @p s (s->n > 0, every field set). @p scratch holds
 * CMEE_IND_MAX_OUTPUTS * s->n doubles. On failure returns NULL and sets *st: the library's
 * status with @p err filled (bad input), or CMEE_ENOMEM. */
json_t *signals_json_indicators(const cmee_series *s, double *scratch, cmee_status *st,
                                cmee_error *err);

#endif
