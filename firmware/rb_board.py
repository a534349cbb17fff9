"""Board configuration: pins and options of an ESP32 DevKit (v1, WROOM-32).

Wiring defaults (change here for another board):

    MPU6050 VCC -> 3V3, GND -> GND, SDA -> GPIO21, SCL -> GPIO22, AD0 -> GND (0x68)
    status LED  -> GPIO2 (the DevKit's blue LED, active high)
    button      -> GPIO0 (the BOOT button, active low) starts/stops a session
    battery     -> GPIO35 through a 1M/1M divider (ADC1, usable with BLE on;
                   config battery_pin / battery_divider_x1000)
    MPU6050 INT -> GPIO34 (RTC-capable input: wakes the ESP32 from deep sleep)

Only hardware-facing code imports this module (never the detection core).
"""

import time

import machine

I2C_ID = 0
SDA_PIN = 21
SCL_PIN = 22
I2C_FREQ_HZ = 400000
MPU_ADDR = None                 # None: look at 0x68, then 0x69
LED_PIN = 2
LED_ACTIVE_HIGH = True
BUTTON_PIN = 0                  # None: no button
BUTTON_DEBOUNCE_MS = 30
WAKE_PIN = 34                   # MPU INT (push-pull, active high): ext0 deep-sleep wake
BAT_READS_N = 16                # ADC readings per battery measurement (min and max dropped)
LOG_DIR = "log"                 # relative: "/" is the cwd on the board, the flash dir in the sim
LOG_MAX_BYTES = 256 * 1024
CONFIG_PATH = "config.json"
NAME_PREFIX = "repbelt-"

# The emulated machine module (sim/upy) runs the sensor on its own, possibly
# accelerated, clock and offers it here; on hardware this is time.ticks_ms.
ticks_ms = getattr(machine, "sim_ticks_ms", time.ticks_ms)
ticks_diff = getattr(machine, "sim_ticks_diff", time.ticks_diff)


def make_i2c():
    """The IMU bus (hardware I2C 0 on GPIO21/22, 400 kHz)."""
    return machine.I2C(I2C_ID, scl=machine.Pin(SCL_PIN), sda=machine.Pin(SDA_PIN),
                       freq=I2C_FREQ_HZ)


def make_mpu(i2c, cfg=None):
    """rb_mpu.MPU from the board defaults and an rb_config.Config (or None)."""
    import rb_mpu
    g = cfg.get if cfg is not None else (lambda k: _CFG_DEFAULTS[k])
    return rb_mpu.MPU(i2c, addr=MPU_ADDR, rate_hz=g("rate_hz"),
                      accel_range_g=g("accel_range_g"), gyro_range_dps=g("gyro_range_dps"),
                      dlpf_hz=g("dlpf_hz"), use_gyro=g("use_gyro"),
                      ticks_ms=ticks_ms, ticks_diff=ticks_diff)


_CFG_DEFAULTS = {"rate_hz": 100, "accel_range_g": 4, "gyro_range_dps": 500,
                 "dlpf_hz": 44, "use_gyro": True}


def make_led():
    import rb_led
    return rb_led.Led(machine.Pin(LED_PIN, machine.Pin.OUT), LED_ACTIVE_HIGH)


def make_button():
    """The session button as an input Pin, or None."""
    if BUTTON_PIN is None:
        return None
    return machine.Pin(BUTTON_PIN, machine.Pin.IN, machine.Pin.PULL_UP)


def button_pressed(pin):
    return pin is not None and pin.value() == 0


def battery_mv(pin=35, divider_x1000=2000):
    """Battery voltage in mV (None without a battery ADC or if it fails).

    ADC.read_uv() applies the ESP32's per-chip eFuse ADC calibration;
    BAT_READS_N readings with the extremes dropped smooth out the radio's
    supply noise.  11 dB attenuation covers the divided 1.6..2.1 V.
    """
    if pin is None:
        return None
    try:
        adc = machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)
        lo = hi = adc.read_uv()
        s = lo
        for _ in range(BAT_READS_N - 1):
            v = adc.read_uv()
            s += v
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        uv = (s - lo - hi) // (BAT_READS_N - 2)
        return uv * divider_x1000 // 1000000
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def set_cpu_mhz(mhz):
    try:
        machine.freq(mhz * 1000000)
    except (ValueError, OSError):
        pass            # a board that refuses keeps its clock


def wake_reason():
    """rb_events PR_MOTION, PR_TIMER or PR_POWER_ON for this boot."""
    import rb_events as E
    if machine.reset_cause() != machine.DEEPSLEEP_RESET:
        return E.PR_POWER_ON
    w = machine.wake_reason()
    if w == getattr(machine, "EXT0_WAKE", 2) or w == getattr(machine, "PIN_WAKE", 2):
        return E.PR_MOTION
    if w == getattr(machine, "TIMER_WAKE", 4):
        return E.PR_TIMER
    return E.PR_POWER_ON


def rtc_memory(data=None):
    """The RTC slow memory (survives deep sleep, not power loss): read, or write `data`."""
    r = machine.RTC()
    if data is None:
        return r.memory()
    r.memory(data)


def deep_sleep(mpu, wake_mg, ble=None, led=None):
    """Arm the motion wake and deep-sleep; does not return (the board boots on wake).

    The MPU stays powered in its low-power accelerometer cycle and raises INT
    on motion; INT on WAKE_PIN is the ext0 wake source.  A sensor that cannot
    be armed (missing, bus error) leaves a timer wake, so the belt retries
    instead of sleeping for ever.
    """
    import esp32
    if ble is not None:
        try:
            ble.active(False)
        except OSError:
            pass
    if led is not None:
        led._off()      # the LED task stops with the CPU: leave it dark
    armed = False
    if mpu is not None:
        try:
            mpu.arm_motion_wake(wake_mg)
            armed = True
        except OSError:
            pass
    if armed:
        esp32.wake_on_ext0(machine.Pin(WAKE_PIN, machine.Pin.IN), esp32.WAKEUP_ANY_HIGH)
        machine.deepsleep()
    machine.deepsleep(SLEEP_RETRY_MS)


SLEEP_RETRY_MS = 600000         # sensor could not be armed: wake by timer after 10 min


def device_name(cfg_name=""):
    """The advertised name: the configured one, or repbelt-XXXX from the chip id."""
    if cfg_name:
        return cfg_name
    uid = machine.unique_id()
    return NAME_PREFIX + "%02x%02x" % (uid[-2], uid[-1])
