"""The demo and the benchmark script run and report what they claim."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PKG_ROOT))


def test_threads_sqlite_demo():
    script = os.path.join(REPO, "examples", "python", "threads_sqlite.py")
    proc = subprocess.run([sys.executable, script, "--threads", "4", "--ops", "100", "--keys", "50"],
                          capture_output=True, text=True, timeout=120, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "qthr Runtime.call" in out and "ThreadPoolExecutor" in out
    assert "every run: 400 upserts counted exactly" in out


def test_bench_json_lines():
    proc = subprocess.run([sys.executable, os.path.join(PKG_ROOT, "bench.py"), "--quick",
                           "--seconds", "0.03", "--json-only"],
                          capture_output=True, text=True, timeout=180, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    names = {r["bench"] for r in recs}
    assert {"python.py.call_noop", "python.tpe.submit_result_noop",
            "python.c.submit_result_noop"} <= names
    assert all(r["ns_per_op"] > 0 for r in recs)
    call = next(r for r in recs if r["bench"] == "python.py.call_noop")
    assert call["baseline"] == "python.tpe.submit_result_noop" and call["ratio"] > 0
