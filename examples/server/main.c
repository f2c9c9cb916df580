/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: market data, paper-trading sessions, admin scenarios and a WebSocket feed over
 * HTTP, using only the public libcmee API (docs/server.md). One event-loop thread
 * (examples/common/httpd.c on libwebsockets) serves everything; JSON is jansson. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "sha256.h"
#include "static.h"

/* ---- the routes ------------------------------------------------------------------------- */

static const char *const q_none[] = {NULL};
static const char *const q_prices[] = {"symbols", NULL};
static const char *const q_candles[] = {"symbol", "timeframe", "limit", "from", "to", NULL};
static const char *const q_indicators[] = {"symbol", "timeframe", "name", "limit", "period",
                                           "fast",   "slow",      "signal", "up", "down", "k",
                                           "slowk",  "slowd",     "d",     "accel", "max", NULL};
static const char *const q_orderbook[] = {"symbol", "depth", "at", NULL};
static const char *const q_trades[] = {"symbol", "limit", NULL};
static const char *const q_report[] = {"sample_ms", NULL};
static const char *const q_version[] = {"version", NULL};
static const char *const q_cancel[] = {"application", NULL};
static const char *const q_epoch[] = {"epoch", NULL};

const route srv_routes[] = {
    {HTTPD_GET, "/health", h_health, AUTH_NONE, q_none, "Liveness and version", NULL, 200,
     "Health"},
    {HTTPD_GET, "/api/health", h_health, AUTH_NONE, q_none, "Liveness and version", NULL, 200,
     "Health"},
    {HTTPD_GET, "/openapi.json", h_openapi, AUTH_NONE, q_none, "This description", NULL, 200,
     NULL},
    {HTTPD_GET, "/api/market/symbols", h_symbols, AUTH_NONE, q_none,
     "The symbol registry with current prices", NULL, 200, "Symbols"},
    {HTTPD_GET, "/api/market/prices", h_prices, AUTH_NONE, q_prices,
     "Current price, time and 24h change per symbol", NULL, 200, "Prices"},
    {HTTPD_GET, "/api/market/candles", h_candles, AUTH_NONE, q_candles,
     "Candles of the global market up to now", NULL, 200, "Candles"},
    {HTTPD_GET, "/api/market/orderbook", h_orderbook, AUTH_NONE, q_orderbook,
     "The synthetic L2 order book of a symbol now (or at a past ?at=ms), ?depth=1..50 (20)",
     NULL, 200, "OrderBook"},
    {HTTPD_GET, "/api/market/trades", h_trades, AUTH_NONE, q_trades,
     "The last ?limit=1..1000 (50) trades of a symbol up to now, oldest first", NULL, 200,
     "Trades"},
    {HTTPD_GET, "/api/market/indicators", h_indicators, AUTH_NONE, q_indicators,
     "One library indicator over the last complete candles of the global market", NULL, 200,
     "Indicator"},
    {HTTPD_GET, "/api/sessions/{id}/indicators", h_indicators, AUTH_SESSION, q_indicators,
     "One library indicator over the last complete candles of a session's market, up to its now",
     NULL, 200, "Indicator"},
    {HTTPD_POST, "/api/sessions", h_session_create, AUTH_NONE, q_none,
     "Create a session; the answer holds its id and token", "SessionCreate", 201,
     "SessionCreated"},
    {HTTPD_GET, "/api/sessions/{id}", h_session_get, AUTH_SESSION, q_none, "A session", NULL,
     200, "Session"},
    {HTTPD_POST, "/api/sessions/{id}/clock", h_session_clock, AUTH_SESSION, q_none,
     "Pause, resume, change speed or step the session clock", "Clock", 200, "ClockState"},
    {HTTPD_GET, "/api/sessions/{id}/candles", h_session_candles, AUTH_SESSION, q_candles,
     "Candles of the session's market up to its now", NULL, 200, "Candles"},
    {HTTPD_GET, "/api/sessions/{id}/prices", h_session_prices, AUTH_SESSION, q_none,
     "Quotes (price, bid, ask) of the session's symbols at its now", NULL, 200,
     "SessionPrices"},
    {HTTPD_POST, "/api/sessions/{id}/orders", h_order_create, AUTH_SESSION, q_none,
     "Place a market, limit or stop order", "OrderCreate", 201, "Order"},
    {HTTPD_DELETE, "/api/sessions/{id}/orders/{oid}", h_order_cancel, AUTH_SESSION, q_none,
     "Cancel an open order", NULL, 200, "Order"},
    {HTTPD_POST, "/api/sessions/{id}/options", h_option_create, AUTH_SESSION, q_none,
     "Buy a binary CALL or PUT option", "OptionCreate", 201, "Option"},
    {HTTPD_GET, "/api/sessions/{id}/account", h_account, AUTH_SESSION, q_none,
     "Balance, equity, positions, orders, options and recent ledger", NULL, 200, "Account"},
    {HTTPD_GET, "/api/sessions/{id}/report", h_session_report, AUTH_SESSION, q_report,
     "The session's results report at its now (docs/report.md); ?sample_ms= sets the equity "
     "curve's step", NULL, 200, "Report"},
    {HTTPD_POST, "/api/sessions/{id}/reset", h_session_reset, AUTH_SESSION, q_none,
     "Reset the session to its start state in a new epoch; past epochs stay readable", NULL,
     200, "SessionReset"},
    {HTTPD_GET, "/api/sessions/{id}/replay-check", h_session_replay_check, AUTH_SESSION,
     q_none, "Replay the session's current epoch from its action log and compare it with the "
     "session, every record bit for bit; 409 if it was stored before the action log", NULL,
     200, "ReplayCheck"},
    {HTTPD_GET, "/api/sessions/{id}/history", h_session_history, AUTH_SESSION, q_epoch,
     "Every order, option and ledger entry of one epoch (?epoch=N, default the current one); "
     "past epochs stay readable after a reset", NULL, 200, "History"},
    {HTTPD_GET, "/api/admin/scenarios", h_admin_scenarios_list, AUTH_ADMIN, q_none,
     "List stored scenarios", NULL, 200, "ScenarioList"},
    {HTTPD_POST, "/api/admin/scenarios", h_admin_scenario_create, AUTH_ADMIN, q_none,
     "Store a new scenario (version 1)", "Scenario", 201, "ScenarioStored"},
    {HTTPD_GET, "/api/admin/scenarios/{name}", h_admin_scenario_get, AUTH_ADMIN, q_version,
     "A stored scenario (newest version, or ?version=N) and its versions", NULL, 200,
     "ScenarioRecord"},
    {HTTPD_PUT, "/api/admin/scenarios/{name}", h_admin_scenario_update, AUTH_ADMIN, q_none,
     "Store a new version of a scenario", "Scenario", 200, "ScenarioStored"},
    {HTTPD_DELETE, "/api/admin/scenarios/{name}", h_admin_scenario_delete, AUTH_ADMIN, q_none,
     "Delete a scenario and all its versions", NULL, 200, "Deleted"},
    {HTTPD_GET, "/api/admin/presets", h_admin_presets, AUTH_ADMIN, q_none,
     "The built-in scenario presets", NULL, 200, "PresetList"},
    {HTTPD_GET, "/api/admin/presets/{name}", h_admin_preset_get, AUTH_ADMIN, q_none,
     "One preset as scenario JSON", NULL, 200, "Scenario"},
    {HTTPD_GET, "/api/admin/sessions", h_admin_sessions, AUTH_ADMIN, q_none,
     "Every live session", NULL, 200, "SessionList"},
    {HTTPD_POST, "/api/admin/sessions/{id}/scenario", h_admin_apply, AUTH_ADMIN, q_none,
     "Apply a scenario (preset, stored or inline) to a session from its now", "ScenarioApply",
     201, "Application"},
    {HTTPD_DELETE, "/api/admin/sessions/{id}/scenario", h_admin_cancel, AUTH_ADMIN, q_cancel,
     "Cancel a scenario application on a session (default: the newest)", NULL, 200,
     "Application"},
    {HTTPD_GET, "/api/admin/market", h_admin_market, AUTH_ADMIN, q_none,
     "The public market's knobs (clock, symbols, multipliers) and their event history", NULL,
     200, "KnobState"},
    {HTTPD_POST, "/api/admin/market/speed", h_admin_speed, AUTH_ADMIN, q_none,
     "Set the speed of the public market's clock, or pause it, from now", "KnobSpeed", 200,
     "KnobEvent"},
    {HTTPD_POST, "/api/admin/market/symbols", h_admin_symbols, AUTH_ADMIN, q_none,
     "Take symbols off the public market, or put them back", "KnobSymbols", 200, "KnobEvent"},
    {HTTPD_POST, "/api/admin/market/multipliers", h_admin_multipliers, AUTH_ADMIN, q_none,
     "Volatility and volume multipliers of some or all symbols, from the next minute",
     "KnobMultipliers", 200, "KnobEvent"},
    {HTTPD_POST, "/api/admin/market/reset", h_admin_reset, AUTH_ADMIN, q_none,
     "Move some or all symbols back to their seed prices at the next minute", "KnobReset", 200,
     "KnobEvent"},
};
const size_t srv_nroutes = sizeof srv_routes / sizeof srv_routes[0];

/* ---- dispatch ------------------------------------------------------------------------------ */

static bool check_admin(srv *S, httpd_req *r)
{
    char token[512];
    unsigned char h[SHA256_LEN];

    if (!S->admin_enabled) {
        httpd_respond_error(r, 403, "admin_disabled",
                            "admin endpoints are disabled: start the server with "
                            "CMEE_ADMIN_TOKEN set");
        return false;
    }
    int n = httpd_req_bearer(r, token, sizeof token);
    if (n < 0 && n != -2) {
        httpd_req_add_header(r, "WWW-Authenticate", "Bearer realm=\"cmee-admin\"");
        httpd_respond_error(r, 401, "unauthorized",
                            "admin endpoints need Authorization: Bearer <admin token>");
        return false;
    }
    /* Hash both sides so that the comparison is constant-time whatever the lengths. */
    sha256(n > 0 ? token : "", n > 0 ? (size_t)n : 0, h);
    if (n <= 0 || !ct_equal(h, S->admin_hash, SHA256_LEN)) {
        httpd_respond_error(r, 403, "forbidden", "the admin token is not valid");
        return false;
    }
    return true;
}

static srv_session *check_session(srv *S, httpd_req *r, const char *id)
{
    char token[256];
    srv_session *ss = session_find(S, id);

    if (!ss) {
        httpd_respond_error(r, 404, "not_found", "session: no session \"%.40s\"", id);
        return NULL;
    }
    int n = httpd_req_header(r, "x-session-token", token, sizeof token);
    if (n < 0)
        n = httpd_req_bearer(r, token, sizeof token);
    if (n == -1) {
        httpd_req_add_header(r, "WWW-Authenticate", "Bearer realm=\"cmee-session\"");
        httpd_respond_error(r, 401, "unauthorized",
                            "this session needs its token (Authorization: Bearer <token> or "
                            "X-Session-Token)");
        return NULL;
    }
    if (n < 0 || !session_token_ok(S, ss->id, token)) {
        httpd_respond_error(r, 403, "forbidden", "the session token is not valid for this session");
        return NULL;
    }
    return ss;
}

static void on_request(httpd_req *r, void *ud)
{
    srv *S = ud;
    const char *path = httpd_req_path(r);
    httpd_method m = httpd_req_method(r);
    char caps[4][64], allow[128] = "";
    bool path_found = false;

    if (strcmp(path, "/metrics") == 0) { /* Prometheus text, not JSON: outside the table */
        httpd_req_set_route(r, "/metrics");
        h_metrics(S, r);
        return;
    }
    for (size_t i = 0; i < srv_nroutes; i++) {
        const route *rt = &srv_routes[i];
        if (!httpd_path_match(path, rt->path, caps, 4))
            continue;
        path_found = true;
        httpd_req_set_route(r, rt->path);
        if (rt->method != m) {
            if (!strstr(allow, httpd_method_name(rt->method))) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, httpd_method_name(rt->method));
            }
            continue;
        }
        /* Unknown query arguments are refused, like unknown body fields. */
        for (size_t k = 0; k < httpd_req_query_count(r); k++) {
            const char *name;
            bool ok = false;
            httpd_req_query_at(r, k, &name, NULL);
            for (size_t q = 0; rt->query && rt->query[q]; q++)
                if (strcmp(rt->query[q], name) == 0)
                    ok = true;
            if (!ok) {
                httpd_respond_error(r, 400, "unknown_parameter", "%.64s: unknown query parameter",
                                    name);
                return;
            }
        }
        srv_session *ss = NULL;
        if (rt->auth == AUTH_ADMIN && !check_admin(S, r))
            return;
        if (rt->auth == AUTH_SESSION && !(ss = check_session(S, r, caps[0])))
            return;
        rt->fn(S, r, caps, ss);
        return;
    }
    if (path_found) {
        httpd_req_add_header(r, "Allow", allow);
        httpd_respond_error(r, 405, "method_not_allowed", "%s %s: allowed methods are %s",
                            httpd_method_name(m), path, allow);
        return;
    }
    httpd_req_set_route(r, strncmp(path, "/web/", 5) == 0 ? "/web/{file}" : "/");
    if (static_serve(r)) /* the web page: "/" and "/web/..." (static.c) */
        return;
    httpd_req_set_route(r, NULL);
    if (strcmp(path, "/ws") == 0) {
        httpd_req_set_route(r, "/ws");
        httpd_respond_error(r, 426, "upgrade_required", "/ws is a WebSocket endpoint");
        return;
    }
    httpd_respond_error(r, 404, "not_found", "%s: no such endpoint", path);
}

/* ---- the pump: market streaming and the session driver -------------------------------------- */

static void pump(void *ud)
{
    srv *S = ud;
    size_t failed = 0;
    cmee_driver_pump(S->driver, &failed);
}

/* The global market's ticks and closed candles, published as soon as their time comes: the
 * timer sleeps until the next tick of a watched symbol (or the next minute for candles), and
 * looks again after SRV_PUMP_MS when nothing is watched. */
static void stream(void *ud)
{
    srv *S = ud;
    struct timespec ts;
    market_pump(S, public_now(S));
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t next = market_next_event(S, S->clk_set ? public_at(S, now_us / 1000) : now_us / 1000);
    int64_t next_us = next >= 0 ? public_to_wall_us(S, next) : -1;
    if (next_us >= 0) {
        /* A little late rather than early: a tick is published once the clock reaches it. A
         * slow public clock is looked at again within a second. */
        int64_t delay = next_us - now_us + 100;
        httpd_timer_next(S->stream, delay < 0 ? 0 : delay > 1000000 ? 1000000 : delay);
    }
}

/* --tick-hz: every symbol of the global market streams HZ ticks a second. */
static int set_tick_rate(srv *S, double hz)
{
    for (size_t i = 0; i < cmee_market_symbol_count(S->market); i++) {
        cmee_symbol_spec sp;
        if (cmee_market_symbol_at(S->market, i, &sp) != CMEE_OK)
            return -1;
        sp.ticks_per_minute = (int)llround(hz * 60.0);
        if (cmee_market_set_symbol(S->market, &sp) != CMEE_OK) {
            slog(SLOG_ERROR, "--tick-hz: %s", cmee_market_errmsg(S->market));
            return -1;
        }
    }
    return 0;
}

/* ---- the token secret ---------------------------------------------------------------------- */

/* The secret lives in "<db>.secret" (hex, mode 0600), created on first start; an in-memory
 * store gets a fresh secret each run (its sessions do not survive the process anyway). */
static int load_secret(srv *S, const char *db)
{
    char path[4096], hex[2 * SRV_SECRET_LEN + 2];

    if (strcmp(db, ":memory:") == 0)
        return random_bytes(S->secret, sizeof S->secret);
    if (snprintf(path, sizeof path, "%s.secret", db) >= (int)sizeof path) {
        slog(SLOG_ERROR, "--db path too long");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        unsigned char key[SRV_SECRET_LEN];
        if (random_bytes(key, sizeof key) != 0) {
            slog(SLOG_ERROR, "getrandom failed");
            return -1;
        }
        hex_encode(key, sizeof key, hex);
        strcat(hex, "\n");
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, hex, strlen(hex));
            if (w != (ssize_t)strlen(hex) || fsync(fd) != 0) {
                close(fd);
                unlink(path);
                slog(SLOG_ERROR, "cannot write %s: %s", path, strerror(errno));
                return -1;
            }
            close(fd);
            memcpy(S->secret, key, sizeof key);
            return 0;
        }
        if (errno != EEXIST) {
            slog(SLOG_ERROR, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC); /* another process just created it */
    }
    if (fd < 0) {
        slog(SLOG_ERROR, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (sb.st_mode & 077) != 0) {
        close(fd);
        slog(SLOG_ERROR, "%s must be readable by its owner only (chmod 600)", path);
        return -1;
    }
    ssize_t n = read(fd, hex, sizeof hex - 1);
    close(fd);
    hex[n > 0 ? n : 0] = '\0';
    if (n < 2 * SRV_SECRET_LEN) {
        slog(SLOG_ERROR, "%s is damaged (expected %d hex digits)", path, 2 * SRV_SECRET_LEN);
        return -1;
    }
    for (int i = 0; i < SRV_SECRET_LEN; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            slog(SLOG_ERROR, "%s is damaged", path);
            return -1;
        }
        S->secret[i] = (unsigned char)v;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static httpd *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        httpd_stop(running);
}

static const char usage[] =
    "usage: cmee-server [--host ADDR] [--port N] [--db PATH] [--seed N] [--web DIR]\n"
    "                   [--tick-hz HZ] [--log-level LEVEL] [--verbose]\n"
    "\n"
    "Serve the cmee market, sessions, admin scenarios and a WebSocket feed over HTTP.\n"
    "\n"
    "  --host ADDR   address to listen on (default 127.0.0.1)\n"
    "  --port N      TCP port (default 8000; 0 lets the system choose)\n"
    "  --db PATH     the store: an SQLite file, or :memory: (default cmee.db); the session\n"
    "                token secret is kept in PATH.secret (mode 0600)\n"
    "  --seed N      seed of the global market (default 42)\n"
    "  --web DIR     serve the web page from DIR at / and /web/ (default: the source\n"
    "                tree's examples/web)\n"
    "  --tick-hz HZ  ticks per second of every symbol of the global market, 1/15 to 10\n"
    "                with 60 x HZ a whole number (default: each symbol's own, 1 for the\n"
    "                built-in ones); candles do not change, the ticks inside them do\n"
    "  --log-level LEVEL  debug, info (default), warn or error: the least severe lines\n"
    "                written to stderr, one JSON object per line (each request is an info\n"
    "                line; 5xx answers are errors, 401 and 403 warnings)\n"
    "  --verbose     the same as --log-level debug (also libwebsockets' notices)\n"
    "\n"
    "Environment: CMEE_ADMIN_TOKEN enables /api/admin/* for Authorization: Bearer <token>;\n"
    "CMEE_METRICS_TOKEN, if set, is required (as a bearer token) by GET /metrics.\n"
    "Prints \"listening on http://ADDR:PORT\" when ready. docs/server.md has the API.\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
        {"db", required_argument, NULL, 'd'},   {"seed", required_argument, NULL, 's'},
        {"verbose", no_argument, NULL, 'v'},    {"help", no_argument, NULL, 'h'},
        {"web", required_argument, NULL, 'w'},  {"tick-hz", required_argument, NULL, 't'},
        {"log-level", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    const char *host = "127.0.0.1", *db = "cmee.db", *web = NULL;
    long port = 8000;
    unsigned long long seed = 42;
    bool verbose = false;
    double tick_hz = 0;
    int c, rc = 1;
    char *end;
    srv S;

    memset(&S, 0, sizeof S);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (*end || errno || port < 0 || port > 65535) {
                fprintf(stderr, "cmee-server: --port: expected 0 to 65535, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'd': db = optarg; break;
        case 's':
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (*end || errno || optarg[0] == '-') {
                fprintf(stderr, "cmee-server: --seed: expected an unsigned integer, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'v':
            verbose = true;
            slog_set_level(SLOG_DEBUG);
            break;
        case 'L': {
            slog_level lv;
            if (slog_level_parse(optarg, &lv) != 0) {
                fprintf(stderr,
                        "cmee-server: --log-level: expected debug, info, warn or error, got "
                        "\"%s\"\n",
                        optarg);
                return 2;
            }
            slog_set_level(lv);
            break;
        }
        case 'w': web = optarg; break;
        case 't':
            errno = 0;
            tick_hz = strtod(optarg, &end);
            /* 60 x HZ ticks a minute, a whole number in the library's [4, 600]. */
            if (*end || errno || !(tick_hz * 60.0 >= 4.0 - 1e-9 && tick_hz * 60.0 <= 600 + 1e-9) ||
                fabs(tick_hz * 60.0 - (double)llround(tick_hz * 60.0)) > 1e-9) {
                fprintf(stderr,
                        "cmee-server: --tick-hz: expected 1/15 to 10 ticks a second with 60 x HZ "
                        "a whole number (1, 2, 5, 10, 0.5...), got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (!*db) {
        fprintf(stderr, "cmee-server: --db: empty path\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    S.start_time = (double)start.tv_sec + (double)(start.tv_nsec / 1000000) / 1000.0;
    S.seed = seed;
    S.db_path = db;
    const char *admin = getenv("CMEE_ADMIN_TOKEN");
    if (admin && *admin) {
        S.admin_enabled = true;
        sha256(admin, strlen(admin), S.admin_hash);
    }
    const char *mtoken = getenv("CMEE_METRICS_TOKEN");
    if (mtoken && *mtoken) {
        S.metrics_protected = true;
        sha256(mtoken, strlen(mtoken), S.metrics_hash);
    }
    if (static_init(web ? web : CMEE_WEB_ROOT, web != NULL) != 0)
        return 1;
    if (load_secret(&S, db) != 0)
        return 1;

    cmee_error err;
    cmee_status st;
    if ((st = cmee_market_new(seed, NULL, &S.market)) != CMEE_OK) {
        slog(SLOG_ERROR, "market: %s", cmee_status_str(st));
        return 1;
    }
    if (tick_hz > 0 && set_tick_rate(&S, tick_hz) != 0)
        goto done;
    if (cmee_store_open(db, NULL, NULL, &S.store, &err) != CMEE_OK) {
        slog_kv(SLOG_ERROR, "cannot open the store", "{s:s,s:s}", "db", db, "error", err.text);
        goto done;
    }
    if (cmee_broadcaster_new(NULL, &S.bc) != CMEE_OK ||
        cmee_broadcaster_group_new(S.bc, &S.group) != CMEE_OK ||
        cmee_driver_new(S.bc, NULL, &S.driver) != CMEE_OK) {
        slog(SLOG_ERROR, "cannot create the broadcaster or the driver");
        goto done;
    }
    S.nstreams = cmee_market_symbol_count(S.market);
    S.streams = calloc(S.nstreams ? S.nstreams : 1, sizeof *S.streams);
    if (!S.streams)
        goto done;
    for (size_t i = 0; i < S.nstreams; i++) {
        cmee_symbol_spec sp;
        cmee_market_symbol_at(S.market, i, &sp);
        snprintf(S.streams[i].symbol, sizeof S.streams[i].symbol, "%s", sp.symbol);
        S.streams[i].cache_minute = -1;
    }
    S.openapi = openapi_build();
    if (!S.openapi) {
        slog(SLOG_ERROR, "cannot build the OpenAPI description");
        goto done;
    }
    if (knobs_load(&S) != 0)
        goto done;
    if (sessions_load(&S) != 0)
        goto done;

    httpd_config hc;
    memset(&hc, 0, sizeof hc);
    hc.host = host;
    hc.port = (int)port;
    hc.max_body = SRV_MAX_BODY;
    hc.ws_path = "/ws";
    hc.ws_queue_max = SRV_WS_QUEUE;
    hc.ws_drop_close = SRV_WS_DROP_CLOSE;
    hc.verbose = verbose;
    hc.on_request = on_request;
    hc.on_ws_open = ws_on_open;
    hc.on_ws_message = ws_on_message;
    hc.on_ws_close = ws_on_close;
    hc.ud = &S;
    if (httpd_new(&hc, &S.http) != 0)
        goto done;
    S.group_watch = httpd_watch_fd(S.http, cmee_subscriber_group_fd(S.group), ws_on_group_ready,
                                   &S);
    S.pump = httpd_timer_new(S.http, SRV_PUMP_MS, pump, &S);
    S.stream = httpd_timer_new(S.http, SRV_PUMP_MS, stream, &S);
    if (!S.group_watch || !S.pump || !S.stream) {
        slog(SLOG_ERROR, "cannot set up the event loop");
        goto done;
    }

    running = S.http;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("cmee-server %s listening on http://%s:%d (db %s, seed %llu, %zu session(s))\n",
           cmee_version(), host, httpd_port(S.http), db, seed, S.nsessions);
    fflush(stdout);
    slog_kv(SLOG_INFO, "listening", "{s:s,s:s,s:i,s:s,s:I,s:I}", "version", cmee_version(),
            "host", host, "port", httpd_port(S.http), "db", db, "seed", (json_int_t)seed,
            "sessions", (json_int_t)S.nsessions);
    rc = httpd_run(S.http) == 0 ? 0 : 1;
    running = NULL;
    slog(SLOG_INFO, "shutting down");

done:
    /* Closing the server closes every WebSocket, which frees their subscribers: before the
     * broadcaster goes. Sessions are already committed: freeing them writes nothing. */
    httpd_timer_free(S.pump);
    httpd_timer_free(S.stream);
    httpd_watch_free(S.group_watch);
    httpd_free(S.http);
    if (S.driver)
        sessions_free(&S);
    cmee_driver_free(S.driver);
    cmee_subscriber_group_free(S.group);
    cmee_broadcaster_free(S.bc);
    cmee_store_close(S.store);
    market_cache_free(&S);
    cmee_market_free(S.market);
    free(S.streams);
    json_decref(S.openapi);
    knobs_free(&S);
    return rc;
}
