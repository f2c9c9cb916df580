# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the microstructure face of the Python bindings: Market.bbo/book/trades/spread,
Book, Trades and the example examples/python/tape.py.

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_book
The comparison with `cmee book` and `cmee trades` uses $CMEE_BIN, else the `cmee` next to the
library's build directory (<build>/examples/cmee), else it is skipped.
"""

import contextlib
import ctypes
import datetime as dt
import io
import math
import os
import pydoc
import re
import subprocess
import sys
import unittest

import cmee
from cmee import _lib
from cmee import book as B
from cmee_testutil import cli_binary
from test_scenario import REPO, c_layout

MAR_2030 = 1_898_553_600_000         # 2030-03-01T00:00:00Z
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
UTC = dt.timezone.utc


class MarketCase(unittest.TestCase):
    def setUp(self):
        self.m = cmee.Market(seed=42)
        self.addCleanup(self.m.close)


class TestCli(unittest.TestCase):
    """The bindings and `cmee book` / `cmee trades` print the same bytes for the same seed."""

    @classmethod
    def setUpClass(cls):
        cls.bin = cli_binary()
        if not cls.bin:
            raise unittest.SkipTest("no cmee binary (set CMEE_BIN)")

    def cli(self, *args):
        p = subprocess.run([self.bin, *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_book(self):
        for seed in (42, 7):
            with cmee.Market(seed=seed) as m:
                for sym, depth in (("BTCUSD", 10), ("EURUSD", 50), ("DOGEUSD", 1),
                                   ("USDJPY", 20)):
                    for at in (MAR_2030, MAR_2030 + 12_345_678):
                        with self.subTest(seed=seed, symbol=sym, depth=depth, at=at):
                            b = m.book(sym, at=at, depth=depth)
                            out = self.cli("book", "--symbol", sym, "--at", str(at), "--depth",
                                           str(depth), "--seed", str(seed))
                            self.assertEqual(b.to_csv(), out)
                            # And the values, not only the text.
                            rows = [r.split(",") for r in out.splitlines()[1:]]
                            want = [(float(p), float(s)) for side, _, p, s in rows
                                    if side == "bid"]
                            self.assertEqual([tuple(lv) for lv in b.bids], want)

    def test_default_depth_matches(self):
        with cmee.Market() as m:
            self.assertEqual(m.book("SOLUSD", at=MAR_2030).to_csv(),
                             self.cli("book", "--symbol", "SOLUSD", "--at", str(MAR_2030)))

    def test_trades(self):
        for seed in (42, 3):
            with cmee.Market(seed=seed) as m:
                for sym in ("BTCUSD", "EURUSD", "XRPUSD"):
                    with self.subTest(seed=seed, symbol=sym):
                        t = m.trades(sym, start=MAR_2030, end=MAR_2030 + 2 * HOUR)
                        out = self.cli("trades", "--symbol", sym, "--from", str(MAR_2030),
                                       "--to", str(MAR_2030 + 2 * HOUR), "--seed", str(seed))
                        self.assertEqual(t.to_csv(), out)
                        rows = [r.split(",") for r in out.splitlines()[1:]]
                        self.assertEqual(list(t), [cmee.Trade(int(a), float(b), float(c), d)
                                                   for a, b, c, d in rows])
                        last = m.trades(sym, count=777, end=MAR_2030 + 5)
                        self.assertEqual(last.to_csv(), self.cli(
                            "trades", "--symbol", sym, "--count", "777", "--end",
                            str(MAR_2030 + 5), "--seed", str(seed)))

    def test_empty(self):
        with cmee.Market() as m:
            # A halted or zero-volume stretch is hard to find by chance; an empty range is not.
            t = m.trades("BTCUSD", start=MAR_2030 + 1, end=MAR_2030 + 999)
        self.assertEqual(len(t), 0)
        self.assertEqual(t.to_csv(), "time,price,size,side\n")


class TestTape(MarketCase):
    def test_trades_add_up_to_the_candles(self):
        for sym in ("BTCUSD", "EURUSD", "AAPL"):
            with self.subTest(symbol=sym):
                start, end = MAR_2030 - 6 * HOUR, MAR_2030
                candles = self.m.candles(sym, "1m", start=start, end=end)
                trades = self.m.trades(sym, start=start, end=end)
                q = self.m.size_quantum(sym)
                by_minute = {}
                for t in trades:
                    by_minute.setdefault(t.time // MINUTE * MINUTE, []).append(t)
                self.assertLessEqual(set(by_minute), set(candles.time))
                for c in candles:
                    ts = by_minute.get(c.time, [])
                    if c.volume == 0:
                        self.assertEqual(ts, [])
                        continue
                    self.assertEqual(sum(t.size for t in ts), c.volume, c)
                    self.assertEqual(ts[0].price, c.open)
                    self.assertEqual(ts[-1].price, c.close)
                    self.assertEqual(ts[0].time, c.time)
                    for t in ts:
                        self.assertTrue(c.low <= t.price <= c.high, t)
                        self.assertTrue((t.size / q).is_integer() and t.size > 0, t)
                        self.assertIn(t.side, ("buy", "sell"))

    def test_size_quantum(self):
        self.assertEqual(self.m.size_quantum("BTCUSD"), 1 / 16)
        for s in self.m.symbols():
            q = self.m.size_quantum(s.symbol)
            with self.subTest(symbol=s.symbol):
                self.assertEqual(q, 2.0 ** round(math.log2(q)))   # a power of two
                self.assertTrue(2 ** -20 <= q <= 1)
                b = self.m.book(s.symbol, at=MAR_2030, depth=50)
                for lv in b.bids + b.asks:
                    self.assertTrue((lv.size / q).is_integer(), lv)

    def test_count_and_range_agree(self):
        end = MAR_2030 + 3 * HOUR + 17
        rng = self.m.trades("ETHUSD", start=end - HOUR, end=end)
        for n in (1, 50, len(rng)):
            self.assertEqual(list(self.m.trades("ETHUSD", count=n, end=end)), list(rng[-n:]))
        self.assertTrue(all(t.time < end for t in rng))

    def test_time_arguments_as_candles(self):
        at = dt.datetime(2030, 3, 1, tzinfo=UTC)
        naive = dt.datetime(2030, 3, 1)
        a = self.m.trades("BTCUSD", count=10, end=at)
        self.assertEqual(a, self.m.trades("BTCUSD", count=10, end=MAR_2030))
        self.assertEqual(a, self.m.trades("BTCUSD", count=10, end=naive))
        self.assertEqual(self.m.trades("BTCUSD", start=naive, end=at + dt.timedelta(minutes=1)),
                         self.m.trades("BTCUSD", start=MAR_2030, end=MAR_2030 + MINUTE))
        self.assertEqual(self.m.book("BTCUSD", at=at), self.m.book("BTCUSD", at=MAR_2030))
        self.assertEqual(self.m.bbo("BTCUSD", naive), self.m.bbo("BTCUSD", MAR_2030))
        # Defaults: now, like Market.candles.
        self.assertEqual(len(self.m.trades("BTCUSD", count=3)), 3)
        self.assertEqual(len(self.m.trades("BTCUSD", start=cmee.to_ms(
            dt.datetime.now(UTC) - dt.timedelta(minutes=2)))) > 0, True)
        self.assertIsInstance(self.m.book("BTCUSD"), cmee.Book)
        self.assertIsInstance(self.m.bbo("BTCUSD"), cmee.BBO)

    def test_trades_sequence(self):
        t = self.m.trades("XAUUSD", start=MAR_2030, end=MAR_2030 + 10 * MINUTE)
        n = len(t)
        self.assertGreater(n, 100)
        self.assertIsInstance(t, cmee.Trades)
        self.assertEqual(t.symbol, "XAUUSD")
        items = list(t)
        self.assertEqual(t[0], items[0])
        self.assertEqual(t[-1], items[-1])
        self.assertIsInstance(t[5], cmee.Trade)
        self.assertEqual(list(t[10:20]), items[10:20])
        self.assertEqual(list(t[::7]), items[::7])
        self.assertEqual(list(reversed(t)), items[::-1])
        self.assertEqual(list(t.time), [x.time for x in items])
        self.assertEqual(list(t.price), [x.price for x in items])
        self.assertEqual(list(t.size), [x.size for x in items])
        self.assertEqual(t.sides, [x.side for x in items])
        self.assertEqual(t.time.format, "q")
        self.assertTrue(t.price.readonly)
        self.assertEqual(t, self.m.trades("XAUUSD", start=MAR_2030, end=MAR_2030 + 10 * MINUTE))
        self.assertNotEqual(t, t[1:])
        self.assertIn("XAUUSD", repr(t))
        self.assertIn("empty", repr(t[3:3]))
        with self.assertRaises(IndexError):
            t[n]
        with self.assertRaises(TypeError):
            t["x"]
        # Trades own their data.
        with cmee.Market(seed=42) as other:
            kept = other.trades("XAUUSD", start=MAR_2030, end=MAR_2030 + 10 * MINUTE)
        self.assertEqual(kept, t)


class TestBook(MarketCase):
    def test_shape(self):
        for sym in ("BTCUSD", "EURUSD", "US30", "DOGEUSD"):
            for depth in (1, 10, 50):
                with self.subTest(symbol=sym, depth=depth):
                    b = self.m.book(sym, at=MAR_2030 + 777_777, depth=depth)
                    self.assertEqual(b.symbol, sym)
                    self.assertLessEqual(b.time, MAR_2030 + 777_777)
                    self.assertGreater(b.time, MAR_2030 + 777_777 - MINUTE)
                    self.assertEqual(len(b.asks), depth)
                    self.assertTrue(1 <= len(b.bids) <= depth)
                    self.assertEqual((b.bid, b.ask), (b.bids[0].price, b.asks[0].price))
                    self.assertLess(b.bid, b.ask)
                    self.assertEqual(b.spread, b.ask - b.bid)
                    for lvs, away in ((b.bids, -1), (b.asks, 1)):
                        self.assertIsInstance(lvs, list)
                        self.assertIsInstance(lvs[0], cmee.Level)
                        for x, y in zip(lvs, lvs[1:]):
                            self.assertGreater((y.price - x.price) * away, 0)
                            self.assertGreater(y.size, x.size)
        self.assertEqual(len(self.m.book("BTCUSD", at=MAR_2030).asks), 10)

    def test_book_and_bbo_agree(self):
        for at in (MAR_2030, MAR_2030 + 1_234_567):
            b = self.m.book("ETHUSD", at=at)
            q = self.m.bbo("ETHUSD", at)
            self.assertEqual((q.time, q.bid, q.ask), (b.time, b.bid, b.ask))
            # The quote's spread is the exact tick multiple; the book's is the difference.
            self.assertAlmostEqual(q.spread, b.spread, delta=1e-9 * b.ask)
            self.assertEqual(q.last, q.ask if q.side == "buy" else q.bid)

    def test_bbo_ticks(self):
        quotes = self.m.bbo_ticks("BTCUSD", MAR_2030 + 30_000)
        ticks = self.m.ticks("BTCUSD", MAR_2030 + 30_000)
        self.assertEqual([q.time for q in quotes], [t.time for t in ticks])
        self.assertEqual([q.last for q in quotes], [t.price for t in ticks])
        for q in quotes:
            self.assertEqual(q, self.m.bbo("BTCUSD", q.time))

    def test_buys_at_the_ask_sells_at_the_bid(self):
        for t in self.m.trades("EURUSD", count=200, end=MAR_2030):
            q = self.m.bbo("EURUSD", t.time)
            self.assertEqual(t.price, q.ask if t.side == "buy" else q.bid, t)
            self.assertEqual(t.side, q.side)

    def test_walk(self):
        b = self.m.book("BTCUSD", at=MAR_2030, depth=20)
        top = b.asks[0]
        f = b.walk("buy", top.size / 2)
        self.assertEqual(f, cmee.Fill(top.size / 2, top.price, top.price, 1))
        big = b.walk("buy", top.size + b.asks[1].size / 2)
        self.assertGreater(big.avg_price, top.price)      # slippage
        self.assertEqual(big.worst_price, b.asks[1].price)
        self.assertEqual(big.levels, 2)
        sell = b.walk("sell", b.bids[0].size * 3)
        self.assertLess(sell.avg_price, b.bid)
        everything = sum(lv.size for lv in b.asks)
        f = b.walk("buy", everything * 2)
        self.assertEqual((f.filled, f.levels), (everything, 20))
        for side, qty, exc in (("hold", 1, cmee.InvalidArgumentError),
                               ("buy", 0, cmee.InvalidArgumentError),
                               ("buy", -1, cmee.InvalidArgumentError),
                               ("buy", math.inf, cmee.InvalidArgumentError),
                               ("buy", math.nan, cmee.InvalidArgumentError),
                               (0, 1, TypeError), ("buy", "1", TypeError)):
            with self.subTest(side=side, qty=qty):
                with self.assertRaises(exc):
                    b.walk(side, qty)

    def test_value_semantics(self):
        b = self.m.book("AAPL", at=MAR_2030, depth=5)
        self.assertEqual(b, self.m.book("AAPL", at=MAR_2030, depth=5))
        self.assertNotEqual(b, self.m.book("AAPL", at=MAR_2030 + MINUTE, depth=5))
        b.bids.clear()                        # a new list each time
        self.assertEqual(len(b.bids), 5)
        self.assertIn("AAPL", repr(b))
        self.m.close()
        self.assertEqual(len(b.asks), 5)      # usable after the market is closed
        b.walk("buy", 1)

    def test_deterministic(self):
        with cmee.Market(seed=42) as a, cmee.Market(seed=43) as c:
            self.assertEqual(a.book("BTCUSD", at=MAR_2030), self.m.book("BTCUSD", at=MAR_2030))
            self.assertNotEqual(c.book("BTCUSD", at=MAR_2030),
                                self.m.book("BTCUSD", at=MAR_2030))


class TestSpread(MarketCase):
    def test_defaults_and_changes(self):
        self.assertEqual(self.m.spread("BTCUSD"), cmee.Spread(1.0, 1.0, 0.5))
        self.assertEqual(self.m.spread("EURUSD"), cmee.Spread(0.5, 1.0, 0.5))
        before = self.m.trades("BTCUSD", count=50, end=MAR_2030)
        q0 = self.m.bbo("BTCUSD", MAR_2030)
        new = self.m.set_spread("BTCUSD", ticks=5000)
        self.assertEqual(new, cmee.Spread(1.0, 5000.0, 0.5))
        self.assertEqual(self.m.spread("BTCUSD"), new)
        q1 = self.m.bbo("BTCUSD", MAR_2030)
        self.assertGreater(q1.spread, q0.spread)
        self.assertGreaterEqual(q1.spread, 5000 * 0.01 * 0.25 - 1e-9)
        after = self.m.trades("BTCUSD", count=50, end=MAR_2030)
        # Prices and sizes stay; only quotes (and so sides) may change.
        self.assertEqual([(t.time, t.price, t.size) for t in before],
                         [(t.time, t.price, t.size) for t in after])
        self.assertEqual(self.m.set_spread("BTCUSD", bps=2, vol_weight=0),
                         cmee.Spread(2.0, 5000.0, 0.0))

    def test_bad_settings_change_nothing(self):
        for field, value in (("bps", -1), ("bps", 1001), ("ticks", 2e6), ("vol_weight", 11),
                             ("vol_weight", math.nan)):
            with self.subTest(field=field, value=value):
                with self.assertRaises(cmee.InvalidArgumentError) as cm:
                    self.m.set_spread("ETHUSD", **{field: value})
                self.assertIn(field, str(cm.exception))
                self.assertEqual(self.m.spread("ETHUSD"), cmee.Spread(1.0, 1.0, 0.5))
        with self.assertRaises(TypeError):
            self.m.set_spread("ETHUSD", bps="2")


class TestErrors(MarketCase):
    def test_unknown_symbol(self):
        calls = (lambda: self.m.book("NOPE", at=MAR_2030),
                 lambda: self.m.bbo("NOPE", MAR_2030),
                 lambda: self.m.bbo_ticks("NOPE", MAR_2030),
                 lambda: self.m.trades("NOPE", count=5, end=MAR_2030),
                 lambda: self.m.trades("NOPE", start=MAR_2030, end=MAR_2030 + HOUR),
                 lambda: self.m.size_quantum("NOPE"),
                 lambda: self.m.spread("NOPE"),
                 lambda: self.m.set_spread("NOPE", bps=1))
        for i, call in enumerate(calls):
            with self.subTest(call=i):
                with self.assertRaises(cmee.NotFoundError) as cm:
                    call()
                self.assertIn("NOPE", str(cm.exception))

    def test_bad_arguments(self):
        m = self.m
        cases = {
            "depth 0": (lambda: m.book("BTCUSD", at=MAR_2030, depth=0),
                        cmee.InvalidArgumentError),
            "depth 51": (lambda: m.book("BTCUSD", at=MAR_2030, depth=51),
                         cmee.InvalidArgumentError),
            "depth str": (lambda: m.book("BTCUSD", at=MAR_2030, depth="10"), TypeError),
            "at before 2000": (lambda: m.book("BTCUSD", at=dt.datetime(1999, 1, 1)),
                               cmee.RangeError),
            "at float": (lambda: m.bbo("BTCUSD", 1.5e12), TypeError),
            "bbo at end of series": (lambda: m.bbo("BTCUSD", cmee.TIME_MAX), cmee.RangeError),
            "count and start": (lambda: m.trades("BTCUSD", count=5, start=MAR_2030),
                                cmee.InvalidArgumentError),
            "neither": (lambda: m.trades("BTCUSD"), cmee.InvalidArgumentError),
            "count 0": (lambda: m.trades("BTCUSD", count=0), cmee.InvalidArgumentError),
            "count too many": (lambda: m.trades("BTCUSD", count=1_000_001),
                               cmee.InvalidArgumentError),
            "count float": (lambda: m.trades("BTCUSD", count=5.0), TypeError),
            "start after end": (lambda: m.trades("BTCUSD", start=MAR_2030 + 1, end=MAR_2030),
                                cmee.InvalidArgumentError),
            "span over 31 days": (lambda: m.trades("BTCUSD", start=MAR_2030,
                                                   end=MAR_2030 + 31 * DAY + 1),
                                  cmee.RangeError),
            "range before 2000": (lambda: m.trades("BTCUSD", start=cmee.TIME_MIN - 1,
                                                   end=cmee.TIME_MIN + HOUR),
                                  cmee.RangeError),
            "end at series start": (lambda: m.trades("BTCUSD", count=5, end=cmee.TIME_MIN),
                                    cmee.RangeError),
            "symbol not str": (lambda: m.book(b"BTCUSD", at=MAR_2030), TypeError),
        }
        for name, (call, exc) in cases.items():
            with self.subTest(case=name):
                with self.assertRaises(exc):
                    call()
        self.assertTrue(issubclass(cmee.RangeError, cmee.Error))

    def test_closed_market(self):
        self.m.close()
        with self.assertRaises(cmee.StateError):
            self.m.book("BTCUSD", at=MAR_2030)
        with self.assertRaises(cmee.StateError):
            self.m.trades("BTCUSD", count=1)

    def test_31_days_is_allowed(self):
        t = self.m.trades("EURUSD", start=MAR_2030, end=MAR_2030 + 31 * DAY)
        self.assertGreater(len(t), 31 * 1440 * 30)
        self.assertEqual(t[0].time, MAR_2030)


class TestLayout(unittest.TestCase):
    def test_sizes_reported_by_the_library(self):
        for suffix, st in _lib.BOOK_STRUCTS:
            with self.subTest(struct=st.__name__):
                self.assertEqual(getattr(_lib.lib, f"cmee_sizeof_{suffix}")(), ctypes.sizeof(st))

    def test_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8:
            self.skipTest("sizes below are those of LP64 ABIs")
        self.assertEqual([ctypes.sizeof(s) for s in (
            _lib.cmee_bbo, _lib.cmee_trade, _lib.cmee_book, _lib.cmee_book_level,
            _lib.cmee_book_fill, _lib.cmee_spread_spec)], [48, 32, 1640, 16, 32, 24])

    def test_against_c(self):
        got, want = c_layout([_lib.cmee_bbo, _lib.cmee_trade, _lib.cmee_book,
                              _lib.cmee_book_level, _lib.cmee_book_fill,
                              _lib.cmee_spread_spec], self)
        self.assertEqual(got, want)

    def test_import_refuses_a_mismatch(self):
        class Fake:
            def __init__(self, sizes):
                self.sizes = sizes

            def __getattr__(self, name):
                return lambda: self.sizes[name.removeprefix("cmee_sizeof_")]

        sizes = {suffix: ctypes.sizeof(st) for suffix, st in _lib.BOOK_STRUCTS}
        _lib._check_book_layouts(Fake(sizes), "fake.so")
        sizes["trade"] += 8
        with self.assertRaisesRegex(ImportError, r"sizeof\(cmee_trade\) is 40 in fake.so"):
            _lib._check_book_layouts(Fake(sizes), "fake.so")

    def test_sides_are_the_library_names(self):
        self.assertEqual([B._aggressor_name(i).decode() for i in range(len(cmee.SIDES))],
                         list(cmee.SIDES))
        self.assertIsNone(B._aggressor_name(len(cmee.SIDES)))


class TestNames(unittest.TestCase):
    def test_exported_and_documented(self):
        for name in B.__all__:
            with self.subTest(name=name):
                self.assertIn(name, cmee.__all__)
                self.assertIs(getattr(cmee, name), getattr(B, name))
                obj = getattr(B, name)
                if callable(obj):
                    self.assertTrue((obj.__doc__ or "").strip(), name)
        for cls in (cmee.Book, cmee.Trades):
            for attr in dir(cls):
                if not attr.startswith("_"):
                    with self.subTest(cls=cls.__name__, attr=attr):
                        self.assertTrue((getattr(cls, attr).__doc__ or "").strip())
        for meth in ("bbo", "bbo_ticks", "book", "trades", "size_quantum", "spread",
                     "set_spread"):
            self.assertTrue(getattr(cmee.Market, meth).__doc__.strip(), meth)
        text = pydoc.render_doc(cmee, renderer=pydoc.plaintext)
        for word in ("class Book", "walk(self, side", "class Trades", "trades(self, symbol",
                     "book(self, symbol", "set_spread(self, symbol"):
            self.assertTrue(word in text, word)


class TestExample(unittest.TestCase):
    def test_tape(self):
        script = os.path.join(REPO, "examples", "python", "tape.py")
        p = subprocess.run([sys.executable, script, "BTCUSD", "2030-03-01T00:00:00Z"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        with cmee.Market(seed=42) as m:
            b = m.book("BTCUSD", at=MAR_2030, depth=8)
            trades = m.trades("BTCUSD", count=12, end=MAR_2030)
        self.assertEqual(lines[0], f"BTCUSD book at 2030-03-01 00:00:00 UTC, spread {b.spread:.2f}")
        rows = [ln.split() for ln in lines[2:10]]
        self.assertEqual([(float(r[0]), float(r[1])) for r in rows],
                         [(lv.size, lv.price) for lv in b.bids])
        self.assertEqual([(float(r[3]), float(r[4])) for r in rows],
                         [(lv.price, lv.size) for lv in b.asks])
        start = lines.index("last 12 trades:")
        printed = [ln.split() for ln in lines[start + 1:start + 13]]
        self.assertEqual([(r[1], float(r[2]), float(r[3])) for r in printed],
                         [(t.side, t.price, t.size) for t in trades])
        self.assertRegex(lines[-1], r"^buy [\d.]+ at market: average [\d.]+ over 2 level\(s\), "
                                    r"worst [\d.]+$")

    def test_docs_example(self):
        """The example of docs/python.md runs as printed."""
        with open(os.path.join(REPO, "docs", "python.md"), encoding="utf-8") as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        self.assertEqual(len(blocks), 5)
        out = io.StringIO()
        scope = {}
        with contextlib.redirect_stdout(out):
            exec(compile(blocks[0], "docs/python.md", "exec"), scope)
        self.assertIn("Level(price=", out.getvalue())
        self.assertEqual(scope["fill"].filled, 2.5)
        self.assertEqual(len(scope["last"]), 100)
        # The second, the results report.
        scope = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(blocks[1], "docs/python.md", "exec"), scope)
        self.assertEqual(scope["r"].trades, 1)
        self.assertEqual(scope["r"].sample_ms, 900_000)
        # The third, market impact: the printed figure is 0.152 % x 2^-0.5.
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(blocks[2], "docs/python.md", "exec"), scope)
        want = 0.55 / 365.25 ** 0.5 * (100 / (1440 * 25)) ** 0.5 * 2 ** -0.5  # BTCUSD's spec
        self.assertAlmostEqual(float(out.getvalue()) / want, 1.0, delta=1e-12)
        self.assertEqual(round(want, 6), 0.001073)
        # The fourth, a market event log.
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(blocks[3], "docs/python.md", "exec"), {})
        self.assertEqual(out.getvalue(), '1 speed 0 {"speed":10}\n')
        # The fifth, replay and reset: the log, a replay that is the same, the epochs.
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(blocks[4], "docs/python.md", "exec"), {})
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[0], "['apply_scenario', 'order', 'step']")
        self.assertEqual(lines[1], "True")
        self.assertEqual(lines[2], "2 2 10000")

    def test_default_time_runs(self):
        script = os.path.join(REPO, "examples", "python", "tape.py")
        p = subprocess.run([sys.executable, script, "EURUSD"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("EURUSD book at "))


if __name__ == "__main__":
    unittest.main()
