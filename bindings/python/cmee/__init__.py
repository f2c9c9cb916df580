# SPDX-License-Identifier: GPL-3.0-or-later
"""Python bindings for libcmee, the deterministic trading-simulation library.

Standard library only (ctypes). The shared library is found through ``CMEE_LIBRARY``, next
to the package, in the build directory of a source checkout or where the system keeps it.

Example::

    import cmee
    m = cmee.Market(seed=42)
    c = m.candles("BTCUSD", "1h", count=500)
    print(len(c), c[-1].close)

A market also has a microstructure: quotes (:meth:`Market.bbo`), a synthetic order book
(:meth:`Market.book`, a :class:`Book` with :meth:`Book.walk`) and a trade tape
(:meth:`Market.trades`) that adds up exactly to the candles.

Scenarios (:class:`Scenario`, :func:`presets`) transform a market after the time they are
applied (:meth:`Market.apply`); a :class:`Store` keeps them, with every version, in SQLite.

A :class:`Session` is one user's simulation: a clock, a market view and a paper-trading
account with exact :class:`decimal.Decimal` money. A :class:`Broadcaster` fans ticks, candles
and session events out to :class:`Subscription` queues (iterable, with timeouts and a
pollable ``fileno()``); a :class:`Driver` publishes sessions on it.

Times are milliseconds since the Unix epoch (UTC) or ``datetime`` objects. Every failure of
the library raises a subclass of :class:`cmee.Error`.
"""

from __future__ import annotations

from . import _errors as errors
from ._errors import *  # noqa: F401,F403 - Error and one subclass per status
from ._errors import __all__ as _errors_all
from ._lib import lib as _clib
from ._lib import library_path
from .market import *  # noqa: F401,F403
from .market import __all__ as _market_all
from .book import *  # noqa: F401,F403
from .book import __all__ as _book_all
from .signals import *  # noqa: F401,F403
from .signals import __all__ as _signals_all
from .scenario import *  # noqa: F401,F403
from .scenario import __all__ as _scenario_all
from .store import *  # noqa: F401,F403
from .store import __all__ as _store_all
from .session import *  # noqa: F401,F403
from .session import __all__ as _session_all
from .broadcast import *  # noqa: F401,F403
from .broadcast import __all__ as _broadcast_all

#: The version of the loaded libcmee, "MAJOR.MINOR.PATCH".
__version__: str = _clib.cmee_version().decode("ascii")
_n = _clib.cmee_version_number()
#: The version of the loaded libcmee as a tuple of ints, e.g. (0, 1, 0).
version_info: tuple[int, int, int] = (_n // 10000, _n // 100 % 100, _n % 100)
del _n

__all__ = (["errors", "library_path", "version_info"]
           + [n for n in _errors_all if n not in ("check", "error_class", "STATUS_NAMES")]
           + list(_market_all) + list(_book_all) + list(_signals_all) + list(_scenario_all)
           + list(_store_all) + list(_session_all) + list(_broadcast_all))
