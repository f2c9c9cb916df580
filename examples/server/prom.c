/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: GET /metrics in the Prometheus text exposition format 0.0.4. Every family is
 * listed in docs/server.md#metrics. The request families come from httpd (every server has
 * them); the rest are read from the server's state and libcmee at scrape time. */
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "server.h"
#include "sha256.h"

/* With CMEE_METRICS_TOKEN set, /metrics wants it as a bearer token (as the admin endpoints
 * do theirs): false after answering 401 or 403. */
static bool metrics_auth(srv *S, httpd_req *r)
{
    char token[512];
    unsigned char h[SHA256_LEN];

    if (!S->metrics_protected)
        return true;
    int n = httpd_req_bearer(r, token, sizeof token);
    if (n < 0 && n != -2) {
        httpd_req_add_header(r, "WWW-Authenticate", "Bearer realm=\"cmee-metrics\"");
        httpd_respond_error(r, 401, "unauthorized",
                            "/metrics needs Authorization: Bearer <metrics token>");
        return false;
    }
    sha256(n > 0 ? token : "", n > 0 ? (size_t)n : 0, h);
    if (n <= 0 || !ct_equal(h, S->metrics_hash, SHA256_LEN)) {
        httpd_respond_error(r, 403, "forbidden", "the metrics token is not valid");
        return false;
    }
    return true;
}

void h_metrics(srv *S, httpd_req *r)
{
    if (httpd_req_method(r) != HTTPD_GET) {
        httpd_req_add_header(r, "Allow", "GET");
        httpd_respond_error(r, 405, "method_not_allowed", "%s /metrics: allowed methods are GET",
                            httpd_method_name(httpd_req_method(r)));
        return;
    }
    if (httpd_req_query_count(r) > 0) {
        const char *name;
        httpd_req_query_at(r, 0, &name, NULL);
        httpd_respond_error(r, 400, "unknown_parameter", "%.64s: unknown query parameter",
                            name);
        return;
    }
    if (!metrics_auth(S, r))
        return;

    metrics_text t = {0};
    /* The request that is being answered is not in the figures yet: it is counted when its
     * answer has been written. */
    metrics_http_write(httpd_metrics(S->http), &t);

    metrics_family(&t, "cmee_sessions_live", "gauge", "Sessions loaded in the server.");
    metrics_sample(&t, "cmee_sessions_live", NULL, (double)S->nsessions);
    metrics_family(&t, "cmee_ws_clients", "gauge", "Open WebSocket connections on /ws.");
    metrics_sample(&t, "cmee_ws_clients", NULL, (double)httpd_ws_count(S->http));

    cmee_broadcast_stats bs;
    memset(&bs, 0, sizeof bs);
    cmee_broadcaster_stats(S->bc, &bs);
    uint64_t sent = 0, dropped = 0;
    httpd_ws_totals(S->http, &sent, &dropped);
    metrics_family(&t, "cmee_broadcast_messages_published_total", "counter",
                   "Messages published to the broadcaster (ticks, candles, session events).");
    metrics_sample(&t, "cmee_broadcast_messages_published_total", NULL, (double)bs.published);
    metrics_family(&t, "cmee_broadcast_messages_sent_total", "counter",
                   "WebSocket messages written to clients (feed messages and replies).");
    metrics_sample(&t, "cmee_broadcast_messages_sent_total", NULL, (double)sent);
    metrics_family(&t, "cmee_broadcast_messages_dropped_total", "counter",
                   "Messages lost to a full queue: queue=\"subscriber\" the broadcaster's "
                   "per-client queues, queue=\"connection\" the per-connection send queues.");
    metrics_sample(&t, "cmee_broadcast_messages_dropped_total", "queue=\"subscriber\"",
                   (double)bs.dropped);
    metrics_sample(&t, "cmee_broadcast_messages_dropped_total", "queue=\"connection\"",
                   (double)dropped);

    cmee_store_stats ss;
    if (cmee_store_stats_get(S->store, &ss) == CMEE_OK) {
        metrics_family(&t, "cmee_store_transaction_duration_seconds", "histogram",
                       "Write transactions of the store, from asking for the lock to the end "
                       "of COMMIT or ROLLBACK.");
        metrics_hist_write_cumulative(&t, "cmee_store_transaction_duration_seconds", NULL,
                                      ss.le, ss.count, CMEE_STORE_STATS_BUCKETS,
                                      ss.transactions, ss.seconds);
        metrics_family(&t, "cmee_store_transactions_rolled_back_total", "counter",
                       "Write transactions of the store rolled back (refused, failed or busy).");
        metrics_sample(&t, "cmee_store_transactions_rolled_back_total", NULL,
                       (double)ss.rolled_back);
    }
    metrics_process_write(&t, S->start_time);

    size_t len = 0;
    const char *text = metrics_text_get(&t, &len);
    if (text)
        httpd_respond(r, 200, METRICS_CONTENT_TYPE, text, len);
    else
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
    metrics_text_free(&t);
}
