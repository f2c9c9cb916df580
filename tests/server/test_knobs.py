# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server's admin knobs on the public market (docs/server.md, "Admin knobs"), from outside:
tokens, validation, the public clock's speed, volatility and volume multipliers, reset to the
seed prices, the symbol list (REST and WebSocket), the event history and log lines, and a
restart on the same database that serves the same candles."""
import math
import os
import statistics
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import ADMIN_TOKEN, Server  # noqa: E402
from wsclient import WebSocket  # noqa: E402

KNOBS = [("post", "/api/admin/market/speed", {"speed": 2}),
         ("post", "/api/admin/market/symbols", {"disable": ["BTCUSD"]}),
         ("post", "/api/admin/market/multipliers", {"vol_mult": 2}),
         ("post", "/api/admin/market/reset", {}),
         ("get", "/api/admin/market", None)]
MIN = 60000


class KnobsBase(unittest.TestCase):
    def err(self, resp, status, code=None, mentions=None):
        st, _, j, raw = resp
        self.assertEqual(st, status, raw)
        self.assertEqual(set(j), {"error"}, raw)
        if code:
            self.assertEqual(j["error"]["code"], code, raw)
        if mentions:
            self.assertIn(mentions, j["error"]["message"], raw)
        return j["error"]

    @staticmethod
    def knob(srv, path, body):
        st, _, j, raw = srv.post("/api/admin/market/" + path, body, admin=ADMIN_TOKEN)
        if st != 200:
            raise AssertionError("%s: %s %s" % (path, st, raw))
        return j["event"]

    @staticmethod
    def state(srv):
        st, _, j, raw = srv.get("/api/admin/market", admin=ADMIN_TOKEN)
        assert st == 200, raw
        return j

    @staticmethod
    def candles(srv, sym, tf="1m", **q):
        qs = "&".join("%s=%s" % kv for kv in sorted(q.items()))
        st, _, j, raw = srv.get("/api/market/candles?symbol=%s&timeframe=%s&%s" % (sym, tf, qs))
        assert st == 200, raw
        return j["candles"]

    def wait_public(self, srv, t, timeout=60):
        """Wait until the public clock has passed t."""
        end = time.monotonic() + timeout
        while self.state(srv)["time"] <= t:
            self.assertLess(time.monotonic(), end, "the public clock did not reach %d" % t)
            time.sleep(0.2)


class TestKnobRules(KnobsBase):
    """Tokens, validation, speed: one server, a fresh in-memory store."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(db=":memory:", seed=11)

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_tokens(self):
        for method, path, body in KNOBS:
            kw = {"body": body} if body is not None else {}
            st, hdrs, j, raw = self.srv.request(method.upper(), path, **kw)
            self.assertEqual(st, 401, raw)
            self.assertIn("Bearer", hdrs.get("WWW-Authenticate", ""))
            self.err(self.srv.request(method.upper(), path, admin="wrong", **kw), 403,
                     "forbidden")
            self.err(self.srv.request(method.upper(), path, admin=ADMIN_TOKEN + "x", **kw), 403,
                     "forbidden")
        with Server(admin_token=None, db=":memory:") as other:
            for method, path, body in KNOBS:
                kw = {"body": body} if body is not None else {}
                self.err(other.request(method.upper(), path, admin="anything", **kw), 403,
                         "admin_disabled")
        # Nothing was recorded or changed.
        s = self.state(self.srv)
        self.assertTrue(all(e["kind"] != "symbols" for e in s["events"]))
        self.assertTrue(all(x["enabled"] for x in s["symbols"]))

    def test_openapi(self):
        st, _, doc, _ = self.srv.get("/openapi.json")
        self.assertEqual(st, 200)
        for method, path, _ in KNOBS:
            op = doc["paths"][path][method]
            self.assertIn("401", op["responses"])
            ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            self.assertIn(ref.rsplit("/", 1)[1], doc["components"]["schemas"])
        props = doc["components"]["schemas"]["KnobMultipliers"]["properties"]
        self.assertEqual(set(props), {"symbols", "vol_mult", "volume_mult"})

    def test_bad_values_name_the_field(self):
        before = len(self.state(self.srv)["events"])
        cases = [
            ("speed", {"speed": 0}, "speed:"), ("speed", {"speed": -1}, "speed:"),
            ("speed", {"speed": 100.5}, "speed:"), ("speed", {"speed": "fast"}, "speed:"),
            ("speed", {"speed": 0.0009}, "speed:"),
            ("speed", {"paused": "yes"}, "paused:"), ("speed", {}, "speed:"),
            ("speed", {"speed": 2, "sped": 1}, "sped"),
            ("symbols", {}, "enable:"), ("symbols", {"disable": "BTCUSD"}, "disable:"),
            ("symbols", {"disable": []}, "disable:"),
            ("symbols", {"disable": ["NOPE"]}, "disable[0]:"),
            ("symbols", {"enable": ["BTCUSD", 3]}, "enable[1]:"),
            ("symbols", {"disable": ["ETHUSD", "ETHUSD"]}, "disable[1]:"),
            ("symbols", {"disable": ["ETHUSD"], "enable": ["ETHUSD"]}, "disable[0]:"),
            ("multipliers", {}, "vol_mult:"), ("multipliers", {"vol_mult": 0}, "vol_mult:"),
            ("multipliers", {"vol_mult": 20.5}, "vol_mult:"),
            ("multipliers", {"vol_mult": "x"}, "vol_mult:"),
            ("multipliers", {"volume_mult": -2}, "volume_mult:"),
            ("multipliers", {"volume_mult": 101}, "volume_mult:"),
            ("multipliers", {"vol_mult": 2, "symbols": ["BTCUSD", "NOPE"]}, "symbols[1]:"),
            ("multipliers", {"vol_mult": 2, "symbols": "BTCUSD"}, "symbols:"),
            ("reset", {"symbols": []}, "symbols:"), ("reset", {"symbols": ["nope"]}, "symbols[0]:"),
            ("reset", {"all": True}, "all"),
        ]
        for path, body, field in cases:
            with self.subTest(path=path, body=body):
                e = self.err(self.srv.post("/api/admin/market/" + path, body, admin=ADMIN_TOKEN),
                             400)
                self.assertTrue(e["message"].startswith(field) or field in e["message"],
                                e["message"])
        for path in ("speed", "symbols", "multipliers", "reset"):
            self.err(self.srv.post("/api/admin/market/" + path, raw=b"{nope",
                                   headers={"Content-Type": "application/json"},
                                   admin=ADMIN_TOKEN), 400)
        self.assertEqual(len(self.state(self.srv)["events"]), before)

    def test_speed(self):
        # Speed 10: over at least a second of wall time the public clock moves about 10x as far,
        # and never backward.
        ev = self.knob(self.srv, "speed", {"speed": 10})
        self.assertEqual(ev["kind"], "speed")
        self.assertEqual(ev["speed"], 10)
        s0 = self.state(self.srv)
        self.assertEqual(s0["clock"]["speed"], 10)
        self.assertFalse(s0["clock"]["paused"])
        last, samples = s0["time"], []
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            st, _, j, _ = self.srv.get("/api/market/prices?symbols=EURUSD")
            self.assertEqual(st, 200)
            self.assertGreaterEqual(j["time"], last)
            last = j["time"]
            samples.append(j["time"])
            time.sleep(0.02)
        s1 = self.state(self.srv)
        ratio = (s1["time"] - s0["time"]) / (s1["wall"] - s0["wall"])
        self.assertGreater(ratio, 7, ratio)
        self.assertLess(ratio, 13, ratio)
        # The public market's candles end at its own now, ahead of the wall clock.
        c = self.candles(self.srv, "EURUSD", limit=2)
        now = self.state(self.srv)["time"]
        self.assertEqual(c[-1][0], (now // MIN) * MIN)
        self.assertGreater(now, s1["wall"] + 5000)

        # Paused: the clock stands still; resumed, it goes on from there.
        self.knob(self.srv, "speed", {"paused": True})
        p0 = self.state(self.srv)
        time.sleep(0.4)
        p1 = self.state(self.srv)
        self.assertEqual(p0["time"], p1["time"])
        self.assertTrue(p1["clock"]["paused"])
        self.assertEqual(p1["clock"]["speed"], 10)
        ev = self.knob(self.srv, "speed", {"speed": 1, "paused": False})
        self.assertGreaterEqual(ev["time"], p1["time"])
        time.sleep(0.3)
        p2 = self.state(self.srv)
        self.assertGreaterEqual(p2["time"], p1["time"])
        self.assertLess(p2["time"] - p1["time"], 3000)
        kinds = [e["kind"] for e in p2["events"]]
        self.assertEqual(kinds[-3:], ["speed"] * 3)
        seqs = [e["seq"] for e in p2["events"]]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))


class TestPausedClock(KnobsBase):
    """With the clock paused, several changes fall in one minute: the last one carries the
    earlier ones' effect (a reset, then multipliers on the same symbols, still resets)."""

    def test_changes_in_one_minute(self):
        with Server(db=":memory:", seed=5) as srv:
            self.knob(srv, "speed", {"speed": 50, "paused": True})
            t0 = self.state(srv)["time"]
            time.sleep(0.3)
            self.assertEqual(self.state(srv)["time"], t0)
            # The two symbols farthest from their seed prices (the clock decides which).
            seeds = {x["symbol"]: x["seed_price"] for x in self.state(srv)["symbols"]}
            _, _, j, _ = srv.get("/api/market/prices")
            far = sorted(j["prices"], key=lambda p: -abs(math.log(p["price"] / seeds[p["symbol"]])))
            a, b = far[0]["symbol"], far[1]["symbol"]
            reset = self.knob(srv, "reset", {"symbols": [a, b]})
            mult = self.knob(srv, "multipliers", {"symbols": [a], "vol_mult": 2,
                                                  "volume_mult": 3})
            self.assertEqual(reset["time"], t0)
            self.assertEqual(mult["effective"], reset["effective"])
            # Candles up to now are the same as before the changes.
            before = self.candles(srv, a, limit=30)
            self.knob(srv, "speed", {"paused": False})
            self.wait_public(srv, reset["effective"] + 3 * MIN)
            after = self.candles(srv, a, **{"from": reset["effective"] - 30 * MIN,
                                                   "to": reset["effective"] + 3 * MIN})
            self.assertEqual(after[:29], before[:29])
            for sym in (a, b):
                move = reset["symbols"][sym]["from"] / reset["symbols"][sym]["to"]
                self.assertGreater(abs(move - 1), 0.1, (sym, move))  # a real move back
                c = self.candles(srv, sym, **{"from": reset["effective"],
                                              "to": reset["effective"] + MIN})
                seed = reset["symbols"][sym]["to"]
                # One minute of the symbol's own moves after the jump (fat-tailed for some).
                self.assertLess(abs(c[0][4] / seed - 1), 0.03, (sym, c, seed))
            st = {s["symbol"]: s for s in self.state(srv)["symbols"]}
            self.assertEqual((st[a]["vol_mult"], st[a]["volume_mult"]), (2, 3))
            self.assertEqual((st[b]["vol_mult"], st[b]["volume_mult"]), (1, 1))


class TestKnobsOnTheMarket(KnobsBase):
    """Multipliers, reset, the symbol list, history and a restart, on one database file."""

    SEED = 23
    ENV = {"CMEE_KNOB_RENEW_MS": "120000"}  # renewals every 2 market minutes

    def start(self):
        old = {k: os.environ.get(k) for k in self.ENV}
        os.environ.update(self.ENV)
        try:
            return Server(db=self.db, seed=self.SEED)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cmee-knobs-")
        self.addCleanup(self.tmp.cleanup)
        self.db = os.path.join(self.tmp.name, "knobs.db")

    @staticmethod
    def returns(cs):
        return [math.log(b[4] / a[4]) for a, b in zip(cs, cs[1:])]

    def test_knobs_end_to_end(self):
        with self.start() as srv:
            self.run_knobs(srv)
            fixed, state = self.snapshot(srv)
            # One structured log line per event, in order, with the event as the history has it.
            # Info lines reach the file in batches (32 KiB or 50 ms): wait for the last one.
            deadline = time.monotonic() + 5
            while True:
                logged = [x for x in srv.log_lines() if x.get("msg") == "admin knob"]
                if len(logged) >= len(state["events"]) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual([x["event"] for x in logged], state["events"])
            self.assertTrue(all(x["level"] == "info" for x in logged))

        # The same database and seed: the same market, the same knobs.
        with self.start() as srv2:
            fixed2, state2 = self.snapshot(srv2, fixed)
            self.assertEqual(len(fixed), 15)
            for key in fixed:
                self.assertGreater(len(fixed[key]), 250, key)
                self.assertEqual(fixed2[key], fixed[key], key)
            self.assertEqual(state2["events"], state["events"])
            self.assertEqual(state2["symbols"], state["symbols"])
            self.assertEqual(state2["clock"], state["clock"])
            self.assertGreaterEqual(state2["time"], state["time"])

    def snapshot(self, srv, like=None):
        """Candles over fixed ranges (all complete), and the knob state."""
        state = self.state(srv)
        if like is None:
            like = {}
            for sym in ("BTCUSD", "ETHUSD", "EURUSD", "SOLUSD", "ACME"):
                for tf, n in (("1m", 400), ("5m", 400), ("1h", 300)):
                    tfms = {"1m": MIN, "5m": 5 * MIN, "1h": 60 * MIN}[tf]
                    to = (state["time"] // tfms) * tfms  # complete candles only
                    like[(sym, tf, to - n * tfms, to)] = None
        out = {}
        for (sym, tf, a, b) in like:
            out[(sym, tf, a, b)] = self.candles(srv, sym, tf, **{"from": a, "to": b})
        return out, state

    def run_knobs(self, srv):
        pre = {s: self.candles(srv, s, limit=400) for s in ("BTCUSD", "ETHUSD")}
        self.knob(srv, "speed", {"speed": 100})
        vol = self.knob(srv, "multipliers", {"symbols": ["BTCUSD"], "vol_mult": 5})
        volu = self.knob(srv, "multipliers", {"symbols": ["ETHUSD"], "volume_mult": 4})
        self.assertEqual(vol["effective"] % MIN, 0)
        self.assertGreaterEqual(vol["effective"], vol["time"])
        self.assertLess(vol["effective"] - vol["time"], MIN)
        self.assertEqual(vol["symbols"], ["BTCUSD"])
        # A multiplier on every symbol (no list), then back to 1 everywhere but BTC and ETH.
        allv = self.knob(srv, "multipliers", {"volume_mult": 1.5})
        self.assertEqual(len(allv["symbols"]), len(self.state(srv)["symbols"]))
        self.knob(srv, "multipliers", {"symbols": [s["symbol"] for s in self.state(srv)["symbols"]
                                                   if s["symbol"] not in ("BTCUSD", "ETHUSD")],
                                       "volume_mult": 1})
        self.knob(srv, "multipliers", {"symbols": ["BTCUSD", "ETHUSD"], "volume_mult": 1})
        self.knob(srv, "multipliers", {"symbols": ["ETHUSD"], "volume_mult": 4})
        eff = max(vol["effective"], volu["effective"])
        self.wait_public(srv, eff + 31 * MIN)

        # Volatility: candles before the event are those served before it, byte for byte;
        # after it, 1m log returns are clearly more volatile. With n returns the sample
        # standard deviation is within about 1/sqrt(2n) of the truth (n >= 30: 13 %), so a
        # factor 5 cannot show as less than 2.5 by chance.
        btc = self.candles(srv, "BTCUSD", limit=500)
        old = [c for c in pre["BTCUSD"][:-1] if c[0] < vol["effective"]]
        self.assertEqual([c for c in btc if c[0] in {o[0] for o in old}], old)
        after = [c for c in btc[:-1] if c[0] >= vol["effective"]]
        before = [c for c in btc if c[0] < vol["effective"]][-300:]
        self.assertGreaterEqual(len(after), 30)
        ratio = statistics.pstdev(self.returns(after)) / statistics.pstdev(self.returns(before))
        print("\nvolatility x%.2f over %d returns after the event" % (ratio, len(after) - 1),
              file=sys.stderr)
        self.assertGreater(ratio, 2.5, ratio)
        self.assertLess(ratio, 10, ratio)
        for a, b in zip(btc, btc[1:]):  # no gap at the change
            self.assertEqual(b[1], a[4])

        # Volume: 4x the volume from the event on; the same before.
        eth = self.candles(srv, "ETHUSD", limit=500)
        oldeth = [c for c in pre["ETHUSD"][:-1] if c[0] < volu["effective"]]
        self.assertEqual([c for c in eth if c[0] in {o[0] for o in oldeth}], oldeth)
        va = [c[5] for c in eth[:-1] if c[0] >= volu["effective"]]
        vb = [c[5] for c in eth if c[0] < volu["effective"]][-300:]
        vr = statistics.mean(va) / statistics.mean(vb)
        print("volume x%.2f over %d candles after the event" % (vr, len(va)), file=sys.stderr)
        self.assertGreater(vr, 2.5, vr)
        self.assertLess(vr, 6.5, vr)

        # Reset: every symbol far from its seed price is back at it right after.
        st = self.state(srv)
        seeds = {s["symbol"]: s["seed_price"] for s in st["symbols"]}
        ev = self.knob(srv, "reset", {})
        self.assertEqual(set(ev["symbols"]), set(seeds))
        far = [s for s, m in ev["symbols"].items()
               if abs(m["from"] / m["to"] - 1) > 0.1 and s != "BTCUSD"]
        self.assertGreater(len(far), 3)
        self.wait_public(srv, ev["effective"] + 2 * MIN)
        for s in far:
            c = self.candles(srv, s, **{"from": ev["effective"] - MIN,
                                        "to": ev["effective"] + MIN})
            self.assertEqual(c[0][4], c[1][1])
            self.assertAlmostEqual(c[0][4], ev["symbols"][s]["from"], delta=1e-9 * seeds[s])
            self.assertLess(abs(c[1][4] / seeds[s] - 1), 0.03, (s, c, seeds[s]))

        # The symbol list: a disabled symbol is gone from symbols, prices, candles, the order
        # book and WebSocket subscriptions, and comes back when re-enabled.
        self.knob(srv, "symbols", {"disable": ["SOLUSD", "XRPUSD"]})
        _, _, j, _ = srv.get("/api/market/symbols")
        names = [s["symbol"] for s in j["symbols"]]
        self.assertNotIn("SOLUSD", names)
        self.assertIn("ETHUSD", names)
        _, _, j, _ = srv.get("/api/market/prices")
        self.assertNotIn("SOLUSD", [p["symbol"] for p in j["prices"]])
        for path in ("/api/market/prices?symbols=ETHUSD,SOLUSD",
                     "/api/market/candles?symbol=SOLUSD", "/api/market/orderbook?symbol=SOLUSD",
                     "/api/market/trades?symbol=SOLUSD",
                     "/api/market/indicators?symbol=SOLUSD&name=sma"):
            self.err(srv.get(path), 404, "symbol_disabled", "SOLUSD")
        w = WebSocket("127.0.0.1", srv.port)
        try:
            for ch in ("ticks", "candles", "orderbook", "trades"):
                w.send_json({"op": "subscribe", "channel": ch, "symbol": "SOLUSD"})
                m, _ = w.recv_until(lambda m: m.get("type") in ("error", "subscribed"))
                self.assertEqual(m["type"], "error", m)
                self.assertEqual(m["error"]["code"], "symbol_disabled")
                self.assertIn("SOLUSD", m["error"]["message"])
            self.knob(srv, "symbols", {"enable": ["SOLUSD"]})
            w.send_json({"op": "subscribe", "channel": "ticks", "symbol": "SOLUSD"})
            m, _ = w.recv_until(lambda m: m.get("type") in ("error", "subscribed"))
            self.assertEqual(m["type"], "subscribed", m)
        finally:
            w.close()
        _, _, j, _ = srv.get("/api/market/symbols")
        names = [s["symbol"] for s in j["symbols"]]
        self.assertIn("SOLUSD", names)
        self.assertNotIn("XRPUSD", names)
        self.assertEqual(srv.get("/api/market/candles?symbol=SOLUSD&limit=3")[0], 200)

        # A custom symbol: checked by the library (400 naming the field), unique (409), then
        # served like the others, on the public market only.
        bad = [({"symbol": "ACME"}, "add[0].seed_price:"),
               ({"symbol": "ACME", "seed_price": 42, "volatility": 9}, "add[0].volatility:"),
               ({"symbol": "a b", "seed_price": 42}, "add[0].symbol:"),
               ({"symbol": "ACME", "seed_price": 42, "colour": 1}, "add[0].colour:"),
               ({"symbol": "ACME", "seed_price": 42, "class": "art"}, "add[0].class:")]
        for spec, field in bad:
            self.err(srv.post("/api/admin/market/symbols", {"add": [spec]}, admin=ADMIN_TOKEN),
                     400, "invalid_parameter", field)
        self.err(srv.post("/api/admin/market/symbols",
                          {"add": [{"symbol": "ETHUSD", "seed_price": 1}]}, admin=ADMIN_TOKEN),
                 409, "conflict", "add[0].symbol:")
        ev = self.knob(srv, "symbols", {"add": [{"symbol": "ACME", "seed_price": 42,
                                                 "volatility": 0.5, "class": "stock"}]})
        self.assertEqual(ev["add"][0]["tick_size"], 0.01)  # every field, defaults included
        _, _, j, _ = srv.get("/api/market/symbols")
        acme = [s for s in j["symbols"] if s["symbol"] == "ACME"]
        self.assertEqual(len(acme), 1)
        self.assertEqual(acme[0]["class"], "stock")
        self.assertEqual(len(self.candles(srv, "ACME", limit=5)), 5)
        self.err(srv.post("/api/admin/market/symbols",
                          {"add": [{"symbol": "ACME", "seed_price": 1}]}, admin=ADMIN_TOKEN),
                 409, "conflict")
        self.err(srv.post("/api/sessions", {"symbols": ["ACME"]}), 400, "invalid_parameter",
                 "ACME")

        # The history: every change in order, and the state it leads to.
        st = self.state(srv)
        self.assertEqual([e["kind"] for e in st["events"]],
                         ["speed"] + ["multipliers"] * 6 + ["reset"] + ["symbols"] * 3)
        self.assertEqual([e["seq"] for e in st["events"]], list(range(1, 12)))
        times = [e["time"] for e in st["events"]]
        self.assertEqual(times, sorted(times))
        by = {s["symbol"]: s for s in st["symbols"]}
        self.assertEqual((by["BTCUSD"]["vol_mult"], by["BTCUSD"]["volume_mult"]), (5, 1))
        self.assertEqual((by["ETHUSD"]["vol_mult"], by["ETHUSD"]["volume_mult"]), (1, 4))
        self.assertEqual((by["EURUSD"]["vol_mult"], by["EURUSD"]["volume_mult"]), (1, 1))
        self.assertFalse(by["XRPUSD"]["enabled"])
        self.assertTrue(by["SOLUSD"]["enabled"])
        self.assertEqual(st["clock"]["speed"], 100)


if __name__ == "__main__":
    unittest.main()
