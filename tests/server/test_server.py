# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server from outside: every REST endpoint, errors and limits, session tokens, admin
tokens, scenarios, and persistence across a restart. Standard library only; the server binary
comes from CMEE_SERVER_BIN."""
import decimal
import hashlib
import hmac
import json
import math
import os
import re
import stat
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import ADMIN_TOKEN, Server  # noqa: E402

NUMBER = re.compile(rb'(?<![\w".])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')


def numbers_are_shortest(raw):
    """Every number in a JSON text is in its shortest round-trip form (what repr prints)."""
    text = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw)  # drop strings
    for tok in NUMBER.findall(text):
        s = tok.decode()
        if "." in s or "e" in s or "E" in s:
            if repr(float(s)) != s and repr(float(s)).replace("e+", "e") != s:
                return s
    return None


def old_real(v):
    """How the server printed a real before it had a fast path: the shortest of %.15g, %.16g
    and %.17g that reads back to v (examples/common/httpd.c, format_real())."""
    for prec in (15, 16, 17):
        s = "%.*g" % (prec, v)
        if float(s) == v:
            return s
    return s


def old_number(v):
    """httpd_json_number() then printing: whole numbers below 2^53 as integers."""
    if v == math.floor(v) and abs(v) < 2.0 ** 53:
        return "%d" % int(v)
    return old_real(v)


def reals_in_old_form(raw):
    """Every real in a JSON text is printed exactly as the general path prints it; returns the
    first that is not, or None."""
    text = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw)  # drop strings
    for tok in NUMBER.findall(text):
        s = tok.decode()
        if ("." in s or "e" in s or "E" in s) and old_real(float(s)) != s:
            return s
    return None


def c_round(x):
    """C's round(): halfway cases away from zero, on the exact value of the double."""
    return float(decimal.Decimal(x).to_integral_value(rounding=decimal.ROUND_HALF_UP))


def bindings():
    """The cmee Python package next to the server's build, or None."""
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(os.environ["CMEE_SERVER_BIN"])))), "lib", "libcmee.so")
    if os.path.exists(lib):
        os.environ.setdefault("CMEE_LIBRARY", lib)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "bindings", "python"))
    try:
        import cmee
    except ImportError:
        return None
    return cmee


CANDLE = re.compile(rb'\[(-?\d+),([^,\]]+),([^,\]]+),([^,\]]+),([^,\]]+),([^,\]]+)\]')


class ServerTest(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.__exit__(None, None, None)

    # -- helpers --------------------------------------------------------------------------
    def err(self, resp, status, code=None, mentions=None):
        st, _, j, raw = resp
        self.assertEqual(st, status, raw)
        self.assertIsInstance(j, dict, raw)
        self.assertEqual(set(j), {"error"}, raw)
        self.assertEqual(set(j["error"]), {"code", "message"}, raw)
        if code:
            self.assertEqual(j["error"]["code"], code, raw)
        if mentions:
            self.assertIn(mentions, j["error"]["message"], raw)
        return j["error"]

    def paused_session(self, **kw):
        s = self.srv.create_session(**kw)
        st, _, j, raw = self.srv.post("/api/sessions/%s/clock" % s["id"], {"action": "pause"},
                                      token=s["token"])
        self.assertEqual(st, 200, raw)
        return s

    # -- health, market ---------------------------------------------------------------------
    def test_health(self):
        for path in ("/health", "/api/health"):
            st, h, j, _ = self.srv.get(path)
            self.assertEqual(st, 200)
            self.assertEqual(j["status"], "ok")
            self.assertRegex(j["version"], r"^\d+\.\d+\.\d+$")
            self.assertEqual(h["Content-Type"], "application/json")

    def test_symbols(self):
        st, _, j, raw = self.srv.get("/api/market/symbols")
        self.assertEqual(st, 200)
        syms = {s["symbol"]: s for s in j["symbols"]}
        self.assertGreater(len(syms), 20)
        btc = syms["BTCUSD"]
        self.assertEqual(btc["class"], "crypto")
        self.assertGreater(btc["price"], 0)
        self.assertEqual(btc["tick_size"], 0.01)
        self.assertEqual(btc["precision"], 2)
        self.assertIn("EURUSD", syms)
        self.assertIsNone(numbers_are_shortest(raw))

    def test_prices(self):
        st, _, j, raw = self.srv.get("/api/market/prices")
        self.assertEqual(st, 200)
        self.assertGreater(len(j["prices"]), 20)
        st, _, j, raw = self.srv.get("/api/market/prices?symbols=BTCUSD,EURUSD")
        self.assertEqual(st, 200)
        self.assertEqual([p["symbol"] for p in j["prices"]], ["BTCUSD", "EURUSD"])
        for p in j["prices"]:
            self.assertAlmostEqual(p["price"] - p["price_24h"], p["change_24h"], places=6)
            self.assertLess(abs(p["time"] - time.time() * 1000), 60000)
        self.assertIsNone(numbers_are_shortest(raw))
        self.err(self.srv.get("/api/market/prices?symbols=BTCUSD,NOPE"), 400,
                 "invalid_parameter", "symbols")

    def test_candles(self):
        now = time.time() * 1000
        st, _, j, raw = self.srv.get("/api/market/candles?symbol=BTCUSD&timeframe=1h&limit=24")
        self.assertEqual(st, 200, raw)
        self.assertEqual((j["symbol"], j["timeframe"]), ("BTCUSD", "1h"))
        c = j["candles"]
        self.assertEqual(len(c), 24)
        for i, (t, o, h, l, cl, v) in enumerate(c):
            self.assertEqual(t % 3600000, 0)
            self.assertLessEqual(l, min(o, cl))
            self.assertGreaterEqual(h, max(o, cl))
            if i:
                self.assertEqual(t - c[i - 1][0], 3600000)
                self.assertEqual(o, c[i - 1][4])
        self.assertLessEqual(c[-1][0], now)
        self.assertGreater(c[-1][0] + 3600000, now - 5000)  # the forming candle is last
        self.assertIsNone(numbers_are_shortest(raw))

        # from/to: the same complete candles.
        frm, to = c[0][0], c[5][0]
        st, _, j2, _ = self.srv.get(
            "/api/market/candles?symbol=BTCUSD&timeframe=1h&from=%d&to=%d" % (frm, to))
        self.assertEqual(st, 200)
        self.assertEqual(j2["candles"], c[:5])
        # Nothing after now.
        st, _, j3, _ = self.srv.get(
            "/api/market/candles?symbol=BTCUSD&timeframe=1h&from=%d&to=%d"
            % (c[-1][0] - 3600000, c[-1][0] + 100 * 3600000))
        self.assertEqual(st, 200)
        self.assertEqual(len(j3["candles"]), 2)
        # 1h candles aggregate the 1m candles.
        st, _, m, _ = self.srv.get(
            "/api/market/candles?symbol=BTCUSD&timeframe=1m&from=%d&to=%d"
            % (c[-2][0], c[-2][0] + 3600000))
        mc = m["candles"]
        self.assertEqual(len(mc), 60)
        self.assertEqual(mc[0][1], c[-2][1])
        self.assertEqual(mc[-1][4], c[-2][4])
        self.assertEqual(max(x[2] for x in mc), c[-2][2])
        self.assertEqual(min(x[3] for x in mc), c[-2][3])
        self.assertEqual(sum(x[5] for x in mc), c[-2][5])

    def test_candles_errors(self):
        base = "/api/market/candles?"
        self.err(self.srv.get(base + "timeframe=1h"), 400, "missing_parameter", "symbol")
        self.err(self.srv.get(base + "symbol=NOPE"), 400, "invalid_parameter", "symbol")
        self.err(self.srv.get(base + "symbol=BTCUSD&timeframe=2h"), 400, None, "timeframe")
        self.err(self.srv.get(base + "symbol=BTCUSD&limit=5001"), 400, "limit_exceeded",
                 "limit")
        self.err(self.srv.get(base + "symbol=BTCUSD&limit=0"), 400, None, "limit")
        self.err(self.srv.get(base + "symbol=BTCUSD&limit=abc"), 400, None, "limit")
        self.err(self.srv.get(base + "symbol=BTCUSD&limit=5&from=0"), 400, None, "limit")
        self.err(self.srv.get(base + "symbol=BTCUSD&from=1&to=2"), 400, "out_of_range", "from")
        self.err(self.srv.get(base + "symbol=BTCUSD&timeframe=1m&from=946684800000"), 400,
                 "limit_exceeded")
        self.err(self.srv.get(base + "symbol=BTCUSD&bogus=1"), 400, "unknown_parameter",
                 "bogus")
        st, _, j, _ = self.srv.get(base + "symbol=BTCUSD&limit=5000")
        self.assertEqual(st, 200)
        self.assertEqual(len(j["candles"]), 5000)

    def test_prices_exact(self):
        """The prices answer (built from per-tick caches) is byte for byte what the library's
        prices give when printed the way the server always printed them: every entry is
        checked against cmee_market_price() at the answer's time and 24 h before."""
        cmee = bindings()
        if cmee is None:
            self.skipTest("the Python bindings are not available")
        with cmee.Market(seed=42) as m:
            for query in ("", "?symbols=BTCUSD,EURUSD,BTCUSD", "?symbols=XAUUSD"):
                for _ in range(3):  # the first fills the caches, the others use them
                    st, _, j, raw = self.srv.get("/api/market/prices" + query)
                    self.assertEqual(st, 200, raw)
                    now = j["time"]
                    entries = []
                    for e in j["prices"]:
                        p = m.price(e["symbol"], now)
                        p24 = m.price(e["symbol"], now - 86400000)
                        change = p - p24
                        pct = change / p24 * 100.0 if p24 > 0 else 0.0
                        entries.append(
                            '{"symbol":"%s","price":%s,"time":%d,"price_24h":%s,'
                            '"change_24h":%s,"change_24h_pct":%s}'
                            % (e["symbol"], old_number(p), now, old_number(p24),
                               old_number(c_round(change * 1e10) / 1e10),
                               old_number(c_round(pct * 1e4) / 1e4)))
                    want = '{"time":%d,"prices":[%s]}' % (now, ",".join(entries))
                    self.assertEqual(raw.decode(), want)
                    if query == "":
                        self.assertEqual([e["symbol"] for e in j["prices"]],
                                         [s.symbol for s in m.symbols()])
                    time.sleep(0.3)

    def test_price_precision_round_trip(self):
        """Prices lie on the tick grid as the nearest double to a decimal of `precision`
        digits, so "%.*f" with the precision reads back to the same double, and the server
        prints each with at most that many decimals (its fast path), in the same text as the
        shortest-round-trip search. Checked on every price of 2,000 1m candles of every
        symbol (about 200,000 prices)."""
        st, _, j, _ = self.srv.get("/api/market/symbols")
        checked = 0
        for sym in j["symbols"]:
            prec = sym["precision"]
            st, _, c, raw = self.srv.get("/api/market/candles?symbol=%s&timeframe=1m&limit=2000"
                                         % sym["symbol"])
            self.assertEqual(st, 200, raw)
            rows = CANDLE.findall(raw)
            self.assertEqual(len(rows), len(c["candles"]))
            for row, values in zip(rows, c["candles"]):
                for tok, v in zip(row[1:5], values[1:5]):
                    self.assertEqual(float("%.*f" % (prec, v)), v, (sym["symbol"], v))
                    text = tok.decode()
                    self.assertLessEqual(len(text.partition(".")[2]), prec, text)
                    self.assertEqual(text, old_number(v), (sym["symbol"], v))
                    checked += 1
        self.assertGreater(checked, 200000)

    def test_candles_cached_equal_uncached(self):
        """The ?limit= form comes from a cache (complete candles encoded once, the forming one
        once per tick); it must be byte for byte the ?from= form, which is computed afresh, and
        stay so when served again from the cache."""
        cases = [("BTCUSD", "1h", 500), ("EURUSD", "1m", 60), ("XAUUSD", "1d", 30),
                 ("ETHUSD", "5m", 1), ("BTCUSD", "4h", 2), ("BTCUSD", "15m", 5000)]
        for sym, tf, limit in cases:
            path = "/api/market/candles?symbol=%s&timeframe=%s" % (sym, tf)
            for attempt in range(20):
                st, _, j, cached = self.srv.get(path + "&limit=%d" % limit)
                self.assertEqual(st, 200, cached)
                self.assertEqual(len(j["candles"]), limit)
                first = j["candles"][0][0]
                st, _, _, fresh = self.srv.get(path + "&from=%d" % first)
                st, _, _, again = self.srv.get(path + "&limit=%d" % limit)
                if cached == again:  # no tick in between (else try again)
                    break
            self.assertEqual(cached, again)
            self.assertEqual(fresh, cached, (sym, tf, limit))
            self.assertIsNone(reals_in_old_form(cached))

    def test_candles_forming_from_ticks(self):
        """The cached forming candle is the fold of the 1m candles since it opened and the
        ticks of the current minute up to some tick at or before now (the library's)."""
        cmee = bindings()
        if cmee is None:
            self.skipTest("the Python bindings are not available")
        st, _, j, raw = self.srv.get("/api/market/candles?symbol=BTCUSD&timeframe=1h&limit=3")
        now = int(time.time() * 1000)
        self.assertEqual(st, 200, raw)
        t0, o, h, lo, cl, v = j["candles"][-1]
        folds = []
        with cmee.Market(seed=42) as m:
            complete = m.candles("BTCUSD", "1h", count=2, end=t0)
            self.assertEqual([list(x) for x in complete], j["candles"][:2])
            # The answer's minute: now's, or the one before if a minute began meanwhile.
            for minute in {now // 60000 * 60000, (now - 5000) // 60000 * 60000}:
                if minute < t0:
                    continue
                base = list(m.candles("BTCUSD", "1m", start=t0, end=minute)) if minute > t0 else []
                ticks = m.ticks("BTCUSD", minute)
                for k in range(1, len(ticks) + 1):
                    parts = [(b.open, b.high, b.low, b.close, b.volume) for b in base]
                    parts += [(t.price, t.price, t.price, t.price, t.volume) for t in ticks[:k]]
                    folds.append([t0, parts[0][0], max(x[1] for x in parts),
                                  min(x[2] for x in parts), parts[-1][3],
                                  sum(x[4] for x in parts)])
        self.assertIn(j["candles"][-1], folds)

    def test_session_indicators(self):
        """/api/sessions/{id}/indicators: the session's own market, complete candles up to the
        session's now only, behind its token."""
        s = self.srv.create_session(seed=5, symbols=["BTCUSD"])
        path = "/api/sessions/%s/indicators?symbol=BTCUSD&timeframe=1m&name=ema&period=5&limit=20" % s["id"]
        st, _, j, raw = self.srv.get(path, token=s["token"])
        self.assertEqual(st, 200, raw)
        self.assertEqual(len(j["times"]), 20)
        self.assertTrue(all(v is not None for v in j["outputs"]["ema"]))
        st, _, acc, _ = self.srv.get("/api/sessions/%s" % s["id"], token=s["token"])
        now = acc["clock"]["now"] if "clock" in acc else acc["now"]
        self.assertLessEqual(j["times"][-1] + 60000, now)
        self.assertEqual(self.srv.get(path)[0], 401)
        self.assertEqual(self.srv.get(path, token="x" * 64)[0], 403)
        # A different seed: not the global market's values.
        st, _, g, _ = self.srv.get("/api/market/indicators?symbol=BTCUSD&timeframe=1m&name=ema"
                                   "&period=5&limit=20")
        self.assertNotEqual(g["outputs"]["ema"], j["outputs"]["ema"])

    def test_indicators(self):
        """/api/market/indicators equals the Python bindings over the same candles: the last
        `limit` complete candles plus the lookback, from a market with the server's seed."""
        lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(os.environ["CMEE_SERVER_BIN"])))), "lib", "libcmee.so")
        if os.path.exists(lib):
            os.environ.setdefault("CMEE_LIBRARY", lib)
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "bindings", "python"))
        try:
            import cmee
        except ImportError as e:
            self.skipTest("the Python bindings: %s" % e)
        st, _, j, raw = self.srv.get(
            "/api/market/indicators?symbol=BTCUSD&timeframe=1h&name=rsi&period=14&limit=30")
        self.assertEqual(st, 200, raw)
        self.assertEqual((j["symbol"], j["timeframe"], j["name"]), ("BTCUSD", "1h", "rsi"))
        self.assertEqual(set(j["outputs"]), {"rsi"})
        self.assertEqual(len(j["times"]), 30)
        self.assertEqual(len(j["outputs"]["rsi"]), 30)
        self.assertIsNone(numbers_are_shortest(raw))
        end = j["times"][-1] + 3600000
        self.assertLessEqual(end, int(time.time() * 1000))  # complete candles only
        lookback = cmee.lookback("rsi", period=14)
        with cmee.Market(seed=42) as m:  # server_harness starts the server with the default
            c = m.candles("BTCUSD", "1h", count=30 + lookback, end=end)
        self.assertEqual([int(t) for t in c.time[lookback:]], j["times"])
        want = cmee.indicator("rsi", c, period=14)["rsi"][lookback:]
        self.assertEqual(list(want), j["outputs"]["rsi"])
        # MACD: three outputs, null inside the lookback when limit reaches past it.
        st, _, j, raw = self.srv.get(
            "/api/market/indicators?symbol=BTCUSD&name=macd&limit=5&fast=12&slow=26&signal=9")
        self.assertEqual(st, 200, raw)
        self.assertEqual(set(j["outputs"]), {"macd", "signal", "hist"})
        self.assertTrue(all(v is not None for v in j["outputs"]["hist"]))

    def test_indicators_errors(self):
        base = "/api/market/indicators?"
        self.err(self.srv.get(base + "name=rsi"), 400, "missing_parameter", "symbol")
        self.err(self.srv.get(base + "symbol=NOPE&name=rsi"), 400, "invalid_parameter", "symbol")
        self.err(self.srv.get(base + "symbol=BTCUSD"), 400, "missing_parameter", "name")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=nope"), 400, "invalid_parameter",
                 "name")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=rsi&period=0"), 400,
                 "invalid_parameter", "period")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=rsi&period=x"), 400,
                 "invalid_parameter", "period")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=rsi&fast=3"), 400,
                 "invalid_parameter", "fast")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=rsi&limit=5001"), 400,
                 "limit_exceeded", "limit")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=rsi&timeframe=2h"), 400, None,
                 "timeframe")
        self.err(self.srv.get(base + "symbol=BTCUSD&name=rsi&bogus=1"), 400,
                 "unknown_parameter", "bogus")

    def test_openapi(self):
        st, _, doc, _ = self.srv.get("/openapi.json")
        self.assertEqual(st, 200)
        self.assertTrue(doc["openapi"].startswith("3."))
        want = {
            ("get", "/health"), ("get", "/api/health"), ("get", "/api/market/symbols"),
            ("get", "/api/market/prices"), ("get", "/api/market/candles"),
            ("get", "/api/market/indicators"), ("post", "/api/sessions"), ("get", "/api/sessions/{id}"),
            ("post", "/api/sessions/{id}/clock"), ("get", "/api/sessions/{id}/candles"),
            ("post", "/api/sessions/{id}/orders"), ("delete", "/api/sessions/{id}/orders/{oid}"),
            ("post", "/api/sessions/{id}/options"), ("get", "/api/sessions/{id}/account"),
            ("get", "/api/admin/scenarios"), ("post", "/api/admin/scenarios"),
            ("get", "/api/admin/scenarios/{name}"), ("put", "/api/admin/scenarios/{name}"),
            ("delete", "/api/admin/scenarios/{name}"), ("get", "/api/admin/presets"),
            ("post", "/api/admin/sessions/{id}/scenario"),
            ("delete", "/api/admin/sessions/{id}/scenario"), ("get", "/ws"),
            ("get", "/openapi.json"),
        }
        have = {(m, p) for p, item in doc["paths"].items() for m in item}
        self.assertEqual(want - have, set())
        # Every $ref resolves.
        refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc))
        for r in refs:
            self.assertIn(r, doc["components"]["schemas"])
        props = doc["components"]["schemas"]["OrderCreate"]["properties"]
        self.assertEqual(set(props), {"symbol", "side", "type", "qty", "price", "sl", "tp"})

    # -- errors and limits ------------------------------------------------------------------
    def test_errors(self):
        self.err(self.srv.get("/nope"), 404, "not_found")
        st, h, j, _ = self.srv.request("DELETE", "/api/market/symbols")
        self.err((st, h, j, _), 405, "method_not_allowed")
        self.assertEqual(h["Allow"], "GET")
        st, h, j, _ = self.srv.request("PATCH", "/api/sessions")
        self.assertEqual(st, 405)
        self.assertEqual(h["Allow"], "POST")
        self.err(self.srv.post("/api/sessions", raw=b"x" * 300000), 413, "too_large")
        self.err(self.srv.request("POST", "/api/sessions", raw=b"[" * 40 + b"]" * 40), 400,
                 "too_deep")
        self.err(self.srv.request("POST", "/api/sessions", raw=b'{"seed": '), 400,
                 "invalid_json")
        self.err(self.srv.request("POST", "/api/sessions", raw=b"[1]"), 400, "expected_object")
        self.err(self.srv.request("POST", "/api/sessions", raw=b'{"seed":1,"seed":2}'), 400,
                 "invalid_json")
        self.err(self.srv.post("/api/sessions", {"colour": "red"}), 400, "unknown_field",
                 "colour")
        self.err(self.srv.post("/api/sessions", {"seed": "x"}), 400, "invalid_parameter", "seed")
        self.err(self.srv.post("/api/sessions", {"speed": 0}), 400, "invalid_parameter", "speed")
        self.err(self.srv.post("/api/sessions", {"balance": -5}), 400, None, "balance")
        self.err(self.srv.post("/api/sessions", {"currency": "usd"}), 400, None, "currency")
        self.err(self.srv.post("/api/sessions", {"symbols": ["BTCUSD", "NOPE"]}), 400, None,
                 "symbols[1]")
        self.err(self.srv.post("/api/sessions", {"scenario": "no-such-scenario"}), 400, None,
                 "scenario")
        # Garbage never kills the server.
        for raw in (b"\x00\xff\xfe", b'{"a":"\\ud800"}', b"{" * 10 + b'"', b"1e999999"):
            st = self.srv.request("POST", "/api/sessions", raw=raw)[0]
            self.assertEqual(st, 400)
        self.assertEqual(self.srv.get("/health")[0], 200)

    def test_fuzz(self):
        """Random requests and raw garbage: every answer is a JSON error or success, and the
        server stays up."""
        import random
        import socket
        rnd = random.Random(1234)
        s = self.srv.create_session(symbols=["BTCUSD"])
        paths = ["/api/sessions", "/api/sessions/%s" % s["id"],
                 "/api/sessions/%s/orders" % s["id"], "/api/sessions/%s/options" % s["id"],
                 "/api/sessions/%s/clock" % s["id"], "/api/sessions/%s/orders/1" % s["id"],
                 "/api/market/candles", "/api/market/prices", "/api/admin/scenarios",
                 "/api/admin/sessions/%s/scenario" % s["id"], "/api/admin/scenarios/x%20y",
                 "/health", "/ws", "/nosuch", "/api/sessions/%2e%2e/orders", "/" + "a" * 2000]
        values = [None, True, 0, -1, 1e308, -1e-308, 2 ** 70, "", "x" * 3000, [], {}, [1, [2]],
                  "BTCUSD", "buy", "limit", "call", 0.5, float("nan")]
        keys = ["symbol", "side", "type", "qty", "price", "sl", "tp", "direction", "stake",
                "expiry", "action", "ms", "speed", "seed", "symbols", "balance", "currency",
                "scenario", "preset", "name", "events", "regimes"]
        for _ in range(300):
            method = rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
            path = rnd.choice(paths)
            if rnd.random() < 0.5:
                path += "?" + "&".join("%s=%s" % (rnd.choice(keys + ["limit", "from"]),
                                                  rnd.choice(["1", "-5", "BTCUSD", "1h", "%ff%fe",
                                                              "9" * 30, "a+b%2C"]))
                                       for _ in range(rnd.randint(1, 4)))
            raw = None
            if method in ("POST", "PUT", "DELETE") and rnd.random() < 0.9:
                if rnd.random() < 0.2:
                    raw = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200)))
                else:
                    body = {rnd.choice(keys): rnd.choice(values)
                            for _ in range(rnd.randint(0, 6))}
                    raw = json.dumps(body).encode()
            hdrs = {}
            r = rnd.random()
            if r < 0.3:
                hdrs["Authorization"] = "Bearer " + s["token"]
            elif r < 0.5:
                hdrs["Authorization"] = "Bearer " + ADMIN_TOKEN
            elif r < 0.6:
                hdrs["X-Session-Token"] = "z" * rnd.randint(0, 300)
            st, _, j, body = self.srv.request(method, path, raw=raw, headers=hdrs)
            self.assertTrue(200 <= st < 500, (method, path, st, body))
            self.assertIsNotNone(j, (method, path, st, body))
            if st >= 400:
                self.assertIn("error", j)
        # libwebsockets drops some of these without an answer (a NUL in the URI, say): what
        # matters is that the server lives on.
        for garbage in (b"GARBAGE\r\n\r\n", b"GET /health?x=%00 HTTP/1.1\r\n\r\n",
                        b"GET /health HTTP/9.9\r\n\r\n",
                        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"b" * 20000 + b"\r\n\r\n",
                        b"POST /api/sessions HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
                        b"POST /api/sessions HTTP/1.1\r\nContent-Length: 10\r\n\r\n{",
                        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100):
            c = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            try:
                c.sendall(garbage)
                c.settimeout(2)
                try:
                    c.recv(65536)
                except OSError:
                    pass
            finally:
                c.close()
        self.assertEqual(self.srv.get("/health")[0], 200)
        self.assertEqual(self.srv.get("/api/sessions/%s/account" % s["id"],
                                      token=s["token"])[0], 200)

    def test_keep_alive_and_precision(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        for _ in range(20):
            c.request("GET", "/api/market/prices?symbols=BTCUSD")
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Connection"), "keep-alive")
            self.assertEqual(int(r.getheader("Content-Length")), len(body))
        t0 = time.monotonic()
        for _ in range(50):
            c.request("GET", "/health")
            c.getresponse().read()
        # One buffer per answer: no 40 ms delayed-ACK stalls (50 requests well under 2 s).
        self.assertLess(time.monotonic() - t0, 2.0)
        c.close()

    # -- sessions ---------------------------------------------------------------------------
    def test_session_create_and_tokens(self):
        s = self.srv.create_session(seed=7, symbols=["BTCUSD", "EURUSD"], speed=2,
                                    balance=2500.5, currency="EUR")
        self.assertRegex(s["id"], r"^[0-9a-f]{32}$")
        self.assertRegex(s["token"], r"^[0-9a-f]{64}$")
        self.assertEqual(s["seed"], 7)
        self.assertEqual(s["symbols"], ["BTCUSD", "EURUSD"])
        self.assertEqual(s["currency"], "EUR")
        self.assertEqual(s["balance"], 2500.5)
        self.assertEqual(s["clock"]["speed"], 2)
        # The token is HMAC-SHA-256(secret, id) with the secret kept next to the db.
        secret_path = self.srv.db + ".secret"
        self.assertEqual(stat.S_IMODE(os.stat(secret_path).st_mode), 0o600)
        with open(secret_path) as f:
            key = bytes.fromhex(f.read().strip())
        self.assertEqual(s["token"],
                         hmac.new(key, s["id"].encode(), hashlib.sha256).hexdigest())

        path = "/api/sessions/" + s["id"]
        st, _, j, _ = self.srv.get(path, token=s["token"])
        self.assertEqual(st, 200)
        self.assertEqual(j["id"], s["id"])
        self.assertNotIn("token", j)
        st, _, j, _ = self.srv.get(path, headers={"X-Session-Token": s["token"]})
        self.assertEqual(st, 200)
        e = self.err(self.srv.get(path), 401, "unauthorized")
        self.assertIn("token", e["message"])
        self.err(self.srv.get(path, token="0" * 64), 403, "forbidden")
        self.err(self.srv.get(path, token=s["token"][:-1]), 403, "forbidden")
        other = self.srv.create_session()
        self.err(self.srv.get(path, token=other["token"]), 403)
        self.err(self.srv.get(path + "/account", token=other["token"]), 403)
        self.err(self.srv.get("/api/sessions/" + "ab" * 16, token=s["token"]), 404, "not_found")
        self.assertNotEqual(other["id"], s["id"])
        # Defaults.
        self.assertEqual(other["balance"], 10000)
        self.assertEqual(other["currency"], "USD")
        self.assertGreater(len(other["symbols"]), 20)

    def test_clock(self):
        s = self.srv.create_session(symbols=["BTCUSD"])
        p, t = "/api/sessions/%s/clock" % s["id"], s["token"]
        st, _, j, _ = self.srv.post(p, {"action": "pause"}, token=t)
        self.assertEqual(st, 200)
        self.assertTrue(j["clock"]["paused"])
        now = j["clock"]["now"]
        time.sleep(0.05)
        st, _, j, _ = self.srv.post(p, {"action": "step", "ms": 60000}, token=t)
        self.assertEqual(j["clock"]["now"], now + 60000)
        st, _, j, _ = self.srv.post(p, {"action": "speed", "speed": 60}, token=t)
        self.assertEqual(j["clock"]["speed"], 60)
        st, _, j, _ = self.srv.post(p, {"action": "resume"}, token=t)
        self.assertFalse(j["clock"]["paused"])
        self.err(self.srv.post(p, {"action": "rewind"}, token=t), 400, None, "action")
        self.err(self.srv.post(p, {}, token=t), 400, "missing_parameter", "action")
        self.err(self.srv.post(p, {"action": "step"}, token=t), 400, None, "ms")
        self.err(self.srv.post(p, {"action": "step", "ms": -1}, token=t), 400, None, "ms")
        self.err(self.srv.post(p, {"action": "speed", "speed": 0}, token=t), 400, None, "speed")
        self.err(self.srv.post(p, {"action": "pause", "extra": 1}, token=t), 400,
                 "unknown_field", "extra")

    def test_session_candles_and_prices(self):
        s = self.paused_session(symbols=["BTCUSD", "ETHUSD"], seed=3)
        base = "/api/sessions/%s/candles?symbol=BTCUSD&timeframe=5m&limit=10" % s["id"]
        st, _, j, raw = self.srv.get(base, token=s["token"])
        self.assertEqual(st, 200, raw)
        self.assertEqual(len(j["candles"]), 10)
        st, _, q, _ = self.srv.get("/api/sessions/%s/prices" % s["id"], token=s["token"])
        self.assertEqual(st, 200)
        self.assertEqual([p["symbol"] for p in q["prices"]], ["BTCUSD", "ETHUSD"])
        self.assertEqual(j["candles"][-1][4], q["prices"][0]["price"])
        for p in q["prices"]:
            self.assertLessEqual(p["bid"], p["price"])
            self.assertGreaterEqual(p["ask"], p["price"])
        self.err(self.srv.get(base.replace("BTCUSD", "EURUSD"), token=s["token"]), 400, None,
                 "symbol")
        self.err(self.srv.get(base.replace("limit=10", "limit=9999"), token=s["token"]), 400,
                 "limit_exceeded", "limit")

    def test_orders(self):
        s = self.paused_session(symbols=["BTCUSD", "EURUSD"], seed=11)
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        st, _, o, raw = self.srv.post(p + "/orders",
                                      {"symbol": "BTCUSD", "side": "buy", "qty": 0.01}, token=t)
        self.assertEqual(st, 201, raw)
        self.assertEqual((o["state"], o["side"], o["type"]), ("filled", "buy", "market"))
        self.assertGreater(o["fill_price"], 0)
        self.assertGreater(o["fee"], 0)
        # A limit far below the market waits; cancel it.
        st, _, q, _ = self.srv.get(p + "/prices", token=t)
        bid = q["prices"][0]["bid"]
        st, _, lim, raw = self.srv.post(
            p + "/orders", {"symbol": "BTCUSD", "side": "buy", "type": "limit", "qty": 0.01,
                            "price": round(bid * 0.5, 2)}, token=t)
        self.assertEqual(st, 201, raw)
        self.assertEqual(lim["state"], "open")
        st, _, acc, _ = self.srv.get(p + "/account", token=t)
        self.assertEqual(len(acc["positions"]), 1)
        self.assertEqual(acc["positions"][0]["qty"], 0.01)
        st, _, c, _ = self.srv.delete(p + "/orders/%d" % lim["id"], token=t)
        self.assertEqual(st, 200)
        self.assertEqual(c["state"], "cancelled")
        self.err(self.srv.delete(p + "/orders/%d" % lim["id"], token=t), 409, "conflict")
        self.err(self.srv.delete(p + "/orders/999", token=t), 404, "not_found")
        self.err(self.srv.delete(p + "/orders/abc", token=t), 400, None, "oid")
        # Bad parameters, each named.
        bad = [
            ({"side": "buy", "qty": 1}, "symbol"),
            ({"symbol": "ETHUSD", "side": "buy", "qty": 1}, "symbol"),
            ({"symbol": "BTCUSD", "qty": 1}, "side"),
            ({"symbol": "BTCUSD", "side": "hold", "qty": 1}, "side"),
            ({"symbol": "BTCUSD", "side": "buy"}, "qty"),
            ({"symbol": "BTCUSD", "side": "buy", "qty": -1}, "qty"),
            ({"symbol": "BTCUSD", "side": "buy", "qty": "1"}, "qty"),
            ({"symbol": "BTCUSD", "side": "buy", "qty": 1, "type": "iceberg"}, "type"),
            ({"symbol": "BTCUSD", "side": "buy", "qty": 1, "type": "limit"}, "price"),
            ({"symbol": "BTCUSD", "side": "buy", "qty": 1, "sl": -3}, "sl"),
            ({"symbol": "BTCUSD", "side": "buy", "qty": 1, "leverage": 5}, "leverage"),
        ]
        for body, field in bad:
            self.err(self.srv.post(p + "/orders", body, token=t), 400, None, field)

    def test_refused_trades_change_nothing(self):
        s = self.paused_session(symbols=["BTCUSD", "EURUSD"], balance=100)
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        before = self.srv.get(p + "/account", token=t)[2]
        e = self.err(self.srv.post(p + "/orders", {"symbol": "BTCUSD", "side": "buy", "qty": 5},
                                   token=t), 422, "insufficient_funds")
        self.assertIn("insufficient", e["message"])
        self.err(self.srv.post(p + "/options", {"symbol": "EURUSD", "direction": "call",
                                                "stake": 500, "expiry": 60}, token=t), 422,
                 "insufficient_funds")
        after = self.srv.get(p + "/account", token=t)[2]
        self.assertEqual(before, after)
        self.assertEqual(after["balance"], 100)
        self.assertEqual(after["orders"], [])
        self.assertEqual(len(after["ledger"]), 1)

    def test_options(self):
        s = self.paused_session(symbols=["EURUSD"], seed=5)
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        st, _, o, raw = self.srv.post(p + "/options", {"symbol": "EURUSD", "direction": "put",
                                                       "stake": 25, "expiry": 60}, token=t)
        self.assertEqual(st, 201, raw)
        self.assertEqual((o["direction"], o["state"], o["stake"]), ("put", "open", 25))
        self.assertEqual(o["expires"] - o["opened"], 60000)
        st, _, acc, _ = self.srv.get(p + "/account", token=t)
        self.assertEqual(acc["balance"], 10000 - 25)
        self.srv.post(p + "/clock", {"action": "step", "ms": 61000}, token=t)
        st, _, acc, _ = self.srv.get(p + "/account", token=t)
        settled = acc["options"][0]
        self.assertIn(settled["state"], ("won", "lost", "tie"))
        paid = {"won": 45, "lost": 0, "tie": 25}[settled["state"]]
        self.assertEqual(settled["paid"], paid)
        self.assertAlmostEqual(acc["balance"], 10000 - 25 + paid, places=8)
        self.assertEqual(sum(e["amount"] for e in acc["ledger"]), acc["balance"])
        for body, field in [({"symbol": "EURUSD", "direction": "up", "stake": 1, "expiry": 60},
                             "direction"),
                            ({"symbol": "EURUSD", "direction": "call", "expiry": 60}, "stake"),
                            ({"symbol": "EURUSD", "direction": "call", "stake": 1}, "expiry"),
                            ({"symbol": "EURUSD", "direction": "call", "stake": 1,
                              "expiry": 0.5}, "expiry"),
                            ({"symbol": "EURUSD", "direction": "call", "stake": 0,
                              "expiry": 60}, "stake")]:
            self.err(self.srv.post(p + "/options", body, token=t), 400, None, field)

    # -- admin --------------------------------------------------------------------------------
    def test_admin_tokens(self):
        path = "/api/admin/presets"
        self.err(self.srv.get(path), 401, "unauthorized")
        self.err(self.srv.get(path, admin="wrong"), 403, "forbidden")
        self.err(self.srv.get(path, admin=ADMIN_TOKEN + "x"), 403, "forbidden")
        self.err(self.srv.get(path, headers={"Authorization": "Basic abc"}), 401)
        st, _, j, _ = self.srv.get(path, admin=ADMIN_TOKEN)
        self.assertEqual(st, 200)
        names = {p["name"] for p in j["presets"]}
        self.assertTrue({"calm", "bull_trend", "bear_trend", "crash", "flash_crash_recovery",
                         "volatility_spike", "sideways_range"} <= names)
        # A session token is not an admin token.
        s = self.srv.create_session()
        self.err(self.srv.get(path, token=s["token"]), 403)

    def test_admin_disabled(self):
        with Server(admin_token=None, db=":memory:") as other:
            e = self.err(other.get("/api/admin/scenarios", admin="anything"), 403,
                         "admin_disabled")
            self.assertIn("CMEE_ADMIN_TOKEN", e["message"])
            self.err(other.get("/api/admin/presets"), 403, "admin_disabled")

    def test_admin_scenarios_crud(self):
        a = ADMIN_TOKEN
        sc = {"name": "test dip", "description": "a small dip", "symbols": ["BTCUSD"],
              "events": [{"kind": "shock", "at": 0, "size": -0.05}]}
        st, h, j, raw = self.srv.post("/api/admin/scenarios", sc, admin=a)
        self.assertEqual(st, 201, raw)
        self.assertEqual((j["name"], j["version"]), ("test dip", 1))
        self.err(self.srv.post("/api/admin/scenarios", sc, admin=a), 409, "conflict")
        st, _, lst, _ = self.srv.get("/api/admin/scenarios", admin=a)
        self.assertIn("test dip", [x["name"] for x in lst["scenarios"]])
        sc2 = dict(sc, description="a bigger dip",
                   events=[{"kind": "shock", "at": 0, "size": -0.2}])
        st, _, j, raw = self.srv.request("PUT", "/api/admin/scenarios/test%20dip", body=sc2,
                                         admin=a)
        self.assertEqual(st, 200, raw)
        self.assertEqual(j["version"], 2)
        st, _, g, _ = self.srv.get("/api/admin/scenarios/test%20dip", admin=a)
        self.assertEqual(g["version"], 2)
        self.assertEqual(g["scenario"]["events"][0]["size"], -0.2)
        self.assertEqual([v["version"] for v in g["versions"]], [1, 2])
        st, _, g1, _ = self.srv.get("/api/admin/scenarios/test%20dip?version=1", admin=a)
        self.assertEqual(g1["scenario"]["events"][0]["size"], -0.05)
        self.err(self.srv.request("PUT", "/api/admin/scenarios/other", body=sc2, admin=a), 400,
                 None, "name")
        self.err(self.srv.request("PUT", "/api/admin/scenarios/ghost",
                                  body=dict(sc2, name="ghost"), admin=a), 404)
        bad = dict(sc, name="bad one", regimes=[{"start": 0, "end": "1h", "vol_mult": -2}])
        e = self.err(self.srv.post("/api/admin/scenarios", bad, admin=a), 400,
                     "invalid_scenario")
        self.assertIn("vol_mult", e["message"])
        st, _, d, _ = self.srv.delete("/api/admin/scenarios/test%20dip", admin=a)
        self.assertEqual(st, 200)
        self.err(self.srv.get("/api/admin/scenarios/test%20dip", admin=a), 404)
        self.err(self.srv.delete("/api/admin/scenarios/test%20dip", admin=a), 404)
        st, _, pj, _ = self.srv.get("/api/admin/presets/crash", admin=a)
        self.assertEqual(pj["name"], "crash")
        self.err(self.srv.get("/api/admin/presets/nope", admin=a), 404)

    def test_crash_preset_on_a_session(self):
        s = self.paused_session(symbols=["BTCUSD"], seed=21)
        p, t, a = "/api/sessions/%s" % s["id"], s["token"], ADMIN_TOKEN
        st, _, o, raw = self.srv.post(p + "/orders",
                                      {"symbol": "BTCUSD", "side": "buy", "qty": 0.05}, token=t)
        self.assertEqual(st, 201, raw)
        before = self.srv.get(p + "/prices", token=t)[2]["prices"][0]["price"]
        eq0 = self.srv.get(p + "/account", token=t)[2]["equity"]
        self.err(self.srv.post("/api/admin/sessions/%s/scenario" % s["id"], {"preset": "crash"},
                               token=t), 403)
        self.err(self.srv.post("/api/admin/sessions/%s/scenario" % s["id"],
                               {"preset": "crash", "name": "x"}, admin=a), 400)
        self.err(self.srv.post("/api/admin/sessions/%s/scenario" % ("ab" * 16),
                               {"preset": "crash"}, admin=a), 404)
        st, _, ap, raw = self.srv.post("/api/admin/sessions/%s/scenario" % s["id"],
                                       {"preset": "crash"}, admin=a)
        self.assertEqual(st, 201, raw)
        self.assertEqual(ap["name"], "crash")
        st, _, sess, _ = self.srv.get(p, token=t)
        self.assertEqual([x["name"] for x in sess["scenarios"]], ["crash"])
        # Two minutes later the -10 % gap has happened.
        self.srv.post(p + "/clock", {"action": "step", "ms": 120000}, token=t)
        after = self.srv.get(p + "/prices", token=t)[2]["prices"][0]["price"]
        self.assertLess(after, before * 0.95)
        acc = self.srv.get(p + "/account", token=t)[2]
        self.assertLess(acc["equity"], eq0)
        # Trading goes on through the crash: sell what we hold.
        st, _, o, raw = self.srv.post(p + "/orders",
                                      {"symbol": "BTCUSD", "side": "sell", "qty": 0.05}, token=t)
        self.assertEqual(st, 201, raw)
        acc = self.srv.get(p + "/account", token=t)[2]
        self.assertEqual(acc["positions"], [])
        self.assertLess(acc["balance"], 10000)
        self.assertAlmostEqual(sum(e["amount"] for e in acc["ledger"]), acc["balance"], places=6)
        # Cancel it (the newest application by default).
        st, _, c, raw = self.srv.delete("/api/admin/sessions/%s/scenario" % s["id"], admin=a)
        self.assertEqual(st, 200, raw)
        self.assertEqual(c["application"], ap["application"])
        self.err(self.srv.delete("/api/admin/sessions/%s/scenario?application=99" % s["id"],
                                 admin=a), 404)
        st, _, lst, _ = self.srv.get("/api/admin/sessions", admin=a)
        self.assertIn(s["id"], [x["id"] for x in lst["sessions"]])

    def test_inline_and_stored_scenarios(self):
        a = ADMIN_TOKEN
        s = self.paused_session(symbols=["ETHUSD"],
                                scenario={"name": "inline", "events": [
                                    {"kind": "halt", "at": 0, "end": "10m"}]})
        p, t = "/api/sessions/%s" % s["id"], s["token"]
        self.assertEqual([x["name"] for x in s["scenarios"]], ["inline"])
        # The halt starts at the first minute boundary after the start.
        self.srv.post(p + "/clock", {"action": "step", "ms": 60000}, token=t)
        # Halted: market orders are refused (422) and change nothing.
        self.err(self.srv.post(p + "/orders", {"symbol": "ETHUSD", "side": "buy", "qty": 0.1},
                               token=t), 422, "refused")
        self.srv.post("/api/admin/scenarios", {"name": "stored up", "events": [
            {"kind": "shock", "at": 0, "size": 0.1}]}, admin=a)
        st, _, ap, raw = self.srv.post("/api/admin/sessions/%s/scenario" % s["id"],
                                       {"name": "stored up"}, admin=a)
        self.assertEqual(st, 201, raw)
        self.err(self.srv.post("/api/admin/sessions/%s/scenario" % s["id"],
                               {"name": "missing"}, admin=a), 400, None, "name")
        self.err(self.srv.post("/api/admin/sessions/%s/scenario" % s["id"],
                               {"scenario": {"name": "x", "events": [{"kind": "boom"}]}},
                               admin=a), 400, "invalid_scenario")


class RestartTest(unittest.TestCase):
    def test_restart_resumes_sessions(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "cmee.db")
            srv = Server(db=db)
            s = srv.create_session(symbols=["BTCUSD", "EURUSD"], seed=99, balance=5000)
            p, t = "/api/sessions/%s" % s["id"], s["token"]
            srv.post(p + "/orders", {"symbol": "BTCUSD", "side": "buy", "qty": 0.01}, token=t)
            srv.post(p + "/options", {"symbol": "EURUSD", "direction": "call", "stake": 10,
                                      "expiry": 3600}, token=t)
            st, _, lim, _ = srv.post(p + "/orders", {"symbol": "BTCUSD", "side": "sell",
                                                     "type": "limit", "qty": 0.005,
                                                     "price": 10 ** 7}, token=t)
            self.assertEqual(st, 201)
            srv.post(p + "/clock", {"action": "pause"}, token=t)
            before = srv.get(p + "/account", token=t)[2]
            before_s = srv.get(p, token=t)[2]
            other = srv.create_session()  # running clock: resumes too
            self.assertEqual(srv.stop(), 0)

            srv2 = Server(db=db)
            try:
                st, _, h, _ = srv2.get("/health")
                self.assertEqual(h["sessions"], 2)
                after = srv2.get(p + "/account", token=t)[2]
                self.assertEqual(before, after)
                self.assertEqual(before_s, srv2.get(p, token=t)[2])
                self.assertEqual(srv2.get("/api/sessions/" + other["id"],
                                          token=other["token"])[0], 200)
                # And it goes on trading.
                st, _, c, _ = srv2.delete(p + "/orders/%d" % lim["id"], token=t)
                self.assertEqual((st, c["state"]), (200, "cancelled"))
            finally:
                self.assertEqual(srv2.stop(), 0)

    def test_sigint_exits_cleanly(self):
        import signal
        srv = Server(db=":memory:")
        self.assertEqual(srv.stop(signal.SIGINT), 0)


if __name__ == "__main__":
    unittest.main()
