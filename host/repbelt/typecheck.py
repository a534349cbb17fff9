"""Type-check firmware/ against the ESP32 MicroPython stubs: `make typecheck`.

mypy always prefers its own CPython typeshed for stdlib names (time, sys,
asyncio), which would hide what MicroPython lacks or adds (time.sleep_ms,
sys.print_exception).  So the pinned stub packages (micropython-esp32-stubs,
micropython-stdlib-stubs) are laid out as a typeshed of their own in a temp
folder and given to mypy as --custom-typeshed-dir plus MYPYPATH.
"""
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from . import paths

STUB_DISTS = ("micropython-esp32-stubs", "micropython-stdlib-stubs")


def build_stub_dir(dest):
    site = Path(sysconfig.get_paths()["purelib"])
    for dist in STUB_DISTS:
        for f in md.files(dist) or ():
            s = str(f)
            if s.endswith(".pyi") or s.endswith("VERSIONS"):
                out = Path(dest) / s
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(site / s, out)
    return dest


def run(files=None):
    with tempfile.TemporaryDirectory() as d:
        build_stub_dir(d)
        env = dict(os.environ, MYPYPATH=d)
        cmd = [sys.executable, "-m", "mypy", "--custom-typeshed-dir", d,
               "--config-file", str(paths.FIRMWARE / "mypy.ini")]
        cmd += [str(f) for f in files] if files else []
        return subprocess.run(cmd, cwd=paths.REPO, env=env, capture_output=True, text=True)


def main():
    r = run(sys.argv[1:] or None)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
