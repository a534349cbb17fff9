"""Emulated `machine` module for the MicroPython unix port (the virtual board).

The firmware runs unmodified against this module: `I2C`/`SoftI2C` reach a
register-level MPU6050-family model that replays a trace CSV into its 1 KB
FIFO on its own clock, `Pin`, `ADC` and the reset/sleep functions behave like
the ESP32 port's.  A file named machine.py earlier on sys.path shadows the unix
port's built-in `machine` (it is an extensible built-in), so putting sim/upy
first in MICROPYPATH is enough; a runner may also set sys.modules['machine'].

The emulated world is configured from the environment (REPBELT_SIM_*) or a
JSON file named by REPBELT_SIM_CONFIG (same keys, lower case, no prefix; the
environment wins).  See docs/architecture.md "Board I/O APIs" for the keys.
Tests reach the world through `machine.SIM`.

This module is simulator code: it may allocate while parsing the trace once at
start-up, but replaying a sample allocates nothing, so heap measurements of the
firmware are not polluted by the emulation.
"""

import builtins
import errno
import json
import os
import struct
import sys
import time

_real_open = builtins.open   # before the flash-fault wrapper below replaces it
RESET_EXIT_CODE = 3          # process exit status that asks the runner to boot the board again
TICKS_PERIOD = 1 << 30       # ESP32 ticks period; sim_ticks_ms wraps like the board

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
# wake_reason() values of the ESP32 port (esp_sleep_wakeup_cause_t)
PIN_WAKE = EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

# MPU6050 register map (the subset the model implements)
R_SMPLRT_DIV = 0x19
R_CONFIG = 0x1A
R_GYRO_CONFIG = 0x1B
R_ACCEL_CONFIG = 0x1C
R_ACCEL_CONFIG2 = 0x1D
R_LP_ACCEL_ODR = 0x1E
R_MOT_THR = 0x1F
R_MOT_DUR = 0x20
R_FIFO_EN = 0x23
R_INT_PIN_CFG = 0x37
R_INT_ENABLE = 0x38
R_INT_STATUS = 0x3A
R_ACCEL_XOUT_H = 0x3B
R_TEMP_OUT_H = 0x41
R_GYRO_XOUT_H = 0x43
R_MOT_DETECT_CTRL = 0x69
R_USER_CTRL = 0x6A
R_PWR_MGMT_1 = 0x6B
R_PWR_MGMT_2 = 0x6C
R_FIFO_COUNTH = 0x72
R_FIFO_COUNTL = 0x73
R_FIFO_R_W = 0x74
R_WHO_AM_I = 0x75

FIFO_BYTES = 1024
INT_FIFO_OFLOW = 0x10
INT_DATA_RDY = 0x01
INT_MOT = 0x40
LP_WAKE_US_6050 = (800000, 200000, 50000, 25000)   # LP_WAKE_CTRL 1.25, 5, 20, 40 Hz
RTC_MEMORY_MAX = 2048        # ESP32 port: bytes of RTC slow memory for machine.RTC().memory()
TEMP_RAW_25C = -3920         # (25 C - 36.53) * 340 LSB/C

_TRACE_REC = "<q6i"          # cache record: t_us, ax..az micro-g, gx..gz milli-dps
_TRACE_REC_BYTES = 32
_TRACE_BLOCK = 64            # records read per file access


def _parse_list(v):
    """'1,2,3' / [1,2,3] / '' -> list of ints (times in ms)."""
    if v is None or v == "":
        return []
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v]
    if isinstance(v, int):
        return [v]
    return [int(x) for x in str(v).split(",") if x.strip()]


def _parse_pairs(v, default_dur):
    """'T:dur,T2' -> [(T, dur), (T2, default_dur)] sorted."""
    out = []
    if v is None or v == "":
        return out
    items = v if isinstance(v, (list, tuple)) else str(v).split(",")
    for it in items:
        if isinstance(it, (list, tuple)):
            out.append((int(it[0]), int(it[1])))
            continue
        it = str(it).strip()
        if not it:
            continue
        if ":" in it:
            a, b = it.split(":")
            out.append((int(a), int(b)))
        else:
            out.append((int(it), default_dur))
    out.sort()
    return out


def _int_or_hex(v):
    if isinstance(v, int):
        return v
    v = str(v).strip().lower()
    if v.startswith("0x"):
        return int(v[2:], 16)
    return int(v)


class _Settings:
    """World settings: JSON file (REPBELT_SIM_CONFIG) overlaid by REPBELT_SIM_* env."""

    KEYS = ("trace", "speed", "clock", "addr", "chip", "i2c_error_rate",
            "i2c_error_at_ms", "i2c_error_burst", "overflow_at_ms",
            "overflow_stall_ms", "dead_at_ms", "seed", "flash", "battery_mv",
            "button_at_ms", "start", "start_ms", "end", "flash_fail_at_ms",
            "uid", "trace_cache", "ticks_offset_ms", "int_pin", "state")

    def __init__(self):
        d = {}
        path = os.getenv("REPBELT_SIM_CONFIG")
        if path:
            with open(path) as f:
                d = json.load(f)
        for k in self.KEYS:
            v = os.getenv("REPBELT_SIM_" + k.upper())
            if v is not None:
                d[k] = v
        self.trace = d.get("trace") or None
        self.speed = float(d.get("speed", 1))
        self.clock = str(d.get("clock", "real"))
        a = str(d.get("addr", "0x68")).lower()
        self.addr = None if a in ("none", "missing", "") else _int_or_hex(a)
        self.chip = _int_or_hex(d.get("chip", 0x68))
        self.i2c_error_rate = float(d.get("i2c_error_rate", 0))
        self.i2c_error_at_ms = _parse_list(d.get("i2c_error_at_ms"))
        self.i2c_error_burst = int(d.get("i2c_error_burst", 1))
        self.overflow_stall_ms = int(d.get("overflow_stall_ms", 1200))
        self.overflow_at = _parse_pairs(d.get("overflow_at_ms"), self.overflow_stall_ms)
        self.dead = _parse_pairs(d.get("dead_at_ms"), 1 << 40)
        self.seed = int(d.get("seed", 1))
        self.flash = d.get("flash") or None
        self.battery_mv = int(d.get("battery_mv", 3900))
        self.button_at_ms = _parse_list(d.get("button_at_ms"))
        self.start = str(d.get("start", "fifo"))
        self.start_ms = int(d.get("start_ms", 0))
        self.end = str(d.get("end", "hold"))
        self.flash_fail = _parse_pairs(d.get("flash_fail_at_ms"), 1 << 40)
        self.uid = d.get("uid") or "240ac4123456"
        self.trace_cache = d.get("trace_cache") or None
        self.ticks_offset_ms = int(d.get("ticks_offset_ms", 0) or 0)
        self.int_pin = int(d.get("int_pin", 34))       # the GPIO the MPU INT line is wired to
        # what survives a reset or deep sleep but not a power cycle (RTC memory, wake):
        # a file next to the flash directory; delete it to emulate pulling the battery
        st = d.get("state")
        if not st and self.flash:
            st = self.flash.rstrip("/") + ".rtc.json"
        self.state = st or None


def _mkdirs(path):
    cur = ""
    for part in path.split("/"):
        if not part:
            cur = "/" if cur == "" else cur
            continue
        cur = cur + part if cur.endswith("/") else (cur + "/" + part if cur else part)
        try:
            os.mkdir(cur)
        except OSError:
            pass


class TraceSource:
    """A trace CSV converted once to a binary cache, read sequentially.

    `value_at(t_us)` returns the row nearest in time (resampling to any chip
    rate); values are kept as micro-g / milli-dps so they can be scaled to
    whatever range the firmware configures later.
    """

    def __init__(self, path, cache_path=None):
        self.path = path
        self.rows = 0
        self.has_gyro = True
        self.rate_hz = 0
        self.done = False
        st = os.stat(path)
        if cache_path is None:
            import binascii
            key = binascii.crc32(("%s|%d|%d" % (path, st[6], st[8])).encode())
            tmp = os.getenv("TMPDIR") or "/tmp"
            cache_path = "%s/repbelt-sim-%08x.bin" % (tmp, key)
        self.cache_path = cache_path
        try:
            os.stat(cache_path)
            self._read_meta()
        except OSError:
            self._convert()
        self._f = open(self.cache_path, "rb")
        self._f.seek(16)
        self._blk = bytearray(_TRACE_REC_BYTES * _TRACE_BLOCK)
        self._blk_n = 0
        self._blk_i = 0
        self._cur = [0] * 7      # t_us, ax, ay, az, gx, gy, gz
        self._nxt = [0] * 7
        self._have_nxt = False
        self._read_into(self._cur)
        self._have_nxt = self._read_into(self._nxt)

    def _read_meta(self):
        with open(self.cache_path, "rb") as f:
            h = f.read(16)
        if len(h) < 16 or h[:4] != b"RBST":
            raise OSError(errno.EIO)
        self.rows, flags, self.rate_hz = struct.unpack("<III", h[4:16])
        self.has_gyro = bool(flags & 1)

    def _convert(self):
        """Parse the CSV (any column order, comments) into the binary cache."""
        cols = None
        meta = {}
        n = 0
        # each process writes its own part file: two test workers converting the
        # same trace at once must not interleave into one cache
        import random
        tmp = "%s.%08x.part" % (self.cache_path, random.getrandbits(30))
        rec = bytearray(_TRACE_REC_BYTES)
        with open(self.path) as src, open(tmp, "wb") as dst:
            dst.write(b"\0" * 16)
            line_no = 0
            for line in src:
                line_no += 1
                line = line.strip()
                if not line:
                    continue
                if line[0] == "#":
                    kv = line[1:].strip().split("=", 1)
                    if len(kv) == 2:
                        meta[kv[0].strip()] = kv[1].strip()
                    continue
                parts = line.split(",")
                if cols is None:
                    names = [p.strip() for p in parts]
                    try:
                        cols = [names.index(c) for c in ("t", "ax", "ay", "az")]
                    except ValueError:
                        raise ValueError("%s:%d: header needs t,ax,ay,az" % (self.path, line_no))
                    if "gx" in names and "gy" in names and "gz" in names:
                        cols += [names.index("gx"), names.index("gy"), names.index("gz")]
                    else:
                        self.has_gyro = False
                    continue
                t_us = int(float(parts[cols[0]]) * 1000000 + 0.5)
                v = [t_us]
                for j in range(1, 4):
                    v.append(int(round(float(parts[cols[j]]) * 1000000)))
                if self.has_gyro:
                    for j in range(4, 7):
                        v.append(int(round(float(parts[cols[j]]) * 1000)))
                else:
                    v += [0, 0, 0]
                struct.pack_into(_TRACE_REC, rec, 0, *v)
                dst.write(rec)
                n += 1
            try:
                self.rate_hz = int(meta.get("rate_hz", "0"))
            except ValueError:
                self.rate_hz = 0
            dst.seek(0)
            dst.write(b"RBST" + struct.pack("<III", n, 1 if self.has_gyro else 0, self.rate_hz))
        self.rows = n
        os.rename(tmp, self.cache_path)

    def _read_into(self, dst):
        if self._blk_i >= self._blk_n:
            got = self._f.readinto(self._blk)
            self._blk_n = (got or 0) // _TRACE_REC_BYTES
            self._blk_i = 0
            if self._blk_n == 0:
                return False
        b = self._blk
        o = self._blk_i * _TRACE_REC_BYTES
        # manual little-endian decode: struct.unpack_from would allocate a tuple per row
        t = 0
        for k in range(7, -1, -1):
            t = (t << 8) | b[o + k]
        if t >= 1 << 63:
            t -= 1 << 64
        dst[0] = t
        o += 8
        for j in range(1, 7):
            x = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)
            if x >= 0x80000000:
                x -= 0x100000000
            dst[j] = x
            o += 4
        self._blk_i += 1
        return True

    def value_at(self, t_us):
        """Row nearest to t_us (list reused; do not keep it)."""
        while self._have_nxt and (self._nxt[0] <= t_us
                                  or self._nxt[0] - t_us < t_us - self._cur[0]):
            c = self._cur
            self._cur = self._nxt
            self._nxt = c
            self._have_nxt = self._read_into(self._nxt)
        if not self._have_nxt and t_us > self._cur[0]:
            self.done = True
        return self._cur


class _Still:
    """No trace: the wearer stands still, 1 g on the sensor x axis."""
    has_gyro = True
    done = False
    rows = 0
    rate_hz = 0

    def __init__(self):
        self._row = [0, 1000000, 0, 0, 0, 0, 0]

    def value_at(self, t_us):
        self._row[0] = t_us
        return self._row


class MPUModel:
    """Register-level MPU6050 / MPU6500 / MPU9250 (accel+gyro part)."""

    def __init__(self, world, who_am_i, source):
        self.world = world
        self.who_am_i = who_am_i
        self.source = source
        self.regs = bytearray(128)
        self.fifo = bytearray(FIFO_BYTES)   # ring buffer
        self.fifo_head = 0
        self.fifo_count = 0
        self.samples_pushed = 0       # samples written into the FIFO (including later dropped)
        self.samples_generated = 0    # samples the chip produced (FIFO enabled or not)
        self.bytes_dropped = 0        # bytes lost to overflow
        self.overflows = 0            # overflow episodes
        self.overflowed = False       # INT_STATUS FIFO_OFLOW latch
        self.raw = [0] * 7            # current ax ay az temp gx gy gz raw counts
        self.raw[3] = TEMP_RAW_25C
        self.next_sample_us = 0
        self.sampling = False
        self._sample_buf = bytearray(14)
        self.mot_ref = [0, 0, 0]      # micro-g: the pose motion is measured from
        self.mot_latched = False
        self.next_lp_us = 0
        self.lp_samples = 0
        self.power_on_reset()

    # --- configuration derived from registers
    def power_on_reset(self):
        for i in range(128):
            self.regs[i] = 0
        self.regs[R_PWR_MGMT_1] = 0x40        # asleep after power-on, like the real chip
        self.regs[R_WHO_AM_I] = self.who_am_i
        self.fifo_head = 0
        self.fifo_count = 0
        self.overflowed = False
        self.sampling = False
        self.mot_latched = False

    def cycling(self):
        """Low-power accelerometer cycle (PWR_MGMT_1 CYCLE, not SLEEP)."""
        r = self.regs[R_PWR_MGMT_1]
        return (r & 0x20) and not (r & 0x40)

    def lp_period_us(self):
        if self.who_am_i == 0x68:
            return LP_WAKE_US_6050[self.regs[R_PWR_MGMT_2] >> 6]
        return 4096000 >> (self.regs[R_LP_ACCEL_ODR] & 0x0F)     # 0.24 Hz << odr

    def int_level(self):
        """Logic level of the INT pin (INT_PIN_CFG bit 7: active low)."""
        active_low = bool(self.regs[R_INT_PIN_CFG] & 0x80)
        return (0 if self.mot_latched else 1) if active_low else (1 if self.mot_latched else 0)

    def _set_ref(self, t_us):
        v = self.source.value_at(t_us)
        for j in range(3):
            self.mot_ref[j] = v[1 + j]

    def _lp_sample(self, t_us):
        """One low-power cycle sample: the motion comparison of the part."""
        self.lp_samples += 1
        v = self.source.value_at(t_us)
        if not self.regs[R_INT_ENABLE] & INT_MOT:
            return
        if self.who_am_i == 0x68:
            # MPU6050, DHPF "hold": the difference from the sample held when hold was set
            if self.regs[R_ACCEL_CONFIG] & 7 != 7:
                return
            thr_ug = self.regs[R_MOT_THR] * 2000
        else:
            # MPU6500/9250 wake-on-motion: compare with the previous sample
            if not self.regs[R_MOT_DETECT_CTRL] & 0x80:
                return
            thr_ug = self.regs[R_MOT_THR] * 4000
        ref = self.mot_ref
        for j in range(3):
            d = v[1 + j] - ref[j]
            if d > thr_ug or -d > thr_ug:
                self.mot_latched = True
        if self.who_am_i != 0x68:
            for j in range(3):
                ref[j] = v[1 + j]

    def lp_catch_up(self, now_us):
        p = self.lp_period_us()
        while self.next_lp_us <= now_us:
            self._lp_sample(self.next_lp_us)
            self.next_lp_us += p

    def period_us(self):
        dlpf = self.regs[R_CONFIG] & 7
        base_div_us = 125 if dlpf in (0, 7) else 1000    # 8 kHz gyro output without DLPF
        return (self.regs[R_SMPLRT_DIV] + 1) * base_div_us

    def dropped_samples(self):
        """Whole samples' worth of bytes lost to overflow."""
        sb = self.sample_layout()
        return self.bytes_dropped // sb if sb else 0

    def sample_layout(self):
        """Bytes per FIFO sample for the FIFO_EN mask."""
        m = self.regs[R_FIFO_EN]
        n = 0
        if m & 0x08:
            n += 6
        if m & 0x80:
            n += 2
        for bit in (0x40, 0x20, 0x10):
            if m & bit:
                n += 2
        return n

    def fifo_writing(self):
        return (self.regs[R_USER_CTRL] & 0x40) and self.regs[R_FIFO_EN] & 0xF8

    def awake(self):
        return not (self.regs[R_PWR_MGMT_1] & 0x40)

    # --- sample production
    def _make_sample(self, t_us):
        v = self.source.value_at(t_us)
        afs = (self.regs[R_ACCEL_CONFIG] >> 3) & 3
        lsb_g = 16384 >> afs
        gfs = (self.regs[R_GYRO_CONFIG] >> 3) & 3
        lsb_x10 = (1310, 655, 328, 164)[gfs]
        r = self.raw
        for j in range(3):
            x = (v[1 + j] * lsb_g + 500000) // 1000000
            r[j] = 32767 if x > 32767 else (-32768 if x < -32768 else x)
        for j in range(3):
            x = (v[4 + j] * lsb_x10 + 5000) // 10000
            r[4 + j] = 32767 if x > 32767 else (-32768 if x < -32768 else x)
        self.samples_generated += 1
        if not self.fifo_writing():
            return
        m = self.regs[R_FIFO_EN]
        b = self._sample_buf
        n = 0
        if m & 0x08:
            for j in range(3):
                x = r[j] & 0xFFFF
                b[n] = x >> 8
                b[n + 1] = x & 0xFF
                n += 2
        if m & 0x80:
            x = r[3] & 0xFFFF
            b[n] = x >> 8
            b[n + 1] = x & 0xFF
            n += 2
        for j, bit in ((4, 0x40), (5, 0x20), (6, 0x10)):
            if m & bit:
                x = r[j] & 0xFFFF
                b[n] = x >> 8
                b[n + 1] = x & 0xFF
                n += 2
        self._push(b, n)

    def _push(self, b, n):
        self.samples_pushed += 1
        room = FIFO_BYTES - self.fifo_count
        if n > room:
            if not self.overflowed:
                self.overflows += 1
            self.overflowed = True
            if self.regs[R_CONFIG] & 0x40 and self.who_am_i != 0x68:
                # MPU6500 FIFO_MODE=1: a full FIFO keeps its old data
                self.bytes_dropped += n
                return
            drop = n - room          # MPU6050: the oldest bytes are overwritten
            self.fifo_head = (self.fifo_head + drop) % FIFO_BYTES
            self.fifo_count -= drop
            self.bytes_dropped += drop
        tail = (self.fifo_head + self.fifo_count) % FIFO_BYTES
        for i in range(n):
            self.fifo[tail] = b[i]
            tail += 1
            if tail == FIFO_BYTES:
                tail = 0
        self.fifo_count += n

    def catch_up(self, now_us):
        """Produce every sample due up to world time now_us."""
        if self.cycling():
            self.lp_catch_up(now_us)
            return
        if not self.sampling:
            return
        p = self.period_us()
        if self.next_sample_us > now_us:
            return
        due = (now_us - self.next_sample_us) // p + 1
        sb = self.sample_layout() or 12
        keep = FIFO_BYTES // sb + 2
        if due > keep + 1:
            # a long stall: only the last FIFO-full matters for the contents, but the
            # skipped samples still count as produced and dropped (the FIFO overflowed)
            skip = due - keep
            t = self.next_sample_us
            if self.fifo_writing():
                # everything in the FIFO and the skipped samples are overwritten
                self.samples_pushed += skip
                self.bytes_dropped += skip * sb + self.fifo_count
                if not self.overflowed:
                    self.overflows += 1
                self.overflowed = True
                self.fifo_count = 0
                self.fifo_head = 0
            self.samples_generated += skip
            # let the trace cursor move forward through the skipped time
            self.source.value_at(t + (skip - 1) * p)
            self.next_sample_us = t + skip * p
        while self.next_sample_us <= now_us:
            self._make_sample(self.next_sample_us)
            self.next_sample_us += p

    def top_up(self):
        """speed 0: the chip runs exactly as fast as the reader drains."""
        if not (self.sampling and self.fifo_writing()):
            return
        sb = self.sample_layout()
        n = (FIFO_BYTES - 1 - self.fifo_count) // sb
        p = self.period_us()
        for _ in range(n):
            self._make_sample(self.next_sample_us)
            self.world.now_us = self.next_sample_us
            self.next_sample_us += p

    def _start_sampling(self):
        if not self.sampling and self.awake():
            self.sampling = True
            self._anchor()

    def _anchor(self):
        now = self.world.now()
        p = self.period_us()
        self.next_sample_us = ((now + p - 1) // p) * p

    # --- register access
    def read(self, reg, buf, n):
        for i in range(n):
            if reg == R_FIFO_R_W:
                if self.fifo_count:
                    buf[i] = self.fifo[self.fifo_head]
                    self.fifo_head = (self.fifo_head + 1) % FIFO_BYTES
                    self.fifo_count -= 1
                else:
                    buf[i] = 0xFF
                continue        # FIFO_R_W does not auto-increment
            buf[i] = self._read_reg(reg)
            reg = (reg + 1) & 0x7F

    def _read_reg(self, reg):
        if reg == R_INT_STATUS:
            v = (INT_FIFO_OFLOW if self.overflowed else 0) | (INT_DATA_RDY if self.sampling else 0)
            if self.mot_latched:
                v |= INT_MOT
            self.overflowed = False          # cleared on read (INT_RD_CLEAR 0: by INT_STATUS)
            self.mot_latched = False
            return v
        if reg == R_FIFO_COUNTH:
            if self.world.speed == 0:
                self.top_up()
            return self.fifo_count >> 8
        if reg == R_FIFO_COUNTL:
            return self.fifo_count & 0xFF
        if R_ACCEL_XOUT_H <= reg <= R_GYRO_XOUT_H + 5:
            k = (reg - R_ACCEL_XOUT_H) >> 1
            x = self.raw[k] & 0xFFFF
            return x >> 8 if not (reg - R_ACCEL_XOUT_H) & 1 else x & 0xFF
        return self.regs[reg]

    def write(self, reg, data, n):
        for i in range(n):
            self._write_reg(reg, data[i])
            reg = (reg + 1) & 0x7F

    def _write_reg(self, reg, v):
        if reg == R_PWR_MGMT_1:
            if v & 0x80:
                self.power_on_reset()
                return
            was_cycling = self.cycling()
            self.regs[reg] = v & 0x7F
            if self.cycling() and not was_cycling:
                self.sampling = False
                self.next_lp_us = self.world.now()
                if self.who_am_i != 0x68:
                    self._set_ref(self.next_lp_us)
                return
            if v & 0x40:
                self.sampling = False
            else:
                self._start_sampling()
            return
        if reg == R_ACCEL_CONFIG and v & 7 == 7 and self.regs[reg] & 7 != 7:
            # DHPF hold: the part keeps the current sample as the motion reference
            self._set_ref(self.world.now())
        if reg == R_USER_CTRL:
            if v & 0x04:            # FIFO_RESET, self-clearing
                self.fifo_head = 0
                self.fifo_count = 0
            self.regs[reg] = v & ~0x05
            if v & 0x40 and self.world.frozen:
                # start="fifo": world time 0 (trace t=0) is the first FIFO sample
                self.world.unfreeze()
                self.next_sample_us = self.world.now()
            return
        if reg in (R_WHO_AM_I, R_INT_STATUS, R_FIFO_COUNTH, R_FIFO_COUNTL):
            return                  # read-only
        if reg == R_FIFO_R_W:
            return
        if reg in (R_SMPLRT_DIV, R_CONFIG) and self.sampling:
            # new rate takes effect from now on
            self.regs[reg] = v
            return
        self.regs[reg] = v


class World:
    """The emulated surroundings of the board: clock, sensor, faults, pins."""

    def __init__(self, s=None):
        self.s = s = s or _Settings()
        self.speed = s.speed
        self.manual = s.clock == "manual"
        self.frozen = s.start == "fifo"      # world time starts when sampling starts
        self.now_us = s.start_ms * 1000      # world time (manual / speed 0 / frozen)
        self.offset_us = s.start_ms * 1000
        self._t0_us = time.ticks_us()
        self._el_us = 0
        self._speed_x1000 = int(self.speed * 1000 + 0.5)
        self._ticks_offset_ms = s.ticks_offset_ms
        self.done_hook = None
        self.sleep_hook = None
        self._rng = s.seed or 1
        self.i2c_errors_injected = 0
        self._err_at = list(s.i2c_error_at_ms)
        self._err_burst_left = 0
        self._stalls = list(s.overflow_at)
        self.stalls_done = 0
        self.flash_fail = False
        self.flash_write_errors = 0
        self.pins = {}
        self.led_log = []
        self.resets = 0
        if s.trace:
            self.source = TraceSource(s.trace, s.trace_cache)
        else:
            self.source = _Still()
        self.mpu = MPUModel(self, s.chip, self.source)
        self.addr = s.addr
        self.ext0 = None              # (pin id, level) from esp32.wake_on_ext0
        self.wake_reason = 0
        self.woke_from_sleep = False
        self.sleeps = []              # (sleep_at_ms, wake_at_ms or None, reason) this process
        self.rtc_mem = b""
        self._load_state()
        if s.flash:
            _mkdirs(s.flash)
            os.chdir(s.flash)

    # --- what survives resets and deep sleep (RTC domain)
    def _load_state(self):
        if not self.s.state:
            return
        d = self._read_state()
        self.rtc_mem = bytes(int(d.get("rtc", "")[i:i + 2], 16)
                             for i in range(0, len(d.get("rtc", "")), 2))
        w = d.get("wake")
        if w:
            # this boot is the wake from deep sleep: the world goes on from the wake time
            self.woke_from_sleep = True
            self.wake_reason = int(w["reason"])
            self.frozen = False
            self.now_us = self.offset_us = int(w["at_us"])
            self._t0_us = time.ticks_us()
            self._el_us = 0
            d["wake"] = None
            d["boots_after_wake"] = d.get("boots_after_wake", 0) + 1
            self._write_state(d)

    def _read_state(self):
        try:
            with _real_open(self.s.state) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _write_state(self, d):
        tmp = self.s.state + ".tmp"
        with _real_open(tmp, "w") as f:
            f.write(json.dumps(d))
        os.rename(tmp, self.s.state)

    def save_rtc(self, b):
        self.rtc_mem = bytes(b)
        if self.s.state:
            d = self._read_state()
            d["rtc"] = "".join("%02x" % x for x in self.rtc_mem)
            self._write_state(d)

    def deep_sleep(self, ms=None):
        """ESP32 deep sleep: find the wake (motion on the ext0 pin, timer, or none before the
        trace ends), let that much world time pass, and reboot like the chip does."""
        m = self.mpu
        t0 = self.now()
        m.catch_up(t0)
        if self.sleep_hook:
            self.sleep_hook()          # a test script sees the board as it goes to sleep
        limit = t0 + ms * 1000 if ms else None
        motion = (self.ext0 is not None and self.ext0[0] == self.s.int_pin)
        want = 1 if (self.ext0 is None or self.ext0[1]) else 0
        t = t0
        step = m.lp_period_us() if m.cycling() else 100000
        reason = 0
        while True:
            if motion and m.int_level() == want:
                reason = EXT0_WAKE
                break
            if limit is not None and t >= limit:
                t = limit
                reason = TIMER_WAKE
                break
            if self.source.done:
                break
            t += step
            m.catch_up(t if limit is None or t < limit else limit)
        self.sleeps.append((t0 // 1000, t // 1000 if reason else None, reason))
        if self.speed and not self.manual:
            time.sleep_ms(int((t - t0) / 1000 / self.speed))
        if self.s.state:
            d = self._read_state()
            d["wake"] = {"reason": reason, "at_us": t} if reason else None
            d["slept"] = {"at_ms": t0 // 1000, "until_ms": t // 1000 if reason else None,
                          "reason": reason, "ext0": self.ext0, "lp_samples": m.lp_samples}
            d["sleeps"] = d.get("sleeps", 0) + 1
            self._write_state(d)
        if self.done_hook:
            h = self.done_hook
            self.done_hook = None
            h()
        if not reason:
            print("SIM deep sleep: no wake before the trace ended")
            raise SystemExit(0)
        self.resets += 1
        raise SystemExit(RESET_EXIT_CODE)

    # --- clock
    def unfreeze(self):
        self.frozen = False
        self._t0_us = time.ticks_us()
        self._el_us = 0

    def now(self):
        """World time in microseconds."""
        if self.frozen or self.manual or self.speed == 0:
            return self.now_us
        # accumulate short tick differences: ticks may wrap (ESP32-like simtime, 2**30 us)
        t = time.ticks_us()
        self._el_us += time.ticks_diff(t, self._t0_us)
        self._t0_us = t
        # integer scaling: a float per call would allocate on the heap being measured
        return self.offset_us + self._el_us * self._speed_x1000 // 1000

    def advance_ms(self, ms):
        """Manual clock: let ms of world time pass."""
        self.now_us += int(ms * 1000)
        self.mpu.catch_up(self.now_us)

    def ticks_ms(self):
        """Chip-time ticks for the driver's lost-sample estimate: period 2**30 like the
        ESP32, starting REPBELT_SIM_TICKS_OFFSET_MS before the wrap when that is set."""
        return (self.now() // 1000 + TICKS_PERIOD - self._ticks_offset_ms) & (TICKS_PERIOD - 1)

    @staticmethod
    def ticks_diff(a, b):
        d = (a - b) & (TICKS_PERIOD - 1)
        return d - TICKS_PERIOD if d >= TICKS_PERIOD // 2 else d

    def _stall(self, dur_ms):
        """Injected stall of the reader: world time passes without reads."""
        self.stalls_done += 1
        if self.manual or self.speed == 0:
            self.now_us += dur_ms * 1000
            self.mpu.catch_up(self.now_us)
        else:
            time.sleep_ms(int(dur_ms / self.speed) + 1)
            self.mpu.catch_up(self.now())

    @property
    def done(self):
        return self.source.done

    # --- bus transaction hook
    def transaction(self, addr):
        """Called at the start of every I2C transfer; raises injected faults."""
        now = self.now()
        m = self.mpu
        m.catch_up(now)
        if self._stalls and now >= self._stalls[0][0] * 1000:
            self._stall(self._stalls.pop(0)[1])
            now = self.now()
        if self.source.done and self.s.end == "exit":
            if self.done_hook:
                self.done_hook()
            raise SystemExit(0)
        if self.source.done and self.done_hook:
            h = self.done_hook
            self.done_hook = None
            h()
        for (t0, dur) in self.s.dead:
            if t0 * 1000 <= now < (t0 + dur) * 1000:
                raise OSError(errno.ENODEV)
        if self.addr is None or addr != self.addr:
            raise OSError(errno.ENODEV)
        if self._err_burst_left > 0:
            self._err_burst_left -= 1
            self.i2c_errors_injected += 1
            raise OSError(errno.ETIMEDOUT)
        if self._err_at and now >= self._err_at[0] * 1000:
            self._err_at.pop(0)
            self._err_burst_left = self.s.i2c_error_burst - 1
            self.i2c_errors_injected += 1
            raise OSError(errno.ETIMEDOUT)
        if self.s.i2c_error_rate > 0 and self._random() < self.s.i2c_error_rate:
            self.i2c_errors_injected += 1
            raise OSError(errno.ETIMEDOUT)

    def _random(self):
        # xorshift32: deterministic for a seed, no dependency on the random module
        x = self._rng
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rng = x
        return (x & 0xFFFFFF) / 16777216.0

    def button_pressed(self):
        now_ms = self.now() // 1000
        for t in self.s.button_at_ms:
            if t <= now_ms < t + 200:
                return True
        return False

    def flash_failing(self):
        if self.flash_fail:
            return True
        now_ms = self.now() // 1000
        for (t0, dur) in self.s.flash_fail:
            if t0 <= now_ms < t0 + dur:
                return True
        return False


SIM = World()


def sim_ticks_ms():
    """The sensor clock as ticks (rb_board uses it instead of time.ticks_ms in the sim)."""
    return SIM.ticks_ms()


def sim_ticks_diff(a, b):
    return World.ticks_diff(a, b)


# ---------------------------------------------------------------- flash faults


class _FlakyFile:
    """A file opened for writing whose writes fail while SIM.flash_failing()."""

    def __init__(self, f):
        self._f = f

    def write(self, b):
        if SIM.flash_failing():
            SIM.flash_write_errors += 1
            raise OSError(errno.EIO)
        return self._f.write(b)

    def flush(self):
        if SIM.flash_failing():
            SIM.flash_write_errors += 1
            raise OSError(errno.EIO)
        return self._f.flush()

    def close(self):
        return self._f.close()

    def read(self, *a):
        return self._f.read(*a)

    def readinto(self, *a):
        return self._f.readinto(*a)

    def readline(self):
        return self._f.readline()

    def seek(self, *a):
        return self._f.seek(*a)

    def tell(self):
        return self._f.tell()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()

    def __iter__(self):
        return iter(self._f)

    def __getattr__(self, name):
        return getattr(self._f, name)


def _open(path, mode="r", *a, **k):
    f = _real_open(path, mode, *a, **k)
    if "w" in mode or "a" in mode or "+" in mode:
        return _FlakyFile(f)
    return f


builtins.open = _open


# ---------------------------------------------------------------- machine API
class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id, mode=-1, pull=-1, value=None, **kw):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._v = 0
        self._irq = None
        SIM.pins[id] = self
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        if mode != -1:
            self.mode = mode
        if pull != -1:
            self.pull = pull
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self.id == SIM.s.int_pin:
                SIM.mpu.catch_up(SIM.now())
                return SIM.mpu.int_level()
            if self.mode == Pin.IN and SIM.s.button_at_ms and self.id == 0:
                return 0 if SIM.button_pressed() else 1
            if self.mode == Pin.IN and self.pull == Pin.PULL_UP:
                return 1
            return self._v
        self._v = 1 if v else 0
        log = SIM.led_log
        log.append((SIM.now() // 1000, self.id, self._v))
        if len(log) > 256:
            log.pop(0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, **kw):
        self._irq = handler
        return None


class Signal:
    def __init__(self, pin, invert=False):
        self.pin = pin
        self.invert = invert

    def value(self, v=None):
        if v is None:
            return self.pin.value() ^ self.invert
        self.pin.value((1 if v else 0) ^ self.invert)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3
    BAT_DIVIDER = 2          # the sim board has the 100k/100k divider rb_board assumes

    def __init__(self, pin, atten=3, **kw):
        self.pin = pin
        self._atten = atten

    def _pin_uv(self):
        return SIM.s.battery_mv * 1000 // ADC.BAT_DIVIDER

    def read_uv(self):
        return self._pin_uv()

    def read_u16(self):
        return min(65535, self._pin_uv() * 65535 // 3300000)

    def read(self):
        return self.read_u16() >> 4

    def atten(self, a):
        self._atten = a

    def width(self, w):
        pass


class I2C:
    """Hardware I2C like the ESP32 port: I2C(id, scl=Pin, sda=Pin, freq=400000)."""

    def __init__(self, id=0, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        self.scl = scl
        self.sda = sda
        self.freq = freq
        self.transfers = 0

    def init(self, scl=None, sda=None, freq=400000, timeout=50000):
        self.freq = freq

    def deinit(self):
        pass

    def scan(self):
        now = SIM.now()
        SIM.mpu.catch_up(now)
        for (t0, dur) in SIM.s.dead:
            if t0 * 1000 <= now < (t0 + dur) * 1000:
                return []
        return [SIM.addr] if SIM.addr is not None else []

    def _dev(self, addr):
        self.transfers += 1
        SIM.transaction(addr)
        return SIM.mpu

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._dev(addr).read(memaddr & 0x7F, buf, len(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        b = bytearray(nbytes)
        self._dev(addr).read(memaddr & 0x7F, b, nbytes)
        return bytes(b)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._dev(addr).write(memaddr & 0x7F, buf, len(buf))

    def writeto(self, addr, buf, stop=True):
        dev = self._dev(addr)
        if len(buf) > 1:
            dev.write(buf[0] & 0x7F, memoryview(buf)[1:], len(buf) - 1)
        self._ptr = buf[0] if len(buf) else 0
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        self._dev(addr).read(getattr(self, "_ptr", 0) & 0x7F, buf, len(buf))

    def readfrom(self, addr, nbytes, stop=True):
        b = bytearray(nbytes)
        self.readfrom_into(addr, b)
        return bytes(b)


class SoftI2C(I2C):
    """Bit-banged I2C: SoftI2C(scl=Pin, sda=Pin, freq=400000)."""

    def __init__(self, scl=None, sda=None, freq=400000, timeout=255):
        I2C.__init__(self, -1, scl=scl, sda=sda, freq=freq)


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        pass


_freq_hz = 160000000


def freq(hz=None):
    global _freq_hz
    if hz is None:
        return _freq_hz
    _freq_hz = hz


def unique_id():
    u = SIM.s.uid
    return bytes(int(u[i:i + 2], 16) for i in range(0, len(u), 2))


def reset():
    """Hard reset: the process ends with RESET_EXIT_CODE so the runner boots the board again."""
    SIM.resets += 1
    sys.exit(RESET_EXIT_CODE)


def soft_reset():
    """Soft reset: a plain SystemExit, which the board runner (sim/serial_boot.py) restarts softly."""
    SIM.resets += 1
    raise SystemExit()


def reset_cause():
    if SIM.woke_from_sleep:
        return DEEPSLEEP_RESET
    c = os.getenv("REPBELT_SIM_RESET_CAUSE")
    return int(c) if c else PWRON_RESET


def wake_reason():
    """Why the chip left deep sleep (EXT0_WAKE, TIMER_WAKE), 0 after a reset or power on."""
    return SIM.wake_reason if SIM.woke_from_sleep else 0


class RTC:
    """RTC slow memory: survives reset and deep sleep (in the sim state file), not power loss."""

    def __init__(self, id=0):
        pass

    def memory(self, data=None):
        if data is None:
            return SIM.rtc_mem
        if len(data) > RTC_MEMORY_MAX:
            raise ValueError("buffer too long")
        SIM.save_rtc(data)

    def datetime(self, dt=None):
        return time.localtime()[:8]


def idle():
    time.sleep_ms(0)


def lightsleep(ms=None):
    if ms:
        time.sleep_ms(ms)


def deepsleep(ms=None):
    SIM.deep_sleep(ms)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass
