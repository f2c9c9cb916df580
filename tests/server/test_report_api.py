# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server's GET /api/sessions/{id}/report: the session's results after trading through the
REST API, the token rule, bad parameters, and agreement with `cmee report` on the server's
database (which reads it without writing)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server  # noqa: E402

CMEE = os.environ.get("CMEE_BIN")


class ReportApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cmee-report-api-")
        cls.db = os.path.join(cls.tmp.name, "cmee.db")
        cls.srv = Server(db=cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.tmp.cleanup()

    def session(self):
        s = self.srv.create_session(symbols=["ETHUSD"], seed=3)
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        st, _, _, raw = self.srv.post(p + "/clock", {"action": "pause"}, token=t)
        self.assertEqual(st, 200, raw)
        return p, t

    def test_report_after_trading(self):
        p, t = self.session()
        step = {"action": "step", "ms": 3_600_000}
        self.assertEqual(self.srv.post(p + "/clock", step, token=t)[0], 200)
        st, _, o, raw = self.srv.post(p + "/orders", {"symbol": "ETHUSD", "side": "buy",
                                                      "qty": 2}, token=t)
        self.assertEqual(st, 201, raw)
        self.assertEqual(self.srv.post(p + "/clock", step, token=t)[0], 200)
        st, _, o, raw = self.srv.post(p + "/orders", {"symbol": "ETHUSD", "side": "sell",
                                                      "qty": 2}, token=t)
        self.assertEqual(st, 201, raw)
        st, _, r, raw = self.srv.get(p + "/report", token=t)
        self.assertEqual(st, 200, raw)
        r = json.loads(raw, parse_float=Decimal)
        self.assertEqual((r["fills"], r["trades"], r["options"]), (2, 1, 0))
        # Pausing takes a moment of wall time after the start: about two hours of sim time.
        span = r["end"] - r["start"]
        self.assertLess(abs(span - 2 * 3_600_000), 5000)
        self.assertEqual(r["samples"], len(range(r["start"], r["end"], 3_600_000)) + 1)
        self.assertLess(abs(r["exposure"] - Decimal("0.5")), Decimal("0.001"))
        st, _, acc, _ = self.srv.get(p + "/account", token=t)
        self.assertEqual(Decimal(str(acc["equity"])), r["final_equity"])
        self.assertEqual(r["pnl"], r["final_equity"] - r["initial_balance"])
        # ?sample_ms changes the curve's step.
        st, _, r2, _ = self.srv.get(p + "/report?sample_ms=1800000", token=t)
        self.assertEqual((st, r2["sample_ms"]), (200, 1800000))
        self.assertEqual(r2["samples"], len(range(r2["start"], r2["end"], 1800000)) + 1)
        # The CLI reads the same records from the server's database.
        if CMEE:
            sid = p.rsplit("/", 1)[1]
            c = subprocess.run([CMEE, "report", "--db", self.db, "--session", sid],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(c.returncode, 0, c.stderr)
            cli = json.loads(c.stdout, parse_float=Decimal)
            for k in ("session", "start", "end", "fills", "trades", "fees", "best_trade",
                      "worst_trade", "exposure", "initial_balance"):
                self.assertEqual(cli[k], r[k], k)

    def test_fill_model(self):
        for model in ("book", "quote"):
            s = self.srv.create_session(fill_model=model)
            st, _, j, _ = self.srv.get("/api/sessions/%s" % s["id"], token=s["token"])
            self.assertEqual((st, j["fill_model"]), (200, model))
        s = self.srv.create_session()
        st, _, j, _ = self.srv.get("/api/sessions/%s" % s["id"], token=s["token"])
        self.assertEqual(j["fill_model"], "book")
        for bad in ("mid", 3, None):
            st, _, j, raw = self.srv.post("/api/sessions", {"fill_model": bad})
            if bad is None:
                continue
            self.assertEqual(st, 400, raw)
            self.assertIn("fill_model", j["error"]["message"])

    def test_errors(self):
        p, t = self.session()
        self.assertEqual(self.srv.get(p + "/report")[0], 401)
        self.assertEqual(self.srv.get(p + "/report", token="0" * 64)[0], 403)
        for q, field in (("?sample_ms=999", "sample_ms"), ("?sample_ms=x", "sample_ms"),
                         ("?bogus=1", "bogus")):
            st, _, j, raw = self.srv.get(p + "/report" + q, token=t)
            self.assertEqual(st, 400, raw)
            self.assertIn(field, j["error"]["message"])
        st, _, j, _ = self.srv.get("/api/sessions/nosuchsession/report", token=t)
        self.assertIn(st, (403, 404))


if __name__ == "__main__":
    unittest.main()
