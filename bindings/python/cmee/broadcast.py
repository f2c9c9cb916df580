# SPDX-License-Identifier: GPL-3.0-or-later
"""The broadcaster: topics, bounded subscriber queues and pollable file descriptors; and the
driver that publishes sessions on it.

The Python face of ``include/cmee/broadcast.h`` and of the driver in ``include/cmee/session.h``
(docs/broadcast.md explains topics, patterns, overflow and the file descriptor)::

    import cmee

    b = cmee.Broadcaster()
    with b.subscribe("ticks.*", capacity=256) as sub:
        b.publish_tick("BTCUSD", (1735689600000, 93500.0, 1.0))
        msg = sub.next(timeout=1.0)              # a Message, or None after 1 s
        for msg in sub.iter(timeout=0.5):        # until 0.5 s pass without a message
            print(msg.topic, msg.tick)

    s = cmee.Session(manual_clock=True)
    d = cmee.Driver(b)
    d.add(s, ["BTCUSD"])                         # its events, ticks and 1m candles
    sub = b.subscribe(f"session.{s.id}.*")
    s.step(60_000)
    d.pump()                                     # publishes what happened since the last pump

A :class:`Subscription` is polled: :meth:`~Subscription.next` with a timeout in seconds,
iteration, :meth:`~Subscription.drain`, or :meth:`~Subscription.fileno` (an eventfd readable
exactly while messages are queued) in ``selectors``/``select``/``asyncio`` loops. Waiting
happens in slices of at most 100 ms, so Ctrl-C interrupts it and :meth:`~Subscription.close`
from another thread ends it. Subscriber groups and callback subscribers of the C library are
not wrapped.

Everything here may be used from several threads at once, as in C (publishing, subscribing,
receiving); closing a subscription waits for calls on it in progress, closing the broadcaster
closes its subscriptions first.
"""

from __future__ import annotations

import ctypes
import json
import math
import threading
import time as _time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Optional, Union

from ._errors import check, error_class
from ._lib import (PAYLOAD_MAX, BroadcasterPtr, DriverPtr, Owned, SessionPtr,
                   SubscriberPtr, c_status, c_timeframe, cmee_broadcast_stats, cmee_candle,
                   cmee_message, cmee_subscriber_options, cmee_subscriber_stats, cmee_tick,
                   declare, encode, lib)
from .market import Candle, Tick, _number, _timeframe, to_ms
from .session import Session, _DriverLink, _store_held

__all__ = ["Broadcaster", "Subscription", "Message", "BroadcastStats", "SubscriberStats",
           "Driver", "OVERFLOW_POLICIES"]

_c = ctypes
_P = ctypes.POINTER
_EINVAL = error_class(1)
_ENOTFOUND = error_class(3)
_ESTATE = error_class(7)

#: The overflow policies of :meth:`Broadcaster.subscribe` and their C values.
OVERFLOW_POLICIES = {"drop_oldest": 0, "drop_newest": 1}
_KINDS = {1: "tick", 2: "candle", 3: "event"}
#: Longest wait inside one C call (ms): bounds how long close() and Ctrl-C wait.
_SLICE_MS = 100
_BATCH = 64

_new = declare("cmee_broadcaster_new", c_status, _c.c_void_p, _P(BroadcasterPtr))
declare("cmee_broadcaster_free", None, BroadcasterPtr)
_errmsg_copy = declare("cmee_broadcaster_errmsg_copy", _c.c_size_t, BroadcasterPtr, _c.c_char_p,
                       _c.c_size_t)
_publish_tick = declare("cmee_broadcaster_publish_tick", c_status, BroadcasterPtr, _c.c_char_p,
                        _P(cmee_tick))
_publish_candle = declare("cmee_broadcaster_publish_candle", c_status, BroadcasterPtr,
                          _c.c_char_p, c_timeframe, _P(cmee_candle))
_publish_event = declare("cmee_broadcaster_publish_event", c_status, BroadcasterPtr,
                         _c.c_char_p, _c.c_int64, _c.c_char_p, _c.c_char_p)
_stats = declare("cmee_broadcaster_stats", c_status, BroadcasterPtr, _P(cmee_broadcast_stats))
_options_init = declare("cmee_subscriber_options_init", None, _P(cmee_subscriber_options))
_subscribe = declare("cmee_broadcaster_subscribe", c_status, BroadcasterPtr, _c.c_char_p,
                     _P(cmee_subscriber_options), _P(SubscriberPtr))
declare("cmee_subscriber_free", None, SubscriberPtr)
_add_pattern = declare("cmee_subscriber_add_pattern", c_status, SubscriberPtr, _c.c_char_p)
_remove_pattern = declare("cmee_subscriber_remove_pattern", c_status, SubscriberPtr,
                          _c.c_char_p)
_fd = declare("cmee_subscriber_fd", _c.c_int, SubscriberPtr)
_next = declare("cmee_subscriber_next", c_status, SubscriberPtr, _P(cmee_message), _c.c_int)
_drain = declare("cmee_subscriber_drain", c_status, SubscriberPtr, _P(cmee_message), _c.c_size_t,
                 _c.c_int, _P(_c.c_size_t))
_sub_stats = declare("cmee_subscriber_stats_get", c_status, SubscriberPtr,
                     _P(cmee_subscriber_stats))
_dropped = declare("cmee_subscriber_dropped", _c.c_uint64, SubscriberPtr)
_driver_new = declare("cmee_driver_new", c_status, _c.c_void_p, _c.c_void_p, _P(DriverPtr))
declare("cmee_driver_free", None, DriverPtr)
_driver_add = declare("cmee_driver_add", c_status, DriverPtr, SessionPtr, _P(_c.c_char_p),
                      _c.c_size_t)
_driver_remove = declare("cmee_driver_remove", c_status, DriverPtr, SessionPtr)
_driver_count = declare("cmee_driver_count", _c.c_size_t, DriverPtr)
_driver_pump = declare("cmee_driver_pump", c_status, DriverPtr, _P(_c.c_size_t))
_session_errmsg = declare("cmee_session_errmsg", _c.c_char_p, SessionPtr)

_PAYLOAD_OFFSET = cmee_message.payload.offset


# --------------------------------------------------------------------------------------------
# Values


class Message(NamedTuple):
    """One received message (``cmee_message``). Fields of other kinds are None or ""."""

    topic: str                  #: the topic it was published on
    kind: str                   #: "tick", "candle" or "event"
    time: int                   #: sim time, ms UTC (a candle's: when it closed)
    seq: int                    #: unique within the broadcaster, increasing per publisher
    published_ns: int           #: CLOCK_MONOTONIC at the publish call, ns
    dropped: int                #: the subscriber's dropped counter when it was received
    symbol: str                 #: of a tick or candle; "" for an event
    timeframe: Optional[str]    #: of a candle ("1m", ...); None otherwise
    tick: Optional[Tick]        #: for a tick
    candle: Optional[Candle]    #: for a candle
    type: str                   #: an event's type, e.g. "order_filled"; "" otherwise
    payload: str                #: an event's details (by convention JSON); "" otherwise

    def json(self) -> Any:
        """The payload parsed as JSON (a dict for session events). Raises ValueError if it is
        not JSON (an empty payload included)."""
        return json.loads(self.payload)


class BroadcastStats(NamedTuple):
    """Totals of a broadcaster since it was created (``cmee_broadcast_stats``)."""

    published: int     #: successful publish calls
    queued: int        #: copies put into queues (a message to N subscribers counts N)
    delivered: int     #: copies handed to consumers
    dropped: int       #: copies lost to overflow
    subscribers: int   #: subscribers now


class SubscriberStats(NamedTuple):
    """Figures of one subscription (``cmee_subscriber_stats``)."""

    queued: int        #: messages waiting now
    capacity: int      #: queue capacity
    patterns: int      #: patterns followed
    delivered: int     #: messages received so far
    dropped: int       #: messages lost to overflow so far


def _message(m: cmee_message) -> Message:
    kind = _KINDS.get(m.kind, str(m.kind))
    tick = candle = None
    timeframe = None
    if m.kind == 1:
        t = m.tick
        tick = Tick(t.time, t.price, t.volume)
    elif m.kind == 2:
        c = m.candle
        candle = Candle(c.time, c.open, c.high, c.low, c.close, c.volume)
        name = lib.cmee_timeframe_name(m.timeframe)
        timeframe = name.decode("ascii") if name is not None else str(m.timeframe)
    payload = ""
    if m.payload_len:
        n = min(m.payload_len, PAYLOAD_MAX)
        payload = ctypes.string_at(ctypes.addressof(m) + _PAYLOAD_OFFSET, n).decode(
            "utf-8", "replace")
    return Message(m.topic.decode("utf-8", "replace"), kind, m.time, m.seq, m.published_ns,
                   m.dropped, m.symbol.decode("utf-8", "replace"), timeframe, tick, candle,
                   m.type.decode("utf-8", "replace"), payload)


def _timeout(timeout: Optional[float]) -> Optional[float]:
    """A timeout in seconds, checked: None (wait without limit; also for infinity) or a
    number >= 0."""
    if timeout is None:
        return None
    t = _number("timeout", timeout)
    if not t >= 0:
        raise _EINVAL(f"timeout: must be >= 0 seconds or None, got {timeout}", _EINVAL.status,
                      "timeout")
    return None if math.isinf(t) else t


# --------------------------------------------------------------------------------------------
# A gate: calls in progress on an object, and a close that waits for them and refuses new ones


class _Gate:
    __slots__ = ("_cond", "_busy", "closing")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._busy = 0
        self.closing = False

    def enter(self, what: str) -> None:
        with self._cond:
            if self.closing:
                raise _ESTATE(f"{what}: closed", _ESTATE.status, what)
            self._busy += 1

    def leave(self) -> None:
        with self._cond:
            self._busy -= 1
            if not self._busy:
                self._cond.notify_all()

    def close(self) -> bool:
        """Refuse new calls and wait for those in progress; False if already closing."""
        with self._cond:
            if self.closing:
                return False
            self.closing = True
            while self._busy:
                self._cond.wait()
            return True


class _Shared:
    """The C broadcaster and its gate, shared with its subscriptions and drivers (plain data,
    so that a subscription being finalised can still see whether the broadcaster is gone)."""

    __slots__ = ("ptr", "gate", "subs", "__weakref__")

    def __init__(self, ptr: BroadcasterPtr) -> None:
        self.ptr: Optional[BroadcasterPtr] = ptr
        self.gate = _Gate()
        self.subs: "weakref.WeakValueDictionary[int, Subscription]" = \
            weakref.WeakValueDictionary()


# --------------------------------------------------------------------------------------------
# Broadcaster


class Broadcaster(Owned):
    """A broadcaster (``cmee_broadcaster``): fans messages out to subscriptions in this
    process. Publishers never wait for a consumer: a full queue loses a message (counted).

    ``Broadcaster()``. Close it with :meth:`close` or ``with`` (that closes its subscriptions
    too); garbage collection frees it once no subscription or driver refers to it.
    """

    _free = "cmee_broadcaster_free"

    def __init__(self) -> None:
        self._ptr: Optional[BroadcasterPtr] = None
        ptr = BroadcasterPtr()
        check(_new(None, ctypes.byref(ptr)))
        self._ptr = ptr
        self._shared = _Shared(ptr)
        self._subs_lock = threading.Lock()

    def close(self) -> None:
        """Close every subscription, then free the broadcaster. Idempotent; later calls raise
        :class:`cmee.StateError`; drivers publishing to it raise StateError when pumped."""
        sh = self._shared
        if not sh.gate.close():
            return
        with self._subs_lock:
            subs = list(sh.subs.values())
        for sub in subs:
            sub.close()
        ptr, sh.ptr, self._ptr = sh.ptr, None, None
        if ptr is not None:
            lib.cmee_broadcaster_free(ptr)

    def __del__(self) -> None:
        sh = getattr(self, "_shared", None)
        if sh is None or sh.ptr is None:
            return
        ptr, sh.ptr, self._ptr = sh.ptr, None, None
        try:
            lib.cmee_broadcaster_free(ptr)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._shared.ptr is None

    def __repr__(self) -> str:
        if self.closed:
            return "<cmee.Broadcaster closed>"
        return f"<cmee.Broadcaster {self.stats().subscribers} subscribers>"

    def _enter(self) -> BroadcasterPtr:
        self._shared.gate.enter("broadcaster")
        ptr = self._shared.ptr
        if ptr is None:  # pragma: no cover - the gate closes first
            self._shared.gate.leave()
            raise _ESTATE("broadcaster: closed", _ESTATE.status, "broadcaster")
        return ptr

    def _check(self, ptr: BroadcasterPtr, status: int) -> None:
        if status:
            check(status, _errmsg(ptr))

    # -- publishing --------------------------------------------------------------------------

    def publish_tick(self, symbol: str, tick: Union[Tick, Sequence[Any]]) -> None:
        """Publish a tick on "ticks.<symbol>": ``tick`` is a :class:`cmee.Tick` or a
        (time, price, volume) triple; time in ms or a datetime. Raises InvalidArgumentError
        (a bad symbol name)."""
        key = encode(symbol, "symbol")
        t, price, volume = tick
        c = cmee_tick(to_ms(t, "tick.time"), _number("tick.price", price),
                      _number("tick.volume", volume))
        ptr = self._enter()
        try:
            self._check(ptr, _publish_tick(ptr, key, ctypes.byref(c)))
        finally:
            self._shared.gate.leave()

    def publish_candle(self, symbol: str, timeframe: Union[str, int],
                       candle: Union[Candle, Sequence[Any]]) -> None:
        """Publish a closed candle on "candles.<symbol>.<timeframe>": ``candle`` is a
        :class:`cmee.Candle` or a (time, open, high, low, close, volume) tuple (time = its
        open time); the message time is when it closed."""
        key = encode(symbol, "symbol")
        tf, _ = _timeframe(timeframe)
        t, o, h, lo, cl, v = candle
        c = cmee_candle(to_ms(t, "candle.time"), _number("candle.open", o),
                        _number("candle.high", h), _number("candle.low", lo),
                        _number("candle.close", cl), _number("candle.volume", v))
        ptr = self._enter()
        try:
            self._check(ptr, _publish_candle(ptr, key, tf, ctypes.byref(c)))
        finally:
            self._shared.gate.leave()

    def publish_event(self, session_id: str, time: Any, type: str,
                      payload: Union[str, dict, list, None] = None) -> None:
        """Publish an event of session ``session_id`` on "session.<id>": ``time`` (ms or a
        datetime), ``type`` (1 to 31 characters of a-z 0-9 _ . -, e.g. "order_filled") and
        ``payload`` (text, or a dict or list written as JSON; at most 1024 bytes). Raises
        InvalidArgumentError, RangeError (a payload too long)."""
        key = encode(session_id, "session_id")
        t = to_ms(time, "time")
        kind = encode(type, "type")
        if payload is None:
            text = None
        elif isinstance(payload, str):
            text = encode(payload, "payload")
        elif isinstance(payload, (dict, list)):
            text = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
        else:
            raise TypeError(f"payload must be a str, a dict, a list or None, not "
                            f"{payload.__class__.__name__}")
        ptr = self._enter()
        try:
            self._check(ptr, _publish_event(ptr, key, t, kind, text))
        finally:
            self._shared.gate.leave()

    def stats(self) -> BroadcastStats:
        """The totals since the broadcaster was created."""
        out = cmee_broadcast_stats()
        ptr = self._enter()
        try:
            self._check(ptr, _stats(ptr, ctypes.byref(out)))
        finally:
            self._shared.gate.leave()
        return BroadcastStats(out.published, out.queued, out.delivered, out.dropped,
                              out.subscribers)

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(self, patterns: Union[str, Iterable[str], None] = None, capacity: int = 1024,
                  overflow: str = "drop_oldest") -> "Subscription":
        """A new :class:`Subscription` following ``patterns`` (a pattern or a list of them:
        an exact topic "ticks.BTCUSD", a prefix "ticks.*", or "*"). It receives what is
        published from now on, in a queue of ``capacity`` messages (1 to 1048576); when the
        queue is full ``overflow`` ("drop_oldest" or "drop_newest") decides which message is
        lost. Raises InvalidArgumentError (a bad pattern, capacity or policy), RangeError
        (more than 64 patterns)."""
        if isinstance(patterns, str) or patterns is None:
            pats = [] if patterns is None else [patterns]
        else:
            pats = list(patterns)
        keys = [encode(p, "pattern") for p in pats]
        if isinstance(capacity, bool) or not hasattr(type(capacity), "__index__"):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        cap = int(capacity)
        if cap < 1:
            raise _EINVAL(f"capacity: must be 1 to 1048576, got {cap}", _EINVAL.status,
                          "capacity")
        if not isinstance(overflow, str) or overflow not in OVERFLOW_POLICIES:
            raise _EINVAL(f"overflow: must be one of {', '.join(OVERFLOW_POLICIES)}, got "
                          f"{overflow!r}", _EINVAL.status, "overflow")
        opt = cmee_subscriber_options()
        _options_init(ctypes.byref(opt))
        opt.capacity = min(cap, 1 << 62)
        opt.overflow = OVERFLOW_POLICIES[overflow]
        sub = SubscriberPtr()
        ptr = self._enter()
        try:
            self._check(ptr, _subscribe(ptr, keys[0] if keys else None, ctypes.byref(opt),
                                        ctypes.byref(sub)))
            try:
                for k in keys[1:]:
                    self._check(ptr, _add_pattern(sub, k))
            except BaseException:
                lib.cmee_subscriber_free(sub)
                raise
            s = Subscription._make(self, sub, pats)
        finally:
            self._shared.gate.leave()
        return s


def _errmsg(ptr: BroadcasterPtr) -> str:
    buf = ctypes.create_string_buffer(256)
    n = _errmsg_copy(ptr, buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        _errmsg_copy(ptr, buf, len(buf))
    return buf.value.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Subscription


class Subscription(Owned):
    """A polled subscriber (``cmee_subscriber``): a bounded queue of :class:`Message`.

    Receive with :meth:`next` (a timeout in seconds), by iterating (``for msg in sub:`` blocks
    for each message and ends when the subscription is closed; ``sub.iter(timeout=1.0)`` ends
    after a second without a message), or :meth:`drain`. :meth:`fileno` is an eventfd readable
    exactly while messages are queued: register it with ``selectors`` (EVENT_READ), ``select``
    or ``asyncio`` (``loop.add_reader``), then call :meth:`drain` or ``next(timeout=0)``; never
    read or close it. :attr:`dropped` counts messages lost to overflow.

    Make one with :meth:`Broadcaster.subscribe`. Close it with :meth:`close` or ``with``;
    garbage collection and closing the broadcaster close it too. Any number of threads may
    receive from one subscription (each message goes to one of them).
    """

    _free = "cmee_subscriber_free"

    def __init__(self, *args: Any, **kw: Any) -> None:
        raise TypeError("make a Subscription with Broadcaster.subscribe()")

    @classmethod
    def _make(cls, b: Broadcaster, ptr: SubscriberPtr, patterns: list[str]) -> "Subscription":
        self = cls.__new__(cls)
        self._ptr = ptr
        self._broadcaster = b
        self._shared = b._shared
        self._gate = _Gate()
        self._patterns = list(patterns)
        with b._subs_lock:
            b._shared.subs[id(self)] = self
        return self

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop receiving and free the subscriber; messages still queued are discarded. Waits
        for calls on it in progress (a waiting :meth:`next` returns within 100 ms, raising
        StateError; iteration ends). Idempotent."""
        if not self._gate.close():
            return
        with self._broadcaster._subs_lock:
            self._shared.subs.pop(id(self), None)
            ptr, self._ptr = self._ptr, None
            if ptr is not None and self._shared.ptr is not None:
                lib.cmee_subscriber_free(ptr)

    def __del__(self) -> None:
        ptr = getattr(self, "_ptr", None)
        sh = getattr(self, "_shared", None)
        if ptr is None or sh is None:
            return
        self._ptr = None
        if sh.ptr is not None:  # else the broadcaster freed it
            try:
                lib.cmee_subscriber_free(ptr)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

    @property
    def closed(self) -> bool:
        """Whether the subscription (or its broadcaster) was closed."""
        return self._ptr is None

    @property
    def broadcaster(self) -> Broadcaster:
        """The broadcaster it belongs to."""
        return self._broadcaster

    @property
    def patterns(self) -> list[str]:
        """The patterns it follows, in the order added."""
        return list(self._patterns)

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<cmee.Subscription closed>"
        return f"<cmee.Subscription {' '.join(self._patterns) or '(no pattern)'}>"

    def _enter(self) -> SubscriberPtr:
        self._gate.enter("subscription")
        ptr = self._ptr
        if ptr is None:  # pragma: no cover - the gate closes first
            self._gate.leave()
            raise _ESTATE("subscription: closed", _ESTATE.status, "subscription")
        return ptr

    def _check(self, status: int) -> None:
        if status:
            sh = self._shared
            check(status, _errmsg(sh.ptr) if sh.ptr is not None else None)

    # -- patterns ----------------------------------------------------------------------------

    def add_pattern(self, pattern: str) -> None:
        """Follow one more pattern. Raises InvalidArgumentError, AlreadyExistsError (followed
        already), RangeError (64 patterns already)."""
        key = encode(pattern, "pattern")
        ptr = self._enter()
        try:
            self._check(_add_pattern(ptr, key))
            self._patterns.append(pattern)
        finally:
            self._gate.leave()

    def remove_pattern(self, pattern: str) -> None:
        """Stop following ``pattern`` (spelled as added); queued messages stay. Raises
        NotFoundError."""
        key = encode(pattern, "pattern")
        ptr = self._enter()
        try:
            self._check(_remove_pattern(ptr, key))
            self._patterns.remove(pattern)
        finally:
            self._gate.leave()

    # -- receiving ---------------------------------------------------------------------------

    def fileno(self) -> int:
        """The eventfd: readable exactly while messages are queued. Do not read or close it."""
        ptr = self._enter()
        try:
            return _fd(ptr)
        finally:
            self._gate.leave()

    def next(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The oldest queued message, waiting up to ``timeout`` seconds for one (None: without
        limit; 0: not at all); None if none came in time. Raises StateError if the
        subscription is closed, also by another thread while waiting."""
        t = _timeout(timeout)
        msg = cmee_message()
        ptr = self._enter()
        try:
            if self._wait(ptr, t, lambda ms: _next(ptr, ctypes.byref(msg), ms)):
                return _message(msg)
            return None
        finally:
            self._gate.leave()

    def _wait(self, ptr: SubscriberPtr, timeout: Optional[float], call: Any) -> bool:
        """Call ``call(ms)`` in slices until it finds a message (True) or ``timeout`` seconds
        have passed (False)."""
        deadline = None if timeout is None else _time.monotonic() + timeout
        while True:
            if deadline is None:
                ms = _SLICE_MS
            else:
                left = deadline - _time.monotonic()
                ms = max(0, min(_SLICE_MS, math.ceil(left * 1000)))
            st = call(ms)
            if st == 0:
                return True
            if st != _ENOTFOUND.status:
                self._check(st)
            if self._gate.closing:
                raise _ESTATE("subscription: closed while waiting", _ESTATE.status,
                              "subscription")
            if deadline is not None and _time.monotonic() >= deadline:
                return False

    def drain(self, max_messages: Optional[int] = None,
              timeout: Optional[float] = 0) -> list[Message]:
        """Take the queued messages, oldest first (at most ``max_messages``, default the
        queue's capacity), waiting up to ``timeout`` seconds (default 0: not at all; None:
        without limit) for the first; [] if none came in time. The call for a readable
        :meth:`fileno`."""
        t = _timeout(timeout)
        ptr = self._enter()
        try:
            if max_messages is None:
                st = cmee_subscriber_stats()
                self._check(_sub_stats(ptr, ctypes.byref(st)))
                limit = st.capacity
            else:
                if isinstance(max_messages, bool) or not hasattr(type(max_messages),
                                                                 "__index__"):
                    raise TypeError("max_messages must be an int")
                limit = int(max_messages)
                if limit < 1:
                    raise _EINVAL(f"max_messages: must be at least 1, got {limit}",
                                  _EINVAL.status, "max_messages")
            out: list[Message] = []
            buf = (cmee_message * min(_BATCH, limit))()
            n = _c.c_size_t()
            if not self._wait(ptr, t, lambda ms: _drain(ptr, buf, min(len(buf), limit), ms,
                                                        ctypes.byref(n))):
                return out
            while True:
                out.extend(_message(buf[i]) for i in range(n.value))
                want = min(len(buf), limit - len(out))
                if want <= 0:
                    return out
                st = _drain(ptr, buf, want, 0, ctypes.byref(n))
                if st == _ENOTFOUND.status:
                    return out
                self._check(st)
        finally:
            self._gate.leave()

    def __iter__(self) -> "Subscription":
        return self

    def __next__(self) -> Message:
        """The next message, waiting as long as it takes; StopIteration once closed."""
        try:
            msg = self.next(None)
        except error_class(7):
            raise StopIteration from None
        assert msg is not None
        return msg

    def iter(self, timeout: float = 1.0) -> Iterator[Message]:
        """Yield messages until ``timeout`` seconds pass without one (or the subscription is
        closed): ``for msg in sub.iter(timeout=1.0): ...``."""
        _timeout(timeout)
        while True:
            try:
                msg = self.next(timeout)
            except error_class(7):
                return
            if msg is None:
                return
            yield msg

    # -- figures -----------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Messages lost to overflow so far (also in each :class:`Message` received)."""
        ptr = self._enter()
        try:
            return _dropped(ptr)
        finally:
            self._gate.leave()

    def stats(self) -> SubscriberStats:
        """Queued, capacity, patterns, delivered and dropped."""
        out = cmee_subscriber_stats()
        ptr = self._enter()
        try:
            self._check(_sub_stats(ptr, ctypes.byref(out)))
        finally:
            self._gate.leave()
        return SubscriberStats(out.queued, out.capacity, out.patterns, out.delivered,
                               out.dropped)


# --------------------------------------------------------------------------------------------
# Driver


class Driver(Owned):
    """A driver (``cmee_driver``): keeps sessions moving and publishes what happens in them.

    ``Driver(broadcaster)`` (None: only advance). Each :meth:`pump` advances every session it
    drives to its clock and publishes, per session: its events on "session.<id>" (type = the
    event kind, payload = its JSON), the ticks of its watched symbols since the last pump on
    "session.<id>.ticks.<symbol>" (at most the latest 600) and the 1m candles that closed on
    "session.<id>.candles.<symbol>.1m" (at most 60); subscribe to "session.<id>.*" for all of
    one session's streams. The driver is a pump, not a thread: call it from a loop or a timer.

    While driven, a session's :meth:`~cmee.Session.on_event` listener is replaced by the
    driver's (it comes back on :meth:`remove` or :meth:`close`). A session is driven by one
    driver at a time; closing the session lets the driver go of it.
    """

    _free = "cmee_driver_free"

    def __init__(self, broadcaster: Optional[Broadcaster] = None):
        self._ptr: Optional[DriverPtr] = None
        if broadcaster is not None and not isinstance(broadcaster, Broadcaster):
            raise TypeError(f"broadcaster must be a cmee.Broadcaster or None, not "
                            f"{type(broadcaster).__name__}")
        self._broadcaster = broadcaster
        self._lock = threading.RLock()
        self._sessions: dict[int, Session] = {}
        ptr = DriverPtr()
        if broadcaster is not None:
            bptr = broadcaster._enter()
            try:
                check(_driver_new(bptr.value, None, ctypes.byref(ptr)))
            finally:
                broadcaster._shared.gate.leave()
        else:
            check(_driver_new(None, None, ctypes.byref(ptr)))
        self._ptr = ptr
        self._link = _DriverLink(ptr, self._lock, self._sessions)

    def close(self) -> None:
        """Stop driving every session (their listeners come back) and free the driver.
        Idempotent."""
        with self._lock:
            if self._ptr is None:
                return
            for s in list(self._sessions.values()):
                self._let_go(s)
            ptr, self._ptr, self._link.ptr = self._ptr, None, None
            lib.cmee_driver_free(ptr)

    def __del__(self) -> None:
        ptr = getattr(self, "_ptr", None)
        if ptr is None:
            return
        self._ptr = None
        link = getattr(self, "_link", None)
        if link is not None:
            link.ptr = None
        for s in getattr(self, "_sessions", {}).values():
            if s._driver is link:
                s._driver = None
        try:
            lib.cmee_driver_free(ptr)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    @property
    def broadcaster(self) -> Optional[Broadcaster]:
        """The broadcaster it publishes to, or None."""
        return self._broadcaster

    @property
    def sessions(self) -> list[Session]:
        """The sessions it drives."""
        with self._lock:
            return list(self._sessions.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<cmee.Driver closed>"
        return f"<cmee.Driver {len(self)} sessions>"

    def _handle(self) -> DriverPtr:
        ptr = self._ptr
        if ptr is None:
            raise _ESTATE("driver: closed", _ESTATE.status, "driver")
        return ptr

    def add(self, session: Session, symbols: Union[str, Iterable[str]] = ()) -> None:
        """Drive ``session`` and publish the ticks and 1m candles of ``symbols`` (a name or a
        list; may be empty: events only). Adding it again replaces its symbols. Raises
        NotFoundError (a symbol the session lacks), StateError (driven by another driver, or
        closed)."""
        if not isinstance(session, Session):
            raise TypeError(f"session must be a cmee.Session, not {type(session).__name__}")
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        keys = [encode(n, "symbols") for n in names]
        arr = (_c.c_char_p * max(1, len(keys)))(*keys)
        with self._lock:
            d = self._handle()
            with session._lock:
                sptr = session._ptr
                if sptr is None:
                    raise _ESTATE("session: closed", _ESTATE.status, "session")
                if session._driver is not None and session._driver is not self._link:
                    raise _ESTATE("session: already driven by another Driver",
                                  _ESTATE.status, "session")
                st = _driver_add(d, sptr, arr, len(keys))
                if st:
                    check(st, _session_errmsg(sptr))
                session._driver = self._link
                self._sessions[id(session)] = session

    def remove(self, session: Session) -> None:
        """Stop driving ``session`` (its own listener comes back). Raises NotFoundError if it
        is not driven here."""
        with self._lock:
            self._handle()
            if self._sessions.get(id(session)) is not session:
                raise _ENOTFOUND("session: not driven by this driver", _ENOTFOUND.status,
                                 "session")
            self._let_go(session)

    def _let_go(self, s: Session) -> None:
        """Remove ``s``; the caller holds the driver's lock."""
        with s._lock:
            self._sessions.pop(id(s), None)
            if s._driver is self._link:
                s._driver = None
                if s._ptr is not None:
                    _driver_remove(self._ptr, s._ptr)
                    s._install_listener()

    def pump(self) -> int:
        """Advance every session and publish (see :class:`Driver`); returns how many
        sessions failed to advance (skipped this time; a session's error text stays with it
        and its next call tells). Raises StateError if the broadcaster was closed, and
        re-raises what a session's wall clock raised."""
        with self._lock:
            d = self._handle()
            sessions = [s for s in self._sessions.values() if s._ptr is not None]
            b = self._broadcaster
            if b is not None:
                b._enter()
            try:
                failed = _c.c_size_t()
                with _Holding(sessions):
                    _driver_pump(d, ctypes.byref(failed))
            finally:
                if b is not None:
                    b._shared.gate.leave()
        for s in sessions:
            with s._lock:
                s._raise_pending(None)
        return failed.value


class _Holding:
    """Hold the locks of ``sessions`` and of their stores for one pump: sessions first, each
    set in a fixed order (as a session call takes its own lock, then its store's)."""

    def __init__(self, sessions: list[Session]) -> None:
        self._sessions = sorted(sessions, key=id)
        stores = {id(s._store): s._store for s in sessions if s._store is not None}
        self._stores = [stores[k] for k in sorted(stores)]
        self._held: list[Any] = []

    def __enter__(self) -> None:
        try:
            for s in self._sessions:
                s._lock.acquire()
                self._held.append(s._lock)
            for st in self._stores:
                cm = _store_held(st)
                cm.__enter__()
                self._held.append(cm)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: object) -> None:
        while self._held:
            h = self._held.pop()
            if hasattr(h, "release"):
                h.release()
            else:
                h.__exit__(None, None, None)
