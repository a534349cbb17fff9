"""Rep sets the core must tell apart, built with our generator at chosen ranges.

Each scenario is one the core got wrong before: a shallow bridge (told from a
pelvic tilt by the lift of the pelvis, not by its tilt), a set of 5 degree
pelvic tilts (small enough that only its first rep passes the start bar),
propping up on an elbow right after a bridge set, and a plank with a steep
incline (a plank, not a cobra, because the pelvis went up into it).
"""
import json

import pytest

from repbelt import paths  # noqa: F401  (puts firmware/ on the path)

import rb_analysis  # noqa: E402

from genmodule import G


def _fixed_range(sess, deg):
    """Every rep of the session's sets at this range (degrees)."""
    sess._amp = lambda lo, hi, key=None: deg


def _count(seg):
    return seg.get("reps", seg.get("steps", "hold"))


def _counts(segs, kind=None):
    """(kind, reps / steps / "hold") of each segment (of `kind` only, if given)."""
    return [(s["kind"], _count(s)) for s in segs if kind is None or s["kind"] == kind]


def _found(tr):
    """The segments the core finds in a rendered trace."""
    an, _, _ = rb_analysis.analyze_lines(tr.to_csv().splitlines())
    return json.loads(an.json())["segments"]


def _generated(name, seed):
    """Our generator's trace `name` at `seed`: its labelled segments, and those the core found."""
    tr = G.generate_trace(name, seed=seed)
    return tr.labels["segments"], _found(tr)


def _labelled_and_found(sess, rate_hz=100, mount="default"):
    """(kind, reps / steps / "hold") of each labelled segment, and of each the core found."""
    tr = sess.render(rate_hz=rate_hz, mount=mount, name="t")
    return _counts(tr.labels["segments"]), _counts(_found(tr))


def _segments(sess, rate_hz=100):
    return _labelled_and_found(sess, rate_hz)[1]


def _set_straight_after(seed, moves, kind, reps):
    """Stand 4 s, then for each (posture, rest_s) move there and rest that long (no
    fidget), then a set of `reps`: the labelled and the found segments."""
    s = G.Session(seed=seed)
    s.still(4.0)
    for posture, rest_s in moves:
        s.move_to(posture)
        s.rest(rest_s, 0.0)
    getattr(s, kind)(reps)
    s.still(5.0)
    return _labelled_and_found(s)


def _supine(seed):
    s = G.Session(seed=seed)
    s.still(4.0)
    s.move_to("supine")
    s.still(3.0)
    return s


# a bridge under the 14 deg that made one by tilt alone; pelvic tilts so small
# that only the first passes the start bar
@pytest.mark.parametrize("kind,deg", [("bridge", 12.5), ("pelvic_tilt", 5.0)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_set_of_small_reps_is_counted_as_its_kind(seed, kind, deg):
    s = _supine(seed)
    _fixed_range(s, deg)
    getattr(s, kind)(8)
    s.still(4.0)
    assert _segments(s) == [(kind, 8)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_propping_up_on_an_elbow_after_bridges_is_no_rep(seed):
    s = _supine(seed)
    _fixed_range(s, 22.0)
    s.bridge(6)
    s.still(2.5)
    s.fidget("reach")
    s.still(5.0)
    assert _segments(s) == [("bridge", 6)]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_steep_plank_is_a_plank(seed):
    s = G.Session(seed=seed, subject={"plank_pitch_deg": 16.0})
    s.still(4.0)
    s.move_to("prone")
    s.still(4.0)
    s.plank(25.0)
    s.still(5.0)
    assert _segments(s) == [("plank", "hold")]


def test_a_plank_straight_after_a_leg_raise_set_is_found():
    """A leg raise set, a short rest and a 30 s plank: the set was still open (it ends after a
    rest) while the wearer pushed up into the plank, and a set under way restarts a still
    spell's evidence, so the lift into the plank was forgotten and the plank (held with
    little tremor) was not found.  A spell that began after the set's last rep now keeps its
    way in and waits for the set to end."""
    s = G.Session(seed=11)
    s.leg_raise(10)
    s.still(3.0)
    s.plank(30.0)
    s.rest(10.0, 0.0)
    tr = s.render(rate_hz=100, mount="default", name="lr-plank")
    segs = _found(tr)
    holds = [(d["kind"], d["hold_s"]) for d in segs if "hold_s" in d]
    assert [k for k, _ in holds] == ["plank"] and abs(holds[0][1] - 30.0) <= 1.0, segs


def test_resting_on_all_fours_after_a_cat_cow_set_is_no_cobra():
    """The last cat-cow's way back (the head end coming up out of the cat's tuck) led into the
    rest after the set, and was taken for the way into a cobra: a 15 s cobra nobody held.
    A transit under way before a set's last rep ended is that rep's, not a way into a hold."""
    s = G.Session(seed=5)
    s.cat_cow(8)
    s.rest(15.0, 0.0)
    assert _segments(s) == [("cat_cow", 8)]


@pytest.mark.parametrize("seed", [11, 13])
def test_cat_cow_from_lying_face_down_is_counted_from_all_fours(seed):
    """Lying face down and getting up onto all fours is no change of posture (face down both),
    so the reps' baseline stayed where the body lay, degrees from where it rests on all fours;
    the first cat went out from there by way of that resting place, and the cows came back
    short of the bar: 9 of 10 or the set cut in two (our generator's seed 61: 13 reps, none
    found).  An excursion that rested part way out (REST_SPELL_MS) before going on to twice as
    far moves the baseline to that resting place."""
    s = G.Session(seed=seed)
    s.cobra(20.0)
    s.rest(10.0, 0.0)
    s.cat_cow(10)
    s.rest(8.0, 0.0)
    assert [seg for seg in _segments(s, 50) if seg[0] == "cat_cow"] == [("cat_cow", 10)]


@pytest.mark.parametrize("seed", [3, 10])
def test_lying_down_out_of_a_cobra_is_no_plank(seed):
    """Coming down out of a cobra tips the pelvis 25-40 degrees head end down; |f| integrated
    over that reads as a plank's lift (15-25 cm), and the rest after it was a plank.  A way in
    that lowered the head end by a cobra's incline says nothing of a lift (a plank raises it)."""
    s = G.Session(seed=seed)
    s.cobra(20.0)
    s.rest(15.0, 0.0)
    s.cobra(15.0)
    s.rest(15.0, 0.0)
    assert [k for k, _ in _segments(s)] == ["cobra", "cobra"]


@pytest.mark.parametrize("seed", [1, 3])
def test_a_hip_wiggle_lying_face_down_is_no_plank(seed):
    """Lying face down, three hip wiggles with rests between: the pelvis swings side to side
    at 1.5-3 Hz, and |f| (sqrt(v^2 + h^2), never below v) read the side-to-side shake as
    12-20 cm of lift, so the rest after a wiggle was a plank.  Face down, the way in is
    integrated from the acceleration along gravity instead."""
    s = G.Session(seed=seed)
    s.still(4.0)
    s.move_to("prone")
    s.still(6.0)
    for _ in range(3):
        s.fidget("wiggle")
        s.still(14.0)
    assert _segments(s) == []


def _quick_cat_cows(s, reps, deg):
    """Cat-cows at a quick tempo that touch neutral between the halves (not swung straight
    through): each half is over the rep threshold for under REP_MIN_MS."""
    s._ensure("fours")

    def rep(i):
        a = [0.0, -deg, 0.0, 0.0, 0.0, 0.04]
        b = [0.0, deg, 0.0, 0.0, 0.0, -0.03]
        z = [0.0] * 6
        return [(0.5, a), (0.1, a), (0.5, z), (0.25, z), (0.5, b), (0.1, b), (0.5, z)], None, 2 * deg, None
    return s._rep_set("cat_cow", reps, rep, pause=(0.5, 0.8))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quick_cat_cows_that_pause_at_neutral_are_counted(seed):
    # each half is a short excursion of its own; the opposite one right after it makes it
    # half a swing, held to the swung-through half's minimum (dev-100009 played 15% quicker
    # lost its set's first cat-cow)
    s = G.Session(seed=seed)
    s.still(4.0)
    _quick_cat_cows(s, 8, 14.0)
    s.still(4.0)
    assert _segments(s) == [("cat_cow", 8)]


def _face_down_reps(s, kind, tops, up_s=1.0, hold_s=0.6, pause_s=(1.0, 1.6)):
    """One rep per (roll, pitch) top (degrees; + roll: the left side up, and the side the rep is labelled)."""
    def rep(i):
        roll, pitch = tops[i]
        top = [roll, pitch, 0.0, 0.0, 0.0, 0.0]
        return [(up_s, top), (hold_s, top), (up_s, [0] * 6)], ("left" if roll >= 0 else "right"), pitch, None
    return s._rep_set(kind, len(tops), rep, pause=pause_s)


def _prone_rolls(s, n, roll_deg, theta_deg, up_s):
    """n leg raises that all roll the pelvis the same way (one side only)."""
    return _face_down_reps(s, "leg_raise", [(roll_deg, theta_deg)] * n, up_s=up_s, hold_s=0.1, pause_s=(2.0, 2.4))


@pytest.mark.parametrize("seed", [1, 3, 5])
@pytest.mark.parametrize("lie_down", [True, False])
def test_side_to_side_rolls_after_lying_down_are_leg_raises(seed, lie_down):
    """Alternating rolls that tip the head end down are a bird dog's on all fours, and a
    single-leg lift's lying face down (hip extension tilts the pelvis the same way).  Both are
    face down to the sensor; lying down from all fours lowers the pelvis 40 cm, and after that
    they were taken for bird dogs (our generator: 2 sets of 73)."""
    s = G.Session(seed=seed)
    s.still(4.0)
    s.move_to("fours")
    s.rest(4.0, 0.0)
    kind = "bird_dog"
    if lie_down:
        s.move_to("prone")
        s.rest(5.0, 0.0)
        kind = "leg_raise"
    _face_down_reps(s, kind, [(5.0 if i % 2 == 0 else -5.0, 3.0) for i in range(8)])
    s.still(6.0)
    assert _labelled_and_found(s) == ([(kind, 8)], [(kind, 8)])


@pytest.mark.parametrize("posture", ["prone", "supine"])
@pytest.mark.parametrize("seed", [1, 3, 4])
def test_two_shifts_of_weight_to_one_side_are_no_set(seed, posture):
    # two quick same-way rolls in a rest (dev-100009 has such a pair face down, 1.0 s each;
    # played 20% slower they passed the rep minimum and started a leg raise set that then
    # took the first cat-cow for its own); on the back they would be knee twists
    s = G.Session(seed=seed)
    s.still(4.0)
    s.move_to(posture)
    s.still(6.0)
    _prone_rolls(s, 2, 6.0, 1.0, 0.9)         # each over the rep threshold for ~1.2 s
    s.still(8.0)
    assert _segments(s) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_one_sided_leg_raise_set_is_counted_whole(seed):
    # the same rolls made again and again are a set: a third confirms it, and the first two count
    s = G.Session(seed=seed)
    s.still(4.0)
    s.move_to("prone")
    s.still(6.0)
    _prone_rolls(s, 6, 5.0, 3.0, 1.0)
    s.still(8.0)
    assert _segments(s) == [("leg_raise", 6)]


@pytest.mark.parametrize("amp,still_s", [(1.0, 1.0), (0.6, 1.0), (0.6, 3.0)])
def test_lunges_soon_after_a_walk_keep_the_walk_and_every_lunge(amp, still_s):
    # A walk stays open through a stop of up to 6 s.  Lunges started 1-3 s after it
    # must neither add their steps to it, nor erase it (the first lunge used to make
    # the whole walk "something else"), nor be held to the mid-walk depth (shallow
    # lunges, amp 0.6: pelvis rises of 150-250 mm).
    s = G.Session(seed=3, subject={"amp": amp})
    s.still(5)
    s.walk(30.0)
    s.still(still_s)
    s.lunge(8)
    s.rest(15)
    want, got = _labelled_and_found(s)
    assert want == [("walk", 62), ("lunge", 8)] and got == want


@pytest.mark.parametrize("seed", [5, 20])
def test_lunges_straight_after_getting_up_are_not_taken_for_a_walk(seed):
    """Getting up off the floor swings the pelvis up like a lunge's rise, and that candidate
    waited for a second lunge to start the set; meanwhile the lunges' own steps out and back
    (a bump every 0.6-0.9 s) had confirmed a walk, and the second lunge was then held to the
    mid-walk depth and lost (our generator: 5 lunge sets one short).  A walk that began after
    the lunge just before did is made of its steps."""
    want = [("lunge", 8)]
    assert _set_straight_after(seed, [("supine", 5.0), ("stand", 0.5)], "lunge", 8) == (want, want)


@pytest.mark.parametrize("seed", [6, 13, 18])
def test_lunges_two_seconds_after_getting_up_gain_none(seed):
    """Up off the floor, 2 s standing, then 8 lunges: the lunge height started from a nominal
    1 g where our generator's sensor reads tens of mg off (60 mg: half a metre of drift in
    2 s), and the height's way back was a lunge nobody made (5 of 20 renders: 9).
    The height now starts at the first second of standing still after getting up."""
    want = [("lunge", 8)]
    assert _set_straight_after(seed, [("supine", 5.0), ("stand", 2.0)], "lunge", 8) == (want, want)


def test_a_first_bird_dog_held_before_the_body_rested_long_is_measured_from_that_rest():
    """Onto all fours, the body rested 1.2 s (more than SEAT_SPELL_MS, less than REST_SPELL_MS)
    and the first bird dog's top was then held longer: that held top was taken for the start
    position, every rep after it read as a wobble around it, and the set was lost (our
    generator, seed 61 fours_calib: 8 bird dogs counted as 3).  The short rest is kept; the
    body coming back to it shows it was the start, and the rep measured from it counts."""
    want = [("bird_dog", 8)]
    assert _set_straight_after(6, [("supine", 5.0), ("fours", 1.2)], "bird_dog", 8) == (want, want)


@pytest.mark.parametrize("kind,seed", [
    ("pelvic_tilt", 6), ("pelvic_tilt", 11), ("pelvic_tilt", 15), ("pelvic_tilt", 21),
    ("bridge", 13), ("knee_twist", 28),
])
def test_reps_begun_a_second_after_lying_down_start_from_where_the_body_stopped(kind, seed):
    """Lying down the body drifts on into place, and a set may begin before it rests the
    SEAT_SPELL_MS that marks the start position: the seat stayed where the posture settled,
    mid-drift, the first rep's held top was taken for the start and the set was counted
    inside out (each return to rest a 'rep').  The stop the first rep leaves from, if
    SEAT_STOP_MS long, is the start: of 30 seeds resting 1 s after lying down, pelvic tilts
    counted right 19 -> 23, bridges 27 -> 28, knee twists 26 -> 27 (our generator: two
    pelvic tilt sets 9 of 11 and 7 of 9 -> exact).  Resting only 0.6 s is still a known limit."""
    assert _set_straight_after(seed, [("supine", 1.0)], kind, 10) == ([(kind, 10)], [(kind, 10)])


@pytest.mark.parametrize("seed", [0, 2, 4])
def test_one_cat_cow_is_no_set_and_a_set_is_counted_whole(seed):
    # One pitch down and back up (a lone cat-cow, or leaving a plank) was a set of 1:
    # a cat-cow set now needs two whole reps, like any other set, before it starts.
    s = G.Session(seed=seed)
    s.move_to("fours")
    s.rest(8)
    s.cat_cow(1)
    s.rest(15)
    s.cat_cow(3)
    s.rest(10)
    want, got = _labelled_and_found(s)
    assert want == [("cat_cow", 1), ("cat_cow", 3)]
    assert got == [("cat_cow", 3)]


def _shift(s, pitch_deg, dur_s=1.2):
    """Settle into a rest position pitch_deg away (the generator's "shift" fidget, chosen)."""
    m = s._m(dur_s)
    k = G.minjerk(G.np.linspace(0, 1, m))[:, None]
    R = s.R @ G.local_rot(k * G.np.array([0.0, pitch_deg, 0.0]))
    s._emit(R=R)
    s.R = R[-1].copy()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_new_rest_position_after_a_set_is_where_the_next_set_starts(seed):
    # After a set, the wearer settles a few degrees away and props up on an elbow in
    # the rest.  The departure began inside the set, so it was given a held rep's extra
    # time and was still open when the bridges began: they were measured from the old
    # rest, half-way up each bridge, and counted twice (gen47 supine_calib_50hz: 9 -> 15
    # in five sets).  Once the set is over, the departure is the body resting elsewhere.
    s = _supine(seed)
    _fixed_range(s, 7.0)
    s.pelvic_tilt(8)
    s.still(0.3)
    _shift(s, 6.0)
    s.still(3.5)
    s.fidget("reach")
    s.still(3.0)
    _fixed_range(s, 16.0)
    s.bridge(8)
    s.still(5.0)
    want, got = _labelled_and_found(s)
    assert want == [("pelvic_tilt", 8), ("bridge", 8)] and got == want


@pytest.mark.parametrize("seed,want2", [(31, ("pelvic_tilt", 14)), (47, ("bridge", 9))])
def test_our_generators_supine_calib_50hz_at_other_seeds(seed, want2):
    # Two traces of our generator at seeds the core was never tuned on, each of which showed a
    # bug.  Seed 31: one bridge rep of the second set was integrated as a single transit,
    # and the sensor's gain errors made it a 47 cm drop; the "way in" carried from short
    # spell to short spell (for a hold's bobbing) then showed as the lift of every later
    # rep, and the 14 pelvic tilts of the next set were counted as bridges.  Seed 47: the
    # routine's lying phase ended with the first pelvic tilt, which was measured from when
    # the posture settled (1.04 s, under the rep minimum) instead of from when the routine
    # ended (12 -> 11); and a new rest position after that set split the bridges (9 -> 15).
    labelled, found = _generated("supine_calib_50hz", seed)
    want = _counts(labelled)
    assert want[2] == want2
    assert _counts(found) == want


@pytest.mark.parametrize("kind,deg", [("pelvic_tilt", 7.0), ("bridge", 16.0)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reps_begun_straight_after_the_calibration_routine_start_from_its_lying_phase(seed, kind, deg):
    # The routine's lying phase ends when the wearer starts moving, often with the first
    # rep; the posture then settles during that rep, and its top hold became the start
    # position: every rest after it looked like a rep the other way, one was lost, and
    # the rest were counted ~2 s late (gen23 supine_calib_50hz: 8 -> 7).
    s = G.Session(seed=seed)
    s.calibration_routine()
    _fixed_range(s, deg)
    getattr(s, kind)(8)
    s.still(4.0)
    want, got = _labelled_and_found(s, rate_hz=50, mount="calibrate")
    assert want == [(kind, 8)] and got == want


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sets_first_reps_left_out_before_it_was_sure_are_counted(seed):
    # A bird dog set whose first rep tips the pelvis more than it rolls it: a pitch and a
    # roll next to each other were taken for a fidget and the newer one, so the set began
    # at its second rep (our generator's demo, other seeds: 16 -> 14).  Once the set is
    # sure, candidates just before it, in its rhythm and fitting it, are its first reps.
    s = G.Session(seed=seed)
    s.move_to("fours")
    s.still(5.0)
    _face_down_reps(s, "bird_dog", [(2.0, 6.0)] + [(-9.0, 3.0), (9.0, 3.0)] * 4)
    s.still(6.0)
    want, got = _labelled_and_found(s)
    assert want == [("bird_dog", 9)] and got == want


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_tilt_out_of_the_sets_rhythm_before_it_is_not_one_of_its_reps(seed):
    s = G.Session(seed=seed)
    s.move_to("fours")
    s.still(5.0)
    _face_down_reps(s, "bird_dog", [(2.0, 6.0)])
    s.segments.pop()                    # a shift of weight, not a rep
    s.still(9.0)
    _face_down_reps(s, "bird_dog", [(-9.0, 3.0), (9.0, 3.0)] * 4)
    s.still(6.0)
    want, got = _labelled_and_found(s)
    assert want == [("bird_dog", 8)] and got == want


@pytest.mark.parametrize("lie_s,seed", [(6.0, 1), (6.0, 2), (6.0, 3), (3.0, 18)])
def test_bird_dogs_begun_soon_after_getting_onto_all_fours_start_from_there(lie_s, seed):
    # Up from lying face down onto all fours and straight into a set: the body rested
    # on all fours for about a second, under the 1.5 s a resting spell needed, so the
    # long departure from lying was re-seated wherever it was (mid-rep), and the reps
    # were measured from there (our generator at seed 47: a bird dog set of 8 found as
    # nothing).  A shorter spell stands in when there is no long one.  (Lying only 3 s:
    # the settling-in stop that is the start on the back, SEAT_STOP_MS, would take a stop
    # lying down for it, and the move onto all fours read as a rep: not face down.)
    s = G.Session(seed=seed, subject={"prone_pitch_deg": -1.0, "fours_pitch_deg": 9.0})
    s.move_to("prone")
    s.still(lie_s)
    s.move_to("fours")
    s.still(1.1)
    _face_down_reps(s, "bird_dog", [(-14.0, 3.0), (14.0, 3.0)] * 4, up_s=1.2, hold_s=1.0, pause_s=(0.3, 0.6))
    s.still(6.0)
    want, got = _labelled_and_found(s)
    assert want == [("bird_dog", 8)] and got == want


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_rep_made_from_the_rest_while_the_seat_was_wrong_counts(seed):
    # Kneeling down onto all fours, the posture settles while the body is still on its
    # way, so the start position is only provisional; the set begins after a short rest,
    # and its reps never come back near that provisional seat.  When the departure proves
    # too long, the seat moves to the rest and the reps measured from there count: the
    # last two now (only the last one was kept: our generator's demo at seed 31, 16 -> 14).
    s = G.Session(seed=seed, subject={"fours_pitch_deg": 8.0})
    s.move_to("supine")
    s.still(6.0)
    s.move_to("fours")                  # rolls over onto the front, then up onto all fours
    s.still(1.2)
    _face_down_reps(s, "bird_dog", [(13.0, 3.0), (-13.0, 3.0)] * 4, up_s=1.0, hold_s=0.8, pause_s=(0.3, 0.6))
    s.still(6.0)
    want, got = _labelled_and_found(s)
    assert want == [("bird_dog", 8)] and got == want


@pytest.mark.parametrize("then", ["cat_cow", "bird_dog"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_set_right_after_a_cat_cow_set_keeps_its_first_rep(seed, then):
    # A short rest (8.5 s) after a cat-cow set: the next set's first excursion came while the
    # cat-cow set was still open and was kept as half a cat-cow; the set then ended and that
    # half was lost, so the next cat-cow set paired cow with the next cat (6 -> 5), and a
    # first bird dog was taken as a cat-cow half (12 -> 8 on seed 31's routine_default_a:
    # the set was then mistaken).  The half now goes on to the next set, and a roll is no
    # half of a cat-cow.
    s = G.Session(seed=seed)
    s.move_to("fours")
    s.still(5.0)
    _fixed_range(s, 14.0)
    s.cat_cow(6)
    s.still(8.5)
    if then == "cat_cow":
        s.cat_cow(6)
    else:
        _face_down_reps(s, "bird_dog", [(10.0, 3.0), (-10.0, 3.0)] * 4)
    s.still(6.0)
    want, got = _labelled_and_found(s)
    assert want == [("cat_cow", 6), (then, 6 if then == "cat_cow" else 8)] and got == want


def test_a_plank_pushed_up_with_a_pause_is_measured_from_the_floor():
    """Our generator's seed 73, prone_default_200hz_acc: the second plank was pushed up with
    a half-second pause half-way.  The pause was a still spell over before its way in was
    measured, and the way into the plank was measured from it: its second half, -78 mm (a
    lowering), and the 58 s plank was taken for a cobra held by effort.  A spell that ends
    before its way in is measured, with no turn since that way in began, is now a pause in
    it, and the way in is measured from where it began."""
    labelled, found = _generated("prone_default_200hz_acc", 73)
    want = [(s["kind"], s["hold_s"]) for s in labelled if "hold_s" in s]
    got = [(s["kind"], s["hold_s"]) for s in found if "hold_s" in s]
    assert [k for k, _ in got] == [k for k, _ in want], got
    assert all(abs(g - w) <= 1.0 for (_, g), (_, w) in zip(got, want)), (got, want)


def test_a_sets_long_held_reps_do_not_drag_the_baseline_over():
    """Pelvic tilts of 4-4.6 degrees held at the top with short rests between (our generator's
    seed 23, supine_calib_50hz): the baseline follows the resting position, 4x slower toward
    the side the reps go, and still crept toward them until the reps read 2.6 degrees, under
    the bar (11 -> 5).  While a set is on it follows that way 16x slower.  And the bench's
    own prone_default: its second leg raise set (9) came out 8."""
    labelled, found = _generated("supine_calib_50hz", 23)
    got = _counts(found)
    want = _counts(labelled)
    assert want[1] == ("pelvic_tilt", 11) and len(got) == len(want), got
    assert [k for k, _ in got] == [k for k, _ in want], got
    assert all(abs(g - w) <= 1 for (_, g), (_, w) in zip(got, want)), (got, want)
    labelled, found = _generated("prone_default", 0)
    assert _counts(found, "leg_raise") == _counts(labelled, "leg_raise")


def test_two_rolls_one_way_then_one_the_other_are_side_to_side():
    """Face down, a set's kind is read from its first candidates.  Two rolls the same way
    were a one-sided leg raise set even when the third, which started the set, rolled the
    other way: our generator's seed 47 (mixed_default_a) lost the second rep of a bird dog
    set (the body rested 4 degrees from where the seat was) and the whole set was called a
    leg raise.  Rolls both ways among them are side to side: a bird dog here, all fours."""
    labelled, found = _generated("mixed_default_a", 47)
    want = [s for s in labelled if s["kind"] == "bird_dog"]
    got = [s for s in found if s["kind"] in ("bird_dog", "leg_raise")
           and s["start"] > want[0]["start"] - 5]
    assert len(want) == 1 and [s["kind"] for s in got] == ["bird_dog"], got
    assert abs(got[0]["reps"] - want[0]["reps"]) <= 1, (got, want)


# lying face down, a wearer who keeps the lumbar spine still tips the pelvis only a
# few degrees with each leg lift: with both legs together 4 degrees (the sensor reads
# ~3.6), under the old face-down start bar (3.7 deg), over the 2.6 deg one used outside
# holds; one leg at a time 3 degrees (the pelvis also rolls 2-6), which the old bar
# counted in part or as bird dogs.  (Both legs at 3.6 degrees or less are still missed.)
@pytest.mark.parametrize("variant,deg", [("superman", 4.0), ("alternating", 3.0)])
@pytest.mark.parametrize("seed", [1, 4, 5])
def test_leg_raises_that_tip_the_pelvis_3_to_4_degrees_are_counted(seed, variant, deg):
    s = G.Session(seed=seed)
    s.still(4.0)
    s.move_to("prone")
    s.rest(4.0, 0.0)
    _fixed_range(s, deg)
    s.leg_raise(8, variant)
    s.still(5.0)
    assert _segments(s) == [("leg_raise", 8)]


def test_small_leg_raises_of_our_generators_seeds_are_counted():
    """Our generator's seed 31 routine_default_50hz_acc: 14 leg raises at 2.5-3.6 degrees
    (median 3.1) under the old face-down bar, not one counted; and the planks of seed 73
    prone_default, whose sway tips the pelvis as far, stay whole holds (the lower bar is
    not used during a hold)."""
    labelled, found = _generated("routine_default_50hz_acc", 31)
    want = _counts(labelled, "leg_raise")
    got = _counts(found, "leg_raise")
    assert want == [("leg_raise", 14)] and got == want, got
    want, got = _generated("prone_default", 73)
    assert [s["kind"] for s in got] == [s["kind"] for s in want], got
    for g, w in zip(got, want):
        assert (abs(g["hold_s"] - w["hold_s"]) <= 1.0) if "hold_s" in w else (g["reps"] == w["reps"]), (g, w)


def test_leg_raises_begun_while_a_plank_seemed_held_are_counted():
    """Face down, a lift measured on the way down into a leg raise set, and the effort of its
    reps, can make the first seconds look like a plank.  The lower face-down bar was not
    used during a hold, so the reps under 3.4 degrees were that plank's wobble: seed 67
    routine_default_a counted none of its 12 supermen (2.9-4.3 degrees) and reported a
    59 s plank; seed 89 prone_default_200hz_acc measured its third rep from a baseline the
    first two, over while the plank was on, left behind (2 of 8).  During a hold a tip of
    the head end down (hip extension's way; a plank's sag raises it) now starts at the lower
    bar, and three such reps end the hold that was none."""
    want, got = _generated("routine_default_a", 67)
    lr = [g for g in got if g["kind"] == "leg_raise" and g["start"] < 340 and g["end"] > 300]
    assert lr and lr[0]["reps"] >= 7, lr
    assert not [g for g in got if "hold_s" in g and g["start"] < 340 and g["end"] > 300], got
    want, got = _generated("prone_default_200hz_acc", 89)
    assert _counts(want, "leg_raise")[0] == ("leg_raise", 8)
    assert _counts(got, "leg_raise")[0] == ("leg_raise", 8), got
