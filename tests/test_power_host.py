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


def test_show_lists_battery_power_and_fault_events(tmp_path, capsys):
    from repbelt import cli, review
    from repbelt.store import Store
    db = tmp_path / "db.sqlite"
    st = Store.open(db)
    sid = st.begin_session(st.add_device("AA:BB"), 4, started=1.7e9, source="live")
    evs = [(E.EV_POWER, 0, E.PW_WAKE, E.PR_MOTION, 5400, 0, 0, 0),
           (E.EV_SET_START, 1000, E.K_BRIDGE, 1, 1000, 0, 0, 0),
           (E.EV_REP, 3000, E.K_BRIDGE, 1, 1, 2000, 300, 0),
           (E.EV_SET_END, 4000, E.K_BRIDGE, 1, 1, 1000, 4000, 0),
           (E.EV_BATTERY, 65000, 14, 3690, E.BAT_LOW, 0, 0, 0),
           (E.EV_FAULT, 70000, E.F_I2C_ERROR, 3, 0, 0, 0, 0),
           (E.EV_FAULT, 71000, E.F_FIFO_OVERFLOW, 40, 0, 0, 0, 0),
           (E.EV_FAULT, 72000, E.F_FIFO_OVERFLOW, 41, 0, 0, 0, 0),
           (E.EV_FAULT, 73000, E.F_FIFO_OVERFLOW, 42, 0, 0, 0, 0),
           (E.EV_POWER, 125000, E.PW_SLEEP, E.PR_IDLE, 0, 0, 0, 0)]
    st.add_events(sid, list(enumerate(evs, 1)))
    st.end_session(sid)
    got = review.board_events(st, sid, 1.7e9)
    st.close()
    assert [(g["t_s"], g["what"], g["text"]) for g in got] == [
        (0.0, "power", "woke on motion after 1:30:00 asleep"),
        (65.0, "battery", "14 % (3.69 V) low: charge soon"),
        (70.0, "fault", "i2c error (detail 3)"),
        (71.0, "fault", "fifo overflow x 3 (from detail 40)"),
        (125.0, "power", "board went to sleep (idle)")]
    try:
        cli.main(["show", str(sid), "--db", str(db)])
    except SystemExit as e:
        assert e.code in (0, None)
    out = capsys.readouterr().out
    assert "board: battery, power, faults" in out
    assert "1:05" in out and "14 % (3.69 V) low: charge soon" in out and "board went to sleep (idle)" in out
    assert "bridge" in out                                 # the sets table is still there
