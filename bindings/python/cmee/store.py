# SPDX-License-Identifier: GPL-3.0-or-later
"""The store: scenarios, with every version, kept in an SQLite file.

The Python face of ``include/cmee/store.h`` (docs/store.md explains the schema, durability and
busy handling)::

    import cmee

    with cmee.Store("scenarios.db") as st:           # ":memory:" (the default) is private
        v = st.save_scenario(cmee.Scenario.preset("crash"))   # 1, then 2, 3, ...
        crash = st.load_scenario("crash")            # the newest version; version=1 the first
        for info in st.scenarios():                  # ScenarioInfo(name, latest, versions, ...)
            print(info.name, info.latest, st.versions(info.name))

Each call that changes the store is one committed transaction. Failures raise the
:class:`cmee.Error` subclass of the status with the library's message naming the operation
and the record: NotFoundError for an unknown name or version, AlreadyExistsError when
``mode="create"`` meets a taken name, BusyError when another connection held the file past
``busy_timeout_ms``, CorruptError for a damaged record or a file that is not a store,
VersionError for a file of a newer libcmee. A closed store raises StateError.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, NamedTuple, Optional, Union

from ._errors import check, error_class
from ._lib import (SCENARIO_NAME_MAX, Handle, Owned, ScenarioPtr, c_status, cmee_error,
                   declare, encode, lib)
from .market import Market
from .scenario import Scenario, _registry_call

__all__ = ["Store", "ScenarioInfo", "VersionInfo", "MarketEvent", "SAVE_MODES",
           "STORE_SCHEMA_VERSION"]

_c = ctypes
_P = ctypes.POINTER
_EINVAL = error_class(1)
_ESTATE = error_class(7)
_ENOSPACE = error_class(5)
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1

#: The save modes of :meth:`Store.save_scenario` and their C values (``cmee_store_save_mode``).
SAVE_MODES = {"any": 0, "create": 1, "update": 2}


class StorePtr(Handle):
    """``cmee_store *``."""


class cmee_store_options(ctypes.Structure):
    """``cmee_store_options``: how a store is opened (all zeros are the defaults)."""

    _fields_ = [
        ("busy_timeout_ms", _c.c_int),
        ("must_exist", _c.c_bool),
        ("full_sync", _c.c_bool),
    ]


class cmee_store_scenario_info(ctypes.Structure):
    """``cmee_store_scenario_info``: one stored scenario name."""

    _fields_ = [
        ("name", _c.c_char * SCENARIO_NAME_MAX),
        ("latest", _c.c_int),
        ("versions", _c.c_int),
        ("created", _c.c_int64),
        ("updated", _c.c_int64),
    ]


class cmee_store_version_info(ctypes.Structure):
    """``cmee_store_version_info``: one stored version of a scenario."""

    _fields_ = [
        ("version", _c.c_int),
        ("created", _c.c_int64),
        ("size", _c.c_size_t),
    ]


class cmee_store_market_event(ctypes.Structure):
    """``cmee_store_market_event``: one entry of a market event log (strings borrowed)."""

    _fields_ = [
        ("seq", _c.c_int64),
        ("wall", _c.c_int64),
        ("at", _c.c_int64),
        ("kind", _c.c_char_p),
        ("data", _c.c_void_p),
        ("data_len", _c.c_size_t),
    ]


_market_event_fn = _c.CFUNCTYPE(_c.c_int, _c.c_void_p, _P(cmee_store_market_event))

_options_init = declare("cmee_store_options_init", None, _P(cmee_store_options))
_open = declare("cmee_store_open", c_status,
                _c.c_char_p, _P(cmee_store_options), _c.c_void_p, _P(StorePtr), _P(cmee_error))
declare("cmee_store_close", None, StorePtr)
_errmsg = declare("cmee_store_errmsg", _c.c_char_p, StorePtr)
_schema_version = declare("cmee_store_schema_version", _c.c_int, StorePtr)
_check = declare("cmee_store_check", c_status, StorePtr)
_save = declare("cmee_store_scenario_save", c_status,
                StorePtr, ScenarioPtr, _c.c_int, _P(_c.c_int))
_load = declare("cmee_store_scenario_load", c_status,
                StorePtr, _c.c_char_p, _c.c_int, _c.c_void_p, _c.c_void_p, _P(ScenarioPtr))
_list = declare("cmee_store_scenario_list", c_status,
                StorePtr, _P(cmee_store_scenario_info), _c.c_size_t, _P(_c.c_size_t))
_versions = declare("cmee_store_scenario_versions", c_status,
                    StorePtr, _c.c_char_p, _P(cmee_store_version_info), _c.c_size_t,
                    _P(_c.c_size_t))
_delete = declare("cmee_store_scenario_delete", c_status, StorePtr, _c.c_char_p)
_event_append = declare("cmee_store_market_event_append", c_status,
                        StorePtr, _c.c_char_p, _c.c_int64, _c.c_int64, _c.c_char_p, _c.c_char_p,
                        _c.c_size_t, _P(_c.c_int64))
_events = declare("cmee_store_market_events", c_status,
                  StorePtr, _c.c_char_p, _market_event_fn, _c.c_void_p, _P(_c.c_size_t))


def _library_schema_version() -> int:
    # A separate function object: the declared one accepts only a live StorePtr, not NULL.
    fn = lib["cmee_store_schema_version"]
    fn.restype = _c.c_int
    fn.argtypes = [_c.c_void_p]
    return fn(None)


#: The schema version this libcmee writes (``CMEE_STORE_SCHEMA_VERSION``).
STORE_SCHEMA_VERSION: int = _library_schema_version()


class ScenarioInfo(NamedTuple):
    """One stored scenario name (``cmee_store_scenario_info``)."""

    name: str       #: the scenario's name
    latest: int     #: its newest version
    versions: int   #: how many versions are kept
    created: int    #: when the name was first saved, ms UTC
    updated: int    #: when the newest version was saved, ms UTC


class VersionInfo(NamedTuple):
    """One stored version of a scenario (``cmee_store_version_info``)."""

    version: int    #: 1, 2, ...
    created: int    #: when it was saved, ms UTC
    size: int       #: bytes of its JSON text


class MarketEvent(NamedTuple):
    """One entry of a market event log (``cmee_store_market_event``)."""

    seq: int    #: position in the log: 1, 2, ...
    wall: int   #: wall-clock time it was appended, ms UTC
    at: int     #: market time it takes effect, ms UTC
    kind: str   #: what kind of change ("speed", ...)
    data: str   #: its details, text (JSON by convention)


def _int64(name: str, v: Any) -> int:
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    v = int(v)
    if not -(1 << 63) <= v < (1 << 63):
        raise _EINVAL(f"{name}: {v} is out of range", _EINVAL.status, name)
    return v


def _int_option(name: str, v: Any) -> int:
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    v = int(v)
    if not _INT_MIN <= v <= _INT_MAX:
        raise _EINVAL(f"{name}: {v} is out of range", _EINVAL.status, name)
    return v


class Store(Owned):
    """A connection to a store (``cmee_store``): an SQLite file, or a private in-memory
    database for ":memory:".

    ``Store(path=":memory:", busy_timeout_ms=None, must_exist=False, full_sync=False)``
    opens or creates the file and migrates its schema. ``busy_timeout_ms``: how long a write
    waits for another connection's write (None: the library's default, 5000 ms; negative:
    not at all). ``must_exist``: raise NotFoundError instead of creating a missing file.
    ``full_sync``: commits also survive an operating-system crash, at an fsync each.

    Use it as a context manager or call :meth:`close`; garbage collection closes it too.
    Calls from several threads on one Store are serialised; for parallel work open one Store
    per thread on the same file.
    """

    _free = "cmee_store_close"

    def __init__(self, path: Union[str, os.PathLike[str]] = ":memory:",
                 busy_timeout_ms: Optional[int] = None, must_exist: bool = False,
                 full_sync: bool = False):
        self._ptr: Optional[StorePtr] = None
        self._lock = threading.Lock()
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
        self._path = os.fspath(path)
        if not isinstance(self._path, str):
            raise TypeError("path must be a str path, not bytes")
        raw = os.fsencode(self._path)
        if b"\0" in raw:
            raise TypeError("path must not contain NUL characters")
        opt = cmee_store_options()
        _options_init(ctypes.byref(opt))
        if busy_timeout_ms is not None:
            opt.busy_timeout_ms = _int_option("busy_timeout_ms", busy_timeout_ms)
        opt.must_exist = bool(must_exist)
        opt.full_sync = bool(full_sync)
        ptr = StorePtr()
        err = cmee_error()
        check(_open(raw, ctypes.byref(opt), None, ctypes.byref(ptr), ctypes.byref(err)), err)
        self._ptr = ptr

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (every successful change is already committed). Idempotent;
        later calls raise :class:`cmee.StateError`."""
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is not None:
                lib.cmee_store_close(ptr)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    @property
    def path(self) -> str:
        """The path the store was opened with."""
        return self._path

    def __repr__(self) -> str:
        return f"<cmee.Store {self._path!r} {'closed' if self._ptr is None else 'open'}>"

    def _handle(self) -> StorePtr:
        """The C handle; the caller holds ``self._lock``."""
        ptr = self._ptr
        if ptr is None:
            raise _ESTATE("store: closed", _ESTATE.status)
        return ptr

    def _ok(self, ptr: StorePtr, status: int) -> None:
        if status:
            check(status, _errmsg(ptr))

    # -- the store ---------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The schema version of the file (equal to :data:`STORE_SCHEMA_VERSION` once open).
        Raises InputOutputError if the file cannot be read."""
        with self._lock:
            ptr = self._handle()
            v = _schema_version(ptr)
            if v < 0:
                check(error_class(8).status, _errmsg(ptr))
            return v

    def check(self) -> None:
        """Check the whole file (SQLite's integrity check, then every record's checksum).
        Reads the entire file. Raises CorruptError naming the first problem."""
        with self._lock:
            ptr = self._handle()
            self._ok(ptr, _check(ptr))

    # -- scenarios ---------------------------------------------------------------------------

    def save_scenario(self, sc: Scenario, mode: str = "any") -> int:
        """Save ``sc`` under its name; returns the version saved.

        A new name gets version 1, an existing one its next version (older ones are kept).
        ``mode``: "any" (either), "create" (new names only: AlreadyExistsError otherwise) or
        "update" (existing names only: NotFoundError otherwise).
        """
        if not isinstance(sc, Scenario):
            raise TypeError(f"sc must be a cmee.Scenario, not {type(sc).__name__}")
        if not isinstance(mode, str) or mode not in SAVE_MODES:
            raise _EINVAL(f"mode: must be one of {', '.join(SAVE_MODES)}, got {mode!r}",
                          _EINVAL.status, "mode")
        version = ctypes.c_int()
        with self._lock:
            ptr = self._handle()
            with sc._lock.read():
                self._ok(ptr, _save(ptr, sc._handle(), SAVE_MODES[mode], ctypes.byref(version)))
        return version.value

    def load_scenario(self, name: str, version: Optional[int] = None,
                      market: Optional[Market] = None) -> Scenario:
        """Version ``version`` (default: the newest) of the scenario ``name``, checked against
        its checksum and validated again. With ``market``, its symbols must be registered
        there. Raises NotFoundError (unknown name, version or symbol), CorruptError."""
        key = encode(name, "name")
        v = 0 if version is None else _int_option("version", version)
        if version is not None and v < 1:
            raise _EINVAL(f"version: must be 1 or more, got {v}", _EINVAL.status, "version")
        out = ScenarioPtr()
        with self._lock:
            ptr = self._handle()
            st = _registry_call(market, lambda reg: _load(ptr, key, v, reg, None,
                                                          ctypes.byref(out)))
            self._ok(ptr, st)
        return Scenario._adopt(out)

    def scenarios(self) -> list[ScenarioInfo]:
        """Every stored scenario name with its summary, in byte order of the name."""
        with self._lock:
            ptr = self._handle()
            rows = self._fill(ptr, cmee_store_scenario_info,
                              lambda buf, cap, n: _list(ptr, buf, cap, n))
        return [ScenarioInfo(r.name.decode("utf-8", "replace"), r.latest, r.versions,
                             r.created, r.updated) for r in rows]

    def versions(self, name: str) -> list[VersionInfo]:
        """The stored versions of ``name``, oldest first. Raises NotFoundError."""
        key = encode(name, "name")
        with self._lock:
            ptr = self._handle()
            rows = self._fill(ptr, cmee_store_version_info,
                              lambda buf, cap, n: _versions(ptr, key, buf, cap, n))
        return [VersionInfo(r.version, r.created, r.size) for r in rows]

    def delete_scenario(self, name: str) -> None:
        """Delete the scenario ``name`` and every version of it. Raises NotFoundError."""
        key = encode(name, "name")
        with self._lock:
            ptr = self._handle()
            self._ok(ptr, _delete(ptr, key))

    # -- market event logs -------------------------------------------------------------------

    def append_market_event(self, log: str, kind: str, data: str, wall: int, at: int) -> int:
        """Append an entry to the market event log ``log`` (one transaction); returns its
        position 1, 2, .... ``log``: 1 to 63 of A-Z a-z 0-9 "_-."; ``kind``: 1 to 31 of a-z
        0-9 "_"; ``data``: 1 to 65536 bytes of UTF-8 text; ``wall``, ``at``: ms. Raises
        InvalidArgumentError naming what is wrong (nothing is appended), BusyError."""
        key, k = encode(log, "log"), encode(kind, "kind")
        text = encode(data, "data")
        w, a = _int64("wall", wall), _int64("at", at)
        seq = ctypes.c_int64()
        with self._lock:
            ptr = self._handle()
            self._ok(ptr, _event_append(ptr, key, w, a, k, text, len(text), ctypes.byref(seq)))
        return seq.value

    def market_events(self, log: str) -> list[MarketEvent]:
        """Every entry of the market event log ``log``, oldest first, each checked against
        its checksum (CorruptError for a damaged one). A log nobody appended to is empty."""
        key = encode(log, "log")
        out: list[MarketEvent] = []

        def take(_ud: Any, ev: Any) -> int:
            e = ev.contents
            data = ctypes.string_at(e.data, e.data_len) if e.data_len else b""
            out.append(MarketEvent(e.seq, e.wall, e.at, (e.kind or b"").decode("utf-8", "replace"),
                                   data.decode("utf-8", "replace")))
            return 0

        fn = _market_event_fn(take)  # kept alive for the call
        n = ctypes.c_size_t()
        with self._lock:
            ptr = self._handle()
            self._ok(ptr, _events(ptr, key, fn, None, ctypes.byref(n)))
        return out

    def _fill(self, ptr: StorePtr, struct: Any, call: Any) -> list[Any]:
        """The entries of a list call: ask for the count, then fill a buffer, again with a
        larger one if another connection added entries meanwhile."""
        n = ctypes.c_size_t()
        self._ok(ptr, call(None, 0, ctypes.byref(n)))
        while True:
            cap = n.value + 8
            buf = (struct * cap)()
            st = call(buf, cap, ctypes.byref(n))
            if st != _ENOSPACE.status:
                self._ok(ptr, st)
                return list(buf[:n.value])
            self._ok(ptr, call(None, 0, ctypes.byref(n)))

    # -- sessions (include/cmee/session.h) ----------------------------------------------------

    def sessions(self) -> list[str]:
        """The ids of the sessions kept in this store, oldest first. Open one with
        :meth:`cmee.Session.load`."""
        with self._lock:
            ptr = self._handle()
            n = ctypes.c_size_t()
            self._ok(ptr, _session_list(ptr, None, 0, ctypes.byref(n)))
            while True:
                cap = n.value + 8
                buf = ((_c.c_char * SESSION_ID_MAX) * cap)()
                st = _session_list(ptr, buf, cap, ctypes.byref(n))
                if st != _ENOSPACE.status:
                    self._ok(ptr, st)
                    return [buf[i].value.decode("utf-8", "replace") for i in range(n.value)]
                self._ok(ptr, _session_list(ptr, None, 0, ctypes.byref(n)))

    def delete_session(self, id: str) -> None:
        """Delete session ``id`` and all its records (one transaction). Raises NotFoundError.
        A :class:`cmee.Session` still open on it keeps working in memory, but its next change
        fails; close it first."""
        key = encode(id, "id")
        with self._lock:
            ptr = self._handle()
            self._ok(ptr, _session_delete(ptr, key))


from ._lib import SESSION_ID_MAX  # noqa: E402

_session_list = declare("cmee_session_list", c_status,
                        StorePtr, _c.c_void_p, _c.c_size_t, _P(_c.c_size_t))
_session_delete = declare("cmee_session_delete", c_status, StorePtr, _c.c_char_p)
