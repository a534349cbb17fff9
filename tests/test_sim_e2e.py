"""End to end on the virtual board: deploy over its pty, record over bleak/mock BlueZ, review; faults; the demo.

The board is the unmodified firmware deployed by `repbelt deploy`'s code to
the virtual board's flash, running on the MicroPython unix port with the
emulated MPU6050 replaying a labelled trace; the host is the real
`repbelt record` / `show` / `report` commands as a user runs them.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "host"))

from repbelt import board_deploy, paths  # noqa: E402
from repbelt.store import Store  # noqa: E402
from repbelt.virtual_board import VirtualBoard, trace_duration_s  # noqa: E402
import rb_analysis  # noqa: E402
import rb_events as E  # noqa: E402
import rb_names as N  # noqa: E402
import rb_log  # noqa: E402

REPBELT = str(Path(sys.executable).parent / "repbelt")
GENERATED = paths.CALIBRATION / "generated"
SPEED = 4
LEAD_IN_E2E_MS = 8000

pytestmark = pytest.mark.timeout(600)


def generated(name):
    p = GENERATED / (name + ".csv")
    if not p.exists():
        subprocess.run([sys.executable, str(paths.CALIBRATION / "generator.py"), "--out", str(GENERATED),
                        "--only", name, "--quiet"], check=True)
    return p


def with_standing_tail(trace, out, tail_s=20.0):
    """The trace plus tail_s of standing still: after a trace ends the emulated sensor keeps
    its last sample, so the same quiet ending is given to both the board and analyze."""
    lines = Path(trace).read_text().splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    cols = next(ln for ln in lines if not ln.startswith("#")).split(",")
    rate = int(next((ln.split("=")[1] for ln in header if ln.startswith("# rate_hz=")), "100"))
    t_end = float(lines[-1].split(",")[0])
    stand = {"ax": "1.0000", "ay": "0.0000", "az": "0.0000", "gx": "0.00", "gy": "0.00", "gz": "0.00"}
    tail = []
    for i in range(1, int(tail_s * rate) + 1):
        row = dict(stand, t="%.4f" % (t_end + i / rate))
        tail.append(",".join(row[c.strip()] for c in cols))
    Path(out).write_text("\n".join(lines + tail) + "\n")
    return Path(out)


def record_session(tmp_path, trace, **faults):
    """deploy -> play -> `repbelt record` until the trace is over; returns (db, flash, record stdout)."""
    db = tmp_path / "db.sqlite"
    dur = trace_duration_s(trace)
    with VirtualBoard(tmp_path / "vb", speed=SPEED, **faults) as vb:
        r = board_deploy.deploy(vb.port)
        assert r["check"]["sensor"] == "mpu6050"
        vb.play(trace, lead_in_ms=LEAD_IN_E2E_MS)
        remaining = (LEAD_IN_E2E_MS / 1000 + dur - vb.world_s()) / SPEED
        env = dict(os.environ, **vb.host_env)
        p = subprocess.run([REPBELT, "record", "--db", str(db), "--duration", "%.1f" % (remaining + 4)],
                           env=env, capture_output=True, text=True, timeout=remaining + 120)
        assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
        stats = vb.stats()
        flash = vb.flash_dir
    return db, flash, p.stdout, stats


def totals(events):
    """reps per kind, holds per kind, steps: what a review shows."""
    reps, holds, steps = {}, {}, 0
    for ev in events:
        if ev[0] == E.EV_REP:
            reps[N.KIND_NAMES[ev[2]]] = reps.get(N.KIND_NAMES[ev[2]], 0) + 1
        elif ev[0] == E.EV_HOLD_END:
            holds[N.KIND_NAMES[ev[2]]] = holds.get(N.KIND_NAMES[ev[2]], 0) + 1
        elif ev[0] == E.EV_WALK_END:
            steps += ev[4]
    return reps, holds, steps


def analyze_totals(trace):
    with open(trace) as f:
        an, _, _ = rb_analysis.analyze_lines(f, keep_events=True)
    return totals(an.events)


def stored(db):
    st = Store.open(db)
    try:
        out = {}
        for s in st.sessions():
            out[s["id"]] = (s["board_session"], st.events(s["id"]))
        return out
    finally:
        st.close()


def board_log(flash):
    """The board's own records per board session: {sid: [seq, ...]}."""
    log = rb_log.EventLog(str(flash / "log"))
    return {sid: [seq for seq, _ev in log.read_session(sid, 0, 100000)]
            for sid, _f, _l, _n, _w in log.sessions()}


def check_exactly_once(sessions, flash):
    on_board = board_log(flash)
    all_seqs = []
    for _sid, (board_sid, evs) in sessions.items():
        seqs = [s for s, _ in evs]
        assert len(seqs) == len(set(seqs)), "an event was stored twice"
        want = [s for s in on_board[board_sid] if s <= seqs[-1]]
        assert seqs == want, ("lost events", sorted(set(want) - set(seqs))[:10])
        all_seqs += seqs
    assert len(all_seqs) == len(set(all_seqs))
    return all_seqs


def test_deploy_record_review_equals_analyze(tmp_path):
    trace = with_standing_tail(generated("fours_default"), tmp_path / "fours.csv")
    db, flash, out, _ = record_session(tmp_path, trace)
    sess = stored(db)
    assert len(sess) == 1
    check_exactly_once(sess, flash)
    (_bsid, evs), = sess.values()
    live = totals([ev for _s, ev in evs])
    assert live == analyze_totals(trace)
    assert sum(live[0].values()) > 10          # the trace really has reps in it
    show = subprocess.run([REPBELT, "show", "last", "--db", str(db)], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200"))
    assert show.returncode == 0
    for kind in live[0]:
        assert kind in show.stdout


def test_link_drops_and_a_reset_lose_and_double_nothing(tmp_path):
    trace = generated("fours_default")
    dur = trace_duration_s(trace)
    db, flash, out, stats = record_session(tmp_path, trace, drop_link_s=20.0, reset_at_s=dur / 2)
    assert stats["resets_injected"] == 1
    assert stats["drops"] >= 3, stats
    sess = stored(db)
    seqs = check_exactly_once(sess, flash)
    assert len(seqs) > 20
    assert "drops" in out


def test_demo_as_a_user_runs_it(tmp_path):
    p = subprocess.run([REPBELT, "demo", "--dir", str(tmp_path)], capture_output=True, text=True,
                       timeout=540, env=dict(os.environ, COLUMNS="200"))
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    out = p.stdout
    for n in range(1, 6):
        assert "[%d/5]" % n in out
    assert "16 files copied" in out or "files copied" in out
    assert "connected to repbelt-" in out
    assert "demo done in" in out
    report = tmp_path / "report.html"
    assert ("HTML report: %s" % report) in out
    assert report.exists() and report.stat().st_size > 5000
    assert "<html" in report.read_text()[:2000].lower()
    sess = stored(tmp_path / "demo.sqlite")
    evs = [ev for _sid, (_b, e) in sess.items() for _s, ev in e]
    live = totals(evs)
    want = analyze_totals(paths.CALIBRATION / "generated" / "demo_workout.csv")
    # reps per kind: exactly what `repbelt analyze` counts (the board samples the trace
    # on its own clock, at another phase: test_core checks the core does not mind)
    assert live[0] == want[0]
    assert live[2] == want[2]     # steps
    # holds: the live board samples the trace on the emulated chip's own clock, so a
    # still spell at a hold's edge can split off a short extra hold; every kind is there
    assert set(want[1]) <= set(live[1])
    assert sum(live[1].values()) <= sum(want[1].values()) + 3
    assert "bridge" in out and "plank" in out and "walk" in out.lower()
