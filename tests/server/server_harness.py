# SPDX-License-Identifier: GPL-3.0-or-later
"""Start cmee-server on a loopback port chosen by the kernel and talk to it with urllib."""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SERVER = os.environ.get("CMEE_SERVER_BIN", "cmee-server")
ADMIN_TOKEN = "test-admin-token-0123456789"


class Server:
    """A running cmee-server. Use as a context manager; stop() sends SIGTERM."""

    def __init__(self, db=None, admin_token=ADMIN_TOKEN, seed=None, extra=()):
        self.tmp = None
        if db is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="cmee-server-")
            db = os.path.join(self.tmp.name, "cmee.db")
        self.db = db
        env = dict(os.environ)
        env.pop("CMEE_ADMIN_TOKEN", None)
        if admin_token is not None:
            env["CMEE_ADMIN_TOKEN"] = admin_token
        args = [SERVER, "--host", "127.0.0.1", "--port", "0", "--db", db]
        if seed is not None:
            args += ["--seed", str(seed)]
        args += list(extra)
        # stderr (the JSON log, a line per request) goes to a file: a pipe nobody reads would
        # fill up and stall the server. log_lines() reads it.
        self.errfile = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=self.errfile, text=True)
        line = self.proc.stdout.readline()
        if "listening on http://" not in line:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("cmee-server did not start: %r %r" % (line, self.log_text()))
        self.port = int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
        self.base = "http://127.0.0.1:%d" % self.port
        # Wait for /health (the listening line comes after the socket is bound).
        end = time.monotonic() + 10
        while True:
            try:
                if self.get("/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("cmee-server did not answer /health")
            time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.errfile.close()
        if self.tmp:
            self.tmp.cleanup()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop the server; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def log_text(self):
        """What the server wrote on stderr so far."""
        self.errfile.flush()
        self.errfile.seek(0)
        return self.errfile.read()

    def log_lines(self):
        """Its stderr as parsed JSON objects, one per line (ValueError if a line is not). A
        last line without its newline is still being written: it is left for the next call."""
        text = self.log_text()
        if not text.endswith("\n"):
            text = text[:text.rfind("\n") + 1]
        return [json.loads(l) for l in text.splitlines() if l.strip()]

    # -- HTTP ---------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, raw=None, token=None,
                admin=None):
        """(status, headers, parsed JSON or None, raw bytes)."""
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        if admin is not None:
            hdrs["Authorization"] = "Bearer " + admin
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload = resp.read()
                status, rh = resp.status, resp.headers
        except urllib.error.HTTPError as e:
            payload = e.read()
            status, rh = e.code, e.headers
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return status, rh, parsed, payload

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        if body is None and kw.get("raw") is None:
            body = {}
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_session(self, **fields):
        st, _, j, raw = self.post("/api/sessions", fields)
        if st != 201:
            raise AssertionError("create session: %s %s" % (st, raw))
        return j
