# SPDX-License-Identifier: GPL-3.0-or-later
"""External tests of the gateway: nginx (examples/gateway/nginx.conf, started by
examples/gateway/run-gateway.sh) in front of cmee-server and cmee-signals, all on free loopback
ports.

Programs come from the environment (meson passes them):
    NGINX             the nginx binary (default: nginx on PATH, then /usr/sbin/nginx)
    CMEE_SIGNALS_BIN  cmee-signals (required)
    CMEE_SERVER_BIN   cmee-server (the tests of /api and /ws are skipped without it)
    CMEE_BIN          the cmee tool (used by the helpers of test_signals.py)
The whole file is skipped when nginx is not installed.
"""

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_signals import (env_bin, free_port, request, start_signals, stop,  # noqa: E402
                          wait_port)

RUN_GATEWAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                           "gateway", "run-gateway.sh")
SEED = 11
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def find_nginx():
    path = os.environ.get("NGINX") or shutil.which("nginx")
    if not path and os.access("/usr/sbin/nginx", os.X_OK):
        path = "/usr/sbin/nginx"
    return path


class Gateway(unittest.TestCase):
    """cmee-server (if built), cmee-signals and nginx, each on its own free port."""

    procs = ()

    @classmethod
    def setUpClass(cls):
        cls.nginx = find_nginx()
        if not cls.nginx:
            raise unittest.SkipTest("nginx is not installed (apt-get install nginx-light)")
        cls.signals_bin = env_bin("CMEE_SIGNALS_BIN")
        if not cls.signals_bin:
            raise unittest.SkipTest("set CMEE_SIGNALS_BIN")
        cls.server_bin = env_bin("CMEE_SERVER_BIN")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.procs = []
        try:
            cls.start_all()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_all(cls):
        cls.server = None
        cls.server_port = free_port()
        if cls.server_bin:
            cls.server = subprocess.Popen(
                [cls.server_bin, "--host", "127.0.0.1", "--port", str(cls.server_port),
                 "--db", os.path.join(cls.tmp.name, "server.db"), "--seed", str(SEED)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cls.procs.append(cls.server)
            wait_port(cls.server_port, cls.server)
        cls.signals, cls.signals_port = start_signals(
            cls.signals_bin, "--seed", str(SEED), "--db", os.path.join(cls.tmp.name, "server.db"))
        cls.procs.append(cls.signals)
        cls.port = free_port()
        cls.gateway = subprocess.Popen(
            [RUN_GATEWAY, "--prefix", os.path.join(cls.tmp.name, "gw"), "--port", str(cls.port),
             "--server-port", str(cls.server_port), "--signals-port", str(cls.signals_port)],
            env=dict(os.environ, NGINX=cls.nginx), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        cls.procs.append(cls.gateway)
        wait_port(cls.port, cls.gateway)

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            stop(p)
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        if hasattr(cls, "tmp"):
            cls.tmp.cleanup()

    def need_server(self):
        if not self.server:
            self.skipTest("cmee-server is not built (CMEE_SERVER_BIN unset)")

    def get(self, path, status=200, port=None):
        r = request(port or self.port, path)
        self.assertEqual(r.status, status, r.body)
        self.assertTrue(r.type.startswith("application/json"), r.type)
        return r.json()

    def test_gateway_health(self):
        self.assertEqual(self.get("/gateway/health"),
                         {"status": "ok", "service": "gateway"})

    def test_signals_routes(self):
        for path, key in (("/trading/signals?symbol=BTCUSD", "consensus"),
                          ("/trading/binary-signals?symbol=BTCUSD&timeframe=5m", "direction"),
                          ("/market/analysis?symbol=ETHUSD", "trend")):
            with self.subTest(path=path):
                for _ in range(3):  # a candle may close between the two requests
                    via = self.get(path)
                    direct = self.get(path, port=self.signals_port)
                    if via["time"] == direct["time"]:
                        break
                self.assertIn(key, via)
                del via["end"], direct["end"]
                self.assertEqual(via, direct)

    def test_signals_errors_pass_through(self):
        # The servers' own error answers reach the client unchanged.
        e = self.get("/trading/signals", 400)["error"]
        self.assertEqual(e["code"], "missing_parameter")
        self.assertEqual(self.get("/market/nowhere", 404)["error"]["code"], "not_found")
        r = request(self.port, "/market/analysis?symbol=BTCUSD", method="POST", body=b"{}")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json()["error"]["code"], "method_not_allowed")

    def test_api_health(self):
        self.need_server()
        via = request(self.port, "/api/health")
        self.assertEqual(via.status, 200, via.body)
        self.assertTrue(via.type.startswith("application/json"), via.type)
        # cmee-signals has no /api: this answer can only come from cmee-server.
        self.assertEqual(request(self.signals_port, "/api/health").status, 404)
        self.assertEqual(via.status, request(self.server_port, "/api/health").status)

    def test_same_market_as_server(self):
        """Same seed, same market: the last complete candle cmee-signals analysed is the one
        cmee-server serves (its answer ends with the candle still forming)."""
        self.need_server()
        for _ in range(3):
            an = self.get("/market/analysis?symbol=BTCUSD&timeframe=1m")
            candles = self.get("/api/market/candles?symbol=BTCUSD&timeframe=1m&limit=3")
            rows = {c[0]: c for c in candles["candles"]}
            if an["time"] in rows:
                break
        self.assertIn(an["time"], rows)
        self.assertEqual(rows[an["time"]][4], an["close"])

    def test_session_through_gateway(self):
        """A session cmee-server created and stored is analysed by cmee-signals from the same
        store, through the gateway."""
        self.need_server()
        r = request(self.port, "/api/sessions", method="POST", body=b'{"symbols":["EURUSD"]}',
                    headers={"Content-Type": "application/json"})
        self.assertIn(r.status, (200, 201), r.body)
        sess = r.json()
        out = self.get(f"/trading/signals?symbol=EURUSD&session={sess['id']}")
        self.assertEqual(out["session"], sess["id"])
        self.assertEqual(out["seed"], sess["seed"])
        self.assertLessEqual(out["time"] + 3600000, out["end"])
        e = self.get(f"/trading/signals?symbol=BTCUSD&session={sess['id']}", 404)["error"]
        self.assertEqual(e["code"], "unknown_symbol")

    def test_root_goes_to_server(self):
        self.need_server()
        via = request(self.port, "/")
        direct = request(self.server_port, "/")
        self.assertEqual((via.status, via.type, via.body), (direct.status, direct.type,
                                                             direct.body))

    def test_websocket_upgrade(self):
        self.need_server()
        key = base64.b64encode(os.urandom(16)).decode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                      .encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        self.assertTrue(lines[0].startswith("HTTP/1.1 101"), lines)
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:] if ":" in line)}
        self.assertEqual(headers.get("upgrade", "").lower(), "websocket")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.assertEqual(headers.get("sec-websocket-accept"), accept)


class GatewayDown(Gateway):
    """A stopped upstream gives the gateway's own JSON error, and only on its routes."""

    test_gateway_health = test_signals_routes = test_signals_errors_pass_through = None
    test_api_health = test_root_goes_to_server = test_websocket_upgrade = None
    test_same_market_as_server = test_session_through_gateway = None

    def test_upstreams_down(self):
        stop(self.signals)
        for path in ("/trading/signals?symbol=BTCUSD", "/market/analysis?symbol=BTCUSD",
                     "/trading/binary-signals?symbol=BTCUSD"):
            with self.subTest(path=path):
                r = request(self.port, path)
                self.assertEqual(r.status, 502)
                self.assertEqual(r.type, "application/json")
                self.assertEqual(r.json(), {"error": {
                    "code": "bad_gateway", "message": "cmee-signals is not reachable"}})
        # A failed upstream does not stop the gateway or the other server.
        self.assertEqual(self.get("/gateway/health")["status"], "ok")
        if not self.server:
            self.skipTest("cmee-server is not built: its half of the test did not run")
        self.assertEqual(request(self.port, "/api/health").status, 200)
        stop(self.server)
        for path in ("/api/health", "/"):
            with self.subTest(path=path):
                r = request(self.port, path)
                self.assertEqual(r.status, 502)
                self.assertEqual(r.type, "application/json")
                self.assertEqual(r.json(), {"error": {
                    "code": "bad_gateway", "message": "cmee-server is not reachable"}})


if __name__ == "__main__":
    unittest.main()
