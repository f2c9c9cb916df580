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

/* The query arguments that can be indicator parameters: every parameter name of the
 * library's table (cmee_ind_info::param_names), listed in main.c's route too. */
static const char *const ind_param_keys[] = {"period", "fast", "slow",  "signal", "up",  "down",
                                             "k",      "slowk", "slowd", "d",      "accel", "max",
                                             NULL};

/* The indicator's parameters from the query: defaults, then the ones given. 0, or -1 after
 * answering 400 naming the parameter. */
static int ind_query_params(httpd_req *r, const cmee_ind_info *info, double *params)
{
    for (size_t k = 0; k < info->nparams; k++)
        params[k] = info->param_defaults[k];
    for (size_t q = 0; ind_param_keys[q]; q++) {
        const char *v = httpd_req_query(r, ind_param_keys[q]);
        size_t k;
        char *end;
        if (!v)
            continue;
        for (k = 0; k < info->nparams; k++)
            if (strcmp(info->param_names[k], ind_param_keys[q]) == 0)
                break;
        if (k == info->nparams) {
            httpd_respond_error(r, 400, "invalid_parameter", "%s: not a parameter of %s",
                                ind_param_keys[q], info->name);
            return -1;
        }
        params[k] = strtod(v, &end);
        if (!*v || *end || !isfinite(params[k])) {
            httpd_respond_error(r, 400, "invalid_parameter", "%s: expected a number, got \"%.32s\"",
                                ind_param_keys[q], v);
            return -1;
        }
    }
    return 0;
}

/* GET /api/market/indicators: one indicator of the library (cmee_ind_compute(), as `cmee ind`)
 * over the last `limit` complete candles of the global market, computed over those plus the
 * indicator's lookback. */
void h_indicators(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    const char *sym = httpd_req_query(r, "symbol");
    const char *tfname = httpd_req_query(r, "timeframe");
    const char *name = httpd_req_query(r, "name");
    cmee_symbol_spec spec;
    cmee_timeframe tf;
    cmee_ind_id id;
    const cmee_ind_info *info;
    double params[CMEE_IND_MAX_PARAMS];
    int64_t limit = SRV_DEFAULT_CANDLES;
    size_t lookback;
    cmee_error err;
    cmee_status st;
    (void)caps;
    /* The global market up to the wall clock, or a session's market up to its own now. */
    const cmee_market *mkt = S->market;
    int64_t end = now_ms();
    if (sess) {
        cmee_clock ck;
        cmee_session_advance(sess->s, NULL);
        if (cmee_session_clock(sess->s, &ck) == CMEE_OK)
            end = ck.now;
        mkt = cmee_session_market(sess->s);
    }

    if (!sym || !*sym) {
        httpd_respond_error(r, 400, "missing_parameter", "symbol: required");
        return;
    }
    if (cmee_market_symbol(mkt, sym, &spec) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter", "symbol: unknown symbol \"%.32s\"", sym);
        return;
    }
    if (!tfname)
        tfname = "1m";
    if (cmee_timeframe_parse(tfname, &tf) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "timeframe: expected 1m, 5m, 15m, 1h, 4h or 1d, got \"%.16s\"", tfname);
        return;
    }
    if (!name || !*name) {
        httpd_respond_error(r, 400, "missing_parameter", "name: required");
        return;
    }
    if (cmee_ind_find(name, &id) != CMEE_OK || !(info = cmee_ind_info_get(id))) {
        httpd_respond_error(r, 400, "invalid_parameter", "name: unknown indicator \"%.32s\"",
                            name);
        return;
    }
    if (query_int(r, "limit", &limit) < 0)
        return;
    if (limit < 1) {
        httpd_respond_error(r, 400, "invalid_parameter", "limit: must be at least 1");
        return;
    }
    if (limit > SRV_MAX_CANDLES) {
        httpd_respond_error(r, 400, "limit_exceeded", "limit: at most %d, got %lld",
                            SRV_MAX_CANDLES, (long long)limit);
        return;
    }
    if (ind_query_params(r, info, params) != 0)
        return;
    /* Ranges and whole-number rules are the library's: its message names the parameter. */
    if ((st = cmee_ind_lookback(id, params, &lookback, &err)) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter", "%s",
                            err.text[0] ? err.text : cmee_status_str(st));
        return;
    }
    if (lookback > SRV_MAX_CANDLES) {
        httpd_respond_error(r, 400, "limit_exceeded",
                            "%s: these parameters need %zu candles of lookback, at most %d",
                            info->nparams ? info->param_names[0] : info->name, lookback,
                            SRV_MAX_CANDLES);
        return;
    }

    int64_t tfms = cmee_timeframe_ms(tf);
    size_t n = (size_t)limit + lookback, got = 0, no = info->noutputs;
    cmee_candle *c = malloc(sizeof *c * n);
    double *buf = malloc(sizeof *buf * n * (5 + no));
    double *out[CMEE_IND_MAX_OUTPUTS] = {NULL};
    cmee_series series;
    if (!c || !buf) {
        free(c), free(buf);
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    st = cmee_market_candles_last(mkt, sym, tf, end / tfms * tfms, n, c, n, &got);
    if (st == CMEE_OK)
        st = cmee_series_from_candles(c, got, buf, &series);
    for (size_t k = 0; k < no; k++)
        out[k] = buf + (5 + k) * n;
    if (st == CMEE_OK)
        st = cmee_ind_compute(id, params, &series, out, &err);
    if (st != CMEE_OK) {
        free(c), free(buf);
        httpd_respond_error(r, st == CMEE_ERANGE ? 400 : status_http(st),
                            st == CMEE_ERANGE ? "out_of_range" : status_code(st), "%s",
                            cmee_market_errmsg(mkt));
        return;
    }
    size_t first = got > (size_t)limit ? got - (size_t)limit : 0;
    json_t *times = json_array(), *outputs = json_object();
    for (size_t i = first; i < got; i++)
        json_array_append_new(times, json_integer((json_int_t)c[i].time));
    for (size_t k = 0; k < no; k++) {
        json_t *arr = json_array();
        for (size_t i = first; i < got; i++)
            json_array_append_new(arr, httpd_json_number(out[k][i]));
        json_object_set_new(outputs, info->output_names[k], arr);
    }
    free(c), free(buf);
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:s,s:s,s:o,s:o}", "symbol", sym, "timeframe",
                                 cmee_timeframe_name(tf), "name", info->name, "times", times,
                                 "outputs", outputs));
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
