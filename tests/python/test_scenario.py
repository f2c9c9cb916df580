# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the cmee Python bindings' scenario face: Scenario from dicts, JSON and presets,
validation errors, and applying scenarios to a Market (contract 4 from Python).

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_scenario
The layout check against the C header compiles a small C program when a C compiler ($CC or cc)
and the headers are found, else it is skipped (the LP64 sizes are still checked).
"""

import copy
import ctypes
import datetime as dt
import json
import math
import os
import pickle
import pydoc
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import cmee
from cmee import _lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = 1_898_553_600_000               # 2030-03-01T00:00:00Z
M = 60_000
H = 3_600_000
D = 86_400_000
UTC = dt.timezone.utc

PRESETS = ["calm", "bull_trend", "bear_trend", "crash", "flash_crash_recovery",
           "volatility_spike", "sideways_range", "trading_halt", "recovery"]


def spike_ms(size, half_life):
    """docs/scenarios.md, Duration: how long a spike acts."""
    return math.ceil(half_life * math.log2((size - 1) / 0.01))


# docs/scenarios.md, Presets: the duration column.
DURATIONS = {"calm": 7 * D, "bull_trend": 30 * D, "bear_trend": 30 * D, "crash": 3 * D,
             "flash_crash_recovery": spike_ms(3, 30 * M), "volatility_spike": spike_ms(4, 2 * H),
             "sideways_range": 14 * D, "trading_halt": 30 * M, "recovery": 14 * D}
# docs/scenarios.md: the canonical JSON of `crash`, as printed there.
CRASH_JSON = (
    '{"name":"crash","description":"A -10 % gap, then three turbulent days: -25 % expected, '
    '2.5x volatility and frequent downward jumps.","symbols":[],"regimes":[{"start":0,'
    '"end":259200000,"drift_mode":"span","drift":-0.25,"vol_mult":2.5,"jump_rate":500,'
    '"jump_mean":-0.03,"jump_stdev":0.02,"revert_half_life":0,"revert_to":{"kind":"none",'
    '"value":0}}],"events":[{"kind":"shock","at":0,"size":-0.1}]}')
REGIME_DEFAULTS = {"drift_mode": "keep", "drift": 0, "vol_mult": 1, "jump_rate": 0,
                   "jump_mean": 0, "jump_stdev": 0, "revert_half_life": 0,
                   "revert_to": {"kind": "none", "value": 0}}


class TestFromDict(unittest.TestCase):
    def test_defaults(self):
        with cmee.Scenario.from_dict({"name": "empty"}) as s:
            self.assertEqual(s.to_dict(), {"name": "empty", "description": "", "symbols": [],
                                           "regimes": [], "events": []})
            self.assertEqual((s.name, s.description, s.symbols), ("empty", "", ()))
            self.assertEqual((s.regimes, s.events, s.duration), ([], [], 0))
            self.assertTrue(s.applies_to("BTCUSD"))
            self.assertTrue(s.applies_to("ANYTHING"))
        s = cmee.Scenario.from_dict({"name": "r", "regimes": [{"start": 0, "end": "2h"}]})
        self.assertEqual(s.regimes, [dict(start=0, end=2 * H, **REGIME_DEFAULTS)])
        e = cmee.Scenario.from_dict({"name": "e", "events": [{"kind": "spike", "at": 0,
                                                              "size": 3}]}).events
        self.assertEqual(e, [{"kind": "spike", "at": 0, "size": 3, "half_life": H}])

    def test_duration_strings(self):
        for text, ms in (("250ms", 250), ("90s", 90_000), ("30m", 30 * M), ("2h", 2 * H),
                         ("7d", 7 * D), (123_456, 123_456)):
            with self.subTest(text=text):
                s = cmee.Scenario.from_dict({"name": "t", "regimes": [{"start": 0, "end": text}],
                                             "events": [{"kind": "halt", "at": text,
                                                         "end": "8d"}]})
                self.assertEqual(s.regimes[0]["end"], ms)
                self.assertEqual(s.events[0], {"kind": "halt", "at": ms, "end": 8 * D})
                self.assertEqual(s.duration, 8 * D)
        # timedeltas anywhere a time goes are whole milliseconds.
        a = cmee.Scenario.from_dict({
            "name": "td", "regimes": [{"start": dt.timedelta(0), "end": dt.timedelta(days=2),
                                       "revert_half_life": dt.timedelta(hours=6),
                                       "revert_to": {"kind": "change", "value": 0}}],
            "events": [{"kind": "spike", "at": dt.timedelta(minutes=90), "size": 2,
                        "half_life": dt.timedelta(seconds=90)}]})
        b = cmee.Scenario.from_dict({
            "name": "td", "regimes": [{"start": 0, "end": "2d", "revert_half_life": "6h",
                                       "revert_to": {"kind": "change", "value": 0}}],
            "events": [{"kind": "spike", "at": "90m", "size": 2, "half_life": 90_000}]})
        self.assertEqual(a, b)
        self.assertEqual(a.regimes[0]["revert_half_life"], 6 * H)
        self.assertEqual(a.duration, 2 * D)
        self.assertEqual(a.duration_timedelta, dt.timedelta(days=2))
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.Scenario.from_dict({"name": "x", "events": [
                {"kind": "shock", "at": dt.timedelta(microseconds=1500), "size": 0.1}]})
        self.assertEqual(cm.exception.field, "events[0].at")
        self.assertIn("whole number of milliseconds", str(cm.exception))

    def test_sorted_and_symbols(self):
        s = cmee.Scenario.from_dict({
            "name": "two steps", "description": "down, then up",
            "symbols": ["ETHUSD", "BTCUSD"],
            "regimes": [{"start": "1d", "end": "2d", "drift_mode": "span", "drift": 0.1},
                        {"start": 0, "end": "1d", "drift_mode": "annual", "drift": -0.5}],
            "events": [{"kind": "shock", "at": "3h", "size": 0.02},
                       {"kind": "target", "at": "1h", "end": "2h",
                        "target": {"kind": "price", "value": 25000}}]})
        self.assertEqual(s.name, "two steps")
        self.assertEqual(s.description, "down, then up")
        self.assertEqual(s.symbols, ("ETHUSD", "BTCUSD"))
        self.assertEqual([r["start"] for r in s.regimes], [0, D])
        self.assertEqual([(r["drift_mode"], r["drift"]) for r in s.regimes],
                         [("annual", -0.5), ("span", 0.1)])
        self.assertEqual(s.events, [{"kind": "target", "at": H, "end": 2 * H,
                                     "target": {"kind": "price", "value": 25000}},
                                    {"kind": "shock", "at": 3 * H, "size": 0.02}])
        self.assertTrue(s.applies_to("BTCUSD"))
        self.assertFalse(s.applies_to("XAUUSD"))
        self.assertEqual(s.duration, 2 * D)
        self.assertEqual(repr(s), "<cmee.Scenario 'two steps': 2 regimes, 2 events, "
                                  "ETHUSD, BTCUSD, lasts 2d>")

    def test_keywords_and_equality(self):
        events = [{"kind": "shock", "at": 0, "size": -0.05}]
        a = cmee.Scenario(name="dip", events=events)
        b = cmee.Scenario.from_dict({"name": "dip", "events": events})
        c = cmee.Scenario({"name": "dip", "events": events}, description="other")
        self.assertEqual(a, b)
        self.assertEqual(hash(a), hash(b))
        self.assertNotEqual(a, c)
        self.assertEqual(c.description, "other")
        self.assertNotEqual(a, a.to_json())
        self.assertEqual(len({a, b, c}), 2)
        self.assertEqual(cmee.Scenario.from_dict(c.to_dict()), c)
        self.assertEqual(pickle.loads(pickle.dumps(c)), c)
        self.assertEqual(copy.deepcopy(c), c)
        # The dicts handed out are copies: changing them changes nothing.
        a.events[0]["size"] = 0.5
        self.assertEqual(a.events[0]["size"], -0.05)

    def test_json(self):
        crash = cmee.Scenario.preset("crash")
        self.assertEqual(crash.to_json(), CRASH_JSON)
        self.assertEqual(cmee.Scenario.from_json(CRASH_JSON), crash)
        self.assertEqual(cmee.Scenario.from_json(CRASH_JSON.encode()), crash)
        pretty = crash.to_json(indent=2)
        self.assertIn('\n  "regimes": [', pretty)
        self.assertEqual(cmee.Scenario.from_json(pretty), crash)
        self.assertEqual(json.loads(pretty), json.loads(CRASH_JSON))
        self.assertEqual(repr(crash), "<cmee.Scenario 'crash': 1 regime, 1 event, "
                                      "every symbol, lasts 3d>")
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            cmee.Scenario.from_json('{"name": \n oops}')
        self.assertEqual(str(cm.exception), "json: line 2, column 5: invalid token near 'oops'")
        with self.assertRaises(TypeError):
            cmee.Scenario.from_json({"name": "x"})

    def test_close(self):
        s = cmee.Scenario.preset("calm")
        s.close()
        s.close()
        self.assertTrue(s.closed)
        self.assertEqual(repr(s), "<cmee.Scenario closed>")
        for f in (lambda: s.name, s.to_json, lambda: s.duration, lambda: s.applies_to("X")):
            with self.assertRaises(cmee.StateError):
                f()

    def test_threads_share_one_scenario(self):
        s = cmee.Scenario.preset("flash_crash_recovery")
        want = s.to_json()
        errors = []

        def work():
            try:
                for _ in range(200):
                    assert s.duration == DURATIONS["flash_crash_recovery"]
                    assert cmee.Scenario.from_json(s.to_json()).to_json() == want
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class TestPresets(unittest.TestCase):
    def test_names(self):
        self.assertEqual(cmee.presets(), PRESETS)

    def test_all_load_and_round_trip(self):
        for name in cmee.presets():
            with self.subTest(preset=name), cmee.Scenario.preset(name) as s:
                self.assertEqual(s.name, name)
                self.assertTrue(s.description)
                self.assertEqual(s.symbols, ())
                self.assertEqual(s.duration, DURATIONS[name])
                self.assertEqual(cmee.Scenario.from_json(s.to_json()), s)
                self.assertEqual(cmee.Scenario.from_dict(s.to_dict()), s)
                self.assertEqual(cmee.Scenario.from_json(s.to_json()).to_json(), s.to_json())
                self.assertEqual(len(s.regimes) + len(s.events),
                                 {"crash": 2, "flash_crash_recovery": 3}.get(name, 1))

    def test_what_they_hold(self):
        self.assertEqual(cmee.Scenario.preset("trading_halt").events,
                         [{"kind": "halt", "at": 0, "end": 30 * M}])
        self.assertEqual(cmee.Scenario.preset("volatility_spike").events,
                         [{"kind": "spike", "at": 0, "size": 4, "half_life": 2 * H}])
        r = cmee.Scenario.preset("bull_trend").regimes
        self.assertEqual((r[0]["drift_mode"], r[0]["drift"], r[0]["end"]), ("span", 0.25, 30 * D))

    def test_unknown(self):
        with self.assertRaises(cmee.NotFoundError) as cm:
            cmee.Scenario.preset("meltdown")
        self.assertEqual(str(cm.exception), 'name: no preset called "meltdown"')
        self.assertIsInstance(cm.exception, LookupError)
        with self.assertRaises(TypeError):
            cmee.Scenario.preset(3)


class TestValidation(unittest.TestCase):
    # (scenario, field, start of the message after "field: ")
    CASES = [
        ({"name": ""}, "name", "must be 1 to 63 characters"),
        ({"description": "no name"}, "name", "missing"),
        ({"name": "x", "nam": 1}, "nam", "unknown key"),
        ({"name": "x", "regimes": [{"start": 0, "end": "2h", "vol_mult": -2}]},
         "regimes[0].vol_mult", "must be in (0, 20], got -2"),
        ({"name": "x", "regimes": [{"start": 0, "end": "2h"}, {"start": "1h", "end": "3h"}]},
         "regimes[1].start", "overlaps regimes[0], which ends at 7200000"),
        ({"name": "x", "regimes": [{"start": 0, "end": "2h", "vol_mult": "big"}]},
         "regimes[0].vol_mult", "expected a number, got a string"),
        ({"name": "x", "regimes": [{"start": 0, "end": "2.5h"}]},
         "regimes[0].end", "expected a duration"),
        ({"name": "x", "regimes": [{"start": 0}]}, "regimes[0].end", "missing"),
        ({"name": "x", "regimes": [{"start": 0, "end": "3653d"}]},
         "regimes[0].end", "must be > start (0) and <= 315532800000, got 315619200000"),
        ({"name": "x", "regimes": [{"start": 0, "end": "2h", "drift": 0.1}]},
         "regimes[0].drift", "must be 0 when drift_mode is keep, got 0.1"),
        ({"name": "x", "regimes": [{"start": 0, "end": "2h", "drift_mode": "span",
                                    "drift": float("nan")}]},
         "regimes[0].drift", "must be finite, got nan"),
        ({"name": "x", "regimes": [{"start": 0, "end": 10 ** 30}]},
         "regimes[0].end", "1000000000000000000000000000000 does not fit in 64 bits"),
        ({"name": "x", "regimes": [{"start": 0, "end": dt.timedelta(hours=-1)}]},
         "regimes[0].end", "must be > start (0)"),
        ({"name": "x", "events": [{"kind": "boom", "at": 0}]}, "events[0].kind", "expected"),
        ({"name": "x", "events": [{"kind": "shock", "at": 0, "size": -1}]},
         "events[0].size", "a shock must be in (-1, 10], got -1"),
        ({"name": "x", "events": [{"kind": "halt", "at": 0, "end": "1h", "size": 1}]},
         "events[0].size", "not a field of a halt event"),
        ({"name": "x", "events": [{"kind": "spike", "at": 0, "size": 3, "half_life": "1s"}]},
         "events[0].half_life", "must be in [60000, 2592000000] ms, got 1000"),
        ({"name": "x", "symbols": ["btc"]}, "symbols[0]", "must be 1 to 15 characters"),
    ]

    def test_errors_name_the_field(self):
        for d, field, text in self.CASES:
            with self.subTest(field=field, text=text):
                with self.assertRaises(cmee.InvalidArgumentError) as cm:
                    cmee.Scenario.from_dict(d)
                e = cm.exception
                self.assertEqual(e.field, field)
                self.assertTrue(str(e).startswith(f"{field}: {text}"), str(e))
                self.assertEqual((e.status, e.name), (1, "EINVAL"))
                self.assertIsInstance(e, ValueError)
                # The same text through JSON, when JSON can carry the input.
                try:
                    text_form = json.dumps(d, allow_nan=False, default=lambda o: 0)
                except ValueError:
                    continue
                if "timedelta" in repr(d):
                    continue
                with self.assertRaises(cmee.InvalidArgumentError) as cm2:
                    cmee.Scenario.from_json(text_form)
                if "64 bits" in text:    # checked by the bindings; jansson names no field
                    self.assertEqual(cm2.exception.field, "json")
                    self.assertIn("too big integer", str(cm2.exception))
                else:
                    self.assertEqual(str(cm2.exception), str(e))

    def test_symbols_against_a_market(self):
        with cmee.Market(seed=1) as m:
            s = cmee.Scenario.from_dict({"name": "x", "symbols": ["BTCUSD"]}, market=m)
            self.assertEqual(s.symbols, ("BTCUSD",))
            with self.assertRaises(cmee.NotFoundError) as cm:
                cmee.Scenario.from_dict({"name": "x", "symbols": ["BTCUSD", "NOPE"]}, market=m)
            self.assertEqual(cm.exception.field, "symbols[1]")
            self.assertIn('"NOPE" is not a symbol of the market', str(cm.exception))
            with self.assertRaises(cmee.NotFoundError):
                cmee.Scenario.from_json('{"name": "x", "symbols": ["NOPE"]}', market=m)
        # Without a market the list is only checked for its form.
        self.assertEqual(cmee.Scenario(name="x", symbols=["NOPE"]).symbols, ("NOPE",))
        with self.assertRaises(cmee.StateError):
            cmee.Scenario(name="x", market=m)

    def test_python_types(self):
        with self.assertRaises(TypeError):
            cmee.Scenario.from_dict([("name", "x")])
        with self.assertRaises(TypeError):
            cmee.Scenario.from_dict({"name": "x"}, market="m")
        with self.assertRaisesRegex(TypeError, r"events\[0\]\.at"):
            cmee.Scenario(name="x", events=[{"kind": "shock", "at": dt.datetime(2030, 1, 1),
                                             "size": 0.1}])
        with self.assertRaises(TypeError):
            cmee.Scenario(name="x", regimes=[{1: 2}])


class MarketPair(unittest.TestCase):
    """Two markets of the same seed: `plain` never gets a scenario, `m` does."""

    def setUp(self):
        self.plain = cmee.Market(seed=42)
        self.m = cmee.Market(seed=42)
        self.addCleanup(self.plain.close)
        self.addCleanup(self.m.close)

    def assertSamePast(self, t0, symbol="BTCUSD"):
        for tf, n in (("1m", 600), ("1h", 72), ("1d", 30)):
            self.assertEqual(self.m.candles(symbol, tf, count=n, end=t0),
                             self.plain.candles(symbol, tf, count=n, end=t0), tf)
        self.assertEqual(self.m.ticks(symbol, t0 - 1), self.plain.ticks(symbol, t0 - 1))
        self.assertEqual(self.m.price(symbol, t0 - 1), self.plain.price(symbol, t0 - 1))


class TestApply(MarketPair):
    def test_contract_4_crash(self):
        crash = cmee.Scenario.preset("crash")
        app = self.m.apply(crash, T0)
        self.assertEqual(app, 1)
        self.assertEqual(self.m.applications(),
                         [cmee.Application(1, "crash", T0, T0 + 3 * D)])
        # Before t0: bit for bit the plain market's candles, ticks and prices.
        self.assertSamePast(T0)
        for symbol in ("ETHUSD", "EURUSD"):
            self.assertSamePast(T0, symbol)
        # After t0: every hourly close differs.
        after = self.m.candles("BTCUSD", "1h", start=T0, end=T0 + D)
        base = self.plain.candles("BTCUSD", "1h", start=T0, end=T0 + D)
        self.assertEqual(len(after), 24)
        self.assertEqual(list(after.time), list(base.time))
        self.assertTrue(all(a != b for a, b in zip(after.close, base.close)))
        for k in after:
            self.assertLessEqual(k.low, min(k.open, k.close))
            self.assertGreaterEqual(k.high, max(k.open, k.close))
            self.assertGreater(k.low, 0)
        # The -10 % gap in the first minute; the open of that minute is still the base price.
        first = self.m.candles("BTCUSD", "1m", start=T0, end=T0 + M)[0]
        self.assertEqual(first.open, self.plain.candles("BTCUSD", "1m", start=T0,
                                                        end=T0 + M)[0].open)
        ratio = self.m.price("BTCUSD", T0 + M) / self.plain.price("BTCUSD", T0 + M)
        self.assertAlmostEqual(ratio, 0.9, delta=0.005)
        # After three days the scenario is over: a constant offset from the plain path.
        r3 = self.m.price("BTCUSD", T0 + 3 * D + H) / self.plain.price("BTCUSD", T0 + 3 * D + H)
        r10 = self.m.price("BTCUSD", T0 + 10 * D) / self.plain.price("BTCUSD", T0 + 10 * D)
        self.assertLess(r3, 0.9)
        self.assertAlmostEqual(r3, r10, delta=1e-5)

    def test_deterministic_and_independent_of_the_scenario_object(self):
        other = cmee.Market(seed=42)
        self.addCleanup(other.close)
        with cmee.Scenario.preset("crash") as s:
            self.m.apply(s, T0)
        # The scenario is freed; the market kept its own copy. A preset name works as well,
        # and a datetime is the same time as its int ms.
        other.apply("crash", dt.datetime(2030, 3, 1, tzinfo=UTC))
        for tf in ("1m", "1h"):
            self.assertEqual(self.m.candles("BTCUSD", tf, count=500, end=T0 + 2 * D),
                             other.candles("BTCUSD", tf, count=500, end=T0 + 2 * D))
        self.assertEqual(other.applications()[0].t0, T0)

    def test_symbol_list(self):
        s = cmee.Scenario(name="eth only", symbols=["ETHUSD"],
                          events=[{"kind": "shock", "at": 0, "size": 0.5}])
        self.m.apply(s, T0 + 30_000)     # acts from the next minute boundary
        self.assertEqual(self.m.applications()[0].t0, T0 + M)
        self.assertEqual(self.m.candles("BTCUSD", "1h", count=48, end=T0 + D),
                         self.plain.candles("BTCUSD", "1h", count=48, end=T0 + D))
        r = self.m.price("ETHUSD", T0 + 2 * M) / self.plain.price("ETHUSD", T0 + 2 * M)
        self.assertAlmostEqual(r, 1.5, delta=0.01)

    def test_errors(self):
        self.m.apply("calm", T0)
        with self.assertRaises(cmee.StateError):
            self.m.apply("crash", T0 - D)            # before the earlier application
        with self.assertRaises(cmee.NotFoundError):
            self.m.apply(cmee.Scenario(name="x", symbols=["NOPE"]), T0 + D)
        with self.assertRaises(cmee.RangeError):
            self.m.apply("crash", cmee.TIME_MAX - D)  # would run past TIME_MAX
        with self.assertRaises(cmee.NotFoundError):
            self.m.apply("no such preset", T0 + D)
        with self.assertRaises(TypeError):
            self.m.apply({"name": "x"}, T0 + D)
        with self.assertRaises(TypeError):
            self.m.apply("crash", 1.5)
        closed = cmee.Scenario.preset("crash")
        closed.close()
        with self.assertRaises(cmee.StateError):
            self.m.apply(closed, T0 + D)
        self.assertEqual(len(self.m.applications()), 1)   # failures changed nothing
        self.m.close()
        for f in (lambda: self.m.apply("crash", T0 + D), lambda: self.m.cancel(1, T0),
                  self.m.applications, lambda: self.m.halted("BTCUSD", T0)):
            with self.assertRaises(cmee.StateError):
                f()

    def test_supersede(self):
        a = self.m.apply("crash", T0)
        b = self.m.apply("calm", T0 + D)
        self.assertEqual(self.m.applications(),
                         [cmee.Application(a, "crash", T0, T0 + D),
                          cmee.Application(b, "calm", T0 + D, T0 + 8 * D)])
        self.assertNotEqual(a, b)


class TestCancel(MarketPair):
    def test_cancel(self):
        full = cmee.Market(seed=42)
        self.addCleanup(full.close)
        full.apply("bull_trend", T0)
        app = self.m.apply("bull_trend", T0)
        t1 = T0 + D
        self.assertIsNone(self.m.cancel(app, t1))
        self.assertEqual(self.m.applications(), [cmee.Application(app, "bull_trend", T0, t1)])
        # Before t1 the cancelled market is the uncancelled one; before t0 the plain one.
        self.assertEqual(self.m.candles("BTCUSD", "1h", count=48, end=t1),
                         full.candles("BTCUSD", "1h", count=48, end=t1))
        self.assertSamePast(T0)
        # After t1 it follows its own settings from where the scenario left it: a constant
        # ratio to the plain market.
        ratios = [self.m.price("BTCUSD", t) / self.plain.price("BTCUSD", t)
                  for t in (t1 + H, t1 + 5 * D, t1 + 20 * D)]
        self.assertNotAlmostEqual(ratios[0], 1.0, delta=1e-4)
        for r in ratios[1:]:
            self.assertAlmostEqual(r, ratios[0], delta=1e-5)
        self.assertNotEqual(self.m.price("BTCUSD", t1 + 20 * D),
                            full.price("BTCUSD", t1 + 20 * D))
        # Cancelling again, later, changes nothing.
        self.m.cancel(app, t1 + D)
        self.assertEqual(self.m.applications()[0].end, t1)

    def test_errors(self):
        app = self.m.apply("calm", T0)
        with self.assertRaises(cmee.NotFoundError):
            self.m.cancel(app + 100, T0 + H)
        with self.assertRaises(cmee.NotFoundError):
            self.m.cancel(-1, T0 + H)
        with self.assertRaises(cmee.StateError):
            self.m.cancel(app, T0 - H)
        with self.assertRaises(TypeError):
            self.m.cancel("1", T0 + H)
        self.assertEqual(self.m.applications()[0].end, T0 + 7 * D)


class TestHalt(MarketPair):
    def test_trading_halt(self):
        start = T0 + 5 * M
        self.m.apply("trading_halt", dt.datetime(2030, 3, 1, 0, 5))
        self.assertFalse(self.plain.halted("BTCUSD", start + M))
        self.assertFalse(self.m.halted("BTCUSD", start - 1))
        self.assertTrue(self.m.halted("BTCUSD", start))
        self.assertTrue(self.m.halted("BTCUSD", start + 29 * M + 59_999))
        self.assertFalse(self.m.halted("BTCUSD", start + 30 * M))
        self.assertTrue(self.m.halted("XAUUSD", dt.datetime(2030, 3, 1, 0, 20)))
        c = self.m.candles("BTCUSD", "1m", start=start, end=start + 30 * M)
        self.assertEqual(len(c), 30)
        flat = c[0].open
        for k in c:
            self.assertEqual((k.open, k.high, k.low, k.close, k.volume),
                             (flat, flat, flat, flat, 0.0))
        self.assertEqual(self.m.price("BTCUSD", start + 17 * M), flat)
        self.assertSamePast(start)
        after = self.m.candles("BTCUSD", "1m", start=start + 30 * M, end=start + 40 * M)
        self.assertTrue(all(k.volume > 0 for k in after))
        with self.assertRaises(cmee.NotFoundError):
            self.m.halted("NOPE", start)
        with self.assertRaises(TypeError):
            self.m.halted("BTCUSD", "now")


class TestConcurrency(unittest.TestCase):
    def test_apply_while_querying(self):
        # apply takes the write lock: queries running in other threads see the market either
        # before or after it, never half-changed.
        m = cmee.Market(seed=42)
        self.addCleanup(m.close)
        before = m.candles("BTCUSD", "1h", count=24, end=T0)
        errors = []
        stop = threading.Event()

        def query():
            try:
                while not stop.is_set():
                    assert m.candles("BTCUSD", "1h", count=24, end=T0) == before
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=query) for _ in range(3)]
        for t in threads:
            t.start()
        for k in range(20):
            m.apply("volatility_spike", T0 + k * D)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(m.applications()), 20)


class TestLayout(unittest.TestCase):
    def test_application_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8:
            self.skipTest("sizes below are those of LP64 ABIs")
        st = _lib.cmee_application
        self.assertEqual(ctypes.sizeof(st), 88)
        self.assertEqual((st.id.offset, st.name.offset, st.t0.offset, st.end.offset),
                         (0, 4, 72, 80))

    def test_application_against_c(self):
        got, want = c_layout([_lib.cmee_application], self)
        self.assertEqual(got, want)


def c_layout(structs, case):
    """(what the C compiler says, what ctypes says) about the size, alignment and field
    offsets and sizes of ``structs``; skips ``case`` without a compiler or the headers."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    libpath = os.environ.get("CMEE_LIBRARY", _lib.library_path)
    build_inc = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(libpath))),
                             "include")
    src_inc = os.path.join(REPO, "include")
    if not cc or not os.path.isfile(os.path.join(build_inc, "cmee", "version.h")) \
            or not os.path.isfile(os.path.join(src_inc, "cmee", "store.h")):
        case.skipTest("no C compiler or headers")
    lines, want = [], []
    for st in structs:
        t = st.__name__
        lines.append(f'printf("{t} %zu %zu\\n", sizeof({t}), _Alignof({t}));')
        want.append(f"{t} {ctypes.sizeof(st)} {ctypes.alignment(st)}")
        for f, _ in st._fields_:
            lines.append(f'printf("{t}.{f} %zu %zu\\n", offsetof({t}, {f}), '
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
    return got.splitlines(), want


class TestExample(unittest.TestCase):
    def test_scenario_crash(self):
        script = os.path.join(REPO, "examples", "python", "scenario_crash.py")
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "scenarios.db")
            for version in (1, 2):
                p = subprocess.run([sys.executable, script, db], capture_output=True, text=True,
                                   timeout=120)
                self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.splitlines()
            self.assertEqual(lines[0], "crash applied to BTCUSD at 2030-03-01 00:00 UTC "
                                       "(seed 42)")
            self.assertEqual(lines[1].split(), ["time", "(UTC)", "plain", "crash", "change"])
            rows = [ln.split() for ln in lines[2:11]]
            self.assertEqual([r[1] for r in rows],
                             ["21:00", "22:00", "23:00"] + [f"{h:02d}:00" for h in range(6)])
            with cmee.Market(seed=42) as plain, cmee.Market(seed=42) as m:
                m.apply("crash", T0)
                want_plain = plain.candles("BTCUSD", "1h", start=T0 - 3 * H, end=T0 + 6 * H)
                want_crash = m.candles("BTCUSD", "1h", start=T0 - 3 * H, end=T0 + 6 * H)
            for r, a, b in zip(rows, want_plain.close, want_crash.close):
                self.assertEqual((r[2], r[3]), (f"{a:.2f}", f"{b:.2f}"))
            self.assertEqual([r[4] for r in rows[:3]], ["+0.00%"] * 3)
            self.assertTrue(rows[3][4].startswith("-"))
            self.assertEqual(lines[-1], f'saved scenario "crash" as version 2 in {db}')
            with cmee.Store(db, must_exist=True) as st:
                self.assertEqual(st.versions("crash")[-1].version, 2)
                self.assertEqual(st.load_scenario("crash"), cmee.Scenario.preset("crash"))
        # Without an argument it saves into a temporary file and says so.
        p = subprocess.run([sys.executable, script], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.splitlines()[-1], r'^saved scenario "crash" as version 1 in ')


class TestReadme(unittest.TestCase):
    """The README's scenario and store example runs as printed."""

    def test_readme_scenario_block(self):
        import contextlib
        import io
        import pathlib
        import re

        readme = pathlib.Path(REPO) / "README.md"
        blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
        code = [b for b in blocks if "cmee.Store" in b]
        self.assertEqual(len(code), 1, "README.md has no python block with cmee.Store")
        out = io.StringIO()
        scope: dict = {}
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(out):
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                exec(compile(code[0], "README.md", "exec"), scope)
            finally:
                os.chdir(cwd)
        self.assertIsInstance(scope["crash"], cmee.Scenario)
        self.assertTrue(out.getvalue())


class TestNames(unittest.TestCase):
    def test_exports_and_docs(self):
        for name in ("Scenario", "presets", "Application", "Store", "ScenarioInfo",
                     "VersionInfo", "STORE_SCHEMA_VERSION"):
            self.assertIn(name, cmee.__all__)
            self.assertTrue(getattr(cmee, name).__doc__ or name == "STORE_SCHEMA_VERSION",
                            name)
        text = pydoc.render_doc(cmee.Market, renderer=pydoc.plaintext)
        for name in ("apply(self, scenario", "cancel(self, app_id", "applications(self)",
                     "halted(self, symbol"):
            self.assertIn(name, text)
        self.assertGreaterEqual(cmee.version_info[:2], (0, 2))
        self.assertEqual(_lib.REQUIRED_MINOR, 2)


if __name__ == "__main__":
    unittest.main()
