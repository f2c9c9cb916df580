#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print a symbol's order book and its last trades, from the cmee Python bindings.

    python3 examples/python/tape.py [SYMBOL [TIME]]

SYMBOL defaults to BTCUSD, TIME (ISO-8601 UTC, e.g. 2030-03-01T00:00:00Z) to now. In a source
checkout, after `meson setup build && ninja -C build`, this runs as is; after `meson install`
anywhere.
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

DEPTH = 8
TRADES = 12


def utc(ms):
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


symbol = sys.argv[1] if len(sys.argv) > 1 else "BTCUSD"
if len(sys.argv) > 2:
    at = dt.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
else:
    at = dt.datetime.now(dt.timezone.utc)

with cmee.Market(seed=42) as m:
    prec = m.symbol(symbol).precision
    book = m.book(symbol, at=at, depth=DEPTH)
    trades = m.trades(symbol, count=TRADES, end=at)

print(f"{symbol} book at {utc(book.time):%Y-%m-%d %H:%M:%S} UTC, "
      f"spread {book.spread:.{prec}f}")
print(f"{'bid size':>12} {'bid':>12} | {'ask':<12} ask size")
bids, asks = book.bids, book.asks
for i in range(max(len(bids), len(asks))):
    left = f"{bids[i].size:>12g} {bids[i].price:>12.{prec}f}" if i < len(bids) else " " * 25
    right = f"{asks[i].price:<12.{prec}f} {asks[i].size:<12g}" if i < len(asks) else ""
    print(f"{left} | {right}".rstrip())

print(f"\nlast {len(trades)} trades:")
for t in trades:
    print(f"{utc(t.time):%H:%M:%S.%f}"[:-3] + f"  {t.side:<4} {t.price:>12.{prec}f} {t.size:g}")

# A market buy of twice the size at the touch walks into the next levels: slippage.
qty = 2 * asks[0].size
fill = book.walk("buy", qty)
print(f"\nbuy {qty:g} at market: average {fill.avg_price:.{prec}f} over {fill.levels} "
      f"level(s), worst {fill.worst_price:.{prec}f}")
