# SPDX-License-Identifier: GPL-3.0-or-later
"""The web page end to end through the gateway (docs/web.md): cmee-server and cmee-signals on
free loopback ports sharing a temporary store and a seed, nginx in front of both
(examples/gateway/run-gateway.sh, as tests/server/test_gateway.py starts it), and e2e.mjs run
against the gateway's URL with CMEE_E2E_GATEWAY=1: the same checks as run_e2e.py, except that
the signal panel must show cmee-signals' consensus (signals_through_gateway).

Programs come from the environment (meson passes them): CMEE_SERVER_BIN, CMEE_SIGNALS_BIN,
NGINX (default: nginx on PATH, then /usr/sbin/nginx). Everything skips when nginx, cmee-signals,
node, npm or chromium is missing, or when playwright-core cannot be installed. The screenshot
and the results are e2e-gateway-screenshot.png and e2e-gateway-results.json in
$CMEE_WEB_ARTIFACTS."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import run_e2e  # noqa: E402
import server_harness  # noqa: E402
from test_gateway import RUN_GATEWAY, find_nginx  # noqa: E402
from test_signals import env_bin, free_port, start_signals, stop, wait_port  # noqa: E402

SEED = 11
CHECKS = [("signals_through_gateway" if c == "signals_unavailable_without_gateway" else c)
          for c in run_e2e.CHECKS]


@run_e2e.add_checks
class WebPageGateway(run_e2e.E2E, unittest.TestCase):
    """The page at the gateway's URL, nginx in front of cmee-server and cmee-signals."""
    checks = CHECKS

    @classmethod
    def setUpClass(cls):
        nginx = find_nginx()
        if not nginx:
            raise unittest.SkipTest("nginx is not installed (apt-get install nginx-light)")
        signals_bin = env_bin("CMEE_SIGNALS_BIN")
        if not signals_bin:
            raise unittest.SkipTest("cmee-signals is not built (CMEE_SIGNALS_BIN unset)")
        if not env_bin("CMEE_SERVER_BIN"):
            raise unittest.SkipTest("cmee-server is not built (CMEE_SERVER_BIN unset)")
        cache = run_e2e.prepare()
        procs = []
        with tempfile.TemporaryDirectory(prefix="cmee-web-gw-") as tmp:
            db = os.path.join(tmp, "cmee.db")
            try:
                with server_harness.Server(db=db, seed=SEED,
                                           extra=["--web", run_e2e.WEB_ROOT]) as srv:
                    signals, signals_port = start_signals(signals_bin, "--seed", str(SEED),
                                                          "--db", db)
                    procs.append(signals)
                    port = free_port()
                    with open(os.path.join(tmp, "gateway.log"), "w") as log:
                        gateway = subprocess.Popen(
                            [RUN_GATEWAY, "--prefix", os.path.join(tmp, "gw"), "--port",
                             str(port), "--server-port", str(srv.port), "--signals-port",
                             str(signals_port)],
                            env=dict(os.environ, NGINX=nginx), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=log)
                    procs.append(gateway)
                    wait_port(port, gateway)
                    cls.results, cls.failure = run_e2e.run_script(
                        cache, "http://127.0.0.1:%d" % port, "e2e-gateway",
                        env={"CMEE_E2E_GATEWAY": "1"})
            finally:
                for p in reversed(procs):
                    stop(p)
                    for f in (p.stdout, p.stderr):
                        if f:
                            f.close()


if __name__ == "__main__":
    unittest.main()
