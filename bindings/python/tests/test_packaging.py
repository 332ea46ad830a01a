"""Packaging: the wheel (manylinux, stripped, < 2 MB) installs and works with no Rust
toolchain; the sdist carries the crate and installs where cargo exists.

The wheel is built once per session (its cargo build is the one run_tests.sh already
made: a no-op). QTHR_SKIP_PIP_SMOKE=1 skips this module (no network for pip)."""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from support import HERE, PKG_ROOT, REPO

pytestmark = pytest.mark.skipif(os.environ.get("QTHR_SKIP_PIP_SMOKE") == "1",
                                reason="QTHR_SKIP_PIP_SMOKE=1")
pytest.importorskip("build", reason="the build frontend is installed by .ci/install-deps.sh")

sys.path.insert(0, PKG_ROOT)  # setup.py, beside the package
from setup import elf_section_names, glibc_needed  # noqa: E402  (the helpers under test)


def run(cmd, **kw):
    kw.setdefault("timeout", 600)
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def build(kind, outdir):
    run([sys.executable, "-m", "build", f"--{kind}", "--no-isolation", "--outdir", str(outdir),
         PKG_ROOT], cwd=PKG_ROOT)
    shutil.rmtree(os.path.join(PKG_ROOT, "build"), ignore_errors=True)
    shutil.rmtree(os.path.join(PKG_ROOT, "qthr.egg-info"), ignore_errors=True)
    (path,) = [os.path.join(outdir, f) for f in os.listdir(outdir)]
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build("wheel", tmp_path_factory.mktemp("wheel"))


def no_rust_env(venv_bin):
    """PATH with the venv first and no directory that has cargo or rustc."""
    dirs = [venv_bin] + [d for d in os.environ.get("PATH", "").split(os.pathsep)
                         if d and not any(os.path.exists(os.path.join(d, t)) for t in ("cargo", "rustc"))]
    env = {k: v for k, v in os.environ.items()
           if k not in ("QTHR_LIBRARY", "PYTHONPATH", "CARGO", "RUSTUP_HOME", "CARGO_HOME")}
    env["PATH"] = os.pathsep.join(dirs)
    return env


def make_venv(where):
    run([sys.executable, "-m", "venv", str(where)])
    return os.path.join(str(where), "bin")


def test_wheel_is_manylinux_stripped_and_small(wheel, tmp_path):
    name = os.path.basename(wheel)
    assert name.startswith("qthr-") and "-py3-none-manylinux_" in name, name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "qthr/py.typed" in names and "qthr/libqthr.so" in names, names
        lib = tmp_path / "libqthr.so"
        lib.write_bytes(z.read("qthr/libqthr.so"))
    assert lib.stat().st_size < 2 * 1024 * 1024, lib.stat().st_size
    sections = elf_section_names(lib)
    assert ".dynsym" in sections and not [s for s in sections if s.startswith(".debug")], sections
    major, minor = glibc_needed(lib)
    assert f"manylinux_{major}_{minor}_" in name
    if shutil.which("auditwheel"):
        show = run(["auditwheel", "show", wheel])
        assert "is consistent with" in show.stdout and f"manylinux_{major}_{minor}" in show.stdout
        run(["auditwheel", "repair", "-w", str(tmp_path / "repaired"), wheel])
        assert os.listdir(tmp_path / "repaired") == [name]


def test_wheel_installs_and_works_without_rust(wheel, tmp_path):
    vbin = make_venv(tmp_path / "venv")
    env = no_rust_env(vbin)
    vpy = os.path.join(vbin, "python")
    run([vpy, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel], env=env)
    probe = run([vpy, "-c", "import shutil; print(shutil.which('cargo'), shutil.which('rustc'))"],
                env=env, cwd=str(tmp_path))
    assert probe.stdout.split() == ["None", "None"]
    smoke = run([vpy, os.path.join(HERE, "smoke_installed.py")], env=env, cwd=str(tmp_path))
    assert "smoke ok" in smoke.stdout


def test_sdist_carries_the_crate_and_installs_with_cargo(tmp_path):
    if not shutil.which("cargo"):
        pytest.skip("cargo is not installed")
    sdist = build("sdist", tmp_path / "sdist")
    with tarfile.open(sdist) as t:
        names = t.getnames()
    top = names[0].split("/")[0]
    for need in ("rust/Cargo.toml", "rust/Cargo.lock", "rust/src/lib.rs",
                 "rust/src/ffi/mod.rs", "rust/include/qthr.h", "setup.py", "qthr/_runtime.py"):
        assert f"{top}/{need}" in names, need
    assert not [n for n in names if "/target/" in n or n.endswith(".so")], names
    vbin = make_venv(tmp_path / "venv")
    vpy = os.path.join(vbin, "python")
    env = {k: v for k, v in os.environ.items() if k not in ("QTHR_LIBRARY", "PYTHONPATH")}
    # the crate's build shares nothing with the repository's target/ but its registry cache
    env["CARGO_TARGET_DIR"] = os.path.join(REPO, "target", "sdist-check")
    proc = subprocess.run([vpy, "-m", "pip", "install", "--quiet", sdist], env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 and "setuptools" in proc.stderr and "No matching distribution" in proc.stderr:
        if os.environ.get("QTHR_REQUIRE_PIP_SMOKE") == "1":
            raise AssertionError(proc.stderr)
        pytest.skip("pip cannot fetch setuptools for the isolated build (offline?)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    smoke = run([vpy, os.path.join(HERE, "smoke_installed.py")], env=env, cwd=str(tmp_path))
    assert "smoke ok" in smoke.stdout
