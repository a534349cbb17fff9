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
try:
    import json
    with open('/config.json') as f:
        _cfg_name = json.load(f).get('name', '')
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
    rot = (cfg or {}).get("rotation")
    if cfg is None:
        rows.append(("config", "warn", "no config.json (defaults)", "run `repbelt deploy` to write it"))
    if rot:
        rows.append(("mount calibration", "ok", "rotation stored (mount %s)" % (cfg or {}).get("mount", "?"), ""))
    else:
        rows.append(("mount calibration", "warn", "none: default mount assumed",
                     "wear the belt and run `repbelt calibrate` for exact axes"))
    return rows
