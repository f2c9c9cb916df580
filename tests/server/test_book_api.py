# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server's order book and trade tape: GET /api/market/orderbook and /api/market/trades
against `cmee book` and `cmee trades` of the same seed, bad input, and the WebSocket channels
`orderbook` (a snapshot, then updates that rebuild the book exactly) and `trades`."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server  # noqa: E402
from wsclient import WebSocket  # noqa: E402

CMEE = os.environ.get("CMEE_BIN")
SEED = 777


def cli(*args):
    p = subprocess.run([CMEE, *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("cmee %s: %s" % (" ".join(args), p.stderr))
    return p.stdout.splitlines()


def levels(book, side):
    return [(lv["price"], lv["size"]) for lv in book[side]]


class BookApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(db=":memory:", seed=SEED)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path):
        st, _, j, raw = self.srv.get(path)
        return st, j

    def test_orderbook_matches_cli(self):
        st, b = self.get("/api/market/orderbook?symbol=ETHUSD&depth=7")
        self.assertEqual(st, 200, b)
        self.assertEqual(b["symbol"], "ETHUSD")
        self.assertEqual(len(b["bids"]), 7)
        self.assertEqual(len(b["asks"]), 7)
        self.assertEqual(b["bid"], b["bids"][0]["price"])
        self.assertEqual(b["ask"], b["asks"][0]["price"])
        self.assertLess(b["bid"], b["ask"])
        self.assertLessEqual(b["time"], int(time.time() * 1000) + 1)
        rows = cli("book", "--symbol", "ETHUSD", "--at", str(b["time"]), "--depth", "7",
                   "--seed", str(SEED))
        self.assertEqual(rows[0], "side,level,price,size")
        want = {"bid": [], "ask": []}
        for r in rows[1:]:
            side, level, price, size = r.split(",")
            want[side].append((float(price), float(size)))
        self.assertEqual(levels(b, "bids"), want["bid"])
        self.assertEqual(levels(b, "asks"), want["ask"])
        # At a given past moment, the same book as the CLI's.
        at = b["time"] - 3_600_000
        st, p = self.get("/api/market/orderbook?symbol=ETHUSD&depth=3&at=%d" % at)
        self.assertEqual(st, 200, p)
        rows = cli("book", "--symbol", "ETHUSD", "--at", str(at), "--depth", "3", "--seed",
                   str(SEED))
        self.assertEqual([(float(r.split(",")[2]), float(r.split(",")[3])) for r in rows[1:4]],
                         levels(p, "bids"))

    def test_default_depth(self):
        st, b = self.get("/api/market/orderbook?symbol=AAPL")
        self.assertEqual(st, 200)
        self.assertEqual(len(b["asks"]), 20)

    def test_trades_match_cli(self):
        st, t = self.get("/api/market/trades?symbol=AAPL&limit=25")
        self.assertEqual(st, 200, t)
        self.assertEqual(t["symbol"], "AAPL")
        trades = t["trades"]
        self.assertEqual(len(trades), 25)
        times = [x["time"] for x in trades]
        self.assertEqual(times, sorted(times))
        self.assertLessEqual(times[-1], t["time"])
        for x in trades:
            self.assertIn(x["side"], ("buy", "sell"))
            self.assertGreater(x["size"], 0)
        rows = cli("trades", "--symbol", "AAPL", "--count", "25", "--end",
                   str(times[-1] + 1), "--seed", str(SEED))
        self.assertEqual(rows[0], "time,price,size,side")
        got = [(x["time"], x["price"], x["size"], x["side"]) for x in trades]
        want = []
        for r in rows[1:]:
            tm, price, size, side = r.split(",")
            want.append((int(tm), float(price), float(size), side))
        self.assertEqual(got, want)
        st, d = self.get("/api/market/trades?symbol=AAPL")
        self.assertEqual(len(d["trades"]), 50)

    def test_bad_input(self):
        cases = [
            ("/api/market/orderbook", 400, "symbol"),
            ("/api/market/orderbook?symbol=NOPE", 400, "symbol"),
            ("/api/market/orderbook?symbol=BTCUSD&depth=0", 400, "depth"),
            ("/api/market/orderbook?symbol=BTCUSD&depth=51", 400, "depth"),
            ("/api/market/orderbook?symbol=BTCUSD&depth=x", 400, "depth"),
            ("/api/market/orderbook?symbol=BTCUSD&at=99999999999999", 400, "at"),
            ("/api/market/orderbook?symbol=BTCUSD&at=5", 400, "at"),
            ("/api/market/trades", 400, "symbol"),
            ("/api/market/trades?symbol=BTCUSD&limit=0", 400, "limit"),
            ("/api/market/trades?symbol=BTCUSD&limit=1001", 400, "limit"),
            ("/api/market/trades?symbol=BTCUSD&limit=-3", 400, "limit"),
            ("/api/market/trades?symbol=BTCUSD&limit=1e3", 400, "limit"),
            ("/api/market/trades?symbol=BTCUSD&bogus=1", 400, "bogus"),
        ]
        for path, code, field in cases:
            with self.subTest(path=path):
                st, j = self.get(path)
                self.assertEqual(st, code)
                self.assertIn("error", j)
                self.assertIn(field, j["error"]["message"])

    def ws(self):
        w = WebSocket("127.0.0.1", self.srv.port)
        self.addCleanup(w.close)
        return w

    def test_ws_orderbook_snapshot_then_updates(self):
        w = self.ws()
        w.send_json({"op": "subscribe", "channel": "orderbook", "symbol": "SOLUSD",
                     "depth": 5})
        ack = w.recv_json(timeout=5)
        self.assertEqual(ack, {"type": "subscribed", "channel": "orderbook",
                               "symbol": "SOLUSD", "depth": 5})
        snap = w.recv_json(timeout=5)
        self.assertEqual(snap["type"], "snapshot")
        self.assertEqual(snap["channel"], "orderbook")
        book = {"bids": dict(levels(snap, "bids")), "asks": dict(levels(snap, "asks"))}
        last = snap["time"]
        updates = 0
        end = time.monotonic() + 4
        while time.monotonic() < end and updates < 3:
            m = w.recv_json(timeout=5)
            self.assertEqual(m["channel"], "orderbook")
            self.assertEqual(m["type"], "update")
            self.assertGreater(m["time"], last)
            last = m["time"]
            for side in ("bids", "asks"):
                for lv in m[side]:
                    if lv["size"] == 0:
                        del book[side][lv["price"]]
                    else:
                        book[side][lv["price"]] = lv["size"]
            updates += 1
        self.assertGreaterEqual(updates, 2)
        # The rebuilt book is exactly the REST book at that moment.
        st, ref = self.get("/api/market/orderbook?symbol=SOLUSD&depth=5&at=%d" % last)
        self.assertEqual(st, 200, ref)
        self.assertEqual(sorted(book["bids"].items(), reverse=True), levels(ref, "bids"))
        self.assertEqual(sorted(book["asks"].items()), levels(ref, "asks"))

    def test_ws_trades(self):
        w = self.ws()
        w.send_json({"op": "subscribe", "channel": "trades", "symbol": "AAPL"})
        ack = w.recv_json(timeout=5)
        self.assertEqual(ack, {"type": "subscribed", "channel": "trades", "symbol": "AAPL"})
        got = []
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            try:
                m = w.recv_json(timeout=max(0.05, end - time.monotonic()))
            except socket.timeout:
                break
            self.assertEqual(m["channel"], "trades")
            self.assertEqual(m["type"], "trade")
            got.append((m["time"], m["price"], m["size"], m["side"]))
        self.assertGreaterEqual(len(got), 2)
        # Every trade streamed is on the tape the REST API serves, in order, none missing
        # between the first and the last.
        st, t = self.get("/api/market/trades?symbol=AAPL&limit=1000")
        tape = [(x["time"], x["price"], x["size"], x["side"]) for x in t["trades"]]
        i = tape.index(got[0])
        self.assertEqual(tape[i:i + len(got)], got)

    def test_ws_bad_subscriptions(self):
        w = self.ws()
        for msg, field in (({"op": "subscribe", "channel": "orderbook", "symbol": "BTCUSD",
                             "depth": 0}, "depth"),
                           ({"op": "subscribe", "channel": "orderbook", "symbol": "BTCUSD",
                             "depth": "5"}, "depth"),
                           ({"op": "subscribe", "channel": "orderbook", "symbol": "NOPE"},
                            "symbol"),
                           ({"op": "subscribe", "channel": "trades"}, "symbol")):
            w.send_json(msg)
            m = w.recv_json(timeout=5)
            self.assertEqual(m["type"], "error", m)
            self.assertIn(field, json.dumps(m))


if __name__ == "__main__":
    unittest.main()
