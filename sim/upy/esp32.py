"""Emulated `esp32` module (the part repbelt uses): deep-sleep wake sources.

Like the ESP32 port: wake_on_ext0(pin, level) makes one RTC GPIO a wake
source for machine.deepsleep(); the emulated world (machine.SIM) checks that
pin against the MPU INT line it models.
"""
import machine

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

# RTC-capable GPIOs of the ESP32 (ext0/ext1 only work on these)
RTC_GPIOS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)


def _pin_id(pin):
    return pin.id if hasattr(pin, "id") else int(pin)


def wake_on_ext0(pin, level):
    if pin is None:
        machine.SIM.ext0 = None
        return
    pid = _pin_id(pin)
    if pid not in RTC_GPIOS:
        raise ValueError("invalid pin")
    machine.SIM.ext0 = (pid, 1 if level else 0)


def wake_on_ext1(pins, level):
    for p in pins or ():
        if _pin_id(p) not in RTC_GPIOS:
            raise ValueError("invalid pin")
    machine.SIM.ext1 = (tuple(_pin_id(p) for p in pins or ()), 1 if level else 0)
