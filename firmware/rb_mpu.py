"""MPU6050 / MPU6500 / MPU9250 driver: FIFO bursts into preallocated int arrays.

Works on any `machine.I2C`-like object (readfrom_mem_into / writeto_mem /
scan).  The sensor's own 1 KB FIFO is the sample clock: the loop may stall
for BLE, flash writes or garbage collection for up to FIFO-full time
(~0.85 s of accel+gyro at 100 Hz) without losing or duplicating a sample.
Sample times come from a sample counter, never from ticks; ticks are used
only to estimate how many samples an overflow or a bus outage cost.

Output units are those of the detection core (docs/architecture.md): accel
milli-g, gyro tenths of deg/s, as ints; `raw=True` gives sensor counts.
`start()` raises SensorError subclasses; `read_fifo()` never raises: faults
are queued as (rb_events fault code, detail) for the caller to emit.
"""

import time
from array import array
from micropython import const

import rb_events

# registers
_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)
_FIFO_EN = const(0x23)
_INT_ENABLE = const(0x38)
_INT_STATUS = const(0x3A)
_ACCEL_XOUT_H = const(0x3B)
_GYRO_XOUT_H = const(0x43)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_PWR_MGMT_2 = const(0x6C)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)

_INT_FIFO_OFLOW = const(0x10)
_INT_MOT = const(0x40)               # MOT_INT (6050) / WOM_INT (6500/9250), also the enable bit
_MOT_THR = const(0x1F)               # 6050: MOT_THR, 2 mg/LSB; 6500/9250: WOM_THR, 4 mg/LSB
_MOT_DUR = const(0x20)               # 6050 only: 1 ms/LSB
_LP_ACCEL_ODR = const(0x1E)          # 6500/9250 only
_INT_PIN_CFG = const(0x37)
_MOT_DETECT_CTRL = const(0x69)       # 6500/9250: ACCEL_INTEL_CTRL
_FIFO_BYTES = const(1024)
_FIFO_READ_MAX_BYTES = const(1020)   # whole samples only: 85 x 12 or 170 x 6

ADDRS = (0x68, 0x69)                 # AD0 low, AD0 high
CHIP_IDS = {0x68: "mpu6050", 0x70: "mpu6500", 0x71: "mpu9250", 0x73: "mpu9250"}

I2C_RETRIES = 2                      # extra attempts per transfer before re-initialising
# low-power motion mode: the accelerometer alone wakes at ~1-2 Hz, the gyro sleeps
# (MPU-6050 product spec 6.2: 10 uA at 1.25 Hz; MPU-6500: ~7 uA at 0.98 Hz LP ODR)
LP_WAKE_6050 = const(0)              # LP_WAKE_CTRL 0: 1.25 Hz
LP_ODR_6500 = const(3)               # LP_ACCEL_ODR 3: 1.95 Hz
HPF_SETTLE_MS = 5                    # let the high-pass filter take the pose before holding it
REINIT_INTERVAL_MS = 1000            # while the sensor is gone, try to bring it back this often
RESET_WAIT_MS = 100                  # datasheet: device reset takes up to 100 ms
WAKE_WAIT_MS = 10
I2C_FAULT_MIN_INTERVAL_MS = 10000    # recovered (retried) bus errors are reported at most this often
MAX_PENDING_FAULTS = 8

ACCEL_RANGES_G = (2, 4, 8, 16)
GYRO_RANGES_DPS = (250, 500, 1000, 2000)
GYRO_LSB_X10 = (1310, 655, 328, 164)  # LSB per deg/s, times 10
DLPF_HZ = (260, 184, 94, 44, 21, 10, 5)   # DLPF_CFG 0..6 (gyro bandwidth); 260 = DLPF off

MISSING_NONE = const(1)              # F_SENSOR_MISSING details
MISSING_WRONG_ID = const(2)
MISSING_BUS = const(3)


class SensorError(OSError):
    """The IMU cannot be used; the message says what to check."""


class SensorMissing(SensorError):
    pass


class SensorWrongId(SensorError):
    pass


class SensorBusError(SensorError):
    pass


class MPU:
    def __init__(self, i2c, addr=None, rate_hz=100, accel_range_g=4,
                 gyro_range_dps=500, dlpf_hz=44, use_gyro=True, raw=False,
                 ticks_ms=None, ticks_diff=None):
        if accel_range_g not in ACCEL_RANGES_G:
            raise ValueError("accel_range_g must be one of 2, 4, 8, 16")
        if gyro_range_dps not in GYRO_RANGES_DPS:
            raise ValueError("gyro_range_dps must be one of 250, 500, 1000, 2000")
        if dlpf_hz not in DLPF_HZ:
            raise ValueError("dlpf_hz must be one of 260, 184, 94, 44, 21, 10, 5")
        if dlpf_hz == 260:
            raise ValueError("dlpf_hz 260 (DLPF off) changes the base rate to 8 kHz; not supported")
        if not 4 <= rate_hz <= 1000:
            raise ValueError("rate_hz must be 4..1000")
        self.i2c = i2c
        self.want_addr = addr
        self.addr = addr
        self.who_am_i = 0
        self.chip = ""
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self.dlpf_hz = dlpf_hz
        self.has_gyro = bool(use_gyro)
        self.raw = raw
        self._div = 1000 // rate_hz - 1
        self.rate_hz = 1000 // (self._div + 1)
        self.sample_bytes = 12 if self.has_gyro else 6
        self.max_batch = _FIFO_READ_MAX_BYTES // self.sample_bytes
        self._ticks_ms = ticks_ms or time.ticks_ms
        self._ticks_diff = ticks_diff or time.ticks_diff
        self._afs = ACCEL_RANGES_G.index(accel_range_g)
        self._gfs = GYRO_RANGES_DPS.index(gyro_range_dps)
        # accel mg = raw * 1000 / (16384 >> afs), rounded: (raw*1000 + half) >> shift
        self._a_shift = 14 - self._afs
        self._a_half = 1 << (self._a_shift - 1)
        self._g_den2 = 2 * GYRO_LSB_X10[self._gfs]
        n = self.max_batch
        # int16 is enough for every output (+-16000 mg, +-20000 ddps, raw counts)
        self.t_ms = array("i", bytes(4 * n))
        self.ax = array("h", bytes(2 * n))
        self.ay = array("h", bytes(2 * n))
        self.az = array("h", bytes(2 * n))
        self.gx = array("h", bytes(2 * n))
        self.gy = array("h", bytes(2 * n))
        self.gz = array("h", bytes(2 * n))
        self._buf = bytearray(_FIFO_READ_MAX_BYTES)
        mv = memoryview(self._buf)
        # bursts of whole samples into the buffer start, sizes a power of two:
        # any count is read in a few transfers with no memoryview made per call
        self._burst_n = []
        self._burst_mv = []
        k = 1
        while k <= n:
            self._burst_n.append(k)
            self._burst_mv.append(mv[:k * self.sample_bytes])
            k <<= 1
        self._burst_n.reverse()
        self._burst_mv.reverse()
        self._mv_a = mv[:6]
        self._mv_g = mv[6:12]
        self._b1 = bytearray(1)
        self._b2 = bytearray(2)
        self._w1 = bytearray(1)
        # time from the sample counter: t = floor(sample_no * 1000 / rate)
        self.sample_no = 0
        self._t_next = 0
        self._t_q = 1000 // self.rate_hz
        self._t_r = 1000 % self.rate_hz
        self._t_acc = 0
        self.samples = 0
        self.overflows = 0
        self.lost_samples = 0
        self.i2c_errors = 0
        self.reinits = 0
        self.faults_dropped = 0
        self.healthy = False
        self.started = False
        self.error = None            # last SensorError while unhealthy
        self._faults = []
        self._last_read_ms = self._ticks_ms()
        self._last_try_ms = self._last_read_ms
        self._unreported_errors = 0
        self._last_err_report_ms = self._last_read_ms
        self._last_errno = 0
        self._missing_reported = False
        self._gap_from_ms = self._last_read_ms
        self._lost_in_fifo = 0       # samples seen in the FIFO but never decoded (failed burst)

    # ------------------------------------------------------------------ bus
    def _rd(self, reg, buf):
        for attempt in range(I2C_RETRIES + 1):
            try:
                self.i2c.readfrom_mem_into(self.addr, reg, buf)
                return
            except OSError as e:
                self._bus_error(e)
                if attempt == I2C_RETRIES:
                    raise

    def _wr(self, reg, val):
        self._w1[0] = val
        for attempt in range(I2C_RETRIES + 1):
            try:
                self.i2c.writeto_mem(self.addr, reg, self._w1)
                return
            except OSError as e:
                self._bus_error(e)
                if attempt == I2C_RETRIES:
                    raise

    def _bus_error(self, e):
        self.i2c_errors += 1
        self._unreported_errors += 1
        self._last_errno = e.args[0] if e.args else 0

    def _fault(self, code, detail):
        if len(self._faults) >= MAX_PENDING_FAULTS:
            self._faults.pop(0)
            self.faults_dropped += 1
        self._faults.append((code, detail))

    def pop_fault(self):
        """Oldest pending (fault_code, detail) or None."""
        if self._faults:
            return self._faults.pop(0)
        return None

    # ------------------------------------------------------------- set-up
    def _read_id(self, a):
        """WHO_AM_I at address a, or None if nothing answers (not counted as a bus error)."""
        for _ in range(I2C_RETRIES + 1):
            try:
                self.i2c.readfrom_mem_into(a, _WHO_AM_I, self._b1)
                return self._b1[0]
            except OSError:
                pass
        return None

    def _probe(self):
        addrs = (self.want_addr,) if self.want_addr is not None else ADDRS
        seen_id = None
        for a in addrs:
            wid = self._read_id(a)
            if wid is None:
                continue
            if wid in CHIP_IDS:
                self.addr = a
                self.who_am_i = wid
                self.chip = CHIP_IDS[wid]
                return
            seen_id = (a, wid)
        if seen_id is not None:
            raise SensorWrongId("IMU at 0x%02x answers WHO_AM_I 0x%02x, not an MPU6050/6500/9250: "
                                "check the part or the address" % seen_id)
        try:
            found = self.i2c.scan()
        except OSError:
            found = []
        where = "0x%02x" % self.want_addr if self.want_addr is not None else "0x68 or 0x69"
        if found:
            raise SensorMissing("no MPU6050 at %s (bus has %s): check the AD0 pin or the address"
                                % (where, ", ".join(["0x%02x" % x for x in found])))
        raise SensorMissing("no IMU answers at %s: check SDA/SCL wiring and 3.3 V power" % where)

    def _configure(self):
        self._wr(_PWR_MGMT_1, 0x80)             # device reset
        time.sleep_ms(RESET_WAIT_MS)
        self._wr(_PWR_MGMT_1, 0x01)             # wake, clock from the gyro PLL
        time.sleep_ms(WAKE_WAIT_MS)
        self._wr(_PWR_MGMT_2, 0x00 if self.has_gyro else 0x07)   # accel-only: gyros on standby
        self._wr(_SMPLRT_DIV, self._div)
        self._wr(_CONFIG, DLPF_HZ.index(self.dlpf_hz))   # FIFO_MODE 0: overwrite when full
        self._wr(_GYRO_CONFIG, self._gfs << 3)
        self._wr(_ACCEL_CONFIG, self._afs << 3)
        if self.who_am_i != 0x68:
            self._wr(_ACCEL_CONFIG2, DLPF_HZ.index(self.dlpf_hz))  # accel DLPF on MPU6500/9250
        self._rd(_SMPLRT_DIV, self._b1)
        if self._b1[0] != self._div:
            raise SensorBusError("IMU does not keep its settings (wrote 0x%02x, read 0x%02x): "
                                 "check wiring and pull-ups" % (self._div, self._b1[0]))
        self._wr(_INT_ENABLE, _INT_FIFO_OFLOW)
        self._reset_fifo()

    def _reset_fifo(self):
        self._wr(_USER_CTRL, 0x00)
        self._wr(_FIFO_EN, 0x00)
        self._wr(_USER_CTRL, 0x04)              # FIFO_RESET
        self._rd(_INT_STATUS, self._b1)         # clears a latched overflow
        self._wr(_FIFO_EN, 0x78 if self.has_gyro else 0x08)   # XG YG ZG ACCEL / ACCEL
        self._wr(_USER_CTRL, 0x40)              # FIFO_EN
        self._last_read_ms = self._ticks_ms()

    def start(self):
        """Find, check and configure the IMU; raises SensorError."""
        try:
            self._probe()
            self._configure()
        except SensorError as e:
            self.healthy = False
            self.error = e
            self._last_try_ms = self._ticks_ms()
            raise
        except OSError as e:
            self.healthy = False
            self.error = SensorBusError("IMU I2C keeps failing (errno %d): check wiring and pull-ups"
                                        % (e.args[0] if e.args else 0))
            self._last_try_ms = self._ticks_ms()
            raise self.error
        self.healthy = True
        self.started = True
        self.error = None
        self._missing_reported = False
        return self.chip

    # --------------------------------------------------------- low power
    def arm_motion_wake(self, wake_mg):
        """Low-power motion mode: accel-only cycle, INT (active high, latched) on motion.

        The reference is the pose at arming, so any lasting change of
        orientation (picking the belt up, strapping it on) trips it on the
        next low-power sample even if the movement itself fell between two.
        The FIFO stops; `start()` brings back normal sampling.  Raises OSError.
        """
        if self.addr is None:
            self._probe()
        self.started = False
        w = self._wr
        w(_PWR_MGMT_1, 0x80)                 # reset: a known state whatever ran before
        time.sleep_ms(RESET_WAIT_MS)
        w(_PWR_MGMT_1, 0x00)
        w(_PWR_MGMT_2, 0x07)                 # gyros on standby
        w(_INT_PIN_CFG, 0x20)                # active high, push-pull, latched until INT_STATUS is read
        if self.who_am_i == 0x68:
            thr = (wake_mg + 1) // 2
            w(_ACCEL_CONFIG, (self._afs << 3) | 0x01)    # DHPF 5 Hz: tracks the pose
            w(_MOT_THR, thr if thr < 255 else 255)
            w(_MOT_DUR, 1)
            w(_MOT_DETECT_CTRL, 0x15)
            w(_INT_ENABLE, _INT_MOT)
            time.sleep_ms(HPF_SETTLE_MS)
            w(_ACCEL_CONFIG, (self._afs << 3) | 0x07)    # DHPF hold: compare with that pose
            w(_PWR_MGMT_2, (LP_WAKE_6050 << 6) | 0x07)
        else:
            thr = (wake_mg + 3) // 4
            w(_ACCEL_CONFIG2, 0x09)                      # 184 Hz accel bandwidth (WOM recipe)
            w(_INT_ENABLE, _INT_MOT)
            w(_MOT_DETECT_CTRL, 0xC0)                    # ACCEL_INTEL_EN, compare mode
            w(_MOT_THR, thr if thr < 255 else 255)
            w(_LP_ACCEL_ODR, LP_ODR_6500)
        self._rd(_INT_STATUS, self._b1)      # drop anything latched while arming
        w(_PWR_MGMT_1, 0x28)                 # CYCLE, temperature sensor off

    def motion(self):
        """True once after motion while armed (reads and clears INT_STATUS). Never raises."""
        try:
            self.i2c.readfrom_mem_into(self.addr, _INT_STATUS, self._b1)
        except OSError as e:
            self._bus_error(e)
            return False
        return bool(self._b1[0] & _INT_MOT)

    # --------------------------------------------------------------- time
    def _advance(self, k):
        """Account k samples of time without data (lost)."""
        if k <= 0:
            return
        self.sample_no += k
        self.lost_samples += k
        acc = self._t_acc + k * self._t_r
        self._t_next += k * self._t_q + acc // self.rate_hz
        self._t_acc = acc % self.rate_hz

    def _elapsed_samples(self):
        el = self._ticks_diff(self._ticks_ms(), self._last_read_ms)
        if el <= 0:
            return 0
        return (el * self.rate_hz + 500) // 1000

    # --------------------------------------------------------------- read
    def read_fifo(self):
        """Drain the FIFO into the output arrays; number of samples (0 on faults)."""
        if not self.healthy:
            return self._recover()
        try:
            self._rd(_INT_STATUS, self._b1)
            self._rd(_FIFO_COUNTH, self._b2)
        except OSError:
            return self._reinit()
        count = (self._b2[0] << 8) | self._b2[1]
        if (self._b1[0] & _INT_FIFO_OFLOW) or count >= _FIFO_BYTES:
            return self._overflow()
        n = count // self.sample_bytes
        if n > self.max_batch:
            n = self.max_batch
        done = 0
        try:
            bi = 0
            while done < n:
                while self._burst_n[bi] > n - done:
                    bi += 1
                k = self._burst_n[bi]
                self.i2c.readfrom_mem_into(self.addr, _FIFO_R_W, self._burst_mv[bi])
                self._decode(done, k)
                done += k
        except OSError as e:
            # a failed burst leaves the FIFO at an unknown byte position: keep what was
            # decoded, count the rest of the FIFO lost, re-align by resetting the FIFO
            self._bus_error(e)
            self._last_read_ms = self._ticks_ms()
            self._lost_in_fifo = n - done
            self._reinit()
            return done
        self._last_read_ms = self._ticks_ms()
        if self._unreported_errors and self._ticks_diff(
                self._last_read_ms, self._last_err_report_ms) >= I2C_FAULT_MIN_INTERVAL_MS:
            self._report_i2c()
        return done

    def _decode(self, at, k):
        b = self._buf
        sb = self.sample_bytes
        raw = self.raw
        sh = self._a_shift
        half = self._a_half
        den2 = self._g_den2
        gyro = self.has_gyro
        ax = self.ax
        ay = self.ay
        az = self.az
        gx = self.gx
        gy = self.gy
        gz = self.gz
        tt = self.t_ms
        rate = self.rate_hz
        q = self._t_q
        r = self._t_r
        t = self._t_next
        acc = self._t_acc
        hg = den2 >> 1
        o = 0
        for i in range(at, at + k):
            x = (b[o] << 8) | b[o + 1]
            y = (b[o + 2] << 8) | b[o + 3]
            z = (b[o + 4] << 8) | b[o + 5]
            if x & 0x8000:
                x -= 0x10000
            if y & 0x8000:
                y -= 0x10000
            if z & 0x8000:
                z -= 0x10000
            if raw:
                ax[i] = x
                ay[i] = y
                az[i] = z
            else:
                ax[i] = (x * 1000 + half) >> sh
                ay[i] = (y * 1000 + half) >> sh
                az[i] = (z * 1000 + half) >> sh
            if gyro:
                x = (b[o + 6] << 8) | b[o + 7]
                y = (b[o + 8] << 8) | b[o + 9]
                z = (b[o + 10] << 8) | b[o + 11]
                if x & 0x8000:
                    x -= 0x10000
                if y & 0x8000:
                    y -= 0x10000
                if z & 0x8000:
                    z -= 0x10000
                if raw:
                    gx[i] = x
                    gy[i] = y
                    gz[i] = z
                else:
                    gx[i] = (x * 200 + hg) // den2
                    gy[i] = (y * 200 + hg) // den2
                    gz[i] = (z * 200 + hg) // den2
            else:
                gx[i] = 0
                gy[i] = 0
                gz[i] = 0
            tt[i] = t
            t += q
            acc += r
            if acc >= rate:
                acc -= rate
                t += 1
            o += sb
        self._t_next = t
        self._t_acc = acc
        self.sample_no += k
        self.samples += k

    def _overflow(self):
        # after an overflow the FIFO may start mid-sample: its contents are dropped,
        # and every sample since the last read counts as lost
        lost = self._elapsed_samples()
        self._last_read_ms = self._ticks_ms()
        self.overflows += 1
        self._advance(lost)
        self._fault(rb_events.F_FIFO_OVERFLOW, lost)
        try:
            self._reset_fifo()
        except OSError:
            return self._reinit()
        return 0

    def _report_i2c(self):
        if not self._unreported_errors:
            return
        self._fault(rb_events.F_I2C_ERROR, self._unreported_errors)
        self._unreported_errors = 0
        self._last_err_report_ms = self._ticks_ms()

    def _reinit(self):
        """Retries were not enough: configure the chip again from scratch."""
        self._report_i2c()
        self._gap_from_ms = self._last_read_ms
        self._last_try_ms = self._ticks_ms()
        try:
            self._probe()
            self._configure()
        except OSError as e:      # SensorError is an OSError too
            self._went_missing(e)
            return 0
        self.reinits += 1
        self._account_gap()
        return 0

    def _went_missing(self, e):
        self.healthy = False
        if isinstance(e, SensorError):
            self.error = e
        else:
            self.error = SensorBusError("IMU I2C keeps failing (errno %d): check wiring and pull-ups"
                                        % (e.args[0] if e.args else 0))
        if not self._missing_reported:
            self._missing_reported = True
            d = MISSING_NONE
            if isinstance(self.error, SensorWrongId):
                d = MISSING_WRONG_ID
            elif isinstance(self.error, SensorBusError):
                d = MISSING_BUS
            self._fault(rb_events.F_SENSOR_MISSING, d)

    def _account_gap(self):
        # the FIFO was reset by _configure, which moved _last_read_ms to now:
        # the gap runs from the last good read to now
        lost = self._ticks_diff(self._last_read_ms, self._gap_from_ms)
        lost = (lost * self.rate_hz + 500) // 1000 if lost > 0 else 0
        lost += self._lost_in_fifo
        self._lost_in_fifo = 0
        if lost:
            self._advance(lost)
            self._fault(rb_events.F_SAMPLE_GAP, lost)

    def _recover(self):
        now = self._ticks_ms()
        if self._ticks_diff(now, self._last_try_ms) < REINIT_INTERVAL_MS:
            return 0
        self._last_try_ms = now
        try:
            self._probe()
            self._configure()
        except OSError as e:
            self._went_missing(e)
            return 0
        self.healthy = True
        self.error = None
        self._missing_reported = False
        if self.started:
            self.reinits += 1
            self._account_gap()
        self.started = True
        return 0

    def read_now(self):
        """One live sample from the output registers into index 0 (diagnostics; may raise OSError)."""
        self.i2c.readfrom_mem_into(self.addr, _ACCEL_XOUT_H, self._mv_a)
        if self.has_gyro:
            # the output registers have the temperature between accel and gyro
            self.i2c.readfrom_mem_into(self.addr, _GYRO_XOUT_H, self._mv_g)
        t = self._t_next
        acc = self._t_acc
        s = self.sample_no
        sm = self.samples
        self._decode(0, 1)
        self._t_next = t
        self._t_acc = acc
        self.sample_no = s
        self.samples = sm
