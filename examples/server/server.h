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
#define SRV_PUMP_MS 200                    /* market streaming and session driver period */
#define SRV_WS_QUEUE 512                   /* messages queued per WebSocket client */
#define SRV_WS_DROP_CLOSE 4096             /* consecutive drops before a client is dropped */
#define SRV_WS_MAX_SUBS 32                 /* subscriptions per WebSocket client */
#define SRV_RECENT 100                     /* orders/options in the account view */
#define SRV_RECENT_LEDGER 50               /* ledger entries in the account view */
#define SRV_SECRET_LEN 32                  /* bytes of the token secret */
#define SRV_TOKEN_HEX (2 * 32)             /* session token: hex of HMAC-SHA-256 */
#define SRV_NTF 6                          /* timeframes */

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
} sym_stream;

/* One live session. */
typedef struct srv_session {
    cmee_session *s;
    char id[CMEE_SESSION_ID_MAX];
    int ws_subs; /* WebSocket subscriptions to it: its symbols are watched while > 0 */
} srv_session;

typedef struct wsconn wsconn;

typedef struct srv {
    httpd *http;
    cmee_market *market; /* the global market; its now is the wall clock */
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
bool ct_equal(const void *a, const void *b, size_t n);
void hex_encode(const unsigned char *in, size_t n, char *out);
int random_bytes(void *buf, size_t n);

/* The candles answer, for the global market (sess NULL) or a session. */
void answer_candles(srv *S, httpd_req *r, const cmee_market *m, srv_session *sess,
                    int64_t now);

/* ---- market.c ---- */
void h_health(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_symbols(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_prices(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_candles(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
void h_indicators(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);
sym_stream *stream_find(srv *S, const char *symbol);
void market_pump(srv *S, int64_t now);
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

typedef enum channel { CH_TICKS = 0, CH_CANDLES, CH_SESSION } channel;

/* One subscription, as parsed from a subscribe/unsubscribe message. */
typedef struct wsub {
    channel ch;
    char symbol[CMEE_SYMBOL_MAX];
    int tf; /* index into the timeframes, for candles */
    char id[CMEE_SESSION_ID_MAX];
    bool ticks; /* session: also its ticks and candles */
} wsub;

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

/* ---- openapi.c ---- */
json_t *openapi_build(void);
void h_openapi(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess);

#endif /* CMEE_SERVER_H */
