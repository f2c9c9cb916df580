/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The reference of bench_server.py: the least a libwebsockets HTTP server can do per request.
 *
 * Every request, whatever its path, is answered with one fixed small JSON body, written as one
 * buffer (status line, Content-Type, Content-Length, "Connection: keep-alive", body) straight
 * from LWS_CALLBACK_HTTP, and the connection is kept for the next request. The context is set
 * up like examples/common/httpd.c sets up cmee-server's (one event-loop thread, same options,
 * header pool and timeouts), so that cmee-server's requests per second divided by this
 * server's measure what cmee-server's own work costs, not libwebsockets'.
 *
 *     lws_minimal [--port N] [--body-bytes N]
 *
 * --port: default 0, the kernel chooses; 127.0.0.1 only. --body-bytes: answer a JSON body of
 * exactly N bytes ({"status":"ok","pad":"xxx…"}, N >= 32) instead of the 15-byte one; with the
 * size of a cmee-server answer it measures what sending those bytes costs libwebsockets and the
 * kernel alone (the ceiling of any server's ratio for that answer). Large bodies are sent the
 * way cmee-server sends them: one lws_write, tx_packet_size as in examples/common/httpd.c.
 *
 * Prints "lws_minimal listening on http://127.0.0.1:PORT" once listening; SIGINT or SIGTERM
 * stops it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

static const char small_body[] = "{\"status\":\"ok\"}";
static const char *body = small_body;
static size_t body_len = sizeof small_body - 1;
static unsigned char *big_buf; /* LWS_PRE + headers room + body, when --body-bytes is given */

static volatile sig_atomic_t stop;
static struct lws_context *ctx;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
    lws_cancel_service(ctx);
}

static int answer(struct lws *wsi)
{
    unsigned char small_buf[LWS_PRE + 512];
    unsigned char *buf = big_buf ? big_buf : small_buf;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + 512 - 16;

    if (lws_add_http_header_status(wsi, HTTP_STATUS_OK, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"application/json", 16, &p, end) ||
        lws_add_http_header_content_length(wsi, body_len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"keep-alive",
                                     10, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    memcpy(p, body, body_len);
    p += body_len;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    /* Nonzero: the connection cannot be kept (e.g. the client asked to close it). */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    if (reason == LWS_CALLBACK_HTTP)
        return answer(wsi);
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int main(int argc, char **argv)
{
    struct lws_protocols protocols[2];
    struct lws_context_creation_info info;
    int port = 0;
    long body_bytes = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 0 || v > 65535) {
                fprintf(stderr, "lws_minimal: --port: expected 0 to 65535\n");
                return 2;
            }
            port = (int)v;
        } else if (strcmp(argv[i], "--body-bytes") == 0 && i + 1 < argc) {
            char *e;
            body_bytes = strtol(argv[++i], &e, 10);
            if (*e || body_bytes < 32 || body_bytes > (1L << 24)) {
                fprintf(stderr, "lws_minimal: --body-bytes: expected 32 to 16777216\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: lws_minimal [--port N] [--body-bytes N]\n");
            return 2;
        }
    }

    char *padded = NULL;
    if (body_bytes) {
        /* {"status":"ok","pad":"xxx...x"} of exactly body_bytes bytes. */
        static const char head[] = "{\"status\":\"ok\",\"pad\":\"";
        size_t n = (size_t)body_bytes, h = sizeof head - 1;
        padded = malloc(n);
        big_buf = malloc(LWS_PRE + 512 + n);
        if (!padded || !big_buf) {
            fprintf(stderr, "lws_minimal: out of memory\n");
            return 1;
        }
        memcpy(padded, head, h);
        memset(padded + h, 'x', n - h - 2);
        memcpy(padded + n - 2, "\"}", 2);
        body = padded;
        body_len = n;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    memset(protocols, 0, sizeof protocols);
    protocols[0].name = "lws-minimal";
    protocols[0].callback = callback;
    /* As examples/common/httpd.c: a whole answer in one send() when the kernel takes it. */
    protocols[0].tx_packet_size = (size_t)1 << 20;

    /* The same context settings as httpd_new() in examples/common/httpd.c. */
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.max_http_header_data = 8192;
    info.max_http_header_pool = 64;
    info.keepalive_timeout = 30;
    info.timeout_secs = 30;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.vhost_name = "default";

    ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "lws_minimal: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("lws_minimal listening on http://127.0.0.1:%d\n",
           vh ? lws_get_vhost_listen_port(vh) : -1);
    fflush(stdout);

    while (!stop)
        if (lws_service(ctx, 0) < 0)
            break;
    lws_context_destroy(ctx);
    free(padded);
    free(big_buf);
    return 0;
}
