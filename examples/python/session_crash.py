#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A paper-trading session through a crash: buy BTCUSD with a stop-loss, apply the "crash"
preset, step the clock forward an hour at a time, then print the account and the ledger.

Usage:
    python3 examples/python/session_crash.py

The session has a manual clock (only step() moves it) starting at 2030-03-01T00:00Z, seed 42,
10,000 USD. A Driver publishes its events on a Broadcaster, and a subscription to
"session.<id>" prints them as they arrive: the fill, the scenario, each clock step and the
stop-loss that closes the position in the crash. Money is exact: the balance is the sum of the
ledger to the last 1e-8. In a source checkout, after `meson setup build && ninja -C build`, it
finds the library by itself.
"""

import datetime as dt
import os
import sys

try:
    import cmee
except ImportError:
    # In-tree: use the package of this checkout (it finds build/lib/libcmee.so by itself).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
    import cmee

SYMBOL = "BTCUSD"
START = dt.datetime(2030, 3, 1, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)


def when(ms):
    return f"{dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc):%Y-%m-%d %H:%M}"


def show_events(sub):
    """Print what the driver published since the last call."""
    for msg in sub.drain():
        print(f"  event {msg.type:<16} {when(msg.time)}  {msg.payload}")


def main():
    b = cmee.Broadcaster()
    with cmee.Session(seed=42, start=START, manual_clock=True, balance=10_000,
                      symbols=[SYMBOL, "ETHUSD"], id="crash-demo") as s, \
            cmee.Driver(b) as driver, b.subscribe(f"session.{s.id}") as events:
        driver.add(s)                        # events only: no tick or candle streams
        print(f"session {s.id}: {s.config.balance} {s.config.currency}, seed 42, manual "
              f"clock at {when(s.clock.now)} UTC")

        q = s.quote(SYMBOL)
        order = s.buy(SYMBOL, 0.05, stop_loss=round(q.bid * 0.95, 2))
        print(f"bought {order.quantity} {SYMBOL} at {order.fill_price:.2f} (fee {order.fee}), "
              f"stop-loss {order.stop_loss:.2f}")
        show_events(events)

        app = s.apply_scenario("crash")
        print(f"crash applied (application {app})")
        show_events(events)

        for _ in range(6):
            s.step(HOUR)
            driver.pump()
            a = s.account()
            print(f"{when(s.clock.now)}  {SYMBOL} {s.quote(SYMBOL).price:10.2f}  "
                  f"equity {a.equity:10.2f}  positions {a.positions}")
            show_events(events)

        a = s.account()
        print(f"account: balance {a.balance} {a.currency}, equity {a.equity}, "
              f"free margin {a.free_margin}")
        print("ledger:")
        for e in s.ledger():
            print(f"  {e.seq:2d} {when(e.time)} {e.kind:<14} {e.amount:>16} {e.balance:>16} "
                  f"{e.symbol}")
        total = sum(e.amount for e in s.ledger())
        print(f"sum of the ledger {total} == balance {a.balance}: {total == a.balance}")
    b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
