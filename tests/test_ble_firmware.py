"""The real firmware (MicroPython unix port, sim/board.py) recorded through bleak over mock BlueZ, with link drops.

Nothing board-side is CPython here: the firmware's rb_ble/rb_log run
unmodified on the emulated `bluetooth` module, which talks to the bridge
over the air socket. The host side is the product's BoardClient + Recorder.
"""
import asyncio
import os
import subprocess
import time

import pytest

from blehelpers import REPO, mock_bluez, wait_for

from repbelt import paths
from repbelt.ble import BoardClient
from repbelt.recorder import Recorder
from repbelt.store import Store
from sim.air import RadioThread
from sim.bluez_bridge import BluezRadio

import rb_events as E

import rb_names as N

pytestmark = pytest.mark.timeout(240)

TRACE = paths.SHARED / "datasets" / "synthetic-dev" / "dev-100006.csv"
SPEED = 8


def _start_board(air, flash, log_path):
    env = dict(os.environ, REPBELT_AIR=air, REPBELT_SIM_TRACE=str(TRACE), REPBELT_SIM_SPEED=str(SPEED))
    return subprocess.Popen([paths.micropython_bin(), str(REPO / "sim" / "board.py"), "--flash", str(flash)],
                            env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)


def test_real_firmware_session_with_link_drops_stores_every_seq_once(tmp_path):
    assert TRACE.exists(), TRACE
    log_path = tmp_path / "board.log"

    async def go(rt):
        store = Store.open(tmp_path / "db.sqlite")
        delivered = []
        c = BoardClient()
        board = await c.connect(None, scan_timeout_s=20)
        assert board.name.startswith("repbelt-")
        assert c.mtu == 247
        dev = store.add_device(board.address, name=board.name, bonded=True)
        rec = Recorder(c, store, dev)
        inner = rec.on_events
        c.on_events = lambda recs: (delivered.extend(s for s, _ in recs), inner(recs))
        await rec.start()

        def rt_stats():
            return rt.radio.stats
        for k in (1, 2):
            assert await wait_for(lambda: rec.state.received >= 15 * k, 90), rec.state.received
            assert rt.call(rt.radio.drop_link()), (rt.radio.link_events, c.link, c.stats, log_path.read_text()[-3000:])
            assert await wait_for(lambda: rt_stats()["connects"] >= k + 1 and c.connected, 30), (k, c.link, c.stats, rt.radio.link_events)
        assert await wait_for(lambda: rec.state.received >= 45, 90)
        summary = await rec.stop()
        at_stop = list(delivered)               # what reached the recorder until it stopped
        infos = {i[0]: i for i in await c.list_sessions()}      # the board's own account of the session
        await c.close()
        evs = store.events(rec.session_id)
        store.close()
        return summary, evs, at_stop, infos[rec.board_session]

    with mock_bluez() as mb, RadioThread(lambda: BluezRadio(mb.bus_address)) as rt:
        p = _start_board(rt.air_address, tmp_path / "flash", log_path)
        try:
            summary, evs, delivered, info = asyncio.run(go(rt))
        finally:
            p.terminate()
            p.wait(10)
        rstats = dict(rt.radio.stats)
    board_out = log_path.read_text()
    assert "Traceback" not in board_out, board_out[-3000:]
    seqs = [s for s, _ in evs]
    assert summary["complete"], (summary, board_out[-2000:])
    assert summary["stats"]["drops"] == 2 and rstats["drops"] == 2 and rstats["connects"] == 3
    # every record the board logged for the session up to the stop, once; the callback saw each once
    # (the board's own session range may grow after the stop: the idle board keeps logging FIFO
    # faults into the closed session, reported to the firmware side)
    _sid, first, last, n_records, _wall = info
    assert seqs == list(range(first, seqs[-1] + 1)), (info, summary["board_last_seq"], seqs[-5:])
    assert last >= seqs[-1] >= summary["board_last_seq"]
    assert sorted(delivered) == seqs
    kinds = {ev[0] for _s, ev in evs}
    assert kinds <= set(range(1, len(N.EVENT_NAMES)))
    assert len(evs) >= 45
