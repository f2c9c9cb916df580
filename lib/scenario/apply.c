/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Applying scenarios to a market without touching its past (DESIGN.md contract 4).
 *
 * A scenario never changes how the base path is drawn. It rewrites the base path's increments
 * after t0, minute by minute: with X the base log price and X' the scenario's,
 *
 *   X'(g+1) = X'(g) + m(g) (X(g+1) - X(g) - e) + d(g) + J(g) + pull(g)
 *
 * where e is the base path's expected increment per minute, m the volatility multiplier
 * (regime times spike; 0 in a halt), d the drift the regime or target asks for (e when it keeps
 * the symbol's), J shocks and the regime's extra jumps, and pull the mean reversion. A
 * Brownian bridge scaled by m is a Brownian bridge of m^2 times the variance, so each minute's
 * high and low are re-derived from the same stored uniforms with the new open, close and
 * variance: no new randomness, nothing before t0 read differently.
 *
 * Values at minute boundaries are computed by one recursion per application ("segment")
 * starting at its t0. Inside an hour the minutes are always summed one by one; the value at an
 * hour's end comes from a closed form when the hour is regular (constant settings, no spike),
 * which lets a query seek to an hour deep inside a long scenario without generating the minutes
 * before it. Both paths use the same code, so every value has exactly one definition.
 *
 * Where a segment ends (its span is over, it was cancelled, or the next application starts),
 * the path continues as the base path plus a constant offset, cached in the segment.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "market/market_int.h"
#include "scenario/scenario_int.h"

#define MIN_PER_YEAR (1440.0 * CMEE__YEAR_DAYS)
#define SERIES_MINUTES ((int64_t)CMEE__DAYS * 1440)

/* A regime in minutes relative to the segment start, with per-minute rates. */
typedef struct tpiece {
    int64_t g0, g1;
    bool keep;      /* keep the symbol's drift */
    double d;       /* log drift per minute when !keep */
    double mult;
    double vmult;   /* volume multiplier */
    double jrate;   /* expected extra jumps per minute */
    double jmean, jsd;
    double pull;    /* share of the distance to the level closed per minute, 0 = off */
    cmee_level level;
} tpiece;

/* An event in minutes relative to the segment start. */
typedef struct tevent {
    cmee_event_kind kind;
    int64_t g0, g1; /* shock: g1 = g0 + 1; spike: g1 = end of its span */
    double lsize;   /* shock: log(1 + size) */
    double excess;  /* spike: size - 1 */
    double inv_hl;  /* spike: 1 / half-life in minutes */
    cmee_level level;
} tevent;

struct cmee__app {
    cmee_application_id id;
    char name[CMEE_SCENARIO_NAME_MAX];
    int64_t t0;    /* first minute */
    int64_t end;   /* end minute: t0 + span, or where it was cancelled or superseded */
    int64_t span;  /* minutes */
    tpiece *p;
    size_t np;
    tevent *ev;
    size_t nev;
};
typedef struct cmee__app app;

/* Settings of one minute. */
typedef struct mpar {
    double m, d, jrate, jmean, jsd, pull, vm;
    bool halt;
} mpar;

static int64_t ceil_minutes(int64_t ms)
{
    return (ms + CMEE__MIN_MS - 1) / CMEE__MIN_MS;
}

/* ---- the per-minute model --------------------------------------------------------------- */

static int piece_at(const app *a, int64_t r)
{
    for (size_t i = 0; i < a->np; i++)
        if (a->p[i].g0 <= r && r < a->p[i].g1)
            return (int)i;
    return -1;
}

static double level_log(const cmee_level *l, double x_here)
{
    return l->kind == CMEE_LEVEL_PRICE ? log(l->value) : x_here + log1p(l->value);
}

/* Expected contribution of shocks and extra jumps over [g0, g1): a target's drift leaves room
 * for them, so the target holds in expectation with them. */
static double expected_other(const app *a, int64_t g0, int64_t g1)
{
    double sum = 0.0;
    for (size_t i = 0; i < a->nev; i++)
        if (a->ev[i].kind == CMEE_EVENT_SHOCK && a->ev[i].g0 >= g0 && a->ev[i].g0 < g1)
            sum += a->ev[i].lsize;
    for (size_t i = 0; i < a->np; i++) {
        int64_t lo = a->p[i].g0 > g0 ? a->p[i].g0 : g0;
        int64_t hi = a->p[i].g1 < g1 ? a->p[i].g1 : g1;
        if (hi > lo)
            sum += (double)(hi - lo) * a->p[i].jrate * a->p[i].jmean;
    }
    return sum;
}

/* State changes at the start of minute r: a regime's reversion level, a target's drift. */
static void on_start(const app *a, cmee__scur *st, int64_t r, double x)
{
    for (size_t i = 0; i < a->np; i++)
        if (a->p[i].g0 == r && a->p[i].pull > 0) {
            st->piece = (int)i;
            st->level = level_log(&a->p[i].level, x);
        }
    for (size_t i = 0; i < a->nev; i++) {
        const tevent *ev = &a->ev[i];
        if (ev->kind == CMEE_EVENT_TARGET && ev->g0 == r) {
            double goal = level_log(&ev->level, x);
            st->target = (int)i;
            st->tdrift = (goal - x - expected_other(a, ev->g0, ev->g1)) / (double)(ev->g1 - ev->g0);
        }
    }
}

static void params(const cmee__symbol *s, const app *a, const cmee__scur *st, int64_t r,
                   mpar *p)
{
    p->m = 1.0;
    p->d = s->e_min;
    p->jrate = 0.0;
    p->jmean = p->jsd = 0.0;
    p->pull = 0.0;
    p->vm = 1.0;
    p->halt = false;
    int pi = piece_at(a, r);
    if (pi >= 0) {
        const tpiece *tp = &a->p[pi];
        p->m = tp->mult;
        p->vm = tp->vmult;
        if (!tp->keep)
            p->d = tp->d;
        p->jrate = tp->jrate;
        p->jmean = tp->jmean;
        p->jsd = tp->jsd;
        if (tp->pull > 0 && st->piece == pi)
            p->pull = tp->pull;
    }
    for (size_t i = 0; i < a->nev; i++) {
        const tevent *ev = &a->ev[i];
        if (r < ev->g0 || r >= ev->g1)
            continue;
        if (ev->kind == CMEE_EVENT_HALT) {
            p->halt = true;
        } else if (ev->kind == CMEE_EVENT_TARGET && st->target == (int)i) {
            p->d = st->tdrift;
            p->pull = 0.0;
        } else if (ev->kind == CMEE_EVENT_SPIKE) {
            p->m *= 1.0 + ev->excess * exp2(-(double)(r - ev->g0) * ev->inv_hl);
        }
    }
    if (p->halt) {
        p->m = p->d = p->jrate = p->pull = 0.0;
    }
}

/* Shocks at minute r plus the extra jumps drawn for global minute g. */
static double minute_jump(const cmee__symbol *s, const app *a, int64_t r, int64_t g,
                          const mpar *p)
{
    double j = 0.0;
    for (size_t i = 0; i < a->nev; i++)
        if (a->ev[i].kind == CMEE_EVENT_SHOCK && a->ev[i].g0 == r)
            j += a->ev[i].lsize;
    if (!(p->jrate > 0))
        return j;
    uint32_t w[4];
    cmee__philox_block(s->key, CMEE__P_SCEN_J, 0, (uint32_t)(g / 60), (uint32_t)(g % 60), w);
    double u = cmee__u32(w[0]);
    double pk = exp(-p->jrate), cdf = pk;
    int n = 0;
    while (u > cdf && n < 64) { /* Poisson by inversion: jrate is small */
        n++;
        pk *= p->jrate / n;
        cdf += pk;
    }
    if (n == 0)
        return j;
    double z = gsl_cdf_ugaussian_Pinv(cmee__u53(w[1], w[2]));
    return j + n * p->jmean + p->jsd * sqrt((double)n) * z;
}

/* Can the hour starting at relative minute r0 take the closed form: the same settings in all
 * of its minutes? (Shocks and jumps are fine: they are summed.) */
static bool regular(const app *a, int64_t r0)
{
    int64_t r1 = r0 + 60;
    for (size_t i = 0; i < a->np; i++) {
        if ((a->p[i].g0 > r0 && a->p[i].g0 < r1) || (a->p[i].g1 > r0 && a->p[i].g1 < r1))
            return false;
    }
    for (size_t i = 0; i < a->nev; i++) {
        const tevent *ev = &a->ev[i];
        if (ev->kind == CMEE_EVENT_SHOCK)
            continue;
        if (ev->kind == CMEE_EVENT_SPIKE) {
            if (ev->g0 < r1 && ev->g1 > r0)
                return false;
            continue;
        }
        if ((ev->g0 > r0 && ev->g0 < r1) || (ev->g1 > r0 && ev->g1 < r1))
            return false;
    }
    return true;
}

/* High and low of transformed minute k of @p h, whose base values were a, b (and hi, lo if
 * known), now a2 -> b2 with multiplier m and a jump j at the minute's start. */
static void transform_extremes(cmee__hour *h, int k, double a, double b, double a2, double b2,
                               double m, double j)
{
    double c = a2 + j; /* where the continuous part starts */
    if (h->known[k]) {
        double delta = (b2 - c) - m * (b - a);
        h->hi[k] = c + m * (h->hi[k] - a) + (delta > 0 ? delta : 0.0);
        h->lo[k] = c + m * (h->lo[k] - a) + (delta < 0 ? delta : 0.0);
    } else if (j != 0.0) {
        cmee__hour_uniforms(h, k);
        h->hi[k] = cmee__bridge_extreme(c, b2, h->mass[k], h->uh[k], 1.0);
        h->lo[k] = cmee__bridge_extreme(c, b2, h->mass[k], h->ul[k], -1.0);
    } else {
        return; /* left to the lazy path, from the new open, close and variance */
    }
    if (a2 > h->hi[k])
        h->hi[k] = a2;
    if (a2 < h->lo[k])
        h->lo[k] = a2;
    cmee__hour_clamp(h, k);
}

/*
 * Run segment @p sg over minutes [k0, k1) of hour H, from st->x at boundary k0 to the value
 * at k1. @p xb holds the base hour's boundary values (may be NULL for a full regular hour,
 * where only xb0 and xb1, its ends, are needed). With @p h, also rewrite those minutes of h.
 */
static void run_minutes(const cmee_market *m, size_t idx, const cmee__seg *sg, cmee__scur *st,
                        int64_t H, int k0, int k1, const double *xb, double xb0, double xb1,
                        cmee__hour *h)
{
    const cmee__symbol *s = &m->syms[idx];
    const app *a = &m->apps[sg->app];
    int64_t r0 = 60 * H - sg->s; /* relative minute of k = 0 */
    double xs = st->x;           /* reference of this run's reversion */
    bool closed = k0 == 0 && k1 == 60 && regular(a, r0);
    mpar p;
    double x = xs;
    if (closed) {
        on_start(a, st, r0, xs);
        params(s, a, st, r0, &p);
    }
    double jsum = 0.0;
    for (int k = k0; k < k1; k++) {
        int64_t r = r0 + k;
        if (!closed) {
            on_start(a, st, r, x);
            params(s, a, st, r, &p);
        }
        double j = p.halt ? 0.0 : minute_jump(s, a, r, 60 * H + k, &p);
        jsum += j;
        if (!xb)
            continue; /* closed form: only the sum of the jumps is needed */
        double pull = p.pull * (st->level - xs);
        double inc = p.m * ((xb[k + 1] - xb[k]) - s->e_min) + p.d + j + pull;
        double x2 = x + inc;
        if (h) {
            h->x[k + 1] = x2;
            h->mass[k] *= p.m * p.m;
            if (p.vm != 1.0 || h->vscaled) {
                if (!h->vscaled) {
                    for (int i = 0; i < 60; i++)
                        h->vmult[i] = 1.0;
                    h->vscaled = true;
                }
                h->vmult[k] = p.vm;
            }
            if (p.halt) {
                h->halted |= UINT64_C(1) << k;
                h->hi[k] = h->lo[k] = x;
                h->known[k] = true;
            } else {
                transform_extremes(h, k, xb[k], xb[k + 1], x, x2, p.m, j);
            }
        }
        x = x2;
    }
    if (closed) {
        double pull = p.pull * (st->level - xs);
        x = xs + p.m * ((xb1 - xb0) - 60.0 * s->e_min) + 60.0 * p.d + jsum + 60.0 * pull;
        if (h)
            h->x[60] = x;
    }
    st->x = x;
}

/* ---- segments --------------------------------------------------------------------------- */

static void base_hour(const cmee_market *m, size_t idx, int64_t H, cmee__daycache *dc,
                      cmee__hour *out)
{
    cmee__engine_hour_base(m, idx, H, dc, out);
}

/* The base log price at boundary g. */
static double base_value(const cmee_market *m, size_t idx, int64_t g, cmee__daycache *dc)
{
    int64_t H = g / 60;
    if (g % 60 == 0) {
        cmee__engine_day(m, idx, H / 24, dc);
        return dc->x[H % 24];
    }
    cmee__hour h;
    base_hour(m, idx, H, dc, &h);
    return h.x[g % 60];
}

static void reset_state(cmee__scur *st, int seg, double x)
{
    st->seg = seg;
    st->x = x;
    st->piece = -1;
    st->level = 0.0;
    st->target = -1;
    st->tdrift = 0.0;
}

/* Run segment i from its start to boundary g (s < g <= e allowed), leaving the state at g. */
static void seg_run_to(const cmee_market *m, size_t idx, int i, int64_t g, cmee__daycache *dc,
                       cmee__scur *st)
{
    const cmee__seg *sg = &m->syms[idx].segs[i];
    reset_state(st, i, sg->x_start);
    int64_t at = sg->s;
    cmee__hour h;
    while (at < g) {
        int64_t H = at / 60;
        int k0 = (int)(at % 60);
        int k1 = (g - 60 * H) < 60 ? (int)(g - 60 * H) : 60;
        if (k0 == 0 && k1 == 60 && regular(&m->apps[sg->app], 60 * H - sg->s)) {
            cmee__engine_day(m, idx, H / 24, dc);
            double xb0 = dc->x[H % 24], xb1 = dc->x[H % 24 + 1];
            run_minutes(m, idx, sg, st, H, 0, 60, NULL, xb0, xb1, NULL);
        } else {
            base_hour(m, idx, H, dc, &h);
            run_minutes(m, idx, sg, st, H, k0, k1, h.x, h.x[0], h.x[60], NULL);
        }
        at = 60 * H + k1;
    }
    st->hour = g % 60 == 0 ? g / 60 : -1;
}

/* Offset of the base path after the segments ending at or before g (0 if none). */
static double gap_offset(const cmee__symbol *s, int64_t g)
{
    double off = 0.0;
    for (size_t i = 0; i < s->nsegs && s->segs[i].e <= g; i++)
        off = s->segs[i].off;
    return off;
}

/* Index of the segment acting on minute g (s <= g < e), or -1. */
static int seg_at(const cmee__symbol *s, int64_t g)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].s <= g && g < s->segs[i].e)
            return (int)i;
    return -1;
}

/* The state at the start of hour H. */
static void seek(const cmee_market *m, size_t idx, int64_t H, cmee__daycache *dc,
                 cmee__scur *cur)
{
    const cmee__symbol *s = &m->syms[idx];
    int64_t g = 60 * H;
    int i = seg_at(s, g);
    if (i < 0) {
        double x = 0.0;
        bool at_end = false;
        for (size_t j = 0; j < s->nsegs; j++)
            if (s->segs[j].e == g) {
                x = s->segs[j].x_end;
                at_end = true;
            }
        if (!at_end)
            x = base_value(m, idx, g, dc) + gap_offset(s, g);
        reset_state(cur, -1, x);
    } else {
        seg_run_to(m, idx, i, g, dc, cur);
    }
    cur->hour = H;
}

void cmee__scen_hour(const cmee_market *m, size_t idx, int64_t H, cmee__daycache *dc,
                     cmee__scur *cur, cmee__hour *h)
{
    const cmee__symbol *s = &m->syms[idx];
    if (cur->hour != H)
        seek(m, idx, H, dc, cur);
    double xb[61];
    memcpy(xb, h->x, sizeof xb);
    h->x[0] = cur->x;
    cmee__scur st = *cur;
    int k = 0;
    while (k < 60) {
        int64_t g = 60 * H + k;
        if (st.seg >= 0) {
            const cmee__seg *sg = &s->segs[st.seg];
            int k1 = sg->e - 60 * H < 60 ? (int)(sg->e - 60 * H) : 60;
            run_minutes(m, idx, sg, &st, H, k, k1, xb, xb[0], xb[60], h);
            k = k1;
            if (60 * H + k == sg->e) {
                int next = st.seg + 1 < (int)s->nsegs && s->segs[st.seg + 1].s == sg->e
                               ? st.seg + 1
                               : -1;
                reset_state(&st, next, next >= 0 ? s->segs[next].x_start : h->x[k]);
            }
        } else {
            /* Outside every segment: the base path plus the offset the last one left. */
            int64_t stop = 60 * H + 60;
            int next = -1;
            for (size_t j = 0; j < s->nsegs; j++)
                if (s->segs[j].s > g) {
                    if (s->segs[j].s < stop) {
                        stop = s->segs[j].s;
                        next = (int)j;
                    }
                    break;
                }
            double off = gap_offset(s, g);
            int k1 = (int)(stop - 60 * H);
            if (off != 0.0) {
                for (int kk = k; kk < k1; kk++) {
                    h->x[kk + 1] = xb[kk + 1] + off;
                    if (h->known[kk]) {
                        h->hi[kk] += off;
                        h->lo[kk] += off;
                    }
                }
            }
            k = k1;
            if (next >= 0)
                reset_state(&st, next, s->segs[next].x_start);
        }
    }
    /* A segment that starts exactly at the next hour takes over there. */
    if (st.seg < 0) {
        for (size_t j = 0; j < s->nsegs; j++)
            if (s->segs[j].s == 60 * H + 60)
                reset_state(&st, (int)j, s->segs[j].x_start);
    }
    st.hour = H + 1;
    st.x = st.seg >= 0 && s->segs[st.seg].s == 60 * H + 60 ? s->segs[st.seg].x_start : h->x[60];
    *cur = st;
}

/* Recompute x_end and off of segment i (its x_start must be right). */
static void seg_finish(const cmee_market *m, size_t idx, int i, cmee__daycache *dc)
{
    cmee__seg *sg = &m->syms[idx].segs[i];
    cmee__scur st;
    seg_run_to(m, idx, i, sg->e, dc, &st);
    sg->x_end = st.x;
    sg->off = sg->x_end - base_value(m, idx, sg->e, dc);
}

/* Start value of segment i from what comes before it. */
static double seg_start_value(const cmee_market *m, size_t idx, int i, cmee__daycache *dc)
{
    const cmee__symbol *s = &m->syms[idx];
    const cmee__seg *sg = &s->segs[i];
    if (i > 0 && s->segs[i - 1].e == sg->s)
        return s->segs[i - 1].x_end;
    return base_value(m, idx, sg->s, dc) + gap_offset(s, sg->s);
}

void cmee__scen_refresh(const cmee_market *m, size_t idx)
{
    cmee__symbol *s = &m->syms[idx];
    cmee__daycache dc;
    dc.day = -1;
    for (size_t i = 0; i < s->nsegs; i++) {
        s->segs[i].x_start = seg_start_value(m, idx, (int)i, &dc);
        seg_finish(m, idx, (int)i, &dc);
    }
}

static void app_free(const cmee__alloc *al, app *a)
{
    cmee__free(al, a->p);
    cmee__free(al, a->ev);
}

void cmee__scen_free_all(cmee_market *m)
{
    for (size_t i = 0; i < m->napps; i++)
        app_free(&m->al, &m->apps[i]);
    cmee__free(&m->al, m->apps);
    m->apps = NULL;
    m->napps = m->capapps = 0;
}

/* ---- compiling a scenario --------------------------------------------------------------- */

static cmee_status compile(const cmee_market *m, const cmee_scenario *sc, app *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", sc->name);
    if (sc->nregimes) {
        a->p = cmee__calloc(&m->al, sc->nregimes, sizeof *a->p);
        if (!a->p)
            return CMEE_ENOMEM;
    }
    if (sc->nevents) {
        a->ev = cmee__calloc(&m->al, sc->nevents, sizeof *a->ev);
        if (!a->ev) {
            app_free(&m->al, a);
            return CMEE_ENOMEM;
        }
    }
    int64_t span = 0;
    for (size_t i = 0; i < sc->nregimes; i++) {
        const cmee_regime *r = &sc->regimes[i];
        tpiece *t = &a->p[a->np];
        t->g0 = ceil_minutes(r->start);
        t->g1 = ceil_minutes(r->end);
        if (t->g1 <= t->g0)
            continue; /* shorter than a minute boundary: acts on no minute */
        t->keep = r->drift_mode == CMEE_DRIFT_KEEP;
        double per = r->drift_mode == CMEE_DRIFT_SPAN ? (double)(t->g1 - t->g0) : MIN_PER_YEAR;
        t->d = t->keep ? 0.0 : log1p(r->drift) / per;
        t->mult = r->vol_mult;
        t->vmult = r->volume_mult;
        t->jrate = r->jump_rate / MIN_PER_YEAR;
        t->jmean = r->jump_mean;
        t->jsd = r->jump_stdev;
        if (r->revert_half_life > 0) {
            /* The hourly share is exact for a continuous reversion at this half-life. */
            double hl_hours = (double)r->revert_half_life / (double)CMEE__HOUR_MS;
            t->pull = -expm1(-M_LN2 / hl_hours) / 60.0;
            t->level = r->revert_to;
        }
        if (t->g1 > span)
            span = t->g1;
        a->np++;
    }
    for (size_t i = 0; i < sc->nevents; i++) {
        const cmee_event *e = &sc->events[i];
        tevent *t = &a->ev[a->nev];
        t->kind = e->kind;
        t->g0 = ceil_minutes(e->at);
        switch (e->kind) {
        case CMEE_EVENT_SHOCK:
            t->g1 = t->g0 + 1;
            t->lsize = log1p(e->size);
            break;
        case CMEE_EVENT_HALT:
        case CMEE_EVENT_TARGET:
            t->g1 = ceil_minutes(e->end);
            t->level = e->target;
            if (t->g1 <= t->g0)
                continue;
            break;
        case CMEE_EVENT_SPIKE:
            t->g1 = t->g0 + ceil_minutes(cmee__spike_span(e->size, e->half_life));
            t->excess = e->size - 1.0;
            t->inv_hl = (double)CMEE__MIN_MS / (double)e->half_life;
            if (t->g1 <= t->g0)
                continue;
            break;
        }
        if (t->g1 > span)
            span = t->g1;
        a->nev++;
    }
    a->span = span;
    return CMEE_OK;
}

/* ---- public API -------------------------------------------------------------------------- */

static bool applies(const cmee_scenario *sc, const char *name)
{
    if (sc->nsymbols == 0)
        return true;
    for (size_t i = 0; i < sc->nsymbols; i++)
        if (strncmp(sc->symbols[i], name, CMEE_SYMBOL_MAX) == 0)
            return true;
    return false;
}

static cmee_status reserve_seg(cmee_market *m, cmee__symbol *s)
{
    if (s->nsegs < s->capsegs)
        return CMEE_OK;
    size_t cap = s->capsegs ? 2 * s->capsegs : 4;
    cmee__seg *p = cmee__realloc(&m->al, s->segs, cap * sizeof *p);
    if (!p)
        return CMEE_ENOMEM;
    s->segs = p;
    s->capsegs = cap;
    return CMEE_OK;
}

/* End the last segment of symbol idx at minute g (its s <= g < e). */
static void truncate_last(cmee_market *m, size_t idx, int64_t g, cmee__daycache *dc)
{
    cmee__symbol *s = &m->syms[idx];
    cmee__seg *last = &s->segs[s->nsegs - 1];
    if (g == last->s) {
        s->nsegs--; /* superseded before it acted on any minute */
        return;
    }
    last->e = g;
    seg_finish(m, idx, (int)s->nsegs - 1, dc);
}

cmee_status cmee_scenario_apply(cmee_market *m, const cmee_scenario *sc, int64_t t0,
                                cmee_application_id *id)
{
    if (!m)
        return CMEE_EINVAL;
    m->version++; /* microstructure readers regenerate (lib/market/book.c) */
    if (!sc)
        return cmee__market_fail(m, CMEE_EINVAL, "scenario: must not be NULL");
    if (t0 < CMEE_TIME_MIN || t0 >= CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE, "t0: %lld is outside the series [%lld, %lld)",
                                 (long long)t0, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    int64_t g0 = ceil_minutes(t0 - CMEE_TIME_MIN);
    for (size_t i = 0; i < sc->nsymbols; i++) {
        bool found = false;
        for (size_t k = 0; k < m->nsyms && !found; k++)
            found = strncmp(m->syms[k].spec.symbol, sc->symbols[i], CMEE_SYMBOL_MAX) == 0;
        if (!found)
            return cmee__market_fail(m, CMEE_ENOTFOUND, "symbols[%zu]: unknown symbol \"%s\"", i,
                                     sc->symbols[i]);
    }
    app a;
    if (compile(m, sc, &a) != CMEE_OK)
        return cmee__market_fail(m, CMEE_ENOMEM, "out of memory applying scenario %s",
                                 sc->name);
    if (g0 + a.span >= SERIES_MINUTES) {
        app_free(&m->al, &a);
        return cmee__market_fail(m, CMEE_ERANGE,
                                 "t0: scenario %s applied at %lld would run past the series end",
                                 sc->name, (long long)t0);
    }
    cmee_status st = CMEE_OK;
    for (size_t k = 0; k < m->nsyms && st == CMEE_OK; k++) {
        cmee__symbol *s = &m->syms[k];
        if (!applies(sc, s->spec.symbol))
            continue;
        if (s->nsegs > 0 && g0 < s->segs[s->nsegs - 1].s)
            st = cmee__market_fail(m, CMEE_ESTATE,
                                   "t0: %lld is before the start of an earlier scenario on %s",
                                   (long long)t0, s->spec.symbol);
        else if (a.span > 0 && reserve_seg(m, s) != CMEE_OK)
            st = cmee__market_fail(m, CMEE_ENOMEM, "out of memory applying scenario %s",
                                   sc->name);
    }
    if (st == CMEE_OK && m->napps == m->capapps) {
        size_t cap = m->capapps ? 2 * m->capapps : 4;
        app *p = cmee__realloc(&m->al, m->apps, cap * sizeof *p);
        if (!p)
            st = cmee__market_fail(m, CMEE_ENOMEM, "out of memory applying scenario %s",
                                   sc->name);
        else {
            m->apps = p;
            m->capapps = cap;
        }
    }
    if (st != CMEE_OK) {
        app_free(&m->al, &a);
        return st;
    }

    /* Nothing can fail from here on. */
    a.id = ++m->next_app_id;
    a.t0 = g0;
    a.end = g0 + a.span;
    uint32_t ai = (uint32_t)m->napps;
    m->apps[m->napps++] = a;
    cmee__daycache dc;
    for (size_t k = 0; k < m->nsyms; k++) {
        cmee__symbol *s = &m->syms[k];
        if (!applies(sc, s->spec.symbol))
            continue;
        dc.day = -1;
        if (s->nsegs > 0 && g0 < s->segs[s->nsegs - 1].e) {
            app *prev = &m->apps[s->segs[s->nsegs - 1].app];
            if (prev->end > g0)
                prev->end = g0;
            truncate_last(m, k, g0, &dc);
        }
        if (a.span == 0)
            continue;
        int i = (int)s->nsegs;
        s->segs[i] = (cmee__seg){.app = ai, .s = g0, .e = g0 + a.span};
        s->nsegs++;
        s->segs[i].x_start = seg_start_value(m, k, i, &dc);
        seg_finish(m, k, i, &dc);
    }
    if (id)
        *id = a.id;
    return CMEE_OK;
}

static ptrdiff_t find_app(const cmee_market *m, cmee_application_id id)
{
    for (size_t i = 0; i < m->napps; i++)
        if (m->apps[i].id == id)
            return (ptrdiff_t)i;
    return -1;
}

cmee_status cmee_scenario_cancel(cmee_market *m, cmee_application_id id, int64_t t1)
{
    if (!m)
        return CMEE_EINVAL;
    m->version++;
    ptrdiff_t ai = find_app(m, id);
    if (ai < 0)
        return cmee__market_fail(m, CMEE_ENOTFOUND, "id: no scenario application %u", id);
    app *a = &m->apps[ai];
    if (t1 < CMEE_TIME_MIN)
        t1 = CMEE_TIME_MIN;
    int64_t g1 = t1 >= CMEE_TIME_MAX ? SERIES_MINUTES : ceil_minutes(t1 - CMEE_TIME_MIN);
    if (g1 < a->t0)
        return cmee__market_fail(m, CMEE_ESTATE,
                                 "t1: %lld is before the scenario %s was applied (%lld)",
                                 (long long)t1, a->name,
                                 (long long)(CMEE_TIME_MIN + a->t0 * CMEE__MIN_MS));
    if (g1 >= a->end)
        return CMEE_OK;
    a->end = g1;
    cmee__daycache dc;
    for (size_t k = 0; k < m->nsyms; k++) {
        cmee__symbol *s = &m->syms[k];
        if (s->nsegs == 0 || s->segs[s->nsegs - 1].app != (uint32_t)ai)
            continue; /* only a symbol's last segment can still be acting */
        if (g1 < s->segs[s->nsegs - 1].e) {
            dc.day = -1;
            truncate_last(m, k, g1, &dc);
        }
    }
    return CMEE_OK;
}

size_t cmee_scenario_application_count(const cmee_market *m)
{
    return m ? m->napps : 0;
}

cmee_status cmee_scenario_application_at(const cmee_market *m, size_t i, cmee_application *out)
{
    if (!m || !out)
        return CMEE_EINVAL;
    if (i >= m->napps)
        return cmee__market_fail(m, CMEE_ERANGE, "index: %zu, there are %zu applications", i,
                                 m->napps);
    const app *a = &m->apps[i];
    memset(out, 0, sizeof *out);
    out->id = a->id;
    snprintf(out->name, sizeof out->name, "%s", a->name);
    out->t0 = CMEE_TIME_MIN + a->t0 * CMEE__MIN_MS;
    out->end = CMEE_TIME_MIN + a->end * CMEE__MIN_MS;
    return CMEE_OK;
}

cmee_status cmee_market_halted(const cmee_market *m, const char *symbol, int64_t t, bool *halted)
{
    if (!m)
        return CMEE_EINVAL;
    if (!symbol || !halted)
        return cmee__market_fail(m, CMEE_EINVAL, "symbol, halted: must not be NULL");
    const cmee__symbol *s = NULL;
    for (size_t k = 0; k < m->nsyms && !s; k++)
        if (strncmp(m->syms[k].spec.symbol, symbol, CMEE_SYMBOL_MAX) == 0)
            s = &m->syms[k];
    if (!s)
        return cmee__market_fail(m, CMEE_ENOTFOUND, "symbol: unknown symbol \"%.*s\"",
                                 CMEE_SYMBOL_MAX, symbol);
    if (t < CMEE_TIME_MIN || t >= CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE, "t: %lld is outside the series [%lld, %lld)",
                                 (long long)t, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    int64_t g = (t - CMEE_TIME_MIN) / CMEE__MIN_MS;
    bool h = false;
    int i = seg_at(s, g);
    if (i >= 0) {
        const app *a = &m->apps[s->segs[i].app];
        int64_t r = g - s->segs[i].s;
        for (size_t j = 0; j < a->nev; j++)
            if (a->ev[j].kind == CMEE_EVENT_HALT && a->ev[j].g0 <= r && r < a->ev[j].g1)
                h = true;
    }
    *halted = h;
    return CMEE_OK;
}
