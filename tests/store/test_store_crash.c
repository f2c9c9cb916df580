/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kill -9 at random moments. A forked child opens a file store and saves new versions of a
 * few scenarios in a loop, reporting "name version checksum" on a pipe right after each save
 * returns (so after its commit). The parent kills it with SIGKILL after a random 0-20 ms, then
 * checks the file: PRAGMA integrity_check is "ok", every version the child reported loads
 * back with the reported checksum, versions are contiguous, and every record in the file
 * loads whole. Repeated ROUNDS times on the same, growing file; the first rounds also kill
 * the child while it creates the file and migrates the schema. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmee_test.h"

#define ROUNDS 100
#define NNAMES 4
#define MAX_KILL_US 20000
#define FIRST_ROUNDS 4 /* rounds killed at any moment, even before the file exists */

static const char *const names[NNAMES] = {"crash-a", "crash-b", "crash-c", "crash-d"};

static char tmpdir[64];
static char dbpath[128];

/* splitmix64: a fixed seed makes the kill times the same on every run. */
static uint64_t rng_state = UINT64_C(0x5eed0fc0ffee);

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* A committed version as the child reported it. */
typedef struct record {
    int name;
    int version;
    uint64_t sum;
} record;

static record *records;
static size_t nrecords, caprecords;
static int checked_upto[NNAMES]; /* versions below this were loaded whole already */

static void add_record(record r)
{
    if (nrecords == caprecords) {
        caprecords = caprecords ? caprecords * 2 : 1024;
        records = realloc(records, caprecords * sizeof *records);
        assert_non_null(records);
    }
    records[nrecords++] = r;
}

/* ---- the child -------------------------------------------------------------------------- */

/* A scenario whose JSON differs from save to save, in content and in length (so that records
 * straddle pages in different ways). */
static cmee_scenario *varied(const char *name, uint64_t x)
{
    cmee_regime r[3];
    size_t nr = 1 + (size_t)(x % 3);
    for (size_t k = 0; k < nr; k++) {
        cmee_regime_init(&r[k]);
        r[k].start = (int64_t)k * HOUR_MS;
        r[k].end = (int64_t)(k + 1) * HOUR_MS;
        r[k].drift_mode = CMEE_DRIFT_SPAN;
        r[k].drift = (double)((x >> (8 * k)) % 1000) / 1000.0 - 0.5;
        r[k].vol_mult = 1.0 + (double)((x >> 20) % 50) / 10.0;
    }
    static char desc[1024];
    size_t len = (size_t)((x >> 32) % 1000);
    for (size_t i = 0; i < len; i++)
        desc[i] = (char)('a' + (x + i) % 26);
    desc[len] = '\0';
    cmee_scenario_spec spec = {.name = name, .description = desc, .regimes = r, .nregimes = nr};
    cmee_scenario *sc = NULL;
    if (cmee_scenario_new(&spec, NULL, NULL, &sc, NULL) != CMEE_OK)
        return NULL;
    return sc;
}

static void child_fail(int fd, const char *what, const char *msg)
{
    char line[512];
    int n = snprintf(line, sizeof line, "ERR %s: %s\n", what, msg);
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
    }
    _exit(3);
}

static void child(int fd, uint64_t seed)
{
    cmee_store *st = NULL;
    cmee_error e = {0};
    if (cmee_store_open(dbpath, NULL, NULL, &st, &e) != CMEE_OK)
        child_fail(fd, "open", e.text);
    rng_state = seed;
    static char json[8192];
    for (;;) {
        uint64_t x = rng_next();
        int k = (int)(x % NNAMES);
        cmee_scenario *sc = varied(names[k], x);
        if (!sc)
            child_fail(fd, "scenario", names[k]);
        size_t len = 0;
        if (cmee_scenario_to_json(sc, json, sizeof json, &len) != CMEE_OK)
            child_fail(fd, "to_json", names[k]);
        int v = 0;
        if (cmee_store_scenario_save(st, sc, CMEE_STORE_SAVE_ANY, &v) != CMEE_OK)
            child_fail(fd, "save", cmee_store_errmsg(st));
        cmee_scenario_free(sc);
        char line[128];
        int n =
            snprintf(line, sizeof line, "%d %d %llu\n", k, v, (unsigned long long)fnv(json, len));
        /* Shorter than PIPE_BUF: written whole or not at all. */
        if (write(fd, line, (size_t)n) != n)
            _exit(4);
    }
}

/* ---- the parent ------------------------------------------------------------------------- */

/* Read everything the (dead) child wrote; return the records of complete lines. */
static size_t read_reports(int fd, int round)
{
    static char buf[1 << 20];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        assert_true(len < sizeof buf - 1);
    }
    buf[len] = '\0';
    size_t got = 0;
    char *p = buf;
    char *nl;
    while ((nl = strchr(p, '\n')) != NULL) {
        *nl = '\0';
        if (strncmp(p, "ERR", 3) == 0) {
            print_error("round %d: the child failed: %s\n", round, p);
            fail();
        }
        int k, v;
        unsigned long long sum;
        assert_int_equal(sscanf(p, "%d %d %llu", &k, &v, &sum), 3);
        assert_true(k >= 0 && k < NNAMES && v >= 1);
        add_record((record){k, v, (uint64_t)sum});
        got++;
        p = nl + 1;
    }
    return got;
}

static void assert_integrity(int round)
{
    /* Killed before it created the file (likely under valgrind): nothing to check yet. */
    if (access(dbpath, F_OK) != 0)
        return;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const char *res = (const char *)sqlite3_column_text(s, 0);
    if (strcmp(res, "ok") != 0) {
        print_error("round %d: integrity_check: %s\n", round, res);
        fail();
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* Load (name, version) and check its JSON against the reported checksum. */
static void assert_record(cmee_store *st, const record *r, int round)
{
    cmee_scenario *sc = NULL;
    cmee_status s = cmee_store_scenario_load(st, names[r->name], r->version, NULL, NULL, &sc);
    if (s != CMEE_OK) {
        print_error("round %d: committed %s version %d: %s: %s\n", round, names[r->name],
                    r->version, cmee_status_name(s), cmee_store_errmsg(st));
        fail();
    }
    static char json[8192];
    size_t len = 0;
    assert_int_equal(cmee_scenario_to_json(sc, json, sizeof json, &len), CMEE_OK);
    cmee_scenario_free(sc);
    if (fnv(json, len) != r->sum) {
        print_error("round %d: %s version %d reads back different\n", round, names[r->name],
                    r->version);
        fail();
    }
}

/* Versions of each name are 1..n without gaps, n covers every reported version, and every
 * version not yet checked (reported or not: the child may die between its commit and its
 * report) loads whole. */
static void assert_versions(cmee_store *st, const int *max_reported, int round)
{
    static cmee_store_version_info v[1 << 16];
    for (int k = 0; k < NNAMES; k++) {
        size_t n = 0;
        cmee_status s = cmee_store_scenario_versions(st, names[k], v, 1 << 16, &n);
        if (s == CMEE_ENOTFOUND) {
            assert_int_equal(max_reported[k], 0);
            continue;
        }
        assert_int_equal(s, CMEE_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(v[i].version, (int)i + 1);
        assert_true((int)n >= max_reported[k]);
        for (int ver = checked_upto[k] + 1; ver <= (int)n; ver++) {
            cmee_scenario *sc = NULL;
            s = cmee_store_scenario_load(st, names[k], ver, NULL, NULL, &sc);
            if (s != CMEE_OK) {
                print_error("round %d: %s version %d: %s: %s\n", round, names[k], ver,
                            cmee_status_name(s), cmee_store_errmsg(st));
                fail();
            }
            cmee_scenario_free(sc);
        }
        checked_upto[k] = (int)n;
    }
}

static void test_kill9(void **state)
{
    (void)state;
    int max_reported[NNAMES] = {0};
    size_t total = 0, nonempty = 0;
    /* Fewer rounds at a CMEE_TEST_SCALE below 1 (cmee_test.h). */
    const int rounds = (int)cmee_test_scaled(ROUNDS);
    for (int round = 0; round < rounds; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        uint64_t seed = rng_next();
        long delay_us = (long)(rng_next() % (MAX_KILL_US + 1));
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(fds[1], seed);
            _exit(5);
        }
        close(fds[1]);
        /* After the first rounds (which may kill it while it creates the file), let the child
         * reach its save loop (its first report) before the random delay, so that a machine
         * or a tool (valgrind) slow to run it still kills it while it writes. */
        if (round >= FIRST_ROUNDS) {
            struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
            while (poll(&pfd, 1, 10000) < 0 && errno == EINTR) {
            }
        }
        struct timespec t = {0, delay_us * 1000L};
        while (nanosleep(&t, &t) != 0 && errno == EINTR) {
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        size_t first = nrecords;
        size_t got = read_reports(fds[0], round);
        close(fds[0]);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        total += got;
        nonempty += got > 0;

        assert_integrity(round);
        /* A store that never got created (killed inside open) is fine too. */
        cmee_store *st = NULL;
        cmee_error e = {0};
        cmee_status s = cmee_store_open(dbpath, NULL, NULL, &st, &e);
        if (s != CMEE_OK) {
            print_error("round %d: reopen: %s: %s\n", round, cmee_status_name(s), e.text);
            fail();
        }
        for (size_t i = first; i < nrecords; i++) {
            assert_record(st, &records[i], round);
            if (records[i].version > max_reported[records[i].name])
                max_reported[records[i].name] = records[i].version;
        }
        /* A few older records: what was committed stays committed. */
        for (int i = 0; i < 16 && first > 0; i++)
            assert_record(st, &records[rng_next() % first], round);
        assert_versions(st, max_reported, round);
        if (round % 16 == 15)
            assert_int_equal(cmee_store_check(st), CMEE_OK);
        cmee_store_close(st);
    }

    /* Finally every record ever reported, and the whole file. */
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(dbpath, NULL, NULL, &st, NULL), CMEE_OK);
    for (size_t i = 0; i < nrecords; i++)
        assert_record(st, &records[i], rounds);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
    print_message("%d kills, %zu reported commits (%zu rounds with some)\n", rounds, total,
                  nonempty);
    assert_true(nonempty >= (size_t)rounds / 2);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-crash-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/crash.db", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[256];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
    rmdir(tmpdir);
    free(records);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
