"""Benchmark: how many events per second the recorder stores, over bleak + mock BlueZ and over the direct radio.

    .venv/bin/python -m repbelt.bench_ble [--events N]

Runs from the repository (needs sim/). The board is sim/fake_board.py
sending as fast as the link takes (real rb_protocol packing at MTU 247); the
figure is end to end: board notify -> air -> bridge -> bluezoo -> bleak ->
BoardClient (dedupe, gap tracking) -> Recorder -> SQLite (WAL, batch
commits). Also prints the store alone at a few batch sizes, and the
real workload for comparison (a board emits a few events per second).
"""
import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from . import paths

sys.path.insert(0, str(paths.REPO))

REAL_EVENTS_PER_S = 3.0   # a busy workout: reps, hold ticks, steps


async def _session(client_factory, rig, n, db):
    from .recorder import Recorder
    from .store import Store
    store = Store.open(db)
    async with rig as (radio, air, fb):
        c = client_factory(radio)
        board = await c.connect(fb.name)
        rec = Recorder(c, store, store.add_device(board.address, name=board.name))
        t0 = time.perf_counter()
        await rec.start()
        while rec.state.stored < n:
            await asyncio.sleep(0.01)
        dt = time.perf_counter() - t0
        await rec.stop()
        await c.close()
        stored = len(store.events(rec.session_id))
        out = {"events": stored, "seconds": dt, "per_s": n / dt, "batches": rec.batches,
               "store_s": rec.store_s, "duplicates": c.stats["duplicates"]}
    store.close()
    return out


def bench_bleak(n, tmp):
    from sim.air import AirServer
    from sim.bluez_bridge import BluezRadio, MockBluez
    from sim.fake_board import FakeBoard
    from .ble import BoardClient
    import contextlib

    @contextlib.asynccontextmanager
    async def rig(mb):
        radio = BluezRadio(mb.bus_address)
        await radio.start()
        air = AirServer(radio)
        await air.start()
        fb = FakeBoard(air.address, events_per_session=n, rate_hz=0, burst=16)
        task = asyncio.ensure_future(fb.run())
        await asyncio.wait_for(radio.advertising.wait(), 10)
        try:
            yield radio, air, fb
        finally:
            task.cancel()
            await air.close()
            await radio.close()

    with MockBluez() as mb:
        os.environ.update(mb.env)
        return asyncio.run(_session(lambda radio: BoardClient(), rig(mb), n, Path(tmp) / "bleak.db"))


def bench_direct(n, tmp):
    from sim.air import AirServer, DirectRadio
    from sim.fake_board import FakeBoard
    from .ble import BoardClient, DirectBackend
    import contextlib

    @contextlib.asynccontextmanager
    async def rig():
        radio = DirectRadio()
        air = AirServer(radio)
        await air.start()
        fb = FakeBoard(air.address, events_per_session=n, rate_hz=0, burst=16)
        task = asyncio.ensure_future(fb.run())
        await radio.wait_advertising(10)
        try:
            yield radio, air, fb
        finally:
            task.cancel()
            await air.close()

    return asyncio.run(_session(lambda radio: BoardClient(backend=DirectBackend(radio)), rig(), n,
                                Path(tmp) / "direct.db"))


def bench_store(n, tmp, batch):
    from .store import Store
    import rb_events as E
    st = Store.open(Path(tmp) / ("store%d.db" % batch))
    sid = st.begin_session()
    ev = (E.EV_REP, 1000, E.K_BRIDGE, 1, 1, 2000, 300, 0)
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        st.add_events(sid, [(s, ev) for s in range(i, min(n, i + batch))])
    dt = time.perf_counter() - t0
    st.close()
    return n / dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("bleak over mock BlueZ", bench_bleak), ("direct radio", bench_direct)):
            r = fn(a.events, tmp)
            print("%-22s %6d events in %5.2f s = %7.0f events/s stored  (%d batch commits, %.0f%% of the time "
                  "in SQLite, %d duplicates)" % (name, r["events"], r["seconds"], r["per_s"], r["batches"],
                                                 100 * r["store_s"] / r["seconds"], r["duplicates"]))
        for batch in (1, 100, 1000):
            print("%-22s %7.0f events/s (batch of %d per commit, synchronous=FULL)"
                  % ("store alone", bench_store(min(a.events, 2000 if batch == 1 else a.events), tmp, batch), batch))
    print("a board emits about %.0f events/s in a busy workout" % REAL_EVENTS_PER_S)


if __name__ == "__main__":
    main()
