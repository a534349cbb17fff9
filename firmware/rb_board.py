"""Board configuration: pins and options of an ESP32 DevKit (v1, WROOM-32).

Wiring defaults (change here for another board):

    MPU6050 VCC -> 3V3, GND -> GND, SDA -> GPIO21, SCL -> GPIO22, AD0 -> GND (0x68)
    status LED  -> GPIO2 (the DevKit's blue LED, active high)
    button      -> GPIO0 (the BOOT button, active low) starts/stops a session
    battery     -> GPIO35 through a 100k/100k divider (ADC1, usable with BLE on)

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
BAT_ADC_PIN = 35                # None: no battery measurement (battery level reported unknown)
BAT_DIVIDER_X1000 = 2000        # battery voltage = pin voltage * 2.000
BAT_EMPTY_MV = 3300
BAT_FULL_MV = 4150
LOG_DIR = "log"                 # relative: "/" is the cwd on the board, the flash dir in the sim
LOG_MAX_BYTES = 256 * 1024
CONFIG_PATH = "config.json"
NAME_PREFIX = "repbelt-"

# The emulated machine module (sim/upy) runs the sensor on its own, possibly
# accelerated, clock and offers it here; on hardware this is time.ticks_ms.
ticks_ms = getattr(machine, "sim_ticks_ms", time.ticks_ms)
ticks_diff = getattr(machine, "sim_ticks_diff", time.ticks_diff)

# LiPo open-circuit voltage (mV) -> charge (%), piecewise linear
_BAT_CURVE = ((3300, 0), (3600, 10), (3700, 30), (3800, 50), (3900, 65),
              (4000, 80), (4100, 95), (4150, 100))


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


def battery_mv():
    """Battery voltage in mV, or None without a battery ADC (or if it fails)."""
    if BAT_ADC_PIN is None:
        return None
    try:
        adc = machine.ADC(machine.Pin(BAT_ADC_PIN), atten=machine.ADC.ATTN_11DB)
        return adc.read_uv() * BAT_DIVIDER_X1000 // 1000000
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def battery_pct(mv):
    """0..100 from a LiPo voltage, None if unknown."""
    if mv is None:
        return None
    c = _BAT_CURVE
    if mv <= c[0][0]:
        return 0
    for i in range(1, len(c)):
        if mv <= c[i][0]:
            v0, p0 = c[i - 1]
            v1, p1 = c[i]
            return p0 + (mv - v0) * (p1 - p0) // (v1 - v0)
    return 100


def device_name(cfg_name=""):
    """The advertised name: the configured one, or repbelt-XXXX from the chip id."""
    if cfg_name:
        return cfg_name
    uid = machine.unique_id()
    return NAME_PREFIX + "%02x%02x" % (uid[-2], uid[-1])
