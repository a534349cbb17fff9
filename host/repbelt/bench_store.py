"""Benchmark of the store and the report: a year of daily sessions, stored the way the recorder stores them.

    python -m repbelt.bench_store [--days 365] [--batch 20] [--db PATH]

Prints events/s stored (one transaction per batch, as `record` does), derive
time, and the time `repbelt report` takes for the whole year. The sessions
are synthetic event streams shaped like the seed plan (sets of reps, holds
with a tick a second, a walk with step updates), so it also fills a demo DB.
"""
import argparse
import os
import random
import sys
import tempfile
import time

from . import paths  # noqa: F401  (puts firmware/ on sys.path)

import rb_events as E

HOLD_TICK_MS = 1000
STEPS_EVERY_MS = 10000


def session_events(rng, walk_min=60):
    """One synthetic workout: the seed plan's sets and holds, then a walk. Event tuples in emission order."""
    evs = []
    t = 5000
    set_no = 0
    plan = [(E.K_BRIDGE, 3, 11), (E.K_LEG_RAISE, 3, 12), (E.K_PELVIC_TILT, 2, 11), (E.K_BIRD_DOG, 2, 34),
            (E.K_LUNGE, 2, 16), (E.K_PLANK, 3, 0), (E.K_SIDE_PLANK, 2, 0), (E.K_CAT_COW, 2, 11),
            (E.K_COBRA, 2, 0), (E.K_KNEE_TWIST, 2, 22)]
    for kind, sets, reps in plan:
        for _ in range(sets):
            if reps:
                set_no += 1
                start = t
                evs.append((E.EV_SET_START, t, kind, set_no, start, 0, 0, 0))
                n = max(1, reps + rng.randint(-2, 1))
                for r in range(1, n + 1):
                    dur = rng.randint(1800, 3200)
                    t += dur
                    side = (E.SIDE_LEFT if r % 2 else E.SIDE_RIGHT) if kind in (E.K_BIRD_DOG, E.K_LUNGE,
                                                                               E.K_KNEE_TWIST) else E.SIDE_NONE
                    evs.append((E.EV_REP, t, kind, r, set_no, dur, rng.randint(150, 450), side))
                t += 800
                evs.append((E.EV_SET_END, t, kind, set_no, n, start, t, 0))
            else:
                start = t
                evs.append((E.EV_HOLD_START, t, kind, start, 0, 0, 0, 0))
                dur = rng.randint(22000, 45000)
                stab = rng.randint(60, 95)
                for el in range(HOLD_TICK_MS, dur, HOLD_TICK_MS):
                    stab = max(0, min(100, stab + rng.randint(-3, 2)))
                    evs.append((E.EV_HOLD_TICK, start + el, kind, el, rng.randint(50, 300), stab,
                                rng.randint(-30, 30), 0))
                t = start + dur
                evs.append((E.EV_HOLD_END, t, kind, start, dur, rng.randint(50, 300), stab, rng.randint(-30, 30)))
            t += rng.randint(40000, 90000)
    start = t
    evs.append((E.EV_WALK_START, t, start, 0, 0, 0, 0, 0))
    cadence = rng.randint(100, 120)
    steps = 0
    for el in range(STEPS_EVERY_MS, walk_min * 60000, STEPS_EVERY_MS):
        steps = el * cadence // 60000
        evs.append((E.EV_STEPS, start + el, steps, cadence, start, 0, 0, 0))
    t = start + walk_min * 60000
    steps = walk_min * cadence
    evs.append((E.EV_WALK_END, t, start, t, steps, cadence, 0, 0))
    return evs


def fill(store, days, batch, seed=1, end_day=None):
    """Store `days` daily sessions ending today; returns (events stored, seconds spent storing)."""
    rng = random.Random(seed)
    dev = store.add_device("02:00:00:00:be:ac", name="repbelt-bench", bonded=True, firmware="bench", protocol=1)
    end_day = end_day or time.time()
    n = 0
    spent = 0.0
    seq = 0
    for d in range(days):
        started = end_day - (days - d) * 86400.0
        evs = session_events(rng, walk_min=rng.randint(40, 90))
        sid = store.begin_session(device_id=dev, board_session=d + 1, started=started, source="demo")
        t0 = time.perf_counter()
        for i in range(0, len(evs), batch):
            items = [(seq + i + j, ev) for j, ev in enumerate(evs[i:i + batch])]
            store.add_events(sid, items)
        spent += time.perf_counter() - t0
        seq += len(evs)
        n += len(evs)
        store.conn.execute("UPDATE sessions SET ended=? WHERE id=?", (started + evs[-1][1] / 1000.0, sid))
    return n, spent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--batch", type=int, default=20, help="events per transaction (the recorder's batch)")
    ap.add_argument("--db", default=None, help="database to fill (default: a temporary file)")
    args = ap.parse_args(argv)
    from . import plan, report
    from .store import Store
    tmp = None
    path = args.db
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = os.path.join(tmp.name, "bench.db")
    st = Store.open(path)
    n, spent = fill(st, args.days, args.batch)
    print("stored %d events in %d sessions: %.0f events/s (batches of %d, one commit each, synchronous=FULL)"
          % (n, args.days, n / spent, args.batch))
    t0 = time.perf_counter()
    st.derive_dirty()
    print("derive of %d sessions: %.2f s" % (args.days, time.perf_counter() - t0))
    p = plan.load_plan(plan.BUILTIN_PLAN)
    t0 = time.perf_counter()
    page = report.build_report(st, p)
    dt_s = time.perf_counter() - t0
    print("report for %d days: %.2f s, %d KB of HTML" % (args.days, dt_s, len(page) // 1024))
    print("database: %.1f MB" % (os.path.getsize(path) / 1e6))
    st.close()
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
