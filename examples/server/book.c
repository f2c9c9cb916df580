/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: the global market's order book and trade tape (cmee/book.h) over REST. */
#include <stdio.h>
#include <string.h>

#include "server.h"

#define BOOK_DEFAULT_DEPTH 20
#define TRADES_DEFAULT_LIMIT 50
#define TRADES_MAX_LIMIT 1000

/* The symbol query argument of the global market; answers 400 itself when it is bad. */
static const char *market_symbol(srv *S, httpd_req *r)
{
    const char *sym = httpd_req_query(r, "symbol");
    cmee_symbol_spec spec;
    if (!sym || !*sym) {
        httpd_respond_error(r, 400, "missing_parameter", "symbol: required");
        return NULL;
    }
    if (cmee_market_symbol(S->market, sym, &spec) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter", "symbol: unknown symbol \"%.32s\"", sym);
        return NULL;
    }
    if (symbol_disabled(S, sym)) {
        httpd_respond_error(r, 404, "symbol_disabled",
                            "symbol: \"%.32s\" is disabled on the public market", sym);
        return NULL;
    }
    return sym;
}

static json_t *levels_json(const cmee_book_level *lv, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o,s:o}", "price", httpd_json_number(lv[i].price),
                                             "size", httpd_json_number(lv[i].size)));
    return arr;
}

json_t *book_json(const char *sym, const cmee_book *b)
{
    return json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "symbol", sym, "time", (json_int_t)b->time,
                     "bid", httpd_json_number(b->bid), "ask", httpd_json_number(b->ask),
                     "spread", httpd_json_number(b->ask - b->bid), "bids",
                     levels_json(b->bids, b->nbids), "asks", levels_json(b->asks, b->nasks));
}

json_t *trade_json(const cmee_trade *t)
{
    return json_pack("{s:I,s:o,s:o,s:s}", "time", (json_int_t)t->time, "price",
                     httpd_json_number(t->price), "size", httpd_json_number(t->size), "side",
                     cmee_aggressor_name(t->side));
}

void h_orderbook(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    const char *sym = market_symbol(S, r);
    int64_t depth = BOOK_DEFAULT_DEPTH, now = public_now(S), at = now;
    if (!sym || query_int(r, "depth", &depth) < 0 || query_int(r, "at", &at) < 0)
        return;
    if (depth < 1 || depth > CMEE_BOOK_MAX_DEPTH) {
        httpd_respond_error(r, 400, "invalid_parameter", "depth: must be in [1, %d], got %lld",
                            CMEE_BOOK_MAX_DEPTH, (long long)depth);
        return;
    }
    /* The global market's now is the wall clock: the past is public, the future is not. */
    if (at < CMEE_TIME_MIN || at > now) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "at: must be a time in ms from %lld up to now (%lld), got %lld",
                            (long long)CMEE_TIME_MIN, (long long)now, (long long)at);
        return;
    }
    cmee_book b;
    cmee_status st = cmee_market_book(S->market, sym, at, (int)depth, &b);
    if (st != CMEE_OK) {
        httpd_respond_error(r, status_http(st), "market_error", "%s",
                            cmee_market_errmsg(S->market));
        return;
    }
    httpd_respond_json(r, 200, book_json(sym, &b));
}

void h_trades(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    const char *sym = market_symbol(S, r);
    int64_t limit = TRADES_DEFAULT_LIMIT;
    if (!sym || query_int(r, "limit", &limit) < 0)
        return;
    if (limit < 1 || limit > TRADES_MAX_LIMIT) {
        httpd_respond_error(r, 400, "invalid_parameter", "limit: must be in [1, %d], got %lld",
                            TRADES_MAX_LIMIT, (long long)limit);
        return;
    }
    int64_t now = public_now(S);
    cmee_trade buf[TRADES_MAX_LIMIT];
    size_t n = 0;
    /* Trades strictly before now + 1 ms: everything printed up to and including now. */
    cmee_status st = cmee_market_trades_last(S->market, sym, now + 1, (size_t)limit, buf,
                                             TRADES_MAX_LIMIT, &n);
    if (st != CMEE_OK) {
        httpd_respond_error(r, status_http(st), "market_error", "%s",
                            cmee_market_errmsg(S->market));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, trade_json(&buf[i]));
    httpd_respond_json(r, 200, json_pack("{s:s,s:I,s:o}", "symbol", sym, "time",
                                         (json_int_t)now, "trades", arr));
}
