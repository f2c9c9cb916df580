/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: shared state and helpers of the example server (docs/server.md). Everything
 * runs on the one event-loop thread of examples/common/httpd.c. */
#ifndef CMEE_SERVER_H
#define CMEE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <cmee.h>

#include "httpd.h"

/* Limits (docs/server.md#limits). */
#define SRV_MAX_BODY ((size_t)256 * 1024)  /* request bodies */
#define SRV_JSON_DEPTH 16                  /* nesting of request bodies */
#define SRV_MAX_CANDLES 5000               /* candles per request */
#define SRV_DEFAULT_CANDLES 100            /* when neither limit nor from/to is given */
#define SRV_PUMP_MS 200                    /* session driver period (and idle streaming) */
#define SRV_WS_QUEUE 1024                  /* messages queued per WebSocket client: a minute's
                                              ticks at 10 a second (the backfill) and more */
#define SRV_WS_DROP_CLOSE 4096             /* consecutive drops before a client is dropped */
#define SRV_WS_MAX_SUBS 32                 /* subscriptions per WebSocket client */
#define SRV_RECENT 100                     /* orders/options in the account view */
#define SRV_RECENT_LEDGER 50               /* ledger entries in the account view */
#define SRV_SECRET_LEN 32                  /* bytes of the token secret */
#define SRV_TOKEN_HEX (2 * 32)             /* session token: hex of HMAC-SHA-256 */
#define SRV_NTF 6                          /* timeframes */
#define SRV_CANDLE_CACHE 16                /* candle answers kept (market.c) */
#define SRV_MAX_SPEED 100.0                /* fastest public clock (knobs.c) */
#define SRV_MIN_SPEED 0.001                /* slowest running public clock (else: pause) */
#define SRV_KNOB_LOG "public"              /* the store's market event log of the knobs */

/* A growing text buffer for answers assembled from cached pieces (util.c). On allocation
 * failure it sets failed and stops growing. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

/* The ticks of one minute of one symbol of the global market. minute 0: empty. */
typedef struct tick_minute {
    int64_t minute;
    size_t n;
    size_t last; /* index of the tick found by the last lookup */
    cmee_tick t[600];
} tick_minute;

/* The WebSocket order book feed of one (symbol, depth) (ws.c): the book last sent, which the
 * next update is the difference from. subs 0: the slot is free. */
#define SRV_BOOK_FEEDS 4
typedef struct book_feed {
    int depth;
    int subs;
    cmee_book last;
} book_feed;

/* One symbol of the global market, as streamed on "ticks.<SYM>" and "candles.<SYM>.<tf>". */
typedef struct sym_stream {
    char symbol[CMEE_SYMBOL_MAX];
    int tick_subs;                /* WebSocket subscriptions to its ticks */
    int64_t last_tick;            /* newest tick time published */
    int64_t cache_minute;         /* minute whose ticks are in @ref ticks, or -1 */
    cmee_tick ticks[600];
    size_t nticks;
    int candle_subs[SRV_NTF];     /* per timeframe */
    int64_t last_candle[SRV_NTF]; /* open time of the newest closed candle published */
    /* Prices (market.c): the ticks of the current minute and of the minute 24 h before, and
     * the prices answer's entry for one pair of tick times (price_key, price24_key; 0: none)
     * as JSON text before and after its "time" value, which is the request's own. */
    tick_minute now_ticks, ago_ticks;
    int64_t price_key, price24_key;
    char *entry_head, *entry_tail;
    size_t entry_head_len, entry_tail_len;
    /* The backfill of new tick subscribers (ws.c): the minute's tick messages, each encoded
     * once and shared by every subscriber it is sent to. bf_minute 0: none. */
    int64_t bf_minute;
    httpd_msg *bf[600];
    /* The WebSocket channels "trades" and "orderbook" (ws.c), sent straight to the
     * connections (a book update does not fit a broadcaster payload). */
    int trade_subs;
    int64_t last_trade; /* newest trade time sent */
    book_feed books[SRV_BOOK_FEEDS];
    /* Admin knobs (knobs.c): served or not, the multipliers in force, and the reset (log of
     * seed / price) taking effect at minute reset_minute. */
    bool disabled;
    double vol_mult, volume_mult;
    int64_t reset_minute;
    double reset_log;
    int64_t regime_until; /* end of the multipliers' application, renewed there; 0: none */
} sym_stream;

/* One cached candles answer of the global market (?symbol&timeframe&limit): the limit - 1
 * complete candles before the forming one never change, the forming one changes with each
 * tick. body holds the answer up to the end of the complete candles (keep bytes), then the
 * forming candle and the closing brackets as of tick time @ref tick. */
typedef struct candle_cache {
    char symbol[CMEE_SYMBOL_MAX]; /* "": unused */
    cmee_timeframe tf;
    int64_t limit;
    int64_t open;  /* open time of the forming candle */
    int64_t tick;  /* time of the newest tick folded into body, 0: none yet */
    sbuf body;
    size_t keep;
    /* The complete 1m candles of the forming candle folded so far: [open, folded_to). */
    int64_t folded_to;
    cmee_candle fold;
    bool have_fold;
    uint64_t used; /* LRU stamp */
} candle_cache;

/* One live session. */
typedef struct srv_session {
    cmee_session *s;
    char id[CMEE_SESSION_ID_MAX];
    int ws_subs; /* WebSocket subscriptions to it: its symbols are watched while > 0 */
} srv_session;

typedef struct wsconn wsconn;

typedef struct srv {
    httpd *http;
    cmee_market *market; /* the global market; its now is public_now() (knobs.c) */
    uint64_t seed;
    cmee_store *store;
    const char *db_path;
    cmee_broadcaster *bc;
    cmee_subscriber_group *group;
    httpd_watch *group_watch;
    cmee_driver *driver;
    httpd_timer *pump;
    srv_session **sessions;
    size_t nsessions, capsessions;
    unsigned char secret[SRV_SECRET_LEN];
    bool admin_enabled;
    unsigned char admin_hash[32]; /* SHA-256 of CMEE_ADMIN_TOKEN */
    sym_stream *streams;
    size_t nstreams;
    wsconn *ws_buckets[1024]; /* subscriber -> connection */
    json_t *openapi;
    httpd_timer *stream; /* market streaming, woken at each tick time */
    candle_cache candles[SRV_CANDLE_CACHE];
    uint64_t candles_clock;
    /* GET /metrics (prom.c): process start (s since the epoch), and the optional token. */
    double start_time;
    bool metrics_protected;
    unsigned char metrics_hash[32]; /* SHA-256 of CMEE_METRICS_TOKEN */
    /* The public clock (knobs.c): the wall clock until an admin sets its speed; then
     * clk_pub + (wall - clk_wall) x clk_speed (clk_pub while paused), never decreasing. */
    bool clk_set, clk_paused;
    int64_t clk_wall, clk_pub, clk_last;
    double clk_speed;
    int64_t renew_next;  /* earliest regime_until of the streams, 0: none */
    int64_t knob_span;   /* span of one multipliers application (knobs.c) */
    json_t *knob_events; /* the history of GET /api/admin/market */
    uint64_t knob_epoch; /* bumped by every market knob */
} srv;

/* ---- routes (main.c) ---- */

typedef enum auth_kind { AUTH_NONE = 0, AUTH_SESSION, AUTH_ADMIN } auth_kind;

typedef void (*route_fn)(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);

typedef struct route {
    httpd_method method;
    const char *path;           /* OpenAPI form: "/api/sessions/{id}" */
    route_fn fn;
    auth_kind auth;
    const char *const *query;   /* allowed query arguments, NULL-terminated, or NULL */
    const char *summary;
    const char *body_schema;    /* components/schemas name of the body, or NULL */
    int status;                 /* success status */
    const char *response_schema;
} route;

extern const route srv_routes[];
extern const size_t srv_nroutes;

/* ---- util.c ---- */

int64_t now_ms(void);
/* HTTP status for a refused library call. */
int status_http(cmee_status st);
const char *status_code(cmee_status st);
/* Body fields: 1 present and valid, 0 absent (or null), -1 answered 400 naming the field. */
int body_number(httpd_req *r, const json_t *o, const char *key, double *out);
int body_int(httpd_req *r, const json_t *o, const char *key, int64_t *out);
int body_string(httpd_req *r, const json_t *o, const char *key, const char **out);
/* Query argument as an integer: as body_int. */
int query_int(httpd_req *r, const char *key, int64_t *out);
/* Money: units of 1e-8 <-> JSON numbers in currency units. */
json_t *money_json(int64_t units);
int money_from(double v, int64_t *units);
json_t *candle_json(const cmee_candle *c);
/* sbuf: append bytes, a string, a decimal integer, or the JSON text of @p j (taken over)
 * without its first @p head and last @p tail bytes (e.g. an object's braces). */
void sb_put(sbuf *b, const void *s, size_t n);
void sb_str(sbuf *b, const char *s);
void sb_int(sbuf *b, int64_t v);
void sb_json(sbuf *b, json_t *j, size_t head, size_t tail);
void sb_free(sbuf *b);
/* Fold one candle (or a tick as a candle) into @p acc, chronologically. */
void candle_fold(cmee_candle *acc, bool *have, const cmee_candle *c);
bool ct_equal(const void *a, const void *b, size_t n);
void hex_encode(const unsigned char *in, size_t n, char *out);
int random_bytes(void *buf, size_t n);

/* The candles answer, for the global market (sess NULL) or a session. */
void answer_candles(srv *S, httpd_req *r, const cmee_market *m, srv_session *sess,
                    int64_t now);
/* The ?limit= form of the global market's candles from the cache (market.c): answers and
 * returns true, or returns false (the caller answers uncached). */
bool candles_cached(srv *S, httpd_req *r, const char *sym, cmee_timeframe tf, int64_t limit,
                    int64_t now);

/* ---- market.c ---- */
void h_health(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_symbols(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_prices(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_candles(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_indicators(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);

/* ---- order book and trade tape (book.c) ---- */
void h_orderbook(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_trades(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_report(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
/* ---- reset and replay check (replay.c) ---- */
void h_session_reset(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_replay_check(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_history(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
json_t *book_json(const char *sym, const cmee_book *b);
json_t *trade_json(const cmee_trade *t);
sym_stream *stream_find(srv *S, const char *symbol);
/* The global market's price at @p t (the last tick at or before it) and that tick's time,
 * from the per-minute tick caches: what cmee_market_price() gives. */
cmee_status sym_price(srv *S, sym_stream *st, tick_minute *tm, int64_t t, double *price,
                      int64_t *tick_time);
void market_pump(srv *S, int64_t now);
/* Wall time (ms) of the next tick or candle close market_pump() will publish, or -1. */
int64_t market_next_event(srv *S, int64_t now);
void market_cache_free(srv *S);
int tf_index(cmee_timeframe tf);

/* ---- sessions.c ---- */
srv_session *session_find(srv *S, const char *id);
int session_token(const srv *S, const char *id, char out[SRV_TOKEN_HEX + 1]);
bool session_token_ok(const srv *S, const char *id, const char *token);
int sessions_load(srv *S);
void sessions_free(srv *S);
void h_session_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_get(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_clock(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_candles(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_session_prices(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_order_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_order_cancel(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_option_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_account(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
json_t *session_json(srv *S, srv_session *ss);
/* A scenario named in a request: a preset, else the newest stored version. */
cmee_status scenario_by_name(srv *S, const char *name, cmee_scenario **out, char *why,
                             size_t cap);

/* ---- admin.c ---- */
void h_admin_scenarios_list(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_scenario_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_scenario_get(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_scenario_update(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_scenario_delete(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_presets(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_preset_get(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_sessions(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_apply(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_cancel(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);

/* ---- knobs.c: admin knobs on the public market ---- */
/* The public market's now: the wall clock, or the piecewise-linear clock the admin set. */
int64_t public_now(srv *S);
/* The public time at wall time @p wall (ms), without the never-backward clamp. */
int64_t public_at(const srv *S, int64_t wall);
/* The wall time (us) at which the public clock reaches @p pub, or -1 while paused. */
int64_t public_to_wall_us(const srv *S, int64_t pub);
/* Whether an admin took @p symbol off the public market. */
bool symbol_disabled(srv *S, const char *symbol);
/* Set up the knobs (multipliers 1, an empty history) and replay the store's knob log onto the
 * fresh public market at start-up: 0 or -1 (logged). */
int knobs_load(srv *S);
void knobs_free(srv *S);
void h_admin_market(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_speed(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_symbols(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_multipliers(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_admin_reset(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);

/* ---- ws.c ---- */
/* A client message's operation. srv_parse_ws_op() and srv_parse_ws_sub() are the pure parsing
 * half of ws_on_message() (no connection, no sending), exposed for tests/fuzz. */
typedef enum srv_ws_op {
    SRV_WS_NOT_JSON = 0, /* not a JSON object: answered "invalid_json" */
    SRV_WS_SUBSCRIBE,
    SRV_WS_UNSUBSCRIBE,
    SRV_WS_PING,
    SRV_WS_BAD_OP, /* an object without a known "op": answered "invalid_parameter" */
} srv_ws_op;

typedef enum channel { CH_TICKS = 0, CH_CANDLES, CH_SESSION, CH_ORDERBOOK, CH_TRADES } channel;

/* One subscription, as parsed from a subscribe/unsubscribe message. */
typedef struct wsub {
    channel ch;
    char symbol[CMEE_SYMBOL_MAX];
    int tf; /* index into the timeframes, for candles */
    char id[CMEE_SESSION_ID_MAX];
    bool ticks; /* session: also its ticks and candles */
    int depth;  /* orderbook: levels per side */
} wsub;

/* Send the "trades" and "orderbook" channels of @p st up to @p now (ws.c). */
void ws_micro_pump(srv *S, sym_stream *st, int64_t now);

/* Parse @p len bytes of @p text. *@p msg is the object (a new reference: json_decref() it) for
 * every result but SRV_WS_NOT_JSON, else NULL. */
srv_ws_op srv_parse_ws_op(const char *text, size_t len, json_t **msg);
/* The subscription a (un)subscribe message names: symbols are checked against @p market and
 * session ids with @p session_exists. @returns 0, or -1 with the error code (static) in *@p code
 * and the message in @p why. */
int srv_parse_ws_sub(const json_t *m, const cmee_market *market,
                     bool (*session_exists)(void *ctx, const char *id), void *ctx, wsub *s,
                     const char **code, char *why, size_t cap);
void ws_on_open(httpd_ws *ws, void *ud);
void ws_on_message(httpd_ws *ws, const char *text, size_t len, void *ud);
void ws_on_close(httpd_ws *ws, void *ud);
void ws_on_group_ready(void *ud);

/* ---- prom.c ---- */
/* GET /metrics: Prometheus text (docs/server.md#metrics). */
void h_metrics(srv *S, httpd_req *r);

/* ---- openapi.c ---- */
json_t *openapi_build(void);
void h_openapi(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);

#endif /* CMEE_SERVER_H */
