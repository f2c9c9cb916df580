# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of the cmee command-line tool: runs the real binary and checks real values.

The binary comes from $CMEE_BIN or the first command-line argument:
    CMEE_BIN=build/examples/cmee python3 tests/cli/test_cli.py
    python3 tests/cli/test_cli.py build/examples/cmee [unittest options]
"""

import json
from decimal import Decimal
import os
import subprocess
import sys
import time
import unittest

BIN = None

TF_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000,
         "1d": 86_400_000}
HEADER = "time,open,high,low,close,volume"
SYMBOLS_HEADER = "symbol,class,seed_price,tick_size,precision,volatility"
CLASSES = {"crypto", "fx", "metal", "index", "stock", "commodity", "other"}
TIME_MIN = 946_684_800_000                      # 2000-01-01T00:00:00Z
TIME_MAX = TIME_MIN + 65536 * 86_400_000        # 2179-06-07T00:00:00Z
MAR_2030 = 1_898_553_600_000                    # 2030-03-01T00:00:00Z
FIELDS = ["time", "open", "high", "low", "close", "volume"]


def run(*args, check=None):
    """Run cmee; returns CompletedProcess with text output. check: expected exit code."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
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


def gen(*args, check=0):
    return run("gen", *args, check=check).stdout


def csv_rows(text):
    """Parse gen CSV into (header, rows of text fields)."""
    lines = text.splitlines()
    return lines[0], [line.split(",") for line in lines[1:]]


def candles(text):
    """Parse gen CSV into a list of (time, open, high, low, close, volume)."""
    header, rows = csv_rows(text)
    assert header == HEADER, header
    return [(int(r[0]), *map(float, r[1:])) for r in rows]


def symbols():
    out = run("symbols", check=0).stdout
    lines = out.splitlines()
    return lines[0], [dict(zip(SYMBOLS_HEADER.split(","), line.split(","))) for line in lines[1:]]


class GenCsv(unittest.TestCase):
    def check_series(self, rows, tf, n=None):
        tf_ms = TF_MS[tf]
        if n is not None:
            self.assertEqual(len(rows), n)
        for i, (t, o, h, lo, c, v) in enumerate(rows):
            self.assertEqual(t % tf_ms, 0, f"row {i}: time {t} not aligned to {tf}")
            self.assertLessEqual(lo, min(o, c), f"row {i}")
            self.assertLessEqual(min(o, c), max(o, c))
            self.assertLessEqual(max(o, c), h, f"row {i}")
            self.assertGreater(lo, 0, f"row {i}: price must stay positive")
            self.assertTrue(v.is_integer() and v >= 0, f"row {i}: volume {v}")
            if i:
                self.assertEqual(t - rows[i - 1][0], tf_ms, f"row {i}: gap")
                self.assertEqual(o, rows[i - 1][4], f"row {i}: open != previous close")

    def test_header_and_shape_every_timeframe(self):
        for tf in TF_MS:
            with self.subTest(tf=tf):
                out = gen("--symbol", "BTCUSD", "--timeframe", tf, "--count", "50",
                          "--end", "2030-03-01T00:00:00Z")
                self.assertEqual(out.splitlines()[0], HEADER)
                self.assertTrue(out.endswith("\n"))
                rows = candles(out)
                self.check_series(rows, tf, 50)
                # The N complete candles ending at --end: the last closes exactly at it.
                self.assertEqual(rows[-1][0] + TF_MS[tf], MAR_2030)

    def test_unaligned_end_is_floored(self):
        a = gen("--symbol", "ETHUSD", "--timeframe", "1h", "--count", "10",
                "--end", str(MAR_2030 + 3_599_999))
        b = gen("--symbol", "ETHUSD", "--timeframe", "1h", "--count", "10", "--end", str(MAR_2030))
        self.assertEqual(a, b)

    def test_from_to_is_half_open_by_open_time(self):
        rows = candles(gen("--symbol", "EURUSD", "--timeframe", "1h",
                           "--from", str(MAR_2030 + 1), "--to", str(MAR_2030 + 5 * 3_600_000)))
        self.assertEqual([r[0] for r in rows], [MAR_2030 + k * 3_600_000 for k in range(1, 5)])
        rows = candles(gen("--symbol", "EURUSD", "--timeframe", "1h",
                           "--from", str(MAR_2030), "--to", str(MAR_2030 + 5 * 3_600_000 + 1)))
        self.assertEqual([r[0] for r in rows], [MAR_2030 + k * 3_600_000 for k in range(6)])

    def test_empty_range_prints_header_only(self):
        out = gen("--symbol", "EURUSD", "--timeframe", "1h",
                  "--from", str(MAR_2030 + 1), "--to", str(MAR_2030 + 2))
        self.assertEqual(out, HEADER + "\n")

    def test_longer_series(self):
        rows = candles(gen("--symbol", "XAUUSD", "--timeframe", "1m", "--count", "5000",
                           "--end", "2031-07-04T12:34:00Z"))
        self.check_series(rows, "1m", 5000)


class NumberFormat(unittest.TestCase):
    def test_round_trip_and_shortest(self):
        for sym in ("BTCUSD", "EURUSD", "DOGEUSD", "USDJPY", "SPX500"):
            out = gen("--symbol", sym, "--timeframe", "1m", "--count", "300",
                      "--end", "2030-03-01T00:00:00Z")
            _, rows = csv_rows(out)
            for r in rows:
                self.assertEqual(str(int(r[0])), r[0])   # time: plain integer
                for s in r[1:]:
                    # Reads back to a double that re-prints identically under the same rule.
                    self.assertEqual(shortest(float(s)), s, f"{sym}: {s!r}")

    def test_prices_print_with_at_most_precision_decimals(self):
        # A tick-rounded price must print as 67234.51, not 67234.509999999995.
        _, specs = symbols()
        for spec in specs:
            prec = int(spec["precision"])
            out = gen("--symbol", spec["symbol"], "--timeframe", "1h", "--count", "48",
                      "--end", "2030-03-01T00:00:00Z")
            _, rows = csv_rows(out)
            self.assertEqual(len(rows), 48)
            tick = Decimal(spec["tick_size"])
            bad = []
            for r in rows:
                for s in r[1:5]:
                    decimals = len(s.split(".")[1]) if "." in s else 0
                    # Plain decimal, no more places than the precision, exactly on the tick grid.
                    if "e" in s or decimals > prec or Decimal(s) % tick != 0:
                        bad.append(s)
                if not r[5].isdigit():
                    bad.append(r[5])
            self.assertEqual(bad[:5], [], f"{spec['symbol']}: precision {prec}, tick {tick}")


class Determinism(unittest.TestCase):
    ARGS = ("--symbol", "SOLUSD", "--timeframe", "5m", "--count", "500",
            "--end", "2030-03-01T00:00:00Z")

    def test_same_args_same_output(self):
        self.assertEqual(gen(*self.ARGS), gen(*self.ARGS))

    def test_default_seed_is_42(self):
        self.assertEqual(gen(*self.ARGS), gen(*self.ARGS, "--seed", "42"))

    def test_seed_changes_output(self):
        a = gen(*self.ARGS, "--seed", "1")
        b = gen(*self.ARGS, "--seed", "2")
        self.assertNotEqual(a, b)
        self.assertEqual(a.splitlines()[0], b.splitlines()[0])
        self.assertEqual(gen(*self.ARGS, "--seed", "18446744073709551615"),
                         gen(*self.ARGS, "--seed", "18446744073709551615"))

    def test_count_equals_from_to(self):
        for tf in ("1m", "1h", "1d"):
            with self.subTest(tf=tf):
                n = 200
                a = gen("--symbol", "NVDA", "--timeframe", tf, "--count", str(n),
                        "--end", "2030-03-01T00:00:00Z")
                b = gen("--symbol", "NVDA", "--timeframe", tf,
                        "--from", str(MAR_2030 - n * TF_MS[tf]), "--to", "2030-03-01T00:00:00Z")
                self.assertEqual(a, b)

    def test_iso_and_ms_agree(self):
        iso = gen("--symbol", "GBPUSD", "--timeframe", "15m",
                  "--from", "2030-03-01T00:00:00Z", "--to", "2030-03-02T00:00:00Z")
        frac = gen("--symbol", "GBPUSD", "--timeframe", "15m",
                   "--from", "2030-03-01T00:00:00.000Z", "--to", "2030-03-02T00:00:00.0Z")
        ms = gen("--symbol", "GBPUSD", "--timeframe", "15m",
                 "--from", str(MAR_2030), "--to", str(MAR_2030 + 86_400_000))
        self.assertEqual(iso, ms)
        self.assertEqual(frac, ms)
        self.assertEqual(len(candles(ms)), 96)

    def test_iso_fraction_is_milliseconds(self):
        # With count, end = 01:00:00.001 floors to 01:00, end = 00:59:59.999 to 00:00.
        a = gen("--symbol", "BTCUSD", "--timeframe", "1h", "--count", "1",
                "--end", "2030-03-01T01:00:00.001Z")
        b = gen("--symbol", "BTCUSD", "--timeframe", "1h", "--count", "1",
                "--end", "2030-03-01T00:59:59.999Z")
        self.assertEqual(candles(a)[0][0], MAR_2030)
        self.assertEqual(candles(b)[0][0], MAR_2030 - 3_600_000)
        c = gen("--symbol", "BTCUSD", "--timeframe", "1h", "--count", "1",
                "--end", "2030-03-01T00:59:59.5Z")
        self.assertEqual(c, b)

    def test_iso_calendar(self):
        # Leap days, century years and year ends through the ISO parser match plain ms.
        cases = {"2000-01-01T00:03:00Z": 946_684_980_000,
                 "2024-02-29T12:00:00Z": 1_709_208_000_000,
                 "2100-03-01T00:00:00Z": 4_107_542_400_000,
                 "2030-12-31T23:59:00Z": 1_924_991_940_000}
        for iso, ms in cases.items():
            with self.subTest(iso=iso):
                args = ("--symbol", "AAPL", "--timeframe", "1m", "--count", "3", "--end")
                rows = candles(gen(*args, iso))
                self.assertEqual(rows[-1][0] + 60_000, ms)
                self.assertEqual(gen(*args, iso), gen(*args, str(ms)))

    def test_csv_and_jsonl_agree(self):
        args = ("--symbol", "ADAUSD", "--timeframe", "1h", "--count", "300",
                "--end", "2030-03-01T00:00:00Z")
        header, rows = csv_rows(gen(*args))
        self.assertEqual(header, HEADER)
        jl = gen(*args, "--format", "jsonl")
        self.assertEqual(gen(*args, "--format", "csv"), gen(*args))
        lines = jl.splitlines()
        self.assertTrue(jl.endswith("\n"))
        self.assertEqual(len(lines), len(rows))
        for line, row in zip(lines, rows):
            # Keep the number tokens as text: both formats must print the same characters.
            obj = json.loads(line, parse_float=str, parse_int=str)
            self.assertEqual(list(obj), FIELDS)
            self.assertEqual([obj[k] for k in FIELDS], row)
            self.assertNotIn(" ", line)
            self.assertEqual(json.loads(line)["time"], int(row[0]))


class Aggregation(unittest.TestCase):
    def check_fold(self, sym, small, big, start):
        n = TF_MS[big] // TF_MS[small]
        to = start + TF_MS[big]
        parts = candles(gen("--symbol", sym, "--timeframe", small, "--from", str(start),
                            "--to", str(to)))
        whole = candles(gen("--symbol", sym, "--timeframe", big, "--from", str(start),
                            "--to", str(to)))
        self.assertEqual(len(parts), n)
        self.assertEqual(len(whole), 1)
        t, o, h, lo, c, v = whole[0]
        self.assertEqual(t, parts[0][0])
        self.assertEqual(o, parts[0][1])
        self.assertEqual(h, max(p[2] for p in parts))
        self.assertEqual(lo, min(p[3] for p in parts))
        self.assertEqual(c, parts[-1][4])
        self.assertEqual(v, sum(p[5] for p in parts))   # whole numbers: exact in any order

    def test_sixty_1m_make_one_1h(self):
        for sym in ("BTCUSD", "EURUSD", "XAUUSD", "US30"):
            for hour in (0, 13, 23):
                with self.subTest(symbol=sym, hour=hour):
                    self.check_fold(sym, "1m", "1h", MAR_2030 + hour * 3_600_000)

    def test_other_folds(self):
        self.check_fold("ETHUSD", "5m", "15m", MAR_2030 + 900_000)
        self.check_fold("ETHUSD", "1h", "4h", MAR_2030 + 4 * 3_600_000)
        self.check_fold("ETHUSD", "4h", "1d", MAR_2030)
        self.check_fold("ETHUSD", "1m", "1d", MAR_2030 - 86_400_000)


class DefaultEnd(unittest.TestCase):
    def test_default_end_is_now_floored(self):
        for tf in ("1m", "1h", "1d"):
            with self.subTest(tf=tf):
                before = int(time.time() * 1000)
                rows = candles(gen("--symbol", "BTCUSD", "--timeframe", tf, "--count", "3"))
                after = int(time.time() * 1000)
                tf_ms = TF_MS[tf]
                last = rows[-1][0]
                self.assertEqual(len(rows), 3)
                self.assertLessEqual(last + tf_ms, after)
                self.assertGreater(last, before - 2 * tf_ms)
                # Stated exactly: the last candle closes at now floored to the timeframe.
                self.assertIn(last + tf_ms, {before // tf_ms * tf_ms, after // tf_ms * tf_ms})


class Symbols(unittest.TestCase):
    def test_registry(self):
        header, specs = symbols()
        self.assertEqual(header, SYMBOLS_HEADER)
        self.assertGreaterEqual(len(specs), 20)
        names = [s["symbol"] for s in specs]
        self.assertEqual(len(names), len(set(names)))
        for want in ("BTCUSD", "ETHUSD", "EURUSD", "XAUUSD"):
            self.assertIn(want, names)
        for s in specs:
            with self.subTest(symbol=s["symbol"]):
                self.assertEqual(len(s), 6)
                self.assertIn(s["class"], CLASSES)
                self.assertGreater(float(s["seed_price"]), 0)
                self.assertGreater(float(s["tick_size"]), 0)
                self.assertIn(int(s["precision"]), range(0, 11))
                self.assertTrue(0 < float(s["volatility"]) <= 3)
                for k in ("seed_price", "tick_size", "volatility"):
                    self.assertEqual(shortest(float(s[k])), s[k])
        classes = {s["symbol"]: s["class"] for s in specs}
        self.assertEqual(classes["BTCUSD"], "crypto")
        self.assertEqual(classes["EURUSD"], "fx")
        self.assertEqual(classes["XAUUSD"], "metal")

    def test_every_symbol_generates(self):
        _, specs = symbols()
        for s in specs:
            with self.subTest(symbol=s["symbol"]):
                rows = candles(gen("--symbol", s["symbol"], "--timeframe", "1d", "--count", "3",
                                   "--end", "2025-01-02T00:00:00Z"))
                self.assertEqual(len(rows), 3)

    def test_seed_price_at_anchor(self):
        # Every series passes through its seed price at 2025-01-01T00:00:00Z: the close of the
        # 1m candle that ends there.
        _, specs = symbols()
        for s in specs[:6]:
            rows = candles(gen("--symbol", s["symbol"], "--timeframe", "1m", "--count", "1",
                               "--end", "2025-01-01T00:00:00Z"))
            self.assertEqual(rows[0][4], float(s["seed_price"]), s["symbol"])


class Help(unittest.TestCase):
    def test_help_and_version(self):
        for args in (["--help"], ["-h"], ["gen", "--help"], ["gen", "-h"], ["symbols", "--help"]):
            with self.subTest(args=args):
                p = run(*args, check=0)
                self.assertTrue(p.stdout.startswith("usage: cmee"), p.stdout)
                self.assertEqual(p.stderr, "")
        p = run("--version", check=0)
        self.assertRegex(p.stdout, r"^\d+\.\d+\.\d+\n$")
        self.assertEqual(p.stderr, "")
        self.assertIn("--count", run("gen", "--help").stdout)


class BadArguments(unittest.TestCase):
    BASE = ["gen", "--symbol", "BTCUSD", "--timeframe", "1h"]

    CASES = {
        "no command": [],
        "unknown command": ["generate"],
        "unknown top option": ["--frobnicate"],
        "unknown gen option": BASE + ["--count", "5", "--frobnicate"],
        "option missing its value": BASE + ["--count"],
        "extra argument": BASE + ["--count", "5", "extra"],
        "missing symbol": ["gen", "--timeframe", "1h", "--count", "5"],
        "missing timeframe": ["gen", "--symbol", "BTCUSD", "--count", "5"],
        "missing count and from": BASE,
        "count and from": BASE + ["--count", "5", "--from", "0", "--to", "1"],
        "count and to": BASE + ["--count", "5", "--to", "2030-03-01T00:00:00Z"],
        "from without to": BASE + ["--from", "2030-03-01T00:00:00Z"],
        "to without from": BASE + ["--to", "2030-03-01T00:00:00Z"],
        "end with from/to": BASE + ["--from", "2030-03-01T00:00:00Z",
                                    "--to", "2030-03-02T00:00:00Z", "--end", "0"],
        "from after to": BASE + ["--from", "2030-03-02T00:00:00Z", "--to", "2030-03-01T00:00:00Z"],
        "from equals to": BASE + ["--from", "2030-03-01T00:00:00Z", "--to", "2030-03-01T00:00:00Z"],
        "non-numeric count": BASE + ["--count", "ten"],
        "count with junk": BASE + ["--count", "10x"],
        "count zero": BASE + ["--count", "0"],
        "count negative": BASE + ["--count", "-5"],
        "count over the query limit": BASE + ["--count", "10000001"],
        "count repeated": BASE + ["--count", "5", "--count", "6"],
        "bad timeframe": ["gen", "--symbol", "BTCUSD", "--timeframe", "2h", "--count", "5"],
        "bad format": BASE + ["--count", "5", "--format", "xml"],
        "bad seed": BASE + ["--count", "5", "--seed", "-1"],
        "seed overflow": BASE + ["--count", "5", "--seed", "18446744073709551616"],
        "symbols with argument": ["symbols", "extra"],
        "symbols with option": ["symbols", "--seed", "1"],
    }

    BAD_TIMES = ["2030-13-01T00:00:00Z", "2030-00-01T00:00:00Z", "2030-02-29T00:00:00Z",
                 "2030-04-31T00:00:00Z", "2030-03-01T24:00:00Z", "2030-03-01T00:60:00Z",
                 "2030-03-01T00:00:60Z", "2030-03-01 00:00:00Z", "2030-03-01T00:00:00",
                 "2030-03-01T00:00:00+01:00", "2030-03-01T00:00:00.1234Z",
                 "2030-03-01T00:00:00.Z", "2030-03-01", "2030-3-1T00:00:00Z", "now", "",
                 "1.5e12", "12 ", "--", "99999999999999999999"]

    def assert_usage_error(self, args):
        p = run(*args)
        self.assertEqual(p.returncode, 2, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "", args)
        lines = p.stderr.splitlines()
        self.assertTrue(lines and lines[0].startswith("usage: cmee"), p.stderr)
        # The reason is one line, the last one.
        self.assertTrue(lines[-1].startswith("cmee: ") and len(lines[-1]) > 8, p.stderr)
        self.assertEqual(sum(1 for line in lines if line.startswith("cmee: ")), 1, p.stderr)
        return lines[-1]

    def test_cases(self):
        for name, args in self.CASES.items():
            with self.subTest(case=name):
                self.assert_usage_error(args)

    def test_bad_times(self):
        for t in self.BAD_TIMES:
            for opt in ("--end", "--from"):
                with self.subTest(time=t, option=opt):
                    extra = ["--count", "5"] if opt == "--end" else ["--to", "2030-03-02T00:00:00Z"]
                    reason = self.assert_usage_error(self.BASE + [opt + "=" + t] + extra)
                    self.assertIn(opt, reason)

    def test_leap_day_is_valid(self):
        gen("--symbol", "BTCUSD", "--timeframe", "1d", "--count", "2",
            "--end", "2028-02-29T00:00:00Z")

    def test_reason_names_the_problem(self):
        self.assertIn("--symbol", self.assert_usage_error(self.CASES["missing symbol"]))
        self.assertIn("2h", self.assert_usage_error(self.CASES["bad timeframe"]))
        self.assertIn("xml", self.assert_usage_error(self.CASES["bad format"]))
        self.assertIn("generate", self.assert_usage_error(self.CASES["unknown command"]))


class LibraryFailures(unittest.TestCase):
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
        self.assert_failure(["gen", "--symbol", "NOPE", "--timeframe", "1h", "--count", "5"],
                            "NOPE")
        # Case-sensitive, like the library.
        self.assert_failure(["gen", "--symbol", "btcusd", "--timeframe", "1h", "--count", "5"])
        self.assert_failure(["gen", "--symbol", "NOPE", "--timeframe", "1h",
                             "--from", "2030-03-01T00:00:00Z", "--to", "2030-03-02T00:00:00Z"])

    def test_time_outside_the_series(self):
        base = ["gen", "--symbol", "BTCUSD", "--timeframe", "1h"]
        self.assert_failure(base + ["--count", "5", "--end", "1999-12-31T00:00:00Z"])
        self.assert_failure(base + ["--count", "5", "--end", "-1"])
        # The 5 candles would start before 2000-01-01.
        self.assert_failure(base + ["--count", "5", "--end", "2000-01-01T03:00:00Z"])
        self.assert_failure(base + ["--from", "1999-01-01T00:00:00Z",
                                    "--to", "2000-01-02T00:00:00Z"])
        self.assert_failure(base + ["--from", "2179-06-01T00:00:00Z",
                                    "--to", "2179-06-09T00:00:00Z"])
        self.assert_failure(base + ["--count", "5", "--end", "9999-12-31T00:00:00Z"])

    def test_series_edges_are_inside(self):
        rows = candles(gen("--symbol", "BTCUSD", "--timeframe", "1d", "--count", "2",
                           "--end", "2000-01-03T00:00:00Z"))
        self.assertEqual(rows[0][0], TIME_MIN)
        rows = candles(gen("--symbol", "BTCUSD", "--timeframe", "1d",
                           "--from", str(TIME_MAX - 2 * 86_400_000), "--to", str(TIME_MAX)))
        self.assertEqual(rows[-1][0] + 86_400_000, TIME_MAX)

    def test_too_many_candles(self):
        # 2 years of 1m candles exceed the library's 10 000 000 per query.
        self.assert_failure(["gen", "--symbol", "BTCUSD", "--timeframe", "1m",
                             "--from", "2030-01-01T00:00:00Z", "--to", "2050-01-01T00:00:00Z"])


class Output(unittest.TestCase):
    def test_closed_pipe_is_quiet(self):
        # `cmee gen ... | head -1`: the reader goes away; no error storm, exit 0.
        p = subprocess.Popen([BIN, "gen", "--symbol", "BTCUSD", "--timeframe", "1m",
                              "--count", "200000", "--end", "2030-03-01T00:00:00Z"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline().decode(), HEADER + "\n")
        p.stdout.close()
        err = p.stderr.read()
        p.stderr.close()
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertEqual(err, b"")

    @unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
    def test_write_error_exits_1(self):
        for args in (["gen", "--symbol", "BTCUSD", "--timeframe", "1m", "--count", "1000",
                      "--end", "2030-03-01T00:00:00Z"], ["symbols"], ["--help"]):
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
        sys.exit("usage: test_cli.py CMEE_BINARY [unittest options], or set CMEE_BIN")
    BIN = os.path.abspath(BIN)
    if not os.access(BIN, os.X_OK):
        sys.exit(f"test_cli.py: {BIN} is not an executable")
    unittest.main(argv=[sys.argv[0], *argv])


if __name__ == "__main__":
    main()
