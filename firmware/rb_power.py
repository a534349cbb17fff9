"""Power policy: when the belt sleeps, how fast it advertises, what the battery says.

Pure logic with no hardware imports, so the same rules run on the board and
in tests on CPython and the unix port.  rb_app feeds it millisecond ticks and
facts (session open, link up, link busy, activity) and acts on its answers;
rb_board does the actual sleeping and ADC reading.

States, in order of precedence:

    SESSION    a session is open: never sleeps, advertises while unlinked
    LINK       a host is connected
    ADV_FAST   advertising at adv_fast_ms (for adv_fast_s after boot/wake,
               session start or a disconnect: the laptop finds it at once)
    ADV_SLOW   advertising at adv_slow_ms
    SLEEP      deep sleep, woken by the MPU's motion interrupt

Idle time counts from the last activity: boot or wake, the end of a
session, a Control command a person asked for (start, stop, hint, calibrate,
config, raw), a button press, motion seen while no session is open.  A
(re)connection and a laptop's status, time and replay requests are not
activity, so a laptop that keeps reconnecting cannot hold the board awake: a link that is idle for
link_idle_s with nothing left to send is dropped, then the board sleeps.
"""

# LiPo open-circuit voltage (mV) -> charge (%), piecewise linear (typical
# 1-cell LiPo discharge curve at low current)
BAT_CURVE = ((3300, 0), (3600, 10), (3700, 30), (3800, 50), (3900, 65),
             (4000, 80), (4100, 95), (4150, 100))
BAT_AVG_N = 8             # readings in the running mean (one per BATTERY_PERIOD_MS)
BAT_HYST_PCT = 5          # a level clears only this far above its threshold

S_SESSION = 1
S_LINK = 2
S_ADV_FAST = 3
S_ADV_SLOW = 4
S_SLEEP = 5
STATE_NAMES = ("", "session", "link", "adv_fast", "adv_slow", "sleep")

A_NONE = 0
A_END_SESSION = 1         # the session has been idle for session_idle_s (or battery critical)
A_DISCONNECT = 2          # drop an idle link so the board can sleep
A_SLEEP = 3               # deep sleep now

BAT_OK = 0                # same values as rb_events BAT_*
BAT_LOW = 1
BAT_CRITICAL = 2


def battery_pct(mv):
    """0..100 from a LiPo voltage in mV, None if unknown."""
    if mv is None:
        return None
    c = BAT_CURVE
    if mv <= c[0][0]:
        return 0
    for i in range(1, len(c)):
        if mv <= c[i][0]:
            v0, p0 = c[i - 1]
            v1, p1 = c[i]
            return p0 + (mv - v0) * (p1 - p0) // (v1 - v0)
    return 100


class Battery:
    """Running mean of battery readings, its percent, and a low/critical level with hysteresis."""

    def __init__(self, low_pct=15, critical_pct=5):
        self.low_pct = low_pct
        self.critical_pct = critical_pct
        self._ring = [0] * BAT_AVG_N
        self._n = 0
        self._i = 0
        self.mv = None
        self.pct = None
        self.level = BAT_OK

    def feed(self, mv):
        """Add one reading (mV or None: no measurement). Returns the new level if it changed, else None."""
        if mv is None:
            return None
        self._ring[self._i] = mv
        self._i = (self._i + 1) % BAT_AVG_N
        if self._n < BAT_AVG_N:
            self._n += 1
        s = 0
        for k in range(self._n):
            s += self._ring[k]
        self.mv = s // self._n
        self.pct = battery_pct(self.mv)
        lv = self._level(self.pct)
        if lv != self.level:
            self.level = lv
            return lv
        return None

    def _level(self, pct):
        cur = self.level
        # going down is immediate; coming back up needs BAT_HYST_PCT margin (a loaded
        # cell recovers a little when the radio rests: no low/ok/low flapping)
        if pct <= self.critical_pct:
            return BAT_CRITICAL
        if cur == BAT_CRITICAL and pct <= self.critical_pct + BAT_HYST_PCT:
            return BAT_CRITICAL
        if pct <= self.low_pct:
            return BAT_LOW
        if cur >= BAT_LOW and pct <= self.low_pct + BAT_HYST_PCT:
            return BAT_LOW
        return BAT_OK


def _diff(a, b):
    return a - b


class Policy:
    """The sleep / advertising state machine. Times are ms ticks; `diff` is ticks_diff."""

    def __init__(self, cfg_get, now_ms, diff=_diff):
        self.diff = diff
        self.sleep_idle_ms = cfg_get("sleep_idle_s") * 1000
        self.link_idle_ms = cfg_get("link_idle_s") * 1000
        self.session_idle_ms = cfg_get("session_idle_s") * 1000
        self.adv_fast_ms = cfg_get("adv_fast_ms")
        self.adv_slow_ms = cfg_get("adv_slow_ms")
        self.adv_fast_window_ms = cfg_get("adv_fast_s") * 1000
        self.idle_since = now_ms
        self.fast_since = now_ms
        self.session_seen = now_ms    # last activity inside the session
        self.auto_ended = False       # the last session ended by itself: motion resumes
        self.critical = False
        self.state = S_ADV_FAST

    # --- facts
    def activity(self, now_ms):
        """Something the wearer or the laptop did: the idle clock restarts."""
        self.idle_since = now_ms

    def advertise_fast(self, now_ms):
        """Boot, wake, session start, disconnect: advertise fast for adv_fast_s."""
        self.fast_since = now_ms

    def session_started(self, now_ms):
        self.session_seen = now_ms
        self.auto_ended = False
        self.advertise_fast(now_ms)

    def session_activity(self, now_ms):
        """The engine reported activity (rep, hold, step, posture change)."""
        self.session_seen = now_ms

    def session_ended(self, now_ms, auto):
        self.auto_ended = auto
        self.activity(now_ms)

    def motion(self, now_ms):
        """Motion seen while no session is open. True: start a session (the last one ended by itself)."""
        self.activity(now_ms)
        if self.auto_ended and not self.critical:
            self.auto_ended = False
            return True
        return False

    def battery(self, level):
        self.critical = level == BAT_CRITICAL

    # --- decisions
    def decide(self, now_ms, session, connected, link_busy):
        """(state, advertising interval ms or 0, action A_*) for this moment."""
        d = self.diff
        if session:
            fast = d(now_ms, self.fast_since) < self.adv_fast_window_ms
            self.state = S_SESSION
            adv = 0 if connected else (self.adv_fast_ms if fast else self.adv_slow_ms)
            if self.critical or d(now_ms, self.session_seen) >= self.session_idle_ms:
                return self.state, adv, A_END_SESSION
            return self.state, adv, A_NONE
        idle = d(now_ms, self.idle_since)
        if connected:
            self.state = S_LINK
            if self.critical or (idle >= self.link_idle_ms and not link_busy):
                return self.state, 0, A_DISCONNECT
            return self.state, 0, A_NONE
        if self.critical or idle >= self.sleep_idle_ms:
            self.state = S_SLEEP
            return self.state, 0, A_SLEEP
        if d(now_ms, self.fast_since) < self.adv_fast_window_ms:
            self.state = S_ADV_FAST
            return self.state, self.adv_fast_ms, A_NONE
        self.state = S_ADV_SLOW
        return self.state, self.adv_slow_ms, A_NONE


# --- state kept in RTC memory across deep sleep (flash keeps log, seq, bonds, config)
RTC_MAGIC = b"RBP1"
RTC_FMT = "<4sIBiI"       # magic, sleeps, time_set, time_offset_s, board time at sleep (s)


def pack_rtc(sleeps, time_offset_s, sleep_at_s):
    import struct
    return struct.pack(RTC_FMT, RTC_MAGIC, sleeps & 0xFFFFFFFF,
                       0 if time_offset_s is None else 1,
                       0 if time_offset_s is None else time_offset_s, sleep_at_s & 0xFFFFFFFF)


def unpack_rtc(b):
    """(sleeps, time_offset_s or None, sleep_at_s), or None if b is not ours (power-on: RTC memory is noise)."""
    import struct
    if not b or len(b) < struct.calcsize(RTC_FMT) or bytes(b[:4]) != RTC_MAGIC:
        return None
    m, sleeps, tset, off, at = struct.unpack_from(RTC_FMT, b, 0)
    return sleeps, (off if tset else None), at
