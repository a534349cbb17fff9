"""Accuracy benchmark: the core over every labelled trace, scored against its labels.

Sources: ../shared/datasets/* (each folder a source) and
calibration_data/generated (our generator).  Matching: a detected segment
belongs to the label segment it overlaps most; a label segment with no
match counts 0 reps.  Printed per source and per kind:

- sets exact / within +-1 / MAE of reps, recognition (label segment matched
  by a detected segment of the same kind, by overlap)
- false reps per hour outside labelled segments
- median rep-event latency after the labelled rep end
- holds found, % of labelled holds found with |duration error| <= 1 s,
  mean |duration error|, Spearman rho of sway_mg; false holds: detected
  holds that overlap no labelled hold (resting, or held through a rep set)
- step error % (sum |detected - labelled| / sum labelled)

With `variants=True` every trace of ../shared/datasets/synthetic-dev is also
scored as the sensor settings the project is evaluated with but that folder
does not have, across the 25-400 Hz the core takes: 25 and 50 Hz (groups of
4 or 2 samples averaged, as a sensor's low-pass and decimation would), 200
and 400 Hz (linear interpolation; smoother than a real sensor at that rate)
and accelerometer-only (gyro columns dropped), as source
"synthetic-dev@50Hz" and so on; and as other people's tempo: "slow" (the
whole workout 20% slower: time stamps and label times times 1.2, gyro
divided by 1.2) and "fast" (15% quicker); and as a noisier sensor: "noisy"
adds 5 mg of white noise per accelerometer axis (synthetic-dev's own is
2.5-4.3 mg, so 5.6-6.6 mg in all; an MPU6050's datasheet density gives
~2.6 mg at 100 Hz).  The accelerometer is left as it
is: gravity, tremor and noise dominate it and do not change with tempo; the
pelvis's own acceleration would scale by 1/k**2, so a lift measured by double
integration reads 1.44 times its size in "slow" and 0.72 times in "fast"
(a plank's lift of 126 mm reads 97 mm, below the 120 mm a lift needs).
And "strap": worn another way.  A default-mount trace is turned by
STRAP_OFF_DEG about an axis drawn per trace (trace-format: "real straps are
never exact: expect up to about 10 degrees off"); a calibrate-mount trace by
any rotation at all (the sensor may sit anywhere round the waist, and the
routine at the start finds it).  And "offsets": an uncalibrated MPU6050's
errors at the edge of its datasheet (zero-g offset OFFSET_ACC_MG an axis,
sensitivity OFFSET_SCALE_PCT, gyro zero-rate offset OFFSET_GYRO_DPS an axis;
signs drawn per trace) on top of the trace's own.  And "gaps": samples
dropped in holes of 0.05 to GAP_MAX_S, one every GAP_EVERY_S on average (the
shared traces' own holes are 0.11 s at most).
Variants combine: "50Hz+acc" and "200Hz+acc" are the two ends of the
evaluation's rates without a gyro, and "50Hz+acc+strap" and
"200Hz+acc+offsets" add a strap worn off or an uncalibrated sensor to them
(each combination found a fault no single variant showed).
The variants are made in memory from the shared files; nothing is written.
"""
import json
import time
from pathlib import Path

from . import paths

import rb_analysis  # noqa: E402  (firmware core, via paths)
import rb_events as E  # noqa: E402
import rb_names as N  # noqa: E402

REP_KINDS = set(N.KIND_NAMES[k] for k in E.REP_KINDS)
HOLD_KINDS = set(N.KIND_NAMES[k] for k in E.HOLD_KINDS)


VARIANT_SOURCE = "synthetic-dev"
VARIANTS = ("25Hz", "50Hz", "200Hz", "400Hz", "acc", "50Hz+acc", "200Hz+acc", "slow", "fast", "noisy",
            "strap", "offsets", "gaps", "50Hz+acc+strap", "200Hz+acc+offsets")
GAP_MAX_S = 0.5         # "gaps": holes of dropped samples up to this long ...
GAP_EVERY_S = 20.0      # ... this far apart on average
OFFSET_ACC_MG = 50.0    # "offsets": MPU6050 zero-g offset (datasheet: +-50 mg x/y, +-80 mg z) ...
OFFSET_SCALE_PCT = 3.0  # ... sensitivity tolerance (+-3%) ...
OFFSET_GYRO_DPS = 20.0  # ... and gyro zero-rate offset (+-20 deg/s), before any trimming
NOISY_MG = 5.0      # extra white accelerometer noise per axis in the "noisy" variant
STRAP_OFF_DEG = 10.0    # how far the "strap" variant turns a default-mount trace
TEMPO = {"slow": 1.2, "fast": 0.85}     # time stretch factor (> 1: slower)


def labelled_traces(dirs, variants=False):
    """(source, name, lines or path, labels) of every labelled trace."""
    for d in dirs:
        for csv in sorted(Path(d).glob("*.csv")):
            lab = csv.with_suffix(".labels.json")
            if lab.exists():
                labels = json.loads(lab.read_text())
                yield Path(d).name, csv.name, csv, labels
                if variants and Path(d).name == VARIANT_SOURCE:
                    for tag in VARIANTS:
                        yield ("%s@%s" % (Path(d).name, tag), csv.name, variant(csv, tag),
                               variant_labels(labels, tag))


def variant(csv, tag):
    """The trace's lines as another sensor setting would have recorded it (see
    the module doc); "50Hz+offsets" applies one variant after the other."""
    lines = Path(csv).read_text().splitlines()
    for one in tag.split("+"):
        lines = _variant(lines, Path(csv).name, one)
    return lines


def _variant(lines, name, tag):
    meta = [ln for ln in lines if ln.startswith("#")]
    i = len(meta)
    cols = [c.strip() for c in lines[i].split(",")]
    rows = [[float(x) for x in ln.split(",")] for ln in lines[i + 1:] if ln.strip()]
    rate, rest = 100, []
    for ln in meta:
        if ln.replace(" ", "").startswith("#rate_hz="):
            rate = int(ln.split("=")[1])
        else:
            rest.append(ln)
    meta = rest
    if tag in TEMPO:
        k = TEMPO[tag]
        rate = round(rate / k)
        gyro = [j for j, c in enumerate(cols) if c in ("gx", "gy", "gz")]
        for r in rows:
            r[0] *= k
            for j in gyro:
                r[j] /= k
    elif tag in ("25Hz", "50Hz"):
        k = rate // int(tag[:-2])
        rate //= k
        # (each output sample the mean of k: a sensor's low-pass and decimation)
        rows = [[g[0][0]] + [sum(r[j] for r in g) / k for j in range(1, len(g[0]))]
                for g in (rows[i:i + k] for i in range(0, len(rows) - k + 1, k))]
    elif tag in ("200Hz", "400Hz"):
        k = int(tag[:-2]) // rate
        rate *= k
        out = []
        for a, b in zip(rows, rows[1:]):
            for m in range(k):
                out.append([x + (y - x) * m / k for x, y in zip(a, b)])
        rows = out + rows[-1:]
    elif tag == "noisy":
        import random
        rnd = random.Random(name)     # (the same noise every run)
        acc = [j for j, c in enumerate(cols) if c in ("ax", "ay", "az")]
        for r in rows:
            for j in acc:
                r[j] += rnd.gauss(0.0, NOISY_MG / 1000.0)
    elif tag == "strap":
        R = strap_rotation(name, "# mount=calibrate" in meta)
        for r in rows:
            for j in _triples(cols):
                v = [r[k] for k in j]
                for i, k in enumerate(j):
                    r[k] = R[i][0] * v[0] + R[i][1] * v[1] + R[i][2] * v[2]
    elif tag == "offsets":
        import random
        rnd = random.Random("offsets-" + name)
        for names, off in ((("ax", "ay", "az"), OFFSET_ACC_MG / 1000.0), (("gx", "gy", "gz"), OFFSET_GYRO_DPS)):
            for c in names:
                if c in cols:
                    j = cols.index(c)
                    k = 1.0 + (rnd.choice((-1, 1)) * OFFSET_SCALE_PCT / 100.0 if c[0] == "a" else 0.0)
                    b = rnd.choice((-1, 1)) * off
                    for r in rows:
                        r[j] = r[j] * k + b
    elif tag == "gaps":
        import random
        rnd = random.Random("gaps-" + name)
        holes = []
        t = rnd.expovariate(1.0 / GAP_EVERY_S)
        while rows and t < rows[-1][0]:
            holes.append((t, t + rnd.uniform(0.05, GAP_MAX_S)))
            t += rnd.expovariate(1.0 / GAP_EVERY_S)
        rows = [r for r in rows if not any(a <= r[0] < b for a, b in holes)]
    elif tag == "acc":
        keep = [k for k, c in enumerate(cols) if c not in ("gx", "gy", "gz")]
        cols = [cols[k] for k in keep]
        rows = [[r[k] for k in keep] for r in rows]
        meta = [ln for ln in meta if "gyro_range" not in ln]
    fmt = ",".join("%.4f" if c in ("t", "ax", "ay", "az") else "%.2f" for c in cols)
    return (["# rate_hz=%d" % rate] + meta + [",".join(cols)] + [fmt % tuple(r) for r in rows])


def _triples(cols):
    """Column indices of the accelerometer and (if present) gyro axes."""
    return [[cols.index(c) for c in names] for names in (("ax", "ay", "az"), ("gx", "gy", "gz"))
            if all(c in cols for c in names)]


def strap_rotation(name, anywhere):
    """The "strap" variant's rotation (3x3, sensor as worn <- sensor as
    recorded) for the trace `name`: STRAP_OFF_DEG about a random axis, or
    with `anywhere` a uniformly random rotation; the same every run."""
    import math
    import random
    rnd = random.Random("strap-" + name)
    if anywhere:
        # a uniformly random unit quaternion (Shoemake)
        u1, u2, u3 = rnd.random(), rnd.random(), rnd.random()
        a, b = math.sqrt(1 - u1), math.sqrt(u1)
        q = (a * math.cos(2 * math.pi * u2), a * math.sin(2 * math.pi * u2),
             b * math.sin(2 * math.pi * u3), b * math.cos(2 * math.pi * u3))
        th = 2.0 * math.acos(max(-1.0, min(1.0, q[0])))
        ax = q[1:]
    else:
        th = math.radians(STRAP_OFF_DEG)
        ax = [rnd.gauss(0.0, 1.0) for _ in range(3)]
    n = math.sqrt(sum(v * v for v in ax)) or 1.0
    x, y, z = (v / n for v in ax)
    c, s = math.cos(th), math.sin(th)
    return [[c + x * x * (1 - c), x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
            [y * x * (1 - c) + z * s, c + y * y * (1 - c), y * z * (1 - c) - x * s],
            [z * x * (1 - c) - y * s, z * y * (1 - c) + x * s, c + z * z * (1 - c)]]


def variant_labels(labels, tag):
    """The labels of variant(csv, tag): times stretched like the trace."""
    k = 1.0
    for one in tag.split("+"):
        k *= TEMPO.get(one, 1.0)
    if k == 1.0:
        return labels
    segs = []
    for seg in labels["segments"]:
        seg = dict(seg)
        for key in ("start", "end", "hold_s"):
            if key in seg:
                seg[key] = round(seg[key] * k, 3)
        if "rep_ends" in seg:
            seg["rep_ends"] = [round(x * k, 3) for x in seg["rep_ends"]]
        segs.append(seg)
    return dict(labels, segments=segs)


def default_sources():
    out = []
    ds = paths.SHARED / "datasets"
    if ds.exists():
        out += sorted(p for p in ds.iterdir() if p.is_dir())
    gen = paths.CALIBRATION / "generated"
    if gen.exists():
        out.append(gen)
    return out


def _overlap(a, b):
    return max(0.0, min(a["end"], b["end"]) - max(a["start"], b["start"]))


def score_trace(labels, detected, duration_s):
    """Per-trace raw scores (lists/counters), merged later."""
    res = {"sets": [], "recog": [], "lat": [], "holds": [], "sway": [], "steps": [],
           "false_reps": 0, "false_holds": 0, "rest_s": 0.0, "kinds": {}}
    segs = labels["segments"]
    used = set()
    for ls in segs:
        best, bo = None, 0.0
        for i, ds in enumerate(detected):
            o = _overlap(ls, ds)
            if o > bo:
                best, bo = i, o
        k = ls["kind"]
        # detected segments of the same kind inside the label segment all count (a split set)
        same = [d for d in detected if d["kind"] == k and _overlap(ls, d) > 0]
        if k in REP_KINDS:
            got = sum(d.get("reps", 0) for d in same)
            res["sets"].append((k, ls["reps"], got))
            ends = sorted(t for d in same for t in d.get("rep_ends", []))
            for te in ls.get("rep_ends", []):
                # latency: first detection at or after (te - 1.5 s) nearest
                cands = [t - te for t in ends if -1.5 <= t - te <= 3.0]
                if cands:
                    res["lat"].append(min(cands, key=abs))
        elif k in HOLD_KINDS:
            if same:
                d = max(same, key=lambda d: d.get("hold_s", 0))
                res["holds"].append((k, ls["hold_s"], d["hold_s"]))
                if "sway_mg" in ls and "sway_mg" in d:
                    res["sway"].append((ls["sway_mg"], d["sway_mg"]))
            else:
                res["holds"].append((k, ls["hold_s"], None))
        res["recog"].append((k, best is not None and detected[best]["kind"] == k))
        for d in same:
            used.add(id(d))
    res["steps"] = _walk_steps(segs, detected)
    # false reps: detected rep events outside every labelled segment (with 1 s slack)
    for d in detected:
        for t in d.get("rep_ends", []):
            if not any(ls["start"] - 1.0 <= t <= ls["end"] + 3.0 for ls in segs):
                res["false_reps"] += 1
    # false holds: detected holds that overlap no labelled hold (resting, or a rep set)
    for d in detected:
        if d["kind"] in HOLD_KINDS and not any(
                ls["kind"] in HOLD_KINDS and _overlap(ls, d) > 0 for ls in segs):
            res["false_holds"] += 1
    labelled = sum(ls["end"] - ls["start"] for ls in segs)
    res["rest_s"] = max(0.0, duration_s - labelled)
    return res


def _walk_steps(segs, detected):
    """(labelled steps, found steps) per group of walks that overlap: a found
    walk spanning two labelled ones (a short stop kept open) is compared with
    both together, once; one labelled walk found in pieces, with their sum."""
    lw = [s for s in segs if s["kind"] == "walk"]
    dw = [d for d in detected if d["kind"] == "walk"]
    group = list(range(len(lw)))

    def root(i):
        while group[i] != i:
            i = group[i]
        return i
    hits = [[i for i, s in enumerate(lw) if _overlap(s, d) > 0] for d in dw]
    for hit in hits:
        for i in hit[1:]:
            group[root(i)] = root(hit[0])
    out = []
    for r in sorted(set(root(i) for i in range(len(lw)))):
        want = sum(s["steps"] for i, s in enumerate(lw) if root(i) == r)
        got = sum(d.get("steps", 0) for d, hit in zip(dw, hits) if hit and root(hit[0]) == r)
        out.append((want, got))
    return out


def spearman(pairs):
    if len(pairs) < 3:
        return float("nan")
    import numpy as np
    a = np.array(pairs, dtype=float)

    def rank(x):
        order = x.argsort()
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        return r
    ra, rb = rank(a[:, 0]), rank(a[:, 1])
    return float(np.corrcoef(ra, rb)[0, 1])


def summarize(rows):
    import numpy as np
    sets = [s for r in rows for s in r["sets"]]
    out = {}
    out["sets"] = len(sets)
    out["exact_pct"] = 100.0 * sum(1 for _, a, b in sets if a == b) / len(sets) if sets else float("nan")
    out["pm1_pct"] = 100.0 * sum(1 for _, a, b in sets if abs(a - b) <= 1) / len(sets) if sets else float("nan")
    out["mae"] = float(np.mean([abs(a - b) for _, a, b in sets])) if sets else float("nan")
    rec = [ok for r in rows for _, ok in r["recog"]]
    out["recog_pct"] = 100.0 * sum(rec) / len(rec) if rec else float("nan")
    rest_h = sum(r["rest_s"] for r in rows) / 3600.0
    fr = sum(r["false_reps"] for r in rows)
    out["false_per_h"] = fr / rest_h if rest_h > 0 else float("nan")
    lat = [x for r in rows for x in r["lat"]]
    out["latency_s"] = float(np.median(lat)) if lat else float("nan")
    holds = [h for r in rows for h in r["holds"]]
    found = [h for h in holds if h[2] is not None]
    out["holds"] = "%d/%d" % (len(found), len(holds)) if holds else "-"
    out["false_holds"] = sum(r["false_holds"] for r in rows)
    out["hold_err_s"] = float(np.mean([abs(a - b) for _, a, b in found])) if found else float("nan")
    out["hold_max_err_s"] = float(max([abs(a - b) for _, a, b in found])) if found else float("nan")
    out["holds_1s_pct"] = 100.0 * sum(1 for _, a, b in found if abs(a - b) <= 1.0) / len(holds) if holds else float("nan")
    out["sway_rho"] = spearman([p for r in rows for p in r["sway"]])
    st = [p for r in rows for p in r["steps"]]
    lab = sum(a for a, _ in st)
    out["step_err_pct"] = 100.0 * sum(abs(a - b) for a, b in st) / lab if lab else float("nan")
    return out


def per_kind(rows):
    kinds = {}
    for r in rows:
        for k, a, b in r["sets"]:
            kinds.setdefault(k, []).append(abs(a - b))
        for k, ok in r["recog"]:
            kinds.setdefault(k, [])
    out = {}
    for r in rows:
        for k, ok in r["recog"]:
            d = out.setdefault(k, {"n": 0, "ok": 0, "exact": 0, "sets": 0, "abs": 0})
            d["n"] += 1
            d["ok"] += ok
        for k, a, b in r["sets"]:
            d = out[k]
            d["sets"] += 1
            d["exact"] += a == b
            d["abs"] += abs(a - b)
    return out


def run(sources=None, tun=None, verbose=False, variants=False):
    sources = sources or default_sources()
    by_source = {}
    t0 = time.time()
    for src, name, trace, labels in labelled_traces(sources, variants):
        if isinstance(trace, list):
            an, reader, eng = rb_analysis.analyze_lines(trace, tun)
        else:
            with open(trace) as f:
                an, reader, eng = rb_analysis.analyze_lines(f, tun)
        detected = json.loads(an.json())["segments"]
        dur = (reader._last_t or 0) / 1000.0
        r = score_trace(labels, detected, dur)
        r["name"] = name
        by_source.setdefault(src, []).append(r)
        if verbose:
            print(src, name, [(k, a, b) for k, a, b in r["sets"]], r["holds"], r["steps"], "false", r["false_reps"], "false holds", r["false_holds"])
    return by_source, time.time() - t0


def fmt_table(by_source):
    cols = ["sets", "exact_pct", "pm1_pct", "mae", "recog_pct", "false_per_h", "latency_s",
            "holds", "false_holds", "holds_1s_pct", "hold_err_s", "hold_max_err_s", "sway_rho", "step_err_pct"]
    lines = ["| source | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    allrows = []
    for src, rows in by_source.items():
        allrows += rows
        s = summarize(rows)
        lines.append("| %s | " % src + " | ".join(_f(s[c]) for c in cols) + " |")
    s = summarize(allrows)
    lines.append("| **all** | " + " | ".join(_f(s[c]) for c in cols) + " |")
    lines.append("")
    lines.append("| kind | segments | recognised % | sets exact % | MAE |")
    lines.append("|---|---|---|---|---|")
    for k, d in sorted(per_kind(allrows).items()):
        lines.append("| %s | %d | %.0f | %s | %s |" % (
            k, d["n"], 100.0 * d["ok"] / d["n"],
            ("%.0f" % (100.0 * d["exact"] / d["sets"])) if d["sets"] else "-",
            ("%.2f" % (d["abs"] / d["sets"])) if d["sets"] else "-"))
    return "\n".join(lines)


def _f(v):
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if v != v:
        return "-"
    return "%.2f" % v
