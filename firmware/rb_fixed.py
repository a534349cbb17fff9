"""Integer helpers for the detection core: square root, asin in tenths of a degree.

Everything stays in MicroPython small ints (|x| < 2**30) so nothing allocates
and float width never matters.
"""

# asin(k/32) in tenths of a degree, k = 0..32
_ASIN_DDEG = (0, 18, 36, 54, 72, 90, 108, 126, 145, 163, 182, 201, 220, 240,
              259, 280, 300, 321, 342, 364, 387, 410, 434, 460, 486, 514, 543,
              575, 610, 650, 696, 756, 900)


def isqrt(n):
    """Floor square root of a non-negative int (Newton's method)."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


def asin_ddeg(s_milli):
    """asin of s/1000 in tenths of a degree, s clamped to -1000..1000."""
    neg = s_milli < 0
    s = -s_milli if neg else s_milli
    if s >= 1000:
        return -900 if neg else 900
    k = s * 32
    i = k // 1000
    frac = k - i * 1000
    a = _ASIN_DDEG[i]
    v = a + (_ASIN_DDEG[i + 1] - a) * frac // 1000
    return -v if neg else v


def lp3(v, x, y, z, k):
    """One step of a shift low-pass on a 3-vector kept x16: v += (16*x - v) / 2**k."""
    v[0] += ((x << 4) - v[0]) >> k
    v[1] += ((y << 4) - v[1]) >> k
    v[2] += ((z << 4) - v[2]) >> k
