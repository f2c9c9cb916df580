/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Consensus signals: per-indicator rules, each a vote in [-1, 1] with a reason, combined into a
 * weighted mean; and their conversion to binary-option signals.
 *
 * The context computes every indicator once over the whole series with cmee_ind_compute();
 * the indicators are causal, so output[j] depends on bars 0..j only, and everything derived
 * here (crosses, the squeeze ranking) is built the same way, left to right. The signal at bar
 * i therefore reads bars 0..i only and equals the one from a context over candles[0..i], bit
 * for bit. Signals report what the indicators say: nothing here looks at outcomes.
 *
 * Rules (the documentation of cmee_rule; "d" is a difference of two lines, a cross of d at
 * bar j means d[j-1] <= 0 < d[j] (up) or d[j-1] >= 0 > d[j] (down), both defined; a cross is
 * "recent" when it is the most recent cross at or before bar i and i - j < cross_bars, so
 * cross_bars = 1 means "at this bar"):
 *
 *  - RSI: RSI(rsi_period) r below rsi_oversold votes +min(1, (oversold - r) / 10 + 0.5), above
 *    rsi_overbought votes -min(1, (r - overbought) / 10 + 0.5): 0.5 just past the threshold,
 *    rising to 1 five points past it. Between the two (thresholds included): 0.
 *  - MACD: d = MACD line - signal line of MACD(fast, slow, signal). A recent cross votes +1
 *    (up) or -1 (down); otherwise the side: +0.3 if d > 0, -0.3 if d < 0, 0 if equal.
 *  - MA_CROSS: the same with d = EMA(ma_fast) - EMA(ma_slow).
 *  - BBANDS: Bollinger bands BBANDS(bb_period, bb_k, bb_k) (SMA middle, population standard
 *    deviation): close > upper votes +0.6 (breakout up), close < lower -0.6, else 0.
 *  - SQUEEZE: bandwidth w = (upper - lower) / middle (undefined when middle <= 0). Among the
 *    m defined bandwidths of bars 0..i, a squeeze is w[i] <= their lower q-quantile, the
 *    k-th smallest with k = ceil(q * m), q = squeeze_quantile; equivalently fewer than k of
 *    them are strictly below w[i]. It needs q * m >= 1 (the lowest q holds a whole bar).
 *    Reported with vote 0, and never counted in the score's denominator: it says that a
 *    breakout may come, not which way.
 *  - STOCH: d = slow %K - slow %D of STOCH(stoch_k, stoch_slowk, stoch_slowd). A recent up
 *    cross at bar j with %K below stoch_oversold at j - 1 or j votes +1; a recent down cross
 *    with %K above stoch_overbought at j - 1 or j votes -1; anything else 0.
 *  - ADX: with ADX(adx_period) a >= adx_trend, votes sign(+DI - -DI) * min(1, a / 50); else 0.
 *
 * A rule abstains while the indicator values it reads at bar i are undefined (its lookback):
 * it is then left out of the denominator. score = sum(weight * vote) / sum(weight) over the
 * rules with weight > 0 that do not abstain (SQUEEZE excluded); 0 when there is none.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ind.h"

#define MAX_PERIOD 100000 /* the indicator table's largest period */
#define NO_BAR SIZE_MAX

/* Per-bar arrays of the context, n doubles each. */
enum {
    A_CLOSE,
    A_RSI,
    A_MACD,
    A_MACDS,
    A_MACDH,
    A_EMAF,
    A_EMAS,
    A_BBU,
    A_BBM,
    A_BBL,
    A_BW,
    A_SK,
    A_SD,
    A_ADX,
    A_PDI,
    A_MDI,
    NARR
};

/* Per-bar indexes: the most recent cross at or before the bar (NO_BAR if none), and for the
 * squeeze the number of bandwidths it was ranked among (0: no squeeze). */
enum { X_MACD, X_MA, X_STOCH, X_SQUEEZE, NIDX };

struct cmee_signal_ctx {
    cmee__alloc al;
    cmee_signal_config cfg;
    size_t n;
    int64_t *time;
    double *a[NARR];
    size_t *x[NIDX];
    double *dblock;
    size_t *xblock;
};

/* ---- names and defaults --------------------------------------------------------------- */

static const char *const rule_names[CMEE_RULE_COUNT] = {"rsi",     "macd",  "ma_cross", "bbands",
                                                        "squeeze", "stoch", "adx"};

const char *cmee_rule_name(cmee_rule rule)
{
    return (unsigned)rule < CMEE_RULE_COUNT ? rule_names[rule] : NULL;
}

const char *cmee_direction_name(cmee_direction d)
{
    switch (d) {
    case CMEE_SELL:
        return "SELL";
    case CMEE_NEUTRAL:
        return "NEUTRAL";
    case CMEE_BUY:
        return "BUY";
    }
    return NULL;
}

void cmee_signal_config_init(cmee_signal_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        cfg->weight[r] = 1.0;
    cfg->rsi_period = 14;
    cfg->rsi_overbought = 70;
    cfg->rsi_oversold = 30;
    cfg->macd_fast = 12;
    cfg->macd_slow = 26;
    cfg->macd_signal = 9;
    cfg->ma_fast = 9;
    cfg->ma_slow = 21;
    cfg->bb_period = 20;
    cfg->bb_k = 2;
    cfg->squeeze_quantile = 0.1;
    cfg->stoch_k = 14;
    cfg->stoch_slowk = 3;
    cfg->stoch_slowd = 3;
    cfg->stoch_overbought = 80;
    cfg->stoch_oversold = 20;
    cfg->adx_period = 14;
    cfg->adx_trend = 25;
    cfg->cross_bars = 3;
    cfg->threshold = 0.2;
}

/* ---- validation ----------------------------------------------------------------------- */

static cmee_status check_period(int v, const char *name, cmee_error *err)
{
    if (v < 1 || v > MAX_PERIOD)
        return cmee__ind_fail(err, CMEE_EINVAL, name, "%s: must be in [1, %d], got %d", name,
                              MAX_PERIOD, v);
    return CMEE_OK;
}

/* 0 <= lo < hi <= 100, written so that NaN fails. */
static cmee_status check_zone(double lo, double hi, const char *lo_name, const char *hi_name,
                              cmee_error *err)
{
    if (!(hi > 0 && hi <= 100))
        return cmee__ind_fail(err, CMEE_EINVAL, hi_name, "%s: must be in (0, 100], got %g", hi_name,
                              hi);
    if (!(lo >= 0 && lo < hi))
        return cmee__ind_fail(err, CMEE_EINVAL, lo_name,
                              "%s: must be in [0, %s), got %g with %s %g", lo_name, hi_name, lo,
                              hi_name, hi);
    return CMEE_OK;
}

static cmee_status check_config(const cmee_signal_config *c, cmee_error *err)
{
    bool any = false;
    for (int r = 0; r < CMEE_RULE_COUNT; r++) {
        double w = c->weight[r];
        if (!(w >= 0 && isfinite(w))) {
            char f[32];
            cmee__fmt(f, sizeof f, "weight[%d]", r);
            return cmee__ind_fail(err, CMEE_EINVAL, f,
                                  "%s: %s weight must be finite and >= 0, got %g", f, rule_names[r],
                                  w);
        }
        any = any || w > 0;
    }
    if (!any)
        return cmee__ind_fail(err, CMEE_EINVAL, "weight", "weight: at least one must be > 0");

    const struct {
        int v;
        const char *name;
    } periods[] = {
        {c->rsi_period, "rsi_period"},   {c->macd_fast, "macd_fast"},
        {c->macd_slow, "macd_slow"},     {c->macd_signal, "macd_signal"},
        {c->ma_fast, "ma_fast"},         {c->ma_slow, "ma_slow"},
        {c->bb_period, "bb_period"},     {c->stoch_k, "stoch_k"},
        {c->stoch_slowk, "stoch_slowk"}, {c->stoch_slowd, "stoch_slowd"},
        {c->adx_period, "adx_period"},
    };
    for (size_t k = 0; k < sizeof periods / sizeof periods[0]; k++) {
        cmee_status st = check_period(periods[k].v, periods[k].name, err);
        if (st != CMEE_OK)
            return st;
    }
    /* A "fast" line at least as slow as the "slow" one would turn the cross rules around. */
    if (c->macd_fast >= c->macd_slow)
        return cmee__ind_fail(err, CMEE_EINVAL, "macd_fast",
                              "macd_fast: must be < macd_slow (%d), got %d", c->macd_slow,
                              c->macd_fast);
    if (c->ma_fast >= c->ma_slow)
        return cmee__ind_fail(err, CMEE_EINVAL, "ma_fast",
                              "ma_fast: must be < ma_slow (%d), got %d", c->ma_slow, c->ma_fast);

    cmee_status st =
        check_zone(c->rsi_oversold, c->rsi_overbought, "rsi_oversold", "rsi_overbought", err);
    if (st == CMEE_OK)
        st = check_zone(c->stoch_oversold, c->stoch_overbought, "stoch_oversold",
                        "stoch_overbought", err);
    if (st != CMEE_OK)
        return st;
    if (!(c->bb_k > 0 && c->bb_k <= 100))
        return cmee__ind_fail(err, CMEE_EINVAL, "bb_k", "bb_k: must be in (0, 100], got %g",
                              c->bb_k);
    if (!(c->squeeze_quantile > 0 && c->squeeze_quantile < 1))
        return cmee__ind_fail(err, CMEE_EINVAL, "squeeze_quantile",
                              "squeeze_quantile: must be in (0, 1), got %g", c->squeeze_quantile);
    if (!(c->adx_trend >= 0 && c->adx_trend <= 100))
        return cmee__ind_fail(err, CMEE_EINVAL, "adx_trend",
                              "adx_trend: must be in [0, 100], got %g", c->adx_trend);
    if (c->cross_bars < 1)
        return cmee__ind_fail(err, CMEE_EINVAL, "cross_bars", "cross_bars: must be >= 1, got %d",
                              c->cross_bars);
    if (!(c->threshold > 0 && c->threshold <= 1))
        return cmee__ind_fail(err, CMEE_EINVAL, "threshold", "threshold: must be in (0, 1], got %g",
                              c->threshold);
    return CMEE_OK;
}

/* The fields the indicators read (high, low, close) must be finite; the first bad one, bar by
 * bar, is named. Open and volume are not read, so not checked. */
static cmee_status check_candles(const cmee_candle *c, size_t n, cmee_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *names[3] = {"high", "low", "close"};
        double v[3] = {c[i].high, c[i].low, c[i].close};
        for (int k = 0; k < 3; k++) {
            if (!isfinite(v[k])) {
                char f[32];
                cmee__fmt(f, sizeof f, "%s[%zu]", names[k], i);
                return cmee__ind_fail(err, CMEE_EINVAL, f, "%s: must be finite, got %g", f, v[k]);
            }
        }
    }
    return CMEE_OK;
}

/* ---- precomputation ------------------------------------------------------------------- */

static int sgn(double x)
{
    return (x > 0) - (x < 0);
}

/* last[j]: the bar of the most recent cross of a - b at or before j, NO_BAR if none. */
static void find_crosses(const double *a, const double *b, size_t n, size_t *last)
{
    size_t lx = NO_BAR;
    for (size_t j = 0; j < n; j++) {
        if (j > 0) {
            double d0 = a[j - 1] - b[j - 1], d1 = a[j] - b[j];
            if ((d0 <= 0 && d1 > 0) || (d0 >= 0 && d1 < 0)) /* false while either is NaN */
                lx = j;
        }
        last[j] = lx;
    }
}

typedef struct {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *pa, const void *pb)
{
    double a = ((const ranked *)pa)->v, b = ((const ranked *)pb)->v;
    return (a > b) - (a < b);
}

/* The squeeze flags, left to right with a Fenwick tree over the bandwidths' ranks among the
 * whole series: the count of earlier bandwidths strictly below w[i] does not depend on the
 * ranks of later bars, so the result is the same as over candles[0..i]. O(n log n). */
static cmee_status find_squeezes(cmee_signal_ctx *c)
{
    const double *w = c->a[A_BW];
    size_t n = c->n, m = 0, *sq = c->x[X_SQUEEZE];
    for (size_t i = 0; i < n; i++)
        m += isfinite(w[i]) ? 1 : 0;
    ranked *p = cmee__malloc(&c->al, m * sizeof *p);
    size_t *rank = cmee__malloc(&c->al, (n + m + 1) * sizeof *rank);
    if (!p || !rank) {
        cmee__free(&c->al, p);
        cmee__free(&c->al, rank);
        return CMEE_ENOMEM;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (isfinite(w[i]))
            p[k++] = (ranked){w[i], i};
    qsort(p, m, sizeof *p, cmp_ranked);
    size_t u = 0; /* distinct values; equal bandwidths share a rank */
    for (size_t k = 0; k < m; k++) {
        if (k == 0 || p[k].v != p[k - 1].v)
            u++;
        rank[p[k].i] = u;
    }
    size_t *tree = rank + n;
    memset(tree, 0, (u + 1) * sizeof *tree);
    double q = c->cfg.squeeze_quantile;
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        sq[i] = 0;
        if (!isfinite(w[i]))
            continue;
        seen++;
        for (size_t r = rank[i]; r <= u; r += r & (~r + 1))
            tree[r]++;
        size_t below = 0;
        for (size_t r = rank[i] - 1; r > 0; r -= r & (~r + 1))
            below += tree[r];
        double qm = q * (double)seen;
        if (qm >= 1.0 && (double)below < ceil(qm))
            sq[i] = seen;
    }
    cmee__free(&c->al, p);
    cmee__free(&c->al, rank);
    return CMEE_OK;
}

static cmee_status compute_all(cmee_signal_ctx *c, const cmee_series *s, cmee_error *err)
{
    const cmee_signal_config *g = &c->cfg;
    double *const *a = c->a;
    const struct {
        cmee_ind_id id;
        double p[3];
        double *out[3];
    } jobs[] = {
        {CMEE_IND_RSI, {g->rsi_period, 0, 0}, {a[A_RSI], NULL, NULL}},
        {CMEE_IND_MACD,
         {g->macd_fast, g->macd_slow, g->macd_signal},
         {a[A_MACD], a[A_MACDS], a[A_MACDH]}},
        {CMEE_IND_EMA, {g->ma_fast, 0, 0}, {a[A_EMAF], NULL, NULL}},
        {CMEE_IND_EMA, {g->ma_slow, 0, 0}, {a[A_EMAS], NULL, NULL}},
        {CMEE_IND_BBANDS, {g->bb_period, g->bb_k, g->bb_k}, {a[A_BBU], a[A_BBM], a[A_BBL]}},
        {CMEE_IND_STOCH, {g->stoch_k, g->stoch_slowk, g->stoch_slowd}, {a[A_SK], a[A_SD], NULL}},
        {CMEE_IND_ADX, {g->adx_period, 0, 0}, {a[A_ADX], a[A_PDI], a[A_MDI]}},
    };
    for (size_t k = 0; k < sizeof jobs / sizeof jobs[0]; k++) {
        cmee_status st = cmee_ind_compute(jobs[k].id, jobs[k].p, s, jobs[k].out, err);
        if (st != CMEE_OK)
            return st;
    }
    for (size_t i = 0; i < c->n; i++) {
        double mid = a[A_BBM][i];
        a[A_BW][i] = mid > 0 ? (a[A_BBU][i] - a[A_BBL][i]) / mid : CMEE__NAN;
    }
    find_crosses(a[A_MACD], a[A_MACDS], c->n, c->x[X_MACD]);
    find_crosses(a[A_EMAF], a[A_EMAS], c->n, c->x[X_MA]);
    find_crosses(a[A_SK], a[A_SD], c->n, c->x[X_STOCH]);
    return find_squeezes(c);
}

/* ---- context -------------------------------------------------------------------------- */

cmee_status cmee_signal_ctx_new(const cmee_candle *candles, size_t n, const cmee_signal_config *cfg,
                                const cmee_allocator *alloc, cmee_signal_ctx **out, cmee_error *err)
{
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    if (!candles && n > 0)
        return cmee__ind_fail(err, CMEE_EINVAL, "candles", "candles: must not be NULL");
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return cmee__ind_fail(err, CMEE_EINVAL, "alloc",
                              "alloc: malloc, realloc and free must all be set");
    cmee_signal_config defaults;
    if (!cfg) {
        cmee_signal_config_init(&defaults);
        cfg = &defaults;
    }
    cmee_status st = check_config(cfg, err);
    if (st == CMEE_OK)
        st = check_candles(candles, n, err);
    if (st != CMEE_OK)
        return st;
    /* Per bar: NARR doubles kept, 5 for the series (temporary), an int64 time and NIDX + 3
     * size_t (the last 3 for the squeeze's temporary ranking). */
    size_t per_bar = (NARR + 5) * sizeof(double) + sizeof(int64_t) + (NIDX + 3) * sizeof(size_t);
    if (n > SIZE_MAX / per_bar - 1)
        return cmee__ind_fail(err, CMEE_ENOMEM, "n", "n: %zu candles is too many", n);

    cmee_signal_ctx *c = cmee__calloc(&al, 1, sizeof *c);
    double *sbuf = NULL;
    if (!c)
        goto oom;
    c->al = al;
    c->cfg = *cfg;
    c->n = n;
    c->dblock = cmee__malloc(&al, NARR * n * sizeof(double));
    c->xblock = cmee__malloc(&al, NIDX * n * sizeof(size_t));
    c->time = cmee__malloc(&al, n * sizeof(int64_t));
    sbuf = cmee__malloc(&al, 5 * n * sizeof(double));
    if (!c->dblock || !c->xblock || !c->time || !sbuf)
        goto oom;
    for (int k = 0; k < NARR; k++)
        c->a[k] = c->dblock + (size_t)k * n;
    for (int k = 0; k < NIDX; k++)
        c->x[k] = c->xblock + (size_t)k * n;
    for (size_t i = 0; i < n; i++) {
        c->time[i] = candles[i].time;
        c->a[A_CLOSE][i] = candles[i].close;
    }
    cmee_series s;
    cmee_series_from_candles(candles, n, sbuf, &s);
    st = compute_all(c, &s, err);
    cmee__free(&al, sbuf);
    if (st != CMEE_OK) {
        cmee_signal_ctx_free(c);
        if (st == CMEE_ENOMEM)
            return cmee__ind_fail(err, st, "alloc", "alloc: out of memory");
        return st;
    }
    *out = c;
    return CMEE_OK;
oom:
    cmee__free(&al, sbuf);
    cmee_signal_ctx_free(c);
    return cmee__ind_fail(err, CMEE_ENOMEM, "alloc", "alloc: out of memory");
}

size_t cmee_signal_ctx_size(const cmee_signal_ctx *ctx)
{
    return ctx ? ctx->n : 0;
}

void cmee_signal_ctx_free(cmee_signal_ctx *ctx)
{
    if (!ctx)
        return;
    cmee__alloc al = ctx->al;
    cmee__free(&al, ctx->dblock);
    cmee__free(&al, ctx->xblock);
    cmee__free(&al, ctx->time);
    cmee__free(&al, ctx);
}

/* ---- rules ---------------------------------------------------------------------------- */

/* What a rule makes of bar i: ABSTAIN inside its lookback (not counted), QUIET for a vote of
 * 0 (counted), SAYS for a nonzero vote, or for the squeeze, with a reason text. */
typedef enum { ABSTAIN, QUIET, SAYS } verdict;

#define TEXT_CAP sizeof(((cmee_signal_reason *)0)->text)

static void ago(char *buf, size_t cap, size_t age)
{
    if (age == 0)
        cmee__fmt(buf, cap, "this bar");
    else
        cmee__fmt(buf, cap, "%zu bar%s ago", age, age == 1 ? "" : "s");
}

static verdict rule_rsi(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    const cmee_signal_config *g = &c->cfg;
    double r = c->a[A_RSI][i];
    if (isnan(r))
        return ABSTAIN;
    if (r < g->rsi_oversold) {
        *vote = fmin(1.0, (g->rsi_oversold - r) / 10.0 + 0.5);
        cmee__fmt(text, TEXT_CAP, "RSI(%d) %.1f below %g: oversold", g->rsi_period, r,
                  g->rsi_oversold);
        return SAYS;
    }
    if (r > g->rsi_overbought) {
        *vote = -fmin(1.0, (r - g->rsi_overbought) / 10.0 + 0.5);
        cmee__fmt(text, TEXT_CAP, "RSI(%d) %.1f above %g: overbought", g->rsi_period, r,
                  g->rsi_overbought);
        return SAYS;
    }
    return QUIET;
}

/* MACD and MA_CROSS: a recent cross of a over b votes +-1, else the side +-0.3. */
static verdict rule_cross(const cmee_signal_ctx *c, size_t i, const double *a, const double *b,
                          const size_t *last, const char *an, const char *bn, double *vote,
                          char *text)
{
    if (isnan(a[i]) || isnan(b[i]))
        return ABSTAIN;
    size_t j = last[i];
    if (j != NO_BAR && i - j < (size_t)c->cfg.cross_bars) {
        int dir = sgn(a[j] - b[j]);
        char when[32];
        ago(when, sizeof when, i - j);
        *vote = dir;
        cmee__fmt(text, TEXT_CAP, "%s crossed %s %s %s", an, dir > 0 ? "above" : "below", bn, when);
        return SAYS;
    }
    int side = sgn(a[i] - b[i]);
    if (side == 0)
        return QUIET;
    *vote = 0.3 * side;
    cmee__fmt(text, TEXT_CAP, "%s %.6g %s %s %.6g", an, a[i], side > 0 ? "above" : "below", bn,
              b[i]);
    return SAYS;
}

static verdict rule_macd(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    char an[48];
    cmee__fmt(an, sizeof an, "MACD(%d,%d,%d)", c->cfg.macd_fast, c->cfg.macd_slow,
              c->cfg.macd_signal);
    return rule_cross(c, i, c->a[A_MACD], c->a[A_MACDS], c->x[X_MACD], an, "its signal line", vote,
                      text);
}

static verdict rule_ma(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    char an[24], bn[24];
    cmee__fmt(an, sizeof an, "EMA(%d)", c->cfg.ma_fast);
    cmee__fmt(bn, sizeof bn, "EMA(%d)", c->cfg.ma_slow);
    return rule_cross(c, i, c->a[A_EMAF], c->a[A_EMAS], c->x[X_MA], an, bn, vote, text);
}

static verdict rule_bbands(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    double up = c->a[A_BBU][i], lo = c->a[A_BBL][i], close = c->a[A_CLOSE][i];
    if (isnan(up) || isnan(lo))
        return ABSTAIN;
    if (close > up) {
        *vote = 0.6;
        cmee__fmt(text, TEXT_CAP, "breakout above the upper band: close %.6g > %.6g, BB(%d, %g)",
                  close, up, c->cfg.bb_period, c->cfg.bb_k);
        return SAYS;
    }
    if (close < lo) {
        *vote = -0.6;
        cmee__fmt(text, TEXT_CAP, "breakout below the lower band: close %.6g < %.6g, BB(%d, %g)",
                  close, lo, c->cfg.bb_period, c->cfg.bb_k);
        return SAYS;
    }
    return QUIET;
}

static verdict rule_squeeze(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    size_t m = c->x[X_SQUEEZE][i];
    if (m == 0)
        return ABSTAIN;
    *vote = 0.0;
    cmee__fmt(text, TEXT_CAP, "squeeze: bandwidth %.3g%% in the lowest %g%% of %zu bars",
              100.0 * c->a[A_BW][i], 100.0 * c->cfg.squeeze_quantile, m);
    return SAYS;
}

static verdict rule_stoch(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    const cmee_signal_config *g = &c->cfg;
    const double *k = c->a[A_SK], *d = c->a[A_SD];
    if (isnan(k[i]) || isnan(d[i]))
        return ABSTAIN;
    size_t j = c->x[X_STOCH][i];
    if (j == NO_BAR || i - j >= (size_t)g->cross_bars)
        return QUIET;
    /* A cross needs bar j - 1 defined, so j >= 1 here. */
    char when[32];
    ago(when, sizeof when, i - j);
    if (k[j] > d[j]) {
        double lo = fmin(k[j - 1], k[j]);
        if (!(lo < g->stoch_oversold))
            return QUIET;
        *vote = 1.0;
        cmee__fmt(text, TEXT_CAP, "slow %%K crossed above %%D %s at %.1f, below %g: oversold", when,
                  lo, g->stoch_oversold);
        return SAYS;
    }
    double hi = fmax(k[j - 1], k[j]);
    if (!(hi > g->stoch_overbought))
        return QUIET;
    *vote = -1.0;
    cmee__fmt(text, TEXT_CAP, "slow %%K crossed below %%D %s at %.1f, above %g: overbought", when,
              hi, g->stoch_overbought);
    return SAYS;
}

static verdict rule_adx(const cmee_signal_ctx *c, size_t i, double *vote, char *text)
{
    const cmee_signal_config *g = &c->cfg;
    double adx = c->a[A_ADX][i], p = c->a[A_PDI][i], m = c->a[A_MDI][i];
    if (isnan(adx) || isnan(p) || isnan(m))
        return ABSTAIN;
    int dir = sgn(p - m);
    if (!(adx >= g->adx_trend) || dir == 0)
        return QUIET;
    *vote = dir * fmin(1.0, adx / 50.0);
    cmee__fmt(text, TEXT_CAP, "ADX(%d) %.1f >= %g: %s, +DI %.1f %s -DI %.1f", g->adx_period, adx,
              g->adx_trend, dir > 0 ? "uptrend" : "downtrend", p, dir > 0 ? ">" : "<", m);
    return SAYS;
}

typedef verdict (*rule_fn)(const cmee_signal_ctx *, size_t, double *, char *);

static const rule_fn rules[CMEE_RULE_COUNT] = {
    [CMEE_RULE_RSI] = rule_rsi,         [CMEE_RULE_MACD] = rule_macd,
    [CMEE_RULE_MA_CROSS] = rule_ma,     [CMEE_RULE_BBANDS] = rule_bbands,
    [CMEE_RULE_SQUEEZE] = rule_squeeze, [CMEE_RULE_STOCH] = rule_stoch,
    [CMEE_RULE_ADX] = rule_adx,
};

cmee_status cmee_signal_ctx_at(const cmee_signal_ctx *ctx, size_t index, cmee_signal *out)
{
    if (!ctx || !out)
        return CMEE_EINVAL;
    if (index >= ctx->n)
        return CMEE_ERANGE;
    cmee_signal s;
    memset(&s, 0, sizeof s);
    double num = 0.0, den = 0.0;
    for (int r = 0; r < CMEE_RULE_COUNT; r++) {
        double w = ctx->cfg.weight[r];
        if (!(w > 0))
            continue;
        double vote = 0.0;
        cmee_signal_reason *why = &s.reasons[s.nreasons];
        verdict v = rules[r](ctx, index, &vote, why->text);
        if (v == ABSTAIN)
            continue;
        if (r != CMEE_RULE_SQUEEZE) {
            num += w * vote;
            den += w;
        }
        if (v == SAYS) {
            why->rule = (cmee_rule)r;
            why->vote = vote;
            why->weight = w;
            s.nreasons++;
        }
    }
    s.score = den > 0 ? num / den : 0.0;
    s.strength = fabs(s.score);
    s.direction = s.score >= ctx->cfg.threshold    ? CMEE_BUY
                  : s.score <= -ctx->cfg.threshold ? CMEE_SELL
                                                   : CMEE_NEUTRAL;
    s.index = index;
    s.time = ctx->time[index];
    *out = s;
    return CMEE_OK;
}

cmee_status cmee_signal_compute(const cmee_candle *candles, size_t n, const cmee_signal_config *cfg,
                                cmee_signal *out, cmee_error *err)
{
    if (!out)
        return cmee__ind_fail(err, CMEE_EINVAL, "out", "out: must not be NULL");
    if (n == 0)
        return cmee__ind_fail(err, CMEE_EINVAL, "n", "n: need at least one candle");
    cmee_signal_ctx *ctx = NULL;
    cmee_status st = cmee_signal_ctx_new(candles, n, cfg, NULL, &ctx, err);
    if (st != CMEE_OK)
        return st;
    st = cmee_signal_ctx_at(ctx, n - 1, out);
    cmee_signal_ctx_free(ctx);
    return st;
}

/* ---- binary signals ------------------------------------------------------------------- */

const char *cmee_binary_dir_name(cmee_binary_dir d)
{
    switch (d) {
    case CMEE_PUT:
        return "PUT";
    case CMEE_NONE:
        return "NONE";
    case CMEE_CALL:
        return "CALL";
    }
    return NULL;
}

void cmee_binary_config_init(cmee_binary_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->min_strength = 0.3;
    cfg->expiry_bars = 5;
    cfg->expiry_ms = 0;
}

cmee_status cmee_binary_from_signal(const cmee_signal *sig, const cmee_binary_config *cfg,
                                    int64_t timeframe_ms, cmee_binary_signal *out)
{
    if (!sig || !cfg || !out)
        return CMEE_EINVAL;
    if (!(cfg->min_strength >= 0 && cfg->min_strength <= 1) || cfg->expiry_bars < 1 ||
        cfg->expiry_ms < 0)
        return CMEE_EINVAL;
    int64_t expiry = cfg->expiry_ms;
    if (expiry == 0) {
        if (timeframe_ms <= 0 ||
            __builtin_mul_overflow((int64_t)cfg->expiry_bars, timeframe_ms, &expiry))
            return CMEE_EINVAL;
    }
    int64_t at;
    if (__builtin_add_overflow(sig->time, expiry, &at))
        return CMEE_EINVAL;
    cmee_binary_signal b;
    memset(&b, 0, sizeof b);
    bool strong = sig->strength >= cfg->min_strength;
    if (strong && sig->direction == CMEE_BUY)
        b.direction = CMEE_CALL;
    else if (strong && sig->direction == CMEE_SELL)
        b.direction = CMEE_PUT;
    else
        b.direction = CMEE_NONE;
    b.confidence = b.direction == CMEE_NONE ? 0.0 : 0.5 + sig->strength / 2.0;
    b.expiry_ms = expiry;
    b.time = sig->time;
    b.expiry_time = at;
    *out = b;
    return CMEE_OK;
}
