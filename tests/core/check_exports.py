#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared library exports cmee_* functions and nothing else, and every function declared in
the public headers is exported (no unplanned exports, no missing ones)."""
import pathlib
import re
import subprocess
import sys
import unittest

LIB = sys.argv.pop(1) if len(sys.argv) > 1 else None
INCLUDE = pathlib.Path(__file__).resolve().parents[2] / "include"


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def declared():
    names = set()
    for h in INCLUDE.rglob("*.h"):
        for m in re.finditer(r"^CMEE_API\s+[^;(]*?\b(cmee_\w+)\s*\(", h.read_text(), re.M):
            names.add(m.group(1))
    return names


class Exports(unittest.TestCase):
    def test_only_cmee_symbols(self):
        bad = sorted(s for s in exported(LIB) if not s.startswith("cmee_"))
        self.assertEqual(bad, [], f"unplanned exports: {bad}")

    def test_no_internal_symbols(self):
        bad = sorted(s for s in exported(LIB) if s.startswith("cmee__"))
        self.assertEqual(bad, [], f"internal symbols exported: {bad}")

    def test_exports_match_headers(self):
        exp = {s for s in exported(LIB) if s.startswith("cmee_")}
        decl = declared()
        self.assertGreater(len(decl), 20)
        self.assertEqual(sorted(decl - exp), [], "declared but not exported")
        self.assertEqual(sorted(exp - decl), [], "exported but not declared in a header")


if __name__ == "__main__":
    unittest.main()
