/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: GET /openapi.json. The paths come from the route table that dispatches
 * requests (main.c), so every endpoint is described; the schemas are below. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server.h"

/* Component schemas (OpenAPI 3.0), parsed once at start-up. */
static const char schemas[] =
    "{"
    "\"Error\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{"
    "\"type\":\"object\",\"required\":[\"code\",\"message\"],\"properties\":{"
    "\"code\":{\"type\":\"string\",\"example\":\"invalid_parameter\"},"
    "\"message\":{\"type\":\"string\",\"example\":\"qty: must be > 0\"}}}}},"
    "\"Health\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\","
    "\"example\":\"ok\"},\"version\":{\"type\":\"string\"},\"sessions\":{\"type\":\"integer\"},"
    "\"ws_clients\":{\"type\":\"integer\"}}},"
    "\"Symbols\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"integer\"},"
    "\"symbols\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"symbol\":{\"type\":\"string\"},\"class\":{\"type\":\"string\"},"
    "\"price\":{\"type\":\"number\"},\"tick_size\":{\"type\":\"number\"},"
    "\"precision\":{\"type\":\"integer\"},\"volatility\":{\"type\":\"number\"}}}}}},"
    "\"Prices\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"integer\"},"
    "\"prices\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"symbol\":{\"type\":\"string\"},\"price\":{\"type\":\"number\"},"
    "\"time\":{\"type\":\"integer\",\"description\":\"ms UTC\"},"
    "\"price_24h\":{\"type\":\"number\"},\"change_24h\":{\"type\":\"number\"},"
    "\"change_24h_pct\":{\"type\":\"number\"}}}}}},"
    "\"Candles\":{\"type\":\"object\",\"properties\":{\"symbol\":{\"type\":\"string\"},"
    "\"timeframe\":{\"type\":\"string\"},\"candles\":{\"type\":\"array\",\"description\":"
    "\"[t, open, high, low, close, volume], t in ms UTC; the last one may be forming\","
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":6,"
    "\"maxItems\":6}}}},"
    "\"Level\":{\"type\":\"object\",\"properties\":{\"price\":{\"type\":\"number\"},"
    "\"size\":{\"type\":\"number\"}}},"
    "\"OrderBook\":{\"type\":\"object\",\"properties\":{\"symbol\":{\"type\":\"string\"},"
    "\"time\":{\"type\":\"integer\",\"description\":\"the tick moment of the book, ms UTC\"},"
    "\"bid\":{\"type\":\"number\"},\"ask\":{\"type\":\"number\"},\"spread\":{\"type\":"
    "\"number\"},\"bids\":{\"type\":\"array\",\"description\":\"best first\",\"items\":{"
    "\"$ref\":\"#/components/schemas/Level\"}},\"asks\":{\"type\":\"array\",\"description\":"
    "\"best first\",\"items\":{\"$ref\":\"#/components/schemas/Level\"}}}},"
    "\"Trades\":{\"type\":\"object\",\"properties\":{\"symbol\":{\"type\":\"string\"},"
    "\"time\":{\"type\":\"integer\"},\"trades\":{\"type\":\"array\",\"description\":"
    "\"oldest first\",\"items\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":"
    "\"integer\"},\"price\":{\"type\":\"number\"},\"size\":{\"type\":\"number\"},"
    "\"side\":{\"type\":\"string\",\"enum\":[\"buy\",\"sell\"]}}}}}},"
    "\"Report\":{\"type\":\"object\",\"description\":\"a session's results; docs/report.md "
    "describes every field (money as exact decimals)\",\"properties\":{\"session\":{\"type\":"
    "\"string\"},\"pnl\":{\"type\":\"number\"},\"return\":{\"type\":\"number\"},"
    "\"max_drawdown\":{\"type\":\"number\"},\"sharpe\":{\"type\":\"number\"},"
    "\"sortino\":{\"type\":\"number\"},\"win_rate\":{\"type\":\"number\"},"
    "\"exposure\":{\"type\":\"number\"}},\"additionalProperties\":true},"
    "\"Indicator\":{\"type\":\"object\",\"properties\":{\"symbol\":{\"type\":\"string\"},"
    "\"timeframe\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    "\"times\":{\"type\":\"array\",\"description\":\"open times of the complete candles, ms "
    "UTC, oldest first\",\"items\":{\"type\":\"integer\"}},\"outputs\":{\"type\":\"object\","
    "\"description\":\"one array per output of the indicator (e.g. macd, signal, hist), aligned "
    "with times; null inside the lookback\",\"additionalProperties\":{\"type\":\"array\","
    "\"items\":{\"type\":[\"number\",\"null\"]}}}}},"
    "\"SessionCreate\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"seed\":{\"type\":\"integer\",\"minimum\":0},\"symbols\":{\"type\":\"array\","
    "\"items\":{\"type\":\"string\"},\"maxItems\":32},\"speed\":{\"type\":\"number\","
    "\"exclusiveMinimum\":0,\"maximum\":1000000},\"balance\":{\"type\":\"number\","
    "\"exclusiveMinimum\":0,\"maximum\":10000000000},\"currency\":{\"type\":\"string\","
    "\"pattern\":\"^[A-Z]{1,7}$\"},\"fill_model\":{\"type\":\"string\",\"enum\":[\"book\","
    "\"quote\"],\"default\":\"book\"},"
    "\"leverage\":{\"type\":\"number\",\"minimum\":1,\"maximum\":1000,\"default\":1},"
    "\"max_leverage\":{\"type\":\"object\",\"description\":\"caps by asset class (crypto, fx, "
    "metal, index, stock, commodity, other)\",\"additionalProperties\":{\"type\":\"number\"}},"
    "\"margin_call_level\":{\"type\":\"number\",\"default\":1},\"maintenance_level\":{"
    "\"type\":\"number\",\"default\":0.5},"
    "\"impact\":{\"$ref\":\"#/components/schemas/Impact\"},"
    "\"scenario\":{\"description\":\"a preset or stored "
    "scenario name, or a scenario object\",\"oneOf\":[{\"type\":\"string\"},{\"$ref\":"
    "\"#/components/schemas/Scenario\"}]}}},"
    "\"Impact\":{\"type\":\"object\",\"additionalProperties\":false,\"description\":"
    "\"market impact of the session's own fills (docs/sessions.md): a fill of q moves the "
    "session's log price by +-coefficient x daily volatility x sqrt(q / daily volume) from the "
    "first tick after it, halving every half_life ms; only this session sees it\","
    "\"properties\":{\"model\":{\"type\":\"string\",\"enum\":[\"none\",\"sqrt\"],"
    "\"default\":\"none\"},\"coefficient\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
    "\"maximum\":10,\"default\":1},\"half_life\":{\"type\":\"integer\",\"minimum\":1000,"
    "\"maximum\":86400000,\"default\":300000,\"description\":\"ms\"}}},"
    "\"Session\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"seed\":{\"type\":\"integer\"},\"symbols\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"string\"}},\"currency\":{\"type\":\"string\"},\"initial_balance\":{\"type\":\"number\"},"
    "\"fee_rate\":{\"type\":\"number\"},\"spread_bps\":{\"type\":\"number\"},"
    "\"option_payout\":{\"type\":\"number\"},\"impact\":{\"$ref\":"
    "\"#/components/schemas/Impact\"},\"clock\":{\"$ref\":"
    "\"#/components/schemas/ClockView\"},\"balance\":{\"type\":\"number\"},"
    "\"equity\":{\"type\":\"number\"},\"scenarios\":{\"type\":\"array\",\"items\":{\"$ref\":"
    "\"#/components/schemas/Application\"}}}},"
    "\"SessionCreated\":{\"allOf\":[{\"$ref\":\"#/components/schemas/Session\"},{\"type\":"
    "\"object\",\"properties\":{\"token\":{\"type\":\"string\",\"description\":\"send as "
    "Authorization: Bearer or X-Session-Token on every later call\"}}}]},"
    "\"SessionList\":{\"type\":\"object\",\"properties\":{\"sessions\":{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/Session\"}}}},"
    "\"ClockView\":{\"type\":\"object\",\"properties\":{\"now\":{\"type\":\"integer\"},"
    "\"speed\":{\"type\":\"number\"},\"paused\":{\"type\":\"boolean\"},"
    "\"manual\":{\"type\":\"boolean\"}}},"
    "\"Clock\":{\"type\":\"object\",\"required\":[\"action\"],\"additionalProperties\":false,"
    "\"properties\":{\"action\":{\"type\":\"string\",\"enum\":[\"pause\",\"resume\","
    "\"speed\",\"step\"]},\"speed\":{\"type\":\"number\",\"description\":\"with action "
    "speed\"},\"ms\":{\"type\":\"integer\",\"description\":\"with action step\"}}},"
    "\"SessionReset\":{\"type\":\"object\",\"description\":\"the session at its start "
    "state in its new epoch\",\"properties\":{\"id\":{\"type\":\"string\"},\"epoch\":{"
    "\"type\":\"integer\"},\"now\":{\"type\":\"integer\"},\"paused\":{\"type\":"
    "\"boolean\"},\"speed\":{\"type\":\"number\"}}},"
    "\"History\":{\"type\":\"object\",\"description\":\"one epoch's records\","
    "\"properties\":{\"id\":{\"type\":\"string\"},\"epoch\":{\"type\":\"integer\"},"
    "\"current_epoch\":{\"type\":\"integer\"},\"orders\":{\"type\":\"array\",\"items\":{"
    "\"$ref\":\"#/components/schemas/Order\"}},\"options\":{\"type\":\"array\",\"items\":{"
    "\"$ref\":\"#/components/schemas/Option\"}},\"ledger\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\"}}}},"
    "\"ReplayCheck\":{\"type\":\"object\",\"description\":\"the current epoch replayed "
    "from its action log and compared with the session (cmee_session_replay_check)\","
    "\"properties\":{\"id\":{\"type\":\"string\"},\"epoch\":{\"type\":\"integer\"},"
    "\"same\":{\"type\":\"boolean\"},\"actions\":{\"type\":\"integer\"},\"orders\":{"
    "\"type\":\"integer\"},\"options\":{\"type\":\"integer\"},\"ledger_entries\":{"
    "\"type\":\"integer\"},\"difference\":{\"type\":\"object\",\"nullable\":true,"
    "\"description\":\"the first difference, null when same\",\"properties\":{"
    "\"record\":{\"type\":\"string\"},\"index\":{\"type\":\"integer\"},\"field\":{"
    "\"type\":\"string\"},\"original\":{\"type\":\"string\"},\"replayed\":{"
    "\"type\":\"string\"}}}}},"
    "\"ClockState\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"clock\":{\"$ref\":\"#/components/schemas/ClockView\"}}},"
    "\"SessionPrices\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"integer\"},"
    "\"prices\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"symbol\":{\"type\":\"string\"},\"price\":{\"type\":\"number\"},\"bid\":{\"type\":"
    "\"number\"},\"ask\":{\"type\":\"number\"},\"halted\":{\"type\":\"boolean\"}}}}}},"
    "\"OrderCreate\":{\"type\":\"object\",\"required\":[\"symbol\",\"side\",\"qty\"],"
    "\"additionalProperties\":false,\"properties\":{\"symbol\":{\"type\":\"string\"},"
    "\"side\":{\"type\":\"string\",\"enum\":[\"buy\",\"sell\"]},\"type\":{\"type\":"
    "\"string\",\"enum\":[\"market\",\"limit\",\"stop\"],\"default\":\"market\"},"
    "\"qty\":{\"type\":\"number\",\"exclusiveMinimum\":0},\"price\":{\"type\":\"number\","
    "\"description\":\"limit or stop price\"},\"sl\":{\"type\":\"number\"},"
    "\"tp\":{\"type\":\"number\"}}},"
    "\"Order\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
    "\"symbol\":{\"type\":\"string\"},\"side\":{\"type\":\"string\"},\"type\":{\"type\":"
    "\"string\"},\"state\":{\"type\":\"string\",\"enum\":[\"open\",\"filled\",\"cancelled\","
    "\"rejected\"]},\"qty\":{\"type\":\"number\"},\"price\":{\"type\":\"number\"},"
    "\"sl\":{\"type\":\"number\"},\"tp\":{\"type\":\"number\"},\"created\":{\"type\":"
    "\"integer\"},\"closed\":{\"type\":\"integer\",\"nullable\":true},\"fill_price\":{"
    "\"type\":\"number\"},\"fee\":{\"type\":\"number\"}}},"
    "\"OptionCreate\":{\"type\":\"object\",\"required\":[\"symbol\",\"direction\",\"stake\","
    "\"expiry\"],\"additionalProperties\":false,\"properties\":{\"symbol\":{\"type\":"
    "\"string\"},\"direction\":{\"type\":\"string\",\"enum\":[\"call\",\"put\"]},"
    "\"stake\":{\"type\":\"number\",\"exclusiveMinimum\":0},\"expiry\":{\"type\":\"number\","
    "\"description\":\"seconds, 1 to 2592000\"}}},"
    "\"Option\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
    "\"symbol\":{\"type\":\"string\"},\"direction\":{\"type\":\"string\"},\"state\":{"
    "\"type\":\"string\",\"enum\":[\"open\",\"won\",\"lost\",\"tie\"]},\"stake\":{\"type\":"
    "\"number\"},\"payout\":{\"type\":\"number\"},\"opened\":{\"type\":\"integer\"},"
    "\"expires\":{\"type\":\"integer\"},\"strike\":{\"type\":\"number\"},\"settle_price\":{"
    "\"type\":\"number\"},\"paid\":{\"type\":\"number\"}}},"
    "\"Account\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"time\":{\"type\":\"integer\"},\"currency\":{\"type\":\"string\"},\"balance\":{\"type\":"
    "\"number\"},\"equity\":{\"type\":\"number\"},\"unrealised\":{\"type\":\"number\"},"
    "\"used_margin\":{\"type\":\"number\"},\"free_margin\":{\"type\":\"number\"},"
    "\"positions\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},\"orders\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/Order\"}},\"options\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/Option\"}},\"ledger\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\"}},\"ledger_entries\":{\"type\":\"integer\"},"
    "\"epoch\":{\"type\":\"integer\",\"description\":\"1, then one more after each "
    "reset\"}}},"
    "\"Scenario\":{\"type\":\"object\",\"description\":\"docs/scenarios.md: name, "
    "description, symbols, regimes, events\",\"required\":[\"name\"]},"
    "\"ScenarioStored\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"version\":{\"type\":\"integer\"},\"scenario\":{\"$ref\":"
    "\"#/components/schemas/Scenario\"}}},"
    "\"ScenarioRecord\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"version\":{\"type\":\"integer\"},\"scenario\":{\"$ref\":"
    "\"#/components/schemas/Scenario\"},\"versions\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\"}}}},"
    "\"ScenarioList\":{\"type\":\"object\",\"properties\":{\"scenarios\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\"}}}},"
    "\"PresetList\":{\"type\":\"object\",\"properties\":{\"presets\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\"}}}},"
    "\"Deleted\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"deleted\":{\"type\":\"boolean\"}}},"
    "\"ScenarioApply\":{\"type\":\"object\",\"additionalProperties\":false,\"description\":"
    "\"exactly one of preset, name (with optional version) or scenario\",\"properties\":{"
    "\"preset\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},\"version\":{\"type\":"
    "\"integer\"},\"scenario\":{\"$ref\":\"#/components/schemas/Scenario\"}}},"
    "\"Application\":{\"type\":\"object\",\"properties\":{\"session\":{\"type\":\"string\"},"
    "\"application\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},\"t0\":{\"type\":"
    "\"integer\"},\"end\":{\"type\":\"integer\"}}},"
    /* Admin knobs (knobs.c, docs/server.md "Admin knobs"). */
    "\"KnobSpeed\":{\"type\":\"object\",\"additionalProperties\":false,\"description\":"
    "\"at least one of speed and paused; from the public market's now on\",\"properties\":{"
    "\"speed\":{\"type\":\"number\",\"minimum\":0.001,\"maximum\":100,\"description\":"
    "\"public ms per wall ms\"},\"paused\":{\"type\":\"boolean\"}}},"
    "\"KnobSymbols\":{\"type\":\"object\",\"additionalProperties\":false,\"description\":"
    "\"at least one of enable, disable (disjoint) and add\",\"properties\":{\"enable\":{\"type\":"
    "\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}},\"disable\":{\"type\":"
    "\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}},\"add\":{\"type\":"
    "\"array\",\"minItems\":1,\"description\":\"new symbols: symbol and seed_price required; "
    "class, tick_size, precision, volatility, drift, volume, ticks_per_minute, tail_dof, "
    "clustering, jump_rate, jump_mean, jump_stdev as in cmee_symbol_spec\",\"items\":{"
    "\"type\":\"object\",\"required\":[\"symbol\",\"seed_price\"]}}}},"
    "\"KnobMultipliers\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"description\":\"at least one of vol_mult and volume_mult; symbols: default every "
    "symbol\",\"properties\":{\"symbols\":{\"type\":\"array\",\"minItems\":1,\"items\":{"
    "\"type\":\"string\"}},\"vol_mult\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
    "\"maximum\":20},\"volume_mult\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
    "\"maximum\":100}}},"
    "\"KnobReset\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"symbols\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"},"
    "\"description\":\"default every symbol\"}}},"
    "\"KnobEventRecord\":{\"type\":\"object\",\"description\":\"one knob change: the "
    "fields below, then the change's own (speed and paused; enable and disable; symbols, "
    "vol_mult and volume_mult; symbols as {name: {from, to}} for a reset)\","
    "\"additionalProperties\":true,\"properties\":{\"seq\":{\"type\":\"integer\"},"
    "\"kind\":{\"type\":\"string\",\"enum\":[\"speed\",\"symbols\",\"multipliers\","
    "\"reset\"]},\"wall\":{\"type\":\"integer\",\"description\":\"wall clock, ms UTC\"},"
    "\"time\":{\"type\":\"integer\",\"description\":\"the public market's now, ms\"},"
    "\"effective\":{\"type\":\"integer\",\"description\":\"first market time it changes "
    "(the next minute for multipliers and reset)\"}}},"
    "\"KnobEvent\":{\"type\":\"object\",\"properties\":{\"event\":{\"$ref\":"
    "\"#/components/schemas/KnobEventRecord\"}}},"
    "\"KnobState\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"integer\","
    "\"description\":\"the public market's now\"},\"wall\":{\"type\":\"integer\"},"
    "\"clock\":{\"type\":\"object\",\"properties\":{\"speed\":{\"type\":\"number\"},"
    "\"paused\":{\"type\":\"boolean\"},\"since_wall\":{\"type\":\"integer\"},"
    "\"since_time\":{\"type\":\"integer\"}}},\"symbols\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\",\"properties\":{\"symbol\":{\"type\":\"string\"},\"enabled\":{"
    "\"type\":\"boolean\"},\"vol_mult\":{\"type\":\"number\"},\"volume_mult\":{\"type\":"
    "\"number\"},\"seed_price\":{\"type\":\"number\"}}}},\"events\":{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/KnobEventRecord\"}}}}"
    "}";

static json_t *error_response(const char *why)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", why, "content", "application/json",
                     "schema", "$ref", "#/components/schemas/Error");
}

static json_t *param(const char *name, const char *in, const char *type, bool required,
                     const char *desc)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", name, "in", in, "required", required,
                     "description", desc, "schema", "type", type);
}

static json_t *query_param(const char *name)
{
    static const struct {
        const char *name, *type, *desc;
    } known[] = {
        {"symbols", "string", "comma-separated symbols (default: all)"},
        {"symbol", "string", "a symbol, e.g. BTCUSD"},
        {"timeframe", "string", "1m, 5m, 15m, 1h, 4h or 1d (default 1m)"},
        {"limit", "integer", "the last N candles, 1 to 5000 (default 100)"},
        {"from", "integer", "first open time, ms UTC (instead of limit)"},
        {"to", "integer", "end (exclusive), ms UTC; default and at most now"},
        {"version", "integer", "a stored version (default: the newest)"},
        {"application", "integer", "the application to cancel (default: the newest)"},
        {"name", "string", "an indicator of the library: sma, ema, rsi, macd, bbands, ..."},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, name) == 0)
            return param(name, "query", known[i].type,
                         strcmp(name, "symbol") == 0 || strcmp(name, "name") == 0,
                         known[i].desc);
    /* The rest are indicator parameters (/api/market/indicators). */
    return param(name, "query", "number", false,
                 "an indicator parameter as the library names it (default: TA-Lib's)");
}

json_t *openapi_build(void)
{
    json_error_t err;
    json_t *comps = json_loads(schemas, 0, &err);
    if (!comps) {
        slog(SLOG_ERROR, "openapi schemas: line %d: %s", err.line, err.text);
        return NULL;
    }
    json_t *paths = json_object();
    for (size_t i = 0; i < srv_nroutes; i++) {
        const route *rt = &srv_routes[i];
        json_t *item = json_object_get(paths, rt->path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, rt->path, item);
        }
        char method[16];
        snprintf(method, sizeof method, "%s", httpd_method_name(rt->method));
        for (char *p = method; *p; p++)
            *p = (char)(*p - 'A' + 'a');

        json_t *params = json_array();
        /* Path parameters, in order. */
        for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
            const char *e = strchr(p, '}');
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(e - p - 1), p + 1);
            json_array_append_new(params, param(name, "path", "string", true,
                                                strcmp(name, "id") == 0 ? "session id"
                                                : strcmp(name, "oid") == 0 ? "order id"
                                                                           : "scenario name"));
        }
        for (size_t q = 0; rt->query && rt->query[q]; q++)
            json_array_append_new(params, query_param(rt->query[q]));

        json_t *ok = rt->response_schema
                         ? json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "success", "content",
                                     "application/json", "schema", "$ref",
                                     "#/components/schemas/")
                         : json_pack("{s:s}", "description", "the OpenAPI document");
        if (rt->response_schema) {
            char ref[96];
            snprintf(ref, sizeof ref, "#/components/schemas/%s", rt->response_schema);
            json_object_set_new(
                json_object_get(json_object_get(json_object_get(ok, "content"),
                                                "application/json"),
                                "schema"),
                "$ref", json_string(ref));
        }
        char code[8];
        snprintf(code, sizeof code, "%d", rt->status);
        json_t *responses = json_object();
        json_object_set_new(responses, code, ok);
        json_object_set_new(responses, "400", error_response("bad parameter (named)"));
        if (rt->body_schema) {
            json_object_set_new(responses, "413", error_response("body too large"));
        }
        if (rt->auth == AUTH_SESSION) {
            json_object_set_new(responses, "401", error_response("session token missing"));
            json_object_set_new(responses, "403", error_response("session token not valid"));
            json_object_set_new(responses, "404", error_response("no such session"));
        }
        if (rt->auth == AUTH_ADMIN) {
            json_object_set_new(responses, "401", error_response("admin token missing"));
            json_object_set_new(responses, "403",
                                error_response("admin token not valid, or admin disabled"));
        }
        if (rt->method == HTTPD_POST && rt->auth == AUTH_SESSION)
            json_object_set_new(responses, "422",
                                error_response("refused (insufficient funds, halted market...)"));

        json_t *op = json_pack("{s:s,s:o,s:o}", "summary", rt->summary, "parameters", params,
                               "responses", responses);
        if (rt->auth == AUTH_SESSION)
            json_object_set_new(op, "security",
                                json_pack("[{s:[]},{s:[]}]", "sessionBearer", "sessionHeader"));
        if (rt->auth == AUTH_ADMIN)
            json_object_set_new(op, "security", json_pack("[{s:[]}]", "adminBearer"));
        if (rt->body_schema) {
            char ref[96];
            snprintf(ref, sizeof ref, "#/components/schemas/%s", rt->body_schema);
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b,s:{s:{s:{s:s}}}}", "required",
                                          rt->method != HTTPD_POST ||
                                              strcmp(rt->body_schema, "SessionCreate") != 0,
                                          "content", "application/json", "schema", "$ref", ref));
        }
        json_object_set_new(item, method, op);
    }
    /* The metrics: Prometheus text, not JSON (docs/server.md#metrics). */
    json_object_set_new(
        paths, "/metrics",
        json_pack("{s:{s:s,s:s,s:[{s:[]}],s:{s:{s:s,s:{s:{s:{s:s}}}},s:{s:s},s:{s:s},"
                  "s:{s:s}}}}",
                  "get", "summary", "Metrics in the Prometheus text format 0.0.4",
                  "description",
                  "Requests by route template, method and status, request duration, live "
                  "sessions, WebSocket clients, broadcast messages published, sent and dropped, "
                  "store transaction time and process figures (docs/server.md#metrics). Open "
                  "unless the server was started with CMEE_METRICS_TOKEN, then that bearer "
                  "token is required.",
                  "security", "metricsBearer", "responses", "200", "description",
                  "the metrics", "content", "text/plain; version=0.0.4; charset=utf-8",
                  "schema", "type", "string", "400", "description", "a query parameter was given",
                  "401", "description", "metrics token missing (with CMEE_METRICS_TOKEN)", "403",
                  "description", "metrics token not valid"));

    /* The WebSocket endpoint, described for people (OpenAPI has no WebSocket operations). */
    json_object_set_new(
        paths, "/ws",
        json_pack("{s:{s:s,s:s,s:{s:{s:s}}}}", "get", "summary",
                  "WebSocket feed (upgrade required)", "description",
                  "Send {\"op\":\"subscribe\",\"channel\":\"ticks\",\"symbol\":\"BTCUSD\"}, "
                  "{\"op\":\"subscribe\",\"channel\":\"candles\",\"symbol\":\"BTCUSD\","
                  "\"timeframe\":\"1m\"} or {\"op\":\"subscribe\",\"channel\":\"session\","
                  "\"id\":ID,\"token\":TOKEN} (and unsubscribe); the server streams JSON "
                  "messages. See docs/server.md.",
                  "responses", "101", "description", "switching protocols"));

    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:o,s:{s:{s:s,s:s},s:{s:s,s:s},"
        "s:{s:s,s:s,s:s},s:{s:s,s:s}}}}",
        "openapi", "3.0.3", "info", "title", "cmee-server", "version", cmee_version(),
        "description", "Deterministic market simulation: market data, paper-trading sessions, "
                       "admin scenarios and a WebSocket feed (docs/server.md).",
        "servers", "url", "/", "paths", paths, "components", "schemas", comps,
        "securitySchemes", "adminBearer", "type", "http", "scheme", "bearer", "metricsBearer",
        "type", "http", "scheme", "bearer", "sessionHeader",
        "type", "apiKey", "in", "header", "name", "X-Session-Token", "sessionBearer", "type",
        "http", "scheme", "bearer");
    return doc;
}

void h_openapi(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    httpd_respond_json(r, 200, json_incref(S->openapi));
}
