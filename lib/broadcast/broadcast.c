/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The broadcaster: topics, a pattern table, bounded per-subscriber queues of shared messages,
 * eventfds that are readable while a queue is not empty, subscriber groups sharing one eventfd
 * and a ready list, and delivery threads for callbacks. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "broadcast/broadcast_int.h"

#define SESSION_ID_MAX 47
#define TAKE_CHUNK 64 /* messages taken under one hold of a subscriber's lock */
#define BUCKETS_INITIAL 64
#define WAKE_MAX 8   /* groups one publish remembers to wake at the end of its fan-out */
#define BATCH_MAX 64 /* group members one publish lists under one hold of the group's lock */

/* ---- errors --------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static cmee_status fail(const cmee_broadcaster *b,
                                                              cmee_status st, const char *fmt,
                                                              ...)
{
    cmee_broadcaster *bb = (cmee_broadcaster *)b;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&bb->errlock);
    cmee__vfmt(bb->errmsg, sizeof bb->errmsg, fmt, ap);
    pthread_mutex_unlock(&bb->errlock);
    va_end(ap);
    return st;
}

size_t cmee_broadcaster_errmsg_copy(const cmee_broadcaster *b, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return 0;
    if (!b) {
        static const char text[] = "broadcaster is NULL";
        cmee__fmt(buf, cap, "%s", text);
        return sizeof text - 1;
    }
    cmee_broadcaster *bb = (cmee_broadcaster *)b;
    pthread_mutex_lock(&bb->errlock);
    size_t n = strlen(bb->errmsg);
    cmee__fmt(buf, cap, "%s", bb->errmsg);
    pthread_mutex_unlock(&bb->errlock);
    return n;
}

size_t cmee_sizeof_message(void)
{
    return sizeof(cmee_message);
}

/* ---- names ---------------------------------------------------------------------------- */

static bool is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A symbol name as the market accepts it: 1 to 15 of A-Z 0-9 . - _ */
static bool valid_symbol(const char *s)
{
    size_t n = strnlen(s, CMEE_SYMBOL_MAX);
    if (n == 0 || n >= CMEE_SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

static bool valid_session_id(const char *s)
{
    size_t n = strnlen(s, SESSION_ID_MAX + 1);
    if (n == 0 || n > SESSION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static bool valid_type(const char *s)
{
    size_t n = strnlen(s, CMEE_EVENT_TYPE_MAX);
    if (n == 0 || n >= CMEE_EVENT_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    }
    return true;
}

/* The first n characters of s form a topic: A-Z a-z 0-9 . _ - :, no '.' at either end, no
 * "..". */
static bool valid_topic_n(const char *s, size_t n)
{
    if (n == 0 || n >= CMEE_TOPIC_MAX || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_alnum(c) && c != '_' && c != '-' && c != ':') {
            return false;
        }
    }
    return true;
}

/* Length of a valid topic, or 0. */
static size_t topic_len(const char *s)
{
    size_t n = strnlen(s, CMEE_TOPIC_MAX);
    return valid_topic_n(s, n) ? n : 0;
}

/* Length of a valid pattern (a topic, "<topic>.*" or "*"), or 0. */
static size_t pattern_len(const char *s)
{
    size_t n = strnlen(s, CMEE_TOPIC_MAX);
    if (n == 0 || n >= CMEE_TOPIC_MAX)
        return 0;
    if (n == 1 && s[0] == '*')
        return 1;
    if (n >= 3 && s[n - 1] == '*' && s[n - 2] == '.')
        return valid_topic_n(s, n - 2) ? n : 0;
    return valid_topic_n(s, n) ? n : 0;
}

static cmee_status put_topic(char *buf, size_t cap, const char *a, const char *b, const char *c)
{
    size_t na = strlen(a), nb = strlen(b), nc = c ? strlen(c) + 1 : 0;
    size_t n = na + nb + nc;
    if (n + 1 > cap)
        return CMEE_ENOSPACE;
    memcpy(buf, a, na);
    memcpy(buf + na, b, nb);
    if (c) {
        buf[na + nb] = '.';
        memcpy(buf + na + nb + 1, c, nc - 1);
    }
    buf[n] = '\0';
    return CMEE_OK;
}

cmee_status cmee_topic_ticks(char *buf, size_t cap, const char *symbol)
{
    if (!buf || !symbol || !valid_symbol(symbol))
        return CMEE_EINVAL;
    return put_topic(buf, cap, "ticks.", symbol, NULL);
}

cmee_status cmee_topic_candles(char *buf, size_t cap, const char *symbol, cmee_timeframe tf)
{
    if (!buf || !symbol || !valid_symbol(symbol) || !cmee_timeframe_name(tf))
        return CMEE_EINVAL;
    return put_topic(buf, cap, "candles.", symbol, cmee_timeframe_name(tf));
}

cmee_status cmee_topic_session(char *buf, size_t cap, const char *id)
{
    if (!buf || !id || !valid_session_id(id))
        return CMEE_EINVAL;
    return put_topic(buf, cap, "session.", id, NULL);
}

/* ---- clocks and fds ------------------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The eventfd's counter is only ever 0 or 1 while the subscriber lives: set on the push that
 * makes the queue non-empty, cleared by the take that empties it, both under the lock. A
 * group's eventfd likewise, under the group's lock (see broadcast_int.h). */
static void efd_set(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r; /* cannot fail: the counter is far from its limit and the fd is ours */
}

static void efd_clear(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r; /* EAGAIN if already clear */
}

/* ---- messages ------------------------------------------------------------------------- */

static void blk_release(const cmee_broadcaster *b, cmee__blk *k, size_t n)
{
    if (atomic_fetch_sub_explicit(&k->refs, n, memory_order_acq_rel) == n)
        cmee__free(&b->al, k);
}

static void copy_out(const cmee__blk *k, uint64_t dropped, cmee_message *m)
{
    memcpy(m->topic, k->text, (size_t)k->topic_len + 1);
    m->kind = k->kind;
    m->timeframe = k->tf;
    m->time = k->time;
    m->seq = k->seq;
    m->published_ns = k->published_ns;
    m->dropped = dropped;
    memcpy(m->symbol, k->symbol, sizeof m->symbol);
    m->tick = k->tick;
    m->candle = k->candle;
    memcpy(m->type, k->type, sizeof m->type);
    m->payload_len = k->payload_len;
    memcpy(m->payload, k->text + k->topic_len + 1, (size_t)k->payload_len + 1);
}

/* ---- the pattern table ---------------------------------------------------------------- */

static uint64_t hash_key(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static cmee__node *node_find(const cmee_broadcaster *b, const char *key, size_t n, uint64_t h)
{
    for (cmee__node *q = b->buckets[h & (b->nbuckets - 1)]; q; q = q->next)
        if (q->hash == h && q->len == n && memcmp(q->key, key, n) == 0)
            return q;
    return NULL;
}

/* Doubles the bucket array when nodes outnumber buckets. A failed allocation only keeps the
 * chains longer, so it is not an error. */
static void table_grow(cmee_broadcaster *b)
{
    if (b->nnodes <= b->nbuckets)
        return;
    size_t nb = b->nbuckets * 2;
    cmee__node **nbk = cmee__calloc(&b->al, nb, sizeof *nbk);
    if (!nbk)
        return;
    for (size_t i = 0; i < b->nbuckets; i++) {
        cmee__node *q = b->buckets[i];
        while (q) {
            cmee__node *next = q->next;
            q->next = nbk[q->hash & (nb - 1)];
            nbk[q->hash & (nb - 1)] = q;
            q = next;
        }
    }
    cmee__free(&b->al, b->buckets);
    b->buckets = nbk;
    b->nbuckets = nb;
}

static void node_unlink_free(cmee_broadcaster *b, cmee__node *node)
{
    cmee__node **pp = &b->buckets[node->hash & (b->nbuckets - 1)];
    while (*pp != node)
        pp = &(*pp)->next;
    *pp = node->next;
    b->nnodes--;
    cmee__free(&b->al, node->subs);
    cmee__free(&b->al, node);
}

/* Does pattern node q match topic t of length n? */
static bool node_matches(const cmee__node *q, const char *t, size_t n)
{
    if (q->key[q->len - 1] == '*')
        return n >= q->len - 1 && memcmp(t, q->key, q->len - 1) == 0;
    return q->len == n && memcmp(t, q->key, n) == 0;
}

/* Under the write lock. Nothing changes unless it succeeds. */
static cmee_status add_pattern_locked(cmee_subscriber *sub, const char *pat, size_t n)
{
    cmee_broadcaster *b = sub->b;
    uint64_t h = hash_key(pat, n);
    cmee__node *node = node_find(b, pat, n, h);
    if (node)
        for (size_t i = 0; i < sub->npats; i++)
            if (sub->pats[i] == node)
                return fail(b, CMEE_EEXIST, "pattern: \"%s\" is already followed", pat);
    if (sub->npats == CMEE_SUBSCRIBER_PATTERNS_MAX)
        return fail(b, CMEE_ERANGE, "pattern: a subscriber follows at most %d patterns",
                    CMEE_SUBSCRIBER_PATTERNS_MAX);
    if (sub->npats == sub->cappats) {
        size_t nc = sub->cappats ? sub->cappats * 2 : 2;
        cmee__node **np = cmee__realloc(&b->al, sub->pats, nc * sizeof *np);
        if (!np)
            return fail(b, CMEE_ENOMEM, "pattern: out of memory");
        sub->pats = np;
        sub->cappats = nc;
    }
    bool fresh = !node;
    if (fresh) {
        node = cmee__malloc(&b->al, sizeof *node + n + 1);
        if (!node)
            return fail(b, CMEE_ENOMEM, "pattern: out of memory");
        *node = (cmee__node){.hash = h, .len = n};
        memcpy(node->key, pat, n + 1);
    }
    if (node->nsubs == node->capsubs) {
        size_t nc = node->capsubs ? node->capsubs * 2 : 4;
        cmee_subscriber **ns = cmee__realloc(&b->al, node->subs, nc * sizeof *ns);
        if (!ns) {
            if (fresh)
                cmee__free(&b->al, node);
            return fail(b, CMEE_ENOMEM, "pattern: out of memory");
        }
        node->subs = ns;
        node->capsubs = nc;
    }
    if (fresh) {
        size_t i = h & (b->nbuckets - 1);
        node->next = b->buckets[i];
        b->buckets[i] = node;
        b->nnodes++;
        table_grow(b);
    }
    node->subs[node->nsubs++] = sub;
    sub->pats[sub->npats++] = node;
    return CMEE_OK;
}

/* Under the write lock. */
static void remove_pattern_locked(cmee_subscriber *sub, size_t k)
{
    cmee__node *node = sub->pats[k];
    memmove(sub->pats + k, sub->pats + k + 1, (sub->npats - k - 1) * sizeof *sub->pats);
    sub->npats--;
    for (size_t i = 0; i < node->nsubs; i++) {
        if (node->subs[i] == sub) {
            node->subs[i] = node->subs[--node->nsubs];
            break;
        }
    }
    if (node->nsubs == 0)
        node_unlink_free(sub->b, node);
}

/* ---- the broadcaster ------------------------------------------------------------------ */

cmee_status cmee_broadcaster_new(const cmee_allocator *alloc, cmee_broadcaster **out)
{
    cmee__alloc al;
    if (!out || cmee__alloc_init(&al, alloc) != CMEE_OK)
        return CMEE_EINVAL;
    cmee_broadcaster *b = cmee__calloc(&al, 1, sizeof *b);
    if (!b)
        return CMEE_ENOMEM;
    b->al = al;
    b->nbuckets = BUCKETS_INITIAL;
    b->buckets = cmee__calloc(&al, b->nbuckets, sizeof *b->buckets);
    if (!b->buckets) {
        cmee__free(&al, b);
        return CMEE_ENOMEM;
    }
    pthread_rwlockattr_t attr;
    bool ok = pthread_rwlockattr_init(&attr) == 0;
    if (ok) {
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        ok = pthread_rwlock_init(&b->reg, &attr) == 0;
        pthread_rwlockattr_destroy(&attr);
    }
    if (ok && pthread_mutex_init(&b->errlock, NULL) != 0) {
        pthread_rwlock_destroy(&b->reg);
        ok = false;
    }
    if (!ok) {
        cmee__free(&al, b->buckets);
        cmee__free(&al, b);
        return CMEE_ENOMEM;
    }
    atomic_init(&b->seq, 0);
    atomic_init(&b->published, 0);
    *out = b;
    return CMEE_OK;
}

static void sub_destroy(cmee_subscriber *sub);

void cmee_broadcaster_free(cmee_broadcaster *b)
{
    if (!b)
        return;
    while (b->subs)
        cmee_subscriber_free(b->subs);
    while (b->groups)
        cmee_subscriber_group_free(b->groups);
    pthread_rwlock_destroy(&b->reg);
    pthread_mutex_destroy(&b->errlock);
    cmee__alloc al = b->al;
    cmee__free(&al, b->buckets);
    cmee__free(&al, b);
}

cmee_status cmee_broadcaster_stats(const cmee_broadcaster *b, cmee_broadcast_stats *out)
{
    if (!b || !out)
        return CMEE_EINVAL;
    cmee_broadcaster *bb = (cmee_broadcaster *)b;
    cmee_broadcast_stats s = {0};
    pthread_rwlock_rdlock(&bb->reg);
    s.queued = b->gone_queued;
    s.delivered = b->gone_delivered;
    s.dropped = b->gone_dropped;
    s.subscribers = b->nsubs;
    for (cmee_subscriber *sub = b->subs; sub; sub = sub->next) {
        pthread_mutex_lock(&sub->lock);
        s.queued += sub->queued;
        s.delivered += sub->delivered;
        s.dropped += sub->dropped;
        pthread_mutex_unlock(&sub->lock);
    }
    pthread_rwlock_unlock(&bb->reg);
    s.published = atomic_load_explicit(&bb->published, memory_order_relaxed);
    *out = s;
    return CMEE_OK;
}

/* ---- groups: the ready list ----------------------------------------------------------- */

typedef struct fanout {
    cmee__blk *blk;          /* allocated at the first match */
    const cmee__blk *tmpl;   /* the fields */
    const char *topic, *payload;
    size_t tlen, plen;
    size_t queued;
    cmee_status st;
    cmee_subscriber *batch[BATCH_MAX]; /* members whose queue this publish made non-empty */
    size_t nbatch;
    cmee_subscriber_group *wake[WAKE_MAX]; /* groups whose eventfd to set when done */
    size_t nwake;
} fanout;

/* Under g->lock. */
static void ready_unlink(cmee_subscriber_group *g, cmee_subscriber *sub)
{
    if (sub->rprev)
        sub->rprev->rnext = sub->rnext;
    else
        g->rhead = sub->rnext;
    if (sub->rnext)
        sub->rnext->rprev = sub->rprev;
    else
        g->rtail = sub->rprev;
    sub->rprev = sub->rnext = NULL;
    sub->in_ready = false;
    g->nready--;
}

/* Under g->lock. */
static void ready_append(cmee_subscriber_group *g, cmee_subscriber *sub)
{
    sub->rprev = g->rtail;
    sub->rnext = NULL;
    if (g->rtail)
        g->rtail->rnext = sub;
    else
        g->rhead = sub;
    g->rtail = sub;
    g->nready++;
    sub->in_ready = true;
}

/* Under g->lock: the list has no member with messages left; clear the eventfd. */
static void ready_clear_fd(cmee_subscriber_group *g)
{
    if (g->nready == 0 && g->signalled) {
        efd_clear(g->efd);
        g->signalled = false;
    }
}

/* Append the batched members to their groups' ready lists, one hold of a group's lock per run
 * of members of that group. A member whose queue a consumer has emptied since is skipped, and
 * one already listed stays where it is. If a group's eventfd is not set, the publisher
 * remembers the group and sets it once its fan-out is done (wake_groups), or at once if it
 * already remembers too many groups. */
static void batch_flush(fanout *f)
{
    for (size_t i = 0; i < f->nbatch;) {
        cmee_subscriber_group *g = f->batch[i]->group;
        pthread_mutex_lock(&g->lock);
        for (; i < f->nbatch && f->batch[i]->group == g; i++) {
            cmee_subscriber *sub = f->batch[i];
            if (!sub->in_ready && atomic_load_explicit(&sub->listed, memory_order_acquire))
                ready_append(g, sub);
            atomic_fetch_sub(&sub->pending, 1); /* after the append: see push() */
        }
        if (g->nready && !g->signalled) {
            bool later = false;
            for (size_t k = 0; k < f->nwake && !later; k++)
                later = f->wake[k] == g;
            if (!later && f->nwake < WAKE_MAX) {
                f->wake[f->nwake++] = g;
                later = true;
            }
            if (!later) {
                efd_set(g->efd);
                g->signalled = true;
            }
        }
        pthread_mutex_unlock(&g->lock);
    }
    f->nbatch = 0;
}

/* At the end of a fan-out, still under the registry lock (so no member or group can go away):
 * list the batched members, then set the eventfd of every group this publish listed members
 * in, unless a consumer has emptied the list meanwhile or another publisher has set it. Every
 * append to a list whose eventfd is not set lands here, so a list with a member that has
 * messages always has its eventfd set before the publisher returns. */
static void wake_groups(fanout *f)
{
    batch_flush(f);
    for (size_t i = 0; i < f->nwake; i++) {
        cmee_subscriber_group *g = f->wake[i];
        pthread_mutex_lock(&g->lock);
        if (g->nready && !g->signalled) {
            efd_set(g->efd);
            g->signalled = true;
        }
        pthread_mutex_unlock(&g->lock);
    }
}

/* ---- publishing ----------------------------------------------------------------------- */

/* Add a member to this publish's batch (it cannot go away before the batch is flushed: the
 * publisher holds the registry). */
static void batch_add(fanout *f, cmee_subscriber *sub)
{
    if (f->nbatch == BATCH_MAX)
        batch_flush(f);
    f->batch[f->nbatch++] = sub;
}

/* Put k into sub's queue. Returns true if it was queued, false if it was dropped.
 *
 * A member goes into this publish's batch if its queue was empty, and also if another
 * publisher has batched it but not listed it yet (even if this message is dropped): then this
 * publish lists it itself, so that when a publish returns every member it reached that has
 * messages is listed, and a publisher preempted in the middle of its fan-out delays only its
 * own messages. */
static bool push(cmee_subscriber *sub, cmee__blk *k, fanout *f)
{
    cmee__blk *victim = NULL;
    pthread_mutex_lock(&sub->lock);
    bool was_empty = sub->count == 0;
    bool list = sub->group && (was_empty || atomic_load(&sub->pending) > 0);
    if (list)
        atomic_fetch_add(&sub->pending, 1);
    if (sub->count == sub->cap) {
        sub->dropped++;
        if (sub->overflow == CMEE_OVERFLOW_DROP_NEWEST) {
            pthread_mutex_unlock(&sub->lock);
            if (list)
                batch_add(f, sub);
            return false;
        }
        victim = sub->ring[sub->head];
        if (++sub->head == sub->cap)
            sub->head = 0;
        sub->count--;
    }
    size_t i = sub->head + sub->count;
    if (i >= sub->cap)
        i -= sub->cap;
    sub->ring[i] = k;
    sub->queued++;
    sub->count++;
    if (was_empty && sub->group)
        atomic_store_explicit(&sub->listed, true, memory_order_release);
    else if (was_empty)
        efd_set(sub->efd);
    if (sub->waiters)
        pthread_cond_signal(&sub->cond);
    pthread_mutex_unlock(&sub->lock);
    if (victim)
        blk_release(sub->b, victim, 1);
    if (list)
        batch_add(f, sub);
    return true;
}

/* Is q the first of sub's patterns that matches topic t? A subscriber gets a message once,
 * through its first matching pattern, however many match. */
static bool first_match(const cmee_subscriber *sub, const cmee__node *q, const char *t, size_t n)
{
    for (size_t i = 0; i < sub->npats; i++) {
        if (sub->pats[i] == q)
            return true;
        if (node_matches(sub->pats[i], t, n))
            return false;
    }
    return true;
}

static void fan_node(cmee_broadcaster *b, fanout *f, const cmee__node *q)
{
    for (size_t i = 0; i < q->nsubs && f->st == CMEE_OK; i++) {
        cmee_subscriber *sub = q->subs[i];
        if (!first_match(sub, q, f->topic, f->tlen))
            continue;
        if (!f->blk) {
            size_t size = sizeof(cmee__blk) + f->tlen + 1 + f->plen + 1;
            cmee__blk *k = cmee__malloc(&b->al, size);
            if (!k) {
                f->st = CMEE_ENOMEM;
                return;
            }
            size_t skip = offsetof(cmee__blk, kind); /* everything but refs */
            memcpy((char *)k + skip, (const char *)f->tmpl + skip, sizeof *k - skip);
            atomic_init(&k->refs, CMEE__REFS_BIAS);
            memcpy(k->text, f->topic, f->tlen + 1);
            if (f->plen)
                memcpy(k->text + f->tlen + 1, f->payload, f->plen);
            k->text[f->tlen + 1 + f->plen] = '\0';
            f->blk = k;
        }
        if (push(sub, f->blk, f))
            f->queued++;
    }
}

static void fan_key(cmee_broadcaster *b, fanout *f, const char *key, size_t n)
{
    cmee__node *q = node_find(b, key, n, hash_key(key, n));
    if (q)
        fan_node(b, f, q);
}

/* Publish a checked message: the template's fields, the topic and the payload. */
static cmee_status publish(cmee_broadcaster *b, cmee__blk *tmpl, const char *topic, size_t tlen,
                           const char *payload, size_t plen)
{
    tmpl->seq = atomic_fetch_add_explicit(&b->seq, 1, memory_order_relaxed) + 1;
    tmpl->published_ns = mono_ns();
    tmpl->topic_len = (uint32_t)tlen;
    tmpl->payload_len = (uint32_t)plen;
    fanout f = {.tmpl = tmpl, .topic = topic, .payload = payload, .tlen = tlen, .plen = plen};

    pthread_rwlock_rdlock(&b->reg);
    if (b->nnodes) {
        /* The patterns that can match: the topic itself, "<prefix>.*" for every prefix that
         * ends before a '.', and "*". Each is one hash lookup. */
        char key[CMEE_TOPIC_MAX + 1];
        fan_key(b, &f, topic, tlen);
        for (size_t i = 0; i < tlen && f.st == CMEE_OK; i++) {
            if (topic[i] == '.') {
                memcpy(key, topic, i + 1);
                key[i + 1] = '*';
                fan_key(b, &f, key, i + 2);
            }
        }
        if (f.st == CMEE_OK)
            fan_key(b, &f, "*", 1);
        wake_groups(&f);
    }
    pthread_rwlock_unlock(&b->reg);

    if (f.st != CMEE_OK) /* only the first allocation can fail: nothing was queued */
        return fail(b, f.st, "publish: out of memory for a message on \"%s\"", topic);
    if (f.blk)
        blk_release(b, f.blk, CMEE__REFS_BIAS - f.queued);
    atomic_fetch_add_explicit(&b->published, 1, memory_order_relaxed);
    return CMEE_OK;
}

static cmee_status check_symbol(const cmee_broadcaster *b, const char *symbol)
{
    if (!symbol)
        return fail(b, CMEE_EINVAL, "symbol: NULL");
    if (!valid_symbol(symbol))
        return fail(b, CMEE_EINVAL,
                    "symbol: must be 1 to 15 characters from A-Z 0-9 . - _, got \"%.*s\"",
                    CMEE_SYMBOL_MAX, symbol);
    return CMEE_OK;
}

static cmee_status check_type(const cmee_broadcaster *b, const char *type)
{
    if (!type)
        return fail(b, CMEE_EINVAL, "type: NULL");
    if (!valid_type(type))
        return fail(b, CMEE_EINVAL,
                    "type: must be 1 to 31 characters from a-z 0-9 _ . -, got \"%.*s\"",
                    CMEE_EVENT_TYPE_MAX, type);
    return CMEE_OK;
}

cmee_status cmee_broadcaster_publish(cmee_broadcaster *b, const cmee_message *msg)
{
    if (!b)
        return CMEE_EINVAL;
    if (!msg)
        return fail(b, CMEE_EINVAL, "msg: NULL");
    size_t tlen = topic_len(msg->topic);
    if (!tlen)
        return fail(b, CMEE_EINVAL,
                    "topic: must be 1 to 63 characters from A-Z a-z 0-9 . _ - : with no empty "
                    "part, got \"%.*s\"",
                    CMEE_TOPIC_MAX, msg->topic);
    cmee__blk t = {.kind = msg->kind, .time = msg->time};
    const char *payload = "";
    size_t plen = 0;
    cmee_status st;
    switch (msg->kind) {
    case CMEE_MSG_TICK:
        if ((st = check_symbol(b, msg->symbol)) != CMEE_OK)
            return st;
        memcpy(t.symbol, msg->symbol, sizeof t.symbol);
        t.tick = msg->tick;
        break;
    case CMEE_MSG_CANDLE:
        if ((st = check_symbol(b, msg->symbol)) != CMEE_OK)
            return st;
        if (!cmee_timeframe_name(msg->timeframe))
            return fail(b, CMEE_EINVAL, "timeframe: unknown timeframe %d", (int)msg->timeframe);
        memcpy(t.symbol, msg->symbol, sizeof t.symbol);
        t.tf = msg->timeframe;
        t.candle = msg->candle;
        break;
    case CMEE_MSG_EVENT:
        if ((st = check_type(b, msg->type)) != CMEE_OK)
            return st;
        if (msg->payload_len > CMEE_PAYLOAD_MAX)
            return fail(b, CMEE_ERANGE, "payload_len: %zu bytes, at most %d", msg->payload_len,
                        CMEE_PAYLOAD_MAX);
        if (memchr(msg->payload, '\0', msg->payload_len))
            return fail(b, CMEE_EINVAL, "payload: NUL byte inside the first %zu bytes",
                        msg->payload_len);
        memcpy(t.type, msg->type, sizeof t.type);
        payload = msg->payload;
        plen = msg->payload_len;
        break;
    default:
        return fail(b, CMEE_EINVAL, "kind: unknown message kind %d", (int)msg->kind);
    }
    return publish(b, &t, msg->topic, tlen, payload, plen);
}

cmee_status cmee_broadcaster_publish_tick(cmee_broadcaster *b, const char *symbol,
                                          const cmee_tick *tick)
{
    if (!b)
        return CMEE_EINVAL;
    if (!tick)
        return fail(b, CMEE_EINVAL, "tick: NULL");
    cmee_status st = check_symbol(b, symbol);
    if (st != CMEE_OK)
        return st;
    char topic[CMEE_TOPIC_MAX];
    cmee_topic_ticks(topic, sizeof topic, symbol);
    cmee__blk t = {.kind = CMEE_MSG_TICK, .time = tick->time, .tick = *tick};
    memcpy(t.symbol, symbol, strlen(symbol) + 1);
    return publish(b, &t, topic, strlen(topic), "", 0);
}

cmee_status cmee_broadcaster_publish_candle(cmee_broadcaster *b, const char *symbol,
                                            cmee_timeframe tf, const cmee_candle *candle)
{
    if (!b)
        return CMEE_EINVAL;
    if (!candle)
        return fail(b, CMEE_EINVAL, "candle: NULL");
    cmee_status st = check_symbol(b, symbol);
    if (st != CMEE_OK)
        return st;
    if (!cmee_timeframe_name(tf))
        return fail(b, CMEE_EINVAL, "tf: unknown timeframe %d", (int)tf);
    char topic[CMEE_TOPIC_MAX];
    cmee_topic_candles(topic, sizeof topic, symbol, tf);
    cmee__blk t = {.kind = CMEE_MSG_CANDLE,
                   .tf = tf,
                   .time = candle->time + cmee_timeframe_ms(tf),
                   .candle = *candle};
    memcpy(t.symbol, symbol, strlen(symbol) + 1);
    return publish(b, &t, topic, strlen(topic), "", 0);
}

cmee_status cmee_broadcaster_publish_event(cmee_broadcaster *b, const char *session_id,
                                           int64_t time, const char *type, const char *json)
{
    if (!b)
        return CMEE_EINVAL;
    if (!session_id)
        return fail(b, CMEE_EINVAL, "session_id: NULL");
    if (!valid_session_id(session_id))
        return fail(b, CMEE_EINVAL,
                    "session_id: must be 1 to 47 characters from A-Z a-z 0-9 _ -, got \"%.*s\"",
                    SESSION_ID_MAX + 1, session_id);
    cmee_status st = check_type(b, type);
    if (st != CMEE_OK)
        return st;
    size_t plen = json ? strnlen(json, CMEE_PAYLOAD_MAX + 1) : 0;
    if (plen > CMEE_PAYLOAD_MAX)
        return fail(b, CMEE_ERANGE, "json: %zu bytes, at most %d",
                    CMEE_PAYLOAD_MAX + strlen(json + CMEE_PAYLOAD_MAX), CMEE_PAYLOAD_MAX);
    char topic[CMEE_TOPIC_MAX];
    cmee_topic_session(topic, sizeof topic, session_id);
    cmee__blk t = {.kind = CMEE_MSG_EVENT, .time = time};
    memcpy(t.type, type, strlen(type) + 1);
    return publish(b, &t, topic, strlen(topic), json ? json : "", plen);
}

/* ---- receiving ------------------------------------------------------------------------ */

/* Under sub->lock: take up to max messages into out. */
static size_t take_locked(cmee_subscriber *sub, cmee__blk **out, size_t max)
{
    size_t n = sub->count < max ? sub->count : max;
    for (size_t i = 0; i < n; i++) {
        out[i] = sub->ring[sub->head];
        if (++sub->head == sub->cap)
            sub->head = 0;
    }
    sub->count -= n;
    sub->delivered += n;
    if (n && sub->count == 0) {
        /* A member stays in the ready list, marked empty, until cmee_subscriber_group_ready()
         * drops it: the consumer need not take the group's lock for every member it drains. */
        if (sub->group)
            atomic_store_explicit(&sub->listed, false, memory_order_release);
        else
            efd_clear(sub->efd);
    }
    return n;
}

/* A group member has no eventfd to poll: wait on its condition variable until a push
 * signals it or the deadline (CLOCK_MONOTONIC ns, 0 for none) passes. */
static void wait_member(cmee_subscriber *sub, int64_t deadline)
{
    pthread_mutex_lock(&sub->lock);
    if (sub->count == 0) {
        sub->waiters++;
        if (deadline) {
            struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
            pthread_cond_timedwait(&sub->cond, &sub->lock, &ts);
        } else {
            pthread_cond_wait(&sub->cond, &sub->lock);
        }
        sub->waiters--;
    }
    pthread_mutex_unlock(&sub->lock);
}

/* Take up to max (<= TAKE_CHUNK) messages and copy them out; the copying happens without the
 * lock, so a publisher never waits for it. */
static size_t take_copy(cmee_subscriber *sub, cmee_message *msgs, size_t max)
{
    cmee__blk *got[TAKE_CHUNK];
    pthread_mutex_lock(&sub->lock);
    size_t n = take_locked(sub, got, max);
    uint64_t dropped = sub->dropped;
    pthread_mutex_unlock(&sub->lock);
    for (size_t i = 0; i < n; i++) {
        copy_out(got[i], dropped, &msgs[i]);
        blk_release(sub->b, got[i], 1);
    }
    return n;
}

cmee_status cmee_subscriber_drain(cmee_subscriber *sub, cmee_message *msgs, size_t cap,
                                  int timeout_ms, size_t *n)
{
    if (!sub)
        return CMEE_EINVAL;
    if (!msgs || !n || cap == 0)
        return fail(sub->b, CMEE_EINVAL, "%s", !msgs ? "msgs: NULL" : !n ? "n: NULL" : "cap: 0");
    if (sub->cb)
        return fail(sub->b, CMEE_ESTATE,
                    "receive: the subscriber has a callback; its delivery thread takes the "
                    "messages");
    int64_t deadline = timeout_ms > 0 ? mono_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        size_t got = 0, k;
        do {
            size_t want = cap - got < TAKE_CHUNK ? cap - got : TAKE_CHUNK;
            k = take_copy(sub, msgs + got, want);
            got += k;
        } while (k == TAKE_CHUNK && got < cap);
        if (got) {
            *n = got;
            return CMEE_OK;
        }
        int wait_ms = -1;
        if (timeout_ms == 0)
            return CMEE_ENOTFOUND;
        if (timeout_ms > 0) {
            int64_t left = deadline - mono_ns();
            if (left <= 0)
                return CMEE_ENOTFOUND;
            wait_ms = (int)((left + 999999) / 1000000); /* round up: never return early */
        }
        if (sub->group) {
            wait_member(sub, deadline); /* wakeups, timeouts and EINTR: just look again */
            continue;
        }
        struct pollfd p = {.fd = sub->efd, .events = POLLIN};
        poll(&p, 1, wait_ms); /* EINTR or a message another thread took: just look again */
    }
}

cmee_status cmee_subscriber_next(cmee_subscriber *sub, cmee_message *msg, int timeout_ms)
{
    size_t n;
    if (sub && !msg)
        return fail(sub->b, CMEE_EINVAL, "msg: NULL");
    return cmee_subscriber_drain(sub, msg, 1, timeout_ms, &n);
}

int cmee_subscriber_fd(const cmee_subscriber *sub)
{
    return sub && !sub->cb && !sub->group ? sub->efd : -1;
}

cmee_status cmee_subscriber_stats_get(const cmee_subscriber *sub, cmee_subscriber_stats *out)
{
    if (!sub || !out)
        return CMEE_EINVAL;
    cmee_subscriber *s = (cmee_subscriber *)sub;
    cmee_subscriber_stats r;
    pthread_rwlock_rdlock(&s->b->reg);
    r.patterns = s->npats;
    pthread_mutex_lock(&s->lock);
    r.queued = s->count;
    r.capacity = s->cap;
    r.delivered = s->delivered;
    r.dropped = s->dropped;
    pthread_mutex_unlock(&s->lock);
    pthread_rwlock_unlock(&s->b->reg);
    *out = r;
    return CMEE_OK;
}

uint64_t cmee_subscriber_dropped(const cmee_subscriber *sub)
{
    if (!sub)
        return 0;
    cmee_subscriber *s = (cmee_subscriber *)sub;
    pthread_mutex_lock(&s->lock);
    uint64_t d = s->dropped;
    pthread_mutex_unlock(&s->lock);
    return d;
}

/* ---- subscribers ---------------------------------------------------------------------- */

void cmee_subscriber_options_init(cmee_subscriber_options *opt)
{
    if (opt)
        *opt = (cmee_subscriber_options){0};
}

static void *delivery_main(void *arg)
{
    cmee_subscriber *sub = arg;
    cmee__blk *got[TAKE_CHUNK];
    cmee_message msg;
    for (;;) {
        pthread_mutex_lock(&sub->lock);
        if (sub->stop) {
            pthread_mutex_unlock(&sub->lock);
            return NULL;
        }
        size_t n = take_locked(sub, got, TAKE_CHUNK);
        uint64_t dropped = sub->dropped;
        pthread_mutex_unlock(&sub->lock);
        if (n == 0) {
            struct pollfd p = {.fd = sub->efd, .events = POLLIN};
            poll(&p, 1, -1);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            copy_out(got[i], dropped, &msg);
            blk_release(sub->b, got[i], 1);
            sub->cb(&msg, sub->ud);
        }
    }
}

static void sub_destroy(cmee_subscriber *sub)
{
    const cmee__alloc *al = &sub->b->al;
    while (sub->count) {
        blk_release(sub->b, sub->ring[sub->head], 1);
        if (++sub->head == sub->cap)
            sub->head = 0;
        sub->count--;
    }
    if (sub->efd >= 0)
        close(sub->efd);
    if (sub->has_cond)
        pthread_cond_destroy(&sub->cond);
    pthread_mutex_destroy(&sub->lock);
    cmee__free(al, sub->pats);
    cmee__free(al, sub->ring);
    cmee__free(al, sub);
}

/* Stop and join a delivery thread. */
static void stop_thread(cmee_subscriber *sub)
{
    pthread_mutex_lock(&sub->lock);
    sub->stop = true;
    efd_set(sub->efd);
    pthread_mutex_unlock(&sub->lock);
    pthread_join(sub->thread, NULL);
}

static cmee_status start_thread(cmee_subscriber *sub)
{
    /* The thread blocks every signal, so that it never takes one meant for the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&sub->thread, NULL, delivery_main, sub);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return fail(sub->b, CMEE_ENOMEM, "callback: cannot start a delivery thread (error %d)",
                    rc);
    return CMEE_OK;
}

cmee_status cmee_broadcaster_subscribe(cmee_broadcaster *b, const char *pattern,
                                       const cmee_subscriber_options *opt, cmee_subscriber **out)
{
    if (!b)
        return CMEE_EINVAL;
    if (!out)
        return fail(b, CMEE_EINVAL, "out: NULL");
    cmee_subscriber_options o = {0};
    if (opt)
        o = *opt;
    if (o.capacity == 0)
        o.capacity = CMEE_SUBSCRIBER_CAPACITY_DEFAULT;
    if (o.capacity > CMEE_SUBSCRIBER_CAPACITY_MAX)
        return fail(b, CMEE_EINVAL, "capacity: must be 1 to %zu (0 for %d), got %zu",
                    CMEE_SUBSCRIBER_CAPACITY_MAX, CMEE_SUBSCRIBER_CAPACITY_DEFAULT, o.capacity);
    if (o.overflow != CMEE_OVERFLOW_DROP_OLDEST && o.overflow != CMEE_OVERFLOW_DROP_NEWEST)
        return fail(b, CMEE_EINVAL, "overflow: unknown policy %d", (int)o.overflow);
    if (o.group && o.group->b != b)
        return fail(b, CMEE_EINVAL, "group: belongs to another broadcaster");
    if (o.group && o.callback)
        return fail(b, CMEE_EINVAL,
                    "group: a callback subscriber cannot join a group (it has its own thread)");
    size_t plen = 0;
    if (pattern && !(plen = pattern_len(pattern)))
        return fail(b, CMEE_EINVAL,
                    "pattern: must be a topic, \"<topic>.*\" or \"*\", got \"%.*s\"",
                    CMEE_TOPIC_MAX, pattern);

    cmee_subscriber *sub = cmee__calloc(&b->al, 1, sizeof *sub);
    if (!sub)
        return fail(b, CMEE_ENOMEM, "subscribe: out of memory");
    sub->b = b;
    sub->efd = -1;
    atomic_init(&sub->listed, false);
    atomic_init(&sub->pending, 0);
    sub->cap = o.capacity;
    sub->overflow = o.overflow;
    sub->cb = o.callback;
    sub->ud = o.ud;
    if (pthread_mutex_init(&sub->lock, NULL) != 0) {
        cmee__free(&b->al, sub);
        return fail(b, CMEE_ENOMEM, "subscribe: cannot create a mutex");
    }
    sub->ring = cmee__malloc(&b->al, o.capacity * sizeof *sub->ring);
    if (!sub->ring) {
        sub_destroy(sub);
        return fail(b, CMEE_ENOMEM, "subscribe: out of memory for a queue of %zu", o.capacity);
    }
    if (o.group) {
        pthread_condattr_t ca;
        bool ok = pthread_condattr_init(&ca) == 0;
        if (ok) {
            ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                 pthread_cond_init(&sub->cond, &ca) == 0;
            pthread_condattr_destroy(&ca);
        }
        if (!ok) {
            sub_destroy(sub);
            return fail(b, CMEE_ENOMEM, "subscribe: cannot create a condition variable");
        }
        sub->has_cond = true;
        sub->group = o.group;
    } else {
        sub->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (sub->efd < 0) {
            int e = errno;
            sub_destroy(sub);
            return fail(b, CMEE_ENOMEM, "subscribe: cannot create an eventfd (errno %d)", e);
        }
    }
    cmee_status st = CMEE_OK;
    if (sub->cb && (st = start_thread(sub)) != CMEE_OK) {
        sub_destroy(sub);
        return st;
    }

    pthread_rwlock_wrlock(&b->reg);
    if (pattern)
        st = add_pattern_locked(sub, pattern, plen);
    if (st == CMEE_OK) {
        sub->next = b->subs;
        if (b->subs)
            b->subs->prev = sub;
        b->subs = sub;
        b->nsubs++;
        cmee_subscriber_group *g = sub->group;
        if (g) {
            sub->gnext = g->members;
            if (g->members)
                g->members->gprev = sub;
            g->members = sub;
            g->nmembers++;
        }
    }
    pthread_rwlock_unlock(&b->reg);
    if (st != CMEE_OK) {
        if (sub->cb)
            stop_thread(sub);
        sub_destroy(sub);
        return st;
    }
    *out = sub;
    return CMEE_OK;
}

void cmee_subscriber_free(cmee_subscriber *sub)
{
    if (!sub)
        return;
    cmee_broadcaster *b = sub->b;
    if (sub->cb && pthread_equal(pthread_self(), sub->thread)) {
        /* Joining itself would never return; leave it to cmee_broadcaster_free(). */
        fail(b, CMEE_ESTATE, "cmee_subscriber_free: called from the subscriber's own callback");
        return;
    }
    pthread_rwlock_wrlock(&b->reg);
    while (sub->npats)
        remove_pattern_locked(sub, sub->npats - 1);
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        b->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    b->nsubs--;
    cmee_subscriber_group *g = sub->group;
    if (g) {
        if (sub->gprev)
            sub->gprev->gnext = sub->gnext;
        else
            g->members = sub->gnext;
        if (sub->gnext)
            sub->gnext->gprev = sub->gprev;
        g->nmembers--;
    }
    pthread_mutex_lock(&sub->lock);
    b->gone_queued += sub->queued;
    b->gone_delivered += sub->delivered;
    b->gone_dropped += sub->dropped;
    if (g) { /* off the ready list: cmee_subscriber_group_ready() never returns it again */
        pthread_mutex_lock(&g->lock);
        if (sub->in_ready)
            ready_unlink(g, sub);
        ready_clear_fd(g);
        pthread_mutex_unlock(&g->lock);
    }
    pthread_mutex_unlock(&sub->lock);
    pthread_rwlock_unlock(&b->reg);
    /* No publisher can reach it now. */
    if (sub->cb)
        stop_thread(sub);
    sub_destroy(sub);
}

cmee_status cmee_subscriber_add_pattern(cmee_subscriber *sub, const char *pattern)
{
    if (!sub)
        return CMEE_EINVAL;
    if (!pattern)
        return fail(sub->b, CMEE_EINVAL, "pattern: NULL");
    size_t n = pattern_len(pattern);
    if (!n)
        return fail(sub->b, CMEE_EINVAL,
                    "pattern: must be a topic, \"<topic>.*\" or \"*\", got \"%.*s\"",
                    CMEE_TOPIC_MAX, pattern);
    pthread_rwlock_wrlock(&sub->b->reg);
    cmee_status st = add_pattern_locked(sub, pattern, n);
    pthread_rwlock_unlock(&sub->b->reg);
    return st;
}

cmee_status cmee_subscriber_remove_pattern(cmee_subscriber *sub, const char *pattern)
{
    if (!sub)
        return CMEE_EINVAL;
    if (!pattern)
        return fail(sub->b, CMEE_EINVAL, "pattern: NULL");
    size_t n = strnlen(pattern, CMEE_TOPIC_MAX);
    cmee_status st = CMEE_ENOTFOUND;
    pthread_rwlock_wrlock(&sub->b->reg);
    for (size_t i = 0; i < sub->npats; i++) {
        if (sub->pats[i]->len == n && memcmp(sub->pats[i]->key, pattern, n) == 0) {
            remove_pattern_locked(sub, i);
            st = CMEE_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&sub->b->reg);
    if (st != CMEE_OK)
        return fail(sub->b, st, "pattern: \"%.*s\" is not followed", CMEE_TOPIC_MAX, pattern);
    return CMEE_OK;
}

/* ---- subscriber groups ---------------------------------------------------------------- */

cmee_status cmee_broadcaster_group_new(cmee_broadcaster *b, cmee_subscriber_group **out)
{
    if (!b)
        return CMEE_EINVAL;
    if (!out)
        return fail(b, CMEE_EINVAL, "out: NULL");
    cmee_subscriber_group *g = cmee__calloc(&b->al, 1, sizeof *g);
    if (!g)
        return fail(b, CMEE_ENOMEM, "group: out of memory");
    g->b = b;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        cmee__free(&b->al, g);
        return fail(b, CMEE_ENOMEM, "group: cannot create a mutex");
    }
    g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->efd < 0) {
        int e = errno;
        pthread_mutex_destroy(&g->lock);
        cmee__free(&b->al, g);
        return fail(b, CMEE_ENOMEM, "group: cannot create an eventfd (errno %d)", e);
    }
    pthread_rwlock_wrlock(&b->reg);
    g->next = b->groups;
    if (b->groups)
        b->groups->prev = g;
    b->groups = g;
    pthread_rwlock_unlock(&b->reg);
    *out = g;
    return CMEE_OK;
}

void cmee_subscriber_group_free(cmee_subscriber_group *g)
{
    if (!g)
        return;
    cmee_broadcaster *b = g->b;
    while (g->members)
        cmee_subscriber_free(g->members);
    pthread_rwlock_wrlock(&b->reg);
    if (g->prev)
        g->prev->next = g->next;
    else
        b->groups = g->next;
    if (g->next)
        g->next->prev = g->prev;
    pthread_rwlock_unlock(&b->reg);
    /* No publisher can reach it: every member is gone, and publishers hold the registry lock
     * from their first push to their last wake. */
    close(g->efd);
    pthread_mutex_destroy(&g->lock);
    cmee__free(&b->al, g);
}

int cmee_subscriber_group_fd(const cmee_subscriber_group *g)
{
    return g ? g->efd : -1;
}

cmee_status cmee_subscriber_group_ready(cmee_subscriber_group *g, cmee_subscriber **out,
                                        size_t cap, size_t *n)
{
    if (!g)
        return CMEE_EINVAL;
    if (!out || !n || cap == 0)
        return fail(g->b, CMEE_EINVAL, "%s", !out ? "out: NULL" : !n ? "n: NULL" : "cap: 0");
    pthread_mutex_lock(&g->lock);
    size_t k = 0;
    cmee_subscriber *s = g->rhead;
    while (s && k < cap) {
        cmee_subscriber *next = s->rnext;
        if (atomic_load_explicit(&s->listed, memory_order_acquire))
            out[k++] = s;
        else
            ready_unlink(g, s); /* drained since it was listed */
        s = next;
    }
    if (s) { /* more left: the ones returned go to the back, so that the others get a turn */
        for (size_t i = 0; i < k; i++) {
            ready_unlink(g, out[i]);
            ready_append(g, out[i]);
        }
    }
    ready_clear_fd(g);
    pthread_mutex_unlock(&g->lock);
    if (k == 0)
        return CMEE_ENOTFOUND;
    *n = k;
    return CMEE_OK;
}
