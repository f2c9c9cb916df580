/* SPDX-License-Identifier: GPL-3.0-or-later */
/**
 * @file cmee/broadcast.h
 * @brief The broadcaster: topics, bounded subscriber queues and pollable file descriptors.
 *
 * A ::cmee_broadcaster fans messages out to subscribers inside one process. A publisher hands
 * it a message on a topic; every subscriber with a matching pattern gets its own copy in its
 * own bounded queue. Publishers never wait for a consumer: a full queue loses a message (by the
 * subscriber's ::cmee_overflow policy, counted) instead of holding the publisher up.
 *
 * **Topics** are short strings of dot-separated parts (docs/broadcast.md has the full scheme):
 *  - `ticks.<symbol>` — every tick of one symbol, e.g. "ticks.BTCUSD";
 *  - `candles.<symbol>.<timeframe>` — closed candles, e.g. "candles.BTCUSD.1m";
 *  - `session.<id>` — events of one session (order filled, option settled, scenario applied,
 *    clock changed...), e.g. "session.alice-1".
 *
 * Build them with cmee_topic_ticks(), cmee_topic_candles() and cmee_topic_session(). Any other
 * valid topic may be used with cmee_broadcaster_publish(). A topic is 1 to ::CMEE_TOPIC_MAX - 1
 * characters from A-Z a-z 0-9 `.` `_` `-` `:`, neither starting nor ending with `.` and
 * without `..`.
 *
 * **Patterns** select topics: an exact topic ("ticks.BTCUSD"), a prefix pattern ending in
 * ".*" that matches every topic beginning with the part before the `*` ("ticks.*" matches
 * "ticks.BTCUSD" and "ticks.EURUSD"; "candles.BTCUSD.*" matches every timeframe), or "*"
 * alone for every topic. The `*` may only stand at the end, after a `.`. Matching is a plain
 * string-prefix test, so a symbol containing a dot spans two parts: "candles.BRK.*" also
 * matches "candles.BRK.B.1m". These are exactly the channel names and PSUBSCRIBE globs of
 * Redis pub/sub, the engine the fan-out would move to when one process is not enough.
 *
 * **Messages** (::cmee_message) are self-contained values: publishing copies everything (an
 * event's JSON text too, at most ::CMEE_PAYLOAD_MAX bytes); receiving copies it out again.
 * Internally one copy is shared by all the queues it was put in (reference counted), so a queue
 * slot costs a pointer and fan-out to N subscribers costs N pointer pushes, not N copies.
 *
 * **Receiving**: a subscriber either is polled (cmee_subscriber_next(), cmee_subscriber_drain(),
 * with cmee_subscriber_fd() to wait in an event loop), or has a callback that a delivery thread
 * of its own calls (see ::cmee_subscriber_fn for why a thread and not the publisher). Polled
 * subscribers may be put in a ::cmee_subscriber_group, which has one file descriptor for all of
 * them and tells which have messages: the way an event loop serves many clients.
 *
 * **Overflow**: each subscriber's queue holds a fixed number of messages (its capacity, chosen
 * when subscribing). When a message arrives at a full queue, ::CMEE_OVERFLOW_DROP_OLDEST (the
 * default) discards the oldest queued message to make room: for live market data the newest
 * price is the one that matters, and a consumer that fell behind catches up with current data
 * instead of stale data. ::CMEE_OVERFLOW_DROP_NEWEST keeps the queue and discards the arrival,
 * for consumers that prefer a contiguous history up to the point they fell behind. Either way
 * the subscriber's dropped counter grows by one, and every message received carries the counter
 * (cmee_message::dropped), so a consumer can tell its own client that it lost data.
 *
 * **File descriptor** (Linux): every polled subscriber outside a group owns an eventfd that is
 * readable exactly while its queue is not empty. Add it to poll/epoll/select with POLLIN/EPOLLIN
 * (level- or edge-triggered); when it is readable, call cmee_subscriber_drain() or
 * cmee_subscriber_next() with timeout 0. Never read() from it or close it: the library clears it
 * when the queue empties and closes it in cmee_subscriber_free().
 *
 * **Groups**: each eventfd costs the publisher one write(2) when it turns a queue non-empty and
 * the consumer one read(2) when it empties it again; with 1,000 idle subscribers that is 1,000
 * of each per message. A ::cmee_subscriber_group (cmee_broadcaster_group_new()) shares one
 * eventfd among its members (cmee_subscriber_options::group): it is readable while any member
 * has messages, and cmee_subscriber_group_ready() lists those members. A publish then costs at
 * most one eventfd write per group, however many members it reaches, and the consumer one
 * read per wakeup. A server's event loop should put all its clients' subscribers in one group.
 *
 * **Errors**: every fallible call returns a ::cmee_status; cmee_broadcaster_errmsg_copy() gives
 * the text of the last failure of a call on the broadcaster or any of its subscribers, naming
 * the argument at fault. "No message" is not a failure: cmee_subscriber_next() returns
 * ::CMEE_ENOTFOUND and leaves the message text alone. Out-parameters are written only on success.
 *
 * **Thread-safety**: stated on every function. In short: publishing, subscribing, changing
 * patterns, receiving, freeing a subscriber and reading statistics may all run at the same time
 * from any threads. Publishers take each matching subscriber's lock for a few pointer moves
 * only (and, for a group member whose queue was empty, the group's lock as briefly); they never
 * wait for a consumer. The exceptions: cmee_broadcaster_free() needs the broadcaster to itself,
 * cmee_subscriber_free() must not overlap another call on the same subscriber, and
 * cmee_subscriber_group_free() must not overlap another call on the group or its members.
 */
#ifndef CMEE_BROADCAST_H
#define CMEE_BROADCAST_H

#include <cmee/core.h>
#include <cmee/market.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Size of a topic or pattern buffer, including the NUL: topics are 1 to 63 characters. */
#define CMEE_TOPIC_MAX 64
/** Size of an event type buffer, including the NUL: types are 1 to 31 characters. */
#define CMEE_EVENT_TYPE_MAX 32
/** The longest event payload in bytes, not counting the terminating NUL. */
#define CMEE_PAYLOAD_MAX 1024
/** The queue capacity a subscriber gets when cmee_subscriber_options::capacity is 0. */
#define CMEE_SUBSCRIBER_CAPACITY_DEFAULT 1024
/** The largest queue capacity of a subscriber. */
#define CMEE_SUBSCRIBER_CAPACITY_MAX ((size_t)1 << 20)
/** The most patterns one subscriber may hold at once. */
#define CMEE_SUBSCRIBER_PATTERNS_MAX 64

/* ---- topics -------------------------------------------------------------------------------- */

/**
 * Write the tick topic of a symbol, "ticks.<symbol>", into @p buf.
 *
 * @param[out] buf    receives the NUL-terminated topic; written only on success.
 * @param[in]  cap    size of @p buf; ::CMEE_TOPIC_MAX is always enough.
 * @param[in]  symbol a symbol name: 1 to 15 characters from A-Z 0-9 `.` `-` `_`.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments or a bad symbol name, ::CMEE_ENOSPACE if
 *          @p cap is too small.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_topic_ticks(char *buf, size_t cap, const char *symbol);

/**
 * Write the closed-candle topic of a symbol and timeframe, "candles.<symbol>.<tf>" (the
 * timeframe as cmee_timeframe_name() prints it, e.g. "candles.BTCUSD.1m"), into @p buf.
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, a bad symbol name or an unknown
 *          timeframe, ::CMEE_ENOSPACE if @p cap is too small (::CMEE_TOPIC_MAX is enough).
 *          @p buf is written only on success.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_topic_candles(char *buf, size_t cap, const char *symbol,
                                        cmee_timeframe tf);

/**
 * Write the event topic of a session, "session.<id>", into @p buf.
 *
 * @param[in] id 1 to 47 characters from A-Z a-z 0-9 `_` `-` (every session id qualifies).
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments or a bad id, ::CMEE_ENOSPACE if @p cap
 *          is too small (::CMEE_TOPIC_MAX is enough). @p buf is written only on success.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_topic_session(char *buf, size_t cap, const char *id);

/* ---- messages ------------------------------------------------------------------------------ */

/** What a message carries. */
typedef enum cmee_message_kind {
    CMEE_MSG_TICK = 1,   /**< a tick of cmee_message::symbol */
    CMEE_MSG_CANDLE = 2, /**< a closed candle of cmee_message::symbol and ::timeframe */
    CMEE_MSG_EVENT = 3,  /**< an event: cmee_message::type and a JSON text payload */
} cmee_message_kind;

/**
 * One message: a plain value, copied in by publishing and copied out by receiving.
 *
 * Fields that do not belong to the kind are zero (numbers) or "" (strings) in a received
 * message and ignored by cmee_broadcaster_publish(). Of cmee_message::payload only the first
 * payload_len + 1 bytes (the text and its NUL) are written by a receive. The struct is about
 * 1.3 KB: receive into one reused struct or a small array, not one per message on the heap.
 * Bindings check the layout with cmee_sizeof_message().
 */
typedef struct cmee_message {
    /** The topic it was published on. */
    char topic[CMEE_TOPIC_MAX];
    /** What it carries. */
    cmee_message_kind kind;
    /** Timeframe of a candle; 0 otherwise. */
    cmee_timeframe timeframe;
    /** Simulation time of the message, ms since the Unix epoch (UTC): the tick's time, the
     *  instant a candle closed (its open time plus the timeframe), or an event's time. */
    int64_t time;
    /** Set by the broadcaster: a number unique within the broadcaster, increasing with the
     *  order of publish calls on any one thread (1, 2, ... when there is one publisher). */
    uint64_t seq;
    /** Set by the broadcaster: CLOCK_MONOTONIC at the publish call, in ns, so a consumer can
     *  measure how long the message waited. */
    int64_t published_ns;
    /** Set on receipt: the receiving subscriber's dropped counter at that moment. A change
     *  between two messages means messages were lost in between. */
    uint64_t dropped;
    /** Symbol of a tick or candle (1 to 15 characters); "" for an event. */
    char symbol[CMEE_SYMBOL_MAX];
    /** The tick, for ::CMEE_MSG_TICK. */
    cmee_tick tick;
    /** The candle, for ::CMEE_MSG_CANDLE. */
    cmee_candle candle;
    /** Event type, for ::CMEE_MSG_EVENT: 1 to 31 characters from a-z 0-9 `_` `.` `-`, for
     *  example cmee_session_event_kind_name() ("order_filled", "clock_changed"...). */
    char type[CMEE_EVENT_TYPE_MAX];
    /** Length of @ref payload in bytes, 0 to ::CMEE_PAYLOAD_MAX. */
    size_t payload_len;
    /** Event details, by convention a JSON object; NUL-terminated, no NUL inside. The
     *  broadcaster does not parse it. */
    char payload[CMEE_PAYLOAD_MAX + 1];
} cmee_message;

/** sizeof(::cmee_message) as compiled into the library, for bindings. @since 0.2.0 */
CMEE_API size_t cmee_sizeof_message(void);

/* ---- the broadcaster ----------------------------------------------------------------------- */

/** A broadcaster: the subscribers and their patterns. Opaque; see cmee_broadcaster_new(). */
typedef struct cmee_broadcaster cmee_broadcaster;

/** A subscriber: a bounded queue, its patterns and its file descriptor. Opaque; owned by its
 *  broadcaster; see cmee_broadcaster_subscribe(). */
typedef struct cmee_subscriber cmee_subscriber;

/** A subscriber group: polled subscribers sharing one file descriptor and a list of those
 *  with messages. Opaque; owned by its broadcaster; see cmee_broadcaster_group_new(). */
typedef struct cmee_subscriber_group cmee_subscriber_group;

/**
 * Create a broadcaster with no subscribers.
 *
 * @param[in]  alloc allocator for the broadcaster, its subscribers and its messages, or NULL for
 *                   malloc/free. Its functions are called from publishing and receiving threads.
 * @param[out] out   the new broadcaster, written only on success; free it with
 *                   cmee_broadcaster_free().
 * @returns ::CMEE_OK, ::CMEE_EINVAL if @p out is NULL or @p alloc lacks a function,
 *          ::CMEE_ENOMEM.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_new(const cmee_allocator *alloc, cmee_broadcaster **out);

/**
 * Free a broadcaster together with every subscriber and subscriber group it still has (their
 * handles become invalid; callback subscribers' delivery threads are stopped and joined first).
 * Accepts NULL.
 *
 * Thread-safety: needs the broadcaster to itself: no call on it or on any of its subscribers
 * may run or start at the same time, except that callbacks still running may publish (their
 * delivery threads are joined before the broadcaster goes). Not from a subscriber callback.
 * @since 0.2.0
 */
CMEE_API void cmee_broadcaster_free(cmee_broadcaster *b);

/**
 * Copy the text of the most recent failure of a call on @p b or on one of its subscribers into
 * @p buf (truncated to @p cap - 1 bytes, always NUL-terminated), e.g.
 * "payload: 1500 bytes, at most 1024". After a success the text is unspecified.
 *
 * @returns the length of the whole message (as snprintf), or 0 if @p buf is NULL or @p cap 0.
 * Thread-safety: thread-safe; with failures on several threads it copies one whole message.
 * @since 0.2.0
 */
CMEE_API size_t cmee_broadcaster_errmsg_copy(const cmee_broadcaster *b, char *buf, size_t cap);

/**
 * Publish a message: put a copy into the queue of every subscriber with a matching pattern
 * (once per subscriber, however many of its patterns match).
 *
 * Reads cmee_message::topic, ::kind, ::time and the fields of the kind (::symbol and ::tick,
 * ::symbol, ::timeframe and ::candle, or ::type, ::payload_len and ::payload); sets ::seq and
 * ::published_ns of the copies. @p msg is not kept. Cost: O(parts of the topic) hash lookups
 * plus, for each matching subscriber, a lock held for a few pointer moves and, if its queue was
 * empty, one eventfd write (a group member is instead listed in its group's ready list, up to
 * 64 members per hold of the group's lock, and each group whose eventfd was clear gets one
 * write at the end). A message nobody wants costs no allocation.
 *
 * @returns ::CMEE_OK (also when no subscriber matches; a full queue is not an error),
 *          ::CMEE_EINVAL for a NULL argument, a bad topic, an unknown kind, a bad symbol,
 *          timeframe or event type, or a payload with a NUL inside, ::CMEE_ERANGE for a
 *          payload_len above ::CMEE_PAYLOAD_MAX, ::CMEE_ENOMEM (then no subscriber got it).
 * Thread-safety: thread-safe; any number of threads may publish at once, also while others
 *          subscribe, receive or free subscribers. Messages published by one thread reach each
 *          subscriber in the order they were published; messages of different threads may
 *          interleave differently at different subscribers.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_publish(cmee_broadcaster *b, const cmee_message *msg);

/**
 * Publish a tick on "ticks.<symbol>"; the message time is @p tick->time. Otherwise as
 * cmee_broadcaster_publish(), without filling a ::cmee_message.
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments or a bad symbol name, ::CMEE_ENOMEM.
 * Thread-safety: thread-safe, as cmee_broadcaster_publish().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_publish_tick(cmee_broadcaster *b, const char *symbol,
                                                   const cmee_tick *tick);

/**
 * Publish a closed candle on "candles.<symbol>.<tf>"; the message time is the instant it
 * closed, @p candle->time + cmee_timeframe_ms(@p tf).
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, a bad symbol name or an unknown
 *          timeframe, ::CMEE_ENOMEM.
 * Thread-safety: thread-safe, as cmee_broadcaster_publish().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_publish_candle(cmee_broadcaster *b, const char *symbol,
                                                     cmee_timeframe tf,
                                                     const cmee_candle *candle);

/**
 * Publish an event of session @p session_id on "session.<id>".
 *
 * @param[in] time  simulation time of the event, ms since the Unix epoch (UTC).
 * @param[in] type  1 to 31 characters from a-z 0-9 `_` `.` `-`, e.g. "order_filled".
 * @param[in] json  the details, NUL-terminated, at most ::CMEE_PAYLOAD_MAX bytes, by
 *                  convention a JSON object (not parsed); NULL for none ("").
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, a bad id or type, ::CMEE_ERANGE for a
 *          payload longer than ::CMEE_PAYLOAD_MAX, ::CMEE_ENOMEM.
 * Thread-safety: thread-safe, as cmee_broadcaster_publish().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_publish_event(cmee_broadcaster *b, const char *session_id,
                                                    int64_t time, const char *type,
                                                    const char *json);

/** Totals of a broadcaster since it was created (subscribers freed since included). */
typedef struct cmee_broadcast_stats {
    uint64_t published;  /**< successful publish calls */
    uint64_t queued;     /**< copies put into queues (a message to N subscribers counts N) */
    uint64_t delivered;  /**< copies handed to consumers (receive calls and callbacks) */
    uint64_t dropped;    /**< copies lost to overflow */
    size_t subscribers;  /**< subscribers now */
} cmee_broadcast_stats;

/**
 * Read the totals of @p b.
 *
 * Cost: O(subscribers), taking each subscriber's lock in turn. The figures are consistent per
 * subscriber, not a snapshot of the whole broadcaster while others publish.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_stats(const cmee_broadcaster *b, cmee_broadcast_stats *out);

/* ---- subscribers --------------------------------------------------------------------------- */

/** What a full queue does with one more message. Both count the lost message as dropped. */
typedef enum cmee_overflow {
    /** Discard the oldest queued message to make room (the default): live data, the latest
     *  matters. */
    CMEE_OVERFLOW_DROP_OLDEST = 0,
    /** Discard the arriving message: keep an unbroken run up to where the consumer fell
     *  behind. */
    CMEE_OVERFLOW_DROP_NEWEST = 1,
} cmee_overflow;

/**
 * The callback of a callback subscriber, called once per message in queue order.
 *
 * It runs on the subscriber's own delivery thread, never on a publisher's: a slow callback
 * only fills its own queue (and then drops, by the overflow policy), it never holds up a
 * publisher or another subscriber. No library lock is held during the call, so it may publish,
 * subscribe, and change or free *other* subscribers. It must not free its own subscriber or
 * the broadcaster (stop it from another thread with cmee_subscriber_free()).
 *
 * @param[in] msg borrowed for the call.
 * @param[in] ud  cmee_subscriber_options::ud.
 */
typedef void (*cmee_subscriber_fn)(const cmee_message *msg, void *ud);

/** How cmee_broadcaster_subscribe() makes a subscriber. All zeros (or
 *  cmee_subscriber_options_init()) gives a polled subscriber with the defaults. */
typedef struct cmee_subscriber_options {
    /** Queue capacity in messages: 1 to ::CMEE_SUBSCRIBER_CAPACITY_MAX; 0 selects
     *  ::CMEE_SUBSCRIBER_CAPACITY_DEFAULT. Each slot costs one pointer. */
    size_t capacity;
    /** What a full queue does; default ::CMEE_OVERFLOW_DROP_OLDEST. */
    cmee_overflow overflow;
    /** NULL for a polled subscriber; else the function its delivery thread calls. */
    cmee_subscriber_fn callback;
    /** Passed to @ref callback. */
    void *ud;
    /** NULL: the subscriber has an eventfd of its own (cmee_subscriber_fd()). Else a group of
     *  the same broadcaster that the (polled) subscriber joins for its whole life: it gets no
     *  eventfd of its own, and the group's fd and cmee_subscriber_group_ready() tell when it
     *  has messages. Not with @ref callback. @since 0.2.0 */
    cmee_subscriber_group *group;
} cmee_subscriber_options;

/** Fill @p opt with the defaults (all zeros). Nothing happens if @p opt is NULL.
 *  Thread-safety: thread-safe. @since 0.2.0 */
CMEE_API void cmee_subscriber_options_init(cmee_subscriber_options *opt);

/**
 * Create a subscriber of @p b, following @p pattern if it is not NULL (add more with
 * cmee_subscriber_add_pattern()). It receives what is published after this call returns.
 *
 * A polled subscriber owns an eventfd (see cmee_subscriber_fd()), unless it joins a group
 * (cmee_subscriber_options::group); a callback subscriber owns a delivery thread and an eventfd
 * that only that thread waits on.
 *
 * @param[in]  opt options, or NULL for the defaults.
 * @param[out] out the subscriber, written only on success. Owned by @p b: free it with
 *                 cmee_subscriber_free(), or it goes with its group
 *                 (cmee_subscriber_group_free()) or with cmee_broadcaster_free().
 * @returns ::CMEE_OK, ::CMEE_EINVAL for a NULL @p b or @p out, a bad pattern, capacity or
 *          overflow value, a group of another broadcaster or a group together with a callback,
 *          ::CMEE_ENOMEM (also when the eventfd or the thread cannot be created).
 * Thread-safety: thread-safe, also while others publish; waits for publish calls in progress
 *          (never for a consumer). Joining a group must not overlap
 *          cmee_subscriber_group_free() of that group.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_subscribe(cmee_broadcaster *b, const char *pattern,
                                                const cmee_subscriber_options *opt,
                                                cmee_subscriber **out);

/**
 * Stop and free a subscriber: after it returns, no publisher touches it; messages still queued
 * are discarded. A group member leaves its group and is never again returned by
 * cmee_subscriber_group_ready(). Accepts NULL.
 *
 * Thread-safety: safe while other threads publish, subscribe or use other subscribers; no
 * other call on @p sub may run at the same time. For a callback subscriber it waits for the
 * callback in progress to return, so a callback must not free its own subscriber: such a call
 * is refused (the reason goes to cmee_broadcaster_errmsg_copy()) and the subscriber lives on
 * until freed from another thread or by cmee_broadcaster_free().
 * @since 0.2.0
 */
CMEE_API void cmee_subscriber_free(cmee_subscriber *sub);

/**
 * Follow one more pattern: an exact topic, a prefix pattern "<topic>.*" or "*".
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments or a bad pattern, ::CMEE_EEXIST if
 *          @p sub already follows exactly this pattern, ::CMEE_ERANGE if it already holds
 *          ::CMEE_SUBSCRIBER_PATTERNS_MAX patterns, ::CMEE_ENOMEM.
 * Thread-safety: thread-safe (waits for publish calls in progress).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_subscriber_add_pattern(cmee_subscriber *sub, const char *pattern);

/**
 * Stop following a pattern (spelled as it was added). Messages already queued stay.
 *
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ENOTFOUND if @p sub does not
 *          follow @p pattern.
 * Thread-safety: thread-safe (waits for publish calls in progress).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_subscriber_remove_pattern(cmee_subscriber *sub, const char *pattern);

/**
 * The file descriptor of a polled subscriber: an eventfd (Linux) that is readable exactly
 * while its queue is not empty. Wait on it with poll/epoll/select for reading; do not read,
 * write or close it.
 *
 * A group member has no descriptor of its own (the group's, cmee_subscriber_group_fd(), tells
 * about all members at once, so it is not returned here: adding it once per member to an epoll
 * set would fail, and polling it per member would wake for the others' messages).
 *
 * @returns the descriptor, or -1 if @p sub is NULL, a callback subscriber or a group member.
 * Thread-safety: thread-safe; the value does not change during the subscriber's life.
 * @since 0.2.0
 */
CMEE_API int cmee_subscriber_fd(const cmee_subscriber *sub);

/**
 * Take the oldest message of the queue, waiting up to @p timeout_ms for one.
 *
 * Works the same for a group member (a member whose queue it empties is dropped from the
 * group's ready list by the next cmee_subscriber_group_ready() call); waiting with a timeout
 * uses the member's own condition variable, so it neither needs nor disturbs the group's fd.
 *
 * @param[out] msg        receives the message, written only on success (see ::cmee_message
 *                        for which bytes).
 * @param[in]  timeout_ms 0 to return at once, > 0 to wait up to that many ms, < 0 to wait
 *                        without limit.
 * @returns ::CMEE_OK; ::CMEE_ENOTFOUND if no message was waiting or arrived in time (a normal
 *          outcome, not recorded as a failure); ::CMEE_EINVAL for NULL arguments;
 *          ::CMEE_ESTATE for a callback subscriber.
 * Thread-safety: thread-safe, also while others publish. Several threads receiving from one
 *          subscriber share its messages (each message goes to one of them).
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_subscriber_next(cmee_subscriber *sub, cmee_message *msg,
                                          int timeout_ms);

/**
 * Take up to @p cap messages, oldest first, waiting up to @p timeout_ms for the first one;
 * never waits for more once one is there. The batch form of cmee_subscriber_next(), for an
 * event loop whose poll reported the fd readable, or for the members
 * cmee_subscriber_group_ready() returned (pass timeout 0).
 *
 * @param[out] msgs    array of @p cap messages; the first *n are written.
 * @param[out] n       number taken (1 to @p cap), written only on success.
 * @returns ::CMEE_OK, ::CMEE_ENOTFOUND if nothing was waiting or arrived in time,
 *          ::CMEE_EINVAL for NULL arguments or @p cap 0, ::CMEE_ESTATE for a callback
 *          subscriber.
 * Thread-safety: as cmee_subscriber_next().
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_subscriber_drain(cmee_subscriber *sub, cmee_message *msgs, size_t cap,
                                           int timeout_ms, size_t *n);

/** Figures of one subscriber. */
typedef struct cmee_subscriber_stats {
    size_t queued;      /**< messages waiting now */
    size_t capacity;    /**< queue capacity */
    size_t patterns;    /**< patterns followed */
    uint64_t delivered; /**< messages handed to the consumer so far */
    uint64_t dropped;   /**< messages lost to overflow so far */
} cmee_subscriber_stats;

/**
 * Read the figures of @p sub.
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_subscriber_stats_get(const cmee_subscriber *sub,
                                               cmee_subscriber_stats *out);

/**
 * The number of messages @p sub has lost to overflow so far (0 if @p sub is NULL): the same
 * counter as cmee_subscriber_stats::dropped and cmee_message::dropped.
 * Thread-safety: thread-safe.
 * @since 0.2.0
 */
CMEE_API uint64_t cmee_subscriber_dropped(const cmee_subscriber *sub);

/* ---- subscriber groups --------------------------------------------------------------------- */

/**
 * Create an empty subscriber group of @p b. Subscribers join it when created, through
 * cmee_subscriber_options::group, and leave it when freed.
 *
 * The group owns one eventfd (cmee_subscriber_group_fd()) that is readable while any member's
 * queue is not empty, and a ready list of those members (cmee_subscriber_group_ready()). A
 * publish reaching many members of a group whose fd was clear writes it once, at the end of its
 * fan-out; the cmee_subscriber_group_ready() call that finds no member with messages left
 * clears it. Cost: one eventfd and about 100 bytes; a member costs what any subscriber costs,
 * less the eventfd.
 *
 * @param[out] out the group, written only on success. Owned by @p b: free it with
 *                 cmee_subscriber_group_free(), or it goes with cmee_broadcaster_free().
 * @returns ::CMEE_OK, ::CMEE_EINVAL for NULL arguments, ::CMEE_ENOMEM (also when the eventfd
 *          cannot be created).
 * Thread-safety: thread-safe, also while others publish.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_broadcaster_group_new(cmee_broadcaster *b,
                                                cmee_subscriber_group **out);

/**
 * Free a group together with every member it still has, as if cmee_subscriber_free() were
 * called on each (their handles become invalid). Accepts NULL.
 *
 * Thread-safety: safe while other threads publish or use subscribers outside the group; no
 * other call on @p g or on any of its members (cmee_subscriber_group_ready(), receiving,
 * subscribing into @p g...) may run at the same time.
 * @since 0.2.0
 */
CMEE_API void cmee_subscriber_group_free(cmee_subscriber_group *g);

/**
 * The file descriptor of a group: an eventfd (Linux) that is readable while at least one
 * member's queue is not empty. Wait on it with poll/epoll/select for reading (level- or
 * edge-triggered), then call cmee_subscriber_group_ready() until it returns ::CMEE_ENOTFOUND
 * (edge-triggered) or once (level-triggered), draining the members it lists; do not read,
 * write or close the fd.
 *
 * A publish makes it readable when its fan-out is complete, not at the first member it
 * reaches, so that one wakeup finds every member of that publish. It is cleared by the
 * cmee_subscriber_group_ready() call that finds no member with messages left (or by freeing
 * the last member that had some), not by the drain that empties the last queue: draining
 * members costs no group lock, and a loop calls cmee_subscriber_group_ready() after every
 * wakeup anyway. So it is readable exactly while some member has messages, except that after
 * everything was drained it stays readable until that next call.
 *
 * @returns the descriptor, or -1 if @p g is NULL.
 * Thread-safety: thread-safe; the value does not change during the group's life.
 * @since 0.2.0
 */
CMEE_API int cmee_subscriber_group_fd(const cmee_subscriber_group *g);

/**
 * List up to @p cap members that have messages now, to be drained with
 * cmee_subscriber_drain() or cmee_subscriber_next() with timeout 0.
 *
 * A member stays listed while its queue is not empty; once it is drained, the next call drops
 * it, and the call that finds no member with messages clears the group's fd. So an
 * edge-triggered loop calls this until it returns ::CMEE_ENOTFOUND, draining each member it
 * got; a member not drained completely is simply returned again. Members returned are moved to
 * the back of the list, so with more ready members than @p cap every one gets its turn. A
 * member returned may turn out empty by the time it is drained (another thread took its
 * messages): its drain then returns ::CMEE_ENOTFOUND. Cost: O(@p cap + members drained since
 * the last call) under the group's lock, no system call except the one read that clears the
 * fd.
 *
 * @param[out] out array of @p cap subscribers; the first *n are written. Borrowed: valid
 *                 until the member is freed.
 * @param[out] n   number written (1 to @p cap), written only on success.
 * @returns ::CMEE_OK; ::CMEE_ENOTFOUND if no member has messages (a normal outcome, not
 *          recorded as a failure); ::CMEE_EINVAL for NULL arguments or @p cap 0.
 * Thread-safety: thread-safe, also while others publish and drain. With several threads
 *          calling it on one group, they may be handed the same member (its messages are then
 *          shared between them); the usual use is one event-loop thread per group, which is
 *          also the thread that frees members, so that no pointer it holds goes stale.
 * @since 0.2.0
 */
CMEE_API cmee_status cmee_subscriber_group_ready(cmee_subscriber_group *g, cmee_subscriber **out,
                                                 size_t cap, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* CMEE_BROADCAST_H */
