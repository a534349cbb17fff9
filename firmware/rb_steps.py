"""Step counter: walking bouts and steps from the vertical acceleration at the waist.

Works for any mount: "vertical" is the acceleration along the slowly
filtered gravity direction, so the sensor's axes never matter.  A step is a
peak of the band-passed vertical acceleration; a walking bout is only
believed after WALK_CONFIRM_STEPS regular steps, then counted from its first
step, so a shuffle or a single lunge step is never a walk.

Inside a bout the bar is the bout's own mean peak height: STEP_REL_WALK_PCT
of it, or only STEP_REL_RHYTHM_PCT while the rhythm holds (the peak comes
within STEP_RHYTHM_PCT of the bout's typical interval).  Pivot steps of a
turn and the short closing step bounce the pelvis far less than a stride
does, but they arrive on the beat; a weak bump after the beat is gone is not
taken as a step, and a weak one on the beat does not lower the bar (the mean
peak follows full steps only).  Once the rhythm broke (no step for
STEP_RHYTHM_PCT of the interval: a stop), the beat's leniency waits until a
counted step comes on the beat again: swaying on the spot after stopping
comes at the old beat too.

Starting to walk, the pelvis bumps once as the first foot pushes off,
0.2-0.45 s before that foot lands: a bump under STEP_FIRST_WEAK_PCT of the
bout's next ones is that push-off, not a step (of 13 real walks with foot
sensor events where it was dropped, every one came before the first heel
strike; 45% starts dropping real first steps).

A bout ends WALK_END_MS after its last step.  A stop shorter than that (a
door, a crossing, turning round, shuffling into place) stays in the walk,
and so do the few steps taken after it: they are steps, and too few and too
irregular to confirm a walk of their own.

Samples lost in a hole (a radio or bus hiccup; the engine fills frames
across holes shorter than GAP_RESET_MS) can swallow a heel strike: inside a
bout, a step that comes two to four beats after the last one, with holes
between, brings with it the steps due on the beats that fell in a hole (and
before a bout is confirmed, when every beat between fell in one).  Only
those: walking on, a step interval that long is a stop or a turn, or a bump
too weak to see, not a lost step.  The held reading the engine fills a hole
with is no signal: no peak is taken from it.
"""
import array

import rb_events as E

try:
    from micropython import const
except ImportError:         # CPython, importing the same file on the host
    def const(x):  # type: ignore[misc]
        return x

_RING_N = const(16)         # step times kept: a lunge (<= LUNGE_MAX_MS) takes fewer steps than this
_HOLE_MIN_MS = const(60)    # a hole this long (and 4 sample periods) may have hidden a heel strike (a bump: ~0.1 s) ...
_HOLE_EDGE_MS = const(80)   # ... one due this soon before it too (the peak needs the frames either side) ...
_HOLE_AFTER_MS = const(200)  # ... or this soon after it (the band-pass jolted by the held reading's step back)
_HOLES_N = const(4)         # holes kept since the last step
_HOLE_BEATS = const(4)      # the step after them came 2-4 beats after the last one ...
_HOLE_SLACK_PCT = const(40)  # ... less 40% of a beat at most (then the beats between are where steps were due)


def _beats(gap, iv):
    """Beats of iv (ms) in gap: 2 to _HOLE_BEATS, less _HOLE_SLACK_PCT of one at
    most (then the beats between are where steps were due), else 0."""
    k = (2 * gap + iv) // (2 * iv)
    return k if 2 <= k <= _HOLE_BEATS and gap * 100 >= iv * (100 * k - _HOLE_SLACK_PCT) else 0


class StepCounter:
    def __init__(self, tun, emit, rate_hz=100):
        self.emit = emit
        # a hole: samples lost for _HOLE_MIN_MS or 4 sample periods, if longer
        # (at 25 Hz a late sample leaves a bin empty, and jitter two)
        self._hole_min = max(_HOLE_MIN_MS, 4000 // rate_hz)
        self.tun = tun
        self.hp16 = 0        # slow mean of vertical accel, x16
        self.sm1 = 0         # first smoothing stage (mg)
        self.prev = 0        # the smoothed band-passed value (mg) of the frame before ...
        self.prev2 = 0       # ... and of the one before that
        self.peak_avg = 90   # running mean peak height (mg): a gentle stroll's to start with
        self.last_step = -1000000
        self.walking = False
        self.paused = False  # the bout's rhythm broke and has not come back
        self.pending = 0     # candidate steps before a bout is confirmed
        self.first_step = 0
        self.last_interval = 0
        self.iv = 0          # the bout's typical step interval (ms)
        # the candidate bout: its first bump (mg), the sum of the ones after
        # it, the last one (mg), the time of the second
        self._cb = [0, 0, 0, 0]
        self.steps = 0
        self.walk_start = 0
        self._pf = False     # the frame before was filled across a hole ...
        self._hole_end = -1  # ... of _HOLE_MIN_MS or more, the last of which ended at (ms)
        self.holes = 0       # holes of _HOLE_MIN_MS or more in the data since the last step ...
        self._hl = array.array("i", [0] * (2 * _HOLES_N))  # ... their starts and ends (ms)
        self.last_report = 0
        self.cadence = 0
        self.enabled = True
        self._ring = array.array("i", [0] * _RING_N)   # times of the bout's last steps
        self._ri = 0
        self._t = 0

    def hole(self, t0_ms, t1_ms):
        """No samples from t0 to t1 (ms): the frames between are filled
        (holes over GAP_RESET_MS reset the engine's filters: not here)."""
        if t1_ms - t0_ms < self._hole_min:
            return
        self._hole_end = t1_ms
        if self.holes < _HOLES_N:
            hl = self._hl
            hl[2 * self.holes] = t0_ms
            hl[2 * self.holes + 1] = t1_ms
            self.holes += 1

    def _holes_after(self, t_ms):
        """A step at t: forget the holes over before it (the last one, going
        on past it, is still ahead: the step was seen as the hole began)."""
        n = self.holes
        hl = self._hl
        if n and hl[2 * n - 1] > t_ms:
            hl[0] = hl[2 * n - 2]
            hl[1] = hl[2 * n - 1]
            self.holes = 1
        else:
            self.holes = 0

    def _hidden(self, gap, k, count=False):
        """Of the k - 1 beats between the last step and one `gap` ms after it,
        how many fell in a hole (or so near it that the bump there was not
        seen whole); with `count`, count them as steps."""
        hl = self._hl
        n = 0
        for j in range(1, k):
            tj = self.last_step + gap * j // k
            for i in range(self.holes):
                if hl[2 * i] - _HOLE_EDGE_MS <= tj <= hl[2 * i + 1] + _HOLE_AFTER_MS:
                    n += 1
                    if count:
                        self.steps += 1
                        self._keep(tj)
                    break
        return n

    def feed(self, t_ms, av_mg, filled=False):
        """One frame's vertical specific force (mg) at t (ms); `filled`: a
        frame the engine made up across a hole (the last reading held)."""
        self._t = t_ms
        fake = filled and t_ms <= self._hole_end
        if fake:
            # across a hole the held reading is no signal: the filters see
            # their own slow mean (the held bounce pulled that mean over for
            # the half second after the hole, hiding the steps there)
            av_mg = self.hp16 >> 4
        # band-pass: remove the slow mean (tau ~0.6 s at 25 Hz), then smooth lightly
        if self.hp16 == 0:
            self.hp16 = av_mg << 4      # (started at the first sample: 1 g is no step)
        self.hp16 += ((av_mg << 4) - self.hp16) >> 4
        x = av_mg - (self.hp16 >> 4)
        # two light low-pass stages (~3 Hz) merge the heel-strike double peak into one
        self.sm1 += (x - self.sm1) >> 1
        p = self.prev
        sm = p + ((self.sm1 - p) >> 1)
        # a local maximum, seen one frame late (not of a held reading: the
        # step the hole hid is found from the rhythm, in _peak)
        if p > self.prev2 and p >= sm and self.enabled and not self._pf:
            self._peak(t_ms, p)
        self.prev2 = p
        self.prev = sm
        # (a held frame of a short hole, one bin left empty by jitter at
        # 25 Hz, is as good as the reading)
        self._pf = fake
        if self.walking and t_ms - self.last_step > self.tun.WALK_END_MS:
            self._end_walk(t_ms)
        elif not self.walking and self.pending and t_ms - self.last_step > self.tun.STEP_MAX_MS:
            self.pending = 0

    def _peak(self, t_ms, h):
        hid = 0
        if self.walking:
            gap = t_ms - self.last_step
            k = 0
            if self.holes and self.iv:
                # holes in the data since the last step, and this one about
                # two to four beats after it: the beats that fell in a hole
                # were hidden steps, and the beat held
                k = _beats(gap, self.iv)
                if k:
                    hid = self._hidden(gap, k)
                if hid:
                    gap //= k
            # inside a bout smaller steps (turns, slowing down) still count,
            # on the beat even weak ones (pivot steps, the closing step)
            on_beat = gap * 100 <= self.iv * self.tun.STEP_RHYTHM_PCT
            if not on_beat:
                # the rhythm broke (a stop): the beat's leniency waits for it
                # to come back, a counted step on the beat (swaying on the
                # spot after stopping comes at the walk's beat too)
                self.paused = True
            if self.paused:
                thr = self.peak_avg * self.tun.STEP_REL_WALK_PCT // 100
            else:
                thr = self.peak_avg * self.tun.STEP_REL_RHYTHM_PCT // 100
            lo = self.tun.STEP_MIN_MG // 2
        else:
            thr = self.peak_avg * self.tun.STEP_REL_PCT // 100
            lo = self.tun.STEP_MIN_MG
        if thr < lo:
            thr = lo
        if h < thr:
            return
        dt = t_ms - self.last_step
        if dt < self.tun.STEP_MIN_MS:
            return
        if not self.walking or h * 100 >= self.peak_avg * self.tun.STEP_REL_WALK_PCT:
            # (a weak bump let in on the beat does not lower the bar for the
            # next: shuffling to a stop would otherwise count ever weaker sway)
            self.peak_avg += (h - self.peak_avg) >> 3
        if self.walking:
            iv = self.iv
            if on_beat:
                self.paused = False
            if hid:
                self._hidden(dt, k, True)
                dt //= k
            self._holes_after(t_ms)
            self.last_step = t_ms
            self.last_interval = dt if dt < self.tun.STEP_MAX_MS else self.last_interval
            if dt * 10 < iv * 15:
                self.iv = iv + ((dt - iv) >> 2)
            self.steps += 1
            self._keep(t_ms)
            if self.last_interval:
                self.cadence = 60000 // self.last_interval
            if t_ms - self.last_report >= self.tun.STEPS_REPORT_MS:
                self.last_report = t_ms
                self.emit((E.EV_STEPS, t_ms, self.steps, self.cadence, self.walk_start, 0, 0, 0))
            return
        # not walking yet: is this step regular with the previous ones?
        cb = self._cb
        li = self.last_interval
        if self.pending >= 2 and li and self.holes:
            # (every beat since the last one fell in a hole: the steps due
            # there were hidden, and the rhythm held)
            k = _beats(dt, li)
            if k and self._hidden(dt, k) == k - 1:
                self.pending += k - 1
                cb[1] += h * (k - 1)
                dt //= k
        if self.pending and dt <= self.tun.STEP_MAX_MS:
            if self.pending >= 2 and li and abs(dt - li) * 100 > li * self.tun.STEP_REGULAR_PCT:
                self.pending = 1
                self.first_step = self.last_step
                cb[0] = cb[2]
            if self.pending == 1:
                cb[1] = 0
                cb[3] = t_ms
            self.pending += 1
            cb[1] += h
            self.last_interval = dt
        else:
            self.pending = 1
            self.first_step = t_ms
            self.last_interval = 0
            cb[0] = h
        cb[2] = h
        self.last_step = t_ms
        self._holes_after(t_ms)
        if self.pending >= self.tun.WALK_CONFIRM_STEPS:
            self.walking = True
            if cb[0] * 100 * (self.pending - 1) < cb[1] * self.tun.STEP_FIRST_WEAK_PCT:
                # the first bump was the push-off into the first step, whose
                # heel strike is the next one: not a step of its own
                self.pending -= 1
                self.first_step = cb[3]
            self.steps = self.pending
            ring = self._ring
            for i in range(_RING_N):
                ring[i] = -1    # (not this bout's: before its start)
            n = self.pending - 1
            for i in range(n + 1):
                # (the candidate steps' own times are not kept: spread evenly)
                self._keep(self.first_step + (t_ms - self.first_step) * i // n)
            self.pending = 0
            self.walk_start = self.first_step - self.last_interval // 2
            self.iv = self.last_interval
            self.last_report = t_ms
            self.cadence = 60000 // self.last_interval if self.last_interval else 0
            self.emit((E.EV_WALK_START, t_ms, self.walk_start, 0, 0, 0, 0, 0))
            self.emit((E.EV_STEPS, t_ms, self.steps, self.cadence, self.walk_start, 0, 0, 0))

    def _end_walk(self, t_ms, cap=None):
        end = self.last_step + self.last_interval // 2
        if cap is None:
            cap = t_ms
        if end > cap:
            end = cap
        self.emit((E.EV_WALK_END, t_ms, self.walk_start, end, self.steps, self.cadence, 0, 0))
        self.cancel()

    def finish(self, t_ms):
        self.stop_at(t_ms)

    def _keep(self, t_ms):
        self._ring[self._ri] = t_ms
        self._ri = (self._ri + 1) % _RING_N

    def striding_at(self, t0):
        """Was the wearer walking at t0 (ms): the last two steps before it came
        less than STEP_MAX_MS apart and before it?  (Not only "a walk is
        open": one stays open through a stop, and the first step out of a
        stop may be a lunge's.)"""
        if not self.walking:
            return False
        x1 = x2 = -1
        for x in self._ring:
            if x1 < x < t0:
                x2 = x1
                x1 = x
            elif x2 < x < x1:
                x2 = x
        mx = self.tun.STEP_MAX_MS
        return x2 >= 0 and t0 - x1 <= mx and x1 - x2 <= mx

    def steps_since(self, t0):
        """Steps of the open walk at or after t0 (ms), of the last _RING_N."""
        n = 0
        if self.walking:
            for x in self._ring:
                if x >= t0:
                    n += 1
        return n

    def cancel(self, since=None):
        """What looked like a walk (since `since`, ms) was something else
        (lunges): forget it.  A walk that was under way before then ends at
        its last step before then, with the steps it had."""
        if self.walking and since is not None and self.walk_start < since:
            k = 0
            last = self.walk_start
            ring = self._ring
            for x in ring:
                if x >= since:
                    k += 1
                elif x > last:
                    last = x     # (-1: a slot this bout has not used)
            if self.steps - k >= self.tun.WALK_CONFIRM_STEPS:
                self.steps -= k
                self.last_step = last
                self._end_walk(self._t, since)
                return
        self.walking = False
        self.paused = False
        self.steps = 0
        self.pending = 0

    def stop_at(self, t_ms):
        """The wearer left the upright posture: close a bout now."""
        if self.walking:
            self._end_walk(t_ms)
        self.pending = 0
