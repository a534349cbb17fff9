"""Run the detection core over a trace file, on CPython or inside the MicroPython unix port.

Both runtimes execute the same files from firmware/ and print the same
analysis JSON (rb_analysis writes it from integers).  Trace problems become
one-line UserErrors: `FILE:LINE: problem`.
"""
import json
import os
import subprocess
from pathlib import Path

from . import paths
from .errors import UserError

import rb_analysis  # noqa: E402
import rb_trace  # noqa: E402
import rb_tunables  # noqa: E402

MPY_HEAP = "2M"     # the host-side analysis run, not the board budget (see bench firmware)


def load_tunables(path=None):
    p = Path(path) if path else paths.THRESHOLDS
    if path and not p.exists():
        raise UserError("%s: thresholds file not found" % p)
    try:
        return rb_tunables.load(str(p))
    except ValueError as e:
        raise UserError("%s: %s (fix the file or remove the override)" % (p, e))


def _open(path):
    p = Path(path)
    if not p.exists():
        raise UserError("%s: no such file" % p)
    if p.is_dir():
        raise UserError("%s: is a directory, expected a trace .csv file" % p)
    try:
        return open(p, encoding="utf-8", newline="")
    except OSError as e:
        raise UserError("%s: cannot read (%s)" % (p, e.strerror))


def analyze_cpython(path, tun=None, keep_events=False):
    """Returns (json_text, Analysis)."""
    f = _open(path)
    try:
        an, reader, eng = rb_analysis.analyze_lines(f, tun, keep_events=keep_events)
    except rb_trace.TraceError as e:
        raise UserError("%s:%d: %s" % (path, e.line, e.message))
    except UnicodeDecodeError:
        raise UserError("%s: not UTF-8 text: is this a trace CSV?" % path)
    finally:
        f.close()
    return an.json(rb_analysis.meta_of(reader)), an


def analyze_micropython(path, thresholds=None, heap=MPY_HEAP):
    f = _open(path)
    f.close()
    cmd = [paths.micropython_bin(), "-X", "heapsize=" + heap, str(paths.FIRMWARE / "rb_cli.py"),
           str(Path(path).resolve()), str(Path(thresholds or paths.THRESHOLDS).resolve())]
    env = dict(os.environ, MICROPYPATH=str(paths.FIRMWARE))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode == 2 and r.stderr.startswith("TRACE_ERROR"):
        _, line, msg = r.stderr.strip().split(" ", 2)
        raise UserError("%s:%s: %s" % (path, line, msg))
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError("%s: the MicroPython runtime failed: %s" % (path, last))
    return r.stdout


def summary_rows(text):
    """Rows for the readable summary from the analysis JSON."""
    doc = json.loads(text)
    rows = []
    for s in doc["segments"]:
        k = s["kind"]
        if "reps" in s:
            what = "%d reps" % s["reps"]
            if s.get("sides"):
                left = s["sides"].count("left")
                what += " (%d left, %d right)" % (left, len(s["sides"]) - left)
        elif "hold_s" in s:
            what = "hold %.1f s, sway %.1f mg, stability %d" % (s["hold_s"], s["sway_mg"], s["stability"])
        else:
            what = "%d steps, %d/min" % (s["steps"], s.get("cadence_spm", 0))
        rows.append((k, "%.1f" % s["start"], "%.1f" % s["end"], what))
    return doc, rows
