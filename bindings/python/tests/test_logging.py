"""qthr's log records reach the Python logger "qthr", from any thread, without deadlock."""

import logging
import threading

import qthr


def test_lifecycle_records_reach_the_qthr_logger(caplog):
    with caplog.at_level(logging.DEBUG, logger="qthr"):
        with qthr.Runtime(name="logged") as rt:
            rt.call(int)
    records = [r for r in caplog.records if r.name == "qthr"]
    assert records, "no record from the library"
    assert any("logged" in r.getMessage() for r in records)
    assert all(r.levelno in (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG, 5)
               for r in records)


def test_log_records_from_many_threads_do_not_deadlock(caplog):
    """Runtimes start and stop (the worker logs, needing the GIL) while other
    threads hold and release the GIL all the time."""
    errors = []

    def churn():
        try:
            for _ in range(10):
                with qthr.Runtime(name="churn") as rt:
                    for _ in range(20):
                        rt.call(sum, range(100))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    with caplog.at_level(logging.DEBUG, logger="qthr"):
        threads = [threading.Thread(target=churn) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
    assert not errors
    assert len([r for r in caplog.records if r.name == "qthr"]) >= 40


def test_set_log_level_filters_in_the_library(caplog):
    try:
        qthr.set_log_level(logging.CRITICAL + 1)  # off
        with caplog.at_level(logging.DEBUG, logger="qthr"):
            with qthr.Runtime(name="silent"):
                pass
        assert not [r for r in caplog.records if "silent" in r.getMessage()]
        qthr.set_log_level(logging.WARNING)
        with caplog.at_level(logging.DEBUG, logger="qthr"):
            with qthr.Runtime(name="quiet"):
                pass
        assert not [r for r in caplog.records if r.levelno < logging.WARNING and "quiet" in r.getMessage()]
    finally:
        qthr.set_log_level(logging.DEBUG)
