/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Moving averages: SMA, EMA, WMA, DEMA, TEMA, in TA-Lib's arithmetic order. */
#ifndef CMEE_SIGNALS_K_MA_H
#define CMEE_SIGNALS_K_MA_H

#include "ind.h"

/* ---- SMA: a running sum; add the new value, output, then drop the oldest. ---- */
typedef struct sma_state {
    cmee__ring win;
    double sum, pd; /* pd: the period as a double */
    size_t p;
} sma_state;

static inline size_t sma_scratch(size_t p)
{
    return p;
}

static inline void sma_init(sma_state *s, size_t p, double *scratch)
{
    cmee__ring_init(&s->win, scratch, p);
    s->sum = 0.0;
    s->pd = (double)p;
    s->p = p;
}

/* Returns true and sets *out once p values are in. */
static inline bool sma_step(sma_state *s, double x, double *out)
{
    double sum = s->sum + x, oldest;
    bool full = cmee__ring_push_full(&s->win, x, &oldest);
    if (!full) {
        s->sum = sum;
        return false;
    }
    s->sum = sum - oldest;
    *out = sum / s->pd;
    return true;
}

/* ---- EMA: seeded with the SMA of its first p values, then prev (1 - k) + x k. ---- */
typedef struct ema_state {
    double k, k1, sum, prev;
    size_t p, n;
} ema_state;

static inline void ema_init(ema_state *s, size_t p)
{
    s->k = 2.0 / ((double)p + 1.0);
    s->k1 = 1.0 - s->k;
    s->sum = 0.0;
    s->prev = 0.0;
    s->p = p;
    s->n = 0;
}

static inline bool ema_step(ema_state *s, double x, double *out)
{
    if (s->n < s->p) {
        s->sum += x;
        if (++s->n < s->p)
            return false;
        s->prev = s->sum / (double)s->p;
    } else {
        /* prev (1 - k) + x k: TA-Lib writes (x - prev) k + prev, three operations on the
         * bar-to-bar chain; this has two, and differs by ~1e-16 relative (docs/signals.md). */
        s->prev = (s->prev * s->k1) + (x * s->k);
    }
    *out = s->prev;
    return true;
}

/* The same EMA in TA-Lib's exact form, (x - prev) k + prev. MACD needs it: its line is the
 * difference of two nearly equal EMAs, which magnifies last-bit differences (the short form
 * moved the histogram by up to 1e-9 relative against TA-Lib; this keeps it bit-exact). */
static inline bool ema_step_exact(ema_state *s, double x, double *out)
{
    if (s->n < s->p) {
        s->sum += x;
        if (++s->n < s->p)
            return false;
        s->prev = s->sum / (double)s->p;
    } else {
        s->prev = ((x - s->prev) * s->k) + s->prev;
    }
    *out = s->prev;
    return true;
}

/* ---- WMA: weighted and plain running sums (TA-Lib's periodSum / periodSub). ---- */
typedef struct wma_state {
    cmee__ring win;
    double wsum, sum, trailing, divider, pd;
    size_t n;
} wma_state;

static inline void wma_init(wma_state *s, size_t p, double *scratch)
{
    cmee__ring_init(&s->win, scratch, p);
    s->wsum = s->sum = s->trailing = 0.0;
    s->divider = (double)((p * (p + 1)) >> 1);
    s->pd = (double)p;
    s->n = 0;
}

static inline bool wma_step(wma_state *s, double x, double *out)
{
    double oldest, sum = s->sum + x;
    if (!cmee__ring_push_full(&s->win, x, &oldest)) {
        size_t n = ++s->n;
        s->sum = sum;
        s->wsum += x * (double)n;
        return false;
    }
    sum -= s->trailing;
    double wsum = s->wsum + (x * s->pd);
    s->trailing = oldest;
    s->sum = sum;
    s->wsum = wsum - sum;
    *out = wsum / s->divider;
    return true;
}

/* ---- DEMA = 2 EMA(x) - EMA(EMA(x)); TEMA = 3 e1 - 3 e2 + e3. ---- */
typedef struct dema_state {
    ema_state e1, e2, e3;
} dema_state;

static inline void dema_init(dema_state *s, size_t p)
{
    ema_init(&s->e1, p);
    ema_init(&s->e2, p);
    ema_init(&s->e3, p);
}

static inline bool dema_step(dema_state *s, double x, double *out)
{
    double a, b;
    if (!ema_step(&s->e1, x, &a) || !ema_step(&s->e2, a, &b))
        return false;
    *out = (2.0 * a) - b;
    return true;
}

static inline bool tema_step(dema_state *s, double x, double *out)
{
    double a, b, c;
    if (!ema_step(&s->e1, x, &a) || !ema_step(&s->e2, a, &b) || !ema_step(&s->e3, b, &c))
        return false;
    *out = (3.0 * a) - (3.0 * b) + c;
    return true;
}

/* ---- The uniform kernel interface (ind.h) ---- */
static inline size_t k_sma_scratch(const double *p)
{
    return cmee__pint(p, 0);
}
static inline void k_sma_init(sma_state *s, const double *p, double *scr)
{
    sma_init(s, cmee__pint(p, 0), scr);
}
static inline void k_sma_update(sma_state *s, const cmee__bar *b, double *out)
{
    if (!sma_step(s, b->c, out))
        out[0] = CMEE__NAN;
}

static inline size_t k_ema_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_ema_init(ema_state *s, const double *p, double *scr)
{
    (void)scr;
    ema_init(s, cmee__pint(p, 0));
}
static inline void k_ema_update(ema_state *s, const cmee__bar *b, double *out)
{
    if (!ema_step(s, b->c, out))
        out[0] = CMEE__NAN;
}

static inline size_t k_wma_scratch(const double *p)
{
    return cmee__pint(p, 0);
}
static inline void k_wma_init(wma_state *s, const double *p, double *scr)
{
    wma_init(s, cmee__pint(p, 0), scr);
}
static inline void k_wma_update(wma_state *s, const cmee__bar *b, double *out)
{
    if (!wma_step(s, b->c, out))
        out[0] = CMEE__NAN;
}

typedef dema_state tema_state;
static inline size_t k_dema_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_dema_init(dema_state *s, const double *p, double *scr)
{
    (void)scr;
    dema_init(s, cmee__pint(p, 0));
}
static inline void k_dema_update(dema_state *s, const cmee__bar *b, double *out)
{
    if (!dema_step(s, b->c, out))
        out[0] = CMEE__NAN;
}
#define k_tema_scratch k_dema_scratch
#define k_tema_init k_dema_init
static inline void k_tema_update(tema_state *s, const cmee__bar *b, double *out)
{
    if (!tema_step(s, b->c, out))
        out[0] = CMEE__NAN;
}

#endif
