# SPDX-License-Identifier: GPL-3.0-or-later
"""The market generator: symbols and deterministic random-walk candles and ticks.

A :class:`Market` is a seed plus a registry of symbols; every price it produces is a pure
function of (seed, symbol settings, time). Times are int milliseconds since the Unix epoch
(UTC) or :class:`datetime.datetime` objects (naive ones are taken as UTC). Timeframes are the
names "1m", "5m", "15m", "1h", "4h" and "1d".
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as _dt
import mmap
import operator
import re
import threading
import time as _time
from array import array
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union, overload

from ._errors import Error, check, error_class
from ._lib import (ANCHOR_TIME, MARKET_MAX_QUERY, SYMBOL_MAX, TIME_MAX, TIME_MIN, MarketPtr,
                   c_asset_class, c_timeframe, cmee_candle, cmee_symbol_spec, cmee_tick, encode,
                   lib, Owned)

if TYPE_CHECKING:  # pragma: no cover
    from .book import BBO, Book, Spread, Trades

__all__ = [
    "Market", "Candles", "Candle", "Tick", "Symbol", "TIMEFRAMES",
    "TIME_MIN", "TIME_MAX", "ANCHOR_TIME", "MAX_QUERY", "to_ms",
]

#: The timeframe names, shortest first.
TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")
#: The most candles one query may return (``CMEE_MARKET_MAX_QUERY``).
MAX_QUERY: int = MARKET_MAX_QUERY

#: A time: int ms since the Unix epoch (UTC), or a datetime (naive means UTC).
TimeLike = Union[int, _dt.datetime]

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MS = _dt.timedelta(milliseconds=1)
_EINVAL = error_class(1)
_ERANGE = error_class(4)
_ESTATE = error_class(7)


def _fail(cls: type[Error], message: str) -> Error:
    return cls(message, cls.status)


# --------------------------------------------------------------------------------------------
# Values


class Candle(NamedTuple):
    """One candle: open time (int ms, UTC), OHLC prices and volume (floats)."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Tick(NamedTuple):
    """One price update inside a 1m candle: time (int ms, UTC), price and volume."""

    time: int
    price: float
    volume: float


@dataclasses.dataclass(frozen=True)
class Symbol:
    """Everything that defines one symbol's series (the C ``cmee_symbol_spec``).

    The field names are those of the C struct; ``asset_class`` is a name ("crypto", "fx",
    "metal", "index", "stock", "commodity", "other"). Ranges are checked by
    :meth:`Market.set_symbol` (see ``include/cmee/market.h``).
    """

    symbol: str                 #: 1 to 15 characters from A-Z, 0-9, '.', '-', '_'
    asset_class: str            #: informational
    seed_price: float           #: price at ANCHOR_TIME (2025-01-01T00:00:00Z)
    tick_size: float            #: price increment
    precision: int              #: decimal places of a price, 0 to 10
    volatility: float           #: annualised volatility of log returns, (0, 3]
    drift: float                #: annualised drift, [-2, 2]
    volume: float               #: mean volume of a 1m candle, [1, 1e9]
    ticks_per_minute: int       #: ticks per 1m candle, 4 to 600
    tail_dof: float = 0.0       #: fat tails: 0 (off) or degrees of freedom in (2, 100]
    clustering: float = 0.0     #: volatility clustering: 0 (off) or in (0, 2]
    jump_rate: float = 0.0      #: expected jumps a year, 0 (off) to 1000
    jump_mean: float = 0.0      #: mean log jump size, [-1, 1]
    jump_stdev: float = 0.0     #: standard deviation of the log jump size, [0, 1]


_SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(Symbol))
_INT_FIELDS = ("precision", "ticks_per_minute")


def _class_name(cls: int) -> str:
    name = lib.cmee_asset_class_name(cls)
    return name.decode("ascii") if name is not None else str(cls)


def _symbol_from_spec(spec: cmee_symbol_spec) -> Symbol:
    values: dict[str, Any] = {}
    for name in _SPEC_FIELDS:
        v = getattr(spec, name)
        if name == "symbol":
            v = v.decode("utf-8", "replace")
        elif name == "asset_class":
            v = _class_name(v)
        values[name] = v
    return Symbol(**values)


# --------------------------------------------------------------------------------------------
# Argument conversion


def to_ms(t: Any, what: str = "time") -> int:
    """``t`` as int milliseconds since the Unix epoch (UTC).

    Accepts an int (ms, returned as is), a :class:`datetime.datetime` (naive ones are UTC,
    aware ones converted; sub-millisecond parts are floored) or a :class:`datetime.date`
    (its midnight UTC). Raises TypeError for anything else (floats included: pass whole ms)
    and :class:`cmee.RangeError` outside the 64-bit range.
    """
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        ms = (t - _EPOCH) // _MS
    elif isinstance(t, _dt.date):
        ms = (_dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc) - _EPOCH) // _MS
    elif isinstance(t, bool) or not hasattr(type(t), "__index__"):
        raise TypeError(f"{what} must be int milliseconds or a datetime, "
                        f"not {type(t).__name__}")
    else:
        ms = operator.index(t)
    if not _INT64_MIN <= ms <= _INT64_MAX:
        raise _fail(_ERANGE, f"{what}: {ms} does not fit in 64 bits")
    return ms


def _now_ms() -> int:
    return _time.time_ns() // 1_000_000


def _timeframe(tf: Any) -> tuple[int, str]:
    """(C value, name) of a timeframe given by name ("1h") or length in minutes (60)."""
    if isinstance(tf, str):
        out = c_timeframe()
        if "\0" not in tf and lib.cmee_timeframe_parse(tf.encode("utf-8", "replace"),
                                                       ctypes.byref(out)) == 0:
            return out.value, tf
        raise _fail(_EINVAL, f"timeframe: must be one of {' '.join(TIMEFRAMES)}, got {tf!r}")
    if isinstance(tf, bool) or not hasattr(type(tf), "__index__"):
        raise TypeError(f"timeframe must be a str such as '1h', not {type(tf).__name__}")
    v = operator.index(tf)
    name = lib.cmee_timeframe_name(v) if _INT_MIN <= v <= _INT_MAX else None
    if name is None:
        raise _fail(_EINVAL, f"timeframe: must be one of {' '.join(TIMEFRAMES)}, got {v}")
    return v, name.decode("ascii")


def _count(n: Any) -> int:
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"count must be an int, not {type(n).__name__}")
    n = operator.index(n)
    if n < 1:
        raise _fail(_EINVAL, f"count: must be at least 1, got {n}")
    if n > MARKET_MAX_QUERY:
        raise _fail(_ERANGE, f"count: {n} candles, the most per query is {MARKET_MAX_QUERY}")
    return n


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        raise TypeError(f"{name} must be a number, not {type(v).__name__}")
    try:
        return float(v)
    except OverflowError:
        raise _fail(_EINVAL, f"{name}: {v} is too large") from None


def _integer(name: str, v: Any) -> int:
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    v = operator.index(v)
    if not _INT_MIN <= v <= _INT_MAX:
        raise _fail(_EINVAL, f"{name}: {v} is out of range")
    return v


# --------------------------------------------------------------------------------------------
# Number formatting as `cmee gen` does it (docs/cli.md)


def _fmt_exact(v: float) -> str:
    """The first of %.15g, %.16g, %.17g that reads back as exactly ``v``."""
    s = "%.17g" % v
    for prec in (15, 16):
        t = "%.*g" % (prec, v)
        if float(t) == v:
            return t
    return s


# After the first field, a field whose repr may differ from that rule: an exponent, inf/nan,
# or 16+ characters of digits (16+ significant digits, or a value >= 1e15). Matching only from
# a comma lets the regex engine skip ahead. _MAYBE_LONG and looking for "e" and "n" are the
# cheap tests run first (0.15 s for a million rows; the substitution alone takes 1.2 s).
_SUSPECT = re.compile(r",([^,\n]*[a-z][^,\n]*|[0-9.-]{16,})(?=[,\n])")
_MAYBE_LONG = re.compile(r",[0-9.-]{16}")
_POINT_ZERO = re.compile(r"\.0(?=[,\n])")


def _fix_field(m: re.Match[str]) -> str:
    return "," + _fmt_exact(float(m.group(1)))


# --------------------------------------------------------------------------------------------
# Candles

_CANDLE_SIZE = ctypes.sizeof(cmee_candle)
_STRIDE = _CANDLE_SIZE // 8          # 6 eight-byte words per candle
_FIELDS = Candle._fields
_new_candle = partial(tuple.__new__, Candle)


# Buffers from this size on are fresh anonymous mappings: the kernel hands out zeroed pages on
# first write, so unlike bytearray there is no memset of memory the library overwrites anyway
# (5 ms of the 105 ms for a million 1m candles). Below it, the mmap call costs more than it saves.
_MMAP_MIN = 1 << 20


def _alloc(nbytes: int) -> Union[bytearray, mmap.mmap]:
    """A writable buffer of ``nbytes`` bytes for the library to fill."""
    if nbytes >= _MMAP_MIN and hasattr(mmap, "MAP_ANONYMOUS"):
        return mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return bytearray(nbytes)


class Candles(Sequence[Candle]):
    """A series of candles of one symbol and timeframe, oldest first.

    ``len(c)``; ``c[i]`` is a :class:`Candle` (negative indices work), ``c[a:b]`` another
    Candles; iterating yields Candle tuples. The fields as contiguous buffers (read-only
    memoryviews of int64 ``'q'`` for ``time`` and double ``'d'`` for the prices and volume,
    usable by ``numpy.frombuffer``, ``array``, ``sum``, ...): ``c.time``, ``c.open``,
    ``c.high``, ``c.low``, ``c.close``, ``c.volume``. Candles own their data: they stay valid
    after the market is closed. Two Candles are equal when symbol, timeframe and every bit
    of every candle are.
    """

    __slots__ = ("_raw", "_q", "_d", "_n", "_symbol", "_timeframe", "_cols", "__weakref__")

    def __init__(self, symbol: str, timeframe: str, raw: Any):
        """Internal: wrap ``raw``, the bytes of a C ``cmee_candle`` array (48 bytes each)."""
        mv = memoryview(raw).cast("B")
        if len(mv) % _CANDLE_SIZE:
            raise ValueError("raw candle data must be a whole number of cmee_candle")
        self._raw = mv
        self._q = mv.cast("q")
        self._d = mv.cast("d")
        self._n = len(mv) // _CANDLE_SIZE
        self._symbol = symbol
        self._timeframe = timeframe
        self._cols: dict[str, memoryview] = {}

    @property
    def symbol(self) -> str:
        """The symbol's name, e.g. "BTCUSD"."""
        return self._symbol

    @property
    def timeframe(self) -> str:
        """The timeframe's name, e.g. "1h"."""
        return self._timeframe

    def __len__(self) -> int:
        return self._n

    def _column(self, i: int) -> memoryview:
        name = _FIELDS[i]
        col = self._cols.get(name)
        if col is None:
            if i == 0:
                buf = array("q", [0]) * self._n
                memoryview(buf)[:] = self._q[0::_STRIDE]
            else:
                buf = array("d", [0.0]) * self._n
                memoryview(buf)[:] = self._d[i::_STRIDE]
            col = memoryview(buf).toreadonly()
            self._cols[name] = col
        return col

    time = property(lambda self: self._column(0),
                    doc="Open times, int64 ms since the Unix epoch (UTC): a 'q' memoryview.")
    open = property(lambda self: self._column(1), doc="Opening prices: a 'd' memoryview.")
    high = property(lambda self: self._column(2), doc="Highest prices: a 'd' memoryview.")
    low = property(lambda self: self._column(3), doc="Lowest prices: a 'd' memoryview.")
    close = property(lambda self: self._column(4), doc="Closing prices: a 'd' memoryview.")
    volume = property(lambda self: self._column(5), doc="Volumes (whole units): a 'd' memoryview.")

    @overload
    def __getitem__(self, index: int) -> Candle: ...

    @overload
    def __getitem__(self, index: slice) -> "Candles": ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Candle, "Candles"]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._n)
            if step == 1:
                stop = max(start, stop)
                return Candles(self._symbol, self._timeframe,
                               self._raw[start * _CANDLE_SIZE:stop * _CANDLE_SIZE])
            k = len(range(start, stop, step))
            out = bytearray(k * _CANDLE_SIZE)
            if k:
                dst = memoryview(out).cast("d")
                for f in range(_STRIDE):
                    dst[f::_STRIDE] = self._d[start * _STRIDE + f::step * _STRIDE][:k]
            return Candles(self._symbol, self._timeframe, out)
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"Candles indices must be int or slice, not "
                            f"{type(index).__name__}") from None
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("Candles index out of range")
        j = i * _STRIDE
        d = self._d
        return _new_candle((self._q[j], d[j + 1], d[j + 2], d[j + 3], d[j + 4], d[j + 5]))

    def __iter__(self) -> Iterator[Candle]:
        s, q, d = _STRIDE, self._q, self._d
        return map(_new_candle, zip(q[0::s], d[1::s], d[2::s], d[3::s], d[4::s], d[5::s]))

    def __reversed__(self) -> Iterator[Candle]:
        return iter(self[::-1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candles):
            return NotImplemented
        return (self._symbol == other._symbol and self._timeframe == other._timeframe
                and self._n == other._n and self._q == other._q)  # int64 words: bitwise

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self._n:
            return f"<Candles {self._symbol} {self._timeframe}: empty>"
        first, last = self._q[0], self._q[(self._n - 1) * _STRIDE]
        return (f"<Candles {self._symbol} {self._timeframe}: {self._n} candles, "
                f"{_iso(first)} to {_iso(last)}>")

    def to_numpy(self) -> dict[str, Any]:
        """The fields as numpy arrays without copying: {"time": int64 array, "open": ..., ...}.

        The arrays are read-only views of this object's buffers. Raises ImportError if numpy
        is not installed (the bindings themselves need only the standard library).
        """
        try:
            import numpy
        except ImportError as e:
            raise ImportError("Candles.to_numpy() needs numpy, which is not installed "
                              "(pip install numpy, or use the c.time, c.close ... buffers "
                              "directly)") from e
        return {name: numpy.frombuffer(self._column(i), dtype="int64" if i == 0 else "float64")
                for i, name in enumerate(_FIELDS)}

    def to_csv(self) -> str:
        """The candles as CSV text, byte for byte what ``cmee gen`` prints for them.

        A header line ``time,open,high,low,close,volume`` and one line per candle, each ending
        in a newline; numbers as the first of %.15g/%.16g/%.17g that reads back exactly.
        """
        if not self._n:
            return "time,open,high,low,close,volume\n"
        rows = "\n".join(map("%d,%r,%r,%r,%r,%r".__mod__, iter(self))) + "\n"
        # Python's repr is the shortest text that reads back exactly; up to 15 significant
        # digits and below 1e15 that is what %.15g prints, but for a trailing ".0".
        rows = _POINT_ZERO.sub("", rows)
        if "e" in rows or "n" in rows or _MAYBE_LONG.search(rows):
            rows = _SUSPECT.sub(_fix_field, rows)
        return "time,open,high,low,close,volume\n" + rows

    def _c_array(self) -> tuple[Any, int]:
        """Internal: (``cmee_candle *`` usable as a ctypes argument, count), zero-copy."""
        if not self._n:
            return None, 0
        raw = self._raw if not self._raw.readonly else bytearray(self._raw)
        return (cmee_candle * self._n).from_buffer(raw), self._n


def _iso(ms: int) -> str:
    t = _EPOCH + _dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Market


class _RWLock:
    """Many concurrent queries or one change (the C library's thread-safety rule)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    def read(self) -> "_Held":
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        return _Held(self, False)

    def write(self) -> "_Held":
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        return _Held(self, True)

    def release(self, writer: bool) -> None:
        with self._cond:
            if writer:
                self._writer = False
            else:
                self._readers -= 1
            self._cond.notify_all()


class _Held:
    __slots__ = ("_lock", "_writer")

    def __init__(self, lock: _RWLock, writer: bool) -> None:
        self._lock, self._writer = lock, writer

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self._lock.release(self._writer)


class Market(Owned):
    """A deterministic market: a seed and a registry of symbols (``cmee_market``).

    ``Market(seed=42)`` has the built-in registry (20+ crypto, FX, metal, index and stock
    symbols). The same seed always gives the same prices. Close it with :meth:`close` or use
    it as a context manager; garbage collection closes it too. Any number of threads may
    query one market at once; :meth:`set_symbol`, :meth:`set_correlation` and :meth:`close`
    wait for the running queries. Every failure raises a :class:`cmee.Error` subclass whose
    text names the bad field.
    """

    _free = "cmee_market_free"

    def __init__(self, seed: int = 42):
        """Create a market; ``seed`` is an int in [0, 2**64). Raises TypeError, RangeError."""
        self._ptr: Optional[MarketPtr] = None
        if isinstance(seed, bool) or not hasattr(type(seed), "__index__"):
            raise TypeError(f"seed must be an int, not {type(seed).__name__}")
        seed = operator.index(seed)
        if not 0 <= seed <= _UINT64_MAX:
            raise _fail(_ERANGE, f"seed: must be in [0, 2**64), got {seed}")
        self._lock = _RWLock()
        ptr = MarketPtr()
        check(lib.cmee_market_new(seed, None, ctypes.byref(ptr)))
        self._ptr = ptr
        self._seed = seed

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Free the C market. Idempotent; any later call raises :class:`cmee.StateError`."""
        ptr = self._ptr
        if ptr is None:
            return
        with self._lock.write():
            if self._ptr is None:
                return
            self._ptr = None
            lib.cmee_market_free(ptr)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else f"{self.symbol_count()} symbols"
        return f"<cmee.Market seed={getattr(self, '_seed', '?')} {state}>"

    def _handle(self) -> MarketPtr:
        ptr = self._ptr
        if ptr is None:
            raise _fail(_ESTATE, "market: closed")
        return ptr

    def _errmsg(self, ptr: MarketPtr) -> str:
        buf = ctypes.create_string_buffer(256)
        n = lib.cmee_market_errmsg_copy(ptr, buf, len(buf))
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            lib.cmee_market_errmsg_copy(ptr, buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def _check(self, ptr: MarketPtr, status: int) -> None:
        if status:
            check(status, self._errmsg(ptr))

    # -- symbols -----------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed the market was created with."""
        return self._seed

    def symbol_count(self) -> int:
        """Number of registered symbols."""
        with self._lock.read():
            return lib.cmee_market_symbol_count(self._handle())

    def symbols(self) -> list[Symbol]:
        """Every registered symbol's spec, the built-in registry first, then your own."""
        out = []
        spec = cmee_symbol_spec()
        with self._lock.read():
            ptr = self._handle()
            for i in range(lib.cmee_market_symbol_count(ptr)):
                self._check(ptr, lib.cmee_market_symbol_at(ptr, i, ctypes.byref(spec)))
                out.append(_symbol_from_spec(spec))
        return out

    def symbol(self, name: str) -> Symbol:
        """The spec of symbol ``name`` (exact, case-sensitive). Raises NotFoundError."""
        key = encode(name, "symbol")
        spec = cmee_symbol_spec()
        with self._lock.read():
            ptr = self._handle()
            self._check(ptr, lib.cmee_market_symbol(ptr, key, ctypes.byref(spec)))
        return _symbol_from_spec(spec)

    def set_symbol(self, spec: Union[Symbol, Mapping[str, Any], str, None] = None,
                   /, **fields: Any) -> Symbol:
        """Register a symbol or change an existing one; returns its new spec.

        ``spec`` is a :class:`Symbol`, a dict of Symbol fields or the symbol's name; keyword
        arguments override fields. The name (``symbol``) is required. A new name starts from
        the library defaults (class other, seed price 100, tick 0.01, precision 2, volatility
        0.2, volume 100, 60 ticks a minute), an existing one from its current spec; then the
        given fields apply. Example: ``m.set_symbol("MYCOIN", seed_price=50, volatility=0.8)``.
        Raises InvalidArgumentError naming a bad field (nothing changes then), TypeError for
        unknown field names or wrong types.
        """
        values: dict[str, Any] = {}
        if isinstance(spec, Symbol):
            values = dataclasses.asdict(spec)
        elif isinstance(spec, Mapping):
            values = dict(spec)
        elif isinstance(spec, str):
            values = {"symbol": spec}
        elif spec is not None:
            raise TypeError(f"spec must be a Symbol, a dict or a name, not {type(spec).__name__}")
        values.update(fields)
        unknown = [k for k in values if k not in _SPEC_FIELDS]
        if unknown:
            raise TypeError(f"unknown Symbol field(s): {', '.join(map(str, unknown))} "
                            f"(fields: {', '.join(_SPEC_FIELDS)})")
        if "symbol" not in values:
            raise TypeError("set_symbol() needs the symbol's name (symbol=...)")
        name = encode(values.pop("symbol"), "symbol")
        if not 1 <= len(name) < SYMBOL_MAX:
            raise _fail(_EINVAL, "symbol: must be 1 to 15 characters from A-Z 0-9 . - _, got "
                        f"{name.decode('utf-8', 'replace')!r}")
        converted: dict[str, Any] = {}
        for key, v in values.items():
            if key == "asset_class":
                if not isinstance(v, str):
                    raise TypeError(f"asset_class must be a str, not {type(v).__name__}")
                cls = c_asset_class()
                if "\0" in v or lib.cmee_asset_class_parse(v.encode("utf-8", "replace"),
                                                           ctypes.byref(cls)):
                    raise _fail(_EINVAL, "asset_class: must be one of crypto fx metal index "
                                f"stock commodity other, got {v!r}")
                converted[key] = cls.value
            elif key in _INT_FIELDS:
                converted[key] = _integer(key, v)
            else:
                converted[key] = _number(key, v)
        c_spec = cmee_symbol_spec()
        with self._lock.write():
            ptr = self._handle()
            if lib.cmee_market_symbol(ptr, name, ctypes.byref(c_spec)) != 0:
                lib.cmee_symbol_spec_init(ctypes.byref(c_spec), name)
            for key, v in converted.items():
                setattr(c_spec, key, v)
            self._check(ptr, lib.cmee_market_set_symbol(ptr, ctypes.byref(c_spec)))
            self._check(ptr, lib.cmee_market_symbol(ptr, name, ctypes.byref(c_spec)))
        return _symbol_from_spec(c_spec)

    def set_correlation(self, symbols: Sequence[str],
                        matrix: Sequence[Union[float, Sequence[float]]]) -> None:
        """Correlate the random parts of a group of symbols.

        ``matrix`` is the n x n correlation matrix (rows of floats, or n*n floats in row-major
        order) for the n ``symbols``: symmetric, ones on the diagonal, positive definite. The
        first symbol's series is unchanged. One symbol alone removes its group. Raises
        InvalidArgumentError (bad matrix or shape), NotFoundError, AlreadyExistsError (a
        symbol in another group).
        """
        if isinstance(symbols, (str, bytes)) or not isinstance(symbols, Sequence):
            raise TypeError("symbols must be a sequence of names")
        names = [encode(s, "symbol") for s in symbols]
        n = len(names)
        flat: list[Any] = []
        rows = list(matrix)
        if rows and all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in rows):
            flat = rows
        else:
            for r in rows:
                if isinstance(r, (str, bytes)) or not isinstance(r, Sequence):
                    raise TypeError("matrix must be rows of numbers or a flat list of numbers")
                if len(r) != n:
                    raise _fail(_EINVAL, f"matrix: rows must have {n} values, got {len(r)}")
                flat.extend(r)
        if len(flat) != n * n:
            raise _fail(_EINVAL, f"matrix: must be {n} x {n} for {n} symbols, got "
                        f"{len(flat)} values")
        c_names = (ctypes.c_char_p * max(n, 1))(*names)
        c_matrix = (ctypes.c_double * max(n * n, 1))(*[_number("matrix", v) for v in flat])
        with self._lock.write():
            ptr = self._handle()
            self._check(ptr, lib.cmee_market_set_correlation(ptr, c_names, n, c_matrix))

    # -- prices ------------------------------------------------------------------------------

    def candles(self, symbol: str, timeframe: Union[str, int], count: Optional[int] = None,
                start: Optional[TimeLike] = None, end: Optional[TimeLike] = None) -> Candles:
        """Candles of ``symbol`` at ``timeframe`` ("1m" ... "1d"), oldest first.

        With ``count``: the ``count`` complete candles that end at or before ``end`` (default
        now), so the last one opens at floor(end / tf) * tf - tf and none reveals a price after
        ``end``. With ``start``: the candles whose open time lies in [``start``, ``end``)
        (``end`` default now). Times are int ms or datetimes (naive = UTC). Example:
        ``m.candles("BTCUSD", "1h", count=500)``.

        Raises NotFoundError (unknown symbol), InvalidArgumentError (bad timeframe, count < 1,
        start >= end, count together with start), RangeError (times outside 2000-01-01 to
        2179-06-07, more than 10,000,000 candles), TypeError (wrong argument types).
        """
        key = encode(symbol, "symbol")
        tf, tf_name = _timeframe(timeframe)
        end_ms = _now_ms() if end is None else to_ms(end, "end")
        written = ctypes.c_size_t()
        if count is not None:
            if start is not None:
                raise _fail(_EINVAL, "count: give count or start, not both")
            n = _count(count)
            raw = _alloc(n * _CANDLE_SIZE)
            with self._lock.read():
                ptr = self._handle()
                self._check(ptr, lib.cmee_market_candles_last(
                    ptr, key, tf, end_ms, n, (ctypes.c_char * len(raw)).from_buffer(raw), n,
                    ctypes.byref(written)))
        else:
            if start is None:
                raise _fail(_EINVAL, "count: give count (the last candles) or start (a range)")
            start_ms = to_ms(start, "start")
            with self._lock.read():
                ptr = self._handle()
                self._check(ptr, lib.cmee_market_candles(
                    ptr, key, tf, start_ms, end_ms, None, 0, ctypes.byref(written)))
                n = written.value
                raw = _alloc(n * _CANDLE_SIZE)
                if n:
                    self._check(ptr, lib.cmee_market_candles(
                        ptr, key, tf, start_ms, end_ms,
                        (ctypes.c_char * len(raw)).from_buffer(raw), n, ctypes.byref(written)))
        if written.value != n:  # pragma: no cover - the C contract says this cannot happen
            raw = memoryview(raw)[:written.value * _CANDLE_SIZE]
        return Candles(symbol, tf_name, raw)

    def ticks(self, symbol: str, t: TimeLike) -> list[Tick]:
        """The ticks of the 1m candle containing time ``t``, oldest first.

        They fold exactly into that candle (first price = open, last = close, extremes = high
        and low, volumes sum to its volume). Raises NotFoundError, RangeError, TypeError.
        """
        key = encode(symbol, "symbol")
        t_ms = to_ms(t, "t")
        cap = 600
        buf = (cmee_tick * cap)()
        written = ctypes.c_size_t()
        with self._lock.read():
            ptr = self._handle()
            st = lib.cmee_market_ticks(ptr, key, t_ms, buf, cap, ctypes.byref(written))
            if st == error_class(5).status:  # ENOSPACE: a library allowing more ticks
                self._check(ptr, lib.cmee_market_ticks(ptr, key, t_ms, None, 0,
                                                       ctypes.byref(written)))
                cap = written.value
                buf = (cmee_tick * cap)()
                st = lib.cmee_market_ticks(ptr, key, t_ms, buf, cap, ctypes.byref(written))
            self._check(ptr, st)
        return [Tick(x.time, x.price, x.volume) for x in buf[:written.value]]

    def price(self, symbol: str, t: TimeLike) -> float:
        """The price of ``symbol`` at time ``t``: the last tick at or before ``t``.

        Raises NotFoundError, RangeError, TypeError.
        """
        key = encode(symbol, "symbol")
        t_ms = to_ms(t, "t")
        out = ctypes.c_double()
        with self._lock.read():
            ptr = self._handle()
            self._check(ptr, lib.cmee_market_price(ptr, key, t_ms, ctypes.byref(out)))
        return out.value

    # -- microstructure (include/cmee/book.h, docs/microstructure.md) -----------------------

    def bbo(self, symbol: str, at: Optional[TimeLike] = None) -> "BBO":
        """The best bid and offer of ``symbol`` in force at time ``at`` (default now).

        That of the last tick at or before ``at``, as a :class:`cmee.BBO` (time, bid, ask,
        last, spread, side): a buy prints at the ask, a sell at the bid. Raises NotFoundError,
        RangeError (``at`` outside the series), TypeError.
        """
        from .book import market_bbo
        return market_bbo(self, symbol, at)

    def bbo_ticks(self, symbol: str, t: TimeLike) -> list["BBO"]:
        """The quotes at every tick of the 1m candle containing ``t``, oldest first.

        One :class:`cmee.BBO` per tick of :meth:`ticks`, at the same times; each ``last`` is
        that tick's price. Raises NotFoundError, RangeError, TypeError.
        """
        from .book import market_bbo_ticks
        return market_bbo_ticks(self, symbol, t)

    def book(self, symbol: str, at: Optional[TimeLike] = None, depth: int = 10) -> "Book":
        """The synthetic order book of ``symbol`` in force at time ``at`` (default now).

        That of the last tick at or before ``at``, with up to ``depth`` (1 to 50) levels per
        side, as a :class:`cmee.Book`: ``bids`` and ``asks`` lists of (price, size) levels,
        best first. Deterministic for (seed, symbol, time), like the candles. Example:
        ``m.book("BTCUSD", at=dt.datetime(2030, 3, 1), depth=20).walk("buy", 5)``.

        Raises NotFoundError (unknown symbol), InvalidArgumentError (depth out of range),
        RangeError (``at`` outside 2000-01-01 to 2179-06-07), TypeError.
        """
        from .book import market_book
        return market_book(self, symbol, at, depth)

    def trades(self, symbol: str, count: Optional[int] = None, start: Optional[TimeLike] = None,
               end: Optional[TimeLike] = None) -> "Trades":
        """Trades of ``symbol``, oldest first, as :class:`cmee.Trades` of :class:`cmee.Trade`
        (time, price, size, side "buy" or "sell").

        With ``count``: the last ``count`` (1 to 1,000,000) trades before ``end`` (default
        now), none at or after it; fewer if the series starts first. With ``start``: the
        trades whose time lies in [``start``, ``end``) (``end`` default now), at most 31
        days. Times are int ms or datetimes (naive = UTC), as for :meth:`candles`. The trades
        inside each 1m candle add up exactly to its volume, the first at its open and the last
        at its close. Example: ``m.trades("BTCUSD", count=100)``.

        Raises NotFoundError (unknown symbol), InvalidArgumentError (count out of range,
        start after end, count together with start, neither), RangeError (times outside the
        series, a range longer than 31 days), TypeError.
        """
        from .book import market_trades
        return market_trades(self, symbol, count, start, end)

    def size_quantum(self, symbol: str) -> float:
        """The size quantum of ``symbol``: every trade and book size is a whole multiple of
        it. A power of two (1 for most symbols, 1/16 for BTCUSD), so sums of sizes are exact.
        Raises NotFoundError, TypeError."""
        from .book import market_size_quantum
        return market_size_quantum(self, symbol)

    def spread(self, symbol: str) -> "Spread":
        """The spread settings of ``symbol`` as a :class:`cmee.Spread` (bps, ticks,
        vol_weight); a symbol starts with its asset class's defaults. Raises NotFoundError,
        TypeError."""
        from .book import market_spread
        return market_spread(self, symbol)

    def set_spread(self, symbol: str, bps: Optional[float] = None,
                   ticks: Optional[float] = None,
                   vol_weight: Optional[float] = None) -> "Spread":
        """Change the spread settings of ``symbol``; returns the new :class:`cmee.Spread`.

        Fields left None keep their value. ``bps`` in [0, 1000] and ``ticks`` in [0, 1e6] set
        the base spread (the larger of the two, never below one tick); ``vol_weight`` in
        [0, 10] how much it widens with the minute's volatility. Changes quotes, books and
        trade sides at every time, not prices, sizes or candles. Waits for running queries,
        like :meth:`set_symbol`. Raises InvalidArgumentError naming a field out of range
        (nothing changes then), NotFoundError, TypeError.
        """
        from .book import market_set_spread
        return market_set_spread(self, symbol, bps, ticks, vol_weight)

    # -- scenarios (include/cmee/scenario.h) -------------------------------------------------

    def apply(self, scenario: Any, at: TimeLike) -> int:
        """Apply a scenario to this market from time ``at``; returns the application's id.

        ``scenario`` is a :class:`cmee.Scenario` or the name of a preset ("crash", ...).
        ``at`` is int ms or a datetime; the scenario acts from the first minute boundary at or
        after it on every symbol it names (every symbol if it names none). Nothing before
        ``at`` changes (contract 4). A symbol has one acting scenario: applying another ends
        the previous one there. Waits for running queries, like :meth:`set_symbol`.

        Raises NotFoundError (a symbol the market lacks, an unknown preset), RangeError (``at``
        outside the series, or the scenario would run past TIME_MAX), StateError (``at``
        before an earlier application on one of the symbols; a closed market or scenario),
        TypeError. On failure nothing changes.
        """
        from .scenario import Scenario
        t0 = to_ms(at, "at")
        if isinstance(scenario, str):
            with Scenario.preset(scenario) as preset:
                return self.apply(preset, t0)
        if not isinstance(scenario, Scenario):
            raise TypeError(f"scenario must be a cmee.Scenario or a preset name, "
                            f"not {type(scenario).__name__}")
        app_id = ctypes.c_uint32()
        with self._lock.write():
            ptr = self._handle()
            with scenario._lock.read():
                sc = scenario._handle()
                self._check(ptr, lib.cmee_scenario_apply(ptr, sc, t0, ctypes.byref(app_id)))
        return app_id.value

    def cancel(self, app_id: int, at: TimeLike) -> None:
        """Stop application ``app_id`` (from :meth:`apply`) from time ``at`` on.

        From the first minute boundary at or after ``at`` its symbols follow their own settings
        again, from the price the scenario left; nothing before ``at`` changes. Cancelling at or
        after the application's end changes nothing. Raises NotFoundError (unknown id),
        StateError (``at`` before the application's t0), TypeError.
        """
        if isinstance(app_id, bool) or not hasattr(type(app_id), "__index__"):
            raise TypeError(f"app_id must be an int, not {type(app_id).__name__}")
        app_id = operator.index(app_id)
        t1 = to_ms(at, "at")
        if not 0 <= app_id <= 0xFFFFFFFF:
            raise _fail(error_class(3), f"app_id: no application {app_id}")
        with self._lock.write():
            ptr = self._handle()
            self._check(ptr, lib.cmee_scenario_cancel(ptr, app_id, t1))

    def applications(self) -> list["Application"]:
        """Every application of a scenario to this market, in the order they were made, as
        :class:`cmee.Application` tuples (id, name, t0, end): ``t0`` is the first affected
        minute, ``end`` when it stops acting (t0 + duration, or when it was cancelled or
        superseded)."""
        out = []
        app = cmee_application()
        with self._lock.read():
            ptr = self._handle()
            for i in range(lib.cmee_scenario_application_count(ptr)):
                self._check(ptr, lib.cmee_scenario_application_at(ptr, i, ctypes.byref(app)))
                out.append(Application(app.id, app.name.decode("utf-8", "replace"), app.t0,
                                       app.end))
        return out

    def halted(self, symbol: str, at: TimeLike) -> bool:
        """Whether ``symbol`` is halted by a scenario at time ``at`` (inside a halt event of an
        acting application). Raises NotFoundError, RangeError, TypeError."""
        key = encode(symbol, "symbol")
        t = to_ms(at, "at")
        out = ctypes.c_bool()
        with self._lock.read():
            ptr = self._handle()
            self._check(ptr, lib.cmee_market_halted(ptr, key, t, ctypes.byref(out)))
        return out.value


# --------------------------------------------------------------------------------------------
# Applying scenarios (the Market methods above; the Scenario class is in scenario.py)

from ._lib import ScenarioPtr, cmee_application, declare  # noqa: E402


class Application(NamedTuple):
    """One application of a scenario to a market (``cmee_application``)."""

    id: int      #: as returned by Market.apply
    name: str    #: the scenario's name
    t0: int      #: the first affected minute, ms UTC
    end: int     #: when it stops acting, ms UTC


__all__.append("Application")

declare("cmee_scenario_apply", ctypes.c_int,
        MarketPtr, ScenarioPtr, ctypes.c_int64, ctypes.POINTER(ctypes.c_uint32))
declare("cmee_scenario_cancel", ctypes.c_int, MarketPtr, ctypes.c_uint32, ctypes.c_int64)
declare("cmee_scenario_application_count", ctypes.c_size_t, MarketPtr)
declare("cmee_scenario_application_at", ctypes.c_int,
        MarketPtr, ctypes.c_size_t, ctypes.POINTER(cmee_application))
declare("cmee_market_halted", ctypes.c_int,
        MarketPtr, ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_bool))
