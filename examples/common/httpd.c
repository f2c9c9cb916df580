/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HTTP + WebSocket plumbing for the example servers: see httpd.h. libwebsockets does the
 * protocol work (HTTP/1.1 parsing, keep-alive, WebSocket framing); this file turns its
 * callbacks into "a whole request arrived" and "a whole message arrived", and keeps the
 * per-connection state (request body, bounded WebSocket send queue). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "httpd.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "metrics.h"

#define HTTPD_PROTOCOL "cmee-httpd"
#define HTTPD_MAX_EXTRA_HEADERS 8
/* A body this much larger than the limit is not drained before answering 413: the
 * connection is closed instead. */
#define HTTPD_DRAIN_FACTOR 16
/* Largest single send() (lws_protocols::tx_packet_size). */
#define HTTPD_TX_PACKET ((size_t)1 << 20)

struct httpd_timer {
    lws_sorted_usec_list_t sul; /* first: the sul callback casts back to the timer */
    httpd *h;
    int64_t period_ms;
    int64_t next_us; /* set by httpd_timer_next() during the callback, else -1 */
    void (*fn)(void *ud);
    void *ud;
    bool in_callback;
    bool dead;
    httpd_timer *next;
};

struct httpd_watch {
    httpd *h;
    struct lws *wsi; /* NULL once lws closed it */
    void (*fn)(void *ud);
    void *ud;
    bool freed; /* the owner let go: free when lws closes the descriptor */
    httpd_watch *next;
};

/* What a connection is, stored as the wsi's opaque user data: every such struct starts
 * with this kind. */
enum conn_kind { CONN_HTTP = 1, CONN_WS = 2, CONN_WATCH = 3 };

/* The opaque data of a watched descriptor's wsi. */
struct watch_box {
    int kind; /* CONN_WATCH */
    httpd_watch *w;
};

struct httpd_req {
    int kind; /* CONN_HTTP */
    httpd *h;
    struct lws *wsi;
    httpd_method method;
    char path[HTTPD_PATH_MAX];
    /* Query arguments: "name\0value\0" pairs in args_buf. */
    char *args_buf;
    struct {
        const char *name, *value;
    } args[HTTPD_MAX_QUERY_ARGS];
    size_t nargs;
    /* Body. */
    char *body;
    size_t body_len, body_cap;
    size_t expected;
    bool receiving, too_large;
    bool keep_alive;
    /* Response. */
    struct {
        char name[64];
        char value[256];
    } extra[HTTPD_MAX_EXTRA_HEADERS];
    size_t nextra;
    bool responded;
    bool close_after;
    int status; /* the answer's status, kept for detached requests (no wsi) */
    /* For the access log and the request metrics. */
    char rid[HTTPD_REQUEST_ID_MAX + 1]; /* request id: the client's, or generated */
    const char *route;                  /* route template (httpd_req_set_route()), or NULL */
    char err_code[48];                  /* code of an error answer */
    size_t resp_body;                   /* bytes of the answer's body */
    int64_t t0_ns;                      /* monotonic time the headers were complete */
    bool done;                          /* logged and counted */
    unsigned char *out; /* LWS_PRE bytes of headroom, then out_len bytes */
    size_t out_len;
    bool out_borrowed; /* out is the caller's (httpd_respond_inplace()): never freed here */
};

/* A message queued on WebSocket connections: one buffer shared by every connection it is
 * queued on (refcounted; the loop is single-threaded, so a plain counter). lws_write() writes
 * the frame header into the LWS_PRE bytes before the text; every connection writes the same
 * header there and the write completes (or lws copies the rest aside) before the next one, so
 * sharing the headroom is safe. The text itself is never changed (servers do not mask). */
struct httpd_msg {
    size_t refs;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len + 1 */
};

struct httpd_ws {
    int kind; /* CONN_WS */
    httpd *h;
    struct lws *wsi;
    uint64_t id;
    void *ud;
    httpd_msg **q;
    size_t qcap, qhead, qlen;
    uint64_t dropped, drop_run;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_overflow, rx_binary;
    bool closing;
    int close_status;
};

struct httpd {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    httpd_config cfg;
    char host[64];
    char ws_path[128];
    int port;
    struct lws_protocols protocols[2];
    volatile sig_atomic_t stop;
    atomic_int wake_pending;
    size_t nws;
    uint64_t next_ws_id;
    bool in_ws_cb; /* inside on_ws_open / on_ws_message: queue, never write directly */
    httpd_timer *timers;
    httpd_watch *watches;
    metrics_http *metrics;
    uint64_t ws_sent, ws_dropped; /* WebSocket messages written and dropped, all connections */
    char rid_prefix[9];           /* generated request ids: prefix-counter */
    uint64_t rid_next;
};

/* ---- small helpers -------------------------------------------------------------------- */

static int conn_kind(struct lws *wsi)
{
    int *k = lws_get_opaque_user_data(wsi);
    return k ? *k : 0;
}

const char *httpd_method_name(httpd_method m)
{
    static const char *const names[] = {"GET",    "POST",    "PUT",  "PATCH",
                                        "DELETE", "OPTIONS", "HEAD", "OTHER"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "OTHER";
}

/* ---- JSON ------------------------------------------------------------------------------- */

struct dump_buf {
    char *p;
    size_t len, cap;
    bool in_string;
    bool failed;
};

static int dump_append(struct dump_buf *d, const char *s, size_t n)
{
    if (d->len + n + 1 > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (cap < d->len + n + 1)
            cap *= 2;
        char *p = realloc(d->p, cap);
        if (!p) {
            d->failed = true;
            return -1;
        }
        d->p = p;
        d->cap = cap;
    }
    memcpy(d->p + d->len, s, n);
    d->len += n;
    d->p[d->len] = '\0';
    return 0;
}

/* The shortest decimal that reads back to @p v, when it is a plain decimal of at most 15
 * significant digits: what "%.15g" prints for such a value (proof below), without printf and
 * strtod. Prices are such decimals (the nearest double to a whole number of ticks of 10^-p), so
 * they take this path; other values return 0 and get the general search.
 *
 * For p = 0, 1, ... it takes n = round(|v| x 10^p) and checks n / 10^p == |v|: both operands are
 * exact (n < 2^53, 10^p for p <= 22), so the division is the correctly rounded quotient, that is
 * the double strtod() gives for the decimal n x 10^-p. The check therefore says exactly "this
 * decimal reads back to v". The first p that passes gives the decimal with the fewest digits
 * (no trailing zero: n / 10 would have passed at p - 1). When it has at most 15 significant
 * digits, "%.15g" prints the same digits: v lies within half an ulp (2^-53 relative) of the
 * decimal, far less than half a unit of a 15th digit (5 x 10^-15 relative), and %g drops the
 * trailing zeros. Magnitudes below 1e-4 are left out because %g writes them with an exponent. */
static size_t format_real_fixed(double v, char *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int p = 0; p < (int)(sizeof pow10 / sizeof pow10[0]); p++) {
        double s = a * pow10[p];
        if (s >= 9007199254740992.0) /* 2^53 */
            return 0;
        double n = (double)(uint64_t)(s + 0.5); /* round half up; s >= 0 */
        if (n / pow10[p] != a)
            continue;
        char digits[24];
        int nd = 0;
        for (uint64_t u = (uint64_t)n; u; u /= 10)
            digits[nd++] = (char)('0' + u % 10);
        /* digits[] holds n backwards; n >= 1 since a >= 1e-4 and the check passed. */
        int sig = nd;
        if (sig > 15)
            return 0;
        size_t len = 0;
        if (v < 0)
            out[len++] = '-';
        if (nd <= p) {
            out[len++] = '0';
            out[len++] = '.';
            for (int k = 0; k < p - nd; k++)
                out[len++] = '0';
            for (int k = nd - 1; k >= 0; k--)
                out[len++] = digits[k];
        } else {
            for (int k = nd - 1; k >= 0; k--) {
                out[len++] = digits[k];
                if (k == p && p > 0)
                    out[len++] = '.';
            }
        }
        out[len] = '\0';
        return len;
    }
    return 0;
}

/* What httpd_json_dumps() prints for the real @p v (finite): the fast path above, else the
 * shortest of %.15g, %.16g and %.17g that reads back to @p v. */
static size_t format_real(double v, char out[48])
{
    size_t n = format_real_fixed(v, out);
    if (n)
        return n;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 48, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return strlen(out);
}

/* jansson hands its output to the callback in pieces: each number is one piece, and each
 * string starts and ends with a piece that is a lone '"' (a quote inside a string is the
 * two-byte piece \"). So a piece outside strings that contains '.', 'e' or 'E' is a real
 * printed with %.17g, and is rewritten here in its shortest round-trip form. If jansson
 * ever cut its output differently, reals would simply stay at 17 digits: still exact. */
static int dump_cb(const char *buffer, size_t size, void *data)
{
    struct dump_buf *d = data;

    if (size == 1 && buffer[0] == '"') {
        d->in_string = !d->in_string;
        return dump_append(d, buffer, size);
    }
    if (!d->in_string && size > 0 && size < 40 && (buffer[0] == '-' || (buffer[0] >= '0' &&
                                                                         buffer[0] <= '9')) &&
        memchr(buffer, '"', size) == NULL &&
        (memchr(buffer, '.', size) || memchr(buffer, 'e', size) || memchr(buffer, 'E', size))) {
        char tmp[48], out[48];
        memcpy(tmp, buffer, size);
        tmp[size] = '\0';
        char *end;
        double v = strtod(tmp, &end);
        if (*end == '\0' && isfinite(v))
            return dump_append(d, out, format_real(v, out));
    }
    return dump_append(d, buffer, size);
}

char *httpd_json_dumps(const json_t *j, size_t *len)
{
    struct dump_buf d = {0};

    if (!j)
        return NULL;
    if (json_dump_callback(j, dump_cb, &d, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                               JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY) != 0 ||
        d.failed || !d.p) {
        free(d.p);
        return NULL;
    }
    if (len)
        *len = d.len;
    return d.p;
}

json_t *httpd_json_number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* ---- requests: answering ----------------------------------------------------------------- */

/* Let go of the answer's buffer (freed unless it is the caller's). */
static void out_release(httpd_req *r)
{
    if (!r->out_borrowed)
        free(r->out);
    r->out = NULL;
    r->out_borrowed = false;
}

static void req_reset(httpd_req *r)
{
    free(r->args_buf);
    free(r->body);
    out_release(r);
    httpd *h = r->h;
    struct lws *wsi = r->wsi;
    memset(r, 0, sizeof *r);
    r->kind = CONN_HTTP;
    r->h = h;
    r->wsi = wsi;
}

static void req_free(httpd_req *r)
{
    if (!r)
        return;
    free(r->args_buf);
    free(r->body);
    out_release(r);
    free(r);
}

void httpd_req_add_header(httpd_req *r, const char *name, const char *value)
{
    if (r->nextra >= HTTPD_MAX_EXTRA_HEADERS)
        return;
    snprintf(r->extra[r->nextra].name, sizeof r->extra[0].name, "%s:", name);
    snprintf(r->extra[r->nextra].value, sizeof r->extra[0].value, "%s", value);
    r->nextra++;
}

/* The status line and headers of an answer into @p buf (at most @p cap bytes).
 * @returns their length, or 0 if they do not fit. */
static size_t req_headers(httpd_req *r, int status, const char *content_type, size_t len,
                          unsigned char *buf, size_t cap)
{
    struct lws *wsi = r->wsi;
    unsigned char *p = buf, *end = buf + cap;
    const char *conn = r->keep_alive && !r->close_after ? "keep-alive" : "close";

    if (lws_add_http_header_status(wsi, (unsigned)status, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)content_type,
                                     (int)strlen(content_type), &p, end) ||
        lws_add_http_header_content_length(wsi, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)conn,
                                     (int)strlen(conn), &p, end))
        return 0;
    if (r->rid[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Request-Id:",
                                                 (const unsigned char *)r->rid,
                                                 (int)strlen(r->rid), &p, end))
        return 0;
    for (size_t i = 0; i < r->nextra; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)r->extra[i].name,
                                        (const unsigned char *)r->extra[i].value,
                                        (int)strlen(r->extra[i].value), &p, end))
            return 0;
    if (lws_finalize_http_header(wsi, &p, end))
        return 0;
    return (size_t)(p - buf);
}

/* Common start of the respond functions: false if the request was answered already. For a
 * detached request (httpd_req_detached_new()) it also keeps the body alone and returns false. */
static bool respond_begin(httpd_req *r, int status, const void *body, size_t len)
{
    if (r->responded)
        return false;
    r->responded = true;
    r->status = status;
    r->resp_body = len;
    if (r->wsi)
        return true;
    out_release(r);
    r->out = malloc(len + 1);
    if (r->out) {
        if (len)
            memcpy(r->out, body, len);
        r->out[len] = '\0';
    }
    r->out_len = r->out ? len : 0;
    return false;
}

void httpd_respond(httpd_req *r, int status, const char *content_type, const void *body,
                   size_t len)
{
    unsigned char hdr[HTTPD_HEADROOM + 8 * (64 + 256 + 8)];

    if (!content_type)
        content_type = "application/json";
    if (!respond_begin(r, status, body, len))
        return;
    size_t hl = req_headers(r, status, content_type, len, hdr, sizeof hdr);
    unsigned char *buf = hl ? malloc(LWS_PRE + hl + len) : NULL;
    if (!buf) {
        r->close_after = true;
        return;
    }
    memcpy(buf + LWS_PRE, hdr, hl);
    if (len)
        memcpy(buf + LWS_PRE + hl, body, len);
    out_release(r);
    r->out = buf;
    r->out_len = hl + len;
    if (!r->keep_alive)
        r->close_after = true;
}

void httpd_respond_inplace(httpd_req *r, int status, const char *content_type, char *body,
                           size_t len)
{
    unsigned char hdr[HTTPD_HEADROOM];

    if (!content_type)
        content_type = "application/json";
    if (!r->wsi || r->responded) {
        httpd_respond(r, status, content_type, body, len);
        return;
    }
    size_t hl = req_headers(r, status, content_type, len, hdr, sizeof hdr - LWS_PRE);
    if (!hl) { /* headers too long for the headroom (extra headers): copy instead */
        httpd_respond(r, status, content_type, body, len);
        return;
    }
    respond_begin(r, status, body, len);
    memcpy(body - hl, hdr, hl);
    out_release(r);
    r->out = (unsigned char *)body - hl - LWS_PRE;
    r->out_len = hl + len;
    r->out_borrowed = true;
    if (!r->keep_alive)
        r->close_after = true;
}

void httpd_respond_json(httpd_req *r, int status, json_t *body)
{
    size_t len;
    char *text = httpd_json_dumps(body, &len);

    json_decref(body);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"could not encode the response\"}}";
        httpd_respond(r, 500, NULL, oom, sizeof oom - 1);
        return;
    }
    httpd_respond(r, status, NULL, text, len);
    free(text);
}

void httpd_respond_error(httpd_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!r->responded)
        snprintf(r->err_code, sizeof r->err_code, "%s", code);
    /* A message quoting the request (an unknown symbol) may hold bytes that are not UTF-8,
     * which JSON cannot carry: show them as '?' rather than failing with a 500. */
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (!j) {
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    }
    httpd_respond_json(r, status, j);
}

/* ---- requests: reading --------------------------------------------------------------------- */

httpd_method httpd_req_method(const httpd_req *r) { return r->method; }
const char *httpd_req_path(const httpd_req *r) { return r->path; }

const char *httpd_req_body(const httpd_req *r, size_t *len)
{
    if (len)
        *len = r->body ? r->body_len : 0;
    return r->body ? r->body : "";
}

const char *httpd_req_query(const httpd_req *r, const char *name)
{
    for (size_t i = 0; i < r->nargs; i++)
        if (strcmp(r->args[i].name, name) == 0)
            return r->args[i].value;
    return NULL;
}

size_t httpd_req_query_count(const httpd_req *r) { return r->nargs; }

int httpd_req_query_at(const httpd_req *r, size_t i, const char **name, const char **value)
{
    if (i >= r->nargs)
        return -1;
    if (name)
        *name = r->args[i].name;
    if (value)
        *value = r->args[i].value;
    return 0;
}

static int copy_token(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t cap)
{
    int n = lws_hdr_total_length(wsi, tok);
    if (n <= 0)
        return -1;
    if ((size_t)n >= cap)
        return -2;
    if (lws_hdr_copy(wsi, buf, (int)cap, tok) < 0)
        return -1;
    return n;
}

int httpd_req_header(const httpd_req *r, const char *name, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        enum lws_token_indexes tok;
    } known[] = {
        {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
        {"content-type", WSI_TOKEN_HTTP_CONTENT_TYPE},
        {"content-length", WSI_TOKEN_HTTP_CONTENT_LENGTH},
        {"connection", WSI_TOKEN_CONNECTION},
        {"host", WSI_TOKEN_HOST},
        {"origin", WSI_TOKEN_ORIGIN},
        {"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
        {"accept", WSI_TOKEN_HTTP_ACCEPT},
        {"transfer-encoding", WSI_TOKEN_HTTP_TRANSFER_ENCODING},
    };
    char cname[96];

    if (!buf || cap == 0)
        return -2;
    if (!r->wsi)
        return -1; /* a detached request has no headers */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcasecmp(name, known[i].name) == 0)
            return copy_token(r->wsi, known[i].tok, buf, cap);

#if defined(LWS_WITH_CUSTOM_HEADERS)
    /* libwebsockets keeps unknown headers under the name as received (plus ':'); try the
     * spellings clients use: as given, lower case, Capitalised, Title-Case. */
    size_t nl = strlen(name);
    if (nl + 2 > sizeof cname)
        return -1;
    for (int variant = 0; variant < 4; variant++) {
        for (size_t i = 0; i < nl; i++) {
            char c = name[i];
            bool word_start = i == 0 || name[i - 1] == '-';
            if (variant == 1)
                c = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            else if (variant == 2)
                c = (char)(i == 0 ? (c >= 'a' && c <= 'z' ? c - 32 : c)
                                  : (c >= 'A' && c <= 'Z' ? c + 32 : c));
            else if (variant == 3)
                c = (char)(word_start ? (c >= 'a' && c <= 'z' ? c - 32 : c)
                                      : (c >= 'A' && c <= 'Z' ? c + 32 : c));
            cname[i] = c;
        }
        cname[nl] = ':';
        cname[nl + 1] = '\0';
        int n = lws_hdr_custom_length(r->wsi, cname, (int)nl + 1);
        if (n < 0)
            continue;
        if ((size_t)n >= cap)
            return -2;
        if (lws_hdr_custom_copy(r->wsi, buf, (int)cap, cname, (int)nl + 1) < 0)
            return -1;
        return n;
    }
#else
    (void)cname;
#endif
    return -1;
}

int httpd_req_bearer(const httpd_req *r, char *buf, size_t cap)
{
    char auth[512];
    int n = httpd_req_header(r, "authorization", auth, sizeof auth);
    if (n == -2)
        return -2;
    if (n < 0 || strncasecmp(auth, "Bearer ", 7) != 0)
        return -1;
    const char *t = auth + 7;
    while (*t == ' ')
        t++;
    size_t len = strlen(t);
    while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
        len--;
    if (len + 1 > cap)
        return -2;
    memcpy(buf, t, len);
    buf[len] = '\0';
    return (int)len;
}

/* ---- JSON bodies ------------------------------------------------------------------------ */

json_t *httpd_json_parse_text(const char *body, size_t len, int max_depth,
                              httpd_json_error *e)
{
    int depth = 0, deepest = 0;
    bool in_str = false, esc = false;
    json_error_t err;

    if (max_depth <= 0)
        max_depth = HTTPD_JSON_DEPTH_DEFAULT;
    /* Count nesting before jansson recurses into it: a scan of brackets outside strings. */
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
            if (deepest > max_depth) {
                e->code = "too_deep";
                snprintf(e->message, sizeof e->message,
                         "body: JSON nested deeper than %d levels", max_depth);
                return NULL;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len)
        return json_object();

    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        e->code = "invalid_json";
        snprintf(e->message, sizeof e->message, "body: invalid JSON at line %d, column %d: %s",
                 err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        e->code = "expected_object";
        snprintf(e->message, sizeof e->message, "body: expected a JSON object");
        return NULL;
    }
    return j;
}

json_t *httpd_json_parse(httpd_req *r, int max_depth)
{
    size_t len;
    const char *body = httpd_req_body(r, &len);
    httpd_json_error e;

    json_t *j = httpd_json_parse_text(body, len, max_depth, &e);
    if (!j)
        httpd_respond_error(r, 400, e.code, "%s", e.message);
    return j;
}

int httpd_json_only(httpd_req *r, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;

    json_object_foreach((json_t *)obj, key, val) {
        bool ok = false;
        for (size_t i = 0; allowed && allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0) {
                ok = true;
                break;
            }
        if (!ok) {
            httpd_respond_error(r, 400, "unknown_field", "%.64s: unknown field", key);
            return -1;
        }
    }
    return 0;
}

/* ---- routing ------------------------------------------------------------------------------ */

bool httpd_path_match(const char *path, const char *pattern, char (*caps)[64], size_t ncaps)
{
    size_t ncap = 0;
    const char *p = path, *q = pattern;

    while (*q) {
        if (q[0] == '{' && (q == pattern || q[-1] == '/')) {
            const char *close = strchr(q, '}');
            if (!close)
                return false;
            const char *seg_end = strchr(p, '/');
            size_t n = seg_end ? (size_t)(seg_end - p) : strlen(p);
            if (n == 0 || n >= 64 || ncap >= ncaps)
                return false;
            memcpy(caps[ncap], p, n);
            caps[ncap][n] = '\0';
            ncap++;
            p += n;
            q = close + 1;
            continue;
        }
        if (*p != *q)
            return false;
        p++;
        q++;
    }
    /* A trailing slash is the same path. */
    return *p == '\0' || (p[0] == '/' && p[1] == '\0');
}

/* ---- WebSockets ------------------------------------------------------------------------- */

httpd_msg *httpd_msg_new(const char *text, size_t len)
{
    httpd_msg *m = malloc(sizeof *m + LWS_PRE + len + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = len;
    if (len)
        memcpy(m->buf + LWS_PRE, text, len);
    m->buf[LWS_PRE + len] = '\0';
    return m;
}

httpd_msg *httpd_msg_json(json_t *j)
{
    size_t len;
    char *text = httpd_json_dumps(j, &len);
    json_decref(j);
    if (!text)
        return NULL;
    httpd_msg *m = httpd_msg_new(text, len);
    free(text);
    return m;
}

const char *httpd_msg_text(const httpd_msg *m, size_t *len)
{
    if (len)
        *len = m ? m->len : 0;
    return m ? (const char *)m->buf + LWS_PRE : "";
}

httpd_msg *httpd_msg_ref(httpd_msg *m)
{
    if (m)
        m->refs++;
    return m;
}

void httpd_msg_unref(httpd_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

/* Write @p m on @p ws now. @returns 0, or -1 if the connection failed (lws closes it). */
static int ws_write_msg(httpd_ws *ws, httpd_msg *m)
{
    int n = lws_write(ws->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    if (n < (int)m->len)
        return -1;
    ws->drop_run = 0;
    ws->h->ws_sent++;
    return 0;
}

int httpd_ws_send_msg(httpd_ws *ws, httpd_msg *m)
{
    if (!ws || !m || ws->closing)
        return -1;
    /* Nothing queued and nothing left over from an earlier partial write: the socket is as
     * ready as in a WRITEABLE callback, so write now instead of asking for one. That saves two
     * epoll_ctl() calls and a trip through the loop per message and client, which is most of
     * the cost of a fan-out to many idle clients. A partial write is kept by lws and finished
     * on POLLOUT before anything else is written. Inside the connection callbacks (open,
     * message) messages are queued as before: lws is in the middle of that connection's state
     * changes there. */
    if (ws->qlen == 0 && !ws->h->in_ws_cb && !lws_partial_buffered(ws->wsi)) {
        if (ws_write_msg(ws, m) != 0) {
            ws->closing = true; /* lws closes it; nothing more is written */
            lws_set_timeout(ws->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
            return -1;
        }
        return 0;
    }
    if (ws->qlen == ws->qcap && ws->qcap < ws->h->cfg.ws_queue_max) {
        /* Grow the ring (idle connections keep a small one): unroll it into a larger array. */
        size_t cap = ws->qcap * 2 < ws->h->cfg.ws_queue_max ? ws->qcap * 2
                                                             : ws->h->cfg.ws_queue_max;
        httpd_msg **q = malloc(cap * sizeof *q);
        if (q) {
            for (size_t i = 0; i < ws->qlen; i++)
                q[i] = ws->q[(ws->qhead + i) % ws->qcap];
            free(ws->q);
            ws->q = q;
            ws->qcap = cap;
            ws->qhead = 0;
        }
    }
    if (ws->qlen == ws->qcap) {
        ws->dropped++;
        ws->h->ws_dropped++;
        ws->drop_run++;
        if (ws->h->cfg.ws_drop_close && ws->drop_run >= ws->h->cfg.ws_drop_close) {
            ws->close_status = LWS_CLOSE_STATUS_POLICY_VIOLATION;
            httpd_ws_close(ws);
        }
        return -1;
    }
    m->refs++;
    size_t slot = (ws->qhead + ws->qlen) % ws->qcap;
    ws->q[slot] = m;
    ws->qlen++;
    if (ws->qlen == 1)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

int httpd_ws_send_msgs(httpd_ws *ws, httpd_msg *const *m, size_t n)
{
    size_t i = 0;
    int rc = 0;

    if (!ws || ws->closing)
        return -1;
    /* Several messages for an idle connection: cork the socket so that their frames leave as
     * one packet when it is uncorked, instead of one packet (and one wakeup of the reader, and
     * one slot of the loopback backlog) each. */
    if (n > 1 && ws->qlen == 0 && !ws->h->in_ws_cb && !lws_partial_buffered(ws->wsi)) {
        int fd = (int)lws_get_socket_fd(ws->wsi), on = 1, off = 0;
        bool corked = fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;
        for (; i < n && !lws_partial_buffered(ws->wsi); i++) {
            if (ws_write_msg(ws, m[i]) != 0) {
                ws->closing = true;
                lws_set_timeout(ws->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
                return -1;
            }
        }
        if (corked)
            setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    }
    for (; i < n; i++)
        if (httpd_ws_send_msg(ws, m[i]) != 0)
            rc = -1;
    return rc;
}

int httpd_ws_send(httpd_ws *ws, const char *text, size_t len)
{
    if (!ws || ws->closing)
        return -1;
    httpd_msg *m = httpd_msg_new(text, len);
    if (!m) {
        ws->dropped++;
        ws->h->ws_dropped++;
        return -1;
    }
    int rc = httpd_ws_send_msg(ws, m);
    httpd_msg_unref(m);
    return rc;
}

int httpd_ws_send_json(httpd_ws *ws, json_t *j)
{
    httpd_msg *m = httpd_msg_json(j);
    if (!m)
        return -1;
    int rc = httpd_ws_send_msg(ws, m);
    httpd_msg_unref(m);
    return rc;
}

uint64_t httpd_ws_dropped(const httpd_ws *ws) { return ws ? ws->dropped : 0; }
size_t httpd_ws_queued(const httpd_ws *ws) { return ws ? ws->qlen : 0; }
void *httpd_ws_get_ud(const httpd_ws *ws) { return ws ? ws->ud : NULL; }
void httpd_ws_set_ud(httpd_ws *ws, void *ud) { if (ws) ws->ud = ud; }
uint64_t httpd_ws_id(const httpd_ws *ws) { return ws ? ws->id : 0; }
size_t httpd_ws_count(const httpd *h) { return h ? h->nws : 0; }

void httpd_ws_close(httpd_ws *ws)
{
    if (!ws || ws->closing)
        return;
    ws->closing = true;
    if (!ws->close_status)
        ws->close_status = LWS_CLOSE_STATUS_NORMAL;
    lws_callback_on_writable(ws->wsi);
    /* If the peer never lets us write again, give up after a few seconds. */
    lws_set_timeout(ws->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

static void ws_free(httpd_ws *ws)
{
    for (size_t i = 0; i < ws->qlen; i++)
        httpd_msg_unref(ws->q[(ws->qhead + i) % ws->qcap]);
    free(ws->q);
    free(ws->rx);
    free(ws);
}

static int ws_rx(httpd_ws *ws, const void *in, size_t len)
{
    httpd *h = ws->h;
    size_t max = h->cfg.ws_max_message;

    if (lws_frame_is_binary(ws->wsi))
        ws->rx_binary = true;
    if (!ws->rx_overflow && !ws->rx_binary) {
        if (ws->rx_len + len > max) {
            ws->rx_overflow = true;
        } else if (ws->rx_len + len + 1 > ws->rx_cap) {
            size_t cap = ws->rx_len + len + 1 < 256 ? 256 : ws->rx_len + len + 1;
            char *p = realloc(ws->rx, cap);
            if (!p)
                return -1;
            ws->rx = p;
            ws->rx_cap = cap;
        }
        if (!ws->rx_overflow && len) {
            memcpy(ws->rx + ws->rx_len, in, len);
            ws->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(ws->wsi) || lws_remaining_packet_payload(ws->wsi))
        return 0;
    if (ws->rx_binary) {
        lws_close_reason(ws->wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                         (unsigned char *)"text only", 9);
        return -1;
    }
    if (ws->rx_overflow) {
        lws_close_reason(ws->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)"message too large", 17);
        return -1;
    }
    if (!ws->rx) {
        /* An empty message. */
        ws->rx = malloc(1);
        if (!ws->rx)
            return -1;
        ws->rx_cap = 1;
    }
    ws->rx[ws->rx_len] = '\0';
    if (h->cfg.on_ws_message && !ws->closing) {
        h->in_ws_cb = true;
        h->cfg.on_ws_message(ws, ws->rx, ws->rx_len, h->cfg.ud);
        h->in_ws_cb = false;
    }
    ws->rx_len = 0;
    /* Clients send little: do not keep a large buffer per idle connection. */
    if (ws->rx_cap > 1024) {
        free(ws->rx);
        ws->rx = NULL;
        ws->rx_cap = 0;
    }
    return 0;
}

static int ws_writable(httpd_ws *ws)
{
    if (ws->closing) {
        lws_close_reason(ws->wsi, (enum lws_close_status)ws->close_status, NULL, 0);
        return -1;
    }
    /* Several messages per callback while each goes out whole (lws_partial_buffered() says
     * when one did not: stop there and wait for the next POLLOUT). */
    while (ws->qlen) {
        httpd_msg *m = ws->q[ws->qhead];
        ws->q[ws->qhead] = NULL;
        ws->qhead = (ws->qhead + 1) % ws->qcap;
        ws->qlen--;
        int rc = ws_write_msg(ws, m);
        httpd_msg_unref(m);
        if (rc != 0)
            return -1;
        if (lws_partial_buffered(ws->wsi))
            break;
    }
    if (ws->qlen)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

/* ---- detached requests (tests and fuzzing) ---------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode %XX and '+' in place, as libwebsockets does for query arguments. */
static void url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

httpd_req *httpd_req_detached_new(httpd_method method, const char *path, const char *query,
                                  const void *body, size_t len)
{
    httpd_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = CONN_HTTP;
    r->method = method;
    snprintf(r->path, sizeof r->path, "%s", path ? path : "/");
    if (query && *query) {
        size_t ql = strlen(query);
        r->args_buf = malloc(ql + 1);
        if (!r->args_buf)
            goto fail;
        memcpy(r->args_buf, query, ql + 1);
        for (char *save = NULL, *a = strtok_r(r->args_buf, "&", &save);
             a && r->nargs < HTTPD_MAX_QUERY_ARGS; a = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(a, '=');
            if (eq)
                *eq = '\0';
            url_decode(a);
            r->args[r->nargs].name = a;
            if (eq) {
                url_decode(eq + 1);
                r->args[r->nargs].value = eq + 1;
            } else {
                r->args[r->nargs].value = a + strlen(a); /* "" */
            }
            r->nargs++;
        }
    }
    if (body && len) {
        r->body = malloc(len + 1);
        if (!r->body)
            goto fail;
        memcpy(r->body, body, len);
        r->body[len] = '\0';
        r->body_len = r->body_cap = len;
    }
    return r;
fail:
    req_free(r);
    return NULL;
}

int httpd_req_detached_result(const httpd_req *r, const char **body, size_t *len)
{
    if (body)
        *body = r->out ? (const char *)r->out : "";
    if (len)
        *len = r->out ? r->out_len : 0;
    return r->responded ? r->status : 0;
}

void httpd_req_detached_free(httpd_req *r)
{
    req_free(r);
}

/* ---- the lws callback ----------------------------------------------------------------- */

static void req_collect_args(httpd_req *r)
{
    int total = lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (total <= 0)
        return;
    /* Every fragment fits in total + 1 bytes; each takes at most that plus a NUL. */
    size_t cap = (size_t)total + 2 * HTTPD_MAX_QUERY_ARGS + 2;
    r->args_buf = malloc(cap);
    if (!r->args_buf)
        return;
    size_t used = 0;
    for (int idx = 0; r->nargs < HTTPD_MAX_QUERY_ARGS; idx++) {
        char *dst = r->args_buf + used;
        int n = lws_hdr_copy_fragment(r->wsi, dst, (int)(cap - used), WSI_TOKEN_HTTP_URI_ARGS,
                                      idx);
        if (n < 0)
            break;
        char *eq = strchr(dst, '=');
        r->args[r->nargs].name = dst;
        if (eq) {
            *eq = '\0';
            r->args[r->nargs].value = eq + 1;
        } else {
            r->args[r->nargs].value = dst + n; /* "" */
        }
        r->nargs++;
        used += (size_t)n + 1;
        if (used >= cap)
            break;
    }
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pieces of the access line. Its buffer has room for everything: the path, the id, the route
 * and the code are bounded (HTTPD_PATH_MAX, HTTPD_REQUEST_ID_MAX, a route template, 48) and
 * escape to at most 6 bytes each; each string is checked to leave 256 bytes for the rest. */
static size_t put_lit(char *m, size_t n, const char *s)
{
    size_t l = strlen(s);
    memcpy(m + n, s, l);
    return n + l;
}

/* @p v in decimal, zero-padded to @p width digits. */
static size_t put_uint(char *m, size_t n, unsigned long long v, int width)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v || (int)sizeof tmp - i < width);
    memcpy(m + n, tmp + i, sizeof tmp - (size_t)i);
    return n + (sizeof tmp - (size_t)i);
}

/* Once per answered request: count it in the metrics and write its access line. 5xx answers
 * are logged at error, 401 and 403 (refused credentials) at warn, the rest at info. */
static void req_done(httpd_req *r)
{
    if (r->done || !r->responded)
        return;
    r->done = true;
    httpd *h = r->h;
    double secs = (double)(mono_ns() - r->t0_ns) / 1e9;
    metrics_http_observe(h->metrics, r->route, httpd_method_name(r->method), r->status, secs);

    slog_level lv = r->status >= 500                      ? SLOG_ERROR
                    : r->status == 401 || r->status == 403 ? SLOG_WARN
                                                          : SLOG_INFO;
    if (!slog_enabled(lv))
        return;
    /* Encoded by hand rather than through jansson: this line is written for every request,
     * and building and dumping a JSON object cost a fifth of a small request's time. The
     * strings go through slog_json_str(), which escapes anything. */
    char m[12 * HTTPD_PATH_MAX];
    size_t cap = sizeof m, n = 0;
    long long us = (long long)(secs * 1e6 + 0.5);
    n = put_lit(m, n, "\"request_id\":");
    n = slog_json_str(m, cap, n, r->rid);
    if (n >= cap - 256)
        return; /* cannot happen (see put_lit()); never write past m */
    n = put_lit(m, n, ",\"method\":\"");
    n = put_lit(m, n, httpd_method_name(r->method));
    n = put_lit(m, n, "\",\"route\":");
    n = slog_json_str(m, cap, n, r->route ? r->route : METRICS_ROUTE_OTHER);
    if (n >= cap - 256)
        return; /* cannot happen (see put_lit()); never write past m */
    n = put_lit(m, n, ",\"path\":");
    n = slog_json_str(m, cap, n, r->path);
    if (n >= cap - 256)
        return; /* cannot happen (see put_lit()); never write past m */
    n = put_lit(m, n, ",\"status\":");
    n = put_uint(m, n, (unsigned long long)(r->status > 0 ? r->status : 0), 0);
    n = put_lit(m, n, ",\"duration_ms\":");
    n = put_uint(m, n, (unsigned long long)(us / 1000), 0);
    m[n++] = '.';
    n = put_uint(m, n, (unsigned long long)(us % 1000), 3);
    n = put_lit(m, n, ",\"bytes\":");
    n = put_uint(m, n, (unsigned long long)r->resp_body, 0);
    if (r->status >= 400 && r->err_code[0]) {
        n = put_lit(m, n, ",\"code\":");
        n = slog_json_str(m, cap, n, r->err_code);
        if (n >= cap)
            return;
    }
    slog_raw(lv, "request", m, n);
}

/* Write the answer of @p r (one buffer: headers and body) and finish the transaction.
 * @returns what the lws callback must return: -1 to close the connection, else 0. */
static int req_flush(httpd_req *r)
{
    struct lws *wsi = r->wsi;
    if (!r->out) {
        req_done(r);
        return r->close_after ? -1 : 0;
    }
    int n = lws_write(wsi, r->out + LWS_PRE, r->out_len, LWS_WRITE_HTTP_FINAL);
    out_release(r);
    req_done(r);
    if (n < 0 || r->close_after)
        return -1;
    /* With a partial write pending, lws defers this until the rest is out. */
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

/* Answer a whole request and write the answer at once, from the callback that completed the
 * request (as libwebsockets' own minimal servers do): waiting for a WRITEABLE callback would
 * cost two epoll_ctl() calls and a trip through the loop per request. A socket that takes
 * only part of it is no problem: lws keeps the rest and sends it on POLLOUT. */
static int req_dispatch(httpd_req *r)
{
    httpd *h = r->h;

    if (r->too_large)
        httpd_respond_error(r, 413, "too_large", "body: larger than %zu bytes",
                            h->cfg.max_body);
    else
        h->cfg.on_request(r, h->cfg.ud);
    if (!r->responded)
        httpd_respond_error(r, 500, "internal", "the handler did not answer");
    return req_flush(r);
}

static httpd_method method_of(int m)
{
    switch (m) {
    case LWSHUMETH_GET: return HTTPD_GET;
    case LWSHUMETH_POST: return HTTPD_POST;
    case LWSHUMETH_PUT: return HTTPD_PUT;
    case LWSHUMETH_PATCH: return HTTPD_PATCH;
    case LWSHUMETH_DELETE: return HTTPD_DELETE;
    case LWSHUMETH_OPTIONS: return HTTPD_OPTIONS;
    case LWSHUMETH_HEAD: return HTTPD_HEAD;
    default: return HTTPD_OTHER;
    }
}

bool httpd_request_id_valid(const char *id)
{
    size_t n = 0;
    if (!id)
        return false;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n >= 1 && n <= HTTPD_REQUEST_ID_MAX;
}

/* The request id: the client's X-Request-Id if it is a valid one, else a new one. */
static void req_set_id(httpd_req *r)
{
    char buf[HTTPD_REQUEST_ID_MAX + 1];
    int n = httpd_req_header(r, "x-request-id", buf, sizeof buf);
    if (n > 0 && httpd_request_id_valid(buf)) {
        memcpy(r->rid, buf, (size_t)n + 1);
        return;
    }
    httpd *h = r->h;
    snprintf(r->rid, sizeof r->rid, "%s-%llx", h->rid_prefix, (unsigned long long)++h->rid_next);
}

static int on_http(httpd *h, struct lws *wsi, const char *uri)
{
    httpd_req *r = lws_get_opaque_user_data(wsi);
    char tmp[64];

    if (!r || r->kind != CONN_HTTP) {
        r = calloc(1, sizeof *r);
        if (!r)
            return -1;
        r->kind = CONN_HTTP;
        r->h = h;
        r->wsi = wsi;
        lws_set_opaque_user_data(wsi, r);
    } else {
        req_reset(r);
    }

    r->t0_ns = mono_ns();
    char *muri;
    int mlen;
    r->method = method_of(lws_http_get_uri_and_method(wsi, &muri, &mlen));
    req_set_id(r);
    r->keep_alive = true;
    if (copy_token(wsi, WSI_TOKEN_CONNECTION, tmp, sizeof tmp) > 0 &&
        strcasestr(tmp, "close"))
        r->keep_alive = false;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0)
        req_collect_args(r);

    size_t ul = strlen(uri);
    if (ul >= sizeof r->path) {
        r->close_after = true;
        snprintf(r->path, sizeof r->path, "/");
        httpd_respond_error(r, 414, "uri_too_long", "path: longer than %d bytes",
                            HTTPD_PATH_MAX - 1);
        lws_callback_on_writable(wsi);
        return 0;
    }
    memcpy(r->path, uri, ul + 1);

    long long cl = -1;
    int n = copy_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, tmp, sizeof tmp);
    if (n > 0) {
        char *end;
        errno = 0;
        cl = strtoll(tmp, &end, 10);
        if (errno || *end || cl < 0) {
            r->close_after = true;
            httpd_respond_error(r, 400, "bad_request", "Content-Length: not a number");
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else if (copy_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, tmp, sizeof tmp) > 0) {
        r->close_after = true;
        httpd_respond_error(r, 411, "length_required", "a body needs a Content-Length");
        lws_callback_on_writable(wsi);
        return 0;
    }

    if (cl > 0) {
        if ((unsigned long long)cl > h->cfg.max_body) {
            r->too_large = true;
            if ((unsigned long long)cl > (unsigned long long)h->cfg.max_body * HTTPD_DRAIN_FACTOR) {
                r->close_after = true;
                return req_dispatch(r);
            }
        } else {
            r->body = malloc((size_t)cl + 1);
            if (!r->body)
                return -1;
            r->body_cap = (size_t)cl;
        }
        r->expected = (size_t)cl;
        r->receiving = true;
        return 0;
    }
    return req_dispatch(r);
}

static int on_body(httpd_req *r, const void *in, size_t len)
{
    if (!r->receiving)
        return 0;
    if (r->too_large || r->body_len + len > r->body_cap) {
        if (!r->too_large) {
            r->too_large = true;
            free(r->body);
            r->body = NULL;
        }
        return 0;
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    httpd *h = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(h, wsi, in ? (const char *)in : "/");

    case LWS_CALLBACK_HTTP_BODY:
        if (conn_kind(wsi) == CONN_HTTP)
            return on_body(lws_get_opaque_user_data(wsi), in, len);
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (conn_kind(wsi) == CONN_HTTP) {
            httpd_req *r = lws_get_opaque_user_data(wsi);
            if (r->receiving) {
                r->receiving = false;
                return req_dispatch(r);
            }
        }
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (conn_kind(wsi) != CONN_HTTP)
            return 0;
        return req_flush(lws_get_opaque_user_data(wsi));
    }

    case LWS_CALLBACK_CLOSED_HTTP:
        if (conn_kind(wsi) == CONN_HTTP) {
            req_free(lws_get_opaque_user_data(wsi));
            lws_set_opaque_user_data(wsi, NULL);
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[HTTPD_PATH_MAX];
        if (!h->ws_path[0])
            return 1;
        if (copy_token(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri) <= 0)
            return 1;
        return strcmp(uri, h->ws_path) == 0 ? 0 : 1;
    }

    case LWS_CALLBACK_ESTABLISHED: {
        if (conn_kind(wsi) == CONN_HTTP) {
            req_free(lws_get_opaque_user_data(wsi));
            lws_set_opaque_user_data(wsi, NULL);
        }
        httpd_ws *ws = calloc(1, sizeof *ws);
        if (!ws)
            return -1;
        ws->kind = CONN_WS;
        ws->h = h;
        ws->wsi = wsi;
        ws->id = ++h->next_ws_id;
        ws->qcap = h->cfg.ws_queue_max < 8 ? h->cfg.ws_queue_max : 8;
        ws->q = calloc(ws->qcap, sizeof *ws->q);
        if (!ws->q) {
            ws_free(ws);
            return -1;
        }
        lws_set_opaque_user_data(wsi, ws);
        h->nws++;
        if (h->cfg.on_ws_open) {
            h->in_ws_cb = true;
            h->cfg.on_ws_open(ws, h->cfg.ud);
            h->in_ws_cb = false;
        }
        return 0;
    }

    case LWS_CALLBACK_RECEIVE:
        if (conn_kind(wsi) == CONN_WS)
            return ws_rx(lws_get_opaque_user_data(wsi), in, len);
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (conn_kind(wsi) == CONN_WS)
            return ws_writable(lws_get_opaque_user_data(wsi));
        return 0;

    case LWS_CALLBACK_CLOSED:
        if (conn_kind(wsi) == CONN_WS) {
            httpd_ws *ws = lws_get_opaque_user_data(wsi);
            lws_set_opaque_user_data(wsi, NULL);
            h->nws--;
            ws->closing = true;
            if (h->cfg.on_ws_close)
                h->cfg.on_ws_close(ws, h->cfg.ud);
            ws_free(ws);
        }
        return 0;

    case LWS_CALLBACK_RAW_ADOPT_FILE:
        return 0;

    case LWS_CALLBACK_RAW_RX_FILE: {
        struct watch_box *box = lws_get_opaque_user_data(wsi);
        if (box && box->kind == CONN_WATCH && box->w->fn && !box->w->freed)
            box->w->fn(box->w->ud);
        return 0;
    }

    case LWS_CALLBACK_RAW_CLOSE_FILE: {
        struct watch_box *box = lws_get_opaque_user_data(wsi);
        if (box && box->kind == CONN_WATCH) {
            httpd_watch *w = box->w;
            lws_set_opaque_user_data(wsi, NULL);
            free(box);
            w->wsi = NULL;
            if (w->freed) {
                httpd_watch **pp = &w->h->watches;
                while (*pp && *pp != w)
                    pp = &(*pp)->next;
                if (*pp)
                    *pp = w->next;
                free(w);
            }
        }
        return 0;
    }

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (h && atomic_exchange(&h->wake_pending, 0) && h->cfg.on_wake)
            h->cfg.on_wake(h->cfg.ud);
        return 0;

    default:
        break;
    }
    (void)user;
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- timers ------------------------------------------------------------------------------- */

static void timer_cb(lws_sorted_usec_list_t *sul)
{
    httpd_timer *t = (httpd_timer *)sul;

    t->in_callback = true;
    t->next_us = -1;
    t->fn(t->ud);
    t->in_callback = false;
    if (t->dead) {
        free(t);
        return;
    }
    lws_usec_t us = t->next_us >= 0 ? (lws_usec_t)t->next_us : (lws_usec_t)t->period_ms * 1000;
    lws_sul_schedule(t->h->ctx, 0, &t->sul, timer_cb, us);
}

void httpd_timer_next(httpd_timer *t, int64_t delay_us)
{
    if (t && t->in_callback)
        t->next_us = delay_us < 0 ? 0 : delay_us;
}

httpd_timer *httpd_timer_new(httpd *h, int64_t period_ms, void (*fn)(void *ud), void *ud)
{
    if (!h || !fn || period_ms <= 0)
        return NULL;
    httpd_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->h = h;
    t->period_ms = period_ms;
    t->fn = fn;
    t->ud = ud;
    t->next = h->timers;
    h->timers = t;
    lws_sul_schedule(h->ctx, 0, &t->sul, timer_cb, (lws_usec_t)period_ms * 1000);
    return t;
}

void httpd_timer_free(httpd_timer *t)
{
    if (!t)
        return;
    httpd_timer **pp = &t->h->timers;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    lws_sul_cancel(&t->sul);
    if (t->in_callback)
        t->dead = true;
    else
        free(t);
}

/* ---- descriptors ------------------------------------------------------------------------ */

httpd_watch *httpd_watch_fd(httpd *h, int fd, void (*fn)(void *ud), void *ud)
{
    struct watch_box *box;

    if (!h || fd < 0 || !fn)
        return NULL;
    httpd_watch *w = calloc(1, sizeof *w);
    box = calloc(1, sizeof *box);
    int dfd = dup(fd);
    if (!w || !box || dfd < 0) {
        free(w);
        free(box);
        if (dfd >= 0)
            close(dfd);
        return NULL;
    }
    w->h = h;
    w->fn = fn;
    w->ud = ud;
    box->kind = CONN_WATCH;
    box->w = w;

    lws_adopt_desc_t info;
    memset(&info, 0, sizeof info);
    info.vh = h->vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = dfd;
    info.vh_prot_name = HTTPD_PROTOCOL;
    info.opaque = box;
    w->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (!w->wsi) {
        /* lws closed dfd. */
        free(box);
        free(w);
        return NULL;
    }
    w->next = h->watches;
    h->watches = w;
    return w;
}

void httpd_watch_free(httpd_watch *w)
{
    if (!w)
        return;
    w->freed = true;
    w->fn = NULL;
    if (w->wsi) {
        /* Freed when lws reports the descriptor closed. */
        lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    httpd_watch **pp = &w->h->watches;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    free(w);
}

/* ---- the server -------------------------------------------------------------------------- */

/* libwebsockets' log lines, as JSON lines: its errors at error, warnings at warn, the rest at
 * debug, without the trailing newline. */
static void lws_log_emit(int level, const char *line)
{
    char msg[1024];
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n >= sizeof msg)
        n = sizeof msg - 1;
    memcpy(msg, line, n);
    msg[n] = '\0';
    slog_level lv = (level & LLL_ERR) ? SLOG_ERROR : (level & LLL_WARN) ? SLOG_WARN : SLOG_DEBUG;
    slog_kv(lv, msg, "{s:s}", "source", "libwebsockets");
}

int httpd_new(const httpd_config *cfg, httpd **out)
{
    struct lws_context_creation_info info;
    httpd *h;

    if (!cfg || !cfg->on_request || !out) {
        slog(SLOG_ERROR, "httpd: on_request is required");
        return -1;
    }
    h = calloc(1, sizeof *h);
    if (h)
        h->metrics = metrics_http_new();
    if (!h || !h->metrics) {
        slog(SLOG_ERROR, "httpd: out of memory");
        free(h);
        return -1;
    }
    uint32_t boot = 0;
    if (getrandom(&boot, sizeof boot, GRND_NONBLOCK) != (ssize_t)sizeof boot)
        boot = (uint32_t)mono_ns() ^ (uint32_t)getpid();
    snprintf(h->rid_prefix, sizeof h->rid_prefix, "%08x", (unsigned)boot);
    h->cfg = *cfg;
    snprintf(h->host, sizeof h->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    if (cfg->ws_path)
        snprintf(h->ws_path, sizeof h->ws_path, "%s", cfg->ws_path);
    if (!h->cfg.max_body)
        h->cfg.max_body = HTTPD_MAX_BODY_DEFAULT;
    if (!h->cfg.ws_queue_max)
        h->cfg.ws_queue_max = HTTPD_WS_QUEUE_DEFAULT;
    if (!h->cfg.ws_max_message)
        h->cfg.ws_max_message = HTTPD_WS_MESSAGE_DEFAULT;
    atomic_init(&h->wake_pending, 0);

    /* libwebsockets' own lines go through the same JSON log: errors and warnings always,
     * notices (at debug) with cfg->verbose or --log-level debug. */
    lws_set_log_level(cfg->verbose || slog_enabled(SLOG_DEBUG)
                          ? (LLL_ERR | LLL_WARN | LLL_NOTICE)
                          : (LLL_ERR | LLL_WARN),
                      lws_log_emit);

    h->protocols[0].name = HTTPD_PROTOCOL;
    h->protocols[0].callback = callback;
    h->protocols[0].per_session_data_size = 0;
    h->protocols[0].rx_buffer_size = 0;
    /* lws cuts each send() to this size (by default the 4 KiB service buffer) and sends the
     * rest on later POLLOUTs, one loop trip per 4 KiB: a 28 KB answer took 7 trips. Let the
     * kernel take a whole answer at once; it still may take less, and lws keeps the rest. */
    h->protocols[0].tx_packet_size = HTTPD_TX_PACKET;

    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = h->host;
    info.protocols = h->protocols;
    info.user = h;
    info.max_http_header_data = 8192;
    info.max_http_header_pool = 64;
    info.keepalive_timeout = 30;
    info.timeout_secs = 30;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.vhost_name = "default";

    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        slog_kv(SLOG_ERROR, "httpd: cannot listen", "{s:s,s:i}", "host", h->host, "port",
                cfg->port);
        metrics_http_free(h->metrics);
        free(h);
        return -1;
    }
    h->vh = lws_get_vhost_by_name(h->ctx, "default");
    if (!h->vh) {
        slog(SLOG_ERROR, "httpd: no vhost");
        lws_context_destroy(h->ctx);
        metrics_http_free(h->metrics);
        free(h);
        return -1;
    }
    h->port = lws_get_vhost_listen_port(h->vh);
    *out = h;
    return 0;
}

int httpd_port(const httpd *h) { return h ? h->port : -1; }

/* Lines never wait much longer than SLOG_LAZY_MS, even on an idle loop. */
static void log_flush_timer(void *ud)
{
    (void)ud;
    slog_flush();
}

int httpd_run(httpd *h)
{
    int rc = 0;
    /* Access lines are collected and written together, 32 KiB or 50 ms at a time (checked as
     * the loop comes round; the servers' timers wake it at least every 200 ms), rather than
     * one write(2) per request: that write was most of the cost of logging a request. */
    slog_set_buffered(true);
    httpd_timer *flusher = httpd_timer_new(h, SLOG_LAZY_MS, log_flush_timer, NULL);
    while (!h->stop) {
        if (lws_service(h->ctx, 0) < 0) {
            rc = -1;
            break;
        }
        slog_flush_lazy();
    }
    httpd_timer_free(flusher);
    slog_set_buffered(false);
    return rc;
}

void httpd_stop(httpd *h)
{
    h->stop = 1;
    lws_cancel_service(h->ctx);
}

void httpd_wake(httpd *h)
{
    atomic_store(&h->wake_pending, 1);
    lws_cancel_service(h->ctx);
}

void httpd_free(httpd *h)
{
    if (!h)
        return;
    for (httpd_timer *t = h->timers; t;) {
        httpd_timer *next = t->next;
        lws_sul_cancel(&t->sul);
        free(t);
        t = next;
    }
    h->timers = NULL;
    /* Destroying the context closes every connection: WebSockets get on_ws_close. */
    lws_context_destroy(h->ctx);
    for (httpd_watch *w = h->watches; w;) {
        httpd_watch *next = w->next;
        free(w);
        w = next;
    }
    metrics_http_free(h->metrics);
    free(h);
}

void httpd_req_set_route(httpd_req *r, const char *route)
{
    if (r)
        r->route = route;
}

const char *httpd_req_id(const httpd_req *r) { return r && r->rid[0] ? r->rid : ""; }

const metrics_http *httpd_metrics(const httpd *h) { return h ? h->metrics : NULL; }

void httpd_ws_totals(const httpd *h, uint64_t *sent, uint64_t *dropped)
{
    if (sent)
        *sent = h ? h->ws_sent : 0;
    if (dropped)
        *dropped = h ? h->ws_dropped : 0;
}
