/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file metrics.h
 * @brief Prometheus metrics of the example servers (text exposition format 0.0.4).
 *
 * Three small pieces, used on the event-loop thread only (no locking):
 *   - ::metrics_text, a growing buffer that prints families in the exposition format:
 *     "# HELP", "# TYPE", then samples "name{labels} value";
 *   - ::metrics_hist, a histogram with fixed upper bounds, printed as cumulative
 *     "_bucket{le=...}" lines ending with le="+Inf", then "_sum" and "_count";
 *   - ::metrics_http, the request metrics httpd keeps for every server: requests counted by
 *     route template, method and status, and their duration by route and method.
 * Route labels are the route *templates* a server sets with httpd_req_set_route()
 * ("/api/sessions/{id}"), never raw paths, so the number of series stays bounded; requests no
 * route took are counted under ::METRICS_ROUTE_OTHER.
 *
 * This is example code (examples/common/metrics.c), compiled into the servers.
 */
#ifndef CMEE_EXAMPLES_METRICS_H
#define CMEE_EXAMPLES_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The Content-Type of the exposition format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/** The route label of requests that matched no route (unknown paths, refused requests). */
#define METRICS_ROUTE_OTHER "other"
/** Most buckets of a ::metrics_hist (the +Inf bucket not counted). */
#define METRICS_MAX_BUCKETS 16

/** A histogram with fixed upper bounds (seconds, or any unit). */
typedef struct metrics_hist {
    const double *le;                      /**< upper bounds, increasing; borrowed */
    size_t n;                              /**< number of bounds */
    uint64_t counts[METRICS_MAX_BUCKETS + 1]; /**< per bucket (not cumulative); [n]: above all */
    uint64_t count;                        /**< observations */
    double sum;                            /**< their sum */
} metrics_hist;

/** The default duration buckets, seconds: 100 us to 10 s (14 bounds). */
extern const double metrics_duration_buckets[];
extern const size_t metrics_duration_nbuckets;

/** Empty histogram with bounds @p le (borrowed: must outlive it; at most
 *  ::METRICS_MAX_BUCKETS, more are ignored). */
void metrics_hist_init(metrics_hist *h, const double *le, size_t n);

/** Count one observation @p v (NaN is ignored). */
void metrics_hist_observe(metrics_hist *h, double v);

/** A growing text buffer; on allocation failure it sets failed and stops growing. */
typedef struct metrics_text {
    char *p;
    size_t len, cap;
    bool failed;
} metrics_text;

/** Append printf text. */
void metrics_printf(metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** "# HELP name help" and "# TYPE name type" (type: "counter", "gauge", "histogram"). */
void metrics_family(metrics_text *t, const char *name, const char *type, const char *help);

/**
 * One sample "name{labels} value". @p labels is the text between the braces, already escaped
 * ("route=\"/health\",method=\"GET\""), or NULL/"" for none. Whole numbers below 2^53 print
 * as integers, infinities as +Inf/-Inf.
 */
void metrics_sample(metrics_text *t, const char *name, const char *labels, double value);

/** The samples of a histogram: name_bucket{labels,le="..."} (cumulative, then +Inf),
 *  name_sum{labels}, name_count{labels}. Family lines are the caller's. */
void metrics_hist_write(metrics_text *t, const char *name, const char *labels,
                        const metrics_hist *h);

/** The same from cumulative counts @p cum[i] of observations <= @p le[i], as a library
 *  reports them (e.g. cmee_store_stats). */
void metrics_hist_write_cumulative(metrics_text *t, const char *name, const char *labels,
                                   const double *le, const uint64_t *cum, size_t n,
                                   uint64_t count, double sum);

/** Escape a label value (\\, \" and \n) into @p out (@p cap bytes, truncated if need be). */
void metrics_escape(const char *value, char *out, size_t cap);

/** The buffer's text (NUL-terminated, owned by @p t) and length, or NULL if it failed. */
const char *metrics_text_get(const metrics_text *t, size_t *len);

/** Free the buffer. */
void metrics_text_free(metrics_text *t);

/** Request metrics (see the file comment). */
typedef struct metrics_http metrics_http;

/** @returns new request metrics (free with metrics_http_free()), or NULL. */
metrics_http *metrics_http_new(void);

/** Free. Accepts NULL. */
void metrics_http_free(metrics_http *m);

/** Count one answered request. @p route is borrowed and must stay valid as long as @p m (a
 *  route table's string, or NULL for ::METRICS_ROUTE_OTHER); @p method likewise (static). */
void metrics_http_observe(metrics_http *m, const char *route, const char *method, int status,
                          double seconds);

/** The families cmee_http_requests_total and cmee_http_request_duration_seconds. */
void metrics_http_write(const metrics_http *m, metrics_text *t);

/** Requests counted so far with this route, method and status (0 if none): for tests. */
uint64_t metrics_http_count(const metrics_http *m, const char *route, const char *method,
                            int status);

/** process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds and
 *  process_start_time_seconds (@p start_time: seconds since the epoch). */
void metrics_process_write(metrics_text *t, double start_time);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_EXAMPLES_METRICS_H */
