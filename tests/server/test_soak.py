# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak: cmee-server under a bounded mixed load on 127.0.0.1, then checked.

For CMEE_SOAK_SECONDS (default 20; docs/testing.md) at once:
  - wrk on a mix of market, session and health endpoints (keep-alive connections);
  - 200 WebSocket clients (CMEE_SOAK_WS_CLIENTS) subscribing to and unsubscribing from ticks,
    candles and session channels, pinging, and reconnecting now and then;
  - a trader per session (CMEE_SOAK_SESSIONS, default 4) placing market, limit and stop orders
    with and without stop-loss and take-profit, cancelling, buying options, closing positions
    and moving the session's clock through the REST API, reading its account after each call;
  - an admin applying and cancelling a scenario on one session.
Afterwards: the server still answers HTTP and WebSocket; its resident set grew by less than
RSS_GROWTH_MAX_MIB over the load and by less than RSS_LATE_GROWTH_MAX_MIB over its second half,
plus RSS_PER_RECORD_KIB for each ledger entry, order and option the sessions gained (a leak grows
with the requests, a cache levels off); wrk saw no errors and no answer other than
2xx; no client saw an error; the server's stderr (its JSON log) holds no warn or error line;
every session's ledger balances (each entry's running balance is the previous one plus its
amount, and the balance is the initial balance plus the sum of every entry, all read through
the REST API); and a restart on the same store loads every session with the same balance.
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient  # noqa: E402

SERVER = os.environ.get("CMEE_SERVER_BIN", "cmee-server")
SECONDS = float(os.environ.get("CMEE_SOAK_SECONDS", "20"))
WS_CLIENTS = int(os.environ.get("CMEE_SOAK_WS_CLIENTS", "200"))
SESSIONS = int(os.environ.get("CMEE_SOAK_SESSIONS", "4"))
WS_THREADS = 10
ADMIN = "soak-admin-token-0123456789"
SYMBOLS = ["BTCUSD", "ETHUSD", "EURUSD"]

# The bounds on the server's resident set (VmRSS), from a baseline taken after a warm-up: a
# fixed allowance (SQLite's page cache, the WebSocket queues of 200 clients, malloc's free lists)
# plus RSS_PER_RECORD_KIB for each record the sessions gained (ledger entries, orders, options:
# a session keeps its records in memory, so that growth is by design; measured 90 to 250 bytes a
# record). Requests add no state: over the second half of a 20 s run (37,000 wrk requests,
# 2,400 records, 0.6 MiB of growth) the bound leaves room for about 100 bytes per request.
# Figures are in docs/testing.md.
RSS_GROWTH_MAX_MIB = 16
RSS_LATE_GROWTH_MAX_MIB = 3
RSS_PER_RECORD_KIB = 0.5

# cmee-server's stderr is its JSON log (docs/server.md#logs): all is well when every line is a
# JSON object below warn.
BENIGN_LEVELS = ("debug", "info")


def log_problems(text):
    """The lines of a JSON log that are not JSON objects or are warnings or errors."""
    bad = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(rec, dict) or rec.get("level") not in BENIGN_LEVELS:
            bad.append(line)
    return bad


def log_records(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def rss_kib(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class Server:
    """cmee-server on a kernel-chosen loopback port, its stdout and stderr in files (a pipe
    nobody reads would fill and stall it during a long run)."""

    def __init__(self, db, tmp, tag):
        self.out_path = os.path.join(tmp, "server-%s.out" % tag)
        self.err_path = os.path.join(tmp, "server-%s.err" % tag)
        env = dict(os.environ, CMEE_ADMIN_TOKEN=ADMIN)
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                [SERVER, "--host", "127.0.0.1", "--port", "0", "--db", db, "--seed", "7"],
                env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        end = time.monotonic() + 15
        while True:
            with open(self.out_path, encoding="utf-8") as f:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None or time.monotonic() > end:
                self.proc.kill()
                raise RuntimeError("cmee-server did not start: " + self.stderr())
            time.sleep(0.05)
        self.pid = self.proc.pid

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Http:
    """One keep-alive connection; money parsed as Decimal."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.reconnects = 0

    def request(self, method, path, body=None, token=None):
        hdrs = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server may close an idle keep-alive connection; counted, not an error.
                self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt:
                    raise
        parsed = json.loads(raw, parse_float=Decimal) if raw else None
        return resp.status, parsed

    def close(self):
        if self.conn:
            self.conn.close()


class Tally:
    """Counters and error messages shared by the load threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def error(self, msg):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(msg)
            self.counts["errors"] = self.counts.get("errors", 0) + 1


class Ledger:
    """A session's ledger as seen through GET /account (the last 50 entries each time)."""

    def __init__(self, sid, initial):
        self.sid = sid
        self.initial = Decimal(initial)
        self.entries = {}
        self.balance = None
        self.count = 0
        self.orders = 0   # the highest order id seen: orders are numbered 1, 2, ...
        self.options = 0  # likewise options

    def records(self):
        return self.count + self.orders + self.options

    def absorb(self, acct, tally):
        led = acct["ledger"]
        for prev, e in zip(led, led[1:]):
            if e["seq"] != prev["seq"] + 1 or Decimal(e["balance"]) != \
                    Decimal(prev["balance"]) + Decimal(e["amount"]):
                tally.error("%s: ledger entries %s and %s do not chain" % (self.sid, prev, e))
        if led and (Decimal(led[-1]["balance"]) != Decimal(acct["balance"]) or
                    led[-1]["seq"] != acct["ledger_entries"]):
            tally.error("%s: the last ledger entry %s is not the balance %s (%s entries)" %
                        (self.sid, led[-1], acct["balance"], acct["ledger_entries"]))
        for e in led:
            old = self.entries.get(e["seq"])
            if old is not None and old != e:
                tally.error("%s: ledger entry %d changed: %s then %s" % (self.sid, e["seq"],
                                                                          old, e))
            self.entries[e["seq"]] = e
        self.balance = Decimal(acct["balance"])
        self.count = acct["ledger_entries"]
        self.orders = max([self.orders] + [o["id"] for o in acct["orders"]])
        self.options = max([self.options] + [o["id"] for o in acct["options"]])


class Soak(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wrk = shutil.which("wrk")
        if not cls.wrk:
            raise unittest.SkipTest("wrk is not installed (scripts/dev deps installs it)")
        cls.tmp = tempfile.TemporaryDirectory(prefix="cmee-soak-")
        cls.db = os.path.join(cls.tmp.name, "soak.db")
        cls.tally = Tally()
        cls.fig = {}
        cls.srv = Server(cls.db, cls.tmp.name, "1")
        try:
            cls.run_load()
        finally:
            cls.final_status = cls.srv.stop()
        cls.stderr1 = cls.srv.stderr()
        cls.restart()
        print("\nsoak figures:", file=sys.stderr)
        for k in sorted(cls.fig):
            print("  %s: %s" % (k, cls.fig[k]), file=sys.stderr)
        print("  counts: %s" % json.dumps(cls.tally.counts, sort_keys=True), file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # -- the load ---------------------------------------------------------------------------
    @classmethod
    def run_load(cls):
        srv, tally = cls.srv, cls.tally
        h = Http(srv.port)
        cls.sessions = []
        for k in range(SESSIONS):
            st, s = h.request("POST", "/api/sessions",
                              {"seed": 100 + k, "symbols": SYMBOLS, "speed": 20,
                               "balance": 100000})
            assert st == 201, (st, s)
            cls.sessions.append(s)
        cls.ledgers = {s["id"]: Ledger(s["id"], s["initial_balance"]) for s in cls.sessions}

        # Warm-up: every endpoint once and a short wrk run, so that what is measured from the
        # baseline is what the load adds, not the first use of each path.
        lua = os.path.join(cls.tmp.name, "mix.lua")
        s0 = cls.sessions[0]
        paths = [  # (path, the session token it needs or None)
            ("/health", None),
            ("/api/market/prices", None),
            ("/api/market/prices?symbols=BTCUSD,EURUSD", None),
            ("/api/market/symbols", None),
            ("/api/market/candles?symbol=BTCUSD&timeframe=1m&limit=60", None),
            ("/api/market/candles?symbol=EURUSD&timeframe=1h&limit=48", None),
            ("/api/market/indicators?symbol=ETHUSD&timeframe=5m&name=rsi&limit=50", None),
            ("/openapi.json", None),
            ("/api/sessions/%s" % s0["id"], s0["token"]),
            ("/api/sessions/%s/prices" % s0["id"], s0["token"]),
            ("/api/sessions/%s/candles?symbol=ETHUSD&timeframe=5m&limit=20" % s0["id"],
             s0["token"]),
        ]
        with open(lua, "w", encoding="ascii") as f:
            f.write("local paths = {\n")
            for p, tok in paths:
                f.write('  {"%s", %s},\n' % (p, '{Authorization = "Bearer %s"}' % tok
                                               if tok else "{}"))
            f.write("}\nlocal i = 0\n"
                    "request = function()\n"
                    "  i = i + 1\n"
                    "  local p = paths[(i % #paths) + 1]\n"
                    "  return wrk.format(\"GET\", p[1], p[2])\n"
                    "end\n")
        for p, tok in paths:
            st, _ = h.request("GET", p, token=tok)
            assert st == 200, (p, st)
        url = "http://127.0.0.1:%d" % srv.port
        # wrk reports a broken script and goes on with "GET /": refuse that.
        warm = subprocess.run([cls.wrk, "-t1", "-c4", "-d2s", "-s", lua, url], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert "mix.lua" not in warm.stdout, warm.stdout
        time.sleep(0.5)
        base = rss_kib(srv.pid)
        cls.fig["rss_baseline_kib"] = base

        deadline = time.monotonic() + SECONDS
        wrk = subprocess.Popen([cls.wrk, "-t2", "-c24", "-d%ds" % max(1, round(SECONDS)),
                                "--timeout", "10s", "-s", lua, url],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threads = []
        per = -(-WS_CLIENTS // WS_THREADS)
        for t in range(WS_THREADS):
            n = min(per, WS_CLIENTS - t * per)
            if n > 0:
                threads.append(threading.Thread(target=cls.ws_worker,
                                                args=(srv.port, n, deadline, t)))
        for k, s in enumerate(cls.sessions):
            threads.append(threading.Thread(target=cls.trader, args=(srv.port, s, deadline, k)))
        for t in threads:
            t.start()

        def records():
            return sum(led.records() for led in cls.ledgers.values())

        records0 = records_half = records()
        samples = []
        applied = None
        half = time.monotonic() + SECONDS / 2
        while time.monotonic() < deadline:
            samples.append((time.monotonic(), rss_kib(srv.pid)))
            if applied is None and time.monotonic() >= half:
                records_half = records()
                applied = cls.admin_scenario(h)
            time.sleep(0.5)
        for t in threads:
            t.join(SECONDS + 120)
            if t.is_alive():
                tally.error("a load thread did not finish")
        out, _ = wrk.communicate(timeout=120)
        samples.append((time.monotonic(), rss_kib(srv.pid)))
        cls.wrk_out = out
        cls.parse_wrk(out)

        # After the load: the clients are gone, the server still answers.
        time.sleep(1.0)
        final = rss_kib(srv.pid)
        late = [r for t, r in samples if t >= half]
        cls.fig["rss_peak_kib"] = max(r for _, r in samples)
        cls.fig["rss_final_kib"] = final
        cls.fig["rss_growth_kib"] = final - base
        cls.fig["rss_second_half_growth_kib"] = final - (late[0] if late else base)
        cls.fig["records_added"] = records() - records0
        cls.fig["records_added_second_half"] = records() - records_half
        cls.health_after = h.request("GET", "/health")
        end = time.monotonic() + 10
        while cls.health_after[1].get("ws_clients") and time.monotonic() < end:
            time.sleep(0.2)
            cls.health_after = h.request("GET", "/health")
        cls.ws_after = cls.ws_probe(srv.port)

        # Freeze every session, read its account a last time, and stop the server.
        cls.frozen = {}
        for s in cls.sessions:
            st, _ = h.request("POST", "/api/sessions/%s/clock" % s["id"], {"action": "pause"},
                              token=s["token"])
            assert st == 200, st
            st, acct = h.request("GET", "/api/sessions/%s/account" % s["id"], token=s["token"])
            assert st == 200, st
            cls.ledgers[s["id"]].absorb(acct, tally)
            cls.frozen[s["id"]] = (Decimal(acct["balance"]), acct["ledger_entries"])
            cls.fig["session_%s" % s["id"][:8]] = "%d ledger entries, balance %s, %d positions" % (
                acct["ledger_entries"], acct["balance"], len(acct["positions"]))
        tally.add("http_reconnects", h.reconnects)
        h.close()

    @classmethod
    def parse_wrk(cls, out):
        m = re.search(r"(\d+) requests in ", out)
        cls.fig["wrk_requests"] = int(m.group(1)) if m else None
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        cls.fig["wrk_requests_per_s"] = float(m.group(1)) if m else None
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        cls.fig["wrk_non_2xx"] = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      out)
        cls.fig["wrk_socket_errors"] = sum(int(x) for x in m.groups()) if m else 0

    @classmethod
    def admin_scenario(cls, h):
        s = cls.sessions[0]
        st, j = h.request("POST", "/api/admin/sessions/%s/scenario" % s["id"],
                          {"preset": "volatility_spike"}, token=ADMIN)
        if st != 201:
            cls.tally.error("admin apply: %s %s" % (st, j))
            return False
        st, j = h.request("DELETE", "/api/admin/sessions/%s/scenario" % s["id"], token=ADMIN)
        if st != 200:
            cls.tally.error("admin cancel: %s %s" % (st, j))
        cls.tally.add("admin_scenarios")
        return True

    @classmethod
    def ws_worker(cls, port, n, deadline, seed):
        """n clients, each in turn: one subscribe or unsubscribe (or a ping) answered before
        the next; every 25 operations a client closes and connects again."""
        tally, rng = cls.tally, random.Random(seed)
        clients = []

        def connect():
            w = wsclient.WebSocket("127.0.0.1", port, timeout=30)
            tally.add("ws_connects")
            return {"ws": w, "subs": [], "ops": 0}

        def channel(c):
            kind = rng.random()
            if kind < 0.45:
                return {"channel": "ticks", "symbol": rng.choice(SYMBOLS + ["XAUUSD", "AAPL"])}
            if kind < 0.8:
                return {"channel": "candles", "symbol": rng.choice(SYMBOLS),
                        "timeframe": rng.choice(["1m", "5m", "1h"])}
            s = rng.choice(cls.sessions)
            return {"channel": "session", "id": s["id"], "token": s["token"],
                    "ticks": rng.random() < 0.5}

        def key(sub):
            return (sub["channel"], sub.get("symbol"), sub.get("timeframe"), sub.get("id"))

        try:
            for _ in range(n):
                clients.append(connect())
            while time.monotonic() < deadline:
                for c in clients:
                    if time.monotonic() >= deadline:
                        break
                    w = c["ws"]
                    r = rng.random()
                    if r < 0.1:
                        w.send_json({"op": "ping"})
                        want = "pong"
                    elif c["subs"] and (r < 0.5 or len(c["subs"]) >= 6):
                        sub = c["subs"].pop(rng.randrange(len(c["subs"])))
                        msg = {k: v for k, v in sub.items() if k not in ("token", "ticks")}
                        w.send_json(dict(msg, op="unsubscribe"))
                        want = "unsubscribed"
                    else:
                        sub = channel(c)
                        if any(key(sub) == key(x) for x in c["subs"]):
                            continue
                        w.send_json(dict(sub, op="subscribe"))
                        c["subs"].append(sub)
                        want = "subscribed"
                    m, skipped = w.recv_until(
                        lambda m: m.get("type") in (want, "error"), timeout=30)
                    tally.add("ws_stream_messages", len(skipped))
                    if m.get("type") == "error":
                        tally.error("ws %s: %s" % (want, m))
                    else:
                        tally.add("ws_" + want)
                    c["ops"] += 1
                    if c["ops"] % 25 == 0:
                        w.close()
                        tally.add("ws_closes")
                        c.update(connect())
        except (OSError, wsclient.WebSocketError, ValueError) as e:
            tally.error("ws client: %r" % e)
        finally:
            for c in clients:
                c["ws"].close()
                tally.add("ws_closes")

    @classmethod
    def trader(cls, port, s, deadline, seed):
        tally, rng = cls.tally, random.Random(1000 + seed)
        h = Http(port)
        sid, tok = s["id"], s["token"]
        base = "/api/sessions/%s" % sid
        ledger = cls.ledgers[sid]

        def call(method, path, body=None, ok=(200, 201), refused=(422,)):
            st, j = h.request(method, base + path, body, token=tok)
            if st in ok:
                tally.add("trades_ok")
            elif st in refused:
                tally.add("trades_refused")
            else:
                tally.error("%s %s %s: %s %s" % (method, path, body, st, j))
            return st, j

        acct = None
        try:
            while time.monotonic() < deadline:
                st, q = call("GET", "/prices")
                quotes = {p["symbol"]: p for p in q["prices"]} if st == 200 else {}
                if not quotes or acct is None:
                    st, acct = call("GET", "/account")
                    if st != 200:
                        break
                    ledger.absorb(acct, tally)
                    continue
                sym = rng.choice(SYMBOLS)
                qt = quotes[sym]
                bid, ask = float(qt["bid"]), float(qt["ask"])
                qty = float("%.6g" % (rng.uniform(200, 4000) / ask))
                side = rng.choice(["buy", "sell"])
                open_orders = [o for o in acct["orders"] if o["state"] == "open"]
                open_options = [o for o in acct["options"] if o["state"] == "open"]
                r = rng.random()
                if r < 0.3:
                    body = {"symbol": sym, "side": side, "qty": qty}
                    if rng.random() < 0.4:
                        ref = ask if side == "buy" else bid
                        k = 1 if side == "buy" else -1
                        body["sl"] = float("%.6g" % (ref * (1 - k * 0.004)))
                        body["tp"] = float("%.6g" % (ref * (1 + k * 0.004)))
                    call("POST", "/orders", body)
                elif r < 0.45 and len(open_orders) < 8:
                    typ = rng.choice(["limit", "stop"])
                    away = rng.uniform(0.0005, 0.003)
                    below = (typ == "limit") == (side == "buy")
                    price = (bid if side == "buy" else ask) * (1 - away if below else 1 + away)
                    body = {"symbol": sym, "side": side, "type": typ, "qty": qty,
                            "price": float("%.8g" % price)}
                    if rng.random() < 0.4:
                        k = 1 if side == "buy" else -1
                        body["sl"] = float("%.6g" % (price * (1 - k * 0.005)))
                        body["tp"] = float("%.6g" % (price * (1 + k * 0.005)))
                    call("POST", "/orders", body)
                elif r < 0.55 and open_orders:
                    o = rng.choice(open_orders)
                    # 409: it filled (or was rejected) since the account was read.
                    call("DELETE", "/orders/%d" % o["id"], ok=(200, 409))
                elif r < 0.7 and len(open_options) < 8:
                    call("POST", "/options", {"symbol": sym,
                                              "direction": rng.choice(["call", "put"]),
                                              "stake": rng.randint(5, 200),
                                              "expiry": rng.randint(1, 120)})
                elif r < 0.8:
                    a = rng.random()
                    if a < 0.25:
                        body = {"action": "pause"}
                    elif a < 0.5:
                        body = {"action": "resume"}
                    elif a < 0.75:
                        body = {"action": "speed", "speed": rng.choice([1, 5, 20, 60])}
                    else:
                        body = {"action": "step", "ms": rng.randint(1000, 120000)}
                    call("POST", "/clock", body)
                elif r < 0.88 and acct["positions"]:
                    p = rng.choice(acct["positions"])
                    q = Decimal(p["qty"])
                    call("POST", "/orders", {"symbol": p["symbol"],
                                             "side": "sell" if q > 0 else "buy",
                                             "qty": float(abs(q))})
                else:
                    call("GET", "/candles?symbol=%s&timeframe=1m&limit=30" % sym)
                st, acct = call("GET", "/account")
                if st != 200:
                    break
                ledger.absorb(acct, tally)
        except (OSError, ValueError, KeyError, TypeError) as e:
            tally.error("trader %s: %r" % (sid, e))
        finally:
            tally.add("http_reconnects", h.reconnects)
            h.close()

    @classmethod
    def ws_probe(cls, port):
        """A new client gets a pong and a tick of the global market."""
        w = wsclient.WebSocket("127.0.0.1", port, timeout=10)
        try:
            w.send_json({"op": "ping"})
            pong, _ = w.recv_until(lambda m: m.get("type") == "pong", timeout=10)
            w.send_json({"op": "subscribe", "channel": "ticks", "symbol": "BTCUSD"})
            tick, _ = w.recv_until(lambda m: m.get("channel") == "ticks", timeout=10)
            return pong, tick
        finally:
            w.close()

    @classmethod
    def restart(cls):
        srv = Server(cls.db, cls.tmp.name, "2")
        try:
            h = Http(srv.port)
            cls.health_restart = h.request("GET", "/health")
            cls.restart_accounts = {}
            for s in cls.sessions:
                st, acct = h.request("GET", "/api/sessions/%s/account" % s["id"],
                                     token=s["token"])
                cls.restart_accounts[s["id"]] = (st, acct)
            h.close()
        finally:
            cls.restart_status = srv.stop()
        cls.stderr2 = srv.stderr()

    # -- the checks -------------------------------------------------------------------------
    def test_server_answers(self):
        st, health = self.health_after
        self.assertEqual(st, 200)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["sessions"], SESSIONS)
        self.assertEqual(health["ws_clients"], 0, "closed WebSocket clients were not released")
        pong, tick = self.ws_after
        self.assertEqual(pong["type"], "pong")
        self.assertEqual(tick["symbol"], "BTCUSD")
        self.assertEqual(self.final_status, 0, "cmee-server did not exit cleanly on SIGTERM")

    def test_rss_bounded(self):
        growth = self.fig["rss_growth_kib"]
        late = self.fig["rss_second_half_growth_kib"]
        bound = RSS_GROWTH_MAX_MIB * 1024 + RSS_PER_RECORD_KIB * self.fig["records_added"]
        late_bound = (RSS_LATE_GROWTH_MAX_MIB * 1024 +
                      RSS_PER_RECORD_KIB * self.fig["records_added_second_half"])
        self.assertLess(growth, bound, "RSS grew by %d KiB over the load (bound %d KiB)" %
                        (growth, bound))
        self.assertLess(late, late_bound,
                        "RSS grew by %d KiB over the second half of the load (bound %d KiB)" %
                        (late, late_bound))

    def test_load_without_errors(self):
        self.assertEqual(self.tally.errors, [])
        self.assertNotIn("mix.lua", self.wrk_out, "wrk did not run the request mix")
        self.assertGreater(self.fig["wrk_requests"] or 0, 0, self.wrk_out)
        self.assertEqual(self.fig["wrk_non_2xx"], 0, self.wrk_out)
        self.assertEqual(self.fig["wrk_socket_errors"], 0, self.wrk_out)
        c = self.tally.counts
        # The load really happened: every client subscribed and unsubscribed.
        self.assertGreaterEqual(c.get("ws_subscribed", 0), WS_CLIENTS)
        self.assertGreaterEqual(c.get("ws_unsubscribed", 0), WS_CLIENTS // 2)
        self.assertGreater(c.get("trades_ok", 0), 10 * SESSIONS)

    def test_log_clean(self):
        for name, text in (("during the load", self.stderr1), ("after the restart",
                                                               self.stderr2)):
            bad = log_problems(text)
            self.assertEqual(bad[:20], [], "cmee-server logged problems %s" % name)

    def test_ledgers_balance(self):
        for sid, led in self.ledgers.items():
            with self.subTest(session=sid):
                seqs = sorted(led.entries)
                self.assertEqual(seqs, list(range(1, led.count + 1)),
                                 "ledger entries were not all seen through /account")
                entries = [led.entries[q] for q in seqs]
                self.assertEqual(entries[0]["kind"], "deposit")
                self.assertEqual(Decimal(entries[0]["amount"]), led.initial)
                moves = sum((Decimal(e["amount"]) for e in entries[1:]), Decimal(0))
                self.assertEqual(led.initial + moves, led.balance)
                self.assertGreater(led.count, 5)

    def test_restart_keeps_sessions(self):
        st, health = self.health_restart
        self.assertEqual(st, 200)
        self.assertEqual(health["sessions"], SESSIONS)
        resumed = [r for r in log_records(self.stderr2) if r.get("msg") == "resumed sessions"]
        self.assertEqual([r.get("sessions") for r in resumed], [SESSIONS])
        for sid, (st, acct) in self.restart_accounts.items():
            with self.subTest(session=sid):
                self.assertEqual(st, 200)
                self.assertEqual((Decimal(acct["balance"]), acct["ledger_entries"]),
                                 self.frozen[sid])
        self.assertEqual(self.restart_status, 0)


if __name__ == "__main__":
    unittest.main()
