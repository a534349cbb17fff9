"""A CPython stand-in for the board's BLE side, speaking the air protocol with the real rb_protocol bytes.

It lets the host's BLE code be tested against a board before (and besides)
the real firmware on the MicroPython unix port: same GATT layout, same
codec, same command semantics as docs/protocol.md, but the events come from
a script instead of the detection core, at a chosen rate, so tests can ask
for exactly 2000 events, an old protocol version, or sessions logged
offline.

    fb = FakeBoard(air_address, events_per_session=2000, rate_hz=500)
    task = asyncio.ensure_future(fb.run())
"""
import asyncio
import json
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware"))
import rb_events as E  # noqa: E402
import rb_protocol as P  # noqa: E402

FLAG_READ = 0x0002
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
DIS_FIRMWARE_CHAR = "00002a26-0000-1000-8000-00805f9b34fb"
DIS_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"

H_EVENT, H_CONTROL, H_STATUS, H_FW = 14, 17, 20, 24


def script_event(i, t_ms):
    """Deterministic plausible event number i (a bridge set, a plank hold, a walk, repeating)."""
    k = i % 40
    if k == 0:
        return (E.EV_SET_START, t_ms, E.K_BRIDGE, i // 40 + 1, t_ms, 0, 0, 0)
    if k <= 12:
        return (E.EV_REP, t_ms, E.K_BRIDGE, k, i // 40 + 1, 2100 + k, 300 + k, 0)
    if k == 13:
        return (E.EV_SET_END, t_ms, E.K_BRIDGE, i // 40 + 1, 12, t_ms - 30000, t_ms, 0)
    if k == 14:
        return (E.EV_HOLD_START, t_ms, E.K_PLANK, t_ms, 0, 0, 0, 0)
    if k <= 30:
        return (E.EV_HOLD_TICK, t_ms, E.K_PLANK, (k - 14) * 1000, 140 + k, 80, 5, 0)
    if k == 31:
        return (E.EV_HOLD_END, t_ms, E.K_PLANK, t_ms - 17000, 17000, 150, 80, 5)
    if k == 32:
        return (E.EV_WALK_START, t_ms, t_ms, 0, 0, 0, 0, 0)
    if k <= 38:
        return (E.EV_STEPS, t_ms, (k - 32) * 10, 110, t_ms - (k - 32) * 5000, 0, 0, 0)
    return (E.EV_WALK_END, t_ms, t_ms - 30000, t_ms, 60, 110, 0, 0)


class FakeBoard:
    def __init__(self, air, name="repbelt-f00d", events_per_session=100, rate_hz=200.0,
                 protocol_version=P.PROTOCOL_VERSION, firmware="0.1.0", offline_sessions=(),
                 first_seq=1, require_bond=True, burst=1):
        self.air = air
        self.name = name
        self.events_per_session = events_per_session
        self.rate_hz = rate_hz
        self.protocol_version = protocol_version
        self.fw = firmware
        self.require_bond = require_bond
        self.burst = burst                 # events produced per tick
        self.log = []                      # [(session, seq, ev)]
        self.sessions = {}                 # session -> wall_s
        self.next_seq = first_seq
        self.session = 0
        self.in_session = False
        self.time_set = False
        self.conn = None
        self.mtu = P.DEFAULT_MTU
        self.authorized = False
        self.hints = []
        self.commands = []
        self._w = None
        self._gen = None
        self._replay = None
        self.cursor = first_seq
        self._marker_session = None
        self._wake = asyncio.Event()
        self._streamer = None
        self.lose_next = 0                 # test hook: drop this many event notifications at the board
        self._t_ms = 0
        for n in offline_sessions:
            self._log_session(n)

    def _log_session(self, n):
        self.session += 1
        self.sessions[self.session] = int(time.time()) - 3600
        for i in range(n):
            self.log.append((self.session, self.next_seq, script_event(i, 1000 + 500 * i)))
            self.next_seq += 1

    # ---- air plumbing

    def send(self, msg):
        if self._w is not None:
            self._w.write((json.dumps(msg) + "\n").encode())

    async def run(self):
        host, port = self.air.rsplit(":", 1)
        r, self._w = await asyncio.open_connection(host, int(port))
        ev_flags = FLAG_NOTIFY | FLAG_READ
        self.send({"op": "services", "services": [
            {"uuid": P.SERVICE_UUID, "chars": [
                {"uuid": P.EVENT_UUID, "flags": ev_flags, "handle": H_EVENT},
                {"uuid": P.CONTROL_UUID, "flags": FLAG_WRITE | FLAG_NOTIFY, "handle": H_CONTROL},
                {"uuid": P.STATUS_UUID, "flags": FLAG_READ | FLAG_NOTIFY, "handle": H_STATUS}]},
            {"uuid": DIS_SERVICE, "chars": [{"uuid": DIS_FIRMWARE_CHAR, "flags": FLAG_READ, "handle": H_FW}]}]})
        self.send({"op": "value", "handle": H_FW, "data": self.fw.encode().hex()})
        self._write_status()
        self._advertise()
        await self._w.drain()
        self._streamer = asyncio.ensure_future(self._stream())
        try:
            while True:
                line = await r.readline()
                if not line:
                    return
                await self._on_radio(json.loads(line))
                await self._w.drain()
        finally:
            for t in (self._gen, self._replay, self._streamer):
                if t is not None:
                    t.cancel()
            self._w.close()          # like a process that ends: the radio sees the socket close
            self._w = None

    def _advertise(self):
        nm = self.name.encode()
        adv = bytes((2, 1, 6, len(nm) + 1, 9)) + nm
        resp = bytes((17, 7)) + P.uuid_bytes(P.SERVICE_UUID)
        self.send({"op": "adv", "name": self.name, "data": adv.hex(), "resp": resp.hex(), "interval_us": 100000})

    def _status_bytes(self):
        flags = (P.SF_TIME_SET if self.time_set else 0) | (P.SF_AUTHORIZED if self.authorized else 0)
        b = bytearray(P.encode_status(P.ST_SESSION if self.in_session else P.ST_IDLE, flags, self.session,
                                      self.next_seq - 1, 90, P.HEALTH_OK, (0, 1, 0)))
        b[0] = self.protocol_version
        return bytes(b)

    def _write_status(self):
        b = self._status_bytes()
        self.send({"op": "value", "handle": H_STATUS, "data": b.hex()})
        self._notify(H_STATUS, b)

    def _notify(self, handle, data):
        if self.conn is not None:
            self.send({"op": "notify", "conn": self.conn, "handle": handle, "data": bytes(data).hex()})

    async def _on_radio(self, m):
        op = m["op"]
        if op == "connect":
            self.conn = m["conn"]
            self.mtu = P.DEFAULT_MTU
            self.authorized = False
            self.cursor = self.next_seq        # a new link streams live: records after last_seq
            self._marker_session = None
            self.send({"op": "adv_stop"})
            self._wake.set()
        elif op == "disconnect":
            if m["conn"] == self.conn:
                self.conn = None
                self.authorized = False
                if self._replay is not None:
                    self._replay.cancel()
                self._advertise()
        elif op == "mtu":
            self.mtu = min(m["mtu"], 256)
        elif op == "encrypted":
            self.authorized = bool(m.get("bonded"))
            self._write_status()
        elif op == "write" and m["handle"] == H_CONTROL:
            await self._command(bytes.fromhex(m["data"]))

    # ---- commands

    def _respond(self, op, tok, err, result=b""):
        self._notify(H_CONTROL, P.encode_response(op, tok, err, result))

    async def _command(self, data):
        try:
            op, tok, args = P.decode_command(data)
        except P.ProtocolError as e:
            self._respond(getattr(e, "op", 0), getattr(e, "token", 0), getattr(e, "code", P.ERR_MALFORMED))
            return
        self.commands.append(op)
        if op in P.SECURE_OPS and self.require_bond and not self.authorized:
            self._respond(op, tok, P.ERR_NOT_AUTHORIZED)
            return
        if op == P.OP_GET_STATUS:
            self._respond(op, tok, P.ERR_OK, self._status_bytes())
        elif op == P.OP_SET_TIME:
            self.time_set = True
            self._respond(op, tok, P.ERR_OK)
            self._write_status()
        elif op == P.OP_START_SESSION:
            if self.in_session:
                self._respond(op, tok, P.ERR_BAD_STATE)
                return
            self.session += 1
            self.sessions[self.session] = int(time.time())
            self.in_session = True
            self._respond(op, tok, P.ERR_OK, P.encode_u32(self.session))
            self._write_status()
            self._gen = asyncio.ensure_future(self._generate())
        elif op == P.OP_STOP_SESSION:
            if not self.in_session:
                self._respond(op, tok, P.ERR_BAD_STATE)
                return
            if self._gen is not None:
                self._gen.cancel()
            self._emit((E.EV_POSTURE, self._t_ms + 1, E.P_UPRIGHT, E.P_SUPINE, 0, 0, 0, 0))
            self.in_session = False
            self._respond(op, tok, P.ERR_OK, P.encode_u32(self.session))
            self._write_status()
        elif op == P.OP_HINT:
            self.hints.append(args[0])
            self._respond(op, tok, P.ERR_OK)
        elif op == P.OP_REPLAY:
            self.cursor = args[0]
            self._marker_session = None
            self._respond(op, tok, P.ERR_OK, P.encode_u32(self.next_seq - 1))
            self._wake.set()
        elif op == P.OP_REPLAY_SESSION:
            s, frm = args
            if s not in self.sessions:
                self._respond(op, tok, P.ERR_NOT_FOUND)
                return
            self._start_replay(op, tok, [r for r in self.log if r[0] == s and r[1] >= frm])
        elif op == P.OP_LIST_SESSIONS:
            # one info per session first, then the answer (docs/protocol.md)
            for s, wall in sorted(self.sessions.items()):
                recs = [r for r in self.log if r[0] == s]
                first = recs[0][1] if recs else 0
                last = recs[-1][1] if recs else 0
                self._notify(H_CONTROL, P.encode_session_info(tok, (s, first, last, len(recs), wall)))
            self._respond(op, tok, P.ERR_OK, struct.pack("<H", len(self.sessions)))
        elif op == P.OP_DELETE_SESSION:
            s = args[0]
            if s not in self.sessions or (self.in_session and s == self.session):
                self._respond(op, tok, P.ERR_NOT_FOUND if s not in self.sessions else P.ERR_BAD_STATE)
                return
            del self.sessions[s]
            self.log = [r for r in self.log if r[0] != s]
            self._respond(op, tok, P.ERR_OK)
        else:
            self._respond(op, tok, P.ERR_UNKNOWN_OP)

    def _start_replay(self, op, tok, recs):
        if self._replay is not None and not self._replay.done():
            self._respond(op, tok, P.ERR_BUSY)
            return
        self._replay = asyncio.ensure_future(self._send_session(op, tok, recs))

    def _packets(self, recs):
        """(session, seq, ev) records -> notifications, with session markers as the firmware sends them."""
        out = []
        for sess, seq, ev in recs:
            if sess != self._marker_session:
                out.append((None, seq, (P.REC_SESSION, 0, sess, self.sessions.get(sess, 0), 0, 0, 0, 0)))
                self._marker_session = sess
            out.append((sess, seq, ev))
        return P.pack_events([(seq, ev) for _s, seq, ev in out], P.payload_size(self.mtu))

    def _event_notify(self, pkt):
        if self.lose_next > 0:
            self.lose_next -= 1
            return
        self._notify(H_EVENT, pkt)

    async def _send_session(self, op, tok, recs):
        """A session replay: the live stream waits; the answer comes after the last record."""
        self._marker_session = None
        frm = recs[-1][1] + 1 if recs else 0
        for pkt in self._packets(recs):
            if self.conn is None:
                return
            self._event_notify(pkt)
            await self._w.drain()
        self._marker_session = None
        self._respond(op, tok, P.ERR_OK, P.encode_u32(frm))
        self._wake.set()

    async def _stream(self):
        """The live stream: records from the cursor on, in order, whenever the link is up."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.conn is not None and (self._replay is None or self._replay.done()):
                todo = [r for r in self.log if r[1] >= self.cursor][:64]
                if not todo:
                    break
                for pkt in self._packets(todo):
                    self._event_notify(pkt)
                self.cursor = todo[-1][1] + 1
                await self._w.drain()

    def _emit(self, ev):
        seq = self.next_seq
        self.next_seq += 1
        self.log.append((self.session, seq, ev))
        self._wake.set()
        return seq, ev

    async def _generate(self):
        period = 1.0 / self.rate_hz if self.rate_hz else 0
        n = 0
        while n < self.events_per_session:
            recs = []
            for _ in range(min(self.burst, self.events_per_session - n)):
                self._t_ms += 40
                recs.append(self._emit(script_event(n, self._t_ms)))
                n += 1
            self._wake.set()
            if period:
                await asyncio.sleep(period * len(recs))
            else:
                await asyncio.sleep(0)
        self._write_status()


def main(argv=None):
    import argparse
    import os
    ap = argparse.ArgumentParser(description="CPython fake repbelt board on the air socket")
    ap.add_argument("--air", default=os.environ.get("REPBELT_AIR"))
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--name", default="repbelt-f00d")
    a = ap.parse_args(argv)
    asyncio.run(FakeBoard(a.air, a.name, a.events, a.rate).run())


if __name__ == "__main__":
    main()
