/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: small helpers (time, status mapping, request fields, money, candles). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server.h"

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int status_http(cmee_status st)
{
    switch (st) {
    case CMEE_OK: return 200;
    case CMEE_EINVAL: return 400;
    case CMEE_ERANGE: return 400;
    case CMEE_ENOTFOUND: return 404;
    case CMEE_EEXIST: return 409;
    case CMEE_ENOSPACE: return 422; /* insufficient funds */
    case CMEE_ESTATE: return 422;   /* halted market, order not open... */
    case CMEE_EBUSY: return 503;
    default: return 500;
    }
}

const char *status_code(cmee_status st)
{
    switch (st) {
    case CMEE_EINVAL: return "invalid_parameter";
    case CMEE_ERANGE: return "out_of_range";
    case CMEE_ENOTFOUND: return "not_found";
    case CMEE_EEXIST: return "conflict";
    case CMEE_ENOSPACE: return "insufficient_funds";
    case CMEE_ESTATE: return "refused";
    case CMEE_EBUSY: return "busy";
    case CMEE_ENOMEM: return "out_of_memory";
    default: return "internal";
    }
}

int body_number(httpd_req *r, const json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v)) {
        httpd_respond_error(r, 400, "invalid_parameter", "%s: expected a number", key);
        return -1;
    }
    double d = json_number_value(v);
    if (!isfinite(d)) {
        httpd_respond_error(r, 400, "invalid_parameter", "%s: expected a finite number", key);
        return -1;
    }
    *out = d;
    return 1;
}

int body_int(httpd_req *r, const json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    /* 60.0 is accepted as 60; 60.5 is not an integer. */
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (isfinite(d) && d == floor(d) && fabs(d) < 9e15) {
            *out = (int64_t)d;
            return 1;
        }
    }
    httpd_respond_error(r, 400, "invalid_parameter", "%s: expected an integer", key);
    return -1;
}

int body_string(httpd_req *r, const json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        httpd_respond_error(r, 400, "invalid_parameter", "%s: expected a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

int query_int(httpd_req *r, const char *key, int64_t *out)
{
    const char *s = httpd_req_query(r, key);
    char *end;
    if (!s)
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        httpd_respond_error(r, 400, "invalid_parameter", "%s: expected an integer, got \"%.32s\"",
                            key, s);
        return -1;
    }
    *out = v;
    return 1;
}

json_t *money_json(int64_t units)
{
    return httpd_json_number((double)units / (double)CMEE_MONEY_SCALE);
}

int money_from(double v, int64_t *units)
{
    double u = v * (double)CMEE_MONEY_SCALE;
    if (!isfinite(u) || fabs(u) > 9e18)
        return -1;
    *units = (int64_t)llround(u);
    return 0;
}

json_t *candle_json(const cmee_candle *c)
{
    return json_pack("[I,o,o,o,o,o]", (json_int_t)c->time, httpd_json_number(c->open),
                     httpd_json_number(c->high), httpd_json_number(c->low),
                     httpd_json_number(c->close), httpd_json_number(c->volume));
}

/* ---- sbuf ------------------------------------------------------------------------------- */

void sb_put(sbuf *b, const void *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

void sb_int(sbuf *b, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[--i] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        tmp[--i] = '-';
    sb_put(b, tmp + i, sizeof tmp - i);
}

void sb_json(sbuf *b, json_t *j, size_t head, size_t tail)
{
    size_t len;
    char *text = httpd_json_dumps(j, &len);
    json_decref(j);
    if (!text || len < head + tail) {
        b->failed = true;
        free(text);
        return;
    }
    sb_put(b, text + head, len - head - tail);
    free(text);
}

void sb_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

bool ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* ---- candles ---------------------------------------------------------------------------- */

void candle_fold(cmee_candle *acc, bool *have, const cmee_candle *c)
{
    if (!*have) {
        acc->time = c->time;
        acc->open = c->open;
        acc->high = c->high;
        acc->low = c->low;
        acc->volume = 0;
        *have = true;
    }
    if (c->high > acc->high)
        acc->high = c->high;
    if (c->low < acc->low)
        acc->low = c->low;
    acc->close = c->close;
    acc->volume += c->volume;
}

static void fold_tick(cmee_candle *acc, bool *have, const cmee_tick *t)
{
    cmee_candle c = {t->time, t->price, t->price, t->price, t->price, t->volume};
    candle_fold(acc, have, &c);
}

/* The candle of @p tf forming at @p now: the complete 1m candles since it opened and the
 * ticks of the current minute up to @p now. Never a price after now. */
static cmee_status forming_candle(const cmee_market *m, const char *sym, cmee_timeframe tf,
                                  int64_t now, cmee_candle *out)
{
    int64_t tfms = cmee_timeframe_ms(tf);
    int64_t start = now / tfms * tfms, minute = now / 60000 * 60000;
    cmee_candle acc = {0};
    bool have = false;
    cmee_status st;

    if (minute > start) {
        cmee_candle *base;
        size_t n;
        st = cmee_market_candles_alloc(m, sym, CMEE_TF_1M, start, minute, &base, &n);
        if (st != CMEE_OK)
            return st;
        for (size_t i = 0; i < n; i++)
            candle_fold(&acc, &have, &base[i]);
        cmee_market_release(m, base);
    }
    cmee_tick ticks[600];
    size_t nt;
    st = cmee_market_ticks(m, sym, now, ticks, 600, &nt);
    if (st != CMEE_OK)
        return st;
    for (size_t i = 0; i < nt && ticks[i].time <= now; i++)
        fold_tick(&acc, &have, &ticks[i]);
    acc.time = start;
    *out = acc;
    return CMEE_OK;
}

static void candles_failed(httpd_req *r, const cmee_market *m, cmee_status st)
{
    if (st == CMEE_ERANGE)
        httpd_respond_error(r, 400, "out_of_range", "%s", cmee_market_errmsg(m));
    else
        httpd_respond_error(r, status_http(st), status_code(st), "%s", cmee_market_errmsg(m));
}

void answer_candles(srv *S, httpd_req *r, const cmee_market *m, srv_session *sess,
                    int64_t now)
{
    const char *sym = httpd_req_query(r, "symbol");
    const char *tfname = httpd_req_query(r, "timeframe");
    cmee_timeframe tf;
    int64_t limit = 0, from = 0, to = 0;
    int hl, hf, ht;
    cmee_symbol_spec spec;

    if (!sym || !*sym) {
        httpd_respond_error(r, 400, "missing_parameter", "symbol: required");
        return;
    }
    if (cmee_market_symbol(m, sym, &spec) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter", "symbol: unknown symbol \"%.32s\"", sym);
        return;
    }
    if (sess) {
        /* A session shows only the symbols it trades. */
        cmee_session_config cfg;
        cmee_session_config_get(sess->s, &cfg);
        bool ok = cfg.nsymbols == 0;
        for (size_t i = 0; i < cfg.nsymbols; i++)
            if (strcmp(cfg.symbols[i], sym) == 0)
                ok = true;
        if (!ok) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "symbol: \"%.32s\" is not traded in this session", sym);
            return;
        }
    }
    if (!tfname)
        tfname = "1m";
    if (cmee_timeframe_parse(tfname, &tf) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "timeframe: expected 1m, 5m, 15m, 1h, 4h or 1d, got \"%.16s\"", tfname);
        return;
    }
    if ((hl = query_int(r, "limit", &limit)) < 0 || (hf = query_int(r, "from", &from)) < 0 ||
        (ht = query_int(r, "to", &to)) < 0)
        return;
    if (hl && (hf || ht)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "limit: give either limit or from/to, not both");
        return;
    }
    if (ht && !hf) {
        httpd_respond_error(r, 400, "missing_parameter", "from: required with to");
        return;
    }
    int64_t tfms = cmee_timeframe_ms(tf);
    int64_t forming_open = now / tfms * tfms;
    cmee_candle *buf = NULL;
    size_t n = 0;
    bool add_forming = false;
    cmee_status st;

    if (!hf) {
        if (!hl)
            limit = SRV_DEFAULT_CANDLES;
        if (limit < 1) {
            httpd_respond_error(r, 400, "invalid_parameter", "limit: must be at least 1");
            return;
        }
        if (limit > SRV_MAX_CANDLES) {
            httpd_respond_error(r, 400, "limit_exceeded", "limit: at most %d, got %lld",
                                SRV_MAX_CANDLES, (long long)limit);
            return;
        }
        if (!sess && m == S->market && candles_cached(S, r, spec.symbol, tf, limit, now))
            return;
        buf = malloc(sizeof *buf * (size_t)limit);
        if (!buf) {
            httpd_respond_error(r, 500, "out_of_memory", "out of memory");
            return;
        }
        if (sess) {
            st = cmee_session_candles(sess->s, sym, tf, (size_t)limit, buf, (size_t)limit, &n);
            if (st != CMEE_OK) {
                free(buf);
                httpd_respond_error(r, status_http(st), status_code(st), "%s",
                                    cmee_session_errmsg(sess->s));
                return;
            }
        } else {
            if (limit > 1) {
                st = cmee_market_candles_last(m, sym, tf, forming_open, (size_t)limit - 1, buf,
                                              (size_t)limit, &n);
                if (st != CMEE_OK) {
                    free(buf);
                    candles_failed(r, m, st);
                    return;
                }
            }
            add_forming = true;
        }
    } else {
        if (from < CMEE_TIME_MIN || from >= CMEE_TIME_MAX) {
            httpd_respond_error(r, 400, "out_of_range",
                                "from: must be a time in ms within the series (2000-01-01 on)");
            return;
        }
        if (!ht || to > now + 1)
            to = now + 1; /* nothing after now */
        if (to <= from) {
            n = 0;
        } else {
            int64_t complete_to = to < forming_open ? to : forming_open;
            int64_t span = (to - from + tfms - 1) / tfms;
            if (span > SRV_MAX_CANDLES) {
                httpd_respond_error(r, 400, "limit_exceeded",
                                    "from: the range holds more than %d candles",
                                    SRV_MAX_CANDLES);
                return;
            }
            buf = malloc(sizeof *buf * (size_t)(span + 2));
            if (!buf) {
                httpd_respond_error(r, 500, "out_of_memory", "out of memory");
                return;
            }
            if (complete_to > from) {
                st = cmee_market_candles(m, sym, tf, from, complete_to, buf, (size_t)span + 2,
                                         &n);
                if (st != CMEE_OK) {
                    free(buf);
                    candles_failed(r, m, st);
                    return;
                }
            }
            add_forming = forming_open >= from && forming_open < to;
        }
    }
    if (add_forming) {
        cmee_candle c;
        st = forming_candle(m, sym, tf, now, &c);
        if (st != CMEE_OK) {
            free(buf);
            candles_failed(r, m, st);
            return;
        }
        buf[n++] = c;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, candle_json(&buf[i]));
    free(buf);
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:s,s:o}", "symbol", sym, "timeframe",
                                 cmee_timeframe_name(tf), "candles", arr));
}
