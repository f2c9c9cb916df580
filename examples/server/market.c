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

/* ---- prices: cached per tick ------------------------------------------------------------ */

/* The price of the global market at @p t is a function of the newest tick at or before t
 * (cmee_market_price()). The ticks of a minute are generated once into @p tm, so a price costs
 * a scan of at most 600 ticks instead of generating an hour of candles and the minute's ticks;
 * @p tick_time says which tick it is, so that answers built from it can be cached until the
 * next tick. */
cmee_status sym_price(srv *S, sym_stream *st, tick_minute *tm, int64_t t, double *price,
                      int64_t *tick_time)
{
    int64_t minute = t / 60000 * 60000;
    if (tm->minute != minute || minute == 0) {
        size_t n;
        cmee_status rc = cmee_market_ticks(S->market, st->symbol, t, tm->t, 600, &n);
        if (rc != CMEE_OK)
            return rc;
        tm->n = n;
        tm->last = 0;
        tm->minute = minute;
    }
    /* The same scan as cmee_market_price() (the first tick is at the minute's open), from the
     * tick found last time when t has not gone back before it. */
    size_t i = tm->last < tm->n && tm->t[tm->last].time <= t ? tm->last : 0;
    while (i + 1 < tm->n && tm->t[i + 1].time <= t)
        i++;
    tm->last = i;
    *price = tm->t[i].price;
    if (tick_time)
        *tick_time = tm->t[i].time;
    return CMEE_OK;
}

void h_symbols(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    int64_t now = public_now(S);
    json_t *arr = json_array();
    (void)caps, (void)sess;

    for (size_t i = 0; i < cmee_market_symbol_count(S->market); i++) {
        cmee_symbol_spec sp;
        double price = 0;
        if (cmee_market_symbol_at(S->market, i, &sp) != CMEE_OK)
            continue;
        sym_stream *st = stream_find(S, sp.symbol);
        if (st && st->disabled)
            continue;
        if (st)
            sym_price(S, st, &st->now_ticks, now, &price, NULL);
        else
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

/* One entry of the prices answer, {"symbol","price","time","price_24h","change_24h",
 * "change_24h_pct"}, appended to @p b. Everything in it but "time" (the request's now) is a
 * function of the two ticks the prices come from, so the JSON text around "time" is made by
 * jansson once per tick pair and reused until either tick changes. @returns 0, or -1 if the
 * symbol has no price. */
static int price_entry(srv *S, sym_stream *st, int64_t now, const sbuf *now_text, sbuf *b)
{
    double p = 0, p24 = 0;
    int64_t k = 0, k24 = 0;
    if (sym_price(S, st, &st->now_ticks, now, &p, &k) != CMEE_OK)
        return -1;
    if (sym_price(S, st, &st->ago_ticks, now - 86400000, &p24, &k24) != CMEE_OK) {
        p24 = p;
        k24 = -1;
    }
    if (!st->entry_head || k != st->price_key || k24 != st->price24_key) {
        double change = p - p24;
        double pct = p24 > 0 ? change / p24 * 100.0 : 0.0;
        /* Round the derived figures to what people read: the change to 1e-10 (well below any
         * tick), the percentage to 1e-4 %. */
        change = round(change * 1e10) / 1e10;
        pct = round(pct * 1e4) / 1e4;
        sbuf head = {0}, tail = {0};
        /* {"symbol":..,"price":..} without its '}', then ,"time": */
        sb_json(&head, json_pack("{s:s,s:o}", "symbol", st->symbol, "price",
                                 httpd_json_number(p)), 0, 1);
        sb_str(&head, ",\"time\":");
        /* {"price_24h":..,...} without its '{', after a ',' */
        sb_str(&tail, ",");
        sb_json(&tail, json_pack("{s:o,s:o,s:o}", "price_24h", httpd_json_number(p24),
                                 "change_24h", httpd_json_number(change), "change_24h_pct",
                                 httpd_json_number(pct)), 1, 0);
        if (head.failed || tail.failed) {
            sb_free(&head);
            sb_free(&tail);
            b->failed = true;
            return 0;
        }
        free(st->entry_head);
        free(st->entry_tail);
        st->entry_head = head.p;
        st->entry_head_len = head.len;
        st->entry_tail = tail.p;
        st->entry_tail_len = tail.len;
        st->price_key = k;
        st->price24_key = k24;
    }
    sb_put(b, st->entry_head, st->entry_head_len);
    sb_put(b, now_text->p, now_text->len);
    sb_put(b, st->entry_tail, st->entry_tail_len);
    return 0;
}

void h_prices(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    int64_t now = public_now(S);
    const char *list = httpd_req_query(r, "symbols");
    sym_stream *pick[64];
    size_t npick = 0;
    (void)caps, (void)sess;

    if (list) {
        char buf[1024];
        if (strlen(list) >= sizeof buf || !*list) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "symbols: expected a comma-separated list of symbols");
            return;
        }
        strcpy(buf, list);
        size_t count = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            sym_stream *st = NULL;
            if (++count > 64 || !(st = stream_find(S, tok))) {
                if (count > 64)
                    httpd_respond_error(r, 400, "invalid_parameter", "symbols: at most 64");
                else
                    httpd_respond_error(r, 400, "invalid_parameter",
                                        "symbols: unknown symbol \"%.32s\"", tok);
                return;
            }
            if (st->disabled) {
                httpd_respond_error(r, 404, "symbol_disabled",
                                    "symbols: \"%.32s\" is disabled on the public market", tok);
                return;
            }
            pick[npick++] = st;
        }
    }
    /* The answer as jansson would print {"time":now,"prices":[entry,...]}. */
    sbuf b = {0}, now_text = {0};
    sb_int(&now_text, now);
    sb_str(&b, "{\"time\":");
    sb_put(&b, now_text.p, now_text.len);
    sb_str(&b, ",\"prices\":[");
    size_t n = list ? npick : S->nstreams, written = 0;
    for (size_t i = 0; i < n; i++) {
        sym_stream *st = list ? pick[i] : &S->streams[i];
        if (st->disabled)
            continue;
        size_t mark = b.len;
        if (written)
            sb_str(&b, ",");
        if (price_entry(S, st, now, &now_text, &b) != 0) {
            b.len = mark; /* no price: left out, as before */
            continue;
        }
        written++;
    }
    sb_str(&b, "]}");
    if (b.failed || now_text.failed)
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
    else
        httpd_respond(r, 200, NULL, b.p, b.len);
    sb_free(&b);
    sb_free(&now_text);
}

void h_candles(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    const char *sym = httpd_req_query(r, "symbol");
    (void)caps, (void)sess;
    if (sym && symbol_disabled(S, sym)) {
        httpd_respond_error(r, 404, "symbol_disabled", "symbol: \"%.32s\" is disabled on the public market", sym);
        return;
    }
    answer_candles(S, r, S->market, NULL, public_now(S));
}

/* ---- candles: cached windows ----------------------------------------------------------------
 *
 * The ?limit=N answer is the N - 1 complete candles before the forming one, which never
 * change, and the forming candle, which changes only when a tick arrives. Everything in it is
 * a function of (symbol, timeframe, N, T) where T is the newest tick at or before now: the
 * forming candle opens at floor(now / tf) x tf = floor(T / tf) x tf (each minute's first tick
 * is at its open, so T and now are in the same minute), and "ticks up to now" are "ticks up
 * to T". So an answer made for T is the answer for every now until the next tick, and it is
 * computed here for T itself. An entry keeps the JSON text of the complete candles (made once
 * per forming candle), the complete 1m candles of the forming one folded so far, and the
 * whole answer for its last T. */

static candle_cache *cache_slot(srv *S, const char *sym, cmee_timeframe tf, int64_t limit,
                                int64_t open)
{
    candle_cache *lru = &S->candles[0];
    for (size_t i = 0; i < SRV_CANDLE_CACHE; i++) {
        candle_cache *c = &S->candles[i];
        if (c->symbol[0] && c->tf == tf && c->limit == limit && c->open == open &&
            strcmp(c->symbol, sym) == 0)
            return c;
        if (c->used < lru->used)
            lru = c;
    }
    /* A new entry in the least recently used slot. */
    sb_free(&lru->body);
    memset(lru, 0, sizeof *lru);
    snprintf(lru->symbol, sizeof lru->symbol, "%s", sym);
    lru->tf = tf;
    lru->limit = limit;
    lru->open = open;
    return lru;
}

static void cache_drop(candle_cache *c)
{
    sb_free(&c->body);
    memset(c, 0, sizeof *c);
}

/* The prefix of the answer and the complete candles: {"symbol":..,"timeframe":..,"candles":[
 * then [t,o,h,l,c,v],... (no trailing comma), after HTTPD_HEADROOM bytes where the HTTP headers
 * go when it is sent (httpd_respond_inplace(): a 28 KB answer is not copied per request). */
static cmee_status cache_fill(srv *S, candle_cache *c)
{
    static const char room[HTTPD_HEADROOM];
    sb_put(&c->body, room, sizeof room);
    sb_json(&c->body, json_pack("{s:s,s:s}", "symbol", c->symbol, "timeframe",
                                cmee_timeframe_name(c->tf)), 0, 1);
    sb_str(&c->body, ",\"candles\":[");
    if (c->limit > 1) {
        size_t count = (size_t)c->limit - 1, n = 0;
        cmee_candle *buf = malloc(sizeof *buf * count);
        if (!buf)
            return CMEE_ENOMEM;
        cmee_status st = cmee_market_candles_last(S->market, c->symbol, c->tf, c->open, count,
                                                  buf, count, &n);
        if (st != CMEE_OK) {
            free(buf);
            return st;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, candle_json(&buf[i]));
        free(buf);
        if (n)
            sb_json(&c->body, arr, 1, 1); /* the array's elements without its brackets */
        else
            json_decref(arr);
    }
    c->keep = c->body.len;
    c->folded_to = c->open;
    return c->body.failed ? CMEE_ENOMEM : CMEE_OK;
}

/* The forming candle as of tick time @p t (the newest tick at or before now, whose minute's
 * ticks are in @p tm): the complete 1m candles since it opened, then the minute's ticks up to
 * t. The same numbers as forming_candle() in util.c computes for now. */
static cmee_status cache_forming(srv *S, candle_cache *c, const tick_minute *tm, int64_t t,
                                 cmee_candle *out)
{
    int64_t minute = t / 60000 * 60000;
    if (c->folded_to > minute) { /* cannot happen: the entry's open is t's candle */
        c->folded_to = c->open;
        c->have_fold = false;
    }
    if (minute > c->folded_to) {
        cmee_candle *base;
        size_t n;
        cmee_status st = cmee_market_candles_alloc(S->market, c->symbol, CMEE_TF_1M,
                                                   c->folded_to, minute, &base, &n);
        if (st != CMEE_OK)
            return st;
        for (size_t i = 0; i < n; i++)
            candle_fold(&c->fold, &c->have_fold, &base[i]);
        cmee_market_release(S->market, base);
        c->folded_to = minute;
    }
    cmee_candle acc = c->fold;
    bool have = c->have_fold;
    for (size_t i = 0; i < tm->n && tm->t[i].time <= t; i++) {
        cmee_candle k = {tm->t[i].time, tm->t[i].price, tm->t[i].price, tm->t[i].price,
                         tm->t[i].price, tm->t[i].volume};
        candle_fold(&acc, &have, &k);
    }
    acc.time = c->open;
    *out = acc;
    return CMEE_OK;
}

bool candles_cached(srv *S, httpd_req *r, const char *sym, cmee_timeframe tf, int64_t limit,
                    int64_t now)
{
    sym_stream *st = stream_find(S, sym);
    double price;
    int64_t t;
    if (!st || sym_price(S, st, &st->now_ticks, now, &price, &t) != CMEE_OK)
        return false;
    int64_t tfms = cmee_timeframe_ms(tf);
    candle_cache *c = cache_slot(S, sym, tf, limit, t / tfms * tfms);
    c->used = ++S->candles_clock;
    if (c->tick != t) {
        cmee_candle f;
        cmee_status rc = CMEE_OK;
        if (c->keep == 0)
            rc = cache_fill(S, c);
        if (rc == CMEE_OK)
            rc = cache_forming(S, c, &st->now_ticks, t, &f);
        if (rc != CMEE_OK) {
            /* Let the uncached path give the error (e.g. a window before the series). */
            cache_drop(c);
            return false;
        }
        c->body.len = c->keep;
        if (c->keep > 0 && c->body.p[c->keep - 1] != '[')
            sb_str(&c->body, ",");
        sb_json(&c->body, candle_json(&f), 0, 0);
        sb_str(&c->body, "]}");
        if (c->body.failed) {
            cache_drop(c);
            return false;
        }
        c->tick = t;
    }
    httpd_respond_inplace(r, 200, NULL, c->body.p + HTTPD_HEADROOM,
                          c->body.len - HTTPD_HEADROOM);
    return true;
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
    int64_t end = sess ? now_ms() : public_now(S);
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
    if (!sess && symbol_disabled(S, sym)) {
        httpd_respond_error(r, 404, "symbol_disabled", "symbol: \"%.32s\" is disabled on the public market", sym);
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

/* The wall time of the next thing market_pump() publishes: the next tick of a symbol whose
 * ticks are watched (ticks_per_minute ticks at minute + floor(i x 60000 / n), as
 * cmee_market_ticks() places them), or the next minute's start when candles are watched. */
int64_t market_next_event(srv *S, int64_t now)
{
    int64_t next = -1, minute = now / 60000 * 60000;
    for (size_t i = 0; i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        bool candles = false;
        for (int k = 0; k < SRV_NTF; k++)
            candles = candles || st->candle_subs[k] > 0;
        int64_t t = -1;
        if (st->tick_subs > 0) {
            cmee_symbol_spec sp;
            if (cmee_market_symbol(S->market, st->symbol, &sp) != CMEE_OK)
                continue;
            int64_t n = sp.ticks_per_minute, off = now - minute;
            int64_t k = ((off + 1) * n + 59999) / 60000; /* the first k with floor(k*60000/n) > off */
            t = k < n ? minute + k * 60000 / n : minute + 60000;
        } else if (candles) {
            t = minute + 60000;
        }
        if (t >= 0 && (next < 0 || t < next))
            next = t;
    }
    return next;
}

void market_cache_free(srv *S)
{
    for (size_t i = 0; i < SRV_CANDLE_CACHE; i++)
        cache_drop(&S->candles[i]);
    for (size_t i = 0; S->streams && i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        free(st->entry_head);
        free(st->entry_tail);
        st->entry_head = st->entry_tail = NULL;
        for (size_t k = 0; k < 600; k++) {
            httpd_msg_unref(st->bf[k]);
            st->bf[k] = NULL;
        }
        st->bf_minute = 0;
    }
}

void market_pump(srv *S, int64_t now)
{
    for (size_t i = 0; i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        if (st->disabled)
            continue; /* off the public market: nothing is published */
        if (st->tick_subs > 0)
            stream_ticks(S, st, now);
        ws_micro_pump(S, st, now);
        for (int k = 0; k < SRV_NTF; k++)
            if (st->candle_subs[k] > 0)
                stream_candles(S, st, k, now);
    }
}
