/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: cmee-server's JSON request bodies. Every input first goes through the body
 * parser alone (httpd_json_parse_text(): the depth limit before jansson, then jansson, then
 * "an object"), whose verdict is checked; then the first byte picks an endpoint with a body
 * (session create, clock, order, option, admin scenario create/update, admin apply, and the
 * public market's knobs: speed, symbols, multipliers, reset) and the
 * rest is the body handed to its real handler, on a fresh server state each time so that a
 * crash reproduces from its input alone. Answers must be one JSON object, 2xx or 4xx. */
#include <stdint.h>

#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int depth_of(const json_t *j)
{
    int d = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            int e = depth_of(v);
            if (e > d)
                d = e;
        }
        return d + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            int e = depth_of(v);
            if (e > d)
                d = e;
        }
        return d + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    httpd_json_error e;
    char caps[4][64] = {{0}};
    srv S;

    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    json_t *j = httpd_json_parse_text(body, len, SRV_JSON_DEPTH, &e);
    if (j) {
        if (!json_is_object(j) || depth_of(j) > SRV_JSON_DEPTH)
            abort();
        json_decref(j);
    } else if (!e.code || (strcmp(e.code, "invalid_json") && strcmp(e.code, "too_deep") &&
                           strcmp(e.code, "expected_object"))) {
        abort();
    }

    fuzz_srv_open(&S);
    srv_session *ss = NULL;
    /* 0xF8 and up: the admin knobs of the public market (speed, symbols, multipliers,
     * reset); the rest as before. */
    unsigned which = data[0] >= 0xF8 ? 7 + (data[0] & 3u) : data[0] % 7u;
    if (which >= 1 && which <= 3) {
        static const char create[] = "{\"seed\":7,\"symbols\":[\"BTCUSD\",\"EURUSD\"]}";
        if (fuzz_call(&S, h_session_create, HTTPD_POST, "/api/sessions", NULL, create,
                      sizeof create - 1, NULL, caps) != 201)
            fuzz_die("session");
        ss = S.sessions[0];
        snprintf(caps[0], sizeof caps[0], "%s", ss->id);
    }
    switch (which) {
    case 0: fuzz_call(&S, h_session_create, HTTPD_POST, "/api/sessions", NULL, body, len, NULL, caps); break;
    case 1: fuzz_call(&S, h_session_clock, HTTPD_POST, "/c", NULL, body, len, ss, caps); break;
    case 2: fuzz_call(&S, h_order_create, HTTPD_POST, "/o", NULL, body, len, ss, caps); break;
    case 3: fuzz_call(&S, h_option_create, HTTPD_POST, "/p", NULL, body, len, ss, caps); break;
    case 4: fuzz_call(&S, h_admin_scenario_create, HTTPD_POST, "/s", NULL, body, len, NULL, caps); break;
    case 5:
        snprintf(caps[0], sizeof caps[0], "fz");
        fuzz_call(&S, h_admin_scenario_update, HTTPD_PUT, "/s/fz", NULL, body, len, NULL, caps);
        break;
    case 7: fuzz_call(&S, h_admin_speed, HTTPD_POST, "/k", NULL, body, len, NULL, caps); break;
    case 8: fuzz_call(&S, h_admin_symbols, HTTPD_POST, "/k", NULL, body, len, NULL, caps); break;
    case 9:
        fuzz_call(&S, h_admin_multipliers, HTTPD_POST, "/k", NULL, body, len, NULL, caps);
        break;
    case 10: fuzz_call(&S, h_admin_reset, HTTPD_POST, "/k", NULL, body, len, NULL, caps); break;
    default: {
        static const char create[] = "{\"seed\":7}";
        if (fuzz_call(&S, h_session_create, HTTPD_POST, "/api/sessions", NULL, create,
                      sizeof create - 1, NULL, caps) != 201)
            fuzz_die("session");
        snprintf(caps[0], sizeof caps[0], "%s", S.sessions[0]->id);
        fuzz_call(&S, h_admin_apply, HTTPD_POST, "/a", NULL, body, len, NULL, caps);
        break;
    }
    }
    fuzz_srv_close(&S);
    return 0;
}
