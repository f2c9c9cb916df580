/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Structured logs: see log.h. The logger is the process's stderr, so its state (level, buffer)
 * is process-wide, behind one mutex. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOG_BUF 65536

static atomic_int g_level = SLOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_buffered;
static char g_buf[SLOG_BUF];
static size_t g_len;
static int64_t g_first_ns; /* monotonic time the oldest waiting line was added */

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int slog_level_parse(const char *name, slog_level *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (slog_level)i;
            return 0;
        }
    return -1;
}

const char *slog_level_name(slog_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "info";
}

void slog_set_level(slog_level level)
{
    if ((unsigned)level < 4)
        atomic_store(&g_level, (int)level);
}

slog_level slog_get_level(void) { return (slog_level)atomic_load(&g_level); }

bool slog_enabled(slog_level level) { return (int)level >= atomic_load(&g_level); }

/* Write all of @p n bytes to stderr, retrying interrupted and partial writes. A log that
 * cannot be written (stderr closed) is dropped: logging never fails the server. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* With the lock held. */
static void flush_locked(void)
{
    if (g_len) {
        write_all(g_buf, g_len);
        g_len = 0;
    }
}

void slog_flush(void)
{
    pthread_mutex_lock(&g_lock);
    flush_locked();
    pthread_mutex_unlock(&g_lock);
}

void slog_flush_lazy(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_len >= SLOG_LAZY_BYTES ||
        (g_len && mono_ns() - g_first_ns >= (int64_t)SLOG_LAZY_MS * 1000000))
        flush_locked();
    pthread_mutex_unlock(&g_lock);
}

void slog_set_buffered(bool on)
{
    pthread_mutex_lock(&g_lock);
    g_buffered = on;
    if (!on)
        flush_locked();
    pthread_mutex_unlock(&g_lock);
}

/* Append one line (with its '\n') to the buffer, or write it. */
static void emit(slog_level level, const char *line, size_t n)
{
    pthread_mutex_lock(&g_lock);
    if (!g_buffered || level >= SLOG_WARN) {
        flush_locked();
        write_all(line, n);
    } else {
        if (g_len + n > sizeof g_buf)
            flush_locked();
        if (g_len == 0)
            g_first_ns = mono_ns();
        if (n > sizeof g_buf) {
            write_all(line, n);
        } else {
            memcpy(g_buf + g_len, line, n);
            g_len += n;
        }
    }
    pthread_mutex_unlock(&g_lock);
}

void slog_format_time(long long ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    long long frac = ms % 1000;
    if (frac < 0) { /* before 1970: gmtime of the whole second below, positive ms */
        frac += 1000;
        s -= 1;
        gmtime_r(&s, &tm);
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)frac);
}

/* A JSON string for @p s: bytes that are not UTF-8 become '?' rather than losing the line. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

size_t slog_json_str(char *buf, size_t cap, size_t at, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (at + 2 >= cap)
        return cap;
    buf[at++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        unsigned char c = *p;
        size_t k = c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
        if (at + k + 2 > cap) /* this character, the closing quote and the NUL */
            return cap;
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char)c;
        } else if (c < 0x20) {
            memcpy(buf + at, "\\u00", 4);
            buf[at + 4] = hex[c >> 4];
            buf[at + 5] = hex[c & 15];
            at += 6;
        } else {
            buf[at++] = c >= 0x80 ? '?' : (char)c;
        }
    }
    buf[at++] = '"';
    buf[at] = '\0';
    return at;
}

/* The line's opening `{"ts":"...","level":"...","msg":` into @p out (at least 96 bytes).
 * The date and time to the second are formatted once per second. */
static size_t line_head(slog_level level, char *out)
{
    static __thread long long cached_s = -1;
    static __thread char cached[24];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if ((long long)now.tv_sec != cached_s) {
        struct tm tm;
        time_t t = now.tv_sec;
        gmtime_r(&t, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_s = (long long)now.tv_sec;
    }
    unsigned ms = (unsigned)(now.tv_nsec / 1000000);
    size_t n = 0;
    memcpy(out, "{\"ts\":\"", 7);
    n = 7;
    size_t cl = strlen(cached);
    memcpy(out + n, cached, cl);
    n += cl;
    out[n++] = '.';
    out[n++] = (char)('0' + ms / 100);
    out[n++] = (char)('0' + ms / 10 % 10);
    out[n++] = (char)('0' + ms % 10);
    memcpy(out + n, "Z\",\"level\":\"", 12);
    n += 12;
    const char *ln = slog_level_name(level);
    size_t ll = strlen(ln);
    memcpy(out + n, ln, ll);
    n += ll;
    memcpy(out + n, "\",\"msg\":", 8);
    n += 8;
    return n;
}

void slog_raw(slog_level level, const char *msg, const char *members, size_t len)
{
    char small[2048];

    if (!slog_enabled(level))
        return;
    if (!members)
        len = 0;
    size_t need = 96 + 6 * strlen(msg ? msg : "") + 2 + len + 3;
    char *line = need <= sizeof small ? small : malloc(need);
    if (!line)
        return;
    size_t n = line_head(level, line);
    n = slog_json_str(line, need, n, msg);
    if (n < need && len) {
        line[n++] = ',';
        memcpy(line + n, members, len);
        n += len;
    }
    line[n++] = '}';
    line[n++] = '\n';
    emit(level, line, n);
    if (line != small)
        free(line);
}

void slog_obj(slog_level level, const char *msg, json_t *fields)
{
    char head[128], ts[32];
    struct timespec now;

    if (!slog_enabled(level)) {
        json_decref(fields);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    slog_format_time((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);
    int hl = snprintf(head, sizeof head, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
                      slog_level_name(level));

    json_t *m = safe_string(msg);
    char *mtext = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
    json_decref(m);
    char *ftext = NULL;
    if (fields && json_is_object(fields)) {
        json_object_del(fields, "ts");
        json_object_del(fields, "level");
        json_object_del(fields, "msg");
        if (json_object_size(fields) > 0)
            ftext = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    }
    json_decref(fields);

    const char *mt = mtext ? mtext : "\"(log message could not be encoded)\"";
    size_t ml = strlen(mt), fl = ftext ? strlen(ftext) : 0;
    /* head + msg + ("," + fields without their '{') or "}" + "\n" */
    size_t n = (size_t)hl + ml + (fl ? fl : 1) + 1;
    char small[1024], *line = n <= sizeof small ? small : malloc(n);
    if (line) {
        memcpy(line, head, (size_t)hl);
        memcpy(line + hl, mt, ml);
        size_t at = (size_t)hl + ml;
        if (fl) {
            line[at++] = ',';
            memcpy(line + at, ftext + 1, fl - 1);
            at += fl - 1;
        } else {
            line[at++] = '}';
        }
        line[at++] = '\n';
        emit(level, line, at);
        if (line != small)
            free(line);
    }
    free(mtext);
    free(ftext);
}

void slog_kv(slog_level level, const char *msg, const char *pack, ...)
{
    json_t *fields = NULL;

    if (!slog_enabled(level))
        return;
    if (pack) {
        va_list ap;
        json_error_t err;
        va_start(ap, pack);
        fields = json_vpack_ex(&err, 0, pack, ap);
        va_end(ap);
        if (!fields || !json_is_object(fields)) {
            json_decref(fields);
            fields = json_pack("{s:s}", "log_error", "the fields of this line could not be built");
        }
    }
    slog_obj(level, msg, fields);
}

void slog(slog_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!slog_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    slog_obj(level, msg, NULL);
}
