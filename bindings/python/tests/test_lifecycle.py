"""Process lifecycle: exit without shutdown, fork, finding the library."""

import os
import shutil

import pytest

import qthr

from support import PKG_ROOT, run_py


def test_forgotten_runtime_is_shut_down_at_exit():
    proc = run_py("""
        import threading, qthr
        rt = qthr.Runtime(name="forgotten", on_stop=lambda: print("on_stop ran", flush=True))
        worker = rt.call(threading.get_ident)
        futs = [rt.submit(print, "job", i, flush=True) for i in range(3)]
        [f.result() for f in futs]
        qthr.Runtime(on_stop=lambda: print("unreferenced stopped", flush=True))
        print("main done", flush=True)
        # no shutdown: atexit drains the queue, runs on_stop, joins the worker
    """)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert {"job 0", "job 1", "job 2", "main done", "on_stop ran", "unreferenced stopped"} <= set(out)
    assert out.index("on_stop ran") > out.index("main done")
    assert "Traceback" not in proc.stderr


def test_exit_with_a_background_shutdown_and_a_busy_worker():
    proc = run_py("""
        import time, qthr
        rt = qthr.Runtime(on_stop=lambda: print("stopped", flush=True))
        rt.submit(time.sleep, 0.3)
        rt.submit(print, "drained", flush=True)
        rt.shutdown(wait=False)
        print("main done", flush=True)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["main done", "drained", "stopped"]


def test_exit_from_a_daemon_thread_blocked_in_a_call():
    proc = run_py("""
        import threading, time, qthr
        rt = qthr.Runtime()
        threading.Thread(target=rt.call, args=(time.sleep, 0.2), daemon=True).start()
        time.sleep(0.05)
        print("bye", flush=True)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bye"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_gets_forked_error_parent_unaffected():
    proc = run_py("""
        import os, sys, warnings, qthr
        warnings.simplefilter("ignore", DeprecationWarning)
        rt = qthr.Runtime()
        assert rt.call(lambda: 1) == 1
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                rt.call(lambda: 2)
            except qthr.QthrError as e:
                code = 0 if e.status == qthr.Status.FORKED else 2
            # a fresh runtime works in the child
            with qthr.Runtime() as rt2:
                if rt2.call(lambda: 3) != 3:
                    code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print("child", os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1)
        print("parent", rt.call(lambda: 4))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["child", "0", "parent", "4"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_holds_the_runtimes_locks():
    """A thread of the parent is inside shutdown / queueing a drainer / a proxy's
    release at the fork: in the child, shutdown, ``with`` and dropping a proxy do
    not wait for locks nobody will release."""
    proc = run_py("""
        import gc, os, signal, threading, warnings, qthr
        warnings.simplefilter("ignore", DeprecationWarning)
        rt = qthr.Runtime()
        p = rt.create(dict)
        held, release = threading.Event(), threading.Event()
        def holder():
            with rt._shutdown_lock, rt._kick_lock, rt._owned.lock:
                held.set()
                release.wait()
        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            signal.alarm(20)  # a hang ends here, not in the test's timeout
            rt.shutdown()
            with rt:
                pass
            del p
            gc.collect()
            print("child ok", flush=True)
            os._exit(0)
        release.set()
        t.join()
        _, status = os.waitpid(pid, 0)
        print("child", os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1)
        print("parent", len(p), rt.call(lambda: 4))
        rt.shutdown()
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["child", "ok", "child", "0", "parent", "0", "4"], proc.stdout


def _copy_package(tmp_path):
    dest = tmp_path / "qthr"
    shutil.copytree(os.path.join(PKG_ROOT, "qthr"), dest,
                    ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    return tmp_path


def test_library_from_QTHR_LIBRARY(tmp_path):
    root = _copy_package(tmp_path)
    proc = run_py("""
        import qthr
        print(qthr.LIBRARY_PATH)
        with qthr.Runtime() as rt:
            print(rt.call(lambda: "ok"))
    """, env={"PYTHONPATH": str(root), "QTHR_LIBRARY": qthr.LIBRARY_PATH}, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [qthr.LIBRARY_PATH, "ok"]


def test_library_not_found_names_the_paths_tried(tmp_path):
    root = _copy_package(tmp_path)
    proc = run_py("import qthr", env={"PYTHONPATH": str(root),
                                      "QTHR_LIBRARY": "/nonexistent/libqthr.so"},
                  cwd=str(tmp_path))
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "/nonexistent/libqthr.so" in proc.stderr
    assert str(tmp_path / "qthr" / "libqthr.so") in proc.stderr
    assert "QTHR_LIBRARY" in proc.stderr


def test_library_search_order():
    paths = qthr.candidate_paths()
    pkg = os.path.join(PKG_ROOT, "qthr")
    assert paths[0].startswith(pkg)  # inside the package first
    env = os.environ.get("QTHR_LIBRARY")
    repo = [p for p in paths if os.path.join("target", "release") in p]
    assert repo, paths  # the repository's build output last
    if env:
        assert paths.index(env) < paths.index(repo[0])
