/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The floor under any WebSocket fan-out on this machine: how long it takes to hand one small
 * message (150 bytes, the size of a tick frame) to 1,000 loopback TCP connections, with no
 * server, no libwebsockets and no JSON around it. Issue 7 asks cmee-server for a p99 delivery
 * latency under 5 ms with 1,000 clients; this program measures what plain send() costs for the
 * same fan-out, from one thread (what libwebsockets 4.1.6 as Debian builds it allows:
 * LWS_MAX_SMP is 1, no service threads) and from two threads (what the machine's two CPUs
 * would allow at best).
 *
 * Three set-ups, each a number of rounds 10 ms apart; a round's figure is the time from the
 * first send() to the last one returning (the last client's message is in its socket then):
 *   idle:   nobody reads while the round runs (the sockets are drained between rounds, untimed);
 *   epoll:  a reader process waits in epoll_wait on the 1,000 client ends and reads everything,
 *           as real clients do (its wake-ups compete with the sender for the CPUs);
 *   2 threads + epoll: the 1,000 sends split over two threads, with the reader as before.
 * Prints the median, p90 and p99 of the rounds and the cost per send. Never asserts on time.
 *
 * Usage: bench_send_floor [ROUNDS]  (default 300; CMEE_BENCH_CLIENTS overrides 1,000) */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

enum { MSG_LEN = 150 };

static int nclients = 1000;
static int *srv_fd;  /* server ends, written by the senders */
static int *cli_fd;  /* client ends, read by the reader */
static char msg[MSG_LEN];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void pin(int cpu)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)n, &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort */
}

static void connect_all(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("bind/listen");
    srv_fd = calloc((size_t)nclients, sizeof *srv_fd);
    cli_fd = calloc((size_t)nclients, sizeof *cli_fd);
    if (!srv_fd || !cli_fd)
        die("calloc");
    int one = 1;
    for (int i = 0; i < nclients; i++) {
        cli_fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (cli_fd[i] < 0 || connect(cli_fd[i], (struct sockaddr *)&a, sizeof a) < 0)
            die("connect");
        srv_fd[i] = accept(lfd, NULL, NULL);
        if (srv_fd[i] < 0)
            die("accept");
        /* As a server sends: no Nagle delay, never block. */
        setsockopt(srv_fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    close(lfd);
}

static void drain_all(void)
{
    char buf[65536];
    for (int i = 0; i < nclients; i++)
        while (recv(cli_fd[i], buf, sizeof buf, MSG_DONTWAIT) > 0)
            ;
}

/* The reader: a child process blocked in epoll on every client end, reading what arrives. */
static pid_t start_reader(void)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid > 0)
        return pid;
    pin(1);
    int ep = epoll_create1(0);
    for (int i = 0; i < nclients; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = cli_fd[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cli_fd[i], &ev);
    }
    struct epoll_event evs[256];
    char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int k = 0; k < n; k++)
            while (recv(evs[k].data.fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
    }
}

static void send_range(int from, int to)
{
    for (int i = from; i < to; i++) {
        ssize_t w = send(srv_fd[i], msg, MSG_LEN, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w != MSG_LEN && !(w < 0 && errno == EAGAIN))
            die("send");
    }
}

typedef struct half {
    pthread_barrier_t *go, *done;
    int from, to, rounds;
} half;

static void *second_sender(void *arg)
{
    half *h = arg;
    pin(1);
    for (int r = 0; r < h->rounds; r++) {
        pthread_barrier_wait(h->go);
        send_range(h->from, h->to);
        pthread_barrier_wait(h->done);
    }
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec t = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&t, NULL);
}

static void report(const char *name, double *v, int n)
{
    double per_send = 0;
    for (int i = 0; i < n; i++)
        per_send += v[i];
    per_send = per_send / n / nclients * 1e6;
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    printf("%-22s %6d rounds  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %6.2f ms  "
           "%5.2f us/send\n",
           name, n, v[n / 2] * 1e3, v[n * 9 / 10] * 1e3, v[n * 99 / 100] * 1e3, v[n - 1] * 1e3,
           per_send);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 300;
    const char *env = getenv("CMEE_BENCH_CLIENTS");
    if (env)
        nclients = atoi(env);
    if (rounds < 10 || nclients < 1) {
        fprintf(stderr, "usage: bench_send_floor [ROUNDS>=10]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * nclients + 64)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(msg, 'x', sizeof msg);
    connect_all();
    double *v = calloc((size_t)rounds, sizeof *v);
    if (!v)
        die("calloc");
    printf("%d loopback TCP connections, %d-byte messages, rounds 10 ms apart, "
           "sender on CPU 0, reader on CPU 1\n",
           nclients, MSG_LEN);

    pin(0);
    /* 1. Nobody reading during the round. */
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now();
        send_range(0, nclients);
        v[r] = bench_now() - t0;
        drain_all();
        sleep_ms(10);
    }
    report("1 thread, idle", v, rounds);

    /* 2. A reader waiting in epoll, as WebSocket clients are. */
    pid_t reader = start_reader();
    sleep_ms(200);
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now();
        send_range(0, nclients);
        v[r] = bench_now() - t0;
        sleep_ms(10);
    }
    report("1 thread, epoll reader", v, rounds);

    /* 3. The same fan-out split over two threads (one per CPU), reader as before. */
    pthread_barrier_t go, done;
    pthread_barrier_init(&go, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    half h = {&go, &done, nclients / 2, nclients, rounds};
    pthread_t th;
    if (pthread_create(&th, NULL, second_sender, &h) != 0)
        die("pthread_create");
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_wait(&go);
        double t0 = bench_now();
        send_range(0, nclients / 2);
        pthread_barrier_wait(&done);
        v[r] = bench_now() - t0;
        sleep_ms(10);
    }
    pthread_join(th, NULL);
    report("2 threads, epoll reader", v, rounds);

    kill(reader, SIGKILL);
    waitpid(reader, NULL, 0);
    free(v);
    return 0;
}
