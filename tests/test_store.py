"""The session store: schema migrations, idempotent inserts, derive(), crash safety, one-line errors."""
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import given, settings, strategies as hs, HealthCheck

from repbelt import cli, store as storemod
from repbelt.errors import UserError
from repbelt.store import Store

import rb_events as E
from storefixtures import (EXPECTED_HOLDS, EXPECTED_SETS, EXPECTED_WALKS, crafted_stream, derived)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "rb.db"


def test_fresh_database_has_current_schema_wal_and_full_sync(db):
    with Store.open(db) as st:
        assert st.version == storemod.SCHEMA_VERSION == 2
        assert st.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert st.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert st.conn.execute("PRAGMA application_id").fetchone()[0] == storemod.APPLICATION_ID
        tables = {r[0] for r in st.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"devices", "sessions", "events", "sets", "reps", "holds", "walks"} <= tables


def test_migration_from_v1_keeps_events_and_derives_them(db):
    st = Store.open(db, migrate=False)
    assert st.version == 0
    st.migrate(target=1)
    assert st.version == 1
    c = st.conn
    cols = [r[1] for r in c.execute("PRAGMA table_info(sessions)")]
    assert "dirty" not in cols
    c.execute("INSERT INTO devices(address, name) VALUES ('AA:BB', 'rb-1')")
    c.execute("INSERT INTO sessions(device_id, board_session, started, source) VALUES (1, 3, 1000.0, 'live')")
    c.executemany("INSERT INTO events VALUES (1,?,?,?,?,?,?,?,?,?)",
                  [(i,) + ev for i, ev in enumerate(crafted_stream())])
    st.close()

    with Store.open(db) as st:
        assert st.version == 2
        assert st.count("events") == len(crafted_stream())
        assert st.derive_dirty() == 1
        assert derived(st, 1) == (EXPECTED_SETS, EXPECTED_HOLDS, EXPECTED_WALKS)
        assert st.derive_dirty() == 0


def test_reopen_is_idempotent(db):
    Store.open(db).close()
    with Store.open(db) as st:
        assert st.version == 2
        assert st.migrate() == 2


def test_derive_crafted_stream(db):
    with Store.open(db) as st:
        dev = st.add_device("AA:BB:CC:DD:EE:FF", name="repbelt-1", bonded=True, firmware="0.1", protocol=1)
        sid = st.begin_session(device_id=dev, board_session=1, started=1000.0)
        assert st.add_events(sid, list(enumerate(crafted_stream()))) == len(crafted_stream())
        st.end_session(sid, 1200.0)
        assert derived(st, sid) == (EXPECTED_SETS, EXPECTED_HOLDS, EXPECTED_WALKS)
        s = st.session(sid)
        assert (s["n_sets"], s["n_reps"], s["n_holds"], s["hold_ms"], s["steps"]) == (2, 7, 2, 37000, 55)
        assert s["kinds"] == ["bridge", "plank", "walk", "bird_dog", "cobra"]
        assert s["duration_s"] == 200.0
        assert s["device_name"] == "repbelt-1"
        assert [t[2] for t in st.hold_ticks(sid)] == [1000, 2000, 3000, 5000]


def test_same_batch_twice_and_overlapping_replays_store_each_event_once(db):
    evs = list(enumerate(crafted_stream()))
    with Store.open(db) as st:
        dev = st.add_device("AA")
        sid = st.begin_session(device_id=dev, board_session=9)
        assert st.add_events(sid, evs[:10]) == 10
        assert st.add_events(sid, evs[:10]) == 0
        # a reconnect replays from seq 5: only the unseen tail is new
        assert st.add_events(sid, evs[5:]) == len(evs) - 10
        assert st.add_events(sid, evs) == 0
        assert st.count("events") == len(evs) == st.event_count(sid)
        assert st.last_seq(session_id=sid) == len(evs) - 1
        assert st.last_seq(device_id=dev) == len(evs) - 1
        # the same board session resumes the same stored session
        assert st.begin_session(device_id=dev, board_session=9) == sid
        assert st.begin_session(device_id=dev, board_session=10) != sid
        st.end_session(sid)
        assert derived(st, sid) == (EXPECTED_SETS, EXPECTED_HOLDS, EXPECTED_WALKS)


def test_replay_does_not_mark_session_dirty(db):
    evs = list(enumerate(crafted_stream()))
    with Store.open(db) as st:
        sid = st.begin_session(source="sync")
        st.add_events(sid, evs)
        st.end_session(sid)
        assert st.derive_dirty() == 0
        st.add_events(sid, evs)
        assert st.derive_dirty() == 0
        st.add_events(sid, [(1000, (E.EV_STEPS, 200000, 99, 100, 50000, 0, 0, 0))])
        assert st.derive_dirty() == 1


def test_bad_event_tuples_are_refused_and_nothing_of_the_batch_is_stored(db):
    with Store.open(db) as st:
        sid = st.begin_session()
        with pytest.raises(ValueError):
            st.add_events(sid, [(0, crafted_stream()[0]), (1, (E.EV_REP, 0, 1))])
        with pytest.raises(ValueError):
            st.add_events(sid, [(0, (99, 0, 0, 0, 0, 0, 0, 0))])
        assert st.count("events") == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=hs.lists(hs.integers(0, len(crafted_stream())), min_size=1, max_size=6),
       replay=hs.lists(hs.tuples(hs.integers(0, 22), hs.integers(1, 23)), max_size=4),
       shuffle_seed=hs.randoms(use_true_random=False))
def test_partial_streams_and_replays_in_any_order_converge(tmp_path_factory, cuts, replay, shuffle_seed):
    evs = list(enumerate(crafted_stream()))
    bounds = sorted(set([0, len(evs)] + cuts))
    batches = [evs[a:b] for a, b in zip(bounds, bounds[1:])] + [evs[a:a + n] for a, n in replay]
    shuffle_seed.shuffle(batches)
    path = tmp_path_factory.mktemp("conv") / "rb.db"
    with Store.open(path) as st:
        sid = st.begin_session()
        for b in batches:
            st.add_events(sid, b)
            st.derive(sid)   # a review in between must not disturb the result
        st.derive_dirty()
        assert st.count("events") == len(evs)
        assert derived(st, sid) == (EXPECTED_SETS, EXPECTED_HOLDS, EXPECTED_WALKS)


def test_stream_starting_late_still_gives_rows():
    """Closing events whose opening events were lost make rows of their own."""
    from repbelt.store import derive_events
    d = derive_events([
        (E.EV_REP, 5000, E.K_LUNGE, 4, 3, 2000, 250, E.SIDE_LEFT),
        (E.EV_SET_END, 6000, E.K_LUNGE, 3, 4, 0, 6000, 0),
        (E.EV_HOLD_TICK, 20000, E.K_PLANK, 8000, 100, 55, 0, 0),
        (E.EV_HOLD_END, 40000, E.K_PLANK, 12000, 28000, 110, 60, 2),
        (E.EV_STEPS, 90000, 300, 115, 50000, 0, 0, 0),
        (E.EV_WALK_END, 99000, 95000, 99000, 7, 100, 0, 0),
    ])
    assert [(s["kind"], s["set_no"], s["reps"], s["start_ms"], s["end_ms"], s["complete"], len(s["rep_list"]))
            for s in d["sets"]] == [(E.K_LUNGE, 3, 4, 0, 6000, True, 1)]
    assert [(h["start_ms"], h["dur_ms"], h["stability"], h["complete"]) for h in d["holds"]] == [(12000, 28000, 60, True)]
    assert [(w["start_ms"], w["steps"], w["complete"]) for w in d["walks"]] == [(50000, 300, False), (95000, 7, True)]


def test_withdrawn_hold_leaves_no_row():
    """HOLD_END with dur_ms 0: the board found the 'hold' was a set of reps after all."""
    from repbelt.store import derive_events
    d = derive_events([
        (E.EV_HOLD_START, 10000, E.K_PLANK, 10000, 0, 0, 0, 0),
        (E.EV_HOLD_TICK, 12000, E.K_PLANK, 2000, 90, 70, 1, 0),
        (E.EV_HOLD_END, 14500, E.K_PLANK, 10000, 0, 0, 0, 0),
        (E.EV_SET_START, 14500, E.K_LEG_RAISE, 1, 11000, 0, 0, 0),
        (E.EV_HOLD_START, 30000, E.K_PLANK, 30000, 0, 0, 0, 0),
        (E.EV_HOLD_END, 50000, E.K_PLANK, 30000, 20000, 100, 80, 0),
    ])
    assert [(h["start_ms"], h["dur_ms"], h["complete"]) for h in d["holds"]] == [(30000, 20000, True)]
    assert [s["kind"] for s in d["sets"]] == [E.K_LEG_RAISE]


def test_import_events_for_analyze(db):
    with Store.open(db) as st:
        sid = st.import_events(crafted_stream(), source="analyze", started=5000.0, note="trace.csv")
        s = st.session(sid)
        assert (s["source"], s["note"], s["ended"]) == ("analyze", "trace.csv", 5000.0 + 125.0)
        assert derived(st, sid) == (EXPECTED_SETS, EXPECTED_HOLDS, EXPECTED_WALKS)
        sid2 = st.import_events([(10 + i, ev) for i, ev in enumerate(crafted_stream())], source="demo")
        assert [q for q, _ in st.events(sid2)][:2] == [10, 11]


CRASH_CHILD = textwrap.dedent("""
    import sys
    from repbelt.store import Store
    import rb_events as E
    batch = int(sys.argv[2])
    st = Store.open(sys.argv[1])
    sid = st.begin_session(source="live", started=0)
    i = 0
    while True:
        st.add_events(sid, [(i * batch + j, (E.EV_STEPS, (i * batch + j) * 10, i * batch + j, 100, 0, 0, 0, 0))
                            for j in range(batch)])
        i += 1
        print(i, flush=True)
""")


@pytest.mark.parametrize("kill_after_batches", [3, 40, 150])
def test_sigkill_mid_insert_loses_at_most_the_open_batch(tmp_path, kill_after_batches):
    db = tmp_path / "crash.db"
    batch = 50
    proc = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(db), str(batch)],
                            stdout=subprocess.PIPE, text=True)
    committed = 0
    try:
        for line in proc.stdout:
            committed = int(line)
            if committed >= kill_after_batches:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert committed >= kill_after_batches
    assert (tmp_path / "crash.db-wal").exists()  # the kill left a live WAL behind, to be recovered
    with Store.open(db) as st:
        assert st.integrity() == "ok"
        n = st.count("events")
        assert n % batch == 0                    # no batch is ever half stored
        assert n >= committed * batch            # every reported commit survived
        seqs = [r[0] for r in st.conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(n))
        # the store keeps working after recovery
        st.add_events(1, [(n, (E.EV_STEPS, 0, 0, 0, 0, 0, 0, 0))])
        assert st.count("events") == n + 1


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        cli.main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def assert_one_line_error(code, out, err, *words):
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]


def test_locked_database_is_a_one_line_error(db, capsys, monkeypatch):
    monkeypatch.setenv("REPBELT_DB_TIMEOUT_S", "0.2")
    Store.open(db).close()
    holder = sqlite3.connect(str(db), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO sessions(started, source) VALUES (0, 'demo')")
    try:
        t0 = time.monotonic()
        code, out, err = run_cli(capsys, "sessions", "--db", str(db))
        assert time.monotonic() - t0 < 5
        assert_one_line_error(code, out, err, "locked", str(db), "retry")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_not_a_database_is_a_one_line_error(db, capsys):
    db.write_bytes(b"this is not sqlite at all\n" * 400)
    code, out, err = run_cli(capsys, "sessions", "--db", str(db))
    assert_one_line_error(code, out, err, "corrupt", str(db), "move it aside")


def test_malformed_database_is_a_one_line_error(db, capsys):
    with Store.open(db) as st:
        sid = st.begin_session()
        st.add_events(sid, [(i, (E.EV_STEPS, i, i, 0, 0, 0, 0, 0)) for i in range(3000)])
        st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = st.conn.execute("PRAGMA page_size").fetchone()[0]
        pages = st.conn.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 6
    raw = bytearray(db.read_bytes())
    for p in range(2, pages):          # keep the header page, wreck every other page
        raw[p * page:p * page + 64] = b"\xa5" * 64
    db.write_bytes(bytes(raw))
    code, out, err = run_cli(capsys, "sessions", "--db", str(db))
    assert_one_line_error(code, out, err, "corrupt", str(db))


def test_newer_schema_is_refused(db, capsys):
    Store.open(db).close()
    c = sqlite3.connect(str(db))
    c.execute("PRAGMA user_version=7")
    c.commit()
    c.close()
    with pytest.raises(UserError, match="schema version 7, newer"):
        Store.open(db)
    code, out, err = run_cli(capsys, "sessions", "--db", str(db))
    assert_one_line_error(code, out, err, "newer", "upgrade repbelt")


def test_foreign_sqlite_file_is_refused(db):
    c = sqlite3.connect(str(db))
    c.execute("CREATE TABLE photos(x)")
    c.commit()
    c.close()
    with pytest.raises(UserError, match="not a repbelt database"):
        Store.open(db)


def test_db_path_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("REPBELT_DB", str(tmp_path / "env.db"))
    assert storemod.resolve_path() == tmp_path / "env.db"
    assert storemod.resolve_path(str(tmp_path / "cli.db")) == tmp_path / "cli.db"
    monkeypatch.delenv("REPBELT_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert storemod.resolve_path() == tmp_path / "xdg" / "repbelt" / "repbelt.db"
    with Store.open() as st:
        assert st.path == tmp_path / "xdg" / "repbelt" / "repbelt.db"
    assert (tmp_path / "xdg" / "repbelt" / "repbelt.db").exists()


def test_unwritable_location_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create the directory"):
        Store.open(blocker / "sub" / "rb.db")
