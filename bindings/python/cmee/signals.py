# SPDX-License-Identifier: GPL-3.0-or-later
"""Technical indicators, consensus signals, binary signals, market analysis and evaluation.

The Python face of ``include/cmee/signals.h``. Everything works on any price series: the
:class:`cmee.Candles` of a :class:`cmee.Market`, or your own data.

Indicators (TA-Lib's values and default parameters)::

    import cmee
    c = cmee.Market(seed=42).candles("BTCUSD", "1h", count=500)
    out = cmee.indicator("macd", c, fast=12, slow=26, signal=9)
    out["macd"], out["signal"], out["hist"]      # array('d'), one value per candle
    cmee.indicator("rsi", [100.0, 101.5, ...])   # close-only indicators take plain closes

Every output is aligned with the input (``out[k][i]`` belongs to bar ``i``) and is **NaN for
the first lookback bars** (:func:`lookback`): 14 for ``rsi`` with period 14, 29 for ``sma``
with period 30, 33 for ``macd`` 12/26/9, 0 for ``obv``.

Streaming gives the same numbers bit for bit, one bar at a time (:class:`Stream`)::

    with cmee.Stream("rsi", period=14) as s:
        for bar in c:
            v = s.update(bar)                    # NaN inside the lookback

Signals: seven rules vote (``RULES``) and their weighted mean is a consensus
(:func:`signal`, :class:`SignalContext` for every bar of a history without look-ahead),
which :func:`binary` turns into a CALL / PUT / NONE option signal. :func:`analyze` reports
trend, volatility and support/resistance; :func:`evaluate` replays binary signals over a
history and says how they really did.

Errors: every failure raises a :class:`cmee.Error` subclass carrying the library's text,
e.g. ``InvalidArgumentError("period: sma must be in [1, 100000], got 0")`` (``field`` is
"period") or ``InvalidArgumentError("close[17]: must be finite, got nan")``; unknown
indicator names raise :class:`cmee.NotFoundError`; arguments of the wrong type raise
:class:`TypeError`.
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import numbers
import operator
import sys
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Optional, Union

from ._errors import Error, check, error_class
from ._lib import Handle, Owned, c_status, cmee_candle, cmee_error, declare, encode, lib
from .market import Candle, Candles

__all__ = [
    "RULES", "DIRECTIONS", "BINARY_DIRECTIONS", "INPUTS",
    "IndicatorInfo", "indicators", "indicator_info", "lookback", "indicator", "Stream",
    "SignalConfig", "Reason", "Signal", "signal", "SignalContext",
    "BinaryConfig", "BinarySignal", "binary",
    "Analysis", "analyze",
    "EvalConfig", "EvalResult", "evaluate",
]

_c = ctypes
_P = ctypes.POINTER

# --------------------------------------------------------------------------------------------
# C declarations (include/cmee/signals.h). Enums are C ints on every ABI libcmee supports.

IND_MAX_PARAMS = 3
IND_MAX_OUTPUTS = 3
RULE_COUNT = 7
SWING_MAX = 8

c_ind_id = _c.c_int
c_rule = _c.c_int
c_direction = _c.c_int
c_binary_dir = _c.c_int


class cmee_series(ctypes.Structure):
    """``cmee_series``: one array per field (``const double *``, here addresses), and ``n``."""

    _fields_ = [
        ("open", _c.c_void_p),
        ("high", _c.c_void_p),
        ("low", _c.c_void_p),
        ("close", _c.c_void_p),
        ("volume", _c.c_void_p),
        ("n", _c.c_size_t),
    ]


class cmee_ind_info(ctypes.Structure):
    """``cmee_ind_info``: static description of an indicator."""

    _fields_ = [
        ("id", c_ind_id),
        ("name", _c.c_char_p),
        ("title", _c.c_char_p),
        ("inputs", _c.c_uint),
        ("nparams", _c.c_size_t),
        ("param_names", _c.c_char_p * IND_MAX_PARAMS),
        ("param_defaults", _c.c_double * IND_MAX_PARAMS),
        ("param_min", _c.c_double * IND_MAX_PARAMS),
        ("param_max", _c.c_double * IND_MAX_PARAMS),
        ("param_integer", _c.c_int * IND_MAX_PARAMS),
        ("noutputs", _c.c_size_t),
        ("output_names", _c.c_char_p * IND_MAX_OUTPUTS),
    ]


class cmee_signal_config(ctypes.Structure):
    """``cmee_signal_config``: weights and thresholds of the rules."""

    _fields_ = [
        ("weight", _c.c_double * RULE_COUNT),
        ("rsi_period", _c.c_int),
        ("rsi_overbought", _c.c_double),
        ("rsi_oversold", _c.c_double),
        ("macd_fast", _c.c_int),
        ("macd_slow", _c.c_int),
        ("macd_signal", _c.c_int),
        ("ma_fast", _c.c_int),
        ("ma_slow", _c.c_int),
        ("bb_period", _c.c_int),
        ("bb_k", _c.c_double),
        ("squeeze_quantile", _c.c_double),
        ("stoch_k", _c.c_int),
        ("stoch_slowk", _c.c_int),
        ("stoch_slowd", _c.c_int),
        ("stoch_overbought", _c.c_double),
        ("stoch_oversold", _c.c_double),
        ("adx_period", _c.c_int),
        ("adx_trend", _c.c_double),
        ("cross_bars", _c.c_int),
        ("threshold", _c.c_double),
    ]


class cmee_signal_reason(ctypes.Structure):
    """``cmee_signal_reason``: one rule's contribution to a signal."""

    _fields_ = [
        ("rule", c_rule),
        ("vote", _c.c_double),
        ("weight", _c.c_double),
        ("text", _c.c_char * 112),
    ]


class cmee_signal(ctypes.Structure):
    """``cmee_signal``: a consensus signal at one bar."""

    _fields_ = [
        ("direction", c_direction),
        ("score", _c.c_double),
        ("strength", _c.c_double),
        ("index", _c.c_size_t),
        ("time", _c.c_int64),
        ("nreasons", _c.c_size_t),
        ("reasons", cmee_signal_reason * RULE_COUNT),
    ]


class cmee_binary_config(ctypes.Structure):
    """``cmee_binary_config``: how a consensus becomes a binary signal."""

    _fields_ = [
        ("min_strength", _c.c_double),
        ("expiry_bars", _c.c_int),
        ("expiry_ms", _c.c_int64),
    ]


class cmee_binary_signal(ctypes.Structure):
    """``cmee_binary_signal``: a binary-option signal."""

    _fields_ = [
        ("direction", c_binary_dir),
        ("confidence", _c.c_double),
        ("expiry_ms", _c.c_int64),
        ("time", _c.c_int64),
        ("expiry_time", _c.c_int64),
    ]


_ANALYSIS_DOUBLES = (
    "trend_strength", "adx", "plus_di", "minus_di", "slope_pct", "r2",
    "atr", "atr_pct", "realized_vol", "vol_percentile",
    "pivot", "r1", "r2_level", "r3", "s1", "s2", "s3",
    "fib_r1", "fib_r2", "fib_r3", "fib_s1", "fib_s2", "fib_s3",
    "support", "resistance",
)


class cmee_analysis(ctypes.Structure):
    """``cmee_analysis``: trend, volatility and support/resistance at the last bar."""

    _fields_ = ([
        ("n", _c.c_size_t),
        ("time", _c.c_int64),
        ("close", _c.c_double),
        ("trend", _c.c_int),
    ] + [(name, _c.c_double) for name in _ANALYSIS_DOUBLES] + [
        ("nswing_highs", _c.c_size_t),
        ("nswing_lows", _c.c_size_t),
        ("swing_highs", _c.c_double * SWING_MAX),
        ("swing_lows", _c.c_double * SWING_MAX),
    ])


class cmee_eval_config(ctypes.Structure):
    """``cmee_eval_config``: settings of an evaluation."""

    _fields_ = [
        ("signal", cmee_signal_config),
        ("binary", cmee_binary_config),
        ("payout", _c.c_double),
        ("warmup", _c.c_size_t),
    ]


class cmee_eval_result(ctypes.Structure):
    """``cmee_eval_result``: what an evaluation found."""

    _fields_ = [
        ("trades", _c.c_size_t),
        ("calls", _c.c_size_t),
        ("puts", _c.c_size_t),
        ("wins", _c.c_size_t),
        ("losses", _c.c_size_t),
        ("ties", _c.c_size_t),
        ("hit_rate", _c.c_double),
        ("ci_low", _c.c_double),
        ("ci_high", _c.c_double),
        ("expectancy", _c.c_double),
        ("breakeven", _c.c_double),
    ]


class IndStreamPtr(Handle):
    """``cmee_ind_stream *``."""


class SignalCtxPtr(Handle):
    """``cmee_signal_ctx *``."""


_C = _P(cmee_candle)
_E = _P(cmee_error)
_D = _P(_c.c_double)
_TABLE: list[tuple[str, Any, tuple[Any, ...]]] = [
    ("cmee_ind_info_get", _P(cmee_ind_info), (c_ind_id,)),
    ("cmee_ind_find", c_status, (_c.c_char_p, _P(c_ind_id))),
    ("cmee_series_from_candles", c_status, (_C, _c.c_size_t, _D, _P(cmee_series))),
    ("cmee_ind_lookback", c_status, (c_ind_id, _D, _P(_c.c_size_t), _E)),
    ("cmee_ind_compute", c_status, (c_ind_id, _D, _P(cmee_series), _P(_c.c_void_p), _E)),
    ("cmee_ind_stream_new", c_status, (c_ind_id, _D, _c.c_void_p, _P(IndStreamPtr), _E)),
    ("cmee_ind_stream_update", c_status, (IndStreamPtr, _C, _D)),
    ("cmee_ind_stream_reset", None, (IndStreamPtr,)),
    ("cmee_ind_stream_id", c_ind_id, (IndStreamPtr,)),
    ("cmee_ind_stream_free", None, (IndStreamPtr,)),
    ("cmee_rule_name", _c.c_char_p, (c_rule,)),
    ("cmee_direction_name", _c.c_char_p, (c_direction,)),
    ("cmee_signal_config_init", None, (_P(cmee_signal_config),)),
    ("cmee_signal_ctx_new", c_status,
     (_C, _c.c_size_t, _P(cmee_signal_config), _c.c_void_p, _P(SignalCtxPtr), _E)),
    ("cmee_signal_ctx_size", _c.c_size_t, (SignalCtxPtr,)),
    ("cmee_signal_ctx_at", c_status, (SignalCtxPtr, _c.c_size_t, _P(cmee_signal))),
    ("cmee_signal_ctx_free", None, (SignalCtxPtr,)),
    ("cmee_signal_compute", c_status,
     (_C, _c.c_size_t, _P(cmee_signal_config), _P(cmee_signal), _E)),
    ("cmee_binary_dir_name", _c.c_char_p, (c_binary_dir,)),
    ("cmee_binary_config_init", None, (_P(cmee_binary_config),)),
    ("cmee_binary_from_signal", c_status,
     (_P(cmee_signal), _P(cmee_binary_config), _c.c_int64, _P(cmee_binary_signal))),
    ("cmee_analyze", c_status, (_C, _c.c_size_t, _c.c_int64, _P(cmee_analysis), _E)),
    ("cmee_eval_config_init", None, (_P(cmee_eval_config),)),
    ("cmee_evaluate", c_status,
     (_C, _c.c_size_t, _P(cmee_eval_config), _P(cmee_eval_result), _E)),
]
for _name, _res, _args in _TABLE:
    declare(_name, _res, *_args)
del _name, _res, _args

# The per-bar hot path of Stream.update: the same C function through a prototype taking plain
# addresses, which ctypes converts without calling back into Python (Handle.from_param is
# Python code). Stream checks the handle itself and keeps the buffers alive.
_stream_update = _c.CFUNCTYPE(c_status, _c.c_void_p, _c.c_void_p, _c.c_void_p)(
    ("cmee_ind_stream_update", lib))

_EINVAL = error_class(1)
_ESTATE = error_class(7)


def _fail(cls: type[Error], message: str, field: str = "") -> Error:
    return cls(message, cls.status, field)


def _text(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b is not None else ""


#: The rules of the consensus, in ``cmee_rule`` order.
RULES: tuple[str, ...] = tuple(_text(lib.cmee_rule_name(r)) for r in range(RULE_COUNT))
#: Consensus directions by C value (-1, 0, 1).
DIRECTIONS: dict[int, str] = {d: _text(lib.cmee_direction_name(d)) for d in (-1, 0, 1)}
#: Binary-option directions by C value (-1, 0, 1).
BINARY_DIRECTIONS: dict[int, str] = {d: _text(lib.cmee_binary_dir_name(d)) for d in (-1, 0, 1)}
#: The input fields, in ``cmee_ind_input`` bit order (bit 0 = open ... bit 4 = volume).
INPUTS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

_DIR_VALUE = {v: k for k, v in DIRECTIONS.items()}
_RULE_VALUE = {v: k for k, v in enumerate(RULES)}
_CANDLE_FIELDS = ("time",) + INPUTS
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
# memoryview formats of native doubles ("<d" is what ctypes arrays export on x86-64).
_DOUBLE_FORMATS = frozenset(("d", "@d", "=d", "<d" if sys.byteorder == "little" else ">d"))

# --------------------------------------------------------------------------------------------
# Argument conversion


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _as_int(name: str, v: Any, lo: int = _INT_MIN, hi: int = _INT_MAX) -> int:
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    v = operator.index(v)
    if not lo <= v <= hi:
        raise _fail(_EINVAL, f"{name}: {v} is out of range [{lo}, {hi}]", name)
    return v


def _as_float(name: str, v: Any) -> float:
    if not _is_number(v):
        raise TypeError(f"{name} must be a number, not {type(v).__name__}")
    return float(v)


class _Doubles:
    """A contiguous double array for C, from any buffer or sequence, copied only if needed.

    ``address`` is what C reads; the object keeps whatever owns the memory alive (and, for
    exported buffers, pinned: an array cannot be resized while a view of it exists).
    """

    __slots__ = ("address", "n", "_keep")

    def __init__(self, values: Any, name: str):
        if isinstance(values, (str, bytes, bytearray)):
            raise TypeError(f"{name} must be a sequence of numbers, not {type(values).__name__}")
        keep: Any = None
        try:
            mv: Optional[memoryview] = memoryview(values)
        except TypeError:
            mv = None
        if mv is not None and mv.format in _DOUBLE_FORMATS and mv.ndim == 1 \
                and mv.c_contiguous:
            if not mv.readonly:
                keep = (_c.c_char * mv.nbytes).from_buffer(mv) if mv.nbytes else mv
            elif (isinstance(mv.obj, array) and mv.obj.typecode == "d"
                  and len(mv.obj) == len(mv)):
                # A read-only view of a whole array('d') (how cmee.Candles exposes its
                # fields): C only reads, and the view pins the array while we hold it.
                self.address = mv.obj.buffer_info()[0] if len(mv) else 0
                self.n = len(mv)
                self._keep = mv
                return
        if keep is None:
            try:
                keep = array("d", values)
            except TypeError as e:
                raise TypeError(f"{name} must be a sequence of numbers: {e}") from None
            mv = memoryview(keep)
        self.n = len(mv)
        self.address = (_c.addressof(keep) if isinstance(keep, _c.Array)
                        else keep.buffer_info()[0] if isinstance(keep, array) else 0)
        self._keep = keep


def _field_source(data: Any, name: str) -> Any:
    """Field ``name`` of ``data`` (a mapping or an object with attributes), or None."""
    if isinstance(data, Mapping):
        return data.get(name)
    return getattr(data, name, None)


def _has_fields(data: Any) -> bool:
    """Whether ``data`` holds one sequence per field (Candles, a mapping, an object)."""
    if isinstance(data, (Candles, Mapping)):
        return True
    return not isinstance(data, (str, bytes, bytearray, memoryview, array, Sequence)) and \
        hasattr(data, "close")


class _CandleArray:
    """A ``cmee_candle`` array for C: ``ptr`` (None when empty) and ``n``."""

    __slots__ = ("ptr", "n", "_keep")

    def __init__(self, data: Any, what: str = "candles"):
        if isinstance(data, Candles):
            self.ptr, self.n = data._c_array()
            self._keep = data
            return
        if isinstance(data, _c.Array) and issubclass(data._type_, cmee_candle):
            self.ptr, self.n, self._keep = (data if len(data) else None), len(data), data
            return
        if isinstance(data, (str, bytes, bytearray)):
            raise TypeError(f"{what} must be cmee.Candles, a mapping of field sequences or a "
                            f"sequence of candles, not {type(data).__name__}")
        if _has_fields(data):
            cols = {}
            for f in _CANDLE_FIELDS:
                src = _field_source(data, f)
                if src is None:
                    raise TypeError(f"{what}: missing field {f!r} (need "
                                    f"{', '.join(_CANDLE_FIELDS)})")
                cols[f] = src
        elif isinstance(data, Sequence) or hasattr(data, "__iter__"):
            rows = [_bar_fields(b, _CANDLE_FIELDS, f"{what}[{i}]", need_time=True)
                    for i, b in enumerate(data)]
            cols = {f: [r[k] for r in rows] for k, f in enumerate(_CANDLE_FIELDS)}
        else:
            raise TypeError(f"{what} must be cmee.Candles, a mapping of field sequences or a "
                            f"sequence of candles, not {type(data).__name__}")
        self._pack(cols, what)

    def _pack(self, cols: dict[str, Any], what: str) -> None:
        t = cols["time"]
        tm: Optional[memoryview] = None
        if not isinstance(t, (str, bytes, bytearray)):
            try:
                tm = memoryview(t)
            except TypeError:
                pass
        if tm is None or tm.format != "q" or tm.ndim != 1:
            try:
                tm = memoryview(array("q", t))
            except (TypeError, OverflowError) as e:
                raise TypeError(f"{what}: time must be int milliseconds: {e}") from None
        n = len(tm)
        raw = bytearray(n * ctypes.sizeof(cmee_candle))
        if n:
            memoryview(raw).cast("q")[0::6] = tm
            d = memoryview(raw).cast("d")
            for k, f in enumerate(INPUTS, start=1):
                col = _double_view(cols[f], f"{what}.{f}")
                if len(col) != n:
                    raise _fail(_EINVAL, f"{what}: {f} has {len(col)} values but time has {n}",
                                f)
                d[k::6] = col
        self.n = n
        self.ptr = (cmee_candle * n).from_buffer(raw) if n else None
        self._keep = raw


def _double_view(values: Any, name: str) -> memoryview:
    """A 1-D 'd' memoryview of ``values``: the buffer itself if it is one, else a copy."""
    if isinstance(values, (str, bytes, bytearray)):
        raise TypeError(f"{name} must be a sequence of numbers, not {type(values).__name__}")
    try:
        mv = memoryview(values)
        if mv.format in _DOUBLE_FORMATS and mv.ndim == 1 and mv.c_contiguous:
            return mv if mv.format == "d" else mv.cast("B").cast("d")
    except TypeError:
        pass
    try:
        return memoryview(array("d", values))
    except TypeError as e:
        raise TypeError(f"{name} must be a sequence of numbers: {e}") from None


def _bar_fields(bar: Any, fields: Sequence[str], what: str,
                need: Sequence[str] = (), need_time: bool = False) -> list[Any]:
    """The values of ``fields`` in one bar: a Candle/6-tuple (time, o, h, l, c, v), a 5-tuple
    (o, h, l, c, v), a mapping or an object with attributes. Missing fields are 0, except
    those in ``need``."""
    if isinstance(bar, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a candle, a mapping or a tuple, not "
                        f"{type(bar).__name__}")
    if isinstance(bar, cmee_candle):
        return [getattr(bar, f) for f in fields]
    if isinstance(bar, (tuple, list)) and not hasattr(bar, "_fields"):
        if len(bar) == 6:
            vals = dict(zip(_CANDLE_FIELDS, bar))
        elif len(bar) == 5 and not need_time:
            vals = dict(zip(INPUTS, bar))
        else:
            raise TypeError(f"{what}: a tuple must be (time, open, high, low, close, volume)"
                            + ("" if need_time else " or (open, high, low, close, volume)")
                            + f", got {len(bar)} values")
        return [vals.get(f, 0) for f in fields]
    out = []
    for f in fields:
        v = bar.get(f) if isinstance(bar, Mapping) else getattr(bar, f, None)
        if v is None:
            if need_time or f in need:
                raise TypeError(f"{what}: missing field {f!r}")
            v = 0
        out.append(v)
    return out


# --------------------------------------------------------------------------------------------
# Indicators


@dataclasses.dataclass(frozen=True, repr=False)
class IndicatorInfo:
    """Static description of an indicator (the C ``cmee_ind_info``), read-only.

    ``params`` maps each parameter name to its default (TA-Lib's; an int for whole-number
    parameters), in the C order; ``ranges`` gives the accepted ``(min, max)`` of each and
    ``integer`` the names that must be whole numbers. ``inputs`` are the candle fields the
    indicator reads, ``outputs`` the names of its outputs (the keys of :func:`indicator`'s
    result and the columns of ``cmee ind``).
    """

    id: int                                     #: the C ``cmee_ind_id``
    name: str                                   #: short name, e.g. "macd"
    title: str                                  #: e.g. "Moving Average Convergence/Divergence"
    inputs: tuple[str, ...]                     #: fields read, among :data:`INPUTS`
    params: Mapping[str, Union[int, float]]     #: parameter name -> default
    outputs: tuple[str, ...]                    #: output names, e.g. ("macd", "signal", "hist")
    ranges: Mapping[str, tuple[float, float]]   #: parameter name -> (min, max) accepted
    integer: frozenset[str]                     #: parameters that must be whole numbers

    def __hash__(self) -> int:
        return hash((self.id, self.name))

    def __repr__(self) -> str:
        return (f"IndicatorInfo(name={self.name!r}, title={self.title!r}, "
                f"inputs={self.inputs!r}, params={dict(self.params)!r}, "
                f"outputs={self.outputs!r})")


def _info_from_c(ci: cmee_ind_info) -> IndicatorInfo:
    params: dict[str, Union[int, float]] = {}
    ranges: dict[str, tuple[float, float]] = {}
    integer = set()
    for k in range(ci.nparams):
        name = _text(ci.param_names[k])
        default = ci.param_defaults[k]
        if ci.param_integer[k]:
            integer.add(name)
            default = int(default)
        params[name] = default
        ranges[name] = (ci.param_min[k], ci.param_max[k])
    return IndicatorInfo(
        id=ci.id, name=_text(ci.name), title=_text(ci.title),
        inputs=tuple(f for bit, f in enumerate(INPUTS) if ci.inputs & (1 << bit)),
        params=MappingProxyType(params),
        outputs=tuple(_text(ci.output_names[k]) for k in range(ci.noutputs)),
        ranges=MappingProxyType(ranges), integer=frozenset(integer))


def _load_infos() -> list[IndicatorInfo]:
    out = []
    i = 0
    while True:
        p = lib.cmee_ind_info_get(i)
        if not p:
            return out
        out.append(_info_from_c(p.contents))
        i += 1


_INFOS: list[IndicatorInfo] = _load_infos()
_BY_NAME: dict[str, IndicatorInfo] = {i.name: i for i in _INFOS}


def indicators() -> list[IndicatorInfo]:
    """Every indicator of the library, in its table order (``cmee ind --list``)."""
    return list(_INFOS)


def indicator_info(name: str) -> IndicatorInfo:
    """The description of indicator ``name`` ("sma", ..., "stddev").

    Raises NotFoundError for an unknown name, TypeError if ``name`` is not a str.
    """
    info = _BY_NAME.get(name) if isinstance(name, str) else None
    if info is not None:
        return info
    key = encode(name, "indicator name")
    out = c_ind_id()
    st = lib.cmee_ind_find(key, _c.byref(out))
    if st == 0:  # pragma: no cover - a library newer than this module's table
        p = lib.cmee_ind_info_get(out.value)
        return _info_from_c(p.contents)
    raise _fail(error_class(st), f"unknown indicator {name!r} (known: "
                f"{' '.join(_BY_NAME)})", "name")


def _params(info: IndicatorInfo, params: Mapping[str, Any]) -> Any:
    """The C parameter array for ``params`` (defaults for the others), or None for all
    defaults."""
    if not params:
        return None
    for key in params:
        if key not in info.params:
            expected = (f"expected {' '.join(info.params)}" if info.params
                        else f"{info.name} takes no parameters")
            raise _fail(_EINVAL, f"unknown parameter {key!r} for {info.name} ({expected})",
                        key)
    values = []
    for key, default in info.params.items():
        v = params.get(key, default)
        if not _is_number(v):
            raise TypeError(f"{info.name} parameter {key} must be a number, not "
                            f"{type(v).__name__}")
        try:
            values.append(float(v))
        except OverflowError:
            raise _fail(_EINVAL, f"{key}: {info.name} got {v}, too large", key) from None
    return (_c.c_double * len(values))(*values)


def lookback(name: str, **params: Any) -> int:
    """How many leading outputs of indicator ``name`` are NaN for these parameters.

    Example: ``lookback("macd")`` is 33, ``lookback("sma", period=3)`` is 2. Raises
    NotFoundError (unknown name) and InvalidArgumentError (unknown parameter, value out of
    range, with the library's text).
    """
    info = indicator_info(name)
    p = _params(info, params)
    out = _c.c_size_t()
    err = cmee_error()
    check(lib.cmee_ind_lookback(info.id, p, _c.byref(out), _c.byref(err)), err)
    return out.value


def indicator(name: str, data: Any, **params: Any) -> dict[str, array]:
    """Compute indicator ``name`` over a whole series; returns {output name: array('d')}.

    ``data`` is one of:

    - a :class:`cmee.Candles` (its field buffers are handed to C without copying);
    - a mapping or an object with sequences (any buffer of doubles is used in place, other
      sequences of numbers are converted) for the fields the indicator reads: ``open``,
      ``high``, ``low``, ``close``, ``volume`` (:attr:`IndicatorInfo.inputs`);
    - a plain sequence (list, ``array('d')``, memoryview, ...) of closes, for indicators that
      read only the close.

    ``params`` are the indicator's parameters by name (``period=14``; see :func:`indicators`
    or ``cmee ind --list``); the others keep TA-Lib's defaults. Example::

        out = cmee.indicator("macd", candles, fast=12, slow=26, signal=9)
        out["macd"][-1], out["signal"][-1], out["hist"][-1]

    Each output has one value per bar, aligned with the input, and is **NaN for the first**
    :func:`lookback` **bars** (all of them if the series is shorter). Values follow TA-Lib's
    conventions (docs/signals.md) and equal those of :class:`Stream` and ``cmee ind`` bit for
    bit.

    Raises NotFoundError (unknown name), InvalidArgumentError with the library's text
    (unknown parameter, value out of range, NaN or infinite input naming the element such as
    ``close[17]``, fields of different lengths), TypeError (wrong argument types, a plain
    sequence for an indicator that reads more than the close).
    """
    info = indicator_info(name)
    p = _params(info, params)
    series = cmee_series()
    bufs: list[_Doubles] = []
    if _has_fields(data):
        n = None
        for f in info.inputs:
            src = _field_source(data, f)
            if src is None:
                raise TypeError(f"{name} reads {', '.join(info.inputs)}: data has no {f!r}")
            b = _Doubles(src, f)
            if n is None:
                n = b.n
            elif b.n != n:
                raise _fail(_EINVAL, f"{f}: has {b.n} values but {info.inputs[0]} has {n}", f)
            setattr(series, f, b.address)
            bufs.append(b)
        n = n or 0
    else:
        if info.inputs != ("close",):
            raise TypeError(f"{name} reads {', '.join(info.inputs)}: pass cmee.Candles or a "
                            "mapping of field sequences, not a plain sequence of closes")
        b = _Doubles(data, "data")
        series.close = b.address
        bufs.append(b)
        n = b.n
    series.n = n
    outs = [array("d", [0.0]) * n for _ in info.outputs]
    ptrs = (_c.c_void_p * IND_MAX_OUTPUTS)(*[o.buffer_info()[0] for o in outs])
    err = cmee_error()
    if n == 0:
        # C arrays of zero doubles may be NULL; still validate the parameters.
        check(lib.cmee_ind_lookback(info.id, p, _c.byref(_c.c_size_t()), _c.byref(err)), err)
        return {k: o for k, o in zip(info.outputs, outs)}
    check(lib.cmee_ind_compute(info.id, p, _c.byref(series), ptrs, _c.byref(err)), err)
    return {k: o for k, o in zip(info.outputs, outs)}


class Stream(Owned):
    """An incremental indicator: one bar in, that bar's outputs out (``cmee_ind_stream``).

    Feeding the bars of a series one by one gives exactly (bit for bit) what
    :func:`indicator` gives for that series. Example::

        with cmee.Stream("macd", fast=12, slow=26, signal=9) as s:
            for bar in candles:
                macd, signal, hist = s.update(bar)

    Close it with :meth:`close` or use it as a context manager; garbage collection frees it
    too. One stream may be shared between threads (calls are serialised).
    """

    _free = "cmee_ind_stream_free"

    def __init__(self, name: str, **params: Any):
        """A new stream for indicator ``name`` with ``params`` (others at their defaults).

        Raises NotFoundError, InvalidArgumentError (bad parameter), TypeError, as
        :func:`indicator`.
        """
        self._ptr: Optional[IndStreamPtr] = None
        self.info: IndicatorInfo = indicator_info(name)
        p = _params(self.info, params)
        #: The parameters in effect, defaults included.
        self.params: dict[str, Union[int, float]] = dict(self.info.params)
        self.params.update(params)
        ptr = IndStreamPtr()
        err = cmee_error()
        check(lib.cmee_ind_stream_new(self.info.id, p, None, _c.byref(ptr), _c.byref(err)), err)
        self._ptr = ptr
        self._lock = threading.Lock()
        self._bar = cmee_candle()
        self._bar_addr = _c.addressof(self._bar)
        self._out = (_c.c_double * IND_MAX_OUTPUTS)()
        self._out_addr = _c.addressof(self._out)
        self._k = len(self.info.outputs)
        self._need = self.info.inputs
        self._close_only = self.info.inputs == ("close",)

    @property
    def name(self) -> str:
        """The indicator's short name."""
        return self.info.name

    @property
    def outputs(self) -> tuple[str, ...]:
        """The names of the values :meth:`update` returns, in order."""
        return self.info.outputs

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    def _handle(self) -> IndStreamPtr:
        ptr = self._ptr
        if ptr is None:
            raise _fail(_ESTATE, f"stream {self.info.name}: closed")
        return ptr

    def update(self, bar: Any) -> Union[float, tuple[float, ...]]:
        """Feed the next bar; returns its output (a float) or outputs (a tuple of floats).

        ``bar`` is a :class:`cmee.Candle` or any (time, open, high, low, close, volume)
        tuple, an (open, high, low, close, volume) tuple, a mapping or object with those
        fields (only the fields the indicator reads are required), or a number: the close,
        for indicators that read only the close. Values are NaN inside the lookback.

        Raises InvalidArgumentError for a NaN or infinite value among the fields the indicator
        reads (the stream is left unchanged), StateError once closed, TypeError for other
        types.
        """
        tb = type(bar)
        if tb is Candle:
            vals: Any = bar[1:]
        elif tb is float or tb is int or _is_number(bar):
            if not self._close_only:
                raise TypeError(f"{self.info.name} reads {', '.join(self._need)}: a bare "
                                "number (a close) is not enough")
            vals = (0.0, 0.0, 0.0, bar, 0.0)
        elif isinstance(bar, cmee_candle):
            vals = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        else:
            vals = _bar_fields(bar, INPUTS, "bar", need=self._need)
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise _fail(_ESTATE, f"stream {self.info.name}: closed")
            b = self._bar
            try:
                b.open, b.high, b.low, b.close, b.volume = vals
            except TypeError:
                bad = next(f for f, v in zip(INPUTS, vals) if not _is_number(v))
                raise TypeError(f"bar.{bad} must be a number, not "
                                f"{type(vals[INPUTS.index(bad)]).__name__}") from None
            st = _stream_update(ptr.value, self._bar_addr, self._out_addr)
            out = self._out[0] if self._k == 1 else tuple(self._out[:self._k])
        if st:
            bad = [f for f, v in zip(INPUTS, vals) if f in self._need and not math.isfinite(v)]
            got = ", ".join(f"{f}={vals[INPUTS.index(f)]!r}" for f in bad)
            check(st, f"bar: {self.info.name} needs finite {', '.join(self._need)}"
                  + (f", got {got}" if got else ""))
        return out

    def reset(self) -> None:
        """Forget every bar fed so far, as if just created. Raises StateError once closed."""
        with self._lock:
            lib.cmee_ind_stream_reset(self._handle())

    def close(self) -> None:
        """Free the C stream. Idempotent; later updates raise :class:`cmee.StateError`."""
        ptr = self._ptr
        if ptr is None:
            return
        with self._lock:
            if self._ptr is None:
                return
            self._ptr = None
            lib.cmee_ind_stream_free(ptr)

    def __repr__(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params.items())
        state = " closed" if self._ptr is None else ""
        return f"<cmee.Stream {self.info.name}{' ' + args if args else ''}{state}>"


# --------------------------------------------------------------------------------------------
# Signals


def _c_signal_defaults() -> cmee_signal_config:
    c = cmee_signal_config()
    lib.cmee_signal_config_init(_c.byref(c))
    return c


def _c_binary_defaults() -> cmee_binary_config:
    c = cmee_binary_config()
    lib.cmee_binary_config_init(_c.byref(c))
    return c


def _c_eval_defaults() -> cmee_eval_config:
    c = cmee_eval_config()
    lib.cmee_eval_config_init(_c.byref(c))
    return c


_SD = _c_signal_defaults()
_BD = _c_binary_defaults()
_ED = _c_eval_defaults()
_SIGNAL_SCALARS = tuple(name for name, _ in cmee_signal_config._fields_ if name != "weight")


def _weights_from_c(w: Any) -> dict[str, float]:
    return {r: w[i] for i, r in enumerate(RULES)}


def _full_weights(w: Any) -> dict[str, float]:
    """Every rule's weight from a mapping (missing rules at their default) or a sequence of
    RULE_COUNT weights in rule order."""
    if isinstance(w, Mapping):
        for k in w:
            if k not in _RULE_VALUE:
                raise _fail(_EINVAL, f"weight: unknown rule {k!r} (rules: {' '.join(RULES)})",
                            "weight")
        return {r: w.get(r, _SD.weight[i]) for i, r in enumerate(RULES)}
    if isinstance(w, Sequence) and not isinstance(w, (str, bytes)):
        if len(w) != RULE_COUNT:
            raise _fail(_EINVAL, f"weight: need {RULE_COUNT} weights in rule order "
                        f"({' '.join(RULES)}), got {len(w)}", "weight")
        return dict(zip(RULES, w))
    raise TypeError(f"weight must be a mapping rule -> weight, not {type(w).__name__}")


@dataclasses.dataclass
class SignalConfig:
    """Weights and thresholds of the consensus rules (the C ``cmee_signal_config``).

    Defaults come from the library (``cmee_signal_config_init``). ``weight`` maps rule names
    (:data:`RULES`) to weights >= 0; a rule with weight 0 is skipped, a rule missing from the
    mapping gets its default weight (1); a sequence of seven weights in rule order works too.
    Settings are checked by the library when used: a bad one raises InvalidArgumentError
    naming the field. Example: trend rules only::

        cfg = cmee.SignalConfig(weight={"rsi": 0, "bbands": 0, "squeeze": 0, "stoch": 0})
    """

    weight: dict[str, float] = dataclasses.field(
        default_factory=lambda: _weights_from_c(_SD.weight))  #: rule name -> weight >= 0
    rsi_period: int = _SD.rsi_period                #: RSI period
    rsi_overbought: float = _SD.rsi_overbought      #: RSI above this votes sell
    rsi_oversold: float = _SD.rsi_oversold          #: RSI below this votes buy
    macd_fast: int = _SD.macd_fast                  #: MACD fast EMA (< macd_slow)
    macd_slow: int = _SD.macd_slow                  #: MACD slow EMA
    macd_signal: int = _SD.macd_signal              #: MACD signal line period
    ma_fast: int = _SD.ma_fast                      #: fast EMA of the MA cross (< ma_slow)
    ma_slow: int = _SD.ma_slow                      #: slow EMA of the MA cross
    bb_period: int = _SD.bb_period                  #: Bollinger period
    bb_k: float = _SD.bb_k                          #: Bollinger width in standard deviations
    squeeze_quantile: float = _SD.squeeze_quantile  #: squeeze: bandwidth at/below this quantile
    stoch_k: int = _SD.stoch_k                      #: stochastic %K period
    stoch_slowk: int = _SD.stoch_slowk              #: slow %K smoothing
    stoch_slowd: int = _SD.stoch_slowd              #: %D smoothing
    stoch_overbought: float = _SD.stoch_overbought  #: stochastic overbought zone
    stoch_oversold: float = _SD.stoch_oversold      #: stochastic oversold zone
    adx_period: int = _SD.adx_period                #: ADX period
    adx_trend: float = _SD.adx_trend                #: ADX level that means a trend
    cross_bars: int = _SD.cross_bars                #: a cross within this many bars counts
    threshold: float = _SD.threshold                #: |score| needed for BUY / SELL

    def __post_init__(self) -> None:
        self.weight = _full_weights(self.weight)

    def _to_c(self, out: Optional[cmee_signal_config] = None) -> cmee_signal_config:
        c = out if out is not None else cmee_signal_config()
        w = _full_weights(self.weight)
        for i, v in enumerate(w.values()):
            c.weight[i] = _as_float(f"weight[{RULES[i]!r}]", v)
        for name in _SIGNAL_SCALARS:
            v = getattr(self, name)
            if isinstance(getattr(_SD, name), int):
                setattr(c, name, _as_int(name, v))
            else:
                setattr(c, name, _as_float(name, v))
        return c

    @classmethod
    def _from_c(cls, c: cmee_signal_config) -> "SignalConfig":
        return cls(weight=_weights_from_c(c.weight),
                   **{name: getattr(c, name) for name in _SIGNAL_SCALARS})


@dataclasses.dataclass(frozen=True)
class Reason:
    """One rule's contribution to a signal (the C ``cmee_signal_reason``)."""

    rule: str       #: the rule's name, one of :data:`RULES`
    vote: float     #: in [-1, 1]: + buy, - sell, 0 no opinion (the squeeze never votes)
    weight: float   #: the rule's weight
    text: str       #: what it saw, e.g. "RSI(14) 27.4 below 30: oversold"


@dataclasses.dataclass(frozen=True)
class Signal:
    """A consensus signal at one bar (the C ``cmee_signal``)."""

    direction: str      #: "BUY" (score >= threshold), "SELL" (<= -threshold) or "NEUTRAL"
    score: float        #: weighted mean vote of the rules that could vote, in [-1, 1]
    strength: float     #: abs(score), in [0, 1]
    index: int          #: the bar it was computed at
    time: int           #: that bar's time (ms)
    reasons: tuple[Reason, ...]  #: the rules that had something to say, in RULES order


def _signal_from_c(s: cmee_signal) -> Signal:
    reasons = tuple(Reason(rule=RULES[r.rule] if 0 <= r.rule < RULE_COUNT else str(r.rule),
                           vote=r.vote, weight=r.weight, text=_text(r.text))
                    for r in s.reasons[:s.nreasons])
    return Signal(direction=DIRECTIONS.get(s.direction, str(s.direction)), score=s.score,
                  strength=s.strength, index=s.index, time=s.time, reasons=reasons)


def _signal_to_c(sig: Signal) -> cmee_signal:
    if not isinstance(sig, Signal):
        raise TypeError(f"signal must be a cmee.Signal, not {type(sig).__name__}")
    if sig.direction not in _DIR_VALUE:
        raise _fail(_EINVAL, f"direction: must be one of {' '.join(_DIR_VALUE)}, got "
                    f"{sig.direction!r}", "direction")
    c = cmee_signal()
    c.direction = _DIR_VALUE[sig.direction]
    c.score = _as_float("score", sig.score)
    c.strength = _as_float("strength", sig.strength)
    c.index = _as_int("index", sig.index, 0, _SIZE_MAX)
    c.time = _as_int("time", sig.time, _INT64_MIN, _INT64_MAX)
    reasons = list(sig.reasons)[:RULE_COUNT]
    c.nreasons = len(reasons)
    for i, r in enumerate(reasons):
        c.reasons[i].rule = _RULE_VALUE.get(r.rule, -1)
        c.reasons[i].vote = r.vote
        c.reasons[i].weight = r.weight
        c.reasons[i].text = r.text.encode("utf-8")[:111]
    return c


def _config_ptr(config: Optional[SignalConfig]) -> Any:
    if config is None:
        return None
    if not isinstance(config, SignalConfig):
        raise TypeError(f"config must be a cmee.SignalConfig, not {type(config).__name__}")
    return _c.byref(config._to_c())


def signal(candles: Any, config: Optional[SignalConfig] = None) -> Signal:
    """The consensus signal at the last candle.

    ``candles`` is a :class:`cmee.Candles` (handed to C without copying), a mapping or object
    with sequences ``time``, ``open``, ``high``, ``low``, ``close``, ``volume``, or a sequence
    of candles (:class:`cmee.Candle` or 6-tuples). ``config`` defaults to
    :class:`SignalConfig`'s defaults. Rules whose indicators are still in their lookback
    abstain. Example::

        s = cmee.signal(candles)
        print(s.direction, round(s.strength, 2))
        for r in s.reasons:
            print(f"  {r.rule} {r.vote:+.2f}: {r.text}")

    Raises InvalidArgumentError (no candles, a bad setting or non-finite candle, named),
    TypeError.
    """
    arr = _CandleArray(candles)
    cfg = _config_ptr(config)
    out = cmee_signal()
    err = cmee_error()
    check(lib.cmee_signal_compute(arr.ptr, arr.n, cfg, _c.byref(out), _c.byref(err)), err)
    return _signal_from_c(out)


class SignalContext(Owned, Sequence[Signal]):
    """The indicators of a whole candle series, computed once (``cmee_signal_ctx``).

    ``ctx.at(i)`` (or ``ctx[i]``; negative indices count from the end) is the consensus
    signal at bar ``i`` computed from bars 0..i only, so a history can be replayed without
    look-ahead; ``len(ctx)`` is the number of candles; iterating yields every bar's signal.
    Close it with :meth:`close` or use it as a context manager. Threads may share one.
    """

    _free = "cmee_signal_ctx_free"

    def __init__(self, candles: Any, config: Optional[SignalConfig] = None):
        """Compute the indicators the rules need over ``candles`` (as for :func:`signal`;
        the candles are copied). An empty series gives an empty context.

        Raises InvalidArgumentError (a bad setting or non-finite candle, named), TypeError.
        """
        self._ptr: Optional[SignalCtxPtr] = None
        arr = _CandleArray(candles)
        cfg = _config_ptr(config)
        ptr = SignalCtxPtr()
        err = cmee_error()
        check(lib.cmee_signal_ctx_new(arr.ptr, arr.n, cfg, None, _c.byref(ptr),
                                      _c.byref(err)), err)
        self._ptr = ptr
        self._n = lib.cmee_signal_ctx_size(ptr)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def at(self, index: int) -> Signal:
        """The signal at bar ``index`` (negative counts from the end).

        Raises IndexError out of range, StateError once closed, TypeError.
        """
        i = _as_int("index", index, -_SIZE_MAX, _SIZE_MAX)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"SignalContext index {index} out of range for {self._n} bars")
        out = cmee_signal()
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise _fail(_ESTATE, "signal context: closed")
            st = lib.cmee_signal_ctx_at(ptr, i, _c.byref(out))
        check(st)
        return _signal_from_c(out)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.at(i) for i in range(*index.indices(self._n))]
        return self.at(index)

    def __iter__(self) -> Iterator[Signal]:
        return (self.at(i) for i in range(self._n))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    def close(self) -> None:
        """Free the C context. Idempotent; later calls raise :class:`cmee.StateError`."""
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is not None:
                lib.cmee_signal_ctx_free(ptr)

    def __repr__(self) -> str:
        state = " closed" if self._ptr is None else ""
        return f"<cmee.SignalContext {self._n} bars{state}>"


# --------------------------------------------------------------------------------------------
# Binary signals


@dataclasses.dataclass
class BinaryConfig:
    """How a consensus becomes a binary signal (the C ``cmee_binary_config``).

    Defaults from ``cmee_binary_config_init``. Checked when used: min_strength in [0, 1],
    expiry_bars >= 1, expiry_ms >= 0.
    """

    min_strength: float = _BD.min_strength  #: consensus strength needed for CALL / PUT
    expiry_bars: int = _BD.expiry_bars      #: expiry in bars of the series' timeframe
    expiry_ms: int = _BD.expiry_ms          #: if > 0, the expiry in ms instead of expiry_bars

    def _to_c(self, out: Optional[cmee_binary_config] = None) -> cmee_binary_config:
        c = out if out is not None else cmee_binary_config()
        c.min_strength = _as_float("min_strength", self.min_strength)
        c.expiry_bars = _as_int("expiry_bars", self.expiry_bars)
        c.expiry_ms = _as_int("expiry_ms", self.expiry_ms, _INT64_MIN, _INT64_MAX)
        return c

    @classmethod
    def _from_c(cls, c: cmee_binary_config) -> "BinaryConfig":
        return cls(min_strength=c.min_strength, expiry_bars=c.expiry_bars,
                   expiry_ms=c.expiry_ms)


@dataclasses.dataclass(frozen=True)
class BinarySignal:
    """A binary-option signal (the C ``cmee_binary_signal``)."""

    direction: str      #: "CALL" (for BUY), "PUT" (for SELL) when strong enough, else "NONE"
    confidence: float   #: 0.5 + strength / 2 for CALL / PUT, in [0.5, 1]; 0 for NONE
    expiry_ms: int      #: time from the signal to expiry
    time: int           #: time of the bar it was computed at
    expiry_time: int    #: time + expiry_ms


def _timeframe_ms(timeframe: Any, what: str = "timeframe") -> int:
    """A bar length in ms from an int (ms), a timeframe name ("1h") or None (0)."""
    if timeframe is None:
        return 0
    if isinstance(timeframe, str):
        tf = _c.c_int()
        if "\0" not in timeframe and lib.cmee_timeframe_parse(
                timeframe.encode("utf-8", "replace"), _c.byref(tf)) == 0:
            return lib.cmee_timeframe_ms(tf.value)
        raise _fail(_EINVAL, f"{what}: must be 1m 5m 15m 1h 4h 1d or int ms, got "
                    f"{timeframe!r}", what)
    return _as_int(f"{what} (ms)", timeframe, _INT64_MIN, _INT64_MAX)


def binary(signal: Signal, timeframe: Union[str, int, None],
           config: Optional[BinaryConfig] = None) -> BinarySignal:
    """Turn a consensus :class:`Signal` into a CALL / PUT / NONE :class:`BinarySignal`.

    CALL when the direction is BUY and the strength is at least ``config.min_strength``
    (0.3 by default), PUT likewise for SELL, else NONE. ``timeframe`` is the bar length: a
    name ("1h") or int milliseconds (3_600_000); it sets the expiry of ``expiry_bars`` bars
    and may be None when ``config.expiry_ms`` is set. Example::

        b = cmee.binary(cmee.signal(candles), candles.timeframe)

    Raises InvalidArgumentError (a bad setting, a timeframe <= 0 when used, an expiry that
    overflows), TypeError.
    """
    cs = _signal_to_c(signal)
    if config is None:
        config = BinaryConfig()
    elif not isinstance(config, BinaryConfig):
        raise TypeError(f"config must be a cmee.BinaryConfig, not {type(config).__name__}")
    cfg = config._to_c()
    tf = _timeframe_ms(timeframe)
    out = cmee_binary_signal()
    st = lib.cmee_binary_from_signal(_c.byref(cs), _c.byref(cfg), tf, _c.byref(out))
    if st:
        problems = []
        if not 0 <= cfg.min_strength <= 1:
            problems.append(f"min_strength must be in [0, 1], got {cfg.min_strength}")
        if cfg.expiry_ms < 0:
            problems.append(f"expiry_ms must be >= 0, got {cfg.expiry_ms}")
        if cfg.expiry_ms == 0 and cfg.expiry_bars < 1:
            problems.append(f"expiry_bars must be >= 1, got {cfg.expiry_bars}")
        if cfg.expiry_ms == 0 and tf <= 0:
            problems.append(f"timeframe must be > 0 when expiry_bars is used, got {tf}")
        check(st, "binary: " + ("; ".join(problems) or "the expiry overflows"))
    return BinarySignal(direction=BINARY_DIRECTIONS.get(out.direction, str(out.direction)),
                        confidence=out.confidence, expiry_ms=out.expiry_ms, time=out.time,
                        expiry_time=out.expiry_time)


# --------------------------------------------------------------------------------------------
# Analysis


def _opt(v: float) -> Optional[float]:
    return None if math.isnan(v) else v


@dataclasses.dataclass(frozen=True)
class Analysis:
    """Trend, volatility and support/resistance at the last bar (the C ``cmee_analysis``).

    ``support`` and ``resistance`` are None where the C struct has NaN (no swing point on
    that side); ``swing_highs`` / ``swing_lows`` hold the swing points kept (at most 8 each,
    most recent first).
    """

    n: int                  #: candles analysed
    time: int               #: time of the last candle
    close: float            #: its close
    trend: int              #: +1 up, -1 down, 0 sideways
    trend_strength: float   #: in [0, 1]; 0 when sideways
    adx: float              #: ADX(14) at the last bar
    plus_di: float          #: +DI(14)
    minus_di: float         #: -DI(14)
    slope_pct: float        #: least-squares slope of log close, last 50 bars, % per bar
    r2: float               #: R^2 of that regression
    atr: float              #: ATR(14)
    atr_pct: float          #: ATR / close * 100
    realized_vol: float     #: annualised volatility of the last 50 log returns
    vol_percentile: float   #: rank of that volatility among all 50-bar windows, 0..100
    pivot: float            #: classic floor pivot of the previous bar
    r1: float               #: resistance 1
    r2_level: float         #: resistance 2 (``r2`` is the regression's R^2)
    r3: float               #: resistance 3
    s1: float               #: support 1
    s2: float               #: support 2
    s3: float               #: support 3
    fib_r1: float           #: Fibonacci pivot resistance 1
    fib_r2: float           #: Fibonacci pivot resistance 2
    fib_r3: float           #: Fibonacci pivot resistance 3
    fib_s1: float           #: Fibonacci pivot support 1
    fib_s2: float           #: Fibonacci pivot support 2
    fib_s3: float           #: Fibonacci pivot support 3
    support: Optional[float]      #: nearest swing low below the close, or None
    resistance: Optional[float]   #: nearest swing high above the close, or None
    swing_highs: tuple[float, ...]  #: highs above the 2 bars on each side, most recent first
    swing_lows: tuple[float, ...]   #: lows below the 2 bars on each side, most recent first


def analyze(candles: Any, timeframe: Union[str, int, None] = None) -> Analysis:
    """Analyse ``candles`` (as for :func:`signal`; at least 60) at the last bar.

    ``timeframe`` is the bar length used to annualise volatility: a name ("1h"), int
    milliseconds, or None: the timeframe of a :class:`cmee.Candles`, else inferred from the
    times (their median step). Raises InvalidArgumentError (fewer than 60 candles,
    non-finite values, a close <= 0, times not increasing; named), TypeError.
    """
    if timeframe is None and isinstance(candles, Candles):
        timeframe = candles.timeframe
    tf = _timeframe_ms(timeframe)
    arr = _CandleArray(candles)
    out = cmee_analysis()
    err = cmee_error()
    check(lib.cmee_analyze(arr.ptr, arr.n, tf, _c.byref(out), _c.byref(err)), err)
    values: dict[str, Any] = {name: getattr(out, name) for name in _ANALYSIS_DOUBLES}
    values["support"] = _opt(out.support)
    values["resistance"] = _opt(out.resistance)
    return Analysis(n=out.n, time=out.time, close=out.close, trend=out.trend,
                    swing_highs=tuple(out.swing_highs[:min(out.nswing_highs, SWING_MAX)]),
                    swing_lows=tuple(out.swing_lows[:min(out.nswing_lows, SWING_MAX)]),
                    **values)


# --------------------------------------------------------------------------------------------
# Evaluation


@dataclasses.dataclass
class EvalConfig:
    """Settings of an evaluation (the C ``cmee_eval_config``); defaults from
    ``cmee_eval_config_init``. ``binary.expiry_bars`` sets the expiry (``expiry_ms`` is
    ignored: trades settle a whole number of bars later)."""

    signal: SignalConfig = dataclasses.field(
        default_factory=lambda: SignalConfig._from_c(_ED.signal))  #: the consensus rules
    binary: BinaryConfig = dataclasses.field(
        default_factory=lambda: BinaryConfig._from_c(_ED.binary))  #: conversion to CALL / PUT
    payout: float = _ED.payout      #: a winning option returns stake x payout
    warmup: int = _ED.warmup        #: bars skipped at the start

    def _to_c(self) -> cmee_eval_config:
        c = cmee_eval_config()
        if not isinstance(self.signal, SignalConfig):
            raise TypeError(f"signal must be a cmee.SignalConfig, not "
                            f"{type(self.signal).__name__}")
        if not isinstance(self.binary, BinaryConfig):
            raise TypeError(f"binary must be a cmee.BinaryConfig, not "
                            f"{type(self.binary).__name__}")
        self.signal._to_c(c.signal)
        self.binary._to_c(c.binary)
        c.payout = _as_float("payout", self.payout)
        c.warmup = _as_int("warmup", self.warmup, 0, _SIZE_MAX)
        return c


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """What an evaluation found (the C ``cmee_eval_result``).

    ``hit_rate``, ``ci_low``, ``ci_high`` are None when no trade was decided (all ties or no
    trade); ``expectancy`` is NaN with no trade.
    """

    trades: int                 #: CALL / PUT signals taken (one open at a time)
    calls: int                  #: of which CALL
    puts: int                   #: of which PUT
    wins: int                   #: outcomes at expiry: won
    losses: int                 #: lost
    ties: int                   #: unchanged price (the stake is returned)
    hit_rate: Optional[float]   #: wins / (wins + losses)
    ci_low: Optional[float]     #: Wilson 95 % interval of the hit rate, low end
    ci_high: Optional[float]    #: high end
    expectancy: float           #: mean profit per unit stake: (wins x payout - losses) / trades
    breakeven: float            #: hit rate at which expectancy is 0: 1 / (1 + payout)


def evaluate(candles: Any, config: Optional[EvalConfig] = None) -> EvalResult:
    """Replay ``candles`` (as for :func:`signal`) bar by bar and score the binary signals.

    At each bar after the warmup where no option is open, take the binary signal (from bars
    up to that one only), enter at its close and settle at the close ``expiry_bars`` later:
    a win if the price moved the signal's way, a tie if unchanged. Trades never overlap.
    Example::

        r = cmee.evaluate(candles)
        print(r.trades, r.hit_rate, (r.ci_low, r.ci_high), r.expectancy)

    Raises InvalidArgumentError (bad settings, non-finite candles), TypeError.
    """
    if config is None:
        config = EvalConfig()
    elif not isinstance(config, EvalConfig):
        raise TypeError(f"config must be a cmee.EvalConfig, not {type(config).__name__}")
    cfg = config._to_c()
    arr = _CandleArray(candles)
    out = cmee_eval_result()
    err = cmee_error()
    check(lib.cmee_evaluate(arr.ptr, arr.n, _c.byref(cfg), _c.byref(out), _c.byref(err)), err)
    return EvalResult(trades=out.trades, calls=out.calls, puts=out.puts, wins=out.wins,
                      losses=out.losses, ties=out.ties, hit_rate=_opt(out.hit_rate),
                      ci_low=_opt(out.ci_low), ci_high=_opt(out.ci_high),
                      expectancy=out.expectancy, breakeven=out.breakeven)
