"""Mount calibration: the sensor-to-body rotation from "stand still, then lie on the back".

The body frame is the trace format's default mount: x toward the head, y to
the wearer's left, z out of the back.  Standing still, gravity's reaction
(what the accelerometer reads) points along body +x; lying on the back it
points along body -z.  Two still phases therefore give two body axes in
sensor coordinates, and the third is their cross product.

Many people get down to the floor via all fours, and a pause there looks
exactly like lying on the back upside down (gravity alone cannot tell the
two apart).  So the lying phase must last the routine's 3 s; a shorter
lying still spell is only used if no full one follows.

`Calibrator` is fed the same 25 Hz frames as the engine (sensor axes, mg)
and needs no allocation per frame.  Rotations are 9 ints, row-major, scaled
by ROT_ONE: body = R * sensor.
"""
from rb_fixed import isqrt
import rb_events as E

ROT_ONE = 16384
IDENTITY = (ROT_ONE, 0, 0, 0, ROT_ONE, 0, 0, 0, ROT_ONE)

CAL_STILL_MS = 2500        # a still phase must last this long (routine asks 3 s)
CAL_LIE_MS = 2960          # the lying phase: the routine's 3 s less one 40 ms frame
CAL_STILL_MG = 60          # frame-to-mean deviation allowed while "still"
CAL_STILL_DPS10 = 150      # |gyro| (0.1 deg/s, L1) change from the still run's mean allowed (not |gyro|:
                           # an MPU6050's zero-rate offset is up to 20 deg/s an axis, constant while still)
CAL_MIN_ANGLE_COS = 500    # standing and lying directions must differ by > 60 deg
CAL_ORTHO_COS = 350        # ... and be within ~20 deg of perpendicular
CAL_TIMEOUT_MS = 120000    # give up looking after two minutes


def _unit(x, y, z):
    n = isqrt(x * x + y * y + z * z)
    if n == 0:
        return None
    return (x * ROT_ONE // n, y * ROT_ONE // n, z * ROT_ONE // n)


def _dot(a, b):
    # each product < 2**28; the sum stays below 2**30
    return (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) >> 14


def rotation_from(stand, lie):
    """Rotation from the mean still readings (mg, sensor axes) standing and lying on the back.

    Returns (R, status) with status rb_events.CAL_*.
    """
    x = _unit(stand[0], stand[1], stand[2])
    zr = _unit(-lie[0], -lie[1], -lie[2])
    if x is None or zr is None:
        return None, E.CAL_BAD_GEOMETRY
    c = _dot(x, zr)
    if abs(c) * 1000 > CAL_ORTHO_COS * ROT_ONE:
        return None, E.CAL_BAD_GEOMETRY
    # Gram-Schmidt: z = zr - (zr.x) x
    z = _unit(zr[0] - (c * x[0] >> 14), zr[1] - (c * x[1] >> 14), zr[2] - (c * x[2] >> 14))
    if z is None:
        return None, E.CAL_BAD_GEOMETRY
    # y = z cross x
    y = ((z[1] * x[2] - z[2] * x[1]) >> 14,
         (z[2] * x[0] - z[0] * x[2]) >> 14,
         (z[0] * x[1] - z[1] * x[0]) >> 14)
    return (x[0], x[1], x[2], y[0], y[1], y[2], z[0], z[1], z[2]), E.CAL_OK


def rotate(R, v0, v1, v2):
    """body = R * sensor for one int vector (|v| < 32000)."""
    return ((R[0] * v0 + R[1] * v1 + R[2] * v2) >> 14,
            (R[3] * v0 + R[4] * v1 + R[5] * v2) >> 14,
            (R[6] * v0 + R[7] * v1 + R[8] * v2) >> 14)


def compose(A, B):
    """A * B for two rotations (9 ints scaled by ROT_ONE)."""
    out = []
    for i in range(3):
        for j in range(3):
            out.append((A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j]) >> 14)
    return tuple(out)


class Calibrator:
    """Finds the standing and the lying still phases in a stream of frames."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.stand = None
        self.lie = None
        self.status = -1          # -1 running, else CAL_*
        self.rotation = None
        self.quality_ddeg = 0
        self._t0 = None
        self._run_start = -1
        self._sx = self._sy = self._sz = self._n = 0
        self._mx = self._my = self._mz = 0
        self._sg = self._mg = 0       # the run's gyro L1: sum, mean
        self.moved = 0
        self._short_lie = None

    def _flush_run(self):
        if self._n == 0:
            return None
        return (self._sx // self._n, self._sy // self._n, self._sz // self._n)

    def feed(self, t_ms, fx, fy, fz, gyro_l1):
        """One frame (sensor axes). Returns True once finished (see .status)."""
        if self.status >= 0:
            return True
        if self._t0 is None:
            self._t0 = t_ms
        if t_ms - self._t0 > CAL_TIMEOUT_MS:
            self._give_up()
            return True
        n = self._n
        still = n == 0 or (abs(fx - self._mx) + abs(fy - self._my) + abs(fz - self._mz) < CAL_STILL_MG
                           and abs(gyro_l1 - self._mg) < CAL_STILL_DPS10)
        if still:
            if n == 0:
                self._run_start = t_ms
                self._sg = 0
            self._sx += fx
            self._sy += fy
            self._sz += fz
            self._sg += gyro_l1
            self._n = n + 1
            self._mx = self._sx // self._n
            self._my = self._sy // self._n
            self._mz = self._sz // self._n
            self._mg = self._sg // self._n
            return False
        # the still run ended: was it long enough?
        if t_ms - self._run_start >= CAL_STILL_MS:
            self._phase_done(self._flush_run(), t_ms - self._run_start)
        else:
            self.moved += 1
        self._sx = self._sy = self._sz = self._n = 0
        return self.status >= 0

    def _phase_done(self, mean, dur_ms):
        if self.stand is None:
            self.stand = mean
            return
        u = _unit(mean[0], mean[1], mean[2])
        s = _unit(self.stand[0], self.stand[1], self.stand[2])
        if u is None or s is None:
            return
        if _dot(u, s) * 1000 > CAL_MIN_ANGLE_COS * ROT_ONE:
            # still standing (or again): take the later, steadier phase as the standing one
            self.stand = mean
            return
        if dur_ms < CAL_LIE_MS:
            # shorter than the routine's lying phase: most often a pause on all
            # fours on the way down, which looks exactly like lying on the back
            # upside down; kept only in case no full-length phase follows
            if self._short_lie is None:
                self._short_lie = mean
            return
        self._lie_done(mean, s, u)

    def _lie_done(self, mean, s, u):
        self.lie = mean
        self.rotation, self.status = rotation_from(self.stand, self.lie)
        if self.rotation is not None:
            self.quality_ddeg = self._ortho_error_ddeg(s, u)

    def _give_up(self):
        m = self._short_lie
        if self.stand is not None and m is not None:
            self._lie_done(m, _unit(self.stand[0], self.stand[1], self.stand[2]), _unit(m[0], m[1], m[2]))
        if self.status < 0:
            self.status = E.CAL_NO_STAND if self.stand is None else E.CAL_NO_LIE

    def close_run(self, t_ms):
        if self.status < 0 and self._n and t_ms - self._run_start >= CAL_STILL_MS:
            self._phase_done(self._flush_run(), t_ms - self._run_start)
            self._sx = self._sy = self._sz = self._n = 0
        if self.status < 0:
            self._give_up()

    @staticmethod
    def _ortho_error_ddeg(a, b):
        # |90 deg - angle(a, -b)|: how far the two phases were from perpendicular
        import rb_fixed
        c = _dot(a, b) * 1000 // ROT_ONE
        return abs(rb_fixed.asin_ddeg(c))
