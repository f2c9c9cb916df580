/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Broadcaster benchmark, with 1,000 subscribers (queue capacity 1024, drop-oldest), in two
 * configurations, each as a server's event loop would run it:
 *   - "fd": every subscriber has its own eventfd; a small pool of consumer threads waits on
 *     them with epoll;
 *   - "group": all subscribers are in one subscriber group; one consumer thread waits on the
 *     group's fd with epoll and drains the members cmee_subscriber_group_ready() lists.
 * For each it prints:
 *   - memory per subscriber (bytes taken from the allocator; plus one eventfd in the kernel),
 *   - the cost of one publish call that fans out to every subscriber,
 *   - throughput: messages published per second and copies delivered per second with one and
 *     with four publishers publishing as fast as they can (consumers that fall behind drop the
 *     oldest; the drops are printed),
 *   - delivery latency p50 / p99 / p99.9 / max, from the publish call (the message's
 *     published_ns, CLOCK_MONOTONIC) to the consumer holding its copy, at paced rates.
 * Nothing is asserted: machines are noisy.
 * Usage: bench_broadcast [subscribers [consumer-threads [fd|group]]]   (default 1000, half the
 * CPUs from 1 to 4 for the fd configuration (consumer threads beyond the free CPUs only preempt
 * the publisher; the group configuration always has one), and both configurations). With
 * CMEE_BENCH_PIN set in the environment, publishers run on CPU 0 and consumer i on CPU i + 1.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cmee.h>

#include "bench_util.h"

#define CAPACITY 1024
#define BATCH 64
#define MAX_CONS 64

static int nsubs = 1000;
static int ncons = 0; /* fd configuration; default: half the CPUs, 1 to 4 */
static int nactive;   /* consumer threads of the configuration running */

/* ---- an allocator that counts bytes --------------------------------------------------- */

static atomic_long bytes_live;

static void *cnt_malloc(void *ud, size_t size)
{
    (void)ud;
    size_t *p = malloc(size + 16);
    if (!p)
        return NULL;
    p[0] = size;
    atomic_fetch_add(&bytes_live, (long)size);
    return (char *)p + 16;
}

static void cnt_free(void *ud, void *ptr)
{
    (void)ud;
    if (!ptr)
        return;
    size_t *p = (size_t *)((char *)ptr - 16);
    atomic_fetch_sub(&bytes_live, (long)p[0]);
    free(p);
}

static void *cnt_realloc(void *ud, void *ptr, size_t size)
{
    if (!ptr)
        return cnt_malloc(ud, size);
    size_t *p = (size_t *)((char *)ptr - 16);
    size_t old = p[0];
    size_t *q = realloc(p, size + 16);
    if (!q)
        return NULL;
    q[0] = size;
    atomic_fetch_add(&bytes_live, (long)size - (long)old);
    return (char *)q + 16;
}

/* ---- consumers ------------------------------------------------------------------------ */

typedef struct consumer {
    pthread_t th;
    int epfd;
    cmee_subscriber **subs; /* indexed by epoll data */
    cmee_message *buf;
    /* latency samples in ns, when recording */
    int64_t *lat;
    size_t nlat, caplat;
    atomic_ulong got; /* copies fully handled (after their latency was recorded) */
} consumer;

static cmee_subscriber **subs;
static cmee_subscriber_group *group; /* the group configuration's group, else NULL */
static consumer cons[MAX_CONS];
static atomic_int stop_consumers;
static atomic_int recording;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Pin the calling thread to one CPU (modulo the CPU count), if CPU pinning was asked for. */
static int pin = 0;

static void pin_to(int cpu)
{
    if (!pin)
        return;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(cpu % n), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Take everything s has, recording latencies. */
static void drain_all(consumer *c, cmee_subscriber *s)
{
    size_t k;
    while (cmee_subscriber_drain(s, c->buf, BATCH, 0, &k) == CMEE_OK) {
        int64_t t = now_ns();
        if (atomic_load_explicit(&recording, memory_order_acquire)) {
            for (size_t j = 0; j < k && c->nlat < c->caplat; j++)
                c->lat[c->nlat++] = t - c->buf[j].published_ns;
        }
        atomic_fetch_add_explicit(&c->got, k, memory_order_release);
    }
}

static void *consumer_main(void *arg)
{
    consumer *c = arg;
    pin_to(1 + (int)(c - cons));
    struct epoll_event ev[256];
    while (!atomic_load_explicit(&stop_consumers, memory_order_relaxed)) {
        int n = epoll_wait(c->epfd, ev, 256, 20);
        /* Edge-triggered: the fd fires when the queue turns non-empty, so take everything
         * until the queue is empty again. */
        for (int i = 0; i < n; i++)
            drain_all(c, subs[ev[i].data.u32]);
    }
    return NULL;
}

/* The group configuration's one consumer: the group fd, edge-triggered, then every member the
 * ready list gives until it is empty (which is what clears the fd for the next edge). */
static void *group_consumer_main(void *arg)
{
    consumer *c = arg;
    pin_to(1);
    struct epoll_event ev;
    cmee_subscriber *ready[256];
    while (!atomic_load_explicit(&stop_consumers, memory_order_relaxed)) {
        if (epoll_wait(c->epfd, &ev, 1, 20) <= 0)
            continue;
        size_t n;
        while (cmee_subscriber_group_ready(group, ready, 256, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                drain_all(c, ready[i]);
    }
    return NULL;
}

/* Wait until every queued copy has been delivered or dropped, and every delivered copy has
 * been handled by its consumer (so the latency samples are complete and visible). */
static void wait_idle(cmee_broadcaster *b)
{
    for (;;) {
        cmee_broadcast_stats st;
        cmee_broadcaster_stats(b, &st);
        unsigned long handled = 0;
        for (int i = 0; i < nactive; i++)
            handled += atomic_load_explicit(&cons[i].got, memory_order_acquire);
        if (st.delivered + st.dropped >= st.queued && handled >= st.delivered)
            return;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- publishers ----------------------------------------------------------------------- */

typedef struct pubarg {
    cmee_broadcaster *b;
    int id;
    long n;
    double rate; /* messages per second, 0 for as fast as possible */
    double seconds;
} pubarg;

static void *publisher_main(void *arg)
{
    pubarg *p = arg;
    pin_to(0);
    char sym[8];
    snprintf(sym, sizeof sym, "SYM%d", p->id);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long period_ns = p->rate > 0 ? (long)(1e9 / p->rate) : 0;
    for (long i = 0; i < p->n; i++) {
        if (period_ns) {
            next.tv_nsec += period_ns;
            while (next.tv_nsec >= 1000000000) {
                next.tv_nsec -= 1000000000;
                next.tv_sec++;
            }
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        }
        cmee_tick t = {.time = i, .price = 100.0 + (double)(i % 100) * 0.01, .volume = 1};
        if (cmee_broadcaster_publish_tick(p->b, sym, &t) != CMEE_OK) {
            fprintf(stderr, "publish failed\n");
            exit(1);
        }
    }
    return NULL;
}

/* ---- runs ----------------------------------------------------------------------------- */

static void reset_counts(void)
{
    for (int i = 0; i < nactive; i++)
        cons[i].nlat = 0; /* consumers write it only while recording */
}

static double throughput(cmee_broadcaster *b, int npub, long per_pub)
{
    cmee_broadcast_stats s0, s1;
    cmee_broadcaster_stats(b, &s0);
    reset_counts();
    pthread_t th[8];
    pubarg pa[8];
    double t0 = bench_now();
    for (int i = 0; i < npub; i++) {
        pa[i] = (pubarg){b, i, per_pub, 0, 0};
        pthread_create(&th[i], NULL, publisher_main, &pa[i]);
    }
    for (int i = 0; i < npub; i++)
        pthread_join(th[i], NULL);
    double t1 = bench_now();
    wait_idle(b);
    double t2 = bench_now();
    cmee_broadcaster_stats(b, &s1);
    uint64_t pub = s1.published - s0.published;
    uint64_t del = s1.delivered - s0.delivered;
    uint64_t drop = s1.dropped - s0.dropped;
    printf("  %d publisher%s x %ld: %9.0f msg/s published (%.1f us per publish to %d), "
           "%10.0f copies/s delivered, %.1f%% dropped\n",
           npub, npub > 1 ? "s" : " ", per_pub, (double)pub / (t1 - t0),
           (t1 - t0) / (double)pub * 1e6 * npub, nsubs, (double)del / (t2 - t0),
           100.0 * (double)drop / (double)(del + drop));
    return (double)pub / (t1 - t0);
}

/* Latency percentiles of one paced run, in us, for the summary. */
typedef struct latfig {
    double p50, p99, p999, max;
} latfig;

static latfig latency(cmee_broadcaster *b, double rate, double seconds)
{
    long n = (long)(rate * seconds);
    cmee_broadcast_stats s0, s1;
    cmee_broadcaster_stats(b, &s0);
    reset_counts();
    atomic_store(&recording, 1);
    pubarg pa = {b, 0, n, rate, seconds};
    pthread_t th;
    pthread_create(&th, NULL, publisher_main, &pa);
    pthread_join(th, NULL);
    wait_idle(b);
    atomic_store(&recording, 0);
    cmee_broadcaster_stats(b, &s1);
    /* Gather the samples. */
    size_t total = 0;
    for (int i = 0; i < nactive; i++)
        total += cons[i].nlat;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < nactive; i++) {
        memcpy(all + k, cons[i].lat, cons[i].nlat * sizeof *all);
        k += cons[i].nlat;
    }
    qsort(all, total, sizeof *all, cmp_i64);
#define PCT(p) (total ? (double)all[(size_t)((double)(total - 1) * (p))] / 1000.0 : 0.0)
    latfig f = {PCT(0.5), PCT(0.99), PCT(0.999), total ? all[total - 1] / 1000.0 : 0.0};
    printf("  %6.0f msg/s x %d subscribers: latency p50 %7.1f us, p99 %7.1f us, "
           "p99.9 %7.1f us, max %8.1f us  (%zu copies, %llu dropped)\n",
           rate, nsubs, f.p50, f.p99, f.p999, f.max, total,
           (unsigned long long)(s1.dropped - s0.dropped));
#undef PCT
    free(all);
    return f;
}

/* Subscribe nsubs subscribers on "ticks.*" to b, in g if not NULL. */
static int subscribe_all(cmee_broadcaster *b, cmee_subscriber_group *g, cmee_subscriber **out)
{
    cmee_subscriber_options o = {.capacity = CAPACITY, .group = g};
    for (int i = 0; i < nsubs; i++) {
        if (cmee_broadcaster_subscribe(b, "ticks.*", &o, &out[i]) != CMEE_OK) {
            char msg[256];
            cmee_broadcaster_errmsg_copy(b, msg, sizeof msg);
            fprintf(stderr, "subscribe %d: %s\n", i, msg);
            return -1;
        }
    }
    return 0;
}

/* One publish call, nobody reading: the fan-out cost alone. */
static void fanout_cost(bool grouped)
{
    cmee_subscriber *probe = NULL;
    cmee_broadcaster *b2 = NULL;
    cmee_subscriber_group *g2 = NULL;
    cmee_broadcaster_new(NULL, &b2);
    if (grouped)
        cmee_broadcaster_group_new(b2, &g2);
    cmee_subscriber **s2 = calloc((size_t)nsubs, sizeof *s2);
    if (subscribe_all(b2, g2, s2) != 0)
        exit(1);
    cmee_broadcaster_subscribe(b2, "nobody.*", NULL, &probe);
    double best_first = 1e9, best_full = 1e9, best_none = 1e9;
    cmee_tick t = {.time = 1, .price = 1, .volume = 1};
    for (int rep = 0; rep < 20; rep++) {
        double t0 = bench_now();
        cmee_broadcaster_publish_tick(b2, "A", &t); /* queues were empty: eventfd writes */
        double t1 = bench_now();
        cmee_broadcaster_publish_tick(b2, "A", &t); /* queues not empty: pointer pushes */
        double t2 = bench_now();
        for (int i = 0; i < 100; i++)
            cmee_broadcaster_publish_event(b2, "nobody", 1, "x", "{}");
        double t3 = bench_now();
        best_first = t1 - t0 < best_first ? t1 - t0 : best_first;
        best_full = t2 - t1 < best_full ? t2 - t1 : best_full;
        best_none = (t3 - t2) / 100 < best_none ? (t3 - t2) / 100 : best_none;
        cmee_message m[BATCH];
        size_t k;
        for (int i = 0; i < nsubs; i++)
            while (cmee_subscriber_drain(s2[i], m, BATCH, 0, &k) == CMEE_OK) {
            }
    }
    printf("fan-out: one publish to %d subscribers takes %.1f us when their queues were "
           "empty (%s), %.1f us when not (%.0f ns per subscriber); a message nobody follows "
           "%.2f us\n",
           nsubs, best_first * 1e6,
           grouped ? "one eventfd write for the group" : "an eventfd write each",
           best_full * 1e6, best_full * 1e9 / nsubs, best_none * 1e6);
    cmee_broadcaster_free(b2);
    free(s2);
}

typedef struct figures {
    double tput1, tput4; /* msg/s published, 1 and 4 publishers */
    latfig lat[3];       /* at 100, 1,000 and 5,000 msg/s */
} figures;

static const double rates[3] = {100, 1000, 5000};
static const double seconds[3] = {3.0, 2.0, 1.0};

static int run_config(bool grouped, figures *fig)
{
    nactive = grouped ? 1 : ncons;
    atomic_store(&stop_consumers, 0);
    printf("\n[%s] %d subscribers on \"ticks.*\", capacity %d, %s, %d consumer thread%s "
           "(epoll)\n",
           grouped ? "group" : "fd", nsubs, CAPACITY,
           grouped ? "all in one subscriber group (one eventfd)" : "one eventfd each", nactive,
           nactive > 1 ? "s" : "");

    cmee_allocator a = {cnt_malloc, cnt_realloc, cnt_free, NULL};
    cmee_broadcaster *b = NULL;
    if (cmee_broadcaster_new(&a, &b) != CMEE_OK)
        return -1;
    group = NULL;
    if (grouped && cmee_broadcaster_group_new(b, &group) != CMEE_OK)
        return -1;
    long base = atomic_load(&bytes_live);
    subs = calloc((size_t)nsubs, sizeof *subs);
    if (subscribe_all(b, group, subs) != 0)
        return -1;
    long per_sub = (atomic_load(&bytes_live) - base) / nsubs;
    printf("memory: %ld bytes per subscriber from the allocator (%zu of them its queue of %d "
           "pointers)%s; a message is stored once, shared by every queue\n",
           per_sub, (size_t)CAPACITY * sizeof(void *), CAPACITY,
           grouped ? ", no eventfd of its own" : " + one eventfd");

    size_t caplat = 4u << 20;
    for (int i = 0; i < nactive; i++) {
        cons[i].epfd = epoll_create1(EPOLL_CLOEXEC);
        cons[i].buf = malloc(BATCH * sizeof(cmee_message));
        cons[i].caplat = caplat / (size_t)nactive;
        cons[i].lat = malloc(cons[i].caplat * sizeof(int64_t));
        cons[i].nlat = 0;
        atomic_store(&cons[i].got, 0);
    }
    if (grouped) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
        epoll_ctl(cons[0].epfd, EPOLL_CTL_ADD, cmee_subscriber_group_fd(group), &ev);
    } else {
        for (int i = 0; i < nsubs; i++) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i};
            epoll_ctl(cons[i % nactive].epfd, EPOLL_CTL_ADD, cmee_subscriber_fd(subs[i]), &ev);
        }
    }
    for (int i = 0; i < nactive; i++)
        pthread_create(&cons[i].th, NULL, grouped ? group_consumer_main : consumer_main,
                       &cons[i]);

    fanout_cost(grouped);

    printf("throughput (as fast as possible):\n");
    fig->tput1 = throughput(b, 1, 20000);
    fig->tput4 = throughput(b, 4, 5000);
    printf("latency (paced, publish call to consumer holding its copy):\n");
    for (int i = 0; i < 3; i++)
        fig->lat[i] = latency(b, rates[i], seconds[i]);

    atomic_store(&stop_consumers, 1);
    for (int i = 0; i < nactive; i++) {
        pthread_join(cons[i].th, NULL);
        close(cons[i].epfd);
        free(cons[i].buf);
        free(cons[i].lat);
    }
    cmee_broadcaster_free(b);
    free(subs);
    printf("allocator bytes still live after free: %ld\n", atomic_load(&bytes_live));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        nsubs = atoi(argv[1]);
    if (argc > 2)
        ncons = atoi(argv[2]);
    const char *only = argc > 3 ? argv[3] : NULL;
    pin = getenv("CMEE_BENCH_PIN") != NULL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncons == 0)
        ncons = ncpu / 2 < 1 ? 1 : ncpu / 2 > 4 ? 4 : (int)(ncpu / 2);
    bool run_fd = !only || strcmp(only, "fd") == 0;
    bool run_group = !only || strcmp(only, "group") == 0;
    if (nsubs < 1 || ncons < 1 || ncons > MAX_CONS || (!run_fd && !run_group)) {
        fprintf(stderr,
                "usage: bench_broadcast [subscribers [consumer-threads (1-%d) [fd|group]]]\n",
                MAX_CONS);
        return 2;
    }
    printf("broadcaster benchmark: %d subscribers, %ld CPUs\n", nsubs, ncpu);
    figures f[2];
    if (run_fd && run_config(false, &f[0]) != 0)
        return 1;
    if (run_group && run_config(true, &f[1]) != 0)
        return 1;

    printf("\nsummary, %d subscribers (latency in us: p50 / p99 / p99.9):\n", nsubs);
    printf("  %-26s %22s %22s %22s %14s %14s\n", "configuration", "100 msg/s", "1,000 msg/s",
           "5,000 msg/s", "1 pub msg/s", "4 pub msg/s");
    for (int c = 0; c < 2; c++) {
        if (!(c ? run_group : run_fd))
            continue;
        char label[64];
        snprintf(label, sizeof label, c ? "group, 1 consumer" : "fd each, %d consumer%s", ncons,
                 ncons > 1 ? "s" : "");
        printf("  %-26s", label);
        for (int i = 0; i < 3; i++) {
            char cell[64];
            snprintf(cell, sizeof cell, "%.0f / %.0f / %.0f", f[c].lat[i].p50, f[c].lat[i].p99,
                     f[c].lat[i].p999);
            printf(" %22s", cell);
        }
        printf(" %14.0f %14.0f\n", f[c].tput1, f[c].tput4);
    }
    return 0;
}
