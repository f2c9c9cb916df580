/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: the global market (its now is the wall clock): health, symbols, prices,
 * candles, and the streaming of ticks and closed candles on the broadcaster. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const cmee_timeframe all_tf[SRV_NTF] = {CMEE_TF_1M, CMEE_TF_5M, CMEE_TF_15M,
                                                CMEE_TF_1H, CMEE_TF_4H, CMEE_TF_1D};

int tf_index(cmee_timeframe tf)
{
    for (int i = 0; i < SRV_NTF; i++)
        if (all_tf[i] == tf)
            return i;
    return -1;
}

void h_health(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:s,s:I,s:I}", "status", "ok", "version", cmee_version(),
                                 "sessions", (json_int_t)S->nsessions, "ws_clients",
                                 (json_int_t)httpd_ws_count(S->http)));
}

void h_symbols(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    int64_t now = now_ms();
    json_t *arr = json_array();
    (void)caps, (void)sess;

    for (size_t i = 0; i < cmee_market_symbol_count(S->market); i++) {
        cmee_symbol_spec sp;
        double price = 0;
        if (cmee_market_symbol_at(S->market, i, &sp) != CMEE_OK)
            continue;
        cmee_market_price(S->market, sp.symbol, now, &price);
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:o,s:o,s:i,s:o}", "symbol", sp.symbol, "class",
                           cmee_asset_class_name(sp.asset_class), "price",
                           httpd_json_number(price), "tick_size", httpd_json_number(sp.tick_size),
                           "precision", sp.precision, "volatility",
                           httpd_json_number(sp.volatility)));
    }
    httpd_respond_json(r, 200, json_pack("{s:I,s:o}", "time", (json_int_t)now, "symbols", arr));
}

/* One entry of the prices answer. */
static json_t *price_json(const cmee_market *m, const char *sym, int64_t now)
{
    double p = 0, p24 = 0;
    if (cmee_market_price(m, sym, now, &p) != CMEE_OK)
        return NULL;
    if (cmee_market_price(m, sym, now - 86400000, &p24) != CMEE_OK)
        p24 = p;
    double change = p - p24;
    double pct = p24 > 0 ? change / p24 * 100.0 : 0.0;
    /* Round the derived figures to what people read: the change to 1e-10 (well below any
     * tick), the percentage to 1e-4 %. */
    change = round(change * 1e10) / 1e10;
    pct = round(pct * 1e4) / 1e4;
    return json_pack("{s:s,s:o,s:I,s:o,s:o,s:o}", "symbol", sym, "price", httpd_json_number(p),
                     "time", (json_int_t)now, "price_24h", httpd_json_number(p24), "change_24h",
                     httpd_json_number(change), "change_24h_pct", httpd_json_number(pct));
}

void h_prices(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    int64_t now = now_ms();
    const char *list = httpd_req_query(r, "symbols");
    json_t *arr = json_array();
    (void)caps, (void)sess;

    if (list) {
        char buf[1024];
        if (strlen(list) >= sizeof buf || !*list) {
            json_decref(arr);
            httpd_respond_error(r, 400, "invalid_parameter",
                                "symbols: expected a comma-separated list of symbols");
            return;
        }
        strcpy(buf, list);
        size_t count = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            cmee_symbol_spec sp;
            if (++count > 64 || cmee_market_symbol(S->market, tok, &sp) != CMEE_OK) {
                json_decref(arr);
                if (count > 64)
                    httpd_respond_error(r, 400, "invalid_parameter", "symbols: at most 64");
                else
                    httpd_respond_error(r, 400, "invalid_parameter",
                                        "symbols: unknown symbol \"%.32s\"", tok);
                return;
            }
            json_array_append_new(arr, price_json(S->market, tok, now));
        }
    } else {
        for (size_t i = 0; i < cmee_market_symbol_count(S->market); i++) {
            cmee_symbol_spec sp;
            if (cmee_market_symbol_at(S->market, i, &sp) == CMEE_OK)
                json_array_append_new(arr, price_json(S->market, sp.symbol, now));
        }
    }
    httpd_respond_json(r, 200, json_pack("{s:I,s:o}", "time", (json_int_t)now, "prices", arr));
}

void h_candles(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    answer_candles(S, r, S->market, NULL, now_ms());
}

/* ---- streaming ------------------------------------------------------------------------- */

sym_stream *stream_find(srv *S, const char *symbol)
{
    for (size_t i = 0; i < S->nstreams; i++)
        if (strcmp(S->streams[i].symbol, symbol) == 0)
            return &S->streams[i];
    return NULL;
}

/* Load the ticks of the minute containing @p t into the stream's cache. */
static int stream_minute(srv *S, sym_stream *st, int64_t t)
{
    int64_t minute = t / 60000 * 60000;
    if (st->cache_minute == minute)
        return 0;
    size_t n;
    if (cmee_market_ticks(S->market, st->symbol, minute, st->ticks, 600, &n) != CMEE_OK)
        return -1;
    st->nticks = n;
    st->cache_minute = minute;
    return 0;
}

static void stream_ticks(srv *S, sym_stream *st, int64_t now)
{
    /* After a stall, stream from the last minute only. */
    if (now - st->last_tick > 120000)
        st->last_tick = now - 60000;
    for (int64_t minute = (st->last_tick + 1) / 60000 * 60000; minute <= now; minute += 60000) {
        if (stream_minute(S, st, minute) != 0)
            return;
        for (size_t i = 0; i < st->nticks; i++) {
            const cmee_tick *t = &st->ticks[i];
            if (t->time > st->last_tick && t->time <= now) {
                cmee_broadcaster_publish_tick(S->bc, st->symbol, t);
                st->last_tick = t->time;
            }
        }
    }
    st->last_tick = now > st->last_tick ? now : st->last_tick;
}

static void stream_candles(srv *S, sym_stream *st, int k, int64_t now)
{
    cmee_timeframe tf = all_tf[k];
    int64_t tfms = cmee_timeframe_ms(tf);
    int64_t closed = now / tfms * tfms - tfms; /* open time of the newest closed candle */
    if (closed <= st->last_candle[k])
        return;
    int64_t from = st->last_candle[k] + tfms;
    if (from < closed - 9 * tfms)
        from = closed - 9 * tfms;
    cmee_candle c[10];
    size_t n;
    if (cmee_market_candles(S->market, st->symbol, tf, from, closed + tfms, c, 10, &n) ==
        CMEE_OK)
        for (size_t i = 0; i < n; i++)
            cmee_broadcaster_publish_candle(S->bc, st->symbol, tf, &c[i]);
    st->last_candle[k] = closed;
}

void market_pump(srv *S, int64_t now)
{
    for (size_t i = 0; i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        if (st->tick_subs > 0)
            stream_ticks(S, st, now);
        for (int k = 0; k < SRV_NTF; k++)
            if (st->candle_subs[k] > 0)
                stream_candles(S, st, k, now);
    }
}
