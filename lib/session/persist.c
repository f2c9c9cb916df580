/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sessions in the store: the session's tables (schema versions 2, 3, 4 and 6, see
 * lib/store/store.c and docs/store.md), one transaction per logical change, and loading a
 * session back exactly as it was last committed.
 *
 * What a commit writes: the session row (clock, balance, record counts), the positions and the
 * realised P&L per symbol (replaced whole: a handful of rows), the orders and options marked
 * dirty (upserted), the ledger entries and scenario records added since the last commit
 * (appended; the ledger is never updated) and, after a cancellation, the scenario records'
 * cancellation times. Every row carries an FNV-1a checksum over the session id, a tag naming
 * its table and every field, so that a torn, altered or misplaced row is reported as
 * CMEE_ECORRUPT on load instead of being believed.
 *
 * Doubles are bound and read as 8-byte IEEE values. Their columns are declared without a type
 * (BLOB affinity) and checked to hold a 'real': a REAL-affinity column writes integral values
 * as integers, which turns -0.0 into 0.0, and the round trip must be exact.
 */
#include <limits.h>
#include <string.h>

#include "session/session_int.h"
#include "store/store_int.h"

/* ---- checksums ------------------------------------------------------------------------ */

static uint64_t h_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return cmee__store_fnv(h, b, sizeof b);
}

static uint64_t h_i64(uint64_t h, int64_t v)
{
    return h_u64(h, (uint64_t)v);
}

static uint64_t h_f64(uint64_t h, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return h_u64(h, bits);
}

static uint64_t h_str(uint64_t h, const char *s)
{
    return cmee__store_fnv(h, s, strlen(s) + 1);
}

/* Every row's checksum starts from its table and its session, so a row cannot pass for one of
 * another table or session. */
static uint64_t h_start(const char *table, const char *session)
{
    return h_str(h_str(CMEE__FNV_OFFSET, table), session);
}

static int64_t h_end(uint64_t h)
{
    int64_t v;
    memcpy(&v, &h, sizeof v); /* SQLite integers are signed 64-bit */
    return v;
}

static uint64_t i2u(int64_t v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static int64_t u2i(uint64_t u)
{
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* The margin settings that schema version 4 gives the rows written before it: a cash account
 * with cmee_session_config_init()'s caps and levels. Fixed: they are what the migration wrote. */
static bool margin_as_migrated(const cmee_session *s)
{
    static const double caps[CMEE_SESSION_CLASSES] = {5, 50, 20, 20, 5, 10, 5};
    const cmee_session_config *c = &s->cfg;
    for (int i = 0; i < CMEE_SESSION_CLASSES; i++)
        if (memcmp(&c->max_leverage[i], &caps[i], sizeof caps[i]) != 0)
            return false;
    return c->leverage == 1.0 && c->margin_call_level == 1.0 && c->maintenance_level == 0.5 &&
           !s->margin_called;
}

/* The session row: the configuration, the clock and the counts of the records it owns. */
static int64_t session_sum(const cmee_session *s, int64_t now)
{
    const cmee_session_config *c = &s->cfg;
    uint64_t h = h_start("session", c->id);
    h = h_str(h, c->label);
    h = h_u64(h, c->seed);
    h = h_i64(h, c->start_time);
    h = h_f64(h, c->speed);
    h = h_i64(h, c->paused);
    h = h_i64(h, c->manual_clock);
    h = h_i64(h, c->initial_balance);
    h = h_str(h, c->currency);
    h = h_f64(h, c->fee_rate);
    h = h_f64(h, c->spread_bps);
    h = h_f64(h, c->option_payout);
    char syms[CMEE_SESSION_MAX_SYMBOLS * CMEE_SYMBOL_MAX];
    cmee__session_symbols_text(c, syms, sizeof syms);
    h = h_str(h, syms);
    /* The fill model (schema version 3) counts only when it is not the quote model, so rows
     * written before it existed, all of the quote model, keep their checksums. */
    if (c->fill_model != CMEE_FILL_QUOTE)
        h = h_i64(h, c->fill_model);
    /* Likewise the margin settings and state (schema version 4): they count unless they are
     * what the migration gave the rows written before them. */
    if (!margin_as_migrated(s)) {
        h = h_f64(h, c->leverage);
        for (int i = 0; i < CMEE_SESSION_CLASSES; i++)
            h = h_f64(h, c->max_leverage[i]);
        h = h_f64(h, c->margin_call_level);
        h = h_f64(h, c->maintenance_level);
        h = h_i64(h, s->margin_called);
    }
    /* And the market impact (schema version 6) unless it is the migration's: off, 1, 5 min. */
    if (c->impact.model != CMEE_IMPACT_NONE || c->impact.coefficient != 1.0 ||
        c->impact.half_life != 300000) {
        h = h_i64(h, c->impact.model);
        h = h_f64(h, c->impact.coefficient);
        h = h_i64(h, c->impact.half_life);
    }
    /* And the action log's (schema version 7): the epoch, the action count and whether the
     * session is replayable count unless they are what the migration gave older rows. */
    if (s->replayable || s->epoch != 1 || s->nacts != 0) {
        h = h_u64(h, s->epoch);
        h = h_u64(h, s->nacts);
        h = h_i64(h, s->replayable);
    }
    h = h_f64(h, s->speed);
    h = h_i64(h, s->paused);
    h = h_i64(h, s->manual);
    h = h_i64(h, now);
    h = h_i64(h, s->balance);
    h = h_u64(h, s->norders);
    h = h_u64(h, s->noptions);
    h = h_u64(h, s->nledger);
    h = h_u64(h, s->nsapps);
    return h_end(h);
}

static int64_t scenario_sum(const char *id, size_t seq, const cmee__sapp *a)
{
    uint64_t h = h_start("session_scenario", id);
    h = h_u64(h, seq);
    h = h_u64(h, a->id);
    h = h_i64(h, a->t0);
    h = h_i64(h, a->cancelled);
    h = h_str(h, a->json);
    return h_end(h);
}

static int64_t position_sum(const char *id, const cmee__pos *p)
{
    uint64_t h = h_start("session_position", id);
    h = h_str(h, p->symbol);
    h = h_f64(h, p->qty);
    h = h_f64(h, p->avg);
    h = h_i64(h, p->realised);
    h = h_f64(h, p->sl);
    h = h_f64(h, p->tp);
    return h_end(h);
}

static int64_t realised_sum(const char *id, const cmee__rsym *r)
{
    uint64_t h = h_start("session_realised", id);
    h = h_str(h, r->symbol);
    h = h_i64(h, r->realised);
    return h_end(h);
}

static int64_t order_sum(const char *id, const cmee_order *o)
{
    uint64_t h = h_start("session_order", id);
    h = h_u64(h, o->id);
    h = h_str(h, o->symbol);
    h = h_i64(h, o->side);
    h = h_i64(h, o->type);
    h = h_i64(h, o->state);
    h = h_f64(h, o->quantity);
    h = h_f64(h, o->price);
    h = h_f64(h, o->stop_loss);
    h = h_f64(h, o->take_profit);
    h = h_i64(h, o->created);
    h = h_i64(h, o->closed);
    h = h_f64(h, o->fill_price);
    h = h_i64(h, o->fee);
    return h_end(h);
}

static int64_t option_sum(const char *id, const cmee_option *o)
{
    uint64_t h = h_start("session_option", id);
    h = h_u64(h, o->id);
    h = h_str(h, o->symbol);
    h = h_i64(h, o->kind);
    h = h_i64(h, o->state);
    h = h_i64(h, o->stake);
    h = h_f64(h, o->payout);
    h = h_i64(h, o->opened);
    h = h_i64(h, o->expires);
    h = h_f64(h, o->strike);
    h = h_f64(h, o->settle_price);
    h = h_i64(h, o->paid);
    return h_end(h);
}

static int64_t action_sum(const char *id, uint64_t epoch, const cmee_session_action *a)
{
    uint64_t h = h_start("session_action", id);
    h = h_u64(h, epoch);
    h = h_u64(h, a->seq);
    h = h_i64(h, a->time);
    h = h_i64(h, a->kind);
    h = h_str(h, a->kind == CMEE_ACTION_OPTION ? a->option.symbol
                 : a->kind == CMEE_ACTION_PROTECT ? a->symbol
                                                  : a->order.symbol);
    h = h_i64(h, a->order.side);
    h = h_i64(h, a->order.type);
    h = h_f64(h, a->order.quantity);
    h = h_f64(h, a->order.price);
    h = h_f64(h, a->kind == CMEE_ACTION_PROTECT ? a->stop_loss : a->order.stop_loss);
    h = h_f64(h, a->kind == CMEE_ACTION_PROTECT ? a->take_profit : a->order.take_profit);
    h = h_i64(h, a->option.kind);
    h = h_i64(h, a->option.stake);
    h = h_i64(h, a->option.duration);
    h = h_f64(h, a->option.payout);
    h = h_u64(h, a->ref);
    h = h_f64(h, a->speed);
    h = h_i64(h, a->ms);
    h = h_str(h, a->scenario);
    return h_end(h);
}

static int64_t ledger_sum(const char *id, const cmee_ledger_entry *e)
{
    uint64_t h = h_start("session_ledger", id);
    h = h_u64(h, e->seq);
    h = h_i64(h, e->time);
    h = h_i64(h, e->kind);
    h = h_i64(h, e->amount);
    h = h_i64(h, e->balance);
    h = h_u64(h, e->ref);
    h = h_str(h, e->symbol);
    return h_end(h);
}

/* ---- statements ----------------------------------------------------------------------- */

static const char SQL_INSERT_SESSION[] =
    "INSERT INTO session (id, created, label, seed, start_time, speed, paused, manual_clock,"
    " initial_balance, currency, fee_rate, spread_bps, option_payout, clock_speed, clock_paused,"
    " clock_manual, now, balance, order_count, option_count, ledger_count, scenario_count,"
    " checksum, symbols, fill_model, leverage, max_leverage_crypto, max_leverage_fx,"
    " max_leverage_metal, max_leverage_index, max_leverage_stock, max_leverage_commodity,"
    " max_leverage_other, margin_call_level, maintenance_level, margin_called, impact_model,"
    " impact_coefficient, impact_half_life, epoch, action_count, replayable)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36,"
    " ?37, ?38, ?39, ?40, ?41, ?42)";
static const char SQL_UPDATE_SESSION[] =
    "UPDATE session SET clock_speed = ?2, clock_paused = ?3, clock_manual = ?4, now = ?5,"
    " balance = ?6, order_count = ?7, option_count = ?8, ledger_count = ?9,"
    " scenario_count = ?10, checksum = ?11, margin_called = ?12, epoch = ?13,"
    " action_count = ?14, replayable = ?15 WHERE id = ?1";
static const char SQL_LOAD_SESSION[] =
    "SELECT label, seed, start_time, speed, paused, manual_clock, initial_balance, currency,"
    " fee_rate, spread_bps, option_payout, clock_speed, clock_paused, clock_manual, now,"
    " balance, order_count, option_count, ledger_count, scenario_count, checksum,"
    " (SELECT count(*) FROM session_position WHERE session = ?1),"
    " (SELECT count(*) FROM session_realised WHERE session = ?1), symbols, fill_model,"
    " leverage, max_leverage_crypto, max_leverage_fx, max_leverage_metal, max_leverage_index,"
    " max_leverage_stock, max_leverage_commodity, max_leverage_other, margin_call_level,"
    " maintenance_level, margin_called, impact_model, impact_coefficient, impact_half_life,"
    " epoch, action_count, replayable FROM session WHERE id = ?1";

static const char SQL_INSERT_SCENARIO[] =
    "INSERT INTO session_scenario (session, seq, app_id, t0, cancelled, json, checksum)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_CANCEL_SCENARIO[] =
    "UPDATE session_scenario SET cancelled = ?3, checksum = ?4 WHERE session = ?1 AND seq = ?2";
static const char SQL_LOAD_SCENARIOS[] =
    "SELECT seq, app_id, t0, cancelled, json, checksum FROM session_scenario"
    " WHERE session = ?1 ORDER BY seq";

static const char SQL_CLEAR_POSITIONS[] = "DELETE FROM session_position WHERE session = ?1";
static const char SQL_INSERT_POSITION[] =
    "INSERT INTO session_position (session, symbol, quantity, avg_price, realised, stop_loss,"
    " take_profit, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_LOAD_POSITIONS[] =
    "SELECT symbol, quantity, avg_price, realised, stop_loss, take_profit, checksum"
    " FROM session_position WHERE session = ?1 ORDER BY symbol";

static const char SQL_CLEAR_REALISED[] = "DELETE FROM session_realised WHERE session = ?1";
static const char SQL_INSERT_REALISED[] =
    "INSERT INTO session_realised (session, symbol, realised, checksum) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_LOAD_REALISED[] =
    "SELECT symbol, realised, checksum FROM session_realised WHERE session = ?1"
    " ORDER BY symbol";

static const char SQL_UPSERT_ORDER[] =
    "INSERT INTO session_order (session, id, symbol, side, type, state, quantity, price,"
    " stop_loss, take_profit, created, closed, fill_price, fee, checksum)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    " ON CONFLICT (session, id) DO UPDATE SET symbol = excluded.symbol, side = excluded.side,"
    " type = excluded.type, state = excluded.state, quantity = excluded.quantity,"
    " price = excluded.price, stop_loss = excluded.stop_loss,"
    " take_profit = excluded.take_profit, created = excluded.created,"
    " closed = excluded.closed, fill_price = excluded.fill_price, fee = excluded.fee,"
    " checksum = excluded.checksum";
static const char SQL_LOAD_ORDERS[] =
    "SELECT id, symbol, side, type, state, quantity, price, stop_loss, take_profit, created,"
    " closed, fill_price, fee, checksum FROM session_order WHERE session = ?1 ORDER BY id";

static const char SQL_UPSERT_OPTION[] =
    "INSERT INTO session_option (session, id, symbol, kind, state, stake, payout, opened,"
    " expires, strike, settle_price, paid, checksum)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    " ON CONFLICT (session, id) DO UPDATE SET symbol = excluded.symbol, kind = excluded.kind,"
    " state = excluded.state, stake = excluded.stake, payout = excluded.payout,"
    " opened = excluded.opened, expires = excluded.expires, strike = excluded.strike,"
    " settle_price = excluded.settle_price, paid = excluded.paid,"
    " checksum = excluded.checksum";
static const char SQL_LOAD_OPTIONS[] =
    "SELECT id, symbol, kind, state, stake, payout, opened, expires, strike, settle_price, paid,"
    " checksum FROM session_option WHERE session = ?1 ORDER BY id";

static const char SQL_INSERT_LEDGER[] =
    "INSERT INTO session_ledger (session, seq, time, kind, amount, balance, ref, symbol,"
    " checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_LOAD_LEDGER[] =
    "SELECT seq, time, kind, amount, balance, ref, symbol, checksum FROM session_ledger"
    " WHERE session = ?1 ORDER BY seq";

static const char SQL_INSERT_ACTION[] =
    "INSERT INTO session_action (session, epoch, seq, time, kind, symbol, side, type, quantity,"
    " price, stop_loss, take_profit, option_kind, stake, duration, payout, ref, speed, ms,"
    " scenario, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16, ?17, ?18, ?19, ?20, ?21)";
static const char SQL_LOAD_ACTIONS[] =
    "SELECT seq, time, kind, symbol, side, type, quantity, price, stop_loss, take_profit,"
    " option_kind, stake, duration, payout, ref, speed, ms, scenario, checksum"
    " FROM session_action WHERE session = ?1 AND epoch = ?2 ORDER BY seq";
/* A reset: the epoch's orders, options and ledger move to the history tables unchanged; its
 * scenario records, positions and realised P&L go (the new epoch writes its own). */
static const char SQL_ARCHIVE_ORDERS[] =
    "INSERT INTO session_order_epoch (session, epoch, id, symbol, side, type, state, quantity,"
    " price, stop_loss, take_profit, created, closed, fill_price, fee, checksum)"
    " SELECT session, ?2, id, symbol, side, type, state, quantity, price, stop_loss,"
    " take_profit, created, closed, fill_price, fee, checksum FROM session_order"
    " WHERE session = ?1";
static const char SQL_ARCHIVE_OPTIONS[] =
    "INSERT INTO session_option_epoch (session, epoch, id, symbol, kind, state, stake, payout,"
    " opened, expires, strike, settle_price, paid, checksum)"
    " SELECT session, ?2, id, symbol, kind, state, stake, payout, opened, expires, strike,"
    " settle_price, paid, checksum FROM session_option WHERE session = ?1";
static const char SQL_ARCHIVE_LEDGER[] =
    "INSERT INTO session_ledger_epoch (session, epoch, seq, time, kind, amount, balance, ref,"
    " symbol, checksum) SELECT session, ?2, seq, time, kind, amount, balance, ref, symbol,"
    " checksum FROM session_ledger WHERE session = ?1";
static const char SQL_CLEAR_ORDERS[] = "DELETE FROM session_order WHERE session = ?1";
static const char SQL_CLEAR_OPTIONS[] = "DELETE FROM session_option WHERE session = ?1";
static const char SQL_CLEAR_LEDGER[] = "DELETE FROM session_ledger WHERE session = ?1";
static const char SQL_CLEAR_SCENARIOS[] = "DELETE FROM session_scenario WHERE session = ?1";
/* A past epoch's records, in the column order of the current ones' loads. */
static const char SQL_PAST_COUNTS[] =
    "SELECT (SELECT count(*) FROM session_order_epoch WHERE session = ?1 AND epoch = ?2),"
    " (SELECT count(*) FROM session_option_epoch WHERE session = ?1 AND epoch = ?2),"
    " (SELECT count(*) FROM session_ledger_epoch WHERE session = ?1 AND epoch = ?2),"
    " (SELECT count(*) FROM session_action WHERE session = ?1 AND epoch = ?2),"
    " (SELECT balance FROM session_ledger_epoch WHERE session = ?1 AND epoch = ?2"
    "  ORDER BY seq DESC LIMIT 1)";
static const char SQL_PAST_ORDERS[] =
    "SELECT id, symbol, side, type, state, quantity, price, stop_loss, take_profit, created,"
    " closed, fill_price, fee, checksum FROM session_order_epoch WHERE session = ?1"
    " AND epoch = ?2 ORDER BY id";
static const char SQL_PAST_OPTIONS[] =
    "SELECT id, symbol, kind, state, stake, payout, opened, expires, strike, settle_price, paid,"
    " checksum FROM session_option_epoch WHERE session = ?1 AND epoch = ?2 ORDER BY id";
static const char SQL_PAST_LEDGER[] =
    "SELECT seq, time, kind, amount, balance, ref, symbol, checksum FROM session_ledger_epoch"
    " WHERE session = ?1 AND epoch = ?2 ORDER BY seq";
static const char SQL_LIST_SESSIONS[] =
    "SELECT id, count(*) OVER () FROM session ORDER BY created, rowid";
static const char SQL_DELETE_SESSION[] = "DELETE FROM session WHERE id = ?1";

/* A read transaction, so that a load sees one snapshot of all the session's tables. */
static const char SQL_READ_BEGIN[] = "BEGIN DEFERRED";

/* ---- writing -------------------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *q, int i, const char *text)
{
    sqlite3_bind_text(q, i, text, -1, SQLITE_STATIC);
}

/* Step a statement that returns no rows and reset it. */
static cmee_status run(cmee_store *st, sqlite3_stmt *q, const char *what, const char *id)
{
    int rc = sqlite3_step(q);
    cmee__store_reset(q);
    if (rc != SQLITE_DONE)
        return cmee__store_sqlfail(st, rc, "save session \"%s\": %s", id, what);
    return CMEE_OK;
}

typedef struct persist_ctx {
    cmee_session *s;
    bool create;
} persist_ctx;

static cmee_status write_session_row(cmee_store *st, const cmee_session *s, bool create)
{
    const cmee_session_config *c = &s->cfg;
    int64_t now = s->processed;
    int64_t sum = session_sum(s, now);
    sqlite3_stmt *q = NULL;
    cmee_status r;
    if (create) {
        if ((r = cmee__store_prepare(st, SQL_INSERT_SESSION, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, c->id);
        sqlite3_bind_int64(q, 2, cmee__store_now_ms());
        bind_text(q, 3, c->label);
        sqlite3_bind_int64(q, 4, u2i(c->seed));
        sqlite3_bind_int64(q, 5, c->start_time);
        sqlite3_bind_double(q, 6, c->speed);
        sqlite3_bind_int(q, 7, c->paused);
        sqlite3_bind_int(q, 8, c->manual_clock);
        sqlite3_bind_int64(q, 9, c->initial_balance);
        bind_text(q, 10, c->currency);
        sqlite3_bind_double(q, 11, c->fee_rate);
        sqlite3_bind_double(q, 12, c->spread_bps);
        sqlite3_bind_double(q, 13, c->option_payout);
        sqlite3_bind_double(q, 14, s->speed);
        sqlite3_bind_int(q, 15, s->paused);
        sqlite3_bind_int(q, 16, s->manual);
        sqlite3_bind_int64(q, 17, now);
        sqlite3_bind_int64(q, 18, s->balance);
        sqlite3_bind_int64(q, 19, (int64_t)s->norders);
        sqlite3_bind_int64(q, 20, (int64_t)s->noptions);
        sqlite3_bind_int64(q, 21, (int64_t)s->nledger);
        sqlite3_bind_int64(q, 22, (int64_t)s->nsapps);
        sqlite3_bind_int64(q, 23, sum);
        char syms[CMEE_SESSION_MAX_SYMBOLS * CMEE_SYMBOL_MAX];
        cmee__session_symbols_text(c, syms, sizeof syms);
        bind_text(q, 24, syms);
        sqlite3_bind_int(q, 25, (int)c->fill_model);
        sqlite3_bind_double(q, 26, c->leverage);
        for (int i = 0; i < CMEE_SESSION_CLASSES; i++)
            sqlite3_bind_double(q, 27 + i, c->max_leverage[i]);
        sqlite3_bind_double(q, 34, c->margin_call_level);
        sqlite3_bind_double(q, 35, c->maintenance_level);
        sqlite3_bind_int(q, 36, s->margin_called);
        sqlite3_bind_int(q, 37, (int)c->impact.model);
        sqlite3_bind_double(q, 38, c->impact.coefficient);
        sqlite3_bind_int64(q, 39, c->impact.half_life);
        sqlite3_bind_int64(q, 40, u2i(s->epoch));
        sqlite3_bind_int64(q, 41, (int64_t)s->nacts);
        sqlite3_bind_int(q, 42, s->replayable);
        int rc = sqlite3_step(q);
        cmee__store_reset(q);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
            return cmee__store_fail(st, CMEE_EEXIST,
                                    "save session \"%s\": a session with this id exists", c->id);
        if (rc != SQLITE_DONE)
            return cmee__store_sqlfail(st, rc, "save session \"%s\"", c->id);
        return CMEE_OK;
    }
    if ((r = cmee__store_prepare(st, SQL_UPDATE_SESSION, &q)) != CMEE_OK)
        return r;
    bind_text(q, 1, c->id);
    sqlite3_bind_double(q, 2, s->speed);
    sqlite3_bind_int(q, 3, s->paused);
    sqlite3_bind_int(q, 4, s->manual);
    sqlite3_bind_int64(q, 5, now);
    sqlite3_bind_int64(q, 6, s->balance);
    sqlite3_bind_int64(q, 7, (int64_t)s->norders);
    sqlite3_bind_int64(q, 8, (int64_t)s->noptions);
    sqlite3_bind_int64(q, 9, (int64_t)s->nledger);
    sqlite3_bind_int64(q, 10, (int64_t)s->nsapps);
    sqlite3_bind_int64(q, 11, sum);
    sqlite3_bind_int(q, 12, s->margin_called);
    sqlite3_bind_int64(q, 13, u2i(s->epoch));
    sqlite3_bind_int64(q, 14, (int64_t)s->nacts);
    sqlite3_bind_int(q, 15, s->replayable);
    if ((r = run(st, q, "session row", c->id)) != CMEE_OK)
        return r;
    if (sqlite3_changes(st->db) == 0)
        return cmee__store_fail(st, CMEE_ENOTFOUND,
                                "save session \"%s\": the session is no longer in the store "
                                "(deleted?)",
                                c->id);
    return CMEE_OK;
}

static cmee_status write_scenarios(cmee_store *st, const cmee_session *s, bool create)
{
    const char *id = s->cfg.id;
    sqlite3_stmt *q = NULL;
    cmee_status r;
    size_t first = create ? 0 : s->saved_sapps;
    if (!create && s->sapps_dirty) {
        for (size_t i = 0; i < first && i < s->nsapps; i++) {
            if ((r = cmee__store_prepare(st, SQL_CANCEL_SCENARIO, &q)) != CMEE_OK)
                return r;
            bind_text(q, 1, id);
            sqlite3_bind_int64(q, 2, (int64_t)i + 1);
            sqlite3_bind_int64(q, 3, s->sapps[i].cancelled);
            sqlite3_bind_int64(q, 4, scenario_sum(id, i + 1, &s->sapps[i]));
            if ((r = run(st, q, "scenario record", id)) != CMEE_OK)
                return r;
        }
    }
    for (size_t i = first; i < s->nsapps; i++) {
        const cmee__sapp *a = &s->sapps[i];
        if ((r = cmee__store_prepare(st, SQL_INSERT_SCENARIO, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        sqlite3_bind_int64(q, 2, (int64_t)i + 1);
        sqlite3_bind_int64(q, 3, a->id);
        sqlite3_bind_int64(q, 4, a->t0);
        sqlite3_bind_int64(q, 5, a->cancelled);
        bind_text(q, 6, a->json);
        sqlite3_bind_int64(q, 7, scenario_sum(id, i + 1, a));
        if ((r = run(st, q, "scenario record", id)) != CMEE_OK)
            return r;
    }
    return CMEE_OK;
}

/* Positions and realised P&L per symbol: a few rows, replaced whole. */
static cmee_status write_positions(cmee_store *st, const cmee_session *s, bool create)
{
    const char *id = s->cfg.id;
    sqlite3_stmt *q = NULL;
    cmee_status r;
    if (!create) {
        if ((r = cmee__store_prepare(st, SQL_CLEAR_POSITIONS, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        if ((r = run(st, q, "positions", id)) != CMEE_OK)
            return r;
        if ((r = cmee__store_prepare(st, SQL_CLEAR_REALISED, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        if ((r = run(st, q, "realised P&L", id)) != CMEE_OK)
            return r;
    }
    for (size_t i = 0; i < s->npos; i++) {
        const cmee__pos *p = &s->pos[i];
        if ((r = cmee__store_prepare(st, SQL_INSERT_POSITION, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        bind_text(q, 2, p->symbol);
        sqlite3_bind_double(q, 3, p->qty);
        sqlite3_bind_double(q, 4, p->avg);
        sqlite3_bind_int64(q, 5, p->realised);
        sqlite3_bind_double(q, 6, p->sl);
        sqlite3_bind_double(q, 7, p->tp);
        sqlite3_bind_int64(q, 8, position_sum(id, p));
        if ((r = run(st, q, "position", id)) != CMEE_OK)
            return r;
    }
    for (size_t i = 0; i < s->nrsym; i++) {
        const cmee__rsym *p = &s->rsym[i];
        if ((r = cmee__store_prepare(st, SQL_INSERT_REALISED, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        bind_text(q, 2, p->symbol);
        sqlite3_bind_int64(q, 3, p->realised);
        sqlite3_bind_int64(q, 4, realised_sum(id, p));
        if ((r = run(st, q, "realised P&L", id)) != CMEE_OK)
            return r;
    }
    return CMEE_OK;
}

static cmee_status write_orders(cmee_store *st, const cmee_session *s, bool create)
{
    const char *id = s->cfg.id;
    for (size_t i = 0; i < s->norders; i++) {
        if (!create && !s->order_dirty[i])
            continue;
        const cmee_order *o = &s->orders[i];
        sqlite3_stmt *q = NULL;
        cmee_status r = cmee__store_prepare(st, SQL_UPSERT_ORDER, &q);
        if (r != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        sqlite3_bind_int64(q, 2, u2i(o->id));
        bind_text(q, 3, o->symbol);
        sqlite3_bind_int(q, 4, (int)o->side);
        sqlite3_bind_int(q, 5, (int)o->type);
        sqlite3_bind_int(q, 6, (int)o->state);
        sqlite3_bind_double(q, 7, o->quantity);
        sqlite3_bind_double(q, 8, o->price);
        sqlite3_bind_double(q, 9, o->stop_loss);
        sqlite3_bind_double(q, 10, o->take_profit);
        sqlite3_bind_int64(q, 11, o->created);
        sqlite3_bind_int64(q, 12, o->closed);
        sqlite3_bind_double(q, 13, o->fill_price);
        sqlite3_bind_int64(q, 14, o->fee);
        sqlite3_bind_int64(q, 15, order_sum(id, o));
        if ((r = run(st, q, "order", id)) != CMEE_OK)
            return r;
    }
    return CMEE_OK;
}

static cmee_status write_options(cmee_store *st, const cmee_session *s, bool create)
{
    const char *id = s->cfg.id;
    for (size_t i = 0; i < s->noptions; i++) {
        if (!create && !s->option_dirty[i])
            continue;
        const cmee_option *o = &s->options[i];
        sqlite3_stmt *q = NULL;
        cmee_status r = cmee__store_prepare(st, SQL_UPSERT_OPTION, &q);
        if (r != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        sqlite3_bind_int64(q, 2, u2i(o->id));
        bind_text(q, 3, o->symbol);
        sqlite3_bind_int(q, 4, (int)o->kind);
        sqlite3_bind_int(q, 5, (int)o->state);
        sqlite3_bind_int64(q, 6, o->stake);
        sqlite3_bind_double(q, 7, o->payout);
        sqlite3_bind_int64(q, 8, o->opened);
        sqlite3_bind_int64(q, 9, o->expires);
        sqlite3_bind_double(q, 10, o->strike);
        sqlite3_bind_double(q, 11, o->settle_price);
        sqlite3_bind_int64(q, 12, o->paid);
        sqlite3_bind_int64(q, 13, option_sum(id, o));
        if ((r = run(st, q, "option", id)) != CMEE_OK)
            return r;
    }
    return CMEE_OK;
}

/* The ledger is append-only: new entries are inserted, old ones never touched. */
static cmee_status write_ledger(cmee_store *st, const cmee_session *s, bool create)
{
    const char *id = s->cfg.id;
    for (size_t i = create ? 0 : s->saved_ledger; i < s->nledger; i++) {
        const cmee_ledger_entry *e = &s->ledger[i];
        sqlite3_stmt *q = NULL;
        cmee_status r = cmee__store_prepare(st, SQL_INSERT_LEDGER, &q);
        if (r != CMEE_OK)
            return r;
        bind_text(q, 1, id);
        sqlite3_bind_int64(q, 2, u2i(e->seq));
        sqlite3_bind_int64(q, 3, e->time);
        sqlite3_bind_int(q, 4, (int)e->kind);
        sqlite3_bind_int64(q, 5, e->amount);
        sqlite3_bind_int64(q, 6, e->balance);
        sqlite3_bind_int64(q, 7, u2i(e->ref));
        bind_text(q, 8, e->symbol);
        sqlite3_bind_int64(q, 9, ledger_sum(id, e));
        if ((r = run(st, q, "ledger entry", id)) != CMEE_OK)
            return r;
    }
    return CMEE_OK;
}

/* The action log is append-only too. */
static cmee_status write_actions(cmee_store *st, const cmee_session *s, bool create)
{
    const char *id = s->cfg.id;
    for (size_t i = create ? 0 : s->saved_acts; i < s->nacts; i++) {
        const cmee_session_action *a = &s->acts[i];
        sqlite3_stmt *q = NULL;
        cmee_status r = cmee__store_prepare(st, SQL_INSERT_ACTION, &q);
        if (r != CMEE_OK)
            return r;
        bool prot = a->kind == CMEE_ACTION_PROTECT;
        bind_text(q, 1, id);
        sqlite3_bind_int64(q, 2, u2i(s->epoch));
        sqlite3_bind_int64(q, 3, u2i(a->seq));
        sqlite3_bind_int64(q, 4, a->time);
        sqlite3_bind_int(q, 5, (int)a->kind);
        bind_text(q, 6, a->kind == CMEE_ACTION_OPTION ? a->option.symbol
                        : prot                        ? a->symbol
                                                      : a->order.symbol);
        sqlite3_bind_int(q, 7, (int)a->order.side);
        sqlite3_bind_int(q, 8, (int)a->order.type);
        sqlite3_bind_double(q, 9, a->order.quantity);
        sqlite3_bind_double(q, 10, a->order.price);
        sqlite3_bind_double(q, 11, prot ? a->stop_loss : a->order.stop_loss);
        sqlite3_bind_double(q, 12, prot ? a->take_profit : a->order.take_profit);
        sqlite3_bind_int(q, 13, (int)a->option.kind);
        sqlite3_bind_int64(q, 14, a->option.stake);
        sqlite3_bind_int64(q, 15, a->option.duration);
        sqlite3_bind_double(q, 16, a->option.payout);
        sqlite3_bind_int64(q, 17, u2i(a->ref));
        sqlite3_bind_double(q, 18, a->speed);
        sqlite3_bind_int64(q, 19, a->ms);
        bind_text(q, 20, a->scenario);
        sqlite3_bind_int64(q, 21, action_sum(id, s->epoch, a));
        if ((r = run(st, q, "action", id)) != CMEE_OK)
            return r;
    }
    return CMEE_OK;
}

/* Run one statement of a reset's archive step. */
static cmee_status archive_run(cmee_store *st, const cmee_session *s, sqlite3_stmt *q, bool epoch)
{
    bind_text(q, 1, s->cfg.id);
    if (epoch)
        sqlite3_bind_int64(q, 2, u2i(s->epoch - 1));
    return run(st, q, "reset", s->cfg.id);
}

static cmee_status archive(cmee_store *st, const cmee_session *s)
{
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_ARCHIVE_ORDERS, &q);
    if (r == CMEE_OK)
        r = archive_run(st, s, q, true);
    if (r == CMEE_OK && (r = cmee__store_prepare(st, SQL_ARCHIVE_OPTIONS, &q)) == CMEE_OK)
        r = archive_run(st, s, q, true);
    if (r == CMEE_OK && (r = cmee__store_prepare(st, SQL_ARCHIVE_LEDGER, &q)) == CMEE_OK)
        r = archive_run(st, s, q, true);
    if (r == CMEE_OK && (r = cmee__store_prepare(st, SQL_CLEAR_ORDERS, &q)) == CMEE_OK)
        r = archive_run(st, s, q, false);
    if (r == CMEE_OK && (r = cmee__store_prepare(st, SQL_CLEAR_OPTIONS, &q)) == CMEE_OK)
        r = archive_run(st, s, q, false);
    if (r == CMEE_OK && (r = cmee__store_prepare(st, SQL_CLEAR_LEDGER, &q)) == CMEE_OK)
        r = archive_run(st, s, q, false);
    if (r == CMEE_OK && (r = cmee__store_prepare(st, SQL_CLEAR_SCENARIOS, &q)) == CMEE_OK)
        r = archive_run(st, s, q, false);
    return r;
}

static cmee_status persist_tx(cmee_store *st, void *ud)
{
    persist_ctx *c = ud;
    cmee_status r = c->s->archive_pending ? archive(st, c->s) : CMEE_OK;
    if (r == CMEE_OK)
        r = write_session_row(st, c->s, c->create);
    if (r == CMEE_OK)
        r = write_scenarios(st, c->s, c->create);
    if (r == CMEE_OK)
        r = write_positions(st, c->s, c->create);
    if (r == CMEE_OK)
        r = write_orders(st, c->s, c->create);
    if (r == CMEE_OK)
        r = write_options(st, c->s, c->create);
    if (r == CMEE_OK)
        r = write_ledger(st, c->s, c->create);
    if (r == CMEE_OK)
        r = write_actions(st, c->s, c->create);
    return r;
}

cmee_status cmee__session_persist(cmee_session *s, bool create)
{
    if (!s->store)
        return cmee__session_fail(s, CMEE_EINTERNAL, "save session: the session has no store");
    persist_ctx c = {s, create};
    cmee_status r = cmee__store_tx(s->store, "save session", persist_tx, &c);
    if (r != CMEE_OK)
        return cmee__session_fail(s, r, "%s", cmee_store_errmsg(s->store));
    if (s->norders)
        memset(s->order_dirty, 0, s->norders * sizeof *s->order_dirty);
    if (s->noptions)
        memset(s->option_dirty, 0, s->noptions * sizeof *s->option_dirty);
    s->saved_ledger = s->nledger;
    s->saved_sapps = s->nsapps;
    s->saved_acts = s->nacts;
    s->sapps_dirty = false;
    s->archive_pending = false;
    return CMEE_OK;
}

/* ---- loading -------------------------------------------------------------------------- */

typedef struct load_ctx {
    cmee_store *st;
    const char *id;
    cmee_error *err;
    bool past; /* reading a past epoch: the history tables */
} load_ctx;

static cmee_status load_fail(load_ctx *L, cmee_status r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a failure on the store handle and in the caller's error. */
static cmee_status load_fail(load_ctx *L, cmee_status r, const char *fmt, ...)
{
    char msg[CMEE__STORE_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cmee__store_fail(L->st, r, "load session \"%s\": %s", L->id, msg);
    return r;
}

/* The message already on the store handle, copied into the caller's error. */
static cmee_status load_report(load_ctx *L, cmee_status r)
{
    if (L->err) {
        L->err->status = r;
        L->err->field[0] = '\0';
        cmee__fmt(L->err->text, sizeof L->err->text, "%s", cmee_store_errmsg(L->st));
    }
    return r;
}

/* A row that fails its checksum or holds an impossible value; @p i is its 1-based number, or
 * 0 for a table as a whole. */
static cmee_status damaged(load_ctx *L, const char *what, size_t i)
{
    if (i)
        return load_fail(L, CMEE_ECORRUPT,
                         "%s %zu: the record is damaged (checksum mismatch or "
                         "an impossible value)",
                         what, i);
    return load_fail(L, CMEE_ECORRUPT, "%s: the records are damaged", what);
}

/* Copy stored text into a fixed buffer; false if absent or too long (a damaged row). */
static bool get_text(char *dst, size_t cap, sqlite3_stmt *q, int col, bool may_be_empty)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    int n = sqlite3_column_bytes(q, col);
    if (!t || n < 0 || (size_t)n >= cap || (!may_be_empty && n == 0) ||
        strlen((const char *)t) != (size_t)n)
        return false;
    memcpy(dst, t, (size_t)n);
    dst[n] = '\0';
    return true;
}

static double get_f64(sqlite3_stmt *q, int col)
{
    return sqlite3_column_double(q, col);
}

static int64_t get_i64(sqlite3_stmt *q, int col)
{
    return sqlite3_column_int64(q, col);
}

/* Counts of the session's records as its row states them. */
typedef struct counts {
    size_t orders, options, ledger, scenarios, positions, realised, actions;
    int64_t now, balance;
    double speed;
    bool paused, manual, margin_called, replayable;
    uint64_t epoch;
    int64_t sum;
} counts;

static bool count_ok(int64_t v)
{
    return v >= 0 && v <= INT32_MAX;
}

static cmee_status read_session_row(load_ctx *L, cmee_session_config *cfg, counts *n)
{
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, SQL_LOAD_SESSION, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        cmee__store_reset(q);
        return load_fail(L, CMEE_ENOTFOUND, "no such session");
    }
    if (rc != SQLITE_ROW) {
        cmee__store_reset(q);
        return cmee__store_sqlfail(L->st, rc, "load session \"%s\"", L->id);
    }
    cmee_session_config_init(cfg);
    cmee__fmt(cfg->id, sizeof cfg->id, "%s", L->id);
    bool ok = get_text(cfg->label, sizeof cfg->label, q, 0, true) &&
              get_text(cfg->currency, sizeof cfg->currency, q, 7, false);
    cfg->seed = i2u(get_i64(q, 1));
    cfg->start_time = get_i64(q, 2);
    cfg->speed = get_f64(q, 3);
    cfg->paused = get_i64(q, 4) != 0;
    cfg->manual_clock = get_i64(q, 5) != 0;
    cfg->initial_balance = get_i64(q, 6);
    cfg->fee_rate = get_f64(q, 8);
    cfg->spread_bps = get_f64(q, 9);
    cfg->option_payout = get_f64(q, 10);
    {
        char syms[CMEE_SESSION_MAX_SYMBOLS * CMEE_SYMBOL_MAX];
        ok = ok && get_text(syms, sizeof syms, q, 23, true) &&
             cmee__session_symbols_parse(cfg, syms);
    }
    /* 0 (the column's default) for a session stored before the fill model existed. */
    int64_t model = get_i64(q, 24);
    ok = ok && (model == CMEE_FILL_QUOTE || model == CMEE_FILL_BOOK);
    cfg->fill_model = (cmee_fill_model)model;
    /* Schema version 4; the migration's defaults for a session stored before it. */
    cfg->leverage = get_f64(q, 25);
    for (int i = 0; i < CMEE_SESSION_CLASSES; i++)
        cfg->max_leverage[i] = get_f64(q, 26 + i);
    cfg->margin_call_level = get_f64(q, 33);
    cfg->maintenance_level = get_f64(q, 34);
    int64_t called = get_i64(q, 35);
    ok = ok && (called == 0 || called == 1);
    n->margin_called = called == 1;
    /* Schema version 6; impact off for a session stored before it. */
    int64_t impact = get_i64(q, 36);
    ok = ok && (impact == CMEE_IMPACT_NONE || impact == CMEE_IMPACT_SQRT);
    cfg->impact.model = (cmee_impact_model)impact;
    cfg->impact.coefficient = get_f64(q, 37);
    cfg->impact.half_life = get_i64(q, 38);
    /* Schema version 7: epoch 1, no actions and not replayable for a row stored before it. */
    int64_t epoch = get_i64(q, 39), nact = get_i64(q, 40), replayable = get_i64(q, 41);
    ok = ok && epoch >= 1 && count_ok(nact) && (replayable == 0 || replayable == 1);
    n->epoch = i2u(epoch);
    n->actions = (size_t)(nact >= 0 ? nact : 0);
    n->replayable = replayable == 1;
    n->speed = get_f64(q, 11);
    n->paused = get_i64(q, 12) != 0;
    n->manual = get_i64(q, 13) != 0;
    n->now = get_i64(q, 14);
    n->balance = get_i64(q, 15);
    int64_t c[6] = {get_i64(q, 16), get_i64(q, 17), get_i64(q, 18),
                    get_i64(q, 19), get_i64(q, 21), get_i64(q, 22)};
    n->sum = get_i64(q, 20);
    cmee__store_reset(q);
    for (int i = 0; i < 6; i++)
        ok = ok && count_ok(c[i]);
    if (!ok)
        return damaged(L, "session row", 0);
    n->orders = (size_t)c[0];
    n->options = (size_t)c[1];
    n->ledger = (size_t)c[2];
    n->scenarios = (size_t)c[3];
    n->positions = (size_t)c[4];
    n->realised = (size_t)c[5];
    return CMEE_OK;
}

static cmee_status read_scenarios(load_ctx *L, cmee_session *s, size_t count)
{
    if (count > 0) {
        s->sapps = cmee__calloc(&s->al, count, sizeof *s->sapps);
        if (!s->sapps)
            return load_fail(L, CMEE_ENOMEM, "out of memory");
        s->capsapps = count;
    }
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, SQL_LOAD_SCENARIOS, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    int rc = SQLITE_DONE;
    while (r == CMEE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t i = s->nsapps;
        const unsigned char *json = sqlite3_column_text(q, 4);
        int len = sqlite3_column_bytes(q, 4);
        if (i >= count || get_i64(q, 0) != (int64_t)i + 1 || !json || len <= 0) {
            r = damaged(L, "scenario record", i + 1);
            break;
        }
        cmee__sapp *a = &s->sapps[i];
        a->json = cmee__malloc(&s->al, (size_t)len + 1);
        if (!a->json) {
            r = load_fail(L, CMEE_ENOMEM, "out of memory");
            break;
        }
        memcpy(a->json, json, (size_t)len + 1);
        int64_t app = get_i64(q, 1);
        a->t0 = get_i64(q, 2);
        a->cancelled = get_i64(q, 3);
        a->id = (cmee_application_id)app;
        s->nsapps++;
        if (app < 0 || app > UINT32_MAX || strlen(a->json) != (size_t)len ||
            scenario_sum(L->id, i + 1, a) != get_i64(q, 5))
            r = damaged(L, "scenario record", i + 1);
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": scenario records", L->id);
    cmee__store_reset(q);
    if (r == CMEE_OK && s->nsapps != count)
        r = load_fail(L, CMEE_ECORRUPT, "%zu scenario records, the session row says %zu", s->nsapps,
                      count);
    /* Re-apply them in order: the market gives them the same application ids again. */
    for (size_t i = 0; r == CMEE_OK && i < s->nsapps; i++) {
        cmee_application_id stored = s->sapps[i].id;
        r = cmee__session_reapply(s, i);
        if (r != CMEE_OK)
            r = load_fail(L, r, "%s", s->errmsg);
        else if (s->sapps[i].id != stored)
            r = load_fail(L, CMEE_ECORRUPT,
                          "scenario record %zu: re-applied as application %u, stored as %u", i + 1,
                          s->sapps[i].id, stored);
    }
    return r;
}

static cmee_status read_positions(load_ctx *L, cmee_session *s, const counts *n)
{
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, SQL_LOAD_POSITIONS, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (s->npos >= n->positions) {
            r = load_fail(L, CMEE_ECORRUPT, "more positions than counted");
            break;
        }
        cmee__pos *p = &s->pos[s->npos];
        memset(p, 0, sizeof *p);
        bool ok = get_text(p->symbol, sizeof p->symbol, q, 0, false);
        p->qty = get_f64(q, 1);
        p->avg = get_f64(q, 2);
        p->realised = get_i64(q, 3);
        p->sl = get_f64(q, 4);
        p->tp = get_f64(q, 5);
        if (!ok || p->qty == 0 || position_sum(L->id, p) != get_i64(q, 6)) {
            r = damaged(L, "position", s->npos + 1);
            break;
        }
        s->npos++;
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": positions", L->id);
    cmee__store_reset(q);
    if (r != CMEE_OK)
        return r;

    if ((r = cmee__store_prepare(L->st, SQL_LOAD_REALISED, &q)) != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (s->nrsym >= n->realised) {
            r = load_fail(L, CMEE_ECORRUPT, "more realised P&L rows than counted");
            break;
        }
        cmee__rsym *p = &s->rsym[s->nrsym];
        memset(p, 0, sizeof *p);
        bool ok = get_text(p->symbol, sizeof p->symbol, q, 0, false);
        p->realised = get_i64(q, 1);
        if (!ok || realised_sum(L->id, p) != get_i64(q, 2)) {
            r = damaged(L, "realised P&L", s->nrsym + 1);
            break;
        }
        s->nrsym++;
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": realised P&L", L->id);
    cmee__store_reset(q);
    return r;
}

static cmee_status read_orders(load_ctx *L, cmee_session *s, size_t count)
{
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, L->past ? SQL_PAST_ORDERS : SQL_LOAD_ORDERS, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    if (L->past)
        sqlite3_bind_int64(q, 2, u2i(s->epoch));
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t i = s->norders;
        if (i >= count) {
            r = load_fail(L, CMEE_ECORRUPT, "more orders than the session row says");
            break;
        }
        cmee_order *o = &s->orders[i];
        memset(o, 0, sizeof *o);
        o->id = i2u(get_i64(q, 0));
        bool ok = get_text(o->symbol, sizeof o->symbol, q, 1, false);
        o->side = (cmee_side)get_i64(q, 2);
        o->type = (cmee_order_type)get_i64(q, 3);
        o->state = (cmee_order_state)get_i64(q, 4);
        o->quantity = get_f64(q, 5);
        o->price = get_f64(q, 6);
        o->stop_loss = get_f64(q, 7);
        o->take_profit = get_f64(q, 8);
        o->created = get_i64(q, 9);
        o->closed = get_i64(q, 10);
        o->fill_price = get_f64(q, 11);
        o->fee = get_i64(q, 12);
        o->epoch = s->epoch;
        if (!ok || o->id != i + 1 || order_sum(L->id, o) != get_i64(q, 13)) {
            r = damaged(L, "order", i + 1);
            break;
        }
        s->norders++;
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": orders", L->id);
    cmee__store_reset(q);
    if (r == CMEE_OK && s->norders != count)
        r = load_fail(L, CMEE_ECORRUPT, "%zu orders, the session row says %zu", s->norders, count);
    return r;
}

static cmee_status read_options(load_ctx *L, cmee_session *s, size_t count)
{
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, L->past ? SQL_PAST_OPTIONS : SQL_LOAD_OPTIONS, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    if (L->past)
        sqlite3_bind_int64(q, 2, u2i(s->epoch));
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t i = s->noptions;
        if (i >= count) {
            r = load_fail(L, CMEE_ECORRUPT, "more options than the session row says");
            break;
        }
        cmee_option *o = &s->options[i];
        memset(o, 0, sizeof *o);
        o->id = i2u(get_i64(q, 0));
        bool ok = get_text(o->symbol, sizeof o->symbol, q, 1, false);
        o->kind = (cmee_option_kind)get_i64(q, 2);
        o->state = (cmee_option_state)get_i64(q, 3);
        o->stake = get_i64(q, 4);
        o->payout = get_f64(q, 5);
        o->opened = get_i64(q, 6);
        o->expires = get_i64(q, 7);
        o->strike = get_f64(q, 8);
        o->settle_price = get_f64(q, 9);
        o->paid = get_i64(q, 10);
        o->epoch = s->epoch;
        if (!ok || o->id != i + 1 || option_sum(L->id, o) != get_i64(q, 11)) {
            r = damaged(L, "option", i + 1);
            break;
        }
        s->noptions++;
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": options", L->id);
    cmee__store_reset(q);
    if (r == CMEE_OK && s->noptions != count)
        r = load_fail(L, CMEE_ECORRUPT, "%zu options, the session row says %zu", s->noptions,
                      count);
    return r;
}

/* The ledger, checking that each entry's running balance is the sum of the amounts so far. */
static cmee_status read_ledger(load_ctx *L, cmee_session *s, size_t count)
{
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, L->past ? SQL_PAST_LEDGER : SQL_LOAD_LEDGER, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    if (L->past)
        sqlite3_bind_int64(q, 2, u2i(s->epoch));
    int64_t sum = 0;
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t i = s->nledger;
        if (i >= count) {
            r = load_fail(L, CMEE_ECORRUPT, "more ledger entries than the session row says");
            break;
        }
        cmee_ledger_entry *e = &s->ledger[i];
        memset(e, 0, sizeof *e);
        e->seq = i2u(get_i64(q, 0));
        e->time = get_i64(q, 1);
        e->kind = (cmee_ledger_kind)get_i64(q, 2);
        e->amount = get_i64(q, 3);
        e->balance = get_i64(q, 4);
        e->ref = i2u(get_i64(q, 5));
        bool ok = get_text(e->symbol, sizeof e->symbol, q, 6, true);
        e->epoch = s->epoch;
        if (!ok || e->seq != i + 1 || ledger_sum(L->id, e) != get_i64(q, 7)) {
            r = damaged(L, "ledger entry", i + 1);
            break;
        }
        if (__builtin_add_overflow(sum, e->amount, &sum) || e->balance != sum) {
            r = load_fail(L, CMEE_ECORRUPT,
                          "ledger entry %zu: its balance %lld is not the sum of the amounts "
                          "so far",
                          i + 1, (long long)e->balance);
            break;
        }
        s->nledger++;
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": ledger", L->id);
    cmee__store_reset(q);
    if (r == CMEE_OK && s->nledger != count)
        r = load_fail(L, CMEE_ECORRUPT, "%zu ledger entries, the session row says %zu", s->nledger,
                      count);
    if (r == CMEE_OK && sum != s->balance)
        r = load_fail(L, CMEE_ECORRUPT, "the balance %lld is not the sum of the ledger (%lld)",
                      (long long)s->balance, (long long)sum);
    return r;
}

static cmee_status read_actions(load_ctx *L, cmee_session *s, size_t count)
{
    if (count > 0) {
        s->acts = cmee__calloc(&s->al, count, sizeof *s->acts);
        if (!s->acts)
            return load_fail(L, CMEE_ENOMEM, "out of memory");
        s->capacts = count;
    }
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(L->st, SQL_LOAD_ACTIONS, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, L->id);
    sqlite3_bind_int64(q, 2, u2i(s->epoch));
    int rc = SQLITE_DONE;
    size_t napply = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t i = s->nacts;
        if (i >= count) {
            r = load_fail(L, CMEE_ECORRUPT, "more actions than the session row says");
            break;
        }
        cmee_session_action *a = &s->acts[i];
        memset(a, 0, sizeof *a);
        a->seq = i2u(get_i64(q, 0));
        a->time = get_i64(q, 1);
        int64_t kind = get_i64(q, 2);
        a->kind = (cmee_action_kind)kind;
        char sym[CMEE_SYMBOL_MAX] = "";
        bool ok = get_text(sym, sizeof sym, q, 3, true) &&
                  get_text(a->scenario, sizeof a->scenario, q, 17, true) && kind >= 0 &&
                  kind <= CMEE_ACTION_SEEK;
        bool prot = a->kind == CMEE_ACTION_PROTECT;
        char *dst = a->kind == CMEE_ACTION_OPTION ? a->option.symbol
                    : prot                        ? a->symbol
                                                  : a->order.symbol;
        memcpy(dst, sym, sizeof sym);
        a->order.side = (cmee_side)get_i64(q, 4);
        a->order.type = (cmee_order_type)get_i64(q, 5);
        a->order.quantity = get_f64(q, 6);
        a->order.price = get_f64(q, 7);
        double sl = get_f64(q, 8), tp = get_f64(q, 9);
        if (prot) {
            a->stop_loss = sl;
            a->take_profit = tp;
        } else {
            a->order.stop_loss = sl;
            a->order.take_profit = tp;
        }
        a->option.kind = (cmee_option_kind)get_i64(q, 10);
        a->option.stake = get_i64(q, 11);
        a->option.duration = get_i64(q, 12);
        a->option.payout = get_f64(q, 13);
        a->ref = i2u(get_i64(q, 14));
        a->speed = get_f64(q, 15);
        a->ms = get_i64(q, 16);
        /* The k-th scenario application is the k-th scenario record. */
        if (ok && a->kind == CMEE_ACTION_APPLY_SCENARIO && !L->past)
            ok = napply < s->nsapps && s->sapps[napply++].id == a->ref;
        if (!ok || a->seq != i + 1 || action_sum(L->id, s->epoch, a) != get_i64(q, 18)) {
            r = damaged(L, "action", i + 1);
            break;
        }
        s->nacts++;
    }
    if (r == CMEE_OK && rc != SQLITE_DONE)
        r = cmee__store_sqlfail(L->st, rc, "load session \"%s\": actions", L->id);
    cmee__store_reset(q);
    if (r == CMEE_OK && s->nacts != count)
        r = load_fail(L, CMEE_ECORRUPT, "%zu actions, the session row says %zu", s->nacts, count);
    return r;
}

static size_t at_least_one(size_t n)
{
    return n ? n : 1;
}

/* The past epochs 1 .. epoch - 1, each read into a scratch session by the readers of the
 * current records (with the history tables' statements) and moved into s->past. */
static cmee_status read_past(load_ctx *L, cmee_session *s)
{
    if (s->epoch <= 1)
        return CMEE_OK;
    if (s->epoch - 1 > INT32_MAX)
        return damaged(L, "session row", 0);
    size_t np = (size_t)(s->epoch - 1);
    s->past = cmee__calloc(&s->al, np, sizeof *s->past);
    if (!s->past)
        return load_fail(L, CMEE_ENOMEM, "out of memory");
    s->cappast = np;
    cmee_status r = CMEE_OK;
    for (size_t k = 0; k < np && r == CMEE_OK; k++) {
        uint64_t e = k + 1;
        sqlite3_stmt *q = NULL;
        if ((r = cmee__store_prepare(L->st, SQL_PAST_COUNTS, &q)) != CMEE_OK)
            return r;
        bind_text(q, 1, L->id);
        sqlite3_bind_int64(q, 2, u2i(e));
        int rc = sqlite3_step(q);
        int64_t c[4] = {0}, balance = 0;
        for (int i = 0; rc == SQLITE_ROW && i < 4; i++)
            c[i] = get_i64(q, i);
        if (rc == SQLITE_ROW)
            balance = get_i64(q, 4);
        cmee__store_reset(q);
        if (rc != SQLITE_ROW)
            return cmee__store_sqlfail(L->st, rc, "load session \"%s\": epoch %llu", L->id,
                                       (unsigned long long)e);
        for (int i = 0; i < 4; i++)
            if (!count_ok(c[i]))
                return damaged(L, "past epoch", (size_t)e);
        if (c[2] == 0)
            return load_fail(L, CMEE_ECORRUPT, "epoch %llu: no ledger", (unsigned long long)e);
        /* A scratch session: the current readers fill it exactly as they fill s. */
        cmee_session tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.al = s->al;
        tmp.cfg = s->cfg;
        tmp.epoch = e;
        tmp.balance = balance;
        L->past = true;
        r = cmee__session_reserve(&tmp, (size_t)c[2], at_least_one((size_t)c[0]),
                                  at_least_one((size_t)c[1]), 0) == CMEE_OK
                ? CMEE_OK
                : load_fail(L, CMEE_ENOMEM, "out of memory");
        if (r == CMEE_OK)
            r = read_orders(L, &tmp, (size_t)c[0]);
        if (r == CMEE_OK)
            r = read_options(L, &tmp, (size_t)c[1]);
        if (r == CMEE_OK)
            r = read_ledger(L, &tmp, (size_t)c[2]);
        if (r == CMEE_OK)
            r = read_actions(L, &tmp, (size_t)c[3]);
        L->past = false;
        cmee__free(&s->al, tmp.order_dirty);
        cmee__free(&s->al, tmp.option_dirty);
        s->past[s->npast++] = (cmee__epoch){e, tmp.orders, tmp.norders, tmp.options,
                                            tmp.noptions, tmp.ledger, tmp.nledger, tmp.acts,
                                            tmp.nacts};
    }
    return r;
}

/* Build the session from its records; the caller holds a read transaction. */
static cmee_status load_in(load_ctx *L, const cmee_allocator *alloc, cmee_session **out)
{
    cmee_session_config cfg;
    cmee_session_config_init(&cfg);
    counts n = {0};
    cmee_status r = read_session_row(L, &cfg, &n);
    if (r != CMEE_OK)
        return r;
    cmee_session *s = NULL;
    cmee_error e = {0};
    r = cmee__session_shell(&cfg, L->st, alloc, &s, &e);
    if (r != CMEE_OK)
        return load_fail(L, r == CMEE_ENOMEM ? r : CMEE_ECORRUPT, "stored configuration: %s",
                         e.text);
    /* The row's checksum covers the configuration as the shell keeps it. */
    s->speed = n.speed;
    s->paused = n.paused;
    s->manual = n.manual;
    s->balance = n.balance;
    s->margin_called = n.margin_called;
    s->norders = n.orders;
    s->noptions = n.options;
    s->nledger = n.ledger;
    s->nsapps = n.scenarios;
    s->nacts = n.actions;
    s->epoch = n.epoch;
    s->replayable = n.replayable;
    bool row_ok = session_sum(s, n.now) == n.sum && strcmp(s->cfg.id, L->id) == 0 && n.speed > 0 &&
                  n.speed <= 1e6 && n.now >= cfg.start_time && n.now < CMEE_TIME_MAX;
    s->norders = s->noptions = s->nledger = s->nsapps = s->nacts = 0;
    if (!row_ok)
        r = damaged(L, "session row", 0);

    if (r == CMEE_OK)
        r = read_scenarios(L, s, n.scenarios);
    if (r == CMEE_OK &&
        cmee__session_reserve(
            s, at_least_one(n.ledger), at_least_one(n.orders), at_least_one(n.options),
            at_least_one(n.positions > n.realised ? n.positions : n.realised)) != CMEE_OK)
        r = load_fail(L, CMEE_ENOMEM, "out of memory");
    if (r == CMEE_OK)
        r = read_positions(L, s, &n);
    if (r == CMEE_OK)
        r = read_orders(L, s, n.orders);
    if (r == CMEE_OK)
        r = read_options(L, s, n.options);
    if (r == CMEE_OK)
        r = read_ledger(L, s, n.ledger);
    if (r == CMEE_OK)
        r = read_actions(L, s, n.actions);
    if (r == CMEE_OK)
        r = read_past(L, s);
    if (r == CMEE_OK && cmee__impact_rebuild(s) != CMEE_OK)
        r = load_fail(L, CMEE_ENOMEM, "out of memory");
    if (r != CMEE_OK) {
        cmee_session_free(s);
        return r;
    }

    /* Everything read is committed: nothing is dirty. */
    if (s->caporders)
        memset(s->order_dirty, 0, s->caporders * sizeof *s->order_dirty);
    if (s->capoptions)
        memset(s->option_dirty, 0, s->capoptions * sizeof *s->option_dirty);
    s->saved_ledger = s->nledger;
    s->saved_sapps = s->nsapps;
    s->saved_acts = s->nacts;
    s->sapps_dirty = false;
    /* The clock continues from the committed sim time; the time the session spent unloaded
     * does not count. */
    s->base_sim = s->processed = n.now;
    s->base_wall = s->wall(s->wall_ud);
    *out = s;
    return CMEE_OK;
}

static cmee_status load_locked(cmee_store *st, const char *id, const cmee_allocator *alloc,
                               cmee_session **out, cmee_error *err)
{
    load_ctx L = {st, id, err, false};
    bool own_tx = !st->in_tx && sqlite3_get_autocommit(st->db);
    if (own_tx) {
        sqlite3_stmt *q = NULL;
        cmee_status r = cmee__store_prepare(st, SQL_READ_BEGIN, &q);
        if (r != CMEE_OK)
            return load_report(&L, r);
        int rc = sqlite3_step(q);
        cmee__store_reset(q);
        if (rc != SQLITE_DONE)
            return load_report(&L, cmee__store_sqlfail(st, rc, "load session \"%s\": begin", id));
    }
    cmee_status r = load_in(&L, alloc, out);
    if (own_tx)
        cmee__store_rollback(st); /* only read: nothing to undo, ends the snapshot */
    return r == CMEE_OK ? CMEE_OK : load_report(&L, r);
}

cmee_status cmee_session_load(cmee_store *store, const char *id, const cmee_allocator *alloc,
                              cmee_session **out, cmee_error *err)
{
    if (!store || !id || !out) {
        if (err) {
            err->status = CMEE_EINVAL;
            cmee__fmt(err->field, sizeof err->field, "%s", !store ? "store" : !id ? "id" : "out");
            cmee__fmt(err->text, sizeof err->text, "%s: must not be NULL", err->field);
        }
        return CMEE_EINVAL;
    }
    return load_locked(store, id, alloc, out, err);
}

/* Free what the session's records own, keeping the handle itself. */
static void free_records(cmee_session *s)
{
    for (size_t i = 0; i < s->nsapps; i++)
        cmee__free(&s->al, s->sapps[i].json);
    cmee__free(&s->al, s->sapps);
    cmee__free(&s->al, s->ledger);
    cmee__free(&s->al, s->orders);
    cmee__free(&s->al, s->order_dirty);
    cmee__free(&s->al, s->options);
    cmee__free(&s->al, s->option_dirty);
    cmee__free(&s->al, s->pos);
    cmee__free(&s->al, s->rsym);
    cmee__free(&s->al, s->acts);
    cmee__session_free_past(s);
    cmee_market_free(s->market);
}

/* The clock's now as the caller last showed it, by the rule of session.c's clock: base_sim plus
 * the wall time since base_wall times the speed while running, never before processed, never
 * past the last day of the series. */
static int64_t shown_now(const cmee_session *s)
{
    int64_t now = s->base_sim;
    if (!s->paused && !s->manual) {
        double d = (double)(s->wall(s->wall_ud) - s->base_wall) * s->speed;
        if (d > 0)
            now += d < 9e15 ? (int64_t)d : INT64_C(9000000000000000);
    }
    if (now < s->processed)
        now = s->processed;
    int64_t last = CMEE_TIME_MAX - INT64_C(86400000);
    return now > last ? last : now;
}

cmee_status cmee__session_restore(cmee_session *s)
{
    if (!s->store)
        return cmee__session_fail(s, CMEE_EINTERNAL, "restore: the session has no store");
    int64_t shown = shown_now(s);
    cmee_session *fresh = NULL;
    cmee_error e = {0};
    cmee_status r = load_locked(s->store, s->cfg.id, &s->al.a, &fresh, &e);
    if (r != CMEE_OK)
        return cmee__session_fail(s, r, "restore the last committed state: %s", e.text);
    /* Keep what belongs to the handle rather than to its records: the store, the listener,
     * the wall clock, the event buffer and the message. */
    cmee_session keep = *s;
    free_records(s);
    *s = *fresh;
    s->store = keep.store;
    s->wall = keep.wall;
    s->wall_ud = keep.wall_ud;
    s->listener = keep.listener;
    s->listener_ud = keep.listener_ud;
    s->events = keep.events;
    s->nevents = 0;
    s->capevents = keep.capevents;
    memcpy(s->errmsg, keep.errmsg, sizeof s->errmsg);
    /* A running clock kept running since the last commit: it goes on from the now already
     * shown (never backward), and the next call processes everything since the committed
     * time again. A paused or manual clock moves only by calls, so the failed call's move is
     * undone: it stands at the committed time. */
    if (!s->paused && !s->manual && shown > s->base_sim)
        s->base_sim = shown;
    s->base_wall = s->wall(s->wall_ud);
    cmee__free(&keep.al, fresh);
    return CMEE_OK;
}

/* ---- listing and deleting --------------------------------------------------------------- */

cmee_status cmee_session_list(cmee_store *store, char (*ids)[CMEE_SESSION_ID_MAX], size_t cap,
                              size_t *n)
{
    if (!store)
        return CMEE_EINVAL;
    if (!n)
        return cmee__store_fail(store, CMEE_EINVAL, "list sessions: n is NULL");
    if (!ids && cap > 0)
        return cmee__store_fail(store, CMEE_EINVAL, "list sessions: ids is NULL with cap %zu", cap);
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(store, SQL_LIST_SESSIONS, &q);
    if (r != CMEE_OK)
        return r;
    /* count(*) OVER () comes with the first row, from the same snapshot as the rest. */
    int rc = sqlite3_step(q);
    size_t total = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(q, 1) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = cmee__store_sqlfail(store, rc, "list sessions");
    } else if (ids && cap < total) {
        r = cmee__store_fail(store, CMEE_ENOSPACE, "list sessions: %zu sessions, buffer holds %zu",
                             total, cap);
    } else if (ids && total > 0) {
        char(*tmp)[CMEE_SESSION_ID_MAX] = cmee__calloc(&store->al, total, sizeof *tmp);
        if (!tmp)
            r = cmee__store_fail(store, CMEE_ENOMEM, "list sessions: out of memory");
        size_t i = 0;
        while (r == CMEE_OK && rc == SQLITE_ROW) {
            if (i == total || !get_text(tmp[i], sizeof tmp[i], q, 0, false))
                r = cmee__store_fail(store, CMEE_ECORRUPT, "list sessions: damaged entry %zu", i);
            i++;
            rc = sqlite3_step(q);
        }
        if (r == CMEE_OK && rc != SQLITE_DONE)
            r = cmee__store_sqlfail(store, rc, "list sessions");
        if (r == CMEE_OK && i != total)
            r = cmee__store_fail(store, CMEE_ECORRUPT, "list sessions: %zu entries, expected %zu",
                                 i, total);
        if (r == CMEE_OK)
            memcpy(ids, tmp, total * sizeof *tmp);
        cmee__free(&store->al, tmp);
    }
    cmee__store_reset(q);
    if (r == CMEE_OK)
        *n = total;
    return r;
}

static cmee_status delete_tx(cmee_store *st, void *ud)
{
    const char *id = ud;
    sqlite3_stmt *q = NULL;
    cmee_status r = cmee__store_prepare(st, SQL_DELETE_SESSION, &q);
    if (r != CMEE_OK)
        return r;
    bind_text(q, 1, id);
    int rc = sqlite3_step(q);
    cmee__store_reset(q);
    if (rc != SQLITE_DONE)
        return cmee__store_sqlfail(st, rc, "delete session \"%s\"", id);
    if (sqlite3_changes(st->db) == 0)
        return cmee__store_fail(st, CMEE_ENOTFOUND, "delete session \"%s\": no such session", id);
    return CMEE_OK;
}

cmee_status cmee_session_delete(cmee_store *store, const char *id)
{
    if (!store)
        return CMEE_EINVAL;
    if (!id)
        return cmee__store_fail(store, CMEE_EINVAL, "delete session: id is NULL");
    return cmee__store_tx(store, "delete session", delete_tx, (void *)id);
}
