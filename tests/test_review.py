"""Review side: plan files, progress numbers on a crafted multi-day DB, show/sessions output, CSV/JSON export."""
import csv
import datetime as dt
import io
import json

import pytest

from repbelt import cli, plan as planmod, review
from repbelt.errors import UserError
from repbelt.store import Store

import rb_events as E
from storefixtures import L, R, crafted_stream, hold, noon, rep_set, walk


def run_cli(capsys, *args):
    code = 0
    try:
        cli.main(list(args))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("REPBELT_PLAN", raising=False)
    monkeypatch.delenv("REPBELT_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    return tmp_path


# -- plan --------------------------------------------------------------------

def test_seed_plan_targets(env):
    p = planmod.load_plan()
    assert p.path == str(planmod.BUILTIN_PLAN)
    kinds = [s.kind for s in p.steps]
    assert kinds == ["bridge", "leg_raise", "pelvic_tilt", "bird_dog", "lunge", "plank", "side_plank",
                     "cat_cow", "cobra", "knee_twist"]
    bridge = p.step_for("bridge")
    assert (bridge.reps, bridge.sets, bridge.is_hold, bridge.kind_code) == ((10, 12), 3, False, E.K_BRIDGE)
    assert p.step_for(E.K_LEG_RAISE).reps == (10, 15)
    assert p.step_for("pelvic_tilt").reps == (10, 12)
    assert (p.step_for("bird_dog").reps, p.step_for("bird_dog").per_side) == ((15, 20), True)
    assert (p.step_for("lunge").reps, p.step_for("lunge").per_side) == ((7, 10), True)
    plank = p.step_for("plank")
    assert (plank.hold_s, plank.rest_s, plank.is_hold) == ((30, None), (60, 120), True)
    assert plank.target_text() == "3 x >=30 s hold"
    assert p.step_for("cat_cow").reps == (10, 12)
    assert p.step_for("cobra").is_hold and p.step_for("side_plank").is_hold
    assert p.walk_km_per_day == (6.0, 8.0) and p.step_length_m == 0.7
    assert p.walk_steps_per_day() == (8571, 11429)
    seq = p.sequence()
    assert len(seq) == sum(s.sets for s in p.steps)
    assert (seq[0].step.kind, seq[0].set_no, seq[0].rest_s) == ("bridge", 1, 60)
    assert seq[-1].rest_s == 0


def test_step_meets_counts_the_weaker_side():
    p = planmod.load_plan(planmod.BUILTIN_PLAN)
    bd = p.step_for("bird_dog")
    assert bd.meets(reps=32, sides=[L, R] * 16)
    assert not bd.meets(reps=29, sides=[L] * 15 + [R] * 14)
    assert bd.meets(reps=30, sides=[0] * 30)      # sides unknown: half each
    assert not p.step_for("bridge").meets(reps=9)
    assert p.step_for("plank").meets(hold_ms=30000) and not p.step_for("plank").meets(hold_ms=29999)


@pytest.mark.parametrize("text, msg", [
    ("name='x'\n", "no \\[\\[step\\]\\]"),
    ("[[step]]\nkind='yoga'\nreps=[1,2]\n", "kind 'yoga' is not an exercise"),
    ("[[step]]\nkind='bridge'\nreps=[12,10]\n", "reps: need"),
    ("[[step]]\nkind='plank'\nreps=[1,2]\n", "a hold has hold_s"),
    ("[[step]]\nkind='bridge'\nreps=[10]\nsets=0\n", "sets must be"),
    ("[[step]\n", "not a valid plan file"),
])
def test_bad_plan_files_name_the_file_and_the_problem(tmp_path, text, msg):
    f = tmp_path / "myplan.toml"
    f.write_text(text)
    with pytest.raises(UserError, match=msg) as exc:
        planmod.load_plan(f)
    assert str(f) in str(exc.value)


def test_json_plan(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"name": "short", "walk_km_per_day": [3, 4], "step_length_m": 0.75,
                             "steps": [{"kind": "plank", "hold_s": [45], "sets": 2, "rest_s": [90]}]}))
    p = planmod.load_plan(f)
    assert (p.name, p.steps[0].hold_s, p.steps[0].rest_s, p.walk_steps_per_day()) == \
        ("short", (45, None), (90, 90), (4000, 5333))


def test_plan_commands(env, capsys, monkeypatch):
    code, out, err = run_cli(capsys, "plan", "path")
    assert code == 0 and out.strip() == str(planmod.BUILTIN_PLAN)
    code, out, err = run_cli(capsys, "plan", "show")
    assert code == 0 and "3 x 10-12 reps" in out and "6.0-8.0 km" in out and "2 x 15-20 a side" in out
    monkeypatch.setenv("EDITOR", "true")
    code, out, err = run_cli(capsys, "plan", "edit")
    user = env / "config" / "repbelt" / "plan.toml"
    assert code == 0 and user.exists() and "OK" in err
    code, out, err = run_cli(capsys, "plan", "path")
    assert out.strip() == str(user)
    user.write_text("[[step]]\nkind='bridge'\nreps=[5, 6]\nsets=1\n")
    assert planmod.load_plan().step_for("bridge").reps == (5, 6)
    user.write_text("[[step]]\nkind='bridge'\n")
    code, out, err = run_cli(capsys, "plan", "show")
    assert code == 2 and str(user) in err and "reps must be" in err and "Traceback" not in err


# -- a crafted multi-day database ---------------------------------------------

def _session(st, started, parts):
    evs = []
    for p in parts:
        evs += p
    return st.import_events(evs, source="demo", started=started)


@pytest.fixture
def multiday(env):
    path = env / "multi.db"
    with Store.open(path) as st:
        t = 1000
        b1, t = rep_set(t, E.K_BRIDGE, 1, 12)
        b2, t = rep_set(t, E.K_BRIDGE, 2, 9)
        b3, t = rep_set(t, E.K_BRIDGE, 3, 11)
        p1, t = hold(t, E.K_PLANK, 35000)
        p2, t = hold(t, E.K_PLANK, 25000)
        w, t = walk(t, 10000)
        _session(st, noon(2026, 3, 2), [b1, b2, b3, p1, p2, w])

        t = 1000
        d1, t = rep_set(t, E.K_BIRD_DOG, 1, 32, sides=[L, R] * 16)
        d2, t = rep_set(t, E.K_BIRD_DOG, 2, 29, sides=[L, R] * 14 + [L])
        w, t = walk(t, 5000)
        _session(st, noon(2026, 3, 4), [d1, d2, w])
        w, t = walk(1000, 3000)
        _session(st, noon(2026, 3, 4) + 6 * 3600, [w])

        t = 1000
        l1, t = rep_set(t, E.K_LUNGE, 1, 16, sides=[L, R] * 8)
        b1, t = rep_set(t, E.K_BRIDGE, 2, 10)
        w, t = walk(t, 12000)
        _session(st, noon(2026, 3, 10), [l1, b1, w])
    return path


def test_progress_numbers(multiday):
    p = planmod.load_plan(planmod.BUILTIN_PLAN)
    with Store.open(multiday) as st:
        prog = review.progress(st, p)
    day = dt.date
    assert [(r["date"], r["kind"], r["sets"], r["reps"], r["on_target"], r["target_sets"], r["best_hold_s"])
            for r in prog["days"]] == [
        (day(2026, 3, 2), "bridge", 3, 32, 2, 3, None),
        (day(2026, 3, 2), "plank", 2, 0, 1, 3, 35.0),
        (day(2026, 3, 4), "bird_dog", 2, 61, 1, 2, None),
        (day(2026, 3, 10), "bridge", 1, 10, 1, 3, None),
        (day(2026, 3, 10), "lunge", 1, 16, 1, 2, None),
    ]
    assert [(w["week"], w["kind"], w["days"], w["sets"], w["reps"], w["on_target"], w["planned_sets"],
             w["best_hold_s"]) for w in prog["weeks"]] == [
        ("2026-W10", "bridge", 1, 3, 32, 2, 3, None),
        ("2026-W10", "bird_dog", 1, 2, 61, 1, 2, None),
        ("2026-W10", "plank", 1, 2, 0, 1, 3, 35.0),
        ("2026-W11", "bridge", 1, 1, 10, 1, 3, None),
        ("2026-W11", "lunge", 1, 1, 16, 1, 2, None),
    ]
    assert [(r["date"], r["steps"], r["km"], r["status"]) for r in prog["steps"]] == [
        (day(2026, 3, 2), 10000, 7.0, "ok"),
        (day(2026, 3, 4), 8000, 5.6, "below"),
        (day(2026, 3, 10), 12000, 8.4, "above"),
    ]
    assert prog["steps_target"] == (8571, 11429)


def test_progress_window_and_step_length(multiday):
    p = planmod.load_plan(planmod.BUILTIN_PLAN)
    with Store.open(multiday) as st:
        prog = review.progress(st, p, step_length_m=0.8, days=7, today=dt.date(2026, 3, 10))
    assert {r["date"] for r in prog["days"]} == {dt.date(2026, 3, 4), dt.date(2026, 3, 10)}
    assert [(r["steps"], r["km"], r["status"]) for r in prog["steps"]] == [(8000, 6.4, "ok"), (12000, 9.6, "above")]
    assert prog["steps_target"] == (7500, 10000)


def test_progress_command(multiday, capsys):
    code, out, err = run_cli(capsys, "progress", "--db", str(multiday), "--days", "0")
    assert code == 0, err
    assert "2026-W10" in out and "2026-W11" in out
    assert "2/3" in out and "best 35 s" in out
    assert "5.60" in out and "below" in out and "8.40" in out and "above" in out
    assert "8571-11429 steps" in out


def test_sessions_and_show(env, capsys):
    db = env / "one.db"
    with Store.open(db) as st:
        dev = st.add_device("AA:BB", name="repbelt-7")
        sid = st.begin_session(device_id=dev, board_session=1, started=noon(2026, 3, 2))
        st.add_events(sid, list(enumerate(crafted_stream())))
        st.end_session(sid, noon(2026, 3, 2) + 200)
    code, out, err = run_cli(capsys, "sessions", "--db", str(db))
    assert code == 0, err
    assert "2026-03-02 12:00" in out and "3:20" in out and "bridge" in out
    row = [ln for ln in out.splitlines() if "2026-03-02" in ln][0]
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[0] == "1" and cells[-3:] == ["7", "2", "55"]
    code, out, err = run_cli(capsys, "show", "1", "--db", str(db), "--step-length", "0.8", "--reps")
    assert code == 0, err
    assert "repbelt-7" in out
    assert "bridge" in out and "2.20" in out and "31.0" in out            # mean tempo 2.2 s, range 31 deg
    assert "bird_dog" in out and "left 2 right 2" in out and "(cut)" in out
    assert "plank" in out and "32" in out and "12.0" in out and "-1.5" in out and ">=30 s" in out
    assert "55" in out and "44" in out and "0.80 m a step" in out      # 55 steps x 0.8 m
    code, out, err = run_cli(capsys, "show", "9", "--db", str(db))
    assert code == 2 and "no session 9" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(capsys, "show", "abc", "--db", str(db))
    assert code == 2 and "number or `last`" in err


def test_empty_database_commands(env, capsys):
    db = env / "empty.db"
    code, out, err = run_cli(capsys, "sessions", "--db", str(db))
    assert code == 0 and "no sessions stored yet" in out
    code, out, err = run_cli(capsys, "show", "--db", str(db))
    assert code == 2 and "record one" in err
    code, out, err = run_cli(capsys, "progress", "--db", str(db))
    assert code == 0 and "no exercise" in out


# -- export ------------------------------------------------------------------

@pytest.fixture
def one(env):
    db = env / "one.db"
    with Store.open(db) as st:
        st.import_events(crafted_stream(), source="analyze", started=noon(2026, 3, 2), note="t.csv")
        st.import_events(crafted_stream()[:6], source="demo", started=noon(2026, 3, 3))
    return db


def test_export_csv(one, env, capsys):
    out_csv = env / "s.csv"
    code, out, err = run_cli(capsys, "export", "1", "--format", "csv", "-o", str(out_csv), "--db", str(one))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [r["record"] for r in rows].count("set") == 2
    assert [r["record"] for r in rows].count("rep") == 7
    assert [r["record"] for r in rows].count("hold") == 2
    assert [r["record"] for r in rows].count("walk") == 1
    s1 = [r for r in rows if r["record"] == "set"][0]
    assert (s1["kind"], s1["reps"], s1["duration_s"], s1["tempo_s"], s1["complete"]) == ("bridge", "3", "7.0", "2.2", "1")
    reps = [r for r in rows if r["record"] == "rep"]
    assert [r["tempo_s"] for r in reps[:3]] == ["2.0", "2.2", "2.4"]
    assert [r["range_deg"] for r in reps[:3]] == ["30.0", "31.0", "32.0"]
    assert [r["side"] for r in reps[3:]] == ["left", "right", "left", "right"]
    h = [r for r in rows if r["record"] == "hold"][0]
    assert (h["kind"], h["duration_s"], h["sway_mg"], h["stability"], h["drift_deg"]) == ("plank", "32.0", "12.0", "65", "-1.5")
    w = [r for r in rows if r["record"] == "walk"][0]
    assert (w["steps"], w["cadence_spm"], w["distance_m"]) == ("55", "111", "38.5")
    assert {r["session"] for r in rows} == {"1"}


def test_export_json_one_and_all(one, env, capsys):
    code, out, err = run_cli(capsys, "export", "1", "--format", "json", "-o", "-", "--db", str(one))
    assert code == 0, err
    d = json.loads(out)
    assert d["format"] == "repbelt-export/1" and len(d["sessions"]) == 1
    s = d["sessions"][0]
    assert s["session"]["source"] == "analyze" and s["session"]["note"] == "t.csv"
    assert [x["reps"] for x in s["sets"]] == [3, 4]
    assert [r["tempo_s"] for r in s["sets"][0]["rep_list"]] == [2.0, 2.2, 2.4]
    assert [(h["kind"], h["duration_s"], h["stability"], h["complete"]) for h in s["holds"]] == \
        [("plank", 32.0, 65, True), ("cobra", 5.0, 75, False)]
    assert s["walks"][0]["distance_m"] == 38.5
    assert s["session"]["started"].startswith("2026-03-02T12:00:00")
    all_json = env / "all.json"
    code, out, err = run_cli(capsys, "export", "--all", "--format", "json", "-o", str(all_json), "--db", str(one))
    d = json.loads(all_json.read_text())
    assert [x["session"]["id"] for x in d["sessions"]] == [1, 2]
    assert [len(x["sets"]) for x in d["sessions"]] == [2, 1]


def test_export_errors_are_one_line(one, env, capsys):
    code, out, err = run_cli(capsys, "export", "--format", "csv", "-o", "x.csv", "--db", str(one))
    assert code == 2 and "one session id or --all" in err
    code, out, err = run_cli(capsys, "export", "1", "--format", "csv", "-o", str(env / "nodir" / "x.csv"),
                             "--db", str(one))
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
