"""The public surface: names from API.md, docstrings, type marker."""

import concurrent.futures
import doctest
import inspect
import os

import qthr


def test_api_md_names_exist():
    rt_methods = ["submit", "call", "run", "submit_c", "proxy", "on_worker", "stats",
                  "shutdown", "map", "__enter__", "__exit__"]
    for name in rt_methods:
        assert callable(getattr(qthr.Runtime, name)), name
    assert issubclass(qthr.Runtime, concurrent.futures.Executor)
    sig = inspect.signature(qthr.Runtime)
    params = list(sig.parameters.values())
    assert [p.name for p in params[:4]] == ["name", "queue_capacity", "on_start", "on_stop"]
    assert [p.default for p in params[:4]] == ["engine", 4096, None, None]
    sd = inspect.signature(qthr.Runtime.shutdown).parameters
    assert sd["wait"].default is True and sd["cancel_futures"].default is False
    assert issubclass(qthr.ShutdownError, qthr.QthrError)


def test_every_public_name_has_a_docstring():
    missing = []
    for name in qthr.__all__:
        obj = getattr(qthr, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not inspect.getdoc(obj):
                missing.append(name)
            if inspect.isclass(obj) and obj.__module__.startswith("qthr"):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not callable(member) and not isinstance(member, property):
                        continue
                    if not inspect.getdoc(member):
                        missing.append(f"{name}.{attr}")
    assert not missing, missing


def test_py_typed_marker_ships():
    assert os.path.isfile(os.path.join(os.path.dirname(qthr.__file__), "py.typed"))


def test_package_docstring_example():
    failures, _ = doctest.testmod(qthr, verbose=False)
    assert failures == 0


def test_version_0_2_names_exist():
    for name in ("create", "options", "submit_many", "run_c", "call_c"):
        assert callable(getattr(qthr.Runtime, name)), name
    params = inspect.signature(qthr.Runtime).parameters
    assert list(params)[4] == "on_interrupt" and params["on_interrupt"].default is None
    assert callable(qthr.Future.interrupt) and callable(qthr.CFuture.interrupt)
    assert issubclass(qthr.ExpiredError, qthr.QthrError) and issubclass(qthr.ExpiredError, TimeoutError)
    assert isinstance(qthr.CDEF, str) and "qthr_submit_ex" in qthr.CDEF
    assert qthr.library_path() == qthr.LIBRARY_PATH
    assert qthr.Status.EXPIRED == 12 and qthr.Status.NO_MEMORY == 11
    assert qthr.__version__ == "%d.%d.%d" % qthr.version()
    assert qthr.Future[int] is not None  # generic at run time too (3.8+)
