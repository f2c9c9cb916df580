/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Market event logs: the ordered, append-only changes an operator made to a live market
 * (cmee-server's admin knobs), kept so that the market can be rebuilt exactly after a restart.
 * The table is created by migration 5 in store.c. */
#include <string.h>

#include "store/store_int.h"

static const char SQL_EVENT_NEXT[] =
    "SELECT coalesce(max(seq), 0) + 1 FROM market_event WHERE log = ?1";
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO market_event (log, seq, wall, at, kind, data, checksum)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_EVENT_ALL[] = "SELECT log, seq, wall, at, kind, data, checksum"
                                    " FROM market_event ORDER BY log, seq";
static const char SQL_EVENT_LIST[] = "SELECT seq, wall, at, kind, data, checksum FROM market_event"
                                     " WHERE log = ?1 ORDER BY seq";

static void put64(uint64_t *h, int64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    *h = cmee__store_fnv(*h, b, sizeof b);
}

/* Covers every field, the log's name included, so an entry cannot pass for another one. */
static int64_t event_checksum(const char *log, int64_t seq, int64_t wall, int64_t at,
                              const char *kind, const char *data, size_t len)
{
    uint64_t h = cmee__store_fnv(CMEE__FNV_OFFSET, log, strlen(log) + 1);
    put64(&h, seq);
    put64(&h, wall);
    put64(&h, at);
    h = cmee__store_fnv(h, kind, strlen(kind) + 1);
    h = cmee__store_fnv(h, data, len);
    int64_t s;
    memcpy(&s, &h, sizeof s);
    return s;
}

static bool name_ok(const char *s, size_t max, bool upper_and_dots)
{
    size_t n = strlen(s);
    if (n < 1 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  (upper_and_dots && ((c >= 'A' && c <= 'Z') || c == '-' || c == '.'));
        if (!ok)
            return false;
    }
    return true;
}

static cmee_status check_log(cmee_store *st, const char *op, const char *log)
{
    if (!log)
        return cmee__store_fail(st, CMEE_EINVAL, "%s: log is NULL", op);
    if (strnlen(log, CMEE_STORE_LOG_NAME_MAX) >= CMEE_STORE_LOG_NAME_MAX ||
        !name_ok(log, CMEE_STORE_LOG_NAME_MAX, true))
        return cmee__store_fail(st, CMEE_EINVAL,
                                "%s: log: 1 to 63 characters from A-Z a-z 0-9 and \"_-.\", got "
                                "\"%.63s\"",
                                op, log);
    return CMEE_OK;
}

typedef struct append_ctx {
    const char *log, *kind, *data;
    size_t len;
    int64_t wall, at, seq;
} append_ctx;

static cmee_status append_tx(cmee_store *st, void *ud)
{
    append_ctx *c = ud;
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_EVENT_NEXT, &s);
    if (r != CMEE_OK)
        return r;
    sqlite3_bind_text(s, 1, c->log, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    cmee__store_reset(s);
    if (rc != SQLITE_ROW)
        return cmee__store_sqlfail(st, rc, "append market event to \"%s\"", c->log);
    if ((r = cmee__store_prepare(st, SQL_EVENT_INSERT, &s)) != CMEE_OK)
        return r;
    sqlite3_bind_text(s, 1, c->log, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_int64(s, 3, c->wall);
    sqlite3_bind_int64(s, 4, c->at);
    sqlite3_bind_text(s, 5, c->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, c->data, (int)c->len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, event_checksum(c->log, seq, c->wall, c->at, c->kind, c->data, c->len));
    rc = sqlite3_step(s);
    cmee__store_reset(s);
    if (rc != SQLITE_DONE)
        return cmee__store_sqlfail(st, rc, "append market event to \"%s\"", c->log);
    c->seq = seq;
    return CMEE_OK;
}

cmee_status cmee_store_market_event_append(cmee_store *st, const char *log, int64_t wall,
                                           int64_t at, const char *kind, const char *data,
                                           size_t len, int64_t *seq)
{
    static const char op[] = "append market event";
    if (!st)
        return CMEE_EINVAL;
    cmee_status r = check_log(st, op, log);
    if (r != CMEE_OK)
        return r;
    if (!kind || !data)
        return cmee__store_fail(st, CMEE_EINVAL, "%s: %s is NULL", op, kind ? "data" : "kind");
    if (strnlen(kind, CMEE_STORE_EVENT_KIND_MAX) >= CMEE_STORE_EVENT_KIND_MAX ||
        !name_ok(kind, CMEE_STORE_EVENT_KIND_MAX, false))
        return cmee__store_fail(st, CMEE_EINVAL,
                                "%s: kind: 1 to 31 characters from a-z 0-9 and \"_\", got "
                                "\"%.31s\"",
                                op, kind);
    if (len < 1 || len > CMEE_STORE_EVENT_DATA_MAX)
        return cmee__store_fail(st, CMEE_EINVAL, "%s: data: 1 to %d bytes, got %zu", op,
                                CMEE_STORE_EVENT_DATA_MAX, len);
    if (memchr(data, '\0', len))
        return cmee__store_fail(st, CMEE_EINVAL, "%s: data: contains a NUL byte", op);
    append_ctx c = {.log = log, .kind = kind, .data = data, .len = len, .wall = wall, .at = at};
    r = cmee__store_tx(st, op, append_tx, &c);
    if (r == CMEE_OK && seq)
        *seq = c.seq;
    return r;
}

cmee_status cmee_store_market_events(cmee_store *st, const char *log,
                                     cmee_store_market_event_fn fn, void *ud, size_t *count)
{
    static const char op[] = "list market events";
    if (!st)
        return CMEE_EINVAL;
    cmee_status r = check_log(st, op, log);
    if (r != CMEE_OK)
        return r;
    if (!fn)
        return cmee__store_fail(st, CMEE_EINVAL, "%s: fn is NULL", op);
    sqlite3_stmt *s = NULL;
    if ((r = cmee__store_prepare(st, SQL_EVENT_LIST, &s)) != CMEE_OK)
        return r;
    sqlite3_bind_text(s, 1, log, -1, SQLITE_STATIC);
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cmee_store_market_event ev = {
            .seq = sqlite3_column_int64(s, 0),
            .wall = sqlite3_column_int64(s, 1),
            .at = sqlite3_column_int64(s, 2),
            .kind = (const char *)sqlite3_column_text(s, 3),
            .data = (const char *)sqlite3_column_text(s, 4),
        };
        ev.data_len = (size_t)sqlite3_column_bytes(s, 4);
        if (!ev.kind || !ev.data) {
            /* NULL text from a NOT NULL column: SQLite ran out of memory converting it. */
            r = cmee__store_fail(st, CMEE_ENOMEM, "%s \"%s\": out of memory", op, log);
            break;
        }
        if (ev.seq != (int64_t)n + 1 ||
            event_checksum(log, ev.seq, ev.wall, ev.at, ev.kind, ev.data, ev.data_len) !=
                sqlite3_column_int64(s, 5)) {
            r = cmee__store_fail(st, CMEE_ECORRUPT,
                                 "%s \"%s\": entry %lld is damaged (checksum or order)", op, log,
                                 (long long)ev.seq);
            break;
        }
        n++;
        if (fn(ud, &ev) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(st, rc, "%s \"%s\"", op, log);
    cmee__store_reset(s);
    if (r == CMEE_OK && count)
        *count = n;
    return r;
}

cmee_status cmee__store_market_events_check(cmee_store *st)
{
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_EVENT_ALL, &s);
    if (r != CMEE_OK)
        return r;
    char prev[CMEE_STORE_LOG_NAME_MAX] = "";
    int64_t want = 1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *log = (const char *)sqlite3_column_text(s, 0);
        const char *kind = (const char *)sqlite3_column_text(s, 4);
        const char *data = (const char *)sqlite3_column_text(s, 5);
        int64_t seq = sqlite3_column_int64(s, 1);
        if (!log || !kind || !data || strlen(log) >= sizeof prev) {
            r = cmee__store_fail(st, CMEE_ECORRUPT, "check: a market event is damaged");
            break;
        }
        if (strcmp(log, prev) != 0) {
            memcpy(prev, log, strlen(log) + 1);
            want = 1;
        }
        if (seq != want++ ||
            event_checksum(log, seq, sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3), kind,
                           data, (size_t)sqlite3_column_bytes(s, 5)) !=
                sqlite3_column_int64(s, 6)) {
            r = cmee__store_fail(st, CMEE_ECORRUPT,
                                 "check: market event %lld of log \"%s\" is damaged",
                                 (long long)seq, log);
            break;
        }
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(st, rc, "check: read market events");
    cmee__store_reset(s);
    return r;
}
