/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file httpd.h
 * @brief HTTP + WebSocket plumbing shared by the example servers (cmee-server, cmee-signals).
 *
 * A thin layer over libwebsockets (one context, one vhost, one event-loop thread) and jansson,
 * so that a server is a table of routes and handlers instead of protocol code. It is example
 * code, not part of libcmee: it uses only the public libcmee API (in fact none of it) and is
 * compiled into each server (examples/common/httpd.c).
 *
 * **Model.** httpd_run() runs the event loop on the calling thread. Everything else in this
 * header (handlers, timers, WebSocket sends) runs on that thread and must be called from it,
 * except httpd_wake() and httpd_stop(), which any thread (httpd_stop() also a signal handler)
 * may call.
 *
 * **Requests.** The loop collects a whole request (method, path, query, the headers asked
 * for, and a body of at most httpd_config::max_body bytes) and then calls
 * httpd_config::on_request once. The handler must answer before it returns with exactly one
 * of httpd_respond(), httpd_respond_inplace(), httpd_respond_json() or httpd_respond_error();
 * a handler that does not gets a 500 answer. The answer is written as soon as the handler
 * returns. A body over the limit is answered 413 by httpd itself (the handler is not
 * called); a request with a body but no Content-Length (chunked upload) is answered 411.
 * Every answer is sent as one buffer (status line, headers with Content-Length and
 * "Connection: keep-alive", body) in one write: no Nagle stall between headers and body.
 *
 * **JSON.** httpd_respond_json() prints with httpd_json_dumps(): compact, keys in insertion
 * order, reals in the shortest form that reads back to the same double (67234.51, not
 * 67234.509999999995; prices, decimals of at most 15 digits, without printf). httpd_json_parse() refuses bodies nested deeper than a limit before
 * jansson sees them. Errors are always {"error":{"code":"...","message":"..."}}.
 *
 * **WebSockets.** When httpd_config::ws_path is set, a WebSocket upgrade on that path opens
 * an ::httpd_ws (upgrades on other paths are refused). Text messages (whole, reassembled, at
 * most httpd_config::ws_max_message bytes; longer ones close the connection with 1009) go to
 * httpd_config::on_ws_message. httpd_ws_send() copies a message into the connection's bounded
 * outgoing queue (httpd_config::ws_queue_max messages); the loop writes it when the socket is
 * writable (LWS_CALLBACK_SERVER_WRITEABLE). A message for a connection with nothing queued is
 * written at once instead, unless the call comes from that connection's own callbacks. A
 * message sent to many connections is best made once as an ::httpd_msg (one buffer, reference
 * counted) and queued on each with httpd_ws_send_msg(). A full queue drops the new message and
 * counts it (httpd_ws_dropped()): a slow client loses messages, it never stalls the loop or
 * other clients. A client that is still that far behind after httpd_config::ws_drop_close
 * drops is disconnected.
 *
 * **Other threads and descriptors.** httpd_wake() wakes the loop (lws_cancel_service) and
 * makes it call httpd_config::on_wake on the loop thread. httpd_watch_fd() makes the loop call
 * a function while a descriptor (an eventfd, e.g. cmee_subscriber_group_fd()) is readable; the
 * function must make it unreadable (drain what it signals), or it is called again at once.
 *
 * **Logs and metrics.** Every answered request is counted (httpd_metrics()) and written as one
 * access line of the structured log (log.h): request_id, method, route, path, status,
 * duration_ms, bytes, and for 4xx/5xx answers the error code. Its level is error for 5xx,
 * warn for 401 and 403, info otherwise. httpd_run() buffers log lines and writes them 32 KiB
 * or 50 ms at a time (slog_flush_lazy() and a timer); warn and error lines at once.
 * libwebsockets' own log lines go to the same log.
 *
 * Errors: functions returning int give 0 on success and -1 on failure (after logging why
 * for setup functions).
 */
#ifndef CMEE_EXAMPLES_HTTPD_H
#define CMEE_EXAMPLES_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The server: a libwebsockets context with one vhost listening on one address. */
typedef struct httpd httpd;
/** One HTTP request being answered; valid only during httpd_config::on_request. */
typedef struct httpd_req httpd_req;
/** One open WebSocket connection; valid from on_ws_open until on_ws_close returns. */
typedef struct httpd_ws httpd_ws;
/** A repeating timer on the loop (lws_sul). */
typedef struct httpd_timer httpd_timer;
/** A descriptor watched by the loop. */
typedef struct httpd_watch httpd_watch;
/** Request metrics (metrics.h). */
struct metrics_http;

/** HTTP methods. */
typedef enum httpd_method {
    HTTPD_GET = 0,
    HTTPD_POST,
    HTTPD_PUT,
    HTTPD_PATCH,
    HTTPD_DELETE,
    HTTPD_OPTIONS,
    HTTPD_HEAD,
    HTTPD_OTHER,
} httpd_method;

/** Limits and defaults. */
#define HTTPD_MAX_BODY_DEFAULT ((size_t)65536)   /**< default httpd_config::max_body */
#define HTTPD_WS_QUEUE_DEFAULT ((size_t)256)     /**< default httpd_config::ws_queue_max */
#define HTTPD_WS_MESSAGE_DEFAULT ((size_t)4096)  /**< default httpd_config::ws_max_message */
#define HTTPD_JSON_DEPTH_DEFAULT 16              /**< default depth for httpd_json_parse() */
#define HTTPD_MAX_QUERY_ARGS 32                  /**< query arguments kept per request */
#define HTTPD_PATH_MAX 512                       /**< longest path kept (longer: 414) */
#define HTTPD_HEADROOM 1024 /**< bytes before a body for httpd_respond_inplace() */
#define HTTPD_REQUEST_ID_MAX 64 /**< longest X-Request-Id kept (see httpd_req_id()) */

/** How httpd_new() makes a server. Zeros give the defaults noted on each field. */
typedef struct httpd_config {
    /** Address to listen on; NULL for "127.0.0.1". */
    const char *host;
    /** TCP port; 0 lets the kernel choose (read it back with httpd_port()). */
    int port;
    /** Largest request body in bytes; 0 for ::HTTPD_MAX_BODY_DEFAULT. */
    size_t max_body;
    /** Path that accepts WebSocket upgrades (e.g. "/ws"); NULL for none. */
    const char *ws_path;
    /** Outgoing queue of each WebSocket, in messages; 0 for ::HTTPD_WS_QUEUE_DEFAULT. */
    size_t ws_queue_max;
    /** Largest incoming WebSocket message in bytes; 0 for ::HTTPD_WS_MESSAGE_DEFAULT. */
    size_t ws_max_message;
    /** Disconnect a WebSocket client after this many consecutive drops (its queue stayed full
     *  all that time); 0 never disconnects. */
    uint64_t ws_drop_close;
    /** Print libwebsockets notices too (default: errors and warnings only). */
    bool verbose;

    /** A whole request has arrived: answer it (see the file comment). Required. */
    void (*on_request)(httpd_req *req, void *ud);
    /** A WebSocket opened. May be NULL. */
    void (*on_ws_open)(httpd_ws *ws, void *ud);
    /** A whole text message arrived on a WebSocket (not NUL-terminated; binary messages are
     *  refused by closing with 1003). May be NULL. */
    void (*on_ws_message)(httpd_ws *ws, const char *text, size_t len, void *ud);
    /** A WebSocket closed; @p ws is freed when this returns. May be NULL. */
    void (*on_ws_close)(httpd_ws *ws, void *ud);
    /** Called on the loop thread after httpd_wake() (one call may answer several wakes).
     *  May be NULL. */
    void (*on_wake)(void *ud);
    /** Passed to every callback. */
    void *ud;
} httpd_config;

/* ---- the server ------------------------------------------------------------------------ */

/** Create the server and start listening. @returns 0, or -1 (reason printed to stderr). */
int httpd_new(const httpd_config *cfg, httpd **out);

/** The port actually listened on (useful with port 0). */
int httpd_port(const httpd *h);

/** Run the loop on this thread until httpd_stop(). @returns 0, or -1 if the loop failed. */
int httpd_run(httpd *h);

/** Make httpd_run() return soon. Thread-safe and async-signal-safe. */
void httpd_stop(httpd *h);

/** Wake the loop and have it call httpd_config::on_wake. Thread-safe. */
void httpd_wake(httpd *h);

/** Close every connection and free the server. Not while httpd_run() runs. Accepts NULL. */
void httpd_free(httpd *h);

/** Number of open WebSocket connections. */
size_t httpd_ws_count(const httpd *h);

/** The request metrics of @p h (metrics.h): every request answered, by the route set with
 *  httpd_req_set_route(). Borrowed, valid until httpd_free(). */
const struct metrics_http *httpd_metrics(const httpd *h);

/** WebSocket messages written to clients and dropped from full queues since the start, over
 *  all connections (those closed since included). Either pointer may be NULL. */
void httpd_ws_totals(const httpd *h, uint64_t *sent, uint64_t *dropped);

/* ---- timers and descriptors ------------------------------------------------------------ */

/**
 * Call @p fn every @p period_ms ms on the loop thread (first call after one period).
 * @returns the timer (free with httpd_timer_free()), or NULL.
 */
httpd_timer *httpd_timer_new(httpd *h, int64_t period_ms, void (*fn)(void *ud), void *ud);

/**
 * From inside @p t's callback: make the next call come @p delay_us microseconds from now
 * instead of one period (for a timer that follows a schedule of its own, e.g. the next tick
 * time). Only that one call; the period applies again after it. Ignored outside the callback.
 */
void httpd_timer_next(httpd_timer *t, int64_t delay_us);

/** Stop and free a timer. Accepts NULL. Safe from inside its own callback. */
void httpd_timer_free(httpd_timer *t);

/**
 * Call @p fn on the loop thread whenever @p fd is readable (level-triggered). httpd polls a
 * dup() of @p fd, so the caller keeps owning @p fd (and must free the watch before closing
 * it). @returns the watch (free with httpd_watch_free()), or NULL.
 */
httpd_watch *httpd_watch_fd(httpd *h, int fd, void (*fn)(void *ud), void *ud);

/** Stop watching. Accepts NULL. */
void httpd_watch_free(httpd_watch *w);

/* ---- requests ---------------------------------------------------------------------------- */

/** The request's method. */
httpd_method httpd_req_method(const httpd_req *r);

/**
 * The request id: the client's X-Request-Id header when it is valid
 * (httpd_request_id_valid()), else one made up here ("<8 hex digits of this run>-<counter in
 * hex>", unique within the process). It is sent back in the X-Request-Id response header and
 * written in the request's access line. Borrowed; "" for a detached request.
 */
const char *httpd_req_id(const httpd_req *r);

/** Whether @p id may be used as a request id: 1 to ::HTTPD_REQUEST_ID_MAX characters from
 *  A-Z a-z 0-9 '-' '_' '.' ':'. */
bool httpd_request_id_valid(const char *id);

/**
 * Name the route template that took @p r ("/api/sessions/{id}"), for the request metrics and
 * the access line. @p route is borrowed for the life of the server (a route table's string).
 * Requests without one are counted as ::METRICS_ROUTE_OTHER ("other").
 */
void httpd_req_set_route(httpd_req *r, const char *route);

/** Its name ("GET", "DELETE"...). */
const char *httpd_method_name(httpd_method m);

/** The path, URL-decoded, without the query ("/api/sessions/abc"). Borrowed. */
const char *httpd_req_path(const httpd_req *r);

/** The body (NUL-terminated for convenience; may contain NULs) and its length; "" if none. */
const char *httpd_req_body(const httpd_req *r, size_t *len);

/**
 * A query argument, URL-decoded (libwebsockets decodes %XX and '+').
 * @returns the value (borrowed, valid during on_request), or NULL if absent. An argument given
 *          without '=' has the value "". With repeats the first wins.
 */
const char *httpd_req_query(const httpd_req *r, const char *name);

/** Number of query arguments, and argument @p i's name and value (borrowed). For refusing
 *  unknown arguments. @returns 0, or -1 for a bad index. */
size_t httpd_req_query_count(const httpd_req *r);
int httpd_req_query_at(const httpd_req *r, size_t i, const char **name, const char **value);

/**
 * Copy request header @p name (lower case, without ':' - e.g. "authorization",
 * "x-session-token", "content-type") into @p buf.
 * @returns its length, -1 if absent, -2 if it does not fit in @p cap - 1 bytes.
 */
int httpd_req_header(const httpd_req *r, const char *name, char *buf, size_t cap);

/**
 * The bearer token of "Authorization: Bearer <token>" into @p buf.
 * @returns its length; -1 if there is no Authorization header or it is not a Bearer one;
 *          -2 if the token does not fit.
 */
int httpd_req_bearer(const httpd_req *r, char *buf, size_t cap);

/** Add a response header (e.g. "Allow", "GET, POST"), before answering. Both are copied.
 *  At most 8 per request. */
void httpd_req_add_header(httpd_req *r, const char *name, const char *value);

/** Answer with @p status and @p body (copied) of type @p content_type (NULL:
 *  "application/json"). Only the first answer of a request counts. */
void httpd_respond(httpd_req *r, int status, const char *content_type, const void *body,
                   size_t len);

/**
 * As httpd_respond(), without copying @p body: the status line and headers are written into
 * the ::HTTPD_HEADROOM bytes before @p body (which must be writable; @p body itself is not
 * changed), and the answer is sent from there before the request's handler returns to the
 * loop. For large answers kept in a cache: the body is written straight from it. With extra
 * headers that do not fit in the headroom, or on a detached request, it copies like
 * httpd_respond().
 */
void httpd_respond_inplace(httpd_req *r, int status, const char *content_type, char *body,
                           size_t len);

/** Answer with a JSON document printed by httpd_json_dumps(). Takes over the reference to
 *  @p body (pass json_pack(...) directly; NULL answers 500). */
void httpd_respond_json(httpd_req *r, int status, json_t *body);

/** Answer {"error":{"code":@p code,"message":<printf of fmt>}} with @p status. */
void httpd_respond_error(httpd_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- JSON ---------------------------------------------------------------------------------- */

/**
 * Print @p j compactly (keys in insertion order), each real in the shortest of %.15g, %.16g
 * and %.17g that reads back to the same double. @returns a malloc'ed NUL-terminated string
 * (free() it) and its length in @p len (may be NULL), or NULL.
 */
char *httpd_json_dumps(const json_t *j, size_t *len);

/**
 * A JSON number for @p v: an integer when @p v is a whole number below 2^53 in magnitude
 * (10000, not 10000.0), else a real. NaN and infinities give null. New reference.
 */
json_t *httpd_json_number(double v);

/**
 * Parse a request body as a JSON object, refusing nesting deeper than @p max_depth (0:
 * ::HTTPD_JSON_DEPTH_DEFAULT) before jansson sees it. On failure it answers the request
 * itself (400 "invalid_json" with line and column, "too_deep", or "expected_object") and
 * returns NULL. An empty body gives an empty object. @returns a new reference.
 */
json_t *httpd_json_parse(httpd_req *r, int max_depth);

/** Why httpd_json_parse_text() refused a body. */
typedef struct httpd_json_error {
    const char *code;  /**< "invalid_json", "too_deep" or "expected_object" (static) */
    char message[320]; /**< the message httpd_json_parse() answers with */
} httpd_json_error;

/**
 * The parsing half of httpd_json_parse(), without a request: the same checks in the same order
 * on @p len bytes at @p body. @returns a new reference, or NULL with @p err filled.
 */
json_t *httpd_json_parse_text(const char *body, size_t len, int max_depth,
                              httpd_json_error *err);

/**
 * Check that object @p obj has no key outside @p allowed (a NULL-terminated list). On an
 * unknown key it answers 400 "unknown_field" naming it and returns -1; else 0.
 */
int httpd_json_only(httpd_req *r, const json_t *obj, const char *const *allowed);

/* ---- path routing helpers ------------------------------------------------------------------ */

/**
 * Match @p path against @p pattern, where a segment in braces ("{}" or "{name}", as in
 * OpenAPI paths) matches any one non-empty segment, which is copied to the next of @p caps
 * (64 bytes each; a longer segment fails the match). A trailing '/' on @p path is ignored.
 * Example: httpd_path_match("/api/sessions/ab12/orders/7", "/api/sessions/{id}/orders/{oid}",
 * caps, 2) gives caps[0] "ab12", caps[1] "7".
 * @returns true on a match.
 */
bool httpd_path_match(const char *path, const char *pattern, char (*caps)[64], size_t ncaps);

/* ---- detached requests (tests and fuzzing) ------------------------------------------------- */

/**
 * A request that did not come from the network, for driving handlers in tests and fuzz
 * targets: @p query ("a=1&b=x%20y", may be NULL) is split and URL-decoded as libwebsockets
 * does, @p body (may be NULL) is copied. It has no headers. Answers are kept, not sent.
 * @returns the request (free with httpd_req_detached_free()), or NULL.
 */
httpd_req *httpd_req_detached_new(httpd_method method, const char *path, const char *query,
                                  const void *body, size_t len);

/** The status a detached request was answered with (0 if not answered) and the answer's body
 *  (borrowed, NUL-terminated). */
int httpd_req_detached_result(const httpd_req *r, const char **body, size_t *len);

/** Free a detached request. Accepts NULL. */
void httpd_req_detached_free(httpd_req *r);

/* ---- WebSockets ---------------------------------------------------------------------------- */

/**
 * Queue a text message for @p ws (copied). @returns 0 if queued (or already written: an idle
 * connection is written at once, outside the connection's own callbacks); -1 if the queue is
 * full (the message is dropped and counted) or the connection is closing.
 */
int httpd_ws_send(httpd_ws *ws, const char *text, size_t len);

/** Queue a JSON message printed by httpd_json_dumps(); takes over @p j. As httpd_ws_send(). */
int httpd_ws_send_json(httpd_ws *ws, json_t *j);

/**
 * An outgoing WebSocket message that can be queued on any number of connections without a
 * copy each: encode a broadcast once, send it to every client. Reference counted (loop thread
 * only); each connection it is queued on holds a reference until it is written.
 */
typedef struct httpd_msg httpd_msg;

/** A message holding a copy of @p len bytes at @p text. @returns it (one reference), or NULL. */
httpd_msg *httpd_msg_new(const char *text, size_t len);

/** A message holding @p j printed by httpd_json_dumps(); takes over @p j. NULL on failure. */
httpd_msg *httpd_msg_json(json_t *j);

/** The text of @p m (borrowed, NUL-terminated) and its length. */
const char *httpd_msg_text(const httpd_msg *m, size_t *len);

/** Take one more reference to @p m. @returns @p m. Accepts NULL. */
httpd_msg *httpd_msg_ref(httpd_msg *m);

/** Drop one reference to @p m; the last frees it. Accepts NULL. */
void httpd_msg_unref(httpd_msg *m);

/** Queue @p m for @p ws, which takes a reference of its own (the caller keeps its reference).
 *  As httpd_ws_send(). */
int httpd_ws_send_msg(httpd_ws *ws, httpd_msg *m);

/** Queue @p n messages for @p ws, in order, as httpd_ws_send_msg() each; written to an idle
 *  connection they leave in as few TCP packets as fit (TCP_CORK around them). @returns 0, or
 *  -1 if any was dropped. */
int httpd_ws_send_msgs(httpd_ws *ws, httpd_msg *const *m, size_t n);

/** Messages dropped on @p ws so far because its queue was full. */
uint64_t httpd_ws_dropped(const httpd_ws *ws);

/** Messages waiting in @p ws's outgoing queue. */
size_t httpd_ws_queued(const httpd_ws *ws);

/** Close @p ws (after what is queued is written is not guaranteed). on_ws_close follows. */
void httpd_ws_close(httpd_ws *ws);

/** The per-connection pointer of @p ws (NULL until set). */
void *httpd_ws_get_ud(const httpd_ws *ws);
void httpd_ws_set_ud(httpd_ws *ws, void *ud);

/** A unique number of @p ws within the server (1, 2, ...), for logs. */
uint64_t httpd_ws_id(const httpd_ws *ws);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_EXAMPLES_HTTPD_H */
