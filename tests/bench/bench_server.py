# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server under load on loopback: HTTP requests per second and WebSocket fan-out.

HTTP. wrk (same settings for every target) against, in interleaved rounds:
  - lws_minimal (tests/bench/lws_minimal.c): libwebsockets answering one fixed small JSON body
    per request, set up like examples/common/httpd.c (the reference);
  - cmee-server GET /api/market/prices (every symbol);
  - cmee-server GET /api/market/candles?symbol=BTCUSD&timeframe=1h&limit=500.
It prints the median requests/s of each and the ratio of each endpoint to the reference. The
target is at least 0.7x of the reference. Two more lws_minimal servers answer a padded body of
exactly the size of the prices and of the candles answer (--body-bytes): their ratio to the
15-byte reference is what those bytes alone cost libwebsockets, the kernel and wrk (the ceiling of
any server's ratio for that answer), and each endpoint is also compared with its same-size
reference, which isolates cmee-server's own work.

WebSocket. For each --ws-scenario HZ:SYMBOLS (default 10:1, the issue's 1,000 clients on one
symbol at 10 ticks a second, and 1:10, ten symbols at one tick a second) a fresh server runs
with --tick-hz HZ; 1,000 connections (a few client processes, each multiplexing its share with
selectors) subscribe to SYMBOLS symbols' ticks. Every tick message the server publishes carries
published_us (its wall clock at publish time), and each client socket has SO_TIMESTAMPNS, so the
latency of each delivery is measured end to end without the clients' own scheduling: the
kernel's receive timestamp minus published_us (both CLOCK_REALTIME). The time at which the client
process woke up is printed too, as are the spread from the first to the last client per tick,
the tick's age (receive time minus the tick's market time), the server's CPU per delivery, TCP
retransmissions during the window, and the server's RSS before the clients connect, with them
connected and after streaming. The clients only record (times, bytes) of each read during a
window and parse afterwards. With two or more CPUs the server is pinned to CPU 0 and the client
processes to the others (--no-pin to turn that off), so that clients woken by the fan-out do not
preempt the server in the middle of it. A subscription sends the minute's ticks so far first
(backfill, without published_us): each window starts after those are through. The targets are
under 50 MB for 1,000 clients and a p99 under 5 ms.

Logging (--log-cost). Two cmee-servers, one at the default --log-level info (an access line per
request on stderr, to a file) and one at --log-level warn (none), take interleaved wrk rounds on
GET /health and GET /api/market/prices; it prints the median requests/s and the median server
CPU time per request (utime + stime of /proc/PID/stat over the round, divided by the requests),
which a busy shared machine disturbs less than throughput, and the log bytes per request.

Nothing is asserted: machines are noisy. Exit status 77 (skipped) without wrk.

Programs come from $CMEE_SERVER_BIN, $CMEE_LWS_MINIMAL and $WRK (default: wrk on PATH).
Usage:
    CMEE_SERVER_BIN=build/examples/server/cmee-server \\
    CMEE_LWS_MINIMAL=build/tests/bench/lws_minimal python3 tests/bench/bench_server.py \\
        [--duration 10] [--rounds 3] [--clients 1000] [--procs 4] [--ws-seconds 30]
        [--ws-scenario HZ:SYMBOLS]... [--no-pin] [--also /health] [--no-http] [--no-ws]
        [--log-cost]
"""

import argparse
import json
import math
import multiprocessing
import os
import re
import resource
import selectors
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import wsclient  # noqa: E402  (tests/server/wsclient.py: the opening handshake)

HOST = "127.0.0.1"
TARGET_RATIO = 0.7
TARGET_MB = 50.0
TARGET_P99_MS = 5.0
PRICES = "/api/market/prices"
CANDLES = "/api/market/candles?symbol=BTCUSD&timeframe=1h&limit=500"
SYMBOL = "BTCUSD"


# ---- processes under test ----------------------------------------------------------------

class Proc:
    """A server started with --port 0 that prints "... listening on http://HOST:PORT"."""

    def __init__(self, name, args, tmpdir):
        self.name = name
        self.errpath = os.path.join(tmpdir, name + ".stderr")
        env = dict(os.environ)
        env.pop("CMEE_ADMIN_TOKEN", None)
        with open(self.errpath, "w") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=env,
                                         text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if not m:
            self.stop()
            raise SystemExit("bench_server: %s did not start: %r %s" % (name, line, self.err()))
        self.port = int(m.group(1))
        self.base = "http://%s:%d" % (HOST, self.port)
        self.pid = self.proc.pid

    def err(self):
        with open(self.errpath) as f:
            return f.read()[-2000:]

    def status_kb(self, field="VmRSS"):
        """A memory figure of /proc/PID/status in KiB (VmRSS now, VmHWM its peak)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return -1

    def cpu_s(self):
        """CPU seconds used so far: the run time of every thread (schedstat, ns)."""
        total = 0
        for tid in os.listdir("/proc/%d/task" % self.pid):
            with open("/proc/%d/task/%s/schedstat" % (self.pid, tid)) as f:
                total += int(f.read().split()[0])
        return total / 1e9

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def tcp_counters():
    """System-wide TCP counters of the kind that explain latency outliers on loopback."""
    want = ("RetransSegs", "TCPLossProbes", "TCPTimeouts", "TCPRcvQDrop", "RcvPruned")
    out = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for names, values in zip(lines[::2], lines[1::2]):
            for n, v in zip(names.split()[1:], values.split()[1:]):
                if n in want and names.startswith(("Tcp:", "TcpExt:")):
                    out[n] = int(v)
    return out


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read()


# ---- HTTP: wrk ------------------------------------------------------------------------------

def wrk(prog, url, threads, conns, duration):
    """Requests/s of one wrk run; exits if any answer was not 2xx or a socket failed."""
    out = subprocess.run([prog, "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, url],
                         capture_output=True, text=True, timeout=duration + 60).stdout
    m = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    if not m or bad or (sock and re.search(r"(read|write|timeout) [1-9]", sock.group(1))):
        raise SystemExit("bench_server: wrk %s failed:\n%s" % (url, out))
    return float(m.group(1))


def bench_http(args, srv, ref, sized):
    status, prices = get(srv.base + PRICES)
    assert status == 200, status
    status, candles = get(srv.base + CANDLES)
    n = len(json.loads(candles)["candles"])
    if status != 200 or n != 500:
        raise SystemExit("bench_server: the candles request gave %d candles" % n)
    status, mini = get(ref.base + "/")
    targets = [
        ("lws_minimal (reference)", ref.base + "/", len(mini)),
        ("GET " + PRICES, srv.base + PRICES, len(prices)),
        ("GET /api/market/candles ... limit=500", srv.base + CANDLES, len(candles)),
    ]
    same_size = {}  # target label -> label of the lws_minimal answering as many bytes
    for i, body in ((1, prices), (2, candles)):
        r = sized(len(body))
        label = "lws_minimal, %d-byte body" % len(body)
        same_size[targets[i][0]] = label
        targets.append((label, r.base + "/", len(get(r.base + "/")[1])))
    for path in args.also:
        targets.append(("GET " + path, srv.base + path, len(get(srv.base + path)[1])))
    # A short warm-up of each (page cache, allocator, the market's caches).
    for _, url, _ in targets:
        wrk(args.wrk, url, args.threads, args.conns, 1)
    rps = {t[0]: [] for t in targets}
    for _ in range(args.rounds):
        for label, url, _ in targets:
            rps[label].append(wrk(args.wrk, url, args.threads, args.conns, args.duration))

    print("HTTP: wrk -t%d -c%d -d%ds, %d interleaved rounds, medians; body size in bytes"
          % (args.threads, args.conns, args.duration, args.rounds))
    print("  %-40s %6s %10s  %-28s %9s" % ("target", "body", "req/s", "rounds", "vs ref"))
    ref_med = statistics.median(rps[targets[0][0]])
    ratios = []
    for i, (label, _, size) in enumerate(targets):
        med = statistics.median(rps[label])
        rounds = " ".join("%.0f" % v for v in rps[label])
        ratio = med / ref_med
        if i in (1, 2):  # the target is about these two
            ratios.append((label, ratio))
        print("  %-40s %6d %10.0f  %-28s %8.3fx" % (label, size, med, rounds, ratio))
    worst = min(r for _, r in ratios)
    print("  target: both at least %.1fx of the reference: %s (worst %.3fx)"
          % (TARGET_RATIO, "met" if worst >= TARGET_RATIO else "NOT met", worst))
    for label, same in same_size.items():
        ceiling = statistics.median(rps[same]) / ref_med
        own = statistics.median(rps[label]) / statistics.median(rps[same])
        print("  %s: the bytes alone allow %.3fx of the reference; %.3fx of lws_minimal "
              "sending as many bytes" % (label, ceiling, own))
    return ratios


# ---- WebSocket clients ---------------------------------------------------------------------

# Linux: a receive timestamp (CLOCK_REALTIME, struct timespec) on every recvmsg() of a socket.
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS


def parse_frames(buf):
    """Whole frames at the front of bytearray buf, removed from it: [(opcode, payload)]."""
    out = []
    i, n = 0, len(buf)
    while n - i >= 2:
        b1 = buf[i + 1]
        size, head = b1 & 0x7F, 2
        if size == 126:
            if n - i < 4:
                break
            size, head = int.from_bytes(buf[i + 2:i + 4], "big"), 4
        elif size == 127:
            if n - i < 10:
                break
            size, head = int.from_bytes(buf[i + 2:i + 10], "big"), 10
        if b1 & 0x80:
            head += 4  # a server must not mask; the payload is not used then
        if n - i < head + size:
            break
        out.append((buf[i] & 0x0F, bytes(buf[i + head:i + head + size])))
        i += head + size
    del buf[:i]
    return out


def masked_text(text):
    data = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81, 0x80 | len(data)])  # our messages are under 126 bytes
    return head + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(data))


def subscribe_msg(symbol):
    return masked_text(json.dumps({"op": "subscribe", "channel": "ticks", "symbol": symbol}))


class Clients:
    """The connections of one client process, multiplexed with selectors (epoll)."""

    def __init__(self, port, nconn):
        self.socks, self.bufs, self.closed = [], [], set()
        self.subscribed = 0  # "subscribed" answers read so far
        self.sel = selectors.DefaultSelector()
        for k in range(nconn):
            ws = wsclient.WebSocket(HOST, port, timeout=30)
            ws.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            ws.sock.sendall(subscribe_msg(SYMBOL))
            ws.sock.setblocking(False)
            self.socks.append(ws.sock)
            self.bufs.append(bytearray(ws.buf))
            self.sel.register(ws.sock, selectors.EVENT_READ, k)

    def close(self):
        for s in self.socks:
            s.close()
        self.sel.close()

    def subscribe(self, symbols):
        for s in self.socks:
            s.setblocking(True)
            for sym in symbols:
                s.sendall(subscribe_msg(sym))
            s.setblocking(False)

    def pump(self, seconds, record=None):
        """Read for `seconds`; returns the text messages read. Without record, frames are
        parsed and discarded. With record (a list per connection) only (wall ns at the
        client's wakeup, wall ns of the kernel's receive timestamp, bytes) of each read is kept,
        to be parsed after the window by ticks(): the clients' own work stays out of the
        timing, and the kernel timestamp keeps their scheduling out of it too."""
        end = time.monotonic() + seconds
        msgs = 0
        cmsg_room = socket.CMSG_SPACE(16)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return msgs
            events = self.sel.select(min(left, 0.2))
            t_wall = time.time_ns()
            for key, _ in events:
                k = key.data
                try:
                    chunk, anc, _, _ = key.fileobj.recvmsg(262144, cmsg_room)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk, anc = b"", []
                if not chunk:
                    self.sel.unregister(key.fileobj)
                    self.closed.add(k)
                    continue
                if record is not None:
                    t_kernel = t_wall
                    for level, typ, data in anc:
                        if level == socket.SOL_SOCKET and typ == SCM_TIMESTAMPNS:
                            sec, nsec = struct.unpack("qq", data[:16])
                            t_kernel = sec * 1_000_000_000 + nsec
                    record[k].append((t_wall, t_kernel, chunk))
                    continue
                buf = self.bufs[k]
                buf += chunk
                for op, payload in parse_frames(buf):
                    if op == 0x8:
                        self.closed.add(k)
                    elif op == 0x1:
                        msgs += 1
                        if b'"type":"subscribed"' in payload:
                            self.subscribed += 1

    def ticks(self, record, since_ms):
        """From a recorded window: {(symbol, tick time): [arrival ns]}, and per delivery the
        latency (arrival - published_us) and the client's wakeup - published_us in us, the
        tick's age at arrival in ms; the number of text messages. Ticks up to since_ms (the
        backfill, which has no published_us) are left out."""
        ticks, lat, wake, ages, msgs = {}, [], [], [], 0
        for k, reads in enumerate(record):
            buf = self.bufs[k]
            for t_wall, t_kernel, chunk in reads:
                buf += chunk
                for op, payload in parse_frames(buf):
                    if op == 0x8:
                        self.closed.add(k)
                    if op != 0x1:
                        continue
                    msgs += 1
                    m = json.loads(payload)
                    # Live ticks only, not the "subscribed" answers nor the backfill.
                    if (m.get("channel") != "ticks" or "type" in m or m["time"] <= since_ms or
                            "published_us" not in m):
                        continue
                    ticks.setdefault((m["symbol"], m["time"]), []).append(t_kernel)
                    lat.append(t_kernel / 1e3 - m["published_us"])
                    wake.append(t_wall / 1e3 - m["published_us"])
                    ages.append(t_kernel / 1e6 - m["time"])
        return ticks, lat, wake, ages, msgs


def client_worker(port, nconn, cpus, pipe):
    """One client process: nconn connections, driven by commands from the parent."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        c = Clients(port, nconn)
    except Exception as e:  # reported to the parent, which stops the run
        pipe.send(("error", "connect: %r" % e))
        return
    pipe.send(("ready", nconn))
    try:
        while True:
            cmd = pipe.recv()
            if cmd[0] == "drain":
                msgs = c.pump(cmd[1])
                pipe.send(("drained", msgs, c.subscribed))
            elif cmd[0] == "subscribe":
                c.subscribe(cmd[1])
                pipe.send(("subscribed", len(cmd[1])))
            elif cmd[0] == "measure":
                record = [[] for _ in c.socks]
                c.pump(cmd[1], record)
                ticks, lat, wake, ages, msgs = c.ticks(record, cmd[2])
                pipe.send(("measured", ticks, lat, wake, ages, msgs, len(c.closed)))
            else:
                break
    except Exception as e:
        pipe.send(("error", repr(e)))
    c.close()


def pct(sorted_vals, q):
    """Nearest-rank percentile q (0-100) of a sorted list."""
    if not sorted_vals:
        return math.nan
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def ask(pipes, cmd, want):
    for p in pipes:
        p.send(cmd)
    replies = []
    for p in pipes:
        try:
            r = p.recv()
        except EOFError:
            r = ("error", "a client process ended")
        if r[0] != want:
            raise SystemExit("bench_server: client process: %s" % (r[1:],))
        replies.append(r)
    return replies


def measure(pipes, seconds, nclients, srv, label):
    """One window; returns (p50, p99) of the delivery latency in ms and the server's RSS."""
    since = time.time_ns() // 1_000_000
    cpu0, t0, tcp0 = srv.cpu_s(), time.monotonic(), tcp_counters()
    replies = ask(pipes, ("measure", seconds, since), "measured")
    cpu_used, wall = srv.cpu_s() - cpu0, time.monotonic() - t0
    tcp = {k: v - tcp0.get(k, 0) for k, v in tcp_counters().items()}
    rss = srv.status_kb()
    ticks, lat, wake, ages, msgs, closed = {}, [], [], [], 0, 0
    for _, t, la, wa, a, m, c in replies:
        for key, times in t.items():
            ticks.setdefault(key, []).extend(times)
        lat.extend(la)
        wake.extend(wa)
        ages.extend(a)
        msgs += m
        closed += c
    # Fan-out spread, for ticks every client got (ticks at the window's edges may be cut).
    spread, missing = [], 0
    for times in ticks.values():
        if len(times) < nclients:
            missing += nclients - len(times)
            continue
        spread.append((max(times) - min(times)) / 1e6)
    lat = sorted(v / 1e3 for v in lat)
    wake = sorted(v / 1e3 for v in wake)
    spread.sort()
    ages.sort()
    print("  %s, %d s: %d ticks, %d deliveries (%.0f msg/s), server CPU %.1f%% (%.1f us per"
          " delivery), closed %d" % (label, seconds, len(ticks), len(lat), msgs / seconds,
                                     cpu_used / wall * 100.0, cpu_used / max(msgs, 1) * 1e6,
                                     closed))
    if missing:
        print("    (%d deliveries of ticks at the window's edges left out of the spread)" % missing)
    if any(tcp.values()):
        print("    TCP during the window (system-wide): " +
              ", ".join("%s %d" % kv for kv in sorted(tcp.items()) if kv[1]))
    print("    delivery latency, publish -> client socket  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms"
          % (pct(lat, 50), pct(lat, 99), pct(lat, 100)))
    print("    publish -> client process awake           p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms"
          % (pct(wake, 50), pct(wake, 99), pct(wake, 100)))
    print("    spread first -> last client, per tick     p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms"
          % (pct(spread, 50), pct(spread, 99), pct(spread, 100)))
    print("    tick age at the client socket             p50 %6.2f ms  p99 %6.2f ms"
          % (pct(ages, 50), pct(ages, 99)))
    return pct(lat, 50), pct(lat, 99), rss


def ws_scenario(args, server, tmp, hz, nsym):
    """A fresh server streaming hz ticks a second; every client subscribes to nsym symbols."""
    srv = Proc("cmee-server", [server, "--host", HOST, "--port", "0", "--tick-hz", str(hz),
                               "--db", os.path.join(tmp, "ws%s-%d.db" % (hz, nsym))], tmp)
    ncpu = os.cpu_count() or 1
    server_cpus = client_cpus = None
    if args.pin and ncpu >= 2:
        # The server alone on CPU 0 and the client processes on the others, so that clients
        # woken by the fan-out do not take the server's CPU in the middle of it.
        server_cpus, client_cpus = {0}, set(range(1, ncpu))
        os.sched_setaffinity(srv.pid, server_cpus)
    procs, pipes = [], []
    try:
        _, body = get(srv.base + "/api/market/symbols")
        symbols = [s["symbol"] for s in json.loads(body)["symbols"]]
        more = [s for s in symbols if s != SYMBOL][:nsym - 1]
        per = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0)
               for i in range(args.procs)]
        steady = args.clients * float(hz)
        print("\n%d clients (%d processes) on ticks.%s%s, %s tick(s)/s per symbol (--tick-hz %s)"
              "%s" % (args.clients, args.procs, SYMBOL,
                      " and %d more symbols" % len(more) if more else "", hz, hz,
                      "; server pinned to CPU 0, clients to CPUs 1-%d" % (ncpu - 1)
                      if server_cpus else ""))
        rss0 = srv.status_kb()
        ctx = multiprocessing.get_context("fork")
        t0 = time.monotonic()
        for n in per:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=client_worker, args=(srv.port, n, client_cpus, child),
                            daemon=True)
            p.start()
            pipes.append(parent)
            procs.append(p)
        for p in pipes:
            try:
                r = p.recv()
            except EOFError:
                r = ("error", "a client process ended")
            if r[0] != "ready":
                raise SystemExit("bench_server: client process: %s" % r[1])
        connect_s = time.monotonic() - t0
        settle_s = settle(pipes, args.clients, steady)
        _, health = get(srv.base + "/health")
        rss1 = srv.status_kb()
        print("  %d connected and subscribed in %.1f s (server counts %d); the answers and"
              " backfill (the minute's ticks so far) were through within %.0f s"
              % (args.clients, connect_s, json.loads(health)["ws_clients"], settle_s))
        if more:
            # Three symbols at a time, each batch after the previous one's backfill is through,
            # so that no connection has too many backfill ticks queued at once.
            t1 = time.monotonic()
            for i in range(0, len(more), 3):
                ask(pipes, ("subscribe", more[i:i + 3]), "subscribed")
                k = 1 + len(more[:i + 3])
                settle(pipes, args.clients * k, steady * k)
            print("  %d more symbols subscribed on every connection, 3 at a time, in %.0f s"
                  " with their backfills" % (len(more), time.monotonic() - t1))
        p50, p99, rss2 = measure(pipes, args.ws_seconds, args.clients, srv,
                                 "%d symbol(s) x %s tick/s" % (1 + len(more), hz))
        print("  server RSS: %.1f MB before the clients, %.1f MB with %d connected (+%.1f MB,"
              " %.1f KB per client), %.1f MB after streaming to them; peak %.1f MB"
              % (rss0 / 1024.0, rss1 / 1024.0, args.clients, (rss1 - rss0) / 1024.0,
                 (rss1 - rss0) / args.clients, rss2 / 1024.0, srv.status_kb("VmHWM") / 1024.0))
    finally:
        for p in pipes:
            try:
                p.send(("quit",))
            except OSError:
                pass
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
        srv.stop()
    return p50, p99, rss2


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_log_cost(args, server, tmp):
    print("\nLogging: the default --log-level info (an access line per request) against "
          "--log-level warn (none); wrk -t%d -c%d -d%ds, %d interleaved rounds, medians"
          % (args.threads, args.conns, args.duration, args.rounds))
    srvs = {level: Proc("cmee-server-" + level,
                        [server, "--host", HOST, "--port", "0", "--log-level", level, "--db",
                         os.path.join(tmp, "log-%s.db" % level)], tmp)
            for level in ("info", "warn")}
    try:
        for path in ("/health", PRICES):
            rps = {k: [] for k in srvs}
            us = {k: [] for k in srvs}
            logged = {}
            for _ in range(args.rounds):
                for level, srv in srvs.items():
                    c0, b0 = cpu_seconds(srv.pid), os.path.getsize(srv.errpath)
                    out = subprocess.run([args.wrk, "-t%d" % args.threads, "-c%d" % args.conns,
                                          "-d%ds" % args.duration, srv.base + path],
                                         capture_output=True, text=True,
                                         timeout=args.duration + 60).stdout
                    c1 = cpu_seconds(srv.pid)
                    time.sleep(0.2)  # the last lines are written within 50 ms
                    n = int(re.search(r"(\d+) requests in", out).group(1))
                    rps[level].append(float(re.search(r"Requests/sec:\s*([0-9.]+)",
                                                      out).group(1)))
                    us[level].append((c1 - c0) / max(n, 1) * 1e6)
                    logged[level] = (os.path.getsize(srv.errpath) - b0) / max(n, 1)
            for level in srvs:
                print("  GET %-22s --log-level %-4s  %8.0f req/s  %6.2f us CPU/request  "
                      "%4.0f log bytes/request" % (path, level, statistics.median(rps[level]),
                                                   statistics.median(us[level]), logged[level]))
            print("  GET %-22s access lines cost %+.2f us of server CPU per request (%+.0f%%)"
                  % (path, statistics.median(us["info"]) - statistics.median(us["warn"]),
                     100.0 * (statistics.median(us["info"]) / statistics.median(us["warn"])
                              - 1)))
    finally:
        for srv in srvs.values():
            srv.stop()


def bench_ws(args, server, tmp):
    print("\nWebSocket fan-out: delivery latency is the client socket's kernel receive timestamp"
          " (SO_TIMESTAMPNS) minus the message's published_us (the server's wall clock when it"
          " published the tick); both are CLOCK_REALTIME on this machine.")
    results = []
    for sc in args.ws_scenario:
        hz, nsym = sc.split(":")
        results.append((sc, ws_scenario(args, server, tmp, hz, int(nsym))))
    print()
    for sc, (p50, p99, rss) in results:
        print("  target (--ws-scenario %s): %d clients in under %.0f MB: %s (%.1f MB RSS);"
              " p99 latency under %.0f ms: %s (p50 %.2f ms, p99 %.2f ms)"
              % (sc, args.clients, TARGET_MB, "met" if rss / 1024.0 < TARGET_MB else "NOT met",
                 rss / 1024.0, TARGET_P99_MS, "met" if p99 < TARGET_P99_MS else "NOT met",
                 p50, p99))


def settle(pipes, nsubs, steady, limit=60.0):
    """Read until every connection has had nsubs "subscribed" answers in all and then half a
    second brings at most 1.25x the steady rate of steady messages a second (the backfills are
    through); returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        replies = ask(pipes, ("drain", 0.5), "drained")
        if (sum(r[2] for r in replies) >= nsubs and
                sum(r[1] for r in replies) <= 1.25 * 0.5 * steady + len(pipes)):
            break
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved wrk rounds")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--conns", type=int, default=64, help="wrk connections")
    ap.add_argument("--clients", type=int, default=1000, help="WebSocket clients")
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--ws-seconds", type=int, default=30, help="seconds per fan-out window")
    ap.add_argument("--ws-scenario", action="append", metavar="HZ:SYMBOLS",
                    help="a fan-out run: the server's --tick-hz and the symbols each client"
                         " subscribes to; repeatable (default: 10:1 and 1:10)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the server and the WebSocket clients to separate CPUs")
    ap.add_argument("--also", action="append", default=[], metavar="PATH",
                    help="another cmee-server path for wrk (e.g. /health); repeatable")
    ap.add_argument("--no-http", action="store_true", help="skip the wrk part")
    ap.add_argument("--no-ws", action="store_true", help="skip the WebSocket part")
    ap.add_argument("--log-cost", action="store_true",
                    help="also measure what the access log costs (info against warn)")
    args = ap.parse_args()
    if not args.ws_scenario:
        args.ws_scenario = ["10:1", "1:10"]
    for sc in args.ws_scenario:
        if not re.fullmatch(r"[0-9.]+:[1-9][0-9]*", sc):
            ap.error("--ws-scenario: expected HZ:SYMBOLS, got %r" % sc)

    args.wrk = os.environ.get("WRK") or shutil.which("wrk")
    server = os.environ.get("CMEE_SERVER_BIN", "cmee-server")
    ref = os.environ.get("CMEE_LWS_MINIMAL", "lws_minimal")
    if not args.no_http and not args.wrk:
        print("bench_server: wrk not found (apt-get install wrk, or set WRK): skipped")
        return 77
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.clients + 1024
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    print("bench_server: cmee-server and lws_minimal on %s, %d CPUs" % (HOST, os.cpu_count()))
    with tempfile.TemporaryDirectory(prefix="cmee-bench-server-") as tmp:
        if not args.no_http:
            srv = Proc("cmee-server", [server, "--host", HOST, "--port", "0",
                                       "--db", os.path.join(tmp, "cmee.db")], tmp)
            minis = []

            def sized(nbytes):
                minis.append(Proc("lws_minimal-%d" % nbytes, [ref, "--port", "0", "--body-bytes",
                                                  str(nbytes)], tmp))
                return minis[-1]
            try:
                minis.append(Proc("lws_minimal", [ref, "--port", "0"], tmp))
                bench_http(args, srv, minis[0], sized)
            finally:
                for m in minis:
                    m.stop()
                srv.stop()
        if args.log_cost and args.wrk:
            bench_log_cost(args, server, tmp)
        if not args.no_ws:
            bench_ws(args, server, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
