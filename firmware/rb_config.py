"""Board configuration stored as config.json on flash.

Loading never raises: a missing file, bad JSON, a wrong type or an
out-of-range value falls back to the default field by field, and the names
of the fields that fell back are in `Config.invalid` (fields simply absent
from the file take their default and are listed in `Config.defaulted`) (the app reports them
as one EV_FAULT F_CONFIG_INVALID).  Saving is atomic: the new content goes to
a temporary file that is renamed over the old one, so a power cut leaves the
old or the new file, never half of one.
"""

import json
import os

import rb_tunables

ROT_ONE = 16384
ROT_MAX = 2 * ROT_ONE
NAME_MAX_CHARS = 24
MOUNTS = ("default", "calibrate", "unknown", "fixed")
ACCEL_RANGES_G = (2, 4, 8, 16)
GYRO_RANGES_DPS = (250, 500, 1000, 2000)
DLPF_HZ = (184, 94, 44, 21, 10, 5)
RATE_MIN_HZ = 25
RATE_MAX_HZ = 400
CONFIG_VERSION = 1

DEFAULTS = {
    "version": CONFIG_VERSION,
    "name": "",                 # "" = derived from machine.unique_id(): repbelt-XXXX
    "rotation": None,           # None or 9 ints scaled by ROT_ONE, row-major (body = R * sensor)
    "mount": "default",
    "thresholds": {},           # overrides of rb_tunables.Tunables (ints)
    "rate_hz": 100,
    "accel_range_g": 4,
    "gyro_range_dps": 500,
    "dlpf_hz": 44,
    "use_gyro": True,
    "time_offset_s": 0,         # unix seconds minus board seconds (set over BLE)
    # power (rb_power): see docs/hardware.md "Power" and `repbelt power budget`
    "cpu_mhz": 80,              # ESP32 clock; BLE needs >= 80 MHz, the core needs < 5% of it
    "sleep_idle_s": 180,        # no session, no link: deep sleep after this long idle
    "link_idle_s": 600,         # ... a connected host that does nothing keeps it awake this long
    "session_idle_s": 300,      # a session with no activity (rep, hold, step, posture) ends after this
    "wake_mg": 64,              # motion that wakes the board (accel change from the sleep pose)
    "adv_fast_ms": 152,         # advertising interval right after wake / session start / disconnect
    "adv_slow_ms": 1022,        # ... after adv_fast_s (Apple Accessory Design Guidelines values)
    "adv_fast_s": 30,
    "battery_pin": 35,          # ADC1 GPIO of the battery divider; null: no battery measurement
    "battery_divider_x1000": 2000,  # battery voltage / pin voltage, x1000
    "battery_low_pct": 15,      # EV_BATTERY low below this, critical below battery_critical_pct
    "battery_critical_pct": 5,  # ... a session ends and the board sleeps to protect the cell
}

# power fields: (min, max) of the int, None allowed where the key is in _NULLABLE
_RANGES = {
    "sleep_idle_s": (10, 86400), "link_idle_s": (10, 86400), "session_idle_s": (30, 86400),
    "wake_mg": (8, 1000), "adv_fast_ms": (20, 10240), "adv_slow_ms": (20, 10240),
    "adv_fast_s": (0, 3600), "battery_pin": (0, 39), "battery_divider_x1000": (1000, 20000),
    "battery_low_pct": (1, 99), "battery_critical_pct": (0, 98),
}
_NULLABLE = ("battery_pin",)
CPU_MHZ = (80, 160, 240)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check(key, v):
    """Error message for value v of field key, or None if it is valid."""
    if key not in DEFAULTS:
        return "unknown field"
    if key == "version":
        return None if _is_int(v) else "must be an int"
    if key == "name":
        if not isinstance(v, str):
            return "must be a string"
        if len(v) > NAME_MAX_CHARS:
            return "at most %d characters" % NAME_MAX_CHARS
        for c in v:
            if not (" " <= c <= "~"):
                return "printable ASCII only"
        return None
    if key == "rotation":
        if v is None:
            return None
        if not isinstance(v, (list, tuple)) or len(v) != 9:
            return "must be null or a list of 9 ints"
        for x in v:
            if not _is_int(x) or not -ROT_MAX <= x <= ROT_MAX:
                return "entries must be ints within +-%d" % ROT_MAX
        return None
    if key == "mount":
        return None if v in MOUNTS else "must be one of " + ", ".join(MOUNTS)
    if key == "thresholds":
        if not isinstance(v, dict):
            return "must be an object"
        for k in v:
            if not rb_tunables.known(k):
                return "unknown threshold " + str(k)
            if not _is_int(v[k]):
                return "threshold %s must be an int" % k
        return None
    if key == "rate_hz":
        if not _is_int(v) or not RATE_MIN_HZ <= v <= RATE_MAX_HZ or 1000 % v:
            return "must be an int %d..%d dividing 1000" % (RATE_MIN_HZ, RATE_MAX_HZ)
        return None
    if key == "accel_range_g":
        return None if _is_int(v) and v in ACCEL_RANGES_G else "must be 2, 4, 8 or 16"
    if key == "gyro_range_dps":
        return None if _is_int(v) and v in GYRO_RANGES_DPS else "must be 250, 500, 1000 or 2000"
    if key == "dlpf_hz":
        return None if _is_int(v) and v in DLPF_HZ else "must be 184, 94, 44, 21, 10 or 5"
    if key == "use_gyro":
        return None if isinstance(v, bool) else "must be true or false"
    if key == "time_offset_s":
        return None if _is_int(v) else "must be an int"
    if key == "cpu_mhz":
        return None if _is_int(v) and v in CPU_MHZ else "must be 80, 160 or 240"
    r = _RANGES.get(key)
    if r is not None:
        if v is None and key in _NULLABLE:
            return None
        if not _is_int(v) or not r[0] <= v <= r[1]:
            return "must be an int %d..%d%s" % (r[0], r[1], " or null" if key in _NULLABLE else "")
        return None
    return "unknown field"


def _copy(v):
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, list):
        return list(v)
    return v


class Config:
    def __init__(self, path="config.json"):
        self.path = path
        self.data = {}
        self.invalid = []
        self.messages = []
        self.defaulted = []
        self.load()

    def load(self):
        """(Re)read the file; returns the list of fields that fell back to defaults."""
        self.data = {}
        for k in DEFAULTS:
            self.data[k] = _copy(DEFAULTS[k])
        self.invalid = []
        self.messages = []
        self.defaulted = []
        try:
            with open(self.path) as f:
                text = f.read()
        except OSError:
            self.invalid.append("*")
            self.messages.append("no %s: using defaults" % self.path)
            return self.invalid
        try:
            d = json.loads(text)
        except ValueError:
            self.invalid.append("*json")
            self.messages.append("%s is not valid JSON: using defaults" % self.path)
            return self.invalid
        if not isinstance(d, dict):
            self.invalid.append("*json")
            self.messages.append("%s is not a JSON object: using defaults" % self.path)
            return self.invalid
        for k in d:
            err = check(k, d[k])
            if err is None:
                self.data[k] = _copy(d[k])
            else:
                self.invalid.append(k)
                self.messages.append("%s: %s (default kept)" % (k, err))
        for k in DEFAULTS:
            if k not in d:
                self.defaulted.append(k)     # absent is fine: the default is the value
        return self.invalid

    def get(self, key):
        return self.data[key]

    def set(self, key, value):
        """Change one field; ValueError('field: reason') if invalid (nothing changed)."""
        err = check(key, value)
        if err is not None:
            raise ValueError("%s: %s" % (key, err))
        self.data[key] = _copy(value)

    def update(self, d):
        """Change several fields; returns the names rejected (the others are applied)."""
        bad = []
        for k in d:
            if check(k, d[k]) is None:
                self.data[k] = _copy(d[k])
            else:
                bad.append(k)
        return bad

    def as_dict(self):
        d = {}
        for k in self.data:
            d[k] = _copy(self.data[k])
        return d

    def save(self):
        """Write atomically (temp file + rename).  Raises OSError if the flash refuses."""
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.data))
        try:
            os.rename(tmp, self.path)
        except OSError:
            # FAT cannot rename over a file (littlefs, the ESP32 default, can)
            os.remove(self.path)
            os.rename(tmp, self.path)
        self.invalid = []
        self.messages = []
