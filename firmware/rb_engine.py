"""Detection core: one IMU sample in, workout events out. Runs on the board and the host.

Pipeline (all integer arithmetic, nothing allocated per sample):

1. Samples are averaged into FRAME_MS bins by their own time stamps, so any
   rate from 25 to 400 Hz, jitter and dropped samples all give the same
   25 Hz frame stream (a hole just means fewer samples in a bin).
2. Mount: the sensor-to-body rotation (default mount: identity; calibrate:
   found by rb_mount.Calibrator from the routine at the start; fixed: from
   config).  Unknown mount: only steps, which need no axes.
3. Gravity direction (low-passed acceleration) gives the posture: upright,
   supine, prone (face down), side.
4. Rep excursions: the tilt of gravity away from a slowly adapting baseline
   (seeded flat when a lying posture settles mid-rep, slow toward the side
   the reps go), split into pitch (about the body's left-right axis) and
   roll (about the long axis).  A rep is an excursion past REP_HI that comes
   back under REP_LO (or within REP_RETURN_PCT of a pitch rep's peak).
   Supine: bridge (head end down, with the pelvis measured rising into its
   top by rb_hold's lift integral, or deep where that was not measured),
   pelvic tilt (small, no lift), knee twist (roll).  Face down the set's pattern decides: leg raise, cat-cow (a
   round-then-arch pair, swung straight through or touching neutral
   between: either way each half may be half as short as a rep), bird dog.  Lunges are swings of the pelvis height
   from leaky double integration of the vertical acceleration.
5. Sets: a set is believed after SET_CONFIRM_REPS like reps (then those are
   emitted too) and ends after a rest (SET_GAP_MS, or 3 rep intervals
   of its own rhythm) without a rep or on a posture
   change.  Isolated fidgets never become reps.
6. Holds: rb_hold.HoldDetector, fed every frame (still spells in a
   face-down or side posture, the way into them, effort from tremor: the
   second difference of the frames, against the resting level).
7. Steps: rb_steps.StepCounter on the vertical acceleration.
"""
import rb_events as E
from rb_fixed import isqrt, asin_ddeg, lp3
import rb_hold
import rb_mount
import rb_steps
import rb_tunables

try:
    from micropython import const
except ImportError:         # CPython, importing the same file on the host
    def const(x):  # type: ignore[misc]
        return x

# the lunge swing's state in Engine._lg
_LG_STATE = const(0)
_LG_START = const(1)
_LG_MIN = const(2)
_LG_HI = const(3)
_LG_TOP = const(4)
_LG_LOW_T = const(5)
_LG_SWING = const(6)
_LG_HOLE = const(7)
_LG_STILL = const(8)
_LG_SEAT = const(9)
_LUNGE_SET_PCT = const(25)  # in a lunge set a lunge goes at least this share of the set's usual depth
_LUNGE_NEXT_PCT = const(45)  # ... and one that claims a walk's first steps for the lunges this share of the lunge before
_LUNGE_WALK_STEPS = const(6)  # a swing through which the walk took this many steps is no lunge (one has 2-4)
_LUNGE_MAX_MM = const(800)  # ... and no lunge drops the pelvis further (a swing across a hole that does is none)
_HOLE_FRAMES = const(5)     # a hole this long (0.2 s) or longer leaves the lunge height a guess
_HOLE_SETTLE_MS = const(1000)  # ... until this long after it (the leaky height's swing out of the fill)
_SEAT_STILL_MG = const(30)  # standing up, movement under this (sum over the axes) ...
_SEAT_STILL_MS = const(1000)  # ... this long is standing still: the lunge height's start

MOUNT_DEFAULT = 0
MOUNT_CALIBRATE = 1
MOUNT_UNKNOWN = 2
MOUNT_FIXED = 3


_FRAME_MAX_MG = const(8000)          # frame means are clamped so squares stay small ints
_G_MM_S2 = const(9807)               # 1 g in mm/s^2

# face-down excursions: their axis and direction; a set's pattern decides
# the kind (same direction again: leg raise; pitch to and fro: cat-cow;
# roll side to side: bird dog)
_K_FACEDOWN = const(99)
_HIST_N = const(16)         # candidates kept while no set is on (a power of 2): a set's first reps are found among them once it starts
_SHAPE_PITCH_POS = const(1)
_SHAPE_PITCH_NEG = const(2)
_SHAPE_ROLL_POS = const(3)
_SHAPE_ROLL_NEG = const(4)
FACEDOWN_KINDS = (E.K_LEG_RAISE, E.K_CAT_COW, E.K_BIRD_DOG)


def mount_code(name):
    if name == "default":
        return MOUNT_DEFAULT
    if name == "calibrate":
        return MOUNT_CALIBRATE
    return MOUNT_UNKNOWN


class Engine:
    def __init__(self, rate_hz=100, has_gyro=True, mount=MOUNT_DEFAULT,
                 rotation=None, tun=None, emit=None):
        self.tun = t = rb_tunables.make(tun)
        self.has_gyro = has_gyro
        self.emit = emit if emit is not None else _drop
        self.mount = mount
        self.rotation = rotation if rotation is not None else rb_mount.IDENTITY
        self.calibrator = rb_mount.Calibrator() if mount == MOUNT_CALIBRATE else None
        self.axes_known = mount in (MOUNT_DEFAULT, MOUNT_FIXED)
        self.frame_ms = t.FRAME_MS
        self.steps = rb_steps.StepCounter(t, self.emit, rate_hz)
        self.holds = rb_hold.HoldDetector(t, self.frame_ms, self.emit)
        self.hint_kind = E.K_NONE
        # bin accumulators
        self._bin_end = -1
        self._n = 0
        self._acc = [0, 0, 0, 0, 0, 0]   # sums of ax, ay, az, gx, gy, gz
        self._t_last = -1
        # the last frame (x, y, z, gyro L1), the one before (x, y, z), frames seen (up to 2)
        self._lf = [0, 0, 0, 0, 0, 0, 0, 0]
        # the lunge swing (_LG_*): state (0 up, 1 dropped), start, low, recent high, top, time of
        # the drop; the usual depth of the lunges (mm, 0: none yet); the end of the last long hole;
        # frames standing still, and whether the height has started from standing still (0/1)
        self._lg = [0, 0, 0, 0, 0, 0, 0, -100000, 0, 0]
        self._reset_filters()
        # slow vertical accel mean x16: at rest the vertical specific force
        # is 1 g; a filter reset (a gap, levelling the strap) keeps the
        # sensor's own, as forgetting a 50 mg offset would integrate into a
        # 40 cm rise that hides the next lunge
        self._av16 = 1000 << 4
        self.posture = E.P_UNKNOWN
        self._cand_posture = E.P_UNKNOWN
        self._cand_since = 0
        # excursion bookkeeping kept in lists, not attributes (the board's heap):
        # the current still spell: start, anchor u (3), frames, sum of u (3), end
        self._sp = [0, 0, 0, 0, 0, 0, 0, 0, 0]
        # the departure's first long still spell: frames, sum of u (3), end,
        # and 1 while it is only a short one (SEAT_SPELL_MS)
        self._bst = [0, 0, 0, 0, 0, 0]
        # reps measured from it: done rep (start, end, pitch max/min, roll max/min),
        # current (pitch max/min, roll max/min, peak), state (-1 off, 0 resting,
        # 1 in a rep), start, last quiet, done flag
        self._sh = [0] * 20
        self._swing = [-1, 0, 0, 0, 0, 0, 0, -100000, 0]
        # a departure taken for a new position because it stayed (see _excursion):
        # the excursion (_ex_keep; its start -1: none), then the seat it left (3)
        self._held = [-1, 0, 0, 0, 0, 0, 0, 0, 0]
        self._ex_tmp = [0, 0, 0, 0, 0, 0]     # an excursion put aside (_swing_half)
        self._reset_rep_state()
        # the set under way and the candidates before one
        self._set_kind = E.K_NONE
        self._set_no = 0
        self._set_reps = 0
        self._set_start = 0
        self._last_rep_t = 0
        self._rep_iv = 0             # time between the set's last two reps
        self._last_rep_end = 0
        self._pend_n = 0
        self._pend_t = [0, 0, 0, 0]  # type: list
        self._pend = [None, None, None, None]  # type: list
        # the last candidates while no set was on, pending or not (a ring):
        # a set's first reps left out of it are found here once it starts
        self._hist = [None] * _HIST_N  # type: list
        self._hist_i = 0
        self._half = None            # cat-cow: first half of a cycle
        self._set_pitch16 = 0        # leg raise: the usual pitch at a rolling rep's peak, x16
        self._set_way = 0            # the pitch of the set's first rep: its sign is the way its reps tip
        self._lv = [0, 0, 0, 0, 0]     # levelling: frames, start, sum of x, y, z
        self._cal_lie = None           # calibrate mount: (t, unit lying direction x1000) of the routine's lying phase

    # ------------------------------------------------------------------ API
    def feed(self, t_ms, ax, ay, az, gx, gy, gz):
        if t_ms >= self._bin_end:
            if self._n:
                self._close_bin()
            if self._t_last >= 0 and t_ms - self._t_last > self.tun.GAP_RESET_MS:
                # a long hole: filters restart; an excursion in progress is void
                self._reset_filters()
                self._reset_rep_state()
            elif self._bin_end > 0:
                # bins a short hole left empty: hold the last frame so that
                # filters and integrators keep real time
                fm = self.frame_ms
                tb = self._bin_end + fm
                # (tremor -2: a filled frame; -1 is only "not known yet")
                n = (t_ms - tb) // fm + 2
                if n > _HOLE_FRAMES:
                    # (known before the filled frames go in: a lunge swing
                    # measured across the hole is found while they do)
                    self._lg[_LG_HOLE] = t_ms
                self.steps.hole(self._t_last, t_ms)
                k = 1
                while tb <= t_ms:
                    lf = self._lf
                    self._frame(tb - 1, lf[0], lf[1], lf[2], lf[3], -2,
                                lf[0] + (ax - lf[0]) * k // n, lf[1] + (ay - lf[1]) * k // n,
                                lf[2] + (az - lf[2]) * k // n)
                    tb += fm
                    k += 1
            self._bin_end = t_ms - t_ms % self.frame_ms + self.frame_ms
        a = self._acc
        a[0] += ax
        a[1] += ay
        a[2] += az
        a[3] += gx
        a[4] += gy
        a[5] += gz
        self._n += 1
        self._t_last = t_ms

    def hint(self, kind):
        self.hint_kind = kind
        self.holds.hint_kind = kind

    def finish(self, t_ms=None):
        if self._n:
            self._close_bin()
        if t_ms is None:
            t_ms = self._t_last if self._t_last >= 0 else 0
        if self.calibrator is not None and self.calibrator.status < 0:
            self.calibrator.close_run(t_ms)
            self._calibration_done(t_ms)
        self.holds.finish(t_ms)
        self._end_set(t_ms)
        self.steps.finish(t_ms)

    # ------------------------------------------------------------ internals
    def _reset_filters(self):
        self._g16 = [0, 0, 0]        # gravity low-pass, x16
        self._s16 = [0, 0, 0]        # slow gravity, x16
        self._b16 = [0, 0, 0]        # rep baseline direction (unit x1000), x16
        self._primed = False
        self._tremor16 = 0           # smoothed tremor proxy, x16
        self._vel16 = 0              # vertical velocity (mm/s) x16, leaky
        self._pos16 = 0              # vertical position (mm) x16, leaky
        self.holds.reset_motion()
        # the height restarts at 0: a swing measured across that is not one
        self._lg[_LG_STATE] = self._lg[_LG_HI] = 0

    def _close_bin(self):
        n = self._n
        t = self._t_last
        a = self._acc
        fx = a[0] // n
        fy = a[1] // n
        fz = a[2] // n
        wl1 = 0
        if self.has_gyro:
            wl1 = (abs(a[3]) + abs(a[4]) + abs(a[5])) // n
        # tremor proxy: second difference of the frame means (a high-pass
        # rising to 12.5 Hz, where muscle tremor lives: a 10 Hz tremor passes
        # at x3.6, the movement of a rep or a transit at under x0.02)
        tr = -1
        lf = self._lf
        if lf[7] >= 2:
            tr = abs(fx - 2 * lf[0] + lf[4]) + abs(fy - 2 * lf[1] + lf[5]) + abs(fz - 2 * lf[2] + lf[6])
        else:
            lf[7] += 1
        lf[4] = lf[0]
        lf[5] = lf[1]
        lf[6] = lf[2]
        self._n = 0
        a[0] = a[1] = a[2] = a[3] = a[4] = a[5] = 0
        lf[0] = fx
        lf[1] = fy
        lf[2] = fz
        lf[3] = wl1
        self._frame(t, fx, fy, fz, wl1, tr)

    def _frame(self, t, fx, fy, fz, wl1, tr, lx=0, ly=0, lz=0):
        # (tr -2: a frame filled across a hole, the last reading held; lx, ly,
        # lz then the reading on a straight line to the one after the hole)
        if self.calibrator is not None and self.calibrator.status < 0:
            if self.calibrator.feed(t, fx, fy, fz, wl1):
                self._calibration_done(t)
            return
        if self.axes_known:
            R = self.rotation
            bx = (R[0] * fx + R[1] * fy + R[2] * fz) >> 14
            by = (R[3] * fx + R[4] * fy + R[5] * fz) >> 14
            bz = (R[6] * fx + R[7] * fy + R[8] * fz) >> 14
            fx, fy, fz = bx, by, bz
        if fx > _FRAME_MAX_MG:
            fx = _FRAME_MAX_MG
        elif fx < -_FRAME_MAX_MG:
            fx = -_FRAME_MAX_MG
        if fy > _FRAME_MAX_MG:
            fy = _FRAME_MAX_MG
        elif fy < -_FRAME_MAX_MG:
            fy = -_FRAME_MAX_MG
        if fz > _FRAME_MAX_MG:
            fz = _FRAME_MAX_MG
        elif fz < -_FRAME_MAX_MG:
            fz = -_FRAME_MAX_MG
        g = self._g16
        s = self._s16
        if not self._primed:
            g[0] = s[0] = fx << 4
            g[1] = s[1] = fy << 4
            g[2] = s[2] = fz << 4
            self._primed = True
        lp3(g, fx, fy, fz, self.tun.LP_SHIFT)
        lp3(s, fx, fy, fz, self.tun.SLOW_SHIFT)
        gx = g[0] >> 4
        gy = g[1] >> 4
        gz = g[2] >> 4
        gn = isqrt(gx * gx + gy * gy + gz * gz)
        if gn < 200:
            gn = 200
        ux = gx * 1000 // gn
        uy = gy * 1000 // gn
        uz = gz * 1000 // gn
        sx = s[0] >> 4
        sy = s[1] >> 4
        sz = s[2] >> 4
        sn = isqrt(sx * sx + sy * sy + sz * sz)
        if sn < 200:
            sn = 200
        # vertical (along slow gravity) specific force, mg
        av = (fx * sx + fy * sy + fz * sz) // sn
        # how much the body moves: distance from the fast gravity estimate
        motion = abs(fx - gx) + abs(fy - gy) + abs(fz - gz)
        if tr >= 0:
            if self._tremor16 == 0:
                self._tremor16 = tr << 4
            self._tremor16 += ((tr << 4) - self._tremor16) >> 4
        # steps: any mount, but with known axes only while upright and not lunging
        if self.axes_known and ((self.posture != E.P_UPRIGHT and self.posture != E.P_UNKNOWN)
                                or self._set_kind == E.K_LUNGE):
            if self.steps.walking or self.steps.pending:
                self.steps.stop_at(t)
            self.steps.enabled = False
        else:
            self.steps.enabled = True
        self.steps.feed(t, av, tr == -2)
        if not self.axes_known:
            return
        self._update_posture(t, ux, uy, uz)
        if self.mount == MOUNT_DEFAULT and self._level(t, fx, fy, fz, motion):
            return
        if tr == -2:
            # the pelvis height across a hole: a walk's bounce or a lunge's
            # push held 0.3-0.5 s integrated into a swing of half a metre
            # (a tuple: holes only)
            lx, ly, lz = rb_mount.rotate(self.rotation, lx, ly, lz)
            av = (lx * sx + ly * sy + lz * sz) // sn
        self._lunge(t, av, motion)
        self._excursion(t, ux, uy, uz)
        h = self.holds
        was = h.on and h.announced
        h.frame(t, self.posture, gx, gy, gz, ux, uy, uz, fx, fy, fz, self._tremor16 if tr >= 0 else (-1 if tr == -2 else 0),
                self._last_rep_end if self._set_kind != E.K_NONE else -1)
        if was and not h.on and self._set_kind == E.K_NONE:
            # out of a hold (one reported) the body comes to rest somewhere new in the same
            # posture (down from a plank onto the floor or onto all fours):
            # the seat from before the hold is only provisional
            self._seat_tmp = True
        if self._set_kind:
            # a rest is long against the set's own rhythm: a pause of more
            # rep intervals than a missed rep leaves, but never shorter than
            # the slowest rep (REP_MAX_MS), and SET_GAP_MS at most
            gap = self.tun.SET_GAP_MS
            if self._set_reps >= 3:
                g2 = self._rep_iv * self.tun.SET_GAP_RHYTHM_X
                if g2 < self.tun.REP_MAX_MS:
                    g2 = self.tun.REP_MAX_MS
                if g2 < gap:
                    gap = g2
            if t - self._last_rep_t > gap:
                self._end_set(t)
        if self._pend_n and t - self._pend_t[0] > self.tun.SET_GAP_MS:
            # isolated candidates that never became a set: fidgets, not reps
            self._pend_n = 0

    def _rep_hi(self, p, down=False):
        # face down a leg lift tips the pelvis only a few degrees (anterior
        # tilt 3-10, less the better the wearer holds the lumbar spine): its
        # own, lower bar.  During a hold only for a tip of the head end down
        # (`down`: pitch the most, that way), the way hip extension tips it: a
        # plank's sag raises the head end and its sway rolls the pelvis as far
        # (their "reps" broke planks); without it, a superman set whose way
        # down and effort made it look like a plank was read as that plank
        if p == E.P_PRONE and (down or not self.holds.on):
            return self.tun.REP_HI_PRONE_MILLI
        return self.tun.REP_HI_MILLI

    def _level(self, t, fx, fy, fz, motion):
        """Default mount: learn the strap's tilt from standing still, so that
        lying and face-down angles are measured from the real body axes."""
        tn = self.tun
        if self.posture != E.P_UPRIGHT or motion > tn.LEVEL_STILL_MG or self._set_kind or self.holds.on:
            self._lv[0] = 0
            return False
        lv = self._lv
        if lv[0] == 0:
            lv[1] = t
            lv[2] = lv[3] = lv[4] = 0
        lv[0] += 1
        lv[2] += fx
        lv[3] += fy
        lv[4] += fz
        if t - lv[1] < tn.LEVEL_STILL_MS:
            return False
        n = lv[0]
        m = (lv[2] // n, lv[3] // n, lv[4] // n)
        lv[0] = 0
        gn = isqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]) or 1
        off = isqrt(m[1] * m[1] + m[2] * m[2]) * 1000 // gn     # sin of the tilt from body x
        if off < tn.LEVEL_MIN_MILLI or off > tn.LEVEL_MAX_MILLI:
            return False
        C, st = rb_mount.rotation_from(m, (0, 0, -1000))
        if C is None:
            return False
        self.rotation = rb_mount.compose(C, self.rotation)
        self._reset_filters()
        return True

    def _calibration_done(self, t):
        c = self.calibrator
        if c is None:
            return
        self.emit((E.EV_CALIBRATED, t, c.status, c.quality_ddeg, 0, 0, 0, 0))
        if c.status == E.CAL_OK:
            self.rotation = c.rotation
            self.axes_known = True
            lie = c.lie
            assert lie is not None      # (CAL_OK is only ever set with a lying phase)
            lx, ly, lz = rb_mount.rotate(c.rotation, lie[0], lie[1], lie[2])
            ln = isqrt(lx * lx + ly * ly + lz * lz) or 1
            self._cal_lie = (t, lx * 1000 // ln, ly * 1000 // ln, lz * 1000 // ln)
        else:
            self.axes_known = False
        self._reset_filters()

    # ------------------------------------------------------------- posture
    def _update_posture(self, t, ux, uy, uz):
        # hysteresis: a posture is kept until its axis is well out of the
        # cone, so a deep knee twist does not count as lying on the side
        cur = self.posture
        lv = self.tun.POSTURE_LEAVE_MILLI
        if ((cur == E.P_SUPINE and uz < -lv) or (cur == E.P_PRONE and uz > lv)
                or (cur == E.P_UPRIGHT and ux > lv) or (cur == E.P_SIDE_L and uy > lv)
                or (cur == E.P_SIDE_R and uy < -lv)):
            self._cand_posture = cur
            return
        if (cur == E.P_SUPINE or cur == E.P_PRONE) and (uy if uy > 0 else -uy) > (ux if ux > 0 else -ux):
            # rolling while lying, the cone is also kept around where the
            # body rests: a strap slid round the waist (or a pelvis resting
            # a little rolled) plus a deep knee twist leaves the flat-lying
            # cone while the body is still on its back.  (Not for pitching
            # up: getting up from all fours would be seen late.)
            b = self._b16
            if ((b[0] >> 4) * ux + (b[1] >> 4) * uy + (b[2] >> 4) * uz) // 1000 > lv:
                self._cand_posture = cur
                return
        thr = self.tun.POSTURE_ENTER_MILLI
        if ux > thr:
            p = E.P_UPRIGHT
        elif uz < -thr:
            p = E.P_SUPINE
        elif uz > thr:
            p = E.P_PRONE
        elif uy > thr:
            p = E.P_SIDE_L
        elif uy < -thr:
            p = E.P_SIDE_R
        else:
            p = E.P_MOVING
        if p != self._cand_posture:
            self._cand_posture = p
            self._cand_since = t
            return
        if p == self.posture or p == E.P_MOVING:
            return
        if t - self._cand_since >= self.tun.POSTURE_SETTLE_MS:
            prev = self.posture
            self.posture = p
            self._posture_changed(t)
            self.emit((E.EV_POSTURE, t, p, prev, 0, 0, 0, 0))

    def _posture_changed(self, t):
        # the slow gravity would take seconds to swing round to the new
        # posture: start it where the fast one is
        sl = self._s16
        g = self._g16
        sl[0] = g[0]
        sl[1] = g[1]
        sl[2] = g[2]
        self.holds.posture_changed(t)
        self._end_set(t)
        self._pend_n = 0
        self._clear_hist()
        self._reset_rep_state()
        self._last_quiet_t = t
        b = self._b16
        g = self._g16
        gx = g[0] >> 4
        gy = g[1] >> 4
        gz = g[2] >> 4
        gn = isqrt(gx * gx + gy * gy + gz * gz) or 1
        ux = gx * 1000 // gn
        uy = gy * 1000 // gn
        uz = gz * 1000 // gn
        # lying down, the first rep may already be under way when the posture
        # settles: a start far from flat lying is not a rest position.  Flat
        # is only provisional too: a strap slid round the waist rests the
        # pelvis 10-15 degrees rolled, and reps measured from flat would
        # tip one side of them out of the lying posture
        cz = 0
        if self.posture == E.P_SUPINE:
            cz = -1000
        elif self.posture == E.P_PRONE:
            cz = 1000
        # a seat where the body was when the posture settled is only
        # provisional: it may still be on its way into the start position
        # (flat, then up onto all fours); the first still spell replaces it
        self._seat_tmp = True
        if cz and uz * cz < self.tun.SEED_MAX_COS * 1000:
            ux = uy = 0
            uz = cz
        cl = self._cal_lie
        self._cal_lie = None
        if cl is not None and self.posture == E.P_SUPINE and t - cl[0] <= self.tun.CAL_SEAT_MS:
            # the routine's lying phase ended when the wearer began to move:
            # often the first rep, under way before the posture has settled.
            # That lying phase is where the reps start from
            ux = cl[1]
            uy = cl[2]
            uz = cl[3]
            self._seat_tmp = False
            self._last_quiet_t = cl[0]      # (a rep under way began when the routine ended)
        b[0] = ux << 4
        b[1] = uy << 4
        b[2] = uz << 4

    # ---------------------------------------------------------- excursions
    def _reset_rep_state(self):
        self._seat_tmp = False            # the baseline is where the posture settled, not yet a rest
        self._dir_p = self._dir_r = 0     # direction the reps keep going (pitch, roll), 0: none
        self._last_p = self._last_r = 0
        self._ex_active = False
        self._ex_set(0, 0, 0)             # the excursion's start, peak pitch and roll
        self._hold_ext = 0                # extra ms a rep may take if held (in a set), see _ext_ms
        self._quiet_since = -1
        self._last_quiet_t = 0
        self._dmax = 0                    # the excursion's largest whole tilt
        self._pk16 = 0                    # recent reps' peak tilt, x16 (0: none yet in this posture)
        self._prev_end = -100000          # the last rep candidate: its end, peak tilt and way
        self._prev_pk = 0
        self._prev_way = 0
        # a short pitch excursion face down, kept in case the opposite one
        # follows at once (half a quick cat-cow): end (-1: none), start, peaks
        sw = self._swing
        sw[0] = -1
        sw[1] = sw[2] = sw[3] = sw[4] = sw[5] = sw[6] = sw[8] = 0
        sw[7] = -100000     # (and the last excursion's end and pitch way, 0: not a pitch one)
        self._held[0] = -1
        self._spell_reset(0, 0, 0, 0)
        b = self._bst
        b[0] = b[1] = b[2] = b[3] = b[4] = b[5] = 0
        sh = self._sh
        for i in range(20):
            sh[i] = 0
        sh[11] = -1
        lg = self._lg
        for i in range(6):
            lg[i] = 0

    def _ex_set(self, start, p, r):
        # type: (int, int, int) -> None
        """The excursion began at start; its peak pitch and roll so far are p, r."""
        self._ex_start = start
        self._pmax = p if p > 0 else 0
        self._pmin = p if p < 0 else 0
        self._rmax = r if r > 0 else 0
        self._rmin = r if r < 0 else 0

    def _excursion(self, t, ux, uy, uz):
        p = self.posture
        if p != E.P_SUPINE and p != E.P_PRONE:
            return
        b = self._b16
        bx = b[0] >> 4
        by = b[1] >> 4
        bz = b[2] >> 4
        # rotation taking the baseline to now, small-angle: b x u (milli-rad ~ milli-sin)
        roll = (by * uz - bz * uy) // 1000
        pitch = (bz * ux - bx * uz) // 1000
        if p == E.P_PRONE:
            pitch = -pitch
            roll = -roll
        ap = abs(pitch)
        ar = abs(roll)
        # the whole tilt away from the baseline (a leg lift tips and rolls the pelvis at once)
        dev = isqrt(pitch * pitch + roll * roll)
        tn = self.tun
        if self._held[0] >= 0 and self._held_back(t, ux, uy, uz):
            return
        if not self._ex_active:
            if dev < tn.REP_LO_MILLI:
                self._last_quiet_t = t
                # resting at the seat as long as a rep takes confirms it
                if self._quiet_since < 0:
                    self._quiet_since = t
                elif t - self._quiet_since >= tn.REP_MIN_MS:
                    self._seat_tmp = False
            else:
                self._quiet_since = -1
            if self._seat_tmp:
                # still settling into the posture: the body coming to rest
                # anywhere near the provisional seat is the start position
                self._spell(t, ux, uy, uz)
                sp = self._sp
                if sp[4] * self.frame_ms >= tn.SEAT_SPELL_MS:
                    self._seat_at_spell()
                    return
            # the baseline follows the resting position, but only slowly
            # toward the side the reps go, so the start of each slow rep
            # cannot drag it along
            k = tn.BASE_SHIFT
            if ap >= ar:
                if pitch * self._dir_p > 0:
                    k += tn.BASE_TOWARD_SHIFT
                    if self._set_kind != E.K_NONE:
                        # (a set's reps held long, with short rests between,
                        # dragged it over: 4 deg pelvic tilts came to read 2.6)
                        k += tn.BASE_TOWARD_SHIFT
            elif roll * self._dir_r > 0:
                k += tn.BASE_TOWARD_SHIFT
            if dev >= tn.REP_LO_MILLI:
                # away from rest but no rep yet: a weak side of alternating
                # reps must not pull the baseline over to it
                k += tn.BASE_BAND_SHIFT
            lp3(b, ux, uy, uz, k)
            # (x16, each step rounds down: a gap toward +x/+y/+z under
            # 2**k / 16 mg (32-512 mg at k 9-13) never closes, while one the
            # other way always creeps 1/16 mg a frame.  A precise baseline
            # (x256) was measured: leg raise sets gain, but bird dog sets are
            # lost whole as it drifts toward their held tops; these rules are
            # tuned with the step as it is)
            hi = self._rep_hi(p, ap >= ar and pitch > 0)
            ref = 0
            if self._set_kind != E.K_NONE and self._set_reps >= 2:
                ref = self._pk16 >> 4
            elif self._pend_n and t - self._pend_t[self._pend_n - 1] < tn.REP_MAX_MS:
                ref = self._prev_pk
            if ref:
                # inside a set the same move is repeated in a rhythm: a rep a
                # good deal smaller than the set's usual (or than the one
                # that may have begun it), in time, is still one (breathing
                # and noise stay far below REP_SET_MIN_MILLI)
                h = ref * tn.REP_SET_HI_PCT // 100
                if h < tn.REP_SET_MIN_MILLI:
                    h = tn.REP_SET_MIN_MILLI
                if h < hi:
                    hi = h
            if dev > hi:
                sp = self._sp
                if self._seat_tmp and p == E.P_SUPINE and sp[4] * self.frame_ms >= tn.SEAT_STOP_MS:
                    # still settling in on the back, and the first rep leaves
                    # from where the body stopped a moment: that is its start,
                    # not where the posture settled (the body drifts on into
                    # place after lying down, and may begin before it rests a
                    # SEAT_SPELL_MS).  (Face down a stop may be lying before
                    # getting onto all fours, the same posture: not there)
                    self._seat_at_spell()
                    self._last_quiet_t = t
                    return
                self._ex_active = True
                self._ex_set(self._last_quiet_t, 0, 0)
                # inside a set the reps may be held (a bird dog for 5-10 s):
                # only outside one is a long still spell soon a new position
                self._hold_ext = tn.REP_SET_HOLD_EXTRA_MS if (self._set_kind != E.K_NONE
                                                             and self._set_reps >= 2) else 0
                self.holds.lift_mm = -1
                self._dmax = 0
                self._quiet_since = -1
                self._ex_sign = 0
                self._bst[0] = 0
                self._sh[11] = -1
                self._sh[14] = self._sh[19] = 0
                self._spell_reset(t, ux, uy, uz)
            else:
                return
        self._spell(t, ux, uy, uz)
        ext = self._ext_ms()
        held = t - self._sp[0] > tn.REP_HOLD_MAX_MS + ext
        if self._sh[11] >= 0:
            self._shadow(t, ux, uy, uz, p == E.P_PRONE)
        if held or (self._seat_tmp and self._sp[4] * self.frame_ms >= tn.REST_SPELL_MS):
            sh = self._sh
            keep = held and not self._seat_tmp and self._dmax * 100 >= (self._pk16 >> 4) * tn.REP_SET_HOLD_PCT
            # (unless the body soon comes back: then it was a rep held long;
            # one far smaller than the reps here is not one)
            if self._seat_tmp and sh[11] == 1:
                # settling in, the body rested a moment (SEAT_SPELL_MS) before
                # going on here: this may be the first rep's top, held (a
                # bird dog), and that moment the start position.  Coming back
                # there soon says so: the rep measured from it counts
                self._ex_set(sh[12], sh[6], sh[7])
                self._dmax = sh[10]
                s = self._bst
                bx = s[1] // s[0]
                by = s[2] // s[0]
                bz = s[3] // s[0]
                keep = True
            if keep:
                hl = self._held
                self._ex_keep(hl, 0)
                hl[6] = bx
                hl[7] = by
                hl[8] = bz
            # still away from the start for longer than any rep holds: the
            # body has moved to a new position (onto the knees, down from a
            # plank); that is where reps start from now
            self._seat_at_spell()
            self._ex_active = False
            self._last_quiet_t = t
            return
        if pitch > self._pmax:
            self._pmax = pitch
        if pitch < self._pmin:
            self._pmin = pitch
        if roll > self._rmax:
            self._rmax = roll
        if roll < self._rmin:
            self._rmin = roll
        # cat-cow swings straight through neutral: a sign change of the
        # dominant pitch past the threshold closes one excursion and opens the next
        hi = tn.REP_HI_MILLI
        if p == E.P_PRONE and ap >= ar and ap > hi:
            sgn = 1 if pitch > 0 else -1
            if self._ex_sign == 0:
                self._ex_sign = sgn
            elif sgn != self._ex_sign:
                self._ex_end(t, True)
                self._ex_active = True
                self._ex_set(t, pitch, roll)
                self._dmax = dev
                self._ex_sign = sgn
                self._quiet_since = -1
                return
        # back near the start: within REP_LO, or within a share of a big
        # rep's peak (the body often settles a little off where it began)
        # (pitch reps only: rolls swing through the middle to the other side)
        pk = self._pmax
        if -self._pmin > pk:
            pk = -self._pmin
        rk = self._rmax if self._rmax > -self._rmin else -self._rmin
        if dev > self._dmax:
            self._dmax = dev
        # (face down the body rests between reps further off where it began,
        # the more so the quicker they come)
        lo = self._dmax * (tn.REP_RETURN_PCT if p != E.P_PRONE else tn.REP_RETURN_PRONE_PCT) // 100 if pk > rk else 0
        if lo < tn.REP_LO_MILLI:
            lo = tn.REP_LO_MILLI
        if dev < lo:
            if self._quiet_since < 0:
                self._quiet_since = t
            elif t - self._quiet_since >= tn.REP_QUIET_MS:
                self._ex_end(self._quiet_since, False)
                self._ex_active = False
                self._last_quiet_t = t
                # it rested a while part way out before going on to its peak:
                # the baseline was not where the body rests (lying face down,
                # then up onto all fours: the same posture), that place is
                s = self._bst
                n = s[0]
                if n and not s[5] and not self.holds.on:
                    d1 = (by * s[3] - bz * s[2]) // (1000 * n)
                    d2 = (bz * s[1] - bx * s[3]) // (1000 * n)
                    d = isqrt(d1 * d1 + d2 * d2)
                    if d >= self._rep_hi(p) and 2 * d <= self._dmax:
                        _seat(b, s[1], s[2], s[3], n)
        else:
            self._quiet_since = -1
        if self._ex_active and t - self._ex_start > tn.REP_MAX_MS + ext:
            self._reseat(t, ux, uy, uz)

    def _held_back(self, t, ux, uy, uz):
        """After a departure that stayed away longer than a rep holds: is the
        body back where it left (within REP_LO) before a rep would be over?
        Then that was a rep held long (a slow first bird dog, before a set
        allows its reps their hold): the old seat and the rep come back."""
        hl = self._held
        if t - hl[0] > self.tun.REP_MAX_MS:
            hl[0] = -1
            return False
        # (the same small-angle tilt as _excursion, from the seat it left)
        d1 = (hl[7] * uz - hl[8] * uy) // 1000
        d2 = (hl[8] * ux - hl[6] * uz) // 1000
        if isqrt(d1 * d1 + d2 * d2) >= self.tun.REP_LO_MILLI:
            return False
        b = self._b16
        b[0] = hl[6] << 4
        b[1] = hl[7] << 4
        b[2] = hl[8] << 4
        self._ex_take(hl, 0)
        hl[0] = -1
        self._ex_active = False
        self._quiet_since = t
        self._last_quiet_t = t
        self._spell_reset(t, ux, uy, uz)
        self._ex_end(t, False)
        return True

    def _reseat(self, t, ux, uy, uz):
        b = self._b16
        # a long departure: the baseline was not where the body rests
        # (it settled mid-move after lying down, or the wearer shifted).
        # The resting position is the first place the body stayed still
        # (REST_SPELL_MS, or SEAT_SPELL_MS when there was none: not in a
        # hold, whose short spells are moments of its sway); reps made from
        # there since are counted.
        self._spell_close()
        self._ex_active = False
        self._last_quiet_t = t
        s = self._bst
        if s[0] == 0 or (s[5] and self.holds.on):
            _seat(b, ux, uy, uz, 1)
            return
        _seat(b, s[1], s[2], s[3], s[0])
        self._last_quiet_t = self._sh[13]   # a rep under way goes on from there
        sh = self._sh
        # the whole reps made from the resting spell (the last two): count them
        if sh[19]:
            sh[19] = 0
            self._replay(sh[15], sh[16], sh[17], sh[18])
        if sh[14]:
            sh[14] = 0
            self._replay(sh[0], sh[1], sh[2], sh[3])

    def _replay(self, start, end, p, r):
        self._ex_set(start, p, r)
        self._ex_end(end, False)

    def _shadow(self, t, ux, uy, uz, prone):
        """While a departure may be a bad baseline: reps measured from its
        first resting spell instead (sh: done rep start, end, pitch, roll at
        its peak; ...; current peak pitch, roll, tilt at 6, 7, 10; state 11,
        start 12, last quiet 13, done 14; the done rep before it at 15-18,
        done 19)."""
        b = self._bst
        n = b[0]
        bx = b[1] // n
        by = b[2] // n
        bz = b[3] // n
        roll = (by * uz - bz * uy) // 1000
        pitch = (bz * ux - bx * uz) // 1000
        if prone:
            pitch = -pitch
            roll = -roll
        dev = isqrt(pitch * pitch + roll * roll)
        lo = self.tun.REP_LO_MILLI
        sh = self._sh
        if sh[11] == 0:
            if dev < lo:
                sh[13] = t
            elif dev > self._rep_hi(self.posture):
                sh[11] = 1
                sh[12] = sh[13]
                sh[10] = 0
            return
        if dev > sh[10]:
            sh[10] = dev
            sh[6] = pitch
            sh[7] = roll
        if dev < lo:
            if sh[14]:
                sh[15] = sh[0]
                sh[16] = sh[1]
                sh[17] = sh[2]
                sh[18] = sh[3]
                sh[19] = 1
            sh[0] = sh[12]
            sh[1] = t
            sh[2] = sh[6]
            sh[3] = sh[7]
            sh[14] = 1
            sh[11] = 0
            sh[13] = t

    def _spell_reset(self, t, ux, uy, uz):
        sp = self._sp
        sp[0] = sp[8] = t
        sp[1] = ux
        sp[2] = uy
        sp[3] = uz
        sp[4] = sp[5] = sp[6] = sp[7] = 0

    def _spell(self, t, ux, uy, uz):
        # a still spell: gravity staying inside a small cone around where it began
        sp = self._sp
        if abs(ux - sp[1]) + abs(uy - sp[2]) + abs(uz - sp[3]) > self.tun.REST_SPELL_MILLI:
            self._spell_close()
            self._spell_reset(t, ux, uy, uz)
        sp[4] += 1
        sp[5] += ux
        sp[6] += uy
        sp[7] += uz
        sp[8] = t

    def _seat_at_spell(self):
        # the start position is where the body is still now (the current
        # still spell's mean), no longer provisional
        sp = self._sp
        _seat(self._b16, sp[5], sp[6], sp[7], sp[4])
        self._seat_tmp = False

    def _ext_ms(self):
        # a held rep reaches the size of the set's reps; a smaller departure
        # that stays is the body settling into a new position
        if self._dmax * 100 < (self._pk16 >> 4) * self.tun.REP_SET_HOLD_PCT:
            return 0
        return self._hold_ext

    def _spell_close(self):
        # the first long still spell is kept: after lying down or a shift the
        # body first comes to rest where it stays, and reps start from there.
        # Until there is one, the first short one stands in: a set begun soon
        # after getting onto all fours rested there less than REST_SPELL_MS,
        # and the body is nowhere nearer its rest once the reps are going
        sp = self._sp
        b = self._bst
        ms = sp[4] * self.frame_ms
        if ms < self.tun.SEAT_SPELL_MS or (b[0] and (not b[5] or ms < self.tun.REST_SPELL_MS)):
            return
        b[5] = 1 if ms < self.tun.REST_SPELL_MS else 0
        b[0] = sp[4]
        b[1] = sp[5]
        b[2] = sp[6]
        b[3] = sp[7]
        b[4] = sp[8]
        sh = self._sh
        sh[11] = sh[14] = sh[19] = 0
        sh[13] = sp[8]

    def _swing_half(self, sw):
        # judge the kept excursion as the swung-through half it was, then go
        # on with the one that followed it
        tmp = self._ex_tmp
        self._ex_keep(tmp, 0)
        t_end = sw[0]
        sw[0] = -1
        self._ex_take(sw, 1)
        self._ex_end(t_end, True)
        self._ex_take(tmp, 0)

    def _ex_keep(self, v, i):
        """Put the excursion so far aside in v[i:i + 6]: its start, pitch
        max/min, roll max/min and largest tilt (_ex_take brings it back)."""
        v[i] = self._ex_start
        v[i + 1] = self._pmax
        v[i + 2] = self._pmin
        v[i + 3] = self._rmax
        v[i + 4] = self._rmin
        v[i + 5] = self._dmax

    def _ex_take(self, v, i):
        self._ex_start = v[i]
        self._pmax = v[i + 1]
        self._pmin = v[i + 2]
        self._rmax = v[i + 3]
        self._rmin = v[i + 4]
        self._dmax = v[i + 5]

    def _ex_end(self, t_end, split):
        tn = self.tun
        dur = t_end - self._ex_start
        sw = self._swing
        # a pitch excursion face down (the kind a cat-cow's halves are), and its way
        way = 0
        if self.posture == E.P_PRONE and self._pmax - self._pmin > self._rmax - self._rmin:
            way = 1 if self._pmax > -self._pmin else -1
        if way and sw[8] == -way and self._ex_start - sw[7] <= tn.REP_SWING_GAP_MS:
            # the other way right after a pitch excursion: the two are the
            # halves of a swing, each as short as a swung-through half may be
            split = True
            if sw[0] >= 0:
                self._swing_half(sw)
        sw[0] = -1
        sw[7] = t_end
        sw[8] = way
        if dur < tn.REP_MIN_MS // (2 if split else 1) or dur > tn.REP_MAX_MS + self._ext_ms():
            if not split and way and 2 * dur >= tn.REP_MIN_MS:
                sw[0] = t_end
                self._ex_keep(sw, 1)
            return
        pk_p = self._pmax if self._pmax > -self._pmin else self._pmin
        pk_r = self._rmax if self._rmax > -self._rmin else self._rmin
        ap = abs(pk_p)
        ar = abs(pk_r)
        # reps going one way again and again: remember that way (to and fro: none)
        if ap >= ar:
            d = 1 if pk_p > 0 else -1
            self._dir_p = d if d == self._last_p else 0
            self._last_p = d
        else:
            d = 1 if pk_r > 0 else -1
            self._dir_r = d if d == self._last_r else 0
            self._last_r = d
        pk = ap if ap > ar else ar
        if pk > tn.REP_MAX_MILLI:
            return
        if (self._dmax <= self._rep_hi(self.posture, ap >= ar and pk_p > 0)
                and t_end - self._last_rep_t > 2 * self._rep_iv):
            return      # a small one out of the set's rhythm: a fidget
        if self._set_kind != E.K_NONE and self._pk16 and pk * 100 > (self._pk16 >> 4) * tn.REP_SET_MAX_PCT:
            return      # far bigger than the set's reps: propping up, shifting, not one of them
        way = d if ap >= ar else 2 * d
        if (way == self._prev_way and t_end - dur - self._prev_end < tn.REP_WOBBLE_MS
                and pk * 100 < self._prev_pk * tn.REP_SET_HI_PCT):
            # far smaller than the rep just before and the same way, right
            # after it: the body settling (alternating reps may differ in size)
            return
        self._prev_end = t_end
        self._prev_pk = pk
        self._prev_way = way
        # the usual size of the reps here (a set's small ones are judged by it)
        if self._pk16:
            self._pk16 += ((pk << 4) - self._pk16) >> 2
        else:
            self._pk16 = pk << 4
        side = E.SIDE_NONE
        roll_dom = ar * 100 > ap * tn.ROLL_DOMINANCE_PCT
        if self.posture == E.P_PRONE:
            # face down the kind shows in the pattern of a set, not in one rep:
            # remember the excursion's axis and direction
            if roll_dom:
                self._rep_candidate(t_end, _K_FACEDOWN, _SHAPE_ROLL_POS if pk_r > 0 else _SHAPE_ROLL_NEG, dur, asin_ddeg(ar), pk_p)
            else:
                self._rep_candidate(t_end, _K_FACEDOWN, _SHAPE_PITCH_POS if pk_p > 0 else _SHAPE_PITCH_NEG, dur, asin_ddeg(ap), pk_p)
            return
        if roll_dom:
            rng = ar
            side = E.SIDE_LEFT if pk_r > 0 else E.SIDE_RIGHT
            kind = E.K_KNEE_TWIST
        else:
            rng = ap
            # hip extension lifts the hips and tips the head end of the
            # pelvis down, far; a pelvic tilt is a small rotation, either
            # way depending on where the belt sits on the lumbar curve, and
            # lifts the pelvis little: where the way up to the top was
            # measured, the lift decides
            lift = self.holds.lift_mm
            kind = E.K_PELVIC_TILT
            if pk_p > 0 and (lift >= tn.BRIDGE_LIFT_MM or ap >= tn.BRIDGE_SURE_MILLI
                             or (lift < 0 and ap >= tn.BRIDGE_MIN_MILLI)):
                kind = E.K_BRIDGE
        self._rep_candidate(t_end, kind, side, dur, asin_ddeg(rng), pk_p)

    # -------------------------------------------------------------- lunges
    def _lunge(self, t, av, motion):
        # leaky double integration of the vertical acceleration -> pelvis height (mm)
        lg = self._lg
        if self.posture != E.P_UPRIGHT:
            self._vel16 = self._pos16 = 0
            self._av16 = 1000 << 4         # at rest the vertical specific force is 1 g
            lg[_LG_STATE] = lg[_LG_HI] = lg[_LG_SEAT] = lg[_LG_STILL] = 0
            return
        if not lg[_LG_SEAT]:
            # until the body first stands still after getting up, "1 g" is a
            # guess: a real accelerometer reads 0.94-1.04 g standing, and 30 mg
            # off drifts the height 15 cm in 1.5 s, more than a lunge's drop
            # (the first lunge was lost in it)
            lg[_LG_STILL] = lg[_LG_STILL] + 1 if motion < _SEAT_STILL_MG else 0
            if lg[_LG_STILL] * self.frame_ms >= _SEAT_STILL_MS:
                # standing still: the pelvis is not moving (a zero-velocity
                # update), the sensor reads its 1 g, and the height starts here
                lg[_LG_SEAT] = 1
                self._av16 = av << 4
                self._vel16 = self._pos16 = 0
                lg[_LG_STATE] = lg[_LG_HI] = 0
        self._av16 += ((av << 4) - self._av16) >> 6
        a = av - (self._av16 >> 4)                      # mg, gravity removed
        # v += a * g * dt ; dt = FRAME_MS
        self._vel16 += a * _G_MM_S2 * self.frame_ms // 62500   # (x16 /1000 mg->g, /1000 ms->s)
        k = self.tun.LUNGE_LEAK_SHIFT
        self._vel16 -= self._vel16 >> k
        self._pos16 += self._vel16 * self.frame_ms // 1000
        self._pos16 -= self._pos16 >> k
        pos = self._pos16 >> 4
        tn = self.tun
        # the leaky estimate wanders, so a lunge is a swing: a drop from the
        # recent high, then a rise from the low
        if lg[_LG_STATE] == 0:
            if pos >= lg[_LG_HI]:
                lg[_LG_HI] = pos
            else:
                lg[_LG_HI] -= (lg[_LG_HI] - pos) >> 5
            if pos > lg[_LG_HI] - (tn.LUNGE_DROP_MM >> 2) or self._vel16 >= 0:
                lg[_LG_START] = t       # still up there, or not going down: the drop has not begun
            if pos < lg[_LG_HI] - tn.LUNGE_DROP_MM:
                lg[_LG_STATE] = 1
                lg[_LG_MIN] = pos
                lg[_LG_TOP] = lg[_LG_HI]
                lg[_LG_LOW_T] = t
        else:
            if pos < lg[_LG_MIN]:
                lg[_LG_MIN] = pos
            if pos > lg[_LG_MIN] + tn.LUNGE_RISE_MM:
                lg[_LG_STATE] = 0
                lg[_LG_HI] = pos
                dur = t - lg[_LG_START]
                lg[_LG_START] = t
                swing = lg[_LG_TOP] - lg[_LG_MIN]      # how deep it went
                # walking bounces the pelvis too: mid-walk only a deep drop is
                # a lunge; and a lunge comes back up about as far as it went
                # down (a rise of over twice a shallow dip is the end of the
                # last one, the leaky height overshooting)
                # (nor one far shallower than the set's lunges: the leaky
                # height settling after the last; nor, across a hole, one in a
                # walk or deeper than a lunge: a straight line through a
                # missing bounce, +-0.5 g at 2 Hz, is a swing of its own, up to
                # a metre; these end no walk; nor one through which the walk
                # took more steps than a lunge has: the leaky height drifting
                # over the first seconds of a walk)
                sw = lg[_LG_SWING]
                if (tn.LUNGE_MIN_MS <= dur <= tn.LUNGE_MAX_MS and swing * 2 >= tn.LUNGE_RISE_MM
                        and (lg[_LG_HOLE] + _HOLE_SETTLE_MS < t - dur or (swing <= _LUNGE_MAX_MM and not self.steps.walking))
                        and (self._set_kind != E.K_LUNGE or swing * 100 >= sw * _LUNGE_SET_PCT)
                        and self.steps.steps_since(t - dur) < _LUNGE_WALK_STEPS):
                    striding = self.steps.striding_at(t - dur)
                    since = t - dur
                    pl = self._pend[0] if self._pend_n else None
                    if (striding and pl is not None and pl[1] == E.K_LUNGE and self.steps.walk_start >= pl[5]
                            and since - pl[0] <= tn.LUNGE_MAX_MS and swing * 100 >= pl[4] * _LUNGE_NEXT_PCT):
                        # the walk began after the lunge just before this one
                        # did: its steps were the lunges' own, out and back
                        # (if this one goes nearly as deep: a dip under half
                        # as deep is the walk's first bounces, and the one
                        # before was the start of walking read as a lunge)
                        striding = False
                        since = pl[5]
                    if not striding and self.steps.walking:
                        # standing still before it (a walk stays open through
                        # a stop): its steps are not the walk's, which ends there
                        self.steps.cancel(since)
                    if not striding or swing >= tn.LUNGE_RISE_WALK_MM:
                        lg[_LG_SWING] = swing if sw == 0 else sw + ((swing - sw) >> 2)
                        self._rep_candidate(t, E.K_LUNGE, E.SIDE_NONE, dur, swing)
            elif t - lg[_LG_LOW_T] > tn.LUNGE_MAX_MS:
                # (timed from the real drop: the leaky height's slow sag
                # before it is not part of the lunge)
                lg[_LG_STATE] = 0
                lg[_LG_HI] = pos
                lg[_LG_START] = t

    # ---------------------------------------------------------------- sets
    def _rep_candidate(self, t_end, kind, side, dur, rng, pitch=0):
        tn = self.tun
        lifted = False
        if self.holds.on:
            if self._dmax <= tn.REP_HI_MILLI and (kind != _K_FACEDOWN or side != _SHAPE_PITCH_POS):
                return      # (only a head-end-down tip passes the lower bar in a hold)
            if self.holds.basis != rb_hold.B_EFFORT:
                # held up off the floor: its sag or wobble is not a rep, unless
                # such excursions keep coming like a set's (a lift measured
                # on the way down into a leg raise set made it look like a plank)
                if self._set_kind != E.K_NONE:
                    return
                lifted = True
            elif self._dmax <= tn.REP_HI_MILLI:
                # a small one, under the general bar: a leg lift's or the
                # hold's own wobble; such ones coming like a set's show it was none
                lifted = True
            else:
                # tremor alone made it a hold, and reps are going on: the hold
                # ended where this excursion began
                self.holds.end(t_end - dur)
        if self._set_kind != E.K_NONE:
            if self._compatible(kind, side, pitch):
                if self._set_kind == E.K_LEG_RAISE and side >= _SHAPE_ROLL_POS:
                    # a leg raise rolls the pelvis and raises its head end; a
                    # roll that barely raises it (getting up, reaching) is not one
                    sp = self._set_pitch16
                    if sp < 0 and pitch * 100 * 16 > sp * tn.LEG_RAISE_PITCH_PCT:
                        return
                    self._leg_raise_pitch(pitch)
                self._count(t_end, kind, side, dur, rng, pitch)
                return
            self._end_set(t_end)
        # pending: like reps confirm a set
        if self._pend_n and self._pend[0][1] != kind and not (
                kind == E.K_PELVIC_TILT and self._pend[0][1] == E.K_BRIDGE):
            # (a shallow one after a bridge may be a bridge set's small rep:
            # the majority decides; a shallow one before it is settling in)
            self._pend_n = 0
        if self._pend_n >= len(self._pend):
            self._pend_n = 0
        rec = (t_end, kind, side, dur, rng, t_end - dur, pitch)
        self._pend[self._pend_n] = rec
        self._hist[self._hist_i] = rec
        self._hist_i = (self._hist_i + 1) & (_HIST_N - 1)
        self._pend_t[self._pend_n] = t_end
        self._pend_n += 1
        if kind == _K_FACEDOWN and self._pend_n >= 2:
            a = self._pend[self._pend_n - 2][2]
            if (a <= _SHAPE_PITCH_NEG) != (side <= _SHAPE_PITCH_NEG):
                # a pitch and a roll: one of them is a fidget; the newer one may start a set
                self._pend[0] = self._pend[self._pend_n - 1]
                self._pend_t[0] = self._pend_t[self._pend_n - 1]
                self._pend_n = 1
        need = tn.SET_CONFIRM_REPS
        if lifted:
            need = tn.HOLD_BREAK_REPS
        elif ((kind == _K_FACEDOWN and side >= _SHAPE_ROLL_POS) or kind == E.K_KNEE_TWIST) and self._pend[0][2] == side:
            # rolls the same way: shifting the weight looks like that; alternating
            # sides or pitching reps show a set sooner
            need = tn.SET_CONFIRM_ROLLS
        elif self.hint_kind != E.K_NONE and (self.hint_kind == kind or
                                             (kind == _K_FACEDOWN and self.hint_kind in FACEDOWN_KINDS)):
            need = 1
        elif kind == _K_FACEDOWN and self._pend_n >= 2 and self._facedown_kind() == E.K_CAT_COW:
            # pitching one way and back is half a cat-cow rep each: a set of them
            # is believed after as many whole reps as any other (one pitch down
            # and up again is also how a plank is left)
            need = 2 * tn.SET_CONFIRM_REPS
        if self._pend_n >= need:
            if lifted:
                self.holds.cancel()
            self._start_set()

    def _compatible(self, kind, shape, pitch):
        sk = self._set_kind
        if pitch * self._set_way < 0 and (
                sk == E.K_BRIDGE or sk == E.K_PELVIC_TILT or
                ((sk == E.K_LEG_RAISE or sk == E.K_BIRD_DOG) and kind == _K_FACEDOWN and shape <= _SHAPE_PITCH_NEG)):
            return False    # a tip the other way from the set's reps: propping up, sitting up
        if sk == kind:
            return True
        if kind == _K_FACEDOWN and sk in FACEDOWN_KINDS:
            # (a roll is no half of a cat-cow: the first bird dog after them)
            return sk != E.K_CAT_COW or shape <= _SHAPE_PITCH_NEG
        # a bridge set tolerates a shallow rep and vice versa
        if (sk == E.K_BRIDGE and kind == E.K_PELVIC_TILT) or (sk == E.K_PELVIC_TILT and kind == E.K_BRIDGE):
            return True
        return False

    def _start_set(self):
        first = self._pend[0]
        kind = first[1]
        if kind == _K_FACEDOWN:
            kind = self._facedown_kind()
        if kind in (E.K_BRIDGE, E.K_PELVIC_TILT):
            # the set's kind follows the majority depth of its first reps
            nb = 0
            for i in range(self._pend_n):
                if self._pend[i][1] == E.K_BRIDGE:
                    nb += 1
            kind = E.K_BRIDGE if nb * 2 >= self._pend_n else E.K_PELVIC_TILT
        self._set_kind = kind
        self._set_way = first[6]
        early = self._left_out(first)
        if early:
            first = early[0]
        self._set_no += 1
        self._set_reps = 0
        self._set_start = first[5]
        self._half = None
        self.emit((E.EV_SET_START, first[0], kind, self._set_no, self._set_start, 0, 0, 0))
        n = self._pend_n
        self._pend_n = 0
        self._set_pitch16 = 0
        ne = len(early) if early else 0
        for i in range(ne + n):
            p = early[i] if i < ne else self._pend[i - ne]
            if kind == E.K_LEG_RAISE and p[2] >= _SHAPE_ROLL_POS:
                self._leg_raise_pitch(p[6])
            self._count(p[0], p[1], p[2], p[3], p[4], p[6])
        self._clear_hist()

    def _left_out(self, first):
        """The set's first reps that were left out of its pending ones, oldest
        first (None: none).  Face down a pitch-led rep next to a rolling one
        was taken for a fidget, and a bridge's shallow first rep for settling
        in; once the set is sure, the candidates just before it that lead up
        to it in its own rhythm and fit it are its reps."""
        if self._set_kind == E.K_CAT_COW or self._pend_n < 2:
            return None
        lim = (self._pend[1][0] - self._pend[0][0]) * 3 // 2
        nxt = first[0]
        found = None  # type: list | None
        for age in range(1, _HIST_N + 1):
            c = self._hist[(self._hist_i - age) & (_HIST_N - 1)]
            if c is None or c[0] >= first[0]:
                continue        # (one of the pending ones)
            if nxt - c[0] > lim or not self._compatible(c[1], c[2], c[6]):
                break
            if found is None:
                found = []
            found.insert(0, c)
            nxt = c[0]
        return found

    def _clear_hist(self):
        h = self._hist
        for i in range(_HIST_N):
            h[i] = None

    def _leg_raise_pitch(self, pitch):
        # the set's usual pitch at a rolling rep's peak: its first, then a running mean
        sp = self._set_pitch16
        self._set_pitch16 = (pitch << 4) if sp == 0 else sp + (((pitch << 4) - sp) >> 2)

    def _facedown_kind(self):
        if self.hint_kind in FACEDOWN_KINDS:
            return self.hint_kind
        a = self._pend[0][2]
        b = self._pend[1][2] if self._pend_n > 1 else a
        if a == b and (a <= _SHAPE_PITCH_NEG or self._pend[self._pend_n - 1][2] == a):
            return E.K_LEG_RAISE
        if a <= _SHAPE_PITCH_NEG:
            return E.K_CAT_COW
        # rolls side to side.  On all fours a lifted leg can only tip the
        # pelvis head end down (hip extension pulls it into anterior tilt);
        # the head end rises with the sides only when the chest comes up off
        # the floor too: the prone alternating arm-leg lift.  And after the
        # body was seen lying down onto the floor, no hands and knees: a
        # single-leg lift lying face down tips the head end down too
        tilt = 0
        for i in range(self._pend_n):
            tilt += self._pend[i][6]
        return E.K_LEG_RAISE if tilt < 0 or self.holds.lying else E.K_BIRD_DOG

    def _count(self, t_end, kind, side, dur, rng, pitch):
        sk = self._set_kind
        shape = side
        if kind == _K_FACEDOWN:
            # shape code -> body side where it means one
            side = E.SIDE_LEFT if side == _SHAPE_ROLL_POS else (E.SIDE_RIGHT if side == _SHAPE_ROLL_NEG else E.SIDE_NONE)
        if sk == E.K_LUNGE:
            # stepping into and out of lunges is not a walk (one before them was)
            self.steps.cancel(t_end - dur)
        if sk == E.K_CAT_COW:
            if self._half is None:
                self._half = (t_end, dur, rng, shape, pitch)
                return
            h = self._half
            self._half = None
            dur = dur + (t_end - dur - h[0]) + h[1]
            rng = rng + h[2]
            side = E.SIDE_NONE
        self._set_reps += 1
        self._rep_iv = t_end - self._last_rep_t
        self._last_rep_t = t_end
        self._last_rep_end = t_end
        self.emit((E.EV_REP, t_end, sk, self._set_reps, self._set_no, dur, rng, side))

    def _end_set(self, t):
        if self._set_kind == E.K_NONE:
            return
        if self._set_reps:
            self.emit((E.EV_SET_END, t, self._set_kind, self._set_no, self._set_reps,
                       self._set_start, self._last_rep_end, 0))
        self._set_kind = E.K_NONE
        self._set_reps = 0
        h = self._half
        self._half = None
        if h is not None:
            # a cat-cow's first half after the set's last rep, and then a long
            # rest: it began the next set (two sets with a short rest between)
            self._pend[0] = (h[0], _K_FACEDOWN, h[3], h[1], h[2], h[0] - h[1], h[4])
            self._pend_t[0] = h[0]
            self._pend_n = 1
        # a departure under way is no longer one of the set's held reps: past
        # REP_MAX_MS it is the body resting somewhere new (a shift after the
        # last rep), and the reps after it start from there
        self._hold_ext = 0

def _seat(b, sx, sy, sz, n):
    """The rep baseline (x16) at the mean of n directions summed in sx, sy, sz."""
    b[0] = (sx // n) << 4
    b[1] = (sy // n) << 4
    b[2] = (sz // n) << 4


def _drop(ev):
    pass
