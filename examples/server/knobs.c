/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: admin knobs on the public market (docs/server.md, "Admin knobs"): the speed of
 * its clock, which symbols it serves, volatility and volume multipliers, and a reset to the
 * seed prices. main.c has already checked the admin token.
 *
 * Every change takes effect at the public market's now and never changes anything before it:
 * market changes are scenario applications (cmee_scenario_apply()) at the first minute boundary
 * at or after now, which keeps every earlier candle and tick bit-identical (DESIGN.md contract
 * 4), and a speed change starts a new piece of the public clock at now. Each change is an event
 * appended to the store's market event log "public" before it is applied; at start-up the log
 * is replayed through the same code, so a restarted server serves the same market. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "server.h"

#define MAX_VOL_MULT 20.0     /* the library's bound on cmee_regime::vol_mult */
#define MAX_VOLUME_MULT 100.0 /* and on cmee_regime::volume_mult */
#define MAX_SHOCKS 8          /* a reset's move, split into shocks of at most +950 % each */
/* The span of one multipliers application. Applying costs O(days of its span) (the library
 * computes where it leaves the price), so instead of one 10-year regime the server applies
 * 30-day ones and renews each where it ends, when the public clock gets there: the same
 * renewals at the same market times, live or replayed, so the market stays a function of the
 * logged events. */
#define REGIME_SPAN (INT64_C(30) * 86400000)
/* Tests shorten it with CMEE_KNOB_RENEW_MS (whole minutes, at least one) to see renewals. */

static void knobs_renew(srv *S, int64_t upto);

/* ---- the public clock ---------------------------------------------------------------------- */

int64_t public_at(const srv *S, int64_t wall)
{
    if (!S->clk_set)
        return wall;
    int64_t p = S->clk_pub;
    if (!S->clk_paused && wall > S->clk_wall)
        p += (int64_t)floor((double)(wall - S->clk_wall) * S->clk_speed);
    return p;
}

int64_t public_now(srv *S)
{
    int64_t p = public_at(S, now_ms());
    /* Never backward, even when the wall clock is stepped back. */
    if (p < S->clk_last)
        p = S->clk_last;
    S->clk_last = p;
    if (S->renew_next && p >= S->renew_next)
        knobs_renew(S, p);
    return p;
}

int64_t public_to_wall_us(const srv *S, int64_t pub)
{
    if (!S->clk_set)
        return pub * 1000;
    if (S->clk_paused)
        return -1;
    double w = (double)S->clk_wall * 1000.0 +
               ceil((double)(pub - S->clk_pub) * 1000.0 / S->clk_speed);
    return w < 9e15 ? (int64_t)w : -1; /* far away: the caller looks again later */
}

bool symbol_disabled(srv *S, const char *symbol)
{
    sym_stream *st = stream_find(S, symbol);
    return st && st->disabled;
}

/* ---- custom symbols ---------------------------------------------------------------------- */

#define MAX_STREAMS 128 /* built-in symbols and the ones an admin added */

/* A symbol spec as JSON, every field written (so that a replay does not depend on defaults). */
static json_t *spec_json(const cmee_symbol_spec *sp)
{
    return json_pack("{s:s,s:s,s:f,s:f,s:i,s:f,s:f,s:f,s:i,s:f,s:f,s:f,s:f,s:f}", "symbol",
                     sp->symbol, "class", cmee_asset_class_name(sp->asset_class), "seed_price",
                     sp->seed_price, "tick_size", sp->tick_size, "precision", sp->precision,
                     "volatility", sp->volatility, "drift", sp->drift, "volume", sp->volume,
                     "ticks_per_minute", sp->ticks_per_minute, "tail_dof", sp->tail_dof,
                     "clustering", sp->clustering, "jump_rate", sp->jump_rate, "jump_mean",
                     sp->jump_mean, "jump_stdev", sp->jump_stdev);
}

/* A symbol spec from JSON: cmee_symbol_spec_init() defaults, then the fields given. Types are
 * checked here, ranges by the library. @returns 0, or -1 with "<field>: ..." in @p why. */
static int spec_from_json(const json_t *o, cmee_symbol_spec *sp, char *why, size_t cap)
{
    static const char *const nums[] = {"seed_price", "tick_size", "volatility", "drift",
                                       "volume", "tail_dof", "clustering", "jump_rate",
                                       "jump_mean", "jump_stdev", NULL};
    const char *key;
    json_t *v;
    if (!json_is_object(o)) {
        snprintf(why, cap, "expected an object (a symbol spec)");
        return -1;
    }
    const char *name = json_string_value(json_object_get(o, "symbol"));
    if (!name) {
        snprintf(why, cap, "symbol: required, a string");
        return -1;
    }
    if (strlen(name) >= CMEE_SYMBOL_MAX) {
        snprintf(why, cap, "symbol: at most %d characters", CMEE_SYMBOL_MAX - 1);
        return -1;
    }
    if (!json_object_get(o, "seed_price")) {
        snprintf(why, cap, "seed_price: required");
        return -1;
    }
    cmee_symbol_spec_init(sp, name);
    json_object_foreach((json_t *)o, key, v) {
        double *d = NULL;
        if (strcmp(key, "symbol") == 0)
            continue;
        if (strcmp(key, "class") == 0) {
            if (!json_is_string(v) ||
                cmee_asset_class_parse(json_string_value(v), &sp->asset_class) != CMEE_OK) {
                snprintf(why, cap, "class: expected crypto, fx, metal, index, stock, commodity "
                                   "or other");
                return -1;
            }
            continue;
        }
        if (strcmp(key, "precision") == 0 || strcmp(key, "ticks_per_minute") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 100000) {
                snprintf(why, cap, "%s: expected a whole number", key);
                return -1;
            }
            *(key[0] == 'p' ? &sp->precision : &sp->ticks_per_minute) =
                (int)json_integer_value(v);
            continue;
        }
        for (size_t i = 0; nums[i] && !d; i++)
            if (strcmp(key, nums[i]) == 0)
                d = i == 0 ? &sp->seed_price : i == 1 ? &sp->tick_size : i == 2 ? &sp->volatility
                  : i == 3 ? &sp->drift : i == 4 ? &sp->volume : i == 5 ? &sp->tail_dof
                  : i == 6 ? &sp->clustering : i == 7 ? &sp->jump_rate : i == 8 ? &sp->jump_mean
                           : &sp->jump_stdev;
        if (!d) {
            snprintf(why, cap, "%.32s: not a field of a symbol spec", key);
            return -1;
        }
        if (!json_is_number(v)) {
            snprintf(why, cap, "%s: expected a number", key);
            return -1;
        }
        *d = json_number_value(v);
    }
    return 0;
}

/* Register @p sp on the public market and give it a stream. */
static int symbol_add(srv *S, const cmee_symbol_spec *sp, char *why, size_t cap)
{
    if (stream_find(S, sp->symbol)) {
        snprintf(why, cap, "symbol: \"%s\" exists", sp->symbol);
        return -1;
    }
    if (S->nstreams >= MAX_STREAMS) {
        snprintf(why, cap, "symbol: the public market has %d symbols, the most it serves",
                 MAX_STREAMS);
        return -1;
    }
    sym_stream *p = realloc(S->streams, (S->nstreams + 1) * sizeof *p);
    if (!p) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    S->streams = p;
    if (cmee_market_set_symbol(S->market, sp) != CMEE_OK) {
        snprintf(why, cap, "%s", cmee_market_errmsg(S->market));
        return -1;
    }
    sym_stream *st = &p[S->nstreams++];
    memset(st, 0, sizeof *st);
    snprintf(st->symbol, sizeof st->symbol, "%s", sp->symbol);
    st->cache_minute = -1;
    st->vol_mult = st->volume_mult = 1.0;
    return 0;
}

/* ---- applying events --------------------------------------------------------------------- */

static int64_t effective(int64_t at)
{
    return (at + 59999) / 60000 * 60000;
}

/* The knob state of @p st as one scenario application at @p eff (a minute boundary): a regime
 * with its multipliers (when not 1) and the shocks of a reset pending at @p eff. The new
 * application ends the symbol's previous one at @p eff, keeping the price level it reached. */
static cmee_status sym_apply(srv *S, sym_stream *st, int64_t eff, char *why, size_t cap)
{
    cmee_regime r;
    cmee_event ev[MAX_SHOCKS];
    size_t nr = 0, ne = 0;
    if (st->vol_mult != 1.0 || st->volume_mult != 1.0) {
        cmee_regime_init(&r);
        r.start = 0;
        r.end = S->knob_span;
        r.vol_mult = st->vol_mult;
        r.volume_mult = st->volume_mult;
        nr = 1;
    }
    if (st->reset_minute == eff && st->reset_log != 0.0) {
        /* Shocks at the same minute add up; each is at most +950 %. */
        int k = (int)ceil(fabs(st->reset_log) / log(10.5));
        if (k < 1)
            k = 1;
        if (k > MAX_SHOCKS) {
            snprintf(why, cap, "%s: the price is too far from its seed price to reset",
                     st->symbol);
            return CMEE_ERANGE;
        }
        for (int i = 0; i < k; i++) {
            cmee_event_init(&ev[ne], CMEE_EVENT_SHOCK);
            ev[ne].at = 0;
            ev[ne].size = expm1(st->reset_log / k);
            ne++;
        }
    }
    const char *syms[1] = {st->symbol};
    cmee_scenario_spec spec = {.name = "admin-knob", .symbols = syms, .nsymbols = 1,
                               .regimes = nr ? &r : NULL, .nregimes = nr,
                               .events = ne ? ev : NULL, .nevents = ne};
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status rc = cmee_scenario_new(&spec, S->market, NULL, &sc, &err);
    if (rc != CMEE_OK) {
        snprintf(why, cap, "%s: %s", st->symbol, err.text);
        return rc;
    }
    rc = cmee_scenario_apply(S->market, sc, eff, NULL);
    if (rc != CMEE_OK)
        snprintf(why, cap, "%s: %s", st->symbol, cmee_market_errmsg(S->market));
    else
        st->regime_until = nr ? eff + S->knob_span : 0;
    cmee_scenario_free(sc);
    return rc;
}

static void renew_next_update(srv *S)
{
    S->renew_next = 0;
    for (size_t i = 0; i < S->nstreams; i++) {
        int64_t u = S->streams[i].regime_until;
        if (u && (!S->renew_next || u < S->renew_next))
            S->renew_next = u;
    }
}

static void invalidate(srv *S);

/* Renew every multipliers application that ends at or before @p upto, where it ends. */
static void knobs_renew(srv *S, int64_t upto)
{
    bool any = false;
    char why[256];
    for (size_t i = 0; i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        while (st->regime_until && st->regime_until <= upto) {
            if (sym_apply(S, st, st->regime_until, why, sizeof why) != CMEE_OK) {
                slog_kv(SLOG_ERROR, "cannot renew the multipliers", "{s:s,s:s}", "symbol",
                        st->symbol, "error", why);
                break;
            }
            any = true;
        }
    }
    renew_next_update(S);
    if (any)
        invalidate(S);
}

/* Drop every cached answer of the public market: after a knob, a cached minute at or after
 * the effective time may be stale. Knobs are rare; the caches refill on the next request. */
static void invalidate(srv *S)
{
    market_cache_free(S);
    for (size_t i = 0; i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        st->cache_minute = -1;
        st->now_ticks.minute = 0;
        st->ago_ticks.minute = 0;
        st->price_key = st->price24_key = 0;
    }
    S->knob_epoch++;
}

/* Apply one event (live or replayed from the store: the same code). @p data is the event's
 * JSON as stored. @returns 0, or -1 with the reason in @p why. */
static int knob_apply(srv *S, const char *kind, const json_t *data, int64_t wall, int64_t at,
                      char *why, size_t cap)
{
    int64_t eff = effective(at);
    if (strcmp(kind, "speed") == 0) {
        json_t *sp = json_object_get(data, "speed"), *pa = json_object_get(data, "paused");
        if (!json_is_number(sp) || !json_is_boolean(pa)) {
            snprintf(why, cap, "speed event without speed and paused");
            return -1;
        }
        S->clk_set = true;
        S->clk_wall = wall;
        S->clk_pub = at;
        S->clk_speed = json_number_value(sp);
        S->clk_paused = json_is_true(pa);
        if (S->clk_last < at)
            S->clk_last = at;
        return 0;
    }
    if (strcmp(kind, "symbols") == 0) {
        static const char *const keys[2] = {"enable", "disable"};
        json_t *add = json_object_get(data, "add"), *av;
        size_t ai;
        json_array_foreach(add, ai, av) {
            cmee_symbol_spec sp;
            char sub[200];
            if (spec_from_json(av, &sp, sub, sizeof sub) != 0 ||
                symbol_add(S, &sp, sub, sizeof sub) != 0) {
                snprintf(why, cap, "add[%zu].%s", ai, sub);
                return -1;
            }
        }
        for (int k = 0; k < 2; k++) {
            json_t *arr = json_object_get(data, keys[k]), *v;
            size_t i;
            json_array_foreach(arr, i, v) {
                sym_stream *st = stream_find(S, json_string_value(v) ? json_string_value(v) : "");
                if (!st) {
                    snprintf(why, cap, "%s[%zu]: unknown symbol", keys[k], i);
                    return -1;
                }
                st->disabled = k == 1;
            }
        }
        return 0;
    }
    bool reset = strcmp(kind, "reset") == 0;
    if (!reset && strcmp(kind, "multipliers") != 0) {
        snprintf(why, cap, "unknown event kind \"%.31s\"", kind);
        return -1;
    }
    /* Renewals due before this change come first: applications go in time order. */
    if (S->renew_next && S->renew_next <= eff)
        knobs_renew(S, eff);
    json_t *syms = json_object_get(data, "symbols"), *v;
    json_t *vm = json_object_get(data, "vol_mult"), *um = json_object_get(data, "volume_mult");
    const char *name;
    size_t i;
    int rc = 0;
    /* multipliers: {"symbols":[names],...}; reset: {"symbols":{name:{"from":p,"to":seed}}} */
    if (reset) {
        json_object_foreach(syms, name, v) {
            sym_stream *st = stream_find(S, name);
            double from = json_number_value(json_object_get(v, "from"));
            double to = json_number_value(json_object_get(v, "to"));
            if (!st || !(from > 0) || !(to > 0)) {
                snprintf(why, cap, "symbols.%.32s: bad reset", name);
                return -1;
            }
            st->reset_minute = eff;
            st->reset_log = log(to / from);
            if (sym_apply(S, st, eff, why, cap) != CMEE_OK)
                rc = -1;
        }
    } else {
        json_array_foreach(syms, i, v) {
            sym_stream *st = stream_find(S, json_string_value(v) ? json_string_value(v) : "");
            if (!st) {
                snprintf(why, cap, "symbols[%zu]: unknown symbol", i);
                return -1;
            }
            if (vm)
                st->vol_mult = json_number_value(vm);
            if (um)
                st->volume_mult = json_number_value(um);
            if (sym_apply(S, st, eff, why, cap) != CMEE_OK)
                rc = -1;
        }
    }
    renew_next_update(S);
    invalidate(S);
    return rc;
}

/* The event as the history shows it: seq, kind, wall, time, effective, then its data. */
static json_t *event_json(int64_t seq, const char *kind, int64_t wall, int64_t at,
                          const json_t *data)
{
    bool market = strcmp(kind, "multipliers") == 0 || strcmp(kind, "reset") == 0;
    json_t *j = json_pack("{s:I,s:s,s:I,s:I,s:I}", "seq", (json_int_t)seq, "kind", kind, "wall",
                          (json_int_t)wall, "time", (json_int_t)at, "effective",
                          (json_int_t)(market ? effective(at) : at));
    json_object_update(j, (json_t *)data);
    return j;
}

/* One structured log line per knob event (examples/common/log.h). */
static void log_event(json_t *ev)
{
    slog_obj(SLOG_INFO, "admin knob", json_pack("{s:O}", "event", ev));
}

/* ---- start-up: replay the log ------------------------------------------------------------ */

typedef struct replay_ctx {
    srv *S;
    char why[256];
    int64_t failed_seq;
} replay_ctx;

static int replay_one(void *ud, const cmee_store_market_event *e)
{
    replay_ctx *c = ud;
    json_error_t jerr;
    json_t *data = json_loadb(e->data, e->data_len, 0, &jerr);
    if (!json_is_object(data)) {
        snprintf(c->why, sizeof c->why, "not a JSON object");
        json_decref(data);
        c->failed_seq = e->seq;
        return 1;
    }
    if (knob_apply(c->S, e->kind, data, e->wall, e->at, c->why, sizeof c->why) != 0) {
        json_decref(data);
        c->failed_seq = e->seq;
        return 1;
    }
    json_array_append_new(c->S->knob_events, event_json(e->seq, e->kind, e->wall, e->at, data));
    json_decref(data);
    return 0;
}

int knobs_load(srv *S)
{
    const char *span = getenv("CMEE_KNOB_RENEW_MS");
    S->knob_span = REGIME_SPAN;
    if (span && *span) {
        char *end;
        long long v = strtoll(span, &end, 10);
        if (*end || v < 60000 || v > REGIME_SPAN || v % 60000) {
            slog(SLOG_ERROR, "CMEE_KNOB_RENEW_MS: expected whole minutes from 60000 to %lld, "
                             "got \"%s\"", (long long)REGIME_SPAN, span);
            return -1;
        }
        S->knob_span = v;
    }
    for (size_t i = 0; i < S->nstreams; i++)
        S->streams[i].vol_mult = S->streams[i].volume_mult = 1.0;
    S->knob_events = json_array();
    if (!S->knob_events)
        return -1;
    replay_ctx c = {.S = S};
    size_t n = 0;
    cmee_status st = cmee_store_market_events(S->store, SRV_KNOB_LOG, replay_one, &c, &n);
    if (st != CMEE_OK) {
        slog(SLOG_ERROR, "admin knobs: %s", cmee_store_errmsg(S->store));
        return -1;
    }
    if (c.failed_seq) {
        slog(SLOG_ERROR, "admin knobs: event %lld of the log cannot be applied: %s",
             (long long)c.failed_seq, c.why);
        return -1;
    }
    public_now(S); /* the renewals due while the server was down */
    return 0;
}

void knobs_free(srv *S)
{
    json_decref(S->knob_events);
    S->knob_events = NULL;
}

/* ---- endpoints --------------------------------------------------------------------------- */

/* Record, apply and answer one change: append it to the log, apply it, show it. */
static void commit(srv *S, httpd_req *r, const char *kind, json_t *data, int64_t wall,
                   int64_t at)
{
    char *text = json_dumps(data, JSON_COMPACT);
    int64_t seq = 0;
    cmee_status st = text ? cmee_store_market_event_append(S->store, SRV_KNOB_LOG, wall, at, kind,
                                                           text, strlen(text), &seq)
                          : CMEE_ENOMEM;
    free(text);
    if (st != CMEE_OK) {
        httpd_respond_error(r, status_http(st) >= 500 || st == CMEE_EINVAL ? 500
                                                                            : status_http(st),
                            status_code(st), "store: %s", cmee_store_errmsg(S->store));
        return;
    }
    char why[256] = "";
    if (knob_apply(S, kind, data, wall, at, why, sizeof why) != 0) {
        /* Recorded but not applied in full: only an allocation failure gets here, since
         * everything else was validated. A restart replays it. */
        httpd_respond_error(r, 500, "internal_error", "%s", why);
        return;
    }
    json_t *ev = event_json(seq, kind, wall, at, data);
    json_array_append(S->knob_events, ev);
    log_event(ev);
    if (S->stream)
        httpd_timer_next(S->stream, 0); /* the clock or the symbols changed: look again now */
    httpd_respond_json(r, 200, json_pack("{s:o}", "event", ev));
}

/* The current wall and public times of a change. */
static void change_times(srv *S, int64_t *wall, int64_t *at)
{
    *wall = now_ms();
    *at = public_at(S, *wall);
    if (*at < S->clk_last)
        *at = S->clk_last;
    S->clk_last = *at;
}

/* A "symbols" list of a body: every symbol when absent; 400 naming the entry when bad.
 * @returns a new array of names, or NULL after answering. */
static json_t *symbol_list(srv *S, httpd_req *r, const json_t *b, const char *key, bool all)
{
    json_t *in = json_object_get(b, key), *out = json_array(), *v;
    size_t i;
    if (!in || json_is_null(in)) {
        if (!all) {
            json_decref(out);
            return json_array();
        }
        for (size_t k = 0; k < S->nstreams; k++)
            json_array_append_new(out, json_string(S->streams[k].symbol));
        return out;
    }
    if (!json_is_array(in) || json_array_size(in) == 0) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "%s: expected a non-empty array of symbols", key);
        json_decref(out);
        return NULL;
    }
    json_array_foreach(in, i, v) {
        const char *s = json_string_value(v);
        if (!s || !stream_find(S, s)) {
            httpd_respond_error(r, 400, "invalid_parameter", "%s[%zu]: unknown symbol%s%.32s%s",
                                key, i, s ? " \"" : "", s ? s : "", s ? "\"" : "");
            json_decref(out);
            return NULL;
        }
        for (size_t k = 0; k < json_array_size(out); k++)
            if (strcmp(json_string_value(json_array_get(out, k)), s) == 0) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "%s[%zu]: \"%.32s\" is listed twice", key, i, s);
                json_decref(out);
                return NULL;
            }
        json_array_append_new(out, json_string(s));
    }
    return out;
}

void h_admin_speed(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    static const char *const allowed[] = {"speed", "paused", NULL};
    double speed = S->clk_set ? S->clk_speed : 1.0;
    bool paused = S->clk_set && S->clk_paused;
    (void)caps, (void)sess;
    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    int has = body_number(r, b, "speed", &speed);
    if (has < 0)
        goto out;
    json_t *p = json_object_get(b, "paused");
    if (p && !json_is_null(p) && !json_is_boolean(p)) {
        httpd_respond_error(r, 400, "invalid_parameter", "paused: expected true or false");
        goto out;
    }
    if (!has && (!p || json_is_null(p))) {
        httpd_respond_error(r, 400, "missing_parameter", "speed: give speed, paused or both");
        goto out;
    }
    if (has && !(speed >= SRV_MIN_SPEED && speed <= SRV_MAX_SPEED)) {
        httpd_respond_error(r, 400, "invalid_parameter", "speed: must be in [%g, %g], got %g",
                            SRV_MIN_SPEED, SRV_MAX_SPEED, speed);
        goto out;
    }
    if (p && json_is_boolean(p))
        paused = json_is_true(p);
    int64_t wall, at;
    change_times(S, &wall, &at);
    json_t *data = json_pack("{s:f,s:b}", "speed", speed, "paused", paused);
    commit(S, r, "speed", data, wall, at);
    json_decref(data);
out:
    json_decref(b);
}

void h_admin_symbols(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    static const char *const allowed[] = {"enable", "disable", "add", NULL};
    json_t *en = NULL, *dis = NULL, *add = NULL;
    cmee_market *scratch = NULL;
    (void)caps, (void)sess;
    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    if (!(en = symbol_list(S, r, b, "enable", false)) ||
        !(dis = symbol_list(S, r, b, "disable", false)))
        goto out;
    /* New symbols: each spec checked by the library on a scratch market, so that a bad one
     * is refused before anything is recorded. */
    json_t *in = json_object_get(b, "add");
    add = json_array();
    if (in && !json_is_null(in)) {
        json_t *v;
        size_t i;
        if (!json_is_array(in) || json_array_size(in) == 0) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "add: expected a non-empty array of symbol specs");
            goto out;
        }
        if (S->nstreams + json_array_size(in) > MAX_STREAMS) {
            httpd_respond_error(r, 422, "refused", "add: the public market serves at most %d "
                                "symbols", MAX_STREAMS);
            goto out;
        }
        if (cmee_market_new(S->seed, NULL, &scratch) != CMEE_OK) {
            httpd_respond_error(r, 500, "out_of_memory", "out of memory");
            goto out;
        }
        json_array_foreach(in, i, v) {
            cmee_symbol_spec sp, have;
            char why[200];
            if (spec_from_json(v, &sp, why, sizeof why) != 0) {
                httpd_respond_error(r, 400, "invalid_parameter", "add[%zu].%s", i, why);
                goto out;
            }
            if (cmee_market_symbol(scratch, sp.symbol, &have) == CMEE_OK) {
                httpd_respond_error(r, 409, "conflict", "add[%zu].symbol: \"%s\" exists", i,
                                    sp.symbol);
                goto out;
            }
            if (cmee_market_set_symbol(scratch, &sp) != CMEE_OK) {
                httpd_respond_error(r, 400, "invalid_parameter", "add[%zu].%s", i,
                                    cmee_market_errmsg(scratch));
                goto out;
            }
            json_array_append_new(add, spec_json(&sp));
        }
        for (size_t k = 0; k < json_array_size(add); k++) {
            const char *name = json_string_value(
                json_object_get(json_array_get(add, k), "symbol"));
            if (stream_find(S, name)) {
                httpd_respond_error(r, 409, "conflict", "add[%zu].symbol: \"%s\" exists", k,
                                    name);
                goto out;
            }
        }
    }
    if (json_array_size(en) + json_array_size(dis) + json_array_size(add) == 0) {
        httpd_respond_error(r, 400, "missing_parameter",
                            "enable: give enable, disable or add (arrays)");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(dis); i++)
        for (size_t k = 0; k < json_array_size(en); k++)
            if (strcmp(json_string_value(json_array_get(dis, i)),
                       json_string_value(json_array_get(en, k))) == 0) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "disable[%zu]: \"%.32s\" is also in enable", i,
                                    json_string_value(json_array_get(dis, i)));
                goto out;
            }
    int64_t wall, at;
    change_times(S, &wall, &at);
    json_t *data = json_pack("{s:O,s:O}", "enable", en, "disable", dis);
    if (json_array_size(add))
        json_object_set(data, "add", add);
    commit(S, r, "symbols", data, wall, at);
    json_decref(data);
out:
    cmee_market_free(scratch);
    json_decref(add);
    json_decref(en);
    json_decref(dis);
    json_decref(b);
}

void h_admin_multipliers(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    static const char *const allowed[] = {"symbols", "vol_mult", "volume_mult", NULL};
    double vm = 1, um = 1;
    json_t *syms = NULL;
    (void)caps, (void)sess;
    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    int hv = body_number(r, b, "vol_mult", &vm);
    if (hv < 0)
        goto out;
    int hu = body_number(r, b, "volume_mult", &um);
    if (hu < 0)
        goto out;
    if (!hv && !hu) {
        httpd_respond_error(r, 400, "missing_parameter",
                            "vol_mult: give vol_mult, volume_mult or both");
        goto out;
    }
    if (hv && !(vm > 0 && vm <= MAX_VOL_MULT)) {
        httpd_respond_error(r, 400, "invalid_parameter", "vol_mult: must be in (0, 20], got %g",
                            vm);
        goto out;
    }
    if (hu && !(um > 0 && um <= MAX_VOLUME_MULT)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "volume_mult: must be in (0, 100], got %g", um);
        goto out;
    }
    if (!(syms = symbol_list(S, r, b, "symbols", true)))
        goto out;
    int64_t wall, at;
    change_times(S, &wall, &at);
    if (effective(at) + CMEE_SCENARIO_MAX_SPAN >= CMEE_TIME_MAX) {
        httpd_respond_error(r, 422, "refused", "the market's clock is too close to its end");
        goto out;
    }
    json_t *data = json_pack("{s:O}", "symbols", syms);
    if (hv)
        json_object_set_new(data, "vol_mult", json_real(vm));
    if (hu)
        json_object_set_new(data, "volume_mult", json_real(um));
    commit(S, r, "multipliers", data, wall, at);
    json_decref(data);
out:
    json_decref(syms);
    json_decref(b);
}

void h_admin_reset(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    static const char *const allowed[] = {"symbols", NULL};
    json_t *syms = NULL, *data = NULL;
    (void)caps, (void)sess;
    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    if (!(syms = symbol_list(S, r, b, "symbols", true)))
        goto out;
    int64_t wall, at;
    change_times(S, &wall, &at);
    int64_t eff = effective(at);
    if (eff + CMEE_SCENARIO_MAX_SPAN >= CMEE_TIME_MAX) {
        httpd_respond_error(r, 422, "refused", "the market's clock is too close to its end");
        goto out;
    }
    if (S->renew_next && S->renew_next <= eff)
        knobs_renew(S, eff); /* the price at eff is the renewed regime's */
    /* Each symbol moves from its price at the effective minute's open to its seed price. */
    json_t *moves = json_object();
    data = json_pack("{s:o}", "symbols", moves);
    for (size_t i = 0; i < json_array_size(syms); i++) {
        const char *name = json_string_value(json_array_get(syms, i));
        cmee_symbol_spec sp;
        cmee_candle c;
        size_t n = 0;
        cmee_status st = cmee_market_symbol(S->market, name, &sp);
        if (st == CMEE_OK)
            st = cmee_market_candles(S->market, name, CMEE_TF_1M, eff, eff + 60000, &c, 1, &n);
        if (st != CMEE_OK || n != 1) {
            httpd_respond_error(r, 500, "internal_error", "%s: %s", name,
                                cmee_market_errmsg(S->market));
            goto out;
        }
        double ratio = sp.seed_price / c.open;
        if (fabs(log(ratio)) > MAX_SHOCKS * log(10.5)) {
            httpd_respond_error(r, 422, "refused",
                                "symbols[%zu]: %s is too far from its seed price to reset", i,
                                name);
            goto out;
        }
        json_object_set_new(moves, name, json_pack("{s:f,s:f}", "from", c.open, "to",
                                                   sp.seed_price));
    }
    commit(S, r, "reset", data, wall, at);
out:
    json_decref(data);
    json_decref(syms);
    json_decref(b);
}

void h_admin_market(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    int64_t wall = now_ms(), now = public_now(S);
    json_t *syms = json_array();
    for (size_t i = 0; i < S->nstreams; i++) {
        sym_stream *st = &S->streams[i];
        cmee_symbol_spec sp;
        if (cmee_market_symbol(S->market, st->symbol, &sp) != CMEE_OK)
            continue;
        json_array_append_new(syms, json_pack("{s:s,s:b,s:f,s:f,s:o}", "symbol", st->symbol,
                                              "enabled", !st->disabled, "vol_mult", st->vol_mult,
                                              "volume_mult", st->volume_mult, "seed_price",
                                              httpd_json_number(sp.seed_price)));
    }
    json_t *clock = json_pack("{s:f,s:b,s:I,s:I}", "speed", S->clk_set ? S->clk_speed : 1.0,
                              "paused", S->clk_set && S->clk_paused, "since_wall",
                              (json_int_t)(S->clk_set ? S->clk_wall : 0), "since_time",
                              (json_int_t)(S->clk_set ? S->clk_pub : 0));
    httpd_respond_json(r, 200,
                       json_pack("{s:I,s:I,s:o,s:o,s:O}", "time", (json_int_t)now, "wall",
                                 (json_int_t)wall, "clock", clock, "symbols", syms, "events",
                                 S->knob_events));
}
