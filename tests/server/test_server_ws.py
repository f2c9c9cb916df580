# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server's /ws feed through a standard-library WebSocket client (wsclient.py): ticks fold
into the 1m candles the REST API serves, session events arrive, bad input is answered, slow
clients do not hold up others."""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import ADMIN_TOKEN, Server  # noqa: E402
from wsclient import WebSocket, WebSocketError  # noqa: E402


class WsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(db=":memory:")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def ws(self):
        w = WebSocket("127.0.0.1", self.srv.port)
        self.addCleanup(w.close)
        return w

    def test_ticks_fold_into_rest_candles(self):
        w = self.ws()
        w.send_json({"op": "subscribe", "channel": "ticks", "symbol": "BTCUSD"})
        ack = w.recv_json(timeout=5)
        self.assertEqual(ack, {"type": "subscribed", "channel": "ticks", "symbol": "BTCUSD"})
        ticks = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            try:
                m = w.recv_json(timeout=max(0.05, end - time.monotonic()))
            except socket.timeout:
                break
            self.assertEqual(m["channel"], "ticks")
            self.assertEqual(m["symbol"], "BTCUSD")
            ticks.append(m)
        self.assertGreater(len(ticks), 1)
        times = [t["time"] for t in ticks]
        self.assertEqual(times, sorted(times))
        self.assertEqual(len(set(times)), len(times))

        st, _, j, _ = self.srv.get("/api/market/candles?symbol=BTCUSD&timeframe=1m&limit=2")
        self.assertEqual(st, 200)
        # Ticks that arrived after the REST answer too, so every tick up to its close is there.
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            try:
                ticks.append(w.recv_json(timeout=max(0.05, end - time.monotonic())))
            except socket.timeout:
                break
        checked = 0
        for c in j["candles"]:
            t0, o, h, lo, cl, v = c
            mine = [t for t in ticks if t0 <= t["time"] < t0 + 60000]
            # The subscription starts with the minute's ticks so far, so the first one we hold
            # for a minute whose start we saw is its open.
            if not mine or mine[0]["time"] != t0:
                continue
            # The candle covers a prefix of the ticks (those up to the server's now); ticks
            # may have zero volume, so several prefixes can have the candle's volume.
            folds = []
            acc = 0
            for i, t in enumerate(mine):
                acc += t["volume"]
                if acc == v:
                    prices = [x["price"] for x in mine[:i + 1]]
                    folds.append([t0, prices[0], max(prices), min(prices), prices[-1], acc])
            self.assertIn(c, folds, "no prefix of the ticks folds into %r" % (c,))
            checked += 1
        self.assertGreaterEqual(checked, 1)

    def test_published_us(self):
        """Live messages carry the wall-clock time the server published them (us since the
        epoch), at or after the tick's own time; the backfill (sent on subscribing, never
        published) does not. Every client gets the same text for the same tick."""
        a, b = self.ws(), self.ws()
        for w in (a, b):
            w.send_json({"op": "subscribe", "channel": "ticks", "symbol": "ETHUSD"})
        t_sub = time.time() * 1000
        got = {}
        for w in (a, b):
            w.recv_until(lambda m: m.get("type") == "subscribed")
            live = []
            end = time.monotonic() + 2.5
            while time.monotonic() < end and len(live) < 2:
                try:
                    text = w.recv(timeout=max(0.05, end - time.monotonic()))
                except socket.timeout:
                    break
                m = json.loads(text)
                if "published_us" not in m:
                    self.assertLessEqual(m["time"], t_sub + 1000)  # backfill
                    continue
                self.assertIsInstance(m["published_us"], int)
                self.assertGreaterEqual(m["published_us"], m["time"] * 1000)
                self.assertLess(abs(m["published_us"] / 1e3 - time.time() * 1000), 3000)
                live.append(text)
                got.setdefault(m["time"], []).append(text)
            self.assertGreaterEqual(len(live), 1)
        same = [texts for texts in got.values() if len(texts) == 2]
        self.assertTrue(same)
        for texts in same:
            self.assertEqual(texts[0], texts[1])

    def test_several_symbols_in_order(self):
        """Ticks of several symbols published together reach a connection together (one
        write when they fit), each symbol's in time order, none lost."""
        syms = ["BTCUSD", "ETHUSD", "EURUSD", "XAUUSD", "GBPUSD"]
        w = self.ws()
        for sym in syms:
            w.send_json({"op": "subscribe", "channel": "ticks", "symbol": sym})
        got = {sym: [] for sym in syms}
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            try:
                m = w.recv_json(timeout=max(0.05, end - time.monotonic()))
            except socket.timeout:
                break
            if m.get("channel") == "ticks" and "published_us" in m:
                got[m["symbol"]].append(m["time"])
        for sym in syms:
            self.assertGreaterEqual(len(got[sym]), 2, sym)
            self.assertEqual(got[sym], sorted(set(got[sym])), sym)
        # The built-in symbols tick at the same instants: the same times for all (but the
        # window's first and last ticks, which may fall between two symbols' subscriptions or
        # the window's end).
        common = set(got[syms[0]][1:-1])
        for sym in syms[1:]:
            self.assertTrue(common <= set(got[sym]), sym)

    def test_candles_channel_and_unsubscribe(self):
        w = self.ws()
        w.send_json({"op": "subscribe", "channel": "candles", "symbol": "ETHUSD",
                     "timeframe": "5m"})
        self.assertEqual(w.recv_json(timeout=5), {"type": "subscribed", "channel": "candles",
                                                  "symbol": "ETHUSD", "timeframe": "5m"})
        w.send_json({"op": "subscribe", "channel": "candles", "symbol": "ETHUSD",
                     "timeframe": "5m"})
        m, _ = w.recv_until(lambda m: m.get("type") == "error")
        self.assertEqual(m["error"]["code"], "conflict")
        w.send_json({"op": "unsubscribe", "channel": "candles", "symbol": "ETHUSD",
                     "timeframe": "5m"})
        m, _ = w.recv_until(lambda m: m.get("type") == "unsubscribed")
        self.assertEqual(m["timeframe"], "5m")
        w.send_json({"op": "unsubscribe", "channel": "candles", "symbol": "ETHUSD",
                     "timeframe": "5m"})
        m, _ = w.recv_until(lambda m: m.get("type") == "error")
        self.assertEqual(m["error"]["code"], "not_subscribed")

    def test_bad_messages(self):
        w = self.ws()
        cases = [
            ("not json", "invalid_json"),
            ('{"op":"dance"}', "invalid_parameter"),
            ('{"op":"subscribe"}', "missing_parameter"),
            ('{"op":"subscribe","channel":"weather"}', "invalid_parameter"),
            ('{"op":"subscribe","channel":"ticks","symbol":"NOPE"}', "invalid_parameter"),
            ('{"op":"subscribe","channel":"candles","symbol":"BTCUSD","timeframe":"7m"}',
             "invalid_parameter"),
            ('{"op":"subscribe","channel":"session","id":"nope","token":"x"}', "not_found"),
            ("[" * 3000, "invalid_json"),
        ]
        for text, code in cases:
            w.send_text(text)
            m, _ = w.recv_until(lambda m: m.get("type") == "error")
            self.assertEqual(m["error"]["code"], code, text)
        w.send_json({"op": "ping"})
        m, _ = w.recv_until(lambda m: m.get("type") == "pong")
        # Too large a message closes the connection; the server lives on.
        w2 = WebSocket("127.0.0.1", self.srv.port)
        w2.send_text("x" * 10000)
        with self.assertRaises(Exception):
            for _ in range(5):
                w2.recv(timeout=3)
        w2.sock.close()
        self.assertEqual(self.srv.get("/health")[0], 200)

    def test_upgrade_only_on_ws(self):
        # No upgrade anywhere else (libwebsockets refuses it or drops the connection).
        with self.assertRaises(WebSocketError):
            WebSocket("127.0.0.1", self.srv.port, path="/api/market/symbols")
        st = self.srv.get("/ws")[0]
        self.assertEqual(st, 426)

    def test_session_channel(self):
        s = self.srv.create_session(symbols=["BTCUSD"], seed=4)
        w = self.ws()
        w.send_json({"op": "subscribe", "channel": "session", "id": s["id"]})
        m, _ = w.recv_until(lambda m: m.get("type") == "error")
        self.assertEqual(m["error"]["code"], "unauthorized")
        w.send_json({"op": "subscribe", "channel": "session", "id": s["id"], "token": "0" * 64})
        m, _ = w.recv_until(lambda m: m.get("type") == "error")
        self.assertEqual(m["error"]["code"], "forbidden")
        w.send_json({"op": "subscribe", "channel": "session", "id": s["id"],
                     "token": s["token"]})
        m, _ = w.recv_until(lambda m: m.get("type") == "subscribed")
        self.assertEqual(m["id"], s["id"])
        # The session's own ticks flow...
        m, _ = w.recv_until(lambda m: m.get("type") == "tick", timeout=5)
        self.assertEqual((m["channel"], m["id"], m["symbol"]), ("session", s["id"], "BTCUSD"))
        self.assertIsInstance(m["published_us"], int)
        # ...and its events.
        st, _, o, raw = self.srv.post("/api/sessions/%s/orders" % s["id"],
                                      {"symbol": "BTCUSD", "side": "buy", "qty": 0.01},
                                      token=s["token"])
        self.assertEqual(st, 201, raw)
        m, _ = w.recv_until(lambda m: m.get("type") == "order_filled", timeout=5)
        self.assertEqual(m["id"], s["id"])
        self.assertIsInstance(m["data"], dict)
        self.assertIsInstance(m["published_us"], int)
        st, _, _, raw = self.srv.post("/api/admin/sessions/%s/scenario" % s["id"],
                                      {"preset": "calm"}, admin=ADMIN_TOKEN)
        self.assertEqual(st, 201, raw)
        m, _ = w.recv_until(lambda m: m.get("type") == "scenario_applied", timeout=5)
        self.assertEqual(m["id"], s["id"])

    def test_slow_client_does_not_stall_others(self):
        # A client that subscribes to a lot and never reads...
        slow = WebSocket("127.0.0.1", self.srv.port)
        self.addCleanup(slow.sock.close)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        st, _, syms, _ = self.srv.get("/api/market/symbols")
        for sym in [x["symbol"] for x in syms["symbols"]][:20]:
            slow.send_json({"op": "subscribe", "channel": "ticks", "symbol": sym})
        # ...while another one gets its ticks on time.
        fast = self.ws()
        fast.send_json({"op": "subscribe", "channel": "ticks", "symbol": "EURUSD"})
        fast.recv_until(lambda m: m.get("type") == "subscribed")
        t_sub = time.time() * 1000
        t0 = time.monotonic()
        got = 0
        while time.monotonic() - t0 < 3:
            try:
                m = fast.recv_json(timeout=2)
            except socket.timeout:
                break
            if m.get("channel") == "ticks" and m["time"] > t_sub:
                # Live ticks (not the minute's backfill) arrive within a pump period or so.
                got += 1
                self.assertLess(time.time() * 1000 - m["time"], 1500)
        self.assertGreaterEqual(got, 2)
        self.assertEqual(self.srv.get("/health")[0], 200)

    def test_many_clients(self):
        clients = [WebSocket("127.0.0.1", self.srv.port) for _ in range(50)]
        try:
            for c in clients:
                c.send_json({"op": "subscribe", "channel": "ticks", "symbol": "XAUUSD"})
            for c in clients:
                c.recv_until(lambda m: m.get("type") == "subscribed")
            st, _, h, _ = self.srv.get("/health")
            self.assertGreaterEqual(h["ws_clients"], 50)
            for c in clients:
                c.recv_until(lambda m: m.get("channel") == "ticks", timeout=5)
        finally:
            for c in clients:
                c.close()


class TickRateTest(unittest.TestCase):
    """--tick-hz: the global market's symbols tick HZ times a second; the candles stay those of
    the default rate, the ticks inside them change and still fold into them."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(db=":memory:", extra=["--tick-hz", "10"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_ten_ticks_a_second(self):
        w = WebSocket("127.0.0.1", self.srv.port)
        self.addCleanup(w.close)
        w.send_json({"op": "subscribe", "channel": "ticks", "symbol": "BTCUSD"})
        w.recv_until(lambda m: m.get("type") == "subscribed")
        live = []
        end = time.monotonic() + 1.6
        while time.monotonic() < end:
            try:
                m = w.recv_json(timeout=max(0.05, end - time.monotonic()))
            except socket.timeout:
                break
            if "published_us" in m:
                live.append(m)
        self.assertGreaterEqual(len(live), 10)
        times = [m["time"] for m in live]
        self.assertEqual([b - a for a, b in zip(times, times[1:])], [100] * (len(times) - 1))
        # Published on time: the stream timer wakes at each tick (well under a 200 ms pump).
        lags = sorted(m["published_us"] / 1e3 - m["time"] for m in live)
        self.assertLess(lags[len(lags) // 2], 50)
        # The REST price at a time is that of the last tick at or before it.
        st, _, j, _ = self.srv.get("/api/market/prices?symbols=BTCUSD")
        self.assertEqual(st, 200)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            try:
                live.append(w.recv_json(timeout=max(0.05, end - time.monotonic())))
            except socket.timeout:
                break
        at = j["prices"][0]["time"]
        last = [m for m in live if m["time"] <= at][-1]
        self.assertLess(at - last["time"], 100)
        self.assertEqual(j["prices"][0]["price"], last["price"])

    def test_candles_unchanged(self):
        with Server(db=":memory:") as plain:
            t = int(time.time() * 1000) // 3600000 * 3600000 - 2 * 3600000
            path = "/api/market/candles?symbol=EURUSD&timeframe=1m&from=%d&to=%d" % (t, t + 3600000)
            st, _, fast, _ = self.srv.get(path)
            st2, _, slow, _ = plain.get(path)
        self.assertEqual((st, st2), (200, 200))
        self.assertEqual(len(fast["candles"]), 60)
        self.assertEqual(fast, slow)

    def test_bad_rates(self):
        import subprocess
        for bad in ("0", "11", "0.05", "1.234", "abc", ""):
            p = subprocess.run([os.environ.get("CMEE_SERVER_BIN", "cmee-server"), "--port", "0",
                                "--db", ":memory:", "--tick-hz", bad],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("--tick-hz", p.stderr)


if __name__ == "__main__":
    unittest.main()
