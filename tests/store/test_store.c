/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The store: opening (":memory:" and files, WAL, foreign keys, schema version, refusing newer
 * and foreign files), scenario versions (save, load, list, versions, delete), damaged records,
 * a busy database, several handles at once, and a failure of every allocation in turn.
 * White-box where it helps: the tests may speak SQL to the file directly. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmee_test.h"
#include "store/store_int.h"

#define OUT_SENTINEL ((cmee_store *)(uintptr_t)0x5e5e5e5e)

/* A store status equal to the expected one, printing both names and the store's message. */
#define assert_st(st, got, want) store_status((st), (got), (want), __FILE__, __LINE__)

static void store_status(const cmee_store *st, cmee_status got, cmee_status want, const char *file,
                         int line)
{
    if (got != want) {
        print_error("status %s, expected %s; errmsg: %s\n", cmee_status_name(got),
                    cmee_status_name(want), st ? cmee_store_errmsg(st) : "(no store)");
        _fail(file, line);
    }
}

/* ---- fixtures ------------------------------------------------------------------------- */

static char tmpdir[64];
static char dbpath[128];

static void remove_db(const char *path)
{
    char p[256];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-store-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/test.db", tmpdir);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    remove_db(dbpath);
    char p[160];
    snprintf(p, sizeof p, "%s/other.db", tmpdir);
    remove_db(p);
    snprintf(p, sizeof p, "%s/garbage.db", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

/* A scenario with one regime whose drift tells versions apart. */
static cmee_scenario *make_sc(const char *name, double drift)
{
    cmee_regime r;
    cmee_regime_init(&r);
    r.start = 0;
    r.end = HOUR_MS;
    r.drift_mode = CMEE_DRIFT_SPAN;
    r.drift = drift;
    cmee_scenario_spec spec = {
        .name = name, .description = "store test", .regimes = &r, .nregimes = 1};
    cmee_scenario *sc = NULL;
    cmee_error e;
    cmee_status s = cmee_scenario_new(&spec, NULL, NULL, &sc, &e);
    if (s != CMEE_OK) {
        print_error("cmee_scenario_new: %s: %s\n", cmee_status_name(s), e.text);
        fail();
    }
    return sc;
}

/* The canonical JSON of a scenario, in a new malloc'd string. */
static char *json_of(const cmee_scenario *sc)
{
    size_t len = 0;
    assert_int_equal(cmee_scenario_to_json(sc, NULL, 0, &len), CMEE_OK);
    char *s = malloc(len + 1);
    assert_non_null(s);
    assert_int_equal(cmee_scenario_to_json(sc, s, len + 1, &len), CMEE_OK);
    return s;
}

/* Load (name, version) and compare its JSON with @p want. */
static void assert_loads(cmee_store *st, const char *name, int version, const char *want)
{
    cmee_scenario *sc = NULL;
    assert_st(st, cmee_store_scenario_load(st, name, version, NULL, NULL, &sc), CMEE_OK);
    char *got = json_of(sc);
    assert_string_equal(got, want);
    assert_string_equal(cmee_scenario_name(sc), name);
    free(got);
    cmee_scenario_free(sc);
}

static int save(cmee_store *st, const char *name, double drift)
{
    cmee_scenario *sc = make_sc(name, drift);
    int v = -1;
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v), CMEE_OK);
    cmee_scenario_free(sc);
    return v;
}

static cmee_store *open_ok(const char *path, const cmee_store_options *opt)
{
    cmee_store *st = NULL;
    cmee_error e = {0};
    cmee_status s = cmee_store_open(path, opt, NULL, &st, &e);
    if (s != CMEE_OK) {
        print_error("cmee_store_open(%s): %s: %s\n", path, cmee_status_name(s), e.text);
        fail();
    }
    assert_string_equal(cmee_store_errmsg(st), "");
    return st;
}

/* One row, one column of SQL on a raw connection, as text (static buffer). */
static const char *raw_text(sqlite3 *db, const char *sql)
{
    static char out[256];
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        print_error("%s: %s\n", sql, sqlite3_errmsg(db));
        fail();
    }
    snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

static long long raw_int(sqlite3 *db, const char *sql)
{
    return atoll(raw_text(db, sql));
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        fail();
    }
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- opening -------------------------------------------------------------------------- */

static void test_open_memory(void **state)
{
    (void)state;
    cmee_store *st = open_ok(":memory:", NULL);
    assert_int_equal(cmee_store_schema_version(NULL), CMEE_STORE_SCHEMA_VERSION);
    assert_int_equal(cmee_store_schema_version(st), CMEE_STORE_SCHEMA_VERSION);
    assert_string_equal(raw_text(st->db, "PRAGMA journal_mode"), "memory");
    assert_int_equal(raw_int(st->db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(raw_int(st->db, "PRAGMA user_version"), CMEE_STORE_SCHEMA_VERSION);
    assert_int_equal(save(st, "calm", 0.01), 1);
    assert_st(st, cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);

    /* Every ":memory:" store is private and starts empty. */
    st = open_ok(":memory:", NULL);
    size_t n = 99;
    assert_st(st, cmee_store_scenario_list(st, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 0);
    cmee_store_close(st);
}

static void test_open_file(void **state)
{
    (void)state;
    remove_db(dbpath);
    cmee_store_options o;
    cmee_store_options_init(&o);
    o.full_sync = true;
    cmee_store *st = open_ok(dbpath, &o);
    assert_string_equal(raw_text(st->db, "PRAGMA journal_mode"), "wal");
    assert_int_equal(raw_int(st->db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(raw_int(st->db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(save(st, "bull", 0.1), 1);
    assert_int_equal(save(st, "bull", 0.2), 2);

    /* What another connection sees in the file itself. */
    sqlite3 *db = raw_open(dbpath);
    assert_string_equal(raw_text(db, "PRAGMA journal_mode"), "wal");
    assert_int_equal(raw_int(db, "PRAGMA user_version"), CMEE_STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(db, "PRAGMA application_id"), 0x434d4545);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM scenario_version"), 2);
    sqlite3_close(db);
    cmee_store_close(st);

    /* Reopening keeps everything; the default is synchronous=NORMAL. */
    cmee_scenario *sc = make_sc("bull", 0.2);
    char *want = json_of(sc);
    cmee_scenario_free(sc);
    st = open_ok(dbpath, NULL);
    assert_int_equal(raw_int(st->db, "PRAGMA synchronous"), 1); /* NORMAL */
    assert_int_equal(cmee_store_schema_version(st), CMEE_STORE_SCHEMA_VERSION);
    assert_loads(st, "bull", 0, want);
    assert_int_equal(save(st, "bull", 0.3), 3);
    assert_st(st, cmee_store_check(st), CMEE_OK);
    free(want);
    cmee_store_close(st);

    /* must_exist: an existing file opens, a missing one is ENOTFOUND and is not created. */
    o.must_exist = true;
    st = open_ok(dbpath, &o);
    cmee_store_close(st);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.db", tmpdir);
    cmee_store *out = OUT_SENTINEL;
    cmee_error e = {0};
    assert_int_equal(cmee_store_open(missing, &o, NULL, &out, &e), CMEE_ENOTFOUND);
    assert_ptr_equal(out, OUT_SENTINEL);
    assert_int_equal(e.status, CMEE_ENOTFOUND);
    assert_non_null(strstr(e.text, "missing.db"));
    struct stat sb;
    assert_int_not_equal(stat(missing, &sb), 0);
}

static void test_newer_version_refused(void **state)
{
    (void)state;
    remove_db(dbpath);
    cmee_store *st = open_ok(dbpath, NULL);
    save(st, "calm", 0.0);
    cmee_store_close(st);
    sqlite3 *db = raw_open(dbpath);
    raw_exec(db, "PRAGMA user_version = 99");
    sqlite3_close(db);

    cmee_store *out = OUT_SENTINEL;
    cmee_error e = {0};
    assert_int_equal(cmee_store_open(dbpath, NULL, NULL, &out, &e), CMEE_EVERSION);
    assert_ptr_equal(out, OUT_SENTINEL);
    assert_int_equal(e.status, CMEE_EVERSION);
    assert_string_equal(e.field, "path");
    char one[16];
    snprintf(one, sizeof one, "version %d", CMEE_STORE_SCHEMA_VERSION);
    assert_non_null(strstr(e.text, "schema version 99"));
    assert_non_null(strstr(e.text, one));
    assert_non_null(strstr(e.text, dbpath));

    /* The refused file is left alone. */
    db = raw_open(dbpath);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 99);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM scenario_version"), 1);
    sqlite3_close(db);
}

static void test_not_a_store(void **state)
{
    (void)state;
    /* Not an SQLite file at all. */
    char path[160];
    snprintf(path, sizeof path, "%s/garbage.db", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc("this is not a database\n"[i % 23], f);
    fclose(f);
    cmee_store *out = OUT_SENTINEL;
    cmee_error e = {0};
    cmee_status s = cmee_store_open(path, NULL, NULL, &out, &e);
    assert_int_equal(s, CMEE_ECORRUPT);
    assert_ptr_equal(out, OUT_SENTINEL);
    assert_non_null(strstr(e.text, "garbage.db"));
    assert_non_null(strstr(e.text, "not a libcmee store"));

    /* Another application's SQLite database is not taken over. */
    snprintf(path, sizeof path, "%s/other.db", tmpdir);
    remove_db(path);
    sqlite3 *db = raw_open(path);
    raw_exec(db, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello')");
    sqlite3_close(db);
    memset(&e, 0, sizeof e);
    assert_int_equal(cmee_store_open(path, NULL, NULL, &out, &e), CMEE_ECORRUPT);
    assert_ptr_equal(out, OUT_SENTINEL);
    assert_non_null(strstr(e.text, "another application"));
    db = raw_open(path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"), 1);
    assert_string_equal(raw_text(db, "PRAGMA journal_mode"), "delete");
    sqlite3_close(db);
}

static void test_open_bad_args(void **state)
{
    (void)state;
    cmee_store *out = OUT_SENTINEL;
    cmee_error e = {0};
    assert_int_equal(cmee_store_open(NULL, NULL, NULL, &out, &e), CMEE_EINVAL);
    assert_string_equal(e.field, "path");
    assert_int_equal(cmee_store_open(":memory:", NULL, NULL, NULL, &e), CMEE_EINVAL);
    assert_string_equal(e.field, "out");
    assert_int_equal(cmee_store_open("", NULL, NULL, &out, &e), CMEE_EINVAL);
    assert_string_equal(e.field, "path");
    cmee_store_options o = {.busy_timeout_ms = CMEE_STORE_BUSY_TIMEOUT_MAX + 1};
    assert_int_equal(cmee_store_open(":memory:", &o, NULL, &out, &e), CMEE_EINVAL);
    assert_string_equal(e.field, "busy_timeout_ms");
    cmee_allocator half = {.malloc = chaos_malloc};
    assert_int_equal(cmee_store_open(":memory:", NULL, &half, &out, &e), CMEE_EINVAL);
    assert_string_equal(e.field, "alloc");
    assert_int_equal(cmee_store_open(":memory:", NULL, NULL, &out, NULL), CMEE_OK);
    assert_ptr_not_equal(out, OUT_SENTINEL);
    cmee_store_close(out);

    /* A directory that does not exist cannot hold the file. */
    out = OUT_SENTINEL;
    assert_int_equal(cmee_store_open("/nonexistent-dir-cmee/x.db", NULL, NULL, &out, &e), CMEE_EIO);
    assert_ptr_equal(out, OUT_SENTINEL);
    assert_non_null(strstr(e.text, "/nonexistent-dir-cmee/x.db"));

    /* NULL-safe calls. */
    cmee_store_close(NULL);
    assert_string_equal(cmee_store_errmsg(NULL), "store is NULL");
    cmee_store_options_init(NULL);
    assert_int_equal(cmee_store_check(NULL), CMEE_EINVAL);
    assert_int_equal(cmee_store_scenario_save(NULL, NULL, 0, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_store_scenario_delete(NULL, "x"), CMEE_EINVAL);
    size_t n;
    assert_int_equal(cmee_store_scenario_list(NULL, NULL, 0, &n), CMEE_EINVAL);
    assert_int_equal(cmee_store_scenario_versions(NULL, "x", NULL, 0, &n), CMEE_EINVAL);
    cmee_scenario *sc;
    assert_int_equal(cmee_store_scenario_load(NULL, "x", 0, NULL, NULL, &sc), CMEE_EINVAL);
}

/* ---- scenarios ------------------------------------------------------------------------ */

static void test_save_load_versions(void **state)
{
    (void)state;
    cmee_store *st = open_ok(":memory:", NULL);
    cmee_scenario *a = make_sc("trend", 0.10), *b = make_sc("trend", 0.20),
                  *c = make_sc("trend", 0.30);
    char *ja = json_of(a), *jb = json_of(b), *jc = json_of(c);
    int v = 0;
    assert_st(st, cmee_store_scenario_save(st, a, CMEE_STORE_SAVE_CREATE, &v), CMEE_OK);
    assert_int_equal(v, 1);
    assert_st(st, cmee_store_scenario_save(st, b, CMEE_STORE_SAVE_UPDATE, &v), CMEE_OK);
    assert_int_equal(v, 2);
    assert_st(st, cmee_store_scenario_save(st, c, CMEE_STORE_SAVE_ANY, NULL), CMEE_OK);
    /* Saving an identical scenario again is still a new version. */
    assert_st(st, cmee_store_scenario_save(st, c, CMEE_STORE_SAVE_ANY, &v), CMEE_OK);
    assert_int_equal(v, 4);

    assert_loads(st, "trend", 0, jc);
    assert_loads(st, "trend", 1, ja);
    assert_loads(st, "trend", 2, jb);
    assert_loads(st, "trend", 3, jc);
    assert_loads(st, "trend", 4, jc);

    /* Unknown versions and names: ENOTFOUND, nothing written, a message that says which. */
    cmee_scenario *out = (cmee_scenario *)(uintptr_t)0x1234;
    assert_st(st, cmee_store_scenario_load(st, "trend", 5, NULL, NULL, &out), CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_store_errmsg(st), "no version 5"));
    assert_st(st, cmee_store_scenario_load(st, "Trend", 0, NULL, NULL, &out), CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_store_errmsg(st), "no such scenario"));
    assert_st(st, cmee_store_scenario_load(st, "nope", 1, NULL, NULL, &out), CMEE_ENOTFOUND);
    assert_st(st, cmee_store_scenario_load(st, "trend", -1, NULL, NULL, &out), CMEE_EINVAL);
    assert_st(st, cmee_store_scenario_load(st, NULL, 0, NULL, NULL, &out), CMEE_EINVAL);
    assert_st(st, cmee_store_scenario_load(st, "trend", 0, NULL, NULL, NULL), CMEE_EINVAL);
    assert_ptr_equal(out, (cmee_scenario *)(uintptr_t)0x1234);

    /* Modes: names are unique. */
    v = 77;
    assert_st(st, cmee_store_scenario_save(st, a, CMEE_STORE_SAVE_CREATE, &v), CMEE_EEXIST);
    assert_non_null(strstr(cmee_store_errmsg(st), "trend"));
    cmee_scenario *d = make_sc("fresh", 0.0);
    assert_st(st, cmee_store_scenario_save(st, d, CMEE_STORE_SAVE_UPDATE, &v), CMEE_ENOTFOUND);
    assert_st(st, cmee_store_scenario_save(st, d, (cmee_store_save_mode)7, &v), CMEE_EINVAL);
    assert_st(st, cmee_store_scenario_save(st, NULL, CMEE_STORE_SAVE_ANY, &v), CMEE_EINVAL);
    assert_int_equal(v, 77);
    assert_int_equal(raw_int(st->db, "SELECT count(*) FROM scenario"), 1);
    assert_int_equal(raw_int(st->db, "SELECT count(*) FROM scenario_version"), 4);
    /* A failed save left no transaction open. */
    assert_int_not_equal(sqlite3_get_autocommit(st->db), 0);

    cmee_scenario_free(a);
    cmee_scenario_free(b);
    cmee_scenario_free(c);
    cmee_scenario_free(d);
    free(ja);
    free(jb);
    free(jc);
    cmee_store_close(st);
}

static void test_list_and_versions(void **state)
{
    (void)state;
    cmee_store *st = open_ok(":memory:", NULL);
    int64_t t0 = cmee__store_now_ms();
    save(st, "zeta", 0.1);
    save(st, "alpha", 0.1);
    save(st, "alpha", 0.2);
    save(st, "Mid name", 0.1);
    save(st, "alpha", 0.3);
    int64_t t1 = cmee__store_now_ms();

    size_t n = 0;
    assert_st(st, cmee_store_scenario_list(st, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 3);
    cmee_store_scenario_info buf[4], pristine[4];
    memset(buf, 0xAB, sizeof buf);
    memcpy(pristine, buf, sizeof buf);
    size_t w = 1234;
    assert_st(st, cmee_store_scenario_list(st, buf, 2, &w), CMEE_ENOSPACE);
    assert_int_equal(w, 1234);
    assert_memory_equal(buf, pristine, sizeof buf);
    assert_st(st, cmee_store_scenario_list(st, NULL, 4, &w), CMEE_EINVAL);
    assert_st(st, cmee_store_scenario_list(st, buf, 4, NULL), CMEE_EINVAL);
    assert_st(st, cmee_store_scenario_list(st, buf, 4, &w), CMEE_OK);
    assert_int_equal(w, 3);
    /* Byte order: upper case before lower case. */
    assert_string_equal(buf[0].name, "Mid name");
    assert_string_equal(buf[1].name, "alpha");
    assert_string_equal(buf[2].name, "zeta");
    assert_int_equal(buf[1].latest, 3);
    assert_int_equal(buf[1].versions, 3);
    assert_int_equal(buf[2].latest, 1);
    assert_int_equal(buf[2].versions, 1);
    for (int i = 0; i < 3; i++) {
        assert_true(buf[i].created >= t0 && buf[i].created <= buf[i].updated);
        assert_true(buf[i].updated <= t1);
    }
    assert_memory_equal(&buf[3], &pristine[3], sizeof buf[3]);

    cmee_store_version_info vb[3], vp[3];
    memset(vb, 0xAB, sizeof vb);
    memcpy(vp, vb, sizeof vb);
    assert_st(st, cmee_store_scenario_versions(st, "alpha", NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 3);
    w = 1234;
    assert_st(st, cmee_store_scenario_versions(st, "alpha", vb, 2, &w), CMEE_ENOSPACE);
    assert_st(st, cmee_store_scenario_versions(st, "nope", vb, 3, &w), CMEE_ENOTFOUND);
    assert_st(st, cmee_store_scenario_versions(st, "nope", NULL, 0, &w), CMEE_ENOTFOUND);
    assert_st(st, cmee_store_scenario_versions(st, NULL, vb, 3, &w), CMEE_EINVAL);
    assert_int_equal(w, 1234);
    assert_memory_equal(vb, vp, sizeof vb);
    assert_st(st, cmee_store_scenario_versions(st, "alpha", vb, 3, &w), CMEE_OK);
    assert_int_equal(w, 3);
    cmee_scenario *sc = make_sc("alpha", 0.2);
    char *j = json_of(sc);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vb[i].version, i + 1);
        assert_true(vb[i].created >= t0 && vb[i].created <= t1);
        assert_true(vb[i].size > 0);
    }
    assert_int_equal(vb[1].size, strlen(j));
    free(j);
    cmee_scenario_free(sc);
    cmee_store_close(st);
}

static void test_delete(void **state)
{
    (void)state;
    cmee_store *st = open_ok(":memory:", NULL);
    save(st, "gone", 0.1);
    save(st, "gone", 0.2);
    save(st, "kept", 0.1);
    assert_st(st, cmee_store_scenario_delete(st, "gone"), CMEE_OK);
    /* The versions went with the name (ON DELETE CASCADE). */
    assert_int_equal(raw_int(st->db, "SELECT count(*) FROM scenario_version"), 1);
    cmee_scenario *out = NULL;
    assert_st(st, cmee_store_scenario_load(st, "gone", 0, NULL, NULL, &out), CMEE_ENOTFOUND);
    assert_st(st, cmee_store_scenario_load(st, "gone", 1, NULL, NULL, &out), CMEE_ENOTFOUND);
    assert_st(st, cmee_store_scenario_delete(st, "gone"), CMEE_ENOTFOUND);
    assert_non_null(strstr(cmee_store_errmsg(st), "gone"));
    assert_st(st, cmee_store_scenario_delete(st, NULL), CMEE_EINVAL);
    size_t n;
    assert_st(st, cmee_store_scenario_list(st, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 1);
    /* A new scenario of a deleted name starts again at version 1. */
    assert_int_equal(save(st, "gone", 0.5), 1);
    assert_int_equal(save(st, "kept", 0.5), 2);
    assert_st(st, cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
}

/* FNV-1a 64 of (name NUL, version as 8 bytes little-endian, json): the stored checksum. */
static long long test_checksum(const char *name, int version, const char *json)
{
    unsigned char v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (unsigned char)((uint64_t)version >> (8 * i));
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    const unsigned char *parts[3] = {(const unsigned char *)name, v, (const unsigned char *)json};
    size_t lens[3] = {strlen(name) + 1, 8, strlen(json)};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < lens[p]; i++) {
            h ^= parts[p][i];
            h *= UINT64_C(0x100000001b3);
        }
    long long s;
    memcpy(&s, &h, sizeof s);
    return s;
}

static void test_damaged_records(void **state)
{
    (void)state;
    cmee_store *st = open_ok(":memory:", NULL);
    save(st, "calm", 0.01);
    save(st, "calm", 0.02);
    save(st, "other", 0.02);
    cmee_scenario *out = NULL;

    /* The checksum is the one documented: recomputing it from the record matches. */
    cmee_scenario *sc = make_sc("calm", 0.02);
    char *j = json_of(sc);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT checksum = %lld FROM scenario_version WHERE scenario = 1 AND version = 2",
             test_checksum("calm", 2, j));
    assert_int_equal(raw_int(st->db, sql), 1);

    /* A changed byte fails the checksum. */
    raw_exec(st->db, "UPDATE scenario_version SET json = replace(json, 'store test', 'store tesT')"
                     " WHERE scenario = 1 AND version = 1");
    assert_st(st, cmee_store_scenario_load(st, "calm", 1, NULL, NULL, &out), CMEE_ECORRUPT);
    assert_non_null(strstr(cmee_store_errmsg(st), "checksum"));
    assert_null(out);
    assert_st(st, cmee_store_check(st), CMEE_ECORRUPT);
    assert_non_null(strstr(cmee_store_errmsg(st), "\"calm\" version 1"));
    /* The other versions still load. */
    assert_loads(st, "calm", 2, j);

    /* A record with a right checksum whose JSON no longer validates. */
    const char *bad = "{\"name\":\"calm\",\"bogus\":1}";
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(st->db,
                                        "UPDATE scenario_version SET json = ?1, checksum = ?2 "
                                        "WHERE scenario = 1 AND version = 1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, bad, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, test_checksum("calm", 1, bad));
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    assert_st(st, cmee_store_scenario_load(st, "calm", 1, NULL, NULL, &out), CMEE_ECORRUPT);
    assert_non_null(strstr(cmee_store_errmsg(st), "no longer validates"));
    assert_null(out);

    /* A record moved under another name fails: the checksum covers the name. */
    raw_exec(st->db, "UPDATE scenario_version SET scenario = 2 WHERE scenario = 1 AND "
                     "version = 2");
    assert_st(st, cmee_store_scenario_load(st, "other", 2, NULL, NULL, &out), CMEE_ECORRUPT);
    free(j);
    cmee_scenario_free(sc);
    cmee_store_close(st);
}

/* ---- concurrency ---------------------------------------------------------------------- */

typedef struct releaser {
    sqlite3 *db;
    int after_ms;
} releaser;

static void *release_later(void *arg)
{
    releaser *r = arg;
    struct timespec t = {0, (long)r->after_ms * 1000000L};
    nanosleep(&t, NULL);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void test_busy(void **state)
{
    (void)state;
    remove_db(dbpath);
    cmee_store_options o = {.busy_timeout_ms = 200};
    cmee_store *st = open_ok(dbpath, &o);
    save(st, "calm", 0.1);

    /* Another connection holds the write lock. */
    sqlite3 *db = raw_open(dbpath);
    raw_exec(db, "BEGIN IMMEDIATE");
    cmee_scenario *sc = make_sc("calm", 0.2);
    int v = 99;
    double t0 = now_s();
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v), CMEE_EBUSY);
    double waited = now_s() - t0;
    assert_true(waited >= 0.1);
    assert_int_equal(v, 99);
    assert_non_null(strstr(cmee_store_errmsg(st), "locked"));
    assert_st(st, cmee_store_scenario_delete(st, "calm"), CMEE_EBUSY);
    /* Readers are not blocked by a writer (WAL). */
    cmee_scenario *got = NULL;
    assert_st(st, cmee_store_scenario_load(st, "calm", 0, NULL, NULL, &got), CMEE_OK);
    cmee_scenario_free(got);
    size_t n;
    assert_st(st, cmee_store_scenario_list(st, NULL, 0, &n), CMEE_OK);
    assert_int_equal(n, 1);

    raw_exec(db, "COMMIT");
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v), CMEE_OK);
    assert_int_equal(v, 2);
    cmee_store_close(st);

    /* With the default timeout a save waits for a lock released a little later. */
    st = open_ok(dbpath, NULL);
    raw_exec(db, "BEGIN IMMEDIATE");
    releaser r = {db, 150};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, &r), 0);
    t0 = now_s();
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v), CMEE_OK);
    assert_true(now_s() - t0 >= 0.05);
    assert_int_equal(v, 3);
    pthread_join(th, NULL);
    cmee_store_close(st);

    /* A negative timeout gives up at once. */
    o.busy_timeout_ms = -1;
    st = open_ok(dbpath, &o);
    raw_exec(db, "BEGIN IMMEDIATE");
    t0 = now_s();
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v), CMEE_EBUSY);
    assert_true(now_s() - t0 < 1.0);
    raw_exec(db, "COMMIT");
    cmee_store_close(st);
    sqlite3_close(db);
    cmee_scenario_free(sc);
}

#define NWRITERS 4
#define NSAVES 40

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    cmee_store *st = NULL;
    if (cmee_store_open(dbpath, NULL, NULL, &st, NULL) != CMEE_OK)
        return (void *)1;
    intptr_t bad = 0;
    for (int i = 0; i < NSAVES && !bad; i++) {
        cmee_regime r;
        cmee_regime_init(&r);
        r.end = HOUR_MS;
        r.drift_mode = CMEE_DRIFT_SPAN;
        r.drift = id * 0.01 + i * 0.0001;
        cmee_scenario_spec spec = {.name = "shared", .regimes = &r, .nregimes = 1};
        cmee_scenario *sc = NULL;
        if (cmee_scenario_new(&spec, NULL, NULL, &sc, NULL) != CMEE_OK ||
            cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, NULL) != CMEE_OK)
            bad = 2;
        cmee_scenario_free(sc);
    }
    cmee_store_close(st);
    return (void *)bad;
}

/* Several handles on one fresh file from several threads: they race to create and migrate
 * it, then every save lands, with versions 1..N and no gaps. */
static void test_several_handles(void **state)
{
    (void)state;
    remove_db(dbpath);
    pthread_t th[NWRITERS];
    for (int i = 0; i < NWRITERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NWRITERS; i++) {
        void *ret = NULL;
        pthread_join(th[i], &ret);
        assert_ptr_equal(ret, NULL);
    }
    cmee_store *st = open_ok(dbpath, NULL);
    cmee_store_version_info v[NWRITERS * NSAVES];
    size_t n = 0;
    assert_st(st, cmee_store_scenario_versions(st, "shared", v, NWRITERS * NSAVES, &n), CMEE_OK);
    assert_int_equal(n, NWRITERS * NSAVES);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].version, (int)i + 1);
    assert_st(st, cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
}

/* ---- market event logs ---------------------------------------------------------------- */

typedef struct ev_copy {
    int64_t seq, wall, at;
    char kind[CMEE_STORE_EVENT_KIND_MAX];
    char data[256];
} ev_copy;

typedef struct ev_list {
    ev_copy e[16];
    size_t n, stop_after;
} ev_list;

static int collect(void *ud, const cmee_store_market_event *ev)
{
    ev_list *l = ud;
    assert_true(l->n < 16);
    ev_copy *c = &l->e[l->n++];
    c->seq = ev->seq;
    c->wall = ev->wall;
    c->at = ev->at;
    assert_int_equal(strlen(ev->data), ev->data_len);
    snprintf(c->kind, sizeof c->kind, "%s", ev->kind);
    snprintf(c->data, sizeof c->data, "%s", ev->data);
    return l->stop_after && l->n == l->stop_after;
}

static void test_market_events(void **state)
{
    (void)state;
    remove_db(dbpath);
    cmee_store *st = open_ok(dbpath, NULL);
    int64_t seq = -1;
    ev_list l = {0};
    size_t n = 99;
    /* An empty log is empty, not missing. */
    assert_st(st, cmee_store_market_events(st, "public", collect, &l, &n), CMEE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(l.n, 0);

    assert_st(st, cmee_store_market_event_append(st, "public", 1000, 5000, "speed",
                                                 "{\"speed\":10}", 12, &seq), CMEE_OK);
    assert_int_equal(seq, 1);
    assert_st(st, cmee_store_market_event_append(st, "other-1.x", 7, 8, "reset", "{}", 2, &seq),
              CMEE_OK);
    assert_int_equal(seq, 1); /* positions are per log */
    /* data need not be NUL-terminated: only len bytes are kept. */
    assert_st(st, cmee_store_market_event_append(st, "public", 2000, 60000, "multipliers",
                                                 "{\"vol\":5}XXXX", 9, &seq), CMEE_OK);
    assert_int_equal(seq, 2);
    assert_st(st, cmee_store_market_event_append(st, "public", 3000, -5, "symbols_2", "[1]", 3,
                                                 NULL), CMEE_OK);
    cmee_store_close(st);

    /* Reopened: the same entries in order, every field as given. */
    st = open_ok(dbpath, NULL);
    assert_st(st, cmee_store_market_events(st, "public", collect, &l, &n), CMEE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.e[0].seq, 1);
    assert_int_equal(l.e[0].wall, 1000);
    assert_int_equal(l.e[0].at, 5000);
    assert_string_equal(l.e[0].kind, "speed");
    assert_string_equal(l.e[0].data, "{\"speed\":10}");
    assert_int_equal(l.e[1].seq, 2);
    assert_int_equal(l.e[1].at, 60000);
    assert_string_equal(l.e[1].data, "{\"vol\":5}");
    assert_int_equal(l.e[2].seq, 3);
    assert_int_equal(l.e[2].at, -5);
    assert_string_equal(l.e[2].kind, "symbols_2");

    /* A callback that stops early. */
    ev_list one = {.stop_after = 1};
    assert_st(st, cmee_store_market_events(st, "public", collect, &one, &n), CMEE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(one.n, 1);

    /* Bad arguments name what is wrong and change nothing. */
    seq = -1;
    assert_int_equal(cmee_store_market_event_append(NULL, "public", 0, 0, "k", "d", 1, &seq),
                     CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, NULL, 0, 0, "k", "d", 1, &seq), CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, "", 0, 0, "k", "d", 1, &seq), CMEE_EINVAL);
    assert_non_null(strstr(cmee_store_errmsg(st), "log:"));
    assert_st(st, cmee_store_market_event_append(st, "a b", 0, 0, "k", "d", 1, &seq), CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, "Speed", "d", 1, &seq),
              CMEE_EINVAL);
    assert_non_null(strstr(cmee_store_errmsg(st), "kind:"));
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, "", "d", 1, &seq),
              CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, NULL, "d", 1, &seq),
              CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, "k", NULL, 1, &seq),
              CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, "k", "d", 0, &seq),
              CMEE_EINVAL);
    assert_non_null(strstr(cmee_store_errmsg(st), "data:"));
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, "k", "a\0b", 3, &seq),
              CMEE_EINVAL);
    assert_st(st, cmee_store_market_event_append(st, "public", 0, 0, "k", "d",
                                                 CMEE_STORE_EVENT_DATA_MAX + 1, &seq),
              CMEE_EINVAL);
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_st(st, cmee_store_market_event_append(st, longname, 0, 0, "k", "d", 1, &seq),
              CMEE_EINVAL);
    assert_int_equal(seq, -1);
    assert_int_equal(cmee_store_market_events(NULL, "public", collect, &l, &n), CMEE_EINVAL);
    assert_st(st, cmee_store_market_events(st, "public", NULL, &l, &n), CMEE_EINVAL);
    assert_st(st, cmee_store_market_events(st, "no such", collect, &l, &n), CMEE_EINVAL);
    ev_list again = {0};
    assert_st(st, cmee_store_market_events(st, "public", collect, &again, &n), CMEE_OK);
    assert_int_equal(n, 3);

    /* Append-only: the database refuses updates. */
    char *msg = NULL;
    assert_int_not_equal(sqlite3_exec(st->db, "UPDATE market_event SET at = 1", NULL, NULL, &msg),
                         SQLITE_OK);
    sqlite3_free(msg);

    assert_st(st, cmee_store_check(st), CMEE_OK);

    /* A changed byte fails the checksum; the entries before it were handed over. */
    raw_exec(st->db, "DROP TRIGGER market_event_append_only");
    raw_exec(st->db,
             "UPDATE market_event SET data = '{\"vol\":6}' WHERE log = 'public' AND seq = 2");
    ev_list bad = {0};
    n = 99;
    assert_st(st, cmee_store_market_events(st, "public", collect, &bad, &n), CMEE_ECORRUPT);
    assert_non_null(strstr(cmee_store_errmsg(st), "entry 2"));
    assert_int_equal(n, 99);
    assert_int_equal(bad.n, 1);
    assert_st(st, cmee_store_check(st), CMEE_ECORRUPT);
    assert_non_null(strstr(cmee_store_errmsg(st), "market event 2 of log \"public\""));
    /* So does a gap in the positions. */
    raw_exec(st->db,
             "UPDATE market_event SET data = '{\"vol\":5}' WHERE log = 'public' AND seq = 2");
    assert_st(st, cmee_store_check(st), CMEE_OK);
    raw_exec(st->db, "DELETE FROM market_event WHERE log = 'public' AND seq = 2");
    assert_st(st, cmee_store_check(st), CMEE_ECORRUPT);
    assert_non_null(strstr(cmee_store_errmsg(st), "market event 3"));
    cmee_store_close(st);
    remove_db(dbpath);
}

/* ---- allocation failures -------------------------------------------------------------- */

static int count_events(void *ud, const cmee_store_market_event *ev)
{
    assert_string_equal(ev->kind, "speed");
    ++*(size_t *)ud;
    return 0;
}

/* One pass of open, save, load, list, versions, delete and close with allocation number
 * fail_at failing. Every call either succeeds or fails cleanly with ENOMEM. */
static void alloc_pass(chaos *c, const char *path)
{
    cmee_allocator a = chaos_allocator(c);
    cmee_store *st = OUT_SENTINEL;
    cmee_error e = {0};
    cmee_status s = cmee_store_open(path, NULL, &a, &st, &e);
    if (s != CMEE_OK) {
        assert_int_equal(s, CMEE_ENOMEM);
        assert_ptr_equal(st, OUT_SENTINEL);
        assert_int_equal(e.status, CMEE_ENOMEM);
        return;
    }
    cmee_scenario *sc = make_sc("oom", 0.1);
    int v = -1;
    s = cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v);
    if (s != CMEE_OK) {
        assert_st(st, s, CMEE_ENOMEM);
        assert_int_equal(v, -1);
        assert_int_not_equal(sqlite3_get_autocommit(st->db), 0);
    }
    cmee_scenario_free(sc);
    cmee_scenario *got = NULL;
    s = cmee_store_scenario_load(st, "oom", 0, NULL, &a, &got);
    if (s != CMEE_OK) {
        assert_true(s == CMEE_ENOMEM || s == CMEE_ENOTFOUND);
        assert_null(got);
    }
    cmee_scenario_free(got);
    cmee_store_scenario_info info[4];
    size_t n = 0;
    s = cmee_store_scenario_list(st, info, 4, &n);
    if (s != CMEE_OK)
        assert_st(st, s, CMEE_ENOMEM);
    cmee_store_version_info vi[4];
    s = cmee_store_scenario_versions(st, "oom", vi, 4, &n);
    if (s != CMEE_OK)
        assert_true(s == CMEE_ENOMEM || s == CMEE_ENOTFOUND);
    s = cmee_store_scenario_delete(st, "oom");
    if (s != CMEE_OK)
        assert_true(s == CMEE_ENOMEM || s == CMEE_ENOTFOUND);
    int64_t seq = -1;
    s = cmee_store_market_event_append(st, "oom", 1, 2, "speed", "{}", 2, &seq);
    if (s != CMEE_OK) {
        assert_st(st, s, CMEE_ENOMEM);
        assert_int_equal(seq, -1);
        assert_int_not_equal(sqlite3_get_autocommit(st->db), 0);
    }
    size_t nev = 99, seen = 0;
    s = cmee_store_market_events(st, "oom", count_events, &seen, &nev);
    if (s != CMEE_OK) {
        assert_st(st, s, CMEE_ENOMEM);
        assert_int_equal(nev, 99);
    } else {
        assert_int_equal(nev, seen);
    }
    /* The statistics need no memory and stay consistent whatever failed. */
    cmee_store_stats ss;
    assert_st(st, cmee_store_stats_get(st, &ss), CMEE_OK);
    assert_true(ss.rolled_back <= ss.transactions);
    assert_true(ss.count[CMEE_STORE_STATS_BUCKETS - 1] <= ss.transactions);
    cmee_store_close(st);
}

/* The invariants of a ::cmee_store_stats: bounds increasing, counts cumulative. */
static void assert_stats_sane(const cmee_store_stats *s)
{
    assert_true(s->le[0] > 0);
    for (int i = 1; i < CMEE_STORE_STATS_BUCKETS; i++) {
        assert_true(s->le[i] > s->le[i - 1]);
        assert_true(s->count[i] >= s->count[i - 1]);
    }
    assert_true(s->count[CMEE_STORE_STATS_BUCKETS - 1] <= s->transactions);
    assert_true(s->rolled_back <= s->transactions);
    assert_true(s->seconds >= 0);
}

/* cmee_store_stats_get(): every write transaction is counted once, committed or rolled back,
 * reads are not, and a transaction that waited on a busy database lands in the slow buckets. */
static void test_stats(void **state)
{
    (void)state;
    cmee_store_stats s0, s1, s2, junk;

    cmee_store *st = open_ok(":memory:", NULL);
    memset(&junk, 0x5a, sizeof junk);
    memcpy(&s2, &junk, sizeof s2);
    assert_int_equal(cmee_store_stats_get(NULL, &s2), CMEE_EINVAL);
    assert_int_equal(cmee_store_stats_get(st, NULL), CMEE_EINVAL);
    assert_memory_equal(&s2, &junk, sizeof s2);

    /* Opening migrated the schema: one transaction per step. */
    assert_st(st, cmee_store_stats_get(st, &s0), CMEE_OK);
    assert_stats_sane(&s0);
    assert_int_equal(s0.transactions, CMEE_STORE_SCHEMA_VERSION);
    assert_int_equal(s0.rolled_back, 0);
    assert_true(s0.le[CMEE_STORE_STATS_BUCKETS - 1] == 5.0);
    assert_true(s0.le[0] == 0.0001);

    save(st, "a", 0.1);
    save(st, "b", 0.2);
    save(st, "a", 0.3);
    cmee_scenario *got = NULL;
    assert_st(st, cmee_store_scenario_load(st, "a", 0, NULL, NULL, &got), CMEE_OK);
    cmee_scenario_free(got);
    size_t n;
    assert_st(st, cmee_store_scenario_list(st, NULL, 0, &n), CMEE_OK);
    assert_st(st, cmee_store_stats_get(st, &s1), CMEE_OK);
    assert_stats_sane(&s1);
    assert_int_equal(s1.transactions - s0.transactions, 3);
    assert_int_equal(s1.rolled_back, 0);
    assert_true(s1.seconds > s0.seconds);
    /* In memory, a save takes well under 5 s: all three are in the last bucket. */
    assert_int_equal(s1.count[CMEE_STORE_STATS_BUCKETS - 1] -
                         s0.count[CMEE_STORE_STATS_BUCKETS - 1], 3);

    /* A refused save (the name exists) is a transaction rolled back. */
    cmee_scenario *sc = make_sc("a", 0.5);
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_CREATE, NULL), CMEE_EEXIST);
    assert_st(st, cmee_store_stats_get(st, &s2), CMEE_OK);
    assert_stats_sane(&s2);
    assert_int_equal(s2.transactions, s1.transactions + 1);
    assert_int_equal(s2.rolled_back, 1);
    cmee_store_close(st);

    /* Waiting 100 ms for another connection's lock, then giving up: counted, rolled back, and
     * in no bucket below 50 ms. */
    remove_db(dbpath);
    cmee_store_options o = {.busy_timeout_ms = 100};
    st = open_ok(dbpath, &o);
    assert_st(st, cmee_store_stats_get(st, &s0), CMEE_OK);
    sqlite3 *db = raw_open(dbpath);
    raw_exec(db, "BEGIN IMMEDIATE");
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, NULL), CMEE_EBUSY);
    raw_exec(db, "COMMIT");
    sqlite3_close(db);
    assert_st(st, cmee_store_stats_get(st, &s1), CMEE_OK);
    assert_stats_sane(&s1);
    assert_int_equal(s1.transactions, s0.transactions + 1);
    assert_int_equal(s1.rolled_back, s0.rolled_back + 1);
    assert_true(s1.seconds - s0.seconds >= 0.09);
    for (int i = 0; i < CMEE_STORE_STATS_BUCKETS; i++)
        if (s1.le[i] < 0.05)
            assert_int_equal(s1.count[i], s0.count[i]);
    /* The handle works on and counts a commit again. */
    assert_st(st, cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, NULL), CMEE_OK);
    assert_st(st, cmee_store_stats_get(st, &s2), CMEE_OK);
    assert_int_equal(s2.transactions, s1.transactions + 1);
    assert_int_equal(s2.rolled_back, s1.rolled_back);
    cmee_scenario_free(sc);
    cmee_store_close(st);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *paths[2] = {":memory:", dbpath};
    for (int p = 0; p < 2; p++) {
        remove_db(dbpath);
        long n = 0;
        for (long fail_at = 1;; fail_at++) {
            chaos c = {.fail_at = fail_at};
            alloc_pass(&c, paths[p]);
            if (c.live != 0) {
                print_error("%s: %ld blocks leaked with allocation %ld failing\n", paths[p], c.live,
                            fail_at);
                fail();
            }
            if (c.calls < fail_at) { /* nothing failed: every path was covered */
                n = fail_at;
                break;
            }
            assert_true(fail_at < 10000);
        }
        assert_true(n > 3);
        chaos all = {.fail_all = true};
        alloc_pass(&all, paths[p]);
        assert_int_equal(all.live, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_memory),
        cmocka_unit_test(test_market_events),
        cmocka_unit_test(test_open_file),
        cmocka_unit_test(test_newer_version_refused),
        cmocka_unit_test(test_not_a_store),
        cmocka_unit_test(test_open_bad_args),
        cmocka_unit_test(test_save_load_versions),
        cmocka_unit_test(test_list_and_versions),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_damaged_records),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_several_handles),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
