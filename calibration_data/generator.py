"""Physically grounded labelled-trace generator for repbelt (host-side tool: CPython + numpy).

It simulates the pelvis / lower back of a person doing the repbelt workout as a
rigid body (orientation R(t), sensor-point position p(t)), derives what an
MPU6050-like IMU strapped to it would measure (specific force and angular
rate), adds the sensor's errors, and writes traces and label sidecars in the
formats of ../shared/trace-format.md (sections 1 and 2).  The model and its
sources are documented in calibration_data/README.md.

Command line:

    python calibration_data/generator.py --out DIR [--seed N] [--quiet] [--only NAME]

Python API (used by the tests):

    import generator
    csv_text, labels = generator.generate("demo_workout", seed=0)
    trace = generator.generate_trace("bridge_focus", seed=3)   # arrays + labels
    s = generator.Session(seed=1)                              # build your own
    s.still(5.0); s.move_to("supine"); s.bridge(5)
    trace = s.render(rate_hz=100, mount="default", name="mine")
"""

import argparse
import io
import json
import math
import os
import sys
import time

import numpy as np

G_MPS2 = 9.80665
GRID_HZ = 400                   # internal kinematics grid; every output rate (<= 200 Hz) is resampled from it
LABEL_FORMAT = "repbelt-labels/1"
GENERATOR_VERSION = "repbelt-generator/3"      # 3: sway_mg of the noise-free reading, line removed; 2: rep ranges per set with scatter
UP = np.array([0.0, 0.0, 1.0])
BACK_POINT_M = np.array([0.0, 0.0, 0.11])      # default sensor point: skin of the lower back, from pelvis centre (body frame)
WAIST_HALF_WIDTH_M = 0.16                      # waist modelled as an ellipse around the body x axis
WAIST_HALF_DEPTH_M = 0.11
SWAY_DETREND_DEGREE = 1                        # sway_mg: straight line removed per axis ("drift removed")
TIME_JITTER_S = 0.0005
ACCEL_LSB_PER_G = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}      # MPU6050 datasheet sensitivities
GYRO_LSB_PER_DPS = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}
DLPF_FRACTION = 0.42                           # MPU6050 DLPF corner as a fraction of the sample rate (44 Hz at 100 Hz)
SIDES = ("left", "right")
PARTIAL_REP_P = 0.06                           # share of reps cut short (60-85% of the set's range)


# ----------------------------------------------------------------------------------------------
# rotations (all vectorised over the first axis)

def rot_x(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def rot_axis(axis, ang):
    """Rotation by ang (rad, scalar or array) about a fixed unit axis (Rodrigues)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    ang = np.asarray(ang, float)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    s, c = np.sin(ang)[..., None, None], np.cos(ang)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def local_rot(ang_deg):
    """Body-frame rotation from local angles (deg) [about x, about y, about z], applied x then y then z."""
    a = np.radians(ang_deg)
    return rot_x(a[..., 0]) @ rot_y(a[..., 1]) @ rot_z(a[..., 2])


def quat_from_mat(m):
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    return q / np.linalg.norm(q)


def mat_from_quat(q):
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)


def slerp_mats(r0, r1, s):
    """Rotation path from r0 to r1 (shortest arc) at fractions s (array in [0, 1])."""
    q0, q1 = quat_from_mat(r0), quat_from_mat(r1)
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    d = min(d, 1.0)
    th = math.acos(d)
    s = np.asarray(s, float)[:, None]
    if th < 1e-6:
        q = q0 + s * (q1 - q0)
    else:
        q = (np.sin((1 - s) * th) * q0 + np.sin(s * th) * q1) / math.sin(th)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return mat_from_quat(q)


def random_rotation(rng):
    q = rng.normal(size=4)
    return mat_from_quat(q / np.linalg.norm(q))


def small_rotation(rng, max_deg):
    axis = rng.normal(size=3)
    return rot_axis(axis, math.radians(rng.uniform(0.0, max_deg)))


def minjerk(s):
    """Minimum-jerk position profile 0 -> 1 (Flash & Hogan 1985): zero velocity and acceleration at both ends."""
    s = np.clip(s, 0.0, 1.0)
    return s * s * s * (10 - 15 * s + 6 * s * s)


def band_noise(rng, m, f_lo, f_hi, fs=GRID_HZ, taper_s=0.5):
    """Unit-RMS noise band-limited to [f_lo, f_hi] Hz, faded in and out so chunks join smoothly."""
    if m < 4:
        return np.zeros(m)
    n_fft = 1 << int(math.ceil(math.log2(m + 16)))
    spec = np.fft.rfft(rng.normal(size=n_fft))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    # raised-cosine band edges avoid ringing
    w = np.clip((f - f_lo * 0.7) / (0.3 * f_lo + 1e-9), 0, 1) * np.clip((f_hi * 1.3 - f) / (0.3 * f_hi), 0, 1)
    w = 0.5 - 0.5 * np.cos(np.pi * w)
    x = np.fft.irfft(spec * w, n_fft)[:m]
    x /= max(np.sqrt(np.mean(x * x)), 1e-12)
    return x * fade(m, taper_s, fs)


def fade(m, taper_s, fs=GRID_HZ):
    k = np.ones(m)
    nt = min(int(taper_s * fs), m // 2)
    if nt > 1:
        r = minjerk(np.arange(nt) / nt)
        k[:nt] = r
        k[m - nt:] = r[::-1]
    return k


def lowpass_zero_phase(x, fc_hz, fs=GRID_HZ):
    """Zero-phase Gaussian low-pass along axis 0 (stands in for the MPU6050's digital low-pass filter)."""
    m, lead = x.shape[0], 256
    n_fft = 1 << int(math.ceil(math.log2(m + 2 * lead)))
    # edge values repeated on both sides so the FFT's wrap-around does not leak the end into the start
    pad = np.concatenate([np.repeat(x[:1], lead, 0), x, np.repeat(x[-1:], n_fft - m - lead, 0)])
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    h = np.exp(-0.5 * (f / fc_hz) ** 2 * math.log(2) * 2)    # -3 dB at fc
    return np.fft.irfft(np.fft.rfft(pad, axis=0) * h[:, None], n_fft, axis=0)[lead:lead + m]


# ----------------------------------------------------------------------------------------------
# postures

def heading_vec(az):
    return np.array([math.cos(az), math.sin(az), 0.0])


def from_xz(x, z):
    x = x / np.linalg.norm(x)
    z = z - x * np.dot(x, z)
    z = z / np.linalg.norm(z)
    return np.column_stack([x, np.cross(z, x), z])


def head_up(r, az, deg):
    """Tilt a lying posture so the head end rises by deg (world rotation about the wearer's left-right line)."""
    left = np.cross(UP, heading_vec(az))
    return rot_axis(left, -math.radians(deg)) @ r


def pose(name, az, subj):
    """Body-to-world rotation of a base posture.

    az is the azimuth the wearer faces (standing, sitting, kneeling) or the head points to (lying, all fours).
    Body frame: x toward the head, y to the wearer's left, z out of the back.
    """
    h = heading_vec(az)
    if name in ("stand", "sit", "kneel"):
        lean = {"stand": subj["stand_lean_deg"], "sit": -22.0, "kneel": 25.0}[name]
        b = math.radians(lean)
        return from_xz(math.cos(b) * UP + math.sin(b) * h, math.sin(b) * UP - math.cos(b) * h)
    if name == "supine":
        return head_up(from_xz(h, -UP), az, subj["supine_pitch_deg"])
    if name == "prone":
        return head_up(from_xz(h, UP), az, subj["prone_pitch_deg"])
    if name == "fours":
        return head_up(from_xz(h, UP), az, subj["fours_pitch_deg"])
    if name == "side_r":        # lying on the right side: the left side (y) is up
        return head_up(from_xz(h, np.cross(h, UP)), az, 4.0)
    if name == "side_l":
        return head_up(from_xz(h, np.cross(h, -UP)), az, 4.0)
    raise ValueError("unknown posture " + name)


# sensor-point height above the floor per posture (m, before the subject's height scale where noted)
HEIGHT_M = {"stand": 1.00, "sit": 0.14, "kneel": 0.58, "fours": 0.64, "supine": 0.10, "prone": 0.21,
            "side_r": 0.17, "side_l": 0.17}
SCALES_WITH_HEIGHT = ("stand", "kneel", "fours")

# posture graph: edge -> (duration range s, azimuth change rad, vertical arc m)
EDGES = {
    ("stand", "sit"): ((2.5, 4.0), 0.0, 0.0), ("sit", "supine"): ((1.5, 2.6), math.pi, 0.0),
    ("stand", "kneel"): ((1.5, 2.5), 0.0, 0.0), ("kneel", "fours"): ((1.2, 2.0), 0.0, 0.0),
    ("fours", "prone"): ((1.8, 3.0), 0.0, 0.0),
    ("supine", "side_r"): ((1.0, 2.0), 0.0, 0.05), ("supine", "side_l"): ((1.0, 2.0), 0.0, 0.05),
    ("side_r", "prone"): ((1.0, 2.0), 0.0, 0.05), ("side_l", "prone"): ((1.0, 2.0), 0.0, 0.05),
}


def _neighbours(p):
    for (a, b), v in EDGES.items():
        if a == p:
            yield b, v
        elif b == p:
            yield a, v


def posture_path(a, b):
    """Shortest chain of postures from a to b (breadth first over EDGES)."""
    prev = {a: None}
    todo = [a]
    while todo:
        cur = todo.pop(0)
        if cur == b:
            break
        for nxt, _ in _neighbours(cur):
            if nxt not in prev:
                prev[nxt] = cur
                todo.append(nxt)
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return path[::-1]


def random_subject(rng):
    """Per-person parameters: how big, fast and sloppy this person moves."""
    u = rng.uniform
    return {
        "amp": u(0.8, 1.2), "tempo": u(0.8, 1.25), "slop": u(0.0, 1.0), "height": u(0.92, 1.08),
        "breath_hz": u(0.2, 0.32), "breath_deg": u(0.15, 0.5), "breath_mm": u(0.5, 2.0),
        "stand_sway": u(0.5, 1.5), "stand_lean_deg": u(-3.0, 4.0),
        "supine_pitch_deg": u(-4.0, 4.0), "prone_pitch_deg": u(-3.0, 3.0), "fours_pitch_deg": u(-6.0, 8.0),
        "plank_pitch_deg": u(8.0, 14.0), "cobra_pitch_deg": u(25.0, 40.0), "side_incline_deg": u(12.0, 22.0),
        "cadence_hz": u(1.6, 2.1), "step_var": u(0.01, 0.04), "walk_vert_m": u(0.01, 0.025),
        "walk_asym": u(-0.1, 0.1), "step_len_m": u(0.6, 0.78),
    }


# ----------------------------------------------------------------------------------------------
# the session: a timeline of chunks on the internal grid

class Session:
    """Builds one recording: postures, transitions, exercises, rests; then render() makes the trace.

    Every builder appends a chunk of grid samples: base rotation R (m,3,3), local body angles (m,3, deg),
    sensor-point world position p (m,3, m), extra world acceleration (m,3, m/s^2) and strap
    perturbation angles (m,3, deg).  State carries over so chunks join without jumps.
    """

    def __init__(self, seed=0, subject=None, posture="stand", az=None):
        self.rng = np.random.default_rng(seed)
        self.amp_rng = np.random.default_rng([seed, 1])
        self._set_amp = {}
        self.subj = dict(random_subject(self.rng), **(subject or {}))
        self.az = self.rng.uniform(0, 2 * math.pi) if az is None else az
        self.posture = posture
        self.R = pose(posture, self.az, self.subj)
        self.p = np.array([0.0, 0.0, self._height(posture)])
        self.chunks = []
        self.n = 0
        self.segments = []
        self.mnt_off = np.zeros(3)      # strap rotation accumulated by strap adjustments (deg)

    # -- plumbing
    @property
    def t(self):
        return self.n / GRID_HZ

    def _height(self, posture):
        h = HEIGHT_M[posture]
        return h * self.subj["height"] if posture in SCALES_WITH_HEIGHT else h

    def _frame(self):
        """World unit vectors of the current heading frame: along az, to its left, up."""
        h = heading_vec(self.az)
        return h, np.cross(UP, h), UP

    def _m(self, dur):
        return max(int(round(dur * GRID_HZ)), 1)

    def _emit(self, R=None, p=None, ang=None, acc=None, mnt=None, m=None):
        if m is None:
            m = len(p) if p is not None else len(R)
        z = np.zeros((m, 3))
        R = np.broadcast_to(self.R, (m, 3, 3)) if R is None else R
        p = np.broadcast_to(self.p, (m, 3)) if p is None else p
        mnt = np.tile(self.mnt_off, (m, 1)) if mnt is None else mnt
        self.chunks.append((np.array(R), np.array(p), z if ang is None else ang, z if acc is None else acc, mnt))
        t0 = self.t
        self.n += m
        return t0

    def _u(self, lo, hi):
        return float(self.rng.uniform(lo, hi))

    def _label(self, seg):
        seg = {k: (round(float(v), 3) if isinstance(v, float) else v) for k, v in seg.items()}
        if "rep_ends" in seg:
            seg["rep_ends"] = [round(float(x), 3) for x in seg["rep_ends"]]
        self.segments.append(seg)
        return seg

    # -- stillness, rest and fidgets
    def still(self, dur):
        """Keep the current posture (breathing is added over the whole trace; standing adds postural sway)."""
        m = self._m(dur)
        ang = p_off = None
        if self.posture in ("stand", "kneel", "sit"):
            k = self.subj["stand_sway"] * (1.0 if self.posture == "stand" else 0.4)
            ang = np.column_stack([band_noise(self.rng, m, 0.1, 0.7) * 0.3 * k for _ in range(3)])
            h, left, _ = self._frame()
            p_off = self.p + (np.outer(band_noise(self.rng, m, 0.1, 0.7), h) +
                              np.outer(band_noise(self.rng, m, 0.1, 0.7), left)) * 0.003 * k
        self._emit(p=p_off, ang=ang, m=m)

    def rest(self, dur, fidget_p=0.5):
        """Rest in the current posture, sometimes with a fidget in the middle (never a labelled segment)."""
        if self.rng.uniform() < fidget_p and dur > 6:
            a = self._u(1.5, dur / 2 - 1.5)
            self.still(a)
            t0 = self.t
            self.fidget()
            self.still(max(dur - a - (self.t - t0), 1.0))
        else:
            self.still(dur)

    def fidget(self, kind=None):
        """A short movement that is not an exercise: shift, wiggle, scratch, strap adjustment, reach."""
        kinds = ["shift", "wiggle", "scratch", "strap"]
        if self.posture in ("supine", "prone", "side_r", "side_l"):
            kinds.append("reach")
        kind = kind or kinds[self.rng.integers(len(kinds))]
        rng = self.rng
        h, left, up = self._frame()
        if kind == "shift":        # settle into a slightly different position: stays shifted
            dur = self._u(0.8, 2.0)
            m = self._m(dur)
            d_ang = rng.normal(size=3) * np.array([3.0, 3.0, 3.0])
            s = minjerk(np.linspace(0, 1, m))[:, None]
            dp = (rng.normal(size=3) * np.array([0.02, 0.02, 0.005])) @ np.array([h, left, up])
            R = self.R @ local_rot(s * d_ang)
            p = self.p + s * dp
            self._emit(R=R, p=p)
            self.R, self.p = R[-1].copy(), p[-1].copy()
        elif kind == "wiggle":     # hip wiggle: 2-4 quick roll/yaw swings and back
            f = self._u(1.5, 3.0)
            dur = self._u(2, 4) / f
            m = self._m(dur)
            tt = np.arange(m) / GRID_HZ
            env = fade(m, 0.25 / f)
            amp = rng.uniform(1.0, 4.0, 3) * np.array([1, 0.4, 1])
            ang = np.outer(np.sin(2 * math.pi * f * tt) * env, amp)
            p = self.p + np.outer(np.sin(2 * math.pi * f * tt + 0.5) * env * self._u(0.003, 0.01), left)
            self._emit(p=p, ang=ang)
        elif kind == "scratch":    # an arm scratching / waving: small fast jitter reaches the pelvis
            m = self._m(self._u(1.5, 4.0))
            f_lo = self._u(3.0, 4.5)
            ang = np.column_stack([band_noise(rng, m, f_lo, f_lo + 2, taper_s=0.2) * self._u(0.1, 0.5)
                                   for _ in range(3)])
            p = self.p + np.column_stack([band_noise(rng, m, f_lo, f_lo + 2, taper_s=0.2) * self._u(0.0002, 0.0008)
                                          for _ in range(3)])
            self._emit(p=p, ang=ang)
        elif kind == "strap":      # hands on the belt: the sensor is jostled and ends up a little rotated
            m = self._m(self._u(1.5, 3.0))
            mnt = np.column_stack([band_noise(rng, m, 2.0, 5.0, taper_s=0.2) * self._u(0.4, 1.5) for _ in range(3)])
            settle = minjerk(np.linspace(0, 1, m))[:, None] * rng.normal(size=3) * 0.8
            mnt += self.mnt_off + settle
            self._emit(mnt=mnt, m=m)
            self.mnt_off = self.mnt_off + settle[-1]
        elif kind == "reach":      # prop up on an elbow to reach for something, then lie back
            up_t, hold, down = self._u(0.8, 1.5), self._u(0.5, 2.0), self._u(0.8, 1.5)
            deg = self._u(10.0, 30.0)
            m1, m2, m3 = self._m(up_t), self._m(hold), self._m(down)
            s = np.concatenate([minjerk(np.linspace(0, 1, m1)), np.ones(m2), minjerk(np.linspace(1, 0, m3))])
            roll = self._u(-8, 8)
            R = np.array([head_up(self.R, self.az, deg * x) for x in s]) @ local_rot(np.outer(s, [roll, 0, 0]))
            p = self.p + np.outer(s, up * self._u(0.01, 0.04))
            self._emit(R=R, p=p)
        return kind

    # -- transitions
    def move_to(self, posture, speed=1.0):
        """Move to a posture along the posture graph (lie down, roll over, get up, kneel...)."""
        path = posture_path(self.posture, posture)
        for a, b in zip(path, path[1:]):
            v = EDGES.get((a, b)) or EDGES[(b, a)]
            (lo, hi), d_az, arc = v
            dur = self._u(lo, hi) * self.subj["tempo"] / speed
            self._transition(b, self.az + d_az, dur, arc)
        return self

    def _transition(self, posture, az, dur, arc=0.0, R_to=None, p_to=None):
        m = self._m(dur)
        s = minjerk(np.linspace(0, 1, m))
        if R_to is None:
            # a little of the posture's random variation each time it is taken
            R_to = pose(posture, az, self.subj) @ local_rot(self.rng.normal(size=3) * 1.5)
        if p_to is None:
            h, left, _ = self._frame()
            p_to = self.p.copy()
            p_to[2] = self._height(posture)
            p_to[:2] += (h * self._u(-0.15, 0.15) + left * self._u(-0.1, 0.1))[:2]
        R = slerp_mats(self.R, R_to, s)
        p = self.p + np.outer(s, p_to - self.p)
        p[:, 2] += arc * np.sin(math.pi * s)
        # getting down or up is not a single smooth sweep: the pelvis wobbles a little on the way
        p += np.column_stack([band_noise(self.rng, m, 1.0, 3.0, taper_s=0.2) * 0.0015 for _ in range(3)])
        self._emit(R=R, p=p)
        self.R, self.p, self.az, self.posture = R_to, p_to, az, posture

    def calibration_routine(self):
        """Mount calibration (trace-format 'calibrate'): stand still >= 3 s, then lie still on the back >= 3 s."""
        if self.posture != "stand":
            self.move_to("stand")
        self.still(self._u(3.5, 5.0))
        self.move_to("supine")
        self.still(self._u(3.5, 5.0))

    # -- repetition exercises
    def _rep_timing(self, lo=2.0, hi=5.0, hold=(0.2, 1.5)):
        tempo, slop = self.subj["tempo"], self.subj["slop"]
        j = 1 + 0.15 * slop * self.rng.normal()
        up = self._u(0.7, 1.5) * tempo * j
        down = self._u(0.7, 1.5) * tempo * j
        hl = self._u(*hold) * (1 + 0.3 * slop * self.rng.normal())
        total = up + max(hl, 0.1) + down
        k = min(max(total, lo), hi) / total
        return up * k, max(hl, 0.1) * k, down * k

    def _amp(self, lo, hi, key=None):
        """Per-rep amplitude: the range this person uses for this set, rep-to-rep scatter.

        A person repeats a movement to much the same range within a set: the
        range is drawn once per set (times the person's scale); each rep
        scatters around it (CV 4-12%, growing with sloppiness) and now and
        then one is a partial rep (60-85% of the set's range).  Amplitudes
        come from their own random stream, so the amplitude model can change
        without moving the timing and noise of a recording.
        """
        r = self.amp_rng
        k = key or (lo, hi)
        base = self._set_amp.get(k)
        if base is None:
            base = self._set_amp[k] = r.uniform(lo, hi) * self.subj["amp"]
        a = base * (1 + 0.08 * (0.5 + self.subj["slop"]) * r.normal())
        if r.uniform() < PARTIAL_REP_P:
            a *= r.uniform(0.6, 0.85)
        return a

    def _ensure(self, posture):
        if self.posture != posture:
            self.move_to(posture)
            self.still(self._u(1.0, 2.5))

    def _rep_set(self, kind, reps, make_rep, pause=(0.3, 1.2)):
        """Run reps; make_rep(i) -> (keyframes [(dur, vec6)], side, range_deg, extra_acc_fn or None).

        vec6 = [angle about body x, y, z (deg), offset along heading, left of heading, up (m)],
        reached with minimum-jerk moves; the last keyframe must return to zero (back at start).
        """
        h, left, up = self._frame()
        basis = np.array([h, left, up])
        t_start = self.t
        self._set_amp = {}
        rep_ends, sides, ranges = [], [], []
        for i in range(reps):
            frames, side, rng_deg, acc_fn = make_rep(i)
            pieces, cur = [], np.zeros(6)
            for dur, vec in frames:
                m = self._m(dur)
                s = minjerk(np.arange(1, m + 1) / m)[:, None]
                pieces.append(cur + s * (np.asarray(vec) - cur))
                cur = np.asarray(vec, float)
            path = np.concatenate(pieces)
            # the person is never perfectly rigid: small tremor while moving
            path[:, :3] += np.column_stack([band_noise(self.rng, len(path), 4, 8, taper_s=0.1) * 0.04
                                            for _ in range(3)])
            p = self.p + path[:, 3:] @ basis
            acc = acc_fn(len(path)) if acc_fn else None
            t0 = self._emit(p=p, ang=path[:, :3], acc=acc)
            rep_ends.append(t0 + len(path) / GRID_HZ)
            sides.append(side)
            ranges.append(round(rng_deg, 1))
            if i < reps - 1:
                self.still(self._u(*pause) * (1 + 0.3 * self.subj["slop"] * self.rng.uniform()))
        seg = {"kind": kind, "start": t_start, "end": rep_ends[-1] + 0.1, "reps": reps, "rep_ends": rep_ends,
               "range_deg": ranges}
        if any(s is not None for s in sides):
            seg["sides"] = sides
        self.still(0.1)
        return self._label(seg)

    def _slop(self, deg):
        return self.rng.normal(size=3) * deg * (0.3 + self.subj["slop"])

    def bridge(self, reps):
        """Glute bridge: hips lift 10-15 cm pivoting on the shoulders; lumbar sensor pitches 15-30 deg head end down."""
        self._ensure("supine")
        lever = 0.46 * self.subj["height"]

        def rep(i):
            theta = min(max(self._amp(15.0, 30.0), 12.0), 34.0)
            lift = float(np.clip(self._u(0.10, 0.15) * self.subj["amp"], 0.08, 0.17))
            trunk = math.asin(min(lift / lever, 0.6))          # pivot geometry: shoulders stay down
            up, hold, down = self._rep_timing(2.4, 5.0, (0.4, 1.5))
            sl = self._slop(1.5)
            top = [sl[0], -theta, sl[2], lever * (1 - math.cos(trunk)), 0.0, lift]
            top_hold = [top[0] + sl[1] * 0.5, -theta * 1.03] + top[2:]
            return [(up, top), (hold, top_hold), (down, [0] * 6)], None, theta, None

        return self._rep_set("bridge", reps, rep)

    def pelvic_tilt(self, reps):
        """Posterior pelvic tilt lying on the back: 5-12 deg pitch, about 1 cm of movement."""
        self._ensure("supine")

        def rep(i):
            theta = min(max(self._amp(5.0, 12.0), 4.0), 14.0)
            up, hold, down = self._rep_timing(2.0, 5.0, (0.5, 2.0))
            sl = self._slop(0.5)
            top = [sl[0], -theta, sl[2], 0.004, 0.0, self._u(0.003, 0.012)]
            return [(up, top), (hold, top), (down, [0] * 6)], None, theta, None

        return self._rep_set("pelvic_tilt", reps, rep)

    def knee_twist(self, reps):
        """Supine knee twist: knees drop to one side; pelvis rolls 10-30 deg about the long axis, alternating."""
        self._ensure("supine")
        first = int(self.rng.integers(2))

        def rep(i):
            side = SIDES[(i + first) % 2]
            alpha = min(max(self._amp(10.0, 30.0), 8.0), 34.0)
            sign = 1.0 if side == "left" else -1.0       # +x rotation moves the left side toward the back (down)
            up, hold, down = self._rep_timing(2.5, 5.0, (0.3, 1.5))
            sl = self._slop(1.0)
            # the supine wearer's left is the heading frame's right
            top = [sign * alpha, sl[1], sl[2], 0.0, -sign * self._u(0.01, 0.04), self._u(0.0, 0.02)]
            return [(up, top), (hold, top), (down, [0] * 6)], side, alpha, None

        return self._rep_set("knee_twist", reps, rep)

    def leg_raise(self, reps, variant="alternating"):
        """Prone leg raise: anterior tilt 3-10 deg (head end down); single-leg lifts also roll 2-6 deg."""
        self._ensure("prone")
        first = int(self.rng.integers(2))

        def rep(i):
            theta = min(max(self._amp(3.0, 10.0), 2.5), 12.0)
            up, hold, down = self._rep_timing(2.0, 4.5, (0.4, 1.5))
            sl = self._slop(0.5)
            if variant == "superman":
                side, roll = "both", sl[0]
            else:
                side = SIDES[(i + first) % 2]
                roll = (1.0 if side == "left" else -1.0) * self._u(2.0, 6.0)   # lifted side rises (prone: +x = left up)
            top = [roll, theta, sl[2], 0.0, 0.0, self._u(0.0, 0.01)]
            return [(up, top), (hold, top), (down, [0] * 6)], side, theta, None

        return self._rep_set("leg_raise", reps, rep)

    def bird_dog(self, reps):
        """On all fours: opposite arm and leg up; pelvis rolls 5-15 deg toward the lifted leg, shifts to the support side."""
        self._ensure("fours")
        first = int(self.rng.integers(2))

        def rep(i):
            side = SIDES[(i + first) % 2]                  # side of the lifted leg
            sign = 1.0 if side == "left" else -1.0
            alpha = min(max(self._amp(5.0, 15.0), 4.0), 18.0)
            up, hold, down = self._rep_timing(2.5, 5.0, (0.5, 1.8))
            sl = self._slop(1.0)
            top = [sign * alpha, self._u(2.0, 6.0), sl[2], 0.0, -sign * self._u(0.02, 0.04), self._u(0.0, 0.015)]
            return [(up, top), (hold, top), (down, [0] * 6)], side, alpha, None

        return self._rep_set("bird_dog", reps, rep)

    def cat_cow(self, reps):
        """All fours: round the back (cat, posterior tilt, lumbar up) then arch (cow, anterior tilt, lumbar down)."""
        self._ensure("fours")

        def rep(i):
            cat = min(max(self._amp(10.0, 20.0, "cat"), 8.0), 22.0)
            cow = min(max(self._amp(10.0, 20.0, "cow"), 8.0), 22.0)
            tempo = self.subj["tempo"]
            t1, t2, t3 = self._u(0.9, 1.4) * tempo, self._u(1.4, 2.0) * tempo, self._u(0.8, 1.3) * tempo
            hold1, hold2 = self._u(0.2, 0.8), self._u(0.2, 0.8)
            total = t1 + hold1 + t2 + hold2 + t3
            k = min(total, 6.5) / total
            sl = self._slop(0.8)
            a = [sl[0], -cat, sl[2], 0.0, 0.0, self._u(0.03, 0.05)]
            b = [-sl[0], cow, -sl[2], 0.0, 0.0, -self._u(0.02, 0.04)]
            frames = [(t1 * k, a), (hold1 * k, a), (t2 * k, b), (hold2 * k, b), (t3 * k, [0] * 6)]
            return frames, None, cat + cow, None

        return self._rep_set("cat_cow", reps, rep, pause=(0.2, 0.8))

    def lunge(self, reps):
        """Forward lunge: step out, pelvis drops 25-40 cm and moves forward, back up; legs alternate."""
        self._ensure("stand")
        first = int(self.rng.integers(2))
        drops = []

        def rep(i):
            side = SIDES[(i + first) % 2]                  # leg that steps forward
            sign = 1.0 if side == "left" else -1.0
            drop = float(np.clip(self._u(0.25, 0.40) * self.subj["amp"], 0.22, 0.42))
            fwd = self._u(0.30, 0.50)
            lean = self._u(4.0, 10.0)
            up, hold, down = self._rep_timing(2.8, 5.0, (0.2, 0.7))
            yaw = sign * self._u(2.0, 6.0)                  # pelvis turns away from the front leg (about body x = vertical)
            obl = sign * self._u(1.0, 4.0)
            mid = [yaw * 0.5, lean * 0.4, obl * 0.3, fwd * 0.6, sign * 0.02, -drop * 0.2]
            bottom = [yaw, lean, obl, fwd, sign * 0.03, -drop]
            frames = [(up * 0.45, mid), (up * 0.55, bottom), (hold, bottom), (down * 0.6, mid), (down * 0.4, [0] * 6)]
            t_land = up * 0.45

            def acc_fn(m):
                # the front foot's heel strike and push-off: short zero-mean jolts along the vertical
                acc = np.zeros((m, 3))
                tt = np.arange(m) / GRID_HZ
                for tc, a in ((t_land, self._u(1.0, 3.0)), (up + hold + down * 0.15, self._u(0.5, 1.5))):
                    acc += np.outer(_jolt(tt - tc), UP * a)
                return acc

            drops.append(round(drop * 100.0, 1))
            return frames, side, lean, acc_fn

        seg = self._rep_set("lunge", reps, rep, pause=(0.4, 1.2))
        seg["drop_cm"] = drops
        return seg

    # -- holds
    def _hold(self, kind, hold_s, R_of, enter_dur, exit_posture, p_hold, sway_mg=None, side=None):
        """Enter a hold, keep it hold_s seconds with tremor, sway and slow sag/pike drift, leave it."""
        rng = self.rng
        R_hold0 = R_of(0.0)
        self._transition(self.posture, self.az, enter_dur, 0.0, R_to=R_hold0, p_to=p_hold)
        m = self._m(hold_s)
        target = float(np.exp(rng.uniform(math.log(2.0), math.log(40.0)))) if sway_mg is None else sway_mg
        share_ang, share_trem = self._u(0.55, 0.85), self._u(0.1, 0.3)
        share_tr = max(1 - share_ang - share_trem, 0.05)
        tot = math.sqrt(share_ang ** 2 + share_trem ** 2 + share_tr ** 2)
        ang_rms_deg = math.degrees(target * share_ang / tot / 1000.0 / math.sqrt(2))
        f_sway = self._u(0.2, 0.5)
        ang = np.column_stack([band_noise(rng, m, f_sway, f_sway + 0.5, taper_s=1.0) * ang_rms_deg,
                               band_noise(rng, m, f_sway, f_sway + 0.5, taper_s=1.0) * ang_rms_deg,
                               band_noise(rng, m, f_sway, f_sway + 0.5, taper_s=1.0) * ang_rms_deg * 0.5])
        f_tr = self._u(8.0, 10.0)
        trem_acc = target * share_trem / tot / 1000.0 * G_MPS2 / math.sqrt(2)
        trem = np.column_stack([band_noise(rng, m, f_tr, f_tr + 2.0, taper_s=0.5) for _ in range(3)])
        trem *= trem_acc / (2 * math.pi * (f_tr + 1.0)) ** 2
        sway_acc = target * share_tr / tot / 1000.0 * G_MPS2 / math.sqrt(2)
        trans = np.column_stack([band_noise(rng, m, f_sway, f_sway + 0.5, taper_s=1.0) for _ in range(3)])
        trans *= sway_acc / (2 * math.pi * (f_sway + 0.25)) ** 2
        drift_deg = self._u(-2.0, 6.0)                  # positive: sag (head end rises as the hips drop)
        s = minjerk(np.linspace(0, 1, m)) * 0.5 + np.linspace(0, 0.5, m)
        # the drift is slow: orientations every 0.1 s, linearly blended and re-orthonormalised in between
        step = GRID_HZ // 10
        at = np.unique(np.append(np.arange(0, m, step), m - 1))
        keys = np.array([R_of(drift_deg * s[i]) for i in at])
        i1 = np.clip(np.searchsorted(at, np.arange(m), side="right"), 1, len(at) - 1)
        i0 = i1 - 1
        w = np.clip((np.arange(m) - at[i0]) / np.maximum(at[i1] - at[i0], 1), 0, 1)[:, None, None]
        R = keys[i0] * (1 - w) + keys[i1] * w
        u_, _, vt = np.linalg.svd(R)
        R = u_ @ vt
        p = p_hold + trem + trans
        t0 = self._emit(R=R, p=p, ang=ang)
        seg = {"kind": kind, "start": t0, "end": t0 + m / GRID_HZ, "hold_s": m / GRID_HZ,
               "drift_deg": round(drift_deg, 2), "sway_target_mg": round(target, 2)}
        if side:
            seg["side"] = side
        self.R, self.p = R[-1].copy(), p_hold.copy()
        label = self._label(seg)
        self._transition(exit_posture, self.az, enter_dur * self._u(0.8, 1.2), 0.0)
        return label

    def plank(self, hold_s, sway_mg=None):
        """Forearm plank: prone, body straight, pelvis 35-45 cm up, head end up 8-14 deg."""
        self._ensure("prone")
        base = pose("prone", self.az, self.subj)
        pitch = self.subj["plank_pitch_deg"]
        p_hold = self.p + np.array([0, 0, 0.42 * self.subj["height"] - self.p[2]])
        return self._hold("plank", hold_s, lambda d: head_up(base, self.az, pitch + d), self._u(1.5, 2.5),
                          "prone", p_hold, sway_mg)

    def cobra(self, hold_s, sway_mg=None):
        """Cobra: prone, arms straight, lumbar extended: head end up 25-40 deg, pelvis stays down."""
        self._ensure("prone")
        base = pose("prone", self.az, self.subj)
        pitch = self.subj["cobra_pitch_deg"]
        p_hold = self.p + np.array([0, 0, self._u(0.02, 0.05)])
        return self._hold("cobra", hold_s, lambda d: head_up(base, self.az, pitch - 0.5 * d), self._u(1.5, 2.5),
                          "prone", p_hold, sway_mg)

    def side_plank(self, hold_s, side=None, sway_mg=None):
        """Side plank on one forearm: side up, body line rising 15-25 deg toward the head. side = the side down."""
        side = side or SIDES[int(self.rng.integers(2))]
        lying = "side_r" if side == "right" else "side_l"
        self._ensure(lying)
        base = pose(lying, self.az, self.subj)
        inc = self.subj["side_incline_deg"]
        roll = self._u(-8.0, 8.0)
        p_hold = self.p + np.array([0, 0, 0.36 * self.subj["height"] - self.p[2]])
        return self._hold("side_plank", hold_s,
                          lambda d: head_up(base, self.az, inc + d) @ local_rot(np.array([roll, 0, 0])),
                          self._u(1.5, 2.5), lying, p_hold, sway_mg, side=side)

    # -- walking
    def walk(self, dur, turns=0, cadence_hz=None):
        """Walk about dur seconds: pelvis bounce at step frequency, sway and roll/yaw at stride frequency.

        Steps are heel strikes; turns are 180 deg U-turns while walking.
        """
        self._ensure("stand")
        rng, sj = self.rng, self.subj
        f = float(np.clip((cadence_hz or sj["cadence_hz"]) * self._u(0.96, 1.04), 1.6, 2.1))
        n_steps = max(int(dur * f), 4)
        per = (1.0 / f) * (1 + sj["step_var"] * rng.normal(size=n_steps))
        per *= 1 + 0.03 * np.sin(np.linspace(0, self._u(1, 4), n_steps))      # slow cadence drift
        first = 0.55 / f
        t_hs = first + np.concatenate([[0.0], np.cumsum(per[1:])])               # heel strikes (local time)
        t_end = t_hs[-1] + 0.6 / f
        m = self._m(t_end + 0.05)
        tt = np.arange(m) / GRID_HZ
        # phase: 2*pi*k at the k-th heel strike (k = 1..n), starting half a step back; smoothed twice so its
        # second derivative (the cadence change) stays finite
        phi = np.interp(tt, np.concatenate([[0.0], t_hs, [t_end]]),
                        2 * np.pi * np.concatenate([[0.5], np.arange(1, n_steps + 1), [n_steps + 0.5]]))
        w = int(0.12 * GRID_HZ)
        ker = np.ones(w) / w
        for _ in range(2):
            phi = np.convolve(np.pad(phi, (w, w), mode="reflect", reflect_type="odd"), ker, "same")[w:-w]
        env = np.clip(tt / (t_hs[0] + 0.5 / f), 0, 1)
        env = minjerk(env) * minjerk(np.clip((t_end - tt) / (1.2 / f), 0, 1))
        env = np.maximum(env, 0) * (1 - 0.15 * (1 - minjerk(np.clip(tt / (t_hs[1] + 0.1), 0, 1))))
        asym = 1 + sj["walk_asym"] * np.cos(phi / 2)
        # step-to-step variability of every amplitude: slow multiplicative noise
        var = [1 + 0.12 * band_noise(rng, m, 0.2, 1.0, taper_s=0) for _ in range(6)]
        a_v = sj["walk_vert_m"] * self._u(0.9, 1.1)
        z = -a_v * env * asym * var[0] * (np.cos(phi - self._u(0.2, 0.6)) + self._u(0.1, 0.3) * np.cos(2 * phi + self._u(0, 6.3)))
        x_ap = self._u(0.01, 0.022) * env * var[1] * (np.sin(phi - self._u(0.0, 0.8)) +
                                                     self._u(0.1, 0.3) * np.sin(2 * phi + self._u(0, 6.3)))
        y_ml = self._u(0.015, 0.03) * env * var[2] * np.sin(phi / 2 + self._u(-0.3, 0.3))

        def stride_wave(lo, hi, v):
            """Stride-frequency rotation with its step-frequency and 3/2 harmonics (real pelvis rates are not sinusoids)."""
            return self._u(lo, hi) * env * v * (np.sin(phi / 2 + self._u(0, 6.3)) + self._u(0.1, 0.35) * np.sin(phi + self._u(0, 6.3))
                                                + self._u(0.05, 0.25) * np.sin(1.5 * phi + self._u(0, 6.3)))
        rot = stride_wave(3.0, 7.0, var[3])          # pelvic rotation, about body x (vertical)
        obl = stride_wave(2.0, 5.0, var[4])          # obliquity, about body z
        tilt = self._u(1.0, 3.0) * env * var[5] * np.sin(phi + self._u(0, 2 * math.pi))     # anteroposterior tilt, body y
        jitter = np.column_stack([band_noise(rng, m, 2.0, 6.0, taper_s=0.3) * self._u(0.1, 0.4) for _ in range(3)])
        ang = np.column_stack([rot, tilt, obl]) + jitter * env[:, None]
        # heading: U-turns spread over the walk, each ~2.5 s, with slowing down
        psi = np.zeros(m)
        speed_k = np.ones(m)
        for j in range(turns):
            tc = t_end * (j + 1) / (turns + 1)
            td = self._u(2.0, 3.0)
            psi += math.pi * minjerk((tt - (tc - td / 2)) / td) * (1 if j % 2 == 0 else -1)
            speed_k -= 0.45 * np.exp(-0.5 * ((tt - tc) / (td / 2.5)) ** 2)
        speed = sj["step_len_m"] * f * minjerk(np.clip(tt / (t_hs[1] + 0.2), 0, 1)) * speed_k
        speed *= minjerk(np.clip((t_end - tt) / (1.0 / f + 0.2), 0, 1))
        heading = self.az + psi
        hx, hy = np.cos(heading), np.sin(heading)
        p = np.tile(self.p, (m, 1))
        p[:, 0] += np.cumsum(speed * hx) / GRID_HZ + x_ap * hx - y_ml * hy
        p[:, 1] += np.cumsum(speed * hy) / GRID_HZ + x_ap * hy + y_ml * hx
        p[:, 2] += z
        R = rot_z(psi) @ self.R            # turning about the vertical from the current stance
        # heel strike transients: zero-mean jolt, upward, backward and toward the stance side, scaled by the
        # envelope at each strike (first and last steps are softer)
        acc = np.zeros((m, 3))
        jolt_mps2 = self._u(3.0, 7.0)
        foot0 = int(rng.integers(2))
        for k, th in enumerate(t_hs):
            e = float(np.interp(th, tt, env))
            i0, i1 = max(int((th - 0.4) * GRID_HZ), 0), min(int((th + 0.4) * GRID_HZ), m)
            jolt = _loading_response(rng, tt[i0:i1] - th) * e * jolt_mps2 * self._u(0.75, 1.25)
            hd = heading[min(int(th * GRID_HZ), m - 1)]
            side = 1.0 if (k + foot0) % 2 == 0 else -1.0
            lx, ly = -math.sin(hd), math.cos(hd)
            acc[i0:i1, 2] += jolt
            acc[i0:i1, 0] += jolt * (-0.5 * math.cos(hd) + 0.25 * side * lx)
            acc[i0:i1, 1] += jolt * (-0.5 * math.sin(hd) + 0.25 * side * ly)
        t0 = self._emit(R=R, p=p, ang=ang, acc=acc)
        self.R, self.p, self.az = R[-1].copy(), p[-1].copy(), float(heading[-1])
        seg = {"kind": "walk", "start": t0, "end": t0 + t_hs[-1] + 0.3, "steps": int(n_steps), "turns": turns,
               "cadence_spm": round(60 * n_steps / (t_hs[-1] - t_hs[0] + 1.0 / f), 1)}
        self.still(0.3)
        return self._label(seg)

    # -- rendering
    def render(self, rate_hz=100, mount="default", has_gyro=True, accel_range_g=4, gyro_range_dps=500,
               name="trace", seed_note=""):
        return render(self, rate_hz, mount, has_gyro, accel_range_g, gyro_range_dps, name, seed_note)


def _jolt(dt, sigma_s=0.015, wide_s=0.07):
    """Unit-peak zero-mean pulse: a sharp Gaussian minus a wide one of equal area (velocity stays bounded)."""
    a = np.exp(-0.5 * (dt / sigma_s) ** 2)
    b = np.exp(-0.5 * (dt / wide_s) ** 2) * (sigma_s / wide_s)
    return a - b


def _loading_response(rng, dt):
    """Heel strike and loading response: 2-3 overlapping bumps in the first ~150 ms after contact, unit peak,
    minus a wide bump of equal area so the pulse is zero-mean (velocity stays bounded)."""
    out = np.zeros_like(dt)
    area, centre = 0.0, 0.0
    for off, sig, amp in ((rng.uniform(0.0, 0.02), rng.uniform(0.012, 0.025), 1.0),
                          (rng.uniform(0.04, 0.09), rng.uniform(0.02, 0.04), rng.uniform(0.3, 0.8)),
                          (rng.uniform(0.1, 0.15), rng.uniform(0.02, 0.04), rng.uniform(0.0, 0.5))):
        out += amp * np.exp(-0.5 * ((dt - off) / sig) ** 2)
        area += amp * sig
        centre += amp * sig * off
    centre /= area
    wide = 0.12
    out -= np.exp(-0.5 * ((dt - centre) / wide) ** 2) * area / wide
    return out / max(out.max(), 1e-9)


# ----------------------------------------------------------------------------------------------
# rendering: kinematics -> ideal IMU -> MPU6050-like sensor -> samples

class Trace:
    """A rendered trace: arrays plus metadata and labels; to_csv() gives the trace-format text."""

    def __init__(self, meta, t, acc_g, gyr_dps, labels, truth):
        self.meta, self.t, self.acc, self.gyr, self.labels, self.truth = meta, t, acc_g, gyr_dps, labels, truth

    @property
    def has_gyro(self):
        return self.gyr is not None

    def to_csv(self):
        out = io.StringIO()
        for k in ("rate_hz", "sensor", "accel_range_g", "gyro_range_dps", "source", "mount"):
            if k in self.meta:
                out.write("# %s=%s\n" % (k, self.meta[k]))
        if self.has_gyro:
            out.write("t,ax,ay,az,gx,gy,gz\n")
            cols = np.column_stack([self.t, self.acc, self.gyr])
            np.savetxt(out, cols, fmt=["%.4f"] * 4 + ["%.2f"] * 3, delimiter=",")
        else:
            out.write("t,ax,ay,az\n")
            np.savetxt(out, np.column_stack([self.t, self.acc]), fmt="%.4f", delimiter=",")
        return out.getvalue()


def sway_mg(t, acc_g, start, end, degree=SWAY_DETREND_DEGREE):
    """The label's sway_mg: RMS (milli-g) of the acceleration perpendicular to gravity in [start, end].

    1. take the samples with start <= t <= end (acc in g, sensor axes; render passes the
       reading without the sensor's noise: the body's sway, not the chip's);
    2. gravity direction u = normalised mean acceleration over the hold;
    3. perpendicular part a_perp = a - (a.u) u for each sample (a 3-vector);
    4. drift removed: from each component of a_perp subtract its least-squares polynomial of
       degree `degree` (1: a straight line) in time over the hold (sag/pike drift, slow creep);
    5. sway_mg = 1000 * sqrt(mean over samples of |a_perp|^2).
    """
    sel = (t >= start) & (t <= end)
    a = np.asarray(acc_g, float)[sel]
    tt = np.asarray(t, float)[sel]
    u = a.mean(0)
    u /= np.linalg.norm(u)
    perp = a - np.outer(a @ u, u)
    x = (tt - tt.mean()) / max(tt.std(), 1e-9)
    v = np.vander(x, degree + 1)
    coef, *_ = np.linalg.lstsq(v, perp, rcond=None)
    res = perp - v @ coef
    return float(1000.0 * math.sqrt(np.mean(np.sum(res * res, axis=1))))


def _mount_rotation(rng, mount):
    """Sensor-to-body rotation and the sensor point on the waist (body frame, from pelvis centre)."""
    if mount == "default":
        return small_rotation(rng, 10.0), BACK_POINT_M.copy()
    # anywhere around the waist (front, back, sides) in any rotation
    beta = rng.uniform(0, 2 * math.pi)
    point = np.array([rng.uniform(-0.03, 0.03), WAIST_HALF_WIDTH_M * math.sin(beta), WAIST_HALF_DEPTH_M * math.cos(beta)])
    return random_rotation(rng), point


def _sensor_errors(rng, rate_hz):
    e = {
        "acc_bias_g": rng.uniform(-0.03, 0.03, 3),
        "acc_M": np.eye(3) + np.diag(rng.uniform(-0.02, 0.02, 3)) + (rng.uniform(-0.01, 0.01, (3, 3)) * (1 - np.eye(3))),
        # white noise density (g/sqrt(Hz); datasheet 400 ug/sqrt(Hz)) through the DLPF's noise bandwidth
        "acc_noise_g": rng.uniform(300e-6, 450e-6) * math.sqrt(math.pi / 2 * DLPF_FRACTION * rate_hz),
        "gyr_bias_dps": rng.uniform(-2.0, 2.0, 3),
        "gyr_M": np.eye(3) + np.diag(rng.uniform(-0.02, 0.02, 3)) + (rng.uniform(-0.01, 0.01, (3, 3)) * (1 - np.eye(3))),
        "gyr_noise_dps": 0.05 * math.sqrt(math.pi / 2 * DLPF_FRACTION * rate_hz),
        "gyr_bias_walk_dps": rng.uniform(0.05, 0.3),
    }
    return e


def _sample_times(rng, duration_s, rate_hz):
    n = int(duration_s * rate_hz)
    t = np.arange(n) / rate_hz + rng.uniform(-TIME_JITTER_S, TIME_JITTER_S, n)
    t[0] = 0.0
    keep = np.ones(n, bool)
    # dropped samples: gaps of 1-20 samples, on average every ~40 s
    n_gaps = rng.poisson(duration_s / 40.0)
    for _ in range(n_gaps):
        i = int(rng.integers(10, max(n - 30, 11)))
        keep[i:i + int(min(1 + rng.geometric(0.25), 20))] = False
    t = t[keep]
    return np.clip(t, 0.0, None)


def render(sess, rate_hz=100, mount="default", has_gyro=True, accel_range_g=4, gyro_range_dps=500, name="trace",
           seed_note=""):
    """Turn a Session's kinematics into a Trace: physics, sensor model, sampling, labels."""
    rng = np.random.default_rng(sess.rng.integers(1 << 62))
    R_base = np.concatenate([c[0] for c in sess.chunks])
    p = np.concatenate([c[1] for c in sess.chunks])
    ang = np.concatenate([c[2] for c in sess.chunks])
    acc_x = np.concatenate([c[3] for c in sess.chunks])
    mnt = np.concatenate([c[4] for c in sess.chunks])
    n = len(p)
    tt = np.arange(n) / GRID_HZ
    # breathing: the whole recording, small pelvic pitch and rise at 0.2-0.32 Hz with breath-to-breath variation
    sj = sess.subj
    bphase = 2 * math.pi * np.cumsum(sj["breath_hz"] * (1 + 0.15 * band_noise(rng, n, 0.01, 0.05, taper_s=0))) / GRID_HZ
    ang[:, 1] += sj["breath_deg"] * np.sin(bphase)
    p[:, 2] += sj["breath_mm"] * 1e-3 * np.sin(bphase + 0.4)

    R_body = R_base @ local_rot(ang)
    R_s, point = _mount_rotation(rng, mount)
    R_ws = R_body @ local_rot(mnt) @ R_s                    # sensor-to-world
    p_s = p + np.einsum("nij,j->ni", R_body, point - BACK_POINT_M)
    acc_w = np.gradient(np.gradient(p_s, axis=0), axis=0) * GRID_HZ ** 2 + acc_x
    acc_w[:, 2] += G_MPS2                                   # specific force = a - g_world, g_world = (0, 0, -g)
    f_s = np.einsum("nji,nj->ni", R_ws, acc_w) / G_MPS2     # in g, sensor axes
    d_r = np.gradient(R_ws, axis=0) * GRID_HZ
    om = np.einsum("nji,njk->nik", R_ws, d_r)               # R^T dR/dt = skew(omega_body)
    w_s = np.degrees(0.5 * np.column_stack([om[:, 2, 1] - om[:, 1, 2], om[:, 0, 2] - om[:, 2, 0],
                                            om[:, 1, 0] - om[:, 0, 1]]))
    # MPU6050 digital low-pass (DLPF) set to about 0.42 x the sample rate
    fc = DLPF_FRACTION * rate_hz
    f_s = lowpass_zero_phase(f_s, fc)
    w_s = lowpass_zero_phase(w_s, fc)

    t = _sample_times(rng, tt[-1], rate_hz)
    ideal_acc = np.column_stack([np.interp(t, tt, f_s[:, k]) for k in range(3)])
    ideal_gyr = np.column_stack([np.interp(t, tt, w_s[:, k]) for k in range(3)])
    e = _sensor_errors(rng, rate_hz)
    clean_acc = ideal_acc @ e["acc_M"].T + e["acc_bias_g"]    # what the sensor would read without its noise
    acc = clean_acc + rng.normal(size=ideal_acc.shape) * e["acc_noise_g"]
    lsb_g = ACCEL_LSB_PER_G[accel_range_g]
    acc = np.clip(np.round(acc * lsb_g), -32768, 32767) / lsb_g
    acc = np.round(acc, 4) + 0.0             # + 0.0 turns -0.0 into 0.0 so no "-0.0000" is printed
    gyr = None
    if has_gyro:
        walk = np.column_stack([band_noise(rng, len(t), 0.001, 0.01, fs=rate_hz, taper_s=0) for _ in range(3)])
        gyr = (ideal_gyr @ e["gyr_M"].T + e["gyr_bias_dps"] + walk * e["gyr_bias_walk_dps"]
               + rng.normal(size=ideal_gyr.shape) * e["gyr_noise_dps"])
        lsb_dps = GYRO_LSB_PER_DPS[gyro_range_dps]
        gyr = np.round(np.clip(np.round(gyr * lsb_dps), -32768, 32767) / lsb_dps, 2) + 0.0
    t = np.round(t, 4)

    segments = []
    for seg in sess.segments:
        seg = dict(seg)
        if "hold_s" in seg:
            seg["sway_mg"] = round(sway_mg(t, clean_acc, seg["start"], seg["end"]), 2)
        segments.append(seg)
    labels = {"format": LABEL_FORMAT, "segments": segments}
    meta = {"rate_hz": rate_hz, "sensor": "mpu6050", "accel_range_g": accel_range_g,
            "source": "%s %s %s(physical pelvis model, see calibration_data/README.md)"
                      % (GENERATOR_VERSION, name, seed_note)}
    if has_gyro:
        meta["gyro_range_dps"] = gyro_range_dps
    meta["mount"] = mount
    truth = {"R_s": R_s, "point": point, "errors": e, "grid_t": tt, "ideal_acc": f_s, "ideal_gyr": w_s, "grid_p": p_s,
             "clean_acc": clean_acc}
    return Trace(meta, t, acc, gyr, labels, truth)


# ----------------------------------------------------------------------------------------------
# the trace set

def _rest(s, lo=10.0, hi=20.0, fidget_p=0.5):
    s.rest(s._u(lo, hi), fidget_p)


def program_demo(s):
    """The seed routine in order (demo for `repbelt demo`): about 10 minutes."""
    def _rest(s, lo=10.0, hi=12.0, fidget_p=0.4):
        s.rest(s._u(lo, hi), fidget_p)

    s.still(s._u(3, 5))
    s.move_to("supine")
    s.still(s._u(3, 5))
    s.bridge(12)
    _rest(s, fidget_p=0.0)
    s.bridge(12)
    _rest(s)
    s.move_to("prone")
    s.still(2.0)
    s.leg_raise(12)
    _rest(s)
    s.move_to("supine")
    s.still(2.0)
    s.pelvic_tilt(10)
    _rest(s)
    s.bird_dog(16)
    _rest(s)
    s.lunge(8)
    _rest(s)
    s.plank(30.0)
    _rest(s)
    s.side_plank(20.0)
    _rest(s)
    s.cat_cow(10)
    _rest(s)
    s.cobra(20.0)
    _rest(s)
    s.knee_twist(10)
    _rest(s)
    s.walk(60.0, turns=1)
    s.still(s._u(3, 5))


REP_EXERCISES = ("bridge", "pelvic_tilt", "knee_twist", "leg_raise", "bird_dog", "cat_cow", "lunge")
HOLD_EXERCISES = ("plank", "side_plank", "cobra")
POSTURE_ORDER = {"stand": 0, "supine": 1, "prone": 2, "fours": 3}
EX_POSTURE = {"bridge": "supine", "pelvic_tilt": "supine", "knee_twist": "supine", "leg_raise": "prone",
              "bird_dog": "fours", "cat_cow": "fours", "lunge": "stand", "plank": "prone", "cobra": "prone",
              "side_plank": "prone", "walk": "stand"}


def _do(s, ex):
    r = s.rng
    if ex in ("plank", "side_plank", "cobra"):
        lo, hi = {"plank": (20, 60), "side_plank": (15, 40), "cobra": (15, 35)}[ex]
        getattr(s, ex)(s._u(lo, hi))
    elif ex == "walk":
        s.walk(s._u(30, 70), turns=int(r.integers(0, 3)))
    elif ex == "leg_raise":
        s.leg_raise(int(r.integers(6, 15)), "superman" if r.uniform() < 0.3 else "alternating")
    elif ex in ("bird_dog", "knee_twist", "lunge"):
        s.__getattribute__(ex)(2 * int(r.integers(4, 8)))
    else:
        getattr(s, ex)(int(r.integers(6, 15)))


def program_blocks(exercises, sets=1, calibrate=False, shuffle=True):
    """A session of the given exercises, grouped by posture like people do, with rests and fidgets."""
    def prog(s):
        if calibrate:
            s.calibration_routine()
        else:
            s.still(s._u(3, 6))
        ex = list(exercises)
        if shuffle:
            s.rng.shuffle(ex)
            ex.sort(key=lambda e: POSTURE_ORDER.get(EX_POSTURE[e], 0) if s.rng.uniform() < 0.7 else 0)
        for e in ex:
            for k in range(sets):
                _do(s, e)
                _rest(s, 8, 20)
        s.still(2.0)
    return prog


def program_rest_only(calibrate=False):
    """Lying, sitting, standing, rolling over, getting up, fidgeting: nothing may be counted."""
    def prog(s):
        if calibrate:
            s.calibration_routine()
        for target in ("supine", "side_l", "prone", "fours", "stand", "supine", "prone", "side_r", "supine", "stand"):
            s.move_to(target)
            for _ in range(int(s.rng.integers(1, 3))):
                s.rest(s._u(6.0, 14.0), fidget_p=0.9)
            s.fidget()
            s.still(s._u(1.0, 3.0))
    return prog


def program_walks(bouts=3):
    """Walking bouts with standing pauses and U-turns (also the unknown-mount traces)."""
    def prog(s):
        s.still(s._u(3, 6))
        for b in range(bouts):
            s.walk(s._u(25, 60), turns=int(s.rng.integers(0, 3)), cadence_hz=s._u(1.6, 2.1))
            s.rest(s._u(5, 12), fidget_p=0.3)
    return prog


ALL_EX = REP_EXERCISES + HOLD_EXERCISES
# name: (program, rate_hz, mount, has_gyro, accel_range_g, gyro_range_dps)
CATALOG = {
    "demo_workout": (program_demo, 100, "default", True, 4, 500),
    "routine_default_a": (program_blocks(ALL_EX + ("walk",)), 100, "default", True, 4, 500),
    "routine_calib_a": (program_blocks(ALL_EX, calibrate=True), 100, "calibrate", True, 4, 500),
    "routine_default_50hz_acc": (program_blocks(ALL_EX), 50, "default", False, 4, 500),
    "routine_calib_200hz": (program_blocks(ALL_EX + ("walk",), calibrate=True), 200, "calibrate", True, 8, 1000),
    "supine_default": (program_blocks(("bridge", "pelvic_tilt", "knee_twist"), sets=2), 100, "default", True, 4, 500),
    "supine_calib_50hz": (program_blocks(("bridge", "pelvic_tilt", "knee_twist"), sets=2, calibrate=True),
                          50, "calibrate", True, 4, 500),
    "prone_default": (program_blocks(("leg_raise", "cobra", "plank"), sets=2), 100, "default", True, 4, 500),
    "prone_default_200hz_acc": (program_blocks(("leg_raise", "cobra", "plank"), sets=2), 200, "default", False, 4, 500),
    "fours_default": (program_blocks(("bird_dog", "cat_cow"), sets=2), 100, "default", True, 4, 500),
    "fours_calib": (program_blocks(("bird_dog", "cat_cow"), sets=2, calibrate=True), 100, "calibrate", True, 4, 500),
    "standing_default": (program_blocks(("lunge", "walk"), sets=2), 100, "default", True, 4, 500),
    "standing_calib_50hz": (program_blocks(("lunge", "walk"), sets=2, calibrate=True), 50, "calibrate", True, 4, 500),
    "holds_default": (program_blocks(HOLD_EXERCISES, sets=2), 100, "default", True, 4, 500),
    "holds_calib": (program_blocks(HOLD_EXERCISES, sets=2, calibrate=True), 100, "calibrate", True, 4, 500),
    "holds_default_200hz_acc": (program_blocks(HOLD_EXERCISES, sets=2), 200, "default", False, 4, 500),
    "mixed_default_a": (program_blocks(("bridge", "leg_raise", "plank", "bird_dog", "walk")), 100, "default", True, 4, 500),
    "mixed_default_2g_acc": (program_blocks(("bridge", "leg_raise", "plank", "lunge", "walk")), 100, "default", False, 2, 500),
    "mixed_calib_50hz": (program_blocks(("pelvic_tilt", "cat_cow", "side_plank", "knee_twist", "cobra"), calibrate=True),
                         50, "calibrate", True, 4, 500),
    "rest_fidget_default": (program_rest_only(), 100, "default", True, 4, 500),
    "rest_fidget_calib": (program_rest_only(calibrate=True), 100, "calibrate", True, 4, 500),
    "walk_default": (program_walks(3), 100, "default", True, 4, 500),
    "walk_unknown_a": (program_walks(3), 100, "unknown", True, 4, 500),
    "walk_unknown_50hz": (program_walks(3), 50, "unknown", True, 4, 500),
    "walk_unknown_200hz_acc": (program_walks(2), 200, "unknown", False, 4, 500),
    "walk_unknown_b": (program_walks(4), 100, "unknown", True, 8, 250),
}


# the demo shows a tidy, typical person at a brisk pace (the other traces draw everything at random)
SUBJECT_OVERRIDES = {"demo_workout": {"tempo": 0.9, "slop": 0.3, "amp": 1.0}}


def _name_seed(name, seed):
    # stable across runs and Python versions (no hash randomisation)
    return (seed * 1000003 + sum((i + 1) * ord(c) for i, c in enumerate(name))) & 0x7FFFFFFF


def generate_trace(name, seed=0):
    """Make the catalogued trace `name` with base seed `seed`; returns a Trace."""
    if name not in CATALOG:
        raise KeyError("unknown trace %r (known: %s)" % (name, ", ".join(sorted(CATALOG))))
    prog, rate, mount, gyro, arange, grange = CATALOG[name]
    sess = Session(seed=_name_seed(name, seed), subject=SUBJECT_OVERRIDES.get(name))
    prog(sess)
    return sess.render(rate_hz=rate, mount=mount, has_gyro=gyro, accel_range_g=arange, gyro_range_dps=grange,
                       name=name, seed_note="seed=%d " % seed)


def generate(name, seed=0):
    """(csv_text, labels_dict) of the catalogued trace `name`."""
    tr = generate_trace(name, seed)
    return tr.to_csv(), tr.labels


def write_trace(tr, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".csv"), "w", newline="\n") as f:
        f.write(tr.to_csv())
    with open(os.path.join(out_dir, name + ".labels.json"), "w") as f:
        json.dump(tr.labels, f, indent=1)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write repbelt's labelled synthetic traces (NAME.csv + NAME.labels.json).")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default 0); same seed, same files")
    ap.add_argument("--quiet", action="store_true", help="print only errors")
    ap.add_argument("--only", action="append", metavar="NAME", help="make only this trace (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the trace names and exit")
    a = ap.parse_args(argv)
    if a.list:
        print("\n".join(CATALOG))
        return 0
    names = a.only or list(CATALOG)
    bad = [n for n in names if n not in CATALOG]
    if bad:
        print("generator: unknown trace name %s; run with --list to see the names" % ", ".join(bad), file=sys.stderr)
        return 2
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as e:
        print("generator: cannot create output directory %s: %s" % (a.out, e.strerror), file=sys.stderr)
        return 2
    t_all = time.time()
    for nm in names:
        t0 = time.time()
        tr = generate_trace(nm, a.seed)
        write_trace(tr, a.out, nm)
        if not a.quiet:
            segs = tr.labels["segments"]
            print("%-28s %6.1f s %3d Hz %-9s %-4s %2d segments  (%.1f s)"
                  % (nm, tr.t[-1], tr.meta["rate_hz"], tr.meta["mount"], "gyro" if tr.has_gyro else "acc",
                     len(segs), time.time() - t0))
    if not a.quiet:
        print("wrote %d traces to %s in %.1f s" % (len(names), a.out, time.time() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
