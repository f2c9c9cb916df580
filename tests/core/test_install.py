#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""meson install puts a usable libcmee in place: headers, shared library with its soname, static
library, pkg-config file and the cmee tool; an outside program builds against it with pkg-config
(shared and static) and runs."""
import glob
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD, SOURCE = sys.argv.pop(1), sys.argv.pop(1)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cmee-install-")
        subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet",
                        "--destdir", cls.tmp], check=True, capture_output=True)
        pcs = glob.glob(os.path.join(cls.tmp, "**", "pkgconfig", "cmee.pc"), recursive=True)
        assert len(pcs) == 1, pcs
        cls.pcdir = os.path.dirname(pcs[0])
        cls.libdir = os.path.dirname(cls.pcdir)
        cls.prefix = next(p for p in pathlib.Path(cls.libdir).parents
                          if (p / "include" / "cmee.h").exists())
        cls.env = dict(os.environ, PKG_CONFIG_PATH=cls.pcdir, LD_LIBRARY_PATH=cls.libdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pkg(self, *args):
        # The .pc file names the configured prefix; point it at the DESTDIR copy.
        prefix = str(self.prefix).removeprefix(self.tmp)
        out = subprocess.run(["pkg-config", f"--define-variable=prefix={self.prefix}", *args,
                              "cmee"], env=self.env, check=True, capture_output=True,
                             text=True).stdout
        self.assertTrue(prefix.startswith("/"))
        return out.split()

    def test_files(self):
        inc = self.prefix / "include"
        for h in ["cmee.h", "cmee/core.h", "cmee/market.h", "cmee/version.h"]:
            self.assertTrue((inc / h).is_file(), h)
        self.assertTrue(os.path.isfile(os.path.join(self.libdir, "libcmee.a")))
        self.assertTrue(os.access(self.prefix / "bin" / "cmee", os.X_OK))

    def test_soname(self):
        so = os.path.join(self.libdir, "libcmee.so")
        self.assertTrue(os.path.islink(so))
        real = os.path.realpath(so)
        self.assertRegex(os.path.basename(real), r"^libcmee\.so\.0\.\d+\.\d+$")
        dyn = subprocess.run(["readelf", "-d", real], check=True, capture_output=True,
                             text=True).stdout
        self.assertIn("[libcmee.so.0]", dyn)

    def build_and_run(self, extra):
        exe = os.path.join(self.tmp, "candles")
        src = os.path.join(SOURCE, "examples", "c", "candles.c")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", src, "-o", exe,
                        *self.pkg("--cflags"), *extra], env=self.env, check=True)
        run = subprocess.run([exe], env=self.env, capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.splitlines()
        self.assertEqual(lines[0], "time,open,high,low,close,volume")
        self.assertEqual(len(lines), 7)
        self.assertEqual(lines[-1], "deterministic: yes")
        return lines

    def test_pkg_config_shared(self):
        self.assertEqual(self.pkg("--modversion")[0].count("."), 2)
        self.build_and_run(self.pkg("--libs"))

    def test_pkg_config_static(self):
        libs = self.pkg("--static", "--libs")
        static = [os.path.join(self.libdir, "libcmee.a")] + [a for a in libs if a != "-lcmee"]
        a = self.build_and_run(static)
        b = self.build_and_run(self.pkg("--libs"))
        self.assertEqual(a, b)

    def test_installed_tool(self):
        run = subprocess.run([str(self.prefix / "bin" / "cmee"), "symbols"], env=self.env,
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("BTCUSD,crypto,", run.stdout)


if __name__ == "__main__":
    unittest.main()
