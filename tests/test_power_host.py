"""Host side of power management: battery and power events in the live view, the status battery percent."""
import time
import types

from rich.console import Console

from repbelt import ble
from repbelt.cmd_ble import _plain_line, _view
from repbelt.recorder import LiveState, Recorder, battery_text, power_text

import rb_events as E
import rb_protocol as P


def ev(typ, a=0, b=0, c=0):
    return (typ, 1000, a, b, c, 0, 0, 0)


def render(state):
    class _Rec:
        session_id, board_session, guide = 3, 7, None
        client = types.SimpleNamespace(stats={"replays": 0, "reconnects": 0})
    rec = _Rec()
    rec.state = state
    con = Console(record=True, width=140)
    con.print(_view(rec, ble.Board("repbelt-f00d", "00:00:00:00:00:02"), time.monotonic()))
    return con.export_text(), _plain_line(rec, time.monotonic())


def test_power_events_in_words():
    assert power_text(ev(E.EV_POWER, E.PW_SLEEP, E.PR_IDLE)) == "board went to sleep (idle)"
    assert power_text(ev(E.EV_POWER, E.PW_SLEEP, E.PR_BATTERY)) == "board went to sleep (battery critical)"
    assert power_text(ev(E.EV_POWER, E.PW_WAKE, E.PR_MOTION, 3725)) == "woke on motion after 1:02:05 asleep"
    assert power_text(ev(E.EV_POWER, E.PW_WAKE, E.PR_MOTION, 0)) == "woke on motion"
    assert power_text(ev(E.EV_POWER, E.PW_WAKE, E.PR_TIMER, 600)) == "woke on timer after 0:10:00 asleep"
    assert power_text(ev(E.EV_POWER, E.PW_WAKE, E.PR_POWER_ON)) == "board powered on"
    assert power_text(ev(E.EV_POWER, E.PW_SLEEP, 99)) == "board went to sleep (code 99)"
    assert battery_text(None, E.BAT_OK) == "unknown"
    assert battery_text(80, E.BAT_OK, 4000) == "80 % (4.00 V)"
    assert battery_text(12, E.BAT_LOW).startswith("12 % low: charge soon")
    assert "critical: charge now" in battery_text(3, E.BAT_CRITICAL)


def test_live_state_battery_from_status_then_events():
    s = LiveState()
    assert s.battery_pct is None
    s.status({"battery_pct": None, "battery_low": False})
    assert s.battery_pct is None and s.battery_level == E.BAT_OK
    s.status({"battery_pct": 64, "battery_low": False})
    assert (s.battery_pct, s.battery_level) == (64, E.BAT_OK)
    s.apply(ev(E.EV_BATTERY, 14, 3680, E.BAT_LOW))
    assert (s.battery_pct, s.battery_mv, s.battery_level) == (14, 3680, E.BAT_LOW)
    s.status({"battery_pct": 13, "battery_low": True})
    assert (s.battery_pct, s.battery_level) == (13, E.BAT_LOW)
    s.apply(ev(E.EV_BATTERY, 4, 3420, E.BAT_CRITICAL))
    s.status({"battery_pct": 4, "battery_low": True})
    assert s.battery_level == E.BAT_CRITICAL               # the flag does not downgrade critical
    s.status({"battery_pct": 90, "battery_low": False})    # charged: the board says not low
    assert (s.battery_pct, s.battery_level) == (90, E.BAT_OK)
    s.apply(ev(E.EV_POWER, E.PW_SLEEP, E.PR_IDLE))
    assert s.power == "board went to sleep (idle)"
    assert s.received == 3


def test_live_view_shows_battery_and_power():
    s = LiveState()
    out, plain = render(s)
    assert "battery" in out and "unknown" in out and "power" not in out and "battery=?" in plain
    s.status({"battery_pct": 71, "battery_low": False})
    out, plain = render(s)
    assert "71 %" in out and "battery=71%" in plain
    s.apply(ev(E.EV_BATTERY, 12, 3650, E.BAT_LOW))
    s.apply(ev(E.EV_POWER, E.PW_WAKE, E.PR_MOTION, 90))
    out, plain = render(s)
    assert "12 % (3.65 V) low: charge soon" in out and "woke on motion after 0:01:30 asleep" in out
    assert "battery=12%(low)" in plain
    s.apply(ev(E.EV_BATTERY, 3, 3380, E.BAT_CRITICAL))
    out, plain = render(s)
    assert "critical: charge now" in out and "battery=3%(critical)" in plain


def test_recorder_follows_status_notifications_and_keeps_the_previous_callback():
    seen = []
    client = types.SimpleNamespace(on_events=None, on_link=None, link="connected", on_status=seen.append,
                                   status={"battery_pct": 55, "battery_low": False, "state": P.ST_SESSION})
    rec = Recorder(client, store=None, device_id=1)
    assert rec.state.battery_pct == 55                     # the status read at connect
    client.on_status({"battery_pct": 9, "battery_low": True})
    assert (rec.state.battery_pct, rec.state.battery_level) == (9, E.BAT_LOW)
    assert seen == [{"battery_pct": 9, "battery_low": True}]
