# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of cmee-signals: the real server on a free loopback port, checked over HTTP.

Programs come from the environment (meson passes them):
    CMEE_SIGNALS_BIN  the cmee-signals binary (required)
    CMEE_BIN          the cmee tool: `cmee gen | cmee analyze` is the reference the answers are
                      compared with (required)
    CMEE_LIBRARY      libcmee.so, for the Python bindings (bindings/python of this checkout),
                      which store the sessions of the ?session= tests
e.g.
    CMEE_SIGNALS_BIN=build/examples/signals/cmee-signals CMEE_BIN=build/examples/cmee \\
        CMEE_LIBRARY=build/lib/libcmee.so python3 tests/server/test_signals.py -v

test_gateway.py imports the helpers of this file (start_signals, request, free_port...).
"""

import hashlib
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HOUR = 3600000
MINUTE = 60000
TF_MS = {"1m": MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "1h": HOUR, "4h": 4 * HOUR,
         "1d": 24 * HOUR}
BARS = 300           # candles each answer analyses
SEED = 7
HEAD_KEYS = ["symbol", "timeframe", "session", "seed", "end", "n", "time", "close"]
SIGNAL_KEYS = HEAD_KEYS + ["consensus", "score", "strength", "reasons", "indicators"]
BINARY_KEYS = HEAD_KEYS + ["direction", "confidence", "expiry_ms", "expiry_time", "expiry_bars",
                           "signal"]
ANALYSIS_KEYS = HEAD_KEYS + ["trend", "volatility", "levels"]
TREND_KEYS = ["direction", "strength", "adx", "plus_di", "minus_di", "slope_pct", "r2"]
VOL_KEYS = ["atr", "atr_pct", "realized_vol", "vol_percentile"]
LEVEL_KEYS = ["pivots", "fibonacci", "support", "resistance", "swing_highs", "swing_lows"]
REASON_KEYS = ["rule", "vote", "weight", "text"]
RULES = {"rsi", "macd", "ma_cross", "bbands", "squeeze", "stoch", "adx"}
INDICATORS = ["sma", "ema", "wma", "dema", "tema", "rsi", "macd", "bbands", "atr", "natr",
              "stoch", "stochrsi", "adx", "cci", "mom", "roc", "willr", "obv", "sar", "vwap",
              "stddev"]
# 2030-03-01T00:00:00Z: a session time far from the wall clock.
T2030 = 1898553600000
TIME_MIN = 946684800000  # CMEE_TIME_MIN: the series begins 2000-01-01


def env_bin(name):
    path = os.environ.get(name)
    if not path or not os.access(path, os.X_OK):
        return None
    return path


def free_port():
    """A port nobody listens on right now (the kernel's choice for a bind to port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=10.0):
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def stop(proc):
    """Stop a server we started: SIGTERM, then SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_signals(bin_path, *args):
    """Start cmee-signals on a port of the kernel's choosing; returns (process, port)."""
    # stderr (the JSON log, a line per request) goes to a file that nobody has to drain; it
    # stands in for proc.stderr (read it after a seek(0)).
    err = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    proc = subprocess.Popen([bin_path, "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=err, text=True)
    proc.stderr = err
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline() if ready else ""
    prefix = "cmee-signals listening on http://127.0.0.1:"
    if not line.startswith(prefix):
        stop(proc)
        err.seek(0)
        raise AssertionError(f"cmee-signals did not start: {line!r} {err.read()!r}")
    return proc, int(line[len(prefix):].strip())


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.type = headers.get("content-type", "")

    def json(self):
        return json.loads(self.body, parse_constant=lambda c: _fail(f"{c} is not JSON"))


def _fail(msg):
    raise AssertionError(msg)


def request(port, path, method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def close(got, want, rel=1e-12):
    """Numbers of two JSON printers: the server prints shortest round-trip reals, cmee analyze
    15 significant digits."""
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) <= rel * max(abs(want), 1e-300)


def cmee_reference(symbol, tf, end_time, seed, count=BARS):
    """`cmee gen ... | cmee analyze` over the same candles: the `count` complete candles whose
    last one opens at end_time."""
    gen = subprocess.run([os.environ["CMEE_BIN"], "gen", "--symbol", symbol, "--timeframe", tf,
                          "--count", str(count), "--end", str(end_time + TF_MS[tf]), "--seed",
                          str(seed)], capture_output=True, text=True, check=True, timeout=60)
    out = subprocess.run([os.environ["CMEE_BIN"], "analyze", "--timeframe", tf],
                         input=gen.stdout, capture_output=True, text=True, check=True,
                         timeout=60)
    last = gen.stdout.splitlines()[-1].split(",")
    ref = json.loads(out.stdout)
    ref["close"] = float(last[4])
    return ref


# ---- the Python bindings -------------------------------------------------------------------

def import_cmee():
    """The cmee package of this checkout (it loads $CMEE_LIBRARY); raises ImportError."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings",
                        "python")
    if path not in sys.path:
        sys.path.insert(0, path)
    import cmee
    return cmee


# ---- the tests ----------------------------------------------------------------------------

class Server(unittest.TestCase):
    proc = None

    @classmethod
    def setUpClass(cls):
        cls.bin = env_bin("CMEE_SIGNALS_BIN")
        if cls.bin is None or env_bin("CMEE_BIN") is None:
            raise unittest.SkipTest("set CMEE_SIGNALS_BIN and CMEE_BIN")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = os.path.join(cls.tmp.name, "store.db")
        cls.proc, cls.port = start_signals(cls.bin, "--seed", str(SEED), "--db", cls.db)

    @classmethod
    def tearDownClass(cls):
        stop(cls.proc)
        if cls.proc is not None:
            cls.proc.stdout.close()
            cls.proc.stderr.close()
        cls.tmp.cleanup()

    def get(self, path, status=200, method="GET"):
        r = request(self.port, path, method=method)
        self.assertEqual(r.status, status, r.body)
        self.assertTrue(r.type.startswith("application/json"), r.type)
        return r.json()

    def error(self, path, status, method="GET"):
        """An error answer: exactly {"error": {"code", "message"}}; returns the inner object."""
        body = self.get(path, status, method)
        self.assertEqual(list(body), ["error"], body)
        self.assertEqual(list(body["error"]), ["code", "message"], body)
        self.assertRegex(body["error"]["code"], r"^[a-z_]+$")
        self.assertNotEqual(body["error"]["message"], "")
        return body["error"]

    def check_head(self, out, symbol, tf, before, session=None, seed=SEED):
        self.assertEqual(out["symbol"], symbol)
        self.assertEqual(out["timeframe"], tf)
        self.assertEqual(out["session"], session)
        self.assertEqual(out["seed"], seed)
        self.assertEqual(out["n"], BARS)
        # The last complete candle up to now: never a candle still forming.
        self.assertEqual(out["time"] % TF_MS[tf], 0)
        self.assertLessEqual(out["time"] + TF_MS[tf], out["end"])
        self.assertGreater(out["time"] + 2 * TF_MS[tf], out["end"])
        if session is None:
            self.assertTrue(before <= out["end"] <= time.time() * 1000 + 1, (before, out))


class Endpoints(Server):
    def test_health(self):
        out = self.get("/health")
        self.assertEqual(out["status"], "ok")
        self.assertEqual(out["service"], "cmee-signals")
        self.assertEqual(out["seed"], SEED)

    def test_signals(self):
        before = time.time() * 1000 - 1
        out = self.get("/trading/signals?symbol=BTCUSD")
        self.assertEqual(list(out), SIGNAL_KEYS)
        self.check_head(out, "BTCUSD", "1h", before)
        self.assertIn(out["consensus"], ("BUY", "SELL", "NEUTRAL"))
        self.assertTrue(-1 <= out["score"] <= 1)
        self.assertAlmostEqual(out["strength"], abs(out["score"]), delta=1e-15)
        want = "BUY" if out["score"] >= 0.2 else "SELL" if out["score"] <= -0.2 else "NEUTRAL"
        self.assertEqual(out["consensus"], want)
        for reason in out["reasons"]:
            self.assertEqual(list(reason), REASON_KEYS)
            self.assertIn(reason["rule"], RULES)
            self.assertTrue(-1 <= reason["vote"] <= 1)
            self.assertNotEqual(reason["text"], "")
        self.assertEqual(list(out["indicators"]), INDICATORS)
        self.assertEqual(list(out["indicators"]["macd"]), ["macd", "signal", "hist"])
        self.assertEqual(list(out["indicators"]["adx"]), ["adx", "plus_di", "minus_di"])
        for name, outputs in out["indicators"].items():
            for k, v in outputs.items():
                # 300 bars are past every default lookback: no null.
                self.assertIsInstance(v, (int, float), (name, k))

    def test_binary(self):
        before = time.time() * 1000 - 1
        out = self.get("/trading/binary-signals?symbol=ETHUSD&timeframe=15m")
        self.assertEqual(list(out), BINARY_KEYS)
        self.check_head(out, "ETHUSD", "15m", before)
        sig = out["signal"]
        self.assertEqual(list(sig), ["consensus", "score", "strength", "reasons"])
        strong = sig["strength"] >= 0.3
        want = {"BUY": "CALL", "SELL": "PUT"}.get(sig["consensus"]) if strong else None
        self.assertEqual(out["direction"], want or "NONE")
        if out["direction"] == "NONE":
            self.assertEqual(out["confidence"], 0)
        else:
            self.assertAlmostEqual(out["confidence"], 0.5 + sig["strength"] / 2, delta=1e-15)
        self.assertEqual(out["expiry_bars"], 5)
        self.assertEqual(out["expiry_ms"], 5 * TF_MS["15m"])
        self.assertEqual(out["expiry_time"], out["time"] + out["expiry_ms"])

    def test_analysis(self):
        before = time.time() * 1000 - 1
        out = self.get("/market/analysis?symbol=EURUSD&timeframe=4h")
        self.assertEqual(list(out), ANALYSIS_KEYS)
        self.check_head(out, "EURUSD", "4h", before)
        self.assertEqual(list(out["trend"]), TREND_KEYS)
        self.assertEqual(list(out["volatility"]), VOL_KEYS)
        self.assertEqual(list(out["levels"]), LEVEL_KEYS)
        self.assertIn(out["trend"]["direction"], ("up", "down", "sideways"))
        self.assertTrue(0 <= out["trend"]["strength"] <= 1)
        self.assertTrue(0 < out["volatility"]["vol_percentile"] <= 100)
        self.assertTrue(close(out["volatility"]["atr_pct"],
                              out["volatility"]["atr"] / out["close"] * 100, 1e-12))
        lv = out["levels"]
        self.assertEqual(list(lv["pivots"]), ["pivot", "r1", "r2", "r3", "s1", "s2", "s3"])
        self.assertTrue(lv["pivots"]["s3"] < lv["pivots"]["pivot"] < lv["pivots"]["r3"])
        if lv["support"] is not None:
            self.assertLess(lv["support"], out["close"])
        if lv["resistance"] is not None:
            self.assertGreater(lv["resistance"], out["close"])

    def test_every_timeframe(self):
        for tf in TF_MS:
            with self.subTest(tf=tf):
                out = self.get(f"/market/analysis?symbol=XAUUSD&timeframe={tf}")
                self.assertEqual(out["timeframe"], tf)
                self.assertEqual(out["time"] % TF_MS[tf], 0)

    def test_query_encoding(self):
        # Percent-encoded and reordered parameters mean the same.
        a = self.get("/trading/signals?timeframe=1d&symbol=%42TCUSD")
        self.assertEqual(a["symbol"], "BTCUSD")
        self.assertEqual(a["timeframe"], "1d")


class Determinism(Server):
    """The same seed sees the same market: every number equals `cmee gen | cmee analyze` over
    the same candles (the answer says which: the n candles whose last one opens at "time")."""

    def compare_signal(self, got, ref):
        self.assertEqual(got["consensus"], ref["direction"])
        self.assertTrue(close(got["score"], ref["score"]), (got["score"], ref["score"]))
        self.assertTrue(close(got["strength"], ref["strength"]))
        self.assertEqual([(r["rule"], r["text"]) for r in got["reasons"]],
                         [(r["rule"], r["text"]) for r in ref["reasons"]])
        for g, w in zip(got["reasons"], ref["reasons"]):
            self.assertTrue(close(g["vote"], w["vote"]) and close(g["weight"], w["weight"]))

    def test_signals_match_cli(self):
        for symbol, tf in (("BTCUSD", "1h"), ("EURUSD", "5m")):
            with self.subTest(symbol=symbol, tf=tf):
                out = self.get(f"/trading/signals?symbol={symbol}&timeframe={tf}")
                ref = cmee_reference(symbol, tf, out["time"], SEED)
                self.assertEqual(ref["time"], out["time"])
                self.assertEqual(out["close"], ref["close"])
                self.compare_signal(out, ref["signal"])
                self.assertEqual(list(out["indicators"]), list(ref["indicators"]))
                for name, outputs in ref["indicators"].items():
                    for k, v in outputs.items():
                        self.assertTrue(close(out["indicators"][name][k], v),
                                        (name, k, out["indicators"][name][k], v))

    def test_binary_matches_cli(self):
        out = self.get("/trading/binary-signals?symbol=SPX500&timeframe=1h")
        ref = cmee_reference("SPX500", "1h", out["time"], SEED)
        for key in ("direction", "expiry_ms", "expiry_time"):
            self.assertEqual(out[key], ref["binary"][key], key)
        self.assertTrue(close(out["confidence"], ref["binary"]["confidence"]))
        self.compare_signal(out["signal"], ref["signal"])

    def test_analysis_matches_cli(self):
        out = self.get("/market/analysis?symbol=BTCUSD&timeframe=15m")
        ref = cmee_reference("BTCUSD", "15m", out["time"], SEED)["analysis"]
        self.assertEqual(out["trend"]["direction"], ref["trend"])
        self.assertTrue(close(out["trend"]["strength"], ref["trend_strength"]))
        for key in TREND_KEYS[2:]:
            self.assertTrue(close(out["trend"][key], ref[key]), key)
        for key in VOL_KEYS:
            self.assertTrue(close(out["volatility"][key], ref[key]), key)
        lv = out["levels"]
        for key in ("pivots", "fibonacci"):
            for k, v in ref[key].items():
                self.assertTrue(close(lv[key][k], v), (key, k))
        for key in ("support", "resistance"):
            self.assertTrue(close(lv[key], ref[key]), key)
        for key in ("swing_highs", "swing_lows"):
            self.assertEqual(len(lv[key]), len(ref[key]))
            self.assertTrue(all(close(g, w) for g, w in zip(lv[key], ref[key])), key)

    def test_other_seed_other_market(self):
        out = self.get("/market/analysis?symbol=BTCUSD")
        self.assertEqual(out["close"], cmee_reference("BTCUSD", "1h", out["time"], SEED)["close"])
        self.assertNotEqual(out["close"],
                            cmee_reference("BTCUSD", "1h", out["time"], SEED + 1)["close"])

    def test_two_servers_agree(self):
        proc, port = start_signals(self.bin, "--seed", str(SEED))
        try:
            for _ in range(3):  # an hour may turn between the two requests: ask again
                a = self.get("/trading/signals?symbol=GBPUSD")
                r = request(port, "/trading/signals?symbol=GBPUSD")
                self.assertEqual(r.status, 200)
                b = r.json()
                if a["time"] == b["time"]:
                    break
            for d in (a, b):
                del d["end"]
            self.assertEqual(a, b)
        finally:
            stop(proc)
            proc.stdout.close()
            proc.stderr.close()


class Errors(Server):
    def test_missing_symbol(self):
        for path in ("/trading/signals", "/trading/binary-signals?timeframe=1h",
                     "/market/analysis?symbol=", "/market/analysis?symbol"):
            with self.subTest(path=path):
                e = self.error(path, 400)
                self.assertEqual(e["code"], "missing_parameter")
                self.assertTrue(e["message"].startswith("symbol:"), e)

    def test_unknown_symbol(self):
        for path in ("/trading/signals?symbol=NOPE", "/market/analysis?symbol=btcusd",
                     "/trading/binary-signals?symbol=BTCUSDT&timeframe=1d"):
            with self.subTest(path=path):
                e = self.error(path, 404)
                self.assertEqual(e["code"], "unknown_symbol")
                self.assertTrue(e["message"].startswith("symbol:"), e)

    def test_bad_timeframe(self):
        for tf in ("2h", "1H", "", "60"):
            with self.subTest(tf=tf):
                e = self.error(f"/trading/signals?symbol=BTCUSD&timeframe={tf}", 400)
                self.assertEqual(e["code"], "invalid_parameter")
                self.assertTrue(e["message"].startswith("timeframe:"), e)

    def test_unknown_parameter(self):
        e = self.error("/market/analysis?symbol=BTCUSD&timefrane=1h", 400)
        self.assertEqual(e["code"], "unknown_parameter")
        self.assertTrue(e["message"].startswith("timefrane:"), e)

    def test_bad_session_id(self):
        e = self.error("/market/analysis?symbol=BTCUSD&session=a%20b", 400)
        self.assertEqual(e["code"], "invalid_parameter")
        self.assertTrue(e["message"].startswith("session:"), e)

    def test_unknown_path(self):
        for path in ("/", "/trading", "/trading/signal", "/market/analysis/x", "/api/health"):
            with self.subTest(path=path):
                self.assertEqual(self.error(path, 404)["code"], "not_found")

    def test_wrong_method(self):
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                r = request(self.port, "/trading/signals?symbol=BTCUSD", method=method,
                            body=b"{}" if method != "DELETE" else None)
                self.assertEqual(r.status, 405)
                self.assertEqual(r.headers.get("allow"), "GET")
                self.assertEqual(r.json()["error"]["code"], "method_not_allowed")
        self.assertEqual(self.error("/health", 405, method="POST")["code"],
                         "method_not_allowed")

    def test_unknown_session_without_store(self):
        # The store file does not exist yet: not created, and the session is simply unknown.
        db = os.path.join(self.tmp.name, "absent.db")
        proc, port = start_signals(self.bin, "--db", db)
        try:
            r = request(port, "/market/analysis?symbol=BTCUSD&session=nope")
            self.assertEqual(r.status, 404)
            self.assertEqual(r.json()["error"]["code"], "session_not_found")
            self.assertFalse(os.path.exists(db))
        finally:
            stop(proc)
            proc.stdout.close()
            proc.stderr.close()


class Sessions(Server):
    """?session=ID analyses a stored session's market up to its clock, and writes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.cmee = cmee = import_cmee()
        except ImportError as e:
            raise unittest.SkipTest(f"Python bindings unavailable: {e}")
        if not hasattr(cmee, "Session"):
            raise unittest.SkipTest("the Python bindings have no cmee.Session to store one")
        cls.start = T2030 + 17 * MINUTE + 1234
        cls.crash_t0 = T2030
        cls.crash_now = T2030 + 6 * HOUR + 30 * MINUTE
        # Manual clocks: a session's now stands still, so the answers can be predicted.
        with cmee.Store(cls.db) as store:
            cmee.Session(id="plain", seed=99, start=cls.start, manual_clock=True,
                         symbols=["BTCUSD", "EURUSD"], store=store).close()
            with cmee.Session(id="crash", seed=99, start=cls.crash_t0, manual_clock=True,
                              scenario="crash", store=store) as crash:
                crash.seek(cls.crash_now)
            # Ten days after the series begins: 300 hourly candles do not fit before its now.
            cmee.Session(id="early", seed=99, start=TIME_MIN + 10 * 24 * HOUR,
                         manual_clock=True, store=store).close()

    def digest(self):
        """The store's contents: the file and its write-ahead log, where commits land first
        (a reader may create an empty log: that is no change)."""
        h = hashlib.sha256()
        for path in (self.db, self.db + "-wal"):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    h.update(f.read())
            h.update(b"|")
        return h.hexdigest()

    def test_session_market_up_to_its_now(self):
        before = self.digest()
        out = self.get("/trading/signals?symbol=BTCUSD&session=plain")
        self.check_head(out, "BTCUSD", "1h", 0, session="plain", seed=99)
        self.assertEqual(out["end"], self.start)  # a manual clock stands still
        ref = cmee_reference("BTCUSD", "1h", out["time"], 99)
        self.assertEqual(out["close"], ref["close"])
        self.assertEqual(out["consensus"], ref["signal"]["direction"])
        self.assertTrue(close(out["score"], ref["signal"]["score"]))
        an = self.get("/market/analysis?symbol=EURUSD&timeframe=5m&session=plain")
        self.assertEqual(an["end"], self.start)
        ref = cmee_reference("EURUSD", "5m", an["time"], 99)["analysis"]
        self.assertTrue(close(an["volatility"]["atr"], ref["atr"]))
        self.assertEqual(self.digest(), before, "the store changed")

    def test_session_symbols(self):
        e = self.error("/trading/binary-signals?symbol=ETHUSD&session=plain", 404)
        self.assertEqual(e["code"], "unknown_symbol")
        self.assertIn("plain", e["message"])

    def test_before_the_series(self):
        e = self.error("/trading/signals?symbol=BTCUSD&session=early", 400)
        self.assertEqual(e["code"], "out_of_range")
        # 15m candles fit: 300 of them are about three days.
        out = self.get("/trading/signals?symbol=BTCUSD&timeframe=15m&session=early")
        self.assertEqual(out["end"], TIME_MIN + 10 * 24 * HOUR)

    def test_unknown_session(self):
        e = self.error("/trading/signals?symbol=BTCUSD&session=nosuchsession", 404)
        self.assertEqual(e["code"], "session_not_found")

    def test_session_scenario(self):
        """The session's market includes its scenario: the Python bindings' market with the
        same seed and the crash preset applied at the same time gives the same numbers."""
        cmee = self.cmee
        out = self.get("/market/analysis?symbol=BTCUSD&timeframe=15m&session=crash")
        self.assertEqual(out["end"], self.crash_now)
        with cmee.Market(seed=99) as m:
            m.apply(cmee.Scenario.preset("crash"), self.crash_t0)
            c = m.candles("BTCUSD", "15m", count=BARS, end=self.crash_now)
            want = cmee.analyze(c, "15m")
        self.assertEqual(out["time"], want.time)
        self.assertEqual(out["close"], want.close)
        self.assertTrue(close(out["trend"]["adx"], want.adx))
        self.assertTrue(close(out["volatility"]["realized_vol"], want.realized_vol))
        # And the crash really is in it: the plain market of seed 99 differs after t0.
        plain = cmee_reference("BTCUSD", "15m", out["time"], 99)
        self.assertNotEqual(out["close"], plain["close"])


if __name__ == "__main__":
    unittest.main()
