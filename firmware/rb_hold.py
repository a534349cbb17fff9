"""Holds: plank, side plank and cobra, with sway, stability and drift (part of the detection core).

The engine hands every 40 ms frame over (body axes, milli-g).  A hold is a
still spell in a face-down or side posture that is held with effort:

1. Still spells and transits.  Only low-frequency movement is a transit:
   the body tilting away from the spell's own slowly drifting gravity (by
   more than the hold's own sway), or the pelvis accelerating up or down
   (|f| - 1 g smoothed over ~0.16 s, beyond the spell's own shake of it).
   Muscle tremor (5-12 Hz) is neither, so a shaky hold stays one spell.  A
   spell begins once gravity has stayed in a small cone and |f| level for
   HOLD_SPELL_MS.  A transit began at the last quiet frame before it was
   noticed (movement starts gently), or before the first of a chain of
   short movements each starting within _CHAIN_MS of the last dying away
   (an eased-in start shows in bursts).
2. The way in.  The vertical specific force of the last _FB_N frames is
   kept (face down along the fast gravity estimate; on the side |f|).
   When a spell has lasted _LIFT_POST_MS, the transit that led into it is
   double-integrated from it less the still level after it: how far the
   pelvis went up or down (a plank lifts it 15-30 cm from lying, a cobra
   leaves it on the floor).  The body is still at both ends, so the velocity left over at
   the end is a level error (a real sensor's |f| shifts a little with its
   attitude; 5 mg would add 10 cm over 2 s) and what it added is taken out.
   The change of head-end incline across the transit is kept too (a
   chest-up cobra raises it).  A transit that was a change of posture, or
   was under way before a rep set's last rep ended (that rep's way back),
   says nothing of either; face down, one that lowered the head end by a
   cobra's incline says nothing of a lift (coming down out of a cobra
   tips the pelvis so far that |f| reads a lift; a plank raises the head
   end).
3. Evidence.  A spell is a hold once it has lasted HOLD_CONFIRM_MS and
   shows effort (tremor above HOLD_TREMOR_PCT of the resting level for most
   of it, or for nearly all of HOLD_CONFIRM_MS since it last stood at rest
   in the spell: a slow way in is no transit), or the pelvis was lifted
   into it by a plank's height, or, face down, the head end went up by a
   cobra's incline.  The hold starts where the spell began (if the body lay
   still first and effort is the only evidence: where the tremor rose
   half-way from its level before to the effort's, or crossed the effort
   bar if that was under a second earlier, less the proxy's lag; if lifted
   into, where the lift stopped pushing, when the spell began within
   _SETTLE_MS of that: a shaky hold's settling wobble delays the spell) and
   is announced at HOLD_MIN_MS, so every HOLD_START gets its HOLD_END.  A
   rep set under way restarts a spell's evidence.
4. End: where the transit out of it began; where the tremor of a hold held
   by effort alone fell away (under half its level, or under the keep level
   for HOLD_FADE_MS; the level follows a fading tremor only slowly); at a
   posture change or a rep set.
5. Kind.  On the side: side plank.  Face down: cobra when the head end
   went up far or the pelvis did not go up into it, otherwise plank.

The resting tremor is the lowest 2.6 s mean of the last two minutes: sensor
noise and breathing, whatever the posture and the sample rate.  Sway is the
RMS of the acceleration perpendicular to the hold's slowly drifting
gravity, about its mean, over the hold's still frames: they go in _LAG_N
frames late, so that none after its end (dated back to where the way out
began, which is seen only later) and none of its last _END_TRIM_MS do;
stability = 100 * SWAY_REF / (SWAY_REF + sway); drift is the change
of head-end incline from start to end (sag: +, pike: -).  Integer
arithmetic only; nothing is allocated per frame.
"""
import array

import rb_events as E
from rb_fixed import isqrt, asin_ddeg, lp3

try:
    from micropython import const
except ImportError:     # CPython on the host: the same numbers, looked up at run time
    def const(x):  # type: ignore[misc]
        return x

_FB_N = const(128)          # frames of vertical specific force kept for the lift integral (5.1 s)
_FLOOR_SHIFT = const(6)     # resting tremor: means over blocks of 64 frames (2.6 s) ...
_FLOOR_BLOCKS = const(48)   # ... the lowest of the last 48 blocks (2 minutes)
_UNSET = const(0x7fffffff)
_ONSET_LVL_N = const(25)    # frames (1 s) the effort's tremor level is the mean of, when a hold starts
_ONSET_CALM_N = const(25)   # a spell's frames (1 s) without effort before its run of it: the body lay still first
_ONSET_DIP_N = const(3)     # frames in a row a quarter of the way up: where the tremor last stood (one is noise)
_RISE_MS = const(1000)      # the tremor rises from rest to an effort's level within this long
_LVL_SHIFT = const(7)       # a hold's tremor level: low-pass over 128 frames (5.1 s) ...
_LVL_FALL_SHIFT = const(9)  # ... or 512 (20 s) while the tremor is under HOLD_LEVEL_PCT of it
_LIFT_LEAD = const(4)       # frames the lift is integrated from before the transit (it starts gently)
_LIFT_POST_MS = const(600)  # the lift into a spell is measured this long after it began
_LEVEL_TURN_MILLI = const(87)   # a way in that inclined the head end ~5 deg or more ...
_LEVEL_STEP_MG = const(10)      # ... starts from the level before it, if within this of the spell's
_LYING_DROP_MM = const(300)  # face down, a way in that lowered the pelvis this far lay down on the floor
_GAP_FRAMES = const(5)      # movement goes on through calm gaps shorter than this (where a lift
                            # turns from accelerating to decelerating)
_PUSH_MG_FRAMES = const(350)  # a push of this many mg x frames gains ~0.13 m/s: a lift, not a bob
_QUIET_BACK_MS = const(1500)  # a transit began at most this long before it was noticed
_STILL_FRAMES = const(10)   # quiet frames in a row (0.4 s): the body stayed still before a transit
_CHAIN_MS = const(400)      # a movement that starts this soon after the last one died away goes on from it
_SETTLE_MS = const(500)     # a lifted hold began where the lift stopped pushing, if it settled into a spell this soon
_LAG_N = const(48)          # a hold's sway takes in a frame this many frames (1.9 s) late: its end is
                            # dated back to where the way out began, up to 1.9 s before that is seen ...
_END_TRIM_MS = const(480)   # ... and leaves out its last frames before that end: the way out eases in,
                            # and where it began is dated up to half a second late
_NO_SWAY = const(-32768)    # a frame in the ring while moving: none of the sway
_SHAKE_FRAMES = const(12)   # a spell's own shake of |f| widens its limit once measured over 0.5 s
_MARGIN_MS = const(200)
_AN_T = const(3)            # _an: still-cone run
_AN_FS = const(4)
_AN_N = const(5)
_AN_LO = const(6)
_AN_HI = const(7)
_SWAY = const(0)            # _acc: sums of squares, each followed by its count
_SWAY_N = const(1)
_SHAKE = const(2)
_SHAKE_N = const(3)
_HSWAY = const(4)
_HSWAY_N = const(5)
_HSUM = const(6)            # ... then the hold's perpendicular acceleration: sums (x, y, z), count
_LAGN = const(10)           # ... then the frames in the hold's _lag ring, its next slot, its newest frame's time
_LAGI = const(11)
_LAGT = const(12)
B_EFFORT = const(1)         # evidence bits
B_LIFTED = const(2)
B_INCLINED = const(4)


class HoldDetector:
    def __init__(self, tun, frame_ms, emit):
        self.tun = tun
        self.frame_ms = frame_ms
        self.emit = emit
        self.hint_kind = E.K_NONE
        self._fb = array.array("h", bytes(2 * _FB_N))   # vertical specific force per frame (mg)
        self._tb = array.array("h", bytes(2 * _FB_N))   # tremor proxy per frame (x16, clipped)
        self._fi = self._fn = 0     # ring index, frames in it
        self._blk = array.array("h", bytes(2 * _FLOOR_BLOCKS))   # tremor block means, x16 (0: none)
        self._bi = self._bsum = self._bn = 0
        self.floor16 = 0            # the resting tremor, x16 (0: not known yet)
        self._h16 = [_UNSET, 0, 0]  # the spell's slow gravity, x16
        # the still-cone run: anchor direction (unit x1000), start (-1: none),
        # sum of |f| and frames over it, range of smoothed |f| over it
        self._an = [0, 0, 0, -1, 0, 0, 0, 0]
        # the spell's sway and shake of |f|, and the hold's sway: sums of squares and counts;
        # then the hold's perpendicular acceleration summed per axis, and its count; then
        # the _lag ring's frames, next slot and newest frame's time
        self._acc = [0] * 13
        # the hold's last _LAG_N frames, not yet in its sway: their
        # perpendicular acceleration x, y, z (mg), a ring
        self._lag = array.array("h", bytes(6 * _LAG_N))
        self._t = self._ux = 0
        self._posture_t = -100000   # the posture last changed at
        self._rep_t = -100000       # the last rep of a set ended at
        # the biggest lift or drop measured into a spell since the engine set
        # this to -1 (none): a rep that lifts the pelvis (bridge) shows here
        self.lift_mm = -1
        # face down, the pelvis was last seen going down onto the floor: a way
        # in that lowered it _LYING_DROP_MM (from all fours 40 cm, from a
        # plank 20-45) and none since that lifted it a plank's height (or
        # PLANK_EFFORT_LIFT_MM without a cobra's incline), nor a change of posture
        self.lying = False
        self.reset_motion()
        self._reset_hold()

    def reset_motion(self):
        """The filters restart (a hole in the data, a new mount): no spell, no transit."""
        self._fs16 = 0              # slow |f|, x16 (0: unset)
        self._va16 = 0              # |f| less its slow level, smoothed: vertical acceleration, mg x16
        self._sp_on = False
        self._sp_start = self._sp_frames = self._eff_frames = 0
        self._calm_n = 0            # the spell's frames without effort before its run of effort
        self._rest_n = -1           # the spell's frames and frames of effort when the tremor last
        self._rest_e = 0            # ... stood at its resting level in it (-1: not since it began)
        self._eff_t = -1            # effort since (-1: not now)
        self._rest_t = 0            # the tremor last stood at its resting level
        self._an[_AN_T] = -1
        self._act_t = -1            # moving since (-1: calm)
        self._gap_n = 0             # calm frames in a row
        self._push = 0              # the last movement's push: sum of |f| - 1 g over its moving frames (mg x frames)
        self._calm_t = self._quiet_t = self._t  # last calm frame, last quiet one
        self._chain_t = -1          # the last quiet frame before a chain of movements, each soon after the last
        self._push_t = -1           # outside a spell, the last frame the pelvis still sped up or slowed down hard
        self._died_t = -1           # the last movement died away at
        self._still_t = self._t     # the last frame of a run of _STILL_FRAMES quiet ones
        self._quiet_n = 0           # quiet frames in a row
        self._tr_t = -1             # the transit into the coming spell began at
        self._blind = False         # ... unknown: the spell began before any transit was seen
        self._dz_due = -1           # when to measure the lift into the spell
        self._entry_dz = 0          # the pelvis went up (+) into the spell by, mm
        self._pre_ux = _UNSET       # head-end incline before the transit ...
        self._entry_dux = 0         # ... and how far it went up into the spell
        # the way in across wobbles: when the body got here, and the way in of
        # the short spell before the last transit (its time -1: none)
        self._way = [-1, -1, 0, 0]
        a = self._acc
        a[_SWAY] = a[_SWAY_N] = a[_SHAKE] = a[_SHAKE_N] = 0
        self._h16[0] = _UNSET

    def _reset_hold(self):
        self.on = self.announced = False
        self.kind = E.K_NONE
        self.start = self._tick = self.basis = 0    # basis: evidence bits that started it
        self._pitch0 = self._pitch = 0
        self._acc[_HSWAY] = self._acc[_HSWAY_N] = 0
        self._acc[_HSUM] = self._acc[_HSUM + 1] = self._acc[_HSUM + 2] = self._acc[_HSUM + 3] = 0
        self._acc[_LAGN] = 0
        self._trl16 = 0             # the hold's tremor level, x16
        self._eff_hi_t = 0          # the tremor last stood at the hold's level
        self._low_t = -1            # tremor below the hold's level since

    # ---------------------------------------------------------------- frame
    def frame(self, t, p, gx, gy, gz, ux, uy, uz, fx, fy, fz, tr16, set_t):
        """One frame: p posture; g* fast gravity (mg) and u* its unit vector
        (x1000); f* the frame's specific force (mg); tr16 the tremor proxy
        (x16, 0 when unknown, < 0 in a hole the engine filled: the sensor
        dropped samples); set_t: a rep set is under way and its last rep ended
        then (-1: no set)."""
        tn = self.tun
        self._t = t
        self._ux = ux
        if tr16 < 0 and self._fs16:
            # a dropped frame holds the last one, and one frame's |f| held for
            # half a second read as the pelvis accelerating (ending a plank):
            # take |f| and the tremor as they were, on average, instead
            fn = self._fs16 >> 4
        else:
            fn = isqrt(fx * fx + fy * fy + fz * fz)
        i = self._fi
        if (tr16 < 0 and self._fs16) or p != E.P_PRONE:
            self._fb[i] = fn
        else:
            # face down the way in is integrated along gravity: |f| is never
            # below that (sqrt(v^2 + h^2)), and a hip wiggle's side-to-side
            # shake read as a plank's lift in it.  (On the side |f| stays:
            # the roll up into a side plank turns gravity faster than its
            # estimate follows.)
            self._fb[i] = (fx * ux + fy * uy + fz * uz) // 1000
        self._tb[i] = self._tb[i - 1 if i else _FB_N - 1] if tr16 < 0 else (tr16 if tr16 < 32767 else 32767)
        self._fi = (i + 1) % _FB_N
        if self._fn < _FB_N:
            self._fn += 1
        if self._fs16 == 0:
            self._fs16 = fn << 4
        self._fs16 += ((fn << 4) - self._fs16) >> 6
        self._va16 += (((fn << 4) - self._fs16) - self._va16) >> 2
        # -- still spells and transits
        va = self._va16 >> 4
        mv = tn.HOLD_MOVE_MG
        lim = mv
        a = self._acc
        if a[_SHAKE_N] >= _SHAKE_FRAMES:
            # (a shaky hold shakes |f| too: movement is well beyond its own shake)
            v = isqrt(a[_SHAKE] // a[_SHAKE_N]) * tn.HOLD_TILT_SWAY_X
            if v > lim:
                lim = v if v < 4 * lim else 4 * lim
        moving = va > lim or -va > lim
        # (a frame filled across a hole is not quiet: nothing is known of it,
        # and a way down that began in one was measured from its end, the
        # fall's slowing half read as a lift)
        quiet = 2 * va <= lim and -2 * va <= lim and tr16 >= 0
        if not self._sp_on and (va > 2 * mv or -va > 2 * mv):
            self._push_t = t
        h = self._h16
        if self._sp_on:
            lim = isqrt(a[_SWAY] // a[_SWAY_N]) * tn.HOLD_TILT_SWAY_X if a[_SWAY_N] else 0
            # (never beyond HOLD_TILT_MAX_MG: a slow turn would raise the
            # sway it is measured by as it goes)
            if lim < tn.HOLD_TILT_MG:
                lim = tn.HOLD_TILT_MG
            elif lim > tn.HOLD_TILT_MAX_MG:
                lim = tn.HOLD_TILT_MAX_MG
            # fast gravity's distance from the spell's slow gravity, perpendicular to it (mg)
            sx = h[0] >> 4
            sy = h[1] >> 4
            sz = h[2] >> 4
            sn = isqrt(sx * sx + sy * sy + sz * sz) or 1
            q = (gx * sx + gy * sy + gz * sz) // sn
            q = abs(gx - q * sx // sn) + abs(gy - q * sy // sn) + abs(gz - q * sz // sn)
            if q > lim:
                moving = True
            if 5 * q > 2 * lim:
                # (quiet: within 40% of the limit; a movement eases in, and at
                # half of it the last quiet frame came up to a second late)
                quiet = False
        if moving:
            if self._act_t < 0:
                self._act_t = t
                if self._died_t < 0 or t - self._died_t > _CHAIN_MS:
                    self._chain_t = self._quiet_t
                pv = self._push
                if (self._gap_n < 2 * _GAP_FRAMES and (pv > _PUSH_MG_FRAMES and va < -mv
                                                       or pv < -_PUSH_MG_FRAMES and va > mv)):
                    # |f| turned from one side of 1 g to the other after a
                    # strong push: a lift (or a lowering) going over from
                    # speeding up to slowing down, one movement.  (A shaky
                    # spell's wider limit made that turn a calm gap of 5
                    # frames: a side plank's lift split in two halves each
                    # too short to end the spell.  A shaky hold's own bob
                    # pushes a third as hard)
                    self._act_t = t - tn.HOLD_BREAK_MS
                self._push = 0
            self._gap_n = 0
            self._push += va
            if self._sp_on and t - self._act_t >= tn.HOLD_BREAK_MS:
                self._spell_end()
        else:
            self._gap_n += 1
            if self._act_t >= 0 and self._gap_n >= _GAP_FRAMES:
                if not self._sp_on or self._act_t <= self._sp_start:
                    self._push = 0      # (a movement before the spell is not its lift)
                self._act_t = -1
                self._died_t = t
            if self._act_t < 0:
                self._calm_t = t
                if quiet:
                    self._quiet_t = t
        if quiet and self._act_t < 0:
            self._quiet_n += 1
            if self._quiet_n >= _STILL_FRAMES:
                self._still_t = t
        else:
            self._quiet_n = 0
        if not self._sp_on:
            # a spell begins once gravity stays in a small cone and |f|
            # stays level (a steady offset is the sensor's |f| at its new
            # attitude, a lift or a lowering is not); its mean |f| is the
            # still level from then on
            an = self._an
            # (|f| itself, smoothed like va: va is less the slow mean, which
            # after a lift relaxes for seconds and kept moving the start)
            lv = va + (self._fs16 >> 4)
            if (an[_AN_T] < 0 or abs(ux - an[0]) + abs(uy - an[1]) + abs(uz - an[2]) > tn.REST_SPELL_MILLI
                    or lv - an[_AN_LO] > 2 * mv or an[_AN_HI] - lv > 2 * mv):
                an[0] = ux
                an[1] = uy
                an[2] = uz
                an[_AN_T] = t
                an[_AN_FS] = an[_AN_N] = 0
                an[_AN_LO] = an[_AN_HI] = lv
            if lv < an[_AN_LO]:
                an[_AN_LO] = lv
            elif lv > an[_AN_HI]:
                an[_AN_HI] = lv
            an[_AN_FS] += fn
            an[_AN_N] += 1
            if t - an[_AN_T] >= tn.HOLD_SPELL_MS:
                self._sp_on = True
                self._sp_start = an[_AN_T]
                self._sp_frames = self._eff_frames = self._calm_n = 0
                self._rest_n = -1
                a[_SWAY] = a[_SWAY_N] = 0
                h[0] = gx << 4
                h[1] = gy << 4
                h[2] = gz << 4
                self._entry_dz = self._entry_dux = 0
                self._way[0] = an[_AN_T]
                if self._tr_t < 0:
                    # (no transit seen since the filters started: the way in
                    # is unknown, not a way in of zero)
                    self._tr_t = an[_AN_T]
                    self._blind = True
                self._dz_due = t + _LIFT_POST_MS
                self._fs16 = (an[_AN_FS] << 4) // an[_AN_N]
                self._va16 = 0
        if self._sp_on:
            lp3(h, gx, gy, gz, tn.SLOW_SHIFT)
            self._sp_frames += 1
            if self._dz_due >= 0 and t >= self._dz_due:
                self._measure_entry(t, p)
        # -- effort: tremor well above the resting level
        eff = keep = False
        if tr16 > 0:
            self._floor(tr16)
            f = self.floor16
            if f:
                eff = tr16 * 100 >= f * tn.HOLD_TREMOR_PCT
                keep = eff or tr16 * 100 >= f * tn.HOLD_KEEP_TREMOR_PCT
                if tr16 * 100 <= f * tn.HOLD_REST_TREMOR_PCT:
                    self._rest_t = t
                    self._rest_n = self._sp_frames
                    self._rest_e = self._eff_frames
            if self.hint_kind in E.HOLD_KINDS:
                eff = keep = True
        if self._sp_on and eff:
            if self._eff_t < 0:
                self._eff_t = t
                # (the spell's frames without effort before this run of it:
                # a blip of a few frames does not end lying still)
                self._calm_n = self._sp_frames - self._eff_frames
            self._eff_frames += 1
        elif not keep and tr16 >= 0:
            self._eff_t = -1        # (a frame filled across a hole says nothing of it)
        if p != E.P_PRONE and p != E.P_SIDE_L and p != E.P_SIDE_R:
            self.end(self._calm_t)
            return
        if not self._sp_on:
            return
        if self._act_t < 0:
            self._sway(t, fx, fy, fz, va)      # (a movement under way is not sway)
        elif self.on:
            self._lag_in(t, _NO_SWAY, 0, 0)     # (but it keeps the ring's frames a frame apart)
        if self.on:
            self._pitch = ux
            self._in_hold(t, ux, tr16, keep, set_t >= 0)
        elif set_t >= 0:
            self._rep_t = set_t
            if self._an[_AN_T] <= set_t:
                self._restart_spell()   # a rep set: what the spell showed so far was the set
            # (a spell that began after the set's last rep waits for the set
            # to end with its way in kept: the lift into a plank straight
            # after a leg raise set)
        else:
            self._maybe_start(t, p, ux, tr16)

    def _floor(self, tr16):
        # the lowest 2.6 s mean of the last two minutes: effort, moving and
        # fidgets only ever raise a block's mean
        self._bsum += tr16
        self._bn += 1
        if self._bn < 1 << _FLOOR_SHIFT:
            return
        m = self._bsum >> _FLOOR_SHIFT
        self._bsum = self._bn = 0
        blk = self._blk
        blk[self._bi] = m if m < 32767 else 32767
        self._bi = (self._bi + 1) % _FLOOR_BLOCKS
        for x in blk:
            if 0 < x < m:
                m = x
        self.floor16 = m

    def _measure_entry(self, t, p):
        """The transit into this spell: how far the pelvis went up (+) or down
        (mm), and the head end."""
        self._dz_due = -1
        fm = self.frame_ms
        tn = self.tun
        turned = self._posture_t - tn.POSTURE_SETTLE_MS >= self._tr_t - _MARGIN_MS
        # a transit under way before a set's last rep ended was that rep's
        # way back: the pelvis going down after a lift, the head end coming up
        # out of a cat's tuck; not a way into a hold
        rep = self._tr_t <= self._rep_t
        if turned:
            # the body came into this posture during the transit (a posture is
            # settled POSTURE_SETTLE_MS after that): the way in is measured
            # from when it had settled
            self._tr_t = self._posture_t if self._posture_t < self._sp_start else self._sp_start
        n_post = (t - self._sp_start) // fm + 1
        n = (self._sp_start - self._tr_t) // fm + 1 + _LIFT_LEAD + n_post
        z = 0
        # (a way in longer than the frames kept is not measured: it says
        # nothing of a lift; one at the very start is measured from there)
        if n > self._fn:
            n = self._fn if self._fn < _FB_N else 0
        measured = n > n_post + 1 and not self._blind
        dux = self._ux - self._pre_ux if self._pre_ux != _UNSET else 0
        self._blind = False
        if measured:
            fb = self._fb
            i0 = self._fi - n
            post = 0
            for k in range(n - n_post, n):
                post += fb[(i0 + k) % _FB_N]
            post //= n_post
            # the sensor's own 1 g differs between attitudes (its offsets
            # and gains: a 30 mg offset tipped 15 degrees is 8 mg, and over
            # a 2 s push up into a plank that read as anything from -10 to
            # 320 mm), so across a way in that turned the body the level goes
            # over from the frames before it to the spell's.  (Only a small
            # step: a bigger one is the movement already under way.)
            k0 = n - n_post
            m = _LIFT_LEAD if k0 > _LIFT_LEAD else k0
            pre = 0
            for k in range(m):
                pre += fb[(i0 + k) % _FB_N]
            pre = pre // m if m else post
            if (pre - post > _LEVEL_STEP_MG or post - pre > _LEVEL_STEP_MG
                    or (dux < _LEVEL_TURN_MILLI and -dux < _LEVEL_TURN_MILLI)):
                pre = post
            v = 0
            for k in range(n):
                ref = post
                if k < m:
                    ref = pre
                elif k < k0:
                    ref = pre + (post - pre) * (k - m) // (k0 - m)
                v += fb[(i0 + k) % _FB_N] - ref
                z += v
            z -= v * n // 2         # the level error the left-over velocity shows
            # z is mg * frames^2: x 9.807 mm/s^2 per mg x (frame_ms / 1000 s)^2
            z = z * 9807 // 1000 * fm * fm // 1000000
        # what this transit itself measured (-1: nothing), before any carry
        lift = (z if z > 0 else -z) if measured and not turned and not rep else -1
        w = self._way
        if rep:
            z = dux = 0
            w[1] = -1
        elif turned:
            dux = 0                 # (the incline before is that of another posture)
            w[1] = -1
        elif p == E.P_PRONE and dux <= -tn.COBRA_MIN_MILLI:
            # face down the head end came down by a cobra's incline (down out
            # of one): the pelvis tipping that far reads as a lift, and a
            # plank's way in raises the head end
            z = 0
        elif (w[1] >= 0 and -tn.HOLD_LIFT_MIN_MM < z < tn.HOLD_LIFT_MIN_MM
              and 2 * dux < tn.COBRA_MIN_MILLI and -2 * dux < tn.COBRA_MIN_MILLI):
            # a wobble after a short spell, back to about the same place: the
            # way in is still the one into that spell (a sway's bob measures
            # as a few cm of noise, not added)
            z = w[2]
            dux = w[3]
            w[0] = w[1]
            measured = True
        if p == E.P_PRONE:
            # (the way in as the rules above left it: a rep's way back and a
            # cobra's way down say nothing; one measured from where a turn
            # settled counts: rolled over, then lifted onto hands and knees)
            if z >= tn.HOLD_LIFT_MIN_MM or (z >= tn.PLANK_EFFORT_LIFT_MM and dux < tn.COBRA_MIN_MILLI):
                # (up off the floor: a lift that short counts if it did not
                # come with a cobra's incline, which reads as one; up onto all
                # fours at 50 Hz without a gyro, a hole in it, read 10 cm)
                self.lying = False
            elif z <= -_LYING_DROP_MM and 2 * dux < tn.COBRA_MIN_MILLI:
                # (lying down from hands and knees brings the head end down
                # or leaves it; settling onto all fours raised it 10 degrees
                # and the offsets' tilt error read that as a 33 cm drop)
                self.lying = True
        self._tr_t = -1
        self._entry_dz = z
        self._entry_dux = dux
        # (a carried way in is not this transit's lift: carried from spell to
        # short spell, one bad measurement made every later rep look lifted)
        if lift > self.lift_mm:
            self.lift_mm = lift

    def _spell_end(self):
        """A transit began: the spell (and a hold in it) ended at the last quiet frame."""
        back = self._calm_t - _QUIET_BACK_MS
        if self._chain_t >= self._sp_start and self._chain_t < self._quiet_t:
            # (a slow start, eased in: the movement shows in bursts, each
            # dying away for a moment before the next, and the way out
            # began before the first)
            self._quiet_t = self._chain_t
        if self._quiet_t < self._sp_start:
            self._quiet_t = self._calm_t    # (no quiet frame in this spell at all)
        elif self._quiet_t < back:
            self._quiet_t = back
        ms = self._sp_frames * self.frame_ms
        # (a spell over before its way in was measured, with no turn since that
        # way in began, was a pause in it: a plank pushed up slowly stops
        # half-way; measured from the pause, the way in was its second half)
        pause = (self._dz_due >= 0 and self._tr_t >= 0
                 and self._posture_t - self.tun.POSTURE_SETTLE_MS < self._tr_t - _MARGIN_MS)
        if (ms >= self.tun.HOLD_SPELL_MS and not pause) or self._tr_t < 0:
            # (after a spell too short to be a position the transit goes on:
            # the lift is measured over all of it)
            # (the way in began where the body last stayed quiet a while: a
            # lift pushed up in bursts has calm frames between them; in a
            # spell never that quiet, the last quiet frame: from where the
            # spell began, a short one just after a roll, the way in took in
            # the roll's end and a side plank's 13 cm lift read 10 cm)
            t0 = self._an[_AN_T]    # (where it began: _sp_start moves when its evidence restarts)
            tr = self._still_t
            if tr < t0:
                tr = self._quiet_t
            elif tr < back:
                tr = back
            self._tr_t = tr
            if self._dz_due < 0:
                # (a spell over before its way in was measured leaves the carry as it was)
                w = self._way
                w[1] = w[0] if ms < self.tun.HOLD_CONFIRM_MS else -1
                w[2] = self._entry_dz
                w[3] = self._entry_dux
            # (the spell's slow gravity: where the body was before it moved)
            h = self._h16
            sx = h[0] >> 4
            self._pre_ux = sx * 1000 // (isqrt(sx * sx + (h[1] >> 4) * (h[1] >> 4) + (h[2] >> 4) * (h[2] >> 4)) or 1)
        self._sp_on = False
        self._dz_due = self._an[_AN_T] = -1
        if ms >= self.tun.HOLD_CONFIRM_MS:
            # (a shake measured in a short spell goes on into the next: a
            # swaying hold broken by its own bob learns its shake that way)
            self._acc[_SHAKE] = self._acc[_SHAKE_N] = 0
        self.end(self._quiet_t)

    def _sway(self, t, fx, fy, fz, va):
        # acceleration perpendicular to the spell's slow gravity, and the
        # shake of |f|, as means of squares (halved together to stay small
        # ints); the sway not while settling in
        a = self._acc
        _acc2(a, _SHAKE, va * va)
        if t - self._sp_start < self.tun.SWAY_SETTLE_MS:
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
        _acc2(a, _SWAY, q)
        if self.on:
            self._lag_in(t, hx, hy, hz)

    def _lag_in(self, t, hx, hy, hz):
        # the hold's own sway: its frames go in _LAG_N frames late, so that
        # those after its end (the way out already under way when the end is
        # seen) never do
        a = self._acc
        g = self._lag
        i = 3 * a[_LAGI]
        if a[_LAGN] == _LAG_N:
            self._take(i)
        else:
            a[_LAGN] += 1
        # (|components| stay far below 32 g in a hold)
        g[i] = hx
        g[i + 1] = hy
        g[i + 2] = hz
        a[_LAGI] = (a[_LAGI] + 1) % _LAG_N
        a[_LAGT] = t

    def _take(self, i):
        # the frame at _lag[i] goes in the hold's sway
        g = self._lag
        a = self._acc
        hx = g[i]
        if hx == _NO_SWAY:
            return
        hy = g[i + 1]
        hz = g[i + 2]
        _acc2(a, _HSWAY, hx * hx + hy * hy + hz * hz)
        a[_HSUM] += hx
        a[_HSUM + 1] += hy
        a[_HSUM + 2] += hz
        a[_HSUM + 3] += 1

    def _take_lag(self, t_end):
        """The hold is over at t_end: its frames held back go in its sway, but
        for those of its last _END_TRIM_MS."""
        a = self._acc
        n = a[_LAGN]
        for k in range(n):
            if a[_LAGT] - (n - 1 - k) * self.frame_ms > t_end - _END_TRIM_MS:
                break
            self._take(3 * ((a[_LAGI] - n + k) % _LAG_N))
        a[_LAGN] = 0

    def _maybe_start(self, t, p, ux, tr16):
        tn = self.tun
        if self._dz_due >= 0 or t - self._sp_start < tn.HOLD_CONFIRM_MS:
            return
        b = 0
        if self._eff_t >= 0:
            n = self._sp_frames
            e = self._eff_frames
            if e * 100 >= n * tn.HOLD_EFFORT_SHARE_PCT:
                b = B_EFFORT
            elif (self._rest_n >= 0 and (n - self._rest_n) * self.frame_ms >= tn.HOLD_CONFIRM_MS
                    and (e - self._rest_e) * 100 >= (n - self._rest_n) * tn.HOLD_EFFORT_RUN_PCT):
                # the body lay still at rest in this spell, then the effort
                # came and stayed: a way in too slow to be seen as a transit
                # (a chest raised slowly into a cobra) left the spell begun
                # lying, and its still seconds outweighed the effort's for as
                # long again.  (More of a share than over the whole spell: a
                # rest on all fours hovers about the effort bar at 25 Hz)
                b = B_EFFORT
        dz = self._entry_dz
        if tn.HOLD_LIFT_MIN_MM <= dz <= tn.HOLD_LIFT_MAX_MM:
            b |= B_LIFTED       # the pelvis went up into it
        if p != E.P_SUPINE and self._entry_dux >= tn.COBRA_MIN_MILLI:
            b |= B_INCLINED     # the head end went up into it, far (cobra; a side plank's body line)
        if not b:
            return
        if p == E.P_SIDE_L or p == E.P_SIDE_R:
            kind = E.K_SIDE_PLANK
        elif self.hint_kind == E.K_COBRA or self.hint_kind == E.K_PLANK:
            kind = self.hint_kind
        elif b == B_EFFORT and self._entry_dz >= tn.PLANK_EFFORT_LIFT_MM:
            # held by effort, and the pelvis went up into it: less than a
            # lift shows a plank by itself (a low forearm plank, a noisy or
            # quick way in), or more than a plank's usual (a high one); a
            # cobra leaves the pelvis on the floor and only tips its head end up
            kind = E.K_PLANK
        elif not b & B_LIFTED or self._entry_dux >= tn.COBRA_LIFTED_MILLI:
            # held with the pelvis on the floor, or the chest far up (the
            # chest coming up can fake a lift; a plank inclines the pelvis
            # only as far as the arms' length raises the shoulders)
            kind = E.K_COBRA
        else:
            kind = E.K_PLANK
        self.on = True
        self.kind = kind
        self.basis = b
        st = self._sp_start
        # (held by effort with the pelvis up a plank's height into it: up in
        # the plank since the body got there, however still it lay at first;
        # a low, still plank's tremor rose to effort's 3 s after it began.
        # All fours is higher: a rest there may hover about the effort bar)
        up = kind == E.K_PLANK and tn.PLANK_EFFORT_LIFT_MM <= self._entry_dz <= tn.HOLD_LIFT_MAX_MM
        if b == B_EFFORT and not up:
            if self._rest_t > st or self._calm_n >= _ONSET_CALM_N:
                # lay still first (its tremor at rest, or at least not yet
                # effort's for a second): the effort began when the tremor rose
                on = self._effort_onset(t)
                if self._eff_t > self._rest_t:
                    # where the run of effort began (since the last rest): if
                    # the rise is older than the frames kept (a slow one
                    # confirms late), or if it is earlier than the half-way
                    # mark but within _RISE_MS (that mark is late when the
                    # effort's level is far above the effort bar: a hold
                    # confirmed early by the run since the rest saw it 0.64 s
                    # late; a run that began longer before was the tremor
                    # hovering at the bar, 1.5 s early)
                    o2 = self._eff_t - tn.HOLD_ONSET_LAG_MS
                    if o2 < self._rest_t:
                        o2 = self._rest_t
                    if on < 0 or on - _RISE_MS <= o2 < on:
                        on = o2
                if on > st:
                    st = on
                elif self._rest_t > st:
                    st = self._rest_t
        elif 0 <= self._way[0] < st:
            st = self._way[0]       # up in it since the body got there (wobbles on the way are part of it)
        if b & B_LIFTED and st - _SETTLE_MS <= self._push_t < st:
            # (the body got there when the lift stopped pushing; a shaky
            # hold's wobble delays the still spell by up to a second)
            st = self._push_t + self.frame_ms
        self.start = st
        self._tick = self._eff_hi_t = t
        self._pitch0 = self._pitch = ux
        self.announced = False
        self._trl16 = tr16 << 4
        self._low_t = -1

    def _in_hold(self, t, ux, tr16, keep, blocked):
        tn = self.tun
        if blocked:
            self.end(self._calm_t)
            return
        if self.basis == B_EFFORT and tr16 > 0:
            # held by effort alone: over when the tremor of effort falls away
            # (its level follows the tremor over ~5 s, but over ~20 s while
            # the tremor is well below it: one that followed a fading hold's
            # tremor down lowered the bars it is judged by, and a bump of
            # sensor noise back over 75% of it kept a cobra on 2 s longer)
            sh = _LVL_FALL_SHIFT if tr16 * 100 < (self._trl16 >> 4) * tn.HOLD_LEVEL_PCT else _LVL_SHIFT
            self._trl16 += ((tr16 << 4) - self._trl16) >> sh
            lvl = self._trl16 >> 4
            hi = tr16 * 100 >= lvl * tn.HOLD_LEVEL_PCT
            if keep and tr16 * 100 >= lvl * tn.HOLD_END_TREMOR_PCT and (hi or self._low_t < 0):
                # (once the tremor fell under the keep bar, only its return
                # to the hold's own level ends the dip: sensor noise about
                # the keep bar after a cobra restarted it again and again,
                # until a bump over 75% kept the cobra on 2 s longer)
                self._low_t = -1
                if hi:
                    self._eff_hi_t = t
            else:
                if self._low_t < 0:
                    self._low_t = t
                if t - self._low_t >= (tn.HOLD_BREAK_MS if tr16 * 100 < lvl * tn.HOLD_END_TREMOR_PCT
                                       else tn.HOLD_FADE_MS):
                    # (only under the keep level, not yet half-way down:
                    # sensor noise squeezes a still hold's tremor toward
                    # the resting level, and it dips under keep for ~1 s)
                    self.end(self._eff_hi_t)
                    return
        if not self.announced:
            if t - self.start >= tn.HOLD_MIN_MS:
                self.announced = True
                self.emit((E.EV_HOLD_START, t, self.kind, self.start, 0, 0, 0, 0))
        elif t - self._tick >= tn.HOLD_TICK_MS:
            self._tick = t
            sw = self.sway_dmg()
            self.emit((E.EV_HOLD_TICK, t, self.kind, t - self.start, sw,
                       self.stability(sw), asin_ddeg(ux) - asin_ddeg(self._pitch0), 0))

    # ----------------------------------------------------------------- out
    def sway_dmg(self):
        a = self._acc
        if not a[_HSWAY_N]:
            return 0
        # less the mean: the slow gravity lags a drifting hold (sag or pike),
        # and a steady offset is not sway (x16 to stay small ints)
        n = a[_HSUM + 3] or 1
        mx = (a[_HSUM] << 4) // n
        my = (a[_HSUM + 1] << 4) // n
        mz = (a[_HSUM + 2] << 4) // n
        q = a[_HSWAY] // a[_HSWAY_N] - ((mx * mx + my * my + mz * mz) >> 8)
        return isqrt(q * 100) if q > 0 else 0

    def stability(self, sway_dmg):
        ref = self.tun.SWAY_REF_DMG
        return 100 * ref // (ref + sway_dmg)

    def end(self, t_end):
        """The hold (if any) is over at t_end: report it."""
        if not self.on:
            return
        if self.announced:
            if t_end > self.start:
                self._take_lag(t_end)
                sw = self.sway_dmg()
                self.emit((E.EV_HOLD_END, self._t, self.kind, self.start, t_end - self.start, sw,
                           self.stability(sw), asin_ddeg(self._pitch) - asin_ddeg(self._pitch0)))
            else:
                # over before its (backdated) start: withdrawn, so the host drops its HOLD_START
                self.emit((E.EV_HOLD_END, self._t, self.kind, self.start, 0, 0, 0, 0))
        self._reset_hold()
        if self._sp_on:
            self._restart_spell()

    def cancel(self):
        """It was not a hold (reps kept coming): an announced one ends with dur_ms 0."""
        if self.on:
            self.end(self.start)

    def _effort_onset(self, t):
        """When the tremor rose from its level before the effort to the effort's: after it
        last stood a quarter of the way up, the first frame half-way up, less the proxy's
        half-rise time (-1: not in the frames kept).  Not where it last stood near resting:
        lying prone it hovers a little above that, and where it last dipped is chance; nor
        where it last stood half-way: a hold's own tremor dips that far now and then."""
        tb = self._tb
        n = self._fn
        nb = (t - self._sp_start) // self.frame_ms
        if nb < n:
            n = nb
        if n < 2 * _ONSET_LVL_N:
            return -1
        i = (self._fi - 1) % _FB_N
        lvl = 0
        for k in range(_ONSET_LVL_N):
            lvl += tb[(i - k) % _FB_N]
        lvl //= _ONSET_LVL_N
        pre = 32767
        for k in range(n):
            v = tb[(i - k) % _FB_N]
            if v < pre:
                pre = v
        if pre * 100 >= self.floor16 * self.tun.HOLD_TREMOR_PCT:
            return -1       # the rise is older than the frames kept
        q1 = pre + ((lvl - pre) >> 2)
        mid = (pre + lvl) >> 1
        # (the last run of _ONSET_DIP_N frames there, not the last frame: with
        # a noisier sensor one frame of the effort's own tremor dipped that
        # far 3 s into a cobra, and it was dated from there, 2.9 s short)
        k = run = 0
        while k < n:
            if tb[(i - k) % _FB_N] > q1:
                run = 0
            else:
                run += 1
                if run >= _ONSET_DIP_N:
                    break
            k += 1
        if not run:
            return -1
        k -= run - 1 if k < n else run
        while k > 0 and tb[(i - k) % _FB_N] < mid:
            k -= 1
        return t - k * self.frame_ms - self.tun.HOLD_ONSET_LAG_MS

    def _restart_spell(self):
        # the spell goes on (the effort stopped, a set is under way): it has
        # to show its own evidence again before it is another hold
        self._sp_start = self._t
        self._sp_frames = self._eff_frames = self._calm_n = self._acc[_SWAY] = self._acc[_SWAY_N] = 0
        self._rest_n = -1
        self._eff_t = -1
        self._entry_dz = self._entry_dux = 0
        self._way[0] = self._t
        self._way[1] = -1

    def finish(self, t):
        self._t = t
        self.end(t if self._act_t < 0 else self._calm_t)

    def posture_changed(self, t):
        self.end(self._calm_t)
        self._posture_t = t
        self.lying = False      # (not known in the new posture)


def _acc2(a, i, q):
    """Add q to the mean-of-squares accumulator at a[i] (count at a[i + 1]),
    halving both when the sum grows large, so it stays a small int."""
    a[i] += q
    a[i + 1] += 1
    if a[i] > 0x10000000:
        a[i] >>= 1
        a[i + 1] >>= 1
