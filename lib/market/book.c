/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Market microstructure: quotes, a synthetic L2 book and the trade tape (cmee/book.h).
 *
 * Everything is derived per 1m candle from the ticks of cmee_market_ticks() plus two streams of
 * the symbol's key: CMEE__P_TAPE (the first tick's side, the trade sizes) indexed by the minute,
 * and CMEE__P_BOOK (the book) indexed by the minute with the tick as level. So any minute is
 * reached by generating its hour, and nothing depends on a minute before it: scenarios, which
 * never change the past, cannot change past quotes, trades or books either. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "market/market_int.h"

#define SQRT_8_OVER_PI 1.5957691216057308 /* mean range of a unit Brownian motion over [0, 1] */

/* One minute of microstructure. */
typedef struct micro {
    int64_t minute;    /* global minute, -1 if empty */
    int n;             /* ticks */
    int64_t spread;    /* full spread in ticks, >= 1 */
    cmee_tick tick[600];
    int64_t k[600];    /* tick prices in ticks */
    int64_t q[600];    /* trade size in quanta; 0: no trade at this tick */
    uint8_t sell[600]; /* aggressor side of the tick */
} micro;

struct cmee_tape {
    const cmee_market *m;
    size_t idx;
    uint64_t version;
    char symbol[CMEE_SYMBOL_MAX];
    int64_t hour; /* global hour held in hr, -1 if none */
    cmee__daycache dc;
    cmee__scur cur;
    cmee__hour hr;
    micro mc;
};

const char *cmee_aggressor_name(cmee_aggressor side)
{
    switch (side) {
    case CMEE_AGGRESSOR_BUY:
        return "buy";
    case CMEE_AGGRESSOR_SELL:
        return "sell";
    }
    return NULL;
}

void cmee_spread_spec_default(cmee_asset_class cls, cmee_spread_spec *out)
{
    if (!out)
        return;
    double bps = 1.0;
    switch (cls) {
    case CMEE_CLASS_FX:
    case CMEE_CLASS_INDEX:
    case CMEE_CLASS_STOCK:
        bps = 0.5;
        break;
    case CMEE_CLASS_METAL:
        bps = 2.0;
        break;
    case CMEE_CLASS_COMMODITY:
        bps = 3.0;
        break;
    default:
        break;
    }
    out->bps = bps;
    out->ticks = 1.0;
    out->vol_weight = 0.5;
}

cmee_status cmee_market_spread(const cmee_market *m, const char *symbol, cmee_spread_spec *out)
{
    if (!m)
        return CMEE_EINVAL;
    if (!out)
        return cmee__market_fail(m, CMEE_EINVAL, "out: must not be NULL");
    size_t idx;
    cmee_status st = cmee__market_lookup(m, symbol, &idx);
    if (st != CMEE_OK)
        return st;
    *out = m->syms[idx].spread;
    return CMEE_OK;
}

cmee_status cmee_market_set_spread(cmee_market *m, const char *symbol,
                                   const cmee_spread_spec *spec)
{
    if (!m)
        return CMEE_EINVAL;
    if (!spec)
        return cmee__market_fail(m, CMEE_EINVAL, "spec: must not be NULL");
    size_t idx;
    cmee_status st = cmee__market_lookup(m, symbol, &idx);
    if (st != CMEE_OK)
        return st;
    if (!(spec->bps >= 0.0 && spec->bps <= 1000.0))
        return cmee__market_fail(m, CMEE_EINVAL, "bps: must be in [0, 1000], got %g", spec->bps);
    if (!(spec->ticks >= 0.0 && spec->ticks <= 1e6))
        return cmee__market_fail(m, CMEE_EINVAL, "ticks: must be in [0, 1e6], got %g",
                                 spec->ticks);
    if (!(spec->vol_weight >= 0.0 && spec->vol_weight <= 10.0))
        return cmee__market_fail(m, CMEE_EINVAL, "vol_weight: must be in [0, 10], got %g",
                                 spec->vol_weight);
    m->syms[idx].spread = *spec;
    m->version++;
    return CMEE_OK;
}

cmee_status cmee_market_size_quantum(const cmee_market *m, const char *symbol, double *out)
{
    if (!m)
        return CMEE_EINVAL;
    if (!out)
        return cmee__market_fail(m, CMEE_EINVAL, "out: must not be NULL");
    size_t idx;
    cmee_status st = cmee__market_lookup(m, symbol, &idx);
    if (st != CMEE_OK)
        return st;
    *out = ldexp(1.0, -m->syms[idx].qlog2);
    return CMEE_OK;
}

/* ---- generation --------------------------------------------------------------------------- */

static double kprice(const cmee__symbol *s, int64_t k)
{
    /* The same expression as cmee__price(): the double nearest to the decimal price. */
    return ((double)k * (double)s->tick_units) / s->pow10;
}

static double qsize(const cmee__symbol *s, int64_t q)
{
    return ldexp((double)q, -s->qlog2);
}

/* Full spread of a minute in ticks: the base widened by the minute's range relative to the
 * mean range of a minute at the configured volatility. */
static int64_t minute_spread(const cmee__symbol *s, const cmee__hour *hr, int k, double open)
{
    const cmee_spread_spec *sp = &s->spread;
    double base = sp->bps * 1e-4 * open * s->inv_tick;
    if (base < sp->ticks)
        base = sp->ticks;
    double r = (hr->hi[k] - hr->lo[k]) / (SQRT_8_OVER_PI * s->sd_min);
    double f = 1.0 + sp->vol_weight * (r - 1.0);
    f = f < 0.25 ? 0.25 : (f > 50.0 ? 50.0 : f);
    double ticks = floor(base * f + 0.5);
    if (!(ticks >= 1.0))
        return 1;
    if (ticks > 1e12)
        return INT64_C(1000000000000);
    return (int64_t)ticks;
}

/* Split the minute's volume in quanta over its ticks: one quantum to the first and to the last
 * tick (the open and the close print), the rest in proportion to lognormal weights by
 * systematic rounding: with C(i) the rest's cumulative share up to tick i and one uniform u,
 * tick i gets floor(C(i) + u) - floor(C(i-1) + u). The shares telescope to exactly the rest, and
 * each tick gets its expected share rounded up or down. */
static void minute_sizes(const cmee__symbol *s, int64_t volume, gsl_rng *r, micro *mc)
{
    int n = mc->n;
    memset(mc->q, 0, (size_t)n * sizeof mc->q[0]);
    int64_t total = volume * (INT64_C(1) << s->qlog2);
    if (total <= 0)
        return;
    if (total == 1) {
        mc->q[n - 1] = 1;
        return;
    }
    double w[600], sum = 0.0;
    for (int i = 0; i < n; i++) {
        w[i] = exp(gsl_ran_gaussian_ziggurat(r, 1.0));
        sum += w[i];
    }
    int64_t rest = total - 2;
    double u = gsl_rng_uniform(r), scale = (double)rest / sum, cum = 0.0;
    int64_t prev = 0; /* floor(C(i-1) + u) */
    for (int i = 0; i < n; i++) {
        cum += w[i] * scale;
        int64_t at = i == n - 1 ? rest : (int64_t)floor(cum + u);
        if (at > rest)
            at = rest;
        if (at < prev)
            at = prev;
        mc->q[i] = at - prev;
        prev = at;
    }
    mc->q[0] += 1;
    mc->q[n - 1] += 1;
}

/* Build minute @p k of hour @p hr (global minute @p minute) into @p mc. */
static void micro_build(const cmee__symbol *s, const cmee__impact *imp, cmee__hour *hr, int k,
                        int64_t minute, micro *mc)
{
    int n = s->spec.ticks_per_minute;
    mc->n = n;
    cmee__hour_extremes(hr, k);
    cmee__hour_ticks(s, imp, hr, k, minute, false, mc->tick);
    double scale = s->pow10 / (double)s->tick_units;
    for (int i = 0; i < n; i++)
        mc->k[i] = llround(mc->tick[i].price * scale);
    mc->spread = minute_spread(s, hr, k, mc->tick[0].price);

    cmee__stream st;
    cmee__stream_seek(&st, s->key, CMEE__P_TAPE, 0, (uint32_t)minute);
    gsl_rng r = cmee__stream_gsl(&st);
    uint8_t sell = (uint8_t)(gsl_rng_get(&r) & 1u);
    for (int i = 0; i < n; i++) {
        if (i > 0 && mc->k[i] != mc->k[i - 1])
            sell = mc->k[i] < mc->k[i - 1];
        if (!sell && mc->k[i] - mc->spread < 1)
            sell = 1; /* the bid would leave the grid: the print is on the bid */
        mc->sell[i] = sell;
    }
    minute_sizes(s, hr->vol[k], &r, mc);
    mc->minute = minute;
}

/* A reader, possibly on the stack, for symbol @p idx of @p m. */
static void tape_init(cmee_tape *tp, const cmee_market *m, size_t idx)
{
    tp->m = m;
    tp->idx = idx;
    tp->version = m->version;
    memcpy(tp->symbol, m->syms[idx].spec.symbol, CMEE_SYMBOL_MAX);
    tp->hour = -1;
    tp->dc.day = -1;
    tp->cur.hour = -1;
    tp->mc.minute = -1;
}

/* Drop the caches if the market changed since they were made. */
static cmee_status tape_check(cmee_tape *tp)
{
    if (tp->version == tp->m->version)
        return CMEE_OK;
    size_t idx;
    cmee_status st = cmee__market_lookup(tp->m, tp->symbol, &idx);
    if (st != CMEE_OK)
        return st;
    tp->idx = idx;
    tp->version = tp->m->version;
    tp->hour = -1;
    tp->dc.day = -1;
    tp->cur.hour = -1;
    tp->mc.minute = -1;
    return CMEE_OK;
}

/* Make tp->mc hold global minute @p minute. */
static void tape_minute(cmee_tape *tp, int64_t minute)
{
    if (tp->mc.minute == minute)
        return;
    int64_t hour = minute / 60;
    if (tp->hour != hour) {
        if (tp->cur.hour >= 0 && hour != tp->cur.hour + 1)
            tp->cur.hour = -1; /* not the next hour: let the scenario cursor seek afresh */
        cmee__engine_hour(tp->m, tp->idx, hour, &tp->dc, &tp->cur, &tp->hr);
        tp->hour = hour;
    }
    micro_build(&tp->m->syms[tp->idx], cmee__impact_of(tp->m, tp->idx), &tp->hr,
                (int)(minute % 60), minute, &tp->mc);
}

static int64_t minute_of(int64_t t)
{
    return (t - CMEE_TIME_MIN) / CMEE__MIN_MS;
}

/* Index of the last tick at or before @p t in the current minute. */
static int tick_at(const micro *mc, int64_t t)
{
    int i = 0;
    while (i + 1 < mc->n && mc->tick[i + 1].time <= t)
        i++;
    return i;
}

static void quote_of(const cmee__symbol *s, const micro *mc, int i, cmee_bbo *q)
{
    int64_t bid = mc->sell[i] ? mc->k[i] : mc->k[i] - mc->spread;
    q->time = mc->tick[i].time;
    q->bid = kprice(s, bid);
    q->ask = kprice(s, bid + mc->spread);
    q->last = mc->tick[i].price;
    q->spread = kprice(s, mc->spread);
    q->side = mc->sell[i] ? CMEE_AGGRESSOR_SELL : CMEE_AGGRESSOR_BUY;
}

/* The book at tick @p i of the current minute. Level 1 is the quote; each further level lies
 * one or two spacing units (half the spread, at least a tick) beyond the one before; sizes
 * start near two mean trades at the touch and grow by 15-65 % of that per level. */
static void book_of(const cmee__symbol *s, const micro *mc, int i, int depth, cmee_book *b)
{
    memset(b, 0, sizeof *b);
    int64_t spread = mc->spread;
    int64_t bid = mc->sell[i] ? mc->k[i] : mc->k[i] - spread;
    int64_t ask = bid + spread;
    int64_t unit = spread / 2 > 1 ? spread / 2 : 1;
    double mean_trade = ldexp(s->spec.volume, s->qlog2) / (double)mc->n;
    if (mean_trade < 1.0)
        mean_trade = 1.0;

    /* Level j of both sides comes from Philox block j of the tick's book stream (two words
     * per side), so a book of depth d is the first d levels of any deeper one. */
    int64_t size[2] = {0, 0}, touch[2] = {0, 0}, off[2] = {0, 0};
    bool open[2] = {true, true};
    for (int j = 0; j < depth; j++) {
        uint32_t w[4];
        cmee__philox_block(s->key, CMEE__P_BOOK, (unsigned)i, (uint32_t)mc->minute, (uint32_t)j,
                           w);
        for (int side = 0; side < 2; side++) {
            double u1 = cmee__u32(w[2 * side]);
            uint32_t w2 = w[2 * side + 1];
            if (j == 0) {
                touch[side] = llround(mean_trade * (1.0 + 2.0 * u1));
                if (touch[side] < 1)
                    touch[side] = 1;
                size[side] = touch[side];
            } else {
                off[side] += unit * (w2 < 0x40000000u ? 2 : 1);
                int64_t grow = llround((double)touch[side] * (0.15 + 0.5 * u1));
                size[side] += grow > 1 ? grow : 1;
            }
            int64_t k = side == 0 ? bid - off[side] : ask + off[side];
            if (!open[side] || k < 1) {
                open[side] = false; /* bids stop above zero */
                continue;
            }
            cmee_book_level *lv = side == 0 ? &b->bids[b->nbids++] : &b->asks[b->nasks++];
            lv->price = kprice(s, k);
            lv->size = qsize(s, size[side]);
        }
    }
    b->time = mc->tick[i].time;
    b->bid = kprice(s, bid);
    b->ask = kprice(s, ask);
}

/* ---- queries ------------------------------------------------------------------------------ */

static cmee_status check_t(const cmee_market *m, int64_t t)
{
    if (t < CMEE_TIME_MIN || t >= CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE, "time: %lld is outside the series [%lld, %lld)",
                                 (long long)t, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    return CMEE_OK;
}

static cmee_status tape_quote(cmee_tape *tp, int64_t t, cmee_bbo *out)
{
    if (!out)
        return cmee__market_fail(tp->m, CMEE_EINVAL, "out: must not be NULL");
    cmee_status st = check_t(tp->m, t);
    if (st == CMEE_OK)
        st = tape_check(tp);
    if (st != CMEE_OK)
        return st;
    tape_minute(tp, minute_of(t));
    quote_of(&tp->m->syms[tp->idx], &tp->mc, tick_at(&tp->mc, t), out);
    return CMEE_OK;
}

static cmee_status tape_book(cmee_tape *tp, int64_t t, int depth, cmee_book *out)
{
    if (!out)
        return cmee__market_fail(tp->m, CMEE_EINVAL, "out: must not be NULL");
    if (depth < 1 || depth > CMEE_BOOK_MAX_DEPTH)
        return cmee__market_fail(tp->m, CMEE_EINVAL, "depth: must be in [1, %d], got %d",
                                 CMEE_BOOK_MAX_DEPTH, depth);
    cmee_status st = check_t(tp->m, t);
    if (st == CMEE_OK)
        st = tape_check(tp);
    if (st != CMEE_OK)
        return st;
    tape_minute(tp, minute_of(t));
    book_of(&tp->m->syms[tp->idx], &tp->mc, tick_at(&tp->mc, t), depth, out);
    return CMEE_OK;
}

/* Visit the trades with from <= time < to; @p buf NULL only counts. */
static size_t tape_walk(cmee_tape *tp, int64_t from, int64_t to, cmee_trade *buf)
{
    const cmee__symbol *s = &tp->m->syms[tp->idx];
    size_t n = 0;
    if (from >= to)
        return 0;
    for (int64_t mi = minute_of(from); mi <= minute_of(to - 1); mi++) {
        tape_minute(tp, mi);
        const micro *mc = &tp->mc;
        for (int i = 0; i < mc->n; i++) {
            if (!mc->q[i] || mc->tick[i].time < from || mc->tick[i].time >= to)
                continue;
            if (buf) {
                buf[n].time = mc->tick[i].time;
                buf[n].price = mc->tick[i].price;
                buf[n].size = qsize(s, mc->q[i]);
                buf[n].side = mc->sell[i] ? CMEE_AGGRESSOR_SELL : CMEE_AGGRESSOR_BUY;
            }
            n++;
        }
    }
    return n;
}

static cmee_status tape_trades(cmee_tape *tp, int64_t from, int64_t to, cmee_trade *buf,
                               size_t cap, size_t *written)
{
    const cmee_market *m = tp->m;
    if (!written)
        return cmee__market_fail(m, CMEE_EINVAL, "written: must not be NULL");
    if (!buf && cap != 0)
        return cmee__market_fail(m, CMEE_EINVAL, "buf: NULL with a capacity of %zu", cap);
    if (from > to)
        return cmee__market_fail(m, CMEE_EINVAL, "from: %lld is after to: %lld",
                                 (long long)from, (long long)to);
    if (from < CMEE_TIME_MIN || to > CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE,
                                 "from, to: [%lld, %lld) is outside the series [%lld, %lld)",
                                 (long long)from, (long long)to, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    if (to - from > CMEE_TRADES_MAX_SPAN)
        return cmee__market_fail(m, CMEE_ERANGE, "to - from: at most 31 days, got %lld ms",
                                 (long long)(to - from));
    cmee_status st = tape_check(tp);
    if (st != CMEE_OK)
        return st;
    if (!buf) {
        *written = tape_walk(tp, from, to, NULL);
        return CMEE_OK;
    }
    /* Out-parameters only on success: count first unless the buffer holds every tick. */
    int64_t minutes = from == to ? 0 : minute_of(to - 1) - minute_of(from) + 1;
    if ((uint64_t)minutes * (uint64_t)m->syms[tp->idx].spec.ticks_per_minute > cap) {
        size_t need = tape_walk(tp, from, to, NULL);
        if (need > cap)
            return cmee__market_fail(m, CMEE_ENOSPACE, "cap: %zu trades needed, %zu given",
                                     need, cap);
    }
    *written = tape_walk(tp, from, to, buf);
    return CMEE_OK;
}

static cmee_status tape_trades_last(cmee_tape *tp, int64_t end, size_t count, cmee_trade *buf,
                                    size_t cap, size_t *written)
{
    const cmee_market *m = tp->m;
    if (!written)
        return cmee__market_fail(m, CMEE_EINVAL, "written: must not be NULL");
    if (count < 1 || count > CMEE_TRADES_LAST_MAX)
        return cmee__market_fail(m, CMEE_EINVAL, "count: must be in [1, %zu], got %zu",
                                 CMEE_TRADES_LAST_MAX, count);
    if (!buf && cap != 0)
        return cmee__market_fail(m, CMEE_EINVAL, "buf: NULL with a capacity of %zu", cap);
    if (end <= CMEE_TIME_MIN || end > CMEE_TIME_MAX)
        return cmee__market_fail(m, CMEE_ERANGE, "end: %lld is outside (%lld, %lld]",
                                 (long long)end, (long long)CMEE_TIME_MIN,
                                 (long long)CMEE_TIME_MAX);
    if (!buf) {
        *written = count;
        return CMEE_OK;
    }
    if (cap < count)
        return cmee__market_fail(m, CMEE_ENOSPACE, "cap: %zu trades needed, %zu given", count,
                                 cap);
    cmee_status st = tape_check(tp);
    if (st != CMEE_OK)
        return st;
    const cmee__symbol *s = &m->syms[tp->idx];
    /* Walk back minute by minute, filling the buffer from its end. */
    size_t left = count;
    for (int64_t mi = minute_of(end - 1); mi >= 0 && left > 0; mi--) {
        int64_t hour = mi / 60;
        if (tp->hour != hour) {
            tp->cur.hour = -1;
            cmee__engine_hour(m, tp->idx, hour, &tp->dc, &tp->cur, &tp->hr);
            tp->hour = hour;
            tp->mc.minute = -1;
        }
        if (tp->hr.vol[mi % 60] == 0)
            continue; /* no trades: skip the tick path */
        tape_minute(tp, mi);
        const micro *mc = &tp->mc;
        for (int i = mc->n - 1; i >= 0 && left > 0; i--) {
            if (!mc->q[i] || mc->tick[i].time >= end)
                continue;
            cmee_trade *t = &buf[--left];
            t->time = mc->tick[i].time;
            t->price = mc->tick[i].price;
            t->size = qsize(s, mc->q[i]);
            t->side = mc->sell[i] ? CMEE_AGGRESSOR_SELL : CMEE_AGGRESSOR_BUY;
        }
    }
    if (left > 0)
        memmove(buf, buf + left, (count - left) * sizeof *buf);
    *written = count - left;
    return CMEE_OK;
}

/* ---- stateless entry points: a reader on the stack ---------------------------------------- */

static cmee_status stack_tape(const cmee_market *m, const char *symbol, cmee_tape *tp)
{
    size_t idx;
    cmee_status st = cmee__market_lookup(m, symbol, &idx);
    if (st == CMEE_OK)
        tape_init(tp, m, idx);
    return st;
}

cmee_status cmee_market_bbo(const cmee_market *m, const char *symbol, int64_t t,
                              cmee_bbo *out)
{
    if (!m)
        return CMEE_EINVAL;
    cmee_tape tp;
    cmee_status st = stack_tape(m, symbol, &tp);
    return st == CMEE_OK ? tape_quote(&tp, t, out) : st;
}

cmee_status cmee_market_bbo_ticks(const cmee_market *m, const char *symbol, int64_t t,
                               cmee_bbo *buf, size_t cap, size_t *written)
{
    if (!m)
        return CMEE_EINVAL;
    cmee_tape tp;
    cmee_status st = stack_tape(m, symbol, &tp);
    if (st == CMEE_OK)
        st = check_t(m, t);
    if (st != CMEE_OK)
        return st;
    if (!written)
        return cmee__market_fail(m, CMEE_EINVAL, "written: must not be NULL");
    size_t n = (size_t)m->syms[tp.idx].spec.ticks_per_minute;
    if (!buf) {
        if (cap != 0)
            return cmee__market_fail(m, CMEE_EINVAL, "buf: NULL with a capacity of %zu", cap);
        *written = n;
        return CMEE_OK;
    }
    if (cap < n)
        return cmee__market_fail(m, CMEE_ENOSPACE, "cap: %zu quotes needed, %zu given", n, cap);
    tape_minute(&tp, minute_of(t));
    for (size_t i = 0; i < n; i++)
        quote_of(&m->syms[tp.idx], &tp.mc, (int)i, &buf[i]);
    *written = n;
    return CMEE_OK;
}

cmee_status cmee_market_book(const cmee_market *m, const char *symbol, int64_t t, int depth,
                             cmee_book *out)
{
    if (!m)
        return CMEE_EINVAL;
    cmee_tape tp;
    cmee_status st = stack_tape(m, symbol, &tp);
    return st == CMEE_OK ? tape_book(&tp, t, depth, out) : st;
}

cmee_status cmee_market_trades(const cmee_market *m, const char *symbol, int64_t from,
                               int64_t to, cmee_trade *buf, size_t cap, size_t *written)
{
    if (!m)
        return CMEE_EINVAL;
    cmee_tape tp;
    cmee_status st = stack_tape(m, symbol, &tp);
    return st == CMEE_OK ? tape_trades(&tp, from, to, buf, cap, written) : st;
}

cmee_status cmee_market_trades_last(const cmee_market *m, const char *symbol, int64_t end,
                                    size_t count, cmee_trade *buf, size_t cap, size_t *written)
{
    if (!m)
        return CMEE_EINVAL;
    cmee_tape tp;
    cmee_status st = stack_tape(m, symbol, &tp);
    return st == CMEE_OK ? tape_trades_last(&tp, end, count, buf, cap, written) : st;
}

cmee_status cmee_book_walk(const cmee_book *book, cmee_aggressor side, double qty,
                           cmee_book_fill *out)
{
    if (!book || !out || !cmee_aggressor_name(side) || !(qty > 0.0) || !isfinite(qty))
        return CMEE_EINVAL;
    const cmee_book_level *lv = side == CMEE_AGGRESSOR_BUY ? book->asks : book->bids;
    size_t n = side == CMEE_AGGRESSOR_BUY ? book->nasks : book->nbids;
    if (n > CMEE_BOOK_MAX_DEPTH)
        return CMEE_EINVAL;
    cmee_book_fill f = {0.0, 0.0, 0.0, 0};
    double notional = 0.0, left = qty;
    for (size_t i = 0; i < n && left > 0.0; i++) {
        double take = lv[i].size < left ? lv[i].size : left;
        notional += take * lv[i].price;
        f.filled += take;
        left -= take;
        f.worst_price = lv[i].price;
        f.levels++;
    }
    if (f.filled > 0.0)
        f.avg_price = notional / f.filled;
    *out = f;
    return CMEE_OK;
}

/* ---- readers ------------------------------------------------------------------------------ */

cmee_status cmee_tape_new(const cmee_market *m, const char *symbol, cmee_tape **out)
{
    if (!m)
        return CMEE_EINVAL;
    if (!out)
        return cmee__market_fail(m, CMEE_EINVAL, "out: must not be NULL");
    size_t idx;
    cmee_status st = cmee__market_lookup(m, symbol, &idx);
    if (st != CMEE_OK)
        return st;
    cmee_tape *tp = cmee__malloc(&m->al, sizeof *tp);
    if (!tp)
        return cmee__market_fail(m, CMEE_ENOMEM, "out of memory for a tape reader");
    tape_init(tp, m, idx);
    *out = tp;
    return CMEE_OK;
}

void cmee_tape_free(cmee_tape *tp)
{
    if (tp)
        cmee__free(&tp->m->al, tp);
}

cmee_status cmee_tape_bbo(cmee_tape *tp, int64_t t, cmee_bbo *out)
{
    return tp ? tape_quote(tp, t, out) : CMEE_EINVAL;
}

cmee_status cmee_tape_book(cmee_tape *tp, int64_t t, int depth, cmee_book *out)
{
    return tp ? tape_book(tp, t, depth, out) : CMEE_EINVAL;
}

cmee_status cmee_tape_trades(cmee_tape *tp, int64_t from, int64_t to, cmee_trade *buf,
                             size_t cap, size_t *written)
{
    return tp ? tape_trades(tp, from, to, buf, cap, written) : CMEE_EINVAL;
}

size_t cmee_sizeof_bbo(void)
{
    return sizeof(cmee_bbo);
}

size_t cmee_sizeof_trade(void)
{
    return sizeof(cmee_trade);
}

size_t cmee_sizeof_book(void)
{
    return sizeof(cmee_book);
}
