"""Build steps for the qthr wheel and sdist: the Rust library travels inside.

Everything declarative is in pyproject.toml; this file adds three commands:

* ``build_py`` runs ``cargo build --release`` on the qthr crate and ships
  ``libqthr.so`` inside the package (next to ``_lib.py``, which loads it from
  there first), stripped of its debug information (the crate's release profile
  keeps it: 5.5 MB -> ~0.5 MB);
* ``bdist_wheel`` tags the wheel ``py3-none-manylinux_X_Y_<arch>``: it carries a
  native library but no CPython extension (one wheel serves every Python 3
  version), and X.Y is the newest glibc symbol version the library needs, read
  from its ELF version-needs table, so ``auditwheel show`` agrees with the tag;
* ``sdist`` copies the crate (Cargo.toml, Cargo.lock, src/, benches/,
  include/) into the archive under ``rust/``: an sdist installs wherever cargo
  exists. The copies exist only inside the archive.

The crate is looked up in ``rust/`` next to this file (an unpacked sdist), then
in the directories above it (the repository: bindings/python/../..).

Environment:
  QTHR_PREBUILT_LIBRARY  ship this file instead of running cargo
  CARGO                  the cargo executable (default: cargo on PATH)
  QTHR_NO_STRIP=1        ship the library as cargo built it
"""

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:  # pragma: no cover - older setuptools with the wheel package
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent

if sys.platform == "darwin":
    LIB_NAME = "libqthr.dylib"
else:
    LIB_NAME = "libqthr.so"

# What the sdist carries of the crate (relative to the crate root).
CRATE_FILES = ["Cargo.toml", "Cargo.lock"]
CRATE_DIRS = ["src", "benches", "include"]


def is_crate(path):
    manifest = path / "Cargo.toml"
    return manifest.is_file() and 'name = "qthr"' in manifest.read_text(errors="replace")


def find_crate_root():
    candidates = [HERE / "rust", HERE, *HERE.parents]
    for path in candidates:
        if is_crate(path):
            return path
    return None


def build_native_library():
    prebuilt = os.environ.get("QTHR_PREBUILT_LIBRARY")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            raise SystemExit(f"qthr: QTHR_PREBUILT_LIBRARY={prebuilt} does not exist")
        return path
    root = find_crate_root()
    if root is None:
        raise SystemExit(
            "qthr: cannot find the qthr Rust crate (Cargo.toml) in "
            f"{HERE / 'rust'} or above {HERE}; build from the repository "
            "(pip install ./bindings/python), from the sdist, or set "
            "QTHR_PREBUILT_LIBRARY to a built libqthr.so")
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if cargo is None:
        raise SystemExit("qthr: cargo not found on PATH; install Rust (rustup) or set "
                         "QTHR_PREBUILT_LIBRARY to a built libqthr.so")
    cmd = [cargo, "build", "--release", "--lib", "--manifest-path", str(root / "Cargo.toml")]
    if (root / "Cargo.lock").is_file():
        cmd.append("--locked")
    print("qthr: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=str(root))
    target = Path(os.environ.get("CARGO_TARGET_DIR") or (root / "target"))
    if not target.is_absolute():
        target = root / target
    path = target / "release" / LIB_NAME
    if not path.is_file():
        raise SystemExit(f"qthr: cargo finished but {path} is missing")
    return path


def strip_library(path):
    """Drop debug information and symbols the dynamic linker does not need."""
    if os.environ.get("QTHR_NO_STRIP") == "1" or sys.platform == "darwin":
        return
    for tool, args in (("strip", ["--strip-unneeded"]), ("objcopy", ["--strip-debug"])):
        exe = shutil.which(tool)
        if exe:
            subprocess.run([exe, *args, str(path)], check=True)
            return
    print("qthr: WARNING: neither strip nor objcopy found: shipping the library unstripped",
          flush=True)


def _elf_sections(data):
    """(endianness, [(name_offset, type, offset, size, link, info)], shstrtab offset)."""
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
        fmt = end + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)
        fmt = end + "IIIIIIIIII"
    secs = []
    for i in range(shnum):
        name, typ, _, _, offset, size, link, info, _, _ = struct.unpack_from(
            fmt, data, shoff + i * shentsize)
        secs.append((name, typ, offset, size, link, info))
    return end, secs, secs[shstrndx][2] if shstrndx < len(secs) else 0


def elf_section_names(path):
    """The section names of an ELF file (e.g. to check that .debug_info is gone)."""
    data = Path(path).read_bytes()
    _, secs, strtab = _elf_sections(data)
    return [data[strtab + n:data.index(b"\0", strtab + n)].decode() for n, *_ in secs]


def glibc_needed(path):
    """The newest GLIBC_x.y symbol version an ELF file needs, as (x, y), or None."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        return None
    end, secs, _ = _elf_sections(data)
    best = None
    for _, typ, offset, size, link, info in secs:
        if typ != 0x6FFFFFFE:  # SHT_GNU_verneed
            continue
        stroff = secs[link][2]
        pos, count = offset, info
        for _ in range(count):
            _, cnt, _, aux, nxt = struct.unpack_from(end + "HHIII", data, pos)
            apos = pos + aux
            for _ in range(cnt):
                _, _, _, vname, anext = struct.unpack_from(end + "IHHII", data, apos)
                raw = data[stroff + vname:data.index(b"\0", stroff + vname)].decode()
                if raw.startswith("GLIBC_"):
                    try:
                        ver = tuple(int(x) for x in raw[6:].split(".")[:2])
                    except ValueError:
                        ver = None
                    if ver and len(ver) == 2 and (best is None or ver > best):
                        best = ver
                if not anext:
                    break
                apos += anext
            if not nxt:
                break
            pos += nxt
    return best


class BuildPyWithCargo(build_py):
    """build_py that also builds the Rust library and ships it in the package."""

    def run(self):
        super().run()
        lib = build_native_library()
        dest_dir = Path(self.build_lib) / "qthr"
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / LIB_NAME
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        strip_library(dest)
        print(f"qthr: shipping {lib} as {dest} ({dest.stat().st_size} bytes)", flush=True)


class PlatformWheel(bdist_wheel):
    """A py3-none-<platform> wheel: native code, but no CPython ABI dependency;
    on glibc Linux the platform is manylinux_X_Y for the glibc the library needs."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        if plat.startswith("linux_"):
            arch = plat[len("linux_"):]
            lib = Path(self.bdist_dir or "") / "qthr" / LIB_NAME
            if not lib.is_file():
                build_lib = self.get_finalized_command("build").build_lib
                lib = Path(build_lib) / "qthr" / LIB_NAME
            need = glibc_needed(lib) if lib.is_file() else None
            if need is not None and sysconfig.get_config_var("HOST_GNU_TYPE") != "musl":
                plat = f"manylinux_{need[0]}_{need[1]}_{arch}"
        return "py3", "none", plat


class SdistWithCrate(sdist):
    """An sdist that carries the qthr crate under rust/ (see the module doc)."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        root = find_crate_root()
        if root is None or root == Path(base_dir).resolve() / "rust":
            raise SystemExit("qthr: sdist needs the qthr crate (run it in the repository)")
        dest = Path(base_dir) / "rust"
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name in CRATE_FILES:
            if (root / name).is_file():
                shutil.copy2(root / name, dest / name)
        for name in CRATE_DIRS:
            if (root / name).is_dir():
                shutil.copytree(root / name, dest / name,
                                ignore=shutil.ignore_patterns("target", "*.o", "__pycache__"))
        print(f"qthr: sdist carries the crate from {root}", flush=True)


class BinaryDistribution(Distribution):
    """A distribution with native code: installed into platlib (auditwheel
    refuses shared libraries in purelib), though no CPython extension."""

    def has_ext_modules(self):
        return True


if __name__ == "__main__":  # as build backends run it (the tests import the helpers)
    setup(distclass=BinaryDistribution,
          cmdclass={"build_py": BuildPyWithCargo, "bdist_wheel": PlatformWheel,
                    "sdist": SdistWithCrate})
