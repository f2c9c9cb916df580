# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the cmee Python bindings' broadcaster face: Broadcaster, Subscription (next with a
timeout, iteration, drain, overflow, the file descriptor with selectors, closing from another
thread) and the Driver publishing a session's events, ticks and candles.

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_broadcast

Timing assertions are lower bounds only (a loaded machine may be slow, never early).
"""

import ctypes
import datetime as dt
import gc
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import cmee
from cmee import _lib
from test_scenario import REPO, c_layout

T0 = 1_898_553_600_000               # 2030-03-01T00:00:00Z
M = 60_000
H = 3_600_000


def tick(i, price=100.0):
    return (T0 + i, price + i, 1.0)


class TestPublishReceive(unittest.TestCase):
    def setUp(self):
        self.b = cmee.Broadcaster()
        self.addCleanup(self.b.close)

    def test_tick(self):
        sub = self.b.subscribe("ticks.BTCUSD")
        self.b.publish_tick("BTCUSD", tick(1))
        self.b.publish_tick("ETHUSD", tick(2))     # not followed
        m = sub.next(timeout=1)
        self.assertIsInstance(m, cmee.Message)
        self.assertEqual((m.topic, m.kind, m.time, m.symbol), ("ticks.BTCUSD", "tick", T0 + 1,
                                                              "BTCUSD"))
        self.assertEqual(m.tick, cmee.Tick(T0 + 1, 101.0, 1.0))
        self.assertEqual((m.candle, m.timeframe, m.type, m.payload, m.dropped),
                         (None, None, "", "", 0))
        self.assertGreater(m.seq, 0)
        self.assertGreater(m.published_ns, 0)
        self.assertIsNone(sub.next(timeout=0))
        self.b.publish_tick("BTCUSD", cmee.Tick(dt.datetime(2030, 3, 1), 5.0, 2.0))
        self.assertEqual(sub.next(0).tick, cmee.Tick(T0, 5.0, 2.0))

    def test_candle_and_event(self):
        sub = self.b.subscribe(["candles.BTCUSD.*", "session.*"])
        self.assertEqual(sub.patterns, ["candles.BTCUSD.*", "session.*"])
        c = cmee.Candle(T0, 1.0, 2.0, 0.5, 1.5, 10.0)
        self.b.publish_candle("BTCUSD", "1h", c)
        self.b.publish_event("alice-1", T0 + 5, "order_filled", {"order_id": 3, "x": [1, 2]})
        self.b.publish_event("alice-1", T0 + 6, "note", "plain text")
        self.b.publish_event("alice-1", T0 + 7, "empty")
        m1, m2, m3, m4 = sub.drain()
        self.assertEqual((m1.topic, m1.kind, m1.timeframe, m1.candle, m1.time),
                         ("candles.BTCUSD.1h", "candle", "1h", c, T0 + H))
        self.assertEqual((m2.topic, m2.kind, m2.type, m2.time, m2.symbol),
                         ("session.alice-1", "event", "order_filled", T0 + 5, ""))
        self.assertEqual(m2.json(), {"order_id": 3, "x": [1, 2]})
        self.assertEqual(m3.payload, "plain text")
        self.assertEqual(m4.payload, "")
        with self.assertRaises(ValueError):
            m4.json()
        self.assertLess(m1.seq, m2.seq)

    def test_next_times_out(self):
        sub = self.b.subscribe("*")
        for timeout in (0.05, 0.3):
            t = time.monotonic()
            self.assertIsNone(sub.next(timeout=timeout))
            self.assertGreaterEqual(time.monotonic() - t, timeout)
        t = time.monotonic()
        self.assertEqual(sub.drain(timeout=0.1), [])
        self.assertGreaterEqual(time.monotonic() - t, 0.1)
        with self.assertRaises(cmee.InvalidArgumentError):
            sub.next(timeout=-1)
        with self.assertRaises(TypeError):
            sub.next(timeout="1")

    def test_next_waits_for_a_publisher(self):
        sub = self.b.subscribe("ticks.*")
        timer = threading.Timer(0.15, self.b.publish_tick, ("EURUSD", tick(7)))
        timer.start()
        self.addCleanup(timer.cancel)
        t = time.monotonic()
        m = sub.next()                            # no timeout: waits as long as it takes
        self.assertGreaterEqual(time.monotonic() - t, 0.1)
        self.assertEqual(m.symbol, "EURUSD")

    def test_iteration_with_timeout(self):
        sub = self.b.subscribe("ticks.*")
        for i in range(5):
            self.b.publish_tick("BTCUSD", tick(i))
        t = time.monotonic()
        got = [m.tick.time for m in sub.iter(timeout=0.2)]
        self.assertGreaterEqual(time.monotonic() - t, 0.2)
        self.assertEqual(got, [T0 + i for i in range(5)])
        # Messages arriving while iterating keep it going.
        stop = threading.Event()

        def publish():
            for i in range(5):
                time.sleep(0.02)
                self.b.publish_tick("BTCUSD", tick(100 + i))
            stop.set()

        threading.Thread(target=publish).start()
        got = [m.tick.time for m in sub.iter(timeout=0.5)]
        self.assertTrue(stop.is_set())
        self.assertEqual(got, [T0 + 100 + i for i in range(5)])

    def test_blocking_iteration_ends_when_closed(self):
        sub = self.b.subscribe("ticks.*")
        got = []

        def consume():
            for m in sub:                          # blocks for each message
                got.append(m.tick.time)

        th = threading.Thread(target=consume)
        th.start()
        for i in range(3):
            self.b.publish_tick("BTCUSD", tick(i))
        deadline = time.monotonic() + 10
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        sub.close()                                # from another thread: the loop ends
        th.join(10)
        self.assertFalse(th.is_alive())
        self.assertEqual(got, [T0, T0 + 1, T0 + 2])
        self.assertTrue(sub.closed)
        with self.assertRaises(cmee.StateError):
            sub.next(0)
        self.assertEqual(list(sub.iter(timeout=0.01)), [])

    def test_close_while_waiting(self):
        sub = self.b.subscribe("x")
        errors = []

        def wait():
            try:
                sub.next(timeout=None)
            except cmee.StateError as e:
                errors.append(e)

        th = threading.Thread(target=wait)
        th.start()
        time.sleep(0.05)
        sub.close()
        th.join(10)
        self.assertFalse(th.is_alive())
        self.assertEqual(len(errors), 1)

    def test_overflow_drop_oldest(self):
        sub = self.b.subscribe("ticks.*", capacity=4)
        for i in range(10):
            self.b.publish_tick("BTCUSD", tick(i))
        self.assertEqual(sub.dropped, 6)
        st = sub.stats()
        self.assertEqual(st, cmee.SubscriberStats(4, 4, 1, 0, 6))
        msgs = sub.drain()
        self.assertEqual([m.tick.time - T0 for m in msgs], [6, 7, 8, 9])   # the latest
        self.assertEqual({m.dropped for m in msgs}, {6})
        self.assertEqual(sub.stats().delivered, 4)
        totals = self.b.stats()
        self.assertEqual((totals.published, totals.queued, totals.delivered, totals.dropped,
                          totals.subscribers), (10, 10, 4, 6, 1))

    def test_overflow_drop_newest(self):
        sub = self.b.subscribe("ticks.*", capacity=3, overflow="drop_newest")
        for i in range(8):
            self.b.publish_tick("BTCUSD", tick(i))
        self.assertEqual(sub.dropped, 5)
        self.assertEqual([m.tick.time - T0 for m in sub.drain()], [0, 1, 2])  # the first
        self.b.publish_tick("BTCUSD", tick(50))
        m = sub.next(0)
        self.assertEqual((m.tick.time - T0, m.dropped), (50, 5))

    def test_drain_limits(self):
        sub = self.b.subscribe("ticks.*")
        for i in range(150):
            self.b.publish_tick("BTCUSD", tick(i))
        first = sub.drain(max_messages=10)
        self.assertEqual([m.tick.time - T0 for m in first], list(range(10)))
        rest = sub.drain()                          # in batches of 64 inside
        self.assertEqual([m.tick.time - T0 for m in rest], list(range(10, 150)))
        self.assertEqual(sub.drain(), [])
        with self.assertRaises(cmee.InvalidArgumentError):
            sub.drain(max_messages=0)

    def test_fileno_with_selectors(self):
        sub = self.b.subscribe("ticks.*")
        other = self.b.subscribe("candles.*")
        self.assertGreaterEqual(sub.fileno(), 0)
        self.assertNotEqual(sub.fileno(), other.fileno())
        with selectors.DefaultSelector() as sel:
            sel.register(sub, selectors.EVENT_READ, "ticks")
            sel.register(other, selectors.EVENT_READ, "candles")
            self.assertEqual(sel.select(timeout=0), [])
            self.b.publish_tick("BTCUSD", tick(1))
            self.b.publish_tick("BTCUSD", tick(2))
            ready = sel.select(timeout=1)
            self.assertEqual([key.data for key, _ in ready], ["ticks"])
            self.assertEqual(len(ready[0][0].fileobj.drain()), 2)
            self.assertEqual(sel.select(timeout=0), [])     # empty again: not readable
            # From another thread, while the selector waits.
            threading.Timer(0.05, self.b.publish_candle,
                            ("ETHUSD", "1m", (T0, 1, 1, 1, 1, 1))).start()
            ready = sel.select(timeout=5)
            self.assertEqual([key.data for key, _ in ready], ["candles"])
            self.assertEqual(other.next(0).kind, "candle")

    def test_patterns(self):
        sub = self.b.subscribe(None)
        self.assertEqual(sub.patterns, [])
        sub.add_pattern("session.a")
        with self.assertRaises(cmee.AlreadyExistsError):
            sub.add_pattern("session.a")
        self.b.publish_event("a", 1, "x")
        sub.remove_pattern("session.a")
        self.b.publish_event("a", 2, "x")
        self.assertEqual([m.time for m in sub.drain()], [1])
        with self.assertRaises(cmee.NotFoundError):
            sub.remove_pattern("session.a")

    def test_errors(self):
        b = self.b
        for fn, cls, text in (
                (lambda: b.subscribe("ticks*"), cmee.InvalidArgumentError, "pattern"),
                (lambda: b.subscribe(["ok", ".bad"]), cmee.InvalidArgumentError, "pattern"),
                (lambda: b.subscribe("x", capacity=0), cmee.InvalidArgumentError, "capacity"),
                (lambda: b.subscribe("x", capacity=1 << 21), cmee.InvalidArgumentError,
                 "capacity"),
                (lambda: b.subscribe("x", overflow="block"), cmee.InvalidArgumentError,
                 "overflow"),
                (lambda: b.publish_tick("bad symbol", tick(0)), cmee.InvalidArgumentError,
                 "symbol"),
                (lambda: b.publish_candle("BTCUSD", "2h", (T0, 1, 1, 1, 1, 1)),
                 cmee.InvalidArgumentError, "timeframe"),
                (lambda: b.publish_event("a", 0, "Bad Type"), cmee.InvalidArgumentError,
                 "type"),
                (lambda: b.publish_event("a", 0, "x", "y" * 1025), cmee.RangeError,
                 "1025 bytes")):
            with self.subTest(text=text), self.assertRaises(cls) as cm:
                fn()
            self.assertIn(text, str(cm.exception))
        self.assertEqual(b.stats().subscribers, 0)    # failed subscribes left nothing
        with self.assertRaises(TypeError):
            b.publish_event("a", 0, "x", 5)
        with self.assertRaises(TypeError):
            cmee.Subscription()

    def test_close_broadcaster_closes_subscriptions(self):
        b = cmee.Broadcaster()
        sub = b.subscribe("*")
        with b.subscribe("x") as sub2:
            self.assertEqual(b.stats().subscribers, 2)
        self.assertTrue(sub2.closed)
        self.assertEqual(b.stats().subscribers, 1)
        self.assertIn("1 subscribers", repr(b))
        b.close()
        self.assertTrue(sub.closed)
        self.assertTrue(b.closed)
        for fn in (lambda: b.publish_tick("BTCUSD", tick(0)), b.stats, lambda: sub.next(0),
                   lambda: b.subscribe("x"), sub.fileno):
            with self.assertRaises(cmee.StateError):
                fn()
        b.close()
        sub.close()

    def test_garbage_collection(self):
        b = cmee.Broadcaster()
        for _ in range(50):
            b.subscribe("ticks.*")                 # dropped at once: freed by __del__
        gc.collect()
        self.assertEqual(b.stats().subscribers, 0)
        keep = b.subscribe("ticks.*")
        del b                                      # the subscription keeps it alive
        gc.collect()
        keep.broadcaster.publish_tick("BTCUSD", tick(0))
        self.assertEqual(keep.next(0).symbol, "BTCUSD")

    def test_threads(self):
        sub = self.b.subscribe("ticks.*", capacity=100_000)
        got = []
        done = threading.Event()

        def consume():
            while not done.is_set() or sub.stats().queued:
                got.extend(sub.drain(timeout=0.05))

        consumers = [threading.Thread(target=consume) for _ in range(2)]
        for t in consumers:
            t.start()
        publishers = [threading.Thread(target=lambda k=k: [
            self.b.publish_tick("BTCUSD", tick(k * 1000 + i)) for i in range(500)])
            for k in range(3)]
        for t in publishers:
            t.start()
        for t in publishers:
            t.join()
        done.set()
        for t in consumers:
            t.join()
        self.assertEqual(sorted(m.tick.time - T0 for m in got),
                         sorted(k * 1000 + i for k in range(3) for i in range(500)))


class TestDriver(unittest.TestCase):
    def setUp(self):
        self.b = cmee.Broadcaster()
        self.addCleanup(self.b.close)
        self.s = cmee.Session(seed=7, start=T0, manual_clock=True, id="drv",
                              symbols=["BTCUSD", "EURUSD"])
        self.addCleanup(self.s.close)

    def test_publishes_a_sessions_ticks_candles_and_events(self):
        b, s = self.b, self.s
        ticks = b.subscribe("session.drv.ticks.BTCUSD")
        candles = b.subscribe("session.drv.candles.*")
        events = b.subscribe("session.drv")
        with cmee.Driver(b) as d:
            d.add(s, ["BTCUSD"])
            self.assertEqual(len(d), 1)
            self.assertEqual(d.sessions, [s])
            o = s.buy("BTCUSD", 0.01)
            s.step(2 * M + 30_000)
            self.assertEqual(d.pump(), 0)
            with cmee.Market(seed=7) as m:
                want = [t for minute in (T0, T0 + M, T0 + 2 * M)
                        for t in m.ticks("BTCUSD", minute) if T0 < t.time <= T0 + 2 * M + 30_000]
                want_c = m.candles("BTCUSD", "1m", start=T0, end=T0 + 2 * M)
            got = [msg.tick for msg in ticks.drain()]
            self.assertEqual(got, want)
            cs = candles.drain()
            self.assertEqual([c.candle for c in cs], list(want_c))
            self.assertEqual({(c.topic, c.timeframe) for c in cs},
                             {("session.drv.candles.BTCUSD.1m", "1m")})
            evs = events.drain()
            self.assertEqual([e.type for e in evs], ["order_filled", "clock_changed"])
            self.assertEqual(evs[0].json()["order_id"], o.id)
            self.assertEqual(evs[0].topic, "session.drv")
            # A second pump without time passing publishes nothing new.
            self.assertEqual(d.pump(), 0)
            self.assertEqual(ticks.drain(), [])

    def test_listener_comes_back(self):
        b, s = self.b, self.s
        mine = []
        s.on_event(mine.append)
        events = b.subscribe("session.drv")
        d = cmee.Driver(b)
        d.add(s)
        s.buy("EURUSD", 10)
        self.assertEqual(mine, [])                 # the driver's listener meanwhile
        self.assertEqual(len(events.drain()), 1)
        d.remove(s)
        with self.assertRaises(cmee.NotFoundError):
            d.remove(s)
        s.buy("EURUSD", 10)
        self.assertEqual([e.kind for e in mine], ["order_filled"])
        self.assertEqual(events.drain(), [])
        d.add(s)
        other = cmee.Driver(b)
        with self.assertRaises(cmee.StateError):
            other.add(s)
        d.close()
        self.assertTrue(d.closed)
        s.buy("EURUSD", 10)
        self.assertEqual(len(mine), 2)
        with self.assertRaises(cmee.StateError):
            d.pump()
        other.add(s)
        s.close()                                  # lets the driver go of it
        self.assertEqual(len(other), 0)
        self.assertEqual(other.pump(), 0)
        other.close()

    def test_unknown_symbol_and_closed_broadcaster(self):
        d = cmee.Driver(self.b)
        with self.assertRaises(cmee.NotFoundError):
            d.add(self.s, ["NOPE"])
        self.assertEqual(len(d), 0)
        d.add(self.s, "BTCUSD")
        self.b.close()
        with self.assertRaises(cmee.StateError):
            d.pump()
        d.close()
        with self.assertRaises(cmee.StateError):
            cmee.Driver(self.b)

    def test_driver_without_broadcaster_advances(self):
        wall = {"ms": 0}
        s = cmee.Session(seed=7, start=T0, speed=60)
        s.set_wall_clock(lambda: wall["ms"])
        # The real clock ran (at 60x) until the fake one took over: start from where it stood.
        start = s.clock.now
        d = cmee.Driver()
        d.add(s)
        s.buy("BTCUSD", 0.01, type="limit", price=1)   # never fills
        wall["ms"] += 1000
        self.assertEqual(d.pump(), 0)
        self.assertEqual(s.clock.processed, start + 60_000)
        d.close()
        s.close()


class TestLayout(unittest.TestCase):
    def test_structs_against_c(self):
        got, want = c_layout([_lib.cmee_message, _lib.cmee_broadcast_stats,
                              _lib.cmee_subscriber_stats], self)
        self.assertEqual(got, want)

    def test_subscriber_options_against_c(self):
        """The bindings' cmee_subscriber_options is deliberately larger than the C one (room
        for fields added later, all zero); the fields they set must sit where C has them."""
        cc = shutil.which(os.environ.get("CC", "cc"))
        libpath = os.environ.get("CMEE_LIBRARY", _lib.library_path)
        build_inc = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(libpath))),
                                 "include")
        if not cc or not os.path.isfile(os.path.join(build_inc, "cmee", "version.h")):
            self.skipTest("no C compiler or headers")
        fields = ("capacity", "overflow", "callback", "ud")
        prog = ("#include <stddef.h>\n#include <stdio.h>\n#include <cmee.h>\nint main(void)\n{\n"
                'printf("%zu\\n", sizeof(cmee_subscriber_options));\n'
                + "".join(f'printf("%zu\\n", offsetof(cmee_subscriber_options, {f}));\n'
                          for f in fields) + "return 0;\n}\n")
        with tempfile.TemporaryDirectory() as tmp:
            c_path, exe = os.path.join(tmp, "opt.c"), os.path.join(tmp, "opt")
            with open(c_path, "w") as f:
                f.write(prog)
            subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), "-I",
                            build_inc, c_path, "-o", exe], check=True, capture_output=True,
                           timeout=120)
            out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        size, *offsets = map(int, out.split())
        st = _lib.cmee_subscriber_options
        self.assertGreaterEqual(ctypes.sizeof(st), size)
        self.assertEqual(offsets, [getattr(st, f).offset for f in fields])


if __name__ == "__main__":
    unittest.main()
