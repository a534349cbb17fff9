"""Power management on the virtual board: the unmodified firmware on the unix port.

Sleep/wake state machine end to end (idle session end, motion mode, advertising
fast -> slow, deep sleep armed on the MPU INT pin, wake by the emulated motion
interrupt, state restored with no event lost or doubled), no sleep during a
session, an idle link dropped, a critical battery ending the session, and the
MPU low-power motion registers at the register level.
"""
import json
import math

import board_sim as B
import rb_events as E
import rb_power

SCRIPT = (B.REPO / "tests" / "board_scripts" / "power.py").read_text()
# speed 20: the power policy decides once a second of real time, every 20 s of world time
FAST = {"rate_hz": 25, "use_gyro": False, "sleep_idle_s": 60, "session_idle_s": 30,
        "adv_fast_s": 10, "link_idle_s": 30}
PICK_S = 200


def _trace(path, pick_s=PICK_S, total_s=270, rate_hz=25):
    """Lies flat on a table (z up) until pick_s, then worn upright, walking at 2 steps/s."""
    rows = ["# rate_hz=%d" % rate_hz, "# sensor=mpu6050", "# accel_range_g=4", "# gyro_range_dps=500",
            "# source=test: table then picked up", "# mount=default", "t,ax,ay,az,gx,gy,gz"]
    for i in range(total_s * rate_hz):
        t = i / rate_hz
        if t < pick_s:
            a = (0.002 * math.sin(i * 1.3), 0.002 * math.cos(i * 0.7), 1.0)
        else:
            w = 0.25 * math.sin(2 * math.pi * 2.0 * t)
            a = (1.0 + w, 0.05 * math.sin(2 * math.pi * 1.0 * t), 0.1)
        rows.append("%.2f,%.4f,%.4f,%.4f,0,0,0" % ((t,) + a))
    path.write_text("\n".join(rows) + "\n")
    return path


def _env(tr, **kw):
    e = {"REPBELT_SIM_TRACE": str(tr), "REPBELT_SIM_SPEED": "20"}
    e.update(kw)
    return e


def _state(tmp_path):
    return json.loads((tmp_path / "flash.rtc.json").read_text())


def test_idle_belt_sleeps_and_wakes_on_motion_without_losing_an_event(tmp_path):
    tr = _trace(tmp_path / "t.csv")
    r1 = B.run_board(tmp_path, SCRIPT, env=_env(tr), config=FAST)
    assert r1.rc == 3, r1                    # deep sleep ends the process like a reset
    a = r1.result
    assert a is not None and "no_sleep" not in a, r1
    assert a["boot_reset_cause"] == 1 and a["app_wake"] == E.PR_POWER_ON
    # the session ended by itself (nothing happened for session_idle_s), then idle sleep
    assert not a["session"] and a["session_id"] == 1
    assert a["states"][0] == rb_power.S_SESSION and rb_power.S_SLEEP == a["states"][-1]
    assert rb_power.S_ADV_SLOW in a["states"]
    assert 30000 + 60000 <= a["world_ms"] < PICK_S * 1000
    # advertising: fast while the session is open, slow once adv_fast_s passed
    assert 152000 in a["adv_us"] and a["adv_us"][-1] == 1022000
    # armed for wake: MPU in its low-power cycle, ext0 on the pin its INT is wired to
    assert a["mpu_cycling"] and a["ext0"] == [34, 1] and a["int_pin"] == 34
    sleeps = [e for e in a["events"] if e[2] == E.EV_POWER]
    assert [e[4:6] for e in sleeps] == [[E.PW_SLEEP, E.PR_IDLE]]
    assert a["rtc"][0] == 1
    st = _state(tmp_path)
    assert st["wake"]["reason"] == 2                               # EXT0_WAKE
    # wake when the belt is picked up (the next 1.25 Hz low-power sample after pick_s)
    assert PICK_S * 1000 - 20 <= st["slept"]["until_ms"] <= PICK_S * 1000 + 1600   # nearest trace row
    assert st["slept"]["lp_samples"] > 50

    r2 = B.run_board(tmp_path, SCRIPT, env=_env(tr, T_LIMIT_MS=3000))
    assert r2.rc == 0, r2
    b = r2.result
    assert b["boot_reset_cause"] == 4 and b["wake_reason"] == 2 and b["app_wake"] == E.PR_MOTION
    assert b["world_ms"] >= PICK_S * 1000
    assert b["session"] and b["session_id"] == 2          # a new session on wake
    assert b["seqs"] == list(range(1, b["last_seq"] + 1))   # every seq once, across the sleep
    assert b["events"][:len(a["events"])] == a["events"]  # nothing before the sleep changed
    wakes = [e for e in b["events"] if e[2] == E.EV_POWER and e[4] == E.PW_WAKE]
    assert len(wakes) == 1 and wakes[0][1] == 2 and wakes[0][5] == E.PR_MOTION
    assert b["rtc"][0] == 1 and not b["mpu_cycling"]
    assert b["adv_us"][0] == 152000                       # fast again after the wake


def test_session_never_sleeps(tmp_path):
    tr = _trace(tmp_path / "t.csv", pick_s=1000, total_s=200)
    cfg = dict(FAST, session_idle_s=86400)
    r = B.run_board(tmp_path, SCRIPT, env=_env(tr, T_LIMIT_MS=7000), config=cfg)
    assert r.rc == 0, r
    a = r.result
    assert a["no_sleep"] and a["session"] and a["world_ms"] > 60000    # 3x sleep_idle_s, still awake
    assert set(a["states"]) == {rb_power.S_SESSION} and not a["mpu_cycling"]
    assert not (tmp_path / "flash.rtc.json").exists() or not _state(tmp_path).get("slept")


def test_idle_link_is_dropped_then_the_belt_sleeps(tmp_path):
    tr = _trace(tmp_path / "t.csv")
    r = B.run_board(tmp_path, SCRIPT, env=_env(tr, T_LINK="1"), config=FAST)
    assert r.rc == 3, r
    a = r.result
    assert rb_power.S_LINK in a["states"] and a["states"][-1] == rb_power.S_SLEEP
    # a link does not count as activity: dropped once idle for link_idle_s (from the
    # session's end), then the belt sleeps sleep_idle_s later at the soonest... or at once,
    # since the idle clock kept running while the link was up
    assert a["linked_at_ms"] < a["dropped_at_ms"] <= a["world_ms"] < PICK_S * 1000
    assert a["relinked"]        # a laptop that reconnects and polls status/replay does not keep it up
    assert a["dropped_at_ms"] - a["linked_at_ms"] <= 30000 + 20000


def test_critical_battery_ends_the_session_and_sleeps(tmp_path):
    tr = _trace(tmp_path / "t.csv")
    cfg = dict(FAST, session_idle_s=86400, sleep_idle_s=86400)
    r = B.run_board(tmp_path, SCRIPT, env=_env(tr, REPBELT_SIM_BATTERY_MV="3310"), config=cfg)
    assert r.rc == 3, r
    a = r.result
    assert a["battery"] == 0 and a["battery_level"] == E.BAT_CRITICAL and not a["session"]
    bat = [e for e in a["events"] if e[2] == E.EV_BATTERY]
    assert bat and bat[0][4:7] == [0, 3310, E.BAT_CRITICAL]
    pw = [e for e in a["events"] if e[2] == E.EV_POWER]
    assert [e[4:6] for e in pw] == [[E.PW_SLEEP, E.PR_BATTERY]]
    assert a["world_ms"] < 30000          # at once, not after an idle timeout


MOTION = r"""
import machine, rb_mpu, json
S = machine.SIM
m = rb_mpu.MPU(machine.I2C(0), rate_hz=25)
m.start()
m.arm_motion_wake(64)
r = S.mpu.regs
out = {"chip": m.chip, "cycling": bool(S.mpu.cycling()), "int_en": r[0x38], "pin_cfg": r[0x37],
       "thr": r[0x1F], "pwr2": r[0x6C], "lp_period_us": S.mpu.lp_period_us()}
levels = []
for t_s in (10, 50, 99, 101, 102):
    S.advance_ms(t_s * 1000 - S.now() // 1000)
    levels.append([t_s, machine.Pin(34, machine.Pin.IN).value()])
out["levels"] = levels
out["motion_read"] = m.motion()
out["after_read"] = [m.motion(), machine.Pin(34).value()]
out["lp_samples"] = S.mpu.lp_samples
m.start()
out["restarted_cycling"] = bool(S.mpu.cycling())
print(json.dumps(out))
"""


def _table_trace(path, chip_tilt_s=100):
    rows = ["# rate_hz=25", "# sensor=mpu6050", "# accel_range_g=4", "# gyro_range_dps=500",
            "# mount=unknown", "t,ax,ay,az,gx,gy,gz"]
    for i in range(120 * 25):
        t = i / 25
        # still on a table; at chip_tilt_s the belt is picked up and tips 30 degrees
        a = (0.0, 0.0, 1.0) if t < chip_tilt_s else (0.5, 0.0, 0.866)
        rows.append("%.2f,%.3f,%.3f,%.3f,0,0,0" % ((t,) + a))
    path.write_text("\n".join(rows) + "\n")


def _motion_run(tmp_path, chip):
    from boardio_helpers import run_upy
    _table_trace(tmp_path / "m.csv")
    env = {"REPBELT_SIM_TRACE": str(tmp_path / "m.csv"), "REPBELT_SIM_CLOCK": "manual",
           "REPBELT_SIM_CHIP": chip, "REPBELT_SIM_FLASH": str(tmp_path / "flash")}
    return run_upy(MOTION, tmp_path, env=env)[0]


def test_mpu6050_motion_wake_registers_and_interrupt(tmp_path):
    o = _motion_run(tmp_path, "0x68")
    assert o["chip"] == "mpu6050" and o["cycling"]
    assert o["int_en"] == 0x40 and o["pin_cfg"] == 0x20        # MOT_EN; active high, latched
    assert o["thr"] == 32 and o["pwr2"] == 0x07                # 64 mg at 2 mg/LSB; 1.25 Hz, gyros off
    assert o["lp_period_us"] == 800000
    # INT stays low while the belt lies still, goes high at the first LP sample after the tilt
    assert o["levels"] == [[10, 0], [50, 0], [99, 0], [101, 1], [102, 1]]
    assert o["motion_read"] and o["after_read"] == [False, 0]  # reading INT_STATUS clears the latch
    assert 120 <= o["lp_samples"] <= 130                       # 102 s at 1.25 Hz
    assert not o["restarted_cycling"]                          # start() brings back full sampling


def test_mpu6500_wake_on_motion_registers_and_interrupt(tmp_path):
    o = _motion_run(tmp_path, "0x70")
    assert o["chip"] == "mpu6500" and o["cycling"]
    assert o["thr"] == 16                                      # 64 mg at 4 mg/LSB
    assert o["lp_period_us"] == 4096000 >> 3                   # LP_ACCEL_ODR 3: 1.95 Hz
    assert o["levels"] == [[10, 0], [50, 0], [99, 0], [101, 1], [102, 1]]
    assert o["motion_read"] and o["after_read"] == [False, 0]
