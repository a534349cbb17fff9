"""rb_config (defaults, field-by-field fallback, atomic save), rb_board and rb_led on the
MicroPython unix port with the emulated machine module."""

import json

from boardio_helpers import run_upy

PRE = r"""
import rb_config, json, os
def dump(x):
    print(json.dumps(x))
"""

DEFAULTS = {"version": 1, "name": "", "rotation": None, "mount": "default", "thresholds": {},
            "rate_hz": 100, "accel_range_g": 4, "gyro_range_dps": 500, "dlpf_hz": 44,
            "use_gyro": True, "time_offset_s": 0,
            "cpu_mhz": 80, "sleep_idle_s": 180, "link_idle_s": 600, "session_idle_s": 300,
            "wake_mg": 64, "adv_fast_ms": 152, "adv_slow_ms": 1022, "adv_fast_s": 30,
            "battery_pin": 35, "battery_divider_x1000": 2000, "battery_low_pct": 15,
            "battery_critical_pct": 5}


def load_in_upy(tmp_path, text=None):
    if text is not None:
        (tmp_path / "config.json").write_text(text)
    return run_upy(PRE + r"""
c = rb_config.Config("config.json")
dump({"data": c.as_dict(), "invalid": c.invalid, "messages": c.messages})
""", tmp_path)[0]


def test_missing_file_gives_defaults_and_says_so(tmp_path):
    out = load_in_upy(tmp_path)
    assert out["data"] == DEFAULTS
    assert out["invalid"] == ["*"] and "no config.json" in out["messages"][0]


def test_bad_json_gives_defaults(tmp_path):
    out = load_in_upy(tmp_path, '{"name": "x", ')
    assert out["data"] == DEFAULTS and out["invalid"] == ["*json"]
    out = load_in_upy(tmp_path, '[1, 2]')
    assert out["data"] == DEFAULTS and out["invalid"] == ["*json"]


def test_invalid_fields_fall_back_one_by_one(tmp_path):
    cfg = {"name": "belt-kitchen", "rotation": [16384, 0, 0, 0, 16384, 0, 0, 0, "x"],
           "mount": "sideways", "thresholds": {"REP_MIN_MS": 500}, "rate_hz": 333,
           "accel_range_g": 8, "gyro_range_dps": 499, "dlpf_hz": 21, "use_gyro": 1,
           "time_offset_s": 1700000000, "colour": "red"}
    out = load_in_upy(tmp_path, json.dumps(cfg))
    d = out["data"]
    assert d["name"] == "belt-kitchen" and d["accel_range_g"] == 8 and d["dlpf_hz"] == 21
    assert d["thresholds"] == {"REP_MIN_MS": 500} and d["time_offset_s"] == 1700000000
    assert d["rotation"] is None and d["mount"] == "default" and d["rate_hz"] == 100
    assert d["gyro_range_dps"] == 500 and d["use_gyro"] is True
    assert sorted(out["invalid"]) == sorted(["rotation", "mount", "rate_hz", "gyro_range_dps",
                                             "use_gyro", "colour"])
    assert any(m.startswith("rate_hz:") for m in out["messages"])


def test_threshold_overrides_are_checked_against_the_tunables(tmp_path):
    out = load_in_upy(tmp_path, json.dumps({"thresholds": {"NOT_A_TUNABLE": 3}}))
    assert out["invalid"] == ["thresholds"] and out["data"]["thresholds"] == {}
    out = load_in_upy(tmp_path, json.dumps({"thresholds": {"REP_MIN_MS": 1.5}}))
    assert out["invalid"] == ["thresholds"]


def test_absent_fields_are_defaults_not_errors(tmp_path):
    out = load_in_upy(tmp_path, json.dumps({"name": "b1"}))
    assert out["invalid"] == [] and out["data"] == dict(DEFAULTS, name="b1")


def test_set_validates_and_save_round_trips_atomically(tmp_path):
    out = run_upy(PRE + r"""
c = rb_config.Config("config.json")
c.set("name", "belt-2")
c.set("rotation", [0, 0, 16384, 0, 16384, 0, -16384, 0, 0])
try:
    c.set("accel_range_g", 3)
    err = None
except ValueError as e:
    err = str(e)
rej = c.update({"mount": "calibrate", "rate_hz": 50, "gyro_range_dps": "fast"})
c.save()
files = sorted(os.listdir("."))
c2 = rb_config.Config("config.json")
dump({"err": err, "rej": rej, "files": files, "data": c2.as_dict(), "invalid": c2.invalid})
""", tmp_path)[0]
    assert out["err"] == "accel_range_g: must be 2, 4, 8 or 16"
    assert out["rej"] == ["gyro_range_dps"]
    assert "config.json.tmp" not in out["files"] and "config.json" in out["files"]
    assert out["invalid"] == []
    assert out["data"] == dict(DEFAULTS, name="belt-2", mount="calibrate", rate_hz=50,
                               rotation=[0, 0, 16384, 0, 16384, 0, -16384, 0, 0])
    assert json.loads((tmp_path / "config.json").read_text())["name"] == "belt-2"


def test_interrupted_save_leaves_the_old_file(tmp_path):
    """A power cut after writing the temp file but before the rename: the old config is
    what loads."""
    (tmp_path / "config.json").write_text(json.dumps({"name": "old"}))
    (tmp_path / "config.json.tmp").write_text('{"name": "ne')
    out = load_in_upy(tmp_path)
    assert out["data"]["name"] == "old" and out["invalid"] == []


def test_config_module_also_runs_on_cpython(tmp_path, monkeypatch):
    import sys
    from boardio_helpers import ROOT
    sys.path.insert(0, str(ROOT / "firmware"))
    import rb_config
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"rate_hz": 0, "name": "z"}))
    c = rb_config.Config(str(p))
    assert c.invalid == ["rate_hz"] and c.get("name") == "z" and c.get("rate_hz") == 100


BOARD = r"""
import machine, rb_board, rb_config, rb_power, json
def dump(x):
    print(json.dumps(x))
"""


def test_board_defaults_battery_and_name(tmp_path):
    out = run_upy(BOARD + r"""
c = rb_config.Config("config.json")
c.set("accel_range_g", 8)
m = rb_board.make_mpu(rb_board.make_i2c(), c)
i2c = rb_board.make_i2c()
dump({"chip": m.start(), "range": m.accel_range_g, "i2c": [i2c.id, i2c.scl.id, i2c.sda.id, i2c.freq],
      "mv": rb_board.battery_mv(), "pct": [rb_power.battery_pct(v) for v in (None, 3000, 3300, 3750, 4150, 4300)],
      "name": rb_board.device_name(""), "named": rb_board.device_name("belt-x"),
      "button": rb_board.button_pressed(rb_board.make_button())})
""", tmp_path, env={"REPBELT_SIM_BATTERY_MV": "3750", "REPBELT_SIM_UID": "240ac4a1b2c3"})[0]
    assert out["chip"] == "mpu6050" and out["range"] == 8
    assert out["i2c"] == [0, 22, 21, 400000]
    assert out["mv"] == 3750
    assert out["pct"] == [None, 0, 0, 40, 100, 100]
    assert out["name"] == "repbelt-b2c3" and out["named"] == "belt-x"
    assert out["button"] is False


def test_button_press_is_seen(tmp_path):
    out = run_upy(BOARD + r"""
b = rb_board.make_button()
S = machine.SIM
seen = []
for i in range(10):
    S.advance_ms(100)
    seen.append(rb_board.button_pressed(b))
dump(seen)
""", tmp_path, env={"REPBELT_SIM_CLOCK": "manual", "REPBELT_SIM_BUTTON_AT_MS": "350"})[0]
    assert out == [False, False, False, True, True, False, False, False, False, False]


def test_led_patterns_timing(tmp_path):
    """The LED task plays the state pattern, a fault pattern replaces it at once, and a
    cleared fault gives the state pattern back (edges timed on the real clock)."""
    out = run_upy(BOARD + r"""
import asyncio, rb_led, time
S = machine.SIM
led = rb_board.make_led()
edges = []
t0 = time.ticks_ms()
class Probe:
    def value(self, v):
        edges.append((time.ticks_diff(time.ticks_ms(), t0), v))
led.pin = Probe()
async def main():
    t = asyncio.create_task(led.run())
    led.set(rb_led.PAT_ADVERTISING)
    await asyncio.sleep_ms(2050)
    led.set_fault(rb_led.PAT_FAULT_SENSOR)
    await asyncio.sleep_ms(1000)
    led.set_fault(None)
    await asyncio.sleep_ms(600)
    t.cancel()
asyncio.run(main())
dump(edges)
""", tmp_path, timeout=60)[0]
    # advertising: 100 ms on / 900 ms off
    ons = [t for t, v in out if v == 1 and t < 2050]
    assert len(ons) in (3, 4)            # the initial idle blink may be cut by set()
    adv = [t for t in ons if t >= 5]
    assert all(abs((b - a) - 1000) <= 80 for a, b in zip(adv, adv[1:]))
    # fault: 3 blinks 200 ms apart, starting at once
    f_on = [t for t, v in out if v == 1 and 2050 <= t < 3050]
    assert len(f_on) == 3 and f_on[0] - 2050 <= 80
    assert all(abs((b - a) - 200) <= 80 for a, b in zip(f_on, f_on[1:]))
    # cleared: back to advertising at once
    back = [t for t, v in out if v == 1 and t >= 3050]
    assert back and back[0] - 3050 <= 80
