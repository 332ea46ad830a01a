"""Build step for the qthr wheel: compile the Rust library and ship it inside.

Everything declarative is in pyproject.toml; this file only adds two commands:

* ``build_py`` runs ``cargo build --release`` in the repository root (two levels
  up) and copies ``target/release/libqthr.so`` into the package, next to
  ``_lib.py``, which loads it from there first;
* ``bdist_wheel`` marks the wheel as platform specific (``py3-none-<platform>``):
  it carries a native library but no CPython extension, so one wheel serves
  every Python 3 version on that platform.

Environment:
  QTHR_PREBUILT_LIBRARY  ship this file instead of running cargo
  CARGO                  the cargo executable (default: cargo on PATH)
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:  # pragma: no cover - older setuptools with the wheel package
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent

if sys.platform == "darwin":
    LIB_NAME = "libqthr.dylib"
else:
    LIB_NAME = "libqthr.so"


def find_repo_root():
    for parent in [HERE, *HERE.parents]:
        manifest = parent / "Cargo.toml"
        if manifest.is_file() and 'name = "qthr"' in manifest.read_text(errors="replace"):
            return parent
    return None


def build_native_library():
    prebuilt = os.environ.get("QTHR_PREBUILT_LIBRARY")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            raise SystemExit(f"qthr: QTHR_PREBUILT_LIBRARY={prebuilt} does not exist")
        return path
    root = find_repo_root()
    if root is None:
        raise SystemExit(
            "qthr: cannot find the qthr Rust crate (Cargo.toml) above "
            f"{HERE}; build from the repository (pip install ./bindings/python) or set "
            "QTHR_PREBUILT_LIBRARY to a built libqthr.so")
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if cargo is None:
        raise SystemExit("qthr: cargo not found on PATH; install Rust (rustup) or set "
                         "QTHR_PREBUILT_LIBRARY to a built libqthr.so")
    cmd = [cargo, "build", "--release", "--manifest-path", str(root / "Cargo.toml")]
    print("qthr: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=str(root))
    target = Path(os.environ.get("CARGO_TARGET_DIR") or (root / "target"))
    if not target.is_absolute():
        target = root / target
    path = target / "release" / LIB_NAME
    if not path.is_file():
        raise SystemExit(f"qthr: cargo finished but {path} is missing")
    return path


class BuildPyWithCargo(build_py):
    """build_py that also builds the Rust library and copies it into the package."""

    def run(self):
        super().run()
        lib = build_native_library()
        dest_dir = Path(self.build_lib) / "qthr"
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / LIB_NAME
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        print(f"qthr: shipping {lib} as {dest}", flush=True)


class PlatformWheel(bdist_wheel):
    """A py3-none-<platform> wheel: native code, but no CPython ABI dependency."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildPyWithCargo, "bdist_wheel": PlatformWheel})
