/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Evaluation: replay binary signals over a candle series and count how they really did.
 *
 * One signal context is built over all the candles; its signal at bar i reads bars 0..i only,
 * so walking i forward is an honest out-of-sample replay. From bar `warmup`, while
 * i + expiry_bars < n: with no option open, take the binary signal at i; a CALL or PUT enters
 * at close[i] and settles at close[i + expiry_bars] (win if the price moved the signal's way,
 * loss if the other way, tie if unchanged), and the next one may start at that settling bar.
 * Options never overlap, so the outcomes are close to independent and the Wilson interval of
 * the hit rate means what it says: on a random walk it contains 50 % about 95 % of the time.
 *
 * Conventions: the binary config's expiry_bars sets the horizon (its expiry_ms is ignored, as
 * the header says); the timeframe passed to cmee_binary_from_signal() is the first time step
 * (60000 ms if n < 2 or the times do not increase there), which only affects the reported
 * expiry times. A series no longer than the warmup (or too short for one expiry) is valid and
 * gives 0 trades, NaN hit rate, interval and expectancy; breakeven is always 1 / (1 + payout).
 */
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "ind.h"

void cmee_eval_config_init(cmee_eval_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cmee_signal_config_init(&cfg->signal);
    cmee_binary_config_init(&cfg->binary);
    cfg->payout = 0.8;
    cfg->warmup = 50;
}

/* The bar length handed to cmee_binary_from_signal(): the first time step, unless that is not
 * positive or so large that expiry_bars of it overflow. It only sets the reported expiry. */
static int64_t first_step(const cmee_candle *c, size_t n, int expiry_bars)
{
    if (n >= 2 && c[1].time > c[0].time && expiry_bars >= 1) {
        uint64_t d = (uint64_t)c[1].time - (uint64_t)c[0].time;
        if (d <= (uint64_t)(INT64_MAX / expiry_bars))
            return (int64_t)d;
    }
    return 60000;
}

/* Wilson score interval at 95 % for k successes in m trials (m > 0). */
static void wilson(size_t k, size_t m, double *lo, double *hi)
{
    double z = gsl_cdf_ugaussian_Pinv(0.975);
    double nn = (double)m, p = (double)k / nn, z2 = z * z;
    double den = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / den;
    double half = z / den * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

static cmee_status check_config(const cmee_eval_config *cfg, int64_t tf, cmee_error *err)
{
    if (!(cfg->payout > 0 && isfinite(cfg->payout)))
        return cmee__ind_fail(err, CMEE_EINVAL, "payout", "payout: must be finite and > 0, got %g",
                              cfg->payout);
    if (cfg->binary.expiry_bars < 1)
        return cmee__ind_fail(err, CMEE_EINVAL, "binary.expiry_bars",
                              "binary.expiry_bars: must be >= 1, got %d", cfg->binary.expiry_bars);
    if (!(cfg->binary.min_strength >= 0 && cfg->binary.min_strength <= 1))
        return cmee__ind_fail(err, CMEE_EINVAL, "binary.min_strength",
                              "binary.min_strength: must be in [0, 1], got %g",
                              cfg->binary.min_strength);
    /* Anything else is cmee_binary_from_signal()'s to judge: ask it once with a neutral
     * signal, so a bad setting fails even on a series where nothing fires. */
    cmee_signal none;
    memset(&none, 0, sizeof none);
    none.direction = CMEE_NEUTRAL;
    cmee_binary_config bin = cfg->binary;
    bin.expiry_ms = 0;
    cmee_binary_signal bs;
    if (cmee_binary_from_signal(&none, &bin, tf, &bs) != CMEE_OK)
        return cmee__ind_fail(err, CMEE_EINVAL, "binary",
                              "binary: settings refused (min_strength %g, expiry_bars %d)",
                              cfg->binary.min_strength, cfg->binary.expiry_bars);
    return CMEE_OK;
}

cmee_status cmee_evaluate(const cmee_candle *candles, size_t n, const cmee_eval_config *cfg,
                          cmee_eval_result *out, cmee_error *err)
{
    if (!candles)
        return cmee__ind_fail(err, CMEE_EINVAL, "candles", "candles: must not be NULL");
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    cmee_eval_config defaults;
    if (!cfg) {
        cmee_eval_config_init(&defaults);
        cfg = &defaults;
    }
    int64_t tf = first_step(candles, n, cfg->binary.expiry_bars);
    cmee_status st = check_config(cfg, tf, err);
    if (st != CMEE_OK)
        return st;

    /* The context validates the signal settings and the candles. An empty series still gets
     * its settings checked, against one placeholder candle. */
    static const cmee_candle placeholder = {0, 1, 1, 1, 1, 0};
    cmee_signal_ctx *ctx = NULL;
    st = cmee_signal_ctx_new(n ? candles : &placeholder, n ? n : 1, &cfg->signal, NULL, &ctx, err);
    if (st != CMEE_OK)
        return st;

    cmee_binary_config bin = cfg->binary;
    bin.expiry_ms = 0;
    size_t e = (size_t)bin.expiry_bars;
    cmee_eval_result r;
    memset(&r, 0, sizeof r);
    for (size_t i = cfg->warmup; i < n && e < n - i;) {
        cmee_signal sig;
        cmee_binary_signal bs;
        st = cmee_signal_ctx_at(ctx, i, &sig);
        /* Only the direction matters here: with the bar's time set aside, no timestamp near
         * the int64 limits can make the conversion's expiry arithmetic fail. */
        sig.time = 0;
        if (st == CMEE_OK)
            st = cmee_binary_from_signal(&sig, &bin, tf, &bs);
        if (st != CMEE_OK) {
            cmee_signal_ctx_free(ctx);
            return cmee__ind_fail(err, st, "candles", "signal at bar %zu failed: %s", i,
                                  cmee_status_str(st));
        }
        if (bs.direction == CMEE_NONE) {
            i++;
            continue;
        }
        double move = candles[i + e].close - candles[i].close;
        r.trades++;
        if (bs.direction == CMEE_CALL)
            r.calls++;
        else
            r.puts++;
        if (move == 0)
            r.ties++;
        else if ((move > 0) == (bs.direction == CMEE_CALL))
            r.wins++;
        else
            r.losses++;
        i += e;
    }
    cmee_signal_ctx_free(ctx);

    size_t decided = r.wins + r.losses;
    r.hit_rate = r.ci_low = r.ci_high = CMEE__NAN;
    if (decided > 0) {
        r.hit_rate = (double)r.wins / (double)decided;
        wilson(r.wins, decided, &r.ci_low, &r.ci_high);
    }
    r.expectancy = r.trades > 0
                       ? ((double)r.wins * cfg->payout - (double)r.losses) / (double)r.trades
                       : CMEE__NAN;
    r.breakeven = 1.0 / (1.0 + cfg->payout);
    *out = r;
    return CMEE_OK;
}
