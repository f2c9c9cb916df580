# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of Session.report() (docs/report.md): fields from the session's records, the JSON
form, reload, advance=False, bad settings, and the structure layouts against the header.

    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_report
"""

import datetime as dt
import json
import os
import tempfile
import unittest
from decimal import Decimal

import cmee
from cmee import session as _session
from test_scenario import c_layout

START = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.timezone.utc)
HOUR = 3_600_000


def trade(s):
    s.step(HOUR)
    s.buy("SOLUSD", 20)
    s.step(2 * HOUR)
    s.sell("SOLUSD", 20)
    s.call("BTCUSD", 50, dt.timedelta(minutes=3))
    s.step(HOUR)


class ReportTest(unittest.TestCase):
    def test_fields(self):
        s = cmee.Session(seed=9, start=START, manual_clock=True, balance=20000)
        trade(s)
        r = s.report()
        self.assertIsInstance(r, cmee.Report)
        a = s.account()
        self.assertEqual(r.session, s.id)
        self.assertEqual(r.currency, "USD")
        self.assertEqual(r.initial_balance, Decimal(20000))
        self.assertEqual(r.final_equity, a.equity)
        self.assertEqual(r.pnl, a.equity - 20000)
        self.assertEqual(r.fees, -sum(e.amount for e in s.ledger() if e.kind == "fee"))
        self.assertEqual((r.fills, r.trades, r.options), (2, 1, 1))
        self.assertEqual(r.end - r.start, 4 * HOUR)
        self.assertEqual(r.samples, 5)
        self.assertAlmostEqual(r.exposure, 0.5, places=15)  # 10:00-12:00 of 09:00-13:00
        self.assertLessEqual(r.win_rate_low, r.win_rate)
        self.assertLessEqual(r.win_rate, r.win_rate_high)
        # The JSON form carries the same values, money exactly.
        j = json.loads(r.json, parse_float=Decimal)
        self.assertEqual(Decimal(str(j["pnl"])), r.pnl)
        self.assertEqual(Decimal(str(j["fees"])), r.fees)
        self.assertEqual(j["trades"], r.trades)
        self.assertEqual(float(j["sharpe"]), r.sharpe)
        self.assertEqual(float(j["return"]), r.ret)
        # A longer step, fewer samples.
        self.assertEqual(s.report(sample_ms=dt.timedelta(hours=2)).samples, 3)
        self.assertLessEqual(s.report(max_samples=2).samples, 2)
        s.close()

    def test_reload_gives_the_same_report(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.db")
            with cmee.Store(path) as store:
                s = cmee.Session(seed=9, start=START, manual_clock=True, id="rep", store=store)
                trade(s)
                a = s.report()
                s.close()
                t = cmee.Session.load(store, "rep")
                b = t.report()
                c = t.report(advance=False)
                t.close()
        self.assertEqual(a, b)
        self.assertEqual(a.json, b.json)
        self.assertEqual(c.end, a.end)

    def test_bad_settings(self):
        s = cmee.Session(seed=1, start=START, manual_clock=True)
        with self.assertRaises(cmee.InvalidArgumentError):
            s.report(sample_ms=999)
        with self.assertRaises(cmee.InvalidArgumentError):
            s.report(max_samples=1)
        with self.assertRaises(cmee.InvalidArgumentError):
            s.report(max_samples=-5)
        with self.assertRaises(TypeError):
            s.report(sample_ms="1h")
        with self.assertRaises(TypeError):
            s.report(max_samples=2.5)
        s.close()

    def test_layouts(self):
        got, want = c_layout([_session.cmee_report, _session.cmee_report_config], self)
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
