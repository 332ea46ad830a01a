"""cffi: qthr.CDEF parses and matches include/qthr.h; an ABI-mode cffi program drives
libqthr from 8 threads; submit_c / call_c / run_c take cffi pointers."""

import asyncio
import os
import re
import threading

import pytest

import qthr

cffi = pytest.importorskip("cffi", reason="cffi is installed by .ci/install-deps.sh")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HEADER = os.path.join(REPO, "include", "qthr.h")


def _prototypes(text):
    """name -> normalised prototype of every function declared in C text."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    out = {}
    for m in re.finditer(r"([A-Za-z_][\w \*]*?\b(qthr_\w+)\s*\(([^;{}]*)\))\s*;", text):
        if "typedef" in m.group(1) or "(*" in m.group(1):
            continue
        proto = re.sub(r"\s+", " ", m.group(1)).replace("( ", "(").replace(" )", ")")
        proto = proto.replace("struct ", "")
        out[m.group(2)] = proto.strip()
    return out


def test_cdef_parses_and_matches_the_header():
    ffi = cffi.FFI()
    ffi.cdef(qthr.CDEF)
    assert ffi.sizeof("qthr_config") >= 64 and ffi.sizeof("qthr_stats") >= 48
    if not os.path.exists(HEADER):
        pytest.skip("not a source checkout")
    with open(HEADER) as f:
        header = _prototypes(f.read())
    mine = _prototypes(qthr.CDEF)
    assert header, "no prototype found in the header"
    missing = {n: p for n, p in header.items() if mine.get(n) != p}
    assert not missing, {n: (p, mine.get(n)) for n, p in missing.items()}
    assert qthr.library_path() == qthr.LIBRARY_PATH and os.path.isfile(qthr.library_path())


def test_abi_mode_program_calls_from_8_threads():
    ffi = cffi.FFI()
    ffi.cdef(qthr.CDEF)
    lib = ffi.dlopen(qthr.library_path())
    cfg = ffi.new("qthr_config *")
    if hasattr(lib, "qthr_config_init_sized") and lib.qthr_version() >= 0x000200:
        lib.qthr_config_init_sized(cfg, ffi.sizeof("qthr_config"))
    else:
        lib.qthr_config_init(cfg)
    name = ffi.new("char[]", b"cffi-engine")
    cfg.thread_name = name
    rtp = ffi.new("qthr_runtime **")
    assert lib.qthr_init(cfg, rtp) == lib.QTHR_OK
    rt = rtp[0]
    seen = set()
    counter = [0]

    @ffi.callback("void *(void *)")
    def job(arg):
        seen.add(threading.get_ident())
        counter[0] += 1  # only the worker touches it
        return ffi.cast("void *", int(ffi.cast("uintptr_t", arg)) * 2)

    errors = []

    def caller(t):
        res = ffi.new("void **")
        try:
            for i in range(1, 201):
                st = lib.qthr_call(rt, job, ffi.cast("void *", i), res)
                assert st == lib.QTHR_OK, ffi.string(lib.qthr_status_str(st))
                assert int(ffi.cast("uintptr_t", res[0])) == 2 * i
        except BaseException as exc:
            errors.append(exc)

    ts = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors, errors
    assert counter[0] == 1600 and len(seen) == 1 and threading.get_ident() not in seen
    stats = ffi.new("qthr_stats *")
    stats.size = 48  # the 0.1 layout: accepted by every core
    assert lib.qthr_get_stats(rt, stats) == lib.QTHR_OK and stats.completed == 1600
    assert lib.qthr_shutdown(rt, lib.QTHR_DRAIN) == lib.QTHR_OK
    lib.qthr_free(rt)


def test_submit_c_accepts_cffi_pointers(rt):
    ffi = cffi.FFI()
    ffi.cdef("long labs(long); size_t strlen(const char *);")
    libc = ffi.dlopen(None)
    labs = ffi.cast("void *(*)(void *)", ffi.addressof(libc, "labs"))
    assert rt.submit_c(labs, 42).result(10) == 42
    assert rt.call_c(labs, 7) == 7
    buf = ffi.new("char[]", b"hello qthr")
    strlen = ffi.addressof(libc, "strlen")  # a cffi function pointer of another type
    assert rt.call_c(strlen, buf) == 10
    assert rt.submit_c(strlen, ffi.cast("char *", buf)).result(10) == 10
    worker = rt.call(threading.get_ident)
    where = []

    @ffi.callback("void *(void *)")
    def cb(arg):
        where.append(threading.get_ident())
        return arg

    assert rt.call_c(cb, 5) == 5

    async def main():
        return await rt.run_c(cb, 9)

    assert asyncio.run(main()) == 9
    assert where == [worker, worker]
    with pytest.raises(TypeError):
        rt.submit_c("labs", None)
