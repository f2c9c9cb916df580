/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Price impact: a market that belongs to one session (cmee_session) can carry the impact of
 * that session's own fills. Each fill is a kick (time t, amplitude a on the log price); a tick
 * at time u gets
 *
 *     I(u) = sum over kicks with t_i < u of a_i 2^(-(u - t_i) / h)
 *
 * added to its log price before the tick-grid rounding, clamped to [-CAP, CAP]. Ticks at or
 * before a fill's time are untouched, so nothing a session has already seen changes.
 *
 * The sum is kept as a running total per kick (sum_j = a_j + sum_{j-1} 2^(-(t_j - t_{j-1}) / h)),
 * so a tick costs one binary search and one exp2. Once HORIZON half-lives pass without a fill
 * the total is dropped (what remains is below 2^-40 of it), so the impact ends and the market's
 * own candles, with their cheap lazy extremes, serve the times after it.
 *
 * Candles of impacted minutes are folded from the impacted ticks (so high, low, open and close
 * are those of the ticks the session sees, and the tape stays inside them); every other minute
 * is folded from the path exactly as market.c does, so a candle without impacted minutes is
 * bit for bit the market's.
 */
#include <stdint.h>
#include <string.h>

#include "market/market_int.h"

cmee_status cmee__impact_reserve(cmee_market *m, size_t idx, size_t n)
{
    if (m->nimp <= idx) {
        /* One slot per symbol, taken at the first reservation: markets without impact keep
         * only the NULL pointer. */
        cmee__impact **slots = cmee__realloc(&m->al, m->imp, m->nsyms * sizeof *slots);
        if (!slots)
            return cmee__market_fail(m, CMEE_ENOMEM, "out of memory for the impact of %s",
                                     m->syms[idx].spec.symbol);
        memset(slots + m->nimp, 0, (m->nsyms - m->nimp) * sizeof *slots);
        m->imp = slots;
        m->nimp = m->nsyms;
    }
    cmee__impact *im = m->imp[idx];
    size_t have = im ? im->n : 0, cap = im ? im->cap : 0;
    if (im && have + n <= cap)
        return CMEE_OK;
    cap = cap ? cap : 8;
    while (cap < have + n)
        cap *= 2;
    cmee__impact *p = cmee__realloc(&m->al, im, sizeof *p + cap * sizeof p->v[0]);
    if (!p)
        return cmee__market_fail(m, CMEE_ENOMEM, "out of memory for the impact of %s",
                                 m->syms[idx].spec.symbol);
    if (!im)
        p->n = 0, p->half = 0;
    p->cap = cap;
    m->imp[idx] = p;
    return CMEE_OK;
}

/* The horizon in ms: a fill's impact lasts this long after the last fill before a tick. */
static int64_t horizon(const cmee__impact *im)
{
    return CMEE__IMPACT_HORIZON * im->half;
}

/* Index of the last kick with t < @p u, or -1. */
static ptrdiff_t last_before(const cmee__impact *im, int64_t u)
{
    size_t lo = 0, hi = im->n; /* the answer + 1 lies in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (im->v[mid].t < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

/* A running total carried from kick time @p from to @p u (>= from). */
static double decay(const cmee__impact *im, double sum, int64_t from, int64_t u)
{
    int64_t d = u - from;
    if (d > horizon(im))
        return 0.0;
    return d == 0 ? sum : sum * exp2(-(double)d / (double)im->half);
}

void cmee__impact_push(cmee_market *m, size_t idx, int64_t t, uint64_t ord, double a,
                       int64_t half_life)
{
    cmee__impact *im = m->imp[idx]; /* reserved: room for one more */
    im->half = half_life;
    size_t at = im->n;
    while (at > 0 && (im->v[at - 1].t > t || (im->v[at - 1].t == t && im->v[at - 1].ord > ord)))
        at--;
    memmove(&im->v[at + 1], &im->v[at], (im->n - at) * sizeof im->v[0]);
    im->v[at] = (cmee__kick){t, ord, a, 0.0};
    im->n++;
    /* Kicks after it share its time (fills come in time order): their totals include it. */
    for (size_t j = at; j < im->n; j++) {
        cmee__kick *k = &im->v[j];
        k->sum = k->a + (j > 0 ? decay(im, im->v[j - 1].sum, im->v[j - 1].t, k->t) : 0.0);
    }
    m->version++;
}

double cmee__impact_at(const cmee__impact *im, int64_t u)
{
    ptrdiff_t j = last_before(im, u);
    if (j < 0)
        return 0.0;
    double v = decay(im, im->v[j].sum, im->v[j].t, u);
    return v > CMEE__IMPACT_CAP ? CMEE__IMPACT_CAP : (v < -CMEE__IMPACT_CAP ? -CMEE__IMPACT_CAP : v);
}

int64_t cmee__impact_next(const cmee__impact *im, int64_t minute)
{
    if (im->n == 0)
        return INT64_MAX;
    int64_t t0 = CMEE_TIME_MIN + minute * CMEE__MIN_MS;
    /* A tick u of this minute has an impact only if the last kick before it is within the
     * horizon: some kick in [t0 - horizon, t0 + 1 minute). */
    ptrdiff_t j = last_before(im, t0 + CMEE__MIN_MS);
    if (j >= 0 && im->v[j].t >= t0 - horizon(im))
        return minute;
    if ((size_t)(j + 1) >= im->n)
        return INT64_MAX;
    return (im->v[j + 1].t - CMEE_TIME_MIN) / CMEE__MIN_MS;
}

void cmee__impact_candles(const cmee_market *m, size_t idx, int64_t tfmin, int64_t min0,
                          size_t count, cmee_candle *out)
{
    const cmee__symbol *s = &m->syms[idx];
    const cmee__impact *im = cmee__impact_of(m, idx); /* not NULL: the caller checked */
    cmee__daycache dc;
    cmee__hour hr;
    cmee__scur cur = {.hour = -1};
    dc.day = -1;
    int64_t hour = -1, next = cmee__impact_next(im, min0);
    int n = s->spec.ticks_per_minute;
    cmee_tick ticks[600];
    for (size_t j = 0; j < count; j++) {
        int64_t c0 = min0 + (int64_t)j * tfmin, c1 = c0 + tfmin;
        cmee_candle *c = &out[j];
        bool first = true;
        double hi = 0, lo = 0;
        int64_t vol = 0;
        for (int64_t mi = c0; mi < c1;) {
            if (mi / 60 != hour) {
                hour = mi / 60;
                cmee__engine_hour(m, idx, hour, &dc, &cur, &hr);
            }
            int k = (int)(mi - hour * 60);
            if (next < mi)
                next = cmee__impact_next(im, mi);
            if (next == mi) {
                /* An impacted minute: fold its ticks as the session sees them. */
                cmee__hour_extremes(&hr, k);
                cmee__hour_ticks(s, im, &hr, k, mi, false, ticks);
                if (first) {
                    c->open = hi = lo = ticks[0].price;
                    first = false;
                }
                for (int i = 0; i < n; i++) {
                    hi = ticks[i].price > hi ? ticks[i].price : hi;
                    lo = ticks[i].price < lo ? ticks[i].price : lo;
                }
                c->close = ticks[n - 1].price;
                vol += hr.vol[k];
                mi++;
                continue;
            }
            /* A run of the market's own minutes, inside this candle and this hour. */
            int64_t end = c1 < (hour + 1) * 60 ? c1 : (hour + 1) * 60;
            if (next < end)
                end = next;
            int k1 = (int)(end - hour * 60);
            double mx = hr.x[k], mn = hr.x[k];
            cmee__hour_fold_span(&hr, k, k1, &mx, &mn, &vol);
            /* The grid conversion is monotone: the price of the max is the max of the prices. */
            double pmx = cmee__price(s, mx), pmn = cmee__price(s, mn);
            if (first) {
                c->open = cmee__price(s, hr.x[k]);
                hi = pmx;
                lo = pmn;
                first = false;
            } else {
                hi = pmx > hi ? pmx : hi;
                lo = pmn < lo ? pmn : lo;
            }
            c->close = cmee__price(s, hr.x[k1]);
            mi = end;
        }
        c->time = CMEE_TIME_MIN + c0 * CMEE__MIN_MS;
        c->high = hi;
        c->low = lo;
        c->volume = (double)vol;
    }
}
