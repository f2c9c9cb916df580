/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kill -9 a trading session at random moments. A forked child opens a file store, loads the
 * session (or creates it the first time) and trades in a loop driven by a fixed-seed PRNG:
 * market, limit and stop orders, cancellations, options, closing positions and steps of its
 * manual clock. After each call that returns CMEE_OK (so after its commit) it reports
 * "ledger-length balance orders options" on a pipe. The parent kills it with SIGKILL after a
 * random 0-20 ms and checks the file: PRAGMA integrity_check (cmee_store_check) is ok, the
 * session loads (which verifies every checksum and that each running balance is the sum of
 * the ledger so far), the balance is the sum of its ledger, nothing the child reported is lost,
 * and what earlier rounds saw of the ledger is unchanged. Repeated ROUNDS times on the same,
 * growing session; the first rounds also kill the child while it creates the file. At the end
 * the same loop runs in-process for a while, to print persisted operations per second. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmee_test.h"

#define ROUNDS 120
#define MAX_KILL_US 20000
#define SCALE CMEE_MONEY_SCALE
#define SID "crash"

static char tmpdir[64];
static char dbpath[128];

/* splitmix64: a fixed seed makes the kill times and the trading the same on every run. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static const char *const SYMS[4] = {"BTCUSD", "ETHUSD", "EURUSD", "XAUUSD"};

/* One random operation. Returns its status: CMEE_OK means it changed the session and
 * committed; refusals (insufficient funds, a halted market, nothing to cancel...) change
 * nothing. */
static cmee_status one_op(cmee_session *s, uint64_t *rng)
{
    uint64_t x = rng_next(rng);
    const char *sym = SYMS[x % 4];
    unsigned what = (unsigned)((x >> 8) % 100);
    cmee_quote q;
    cmee_status r = cmee_session_quote(s, sym, &q);
    if (r != CMEE_OK)
        return r;
    double qty = sym[0] == 'E' && sym[1] == 'U' ? 1000.0 * (double)(1 + (x >> 16) % 5)
                 : sym[0] == 'B'                ? 0.01 * (double)(1 + (x >> 16) % 5)
                                                : 0.1 * (double)(1 + (x >> 16) % 5);
    if (what < 30) {
        cmee_order_request o;
        cmee_order_request_init(&o, sym);
        o.side = (x >> 24) & 1 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
        o.quantity = qty;
        return cmee_session_order(s, &o, NULL);
    }
    if (what < 50) {
        cmee_order_request o;
        cmee_order_request_init(&o, sym);
        o.side = (x >> 24) & 1 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
        o.type = (x >> 25) & 1 ? CMEE_ORDER_STOP : CMEE_ORDER_LIMIT;
        o.quantity = qty;
        double off = 0.0005 * (double)(1 + (x >> 32) % 10);
        bool below = (o.side == CMEE_SIDE_BUY) == (o.type == CMEE_ORDER_LIMIT);
        o.price = below ? q.bid * (1 - off) : q.ask * (1 + off);
        return cmee_session_order(s, &o, NULL);
    }
    if (what < 65) {
        cmee_option_request o;
        cmee_option_request_init(&o, sym);
        o.kind = (x >> 24) & 1 ? CMEE_OPTION_PUT : CMEE_OPTION_CALL;
        o.stake = (int64_t)(1 + (x >> 32) % 20) * SCALE;
        o.duration = (int64_t)(1 + (x >> 40) % 30) * MIN_MS;
        return cmee_session_option(s, &o, NULL);
    }
    if (what < 70) {
        cmee_order open[64];
        size_t n = 0;
        r = cmee_session_orders(s, true, open, 64, &n);
        if (r != CMEE_OK || n == 0)
            return r == CMEE_OK ? CMEE_ENOTFOUND : r;
        return cmee_session_cancel_order(s, open[(x >> 32) % n].id);
    }
    if (what < 75)
        return cmee_session_close_position(s, sym, NULL);
    return cmee_session_step(s, (int64_t)(1 + (x >> 32) % 600) * 1000);
}

/* ---- the child -------------------------------------------------------------------------- */

static void child_fail(int fd, const char *what, const char *msg)
{
    char line[600];
    int n = snprintf(line, sizeof line, "ERR %s: %s\n", what, msg);
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
    }
    _exit(3);
}

static cmee_session *open_session(cmee_store *st, int fd)
{
    cmee_session *s = NULL;
    cmee_error e = {0};
    cmee_status r = cmee_session_load(st, SID, NULL, &s, &e);
    if (r == CMEE_ENOTFOUND) {
        cmee_session_config c;
        cmee_session_config_init(&c);
        snprintf(c.id, sizeof c.id, SID);
        c.seed = 77;
        c.manual_clock = true;
        c.initial_balance = 1000000 * SCALE;
        r = cmee_session_new(&c, st, NULL, &s, &e);
        if (r == CMEE_EEXIST) /* cannot happen with one writer, but would be no failure */
            r = cmee_session_load(st, SID, NULL, &s, &e);
    }
    if (r != CMEE_OK && fd >= 0)
        child_fail(fd, cmee_status_name(r), e.text);
    return r == CMEE_OK ? s : NULL;
}

static void child(int fd, uint64_t seed)
{
    cmee_store *st = NULL;
    cmee_error e = {0};
    if (cmee_store_open(dbpath, NULL, NULL, &st, &e) != CMEE_OK)
        child_fail(fd, "open", e.text);
    cmee_session *s = open_session(st, fd);
    uint64_t rng = seed;
    for (;;) {
        cmee_status r = one_op(s, &rng);
        if (r == CMEE_EBUSY || r == CMEE_EIO || r == CMEE_ECORRUPT || r == CMEE_ENOMEM ||
            r == CMEE_EINTERNAL)
            child_fail(fd, cmee_status_name(r), cmee_session_errmsg(s));
        if (r != CMEE_OK)
            continue;
        cmee_account a;
        if (cmee_session_account(s, &a) != CMEE_OK)
            child_fail(fd, "account", cmee_session_errmsg(s));
        char line[128];
        int n = snprintf(line, sizeof line, "%zu %lld\n", a.ledger_entries, (long long)a.balance);
        /* Shorter than PIPE_BUF: written whole or not at all. */
        if (write(fd, line, (size_t)n) != n)
            _exit(4);
    }
}

/* ---- the parent ------------------------------------------------------------------------- */

typedef struct report {
    size_t nledger;
    int64_t balance;
    bool any;
} report;

/* Read everything the (dead) child wrote; keep the last complete line. */
static size_t read_reports(int fd, int round, report *last)
{
    static char buf[1 << 22];
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
    char *p = buf, *nl;
    while ((nl = strchr(p, '\n')) != NULL) {
        *nl = '\0';
        if (strncmp(p, "ERR", 3) == 0) {
            print_error("round %d: the child failed: %s\n", round, p);
            fail();
        }
        size_t nl_ = 0;
        long long bal = 0;
        assert_int_equal(sscanf(p, "%zu %lld", &nl_, &bal), 2);
        if (last->any)
            assert_true(nl_ >= last->nledger); /* the ledger only grows */
        *last = (report){nl_, (int64_t)bal, true};
        got++;
        p = nl + 1;
    }
    return got;
}

static cmee_ledger_entry *seen;
static size_t nseen;

static void check_store(int round, const report *last)
{
    cmee_store *st = NULL;
    cmee_error e = {0};
    cmee_status r = cmee_store_open(dbpath, NULL, NULL, &st, &e);
    if (r != CMEE_OK) {
        print_error("round %d: reopen: %s: %s\n", round, cmee_status_name(r), e.text);
        fail();
    }
    r = cmee_store_check(st);
    if (r != CMEE_OK) {
        print_error("round %d: check: %s: %s\n", round, cmee_status_name(r), cmee_store_errmsg(st));
        fail();
    }
    cmee_session *s = NULL;
    r = cmee_session_load(st, SID, NULL, &s, &e);
    if (r == CMEE_ENOTFOUND && !last->any && nseen == 0) { /* killed before its first commit */
        cmee_store_close(st);
        return;
    }
    if (r != CMEE_OK) {
        print_error("round %d: load: %s: %s\n", round, cmee_status_name(r), e.text);
        fail();
    }
    cmee_account a;
    assert_int_equal(cmee_session_account(s, &a), CMEE_OK);
    size_t n = 0;
    assert_int_equal(cmee_session_ledger(s, 0, NULL, 0, &n), CMEE_OK);
    cmee_ledger_entry *l = malloc((n ? n : 1) * sizeof *l);
    assert_non_null(l);
    assert_int_equal(cmee_session_ledger(s, 0, l, n, &n), CMEE_OK);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += l[i].amount;
        assert_int_equal(l[i].seq, i + 1);
        assert_int_equal(l[i].balance, sum);
    }
    assert_int_equal(a.balance, sum);
    assert_int_equal(a.ledger_entries, n);
    /* A committed operation is never lost: at least what the child last reported... */
    if (last->any) {
        if (n < last->nledger) {
            print_error("round %d: %zu ledger entries, the child had committed %zu\n", round, n,
                        last->nledger);
            fail();
        }
        if (n == last->nledger)
            assert_int_equal(a.balance, last->balance);
    }
    /* ...and what earlier rounds found is still there, unchanged. */
    assert_true(n >= nseen);
    for (size_t i = 0; i < nseen; i++) {
        assert_int_equal(l[i].time, seen[i].time);
        assert_int_equal(l[i].amount, seen[i].amount);
        assert_int_equal(l[i].kind, seen[i].kind);
        assert_int_equal(l[i].ref, seen[i].ref);
    }
    free(seen);
    seen = l;
    nseen = n;
    cmee_session_free(s);
    cmee_store_close(st);
}

static int64_t mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void test_kill9(void **state)
{
    (void)state;
    uint64_t rng = UINT64_C(0x5e55105eed);
    size_t total = 0, nonempty = 0;
    /* Fewer rounds at a CMEE_TEST_SCALE below 1 (cmee_test.h). */
    const int rounds = (int)cmee_test_scaled(ROUNDS);
    for (int round = 0; round < rounds; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        uint64_t seed = rng_next(&rng);
        long delay_us = (long)(rng_next(&rng) % (MAX_KILL_US + 1));
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(fds[1], seed);
            _exit(5);
        }
        close(fds[1]);
        /* Let the child reach its write loop (its first report) before the random delay, so a
         * loaded machine that is slow to start the child still kills it while it writes. */
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        while (poll(&pfd, 1, 10000) < 0 && errno == EINTR) {
        }
        struct timespec t = {0, delay_us * 1000L};
        while (nanosleep(&t, &t) != 0 && errno == EINTR) {
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        report last = {0};
        size_t got = read_reports(fds[0], round, &last);
        close(fds[0]);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            print_error("round %d: the child exited with status %d\n", round, status);
            fail();
        }
        total += got;
        nonempty += got > 0;
        check_store(round, &last);
    }
    print_message("%d kills, %zu reported commits (%zu rounds with some), ledger of %zu\n", rounds,
                  total, nonempty, nseen);
    assert_true(nonempty >= (size_t)rounds / 2);

    /* The same loop without kills, for a figure: operations committed per second. */
    cmee_store *st = NULL;
    assert_int_equal(cmee_store_open(dbpath, NULL, NULL, &st, NULL), CMEE_OK);
    cmee_session *s = open_session(st, -1);
    assert_non_null(s);
    uint64_t r2 = rng_next(&rng);
    size_t ok = 0, all = 0;
    int64_t t0 = mono_us(), t1 = t0;
    while (t1 - t0 < 500000) {
        cmee_status r = one_op(s, &r2);
        assert_true(r != CMEE_EBUSY && r != CMEE_EIO && r != CMEE_ECORRUPT);
        ok += r == CMEE_OK;
        all++;
        t1 = mono_us();
    }
    cmee_account a;
    assert_int_equal(cmee_session_account(s, &a), CMEE_OK);
    print_message("%zu committed operations (of %zu tried) in %.2f s: %.0f per second; "
                  "ledger of %zu entries\n",
                  ok, all, (double)(t1 - t0) / 1e6, (double)ok * 1e6 / (double)(t1 - t0),
                  a.ledger_entries);
    cmee_session_free(s);
    assert_int_equal(cmee_store_check(st), CMEE_OK);
    cmee_store_close(st);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmee-scrash-XXXXXX");
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
    free(seen);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
