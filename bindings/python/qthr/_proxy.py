"""Proxy: use an object that belongs to the worker thread from any thread."""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ._runtime import Runtime

__all__ = ["Proxy", "unwrap"]

#: Results of these types come back as they are; anything else is proxied.
PLAIN_TYPES: Tuple[type, ...] = (
    type(None), bool, int, float, complex, str, bytes, bytearray, memoryview,
    tuple, list, dict, set, frozenset, range, slice, type(Ellipsis),
    decimal.Decimal, fractions.Fraction, uuid.UUID, pathlib.PurePath, enum.Enum,
    datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo,
    type, BaseException,
)

_get = object.__getattribute__
_set = object.__setattr__


def unwrap(value: Any) -> Any:
    """The object behind a :class:`Proxy` (``value`` itself if it is not one)."""
    if isinstance(value, Proxy):
        return _get(value, "_qthr_obj")
    return value


def _unwrap_args(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    if any(isinstance(a, Proxy) for a in args):
        args = tuple(unwrap(a) for a in args)
    if kwargs and any(isinstance(v, Proxy) for v in kwargs.values()):
        kwargs = {k: unwrap(v) for k, v in kwargs.items()}
    return args, kwargs


# The helpers below run on the worker.

def _w_getattr(obj: Any, name: str) -> Tuple[bool, Any]:
    value = getattr(obj, name)
    # A method bound to obj and not shadowed by an instance attribute can be cached
    # (the proxy then calls it directly: one round trip per call).
    bound = getattr(value, "__self__", None) is obj and callable(value)
    if bound:
        try:
            inst = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            inst = {}
        bound = name not in inst
    return bound, value


def _w_call(fn: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    args, kwargs = _unwrap_args(args, kwargs)
    return fn(*args, **kwargs)


def _w_special(obj: Any, name: str, args: Tuple[Any, ...]) -> Any:
    args, _ = _unwrap_args(args, {})
    return getattr(type(obj), name)(obj, *args)


def _release(box: List[Any]) -> None:
    """Runs on the worker: the references handed over in ``box`` die here."""
    box.clear()


def _post_release(rt: "Runtime", box: List[Any]) -> None:
    """Hand the references in ``box`` (our only ones) to the worker, so no
    destructor of the engine's objects runs on a foreign thread (unless the
    runtime is gone). The box is emptied there: no local variable of this
    thread may keep an object alive past the worker's ``clear()``."""
    try:
        if not rt._shutdown_started and not rt._is_worker_thread():
            rt._post(_release, box)
    except Exception:  # interpreter teardown
        pass


class _Method:
    """A method of a proxied object: calling it runs the call on the worker."""

    __slots__ = ("_rt", "_fn", "_owner", "__weakref__")

    def __init__(self, rt: "Runtime", fn: Any, owner: "Proxy") -> None:
        self._rt = rt
        self._fn = fn
        self._owner = weakref.ref(owner)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._rt.call(_w_call, self._fn, args, kwargs)
        owner = self._owner()
        if owner is not None:
            return _get(owner, "_qthr_wrap")(result)
        return result if isinstance(result, (PLAIN_TYPES, Proxy)) else Proxy(self._rt, result)

    def __repr__(self) -> str:
        return f"<qthr proxy method {getattr(self._fn, '__name__', '?')}>"

    def __del__(self) -> None:
        if getattr(self, "_fn", None) is not None:
            box = [self._fn]
            self._fn = None
            _post_release(self._rt, box)


class Proxy:
    """Runs every attribute read, write and method call of ``obj`` on the worker.

    Made by :meth:`Runtime.proxy`. Supports ``len()``, iteration (``next`` runs
    on the worker), ``in``, indexing, ``with`` blocks, calling, ``repr``/``str``
    and ``bool``. Bound methods are looked up once and cached; attributes whose
    names start with ``_qthr_`` belong to the proxy itself. When the proxy goes
    away, its reference to the object is dropped on the worker, so the object's
    destructor does not run on a foreign thread.
    """

    __slots__ = ("_qthr_rt", "_qthr_obj", "_qthr_wrap_results", "_qthr_methods", "__weakref__")

    def __init__(self, rt: "Runtime", obj: Any, wrap_results: bool = True) -> None:
        _set(self, "_qthr_rt", rt)
        _set(self, "_qthr_obj", obj)
        _set(self, "_qthr_wrap_results", bool(wrap_results))
        _set(self, "_qthr_methods", {})

    def __del__(self) -> None:
        # The object belongs to the worker: our last references to it go there.
        try:
            rt = _get(self, "_qthr_rt")
            box = [_get(self, "_qthr_obj"), _get(self, "_qthr_methods")]
        except AttributeError:
            return
        _set(self, "_qthr_obj", None)
        _set(self, "_qthr_methods", {})
        _post_release(rt, box)

    def _qthr_wrap(self, value: Any) -> Any:
        if value is _get(self, "_qthr_obj"):
            return self
        if not _get(self, "_qthr_wrap_results") or isinstance(value, (PLAIN_TYPES, Proxy)):
            return value
        return Proxy(_get(self, "_qthr_rt"), value, True)

    def _qthr_special(self, name: str, *args: Any) -> Any:
        rt = _get(self, "_qthr_rt")
        return rt.call(_w_special, _get(self, "_qthr_obj"), name, args)

    def __getattr__(self, name: str) -> Any:
        methods: Dict[str, _Method] = _get(self, "_qthr_methods")
        method = methods.get(name)
        if method is not None:
            return method
        rt = _get(self, "_qthr_rt")
        bound, value = rt.call(_w_getattr, _get(self, "_qthr_obj"), name)
        if bound:
            method = methods[name] = _Method(rt, value, self)
            return method
        if callable(value) and not isinstance(value, (type, Proxy)):
            return _Method(rt, value, self)
        return self._qthr_wrap(value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_qthr_"):
            raise AttributeError(f"{name} belongs to the proxy")
        _get(self, "_qthr_methods").pop(name, None)
        _get(self, "_qthr_rt").call(setattr, _get(self, "_qthr_obj"), name, unwrap(value))

    def __delattr__(self, name: str) -> None:
        _get(self, "_qthr_methods").pop(name, None)
        _get(self, "_qthr_rt").call(delattr, _get(self, "_qthr_obj"), name)

    def __dir__(self) -> Any:
        return _get(self, "_qthr_rt").call(dir, _get(self, "_qthr_obj"))

    def __repr__(self) -> str:
        return "<qthr.Proxy " + str(_get(self, "_qthr_rt").call(repr, _get(self, "_qthr_obj"))) + ">"

    def __str__(self) -> str:
        return str(_get(self, "_qthr_rt").call(str, _get(self, "_qthr_obj")))

    def __bool__(self) -> bool:
        return bool(_get(self, "_qthr_rt").call(bool, _get(self, "_qthr_obj")))

    def __len__(self) -> int:
        return int(_get(self, "_qthr_rt").call(len, _get(self, "_qthr_obj")))

    def __iter__(self) -> Any:
        return self._qthr_wrap(_get(self, "_qthr_rt").call(iter, _get(self, "_qthr_obj")))

    def __next__(self) -> Any:
        return self._qthr_wrap(_get(self, "_qthr_rt").call(next, _get(self, "_qthr_obj")))

    def __contains__(self, item: Any) -> bool:
        return bool(self._qthr_special("__contains__", item))

    def __getitem__(self, key: Any) -> Any:
        return self._qthr_wrap(self._qthr_special("__getitem__", key))

    def __setitem__(self, key: Any, value: Any) -> None:
        self._qthr_special("__setitem__", key, value)

    def __delitem__(self, key: Any) -> None:
        self._qthr_special("__delitem__", key)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rt = _get(self, "_qthr_rt")
        return self._qthr_wrap(rt.call(_w_call, _get(self, "_qthr_obj"), args, kwargs))

    def __enter__(self) -> Any:
        return self._qthr_wrap(self._qthr_special("__enter__"))

    def __exit__(self, *exc_info: Any) -> Any:
        return self._qthr_special("__exit__", *exc_info)
