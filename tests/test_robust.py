"""Robustness of the detection core to what changes between people and recordings:
slower or quicker tempo (the same synthetic workouts played 20% slower or 15% faster),
a noisier sensor, reps held at the top, and a pause on all fours on the way down in the
calibration routine."""
import json
from pathlib import Path

import pytest

from repbelt import paths
from repbelt import bench_accuracy as B

import rb_analysis  # noqa: E402
import rb_events as E  # noqa: E402
import rb_mount  # noqa: E402
import rb_tunables  # noqa: E402

SYN = paths.SHARED / "datasets" / "synthetic-dev"
FRAME_MS = 40


def tempo(src, tag, out):
    """Write the bench's variant `tag` (a tempo, or "noisy") of every labelled trace of `src` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for p in sorted(Path(src).glob("*.csv")):
        (out / p.name).write_text("\n".join(B.variant(p, tag)) + "\n")
        lab = json.loads(p.with_suffix(".labels.json").read_text())
        (out / (p.stem + ".labels.json")).write_text(json.dumps(B.variant_labels(lab, tag)))
    return out


@pytest.fixture(scope="module")
def slow_dev(tmp_path_factory):
    return tempo(SYN, "slow", tmp_path_factory.mktemp("slow") / "slow")


def test_tempo_variant_keeps_the_labels_in_step(slow_dev):
    a = json.loads((SYN / "dev-100004.labels.json").read_text())["segments"][0]
    b = json.loads((slow_dev / "dev-100004.labels.json").read_text())["segments"][0]
    assert b["reps"] == a["reps"] and b["rep_ends"][3] == pytest.approx(a["rep_ends"][3] * 1.2, abs=0.002)
    head = (slow_dev / "dev-100004.csv").read_text().splitlines()[:8]
    assert "# rate_hz=83" in head
    orig = [ln for ln in (SYN / "dev-100004.csv").read_text().splitlines() if ln[:1].isdigit()][500]
    slow = [ln for ln in (slow_dev / "dev-100004.csv").read_text().splitlines() if ln[:1].isdigit()][500]
    o, v = [float(x) for x in orig.split(",")], [float(x) for x in slow.split(",")]
    assert v[0] == pytest.approx(o[0] * 1.2, abs=2e-4)
    assert v[4:7] == pytest.approx([g / 1.2 for g in o[4:7]], abs=0.006)
    assert v[1:4] == o[1:4]


def test_slower_tempo(slow_dev):
    """20% slower: reps held longer (bird dogs 5-6 s at the top) and a longer pause on all
    fours in the calibration routine.  Before the in-set hold allowance and the 3 s lying
    phase this was 77.8% exact, 90% recognised: a whole calibrate trace read upside down.
    Two 1.2 s shifts of weight to one side in a rest face down made a leg raise set (5.35
    false reps per hour) until same-way rolls needed SET_CONFIRM_ROLLS (3) to start one."""
    by, _ = B.run([slow_dev], rb_tunables.defaults())
    rows = by["slow"]
    s = B.summarize(rows)
    assert s["recog_pct"] == 100 and s["pm1_pct"] == 100 and s["exact_pct"] == 100, s
    assert s["false_per_h"] == 0, s
    assert s["holds_1s_pct"] >= 88, s
    bird = [st for r in rows for st in r["sets"] if st[0] == "bird_dog"]
    assert [st[2] for st in bird] == [st[1] for st in bird], bird


def _frames(ms, v, t0):
    return [(t0 + i * FRAME_MS, v) for i in range(ms // FRAME_MS)]


def _move(t0, a, b, ms=1200):
    n = ms // FRAME_MS
    return [(t0 + i * FRAME_MS, tuple(a[j] + (b[j] - a[j]) * i // n for j in range(3))) for i in range(n)]


def _calibrate(phases, gyro_still=20):
    """Feed (duration ms, reading mg) still phases, with a 1.2 s move between them."""
    c = rb_mount.Calibrator()
    t = 0
    prev = None
    for ms, v in phases:
        if prev is not None:
            for tt, u in _move(t, prev, v):
                c.feed(tt, u[0], u[1], u[2], 900)      # turning: gyro well above still
            t += 1200
        for tt, u in _frames(ms, v, t):
            if c.feed(tt, u[0], u[1], u[2], gyro_still):
                return c
        t += ms
        prev = v
    c.close_run(t)
    return c


STAND = (0, 1000, 0)          # sensor y up while standing
SUPINE = (0, 0, -1000)        # lying on the back the sensor's -z is up
FOURS = (0, 0, 1000)          # on all fours (face down) it is the other way up


def test_calibration_skips_a_pause_on_all_fours():
    c = _calibrate([(4000, STAND), (2700, FOURS), (4000, SUPINE), (2000, STAND)])
    assert c.status == E.CAL_OK and c.lie == SUPINE
    # the body's -z (out of the belly) is the lying reading's direction
    assert rb_mount.rotate(c.rotation, *SUPINE)[2] < -990


def test_calibration_still_phases_with_a_gyro_zero_rate_offset():
    """An uncalibrated MPU6050 reads up to 20 deg/s an axis standing still (L1 600 in 0.1
    deg/s).  Still is judged by the gyro's change within the run, not its size: with the
    size, no phase was ever still and every calibrate-mount trace lost all its reps."""
    c = _calibrate([(4000, STAND), (4000, SUPINE), (2000, STAND)], gyro_still=600)
    assert c.status == E.CAL_OK and c.stand == STAND and c.lie == SUPINE


def test_calibration_uses_a_short_lying_phase_if_nothing_better_comes():
    c = _calibrate([(4000, STAND), (2700, SUPINE)])
    assert c.status == E.CAL_OK and c.lie == SUPINE
    c = _calibrate([(4000, STAND), (1500, SUPINE)])
    assert c.status == E.CAL_NO_LIE


def test_calibration_takes_the_first_full_lying_phase():
    # a face-down exercise after a proper routine must not replace it
    c = _calibrate([(4000, STAND), (3500, SUPINE), (8000, FOURS)])
    assert c.status == E.CAL_OK and c.lie == SUPINE


@pytest.fixture(scope="module")
def fast_dev(tmp_path_factory):
    return tempo(SYN, "fast", tmp_path_factory.mktemp("fast") / "fast")


def test_quicker_tempo(fast_dev):
    """15% quicker.  A leg raise set began on the way down with the hips lifted a moment,
    which read as a plank; its reps were taken for the plank's wobble until the hold is
    withdrawn once reps keep coming (dev-100012: 0 of 13 counted before, 13 now).  A
    cat-cow set lost its first rep: its first half, 1.08 s, is under REP_MIN_MS; the
    opposite half right after it makes it half a swing (REP_SWING_GAP_MS).  One plank's lift
    read 95 mm here (the accelerometer is not scaled), under the 120 mm a lift alone needs,
    and with the effort's tremor it was called a cobra; a hold shown by effort is a plank
    once the pelvis went up PLANK_EFFORT_LIFT_MM (80) into it."""
    by, _ = B.run([fast_dev], rb_tunables.defaults())
    rows = by["fast"]
    s = B.summarize(rows)
    assert s["recog_pct"] >= 97 and s["pm1_pct"] == 100 and s["exact_pct"] >= 96, s
    r09 = next(r for r in rows if r["name"].startswith("dev-100009"))
    assert [st for st in r09["sets"] if st[0] == "cat_cow"] == [("cat_cow", n, n) for n in (9, 10)], r09["sets"]
    # a cobra held by effort after lying still starts where the tremor rose half-way to the
    # effort's level: lying prone it hovers just above resting, and where it last dipped below
    # 115% of that was chance (both cobras started 1.3 and 2.1 s early)
    cobras = [h for r in rows for h in r["holds"] if h[0] == "cobra"]
    assert len(cobras) == 2 and all(abs(want - got) <= 1.0 for _, want, got in cobras), cobras
    assert s["holds"] == "9/9" and s["holds_1s_pct"] >= 88, s
    r12 = next(r for r in rows if r["name"].startswith("dev-100012"))
    legs = [st for st in r12["sets"] if st[0] == "leg_raise"]
    assert legs and all(st[2] == st[1] for st in legs), r12["sets"]


def test_noisier_sensor(tmp_path):
    """5 mg of extra white noise per accelerometer axis (synthetic-dev's own is 2.5-4.3 mg).
    The tremor that shows a hold's effort stands out less from the resting level, and a lift
    double-integrated from the accelerometer reads a little off (with 4 and 8 mg, dev-100004's
    low plank read 119 and 108 mm)."""
    by, _ = B.run([tempo(SYN, "noisy", tmp_path / "noisy")], rb_tunables.defaults())
    s = B.summarize(by["noisy"])
    assert s["exact_pct"] == 100 and s["recog_pct"] == 100 and s["false_per_h"] == 0, s
    assert s["holds"] == "9/9" and s["holds_1s_pct"] == 100, s


def _remount(src, out, seed):
    """Every calibrate-mount trace of `src`, as if the sensor sat in another (random) rotation."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for p in sorted(Path(src).glob("*.csv")):
        lines = p.read_text().splitlines()
        if "# mount=calibrate" not in lines:
            continue
        q = rng.normal(size=4)
        w, x, y, z = q / np.linalg.norm(q)
        R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        head = [ln for ln in lines if not ln[:1].isdigit()]
        a = np.array([[float(v) for v in ln.split(",")] for ln in lines if ln[:1].isdigit()])
        a[:, 1:4] = a[:, 1:4] @ R.T
        a[:, 4:7] = a[:, 4:7] @ R.T
        body = ["%.4f,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f" % tuple(r) for r in a]
        (out / p.name).write_text("\n".join(head + body) + "\n")
        (out / (p.stem + ".labels.json")).write_text(p.with_suffix(".labels.json").read_text())
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_a_calibrated_trace_counts_the_same_in_any_mount(tmp_path, seed):
    """The calibrate-mount workouts of synthetic-dev re-mounted at a random rotation (gyro and
    accelerometer turned together): the calibration routine finds the new rotation and every
    set, hold and step comes out as before."""
    by, _ = B.run([_remount(SYN, tmp_path / "remount", seed)], rb_tunables.defaults())
    rows = by["remount"]
    assert len(rows) == 3
    s = B.summarize(rows)
    assert s["exact_pct"] == 100 and s["recog_pct"] == 100 and s["false_per_h"] == 0, s
    assert s["holds"] == "2/2" and s["holds_1s_pct"] == 100, s


def _analysed(name, tag):
    """(found, labelled): the segments of synthetic-dev's `name` as variant `tag`, and its labels
    (their times stretched like the variant's)."""
    csv = SYN / name
    an, _, _ = rb_analysis.analyze_lines(B.variant(csv, tag))
    return (json.loads(an.json())["segments"],
            B.variant_labels(json.loads(csv.with_suffix(".labels.json").read_text()), tag)["segments"])


def _holds(name, tag, kinds):
    """(found, labelled): the holds of the given kinds, as _analysed."""
    found, labelled = _analysed(name, tag)
    return [s for s in found if s["kind"] in kinds], [s for s in labelled if s["kind"] in kinds]


def _assert_holds_within_1s(got, want):
    assert [s["kind"] for s in got] == [s["kind"] for s in want], (got, want)
    assert all(abs(g["hold_s"] - w["hold_s"]) <= 1.0 for g, w in zip(got, want)), (got, want)


def _sets(name, tag):
    """(found, labelled): the (kind, reps) of every set of synthetic-dev's `name` as variant `tag`."""
    found, labels = _analysed(name, tag)
    return _reps(found), _reps(labels)


def _walk_steps(segments):
    """The steps of every walk among `segments`."""
    return [s["steps"] for s in segments if s["kind"] == "walk"]


def _reps(segments):
    """The (kind, reps) of every set among `segments`."""
    return [(s["kind"], s["reps"]) for s in segments if "reps" in s]


def test_no_reps_from_the_seat_before_a_plank_once_down_out_of_it():
    """dev-100012 recorded at 50 Hz without a gyro, the strap 10 degrees off: down out of the
    plank the body lay face down 45 mg (2.6 degrees) from the seat taken before it, and its
    breathing crossed the rep bar: 2 leg raises nobody made.  The end of a reported hold now
    makes the seat provisional, as a change of posture does: where the body rests is the seat."""
    found, labelled = _sets("dev-100012.csv", "50Hz+acc+strap")
    assert found == labelled


def _draw(monkeypatch, draw):
    """The bench's variants with random draw number `draw` (offsets, holes...) instead of their
    own (None: their own)."""
    if draw is None:
        return
    orig = B._variant
    monkeypatch.setattr(B, "_variant", lambda lines, n, t: orig(lines, n + "#" + draw, t))


def test_a_shift_after_a_leg_raise_set_is_not_one_more_rep(monkeypatch):
    """dev-100012 through another draw of the datasheet offsets: 3.5 s after the last leg
    raise the body shifted on the floor, rolling the pelvis 6.7 degrees (more than the reps)
    and raising its head end half as far as the set's reps do (-28 against -55): 14 leg
    raises for 13.  A rolling rep of a leg raise set now raises the head end at least 65% as
    far as usual (the reps here 90-150%; the bench's own draw read the shift at 40%)."""
    _draw(monkeypatch, "4")
    found, labelled = _sets("dev-100012.csv", "offsets")
    assert found == labelled


@pytest.mark.parametrize("name,draw", [("dev-100012.csv", "2"), ("dev-100006.csv", "1")])
def test_a_deep_first_lunge_and_a_shallow_one_after_it_count(monkeypatch, name, draw):
    """Other draws of the datasheet offsets.  dev-100012: the set's first lunge read 872 mm
    deep (the leaky height carrying the get-up before it) and fell to the 80 cm bar meant
    for straight lines across holes: 19 for 20.  dev-100006: the first swing read 738 mm,
    which set the set's usual depth so high that a 226 mm lunge fell under 40% of it: 12
    for 13.  The 80 cm bar now applies only across a hole, and a lunge of a set goes 25% of
    its usual depth."""
    _draw(monkeypatch, draw)
    found, labelled = _sets(name, "offsets")
    assert found == labelled


@pytest.mark.parametrize("tag,draw", [("fast", None), ("offsets", "1"), ("offsets", "6")])
def test_the_first_lunge_straight_after_getting_up_counts(monkeypatch, tag, draw):
    """dev-100004's first lunge set, 1.6 s after standing up: the lunge height assumed 1 g
    where the independent model's sensor reads 1.03 g standing (and a real one 0.94-1.04 g),
    and drifted up 15 cm in 1.6 s, hiding the first lunge's drop (11 for 12 played 15%
    quicker, and under two other draws of the datasheet offsets).  The height now starts,
    and takes the sensor's 1 g, at the first second of standing still after getting up."""
    _draw(monkeypatch, draw)
    found, labelled = _sets("dev-100004.csv", tag)
    assert found == labelled


def test_the_start_of_a_walk_is_no_pair_of_lunges(monkeypatch):
    """dev-100004 through another draw of the datasheet offsets: as the walk after the planks
    began, the leaky pelvis height swung 253 mm over 5.2 s (read as a lunge), then dipped 84 mm
    with the walk's first bounces; the rule that a walk begun after a lunge was the lunges'
    own steps took the dip for a second lunge and cancelled the walk: a set of 2 lunges
    nobody made, and the walk found 18 s late (75 of 112 steps).  The next lunge must now go
    45% as deep as the one before to claim the walk's steps (the generator's real ones:
    54-127%)."""
    _draw(monkeypatch, "5")
    found, labels = _analysed("dev-100004.csv", "offsets")
    assert _reps(found) == _reps(labels)
    assert B._walk_steps(labels, found) == [(112, 112)]


def test_a_walk_is_no_lunge_however_the_height_drifts_over_its_start(monkeypatch):
    """dev-100009 at 200 Hz without a gyro, through another draw of the datasheet offsets: over
    the first 6 s of the walk after getting up, the leaky pelvis height sank and rose 119 mm and
    read as one lunge begun 0.4 s into the walk, before it was striding, so the walk's first
    steps were taken for the lunge's own and the walk was dropped: found 7 s late, 72 of 84
    steps.  A lunge takes 2-4 steps (our generator's lunge sets: at most 4 within one); a swing
    through which the walk took 6 or more is no lunge."""
    _draw(monkeypatch, "5")
    found, labels = _analysed("dev-100009.csv", "200Hz+acc+offsets")
    assert _reps(found) == _reps(labels)
    assert B._walk_steps(labels, found) == [(84, 84)]


@pytest.mark.parametrize("tag,draw", [("fast+strap", None), ("fast+strap", "1"), ("fast+offsets", "1"),
                                      ("fast+gaps", None)])
def test_quick_leg_raises_that_rest_off_the_start_are_each_counted(monkeypatch, tag, draw):
    """dev-100011's leg raises played 15% quicker and worn 10 degrees off (or with the datasheet
    offsets, or holes): between two reps the body rested 2.5-2.9 degrees from where the set
    began, above the 20% of a 13-degree rep that ends one, and the two were counted as one
    (14 for 13 or 13 for 14).  Face down a rep ends within 27% of its peak (23-30% score
    alike; 35% loses a bird dog set of our generator)."""
    _draw(monkeypatch, draw)
    found, want = _sets("dev-100011.csv", tag)
    assert found == want, (found, want)


@pytest.mark.parametrize("name,draw", [("dev-100006.csv", "4"), ("dev-100010.csv", "6"), ("dev-100004.csv", "1")])
def test_a_hole_in_a_lunge_set_makes_no_lunge_and_loses_none(monkeypatch, name, draw):
    """Holes of dropped samples (up to 0.5 s, one every 20 s on average, other draws than the
    bench's) were filled by holding the last reading, and the lunge detector's height
    integrated a lunge's push held 0.45 s into a swing of its own: one lunge too many at the
    end of a set (100006, 100010); coasting across the hole instead lost one (100004).  The
    height now takes a hole on a straight line to the reading after it, and a lunge far
    shallower than the set's (under 40%) is the height settling, not a lunge."""
    _draw(monkeypatch, draw)
    found, labelled = _sets(name, "gaps")
    assert found == labelled


def test_a_hole_mid_walk_is_no_lunge(monkeypatch):
    """Walking bounces the pelvis +-0.5 g at 2 Hz; a 0.3 s hole across a bounce read as a
    50 cm lunge swing, which ended the walk there: dev-100009 with another draw of holes
    counted 31 of its 84 steps.  Mid-walk, a swing across a hole is not a lunge."""
    _draw(monkeypatch, "4")
    found, _ = _analysed("dev-100009.csv", "gaps")
    walks = [s for s in found if s["kind"] == "walk"]
    assert len(walks) == 1 and abs(walks[0]["steps"] - 84) <= 2, walks
    assert [s for s in found if s["kind"] == "lunge"] == []


def test_a_hole_as_a_walk_begins_ends_no_walk():
    """The bench's own holes: one of 0.33 s three seconds into dev-100004's walk, before its
    steps counted as striding; the pelvis height across it swung 17 cm, a lunge candidate that
    ended the walk there (a swing taken for a lunge ends the walk it stood in) and 6 of the
    112 steps were lost.  A swing across a hole while a walk is open is no lunge and ends
    nothing."""
    found, _ = _analysed("dev-100004.csv", "gaps")
    assert _walk_steps(found) == [112]


@pytest.mark.parametrize("name,tag,draw,every_s", [
    ("dev-100012.csv", "gaps", "61", None),          # 37 of 39: two holes of 0.44-0.46 s mid-walk
    ("dev-100009.csv", "200Hz+gaps", "61", None),    # 83 of 84
    ("dev-100012.csv", "gaps", None, 5.0),           # 37 of 39
    ("dev-100004.csv", "25Hz+gaps", None, 5.0),      # 110 of 112
])
def test_a_step_a_hole_in_the_data_hid_still_counts(monkeypatch, name, tag, draw, every_s):
    """Holes of dropped samples (up to 0.5 s) in the middle of a walk swallowed heel strikes:
    the step after the hole came two beats after the one before it and the one between was
    lost.  Across a hole, a step about two (three) beats after the last one now brings the
    one (two) it hid with it, one a hole at most."""
    _draw(monkeypatch, draw)
    if every_s:
        monkeypatch.setattr(B, "GAP_EVERY_S", every_s)
    found, labelled = _analysed(name, tag)
    assert _walk_steps(found) == _walk_steps(labelled)


def test_jitter_at_25_hz_is_no_hole_in_the_data():
    """At 25 Hz a sample up to 0.9 of a period early or late leaves a 40 ms bin empty now and
    then (gaps of up to 112 ms): taken for holes that may hide a heel strike, their held frames
    were no signal and steps were added where none were lost (dev-100012: 83 for 39).  A hole
    is 4 sample periods or more (and 60 ms)."""
    import random
    rnd = random.Random("jitter")
    lines, last = [], -1.0
    for ln in B.variant(SYN / "dev-100012.csv", "25Hz"):
        if ln[:1].isdigit():
            f = ln.split(",")
            t = max(float(f[0]) + rnd.uniform(-0.9, 0.9) / 25, last + 0.001)
            last = t
            ln = ",".join(["%.4f" % t] + f[1:])
        lines.append(ln)
    an, _, _ = rb_analysis.analyze_lines(lines)
    walks = _walk_steps(json.loads(an.json())["segments"])
    assert len(walks) == 1 and abs(walks[0] - 39) <= 1, walks


def test_a_lunge_swing_found_while_a_hole_is_filled_ends_no_walk():
    """dev-100004 at 25 Hz with the bench's holes: 0.36 s of samples lost two seconds into its
    walk, and the straight line filled across the hole read as a lunge swing before the fill
    was done, when the hole was not yet known: the walk was cancelled and its first 6 of 112
    steps lost.  The hole is known before its frames go in."""
    found, labelled = _analysed("dev-100004.csv", "25Hz+gaps")
    assert _walk_steps(found) == _walk_steps(labelled) == [112]


def test_frequent_holes_make_no_lunge(monkeypatch):
    """Holes of up to 0.5 s every 5 s on average: dev-100010 gained a lunge and a false rep
    from the last reading held across them (the Known limits had it)."""
    monkeypatch.setattr(B, "GAP_EVERY_S", 5.0)
    found, labelled = _sets("dev-100010.csv", "gaps")
    assert found == labelled


def test_a_start_on_all_fours_tipped_15_degrees_is_where_the_reps_start():
    """dev-100006 played 15% quicker through an uncalibrated sensor: on all fours the pelvis
    reads 14.5 degrees head end up (the model's 11-12, and the sensor's offsets).  A start
    more than 14 degrees from flat was taken for a rep under way and the seat put flat; the
    body settled on, its still spells split by the drift, and the first cat-cow was lost in
    re-seating (8 -> 7).  Flat is assumed only past 20 degrees now."""
    found, labelled = _sets("dev-100006.csv", "fast+offsets")
    assert found == labelled


def test_a_hole_says_nothing_of_a_holds_effort(monkeypatch):
    """A frame filled across a hole has no tremor: it ended the run of effort frames, so a
    cobra held by effort through two holes was dated from the second (dev-100006: 3.6 s short).
    A filled frame now leaves the run as it was.  (The bench's "gaps" variant with holes of up
    to 0.5 s every 5 s on average, not every 20 s: about 5% of the samples lost.)"""
    monkeypatch.setattr(B, "GAP_EVERY_S", 5.0)
    got, want = _holds("dev-100006.csv", "gaps", ("cobra",))
    assert len(want) == 1
    _assert_holds_within_1s(got, want)


@pytest.mark.parametrize("tag", ["noisy", "fast+noisy"])
def test_a_still_plank_in_a_noisy_sensor_is_one_hold_to_its_end(monkeypatch, tag):
    """dev-100004's second plank is still (6 mg sway) and low (its lift read 119 and 89 mm,
    under the 120 mm of a lifted one): only its tremor shows it.  Through another draw of
    the noisy sensor that tremor stood at 1.3-1.9x the resting level, and dipping under the
    1.4x keep level for 400 ms ended it half-way: 33.7 s read 18.8 (played quicker, 9.9,
    and what was left read as a cobra).  Under the keep level but above half its level a
    hold now ends after HOLD_FADE_MS (1 s)."""
    _draw(monkeypatch, "41")
    got, want = _holds("dev-100004.csv", tag, ("plank", "cobra"))
    assert [s["kind"] for s in want] == ["plank", "plank"], want
    _assert_holds_within_1s(got, want)


def test_settling_onto_all_fours_is_not_lying_down(monkeypatch):
    """dev-100012 at 200 Hz without a gyro, through another draw of the datasheet offsets:
    up onto all fours (190 mm) the body settled, raising the pelvis's head end 10 degrees,
    and the offsets' tilt error read that as a 329 mm drop: "lain down on the floor", so the
    bird dogs that followed were called leg raises (a set of 10 lost).  Lying down from hands
    and knees does not raise the head end; a drop measured across a way that raised it by a
    cobra's half-incline or more no longer says the body lay down."""
    _draw(monkeypatch, "42")
    found, labelled = _sets("dev-100012.csv", "200Hz+acc+offsets")
    assert ("bird_dog", 10) in labelled and found == labelled, (found, labelled)


def test_a_leg_raise_set_confirmed_late_keeps_its_first_rep(monkeypatch):
    """dev-100012 played 15% quicker, worn another way (another draw of the strap's turn):
    the left leg's lifts read as pitch-led and the right's as rolls, and a pitch next to a
    roll is taken for a fidget beside a rep, so the set was only believed 8 reps in.  Its
    earlier reps are found among the candidates kept while no set was on, but only 8 were
    kept, and the first had been overwritten: 12 leg raises for 13.  16 are kept now."""
    _draw(monkeypatch, "42")
    found, labelled = _sets("dev-100012.csv", "fast+strap")
    assert ("leg_raise", 13) in labelled and found == labelled, (found, labelled)


def test_up_onto_all_fours_with_a_hole_in_it_is_up_off_the_floor(monkeypatch):
    """dev-100012 at 50 Hz without a gyro, with holes (another draw): the leg raise set
    ended lying face down, and the way up onto all fours read only 102 mm (the push partly
    in a hole), short of a plank's 120 mm, so the body still counted as lying and its 10
    bird dogs were called leg raises.  Face down, 80 mm up without a cobra's incline now
    gets the body up off the floor."""
    _draw(monkeypatch, "44")
    found, labelled = _sets("dev-100012.csv", "50Hz+acc+gaps")
    assert ("bird_dog", 10) in labelled and found == labelled, (found, labelled)


def test_a_knee_twist_rolled_to_the_edge_of_lying_on_the_back_is_counted(monkeypatch):
    """dev-100010's knee twists roll the pelvis 43-49 degrees; through another draw of the
    datasheet offsets one read 49 degrees (sin 0.754), past the 0.75 taken for a posture
    change, and was dropped: the set split in two (2 and 7 for 10).  Lying on the back is
    left only below cos 0.6, and a rep may now roll as far (sin 0.8, 53 degrees)."""
    _draw(monkeypatch, "47")
    found, labelled = _sets("dev-100010.csv", "acc+offsets")
    assert ("knee_twist", 10) in labelled and found == labelled, (found, labelled)


def test_a_hole_at_the_start_of_the_way_down_is_no_lift(monkeypatch):
    """dev-100012 at 50 Hz with holes drawn another way: 0.36 s of samples were lost just as
    the body came down out of its plank.  A filled frame has no movement in it, so the hole
    read as quiet, the way down was measured from its end, and its second half (slowing the
    fall) read as a 153 mm lift: a 24 s plank nobody held.  A filled frame is no longer
    quiet: the way down is measured from before the hole, a drop."""
    _draw(monkeypatch, "50")
    _assert_holds_within_1s(*_holds("dev-100012.csv", "50Hz+gaps", ("plank", "side_plank", "cobra")))


def test_a_cobra_raised_slowly_out_of_lying_still_is_held_from_when_the_effort_came():
    """dev-100006's cobra: the chest came up so slowly (at 25 Hz; 20% slower with 5 mg more
    sensor noise) that the way in was no transit, so the still spell began lying face down,
    and its still seconds outweighed the effort's until it had lasted as long again: the
    hold began at a later rise of the tremor, 1.03 and 6.0 s short."""
    for tag in ("25Hz", "slow+noisy"):
        _assert_holds_within_1s(*_holds("dev-100006.csv", tag, ("cobra",)))


def test_a_fading_cobra_is_not_kept_on_by_a_bump_of_sensor_noise(monkeypatch):
    """dev-100010's cobra with 5 mg more sensor noise (another draw of it than the bench's):
    on the way down the tremor fell under the keep level, then a bump of noise lifted it back
    over 75% of the hold's level for a moment.  That level had followed the tremor down (5 s
    low-pass), so the bump counted as the hold going on: 2.04 s too long.  The level now
    follows a tremor well below it only slowly."""
    _draw(monkeypatch, "54")
    _assert_holds_within_1s(*_holds("dev-100010.csv", "noisy", ("cobra",)))


def test_a_dip_of_noise_in_a_cobras_effort_is_not_where_its_effort_began(monkeypatch):
    """dev-100010's cobra 20% slower with 5 mg more sensor noise (another draw): 3 s into the
    effort one frame of its tremor dipped to a quarter of the way up from lying still, and the
    hold was dated from the rise after that dip, 3.2 s late (2.9 s short).  Where the tremor
    last stood before rising is now the last run of 3 such frames."""
    _draw(monkeypatch, "41")
    _assert_holds_within_1s(*_holds("dev-100010.csv", "slow+noisy", ("cobra",)))


def test_a_run_of_effort_that_began_long_before_the_rise_does_not_date_a_cobra(monkeypatch):
    """dev-100010's cobra played quicker and worn another way (another draw): its tremor
    crossed the effort bar and hovered there 1.5 s before it rose half-way to the effort's
    level, and a hold held by effort was dated from the earlier of the two, 1.5 s early (1.26
    s too long).  The bar's crossing is taken only within a second of the half-way mark."""
    _draw(monkeypatch, "55")
    _assert_holds_within_1s(*_holds("dev-100010.csv", "fast+strap", ("cobra",)))
