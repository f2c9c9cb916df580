#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the last 5 complete hourly BTCUSD candles, from the cmee Python bindings.

In a source checkout, after `meson setup build && ninja -C build`:
    python3 examples/python/candles.py
After `meson install` the same script works anywhere.
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

with cmee.Market(seed=42) as m:
    candles = m.candles("BTCUSD", "1h", count=5)

print(f"{'open time (UTC)':<20} {'open':>10} {'high':>10} {'low':>10} {'close':>10} {'volume':>7}")
for c in candles:
    when = dt.datetime.fromtimestamp(c.time / 1000, dt.timezone.utc)
    print(f"{when:%Y-%m-%d %H:%M}     {c.open:10.2f} {c.high:10.2f} {c.low:10.2f} "
          f"{c.close:10.2f} {c.volume:7.0f}")
