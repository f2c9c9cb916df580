# SPDX-License-Identifier: GPL-3.0-or-later
"""Operating the example servers from outside: GET /metrics parsed strictly as the Prometheus
text format 0.0.4 (every line a comment or a sample, TYPE before samples, histograms cumulative
with +Inf == _count) and its counters moving by exactly what the test did; the JSON log on
stderr (every line an object with ts, level and msg; the request id of X-Request-Id echoed and
logged with the status); --log-level. cmee-server always, cmee-signals when CMEE_SIGNALS_BIN is
set."""
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import ADMIN_TOKEN, SERVER, Server  # noqa: E402
from wsclient import WebSocket  # noqa: E402

SIGNALS = os.environ.get("CMEE_SIGNALS_BIN")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = ("debug", "info", "warn", "error")

# ---- a strict parser of the text exposition format ---------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(" + NAME + r")(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError("bad labels: %r" % text)
        if m.group(1) in labels:
            raise ValueError("label %s twice in %r" % (m.group(1), text))
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf"))
    if not re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        raise ValueError("bad value %r" % text)
    return float(text)


def parse_metrics(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; ValueError on anything
    outside the format."""
    if not text.endswith("\n"):
        raise ValueError("the text must end with a newline")
    fams = {}
    seen_samples = set()
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    raise ValueError("bad family name in %r" % line)
                fam = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if parts[1] == "TYPE":
                    if fam["type"] is not None or name in seen_samples:
                        raise ValueError("TYPE of %s twice or after its samples" % name)
                    if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram",
                                                           "summary", "untyped"):
                        raise ValueError("bad TYPE line %r" % line)
                    fam["type"] = parts[3]
                else:
                    fam["help"] = parts[3] if len(parts) == 4 else ""
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("not a sample: %r" % line)
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), parse_value(m.group(3))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and fams.get(base, {}).get("type") == "histogram":
                family = base
        if family not in fams or fams[family]["type"] is None:
            raise ValueError("sample %s before its TYPE" % name)
        seen_samples.add(family)
        fams[family]["samples"].append((name, labels, value))
    for name, fam in fams.items():
        if fam["type"] == "counter" and not name.endswith("_total"):
            raise ValueError("counter %s does not end in _total" % name)
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            s["buckets"].append((parse_value(labels["le"]), value))
        elif sname == name + "_sum":
            s["sum"] = value
        elif sname == name + "_count":
            s["count"] = value
        else:
            raise ValueError("%s: stray sample %s" % (name, sname))
    for rest, s in series.items():
        les = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        if les != sorted(les) or len(set(les)) != len(les):
            raise ValueError("%s%s: le not increasing" % (name, rest))
        if not les or les[-1] != math.inf:
            raise ValueError("%s%s: no +Inf bucket" % (name, rest))
        if counts != sorted(counts):
            raise ValueError("%s%s: buckets not cumulative: %s" % (name, rest, counts))
        if s["count"] is None or s["sum"] is None or counts[-1] != s["count"]:
            raise ValueError("%s%s: +Inf %s != _count %s" % (name, rest, counts[-1], s["count"]))


def value(fams, name, family=None, **labels):
    """The value of sample @name with exactly @labels (0 when absent: a counter not yet
    moved)."""
    fam = fams[family or name]
    for sname, sl, v in fam["samples"]:
        if sname == name and sl == labels:
            return v
    return 0.0


def http_get(port, path, headers=None, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers or {},
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---- cmee-server ---------------------------------------------------------------------------------


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(extra=["--tick-hz", "10"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def scrape(self, srv=None):
        st, h, body = http_get((srv or self.srv).port, "/metrics")
        self.assertEqual(st, 200, body)
        self.assertEqual(h["Content-Type"], CONTENT_TYPE)
        return parse_metrics(body.decode("utf-8"))

    def test_format_and_families(self):
        fams = self.scrape()
        want = {
            "cmee_http_requests_total": "counter",
            "cmee_http_request_duration_seconds": "histogram",
            "cmee_sessions_live": "gauge",
            "cmee_ws_clients": "gauge",
            "cmee_broadcast_messages_published_total": "counter",
            "cmee_broadcast_messages_sent_total": "counter",
            "cmee_broadcast_messages_dropped_total": "counter",
            "cmee_store_transaction_duration_seconds": "histogram",
            "cmee_store_transactions_rolled_back_total": "counter",
            "process_resident_memory_bytes": "gauge",
            "process_cpu_seconds_total": "counter",
            "process_open_fds": "gauge",
            "process_start_time_seconds": "gauge",
        }
        for name, typ in want.items():
            self.assertIn(name, fams)
            self.assertEqual(fams[name]["type"], typ, name)
            self.assertTrue(fams[name]["help"], name)
        self.assertGreater(value(fams, "process_resident_memory_bytes"), 1 << 20)
        start = value(fams, "process_start_time_seconds")
        self.assertLess(abs(start - time.time()), 3600)
        # Opening the store migrated it: committed transactions are counted already.
        self.assertGreater(value(fams, "cmee_store_transaction_duration_seconds_count",
                                 "cmee_store_transaction_duration_seconds"), 0)

    def test_parser_refuses_bad_text(self):
        # The parser the other tests rely on can fail.
        good = "# TYPE a_total counter\na_total 1\n"
        parse_metrics(good)
        for bad in ("a_total 1\n# TYPE a_total counter\n",           # sample before TYPE
                    "# TYPE a counter\na 1\n",                        # counter without _total
                    "# TYPE a_total counter\na_total{x=1} 1\n",      # unquoted label
                    "# TYPE a_total counter\na_total one\n",         # not a number
                    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                    "h_sum 1\nh_count 1\n",                           # not cumulative
                    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
                    good[:-1]):
            with self.assertRaises(ValueError, msg=bad):
                parse_metrics(bad)

    def test_request_counters_move_exactly(self):
        before = self.scrape()
        for _ in range(7):
            self.assertEqual(self.srv.get("/health")[0], 200)
        for sid in ("nope1", "nope2", "nope3"):
            self.assertEqual(self.srv.get("/api/sessions/%s" % sid)[0], 404)
        self.assertEqual(self.srv.get("/api/market/candles")[0], 400)  # no symbol
        self.assertEqual(self.srv.get("/no/such/a")[0], 404)
        self.assertEqual(self.srv.get("/no/such/b")[0], 404)
        after = self.scrape()

        def moved(route, method, status):
            labels = {"route": route, "method": method, "status": str(status)}
            return (value(after, "cmee_http_requests_total", **labels) -
                    value(before, "cmee_http_requests_total", **labels))

        self.assertEqual(moved("/health", "GET", 200), 7)
        self.assertEqual(moved("/api/sessions/{id}", "GET", 404), 3)
        self.assertEqual(moved("/api/market/candles", "GET", 400), 1)
        self.assertEqual(moved("other", "GET", 404), 2)
        self.assertEqual(moved("/metrics", "GET", 200), 1)  # the first scrape
        # Raw paths never become labels.
        for _, labels, _ in after["cmee_http_requests_total"]["samples"]:
            self.assertNotIn("nope", labels["route"])
            self.assertNotIn("/no/such", labels["route"])
        h = "cmee_http_request_duration_seconds"
        lab = {"route": "/health", "method": "GET"}
        self.assertEqual(value(after, h + "_count", h, **lab) -
                         value(before, h + "_count", h, **lab), 7)
        self.assertGreater(value(after, h + "_sum", h, **lab), value(before, h + "_sum", h, **lab))
        self.assertEqual(value(after, h + "_bucket", h, le="+Inf", **lab),
                         value(after, h + "_count", h, **lab))

    def test_ws_clients_gauge(self):
        def clients():
            return value(self.scrape(), "cmee_ws_clients")

        base = clients()
        w1 = WebSocket("127.0.0.1", self.srv.port)
        w2 = WebSocket("127.0.0.1", self.srv.port)
        try:
            self.assertEqual(clients(), base + 2)
            w1.close()
            end = time.monotonic() + 5
            while clients() != base + 1 and time.monotonic() < end:
                time.sleep(0.05)
            self.assertEqual(clients(), base + 1)
        finally:
            w1.close()
            w2.close()
        end = time.monotonic() + 5
        while clients() != base and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(clients(), base)

    def test_sessions_gauge_and_store_histogram(self):
        before = self.scrape()
        self.srv.create_session(symbols=["BTCUSD"])
        after = self.scrape()
        self.assertEqual(value(after, "cmee_sessions_live"),
                         value(before, "cmee_sessions_live") + 1)
        h = "cmee_store_transaction_duration_seconds"
        self.assertGreater(value(after, h + "_count", h), value(before, h + "_count", h))
        self.assertGreater(value(after, h + "_sum", h), value(before, h + "_sum", h))

    def test_broadcast_sent_while_subscribed(self):
        before = self.scrape()
        w = WebSocket("127.0.0.1", self.srv.port)
        try:
            w.send_json({"op": "subscribe", "channel": "ticks", "symbol": "BTCUSD"})
            got = 0
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                try:
                    w.recv_json(timeout=max(0.05, end - time.monotonic()))
                    got += 1
                except socket.timeout:
                    break
        finally:
            w.close()
        self.assertGreater(got, 3)  # the ack, the minute's backfill, live ticks
        after = self.scrape()
        sent = (value(after, "cmee_broadcast_messages_sent_total") -
                value(before, "cmee_broadcast_messages_sent_total"))
        self.assertGreaterEqual(sent, got)
        self.assertGreater(value(after, "cmee_broadcast_messages_published_total"),
                           value(before, "cmee_broadcast_messages_published_total"))
        for q in ("subscriber", "connection"):
            self.assertGreaterEqual(value(after, "cmee_broadcast_messages_dropped_total",
                                          queue=q), 0)

    def test_bad_requests(self):
        st, h, body = http_get(self.srv.port, "/metrics", method="POST")
        self.assertEqual(st, 405)
        self.assertEqual(h["Allow"], "GET")
        st, _, body = http_get(self.srv.port, "/metrics?format=json")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(body)["error"]["code"], "unknown_parameter")

    def test_openapi_lists_metrics(self):
        st, _, doc, _ = self.srv.get("/openapi.json")
        self.assertEqual(st, 200)
        op = doc["paths"]["/metrics"]["get"]
        self.assertIn(CONTENT_TYPE, op["responses"]["200"]["content"])
        self.assertIn("metricsBearer", doc["components"]["securitySchemes"])


class MetricsToken(unittest.TestCase):
    def test_token_required_when_set(self):
        old = os.environ.get("CMEE_METRICS_TOKEN")
        os.environ["CMEE_METRICS_TOKEN"] = "scrape-me-0123"
        try:
            srv = Server(db=":memory:")
        finally:
            if old is None:
                del os.environ["CMEE_METRICS_TOKEN"]
            else:
                os.environ["CMEE_METRICS_TOKEN"] = old
        with srv:
            st, h, body = http_get(srv.port, "/metrics")
            self.assertEqual(st, 401)
            self.assertIn("Bearer", h["WWW-Authenticate"])
            self.assertEqual(json.loads(body)["error"]["code"], "unauthorized")
            st, _, body = http_get(srv.port, "/metrics",
                                   {"Authorization": "Bearer scrape-me-0124"})
            self.assertEqual(st, 403)
            st, h, body = http_get(srv.port, "/metrics",
                                   {"Authorization": "Bearer scrape-me-0123"})
            self.assertEqual(st, 200)
            fams = parse_metrics(body.decode())
            self.assertEqual(value(fams, "cmee_http_requests_total", route="/metrics",
                                   method="GET", status="401"), 1)
            # The rest of the API is unaffected by the metrics token.
            self.assertEqual(srv.get("/health")[0], 200)


class Logs(unittest.TestCase):
    def records(self, srv, pred, timeout=5.0):
        """Parse every line of the server's log (each must be a JSON object with ts, level and
        msg) and return those matching pred, waiting for at least one."""
        end = time.monotonic() + timeout
        while True:
            recs = srv.log_lines()
            for r in recs:
                self.assertIsInstance(r, dict)
                self.assertRegex(r["ts"], TS)
                self.assertIn(r["level"], LEVELS)
                self.assertIsInstance(r["msg"], str)
                self.assertEqual(list(r)[:3], ["ts", "level", "msg"])
            hits = [r for r in recs if pred(r)]
            if hits or time.monotonic() > end:
                return hits
            time.sleep(0.05)

    def test_request_ids_and_access_lines(self):
        with Server(db=":memory:") as srv:
            st, h, _, raw = srv.get("/health", headers={"X-Request-Id": "test-req-42"})
            self.assertEqual(st, 200)
            self.assertEqual(h["X-Request-Id"], "test-req-42")
            hits = self.records(srv, lambda r: r.get("request_id") == "test-req-42")
            self.assertEqual(len(hits), 1)
            r = hits[0]
            self.assertEqual((r["level"], r["msg"], r["method"], r["route"], r["path"],
                              r["status"], r["bytes"]),
                             ("info", "request", "GET", "/health", "/health", 200, len(raw)))
            self.assertIsInstance(r["duration_ms"], (int, float))
            self.assertGreaterEqual(r["duration_ms"], 0)
            self.assertNotIn("code", r)

            # No id, or one that is not acceptable: a generated one, unique, in the log.
            ids = []
            for hdr in ({}, {"X-Request-Id": "has space"}, {"X-Request-Id": "x" * 65},
                        {"X-Request-Id": "quote\"d"}):
                st, h, _, _ = srv.get("/api/sessions/nope", headers=hdr)
                self.assertEqual(st, 404)
                rid = h["X-Request-Id"]
                self.assertRegex(rid, r"^[0-9a-f]{8}-[0-9a-f]+$")
                ids.append(rid)
                hits = self.records(srv, lambda r, rid=rid: r.get("request_id") == rid)
                self.assertEqual(len(hits), 1)
                self.assertEqual((hits[0]["status"], hits[0]["code"], hits[0]["route"],
                                  hits[0]["path"]),
                                 (404, "not_found", "/api/sessions/{id}", "/api/sessions/nope"))
            self.assertEqual(len(set(ids)), len(ids))
            # The longest id accepted is 64 characters.
            st, h, _, _ = srv.get("/health", headers={"X-Request-Id": "a" * 64})
            self.assertEqual(h["X-Request-Id"], "a" * 64)

            # A 400 carries its error code; a path with odd bytes stays valid JSON.
            st, h, _, _ = srv.get("/api/market/candles?symbol=NOPE")
            self.assertEqual(st, 400)
            hits = self.records(srv, lambda r, rid=h["X-Request-Id"]: r.get("request_id") == rid)
            self.assertEqual((hits[0]["status"], hits[0]["code"]), (400, "invalid_parameter"))
            st, h, _, _ = srv.get("/x%22%0a%ff%5c")
            self.assertEqual(st, 404)
            hits = self.records(srv, lambda r, rid=h["X-Request-Id"]: r.get("request_id") == rid)
            self.assertEqual(hits[0]["route"], "other")
            # After a clean stop the log ends with the stop line.
            self.assertEqual(srv.stop(), 0)
            recs = [json.loads(l) for l in srv.log_text().splitlines()]
        self.assertEqual(recs[0]["msg"], "listening")
        self.assertEqual(recs[-1]["msg"], "shutting down")

    def test_log_level_warn(self):
        with Server(db=":memory:", extra=["--log-level", "warn"]) as srv:
            self.assertEqual(srv.get("/health")[0], 200)
            # Provoke a warning: a wrong admin token is answered 403 and logged at warn.
            st, h, _, _ = srv.get("/api/admin/sessions", admin="wrong-token")
            self.assertEqual(st, 403)
            hits = self.records(srv, lambda r: r.get("status") == 403)
            self.assertEqual(len(hits), 1)
            self.assertEqual((hits[0]["level"], hits[0]["code"], hits[0]["request_id"]),
                             ("warn", "forbidden", h["X-Request-Id"]))
            self.assertEqual(srv.get("/api/admin/sessions", admin=ADMIN_TOKEN)[0], 200)
            time.sleep(0.2)
            levels = {r["level"] for r in srv.log_lines()}
        self.assertEqual(levels, {"warn"})

    def test_log_level_debug_routes_libwebsockets(self):
        with Server(db=":memory:", extra=["--log-level", "debug"]) as srv:
            srv.get("/health")
            hits = self.records(srv, lambda r: r.get("source") == "libwebsockets")
            self.assertTrue(hits)
            self.assertEqual({r["level"] for r in hits} - {"debug", "warn", "error"}, set())

    def test_bad_log_level_exits_2(self):
        for arg in ("loud", "INFO", ""):
            p = subprocess.run([SERVER, "--log-level", arg, "--db", ":memory:", "--port", "0"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("--log-level", p.stderr)
            self.assertIn("debug, info, warn or error", p.stderr)
            self.assertEqual(p.stdout, "")


# ---- cmee-signals -------------------------------------------------------------------------------


@unittest.skipUnless(SIGNALS, "set CMEE_SIGNALS_BIN")
class Signals(unittest.TestCase):
    def start(self, *args):
        err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.addCleanup(err.close)
        p = subprocess.Popen([SIGNALS, "--port", "0", "--db", "/nonexistent/x.db", *args],
                             stdout=subprocess.PIPE, stderr=err, text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.terminate)
        line = p.stdout.readline()
        p.stdout.close()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        self.assertIsNotNone(m, line)
        return p, int(m.group(1)), err

    def test_metrics_and_logs(self):
        p, port, err = self.start()
        st, _, _ = http_get(port, "/health", {"X-Request-Id": "sig-1"})
        self.assertEqual(st, 200)
        for _ in range(2):
            st, _, _ = http_get(port, "/trading/signals")  # no symbol
            self.assertEqual(st, 400)
        st, h, body = http_get(port, "/metrics")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], CONTENT_TYPE)
        fams = parse_metrics(body.decode())
        self.assertEqual(value(fams, "cmee_http_requests_total", route="/health", method="GET",
                               status="200"), 1)
        self.assertEqual(value(fams, "cmee_http_requests_total", route="/trading/signals",
                               method="GET", status="400"), 2)
        self.assertIn("process_resident_memory_bytes", fams)
        self.assertIn("cmee_http_request_duration_seconds", fams)
        p.terminate()
        p.wait(10)
        err.seek(0)
        recs = [json.loads(l) for l in err.read().splitlines()]
        for r in recs:
            self.assertRegex(r["ts"], TS)
            self.assertIn(r["level"], LEVELS)
        hit = [r for r in recs if r.get("request_id") == "sig-1"]
        self.assertEqual(len(hit), 1)
        self.assertEqual((hit[0]["route"], hit[0]["status"]), ("/health", 200))
        bad = [r for r in recs if r.get("status") == 400]
        self.assertEqual([r["code"] for r in bad], ["missing_parameter"] * 2)

    def test_log_level(self):
        p, port, err = self.start("--log-level", "error")
        self.assertEqual(http_get(port, "/health")[0], 200)
        p.terminate()
        p.wait(10)
        err.seek(0)
        self.assertEqual(err.read(), "")
        r = subprocess.run([SIGNALS, "--log-level", "verbose"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--log-level", r.stderr)


if __name__ == "__main__":
    unittest.main()
