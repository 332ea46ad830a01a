"""Proxy: use an object that belongs to the worker thread from any thread.

Engine objects (a sqlite3 connection, a Tcl interpreter, ...) must be created,
used and destroyed on the thread that owns them. A :class:`Proxy` holds the only
reference to such an object outside the worker and runs everything on it through
the runtime; results that are not plain values are wrapped into proxies ON the
worker, so the objects themselves never reach another thread. When a proxy dies
on another thread, its reference is handed to the worker to be dropped there; at
shutdown the runtime takes every live proxy's object out and drops it on the
worker, before ``on_stop``. A proxy used after that raises ``ShutdownError``.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import gc
import pathlib
import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from ._errors import ShutdownError

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
_get_ident = threading.get_ident
_GONE = object()  # a proxy whose object was released


def unwrap(value: Any) -> Any:
    """The object behind a :class:`Proxy` (``value`` itself if it is not one).

    Use the result only on the runtime's worker thread."""
    if isinstance(value, Proxy):
        obj = _get(value, "_qthr_obj")
        if obj is _GONE:
            raise ShutdownError(message="the proxy's object was released at shutdown")
        return obj
    return value


def _unwrap_args(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    if any(isinstance(a, Proxy) for a in args):
        args = tuple(unwrap(a) for a in args)
    if kwargs and any(isinstance(v, Proxy) for v in kwargs.values()):
        kwargs = {k: unwrap(v) for k, v in kwargs.items()}
    return args, kwargs


def _take_object(proxy: "Proxy") -> Any:
    """Detach the object from ``proxy`` (caller holds the runtime's _Owned lock)."""
    obj = _get(proxy, "_qthr_obj")
    _set(proxy, "_qthr_obj", _GONE)
    return None if obj is _GONE else obj


# The helpers below run on the worker.

def _wrap(rt: "Runtime", value: Any, wrap: bool) -> Any:
    if not wrap or isinstance(value, (PLAIN_TYPES, Proxy)):
        return value
    return Proxy(rt, value, True)


def _make_on_worker(rt: "Runtime", factory: Callable[..., Any], args: Tuple[Any, ...],
                    kwargs: Dict[str, Any], wrap: bool) -> "Proxy":
    args, kwargs = _unwrap_args(args, kwargs)
    return Proxy(rt, factory(*args, **kwargs), wrap)


def _live_obj(proxy: "Proxy") -> Any:
    obj = _get(proxy, "_qthr_obj")
    if obj is _GONE:
        raise ShutdownError(message="the runtime of this proxy is shut down; its object was "
                                    "released")
    return obj


def _w_getattr(proxy: "Proxy", name: str) -> Tuple[int, Any]:
    """Worker: (1, None) for a method bound to the object and not shadowed by an
    instance attribute (the proxy remembers the name: later ``p.name(...)`` costs
    one round trip); (2, None) for another callable; (0, value) otherwise, the
    value wrapped if it is not plain. Callables stay on the worker."""
    obj = _live_obj(proxy)
    value = getattr(obj, name)
    if getattr(value, "__self__", None) is obj and callable(value):
        try:
            inst = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            inst = {}
        return (2 if name in inst else 1), None
    if callable(value) and not isinstance(value, (type, Proxy)):
        return 2, None
    return 0, _wrap(_get(proxy, "_qthr_rt"), value, _get(proxy, "_qthr_wrap_results"))


def _w_callattr(proxy: "Proxy", name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    obj = _live_obj(proxy)
    args, kwargs = _unwrap_args(args, kwargs)
    result = getattr(obj, name)(*args, **kwargs)
    if result is obj:
        return proxy
    return _wrap(_get(proxy, "_qthr_rt"), result, _get(proxy, "_qthr_wrap_results"))


def _w_call(proxy: "Proxy", args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    obj = _live_obj(proxy)
    args, kwargs = _unwrap_args(args, kwargs)
    result = obj(*args, **kwargs)
    if result is obj:
        return proxy
    return _wrap(_get(proxy, "_qthr_rt"), result, _get(proxy, "_qthr_wrap_results"))


def _w_apply(proxy: "Proxy", fn: Callable[..., Any], args: Tuple[Any, ...], wrap: bool) -> Any:
    obj = _live_obj(proxy)
    args, _ = _unwrap_args(args, {})
    result = fn(obj, *args)
    if result is obj:
        return proxy
    if not wrap:
        return result
    return _wrap(_get(proxy, "_qthr_rt"), result, _get(proxy, "_qthr_wrap_results"))


def _w_special(proxy: "Proxy", name: str, args: Tuple[Any, ...], wrap: bool) -> Any:
    obj = _live_obj(proxy)
    args, _ = _unwrap_args(args, {})
    result = getattr(type(obj), name)(obj, *args)
    if result is obj:
        return proxy
    if not wrap:
        return result
    return _wrap(_get(proxy, "_qthr_rt"), result, _get(proxy, "_qthr_wrap_results"))


class _Method:
    """A method of a proxied object: calling it runs ``obj.name(...)`` on the worker.

    It holds the proxy and the name only, never the bound method (which would
    keep the engine object alive past its release)."""

    __slots__ = ("_proxy", "_name")

    def __init__(self, proxy: "Proxy", name: str) -> None:
        self._proxy = proxy
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        proxy = self._proxy
        return _get(proxy, "_qthr_rt").call(_w_callattr, proxy, self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<qthr proxy method {self._name}>"


def _apply(p: "Proxy", fn: Callable[..., Any], *args: Any, wrap: bool = False) -> Any:
    return _get(p, "_qthr_rt").call(_w_apply, p, fn, args, wrap)


class Proxy:
    """Runs every attribute read, write and method call of ``obj`` on the worker.

    Made by :meth:`Runtime.create` (which also makes the object there) or
    :meth:`Runtime.proxy`. Supports ``len()``, iteration (``next`` runs on the
    worker), ``in``, indexing, ``with`` blocks, calling, ``repr``/``str`` and
    ``bool``. Attributes whose names start with ``_qthr_`` belong to the proxy.
    The object is released on the worker: when the proxy dies, or at the
    runtime's shutdown (before ``on_stop``), after which using the proxy raises
    :class:`ShutdownError`.
    """

    __slots__ = ("_qthr_rt", "_qthr_obj", "_qthr_wrap_results", "_qthr_methods", "__weakref__")

    def __init__(self, rt: "Runtime", obj: Any, wrap_results: bool = True) -> None:
        _set(self, "_qthr_rt", rt)
        _set(self, "_qthr_obj", obj)
        _set(self, "_qthr_wrap_results", bool(wrap_results))
        _set(self, "_qthr_methods", set())
        if not rt._owned.add(self):
            _set(self, "_qthr_obj", _GONE)
            raise ShutdownError(message="the runtime is shut down")

    def __del__(self) -> None:
        # The object belongs to the worker: our last reference to it goes there.
        try:
            rt = _get(self, "_qthr_rt")
            owned = rt._owned
        except AttributeError:
            return
        try:
            box: List[Any] = []
            with owned.lock:
                box.append(_take_object(self))
            if box[0] is not None:
                owned.give_back(box)  # moves our only reference out of the box
            else:
                box.clear()
        except Exception:  # interpreter teardown
            pass

    def __getattr__(self, name: str) -> Any:
        methods: Set[str] = _get(self, "_qthr_methods")
        if name in methods:
            return _Method(self, name)
        kind, value = _get(self, "_qthr_rt").call(_w_getattr, self, name)
        if kind == 1:
            methods.add(name)
        if kind:
            return _Method(self, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_qthr_"):
            raise AttributeError(f"{name} belongs to the proxy")
        _get(self, "_qthr_methods").discard(name)
        _apply(self, setattr, name, unwrap(value))

    def __delattr__(self, name: str) -> None:
        _get(self, "_qthr_methods").discard(name)
        _apply(self, delattr, name)

    def __dir__(self) -> Any:
        return _apply(self, dir)

    def __repr__(self) -> str:
        if _get(self, "_qthr_obj") is _GONE:
            return "<qthr.Proxy (released)>"
        return "<qthr.Proxy " + str(_apply(self, repr)) + ">"

    def __str__(self) -> str:
        return str(_apply(self, str))

    def __bool__(self) -> bool:
        return bool(_apply(self, bool))

    def __len__(self) -> int:
        return int(_apply(self, len))

    def __iter__(self) -> Iterator[Any]:
        return _apply(self, iter, wrap=True)  # type: ignore[no-any-return]

    def __next__(self) -> Any:
        return _apply(self, next, wrap=True)

    def __contains__(self, item: Any) -> bool:
        return bool(_get(self, "_qthr_rt").call(_w_special, self, "__contains__", (item,), False))

    def __getitem__(self, key: Any) -> Any:
        return _get(self, "_qthr_rt").call(_w_special, self, "__getitem__", (key,), True)

    def __setitem__(self, key: Any, value: Any) -> None:
        _get(self, "_qthr_rt").call(_w_special, self, "__setitem__", (key, value), False)

    def __delitem__(self, key: Any) -> None:
        _get(self, "_qthr_rt").call(_w_special, self, "__delitem__", (key,), False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _get(self, "_qthr_rt").call(_w_call, self, args, kwargs)

    def __enter__(self) -> Any:
        return _get(self, "_qthr_rt").call(_w_special, self, "__enter__", (), True)

    def __exit__(self, *exc_info: Any) -> Any:
        return _get(self, "_qthr_rt").call(_w_special, self, "__exit__", exc_info, False)


class _Owned:
    """The engine objects behind a runtime's proxies: they are released on its worker.

    A proxy that dies on another thread hands its object over here and a
    fire-and-forget job drops it on the worker; at shutdown, on the worker and
    before on_stop, every live proxy's object is taken out and dropped.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: "weakref.WeakSet[Proxy]" = weakref.WeakSet()
        self.pending: List[Any] = []
        self.posted = False
        self.final = False
        self.rt: "Optional[weakref.ReferenceType[Runtime]]" = None

    def add(self, proxy: "Proxy") -> bool:
        with self.lock:
            if self.final:
                return False
            self.live.add(proxy)
            return True

    def give_back(self, box: List[Any]) -> None:
        """A proxy's last reference to its object, in ``box`` (its ``__del__``, any
        thread): moved to the worker, which drops it. No reference stays here."""
        rt = self.rt() if self.rt is not None else None
        if rt is not None and rt._worker_ident == _get_ident():
            box.clear()  # on the worker: it dies here
            return
        with self.lock:
            if self.final:  # cannot happen (the final release took it)
                box.clear()
                return
            self.pending.append(box.pop())
            post = not self.posted
            self.posted = True
        if post and rt is not None:
            try:
                if not rt._post(self.release_pending):
                    with self.lock:
                        self.posted = False  # on_stop (or the next post) takes them
            except BaseException:
                with self.lock:
                    self.posted = False

    def release_pending(self) -> None:
        """Worker: drop what proxies handed over."""
        with self.lock:
            items, self.pending = self.pending, []
            self.posted = False
        items.clear()

    def release_all(self) -> None:
        """Worker, at shutdown before on_stop: every live proxy lets go of its object."""
        with self.lock:
            self.final = True
            items, self.pending = self.pending, []
            for proxy in list(self.live):
                items.append(_take_object(proxy))
            self.live = weakref.WeakSet()
        had = bool(items)
        items.clear()
        if had:
            gc.collect()  # objects in reference cycles die on this thread too

