"""Tunables of the detection core: built-in defaults and loading thresholds.json.

The documented copy of every value is calibration_data/thresholds.json (the
board gets it as /thresholds.json); the defaults here must equal it, which a
test checks.  All values are ints with their unit in the name.

The defaults are class attributes of `Tunables`, read by the core as
`tun.REP_MIN_MS`: an attribute name is an interned qstr, so each name costs
the board's heap once, where dict keys written in every module that reads
them would each be a separate str object.  An instance holds only the values
that differ from the defaults.
"""


class Tunables:
    FRAME_MS = 40                 # internal frame period: samples are averaged into 40 ms bins
    GAP_RESET_MS = 1500           # a hole in the data longer than this resets the filters
    LP_SHIFT = 3                  # gravity low-pass: tau = 2**3 frames ~ 0.32 s
    SLOW_SHIFT = 6                # slow gravity (vertical axis, sway drift removal): ~2.6 s
    BASE_SHIFT = 7                # rep baseline adaptation when idle: ~5 s ...
    BASE_TOWARD_SHIFT = 2         # ... 4x slower toward the side the reps go (pitching reps in a set: 16x)
    BASE_BAND_SHIFT = 2           # ... and 4x slower while away from rest (between REP_LO and REP_HI)
    POSTURE_ENTER_MILLI = 700     # cos of the cone (~45 deg) around each posture's gravity axis
    POSTURE_LEAVE_MILLI = 600     # ... and is left only below cos ~53 deg (hysteresis)
    POSTURE_SETTLE_MS = 1000      # a new posture must hold this long
    REP_HI_MILLI = 60             # excursion starts above sin(3.4 deg) from the baseline
    REP_HI_PRONE_MILLI = 45       # ... face down sin(2.6 deg) (in a hold: head end down only): leg raises tip the pelvis 3-10 deg
    REP_LO_MILLI = 40             # ... and ends back below sin(2.3 deg)
    REP_SET_HI_PCT = 45           # inside a set an excursion past 45% of the recent reps' peak starts a rep ...
    REP_SET_MIN_MILLI = 45        # ... but never below sin(2.6 deg) (breathing tips the pelvis < 0.5 deg)
    REP_SET_MAX_PCT = 300         # ... and one over 3x their peak is not one of them
    REP_RETURN_PCT = 20           # ... or below 20% of a pitch rep's peak, whichever is larger
    REP_RETURN_PRONE_PCT = 27     # ... face down 27% (quick leg raises rest ~2 deg off the baseline)
    REP_QUIET_MS = 120            # back near the baseline for this long = rep done
    REP_WOBBLE_MS = 1000          # one under REP_SET_HI_PCT of the rep before, starting this soon after it, is settling
    REP_MIN_MS = 1100
    REP_SWING_GAP_MS = 500        # face down, a pitch excursion under REP_MIN_MS that the opposite one follows this soon is half a quick cat-cow (REP_MIN_MS / 2, as if swung through)
    REP_MAX_MS = 9000
    REST_SPELL_MILLI = 30         # a still spell: gravity stays within ~1.7 deg (sum of |du|) of where it began
    REST_SPELL_MS = 1500          # a departure longer than REP_MAX_MS re-seats the baseline at its first still spell this long
    REP_HOLD_MAX_MS = 5000        # still this long away from the baseline is a new position, not a rep's hold
    REP_SET_HOLD_EXTRA_MS = 5000  # ... inside a set (2+ reps) a rep may be held this much longer (and take as much longer)
    REP_SET_HOLD_PCT = 60         # ... if it reaches this share of the set's reps' peak
    REP_MAX_MILLI = 800           # bigger than ~53 deg (sin; the posture is left below cos 0.6) is a posture change, not a rep
    BRIDGE_MIN_MILLI = 240        # supine head-end-down excursion of ~14 deg or more is a bridge ...
    BRIDGE_LIFT_MM = 80           # ... or one into whose top the pelvis rose this far (a pelvic tilt lifts it < 5 cm) ...
    BRIDGE_SURE_MILLI = 350       # ... but one whose top was measured lower is a pelvic tilt, unless past ~20 deg
    SEAT_SPELL_MS = 800           # lying, a still spell this long near where the posture settled is the start position
    SEAT_STOP_MS = 400            # ... and before that, on the back, a stop this long where the first rep leaves from
    SEED_MAX_COS = 940            # lying: a posture start more than ~20 deg from flat is mid-rep; use flat (all fours tips the pelvis 10-15 deg)
    CAL_SEAT_MS = 3000            # calibrate mount: lying on the back this soon after the routine, its lying phase is the start position
    LEG_RAISE_PITCH_PCT = 65      # in a leg-raise set a rolling rep raises the head end at least 2/3 as far as usual (a shift after the set: half)
    ROLL_DOMINANCE_PCT = 120      # roll beats pitch by 20% -> a rolling exercise
    LEVEL_STILL_MS = 3000         # default mount: standing still this long levels the strap's tilt
    LEVEL_STILL_MG = 30
    LEVEL_MIN_MILLI = 35          # ... when it is more than ~2 deg off
    LEVEL_MAX_MILLI = 500         # ... and less than 30 deg (more is not a waist strap on the back)
    LUNGE_LEAK_SHIFT = 5          # leak of the height integrators: tau = 2**5 frames ~ 1.3 s
    LUNGE_DROP_MM = 60            # lunge: pelvis (leaky-integrated height) drops this far below its recent high
    LUNGE_RISE_MM = 150           # ... then rises this far above the low
    LUNGE_RISE_WALK_MM = 250      # ... or this far while a walk is under way
    LUNGE_MIN_MS = 800
    LUNGE_MAX_MS = 6000           # a forward lunge takes 2-4 s down and up; a slower swing is getting up or settling
    SET_CONFIRM_REPS = 2          # a set is believed after this many like reps
    SET_CONFIRM_ROLLS = 3         # ... rolls that all go the same way (face down, or knee twists): this many
    HOLD_BREAK_REPS = 3           # ... and during a plank-like hold after this many (the hold was not one)
    SET_GAP_MS = 12000            # no rep for this long ends a set
    SET_GAP_RHYTHM_X = 3          # ... or 3 of its rep intervals (a missed rep leaves 2), never below REP_MAX_MS
    HOLD_CONFIRM_MS = 4000        # a still spell in a hold posture this long, with evidence, starts a hold (backdated)
    HOLD_MIN_MS = 8000            # shorter holds are not reported
    HOLD_SPELL_MS = 400           # a still spell begins when gravity stays in the REST_SPELL_MILLI cone this long
    HOLD_BREAK_MS = 400           # low-frequency movement this long ends a spell (a hold in it ends where it began)
    HOLD_MOVE_MG = 15             # |f| - 1 g, smoothed ~0.16 s: the pelvis accelerating up or down
    HOLD_TILT_MG = 40             # the body tilting this far (~2.3 deg) from the spell's slow gravity is movement ...
    HOLD_TILT_SWAY_X = 3          # ... or this many times its RMS sway, if more (a shaky hold goes on) ...
    HOLD_TILT_MAX_MG = 150        # ... but not beyond this (~8.6 deg)
    HOLD_LIFT_MIN_MM = 120        # the pelvis went up this far into a spell: a plank's lift from lying ...
    HOLD_LIFT_MAX_MM = 350        # ... but not further (up onto all fours from lying is ~40 cm)
    HOLD_TREMOR_PCT = 150         # tremor above 1.5x the posture's resting level is effort ...
    HOLD_KEEP_TREMOR_PCT = 140    # ... and above 1.4x keeps it (hysteresis)
    HOLD_EFFORT_SHARE_PCT = 50    # ... for at least this share of a spell's frames to start a hold
    HOLD_EFFORT_RUN_PCT = 75      # ... or this share of the frames since the tremor last stood at rest in the spell, over HOLD_CONFIRM_MS (a slow way in left the spell begun lying still)
    HOLD_END_TREMOR_PCT = 50      # a hold held by effort alone ends when tremor falls below 50% of its mean ...
    HOLD_LEVEL_PCT = 75           # ... backdated to when it last stood above 75% of it
    HOLD_FADE_MS = 1000           # ... or when it stays under the 1.4x keep level this long (sensor noise masks a still hold's tremor: it dips there for ~1 s)
    HOLD_REST_TREMOR_PCT = 115    # ... a hold held by effort began when tremor last stood within 115% of the resting level
    HOLD_ONSET_LAG_MS = 800       # ... or, seen in the last 5 s, where it got half-way up to the effort's level, less this (the proxy's half-rise 440 ms, and the effort building)
    PLANK_EFFORT_LIFT_MM = 80     # a hold shown by effort alone is a plank if the pelvis went up this far into it (and lying face down, this far up without a cobra's incline is up off the floor)
    COBRA_MIN_MILLI = 250         # the head end went up this far (sin, ~14.5 deg) into a face-down hold: a cobra ...
    COBRA_LIFTED_MILLI = 350      # ... or, if the pelvis went up too, this far (~20.5 deg; a plank's incline is less)
    SWAY_SETTLE_MS = 1000         # sway is measured from this long after the body becomes steady
    SWAY_REF_DMG = 200            # stability = 100 * ref / (ref + sway): 20 mg sway -> 50
    HOLD_TICK_MS = 1000
    STEP_MIN_MG = 30              # step peak of the band-passed vertical acceleration
    STEP_REL_PCT = 40             # ... and at least this share of the recent mean peak
    STEP_REL_WALK_PCT = 20        # ... inside a confirmed bout
    STEP_REL_RHYTHM_PCT = 10      # ... or this share when the peak comes on the beat (turn and closing steps are weak)
    STEP_RHYTHM_PCT = 200         # on the beat: within 200% of the bout's typical step interval of the last step
    STEP_MIN_MS = 350
    STEP_MAX_MS = 1400
    STEP_FIRST_WEAK_PCT = 40      # a bout's first bump under this share of its next ones is the push-off into the first step
    STEP_REGULAR_PCT = 45         # a bout needs step intervals within +-45% of each other
    WALK_CONFIRM_STEPS = 4
    WALK_END_MS = 6000            # a walk is over after this long without a step (shorter stops: a door, a crossing, shuffling round)
    STEPS_REPORT_MS = 5000


def defaults():
    """Every tunable and its default, as a dict."""
    d = Tunables.__dict__
    return {k: d[k] for k in d if k[:1] != "_"}


def known(key):
    """True if `key` names a tunable."""
    return isinstance(key, str) and key[:1] != "_" and key in Tunables.__dict__


def make(tun=None):
    """A Tunables from None (defaults), a Tunables, or a dict of values (all or some)."""
    if isinstance(tun, Tunables):
        return tun
    t = Tunables()
    if tun:
        for k in tun:
            if not known(k):
                raise ValueError("unknown threshold %r" % k)
            if tun[k] != getattr(Tunables, k):
                setattr(t, k, tun[k])
    return t


def load(path=None):
    """Defaults overridden by the JSON file at `path` (missing file: defaults), as a dict.

    Unknown keys and non-int values raise ValueError naming the key, so a bad
    thresholds file is reported instead of silently ignored.
    """
    t = defaults()
    if path is None:
        return t
    try:
        f = open(path)
    except OSError:
        return t
    try:
        import json
        data = json.load(f)
    finally:
        f.close()
    vals = data.get("values", data) if isinstance(data, dict) else None
    if not isinstance(vals, dict):
        raise ValueError("thresholds file has no 'values' object")
    return merge(t, vals)


def merge(t, vals):
    for k in vals:
        if not known(k):
            raise ValueError("unknown threshold %r" % k)
        v = vals[k]
        if isinstance(v, dict):
            v = v.get("value")
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError("threshold %r must be an int" % k)
        t[k] = v
    return t
