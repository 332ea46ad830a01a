"""The demo and the benchmark script run and report what they claim."""

import json
import os
import subprocess
import sys

from support import HERE, PKG_ROOT, REPO


def test_threads_sqlite_demo():
    script = os.path.join(REPO, "examples", "python", "threads_sqlite.py")
    proc = subprocess.run([sys.executable, script, "--threads", "4", "--ops", "100", "--keys", "50"],
                          capture_output=True, text=True, timeout=120, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "qthr Runtime.call" in out and "ThreadPoolExecutor" in out
    assert "every run: 400 upserts counted exactly" in out


def test_bench_json_lines():
    """bench.py --quick runs every workload (counts checked inside) and prints JSON lines."""
    proc = subprocess.run([sys.executable, os.path.join(PKG_ROOT, "bench.py"), "--quick", "--json-only"],
                          capture_output=True, text=True, timeout=240, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by = {r["bench"]: r for r in recs}
    for key in ("python.B", "python.C", "python.D", "python.E"):
        assert by[key]["qthr_s_per_op"] > 0 and by[key]["peer_s_per_op"] > 0, by[key]
        assert by[key]["ratio"] > 0 and by[key]["goal"]
    assert "python.A" in by
    assert by["python.x.call"]["s_per_op"] > 0
