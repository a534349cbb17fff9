"""Turn trials of the public Voisard et al. gait dataset into labelled traces, for step checks.

The shared real-gait-dev set holds 18 trials of 3 participants. The same public
dataset (github.com/CyrilVoisard/ipol_dataset_1, folder GaitData/, AGPL-3.0) has
other participants; this script converts any of its trials the way that set was
made, so the step counter can be checked on people it was not developed on:

    python calibration_data/voisard_to_trace.py GaitData/ OUT_DIR 1-1 2-2 ...
    repbelt bench accuracy --source OUT_DIR

Input per trial: `N-M_lb.txt` (the lower-back Xsens sensor, 100 Hz, m/s^2 and
rad/s, a packet counter per row) and `N-M.json` (TrialBoundaries, and the
left and right foot events annotated from foot-worn sensors). Output: a trace
(trace-format section 1: g and deg/s, `mount=unknown`) and labels with one
`walk` segment over the trial boundaries whose `steps` is the number of foot
events (left + right), as in the shared set. Columns missing from a file are
left out (accelerometer only is fine: the step counter uses the accelerometer).
Rows lost in the recording (the counter skips) are filled in linearly; the
converted data stay outside the repository (AGPL-3.0).
"""
import json
import sys
from pathlib import Path

G_MS2 = 9.80665
RAD_TO_DEG = 57.29577951308232
RATE_HZ = 100


def read_rows(path):
    """(counter, values...) rows of a lower-back file; header lines skipped."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        try:
            nums = [float(x) for x in parts]
        except ValueError:
            continue                    # the two header lines
        rows.append(nums)
    return rows


def convert(src_dir, name, out_dir):
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    rows = read_rows(src_dir / ("%s_lb.txt" % name))
    if not rows:
        raise SystemExit("%s_lb.txt: no data rows" % name)
    ncol = min(len(r) for r in rows)
    gyro = ncol >= 7
    cols = "t,ax,ay,az,gx,gy,gz" if gyro else "t,ax,ay,az"
    out = ["# rate_hz=%d" % RATE_HZ, "# sensor=xsens-mtw-awinda",
           "# source=Voisard et al. IPOL 2023, lower back (L5), AGPL-3.0", "# mount=unknown", cols]

    def line(c, v):
        acc = ["%.4f" % (x / G_MS2) for x in v[:3]]
        gyr = ["%.2f" % (x * RAD_TO_DEG) for x in v[3:6]] if gyro else []
        return ",".join(["%.2f" % (c / RATE_HZ)] + acc + gyr)

    prev, filled = None, 0
    for r in rows:
        c, v = int(r[0]), r[1:7]
        if prev is not None:
            if c <= prev[0]:
                raise SystemExit("%s_lb.txt: packet counter goes back at %d" % (name, c))
            for k in range(prev[0] + 1, c):
                w = (k - prev[0]) / (c - prev[0])
                out.append(line(k, [a + w * (b - a) for a, b in zip(prev[1], v)]))
                filled += 1
        out.append(line(c, v))
        prev = (c, v)
    meta = json.loads((src_dir / ("%s.json" % name)).read_text())
    tb = meta["TrialBoundaries"]
    steps = len(meta["LeftFootEvents"]) + len(meta["RightFootEvents"])
    labels = {"format": "repbelt-labels/1", "segments": [
        {"kind": "walk", "start": tb[0] / RATE_HZ, "end": tb[1] / RATE_HZ, "steps": steps}]}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ("voisard-%s.csv" % name)).write_text("\n".join(out) + "\n")
    (out_dir / ("voisard-%s.labels.json" % name)).write_text(json.dumps(labels) + "\n")
    return len(rows), filled, steps


def main(argv):
    if len(argv) < 3:
        print("usage: voisard_to_trace.py GAITDATA_DIR OUT_DIR TRIAL [TRIAL ...]   (TRIAL like 1-1)",
              file=sys.stderr)
        return 2
    for name in argv[2:]:
        n, filled, steps = convert(argv[0], name, argv[1])
        print("%s: %d rows (%d lost rows filled), %d steps labelled" % (name, n, filled, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
