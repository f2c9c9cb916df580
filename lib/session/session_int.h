/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal layout of cmee_session, shared by session.c (clock, account, fills) and persist.c
 * (the session's tables in the store). */
#ifndef CMEE_SESSION_INT_H
#define CMEE_SESSION_INT_H

#include <stdbool.h>

#include "internal.h"

/* One net position. */
typedef struct cmee__pos {
    char symbol[CMEE_SYMBOL_MAX];
    double qty;         /* signed; never 0 while in the array */
    double avg;
    int64_t realised;   /* on this symbol, all positions so far (kept when flat: see rsym) */
    double sl, tp;      /* 0 = none */
} cmee__pos;

/* Realised P&L per symbol, kept when the position closes. */
typedef struct cmee__rsym {
    char symbol[CMEE_SYMBOL_MAX];
    int64_t realised;
} cmee__rsym;

/* A scenario applied to the session's market, as recorded (and re-applied on load). */
typedef struct cmee__sapp {
    char *json;                 /* canonical JSON, owned */
    int64_t t0;                 /* the time it was applied (the session's now then) */
    int64_t cancelled;          /* when it was cancelled, or 0 */
    cmee_application_id id;     /* in the session's market */
} cmee__sapp;

/* A past epoch's records, kept readable after a reset (owned arrays). */
typedef struct cmee__epoch {
    uint64_t epoch;
    cmee_order *orders;
    size_t norders;
    cmee_option *options;
    size_t noptions;
    cmee_ledger_entry *ledger;
    size_t nledger;
    cmee_session_action *acts;
    size_t nacts;
} cmee__epoch;

struct cmee_session {
    cmee__alloc al;
    cmee_session_config cfg;    /* cfg.scenario is NULL */
    cmee_market *market;
    cmee_store *store;          /* not owned; NULL for an in-memory session */

    /* Clock: now = base_sim + (wall() - base_wall) * speed while running. */
    int64_t base_sim, base_wall;
    double speed;
    bool paused, manual;
    int64_t processed;          /* fills and settlements done up to here */
    int64_t (*wall)(void *ud);
    void *wall_ud;

    /* Account. */
    int64_t balance;
    bool margin_called;         /* a margin call is in force: not re-armed yet (margin accounts) */
    cmee_ledger_entry *ledger;
    size_t nledger, capledger;
    cmee_order *orders;         /* every order, by id - 1 */
    size_t norders, caporders;
    cmee_option *options;       /* every option, by id - 1 */
    size_t noptions, capoptions;
    cmee__pos *pos;             /* open positions, sorted by symbol */
    size_t npos, cappos;
    cmee__rsym *rsym;           /* realised P&L per symbol ever traded */
    size_t nrsym, caprsym;
    cmee__sapp *sapps;
    size_t nsapps, capsapps;

    /* What changed since the last commit (persist.c writes these). */
    size_t saved_ledger;        /* ledger entries [saved_ledger, nledger) are new */
    size_t saved_sapps;         /* scenario records [saved_sapps, nsapps) are new */
    bool *order_dirty;          /* parallel to orders (capacity caporders) */
    bool *option_dirty;         /* parallel to options */
    bool sapps_dirty;           /* a cancellation changed an existing scenario record */

    bool broken;                /* a failed write could not be rolled back: refuse calls */

    /* The action log of the current epoch (what the user did, see cmee_session_actions()). */
    cmee_session_action *acts;
    size_t nacts, capacts;
    size_t saved_acts;          /* actions [saved_acts, nacts) are new since the last commit */
    bool replayable;            /* false for a session stored before the action log */
    uint64_t epoch;             /* 1, 2, ...: a reset starts the next one */
    cmee__epoch *past;          /* epochs 1 .. epoch - 1, in order */
    size_t npast, cappast;
    bool archive_pending;       /* a reset not committed yet: the commit archives the rows */
    /* Replay drives the clock: while forced, the clock reads forced_now (never before
     * processed), whatever the wall clock says. */
    bool forced;
    int64_t forced_now;

    void (*listener)(void *ud, const cmee_session_event *ev);
    void *listener_ud;
    /* Events raised by the current call, delivered after it commits. */
    struct cmee__sev *events;
    size_t nevents, capevents;

    char errmsg[CMEE__ERRMSG_MAX];
};

typedef struct cmee__sev {
    cmee_session_event_kind kind;
    int64_t time;
    char json[512];
} cmee__sev;

/* Fill @p err (if not NULL) with @p st, @p field and a printf-formatted text: the error of a
 * call that has no session to carry it (creation, load, replay). */
void cmee__session_set_err(cmee_error *err, cmee_status st, const char *field, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

/* Record a failure on the session and return @p st. */
cmee_status cmee__session_fail(cmee_session *s, cmee_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Store side (persist.c). Write the whole session (create) or what changed since the last
 * commit, as one transaction; mark it saved on success. */
cmee_status cmee__session_persist(cmee_session *s, bool create);
/* Reload the last committed state of @p s from its store (after a failed write). */
cmee_status cmee__session_restore(cmee_session *s);

/* Shared by session.c and persist.c: build a session shell (market, clock) from a config. */
cmee_status cmee__session_shell(const cmee_session_config *cfg, cmee_store *store,
                                const cmee_allocator *alloc, cmee_session **out,
                                cmee_error *err);
/* The config's symbol list as space-separated text ("" for all), and back (false if bad). */
void cmee__session_symbols_text(const cmee_session_config *c, char *buf, size_t cap);
bool cmee__session_symbols_parse(cmee_session_config *c, const char *text);
/* Re-apply scenario record @p i to the session's market. */
cmee_status cmee__session_reapply(cmee_session *s, size_t i);
/* Room for one more action in the log (before the call changes anything). */
cmee_status cmee__session_reserve_action(cmee_session *s);
/* Free the past epochs' records. */
void cmee__session_free_past(cmee_session *s);
/* Growth helpers; they keep the dirty arrays in step. */
cmee_status cmee__session_reserve(cmee_session *s, size_t ledger, size_t orders, size_t options,
                                  size_t positions);

/* Market impact (impact.c). */
void cmee__impact_config_init(cmee_impact_config *c);
/* EINVAL with the field named in @p err (may be NULL) for a bad setting. */
cmee_status cmee__impact_validate(const cmee_impact_config *c, cmee_error *err);
/* Room for the impact of every fill the next step may make: of the open orders, of closing the
 * positions and of an order in @p symbol (may be NULL). Nothing without impact. */
cmee_status cmee__impact_reserve_fills(cmee_session *s, const char *symbol);
/* The impact of filled order @p o on the session's market (room reserved). */
void cmee__impact_fill(cmee_session *s, const cmee_order *o);
/* Rebuild the impact from the session's filled orders, replacing what the market held (after
 * loading them, or after any change to the orders that is not a new fill, such as a reset). */
cmee_status cmee__impact_rebuild(cmee_session *s);

#endif
