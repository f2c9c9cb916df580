/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Store benchmark. Prints, for a file store in /tmp (WAL, synchronous=NORMAL), the same with
 * full_sync (an fsync per commit), and an in-memory store:
 *   - scenario saves per second (each save is one transaction: a new version of one of 16
 *     names, about 0.5 KB of JSON),
 *   - scenario loads per second (a random stored version, checksum and validation included),
 *   - cmee_store_scenario_list calls per second over the 16 names.
 * Every figure is the median of several repetitions. Nothing is asserted: machines are noisy.
 * Usage: bench_store [repetitions]   (default 7)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmee.h>

#include "bench_util.h"

#define NNAMES 16
#define NSC 64

static cmee_scenario *scs[NSC];

static void make_scenarios(void)
{
    for (int i = 0; i < NSC; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%02d", i % NNAMES);
        cmee_regime r[2];
        for (int k = 0; k < 2; k++) {
            cmee_regime_init(&r[k]);
            r[k].start = k * INT64_C(3600000);
            r[k].end = (k + 1) * INT64_C(3600000);
            r[k].drift_mode = CMEE_DRIFT_SPAN;
            r[k].drift = 0.001 * i - 0.02 * k;
            r[k].vol_mult = 1.0 + 0.05 * i;
        }
        cmee_event ev;
        cmee_event_init(&ev, CMEE_EVENT_SHOCK);
        ev.at = INT64_C(1800000);
        ev.size = -0.01 * (i % 7 + 1);
        cmee_scenario_spec spec = {.name = name,
                                   .description = "A benchmark scenario: two regimes and a "
                                                  "shock, saved again and again.",
                                   .regimes = r,
                                   .nregimes = 2,
                                   .events = &ev,
                                   .nevents = 1};
        cmee_error e;
        if (cmee_scenario_new(&spec, NULL, NULL, &scs[i], &e) != CMEE_OK) {
            fprintf(stderr, "cmee_scenario_new: %s\n", e.text);
            exit(1);
        }
    }
}

static cmee_store *open_or_die(const char *path, bool full_sync)
{
    cmee_store_options o;
    cmee_store_options_init(&o);
    o.full_sync = full_sync;
    cmee_store *st = NULL;
    cmee_error e;
    if (cmee_store_open(path, &o, NULL, &st, &e) != CMEE_OK) {
        fprintf(stderr, "cmee_store_open(%s): %s\n", path, e.text);
        exit(1);
    }
    return st;
}

static void remove_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* One configuration: saves, loads and lists per second, medians over reps. */
static void run(const char *label, const char *path, bool full_sync, int nsaves, int reps)
{
    double *t_save = malloc(sizeof(double) * (size_t)reps);
    double *t_load = malloc(sizeof(double) * (size_t)reps);
    double *t_list = malloc(sizeof(double) * (size_t)reps);
    if (!t_save || !t_load || !t_list)
        exit(1);
    const int nloads = 20000, nlists = 5000;
    uint64_t x = 12345;
    for (int rep = 0; rep < reps; rep++) {
        if (strcmp(path, ":memory:") != 0)
            remove_db(path);
        cmee_store *st = open_or_die(path, full_sync);
        double t0 = bench_now();
        for (int i = 0; i < nsaves; i++) {
            if (cmee_store_scenario_save(st, scs[i % NSC], CMEE_STORE_SAVE_ANY, NULL) != CMEE_OK) {
                fprintf(stderr, "save: %s\n", cmee_store_errmsg(st));
                exit(1);
            }
        }
        t_save[rep] = bench_now() - t0;

        int versions = nsaves / NNAMES;
        t0 = bench_now();
        for (int i = 0; i < nloads; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            char name[32];
            snprintf(name, sizeof name, "bench-%02d", (int)((x >> 33) % NNAMES));
            int v = 1 + (int)((x >> 17) % (uint64_t)versions);
            cmee_scenario *sc = NULL;
            if (cmee_store_scenario_load(st, name, v, NULL, NULL, &sc) != CMEE_OK) {
                fprintf(stderr, "load: %s\n", cmee_store_errmsg(st));
                exit(1);
            }
            cmee_scenario_free(sc);
        }
        t_load[rep] = bench_now() - t0;

        cmee_store_scenario_info info[NNAMES];
        t0 = bench_now();
        for (int i = 0; i < nlists; i++) {
            size_t n;
            if (cmee_store_scenario_list(st, info, NNAMES, &n) != CMEE_OK || n != NNAMES) {
                fprintf(stderr, "list: %s\n", cmee_store_errmsg(st));
                exit(1);
            }
        }
        t_list[rep] = bench_now() - t0;
        cmee_store_close(st);
    }
    if (strcmp(path, ":memory:") != 0)
        remove_db(path);
    printf("%-28s %10.0f saves/s  %10.0f loads/s  %9.0f lists/s   (%d saves, median of %d)\n",
           label, nsaves / bench_median(t_save, reps), nloads / bench_median(t_load, reps),
           nlists / bench_median(t_list, reps), nsaves, reps);
    free(t_save);
    free(t_load);
    free(t_list);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 3 || reps > 1000)
        reps = 7;
    make_scenarios();
    size_t len = 0;
    cmee_scenario_to_json(scs[0], NULL, 0, &len);
    printf("store benchmark: scenario JSON of %zu bytes, one transaction per save\n", len);

    char dir[] = "/tmp/cmee-bench-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/bench.db", dir);
    run("file, WAL, sync NORMAL", path, false, 4000, reps);
    run("file, WAL, sync FULL", path, true, 400, reps);
    run(":memory:", ":memory:", false, 4000, reps);
    rmdir(dir);
    for (int i = 0; i < NSC; i++)
        cmee_scenario_free(scs[i]);
    return 0;
}
