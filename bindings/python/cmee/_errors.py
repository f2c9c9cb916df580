# SPDX-License-Identifier: GPL-3.0-or-later
"""The exceptions of the cmee package, one per libcmee status code.

Every failure of a libcmee call raises a subclass of :class:`Error`. The subclasses are made
from the library's own status table (``cmee_status_name`` for 1, 2, ... until "UNKNOWN"), so a
code added to the library gets its class without changing the bindings. Each class is
reachable by a readable name (``NotFoundError``) and by its C name (``ENOTFOUND``), also as
``cmee.errors.ENOTFOUND``.

Several also derive from the matching built-in exception, so generic handlers work:
``InvalidArgumentError`` and ``RangeError`` are ValueErrors, ``NotFoundError`` is a
LookupError, ``OutOfMemoryError`` a MemoryError.
"""

from __future__ import annotations

from typing import Optional, Union

from ._lib import cmee_error, lib

__all__ = ["Error", "check", "error_class", "STATUS_NAMES"]

#: Readable class names for the C status names; unknown names get ``<Name>Error``.
_CLASS_NAMES = {
    "EINVAL": "InvalidArgumentError",
    "ENOMEM": "OutOfMemoryError",
    "ENOTFOUND": "NotFoundError",
    "ERANGE": "RangeError",
    "ENOSPACE": "NoSpaceError",
    "EEXIST": "AlreadyExistsError",
    "ESTATE": "StateError",
    "EIO": "InputOutputError",
    "EBUSY": "BusyError",
    "ECORRUPT": "CorruptError",
    "EVERSION": "VersionError",
    "EINTERNAL": "InternalError",
}

#: Built-in exceptions the classes also derive from.
_BUILTIN_BASES: dict[str, tuple[type, ...]] = {
    "EINVAL": (ValueError,),
    "ERANGE": (ValueError,),
    "ENOTFOUND": (LookupError,),
    "ENOMEM": (MemoryError,),
}


class Error(Exception):
    """A libcmee call failed.

    Attributes:
        status: the C status code (an int, e.g. 3 for ENOTFOUND).
        name: the status name without its prefix, e.g. "ENOTFOUND".
        message: the library's text naming the bad field or value (also ``str(error)``).
        field: the argument or field at fault when the library names it, else "".
    """

    status: int = -1
    name: str = "UNKNOWN"

    def __init__(self, message: str = "", status: Optional[int] = None, field: str = ""):
        """``message`` (default: the status's generic text), ``status`` (default: the
        class's), ``field`` (the argument at fault, if known)."""
        if status is not None:
            self.status = int(status)
            if type(self) is Error:
                self.name = _status_name(self.status)
        if not message:
            message = _status_text(self.status)
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


def _status_name(status: int) -> str:
    return lib.cmee_status_name(status).decode("ascii", "replace")


def _status_text(status: int) -> str:
    return lib.cmee_status_str(status).decode("utf-8", "replace")


def _class_name(name: str) -> str:
    known = _CLASS_NAMES.get(name)
    if known is not None:
        return known
    stem = name[1:] if name.startswith("E") and len(name) > 1 else name
    return stem.capitalize() + "Error"


_BY_STATUS: dict[int, type[Error]] = {}
#: Status code to C status name, from the library's table, e.g. {1: "EINVAL", ...}.
STATUS_NAMES: dict[int, str] = {}


def _build() -> None:
    g = globals()
    status = 1
    while status < 1000:
        name = _status_name(status)
        if name == "UNKNOWN":
            break
        cls_name = _class_name(name)
        doc = f"Status {name} ({status}): {_status_text(status)}."
        bases = (Error,) + _BUILTIN_BASES.get(name, ())
        cls = type(cls_name, bases, {"__doc__": doc, "__module__": "cmee",
                                     "status": status, "name": name})
        _BY_STATUS[status] = cls
        STATUS_NAMES[status] = name
        g[cls_name] = cls
        g[name] = cls
        __all__.append(cls_name)
        status += 1


_build()
Error.__module__ = "cmee"


def error_class(status: int) -> type[Error]:
    """The exception class for a status code; :class:`Error` itself for unknown codes."""
    return _BY_STATUS.get(status, Error)


def check(status: int, message: Union[str, bytes, cmee_error, None] = None) -> None:
    """Raise the exception for ``status`` unless it is 0 (CMEE_OK).

    ``message`` is the failure's text: a str, bytes (UTF-8), a filled ``cmee_error``
    structure (its text and field are used) or None for the status's generic text.
    """
    if status == 0:
        return
    field = ""
    if isinstance(message, cmee_error):
        field = message.field.decode("utf-8", "replace")
        message = message.text
    if isinstance(message, (bytes, bytearray)):
        message = bytes(message).decode("utf-8", "replace")
    raise error_class(status)(message or "", status, field)
