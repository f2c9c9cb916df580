/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: cmee-server's WebSocket client messages (examples/server/ws.c): the parsing
 * half of ws_on_message(), srv_parse_ws_op() and, for (un)subscribe, srv_parse_ws_sub()
 * against the real market and one known session id. Checked: a parsed subscription names a
 * known symbol in its canonical spelling, a valid timeframe or book depth, a known session; a
 * refusal has an error code and a message. */
#include <stdint.h>

#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cmee_market *market;
static const char known_id[] = "0123456789abcdef0123456789abcdef";

static bool exists(void *ctx, const char *id)
{
    (void)ctx;
    return strcmp(id, known_id) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *m = NULL;
    if (!market && cmee_market_new(42, NULL, &market) != CMEE_OK)
        abort();
    if (size > HTTPD_WS_MESSAGE_DEFAULT) /* httpd closes with 1009 before parsing */
        return 0;
    srv_ws_op op = srv_parse_ws_op((const char *)data, size, &m);
    if ((op == SRV_WS_NOT_JSON) != (m == NULL))
        abort();
    if (op == SRV_WS_SUBSCRIBE || op == SRV_WS_UNSUBSCRIBE) {
        wsub s;
        const char *code = NULL;
        char why[256] = "";
        if (srv_parse_ws_sub(m, market, exists, NULL, &s, &code, why, sizeof why) == 0) {
            cmee_symbol_spec sp;
            switch (s.ch) {
            case CH_CANDLES:
                if (s.tf < 0 || s.tf >= SRV_NTF)
                    abort();
                /* fall through */
            case CH_TICKS:
            case CH_TRADES:
                if (cmee_market_symbol(market, s.symbol, &sp) != CMEE_OK ||
                    strcmp(sp.symbol, s.symbol) != 0)
                    abort();
                break;
            case CH_ORDERBOOK:
                if (s.depth < 1 || s.depth > CMEE_BOOK_MAX_DEPTH ||
                    cmee_market_symbol(market, s.symbol, &sp) != CMEE_OK ||
                    strcmp(sp.symbol, s.symbol) != 0)
                    abort();
                break;
            case CH_SESSION:
                if (strcmp(s.id, known_id) != 0)
                    abort();
                break;
            default: abort();
            }
        } else if (!code || !why[0]) {
            abort();
        }
    }
    json_decref(m);
    return 0;
}
