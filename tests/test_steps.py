"""Step counter (firmware/rb_steps.py) on bounce sequences: how a walk ends, weak bumps at a stop, lunges after a walk."""
import math

from repbelt import paths  # noqa: F401  (puts firmware/ on the path)

import rb_events as E  # noqa: E402
import rb_steps  # noqa: E402
import rb_tunables  # noqa: E402

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


def run(samples, tun=None, hook=None):
    evs = []
    sc = rb_steps.StepCounter(tun or rb_tunables.Tunables(), evs.append)
    for t, av in samples:
        sc.feed(t, av)
        if hook:
            hook(sc, t)
    sc.finish(samples[-1][0])
    return [e for e in evs if e[0] == E.EV_WALK_END]


def stride(t0, n, iv=550, mg=400):
    return [(t0 + i * iv, mg) for i in range(n)]


def test_a_plain_walk_counts_every_step():
    ends = run(bounce(stride(2000, 30), 25000))
    assert [e[4] for e in ends] == [30]


def test_a_short_stop_and_a_few_shuffles_stay_in_the_walk():
    # 20 strides, a 4 s stop, then three slow shuffling steps: too few to be a walk of
    # their own, but steps (real lower-back recordings count them: the wearer turns
    # round, comes back to the mark)
    last = 2000 + 19 * 550
    shuffles = [(last + 4000 + i * 800, 250) for i in range(3)]
    ends = run(bounce(stride(2000, 20) + shuffles, last + 15000))
    assert [e[4] for e in ends] == [23]
    assert ends[0][3] >= shuffles[-1][0]            # the walk ends after them


def test_a_long_stop_ends_the_walk():
    first = stride(2000, 20)
    second = stride(first[-1][0] + 9000, 20)
    ends = run(bounce(first + second, second[-1][0] + 10000))
    assert [e[4] for e in ends] == [20, 20]
    assert ends[0][3] < second[0][0]


def test_weak_bumps_on_the_beat_do_not_lower_the_bar():
    # After strides, bumps on the beat at 12% of a stride's peak are let in (a pivot or
    # closing step is that weak), but they must not drag the mean peak down until sway at
    # 7% passes too: shuffling to a stop counted ever weaker sway.  (The peak heights are
    # given to the detector's peak rule directly: at the end of a walk the band-pass's
    # own settling would hide bumps this small in a synthetic bounce.)
    evs = []
    sc = rb_steps.StepCounter(rb_tunables.Tunables(), evs.append)
    walk = bounce(stride(2000, 20, mg=900), 2000 + 19 * 550 + 100)
    for t, av in walk:
        sc.feed(t, av)
    assert sc.walking and sc.steps == 20
    mean = sc.peak_avg
    t = sc.last_step
    for i in range(5):
        t += 550
        sc._peak(t, mean * 12 // 100)
    assert sc.steps == 25 and sc.peak_avg == mean
    for i in range(6):
        t += 550
        sc._peak(t, mean * 7 // 100)
    assert sc.steps == 25


def test_lunges_after_a_walk_end_it_there_and_keep_its_steps():
    # a walk, and 3 s later a lunge set begins: the lunge detector's first rep says
    # "stepping since t0 was lunges" (rb_engine calls cancel(t_rep_start))
    walk = stride(2000, 20)
    t0 = walk[-1][0] + 3000
    lunge_steps = [(t0 + i * 700, 300) for i in range(4)]
    said = []

    def hook(sc, t):
        if t >= lunge_steps[-1][0] + 200 and not said:
            said.append(t)
            sc.cancel(t0)
    ends = run(bounce(walk + lunge_steps, t0 + 12000), hook=hook)
    assert [e[4] for e in ends] == [20]
    assert walk[-1][0] <= ends[0][3] <= t0


def test_lunges_that_looked_like_a_walk_are_forgotten():
    steps = [(2000 + i * 700, 300) for i in range(6)]
    said = []

    def hook(sc, t):
        if t >= steps[-1][0] + 200 and not said:
            said.append(t)
            sc.cancel(1500)
    assert run(bounce(steps, 12000), hook=hook) == []
