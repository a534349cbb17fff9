"""Status LED blink patterns, driven by an asyncio task.

A pattern is a tuple of (on_ms, off_ms) pairs played in a loop; the LED task
sleeps between edges, so it costs nothing between them.  Faults take
precedence over the state pattern until cleared.
"""

import asyncio

PAT_OFF = ((0, 1000),)
PAT_IDLE = ((60, 1940),)                         # short blink every 2 s
PAT_ADVERTISING = ((100, 900),)                  # 1 Hz blink: waiting for the laptop
PAT_CONNECTED = ((1900, 100),)                   # on, brief off every 2 s
PAT_RECORDING = ((80, 150), (80, 1690))          # double blink every 2 s: session running
PAT_CALIBRATING = ((100, 100),)                  # fast 5 Hz: stand still, then lie down
PAT_FAULT_SENSOR = ((80, 120), (80, 120), (80, 1520))   # 3 fast blinks, pause: IMU missing / I2C
PAT_FAULT_LOG = ((500, 300), (500, 1700))        # 2 long blinks, pause: flash write failing
PAT_FAULT_CONFIG = ((80, 120), (80, 120), (80, 120), (80, 1320))  # 4 fast blinks: config invalid

PATTERN_NAMES = {
    PAT_OFF: "off", PAT_IDLE: "idle", PAT_ADVERTISING: "advertising",
    PAT_CONNECTED: "connected", PAT_RECORDING: "recording",
    PAT_CALIBRATING: "calibrating", PAT_FAULT_SENSOR: "fault_sensor",
    PAT_FAULT_LOG: "fault_log", PAT_FAULT_CONFIG: "fault_config",
}

FAULT_SHOW_ONCE = (PAT_FAULT_CONFIG,)            # played once, then back to the state pattern


class Led:
    def __init__(self, pin, active_high=True):
        self.pin = pin
        self.active_high = active_high
        self.pattern = PAT_IDLE
        self.fault = None
        self._changed = asyncio.Event()
        self._off()

    def _on(self):
        self.pin.value(1 if self.active_high else 0)

    def _off(self):
        self.pin.value(0 if self.active_high else 1)

    def set(self, pattern):
        """State pattern (shown while no fault is set)."""
        if pattern is not self.pattern:
            self.pattern = pattern
            self._changed.set()

    def set_fault(self, pattern):
        """Fault pattern, shown instead of the state pattern; None clears it."""
        if pattern is not self.fault:
            self.fault = pattern
            self._changed.set()

    async def _wait(self, ms):
        # sleep, but wake at once when the pattern changes
        if ms <= 0:
            return False
        try:
            await asyncio.wait_for_ms(self._changed.wait(), ms)
        except asyncio.TimeoutError:
            return False
        self._changed.clear()
        return True

    async def run(self):
        while True:
            pat = self.fault if self.fault is not None else self.pattern
            changed = False
            for on_ms, off_ms in pat:
                if on_ms:
                    self._on()
                    if await self._wait(on_ms):
                        changed = True
                        break
                self._off()
                if await self._wait(off_ms):
                    changed = True
                    break
            if not changed and pat is self.fault and pat in FAULT_SHOW_ONCE:
                self.fault = None
