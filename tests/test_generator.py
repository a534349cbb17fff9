"""Tests of calibration_data/generator.py: trace/label format, determinism, physics, label consistency."""

import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from repbelt import paths

ROOT = pathlib.Path(__file__).resolve().parents[1]
from genmodule import G

KINDS = {"bridge", "leg_raise", "pelvic_tilt", "bird_dog", "lunge", "cat_cow", "knee_twist", "plank",
         "side_plank", "cobra", "walk"}
REP_KINDS = {"bridge", "leg_raise", "pelvic_tilt", "bird_dog", "lunge", "cat_cow", "knee_twist"}
HOLD_KINDS = {"plank", "side_plank", "cobra"}
NUM4 = r"-?\d+\.\d{4}"
NUM2 = r"-?\d+\.\d{2}"


def parse_csv(text):
    """Independent minimal reader of trace-format section 1."""
    meta, rows, header = {}, [], None
    for line in text.split("\n"):
        if not line:
            continue
        if header is None and line.startswith("#"):
            k, v = line[1:].strip().split("=", 1)
            meta[k] = v
            continue
        if header is None:
            header = line.split(",")
            continue
        rows.append(line)
    return meta, header, rows


def small_session(seed=5, **subject):
    s = G.Session(seed=seed, subject=subject or None)
    s.still(5.0)
    s.move_to("supine")
    s.still(5.0)
    s.bridge(3)
    s.still(4.0)
    return s


@pytest.fixture(scope="module")
def walk_acc_trace():
    return G.generate("walk_unknown_200hz_acc", seed=0)


@pytest.fixture(scope="module")
def fours_trace():
    return G.generate_trace("fours_default", seed=0)


@pytest.fixture(scope="module")
def bridge_trace():
    return small_session().render(rate_hz=100, mount="default", name="t")


# ---------------------------------------------------------------- format

def check_format(text, labels, gyro):
    meta, header, rows = parse_csv(text)
    assert set(meta) == {"rate_hz", "sensor", "accel_range_g", "source", "mount"} | ({"gyro_range_dps"} if gyro else set())
    assert meta["sensor"] == "mpu6050"
    assert meta["source"].startswith("repbelt-generator")
    assert 25 <= int(meta["rate_hz"]) <= 400
    assert header == (["t", "ax", "ay", "az", "gx", "gy", "gz"] if gyro else ["t", "ax", "ay", "az"])
    pat = re.compile("^" + ",".join([NUM4] * 4 + ([NUM2] * 3 if gyro else [])) + "$")
    bad = [r for r in rows if not pat.match(r)]
    assert not bad, bad[:3]
    data = np.array([[float(x) for x in r.split(",")] for r in rows])
    t = data[:, 0]
    assert t[0] == 0.0
    assert np.all(np.diff(t) > 0)
    rate = int(meta["rate_hz"])
    med = np.median(np.diff(t))
    assert abs(med - 1.0 / rate) < 0.0006
    rng_g = float(meta["accel_range_g"])
    assert np.all(np.abs(data[:, 1:4]) <= rng_g)
    if gyro:
        assert np.all(np.abs(data[:, 4:7]) <= float(meta["gyro_range_dps"]) * 1.001)
    assert labels["format"] == "repbelt-labels/1"
    json.dumps(labels)                      # plain JSON types only
    return meta, data


def test_catalog_trace_format_accel_only(walk_acc_trace):
    text, labels = walk_acc_trace
    meta, data = check_format(text, labels, gyro=False)
    assert meta["mount"] == "unknown"
    assert text.split("\n")[[i for i, l in enumerate(text.split("\n")) if not l.startswith("#")][0]] == "t,ax,ay,az"
    assert data.shape[1] == 4


def test_catalog_trace_format_gyro(fours_trace):
    meta, data = check_format(fours_trace.to_csv(), fours_trace.labels, gyro=True)
    assert meta["mount"] == "default" and meta["gyro_range_dps"] == "500" and meta["accel_range_g"] == "4"


def test_dropped_samples_leave_gaps_but_not_chaos():
    s = G.Session(seed=11)
    s.still(400.0)
    tr = s.render(rate_hz=50, name="gaps")
    dt = np.diff(tr.t)
    assert dt.max() > 1.5 / 50                       # some samples were dropped
    assert dt.max() <= 21 / 50 + 0.002               # gaps are at most 20 samples
    assert np.all(np.abs(dt - np.round(dt * 50) / 50) <= 0.0011)   # jitter stays within +-0.5 ms of the grid


def test_values_are_quantised_to_the_range_lsb(bridge_trace):
    tr = bridge_trace
    lsb_acc = tr.acc * 8192.0             # +-4 g
    lsb_gyr = tr.gyr * 65.5               # +-500 dps
    # only the 4 / 2 decimal rounding of the text separates a value from a whole number of LSBs
    assert np.abs(lsb_acc - np.round(lsb_acc)).max() <= 0.00005 * 8192 + 1e-6
    assert np.abs(lsb_gyr - np.round(lsb_gyr)).max() <= 0.005 * 65.5 + 1e-6


def test_clipping_at_the_range():
    def make(rng_g):
        s = G.Session(seed=72)
        s.still(2.0)
        s.walk(20.0)
        return s.render(rate_hz=100, accel_range_g=rng_g, gyro_range_dps=250, name="clip")
    wide, narrow = make(4), make(2)
    over = np.abs(wide.acc) > 2.0
    assert over.any()                                   # heel strikes of this walker exceed 2 g
    assert np.all(np.abs(narrow.acc[over]) >= 1.9999)   # ... and a +-2 g sensor clips them
    assert narrow.acc.max() <= round(32767 / 16384, 4) and narrow.acc.min() >= -2.0
    inside = np.abs(wide.acc) < 1.99                    # elsewhere the two differ only by quantisation
    assert np.abs(narrow.acc[inside] - wide.acc[inside]).max() <= 1 / 16384 + 1 / 8192 + 1e-4


def test_no_negative_zero_and_decimals(bridge_trace):
    text = bridge_trace.to_csv()
    assert "-0.0000" not in text and ",-0.00," not in text and not re.search(r",-0\.00$", text, re.M)


# ---------------------------------------------------------------- determinism

def test_same_seed_same_bytes():
    a, la = G.generate("walk_unknown_200hz_acc", seed=3)
    b, lb = G.generate("walk_unknown_200hz_acc", seed=3)
    c, _ = G.generate("walk_unknown_200hz_acc", seed=4)
    assert a == b and la == lb
    assert a != c


def test_cli_writes_files_and_rejects_unknown_names(tmp_path):
    py = sys.executable
    r = subprocess.run([py, str(ROOT / "calibration_data" / "generator.py"), "--out", str(tmp_path), "--quiet",
                        "--only", "walk_unknown_200hz_acc"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    text = (tmp_path / "walk_unknown_200hz_acc.csv").read_text()
    labels = json.loads((tmp_path / "walk_unknown_200hz_acc.labels.json").read_text())
    assert (text, labels) == G.generate("walk_unknown_200hz_acc", seed=0)
    r = subprocess.run([py, str(ROOT / "calibration_data" / "generator.py"), "--out", str(tmp_path),
                        "--only", "no_such_trace"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "unknown trace name no_such_trace" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- physics

def rest_mean(tr, t0, t1):
    m = (tr.t >= t0) & (tr.t <= t1)
    return tr.acc[m].mean(0)


def angle_deg(u, v):
    return math.degrees(math.acos(np.clip(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


def test_still_postures_read_gravity_on_the_up_axis():
    s = G.Session(seed=21)
    spans = {}
    for posture in ("stand", "supine", "prone", "side_r"):
        s.move_to(posture)
        t0 = s.t
        s.still(6.0)
        spans[posture] = (t0 + 0.5, s.t - 0.5)
    tr = s.render(rate_hz=100, mount="default", name="postures")
    expect = {"stand": (1, 0, 0), "supine": (0, 0, -1), "prone": (0, 0, 1), "side_r": (0, 1, 0)}
    for posture, span in spans.items():
        m = rest_mean(tr, *span)
        # strap error <= 10 deg, posture offsets <= ~8 deg, accel bias <= 30 mg
        assert angle_deg(m, expect[posture]) < 18.0, (posture, m)
        assert abs(np.linalg.norm(m) - 1.0) < 0.06, (posture, m)
        sel = (tr.t >= span[0]) & (tr.t <= span[1])
        assert np.all(np.abs(np.linalg.norm(tr.acc[sel], axis=1) - 1.0) < 0.1)
    # the mount truth explains the readings: rotating the mean into the body frame lands on the posture axis
    m = rest_mean(tr, *spans["supine"])
    body = tr.truth["R_s"] @ m
    assert body[2] < -0.95


def test_sensor_mean_standing_within_strap_error_many_seeds():
    worst = 0.0
    for seed in range(8):
        s = G.Session(seed=100 + seed)
        s.still(4.0)
        tr = s.render(rate_hz=50, mount="default", has_gyro=False, name="st")
        worst = max(worst, angle_deg(rest_mean(tr, 0.5, 3.5), (1, 0, 0)))
    assert worst < 16.0          # 10 deg strap + lean up to 4 deg + bias


def test_gyro_integrates_to_commanded_bridge_rotation(bridge_trace):
    tr = bridge_trace
    seg = tr.labels["segments"][0]
    assert seg["kind"] == "bridge" and seg["reps"] == 3
    # noise-free truth on the grid: the integrated body rate reaches the commanded pitch at the top
    tt, w = tr.truth["grid_t"], tr.truth["ideal_gyr"]
    starts = [seg["start"]] + seg["rep_ends"][:-1]
    for k, (a, b) in enumerate(zip(starts, seg["rep_ends"])):
        m = (tt >= a) & (tt <= b)
        cum = np.cumsum(w[m], axis=0) / G.GRID_HZ
        peak = np.abs(np.linalg.norm(cum, axis=1)).max()
        theta = seg["range_deg"][k]
        assert abs(peak - theta) < 0.06 * theta + 1.0, (k, peak, theta)
        assert np.linalg.norm(cum[-1]) < 1.5          # back at the start position
    # measured gyro (bias taken from the still rest before the set) gives the same within sensor error
    pre = (tr.t > seg["start"] - 4.0) & (tr.t < seg["start"] - 0.5)
    bias = tr.gyr[pre].mean(0)
    m = (tr.t >= seg["start"]) & (tr.t <= seg["rep_ends"][0])
    dt = np.diff(tr.t[m], prepend=tr.t[m][0])
    cum = np.cumsum((tr.gyr[m] - bias) * dt[:, None], axis=0)
    i_top = int(np.argmax(np.linalg.norm(cum, axis=1)))
    peak = np.linalg.norm(cum[i_top])
    theta = seg["range_deg"][0]
    assert abs(peak - theta) < 0.1 * theta + 1.5, (peak, theta)
    # and the accelerometer agrees: gravity turned by the same angle between the floor and the top
    before = tr.acc[pre].mean(0)
    top = tr.acc[m][max(i_top - 5, 0):i_top + 5].mean(0)
    assert abs(angle_deg(before, top) - theta) < 3.5
    # head end down: the body-frame x component of the up vector goes negative at the top
    assert (tr.truth["R_s"] @ top)[0] < (tr.truth["R_s"] @ before)[0] - 0.2


def test_specific_force_of_free_fall_free_world_is_gravity_only():
    """A body held perfectly still, no breathing: the ideal sensor reads exactly R^T (0, 0, +1) g and zero rate."""
    s = G.Session(seed=3, subject={"breath_deg": 0.0, "breath_mm": 0.0})
    s.move_to("prone")
    t0 = s.t
    s.still(3.0)
    tr = s.render(rate_hz=100, name="ideal")
    tt = tr.truth["grid_t"]
    m = (tt > t0 + 0.5) & (tt < t0 + 2.5)
    f = tr.truth["ideal_acc"][m]
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-3)
    assert np.abs(tr.truth["ideal_gyr"][m]).max() < 0.05
    body = (tr.truth["R_s"] @ f.T).T
    assert np.all(body[:, 2] > 0.98)


def test_sides_move_the_documented_way(fours_trace):
    tr = fours_trace
    r_s = tr.truth["R_s"]
    seen = 0
    for seg in tr.labels["segments"]:
        if seg["kind"] != "bird_dog":
            continue
        starts = [seg["start"]] + seg["rep_ends"][:-1]
        for a, b, side in zip(starts, seg["rep_ends"], seg["sides"]):
            m = (tr.t >= a) & (tr.t <= b)
            body_y = (tr.acc[m] @ r_s.T)[:, 1]
            ext = body_y[np.argmax(np.abs(body_y - body_y[:5].mean()))] - body_y[:5].mean()
            # lifted-leg side rises: the up vector leans toward that side's body axis (+y is the wearer's left)
            assert (ext > 0) == (side == "left"), (a, side, ext)
            seen += 1
    assert seen >= 8


def test_single_side_reps_roll_the_documented_way():
    s = G.Session(seed=61)
    s.move_to("prone")
    s.still(2.0)
    s.leg_raise(4)
    s.move_to("supine")
    s.still(2.0)
    s.knee_twist(4)
    tr = s.render(rate_hz=100, name="sides")
    body = tr.acc @ tr.truth["R_s"].T
    for seg in tr.labels["segments"]:
        starts = [seg["start"]] + seg["rep_ends"][:-1]
        for a, b, side in zip(starts, seg["rep_ends"], seg["sides"]):
            y = body[(tr.t >= a) & (tr.t <= b), 1]
            ext = y[np.argmax(np.abs(y - y[:5].mean()))] - y[:5].mean()
            # prone leg raise: the lifted side rises (up vector toward it); supine knee twist: that side drops
            rises = ext > 0
            assert rises == ((side == "left") == (seg["kind"] == "leg_raise")), (seg["kind"], side, ext)
            assert abs(ext) > math.sin(math.radians(1.0))


def test_bridge_lifts_the_pelvis_10_to_15_cm(bridge_trace):
    tr = bridge_trace
    seg = tr.labels["segments"][0]
    tt, p = tr.truth["grid_t"], tr.truth["grid_p"]
    floor = p[(tt > seg["start"] - 2) & (tt < seg["start"]), 2].mean()
    for a, b in zip([seg["start"]] + seg["rep_ends"][:-1], seg["rep_ends"]):
        lift = p[(tt >= a) & (tt <= b), 2].max() - floor
        assert 0.07 < lift < 0.18, lift


def test_walk_has_step_frequency_bounce():
    s = G.Session(seed=8)
    s.still(3.0)
    seg = s.walk(30.0)
    s.still(2.0)
    tr = s.render(rate_hz=100, mount="unknown", name="w")
    m = (tr.t >= seg["start"] + 2) & (tr.t <= seg["end"] - 2)
    a = tr.acc[m]
    u = a.mean(0) / np.linalg.norm(a.mean(0))
    v = a @ u - (a @ u).mean()
    spec = np.abs(np.fft.rfft(v))
    f = np.fft.rfftfreq(len(v), 0.01)
    cadence = seg["steps"] / (seg["end"] - seg["start"])
    assert abs(f[np.argmax(spec)] - cadence) < 0.15
    assert 0.08 < v.std() < 0.45                   # vertical RMS in g: lower-back walking is roughly 0.1-0.3 g
    assert 1.6 <= seg["cadence_spm"] / 60 <= 2.15


# ---------------------------------------------------------------- labels

def check_labels(labels, duration):
    segs = labels["segments"]
    for a, b in zip(segs, segs[1:]):
        assert a["end"] <= b["start"], (a, b)
    for s in segs:
        assert s["kind"] in KINDS
        assert 0 <= s["start"] < s["end"] <= duration
        if s["kind"] in REP_KINDS:
            assert len(s["rep_ends"]) == s["reps"] >= 1
            assert all(s["start"] < x <= s["end"] for x in s["rep_ends"])
            assert s["rep_ends"] == sorted(s["rep_ends"])
            assert len(s["range_deg"]) == s["reps"]
            if "sides" in s:
                assert len(s["sides"]) == s["reps"] and set(s["sides"]) <= {"left", "right", "both"}
                if s["kind"] in ("bird_dog", "lunge", "knee_twist"):
                    assert all(x != y for x, y in zip(s["sides"], s["sides"][1:]))   # alternating
            diffs = np.diff([s["start"]] + s["rep_ends"])
            assert diffs.min() >= 1.9 and diffs.max() <= 8.0
        elif s["kind"] in HOLD_KINDS:
            assert abs(s["hold_s"] - (s["end"] - s["start"])) < 0.002
            assert 1.0 < s["sway_mg"] < 60.0
        else:
            assert s["steps"] > 0


def test_labels_consistent_on_catalog_samples(fours_trace, walk_acc_trace):
    check_labels(fours_trace.labels, fours_trace.t[-1])
    _, labels = walk_acc_trace
    assert labels["segments"] and all(s["kind"] == "walk" for s in labels["segments"])


def test_session_with_every_kind_has_consistent_labels():
    s = G.Session(seed=31)
    s.calibration_routine()
    s.bridge(3); s.rest(8); s.pelvic_tilt(2); s.knee_twist(2)
    s.leg_raise(2); s.leg_raise(2, "superman"); s.plank(6.0); s.cobra(5.0)
    s.side_plank(5.0, "left"); s.bird_dog(2); s.cat_cow(2); s.lunge(2); s.walk(8.0, turns=1)
    tr = s.render(rate_hz=50, mount="calibrate", name="all")
    check_labels(tr.labels, tr.t[-1])
    kinds = [x["kind"] for x in tr.labels["segments"]]
    assert set(kinds) == KINDS
    # the calibration routine is not a labelled segment and comes first: standing still, then lying on the back
    first = tr.labels["segments"][0]["start"]
    assert first > 10.0
    body = tr.acc @ tr.truth["R_s"].T
    assert angle_deg(body[(tr.t > 0.5) & (tr.t < 3.0)].mean(0), (1, 0, 0)) < 10
    side = [x for x in tr.labels["segments"] if x["kind"] == "side_plank"][0]
    assert side["side"] == "left"


def test_sway_label_follows_definition_and_ranks_holds():
    s = G.Session(seed=41)
    s.move_to("prone")
    segs = [s.plank(12.0, sway_mg=v) for v in (3.0, 10.0, 30.0)]
    s.still(2.0)
    tr = s.render(rate_hz=100, name="sway")
    got = [x["sway_mg"] for x in tr.labels["segments"]]
    assert got == sorted(got) and got[2] > 3 * got[0]
    # label == the documented algorithm applied to the reading without the sensor's noise
    clean = tr.truth["clean_acc"]
    _, _, rows = parse_csv(tr.to_csv())
    data = np.array([[float(x) for x in r.split(",")] for r in rows])
    for seg, lab in zip(segs, tr.labels["segments"]):
        assert abs(G.sway_mg(tr.t, clean, seg["start"], seg["end"]) - lab["sway_mg"]) < 0.01
        # the CSV's own numbers carry the noise on top (2.4-3.7 mg per axis, two of them
        # perpendicular): the still hold reads far more from them, the shaky one about the same
        noisy = G.sway_mg(data[:, 0], data[:, 1:4], seg["start"], seg["end"])
        assert math.hypot(lab["sway_mg"], 2.0) < noisy < math.hypot(lab["sway_mg"], 8.0)
    # the steadiest hold is the body's ~3 mg, not the sensor's noise floor
    assert 1.5 < got[0] < 4.5


def test_sway_label_definition_is_the_independent_sets():
    """generator.sway_mg (a straight line removed) on the independent set's written samples, less
    the noise power perpendicular to gravity (2/3 of the three axes', from second differences),
    gives its own sway_mg labels: the definition both sources' labels share."""
    syn = paths.SHARED / "datasets" / "synthetic-dev"
    n = 0
    for csv in sorted(syn.glob("*.csv")):
        _, _, rows = parse_csv(csv.read_text())
        data = np.array([[float(x) for x in r.split(",")[:4]] for r in rows])
        t, acc = data[:, 0], data[:, 1:4]
        for seg in json.loads(csv.with_suffix(".labels.json").read_text())["segments"]:
            if "sway_mg" not in seg:
                continue
            sel = (t >= seg["start"]) & (t <= seg["end"])
            noise2 = float((np.diff(acc[sel], 2, axis=0) ** 2).sum(1).mean()) / 6 * 1e6
            est = math.sqrt(G.sway_mg(t, acc, seg["start"], seg["end"]) ** 2 - 2 / 3 * noise2)
            assert abs(est - seg["sway_mg"]) < 0.4, (csv.name, seg["kind"], est, seg["sway_mg"])
            # (a quadratic removed instead misses by 2.4 mg on one of them)
            n += 1
    assert n == 9


def test_rest_only_trace_has_no_segments_and_moves():
    s = G.Session(seed=51)
    G.program_rest_only()(s)
    tr = s.render(rate_hz=50, name="rest")
    assert tr.labels["segments"] == []
    assert np.abs(tr.gyr).max() > 40            # it does move: rolling over, getting up


def test_demo_workout_is_the_seed_routine_in_order():
    text, labels = G.generate("demo_workout", seed=0)
    meta, data = check_format(text, labels, gyro=True)
    assert meta["mount"] == "default" and meta["rate_hz"] == "100"
    check_labels(labels, data[-1, 0])
    got = [(s["kind"], s.get("reps", s.get("hold_s", s.get("steps")))) for s in labels["segments"]]
    expect = [("bridge", 12), ("bridge", 12), ("leg_raise", 12), ("pelvic_tilt", 10), ("bird_dog", 16),
              ("lunge", 8), ("plank", 30.0), ("side_plank", 20.0), ("cat_cow", 10), ("cobra", 20.0),
              ("knee_twist", 10)]
    assert got[:-1] == expect
    walk = labels["segments"][-1]
    assert walk["kind"] == "walk" and 55 <= walk["end"] - walk["start"] <= 65
    assert 540 <= data[-1, 0] <= 780                     # about 10 minutes
    gaps = [b["start"] - a["end"] for a, b in zip(labels["segments"], labels["segments"][1:])]
    assert min(gaps) >= 10.0                             # a rest of 10 s or more between exercises
