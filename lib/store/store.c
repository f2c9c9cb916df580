/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store: one SQLite connection per handle, the schema and its migrations, transactions,
 * the statement cache, and the scenario records. The only file (with store_int.h) that
 * speaks SQL; every statement is constant text run as a prepared statement with bound
 * parameters. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store_int.h"

/* "CMEE" in PRAGMA application_id tells our files from other SQLite databases. */
#define STORE_APP_ID 0x434d4545

/* ---- schema --------------------------------------------------------------------------- */

/* Version 1: scenarios. A name row owns its versions (ON DELETE CASCADE needs foreign keys,
 * which every connection turns on) and keeps their summary, so that listing costs O(names).
 * Each version keeps its canonical JSON and an FNV-1a checksum of (name, version, json), so a
 * torn or altered record is detected on load. */
static const char SCHEMA_V1[] =
    "CREATE TABLE scenario ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  latest INTEGER NOT NULL CHECK (latest >= 1),"
    "  versions INTEGER NOT NULL CHECK (versions BETWEEN 1 AND latest)"
    ");"
    "CREATE TABLE scenario_version ("
    "  scenario INTEGER NOT NULL REFERENCES scenario(id) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL CHECK (version >= 1),"
    "  created INTEGER NOT NULL,"
    "  json TEXT NOT NULL CHECK (length(json) > 0),"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (scenario, version)"
    ") WITHOUT ROWID;"
    "PRAGMA application_id = 1129137477;"; /* STORE_APP_ID */

/* The migrations, in order: step i takes the schema to migrations[i].version = i + 1. A later
 * module appends its step here and raises CMEE_STORE_SCHEMA_VERSION; released steps never
 * change, since files in the field already ran them. */
/* Version 2: sessions (lib/session/persist.c). The session row owns every other row of the
 * session through ON DELETE CASCADE. Doubles live in untyped columns checked to hold a 'real':
 * a REAL-affinity column stores integral values as integers, which would turn -0.0 into 0.0.
 * Money and times are INTEGER. Each row has an FNV-1a checksum over its session, its table and
 * its fields. The ledger is append-only, and a trigger refuses to update it. */
static const char SCHEMA_V2[] =
    "CREATE TABLE session ("
    "  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 39),"
    "  created INTEGER NOT NULL,"
    "  label TEXT NOT NULL,"
    "  seed INTEGER NOT NULL,"
    "  start_time INTEGER NOT NULL,"
    "  speed NOT NULL CHECK (typeof(speed) = 'real'),"
    "  paused INTEGER NOT NULL CHECK (paused IN (0, 1)),"
    "  manual_clock INTEGER NOT NULL CHECK (manual_clock IN (0, 1)),"
    "  initial_balance INTEGER NOT NULL,"
    "  currency TEXT NOT NULL,"
    "  fee_rate NOT NULL CHECK (typeof(fee_rate) = 'real'),"
    "  spread_bps NOT NULL CHECK (typeof(spread_bps) = 'real'),"
    "  option_payout NOT NULL CHECK (typeof(option_payout) = 'real'),"
    "  symbols TEXT NOT NULL,"
    "  clock_speed NOT NULL CHECK (typeof(clock_speed) = 'real'),"
    "  clock_paused INTEGER NOT NULL CHECK (clock_paused IN (0, 1)),"
    "  clock_manual INTEGER NOT NULL CHECK (clock_manual IN (0, 1)),"
    "  now INTEGER NOT NULL,"
    "  balance INTEGER NOT NULL,"
    "  order_count INTEGER NOT NULL CHECK (order_count >= 0),"
    "  option_count INTEGER NOT NULL CHECK (option_count >= 0),"
    "  ledger_count INTEGER NOT NULL CHECK (ledger_count >= 1),"
    "  scenario_count INTEGER NOT NULL CHECK (scenario_count >= 0),"
    "  checksum INTEGER NOT NULL"
    ");"
    "CREATE INDEX session_by_created ON session (created);"
    "CREATE TABLE session_scenario ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  app_id INTEGER NOT NULL,"
    "  t0 INTEGER NOT NULL,"
    "  cancelled INTEGER NOT NULL,"
    "  json TEXT NOT NULL CHECK (length(json) > 0),"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_position ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  symbol TEXT NOT NULL,"
    "  quantity NOT NULL CHECK (typeof(quantity) = 'real'),"
    "  avg_price NOT NULL CHECK (typeof(avg_price) = 'real'),"
    "  realised INTEGER NOT NULL,"
    "  stop_loss NOT NULL CHECK (typeof(stop_loss) = 'real'),"
    "  take_profit NOT NULL CHECK (typeof(take_profit) = 'real'),"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, symbol)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_realised ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  symbol TEXT NOT NULL,"
    "  realised INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, symbol)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_order ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  id INTEGER NOT NULL CHECK (id >= 1),"
    "  symbol TEXT NOT NULL,"
    "  side INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  quantity NOT NULL CHECK (typeof(quantity) = 'real'),"
    "  price NOT NULL CHECK (typeof(price) = 'real'),"
    "  stop_loss NOT NULL CHECK (typeof(stop_loss) = 'real'),"
    "  take_profit NOT NULL CHECK (typeof(take_profit) = 'real'),"
    "  created INTEGER NOT NULL,"
    "  closed INTEGER NOT NULL,"
    "  fill_price NOT NULL CHECK (typeof(fill_price) = 'real'),"
    "  fee INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_option ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  id INTEGER NOT NULL CHECK (id >= 1),"
    "  symbol TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  stake INTEGER NOT NULL,"
    "  payout NOT NULL CHECK (typeof(payout) = 'real'),"
    "  opened INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  strike NOT NULL CHECK (typeof(strike) = 'real'),"
    "  settle_price NOT NULL CHECK (typeof(settle_price) = 'real'),"
    "  paid INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_ledger ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  time INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  amount INTEGER NOT NULL,"
    "  balance INTEGER NOT NULL,"
    "  ref INTEGER NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, seq)"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER session_ledger_append_only BEFORE UPDATE ON session_ledger "
    "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;";

/* Version 3: a session's fill model (cmee_fill_model: 0 quote, 1 book). Rows written before
 * it existed traded with the quote model and keep it, so that their history replays as it
 * was made. */
static const char SCHEMA_V3[] =
    "ALTER TABLE session ADD COLUMN fill_model INTEGER NOT NULL DEFAULT 0"
    " CHECK (fill_model IN (0, 1));";

/* Version 4: margin accounts (cmee_session_config::leverage, max_leverage per asset class,
 * margin_call_level, maintenance_level) and whether a margin call is in force. The defaults
 * are a cash account's, the account every session stored before was: leverage 1, which is
 * never called or liquidated, and the caps and levels of cmee_session_config_init(). These
 * columns are REAL: an untyped column would give old rows the integral defaults as integers.
 * REAL keeps every valid value exactly except the sign of a zero level, which the session
 * makes +0.0 before it is stored. */
static const char SCHEMA_V4[] =
    "ALTER TABLE session ADD COLUMN leverage REAL NOT NULL DEFAULT 1.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_crypto REAL NOT NULL DEFAULT 5.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_fx REAL NOT NULL DEFAULT 50.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_metal REAL NOT NULL DEFAULT 20.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_index REAL NOT NULL DEFAULT 20.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_stock REAL NOT NULL DEFAULT 5.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_commodity REAL NOT NULL DEFAULT 10.0;"
    "ALTER TABLE session ADD COLUMN max_leverage_other REAL NOT NULL DEFAULT 5.0;"
    "ALTER TABLE session ADD COLUMN margin_call_level REAL NOT NULL DEFAULT 1.0;"
    "ALTER TABLE session ADD COLUMN maintenance_level REAL NOT NULL DEFAULT 0.5;"
    "ALTER TABLE session ADD COLUMN margin_called INTEGER NOT NULL DEFAULT 0"
    " CHECK (margin_called IN (0, 1));";

/* Version 5: market event logs (lib/store/market_log.c): the ordered, append-only changes an
 * operator made to a live market, e.g. cmee-server's admin knobs. A trigger refuses updates. */
static const char SCHEMA_V5[] =
    "CREATE TABLE market_event ("
    "  log TEXT NOT NULL CHECK (length(log) BETWEEN 1 AND 63),"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  wall INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 31),"
    "  data TEXT NOT NULL CHECK (length(data) > 0),"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (log, seq)"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER market_event_append_only BEFORE UPDATE ON market_event "
    "BEGIN SELECT RAISE(ABORT, 'market event logs are append-only'); END;";

/* Version 6: a session's market impact (cmee_impact_config: model 0 none, 1 square root; the
 * law's coefficient; the decay's half-life in ms). The defaults are cmee_session_config_init()'s,
 * impact off: every session stored before traded without impact. */
static const char SCHEMA_V6[] =
    "ALTER TABLE session ADD COLUMN impact_model INTEGER NOT NULL DEFAULT 0"
    " CHECK (impact_model IN (0, 1));"
    "ALTER TABLE session ADD COLUMN impact_coefficient REAL NOT NULL DEFAULT 1.0;"
    "ALTER TABLE session ADD COLUMN impact_half_life INTEGER NOT NULL DEFAULT 300000;";

/* Version 7: the action log (lib/session/replay.c): what the user did to a session, in order,
 * with the sim time it took effect, so that the session can be replayed. Append-only like the
 * ledger. The session row gets the epoch (1 until the session is reset), the number of actions
 * in the current epoch, and whether the session is replayable: rows written before the log
 * existed are not (0), since what their user did is not known exactly. A row's order columns
 * hold an order request, its option columns an option request; the others are 0 or "" unless
 * the kind uses them (cmee_session_action). */
static const char SCHEMA_V7[] =
    "CREATE TABLE session_action ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  time INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 10),"
    "  symbol TEXT NOT NULL,"
    "  side INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  quantity NOT NULL CHECK (typeof(quantity) = 'real'),"
    "  price NOT NULL CHECK (typeof(price) = 'real'),"
    "  stop_loss NOT NULL CHECK (typeof(stop_loss) = 'real'),"
    "  take_profit NOT NULL CHECK (typeof(take_profit) = 'real'),"
    "  option_kind INTEGER NOT NULL,"
    "  stake INTEGER NOT NULL,"
    "  duration INTEGER NOT NULL,"
    "  payout NOT NULL CHECK (typeof(payout) = 'real'),"
    "  ref INTEGER NOT NULL,"
    "  speed NOT NULL CHECK (typeof(speed) = 'real'),"
    "  ms INTEGER NOT NULL,"
    "  scenario TEXT NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, epoch, seq)"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER session_action_append_only BEFORE UPDATE ON session_action "
    "BEGIN SELECT RAISE(ABORT, 'the action log is append-only'); END;"
    "ALTER TABLE session ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1 CHECK (epoch >= 1);"
    "ALTER TABLE session ADD COLUMN action_count INTEGER NOT NULL DEFAULT 0"
    " CHECK (action_count >= 0);"
    "ALTER TABLE session ADD COLUMN replayable INTEGER NOT NULL DEFAULT 0"
    " CHECK (replayable IN (0, 1));";

/* Version 8: the history of a session's past epochs (cmee_session_reset()). A reset moves the
 * epoch's orders, options and ledger entries here unchanged, checksums included, under the
 * number of the epoch they belong to; its actions stay in session_action, which already has an
 * epoch. Like the ledger, the history is never updated. */
static const char SCHEMA_V8[] =
    "CREATE TABLE session_order_epoch ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  id INTEGER NOT NULL CHECK (id >= 1),"
    "  symbol TEXT NOT NULL,"
    "  side INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  quantity NOT NULL CHECK (typeof(quantity) = 'real'),"
    "  price NOT NULL CHECK (typeof(price) = 'real'),"
    "  stop_loss NOT NULL CHECK (typeof(stop_loss) = 'real'),"
    "  take_profit NOT NULL CHECK (typeof(take_profit) = 'real'),"
    "  created INTEGER NOT NULL,"
    "  closed INTEGER NOT NULL,"
    "  fill_price NOT NULL CHECK (typeof(fill_price) = 'real'),"
    "  fee INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, epoch, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_option_epoch ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  id INTEGER NOT NULL CHECK (id >= 1),"
    "  symbol TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  stake INTEGER NOT NULL,"
    "  payout NOT NULL CHECK (typeof(payout) = 'real'),"
    "  opened INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  strike NOT NULL CHECK (typeof(strike) = 'real'),"
    "  settle_price NOT NULL CHECK (typeof(settle_price) = 'real'),"
    "  paid INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, epoch, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE session_ledger_epoch ("
    "  session TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  time INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  amount INTEGER NOT NULL,"
    "  balance INTEGER NOT NULL,"
    "  ref INTEGER NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  PRIMARY KEY (session, epoch, seq)"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER session_order_epoch_append_only BEFORE UPDATE ON session_order_epoch "
    "BEGIN SELECT RAISE(ABORT, 'past epochs are append-only'); END;"
    "CREATE TRIGGER session_option_epoch_append_only BEFORE UPDATE ON session_option_epoch "
    "BEGIN SELECT RAISE(ABORT, 'past epochs are append-only'); END;"
    "CREATE TRIGGER session_ledger_epoch_append_only BEFORE UPDATE ON session_ledger_epoch "
    "BEGIN SELECT RAISE(ABORT, 'past epochs are append-only'); END;";

static const cmee__store_migration migrations[] = {
    {1, SCHEMA_V1},
    {2, SCHEMA_V2},
    {3, SCHEMA_V3},
    {4, SCHEMA_V4},
    {5, SCHEMA_V5},
    {6, SCHEMA_V6},
    {7, SCHEMA_V7},
    {8, SCHEMA_V8},
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

_Static_assert(NMIGRATIONS == CMEE_STORE_SCHEMA_VERSION, "one migration step per schema version");

/* ---- small helpers -------------------------------------------------------------------- */

int64_t cmee__store_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Upper bounds of the transaction histogram, seconds. */
static const double stats_le[CMEE_STORE_STATS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 5};

/* A write transaction that began at st->tx_t0_ns has just ended. */
static void stats_record(cmee_store *st, bool committed)
{
    double secs = (double)(mono_ns() - st->tx_t0_ns) / 1e9;
    cmee_store_stats *s = &st->stats;
    s->transactions++;
    if (!committed)
        s->rolled_back++;
    s->seconds += secs;
    for (int i = CMEE_STORE_STATS_BUCKETS - 1; i >= 0 && secs <= stats_le[i]; i--)
        s->count[i]++;
}

cmee_status cmee_store_stats_get(const cmee_store *st, cmee_store_stats *out)
{
    if (!st || !out)
        return CMEE_EINVAL;
    *out = st->stats;
    memcpy(out->le, stats_le, sizeof out->le);
    return CMEE_OK;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

uint64_t cmee__store_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The checksum of one scenario version, as stored: covers the name and version too, so a
 * record cannot pass for another one. */
static int64_t record_checksum(const char *name, int version, const void *json, size_t len)
{
    unsigned char v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (unsigned char)((uint64_t)(int64_t)version >> (8 * i));
    uint64_t h = cmee__store_fnv(CMEE__FNV_OFFSET, name, strlen(name) + 1);
    h = cmee__store_fnv(h, v, sizeof v);
    h = cmee__store_fnv(h, json, len);
    int64_t s;
    memcpy(&s, &h, sizeof s); /* SQLite integers are signed 64-bit */
    return s;
}

/* ---- errors --------------------------------------------------------------------------- */

cmee_status cmee__store_fail(cmee_store *st, cmee_status status, const char *fmt, ...)
{
    /* Through a local buffer, so that the arguments may include the previous message. */
    char msg[sizeof st->errmsg];
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(st->errmsg, msg, sizeof msg);
    return status;
}

cmee_status cmee__store_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return CMEE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CMEE_EBUSY;
    case SQLITE_NOMEM:
        return CMEE_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return CMEE_ECORRUPT;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return CMEE_EEXIST;
        return CMEE_EIO;
    default:
        return CMEE_EIO;
    }
}

cmee_status cmee__store_sqlfail(cmee_store *st, int rc, const char *fmt, ...)
{
    char what[CMEE__STORE_ERRMSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(what, sizeof what, fmt, ap);
    va_end(ap);
    cmee_status s = cmee__store_status(rc);
    if (s == CMEE_OK) /* a caller's logic error: never report success as a failure */
        s = CMEE_EINTERNAL;
    if (s == CMEE_EBUSY)
        return cmee__store_fail(st, s,
                                "%s: the database is locked by another connection "
                                "(gave up after %d ms)",
                                what, st->busy_ms);
    const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    return cmee__store_fail(st, s, "%s: %s (sqlite code %d)", what, msg, rc);
}

const char *cmee_store_errmsg(const cmee_store *st)
{
    return st ? st->errmsg : "store is NULL";
}

/* ---- statements and transactions ------------------------------------------------------ */

void cmee__store_reset(sqlite3_stmt *stmt)
{
    if (stmt) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
}

cmee_status cmee__store_prepare(cmee_store *st, const char *sql, sqlite3_stmt **out)
{
    for (size_t i = 0; i < st->nstmts; i++) {
        if (st->stmts[i].sql == sql) {
            cmee__store_reset(st->stmts[i].stmt);
            *out = st->stmts[i].stmt;
            return CMEE_OK;
        }
    }
    if (st->nstmts == st->capstmts) {
        size_t cap = st->capstmts ? st->capstmts * 2 : 16;
        cmee__store_stmt *p = cmee__realloc(&st->al, st->stmts, cap * sizeof *p);
        if (!p)
            return cmee__store_fail(st, CMEE_ENOMEM, "out of memory caching a statement");
        st->stmts = p;
        st->capstmts = cap;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return cmee__store_sqlfail(st, rc, "prepare \"%.60s\"", sql);
    }
    st->stmts[st->nstmts++] = (cmee__store_stmt){sql, s};
    *out = s;
    return CMEE_OK;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

/* Step a statement that returns no rows, retrying while the database is busy for at most
 * the busy timeout in all. sqlite3_busy_timeout() already waits inside SQLite; the loop is
 * for the cases where SQLite returns SQLITE_BUSY without calling the handler (for example
 * while another connection recovers the WAL). */
static int step_retry(cmee_store *st, sqlite3_stmt *s)
{
    int64_t t0 = mono_ms();
    for (;;) {
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc;
        int64_t left = st->busy_ms - (mono_ms() - t0);
        if (left <= 0)
            return rc;
        sleep_ms(left < 5 ? (int)left : 5);
    }
}

/* Step a statement to its first row, retrying the same way. The row (if any) is left for the
 * caller to read, who then resets the statement. */
static int step_row_retry(cmee_store *st, sqlite3_stmt *s)
{
    int64_t t0 = mono_ms();
    for (;;) {
        int rc = sqlite3_step(s);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc;
        sqlite3_reset(s);
        int64_t left = st->busy_ms - (mono_ms() - t0);
        if (left <= 0)
            return rc;
        sleep_ms(left < 5 ? (int)left : 5);
    }
}

cmee_status cmee__store_begin(cmee_store *st, const char *what)
{
    if (st->in_tx)
        return cmee__store_fail(st, CMEE_EINTERNAL, "%s: a transaction is already open", what);
    sqlite3_stmt *s = NULL;
    int64_t t0 = mono_ns();
    cmee_status r = cmee__store_prepare(st, SQL_BEGIN, &s);
    if (r != CMEE_OK)
        return r;
    int rc = step_retry(st, s);
    if (rc != SQLITE_DONE) {
        /* Never began (busy): counted as a transaction that was rolled back. */
        st->tx_t0_ns = t0;
        stats_record(st, false);
        return cmee__store_sqlfail(st, rc, "%s: start a write transaction", what);
    }
    st->in_tx = true;
    st->tx_t0_ns = t0;
    return CMEE_OK;
}

void cmee__store_rollback(cmee_store *st)
{
    bool was_open = st->in_tx;
    st->in_tx = false;
    if (sqlite3_get_autocommit(st->db)) {
        if (was_open)
            stats_record(st, false);
        return; /* SQLite already rolled back (or nothing was open) */
    }
    /* ROLLBACK is cached when the store opens, so this takes no memory from the allocator. */
    sqlite3_stmt *s = NULL;
    char keep[sizeof st->errmsg];
    memcpy(keep, st->errmsg, sizeof keep);
    if (cmee__store_prepare(st, SQL_ROLLBACK, &s) == CMEE_OK) {
        sqlite3_step(s);
        cmee__store_reset(s);
    } else if (sqlite3_prepare_v2(st->db, SQL_ROLLBACK, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_step(s);
        sqlite3_finalize(s);
    }
    memcpy(st->errmsg, keep, sizeof keep);
    if (was_open)
        stats_record(st, false);
}

cmee_status cmee__store_commit(cmee_store *st, const char *what)
{
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_COMMIT, &s);
    if (r == CMEE_OK) {
        int rc = step_retry(st, s);
        if (rc == SQLITE_DONE) {
            st->in_tx = false;
            stats_record(st, true);
            return CMEE_OK;
        }
        r = cmee__store_sqlfail(st, rc, "%s: commit", what);
    }
    cmee__store_rollback(st);
    return r;
}

cmee_status cmee__store_tx(cmee_store *st, const char *what,
                           cmee_status (*fn)(cmee_store *st, void *ud), void *ud)
{
    cmee_status r = cmee__store_begin(st, what);
    if (r != CMEE_OK)
        return r;
    r = fn(st, ud);
    if (r != CMEE_OK) {
        cmee__store_rollback(st);
        return r;
    }
    return cmee__store_commit(st, what);
}

cmee_status cmee__store_exec(cmee_store *st, const char *sql, const char *what)
{
    const char *p = sql;
    while (*p) {
        sqlite3_stmt *s = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(st->db, p, -1, &s, &tail);
        if (rc != SQLITE_OK)
            return cmee__store_sqlfail(st, rc, "%s", what);
        if (!s) /* only whitespace or a comment left */
            break;
        do
            rc = sqlite3_step(s);
        while (rc == SQLITE_ROW);
        if (rc != SQLITE_DONE) {
            cmee_status r = cmee__store_sqlfail(st, rc, "%s", what);
            sqlite3_finalize(s);
            return r;
        }
        sqlite3_finalize(s);
        p = tail;
    }
    return CMEE_OK;
}

/* Run a one-row query of constant text (a PRAGMA) and read its first column as an integer. */
static cmee_status query_int(cmee_store *st, const char *sql, const char *what, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, sql, &s);
    if (r != CMEE_OK)
        return r;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        r = CMEE_OK;
    } else {
        r = cmee__store_sqlfail(st, rc, "%s", what);
    }
    cmee__store_reset(s);
    return r;
}

/* ---- opening -------------------------------------------------------------------------- */

/* One statement, so that the three come from one snapshot even while another connection
 * is creating the schema. */
static const char SQL_HEADER[] = "SELECT (SELECT application_id FROM pragma_application_id()),"
                                 " (SELECT user_version FROM pragma_user_version()),"
                                 " (SELECT count(*) FROM sqlite_master)";
static const char SQL_USER_VERSION[] = "PRAGMA user_version";
static const char SQL_WAL[] = "PRAGMA journal_mode = WAL";
/* In WAL mode synchronous=NORMAL syncs only at checkpoints: a commit is in the WAL (and so in
 * the operating system's cache) when COMMIT returns, so killing the process at any moment
 * loses nothing committed; only a crash of the OS or a power cut can lose the last commits.
 * FULL also syncs the WAL at every commit. Either way the file is never corrupted. */
static const char SQL_SYNC_NORMAL[] = "PRAGMA synchronous = NORMAL";
static const char SQL_SYNC_FULL[] = "PRAGMA synchronous = FULL";
static const char SQL_FK_ON[] = "PRAGMA foreign_keys = ON";
static const char SQL_FK[] = "PRAGMA foreign_keys";

static cmee_status migrate(cmee_store *st, const char *path, int64_t from)
{
    for (size_t i = 0; i < NMIGRATIONS; i++) {
        const cmee__store_migration *m = &migrations[i];
        if (m->version <= from)
            continue;
        cmee_status r = cmee__store_begin(st, "migrate");
        if (r != CMEE_OK)
            return r;
        /* Another process may have migrated since we looked: decide inside the lock. */
        int64_t now = 0;
        r = query_int(st, SQL_USER_VERSION, "migrate: read user_version", &now);
        if (r == CMEE_OK && now > CMEE_STORE_SCHEMA_VERSION)
            r = cmee__store_fail(st, CMEE_EVERSION,
                                 "%s: schema version %lld is newer than version %d, the newest "
                                 "this libcmee %s knows; use a newer libcmee",
                                 path, (long long)now, CMEE_STORE_SCHEMA_VERSION, cmee_version());
        if (r == CMEE_OK && now < m->version) {
            r = cmee__store_exec(st, m->sql, "migrate");
            if (r == CMEE_OK) {
                /* PRAGMA takes no parameters; the number is the table's own constant. */
                char bump[48];
                cmee__fmt(bump, sizeof bump, "PRAGMA user_version = %d", m->version);
                r = cmee__store_exec(st, bump, "migrate: set user_version");
            }
            if (r != CMEE_OK)
                r = cmee__store_fail(st, r, "%s: migrating the schema to version %d failed: %s",
                                     path, m->version, st->errmsg);
        }
        if (r != CMEE_OK) {
            cmee__store_rollback(st);
            return r;
        }
        r = cmee__store_commit(st, "migrate");
        if (r != CMEE_OK)
            return r;
        from = now > m->version ? now : m->version;
    }
    return CMEE_OK;
}

static cmee_status setup(cmee_store *st, const char *path, const cmee_store_options *o)
{
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, st->busy_ms);
    /* Refuse writes to the schema through PRAGMA writable_schema and the like. */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

    /* Cache the transaction statements first: a rollback must never need memory later. */
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_BEGIN, &s);
    if (r == CMEE_OK)
        r = cmee__store_prepare(st, SQL_COMMIT, &s);
    if (r == CMEE_OK)
        r = cmee__store_prepare(st, SQL_ROLLBACK, &s);
    if (r != CMEE_OK)
        return r;

    /* The first read of the file: a file that is not a database fails here. */
    int64_t app = 0, uv = 0, nobj = 0;
    if ((r = cmee__store_prepare(st, SQL_HEADER, &s)) != CMEE_OK) {
        if (r == CMEE_ECORRUPT)
            return cmee__store_fail(st, r, "%s: not a libcmee store (%s)", path, st->errmsg);
        return r;
    }
    int rc = step_row_retry(st, s);
    if (rc == SQLITE_ROW) {
        app = sqlite3_column_int64(s, 0);
        uv = sqlite3_column_int64(s, 1);
        nobj = sqlite3_column_int64(s, 2);
    }
    cmee__store_reset(s);
    if (rc != SQLITE_ROW) {
        r = cmee__store_sqlfail(st, rc, "%s: read the header", path);
        if (r == CMEE_ECORRUPT)
            return cmee__store_fail(st, r, "%s: not a libcmee store (%s)", path, st->errmsg);
        return r;
    }
    bool fresh = app == 0 && uv == 0 && nobj == 0;
    if (app != STORE_APP_ID && !fresh)
        return cmee__store_fail(st, CMEE_ECORRUPT,
                                "%s: not a libcmee store (an SQLite database of another "
                                "application: application_id %lld, user_version %lld, "
                                "%lld schema objects)",
                                path, (long long)app, (long long)uv, (long long)nobj);
    if (uv > CMEE_STORE_SCHEMA_VERSION)
        return cmee__store_fail(st, CMEE_EVERSION,
                                "%s: schema version %lld is newer than version %d, the newest "
                                "this libcmee %s knows; use a newer libcmee",
                                path, (long long)uv, CMEE_STORE_SCHEMA_VERSION, cmee_version());

    /* Switching a new file to WAL needs it to ourselves for a moment: while other
     * connections are reading it, SQLite keeps the old mode or reports busy, so retry. */
    if ((r = cmee__store_prepare(st, SQL_WAL, &s)) != CMEE_OK)
        return r;
    int64_t t0 = mono_ms();
    char mode[16];
    for (;;) {
        rc = step_row_retry(st, s);
        mode[0] = '\0';
        if (rc == SQLITE_ROW)
            cmee__fmt(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(s, 0));
        cmee__store_reset(s);
        if (rc != SQLITE_ROW)
            return cmee__store_sqlfail(st, rc, "%s: switch to WAL", path);
        if (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0)
            break;
        if (mono_ms() - t0 >= st->busy_ms)
            return cmee__store_fail(st, CMEE_EBUSY,
                                    "%s: could not switch to WAL (journal mode stays %s; "
                                    "gave up after %d ms)",
                                    path, mode, st->busy_ms);
        sleep_ms(5);
    }

    r = cmee__store_exec(st, o->full_sync ? SQL_SYNC_FULL : SQL_SYNC_NORMAL, path);
    if (r == CMEE_OK)
        r = cmee__store_exec(st, SQL_FK_ON, path);
    int64_t fk = 0;
    if (r == CMEE_OK)
        r = query_int(st, SQL_FK, path, &fk);
    if (r != CMEE_OK)
        return r;
    if (fk != 1)
        return cmee__store_fail(st, CMEE_EIO, "%s: could not turn on foreign keys", path);
    return migrate(st, path, uv);
}

void cmee_store_options_init(cmee_store_options *opt)
{
    if (opt)
        memset(opt, 0, sizeof *opt);
}

static cmee_status open_fail(cmee_error *err, cmee_status s, const char *field, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));

static cmee_status open_fail(cmee_error *err, cmee_status s, const char *field, const char *fmt,
                             ...)
{
    if (err) {
        err->status = s;
        cmee__fmt(err->field, sizeof err->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        cmee__vfmt(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return s;
}

void cmee_store_close(cmee_store *st)
{
    if (!st)
        return;
    if (st->in_tx)
        cmee__store_rollback(st);
    for (size_t i = 0; i < st->nstmts; i++)
        sqlite3_finalize(st->stmts[i].stmt);
    /* The last connection to a WAL file checkpoints it and removes the -wal file. */
    sqlite3_close(st->db);
    cmee__alloc al = st->al;
    cmee__free(&al, st->stmts);
    cmee__free(&al, st);
}

cmee_status cmee_store_open(const char *path, const cmee_store_options *opt,
                            const cmee_allocator *alloc, cmee_store **out, cmee_error *err)
{
    if (!path || !out)
        return open_fail(err, CMEE_EINVAL, path ? "out" : "path", "%s: must not be NULL",
                         path ? "out" : "path");
    if (!path[0])
        return open_fail(err, CMEE_EINVAL, "path",
                         "path: must not be empty (use \":memory:\" "
                         "for an in-memory store)");
    cmee_store_options o;
    cmee_store_options_init(&o);
    if (opt)
        o = *opt;
    if (o.busy_timeout_ms > CMEE_STORE_BUSY_TIMEOUT_MAX)
        return open_fail(err, CMEE_EINVAL, "busy_timeout_ms",
                         "busy_timeout_ms: must be at most %d, got %d", CMEE_STORE_BUSY_TIMEOUT_MAX,
                         o.busy_timeout_ms);
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return open_fail(err, CMEE_EINVAL, "alloc",
                         "alloc: malloc, realloc and free must all "
                         "be set");
    bool memory = strcmp(path, ":memory:") == 0;
    struct stat sb;
    if (o.must_exist && !memory && stat(path, &sb) != 0 && errno == ENOENT)
        return open_fail(err, CMEE_ENOTFOUND, "path", "%s: no such file", path);

    cmee_store *st = cmee__calloc(&al, 1, sizeof *st);
    if (!st)
        return open_fail(err, CMEE_ENOMEM, "", "out of memory opening %s", path);
    st->al = al;
    st->busy_ms = o.busy_timeout_ms == 0  ? CMEE_STORE_BUSY_TIMEOUT_DEFAULT
                  : o.busy_timeout_ms < 0 ? 0
                                          : o.busy_timeout_ms;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (!o.must_exist)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    cmee_status r;
    if (rc != SQLITE_OK) {
        if (!st->db)
            r = cmee__store_fail(st, CMEE_ENOMEM, "%s: out of memory", path);
        else if (o.must_exist && (rc & 0xff) == SQLITE_CANTOPEN && stat(path, &sb) != 0)
            r = cmee__store_fail(st, CMEE_ENOTFOUND, "%s: no such file", path);
        else
            r = cmee__store_sqlfail(st, rc, "%s: open", path);
    } else {
        r = setup(st, path, &o);
    }
    if (r != CMEE_OK) {
        open_fail(err, r, "path", "%s", st->errmsg);
        cmee_store_close(st);
        return r;
    }
    st->errmsg[0] = '\0';
    *out = st;
    return CMEE_OK;
}

int cmee_store_schema_version(cmee_store *st)
{
    if (!st)
        return CMEE_STORE_SCHEMA_VERSION;
    int64_t v = 0;
    if (query_int(st, SQL_USER_VERSION, "schema version", &v) != CMEE_OK)
        return -1;
    return v < 0 || v > INT_MAX ? -1 : (int)v;
}

/* ---- scenarios ------------------------------------------------------------------------ */

static const char SQL_FIND_NAME[] = "SELECT id FROM scenario WHERE name = ?1";
static const char SQL_FIND_LATEST[] = "SELECT id, latest FROM scenario WHERE name = ?1";
static const char SQL_INSERT_NAME[] =
    "INSERT INTO scenario (name, created, updated, latest, versions) VALUES (?1, ?2, ?2, 1, 1)";
static const char SQL_BUMP_NAME[] =
    "UPDATE scenario SET latest = ?2, versions = versions + 1, updated = ?3 WHERE id = ?1";
static const char SQL_INSERT_VERSION[] =
    "INSERT INTO scenario_version (scenario, version, created, json, checksum) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_LOAD_LATEST[] = "SELECT v.version, v.json, v.checksum FROM scenario AS s "
                                      "JOIN scenario_version AS v ON v.scenario = s.id "
                                      "WHERE s.name = ?1 ORDER BY v.version DESC LIMIT 1";
static const char SQL_LOAD_VERSION[] = "SELECT v.version, v.json, v.checksum FROM scenario AS s "
                                       "JOIN scenario_version AS v ON v.scenario = s.id "
                                       "WHERE s.name = ?1 AND v.version = ?2";
/* count(*) OVER () gives the number of rows with the first one, from the same snapshot. */
static const char SQL_LIST[] =
    "SELECT name, latest, versions, created, updated, count(*) OVER () FROM scenario "
    "ORDER BY name";
static const char SQL_VERSIONS[] =
    "SELECT v.version, v.created, length(CAST(v.json AS BLOB)), count(*) OVER () "
    "FROM scenario AS s JOIN scenario_version AS v ON v.scenario = s.id "
    "WHERE s.name = ?1 ORDER BY v.version";
static const char SQL_DELETE[] = "DELETE FROM scenario WHERE name = ?1";
static const char SQL_SUMMARY_CHECK[] =
    "SELECT s.name FROM scenario AS s WHERE s.latest IS NOT "
    "(SELECT max(version) FROM scenario_version WHERE scenario = s.id) OR s.versions IS NOT "
    "(SELECT count(*) FROM scenario_version WHERE scenario = s.id) LIMIT 1";
static const char SQL_ALL_RECORDS[] =
    "SELECT s.name, v.version, v.json, v.checksum FROM scenario AS s "
    "JOIN scenario_version AS v ON v.scenario = s.id ORDER BY s.name, v.version";

/* Bind a NUL-terminated string that outlives the statement's use. */
static int bind_text(sqlite3_stmt *s, int i, const char *text)
{
    return sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

typedef struct save_ctx {
    const char *name;
    const char *json;
    size_t len;
    cmee_store_save_mode mode;
    int version; /* out */
} save_ctx;

static cmee_status save_tx(cmee_store *st, void *ud)
{
    save_ctx *c = ud;
    int64_t now = cmee__store_now_ms();
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_FIND_LATEST, &s);
    if (r != CMEE_OK)
        return r;
    bind_text(s, 1, c->name);
    int rc = sqlite3_step(s);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int64_t latest = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    cmee__store_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cmee__store_sqlfail(st, rc, "save scenario \"%s\"", c->name);

    int64_t version = 1;
    if (rc == SQLITE_DONE) {
        if (c->mode == CMEE_STORE_SAVE_UPDATE)
            return cmee__store_fail(st, CMEE_ENOTFOUND,
                                    "save scenario \"%s\": no such scenario to update", c->name);
        if ((r = cmee__store_prepare(st, SQL_INSERT_NAME, &s)) != CMEE_OK)
            return r;
        bind_text(s, 1, c->name);
        sqlite3_bind_int64(s, 2, now);
        rc = sqlite3_step(s);
        cmee__store_reset(s);
        if (rc != SQLITE_DONE)
            return cmee__store_sqlfail(st, rc, "save scenario \"%s\"", c->name);
        id = sqlite3_last_insert_rowid(st->db);
    } else {
        if (c->mode == CMEE_STORE_SAVE_CREATE)
            return cmee__store_fail(st, CMEE_EEXIST, "save scenario \"%s\": the name is taken",
                                    c->name);
        if (latest < 1 || latest >= INT_MAX)
            return cmee__store_fail(st, CMEE_ECORRUPT,
                                    "save scenario \"%s\": bad stored version %lld", c->name,
                                    (long long)latest);
        version = latest + 1;
        if ((r = cmee__store_prepare(st, SQL_BUMP_NAME, &s)) != CMEE_OK)
            return r;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, version);
        sqlite3_bind_int64(s, 3, now);
        rc = sqlite3_step(s);
        cmee__store_reset(s);
        if (rc != SQLITE_DONE)
            return cmee__store_sqlfail(st, rc, "save scenario \"%s\"", c->name);
    }

    if ((r = cmee__store_prepare(st, SQL_INSERT_VERSION, &s)) != CMEE_OK)
        return r;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_text(s, 4, c->json, (int)c->len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, record_checksum(c->name, (int)version, c->json, c->len));
    rc = sqlite3_step(s);
    cmee__store_reset(s);
    if (rc != SQLITE_DONE)
        return cmee__store_sqlfail(st, rc, "save scenario \"%s\" version %lld", c->name,
                                   (long long)version);
    c->version = (int)version;
    return CMEE_OK;
}

cmee_status cmee_store_scenario_save(cmee_store *st, const cmee_scenario *sc,
                                     cmee_store_save_mode mode, int *version)
{
    if (!st)
        return CMEE_EINVAL;
    if (!sc)
        return cmee__store_fail(st, CMEE_EINVAL, "save scenario: scenario is NULL");
    if (mode != CMEE_STORE_SAVE_ANY && mode != CMEE_STORE_SAVE_CREATE &&
        mode != CMEE_STORE_SAVE_UPDATE)
        return cmee__store_fail(st, CMEE_EINVAL, "save scenario: mode: unknown mode %d", (int)mode);
    save_ctx c = {.name = cmee_scenario_name(sc), .mode = mode};
    size_t len = 0;
    cmee_status r = cmee_scenario_to_json(sc, NULL, 0, &len);
    if (r != CMEE_OK)
        return cmee__store_fail(st, r, "save scenario \"%s\": to JSON: %s", c.name,
                                cmee_status_str(r));
    if (len == 0 || len > INT_MAX - 1)
        return cmee__store_fail(st, CMEE_EINTERNAL, "save scenario \"%s\": JSON of %zu bytes",
                                c.name, len);
    char *json = cmee__malloc(&st->al, len + 1);
    if (!json)
        return cmee__store_fail(st, CMEE_ENOMEM, "save scenario \"%s\": out of memory", c.name);
    size_t got = 0;
    r = cmee_scenario_to_json(sc, json, len + 1, &got);
    if (r != CMEE_OK) {
        cmee__free(&st->al, json);
        return cmee__store_fail(st, r, "save scenario \"%s\": to JSON: %s", c.name,
                                cmee_status_str(r));
    }
    c.json = json;
    c.len = got;
    r = cmee__store_tx(st, "save scenario", save_tx, &c);
    cmee__free(&st->al, json);
    if (r == CMEE_OK && version)
        *version = c.version;
    return r;
}

/* Why a lookup of (name, version) found nothing: an unknown name or an unknown version. */
static cmee_status not_found(cmee_store *st, const char *op, const char *name, int version)
{
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_FIND_NAME, &s);
    if (r != CMEE_OK)
        return r;
    bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    cmee__store_reset(s);
    if (rc == SQLITE_ROW && version > 0)
        return cmee__store_fail(st, CMEE_ENOTFOUND, "%s \"%s\": no version %d", op, name, version);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return cmee__store_fail(st, CMEE_ENOTFOUND, "%s \"%s\": no such scenario", op, name);
    return cmee__store_sqlfail(st, rc, "%s \"%s\"", op, name);
}

cmee_status cmee_store_scenario_load(cmee_store *st, const char *name, int version,
                                     const cmee_market *registry, const cmee_allocator *alloc,
                                     cmee_scenario **out)
{
    if (!st)
        return CMEE_EINVAL;
    if (!name || !out)
        return cmee__store_fail(st, CMEE_EINVAL, "load scenario: %s is NULL",
                                name ? "out" : "name");
    if (version < 0)
        return cmee__store_fail(
            st, CMEE_EINVAL, "load scenario \"%s\": version: must be >= 0, got %d", name, version);
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, version ? SQL_LOAD_VERSION : SQL_LOAD_LATEST, &s);
    if (r != CMEE_OK)
        return r;
    bind_text(s, 1, name);
    if (version)
        sqlite3_bind_int(s, 2, version);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        cmee__store_reset(s);
        if (rc == SQLITE_DONE)
            return not_found(st, "load scenario", name, version);
        return cmee__store_sqlfail(st, rc, "load scenario \"%s\"", name);
    }
    /* The text stays valid until the statement is reset, after parsing. */
    int64_t v = sqlite3_column_int64(s, 0);
    const char *json = (const char *)sqlite3_column_blob(s, 1);
    size_t len = (size_t)sqlite3_column_bytes(s, 1);
    int64_t sum = sqlite3_column_int64(s, 2);
    cmee_scenario *sc = NULL;
    if (sqlite3_column_type(s, 1) != SQLITE_TEXT || !json || v < 1 || v > INT_MAX ||
        record_checksum(name, (int)v, json, len) != sum) {
        r = cmee__store_fail(st, CMEE_ECORRUPT,
                             "load scenario \"%s\" version %lld: the record is damaged "
                             "(checksum mismatch)",
                             name, (long long)v);
    } else {
        cmee_error e = {0};
        r = cmee_scenario_from_json(json, len, registry, alloc, &sc, &e);
        if (r == CMEE_ENOMEM || r == CMEE_ENOTFOUND)
            r = cmee__store_fail(st, r, "load scenario \"%s\" version %lld: %s", name, (long long)v,
                                 e.text[0] ? e.text : cmee_status_str(r));
        else if (r != CMEE_OK)
            r = cmee__store_fail(st, CMEE_ECORRUPT,
                                 "load scenario \"%s\" version %lld: the stored JSON no longer "
                                 "validates: %s",
                                 name, (long long)v, e.text[0] ? e.text : cmee_status_str(r));
        else if (strcmp(cmee_scenario_name(sc), name) != 0)
            r = cmee__store_fail(st, CMEE_ECORRUPT,
                                 "load scenario \"%s\" version %lld: the stored JSON is named "
                                 "\"%s\"",
                                 name, (long long)v, cmee_scenario_name(sc));
    }
    cmee__store_reset(s);
    if (r != CMEE_OK) {
        cmee_scenario_free(sc);
        return r;
    }
    *out = sc;
    return CMEE_OK;
}

/* Copy a stored name into a fixed buffer; false if it does not fit (a damaged store). */
static bool copy_name(char *dst, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (!t || n < 1 || n >= CMEE_SCENARIO_NAME_MAX)
        return false;
    memcpy(dst, t, (size_t)n);
    dst[n] = '\0';
    return true;
}

/* Run a listing query whose last column is count(*) OVER (), staging rows so that the
 * caller's buffer is written only when the whole listing succeeded and fits. */
typedef bool (*row_fn)(void *dst, size_t i, sqlite3_stmt *s);

static cmee_status run_listing(cmee_store *st, sqlite3_stmt *s, int count_col, row_fn row,
                               size_t elem, void *buf, size_t cap, size_t *written,
                               const char *what, bool empty_is_notfound)
{
    int rc = sqlite3_step(s);
    size_t total = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(s, count_col) : 0;
    cmee_status r = CMEE_OK;
    void *tmp = NULL;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = cmee__store_sqlfail(st, rc, "%s", what);
    } else if (total == 0 && empty_is_notfound) {
        r = cmee__store_fail(st, CMEE_ENOTFOUND, "%s: no such scenario", what);
    } else if (buf == NULL && cap == 0) {
        /* count only */
    } else if (!buf) {
        r = cmee__store_fail(st, CMEE_EINVAL, "%s: buf is NULL with cap %zu", what, cap);
    } else if (cap < total) {
        r = cmee__store_fail(st, CMEE_ENOSPACE, "%s: %zu entries, buffer holds %zu", what, total,
                             cap);
    } else if (total > 0) {
        tmp = cmee__calloc(&st->al, total, elem);
        if (!tmp)
            r = cmee__store_fail(st, CMEE_ENOMEM, "%s: out of memory", what);
        size_t i = 0;
        while (r == CMEE_OK && rc == SQLITE_ROW) {
            if (i == total || !row((char *)tmp + i * elem, i, s))
                r = cmee__store_fail(st, CMEE_ECORRUPT, "%s: damaged entry %zu", what, i);
            i++;
            rc = sqlite3_step(s);
        }
        if (r == CMEE_OK && rc != SQLITE_DONE)
            r = cmee__store_sqlfail(st, rc, "%s", what);
        if (r == CMEE_OK && i != total)
            r = cmee__store_fail(st, CMEE_ECORRUPT, "%s: %zu entries, expected %zu", what, i,
                                 total);
        if (r == CMEE_OK)
            memcpy(buf, tmp, total * elem);
    }
    cmee__store_reset(s);
    cmee__free(&st->al, tmp);
    if (r == CMEE_OK)
        *written = total;
    return r;
}

static bool list_row(void *dst, size_t i, sqlite3_stmt *s)
{
    (void)i;
    cmee_store_scenario_info *e = dst;
    int64_t latest = sqlite3_column_int64(s, 1), n = sqlite3_column_int64(s, 2);
    if (!copy_name(e->name, s, 0) || latest < 1 || latest > INT_MAX || n < 1 || n > latest)
        return false;
    e->latest = (int)latest;
    e->versions = (int)n;
    e->created = sqlite3_column_int64(s, 3);
    e->updated = sqlite3_column_int64(s, 4);
    return true;
}

cmee_status cmee_store_scenario_list(cmee_store *st, cmee_store_scenario_info *buf, size_t cap,
                                     size_t *written)
{
    if (!st)
        return CMEE_EINVAL;
    if (!written)
        return cmee__store_fail(st, CMEE_EINVAL, "list scenarios: written is NULL");
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_LIST, &s);
    if (r != CMEE_OK)
        return r;
    return run_listing(st, s, 5, list_row, sizeof *buf, buf, cap, written, "list scenarios", false);
}

static bool version_row(void *dst, size_t i, sqlite3_stmt *s)
{
    (void)i;
    cmee_store_version_info *e = dst;
    int64_t v = sqlite3_column_int64(s, 0), size = sqlite3_column_int64(s, 2);
    if (v < 1 || v > INT_MAX || size < 1)
        return false;
    e->version = (int)v;
    e->created = sqlite3_column_int64(s, 1);
    e->size = (size_t)size;
    return true;
}

cmee_status cmee_store_scenario_versions(cmee_store *st, const char *name,
                                         cmee_store_version_info *buf, size_t cap, size_t *written)
{
    if (!st)
        return CMEE_EINVAL;
    if (!name || !written)
        return cmee__store_fail(st, CMEE_EINVAL, "list versions: %s is NULL",
                                name ? "written" : "name");
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_VERSIONS, &s);
    if (r != CMEE_OK)
        return r;
    bind_text(s, 1, name);
    char what[96];
    cmee__fmt(what, sizeof what, "list versions of \"%s\"", name);
    return run_listing(st, s, 3, version_row, sizeof *buf, buf, cap, written, what, true);
}

static cmee_status delete_tx(cmee_store *st, void *ud)
{
    const char *name = ud;
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_DELETE, &s);
    if (r != CMEE_OK)
        return r;
    bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    cmee__store_reset(s);
    if (rc != SQLITE_DONE)
        return cmee__store_sqlfail(st, rc, "delete scenario \"%s\"", name);
    if (sqlite3_changes(st->db) == 0)
        return cmee__store_fail(st, CMEE_ENOTFOUND, "delete scenario \"%s\": no such scenario",
                                name);
    return CMEE_OK;
}

cmee_status cmee_store_scenario_delete(cmee_store *st, const char *name)
{
    if (!st)
        return CMEE_EINVAL;
    if (!name)
        return cmee__store_fail(st, CMEE_EINVAL, "delete scenario: name is NULL");
    return cmee__store_tx(st, "delete scenario", delete_tx, (void *)name);
}

/* ---- checking ------------------------------------------------------------------------- */

static const char SQL_INTEGRITY[] = "PRAGMA integrity_check";
static const char SQL_FK_CHECK[] = "PRAGMA foreign_key_check";

cmee_status cmee_store_check(cmee_store *st)
{
    if (!st)
        return CMEE_EINVAL;
    sqlite3_stmt *s = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_INTEGRITY, &s);
    if (r != CMEE_OK)
        return r;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW)
        r = cmee__store_sqlfail(st, rc, "check: integrity_check");
    else if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0)
        r = cmee__store_fail(st, CMEE_ECORRUPT, "check: %s",
                             (const char *)sqlite3_column_text(s, 0));
    cmee__store_reset(s);
    if (r != CMEE_OK)
        return r;

    if ((r = cmee__store_prepare(st, SQL_FK_CHECK, &s)) != CMEE_OK)
        return r;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = cmee__store_fail(st, CMEE_ECORRUPT, "check: a row of table %s has no parent",
                             (const char *)sqlite3_column_text(s, 0));
    else if (rc != SQLITE_DONE)
        r = cmee__store_sqlfail(st, rc, "check: foreign_key_check");
    cmee__store_reset(s);
    if (r != CMEE_OK)
        return r;

    if ((r = cmee__store_prepare(st, SQL_SUMMARY_CHECK, &s)) != CMEE_OK)
        return r;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = cmee__store_fail(st, CMEE_ECORRUPT,
                             "check: scenario \"%.63s\": its summary does not match its versions",
                             (const char *)sqlite3_column_text(s, 0));
    else if (rc != SQLITE_DONE)
        r = cmee__store_sqlfail(st, rc, "check: scenario summaries");
    cmee__store_reset(s);
    if (r != CMEE_OK)
        return r;

    if ((r = cmee__store_prepare(st, SQL_ALL_RECORDS, &s)) != CMEE_OK)
        return r;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char name[CMEE_SCENARIO_NAME_MAX];
        int64_t v = sqlite3_column_int64(s, 1);
        const void *json = sqlite3_column_blob(s, 2);
        size_t len = (size_t)sqlite3_column_bytes(s, 2);
        if (!copy_name(name, s, 0) || v < 1 || v > INT_MAX || !json ||
            record_checksum(name, (int)v, json, len) != sqlite3_column_int64(s, 3)) {
            r = cmee__store_fail(st, CMEE_ECORRUPT,
                                 "check: scenario \"%.63s\" version %lld is damaged",
                                 (const char *)sqlite3_column_text(s, 0), (long long)v);
            break;
        }
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(st, rc, "check: read records");
    cmee__store_reset(s);
    if (r == CMEE_OK)
        r = cmee__store_market_events_check(st);
    return r;
}
