"""Crafted event streams with known review results, shared by the store/review/report tests."""
import datetime as dt

from repbelt import paths  # noqa: F401

import rb_events as E

L, R = E.SIDE_LEFT, E.SIDE_RIGHT


def crafted_stream():
    """One session: a full bridge set, a plank with ticks, a walk, a cut bird-dog set, a cut cobra hold."""
    return [
        (E.EV_CALIBRATED, 500, 0, 25, 0, 0, 0, 0),
        (E.EV_SET_START, 1000, E.K_BRIDGE, 1, 1000, 0, 0, 0),
        (E.EV_REP, 3000, E.K_BRIDGE, 1, 1, 2000, 300, 0),
        (E.EV_REP, 5200, E.K_BRIDGE, 2, 1, 2200, 310, 0),
        (E.EV_REP, 7600, E.K_BRIDGE, 3, 1, 2400, 320, 0),
        (E.EV_SET_END, 8000, E.K_BRIDGE, 1, 3, 1000, 8000, 0),
        (E.EV_POSTURE, 9000, E.P_PRONE, E.P_SUPINE, 0, 0, 0, 0),
        (E.EV_HOLD_START, 10000, E.K_PLANK, 10000, 0, 0, 0, 0),
        (E.EV_HOLD_TICK, 11000, E.K_PLANK, 1000, 100, 80, -5, 0),
        (E.EV_HOLD_TICK, 12000, E.K_PLANK, 2000, 110, 70, -10, 0),
        (E.EV_HOLD_TICK, 13000, E.K_PLANK, 3000, 120, 60, -12, 0),
        (E.EV_HOLD_END, 42000, E.K_PLANK, 10000, 32000, 120, 65, -15),
        (E.EV_WALK_START, 50000, 50000, 0, 0, 0, 0, 0),
        (E.EV_STEPS, 60000, 20, 110, 50000, 0, 0, 0),
        (E.EV_STEPS, 70000, 40, 112, 50000, 0, 0, 0),
        (E.EV_WALK_END, 80000, 50000, 80000, 55, 111, 0, 0),
        (E.EV_SET_START, 90000, E.K_BIRD_DOG, 2, 90000, 0, 0, 0),
        (E.EV_REP, 92000, E.K_BIRD_DOG, 1, 2, 1900, 200, L),
        (E.EV_REP, 94000, E.K_BIRD_DOG, 2, 2, 2000, 210, R),
        (E.EV_REP, 96000, E.K_BIRD_DOG, 3, 2, 2100, 220, L),
        (E.EV_REP, 98000, E.K_BIRD_DOG, 4, 2, 2200, 230, R),
        (E.EV_HOLD_START, 120000, E.K_COBRA, 120000, 0, 0, 0, 0),
        (E.EV_HOLD_TICK, 125000, E.K_COBRA, 5000, 90, 75, 3, 0),
    ]


# what derive() must make of crafted_stream()
EXPECTED_SETS = [
    # kind, set_no, start, end, reps, complete, [(rep_no, t, dur, range, side)]
    (E.K_BRIDGE, 1, 1000, 8000, 3, 1, [(1, 3000, 2000, 300, 0), (2, 5200, 2200, 310, 0), (3, 7600, 2400, 320, 0)]),
    (E.K_BIRD_DOG, 2, 90000, 98000, 4, 0, [(1, 92000, 1900, 200, L), (2, 94000, 2000, 210, R),
                                          (3, 96000, 2100, 220, L), (4, 98000, 2200, 230, R)]),
]
EXPECTED_HOLDS = [
    # kind, start, dur, sway, stability, drift, complete
    (E.K_PLANK, 10000, 32000, 120, 65, -15, 1),
    (E.K_COBRA, 120000, 5000, 90, 75, 3, 0),
]
EXPECTED_WALKS = [(50000, 80000, 55, 111, 1)]


def derived(store, sid):
    """The review rows of a session as plain tuples, comparable with EXPECTED_*."""
    sets = [(s["kind"], s["set_no"], s["start_ms"], s["end_ms"], s["reps"], s["complete"],
             [(r["rep_no"], r["t_ms"], r["dur_ms"], r["range_ddeg"], r["side"]) for r in s["rep_list"]])
            for s in store.sets(sid)]
    holds = [(h["kind"], h["start_ms"], h["dur_ms"], h["sway_dmg"], h["stability"], h["drift_ddeg"], h["complete"])
             for h in store.holds(sid)]
    walks = [(w["start_ms"], w["end_ms"], w["steps"], w["cadence_spm"], w["complete"]) for w in store.walks(sid)]
    return sets, holds, walks


def noon(y, m, d):
    """Unix time of local noon on a date (so the local day is that date in any time zone)."""
    return dt.datetime(y, m, d, 12, 0, 0).timestamp()


def rep_set(t, kind, set_no, n, sides=None, dur=2000):
    """Events of one complete set of n reps starting at t (sides: list of SIDE_* per rep)."""
    evs = [(E.EV_SET_START, t, kind, set_no, t, 0, 0, 0)]
    start = t
    for i in range(n):
        t += dur
        evs.append((E.EV_REP, t, kind, i + 1, set_no, dur, 250, sides[i] if sides else 0))
    t += 500
    evs.append((E.EV_SET_END, t, kind, set_no, n, start, t, 0))
    return evs, t + 30000


def hold(t, kind, dur_ms):
    return [(E.EV_HOLD_START, t, kind, t, 0, 0, 0, 0),
            (E.EV_HOLD_END, t + dur_ms, kind, t, dur_ms, 100, 70, 0)], t + dur_ms + 60000


def walk(t, steps):
    return [(E.EV_WALK_START, t, t, 0, 0, 0, 0, 0),
            (E.EV_WALK_END, t + 60000, t, t + 60000, steps, 110, 0, 0)], t + 70000
