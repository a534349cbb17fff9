"""Raw samples from the board over USB: a board-side loop prints FIFO samples, the host parses them.

The board runs the firmware's own driver (`rb_mpu`) in the raw REPL, so the
samples are exactly what the app would feed the core: milli-g and tenths of
deg/s on the sensor axes, `t_ms` from the FIFO sample counter.
"""
import time

from mpremote.transport import TransportError

from .errors import UserError

STREAM_SNIPPET = r"""
import rb_board, rb_mpu, time
_m = rb_mpu.MPU(rb_board.make_i2c(), addr=rb_board.MPU_ADDR, rate_hz=RATE_HZ)
_m.start()
print('START %s %d %d %d %d' % (_m.chip, _m.rate_hz, 1 if _m.has_gyro else 0, _m.accel_range_g, _m.gyro_range_dps))
_end = DURATION_MS
_go = True
try:
    while _go:
        _n = _m.read_fifo()
        for _i in range(_n):
            _t = _m.t_ms[_i]
            print('S %d %d %d %d %d %d %d' % (_t, _m.ax[_i], _m.ay[_i], _m.az[_i], _m.gx[_i], _m.gy[_i], _m.gz[_i]))
            if _end and _t >= _end:
                _go = False
                break
        _f = _m.pop_fault()
        if _f:
            print('F %d %d' % _f)
        time.sleep_ms(15)
except KeyboardInterrupt:
    pass
print('END %d %d' % (_m.samples, _m.lost_samples))
"""


class StreamInfo:
    chip = "?"
    rate_hz = 0
    has_gyro = True
    accel_range_g = 4
    gyro_range_dps = 500
    faults = ()
    lost = 0


def stream(board, on_sample, duration_ms=0, rate_hz=100, should_stop=None):
    """Stream samples; on_sample(t_ms, ax, ay, az, gx, gy, gz) per sample. Returns StreamInfo.

    Ends when the sample clock reaches duration_ms (0: never) or when
    should_stop() returns True (the board is then interrupted with Ctrl-C).
    """
    info = StreamInfo()
    info.faults = []
    buf = bytearray()
    state = {"stopped": False}

    def consume(b):
        buf.extend(b)
        while True:
            i = buf.find(b"\n")
            if i < 0:
                break
            line = bytes(buf[:i]).decode(errors="replace").strip()
            del buf[:i + 1]
            _line(line)
        if should_stop and not state["stopped"] and should_stop():
            state["stopped"] = True
            board.t.serial.write(b"\x03")

    def _line(line):
        if line.startswith("S "):
            v = line.split()
            if len(v) == 8:
                on_sample(*[int(x) for x in v[1:]])
        elif line.startswith("START "):
            v = line.split()
            info.chip, info.rate_hz, info.has_gyro = v[1], int(v[2]), v[3] == "1"
            info.accel_range_g, info.gyro_range_dps = int(v[4]), int(v[5])
        elif line.startswith("F "):
            info.faults.append(tuple(int(x) for x in line.split()[1:]))
        elif line.startswith("END "):
            info.lost = int(line.split()[2])

    code = STREAM_SNIPPET.replace("RATE_HZ", str(int(rate_hz))).replace(
        "DURATION_MS", str(int(duration_ms)))
    try:
        out, err = board.t.exec_raw(code, timeout=10, data_consumer=consume)
    except TransportError as e:
        raise UserError("the board stopped sending samples (%s): check the cable, then run "
                        "`repbelt doctor`" % e) from None
    if err:
        text = err.decode(errors="replace").strip().splitlines()
        raise UserError("the sensor stream failed on the board: %s; run `repbelt doctor`"
                        % (text[-1] if text else "?"))
    consume(b"\n")
    return info


class Collector:
    """Keeps the samples of a stream in lists (ints, sensor units of the core)."""

    def __init__(self):
        self.rows = []
        self.t0 = time.monotonic()

    def __call__(self, t, ax, ay, az, gx, gy, gz):
        self.rows.append((t, ax, ay, az, gx, gy, gz))

    @property
    def last_t(self):
        return self.rows[-1][0] if self.rows else 0
