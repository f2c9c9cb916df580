# SPDX-License-Identifier: GPL-3.0-or-later
"""Cost of the Python bindings' bulk calls against the same calls in C, in one run.

Times, through the cmee package:
  - candles:  Market.candles("BTCUSD", "1m", count=1,000,000, end=END), into a new Candles;
  - rsi:      cmee.indicator("rsi", candles, period=14), a new array('d') of 1,000,000 RSI
              values (the Candles' close column already split out, as after any first use);
  - rsi+split the same on a fresh Candles, whose close column is split out on first use
              (reported, not part of the target);
and runs the C reference bench_ffi_ref (tests/bench/bench_ffi_ref.c) for the same candles and
RSI, then prints medians in ms and the ratios Python / C. The target is a ratio under 1.5 for
the bulk calls. Nothing is asserted: machines are noisy.

bench_ffi_ref comes from $CMEE_BENCH_FFI_REF, else <build>/tests/bench/bench_ffi_ref next to the
library loaded ($CMEE_LIBRARY). Usage:
    CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 tests/bench/bench_python.py [RUNS [COUNT]]      (default 7 runs, 1,000,000)
"""

import gc
import math
import os
import statistics
import subprocess
import sys
import time

import cmee
from cmee import _lib

ANCHOR = cmee.ANCHOR_TIME
TARGET = 1.5


def ref_binary():
    path = os.environ.get("CMEE_BENCH_FFI_REF")
    if path:
        return path
    build = os.path.dirname(os.path.dirname(os.path.abspath(_lib.library_path)))
    guess = os.path.join(build, "tests", "bench", "bench_ffi_ref")
    return guess if os.access(guess, os.X_OK) else None


def median_ms(fn, runs, setup=None):
    """Median wall time of fn() in ms over ``runs`` calls (setup() untimed before each)."""
    times = []
    for _ in range(runs):
        arg = setup() if setup else None
        gc.collect()
        t0 = time.perf_counter()
        out = fn(arg) if setup else fn()
        times.append((time.perf_counter() - t0) * 1e3)
        del out
    return statistics.median(times)


def main(argv):
    runs = int(argv[1]) if len(argv) > 1 else 7
    count = int(argv[2]) if len(argv) > 2 else 1_000_000
    end = ANCHOR + count * 60_000

    ref = ref_binary()
    c_fig = {}
    if ref:
        out = subprocess.run([ref, str(runs), str(count), str(end)], check=True,
                             capture_output=True, text=True, timeout=900).stdout
        for line in out.splitlines():
            key, value = line.split()
            c_fig[key] = float(value)
    else:
        print("bench_python: no bench_ffi_ref (set CMEE_BENCH_FFI_REF); Python figures only")

    m = cmee.Market(seed=42)

    def candles():
        return m.candles("BTCUSD", "1m", count=count, end=end)

    c = candles()
    assert len(c) == count
    if "last_close" in c_fig and c[-1].close != c_fig["last_close"]:
        raise SystemExit("bench_python: Python and C got different candles")
    c.close                                     # split the close column out once
    rsi = cmee.indicator("rsi", c, period=14)["rsi"]
    assert len(rsi) == count and math.isnan(rsi[13]) and not math.isnan(rsi[14])

    py = {
        "candles": median_ms(candles, runs),
        "rsi": median_ms(lambda: cmee.indicator("rsi", c, period=14), runs),
        "rsi+split": median_ms(lambda fresh: cmee.indicator("rsi", fresh, period=14), runs,
                               setup=lambda: c[:]),
    }
    m.close()

    print(f"bench_python: {count:,} BTCUSD 1m candles, seed 42, end {end}; medians of {runs} "
          f"runs, ms")
    print(f"{'call (Python / C)':<58} {'Python':>8} {'C':>8} {'Py / C':>7}")
    rows = [
        ("candles: Market.candles / cmee_market_candles_last", "candles", "candles"),
        ("rsi: cmee.indicator / cmee_ind_compute, new output", "rsi", "rsi"),
        ("rsi: the same / cmee_ind_compute into a reused array", "rsi", "rsi_prealloc"),
        ("rsi on fresh Candles (first-use close split) / C rsi", "rsi+split", "rsi"),
    ]
    worst = 0.0
    for label, pk, ck in rows:
        cv = c_fig.get(ck, math.nan)
        ratio = py[pk] / cv
        print(f"{label:<58} {py[pk]:8.2f} {cv:8.2f} {ratio:6.2f}x")
        if ck in ("candles", "rsi") and pk != "rsi+split":
            worst = max(worst, ratio)
    if c_fig:
        verdict = "met" if worst < TARGET else "NOT met"
        print(f"target: bulk calls under {TARGET}x of C: {verdict} (worst {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
