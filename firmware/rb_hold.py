"""Holds: plank, side plank and cobra, with sway, stability and drift (part of the detection core).

The engine hands every 40 ms frame over (body axes, milli-g).  A hold is a
still spell in a face-down or side posture that is held with effort:

1. Still spells and transits.  Only low-frequency movement is a transit:
   the body tilting away from the spell's own slowly drifting gravity (by
   more than the hold's own sway), or the pelvis accelerating up or down
   (|f| - 1 g smoothed over ~0.16 s).  Muscle tremor (5-12 Hz) is neither,
   so a shaky hold stays one spell.  A spell begins once gravity has stayed
   in a small cone for HOLD_SPELL_MS.
2. The way in.  |f| of the last FB_N frames is kept.  When a spell
   begins, the transit that led into it is double-integrated against a
   baseline drawn from the |f| level before and after it: how far the
   pelvis went up or down (a plank lifts it 15-30 cm from lying, a cobra
   leaves it on the floor).  The change of head-end incline across the
   transit is kept too (a chest-up cobra raises it).  A transit that was a
   change of posture says nothing of either.
3. Evidence.  A spell is a hold once it has lasted HOLD_CONFIRM_MS and
   shows effort (tremor above HOLD_TREMOR_PCT of the posture's resting
   level for most of it), or the pelvis was lifted into it by a plank's
   height, or, face down, the head end went up by a cobra's incline.  The
   hold starts where the spell began (where the effort began, if the body
   lay still first) and is announced at HOLD_MIN_MS, so every HOLD_START
   gets its HOLD_END.
4. End: where the transit out of it began; where the tremor of a hold held
   by effort alone fell away; at a posture change or a rep.
5. Kind.  On the side: side plank.  Face down: cobra when the head end
   went up far or the pelvis did not go up into it, otherwise plank.

Sway is the RMS of the acceleration perpendicular to the hold's slowly
drifting gravity; stability = 100 * SWAY_REF / (SWAY_REF + sway); drift is
the change of head-end incline from start to end (sag: +, pike: -).
Integer arithmetic only; nothing is allocated per frame.
"""
import array

import rb_events as E
from rb_fixed import isqrt, asin_ddeg, lp3

FB_N = 128                 # frames of |f| kept for the lift integral (5.1 s)
FLOOR_BLOCK_SHIFT = 6      # the resting tremor: means over blocks of 64 frames (2.6 s) ...
FLOOR_BLOCKS = 48          # ... the lowest of the last 48 blocks (2 minutes)
UNSET = 0x7fffffff
LIFT_LEAD_FRAMES = 4       # the lift is integrated from this long before movement was noticed (it starts gently)
ACT_GAP_FRAMES = 5         # movement goes on through calm gaps shorter than this
SPELL_KEEP_MS = 400        # a spell shorter than this is a pause inside one transit
QUIET_BACK_MS = 1500       # a transit began at most this long before it was noticed
POSTURE_MARGIN_MS = 200
SWAY_MIN_FRAMES = 12       # a spell's own shake of |f| widens its limit once measured over 0.5 s
LIFT_POST_MS = 600         # the lift into a spell is measured this long after it began
G_MM_S2 = 9807             # 1 g in mm/s^2
B_EFFORT = 1               # evidence bits
B_LIFTED = 2
B_INCLINED = 4


class HoldDetector:
    def __init__(self, tun, frame_ms, emit):
        self.tun = tun
        self.frame_ms = frame_ms
        self.emit = emit
        self.hint_kind = E.K_NONE
        self._fb = array.array("h", bytes(2 * FB_N))   # |f| per frame (mg)
        self._fi = 0
        self._fn = 0                # frames in the ring so far (up to FB_N)
        self._blk = array.array("h", bytes(2 * FLOOR_BLOCKS))   # tremor block means, x16 (0: none)
        self._bi = 0
        self._bsum = self._bn = 0
        self.floor16 = 0            # resting tremor: the lowest recent block mean, x16 (0: not known yet)
        self._h16 = [UNSET, 0, 0]   # the spell's slow gravity, x16
        self._an = [0, 0, 0]        # still-cone anchor (unit x1000)
        self._t = 0
        self._ux = 0
        self._posture_t = -100000   # the posture last changed at
        self.reset_motion()
        self._reset_hold()

    def reset_motion(self):
        """The filters restart (a hole in the data, a new mount): no spell, no transit."""
        self._fs16 = 0              # slow |f|, x16 (0: unset)
        self._va16 = 0              # smoothed vertical acceleration, mg x16
        self._sp_on = False
        self._sp_start = 0
        self._sp_frames = 0
        self._eff_frames = 0
        self._eff_t = -1            # effort since (-1: not now)
        self._rest_t = 0            # the tremor last stood at its resting level
        self._an_t = -1             # the still-cone run started at (-1: none)
        self._an_fs = self._an_n = 0    # ... the sum of |f| over it
        self._va_lo = self._va_hi = 0   # ... and the range of va
        self._act_t = -1            # moving since (-1: calm)
        self._gap_n = 0             # calm frames in a row while moving
        self._calm_t = self._t      # last calm frame
        self._quiet_t = self._t     # last frame well inside the calm limits (in a spell)
        self._tr_t = -1             # the transit into the coming spell began at
        self._dz_due = -1           # when to measure the lift into the spell
        self._entry_dz = 0          # the pelvis went up (+) into the spell by, mm
        self._pre_ux = UNSET        # head-end incline before the transit
        self._entry_dux = 0         # ... and how far it went up into the spell
        self._sway_sum = self._sway_n = 0
        self._va_sum = self._va_n = 0   # the spell's own shake of |f| (mean square)
        self._h16[0] = UNSET

    def _reset_hold(self):
        self.on = False
        self.kind = E.K_NONE
        self.start = 0
        self.announced = False
        self._tick = 0
        self._pitch0 = self._pitch = 0
        self._hsum = self._hn = 0
        self._trs = self._trn = 0   # the hold's tremor: sum and frames (x16)
        self._eff_hi_t = 0          # the tremor last stood at the hold's level
        self._low_t = -1            # tremor below the hold's level since
        self.basis = 0             # evidence bits that started it

    # ---------------------------------------------------------------- frame
    def frame(self, t, p, gx, gy, gz, ux, uy, uz, fx, fy, fz, tr16, blocked):
        """One frame: p posture; g* fast gravity (mg) and u* its unit vector
        (x1000); f* the frame's specific force (mg); tr16 the tremor proxy
        (x16, <= 0 when unknown); blocked: a rep set is under way."""
        tn = self.tun
        self._t = t
        self._ux = ux
        fn = isqrt(fx * fx + fy * fy + fz * fz)
        i = self._fi
        self._fb[i] = fn
        self._fi = (i + 1) % FB_N
        if self._fn < FB_N:
            self._fn += 1
        if self._fs16 == 0:
            self._fs16 = fn << 4
        self._fs16 += ((fn << 4) - self._fs16) >> 6
        self._va16 += (((fn << 4) - self._fs16) - self._va16) >> 2
        # -- still spells and transits
        va = self._va16 >> 4
        lim = tn["HOLD_MOVE_MG"]
        if self._va_n >= SWAY_MIN_FRAMES:
            # (a shaky hold shakes |f| too: movement is well beyond its own shake)
            v = isqrt(self._va_sum // self._va_n) * tn["HOLD_TILT_SWAY_X"]
            if v > lim:
                lim = v if v < 4 * lim else 4 * lim
        moving = va > lim or -va > lim
        quiet = 2 * va <= lim and -2 * va <= lim
        if self._sp_on:
            # (never beyond HOLD_TILT_MAX_MG: a slow turn would raise the sway
            # it is measured by as it goes)
            lim = self._sway_rms() * tn["HOLD_TILT_SWAY_X"]
            if lim < tn["HOLD_TILT_MG"]:
                lim = tn["HOLD_TILT_MG"]
            elif lim > tn["HOLD_TILT_MAX_MG"]:
                lim = tn["HOLD_TILT_MAX_MG"]
            tl = self._tilt(gx, gy, gz)
            if tl > lim:
                moving = True
            if 2 * tl > lim:
                quiet = False
        if moving:
            self._gap_n = 0
            if self._act_t < 0:
                self._act_t = t
            if self._sp_on and t - self._act_t >= tn["HOLD_BREAK_MS"]:
                self._spell_end(t)
        else:
            # (a lift or a lowering accelerates, then decelerates: the frames
            # where one turns into the other do not end the movement)
            if self._act_t >= 0:
                self._gap_n += 1
                if self._gap_n >= ACT_GAP_FRAMES:
                    self._act_t = -1
            if self._act_t < 0:
                self._calm_t = t
                if quiet:
                    # (movement starts gently: it is noticed some frames
                    # after it began, but it began after the last quiet frame)
                    self._quiet_t = t
        if not self._sp_on:
            # a spell begins once gravity stays in a small cone and |f|
            # stays level (within twice HOLD_MOVE_MG: a steady offset is the
            # sensor's |f| at its new attitude, a lift or a lowering is not).
            # Its mean |f| is the still level from then on
            an = self._an
            if (self._an_t < 0 or abs(ux - an[0]) + abs(uy - an[1]) + abs(uz - an[2]) > tn["REST_SPELL_MILLI"]
                    or va - self._va_lo > 2 * tn["HOLD_MOVE_MG"] or self._va_hi - va > 2 * tn["HOLD_MOVE_MG"]):
                an[0] = ux
                an[1] = uy
                an[2] = uz
                self._an_t = t
                self._an_fs = self._an_n = 0
                self._va_lo = self._va_hi = va
            if va < self._va_lo:
                self._va_lo = va
            elif va > self._va_hi:
                self._va_hi = va
            self._an_fs += fn
            self._an_n += 1
            if t - self._an_t >= tn["HOLD_SPELL_MS"]:
                self._spell_begin(self._an_t, t, gx, gy, gz)
                self._fs16 = (self._an_fs << 4) // self._an_n
                self._va16 = 0
        if self._sp_on:
            lp3(self._h16, gx, gy, gz, tn["SLOW_SHIFT"])
            self._sp_frames += 1
            if self._dz_due >= 0 and t >= self._dz_due:
                self._measure_lift(t)
        # -- effort: tremor well above the resting level
        eff = keep = False
        if tr16 > 0:
            self._floor(tr16)
            f = self.floor16
            if f:
                eff = tr16 * 100 >= f * tn["HOLD_TREMOR_PCT"]
                keep = eff or tr16 * 100 >= f * tn["HOLD_KEEP_TREMOR_PCT"]
                if tr16 * 100 <= f * tn["HOLD_REST_TREMOR_PCT"]:
                    self._rest_t = t
            if self.hint_kind in E.HOLD_KINDS:
                eff = keep = True
        if self._sp_on and eff:
            self._eff_frames += 1
            if self._eff_t < 0:
                self._eff_t = t
        elif not keep:
            self._eff_t = -1
        if p != E.P_PRONE and p != E.P_SIDE_L and p != E.P_SIDE_R:
            self.end(self._calm_t)
            return
        if not self._sp_on:
            return
        if self._act_t < 0:
            self._sway(t, fx, fy, fz)       # (a movement under way is not sway)
        if self.on:
            self._pitch = ux
            self._in_hold(t, ux, tr16, keep, blocked)
        elif blocked:
            self._restart_spell()   # a rep set: what the spell showed so far was the set
        else:
            self._maybe_start(t, p, ux, tr16)

    def _floor(self, tr16):
        # the resting tremor is the lowest 2.6 s mean of the last two minutes:
        # sensor noise and breathing, whatever the posture; effort, moving
        # and fidgets only ever raise a block's mean
        self._bsum += tr16
        self._bn += 1
        if self._bn < 1 << FLOOR_BLOCK_SHIFT:
            return
        m = self._bsum >> FLOOR_BLOCK_SHIFT
        self._bsum = self._bn = 0
        blk = self._blk
        blk[self._bi] = m if m < 32767 else 32767
        self._bi = (self._bi + 1) % FLOOR_BLOCKS
        lo = m
        for x in blk:
            if 0 < x < lo:
                lo = x
        self.floor16 = lo

    def _tilt(self, gx, gy, gz):
        """Fast gravity's distance from the spell's slow gravity, perpendicular to it (mg)."""
        h = self._h16
        sx = h[0] >> 4
        sy = h[1] >> 4
        sz = h[2] >> 4
        sn = isqrt(sx * sx + sy * sy + sz * sz) or 1
        qv = (gx * sx + gy * sy + gz * sz) // sn
        return abs(gx - qv * sx // sn) + abs(gy - qv * sy // sn) + abs(gz - qv * sz // sn)

    def _sway_rms(self):
        if self.on and self._hn:
            return isqrt(self._hsum // self._hn)
        if self._sway_n:
            return isqrt(self._sway_sum // self._sway_n)
        return 0

    def _spell_begin(self, t0, t, gx, gy, gz):
        self._sp_on = True
        self._sp_start = t0
        self._sp_frames = 0
        self._eff_frames = 0
        self._sway_sum = self._sway_n = 0
        self._va_sum = self._va_n = 0
        h = self._h16
        h[0] = gx << 4
        h[1] = gy << 4
        h[2] = gz << 4
        self._entry_dz = self._entry_dux = 0
        if self._tr_t < 0:
            self._tr_t = t0
        self._dz_due = t + LIFT_POST_MS

    def _measure_lift(self, t):
        """The transit into this spell: how far the pelvis went up (+) or down (mm)."""
        self._dz_due = -1
        fm = self.frame_ms
        dz = self._lift_mm((self._sp_start - self._tr_t) // fm + 1, (t - self._sp_start) // fm + 1)
        dux = self._ux - self._pre_ux if self._pre_ux != UNSET else 0
        if self._posture_t - self.tun["POSTURE_SETTLE_MS"] >= self._tr_t - POSTURE_MARGIN_MS:
            # the body came into this posture during the transit (a posture is
            # settled POSTURE_SETTLE_MS after that): it says nothing
            dz = dux = 0
        self._tr_t = -1
        self._entry_dz = dz
        self._entry_dux = dux

    def _lift_mm(self, n_tr, n_post):
        """Vertical displacement over n_tr transit frames followed by n_post
        still ones: |f| less the still level after it, double-integrated.
        The body is still at both ends, so the velocity left over at the end
        is a level error (the sensor's |f| also shifts a little with its
        attitude; 5 mg would add 10 cm over 2 s): what it added is taken out."""
        n = n_tr + LIFT_LEAD_FRAMES + n_post
        if n > self._fn:
            n = self._fn
        if n <= n_post + 1:
            return 0
        fb = self._fb
        i0 = self._fi - n
        post = 0
        for k in range(n - n_post, n):
            post += fb[(i0 + k) % FB_N]
        post //= n_post
        v = z = 0
        for k in range(n):
            v += fb[(i0 + k) % FB_N] - post
            z += v
        z -= v * n // 2
        # z is mg * frames^2: x 9.807 mm/s^2 per mg x (frame_ms / 1000 s)^2
        return z * G_MM_S2 // 1000 * self.frame_ms * self.frame_ms // 1000000

    def _spell_end(self, t):
        """A transit began: the spell (and a hold in it) ended at the last quiet frame."""
        if self._quiet_t < self._calm_t - QUIET_BACK_MS:
            self._quiet_t = self._calm_t - QUIET_BACK_MS
        if self._sp_frames * self.frame_ms >= SPELL_KEEP_MS or self._tr_t < 0:
            # (after a spell too short to be a position the transit goes on:
            # the lift is measured over all of it)
            self._tr_t = self._quiet_t
            # (the spell's slow gravity: where the body was before it began to move)
            h = self._h16
            sx = h[0] >> 4
            self._pre_ux = sx * 1000 // (isqrt(sx * sx + (h[1] >> 4) * (h[1] >> 4) + (h[2] >> 4) * (h[2] >> 4)) or 1)
        self._sp_on = False
        self._dz_due = -1
        self._an_t = -1
        self._va_sum = self._va_n = 0
        self.end(self._quiet_t)

    def _sway(self, t, fx, fy, fz):
        # acceleration perpendicular to the spell's slow gravity, as a mean of
        # squares (halved together to stay a small int); not while settling in
        if t - self._sp_start < self.tun["SWAY_SETTLE_MS"]:
            return
        h = self._h16
        sx = h[0] >> 4
        sy = h[1] >> 4
        sz = h[2] >> 4
        sn = isqrt(sx * sx + sy * sy + sz * sz) or 1
        hx = fx - sx
        hy = fy - sy
        hz = fz - sz
        hv = (hx * sx + hy * sy + hz * sz) // sn
        hx -= hv * sx // sn
        hy -= hv * sy // sn
        hz -= hv * sz // sn
        q = hx * hx + hy * hy + hz * hz
        self._sway_sum += q
        self._sway_n += 1
        if self._sway_sum > 0x10000000:
            self._sway_sum >>= 1
            self._sway_n >>= 1
        va = self._va16 >> 4
        self._va_sum += va * va
        self._va_n += 1
        if self._va_sum > 0x10000000:
            self._va_sum >>= 1
            self._va_n >>= 1
        if self.on:
            self._hsum += q
            self._hn += 1
            if self._hsum > 0x10000000:
                self._hsum >>= 1
                self._hn >>= 1

    def _evidence(self, p, ux):
        tn = self.tun
        b = 0
        if self._eff_t >= 0 and self._eff_frames * 100 >= self._sp_frames * tn["HOLD_EFFORT_SHARE_PCT"]:
            b |= B_EFFORT
        if tn["HOLD_LIFT_MIN_MM"] <= self._entry_dz <= tn["HOLD_LIFT_MAX_MM"]:
            b |= B_LIFTED       # the pelvis went up into it
        if p == E.P_PRONE and self._entry_dux >= tn["COBRA_MIN_MILLI"]:
            b |= B_INCLINED     # the head end went up into it, far
        return b

    def _maybe_start(self, t, p, ux, tr16):
        tn = self.tun
        if self._dz_due >= 0:
            return                  # the lift into this spell is not measured yet
        if t - self._sp_start < tn["HOLD_CONFIRM_MS"]:
            return
        b = self._evidence(p, ux)
        if not b:
            return
        if p == E.P_SIDE_L or p == E.P_SIDE_R:
            kind = E.K_SIDE_PLANK
        elif self.hint_kind == E.K_COBRA or self.hint_kind == E.K_PLANK:
            kind = self.hint_kind
        elif b & B_INCLINED or not b & B_LIFTED:
            kind = E.K_COBRA        # chest up, or held with the pelvis on the floor
        else:
            kind = E.K_PLANK
        self.on = True
        self.kind = kind
        self.basis = b
        st = self._sp_start
        if b == B_EFFORT and self._rest_t > st:
            st = self._rest_t       # lay still first: the effort began when the tremor left its resting level
        self.start = st
        self._tick = t
        self._pitch0 = self._pitch = ux
        self.announced = False
        self._hsum = self._sway_sum
        self._hn = self._sway_n
        self._trs = tr16
        self._trn = 1
        self._eff_hi_t = t
        self._low_t = -1

    def _in_hold(self, t, ux, tr16, keep, blocked):
        tn = self.tun
        if blocked:
            self.end(self._calm_t)
            return
        if self.basis == B_EFFORT and tr16 > 0:
            # held by effort alone: over when the tremor of effort falls away
            self._trs += tr16
            self._trn += 1
            if self._trn > 4096:
                self._trs >>= 1
                self._trn >>= 1
            lvl = self._trs // self._trn
            if keep and tr16 * 100 >= lvl * tn["HOLD_END_TREMOR_PCT"]:
                self._low_t = -1
                if tr16 * 100 >= lvl * tn["HOLD_LEVEL_PCT"]:
                    self._eff_hi_t = t
            else:
                if self._low_t < 0:
                    self._low_t = t
                if t - self._low_t >= tn["HOLD_BREAK_MS"]:
                    self.end(self._eff_hi_t)
                    return
        if not self.announced:
            if t - self.start < tn["HOLD_MIN_MS"]:
                return
            self.announced = True
            self.emit((E.EV_HOLD_START, t, self.kind, self.start, 0, 0, 0, 0))
            return
        if t - self._tick >= tn["HOLD_TICK_MS"]:
            self._tick = t
            sw = self.sway_dmg()
            self.emit((E.EV_HOLD_TICK, t, self.kind, t - self.start, sw,
                       self.stability(sw), asin_ddeg(ux) - asin_ddeg(self._pitch0), 0))

    # ----------------------------------------------------------------- out
    def sway_dmg(self):
        if not self._hn:
            return 0
        return isqrt(self._hsum // self._hn * 100)

    def stability(self, sway_dmg):
        ref = self.tun["SWAY_REF_DMG"]
        return 100 * ref // (ref + sway_dmg)

    def end(self, t_end):
        """The hold (if any) is over at t_end: report it."""
        if not self.on:
            return
        if self.announced and t_end > self.start:
            sw = self.sway_dmg()
            self.emit((E.EV_HOLD_END, self._t, self.kind, self.start, t_end - self.start, sw,
                       self.stability(sw), asin_ddeg(self._pitch) - asin_ddeg(self._pitch0)))
        self._reset_hold()
        if self._sp_on:
            self._restart_spell()

    def _restart_spell(self):
        # the spell goes on (the effort stopped, a set is under way): it has
        # to show its own evidence again before it is another hold
        self._sp_start = self._t
        self._sp_frames = self._eff_frames = 0
        self._eff_t = -1
        self._sway_sum = self._sway_n = 0
        self._entry_dz = self._entry_dux = 0

    def finish(self, t):
        self._t = t
        self.end(t if self._act_t < 0 else self._calm_t)

    def posture_changed(self, t):
        self.end(self._calm_t)
        self._posture_t = t
