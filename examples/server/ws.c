/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: the /ws WebSocket feed. Each connection has one cmee_subscriber in the
 * server's subscriber group; subscribe/unsubscribe operations add and remove its patterns.
 * The loop watches the group's eventfd and, when it is readable, drains the members that have
 * messages into their connections' bounded send queues (httpd drops what a slow client cannot
 * take, so no client holds up another). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static const char *const channel_names[] = {"ticks", "candles", "session", "orderbook",
                                            "trades"};

struct wsconn {
    srv *S;
    httpd_ws *ws;
    cmee_subscriber *sub;
    wsub subs[SRV_WS_MAX_SUBS];
    size_t nsubs;
    wsconn *next; /* hash chain */
};

/* ---- subscriber -> connection ----------------------------------------------------------- */

static size_t bucket_of(const cmee_subscriber *sub)
{
    return (size_t)(((uintptr_t)sub >> 4) * 2654435761u) % 1024;
}

static wsconn *conn_of(srv *S, const cmee_subscriber *sub)
{
    for (wsconn *c = S->ws_buckets[bucket_of(sub)]; c; c = c->next)
        if (c->sub == sub)
            return c;
    return NULL;
}

static void conn_unlink(srv *S, wsconn *c)
{
    wsconn **pp = &S->ws_buckets[bucket_of(c->sub)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void send_error(httpd_ws *ws, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void send_error(httpd_ws *ws, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The message may quote what the client sent: keep it valid UTF-8 for JSON. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    httpd_ws_send_json(ws, json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "code", code,
                                     "message", msg));
}

static json_t *sub_json(const char *type, const wsub *s)
{
    static const char *const tfn[SRV_NTF] = {"1m", "5m", "15m", "1h", "4h", "1d"};
    json_t *j = json_pack("{s:s,s:s}", "type", type, "channel", channel_names[s->ch]);
    if (s->ch != CH_SESSION)
        json_object_set_new(j, "symbol", json_string(s->symbol));
    if (s->ch == CH_CANDLES)
        json_object_set_new(j, "timeframe", json_string(tfn[s->tf]));
    if (s->ch == CH_SESSION)
        json_object_set_new(j, "id", json_string(s->id));
    if (s->ch == CH_ORDERBOOK)
        json_object_set_new(j, "depth", json_integer(s->depth));
    return j;
}

static json_t *tick_json(const char *chan, const char *symbol, const cmee_tick *t)
{
    return json_pack("{s:s,s:s,s:I,s:o,s:o}", "channel", chan, "symbol", symbol, "time",
                     (json_int_t)t->time, "price", httpd_json_number(t->price), "volume",
                     httpd_json_number(t->volume));
}

/* ---- patterns of a subscription ------------------------------------------------------------ */

static int sub_patterns(const wsub *s, char pats[2][CMEE_TOPIC_MAX])
{
    static const cmee_timeframe tfs[SRV_NTF] = {CMEE_TF_1M, CMEE_TF_5M, CMEE_TF_15M,
                                                CMEE_TF_1H, CMEE_TF_4H, CMEE_TF_1D};
    switch (s->ch) {
    case CH_TICKS:
        return cmee_topic_ticks(pats[0], CMEE_TOPIC_MAX, s->symbol) == CMEE_OK ? 1 : -1;
    case CH_CANDLES:
        return cmee_topic_candles(pats[0], CMEE_TOPIC_MAX, s->symbol, tfs[s->tf]) == CMEE_OK
                   ? 1
                   : -1;
    case CH_SESSION:
        if (cmee_topic_session(pats[0], CMEE_TOPIC_MAX, s->id) != CMEE_OK)
            return -1;
        if (!s->ticks)
            return 1;
        memcpy(pats[1], pats[0], CMEE_TOPIC_MAX);
        if (strlen(pats[1]) + 3 > CMEE_TOPIC_MAX)
            return -1;
        strcat(pats[1], ".*");
        return 2;
    case CH_ORDERBOOK:
    case CH_TRADES:
        return 0; /* sent by ws_micro_pump(), not through the broadcaster */
    }
    return -1;
}

static bool sub_same(const wsub *a, const wsub *b)
{
    if (a->ch != b->ch)
        return false;
    if (a->ch == CH_SESSION)
        return strcmp(a->id, b->id) == 0;
    if (a->ch == CH_ORDERBOOK)
        return strcmp(a->symbol, b->symbol) == 0 && a->depth == b->depth;
    return strcmp(a->symbol, b->symbol) == 0 &&
           (a->ch == CH_TICKS || a->ch == CH_TRADES || a->tf == b->tf);
}

/* Count a subscription in the server's streaming state (delta +1 or -1). */
static void sub_count(srv *S, const wsub *s, int delta)
{
    int64_t now = public_now(S);
    if (s->ch == CH_SESSION) {
        srv_session *ss = session_find(S, s->id);
        if (!ss || !s->ticks)
            return;
        ss->ws_subs += delta;
        if ((delta > 0 && ss->ws_subs == 1) || (delta < 0 && ss->ws_subs == 0)) {
            /* Watch the session's symbols while someone follows its ticks. */
            cmee_session_config cfg;
            const char *names[CMEE_SESSION_MAX_SYMBOLS + 64];
            cmee_symbol_spec specs[64];
            size_t n = 0;
            if (ss->ws_subs > 0 && cmee_session_config_get(ss->s, &cfg) == CMEE_OK) {
                if (cfg.nsymbols) {
                    for (size_t i = 0; i < cfg.nsymbols; i++)
                        names[n++] = cfg.symbols[i];
                } else {
                    const cmee_market *m = cmee_session_market(ss->s);
                    for (size_t i = 0; i < cmee_market_symbol_count(m) && n < 64; i++)
                        if (cmee_market_symbol_at(m, i, &specs[n]) == CMEE_OK) {
                            names[n] = specs[n].symbol;
                            n++;
                        }
                }
            }
            cmee_driver_add(S->driver, ss->s, names, n);
        }
        return;
    }
    sym_stream *st = stream_find(S, s->symbol);
    if (!st)
        return;
    if (s->ch == CH_TRADES) {
        if (delta > 0 && st->trade_subs == 0)
            st->last_trade = now;
        st->trade_subs += delta;
        st->tick_subs += delta; /* wakes the pump at every tick */
        return;
    }
    if (s->ch == CH_ORDERBOOK) {
        /* The feed of this depth: running, or just claimed by feed_claim() (a released slot
         * has depth 0, so it cannot be mistaken for it). */
        for (int i = 0; i < SRV_BOOK_FEEDS; i++)
            if (st->books[i].depth == s->depth && (st->books[i].subs > 0 || delta > 0)) {
                st->books[i].subs += delta;
                if (st->books[i].subs == 0)
                    st->books[i].depth = 0;
                break;
            }
        st->tick_subs += delta;
        return;
    }
    if (s->ch == CH_TICKS) {
        if (delta > 0 && st->tick_subs == 0)
            st->last_tick = now;
        st->tick_subs += delta;
    } else {
        if (delta > 0 && st->candle_subs[s->tf] == 0) {
            static const int64_t tfms[SRV_NTF] = {60000, 300000, 900000, 3600000, 14400000,
                                                  86400000};
            st->last_candle[s->tf] = now / tfms[s->tf] * tfms[s->tf] - tfms[s->tf];
        }
        st->candle_subs[s->tf] += delta;
    }
}

/* The ticks of the current minute already streamed, so that a new subscriber can fold the
 * minute's candle from its first tick. */
static void send_backfill(wsconn *c, const wsub *s)
{
    srv *S = c->S;
    sym_stream *st = stream_find(S, s->symbol);
    cmee_tick ticks[600];
    size_t n;
    if (!st || cmee_market_ticks(S->market, s->symbol, st->last_tick, ticks, 600, &n) != CMEE_OK)
        return;
    /* The same messages go to every subscriber of the minute: encode each tick once. */
    int64_t minute = st->last_tick / 60000 * 60000;
    if (st->bf_minute != minute) {
        for (size_t i = 0; i < 600; i++) {
            httpd_msg_unref(st->bf[i]);
            st->bf[i] = NULL;
        }
        st->bf_minute = minute;
    }
    for (size_t i = 0; i < n && ticks[i].time <= st->last_tick; i++) {
        if (!st->bf[i])
            st->bf[i] = httpd_msg_json(tick_json("ticks", s->symbol, &ticks[i]));
        if (st->bf[i])
            httpd_ws_send_msg(c->ws, st->bf[i]);
    }
}

static void sub_release(wsconn *c, const wsub *s)
{
    char pats[2][CMEE_TOPIC_MAX];
    int np = sub_patterns(s, pats);
    for (int i = 0; i < np; i++)
        cmee_subscriber_remove_pattern(c->sub, pats[i]);
    sub_count(c->S, s, -1);
}

/* ---- operations ---------------------------------------------------------------------------- */

/* Fill @p why and return -1: the error half of srv_parse_ws_sub(). */
static int sub_error(const char **code, char *why, size_t cap, const char *c, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int sub_error(const char **code, char *why, size_t cap, const char *c, const char *fmt, ...)
{
    va_list ap;
    *code = c;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

int srv_parse_ws_sub(const json_t *m, const cmee_market *market,
                     bool (*session_exists)(void *ctx, const char *id), void *ctx, wsub *s,
                     const char **code, char *why, size_t cap)
{
    const char *ch = json_string_value(json_object_get(m, "channel"));
    memset(s, 0, sizeof *s);
    if (!ch)
        return sub_error(code, why, cap, "missing_parameter",
                         "channel: required (ticks, candles, session, orderbook or trades)");
    if (strcmp(ch, "ticks") == 0 || strcmp(ch, "candles") == 0) {
        const char *sym = json_string_value(json_object_get(m, "symbol"));
        cmee_symbol_spec sp;
        s->ch = ch[0] == 't' ? CH_TICKS : CH_CANDLES;
        if (!sym)
            return sub_error(code, why, cap, "missing_parameter", "symbol: required");
        if (cmee_market_symbol(market, sym, &sp) != CMEE_OK)
            return sub_error(code, why, cap, "invalid_parameter",
                             "symbol: unknown symbol \"%.32s\"", sym);
        snprintf(s->symbol, sizeof s->symbol, "%s", sp.symbol);
        if (s->ch == CH_CANDLES) {
            json_t *tfj = json_object_get(m, "timeframe");
            const char *tfn = tfj ? json_string_value(tfj) : "1m";
            cmee_timeframe tf;
            if (!tfn || cmee_timeframe_parse(tfn, &tf) != CMEE_OK)
                return sub_error(code, why, cap, "invalid_parameter",
                                 "timeframe: expected 1m, 5m, 15m, 1h, 4h or 1d");
            s->tf = tf_index(tf);
        }
        return 0;
    }
    if (strcmp(ch, "orderbook") == 0 || strcmp(ch, "trades") == 0) {
        const char *sym = json_string_value(json_object_get(m, "symbol"));
        cmee_symbol_spec sp;
        s->ch = ch[0] == 'o' ? CH_ORDERBOOK : CH_TRADES;
        if (!sym)
            return sub_error(code, why, cap, "missing_parameter", "symbol: required");
        if (cmee_market_symbol(market, sym, &sp) != CMEE_OK)
            return sub_error(code, why, cap, "invalid_parameter",
                             "symbol: unknown symbol \"%.32s\"", sym);
        snprintf(s->symbol, sizeof s->symbol, "%s", sp.symbol);
        if (s->ch == CH_ORDERBOOK) {
            json_t *dj = json_object_get(m, "depth");
            s->depth = 20;
            if (dj) {
                if (!json_is_integer(dj) || json_integer_value(dj) < 1 ||
                    json_integer_value(dj) > CMEE_BOOK_MAX_DEPTH)
                    return sub_error(code, why, cap, "invalid_parameter",
                                     "depth: expected an integer from 1 to %d",
                                     CMEE_BOOK_MAX_DEPTH);
                s->depth = (int)json_integer_value(dj);
            }
        }
        return 0;
    }
    if (strcmp(ch, "session") == 0) {
        const char *id = json_string_value(json_object_get(m, "id"));
        json_t *tk = json_object_get(m, "ticks");
        s->ch = CH_SESSION;
        s->ticks = !tk || json_is_true(tk);
        if (!id)
            return sub_error(code, why, cap, "missing_parameter", "id: required");
        if (strlen(id) >= CMEE_SESSION_ID_MAX || !session_exists(ctx, id))
            return sub_error(code, why, cap, "not_found", "id: no session \"%.40s\"", id);
        snprintf(s->id, sizeof s->id, "%s", id);
        return 0;
    }
    return sub_error(code, why, cap, "invalid_parameter",
                     "channel: expected ticks, candles, session, orderbook or trades, got "
                     "\"%.16s\"",
                     ch);
}

static bool session_exists(void *ctx, const char *id)
{
    return session_find(ctx, id) != NULL;
}

static int parse_sub(wsconn *c, json_t *m, wsub *s)
{
    const char *code;
    char why[256];
    if (srv_parse_ws_sub(m, c->S->market, session_exists, c->S, s, &code, why, sizeof why) == 0) {
        if (s->ch == CH_SESSION || !symbol_disabled(c->S, s->symbol))
            return 0;
        /* An admin took the symbol off the public market (knobs.c). */
        send_error(c->ws, "symbol_disabled", "symbol: \"%s\" is disabled on the public market",
                   s->symbol);
        return -1;
    }
    send_error(c->ws, code, "%s", why);
    return -1;
}

/* The order book feed of (symbol, depth): the one already running, or a free slot started
 * with the book at now. NULL when every slot runs another depth. */
static book_feed *feed_claim(srv *S, const wsub *s)
{
    sym_stream *st = stream_find(S, s->symbol);
    if (!st)
        return NULL;
    book_feed *free_slot = NULL;
    for (int i = 0; i < SRV_BOOK_FEEDS; i++) {
        book_feed *f = &st->books[i];
        if (f->subs > 0 && f->depth == s->depth)
            return f;
        if (f->subs == 0 && !free_slot)
            free_slot = f;
    }
    if (!free_slot || cmee_market_book(S->market, s->symbol, public_now(S), s->depth,
                                       &free_slot->last) != CMEE_OK)
        return NULL;
    free_slot->depth = s->depth;
    return free_slot; /* sub_count() makes subs 1 */
}

/* The levels of @p now that differ from @p before, and those of @p before that are gone (with
 * size 0): applied in order to @p before, they give @p now. */
static json_t *levels_diff(const cmee_book_level *before, size_t nb, const cmee_book_level *now,
                           size_t nn)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < nn; i++) {
        bool same = false;
        for (size_t k = 0; k < nb && !same; k++)
            same = before[k].price == now[i].price && before[k].size == now[i].size;
        if (!same)
            json_array_append_new(arr, json_pack("{s:o,s:o}", "price",
                                                 httpd_json_number(now[i].price), "size",
                                                 httpd_json_number(now[i].size)));
    }
    for (size_t k = 0; k < nb; k++) {
        bool kept = false;
        for (size_t i = 0; i < nn && !kept; i++)
            kept = before[k].price == now[i].price;
        if (!kept)
            json_array_append_new(arr, json_pack("{s:o,s:i}", "price",
                                                 httpd_json_number(before[k].price), "size",
                                                 0));
    }
    return arr;
}

/* Send @p msg to every connection with a subscription like @p want. */
static void send_to_subscribers(srv *S, const wsub *want, httpd_msg *msg)
{
    for (size_t b = 0; b < sizeof S->ws_buckets / sizeof S->ws_buckets[0]; b++)
        for (wsconn *c = S->ws_buckets[b]; c; c = c->next)
            for (size_t i = 0; i < c->nsubs; i++)
                if (sub_same(&c->subs[i], want)) {
                    httpd_ws_send_msg(c->ws, msg);
                    break;
                }
}

void ws_micro_pump(srv *S, sym_stream *st, int64_t now)
{
    if (st->trade_subs > 0) {
        /* After a stall, the last two minutes only. */
        int64_t from = st->last_trade + 1 > now - 120000 ? st->last_trade + 1 : now - 120000;
        static cmee_trade buf[3 * 600];
        size_t n = 0;
        wsub want = {.ch = CH_TRADES};
        memcpy(want.symbol, st->symbol, sizeof want.symbol);
        if (from <= now && cmee_market_trades(S->market, st->symbol, from, now + 1, buf,
                                              sizeof buf / sizeof buf[0], &n) == CMEE_OK) {
            for (size_t i = 0; i < n; i++) {
                json_t *j = trade_json(&buf[i]);
                json_object_set_new(j, "type", json_string("trade"));
                json_object_set_new(j, "channel", json_string("trades"));
                json_object_set_new(j, "symbol", json_string(st->symbol));
                httpd_msg *msg = httpd_msg_json(j);
                if (msg) {
                    send_to_subscribers(S, &want, msg);
                    httpd_msg_unref(msg);
                }
            }
        }
        st->last_trade = now;
    }
    for (int i = 0; i < SRV_BOOK_FEEDS; i++) {
        book_feed *f = &st->books[i];
        cmee_book b;
        if (f->subs <= 0 ||
            cmee_market_book(S->market, st->symbol, now, f->depth, &b) != CMEE_OK ||
            b.time == f->last.time)
            continue;
        json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:I,s:o,s:o,s:o,s:o}", "type", "update",
                              "channel", "orderbook", "symbol", st->symbol, "depth", f->depth,
                              "time", (json_int_t)b.time, "bid", httpd_json_number(b.bid),
                              "ask", httpd_json_number(b.ask), "bids",
                              levels_diff(f->last.bids, f->last.nbids, b.bids, b.nbids), "asks",
                              levels_diff(f->last.asks, f->last.nasks, b.asks, b.nasks));
        f->last = b;
        wsub want = {.ch = CH_ORDERBOOK, .depth = f->depth};
        memcpy(want.symbol, st->symbol, sizeof want.symbol);
        httpd_msg *msg = httpd_msg_json(j);
        if (msg) {
            send_to_subscribers(S, &want, msg);
            httpd_msg_unref(msg);
        }
    }
}

static void op_subscribe(wsconn *c, json_t *m)
{
    wsub s;
    char pats[2][CMEE_TOPIC_MAX];

    if (parse_sub(c, m, &s) != 0)
        return;
    if (s.ch == CH_SESSION) {
        /* Every call on a session carries its token; here in the message. */
        const char *token = json_string_value(json_object_get(m, "token"));
        if (!token) {
            send_error(c->ws, "unauthorized", "token: the session's token is required");
            return;
        }
        if (!session_token_ok(c->S, s.id, token)) {
            send_error(c->ws, "forbidden", "token: not valid for this session");
            return;
        }
    }
    for (size_t i = 0; i < c->nsubs; i++)
        if (sub_same(&c->subs[i], &s)) {
            send_error(c->ws, "conflict", "already subscribed");
            return;
        }
    if (c->nsubs == SRV_WS_MAX_SUBS) {
        send_error(c->ws, "too_many_subscriptions", "at most %d subscriptions per connection",
                   SRV_WS_MAX_SUBS);
        return;
    }
    book_feed *feed = NULL;
    if (s.ch == CH_ORDERBOOK && !(feed = feed_claim(c->S, &s))) {
        send_error(c->ws, "too_many_subscriptions",
                   "depth: at most %d different depths of one symbol's book at a time",
                   SRV_BOOK_FEEDS);
        return;
    }
    int np = sub_patterns(&s, pats);
    for (int i = 0; i < np; i++) {
        cmee_status st = cmee_subscriber_add_pattern(c->sub, pats[i]);
        if (st != CMEE_OK && st != CMEE_EEXIST) {
            for (int k = 0; k < i; k++)
                cmee_subscriber_remove_pattern(c->sub, pats[k]);
            send_error(c->ws, "internal", "cannot subscribe: %s", cmee_status_str(st));
            return;
        }
    }
    c->subs[c->nsubs++] = s;
    sub_count(c->S, &s, +1);
    httpd_ws_send_json(c->ws, sub_json("subscribed", &s));
    if (s.ch == CH_TICKS)
        send_backfill(c, &s);
    if (feed) {
        /* The book the next update will be the difference from. */
        json_t *j = book_json(s.symbol, &feed->last);
        json_object_set_new(j, "type", json_string("snapshot"));
        json_object_set_new(j, "channel", json_string("orderbook"));
        json_object_set_new(j, "depth", json_integer(s.depth));
        httpd_ws_send_json(c->ws, j);
    }
}

static void op_unsubscribe(wsconn *c, json_t *m)
{
    wsub s;
    if (parse_sub(c, m, &s) != 0)
        return;
    for (size_t i = 0; i < c->nsubs; i++)
        if (sub_same(&c->subs[i], &s)) {
            s = c->subs[i];
            c->subs[i] = c->subs[--c->nsubs];
            sub_release(c, &s);
            httpd_ws_send_json(c->ws, sub_json("unsubscribed", &s));
            return;
        }
    send_error(c->ws, "not_subscribed", "not subscribed to that");
}

/* ---- httpd callbacks --------------------------------------------------------------------- */

void ws_on_open(httpd_ws *ws, void *ud)
{
    srv *S = ud;
    cmee_subscriber_options opt;
    wsconn *c = calloc(1, sizeof *c);

    if (!c) {
        httpd_ws_close(ws);
        return;
    }
    cmee_subscriber_options_init(&opt);
    opt.capacity = 256;
    opt.group = S->group;
    if (cmee_broadcaster_subscribe(S->bc, NULL, &opt, &c->sub) != CMEE_OK) {
        free(c);
        httpd_ws_close(ws);
        return;
    }
    c->S = S;
    c->ws = ws;
    size_t b = bucket_of(c->sub);
    c->next = S->ws_buckets[b];
    S->ws_buckets[b] = c;
    httpd_ws_set_ud(ws, c);
}

void ws_on_message(httpd_ws *ws, const char *text, size_t len, void *ud)
{
    wsconn *c = httpd_ws_get_ud(ws);
    json_t *m = NULL;
    (void)ud;

    if (!c)
        return;
    switch (srv_parse_ws_op(text, len, &m)) {
    case SRV_WS_NOT_JSON:
        send_error(ws, "invalid_json", "expected a JSON object like {\"op\":\"subscribe\",...}");
        return;
    case SRV_WS_SUBSCRIBE: op_subscribe(c, m); break;
    case SRV_WS_UNSUBSCRIBE: op_unsubscribe(c, m); break;
    case SRV_WS_PING:
        httpd_ws_send_json(ws, json_pack("{s:s,s:I}", "type", "pong", "time",
                                         (json_int_t)now_ms()));
        break;
    case SRV_WS_BAD_OP:
        send_error(ws, "invalid_parameter", "op: expected subscribe, unsubscribe or ping");
        break;
    }
    json_decref(m);
}

srv_ws_op srv_parse_ws_op(const char *text, size_t len, json_t **msg)
{
    json_error_t err;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);

    *msg = NULL;
    if (!m || !json_is_object(m)) {
        json_decref(m);
        return SRV_WS_NOT_JSON;
    }
    *msg = m;
    const char *op = json_string_value(json_object_get(m, "op"));
    if (op && strcmp(op, "subscribe") == 0)
        return SRV_WS_SUBSCRIBE;
    if (op && strcmp(op, "unsubscribe") == 0)
        return SRV_WS_UNSUBSCRIBE;
    if (op && strcmp(op, "ping") == 0)
        return SRV_WS_PING;
    return SRV_WS_BAD_OP;
}

void ws_on_close(httpd_ws *ws, void *ud)
{
    srv *S = ud;
    wsconn *c = httpd_ws_get_ud(ws);
    if (!c)
        return;
    for (size_t i = 0; i < c->nsubs; i++)
        sub_count(S, &c->subs[i], -1);
    conn_unlink(S, c);
    cmee_subscriber_free(c->sub);
    free(c);
    httpd_ws_set_ud(ws, NULL);
}

/* ---- from the broadcaster to the clients --------------------------------------------------- */

/* The session id in a topic "session.<id>[.…]". */
static void topic_session_id(const char *topic, char *id, size_t cap)
{
    const char *p = topic + strlen("session.");
    size_t n = strcspn(p, ".");
    if (n >= cap)
        n = cap - 1;
    memcpy(id, p, n);
    id[n] = '\0';
}

/* The JSON of a broadcaster message, the same for every connection that receives it. The
 * message's publish time (CLOCK_MONOTONIC) is given as wall-clock microseconds,
 * "published_us", with @p wall_offset_us = CLOCK_REALTIME - CLOCK_MONOTONIC. */
static json_t *message_json(const cmee_message *m, int64_t wall_offset_us)
{
    bool in_session = strncmp(m->topic, "session.", 8) == 0;
    char id[CMEE_SESSION_ID_MAX] = "";
    json_t *j;

    if (in_session)
        topic_session_id(m->topic, id, sizeof id);
    switch (m->kind) {
    case CMEE_MSG_TICK:
        j = tick_json(in_session ? "session" : "ticks", m->symbol, &m->tick);
        break;
    case CMEE_MSG_CANDLE:
        j = json_pack("{s:s,s:s,s:s,s:o}", "channel", in_session ? "session" : "candles",
                      "symbol", m->symbol, "timeframe", cmee_timeframe_name(m->timeframe),
                      "candle", candle_json(&m->candle));
        break;
    case CMEE_MSG_EVENT: {
        json_t *data = json_loadb(m->payload, m->payload_len, 0, NULL);
        j = json_pack("{s:s,s:s,s:I,s:o}", "channel", "session", "type", m->type, "time",
                      (json_int_t)m->time, "data",
                      data ? data : json_stringn(m->payload, m->payload_len));
        break;
    }
    default:
        return NULL;
    }
    if (j && in_session) {
        json_object_set_new(j, "id", json_string(id));
        if (m->kind == CMEE_MSG_TICK)
            json_object_set_new(j, "type", json_string("tick"));
        else if (m->kind == CMEE_MSG_CANDLE)
            json_object_set_new(j, "type", json_string("candle"));
    }
    if (j)
        json_object_set_new(j, "published_us",
                            json_integer((json_int_t)(m->published_ns / 1000 + wall_offset_us)));
    return j;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC in microseconds. */
static int64_t wall_offset_us(void)
{
    struct timespec rt, mt;
    clock_gettime(CLOCK_MONOTONIC, &mt);
    clock_gettime(CLOCK_REALTIME, &rt);
    return ((int64_t)rt.tv_sec - mt.tv_sec) * 1000000 + (rt.tv_nsec - mt.tv_nsec) / 1000;
}

/* Encoded messages of one drain, by broadcaster sequence number: a message published to N
 * subscribers reaches N connections as N references to one buffer, encoded once. */
#define MSG_CACHE 256

void ws_on_group_ready(void *ud)
{
    srv *S = ud;
    static cmee_message msgs[32];
    cmee_subscriber *ready[64];
    httpd_msg *cache[MSG_CACHE] = {NULL};
    uint64_t cache_seq[MSG_CACHE] = {0};
    int64_t offset = wall_offset_us();
    size_t n;

    /* Every publisher runs on this thread, so draining always ends. */
    while (cmee_subscriber_group_ready(S->group, ready, 64, &n) == CMEE_OK) {
        for (size_t i = 0; i < n; i++) {
            wsconn *c = conn_of(S, ready[i]);
            size_t k;
            while (cmee_subscriber_drain(ready[i], msgs, 32, 0, &k) == CMEE_OK) {
                httpd_msg *out[32];
                size_t nout = 0;
                for (size_t m = 0; c && m < k; m++) {
                    size_t slot = msgs[m].seq % MSG_CACHE;
                    if (!cache[slot] || cache_seq[slot] != msgs[m].seq) {
                        json_t *j = message_json(&msgs[m], offset);
                        httpd_msg *e = j ? httpd_msg_json(j) : NULL;
                        if (!e)
                            continue;
                        httpd_msg_unref(cache[slot]);
                        cache[slot] = e;
                        cache_seq[slot] = msgs[m].seq;
                    }
                    /* A reference of our own: a later message of this drain may take the
                     * slot (sequence numbers 256 apart). */
                    out[nout++] = httpd_msg_ref(cache[slot]);
                }
                /* The messages of one drain go out together (one packet when they fit). */
                if (nout)
                    httpd_ws_send_msgs(c->ws, out, nout);
                for (size_t m = 0; m < nout; m++)
                    httpd_msg_unref(out[m]);
            }
        }
    }
    for (size_t i = 0; i < MSG_CACHE; i++)
        httpd_msg_unref(cache[i]);
}
