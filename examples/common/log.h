/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file log.h
 * @brief Structured logs of the example servers: one JSON object per line on stderr.
 *
 * Every line is a JSON object (encoded by jansson, so any text in it is escaped correctly)
 * with at least
 *   - "ts":    the time, RFC 3339 UTC with milliseconds ("2026-11-24T17:21:51.042Z"),
 *   - "level": "debug", "info", "warn" or "error",
 *   - "msg":   what happened, in words,
 * then the fields given with the call, in the order given. Lines below the level set with
 * slog_set_level() (default ::SLOG_INFO) are not formatted at all: a disabled call costs one
 * comparison.
 *
 * **Buffering.** By default each line is written at once (one write(2) per line). A server
 * whose event loop calls slog_flush_lazy() once per iteration turns on slog_set_buffered():
 * lines are then collected and written together once ::SLOG_LAZY_BYTES have gathered or the
 * oldest has waited ::SLOG_LAZY_MS (checked when the loop comes round), or when the buffer
 * (64 KiB) fills. Warn and error lines are always written at once, with whatever was waiting
 * before them, so that nothing important waits for the loop.
 *
 * **Threads.** Every function may be called from any thread; lines are never interleaved.
 *
 * This is example code (examples/common/log.c), compiled into cmee-server and cmee-signals;
 * the logger is the process's one stderr, so its settings are process-wide.
 *
 * Example:
 * @code
 *   slog_kv(SLOG_INFO, "clock speed changed", "{s:s,s:f}", "knob", "speed", "value", 2.0);
 *   // {"ts":"...","level":"info","msg":"clock speed changed","knob":"speed","value":2.0}
 *   slog(SLOG_ERROR, "cannot open %s: %s", path, strerror(errno));
 * @endcode
 */
#ifndef CMEE_EXAMPLES_LOG_H
#define CMEE_EXAMPLES_LOG_H

#include <stdbool.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Levels, least severe first. */
typedef enum slog_level {
    SLOG_DEBUG = 0,
    SLOG_INFO = 1,
    SLOG_WARN = 2,
    SLOG_ERROR = 3,
} slog_level;

/** Parse "debug", "info", "warn" or "error" (exactly, lower case).
 *  @returns 0 with *@p out set, or -1 (nothing written) for anything else or NULL. */
int slog_level_parse(const char *name, slog_level *out);

/** The name of @p level ("debug"...); "info" for a value out of range. Static. */
const char *slog_level_name(slog_level level);

/** Log lines at @p level and above from now on (default ::SLOG_INFO). */
void slog_set_level(slog_level level);

/** The current level. */
slog_level slog_get_level(void);

/** Whether a line at @p level would be written. For skipping work done only to log. */
bool slog_enabled(slog_level level);

/** Collect lines until slog_flush() (see the file comment) when @p on; write each line at
 *  once when off (the default). Turning it off flushes. */
void slog_set_buffered(bool on);

/** Write the lines collected so far. Cheap when there are none. */
void slog_flush(void);

#define SLOG_LAZY_BYTES 32768 /**< slog_flush_lazy() writes once this much waits... */
#define SLOG_LAZY_MS 50       /**< ...or once the oldest line has waited this long (ms) */

/** Write the lines collected so far if ::SLOG_LAZY_BYTES wait or the oldest has waited
 *  ::SLOG_LAZY_MS; for an event loop to call on every iteration. */
void slog_flush_lazy(void);

/** A line with message printf(@p fmt, ...) and no other fields. */
void slog(slog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * A line with message @p msg and the fields of the object built by json_pack(@p pack, ...)
 * ("{s:s,s:i}", ...; NULL @p pack for none). Fields named ts, level or msg are ignored. If
 * the fields cannot be built (a bad format, a NULL string), the line is still written, with a
 * field "log_error" saying so.
 */
void slog_kv(slog_level level, const char *msg, const char *pack, ...);

/** As slog_kv() with the fields given as an object, which it takes over (may be NULL). */
void slog_obj(slog_level level, const char *msg, json_t *fields);

/**
 * The hot-path form of slog_kv(), for lines written per request: the fields come already
 * encoded as the members of a JSON object without its braces (`"a":1,"b":"x"`; empty or
 * NULL for none), built with slog_json_str() for strings and printf for numbers, and are
 * written as they are. @p msg is escaped like any string.
 */
void slog_raw(slog_level level, const char *msg, const char *members, size_t len);

/**
 * Append @p s as a JSON string (quoted; '"', '\\' and control characters escaped; bytes that
 * are not ASCII written as '?', so the line is valid UTF-8 whatever @p s holds) at @p at in
 * @p buf of @p cap bytes, NUL-terminated. @returns the new length, or @p cap if it did not fit
 * (the caller then drops or shortens the field).
 */
size_t slog_json_str(char *buf, size_t cap, size_t at, const char *s);

/** The RFC 3339 UTC time with milliseconds of @p ms since the epoch into @p out
 *  ("2026-11-24T17:21:51.042Z", 24 characters and a NUL). */
void slog_format_time(long long ms, char out[32]);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_EXAMPLES_LOG_H */
