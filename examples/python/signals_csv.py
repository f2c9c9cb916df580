#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read candles in the CSV of `cmee gen` and print RSI(14) and the consensus signal.

Usage:
    cmee gen --symbol BTCUSD --timeframe 1h --count 500 | python3 signals_csv.py
    python3 signals_csv.py btc.csv [--last N]

The input is the header ``time,open,high,low,close,volume`` and one row per candle, oldest
first. The script prints the RSI(14) of the last N candles (default 5; empty while inside the
indicator's lookback), then the consensus signal at the last candle with the rules' reasons,
and the binary-option signal it gives. Needs the cmee package (PYTHONPATH=bindings/python) and
libcmee (CMEE_LIBRARY=build/lib/libcmee.so in a source checkout).
"""

import argparse
import csv
import datetime as dt
import math
import sys
from array import array

import cmee

HEADER = ["time", "open", "high", "low", "close", "volume"]


def read_candles(f, name):
    """The CSV's columns as {"time": array('q'), "open": array('d'), ...}."""
    rows = csv.reader(f)
    header = next(rows, None)
    if header != HEADER:
        raise ValueError(f"{name}:1: expected the header {','.join(HEADER)}, got "
                         f"{','.join(header) if header else 'nothing'}")
    cols = {"time": array("q")}
    cols.update((k, array("d")) for k in HEADER[1:])
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(HEADER):
            raise ValueError(f"{name}:{lineno}: expected {len(HEADER)} fields, got {len(row)}")
        try:
            cols["time"].append(int(row[0]))
            for k, text in zip(HEADER[1:], row[1:]):
                cols[k].append(float(text))
        except ValueError as e:
            raise ValueError(f"{name}:{lineno}: {e}") from None
    return cols


def iso(ms):
    t = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file", nargs="?", default="-", help="a `cmee gen` CSV file, - for stdin")
    p.add_argument("--last", type=int, default=5, metavar="N",
                   help="print the RSI of the last N candles (default 5)")
    args = p.parse_args(argv)
    try:
        if args.file == "-":
            candles = read_candles(sys.stdin, "<stdin>")
        else:
            with open(args.file, newline="") as f:
                candles = read_candles(f, args.file)
    except (OSError, ValueError) as e:
        print(f"signals_csv: {e}", file=sys.stderr)
        return 1
    n = len(candles["time"])
    if n == 0:
        print("signals_csv: no candles", file=sys.stderr)
        return 1
    try:
        rsi = cmee.indicator("rsi", candles["close"], period=14)["rsi"]
        sig = cmee.signal(candles)
    except cmee.Error as e:
        print(f"signals_csv: {e}", file=sys.stderr)
        return 1

    times = candles["time"]
    print(f"{n} candles, {iso(times[0])} to {iso(times[-1])}")
    print("time,rsi14")
    for i in range(max(0, n - args.last), n):
        print(f"{iso(times[i])},{'' if math.isnan(rsi[i]) else format(rsi[i], '.2f')}")

    print(f"\nsignal at {iso(sig.time)}: {sig.direction} "
          f"(score {sig.score:+.3f}, strength {sig.strength:.3f})")
    for r in sig.reasons:
        print(f"  {r.rule:<9} {r.vote:+.2f}  {r.text}")
    if not sig.reasons:
        print("  no rule has anything to say")
    if n >= 2 and times[-1] > times[-2]:
        b = cmee.binary(sig, times[-1] - times[-2])
        conf = f", confidence {b.confidence:.2f}, expiry {iso(b.expiry_time)}" \
            if b.direction != "NONE" else ""
        print(f"binary: {b.direction}{conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
