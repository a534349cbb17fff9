"""`repbelt calibrate fit DIR`: personal thresholds from the wearer's own labelled recordings.

A small grid search over the few tunables that depend most on the person
(how far they move in a rep, how steady they hold, how hard they step),
scored with the real core (`rb_analysis.analyze_lines`) against the labels.
The result is a set of overrides of `calibration_data/thresholds.json`
(which the lead owns); only values that differ from it are kept.
"""
import itertools
import json
from pathlib import Path

from . import paths  # noqa: F401 - puts firmware/ on sys.path
import rb_analysis
import rb_tunables

from .errors import UserError

# the grid: a few values around each default (rep threshold pairs move together)
GRID = {
    "REP_HI_MILLI": (60, 80, 100, 120),
    "HOLD_TREMOR_PCT": (130, 150, 180),
    "STEP_MIN_MG": (20, 30, 40),
}
HOLD_S_PER_ERROR = 5.0     # 5 s of hold error weighs like one miscounted rep
STEPS_PER_ERROR = 10.0     # ten steps off weigh like one rep


def recordings(dir_path):
    """[(csv path, labels dict)] of the labelled traces in a directory."""
    out = []
    d = Path(dir_path)
    if not d.is_dir():
        raise UserError("%s is not a directory of recordings (NAME.csv + NAME.labels.json)" % d)
    for csv in sorted(d.glob("*.csv")):
        lab = csv.with_name(csv.name[:-4] + ".labels.json")
        if lab.exists():
            try:
                out.append((csv, json.loads(lab.read_text())))
            except ValueError as e:
                raise UserError("%s: bad JSON (%s)" % (lab, e)) from None
    if not out:
        raise UserError("no labelled recordings in %s: record some with `repbelt capture`" % d)
    return out


def score(found, labels):
    """Error of one analysis against its labels (0 is perfect)."""
    err = 0.0
    used = set()
    for seg in labels.get("segments", []):
        hits = [i for i, f in enumerate(found) if f["kind"] == seg["kind"]
                and f["start"] < seg["end"] and f["end"] > seg["start"]]
        used.update(hits)
        if "reps" in seg:
            err += abs(sum(found[i].get("reps", 0) for i in hits) - seg["reps"])
        elif "hold_s" in seg:
            err += abs(sum(found[i].get("hold_s", 0) for i in hits) - seg["hold_s"]) / HOLD_S_PER_ERROR
        elif "steps" in seg:
            err += abs(sum(found[i].get("steps", 0) for i in hits) - seg["steps"]) / STEPS_PER_ERROR
    for i, f in enumerate(found):
        if i not in used:   # counted where the labels say rest
            err += f.get("reps", 0) + f.get("hold_s", 0) / HOLD_S_PER_ERROR + f.get("steps", 0) / STEPS_PER_ERROR
    return err


def analyse(csv, tun):
    with open(csv) as f:
        an, _, _ = rb_analysis.analyze_lines(f, tun=tun)
    return [json.loads(txt) for _, txt in sorted(an.segs, key=lambda s: s[0])]


def tunables_for(combo):
    t = rb_tunables.defaults()
    t.update(combo)
    t["REP_LO_MILLI"] = combo["REP_HI_MILLI"] // 2
    return t


def fit(dir_path, progress=None):
    """Best overrides and their scores: {"overrides", "score", "default_score", "n"}."""
    recs = recordings(dir_path)
    keys = sorted(GRID)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(GRID[k] for k in keys))]
    # defaults first: ties keep the shared thresholds
    base = {k: getattr(rb_tunables.Tunables, k) for k in keys}
    combos = [base] + [c for c in combos if c != base]
    best = None
    default_score = None
    for i, c in enumerate(combos):
        tun = tunables_for(c)
        s = sum(score(analyse(csv, tun), lab) for csv, lab in recs)
        if i == 0:
            default_score = s
        if best is None or s < best[0] - 1e-9:
            best = (s, c)
        if progress:
            progress(i + 1, len(combos))
    s, c = best
    t = tunables_for(c)
    overrides = {k: t[k] for k in sorted(t) if t[k] != getattr(rb_tunables.Tunables, k)}
    return {"overrides": overrides, "score": s, "default_score": default_score, "n": len(recs)}
