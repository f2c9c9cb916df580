/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/store.h
 * @brief The store: scenarios (and later sessions) kept in an SQLite database.
 *
 * A ::cmee_store is one connection to an SQLite file, or to a private in-memory database when
 * the path is ":memory:". Opening it switches the file to write-ahead logging (WAL), turns on
 * foreign keys and migrates the schema forward, step by step, to the version this library
 * writes (cmee_store_schema_version()); a file written by a newer libcmee is refused with
 * ::CMEE_EVERSION rather than misread. The store is the only part of libcmee that speaks SQL:
 * every other module and every program calls the typed functions below, which use prepared
 * statements with bound parameters only.
 *
 * Durability: each call that changes the store is one transaction. When it returns ::CMEE_OK
 * the change is committed; a process killed at any moment (kill -9) loses at most the call in
 * flight, and the file stays consistent. Surviving an operating-system crash or power loss
 * too needs cmee_store_options::full_sync. Every stored record carries a checksum, so a
 * damaged record is reported as ::CMEE_ECORRUPT instead of being returned. docs/store.md has
 * the schema and the details.
 *
 * Busy database: several handles, threads or processes may use the same file at once. Readers
 * never wait; a writer waits for another writer's transaction to finish, retrying for at most
 * cmee_store_options::busy_timeout_ms before it gives up with ::CMEE_EBUSY.
 *
 * Errors: every function returns a ::cmee_status; cmee_store_errmsg() gives the details of the
 * last failure on a handle, naming the operation, the record and SQLite's own message.
 * Out-parameters are written only on success.
 *
 * Thread-safety: one handle, one thread at a time (calls on one handle must not overlap).
 * Separate handles on the same file may be used from any number of threads and processes at
 * once; that is what WAL and the busy timeout are for.
 */
#ifndef CMEE_STORE_H
#define CMEE_STORE_H

#include <stdbool.h>

#include <cmee/core.h>
#include <cmee/market.h>
#include <cmee/scenario.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The schema version this library writes (the file's `PRAGMA user_version` after opening). */
#define CMEE_STORE_SCHEMA_VERSION 8
/** The default of cmee_store_options::busy_timeout_ms. */
#define CMEE_STORE_BUSY_TIMEOUT_DEFAULT 5000
/** The largest cmee_store_options::busy_timeout_ms: ten minutes. */
#define CMEE_STORE_BUSY_TIMEOUT_MAX 600000

/** A connection to a store. Opaque; see cmee_store_open(). */
typedef struct cmee_store cmee_store;

/** How cmee_store_open() opens a store. All zeros (or cmee_store_options_init()) gives the
 *  defaults. */
typedef struct cmee_store_options {
    /** How long a write waits for another connection's write transaction, in ms, before it
     *  fails with ::CMEE_EBUSY: 1 to ::CMEE_STORE_BUSY_TIMEOUT_MAX; 0 selects the default,
     *  ::CMEE_STORE_BUSY_TIMEOUT_DEFAULT; a negative value gives up at once. */
    int busy_timeout_ms;
    /** Fail with ::CMEE_ENOTFOUND instead of creating a missing file. Default false. */
    bool must_exist;
    /** `PRAGMA synchronous=FULL`: a commit also survives an operating-system crash or power
     *  loss, at the price of an fsync per commit. Default false (`NORMAL`, which in WAL mode
     *  already survives the death of the process at any moment). */
    bool full_sync;
} cmee_store_options;

/** Fill @p opt with the defaults (all zeros). Nothing happens if @p opt is NULL.
 *  @since 0.2.0 */
CMEE_API void cmee_store_options_init(cmee_store_options *opt);

/**
 * Open (or create) a store.
 *
 * Creates the file unless cmee_store_options::must_exist is set, switches it to WAL, turns on
 * foreign keys and migrates its schema to ::CMEE_STORE_SCHEMA_VERSION, each migration step in
 * its own transaction (a process killed during a migration leaves the file at the previous
 * step, and the next open carries on). Several processes opening the same file at once is
 * safe. ":memory:" gives a private, empty, in-memory store that vanishes on close.
 *
 * @param[in]  path  file name (not a URI), or ":memory:"; not empty.
 * @param[in]  opt   options, or NULL for the defaults; read only during the call.
 * @param[in]  alloc allocator for the handle and its buffers, or NULL for malloc/free.
 *                   SQLite's own memory is not taken from it.
 * @param[out] out   the store, written only on success; close with cmee_store_close().
 * @param[out] err   details of a failure (which file, what was wrong), or NULL.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL or empty arguments, bad options or an incomplete
 *          allocator; ::CMEE_ENOTFOUND for a missing file with must_exist; ::CMEE_EVERSION if
 *          the file's schema is newer than this library's (the message names both versions);
 *          ::CMEE_ECORRUPT if the file is not an SQLite database, belongs to another
 *          application, or is damaged; ::CMEE_EBUSY if another connection held the file longer
 *          than the busy timeout; ::CMEE_EIO for other failures to open, read or write it;
 *          ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_open(const char *path, const cmee_store_options *opt,
                                     const cmee_allocator *alloc, cmee_store **out,
                                     cmee_error *err);

/**
 * Close a store and free the handle. Every change that returned ::CMEE_OK is already
 * committed. Accepts NULL.
 * @since 0.2.0
 */
CMEE_API void cmee_store_close(cmee_store *st);

/**
 * Text of the most recent failure of a call on this store, e.g.
 * "save scenario \"crash\": database is locked (gave up after 200 ms)".
 *
 * @returns a borrowed string valid until the next call on @p st; "" if nothing failed yet;
 *          a static message if @p st is NULL.
 * @since 0.2.0
 */
CMEE_API const char *cmee_store_errmsg(const cmee_store *st);

/**
 * The schema version of an open store's file, or with @p st NULL the version this library
 * writes (::CMEE_STORE_SCHEMA_VERSION). After a successful open both are equal.
 *
 * @returns the version; -1 if the file could not be read (details in cmee_store_errmsg()).
 * @since 0.2.0
 */
CMEE_API int cmee_store_schema_version(cmee_store *st);

/**
 * Check the whole store: SQLite's `PRAGMA integrity_check` on the file, then every stored
 * record against its checksum. Cost: reads the entire file.
 *
 * @returns ::CMEE_OK; ::CMEE_EINVAL for a NULL store; ::CMEE_ECORRUPT with the first problem in
 *          cmee_store_errmsg(); ::CMEE_EBUSY; ::CMEE_EIO.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_check(cmee_store *st);

/* ---- statistics ------------------------------------------------------------------------- */

/** Buckets of cmee_store_stats::le. */
#define CMEE_STORE_STATS_BUCKETS 12

/**
 * What a store handle's write transactions have cost since it was opened (migrations on open
 * included). A transaction is timed with a monotonic clock from the moment it asks for the
 * write lock (waiting for a busy database included) to the end of its COMMIT or ROLLBACK.
 * The buckets are those of a Prometheus histogram: cumulative, with fixed upper bounds.
 */
typedef struct cmee_store_stats {
    uint64_t transactions; /**< write transactions ended (committed or rolled back) */
    uint64_t rolled_back;  /**< of which rolled back (failed, refused or busy) */
    double seconds;        /**< their total duration, in seconds */
    /** Upper bounds of the buckets, in seconds, increasing: 0.0001 (100 us) to 5. */
    double le[CMEE_STORE_STATS_BUCKETS];
    /** count[i]: transactions that took at most le[i] seconds (cumulative, so
     *  count[i] <= count[i + 1] <= transactions; the rest took longer than the last bound). */
    uint64_t count[CMEE_STORE_STATS_BUCKETS];
} cmee_store_stats;

/**
 * Read the transaction statistics of @p st (see ::cmee_store_stats). The figures belong to
 * this handle, not to the file: other handles on the same file count their own. Reading them
 * costs a copy of the structure; keeping them costs two clock readings per transaction.
 *
 * @param[in]  st   the store.
 * @param[out] out  the statistics, written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for a NULL argument.
 * Thread-safety: as any call on @p st (one thread at a time per handle).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_stats_get(const cmee_store *st, cmee_store_stats *out);

/* ---- scenarios -------------------------------------------------------------------------- */

/** What cmee_store_scenario_save() does with a name that is, or is not, in the store. */
typedef enum cmee_store_save_mode {
    /** Version 1 of a new name, or the next version of an existing one. */
    CMEE_STORE_SAVE_ANY = 0,
    /** Only a new name: ::CMEE_EEXIST if the name is taken. */
    CMEE_STORE_SAVE_CREATE = 1,
    /** Only a new version of an existing name: ::CMEE_ENOTFOUND if there is none. */
    CMEE_STORE_SAVE_UPDATE = 2,
} cmee_store_save_mode;

/** One stored scenario name, as listed by cmee_store_scenario_list(). */
typedef struct cmee_store_scenario_info {
    char name[CMEE_SCENARIO_NAME_MAX]; /**< the scenario's name, NUL-terminated */
    int latest;                        /**< its newest version */
    int versions;                      /**< how many versions are kept */
    int64_t created;                   /**< when the name was first saved, ms UTC */
    int64_t updated;                   /**< when the newest version was saved, ms UTC */
} cmee_store_scenario_info;

/** One stored version of a scenario, as listed by cmee_store_scenario_versions(). */
typedef struct cmee_store_version_info {
    int version;     /**< 1, 2, ... */
    int64_t created; /**< when it was saved, ms UTC */
    size_t size;     /**< bytes of its JSON text */
} cmee_store_version_info;

/**
 * Save a scenario under its name (cmee_scenario_name()), as its canonical JSON
 * (cmee_scenario_to_json()). A new name gets version 1; saving an existing name adds the next
 * version and keeps every older one. Names are unique and case-sensitive. Version numbers of
 * a name are never reused while the name exists; after cmee_store_scenario_delete() a new
 * scenario of that name starts again at 1. One transaction.
 *
 * @param[in]  mode    see ::cmee_store_save_mode.
 * @param[out] version the version saved, or NULL; written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments or a bad mode; ::CMEE_EEXIST (mode
 *          CREATE, name taken); ::CMEE_ENOTFOUND (mode UPDATE, no such name); ::CMEE_EBUSY if
 *          another writer held the file past the busy timeout; ::CMEE_ECORRUPT; ::CMEE_EIO;
 *          ::CMEE_ENOMEM. On failure nothing changes.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_scenario_save(cmee_store *st, const cmee_scenario *sc,
                                              cmee_store_save_mode mode, int *version);

/**
 * Load a version of a stored scenario. The record's checksum is verified and its JSON
 * validated as by cmee_scenario_from_json().
 *
 * @param[in]  name     the scenario's name.
 * @param[in]  version  a version number, or 0 for the newest.
 * @param[in]  registry market whose symbols the scenario's symbol list is checked against, or
 *                      NULL not to check.
 * @param[in]  alloc    allocator for the scenario, or NULL for malloc/free.
 * @param[out] out      the scenario, written only on success; free with cmee_scenario_free().
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments or a negative version;
 *          ::CMEE_ENOTFOUND for an unknown name or version, or a symbol @p registry lacks
 *          (cmee_store_errmsg() says which); ::CMEE_ECORRUPT if the record fails its checksum
 *          or no longer validates (the message has the validation error); ::CMEE_EBUSY;
 *          ::CMEE_EIO; ::CMEE_ENOMEM.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_scenario_load(cmee_store *st, const char *name, int version,
                                              const cmee_market *registry,
                                              const cmee_allocator *alloc, cmee_scenario **out);

/**
 * List the stored scenario names in byte order of the name, from one consistent snapshot.
 * Cost: O(names), whatever the number of versions.
 *
 * @param[in]  buf     caller buffer for @p cap entries; never kept. With @p buf NULL and
 *                     @p cap 0, only *written is set, to the number of names.
 * @param[out] written number of entries written (or needed), written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments; ::CMEE_ENOSPACE if @p cap is smaller
 *          than the number of names (nothing written; since other connections may add names,
 *          ask again with a larger buffer); ::CMEE_ECORRUPT; ::CMEE_EBUSY; ::CMEE_EIO.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_scenario_list(cmee_store *st, cmee_store_scenario_info *buf,
                                              size_t cap, size_t *written);

/**
 * List the stored versions of one scenario, oldest first. Buffers work as in
 * cmee_store_scenario_list().
 *
 * @returns as cmee_store_scenario_list(); also ::CMEE_ENOTFOUND for an unknown name.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_scenario_versions(cmee_store *st, const char *name,
                                                  cmee_store_version_info *buf, size_t cap,
                                                  size_t *written);

/**
 * Delete a scenario: its name and every version, in one transaction.
 *
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments; ::CMEE_ENOTFOUND for an unknown name;
 *          ::CMEE_EBUSY; ::CMEE_EIO. On failure nothing changes.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_store_scenario_delete(cmee_store *st, const char *name);

/* ---- market event logs ------------------------------------------------------------------ */

/** Size of a market event log's name buffer, including the NUL. */
#define CMEE_STORE_LOG_NAME_MAX 64
/** Size of a market event kind buffer, including the NUL. */
#define CMEE_STORE_EVENT_KIND_MAX 32
/** The most bytes of data one market event holds. */
#define CMEE_STORE_EVENT_DATA_MAX (64 * 1024)

/**
 * One entry of a market event log, as cmee_store_market_events() hands it over. The strings
 * are borrowed: valid only during the callback.
 */
typedef struct cmee_store_market_event {
    int64_t seq;      /**< position in the log: 1, 2, ... in the order appended */
    int64_t wall;     /**< wall-clock time it was appended, ms UTC (the caller's) */
    int64_t at;       /**< market time it takes effect, ms UTC (the caller's) */
    const char *kind; /**< what kind of change, e.g. "speed" (the caller's vocabulary) */
    const char *data; /**< its details, NUL-terminated text (JSON, by convention) */
    size_t data_len;  /**< bytes of @p data without the NUL */
} cmee_store_market_event;

/**
 * Append an event to the log named @p log: an append-only, ordered record of the changes an
 * operator made to a live market (cmee-server keeps its admin knobs there), from which the
 * market can be rebuilt exactly after a restart. The store keeps the entries as given; what
 * they mean is the caller's. One transaction; entries are never updated.
 *
 * @param[in]  log   the log's name: 1 to 63 bytes of A-Z a-z 0-9 and "_-.".
 * @param[in]  wall  wall-clock time of the change, ms.
 * @param[in]  at    market time the change takes effect, ms.
 * @param[in]  kind  1 to 31 bytes of a-z, 0-9 and "_".
 * @param[in]  data  text of @p len bytes (need not be NUL-terminated; no NUL inside), 1 to
 *                   ::CMEE_STORE_EVENT_DATA_MAX bytes.
 * @param[out] seq   the entry's position in the log, or NULL; written only on success.
 * @returns ::CMEE_OK; ::CMEE_EINVAL for NULL arguments or a bad name, kind or data (the
 *          message names it); ::CMEE_EBUSY; ::CMEE_EIO; ::CMEE_ENOMEM. On failure nothing
 *          changes.
 * Thread-safety: as every call on the handle; appends from several handles to one log are
 * serialised by the database and get distinct, increasing positions.
 * @since 0.3.0
 */
CMEE_API cmee_status cmee_store_market_event_append(cmee_store *st, const char *log, int64_t wall,
                                                    int64_t at, const char *kind,
                                                    const char *data, size_t len, int64_t *seq);

/** Called by cmee_store_market_events() for each entry; return 0 to go on, anything else to
 *  stop. */
typedef int (*cmee_store_market_event_fn)(void *ud, const cmee_store_market_event *ev);

/**
 * Call @p fn for every entry of the log named @p log, oldest first, from one consistent
 * snapshot. Each entry's checksum is verified before it is handed over. A log nobody appended
 * to is empty (no error). @p fn must not call functions on @p st.
 *
 * @param[out] count number of entries handed to @p fn, or NULL; written only on success.
 * @returns ::CMEE_OK (also when @p fn stopped early); ::CMEE_EINVAL for NULL arguments or a
 *          bad name; ::CMEE_ECORRUPT for a damaged entry (entries before it were handed
 *          over); ::CMEE_EBUSY; ::CMEE_EIO; ::CMEE_ENOMEM.
 * @since 0.3.0
 */
CMEE_API cmee_status cmee_store_market_events(cmee_store *st, const char *log,
                                              cmee_store_market_event_fn fn, void *ud,
                                              size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_STORE_H */
