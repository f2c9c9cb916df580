/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The driver: advances sessions to their clocks and publishes their events, ticks and closed
 * candles on a broadcaster. */
#include <stdio.h>
#include <string.h>

#include "session/session_int.h"

#define MIN_MS INT64_C(60000)

typedef struct driven {
    cmee_session *s;
    char (*syms)[CMEE_SYMBOL_MAX];
    size_t nsyms;
    int64_t published; /* ticks and candles are published up to here */
} driven;

struct cmee_driver {
    cmee__alloc al;
    cmee_broadcaster *b;
    driven *v;
    size_t n, cap;
};

cmee_status cmee_driver_new(cmee_broadcaster *b, const cmee_allocator *alloc, cmee_driver **out)
{
    if (!out)
        return CMEE_EINVAL;
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return CMEE_EINVAL;
    cmee_driver *d = cmee__calloc(&al, 1, sizeof *d);
    if (!d)
        return CMEE_ENOMEM;
    d->al = al;
    d->b = b;
    *out = d;
    return CMEE_OK;
}

void cmee_driver_free(cmee_driver *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        cmee_session_set_listener(d->v[i].s, NULL, NULL);
        cmee__free(&d->al, d->v[i].syms);
    }
    cmee__free(&d->al, d->v);
    cmee__free(&d->al, d);
}

size_t cmee_driver_count(const cmee_driver *d)
{
    return d ? d->n : 0;
}

static void publish_event(void *ud, const cmee_session_event *ev)
{
    cmee_driver *d = ud;
    if (d->b)
        cmee_broadcaster_publish_event(d->b, ev->session_id, ev->time,
                                       cmee_session_event_kind_name(ev->kind), ev->json);
}

static ptrdiff_t find(const cmee_driver *d, const cmee_session *s)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].s == s)
            return (ptrdiff_t)i;
    return -1;
}

cmee_status cmee_driver_add(cmee_driver *d, cmee_session *s, const char *const *symbols, size_t n)
{
    if (!d || !s || (n > 0 && !symbols))
        return CMEE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec spec;
        if (!symbols[i] || cmee_market_symbol(s->market, symbols[i], &spec) != CMEE_OK)
            return cmee__session_fail(s, CMEE_ENOTFOUND, "symbols[%zu]: unknown symbol", i);
    }
    char (*syms)[CMEE_SYMBOL_MAX] = NULL;
    if (n > 0) {
        syms = cmee__calloc(&d->al, n, sizeof *syms);
        if (!syms)
            return CMEE_ENOMEM;
        for (size_t i = 0; i < n; i++)
            snprintf(syms[i], CMEE_SYMBOL_MAX, "%s", symbols[i]);
    }
    ptrdiff_t at = find(d, s);
    if (at < 0) {
        if (d->n == d->cap) {
            size_t cap = d->cap ? 2 * d->cap : 16;
            driven *p = cmee__realloc(&d->al, d->v, cap * sizeof *p);
            if (!p) {
                cmee__free(&d->al, syms);
                return CMEE_ENOMEM;
            }
            d->v = p;
            d->cap = cap;
        }
        at = (ptrdiff_t)d->n++;
        d->v[at] = (driven){s, NULL, 0, s->processed};
    }
    cmee__free(&d->al, d->v[at].syms);
    d->v[at].syms = syms;
    d->v[at].nsyms = n;
    cmee_session_set_listener(s, publish_event, d);
    return CMEE_OK;
}

cmee_status cmee_driver_remove(cmee_driver *d, cmee_session *s)
{
    if (!d || !s)
        return CMEE_EINVAL;
    ptrdiff_t at = find(d, s);
    if (at < 0)
        return CMEE_ENOTFOUND;
    cmee_session_set_listener(s, NULL, NULL);
    cmee__free(&d->al, d->v[at].syms);
    d->v[at] = d->v[--d->n];
    return CMEE_OK;
}

/* Publish the ticks in (from, to] and the 1m candles that closed in (from, to]. */
static void publish_streams(cmee_driver *d, const driven *x, int64_t from, int64_t to)
{
    const cmee_session *s = x->s;
    char topic[CMEE_TOPIC_MAX];
    cmee_message msg;
    for (size_t k = 0; k < x->nsyms; k++) {
        const char *sym = x->syms[k];
        /* Candles closing in (from, to]: open times in (from - 1m, to - 1m]. */
        int64_t first = from - (from - CMEE_TIME_MIN) % MIN_MS; /* opens at or before from */
        if (first + MIN_MS <= from)
            first += MIN_MS;
        int64_t last_open = to - MIN_MS;
        int64_t lo = last_open - (int64_t)(CMEE_DRIVER_MAX_CANDLES - 1) * MIN_MS;
        if (first < lo)
            first = lo - (lo - CMEE_TIME_MIN) % MIN_MS;
        if (first <= last_open) {
            cmee_candle c[CMEE_DRIVER_MAX_CANDLES + 1];
            size_t n = 0;
            if (cmee_market_candles(s->market, sym, CMEE_TF_1M, first, last_open + 1, c,
                                    CMEE_DRIVER_MAX_CANDLES + 1, &n) == CMEE_OK) {
                snprintf(topic, sizeof topic, "session.%s.candles.%s.1m", s->cfg.id, sym);
                for (size_t i = 0; i < n; i++) {
                    memset(&msg, 0, offsetof(cmee_message, payload));
                    msg.payload[0] = '\0';
                    snprintf(msg.topic, sizeof msg.topic, "%s", topic);
                    msg.kind = CMEE_MSG_CANDLE;
                    msg.timeframe = CMEE_TF_1M;
                    msg.time = c[i].time + MIN_MS;
                    snprintf(msg.symbol, sizeof msg.symbol, "%s", sym);
                    msg.candle = c[i];
                    cmee_broadcaster_publish(d->b, &msg);
                }
            }
        }
        /* Ticks in (from, to], the latest CMEE_DRIVER_MAX_TICKS, minute by minute. */
        snprintf(topic, sizeof topic, "session.%s.ticks.%s", s->cfg.id, sym);
        int64_t m0 = to - (to - CMEE_TIME_MIN) % MIN_MS;
        cmee_tick buf[600];
        size_t budget = CMEE_DRIVER_MAX_TICKS;
        /* The minutes holding the latest ticks: enough for the budget, none before from. */
        cmee_symbol_spec spec;
        cmee_market_symbol(s->market, sym, &spec);
        int64_t need = CMEE_DRIVER_MAX_TICKS / spec.ticks_per_minute + 1;
        int64_t start = from - (from - CMEE_TIME_MIN) % MIN_MS;
        if (start < m0 - need * MIN_MS)
            start = m0 - need * MIN_MS;
        /* Publish forward; if the window holds more ticks than the budget, skip the oldest. */
        size_t total = 0;
        for (int64_t m = start; m <= m0; m += MIN_MS)
            total += (size_t)spec.ticks_per_minute;
        size_t skip = total > budget ? total - budget : 0;
        for (int64_t m = start; m <= m0 && budget > 0; m += MIN_MS) {
            size_t n;
            if (cmee_market_ticks(s->market, sym, m, buf, 600, &n) != CMEE_OK)
                break;
            for (size_t i = 0; i < n && budget > 0; i++) {
                if (buf[i].time <= from || buf[i].time > to)
                    continue;
                if (skip > 0) {
                    skip--;
                    continue;
                }
                memset(&msg, 0, offsetof(cmee_message, payload));
                msg.payload[0] = '\0';
                snprintf(msg.topic, sizeof msg.topic, "%s", topic);
                msg.kind = CMEE_MSG_TICK;
                msg.time = buf[i].time;
                snprintf(msg.symbol, sizeof msg.symbol, "%s", sym);
                msg.tick = buf[i];
                cmee_broadcaster_publish(d->b, &msg);
                budget--;
            }
        }
    }
}

cmee_status cmee_driver_pump(cmee_driver *d, size_t *failed)
{
    if (!d)
        return CMEE_EINVAL;
    cmee_status first = CMEE_OK;
    size_t bad = 0;
    for (size_t i = 0; i < d->n; i++) {
        driven *x = &d->v[i];
        int64_t now;
        cmee_status st = cmee_session_advance(x->s, &now);
        if (st != CMEE_OK) {
            bad++;
            if (first == CMEE_OK)
                first = st;
            continue;
        }
        if (d->b && x->nsyms > 0 && now > x->published)
            publish_streams(d, x, x->published, now);
        x->published = now;
    }
    if (failed)
        *failed = bad;
    return first;
}
