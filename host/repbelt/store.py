"""The session store: one SQLite file holding devices, sessions, the raw event stream and tables derived from it.

The raw event stream is the truth. Events are keyed on (session, seq), where a
session is one (device, board session id) pair, so inserting the same events
twice (a replay after a reconnect, a sync of what the live view already got)
changes nothing. The review tables (sets, reps, holds, walks) are rebuilt from
the events by `derive()`, deterministically, so any order of partial
streams and replays converges on the same rows.

Durability: WAL journal, `synchronous=FULL`, one transaction per batch of
events. A kill at any moment loses at most the batch being written and never
corrupts the file.

    st = Store.open(path_or_None)      # None: --db / $REPBELT_DB / user data dir
    dev = st.add_device("AA:BB:..", name="repbelt-1a2b", bonded=True, firmware="0.1.0", protocol=1)
    sid = st.begin_session(device_id=dev, board_session=7, started=time.time(), source="live")
    st.add_events(sid, [(seq, (type, t_ms, a, b, c, d, e, f)), ...])   # one batch, one commit
    st.end_session(sid)                # sets the end time and derives the review tables
"""
import functools
import os
import sqlite3
import time
from pathlib import Path

from . import paths  # noqa: F401  (puts firmware/ on sys.path)
from .errors import UserError

import rb_events as E

import rb_names as N

DB_ENV = "REPBELT_DB"
TIMEOUT_ENV = "REPBELT_DB_TIMEOUT_S"
LOCK_TIMEOUT_S = 5.0
DB_FILENAME = "repbelt.db"
APPLICATION_ID = 0x52424C54  # "RBLT": tells a repbelt database from any other SQLite file
SOURCES = ("live", "sync", "analyze", "demo")

# Each entry moves the schema from version i to i+1; never edit a released entry, append a new one.
MIGRATIONS = [
    # v1: devices, sessions, raw events
    """
    CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        name TEXT,
        bonded INTEGER NOT NULL DEFAULT 0,
        firmware_version TEXT,
        protocol_version INTEGER,
        last_seen REAL
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        device_id INTEGER REFERENCES devices(id),
        board_session INTEGER,
        started REAL NOT NULL,
        ended REAL,
        source TEXT NOT NULL,
        note TEXT,
        UNIQUE (device_id, board_session)
    );
    CREATE TABLE events (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        seq INTEGER NOT NULL,
        type INTEGER NOT NULL,
        t_ms INTEGER NOT NULL,
        a INTEGER NOT NULL, b INTEGER NOT NULL, c INTEGER NOT NULL,
        d INTEGER NOT NULL, e INTEGER NOT NULL, f INTEGER NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;
    """,
    # v2: review tables derived from the events, and a dirty flag saying they are stale
    """
    ALTER TABLE sessions ADD COLUMN dirty INTEGER NOT NULL DEFAULT 1;
    UPDATE sessions SET dirty = 1;
    CREATE TABLE sets (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        set_no INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        reps INTEGER NOT NULL,
        complete INTEGER NOT NULL
    );
    CREATE INDEX sets_session ON sets(session_id);
    CREATE TABLE reps (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        set_id INTEGER NOT NULL REFERENCES sets(id),
        rep_no INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        t_ms INTEGER NOT NULL,
        dur_ms INTEGER NOT NULL,
        range_ddeg INTEGER NOT NULL,
        side INTEGER NOT NULL
    );
    CREATE INDEX reps_session ON reps(session_id);
    CREATE TABLE holds (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        kind INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        dur_ms INTEGER NOT NULL,
        sway_dmg INTEGER NOT NULL,
        stability INTEGER NOT NULL,
        drift_ddeg INTEGER NOT NULL,
        complete INTEGER NOT NULL
    );
    CREATE INDEX holds_session ON holds(session_id);
    CREATE TABLE walks (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        cadence_spm INTEGER NOT NULL,
        complete INTEGER NOT NULL
    );
    CREATE INDEX walks_session ON walks(session_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_path():
    """The database in the user's data directory."""
    from platformdirs import user_data_dir
    return Path(user_data_dir("repbelt")) / DB_FILENAME


def resolve_path(explicit=None):
    """--db beats $REPBELT_DB beats the user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return default_path()


def db_option(f):
    """The `--db PATH` option every command touching the store takes."""
    import click
    return click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                        help="session database (default: $REPBELT_DB or the user data dir)")(f)


def _timeout_s():
    try:
        return float(os.environ.get(TIMEOUT_ENV, LOCK_TIMEOUT_S))
    except ValueError:
        return LOCK_TIMEOUT_S


def _translate(path, exc):
    """One-line user errors for what SQLite says about the file."""
    msg = str(exc).lower()
    if "locked" in msg or "busy" in msg:
        return UserError("database %s is locked by another program (a running `repbelt record`?): "
                         "wait for it to finish or stop it, then retry" % path)
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return UserError("database %s is corrupt (%s): move it aside (mv '%s' '%s.bad') "
                         "and run again to start a new one" % (path, exc, path, path))
    if "readonly" in msg or "unable to open" in msg or "disk i/o" in msg:
        return UserError("cannot write database %s (%s): check the directory's permissions "
                         "and free space, or pick another file with --db" % (path, exc))
    if "full" in msg:
        return UserError("disk full writing %s: free some space and retry" % path)
    return UserError("database %s: %s" % (path, exc))


def _guarded(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:  # OperationalError is a subclass
            if self.conn.in_transaction:
                try:
                    self.conn.rollback()
                except sqlite3.Error:
                    pass
            raise _translate(self.path, exc) from None
    return wrapper


def _check_event(ev):
    if len(ev) != 8:
        raise ValueError("event tuple must have 8 fields, got %r" % (ev,))
    for v in ev:
        if not isinstance(v, int):
            raise ValueError("event fields must be ints, got %r" % (ev,))
    if not 0 < ev[0] < len(N.EVENT_NAMES):
        raise ValueError("unknown event type in %r" % (ev,))


class Store:
    """An open session database. Use `Store.open(path)`; also a context manager."""

    def __init__(self, conn, path):
        self.conn = conn
        self.path = path

    # -- opening and schema ---------------------------------------------------

    @classmethod
    def open(cls, path=None, migrate=True):
        """Open (creating and migrating as needed) the database; UserError on any problem with the file."""
        path = resolve_path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError("cannot create the directory for database %s (%s): pick another file "
                            "with --db or $%s" % (path, exc.strerror or exc, DB_ENV)) from None
        if path.is_dir():
            raise UserError("database path %s is a directory: give a file name with --db" % path)
        try:
            # autocommit mode: transactions are explicit, so a batch is exactly one commit
            conn = sqlite3.connect(str(path), timeout=_timeout_s(), isolation_level=None)
        except sqlite3.Error as exc:
            raise _translate(path, exc) from None
        st = cls(conn, path)
        try:
            st._setup(migrate)
        except BaseException:
            conn.close()
            raise
        return st

    @_guarded
    def _setup(self, migrate):
        c = self.conn
        version = c.execute("PRAGMA user_version").fetchone()[0]
        app_id = c.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in (0, APPLICATION_ID) or (
                app_id == 0 and version == 0 and
                c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]):
            raise UserError("%s is an SQLite file but not a repbelt database: pick another file "
                            "with --db" % self.path)
        if version > SCHEMA_VERSION:
            raise UserError("database %s has schema version %d, newer than this repbelt knows (%d): "
                            "upgrade repbelt, or use --db for a separate file"
                            % (self.path, version, SCHEMA_VERSION))
        if c.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise UserError("database %s cannot use WAL journaling (network file system?): "
                            "put it on a local disk with --db" % self.path)
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA foreign_keys=ON")
        if migrate:
            self.migrate()

    @_guarded
    def migrate(self, target=SCHEMA_VERSION):
        """Apply the migrations from the file's version up to `target`, each in its own transaction."""
        c = self.conn
        while True:
            c.execute("BEGIN IMMEDIATE")
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version >= target:
                c.execute("COMMIT")
                return version
            for stmt in MIGRATIONS[version].split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute("PRAGMA application_id=%d" % APPLICATION_ID)
            c.execute("PRAGMA user_version=%d" % (version + 1))
            c.execute("COMMIT")

    @property
    def version(self):
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing --------------------------------------------------------------

    @_guarded
    def add_device(self, address, name=None, bonded=None, firmware=None, protocol=None, seen=None):
        """Insert or update a board by address; None leaves a field as it was. Returns the device id."""
        seen = time.time() if seen is None else seen
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO devices(address) VALUES (?) ON CONFLICT(address) DO NOTHING", (address,))
        c.execute("""UPDATE devices SET name=coalesce(?, name), bonded=coalesce(?, bonded),
                     firmware_version=coalesce(?, firmware_version),
                     protocol_version=coalesce(?, protocol_version), last_seen=? WHERE address=?""",
                  (name, None if bonded is None else int(bool(bonded)), firmware, protocol, seen, address))
        dev = c.execute("SELECT id FROM devices WHERE address=?", (address,)).fetchone()[0]
        c.execute("COMMIT")
        return dev

    @_guarded
    def device(self, address=None, device_id=None):
        """A device as a dict (by address or id), or None."""
        cur = self.conn.execute(
            "SELECT id, address, name, bonded, firmware_version, protocol_version, last_seen FROM devices "
            "WHERE address=? OR id=?", (address, device_id))
        row = cur.fetchone()
        return None if row is None else dict(zip((d[0] for d in cur.description), row))

    @_guarded
    def devices(self):
        cur = self.conn.execute("SELECT id, address, name, bonded, firmware_version, protocol_version, "
                                "last_seen FROM devices ORDER BY last_seen DESC")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    @_guarded
    def begin_session(self, device_id=None, board_session=None, started=None, source="live", note=None):
        """Start (or, for a known device + board session, resume) a session; returns its id.

        `started` is the wall-clock time (unix seconds) at board time t_ms = 0.
        Resuming keeps the first start time, so a reconnect or a later sync
        lands in the same session and its replayed events are ignored.
        """
        if source not in SOURCES:
            raise ValueError("source must be one of %s" % (SOURCES,))
        started = time.time() if started is None else float(started)
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        if device_id is not None and board_session is not None:
            row = c.execute("SELECT id FROM sessions WHERE device_id=? AND board_session=?",
                            (device_id, board_session)).fetchone()
            if row:
                c.execute("COMMIT")
                return row[0]
        cur = c.execute("INSERT INTO sessions(device_id, board_session, started, source, note) "
                        "VALUES (?,?,?,?,?)", (device_id, board_session, started, source, note))
        c.execute("COMMIT")
        return cur.lastrowid

    @_guarded
    def find_session(self, device_id, board_session):
        row = self.conn.execute("SELECT id FROM sessions WHERE device_id=? AND board_session=?",
                                (device_id, board_session)).fetchone()
        return row[0] if row else None

    @_guarded
    def add_events(self, session_id, items):
        """Store one batch [(seq, (type, t_ms, a, b, c, d, e, f)), ...] in one transaction.

        Returns how many were new; events already stored (same session and
        seq) are ignored, so replays are harmless.
        """
        rows = []
        for seq, ev in items:
            ev = tuple(ev)
            _check_event(ev)
            rows.append((session_id, int(seq)) + ev)
        if not rows:
            return 0
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        before = c.total_changes
        c.executemany("INSERT OR IGNORE INTO events(session_id, seq, type, t_ms, a, b, c, d, e, f) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        new = c.total_changes - before
        if new:
            c.execute("UPDATE sessions SET dirty=1 WHERE id=?", (session_id,))
        c.execute("COMMIT")
        return new

    @_guarded
    def end_session(self, session_id, ended=None):
        """Record the end time (default now) and rebuild the review tables."""
        ended = time.time() if ended is None else float(ended)
        self.conn.execute("UPDATE sessions SET ended=? WHERE id=?", (ended, session_id))
        self.derive(session_id)

    @_guarded
    def last_seq(self, session_id=None, device_id=None):
        """Highest stored seq of a session or of a device (any session), or None: where a replay resumes."""
        if session_id is not None:
            row = self.conn.execute("SELECT max(seq) FROM events WHERE session_id=?", (session_id,)).fetchone()
        else:
            row = self.conn.execute("SELECT max(e.seq) FROM events e JOIN sessions s ON s.id=e.session_id "
                                    "WHERE s.device_id=?", (device_id,)).fetchone()
        return row[0]

    def import_events(self, events, source="analyze", started=None, note=None, device_id=None,
                      board_session=None, ended=None):
        """Store a whole event list (e.g. `repbelt analyze TRACE --save`) as one session; returns its id.

        `events` are event tuples (seq = position in the list) or (seq, tuple)
        pairs. The session ends at `ended` (default: start + last event time).
        """
        items = []
        for i, ev in enumerate(events):
            if len(ev) == 2:
                items.append((ev[0], tuple(ev[1])))
            else:
                items.append((i, tuple(ev)))
        started = time.time() if started is None else float(started)
        sid = self.begin_session(device_id=device_id, board_session=board_session, started=started,
                                 source=source, note=note)
        for i in range(0, len(items), 1000):
            self.add_events(sid, items[i:i + 1000])
        if ended is None:
            last_ms = max((ev[1] for _, ev in items), default=0)
            ended = started + last_ms / 1000.0
        self.end_session(sid, ended)
        return sid

    # -- derived tables -------------------------------------------------------

    @_guarded
    def derive(self, session_id):
        """Rebuild sets, reps, holds and walks of a session from its events (deterministic)."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        evs = c.execute("SELECT type, t_ms, a, b, c, d, e, f FROM events WHERE session_id=? ORDER BY seq",
                        (session_id,)).fetchall()
        d = derive_events(evs)
        for table in ("reps", "sets", "holds", "walks"):
            c.execute("DELETE FROM %s WHERE session_id=?" % table, (session_id,))
        for s in d["sets"]:
            cur = c.execute("INSERT INTO sets(session_id, set_no, kind, start_ms, end_ms, reps, complete) "
                            "VALUES (?,?,?,?,?,?,?)", (session_id, s["set_no"], s["kind"], s["start_ms"],
                                                       s["end_ms"], s["reps"], int(s["complete"])))
            set_id = cur.lastrowid
            c.executemany("INSERT INTO reps(session_id, set_id, rep_no, kind, t_ms, dur_ms, range_ddeg, side) "
                          "VALUES (?,?,?,?,?,?,?,?)",
                          [(session_id, set_id, r["rep_no"], r["kind"], r["t_ms"], r["dur_ms"],
                            r["range_ddeg"], r["side"]) for r in s["rep_list"]])
        c.executemany("INSERT INTO holds(session_id, kind, start_ms, dur_ms, sway_dmg, stability, drift_ddeg, "
                      "complete) VALUES (?,?,?,?,?,?,?,?)",
                      [(session_id, h["kind"], h["start_ms"], h["dur_ms"], h["sway_dmg"], h["stability"],
                        h["drift_ddeg"], int(h["complete"])) for h in d["holds"]])
        c.executemany("INSERT INTO walks(session_id, start_ms, end_ms, steps, cadence_spm, complete) "
                      "VALUES (?,?,?,?,?,?)",
                      [(session_id, w["start_ms"], w["end_ms"], w["steps"], w["cadence_spm"],
                        int(w["complete"])) for w in d["walks"]])
        c.execute("UPDATE sessions SET dirty=0 WHERE id=?", (session_id,))
        c.execute("COMMIT")

    @_guarded
    def derive_dirty(self):
        """Derive every session whose events changed since it was last derived (after a crash, a sync...)."""
        ids = [r[0] for r in self.conn.execute("SELECT id FROM sessions WHERE dirty=1 ORDER BY id")]
        for sid in ids:
            self.derive(sid)
        return len(ids)

    # -- review queries -------------------------------------------------------

    def _dicts(self, sql, args=()):
        cur = self.conn.execute(sql, args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    @_guarded
    def sessions(self, session_id=None):
        """Session summaries (newest first): times, source, device, reps, sets, holds, steps, kinds."""
        where = "WHERE s.id=?" if session_id is not None else ""
        rows = self._dicts("""
            SELECT s.id, s.device_id, dv.name AS device_name, dv.address AS device_address, s.board_session,
                   s.started, s.ended, s.source, s.note,
                   (SELECT max(t_ms) FROM events e WHERE e.session_id=s.id) AS last_ms,
                   (SELECT count(*) FROM sets x WHERE x.session_id=s.id) AS n_sets,
                   (SELECT coalesce(sum(reps), 0) FROM sets x WHERE x.session_id=s.id) AS n_reps,
                   (SELECT count(*) FROM holds x WHERE x.session_id=s.id) AS n_holds,
                   (SELECT coalesce(sum(dur_ms), 0) FROM holds x WHERE x.session_id=s.id) AS hold_ms,
                   (SELECT coalesce(sum(steps), 0) FROM walks x WHERE x.session_id=s.id) AS steps,
                   (SELECT group_concat(kind) FROM (SELECT DISTINCT kind FROM
                        (SELECT kind, min(start_ms) AS m FROM sets WHERE session_id=s.id GROUP BY kind
                         UNION ALL SELECT kind, min(start_ms) FROM holds WHERE session_id=s.id GROUP BY kind
                         UNION ALL SELECT %d, min(start_ms) FROM walks WHERE session_id=s.id
                         HAVING count(*) > 0) ORDER BY m)) AS kinds
            FROM sessions s LEFT JOIN devices dv ON dv.id = s.device_id %s
            ORDER BY s.started DESC, s.id DESC""" % (E.K_WALK, where), (() if session_id is None else (session_id,)))
        for r in rows:
            r["kinds"] = [N.KIND_NAMES[int(k)] for k in r["kinds"].split(",")] if r["kinds"] else []
            end = r["ended"]
            if end is None and r["last_ms"] is not None:
                end = r["started"] + r["last_ms"] / 1000.0
            r["duration_s"] = None if end is None else max(0.0, end - r["started"])
        return rows

    def session(self, session_id):
        """One session summary, or UserError naming the id."""
        rows = self.sessions(session_id)
        if not rows:
            raise UserError("no session %s in %s: `repbelt sessions` lists them" % (session_id, self.path))
        return rows[0]

    @_guarded
    def sets(self, session_id=None):
        """Sets in time order, each with its `rep_list`; session_id None: all sessions."""
        where, args = ("WHERE session_id=?", (session_id,)) if session_id is not None else ("", ())
        sets = self._dicts("SELECT id, session_id, set_no, kind, start_ms, end_ms, reps, complete FROM sets "
                           + where + " ORDER BY session_id, start_ms, id", args)
        reps = self._dicts("SELECT set_id, rep_no, kind, t_ms, dur_ms, range_ddeg, side FROM reps "
                           + where + " ORDER BY set_id, t_ms, rep_no", args)
        by_set = {}
        for r in reps:
            by_set.setdefault(r.pop("set_id"), []).append(r)
        for s in sets:
            s["rep_list"] = by_set.get(s["id"], [])
        return sets

    @_guarded
    def holds(self, session_id=None):
        where, args = ("WHERE session_id=?", (session_id,)) if session_id is not None else ("", ())
        return self._dicts("SELECT id, session_id, kind, start_ms, dur_ms, sway_dmg, stability, drift_ddeg, "
                           "complete FROM holds " + where + " ORDER BY session_id, start_ms, id", args)

    @_guarded
    def walks(self, session_id=None):
        where, args = ("WHERE session_id=?", (session_id,)) if session_id is not None else ("", ())
        return self._dicts("SELECT id, session_id, start_ms, end_ms, steps, cadence_spm, complete FROM walks "
                           + where + " ORDER BY session_id, start_ms, id", args)

    @_guarded
    def hold_ticks(self, session_id):
        """HOLD_TICK events of a session as (t_ms, kind, elapsed_ms, sway_dmg, stability, drift_ddeg)."""
        return self.conn.execute("SELECT t_ms, a, b, c, d, e FROM events WHERE session_id=? AND type=? "
                                 "ORDER BY seq", (session_id, E.EV_HOLD_TICK)).fetchall()

    @_guarded
    def events(self, session_id):
        """The raw stream of a session as [(seq, (type, t_ms, a..f))]."""
        return [(r[0], tuple(r[1:])) for r in self.conn.execute(
            "SELECT seq, type, t_ms, a, b, c, d, e, f FROM events WHERE session_id=? ORDER BY seq",
            (session_id,))]

    @_guarded
    def event_count(self, session_id):
        """How many events a session has stored (cheaper than len(events()))."""
        return self.conn.execute("SELECT count(*) FROM events WHERE session_id=?", (session_id,)).fetchone()[0]

    @_guarded
    def session_starts(self):
        """{session id: start wall time} for all sessions."""
        return dict(self.conn.execute("SELECT id, started FROM sessions"))

    @_guarded
    def count(self, table):
        if table not in ("devices", "sessions", "events", "sets", "reps", "holds", "walks"):
            raise ValueError(table)
        return self.conn.execute("SELECT count(*) FROM " + table).fetchone()[0]

    @_guarded
    def integrity(self):
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]


def derive_events(evs):
    """Sets (with reps), holds and walks from an event list in emission order.

    Partial streams still give rows: a set whose SET_END never came is built
    from its SET_START and REPs (complete=False), a hold from its last
    HOLD_TICK, a walk from its last STEPS. A closing event with no opening
    one (the stream started late) makes the row on its own.
    """
    sets, holds, walks = [], [], []
    open_sets, open_holds, open_walks = {}, {}, {}

    def new_set(kind, set_no, start_ms):
        s = {"set_no": set_no, "kind": kind, "start_ms": start_ms, "end_ms": start_ms, "reps": 0,
             "complete": False, "rep_list": []}
        sets.append(s)
        open_sets[set_no] = s
        return s

    def new_hold(kind, start_ms):
        h = {"kind": kind, "start_ms": start_ms, "dur_ms": 0, "sway_dmg": 0, "stability": 0,
             "drift_ddeg": 0, "complete": False}
        for other in open_holds.values():  # only one hold at a time: a new start ends the old one
            other["closed_by_start"] = True
        open_holds.clear()
        holds.append(h)
        open_holds[start_ms] = h
        return h

    def new_walk(start_ms):
        w = {"start_ms": start_ms, "end_ms": start_ms, "steps": 0, "cadence_spm": 0, "complete": False}
        walks.append(w)
        open_walks[start_ms] = w
        return w

    for ev in evs:
        typ, t = ev[0], ev[1]
        a, b, c, d, e, f = ev[2:8]
        if typ == E.EV_SET_START:
            new_set(a, b, c)
        elif typ == E.EV_REP:
            s = open_sets.get(c) or new_set(a, c, t - d)
            s["rep_list"].append({"rep_no": b, "kind": a, "t_ms": t, "dur_ms": d, "range_ddeg": e, "side": f})
            s["reps"] = max(s["reps"], len(s["rep_list"]))
            s["end_ms"] = max(s["end_ms"], t)
        elif typ == E.EV_SET_END:
            s = open_sets.pop(b, None) or {"set_no": b, "kind": a, "rep_list": []}
            if "reps" not in s:
                sets.append(s)
            s.update(kind=a, reps=c, start_ms=d, end_ms=e, complete=True)
        elif typ == E.EV_HOLD_START:
            new_hold(a, b)
        elif typ == E.EV_HOLD_TICK:
            start = t - b
            h = _nearest(open_holds, start) or new_hold(a, start)
            h.update(dur_ms=max(h["dur_ms"], b), sway_dmg=c, stability=d, drift_ddeg=e)
        elif typ == E.EV_HOLD_END and c == 0:
            # withdrawn by the board: what looked like a hold was a set of reps
            h = open_holds.pop(b, None) or _nearest(open_holds, b, pop=True)
            if h is not None and h in holds:
                holds.remove(h)
        elif typ == E.EV_HOLD_END:
            h = open_holds.pop(b, None) or _nearest(open_holds, b, pop=True)
            if h is None:
                h = {}
                holds.append(h)
            h.update(kind=a, start_ms=b, dur_ms=c, sway_dmg=d, stability=e, drift_ddeg=f, complete=True)
        elif typ == E.EV_WALK_START:
            new_walk(a)
        elif typ == E.EV_STEPS:
            w = open_walks.get(c) or new_walk(c)
            w.update(steps=max(w["steps"], a), cadence_spm=b, end_ms=max(w["end_ms"], t))
        elif typ == E.EV_WALK_END:
            w = open_walks.pop(a, None)
            if w is None:
                w = {}
                walks.append(w)
            w.update(start_ms=a, end_ms=b, steps=c, cadence_spm=d, complete=True)
    for h in holds:
        h.pop("closed_by_start", None)
    return {"sets": sets, "holds": holds, "walks": walks}


HOLD_MATCH_MS = 1500  # a tick's start estimate (t - elapsed) lands within this of the hold's start


def _nearest(open_holds, start_ms, pop=False):
    for key in list(open_holds):
        if abs(key - start_ms) <= HOLD_MATCH_MS:
            return open_holds.pop(key) if pop else open_holds[key]
    return None
