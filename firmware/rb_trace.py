"""Trace CSV reader (trace-format section 1) producing fixed-point ints.

Decimal text is converted to integers by string arithmetic, never through
floats, so CPython, the MicroPython unix port and a float32 ESP32 read every
trace to exactly the same numbers:

    t   seconds -> milliseconds   (t_ms)
    a*  g       -> milli-g        (mg)
    g*  deg/s   -> tenths of deg/s (ddps)

Rounding is half away from zero.  Errors raise TraceError(line, message).
"""

ACCEL_LIMIT_MG = 32000      # beyond +-32 g it is not a waist IMU in g
GYRO_LIMIT_DDPS = 200000    # +-20000 deg/s
UNITS_CHECK_ROWS = 100      # rows looked at to tell g from m/s^2
MS2_SUSPECT_MG = 4000       # mean |a| above 4 g at the start: probably m/s^2
RATE_MIN_HZ = 25
RATE_MAX_HZ = 400
RATE_PROBE_ROWS = 64        # rows used to estimate rate_hz when it is missing

REQUIRED = ("t", "ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
KNOWN_ACCEL_UNITS = ("g",)
KNOWN_GYRO_UNITS = ("dps", "deg/s")


class TraceError(Exception):
    def __init__(self, line, message):
        super().__init__(message)
        self.line = line
        self.message = message


def parse_fixed(s, digits):
    """'-0.0123' with digits=3 -> -12 (value * 10**digits, rounded half away from zero).

    Accepts an optional sign, digits with an optional '.', and an optional
    exponent ('1.5e-3').  Raises ValueError on anything else.
    """
    s = s.strip()
    if not s:
        raise ValueError("empty value")
    neg = False
    c = s[0]
    if c == "-" or c == "+":
        neg = c == "-"
        s = s[1:]
    exp = 0
    for e in ("e", "E"):
        if e in s:
            s, es = s.split(e, 1)
            exp = int(es)
            break
    if "." in s:
        ip, fp = s.split(".", 1)
    else:
        ip, fp = s, ""
    if not ip and not fp:
        raise ValueError("no digits")
    if (ip and not ip.isdigit()) or (fp and not fp.isdigit()):
        raise ValueError("not a number")
    shift = digits + exp
    digits_str = (ip or "0") + fp
    shift -= len(fp)
    if shift >= 0:
        v = int(digits_str) * (10 ** shift)
    else:
        div = 10 ** (-shift)
        n = int(digits_str)
        v = n // div
        if (n % div) * 2 >= div:
            v += 1
    return -v if neg else v


class TraceReader:
    """Iterate a trace's samples as a reused list [t_ms, ax, ay, az, gx, gy, gz].

    `lines` is any iterable of text lines (a file object works on every
    runtime).  After construction `meta`, `rate_hz`, `has_gyro` and `mount`
    are known.
    """

    def __init__(self, lines):
        self._it = iter(lines)
        self.line_no = 0
        self.meta = {}  # type: dict
        self.has_gyro = False
        self._cols = []  # type: list
        self._buf = []  # type: list
        self._row = [0, 0, 0, 0, 0, 0, 0]
        self._last_t = None
        self._sum_mag = 0
        self._n_checked = 0
        self._read_header()
        self.mount = self.meta.get("mount", "unknown")
        self.rate_hz = self._rate()

    # --- header -------------------------------------------------------
    def _next_line(self):
        for raw in self._it:
            self.line_no += 1
            line = raw.rstrip("\r\n")
            if line.strip():
                return line
        return None

    def _read_header(self):
        while True:
            line = self._next_line()
            if line is None:
                if self.line_no == 0:
                    raise TraceError(1, "empty file: expected '# key=value' comments, then a header 't,ax,ay,az[,gx,gy,gz]'")
                raise TraceError(self.line_no, "no header line: expected 't,ax,ay,az[,gx,gy,gz]'")
            if line.startswith("#"):
                body = line[1:].strip()
                if "=" in body:
                    k, v = body.split("=", 1)
                    self.meta[k.strip()] = v.strip()
                continue
            break
        names = [n.strip() for n in line.split(",")]
        for n in REQUIRED:
            if n not in names:
                raise TraceError(self.line_no, "header %r has no column %r: expected 't,ax,ay,az[,gx,gy,gz]'" % (line[:60], n))
        gy = [n for n in GYRO if n in names]
        if gy and len(gy) != 3:
            raise TraceError(self.line_no, "header has only some gyro columns (%s): give all of gx,gy,gz or none" % ",".join(gy))
        self.has_gyro = len(gy) == 3
        for n in names:
            if n not in REQUIRED and n not in GYRO:
                raise TraceError(self.line_no, "unknown column %r in header (known: t,ax,ay,az,gx,gy,gz)" % n)
        if len(set(names)) != len(names):
            raise TraceError(self.line_no, "duplicate column in header")
        order = REQUIRED + (GYRO if self.has_gyro else ())
        self._cols = [names.index(n) for n in order]
        self._ncols = len(names)
        for key, known in (("accel_units", KNOWN_ACCEL_UNITS), ("gyro_units", KNOWN_GYRO_UNITS)):
            u = self.meta.get(key)
            if u is not None and u not in known:
                raise TraceError(self.line_no, "unknown units %s=%s: the trace format wants accelerometer in g and gyro in deg/s" % (key, u))
        if "rate_hz" in self.meta:
            try:
                r = parse_fixed(self.meta["rate_hz"], 0)
            except ValueError:
                raise TraceError(self.line_no, "rate_hz=%s is not a number" % self.meta["rate_hz"])
            if r < RATE_MIN_HZ or r > RATE_MAX_HZ:
                raise TraceError(self.line_no, "rate_hz=%d is outside %d..%d Hz" % (r, RATE_MIN_HZ, RATE_MAX_HZ))
            self._meta_rate = r
        else:
            self._meta_rate = 0

    def _rate(self):
        if self._meta_rate:
            return self._meta_rate
        # estimate from the median spacing of the first rows
        while len(self._buf) < RATE_PROBE_ROWS:
            row = self._parse_next()
            if row is None:
                break
            self._buf.append(list(row))
        if len(self._buf) < 2:
            raise TraceError(self.line_no, "too few samples to estimate rate_hz; add a '# rate_hz=N' comment")
        d = []
        for i in range(1, len(self._buf)):
            d.append(self._buf[i][0] - self._buf[i - 1][0])
        d.sort()
        dt = d[len(d) // 2]
        if dt <= 0:
            raise TraceError(self.line_no, "cannot estimate rate_hz from t; add a '# rate_hz=N' comment")
        r = (1000 + dt // 2) // dt
        if r < RATE_MIN_HZ:
            r = RATE_MIN_HZ
        if r > RATE_MAX_HZ:
            r = RATE_MAX_HZ
        return r

    # --- rows -------------------------------------------------------------
    def _parse_next(self):
        while True:
            line = self._next_line()
            if line is None:
                self._check_units(final=True)
                return None
            if line.startswith("#"):
                continue
            parts = line.split(",")
            if len(parts) != self._ncols:
                raise TraceError(self.line_no, "expected %d values, found %d" % (self._ncols, len(parts)))
            row = self._row
            cols = self._cols
            for i in range(len(cols)):
                txt = parts[cols[i]]
                try:
                    row[i] = parse_fixed(txt, 1 if i >= 4 else 3)
                except ValueError:
                    raise TraceError(self.line_no, "value %r is not a number" % txt.strip()[:20])
            if not self.has_gyro:
                row[4] = row[5] = row[6] = 0
            t = row[0]
            if self._last_t is not None:
                if t < self._last_t:
                    raise TraceError(self.line_no, "time goes backwards (t=%s after %s)" % (_fmt_ms(t), _fmt_ms(self._last_t)))
                if t == self._last_t:
                    continue        # duplicate timestamp: keep the first sample
            if t < 0:
                raise TraceError(self.line_no, "negative time t=%s" % _fmt_ms(t))
            for i in (1, 2, 3):
                if row[i] > ACCEL_LIMIT_MG or row[i] < -ACCEL_LIMIT_MG:
                    raise TraceError(self.line_no, "accelerometer value %s is beyond 32 g: the trace format wants g" % parts[cols[i]].strip())
            for i in (4, 5, 6):
                if row[i] > GYRO_LIMIT_DDPS or row[i] < -GYRO_LIMIT_DDPS:
                    raise TraceError(self.line_no, "gyro value is beyond 20000 deg/s: the trace format wants deg/s")
            self._last_t = t
            if self._n_checked < UNITS_CHECK_ROWS:
                self._n_checked += 1
                self._sum_mag += abs(row[1]) + abs(row[2]) + abs(row[3])
                if self._n_checked == UNITS_CHECK_ROWS:
                    self._check_units(final=False)
            return row

    def _check_units(self, final):
        n = self._n_checked
        if n == 0:
            if final and self._last_t is None:
                raise TraceError(self.line_no, "no samples after the header")
            return
        if final and n >= UNITS_CHECK_ROWS:
            return
        # L1 norm >= L2 norm, so compare against sqrt(3) * limit
        if self._sum_mag // n > MS2_SUSPECT_MG * 173 // 100:
            raise TraceError(self.line_no, "accelerometer values look like m/s^2 (unknown units): the trace format wants g")

    def __iter__(self):
        return self

    def __next__(self):
        if self._buf:
            b = self._buf.pop(0)
            row = self._row
            for i in range(7):
                row[i] = b[i]
            return row
        row = self._parse_next()
        if row is None:
            raise StopIteration
        return row


def _fmt_ms(t):
    s = "-" if t < 0 else ""
    t = abs(t)
    return "%s%d.%03d" % (s, t // 1000, t % 1000)
