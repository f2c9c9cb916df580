/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: sessions (create, view, clock, candles, orders, options, account) and the
 * session tokens: token = hex(HMAC-SHA-256(server secret, session id)), so nothing but the
 * secret file is stored for them (docs/server.md#session-tokens). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "sha256.h"

/* ---- the table of live sessions and their tokens ---------------------------------------- */

srv_session *session_find(srv *S, const char *id)
{
    for (size_t i = 0; i < S->nsessions; i++)
        if (strcmp(S->sessions[i]->id, id) == 0)
            return S->sessions[i];
    return NULL;
}

int session_token(const srv *S, const char *id, char out[SRV_TOKEN_HEX + 1])
{
    unsigned char mac[SHA256_LEN];
    hmac_sha256(S->secret, sizeof S->secret, id, strlen(id), mac);
    hex_encode(mac, sizeof mac, out);
    return 0;
}

bool session_token_ok(const srv *S, const char *id, const char *token)
{
    char want[SRV_TOKEN_HEX + 1];
    if (!token || strlen(token) != SRV_TOKEN_HEX)
        return false;
    session_token(S, id, want);
    return ct_equal(want, token, SRV_TOKEN_HEX);
}

static srv_session *session_add(srv *S, cmee_session *s)
{
    if (S->nsessions == S->capsessions) {
        size_t cap = S->capsessions ? 2 * S->capsessions : 16;
        srv_session **p = realloc(S->sessions, cap * sizeof *p);
        if (!p)
            return NULL;
        S->sessions = p;
        S->capsessions = cap;
    }
    srv_session *ss = calloc(1, sizeof *ss);
    if (!ss)
        return NULL;
    ss->s = s;
    snprintf(ss->id, sizeof ss->id, "%s", cmee_session_id(s));
    if (cmee_driver_add(S->driver, s, NULL, 0) != CMEE_OK) {
        free(ss);
        return NULL;
    }
    S->sessions[S->nsessions++] = ss;
    return ss;
}

int sessions_load(srv *S)
{
    size_t n = 0;
    if (cmee_session_list(S->store, NULL, 0, &n) != CMEE_OK) {
        slog(SLOG_ERROR, "cannot list sessions: %s", cmee_store_errmsg(S->store));
        return -1;
    }
    if (n == 0)
        return 0;
    char(*ids)[CMEE_SESSION_ID_MAX] = calloc(n, sizeof *ids);
    if (!ids || cmee_session_list(S->store, ids, n, &n) != CMEE_OK) {
        free(ids);
        slog(SLOG_ERROR, "cannot list sessions: %s", cmee_store_errmsg(S->store));
        return -1;
    }
    size_t loaded = 0;
    for (size_t i = 0; i < n; i++) {
        cmee_session *s;
        cmee_error err;
        if (cmee_session_load(S->store, ids[i], NULL, &s, &err) != CMEE_OK) {
            slog_kv(SLOG_WARN, "session not loaded", "{s:s,s:s}", "session", ids[i], "error",
                    err.text);
            continue;
        }
        if (!session_add(S, s)) {
            cmee_session_free(s);
            continue;
        }
        loaded++;
    }
    free(ids);
    if (loaded)
        slog_kv(SLOG_INFO, "resumed sessions", "{s:I}", "sessions", (json_int_t)loaded);
    return 0;
}

void sessions_free(srv *S)
{
    for (size_t i = 0; i < S->nsessions; i++) {
        cmee_driver_remove(S->driver, S->sessions[i]->s);
        cmee_session_free(S->sessions[i]->s);
        free(S->sessions[i]);
    }
    free(S->sessions);
    S->sessions = NULL;
    S->nsessions = S->capsessions = 0;
}

cmee_status scenario_by_name(srv *S, const char *name, cmee_scenario **out, char *why,
                             size_t cap)
{
    cmee_error err;
    if (cmee_scenario_preset(name, NULL, out, &err) == CMEE_OK)
        return CMEE_OK;
    cmee_status st = cmee_store_scenario_load(S->store, name, 0, S->market, NULL, out);
    if (st == CMEE_ENOTFOUND)
        snprintf(why, cap, "no preset or stored scenario named \"%.64s\"", name);
    else if (st != CMEE_OK)
        snprintf(why, cap, "%s", cmee_store_errmsg(S->store));
    return st;
}

/* ---- JSON views -------------------------------------------------------------------------- */

static const char *side_name(cmee_side s) { return s == CMEE_SIDE_BUY ? "buy" : "sell"; }

static const char *type_name(cmee_order_type t)
{
    return t == CMEE_ORDER_MARKET        ? "market"
           : t == CMEE_ORDER_LIMIT       ? "limit"
           : t == CMEE_ORDER_LIQUIDATION ? "liquidation"
                                         : "stop";
}

static const char *order_state_name(cmee_order_state s)
{
    static const char *const names[] = {"open", "filled", "cancelled", "rejected"};
    return (unsigned)s < 4 ? names[s] : "unknown";
}

static const char *option_state_name(cmee_option_state s)
{
    static const char *const names[] = {"open", "won", "lost", "tie"};
    return (unsigned)s < 4 ? names[s] : "unknown";
}

static const char *ledger_kind_name(cmee_ledger_kind k)
{
    static const char *const names[] = {"deposit", "fee", "pnl", "option_stake",
                                        "option_payout"};
    return (unsigned)k < 5 ? names[k] : "unknown";
}

static json_t *order_json(const cmee_order *o)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:o}", "id",
                     (json_int_t)o->id, "symbol", o->symbol, "side", side_name(o->side), "type",
                     type_name(o->type), "state", order_state_name(o->state), "qty",
                     httpd_json_number(o->quantity), "price", httpd_json_number(o->price), "sl",
                     httpd_json_number(o->stop_loss), "tp", httpd_json_number(o->take_profit),
                     "created", (json_int_t)o->created, "closed",
                     o->closed ? json_integer(o->closed) : json_null(), "fill_price",
                     httpd_json_number(o->fill_price), "fee", money_json(o->fee));
}

static json_t *option_json(const cmee_option *o)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:o,s:o,s:o}", "id", (json_int_t)o->id,
                     "symbol", o->symbol, "direction",
                     o->kind == CMEE_OPTION_CALL ? "call" : "put", "state",
                     option_state_name(o->state), "stake", money_json(o->stake), "payout",
                     httpd_json_number(o->payout), "opened", (json_int_t)o->opened, "expires",
                     (json_int_t)o->expires, "strike", httpd_json_number(o->strike),
                     "settle_price", httpd_json_number(o->settle_price), "paid",
                     money_json(o->paid));
}

static json_t *position_json(const cmee_position *p)
{
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "symbol", p->symbol, "qty",
                     httpd_json_number(p->quantity), "avg_price", httpd_json_number(p->avg_price),
                     "mark", httpd_json_number(p->mark), "unrealised", money_json(p->unrealised),
                     "realised", money_json(p->realised), "sl", httpd_json_number(p->stop_loss),
                     "tp", httpd_json_number(p->take_profit), "leverage",
                     httpd_json_number(p->leverage), "margin", money_json(p->margin));
}

static json_t *ledger_json(const cmee_ledger_entry *e)
{
    return json_pack("{s:I,s:I,s:s,s:o,s:o,s:I,s:s}", "seq", (json_int_t)e->seq, "time",
                     (json_int_t)e->time, "kind", ledger_kind_name(e->kind), "amount",
                     money_json(e->amount), "balance", money_json(e->balance), "ref",
                     (json_int_t)e->ref, "symbol", e->symbol);
}

static json_t *clock_json(const cmee_session *s)
{
    cmee_clock c;
    if (cmee_session_clock(s, &c) != CMEE_OK)
        return json_null();
    return json_pack("{s:I,s:o,s:b,s:b}", "now", (json_int_t)c.now, "speed",
                     httpd_json_number(c.speed), "paused", c.paused, "manual", c.manual);
}

static json_t *symbols_json(const cmee_session_config *cfg, const cmee_market *m)
{
    json_t *arr = json_array();
    if (cfg->nsymbols) {
        for (size_t i = 0; i < cfg->nsymbols; i++)
            json_array_append_new(arr, json_string(cfg->symbols[i]));
    } else {
        for (size_t i = 0; i < cmee_market_symbol_count(m); i++) {
            cmee_symbol_spec sp;
            if (cmee_market_symbol_at(m, i, &sp) == CMEE_OK)
                json_array_append_new(arr, json_string(sp.symbol));
        }
    }
    return arr;
}

static json_t *applications_json(const cmee_market *m)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < cmee_scenario_application_count(m); i++) {
        cmee_application a;
        if (cmee_scenario_application_at(m, i, &a) == CMEE_OK)
            json_array_append_new(arr, json_pack("{s:I,s:s,s:I,s:I}", "application",
                                                 (json_int_t)a.id, "name", a.name, "t0",
                                                 (json_int_t)a.t0, "end", (json_int_t)a.end));
    }
    return arr;
}

static const char *impact_model_name(cmee_impact_model m)
{
    return m == CMEE_IMPACT_SQRT ? "sqrt" : "none";
}

json_t *session_json(srv *S, srv_session *ss)
{
    cmee_session_config cfg;
    cmee_account a;
    (void)S;

    cmee_session_config_get(ss->s, &cfg);
    const cmee_market *m = cmee_session_market(ss->s);
    json_t *j = json_pack("{s:s,s:I,s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "id", ss->id, "seed",
                          (json_int_t)cfg.seed, "symbols", symbols_json(&cfg, m), "currency",
                          cfg.currency, "initial_balance", money_json(cfg.initial_balance),
                          "fee_rate", httpd_json_number(cfg.fee_rate), "spread_bps",
                          httpd_json_number(cfg.spread_bps), "option_payout",
                          httpd_json_number(cfg.option_payout), "clock", clock_json(ss->s));
    json_object_set_new(j, "fill_model",
                        json_string(cfg.fill_model == CMEE_FILL_QUOTE ? "quote" : "book"));
    json_t *caps = json_object();
    for (int i = 0; i < CMEE_SESSION_CLASSES; i++)
        json_object_set_new(caps, cmee_asset_class_name((cmee_asset_class)i),
                            httpd_json_number(cfg.max_leverage[i]));
    json_object_set_new(j, "leverage", httpd_json_number(cfg.leverage));
    json_object_set_new(j, "max_leverage", caps);
    json_object_set_new(j, "margin_call_level", httpd_json_number(cfg.margin_call_level));
    json_object_set_new(j, "maintenance_level", httpd_json_number(cfg.maintenance_level));
    json_object_set_new(j, "impact",
                        json_pack("{s:s,s:o,s:I}", "model", impact_model_name(cfg.impact.model),
                                  "coefficient", httpd_json_number(cfg.impact.coefficient),
                                  "half_life", (json_int_t)cfg.impact.half_life));
    if (cmee_session_account(ss->s, &a) == CMEE_OK) {
        json_object_set_new(j, "balance", money_json(a.balance));
        json_object_set_new(j, "equity", money_json(a.equity));
    }
    json_object_set_new(j, "scenarios", applications_json(cmee_session_market(ss->s)));
    return j;
}

/* ---- create and view --------------------------------------------------------------------- */

/* The optional "impact" object of a new session: {"model": "none" | "sqrt", "coefficient":
 * number, "half_life": integer ms}, each optional. Types and names are checked here; ranges by
 * the library, which names the field. 0, or -1 after answering 400. */
static int parse_impact(httpd_req *r, const json_t *b, cmee_impact_config *out)
{
    json_t *o = json_object_get(b, "impact");
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "impact: expected an object {model, coefficient, half_life}");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "model") == 0) {
            const char *m = json_is_string(v) ? json_string_value(v) : NULL;
            if (m && strcmp(m, "none") == 0) {
                out->model = CMEE_IMPACT_NONE;
            } else if (m && strcmp(m, "sqrt") == 0) {
                out->model = CMEE_IMPACT_SQRT;
            } else {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "impact.model: expected \"none\" or \"sqrt\"");
                return -1;
            }
        } else if (strcmp(key, "coefficient") == 0) {
            if (!json_is_number(v)) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "impact.coefficient: expected a number");
                return -1;
            }
            out->coefficient = json_number_value(v);
        } else if (strcmp(key, "half_life") == 0) {
            double d = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(isfinite(d) && d == floor(d) && fabs(d) < 9e15)) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "impact.half_life: expected an integer (ms)");
                return -1;
            }
            out->half_life = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)d;
        } else {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "impact.%.32s: unknown field (model, coefficient, half_life)",
                                key);
            return -1;
        }
    }
    return 0;
}

static void answer_session_failure(httpd_req *r, cmee_status st, const char *text)
{
    if (st == CMEE_EINVAL || st == CMEE_ERANGE || st == CMEE_ENOTFOUND)
        httpd_respond_error(r, 400, "invalid_parameter", "%s", text);
    else
        httpd_respond_error(r, status_http(st), status_code(st), "%s", text);
}

void h_session_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *unused)
{
    static const char *const allowed[] = {"seed",         "symbols",           "speed",
                                          "balance",      "currency",          "scenario",
                                          "fill_model",   "leverage",          "max_leverage",
                                          "margin_call_level", "maintenance_level", "impact",
                                          NULL};
    const char *fill = NULL;
    cmee_session_config cfg;
    cmee_scenario *sc = NULL;
    unsigned char idb[16];
    int64_t seed = 0;
    double speed = 0, balance = 0;
    const char *currency = NULL;
    int hs;
    (void)caps, (void)unused;

    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    cmee_session_config_init(&cfg);

    if ((hs = body_int(r, b, "seed", &seed)) < 0)
        goto out;
    if (hs && seed < 0) {
        httpd_respond_error(r, 400, "invalid_parameter", "seed: must be >= 0");
        goto out;
    }
    if (!hs) {
        uint64_t rnd;
        if (random_bytes(&rnd, sizeof rnd) != 0) {
            httpd_respond_error(r, 500, "internal", "no randomness available");
            goto out;
        }
        seed = (int64_t)(rnd & ((UINT64_C(1) << 53) - 1));
    }
    cfg.seed = (uint64_t)seed;

    json_t *syms = json_object_get(b, "symbols");
    if (syms && !json_is_null(syms)) {
        if (!json_is_array(syms)) {
            httpd_respond_error(r, 400, "invalid_parameter", "symbols: expected an array");
            goto out;
        }
        if (json_array_size(syms) > CMEE_SESSION_MAX_SYMBOLS) {
            httpd_respond_error(r, 400, "invalid_parameter", "symbols: at most %d",
                                CMEE_SESSION_MAX_SYMBOLS);
            goto out;
        }
        size_t i;
        json_t *v;
        json_array_foreach(syms, i, v) {
            cmee_symbol_spec sp;
            if (!json_is_string(v)) {
                httpd_respond_error(r, 400, "invalid_parameter", "symbols[%zu]: expected a string",
                                    i);
                goto out;
            }
            if (cmee_market_symbol(S->market, json_string_value(v), &sp) != CMEE_OK) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "symbols[%zu]: unknown symbol \"%.32s\"", i,
                                    json_string_value(v));
                goto out;
            }
            snprintf(cfg.symbols[i], sizeof cfg.symbols[i], "%s", sp.symbol);
        }
        cfg.nsymbols = json_array_size(syms);
    }
    if ((hs = body_number(r, b, "speed", &speed)) < 0)
        goto out;
    if (hs) {
        if (!(speed > 0 && speed <= 1e6)) {
            httpd_respond_error(r, 400, "invalid_parameter", "speed: must be in (0, 1e6], got %g",
                                speed);
            goto out;
        }
        cfg.speed = speed;
    }
    if ((hs = body_number(r, b, "balance", &balance)) < 0)
        goto out;
    if (hs) {
        if (!(balance > 0 && balance <= 1e10) ||
            money_from(balance, &cfg.initial_balance) != 0 || cfg.initial_balance <= 0) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "balance: must be > 0 and at most 1e10, got %g", balance);
            goto out;
        }
    }
    if ((hs = body_string(r, b, "currency", &currency)) < 0)
        goto out;
    if (hs) {
        size_t n = strlen(currency);
        bool ok = n >= 1 && n < CMEE_CURRENCY_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = currency[i] >= 'A' && currency[i] <= 'Z';
        if (!ok) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "currency: expected 1 to 7 letters A-Z, got \"%.16s\"", currency);
            goto out;
        }
        snprintf(cfg.currency, sizeof cfg.currency, "%s", currency);
    }
    double lev = 0;
    if ((hs = body_number(r, b, "leverage", &lev)) < 0)
        goto out;
    if (hs)
        cfg.leverage = lev; /* the library validates and names the field */
    if ((hs = body_number(r, b, "margin_call_level", &lev)) < 0)
        goto out;
    if (hs)
        cfg.margin_call_level = lev;
    if ((hs = body_number(r, b, "maintenance_level", &lev)) < 0)
        goto out;
    if (hs)
        cfg.maintenance_level = lev;
    json_t *caps_j = json_object_get(b, "max_leverage");
    if (caps_j && !json_is_null(caps_j)) {
        const char *cls;
        json_t *v;
        if (!json_is_object(caps_j)) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "max_leverage: expected an object of asset class -> number");
            goto out;
        }
        json_object_foreach(caps_j, cls, v) {
            cmee_asset_class ac;
            if (cmee_asset_class_parse(cls, &ac) != CMEE_OK || (int)ac < 0 ||
                (int)ac >= CMEE_SESSION_CLASSES) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "max_leverage: unknown asset class \"%.16s\"", cls);
                goto out;
            }
            if (!json_is_number(v)) {
                httpd_respond_error(r, 400, "invalid_parameter",
                                    "max_leverage.%.16s: expected a number", cls);
                goto out;
            }
            cfg.max_leverage[ac] = json_number_value(v);
        }
    }
    if ((hs = body_string(r, b, "fill_model", &fill)) < 0)
        goto out;
    if (hs) {
        if (strcmp(fill, "book") == 0) {
            cfg.fill_model = CMEE_FILL_BOOK;
        } else if (strcmp(fill, "quote") == 0) {
            cfg.fill_model = CMEE_FILL_QUOTE;
        } else {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "fill_model: expected book or quote, got \"%.16s\"", fill);
            goto out;
        }
    }
    if (parse_impact(r, b, &cfg.impact) < 0)
        goto out;
    json_t *scj = json_object_get(b, "scenario");
    if (scj && !json_is_null(scj)) {
        char why[256];
        if (json_is_string(scj)) {
            cmee_status st = scenario_by_name(S, json_string_value(scj), &sc, why, sizeof why);
            if (st != CMEE_OK) {
                httpd_respond_error(r, st == CMEE_ENOTFOUND ? 400 : status_http(st),
                                    st == CMEE_ENOTFOUND ? "invalid_parameter" : status_code(st),
                                    "scenario: %s", why);
                goto out;
            }
        } else if (json_is_object(scj)) {
            size_t len;
            char *text = httpd_json_dumps(scj, &len);
            cmee_error err;
            cmee_status st = text ? cmee_scenario_from_json(text, len, S->market, NULL, &sc, &err)
                                  : CMEE_ENOMEM;
            free(text);
            if (st != CMEE_OK) {
                httpd_respond_error(r, 400, "invalid_parameter", "scenario.%s",
                                    st == CMEE_ENOMEM ? "out of memory" : err.text);
                goto out;
            }
        } else {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "scenario: expected a name or a scenario object");
            goto out;
        }
        cfg.scenario = sc;
    }

    if (random_bytes(idb, sizeof idb) != 0) {
        httpd_respond_error(r, 500, "internal", "no randomness available");
        goto out;
    }
    hex_encode(idb, sizeof idb, cfg.id);
    cfg.start_time = now_ms();

    cmee_session *s;
    cmee_error err;
    cmee_status st = cmee_session_new(&cfg, S->store, NULL, &s, &err);
    if (st != CMEE_OK) {
        answer_session_failure(r, st, err.text);
        goto out;
    }
    srv_session *ss = session_add(S, s);
    if (!ss) {
        cmee_session_free(s);
        cmee_session_delete(S->store, cfg.id);
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
        goto out;
    }
    char token[SRV_TOKEN_HEX + 1], loc[128];
    session_token(S, ss->id, token);
    json_t *j = session_json(S, ss);
    json_object_set_new(j, "token", json_string(token));
    snprintf(loc, sizeof loc, "/api/sessions/%s", ss->id);
    httpd_req_add_header(r, "Location", loc);
    httpd_respond_json(r, 201, j);
out:
    cmee_scenario_free(sc);
    json_decref(b);
}

void h_session_get(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    (void)caps;
    httpd_respond_json(r, 200, session_json(S, ss));
}

/* ---- clock --------------------------------------------------------------------------------- */

void h_session_clock(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    static const char *const allowed[] = {"action", "speed", "ms", NULL};
    const char *action = NULL;
    double speed = 0;
    int64_t ms = 0;
    cmee_status st;
    int hs, hm;
    (void)S, (void)caps;

    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    if (body_string(r, b, "action", &action) < 0)
        goto out;
    if ((hs = body_number(r, b, "speed", &speed)) < 0 || (hm = body_int(r, b, "ms", &ms)) < 0)
        goto out;
    if (!action) {
        httpd_respond_error(r, 400, "missing_parameter",
                            "action: required (pause, resume, speed or step)");
        goto out;
    }
    if (strcmp(action, "pause") == 0) {
        st = cmee_session_pause(ss->s);
        /* libcmee 0.2.0 commits a pause at the time it last processed, which can be a moment
         * before the paused clock: process up to the clock so that a reload shows the same
         * now (see the report on lib/session/session.c, cmee_session_pause). */
        cmee_clock c;
        if (st == CMEE_OK && cmee_session_clock(ss->s, &c) == CMEE_OK && c.now > c.processed)
            st = cmee_session_seek(ss->s, c.now);
    } else if (strcmp(action, "resume") == 0) {
        st = cmee_session_resume(ss->s);
    } else if (strcmp(action, "speed") == 0) {
        if (!hs) {
            httpd_respond_error(r, 400, "missing_parameter", "speed: required with action speed");
            goto out;
        }
        if (!(speed > 0 && speed <= 1e6)) {
            httpd_respond_error(r, 400, "invalid_parameter", "speed: must be in (0, 1e6], got %g",
                                speed);
            goto out;
        }
        st = cmee_session_set_speed(ss->s, speed);
    } else if (strcmp(action, "step") == 0) {
        if (!hm) {
            httpd_respond_error(r, 400, "missing_parameter", "ms: required with action step");
            goto out;
        }
        if (ms < 0 || ms > INT64_C(7) * 86400000) {
            httpd_respond_error(r, 400, "invalid_parameter",
                                "ms: must be in [0, 604800000] (7 days), got %lld", (long long)ms);
            goto out;
        }
        st = cmee_session_step(ss->s, ms);
    } else {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "action: expected pause, resume, speed or step, got \"%.16s\"",
                            action);
        goto out;
    }
    if (st != CMEE_OK) {
        httpd_respond_error(r, st == CMEE_ESTATE ? 409 : status_http(st),
                            st == CMEE_ESTATE ? "conflict" : status_code(st), "%s",
                            cmee_session_errmsg(ss->s));
        goto out;
    }
    httpd_respond_json(r, 200, json_pack("{s:s,s:o}", "id", ss->id, "clock", clock_json(ss->s)));
out:
    json_decref(b);
}

/* ---- market view ------------------------------------------------------------------------- */

void h_session_candles(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    int64_t now;
    (void)caps;
    cmee_status st = cmee_session_advance(ss->s, &now);
    if (st != CMEE_OK && st != CMEE_ERANGE) {
        httpd_respond_error(r, status_http(st), status_code(st), "%s",
                            cmee_session_errmsg(ss->s));
        return;
    }
    cmee_clock c;
    cmee_session_clock(ss->s, &c);
    answer_candles(S, r, cmee_session_market(ss->s), ss, c.now);
}

void h_session_prices(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    cmee_session_config cfg;
    json_t *arr = json_array(), *syms;
    int64_t time = 0;
    (void)S, (void)caps;

    cmee_session_config_get(ss->s, &cfg);
    syms = symbols_json(&cfg, cmee_session_market(ss->s));
    size_t i;
    json_t *v;
    json_array_foreach(syms, i, v) {
        cmee_quote q;
        cmee_status st = cmee_session_quote(ss->s, json_string_value(v), &q);
        if (st != CMEE_OK) {
            json_decref(arr);
            json_decref(syms);
            httpd_respond_error(r, status_http(st), status_code(st), "%s",
                                cmee_session_errmsg(ss->s));
            return;
        }
        time = q.time;
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o,s:o,s:b}", "symbol", q.symbol,
                                             "price", httpd_json_number(q.price), "bid",
                                             httpd_json_number(q.bid), "ask",
                                             httpd_json_number(q.ask), "halted", q.halted));
    }
    json_decref(syms);
    httpd_respond_json(r, 200, json_pack("{s:I,s:o}", "time", (json_int_t)time, "prices", arr));
}

/* ---- orders and options ------------------------------------------------------------------- */

static void answer_refusal(httpd_req *r, srv_session *ss, cmee_status st)
{
    const char *msg = cmee_session_errmsg(ss->s);
    switch (st) {
    case CMEE_ENOSPACE:
        httpd_respond_error(r, 422, "insufficient_funds", "%s", msg);
        break;
    case CMEE_ESTATE:
        httpd_respond_error(r, 422, "refused", "%s", msg);
        break;
    case CMEE_ERANGE:
        httpd_respond_error(r, 422, "out_of_range", "%s", msg);
        break;
    case CMEE_EINVAL:
    case CMEE_ENOTFOUND:
        httpd_respond_error(r, 400, "invalid_parameter", "%s", msg);
        break;
    default:
        httpd_respond_error(r, status_http(st), status_code(st), "%s", msg);
    }
}

static bool session_trades(srv_session *ss, const char *sym)
{
    cmee_session_config cfg;
    cmee_session_config_get(ss->s, &cfg);
    if (cfg.nsymbols == 0)
        return cmee_market_symbol(cmee_session_market(ss->s), sym, &(cmee_symbol_spec){0}) ==
               CMEE_OK;
    for (size_t i = 0; i < cfg.nsymbols; i++)
        if (strcmp(cfg.symbols[i], sym) == 0)
            return true;
    return false;
}

/* A body's "symbol": present and traded in this session, else a 400 is sent. */
static bool body_symbol_ok(httpd_req *r, srv_session *ss, const char *sym)
{
    if (!sym) {
        httpd_respond_error(r, 400, "missing_parameter", "symbol: required");
        return false;
    }
    if (strlen(sym) >= CMEE_SYMBOL_MAX || !session_trades(ss, sym)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "symbol: \"%.32s\" is not traded in this session", sym);
        return false;
    }
    return true;
}

void h_order_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    static const char *const allowed[] = {"symbol", "side", "type", "qty", "price", "sl", "tp",
                                          NULL};
    const char *sym = NULL, *side = NULL, *type = NULL;
    double qty = 0, price = 0, sl = 0, tp = 0;
    int hq = 0, hp = 0;
    cmee_order_request req;
    cmee_order o;
    (void)S, (void)caps;

    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    if (body_string(r, b, "symbol", &sym) < 0 || body_string(r, b, "side", &side) < 0 ||
        body_string(r, b, "type", &type) < 0)
        goto out;
    if ((hq = body_number(r, b, "qty", &qty)) < 0 ||
        (hp = body_number(r, b, "price", &price)) < 0 || body_number(r, b, "sl", &sl) < 0 ||
        body_number(r, b, "tp", &tp) < 0)
        goto out;
    if (!body_symbol_ok(r, ss, sym))
        goto out;
    cmee_order_request_init(&req, sym);
    if (!side || (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0)) {
        httpd_respond_error(r, 400, side ? "invalid_parameter" : "missing_parameter",
                            "side: expected \"buy\" or \"sell\"");
        goto out;
    }
    req.side = strcmp(side, "buy") == 0 ? CMEE_SIDE_BUY : CMEE_SIDE_SELL;
    if (!type || strcmp(type, "market") == 0)
        req.type = CMEE_ORDER_MARKET;
    else if (strcmp(type, "limit") == 0)
        req.type = CMEE_ORDER_LIMIT;
    else if (strcmp(type, "stop") == 0)
        req.type = CMEE_ORDER_STOP;
    else {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "type: expected \"market\", \"limit\" or \"stop\", got \"%.16s\"",
                            type);
        goto out;
    }
    if (!hq) {
        httpd_respond_error(r, 400, "missing_parameter", "qty: required");
        goto out;
    }
    if (!(qty > 0 && qty <= 1e12)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "qty: must be > 0 and at most 1e12, got %g", qty);
        goto out;
    }
    req.quantity = qty;
    if (req.type != CMEE_ORDER_MARKET) {
        if (!hp) {
            httpd_respond_error(r, 400, "missing_parameter", "price: required for a %s order",
                                type);
            goto out;
        }
        if (!(price > 0)) {
            httpd_respond_error(r, 400, "invalid_parameter", "price: must be > 0, got %g", price);
            goto out;
        }
        req.price = price;
    }
    if (sl < 0 || tp < 0) {
        httpd_respond_error(r, 400, "invalid_parameter", "%s: must be > 0 (or 0 for none)",
                            sl < 0 ? "sl" : "tp");
        goto out;
    }
    req.stop_loss = sl;
    req.take_profit = tp;
    cmee_status st = cmee_session_order(ss->s, &req, &o);
    if (st != CMEE_OK) {
        answer_refusal(r, ss, st);
        goto out;
    }
    httpd_respond_json(r, 201, order_json(&o));
out:
    json_decref(b);
}

/* Find order @p id of a session. */
static bool find_order(const cmee_session *s, uint64_t id, cmee_order *out)
{
    size_t n = 0;
    if (cmee_session_orders(s, false, NULL, 0, &n) != CMEE_OK || n == 0)
        return false;
    cmee_order *all = malloc(n * sizeof *all);
    bool found = false;
    if (all && cmee_session_orders(s, false, all, n, &n) == CMEE_OK)
        for (size_t i = 0; i < n; i++)
            if (all[i].id == id) {
                *out = all[i];
                found = true;
                break;
            }
    free(all);
    return found;
}

void h_order_cancel(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    char *end;
    cmee_order o;
    (void)S;

    unsigned long long id = strtoull(caps[1], &end, 10);
    if (*end || caps[1][0] == '-' || id == 0) {
        httpd_respond_error(r, 400, "invalid_parameter", "oid: expected an order id, got \"%s\"",
                            caps[1]);
        return;
    }
    cmee_status st = cmee_session_cancel_order(ss->s, id);
    if (st == CMEE_ENOTFOUND) {
        httpd_respond_error(r, 404, "not_found", "order %llu: no such order", id);
        return;
    }
    if (st == CMEE_ESTATE) {
        httpd_respond_error(r, 409, "conflict", "%s", cmee_session_errmsg(ss->s));
        return;
    }
    if (st != CMEE_OK) {
        answer_refusal(r, ss, st);
        return;
    }
    if (find_order(ss->s, id, &o))
        httpd_respond_json(r, 200, order_json(&o));
    else
        httpd_respond_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state",
                                             "cancelled"));
}

void h_option_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    static const char *const allowed[] = {"symbol", "direction", "stake", "expiry", NULL};
    const char *sym = NULL, *dir = NULL;
    double stake = 0, expiry = 0;
    int hs = 0, he = 0;
    cmee_option_request req;
    cmee_option o;
    (void)S, (void)caps;

    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    if (body_string(r, b, "symbol", &sym) < 0 || body_string(r, b, "direction", &dir) < 0 ||
        (hs = body_number(r, b, "stake", &stake)) < 0 ||
        (he = body_number(r, b, "expiry", &expiry)) < 0)
        goto out;
    if (!body_symbol_ok(r, ss, sym))
        goto out;
    cmee_option_request_init(&req, sym);
    if (!dir || (strcmp(dir, "call") != 0 && strcmp(dir, "put") != 0)) {
        httpd_respond_error(r, 400, dir ? "invalid_parameter" : "missing_parameter",
                            "direction: expected \"call\" or \"put\"");
        goto out;
    }
    req.kind = strcmp(dir, "call") == 0 ? CMEE_OPTION_CALL : CMEE_OPTION_PUT;
    if (!hs) {
        httpd_respond_error(r, 400, "missing_parameter", "stake: required");
        goto out;
    }
    if (!(stake > 0 && stake <= 1e10) || money_from(stake, &req.stake) != 0 || req.stake <= 0) {
        httpd_respond_error(r, 400, "invalid_parameter", "stake: must be > 0, got %g", stake);
        goto out;
    }
    if (!he) {
        httpd_respond_error(r, 400, "missing_parameter", "expiry: required (seconds)");
        goto out;
    }
    if (!(expiry >= 1 && expiry <= 30 * 86400.0)) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "expiry: must be 1 to 2592000 seconds (30 days), got %g", expiry);
        goto out;
    }
    req.duration = (int64_t)llround(expiry * 1000.0);
    cmee_status st = cmee_session_option(ss->s, &req, &o);
    if (st != CMEE_OK) {
        answer_refusal(r, ss, st);
        goto out;
    }
    httpd_respond_json(r, 201, option_json(&o));
out:
    json_decref(b);
}

/* ---- account ------------------------------------------------------------------------------- */

/* GET /api/sessions/{id}/history?epoch=N: every order, option and ledger entry of one epoch
 * (default the current one); past epochs stay readable after a reset. */
void h_session_history(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    (void)S, (void)caps;
    int64_t epoch = (int64_t)cmee_session_epoch(ss->s);
    int q = query_int(r, "epoch", &epoch);
    if (q < 0)
        return;
    size_t n;
    if (epoch < 1 || cmee_session_epoch_orders(ss->s, (uint64_t)epoch, NULL, 0, &n) != CMEE_OK) {
        httpd_respond_error(r, 404, "not_found", "epoch: no epoch %lld (the current one is %llu)",
                            (long long)epoch, (unsigned long long)cmee_session_epoch(ss->s));
        return;
    }
    uint64_t e = (uint64_t)epoch;
    json_t *ord = json_array(), *opt = json_array(), *led = json_array();
    if (n) {
        cmee_order *o = malloc(n * sizeof *o);
        if (o && cmee_session_epoch_orders(ss->s, e, o, n, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(ord, order_json(&o[i]));
        free(o);
    }
    if (cmee_session_epoch_options(ss->s, e, NULL, 0, &n) == CMEE_OK && n) {
        cmee_option *o = malloc(n * sizeof *o);
        if (o && cmee_session_epoch_options(ss->s, e, o, n, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(opt, option_json(&o[i]));
        free(o);
    }
    if (cmee_session_epoch_ledger(ss->s, e, NULL, 0, &n) == CMEE_OK && n) {
        cmee_ledger_entry *l = malloc(n * sizeof *l);
        if (l && cmee_session_epoch_ledger(ss->s, e, l, n, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(led, ledger_json(&l[i]));
        free(l);
    }
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "id", ss->id, "epoch",
                                 (json_int_t)epoch, "current_epoch",
                                 (json_int_t)cmee_session_epoch(ss->s), "orders", ord, "options",
                                 opt, "ledger", led));
}

void h_account(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    cmee_account a;
    size_t n;
    (void)S, (void)caps;

    cmee_status st = cmee_session_account(ss->s, &a);
    if (st != CMEE_OK) {
        httpd_respond_error(r, status_http(st), status_code(st), "%s",
                            cmee_session_errmsg(ss->s));
        return;
    }
    json_t *pos = json_array(), *ord = json_array(), *opt = json_array(), *led = json_array();

    if (cmee_session_positions(ss->s, NULL, 0, &n) == CMEE_OK && n) {
        cmee_position *p = malloc(n * sizeof *p);
        if (p && cmee_session_positions(ss->s, p, n, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(pos, position_json(&p[i]));
        free(p);
    }
    if (cmee_session_orders(ss->s, false, NULL, 0, &n) == CMEE_OK && n) {
        cmee_order *o = malloc(n * sizeof *o);
        if (o && cmee_session_orders(ss->s, false, o, n, &n) == CMEE_OK)
            for (size_t i = n > SRV_RECENT ? n - SRV_RECENT : 0; i < n; i++)
                json_array_append_new(ord, order_json(&o[i]));
        free(o);
    }
    if (cmee_session_options(ss->s, false, NULL, 0, &n) == CMEE_OK && n) {
        cmee_option *o = malloc(n * sizeof *o);
        if (o && cmee_session_options(ss->s, false, o, n, &n) == CMEE_OK)
            for (size_t i = n > SRV_RECENT ? n - SRV_RECENT : 0; i < n; i++)
                json_array_append_new(opt, option_json(&o[i]));
        free(o);
    }
    uint64_t after = a.ledger_entries > SRV_RECENT_LEDGER ? a.ledger_entries - SRV_RECENT_LEDGER
                                                          : 0;
    if (cmee_session_ledger(ss->s, after, NULL, 0, &n) == CMEE_OK && n) {
        cmee_ledger_entry *e = malloc(n * sizeof *e);
        if (e && cmee_session_ledger(ss->s, after, e, n, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(led, ledger_json(&e[i]));
        free(e);
    }
    cmee_clock c;
    cmee_session_clock(ss->s, &c);
    httpd_respond_json(
        r, 200,
        json_pack("{s:s,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:I}", "id",
                  ss->id,
                  "time",
                  (json_int_t)c.now, "currency", a.currency, "balance", money_json(a.balance),
                  "equity", money_json(a.equity), "unrealised", money_json(a.unrealised),
                  "used_margin", money_json(a.used_margin), "free_margin",
                  money_json(a.free_margin), "positions", pos, "orders", ord, "options", opt,
                  "ledger", led, "ledger_entries", (json_int_t)a.ledger_entries,
                  "margin_level", httpd_json_number(a.margin_level), "margin_call",
                  json_boolean(a.margin_call), "epoch", (json_int_t)a.epoch));
}
