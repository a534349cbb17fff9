"""The host's BLE client through bleak's real BlueZ code path, against mock BlueZ (bluezoo) and a board on the air.

Fresh bus + bluezoo per test. The board here is sim/fake_board.py (real
rb_protocol bytes, scripted events); test_ble_firmware.py runs the real
firmware instead.
"""
import asyncio
import time

import pytest

from blehelpers import BOARD_NAME, bleak_rig, mock_bluez, wait_for

from repbelt.ble import BoardClient
from repbelt.errors import UserError
from repbelt.recorder import Recorder
from repbelt.store import Store
from sim.bluez_bridge import BOARD_ADDRESS

import rb_protocol as P

pytestmark = pytest.mark.timeout(120)


def run(coro):
    return asyncio.run(coro)


def test_scan_finds_the_board():
    async def go(mb):
        async with bleak_rig(mb):
            boards = await BoardClient().scan(4.0)
            return boards
    with mock_bluez() as mb:
        boards = run(go(mb))
    assert [(b.name, b.address) for b in boards] == [(BOARD_NAME, BOARD_ADDRESS)]


def test_connect_pairs_bonds_and_streams_2000_events_in_order(tmp_path):
    n = 2000

    async def go(mb):
        async with bleak_rig(mb, events_per_session=n, rate_hz=0, burst=8) as (radio, air, fb):
            store = Store.open(tmp_path / "db.sqlite")
            c = BoardClient()
            board = await c.connect()                       # the only board in range
            assert board.name == BOARD_NAME
            assert c.mtu == 247                             # through bleak's AcquireWrite MTU query
            assert c.status["authorized"]                   # bleak pair() -> board saw an encrypted, bonded link
            dev = store.add_device(board.address, name=board.name, bonded=True)
            rec = Recorder(c, store, dev)
            t0 = time.perf_counter()
            await rec.start()
            assert fb.time_set and fb.in_session
            assert await wait_for(lambda: rec.state.received >= n, 60)
            dt = time.perf_counter() - t0
            summary = await rec.stop()
            await c.close()
            evs = store.events(rec.session_id)
            store.close()
            return evs, summary, fb, dt
    with mock_bluez() as mb:
        evs, summary, fb, dt = run(go(mb))
    board_recs = [(seq, ev) for _s, seq, ev in fb.log]
    assert len(evs) == n + 1                                # + the closing POSTURE logged at stop
    assert evs == board_recs                                # same seqs, same tuples, nothing doubled
    assert summary["complete"] and summary["stats"]["duplicates"] == 0
    assert n / dt > 200, "recorder stored only %.0f events/s" % (n / dt)


def test_link_drop_reconnects_and_replays_every_seq_exactly_once(tmp_path):
    n = 1200

    async def go(mb):
        async with bleak_rig(mb, events_per_session=n, rate_hz=600, burst=3) as (radio, air, fb):
            store = Store.open(tmp_path / "db.sqlite")
            links = []
            c = BoardClient(on_link=links.append)
            board = await c.connect(BOARD_NAME)
            rec = Recorder(c, store, store.add_device(board.address, name=board.name))
            await rec.start()

            def rt_stats():
                return radio.stats
            for k in (1, 2, 3):
                assert await wait_for(lambda: rec.state.received >= 300 * k, 30)
                assert await radio.drop_link()             # Device1.Disconnect on the host's device object
                assert await wait_for(lambda: rt_stats()["connects"] >= k + 1 and c.connected, 30)
            assert await wait_for(lambda: len(fb.log) >= n and c.watermark >= fb.next_seq - 1, 60)
            summary = await rec.stop()
            await c.close()
            seqs = [s for s, _ in store.events(rec.session_id)]
            store.close()
            return seqs, summary, links, fb, radio.stats
    with mock_bluez() as mb:
        seqs, summary, links, fb, rstats = run(go(mb))
    assert seqs == [seq for _s, seq, _e in fb.log]
    assert len(seqs) == len(set(seqs)) == n + 1
    assert summary["stats"]["drops"] == 3 and summary["stats"]["reconnects"] >= 1
    assert links.count("reconnecting") == 3
    assert rstats["connects"] == 4 and rstats["disconnects"] >= 3


def test_lost_notifications_are_detected_and_replayed(tmp_path):
    n = 800

    async def go(mb):
        async with bleak_rig(mb, loss_p=0.05, events_per_session=n, rate_hz=800, burst=2) as (radio, air, fb):
            store = Store.open(tmp_path / "db.sqlite")
            c = BoardClient()
            board = await c.connect(BOARD_NAME)
            rec = Recorder(c, store, store.add_device(board.address))
            await rec.start()
            assert await wait_for(lambda: len(fb.log) >= n, 30)
            summary = await rec.stop()
            await c.close()
            seqs = [s for s, _ in store.events(rec.session_id)]
            store.close()
            return seqs, summary, fb, dict(radio.stats)
    with mock_bluez() as mb:
        seqs, summary, fb, rstats = run(go(mb))
    assert rstats["lost"] > 0                                # the radio really dropped notifications
    assert summary["stats"]["gaps"] > 0 and summary["stats"]["replays"] > 0
    assert seqs == [seq for _s, seq, _e in fb.log]           # ... and every seq arrived anyway, once
    assert summary["complete"]


def test_unpaired_link_is_refused_by_the_board():
    async def go(mb):
        async with bleak_rig(mb) as (radio, air, fb):
            c = BoardClient()
            await c.connect(BOARD_NAME, pair=False)
            assert not c.status["authorized"]
            with pytest.raises(UserError) as ei:
                await c.set_time()
            await c.close()
            return str(ei.value)
    with mock_bluez() as mb:
        msg = run(go(mb))
    assert "not_authorized" in msg and "pair" in msg


def test_board_with_old_protocol_version_gives_a_clear_error():
    async def go(mb):
        async with bleak_rig(mb, protocol_version=0, firmware="0.0.9"):
            c = BoardClient()
            with pytest.raises(UserError) as ei:
                await c.connect(BOARD_NAME)
            return str(ei.value)
    with mock_bluez() as mb:
        msg = run(go(mb))
    assert msg.count("\n") == 0
    assert "old firmware" in msg and "firmware 0.0.9" in msg and "protocol version 0" in msg
    assert "repbelt deploy" in msg


def test_no_adapter_gives_a_clear_error():
    with mock_bluez(adapters=()):
        with pytest.raises(UserError) as ei:
            run(BoardClient(adapter="").scan(1.0))
    assert "no Bluetooth adapter found" in str(ei.value)


def test_bluetooth_service_missing_gives_a_clear_error():
    with mock_bluez(bluezoo=False):
        with pytest.raises(UserError) as ei:
            run(BoardClient().scan(1.0))
    assert "BlueZ" in str(ei.value) and "systemctl start bluetooth" in str(ei.value)


def test_no_board_in_range():
    with mock_bluez():
        with pytest.raises(UserError) as ei:
            run(BoardClient().connect(None, scan_timeout_s=1.5))
    assert "no repbelt board found" in str(ei.value)


def test_sync_pulls_offline_sessions_and_deletes_only_complete_copies(tmp_path):
    from repbelt.recorder import sync_board

    async def go(mb):
        async with bleak_rig(mb, offline_sessions=(150, 70)) as (radio, air, fb):
            store = Store.open(tmp_path / "db.sqlite")
            c = BoardClient()
            board = await c.connect(BOARD_NAME)
            dev = store.add_device(board.address)
            rows = await sync_board(c, store, dev, delete=True)
            await c.close()
            got = {r[0]: [s for s, _ in store.events(r[1])] for r in rows}
            store.close()
            return rows, got, fb
    with mock_bluez() as mb:
        rows, got, fb = run(go(mb))
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [(1, 150, True, 150), (2, 70, True, 70)]
    assert got[1] == list(range(1, 151)) and got[2] == list(range(151, 221))
    assert fb.sessions == {} and fb.log == []                # deleted on the board after the verified copy
    assert P.OP_DELETE_SESSION in fb.commands


@pytest.mark.parametrize("adapter", ["hci0", ""])
def test_bluetooth_switched_off_gives_a_clear_error(adapter):
    from dbus_fast import BusType, Message, Variant
    from dbus_fast.aio import MessageBus

    async def power_off(addr):
        bus = await MessageBus(bus_address=addr, bus_type=BusType.SYSTEM).connect()
        for h in ("hci0", "hci1"):
            r = await bus.call(Message(destination="org.bluez", path="/org/bluez/" + h,
                                       interface="org.freedesktop.DBus.Properties", member="Set", signature="ssv",
                                       body=["org.bluez.Adapter1", "Powered", Variant("b", False)]))
            assert r.body == []
        bus.disconnect()
    with mock_bluez() as mb:
        run(power_off(mb.bus_address))
        with pytest.raises(UserError) as ei:
            run(BoardClient(adapter=adapter).scan(1.0))
    assert "switched off" in str(ei.value) and "power on" in str(ei.value)


def test_unknown_adapter_gives_a_clear_error():
    with mock_bluez():
        with pytest.raises(UserError) as ei:
            run(BoardClient(adapter="hci7").scan(1.0))
    assert "adapter hci7 not found" in str(ei.value)


def test_two_boards_in_range_need_a_choice_unless_one_is_known():
    from sim.air import AirServer
    from sim.bluez_bridge import BluezRadio
    from sim.fake_board import FakeBoard
    third = "00:00:00:00:00:03"

    async def go(mb):
        radios, tasks, airs = [], [], []
        for adapter, name in (("hci1", "repbelt-aaaa"), ("hci2", "repbelt-bbbb")):
            r = BluezRadio(mb.bus_address, adapter=adapter, register_agent=(adapter == "hci1"))
            await r.start()
            a = AirServer(r)
            await a.start()
            tasks.append(asyncio.ensure_future(FakeBoard(a.address, name=name).run()))
            radios.append(r)
            airs.append(a)
        try:
            for r in radios:
                await asyncio.wait_for(r.advertising.wait(), 10)
            c = BoardClient()
            boards = await c.scan(4.0, lambda found: len(found) >= 2)
            with pytest.raises(UserError) as ei:
                await c.connect(None)
            board = await c.connect(None, known=[third])
            await c.close()
            return sorted((b.name, b.address) for b in boards), str(ei.value), board
        finally:
            for t in tasks:
                t.cancel()
            for a in airs:
                await a.close()
            for r in radios:
                await r.close()
    with mock_bluez(adapters=("00:00:00:00:00:01", BOARD_ADDRESS, third)) as mb:
        boards, msg, board = run(go(mb))
    assert boards == [("repbelt-aaaa", BOARD_ADDRESS), ("repbelt-bbbb", third)]
    assert "2 boards in range (repbelt-" in msg and "--board NAME" in msg
    assert (board.name, board.address) == ("repbelt-bbbb", third)


def test_board_reset_mid_session_host_reconnects_and_misses_nothing(tmp_path):
    """The board's process goes away (reset) and comes back with its log: bridge, bluezoo and client recover."""
    from sim.fake_board import FakeBoard

    async def go(mb):
        async with bleak_rig(mb, events_per_session=100000, rate_hz=300, burst=2) as (radio, air, fb):
            store = Store.open(tmp_path / "db.sqlite")
            c = BoardClient()
            board = await c.connect(BOARD_NAME)
            rec = Recorder(c, store, store.add_device(board.address))
            await rec.start()
            assert await wait_for(lambda: rec.state.received >= 200, 30)
            # reset: the board's socket closes; a new process boots with the persisted log and session
            boots = [t for t in asyncio.all_tasks() if "FakeBoard.run" in repr(t.get_coro())]
            assert len(boots) == 1
            boots[0].cancel()
            fb._gen.cancel()
            assert await wait_for(lambda: not c.connected, 15)          # bridge told the host the link died
            fb2 = FakeBoard(air.address, events_per_session=150, rate_hz=300, burst=2)
            fb2.log, fb2.sessions, fb2.next_seq, fb2.session = fb.log, fb.sessions, fb.next_seq, fb.session
            fb2.in_session, fb2.time_set = True, True
            task2 = asyncio.ensure_future(fb2.run())
            assert await wait_for(lambda: c.connected, 30)
            fb2._gen = asyncio.ensure_future(fb2._generate())          # the session goes on after the boot
            assert await wait_for(lambda: c.watermark is not None and c.watermark >= fb2.next_seq - 1
                                  and fb2._gen.done(), 30)
            summary = await rec.stop()
            await c.close()
            task2.cancel()
            seqs = [s for s, _ in store.events(rec.session_id)]
            store.close()
            return seqs, summary, fb2, dict(radio.stats)
    with mock_bluez() as mb:
        seqs, summary, fb2, rstats = run(go(mb))
    assert seqs == [s for _x, s, _e in fb2.log]
    assert len(seqs) == len(set(seqs)) and summary["complete"]
    assert summary["stats"]["drops"] == 1 and rstats["connects"] == 2
