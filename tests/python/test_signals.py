# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the cmee Python bindings' signals face: indicators, streams, signals, binary
signals, analysis, evaluation, and the ctypes mirrors of the C structures.

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_signals
The comparison with `cmee ind` uses $CMEE_BIN, else the `cmee` next to the library's build
directory (<build>/examples/cmee), else it is skipped. The layout check against the C headers
compiles a small C program when a C compiler ($CC or cc) and the headers are found, else it is
skipped (the ctypes sizes are still checked against the x86-64 / LP64 figures).
"""

import ctypes
import dataclasses
import math
import os
import pydoc
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from array import array

import cmee
from cmee_testutil import cli_binary
from cmee import _lib
from cmee import signals as S

MAR_2030 = 1_898_553_600_000         # 2030-03-01T00:00:00Z
H = 3_600_000
FIELDS = ("time", "open", "high", "low", "close", "volume")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The contract: every indicator in the library's table order, with its outputs as `cmee ind`
# names them and its lookback with the default parameters (TA-Lib's).
NAMES = ["sma", "ema", "wma", "dema", "tema", "rsi", "macd", "bbands", "atr", "natr", "stoch",
         "stochrsi", "adx", "cci", "mom", "roc", "willr", "obv", "sar", "vwap", "stddev"]
OUTPUTS = {"macd": ("macd", "signal", "hist"), "bbands": ("upper", "middle", "lower"),
           "stoch": ("slowk", "slowd"), "stochrsi": ("k", "d"),
           "adx": ("adx", "plus_di", "minus_di")}
LOOKBACK = {"sma": 29, "ema": 29, "wma": 29, "dema": 58, "tema": 87, "rsi": 14, "macd": 33,
            "bbands": 4, "atr": 14, "natr": 14, "stoch": 8, "stochrsi": 20, "adx": 27, "cci": 13,
            "willr": 13, "mom": 10, "roc": 10, "obv": 0, "sar": 1, "vwap": 13, "stddev": 4}
# `cmee ind --list` (docs/cli.md): parameters and defaults.
PARAMS = {"sma": {"period": 30}, "macd": {"fast": 12, "slow": 26, "signal": 9},
          "bbands": {"period": 5, "up": 2, "down": 2}, "stoch": {"k": 5, "slowk": 3, "slowd": 3},
          "stochrsi": {"period": 14, "k": 5, "d": 3}, "obv": {}, "sar": {"accel": 0.02, "max": 0.2},
          "vwap": {"period": 14}, "stddev": {"period": 5}}
SIGNAL_DEFAULTS = dict(rsi_period=14, rsi_overbought=70, rsi_oversold=30, macd_fast=12,
                       macd_slow=26, macd_signal=9, ma_fast=9, ma_slow=21, bb_period=20,
                       bb_k=2, squeeze_quantile=0.1, stoch_k=14, stoch_slowk=3, stoch_slowd=3,
                       stoch_overbought=80, stoch_oversold=20, adx_period=14, adx_trend=25,
                       cross_bars=3, threshold=0.2)




def same(a, b):
    """Bit-for-bit equality of two double sequences (NaN equals NaN)."""
    return array("d", a).tobytes() == array("d", b).tobytes()


def columns(c):
    """The fields of Candles as a dict of plain lists."""
    return {f: list(getattr(c, f)) for f in FIELDS}


class Data(unittest.TestCase):
    """500 BTCUSD 1h candles ending 2030-03-01, shared by the tests (read-only)."""

    @classmethod
    def setUpClass(cls):
        cls.m = cmee.Market(seed=42)
        cls.c = cls.m.candles("BTCUSD", "1h", count=500, end=MAR_2030)

    @classmethod
    def tearDownClass(cls):
        cls.m.close()


class TestContract(unittest.TestCase):
    def test_macd_example(self):
        with cmee.Market(seed=42) as m:
            c = m.candles("BTCUSD", "1h", count=500)
        out = cmee.indicator("macd", c, fast=12, slow=26, signal=9)
        self.assertIsInstance(out, dict)
        self.assertEqual(list(out), ["macd", "signal", "hist"])
        for name, buf in out.items():
            with self.subTest(output=name):
                self.assertIsInstance(buf, array)
                self.assertEqual(buf.typecode, "d")
                self.assertEqual(len(buf), len(c))
                self.assertTrue(all(math.isnan(v) for v in buf[:33]))
                self.assertTrue(all(math.isfinite(v) for v in buf[33:]))
        for i in range(33, len(c)):
            self.assertEqual(out["hist"][i], out["macd"][i] - out["signal"][i])
        # The defaults are 12/26/9: the same numbers without parameters.
        self.assertTrue(all(same(v, cmee.indicator("macd", c)[k]) for k, v in out.items()))

    def test_exports(self):
        for name in ("indicator", "indicators", "Stream", "SignalConfig", "BinaryConfig",
                     "EvalConfig", "signal", "SignalContext", "binary", "analyze", "evaluate",
                     "Signal", "Reason", "BinarySignal", "Analysis", "EvalResult",
                     "IndicatorInfo", "lookback", "RULES"):
            with self.subTest(name=name):
                self.assertIn(name, cmee.__all__)
                self.assertIs(getattr(cmee, name), getattr(S, name))

    def test_docstrings_and_pydoc(self):
        for name in S.__all__:
            obj = getattr(S, name)
            if callable(obj):
                with self.subTest(name=name):
                    self.assertTrue((obj.__doc__ or "").strip(), name)
        text = pydoc.render_doc(cmee, renderer=pydoc.plaintext)
        for word in ("indicator(name", "class Stream", "class SignalConfig",
                     "NaN for the first", "evaluate(candles", "class SignalContext"):
            self.assertIn(word, text)


class TestIndicators(Data):
    def test_table(self):
        infos = cmee.indicators()
        self.assertEqual([i.name for i in infos], NAMES)
        self.assertEqual([i.id for i in infos], list(range(len(NAMES))))
        for info in infos:
            with self.subTest(name=info.name):
                self.assertIsInstance(info, cmee.IndicatorInfo)
                self.assertEqual(info.outputs, OUTPUTS.get(info.name, (info.name,)))
                self.assertTrue(info.title)
                self.assertTrue(set(info.inputs) <= set(S.INPUTS))
                if info.name in PARAMS:
                    self.assertEqual(info.params, PARAMS[info.name])
                for k, default in info.params.items():
                    lo, hi = info.ranges[k]
                    self.assertTrue(lo <= default <= hi)
                    self.assertIs(type(default), int if k in info.integer else float)
                self.assertIs(cmee.indicator_info(info.name), info)
        sma = cmee.indicator_info("sma")
        with self.assertRaises(TypeError):
            sma.params["period"] = 3            # read-only: the defaults cannot be changed
        self.assertEqual(sma.ranges["period"], (1, 100000))
        self.assertEqual(sma.integer, {"period"})
        self.assertIn("params={'period': 30}", repr(sma))
        self.assertEqual(cmee.indicator_info("atr").inputs, ("high", "low", "close"))
        self.assertEqual(cmee.indicator_info("obv").inputs, ("close", "volume"))
        self.assertEqual(cmee.indicator_info("vwap").inputs, ("high", "low", "close", "volume"))

    def test_every_indicator_with_defaults(self):
        n = len(self.c)
        for info in cmee.indicators():
            with self.subTest(name=info.name):
                out = cmee.indicator(info.name, self.c)
                self.assertEqual(tuple(out), info.outputs)
                lb = LOOKBACK[info.name]
                self.assertEqual(cmee.lookback(info.name), lb)
                for k, buf in out.items():
                    self.assertEqual(len(buf), n, k)
                    nan = [i for i, v in enumerate(buf) if math.isnan(v)]
                    self.assertEqual(nan, list(range(lb)), f"{k}: NaN exactly in the lookback")
                    self.assertTrue(all(math.isfinite(v) for v in buf[lb:]), k)

    def test_sma_running_sum_exact(self):
        c = list(self.c.close)
        got = cmee.indicator("sma", self.c, period=3)["sma"]
        # TA-Lib's running sum: add the newest, output, then drop the oldest.
        total, want = 0.0, [math.nan, math.nan]
        for i, x in enumerate(c):
            total += x
            if i >= 2:
                want.append(total / 3)
                total -= c[i - 2]
        self.assertTrue(same(got, want))
        self.assertEqual(cmee.lookback("sma", period=3), 2)

    def test_values_are_sane(self):
        c = self.c
        rsi = cmee.indicator("rsi", c)["rsi"][14:]
        self.assertTrue(all(0 <= v <= 100 for v in rsi))
        bb = cmee.indicator("bbands", c, period=20, up=2, down=2)
        for i in range(19, len(c)):
            self.assertLessEqual(bb["lower"][i], bb["middle"][i])
            self.assertLessEqual(bb["middle"][i], bb["upper"][i])
        mom = cmee.indicator("mom", c, period=5)["mom"]
        close = c.close
        for i in range(5, len(c)):
            self.assertEqual(mom[i], close[i] - close[i - 5])
        obv = cmee.indicator("obv", c)["obv"]
        self.assertEqual(obv[0], c.volume[0])

    def test_input_forms_agree(self):
        c = self.c
        ref = cmee.indicator("adx", c)
        cols = columns(c)

        class Obj:
            pass

        obj = Obj()
        for f in FIELDS:
            setattr(obj, f, array("d", cols[f]) if f != "time" else cols[f])
        tuples = {f: tuple(v) for f, v in cols.items()}
        for form in (cols, obj, tuples, {f: memoryview(array("d", cols[f])) for f in FIELDS[1:]}):
            with self.subTest(form=type(form).__name__):
                out = cmee.indicator("adx", form)
                self.assertTrue(all(same(out[k], ref[k]) for k in ref))
        # Close-only indicators take a plain sequence of closes, in any numeric form.
        ref = cmee.indicator("ema", c, period=10)["ema"]
        closes = cols["close"]
        for form in (closes, tuple(closes), array("d", closes), memoryview(array("d", closes)),
                     c.close, (ctypes.c_double * len(closes))(*closes)):
            with self.subTest(form=type(form).__name__):
                self.assertTrue(same(cmee.indicator("ema", form, period=10)["ema"], ref))
        ints = [int(x) for x in closes]
        self.assertTrue(same(cmee.indicator("sma", ints)["sma"],
                             cmee.indicator("sma", array("i", ints))["sma"]))

    def test_candles_fields_are_not_copied(self):
        close = self.c.close
        self.assertEqual(S._Doubles(close, "close").address, close.obj.buffer_info()[0])
        a = array("d", [1.0, 2.0, 3.0])
        self.assertEqual(S._Doubles(a, "a").address, a.buffer_info()[0])
        self.assertNotEqual(S._Doubles([1.0, 2.0], "l").address, 0)

    def test_short_and_empty_series(self):
        out = cmee.indicator("sma", [1.0, 2.0, 3.0])
        self.assertEqual(len(out["sma"]), 3)
        self.assertTrue(all(math.isnan(v) for v in out["sma"]))
        self.assertEqual(cmee.indicator("sma", [], period=2), {"sma": array("d")})
        out = cmee.indicator("macd", [])
        self.assertEqual({k: len(v) for k, v in out.items()}, {"macd": 0, "signal": 0, "hist": 0})
        self.assertEqual(list(cmee.indicator("sma", [5.0], period=1)["sma"]), [5.0])

    def test_matches_cli(self):
        binary = cli_binary()
        if binary is None:
            self.skipTest("no cmee binary (set CMEE_BIN)")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "btc.csv")
            with open(path, "w") as f:
                f.write(self.c.to_csv())
            cases = [(n, {}) for n in NAMES] + [("sma", {"period": 3}),
                                                ("macd", {"fast": 5, "slow": 35, "signal": 5}),
                                                ("sar", {"accel": 0.01, "max": 0.1})]
            for name, params in cases:
                with self.subTest(name=name, params=params):
                    args = [f"{k}={v}" for k, v in params.items()]
                    p = subprocess.run([binary, "ind", name, *args, path], capture_output=True,
                                       text=True, timeout=60, check=True)
                    lines = p.stdout.splitlines()
                    out = cmee.indicator(name, self.c, **params)
                    self.assertEqual(lines[0], ",".join(("time",) + tuple(out)))
                    rows = [line.split(",") for line in lines[1:]]
                    self.assertEqual(len(rows), len(self.c))
                    for k, key in enumerate(out, start=1):
                        want = [float(r[k]) if r[k] else math.nan for r in rows]
                        self.assertTrue(same(out[key], want), key)
                        self.assertEqual(out[key][-1], float(rows[-1][k]))


class TestStream(Data):
    def run_stream(self, name, bars, **params):
        with cmee.Stream(name, **params) as s:
            vals = [s.update(b) for b in bars]
        k = len(s.outputs)
        if k == 1:
            return {s.outputs[0]: vals}
        return {o: [v[j] for v in vals] for j, o in enumerate(s.outputs)}

    def test_stream_equals_batch(self):
        for info in cmee.indicators():
            with self.subTest(name=info.name):
                batch = cmee.indicator(info.name, self.c)
                stream = self.run_stream(info.name, self.c)
                self.assertEqual(tuple(stream), tuple(batch))
                for k in batch:
                    self.assertTrue(same(stream[k], batch[k]), k)

    def test_stream_with_params_and_reset(self):
        for name, params in (("macd", {"fast": 5, "slow": 13, "signal": 4}),
                             ("stoch", {"k": 9, "slowk": 2, "slowd": 4}),
                             ("sar", {"accel": 0.03, "max": 0.3}), ("cci", {"period": 20})):
            with self.subTest(name=name):
                batch = cmee.indicator(name, self.c, **params)
                with cmee.Stream(name, **params) as s:
                    for bar in self.c[:123]:
                        s.update(bar)
                    s.reset()
                    vals = [s.update(bar) for bar in self.c]
                for j, k in enumerate(batch):
                    self.assertTrue(same([v[j] if isinstance(v, tuple) else v for v in vals],
                                         batch[k]), k)

    def test_bar_forms(self):
        bar = self.c[0]
        forms = [bar, tuple(bar), list(bar), bar[1:], bar._asdict(),
                 {"high": bar.high, "low": bar.low, "close": bar.close},
                 _lib.cmee_candle(*bar)]
        for form in forms:
            with self.subTest(form=form):
                with cmee.Stream("willr", period=1) as s:
                    self.assertEqual(s.update(form), cmee.indicator(
                        "willr", self.c[:1], period=1)["willr"][0])
                    self.assertEqual(s.update(form),
                                     (bar.high - bar.close) / (bar.high - bar.low) * -100)
        with cmee.Stream("sma", period=2) as s:
            self.assertTrue(math.isnan(s.update(1)))
            self.assertEqual(s.update(2.0), 1.5)
            self.assertEqual(s.update({"close": 4}), 3.0)
        with cmee.Stream("macd") as s:
            out = s.update(100.0)
            self.assertIsInstance(out, tuple)
            self.assertEqual(len(out), 3)
            self.assertEqual(s.outputs, ("macd", "signal", "hist"))
            self.assertEqual(s.params, {"fast": 12, "slow": 26, "signal": 9})

    def test_stream_errors(self):
        s = cmee.Stream("atr")
        self.addCleanup(s.close)
        s.update(self.c[0])
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            s.update({"high": 2.0, "low": math.nan, "close": 1.5})
        self.assertIn("low", str(cm.exception))
        with self.assertRaises(TypeError):
            s.update(1.5)               # ATR reads high and low too
        with self.assertRaises(TypeError):
            s.update({"high": 1.0, "low": 1.0})
        with self.assertRaises(TypeError):
            s.update("bar")
        with self.assertRaises(TypeError):
            s.update((1.0, 2.0, 3.0))
        with self.assertRaises(TypeError):
            s.update((1.0, "x", 0.5, 1.0, 1.0))
        # A refused bar leaves the stream unchanged: the same values as a clean stream.
        rest = [s.update(b) for b in self.c[1:40]]
        self.assertTrue(same(rest, cmee.indicator("atr", self.c[:40])["atr"][1:]))
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.Stream("rsi", period=0)
        self.assertIn("period", str(cm.exception))
        with self.assertRaises(cmee.NotFoundError):
            cmee.Stream("nope")

    def test_closed_stream(self):
        s = cmee.Stream("rsi")
        s.update(1.0)
        s.close()
        s.close()                       # idempotent
        self.assertTrue(s.closed)
        with self.assertRaises(cmee.Error) as cm:
            s.update(2.0)
        self.assertIsInstance(cm.exception, cmee.StateError)
        with self.assertRaises(cmee.StateError):
            s.reset()
        with cmee.Stream("ema") as t:
            pass
        with self.assertRaises(cmee.Error):
            t.update(1.0)
        self.assertIn("closed", repr(t))

    def test_threads_share_a_stream(self):
        s = cmee.Stream("sma", period=3)
        self.addCleanup(s.close)
        errors = []

        def feed():
            try:
                for _ in range(2000):
                    s.update(1.0)
            except Exception as e:      # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=feed) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(s.update(1.0), 1.0)


class TestSignals(Data):
    def check_signal(self, s, index=None):
        self.assertIsInstance(s, cmee.Signal)
        self.assertIn(s.direction, ("BUY", "SELL", "NEUTRAL"))
        self.assertTrue(-1 <= s.score <= 1)
        self.assertTrue(0 <= s.strength <= 1)
        self.assertEqual(s.strength, abs(s.score))
        if index is not None:
            self.assertEqual(s.index, index)
            self.assertEqual(s.time, self.c[index].time)
        self.assertIsInstance(s.time, int)
        if s.direction == "BUY":
            self.assertGreaterEqual(s.score, 0.2)
        elif s.direction == "SELL":
            self.assertLessEqual(s.score, -0.2)
        else:
            self.assertLess(abs(s.score), 0.2)
        rules = [r.rule for r in s.reasons]
        self.assertEqual(rules, sorted(rules, key=cmee.RULES.index))
        for r in s.reasons:
            self.assertIsInstance(r, cmee.Reason)
            self.assertIn(r.rule, cmee.RULES)
            self.assertTrue(-1 <= r.vote <= 1)
            self.assertEqual(r.weight, 1.0)
            self.assertTrue(r.text)
            if r.rule == "squeeze":
                self.assertEqual(r.vote, 0)
            else:
                self.assertNotEqual(r.vote, 0)

    def test_rules(self):
        self.assertEqual(cmee.RULES, ("rsi", "macd", "ma_cross", "bbands", "squeeze", "stoch",
                                      "adx"))

    def test_signal(self):
        s = cmee.signal(self.c)
        self.check_signal(s, len(self.c) - 1)
        self.assertEqual(cmee.signal(self.c, cmee.SignalConfig()), s)
        # Other forms of the same candles give the same signal.
        self.assertEqual(cmee.signal(columns(self.c)), s)
        self.assertEqual(cmee.signal(list(self.c)), s)
        self.assertEqual(cmee.signal([tuple(b) for b in self.c]), s)
        arr = (_lib.cmee_candle * len(self.c))(*[_lib.cmee_candle(*b) for b in self.c])
        self.assertEqual(cmee.signal(arr), s)

    def test_context(self):
        with cmee.SignalContext(self.c) as ctx:
            self.assertEqual(len(ctx), len(self.c))
            self.assertEqual(ctx.at(-1), cmee.signal(self.c))
            self.assertEqual(ctx[len(self.c) - 1], ctx.at(-1))
            seen = set()
            for i, s in enumerate(ctx):
                self.check_signal(s, i)
                seen.add(s.direction)
                seen.update(r.rule for r in s.reasons)
            # No look-ahead: the signal at bar i is the signal of the first i + 1 bars.
            for i in (60, 137, 250, 499):
                self.assertEqual(ctx.at(i), cmee.signal(self.c[:i + 1]))
            self.assertEqual(len(ctx[10:20]), 10)
            with self.assertRaises(IndexError):
                ctx.at(len(self.c))
            with self.assertRaises(IndexError):
                ctx.at(-len(self.c) - 1)
            with self.assertRaises(TypeError):
                ctx.at(1.5)
        self.assertTrue({"BUY", "SELL", "NEUTRAL"} <= seen, seen)
        self.assertTrue(set(cmee.RULES) <= seen, seen)   # every rule spoke somewhere
        self.assertTrue(ctx.closed)
        with self.assertRaises(cmee.StateError):
            ctx.at(0)
        self.assertEqual(len(cmee.SignalContext([])), 0)

    def test_config(self):
        cfg = cmee.SignalConfig(weight={"rsi": 0, "bbands": 0, "squeeze": 0, "stoch": 0})
        self.assertEqual(cfg.weight["macd"], 1.0)
        with cmee.SignalContext(self.c, cfg) as ctx:
            for s in ctx:
                self.assertTrue({r.rule for r in s.reasons} <= {"macd", "ma_cross", "adx"})
        s = cmee.signal(self.c)
        loose = cmee.signal(self.c, cmee.SignalConfig(threshold=s.strength / 2))
        self.assertEqual(loose.score, s.score)
        self.assertEqual(loose.direction, "BUY" if s.score > 0 else "SELL")
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.signal(self.c, cmee.SignalConfig(threshold=0.0))
        self.assertEqual(cm.exception.field, "threshold")
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.signal(self.c, cmee.SignalConfig(macd_fast=30, macd_slow=26))
        self.assertIn("macd", cm.exception.field)
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.signal(self.c, cmee.SignalConfig(weight={"volume": 1}))
        with self.assertRaises(TypeError):
            cmee.signal(self.c, cmee.SignalConfig(rsi_period=14.5))
        with self.assertRaises(TypeError):
            cmee.signal(self.c, cmee.SignalConfig(rsi_overbought="70"))
        with self.assertRaises(TypeError):
            cmee.signal(self.c, {"rsi_period": 14})

    def test_binary(self):
        bcfg = cmee.BinaryConfig()
        n_call = n_put = 0
        with cmee.SignalContext(self.c) as ctx:
            for s in ctx:
                b = cmee.binary(s, "1h")
                self.assertIsInstance(b, cmee.BinarySignal)
                self.assertEqual(b, cmee.binary(s, H, bcfg))
                strong = s.strength >= 0.3
                want = {"BUY": "CALL", "SELL": "PUT"}.get(s.direction) if strong else None
                self.assertEqual(b.direction, want or "NONE")
                if b.direction == "NONE":
                    self.assertEqual(b.confidence, 0)
                else:
                    self.assertEqual(b.confidence, 0.5 + s.strength / 2)
                    self.assertTrue(0.5 <= b.confidence <= 1)
                n_call += b.direction == "CALL"
                n_put += b.direction == "PUT"
                self.assertEqual(b.time, s.time)
                self.assertEqual(b.expiry_ms, 5 * H)
                self.assertEqual(b.expiry_time, b.time + b.expiry_ms)
        self.assertGreater(n_call, 0)
        self.assertGreater(n_put, 0)
        s = cmee.signal(self.c)
        b = cmee.binary(s, None, cmee.BinaryConfig(expiry_ms=90_000))
        self.assertEqual(b.expiry_ms, 90_000)
        self.assertEqual(cmee.binary(s, "15m", cmee.BinaryConfig(expiry_bars=2)).expiry_ms,
                         30 * 60_000)
        strong = dataclasses.replace(s, direction="SELL", score=-0.9, strength=0.9)
        self.assertEqual(cmee.binary(strong, "1h").direction, "PUT")
        self.assertEqual(cmee.binary(strong, "1h").confidence, 0.95)
        weak = dataclasses.replace(strong, score=-0.25, strength=0.25)
        self.assertEqual(cmee.binary(weak, "1h").direction, "NONE")
        self.assertEqual(cmee.binary(weak, "1h", cmee.BinaryConfig(min_strength=0.2)).direction,
                         "PUT")
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.binary(s, 0)
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.binary(s, "1h", cmee.BinaryConfig(min_strength=1.5))
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.binary(s, "2h")
        with self.assertRaises(TypeError):
            cmee.binary({"direction": "BUY"}, "1h")
        with self.assertRaises(TypeError):
            cmee.binary(s, 3600.5)


class TestAnalysis(Data):
    def test_analyze(self):
        a = cmee.analyze(self.c)
        self.assertIsInstance(a, cmee.Analysis)
        self.assertEqual(a.n, len(self.c))
        self.assertEqual(a.time, self.c[-1].time)
        self.assertEqual(a.close, self.c[-1].close)
        self.assertIn(a.trend, (-1, 0, 1))
        self.assertTrue(0 <= a.trend_strength <= 1)
        if a.trend == 0:
            self.assertEqual(a.trend_strength, 0)
        self.assertTrue(0 <= a.r2 <= 1)
        self.assertTrue(0 <= a.vol_percentile <= 100)
        self.assertGreater(a.atr, 0)
        self.assertAlmostEqual(a.atr_pct, a.atr / a.close * 100, delta=1e-12)
        self.assertGreater(a.realized_vol, 0)
        self.assertTrue(a.s3 < a.s2 < a.s1 < a.pivot < a.r1 < a.r2_level < a.r3)
        self.assertTrue(a.fib_s3 < a.fib_s2 < a.fib_s1 < a.pivot < a.fib_r1 < a.fib_r2 < a.fib_r3)
        self.assertTrue(0 < len(a.swing_highs) <= 8 and 0 < len(a.swing_lows) <= 8)
        self.assertTrue(all(math.isfinite(v) for v in a.swing_highs + a.swing_lows))
        if a.support is not None:
            self.assertLess(a.support, a.close)
            self.assertIn(a.support, a.swing_lows)
        if a.resistance is not None:
            self.assertGreater(a.resistance, a.close)
            self.assertIn(a.resistance, a.swing_highs)
        adx = cmee.indicator("adx", self.c)
        self.assertEqual((a.adx, a.plus_di, a.minus_di),
                         (adx["adx"][-1], adx["plus_di"][-1], adx["minus_di"][-1]))
        self.assertEqual(a.atr, cmee.indicator("atr", self.c)["atr"][-1])
        # The timeframe: the Candles' own, a name, milliseconds, or inferred from the times.
        self.assertEqual(cmee.analyze(self.c, "1h"), a)
        self.assertEqual(cmee.analyze(self.c, H), a)
        self.assertEqual(cmee.analyze(columns(self.c)), a)
        self.assertNotEqual(cmee.analyze(self.c, "1d").realized_vol, a.realized_vol)

    def test_none_for_missing_support(self):
        # A steady rise: no swing low below... and no swing high above the last close.
        n = 80
        rows = {"time": [i * H for i in range(n)], "open": [100.0 + i for i in range(n)],
                "high": [100.5 + i for i in range(n)], "low": [99.5 + i for i in range(n)],
                "close": [100.0 + i for i in range(n)], "volume": [1.0] * n}
        a = cmee.analyze(rows)
        self.assertIsNone(a.resistance)
        self.assertEqual(a.swing_highs, ())
        self.assertEqual(a.trend, 1)

    def test_errors(self):
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.analyze(self.c[:59])
        self.assertIn("60", str(cm.exception))
        self.assertEqual(cmee.analyze(self.c[:60]).n, 60)
        rows = columns(self.c)
        rows["close"][17] = -1.0
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.analyze(rows)
        self.assertIn("close", str(cm.exception))
        rows = columns(self.c)
        rows["time"][5] = rows["time"][4]
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.analyze(rows)
        self.assertIn("time", str(cm.exception))
        with self.assertRaises(TypeError):
            cmee.analyze(self.c, 1.5)
        with self.assertRaises(TypeError):
            cmee.analyze("candles")
        with self.assertRaises(TypeError):
            cmee.analyze({"close": [1.0] * 100})


class TestEvaluate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with cmee.Market(seed=42) as m:
            cls.c = m.candles("BTCUSD", "1h", count=3000, end=MAR_2030)

    def check(self, r, payout=0.8):
        self.assertIsInstance(r, cmee.EvalResult)
        self.assertEqual(r.calls + r.puts, r.trades)
        self.assertEqual(r.wins + r.losses + r.ties, r.trades)
        self.assertEqual(r.breakeven, 1 / (1 + payout))
        if r.wins + r.losses:
            self.assertEqual(r.hit_rate, r.wins / (r.wins + r.losses))
            self.assertTrue(0 <= r.ci_low <= r.hit_rate <= r.ci_high <= 1)
        else:
            self.assertIsNone(r.hit_rate)
        if r.trades:
            self.assertAlmostEqual(r.expectancy, (r.wins * payout - r.losses) / r.trades,
                                   delta=1e-12)

    def test_defaults(self):
        r = cmee.evaluate(self.c)
        self.check(r)
        self.assertGreater(r.trades, 20)
        self.assertGreater(r.calls, 0)
        self.assertGreater(r.puts, 0)
        self.assertEqual(cmee.evaluate(self.c, cmee.EvalConfig()), r)
        self.assertEqual(cmee.evaluate(columns(self.c)), r)

    def test_config(self):
        cfg = cmee.EvalConfig(payout=0.9, warmup=100)
        cfg.binary.expiry_bars = 3
        cfg.signal.weight.update(rsi=0, bbands=0, squeeze=0, stoch=0)
        r = cmee.evaluate(self.c, cfg)
        self.check(r, payout=0.9)
        self.assertNotEqual(r, cmee.evaluate(self.c))
        none = cmee.evaluate(self.c, cmee.EvalConfig(binary=cmee.BinaryConfig(min_strength=1)))
        self.check(none)
        self.assertEqual(none.trades, 0)
        self.assertIsNone(none.hit_rate)
        self.assertEqual(cmee.evaluate(self.c[:40]).trades, 0)   # all warm-up
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.evaluate(self.c, cmee.EvalConfig(payout=0))
        self.assertIn("payout", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.evaluate(self.c, cmee.EvalConfig(binary=cmee.BinaryConfig(expiry_bars=0)))
        with self.assertRaises(TypeError):
            cmee.evaluate(self.c, cmee.SignalConfig())
        with self.assertRaises(TypeError):
            cmee.evaluate(self.c, cmee.EvalConfig(warmup=1.5))


class TestErrors(Data):
    def test_unknown_indicator(self):
        with self.assertRaises(cmee.NotFoundError) as cm:
            cmee.indicator("foo", self.c)
        self.assertIn("foo", str(cm.exception))
        self.assertIsInstance(cm.exception, LookupError)
        with self.assertRaises(cmee.NotFoundError):
            cmee.lookback("SMA")            # names are case-sensitive
        with self.assertRaises(cmee.NotFoundError):
            cmee.indicator_info("")

    def test_bad_param(self):
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("sma", self.c, period=0)
        e = cm.exception
        self.assertIn("period", str(e))
        self.assertEqual(e.field, "period")
        self.assertEqual(str(e), "period: sma must be in [1, 100000], got 0")
        self.assertIsInstance(e, ValueError)
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("sma", self.c, period=10.5)
        self.assertIn("whole number", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("sma", self.c, length=3)
        self.assertIn("length", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("obv", self.c, period=3)
        self.assertIn("no parameters", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.indicator("sma", [], period=0)     # checked even without data
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.lookback("macd", fast=0)

    def test_nan_input_names_the_element(self):
        closes = list(self.c.close)
        closes[17] = math.nan
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("rsi", closes)
        self.assertIn("close[17]", str(cm.exception))
        self.assertEqual(cm.exception.field, "close[17]")
        rows = columns(self.c)
        rows["high"][42] = math.inf
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("atr", rows)
        self.assertIn("high[42]", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.signal(rows)
        self.assertIn("high[42]", str(cm.exception))

    def test_wrong_types(self):
        for call in (lambda: cmee.indicator(3, self.c),
                     lambda: cmee.indicator("sma", "1,2,3"),
                     lambda: cmee.indicator("sma", [1.0, "2"]),
                     lambda: cmee.indicator("sma", None),
                     lambda: cmee.indicator("sma", self.c, period="3"),
                     lambda: cmee.indicator("sma", self.c, period=None),
                     lambda: cmee.indicator("sma", self.c, period=True),
                     lambda: cmee.indicator("atr", list(self.c.close)),
                     lambda: cmee.indicator("atr", {"high": [1.0], "low": [1.0]}),
                     lambda: cmee.signal(None),
                     lambda: cmee.signal(42),
                     lambda: cmee.signal([(1, 2, 3)]),
                     lambda: cmee.SignalContext(self.c, config="fast"),
                     lambda: cmee.Stream("sma", period=[3])):
            with self.subTest(call=call):
                with self.assertRaises(TypeError):
                    call()

    def test_mismatched_lengths(self):
        rows = columns(self.c)
        rows["low"] = rows["low"][:-1]
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.indicator("atr", rows)
        self.assertIn("low", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.signal(rows)

    def test_too_few_candles(self):
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.signal(self.c[:0])
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.analyze(self.c[:10])


class TestExample(Data):
    def test_signals_csv(self):
        script = os.path.join(REPO, "examples", "python", "signals_csv.py")
        csv_text = self.c.to_csv()
        p = subprocess.run([sys.executable, script, "--last", "3"], input=csv_text,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "500 candles, 2030-02-08T04:00:00Z to 2030-02-28T23:00:00Z")
        self.assertEqual(lines[1], "time,rsi14")
        rsi = cmee.indicator("rsi", self.c)["rsi"]
        self.assertEqual(lines[4], f"2030-02-28T23:00:00Z,{rsi[-1]:.2f}")
        s = cmee.signal(self.c)
        self.assertTrue(lines[6].startswith(f"signal at 2030-02-28T23:00:00Z: {s.direction} "))
        for r, line in zip(s.reasons, lines[7:]):
            self.assertIn(r.text, line)
        self.assertTrue(lines[-1].startswith("binary: "))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.csv")
            with open(path, "w") as f:
                f.write(csv_text.replace("\n", "\nx,1,2,3,4,5\n", 1))
            p = subprocess.run([sys.executable, script, path], capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad.csv:2", p.stderr)


class TestLayouts(unittest.TestCase):
    """The ctypes mirrors of the C structures: sizes, defaults, and offsets against C."""

    STRUCTS = {"cmee_series": 48, "cmee_ind_info": 184, "cmee_signal_config": 184,
               "cmee_signal_reason": 136, "cmee_signal": 1000, "cmee_binary_config": 24,
               "cmee_binary_signal": 40, "cmee_analysis": 376, "cmee_eval_config": 224,
               "cmee_eval_result": 88}

    def test_sizes_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(ctypes.c_long) != 8:
            self.skipTest("sizes below are those of LP64 ABIs")
        for name, size in self.STRUCTS.items():
            with self.subTest(struct=name):
                self.assertEqual(ctypes.sizeof(getattr(S, name)), size)
        self.assertEqual(S.cmee_signal.reasons.offset, 48)
        self.assertEqual(S.cmee_eval_config.binary.offset, 184)
        self.assertEqual(S.cmee_analysis.swing_lows.offset, 312)

    def test_defaults_round_trip(self):
        for struct, init, py in ((S.cmee_signal_config, "cmee_signal_config_init",
                                  cmee.SignalConfig()),
                                 (S.cmee_binary_config, "cmee_binary_config_init",
                                  cmee.BinaryConfig()),
                                 (S.cmee_eval_config, "cmee_eval_config_init",
                                  cmee.EvalConfig())):
            with self.subTest(struct=struct.__name__):
                c = struct()
                ctypes.memset(ctypes.byref(c), 0xA5, ctypes.sizeof(c))
                getattr(_lib.lib, init)(ctypes.byref(c))
                # The dataclass defaults, converted back, are byte for byte what C fills.
                self.assertEqual(bytes(py._to_c()), bytes(c))
        cfg = cmee.SignalConfig()
        for k, v in SIGNAL_DEFAULTS.items():
            self.assertEqual(getattr(cfg, k), v, k)
            self.assertIs(type(getattr(cfg, k)), type(getattr(S._SD, k)), k)
        self.assertEqual(cfg.weight, dict.fromkeys(cmee.RULES, 1.0))
        self.assertEqual(dataclasses.asdict(cmee.BinaryConfig()),
                         {"min_strength": 0.3, "expiry_bars": 5, "expiry_ms": 0})
        ev = cmee.EvalConfig()
        self.assertEqual((ev.payout, ev.warmup), (0.8, 50))
        self.assertEqual(ev.signal, cfg)
        self.assertIsNot(ev.signal.weight, cmee.EvalConfig().signal.weight)  # no shared state
        self.assertEqual(cmee.SignalConfig._from_c(cfg._to_c()), cfg)

    def test_signal_round_trip(self):
        with cmee.Market(seed=7) as m:
            c = m.candles("ETHUSD", "4h", count=300, end=MAR_2030)
        with cmee.SignalContext(c) as ctx:
            for s in ctx:
                self.assertEqual(S._signal_from_c(S._signal_to_c(s)), s)

    def test_offsets_against_c(self):
        cc = shutil.which(os.environ.get("CC", "cc"))
        libpath = os.environ.get("CMEE_LIBRARY", _lib.library_path)
        build_inc = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(libpath))),
                                 "include")
        src_inc = os.path.join(REPO, "include")
        if not cc or not os.path.isfile(os.path.join(build_inc, "cmee", "version.h")) \
                or not os.path.isfile(os.path.join(src_inc, "cmee", "signals.h")):
            self.skipTest("no C compiler or headers")
        structs = [_lib.cmee_candle, _lib.cmee_error] + [getattr(S, n) for n in self.STRUCTS]
        lines, want = [], []
        for st in structs:
            t = st.__name__
            lines.append(f'printf("%zu %zu\\n", sizeof({t}), _Alignof({t}));')
            want.append(f"{t} {ctypes.sizeof(st)} {ctypes.alignment(st)}")
            for f, _ in st._fields_:
                lines.append(f'printf("%zu %zu\\n", offsetof({t}, {f}), '
                             f'sizeof((({t} *)0)->{f}));')
                d = getattr(st, f)
                want.append(f"{t}.{f} {d.offset} {d.size}")
        prog = ("#include <stddef.h>\n#include <stdio.h>\n#include <cmee.h>\n"
                "int main(void)\n{\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
        with tempfile.TemporaryDirectory() as tmp:
            c_path, exe = os.path.join(tmp, "layout.c"), os.path.join(tmp, "layout")
            with open(c_path, "w") as f:
                f.write(prog)
            subprocess.run([cc, "-std=c11", "-I", src_inc, "-I", build_inc, c_path, "-o", exe],
                           check=True, capture_output=True, timeout=120)
            got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        got = got.split()
        for k, w in enumerate(want):
            name, *nums = w.split()
            self.assertEqual(nums, got[2 * k:2 * k + 2], f"{name}: (offset|size, size|align)")
        self.assertEqual(len(got), 2 * len(want))



class ReadmeExample(unittest.TestCase):
    """The README's first Python example is a contract: run it exactly as printed there."""

    def test_readme_first_python_block(self):
        import contextlib
        import io
        import pathlib
        import re

        readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
        blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
        self.assertTrue(blocks, "README.md has no python block")
        code = blocks[0]
        for needle in ('cmee.Market(seed=42)', 'm.candles("BTCUSD", "1h", count=500)',
                       'cmee.indicator("macd", c, fast=12, slow=26, signal=9)'):
            self.assertIn(needle, code)
        out = io.StringIO()
        scope: dict = {}
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), scope)
        self.assertEqual(len(scope["c"]), 500)
        self.assertEqual(sorted(scope["macd"]), ["hist", "macd", "signal"])
        self.assertEqual(len(scope["macd"]["hist"]), 500)
        self.assertTrue(out.getvalue().startswith("500 Candle("))


if __name__ == "__main__":
    unittest.main()
