# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of `cmee replay --db PATH --session ID`: a database made with the Python
bindings, the real binary replaying a stored session read-only: same (exit 0) before and after
a reset, nothing written, unknown sessions and bad arguments refused. Needs CMEE_BIN, and the
bindings (PYTHONPATH and CMEE_LIBRARY) to build the database."""

import datetime as dt
import glob
import hashlib
import json
import os
import subprocess
import tempfile
import unittest

import cmee

BIN = os.environ.get("CMEE_BIN", "cmee")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
HOUR = 3_600_000


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


def files_digest(path):
    h = hashlib.sha256()
    for f in sorted(glob.glob(path + "*")):
        with open(f, "rb") as fh:
            h.update(f.encode() + fh.read())
    return h.hexdigest()


class ReplayCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cmee-replay-")
        cls.db = os.path.join(cls.tmp.name, "cmee.db")
        with cmee.Store(cls.db) as store:
            s = cmee.Session(seed=5, start=START, manual_clock=True, balance=50000,
                             id="alice", store=store, scenario="crash", leverage=5)
            s.step(HOUR)
            s.buy("ETHUSD", 3, stop_loss=s.quote("ETHUSD").bid * 0.99)
            s.step(2 * HOUR)
            s.option("BTCUSD", "call", 100, 300_000)
            s.step(HOUR)
            cls.orders = len(s.orders())
            cls.actions = len(s.actions())
            s.close()
            b = cmee.Session(seed=6, start=START, manual_clock=True, id="bob", store=store)
            b.buy("EURUSD", 1000)
            b.step(HOUR)
            b.reset()
            b.sell("EURUSD", 500)
            b.close()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same(self):
        before = files_digest(self.db)
        p = run("replay", "--db", self.db, "--session", "alice")
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertEqual(j, {"session": "alice", "epoch": 1, "same": True,
                             "actions": self.actions, "orders": self.orders, "options": 1,
                             "ledger_entries": j["ledger_entries"], "difference": None})
        self.assertGreater(j["ledger_entries"], 3)
        self.assertEqual(p.stdout.count("\n"), 1)
        self.assertEqual(files_digest(self.db), before)

    def test_after_reset(self):
        p = run("replay", "--db", self.db, "--session", "bob")
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertEqual((j["epoch"], j["same"], j["orders"]), (2, True, 1))

    def test_errors(self):
        p = run("replay", "--db", self.db, "--session", "nobody")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not found", p.stderr)
        p = run("replay", "--db", os.path.join(self.tmp.name, "missing.db"), "--session", "x")
        self.assertEqual(p.returncode, 1)
        for args in (("--session", "alice"), ("--db", self.db), ("--db", self.db, "--session",
                     "alice", "extra"), ("--db", self.db, "--db", self.db, "--session", "a"),
                     ("--bogus",)):
            p = run("replay", *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("usage: cmee replay", p.stderr)
        p = run("replay", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("bit for bit", p.stdout)


if __name__ == "__main__":
    unittest.main()
