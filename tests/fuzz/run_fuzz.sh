#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run_fuzz.sh TARGET CORPUS: fuzz TARGET for $CMEE_FUZZ_SECONDS seconds (default 20) on a
# scratch copy of the committed seed corpus CORPUS, so that the run never writes into the
# source tree. A crash, leak, timeout or sanitizer report fails the run; libFuzzer writes the
# input that caused it to crash-*/leak-*/timeout-* in the current directory (meson runs tests
# in the build directory) and the last lines of output name it.
set -eu
target=$1
corpus=$2
seconds=${CMEE_FUZZ_SECONDS:-20}
name=$(basename "$target")
work=$(mktemp -d "${TMPDIR:-/tmp}/cmee-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$corpus/." "$work/"
status=0
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 "$work" >"$work.log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log" | tail -n 1)
if [ "$status" -eq 0 ]; then
    echo "$name: ${runs:-?} runs, no crash"
else
    tail -n 60 "$work.log"
    echo "$name: FAILED after ${runs:-?} runs (libFuzzer exit $status)"
fi
rm -f "$work.log"
# libFuzzer reports a crash with exit status 77, which meson would count as a skip.
[ "$status" -eq 0 ] || exit 1
