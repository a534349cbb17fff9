"""Step-counter scenarios on synthetic pelvis bounce, run under CPython and the MicroPython unix port.

Prints one line per scenario: its name and the steps of each walk that ended
(`name 20,20`).  tests/test_steps.py runs it under both interpreters and
checks the figures; rb_steps, rb_tunables and rb_events must be importable.
"""
import math

import rb_events as E
import rb_steps
import rb_tunables

FRAME_MS = 40


def bounce(steps, end_ms):
    """Vertical specific force (mg) per 40 ms frame: 1 g plus a 200 ms raised-cosine bump of
    `mg` at each (t_ms, mg) step, like the pelvis at each heel strike."""
    out = []
    for t in range(0, end_ms, FRAME_MS):
        v = 1000.0
        for ts, mg in steps:
            if abs(t - ts) < 100:
                v += mg * 0.5 * (1 + math.cos(math.pi * (t - ts) / 100))
        out.append((t, int(v)))
    return out


def stride(t0, n, iv=550, mg=400):
    return [(t0 + i * iv, mg) for i in range(n)]


def run(samples, cancel_at=None, since=None, holes=()):
    """WALK_END events; at cancel_at the lunge detector says "stepping since `since` was
    lunges"; samples inside a (t0, t1) of `holes` are lost: the engine reports the hole,
    then fills its frames with the last reading held."""
    evs = []
    sc = rb_steps.StepCounter(rb_tunables.Tunables(), evs.append)
    said = False
    held = None
    for t, av in samples:
        hole = None
        for h in holes:
            if h[0] <= t < h[1]:
                hole = h
        if hole is None:
            held = av
            sc.feed(t, av)
        else:
            if t - FRAME_MS < hole[0]:
                sc.hole(t - FRAME_MS, hole[1])
            sc.feed(t, held, True)
        if cancel_at is not None and t >= cancel_at and not said:
            said = True
            sc.cancel(since)
    sc.finish(samples[-1][0])
    return [e for e in evs if e[0] == E.EV_WALK_END]


def holes():
    # 30 strides, 550 ms apart from 2 s: holes across the 3rd heel strike (while the walk is
    # still to be confirmed), the 11th, and the 21st and 22nd (two holes), and a short one
    # between strikes that hides none
    return run(bounce(stride(2000, 30), 25000),
               holes=[(2950, 3350), (7300, 7700), (12800, 13300), (13400, 13900), (15700, 15850)])


def plain():
    return run(bounce(stride(2000, 30), 25000))


def push_off():
    # starting to walk: a small bump as the first foot pushes off, 0.45 s before it lands
    return run(bounce([(4550, 110)] + stride(5000, 30), 28000))


def three_bumps_at_start():
    # the recording starts, then three bumps (kneeling down): the band-pass must start at
    # the first sample, or its own start looks like a step and makes these four a walk
    return run(bounce([(800, 300), (1400, 300), (2000, 300)], 8000))


def short_stop():
    # 20 strides, a 4 s stop, then three slow shuffling steps: too few to be a walk of
    # their own, but steps (real lower-back recordings count them: the wearer turns
    # round, comes back to the mark)
    last = 2000 + 19 * 550
    shuffles = [(last + 4000 + i * 800, 250) for i in range(3)]
    return run(bounce(stride(2000, 20) + shuffles, last + 15000))


def long_stop():
    first = stride(2000, 20)
    second = stride(first[-1][0] + 9000, 20)
    return run(bounce(first + second, second[-1][0] + 10000))


def lunges_after_walk():
    # a walk, and 3 s later a lunge set begins: the lunge detector's first rep says
    # "stepping since t0 was lunges" (rb_engine calls cancel(t_rep_start))
    walk = stride(2000, 20)
    t0 = walk[-1][0] + 3000
    lunge = [(t0 + i * 700, 300) for i in range(4)]
    return run(bounce(walk + lunge, t0 + 12000), lunge[-1][0] + 200, t0)


def lunges_only():
    steps = [(2000 + i * 700, 300) for i in range(6)]
    return run(bounce(steps, 12000), steps[-1][0] + 200, 1500)


SCENARIOS = (("plain", plain), ("push_off", push_off), ("three_bumps_at_start", three_bumps_at_start), ("short_stop", short_stop), ("long_stop", long_stop),
             ("lunges_after_walk", lunges_after_walk), ("lunges_only", lunges_only), ("holes", holes))

if __name__ == "__main__":
    for name, fn in SCENARIOS:
        ends = fn()
        print("%s %s %s" % (name, ",".join([str(e[4]) for e in ends]) or "-",
                            ",".join([str(e[3]) for e in ends]) or "-"))
