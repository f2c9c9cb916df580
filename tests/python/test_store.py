# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the cmee Python bindings' store face: Store on ":memory:" and on files, scenario
versions, listing, deleting, errors, reopening, closed stores and the structure layouts.

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_store
"""

import ctypes
import os
import pathlib
import sqlite3
import tempfile
import threading
import time
import unittest

import cmee
from cmee import store as S
from test_scenario import c_layout


def now_ms():
    return time.time_ns() // 1_000_000


def dip(size=-0.05, **extra):
    """A small scenario named "dip"; ``size`` makes versions that differ."""
    return cmee.Scenario(name="dip", events=[{"kind": "shock", "at": 0, "size": size}], **extra)


class TestMemory(unittest.TestCase):
    def setUp(self):
        self.st = cmee.Store()
        self.addCleanup(self.st.close)

    def test_empty(self):
        self.assertEqual(self.st.path, ":memory:")
        # The library's own number (1 in 0.2.0; later modules add migration steps).
        self.assertIsInstance(cmee.STORE_SCHEMA_VERSION, int)
        self.assertGreaterEqual(cmee.STORE_SCHEMA_VERSION, 1)
        self.assertEqual(self.st.schema_version, cmee.STORE_SCHEMA_VERSION)
        self.assertEqual(self.st.scenarios(), [])
        self.assertIsNone(self.st.check())
        self.assertEqual(repr(self.st), "<cmee.Store ':memory:' open>")

    def test_versions(self):
        before = now_ms()
        a, b, c = dip(-0.05), dip(-0.10), dip(-0.20, description="deeper")
        self.assertEqual(self.st.save_scenario(a), 1)
        self.assertEqual(self.st.save_scenario(b), 2)
        self.assertEqual(self.st.save_scenario(c, mode="update"), 3)
        after = now_ms()
        # The newest, and each version by number.
        self.assertEqual(self.st.load_scenario("dip"), c)
        self.assertEqual(self.st.load_scenario("dip").description, "deeper")
        for v, sc in ((1, a), (2, b), (3, c)):
            with self.subTest(version=v), self.st.load_scenario("dip", v) as loaded:
                self.assertEqual(loaded, sc)
                self.assertEqual(loaded.to_json(), sc.to_json())
                self.assertEqual(loaded.events[0]["size"], sc.events[0]["size"])
        vs = self.st.versions("dip")
        self.assertEqual([v.version for v in vs], [1, 2, 3])
        self.assertEqual([v.size for v in vs],
                         [len(s.to_json().encode()) for s in (a, b, c)])
        for v in vs:
            self.assertIsInstance(v, cmee.VersionInfo)
            self.assertTrue(before <= v.created <= after, v)
        with self.assertRaises(cmee.NotFoundError) as cm:
            self.st.load_scenario("dip", 4)
        self.assertIn("dip", str(cm.exception))
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            self.st.load_scenario("dip", 0)
        self.assertEqual(cm.exception.field, "version")

    def test_list(self):
        for name in ("calm", "crash", "bull_trend"):
            self.st.save_scenario(cmee.Scenario.preset(name))
        self.st.save_scenario(cmee.Scenario.preset("crash"))
        self.st.save_scenario(cmee.Scenario(name="Zeta"))
        infos = self.st.scenarios()
        # Byte order of the names: upper case first.
        self.assertEqual([i.name for i in infos], ["Zeta", "bull_trend", "calm", "crash"])
        self.assertEqual([(i.latest, i.versions) for i in infos],
                         [(1, 1), (1, 1), (1, 1), (2, 2)])
        for i in infos:
            self.assertIsInstance(i, cmee.ScenarioInfo)
            self.assertLessEqual(i.created, i.updated)
            self.assertGreater(i.created, 1_600_000_000_000)
        self.assertEqual(infos[3]._fields, ("name", "latest", "versions", "created", "updated"))

    def test_modes(self):
        with self.assertRaises(cmee.NotFoundError):
            self.st.save_scenario(dip(), mode="update")
        self.assertEqual(self.st.save_scenario(dip(), mode="create"), 1)
        with self.assertRaises(cmee.AlreadyExistsError) as cm:
            self.st.save_scenario(dip(), mode="create")
        self.assertIn('"dip"', str(cm.exception))
        self.assertEqual(self.st.save_scenario(dip(), mode="any"), 2)
        with self.assertRaises(cmee.InvalidArgumentError) as cm:
            self.st.save_scenario(dip(), mode="replace")
        self.assertEqual(cm.exception.field, "mode")
        with self.assertRaises(TypeError):
            self.st.save_scenario({"name": "dip"})
        self.assertEqual(self.st.scenarios()[0].latest, 2)    # failures changed nothing

    def test_delete(self):
        self.st.save_scenario(dip())
        self.st.save_scenario(dip(-0.2))
        self.st.save_scenario(cmee.Scenario.preset("calm"))
        self.assertIsNone(self.st.delete_scenario("dip"))
        self.assertEqual([i.name for i in self.st.scenarios()], ["calm"])
        for f in (lambda: self.st.load_scenario("dip"), lambda: self.st.versions("dip"),
                  lambda: self.st.delete_scenario("dip")):
            with self.assertRaises(cmee.NotFoundError):
                f()
        # A new scenario of that name starts again at version 1.
        self.assertEqual(self.st.save_scenario(dip(-0.3)), 1)
        self.assertEqual(self.st.load_scenario("dip").events[0]["size"], -0.3)
        self.assertIsNone(self.st.check())

    def test_unknown_name(self):
        with self.assertRaises(cmee.NotFoundError) as cm:
            self.st.load_scenario("nothing here")
        self.assertEqual(str(cm.exception), 'load scenario "nothing here": no such scenario')
        self.assertIsInstance(cm.exception, LookupError)
        with self.assertRaises(cmee.NotFoundError):
            self.st.versions("nothing here")
        with self.assertRaises(TypeError):
            self.st.load_scenario(None)

    def test_load_against_a_market(self):
        self.st.save_scenario(cmee.Scenario(name="odd", symbols=["NOPE"]))
        self.st.save_scenario(cmee.Scenario(name="btc", symbols=["BTCUSD"]))
        with cmee.Market(seed=3) as m:
            with self.assertRaises(cmee.NotFoundError) as cm:
                self.st.load_scenario("odd", market=m)
            self.assertIn("NOPE", str(cm.exception))
            self.assertEqual(self.st.load_scenario("btc", market=m).symbols, ("BTCUSD",))
        self.assertEqual(self.st.load_scenario("odd").symbols, ("NOPE",))

    def test_memory_stores_are_private(self):
        with cmee.Store(":memory:") as other:
            self.st.save_scenario(dip())
            self.assertEqual(other.scenarios(), [])

    def test_closed(self):
        st = cmee.Store()
        st.save_scenario(dip())
        st.close()
        st.close()
        self.assertTrue(st.closed)
        self.assertEqual(repr(st), "<cmee.Store ':memory:' closed>")
        for f in (lambda: st.save_scenario(dip()), lambda: st.load_scenario("dip"),
                  st.scenarios, lambda: st.versions("dip"), lambda: st.delete_scenario("dip"),
                  st.check, lambda: st.schema_version):
            with self.assertRaises(cmee.StateError) as cm:
                f()
            self.assertEqual(str(cm.exception), "store: closed")
        with cmee.Store() as st2:
            self.assertFalse(st2.closed)
        self.assertTrue(st2.closed)

    def test_closed_scenario(self):
        sc = dip()
        sc.close()
        with self.assertRaises(cmee.StateError):
            self.st.save_scenario(sc)

    def test_one_store_many_threads(self):
        errors = []

        def work(k):
            try:
                for i in range(25):
                    self.st.save_scenario(cmee.Scenario(name=f"t{k}", description=str(i)))
                    self.st.scenarios()
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual([(i.name, i.latest) for i in self.st.scenarios()],
                         [(f"t{k}", 25) for k in range(4)])
        self.assertEqual(self.st.load_scenario("t2").description, "24")


class TestFile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "scenarios.db")

    def test_reopen_keeps_data(self):
        crash = cmee.Scenario.preset("crash")
        with cmee.Store(self.path) as st:
            self.assertEqual(st.save_scenario(crash), 1)
            self.assertEqual(st.save_scenario(dip()), 1)
            self.assertEqual(st.save_scenario(dip(-0.2)), 2)
        self.assertTrue(os.path.isfile(self.path))
        with cmee.Store(pathlib.Path(self.path), must_exist=True) as st:
            self.assertEqual(st.path, self.path)
            self.assertEqual(st.schema_version, cmee.STORE_SCHEMA_VERSION)
            self.assertEqual([(i.name, i.latest) for i in st.scenarios()],
                             [("crash", 1), ("dip", 2)])
            self.assertEqual(st.load_scenario("crash"), crash)
            self.assertEqual(st.load_scenario("dip", 1), dip())
            self.assertEqual(st.load_scenario("dip"), dip(-0.2))
            self.assertIsNone(st.check())
            self.assertEqual(st.save_scenario(dip(-0.3)), 3)
        with cmee.Store(self.path) as st:
            self.assertEqual([v.version for v in st.versions("dip")], [1, 2, 3])
        # The file is an SQLite database with the schema of docs/store.md.
        with sqlite3.connect(self.path) as db:
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0],
                             cmee.STORE_SCHEMA_VERSION)
            self.assertEqual(db.execute("PRAGMA application_id").fetchone()[0], 0x434D4545)
            self.assertEqual(db.execute("SELECT name, latest, versions FROM scenario "
                                        "ORDER BY name").fetchall(),
                             [("crash", 1, 1), ("dip", 3, 3)])
        db.close()

    def test_two_handles(self):
        with cmee.Store(self.path) as a, cmee.Store(self.path, busy_timeout_ms=2000) as b:
            a.save_scenario(dip())
            self.assertEqual(b.load_scenario("dip"), dip())
            self.assertEqual(b.save_scenario(dip(-0.2)), 2)
            self.assertEqual(a.scenarios()[0].latest, 2)

    def test_handles_in_threads(self):
        cmee.Store(self.path).close()
        errors, versions = [], []

        def work():
            try:
                with cmee.Store(self.path, busy_timeout_ms=20000) as st:
                    for i in range(10):
                        versions.append(st.save_scenario(dip(-0.01 * (i + 1))))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(versions), list(range(1, 41)))

    def test_options(self):
        missing = os.path.join(self.tmp.name, "missing.db")
        with self.assertRaises(cmee.NotFoundError) as cm:
            cmee.Store(missing, must_exist=True)
        self.assertIn("missing.db", str(cm.exception))
        self.assertFalse(os.path.exists(missing))
        with cmee.Store(self.path, busy_timeout_ms=-1, full_sync=True) as st:
            self.assertEqual(st.save_scenario(dip()), 1)
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.Store(self.path, busy_timeout_ms=600001)
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.Store(self.path, busy_timeout_ms=1 << 40)
        with self.assertRaises(TypeError):
            cmee.Store(self.path, busy_timeout_ms=True)
        with self.assertRaises(TypeError):
            cmee.Store(42)
        with self.assertRaises(TypeError):
            cmee.Store("a\0b")
        with self.assertRaises(cmee.InvalidArgumentError):
            cmee.Store("")

    def test_not_a_store(self):
        with open(self.path, "w") as f:
            f.write("these are not the bytes of an SQLite database\n" * 100)
        with self.assertRaises(cmee.CorruptError):
            cmee.Store(self.path)

    def test_newer_schema(self):
        cmee.Store(self.path).close()
        db = sqlite3.connect(self.path)
        newer = cmee.STORE_SCHEMA_VERSION + 5
        db.execute(f"PRAGMA user_version = {newer}")
        db.commit()
        db.close()
        with self.assertRaises(cmee.VersionError) as cm:
            cmee.Store(self.path)
        self.assertIn(f"schema version {newer} is newer than version "
                      f"{cmee.STORE_SCHEMA_VERSION}", str(cm.exception))

    def test_damaged_record(self):
        with cmee.Store(self.path) as st:
            st.save_scenario(dip())
            st.save_scenario(dip(-0.2))
        db = sqlite3.connect(self.path)
        db.execute("UPDATE scenario_version SET json = replace(json, '-0.2', '-0.9') "
                   "WHERE version = 2")
        db.commit()
        db.close()
        with cmee.Store(self.path) as st:
            self.assertEqual(st.load_scenario("dip", 1), dip())
            with self.assertRaises(cmee.CorruptError) as cm:
                st.load_scenario("dip")
            self.assertIn("dip", str(cm.exception))
            with self.assertRaises(cmee.CorruptError):
                st.check()


class TestMarketEvents(unittest.TestCase):
    """Market event logs (cmee_store_market_event_append / cmee_store_market_events)."""

    def test_append_list_reopen(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ev.db")
            with cmee.Store(path) as st:
                self.assertEqual(st.market_events("public"), [])
                self.assertEqual(st.append_market_event("public", "speed", '{"speed":10}',
                                                        wall=1000, at=5000), 1)
                self.assertEqual(st.append_market_event("other", "reset", "{}", 1, 2), 1)
                self.assertEqual(st.append_market_event("public", "reset", "é", 3, -4), 2)
            with cmee.Store(path) as st:
                evs = st.market_events("public")
                self.assertEqual(evs, [cmee.MarketEvent(1, 1000, 5000, "speed", '{"speed":10}'),
                                       cmee.MarketEvent(2, 3, -4, "reset", "é")])
                self.assertEqual(len(st.market_events("other")), 1)
                st.check()

    def test_bad_arguments(self):
        with cmee.Store() as st:
            for args, err, field in (
                    (("a b", "speed", "{}", 0, 0), cmee.InvalidArgumentError, "log:"),
                    (("public", "Speed", "{}", 0, 0), cmee.InvalidArgumentError, "kind:"),
                    (("public", "speed", "", 0, 0), cmee.InvalidArgumentError, "data:"),
                    (("public", "speed", "x" * 65537, 0, 0), cmee.InvalidArgumentError, "data:")):
                with self.assertRaises(err) as cm:
                    st.append_market_event(*args)
                self.assertIn(field, str(cm.exception))
            with self.assertRaises(TypeError):
                st.append_market_event("public", "speed", "a\0b", 0, 0)
            with self.assertRaises(TypeError):
                st.append_market_event("public", "speed", "{}", 1.5, 0)
            with self.assertRaises(cmee.InvalidArgumentError):
                st.append_market_event("public", "speed", "{}", 1 << 63, 0)
            with self.assertRaises(TypeError):
                st.market_events(None)
            self.assertEqual(st.market_events("public"), [])
        with self.assertRaises(cmee.StateError):
            st.market_events("public")


class TestLayout(unittest.TestCase):
    STRUCTS = {"cmee_store_options": 8, "cmee_store_scenario_info": 88,
               "cmee_store_version_info": 24, "cmee_store_market_event": 48}

    def test_sizes_lp64(self):
        if ctypes.sizeof(ctypes.c_void_p) != 8:
            self.skipTest("sizes below are those of LP64 ABIs")
        for name, size in self.STRUCTS.items():
            self.assertEqual(ctypes.sizeof(getattr(S, name)), size, name)
        self.assertEqual(S.cmee_store_scenario_info.created.offset, 72)
        self.assertEqual(S.cmee_store_version_info.size.offset, 16)

    def test_against_c(self):
        got, want = c_layout([getattr(S, n) for n in self.STRUCTS], self)
        self.assertEqual(got, want)

    def test_options_defaults(self):
        c = S.cmee_store_options()
        ctypes.memset(ctypes.byref(c), 0xA5, ctypes.sizeof(c))
        S._options_init(ctypes.byref(c))
        self.assertEqual((c.busy_timeout_ms, c.must_exist, c.full_sync), (0, False, False))


if __name__ == "__main__":
    unittest.main()
