# SPDX-License-Identifier: GPL-3.0-or-later
"""Market microstructure: quotes, a synthetic L2 order book and the trade tape (cmee/book.h).

The values here come from :class:`cmee.Market`: :meth:`~cmee.Market.bbo`,
:meth:`~cmee.Market.book`, :meth:`~cmee.Market.trades`, :meth:`~cmee.Market.spread` and
:meth:`~cmee.Market.size_quantum`. They are derived from the same path as the candles, so they
keep its contracts: a pure function of (seed, symbol settings, spread settings, time), any
moment reachable without replay, and the trades inside a 1m candle sum exactly to its volume,
the first at its open and the last at its close (docs/microstructure.md).
"""

from __future__ import annotations

import ctypes
import math
import operator
from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union, overload

from ._errors import check, error_class
from ._lib import (BOOK_MAX_DEPTH, MarketPtr, c_aggressor, cmee_bbo, cmee_book, cmee_book_fill,
                   cmee_spread_spec, cmee_symbol_spec, cmee_trade, declare, encode, lib)
from .market import (_MAYBE_LONG, _POINT_ZERO, _SUSPECT, TimeLike, _alloc, _fail, _fix_field,
                     _iso, _now_ms, _number, to_ms)

if TYPE_CHECKING:  # pragma: no cover
    from .market import Market

__all__ = ["BBO", "Level", "Book", "Fill", "Trade", "Trades", "Spread", "SIDES",
           "BOOK_MAX_DEPTH"]

#: The aggressor sides, by their C value: ``SIDES[0] == "buy"``, ``SIDES[1] == "sell"``.
SIDES: tuple[str, ...] = ("buy", "sell")

_EINVAL = error_class(1)
_ENOSPACE = error_class(5)
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
_MINUTE = 60_000
# The library's limits (include/cmee/book.h): one trade range, one count of last trades.
_TRADES_MAX_SPAN = 31 * 86_400_000
_TRADES_LAST_MAX = 1_000_000

_c = ctypes
_P = ctypes.POINTER
_spread_get = declare("cmee_market_spread", _c.c_int, MarketPtr, _c.c_char_p,
                      _P(cmee_spread_spec))
_spread_set = declare("cmee_market_set_spread", _c.c_int, MarketPtr, _c.c_char_p,
                      _P(cmee_spread_spec))
_quantum = declare("cmee_market_size_quantum", _c.c_int, MarketPtr, _c.c_char_p,
                   _P(_c.c_double))
_bbo = declare("cmee_market_bbo", _c.c_int, MarketPtr, _c.c_char_p, _c.c_int64, _P(cmee_bbo))
_bbo_ticks = declare("cmee_market_bbo_ticks", _c.c_int, MarketPtr, _c.c_char_p, _c.c_int64,
                     _P(cmee_bbo), _c.c_size_t, _P(_c.c_size_t))
_book = declare("cmee_market_book", _c.c_int, MarketPtr, _c.c_char_p, _c.c_int64, _c.c_int,
                _P(cmee_book))
_trades = declare("cmee_market_trades", _c.c_int, MarketPtr, _c.c_char_p, _c.c_int64,
                  _c.c_int64, _c.c_void_p, _c.c_size_t, _P(_c.c_size_t))
_trades_last = declare("cmee_market_trades_last", _c.c_int, MarketPtr, _c.c_char_p,
                       _c.c_int64, _c.c_size_t, _c.c_void_p, _c.c_size_t, _P(_c.c_size_t))
_walk = declare("cmee_book_walk", _c.c_int, _P(cmee_book), c_aggressor, _c.c_double,
                _P(cmee_book_fill))
_aggressor_name = declare("cmee_aggressor_name", _c.c_char_p, c_aggressor)


def _side_name(v: int) -> str:
    return SIDES[v] if 0 <= v < len(SIDES) else str(v)


def _side_value(side: Any) -> int:
    if not isinstance(side, str):
        raise TypeError(f"side must be 'buy' or 'sell', not {type(side).__name__}")
    try:
        return SIDES.index(side)
    except ValueError:
        raise _fail(_EINVAL, f"side: must be 'buy' or 'sell', got {side!r}") from None


# --------------------------------------------------------------------------------------------
# Values


class Spread(NamedTuple):
    """The spread settings of a symbol (``cmee_spread_spec``).

    The base full spread is the larger of ``bps`` basis points of the minute's open and
    ``ticks`` ticks; it widens with the minute's volatility by ``vol_weight`` (0 keeps it at
    the base) and never falls below one tick.
    """

    bps: float          #: base spread in basis points of the minute's open, [0, 1000]
    ticks: float        #: base spread in ticks, [0, 1e6]
    vol_weight: float   #: how strongly it follows the minute's volatility, [0, 10]


class BBO(NamedTuple):
    """The best bid and offer at a tick moment (``cmee_bbo``).

    ``last`` is the tick's trade price: it equals ``ask`` after a buy and ``bid`` after a
    sell (``side``). ``spread`` is ``ask - bid``, a whole number of ticks, at least one.
    """

    time: int       #: the tick's time, ms UTC
    bid: float      #: best bid
    ask: float      #: best ask
    last: float     #: the tick's price
    spread: float   #: ask - bid as a price
    side: str       #: "buy" or "sell": the aggressor of the print at this tick


class Level(NamedTuple):
    """One price level of a :class:`Book`: price on the tick grid, size > 0."""

    price: float
    size: float


class Fill(NamedTuple):
    """What :meth:`Book.walk` gives: a market order matched against the book's levels."""

    filled: float        #: quantity matched (less than asked when the levels run out)
    avg_price: float     #: size-weighted average price of what was matched, 0 if nothing
    worst_price: float   #: price of the last level touched, 0 if nothing
    levels: int          #: levels touched


class Trade(NamedTuple):
    """One trade of the tape: time (int ms, UTC), price, size and aggressor side.

    A buy ("buy") lifted the ask, a sell ("sell") hit the bid.
    """

    time: int
    price: float
    size: float
    side: str


def _fmt_rows(rows: str) -> str:
    """``rows`` (numbers formatted with %r) with every number as the CLI prints it: the first
    of %.15g/%.16g/%.17g that reads back exactly (see market.Candles.to_csv)."""
    rows = _POINT_ZERO.sub("", rows)
    if "e" in rows or "n" in rows or _MAYBE_LONG.search(rows):
        rows = _SUSPECT.sub(_fix_field, rows)
    return rows


class Book:
    """A synthetic L2 order book of one symbol at one tick moment (``cmee_book``).

    ``bids`` and ``asks`` are lists of :class:`Level` (price, size), best first: level 1 is
    the quote, prices move strictly away from it on the tick grid and sizes strictly grow.
    ``bid`` and ``ask`` are the best prices; ``time`` is the tick moment the book belongs to
    (at or before the time asked). A symbol trading a few ticks above zero may show fewer bid
    levels than asked. Books are values: they do not refer to the market.
    """

    __slots__ = ("_c", "_symbol")

    def __init__(self, symbol: str, c_book: cmee_book):
        """Internal: wrap ``c_book``, a filled ``cmee_book`` that the Book then owns."""
        self._c = c_book
        self._symbol = symbol

    @property
    def symbol(self) -> str:
        """The symbol's name."""
        return self._symbol

    @property
    def time(self) -> int:
        """The tick moment of the book, int ms UTC."""
        return self._c.time

    @property
    def bid(self) -> float:
        """The best bid (``bids[0].price``)."""
        return self._c.bid

    @property
    def ask(self) -> float:
        """The best ask (``asks[0].price``)."""
        return self._c.ask

    @property
    def spread(self) -> float:
        """``ask - bid`` as a float difference (:meth:`Market.bbo` has the exact tick
        multiple)."""
        return self._c.ask - self._c.bid

    @property
    def bids(self) -> list[Level]:
        """The bid levels, best (highest) first: a new list of :class:`Level`."""
        return [Level(lv.price, lv.size) for lv in self._c.bids[:self._c.nbids]]

    @property
    def asks(self) -> list[Level]:
        """The ask levels, best (lowest) first: a new list of :class:`Level`."""
        return [Level(lv.price, lv.size) for lv in self._c.asks[:self._c.nasks]]

    def walk(self, side: str, qty: float) -> Fill:
        """Match a market order of ``qty`` against this book (``cmee_book_walk``).

        A "buy" takes the asks from level 1 outwards, a "sell" the bids, each level up to its
        size; an order larger than level 1 pays a worse average price (slippage). Returns a
        :class:`Fill`; ``filled`` is less than ``qty`` when the levels run out. Raises
        InvalidArgumentError (unknown side, ``qty`` not > 0 and finite), TypeError.
        """
        s = _side_value(side)
        q = _number("qty", qty)
        if not (q > 0 and math.isfinite(q)):
            raise _fail(_EINVAL, f"qty: must be > 0 and finite, got {qty!r}")
        out = cmee_book_fill()
        check(_walk(ctypes.byref(self._c), s, q, ctypes.byref(out)), "book walk: bad argument")
        return Fill(out.filled, out.avg_price, out.worst_price, out.levels)

    def to_csv(self) -> str:
        """The book as CSV text, byte for byte what ``cmee book`` prints for it.

        The header ``side,level,price,size``, then the bids and then the asks, each from
        level 1 outwards; numbers as the first of %.15g/%.16g/%.17g that reads back exactly.
        """
        rows = [f"{name},{i},{lv.price!r},{lv.size!r}\n"
                for name, levels in (("bid", self.bids), ("ask", self.asks))
                for i, lv in enumerate(levels, 1)]
        return "side,level,price,size\n" + _fmt_rows("".join(rows))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Book):
            return NotImplemented
        return (self._symbol == other._symbol and self.time == other.time
                and self.bids == other.bids and self.asks == other.asks)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"<Book {self._symbol} at {_iso(self.time)}: bid {self.bid!r} x "
                f"{self._c.nbids} levels, ask {self.ask!r} x {self._c.nasks} levels>")


# The fields of cmee_trade as word indices: int64 'q' and double 'd' words of 8 bytes, the
# int side a 4-byte 'i' word.
_TRADE_SIZE = ctypes.sizeof(cmee_trade)
_T_STRIDE = _TRADE_SIZE // 8
_T_TIME = cmee_trade.time.offset // 8
_T_PRICE = cmee_trade.price.offset // 8
_T_SIZE = cmee_trade.size.offset // 8
_T_SIDE = cmee_trade.side.offset // 4
assert _TRADE_SIZE % 8 == 0 and cmee_trade.side.size == 4


class Trades(Sequence[Trade]):
    """Trades of one symbol, oldest first, as :meth:`Market.trades` returns them.

    ``len(t)``; ``t[i]`` is a :class:`Trade` (negative indices work), ``t[a:b]`` another
    Trades; iterating yields Trade tuples. Columns as read-only memoryviews: ``t.time``
    (int64 ``'q'``), ``t.price`` and ``t.size`` (double ``'d'``); ``t.sides`` is a list of
    "buy"/"sell". Trades own their data: they stay valid after the market is closed. Two
    Trades are equal when symbol and every trade are.
    """

    __slots__ = ("_raw", "_q", "_d", "_i", "_n", "_symbol", "__weakref__")

    def __init__(self, symbol: str, raw: Any):
        """Internal: wrap ``raw``, the bytes of a C ``cmee_trade`` array."""
        mv = memoryview(raw).cast("B")
        if len(mv) % _TRADE_SIZE:
            raise ValueError("raw trade data must be a whole number of cmee_trade")
        self._raw = mv
        self._q = mv.cast("q")
        self._d = mv.cast("d")
        self._i = mv.cast("i")
        self._n = len(mv) // _TRADE_SIZE
        self._symbol = symbol

    @property
    def symbol(self) -> str:
        """The symbol's name."""
        return self._symbol

    def __len__(self) -> int:
        return self._n

    def _col(self, src: memoryview, word: int, code: str) -> memoryview:
        buf = array(code, [0]) * self._n
        memoryview(buf)[:] = src[word::_T_STRIDE]
        return memoryview(buf).toreadonly()

    @property
    def time(self) -> memoryview:
        """Trade times, int64 ms UTC: a read-only 'q' memoryview."""
        return self._col(self._q, _T_TIME, "q")

    @property
    def price(self) -> memoryview:
        """Trade prices: a read-only 'd' memoryview."""
        return self._col(self._d, _T_PRICE, "d")

    @property
    def size(self) -> memoryview:
        """Trade sizes (whole multiples of the symbol's size quantum): a 'd' memoryview."""
        return self._col(self._d, _T_SIZE, "d")

    @property
    def sides(self) -> list[str]:
        """The aggressor sides, "buy" or "sell", as a list."""
        return [_side_name(v) for v in self._i[_T_SIDE::_T_STRIDE * 2]]

    def _trade(self, i: int) -> Trade:
        w = i * _T_STRIDE
        return Trade(self._q[w + _T_TIME], self._d[w + _T_PRICE], self._d[w + _T_SIZE],
                     _side_name(self._i[2 * w + _T_SIDE]))

    @overload
    def __getitem__(self, index: int) -> Trade: ...

    @overload
    def __getitem__(self, index: slice) -> "Trades": ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Trade, "Trades"]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._n)
            if step == 1:
                stop = max(start, stop)
                return Trades(self._symbol, self._raw[start * _TRADE_SIZE:stop * _TRADE_SIZE])
            out = bytearray()
            for i in range(start, stop, step):
                out += self._raw[i * _TRADE_SIZE:(i + 1) * _TRADE_SIZE]
            return Trades(self._symbol, out)
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"Trades indices must be int or slice, not "
                            f"{type(index).__name__}") from None
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("Trades index out of range")
        return self._trade(i)

    def __iter__(self) -> Iterator[Trade]:
        s, q, d = _T_STRIDE, self._q, self._d
        sides = map(_side_name, self._i[_T_SIDE::2 * s])
        return map(Trade._make, zip(q[_T_TIME::s], d[_T_PRICE::s], d[_T_SIZE::s], sides))

    def __reversed__(self) -> Iterator[Trade]:
        return iter(self[::-1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trades):
            return NotImplemented
        return self._symbol == other._symbol and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self._n:
            return f"<Trades {self._symbol}: empty>"
        return (f"<Trades {self._symbol}: {self._n} trades, {_iso(self._trade(0).time)} to "
                f"{_iso(self._trade(self._n - 1).time)}>")

    def to_csv(self) -> str:
        """The trades as CSV text, byte for byte what ``cmee trades`` prints for them.

        A header line ``time,price,size,side`` and one line per trade; numbers as the first
        of %.15g/%.16g/%.17g that reads back exactly.
        """
        if not self._n:
            return "time,price,size,side\n"
        s, q, d = _T_STRIDE, self._q, self._d
        nums = "\n".join(map("%d,%r,%r".__mod__,
                             zip(q[_T_TIME::s], d[_T_PRICE::s], d[_T_SIZE::s]))) + "\n"
        lines = _fmt_rows(nums).splitlines()
        return "time,price,size,side\n" + "".join(
            f"{line},{side}\n" for line, side in zip(lines, self.sides))


# --------------------------------------------------------------------------------------------
# The Market methods (market.py documents them)


def market_spread(m: "Market", symbol: str) -> Spread:
    key = encode(symbol, "symbol")
    out = cmee_spread_spec()
    with m._lock.read():
        ptr = m._handle()
        m._check(ptr, _spread_get(ptr, key, ctypes.byref(out)))
    return Spread(out.bps, out.ticks, out.vol_weight)


def market_set_spread(m: "Market", symbol: str, bps: Any, ticks: Any, vol_weight: Any) -> Spread:
    key = encode(symbol, "symbol")
    given = {k: _number(k, v) for k, v in (("bps", bps), ("ticks", ticks),
                                            ("vol_weight", vol_weight)) if v is not None}
    spec = cmee_spread_spec()
    with m._lock.write():
        ptr = m._handle()
        m._check(ptr, _spread_get(ptr, key, ctypes.byref(spec)))
        for k, v in given.items():
            setattr(spec, k, v)
        m._check(ptr, _spread_set(ptr, key, ctypes.byref(spec)))
        m._check(ptr, _spread_get(ptr, key, ctypes.byref(spec)))
    return Spread(spec.bps, spec.ticks, spec.vol_weight)


def market_size_quantum(m: "Market", symbol: str) -> float:
    key = encode(symbol, "symbol")
    out = ctypes.c_double()
    with m._lock.read():
        ptr = m._handle()
        m._check(ptr, _quantum(ptr, key, ctypes.byref(out)))
    return out.value


def _bbo_value(q: cmee_bbo) -> BBO:
    return BBO(q.time, q.bid, q.ask, q.last, q.spread, _side_name(q.side))


def market_bbo(m: "Market", symbol: str, at: Optional[TimeLike]) -> BBO:
    key = encode(symbol, "symbol")
    t = _now_ms() if at is None else to_ms(at, "at")
    out = cmee_bbo()
    with m._lock.read():
        ptr = m._handle()
        m._check(ptr, _bbo(ptr, key, t, ctypes.byref(out)))
    return _bbo_value(out)


def market_bbo_ticks(m: "Market", symbol: str, t: TimeLike) -> list[BBO]:
    key = encode(symbol, "symbol")
    t_ms = to_ms(t, "t")
    cap = 600
    buf = (cmee_bbo * cap)()
    written = ctypes.c_size_t()
    with m._lock.read():
        ptr = m._handle()
        st = _bbo_ticks(ptr, key, t_ms, buf, cap, ctypes.byref(written))
        if st == _ENOSPACE.status:  # a library allowing more ticks a minute
            m._check(ptr, _bbo_ticks(ptr, key, t_ms, None, 0, ctypes.byref(written)))
            cap = written.value
            buf = (cmee_bbo * cap)()
            st = _bbo_ticks(ptr, key, t_ms, buf, cap, ctypes.byref(written))
        m._check(ptr, st)
    return [_bbo_value(q) for q in buf[:written.value]]


def market_book(m: "Market", symbol: str, at: Optional[TimeLike], depth: Any) -> Book:
    key = encode(symbol, "symbol")
    t = _now_ms() if at is None else to_ms(at, "at")
    if isinstance(depth, bool) or not hasattr(type(depth), "__index__"):
        raise TypeError(f"depth must be an int, not {type(depth).__name__}")
    d = operator.index(depth)
    if not 1 <= d <= BOOK_MAX_DEPTH:
        raise _fail(_EINVAL, f"depth: must be in [1, {BOOK_MAX_DEPTH}], got {d}")
    out = cmee_book()
    with m._lock.read():
        ptr = m._handle()
        m._check(ptr, _book(ptr, key, t, d, ctypes.byref(out)))
    return Book(symbol, out)


def market_trades(m: "Market", symbol: str, count: Any, start: Optional[TimeLike],
                  end: Optional[TimeLike]) -> Trades:
    key = encode(symbol, "symbol")
    end_ms = _now_ms() if end is None else to_ms(end, "end")
    written = ctypes.c_size_t()
    if count is not None:
        if start is not None:
            raise _fail(_EINVAL, "count: give count or start, not both")
        if isinstance(count, bool) or not hasattr(type(count), "__index__"):
            raise TypeError(f"count must be an int, not {type(count).__name__}")
        n = operator.index(count)
        if not 1 <= n <= _TRADES_LAST_MAX:
            raise _fail(_EINVAL, f"count: must be in [1, {_TRADES_LAST_MAX}], got {n}")
        with m._lock.read():
            ptr = m._handle()
            # Checks the symbol and end before the buffer is made.
            m._check(ptr, _trades_last(ptr, key, end_ms, n, None, 0, ctypes.byref(written)))
            raw = _alloc(n * _TRADE_SIZE)
            m._check(ptr, _trades_last(ptr, key, end_ms, n,
                                       (ctypes.c_char * len(raw)).from_buffer(raw), n,
                                       ctypes.byref(written)))
    else:
        if start is None:
            raise _fail(_EINVAL, "count: give count (the last trades) or start (a range)")
        start_ms = to_ms(start, "start")
        with m._lock.read():
            ptr = m._handle()
            span = end_ms - start_ms
            if not 0 <= span <= _TRADES_MAX_SPAN:
                # The library refuses the range before generating anything: its message.
                m._check(ptr, _trades(ptr, key, start_ms, end_ms, None, 0,
                                      ctypes.byref(written)))
            # Room for a trade at every tick of every minute of the range: the library fills
            # it in one pass instead of counting first. A large buffer is an anonymous
            # mapping, so the pages past the last trade are never touched.
            spec = cmee_symbol_spec()
            tpm = 1
            if lib.cmee_market_symbol(ptr, key, ctypes.byref(spec)) == 0:
                tpm = spec.ticks_per_minute
            cap = (max(span, 0) // _MINUTE + 2) * tpm
            raw = _alloc(cap * _TRADE_SIZE)
            m._check(ptr, _trades(ptr, key, start_ms, end_ms,
                                  (ctypes.c_char * len(raw)).from_buffer(raw), cap,
                                  ctypes.byref(written)))
    return Trades(symbol, memoryview(raw)[:written.value * _TRADE_SIZE])
