# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server and market impact (docs/sessions.md "Market impact"): the optional "impact"
object of POST /api/sessions, echoed by the session's JSON, off by default; bad values 400
naming the field; a session's big buy moves its own candles and prices up from the fill on and
leaves the candles before it, and a second session of the same seed, untouched."""
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server  # noqa: E402

MIN = 60_000


class ImpactApiTest(unittest.TestCase):
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
        return s, p, t

    def err(self, body, mentions):
        st, _, j, raw = self.srv.post("/api/sessions", body)
        self.assertEqual(st, 400, raw)
        self.assertEqual(j["error"]["code"], "invalid_parameter", raw)
        self.assertIn(mentions, j["error"]["message"], raw)

    def test_default_and_echo(self):
        s, p, t = self.session()
        self.assertEqual(s["impact"], {"model": "none", "coefficient": 1, "half_life": 300000})
        s, p, t = self.session(impact={"model": "sqrt", "coefficient": 0.5, "half_life": 90000})
        self.assertEqual(s["impact"], {"model": "sqrt", "coefficient": 0.5, "half_life": 90000})
        st, _, j, raw = self.srv.get(p, token=t)
        self.assertEqual(st, 200, raw)
        self.assertEqual(j["impact"], s["impact"])
        s, _, _ = self.session(impact={"model": "sqrt"})  # the rest defaults
        self.assertEqual(s["impact"], {"model": "sqrt", "coefficient": 1, "half_life": 300000})

    def test_bad_values(self):
        self.err({"impact": 5}, "impact")
        self.err({"impact": "sqrt"}, "impact")
        self.err({"impact": {"model": "linear"}}, "impact.model")
        self.err({"impact": {"model": 1}}, "impact.model")
        self.err({"impact": {"model": "sqrt", "coefficient": 0}}, "impact.coefficient")
        self.err({"impact": {"coefficient": 10.5}}, "impact.coefficient")
        self.err({"impact": {"coefficient": "1"}}, "impact.coefficient")
        self.err({"impact": {"half_life": 999}}, "impact.half_life")
        self.err({"impact": {"half_life": 86400001}}, "impact.half_life")
        self.err({"impact": {"half_life": 1500.5}}, "impact.half_life")
        self.err({"impact": {"half_life": 1e300}}, "impact.half_life")
        self.err({"impact": {"decay": 1}}, "impact.decay")

    def test_openapi(self):
        st, _, doc, raw = self.srv.get("/openapi.json")
        self.assertEqual(st, 200, raw)
        schemas = doc["components"]["schemas"]
        ref = {"$ref": "#/components/schemas/Impact"}
        self.assertEqual(schemas["SessionCreate"]["properties"]["impact"], ref)
        self.assertEqual(schemas["Session"]["properties"]["impact"], ref)
        props = schemas["Impact"]["properties"]
        self.assertEqual(set(props), {"model", "coefficient", "half_life"})
        self.assertEqual(props["model"]["enum"], ["none", "sqrt"])
        self.assertEqual((props["half_life"]["minimum"], props["half_life"]["maximum"]),
                         (1000, 86400000))

    def candles(self, p, t, limit=30):
        st, _, j, raw = self.srv.get(p + "/candles?symbol=BTCUSD&timeframe=1m&limit=%d" % limit,
                                     token=t)
        self.assertEqual(st, 200, raw)
        return {c[0]: c for c in j["candles"]}

    def price(self, p, t):
        st, _, j, raw = self.srv.get(p + "/prices", token=t)
        self.assertEqual(st, 200, raw)
        return next(x for x in j["prices"] if x["symbol"] == "BTCUSD")

    def test_visible_in_the_session_only(self):
        imp = {"model": "sqrt", "coefficient": 1, "half_life": 120000}
        _, pa, ta = self.session(seed=17, symbols=["BTCUSD"], balance=1e9, impact=imp)
        _, pb, tb = self.session(seed=17, symbols=["BTCUSD"], balance=1e9, impact=imp)
        for p, t in ((pa, ta), (pb, tb)):
            st, _, _, raw = self.srv.post(p + "/clock", {"action": "step", "ms": 20_000},
                                          token=t)
            self.assertEqual(st, 200, raw)
        st, _, o, raw = self.srv.post(pa + "/orders", {"symbol": "BTCUSD", "side": "buy",
                                                       "qty": 1000}, token=ta)
        self.assertEqual(st, 201, raw)
        for p, t in ((pa, ta), (pb, tb)):
            st, _, _, raw = self.srv.post(p + "/clock", {"action": "step", "ms": 10 * MIN},
                                          token=t)
            self.assertEqual(st, 200, raw)
        ca, cb = self.candles(pa, ta), self.candles(pb, tb)
        fill_minute = o["closed"] - o["closed"] % MIN
        # Complete candles only: the two sessions were created (and paused) a moment apart, so
        # their forming candles stop at different ticks, which says nothing about the impact.
        del ca[max(ca)], cb[max(cb)]
        common = sorted(set(ca) & set(cb))
        self.assertGreater(len(common), 20)
        first_moved = next(k for k in common if ca[k] != cb[k])
        self.assertEqual(first_moved, fill_minute)
        before = [k for k in common if k < first_moved]
        self.assertGreater(len(before), 5)  # the candles before the fill are the same
        after = [k for k in common if k > first_moved]
        self.assertTrue(all(ca[k][4] >= cb[k][4] for k in after))
        self.assertTrue(any(ca[k][4] > cb[k][4] for k in after))
        # 1000 BTC: +0.48 % at the fill, 2^-5 of it ten minutes (five half-lives) later: the
        # last complete minute closes at least nine minutes after the fill.
        last = common[-1]
        self.assertGreaterEqual(last - fill_minute, 8 * MIN)
        self.assertGreater(ca[last][4], cb[last][4])
        self.assertLess(math.log(ca[last][4] / cb[last][4]), 0.0048 * 2 ** -3)
        # The session's price (at its own now) carries the impact as well.
        qa = self.price(pa, ta)
        self.assertEqual(qa["symbol"], "BTCUSD")


if __name__ == "__main__":
    unittest.main()
