# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of `cmee report --db PATH --session ID`: a database made with the Python
bindings, the real binary reading it. Needs CMEE_BIN, and the bindings (PYTHONPATH and
CMEE_LIBRARY) to build the database."""

import datetime as dt
import glob
import hashlib
import json
import os
import subprocess
import tempfile
import unittest
from decimal import Decimal

import cmee

BIN = os.environ.get("CMEE_BIN", "cmee")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
HOUR = 3_600_000


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


def files_digest(path):
    """A digest of the database and its WAL/SHM companions: proves nothing was written."""
    h = hashlib.sha256()
    for f in sorted(glob.glob(path + "*")):
        with open(f, "rb") as fh:
            h.update(f.encode() + fh.read())
    return h.hexdigest()


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cmee-report-")
        cls.db = os.path.join(cls.tmp.name, "cmee.db")
        with cmee.Store(cls.db) as store:
            s = cmee.Session(seed=5, start=START, manual_clock=True, balance=50000,
                             id="alice-1", store=store)
            s.step(HOUR)
            s.buy("ETHUSD", 3)
            s.step(2 * HOUR)
            s.sell("ETHUSD", 1)
            s.step(HOUR)
            s.sell("ETHUSD", 2)
            s.option("BTCUSD", "call", 100, 300_000)
            s.step(HOUR)
            cls.ledger = s.ledger()
            cls.account = s.account()
            cls.orders = s.orders()
            cls.options = s.options()
            cls.py_json = s.report(advance=False).json
            s.close()
            empty = cmee.Session(seed=5, start=START, manual_clock=True, id="idle",
                                 store=store)
            empty.step(HOUR)
            empty.close()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def report(self, *extra, session="alice-1"):
        p = run("report", "--db", self.db, "--session", session, *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertTrue(p.stdout.endswith("}\n"))
        self.assertEqual(p.stdout.count("\n"), 1)
        return json.loads(p.stdout, parse_float=Decimal)

    def test_fields_from_the_records(self):
        r = self.report()
        self.assertEqual(r["session"], "alice-1")
        self.assertEqual(r["currency"], "USD")
        self.assertEqual(r["start"], int(START.timestamp() * 1000))
        self.assertEqual(r["end"], r["start"] + 5 * HOUR)
        self.assertEqual(r["initial_balance"], 50000)
        self.assertEqual(r["final_equity"], self.account.equity)  # flat: equity == balance
        self.assertEqual(r["pnl"], self.account.equity - 50000)
        fees = -sum(e.amount for e in self.ledger if e.kind == "fee")
        self.assertEqual(Decimal(str(r["fees"])), fees)
        self.assertEqual(r["fills"], 3)
        self.assertEqual(r["trades"], 2)
        self.assertEqual(r["options"], 1)
        self.assertEqual(r["options_won"] + r["options_lost"] + r["options_tied"], 1)
        # Net P&L of each trade and option; best and worst name their ids.
        nets = {}
        for e in self.ledger:
            if e.kind in ("fee", "pnl") and e.ref in (self.orders[1].id, self.orders[2].id):
                nets[("order", e.ref)] = nets.get(("order", e.ref), 0) + e.amount
        o = self.options[0]
        nets[("option", o.id)] = o.paid - o.stake
        self.assertEqual(Decimal(str(r["best_trade"])), max(nets.values()))
        self.assertEqual(Decimal(str(r["worst_trade"])), min(nets.values()))
        won = sum(1 for k, v in nets.items() if k[0] == "order" and v > 0)
        self.assertEqual(r["trades_won"], won)
        self.assertTrue(0 <= r["win_rate_low"] <= r["win_rate"] <= r["win_rate_high"] <= 1)
        self.assertEqual(r["exposure"], Decimal("0.6"))  # 10:00 to 13:00 of 09:00 to 14:00
        self.assertGreaterEqual(r["max_drawdown"], 0)
        self.assertEqual(r["sample_ms"], HOUR)
        self.assertEqual(r["samples"], 6)

    def test_same_as_python(self):
        p = run("report", "--db", self.db, "--session", "alice-1")
        self.assertEqual(p.stdout, self.py_json + "\n")

    def test_reads_only_and_is_repeatable(self):
        before = files_digest(self.db)
        a = run("report", "--db", self.db, "--session", "alice-1").stdout
        b = run("report", "--db", self.db, "--session", "alice-1").stdout
        self.assertEqual(a, b)
        self.assertEqual(files_digest(self.db), before)

    def test_sample_step(self):
        r = self.report("--sample-ms", "900000")
        self.assertEqual(r["sample_ms"], 900_000)
        self.assertEqual(r["samples"], 21)

    def test_idle_session(self):
        r = self.report(session="idle")
        self.assertEqual(r["pnl"], 0)
        self.assertEqual(r["trades"] + r["options"] + r["fills"], 0)
        self.assertEqual(r["win_rate_low"], 0)
        self.assertEqual(r["win_rate_high"], 1)
        self.assertEqual(r["sharpe"], 0)

    def test_errors(self):
        cases = [
            ((), 2, "missing required option --db"),
            (("--db", self.db), 2, "missing required option --session"),
            (("--session", "x"), 2, "missing required option --db"),
            (("--db", self.db, "--session", "alice-1", "--sample-ms", "999"), 2, "--sample-ms"),
            (("--db", self.db, "--session", "alice-1", "--sample-ms", "x"), 2, "--sample-ms"),
            (("--db", self.db, "--session", "alice-1", "extra"), 2, "unexpected argument"),
            (("--db", self.db, "--db", self.db, "--session", "a"), 2, "more than once"),
            (("--bogus",), 2, ""),
            (("--db", self.db + ".missing", "--session", "alice-1"), 1, "no such file"),
            (("--db", self.db, "--session", "nobody"), 1, "not found"),
        ]
        for args, code, text in cases:
            with self.subTest(args=args):
                p = run("report", *args)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertEqual(p.stdout, "")
                self.assertIn(text, p.stderr)
        self.assertFalse(os.path.exists(self.db + ".missing"))

    def test_help(self):
        p = run("report", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("usage: cmee report --db PATH --session ID"))


if __name__ == "__main__":
    unittest.main()
