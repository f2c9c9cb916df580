/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal layout of cmee_broadcaster and cmee_subscriber (white-box tests read it). */
#ifndef CMEE_BROADCAST_INT_H
#define CMEE_BROADCAST_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"

/* One published message, shared by every queue it was put in. The publisher starts refs at
 * CMEE__REFS_BIAS, each queue slot that gives it up (receive, overflow, free) takes one off, and
 * the publisher takes off the bias minus the copies it queued when it is done: whoever takes
 * the count to zero frees the block, and consumers can never get there before the publisher has
 * finished fanning out. */
typedef struct cmee__blk {
    atomic_size_t refs;
    cmee_message_kind kind;
    cmee_timeframe tf;
    int64_t time;
    uint64_t seq;
    int64_t published_ns;
    cmee_tick tick;
    cmee_candle candle;
    char symbol[CMEE_SYMBOL_MAX];
    char type[CMEE_EVENT_TYPE_MAX];
    uint32_t topic_len;
    uint32_t payload_len;
    char text[]; /* topic, NUL, payload, NUL */
} cmee__blk;

#define CMEE__REFS_BIAS (SIZE_MAX / 2)

/* One pattern followed by at least one subscriber: a node of the pattern table. */
typedef struct cmee__node {
    struct cmee__node *next; /* bucket chain */
    uint64_t hash;
    cmee_subscriber **subs;  /* followers, unordered */
    size_t nsubs, capsubs;
    size_t len;
    char key[]; /* the pattern, NUL-terminated */
} cmee__node;

struct cmee_subscriber {
    cmee_broadcaster *b;
    /* Under the broadcaster's registry lock (read to use, write to change). */
    cmee_subscriber *prev, *next; /* in b->subs */
    cmee__node **pats;            /* patterns in the order they were added */
    size_t npats, cappats;
    /* Under lock: the queue and its counters. */
    pthread_mutex_t lock;
    cmee__blk **ring;
    size_t cap, head, count;
    uint64_t queued, delivered, dropped;
    bool stop; /* delivery thread: leave */
    /* Fixed at creation. */
    cmee_overflow overflow;
    int efd; /* eventfd: readable iff count > 0 */
    cmee_subscriber_fn cb;
    void *ud;
    pthread_t thread;
};

struct cmee_broadcaster {
    cmee__alloc al;
    /* The registry: the pattern table, the subscriber list and the counters of subscribers
     * gone. Publishers and readers hold it shared; changes hold it exclusive. It prefers
     * writers, so a stream of publishers cannot starve a subscribe. */
    pthread_rwlock_t reg;
    cmee__node **buckets;
    size_t nbuckets, nnodes;
    cmee_subscriber *subs;
    size_t nsubs;
    uint64_t gone_queued, gone_delivered, gone_dropped;
    atomic_uint_fast64_t seq, published;
    pthread_mutex_t errlock;
    char errmsg[CMEE__ERRMSG_MAX];
};

#endif
