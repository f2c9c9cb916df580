/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Market impact of a session's own fills (cmee_impact_config, docs/sessions.md "Market
 * impact"). The session owns its market, so the impact lives there (lib/market/impact.c): every
 * price the session reads — ticks, candles, quotes, book, tape — comes out of that market
 * already impacted, through the one tick path, and the public market and other sessions never
 * see it.
 *
 * The kicks are derived from the filled orders alone (time, id, side, quantity), so they are a
 * function of the order log: a session loaded from the store rebuilds them from its orders and
 * shows the same prices.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market/market_int.h"
#include "session/session_int.h"

void cmee__impact_config_init(cmee_impact_config *c)
{
    c->model = CMEE_IMPACT_NONE;
    c->coefficient = 1.0;
    c->half_life = 300000;
}

cmee_status cmee__impact_validate(const cmee_impact_config *c, cmee_error *err)
{
    const char *field = NULL;
    char text[160];
    if (c->model != CMEE_IMPACT_NONE && c->model != CMEE_IMPACT_SQRT) {
        field = "impact.model";
        snprintf(text, sizeof text, "impact.model: must be none (0) or sqrt (1), got %d",
                 (int)c->model);
    } else if (!(c->coefficient > 0 && c->coefficient <= 10)) {
        field = "impact.coefficient";
        snprintf(text, sizeof text, "impact.coefficient: must be in (0, 10], got %g",
                 c->coefficient);
    } else if (c->half_life < 1000 || c->half_life > 86400000) {
        field = "impact.half_life";
        snprintf(text, sizeof text,
                 "impact.half_life: must be 1000 to 86400000 ms (1 s to 1 day), got %lld",
                 (long long)c->half_life);
    }
    if (!field)
        return CMEE_OK;
    if (err) {
        err->status = CMEE_EINVAL;
        cmee__fmt(err->field, sizeof err->field, "%s", field);
        cmee__fmt(err->text, sizeof err->text, "%s", text);
    }
    return CMEE_EINVAL;
}

static bool impact_on(const cmee_session *s)
{
    return s->cfg.impact.model == CMEE_IMPACT_SQRT;
}

/* sign x k x sigma_d x sqrt(q / V_d): the square-root law on the symbol's daily scale. */
static double amplitude(const cmee_session *s, const cmee_symbol_spec *spec, cmee_side side,
                        double qty)
{
    double sigma_d = spec->volatility / sqrt(365.25);
    double v_d = 1440.0 * spec->volume;
    double a = s->cfg.impact.coefficient * sigma_d * sqrt(qty / v_d);
    return side == CMEE_SIDE_BUY ? a : -a;
}

/* Room for @p n more kicks in @p symbol. */
static cmee_status reserve_in(cmee_session *s, const char *symbol, size_t n)
{
    size_t idx;
    if (cmee__market_lookup(s->market, symbol, &idx) != CMEE_OK)
        return CMEE_OK; /* not a symbol of the market: nothing will fill there */
    if (cmee__impact_reserve(s->market, idx, n) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    return CMEE_OK;
}

cmee_status cmee__impact_reserve_fills(cmee_session *s, const char *symbol)
{
    if (!impact_on(s))
        return CMEE_OK;
    /* Each open order fills at most once and may then be closed once (stop-loss, take-profit
     * or liquidation); each position may be closed once; @p symbol gets an order and a close. */
    cmee_status st = CMEE_OK;
    for (size_t i = 0; i < s->npos && st == CMEE_OK; i++)
        st = reserve_in(s, s->pos[i].symbol, 2);
    for (size_t i = 0; i < s->norders && st == CMEE_OK; i++)
        if (s->orders[i].state == CMEE_ORDER_OPEN)
            st = reserve_in(s, s->orders[i].symbol, 2);
    if (st == CMEE_OK && symbol)
        st = reserve_in(s, symbol, 2);
    return st;
}

void cmee__impact_fill(cmee_session *s, const cmee_order *o)
{
    if (!impact_on(s))
        return;
    size_t idx;
    if (cmee__market_lookup(s->market, o->symbol, &idx) != CMEE_OK)
        return; /* not reached: orders are of the market's symbols */
    const cmee__impact *im = cmee__impact_of(s->market, idx);
    if (!im || im->n == im->cap)
        return; /* not reached: every path to a fill reserves first */
    cmee__impact_push(s->market, idx, o->closed, o->id,
                      amplitude(s, &s->market->syms[idx].spec, o->side, o->quantity),
                      s->cfg.impact.half_life);
}

static int by_fill(const void *a, const void *b)
{
    const cmee_order *x = *(const cmee_order *const *)a, *y = *(const cmee_order *const *)b;
    if (x->closed != y->closed)
        return x->closed < y->closed ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

cmee_status cmee__impact_rebuild(cmee_session *s)
{
    if (!impact_on(s))
        return CMEE_OK;
    /* Whatever the market held goes: the orders alone say what the impact is. */
    for (size_t i = 0; i < s->market->nimp; i++)
        if (s->market->imp[i])
            s->market->imp[i]->n = 0;
    s->market->version++;
    size_t n = 0;
    for (size_t i = 0; i < s->norders; i++)
        n += s->orders[i].state == CMEE_ORDER_FILLED;
    if (n == 0)
        return CMEE_OK;
    const cmee_order **v = cmee__malloc(&s->al, n * sizeof *v);
    if (!v)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; i < s->norders; i++)
        if (s->orders[i].state == CMEE_ORDER_FILLED)
            v[n++] = &s->orders[i];
    qsort(v, n, sizeof *v, by_fill);
    cmee_status st = CMEE_OK;
    for (size_t i = 0; i < n && st == CMEE_OK; i++)
        st = reserve_in(s, v[i]->symbol, 1);
    for (size_t i = 0; i < n && st == CMEE_OK; i++)
        cmee__impact_fill(s, v[i]);
    cmee__free(&s->al, v);
    return st;
}

cmee_status cmee_session_impact(cmee_session *s, const char *symbol, int64_t t, double *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (!out)
        return cmee__session_fail(s, CMEE_EINVAL, "out: must not be NULL");
    if (!symbol)
        return cmee__session_fail(s, CMEE_EINVAL, "symbol: must not be NULL");
    size_t idx;
    if (cmee__market_lookup(s->market, symbol, &idx) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOTFOUND, "symbol: unknown symbol \"%.*s\"",
                                  CMEE_SYMBOL_MAX, symbol);
    if (t < CMEE_TIME_MIN || t > s->processed)
        return cmee__session_fail(s, CMEE_ERANGE,
                                  "t: %lld is not in the session's past (up to %lld)",
                                  (long long)t, (long long)s->processed);
    const cmee__impact *im = cmee__impact_of(s->market, idx);
    *out = im ? cmee__impact_at(im, t) : 0.0;
    return CMEE_OK;
}
