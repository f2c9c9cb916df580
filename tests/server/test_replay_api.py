# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server, reset and replay check (docs/server.md): POST /api/sessions/{id}/reset returns
the session to its start state in a new epoch (session token required), and GET
/api/sessions/{id}/replay-check replays the current epoch from its action log and reports that
every record is the same, before and after a reset; both are in the OpenAPI document."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server  # noqa: E402


class ReplayApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(db=":memory:")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def session(self):
        s = self.srv.create_session(balance=10000)
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        st, _, _, raw = self.srv.post(p + "/clock", {"action": "pause"}, token=t)
        self.assertEqual(st, 200, raw)
        return s, p, t

    def trade(self, p, t):
        for side in ("buy", "sell", "buy"):
            st, _, _, raw = self.srv.post(p + "/orders", {"symbol": "EURUSD", "side": side,
                                                          "qty": 1000}, token=t)
            self.assertEqual(st, 201, raw)
            st, _, _, raw = self.srv.post(p + "/clock", {"action": "step", "ms": 600000},
                                          token=t)
            self.assertEqual(st, 200, raw)

    def check(self, p, t):
        st, _, j, raw = self.srv.get(p + "/replay-check", token=t)
        self.assertEqual(st, 200, raw)
        return j

    def test_replay_check(self):
        s, p, t = self.session()
        self.trade(p, t)
        j = self.check(p, t)
        self.assertTrue(j["same"], j)
        self.assertIsNone(j["difference"])
        self.assertEqual(j["epoch"], 1)
        self.assertEqual(j["orders"], 3)
        self.assertGreaterEqual(j["actions"], 7)  # pause, 3 orders, 3 steps
        st, _, _, _ = self.srv.get(p + "/replay-check")
        self.assertEqual(st, 401)
        st, _, _, _ = self.srv.get(p + "/replay-check", token="nope")
        self.assertIn(st, (401, 403))

    def test_reset(self):
        s, p, t = self.session()
        self.trade(p, t)
        st, _, j, raw = self.srv.get(p + "/account", token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual(len(j["orders"]), 3)
        self.assertEqual(j["epoch"], 1)
        st, _, _, _ = self.srv.post(p + "/reset")
        self.assertEqual(st, 401)
        st, _, j, raw = self.srv.post(p + "/reset", token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual(j["epoch"], 2)
        self.assertEqual(j["id"], s["id"])
        st, _, a, raw = self.srv.get(p + "/account", token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual(a["orders"], [])
        self.assertEqual(a["positions"], [])
        self.assertEqual(a["balance"], 10000)
        self.assertEqual(a["ledger_entries"], 1)
        self.assertEqual(a["epoch"], 2)
        # The clock is back at the start, running as the session was created (not paused).
        self.assertFalse(j["paused"])
        self.assertTrue(0 <= a["time"] - j["now"] < 60000, (a["time"], j["now"]))
        st, _, g, raw = self.srv.get(p, token=t)
        self.assertEqual(st, 200, raw)
        self.trade(p, t)
        c = self.check(p, t)
        self.assertTrue(c["same"], c)
        self.assertEqual(c["epoch"], 2)
        self.assertEqual(c["orders"], 3)
        # The old epoch stays readable; the new one is the current one.
        st, _, h, raw = self.srv.get(p + "/history?epoch=1", token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual((h["epoch"], h["current_epoch"]), (1, 2))
        self.assertEqual(len(h["orders"]), 3)
        self.assertEqual(len(h["ledger"]), 1 + 3 + 1)  # deposit, 3 fees, the sell's P&L
        st, _, h2, raw = self.srv.get(p + "/history", token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual(h2["epoch"], 2)
        self.assertEqual(len(h2["orders"]), 3)
        for bad in ("0", "3"):
            st, _, j, raw = self.srv.get(p + "/history?epoch=" + bad, token=t)
            self.assertEqual(st, 404, raw)
        st, _, j, raw = self.srv.get(p + "/history?epoch=x", token=t)
        self.assertEqual(st, 400, raw)
        st, _, _, _ = self.srv.get(p + "/history?epoch=1")
        self.assertEqual(st, 401)

    def test_openapi(self):
        st, _, doc, raw = self.srv.get("/openapi.json")
        self.assertEqual(st, 200, raw)
        paths = doc["paths"]
        self.assertIn("post", paths["/api/sessions/{id}/reset"])
        self.assertIn("get", paths["/api/sessions/{id}/replay-check"])
        self.assertIn("get", paths["/api/sessions/{id}/history"])
        props = doc["components"]["schemas"]["ReplayCheck"]["properties"]
        self.assertTrue({"same", "actions", "difference", "epoch"} <= set(props))
        self.assertIn("epoch", doc["components"]["schemas"]["SessionReset"]["properties"])


if __name__ == "__main__":
    unittest.main()
