"""`repbelt doctor`'s checks: one probe of the board in a fresh interpreter, then rows with fixes.

Each row is (check, status, value, fix) with status "ok", "warn" or "fix";
only "fix" rows make the command fail.
"""
from .board_deploy import CONFIG, MANIFEST
from .board_usb import Board, check_version, mpy_arch
from .errors import UserError

HEAP_MIN_BYTES = 40 * 1024       # the app with BLE up needs this much free after imports
FLASH_MIN_BYTES = 64 * 1024      # room for the event log and a session's samples
RATE_MEASURE_MS = 600
BATTERY_MIN_MV = 3000            # below this no LiPo is on the divider (a running cell is >= 3.3 V)
BATTERY_MAX_MV = 4350            # above this the divider ratio is wrong (a LiPo charges to 4.2 V)
DIVIDER_FIX = ("wire a 1M/1M divider from the battery + to GPIO35 with 100 nF at the pin, "
               "battery_pin 35 in config.json (docs/power.md)")

PROBE_DOCTOR = r"""
import gc, time
_r = {}
try:
    import rb_board
    _r['board_module'] = 1
except ImportError as e:
    _r['board_module'] = 0
    _r['board_error'] = str(e)
_cfg_name = ''
_cfg = {}
try:
    import json
    with open('/config.json') as f:
        _cfg = json.load(f)
    _cfg_name = _cfg.get('name', '')
except Exception:
    pass
try:
    for _n in ('rb_engine', 'rb_protocol', 'rb_ble', 'rb_app'):
        try:
            __import__(_n)
        except ImportError:
            pass
except Exception as e:
    _r['import_error'] = '%s: %s' % (type(e).__name__, e)
gc.collect()
_r['heap_free'] = gc.mem_free()
if _r['board_module']:
    try:
        import rb_mpu
        _m = rb_mpu.MPU(rb_board.make_i2c(), addr=rb_board.MPU_ADDR)
        _m.start()
        _r['sensor'] = _m.chip
        _r['addr'] = _m.addr
        _r['rate_hz'] = _m.rate_hz
        _t0 = time.ticks_ms()
        _n = 0
        _m.read_fifo()
        _t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), _t0) < MEASURE_MS:
            time.sleep_ms(20)
            _n += _m.read_fifo()
        _dt = time.ticks_diff(time.ticks_ms(), _t0)
        _r['measured_hz'] = (_n * 1000) // max(1, _dt)
    except Exception as e:
        _r['sensor_error'] = '%s: %s' % (type(e).__name__, e)
if _r['board_module']:
    try:
        import rb_config, rb_power

        def _cv(k):
            # what the app uses: the file's value if valid, else the default
            v = _cfg.get(k, rb_config.DEFAULTS[k]) if isinstance(_cfg, dict) else rb_config.DEFAULTS[k]
            return v if rb_config.check(k, v) is None else rb_config.DEFAULTS[k]
        _bp = _cv('battery_pin')
        _r['battery_pin'] = _bp
        _r['battery_low_pct'] = _cv('battery_low_pct')
        _r['battery_critical_pct'] = _cv('battery_critical_pct')
        if _bp is not None:
            _mv = rb_board.battery_mv(_bp, _cv('battery_divider_x1000'))
            _r['battery_mv'] = _mv
            _r['battery_pct'] = rb_power.battery_pct(_mv)
    except Exception as e:
        _r['battery_error'] = '%s: %s' % (type(e).__name__, e)
try:
    import bluetooth
    _b = bluetooth.BLE()
    _b.active(True)
    _r['ble'] = 1
    try:
        _r['ble_name'] = rb_board.device_name(_cfg_name)
    except Exception:
        _r['ble_name'] = _cfg_name or '?'
    try:
        _r['ble_mac'] = ':'.join('%02x' % x for x in _b.config('mac')[1])
    except Exception:
        pass
    _b.active(False)
except Exception as e:
    _r['ble'] = 0
    _r['ble_error'] = '%s: %s' % (type(e).__name__, e)
print(repr(_r))
""".replace("MEASURE_MS", str(RATE_MEASURE_MS))


def run(port):
    rows = []
    with Board(port) as b:
        info = b.info()
        manifest = b.read_json(MANIFEST) or {}
        cfg = b.read_json(CONFIG)
        b.soft_reset()
        try:
            p = b.eval_repr(PROBE_DOCTOR, timeout=20)
        except Exception as e:  # noqa: BLE001 - shown in the table
            p = {"probe_error": str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)}
        b.reset()
    v = ".".join(map(str, info["version"]))
    rows.append(("board", "ok", "%s (%s)" % (info.get("machine") or info.get("platform"), port), ""))
    try:
        check_version(info)
        rows.append(("MicroPython", "ok", "%s, .mpy v%d.%d %s" % (
            v, info["mpy"] & 0xFF, (info["mpy"] >> 8) & 3, mpy_arch(info["mpy"]) or ""), ""))
    except UserError as e:
        rows.append(("MicroPython", "fix", v, str(e)))
    heap = p.get("heap_free")
    if heap is None:
        rows.append(("free heap", "fix", "?", "probe failed: %s" % p.get("probe_error", "?")))
    else:
        rows.append(("free heap", "ok" if heap >= HEAP_MIN_BYTES else "fix", "%d KB" % (heap // 1024),
                     "" if heap >= HEAP_MIN_BYTES else
                     "too little RAM for the app with BLE: use a board without other code in boot.py"))
    ff = info["flash_free"]
    rows.append(("free flash", "ok" if ff >= FLASH_MIN_BYTES else "fix",
                 "%d KB of %d KB" % (ff // 1024, info["flash_total"] // 1024),
                 "" if ff >= FLASH_MIN_BYTES else
                 "flash nearly full: `repbelt sync --delete` old sessions or `mpremote fs rm` files"))
    if not manifest:
        rows.append(("firmware", "fix", "not installed", "run `repbelt deploy`"))
    else:
        rows.append(("firmware", "ok" if "import_error" not in p else "fix",
                     "repbelt %s build %s (%d files)" % (manifest.get("version"), manifest.get("build"),
                                                       len(manifest.get("files", {}))),
                     "" if "import_error" not in p else
                     "fails to import (%s): run `repbelt deploy`" % p["import_error"]))
    if "sensor" in p:
        rows.append(("sensor", "ok", "%s at 0x%02x" % (p["sensor"], p["addr"]), ""))
        rows.append(("sample rate", "ok", "%d Hz configured, %d samples/s measured"
                     % (p["rate_hz"], p.get("measured_hz", 0)), ""))
    else:
        why = p.get("sensor_error") or p.get("board_error") or p.get("probe_error") or "firmware missing"
        rows.append(("sensor", "fix", "not found (%s)" % why,
                     "check the wiring: VCC-3V3, GND, SCL-GPIO22, SDA-GPIO21, AD0 to GND "
                     "(docs/hardware.md)" if "board_error" not in p else "run `repbelt deploy`"))
    if p.get("ble"):
        rows.append(("BLE", "ok", "up as %s%s" % (p.get("ble_name"),
                     (" (%s)" % p["ble_mac"]) if p.get("ble_mac") else ""), ""))
    else:
        rows.append(("BLE", "fix", "down (%s)" % p.get("ble_error", p.get("probe_error", "?")),
                     "the MicroPython build needs Bluetooth: flash the ESP32_GENERIC firmware"))
    rows.append(battery_row(p))
    rot = (cfg or {}).get("rotation")
    if cfg is None:
        rows.append(("config", "warn", "no config.json (defaults)", "run `repbelt deploy` to write it"))
    if rot:
        rows.append(("mount calibration", "ok", "rotation stored (mount %s)" % (cfg or {}).get("mount", "?"), ""))
    else:
        rows.append(("mount calibration", "warn", "none: default mount assumed",
                     "wear the belt and run `repbelt calibrate` for exact axes"))
    return rows


def battery_row(p):
    """The doctor's battery row from the probe's battery_* fields."""
    if "battery_error" in p or "battery_pin" not in p:
        why = p.get("battery_error") or p.get("board_error") or p.get("probe_error") or "firmware missing"
        return ("battery", "warn", "not read (%s)" % why,
                "run `repbelt deploy`" if "battery_error" not in p else
                "battery_pin must be an ADC1 pin (GPIO32-39): " + DIVIDER_FIX)
    pin = p["battery_pin"]
    if pin is None:
        return ("battery", "warn", "unknown: no battery pin (battery_pin is null)", "to see the charge, " + DIVIDER_FIX)
    mv = p.get("battery_mv")
    if mv is None:
        return ("battery", "warn", "unknown: the ADC on GPIO%d gave no reading" % pin,
                "battery_pin must be an ADC1 pin (GPIO32-39): " + DIVIDER_FIX)
    volts = "%.2f V on GPIO%d" % (mv / 1000.0, pin)
    if mv < BATTERY_MIN_MV:
        return ("battery", "warn", "%s: no battery seen" % volts,
                DIVIDER_FIX + "; or set battery_pin null if the belt has no divider")
    if mv > BATTERY_MAX_MV:
        return ("battery", "warn", "%s: above a LiPo's 4.2 V" % volts,
                "battery_divider_x1000 must match the divider (2000 for 1M/1M)")
    pct = p.get("battery_pct")
    text = "%s, %d %%" % (volts, pct)
    if pct <= p.get("battery_critical_pct", 5):
        return ("battery", "warn", text + " (critical)",
                "charge now: at this level the board ends sessions and sleeps")
    if pct <= p.get("battery_low_pct", 15):
        return ("battery", "warn", text + " (low)", "charge the belt soon")
    return ("battery", "ok", text, "")
