/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The generator engine. The log price of a symbol is
 *
 *   X(t) = log P0 + mu_adj (t - ta) - V(t)/2 + W(V(t)) + J(t)    (each relative to the anchor ta)
 *
 * where V is the variance clock (sigma^2 t without clustering), W a standard Brownian motion run
 * on that clock and J a compound-Poisson jump sum. Everything is built top-down from
 * counter-keyed random streams:
 *
 *   day tree   a binary tree over 2^16 days: each split draws the midpoint of W from its Brownian
 *              bridge, splits the variance mass (cascade weights when clustering is on) and the
 *              jumps (binomial count, Gaussian-bridge sum).
 *   day        24 hour boundaries from a bridge pinned at the day's two ends.
 *   hour       60 minute boundaries the same way; then each minute's high and low from the
 *              Brownian-bridge extremes given its open and close, and its volume.
 *
 * A bridge is drawn as a free walk plus a correction proportional to the variance clock, which
 * for Gaussian increments is exactly the Brownian bridge. Every value is a pure function of its
 * stream, and every boundary value is computed in exactly one place, so a candle never depends
 * on which other candles were asked for.
 */
#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "market/market_int.h"

#define ROOT_LEVEL 200 /* level number of the root's right endpoint stream */

/*
 * High and low of a 1m candle each come from their exact bridge-extreme marginal. Drawn
 * independently they overstate E[(ln H/L)^2] by 2.7 %, drawn antithetically they understate
 * it by 2.2 %; mixing the two with probability 0.5444 for the antithetic draw makes the
 * Parkinson estimator unbiased (docs/market.md). 139 / 256 = 0.543.
 */
#define ANTITHETIC_OF_256 139u

/* -ln u for the smallest uniform cmee__u32() can give, (0 + 0.5) / 2^32, is 22.87. */
#define MAX_NEG_LOG_U 23.0

static const double SQRT_2_OVER_PI = 0.79788456080286535588;

static void raw_normals(const uint32_t key[2], unsigned purpose, unsigned level, uint32_t index,
                        size_t n, double *out)
{
    cmee__stream st;
    cmee__stream_seek(&st, key, purpose, level, index);
    gsl_rng r = cmee__stream_gsl(&st);
    for (size_t i = 0; i < n; i++)
        out[i] = gsl_ran_gaussian_ziggurat(&r, 1.0);
}

/* Standard normals of a Brownian stream, correlated across the symbol's group if it has one.
 * n <= 60. */
static void normals(const cmee_market *m, const cmee__symbol *s, unsigned purpose, unsigned level,
                    uint32_t index, size_t n, double *out)
{
    if (s->group < 0) {
        raw_normals(s->key, purpose, level, index, n, out);
        return;
    }
    const cmee__group *g = &m->groups[s->group];
    const double *row = &g->chol[s->member * CMEE__GROUP_MAX];
    double tmp[64];
    for (size_t i = 0; i < n; i++)
        out[i] = 0.0;
    for (int j = 0; j <= s->member; j++) {
        raw_normals(m->syms[g->sym[j]].key, purpose, level, index, n, tmp);
        for (size_t i = 0; i < n; i++)
            out[i] += row[j] * tmp[i];
    }
}

/* Value of the unpinned process at a tree boundary. */
typedef struct bval {
    double w, v, js;
    int64_t jn;
} bval;

/* A tree node: its two boundaries, its variance mass and its jumps. */
typedef struct tnode {
    bval l, r;
    double mass;
    int64_t n;
    double sum;
} tnode;

/* Split @p n jumps with total log size @p sum into a part with probability @p p and the rest,
 * given the jump-size law N(mean, sd^2): binomial count, then the sum from its Gaussian bridge. */
static void split_jumps(gsl_rng *r, const cmee__symbol *s, int64_t n, double sum, double p,
                        int64_t *n_left, double *sum_left)
{
    if (n <= 0) {
        *n_left = 0;
        *sum_left = 0.0;
        return;
    }
    int64_t nl = (int64_t)gsl_ran_binomial(r, p, (unsigned)n);
    double mean = s->spec.jump_mean, sd = s->spec.jump_stdev;
    if (nl == 0) {
        *sum_left = 0.0;
    } else if (nl == n) {
        *sum_left = sum;
    } else {
        double z = gsl_ran_gaussian_ziggurat(r, 1.0);
        double dn = (double)n, dl = (double)nl;
        *sum_left = dl * mean + (dl / dn) * (sum - dn * mean) + sd * sqrt(dl * (dn - dl) / dn) * z;
    }
    *n_left = nl;
}

static void tree_root(const cmee_market *m, const cmee__symbol *s, tnode *t)
{
    double years = (double)CMEE__DAYS / CMEE__YEAR_DAYS;
    double z;
    memset(t, 0, sizeof *t);
    t->mass = s->var_year * years;
    normals(m, s, CMEE__P_TREE_W, ROOT_LEVEL, 0, 1, &z);
    t->r.w = sqrt(t->mass) * z;
    t->r.v = t->mass;
    if (s->spec.jump_rate > 0) {
        cmee__stream st;
        cmee__stream_seek(&st, s->key, CMEE__P_TREE_J, ROOT_LEVEL, 0);
        gsl_rng r = cmee__stream_gsl(&st);
        int64_t n = (int64_t)gsl_ran_poisson(&r, s->spec.jump_rate * years);
        double zj = gsl_ran_gaussian_ziggurat(&r, 1.0);
        t->n = n;
        t->sum = (double)n * s->spec.jump_mean + s->spec.jump_stdev * sqrt((double)n) * zj;
        t->r.jn = t->n;
        t->r.js = t->sum;
    }
}

static void tree_split(const cmee_market *m, const cmee__symbol *s, unsigned level,
                       uint32_t index, const tnode *t, tnode *left, tnode *right)
{
    double wl = 0.5;
    if (s->spec.clustering > 0 && level >= CMEE__CASCADE_TOP_LEVEL) {
        double g[2];
        raw_normals(s->key, CMEE__P_TREE_C, level, index, 2, g);
        wl = 1.0 / (1.0 + exp(s->lambda_bin * (g[1] - g[0])));
    }
    double ml = t->mass * wl, mr = t->mass - ml;
    double z;
    normals(m, s, CMEE__P_TREE_W, level, index, 1, &z);
    bval mid;
    mid.w = t->l.w + (t->r.w - t->l.w) * (ml / t->mass) + sqrt(ml * mr / t->mass) * z;
    mid.v = t->l.v + ml;
    int64_t nl = 0;
    double sl = 0.0;
    if (t->n > 0) {
        cmee__stream st;
        cmee__stream_seek(&st, s->key, CMEE__P_TREE_J, level, index);
        gsl_rng r = cmee__stream_gsl(&st);
        split_jumps(&r, s, t->n, t->sum, 0.5, &nl, &sl);
    }
    mid.jn = t->l.jn + nl;
    mid.js = t->l.js + sl;
    *left = (tnode){t->l, mid, ml, nl, sl};
    *right = (tnode){mid, t->r, mr, t->n - nl, t->sum - sl};
}

/* The leaf of day @p d (0 <= d < 2^16): 16 splits from the root. */
static void tree_leaf(const cmee_market *m, const cmee__symbol *s, int64_t d, tnode *out)
{
    tnode t;
    uint32_t index = 0;
    tree_root(m, s, &t);
    for (unsigned level = 0; level < CMEE__DAYS_LOG2; level++) {
        tnode l, r;
        tree_split(m, s, level, index, &t, &l, &r);
        unsigned bit = (unsigned)(d >> (CMEE__DAYS_LOG2 - 1 - level)) & 1u;
        t = bit ? r : l;
        index = index * 2 + bit;
    }
    *out = t;
}

static const int64_t ANCHOR_DAY = (CMEE_ANCHOR_TIME - CMEE_TIME_MIN) / CMEE__DAY_MS;

void cmee__symbol_pin(const cmee_market *m, size_t idx)
{
    cmee__symbol *s = &m->syms[idx];
    tnode t;
    tree_leaf(m, s, ANCHOR_DAY, &t);
    s->pin_w = t.l.w;
    s->pin_v = t.l.v;
    s->pin_js = t.l.js;
    cmee__scen_refresh(m, idx); /* the base path moved: so did where scenarios leave it */
}

/* Pinned log price at the boundary starting day @p day. */
static double xval(const cmee__symbol *s, int64_t day, const bval *b)
{
    double years = (double)(day - ANCHOR_DAY) / CMEE__YEAR_DAYS;
    return s->log_p0 + s->mu_adj * years - 0.5 * (b->v - s->pin_v) + (b->w - s->pin_w) +
           (b->js - s->pin_js);
}

/*
 * Fill x[0..n] with a bridge from x0 to x1 over n steps of variance mass[k], deterministic
 * increment drift - mass/2 and jump sum js[k]: a free walk corrected in proportion to the
 * variance clock. x[0] and x[n] are set to x0 and x1 exactly, so neighbouring blocks share
 * their boundary values bit for bit.
 */
static void bridge(size_t n, double x0, double x1, const double *mass, double drift,
                   const double *js, const double *z, double *x)
{
    double walk[61], clock[61];
    walk[0] = 0.0;
    clock[0] = 0.0;
    bool flat = true;
    for (size_t k = 1; k < n && flat; k++)
        flat = mass[k] == mass[0];
    double sd0 = sqrt(mass[0]);
    for (size_t k = 0; k < n; k++) {
        double sd = flat ? sd0 : sqrt(mass[k]);
        double e = drift - 0.5 * mass[k] + sd * z[k] + (js ? js[k] : 0.0);
        walk[k + 1] = walk[k] + e;
        clock[k + 1] = clock[k] + mass[k];
    }
    double resid = (walk[n] - (x1 - x0)) / clock[n];
    x[0] = x0;
    for (size_t k = 1; k < n; k++)
        x[k] = x0 + walk[k] - clock[k] * resid;
    x[n] = x1;
}

/* Split @p total variance into n parts with cascade weights exp(lambda g) (and optional
 * inverse-chi-squared tail weights), normalised so the parts sum to the total. */
static void split_mass(const cmee__symbol *s, unsigned purpose, uint32_t index, size_t n,
                       double total, double lambda, bool tails, double *mass)
{
    if (!(lambda > 0) && !tails) {
        for (size_t k = 0; k < n; k++)
            mass[k] = total / (double)n;
        return;
    }
    cmee__stream st;
    cmee__stream_seek(&st, s->key, purpose, 0, index);
    gsl_rng r = cmee__stream_gsl(&st);
    double sum = 0.0;
    for (size_t k = 0; k < n; k++) {
        double c = 1.0;
        if (lambda > 0)
            c = exp(lambda * gsl_ran_gaussian_ziggurat(&r, 1.0));
        if (tails) {
            /* A 1m return with variance (nu - 2) / chi2(nu) times the mean is Student-t. */
            double nu = s->spec.tail_dof;
            c *= (nu - 2.0) / gsl_ran_chisq(&r, nu);
        }
        mass[k] = c;
        sum += c;
    }
    for (size_t k = 0; k < n; k++)
        mass[k] = total * (mass[k] / sum);
}

/* Split n jumps with total @p sum evenly over @p cells cells. */
static void split_jumps_cells(gsl_rng *r, const cmee__symbol *s, int64_t n, double sum,
                              size_t cells, int64_t *jn, double *js)
{
    for (size_t k = 0; k < cells; k++) {
        if (k + 1 == cells) {
            jn[k] = n;
            js[k] = n ? sum : 0.0;
            break;
        }
        split_jumps(r, s, n, sum, 1.0 / (double)(cells - k), &jn[k], &js[k]);
        n -= jn[k];
        sum -= js[k];
    }
}

static void day_frame(const cmee_market *m, const cmee__symbol *s, int64_t d, cmee__daycache *dc)
{
    tnode t;
    tree_leaf(m, s, d, &t);
    double x0 = xval(s, d, &t.l), x1 = xval(s, d + 1, &t.r);
    split_mass(s, CMEE__P_DAY_C, (uint32_t)d, 24, t.mass, s->lambda_day, false, dc->mass);
    memset(dc->jn, 0, sizeof dc->jn);
    memset(dc->js, 0, sizeof dc->js);
    if (t.n > 0) {
        cmee__stream st;
        cmee__stream_seek(&st, s->key, CMEE__P_DAY_J, 0, (uint32_t)d);
        gsl_rng r = cmee__stream_gsl(&st);
        split_jumps_cells(&r, s, t.n, t.sum, 24, dc->jn, dc->js);
    }
    double z[24];
    normals(m, s, CMEE__P_DAY_W, 0, (uint32_t)d, 24, z);
    double drift = s->mu_adj / (24.0 * CMEE__YEAR_DAYS);
    bridge(24, x0, x1, dc->mass, drift, dc->js, z, dc->x);
    dc->day = d;
}

/* Upper (sign +1) or lower (sign -1) extreme of a Brownian bridge from a to b with variance
 * mass, given a uniform u: the exact inverse of P(max > h) = exp(-2 (h-a)(h-b) / mass). */
static inline double extreme(double a, double b, double mass, double u, double sign)
{
    return cmee__bridge_extreme(a, b, mass, u, sign);
}

/* High and low of a minute that contains a jump of size j: the bridge is cut at a uniform time
 * into two pieces with their own extremes. */
/* Rounding can leave an extreme a hair inside the open or close; never let it. */
void cmee__hour_clamp(cmee__hour *h, int k)
{
    double a = h->x[k], b = h->x[k + 1];
    double top = a > b ? a : b, bottom = a < b ? a : b;
    if (!(h->hi[k] > top))
        h->hi[k] = top;
    if (!(h->lo[k] < bottom))
        h->lo[k] = bottom;
    h->known[k] = true;
}

static void jump_minute(gsl_rng *r, double a, double b, double mass, double j, double *hi,
                        double *lo)
{
    double u = gsl_rng_uniform_pos(r);
    double z = gsl_ran_gaussian_ziggurat(r, 1.0);
    double y = a + u * (b - j - a) + sqrt(mass * u * (1.0 - u)) * z; /* just before the jump */
    double m1 = mass * u, m2 = mass * (1.0 - u);
    double h1 = extreme(a, y, m1, gsl_rng_uniform_pos(r), 1.0);
    double l1 = extreme(a, y, m1, gsl_rng_uniform_pos(r), -1.0);
    double h2 = extreme(y + j, b, m2, gsl_rng_uniform_pos(r), 1.0);
    double l2 = extreme(y + j, b, m2, gsl_rng_uniform_pos(r), -1.0);
    *hi = h1 > h2 ? h1 : h2;
    *lo = l1 < l2 ? l1 : l2;
}

void cmee__engine_day(const cmee_market *m, size_t idx, int64_t day, cmee__daycache *dc)
{
    if (dc->day != day)
        day_frame(m, &m->syms[idx], day, dc);
}

void cmee__engine_hour_base(const cmee_market *m, size_t idx, int64_t hour, cmee__daycache *dc,
                            cmee__hour *out)
{
    const cmee__symbol *s = &m->syms[idx];
    int64_t d = hour / 24;
    int h = (int)(hour % 24);
    if (dc->day != d)
        day_frame(m, s, d, dc);

    double x0 = dc->x[h], x1 = dc->x[h + 1];
    bool tails = s->spec.tail_dof > 0;
    split_mass(s, CMEE__P_HOUR_C, (uint32_t)hour, 60, dc->mass[h], s->lambda_hour, tails,
               out->mass);

    int64_t jn[60];
    double js[60];
    bool jumps = dc->jn[h] > 0;
    cmee__stream jst;
    gsl_rng jr = cmee__stream_gsl(&jst);
    if (jumps) {
        cmee__stream_seek(&jst, s->key, CMEE__P_HOUR_J, 0, (uint32_t)hour);
        split_jumps_cells(&jr, s, dc->jn[h], dc->js[h], 60, jn, js);
    }

    double z[60];
    normals(m, s, CMEE__P_HOUR_W, 0, (uint32_t)hour, 60, z);
    double drift = s->mu_adj / (1440.0 * CMEE__YEAR_DAYS);
    bridge(60, x0, x1, out->mass, drift, jumps ? js : NULL, z, out->x);

    /* One word a minute from 15 Philox blocks: antithetic coin, volume, and the top 8 bits of
     * the high's and the low's uniforms. The rest of those uniforms waits until a fold or a 1m
     * candle needs it. */
    for (uint32_t c = 0; c < 15; c++)
        cmee__philox_block(s->key, CMEE__P_HOUR_V, 0, (uint32_t)hour, c, &out->cv[4 * c]);
    out->drawn = 0;
    out->key[0] = s->key[0];
    out->key[1] = s->key[1];
    out->index = (uint32_t)hour;
    out->halted = 0;
    out->vscaled = false;

    for (int k = 0; k < 60; k++) {
        uint32_t bits = out->cv[k];
        out->anti[k] = (bits & 0xffu) < ANTITHETIC_OF_256;
        out->ch[k] = (uint8_t)(bits >> 16);
        /* 1 - u has top bits 255 - top bits of u. */
        out->cl[k] = out->anti[k] ? (uint8_t)(255u - out->ch[k]) : (uint8_t)(bits >> 24);
        out->known[k] = false;
        if (jumps && jn[k] > 0) {
            jump_minute(&jr, out->x[k], out->x[k + 1], out->mass[k], js[k], &out->hi[k],
                        &out->lo[k]);
            cmee__hour_clamp(out, k);
        }
    }
}

void cmee__engine_hour_volume(const cmee_market *m, size_t idx, cmee__hour *out)
{
    const cmee__symbol *s = &m->syms[idx];
    double vmean = s->spec.volume;
    double inv_sd = 1.0 / (s->sd_min * SQRT_2_OVER_PI);
    for (int k = 0; k < 60; k++) {
        /* Volume grows with the size of the move (so it follows volatility) around its mean;
         * a halted minute trades nothing. */
        double move = fabs(out->x[k + 1] - out->x[k]) * inv_sd;
        if (move > 100.0)
            move = 100.0;
        double uv = ((double)((out->cv[k] >> 8) & 0xffu) + 0.5) * (1.0 / 256.0);
        double mean = out->vscaled ? vmean * out->vmult[k] : vmean;
        out->vol[k] = (out->halted >> k) & 1u ? 0
                                              : (int64_t)(mean * (0.5 + 0.5 * move) * (0.5 + uv) + 0.5);
    }
}

void cmee__engine_hour(const cmee_market *m, size_t idx, int64_t hour, cmee__daycache *dc,
                       cmee__scur *cur, cmee__hour *out)
{
    cmee__engine_hour_base(m, idx, hour, dc, out);
    if (m->syms[idx].nsegs > 0 && cur)
        cmee__scen_hour(m, idx, hour, dc, cur, out);
    cmee__engine_hour_volume(m, idx, out);
}

/* Make sure the uniforms of minute k (and its pair) are drawn. */
void cmee__hour_uniforms(cmee__hour *h, int k)
{
    int j = k / 2;
    if (h->drawn & (UINT32_C(1) << j))
        return;
    uint32_t w[4];
    cmee__philox_block(h->key, CMEE__P_HOUR_X, 0, h->index, (uint32_t)j, w);
    for (int i = 0; i < 2; i++) {
        int m = 2 * j + i;
        h->uh[m] = cmee__u32(((uint32_t)h->ch[m] << 24) | (w[2 * i] >> 8));
        h->ul[m] = h->anti[m] ? 1.0 - h->uh[m]
                              : cmee__u32(((uint32_t)h->cl[m] << 24) | (w[2 * i + 1] >> 8));
    }
    h->drawn |= UINT32_C(1) << j;
}

void cmee__hour_extremes(cmee__hour *h, int k)
{
    if (h->known[k])
        return;
    cmee__hour_uniforms(h, k);
    double a = h->x[k], b = h->x[k + 1];
    h->hi[k] = extreme(a, b, h->mass[k], h->uh[k], 1.0);
    h->lo[k] = extreme(a, b, h->mass[k], h->ul[k], -1.0);
    cmee__hour_clamp(h, k);
}

/*
 * Can a bridge extreme reach beyond a level at distance c = 2 level - a - b? It does iff
 * -ln u > r = (c^2 - d^2) / (2 mass). Two tests, both without a logarithm, use
 * -ln u <= (1 - v^2) / (2 v) for any 0 < v <= u: first with v from the top 8 bits of u (no
 * draw needed), then with u itself. The level is moved 1e-12 towards the bridge, so a skipped
 * extreme lies below the true level by far more than rounding error, and the fold gives exactly
 * the values a full computation would.
 */
static inline double reach_margin(double c, double d)
{
    return c > 0 ? c * c - d * d : -1.0; /* 2 mass r */
}

static inline bool beyond_coarse_u(double q, double mass, uint8_t top)
{
    if (!(q > 0))
        return false;
    if (top == 0)
        return q > 2.0 * mass * MAX_NEG_LOG_U;
    double v = (double)top * (1.0 / 256.0);
    return q * v > mass * (1.0 - v) * (1.0 + v);
}

static inline bool beyond_this_u(double q, double mass, double u)
{
    return q > 0 && (1.0 - u) * (1.0 + u) * mass < q * u;
}

void cmee__hour_fold_span(cmee__hour *h, int k0, int k1, double *max, double *min, int64_t *vol)
{
    const double margin = 1e-12;
    double hi = *max, lo = *min;
    int64_t v = *vol;
    /* Boundary prices and volumes first, so the running high and low are as far out as they
     * can be before any extreme is examined. */
    for (int i = k0; i < k1; i++) {
        double xb = h->x[i + 1];
        hi = xb > hi ? xb : hi;
        lo = xb < lo ? xb : lo;
        v += h->vol[i];
    }
    for (int i = k0; i < k1; i++) {
        if (!h->known[i]) {
            double a = h->x[i], b = h->x[i + 1], sum = a + b, d = b - a, mass = h->mass[i];
            double qh = reach_margin(2.0 * (hi - margin) - sum, d);
            double ql = reach_margin(sum - 2.0 * (lo + margin), d);
            if (beyond_coarse_u(qh, mass, h->ch[i]) && beyond_coarse_u(ql, mass, h->cl[i]))
                continue;
            cmee__hour_uniforms(h, i);
            if (beyond_this_u(qh, mass, h->uh[i]) && beyond_this_u(ql, mass, h->ul[i]))
                continue;
            cmee__hour_extremes(h, i);
        }
        hi = h->hi[i] > hi ? h->hi[i] : hi;
        lo = h->lo[i] < lo ? h->lo[i] : lo;
    }
    *max = hi;
    *min = lo;
    *vol = v;
}

double cmee__price(const cmee__symbol *s, double x)
{
    double q = exp(x) * s->inv_tick;
    double k;
    if (!(q >= 1.0))
        k = 1.0; /* prices stay at least one tick */
    else if (!(q < s->kmax))
        k = s->kmax;
    else
        k = floor(q + 0.5);
    /* k * tick_units is an exact integer, and one correctly rounded division by a power of ten
     * gives the double nearest to the decimal price (67234.51, not 67234.509999999995). */
    return (k * (double)s->tick_units) / s->pow10;
}
