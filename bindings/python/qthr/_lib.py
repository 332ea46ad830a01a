"""Finding and declaring the qthr shared library (ctypes).

The library is looked up, in this order:

1. inside the installed package (``qthr/libqthr.so*``, shipped in the wheel);
2. the path in the ``QTHR_LIBRARY`` environment variable;
3. the repository's build output (``target/release/libqthr.so``, then
   ``target/debug/libqthr.so``) when the package is imported from a source tree.

Every foreign function is called through :class:`ctypes.CDLL`, which releases the
GIL for the duration of the call: a thread that waits inside qthr never holds the
GIL, so the worker (which takes the GIL only to run Python jobs) can always make
progress, and so can the log callback.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, List, Optional

__all__ = ["LIB", "LIBRARY_PATH", "candidate_paths", "load_library", "library_path", "HAS_0_2"]

_PKG_DIR = Path(__file__).resolve().parent

if sys.platform == "darwin":
    _LIB_NAMES = ("libqthr.dylib",)
elif sys.platform == "win32":
    _LIB_NAMES = ("qthr.dll",)
else:
    _LIB_NAMES = ("libqthr.so", "libqthr.so.0")


def _repo_roots() -> List[Path]:
    """Directories above the package that look like the qthr repository root."""
    roots = []
    for parent in _PKG_DIR.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "include").is_dir():
            roots.append(parent)
            break
    return roots


def candidate_paths() -> List[str]:
    """The paths, in order, where :func:`load_library` looks for the library."""
    paths: List[str] = []
    for name in _LIB_NAMES:
        paths.append(str(_PKG_DIR / name))
    env = os.environ.get("QTHR_LIBRARY")
    if env:
        paths.append(env)
    for root in _repo_roots():
        for profile in ("release", "debug"):
            for name in _LIB_NAMES[:1]:
                paths.append(str(root / "target" / profile / name))
    return paths


def load_library() -> "tuple[ctypes.CDLL, str]":
    """Load the first library found among :func:`candidate_paths`.

    Raises ImportError naming every path tried when none can be loaded.
    """
    tried = []
    for path in candidate_paths():
        if not os.path.exists(path):
            tried.append(f"{path} (not found)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:  # wrong architecture, missing symbol, ...
            tried.append(f"{path} ({exc})")
    raise ImportError(
        "qthr: cannot find the qthr shared library. Tried:\n  "
        + "\n  ".join(tried)
        + "\nInstall the package with `pip install ./bindings/python`, build the "
        "library with `cargo build --release` in the repository root, or set "
        "QTHR_LIBRARY to the path of libqthr.so."
    )


# --- C declarations (include/qthr.h) -------------------------------------------

STATUS = c_uint32  # qthr_status: fixed width (uint32_t) in the header
JOB_FN = CFUNCTYPE(c_void_p, c_void_p)  # void *(*)(void *)
START_FN = CFUNCTYPE(c_int, c_void_p)  # int (*)(void *)
STOP_FN = CFUNCTYPE(None, c_void_p)  # void (*)(void *)
THEN_FN = CFUNCTYPE(None, c_void_p, STATUS, c_void_p)
LOG_FN = CFUNCTYPE(None, c_void_p, c_uint32, c_char_p)


class Config(Structure):
    """struct qthr_config (0.2 layout: on_interrupt at its end).

    A 0.1 core only knows the first 64 bytes: :func:`config_init` then sets
    ``size`` to 64 and the fields after it are neither read nor written.
    """

    _fields_ = [
        ("size", c_size_t),
        ("thread_name", c_char_p),
        ("queue_capacity", c_size_t),
        ("nonblocking", c_int),
        ("on_start", c_void_p),
        ("on_stop", c_void_p),
        ("hook_ctx", c_void_p),
        ("cpu", c_int),
        ("on_interrupt", c_void_p),
    ]


#: sizeof(qthr_config) in the 0.1 layout (everything before on_interrupt).
CONFIG_SIZE_0_1 = Config.on_interrupt.offset


class SubmitOpts(Structure):
    """struct qthr_submit_opts (0.2)."""

    _fields_ = [
        ("size", c_size_t),
        ("deadline_ns", c_int64),
        ("priority", c_uint32),
    ]


class Stats(Structure):
    """struct qthr_stats (the caller sets .size to what it knows)."""

    _fields_ = [
        ("size", c_size_t),
        ("submitted", c_uint64),
        ("completed", c_uint64),
        ("cancelled", c_uint64),
        ("queue_len", c_uint64),
        ("queue_high_water", c_uint64),
        ("expired", c_uint64),  # 0.2
    ]


#: sizeof(qthr_stats) in the 0.1 layout (everything before expired).
STATS_SIZE_0_1 = Stats.expired.offset

STATS_FIELDS = ("submitted", "completed", "cancelled", "queue_len", "queue_high_water")


def _declare(lib: ctypes.CDLL) -> None:
    def fn(name: str, restype: Any, *argtypes: Any) -> None:
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = list(argtypes)

    fn("qthr_config_init", None, POINTER(Config))
    fn("qthr_init", STATUS, POINTER(Config), POINTER(c_void_p))
    fn("qthr_submit", STATUS, c_void_p, c_void_p, c_void_p, POINTER(c_void_p))
    fn("qthr_wait", STATUS, c_void_p, c_int64, POINTER(c_void_p))
    fn("qthr_cancel", STATUS, c_void_p)
    fn("qthr_future_then", STATUS, c_void_p, c_void_p, c_void_p)
    fn("qthr_future_free", None, c_void_p)
    fn("qthr_call", STATUS, c_void_p, c_void_p, c_void_p, POINTER(c_void_p))
    fn("qthr_on_worker", c_int, c_void_p)
    fn("qthr_shutdown", STATUS, c_void_p, c_uint32)
    fn("qthr_shutdown_begin", STATUS, c_void_p, c_uint32)
    fn("qthr_free", None, c_void_p)
    fn("qthr_get_stats", STATUS, c_void_p, POINTER(Stats))
    fn("qthr_status_str", c_char_p, STATUS)
    fn("qthr_version", c_uint32)
    fn("qthr_set_log_callback", None, c_uint32, c_void_p, c_void_p)
    fn("qthr_submit_batch", STATUS, c_void_p, c_size_t, POINTER(c_void_p), POINTER(c_void_p),
       POINTER(c_void_p))
    # 0.2 additions: declared when the loaded library has them.
    for name, restype, argtypes in (
        ("qthr_config_init_sized", None, (POINTER(Config), c_size_t)),
        ("qthr_interrupt", STATUS, (c_void_p,)),
        ("qthr_submit_ex", STATUS, (c_void_p, c_void_p, c_void_p, POINTER(SubmitOpts),
                                    POINTER(c_void_p))),
    ):
        if hasattr(lib, name):
            fn(name, restype, *argtypes)


LIB, LIBRARY_PATH = load_library()
_declare(LIB)

#: True when the loaded library has the 0.2 additions (qthr_submit_ex,
#: qthr_interrupt, qthr_config_init_sized, on_interrupt).
HAS_0_2: bool = all(hasattr(LIB, n) for n in ("qthr_config_init_sized", "qthr_interrupt",
                                               "qthr_submit_ex"))


def config_init(cfg: Config) -> None:
    """Fill ``cfg`` with the library's defaults, every field it knows about."""
    if HAS_0_2:
        LIB.qthr_config_init_sized(ctypes.byref(cfg), ctypes.sizeof(Config))
    else:  # a 0.1 core: 64 bytes, size = 64
        LIB.qthr_config_init(ctypes.byref(cfg))


def library_path() -> str:
    """The path of the libqthr shared library this package loaded."""
    return LIBRARY_PATH

#: Address of the ready-made continuation that writes 8 bytes to the fd in ctx.
NOTIFY_FD_ADDR: Optional[int] = None
try:
    NOTIFY_FD_ADDR = ctypes.cast(LIB.qthr_then_notify_fd, c_void_p).value
except AttributeError:  # an older core without it: submit_c falls back to a callback
    NOTIFY_FD_ADDR = None
