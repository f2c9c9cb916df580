# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of `cmee ind`: runs the real binary on data from `cmee gen` and checks values.

The binary comes from $CMEE_BIN or the first command-line argument:
    CMEE_BIN=build/examples/cmee python3 tests/cli/test_cli_ind.py
    python3 tests/cli/test_cli_ind.py build/examples/cmee [unittest options]
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

BIN = None

HEADER = "time,open,high,low,close,volume"
# The contract: every indicator, in the library's table order.
NAMES = ["sma", "ema", "wma", "dema", "tema", "rsi", "macd", "bbands", "atr", "natr", "stoch",
         "stochrsi", "adx", "cci", "mom", "roc", "willr", "obv", "sar", "vwap", "stddev"]
OUTPUTS = {"macd": "macd,signal,hist", "bbands": "upper,middle,lower", "stoch": "slowk,slowd",
           "stochrsi": "k,d", "adx": "adx,plus_di,minus_di"}
# Leading undefined rows with the default parameters (TA-Lib's lookbacks).
LOOKBACK = {"sma": 29, "ema": 29, "wma": 29, "dema": 58, "tema": 87, "rsi": 14, "macd": 33,
            "bbands": 4, "atr": 14, "natr": 14, "stoch": 8, "stochrsi": 20, "adx": 27, "cci": 13,
            "willr": 13, "mom": 10, "roc": 10, "obv": 0, "sar": 1, "vwap": 13, "stddev": 4}
# One line of --list: name, KEY=DEFAULT..., " -> ", outputs, two spaces, title.
LIST_LINE = re.compile(r"^([a-z]+)((?: [a-z_]+=\S+)*) -> ([a-z_]+(?:,[a-z_]+)*)  (\S.*)$")


def run(*args, stdin=None, check=None):
    """Run cmee; returns CompletedProcess with text output. check: expected exit code."""
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError(f"cmee {' '.join(args)}: exit {p.returncode}, expected {check}\n"
                             f"stderr: {p.stderr}")
    return p


def ind(*args, stdin=None):
    return run("ind", *args, stdin=stdin, check=0).stdout


def shortest(x):
    """The CLI's rule: the first of %.15g, %.16g, %.17g that reads back as exactly x."""
    for prec in (15, 16, 17):
        s = "%.*g" % (prec, x)
        if float(s) == x:
            return s
    raise AssertionError("unreachable: %.17g always round-trips")


def table(text):
    """Split CSV output into (header, rows of text fields)."""
    lines = text.splitlines()
    return lines[0], [line.split(",") for line in lines[1:]]


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.csv_text = run("gen", "--symbol", "BTCUSD", "--timeframe", "1h", "--count", "500",
                           "--end", "2030-03-01T00:00:00Z", check=0).stdout
        cls.path = os.path.join(cls.tmp.name, "btc.csv")
        with open(cls.path, "w") as f:
            f.write(cls.csv_text)
        _, rows = table(cls.csv_text)
        cls.times = [r[0] for r in rows]
        cls.close = [float(r[4]) for r in rows]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path


class Output(Base):
    def test_headers(self):
        for name in ("sma", "macd", "bbands", "stoch", "stochrsi", "adx", "obv", "sar"):
            with self.subTest(name=name):
                header, _ = table(ind(name, self.path))
                self.assertEqual(header, "time," + OUTPUTS.get(name, name))

    def test_every_indicator_shape_lookback_and_numbers(self):
        for name in NAMES:
            with self.subTest(name=name):
                out = ind(name, self.path)
                self.assertTrue(out.endswith("\n"))
                header, rows = table(out)
                ncol = len(OUTPUTS.get(name, name).split(","))
                self.assertEqual(header, "time," + OUTPUTS.get(name, name))
                self.assertEqual(len(rows), len(self.times))
                self.assertEqual([r[0] for r in rows], self.times)
                lb = LOOKBACK[name]
                for i, r in enumerate(rows):
                    self.assertEqual(len(r), 1 + ncol, f"row {i}")
                    if i < lb:
                        self.assertEqual(r[1:], [""] * ncol, f"row {i} is inside the lookback")
                        continue
                    for s in r[1:]:
                        self.assertNotEqual(s, "", f"row {i} is past the lookback {lb}")
                        # Reads back to a double that re-prints identically under the same rule.
                        self.assertEqual(shortest(float(s)), s, f"row {i}: {s!r}")

    def test_sma_values(self):
        _, rows = table(ind("sma", "period=3", self.path))
        c = self.close
        # TA-Lib's running sum: add the newest, output, then drop the oldest.
        total, want = 0.0, []
        for i, x in enumerate(c):
            total += x
            if i >= 2:
                want.append(total / 3)
                total -= c[i - 2]
        self.assertEqual([r[1] for r in rows[:2]], ["", ""])
        for i, (r, w) in enumerate(zip(rows[2:], want), start=2):
            got = float(r[1])
            self.assertLessEqual(abs(got - w), 1e-12 * abs(w), f"row {i}: {got} != {w}")
            # And close to the plain three-term mean.
            self.assertAlmostEqual(got, (c[i] + c[i - 1] + c[i - 2]) / 3, delta=1e-9 * abs(w))

    def test_ema_and_rsi_sanity(self):
        _, rows = table(ind("ema", "period=10", self.path))
        c = self.close
        prev = sum(c[:10]) / 10       # seeded with the SMA of the first period
        k = 2 / 11
        for i in range(9, len(c)):
            if i > 9:
                prev = (c[i] - prev) * k + prev
            got = float(rows[i][1])
            self.assertLessEqual(abs(got - prev), 1e-9 * abs(prev), f"row {i}")
            self.assertTrue(min(c[:i + 1]) <= got <= max(c[:i + 1]), f"row {i}")
        _, rows = table(ind("rsi", self.path))
        values = [float(r[1]) for r in rows[LOOKBACK["rsi"]:]]
        self.assertTrue(all(0 <= v <= 100 for v in values))
        self.assertGreater(max(values) - min(values), 10, "an RSI that never moves is suspicious")

    def test_stdin(self):
        want = ind("macd", "fast=5", self.path)
        self.assertEqual(ind("macd", "fast=5", "-", stdin=self.csv_text), want)
        self.assertEqual(ind("macd", "fast=5", stdin=self.csv_text), want)

    def test_params(self):
        default = ind("sma", self.path)
        ten = ind("sma", "period=10", self.path)
        self.assertNotEqual(ten, default)
        self.assertEqual(ind("sma", "period=30", self.path), default)
        # The library accepts a whole-number double for an integer parameter.
        self.assertEqual(ind("sma", "period=10.0", self.path), ten)
        self.assertEqual(ind("sma", "period=1e1", self.path), ten)
        self.assertEqual(sum(1 for r in table(ten)[1] if r[1] == ""), 9)
        # Parameters in any order; omitted ones keep their defaults.
        self.assertEqual(ind("macd", "signal=9", "fast=12", self.path), ind("macd", self.path))
        self.assertNotEqual(ind("sar", "accel=0.03", self.path), ind("sar", self.path))
        self.assertNotEqual(ind("bbands", "up=1.5", self.path), ind("bbands", self.path))

    def test_crlf_and_no_trailing_newline(self):
        want = ind("atr", self.path)
        crlf = self.write("crlf.csv", self.csv_text.replace("\n", "\r\n"))
        self.assertEqual(ind("atr", crlf), want)
        bare = self.write("bare.csv", self.csv_text.rstrip("\n"))
        self.assertEqual(ind("atr", bare), want)

    def test_header_only_and_short_input(self):
        self.assertEqual(ind("macd", stdin=HEADER + "\n"), "time,macd,signal,hist\n")
        short = "\n".join(self.csv_text.splitlines()[:6]) + "\n"
        _, rows = table(ind("sma", stdin=short))
        self.assertEqual([r[1] for r in rows], [""] * 5)

    def test_time_echoed_as_read(self):
        # Times need not come from gen: any integer ms, echoed character for character.
        lines = self.csv_text.splitlines()[:4]
        text = "\n".join([lines[0]] + ["%s,%s" % (t, ln.split(",", 1)[1])
                                       for t, ln in zip(["-5", "0007", "9223372036854775807"],
                                                        lines[1:])]) + "\n"
        _, rows = table(ind("obv", stdin=text))
        self.assertEqual([r[0] for r in rows], ["-5", "0007", "9223372036854775807"])

    def test_larger_input(self):
        # Many doublings of the read buffer; the output stays aligned row for row.
        text = run("gen", "--symbol", "ETHUSD", "--timeframe", "1m", "--count", "200000",
                   "--end", "2030-03-01T00:00:00Z", check=0).stdout
        out = ind("obv", stdin=text)
        lines = out.splitlines()
        self.assertEqual(len(lines), 200001)
        self.assertEqual(lines[-1].split(",")[0], text.splitlines()[-1].split(",")[0])


class List(unittest.TestCase):
    def test_list(self):
        p = run("ind", "--list", check=0)
        self.assertEqual(p.stderr, "")
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 21)
        parsed = {}
        for line in lines:
            m = LIST_LINE.match(line)
            self.assertIsNotNone(m, line)
            parsed[m.group(1)] = (m.group(2).strip(), m.group(3))
        self.assertEqual(list(parsed), NAMES)
        self.assertEqual(parsed["macd"], ("fast=12 slow=26 signal=9", "macd,signal,hist"))
        self.assertEqual(parsed["sar"], ("accel=0.02 max=0.2", "sar"))
        self.assertEqual(parsed["bbands"], ("period=5 up=2 down=2", "upper,middle,lower"))
        self.assertEqual(parsed["stoch"][0], "k=5 slowk=3 slowd=3")
        self.assertEqual(parsed["stochrsi"][0], "period=14 k=5 d=3")
        self.assertEqual(parsed["obv"], ("", "obv"))
        for name in NAMES:
            self.assertEqual(parsed[name][1], OUTPUTS.get(name, name))
        self.assertTrue(any(line.startswith("macd ") and "Convergence" in line for line in lines))

    def test_help(self):
        for args in (["ind", "--help"], ["ind", "-h"], ["ind", "sma", "--help"]):
            with self.subTest(args=args):
                p = run(*args, check=0)
                self.assertTrue(p.stdout.startswith("usage: cmee ind"), p.stdout)
                self.assertEqual(p.stderr, "")
        self.assertIn("ind", run("--help", check=0).stdout)


class BadArguments(Base):
    def assert_usage_error(self, *args):
        p = run("ind", *args, stdin="")
        self.assertEqual(p.returncode, 2, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "")
        lines = p.stderr.splitlines()
        self.assertTrue(lines and lines[0].startswith("usage: cmee ind"), p.stderr)
        self.assertTrue(lines[-1].startswith("cmee: ") and len(lines[-1]) > 8, p.stderr)
        self.assertEqual(sum(1 for line in lines if line.startswith("cmee: ")), 1, p.stderr)
        return lines[-1]

    def test_cases(self):
        f = self.path
        cases = {
            "no name": [],
            "unknown name": ["nope", f],
            "name is case-sensitive": ["SMA", f],
            "unknown key": ["sma", "length=10", f],
            "key of another indicator": ["sma", "fast=10", f],
            "key for obv": ["obv", "period=3", f],
            "duplicate key": ["sma", "period=10", "period=10", f],
            "non-numeric value": ["sma", "period=abc", f],
            "empty value": ["sma", "period=", f],
            "empty key": ["sma", "=10", f],
            "value with junk": ["sma", "period=10x", f],
            "nan value": ["sar", "accel=nan", f],
            "hex value": ["sma", "period=0x10", f],
            "period zero": ["sma", "period=0", f],
            "period not whole": ["sma", "period=10.5", f],
            "period too large": ["ema", "period=100001", f],
            "sar accel out of range": ["sar", "accel=2", f],
            "parameter after file": ["sma", f, "period=3"],
            "two files": ["sma", f, f],
            "unknown option": ["sma", "--frobnicate", f],
            "list with name": ["--list", "sma"],
        }
        for name, args in cases.items():
            with self.subTest(case=name):
                self.assert_usage_error(*args)

    def test_reason_names_the_problem(self):
        self.assertIn("nope", self.assert_usage_error("nope", self.path))
        self.assertIn("length", self.assert_usage_error("sma", "length=10", self.path))
        self.assertIn("period", self.assert_usage_error("sma", "period=1", "period=2", self.path))
        self.assertIn("abc", self.assert_usage_error("sma", "period=abc", self.path))
        # Out of range: the library's own text.
        self.assertEqual(self.assert_usage_error("sma", "period=0", self.path),
                         "cmee: period: sma must be in [1, 100000], got 0")
        self.assertIn("accel", self.assert_usage_error("sar", "accel=2", self.path))

    def test_checked_before_reading(self):
        # A bad parameter is reported even when the input is missing or malformed.
        self.assert_usage_error("sma", "period=0", os.path.join(self.tmp.name, "missing.csv"))


class BadInput(Base):
    def assert_failure(self, *args, stdin=None, words=()):
        p = run("ind", *args, stdin=stdin)
        self.assertEqual(p.returncode, 1, f"{args}: stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "")
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("cmee: "), p.stderr)
        for w in words:
            self.assertIn(w, lines[0])
        return lines[0]

    def with_row(self, lineno, edit):
        """The test CSV with line `lineno` (1-based, header = 1) replaced by edit(fields)."""
        lines = self.csv_text.splitlines()
        lines[lineno - 1] = edit(lines[lineno - 1].split(","))
        return "\n".join(lines) + "\n"

    def test_missing_file(self):
        missing = os.path.join(self.tmp.name, "missing.csv")
        self.assert_failure("sma", missing, words=[missing])

    def test_directory(self):
        self.assert_failure("sma", self.tmp.name)

    def test_empty_input(self):
        msg = self.assert_failure("sma", stdin="", words=[":1:"])
        self.assertTrue(msg.startswith("cmee: <stdin>:1: header: "), msg)
        self.assert_failure("sma", self.write("empty.csv", ""), words=["empty.csv:1:"])

    def test_bad_header(self):
        path = self.write("hdr.csv", self.csv_text.replace("volume", "vol", 1))
        msg = self.assert_failure("sma", path)
        self.assertTrue(msg.startswith(f"cmee: {path}:1: header: "), msg)
        self.assert_failure("sma", stdin=self.csv_text.split("\n", 1)[1], words=[":1: header"])

    def test_bad_close(self):
        text = self.with_row(42, lambda f: ",".join(f[:4] + ["abc"] + f[5:]))
        msg = self.assert_failure("sma", self.write("close.csv", text))
        self.assertTrue(msg.endswith("close.csv:42: close: expected a finite number, got 'abc'"),
                        msg)

    def test_too_few_and_too_many_fields(self):
        msg = self.assert_failure("sma", stdin=self.with_row(7, lambda f: ",".join(f[:5])))
        self.assertTrue(msg.startswith("cmee: <stdin>:7: volume: "), msg)
        msg = self.assert_failure("sma", stdin=self.with_row(7, lambda f: ",".join(f[:3])))
        self.assertTrue(msg.startswith("cmee: <stdin>:7: low: "), msg)
        self.assert_failure("sma", stdin=self.with_row(8, lambda f: ",".join(f + ["1"])),
                            words=["<stdin>:8:"])

    def test_non_finite_fields(self):
        for bad in ("nan", "NaN", "inf", "-inf", "1e999", ""):
            with self.subTest(value=bad):
                text = self.with_row(3, lambda f: ",".join(f[:1] + [bad] + f[2:]))
                self.assert_failure("obv", stdin=text, words=["<stdin>:3: open: "])

    def test_every_field_is_checked(self):
        # Even a field the indicator does not read (obv reads close and volume).
        text = self.with_row(5, lambda f: ",".join(f[:2] + ["x"] + f[3:]))
        self.assert_failure("obv", stdin=text, words=["<stdin>:5: high: "])

    def test_bad_time(self):
        for bad in ("1.5", "2030-03-01T00:00:00Z", "", "9223372036854775808", " 1"):
            with self.subTest(value=bad):
                text = self.with_row(2, lambda f: ",".join([bad] + f[1:]))
                self.assert_failure("obv", stdin=text, words=["<stdin>:2: time: "])

    def test_blank_line(self):
        self.assert_failure("sma", stdin=self.csv_text + "\n", words=["<stdin>:502: "])
        lines = self.csv_text.splitlines()
        self.assert_failure("sma", stdin="\n".join(lines[:3] + [""] + lines[3:]) + "\n",
                            words=["<stdin>:4: "])


def main():
    global BIN
    argv = sys.argv[1:]
    if argv and not argv[0].startswith("-"):
        BIN = argv.pop(0)
    else:
        BIN = os.environ.get("CMEE_BIN")
    if not BIN:
        sys.exit("usage: test_cli_ind.py CMEE_BINARY [unittest options], or set CMEE_BIN")
    BIN = os.path.abspath(BIN)
    if not os.access(BIN, os.X_OK):
        sys.exit(f"test_cli_ind.py: {BIN} is not an executable")
    unittest.main(argv=[sys.argv[0], *argv])


if __name__ == "__main__":
    main()
