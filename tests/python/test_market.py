# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the cmee Python bindings' market face: library loading, errors, Market, Candles.

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_market
The comparison with `cmee gen` uses $CMEE_BIN, else the `cmee` next to the library's build
directory (<build>/examples/cmee), else it is skipped.
"""

import ctypes
import dataclasses
import datetime as dt
import os
import pydoc
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest
from array import array

import cmee
from cmee_testutil import cli_binary
from cmee import _errors, _lib
from cmee.market import Candles, _fmt_exact

A = cmee.ANCHOR_TIME                 # 2025-01-01T00:00:00Z
MAR_2030 = 1_898_553_600_000         # 2030-03-01T00:00:00Z
H = 3_600_000
FIELDS = ("time", "open", "high", "low", "close", "volume")
UTC = dt.timezone.utc




class MarketCase(unittest.TestCase):
    def setUp(self):
        self.m = cmee.Market(seed=42)
        self.addCleanup(self.m.close)


class TestContract(MarketCase):
    def test_contract_example(self):
        before = time.time_ns() // 1_000_000
        c = self.m.candles("BTCUSD", "1h", count=500)
        after = time.time_ns() // 1_000_000
        self.assertIsInstance(c, cmee.Candles)
        self.assertEqual(len(c), 500)
        self.assertEqual(c.symbol, "BTCUSD")
        self.assertEqual(c.timeframe, "1h")
        # The last complete candle up to now: it opened one hour before the current hour.
        self.assertIn(c[-1].time, {before // H * H - H, after // H * H - H})
        self.assertEqual([t - c.time[0] for t in c.time], [i * H for i in range(500)])
        for k in c:
            self.assertLessEqual(k.low, min(k.open, k.close))
            self.assertGreaterEqual(k.high, max(k.open, k.close))
            self.assertGreater(k.low, 0)

    def test_open_is_previous_close(self):
        c = self.m.candles("ETHUSD", "15m", count=200, end=MAR_2030)
        self.assertEqual(list(c.open[1:]), list(c.close[:-1]))


class TestDeterminism(MarketCase):
    def test_same_seed_same_candles(self):
        a = self.m.candles("BTCUSD", "5m", count=1000, end=MAR_2030)
        with cmee.Market(seed=42) as other:
            self.assertEqual(other.candles("BTCUSD", "5m", count=1000, end=MAR_2030), a)
        # The order of requests does not matter.
        self.m.candles("BTCUSD", "1d", count=30, end=MAR_2030 + 86_400_000 * 30)
        self.assertEqual(self.m.candles("BTCUSD", "5m", count=1000, end=MAR_2030), a)

    def test_other_seed_other_candles(self):
        a = self.m.candles("BTCUSD", "1h", count=24, end=MAR_2030)
        with cmee.Market(seed=7) as other:
            b = other.candles("BTCUSD", "1h", count=24, end=MAR_2030)
        self.assertNotEqual(list(a.close), list(b.close))
        self.assertEqual(list(a.time), list(b.time))
        self.assertEqual(cmee.Market(seed=7).seed, 7)

    def test_threads_agree(self):
        want = self.m.candles("XAUUSD", "1m", count=3000, end=MAR_2030)
        got = []

        def work():
            got.append(self.m.candles("XAUUSD", "1m", count=3000, end=MAR_2030))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(got, [want] * 4)


class TestAggregation(MarketCase):
    def fold(self, c):
        return (c[0].open, max(c.high), min(c.low), c[-1].close, sum(c.volume))

    def test_sixty_minutes_make_one_hour(self):
        hour = self.m.candles("BTCUSD", "1h", start=MAR_2030, end=MAR_2030 + H)
        minutes = self.m.candles("BTCUSD", "1m", start=MAR_2030, end=MAR_2030 + H)
        self.assertEqual((len(hour), len(minutes)), (1, 60))
        self.assertEqual(hour[0][1:], self.fold(minutes))
        self.assertEqual(hour[0].time, minutes[0].time)

    def test_other_folds(self):
        day = self.m.candles("EURUSD", "1d", start=MAR_2030, end=MAR_2030 + 24 * H)
        fours = self.m.candles("EURUSD", "4h", start=MAR_2030, end=MAR_2030 + 24 * H)
        self.assertEqual(len(fours), 6)
        self.assertEqual(day[0][1:], self.fold(fours))
        fifteen = self.m.candles("EURUSD", "15m", count=4, end=MAR_2030)
        fives = self.m.candles("EURUSD", "5m", count=12, end=MAR_2030)
        self.assertEqual(self.fold(fifteen), self.fold(fives))

    def test_ticks_fold_into_their_candle(self):
        t = MAR_2030 + 17 * 60_000 + 5_000
        ticks = self.m.ticks("BTCUSD", t)
        self.assertEqual(len(ticks), 60)
        self.assertIsInstance(ticks[0], cmee.Tick)
        minute = self.m.candles("BTCUSD", "1m", start=t, end=t + 60_000)
        minute = self.m.candles("BTCUSD", "1m", start=t - 5_000, end=t + 55_000)[0]
        prices = [k.price for k in ticks]
        self.assertEqual(ticks[0].time, minute.time)
        self.assertEqual((prices[0], max(prices), min(prices), prices[-1],
                          sum(k.volume for k in ticks)), minute[1:])
        last = [k for k in ticks if k.time <= t][-1]
        self.assertEqual(self.m.price("BTCUSD", t), last.price)
        self.assertEqual(self.m.price("BTCUSD", dt.datetime(2030, 3, 1, 0, 17, 5)), last.price)


class TestCandlesObject(MarketCase):
    def setUp(self):
        super().setUp()
        self.c = self.m.candles("BTCUSD", "1h", count=48, end=MAR_2030)

    def test_field_buffers(self):
        c = self.c
        for name in FIELDS:
            buf = getattr(c, name)
            self.assertIsInstance(buf, memoryview)
            self.assertEqual(len(buf), 48)
            self.assertTrue(buf.c_contiguous)
            self.assertTrue(buf.readonly)
            self.assertEqual(buf.format, "q" if name == "time" else "d")
            self.assertEqual(buf.itemsize, 8)
            # Usable wherever a buffer is: array, bytes, memoryview arithmetic.
            self.assertEqual(array(buf.format, bytes(buf)).tolist(), buf.tolist())
        self.assertIsInstance(c.time[0], int)
        self.assertIsInstance(c.close[0], float)
        self.assertIs(c.close, c.close)  # built once, then cached

    def test_items_are_named_tuples_equal_to_fields(self):
        c = self.c
        for i in (0, 1, 17, 47, -1, -48):
            k = c[i]
            self.assertIsInstance(k, cmee.Candle)
            self.assertEqual(k._fields, FIELDS)
            self.assertEqual(tuple(k), tuple(getattr(c, f)[i] for f in FIELDS))
            self.assertEqual(k.close, c.close[i])
        self.assertEqual(c[-1], c[47])
        for bad in (48, -49, 10 ** 30):
            with self.assertRaises(IndexError):
                c[bad]
        with self.assertRaises(TypeError):
            c["close"]

    def test_iteration(self):
        c = self.c
        rows = list(c)
        self.assertEqual(len(rows), 48)
        self.assertEqual(rows, [c[i] for i in range(48)])
        self.assertTrue(all(type(r) is cmee.Candle for r in rows))
        self.assertEqual(list(reversed(c)), rows[::-1])
        self.assertIn(rows[5], c)

    def test_slicing(self):
        c = self.c
        rows = list(c)
        for s in (slice(10, 20), slice(None, 5), slice(-3, None), slice(None, None, 2),
                  slice(None, None, -1), slice(40, 3, -7), slice(5, 5), slice(30, 10),
                  slice(1, None, 5), slice(-100, 100)):
            part = c[s]
            self.assertIsInstance(part, cmee.Candles, s)
            self.assertEqual(list(part), rows[s], s)
            self.assertEqual(len(part), len(rows[s]), s)
            self.assertEqual(list(part.close), [r.close for r in rows[s]], s)
            self.assertEqual((part.symbol, part.timeframe), ("BTCUSD", "1h"))
        self.assertEqual(c[10:20], self.m.candles("BTCUSD", "1h", start=c[10].time,
                                                  end=c[19].time + 1))
        self.assertEqual(len(c[48:]), 0)
        self.assertEqual(c[48:].to_csv(), "time,open,high,low,close,volume\n")

    def test_candles_outlive_the_market(self):
        with cmee.Market(seed=42) as m:
            c = m.candles("BTCUSD", "1h", count=48, end=MAR_2030)
        self.assertTrue(m.closed)
        self.assertEqual(c, self.c)
        self.assertEqual(list(c.close), list(self.c.close))

    def test_repr_and_equality(self):
        self.assertIn("BTCUSD 1h: 48 candles", repr(self.c))
        self.assertIn("2030-02-28T23:00:00Z", repr(self.c))
        self.assertNotEqual(self.c, self.m.candles("ETHUSD", "1h", count=48, end=MAR_2030))
        self.assertNotEqual(self.c, list(self.c))
        with self.assertRaises(TypeError):
            hash(self.c)

    def test_to_numpy(self):
        try:
            import numpy  # noqa: F401
        except ImportError:
            with self.assertRaisesRegex(ImportError, "needs numpy"):
                self.c.to_numpy()
            # The wiring, with a stand-in numpy that records what it is given.
            fake = types.ModuleType("numpy")
            fake.frombuffer = lambda buf, dtype: (buf, dtype)
            sys.modules["numpy"] = fake
            try:
                arrays = self.c.to_numpy()
            finally:
                del sys.modules["numpy"]
            self.assertEqual(list(arrays), list(FIELDS))
            self.assertEqual(arrays["time"][1], "int64")
            self.assertEqual(arrays["close"][1], "float64")
            self.assertIs(arrays["close"][0], self.c.close)  # no copy
        else:
            arrays = self.c.to_numpy()
            self.assertEqual(arrays["close"].tolist(), list(self.c.close))
            self.assertEqual(str(arrays["time"].dtype), "int64")


class TestTimes(MarketCase):
    def test_datetime_and_ms_give_identical_candles(self):
        want = self.m.candles("BTCUSD", "1h", count=24, end=MAR_2030)
        naive = dt.datetime(2030, 3, 1)
        aware = dt.datetime(2030, 3, 1, tzinfo=UTC)
        paris = dt.datetime(2030, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        for end in (naive, aware, paris, dt.date(2030, 3, 1)):
            self.assertEqual(self.m.candles("BTCUSD", "1h", count=24, end=end), want, end)
        start = dt.datetime(2030, 2, 28, tzinfo=UTC)
        self.assertEqual(self.m.candles("BTCUSD", "1h", start=start, end=naive), want)
        self.assertEqual(self.m.candles("BTCUSD", "1h", start=MAR_2030 - 24 * H, end=MAR_2030),
                         want)

    def test_to_ms(self):
        self.assertEqual(cmee.to_ms(dt.datetime(2025, 1, 1)), A)
        self.assertEqual(cmee.to_ms(dt.datetime(2025, 1, 1, 0, 0, 0, 999)), A)
        self.assertEqual(cmee.to_ms(dt.datetime(2024, 12, 31, 23, 59, 59, 999500)), A - 1)
        tz = dt.timezone(dt.timedelta(hours=-5))
        self.assertEqual(cmee.to_ms(dt.datetime(2024, 12, 31, 19, tzinfo=tz)), A)
        self.assertEqual(cmee.to_ms(A), A)
        for bad in (1.5, "2025-01-01", None, True):
            with self.assertRaises(TypeError):
                cmee.to_ms(bad)
        with self.assertRaises(cmee.RangeError):
            cmee.to_ms(1 << 63)

    def test_end_not_aligned(self):
        # The last candle closes at or before end: nothing after end is revealed.
        c = self.m.candles("BTCUSD", "1h", count=3, end=MAR_2030 + H - 1)
        self.assertEqual(c[-1].time, MAR_2030 - H)
        d = self.m.candles("BTCUSD", "1h", start=MAR_2030 + 1, end=MAR_2030 + 2 * H + 1)
        self.assertEqual(list(d.time), [MAR_2030 + H, MAR_2030 + 2 * H])


class TestSymbols(MarketCase):
    def test_registry(self):
        syms = self.m.symbols()
        self.assertGreaterEqual(len(syms), 20)
        self.assertEqual(self.m.symbol_count(), len(syms))
        by_name = {s.symbol: s for s in syms}
        btc = by_name["BTCUSD"]
        self.assertIsInstance(btc, cmee.Symbol)
        self.assertEqual(btc.asset_class, "crypto")
        self.assertEqual(self.m.symbol("BTCUSD"), btc)
        self.assertEqual([f.name for f in dataclasses.fields(cmee.Symbol)],
                         [name for name, _ in _lib.cmee_symbol_spec._fields_])
        classes = {s.asset_class for s in syms}
        self.assertLessEqual({"crypto", "fx", "metal", "index", "stock"}, classes)
        self.assertEqual(by_name["EURUSD"].precision, 5)

    def test_set_symbol_new(self):
        s = self.m.set_symbol("MYCOIN", seed_price=50, volatility=0.8, asset_class="crypto")
        self.assertEqual((s.symbol, s.seed_price, s.volatility, s.asset_class),
                         ("MYCOIN", 50.0, 0.8, "crypto"))
        self.assertEqual((s.tick_size, s.precision, s.ticks_per_minute), (0.01, 2, 60))
        self.assertEqual(self.m.symbol("MYCOIN"), s)
        self.assertEqual(self.m.symbols()[-1], s)
        # The series passes through the seed price at the anchor time.
        self.assertEqual(self.m.price("MYCOIN", A), 50.0)
        self.assertEqual(self.m.candles("MYCOIN", "1h", count=1, end=A + H)[0].open, 50.0)
        self.assertEqual(self.m.candles("MYCOIN", "1h", count=1, end=A)[0].close, 50.0)

    def test_set_symbol_forms(self):
        base = self.m.set_symbol(symbol="COIN1", seed_price=10)
        self.assertEqual(self.m.set_symbol({"symbol": "COIN2", "seed_price": 10}),
                         dataclasses.replace(base, symbol="COIN2"))
        copy = self.m.set_symbol(dataclasses.replace(base, symbol="COIN3"), drift=0.1)
        self.assertEqual(copy, dataclasses.replace(base, symbol="COIN3", drift=0.1))
        # Changing an existing symbol keeps the fields not given.
        btc = self.m.symbol("BTCUSD")
        changed = self.m.set_symbol("BTCUSD", seed_price=100000)
        self.assertEqual(changed, dataclasses.replace(btc, seed_price=100000.0))
        self.assertEqual(self.m.price("BTCUSD", A), 100000.0)
        self.assertEqual(len(self.m.symbols()), 30)

    def test_set_symbol_errors(self):
        btc = self.m.symbol("BTCUSD")
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            self.m.set_symbol("BTCUSD", volatility=-0.5)
        self.assertEqual(str(cm.exception), "volatility: must be in (0, 3], got -0.5")
        self.assertEqual(self.m.symbol("BTCUSD"), btc)  # nothing changed
        with self.assertRaisesRegex(cmee.InvalidArgumentError, "^symbol: must be 1 to 15"):
            self.m.set_symbol("lower case")
        with self.assertRaisesRegex(cmee.InvalidArgumentError, "^symbol: must be 1 to 15"):
            self.m.set_symbol("ABCDEFGHIJKLMNOP")  # 16 characters: not silently truncated
        with self.assertRaisesRegex(cmee.InvalidArgumentError, "^asset_class"):
            self.m.set_symbol("X1", asset_class="bond")
        with self.assertRaises(cmee.InvalidArgumentError):
            self.m.set_symbol("X1", precision=1 << 40)
        with self.assertRaises(cmee.InvalidArgumentError):
            self.m.set_symbol("X1", volatility=float("nan"))
        with self.assertRaisesRegex(TypeError, "unknown Symbol field"):
            self.m.set_symbol("X1", colour="red")
        with self.assertRaises(TypeError):
            self.m.set_symbol(seed_price=5)
        with self.assertRaises(TypeError):
            self.m.set_symbol("X1", precision=2.5)
        with self.assertRaises(TypeError):
            self.m.set_symbol("X1", seed_price="5")
        with self.assertRaises(TypeError):
            self.m.set_symbol(42)
        with self.assertRaises(cmee.NotFoundError):
            self.m.symbol("X1")

    def test_set_correlation(self):
        alone = self.m.candles("ETHUSD", "1m", count=500, end=MAR_2030)
        btc = self.m.candles("BTCUSD", "1m", count=500, end=MAR_2030)
        self.m.set_correlation(["BTCUSD", "ETHUSD"], [[1, 0.9], [0.9, 1]])
        self.assertEqual(self.m.candles("BTCUSD", "1m", count=500, end=MAR_2030), btc)
        eth = self.m.candles("ETHUSD", "1m", count=500, end=MAR_2030)
        self.assertNotEqual(eth, alone)
        self.m.set_correlation(["BTCUSD", "ETHUSD"], [1, 0.5, 0.5, 1])  # flat form, replaces
        with self.assertRaisesRegex(cmee.AlreadyExistsError, "already in another group"):
            self.m.set_correlation(["BTCUSD", "XAUUSD"], [[1, 0], [0, 1]])
        with self.assertRaisesRegex(cmee.InvalidArgumentError, r"^matrix\[0\]\[1\]"):
            self.m.set_correlation(["XAUUSD", "XAGUSD"], [[1, 2], [2, 1]])
        with self.assertRaisesRegex(cmee.InvalidArgumentError, "^matrix: must be 2 x 2"):
            self.m.set_correlation(["XAUUSD", "XAGUSD"], [1, 0.5, 0.5])
        with self.assertRaisesRegex(cmee.InvalidArgumentError, "^matrix: rows"):
            self.m.set_correlation(["XAUUSD", "XAGUSD"], [[1, 0.5], [0.5]])
        with self.assertRaises(cmee.NotFoundError):
            self.m.set_correlation(["XAUUSD", "NOPE"], [[1, 0.5], [0.5, 1]])
        with self.assertRaises(cmee.InvalidArgumentError):
            self.m.set_correlation([], [])
        with self.assertRaises(TypeError):
            self.m.set_correlation("XAUUSD", [1])


class TestErrors(MarketCase):
    def test_unknown_symbol(self):
        with self.assertRaises(cmee.Error) as cm:
            self.m.candles("NOPE", "1h", count=5)
        e = cm.exception
        self.assertIsInstance(e, cmee.NotFoundError)
        self.assertIsInstance(e, LookupError)
        self.assertIs(type(e), cmee.errors.ENOTFOUND)
        self.assertEqual((e.status, e.name), (3, "ENOTFOUND"))
        self.assertEqual(str(e), 'symbol: unknown symbol "NOPE"')
        for call in (lambda: self.m.price("NOPE", A), lambda: self.m.ticks("NOPE", A),
                     lambda: self.m.symbol("NOPE"), lambda: self.m.candles("btcusd", "1h",
                                                                           start=A, end=A + H)):
            with self.assertRaises(cmee.NotFoundError):
                call()

    def test_bad_arguments_raise_library_errors(self):
        m = self.m
        cases = [
            (lambda: m.candles("BTCUSD", "2h", count=5), cmee.InvalidArgumentError,
             "^timeframe: must be one of 1m 5m 15m 1h 4h 1d, got '2h'$"),
            (lambda: m.candles("BTCUSD", 61, count=5), cmee.InvalidArgumentError, "timeframe"),
            (lambda: m.candles("BTCUSD", "1h", count=0), cmee.InvalidArgumentError,
             "^count: must be at least 1"),
            (lambda: m.candles("BTCUSD", "1h", count=-5), cmee.InvalidArgumentError, "count"),
            (lambda: m.candles("BTCUSD", "1h", count=10_000_001), cmee.RangeError,
             "most per query"),
            (lambda: m.candles("BTCUSD", "1h", count=10 ** 30), cmee.RangeError, "count"),
            (lambda: m.candles("BTCUSD", "1h", start=A, end=A), cmee.InvalidArgumentError,
             "^from: must be before to"),
            (lambda: m.candles("BTCUSD", "1h", start=A + H, end=A), cmee.InvalidArgumentError,
             "^from: must be before to"),
            (lambda: m.candles("BTCUSD", "1h", start=0, end=A), cmee.RangeError,
             "outside the series"),
            (lambda: m.candles("BTCUSD", "1m", start=cmee.TIME_MIN, end=A), cmee.RangeError,
             "10000000"),
            (lambda: m.candles("BTCUSD", "1h", count=5, end=dt.datetime(1999, 1, 1)),
             cmee.RangeError, "^end: .* outside the series"),
            (lambda: m.candles("BTCUSD", "1h", count=5, end=1 << 70), cmee.RangeError, "64 bits"),
            (lambda: m.candles("BTCUSD", "1h"), cmee.InvalidArgumentError, "count"),
            (lambda: m.candles("BTCUSD", "1h", count=5, start=A), cmee.InvalidArgumentError,
             "not both"),
            (lambda: m.price("BTCUSD", cmee.TIME_MAX), cmee.RangeError, "^t: "),
            (lambda: m.ticks("BTCUSD", 0), cmee.RangeError, "^t: "),
            (lambda: cmee.Market(seed=-1), cmee.RangeError, "seed"),
            (lambda: cmee.Market(seed=1 << 64), cmee.RangeError, "seed"),
        ]
        for call, cls, pattern in cases:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(cls, pattern) as cm:
                    call()
                self.assertIsInstance(cm.exception, cmee.Error)
                self.assertEqual(cm.exception.status, cls.status)

    def test_wrong_python_types_raise_type_error(self):
        m = self.m
        for call in (lambda: m.candles(None, "1h", count=5),
                     lambda: m.candles(b"BTCUSD", "1h", count=5),
                     lambda: m.candles("BTC\0USD", "1h", count=5),
                     lambda: m.candles("BTCUSD", None, count=5),
                     lambda: m.candles("BTCUSD", 1.0, count=5),
                     lambda: m.candles("BTCUSD", "1h", count="5"),
                     lambda: m.candles("BTCUSD", "1h", count=5.0),
                     lambda: m.candles("BTCUSD", "1h", count=True),
                     lambda: m.candles("BTCUSD", "1h", start=1.5, end=A),
                     lambda: m.candles("BTCUSD", "1h", count=5, end="2030-03-01"),
                     lambda: m.price("BTCUSD", None),
                     lambda: m.symbol(None),
                     lambda: cmee.Market(seed="42"),
                     lambda: cmee.Market(seed=1.5)):
            with self.assertRaises(TypeError):
                call()

    def test_closed_market(self):
        m = cmee.Market(seed=1)
        c = m.candles("BTCUSD", "1h", count=5, end=MAR_2030)
        m.close()
        m.close()  # idempotent
        self.assertTrue(m.closed)
        self.assertIn("closed", repr(m))
        for call in (lambda: m.candles("BTCUSD", "1h", count=5), lambda: m.symbols(),
                     lambda: m.symbol("BTCUSD"), lambda: m.price("BTCUSD", A),
                     lambda: m.ticks("BTCUSD", A), lambda: m.set_symbol("X1"),
                     lambda: m.set_correlation(["BTCUSD", "ETHUSD"], [1, 0, 0, 1]),
                     lambda: m.symbol_count()):
            with self.assertRaisesRegex(cmee.StateError, "closed"):
                call()
        self.assertEqual(len(c), 5)
        with cmee.Market() as m2:
            self.assertFalse(m2.closed)
        self.assertTrue(m2.closed)

    def test_wrong_handle_types(self):
        lib = _lib.lib
        with cmee.Market() as m:
            ptr = m._ptr
            self.assertEqual(lib.cmee_market_symbol_count(ptr), m.symbol_count())

            class OtherPtr(_lib.Handle):
                pass

            for bad in (OtherPtr(ptr.value), ctypes.c_void_p(ptr.value), ptr.value, None,
                        _lib.MarketPtr(), "market"):
                with self.assertRaises(ctypes.ArgumentError):
                    lib.cmee_market_symbol_count(bad)

    def test_error_classes(self):
        self.assertEqual(_errors.STATUS_NAMES[1], "EINVAL")
        expected = {"EINVAL": "InvalidArgumentError", "ENOMEM": "OutOfMemoryError",
                    "ENOTFOUND": "NotFoundError", "ERANGE": "RangeError",
                    "ENOSPACE": "NoSpaceError", "EEXIST": "AlreadyExistsError",
                    "ESTATE": "StateError"}
        for status, name in _errors.STATUS_NAMES.items():
            cls = getattr(cmee.errors, name)
            self.assertTrue(issubclass(cls, cmee.Error))
            self.assertEqual((cls.status, cls.name), (status, name))
            self.assertIs(_errors.error_class(status), cls)
            self.assertIs(getattr(cmee, cls.__name__), cls)
            if name in expected:
                self.assertEqual(cls.__name__, expected[name])
            self.assertTrue(cls.__doc__)
        self.assertGreaterEqual(len(_errors.STATUS_NAMES), 12)
        self.assertTrue(issubclass(cmee.InvalidArgumentError, ValueError))
        self.assertTrue(issubclass(cmee.OutOfMemoryError, MemoryError))
        _errors.check(0)
        with self.assertRaises(cmee.RangeError) as cm:
            _errors.check(4)
        self.assertEqual(str(cm.exception), "out of range")
        with self.assertRaises(cmee.Error) as cm:
            _errors.check(999, b"odd")
        self.assertIs(type(cm.exception), cmee.Error)
        self.assertEqual((cm.exception.status, cm.exception.name, str(cm.exception)),
                         (999, "UNKNOWN", "odd"))
        err = _lib.cmee_error(status=1, field=b"period", text=b"period: must be in [1, 9]")
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            _errors.check(1, err)
        self.assertEqual((cm.exception.field, str(cm.exception)),
                         ("period", "period: must be in [1, 9]"))


class TestCsv(MarketCase):
    def test_format(self):
        c = self.m.candles("EURUSD", "1h", count=3, end=MAR_2030)
        lines = c.to_csv().split("\n")
        self.assertEqual(lines[0], "time,open,high,low,close,volume")
        self.assertEqual(lines[-1], "")
        self.assertEqual(len(lines), 5)
        for line, k in zip(lines[1:], c):
            fields = line.split(",")
            self.assertEqual(int(fields[0]), k.time)
            self.assertEqual(tuple(map(float, fields[1:])), k[1:])
            self.assertNotIn(".0,", line + ",")

    def test_number_rule(self):
        """Every number is the first of %.15g/%.16g/%.17g that reads back exactly."""
        values = [0.0, 1e15, 1e15 - 1, 999999999999999.9, 1234567890123456.0, 1e16, 1e-4, 1e-5,
                  0.1 + 0.2, 1 / 3, 2.0 ** 60, 5e-324, 1.7976931348623157e308, 100.0, 1e14,
                  123456789012345.6, 67234.51, -3.5, float("inf"), 2.0 ** -20]
        raw = bytearray()
        rows = [values[i:i + 5] for i in range(0, len(values), 5)]
        for i, row in enumerate(rows):
            raw += array("q", [i]).tobytes() + array("d", row).tobytes()
        text = Candles("X", "1m", raw).to_csv()
        want = "".join(",".join([str(i)] + [_fmt_exact(v) for v in row]) + "\n"
                       for i, row in enumerate(rows))
        self.assertEqual(text, "time,open,high,low,close,volume\n" + want)
        self.assertEqual(_fmt_exact(0.1 + 0.2), "0.30000000000000004")
        self.assertEqual(_fmt_exact(1e15), "1e+15")
        self.assertEqual(_fmt_exact(1e-5), "1e-05")
        self.assertEqual(_fmt_exact(1521.0), "1521")

    def test_identical_to_cmee_gen(self):
        binary = cli_binary()
        if binary is None:
            self.skipTest("set CMEE_BIN to the cmee tool to compare with `cmee gen`")
        for args, call in (
                (["--symbol", "BTCUSD", "--timeframe", "1h", "--count", "500", "--end",
                  str(MAR_2030)], lambda m: m.candles("BTCUSD", "1h", count=500, end=MAR_2030)),
                (["--symbol", "EURUSD", "--timeframe", "1m", "--from", "2030-03-01T00:00:00Z",
                  "--to", "2030-03-02T00:00:00Z", "--seed", "7"],
                 lambda m: m.candles("EURUSD", "1m", start=dt.datetime(2030, 3, 1),
                                     end=dt.datetime(2030, 3, 2))),
                (["--symbol", "USDJPY", "--timeframe", "1d", "--count", "400", "--end",
                  str(A)], lambda m: m.candles("USDJPY", "1d", count=400, end=A))):
            seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 42
            out = subprocess.run([binary, "gen", *args], capture_output=True, text=True,
                                 check=True, timeout=60).stdout
            with cmee.Market(seed=seed) as m:
                self.assertEqual(call(m).to_csv(), out, args)


PACKAGE_DIR = os.path.dirname(os.path.abspath(cmee.__file__))


class TestLibraryLoading(unittest.TestCase):
    def test_version(self):
        self.assertEqual(cmee.__version__, _lib.lib.cmee_version().decode())
        self.assertRegex(cmee.__version__, r"^\d+\.\d+\.\d+$")
        self.assertEqual(".".join(map(str, cmee.version_info)), cmee.__version__)
        if os.sep in cmee.library_path:  # else a soname found by ctypes.util.find_library
            self.assertTrue(os.path.exists(cmee.library_path))

    def test_structure_sizes(self):
        lib = _lib.lib
        self.assertEqual(lib.cmee_sizeof_candle(), ctypes.sizeof(_lib.cmee_candle))
        self.assertEqual(lib.cmee_sizeof_tick(), ctypes.sizeof(_lib.cmee_tick))
        self.assertEqual(lib.cmee_sizeof_symbol_spec(), ctypes.sizeof(_lib.cmee_symbol_spec))
        self.assertEqual(ctypes.sizeof(_lib.cmee_error), 4 + 32 + 192)

    def test_declare(self):
        fn = _lib.declare("cmee_status_str", ctypes.c_char_p, _lib.c_status)
        self.assertEqual(fn(3), b"not found")
        with self.assertRaises(ValueError):
            _lib.declare("cmee_status_str", ctypes.c_int, _lib.c_status)
        with self.assertRaisesRegex(ImportError, "no function cmee_no_such_function"):
            _lib.declare("cmee_no_such_function", None)

    def test_search_order(self):
        with tempfile.TemporaryDirectory() as root:
            open(os.path.join(root, "meson.build"), "w").close()
            os.makedirs(os.path.join(root, "include", "cmee"))
            open(os.path.join(root, "include", "cmee", "core.h"), "w").close()
            pkg = os.path.join(root, "bindings", "python", "cmee")
            os.makedirs(pkg)
            for d in ("build", "build-asan", "builddir"):
                os.makedirs(os.path.join(root, d, "lib"))
                open(os.path.join(root, d, "lib", "libcmee.so"), "w").close()
            open(os.path.join(pkg, "libcmee.so.0"), "w").close()
            places = _lib.candidates(pkg, {"CMEE_LIBRARY": "/x/libcmee.so"},
                                     lambda name: "libcmee.so.0")
            self.assertEqual([p for _, p in places], [
                "/x/libcmee.so",
                os.path.join(pkg, "libcmee.so.0"),
                os.path.join(root, "build", "lib", "libcmee.so"),
                os.path.join(root, "build-asan", "lib", "libcmee.so"),
                os.path.join(root, "builddir", "lib", "libcmee.so"),
                "libcmee.so.0"])
            # Outside a checkout and without the variable: only the package and the system.
            places = _lib.candidates(tempfile.gettempdir(), {}, lambda name: None)
            self.assertEqual(places[0][0], "package directory")
            self.assertNotIn("CMEE_LIBRARY", " ".join(w for w, _ in places))
            # Nothing loads (the files are empty): ImportError listing everything tried.
            places = _lib.candidates(pkg, {"CMEE_LIBRARY": "/nonexistent/libcmee.so"},
                                     lambda name: None)
            with self.assertRaises(ImportError) as cm:
                _lib.load(places)
            text = str(cm.exception)
            self.assertIn("set CMEE_LIBRARY", text)
            for what, p in places:
                self.assertIn(f"{what}: {p or 'nothing found'}", text)
            # A working candidate after a broken CMEE_LIBRARY is used, with a warning.
            with self.assertWarnsRegex(RuntimeWarning, "CMEE_LIBRARY"):
                _, path = _lib.load([("$CMEE_LIBRARY", "/nonexistent/libcmee.so"),
                                     ("x", cmee.library_path)])
            self.assertEqual(path, cmee.library_path)
            # A library that loads but does not match (an old build) is skipped, with the
            # reason in the error if nothing else works.
            real = [("old build", cmee.library_path)]
            with self.assertRaisesRegex(ImportError, "old build: .*: too old"):
                _lib.load(real, validate=lambda h, p: (_ for _ in ()).throw(ImportError("too old")))
            self.assertEqual(_lib.load(real, _lib._validate)[1], cmee.library_path)

    def test_import_without_library(self):
        # meson test points LD_LIBRARY_PATH at the build, where find_library would look.
        env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        probe = "import ctypes.util, sys; sys.exit(1 if ctypes.util.find_library('cmee') else 0)"
        if subprocess.run([sys.executable, "-c", probe], env=env, timeout=60).returncode:
            self.skipTest("a system-wide libcmee is installed")
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(PACKAGE_DIR, os.path.join(tmp, "cmee"),
                            ignore=shutil.ignore_patterns("__pycache__", "libcmee.so*"))
            env.update(CMEE_LIBRARY="/nonexistent/libcmee.so", PYTHONPATH=tmp)
            p = subprocess.run([sys.executable, "-c", "import cmee"], env=env, cwd=tmp,
                               capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ImportError: cmee: cannot find the libcmee shared library", p.stderr)
        self.assertIn("/nonexistent/libcmee.so", p.stderr)
        self.assertIn("set CMEE_LIBRARY", p.stderr)

    def test_pydoc(self):
        text = pydoc.render_doc(cmee, renderer=pydoc.plaintext)
        for name in ("Market", "Candles", "Candle", "Symbol", "Tick", "NotFoundError",
                     "candles(self, symbol", "to_csv"):
            self.assertIn(name, text)
        for name in ("Market", "Candles", "Candle", "Symbol", "Tick", "Error", "to_ms"):
            self.assertTrue(getattr(cmee, name).__doc__, name)
            self.assertIn(name, cmee.__all__)


if __name__ == "__main__":
    unittest.main()
