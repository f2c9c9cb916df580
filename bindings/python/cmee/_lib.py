# SPDX-License-Identifier: GPL-3.0-or-later
"""Loading of the libcmee shared library and the ctypes declarations shared by the modules.

Internal module. It finds and loads ``libcmee.so`` (see :func:`candidates` for the search
order), checks that the library matches these bindings (version and structure sizes) and
offers :func:`declare`, which gives a library function its argument and result types. The
ctypes structures mirror the C ones field for field; the opaque handle types are distinct, so
passing the wrong kind of handle raises :class:`ctypes.ArgumentError` instead of crashing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional, Self

__all__ = [
    "ENV_VAR", "REQUIRED_MAJOR", "REQUIRED_MINOR", "lib", "library_path", "declare",
    "candidates", "load", "encode", "Handle", "MarketPtr",
    "c_status", "c_timeframe", "c_asset_class",
    "cmee_candle", "cmee_tick", "cmee_symbol_spec", "cmee_error",
    "SYMBOL_MAX", "TIME_MIN", "TIME_MAX", "ANCHOR_TIME", "MARKET_MAX_QUERY",
]
__all__ += ["ScenarioPtr", "SCENARIO_NAME_MAX", "cmee_application"]

#: Environment variable naming the shared library to load; tried first.
ENV_VAR = "CMEE_LIBRARY"

#: The library's major version must equal this, and its minor version be at least
#: :data:`REQUIRED_MINOR` (the bindings use nothing newer).
REQUIRED_MAJOR = 0
REQUIRED_MINOR = 2

# Constants of include/cmee/market.h.
SYMBOL_MAX = 16
TIME_MIN = 946684800000
TIME_MAX = TIME_MIN + 65536 * 86400000
ANCHOR_TIME = 1735689600000
MARKET_MAX_QUERY = 10000000

# C enums are ints on every ABI libcmee supports.
c_status = ctypes.c_int
c_timeframe = ctypes.c_int
c_asset_class = ctypes.c_int


class cmee_candle(ctypes.Structure):
    """``cmee_candle``: open time in ms (UTC), OHLC prices and volume."""

    _fields_ = [
        ("time", ctypes.c_int64),
        ("open", ctypes.c_double),
        ("high", ctypes.c_double),
        ("low", ctypes.c_double),
        ("close", ctypes.c_double),
        ("volume", ctypes.c_double),
    ]


class cmee_tick(ctypes.Structure):
    """``cmee_tick``: one price update inside a 1m candle."""

    _fields_ = [
        ("time", ctypes.c_int64),
        ("price", ctypes.c_double),
        ("volume", ctypes.c_double),
    ]


class cmee_symbol_spec(ctypes.Structure):
    """``cmee_symbol_spec``: everything that defines one symbol's series."""

    _fields_ = [
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("asset_class", c_asset_class),
        ("seed_price", ctypes.c_double),
        ("tick_size", ctypes.c_double),
        ("precision", ctypes.c_int),
        ("volatility", ctypes.c_double),
        ("drift", ctypes.c_double),
        ("volume", ctypes.c_double),
        ("ticks_per_minute", ctypes.c_int),
        ("tail_dof", ctypes.c_double),
        ("clustering", ctypes.c_double),
        ("jump_rate", ctypes.c_double),
        ("jump_mean", ctypes.c_double),
        ("jump_stdev", ctypes.c_double),
    ]


class cmee_error(ctypes.Structure):
    """``cmee_error``: details of a failure of a call without a handle."""

    _fields_ = [
        ("status", c_status),
        ("field", ctypes.c_char * 32),
        ("text", ctypes.c_char * 192),
    ]


class Owned:
    """Mixin for an object owning a C handle in ``self._ptr``: a context manager whose exit calls
    ``close()``, and a finaliser that frees the handle with the C function named by ``_free``
    if ``close()`` was never called."""

    _free: str = ""

    def __enter__(self) -> "Self":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        ptr = getattr(self, "_ptr", None)
        if ptr is not None:
            self._ptr = None
            try:
                getattr(lib, self._free)(ptr)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass


class Handle(ctypes.c_void_p):
    """Base of the opaque handle types: accepts only instances of its own class.

    Subclass it once per C handle type (``class FooPtr(Handle): pass``). A plain
    ``ctypes.c_void_p`` would accept any integer or any other handle; this one makes ctypes
    raise :class:`ctypes.ArgumentError` for anything but the right handle type, and for a
    NULL handle.
    """

    @classmethod
    def from_param(cls, obj: Any) -> "Handle":
        if type(obj) is not cls:
            raise TypeError(f"expected a {cls.__name__}, got {type(obj).__name__}")
        if not obj.value:
            raise TypeError(f"{cls.__name__} is NULL (closed or never opened)")
        return obj


class MarketPtr(Handle):
    """``cmee_market *``."""


class ScenarioPtr(Handle):
    """``cmee_scenario *``."""


# Constants and structures of include/cmee/scenario.h (since 0.2.0). The library has no
# sizeof function for the new structures; tests/python/test_scenario.py checks them against
# the header with a C compiler when one is found, and against the LP64 sizes otherwise.
SCENARIO_NAME_MAX = 64


class cmee_application(ctypes.Structure):
    """``cmee_application``: one application of a scenario to a market."""

    _fields_ = [
        ("id", ctypes.c_uint32),
        ("name", ctypes.c_char * SCENARIO_NAME_MAX),
        ("t0", ctypes.c_int64),
        ("end", ctypes.c_int64),
    ]


# --------------------------------------------------------------------------------------------
# Sessions (include/cmee/session.h) and the broadcaster (include/cmee/broadcast.h), since
# 0.2.0. The library reports the sizes of these structures (cmee_sizeof_session_struct,
# cmee_sizeof_message); _check_session_layouts compares them when the library is loaded.

__all__ += [
    "SessionPtr", "DriverPtr", "BroadcasterPtr", "SubscriberPtr",
    "MONEY_SCALE", "SESSION_ID_MAX", "SESSION_LABEL_MAX", "SESSION_MAX_SYMBOLS", "CURRENCY_MAX",
    "SESSION_CLASSES", "TOPIC_MAX", "EVENT_TYPE_MAX", "PAYLOAD_MAX",
    "cmee_session_config", "cmee_impact_config", "cmee_clock", "cmee_quote",
    "cmee_order_request", "cmee_order",
    "cmee_position", "cmee_option_request", "cmee_option", "cmee_ledger_entry", "cmee_account",
    "cmee_session_event", "cmee_session_action", "cmee_replay_result", "cmee_message", "cmee_broadcast_stats", "cmee_subscriber_stats",
    "cmee_subscriber_options", "SESSION_STRUCTS",
]

MONEY_SCALE = 100_000_000
SESSION_ID_MAX = 40
SESSION_LABEL_MAX = 64
SESSION_MAX_SYMBOLS = 32
CURRENCY_MAX = 8
SESSION_CLASSES = 7
TOPIC_MAX = 64
EVENT_TYPE_MAX = 32
PAYLOAD_MAX = 1024


class SessionPtr(Handle):
    """``cmee_session *``."""


class DriverPtr(Handle):
    """``cmee_driver *``."""


class BroadcasterPtr(Handle):
    """``cmee_broadcaster *``."""


class SubscriberPtr(Handle):
    """``cmee_subscriber *``."""


class cmee_impact_config(ctypes.Structure):
    """``cmee_impact_config``: a session's market impact settings."""

    _fields_ = [
        ("model", ctypes.c_int),
        ("coefficient", ctypes.c_double),
        ("half_life", ctypes.c_int64),
    ]


class cmee_session_config(ctypes.Structure):
    """``cmee_session_config``: what a session is created from."""

    _fields_ = [
        ("id", ctypes.c_char * SESSION_ID_MAX),
        ("label", ctypes.c_char * SESSION_LABEL_MAX),
        ("seed", ctypes.c_uint64),
        ("start_time", ctypes.c_int64),
        ("speed", ctypes.c_double),
        ("paused", ctypes.c_bool),
        ("manual_clock", ctypes.c_bool),
        ("initial_balance", ctypes.c_int64),
        ("currency", ctypes.c_char * CURRENCY_MAX),
        ("fee_rate", ctypes.c_double),
        ("spread_bps", ctypes.c_double),
        ("option_payout", ctypes.c_double),
        ("symbols", (ctypes.c_char * SYMBOL_MAX) * SESSION_MAX_SYMBOLS),
        ("nsymbols", ctypes.c_size_t),
        ("scenario", ctypes.c_void_p),
        ("fill_model", ctypes.c_int),
        ("leverage", ctypes.c_double),
        ("max_leverage", ctypes.c_double * SESSION_CLASSES),
        ("margin_call_level", ctypes.c_double),
        ("maintenance_level", ctypes.c_double),
        ("impact", cmee_impact_config),
    ]


class cmee_clock(ctypes.Structure):
    """``cmee_clock``: the state of a session's clock."""

    _fields_ = [
        ("now", ctypes.c_int64),
        ("speed", ctypes.c_double),
        ("paused", ctypes.c_bool),
        ("manual", ctypes.c_bool),
        ("processed", ctypes.c_int64),
        ("epoch", ctypes.c_uint64),
    ]


class cmee_quote(ctypes.Structure):
    """``cmee_quote``: a quote at the session's now."""

    _fields_ = [
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("time", ctypes.c_int64),
        ("price", ctypes.c_double),
        ("bid", ctypes.c_double),
        ("ask", ctypes.c_double),
        ("halted", ctypes.c_bool),
    ]


class cmee_order_request(ctypes.Structure):
    """``cmee_order_request``: an order to place."""

    _fields_ = [
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("side", ctypes.c_int),
        ("type", ctypes.c_int),
        ("quantity", ctypes.c_double),
        ("price", ctypes.c_double),
        ("stop_loss", ctypes.c_double),
        ("take_profit", ctypes.c_double),
    ]


class cmee_order(ctypes.Structure):
    """``cmee_order``: an order as the session records it."""

    _fields_ = [
        ("id", ctypes.c_uint64),
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("side", ctypes.c_int),
        ("type", ctypes.c_int),
        ("state", ctypes.c_int),
        ("quantity", ctypes.c_double),
        ("price", ctypes.c_double),
        ("stop_loss", ctypes.c_double),
        ("take_profit", ctypes.c_double),
        ("created", ctypes.c_int64),
        ("closed", ctypes.c_int64),
        ("fill_price", ctypes.c_double),
        ("fee", ctypes.c_int64),
        ("epoch", ctypes.c_uint64),
    ]


class cmee_position(ctypes.Structure):
    """``cmee_position``: the net holding of one symbol."""

    _fields_ = [
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("quantity", ctypes.c_double),
        ("avg_price", ctypes.c_double),
        ("mark", ctypes.c_double),
        ("unrealised", ctypes.c_int64),
        ("realised", ctypes.c_int64),
        ("stop_loss", ctypes.c_double),
        ("take_profit", ctypes.c_double),
        ("leverage", ctypes.c_double),
        ("margin", ctypes.c_int64),
    ]


class cmee_option_request(ctypes.Structure):
    """``cmee_option_request``: a binary option to buy."""

    _fields_ = [
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("kind", ctypes.c_int),
        ("stake", ctypes.c_int64),
        ("duration", ctypes.c_int64),
        ("payout", ctypes.c_double),
    ]


class cmee_option(ctypes.Structure):
    """``cmee_option``: a binary option as the session records it."""

    _fields_ = [
        ("id", ctypes.c_uint64),
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("kind", ctypes.c_int),
        ("state", ctypes.c_int),
        ("stake", ctypes.c_int64),
        ("payout", ctypes.c_double),
        ("opened", ctypes.c_int64),
        ("expires", ctypes.c_int64),
        ("strike", ctypes.c_double),
        ("settle_price", ctypes.c_double),
        ("paid", ctypes.c_int64),
        ("epoch", ctypes.c_uint64),
    ]


class cmee_ledger_entry(ctypes.Structure):
    """``cmee_ledger_entry``: one ledger entry."""

    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("time", ctypes.c_int64),
        ("kind", ctypes.c_int),
        ("amount", ctypes.c_int64),
        ("balance", ctypes.c_int64),
        ("ref", ctypes.c_uint64),
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("epoch", ctypes.c_uint64),
    ]


class cmee_account(ctypes.Structure):
    """``cmee_account``: the account at the session's now."""

    _fields_ = [
        ("currency", ctypes.c_char * CURRENCY_MAX),
        ("balance", ctypes.c_int64),
        ("unrealised", ctypes.c_int64),
        ("equity", ctypes.c_int64),
        ("used_margin", ctypes.c_int64),
        ("free_margin", ctypes.c_int64),
        ("positions", ctypes.c_size_t),
        ("open_orders", ctypes.c_size_t),
        ("open_options", ctypes.c_size_t),
        ("ledger_entries", ctypes.c_size_t),
        ("margin_level", ctypes.c_double),
        ("margin_call", ctypes.c_bool),
        ("epoch", ctypes.c_uint64),
    ]


class cmee_session_action(ctypes.Structure):
    """``cmee_session_action``: one entry of a session's action log."""

    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("time", ctypes.c_int64),
        ("kind", ctypes.c_int),
        ("order", cmee_order_request),
        ("option", cmee_option_request),
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("stop_loss", ctypes.c_double),
        ("take_profit", ctypes.c_double),
        ("ref", ctypes.c_uint64),
        ("speed", ctypes.c_double),
        ("ms", ctypes.c_int64),
        ("scenario", ctypes.c_char * SCENARIO_NAME_MAX),
    ]


class cmee_replay_result(ctypes.Structure):
    """``cmee_replay_result``: the outcome of comparing two sessions' records."""

    _fields_ = [
        ("same", ctypes.c_bool),
        ("actions", ctypes.c_uint64),
        ("orders", ctypes.c_size_t),
        ("options", ctypes.c_size_t),
        ("ledger_entries", ctypes.c_size_t),
        ("record", ctypes.c_char * 16),
        ("index", ctypes.c_uint64),
        ("field", ctypes.c_char * 32),
        ("original", ctypes.c_char * 64),
        ("replayed", ctypes.c_char * 64),
    ]


class cmee_session_event(ctypes.Structure):
    """``cmee_session_event``: an event passed to a session's listener (strings borrowed)."""

    _fields_ = [
        ("kind", ctypes.c_int),
        ("time", ctypes.c_int64),
        ("session_id", ctypes.c_char_p),
        ("json", ctypes.c_char_p),
    ]


class cmee_message(ctypes.Structure):
    """``cmee_message``: one broadcaster message (about 1.3 KB)."""

    _fields_ = [
        ("topic", ctypes.c_char * TOPIC_MAX),
        ("kind", ctypes.c_int),
        ("timeframe", c_timeframe),
        ("time", ctypes.c_int64),
        ("seq", ctypes.c_uint64),
        ("published_ns", ctypes.c_int64),
        ("dropped", ctypes.c_uint64),
        ("symbol", ctypes.c_char * SYMBOL_MAX),
        ("tick", cmee_tick),
        ("candle", cmee_candle),
        ("type", ctypes.c_char * EVENT_TYPE_MAX),
        ("payload_len", ctypes.c_size_t),
        ("payload", ctypes.c_char * (PAYLOAD_MAX + 1)),
    ]


class cmee_broadcast_stats(ctypes.Structure):
    """``cmee_broadcast_stats``: totals of a broadcaster."""

    _fields_ = [
        ("published", ctypes.c_uint64),
        ("queued", ctypes.c_uint64),
        ("delivered", ctypes.c_uint64),
        ("dropped", ctypes.c_uint64),
        ("subscribers", ctypes.c_size_t),
    ]


class cmee_subscriber_stats(ctypes.Structure):
    """``cmee_subscriber_stats``: figures of one subscriber."""

    _fields_ = [
        ("queued", ctypes.c_size_t),
        ("capacity", ctypes.c_size_t),
        ("patterns", ctypes.c_size_t),
        ("delivered", ctypes.c_uint64),
        ("dropped", ctypes.c_uint64),
    ]


class cmee_subscriber_options(ctypes.Structure):
    """``cmee_subscriber_options`` for a polled subscriber.

    The bindings make polled subscribers only and set no group: every field after
    ``overflow`` is a NULL pointer. The struct has no size function in the library, so the
    trailing ``_reserved`` words keep it at least as large as the C one if fields are added
    (all zeros is the documented default of each); the library reads only its own size.
    """

    _fields_ = [
        ("capacity", ctypes.c_size_t),
        ("overflow", ctypes.c_int),
        ("callback", ctypes.c_void_p),
        ("ud", ctypes.c_void_p),
        ("group", ctypes.c_void_p),
        ("_reserved", ctypes.c_void_p * 8),
    ]


#: The session structures whose size the library reports by name.
SESSION_STRUCTS = (cmee_session_config, cmee_clock, cmee_quote, cmee_order_request, cmee_order,
                   cmee_position, cmee_option_request, cmee_option, cmee_ledger_entry,
                   cmee_account, cmee_session_event, cmee_impact_config, cmee_session_action,
                   cmee_replay_result)


def _check_session_layouts(handle: ctypes.CDLL, path: str) -> None:
    """Raise ImportError unless the library's session structures and ``cmee_message`` have
    the sizes of the ctypes structures above."""
    by_name = _declare_in(handle, path, "cmee_sizeof_session_struct", ctypes.c_size_t,
                          (ctypes.c_char_p,))
    sizes = [(st.__name__, by_name(st.__name__.encode("ascii")), st) for st in SESSION_STRUCTS]
    of_message = _declare_in(handle, path, "cmee_sizeof_message", ctypes.c_size_t, ())
    sizes.append(("cmee_message", of_message(), cmee_message))
    for name, c_size, struct in sizes:
        if c_size != ctypes.sizeof(struct):
            raise ImportError(f"cmee: layout mismatch: sizeof({name}) is {c_size} in {path} "
                              f"but {ctypes.sizeof(struct)} in the bindings")


# --------------------------------------------------------------------------------------------
# Microstructure (include/cmee/book.h), since 0.2.0: quotes, order books and the trade tape.
# The library reports the sizes of cmee_bbo, cmee_trade and cmee_book; _check_book_layouts
# compares them when the library is loaded. cmee_book_level, cmee_book_fill and
# cmee_spread_spec have no size function: tests/python/test_book.py checks them against the
# header with a C compiler.

__all__ += [
    "BOOK_MAX_DEPTH", "c_aggressor", "cmee_spread_spec", "cmee_bbo", "cmee_trade",
    "cmee_book_level", "cmee_book", "cmee_book_fill", "BOOK_STRUCTS",
]

#: ``CMEE_BOOK_MAX_DEPTH``: the most levels per side of a book.
BOOK_MAX_DEPTH = 50

#: ``cmee_aggressor``: 0 buy, 1 sell.
c_aggressor = ctypes.c_int


class cmee_spread_spec(ctypes.Structure):
    """``cmee_spread_spec``: the spread settings of a symbol."""

    _fields_ = [
        ("bps", ctypes.c_double),
        ("ticks", ctypes.c_double),
        ("vol_weight", ctypes.c_double),
    ]


class cmee_bbo(ctypes.Structure):
    """``cmee_bbo``: the best bid and offer at a tick moment."""

    _fields_ = [
        ("time", ctypes.c_int64),
        ("bid", ctypes.c_double),
        ("ask", ctypes.c_double),
        ("last", ctypes.c_double),
        ("spread", ctypes.c_double),
        ("side", c_aggressor),
    ]


class cmee_trade(ctypes.Structure):
    """``cmee_trade``: one trade of the tape."""

    _fields_ = [
        ("time", ctypes.c_int64),
        ("price", ctypes.c_double),
        ("size", ctypes.c_double),
        ("side", c_aggressor),
    ]


class cmee_book_level(ctypes.Structure):
    """``cmee_book_level``: one price level of a book."""

    _fields_ = [
        ("price", ctypes.c_double),
        ("size", ctypes.c_double),
    ]


class cmee_book(ctypes.Structure):
    """``cmee_book``: a synthetic L2 order book at one tick moment (about 1.6 KiB)."""

    _fields_ = [
        ("time", ctypes.c_int64),
        ("bid", ctypes.c_double),
        ("ask", ctypes.c_double),
        ("nbids", ctypes.c_size_t),
        ("nasks", ctypes.c_size_t),
        ("bids", cmee_book_level * BOOK_MAX_DEPTH),
        ("asks", cmee_book_level * BOOK_MAX_DEPTH),
    ]


class cmee_book_fill(ctypes.Structure):
    """``cmee_book_fill``: what walking a book for a quantity gives."""

    _fields_ = [
        ("filled", ctypes.c_double),
        ("avg_price", ctypes.c_double),
        ("worst_price", ctypes.c_double),
        ("levels", ctypes.c_size_t),
    ]


#: The book.h structures whose size the library reports, by their cmee_sizeof_ suffix.
BOOK_STRUCTS = (("bbo", cmee_bbo), ("trade", cmee_trade), ("book", cmee_book))


def _check_book_layouts(handle: ctypes.CDLL, path: str) -> None:
    """Raise ImportError unless the library's ``cmee_bbo``, ``cmee_trade`` and ``cmee_book``
    have the sizes of the ctypes structures above."""
    for suffix, struct in BOOK_STRUCTS:
        c_size = _declare_in(handle, path, f"cmee_sizeof_{suffix}", ctypes.c_size_t, ())()
        if c_size != ctypes.sizeof(struct):
            raise ImportError(f"cmee: layout mismatch: sizeof(cmee_{suffix}) is {c_size} in "
                              f"{path} but {ctypes.sizeof(struct)} in the bindings")


# --------------------------------------------------------------------------------------------
# Finding and loading the library.


def _repo_root(start: str) -> Optional[str]:
    """The nearest directory at or above ``start`` that looks like a libcmee checkout."""
    d = os.path.abspath(start)
    while True:
        if (os.path.isfile(os.path.join(d, "meson.build"))
                and os.path.isfile(os.path.join(d, "include", "cmee", "core.h"))):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def candidates(package_dir: Optional[str] = None,
               environ: Optional[Mapping[str, str]] = None,
               find_library: Any = ctypes.util.find_library) -> list[tuple[str, str]]:
    """The places to try, in order, as ``(description, path or name)`` pairs.

    1. the ``CMEE_LIBRARY`` environment variable (if set and not empty);
    2. a ``libcmee.so*`` file in the package directory (``package_dir``);
    3. in a source checkout containing the package: ``build/lib/libcmee.so``, then any
       ``build*/lib/libcmee.so`` of the checkout's root;
    4. ``ctypes.util.find_library("cmee")`` (the installed library); "" if it finds none.

    ``package_dir``, ``environ`` and ``find_library`` default to the real ones; tests inject
    others. Nothing is loaded here; a pattern ending in ``*`` stands for "no file matched".
    """
    if package_dir is None:
        package_dir = os.path.dirname(os.path.abspath(__file__))
    if environ is None:
        environ = os.environ
    out: list[tuple[str, str]] = []
    env = environ.get(ENV_VAR, "")
    if env:
        out.append((f"${ENV_VAR}", env))
    beside = sorted(glob.glob(os.path.join(glob.escape(package_dir), "libcmee.so*")))
    if beside:
        out.extend(("package directory", p) for p in beside)
    else:
        out.append(("package directory", os.path.join(package_dir, "libcmee.so*")))
    root = _repo_root(package_dir)
    if root is not None:
        main = os.path.join(root, "build", "lib", "libcmee.so")
        out.append(("source checkout build directory", main))
        others = glob.glob(os.path.join(glob.escape(root), "build*", "lib", "libcmee.so"))
        for p in sorted(others):
            if os.path.abspath(p) != os.path.abspath(main):
                out.append(("source checkout build directory", p))
    found = find_library("cmee") if find_library is not None else None
    out.append(("system, ctypes.util.find_library('cmee')", found or ""))
    return out


def load(places: Iterable[tuple[str, str]],
         validate: Optional[Callable[[ctypes.CDLL, str], None]] = None
         ) -> tuple[ctypes.CDLL, str]:
    """Load the first of ``places`` that loads and passes ``validate``; returns
    ``(library, path)``.

    ``validate(library, path)`` raises ImportError to reject a library (an old build, say);
    the search then goes on. Raises ImportError listing every place tried and why it failed
    if none is usable. A set ``CMEE_LIBRARY`` that is not usable is skipped with a
    RuntimeWarning when a later place works.
    """
    tried: list[str] = []
    env_failed = False
    for what, path in places:
        if not path or path.endswith("*"):
            tried.append(f"  {what}: {path + ': no such file' if path else 'nothing found'}")
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append(f"  {what}: {path}: no such file")
        else:
            try:
                handle = ctypes.CDLL(path)
                if validate is not None:
                    validate(handle, path)
            except (OSError, ImportError) as e:
                reason = str(e).removeprefix(f"cmee: {path} ")
                tried.append(f"  {what}: {path}: {reason}")
            else:
                if env_failed:
                    warnings.warn(f"cmee: ignoring {ENV_VAR} ({tried[0].strip()}); using "
                                  f"{path}", RuntimeWarning, stacklevel=2)
                return handle, path
        env_failed = env_failed or what == f"${ENV_VAR}"
    raise ImportError(
        "cmee: cannot find the libcmee shared library. Tried:\n" + "\n".join(tried)
        + f"\nBuild libcmee (meson setup build && ninja -C build) and set {ENV_VAR} to the "
        f"path of libcmee.so, e.g. {ENV_VAR}=build/lib/libcmee.so.")


_declared: dict[str, tuple[Any, tuple[Any, ...]]] = {}


def declare(name: str, restype: Any, *argtypes: Any) -> Any:
    """Give the library function ``name`` its result and argument types; returns it.

    ``restype`` is a ctypes type or None for void. Raises ImportError if the loaded library
    lacks the function (it is older than these bindings). Declaring the same function twice
    with the same types is harmless; with different types it raises ValueError.
    """
    previous = _declared.get(name)
    if previous is not None:
        if previous != (restype, argtypes):
            raise ValueError(f"cmee: {name} already declared with other types")
        return getattr(lib, name)
    fn = _declare_in(lib, library_path, name, restype, argtypes)
    _declared[name] = (restype, argtypes)
    return fn


def _declare_in(handle: ctypes.CDLL, path: str, name: str, restype: Any,
                argtypes: tuple[Any, ...]) -> Any:
    try:
        fn = getattr(handle, name)
    except AttributeError:
        raise ImportError(f"cmee: {path} has no function {name}: it is older than these "
                          f"bindings (set {ENV_VAR} to a current libcmee.so)") from None
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


def encode(value: Any, what: str) -> bytes:
    """``value`` (a str) as NUL-free UTF-8 bytes for a C string argument.

    Raises TypeError if it is not a str or contains a NUL character (C would silently
    truncate it there).
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if "\0" in value:
        raise TypeError(f"{what} must not contain NUL characters")
    return value.encode("utf-8")


# --------------------------------------------------------------------------------------------
# The function table of core.h and market.h (signals.h is declared by signals.py).

_c = ctypes
_P = ctypes.POINTER
_TABLE: list[tuple[str, Any, tuple[Any, ...]]] = [
    # core.h
    ("cmee_status_str", _c.c_char_p, (c_status,)),
    ("cmee_status_name", _c.c_char_p, (c_status,)),
    ("cmee_version", _c.c_char_p, ()),
    ("cmee_version_number", _c.c_uint, ()),
    # market.h
    ("cmee_timeframe_parse", c_status, (_c.c_char_p, _P(c_timeframe))),
    ("cmee_timeframe_name", _c.c_char_p, (c_timeframe,)),
    ("cmee_timeframe_ms", _c.c_int64, (c_timeframe,)),
    ("cmee_asset_class_name", _c.c_char_p, (c_asset_class,)),
    ("cmee_asset_class_parse", c_status, (_c.c_char_p, _P(c_asset_class))),
    ("cmee_symbol_spec_init", None, (_P(cmee_symbol_spec), _c.c_char_p)),
    ("cmee_market_new", c_status, (_c.c_uint64, _c.c_void_p, _P(MarketPtr))),
    ("cmee_market_free", None, (MarketPtr,)),
    ("cmee_market_errmsg", _c.c_char_p, (MarketPtr,)),
    ("cmee_market_errmsg_copy", _c.c_size_t, (MarketPtr, _c.c_char_p, _c.c_size_t)),
    ("cmee_market_seed", _c.c_uint64, (MarketPtr,)),
    ("cmee_market_symbol_count", _c.c_size_t, (MarketPtr,)),
    ("cmee_market_symbol_at", c_status, (MarketPtr, _c.c_size_t, _P(cmee_symbol_spec))),
    ("cmee_market_symbol", c_status, (MarketPtr, _c.c_char_p, _P(cmee_symbol_spec))),
    ("cmee_market_set_symbol", c_status, (MarketPtr, _P(cmee_symbol_spec))),
    ("cmee_market_set_correlation", c_status,
     (MarketPtr, _P(_c.c_char_p), _c.c_size_t, _P(_c.c_double))),
    ("cmee_market_candles", c_status,
     (MarketPtr, _c.c_char_p, c_timeframe, _c.c_int64, _c.c_int64, _c.c_void_p,
      _c.c_size_t, _P(_c.c_size_t))),
    ("cmee_market_candles_last", c_status,
     (MarketPtr, _c.c_char_p, c_timeframe, _c.c_int64, _c.c_size_t, _c.c_void_p,
      _c.c_size_t, _P(_c.c_size_t))),
    ("cmee_market_candles_alloc", c_status,
     (MarketPtr, _c.c_char_p, c_timeframe, _c.c_int64, _c.c_int64, _P(_P(cmee_candle)),
      _P(_c.c_size_t))),
    ("cmee_market_release", None, (MarketPtr, _c.c_void_p)),
    ("cmee_market_ticks", c_status,
     (MarketPtr, _c.c_char_p, _c.c_int64, _P(cmee_tick), _c.c_size_t, _P(_c.c_size_t))),
    ("cmee_market_price", c_status, (MarketPtr, _c.c_char_p, _c.c_int64, _P(_c.c_double))),
    ("cmee_sizeof_candle", _c.c_size_t, ()),
    ("cmee_sizeof_tick", _c.c_size_t, ()),
    ("cmee_sizeof_symbol_spec", _c.c_size_t, ()),
]


def _validate(handle: ctypes.CDLL, path: str) -> None:
    """Declare the core and market functions in ``handle``; raise ImportError unless the
    library matches these bindings (functions present, version, structure sizes)."""
    for name, restype, argtypes in _TABLE:
        _declare_in(handle, path, name, restype, argtypes)
    number = handle.cmee_version_number()
    text = handle.cmee_version().decode("ascii", "replace")
    major, minor = number // 10000, number // 100 % 100
    if major != REQUIRED_MAJOR or minor < REQUIRED_MINOR:
        raise ImportError(f"cmee: {path} is libcmee {text}; these bindings need "
                          f"{REQUIRED_MAJOR}.{REQUIRED_MINOR} or a later {REQUIRED_MAJOR}.x "
                          f"(set {ENV_VAR} to a matching libcmee.so)")
    for cname, struct in (("candle", cmee_candle), ("tick", cmee_tick),
                          ("symbol_spec", cmee_symbol_spec)):
        c_size = getattr(handle, f"cmee_sizeof_{cname}")()
        if c_size != ctypes.sizeof(struct):
            raise ImportError(f"cmee: layout mismatch: sizeof(cmee_{cname}) is {c_size} in "
                              f"{path} but {ctypes.sizeof(struct)} in the bindings")
    _check_session_layouts(handle, path)
    _check_book_layouts(handle, path)


#: The loaded library (a ctypes.CDLL) and where it came from.
lib, library_path = load(candidates(), _validate)
for _name, _res, _args in _TABLE:
    _declared[_name] = (_res, _args)
_declared["cmee_sizeof_session_struct"] = (ctypes.c_size_t, (ctypes.c_char_p,))
_declared["cmee_sizeof_message"] = (ctypes.c_size_t, ())
for _suffix, _struct in BOOK_STRUCTS:
    _declared[f"cmee_sizeof_{_suffix}"] = (ctypes.c_size_t, ())
