/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Volatility and trend: STDDEV, BBANDS, ATR, NATR, ADX (+DI, -DI) and the Parabolic SAR, in
 * TA-Lib's arithmetic order. */
#ifndef CMEE_SIGNALS_K_VOL_H
#define CMEE_SIGNALS_K_VOL_H

#include "k_ma.h"

/* True range of a bar given the previous close: the largest of high - low, |prev - high| and
 * |prev - low|, in that order (TA-Lib's; equal to max(high, prev) - min(low, prev)). */
static inline double cmee__true_range(double h, double l, double prev_close)
{
    double tr = h - l;
    double a = fabs(prev_close - h), b = fabs(prev_close - l);
    tr = cmee__max_of(a, tr);
    return cmee__max_of(b, tr);
}

/* TA-Lib gives a deviation of 0 when the variance is below 1e-8; libcmee only when it is not
 * positive (docs/signals.md), which differs only for series whose variance is below 1e-8. */
static inline double cmee__sd_of_var(double var)
{
    return var > 0.0 ? sqrt(var) : 0.0;
}

/* ---- STDDEV: population deviation from running sums of x and x^2 over the window. Add the
 * new value, take both means, drop the oldest, then var = mean(x^2) - mean(x)^2. ---- */
typedef struct stddev_state {
    cmee__ring win;
    double sum, sum2, pd;
} stddev_state;

static inline void stddev_init(stddev_state *s, size_t p, double *scratch)
{
    cmee__ring_init(&s->win, scratch, p);
    s->sum = s->sum2 = 0.0;
    s->pd = (double)p;
}

static inline bool stddev_step(stddev_state *s, double x, double *out)
{
    double sum = s->sum + x, sum2 = s->sum2 + (x * x), old;
    if (!cmee__ring_push_full(&s->win, x, &old)) {
        s->sum = sum;
        s->sum2 = sum2;
        return false;
    }
    double m1 = sum / s->pd;
    double m2 = sum2 / s->pd;
    s->sum = sum - old;
    s->sum2 = sum2 - (old * old);
    *out = cmee__sd_of_var(m2 - (m1 * m1));
    return true;
}

/* ---- BBANDS: middle = SMA; the deviation uses that SMA as the mean (TA-Lib's order:
 * mean(x^2) is taken before the oldest square leaves the sum, then middle^2 is subtracted);
 * upper = middle + sd * up, lower = middle - sd * down. ---- */
typedef struct bbands_state {
    sma_state ma; /* its window also serves the sum of squares */
    double sum2, up, down;
} bbands_state;

static inline bool bbands_step(bbands_state *s, double x, double out[3])
{
    double sum = s->ma.sum + x, sum2 = s->sum2 + (x * x), old;
    if (!cmee__ring_push_full(&s->ma.win, x, &old)) {
        s->ma.sum = sum;
        s->sum2 = sum2;
        return false;
    }
    double mid = sum / s->ma.pd;
    double m2 = sum2 / s->ma.pd;
    s->ma.sum = sum - old;
    s->sum2 = sum2 - (old * old);
    m2 -= mid * mid;
    double sd = cmee__sd_of_var(m2);
    out[0] = mid + (sd * s->up);
    out[1] = mid;
    out[2] = mid - (sd * s->down);
    return true;
}

/* ---- ATR: true range from the second bar on; the first ATR (bar p) is the SMA of the first
 * p true ranges, then Wilder's ((prev * (p - 1)) + tr) / p. For p == 1 it is the true range. */
typedef struct atr_state {
    double prev_close, sum, atr, inv_p, decay;
    size_t p, n; /* n: bars seen */
} atr_state;

static inline void atr_init(atr_state *s, size_t p)
{
    s->prev_close = s->sum = s->atr = 0.0;
    s->decay = (double)(p - 1) / (double)p;
    s->inv_p = 1.0 / (double)p;
    s->p = p;
    s->n = 0;
}

static inline bool atr_step(atr_state *s, const cmee__bar *b, double *out)
{
    size_t n = s->n++;
    double prev = s->prev_close;
    s->prev_close = b->c;
    if (n == 0)
        return false;
    double tr = cmee__true_range(b->h, b->l, prev);
    if (s->p == 1) {
        s->atr = tr;
    } else if (n <= s->p) {
        s->sum += tr;
        if (n < s->p)
            return false;
        s->atr = s->sum / (double)s->p;
    } else {
        /* Wilder's smoothing as atr (p-1)/p + tr / p: TA-Lib's (atr (p-1) + tr) / p puts a
         * division on the bar-to-bar chain; this has a multiply and an add, and moves the
         * result by ~1e-15 (docs/signals.md). */
        s->atr = (s->atr * s->decay) + (tr * s->inv_p);
    }
    *out = s->atr;
    return true;
}

/* ---- ADX with +DI and -DI (Wilder). From the second bar: +DM, -DM and the true range. The
 * bars 1..p-1 only add them up; each later bar smooths the sums as sum - sum / p + current and
 * gives DI = 100 * (dm / tr) and DX = 100 * (|-DI - +DI| / (-DI + +DI)). The first ADX (bar
 * 2p-1) is the mean of the DX of bars p..2p-1, then ((adx * (p - 1)) + dx) / p. As in TA-Lib a
 * bar whose smoothed true range or DI sum is zero contributes no DX (the ADX keeps its value);
 * TA-Lib tests those against 1e-8, libcmee against 0 (they differ only for sub-1e-8 ranges). */
typedef struct adx_state {
    double prev_h, prev_l, prev_c;
    double pdm, mdm, tr, sum_dx, adx, inv_p, decay;
    size_t p, n; /* n: bars seen */
} adx_state;

static inline void adx_init(adx_state *s, size_t p)
{
    s->prev_h = s->prev_l = s->prev_c = 0.0;
    s->pdm = s->mdm = s->tr = s->sum_dx = s->adx = 0.0;
    s->decay = (double)(p - 1) / (double)p;
    s->inv_p = 1.0 / (double)p;
    s->p = p;
    s->n = 0;
}

static inline bool adx_step(adx_state *s, const cmee__bar *b, double out[3])
{
    size_t n = s->n++;
    double diff_p = b->h - s->prev_h, diff_m = s->prev_l - b->l;
    double tr = cmee__true_range(b->h, b->l, s->prev_c);
    s->prev_h = b->h;
    s->prev_l = b->l;
    s->prev_c = b->c;
    if (n == 0)
        return false;
    double dp = cmee__when((diff_p > 0) & (diff_p > diff_m), diff_p);
    double dm = cmee__when((diff_m > 0) & (diff_m > diff_p), diff_m);
    double p = (double)s->p;
    if (n < s->p) {
        if (dm > 0)
            s->mdm += dm;
        else if (dp > 0)
            s->pdm += dp;
        s->tr += tr;
        return false;
    }
    /* Wilder's sums as sum (p-1)/p + current: TA-Lib's sum - sum / p + current has a division
     * and two adds on the chain (see atr_step). +DM and -DM are never both positive, so adding
     * both (one is 0) is TA-Lib's if/else without its unpredictable branch. */
    s->mdm = (s->mdm * s->decay) + dm;
    s->pdm = (s->pdm * s->decay) + dp;
    s->tr = (s->tr * s->decay) + tr;
    double pdi = 0.0, mdi = 0.0, dx = 0.0;
    bool have_dx = false;
    if (s->tr != 0.0) {
        /* Two divisions, as TA-Lib: a reciprocal 100 / tr overflows when a long flat stretch
         * has smoothed tr down to a subnormal, and 0 * inf would make the lines NaN. */
        mdi = 100.0 * (s->mdm / s->tr);
        pdi = 100.0 * (s->pdm / s->tr);
        double t = mdi + pdi;
        if (t != 0.0) {
            dx = 100.0 * (fabs(mdi - pdi) / t);
            have_dx = true;
        }
    }
    if (n < 2 * s->p - 1) {
        if (have_dx)
            s->sum_dx += dx;
        return false;
    }
    if (n == 2 * s->p - 1) {
        if (have_dx)
            s->sum_dx += dx;
        s->adx = s->sum_dx / p;
    } else if (have_dx) {
        s->adx = (s->adx * s->decay) + (dx * s->inv_p);
    }
    out[0] = s->adx;
    out[1] = pdi;
    out[2] = mdi;
    return true;
}

/* ---- Parabolic SAR, TA-Lib's start: the first trend is short if the second bar has a -DM
 * (a lower low that outweighs any higher high), else long; the SAR starts at the first bar's
 * low (long) or high (short), the extreme point at the second bar's high or low. Each bar
 * (from the second): on penetration the SAR flips to the extreme point, clamped outside this
 * and the previous bar, is output, and the next SAR is projected from the new extreme with the
 * factor reset; otherwise the SAR is output, a new extreme raises the factor by accel (up to
 * max), and the next SAR, sar + af * (ep - sar), is kept outside this and the previous bar.
 * On the second bar the "previous" bar is the second bar itself, as in TA-Lib. ---- */
typedef struct sar_state {
    double accel, max, af, ep, sar;
    double h, l; /* the last bar's high and low */
    bool is_long;
    size_t n; /* bars seen */
} sar_state;

static inline void sar_init(sar_state *s, double accel, double max)
{
    if (accel > max) /* TA-Lib clamps */
        accel = max;
    s->accel = accel;
    s->max = max;
    s->af = accel;
    s->ep = s->sar = s->h = s->l = 0.0;
    s->is_long = true;
    s->n = 0;
}

static inline bool sar_step(sar_state *s, const cmee__bar *b, double *out)
{
    size_t n = s->n++;
    if (n == 0) {
        s->h = b->h;
        s->l = b->l;
        return false;
    }
    if (n == 1) {
        double diff_p = b->h - s->h, diff_m = s->l - b->l;
        s->is_long = !(diff_m > 0 && diff_p < diff_m);
        s->ep = s->is_long ? b->h : b->l;
        s->sar = s->is_long ? s->l : s->h;
        s->h = b->h;
        s->l = b->l;
    }
    double prev_h = s->h, prev_l = s->l, hi = b->h, lo = b->l;
    s->h = hi;
    s->l = lo;
    double sar = s->sar;
    if (s->is_long) {
        if (lo <= sar) {
            s->is_long = false;
            sar = s->ep;
            if (sar < prev_h)
                sar = prev_h;
            if (sar < hi)
                sar = hi;
            *out = sar;
            s->af = s->accel;
            s->ep = lo;
            sar = sar + s->af * (s->ep - sar);
            if (sar < prev_h)
                sar = prev_h;
            if (sar < hi)
                sar = hi;
        } else {
            *out = sar;
            if (hi > s->ep) {
                s->ep = hi;
                s->af += s->accel;
                if (s->af > s->max)
                    s->af = s->max;
            }
            sar = sar + s->af * (s->ep - sar);
            if (sar > prev_l)
                sar = prev_l;
            if (sar > lo)
                sar = lo;
        }
    } else {
        if (hi >= sar) {
            s->is_long = true;
            sar = s->ep;
            if (sar > prev_l)
                sar = prev_l;
            if (sar > lo)
                sar = lo;
            *out = sar;
            s->af = s->accel;
            s->ep = hi;
            sar = sar + s->af * (s->ep - sar);
            if (sar > prev_l)
                sar = prev_l;
            if (sar > lo)
                sar = lo;
        } else {
            *out = sar;
            if (lo < s->ep) {
                s->ep = lo;
                s->af += s->accel;
                if (s->af > s->max)
                    s->af = s->max;
            }
            sar = sar + s->af * (s->ep - sar);
            if (sar < prev_h)
                sar = prev_h;
            if (sar < hi)
                sar = hi;
        }
    }
    s->sar = sar;
    return true;
}

/* ---- The uniform kernel interface (ind.h) ---- */
static inline size_t k_stddev_scratch(const double *p)
{
    return cmee__pint(p, 0);
}
static inline void k_stddev_init(stddev_state *s, const double *p, double *scr)
{
    stddev_init(s, cmee__pint(p, 0), scr);
}
static inline void k_stddev_update(stddev_state *s, const cmee__bar *b, double *out)
{
    if (!stddev_step(s, b->c, out))
        out[0] = CMEE__NAN;
}

static inline size_t k_bbands_scratch(const double *p)
{
    return cmee__pint(p, 0);
}
static inline void k_bbands_init(bbands_state *s, const double *p, double *scr)
{
    sma_init(&s->ma, cmee__pint(p, 0), scr);
    s->sum2 = 0.0;
    s->up = p[1];
    s->down = p[2];
}
static inline void k_bbands_update(bbands_state *s, const cmee__bar *b, double *out)
{
    if (!bbands_step(s, b->c, out))
        out[0] = out[1] = out[2] = CMEE__NAN;
}

static inline size_t k_atr_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_atr_init(atr_state *s, const double *p, double *scr)
{
    (void)scr;
    atr_init(s, cmee__pint(p, 0));
}
static inline void k_atr_update(atr_state *s, const cmee__bar *b, double *out)
{
    if (!atr_step(s, b, out))
        out[0] = CMEE__NAN;
}

/* NATR = (ATR / close) * 100, 0 for a zero close (TA-Lib: below 1e-8 in magnitude). */
typedef atr_state natr_state;
#define k_natr_scratch k_atr_scratch
#define k_natr_init k_atr_init
static inline void k_natr_update(natr_state *s, const cmee__bar *b, double *out)
{
    double atr;
    if (!atr_step(s, b, &atr))
        out[0] = CMEE__NAN;
    else
        out[0] = b->c != 0.0 ? (atr / b->c) * 100.0 : 0.0;
}

static inline size_t k_adx_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_adx_init(adx_state *s, const double *p, double *scr)
{
    (void)scr;
    adx_init(s, cmee__pint(p, 0));
}
static inline void k_adx_update(adx_state *s, const cmee__bar *b, double *out)
{
    if (!adx_step(s, b, out))
        out[0] = out[1] = out[2] = CMEE__NAN;
}

static inline size_t k_sar_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_sar_init(sar_state *s, const double *p, double *scr)
{
    (void)scr;
    sar_init(s, p[0], p[1]);
}
static inline void k_sar_update(sar_state *s, const cmee__bar *b, double *out)
{
    if (!sar_step(s, b, out))
        out[0] = CMEE__NAN;
}

#endif
