/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Oscillators and volume indicators: STOCH, STOCHRSI, CCI, MOM, ROC, WILLR, OBV, VWAP, in
 * TA-Lib's arithmetic order (VWAP is libcmee's own). */
#ifndef CMEE_SIGNALS_K_OSC_H
#define CMEE_SIGNALS_K_OSC_H

#include "k_rsi_macd.h"

/* ---- Rolling extreme of the last `w` values: a monotonic deque of (value, index) pairs kept
 * in 2 w doubles of scratch. Each value enters and leaves once, so O(1) amortised per push;
 * the result is exactly the window's maximum (or minimum). ---- */
typedef struct osc_deque {
    double *buf; /* w pairs: buf[2 j] value, buf[2 j + 1] its index */
    size_t w, head, size;
    bool max; /* true: tracks the maximum, false: the minimum */
} osc_deque;

static inline void osc_deque_init(osc_deque *d, double *storage, size_t w, bool max)
{
    d->buf = storage;
    d->w = w;
    d->head = d->size = 0;
    d->max = max;
}

/* Windows up to this size are scanned instead: a few branch-free max/min instructions beat
 * the deque's data-dependent branches. Both give exactly the window's extreme. */
#define OSC_SCAN_MAX 16

/* Add x as element number i (0, 1, 2, ...); returns the extreme of elements i-w+1 .. i.
 * Always inlined: it is the hot part of STOCH, STOCHRSI and WILLR, and compute.c, grown by
 * batch.h, reached the compiler's limit on inlining per file and called it instead (STOCHRSI
 * 55 % slower). */
__attribute__((always_inline)) static inline double osc_deque_push(osc_deque *d, double x,
                                                                    size_t i)
{
    if (d->w <= OSC_SCAN_MAX) {
        d->buf[d->head] = x;
        d->head = d->head + 1 == d->w ? 0 : d->head + 1;
        size_t cnt = i + 1 < d->w ? i + 1 : d->w;
        double m = d->buf[0];
        if (d->max) {
            for (size_t j = 1; j < cnt; j++)
                m = d->buf[j] > m ? d->buf[j] : m;
        } else {
            for (size_t j = 1; j < cnt; j++)
                m = d->buf[j] < m ? d->buf[j] : m;
        }
        return m;
    }
    /* Drop the front if it left the window: at most one, as one element enters per call. */
    if (d->size > 0 && (size_t)d->buf[2 * d->head + 1] + d->w <= i) {
        d->head = d->head + 1 == d->w ? 0 : d->head + 1;
        d->size--;
    }
    /* Drop from the back every value the new one dominates. */
    while (d->size > 0) {
        size_t b = d->head + d->size - 1;
        double y = d->buf[2 * (b >= d->w ? b - d->w : b)];
        if (d->max ? y > x : y < x)
            break;
        d->size--;
    }
    size_t t = d->head + d->size;
    t = t >= d->w ? t - d->w : t;
    d->buf[2 * t] = x;
    d->buf[2 * t + 1] = (double)i;
    d->size++;
    return d->buf[2 * d->head];
}

/* ---- Fast %K as TA-Lib's STOCH/STOCHF compute it: diff = (highest - lowest) / 100, then
 * (x - lowest) / diff, 0 for a flat window. ---- */
static inline double osc_fastk(double x, double highest, double lowest)
{
    double diff = (highest - lowest) / 100.0;
    return diff != 0.0 ? (x - lowest) / diff : 0.0;
}

/* ---- STOCH(k, slowk, slowd): fast %K over the last k bars (high, low, close), slow %K its
 * SMA(slowk), slow %D the SMA(slowd) of that; both outputs start when %D does. ---- */
typedef struct stoch_state {
    osc_deque hi, lo;
    sma_state sk, sd;
    size_t k, n;
} stoch_state;

static inline size_t k_stoch_scratch(const double *p)
{
    return 4 * cmee__pint(p, 0) + cmee__pint(p, 1) + cmee__pint(p, 2);
}
static inline void k_stoch_init(stoch_state *s, const double *p, double *scr)
{
    size_t k = cmee__pint(p, 0), sk = cmee__pint(p, 1);
    osc_deque_init(&s->hi, scr, k, true);
    osc_deque_init(&s->lo, scr + 2 * k, k, false);
    sma_init(&s->sk, sk, scr + 4 * k);
    sma_init(&s->sd, cmee__pint(p, 2), scr + 4 * k + sk);
    s->k = k;
    s->n = 0;
}
static inline void k_stoch_update(stoch_state *s, const cmee__bar *b, double *out)
{
    size_t i = s->n++;
    double hh = osc_deque_push(&s->hi, b->h, i);
    double ll = osc_deque_push(&s->lo, b->l, i);
    if (i + 1 < s->k || !sma_step(&s->sk, osc_fastk(b->c, hh, ll), &out[0]) ||
        !sma_step(&s->sd, out[0], &out[1]))
        out[0] = out[1] = CMEE__NAN;
}

/* ---- STOCHRSI(period, k, d): TA-Lib's STOCHF applied to RSI(period): %K = fast %K of the
 * RSI within its last k values, %D = SMA(d) of %K; both start when %D does. ---- */
typedef struct stochrsi_state {
    rsi_state rsi;
    osc_deque hi, lo;
    sma_state d;
    size_t k, n; /* n: RSI values seen */
} stochrsi_state;

static inline size_t k_stochrsi_scratch(const double *p)
{
    return 4 * cmee__pint(p, 1) + cmee__pint(p, 2);
}
static inline void k_stochrsi_init(stochrsi_state *s, const double *p, double *scr)
{
    size_t k = cmee__pint(p, 1);
    rsi_init(&s->rsi, cmee__pint(p, 0));
    osc_deque_init(&s->hi, scr, k, true);
    osc_deque_init(&s->lo, scr + 2 * k, k, false);
    sma_init(&s->d, cmee__pint(p, 2), scr + 4 * k);
    s->k = k;
    s->n = 0;
}
static inline void k_stochrsi_update(stochrsi_state *s, const cmee__bar *b, double *out)
{
    double r;
    if (!rsi_step(&s->rsi, b->c, &r)) {
        out[0] = out[1] = CMEE__NAN;
        return;
    }
    size_t i = s->n++;
    double hh = osc_deque_push(&s->hi, r, i);
    double ll = osc_deque_push(&s->lo, r, i);
    if (i + 1 < s->k) {
        out[0] = out[1] = CMEE__NAN;
        return;
    }
    out[0] = osc_fastk(r, hh, ll);
    if (!sma_step(&s->d, out[0], &out[1]))
        out[0] = out[1] = CMEE__NAN;
}

/* ---- CCI(period): typical price tp = (high + low + close) / 3 in a window; its mean and mean
 * absolute deviation are summed over the window in storage order (bar i in slot i mod period),
 * as TA-Lib's circular buffer does; cci = (tp - mean) / (0.015 * (sumdev / period)), 0 when
 * either the numerator or the deviation is 0. O(period) per bar. ---- */
typedef struct cci_state {
    cmee__ring win;
    size_t p;
} cci_state;

static inline size_t k_cci_scratch(const double *p)
{
    return cmee__pint(p, 0);
}
static inline void k_cci_init(cci_state *s, const double *p, double *scr)
{
    s->p = cmee__pint(p, 0);
    cmee__ring_init(&s->win, scr, s->p);
}
static inline void k_cci_update(cci_state *s, const cmee__bar *b, double *out)
{
    double tp = (b->h + b->l + b->c) / 3.0;
    cmee__ring_push(&s->win, tp);
    if (s->win.count < s->p) {
        out[0] = CMEE__NAN;
        return;
    }
    const double *w = s->win.buf;
    double pd = (double)s->p, mean = 0.0, dev = 0.0;
    for (size_t j = 0; j < s->p; j++)
        mean += w[j];
    mean /= pd;
    for (size_t j = 0; j < s->p; j++)
        dev += fabs(w[j] - mean);
    double num = tp - mean;
    out[0] = num != 0.0 && dev != 0.0 ? num / (0.015 * (dev / pd)) : 0.0;
}

/* ---- MOM(period) = close - close[period bars ago]; ROC(period) = (close / that - 1) * 100,
 * 0 when the old close is 0 (TA-Lib's form). Both keep the last period closes. ---- */
typedef struct mom_state {
    cmee__ring win;
} mom_state;
typedef mom_state roc_state;

static inline size_t k_mom_scratch(const double *p)
{
    return cmee__pint(p, 0);
}
static inline void k_mom_init(mom_state *s, const double *p, double *scr)
{
    cmee__ring_init(&s->win, scr, cmee__pint(p, 0));
}
/* Pushes x; true and *old = the value `period` pushes back once there is one. */
static inline bool osc_lag_step(mom_state *s, double x, double *old)
{
    bool full = s->win.count == s->win.cap;
    *old = cmee__ring_push(&s->win, x);
    return full;
}
static inline void k_mom_update(mom_state *s, const cmee__bar *b, double *out)
{
    double old;
    out[0] = osc_lag_step(s, b->c, &old) ? b->c - old : CMEE__NAN;
}

#define k_roc_scratch k_mom_scratch
#define k_roc_init k_mom_init
static inline void k_roc_update(roc_state *s, const cmee__bar *b, double *out)
{
    double old;
    if (!osc_lag_step(s, b->c, &old))
        out[0] = CMEE__NAN;
    else
        out[0] = old != 0.0 ? ((b->c / old) - 1.0) * 100.0 : 0.0;
}

/* ---- WILLR(period): with the highest high and lowest low of the last period bars,
 * diff = (highest - lowest) / -100 and willr = (highest - close) / diff (TA-Lib's order),
 * 0 for a flat window. ---- */
typedef struct willr_state {
    osc_deque hi, lo;
    size_t p, n;
} willr_state;

static inline size_t k_willr_scratch(const double *p)
{
    return 4 * cmee__pint(p, 0);
}
static inline void k_willr_init(willr_state *s, const double *p, double *scr)
{
    s->p = cmee__pint(p, 0);
    s->n = 0;
    osc_deque_init(&s->hi, scr, s->p, true);
    osc_deque_init(&s->lo, scr + 2 * s->p, s->p, false);
}
static inline void k_willr_update(willr_state *s, const cmee__bar *b, double *out)
{
    size_t i = s->n++;
    double hh = osc_deque_push(&s->hi, b->h, i);
    double ll = osc_deque_push(&s->lo, b->l, i);
    if (i + 1 < s->p) {
        out[0] = CMEE__NAN;
        return;
    }
    double diff = (hh - ll) / -100.0;
    out[0] = diff != 0.0 ? (hh - b->c) / diff : 0.0;
}

/* ---- OBV: the first bar's volume, then + volume on an up close, - volume on a down close,
 * unchanged on an equal one. No lookback. ---- */
typedef struct obv_state {
    double prev, obv;
    bool started;
} obv_state;

static inline size_t k_obv_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_obv_init(obv_state *s, const double *p, double *scr)
{
    (void)p;
    (void)scr;
    s->prev = s->obv = 0.0;
    s->started = false;
}
static inline void k_obv_update(obv_state *s, const cmee__bar *b, double *out)
{
    if (!s->started) {
        s->started = true;
        s->obv = b->v;
    } else {
        /* Branch-free: adding or subtracting +0 leaves the running total as it was. */
        s->obv += cmee__when_gt(b->c, s->prev, b->v);
        s->obv -= cmee__when_gt(s->prev, b->c, b->v);
    }
    s->prev = b->c;
    out[0] = s->obv;
}

/* ---- VWAP(period), libcmee's definition (TA-Lib has none): the rolling volume-weighted
 * average of the typical price tp = (high + low + close) / 3 over the last period bars,
 *     vwap = sum(tp * volume) / sum(volume),
 * and, when every volume in the window is 0 (or the volumes sum to exactly 0), the plain mean
 * of tp over the window. The sums are running sums (add the new bar, subtract the one leaving)
 * kept with Neumaier's compensation, so they do not drift: after any number of bars they agree
 * with a direct sum over the window to a few ulps of the larger terms. Zero volumes are
 * counted exactly, so an all-zero window is recognised whatever the rounding. ---- */
typedef struct osc_ksum {
    double s, c; /* sum and its compensation */
} osc_ksum;

static inline void osc_ksum_add(osc_ksum *k, double x)
{
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}

static inline double osc_ksum_get(const osc_ksum *k)
{
    return k->s + k->c;
}

typedef struct vwap_state {
    cmee__ring tp, vol;
    osc_ksum sum_pv, sum_v, sum_tp;
    size_t p, nonzero; /* nonzero: bars in the window with a nonzero volume */
} vwap_state;

static inline size_t k_vwap_scratch(const double *p)
{
    return 2 * cmee__pint(p, 0);
}
static inline void k_vwap_init(vwap_state *s, const double *p, double *scr)
{
    s->p = cmee__pint(p, 0);
    cmee__ring_init(&s->tp, scr, s->p);
    cmee__ring_init(&s->vol, scr + s->p, s->p);
    s->sum_pv = s->sum_v = s->sum_tp = (osc_ksum){0.0, 0.0};
    s->nonzero = 0;
}
static inline void k_vwap_update(vwap_state *s, const cmee__bar *b, double *out)
{
    double tp = (b->h + b->l + b->c) / 3.0;
    if (s->tp.count == s->p) { /* the oldest bar leaves the window */
        double otp = cmee__ring_oldest(&s->tp), ov = cmee__ring_oldest(&s->vol);
        osc_ksum_add(&s->sum_pv, -(otp * ov));
        osc_ksum_add(&s->sum_v, -ov);
        osc_ksum_add(&s->sum_tp, -otp);
        s->nonzero -= ov != 0.0;
        if (s->nonzero == 0) /* exactly 0 now: drop any rounding residue */
            s->sum_pv = s->sum_v = (osc_ksum){0.0, 0.0};
    }
    cmee__ring_push(&s->tp, tp);
    cmee__ring_push(&s->vol, b->v);
    osc_ksum_add(&s->sum_pv, tp * b->v);
    osc_ksum_add(&s->sum_v, b->v);
    osc_ksum_add(&s->sum_tp, tp);
    s->nonzero += b->v != 0.0;
    if (s->tp.count < s->p) {
        out[0] = CMEE__NAN;
        return;
    }
    double sv = s->nonzero ? osc_ksum_get(&s->sum_v) : 0.0;
    out[0] = sv != 0.0 ? osc_ksum_get(&s->sum_pv) / sv : osc_ksum_get(&s->sum_tp) / (double)s->p;
}

#endif
