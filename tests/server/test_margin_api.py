# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server and margin accounts (docs/sessions.md "Margin accounts"): leverage and its
per-class caps at session creation, the account's margin level, 422 past the free margin, bad
settings 400, and a liquidation through the crash preset shown as "liquidation" orders."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server  # noqa: E402

HOUR = 3_600_000


class MarginApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(db=":memory:")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def session(self, **kw):
        s = self.srv.create_session(**kw)
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        st, _, _, raw = self.srv.post(p + "/clock", {"action": "pause"}, token=t)
        self.assertEqual(st, 200, raw)
        return p, t

    def test_settings_echoed(self):
        p, t = self.session(leverage=20, max_leverage={"crypto": 3, "fx": 100},
                            margin_call_level=0.8, maintenance_level=0.4)
        st, _, j, raw = self.srv.get(p, token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual(j["leverage"], 20)
        self.assertEqual(j["max_leverage"]["crypto"], 3)
        self.assertEqual(j["max_leverage"]["fx"], 100)
        self.assertEqual(j["max_leverage"]["stock"], 5)  # the default cap
        self.assertEqual((j["margin_call_level"], j["maintenance_level"]), (0.8, 0.4))
        p, t = self.session()
        st, _, j, _ = self.srv.get(p, token=t)
        self.assertEqual(j["leverage"], 1)

    def test_leveraged_position_and_refusal(self):
        p, t = self.session(symbols=["EURUSD"], balance=10000, leverage=20)
        st, _, acc, _ = self.srv.get(p + "/account", token=t)
        self.assertIsNone(acc["margin_level"])  # no position: infinite, written as null
        self.assertFalse(acc["margin_call"])
        # 100,000 EUR is about ten times the balance: fine at 20x (margin about 5,200).
        st, _, o, raw = self.srv.post(p + "/orders", {"symbol": "EURUSD", "side": "buy",
                                                      "qty": 100000}, token=t)
        self.assertEqual(st, 201, raw)
        st, _, acc, _ = self.srv.get(p + "/account", token=t)
        pos = acc["positions"][0]
        self.assertEqual(pos["leverage"], 20)
        self.assertAlmostEqual(pos["margin"], pos["qty"] * pos["avg_price"] / 20, places=6)
        self.assertAlmostEqual(acc["margin_level"], acc["equity"] / acc["used_margin"], places=9)
        # Another 200,000 would need more than the free margin: 422, nothing changes.
        st, _, j, raw = self.srv.post(p + "/orders", {"symbol": "EURUSD", "side": "buy",
                                                      "qty": 200000}, token=t)
        self.assertEqual(st, 422, raw)
        st, _, acc2, _ = self.srv.get(p + "/account", token=t)
        self.assertEqual(acc2["ledger_entries"], acc["ledger_entries"])
        self.assertEqual(acc2["positions"], acc["positions"])

    def test_liquidation_through_a_crash(self):
        p, t = self.session(symbols=["BTCUSD"], balance=10000, leverage=5, scenario="crash",
                            seed=4)
        st, _, o, raw = self.srv.post(p + "/orders", {"symbol": "BTCUSD", "side": "buy",
                                                      "qty": 0.5}, token=t)
        self.assertEqual(st, 201, raw)
        for _ in range(72):
            st, _, _, raw = self.srv.post(p + "/clock", {"action": "step", "ms": HOUR}, token=t)
            self.assertEqual(st, 200, raw)
            st, _, acc, _ = self.srv.get(p + "/account", token=t)
            if not acc["positions"]:
                break
        self.assertEqual(acc["positions"], [])
        liq = [x for x in acc["orders"] if x["type"] == "liquidation"]
        self.assertEqual(len(liq), 1)
        self.assertEqual(liq[0]["state"], "filled")
        # The ledger still explains the balance.
        total = sum(e["amount"] for e in acc["ledger"])
        self.assertAlmostEqual(total, acc["balance"], places=6)

    def test_bad_settings(self):
        for body, field in (({"leverage": 0}, "leverage"), ({"leverage": 5000}, "leverage"),
                            ({"leverage": "x"}, "leverage"),
                            ({"max_leverage": {"crypto": -1}}, "max_leverage"),
                            ({"max_leverage": {"gold": 2}}, "max_leverage"),
                            ({"max_leverage": [2]}, "max_leverage"),
                            ({"maintenance_level": 2}, "maintenance_level"),
                            ({"margin_call_level": -1}, "margin_call_level")):
            with self.subTest(body=body):
                st, _, j, raw = self.srv.post("/api/sessions", body)
                self.assertEqual(st, 400, raw)
                self.assertIn(field, j["error"]["message"])


if __name__ == "__main__":
    unittest.main()
