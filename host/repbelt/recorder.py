"""Recording a live session and syncing offline ones: BoardClient events into the Store, in batches.

    rec = Recorder(client, store)
    await rec.start()                 # set time, start (or resume) the board session, store session row
    ...                               # events flow: client -> rec.on_events -> batch -> store.add_events
    summary = await rec.stop()        # stop command, wait for the last events, final flush, derive

`LiveState` folds events into what the terminal view shows; `Guide` walks a
workout plan (what is next, rest countdown, hint to the board). `sync_board`
pulls sessions the board logged while no laptop was near.

Nothing is lost: events are stored idempotently on (session, seq), batches
commit every FLUSH_S (a kill loses at most that batch, which the board still
has and replays next time), and stop() waits until the host holds every seq
up to the board's last.
"""
import asyncio
import logging
import time

from . import paths  # noqa: F401
from .errors import UserError

import rb_events as E

import rb_names as N
import rb_protocol as P

log = logging.getLogger("repbelt.recorder")

FLUSH_S = 0.5
BATCH_MAX = 1000
FINAL_WAIT_S = 10.0     # after stop: time allowed for the last events (and their replays)
FINAL_FLUSH_ATTEMPTS = 5
SYNC_SETTLE_S = 5.0     # after a session replay's answer, for records still in flight (and gap replays)


class LiveState:
    """What the live view shows, updated from each event."""

    def __init__(self):
        self.kind = E.K_NONE
        self.set_no = 0
        self.reps = 0
        self.sets_done = 0
        self.reps_total = 0
        self.hold_kind = None
        self.hold_elapsed_ms = 0
        self.hold_stability = None
        self.last_hold = None          # (kind, dur_ms, stability)
        self.walking = False
        self.steps_walk = 0
        self.steps_done = 0            # finished walks
        self.cadence = 0
        self.posture = E.P_UNKNOWN
        self.calibrated = None
        self.faults = []
        self.received = 0
        self.stored = 0
        self.link = "idle"
        self.last_event_wall = None
        self.battery_pct = None        # from the status block, then from EV_BATTERY
        self.battery_mv = None
        self.battery_level = E.BAT_OK  # EV_BATTERY level; the status block's low flag sets BAT_LOW
        self.power = None              # last EV_POWER as text ("board went to sleep (idle)")

    def status(self, st):
        """Fold a decoded status block (battery percent and low flag) in."""
        if st is None:
            return
        if st.get("battery_pct") is not None:
            self.battery_pct = st["battery_pct"]
        if "battery_low" in st:
            # the board's latest word: low (or critical, which an EV_BATTERY tells apart) or not
            if not st["battery_low"]:
                self.battery_level = E.BAT_OK
            elif self.battery_level == E.BAT_OK:
                self.battery_level = E.BAT_LOW

    @property
    def steps_total(self):
        return self.steps_done + (self.steps_walk if self.walking else 0)

    def apply(self, ev):
        typ = ev[0]
        self.received += 1
        self.last_event_wall = time.time()
        if typ == E.EV_REP:
            self.kind, self.reps, self.set_no = ev[2], ev[3], ev[4]
            self.reps_total += 1
        elif typ == E.EV_SET_START:
            self.kind, self.set_no, self.reps = ev[2], ev[3], 0
        elif typ == E.EV_SET_END:
            self.kind, self.set_no, self.reps = ev[2], ev[3], ev[4]
            self.sets_done += 1
        elif typ == E.EV_HOLD_START:
            self.hold_kind, self.hold_elapsed_ms, self.hold_stability = ev[2], 0, None
            self.kind = ev[2]
        elif typ == E.EV_HOLD_TICK:
            self.hold_kind, self.hold_elapsed_ms, self.hold_stability = ev[2], ev[3], ev[5]
            self.kind = ev[2]
        elif typ == E.EV_HOLD_END:
            self.last_hold = (ev[2], ev[4], ev[6]) if ev[4] else None    # dur 0: withdrawn
            self.hold_kind = None
        elif typ == E.EV_WALK_START:
            self.walking, self.steps_walk = True, 0
            self.kind = E.K_WALK
        elif typ == E.EV_STEPS:
            self.walking, self.steps_walk, self.cadence = True, ev[2], ev[3]
        elif typ == E.EV_WALK_END:
            self.walking = False
            self.steps_done += ev[4]
            self.steps_walk = 0
            self.cadence = ev[5]
        elif typ == E.EV_POSTURE:
            self.posture = ev[2]
        elif typ == E.EV_CALIBRATED:
            self.calibrated = ev[2]
        elif typ == E.EV_FAULT:
            self.faults.append(ev[2])
        elif typ == E.EV_BATTERY:
            self.battery_pct, self.battery_mv, self.battery_level = ev[2], ev[3], ev[4]
        elif typ == E.EV_POWER:
            self.power = power_text(ev)


def _name(names, i):
    return names[i] if 0 <= i < len(names) and names[i] else "code %d" % i


def power_text(ev):
    """EV_POWER in words: "board went to sleep (idle)", "woke on motion after 1:05:00 asleep"."""
    what, why, slept_s = ev[2], ev[3], ev[4]
    if what == E.PW_SLEEP:
        return "board went to sleep (%s)" % ("battery critical" if why == E.PR_BATTERY else _name(N.PR_NAMES, why))
    if what == E.PW_WAKE:
        if why == E.PR_POWER_ON:
            return "board powered on"
        after = ""
        if slept_s > 0:
            after = " after %d:%02d:%02d asleep" % (slept_s // 3600, slept_s // 60 % 60, slept_s % 60)
        return "woke on %s%s" % (_name(N.PR_NAMES, why), after)
    return "power event %d (reason %d)" % (what, why)


def battery_text(pct, level, mv=None):
    """"82 %", "12 % low: charge soon", "4 % critical: charge now" or "unknown"."""
    if pct is None:
        return "unknown"
    t = "%d %%" % pct + ("" if mv is None else " (%.2f V)" % (mv / 1000.0))
    if level == E.BAT_CRITICAL:
        return t + " critical: charge now (the board ends sessions and sleeps)"
    if level == E.BAT_LOW:
        return t + " low: charge soon"
    return t


class Guide:
    """Walks a plan's sequence: current set and target, rest countdown, the hint for the board."""

    def __init__(self, plan, clock=time.monotonic):
        self.plan = plan
        self.items = plan.sequence()
        self.idx = 0
        self.phase = "exercise" if self.items else "done"
        self.rest_until = None
        self.clock = clock
        self.results = []              # (item, reps or None, hold_ms or None, met)
        self._sides = []

    @property
    def current(self):
        return self.items[self.idx] if self.idx < len(self.items) else None

    @property
    def next_item(self):
        i = self.idx + (1 if self.phase == "exercise" else 0)
        return self.items[i] if i < len(self.items) else None

    def hint_kind(self):
        """Kind code to send to the board now (the current exercise), or None."""
        cur = self.current
        return cur.step.kind_code if cur is not None and self.phase == "exercise" else None

    def on_event(self, ev):
        """Returns True if the guide moved on (the caller sends the new hint)."""
        cur = self.current
        if cur is None or self.phase != "exercise":
            return False
        typ = ev[0]
        if typ == E.EV_REP and ev[2] == cur.step.kind_code:
            self._sides.append(ev[7])
        if typ == E.EV_SET_END and ev[2] == cur.step.kind_code and not cur.step.is_hold:
            met = cur.step.meets(reps=ev[4], sides=self._sides)
            self.results.append((cur, ev[4], None, met))
            return self._finish_set()
        if typ == E.EV_HOLD_END and ev[4] and ev[2] == cur.step.kind_code and cur.step.is_hold:
            met = cur.step.meets(hold_ms=ev[4])
            self.results.append((cur, None, ev[4], met))
            return self._finish_set()
        return False

    def _finish_set(self):
        self._sides = []
        cur = self.current
        if cur.rest_s > 0:
            self.phase = "rest"
            self.rest_until = self.clock() + cur.rest_s
            return False
        return self._advance()

    def skip(self):
        return self._advance()

    def _advance(self):
        self.idx += 1
        self.rest_until = None
        self.phase = "exercise" if self.idx < len(self.items) else "done"
        return True

    def tick(self):
        """Call periodically; True when a rest ended and the next set began."""
        if self.phase == "rest" and self.clock() >= self.rest_until:
            return self._advance()
        return False

    def rest_left_s(self):
        if self.phase != "rest":
            return 0
        return max(0, int(round(self.rest_until - self.clock())))


class Recorder:
    """One live session: board session <-> store session, batched durable writes."""

    def __init__(self, client, store, device_id, guide=None, flush_s=FLUSH_S, batch_max=BATCH_MAX,
                 source="live"):
        self.client = client
        self.store = store
        self.device_id = device_id
        self.guide = guide
        self.flush_s = flush_s
        self.batch_max = batch_max
        self.source = source
        self.state = LiveState()
        self.session_id = None
        self.board_session = None
        self.started_wall = None
        self._buf = []
        self._other = {}               # board session -> store session, for sessions other than ours
        self._pending_other = {}
        self._flusher = None
        self._ticker = None
        self._stopping = False
        self.batches = 0
        self.store_s = 0.0
        self.store_error = None
        client.on_events = self.on_events
        prev_link = client.on_link

        def on_link(s):
            self.state.link = s
            if prev_link is not None:
                prev_link(s)
        client.on_link = on_link
        self.state.link = client.link
        prev_status = getattr(client, "on_status", None)

        def on_status(st):
            self.state.status(st)
            if prev_status is not None:
                prev_status(st)
        client.on_status = on_status
        self.state.status(getattr(client, "status", None))

    async def start(self, resume=True):
        c = self.client
        await c.set_time()
        st = await c.get_status()
        if resume and st["state"] == P.ST_SESSION:
            # the board is already recording (started earlier, or this host lost it): continue it
            self.board_session = st["session_id"]
            sid = self.store.find_session(self.device_id, self.board_session)
            last = self.store.last_seq(sid) if sid is not None else None
        else:
            last = st["last_seq"]
            self.board_session = await c.start_session()
            sid = None
        self.started_wall = time.time()
        self.session_id = self.store.begin_session(self.device_id, self.board_session,
                                                   started=self.started_wall, source=self.source)
        if last is None:
            # resuming a session this host has nothing of: fetch it from its first record (the
            # watermark must sit below it before live records, already in flight, arrive)
            first = None
            for info in await c.list_sessions():
                if info[0] == self.board_session:
                    first = info[1]
            c.rewind(first - 1 if first else None)
            await c.replay_session(self.board_session, first or 0)
        else:
            c.rewind(last)
            if sid is not None:
                await c.replay(last + 1)
        self._flusher = asyncio.ensure_future(self._flush_loop())
        if self.guide is not None:
            self._ticker = asyncio.ensure_future(self._guide_loop())
            await self._send_hint()
        return self.session_id

    def _store_session(self, board_session):
        """Store session id for a board session seen in the stream (the live one, or one it moved to)."""
        if board_session is None or board_session == self.board_session:
            return self.session_id
        sid = self._other.get(board_session)
        if sid is None:
            # the board moved to another session (a reset, a session started on the board itself)
            wall = self.client.stream_wall_s or time.time()
            sid = self.store.begin_session(self.device_id, board_session, started=wall, source=self.source)
            self._other[board_session] = sid
        return sid

    def on_events(self, recs):
        sid = self._store_session(self.client.stream_session)
        if sid != self.session_id:
            self._pending_other.setdefault(sid, []).extend(recs)
        else:
            self._buf.extend(recs)
        for _seq, ev in recs:
            self.state.apply(ev)
            if self.guide is not None and self.guide.on_event(ev):
                asyncio.ensure_future(self._send_hint())
        if len(self._buf) >= self.batch_max:
            self.flush()

    def flush(self):
        """Commit the buffered events now (one transaction per session).

        A failed commit (database locked by another program, disk full) keeps
        the batch for the next try and raises the store's UserError.
        """
        for sid in list(self._pending_other):
            recs = self._pending_other[sid]
            if recs:
                self.store.add_events(sid, recs)
                self.state.stored += len(recs)
            del self._pending_other[sid]
        if not self._buf:
            return 0
        batch = self._buf
        t = time.perf_counter()
        self.store.add_events(self.session_id, batch)
        self._buf = self._buf[len(batch):]
        self.store_s += time.perf_counter() - t
        self.batches += 1
        self.state.stored += len(batch)
        self.store_error = None
        return len(batch)

    async def _flush_loop(self):
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                self.flush()
            except UserError as e:
                # keep recording: the events stay buffered (and on the board) until the file is writable
                self.store_error = e
                log.warning("%s", e)

    async def _guide_loop(self):
        while self.guide.phase != "done":
            await asyncio.sleep(0.25)
            if self.guide.tick():
                await self._send_hint()

    async def _send_hint(self):
        k = self.guide.hint_kind() if self.guide is not None else None
        if k is None or not self.client.connected:
            return
        try:
            await self.client.hint(k)
        except UserError as e:
            log.info("hint not sent: %s", e)

    async def stop(self):
        """End the session cleanly; returns the summary dict. Safe to call with the link down."""
        self._stopping = True
        c = self.client
        target = None
        if c.connected:
            try:
                await c.stop_session()
                st = await c.get_status()
                target = st["last_seq"]
            except UserError as e:
                log.warning("stop on the board failed: %s", e)
        if target is not None:
            deadline = time.monotonic() + FINAL_WAIT_S
            asked = time.monotonic()
            while (c.watermark is None or c.watermark < target) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                if c.connected and c.watermark is not None and time.monotonic() - asked > 1.0:
                    asked = time.monotonic()
                    try:
                        await c.replay(c.watermark + 1)
                    except UserError:
                        pass
        for t in (self._flusher, self._ticker):
            if t is not None:
                t.cancel()
        for attempt in range(FINAL_FLUSH_ATTEMPTS):
            try:
                self.flush()
                break
            except UserError as e:
                if attempt + 1 == FINAL_FLUSH_ATTEMPTS:
                    raise UserError("%s (the board keeps the session: `repbelt sync` fetches it once the "
                                    "database is free)" % e) from None
                await asyncio.sleep(1.0)
        # complete only when the board confirmed its last seq and we hold everything up to it
        complete = target is not None and c.watermark is not None and c.watermark >= target
        self.store.end_session(self.session_id)
        for sid in self._other.values():
            self.store.end_session(sid)
        return self.summary(complete, target)

    def summary(self, complete=True, target=None):
        st = self.state
        s = self.store.session(self.session_id)
        return {"session_id": self.session_id, "board_session": self.board_session,
                "events": len(self.store.events(self.session_id)),
                "sets": st.sets_done, "reps": st.reps_total, "steps": st.steps_total,
                "complete": complete, "board_last_seq": target,
                "stats": dict(self.client.stats), "session": s}


async def sync_board(client, store, device_id, delete=False, progress=None):
    """Pull every session the board keeps; returns [(board_session, store_session, new_events, complete)].

    Each is replayed from the last seq this store holds for it; with
    delete=True a session is deleted on the board only after the store holds
    every one of its records (verified by count and seq range).
    """
    out = []
    client.follow_tail = False
    infos = await client.list_sessions()
    st = client.status or await client.get_status()
    for board_session, first, last, n_records, wall_s in infos:
        if st and st["state"] == P.ST_SESSION and board_session == st["session_id"]:
            continue   # the live session belongs to `record`
        sid = store.begin_session(device_id, board_session, started=wall_s or time.time(), source="sync")
        have = store.last_seq(sid)
        new = 0
        if n_records and (have is None or have < last):
            got = []
            client.on_events = got.extend
            client.rewind(have if have is not None else first - 1)
            client.session_filter = board_session
            await client.replay_session(board_session, client.watermark + 1)
            deadline = time.monotonic() + SYNC_SETTLE_S
            while client.watermark < last and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                if len(got) >= BATCH_MAX:
                    new += store.add_events(sid, got[:])
                    del got[:]
            new += store.add_events(sid, [r for r in got if first <= r[0] <= last])
            client.session_filter = None
        stored = len(store.events(sid))
        complete = stored >= n_records and (store.last_seq(sid) or 0) >= last
        store.end_session(sid)
        if delete and complete:
            await client.delete_session(board_session)
        out.append((board_session, sid, new, complete, n_records))
        if progress is not None:
            progress(board_session, new, complete)
    return out
