# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of `cmee book` and `cmee trades`: the real binary, checked against `cmee gen`.

The binary comes from $CMEE_BIN or the first command-line argument:
    CMEE_BIN=build/examples/cmee python3 tests/cli/test_cli_book.py
    python3 tests/cli/test_cli_book.py build/examples/cmee [unittest options]
"""

import os
import subprocess
import sys
import time
import unittest
from decimal import Decimal

BIN = None

BOOK_HEADER = "side,level,price,size"
TRADES_HEADER = "time,price,size,side"
GEN_HEADER = "time,open,high,low,close,volume"
MAR_2030 = 1_898_553_600_000                    # 2030-03-01T00:00:00Z
TIME_MIN = 946_684_800_000                      # 2000-01-01T00:00:00Z
TIME_MAX = TIME_MIN + 65536 * 86_400_000        # 2179-06-07T00:00:00Z
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def run(*args, check=None):
    """Run cmee; returns CompletedProcess with text output. check: expected exit code."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
    if check is not None and p.returncode != check:
        raise AssertionError(f"cmee {' '.join(args)}: exit {p.returncode}, expected {check}\n"
                             f"stderr: {p.stderr}")
    return p


def shortest(x):
    """The CLI's rule: the first of %.15g, %.16g, %.17g that reads back as exactly x."""
    for prec in (15, 16, 17):
        s = "%.*g" % (prec, x)
        if float(s) == x:
            return s
    raise AssertionError("unreachable: %.17g always round-trips")


def lines_of(text, header):
    lines = text.splitlines()
    assert lines and lines[0] == header, lines[:1]
    assert text.endswith("\n")
    return [line.split(",") for line in lines[1:]]


def book(*args, check=0):
    """`cmee book ARGS` as ({"bid": [(price, size)], "ask": [...]}, raw text rows)."""
    rows = lines_of(run("book", *args, check=check).stdout, BOOK_HEADER)
    sides = {"bid": [], "ask": []}
    for side, level, price, size in rows:
        sides[side].append((int(level), float(price), float(size)))
    return sides, rows


def trades(*args, check=0):
    """`cmee trades ARGS` as a list of (time, price, size, side)."""
    rows = lines_of(run("trades", *args, check=check).stdout, TRADES_HEADER)
    return [(int(t), float(p), float(s), side) for t, p, s, side in rows]


def candles(*args):
    rows = lines_of(run("gen", *args, check=0).stdout, GEN_HEADER)
    return [(int(r[0]), *map(float, r[1:])) for r in rows]


def tick_sizes():
    out = run("symbols", check=0).stdout.splitlines()
    keys = out[0].split(",")
    return {d["symbol"]: Decimal(d["tick_size"]) for d in (dict(zip(keys, ln.split(",")))
                                                           for ln in out[1:])}


class Book(unittest.TestCase):
    AT = ("--at", "2030-03-01T12:34:56Z")

    def check_book(self, sides, depth, tick):
        bids, asks = sides["bid"], sides["ask"]
        self.assertEqual(len(asks), depth)
        self.assertTrue(1 <= len(bids) <= depth)
        for levels, away in ((bids, -1), (asks, 1)):
            self.assertEqual([lv[0] for lv in levels], list(range(1, len(levels) + 1)))
            for (_, p0, s0), (_, p1, s1) in zip(levels, levels[1:]):
                # Prices strictly move away from the touch, sizes strictly grow.
                self.assertGreater((p1 - p0) * away, 0)
                self.assertGreater(s1, s0)
            for _, p, s in levels:
                self.assertGreater(p, 0)
                self.assertGreater(s, 0)
                self.assertEqual(Decimal(shortest(p)) % tick, 0, p)
                # Sizes are whole multiples of a power-of-two quantum no finer than 2^-20.
                self.assertTrue((s * 2 ** 20).is_integer(), s)
        self.assertLess(bids[0][1], asks[0][1])
        # The spread is at least one tick.
        self.assertGreaterEqual(Decimal(shortest(asks[0][1])) - Decimal(shortest(bids[0][1])),
                                tick)

    def test_shape_and_order(self):
        ticks = tick_sizes()
        for sym in ("BTCUSD", "EURUSD", "XAUUSD", "US30", "DOGEUSD"):
            for depth in (1, 10, 50):
                with self.subTest(symbol=sym, depth=depth):
                    sides, rows = book("--symbol", sym, *self.AT, "--depth", str(depth))
                    # Bids first, then asks.
                    kinds = [r[0] for r in rows]
                    self.assertEqual(kinds, sorted(kinds, key=lambda k: k != "bid"))
                    self.assertEqual(set(kinds), {"bid", "ask"})
                    self.check_book(sides, depth, ticks[sym])

    def test_default_depth_is_10(self):
        sides, _ = book("--symbol", "ETHUSD", *self.AT)
        self.assertEqual((len(sides["bid"]), len(sides["ask"])), (10, 10))
        self.assertEqual(run("book", "--symbol", "ETHUSD", *self.AT).stdout,
                         run("book", "--symbol", "ETHUSD", *self.AT, "--depth", "10").stdout)

    def test_deeper_book_extends_the_shallow_one(self):
        a, _ = book("--symbol", "SOLUSD", *self.AT, "--depth", "5")
        b, _ = book("--symbol", "SOLUSD", *self.AT, "--depth", "50")
        self.assertEqual(a["bid"], b["bid"][:5])
        self.assertEqual(a["ask"], b["ask"][:5])

    def test_numbers_read_back_exactly(self):
        for sym in ("BTCUSD", "EURUSD", "USDJPY", "XRPUSD"):
            _, rows = book("--symbol", sym, *self.AT, "--depth", "50")
            for side, level, price, size in rows:
                self.assertEqual(str(int(level)), level)
                self.assertEqual(shortest(float(price)), price, sym)
                self.assertEqual(shortest(float(size)), size, sym)

    def test_book_holds_within_a_tick(self):
        # The book is that of the last tick at or before --at: ticks are a second apart for
        # the registry's 60 a minute, so the book holds for the whole second.
        a = run("book", "--symbol", "BTCUSD", "--at", str(MAR_2030 + 5_000), check=0).stdout
        b = run("book", "--symbol", "BTCUSD", "--at", str(MAR_2030 + 5_999), check=0).stdout
        c = run("book", "--symbol", "BTCUSD", "--at", str(MAR_2030 + 6_000), check=0).stdout
        self.assertEqual(a, b)
        self.assertNotEqual(b, c)

    def test_iso_and_ms_agree(self):
        self.assertEqual(run("book", "--symbol", "GBPUSD", "--at", "2030-03-01T00:00:00Z").stdout,
                         run("book", "--symbol", "GBPUSD", "--at", str(MAR_2030)).stdout)
        self.assertEqual(
            run("book", "--symbol", "GBPUSD", "--at", "2030-03-01T00:00:01.5Z").stdout,
            run("book", "--symbol", "GBPUSD", "--at", str(MAR_2030 + 1_500)).stdout)

    def test_default_at_is_now(self):
        before = int(time.time() * 1000)
        now = run("book", "--symbol", "BTCUSD", check=0).stdout
        after = int(time.time() * 1000)
        around = {run("book", "--symbol", "BTCUSD", "--at", str(t), check=0).stdout
                  for t in (before, after)}
        self.assertIn(now, around)

    def test_series_edges(self):
        book("--symbol", "BTCUSD", "--at", str(TIME_MIN))
        book("--symbol", "BTCUSD", "--at", str(TIME_MAX - 1))


class Trades(unittest.TestCase):
    def test_shape(self):
        ticks = tick_sizes()
        for sym in ("BTCUSD", "EURUSD", "SPX500"):
            with self.subTest(symbol=sym):
                rows = trades("--symbol", sym, "--from", "2030-03-01T00:00:00Z",
                              "--to", "2030-03-01T01:00:00Z")
                self.assertGreater(len(rows), 600)
                times = [r[0] for r in rows]
                self.assertEqual(times, sorted(set(times)))   # one trade per tick moment
                self.assertGreaterEqual(times[0], MAR_2030)
                self.assertLess(times[-1], MAR_2030 + HOUR)
                for t, p, s, side in rows:
                    self.assertIn(side, ("buy", "sell"))
                    self.assertGreater(p, 0)
                    self.assertGreater(s, 0)
                    self.assertTrue((s * 2 ** 20).is_integer(), s)
                    self.assertEqual(Decimal(shortest(p)) % ticks[sym], 0, p)

    def test_numbers_read_back_exactly(self):
        for sym in ("BTCUSD", "EURUSD", "DOGEUSD", "USDJPY"):
            out = run("trades", "--symbol", sym, "--count", "2000",
                      "--end", "2030-03-01T00:00:00Z", check=0).stdout
            for t, p, s, side in lines_of(out, TRADES_HEADER):
                self.assertEqual(str(int(t)), t)
                self.assertEqual(shortest(float(p)), p, sym)
                self.assertEqual(shortest(float(s)), s, sym)

    def test_count_is_the_tail_of_the_range(self):
        end = MAR_2030 + 7 * HOUR + 12_345
        rows = trades("--symbol", "ETHUSD", "--from", str(end - 2 * HOUR), "--to", str(end))
        for n in (1, 7, 500):
            with self.subTest(count=n):
                last = trades("--symbol", "ETHUSD", "--count", str(n), "--end", str(end))
                self.assertEqual(last, rows[-n:])
        # --end is exclusive: a trade exactly at it is not included.
        at_end = trades("--symbol", "ETHUSD", "--from", str(end - 12_345), "--to",
                        str(end - 12_345 + MINUTE))[0]
        last = trades("--symbol", "ETHUSD", "--count", "1", "--end", str(at_end[0]))
        self.assertLess(last[0][0], at_end[0])

    def test_ranges_are_half_open_and_join(self):
        a = trades("--symbol", "XAUUSD", "--from", str(MAR_2030), "--to", str(MAR_2030 + 90_500))
        b = trades("--symbol", "XAUUSD", "--from", str(MAR_2030 + 90_500),
                   "--to", str(MAR_2030 + 3 * MINUTE))
        whole = trades("--symbol", "XAUUSD", "--from", str(MAR_2030),
                       "--to", str(MAR_2030 + 3 * MINUTE))
        self.assertEqual(a + b, whole)
        self.assertTrue(all(r[0] < MAR_2030 + 90_500 for r in a))

    def test_default_end_is_now(self):
        before = int(time.time() * 1000)
        now = trades("--symbol", "BTCUSD", "--count", "3")
        after = int(time.time() * 1000)
        self.assertEqual(len(now), 3)
        self.assertLess(now[-1][0], after)
        around = [trades("--symbol", "BTCUSD", "--count", "3", "--end", str(t))
                  for t in (before, after)]
        self.assertIn(now, around)

    def test_31_days_is_the_limit(self):
        p = run("trades", "--symbol", "EURUSD", "--from", "2030-03-01T00:00:00Z",
                "--to", "2030-04-01T00:00:00Z", check=0)
        self.assertEqual(p.stderr, "")
        n = p.stdout.count("\n") - 1
        self.assertGreater(n, 31 * 1440 * 30)


class SameMarketAsGen(unittest.TestCase):
    """With the same --seed, `cmee trades` and `cmee gen` describe the same market."""

    def check(self, sym, start, minutes, seed):
        rng = ("--from", str(start), "--to", str(start + minutes * MINUTE), "--seed", seed)
        bars = candles("--symbol", sym, "--timeframe", "1m", *rng)
        tape = trades("--symbol", sym, *rng)
        self.assertEqual(len(bars), minutes)
        by_minute = {}
        for t in tape:
            by_minute.setdefault(t[0] // MINUTE * MINUTE, []).append(t)
        self.assertLessEqual(set(by_minute), {b[0] for b in bars})
        for t0, o, h, lo, c, v in bars:
            ts = by_minute.get(t0, [])
            if v == 0:
                self.assertEqual(ts, [], f"{sym} {t0}: trades in a minute without volume")
                continue
            self.assertTrue(ts, f"{sym} {t0}")
            # Sizes are multiples of a power of two: the sum is exact in any order.
            self.assertEqual(sum(t[2] for t in ts), v, f"{sym} {t0}")
            self.assertEqual(ts[0][1], o, f"{sym} {t0}: first trade not at the open")
            self.assertEqual(ts[-1][1], c, f"{sym} {t0}: last trade not at the close")
            for t in ts:
                self.assertTrue(lo <= t[1] <= h, f"{sym} {t}: outside [{lo}, {h}]")
        return tape

    def test_every_1m_candle(self):
        for sym, seed in (("BTCUSD", "42"), ("EURUSD", "42"), ("XAUUSD", "7"), ("AAPL", "1")):
            with self.subTest(symbol=sym, seed=seed):
                self.check(sym, MAR_2030 - 3 * HOUR, 360, seed)

    def test_default_seed_matches_gen_default(self):
        rng = ("--from", str(MAR_2030), "--to", str(MAR_2030 + 30 * MINUTE))
        self.assertEqual(run("trades", "--symbol", "SOLUSD", *rng).stdout,
                         run("trades", "--symbol", "SOLUSD", *rng, "--seed", "42").stdout)
        self.check("SOLUSD", MAR_2030, 30, "42")

    def test_buys_print_at_the_ask_and_sells_at_the_bid(self):
        tape = trades("--symbol", "BTCUSD", "--count", "40", "--end", str(MAR_2030 + 5 * HOUR))
        for t, price, _, side in tape[::4]:
            sides, _ = book("--symbol", "BTCUSD", "--at", str(t), "--depth", "1")
            touch = sides["ask" if side == "buy" else "bid"][0][1]
            self.assertEqual(price, touch, f"{side} at {t}")


class Determinism(unittest.TestCase):
    BOOK = ("book", "--symbol", "BTCUSD", "--at", "2030-03-01T00:00:00Z", "--depth", "20")
    TRADES = ("trades", "--symbol", "BTCUSD", "--count", "300", "--end", "2030-03-01T00:00:00Z")

    def test_same_seed_same_output(self):
        for args in (self.BOOK, self.TRADES):
            with self.subTest(cmd=args[0]):
                a = run(*args, "--seed", "5", check=0).stdout
                self.assertEqual(a, run(*args, "--seed", "5", check=0).stdout)
                self.assertEqual(run(*args, check=0).stdout,
                                 run(*args, "--seed", "42", check=0).stdout)

    def test_other_seed_other_output(self):
        for args in (self.BOOK, self.TRADES):
            with self.subTest(cmd=args[0]):
                a = run(*args, "--seed", "1", check=0).stdout
                b = run(*args, "--seed", "2", check=0).stdout
                self.assertNotEqual(a, b)
                self.assertEqual(a.splitlines()[0], b.splitlines()[0])
                big = run(*args, "--seed", "18446744073709551615", check=0).stdout
                self.assertEqual(big, run(*args, "--seed", "18446744073709551615").stdout)


class Help(unittest.TestCase):
    def test_help(self):
        for cmd in ("book", "trades"):
            for flag in ("--help", "-h"):
                with self.subTest(cmd=cmd, flag=flag):
                    p = run(cmd, flag, check=0)
                    self.assertTrue(p.stdout.startswith(f"usage: cmee {cmd} --symbol SYM"))
                    self.assertEqual(p.stderr, "")
        top = run("--help", check=0).stdout
        self.assertIn("\n  book ", top)
        self.assertIn("\n  trades ", top)
        self.assertIn("--depth N", run("book", "--help").stdout)
        self.assertIn("31 days", run("trades", "--help").stdout)


class BadArguments(unittest.TestCase):
    BOOK = ["book", "--symbol", "BTCUSD"]
    TRADES = ["trades", "--symbol", "BTCUSD"]
    DAY1 = ["--from", "2030-03-01T00:00:00Z", "--to", "2030-03-02T00:00:00Z"]

    CASES = {
        "book: missing symbol": ["book", "--at", "2030-03-01T00:00:00Z"],
        "book: depth 0": BOOK + ["--depth", "0"],
        "book: depth 51": BOOK + ["--depth", "51"],
        "book: depth negative": BOOK + ["--depth", "-1"],
        "book: depth not a number": BOOK + ["--depth", "ten"],
        "book: bad at": BOOK + ["--at", "2030-02-30T00:00:00Z"],
        "book: at repeated": BOOK + ["--at", "0", "--at", "1"],
        "book: bad seed": BOOK + ["--seed", "-1"],
        "book: unknown option": BOOK + ["--count", "5"],
        "book: option missing its value": BOOK + ["--depth"],
        "book: extra argument": BOOK + ["extra"],
        "trades: missing symbol": ["trades", "--count", "5"],
        "trades: missing count and from": TRADES,
        "trades: count with from": TRADES + ["--count", "5"] + DAY1,
        "trades: count with to": TRADES + ["--count", "5", "--to", "2030-03-01T00:00:00Z"],
        "trades: from without to": TRADES + ["--from", "2030-03-01T00:00:00Z"],
        "trades: to without from": TRADES + ["--to", "2030-03-01T00:00:00Z"],
        "trades: end with from/to": TRADES + DAY1 + ["--end", "0"],
        "trades: from after to": TRADES + ["--from", "2030-03-02T00:00:00Z",
                                           "--to", "2030-03-01T00:00:00Z"],
        "trades: from equals to": TRADES + ["--from", "2030-03-01T00:00:00Z",
                                            "--to", "2030-03-01T00:00:00Z"],
        "trades: span over 31 days": TRADES + ["--from", "2030-03-01T00:00:00Z",
                                               "--to", "2030-04-01T00:00:00.001Z"],
        "trades: span overflowing 64 bits": TRADES + ["--from", str(-2 ** 63),
                                                      "--to", str(2 ** 63 - 1)],
        "trades: count 0": TRADES + ["--count", "0"],
        "trades: count over the limit": TRADES + ["--count", "1000001"],
        "trades: count with junk": TRADES + ["--count", "5x"],
        "trades: bad seed": TRADES + ["--count", "5", "--seed", "18446744073709551616"],
        "trades: timeframe is not an option": TRADES + ["--count", "5", "--timeframe", "1m"],
        "trades: extra argument": TRADES + ["--count", "5", "extra"],
    }

    BAD_TIMES = ["2030-13-01T00:00:00Z", "2030-03-01T24:00:00Z", "2030-03-01T00:00:00",
                 "2030-03-01T00:00:00+01:00", "2030-03-01T00:00:00.1234Z", "2030-03-01", "now",
                 "", "1.5e12", "99999999999999999999"]

    def assert_usage_error(self, args):
        p = run(*args)
        self.assertEqual(p.returncode, 2, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "", args)
        lines = p.stderr.splitlines()
        self.assertTrue(lines and lines[0].startswith(f"usage: cmee {args[0]}"), p.stderr)
        self.assertTrue(lines[-1].startswith("cmee: ") and len(lines[-1]) > 8, p.stderr)
        self.assertEqual(sum(1 for line in lines if line.startswith("cmee: ")), 1, p.stderr)
        return lines[-1]

    def test_cases(self):
        for name, args in self.CASES.items():
            with self.subTest(case=name):
                self.assert_usage_error(args)

    def test_bad_times(self):
        for t in self.BAD_TIMES:
            for opt, args in (("--at", self.BOOK), ("--end", self.TRADES + ["--count", "5"]),
                              ("--from", self.TRADES + ["--to", "2030-03-02T00:00:00Z"]),
                              ("--to", self.TRADES + ["--from", "2030-03-01T00:00:00Z"])):
                with self.subTest(time=t, option=opt):
                    reason = self.assert_usage_error(args + [opt + "=" + t])
                    self.assertIn(opt, reason)

    def test_reason_names_the_problem(self):
        self.assertIn("--symbol", self.assert_usage_error(self.CASES["book: missing symbol"]))
        self.assertIn("--symbol", self.assert_usage_error(self.CASES["trades: missing symbol"]))
        self.assertIn("'0'", self.assert_usage_error(self.CASES["book: depth 0"]))
        self.assertIn("'51'", self.assert_usage_error(self.CASES["book: depth 51"]))
        self.assertIn("--count", self.assert_usage_error(self.CASES["trades: count with from"]))
        self.assertIn("before", self.assert_usage_error(self.CASES["trades: from after to"]))
        self.assertIn("31 days", self.assert_usage_error(self.CASES["trades: span over 31 days"]))


class LibraryFailures(unittest.TestCase):
    """What the library refuses exits 1 with its message, as for `cmee gen`."""

    def assert_failure(self, args, *words):
        p = run(*args)
        self.assertEqual(p.returncode, 1, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "")
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("cmee: "), p.stderr)
        for w in words:
            self.assertIn(w, lines[0])

    def test_unknown_symbol(self):
        # As in `cmee gen`: the registry belongs to the library (docs/cli.md).
        self.assert_failure(["book", "--symbol", "NOPE"], "NOPE")
        self.assert_failure(["book", "--symbol", "btcusd", "--at", "0"])
        self.assert_failure(["trades", "--symbol", "NOPE", "--count", "5"], "NOPE")
        self.assert_failure(["trades", "--symbol", "NOPE"] + BadArguments.DAY1, "NOPE")

    def test_time_outside_the_series(self):
        self.assert_failure(["book", "--symbol", "BTCUSD", "--at", str(TIME_MIN - 1)])
        self.assert_failure(["book", "--symbol", "BTCUSD", "--at", str(TIME_MAX)])
        self.assert_failure(["trades", "--symbol", "BTCUSD", "--count", "5",
                             "--end", str(TIME_MIN)])
        self.assert_failure(["trades", "--symbol", "BTCUSD", "--count", "5",
                             "--end", str(TIME_MAX + 1)])
        self.assert_failure(["trades", "--symbol", "BTCUSD", "--from", str(TIME_MIN - 1),
                             "--to", str(TIME_MIN + HOUR)])
        self.assert_failure(["trades", "--symbol", "BTCUSD", "--from", str(TIME_MAX - HOUR),
                             "--to", str(TIME_MAX + 1)])

    def test_series_edges_are_inside(self):
        first = trades("--symbol", "BTCUSD", "--from", str(TIME_MIN), "--to", str(TIME_MIN + 5_000))
        self.assertTrue(first and first[0][0] == TIME_MIN)
        last = trades("--symbol", "BTCUSD", "--count", "3", "--end", str(TIME_MAX))
        self.assertEqual(len(last), 3)
        # Fewer than asked when the series starts first.
        few = trades("--symbol", "BTCUSD", "--count", "1000", "--end", str(TIME_MIN + 5_000))
        self.assertLess(len(few), 10)


class Output(unittest.TestCase):
    def test_closed_pipe_is_quiet(self):
        p = subprocess.Popen([BIN, "trades", "--symbol", "BTCUSD", "--count", "1000000",
                              "--end", "2030-03-01T00:00:00Z"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline().decode(), TRADES_HEADER + "\n")
        p.stdout.close()
        err = p.stderr.read()
        p.stderr.close()
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertEqual(err, b"")

    @unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
    def test_write_error_exits_1(self):
        for args in (["trades", "--symbol", "BTCUSD", "--count", "5000"],
                     ["book", "--symbol", "BTCUSD", "--depth", "50"]):
            with self.subTest(args=args), open("/dev/full", "w") as full:
                p = subprocess.run([BIN, *args], stdout=full, stderr=subprocess.PIPE, text=True,
                                   timeout=60)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                self.assertIn("write error", p.stderr)


def main():
    global BIN
    argv = sys.argv[1:]
    if argv and not argv[0].startswith("-"):
        BIN = argv.pop(0)
    else:
        BIN = os.environ.get("CMEE_BIN")
    if not BIN:
        sys.exit("usage: test_cli_book.py CMEE_BINARY [unittest options], or set CMEE_BIN")
    if not os.access(BIN, os.X_OK):
        sys.exit(f"test_cli_book.py: {BIN} is not an executable")
    unittest.main(argv=[sys.argv[0], *argv])


if __name__ == "__main__":
    main()
