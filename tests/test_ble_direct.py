"""Fast tests of the host BLE logic over the in-process radio (sim.air.DirectRadio), plus its pure parts.

The same BoardClient/Recorder code as over bleak (test_ble_bleak.py covers
that path end to end); here the link is a Python object, so edge cases are
cheap: MTU 23, heavy loss, session markers, gaps the board cannot fill, the
plan guide's state machine.
"""
import asyncio

import pytest

from blehelpers import direct_rig, wait_for

from repbelt import ble
from repbelt.ble import BoardClient, DirectBackend
from repbelt.plan import load_plan
from repbelt.recorder import Guide, LiveState, Recorder
from repbelt.store import Store

import rb_events as E
import rb_protocol as P

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(coro)


def test_mtu_23_with_heavy_loss_still_delivers_every_seq_once(tmp_path):
    n = 600

    async def go():
        async with direct_rig(loss_p=0.15, mtu=23, events_per_session=n, rate_hz=2000, burst=2) as (radio, air, fb):
            store = Store.open(tmp_path / "db")
            c = BoardClient(backend=DirectBackend(radio))
            await c.connect()
            assert c.mtu == 23
            rec = Recorder(c, store, store.add_device("DIRECT"))
            await rec.start()
            assert await wait_for(lambda: len(fb.log) >= n, 20)
            summary = await rec.stop()
            seqs = [s for s, _ in store.events(rec.session_id)]
            await c.close()
            store.close()
            return seqs, summary, fb, radio.stats
    seqs, summary, fb, rstats = run(go())
    assert rstats["lost"] > 30
    assert seqs == [s for _x, s, _e in fb.log]
    assert summary["complete"] and summary["stats"]["replays"] > 0


def test_session_markers_route_events_to_their_own_sessions(tmp_path):
    async def go():
        async with direct_rig(offline_sessions=(30,), events_per_session=50, rate_hz=0) as (radio, air, fb):
            store = Store.open(tmp_path / "db")
            c = BoardClient(backend=DirectBackend(radio))
            await c.connect()
            dev = store.add_device("DIRECT")
            rec = Recorder(c, store, dev)
            await rec.start()                         # board session 2 (1 was logged offline)
            assert await wait_for(lambda: rec.state.received >= 50, 10)
            # the board moves on to another session by itself (say, its button): a marker says so
            await c.stop_session()
            assert await c.start_session() == 3
            assert await wait_for(lambda: rec.state.received >= 101, 10)
            await rec.stop()
            await c.close()
            ours = [s for s, _ in store.events(rec.session_id)]
            other = store.find_session(dev, 3)
            theirs = [s for s, _ in store.events(other)]
            offline = store.find_session(dev, 1)
            store.close()
            return rec.board_session, ours, theirs, offline
    board_session, ours, theirs, offline = run(go())
    assert board_session == 2
    assert ours == list(range(31, 31 + 51))          # 50 scripted + the closing event
    assert theirs == list(range(82, 82 + 51))
    assert offline is None                            # not streamed live: that is sync's job


def test_unauthorized_link_cannot_replay():
    async def go():
        async with direct_rig() as (radio, air, fb):
            c = BoardClient(backend=DirectBackend(radio))
            await c.connect(pair=False)
            with pytest.raises(ble.BoardError) as ei:
                await c.replay(1)
            await c.close()
            return ei.value
    e = run(go())
    assert e.err == P.ERR_NOT_AUTHORIZED


class _StubBackend:
    def __init__(self):
        self.writes = []

    async def write(self, uuid, data):
        self.writes.append(bytes(data))


def test_accept_dedupes_reorders_and_gives_up_on_seqs_the_board_lacks(monkeypatch):
    monkeypatch.setattr(ble, "REPLAY_SETTLE_S", 0.2)

    async def go():
        got = []
        c = BoardClient(backend=_StubBackend(), on_events=got.extend)
        c._connected.set()
        replays = []

        async def fake_replay(seq):
            replays.append(seq)
        c._replay_from = fake_replay
        ev = (E.EV_POSTURE, 0, 1, 0, 0, 0, 0, 0)
        c.watermark = 9
        c.accept([(10, ev), (11, ev), (10, ev)])                 # duplicate in one packet
        c.accept([(13, ev)])                                       # 12 missing
        assert c.watermark == 11
        await asyncio.sleep(0.15)
        assert replays == [12]                                     # asked once so far
        c.accept([(12, ev), (13, ev), (14, ev)])                   # replay fills it; 13 already had
        assert c.watermark == 14
        c.accept([(17, ev)])                                       # 15, 16 never existed on the board
        await asyncio.sleep(2.0)
        assert c.watermark == 17 and c.stats["given_up"] == 2
        assert replays[-ble.GAP_ATTEMPTS:] == [15] * ble.GAP_ATTEMPTS      # asked again before giving up
        c.accept([(18, (P.REC_SESSION, 0, 5, 0, 0, 0, 0, 0)), (18, ev)])
        assert c.stream_session == 5 and c.watermark == 18
        return got, c.stats
    got, stats = run(go())
    assert [s for s, _ in got] == [10, 11, 13, 12, 14, 17, 18]
    assert stats["duplicates"] == 2


def test_old_protocol_status_message():
    raw = bytearray(P.encode_status(0, 0, 0, 0, None, 0, (0, 0, 9)))
    raw[0] = 0
    with pytest.raises(ble.UserError) as ei:
        ble._decode_status(bytes(raw), ble.Board("repbelt-0001", "X"), "0.0.9")
    assert str(ei.value) == ("repbelt-0001 runs an old firmware (firmware 0.0.9, protocol version 0; this "
                             "repbelt needs 1): update it with `repbelt deploy`")
    raw[0] = 9
    with pytest.raises(ble.UserError) as ei:
        ble._decode_status(bytes(raw), None, None)
    assert "newer firmware" in str(ei.value) and "update repbelt" in str(ei.value)


def test_user_error_translations():
    from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason as R
    off = ble.user_error(BleakBluetoothNotAvailableError("x", R.POWERED_OFF))
    assert "switched off" in str(off)
    denied = ble.user_error(BleakBluetoothNotAvailableError("x", R.DENIED_BY_SYSTEM))
    assert "permission denied" in str(denied)
    assert "permission denied" in str(ble.user_error(PermissionError(13, "denied")))
    assert ble.user_error(ValueError("x")) is None
    from bleak.exc import BleakDBusError
    auth = ble.user_error(BleakDBusError("org.bluez.Error.AuthenticationFailed", []))
    assert "refused to pair" in str(auth) and "button" in str(auth)
    gone = ble.user_error(BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []))
    assert "systemctl start bluetooth" in str(gone)


def test_guide_walks_the_plan_with_rest_and_hints():
    now = [0.0]
    g = Guide(load_plan(None), clock=lambda: now[0])
    first = g.current
    assert first.step.kind == "bridge" and first.set_no == 1 and g.hint_kind() == E.K_BRIDGE
    assert not g.on_event((E.EV_SET_END, 0, E.K_LEG_RAISE, 1, 12, 0, 0, 0))   # another exercise: ignored
    assert not g.on_event((E.EV_SET_END, 0, E.K_BRIDGE, 1, 11, 0, 0, 0))
    assert g.phase == "rest" and g.rest_left_s() == first.rest_s and g.hint_kind() is None
    now[0] = first.rest_s - 1
    assert not g.tick()
    now[0] = first.rest_s + 0.1
    assert g.tick() and g.current.set_no == 2 and g.hint_kind() == E.K_BRIDGE
    assert g.results[0][1:] == (11, None, True)
    # walk the whole plan: every set ends, every rest ends
    while g.phase != "done":
        cur = g.current
        if cur.step.is_hold:
            g.on_event((E.EV_HOLD_END, 0, cur.step.kind_code, 0, 1000, 0, 0, 0))
        else:
            g.on_event((E.EV_SET_END, 0, cur.step.kind_code, cur.set_no, 1, 0, 0, 0))
        now[0] += 1000
        g.tick()
    assert len(g.results) == len(g.items)
    assert not any(r[3] for r in g.results[1:])                              # 1 rep / 1 s holds miss targets


def test_live_state_folds_events():
    s = LiveState()
    for ev in [(E.EV_SET_START, 0, E.K_BRIDGE, 1, 0, 0, 0, 0), (E.EV_REP, 1, E.K_BRIDGE, 1, 1, 900, 300, 0),
               (E.EV_REP, 2, E.K_BRIDGE, 2, 1, 900, 300, 0), (E.EV_SET_END, 3, E.K_BRIDGE, 1, 2, 0, 3, 0),
               (E.EV_HOLD_START, 4, E.K_PLANK, 4, 0, 0, 0, 0), (E.EV_HOLD_TICK, 5, E.K_PLANK, 1000, 120, 77, 3, 0),
               (E.EV_WALK_START, 6, 6, 0, 0, 0, 0, 0), (E.EV_STEPS, 7, 10, 100, 6, 0, 0, 0)]:
        s.apply(ev)
    assert (s.sets_done, s.reps_total, s.hold_kind, s.hold_elapsed_ms, s.hold_stability) == (1, 2, E.K_PLANK, 1000, 77)
    assert s.steps_total == 10 and s.walking
    s.apply((E.EV_WALK_END, 8, 6, 8, 12, 100, 0, 0))
    assert s.steps_total == 12 and not s.walking


def test_withdrawn_hold_is_not_a_finished_plan_step():
    s = LiveState()
    s.apply((E.EV_HOLD_START, 4, E.K_PLANK, 4, 0, 0, 0, 0))
    s.apply((E.EV_HOLD_END, 9, E.K_PLANK, 4, 0, 0, 0, 0))
    assert s.hold_kind is None and s.last_hold is None
    now = [0.0]
    g = Guide(load_plan(None), clock=lambda: now[0])
    while not g.current.step.is_hold:
        g.on_event((E.EV_SET_END, 0, g.current.step.kind_code, g.current.set_no, 10, 0, 0, 0))
        now[0] += 1000
        g.tick()
    cur = g.current
    assert not g.on_event((E.EV_HOLD_END, 0, cur.step.kind_code, 0, 0, 0, 0, 0))
    assert g.current is cur and g.phase != "rest"
    g.on_event((E.EV_HOLD_END, 0, cur.step.kind_code, 0, 30000, 0, 0, 0))
    assert g.results[-1][0] is cur and g.results[-1][2] == 30000


def test_a_command_cut_off_by_a_link_drop_is_sent_again_after_the_reconnect(tmp_path):
    async def go():
        async with direct_rig(events_per_session=20, rate_hz=0) as (radio, air, fb):
            store = Store.open(tmp_path / "db")
            c = BoardClient(backend=DirectBackend(radio))
            await c.connect()
            write = radio.write
            drops = []

            async def write_then_drop(uuid, data):
                await write(uuid, data)
                if len(drops) < 2:          # the link goes before the answer can come back, twice
                    drops.append(uuid)
                    await radio.drop_link()
            radio.write = write_then_drop
            rec = Recorder(c, store, store.add_device("DIRECT"))
            await rec.start()               # set_time, get_status and start_session all go through
            radio.write = write
            await radio.drop_link()
            st = await c.get_status()       # written while the link is down
            summary = await rec.stop()
            seqs = [s for s, _ in store.events(rec.session_id)]
            await c.close()
            store.close()
            return drops, st, summary, seqs, fb
    drops, st, summary, seqs, fb = run(go())
    assert len(drops) == 2
    assert st["state"] in (P.ST_SESSION, P.ST_IDLE)
    assert summary["stats"]["reconnects"] == 3 and summary["complete"]
    assert seqs == [s for _x, s, _e in fb.log if _x == summary["board_session"]]


@pytest.mark.parametrize("watermark", [None, 0])
def test_a_replay_cut_off_by_a_link_drop_still_delivers_every_record(watermark):
    # (with a watermark the reconnect asks for the rest itself; without one the replay goes again)
    async def go():
        async with direct_rig(offline_sessions=(60,), rate_hz=0) as (radio, air, fb):
            c = BoardClient(backend=DirectBackend(radio))
            got = []
            c.on_events = got.extend
            await c.connect()
            write = radio.write
            cut = []

            async def write_then_drop(uuid, data):
                await write(uuid, data)
                if data[0] == P.OP_REPLAY_SESSION and not cut:
                    cut.append(1)
                    await radio.drop_link()
            radio.write = write_then_drop
            c.rewind(watermark)
            c.session_filter = 1
            await asyncio.wait_for(c.replay_session(1, 1), 30)
            ok = await wait_for(lambda: len(got) >= 60, 20)
            await c.close()
            return cut, ok, [s for s, _ in got], c.stats
    cut, ok, seqs, stats = run(go())
    assert cut and ok and stats["reconnects"] == 1
    assert seqs == list(range(1, 61))


def test_without_auto_reconnect_a_link_drop_fails_the_command_in_one_line():
    async def go():
        async with direct_rig(events_per_session=0, rate_hz=0) as (radio, air, fb):
            c = BoardClient(backend=DirectBackend(radio), auto_reconnect=False)
            await c.connect()
            await radio.drop_link()
            try:
                await c.get_status()
            except ble.UserError as e:
                return str(e)
            finally:
                await c.close()
    msg = run(go())
    assert msg.startswith("sending get_status to the board failed (") and msg.endswith("retry")


def test_sync_under_loss_is_complete_before_it_deletes(tmp_path):
    from repbelt.recorder import sync_board

    async def go():
        # (MTU 247: a session-info answer is 23 bytes, one more than a default-MTU notification holds)
        async with direct_rig(loss_p=0.25, offline_sessions=(200, 60)) as (radio, air, fb):
            store = Store.open(tmp_path / "db")
            c = BoardClient(backend=DirectBackend(radio))
            await c.connect()
            rows = await sync_board(c, store, store.add_device("DIRECT"), delete=True)
            await c.close()
            got = {r[0]: [s for s, _ in store.events(r[1])] for r in rows}
            store.close()
            return rows, got, fb, radio.stats
    rows, got, fb, rstats = run(go())
    assert rstats["lost"] >= 3
    assert [(r[0], r[3]) for r in rows] == [(1, True), (2, True)]
    assert got == {1: list(range(1, 201)), 2: list(range(201, 261))}
    assert fb.sessions == {}


def test_live_view_renders_every_phase():
    import time as _t
    from rich.console import Console
    from repbelt.cmd_ble import _plain_line, _view

    class _Client:
        stats = {"replays": 1, "reconnects": 2}

    class _Rec:
        session_id, board_session = 3, 7
        client = _Client()
        state = LiveState()
        guide = Guide(load_plan(None), clock=lambda: 0.0)
    rec = _Rec()
    rec.state.link = "reconnecting"
    for ev in [(E.EV_SET_START, 0, E.K_BRIDGE, 2, 0, 0, 0, 0), (E.EV_REP, 1, E.K_BRIDGE, 4, 2, 900, 300, 0),
               (E.EV_HOLD_START, 4, E.K_PLANK, 4, 0, 0, 0, 0), (E.EV_HOLD_TICK, 5, E.K_PLANK, 12000, 120, 77, 3, 0)]:
        rec.state.apply(ev)
    board = ble.Board("repbelt-f00d", "00:00:00:00:00:02")
    outs = []
    for phase in ("exercise", "rest", "done"):
        if phase == "rest":
            rec.guide.on_event((E.EV_SET_END, 0, E.K_BRIDGE, 1, 12, 0, 0, 0))
        if phase == "done":
            rec.guide.idx, rec.guide.phase = len(rec.guide.items), "done"
        con = Console(record=True, width=120)
        con.print(_view(rec, board, _t.monotonic() - 65))
        outs.append(con.export_text())
    assert "now: bridge set 1/3" in outs[0] and "target 3 x 10-12 reps" in outs[0]
    assert "plank 0:12" in outs[0] and "stability 77/100" in outs[0] and "reconnecting" in outs[0]
    assert "set 2  rep 4" in outs[0] and "1:05 elapsed" in outs[0]
    assert "rest 1:00" in outs[1] and "next: bridge" in outs[1]
    assert "plan complete" in outs[2]
    assert "link=reconnecting" in _plain_line(rec, _t.monotonic())


def test_database_locked_mid_session_loses_nothing(tmp_path, monkeypatch):
    import sqlite3
    monkeypatch.setenv("REPBELT_DB_TIMEOUT_S", "0.1")
    db = tmp_path / "db"

    async def go():
        async with direct_rig(events_per_session=400, rate_hz=400) as (radio, air, fb):
            store = Store.open(db)
            c = BoardClient(backend=DirectBackend(radio))
            await c.connect()
            rec = Recorder(c, store, store.add_device("DIRECT"), flush_s=0.1)
            await rec.start()
            assert await wait_for(lambda: rec.state.stored >= 50, 10)
            other = sqlite3.connect(str(db), isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")                 # another program holds the write lock
            assert await wait_for(lambda: rec.store_error is not None, 10)
            msg = str(rec.store_error)
            held = rec.state.stored
            await asyncio.sleep(0.5)
            assert rec.state.stored == held                   # nothing committed while locked ...
            other.execute("COMMIT")
            other.close()
            assert await wait_for(lambda: len(fb.log) >= 400, 10)
            summary = await rec.stop()                         # ... and everything after
            seqs = [s for s, _ in store.events(rec.session_id)]
            await c.close()
            store.close()
            return seqs, summary, fb, msg, held, rec.store_error
    seqs, summary, fb, msg, held, err_after = run(go())
    assert "is locked by another program" in msg and err_after is None
    assert held < 400
    assert seqs == [s for _x, s, _e in fb.log] and summary["complete"]
