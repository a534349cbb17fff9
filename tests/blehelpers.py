"""Shared rigs for the BLE tests: mock BlueZ + bridge + a board on the air socket, fresh per test."""
import asyncio
import contextlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (str(REPO), str(REPO / "host"), str(REPO / "firmware")):
    if p not in sys.path:
        sys.path.insert(0, p)

from sim.air import AirServer, DirectRadio  # noqa: E402
from sim.bluez_bridge import BluezRadio, MockBluez  # noqa: E402
from sim.fake_board import FakeBoard  # noqa: E402

BOARD_NAME = "repbelt-f00d"


@contextlib.contextmanager
def mock_bluez(**kw):
    """MockBluez with its env applied to this process (bleak reads it when it first connects)."""
    with MockBluez(**kw) as mb:
        old = {k: os.environ.get(k) for k in mb.env}
        os.environ.update(mb.env)
        try:
            yield mb
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@contextlib.asynccontextmanager
async def bleak_rig(mb, loss_p=0.0, **board_kw):
    """(radio, air, board) with the fake board advertising on hci1 of `mb`."""
    radio = BluezRadio(mb.bus_address, loss_p=loss_p, seed=7)
    await radio.start()
    air = AirServer(radio)
    await air.start()
    fb = FakeBoard(air.address, **board_kw)
    task = asyncio.ensure_future(fb.run())
    try:
        await asyncio.wait_for(radio.advertising.wait(), 10)
        yield radio, air, fb
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await air.close()
        await radio.close()


@contextlib.asynccontextmanager
async def direct_rig(loss_p=0.0, mtu=247, **board_kw):
    radio = DirectRadio(mtu=mtu, loss_p=loss_p, seed=3)
    air = AirServer(radio)
    await air.start()
    fb = FakeBoard(air.address, **board_kw)
    task = asyncio.ensure_future(fb.run())
    try:
        await radio.wait_advertising(10)
        yield radio, air, fb
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await air.close()


async def wait_for(pred, timeout_s=20.0, step_s=0.02):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not pred():
        if loop.time() > end:
            return False
        await asyncio.sleep(step_s)
    return True
