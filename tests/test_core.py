"""Detection core: trace reading, analyze command, same answer under MicroPython, robustness."""
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from repbelt import paths
from repbelt import analyze as A

import rb_trace  # noqa: E402
import rb_tunables  # noqa: E402
import rb_mount  # noqa: E402
import rb_events as E  # noqa: E402
import rb_names as N  # noqa: E402
import rb_analysis  # noqa: E402

SYN = paths.SHARED / "datasets" / "synthetic-dev"
REAL = paths.SHARED / "datasets" / "real-gait-dev"
REPBELT = [sys.executable, "-m", "repbelt.cli"]


def repbelt(*args):
    code = "import sys; from repbelt.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


@pytest.mark.parametrize("text,digits,want", [
    ("0.0123", 3, 12), ("-0.0125", 3, -13), ("1", 3, 1000), ("2.63", 1, 26), ("-2.65", 1, -27),
    ("1.5e-3", 3, 2), ("+0.9991", 3, 999), (".5", 3, 500), ("12.", 0, 12), ("100", 0, 100),
])
def test_parse_fixed(text, digits, want):
    assert rb_trace.parse_fixed(text, digits) == want


@pytest.mark.parametrize("bad", ["", "-", "1.2.3", "abc", "1e", "0x10", "nan"])
def test_parse_fixed_rejects(bad):
    with pytest.raises(ValueError):
        rb_trace.parse_fixed(bad, 3)


def test_reader_rows_and_meta():
    lines = ["# rate_hz=50", "# mount=default", "t,ax,ay,az", "0.00,1.0,0,0", "0.02,0.999,0.001,-0.002"]
    r = rb_trace.TraceReader(lines)
    assert r.rate_hz == 50 and not r.has_gyro and r.mount == "default"
    rows = [list(s) for s in r]
    assert rows == [[0, 1000, 0, 0, 0, 0, 0], [20, 999, 1, -2, 0, 0, 0]]


def test_reader_columns_any_order_and_rate_estimate():
    lines = ["gz,t,az,ay,ax,gx,gy"] + ["%d,%.3f,1,0,0,0,0" % (i, i * 0.005) for i in range(100)]
    r = rb_trace.TraceReader(lines)
    assert r.rate_hz == 200 and r.has_gyro
    first = list(next(iter(r)))
    assert first == [0, 0, 0, 1000, 0, 0, 0]


BAD = [
    ("", "empty file"),
    ("# rate_hz=100\nfoo,bar\n1,2\n", "has no column 't'"),
    ("t,ax,ay,az\n0.0,1,0,0\n0.01,1,zz,0\n", "not a number"),
    ("t,ax,ay,az\n0.0,1,0,0\n0.02,1,0,0\n0.01,1,0,0\n", "time goes backwards"),
    ("t,ax,ay,az\n" + "".join("%.2f,9.81,0,0\n" % (i / 100) for i in range(120)), "m/s^2"),
    ("# accel_units=m/s2\nt,ax,ay,az\n0,1,0,0\n", "unknown units"),
    ("t,ax,ay,az\n", "no samples"),
    ("t,ax,ay,az\n0.0,1,0\n", "expected 4 values"),
]


@pytest.mark.parametrize("content,msg", BAD)
def test_analyze_bad_input_one_line(tmp_path, content, msg):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    r = repbelt("analyze", str(p))
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if "unavailable" not in ln]
    assert len(err) == 1 and "Traceback" not in r.stderr
    assert str(p) in err[0] and msg in err[0]


def test_analyze_missing_file():
    r = repbelt("analyze", "/nonexistent/trace.csv")
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_thresholds_file_matches_defaults():
    doc = json.loads(paths.THRESHOLDS.read_text())
    assert {k: v["value"] for k, v in doc["values"].items()} == rb_tunables.defaults()
    assert rb_tunables.load(str(paths.THRESHOLDS)) == rb_tunables.defaults()


def test_bad_thresholds_are_reported(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('{"values": {"NOPE_MS": 3}}')
    with pytest.raises(Exception) as ei:
        A.load_tunables(str(p))
    assert "unknown threshold 'NOPE_MS'" in str(ei.value)


# (our generator's demo: a set's left-out first reps; mixed_default_a: a re-seat counting two
# reps made from the rest; supine_calib_50hz: the calibrate mount's lying phase as the seat)
@pytest.mark.parametrize("trace", [SYN / "dev-100004.csv", SYN / "dev-100009.csv", REAL / "voisard-5-1.csv",
                                   paths.CALIBRATION / "generated" / "demo_workout.csv",
                                   paths.CALIBRATION / "generated" / "mixed_default_a.csv",
                                   paths.CALIBRATION / "generated" / "supine_calib_50hz.csv"],
                         ids=lambda p: p.name)
def test_micropython_json_byte_identical(trace):
    cp, _ = A.analyze_cpython(trace, A.load_tunables(None))
    mp = A.analyze_micropython(trace)
    assert mp == cp
    assert json.loads(cp)["format"] == "repbelt-analysis/1"


def test_micropython_json_byte_identical_across_holes(tmp_path, monkeypatch):
    """Holes of dropped samples (up to 0.5 s, every 5 s on average) take the filled frames'
    straight-line path in the lunge height (and a tuple from rb_mount.rotate there): the
    same bytes on the board's interpreter."""
    from repbelt import bench_accuracy as B
    monkeypatch.setattr(B, "GAP_EVERY_S", 5.0)
    trace = tmp_path / "dev-100009-gaps.csv"
    trace.write_text("\n".join(B.variant(SYN / "dev-100009.csv", "gaps")) + "\n")
    cp, _ = A.analyze_cpython(trace, A.load_tunables(None))
    assert A.analyze_micropython(trace) == cp


def test_json_matches_analysis_format():
    text, _ = A.analyze_cpython(SYN / "dev-100004.csv", None)
    doc = json.loads(text)
    kinds = set(N.KIND_NAMES[1:])
    for s in doc["segments"]:
        assert s["kind"] in kinds and s["start"] <= s["end"]
        if "reps" in s:
            assert len(s["rep_ends"]) == s["reps"]
        if "hold_s" in s:
            assert 0 <= s["stability"] <= 100 and s["sway_mg"] >= 0
    reps = [s for s in doc["segments"] if s["kind"] == "bridge"]
    assert reps and reps[0]["reps"] == 13      # the labelled bridge set has 13 reps


def _counts(text):
    out = {}
    for s in json.loads(text)["segments"]:
        out[s["kind"]] = out.get(s["kind"], 0) + s.get("reps", 0) + s.get("steps", 0)
    return out


def test_dropped_samples_do_not_change_counts(tmp_path):
    src = SYN / "dev-100004.csv"
    lines = src.read_text().splitlines()
    head = [ln for ln in lines if ln.startswith("#") or ln.startswith("t,")]
    rows = lines[len(head):]
    rnd = random.Random(7)
    kept, i = [], 0
    while i < len(rows):
        if rnd.random() < 0.002:
            i += rnd.randint(1, 20)      # a gap of 1-20 samples
            continue
        kept.append(rows[i])
        i += 1
    p = tmp_path / "gappy.csv"
    p.write_text("\n".join(head + kept) + "\n")
    a, _ = A.analyze_cpython(src, None)
    b, _ = A.analyze_cpython(p, None)
    assert _counts(a) == _counts(b)


def test_resampled_rate_same_rep_counts(tmp_path):
    src = SYN / "dev-100006.csv"
    lines = src.read_text().splitlines()
    head = [ln.replace("rate_hz=100", "rate_hz=50") for ln in lines if ln.startswith("#") or ln.startswith("t,")]
    rows = lines[len(head):][::2]
    p = tmp_path / "half.csv"
    p.write_text("\n".join(head + rows) + "\n")
    a, _ = A.analyze_cpython(src, None)
    b, _ = A.analyze_cpython(p, None)
    ca, cb = _counts(a), _counts(b)
    for k in ca:
        if k != "walk":
            assert abs(ca[k] - cb.get(k, 0)) <= 1, (k, ca, cb)


def test_rotation_from_recovers_a_mount():
    import math
    rnd = random.Random(3)
    for _ in range(20):
        # a random rotation matrix (body -> sensor) from random Euler angles
        a, b, c = (rnd.uniform(-math.pi, math.pi) for _ in range(3))
        ca, sa, cb, sb, cc, sc = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(c), math.sin(c)
        Rz = [[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]]
        Ry = [[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]]
        Rx = [[1, 0, 0], [0, cc, -sc], [0, sc, cc]]

        def mm(X, Y):
            return [[sum(X[i][k] * Y[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
        M = mm(mm(Rz, Ry), Rx)            # sensor = M * body

        def sensor(v):
            return tuple(int(round(1000 * sum(M[i][k] * v[k] for k in range(3)))) for i in range(3))
        stand = sensor((1, 0, 0))
        lie = sensor((0, 0, -1))
        R, st = rb_mount.rotation_from(stand, lie)
        assert st == E.CAL_OK
        # R * sensor(v) == v for the three body axes
        for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
            got = rb_mount.rotate(R, *sensor(v))
            assert all(abs(got[i] - 1000 * v[i]) <= 15 for i in range(3)), (v, got)


def test_calibrate_mount_trace_is_calibrated():
    text, an = A.analyze_cpython(SYN / "dev-100009.csv", None)
    doc = json.loads(text)
    assert doc["calibration"]["status"] == 0
    assert _counts(text).get("pelvic_tilt") == 12     # labelled: 12


def test_unknown_mount_counts_steps_only():
    text, _ = A.analyze_cpython(REAL / "voisard-10-3.csv", None)
    segs = json.loads(text)["segments"]
    assert [s["kind"] for s in segs] == ["walk"]
    assert abs(segs[0]["steps"] - 34) <= 4          # labelled: 34 (37 counted: see the next test)


def test_step_error_on_real_walking():
    """Every real lower-back trace, scored like the benchmark: 2.96% today (3.28% while swaying
    on the spot after a stop counted at the walk's old beat; 3.74% while the
    push-off into the first step counted as a step; 4.06% while a walk ended 2 s after its last
    step and weak bumps lowered the bar; 5.15% before the on-the-beat rule).  The labels count
    every foot-sensor step of the recording, also those after the walk (9 of them after the
    back sensor's recording ends), so no trace is asked to be exact; 10-3 is counted 37
    against 34 (its annotations go R, R, L, L at the stop)."""
    from repbelt import bench_accuracy as B
    by, _ = B.run([REAL], rb_tunables.defaults())
    rows = by["real-gait-dev"]
    assert len(rows) == 18
    assert B.summarize(rows)["step_err_pct"] <= 3.2
    worst = max(abs(a - b) for r in rows for a, b in r["steps"])
    assert worst <= 7, worst                        # 15-3: 41 labelled, 5 after the recording ends


def test_accuracy_floor_on_synthetic_dev():
    """A regression guard with real figures: the shared synthetic set must stay at least this good."""
    from repbelt import bench_accuracy as B
    by, _ = B.run([SYN], rb_tunables.defaults())
    s = B.summarize(by["synthetic-dev"])
    # (all 27 sets exact today; one set of slack)
    assert s["exact_pct"] >= 96 and s["pm1_pct"] == 100 and s["recog_pct"] >= 97, s
    assert s["false_per_h"] <= 5 and s["latency_s"] <= 0.5 and s["holds_1s_pct"] == 100, s
    assert s["step_err_pct"] <= 1.0, s               # 0% today (1.45% while the push-off counted)
    assert s["false_holds"] == 0, s


def test_accuracy_floor_on_our_generator():
    """The same guard on calibration_data/generated (seed 0, made by `make data`): 67 of 73 sets
    exact today (64 before this round's mends: a set's left-out first reps, two reps replayed
    from the rest), no false reps (2.3 per hour while one pitch down and up made a cat-cow set
    of 1), 44 of 45 holds within 1 s; one set or hold of slack."""
    from repbelt import bench_accuracy as B
    by, _ = B.run([paths.CALIBRATION / "generated"], rb_tunables.defaults())
    s = B.summarize(by["generated"])
    assert s["sets"] == 73 and s["exact_pct"] >= 90 and s["pm1_pct"] >= 94 and s["recog_pct"] >= 96, s
    assert s["false_per_h"] <= 1.5 and s["holds_1s_pct"] >= 95, s
    # 1 hold nobody held today (2 before a rep's way back and coming down out of a cobra
    # stopped counting as ways into a hold)
    assert s["false_holds"] <= 2, s


def _turned(path, R):
    """A trace's lines with its accelerometer and gyro turned by the 3x3 rotation R."""
    lines = Path(path).read_text().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    cols = lines[len(head)].split(",")
    out = head + [lines[len(head)]]
    for ln in lines[len(head) + 1:]:
        r = [float(x) for x in ln.split(",")]
        for j in ([cols.index(c) for c in ("ax", "ay", "az")], [cols.index(c) for c in ("gx", "gy", "gz")]):
            v = [r[k] for k in j]
            for i, k in enumerate(j):
                r[k] = sum(R[i][m] * v[m] for m in range(3))
        out.append(",".join("%.4f" % x for x in r))
    return out


@pytest.mark.parametrize("deg", [10, -10])
def test_strap_slid_round_the_waist_keeps_knee_twists(deg):
    """A default-mount strap slid 10 degrees round the waist (about the body's long axis, as
    trace-format allows) rests rolled when lying; a deep knee twist to that side then left
    the flat-lying cone, the posture flipped to "side" and 3 of the set's 10 reps were lost
    (6 degrees already lost one).  The lying cone is now also kept round where the body rests."""
    import math
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    segs = _summary(_turned(SYN / "dev-100010.csv", [[1, 0, 0], [0, c, -s], [0, s, c]]))
    assert [n for k, n in segs if k == "knee_twist"] == [10, 7], segs
    assert [n for k, n in segs if k == "bridge"] == [14, 9], segs


def test_a_first_rep_held_longer_than_a_new_position_is_still_a_rep():
    """Outside a set, a departure that stays away REP_HOLD_MAX_MS is a new position (onto the
    knees, down from a plank).  The first bird dog of dev-100009 played 20% slower is held
    that long; when the body comes back to where it left before a rep would be over, that
    was a held rep: its seat and the rep come back (11 of 12 bird dogs without this, once a
    flat seed stays provisional)."""
    from repbelt import bench_accuracy as B
    segs = _summary(B.variant(SYN / "dev-100009.csv", "slow"))
    assert [(k, n) for k, n in segs if k != "walk"] == [
        ("pelvic_tilt", 12), ("bird_dog", 12), ("cat_cow", 9), ("cat_cow", 10)], segs


def _variant_summary(tag):
    """The bench's summary of every synthetic-dev trace played as its variant `tag`."""
    from repbelt import bench_accuracy as B
    rows = []
    for csv in sorted(SYN.glob("*.csv")):
        labels = json.loads(csv.with_suffix(".labels.json").read_text())
        an, reader, _ = rb_analysis.analyze_lines(B.variant(csv, tag))
        rows.append(B.score_trace(B.variant_labels(labels, tag), json.loads(an.json())["segments"],
                                  reader._last_t / 1000.0))
    return B.summarize(rows)


@pytest.mark.parametrize("tag", ["strap", "offsets", "gaps", "50Hz+acc+strap", "200Hz+acc+offsets"])
def test_worn_and_sensor_variants_are_counted_like_the_original(tag):
    """The bench's "strap" variant (default mount 10 degrees off about a random axis,
    calibrate mount turned anywhere) and "offsets" variant (an uncalibrated MPU6050's
    datasheet offsets: 50 mg, 3%, 20 deg/s) and "gaps" variant (holes of dropped samples up
    to 0.5 s) count every synthetic-dev set and hold as labelled, alone and combined with the
    ends of the rate range without a gyro.  (With "offsets" the three calibrate-mount traces
    found nothing, 12 of 27 sets, while the routine's still phases were judged by the gyro's
    size; "50Hz+acc+strap" made 2 false leg raises after a plank and "200Hz+acc+offsets"
    dated two holds 2.6-3.4 s early, before the mends of README "Stress sweep and five mends".)"""
    s = _variant_summary(tag)
    assert s["sets"] == 27 and s["exact_pct"] == 100 and s["holds_1s_pct"] == 100, s
    assert s["false_per_h"] == 0 and s["recog_pct"] == 100, s


@pytest.mark.parametrize("tag", ["25Hz", "400Hz"])
def test_the_ends_of_the_rate_range_are_counted_like_the_original(tag):
    """The core takes 25 to 400 Hz: synthetic-dev as 25 Hz (groups of 4 samples averaged)
    and 400 Hz (interpolated) counts every set and finds every hold.  (At 25 Hz one cobra
    comes out 1.03 s short: the tremor that shows its effort is noisier with one sample a
    frame, and where it last stood at rest, the hold's start, moves; 8 of 9 within 1 s.)"""
    s = _variant_summary(tag)
    assert s["sets"] == 27 and s["exact_pct"] == 100 and s["recog_pct"] == 100, s
    assert s["holds"] == "9/9" and s["holds_1s_pct"] >= (88 if tag == "25Hz" else 100), s
    assert s["hold_max_err_s"] <= 1.1 and s["false_holds"] == 0 and s["false_per_h"] == 0, s


@pytest.mark.parametrize("tag", ["50Hz+acc", "200Hz+acc"])
def test_settings_combined_are_counted_like_the_original(tag):
    """The sensor settings the project is evaluated with come together (50 or 200 Hz, and
    accelerometer only): every synthetic-dev set counted exactly, every hold found within 1 s."""
    s = _variant_summary(tag)
    assert s["sets"] == 27 and s["exact_pct"] == 100 and s["recog_pct"] == 100, s
    assert s["holds"] == "9/9" and s["holds_1s_pct"] == 100, s
    assert s["false_holds"] == 0 and s["false_per_h"] == 0, s


def test_a_sensor_reading_over_1g_does_not_hide_a_lunge():
    """An MPU6050 may read 1 g as 1.06 g (zero-g offset +-50 mg on x, +-3% sensitivity).
    Resetting the filters (levelling the strap at 153 s of dev-100004) put the vertical
    specific force's mean back to a nominal 1000 mg; the 60 mg difference, integrated, was a
    44 cm rise, and the first lunge of the second set was lost in it (14 of 15)."""
    lines = []
    for ln in (SYN / "dev-100004.csv").read_text().splitlines():
        if ln[:1].isdigit():
            v = ln.split(",")
            v[1] = "%.4f" % (float(v[1]) + 0.060)
            ln = ",".join(v)
        lines.append(ln)
    an, _, _ = rb_analysis.analyze_lines(lines)
    lunges = [s for s in json.loads(an.json())["segments"] if s["kind"] == "lunge"]
    # (the first set, begun soon after getting up from the bridges, takes its 1 g from the
    # first second of standing still: 11 of 12 while it started from the nominal 1 g)
    assert [s["reps"] for s in lunges] == [12, 15], lunges


def test_a_hole_in_the_data_does_not_end_a_hold():
    """Dropped samples: the engine fills a short hole by holding the last frame.  Held for
    0.5 s, that one frame's |f| (a plank shakes) read as the pelvis accelerating, the spell
    ended and the 39 s plank of dev-100004 was reported as 14.6 s (and a cobra).  In a filled
    hole the hold detector now takes |f| and the tremor as they were on average."""
    lines = [ln for ln in (SYN / "dev-100004.csv").read_text().splitlines()
             if not ln[0].isdigit() or not 274.5 <= float(ln.split(",", 1)[0]) < 275.0]
    an, _, _ = rb_analysis.analyze_lines(lines)
    holds = [(s["kind"], s["hold_s"]) for s in json.loads(an.json())["segments"] if "hold_s" in s]
    assert [k for k, _ in holds] == ["plank", "plank"] and abs(holds[0][1] - 39.25) <= 1.0, holds


def test_events_are_small_ints():
    _, an = A.analyze_cpython(SYN / "dev-100010.csv", None, keep_events=True)
    assert an.events
    for ev in an.events:
        assert len(ev) == 8 and all(isinstance(x, int) and -(1 << 30) <= x < (1 << 30) for x in ev)


def _shifted(path, off_s):
    lines = Path(path).read_text().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    hdr = lines[len(head)]
    rows = lines[len(head) + 1:]
    return head + [hdr] + ["%.4f,%s" % (float(r.split(",", 1)[0]) + off_s, r.split(",", 1)[1]) for r in rows]


def _summary(lines):
    an, _, _ = rb_analysis.analyze_lines(lines)
    return [(s["kind"], s.get("reps", s.get("steps", "hold"))) for s in json.loads(an.json())["segments"]]


@pytest.mark.parametrize("trace", sorted(SYN.glob("*.csv")) + [paths.CALIBRATION / "generated" / "demo_workout.csv"],
                         ids=lambda p: p.name)
def test_results_do_not_depend_on_the_sample_clock_phase(trace):
    """A board's sensor clock starts anywhere: the 40 ms frames fall at another phase of the
    motion.  Sets, reps, holds and steps stay the same (the live board tests rely on it)."""
    base = _summary(_shifted(trace, 0.0))
    for off in (0.013, 0.027):
        assert _summary(_shifted(trace, off)) == base, off


def test_step_scoring_compares_walks_kept_together_once():
    """A found walk that spans two labelled ones (a short stop kept open) is scored against
    both together, once (it was scored against each: 221 against 110 and against 106, a 100%
    error for 5 extra steps); a labelled walk found in two pieces, against their sum."""
    from repbelt import bench_accuracy as B
    lab = {"segments": [{"kind": "walk", "start": 75.7, "end": 136.3, "steps": 110},
                        {"kind": "walk", "start": 143.8, "end": 203.6, "steps": 106},
                        {"kind": "walk", "start": 220.0, "end": 260.0, "steps": 70}]}
    det = [{"kind": "walk", "start": 75.9, "end": 203.6, "steps": 221},
           {"kind": "walk", "start": 220.5, "end": 238.0, "steps": 31},
           {"kind": "walk", "start": 241.0, "end": 260.0, "steps": 38}]
    assert B.score_trace(lab, det, 300.0)["steps"] == [(216, 221), (70, 69)]


def test_a_hold_nobody_held_is_scored_as_a_false_hold():
    """A found hold that overlaps no labelled hold (a rest, or a rep set it swallowed) is a
    false hold; one overlapping a labelled hold of another kind is a wrong kind, not false."""
    from repbelt import bench_accuracy as B
    lab = {"segments": [{"kind": "plank", "start": 10.0, "end": 40.0, "hold_s": 30.0},
                        {"kind": "leg_raise", "start": 60.0, "end": 100.0, "reps": 10}]}
    det = [{"kind": "cobra", "start": 11.0, "end": 40.0, "hold_s": 29.0},
           {"kind": "cobra", "start": 42.0, "end": 55.0, "hold_s": 13.0},
           {"kind": "plank", "start": 58.0, "end": 101.0, "hold_s": 43.0}]
    r = B.score_trace(lab, det, 120.0)
    assert r["false_holds"] == 2
    assert B.summarize([r, r])["false_holds"] == 4
