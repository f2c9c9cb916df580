# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of Session(impact=...) (docs/sessions.md, "Market impact"): off by default and then the
market's prices; the formula and its decay through Session.impact(); prices after a buy up,
after a sell down, before the fill unchanged; the settings in Session.config and through a
store; bad settings refused naming the field.

    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_impact
"""

import datetime as dt
import math
import os
import tempfile
import unittest

import cmee

START = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.timezone.utc)
MIN = 60_000
HALF = 120_000


def session(**kw):
    kw.setdefault("seed", 5)
    return cmee.Session(start=START, manual_clock=True, balance=10**9, **kw)


def amplitude(spec, qty, k=1.0):
    return k * spec.volatility / math.sqrt(365.25) * math.sqrt(qty / (1440 * spec.volume))


class ImpactTest(unittest.TestCase):
    def test_off_by_default(self):
        s = session()
        self.assertEqual(s.config.impact, cmee.Impact("none", 1.0, 300000))
        plain = session(impact={"model": "none", "coefficient": 3.0})
        for x in (s, plain):
            x.step(10_000)
            x.buy("BTCUSD", 500)
            x.step(20 * MIN)
        self.assertEqual(s.impact("BTCUSD"), 0.0)
        self.assertEqual(list(s.candles("BTCUSD", "1m", 30)),
                         list(plain.candles("BTCUSD", "1m", 30)))

    def test_buy_formula_and_decay(self):
        s = session(impact={"model": "sqrt", "half_life": HALF})
        twin = session()
        spec = next(x for x in s.symbols() if x.symbol == "BTCUSD")
        for x in (s, twin):
            x.step(15_000)
        before = s.candles("BTCUSD", "1m", 20)
        o = s.buy("BTCUSD", 200)
        a = amplitude(spec, 200)
        for x in (s, twin):
            x.step(10 * MIN)
        self.assertEqual(s.impact("BTCUSD", o.closed), 0.0)
        for d in (1, 1000, HALF // 2, HALF, 3 * HALF + 7):
            self.assertAlmostEqual(s.impact("BTCUSD", o.closed + d) / (a * 2 ** (-d / HALF)),
                                   1.0, delta=1e-12)
        self.assertAlmostEqual(s.impact("BTCUSD", o.closed + HALF) / (a / 2), 1.0, delta=1e-12)
        # Up now, the market's before the fill.
        q, w = s.quote("BTCUSD"), twin.quote("BTCUSD")
        now_impact = s.impact("BTCUSD")
        self.assertGreater(now_impact, 0)
        self.assertAlmostEqual(q.price, w.price * math.exp(now_impact), delta=spec.tick_size)
        after = s.candles("BTCUSD", "1m", 31)
        plain = twin.candles("BTCUSD", "1m", 31)
        fill_minute = o.closed - o.closed % MIN
        old = {c.time: c for c in before if c.time < fill_minute}
        self.assertEqual(len(old), 19)  # the complete minutes before the fill: unchanged
        self.assertEqual([c for c in after if c.time in old], list(old.values()))
        self.assertEqual([c for c in after if c.time < fill_minute],
                         [c for c in plain if c.time < fill_minute])
        moved = [c for c, p in zip(after, plain) if c.close != p.close]
        self.assertGreater(len(moved), 5)
        self.assertTrue(all(c.close > p.close for c, p in zip(after, plain)
                            if c.close != p.close))

    def test_sell_pushes_down(self):
        s = session(impact={"model": "sqrt", "coefficient": 2.0,
                            "half_life": dt.timedelta(minutes=2)})
        self.assertEqual(s.config.impact, cmee.Impact("sqrt", 2.0, HALF))
        spec = next(x for x in s.symbols() if x.symbol == "EURUSD")
        s.step(5000)
        o = s.sell("EURUSD", 5000)
        s.step(MIN)
        got = s.impact("EURUSD", o.closed + MIN)
        self.assertLess(got, 0)
        self.assertAlmostEqual(got / (-amplitude(spec, 5000, 2.0) * 0.5 ** 0.5), 1.0,
                               delta=1e-12)
        self.assertLess(s.quote("EURUSD").price, session().quote("EURUSD").price)

    def test_stored(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.db")
            with cmee.Store(path) as st:
                s = cmee.Session(seed=8, start=START, manual_clock=True, balance=10**9,
                                 store=st, id="imp",
                                 impact={"model": "sqrt", "coefficient": 0.5, "half_life": HALF})
                s.step(20_000)
                s.buy("ETHUSD", 3000)
                s.step(5 * MIN)
                want = (s.impact("ETHUSD"), list(s.candles("ETHUSD", "1m", 10)))
                s.close()
                s = cmee.Session.load(st, "imp")
                self.assertEqual(s.config.impact, cmee.Impact("sqrt", 0.5, HALF))
                self.assertEqual((s.impact("ETHUSD"), list(s.candles("ETHUSD", "1m", 10))), want)
                s.close()

    def test_bad_settings(self):
        bad = [({"model": "linear"}, "impact.model"),
               ({"model": "sqrt", "coefficient": 0}, "impact.coefficient"),
               ({"coefficient": 11}, "impact.coefficient"),
               ({"coefficient": float("nan")}, "impact.coefficient"),
               ({"half_life": 999}, "impact.half_life"),
               ({"half_life": 86_400_001}, "impact.half_life"),
               ({"half_life": 2**70}, "impact.half_life"),
               ({"decay": 5}, "impact.decay")]
        for impact, field in bad:
            with self.subTest(impact=impact):
                with self.assertRaises(cmee.InvalidArgumentError) as cm:
                    session(impact=impact)
                self.assertEqual(cm.exception.field, field)
                self.assertIn(field, str(cm.exception))
        for impact in (["sqrt"], "sqrt", {"model": 1}, {"half_life": 1.5}):
            with self.subTest(impact=impact):
                with self.assertRaises(TypeError):
                    session(impact=impact)
        s = session(impact={"model": "sqrt"})
        with self.assertRaises(cmee.RangeError):
            s.impact("BTCUSD", s.clock.processed + 1)
        with self.assertRaises(cmee.NotFoundError):
            s.impact("NOPE")


if __name__ == "__main__":
    unittest.main()
