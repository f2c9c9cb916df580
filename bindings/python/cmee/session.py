# SPDX-License-Identifier: GPL-3.0-or-later
"""Sessions: one user's simulation — a clock, a market view and a paper-trading account.

The Python face of ``include/cmee/session.h`` (docs/sessions.md has the rules: fill models,
fees, margin, the option win/loss/tie rule, persistence and the clock)::

    import cmee

    with cmee.Session(seed=7, manual_clock=True, balance=10_000) as s:
        q = s.quote("BTCUSD")                      # Quote(symbol, time, price, bid, ask, halted)
        o = s.buy("BTCUSD", 0.01, stop_loss=q.bid * 0.95)   # walks the book's asks
        s.call("EURUSD", stake="25", duration=300_000)       # a 5-minute binary CALL
        s.step(3_600_000)                          # an hour of sim time: fills, settlements
        print(s.account().balance, sum(e.amount for e in s.ledger()))   # equal, exactly

**Money** is exact. The library counts money in int64 units of 1e-8 (``CMEE_MONEY_SCALE``);
here every amount is a :class:`decimal.Decimal` of currency units, converted exactly both
ways (``Decimal("10000")``, ``Decimal("0.9350935")``: no trailing zeros). Amounts you pass
(``balance``, ``stake``) may be an int, a Decimal or a str such as ``"25.5"``; more than 8
decimal places is an InvalidArgumentError. **Floats are refused** (TypeError): ``0.1`` is not 1/10 in binary, and
a float amount would put an error in an exact ledger without a trace. Prices and quantities
are floats, as in the library.

**Times** are int milliseconds since the Unix epoch (UTC) or datetimes (naive = UTC);
durations are int milliseconds or timedeltas.

**Errors.** A refused operation raises the :class:`cmee.Error` subclass of its status with the
library's message and changes nothing: insufficient funds is :class:`cmee.NoSpaceError`
(ENOSPACE), a halted market :class:`cmee.StateError` (ESTATE), an unknown symbol
:class:`cmee.NotFoundError`, a bad field :class:`cmee.InvalidArgumentError`.

**Threads.** A session is used by one thread at a time (the C rule); the bindings serialise
calls with a lock, so several threads may share a Session object. Sessions sharing a
:class:`cmee.Store` are also serialised on the store.

**Callbacks** (:meth:`Session.on_event`, :meth:`Session.set_wall_clock`) run inside the call
that triggers them, on its thread. An exception raised in one never reaches the C library: it
is kept and re-raised when that call returns (the call's own change is committed by then; the
exception carries a note saying so). A callback must not call its own session (that raises
StateError inside the callback), nor a session on the same store.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as _dt
import decimal
import json
import operator
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple, Optional, Union

from ._errors import Error, check, error_class
from ._lib import (CURRENCY_MAX, MONEY_SCALE, SESSION_CLASSES, SESSION_ID_MAX,
                   SESSION_LABEL_MAX, SESSION_MAX_SYMBOLS, SYMBOL_MAX, MarketPtr, Owned, ScenarioPtr, SessionPtr,
                   c_status, c_timeframe, cmee_account, cmee_candle, cmee_clock, cmee_error,
                   cmee_ledger_entry, cmee_option, cmee_option_request, cmee_order,
                   cmee_order_request, cmee_position, cmee_quote, cmee_session_config,
                   cmee_replay_result, cmee_session_action, cmee_session_event,
                   cmee_symbol_spec, declare, encode, lib)
from .market import (MAX_QUERY, Candles, Symbol, _alloc, _number, _symbol_from_spec, _timeframe,
                     to_ms)
from .scenario import Scenario
from .store import Store

__all__ = [
    "Session", "SessionConfig", "Impact", "SessionMarket", "Clock", "Quote", "Order", "Position",
    "Option", "LedgerEntry", "Account", "Event", "Report", "sessions", "delete_session",
    "MONEY_SCALE", "EVENT_KINDS", "Action", "ReplayCheck", "ACTION_KINDS",
]

_c = ctypes
_P = ctypes.POINTER
_EINVAL = error_class(1)
_ENOTFOUND = error_class(3)
_ENOSPACE = error_class(5)
_ESTATE = error_class(7)
_UINT64_MAX = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MS = _dt.timedelta(milliseconds=1)
_CANDLE_SIZE = ctypes.sizeof(cmee_candle)

_WallFn = ctypes.CFUNCTYPE(_c.c_int64, _c.c_void_p)
_ListenerFn = ctypes.CFUNCTYPE(None, _c.c_void_p, _P(cmee_session_event))
_NO_WALL = _WallFn()          # NULL function pointers
_NO_LISTENER = _ListenerFn()

# --------------------------------------------------------------------------------------------
# C declarations. A session's store may be NULL, so it goes as an address; so does the
# scenario pointer inside the config.

_config_init = declare("cmee_session_config_init", None, _P(cmee_session_config))
_new = declare("cmee_session_new", c_status, _P(cmee_session_config), _c.c_void_p, _c.c_void_p,
               _P(SessionPtr), _P(cmee_error))
_load = declare("cmee_session_load", c_status, _c.c_void_p, _c.c_char_p, _c.c_void_p,
                _P(SessionPtr), _P(cmee_error))
declare("cmee_session_free", None, SessionPtr)
_errmsg = declare("cmee_session_errmsg", _c.c_char_p, SessionPtr)
_id = declare("cmee_session_id", _c.c_char_p, SessionPtr)
_config_get = declare("cmee_session_config_get", c_status, SessionPtr, _P(cmee_session_config))
_market = declare("cmee_session_market", _c.c_void_p, SessionPtr)
_clock = declare("cmee_session_clock", c_status, SessionPtr, _P(cmee_clock))
_advance = declare("cmee_session_advance", c_status, SessionPtr, _P(_c.c_int64))
_pause = declare("cmee_session_pause", c_status, SessionPtr)
_resume = declare("cmee_session_resume", c_status, SessionPtr)
_set_speed = declare("cmee_session_set_speed", c_status, SessionPtr, _c.c_double)
_step = declare("cmee_session_step", c_status, SessionPtr, _c.c_int64)
_seek = declare("cmee_session_seek", c_status, SessionPtr, _c.c_int64)
_set_wall_clock = declare("cmee_session_set_wall_clock", None, SessionPtr, _WallFn, _c.c_void_p)
_quote = declare("cmee_session_quote", c_status, SessionPtr, _c.c_char_p, _P(cmee_quote))
_candles = declare("cmee_session_candles", c_status, SessionPtr, _c.c_char_p, c_timeframe,
                   _c.c_size_t, _c.c_void_p, _c.c_size_t, _P(_c.c_size_t))
_apply = declare("cmee_session_apply_scenario", c_status, SessionPtr, ScenarioPtr,
                 _P(_c.c_uint32))
_cancel_scenario = declare("cmee_session_cancel_scenario", c_status, SessionPtr, _c.c_uint32)
_order_init = declare("cmee_order_request_init", None, _P(cmee_order_request), _c.c_char_p)
_option_init = declare("cmee_option_request_init", None, _P(cmee_option_request), _c.c_char_p)
_order = declare("cmee_session_order", c_status, SessionPtr, _P(cmee_order_request),
                 _P(cmee_order))
_cancel_order = declare("cmee_session_cancel_order", c_status, SessionPtr, _c.c_uint64)
_protect = declare("cmee_session_protect", c_status, SessionPtr, _c.c_char_p, _c.c_double,
                   _c.c_double)
_close_position = declare("cmee_session_close_position", c_status, SessionPtr, _c.c_char_p,
                          _P(cmee_order))
_option = declare("cmee_session_option", c_status, SessionPtr, _P(cmee_option_request),
                  _P(cmee_option))
_account = declare("cmee_session_account", c_status, SessionPtr, _P(cmee_account))
_positions = declare("cmee_session_positions", c_status, SessionPtr, _P(cmee_position),
                     _c.c_size_t, _P(_c.c_size_t))
_orders = declare("cmee_session_orders", c_status, SessionPtr, _c.c_bool, _P(cmee_order),
                  _c.c_size_t, _P(_c.c_size_t))
_options = declare("cmee_session_options", c_status, SessionPtr, _c.c_bool, _P(cmee_option),
                   _c.c_size_t, _P(_c.c_size_t))
_ledger = declare("cmee_session_ledger", c_status, SessionPtr, _c.c_uint64,
                  _P(cmee_ledger_entry), _c.c_size_t, _P(_c.c_size_t))
_kind_name = declare("cmee_session_event_kind_name", _c.c_char_p, _c.c_int)
_action_kind_name = declare("cmee_action_kind_name", _c.c_char_p, _c.c_int)
_actions = declare("cmee_session_actions", c_status, SessionPtr, _c.c_uint64,
                   _P(cmee_session_action), _c.c_size_t, _P(_c.c_size_t))
_replayable = declare("cmee_session_replayable", _c.c_bool, SessionPtr)
_replay = declare("cmee_session_replay", c_status, SessionPtr, _c.c_void_p, _P(SessionPtr),
                  _P(cmee_error))
_compare = declare("cmee_session_compare", c_status, SessionPtr, SessionPtr,
                   _P(cmee_replay_result))
_replay_check = declare("cmee_session_replay_check", c_status, SessionPtr,
                        _P(cmee_replay_result))
_reset = declare("cmee_session_reset", c_status, SessionPtr)
_epoch = declare("cmee_session_epoch", _c.c_uint64, SessionPtr)
_epoch_orders = declare("cmee_session_epoch_orders", c_status, SessionPtr, _c.c_uint64,
                        _P(cmee_order), _c.c_size_t, _P(_c.c_size_t))
_epoch_options = declare("cmee_session_epoch_options", c_status, SessionPtr, _c.c_uint64,
                         _P(cmee_option), _c.c_size_t, _P(_c.c_size_t))
_epoch_ledger = declare("cmee_session_epoch_ledger", c_status, SessionPtr, _c.c_uint64,
                        _P(cmee_ledger_entry), _c.c_size_t, _P(_c.c_size_t))
_epoch_actions = declare("cmee_session_epoch_actions", c_status, SessionPtr, _c.c_uint64,
                         _P(cmee_session_action), _c.c_size_t, _P(_c.c_size_t))
_impact = declare("cmee_session_impact", c_status, SessionPtr, _c.c_char_p, _c.c_int64,
                  _P(_c.c_double))


class cmee_report_config(ctypes.Structure):
    """``cmee_report_config`` (include/cmee/report.h)."""

    _fields_ = [
        ("sample_ms", _c.c_int64),
        ("max_samples", _c.c_size_t),
        ("advance", _c.c_bool),
    ]


class cmee_report(ctypes.Structure):
    """``cmee_report``: a session's results (include/cmee/report.h)."""

    _fields_ = [
        ("session", _c.c_char * SESSION_ID_MAX),
        ("currency", _c.c_char * CURRENCY_MAX),
        ("start", _c.c_int64),
        ("end", _c.c_int64),
        ("initial_balance", _c.c_int64),
        ("final_equity", _c.c_int64),
        ("pnl", _c.c_int64),
        ("ret", _c.c_double),
        ("fees", _c.c_int64),
        ("max_drawdown", _c.c_int64),
        ("max_drawdown_pct", _c.c_double),
        ("sharpe", _c.c_double),
        ("sortino", _c.c_double),
        ("sample_ms", _c.c_int64),
        ("samples", _c.c_size_t),
        ("fills", _c.c_size_t),
        ("trades", _c.c_size_t),
        ("trades_won", _c.c_size_t),
        ("options", _c.c_size_t),
        ("options_won", _c.c_size_t),
        ("options_lost", _c.c_size_t),
        ("options_tied", _c.c_size_t),
        ("win_rate", _c.c_double),
        ("win_rate_low", _c.c_double),
        ("win_rate_high", _c.c_double),
        ("best_trade", _c.c_int64),
        ("worst_trade", _c.c_int64),
        ("best_ref", _c.c_uint64),
        ("worst_ref", _c.c_uint64),
        ("exposure", _c.c_double),
    ]


_report_config_init = declare("cmee_report_config_init", None, _P(cmee_report_config))
_report = declare("cmee_session_report", c_status, SessionPtr, _P(cmee_report_config),
                  _P(cmee_report))
_report_json = declare("cmee_report_to_json", c_status, _P(cmee_report), _c.c_char_p,
                       _c.c_size_t, _P(_c.c_size_t))
_sizeof_report = declare("cmee_sizeof_report", _c.c_size_t)
if _sizeof_report() != ctypes.sizeof(cmee_report):
    raise ImportError(f"cmee: layout mismatch: sizeof(cmee_report) is {_sizeof_report()} in "
                      f"the library but {ctypes.sizeof(cmee_report)} in the bindings")
_set_listener = declare("cmee_session_set_listener", None, SessionPtr, _ListenerFn, _c.c_void_p)


def _event_kinds() -> tuple[str, ...]:
    out = []
    while (name := _kind_name(len(out))) is not None:
        out.append(name.decode("ascii"))
    return tuple(out)


#: The event kinds, by their C value: ("order_filled", "order_rejected", ...).
EVENT_KINDS: tuple[str, ...] = _event_kinds()

_SIDES = ("buy", "sell")
_ORDER_TYPES = ("market", "limit", "stop", "liquidation")
#: The asset classes by their C value: the keys of ``max_leverage``.
_CLASSES = ("crypto", "fx", "metal", "index", "stock", "commodity", "other")
_ORDER_STATES = ("open", "filled", "cancelled", "rejected")
_OPTION_KINDS = ("call", "put")
_FILL_MODELS = ("quote", "book")
#: The market impact models by their C value: the ``model`` of ``impact``.
_IMPACT_MODELS = ("none", "sqrt")
_OPTION_STATES = ("open", "won", "lost", "tie")
_LEDGER_KINDS = ("deposit", "fee", "pnl", "option_stake", "option_payout")


def _fail(cls: type[Error], field: str, message: str) -> Error:
    return cls(message, cls.status, field)


def _name(values: tuple[str, ...], v: int) -> str:
    return values[v] if 0 <= v < len(values) else str(v)


def _choice(what: str, v: Any, values: tuple[str, ...]) -> int:
    if not isinstance(v, str):
        raise TypeError(f"{what} must be a str, not {type(v).__name__}")
    try:
        return values.index(v)
    except ValueError:
        raise _fail(_EINVAL, what, f"{what}: must be one of {', '.join(values)}, "
                                   f"got {v!r}") from None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Money: Decimal currency units <-> int64 units of 1e-8

_CTX = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


def _money(units: int) -> Decimal:
    """``units`` (int, 1e-8 of a currency unit) as an exact Decimal of currency units, without
    trailing zeros after the point: Decimal('10000'), Decimal('0.9350935'), Decimal('0')."""
    q, r = divmod(abs(units), MONEY_SCALE)
    sign = "-" if units < 0 else ""
    if not r:
        return Decimal(f"{sign}{q}")
    return Decimal(f"{sign}{q}.{r:08d}".rstrip("0"))


def _units(value: Any, what: str) -> int:
    """An amount of money (int, Decimal or str of currency units) as int units of 1e-8.

    Raises TypeError for floats and other types, InvalidArgumentError for text that is not a
    number, infinities, NaN, more than 8 decimal places or a value outside int64.
    """
    if isinstance(value, float):
        raise TypeError(f"{what} must be an int, a Decimal or a str, not float (money is exact; "
                        f"write Decimal({str(value)!r}) or {str(value)!r})")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise _fail(_EINVAL, what, f"{what}: not a number: {value!r}") from None
    elif not isinstance(value, bool) and hasattr(type(value), "__index__"):
        d = Decimal(operator.index(value))
    else:
        raise TypeError(f"{what} must be an int, a Decimal or a str, not {type(value).__name__}")
    if not d.is_finite():
        raise _fail(_EINVAL, what, f"{what}: must be finite, got {value}")
    q = d.scaleb(8, _CTX)
    if q != q.to_integral_value(context=_CTX):
        raise _fail(_EINVAL, what, f"{what}: {value} has more than 8 decimal places (money is "
                                   f"exact to 1e-8)")
    n = int(q)
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise _fail(_EINVAL, what, f"{what}: {value} is out of range")
    return n


def _duration(v: Any, what: str) -> int:
    """A duration (int ms or timedelta) as int ms."""
    if isinstance(v, _dt.timedelta):
        ms, rest = divmod(v, _MS)
        if rest:
            raise _fail(_EINVAL, what, f"{what}: must be a whole number of milliseconds, got {v}")
        return ms
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{what} must be int milliseconds or a timedelta, not {type(v).__name__}")
    ms = operator.index(v)
    if not _INT64_MIN <= ms <= _INT64_MAX:
        raise _fail(_EINVAL, what, f"{what}: {ms} does not fit in 64 bits")
    return ms


def _uint(v: Any, what: str, bits: int = 64) -> int:
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    v = operator.index(v)
    if not 0 <= v < (1 << bits):
        raise _fail(_ENOTFOUND, what, f"{what}: no such id {v}")
    return v


def _level(v: Any, what: str) -> float:
    """An optional price level: None means none (0 for the library)."""
    return 0.0 if v is None else _number(what, v)


def _opt(v: float) -> Optional[float]:
    return None if v == 0 else v


# --------------------------------------------------------------------------------------------
# Values


class Impact(NamedTuple):
    """A session's market impact settings (``cmee_impact_config``)."""

    model: str           #: "none" (off) or "sqrt" (square-root impact with exponential decay)
    coefficient: float   #: the square-root law's coefficient, (0, 10]
    half_life: int       #: half-life of the decay, ms: 1000 to 86400000


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """What a session was created with (``cmee_session_config``); money as Decimal."""

    id: str                      #: 1 to 39 characters from A-Z a-z 0-9 _ -
    label: str                   #: free text
    seed: int                    #: seed of the session's market
    start: int                   #: sim time it started at, ms UTC
    speed: float                 #: sim ms per wall ms it was created with
    paused: bool                 #: created paused
    manual_clock: bool           #: only step() and seek() move the clock
    balance: Decimal             #: opening balance, currency units
    currency: str                #: currency code, e.g. "USD"
    fee_rate: float              #: fee per fill as a fraction of its notional
    spread_bps: float            #: full bid-ask spread in basis points ("quote" model only)
    option_payout: float         #: default payout of a winning option (fraction of the stake)
    symbols: tuple[str, ...]     #: the symbols it trades; () means every built-in symbol
    fill_model: str              #: how orders fill: "book" (the order book) or "quote"
    leverage: float = 1.0        #: 1 for a cash account; above 1 a margin account
    #: the most leverage per asset class ("crypto", "fx", "metal", "index", "stock",
    #: "commodity", "other")
    max_leverage: tuple[tuple[str, float], ...] = ()
    margin_call_level: float = 1.0   #: margin level of a margin call (0 = none)
    maintenance_level: float = 0.5   #: margin level of liquidation (0 = never)
    #: the market impact of the session's own fills (``cmee_impact_config``)
    impact: Impact = Impact("none", 1.0, 300000)


class Clock(NamedTuple):
    """The state of a session's clock (``cmee_clock``)."""

    now: int          #: sim time, ms UTC
    speed: float      #: sim ms per wall ms
    paused: bool      #: not advancing with wall time
    manual: bool      #: manual-clock mode
    processed: int    #: sim time up to which fills and settlements are done
    epoch: int = 1    #: the session's epoch: 1, then one more after each reset


class Quote(NamedTuple):
    """A quote at the session's now (``cmee_quote``)."""

    symbol: str
    time: int         #: the session's now, ms UTC
    price: float      #: the last tick at or before now: the last price (the mark)
    bid: float        #: the best bid: the book's ("book" model), or price less half the spread
    ask: float        #: the best ask: the book's, or price plus half the spread
    halted: bool      #: a scenario halts trading now


class Order(NamedTuple):
    """An order as the session records it (``cmee_order``). Absent levels are None."""

    id: int
    symbol: str
    side: str                     #: "buy" or "sell"
    type: str                     #: "market", "limit", "stop" or "liquidation"
    state: str                    #: "open", "filled", "cancelled" or "rejected"
    quantity: float
    price: Optional[float]        #: limit or stop price; None for market orders
    stop_loss: Optional[float]
    take_profit: Optional[float]
    created: int                  #: sim time placed, ms UTC
    closed: Optional[int]         #: sim time filled, cancelled or rejected; None while open
    fill_price: Optional[float]   #: None unless filled
    fee: Decimal                  #: charged, currency units
    epoch: int = 1                #: the epoch it belongs to (:meth:`Session.reset`)


class Position(NamedTuple):
    """The net holding of one symbol (``cmee_position``)."""

    symbol: str
    quantity: float               #: > 0 long, < 0 short
    avg_price: float              #: average entry price
    mark: float                   #: current mid price
    unrealised: Decimal           #: (mark - avg_price) x quantity
    realised: Decimal             #: P&L realised on this symbol so far
    leverage: float               #: the session's, capped by the class's (1: cash account)
    margin: Decimal               #: |quantity| x avg_price / leverage
    stop_loss: Optional[float]
    take_profit: Optional[float]


class Option(NamedTuple):
    """A binary option as the session records it (``cmee_option``)."""

    id: int
    symbol: str
    kind: str                     #: "call" or "put"
    state: str                    #: "open", "won", "lost" or "tie"
    stake: Decimal
    payout: float                 #: fraction of the stake paid on a win
    opened: int                   #: sim time bought, ms UTC
    expires: int                  #: sim time of expiry, ms UTC
    strike: float                 #: the price when bought
    settle_price: Optional[float]  #: the price at expiry; None while open
    paid: Decimal                 #: paid back (0 if lost, the stake on a tie)
    epoch: int = 1                #: the epoch it belongs to


class LedgerEntry(NamedTuple):
    """One ledger entry (``cmee_ledger_entry``): every money movement is one."""

    seq: int                      #: 1, 2, ...
    time: int                     #: sim time, ms UTC
    kind: str                     #: "deposit", "fee", "pnl", "option_stake", "option_payout"
    amount: Decimal               #: signed
    balance: Decimal              #: the balance after this entry
    ref: int                      #: the order or option id (0 for the deposit)
    symbol: str                   #: "" for the deposit
    epoch: int = 1                #: the epoch it belongs to


class Report(NamedTuple):
    """A session's results (``cmee_report``, docs/report.md); money as Decimal.

    ``json`` is the library's JSON text of the report, identical to what ``cmee report``
    prints for the same session."""

    session: str                   #: the session's id
    currency: str                  #: its currency
    start: int                     #: the session's start, sim ms
    end: int                       #: the time the report describes, sim ms
    initial_balance: Decimal       #: the opening deposit
    final_equity: Decimal          #: equity at ``end``
    pnl: Decimal                   #: final_equity - initial_balance
    ret: float                     #: pnl / initial_balance
    fees: Decimal                  #: total fees paid
    max_drawdown: Decimal          #: largest fall of the equity curve from a peak
    max_drawdown_pct: float        #: that fall over its peak
    sharpe: float                  #: annualised, 0 if undefined
    sortino: float                 #: annualised, 0 if undefined
    sample_ms: int                 #: the equity curve's step
    samples: int                   #: points of the curve
    fills: int                     #: filled orders
    trades: int                    #: fills that realised P&L
    trades_won: int                #: ... net of fee > 0
    options: int                   #: options bought
    options_won: int               #: options that won
    options_lost: int              #: options that lost
    options_tied: int              #: options that tied
    win_rate: float                #: won / decided over trades and options
    win_rate_low: float            #: 95 % Wilson interval, low end
    win_rate_high: float           #: 95 % Wilson interval, high end
    best_trade: Decimal            #: largest net P&L of a trade or option
    worst_trade: Decimal           #: smallest
    best_ref: int                  #: its order or option id (0 if none)
    worst_ref: int                 #: likewise
    exposure: float                #: fraction of the time with an open position
    json: str                      #: the library's JSON form


class Account(NamedTuple):
    """The account at the session's now (``cmee_account``); money as Decimal."""

    currency: str
    balance: Decimal              #: the sum of the ledger
    unrealised: Decimal           #: sum over positions
    equity: Decimal               #: balance + unrealised
    used_margin: Decimal          #: sum of |quantity| x avg_price / leverage over positions
    free_margin: Decimal          #: equity - used_margin
    positions: int                #: open positions
    open_orders: int              #: orders waiting for their price
    open_options: int             #: options not expired
    ledger_entries: int
    #: equity / used_margin (1.0 = 100 %); ``math.inf`` with no margin used
    margin_level: float = float("inf")
    margin_call: bool = False     #: a margin call is in force (not back at its level since)
    epoch: int = 1                #: the session's epoch


class Action(NamedTuple):
    """One entry of a session's action log (``cmee_session_action``): a call that changed
    the session, with the sim time it took effect. ``request`` holds the fields of its kind:
    for "order" symbol, side, type, quantity, price, stop_loss, take_profit; for "option"
    symbol, kind, stake (Decimal), duration, payout; for "protect" symbol, stop_loss,
    take_profit; for "set_speed" speed; for "step" ms; for "seek" time; for
    "apply_scenario" scenario (its name)."""

    seq: int           #: 1, 2, ... within the epoch
    time: int          #: sim time it took effect, ms UTC
    kind: str          #: one of ACTION_KINDS, e.g. "order"
    ref: int           #: the order, option or scenario application id it made or named
    request: dict      #: the fields of its kind


class ReplayCheck(NamedTuple):
    """The outcome of :meth:`Session.replay_check` or :meth:`Session.compare`
    (``cmee_replay_result``). When not ``same``: the first difference."""

    same: bool         #: every record equal, bit for bit
    actions: int       #: actions replayed
    orders: int        #: orders compared
    options: int       #: options compared
    ledger_entries: int  #: ledger entries compared
    record: str        #: "action", "order", "option", "ledger", "position" or "account"
    index: int         #: its seq or id (0 for a count or the account)
    field: str         #: the field that differs ("count", "fill_price", "status", ...)
    original: str      #: its value in the session (text)
    replayed: str      #: its value in the replay (text)


#: Kinds of action, in the order of ``cmee_action_kind``.
ACTION_KINDS = ("order", "cancel_order", "protect", "option", "apply_scenario",
                "cancel_scenario", "pause", "resume", "set_speed", "step", "seek")


def _action_value(a: cmee_session_action) -> Action:
    kind = ACTION_KINDS[a.kind] if 0 <= a.kind < len(ACTION_KINDS) else str(a.kind)
    req: dict = {}
    if kind == "order":
        o = a.order
        req = {"symbol": _text(o.symbol), "side": _name(_SIDES, o.side),
               "type": _name(_ORDER_TYPES, o.type), "quantity": o.quantity, "price": o.price,
               "stop_loss": o.stop_loss, "take_profit": o.take_profit}
    elif kind == "option":
        o = a.option
        req = {"symbol": _text(o.symbol), "kind": _name(_OPTION_KINDS, o.kind),
               "stake": _money(o.stake), "duration": o.duration, "payout": o.payout}
    elif kind == "protect":
        req = {"symbol": _text(a.symbol), "stop_loss": a.stop_loss,
               "take_profit": a.take_profit}
    elif kind == "set_speed":
        req = {"speed": a.speed}
    elif kind == "step":
        req = {"ms": a.ms}
    elif kind == "seek":
        req = {"time": a.ms}
    elif kind == "apply_scenario":
        req = {"scenario": _text(a.scenario)}
    return Action(a.seq, a.time, kind, a.ref, req)


def _check_value(r: cmee_replay_result) -> ReplayCheck:
    return ReplayCheck(bool(r.same), r.actions, r.orders, r.options, r.ledger_entries,
                       _text(r.record), r.index, _text(r.field), _text(r.original),
                       _text(r.replayed))


class Event(NamedTuple):
    """A session event, as the listener of :meth:`Session.on_event` receives it."""

    kind: str          #: one of EVENT_KINDS, e.g. "order_filled"
    time: int          #: sim time it happened, ms UTC
    session_id: str
    payload: str       #: the details, a JSON object as text

    def json(self) -> Any:
        """The payload parsed (a dict)."""
        return json.loads(self.payload)


def _order_value(o: cmee_order) -> Order:
    return Order(o.id, _text(o.symbol), _name(_SIDES, o.side), _name(_ORDER_TYPES, o.type),
                 _name(_ORDER_STATES, o.state), o.quantity, _opt(o.price), _opt(o.stop_loss),
                 _opt(o.take_profit), o.created, o.closed or None,
                 o.fill_price if o.state == 1 else None, _money(o.fee), o.epoch)


def _option_value(o: cmee_option) -> Option:
    return Option(o.id, _text(o.symbol), _name(_OPTION_KINDS, o.kind),
                  _name(_OPTION_STATES, o.state), _money(o.stake), o.payout, o.opened,
                  o.expires, o.strike, o.settle_price if o.state != 0 else None, _money(o.paid),
                  o.epoch)


def _position_value(p: cmee_position) -> Position:
    return Position(_text(p.symbol), p.quantity, p.avg_price, p.mark, _money(p.unrealised),
                    _money(p.realised), p.leverage, _money(p.margin), _opt(p.stop_loss),
                    _opt(p.take_profit))


def _ledger_value(e: cmee_ledger_entry) -> LedgerEntry:
    return LedgerEntry(e.seq, e.time, _name(_LEDGER_KINDS, e.kind), _money(e.amount),
                       _money(e.balance), e.ref, _text(e.symbol), e.epoch)


def _config_value(c: cmee_session_config) -> SessionConfig:
    return SessionConfig(
        id=_text(c.id), label=_text(c.label), seed=c.seed, start=c.start_time, speed=c.speed,
        paused=c.paused, manual_clock=c.manual_clock, balance=_money(c.initial_balance),
        currency=_text(c.currency), fee_rate=c.fee_rate, spread_bps=c.spread_bps,
        option_payout=c.option_payout,
        symbols=tuple(_text(c.symbols[i].value) for i in range(c.nsymbols)),
        fill_model=_name(_FILL_MODELS, c.fill_model), leverage=c.leverage,
        max_leverage=tuple((_CLASSES[i], c.max_leverage[i]) for i in range(SESSION_CLASSES)),
        margin_call_level=c.margin_call_level, maintenance_level=c.maintenance_level,
        impact=Impact(_name(_IMPACT_MODELS, c.impact.model), c.impact.coefficient,
                      c.impact.half_life))


def _impact_into(cfg: cmee_session_config, impact: Any) -> None:
    """Set ``cfg.impact`` from a dict (or an :class:`Impact`) of model, coefficient and
    half_life (ms, or a timedelta); keys left out keep their defaults."""
    if isinstance(impact, Impact):
        impact = impact._asdict()
    if not isinstance(impact, dict):
        raise TypeError(f"impact must be a dict, not {type(impact).__name__}")
    for key, v in impact.items():
        if key == "model":
            cfg.impact.model = _choice("impact.model", v, _IMPACT_MODELS)
        elif key == "coefficient":
            cfg.impact.coefficient = _number("impact.coefficient", v)
        elif key == "half_life":
            if isinstance(v, _dt.timedelta):
                v = v // _MS
            if isinstance(v, bool) or not hasattr(type(v), "__index__"):
                raise TypeError(f"impact.half_life must be an int of ms or a timedelta, not "
                                f"{type(v).__name__}")
            v = operator.index(v)
            if not _INT64_MIN <= v <= _INT64_MAX:
                raise _fail(_EINVAL, "impact.half_life", f"impact.half_life: must be 1000 to "
                                                         f"86400000 ms, got {v}")
            cfg.impact.half_life = v
        else:
            raise _fail(_EINVAL, f"impact.{key}", f"impact.{key}: unknown setting (model, "
                                                  f"coefficient, half_life)")


# --------------------------------------------------------------------------------------------
# Locks. Stores are serialised by their own (non-reentrant) lock; a thread that holds one
# and asks for it again (a listener calling a session on the same store) gets StateError
# instead of a deadlock.

_tls = threading.local()


@contextmanager
def _store_held(store: Optional[Store]) -> Iterator[None]:
    if store is None:
        yield
        return
    held: set[int] = _tls.__dict__.setdefault("stores", set())
    if id(store) in held:
        raise _fail(_ESTATE, "store", "store: already in use by this thread (a session "
                                      "callback calling a session on the same store?)")
    with store._lock:
        if store._ptr is None:
            raise _fail(_ESTATE, "store", "session: its store is closed")
        held.add(id(store))
        try:
            yield
        finally:
            held.discard(id(store))


class _DriverLink:
    """What a session knows of the Driver driving it (see broadcast.Driver): the C driver, the
    driver's lock and its sessions. Plain data, so a session being finalised can still reach
    it."""

    __slots__ = ("ptr", "lock", "sessions")

    def __init__(self, ptr: Any, lock: Any, sessions: dict) -> None:
        self.ptr = ptr
        self.lock = lock
        self.sessions = sessions


# --------------------------------------------------------------------------------------------
# Session


class Session(Owned):
    """A session (``cmee_session``): a clock, a market view and a paper-trading account.

    ``Session(seed=42, start=None, speed=1.0, paused=False, manual_clock=False,
    balance=10000, currency="USD", fee_rate=0.001, spread_bps=2.0, option_payout=0.8,
    symbols=None, id=None, label="", scenario=None, store=None, fill_model="book",
    leverage=1.0, max_leverage=None, margin_call_level=1.0, maintenance_level=0.5,
    impact=None)``

    - ``start``: sim time it starts at (int ms or datetime; None: 2025-01-01T00:00Z).
    - ``speed``: sim ms per wall ms while running, (0, 1e6]; ``paused`` starts it paused;
      ``manual_clock`` makes only :meth:`step` and :meth:`seek` move it (tests, backtests).
    - ``balance``: opening balance in currency units (int, Decimal or str; not float).
    - ``symbols``: the names it trades and shows (None: every built-in symbol).
    - ``id``: 1 to 39 characters from A-Z a-z 0-9 _ - (None: 32 generated hex digits).
    - ``scenario``: a :class:`cmee.Scenario` or preset name applied at the start.
    - ``store``: a :class:`cmee.Store` that keeps it (it must outlive the session): every
      change is committed before the call returns, and :meth:`load` brings it back.
    - ``fill_model``: ``"book"`` fills against the market's order book and trade tape (a
      market order walks the levels for its size; a limit fills once the tape trades through
      it); ``"quote"`` fills at a fixed ``spread_bps`` around each tick's price (the model of
      sessions stored before fill models existed, which load with it).
    - ``leverage``: 1 (a cash account, as before margin accounts) to 1000. Above 1 the session
      is a margin account: a position takes |quantity| x average price / its leverage in
      margin, the leverage being this capped by ``max_leverage`` of its asset class (a dict
      such as ``{"crypto": 2}`` over the defaults crypto 5, fx 50, metal 20, index 20,
      stock 5, commodity 10, other 5). A margin call (event "margin_call") is raised when the
      margin level (equity / used margin) falls below ``margin_call_level`` (0 for none), and
      the account is liquidated at the first tick below ``maintenance_level`` (0 for never):
      the position with the lowest unrealised P&L first, until the level is restored
      (orders of type "liquidation", then an event "liquidation").
    - ``impact``: market impact of the session's own fills, off by default: a dict such as
      ``{"model": "sqrt", "coefficient": 1.0, "half_life": 300000}`` (half_life in ms or a
      timedelta; keys left out keep these defaults, model "none"). With "sqrt" a fill of q
      moves the session's log price by +-coefficient x daily volatility x sqrt(q / daily
      volume) from the first tick after it, halving every half_life; only this session sees
      it (its quotes, book, tape, candles, fills). See :meth:`impact` and docs/sessions.md.

    Raises InvalidArgumentError naming a bad field, RangeError (start outside the series),
    AlreadyExistsError (an id already in ``store``), NotFoundError (an unknown symbol).
    Close it with :meth:`close` or ``with``; garbage collection frees it too (its stored
    records stay).
    """

    _free = "cmee_session_free"

    def __init__(self, seed: int = 42, start: Any = None, speed: float = 1.0,
                 paused: bool = False, manual_clock: bool = False, balance: Any = 10000,
                 currency: str = "USD", fee_rate: float = 0.001, spread_bps: float = 2.0,
                 option_payout: float = 0.8, symbols: Optional[Iterable[str]] = None,
                 id: Optional[str] = None, label: str = "",
                 scenario: Union[Scenario, str, None] = None, store: Optional[Store] = None,
                 fill_model: str = "book", leverage: float = 1.0,
                 max_leverage: Optional[dict[str, float]] = None,
                 margin_call_level: float = 1.0, maintenance_level: float = 0.5,
                 impact: Optional[dict[str, Any]] = None):
        self._ptr: Optional[SessionPtr] = None
        self._setup(store)
        cfg = cmee_session_config()
        _config_init(ctypes.byref(cfg))
        if isinstance(seed, bool) or not hasattr(type(seed), "__index__"):
            raise TypeError(f"seed must be an int, not {type(seed).__name__}")
        seed = operator.index(seed)
        if not 0 <= seed <= _UINT64_MAX:
            raise _fail(error_class(4), "seed", f"seed: must be in [0, 2**64), got {seed}")
        cfg.seed = seed
        if start is not None:
            cfg.start_time = to_ms(start, "start")
        cfg.speed = _number("speed", speed)
        cfg.paused = bool(paused)
        cfg.manual_clock = bool(manual_clock)
        cfg.initial_balance = _units(balance, "balance")
        cfg.currency = self._field(currency, "currency", CURRENCY_MAX)
        cfg.fee_rate = _number("fee_rate", fee_rate)
        cfg.spread_bps = _number("spread_bps", spread_bps)
        cfg.option_payout = _number("option_payout", option_payout)
        cfg.fill_model = _choice("fill_model", fill_model, _FILL_MODELS)
        cfg.leverage = _number("leverage", leverage)
        if max_leverage is not None:
            if not isinstance(max_leverage, dict):
                raise TypeError(f"max_leverage must be a dict, not {type(max_leverage).__name__}")
            for cls, cap in max_leverage.items():
                cfg.max_leverage[_choice("max_leverage", cls, _CLASSES)] = \
                    _number("max_leverage", cap)
        cfg.margin_call_level = _number("margin_call_level", margin_call_level)
        cfg.maintenance_level = _number("maintenance_level", maintenance_level)
        if impact is not None:
            _impact_into(cfg, impact)
        if symbols is not None:
            if isinstance(symbols, str):
                symbols = [symbols]
            names = [self._field(s, "symbols", SYMBOL_MAX) for s in symbols]
            if len(names) > SESSION_MAX_SYMBOLS:
                raise _fail(_EINVAL, "symbols", f"symbols: at most {SESSION_MAX_SYMBOLS}, got "
                                                f"{len(names)}")
            for i, n in enumerate(names):
                cfg.symbols[i].value = n
            cfg.nsymbols = len(names)
        if id is not None:
            cfg.id = self._field(id, "id", SESSION_ID_MAX)
        cfg.label = self._field(label, "label", SESSION_LABEL_MAX)
        preset: Optional[Scenario] = None
        if isinstance(scenario, str):
            scenario = preset = Scenario.preset(scenario)
        elif scenario is not None and not isinstance(scenario, Scenario):
            raise TypeError(f"scenario must be a cmee.Scenario, a preset name or None, not "
                            f"{type(scenario).__name__}")
        ptr = SessionPtr()
        err = cmee_error()
        try:
            with _store_held(self._store):
                if scenario is not None:
                    with scenario._lock.read():
                        cfg.scenario = scenario._handle().value
                        st = _new(ctypes.byref(cfg), self._store_addr(), None,
                                  ctypes.byref(ptr), ctypes.byref(err))
                else:
                    st = _new(ctypes.byref(cfg), self._store_addr(), None, ctypes.byref(ptr),
                              ctypes.byref(err))
        finally:
            if preset is not None:
                preset.close()
        check(st, err)
        self._ptr = ptr

    def _setup(self, store: Optional[Store]) -> None:
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"store must be a cmee.Store or None, not {type(store).__name__}")
        self._store = store
        self._lock = threading.RLock()
        self._dispatching = False
        self._pending: list[BaseException] = []
        self._listener: Optional[Callable[[Event], Any]] = None
        self._listener_cb: Any = None
        self._wall: Optional[Callable[[], Any]] = None
        self._wall_cb: Any = None
        self._wall_last = 0
        self._driver: Optional[_DriverLink] = None

    def _store_addr(self) -> Optional[int]:
        return None if self._store is None else self._store._ptr.value  # type: ignore

    @staticmethod
    def _field(value: Any, what: str, size: int) -> bytes:
        raw = encode(value, what)
        if len(raw) >= size:
            raise _fail(_EINVAL, what, f"{what}: at most {size - 1} bytes, got {value!r}")
        return raw

    @classmethod
    def load(cls, store: Store, id: str) -> "Session":
        """Session ``id`` from ``store``, exactly as last committed (config, scenarios,
        account, orders, options, ledger), its clock continuing from the sim time it had then.
        Listeners and wall clocks are not stored: set them again. Raises NotFoundError,
        CorruptError (records that do not agree), StateError (a closed store)."""
        if not isinstance(store, Store):
            raise TypeError(f"store must be a cmee.Store, not {type(store).__name__}")
        key = encode(id, "id")
        self = cls.__new__(cls)
        self._ptr = None
        self._setup(store)
        ptr = SessionPtr()
        err = cmee_error()
        with _store_held(store):
            st = _load(self._store_addr(), key, None, ctypes.byref(ptr), ctypes.byref(err))
        check(st, err)
        self._ptr = ptr
        return self

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Free the session (its stored records stay; a Driver driving it lets it go).
        Idempotent; later calls raise :class:`cmee.StateError`."""
        while True:
            link = self._driver
            if link is None:
                with self._lock:
                    if self._driver is not None:
                        continue
                    self._free_now()
                return
            with link.lock, self._lock:
                if self._driver is not link:
                    continue
                self._free_now()
                return

    def _free_now(self) -> None:
        """Free the C session; the caller holds the locks."""
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            return
        link, self._driver = self._driver, None
        if link is not None:
            link.sessions.pop(id(self), None)
            if link.ptr is not None:
                _driver_remove(link.ptr, ptr)
        lib.cmee_session_free(ptr)
        self._listener_cb = self._wall_cb = None

    def __del__(self) -> None:
        # A driven session is only garbage together with its Driver; whichever goes first
        # must not leave the other a dangling pointer.
        ptr = getattr(self, "_ptr", None)
        if ptr is None:
            return
        self._ptr = None
        link = getattr(self, "_driver", None)
        try:
            if link is not None and link.ptr is not None:
                _driver_remove(link.ptr, ptr)
            lib.cmee_session_free(ptr)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ptr is None

    @property
    def store(self) -> Optional[Store]:
        """The store keeping the session, or None."""
        return self._store

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<cmee.Session closed>"
        try:
            c = self.clock
            return (f"<cmee.Session {self.id!r} now={c.now}{' manual' if c.manual else ''}"
                    f"{' paused' if c.paused and not c.manual else ''}>")
        except Error:  # pragma: no cover - closed meanwhile
            return "<cmee.Session>"

    # -- calling the library -----------------------------------------------------------------

    @contextmanager
    def _use(self) -> Iterator[SessionPtr]:
        """Hold the session (and its store) for one call; yields the C handle. Re-raises what
        a callback raised during the call."""
        with self._lock:
            if self._dispatching:
                raise _fail(_ESTATE, "session", "session: called from its own callback (the "
                                                "listener or wall clock must not call it)")
            ptr = self._ptr
            if ptr is None:
                raise _fail(_ESTATE, "session", "session: closed")
            try:
                with _store_held(self._store):
                    yield ptr
            except BaseException as e:
                self._raise_pending(e)
                raise
            self._raise_pending(None)

    def _raise_pending(self, failure: Optional[BaseException]) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        exc = pending[0]
        exc.add_note("cmee: raised by a session callback (on_event or set_wall_clock) during a "
                     "session call; the call's own change, if it succeeded, is committed")
        if len(pending) > 1:
            exc.add_note(f"cmee: {len(pending) - 1} more callback exception(s) were dropped")
        if failure is not None:
            exc.add_note(f"cmee: the call itself failed too: {failure!r}")
        raise exc

    def _check(self, ptr: SessionPtr, status: int) -> None:
        if status:
            check(status, _errmsg(ptr))

    # -- identity ----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The session's id."""
        with self._use() as ptr:
            return _text(_id(ptr))

    @property
    def config(self) -> SessionConfig:
        """What the session was created with, as a :class:`SessionConfig`."""
        cfg = cmee_session_config()
        with self._use() as ptr:
            self._check(ptr, _config_get(ptr, ctypes.byref(cfg)))
        return _config_value(cfg)

    @property
    def market(self) -> "SessionMarket":
        """A read-only view of the session's market at its now (prices through the session
        only: nothing after the session's clock)."""
        return SessionMarket(self)

    # -- clock -------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock as of this call (reads the wall clock; processes nothing)."""
        c = cmee_clock()
        with self._use() as ptr:
            self._check(ptr, _clock(ptr, ctypes.byref(c)))
        return Clock(c.now, c.speed, c.paused, c.manual, c.processed, c.epoch)

    @property
    def now(self) -> int:
        """The session's sim time (``clock.now``), ms UTC."""
        return self.clock.now

    def advance(self) -> int:
        """Process every fill, stop-loss, take-profit and settlement due up to the clock;
        returns the sim time processed to. Every other state-changing call does this first.
        Raises RangeError if the clock ran past the end of the series."""
        now = ctypes.c_int64()
        with self._use() as ptr:
            self._check(ptr, _advance(ptr, ctypes.byref(now)))
        return now.value

    def pause(self) -> None:
        """Stop the clock (idempotent)."""
        with self._use() as ptr:
            self._check(ptr, _pause(ptr))

    def resume(self) -> None:
        """Restart the clock after a pause (idempotent). StateError with a manual clock."""
        with self._use() as ptr:
            self._check(ptr, _resume(ptr))

    def set_speed(self, speed: float) -> None:
        """Sim ms per wall ms, (0, 1e6]. Raises InvalidArgumentError."""
        x = _number("speed", speed)
        with self._use() as ptr:
            self._check(ptr, _set_speed(ptr, x))

    def step(self, ms: Union[int, _dt.timedelta]) -> None:
        """Move the clock forward by ``ms`` (int ms or timedelta, >= 0) and process up to
        there; works paused and with a manual clock. Raises InvalidArgumentError, RangeError
        (past the series end)."""
        d = _duration(ms, "ms")
        with self._use() as ptr:
            self._check(ptr, _step(ptr, d))

    def seek(self, t: Union[int, _dt.datetime]) -> None:
        """Move the clock forward to ``t`` (int ms or datetime) and process up to there.
        Raises StateError if ``t`` is before now (the clock never goes back), RangeError."""
        t_ms = to_ms(t, "t")
        with self._use() as ptr:
            self._check(ptr, _seek(ptr, t_ms))

    def set_wall_clock(self, fn: Optional[Callable[[], Union[int, float]]]) -> None:
        """Replace the wall clock the session reads with ``fn()`` returning milliseconds (any
        epoch; an int, or a float that is floored), for tests and simulations of time; None
        restores the real clock. Not stored with the session.

        ``fn`` runs inside session calls. If it raises or returns something else than a
        number, the clock reads the last good value and the exception is raised when the
        session call returns.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be callable or None, not {type(fn).__name__}")
        with self._use() as ptr:
            if fn is None:
                cb = None
            else:
                ref = weakref.ref(self)
                cb = _WallFn(lambda ud: _call_wall(ref, fn))
            old = self._wall_cb
            self._wall = fn
            self._wall_cb = cb
            _set_wall_clock(ptr, cb if cb is not None else _NO_WALL, None)
            del old  # only now may the previous callback go

    # -- market view -------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        """The quote of ``symbol`` at the session's now (after advancing). Raises
        NotFoundError (a symbol the session does not trade)."""
        key = encode(symbol, "symbol")
        q = cmee_quote()
        with self._use() as ptr:
            self._check(ptr, _quote(ptr, key, ctypes.byref(q)))
        return Quote(_text(q.symbol), q.time, q.price, q.bid, q.ask, q.halted)

    def impact(self, symbol: str, at: Any = None) -> float:
        """The log price impact of the session's own fills on ``symbol`` at sim time ``at``
        (int ms or datetime; None: the processed time, see :meth:`clock`): the session's tick
        then is its market's price times exp(impact), on the tick grid. 0.0 without impact.
        Raises NotFoundError (symbol), RangeError (``at`` after the processed time)."""
        key = encode(symbol, "symbol")
        out = ctypes.c_double()
        with self._use() as ptr:
            if at is None:
                c = cmee_clock()
                self._check(ptr, _clock(ptr, ctypes.byref(c)))
                t = c.processed
            else:
                t = to_ms(at, "at")
            self._check(ptr, _impact(ptr, key, t, ctypes.byref(out)))
        return out.value

    def candles(self, symbol: str, timeframe: Union[str, int], count: int) -> Candles:
        """The last ``count`` candles of ``symbol`` up to the session's now, oldest first: the
        complete ones and, last, the candle forming now (built from the ticks up to now
        only). Never a price after now. A :class:`cmee.Candles`, like Market.candles gives."""
        key = encode(symbol, "symbol")
        tf, tf_name = _timeframe(timeframe)
        if isinstance(count, bool) or not hasattr(type(count), "__index__"):
            raise TypeError(f"count must be an int, not {type(count).__name__}")
        n = operator.index(count)
        if n < 1:
            raise _fail(_EINVAL, "count", f"count: must be at least 1, got {n}")
        if n > MAX_QUERY:
            raise _fail(error_class(4), "count", f"count: {n} candles, the most per query is "
                                                 f"{MAX_QUERY}")
        raw = _alloc(n * _CANDLE_SIZE)
        written = ctypes.c_size_t()
        with self._use() as ptr:
            self._check(ptr, _candles(ptr, key, tf, n,
                                      (ctypes.c_char * len(raw)).from_buffer(raw), n,
                                      ctypes.byref(written)))
        if written.value != n:
            raw = memoryview(raw)[:written.value * _CANDLE_SIZE]
        return Candles(symbol, tf_name, raw)

    def symbols(self) -> list[Symbol]:
        """The specs of the symbols the session trades, in registry order."""
        out = []
        spec = cmee_symbol_spec()
        with self._use() as ptr:
            m = MarketPtr(_market(ptr))
            wanted = self._symbol_filter(ptr)
            for i in range(lib.cmee_market_symbol_count(m)):
                check(lib.cmee_market_symbol_at(m, i, ctypes.byref(spec)))
                if wanted is None or spec.symbol in wanted:
                    out.append(_symbol_from_spec(spec))
        return out

    def _symbol_filter(self, ptr: SessionPtr) -> Optional[set[bytes]]:
        cfg = cmee_session_config()
        self._check(ptr, _config_get(ptr, ctypes.byref(cfg)))
        if cfg.nsymbols == 0:
            return None
        return {cfg.symbols[i].value for i in range(cfg.nsymbols)}

    def apply_scenario(self, scenario: Union[Scenario, str]) -> int:
        """Apply a scenario (a :class:`cmee.Scenario` or a preset name) to the session's market
        from its now; returns the application id (for :meth:`cancel_scenario`). Recorded,
        stored and announced to the listener. Errors as :meth:`cmee.Market.apply`."""
        if isinstance(scenario, str):
            with Scenario.preset(scenario) as preset:
                return self.apply_scenario(preset)
        if not isinstance(scenario, Scenario):
            raise TypeError(f"scenario must be a cmee.Scenario or a preset name, not "
                            f"{type(scenario).__name__}")
        app = ctypes.c_uint32()
        with self._use() as ptr, scenario._lock.read():
            self._check(ptr, _apply(ptr, scenario._handle(), ctypes.byref(app)))
        return app.value

    def cancel_scenario(self, app_id: int) -> None:
        """Cancel a scenario application from now. Raises NotFoundError (unknown id)."""
        v = _uint(app_id, "app_id", 32)
        with self._use() as ptr:
            self._check(ptr, _cancel_scenario(ptr, v))

    # -- orders and positions ----------------------------------------------------------------

    def order(self, symbol: str, side: str, quantity: float, *, type: str = "market",
              price: Optional[float] = None, stop_loss: Optional[float] = None,
              take_profit: Optional[float] = None) -> Order:
        """Place an order; returns it as recorded.

        ``side`` "buy" or "sell"; ``type`` "market" (fills now, or is refused: with the "book"
        fill model it walks the book's asks or bids for its size, with "quote" at the ask or
        bid), "limit" or "stop" (``price`` required; they wait for the market: a "book" limit
        fills at its price once the tape trades through it, a stop triggers on the tape and
        then walks the book; a limit whose price is already reached fills now at its price or
        better). ``stop_loss`` and ``take_profit`` are set on the position when it fills
        (None: none).

        Raises InvalidArgumentError (bad field), NotFoundError (symbol), StateError (market
        halted), NoSpaceError (insufficient free margin for the fill and its fee).
        Refusals change nothing.
        """
        req = cmee_order_request()
        _order_init(ctypes.byref(req), self._field(symbol, "symbol", SYMBOL_MAX))
        req.side = _choice("side", side, _SIDES)
        req.type = _choice("type", type, _ORDER_TYPES)
        req.quantity = _number("quantity", quantity)
        if req.type == 0:
            if price is not None:
                raise _fail(_EINVAL, "price", "price: only limit and stop orders have a price")
        else:
            if price is None:
                raise _fail(_EINVAL, "price", f"price: a {type} order needs a price")
            req.price = _number("price", price)
        req.stop_loss = _level(stop_loss, "stop_loss")
        req.take_profit = _level(take_profit, "take_profit")
        out = cmee_order()
        with self._use() as ptr:
            self._check(ptr, _order(ptr, ctypes.byref(req), ctypes.byref(out)))
        return _order_value(out)

    def buy(self, symbol: str, quantity: float, **kw: Any) -> Order:
        """``order(symbol, "buy", quantity, **kw)``: keywords ``type``, ``price``,
        ``stop_loss``, ``take_profit``."""
        return self.order(symbol, "buy", quantity, **kw)

    def sell(self, symbol: str, quantity: float, **kw: Any) -> Order:
        """``order(symbol, "sell", quantity, **kw)``."""
        return self.order(symbol, "sell", quantity, **kw)

    def cancel_order(self, order_id: int) -> None:
        """Cancel an open order. Raises NotFoundError, StateError (not open)."""
        v = _uint(order_id, "order_id")
        with self._use() as ptr:
            self._check(ptr, _cancel_order(ptr, v))

    def protect(self, symbol: str, stop_loss: Optional[float] = None,
                take_profit: Optional[float] = None) -> None:
        """Set (or clear, with None) the stop-loss and take-profit of the position in
        ``symbol``. A long's stop-loss must be below the bid and its take-profit above it
        (mirrored for a short). Raises NotFoundError (no position), InvalidArgumentError."""
        key = encode(symbol, "symbol")
        sl, tp = _level(stop_loss, "stop_loss"), _level(take_profit, "take_profit")
        with self._use() as ptr:
            self._check(ptr, _protect(ptr, key, sl, tp))

    def close_position(self, symbol: str) -> Order:
        """Close the whole position in ``symbol`` at the market; returns the closing order.
        Raises NotFoundError if flat, StateError if halted."""
        key = encode(symbol, "symbol")
        out = cmee_order()
        with self._use() as ptr:
            self._check(ptr, _close_position(ptr, key, ctypes.byref(out)))
        return _order_value(out)

    # -- binary options ----------------------------------------------------------------------

    def option(self, symbol: str, kind: str, stake: Any, duration: Union[int, _dt.timedelta],
               payout: Optional[float] = None) -> Option:
        """Buy a binary option at the current price (the strike), paying ``stake`` now (money:
        int, Decimal or str). It settles ``duration`` later (int ms or timedelta, 1 s to 30
        days) at the price then: a "call" wins above the strike, a "put" below; equal is a
        tie and returns the stake; a win pays stake x (1 + payout). ``payout``: None for the
        session's default. Raises InvalidArgumentError, NotFoundError, StateError (halted),
        RangeError (expiry past the series end), NoSpaceError (stake above the free margin).
        """
        req = cmee_option_request()
        _option_init(ctypes.byref(req), self._field(symbol, "symbol", SYMBOL_MAX))
        req.kind = _choice("kind", kind, _OPTION_KINDS)
        req.stake = _units(stake, "stake")
        req.duration = _duration(duration, "duration")
        req.payout = 0.0 if payout is None else _number("payout", payout)
        if payout is not None and req.payout == 0:
            raise _fail(_EINVAL, "payout", "payout: must be in (0, 10], got 0")
        out = cmee_option()
        with self._use() as ptr:
            self._check(ptr, _option(ptr, ctypes.byref(req), ctypes.byref(out)))
        return _option_value(out)

    def call(self, symbol: str, stake: Any, duration: Union[int, _dt.timedelta],
             payout: Optional[float] = None) -> Option:
        """``option(symbol, "call", stake, duration, payout)``."""
        return self.option(symbol, "call", stake, duration, payout)

    def put(self, symbol: str, stake: Any, duration: Union[int, _dt.timedelta],
            payout: Optional[float] = None) -> Option:
        """``option(symbol, "put", stake, duration, payout)``."""
        return self.option(symbol, "put", stake, duration, payout)

    # -- the account -------------------------------------------------------------------------

    def account(self) -> Account:
        """The account at now (after advancing); money as Decimal."""
        a = cmee_account()
        with self._use() as ptr:
            self._check(ptr, _account(ptr, ctypes.byref(a)))
        return Account(_text(a.currency), _money(a.balance), _money(a.unrealised),
                       _money(a.equity), _money(a.used_margin), _money(a.free_margin),
                       a.positions, a.open_orders, a.open_options, a.ledger_entries,
                       a.margin_level, a.margin_call, a.epoch)

    def report(self, sample_ms: Union[int, _dt.timedelta, None] = None,
               max_samples: Optional[int] = None, advance: bool = True) -> Report:
        """The session's results report (docs/report.md): P&L, return, drawdown, Sharpe and
        Sortino of the equity curve sampled every ``sample_ms`` (default one hour; int ms or
        timedelta), trades and options, win rate with its Wilson interval, best and worst
        trade, exposure. With ``advance=False`` the session is described as last processed and
        nothing changes. Raises InvalidArgumentError for a setting out of range."""
        cfg = cmee_report_config()
        _report_config_init(ctypes.byref(cfg))
        if sample_ms is not None:
            cfg.sample_ms = _duration(sample_ms, "sample_ms")
        if max_samples is not None:
            if isinstance(max_samples, bool) or not hasattr(type(max_samples), "__index__"):
                raise TypeError(f"max_samples must be an int, not {type(max_samples).__name__}")
            n = operator.index(max_samples)
            if not 0 <= n <= (1 << 63):
                raise _fail(_EINVAL, "max_samples",
                            f"max_samples: must be in [2, 10000000], got {n}")
            cfg.max_samples = n
        cfg.advance = bool(advance)
        r = cmee_report()
        with self._use() as ptr:
            self._check(ptr, _report(ptr, ctypes.byref(cfg), ctypes.byref(r)))
        text = ctypes.create_string_buffer(4096)
        n = ctypes.c_size_t()
        check(_report_json(ctypes.byref(r), text, len(text), ctypes.byref(n)))
        return Report(_text(r.session), _text(r.currency), r.start, r.end,
                      _money(r.initial_balance), _money(r.final_equity), _money(r.pnl), r.ret,
                      _money(r.fees), _money(r.max_drawdown), r.max_drawdown_pct, r.sharpe,
                      r.sortino, r.sample_ms, r.samples, r.fills, r.trades, r.trades_won,
                      r.options, r.options_won, r.options_lost, r.options_tied, r.win_rate,
                      r.win_rate_low, r.win_rate_high, _money(r.best_trade),
                      _money(r.worst_trade), r.best_ref, r.worst_ref, r.exposure,
                      text.value[:n.value].decode("ascii"))

    def _list(self, struct: Any, call: Callable[..., int]) -> list[Any]:
        n = ctypes.c_size_t()
        with self._use() as ptr:
            self._check(ptr, call(ptr, None, 0, ctypes.byref(n)))
            if n.value == 0:
                return []
            buf = (struct * n.value)()
            self._check(ptr, call(ptr, buf, n.value, ctypes.byref(n)))
        return list(buf[:n.value])

    def positions(self) -> list[Position]:
        """Open positions, in symbol order, marked at the last processed time (call
        :meth:`advance` first for fresh marks)."""
        rows = self._list(cmee_position, _positions)
        return [_position_value(p) for p in rows]

    def orders(self, open_only: bool = False) -> list[Order]:
        """Orders, oldest first; ``open_only`` for the waiting ones only."""
        flag = bool(open_only)
        rows = self._list(cmee_order, lambda p, b, c, n: _orders(p, flag, b, c, n))
        return [_order_value(o) for o in rows]

    def options(self, open_only: bool = False) -> list[Option]:
        """Binary options, oldest first; ``open_only`` for those not expired."""
        flag = bool(open_only)
        rows = self._list(cmee_option, lambda p, b, c, n: _options(p, flag, b, c, n))
        return [_option_value(o) for o in rows]

    def ledger(self, after: int = 0) -> list[LedgerEntry]:
        """Ledger entries with seq > ``after`` (0: all), oldest first. The balance is always
        exactly the sum of the amounts."""
        if isinstance(after, bool) or not hasattr(type(after), "__index__"):
            raise TypeError(f"after must be an int, not {type(after).__name__}")
        a = max(0, min(operator.index(after), _UINT64_MAX))
        rows = self._list(cmee_ledger_entry, lambda p, b, c, n: _ledger(p, a, b, c, n))
        return [_ledger_value(e) for e in rows]

    # -- the action log, replay, reset and epochs --------------------------------------------

    def actions(self, after: int = 0) -> list[Action]:
        """The action log of the current epoch (docs/sessions.md, *Replay and reset*):
        every call that changed the session, with the sim time it took effect, seq > ``after``,
        oldest first. Engine-made orders (stop-loss, take-profit, liquidation) and refusals
        are not in it."""
        if isinstance(after, bool) or not hasattr(type(after), "__index__"):
            raise TypeError(f"after must be an int, not {type(after).__name__}")
        a = max(0, min(operator.index(after), _UINT64_MAX))
        rows = self._list(cmee_session_action, lambda p, b, c, n: _actions(p, a, b, c, n))
        return [_action_value(x) for x in rows]

    @property
    def replayable(self) -> bool:
        """False only for a session stored before the action log, until it is reset."""
        with self._use() as ptr:
            return bool(_replayable(ptr))

    def replay(self) -> "Session":
        """A new in-memory session rebuilt from this one's config by making every action of
        its log again at its time, processed up to this session's processed time: the same
        records bit for bit (see :meth:`replay_check`). This session is not changed. Raises
        StateError (not replayable), CorruptError (an action refused on replay)."""
        out = Session.__new__(Session)
        out._ptr = None
        out._setup(None)
        ptr = SessionPtr()
        err = cmee_error()
        with self._use() as src:
            st = _replay(src, None, ctypes.byref(ptr), ctypes.byref(err))
        check(st, err)
        out._ptr = ptr
        return out

    def replay_check(self) -> ReplayCheck:
        """Replay the session and compare the replay with it, every record bit for bit:
        ``same``, or the first difference. Raises StateError if not replayable."""
        r = cmee_replay_result()
        with self._use() as ptr:
            self._check(ptr, _replay_check(ptr, ctypes.byref(r)))
        return _check_value(r)

    def compare(self, other: "Session") -> ReplayCheck:
        """Compare this session's records with ``other``'s, bit for bit."""
        if not isinstance(other, Session):
            raise TypeError(f"other must be a cmee.Session, not {type(other).__name__}")
        r = cmee_replay_result()
        with other._use() as b, self._use() as a:
            self._check(a, _compare(a, b, ctypes.byref(r)))
        return _check_value(r)

    def reset(self) -> None:
        """Return the session to its start state in a new epoch (start time, opening
        balance, the config's scenario only, nothing else); the old epoch's orders, options,
        ledger and actions stay readable with :meth:`epoch_orders` and the like."""
        with self._use() as ptr:
            self._check(ptr, _reset(ptr))

    @property
    def epoch(self) -> int:
        """The current epoch: 1, then one more after each :meth:`reset`."""
        with self._use() as ptr:
            return int(_epoch(ptr))

    def _epoch_arg(self, epoch: int) -> int:
        if isinstance(epoch, bool) or not hasattr(type(epoch), "__index__"):
            raise TypeError(f"epoch must be an int, not {type(epoch).__name__}")
        return max(0, min(operator.index(epoch), _UINT64_MAX))

    def epoch_orders(self, epoch: int) -> list[Order]:
        """The orders of epoch ``epoch`` (1 to :attr:`epoch`). NotFoundError otherwise."""
        e = self._epoch_arg(epoch)
        rows = self._list(cmee_order, lambda p, b, c, n: _epoch_orders(p, e, b, c, n))
        return [_order_value(o) for o in rows]

    def epoch_options(self, epoch: int) -> list[Option]:
        """The options of epoch ``epoch``."""
        e = self._epoch_arg(epoch)
        rows = self._list(cmee_option, lambda p, b, c, n: _epoch_options(p, e, b, c, n))
        return [_option_value(o) for o in rows]

    def epoch_ledger(self, epoch: int) -> list[LedgerEntry]:
        """The ledger of epoch ``epoch``."""
        e = self._epoch_arg(epoch)
        rows = self._list(cmee_ledger_entry, lambda p, b, c, n: _epoch_ledger(p, e, b, c, n))
        return [_ledger_value(x) for x in rows]

    def epoch_actions(self, epoch: int) -> list[Action]:
        """The action log of epoch ``epoch``."""
        e = self._epoch_arg(epoch)
        rows = self._list(cmee_session_action,
                          lambda p, b, c, n: _epoch_actions(p, e, b, c, n))
        return [_action_value(x) for x in rows]

    # -- events ------------------------------------------------------------------------------

    def on_event(self, fn: Optional[Callable[[Event], Any]]) -> None:
        """Call ``fn(event)`` with an :class:`Event` for every fill, rejection, option
        settlement, scenario applied or cancelled and clock change, after the change is
        committed, inside the session call that caused it (on its thread); None removes it.

        ``fn`` must not call this session (that raises StateError inside ``fn``). An exception
        raised by ``fn`` does not cross into the library: it is raised when the session call
        returns, with a note; the call's change is committed all the same and later events of
        the same call are still delivered. While a :class:`cmee.Driver` drives the session,
        the driver's own listener (publishing the events) replaces ``fn``; ``fn`` is put back
        when the driver lets the session go.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be callable or None, not {type(fn).__name__}")
        with self._use():
            self._listener = fn
            if self._driver is None:
                self._install_listener()

    def _install_listener(self) -> None:
        """Give the C session the Python listener (or none); the caller holds the lock."""
        ptr = self._ptr
        if ptr is None:
            return
        old = self._listener_cb
        if self._listener is None:
            self._listener_cb = None
        else:
            ref = weakref.ref(self)
            self._listener_cb = _ListenerFn(lambda ud, ev: _call_listener(ref, ev))
        _set_listener(ptr, self._listener_cb if self._listener_cb is not None
                      else _NO_LISTENER, None)
        del old


def _call_listener(ref: "weakref.ReferenceType[Session]", ev: Any) -> None:
    """The C listener: never lets an exception into the library."""
    s = ref()
    if s is None:
        return
    try:
        fn = s._listener
        if fn is None:
            return
        e = ev.contents
        event = Event(_name(EVENT_KINDS, e.kind), e.time,
                      _text(e.session_id or b""), _text(e.json or b""))
        s._dispatching = True
        try:
            fn(event)
        finally:
            s._dispatching = False
    except BaseException as exc:  # noqa: B036 - kept and re-raised after the C call
        s._pending.append(exc)


def _call_wall(ref: "weakref.ReferenceType[Session]", fn: Callable[[], Any]) -> int:
    """The C wall clock: never lets an exception into the library."""
    s = ref()
    if s is None:
        return 0
    try:
        s._dispatching = True
        try:
            v = fn()
        finally:
            s._dispatching = False
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"the wall clock must return milliseconds (int or float), not "
                            f"{type(v).__name__}")
        ms = int(v // 1)
        if not _INT64_MIN <= ms <= _INT64_MAX:
            raise OverflowError(f"the wall clock returned {v}, outside int64")
        s._wall_last = ms
        return ms
    except BaseException as exc:  # noqa: B036 - kept and re-raised after the C call
        if s._wall is fn:  # not a clock being replaced (set_wall_clock reads it a last time)
            s._pending.append(exc)
        return s._wall_last


class SessionMarket:
    """A read-only view of a session's market at the session's now: everything comes through
    the session, so nothing after its clock shows. ``session.market``."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def seed(self) -> int:
        """The market's seed."""
        return self._session.config.seed

    def symbols(self) -> list[Symbol]:
        """The specs of the symbols the session trades."""
        return self._session.symbols()

    def quote(self, symbol: str) -> Quote:
        """The session's quote of ``symbol`` now."""
        return self._session.quote(symbol)

    def price(self, symbol: str) -> float:
        """The mid price of ``symbol`` now (the last tick at or before the session's now)."""
        return self._session.quote(symbol).price

    def halted(self, symbol: str) -> bool:
        """Whether a scenario halts trading in ``symbol`` now."""
        return self._session.quote(symbol).halted

    def candles(self, symbol: str, timeframe: Union[str, int], count: int) -> Candles:
        """The session's candles (see :meth:`Session.candles`)."""
        return self._session.candles(symbol, timeframe, count)

    def __repr__(self) -> str:
        return f"<cmee.SessionMarket of {self._session!r}>"


# --------------------------------------------------------------------------------------------
# Stored sessions


def sessions(store: Store) -> list[str]:
    """The ids of the sessions in ``store``, oldest first (:meth:`cmee.Store.sessions`)."""
    if not isinstance(store, Store):
        raise TypeError(f"store must be a cmee.Store, not {type(store).__name__}")
    return store.sessions()


def delete_session(store: Store, id: str) -> None:
    """Delete session ``id`` from ``store`` (:meth:`cmee.Store.delete_session`)."""
    if not isinstance(store, Store):
        raise TypeError(f"store must be a cmee.Store, not {type(store).__name__}")
    store.delete_session(id)


# The driver's functions that a session needs to let its driver go (broadcast.py wraps the
# rest).
from ._lib import DriverPtr  # noqa: E402

_driver_remove = declare("cmee_driver_remove", c_status, DriverPtr, SessionPtr)
