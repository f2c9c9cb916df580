# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenarios: named timelines of regimes and events that transform a market after a time t0.

The Python face of ``include/cmee/scenario.h`` (docs/scenarios.md has the model, the JSON
form, the validation rules and the presets). A :class:`Scenario` is an immutable, validated
value made from a plain dict, from JSON text or from a preset::

    import datetime as dt
    import cmee

    dip = cmee.Scenario.from_dict({
        "name": "dip",
        "symbols": ["BTCUSD"],
        "regimes": [{"start": 0, "end": "2d", "drift_mode": "span", "drift": -0.05}],
        "events": [{"kind": "shock", "at": 0, "size": -0.08},
                   {"kind": "halt", "at": dt.timedelta(hours=1), "end": "90m"}],
    })
    crash = cmee.Scenario.preset("crash")       # cmee.presets() lists the names
    with cmee.Market(seed=42) as m:
        app = m.apply(crash, dt.datetime(2030, 3, 1))   # nothing before t0 changes

Times in a scenario are offsets from the moment it is applied: int milliseconds, strings of
digits and one unit ("250ms", "90s", "30m", "2h", "7d") or :class:`datetime.timedelta`.
Keys left out take their defaults. Every scenario that exists is valid: a bad field raises
:class:`cmee.InvalidArgumentError` whose text (and ``field``) names it, e.g.
``regimes[0].vol_mult: must be in (0, 20], got -2``; a listed symbol missing from the market
given as ``market`` raises :class:`cmee.NotFoundError`.

Applying (:meth:`cmee.Market.apply`, :meth:`~cmee.Market.cancel`,
:meth:`~cmee.Market.applications`, :meth:`~cmee.Market.halted`) is on the market;
:class:`cmee.Store` keeps scenarios with their versions.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import json
import math
from collections.abc import Mapping
from typing import Any, Optional

from ._errors import Error, check, error_class
from ._lib import Owned, ScenarioPtr, c_status, cmee_error, declare, encode, lib
from .market import Market, _RWLock

__all__ = ["Scenario", "presets"]

_c = ctypes
_P = ctypes.POINTER
_EINVAL = error_class(1)
_ESTATE = error_class(7)
_MS = _dt.timedelta(milliseconds=1)

# --------------------------------------------------------------------------------------------
# C declarations. The registry (``const cmee_market *``) may be NULL, so it is passed as an
# address; the handle types check everything else.

_new = declare("cmee_scenario_from_json", c_status,
               _c.c_char_p, _c.c_size_t, _c.c_void_p, _c.c_void_p, _P(ScenarioPtr),
               _P(cmee_error))
_preset = declare("cmee_scenario_preset", c_status,
                  _c.c_char_p, _c.c_void_p, _P(ScenarioPtr), _P(cmee_error))
_preset_name = declare("cmee_scenario_preset_name", _c.c_char_p, _c.c_size_t)
declare("cmee_scenario_free", None, ScenarioPtr)
_to_json = declare("cmee_scenario_to_json", c_status,
                   ScenarioPtr, _c.c_char_p, _c.c_size_t, _P(_c.c_size_t))
_name = declare("cmee_scenario_name", _c.c_char_p, ScenarioPtr)
_description = declare("cmee_scenario_description", _c.c_char_p, ScenarioPtr)
_symbol_count = declare("cmee_scenario_symbol_count", _c.c_size_t, ScenarioPtr)
_symbol_at = declare("cmee_scenario_symbol_at", _c.c_char_p, ScenarioPtr, _c.c_size_t)
_applies_to = declare("cmee_scenario_applies_to", _c.c_bool, ScenarioPtr, _c.c_char_p)
_duration = declare("cmee_scenario_duration", _c.c_int64, ScenarioPtr)


def presets() -> list[str]:
    """The names of the built-in presets, in the library's order ("calm", "bull_trend", ...).
    Each is available as ``Scenario.preset(name)``; docs/scenarios.md says what it does."""
    out = []
    i = 0
    while True:
        name = _preset_name(i)
        if name is None:
            return out
        out.append(name.decode("utf-8"))
        i += 1


# --------------------------------------------------------------------------------------------
# From Python values to the JSON form


def _plain(value: Any, path: str) -> Any:
    """``value`` with timedeltas as int ms and mappings and sequences as dicts and lists;
    raises for what JSON cannot carry faithfully, naming the path."""
    if isinstance(value, _dt.timedelta):
        ms, rest = divmod(value, _MS)
        if rest:
            raise _EINVAL(f"{path}: must be a whole number of milliseconds, got {value}",
                          _EINVAL.status, path)
        return ms
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path or 'scenario'}: keys must be str, got {k!r}")
            out[k] = _plain(v, f"{path}.{k}" if path else k)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise _EINVAL(f"{path}: must be finite, got {value}", _EINVAL.status, path)
    if isinstance(value, int) and not isinstance(value, bool) \
            and not -(1 << 63) <= value < (1 << 63):
        raise _EINVAL(f"{path}: {value} does not fit in 64 bits", _EINVAL.status, path)
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"{path}: expected a number, str, timedelta, dict or list, not "
                    f"{type(value).__name__}")


def _registry_call(market: Optional[Market], fn: Any) -> Any:
    """``fn(address of the market or None)``, holding the market's read lock while C reads it."""
    if market is None:
        return fn(None)
    if not isinstance(market, Market):
        raise TypeError(f"market must be a cmee.Market or None, not {type(market).__name__}")
    with market._lock.read():
        return fn(market._handle().value)


def _fmt_ms(ms: int) -> str:
    """A duration in ms as "3d", "16h27m27s", "250ms"."""
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
                       ("ms", 1)):
        q, ms = divmod(ms, size)
        if q:
            parts.append(f"{q}{unit}")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# Scenario


class Scenario(Owned):
    """A validated, immutable scenario (``cmee_scenario``).

    Make one with :meth:`from_dict` (or ``Scenario(dict, **fields)``), :meth:`from_json` or
    :meth:`preset`. Read it with :attr:`name`, :attr:`description`, :attr:`symbols`,
    :attr:`regimes`, :attr:`events` (dicts of the canonical JSON form, every field written),
    :attr:`duration`, :meth:`applies_to`, :meth:`to_dict` and :meth:`to_json`. Two scenarios
    are equal when their canonical JSON is; scenarios are hashable and pickle through their
    JSON. Close it with :meth:`close` or ``with``; garbage collection frees it too (a market
    it was applied to keeps its own copy). Any number of threads may use one scenario.
    """

    _free = "cmee_scenario_free"

    def __init__(self, spec: Optional[Mapping[str, Any]] = None, /,
                 market: Optional[Market] = None, **fields: Any):
        """Build a scenario from a dict of its JSON form; keyword arguments add or override
        keys: ``Scenario(name="dip", events=[{"kind": "shock", "at": 0, "size": -0.05}])``.
        See :meth:`from_dict`."""
        self._ptr: Optional[ScenarioPtr] = None
        self._lock = _RWLock()
        self._json: Optional[str] = None
        if spec is not None and not isinstance(spec, Mapping):
            raise TypeError(f"a scenario is made from a dict, not {type(spec).__name__}")
        d = dict(spec or {})
        d.update(fields)
        text = json.dumps(_plain(d, ""), allow_nan=False)
        self._ptr = self._from_json(text.encode("utf-8"), market)

    @staticmethod
    def _from_json(text: bytes, market: Optional[Market]) -> ScenarioPtr:
        ptr = ScenarioPtr()
        err = cmee_error()
        st = _registry_call(market, lambda reg: _new(text, len(text), reg, None,
                                                    ctypes.byref(ptr), ctypes.byref(err)))
        check(st, err)
        return ptr

    @classmethod
    def _adopt(cls, ptr: ScenarioPtr) -> "Scenario":
        """Internal: a Scenario owning the C scenario ``ptr``."""
        self = cls.__new__(cls)
        self._ptr = ptr
        self._lock = _RWLock()
        self._json = None
        return self

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], market: Optional[Market] = None) -> "Scenario":
        """A scenario from a dict of its JSON form (docs/scenarios.md).

        ``name`` is required; ``description``, ``symbols``, ``regimes`` and ``events`` are
        optional, and so is every key of a regime or event that has a default. Times are int
        ms, strings such as "2h" or timedeltas. With ``market``, the listed symbols must be
        registered there. Raises InvalidArgumentError naming the bad field (``e.field`` too),
        NotFoundError (a symbol ``market`` lacks), TypeError (values JSON cannot hold).
        """
        if not isinstance(d, Mapping):
            raise TypeError(f"d must be a dict, not {type(d).__name__}")
        return cls(d, market=market)

    @classmethod
    def from_json(cls, text: str | bytes, market: Optional[Market] = None) -> "Scenario":
        """A scenario from its JSON text (str or UTF-8 bytes). Errors as :meth:`from_dict`;
        malformed JSON raises InvalidArgumentError with the line and column."""
        if isinstance(text, str):
            raw = text.encode("utf-8")
        elif isinstance(text, (bytes, bytearray, memoryview)):
            raw = bytes(text)
        else:
            raise TypeError(f"text must be a str or bytes, not {type(text).__name__}")
        return cls._adopt(cls._from_json(raw, market))

    @classmethod
    def preset(cls, name: str) -> "Scenario":
        """The built-in preset ``name`` (see :func:`cmee.presets`). Raises NotFoundError for
        an unknown name."""
        key = encode(name, "name")
        ptr = ScenarioPtr()
        err = cmee_error()
        check(_preset(key, None, ctypes.byref(ptr), ctypes.byref(err)), err)
        return cls._adopt(ptr)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Free the C scenario. Idempotent; later calls raise :class:`cmee.StateError`.
        Markets it was applied to and stores it was saved in are not affected."""
        if self._ptr is None:
            return
        with self._lock.write():
            ptr, self._ptr = self._ptr, None
            if ptr is not None:
                lib.cmee_scenario_free(ptr)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    def _handle(self) -> ScenarioPtr:
        """The C handle; the caller holds ``self._lock.read()``."""
        ptr = self._ptr
        if ptr is None:
            raise _ESTATE("scenario: closed", _ESTATE.status)
        return ptr

    # -- reading -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The scenario's name."""
        with self._lock.read():
            return _name(self._handle()).decode("utf-8")

    @property
    def description(self) -> str:
        """Its description ("" if none)."""
        with self._lock.read():
            return _description(self._handle()).decode("utf-8")

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols it applies to, in the order given; () means every symbol."""
        with self._lock.read():
            ptr = self._handle()
            return tuple(_symbol_at(ptr, i).decode("utf-8")
                         for i in range(_symbol_count(ptr)))

    @property
    def regimes(self) -> list[dict[str, Any]]:
        """The regimes, sorted by start, as dicts with every field (times in int ms)."""
        return self.to_dict()["regimes"]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events, sorted by ``at``, as dicts with the fields of their kind."""
        return self.to_dict()["events"]

    @property
    def duration(self) -> int:
        """How long it acts after it is applied, in ms (docs/scenarios.md, Duration)."""
        with self._lock.read():
            return _duration(self._handle())

    @property
    def duration_timedelta(self) -> _dt.timedelta:
        """:attr:`duration` as a timedelta."""
        return _dt.timedelta(milliseconds=self.duration)

    def applies_to(self, symbol: str) -> bool:
        """Whether it acts on ``symbol`` (always true when it lists no symbols)."""
        key = encode(symbol, "symbol")
        with self._lock.read():
            return bool(_applies_to(self._handle(), key))

    def to_json(self, indent: Optional[int] = None) -> str:
        """The canonical JSON text (compact, keys in a fixed order, every field written):
        equal scenarios give identical text. ``indent`` pretty-prints it instead."""
        with self._lock.read():
            ptr = self._handle()
            text = self._json
            if text is None:
                n = ctypes.c_size_t()
                check(_to_json(ptr, None, 0, ctypes.byref(n)))
                buf = ctypes.create_string_buffer(n.value + 1)
                check(_to_json(ptr, buf, len(buf), ctypes.byref(n)))
                text = self._json = buf.value.decode("utf-8")
        if indent is not None:
            return json.dumps(json.loads(text), indent=indent, ensure_ascii=False)
        return text

    def to_dict(self) -> dict[str, Any]:
        """The canonical form as a new dict: name, description, symbols, regimes, events.
        ``Scenario.from_dict(s.to_dict()) == s``."""
        return json.loads(self.to_json())

    # -- value behaviour ---------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return self is other or self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Scenario.from_json, (self.to_json(),))

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<cmee.Scenario closed>"
        try:
            d = self.to_dict()
            nr, ne = len(d["regimes"]), len(d["events"])
            who = ", ".join(d["symbols"]) or "every symbol"
            return (f"<cmee.Scenario {d['name']!r}: {nr} regime{'s' * (nr != 1)}, {ne} "
                    f"event{'s' * (ne != 1)}, {who}, lasts {_fmt_ms(self.duration)}>")
        except Error:  # pragma: no cover - closed by another thread meanwhile
            return "<cmee.Scenario closed>"
