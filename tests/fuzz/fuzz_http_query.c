/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: cmee-server's query-string handling. The first byte picks an endpoint that
 * reads query arguments (prices, candles, a session's candles, an admin scenario's version);
 * the rest is the raw query string, split and URL-decoded as libwebsockets does
 * (httpd_req_detached_new()), and handed to the real handler (the handlers in examples/server). Every
 * answer must be one JSON object with a 2xx or 4xx status. */
#include <stdint.h>

#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv S;
static srv_session *sess;

static void setup(void)
{
    char caps[4][64] = {{0}};
    static const char body[] = "{\"seed\":7,\"symbols\":[\"BTCUSD\",\"EURUSD\"]}";
    fuzz_srv_open(&S);
    if (fuzz_call(&S, h_session_create, HTTPD_POST, "/api/sessions", NULL, body,
                  sizeof body - 1, NULL, caps) != 201 ||
        S.nsessions != 1)
        fuzz_die("session");
    sess = S.sessions[0];
    /* A stored scenario for the admin endpoint's ?version=. */
    static const char sc[] = "{\"preset\":\"crash\",\"name\":\"fz\"}";
    fuzz_call(&S, h_admin_scenario_create, HTTPD_POST, "/api/admin/scenarios", NULL, sc,
              sizeof sc - 1, NULL, caps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char caps[4][64] = {{0}};
    if (!S.market)
        setup();
    if (size == 0)
        return 0;
    char *q = malloc(size);
    if (!q)
        return 0;
    memcpy(q, data + 1, size - 1);
    q[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0: fuzz_call(&S, h_prices, HTTPD_GET, "/api/market/prices", q, NULL, 0, NULL, caps); break;
    case 1: fuzz_call(&S, h_candles, HTTPD_GET, "/api/market/candles", q, NULL, 0, NULL, caps); break;
    case 2:
        snprintf(caps[0], sizeof caps[0], "%s", sess->id);
        fuzz_call(&S, h_session_candles, HTTPD_GET, "/api/sessions/x/candles", q, NULL, 0, sess,
                  caps);
        break;
    case 3:
        snprintf(caps[0], sizeof caps[0], "fz");
        fuzz_call(&S, h_admin_scenario_get, HTTPD_GET, "/api/admin/scenarios/fz", q, NULL, 0,
                  NULL, caps);
        break;
    default:
        snprintf(caps[0], sizeof caps[0], "%s", sess->id);
        fuzz_call(&S, h_admin_cancel, HTTPD_DELETE, "/api/admin/sessions/x/scenario", q, NULL, 0,
                  NULL, caps);
        break;
    }
    free(q);
    return 0;
}
