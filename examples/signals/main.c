/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-signals: consensus signals, binary signals and market analysis over HTTP.
 *
 * A small read-only service in front of libcmee's signals module. Each request analyses the
 * last ANALYSIS_BARS complete candles of one symbol and timeframe up to now: the wall clock for
 * the seeded market (the same market cmee-server shows with the same seed), or a stored
 * session's clock with ?session=ID. docs/signals-server.md describes the endpoints. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* clock_gettime */
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <cmee.h>

#include "../common/httpd.h"
#include "../common/log.h"
#include "../common/metrics.h"
#include "../common/signals_json.h"

/* Candles each analysis reads: comfortably more than the 60 cmee_analyze() needs and the
 * lookbacks of every indicator at its defaults, and cheap to generate. */
#define ANALYSIS_BARS 300
#define DEFAULT_PORT 8001
#define DEFAULT_SEED UINT64_C(42)
#define DEFAULT_TIMEFRAME CMEE_TF_1H

static const char usage[] = "usage: cmee-signals [--host ADDR] [--port N] [--db PATH] [--seed N]\n"
                            "                    [--log-level LEVEL]\n";

static const char help[] =
    "\n"
    "Serve consensus signals, binary signals and market analysis of the libcmee market over\n"
    "HTTP (JSON). Endpoints, each GET:\n"
    "  /health\n"
    "  /trading/signals?symbol=SYM[&timeframe=TF][&session=ID]\n"
    "  /trading/binary-signals?symbol=SYM[&timeframe=TF][&session=ID]\n"
    "  /market/analysis?symbol=SYM[&timeframe=TF][&session=ID]\n"
    "  /metrics  (Prometheus text: requests, their duration, process figures)\n"
    "Each analyses the last 300 complete candles up to now (timeframe 1m, 5m, 15m, 1h, 4h or\n"
    "1d; default 1h) of the market with --seed, or of session ID in the store --db.\n"
    "\n"
    "  --host ADDR   address to listen on (default 127.0.0.1)\n"
    "  --port N      TCP port (default 8001; 0 lets the system choose)\n"
    "  --db PATH     the store sessions are read from (default cmee.db; opened read-only in\n"
    "                spirit: nothing is written to it, and it is not created)\n"
    "  --seed N      seed of the market (default 42, as cmee-server and cmee)\n"
    "  --log-level LEVEL  debug, info (default), warn or error: the least severe lines\n"
    "                written to stderr, one JSON object per line (one info line per request)\n"
    "  -h, --help    show this help\n"
    "\n"
    "Prints 'cmee-signals listening on http://ADDR:PORT' once ready; stops on SIGINT or\n"
    "SIGTERM. Exit status: 0 after a signal, 1 on failure, 2 for bad arguments.\n";

typedef struct app {
    uint64_t seed;
    const char *db_path;
    cmee_market *market; /* the seeded market, built once */
    cmee_store *store;   /* opened at the first ?session= request that finds the file */
    httpd *h;
    double start_time;   /* s since the epoch, for /metrics */
} app;

/* What a request asks for, once its parameters are checked. */
typedef struct query {
    const char *symbol;
    cmee_timeframe tf;
    const char *session; /* NULL for the seeded market */
} query;

/* The candles a request analyses, and where they come from. */
typedef struct window {
    cmee_candle c[ANALYSIS_BARS];
    size_t n;
    int64_t end;   /* the time analysed up to: wall time, or the session's now */
    uint64_t seed; /* the seed of the market they come from */
} window;

static httpd *volatile running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        httpd_stop(running);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- parameters ------------------------------------------------------------------------- */

static const char *const known_params[] = {"symbol", "timeframe", "session", NULL};

/* Session ids as cmee_session_config::id allows them: 1 to 39 of A-Z a-z 0-9 _ -. */
static bool valid_session_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= CMEE_SESSION_ID_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Check the query of an analysis request into @p q. On a bad parameter it answers 400 naming
 * it and returns false. Whether the symbol exists is the market's (or session's) to say. */
static bool parse_query(httpd_req *r, query *q)
{
    size_t nargs = httpd_req_query_count(r);
    const char *tf;

    for (size_t i = 0; i < nargs; i++) {
        const char *name, *value;
        bool known = false;
        if (httpd_req_query_at(r, i, &name, &value) != 0)
            continue;
        for (size_t k = 0; known_params[k]; k++)
            known = known || strcmp(name, known_params[k]) == 0;
        if (!known) {
            httpd_respond_error(r, 400, "unknown_parameter",
                                "%s: unknown parameter (expected symbol, timeframe or session)",
                                name);
            return false;
        }
    }

    q->symbol = httpd_req_query(r, "symbol");
    if (!q->symbol || !q->symbol[0]) {
        httpd_respond_error(r, 400, "missing_parameter", "symbol: required, e.g. ?symbol=BTCUSD");
        return false;
    }
    q->tf = DEFAULT_TIMEFRAME;
    tf = httpd_req_query(r, "timeframe");
    if (tf && cmee_timeframe_parse(tf, &q->tf) != CMEE_OK) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "timeframe: expected 1m, 5m, 15m, 1h, 4h or 1d, got '%.32s'", tf);
        return false;
    }
    q->session = httpd_req_query(r, "session");
    if (q->session && !valid_session_id(q->session)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "session: expected 1 to 39 characters from A-Z a-z 0-9 _ -, got "
                            "'%.48s'",
                            q->session);
        return false;
    }
    return true;
}

/* ---- candles ---------------------------------------------------------------------------- */

/* Answer a failed candle query of @p m: an unknown symbol is the client's 404, anything else
 * (a time outside the series) is reported as the library says it. */
static void candles_failed(httpd_req *r, const cmee_market *m, const char *symbol, cmee_status st)
{
    if (st == CMEE_ENOTFOUND)
        httpd_respond_error(r, 404, "unknown_symbol", "symbol: unknown symbol \"%.32s\"", symbol);
    else if (st == CMEE_ERANGE)
        httpd_respond_error(r, 400, "out_of_range", "%s", cmee_market_errmsg(m));
    else
        httpd_respond_error(r, 500, "internal", "candles: %s", cmee_market_errmsg(m));
}

/* Open the store on first use. It must exist: a signals service has no business creating
 * one. Returns false after answering. */
static bool open_store(app *a, httpd_req *r, const char *session)
{
    cmee_store_options opt;
    cmee_error err;
    cmee_status st;

    if (a->store)
        return true;
    cmee_store_options_init(&opt);
    opt.must_exist = true;
    st = cmee_store_open(a->db_path, &opt, NULL, &a->store, &err);
    if (st == CMEE_OK)
        return true;
    if (st == CMEE_ENOTFOUND)
        httpd_respond_error(r, 404, "session_not_found",
                            "session: no session \"%s\" (there is no store yet)", session);
    else
        httpd_respond_error(r, 503, "store_unavailable", "store: %s", err.text);
    return false;
}

/* The session's market up to its now, never later: the complete candles that end at or
 * before the session's clock. The session is loaded afresh for each request (so that
 * scenarios applied by cmee-server since are seen) and only read: cmee_session_clock() and
 * the market are const accessors, whereas cmee_session_candles() would first advance the
 * session, which may commit fills to the store behind the back of the process that owns it. */
static bool session_window(app *a, httpd_req *r, const query *q, window *w)
{
    cmee_session *s = NULL;
    cmee_session_config cfg;
    cmee_clock clk;
    cmee_error err;
    cmee_status st;
    bool listed, ok = false;

    if (!open_store(a, r, q->session))
        return false;
    st = cmee_session_load(a->store, q->session, NULL, &s, &err);
    if (st == CMEE_ENOTFOUND) {
        httpd_respond_error(r, 404, "session_not_found", "session: no session \"%s\"", q->session);
        return false;
    }
    if (st != CMEE_OK) {
        httpd_respond_error(r, st == CMEE_EBUSY || st == CMEE_EIO ? 503 : 500, "store_unavailable",
                            "session \"%s\": %s", q->session, err.text);
        return false;
    }
    if (cmee_session_config_get(s, &cfg) != CMEE_OK || cmee_session_clock(s, &clk) != CMEE_OK) {
        httpd_respond_error(r, 500, "internal", "session \"%s\": %s", q->session,
                            cmee_session_errmsg(s));
        goto done;
    }
    /* A session restricted to some symbols shows only those. */
    listed = cfg.nsymbols == 0;
    for (size_t i = 0; i < cfg.nsymbols && !listed; i++)
        listed = strcmp(cfg.symbols[i], q->symbol) == 0;
    if (!listed) {
        httpd_respond_error(r, 404, "unknown_symbol",
                            "symbol: \"%.32s\" is not traded in session \"%s\"", q->symbol,
                            q->session);
        goto done;
    }
    const cmee_market *m = cmee_session_market(s);
    st = cmee_market_candles_last(m, q->symbol, q->tf, clk.now, ANALYSIS_BARS, w->c, ANALYSIS_BARS,
                                  &w->n);
    if (st != CMEE_OK) {
        candles_failed(r, m, q->symbol, st);
        goto done;
    }
    w->end = clk.now;
    w->seed = cfg.seed;
    ok = true;
done:
    cmee_session_free(s);
    return ok;
}

/* The candles @p q asks for, or false after answering. */
static bool get_window(app *a, httpd_req *r, const query *q, window *w)
{
    cmee_status st;

    if (q->session)
        return session_window(a, r, q, w);
    w->end = wall_ms();
    w->seed = a->seed;
    st = cmee_market_candles_last(a->market, q->symbol, q->tf, w->end, ANALYSIS_BARS, w->c,
                                  ANALYSIS_BARS, &w->n);
    if (st != CMEE_OK) {
        candles_failed(r, a->market, q->symbol, st);
        return false;
    }
    return true;
}

/* ---- answers ---------------------------------------------------------------------------- */

/* A seed as a JSON integer; jansson's are signed, so seeds from 2^63 on are given as a string
 * of decimal digits instead. */
static json_t *seed_json(uint64_t seed)
{
    char buf[24];

    if (seed <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)seed);
    snprintf(buf, sizeof buf, "%" PRIu64, seed);
    return json_string(buf);
}

/* The fields every analysis answer starts with: what was analysed. */
static json_t *head_json(const query *q, const window *w)
{
    const cmee_candle *last = &w->c[w->n - 1];

    return json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:o}", "symbol", q->symbol, "timeframe",
                     cmee_timeframe_name(q->tf), "session",
                     q->session ? json_string(q->session) : json_null(), "seed", seed_json(w->seed),
                     "end", (json_int_t)w->end, "n", (json_int_t)w->n, "time",
                     (json_int_t)last->time, "close", httpd_json_number(last->close));
}

/* Append every field of @p part to @p o and drop @p part. False if either is NULL or the
 * update fails. */
static bool merge(json_t *o, json_t *part)
{
    bool ok = o && part && json_object_update(o, part) == 0;
    json_decref(part);
    return ok;
}

/* The consensus at the last bar, or false after answering. */
static bool consensus(httpd_req *r, const window *w, cmee_signal *sig)
{
    cmee_error err;

    if (cmee_signal_compute(w->c, w->n, NULL, sig, &err) != CMEE_OK) {
        httpd_respond_error(r, 500, "internal", "signal: %s", err.text);
        return false;
    }
    return true;
}

static void get_signals(app *a, httpd_req *r, const query *q)
{
    window *w = malloc(sizeof *w);
    double *buf = malloc(sizeof(double) * ANALYSIS_BARS * (5 + CMEE_IND_MAX_OUTPUTS));
    cmee_series series;
    cmee_signal sig;
    cmee_status st = CMEE_OK;
    cmee_error err;
    json_t *o = NULL, *ind;

    if (!w || !buf) {
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
        goto done;
    }
    if (!get_window(a, r, q, w) || !consensus(r, w, &sig))
        goto done;
    cmee_series_from_candles(w->c, w->n, buf, &series);
    ind = signals_json_indicators(&series, buf + 5 * ANALYSIS_BARS, &st, &err);
    if (!ind) {
        httpd_respond_error(r, 500, "internal", "indicators: %s",
                            st == CMEE_ENOMEM ? "out of memory" : err.text);
        goto done;
    }
    o = head_json(q, w);
    if (!merge(o, signals_json_signal(&sig, "consensus")) ||
        !signals_json_put(o, "indicators", ind)) {
        json_decref(o);
        o = NULL;
    }
    httpd_respond_json(r, 200, o); /* NULL answers 500 */
done:
    free(buf);
    free(w);
}

static void get_binary(app *a, httpd_req *r, const query *q)
{
    window *w = malloc(sizeof *w);
    cmee_signal sig;
    cmee_binary_config bcfg;
    cmee_binary_signal bin;
    json_t *o;

    if (!w) {
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    if (!get_window(a, r, q, w) || !consensus(r, w, &sig))
        goto done;
    cmee_binary_config_init(&bcfg);
    if (cmee_binary_from_signal(&sig, &bcfg, cmee_timeframe_ms(q->tf), &bin) != CMEE_OK) {
        httpd_respond_error(r, 500, "internal", "binary signal: bad settings");
        goto done;
    }
    o = head_json(q, w);
    if (!merge(o, signals_json_binary(&bin)) ||
        !signals_json_put(o, "expiry_bars", json_integer(bcfg.expiry_bars)) ||
        !signals_json_put(o, "signal", signals_json_signal(&sig, "consensus"))) {
        json_decref(o);
        o = NULL;
    }
    httpd_respond_json(r, 200, o);
done:
    free(w);
}

static void get_analysis(app *a, httpd_req *r, const query *q)
{
    window *w = malloc(sizeof *w);
    cmee_analysis an;
    cmee_error err;
    json_t *o;

    if (!w) {
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    if (!get_window(a, r, q, w))
        goto done;
    if (cmee_analyze(w->c, w->n, cmee_timeframe_ms(q->tf), &an, &err) != CMEE_OK) {
        httpd_respond_error(r, 500, "internal", "analysis: %s", err.text);
        goto done;
    }
    o = head_json(q, w);
    if (!signals_json_put(o, "trend", signals_json_trend(&an)) ||
        !signals_json_put(o, "volatility", signals_json_volatility(&an)) ||
        !signals_json_put(o, "levels", signals_json_levels(&an))) {
        json_decref(o);
        o = NULL;
    }
    httpd_respond_json(r, 200, o);
done:
    free(w);
}

static void get_health(app *a, httpd_req *r, const query *q)
{
    (void)q;
    httpd_respond_json(r, 200,
                       json_pack("{s:s, s:s, s:s, s:o, s:I}", "status", "ok", "service",
                                 "cmee-signals", "version", cmee_version(), "seed",
                                 seed_json(a->seed), "time", (json_int_t)wall_ms()));
}

/* ---- routing ---------------------------------------------------------------------------- */

typedef struct route {
    const char *path;
    bool analysis; /* takes symbol / timeframe / session */
    void (*get)(app *a, httpd_req *r, const query *q);
} route;

static const route routes[] = {
    {"/health", false, get_health},
    {"/trading/signals", true, get_signals},
    {"/trading/binary-signals", true, get_binary},
    {"/market/analysis", true, get_analysis},
};

/* GET /metrics: the request families of httpd and the process figures. */
static void get_metrics(app *a, httpd_req *r)
{
    metrics_text t = {0};
    size_t len = 0;

    if (httpd_req_query_count(r) > 0) {
        const char *name;
        httpd_req_query_at(r, 0, &name, NULL);
        httpd_respond_error(r, 400, "unknown_parameter", "%.64s: unknown query parameter",
                            name);
        return;
    }
    metrics_http_write(httpd_metrics(a->h), &t);
    metrics_process_write(&t, a->start_time);
    const char *text = metrics_text_get(&t, &len);
    if (text)
        httpd_respond(r, 200, METRICS_CONTENT_TYPE, text, len);
    else
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
    metrics_text_free(&t);
}

static void on_request(httpd_req *r, void *ud)
{
    app *a = ud;
    const char *path = httpd_req_path(r);
    const route *rt = NULL;
    query q;

    for (size_t i = 0; i < sizeof routes / sizeof *routes && !rt; i++)
        if (strcmp(path, routes[i].path) == 0)
            rt = &routes[i];
    if (!rt && strcmp(path, "/metrics") == 0) {
        httpd_req_set_route(r, "/metrics");
        if (httpd_req_method(r) != HTTPD_GET) {
            httpd_req_add_header(r, "Allow", "GET");
            httpd_respond_error(r, 405, "method_not_allowed", "%s /metrics: only GET is allowed",
                                httpd_method_name(httpd_req_method(r)));
            return;
        }
        get_metrics(a, r);
        return;
    }
    if (rt)
        httpd_req_set_route(r, rt->path);
    if (!rt) {
        httpd_respond_error(r, 404, "not_found", "no such endpoint: %.200s", path);
        return;
    }
    if (httpd_req_method(r) != HTTPD_GET) {
        httpd_req_add_header(r, "Allow", "GET");
        httpd_respond_error(r, 405, "method_not_allowed", "%s %.200s: only GET is allowed",
                            httpd_method_name(httpd_req_method(r)), path);
        return;
    }
    memset(&q, 0, sizeof q);
    if (rt->analysis && !parse_query(r, &q))
        return;
    rt->get(a, r, &q);
}

/* ---- main ------------------------------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (!s[0] || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* Report a bad command line: the usage, then "cmee-signals: <what> '<arg>'". Returns 2. */
static int bad_args(const char *what, const char *arg)
{
    fputs(usage, stderr);
    if (arg)
        fprintf(stderr, "cmee-signals: %s '%s'\n", what, arg);
    else
        fprintf(stderr, "cmee-signals: %s\n", what);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
        {"db", required_argument, NULL, 'd'},   {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},       {"log-level", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    app a = {.seed = DEFAULT_SEED, .db_path = "cmee.db"};
    httpd_config hc;
    const char *host = "127.0.0.1";
    uint64_t port = DEFAULT_PORT;
    cmee_status st;
    int c, rc = 1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            if (!parse_u64(optarg, &port) || port > 65535)
                return bad_args("--port: expected 0 to 65535, got", optarg);
            break;
        case 'd':
            if (!optarg[0])
                return bad_args("--db: expected a path", NULL);
            a.db_path = optarg;
            break;
        case 's':
            if (!parse_u64(optarg, &a.seed))
                return bad_args("--seed: expected a whole number, got", optarg);
            break;
        case 'L': {
            slog_level lv;
            if (slog_level_parse(optarg, &lv) != 0)
                return bad_args("--log-level: expected debug, info, warn or error, got", optarg);
            slog_set_level(lv);
            break;
        }
        case 'h':
            fputs(usage, stdout);
            fputs(help, stdout);
            return 0;
        case ':':
            return bad_args("this option needs a value:", argv[optind - 1]);
        default:
            return bad_args("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_args("unexpected argument", argv[optind]);

    if ((st = cmee_market_new(a.seed, NULL, &a.market)) != CMEE_OK) {
        slog(SLOG_ERROR, "market: %s", cmee_status_str(st));
        return 1;
    }
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    a.start_time = (double)start.tv_sec + (double)(start.tv_nsec / 1000000) / 1000.0;
    memset(&hc, 0, sizeof hc);
    hc.host = host;
    hc.port = (int)port;
    hc.on_request = on_request;
    hc.ud = &a;
    if (httpd_new(&hc, &a.h) != 0)
        goto done;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    running = a.h;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("cmee-signals listening on http://%s:%d\n", host, httpd_port(a.h));
    fflush(stdout);
    slog_kv(SLOG_INFO, "listening", "{s:s,s:s,s:i,s:I}", "version", cmee_version(), "host", host,
            "port", httpd_port(a.h), "seed", (json_int_t)a.seed);
    rc = httpd_run(a.h) == 0 ? 0 : 1;
    running = NULL;
done:
    httpd_free(a.h);
    cmee_store_close(a.store);
    cmee_market_free(a.market);
    return rc;
}
