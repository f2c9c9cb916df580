/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Broadcaster benchmark, with 1,000 subscribers (queue capacity 1024, drop-oldest) drained by
 * a small pool of consumer threads that wait on the subscribers' fds with epoll, as a server's
 * event loop would. Prints:
 *   - memory per subscriber (bytes taken from the allocator; plus one eventfd in the kernel),
 *   - the cost of one publish call that fans out to every subscriber,
 *   - throughput: messages published per second and copies delivered per second with one and
 *     with four publishers publishing as fast as they can (consumers that fall behind drop the
 *     oldest; the drops are printed),
 *   - delivery latency p50 / p99 / p99.9 / max, from the publish call (the message's
 *     published_ns, CLOCK_MONOTONIC) to the consumer holding its copy, at paced rates.
 * Nothing is asserted: machines are noisy.
 * Usage: bench_broadcast [subscribers [consumer-threads]]   (default 1000, and half the CPUs
 * from 1 to 4: consumer threads beyond the free CPUs only preempt the publisher). With
 * CMEE_BENCH_PIN set in the environment, publishers run on CPU 0 and consumer i on CPU i + 1.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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
static int ncons = 0; /* default: half the CPUs, 1 to 4 */

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

static void *consumer_main(void *arg)
{
    consumer *c = arg;
    pin_to(1 + (int)(c - cons));
    struct epoll_event ev[256];
    while (!atomic_load_explicit(&stop_consumers, memory_order_relaxed)) {
        int n = epoll_wait(c->epfd, ev, 256, 20);
        for (int i = 0; i < n; i++) {
            cmee_subscriber *s = subs[ev[i].data.u32];
            size_t k;
            /* Edge-triggered: the fd fires when the queue turns non-empty, so take everything
             * until the queue is empty again. */
            while (cmee_subscriber_drain(s, c->buf, BATCH, 0, &k) == CMEE_OK) {
                int64_t t = now_ns();
                if (atomic_load_explicit(&recording, memory_order_acquire)) {
                    for (size_t j = 0; j < k && c->nlat < c->caplat; j++)
                        c->lat[c->nlat++] = t - c->buf[j].published_ns;
                }
                atomic_fetch_add_explicit(&c->got, k, memory_order_release);
            }
        }
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
        for (int i = 0; i < ncons; i++)
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
    for (int i = 0; i < ncons; i++)
        cons[i].nlat = 0; /* consumers write it only while recording */
}

static void throughput(cmee_broadcaster *b, int npub, long per_pub)
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
}

static void latency(cmee_broadcaster *b, double rate, double seconds)
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
    for (int i = 0; i < ncons; i++)
        total += cons[i].nlat;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < ncons; i++) {
        memcpy(all + k, cons[i].lat, cons[i].nlat * sizeof *all);
        k += cons[i].nlat;
    }
    qsort(all, total, sizeof *all, cmp_i64);
#define PCT(p) (total ? (double)all[(size_t)((double)(total - 1) * (p))] / 1000.0 : 0.0)
    printf("  %6.0f msg/s x %d subscribers: latency p50 %7.1f us, p99 %7.1f us, "
           "p99.9 %7.1f us, max %8.1f us  (%zu copies, %llu dropped)\n",
           rate, nsubs, PCT(0.5), PCT(0.99), PCT(0.999), total ? all[total - 1] / 1000.0 : 0.0,
           total, (unsigned long long)(s1.dropped - s0.dropped));
#undef PCT
    free(all);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        nsubs = atoi(argv[1]);
    if (argc > 2)
        ncons = atoi(argv[2]);
    pin = getenv("CMEE_BENCH_PIN") != NULL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncons == 0)
        ncons = ncpu / 2 < 1 ? 1 : ncpu / 2 > 4 ? 4 : (int)(ncpu / 2);
    if (nsubs < 1 || ncons < 1 || ncons > MAX_CONS) {
        fprintf(stderr, "usage: bench_broadcast [subscribers [consumer-threads (1-%d)]]\n",
                MAX_CONS);
        return 2;
    }
    printf("broadcaster: %d subscribers on \"ticks.*\", capacity %d, %d consumer threads "
           "(epoll), %ld CPUs\n",
           nsubs, CAPACITY, ncons, ncpu);

    cmee_allocator a = {cnt_malloc, cnt_realloc, cnt_free, NULL};
    cmee_broadcaster *b = NULL;
    if (cmee_broadcaster_new(&a, &b) != CMEE_OK)
        return 1;
    long base = atomic_load(&bytes_live);
    subs = calloc((size_t)nsubs, sizeof *subs);
    cmee_subscriber_options o = {.capacity = CAPACITY};
    for (int i = 0; i < nsubs; i++) {
        if (cmee_broadcaster_subscribe(b, "ticks.*", &o, &subs[i]) != CMEE_OK) {
            char msg[256];
            cmee_broadcaster_errmsg_copy(b, msg, sizeof msg);
            fprintf(stderr, "subscribe %d: %s\n", i, msg);
            return 1;
        }
    }
    long per_sub = (atomic_load(&bytes_live) - base) / nsubs;
    printf("memory: %ld bytes per subscriber from the allocator (%zu of them its queue of %d "
           "pointers) + one eventfd; a message is stored once, shared by every queue\n",
           per_sub, (size_t)CAPACITY * sizeof(void *), CAPACITY);

    size_t caplat = 4u << 20;
    for (int i = 0; i < ncons; i++) {
        cons[i].epfd = epoll_create1(EPOLL_CLOEXEC);
        cons[i].buf = malloc(BATCH * sizeof(cmee_message));
        cons[i].caplat = caplat / (size_t)ncons;
        cons[i].lat = malloc(cons[i].caplat * sizeof(int64_t));
    }
    for (int i = 0; i < nsubs; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i};
        epoll_ctl(cons[i % ncons].epfd, EPOLL_CTL_ADD, cmee_subscriber_fd(subs[i]), &ev);
    }
    for (int i = 0; i < ncons; i++)
        pthread_create(&cons[i].th, NULL, consumer_main, &cons[i]);

    /* One publish call, nobody reading: the fan-out cost alone. */
    {
        cmee_subscriber *probe = NULL;
        cmee_broadcaster *b2 = NULL;
        cmee_broadcaster_new(NULL, &b2);
        cmee_subscriber **s2 = calloc((size_t)nsubs, sizeof *s2);
        for (int i = 0; i < nsubs; i++)
            cmee_broadcaster_subscribe(b2, "ticks.*", &o, &s2[i]);
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
               "empty (an eventfd write each), %.1f us when not (%.0f ns per subscriber); "
               "a message nobody follows %.2f us\n",
               nsubs, best_first * 1e6, best_full * 1e6, best_full * 1e9 / nsubs,
               best_none * 1e6);
        cmee_broadcaster_free(b2);
        free(s2);
    }

    printf("throughput (as fast as possible):\n");
    throughput(b, 1, 20000);
    throughput(b, 4, 5000);
    printf("latency (paced, publish call to consumer holding its copy):\n");
    latency(b, 100, 3.0);
    latency(b, 1000, 2.0);
    latency(b, 5000, 1.0);

    atomic_store(&stop_consumers, 1);
    for (int i = 0; i < ncons; i++) {
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
