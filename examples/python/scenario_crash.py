#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Apply the "crash" preset to a market and compare hourly closes with the plain market; then
save the scenario in a store.

Usage:
    python3 examples/python/scenario_crash.py [STORE.db]

Two markets of seed 42; the crash is applied to one at 2030-03-01T00:00Z. The closes of the
three hours before it are identical (the past never changes), those after it are not: a -10 %
gap, then three turbulent days. The scenario is saved in STORE.db (a new version each run), or
in a temporary file removed on exit. In a source checkout, after `meson setup build && ninja -C
build`, it finds the library by itself.
"""

import datetime as dt
import os
import sys
import tempfile

try:
    import cmee
except ImportError:
    # In-tree: use the package of this checkout (it finds build/lib/libcmee.so by itself).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
    import cmee

SYMBOL = "BTCUSD"
T0 = dt.datetime(2030, 3, 1, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)


def save(crash, path, note=""):
    with cmee.Store(path) as store:
        version = store.save_scenario(crash)
    print(f'saved scenario "{crash.name}" as version {version} in {path}{note}')


def main(argv):
    if len(argv) > 2:
        print("usage: scenario_crash.py [STORE.db]", file=sys.stderr)
        return 2
    crash = cmee.Scenario.preset("crash")
    with cmee.Market(seed=42) as plain, cmee.Market(seed=42) as market:
        market.apply(crash, T0)
        before = plain.candles(SYMBOL, "1h", start=T0 - 3 * HOUR, end=T0 + 6 * HOUR)
        after = market.candles(SYMBOL, "1h", start=T0 - 3 * HOUR, end=T0 + 6 * HOUR)

    print(f"{crash.name} applied to {SYMBOL} at {T0:%Y-%m-%d %H:%M} UTC (seed 42)")
    print(f"{'time (UTC)':<16} {'plain':>10} {'crash':>10} {'change':>8}")
    for a, b in zip(before, after):
        when = dt.datetime.fromtimestamp(a.time / 1000, dt.timezone.utc)
        change = (b.close / a.close - 1) * 100
        print(f"{when:%Y-%m-%d %H:%M} {a.close:10.2f} {b.close:10.2f} {change:+7.2f}%")

    if len(argv) == 2:
        save(crash, argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            save(crash, os.path.join(tmp, "scenarios.db"), " (temporary, removed on exit)")
    crash.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
