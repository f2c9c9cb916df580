/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Consensus signals: each rule on hand-built series where the answer is known, each rule
 * against an independent re-implementation on generated data, the weighted score, the reasons,
 * no look-ahead, the binary conversion, bad settings and allocation failures.
 */
#include <stddef.h>
#include <stdlib.h>

#include "cmee_test.h"

#define T0 INT64_C(1700000000000)
#define GEN 400 /* generated candles */

static cmee_candle gen[GEN];

static int setup(void **state)
{
    cmee_market *m = cmee_test_market(42);
    size_t got = 0;
    cmee_status st =
        cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME, GEN, gen, GEN, &got);
    cmee_market_free(m);
    return st == CMEE_OK && got == GEN ? 0 : -1;
}

/* Candles from closes: open = previous close, high / low the larger / smaller of open and
 * close widened by wick, one minute apart. */
static void from_closes(cmee_candle *c, const double *close, size_t n, double wick)
{
    for (size_t i = 0; i < n; i++) {
        double open = i > 0 ? close[i - 1] : close[0];
        c[i] = (cmee_candle){T0 + (int64_t)i * MIN_MS,    open,     fmax(open, close[i]) + wick,
                             fmin(open, close[i]) - wick, close[i], 100};
    }
}

/* The config with every weight 0 but rule r's. */
static cmee_signal_config only(cmee_rule r)
{
    cmee_signal_config cfg;
    cmee_signal_config_init(&cfg);
    for (int k = 0; k < CMEE_RULE_COUNT; k++)
        cfg.weight[k] = k == (int)r ? 1.0 : 0.0;
    return cfg;
}

static cmee_signal_ctx *ctx_of(const cmee_candle *c, size_t n, const cmee_signal_config *cfg)
{
    cmee_signal_ctx *ctx = NULL;
    cmee_error err;
    cmee_status st = cmee_signal_ctx_new(c, n, cfg, NULL, &ctx, &err);
    if (st != CMEE_OK)
        fail_msg("cmee_signal_ctx_new: %s (%s)", cmee_status_name(st), err.text);
    assert_int_equal(cmee_signal_ctx_size(ctx), n);
    return ctx;
}

static cmee_signal at(const cmee_signal_ctx *ctx, size_t i)
{
    cmee_signal s;
    assert_int_equal(cmee_signal_ctx_at(ctx, i, &s), CMEE_OK);
    assert_int_equal(s.index, i);
    return s;
}

static const cmee_signal_reason *reason(const cmee_signal *s, cmee_rule r)
{
    for (size_t k = 0; k < s->nreasons; k++)
        if (s->reasons[k].rule == r)
            return &s->reasons[k];
    return NULL;
}

/* The vote of rule r in s (0 when it gave no reason). */
static double vote_of(const cmee_signal *s, cmee_rule r)
{
    const cmee_signal_reason *w = reason(s, r);
    return w ? w->vote : 0.0;
}

/* A single-rule signal at bar i: the score is the vote, and there is a reason iff it is
 * nonzero; returns the reason text ("" if none). */
static const char *single(const cmee_signal_ctx *ctx, size_t i, cmee_rule r, double vote)
{
    static cmee_signal s;
    s = at(ctx, i);
    assert_near(s.score, vote, 1e-15);
    if (vote == 0.0) {
        assert_int_equal(s.nreasons, 0);
        return "";
    }
    assert_int_equal(s.nreasons, 1);
    assert_int_equal(s.reasons[0].rule, r);
    assert_near(s.reasons[0].vote, vote, 1e-15);
    assert_true(s.reasons[0].weight == 1.0);
    return s.reasons[0].text;
}

static void column(cmee_ind_id id, const double *p, const cmee_candle *c, size_t n,
                   double *const *out)
{
    double *buf = malloc(5 * n * sizeof *buf);
    assert_non_null(buf);
    cmee_series s;
    assert_int_equal(cmee_series_from_candles(c, n, buf, &s), CMEE_OK);
    assert_int_equal(cmee_ind_compute(id, p, &s, out, NULL), CMEE_OK);
    free(buf);
}

/* ---- names and defaults --------------------------------------------------------------- */

static void test_names(void **state)
{
    static const char *const names[] = {"rsi",     "macd",  "ma_cross", "bbands",
                                        "squeeze", "stoch", "adx"};
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        assert_string_equal(cmee_rule_name((cmee_rule)r), names[r]);
    assert_null(cmee_rule_name(CMEE_RULE_COUNT));
    assert_null(cmee_rule_name((cmee_rule)-1));
    assert_string_equal(cmee_direction_name(CMEE_BUY), "BUY");
    assert_string_equal(cmee_direction_name(CMEE_SELL), "SELL");
    assert_string_equal(cmee_direction_name(CMEE_NEUTRAL), "NEUTRAL");
    assert_null(cmee_direction_name((cmee_direction)2));
    assert_string_equal(cmee_binary_dir_name(CMEE_CALL), "CALL");
    assert_string_equal(cmee_binary_dir_name(CMEE_PUT), "PUT");
    assert_string_equal(cmee_binary_dir_name(CMEE_NONE), "NONE");
    assert_null(cmee_binary_dir_name((cmee_binary_dir)-2));

    cmee_signal_config c;
    memset(&c, 0xff, sizeof c);
    cmee_signal_config_init(&c);
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        assert_true(c.weight[r] == 1.0);
    assert_int_equal(c.rsi_period, 14);
    assert_true(c.rsi_overbought == 70 && c.rsi_oversold == 30);
    assert_true(c.macd_fast == 12 && c.macd_slow == 26 && c.macd_signal == 9);
    assert_true(c.ma_fast == 9 && c.ma_slow == 21);
    assert_true(c.bb_period == 20 && c.bb_k == 2 && c.squeeze_quantile == 0.1);
    assert_true(c.stoch_k == 14 && c.stoch_slowk == 3 && c.stoch_slowd == 3);
    assert_true(c.stoch_overbought == 80 && c.stoch_oversold == 20);
    assert_true(c.adx_period == 14 && c.adx_trend == 25);
    assert_true(c.cross_bars == 3 && c.threshold == 0.2);
    cmee_signal_config_init(NULL);

    cmee_binary_config b;
    memset(&b, 0xff, sizeof b);
    cmee_binary_config_init(&b);
    assert_true(b.min_strength == 0.3 && b.expiry_bars == 5 && b.expiry_ms == 0);
    cmee_binary_config_init(NULL);
}

/* ---- each rule on a series with a known answer ---------------------------------------- */

/* A steady decline: RSI 0, buy with full weight; a steady rise: RSI 100, sell. The first 14
 * bars are RSI's lookback: the rule abstains and the score is 0. */
static void test_rsi_known(void **state)
{
    enum { M = 40 };
    double down[M], up[M];
    cmee_candle c[M];
    for (int i = 0; i < M; i++) {
        down[i] = 200 - i;
        up[i] = 100 + i;
    }
    cmee_signal_config cfg = only(CMEE_RULE_RSI);
    from_closes(c, down, M, 0.5);
    cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
    single(ctx, 13, CMEE_RULE_RSI, 0.0);
    assert_string_equal(single(ctx, 14, CMEE_RULE_RSI, 1.0), "RSI(14) 0.0 below 30: oversold");
    assert_string_equal(single(ctx, M - 1, CMEE_RULE_RSI, 1.0), "RSI(14) 0.0 below 30: oversold");
    cmee_signal_ctx_free(ctx);

    from_closes(c, up, M, 0.5);
    cfg.rsi_period = 5;
    ctx = ctx_of(c, M, &cfg);
    single(ctx, 4, CMEE_RULE_RSI, 0.0);
    assert_string_equal(single(ctx, 5, CMEE_RULE_RSI, -1.0), "RSI(5) 100.0 above 70: overbought");
    cmee_signal_ctx_free(ctx);
}

/* The RSI vote at every generated bar against the documented formula. */
static void test_rsi_formula(void **state)
{
    static double rsi[GEN];
    double *out[1] = {rsi};
    double p = 14;
    column(CMEE_IND_RSI, &p, gen, GEN, out);
    cmee_signal_config cfg = only(CMEE_RULE_RSI);
    cfg.rsi_oversold = 40; /* so that the generated walk reaches the zones */
    cfg.rsi_overbought = 60;
    cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
    int partial = 0, buys = 0, sells = 0;
    for (size_t i = 0; i < GEN; i++) {
        double want = 0;
        if (rsi[i] < 40)
            want = fmin(1, (40 - rsi[i]) / 10 + 0.5);
        else if (rsi[i] > 60)
            want = -fmin(1, (rsi[i] - 60) / 10 + 0.5);
        const char *text = single(ctx, i, CMEE_RULE_RSI, want);
        partial += fabs(want) > 0.5 && fabs(want) < 1;
        buys += want > 0;
        sells += want < 0;
        if (want != 0) {
            char expect[112];
            snprintf(expect, sizeof expect, "RSI(14) %.1f %s: %s", rsi[i],
                     want > 0 ? "below 40" : "above 60", want > 0 ? "oversold" : "overbought");
            assert_string_equal(text, expect);
        }
    }
    assert_true(partial > 5 && buys > 5 && sells > 5);
    cmee_signal_ctx_free(ctx);
}

/*
 * Flat at 100 for 30 bars, an accelerating decline over bars 30..39, a jump to 150 at bar 40
 * and an accelerating rise. EMA(9) and EMA(21) are both exactly 100 on the flat part, so the
 * fast one crosses below at bar 30 and above at bar 40.
 */
#define VN 60
static void v_series(cmee_candle *c)
{
    double x[VN];
    for (int i = 0; i < VN; i++)
        x[i] = i < 30   ? 100
               : i < 40 ? 100 - 0.1 * (i - 29) * (i - 29)
                        : 150 + 0.5 * (i - 40) * (i - 40);
    from_closes(c, x, VN, 0.5);
}

static void test_ma_cross_known(void **state)
{
    cmee_candle c[VN];
    v_series(c);
    cmee_signal_config cfg = only(CMEE_RULE_MA_CROSS);
    cmee_signal_ctx *ctx = ctx_of(c, VN, &cfg);
    for (size_t i = 0; i < 30; i++)
        single(ctx, i, CMEE_RULE_MA_CROSS, 0.0); /* lookback, then equal lines */
    assert_string_equal(single(ctx, 30, CMEE_RULE_MA_CROSS, -1.0),
                        "EMA(9) crossed below EMA(21) this bar");
    assert_string_equal(single(ctx, 31, CMEE_RULE_MA_CROSS, -1.0),
                        "EMA(9) crossed below EMA(21) 1 bar ago");
    assert_string_equal(single(ctx, 32, CMEE_RULE_MA_CROSS, -1.0),
                        "EMA(9) crossed below EMA(21) 2 bars ago");
    for (size_t i = 33; i < 40; i++)
        assert_int_equal(strncmp(single(ctx, i, CMEE_RULE_MA_CROSS, -0.3), "EMA(9) ", 7), 0);
    assert_string_equal(single(ctx, 40, CMEE_RULE_MA_CROSS, 1.0),
                        "EMA(9) crossed above EMA(21) this bar");
    single(ctx, 42, CMEE_RULE_MA_CROSS, 1.0);
    for (size_t i = 43; i < VN; i++)
        single(ctx, i, CMEE_RULE_MA_CROSS, 0.3);
    /* The side text names both values. */
    static double ef[VN], es[VN];
    double p9 = 9, p21 = 21;
    column(CMEE_IND_EMA, &p9, c, VN, (double *[]){ef});
    column(CMEE_IND_EMA, &p21, c, VN, (double *[]){es});
    char expect[112];
    snprintf(expect, sizeof expect, "EMA(9) %.6g above EMA(21) %.6g", ef[50], es[50]);
    assert_string_equal(single(ctx, 50, CMEE_RULE_MA_CROSS, 0.3), expect);
    cmee_signal_ctx_free(ctx);

    /* cross_bars 1: only the crossing bar itself. */
    cfg.cross_bars = 1;
    ctx = ctx_of(c, VN, &cfg);
    single(ctx, 40, CMEE_RULE_MA_CROSS, 1.0);
    single(ctx, 41, CMEE_RULE_MA_CROSS, 0.3);
    single(ctx, 31, CMEE_RULE_MA_CROSS, -0.3);
    cmee_signal_ctx_free(ctx);
}

/* MACD on the same series: defined from bar 33 (below its signal in the decline), crossing
 * above at the jump. */
static void test_macd_known(void **state)
{
    cmee_candle c[VN];
    v_series(c);
    cmee_signal_config cfg = only(CMEE_RULE_MACD);
    cmee_signal_ctx *ctx = ctx_of(c, VN, &cfg);
    single(ctx, 32, CMEE_RULE_MACD, 0.0);
    for (size_t i = 33; i < 40; i++)
        assert_int_equal(strncmp(single(ctx, i, CMEE_RULE_MACD, -0.3), "MACD(12,26,9) ", 14), 0);
    assert_string_equal(single(ctx, 40, CMEE_RULE_MACD, 1.0),
                        "MACD(12,26,9) crossed above its signal line this bar");
    assert_string_equal(single(ctx, 41, CMEE_RULE_MACD, 1.0),
                        "MACD(12,26,9) crossed above its signal line 1 bar ago");
    single(ctx, 43, CMEE_RULE_MACD, 0.3);
    cmee_signal_ctx_free(ctx);
}

/* Oscillating +-1 around 100, then one close far outside: a breakout vote of 0.6. */
static void test_bbands_known(void **state)
{
    enum { M = 41 };
    double x[M];
    cmee_candle c[M];
    for (int i = 0; i < M; i++)
        x[i] = 100 + (i % 2 ? 1 : -1);
    cmee_signal_config cfg = only(CMEE_RULE_BBANDS);
    for (int sign = -1; sign <= 1; sign += 2) {
        x[M - 1] = 100 + sign * 20;
        from_closes(c, x, M, 0.5);
        cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
        single(ctx, 18, CMEE_RULE_BBANDS, 0.0);
        single(ctx, M - 2, CMEE_RULE_BBANDS, 0.0);
        static double up[M], mid[M], lo[M];
        double p[3] = {20, 2, 2};
        column(CMEE_IND_BBANDS, p, c, M, (double *[]){up, mid, lo});
        char expect[112];
        if (sign > 0)
            snprintf(expect, sizeof expect,
                     "breakout above the upper band: close 120 > %.6g, BB(20, 2)", up[M - 1]);
        else
            snprintf(expect, sizeof expect,
                     "breakout below the lower band: close 80 < %.6g, BB(20, 2)", lo[M - 1]);
        assert_string_equal(single(ctx, M - 1, CMEE_RULE_BBANDS, 0.6 * sign), expect);
        cmee_signal_ctx_free(ctx);
    }
}

/* The BBANDS vote at every generated bar against its definition. */
static void test_bbands_formula(void **state)
{
    static double up[GEN], mid[GEN], lo[GEN];
    double p[3] = {20, 1.5, 1.5};
    column(CMEE_IND_BBANDS, p, gen, GEN, (double *[]){up, mid, lo});
    cmee_signal_config cfg = only(CMEE_RULE_BBANDS);
    cfg.bb_k = 1.5;
    cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
    int above = 0, below = 0;
    for (size_t i = 0; i < GEN; i++) {
        double want = gen[i].close > up[i] ? 0.6 : gen[i].close < lo[i] ? -0.6 : 0;
        single(ctx, i, CMEE_RULE_BBANDS, want);
        above += want > 0;
        below += want < 0;
    }
    assert_true(above > 3 && below > 3);
    cmee_signal_ctx_free(ctx);
}

/* Wide swings, then a quiet stretch: the last bars are a squeeze, reported with vote 0, and
 * the squeeze never moves the score. Growing swings: no squeeze at the end. */
static void test_squeeze_known(void **state)
{
    enum { M = 100 };
    double x[M];
    cmee_candle c[M];
    for (int i = 0; i < M; i++)
        x[i] = 100 + (i % 2 ? 1 : -1) * (i < 60 ? 5 : 0.2 - 0.002 * (i - 60));
    from_closes(c, x, M, 0.05);
    cmee_signal_config cfg;
    cmee_signal_config_init(&cfg);
    cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
    cmee_signal s = at(ctx, M - 1);
    const cmee_signal_reason *r = reason(&s, CMEE_RULE_SQUEEZE);
    assert_non_null(r);
    assert_true(r->vote == 0.0 && r->weight == 1.0);
    static double up[M], mid[M], lo[M];
    double p[3] = {20, 2, 2};
    column(CMEE_IND_BBANDS, p, c, M, (double *[]){up, mid, lo});
    char expect[112];
    snprintf(expect, sizeof expect, "squeeze: bandwidth %.3g%% in the lowest 10%% of %d bars",
             100 * (up[M - 1] - lo[M - 1]) / mid[M - 1], M - 19);
    assert_string_equal(r->text, expect);
    cfg.weight[CMEE_RULE_SQUEEZE] = 0;
    cmee_signal_ctx *ctx0 = ctx_of(c, M, &cfg);
    for (size_t i = 0; i < M; i++) {
        cmee_signal a = at(ctx, i), b = at(ctx0, i);
        assert_true(a.score == b.score && a.direction == b.direction);
        assert_null(reason(&b, CMEE_RULE_SQUEEZE));
        assert_int_equal(a.nreasons, b.nreasons + (reason(&a, CMEE_RULE_SQUEEZE) != NULL));
    }
    cmee_signal_ctx_free(ctx);
    cmee_signal_ctx_free(ctx0);

    for (int i = 0; i < M; i++)
        x[i] = 100 + (i % 2 ? 1 : -1) * (1 + i * 0.1);
    from_closes(c, x, M, 0.05);
    cfg = only(CMEE_RULE_SQUEEZE);
    ctx = ctx_of(c, M, &cfg);
    for (size_t i = 40; i < M; i++) {
        s = at(ctx, i);
        assert_int_equal(s.nreasons, 0);
        assert_true(s.score == 0 && s.direction == CMEE_NEUTRAL);
    }
    cmee_signal_ctx_free(ctx);
}

/* The squeeze at every generated bar against a direct count: fewer than ceil(q * m) of the m
 * bandwidths up to bar i strictly below bandwidth i, with q * m >= 1. */
static void test_squeeze_formula(void **state)
{
    static double up[GEN], mid[GEN], lo[GEN], bw[GEN];
    double p[3] = {10, 2, 2};
    column(CMEE_IND_BBANDS, p, gen, GEN, (double *[]){up, mid, lo});
    for (size_t i = 0; i < GEN; i++)
        bw[i] = (up[i] - lo[i]) / mid[i];
    for (int qi = 0; qi < 3; qi++) {
        double q = (double[]){0.1, 0.25, 0.05}[qi];
        cmee_signal_config cfg = only(CMEE_RULE_SQUEEZE);
        cfg.bb_period = 10;
        cfg.squeeze_quantile = q;
        cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
        int hits = 0;
        for (size_t i = 0; i < GEN; i++) {
            bool want = false;
            size_t m = 0, below = 0;
            if (!isnan(bw[i])) {
                for (size_t j = 0; j <= i; j++) {
                    m += !isnan(bw[j]);
                    below += bw[j] < bw[i];
                }
                want = q * m >= 1 && (double)below < ceil(q * m);
            }
            cmee_signal s = at(ctx, i);
            assert_true(s.score == 0 && s.direction == CMEE_NEUTRAL);
            assert_int_equal(s.nreasons, want);
            hits += want;
            if (want) {
                char expect[112];
                snprintf(expect, sizeof expect,
                         "squeeze: bandwidth %.3g%% in the lowest %g%% of %zu bars", 100 * bw[i],
                         100 * q, m);
                assert_string_equal(s.reasons[0].text, expect);
            }
        }
        assert_true(hits > 3);
        cmee_signal_ctx_free(ctx);
    }
}

/* A decline closing at each bar's low pins slow %K and %D at 0; one up bar makes %K cross
 * above %D there, in the oversold zone: +1. The mirror image gives -1. */
static void test_stoch_known(void **state)
{
    enum { M = 32 };
    cmee_candle c[M];
    cmee_signal_config cfg = only(CMEE_RULE_STOCH);
    for (int sign = -1; sign <= 1; sign += 2) {
        double prev = 100;
        for (int i = 0; i < M; i++) {
            /* sign +1: down 1 a bar (closing at the low), up 3 at bar 30; -1: the mirror */
            double step = i == 30 ? 3 : -1;
            double close = sign > 0 ? prev + step : prev - step;
            c[i] = (cmee_candle){.time = T0 + i * MIN_MS,
                                 .open = prev,
                                 .high = fmax(prev, close),
                                 .low = fmin(prev, close),
                                 .close = close,
                                 .volume = 1};
            prev = close;
        }
        cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
        single(ctx, 29, CMEE_RULE_STOCH, 0.0);
        char expect[112];
        snprintf(expect, sizeof expect, "slow %%K crossed %s %%D this bar at %s",
                 sign > 0 ? "above" : "below",
                 sign > 0 ? "0.0, below 20: oversold" : "100.0, above 80: overbought");
        assert_string_equal(single(ctx, 30, CMEE_RULE_STOCH, sign), expect);
        cmee_signal_ctx_free(ctx);
        /* Out of the zone the same cross says nothing. */
        cfg.stoch_oversold = 0;
        cfg.stoch_overbought = 100;
        ctx = ctx_of(c, M, &cfg);
        single(ctx, 30, CMEE_RULE_STOCH, 0.0);
        cmee_signal_ctx_free(ctx);
        cfg = only(CMEE_RULE_STOCH);
    }
}

/* A strictly rising series is a clean uptrend: -DI is 0 and ADX 100, vote +1; falling: -1. */
static void test_adx_known(void **state)
{
    enum { M = 40 };
    double x[M];
    cmee_candle c[M];
    cmee_signal_config cfg = only(CMEE_RULE_ADX);
    for (int sign = -1; sign <= 1; sign += 2) {
        for (int i = 0; i < M; i++)
            x[i] = 100 + sign * i;
        from_closes(c, x, M, 0.25);
        cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
        single(ctx, 26, CMEE_RULE_ADX, 0.0);
        const char *text = single(ctx, 27, CMEE_RULE_ADX, sign);
        assert_int_equal(strncmp(text, "ADX(14) 100.0 >= 25: ", 21), 0);
        assert_non_null(strstr(text, sign > 0 ? "uptrend, +DI" : "downtrend, +DI"));
        assert_non_null(strstr(text, sign > 0 ? "> -DI 0.0" : "0.0 < -DI"));
        cmee_signal_ctx_free(ctx);
    }
    /* Flat: ADX and both DI lines 0. Even at a trend level of 0 there is no direction. */
    for (int i = 0; i < M; i++)
        x[i] = 100;
    from_closes(c, x, M, 0.5);
    cfg.adx_trend = 0;
    cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
    for (size_t i = 0; i < M; i++)
        single(ctx, i, CMEE_RULE_ADX, 0.0);
    cmee_signal_ctx_free(ctx);
}

/* The ADX vote at every generated bar against the formula. */
static void test_adx_formula(void **state)
{
    static double adx[GEN], pdi[GEN], mdi[GEN];
    double p = 10;
    column(CMEE_IND_ADX, &p, gen, GEN, (double *[]){adx, pdi, mdi});
    cmee_signal_config cfg = only(CMEE_RULE_ADX);
    cfg.adx_period = 10;
    cfg.adx_trend = 20;
    cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
    int up = 0, down = 0;
    for (size_t i = 0; i < GEN; i++) {
        double want = 0;
        if (adx[i] >= 20)
            want = (pdi[i] > mdi[i] ? 1 : pdi[i] < mdi[i] ? -1 : 0) * fmin(1, adx[i] / 50);
        const char *text = single(ctx, i, CMEE_RULE_ADX, want);
        up += want > 0;
        down += want < 0;
        if (want != 0) {
            char expect[112];
            snprintf(expect, sizeof expect, "ADX(10) %.1f >= 20: %s, +DI %.1f %s -DI %.1f", adx[i],
                     want > 0 ? "uptrend" : "downtrend", pdi[i], want > 0 ? ">" : "<", mdi[i]);
            assert_string_equal(text, expect);
        }
    }
    assert_true(up > 3 && down > 3);
    cmee_signal_ctx_free(ctx);
}

/* Independent re-implementation of the cross rules: scan back over the last cross_bars bars
 * for the most recent cross (d[j-1] <= 0 < d[j] or d[j-1] >= 0 > d[j]). Returns its bar
 * offset from i, or -1. */
static int recent_cross(const double *a, const double *b, size_t i, int cross_bars)
{
    for (int age = 0; age < cross_bars && (size_t)age < i; age++) {
        size_t j = i - (size_t)age;
        double d0 = a[j - 1] - b[j - 1], d1 = a[j] - b[j];
        if (isnan(d0) || isnan(d1))
            return -1;
        if ((d0 <= 0 && d1 > 0) || (d0 >= 0 && d1 < 0))
            return age;
    }
    return -1;
}

/* MACD, MA_CROSS and STOCH at every generated bar against recent_cross(). */
static void test_cross_formula(void **state)
{
    static double macd[GEN], sig[GEN], hist[GEN], ef[GEN], es[GEN], sk[GEN], sd[GEN];
    double pm[3] = {12, 26, 9}, pf = 5, ps = 13, pk[3] = {14, 3, 3};
    column(CMEE_IND_MACD, pm, gen, GEN, (double *[]){macd, sig, hist});
    column(CMEE_IND_EMA, &pf, gen, GEN, (double *[]){ef});
    column(CMEE_IND_EMA, &ps, gen, GEN, (double *[]){es});
    column(CMEE_IND_STOCH, pk, gen, GEN, (double *[]){sk, sd});
    for (int cb = 1; cb <= 4; cb += 3) {
        int crosses = 0, stoch_votes = 0;
        for (int rule = 0; rule < 3; rule++) {
            cmee_rule r = (cmee_rule[]){CMEE_RULE_MACD, CMEE_RULE_MA_CROSS, CMEE_RULE_STOCH}[rule];
            const double *a = rule == 0 ? macd : rule == 1 ? ef : sk;
            const double *b = rule == 0 ? sig : rule == 1 ? es : sd;
            cmee_signal_config cfg = only(r);
            cfg.cross_bars = cb;
            cfg.ma_fast = 5;
            cfg.ma_slow = 13;
            cfg.stoch_oversold = 30;
            cfg.stoch_overbought = 70;
            cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
            for (size_t i = 0; i < GEN; i++) {
                int age = recent_cross(a, b, i, cb);
                double d = a[i] - b[i], want;
                if (r != CMEE_RULE_STOCH) {
                    want = age >= 0   ? (a[i - age] > b[i - age] ? 1 : -1)
                           : isnan(d) ? 0
                                      : 0.3 * ((d > 0) - (d < 0));
                } else {
                    want = 0;
                    if (age >= 0) {
                        size_t j = i - (size_t)age;
                        if (a[j] > b[j] && fmin(a[j - 1], a[j]) < 30)
                            want = 1;
                        if (a[j] < b[j] && fmax(a[j - 1], a[j]) > 70)
                            want = -1;
                    }
                    stoch_votes += want != 0;
                }
                crosses += age == 0;
                const char *text = single(ctx, i, r, want);
                if (fabs(want) == 1.0) {
                    char when[32];
                    if (age == 0)
                        snprintf(when, sizeof when, "this bar");
                    else
                        snprintf(when, sizeof when, "%d bar%s ago", age, age == 1 ? "" : "s");
                    assert_non_null(strstr(text, when));
                }
            }
            cmee_signal_ctx_free(ctx);
        }
        assert_true(crosses > 20 && stoch_votes > 3);
    }
}

/* ---- the consensus -------------------------------------------------------------------- */

/* With unit weights the score is the mean vote of the rules out of their indicators'
 * lookbacks; before, a rule abstains and is left out of the denominator (the squeeze never
 * counts). Each rule's vote is taken from a context where it is the only one weighted, whose
 * score must be that vote. Returns the bars where a rule voted while another abstained. */
static int check_mean(const cmee_candle *c, size_t n, const cmee_signal_config *g)
{
    const struct {
        cmee_ind_id id;
        double p[3];
    } need[] = {
        {CMEE_IND_RSI, {g->rsi_period}},
        {CMEE_IND_MACD, {g->macd_fast, g->macd_slow, g->macd_signal}},
        {CMEE_IND_EMA, {g->ma_slow}},
        {CMEE_IND_BBANDS, {g->bb_period, g->bb_k, g->bb_k}},
        {CMEE_IND_STOCH, {g->stoch_k, g->stoch_slowk, g->stoch_slowd}},
        {CMEE_IND_ADX, {g->adx_period}},
    };
    static int voters[GEN];
    assert_true(n <= GEN);
    memset(voters, 0, sizeof voters);
    for (size_t k = 0; k < 6; k++) {
        size_t lb;
        assert_int_equal(cmee_ind_lookback(need[k].id, need[k].p, &lb, NULL), CMEE_OK);
        for (size_t i = lb; i < n; i++)
            voters[i]++;
    }
    cmee_signal_ctx *all = ctx_of(c, n, g);
    cmee_signal_ctx *one[CMEE_RULE_COUNT];
    for (int r = 0; r < CMEE_RULE_COUNT; r++) {
        cmee_signal_config cfg = *g;
        for (int k = 0; k < CMEE_RULE_COUNT; k++)
            cfg.weight[k] = k == r ? 1.0 : 0.0;
        one[r] = ctx_of(c, n, &cfg);
    }
    int early = 0;
    for (size_t i = 0; i < n; i++) {
        cmee_signal s = at(all, i);
        double sum = 0;
        for (int r = 0; r < CMEE_RULE_COUNT; r++) {
            cmee_signal o = at(one[r], i);
            assert_true(o.score == vote_of(&o, (cmee_rule)r));
            assert_true(vote_of(&s, (cmee_rule)r) == vote_of(&o, (cmee_rule)r));
            sum += vote_of(&s, (cmee_rule)r);
        }
        assert_near(s.score, voters[i] ? sum / voters[i] : 0.0, 1e-15);
        early += voters[i] < 6 && sum != 0;
    }
    cmee_signal_ctx_free(all);
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        cmee_signal_ctx_free(one[r]);
    return early;
}

static void test_abstain(void **state)
{
    cmee_signal_config cfg;
    cmee_signal_config_init(&cfg);
    check_mean(gen, GEN, &cfg);
    /* RSI, now the slowest to start, abstains while the others vote. */
    cfg.rsi_period = 40;
    assert_true(check_mean(gen, GEN, &cfg) >= 10);
    cmee_signal_config_init(&cfg);
    /* A decline, so that RSI and STOCH vote while the slower rules are still abstaining. */
    enum { M = 60 };
    double x[M];
    cmee_candle c[M];
    for (int i = 0; i < M; i++)
        x[i] = i < 18 ? 200 - i : 220 - (i - 18) * 0.5 * (1 + (i % 3 == 0));
    from_closes(c, x, M, 0.5);
    assert_true(check_mean(c, M, &cfg) >= 10);
}

/* Scaling every weight by 2 changes nothing, bit for bit (by 3, up to rounding). */
static void test_weights(void **state)
{
    cmee_signal_config x1, x2, x3;
    cmee_signal_config_init(&x1);
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        x1.weight[r] = 1 + 0.25 * r; /* uneven weights */
    x2 = x3 = x1;
    for (int r = 0; r < CMEE_RULE_COUNT; r++) {
        x2.weight[r] = 2 * x1.weight[r];
        x3.weight[r] = 3 * x1.weight[r];
    }
    cmee_signal_ctx *w1 = ctx_of(gen, GEN, &x1);
    cmee_signal_ctx *w2 = ctx_of(gen, GEN, &x2);
    cmee_signal_ctx *w3 = ctx_of(gen, GEN, &x3);
    for (size_t i = 0; i < GEN; i++) {
        cmee_signal a = at(w1, i), b = at(w2, i), c = at(w3, i);
        assert_true(a.score == b.score && a.direction == b.direction);
        assert_near(a.score, c.score, 1e-15);
        assert_int_equal(a.nreasons, b.nreasons);
        for (size_t k = 0; k < a.nreasons; k++)
            assert_true(b.reasons[k].weight == 2 * a.reasons[k].weight);
    }
    cmee_signal_ctx_free(w1);
    cmee_signal_ctx_free(w2);
    cmee_signal_ctx_free(w3);
}

/* BUY at score >= threshold, SELL at <= -threshold, NEUTRAL between; strength = |score|. */
static void test_threshold(void **state)
{
    double thresholds[] = {0.05, 0.2, 0.5, 1.0};
    int seen[3] = {0, 0, 0};
    for (size_t t = 0; t < 4; t++) {
        cmee_signal_config cfg;
        cmee_signal_config_init(&cfg);
        cfg.threshold = thresholds[t];
        cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
        for (size_t i = 0; i < GEN; i++) {
            cmee_signal s = at(ctx, i);
            cmee_direction want = s.score >= thresholds[t]    ? CMEE_BUY
                                  : s.score <= -thresholds[t] ? CMEE_SELL
                                                              : CMEE_NEUTRAL;
            assert_int_equal(s.direction, want);
            assert_true(s.strength == fabs(s.score));
            assert_true(s.score >= -1 && s.score <= 1);
            if (t == 1)
                seen[want + 1]++;
        }
        cmee_signal_ctx_free(ctx);
    }
    assert_true(seen[0] > 5 && seen[1] > 5 && seen[2] > 5);

    /* A score of exactly 1 or -1 reaches a threshold of 1. */
    enum { M = 40 };
    double x[M];
    cmee_candle c[M];
    cmee_signal_config cfg = only(CMEE_RULE_ADX);
    cfg.threshold = 1.0;
    for (int sign = -1; sign <= 1; sign += 2) {
        for (int i = 0; i < M; i++)
            x[i] = 100 + sign * i;
        from_closes(c, x, M, 0.25);
        cmee_signal_ctx *ctx = ctx_of(c, M, &cfg);
        cmee_signal s = at(ctx, M - 1);
        assert_true(s.score == sign && s.strength == 1.0);
        assert_int_equal(s.direction, sign > 0 ? CMEE_BUY : CMEE_SELL);
        s = at(ctx, 0); /* every rule abstains */
        assert_true(s.score == 0 && s.nreasons == 0 && s.direction == CMEE_NEUTRAL);
        cmee_signal_ctx_free(ctx);
    }
}

/* The reasons: rules in order, nonzero votes in [-1, 1] (the squeeze 0), the rule's weight, a
 * text that starts as documented; index and time of the bar. */
static void test_reasons(void **state)
{
    static const char *const prefix[CMEE_RULE_COUNT] = {
        "RSI(14) ", "MACD(12,26,9) ", "EMA(9) ", "breakout ", "squeeze: ", "slow %K ", "ADX(14) "};
    cmee_signal_config cfg;
    cmee_signal_config_init(&cfg);
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        cfg.weight[r] = 1 + r;
    cmee_signal_ctx *ctx = ctx_of(gen, GEN, &cfg);
    int count[CMEE_RULE_COUNT] = {0};
    for (size_t i = 0; i < GEN; i++) {
        cmee_signal s = at(ctx, i);
        assert_true(s.time == gen[i].time);
        assert_true(s.nreasons <= CMEE_RULE_COUNT);
        for (size_t k = 0; k < s.nreasons; k++) {
            const cmee_signal_reason *w = &s.reasons[k];
            if (k > 0)
                assert_true(w->rule > s.reasons[k - 1].rule);
            assert_true(w->weight == 1 + (int)w->rule);
            if (w->rule == CMEE_RULE_SQUEEZE)
                assert_true(w->vote == 0);
            else
                assert_true(w->vote != 0 && fabs(w->vote) <= 1);
            assert_int_equal(strncmp(w->text, prefix[w->rule], strlen(prefix[w->rule])), 0);
            assert_true(strlen(w->text) < sizeof w->text);
            count[w->rule]++;
        }
    }
    for (int r = 0; r < CMEE_RULE_COUNT; r++)
        assert_true(count[r] > 0);
    cmee_signal_ctx_free(ctx);
}

/* The signal at bar i from a context over candles[0..i] equals the one from the whole
 * series, bit for bit and text for text. */
static void test_no_lookahead(void **state)
{
    cmee_signal_config cfg;
    cmee_signal_config_init(&cfg);
    cfg.cross_bars = 2;
    cmee_signal_ctx *full = ctx_of(gen, GEN, &cfg);
    for (size_t i = 0; i < GEN; i++) {
        cmee_signal_ctx *part = ctx_of(gen, i + 1, &cfg);
        cmee_signal a = at(full, i), b = at(part, i);
        assert_true(a.score == b.score && a.direction == b.direction);
        assert_true(a.time == b.time && a.strength == b.strength);
        assert_int_equal(a.nreasons, b.nreasons);
        for (size_t k = 0; k < a.nreasons; k++) {
            assert_int_equal(a.reasons[k].rule, b.reasons[k].rule);
            assert_true(a.reasons[k].vote == b.reasons[k].vote);
            assert_string_equal(a.reasons[k].text, b.reasons[k].text);
        }
        cmee_signal_ctx_free(part);
    }
    cmee_signal_ctx_free(full);
}

/* cmee_signal_compute is the last bar of a context. */
static void test_compute(void **state)
{
    for (size_t n = 1; n <= GEN; n += 57) {
        cmee_signal a, b;
        cmee_signal_ctx *ctx = ctx_of(gen, n, NULL);
        a = at(ctx, n - 1);
        assert_int_equal(cmee_signal_compute(gen, n, NULL, &b, NULL), CMEE_OK);
        assert_memory_equal(&a, &b, sizeof a);
        cmee_signal_ctx_free(ctx);
    }
    cmee_signal s;
    cmee_error err;
    assert_int_equal(cmee_signal_compute(gen, 0, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "n");
    assert_int_equal(cmee_signal_compute(NULL, 5, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "candles");
    assert_int_equal(cmee_signal_compute(gen, 5, NULL, NULL, NULL), CMEE_EINVAL);
}

/* ---- binary --------------------------------------------------------------------------- */

static void test_binary(void **state)
{
    cmee_binary_config cfg;
    cmee_binary_config_init(&cfg);
    const struct {
        cmee_direction dir;
        double strength;
        cmee_binary_dir want;
    } table[] = {
        {CMEE_BUY, 0.3, CMEE_CALL},     {CMEE_BUY, 0.8, CMEE_CALL},     {CMEE_BUY, 0.29, CMEE_NONE},
        {CMEE_SELL, 0.3, CMEE_PUT},     {CMEE_SELL, 1.0, CMEE_PUT},     {CMEE_SELL, 0.1, CMEE_NONE},
        {CMEE_NEUTRAL, 0.9, CMEE_NONE}, {CMEE_NEUTRAL, 0.0, CMEE_NONE},
    };
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        cmee_signal s;
        memset(&s, 0, sizeof s);
        s.direction = table[k].dir;
        s.strength = table[k].strength;
        s.score = table[k].dir == CMEE_SELL ? -s.strength : s.strength;
        s.time = T0 + (int64_t)k;
        cmee_binary_signal b;
        assert_int_equal(cmee_binary_from_signal(&s, &cfg, MIN_MS, &b), CMEE_OK);
        assert_int_equal(b.direction, table[k].want);
        if (table[k].want == CMEE_NONE)
            assert_true(b.confidence == 0);
        else
            assert_true(b.confidence == 0.5 + table[k].strength / 2);
        assert_true(b.expiry_ms == 5 * MIN_MS);
        assert_true(b.time == s.time && b.expiry_time == s.time + 5 * MIN_MS);
    }

    cmee_signal s;
    memset(&s, 0, sizeof s);
    s.direction = CMEE_BUY;
    s.strength = s.score = 0.5;
    s.time = T0;
    cmee_binary_signal b, keep;
    memset(&keep, 0x5a, sizeof keep);
    /* expiry from bars, from ms (the timeframe is then not needed) */
    cfg.expiry_bars = 3;
    assert_int_equal(cmee_binary_from_signal(&s, &cfg, HOUR_MS, &b), CMEE_OK);
    assert_true(b.expiry_ms == 3 * HOUR_MS && b.expiry_time == T0 + 3 * HOUR_MS);
    cfg.expiry_ms = 90000;
    assert_int_equal(cmee_binary_from_signal(&s, &cfg, 0, &b), CMEE_OK);
    assert_true(b.expiry_ms == 90000 && b.expiry_time == T0 + 90000);
    assert_true(b.direction == CMEE_CALL && b.confidence == 0.75);
    /* min_strength 0 and 1 are the bounds */
    cfg.min_strength = 1;
    assert_int_equal(cmee_binary_from_signal(&s, &cfg, 0, &b), CMEE_OK);
    assert_int_equal(b.direction, CMEE_NONE);
    cfg.min_strength = 0;
    assert_int_equal(cmee_binary_from_signal(&s, &cfg, 0, &b), CMEE_OK);
    assert_int_equal(b.direction, CMEE_CALL);

    /* bad settings and arguments: EINVAL, nothing written */
    cmee_binary_config good;
    cmee_binary_config_init(&good);
    for (int k = 0; k < 8; k++) {
        cmee_binary_config bad = good;
        int64_t tf = MIN_MS;
        const cmee_signal *sp = &s;
        switch (k) {
        case 0:
            tf = 0;
            break;
        case 1:
            tf = -MIN_MS;
            break;
        case 2:
            bad.min_strength = -0.1;
            break;
        case 3:
            bad.min_strength = 1.5;
            break;
        case 4:
            bad.min_strength = NAN;
            break;
        case 5:
            bad.expiry_bars = 0;
            break;
        case 6:
            bad.expiry_ms = -1;
            break;
        case 7:
            bad.expiry_bars = INT32_MAX, tf = INT64_MAX / 2;
            break; /* overflows */
        }
        b = keep;
        assert_int_equal(cmee_binary_from_signal(sp, &bad, tf, &b), CMEE_EINVAL);
        assert_memory_equal(&b, &keep, sizeof b);
    }
    assert_int_equal(cmee_binary_from_signal(NULL, &good, MIN_MS, &b), CMEE_EINVAL);
    assert_int_equal(cmee_binary_from_signal(&s, NULL, MIN_MS, &b), CMEE_EINVAL);
    assert_int_equal(cmee_binary_from_signal(&s, &good, MIN_MS, NULL), CMEE_EINVAL);
}

/* ---- errors --------------------------------------------------------------------------- */

/* Each bad setting: EINVAL, the error names the field and starts with it, nothing written. */
typedef struct bad_setting {
    const char *field;
    size_t offset;
    bool is_int;
    double value;
} bad_setting;

#define BAD_D(f, v)                                                                                \
    {                                                                                              \
#f, offsetof(cmee_signal_config, f), false, v                                              \
    }
#define BAD_I(f, v)                                                                                \
    {                                                                                              \
#f, offsetof(cmee_signal_config, f), true, v                                               \
    }

static void test_bad_config(void **state)
{
    /* clang-format off */
    static const bad_setting bad[] = {
        BAD_D(weight[0], -1),          BAD_D(weight[6], NAN),        BAD_D(weight[3], INFINITY),
        BAD_I(rsi_period, 0),          BAD_I(rsi_period, 100001),    BAD_I(macd_fast, -3),
        BAD_I(macd_slow, 0),           BAD_I(macd_signal, 0),        BAD_I(macd_fast, 26),
        BAD_I(ma_fast, 0),             BAD_I(ma_slow, 0),            BAD_I(ma_fast, 21),
        BAD_I(ma_fast, 30),            BAD_I(bb_period, 0),          BAD_I(stoch_k, 0),
        BAD_I(stoch_slowk, 0),         BAD_I(stoch_slowd, -1),       BAD_I(adx_period, 0),
        BAD_D(rsi_oversold, 70),       BAD_D(rsi_oversold, -1),      BAD_D(rsi_overbought, 101),
        BAD_D(rsi_overbought, NAN),    BAD_D(stoch_oversold, 90),    BAD_D(stoch_overbought, 0),
        BAD_D(stoch_oversold, NAN),    BAD_D(bb_k, 0),               BAD_D(bb_k, NAN),
        BAD_D(squeeze_quantile, 0),    BAD_D(squeeze_quantile, 1),   BAD_D(squeeze_quantile, NAN),
        BAD_D(adx_trend, -1),          BAD_D(adx_trend, 100.5),      BAD_I(cross_bars, 0),
        BAD_D(threshold, 0),           BAD_D(threshold, 1.01),       BAD_D(threshold, NAN),
        {"weight", 0, false, 0}, /* every weight 0 */
    };
    /* clang-format on */
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cmee_signal_config c;
        cmee_signal_config_init(&c);
        if (strcmp(bad[k].field, "weight") == 0) {
            memset(c.weight, 0, sizeof c.weight);
        } else if (bad[k].is_int) {
            int v = (int)bad[k].value;
            memcpy((char *)&c + bad[k].offset, &v, sizeof v);
        } else {
            memcpy((char *)&c + bad[k].offset, &bad[k].value, sizeof(double));
        }
        cmee_error err;
        memset(&err, 0, sizeof err);
        cmee_signal_ctx *ctx = (cmee_signal_ctx *)&err;
        assert_int_equal(cmee_signal_ctx_new(gen, 50, &c, NULL, &ctx, &err), CMEE_EINVAL);
        assert_ptr_equal(ctx, (cmee_signal_ctx *)&err);
        assert_int_equal(err.status, CMEE_EINVAL);
        assert_string_equal(err.field, bad[k].field);
        assert_int_equal(strncmp(err.text, bad[k].field, strlen(bad[k].field)), 0);
        cmee_signal s;
        assert_int_equal(cmee_signal_compute(gen, 50, &c, &s, NULL), CMEE_EINVAL);
    }
    /* Edge values that are valid. */
    cmee_signal_config c;
    cmee_signal_config_init(&c);
    c.rsi_oversold = 0;
    c.rsi_overbought = 100;
    c.adx_trend = 0;
    c.threshold = 1;
    c.weight[0] = 0;
    c.macd_fast = 1;
    c.macd_slow = 2;
    c.macd_signal = 1;
    cmee_signal s;
    assert_int_equal(cmee_signal_compute(gen, GEN, &c, &s, NULL), CMEE_OK);
}

/* Non-finite high, low or close: EINVAL naming the first bad one; open and volume unread. */
static void test_bad_candles(void **state)
{
    static cmee_candle c[60];
    memcpy(c, gen, sizeof c);
    c[3].open = NAN;
    c[5].volume = INFINITY;
    cmee_signal s;
    assert_int_equal(cmee_signal_compute(c, 60, NULL, &s, NULL), CMEE_OK);
    c[17].close = NAN;
    c[40].high = INFINITY;
    cmee_error err;
    assert_int_equal(cmee_signal_compute(c, 60, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "close[17]");
    c[9].low = -INFINITY;
    assert_int_equal(cmee_signal_compute(c, 60, NULL, &s, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "low[9]");
    assert_int_equal(strncmp(err.text, "low[9]", 6), 0);
}

static void test_null_range(void **state)
{
    cmee_signal_ctx *ctx = NULL;
    cmee_error err;
    assert_int_equal(cmee_signal_ctx_new(gen, 10, NULL, NULL, NULL, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "out");
    assert_int_equal(cmee_signal_ctx_new(NULL, 10, NULL, NULL, &ctx, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "candles");
    assert_null(ctx);
    cmee_allocator bad = {NULL, NULL, NULL, NULL};
    assert_int_equal(cmee_signal_ctx_new(gen, 10, NULL, &bad, &ctx, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "alloc");
    assert_null(ctx);

    /* An empty context is valid and has no bar. */
    assert_int_equal(cmee_signal_ctx_new(NULL, 0, NULL, NULL, &ctx, NULL), CMEE_OK);
    cmee_signal s;
    assert_int_equal(cmee_signal_ctx_size(ctx), 0);
    assert_int_equal(cmee_signal_ctx_at(ctx, 0, &s), CMEE_ERANGE);
    cmee_signal_ctx_free(ctx);

    ctx = ctx_of(gen, 20, NULL);
    assert_int_equal(cmee_signal_ctx_at(ctx, 20, &s), CMEE_ERANGE);
    assert_int_equal(cmee_signal_ctx_at(ctx, SIZE_MAX, &s), CMEE_ERANGE);
    assert_int_equal(cmee_signal_ctx_at(ctx, 19, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_signal_ctx_at(NULL, 0, &s), CMEE_EINVAL);
    assert_int_equal(cmee_signal_ctx_at(ctx, 19, &s), CMEE_OK);
    cmee_signal_ctx_free(ctx);
    assert_int_equal(cmee_signal_ctx_size(NULL), 0);
    cmee_signal_ctx_free(NULL);
}

/* Every allocation of cmee_signal_ctx_new failing in turn: ENOMEM, nothing leaked or written;
 * the context made at last gives the same signals as one with the default allocator. */
static void test_oom(void **state)
{
    chaos c;
    cmee_allocator a = chaos_allocator(&c);
    cmee_signal_ctx *ref = ctx_of(gen, 100, NULL);
    int failures = 0;
    for (long fail_at = 1;; fail_at++) {
        c = (chaos){.fail_at = fail_at};
        cmee_signal_ctx *ctx = NULL;
        cmee_error err;
        cmee_status st = cmee_signal_ctx_new(gen, 100, NULL, &a, &ctx, &err);
        if (st == CMEE_OK) {
            assert_true(c.live > 0);
            for (size_t i = 0; i < 100; i++) {
                cmee_signal x = at(ctx, i), y = at(ref, i);
                assert_memory_equal(&x, &y, sizeof x);
            }
            cmee_signal_ctx_free(ctx);
            assert_int_equal(c.live, 0);
            break;
        }
        failures++;
        assert_int_equal(st, CMEE_ENOMEM);
        assert_int_equal(err.status, CMEE_ENOMEM);
        assert_null(ctx);
        assert_int_equal(c.live, 0);
    }
    assert_true(failures >= 3);
    cmee_signal_ctx_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),           cmocka_unit_test(test_rsi_known),
        cmocka_unit_test(test_rsi_formula),     cmocka_unit_test(test_ma_cross_known),
        cmocka_unit_test(test_macd_known),      cmocka_unit_test(test_bbands_known),
        cmocka_unit_test(test_bbands_formula),  cmocka_unit_test(test_squeeze_known),
        cmocka_unit_test(test_squeeze_formula), cmocka_unit_test(test_stoch_known),
        cmocka_unit_test(test_adx_known),       cmocka_unit_test(test_adx_formula),
        cmocka_unit_test(test_cross_formula),   cmocka_unit_test(test_abstain),
        cmocka_unit_test(test_weights),         cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_reasons),         cmocka_unit_test(test_no_lookahead),
        cmocka_unit_test(test_compute),         cmocka_unit_test(test_binary),
        cmocka_unit_test(test_bad_config),      cmocka_unit_test(test_bad_candles),
        cmocka_unit_test(test_null_range),      cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
