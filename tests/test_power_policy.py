"""rb_power: the sleep/advertising policy and battery levels, on CPython and the unix port."""
import json

import board_sim  # noqa: F401  (puts firmware/ on sys.path)

import rb_config
import rb_power as RP
from boardio_helpers import run_upy

CFG = dict(rb_config.DEFAULTS, sleep_idle_s=180, link_idle_s=600, session_idle_s=300,
           adv_fast_ms=152, adv_slow_ms=1022, adv_fast_s=30)


def _walk(pol, steps):
    """Apply [(t_ms, session, connected, busy)] and return the decisions."""
    return [pol.decide(t, s, c, b) for (t, s, c, b) in steps]


def test_session_never_sleeps_and_ends_only_when_idle():
    p = RP.Policy(CFG.get, 0)
    p.session_started(0)
    assert p.decide(10000, True, False, False) == (RP.S_SESSION, 152, RP.A_NONE)
    assert p.decide(31000, True, False, False) == (RP.S_SESSION, 1022, RP.A_NONE)
    assert p.decide(3600000, True, True, False)[2] == RP.A_END_SESSION     # nothing for an hour
    p.session_activity(3590000)
    assert p.decide(3600000, True, False, False)[2] == RP.A_NONE


def test_idle_advertising_then_sleep():
    p = RP.Policy(CFG.get, 0)
    assert p.decide(1000, False, False, False) == (RP.S_ADV_FAST, 152, RP.A_NONE)
    assert p.decide(31000, False, False, False) == (RP.S_ADV_SLOW, 1022, RP.A_NONE)
    assert p.decide(179999, False, False, False)[2] == RP.A_NONE
    assert p.decide(180000, False, False, False) == (RP.S_SLEEP, 0, RP.A_SLEEP)
    p.activity(170000)                         # a button press or a Control command
    assert p.decide(180000, False, False, False)[2] == RP.A_NONE
    assert p.decide(350000, False, False, False)[2] == RP.A_SLEEP


def test_a_link_keeps_awake_until_idle_and_not_while_busy():
    p = RP.Policy(CFG.get, 0)
    assert p.decide(500000, False, True, False) == (RP.S_LINK, 0, RP.A_NONE)
    assert p.decide(600000, False, True, True)[2] == RP.A_NONE          # still syncing
    assert p.decide(600000, False, True, False)[2] == RP.A_DISCONNECT
    # reconnecting is not activity: once dropped it sleeps at once
    assert p.decide(601000, False, False, False)[2] == RP.A_SLEEP


def test_auto_ended_session_resumes_on_motion_but_a_user_stop_does_not():
    p = RP.Policy(CFG.get, 0)
    p.session_ended(1000, auto=True)
    assert p.motion(2000) is True and p.motion(3000) is False
    p.session_ended(5000, auto=False)
    assert p.motion(6000) is False
    assert p.idle_since == 6000                # motion keeps it awake all the same


def test_critical_battery_ends_session_and_sleeps():
    p = RP.Policy(CFG.get, 0)
    p.battery(RP.BAT_CRITICAL)
    assert p.decide(1000, True, True, False)[2] == RP.A_END_SESSION
    assert p.decide(1000, False, True, True)[2] == RP.A_DISCONNECT
    assert p.decide(1000, False, False, False)[2] == RP.A_SLEEP
    p.session_ended(2000, auto=True)
    assert p.motion(3000) is False             # no new session on a flat cell


def test_battery_mean_levels_and_hysteresis():
    b = RP.Battery(low_pct=15, critical_pct=5)
    assert b.feed(None) is None and b.pct is None
    assert b.feed(3900) is None and b.pct == 65 and b.level == RP.BAT_OK
    for _ in range(RP.BAT_AVG_N):
        b.feed(3620)
    assert b.pct == 14 and b.level == RP.BAT_LOW
    # a loaded cell bouncing around the threshold does not flap
    assert b.feed(3640) is None and b.level == RP.BAT_LOW
    for _ in range(RP.BAT_AVG_N):
        b.feed(3700)
    assert b.pct == 30 and b.level == RP.BAT_OK
    changes = [b.feed(3310) for _ in range(RP.BAT_AVG_N)]
    assert [c for c in changes if c is not None] == [RP.BAT_LOW, RP.BAT_CRITICAL]   # once each
    assert b.level == RP.BAT_CRITICAL and b.pct == 0
    assert [RP.battery_pct(v) for v in (3000, 3300, 3650, 3850, 4150, 4400)] == [0, 0, 20, 57, 100, 100]


def test_rtc_block_round_trip_and_noise():
    blk = RP.pack_rtc(7, -3600, 1764686400)
    assert RP.unpack_rtc(blk) == (7, -3600, 1764686400)
    assert RP.unpack_rtc(RP.pack_rtc(1, None, 5)) == (1, None, 5)
    assert RP.unpack_rtc(b"") is None and RP.unpack_rtc(b"\x00" * 32) is None


def test_same_decisions_under_micropython(tmp_path):
    script = r"""
import json, rb_power as RP
cfg = %s
p = RP.Policy(cfg.get, 0)
p.session_started(0)
out = [p.decide(t, s, c, b) for (t, s, c, b) in %s]
b = RP.Battery(15, 5)
lv = [b.feed(v) for v in (3900, 3600, 3600, 3600, 3600, 3600, 3600, 3600, 3600, 3330)]
print(json.dumps({"d": out, "lv": lv, "rtc": RP.unpack_rtc(RP.pack_rtc(3, 60, 99))}))
""" % (json.dumps(CFG).replace("null", "None").replace("true", "True").replace("false", "False"),
       "[(1000, True, False, False), (400000, True, False, False), (400000, False, False, False),"
       " (500000, False, True, False), (900000, False, True, False)]")
    o = run_upy(script, tmp_path)[0]
    p = RP.Policy(CFG.get, 0)
    p.session_started(0)
    steps = [(1000, True, False, False), (400000, True, False, False), (400000, False, False, False),
             (500000, False, True, False), (900000, False, True, False)]
    assert o["d"] == [list(x) for x in _walk(p, steps)]
    b = RP.Battery(15, 5)
    assert o["lv"] == [b.feed(v) for v in (3900, 3600, 3600, 3600, 3600, 3600, 3600, 3600, 3600, 3330)]
    assert o["rtc"] == [3, 60, 99]
