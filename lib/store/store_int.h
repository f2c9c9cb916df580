/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store's internals, for store.c and for the modules that will add their own typed
 * functions and tables (sessions, accounts, orders, ledger). How to add a table:
 *   1. append a step to the migration table in store.c (next version, its SQL), and raise
 *      CMEE_STORE_SCHEMA_VERSION in include/cmee/store.h to it;
 *   2. keep each statement as a `static const char SQL_...[]` and run it through
 *      cmee__store_prepare(), which caches it per handle by the address of that string;
 *   3. wrap every logical change in cmee__store_tx() (or begin/commit/rollback), so that it is
 *      one transaction, retried on a busy database and rolled back on any failure.
 * Nothing outside lib/store/ and those modules' store files includes sqlite3.h. */
#ifndef CMEE_STORE_INT_H
#define CMEE_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "internal.h"

#define CMEE__STORE_ERRMSG_MAX 512

/* One cached prepared statement, keyed by the address of its static SQL text. */
typedef struct cmee__store_stmt {
    const char *sql;
    sqlite3_stmt *stmt;
} cmee__store_stmt;

struct cmee_store {
    cmee__alloc al;
    sqlite3 *db;
    int busy_ms; /* bounded retry of a busy database; 0 = none */
    bool in_tx;  /* inside cmee__store_begin() .. commit/rollback */
    int64_t tx_t0_ns;       /* monotonic time the open transaction asked for the lock */
    cmee_store_stats stats; /* cmee_store_stats_get() */
    cmee__store_stmt *stmts;
    size_t nstmts, capstmts;
    char errmsg[CMEE__STORE_ERRMSG_MAX];
};

/* A migration step: the SQL that takes the schema from version - 1 to version. Steps are
 * applied in order, each in its own write transaction together with the bump of
 * PRAGMA user_version, so a crash leaves the file at a whole step. */
typedef struct cmee__store_migration {
    int version;
    const char *sql; /* one or more statements, constant text */
} cmee__store_migration;

/* Record a failure on the handle and return @p status. */
cmee_status cmee__store_fail(cmee_store *st, cmee_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a failure of SQLite result code @p rc: the status it maps to, the text given by
 * @p fmt as what was being done, then SQLite's message. Returns the status. */
cmee_status cmee__store_sqlfail(cmee_store *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The status an SQLite result code maps to: BUSY/LOCKED -> EBUSY, NOMEM -> ENOMEM,
 * CORRUPT/NOTADB -> ECORRUPT, a UNIQUE or PRIMARY KEY constraint -> EEXIST, else EIO. */
cmee_status cmee__store_status(int rc);

/* The cached statement for @p sql (static text, identified by its address), prepared on first
 * use. The statement is reset and its bindings cleared: bind, step, then cmee__store_reset(). */
cmee_status cmee__store_prepare(cmee_store *st, const char *sql, sqlite3_stmt **out);

/* Reset a statement after use so that it holds no read snapshot. Accepts NULL. */
void cmee__store_reset(sqlite3_stmt *stmt);

/* BEGIN IMMEDIATE: take the write lock now, waiting at most the busy timeout for it, so that a
 * transaction never fails half-way for lack of it. @p what names the operation in messages. */
cmee_status cmee__store_begin(cmee_store *st, const char *what);
cmee_status cmee__store_commit(cmee_store *st, const char *what);
/* Roll back if a transaction is open; never fails (keeps the handle's message). */
void cmee__store_rollback(cmee_store *st);

/* One logical change as one transaction: begin, fn(st, ud), then commit if it returned
 * CMEE_OK, else roll back and return its status. */
cmee_status cmee__store_tx(cmee_store *st, const char *what,
                           cmee_status (*fn)(cmee_store *st, void *ud), void *ud);

/* Run constant SQL (one or more statements, no parameters), e.g. a migration step. */
cmee_status cmee__store_exec(cmee_store *st, const char *sql, const char *what);

/* Wall-clock time in ms since the Unix epoch (UTC). */
int64_t cmee__store_now_ms(void);

/* FNV-1a 64 over @p n bytes, continuing from @p h (start with CMEE__FNV_OFFSET). Stored with
 * each record so that a torn or altered record is detected on load. */
#define CMEE__FNV_OFFSET UINT64_C(0xcbf29ce484222325)
uint64_t cmee__store_fnv(uint64_t h, const void *p, size_t n);

/* cmee_store_check()'s part for the market event logs (market_log.c): every entry against its
 * checksum, positions 1, 2, ... per log. */
cmee_status cmee__store_market_events_check(cmee_store *st);

#endif
