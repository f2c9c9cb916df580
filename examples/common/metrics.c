/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Prometheus text exposition: see metrics.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const double metrics_duration_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     10};
const size_t metrics_duration_nbuckets =
    sizeof metrics_duration_buckets / sizeof metrics_duration_buckets[0];

void metrics_hist_init(metrics_hist *h, const double *le, size_t n)
{
    memset(h, 0, sizeof *h);
    h->le = le;
    h->n = n < METRICS_MAX_BUCKETS ? n : METRICS_MAX_BUCKETS;
}

void metrics_hist_observe(metrics_hist *h, double v)
{
    if (isnan(v))
        return;
    size_t i = 0;
    while (i < h->n && v > h->le[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

/* ---- text ------------------------------------------------------------------------------ */

static void put(metrics_text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

void metrics_printf(metrics_text *t, const char *fmt, ...)
{
    char small[512];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        put(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        t->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(t, big, (size_t)n);
    free(big);
}

void metrics_family(metrics_text *t, const char *name, const char *type, const char *help)
{
    metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void format_value(double v, char out[40])
{
    if (isinf(v))
        snprintf(out, 40, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        snprintf(out, 40, "NaN");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(out, 40, "%.0f", v);
    else
        for (int prec = 15; prec <= 17; prec++) { /* the shortest that reads back exactly */
            snprintf(out, 40, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
}

void metrics_sample(metrics_text *t, const char *name, const char *labels, double value)
{
    char v[40];
    format_value(value, v);
    if (labels && *labels)
        metrics_printf(t, "%s{%s} %s\n", name, labels, v);
    else
        metrics_printf(t, "%s %s\n", name, v);
}

void metrics_hist_write_cumulative(metrics_text *t, const char *name, const char *labels,
                                   const double *le, const uint64_t *cum, size_t n,
                                   uint64_t count, double sum)
{
    const char *sep = labels && *labels ? "," : "";
    const char *lb = labels ? labels : "";
    char v[40];

    for (size_t i = 0; i < n; i++) {
        format_value(le[i], v);
        metrics_printf(t, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, lb, sep, v,
                       (unsigned long long)cum[i]);
    }
    metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lb, sep,
                   (unsigned long long)count);
    format_value(sum, v);
    if (*lb) {
        metrics_printf(t, "%s_sum{%s} %s\n", name, lb, v);
        metrics_printf(t, "%s_count{%s} %llu\n", name, lb, (unsigned long long)count);
    } else {
        metrics_printf(t, "%s_sum %s\n", name, v);
        metrics_printf(t, "%s_count %llu\n", name, (unsigned long long)count);
    }
}

void metrics_hist_write(metrics_text *t, const char *name, const char *labels,
                        const metrics_hist *h)
{
    uint64_t cum[METRICS_MAX_BUCKETS], run = 0;
    for (size_t i = 0; i < h->n; i++) {
        run += h->counts[i];
        cum[i] = run;
    }
    metrics_hist_write_cumulative(t, name, labels, h->le, cum, h->n, h->count, h->sum);
}

void metrics_escape(const char *value, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    for (const char *p = value; *p && o + 1 < cap; p++) {
        const char *rep = NULL;
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        if (rep) {
            if (o + 2 >= cap)
                break;
            out[o++] = rep[0];
            out[o++] = rep[1];
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

const char *metrics_text_get(const metrics_text *t, size_t *len)
{
    if (t->failed)
        return NULL;
    if (len)
        *len = t->len;
    return t->p ? t->p : "";
}

void metrics_text_free(metrics_text *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

/* ---- request metrics ---------------------------------------------------------------------- */

struct http_count {
    const char *route, *method;
    int status;
    uint64_t n;
};

struct http_hist {
    const char *route, *method;
    metrics_hist h;
};

struct metrics_http {
    struct http_count *counts;
    size_t ncounts, capcounts;
    struct http_hist *hists;
    size_t nhists, caphists;
};

metrics_http *metrics_http_new(void) { return calloc(1, sizeof(metrics_http)); }

void metrics_http_free(metrics_http *m)
{
    if (!m)
        return;
    free(m->counts);
    free(m->hists);
    free(m);
}

/* Routes are a server's table strings: the same pointer each time, so compare that first. */
static bool same(const char *a, const char *b) { return a == b || strcmp(a, b) == 0; }

static void *grow(void *p, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 32;
    void *q = realloc(p, n * size);
    if (q)
        *cap = n;
    return q;
}

void metrics_http_observe(metrics_http *m, const char *route, const char *method, int status,
                          double seconds)
{
    if (!m)
        return;
    if (!route)
        route = METRICS_ROUTE_OTHER;
    size_t i;
    for (i = 0; i < m->ncounts; i++) {
        struct http_count *c = &m->counts[i];
        if (c->status == status && same(c->route, route) && same(c->method, method))
            break;
    }
    if (i == m->ncounts) {
        if (m->ncounts == m->capcounts) {
            void *p = grow(m->counts, &m->capcounts, sizeof *m->counts);
            if (!p)
                return;
            m->counts = p;
        }
        m->counts[m->ncounts++] = (struct http_count){route, method, status, 0};
    }
    m->counts[i].n++;

    for (i = 0; i < m->nhists; i++)
        if (same(m->hists[i].route, route) && same(m->hists[i].method, method))
            break;
    if (i == m->nhists) {
        if (m->nhists == m->caphists) {
            void *p = grow(m->hists, &m->caphists, sizeof *m->hists);
            if (!p)
                return;
            m->hists = p;
        }
        m->hists[m->nhists].route = route;
        m->hists[m->nhists].method = method;
        metrics_hist_init(&m->hists[m->nhists].h, metrics_duration_buckets,
                          metrics_duration_nbuckets);
        m->nhists++;
    }
    metrics_hist_observe(&m->hists[i].h, seconds);
}

uint64_t metrics_http_count(const metrics_http *m, const char *route, const char *method,
                            int status)
{
    for (size_t i = 0; m && i < m->ncounts; i++) {
        const struct http_count *c = &m->counts[i];
        if (c->status == status && same(c->route, route) && same(c->method, method))
            return c->n;
    }
    return 0;
}

void metrics_http_write(const metrics_http *m, metrics_text *t)
{
    char route[256], labels[320];

    metrics_family(t, "cmee_http_requests_total", "counter",
                   "HTTP requests answered, by route template, method and status.");
    for (size_t i = 0; m && i < m->ncounts; i++) {
        const struct http_count *c = &m->counts[i];
        metrics_escape(c->route, route, sizeof route);
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%d\"", route,
                 c->method, c->status);
        metrics_sample(t, "cmee_http_requests_total", labels, (double)c->n);
    }
    metrics_family(t, "cmee_http_request_duration_seconds", "histogram",
                   "Time from a request's headers to its answer written, by route template "
                   "and method.");
    for (size_t i = 0; m && i < m->nhists; i++) {
        metrics_escape(m->hists[i].route, route, sizeof route);
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", route, m->hists[i].method);
        metrics_hist_write(t, "cmee_http_request_duration_seconds", labels, &m->hists[i].h);
    }
}

/* ---- process -------------------------------------------------------------------------------- */

void metrics_process_write(metrics_text *t, double start_time)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    metrics_family(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    metrics_sample(t, "process_resident_memory_bytes", NULL,
                   (double)rss * (double)sysconf(_SC_PAGESIZE));

    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    metrics_family(t, "process_cpu_seconds_total", "counter",
                   "User and system CPU time spent, in seconds.");
    metrics_sample(t, "process_cpu_seconds_total", NULL,
                   (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9);

    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the descriptor of the listing itself */
    }
    metrics_family(t, "process_open_fds", "gauge", "Open file descriptors.");
    metrics_sample(t, "process_open_fds", NULL, (double)fds);

    metrics_family(t, "process_start_time_seconds", "gauge",
                   "Start time of the process since the Unix epoch, in seconds.");
    metrics_sample(t, "process_start_time_seconds", NULL, start_time);
}
