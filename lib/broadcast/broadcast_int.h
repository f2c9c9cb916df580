/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internal layout of cmee_broadcaster, cmee_subscriber and cmee_subscriber_group (white-box tests
 * read it). */
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
    int efd; /* eventfd: readable iff count > 0; -1 for a group member */
    cmee_subscriber_fn cb;
    void *ud;
    pthread_t thread;
    /* Group members only. A member has no eventfd: its receives wait on cond (under lock),
     * which a push signals while waiters > 0. */
    cmee_subscriber_group *group;
    pthread_cond_t cond;
    unsigned waiters; /* under lock */
    bool has_cond;
    cmee_subscriber *gprev, *gnext; /* in group->members, under the registry lock */
    cmee_subscriber *rprev, *rnext; /* in group's ready list, under group->lock */
    bool in_ready;                  /* under group->lock */
    atomic_bool listed;             /* count > 0; written under lock, read under group->lock */
    atomic_uint pending;            /* in publishers' batches, not yet listed by them */
};

/* A subscriber group: one eventfd and a ready list for many polled subscribers.
 *
 * Every member with messages is in the ready list once its publisher is done: the push that
 * turns a member's queue non-empty sets member->listed (under the member's lock) and batches
 * the member; at the end of the fan-out (or every BATCH_MAX members) the publisher appends the
 * batch under one hold of the group's lock, skipping members already listed or emptied since.
 * The take that empties a queue only clears member->listed; the entry stays until
 * cmee_subscriber_group_ready() walks past it and drops it. So neither side takes the group's
 * lock per member, and since listed is exactly "count > 0" and both the append and the drop
 * read it under the group's lock, a member with messages is never missing: whoever set listed
 * last appends after it. Freeing a member unlinks it under its own lock and the group's
 * (always in that order).
 *
 * A member another publisher has batched but not yet listed (member->pending > 0) is batched
 * again by every publish that reaches it, so that when a publish call returns, every member it
 * reached that has messages is listed: a publisher preempted in the middle of its fan-out
 * delays only its own messages, never another publisher's.
 *
 * The eventfd is set (signalled) only while the list is not empty. A publisher that lists
 * members in a group whose eventfd is not set sets it once, at the end of its fan-out, so a
 * publish to 1,000 members of one group costs one eventfd write, and a consumer woken by it
 * finds the whole fan-out listed instead of racing the publisher member by member. It is
 * cleared when the list becomes empty: by cmee_subscriber_group_ready() dropping the last
 * emptied entries, or by freeing the last member listed. */
struct cmee_subscriber_group {
    cmee_broadcaster *b;
    /* Under the broadcaster's registry lock. */
    cmee_subscriber_group *prev, *next; /* in b->groups */
    cmee_subscriber *members;
    size_t nmembers;
    /* Under lock. */
    pthread_mutex_t lock;
    cmee_subscriber *rhead, *rtail;
    size_t nready;
    bool signalled; /* the eventfd is set; implies nready > 0 */
    /* Fixed at creation. */
    int efd;
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
    cmee_subscriber_group *groups;
    uint64_t gone_queued, gone_delivered, gone_dropped;
    atomic_uint_fast64_t seq, published;
    pthread_mutex_t errlock;
    char errmsg[CMEE__ERRMSG_MAX];
};

#endif
