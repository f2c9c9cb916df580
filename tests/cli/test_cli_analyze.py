# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of `cmee analyze`: runs the real binary on data from `cmee gen`.

The binary comes from $CMEE_BIN or the first command-line argument:
    CMEE_BIN=build/examples/cmee python3 tests/cli/test_cli_analyze.py
    python3 tests/cli/test_cli_analyze.py build/examples/cmee [unittest options]
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

BIN = None

HEADER = "time,open,high,low,close,volume"
HOUR = 3600000
# The contract: keys and their order.
TOP_KEYS = ["n", "time", "timeframe", "analysis", "signal", "binary", "indicators"]
ANALYSIS_KEYS = ["trend", "trend_strength", "adx", "plus_di", "minus_di", "slope_pct", "r2", "atr",
                 "atr_pct", "realized_vol", "vol_percentile", "pivots", "fibonacci", "support",
                 "resistance", "swing_highs", "swing_lows"]
PIVOT_KEYS = ["pivot", "r1", "r2", "r3", "s1", "s2", "s3"]
FIB_KEYS = ["r1", "r2", "r3", "s1", "s2", "s3"]
SIGNAL_KEYS = ["direction", "score", "strength", "reasons"]
REASON_KEYS = ["rule", "vote", "weight", "text"]
BINARY_KEYS = ["direction", "confidence", "expiry_ms", "expiry_time"]
RULES = {"rsi", "macd", "ma_cross", "bbands", "squeeze", "stoch", "adx"}
NAMES = ["sma", "ema", "wma", "dema", "tema", "rsi", "macd", "bbands", "atr", "natr", "stoch",
         "stochrsi", "adx", "cci", "mom", "roc", "willr", "obv", "sar", "vwap", "stddev"]
THRESHOLD = 0.2      # cmee_signal_config default
MIN_STRENGTH = 0.3   # cmee_binary_config defaults
EXPIRY_BARS = 5
# One line of `cmee ind --list`: name, KEY=DEFAULT..., " -> ", outputs, two spaces, title.
LIST_LINE = re.compile(r"^([a-z]+)(?: [a-z_]+=\S+)* -> ([a-z_]+(?:,[a-z_]+)*)  \S")


def run(*args, stdin=None, check=None):
    """Run cmee; returns CompletedProcess with text output. check: expected exit code."""
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError(f"cmee {' '.join(args)}: exit {p.returncode}, expected {check}\n"
                             f"stderr: {p.stderr}")
    return p


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise AssertionError(f"duplicate keys in {keys}")
    return dict(pairs)


def not_json(name):
    raise AssertionError(f"{name} is not JSON")


def analyze(*args, stdin=None):
    """The parsed output of a successful `cmee analyze`, after checking it is one object."""
    p = run("analyze", *args, stdin=stdin, check=0)
    if p.stderr != "" or not p.stdout.endswith("}\n"):
        raise AssertionError(f"stderr {p.stderr!r}, stdout ends {p.stdout[-20:]!r}")
    # json.loads refuses trailing data; NaN and Infinity are Python's extensions, not JSON.
    obj = json.loads(p.stdout, object_pairs_hook=no_duplicates, parse_constant=not_json)
    if not isinstance(obj, dict):
        raise AssertionError("not a JSON object")
    return obj


def gen(symbol="BTCUSD", tf="1h", count=300, seed=None):
    args = ["gen", "--symbol", symbol, "--timeframe", tf, "--count", str(count),
            "--end", "2030-03-01T00:00:00Z"]
    if seed is not None:
        args += ["--seed", str(seed)]
    return run(*args, check=0).stdout


def rows_of(text):
    return [line.split(",") for line in text.splitlines()[1:]]


def drift(text, rate):
    """The series with close i multiplied by exp(rate * i); open is the previous new close and
    high/low are widened to contain open and close, so every candle stays consistent."""
    out, prev = [HEADER], None
    for i, r in enumerate(rows_of(text)):
        f = math.exp(rate * i)
        o, h, lo, c = (float(x) * f for x in r[1:5])
        o = prev if prev is not None else o
        h, lo = max(h, o, c), min(lo, o, c)
        out.append(",".join([r[0], repr(o), repr(h), repr(lo), repr(c), r[5]]))
        prev = c
    return "\n".join(out) + "\n"


def close_enough(got, want):
    """JSON carries 15 significant digits; cmee ind prints the exact double."""
    return abs(got - want) <= 1e-12 * abs(want)


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.csv_text = gen()
        cls.path = cls.write_file("btc.csv", cls.csv_text)
        cls.rows = rows_of(cls.csv_text)
        cls.out = analyze(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def write_file(cls, name, text):
        path = os.path.join(cls.tmp.name, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def check_signal_and_binary(self, out):
        s, b = out["signal"], out["binary"]
        self.assertEqual(list(s), SIGNAL_KEYS)
        self.assertTrue(-1 <= s["score"] <= 1)
        self.assertAlmostEqual(s["strength"], abs(s["score"]), delta=1e-14)
        want = "BUY" if s["score"] >= THRESHOLD else "SELL" if s["score"] <= -THRESHOLD \
            else "NEUTRAL"
        self.assertEqual(s["direction"], want, s)
        self.assertIsInstance(s["reasons"], list)
        for r in s["reasons"]:
            self.assertEqual(list(r), REASON_KEYS)
            self.assertIn(r["rule"], RULES)
            self.assertTrue(-1 <= r["vote"] <= 1)
            self.assertEqual(r["weight"], 1.0)
            self.assertIsInstance(r["text"], str)
            self.assertNotEqual(r["text"], "")
        rules = [r["rule"] for r in s["reasons"]]
        self.assertEqual(len(rules), len(set(rules)))

        self.assertEqual(list(b), BINARY_KEYS)
        strong = s["strength"] >= MIN_STRENGTH
        want = {"BUY": "CALL", "SELL": "PUT"}.get(s["direction"]) if strong else None
        self.assertEqual(b["direction"], want or "NONE", (s, b))
        if b["direction"] == "NONE":
            self.assertEqual(b["confidence"], 0)
        else:
            self.assertAlmostEqual(b["confidence"], 0.5 + s["strength"] / 2, delta=1e-14)
        self.assertIsInstance(b["expiry_ms"], int)
        self.assertEqual(b["expiry_time"], out["time"] + b["expiry_ms"])


class Output(Base):
    def test_layout(self):
        out = self.out
        self.assertEqual(list(out), TOP_KEYS)
        self.assertEqual(list(out["analysis"]), ANALYSIS_KEYS)
        self.assertEqual(list(out["analysis"]["pivots"]), PIVOT_KEYS)
        self.assertEqual(list(out["analysis"]["fibonacci"]), FIB_KEYS)
        self.assertEqual(list(out["signal"]), SIGNAL_KEYS)
        self.assertEqual(list(out["binary"]), BINARY_KEYS)
        self.assertEqual(list(out["indicators"]), NAMES)
        self.assertIsInstance(out["n"], int)
        self.assertIsInstance(out["time"], int)

    def test_n_time_timeframe(self):
        self.assertEqual(self.out["n"], len(self.rows))
        self.assertEqual(self.out["time"], int(self.rows[-1][0]))
        self.assertEqual(self.out["timeframe"], "1h")

    def test_analysis_values(self):
        a = self.out["analysis"]
        self.assertIn(a["trend"], ("up", "down", "sideways"))
        self.assertTrue(0 <= a["trend_strength"] <= 1)
        self.assertTrue(0 < a["vol_percentile"] <= 100)
        self.assertTrue(0 <= a["r2"] <= 1)
        close = float(self.rows[-1][4])
        self.assertTrue(close_enough(a["atr_pct"], a["atr"] / close * 100))
        # Pivots of the previous bar.
        h, lo, c = (float(x) for x in self.rows[-2][2:5])
        p = (h + lo + c) / 3
        piv, fib = a["pivots"], a["fibonacci"]
        self.assertTrue(close_enough(piv["pivot"], p))
        self.assertTrue(close_enough(piv["r1"], 2 * p - lo))
        self.assertTrue(close_enough(piv["s2"], p - (h - lo)))
        self.assertTrue(close_enough(fib["r3"], p + (h - lo)))
        self.assertTrue(close_enough(fib["s1"], p - 0.382 * (h - lo)))
        highs = {float(r[2]) for r in self.rows}
        lows = {float(r[3]) for r in self.rows}
        for key, pool in (("swing_highs", highs), ("swing_lows", lows)):
            self.assertTrue(1 <= len(a[key]) <= 8, a[key])
            for v in a[key]:
                self.assertIn(v, pool)
        if a["support"] is not None:
            self.assertIn(a["support"], a["swing_lows"])
            self.assertLess(a["support"], close)
        if a["resistance"] is not None:
            self.assertIn(a["resistance"], a["swing_highs"])
            self.assertGreater(a["resistance"], close)
        # The indicators section and the analysis agree where they overlap.
        self.assertEqual(a["adx"], self.out["indicators"]["adx"]["adx"])
        self.assertEqual(a["atr"], self.out["indicators"]["atr"]["atr"])

    def test_indicators_equal_cmee_ind(self):
        listed = {}
        for line in run("ind", "--list", check=0).stdout.splitlines():
            m = LIST_LINE.match(line)
            self.assertIsNotNone(m, line)
            listed[m.group(1)] = m.group(2).split(",")
        self.assertEqual(list(listed), NAMES)
        # 60 rows: tema (lookback 87) and dema (58 < 59) show both null and defined values.
        short = self.write_file("short.csv", "\n".join(self.csv_text.splitlines()[:61]) + "\n")
        for path in (self.path, short):
            out = self.out if path == self.path else analyze(path)
            nulls = 0
            for name in NAMES:
                with self.subTest(path=os.path.basename(path), name=name):
                    got = out["indicators"][name]
                    self.assertEqual(list(got), listed[name])
                    lines = run("ind", name, path, check=0).stdout.splitlines()
                    last = lines[-1].split(",")[1:]
                    for key, text in zip(listed[name], last):
                        if text == "":
                            self.assertIsNone(got[key])
                            nulls += 1
                        else:
                            self.assertIsInstance(got[key], float)
                            self.assertTrue(close_enough(got[key], float(text)),
                                            f"{key}: {got[key]!r} != {text}")
            self.assertEqual(nulls, 0 if path == self.path else 1)

    def test_signal_and_binary(self):
        self.check_signal_and_binary(self.out)
        self.assertEqual(self.out["binary"]["expiry_ms"], EXPIRY_BARS * HOUR)
        # Seeds picked (the data is deterministic) so that every case turns up: BUY and CALL,
        # SELL and PUT, BUY or SELL too weak for a binary signal, NEUTRAL.
        seen = set()
        for symbol, seed in (("ETHUSD", 1), ("BTCUSD", 74), ("BTCUSD", 29), ("BTCUSD", 13),
                             ("EURUSD", 2), ("XAUUSD", 3)):
            with self.subTest(symbol=symbol, seed=seed):
                out = analyze(stdin=gen(symbol, seed=seed, count=120))
                self.check_signal_and_binary(out)
                seen.add((out["signal"]["direction"], out["binary"]["direction"]))
        # The checks above hold whatever the seeds give; this only says they cover the cases.
        self.assertLessEqual({("BUY", "CALL"), ("SELL", "PUT"), ("NEUTRAL", "NONE")}, seen)
        self.assertTrue({("BUY", "NONE"), ("SELL", "NONE")} & seen, seen)

    def test_trend_up_and_down(self):
        up = analyze(stdin=drift(self.csv_text, 0.01))
        down = analyze(stdin=drift(self.csv_text, -0.01))
        self.assertEqual(up["analysis"]["trend"], "up")
        self.assertEqual(down["analysis"]["trend"], "down")
        self.assertGreater(up["analysis"]["slope_pct"], 0.5)
        self.assertLess(down["analysis"]["slope_pct"], -0.5)
        self.assertGreater(up["analysis"]["trend_strength"], 0)
        # (The consensus need not follow: RSI and stochastics vote against a stretched trend.)
        for out in (up, down):
            self.check_signal_and_binary(out)
        # Nothing above the close of a series rising 1 % a bar: no resistance, printed as null.
        self.assertIsNone(up["analysis"]["resistance"])
        self.assertIsNone(down["analysis"]["support"])

    def test_timeframe(self):
        given = analyze("--timeframe", "1h", self.path)
        self.assertEqual(given["analysis"]["realized_vol"], self.out["analysis"]["realized_vol"])
        self.assertEqual(given, self.out)
        # Another bar length rescales the annualised volatility and the expiry only.
        daily = analyze("--timeframe", "1d", self.path)
        self.assertEqual(daily["timeframe"], "1d")
        self.assertTrue(close_enough(daily["analysis"]["realized_vol"],
                                     self.out["analysis"]["realized_vol"] / math.sqrt(24)))
        self.assertEqual(daily["binary"]["expiry_ms"], EXPIRY_BARS * 24 * HOUR)
        self.assertEqual(daily["indicators"], self.out["indicators"])
        self.assertEqual(daily["signal"], self.out["signal"])

    def test_inferred_timeframe(self):
        # A 2-hour step is none of the six timeframes: null, and the expiry uses the step.
        t0 = int(self.rows[0][0])
        text = HEADER + "\n" + "".join(
            ",".join([str(t0 + i * 2 * HOUR)] + r[1:]) + "\n" for i, r in enumerate(self.rows))
        out = analyze(stdin=text)
        self.assertIsNone(out["timeframe"])
        self.assertEqual(out["binary"]["expiry_ms"], EXPIRY_BARS * 2 * HOUR)
        self.assertTrue(close_enough(out["analysis"]["realized_vol"],
                                     self.out["analysis"]["realized_vol"] / math.sqrt(2)))
        # Other data, other timeframe names.
        self.assertEqual(analyze(stdin=gen("EURUSD", "15m", 80))["timeframe"], "15m")
        self.assertEqual(analyze(stdin=gen("EURUSD", "15m", 80))["binary"]["expiry_ms"],
                         EXPIRY_BARS * 15 * 60000)

    def test_stdin_equals_file(self):
        self.assertEqual(analyze(stdin=self.csv_text), self.out)
        self.assertEqual(analyze("-", stdin=self.csv_text), self.out)
        want = run("analyze", self.path, check=0).stdout
        self.assertEqual(run("analyze", stdin=self.csv_text, check=0).stdout, want)

    def test_help(self):
        p = run("analyze", "--help", check=0)
        self.assertTrue(p.stdout.startswith("usage: cmee analyze"), p.stdout)
        self.assertEqual(p.stderr, "")
        self.assertIn("analyze", run("--help", check=0).stdout)


class Errors(Base):
    def assert_usage_error(self, *args):
        p = run("analyze", *args, stdin="")
        self.assertEqual(p.returncode, 2, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "")
        lines = p.stderr.splitlines()
        self.assertTrue(lines and lines[0].startswith("usage: cmee analyze"), p.stderr)
        self.assertTrue(lines[-1].startswith("cmee: ") and len(lines[-1]) > 8, p.stderr)
        self.assertEqual(sum(1 for line in lines if line.startswith("cmee: ")), 1, p.stderr)
        return lines[-1]

    def assert_failure(self, *args, stdin=None):
        p = run("analyze", *args, stdin=stdin)
        self.assertEqual(p.returncode, 1, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "")
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("cmee: "), p.stderr)
        return lines[0]

    def with_row(self, lineno, edit):
        """The test CSV with line `lineno` (1-based, header = 1) replaced by edit(fields)."""
        lines = self.csv_text.splitlines()
        lines[lineno - 1] = edit(lines[lineno - 1].split(","))
        return "\n".join(lines) + "\n"

    def test_bad_arguments(self):
        f = self.path
        self.assertIn("--frobnicate", self.assert_usage_error("--frobnicate", f))
        self.assertIn("-x", self.assert_usage_error("-x", f))
        self.assertIn("2h", self.assert_usage_error("--timeframe", "2h", f))
        self.assertIn("1H", self.assert_usage_error("--timeframe=1H", f))
        self.assert_usage_error("--timeframe")
        self.assert_usage_error("--timeframe", "1h", "--timeframe", "1h", f)
        self.assertIn(f, self.assert_usage_error(f, f))
        # Checked before the input is read.
        self.assert_usage_error("--timeframe", "2h", os.path.join(self.tmp.name, "missing.csv"))

    def test_too_few_rows(self):
        text = "\n".join(self.csv_text.splitlines()[:60]) + "\n"
        msg = self.assert_failure(stdin=text)
        self.assertIn("60", msg)
        self.assertEqual(msg, "cmee: candles: need at least 60, got 59")
        self.assert_failure(stdin=HEADER + "\n")

    def test_malformed_rows(self):
        msg = self.assert_failure(stdin=self.with_row(42, lambda f: ",".join(f[:4] + ["abc"] +
                                                                             f[5:])))
        self.assertEqual(msg, "cmee: <stdin>:42: close: expected a finite number, got 'abc'")
        path = self.write_file("bad.csv", self.with_row(7, lambda f: ",".join(f[:5])))
        self.assertTrue(self.assert_failure(path).startswith(f"cmee: {path}:7: volume: "))
        msg = self.assert_failure(stdin=self.with_row(3, lambda f: ",".join(["1.5"] + f[1:])))
        self.assertTrue(msg.startswith("cmee: <stdin>:3: time: "), msg)
        self.assertTrue(self.assert_failure(stdin="").startswith("cmee: <stdin>:1: header: "))

    def test_rows_the_analysis_refuses(self):
        # Still named by line and field, though the library finds them.
        msg = self.assert_failure(stdin=self.with_row(9, lambda f: ",".join(f[:4] + ["0"] +
                                                                            f[5:])))
        self.assertTrue(msg.startswith("cmee: <stdin>:9: close: "), msg)
        msg = self.assert_failure(stdin=self.with_row(11, lambda f: ",".join(["5"] + f[1:])))
        self.assertTrue(msg.startswith("cmee: <stdin>:11: time: "), msg)

    def test_unreadable(self):
        missing = os.path.join(self.tmp.name, "missing.csv")
        self.assertIn(missing, self.assert_failure(missing))
        self.assert_failure(self.tmp.name)


def main():
    global BIN
    argv = sys.argv[1:]
    if argv and not argv[0].startswith("-"):
        BIN = argv.pop(0)
    else:
        BIN = os.environ.get("CMEE_BIN")
    if not BIN:
        sys.exit("usage: test_cli_analyze.py CMEE_BINARY [unittest options], or set CMEE_BIN")
    BIN = os.path.abspath(BIN)
    if not os.access(BIN, os.X_OK):
        sys.exit(f"test_cli_analyze.py: {BIN} is not an executable")
    unittest.main(argv=[sys.argv[0], *argv])


if __name__ == "__main__":
    main()
