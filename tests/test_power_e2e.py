"""Battery through the whole chain: the real firmware on the unix port reads its emulated ADC
(REPBELT_SIM_BATTERY_MV), and `record`'s Recorder over mock BlueZ shows the percent and the low level."""
import asyncio
import os
import subprocess

import pytest

from blehelpers import REPO, mock_bluez, wait_for

from repbelt import paths
from repbelt.ble import BoardClient
from repbelt.recorder import Recorder
from repbelt.store import Store
from sim.air import RadioThread
from sim.bluez_bridge import BluezRadio

import rb_events as E

pytestmark = pytest.mark.timeout(240)


def test_low_battery_reaches_the_live_state(tmp_path):
    log_path = tmp_path / "board.log"
    env = dict(os.environ, REPBELT_SIM_BATTERY_MV="3550", REPBELT_SIM_SPEED="4")

    async def go():
        store = Store.open(tmp_path / "db.sqlite")
        c = BoardClient()
        board = await c.connect(None, scan_timeout_s=20)
        rec = Recorder(c, store, store.add_device(board.address, name=board.name, bonded=True))
        await rec.start()
        # 3.55 V -> 8 % on the LiPo curve, below battery_low_pct 15: the status says low, EV_BATTERY too
        ok = await wait_for(lambda: rec.state.battery_pct == 8 and rec.state.battery_level == E.BAT_LOW, 60)
        got = (rec.state.battery_pct, rec.state.battery_mv, rec.state.battery_level, c.status)
        await rec.stop()
        await c.close()
        evs = [ev for _s, ev in store.events(rec.session_id) if ev[0] == E.EV_BATTERY]
        store.close()
        return ok, got, evs

    with mock_bluez() as mb, RadioThread(lambda: BluezRadio(mb.bus_address)) as rt:
        env["REPBELT_AIR"] = rt.air_address
        p = subprocess.Popen([paths.micropython_bin(), str(REPO / "sim" / "board.py"), "--flash",
                              str(tmp_path / "flash")], env=env, stdout=open(log_path, "w"),
                             stderr=subprocess.STDOUT)
        try:
            ok, got, evs = asyncio.run(go())
        finally:
            p.terminate()
            p.wait(10)
    out = log_path.read_text()
    assert "Traceback" not in out, out[-3000:]
    assert ok, (got, out[-2000:])
    assert got[3]["battery_pct"] == 8 and got[3]["battery_low"]
    assert got[1] == 3550                                  # the EV_BATTERY's mV
    assert [ev[2:5] for ev in evs] == [(8, 3550, E.BAT_LOW)]
