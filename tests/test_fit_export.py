"""FIT export decodes with the Garmin FIT SDK: strength-training session, one set message per set."""
import pytest
from garmin_fit_sdk import Decoder, Stream

from repbelt import cli
from repbelt.fit_export import FIT_EXERCISE
from repbelt.store import Store

import rb_events as E
from storefixtures import crafted_stream, noon


def decode(path):
    d = Decoder(Stream.from_file(str(path)))
    assert d.is_fit()
    assert d.check_integrity()
    msgs, errors = Decoder(Stream.from_file(str(path))).read()
    assert errors == []
    return msgs


@pytest.fixture
def db(tmp_path):
    db = tmp_path / "fit.db"
    with Store.open(db) as st:
        st.import_events(crafted_stream(), source="analyze", started=noon(2026, 3, 2))
        st.import_events(crafted_stream()[:6], source="demo", started=noon(2026, 3, 3))
    return db


def run(*args):
    try:
        cli.main(list(args))
    except SystemExit as exc:
        return exc.code
    return 0


def test_fit_file_decodes_with_sets_and_repetitions(db, tmp_path):
    out = tmp_path / "s1.fit"
    assert run("export", "1", "--format", "fit", "-o", str(out), "--db", str(db)) == 0
    msgs = decode(out)
    fid = msgs["file_id_mesgs"][0]
    assert fid["type"] == "activity" and fid["manufacturer"] == "development"
    assert msgs["device_info_mesgs"][0]["product_name"] == "repbelt"
    sess = msgs["session_mesgs"][0]
    assert (sess["sport"], sess["sub_sport"]) == ("training", "strength_training")
    assert sess["total_elapsed_time"] == 125.0
    assert sess["total_distance"] == pytest.approx(55 * 0.7)
    assert len(msgs["lap_mesgs"]) == 1 and len(msgs["activity_mesgs"]) == 1
    assert msgs["activity_mesgs"][0]["num_sessions"] == 1
    sets = msgs["set_mesgs"]
    active = [s for s in sets if s["set_type"] == "active"]
    rest = [s for s in sets if s["set_type"] == "rest"]
    # bridge set, plank hold, bird-dog set, cobra hold, in time order; rests between them
    assert [s["category"] for s in active] == ["hip_raise", "plank", "core", "hyperextension"]
    assert [s["category_subtype"] for s in active] == [11, 43, 48, 38]
    assert [s.get("repetitions") for s in active] == [3, None, 4, None]
    assert [s["duration"] for s in active] == [7.0, 32.0, 8.0, 5.0]
    assert [s["duration"] for s in rest] == [2.0, 48.0, 22.0]
    assert [s["message_index"] for s in sets] == list(range(len(sets)))
    assert active[0]["start_time"].timestamp() == pytest.approx(noon(2026, 3, 2) + 1.0)


def test_fit_export_all_writes_one_file_per_session(db, tmp_path):
    outdir = tmp_path / "fits"
    assert run("export", "--all", "--format", "fit", "-o", str(outdir), "--db", str(db)) == 0
    files = sorted(p.name for p in outdir.iterdir())
    assert files == ["repbelt-1.fit", "repbelt-2.fit"]
    msgs = decode(outdir / "repbelt-2.fit")
    assert [(s["set_type"], s.get("repetitions")) for s in msgs["set_mesgs"]] == [("active", 3)]


def test_every_exercise_kind_has_a_fit_category():
    from fit_tool.profile.profile_type import ExerciseCategory
    valid = {c.value for c in ExerciseCategory}
    assert set(FIT_EXERCISE) == set(E.REP_KINDS) | set(E.HOLD_KINDS)
    assert all(cat in valid for cat, _ in FIT_EXERCISE.values())
    assert FIT_EXERCISE[E.K_BRIDGE][0] == ExerciseCategory.HIP_RAISE.value
    assert FIT_EXERCISE[E.K_PLANK][0] == ExerciseCategory.PLANK.value
    assert FIT_EXERCISE[E.K_LUNGE][0] == ExerciseCategory.LUNGE.value
