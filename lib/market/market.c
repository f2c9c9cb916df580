/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The public market API: registry, validation, correlation groups and queries. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "market/market_int.h"

/* ---- names ---------------------------------------------------------------------------- */

static const struct {
    cmee_timeframe tf;
    const char *name;
} tf_names[] = {
    {CMEE_TF_1M, "1m"}, {CMEE_TF_5M, "5m"}, {CMEE_TF_15M, "15m"},
    {CMEE_TF_1H, "1h"}, {CMEE_TF_4H, "4h"}, {CMEE_TF_1D, "1d"},
};

cmee_status cmee_timeframe_parse(const char *name, cmee_timeframe *out)
{
    if (!name || !out)
        return CMEE_EINVAL;
    for (size_t i = 0; i < sizeof tf_names / sizeof tf_names[0]; i++) {
        if (strcmp(name, tf_names[i].name) == 0) {
            *out = tf_names[i].tf;
            return CMEE_OK;
        }
    }
    return CMEE_EINVAL;
}

const char *cmee_timeframe_name(cmee_timeframe tf)
{
    for (size_t i = 0; i < sizeof tf_names / sizeof tf_names[0]; i++)
        if (tf_names[i].tf == tf)
            return tf_names[i].name;
    return NULL;
}

int64_t cmee_timeframe_ms(cmee_timeframe tf)
{
    return cmee_timeframe_name(tf) ? (int64_t)tf * CMEE__MIN_MS : 0;
}

static const char *const class_names[] = {"crypto", "fx",        "metal", "index",
                                          "stock",  "commodity", "other"};
#define NCLASSES (sizeof class_names / sizeof class_names[0])

const char *cmee_asset_class_name(cmee_asset_class cls)
{
    return (unsigned)cls < NCLASSES ? class_names[cls] : NULL;
}

cmee_status cmee_asset_class_parse(const char *name, cmee_asset_class *out)
{
    if (!name || !out)
        return CMEE_EINVAL;
    for (size_t i = 0; i < NCLASSES; i++) {
        if (strcmp(name, class_names[i]) == 0) {
            *out = (cmee_asset_class)i;
            return CMEE_OK;
        }
    }
    return CMEE_EINVAL;
}

size_t cmee_sizeof_candle(void)
{
    return sizeof(cmee_candle);
}

size_t cmee_sizeof_tick(void)
{
    return sizeof(cmee_tick);
}

size_t cmee_sizeof_symbol_spec(void)
{
    return sizeof(cmee_symbol_spec);
}

/* ---- errors --------------------------------------------------------------------------- */

cmee_status cmee__market_fail(const cmee_market *m, cmee_status st, const char *fmt, ...)
{
    /* The message buffer is the one mutable part of a market that queries touch; the lock lets
     * concurrent failing queries each leave a whole message. */
    cmee_market *mm = (cmee_market *)m;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&mm->errlock);
    cmee__vfmt(mm->errmsg, sizeof mm->errmsg, fmt, ap);
    pthread_mutex_unlock(&mm->errlock);
    va_end(ap);
    return st;
}

const char *cmee_market_errmsg(const cmee_market *m)
{
    if (!m)
        return "market is NULL";
    return m->errmsg;
}

size_t cmee_market_errmsg_copy(const cmee_market *m, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return 0;
    if (!m) {
        cmee__fmt(buf, cap, "%s", cmee_market_errmsg(m));
        return strlen(cmee_market_errmsg(m));
    }
    cmee_market *mm = (cmee_market *)m;
    pthread_mutex_lock(&mm->errlock);
    size_t n = strlen(mm->errmsg);
    cmee__fmt(buf, cap, "%s", mm->errmsg);
    pthread_mutex_unlock(&mm->errlock);
    return n;
}

/* ---- symbols -------------------------------------------------------------------------- */

static double level_share(double octaves)
{
    /* Every octave of time scale from 64 days down to one minute gets the same share of the
     * log-variance: 6 binary splits, 24 hours (4.58 octaves) and 60 minutes (5.91 octaves). */
    double total = 6.0 + log2(24.0) + log2(60.0);
    return sqrt(octaves / total);
}

void cmee__symbol_derive(cmee__symbol *s, uint64_t seed)
{
    const cmee_symbol_spec *p = &s->spec;
    cmee__rng_key(seed, p->symbol, s->key);
    s->pow10 = pow(10.0, p->precision);
    s->tick_units = (int64_t)llround(p->tick_size * s->pow10);
    s->inv_tick = s->pow10 / (double)s->tick_units;
    s->kmax = floor(4503599627370496.0 / (double)s->tick_units); /* 2^52 / tick_units */
    s->log_p0 = log(p->seed_price);
    s->var_year = p->volatility * p->volatility;
    double kappa = exp(p->jump_mean + 0.5 * p->jump_stdev * p->jump_stdev) - 1.0;
    s->mu_adj = p->drift - p->jump_rate * kappa;
    s->sd_min = p->volatility * sqrt(1.0 / (1440.0 * CMEE__YEAR_DAYS));
    /* Size quantum of trades and books (cmee_market_size_quantum()): 2^-qlog2. */
    s->qlog2 = 0;
    while (s->qlog2 < 20 && ldexp(p->volume, s->qlog2) < 4.0 * p->ticks_per_minute)
        s->qlog2++;
    s->e_min = (s->mu_adj - 0.5 * s->var_year + p->jump_rate * p->jump_mean) /
               (1440.0 * CMEE__YEAR_DAYS);
    /* The log of a weight exp(l g_i) / sum_j exp(l g_j) has variance about l^2 (1 - 1/k) for k
     * parts, and a binary weight 1 / (1 + exp(l (g1 - g0))) about l^2 / 2: scale each level so
     * that every octave of time scale adds the same share of clustering^2. */
    s->lambda_bin = p->clustering * level_share(1.0) * M_SQRT2;
    s->lambda_day = p->clustering * level_share(log2(24.0)) / sqrt(1.0 - 1.0 / 24.0);
    s->lambda_hour = p->clustering * level_share(log2(60.0)) / sqrt(1.0 - 1.0 / 60.0);
}

static bool valid_name(const char *name, size_t cap)
{
    size_t n = strnlen(name, cap);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

static cmee_status validate_spec(const cmee_market *m, const cmee_symbol_spec *p)
{
#define BAD(...) return cmee__market_fail(m, CMEE_EINVAL, __VA_ARGS__)
    if (!valid_name(p->symbol, sizeof p->symbol))
        BAD("symbol: must be 1 to 15 characters from A-Z 0-9 . - _, got \"%.*s\"",
            (int)sizeof p->symbol, p->symbol);
    if (!cmee_asset_class_name(p->asset_class))
        BAD("asset_class: unknown class %d", (int)p->asset_class);
    if (p->precision < 0 || p->precision > 10)
        BAD("precision: must be in [0, 10], got %d", p->precision);
    if (!(p->tick_size > 0) || !isfinite(p->tick_size))
        BAD("tick_size: must be > 0, got %g", p->tick_size);
    double units = p->tick_size * pow(10.0, p->precision);
    if (units < 0.5 || units > 1e12 || fabs(units - round(units)) > 1e-6 * round(units))
        BAD("tick_size: must be a whole multiple of 10^-%d, got %g", p->precision, p->tick_size);
    if (!(p->seed_price >= p->tick_size) || !(p->seed_price <= 1e12))
        BAD("seed_price: must be in [tick_size, 1e12], got %g", p->seed_price);
    /* The series passes through the seed price exactly, and prices lie on the tick grid. */
    double ticks = p->seed_price * pow(10.0, p->precision) / round(units);
    if (ticks > 4e15)
        BAD("seed_price: %g is more than 4e15 ticks of %g", p->seed_price, p->tick_size);
    if (fabs(ticks - round(ticks)) > fmax(1e-6, ticks * 1e-14))
        BAD("seed_price: must be a whole multiple of tick_size %g, got %.*f", p->tick_size,
            p->precision + 3, p->seed_price);
    if (!(p->volatility > 0 && p->volatility <= 3))
        BAD("volatility: must be in (0, 3], got %g", p->volatility);
    if (!(p->drift >= -2 && p->drift <= 2))
        BAD("drift: must be in [-2, 2], got %g", p->drift);
    if (!(p->volume >= 1 && p->volume <= 1e9))
        BAD("volume: must be in [1, 1e9], got %g", p->volume);
    if (p->ticks_per_minute < 4 || p->ticks_per_minute > 600)
        BAD("ticks_per_minute: must be in [4, 600], got %d", p->ticks_per_minute);
    if (!(p->tail_dof == 0 || (p->tail_dof > 2 && p->tail_dof <= 100)))
        BAD("tail_dof: must be 0 (off) or in (2, 100], got %g", p->tail_dof);
    if (!(p->clustering >= 0 && p->clustering <= 2))
        BAD("clustering: must be in [0, 2], got %g", p->clustering);
    if (!(p->jump_rate >= 0 && p->jump_rate <= 1000))
        BAD("jump_rate: must be in [0, 1000], got %g", p->jump_rate);
    if (!(p->jump_mean >= -1 && p->jump_mean <= 1))
        BAD("jump_mean: must be in [-1, 1], got %g", p->jump_mean);
    if (!(p->jump_stdev >= 0 && p->jump_stdev <= 1))
        BAD("jump_stdev: must be in [0, 1], got %g", p->jump_stdev);
#undef BAD
    return CMEE_OK;
}

static ptrdiff_t find_symbol(const cmee_market *m, const char *name)
{
    for (size_t i = 0; i < m->nsyms; i++)
        if (strncmp(m->syms[i].spec.symbol, name, CMEE_SYMBOL_MAX) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static cmee_status lookup(const cmee_market *m, const char *name, size_t *idx)
{
    ptrdiff_t i = find_symbol(m, name);
    if (i < 0)
        return cmee__market_fail(m, CMEE_ENOTFOUND, "symbol: unknown symbol \"%.*s\"",
                                 CMEE_SYMBOL_MAX, name);
    *idx = (size_t)i;
    return CMEE_OK;
}

cmee_status cmee__market_lookup(const cmee_market *m, const char *symbol, size_t *idx)
{
    if (!symbol)
        return cmee__market_fail(m, CMEE_EINVAL, "symbol: must not be NULL");
    return lookup(m, symbol, idx);
}

static cmee_status add_or_replace(cmee_market *m, const cmee_symbol_spec *spec)
{
    cmee__symbol s;
    memset(&s, 0, sizeof s);
    s.spec = *spec;
    s.group = -1;
    ptrdiff_t at = find_symbol(m, spec->symbol);
    if (at >= 0) {
        s.group = m->syms[at].group;
        s.member = m->syms[at].member;
        s.segs = m->syms[at].segs;
        s.nsegs = m->syms[at].nsegs;
        s.capsegs = m->syms[at].capsegs;
        s.spread = m->syms[at].spread;
    } else if (m->nsyms == m->capsyms) {
        size_t cap = m->capsyms ? m->capsyms * 2 : 32;
        cmee__symbol *p = cmee__realloc(&m->al, m->syms, cap * sizeof *p);
        if (!p)
            return cmee__market_fail(m, CMEE_ENOMEM, "out of memory adding symbol %s",
                                     spec->symbol);
        m->syms = p;
        m->capsyms = cap;
    }
    if (at < 0)
        cmee_spread_spec_default(spec->asset_class, &s.spread);
    m->version++;
    cmee__symbol_derive(&s, m->seed);
    size_t idx = at >= 0 ? (size_t)at : m->nsyms;
    m->syms[idx] = s;
    if (at < 0)
        m->nsyms++;
    cmee__symbol_pin(m, idx);
    return CMEE_OK;
}

cmee_status cmee_market_new(uint64_t seed, const cmee_allocator *alloc, cmee_market **out)
{
    if (!out)
        return CMEE_EINVAL;
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return CMEE_EINVAL;
    cmee_market *m = cmee__calloc(&al, 1, sizeof *m);
    if (!m)
        return CMEE_ENOMEM;
    m->al = al;
    m->seed = seed;
    if (pthread_mutex_init(&m->errlock, NULL) != 0) {
        cmee__free(&al, m);
        return CMEE_ENOMEM;
    }
    for (size_t i = 0; i < cmee__builtin_count(); i++) {
        cmee_symbol_spec spec;
        cmee__builtin_spec(i, &spec);
        cmee_status st = add_or_replace(m, &spec);
        if (st != CMEE_OK) {
            cmee_market_free(m);
            return st;
        }
    }
    m->errmsg[0] = '\0';
    *out = m;
    return CMEE_OK;
}

void cmee_market_free(cmee_market *m)
{
    if (!m)
        return;
    cmee__alloc al = m->al;
    pthread_mutex_destroy(&m->errlock);
    cmee__scen_free_all(m);
    for (size_t i = 0; i < m->nsyms; i++)
        cmee__free(&al, m->syms[i].segs);
    for (size_t i = 0; i < m->nimp; i++)
        cmee__free(&al, m->imp[i]);
    cmee__free(&al, m->imp);
    cmee__free(&al, m->syms);
    cmee__free(&al, m->groups);
    cmee__free(&al, m);
}

uint64_t cmee_market_seed(const cmee_market *m)
{
    return m ? m->seed : 0;
}

size_t cmee_market_symbol_count(const cmee_market *m)
{
    return m ? m->nsyms : 0;
}

cmee_status cmee_market_symbol_at(const cmee_market *m, size_t index, cmee_symbol_spec *out)
{
    if (!m || !out)
        return m ? cmee__market_fail(m, CMEE_EINVAL, "out: must not be NULL") : CMEE_EINVAL;
    if (index >= m->nsyms)
        return cmee__market_fail(m, CMEE_ERANGE, "index: %zu is past the last symbol (%zu)",
                                 index, m->nsyms);
    *out = m->syms[index].spec;
    return CMEE_OK;
}

cmee_status cmee_market_symbol(const cmee_market *m, const char *symbol, cmee_symbol_spec *out)
{
    if (!m)
        return CMEE_EINVAL;
    if (!symbol || !out)
        return cmee__market_fail(m, CMEE_EINVAL, "%s: must not be NULL",
                                 symbol ? "out" : "symbol");
    size_t idx = 0;
    cmee_status st = lookup(m, symbol, &idx);
    if (st != CMEE_OK)
        return st;
    *out = m->syms[idx].spec;
    return CMEE_OK;
}

cmee_status cmee_market_set_symbol(cmee_market *m, const cmee_symbol_spec *spec)
{
    if (!m)
        return CMEE_EINVAL;
    if (!spec)
        return cmee__market_fail(m, CMEE_EINVAL, "spec: must not be NULL");
    cmee_status st = validate_spec(m, spec);
    if (st != CMEE_OK)
        return st;
    return add_or_replace(m, spec);
}

/* ---- correlation ---------------------------------------------------------------------- */

/* Dissolve group @p g: its members go back to their own noise. */
static void remove_group(cmee_market *m, int g)
{
    int n = m->groups[g].n;
    m->groups[g].n = 0; /* an empty slot, reused by the next group */
    for (int i = 0; i < n; i++) {
        size_t k = (size_t)m->groups[g].sym[i];
        m->syms[k].group = -1;
        m->syms[k].member = 0;
        cmee__symbol_pin(m, k);
    }
}

cmee_status cmee_market_set_correlation(cmee_market *m, const char *const *symbols, size_t n,
                                        const double *matrix)
{
    if (!m)
        return CMEE_EINVAL;
    m->version++; /* readers regenerate even after a failure: harmless */
    if (n == 0)
        return cmee__market_fail(m, CMEE_EINVAL, "n: must be at least 1");
    if (!symbols || !matrix)
        return cmee__market_fail(m, CMEE_EINVAL, "symbols, matrix: must not be NULL");
    if (n > CMEE__GROUP_MAX)
        return cmee__market_fail(m, CMEE_EINVAL, "n: at most %d symbols per group, got %zu",
                                 CMEE__GROUP_MAX, n);
    int idx[CMEE__GROUP_MAX];
    int old = -1;
    bool same_group = true;
    for (size_t i = 0; i < n; i++) {
        if (!symbols[i])
            return cmee__market_fail(m, CMEE_EINVAL, "symbols[%zu]: must not be NULL", i);
        size_t k = 0;
        cmee_status st = lookup(m, symbols[i], &k);
        if (st != CMEE_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (idx[j] == (int)k)
                return cmee__market_fail(m, CMEE_EINVAL, "symbols[%zu]: duplicate symbol %s",
                                         i, symbols[i]);
        idx[i] = (int)k;
        if (n == 1) {
            /* A group of one: take the symbol out of any group. */
            if (matrix[0] != 1.0)
                return cmee__market_fail(m, CMEE_EINVAL,
                                         "matrix[0][0]: the diagonal must be 1, got %g",
                                         matrix[0]);
            if (m->syms[k].group >= 0)
                remove_group(m, m->syms[k].group);
            return CMEE_OK;
        }
        int g = m->syms[k].group;
        if (i == 0)
            old = g;
        if (g != old)
            same_group = false;
    }
    if (old >= 0 && (!same_group || m->groups[old].n != (int)n))
        same_group = false;
    if (!same_group) {
        for (size_t i = 0; i < n; i++)
            if (m->syms[idx[i]].group >= 0)
                return cmee__market_fail(m, CMEE_EEXIST,
                                         "symbols[%zu]: %s is already in another group", i,
                                         symbols[i]);
        old = -1;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double v = matrix[i * n + j];
            if (!isfinite(v) || v < -1 || v > 1)
                return cmee__market_fail(m, CMEE_EINVAL,
                                         "matrix[%zu][%zu]: must be in [-1, 1], got %g", i, j, v);
            if (i == j && v != 1.0)
                return cmee__market_fail(m, CMEE_EINVAL,
                                         "matrix[%zu][%zu]: the diagonal must be 1, got %g", i, j,
                                         v);
            if (v != matrix[j * n + i])
                return cmee__market_fail(m, CMEE_EINVAL,
                                         "matrix[%zu][%zu]: must equal matrix[%zu][%zu]", i, j, j,
                                         i);
        }
    }
    double chol[CMEE__GROUP_MAX * CMEE__GROUP_MAX];
    memcpy(chol, matrix, n * n * sizeof *chol);
    gsl_matrix_view a = gsl_matrix_view_array(chol, n, n);
    gsl_error_handler_t *prev = gsl_set_error_handler_off();
    int rc = gsl_linalg_cholesky_decomp1(&a.matrix);
    gsl_set_error_handler(prev);
    if (rc != GSL_SUCCESS)
        return cmee__market_fail(m, CMEE_EINVAL, "matrix: must be positive definite");

    if (old >= 0)
        remove_group(m, old);
    int g = -1;
    for (size_t i = 0; i < m->ngroups; i++)
        if (m->groups[i].n == 0)
            g = (int)i;
    if (g < 0) {
        cmee__group *p = cmee__realloc(&m->al, m->groups, (m->ngroups + 1) * sizeof *p);
        if (!p) /* a replaced group is already dissolved, its members pinned on their own */
            return cmee__market_fail(m, CMEE_ENOMEM, "out of memory adding a group");
        m->groups = p;
        g = (int)m->ngroups++;
    }
    cmee__group *grp = &m->groups[g];
    memset(grp, 0, sizeof *grp);
    grp->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        grp->sym[i] = idx[i];
        for (size_t j = 0; j <= i; j++)
            grp->chol[i * CMEE__GROUP_MAX + j] = gsl_matrix_get(&a.matrix, i, j);
        m->syms[idx[i]].group = g;
        m->syms[idx[i]].member = (int)i;
    }
    grp->chol[0] = 1.0; /* exactly: the first symbol keeps its own series bit for bit */
    for (size_t i = 0; i < n; i++)
        cmee__symbol_pin(m, (size_t)idx[i]);
    return CMEE_OK;
}

/* ---- queries -------------------------------------------------------------------------- */

/* Validate the common query arguments; on success *idx is the symbol and *tfmin the minutes. */
static cmee_status check_query(const cmee_market *m, const char *symbol, cmee_timeframe tf,
                               size_t *idx, int64_t *tfmin)
{
    if (!symbol)
        return cmee__market_fail(m, CMEE_EINVAL, "symbol: must not be NULL");
    if (!cmee_timeframe_name(tf))
        return cmee__market_fail(m, CMEE_EINVAL,
                                 "timeframe: must be one of 1m 5m 15m 1h 4h 1d, got %d", (int)tf);
    *tfmin = (int64_t)tf;
    return lookup(m, symbol, idx);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Generate @p count candles of @p tfmin minutes starting at global minute @p min0. */
static void generate(const cmee_market *m, size_t idx, int64_t tfmin, int64_t min0, size_t count,
                     cmee_candle *out)
{
    const cmee__symbol *s = &m->syms[idx];
    int64_t min_end = min0 + (int64_t)count * tfmin;
    const cmee__impact *imp = cmee__impact_of(m, idx);
    if (imp && cmee__impact_next(imp, min0) < min_end) {
        cmee__impact_candles(m, idx, tfmin, min0, count, out); /* a session's own impact */
        return;
    }
    cmee__daycache dc;
    cmee__hour hr;
    cmee__scur cur = {.hour = -1};
    dc.day = -1;
    size_t j = 0;
    double hi = 0, lo = 0, open = 0;
    int64_t vol = 0;
    /* A candle's open is the previous close: convert each boundary price once. */
    double last_x = NAN, last_p = 0;
    for (int64_t hour = min0 / 60; hour * 60 < min_end; hour++) {
        cmee__engine_hour(m, idx, hour, &dc, &cur, &hr);
        int64_t k0 = min0 - hour * 60, k1 = min_end - hour * 60;
        if (k0 < 0)
            k0 = 0;
        if (k1 > 60)
            k1 = 60;
        int64_t k = k0;
        while (k < k1) {
            int64_t pos = (hour * 60 + k - min0) % tfmin;
            if (pos == 0) {
                open = hr.x[k];
                hi = lo = open;
                vol = 0;
            }
            /* The minutes of this candle inside this hour. */
            int64_t kend = k + (tfmin - pos);
            if (kend > k1)
                kend = k1;
            cmee__hour_fold_span(&hr, (int)k, (int)kend, &hi, &lo, &vol);
            k = kend;
            if ((hour * 60 + k - min0) % tfmin == 0) {
                cmee_candle *c = &out[j];
                c->time = CMEE_TIME_MIN + (min0 + (int64_t)j * tfmin) * CMEE__MIN_MS;
                /* Converting after the fold equals folding converted prices: the tick-grid
                 * conversion is monotone. */
                c->open = open == last_x ? last_p : cmee__price(s, open);
                c->high = cmee__price(s, hi);
                c->low = cmee__price(s, lo);
                last_x = hr.x[k];
                last_p = cmee__price(s, last_x);
                c->close = last_p;
                c->volume = (double)vol;
                j++;
            }
        }
    }
}

/* Shared tail of the range queries: [first, first + count) candles by index since TIME_MIN. */
static cmee_status deliver(const cmee_market *m, size_t idx, int64_t tfmin, int64_t first,
                           size_t count, cmee_candle *buf, size_t cap, size_t *written)
{
    if (!written)
        return cmee__market_fail(m, CMEE_EINVAL, "written: must not be NULL");
    if (count > CMEE_MARKET_MAX_QUERY)
        return cmee__market_fail(m, CMEE_ERANGE, "count: %zu candles, the most per query is %zu",
                                 count, CMEE_MARKET_MAX_QUERY);
    if (!buf) {
        if (cap != 0)
            return cmee__market_fail(m, CMEE_EINVAL, "buf: NULL with a capacity of %zu", cap);
        *written = count;
        return CMEE_OK;
    }
    if (cap < count)
        return cmee__market_fail(m, CMEE_ENOSPACE, "cap: %zu candles needed, %zu given", count,
                                 cap);
    generate(m, idx, tfmin, first * tfmin, count, buf);
    *written = count;
    return CMEE_OK;
}

/* Resolve [from, to) into the index of the first candle and the count. */
static cmee_status resolve_range(const cmee_market *m, int64_t tfmin, int64_t from, int64_t to,
                                 int64_t *first, size_t *count)
{
    if (from >= to)
        return cmee__market_fail(m, CMEE_EINVAL,
                                 "from: must be before to, got from=%lld to=%lld",
                                 (long long)from, (long long)to);
    if (from < CMEE_TIME_MIN || to > CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE,
                                 "from/to: [%lld, %lld) is outside the series [%lld, %lld)",
                                 (long long)from, (long long)to, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    int64_t tfms = tfmin * CMEE__MIN_MS;
    /* Candles whose open time lies in [from, to). */
    int64_t a = floor_div(from - CMEE_TIME_MIN + tfms - 1, tfms);
    int64_t b = floor_div(to - CMEE_TIME_MIN + tfms - 1, tfms);
    *first = a;
    *count = (size_t)(b - a);
    return CMEE_OK;
}

cmee_status cmee_market_candles(const cmee_market *m, const char *symbol, cmee_timeframe tf,
                                int64_t from, int64_t to, cmee_candle *buf, size_t cap,
                                size_t *written)
{
    if (!m)
        return CMEE_EINVAL;
    size_t idx = 0, count = 0;
    int64_t tfmin = 0, first = 0;
    cmee_status st = check_query(m, symbol, tf, &idx, &tfmin);
    if (st == CMEE_OK)
        st = resolve_range(m, tfmin, from, to, &first, &count);
    if (st != CMEE_OK)
        return st;
    return deliver(m, idx, tfmin, first, count, buf, cap, written);
}

cmee_status cmee_market_candles_last(const cmee_market *m, const char *symbol, cmee_timeframe tf,
                                     int64_t end, size_t count, cmee_candle *buf, size_t cap,
                                     size_t *written)
{
    if (!m)
        return CMEE_EINVAL;
    size_t idx = 0;
    int64_t tfmin = 0;
    cmee_status st = check_query(m, symbol, tf, &idx, &tfmin);
    if (st != CMEE_OK)
        return st;
    if (count == 0)
        return cmee__market_fail(m, CMEE_EINVAL, "count: must be at least 1");
    if (count > CMEE_MARKET_MAX_QUERY)
        return cmee__market_fail(m, CMEE_ERANGE, "count: %zu candles, the most per query is %zu",
                                 count, CMEE_MARKET_MAX_QUERY);
    if (end <= CMEE_TIME_MIN || end > CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE, "end: %lld is outside the series (%lld, %lld]",
                                 (long long)end, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    int64_t tfms = tfmin * CMEE__MIN_MS;
    int64_t stop = floor_div(end - CMEE_TIME_MIN, tfms); /* index of the first candle not wanted */
    int64_t first = stop - (int64_t)count;
    if (first < 0)
        return cmee__market_fail(m, CMEE_ERANGE,
                                 "count: %zu candles of %s before %lld start before the series",
                                 count, cmee_timeframe_name(tf), (long long)end);
    return deliver(m, idx, tfmin, first, count, buf, cap, written);
}

cmee_status cmee_market_candles_alloc(const cmee_market *m, const char *symbol, cmee_timeframe tf,
                                      int64_t from, int64_t to, cmee_candle **out, size_t *n)
{
    if (!m)
        return CMEE_EINVAL;
    if (!out || !n)
        return cmee__market_fail(m, CMEE_EINVAL, "out, n: must not be NULL");
    size_t count;
    cmee_status st = cmee_market_candles(m, symbol, tf, from, to, NULL, 0, &count);
    if (st != CMEE_OK)
        return st;
    cmee_candle *buf = cmee__malloc(&m->al, count * sizeof *buf);
    if (!buf)
        return cmee__market_fail(m, CMEE_ENOMEM, "out of memory for %zu candles", count);
    size_t got;
    st = cmee_market_candles(m, symbol, tf, from, to, buf, count, &got);
    if (st != CMEE_OK) {
        cmee__free(&m->al, buf);
        return st;
    }
    *out = buf;
    *n = got;
    return CMEE_OK;
}

void cmee_market_release(const cmee_market *m, void *ptr)
{
    if (m)
        cmee__free(&m->al, ptr);
}

/* ---- ticks ---------------------------------------------------------------------------- */

void cmee__hour_ticks(const cmee__symbol *s, const cmee__impact *imp, const cmee__hour *hr,
                      int k, int64_t minute, bool volumes, cmee_tick *out)
{
    int n = s->spec.ticks_per_minute;
    double a = hr->x[k], b = hr->x[k + 1], hi = hr->hi[k], lo = hr->lo[k];

    cmee__stream st;
    cmee__stream_seek(&st, s->key, CMEE__P_TICK, 0, (uint32_t)minute);
    gsl_rng r = cmee__stream_gsl(&st);

    /* The path is pinned at four points: open first, close last, and the high and the low at
     * two distinct random ticks in between; bridges join them, clamped to [low, high]. */
    int ih = 1 + (int)gsl_rng_uniform_int(&r, (unsigned long)(n - 2));
    int il = 1 + (int)gsl_rng_uniform_int(&r, (unsigned long)(n - 3));
    if (il >= ih)
        il++;
    int at[4] = {0, ih < il ? ih : il, ih < il ? il : ih, n - 1};
    double val[4] = {a, ih < il ? hi : lo, ih < il ? lo : hi, b};
    double y[600];
    double step = hr->mass[k] / (double)(n - 1);
    for (int seg = 0; seg < 3; seg++) {
        int i0 = at[seg], i1 = at[seg + 1];
        y[i0] = val[seg];
        for (int i = i0 + 1; i < i1; i++) {
            double left = (double)(i1 - i + 1);
            double v = y[i - 1] + (val[seg + 1] - y[i - 1]) / left +
                       sqrt(step * (left - 1.0) / left) * gsl_ran_gaussian_ziggurat(&r, 1.0);
            y[i] = v > hi ? hi : (v < lo ? lo : v);
        }
    }
    y[n - 1] = b;

    /* Volume: an even share each, the remainder spread by sequential binomials (the last draws
     * of the stream, so skipping them changes nothing else). */
    int64_t total = volumes ? hr->vol[k] : 0;
    int64_t base = total / n, rest = total % n;
    int64_t t0 = CMEE_TIME_MIN + minute * CMEE__MIN_MS;
    bool impact = imp && cmee__impact_next(imp, minute) == minute;
    for (int i = 0; i < n; i++) {
        int64_t extra = 0;
        if (rest > 0) {
            extra = (i == n - 1) ? rest
                                 : (int64_t)gsl_ran_binomial(&r, 1.0 / (double)(n - i),
                                                             (unsigned)rest);
            rest -= extra;
        }
        out[i].time = t0 + (int64_t)i * CMEE__MIN_MS / n;
        out[i].price = cmee__price(s, impact ? y[i] + cmee__impact_at(imp, out[i].time) : y[i]);
        out[i].volume = (double)(base + extra);
    }
}

static void fill_ticks(const cmee_market *m, size_t idx, int64_t minute, cmee_tick *out)
{
    cmee__daycache dc;
    cmee__hour hr;
    cmee__scur cur = {.hour = -1};
    dc.day = -1;
    int k = (int)(minute % 60);
    cmee__engine_hour(m, idx, minute / 60, &dc, &cur, &hr);
    cmee__hour_extremes(&hr, k);
    cmee__hour_ticks(&m->syms[idx], cmee__impact_of(m, idx), &hr, k, minute, true, out);
}

static cmee_status check_time(const cmee_market *m, int64_t t)
{
    if (t < CMEE_TIME_MIN || t >= CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE, "t: %lld is outside the series [%lld, %lld)",
                                 (long long)t, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    return CMEE_OK;
}

cmee_status cmee_market_ticks(const cmee_market *m, const char *symbol, int64_t t,
                              cmee_tick *buf, size_t cap, size_t *written)
{
    if (!m)
        return CMEE_EINVAL;
    size_t idx = 0;
    int64_t tfmin = 0;
    cmee_status st = check_query(m, symbol, CMEE_TF_1M, &idx, &tfmin);
    if (st == CMEE_OK)
        st = check_time(m, t);
    if (st != CMEE_OK)
        return st;
    if (!written)
        return cmee__market_fail(m, CMEE_EINVAL, "written: must not be NULL");
    size_t n = (size_t)m->syms[idx].spec.ticks_per_minute;
    if (!buf) {
        if (cap != 0)
            return cmee__market_fail(m, CMEE_EINVAL, "buf: NULL with a capacity of %zu", cap);
        *written = n;
        return CMEE_OK;
    }
    if (cap < n)
        return cmee__market_fail(m, CMEE_ENOSPACE, "cap: %zu ticks needed, %zu given", n, cap);
    fill_ticks(m, idx, (t - CMEE_TIME_MIN) / CMEE__MIN_MS, buf);
    *written = n;
    return CMEE_OK;
}

cmee_status cmee_market_price(const cmee_market *m, const char *symbol, int64_t t, double *price)
{
    if (!m)
        return CMEE_EINVAL;
    if (!price)
        return cmee__market_fail(m, CMEE_EINVAL, "price: must not be NULL");
    cmee_tick ticks[600];
    size_t n;
    cmee_status st = cmee_market_ticks(m, symbol, t, ticks, 600, &n);
    if (st != CMEE_OK)
        return st;
    size_t i = 0;
    while (i + 1 < n && ticks[i + 1].time <= t)
        i++;
    *price = ticks[i].price;
    return CMEE_OK;
}
