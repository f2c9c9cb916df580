#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A live subscription printing ticks: a session running at 60x real time, a Driver pumping it
five times a second, and a subscription to its BTCUSD ticks and closed 1m candles.

Usage:
    python3 examples/python/live_ticks.py [SECONDS]

Runs for SECONDS of wall time (default 3), printing each tick as it arrives (one sim second
apart at 60 ticks a minute) and each 1m candle when it closes. Stop early with Ctrl-C.
"""

import datetime as dt
import os
import sys
import time

try:
    import cmee
except ImportError:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
    import cmee


def when(ms):
    return f"{dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc):%H:%M:%S}"


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    b = cmee.Broadcaster()
    with cmee.Session(seed=7, speed=60, id="live-demo") as s, cmee.Driver(b) as driver, \
            b.subscribe(f"session.{s.id}.*") as sub:
        driver.add(s, ["BTCUSD"])
        print(f"session {s.id}: BTCUSD from {when(s.clock.now)} UTC at 60x")
        ticks = 0
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            driver.pump()
            for msg in sub.iter(timeout=0.2):
                if msg.kind == "tick":
                    ticks += 1
                    print(f"tick   {when(msg.time)}  {msg.tick.price:10.2f}  vol {msg.tick.volume:g}")
                elif msg.kind == "candle":
                    c = msg.candle
                    print(f"candle {when(c.time)}  o {c.open:.2f} h {c.high:.2f} "
                          f"l {c.low:.2f} c {c.close:.2f} v {c.volume:g}")
        print(f"{ticks} ticks in {seconds:g} s; dropped {sub.dropped}")
    b.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
