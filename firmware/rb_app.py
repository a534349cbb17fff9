"""The board application: asyncio wiring of sensor -> engine -> log -> BLE.

Tasks: sensor (FIFO bursts every SENSOR_PERIOD_MS, each sample fed to the
engine at its FIFO time; outside a session the MPU idles in its low-power
motion mode), status (Status characteristic, battery), power (rb_power:
advertising interval, idle session end, dropping an idle link, deep sleep),
button (short press: start/stop a session; long press: open the BLE pairing
window), LED (rb_led patterns) and the BLE tasks of rb_ble.

Sessions: one starts at boot and at every wake from deep sleep (the belt
records as soon as it is switched on or picked up; AUTOSTART), the button
or the Control characteristic stop and start them, and one with no activity
for session_idle_s ends by itself (motion before the board sleeps starts a
new one). Engine time is sample time since the session's first sample.

Ticks (`time.ticks_ms`) are used only for scheduling, always through
ticks_diff/ticks_add; the tick source is injectable (App(ticks_ms=...)).
"""
import asyncio
import time

TYPE_CHECKING = False
if TYPE_CHECKING:      # mypy only; MicroPython has no typing module
    from typing import Any  # noqa: F401

import bluetooth
import rb_board
import rb_events as E
import rb_protocol as P

FW_VERSION = (0, 1, 0)
AUTOSTART = True
SENSOR_PERIOD_MS = 150        # FIFO holds ~850 ms at 100 Hz: plenty of margin
SENSOR_RETRY_MS = 5000        # a missing sensor is probed again this often
STATUS_PERIOD_MS = 1000
BATTERY_PERIOD_MS = 30000
BUTTON_POLL_MS = 50
BUTTON_LONG_MS = 3000
POWER_PERIOD_MS = 1000        # power policy decisions this often
MOTION_POLL_MS = 500          # INT_STATUS poll while the MPU idles in motion mode
USER_OPS = (P.OP_START_SESSION, P.OP_STOP_SESSION, P.OP_HINT, P.OP_CALIBRATE,
            P.OP_SET_CONFIG, P.OP_RAW_START, P.OP_RAW_STOP)
ACTIVITY_EVENTS = (E.EV_REP, E.EV_SET_START, E.EV_HOLD_START, E.EV_HOLD_TICK,
                   E.EV_WALK_START, E.EV_STEPS, E.EV_POSTURE, E.EV_CALIBRATED)
RAW_CHUNK_MAX = 20            # samples per raw notification at most

APP = None                    # the running App (tests and the REPL reach it here)


class App:
    def __init__(self, ble=None, board=rb_board, ticks_ms=None, autostart=AUTOSTART):
        # BLE first: on ESP32 it needs its memory before big allocations
        self.ble = ble if ble is not None else bluetooth.BLE()
        self.ble.active(True)
        self.board = board
        self.ticks_ms = ticks_ms or time.ticks_ms
        self.autostart = autostart
        import rb_config
        import rb_log
        self.cfg = rb_config.Config(board.CONFIG_PATH)
        board.set_cpu_mhz(self.cfg.get("cpu_mhz"))
        self.log = rb_log.EventLog(board.LOG_DIR, max_bytes=board.LOG_MAX_BYTES)
        self.led = board.make_led()
        self.button = board.make_button()
        self.name = board.device_name(self.cfg.get("name"))
        self.engine = None  # type: Any
        self.session = False
        self.calibrating = False
        self.t0 = None                # FIFO time of the session's first sample
        self.t_last = 0               # last sample time (session time when in a session)
        self.health = P.HEALTH_OK
        self.raw_on = False
        self.time_offset_s = None     # unix seconds - time.time(), once set
        self.battery = None
        self.mpu = None  # type: Any
        self.sensor_ok = False
        self.samples = 0
        self.loops = 0
        self.events = 0
        import rb_ble
        self.p = rb_ble.Peripheral(self.ble, self.name, self.log, self.command, self.fault,
                                   fw=FW_VERSION, ticks_ms=self.ticks_ms)
        self.p.adv_interval_us = self.cfg.get("adv_fast_ms") * 1000   # boot and wake: easy to find
        self._status_cache = None
        self._raw_buf = None
        self._raw_rows = None
        import rb_power
        self.power = rb_power.Policy(self.cfg.get, board.ticks_ms(), board.ticks_diff)
        self.bat = rb_power.Battery(self.cfg.get("battery_low_pct"), self.cfg.get("battery_critical_pct"))
        self.lp = False               # the MPU is in its low-power motion mode
        self.wake = board.wake_reason()
        self.sleeps = 0
        self.slept_s = 0
        rtc = rb_power.unpack_rtc(board.rtc_memory())
        if rtc is not None:
            # the board's RTC clock kept running through deep sleep or reset
            self.sleeps = rtc[0]
            self.time_offset_s = rtc[1]
            if self.wake != E.PR_POWER_ON:
                d = int(time.time()) - rtc[2]
                self.slept_s = d if d > 0 else 0

    # ------------------------------------------------------------ events
    def _emit(self, ev):
        self.log.append(ev)
        self.events += 1
        if ev[0] == E.EV_CALIBRATED:
            self._calibrated(ev)
        if self.session and ev[0] in ACTIVITY_EVENTS:
            self.power.session_activity(self.board.ticks_ms())
        self.p.kick()

    def fault(self, code, detail=0):
        """Log a fault event (any task); sensor faults also set the health."""
        if code in (E.F_SENSOR_MISSING, E.F_I2C_ERROR, E.F_FIFO_OVERFLOW):
            self.health = code
        self._emit((E.EV_FAULT, self.t_last, code, detail, 0, 0, 0, 0))
        f = self.log.pop_fault()
        while f is not None:
            self.log.append((E.EV_FAULT, self.t_last, f[0], f[1], 0, 0, 0, 0))
            f = self.log.pop_fault()

    def _new_engine(self, mount_name=None):
        import rb_engine
        import rb_tunables
        tun = {}
        th = self.cfg.get("thresholds") or {}
        for k in th:
            if rb_tunables.known(k):
                tun[k] = int(th[k])
        mount = mount_name or self.cfg.get("mount")
        rot = self.cfg.get("rotation")
        if mount == "fixed" and rot:
            code = rb_engine.MOUNT_FIXED
        else:
            code = rb_engine.mount_code(mount)
        has_gyro = self.mpu.has_gyro if self.mpu else bool(self.cfg.get("use_gyro"))
        rate = self.mpu.rate_hz if self.mpu else self.cfg.get("rate_hz")
        return rb_engine.Engine(rate_hz=rate, has_gyro=has_gyro, mount=code,
                                rotation=tuple(rot) if (rot and code == rb_engine.MOUNT_FIXED) else None,
                                tun=tun, emit=self._emit)

    # ------------------------------------------------------------ sessions
    def start_session(self, calibrate=False):
        if self.session:
            return None
        wall = 0
        if self.time_offset_s is not None:
            wall = time.time() + self.time_offset_s
        sid = self.log.start_session(wall_s=wall)
        self.engine = self._new_engine("calibrate" if calibrate else None)
        self.calibrating = calibrate
        self.session = True
        self.t0 = None
        self.t_last = 0
        self.power.session_started(self.board.ticks_ms())
        if self.bat.level:
            # each session's log says the battery was already low when it began
            self._battery_event()
        self.led_state()
        self.update_status()
        return sid

    def stop_session(self, auto=False):
        """End the session (auto: it was idle for session_idle_s)."""
        if not self.session:
            return None
        self.power.session_ended(self.board.ticks_ms(), auto)
        self.engine.finish(self.t_last)
        sid = self.log.session_id
        self.session = False
        self.calibrating = False
        self.engine = None
        self.log.end_session()
        self.led_state()
        self.update_status()
        self.p.kick()
        return sid

    def _calibrated(self, ev):
        self.calibrating = False
        if ev[2] == E.CAL_OK and self.engine is not None:
            try:
                self.cfg.set("rotation", list(self.engine.rotation))
                self.cfg.set("mount", "fixed")
                self.cfg.save()
            except (ValueError, OSError) as e:
                self.fault(E.F_CONFIG_INVALID if isinstance(e, ValueError) else E.F_LOG_WRITE, 0)
        self.led_state()
        self.update_status()

    # ------------------------------------------------------------ control
    def command(self, op, token, args):
        """App-level Control commands (rb_ble handles replay/sync/security)."""
        if op in USER_OPS:
            # what a person asked for; a reconnecting laptop's status, time and
            # replay requests are not, or it could keep the belt awake for ever
            self.power.activity(self.board.ticks_ms())
        if op == P.OP_START_SESSION:
            sid = self.start_session()
            if sid is None:
                return P.ERR_BAD_STATE, b""
            return P.ERR_OK, P.encode_u32(sid)
        if op == P.OP_STOP_SESSION:
            sid = self.stop_session()
            if sid is None:
                return P.ERR_BAD_STATE, b""
            return P.ERR_OK, P.encode_u32(sid)
        if op == P.OP_HINT:
            kind = args[0]
            if kind >= E.K_COUNT:
                return P.ERR_BAD_VALUE, b""
            if self.engine is None:
                return P.ERR_BAD_STATE, b""
            self.engine.hint(kind)
            return P.ERR_OK, b""
        if op == P.OP_CALIBRATE:
            if self.session:
                self.stop_session()
            sid = self.start_session(calibrate=True)
            return P.ERR_OK, P.encode_u32(sid)
        if op == P.OP_SET_CONFIG:
            return self._set_config(args[0], args[1])
        if op == P.OP_SET_TIME:
            self.time_offset_s = args[0] - time.time()
            self.update_status()
            return P.ERR_OK, b""
        if op == P.OP_RAW_START:
            self.raw_on = True
            self.update_status()
            return P.ERR_OK, b""
        if op == P.OP_RAW_STOP:
            self.raw_on = False
            self.update_status()
            return P.ERR_OK, b""
        if op == P.OP_GET_STATUS:
            return P.ERR_OK, self.status_block()
        return P.ERR_UNKNOWN_OP, b""

    def _set_config(self, key, value):
        import rb_tunables
        try:
            if rb_tunables.known(key):
                if not isinstance(value, int) or value is True or value is False:
                    return P.ERR_BAD_VALUE, b""
                th = dict(self.cfg.get("thresholds") or {})
                th[key] = value
                self.cfg.set("thresholds", th)
            else:
                self.cfg.set(key, value)
        except (ValueError, KeyError, TypeError):
            return P.ERR_BAD_VALUE, b""
        try:
            self.cfg.save()
        except OSError:
            return P.ERR_STORAGE, b""
        # thresholds and mount apply from the next session, sensor settings from the next boot
        self.update_status()
        return P.ERR_OK, b""

    # ------------------------------------------------------------ status
    def status_block(self):
        st = P.ST_IDLE
        if self.health in (E.F_SENSOR_MISSING,) and not self.sensor_ok:
            st = P.ST_FAULT
        elif self.calibrating:
            st = P.ST_CALIBRATING
        elif self.session:
            st = P.ST_SESSION
        fl = 0
        if self.time_offset_s is not None:
            fl |= P.SF_TIME_SET
        if self.cfg.get("mount") == "fixed" and self.cfg.get("rotation"):
            fl |= P.SF_MOUNT_CALIBRATED
        if self.raw_on:
            fl |= P.SF_RAW_ON
        if self.p.authorized:
            fl |= P.SF_AUTHORIZED
        if self.cfg.invalid:
            fl |= P.SF_CONFIG_INVALID
        if getattr(self.log, "full", False):
            fl |= P.SF_LOG_FULL
        if self.bat.level:
            fl |= P.SF_BATTERY_LOW
        return P.encode_status(st, fl, self.log.session_id, self.log.last_seq,
                               self.battery, self.health, FW_VERSION)

    def update_status(self):
        b = self.status_block()
        if b != self._status_cache:
            self._status_cache = b
            self.p.set_status(b)

    def led_state(self):
        import rb_led
        if self.health == E.F_SENSOR_MISSING and not self.sensor_ok:
            pat = rb_led.PAT_FAULT_SENSOR  # type: tuple
        elif self.calibrating:
            pat = rb_led.PAT_CALIBRATING
        elif self.session:
            pat = rb_led.PAT_RECORDING
        elif self.p.connected:
            pat = rb_led.PAT_CONNECTED
        else:
            pat = rb_led.PAT_ADVERTISING
        self.led.set(pat)

    # ------------------------------------------------------------ sensor
    def _start_sensor(self):
        if self.mpu is None:
            self.mpu = self.board.make_mpu(self.board.make_i2c(), self.cfg)
        try:
            self.mpu.start()
        except OSError as e:
            # rb_mpu.SensorError is an OSError; a bus error while probing counts too
            if self.sensor_ok or self.health != E.F_SENSOR_MISSING:
                self.fault(E.F_SENSOR_MISSING, _errno(e))
            self.sensor_ok = False
            self.health = E.F_SENSOR_MISSING
            self.led_state()
            self.update_status()
            return False
        self.sensor_ok = True
        if self.health == E.F_SENSOR_MISSING:
            self.health = P.HEALTH_OK
        self.led_state()
        self.update_status()
        return True

    def _full_rate_needed(self):
        return self.session or self.raw_on or self.calibrating

    async def _idle_sensor(self):
        """Outside a session: the MPU in motion mode (tens of uA instead of ~4 mA); motion
        restarts the idle clock or a session. Returns when full-rate sampling is needed."""
        try:
            self.mpu.arm_motion_wake(self.cfg.get("wake_mg"))
        except OSError:
            return False                   # keep sampling: costs power, loses nothing
        self.lp = True
        while not self._full_rate_needed():
            if self.mpu.motion():
                if self.power.motion(self.board.ticks_ms()):
                    self.start_session()
            await asyncio.sleep_ms(MOTION_POLL_MS)
        self.lp = False
        return True

    async def _sensor_up(self):
        while not self._start_sensor():
            await asyncio.sleep_ms(SENSOR_RETRY_MS)

    async def sensor_task(self):
        await self._sensor_up()
        mpu = self.mpu
        due = self.ticks_ms()
        while True:
            if not self._full_rate_needed() and mpu.healthy:
                if await self._idle_sensor():
                    await self._sensor_up()
                    due = self.ticks_ms()
            n = mpu.read_fifo()
            self.loops += 1
            f = mpu.pop_fault()
            while f is not None:
                self.fault(f[0], f[1])
                f = mpu.pop_fault()
            if n:
                self._burst(mpu, n)
            if not mpu.healthy:
                if self.sensor_ok:
                    self.sensor_ok = False
                    self.led_state()
            elif not self.sensor_ok:
                self.sensor_ok = True
                self.led_state()
            if n >= mpu.max_batch:
                # the FIFO was full: we are behind, read again at once
                await asyncio.sleep_ms(0)
                due = self.ticks_ms()
                continue
            due = time.ticks_add(due, SENSOR_PERIOD_MS)
            wait = time.ticks_diff(due, self.ticks_ms())
            if wait < 0:
                due = self.ticks_ms()      # stalled (flash, GC): do not try to catch up in a burst
                wait = 0
            await asyncio.sleep_ms(wait)

    def _burst(self, mpu, n):
        self.samples += n
        eng = self.engine
        if self.session and eng is not None:
            if self.t0 is None:
                self.t0 = mpu.t_ms[0]
            t0 = self.t0
            tt = mpu.t_ms
            ax = mpu.ax
            ay = mpu.ay
            az = mpu.az
            gx = mpu.gx
            gy = mpu.gy
            gz = mpu.gz
            for i in range(n):
                eng.feed(tt[i] - t0, ax[i], ay[i], az[i], gx[i], gy[i], gz[i])
            self.t_last = tt[n - 1] - t0
        else:
            self.t_last = mpu.t_ms[n - 1]
        if self.raw_on and self.p.connected:
            self._send_raw(mpu, n)

    def _send_raw(self, mpu, n):
        pay = self.p.payload()
        per = P.raw_capacity(pay, mpu.has_gyro)
        if per < 1:
            return
        if per > RAW_CHUNK_MAX:
            per = RAW_CHUNK_MAX
        if self._raw_buf is None:
            self._raw_buf = bytearray(P.RAW_HDR_SIZE + 12 * RAW_CHUNK_MAX)
        buf = self._raw_buf
        period = 1000 // mpu.rate_hz
        i = 0
        while i < n:
            k = n - i if n - i < per else per
            rows = []
            for j in range(i, i + k):
                rows.append((mpu.ax[j], mpu.ay[j], mpu.az[j], mpu.gx[j], mpu.gy[j], mpu.gz[j]))
            ln = P.encode_raw(buf, mpu.t_ms[i], period, rows, mpu.has_gyro)
            if not self.p.send_raw(buf[:ln]):
                return                     # raw capture is best effort: drop this burst's rest
            i += k

    # ------------------------------------------------------------ other tasks
    async def status_task(self):
        last_bat = None
        was_conn = None
        while True:
            now = self.ticks_ms()
            if last_bat is None or time.ticks_diff(now, last_bat) >= BATTERY_PERIOD_MS:
                last_bat = now
                self._read_battery()
            if was_conn != self.p.connected:
                was_conn = self.p.connected
                self.led_state()
            self.update_status()
            await asyncio.sleep_ms(STATUS_PERIOD_MS)

    def _read_battery(self):
        mv = self.board.battery_mv(self.cfg.get("battery_pin"), self.cfg.get("battery_divider_x1000"))
        lv = self.bat.feed(mv)
        self.battery = self.bat.pct
        self.p.set_battery(self.battery)
        if lv is not None:
            self.power.battery(lv)
            self._battery_event()

    def _battery_event(self):
        self._emit((E.EV_BATTERY, self.t_last, self.bat.pct or 0, self.bat.mv or 0, self.bat.level, 0, 0, 0))

    async def power_task(self):
        import rb_power
        was_conn = self.p.connected
        while True:
            now = self.board.ticks_ms()
            pw = self.power
            conn = self.p.connected
            if conn != was_conn:
                was_conn = conn
                if not conn:
                    pw.advertise_fast(now)     # the laptop lost us: be easy to find again
            st, adv, act = pw.decide(now, self.session, conn, self.p.link_busy())
            if adv:
                self.p.set_adv_interval(adv)
            if act == rb_power.A_END_SESSION:
                self.stop_session(auto=True)
            elif act == rb_power.A_DISCONNECT:
                self.p.disconnect()
            elif act == rb_power.A_SLEEP:
                self.sleep(E.PR_BATTERY if pw.critical else E.PR_IDLE)
            await asyncio.sleep_ms(POWER_PERIOD_MS)

    def sleep(self, reason):
        """Deep sleep until motion: everything that must survive is on flash or in RTC memory."""
        import rb_power
        self._emit((E.EV_POWER, self.t_last, E.PW_SLEEP, reason, 0, 0, 0, 0))
        self.log.end_session()             # flushes: the sleep event is on flash too
        self.board.rtc_memory(rb_power.pack_rtc(self.sleeps + 1, self.time_offset_s, int(time.time())))
        self.board.deep_sleep(self.mpu, self.cfg.get("wake_mg"), ble=self.ble, led=self.led)

    async def button_task(self):
        if self.button is None:
            return
        down_at = None
        long_done = False
        while True:
            await asyncio.sleep_ms(BUTTON_POLL_MS)
            pressed = self.board.button_pressed(self.button)
            now = self.board.ticks_ms()
            if pressed and down_at is None:
                down_at = now
                long_done = False
            elif pressed and not long_done and time.ticks_diff(now, down_at) >= BUTTON_LONG_MS:
                long_done = True
                self.p.open_pairing()
            elif not pressed and down_at is not None:
                self.power.activity(now)
                if not long_done:
                    if self.session:
                        self.stop_session()
                    else:
                        self.start_session()
                down_at = None

    def _spawn(self, coro):
        asyncio.create_task(self._guard(coro))

    async def _guard(self, coro):
        # a task that dies would leave the belt half alive: end the app instead,
        # main.py shows it and resets (a reset, never a traceback loop)
        try:
            await coro
        except Exception as e:
            self._crash = e  # type: Any
            self._crashed.set()

    async def run(self):
        global APP
        APP = self
        self._crash = None
        self._crashed = asyncio.Event()
        self._spawn(self.led.run())
        self.p.start(self._spawn)
        if self.autostart:
            self.start_session()
        if self.wake != E.PR_POWER_ON:
            self._emit((E.EV_POWER, self.t_last, E.PW_WAKE, self.wake, self.slept_s, 0, 0, 0))
        if self.cfg.invalid and self.cfg.invalid != ["*"]:
            # a missing file is a fresh board, not a fault; bad contents are
            self.fault(E.F_CONFIG_INVALID, len(self.cfg.invalid))
        self._spawn(self.status_task())
        self._spawn(self.button_task())
        self._spawn(self.power_task())
        self._spawn(self.sensor_task())
        await self._crashed.wait()
        raise self._crash


def _errno(e):
    # OSError.errno is args[0]: an int from the stack, but a message for SensorError
    v = e.args[0] if e.args else 0
    return v if isinstance(v, int) else 0


def main(**kw):
    app = App(**kw)
    asyncio.run(app.run())
