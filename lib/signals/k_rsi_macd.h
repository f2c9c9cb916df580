/* SPDX-License-Identifier: GPL-3.0-or-later */
/* RSI (Wilder) and MACD, in TA-Lib's arithmetic order. */
#ifndef CMEE_SIGNALS_K_RSI_MACD_H
#define CMEE_SIGNALS_K_RSI_MACD_H

#include "k_ma.h"

/* ---- RSI: average gain and loss, simple over the first p changes, then Wilder's. ---- */
typedef struct rsi_state {
    double prev, gain, loss, inv_p, decay;
    size_t p, n; /* n: values seen */
} rsi_state;

static inline void rsi_init(rsi_state *s, size_t p)
{
    s->prev = s->gain = s->loss = 0.0;
    s->inv_p = 1.0 / (double)p;
    s->decay = (double)(p - 1) / (double)p;
    s->p = p;
    s->n = 0;
}

static inline double rsi_value(const rsi_state *s)
{
    /* TA-Lib gives 0 when the averages sum to less than 1e-8; libcmee only when they are 0
     * (docs/signals.md), which differs only for series whose moves are below 1e-8. */
    double t = s->gain + s->loss;
    return t != 0.0 ? 100.0 * (s->gain / t) : 0.0;
}

static inline bool rsi_step(rsi_state *s, double x, double *out)
{
    size_t n = s->n++;
    if (n == 0) {
        s->prev = x;
        return false;
    }
    double d = x - s->prev;
    s->prev = x;
    if (n <= s->p) {
        if (d < 0)
            s->loss -= d;
        else
            s->gain += d;
        if (n < s->p)
            return false;
        s->loss /= (double)s->p;
        s->gain /= (double)s->p;
    } else {
        /* Wilder's smoothing as avg (p-1)/p + move / p: TA-Lib's (avg (p-1) + move) / p puts a
         * division on the bar-to-bar chain; this is a multiply and an add, within ~1e-15.
         * Branch-free: a rise adds 0 to the loss and a fall 0 to the gain. */
        double up = cmee__pos_part(d), down = d - up; /* min(d, 0), exactly */
        s->loss = (s->loss * s->decay) - (down * s->inv_p);
        s->gain = (s->gain * s->decay) + (up * s->inv_p);
    }
    *out = rsi_value(s);
    return true;
}

/* ---- MACD: fast and slow EMAs that both start at bar slow-1 (the fast one seeded with the
 * SMA of the fast values ending there), their difference, and an EMA of it. ---- */
typedef struct macd_state {
    ema_state fast, slow, signal;
    size_t nfast, nslow, n;
} macd_state;

static inline void macd_init(macd_state *s, size_t fast, size_t slow, size_t signal)
{
    if (slow < fast) { /* TA-Lib swaps them */
        size_t t = slow;
        slow = fast;
        fast = t;
    }
    ema_init(&s->fast, fast);
    ema_init(&s->slow, slow);
    ema_init(&s->signal, signal);
    s->nfast = fast;
    s->nslow = slow;
    s->n = 0;
}

static inline bool macd_step(macd_state *s, double x, double out[3])
{
    size_t n = s->n++;
    double f = 0.0, sl;
    /* The fast EMA only sees the bars from slow - fast on. */
    bool fast_ready = n + s->nfast >= s->nslow && ema_step_exact(&s->fast, x, &f);
    if (!ema_step_exact(&s->slow, x, &sl) || !fast_ready)
        return false;
    double line = f - sl, sig;
    if (!ema_step_exact(&s->signal, line, &sig))
        return false;
    out[0] = line;
    out[1] = sig;
    out[2] = line - sig;
    return true;
}

/* ---- The uniform kernel interface (ind.h) ---- */
static inline size_t k_rsi_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_rsi_init(rsi_state *s, const double *p, double *scr)
{
    (void)scr;
    rsi_init(s, cmee__pint(p, 0));
}
static inline void k_rsi_update(rsi_state *s, const cmee__bar *b, double *out)
{
    if (!rsi_step(s, b->c, out))
        out[0] = CMEE__NAN;
}

static inline size_t k_macd_scratch(const double *p)
{
    (void)p;
    return 0;
}
static inline void k_macd_init(macd_state *s, const double *p, double *scr)
{
    (void)scr;
    macd_init(s, cmee__pint(p, 0), cmee__pint(p, 1), cmee__pint(p, 2));
}
static inline void k_macd_update(macd_state *s, const cmee__bar *b, double *out)
{
    if (!macd_step(s, b->c, out))
        out[0] = out[1] = out[2] = CMEE__NAN;
}

#endif
