"""A `time` module whose ticks wrap like the ESP32's (period 2**30), for wrap tests.

The unix port's ticks period is 2**62 on 64-bit builds, so its ticks never
wrap. `install(offset_ms)` replaces sys.modules["time"] with this module:
ticks_ms() starts `offset_ms` before the wrap and ticks_add/ticks_diff use
the ESP32 period. Everything else is the real time module.
"""
import sys
import time as _t

PERIOD = 1 << 30
_HALF = PERIOD >> 1
_base = 0

sleep = _t.sleep
sleep_ms = _t.sleep_ms
sleep_us = _t.sleep_us
time = _t.time
localtime = _t.localtime
mktime = _t.mktime
gmtime = getattr(_t, "gmtime", _t.localtime)
time_ns = getattr(_t, "time_ns", None)
ticks_cpu = _t.ticks_cpu


def ticks_ms():
    return (_t.ticks_ms() + _base) & (PERIOD - 1)


def ticks_us():
    return (_t.ticks_us() + _base * 1000) & (PERIOD - 1)


def ticks_add(t, delta):
    return (t + delta) & (PERIOD - 1)


def ticks_diff(a, b):
    d = (a - b) & (PERIOD - 1)
    return d - PERIOD if d >= _HALF else d


def install(offset_ms):
    """Ticks start offset_ms before the wrap."""
    global _base
    _base = (PERIOD - offset_ms - _t.ticks_ms()) & (PERIOD - 1)
    sys.modules["time"] = sys.modules[__name__]
