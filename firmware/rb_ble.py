"""BLE peripheral of the board on MicroPython's built-in `bluetooth` module.

GATT server (repbelt service: Event, Control, Status, Raw; Device
Information; Battery), advertising as `repbelt-XXXX`, the event sender
(log -> MTU-sized notifications, nothing lost on ENOMEM or disconnect),
Control decoding with the security gate, and bond storage.

The IRQ handler only records what happened and sets a flag (aioble
style); all work happens in asyncio tasks started by `Peripheral.start()`.
Security model (docs/protocol.md "Security"): commands in
rb_protocol.SECURE_OPS need an encrypted link with a bonded peer; new
bonds are accepted only while the pairing window is open (no bond stored
yet, or `open_pairing()` e.g. from a button long-press).
"""
import asyncio
import time

TYPE_CHECKING = False
if TYPE_CHECKING:      # mypy only; MicroPython has no typing module
    from typing import Any  # noqa: F401

import bluetooth
import rb_events as E
import rb_protocol as P

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_MTU_EXCHANGED = 21
_IRQ_ENCRYPTION_UPDATE = 28
_IRQ_GET_SECRET = 29
_IRQ_SET_SECRET = 30

_FLAG_READ = 0x0002
_FLAG_WRITE_NO_RESPONSE = 0x0004
_FLAG_WRITE = 0x0008
_FLAG_NOTIFY = 0x0010

_IO_NO_INPUT_OUTPUT = 3
_ENOMEM = 12

LOCAL_MTU = 247               # what we offer in the ATT MTU exchange
ADV_INTERVAL_US = 250000      # until the power policy sets fast/slow (rb_power)
CONTROL_BUF_BYTES = 128       # longest Control write kept (set_config with a rotation)
CMD_QUEUE_MAX = 8             # Control writes waiting for the control task
BATCH_MAX = 16                # records read from the log per notification
BACKOFF_MIN_MS = 20
BACKOFF_MAX_MS = 320
IDLE_WAIT_MS = 500            # sender re-checks at least this often
PAIRING_WINDOW_MS = 120000
CONNECT_GRACE_MS = 300       # live stream waits this long for a "replay from" after connect
REFUSED_LOG_MIN_MS = 1000     # at most one F_CONTROL_REFUSED event per second
BOND_SAVE_DELAY_MS = 200


def _hex(b):
    import binascii
    return binascii.hexlify(bytes(b)).decode()


class Peripheral:
    """The board's GATT server and event stream.

    ble: an active `bluetooth.BLE()` (activate it early, before big
    allocations). log: rb_log.EventLog. handler(op, token, args) ->
    (err, result_bytes) for the app-level commands (start/stop, hint,
    calibrate, set_config, set_time, raw, get_status). on_fault(code,
    detail) logs a fault event.
    """

    def __init__(self, ble, name, log, handler, on_fault, fw=(0, 1, 0),
                 model="repbelt-esp32-mpu6050", bonds_path="bonds.json",
                 ticks_ms=None):
        self.ble = ble
        self.name = name
        self.log = log
        self.handler = handler
        self.on_fault = on_fault
        self.fw = fw
        self.model = model
        self.bonds_path = bonds_path
        self.ticks_ms = ticks_ms or time.ticks_ms
        # link state, written by the IRQ handler only
        self.conn = None
        self.mtu = P.DEFAULT_MTU
        self.encrypted = False
        self.bonded = False
        self._bond_refused = False
        self._cmds = []
        self.cmds_dropped = 0
        self._flag = asyncio.ThreadSafeFlag()       # wakes the sender (one waiter only)
        self._cmd_flag = asyncio.ThreadSafeFlag()   # wakes the control task
        self._link_changed = False
        # sender state (tasks only)
        self.cursor = None            # next live seq to send on this link
        self._marker_session = -1     # session of the last marker sent on this link
        self._replay = None  # type: Any  # [session, from_seq, token] of a session replay
        self._walls = {}              # session -> wall_s, for session markers
        self._grace_until = None
        self._out = []                # pending Control responses (bytes)
        self._status = None           # status block waiting to be notified
        self._battery = None  # type: Any
        self._battery_dirty = False
        self._pkt = bytearray(P.payload_size(512))
        self._rec = bytearray(P.MAX_RECORD_BYTES)
        self.sent_records = 0
        self.notify_errors = 0
        self.refused = 0
        self.adv_interval_us = ADV_INTERVAL_US
        self._refused_at = None
        self._pair_until = None
        self.bonds = {}
        self._bonds_dirty = False
        self._load_bonds()
        self._setup()

    # ------------------------------------------------------------ setup
    def _setup(self):
        ble = self.ble
        ble.config(gap_name=self.name, mtu=LOCAL_MTU, bond=True, le_secure=True,
                   mitm=False, io=_IO_NO_INPUT_OUTPUT)
        ble.irq(self._irq)
        U = bluetooth.UUID
        svc = (U(P.SERVICE_UUID), (
            (U(P.EVENT_UUID), _FLAG_NOTIFY),
            (U(P.CONTROL_UUID), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE | _FLAG_NOTIFY),
            (U(P.STATUS_UUID), _FLAG_READ | _FLAG_NOTIFY),
            (U(P.RAW_UUID), _FLAG_NOTIFY),
        ))
        dis = (U(P.DIS_UUID16), (
            (U(P.DIS_MANUFACTURER_UUID16), _FLAG_READ),
            (U(P.DIS_MODEL_UUID16), _FLAG_READ),
            (U(P.DIS_SERIAL_UUID16), _FLAG_READ),
            (U(P.DIS_FIRMWARE_UUID16), _FLAG_READ),
        ))
        bat = (U(P.BATTERY_UUID16), ((U(P.BATTERY_LEVEL_UUID16), _FLAG_READ | _FLAG_NOTIFY),))
        ((self.h_event, self.h_control, self.h_status, self.h_raw),
         (h_man, h_model, h_serial, h_fw), (self.h_battery,)) = ble.gatts_register_services((svc, dis, bat))
        ble.gatts_set_buffer(self.h_control, CONTROL_BUF_BYTES)
        ble.gatts_write(h_man, b"repbelt")
        ble.gatts_write(h_model, self.model.encode())
        ble.gatts_write(h_serial, _hex(ble.config("mac")[1]).encode())
        ble.gatts_write(h_fw, ("%d.%d.%d" % self.fw).encode())
        ble.gatts_write(self.h_battery, bytes((0,)))

    def adv_payloads(self):
        """(adv_data, resp_data): flags + 128-bit service UUID; name in the scan response."""
        u = P.uuid_bytes(P.SERVICE_UUID)
        adv = bytes((2, 0x01, 0x06, 17, 0x07)) + u
        nb = self.name.encode()[:29]
        resp = bytes((len(nb) + 1, 0x09)) + nb
        return adv, resp

    def advertise(self):
        adv, resp = self.adv_payloads()
        self.ble.gap_advertise(self.adv_interval_us, adv_data=adv, resp_data=resp)

    def set_adv_interval(self, ms):
        """Advertising interval from now on; re-advertises if advertising (not linked)."""
        us = ms * 1000
        if us == self.adv_interval_us:
            return
        self.adv_interval_us = us
        if self.conn is None:
            try:
                self.advertise()
            except OSError:
                pass        # stack busy: housekeeping advertises again

    def link_busy(self):
        """True while the linked host still has records, a replay or responses coming."""
        if self.conn is None:
            return False
        if self._out or self._replay is not None or self._cmds:
            return True
        return self.cursor is not None and self.cursor <= self.log.last_seq

    def disconnect(self):
        """Drop the link (the power policy: an idle host must not keep the belt awake)."""
        if self.conn is not None:
            try:
                self.ble.gap_disconnect(self.conn)
            except OSError:
                pass

    # ------------------------------------------------------------ IRQ
    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self.conn = data[0]
            self.mtu = P.DEFAULT_MTU
            self.encrypted = False
            self.bonded = False
            self._bond_refused = False
            self._link_changed = True
        elif event == _IRQ_CENTRAL_DISCONNECT:
            if data[0] == self.conn:
                self.conn = None
                self.encrypted = False
                self.bonded = False
                self._link_changed = True
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.h_control:
                if len(self._cmds) < CMD_QUEUE_MAX:
                    self._cmds.append(bytes(self.ble.gatts_read(self.h_control)))
                else:
                    self.cmds_dropped += 1
                self._cmd_flag.set()
        elif event == _IRQ_MTU_EXCHANGED:
            if data[0] == self.conn:
                self.mtu = data[1]
        elif event == _IRQ_ENCRYPTION_UPDATE:
            if data[0] == self.conn:
                self.encrypted = bool(data[1])
                self.bonded = bool(data[3]) and not self._bond_refused
        elif event == _IRQ_GET_SECRET:
            return self._get_secret(data[0], data[1], data[2])
        elif event == _IRQ_SET_SECRET:
            return self._set_secret(data[0], data[1], data[2])
        elif event == _IRQ_GATTS_READ_REQUEST:
            return 0
        else:
            return None
        self._flag.set()
        return None

    # ------------------------------------------------------------ bonds
    def _skey(self, sec_type, key):
        return "%d:%s" % (sec_type, _hex(key))

    def _get_secret(self, sec_type, index, key):
        if key is None:
            prefix = "%d:" % sec_type
            i = 0
            for k in sorted(self.bonds):
                if k.startswith(prefix):
                    if i == index:
                        return self.bonds[k][1]
                    i += 1
            return None
        v = self.bonds.get(self._skey(sec_type, bytes(key)))
        return v[1] if v else None

    def _set_secret(self, sec_type, key, value):
        k = self._skey(sec_type, bytes(key))
        if value is None:
            if k in self.bonds:
                del self.bonds[k]
                self._bonds_dirty = True
            return True
        if k not in self.bonds and not self.pairing_open():
            self._bond_refused = True
            return False
        self.bonds[k] = (bytes(key), bytes(value))
        self._bonds_dirty = True
        self._flag.set()
        return True

    def pairing_open(self):
        if not self.bonds:
            return True
        return (self._pair_until is not None
                and time.ticks_diff(self._pair_until, self.ticks_ms()) > 0)

    def open_pairing(self, ms=PAIRING_WINDOW_MS):
        """Accept new bonds for `ms` (e.g. after a button long-press)."""
        self._pair_until = time.ticks_add(self.ticks_ms(), ms)

    def clear_bonds(self):
        self.bonds = {}
        self._bonds_dirty = True
        self._flag.set()

    def _load_bonds(self):
        import binascii
        import json
        try:
            with open(self.bonds_path) as f:
                d = json.loads(f.read())
            for k in d:
                v = d[k]
                self.bonds[k] = (binascii.unhexlify(v[0]), binascii.unhexlify(v[1]))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            self.bonds = {}       # no or unreadable file: no bonds, pairing window open

    def _save_bonds(self):
        import json
        import os
        d = {}
        for k in self.bonds:
            v = self.bonds[k]
            d[k] = (_hex(v[0]), _hex(v[1]))
        tmp = self.bonds_path + ".tmp"
        try:
            with open(tmp, "w") as f:
                f.write(json.dumps(d))
            os.rename(tmp, self.bonds_path)
            self._bonds_dirty = False
        except OSError as e:
            self.on_fault(E.F_LOG_WRITE, e.errno if isinstance(getattr(e, "errno", None), int) else 0)

    # ------------------------------------------------------------ app API
    @property
    def connected(self):
        return self.conn is not None

    @property
    def authorized(self):
        return self.conn is not None and self.encrypted and self.bonded

    def payload(self):
        return P.payload_size(self.mtu)

    def kick(self):
        """New events are in the log: wake the sender."""
        self._flag.set()

    def set_status(self, block):
        """Status block changed: local value for reads, notified when connected."""
        self.ble.gatts_write(self.h_status, block)
        self._status = block
        self._flag.set()

    def set_battery(self, pct):
        if pct is None or pct == self._battery:
            return
        self._battery = pct
        self.ble.gatts_write(self.h_battery, bytes((pct,)))
        self._battery_dirty = True

    def respond(self, data):
        self._out.append(data)
        self._flag.set()

    def send_raw(self, data):
        """Best effort (raw capture is lossy by design): True if queued."""
        c = self.conn
        if c is None:
            return False
        try:
            self.ble.gatts_notify(c, self.h_raw, data)
            return True
        except OSError:
            return False

    def start(self, spawn=None):
        """Advertise and start the tasks (`spawn(coro)`: the app's supervised create_task)."""
        spawn = spawn or asyncio.create_task
        self.advertise()
        spawn(self._sender())
        spawn(self._control())
        spawn(self._housekeeping())

    # ------------------------------------------------------------ tasks
    async def _wait(self, ms, flag=None):
        try:
            await asyncio.wait_for_ms((flag or self._flag).wait(), ms)
        except asyncio.TimeoutError:
            pass

    def _notify(self, handle, data):
        """True if the stack took the notification; False: keep it, back off."""
        c = self.conn
        if c is None:
            return False
        try:
            self.ble.gatts_notify(c, handle, data)
            return True
        except OSError:
            # ENOMEM: stack buffers full; anything else: stale link (the
            # disconnect IRQ follows). Either way the data stays ours.
            self.notify_errors += 1
            return False

    async def _sender(self):
        backoff = BACKOFF_MIN_MS
        while True:
            self._sync_link()
            if self.conn is None:
                await self._wait(IDLE_WAIT_MS)
                continue
            ok, busy = self._send_one()
            if ok:
                backoff = BACKOFF_MIN_MS
                if busy:
                    await asyncio.sleep_ms(0)
                else:
                    await self._wait(CONNECT_GRACE_MS if self._grace_until is not None else IDLE_WAIT_MS)
            else:
                await asyncio.sleep_ms(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_MS)

    def _sync_link(self):
        """Take a connect/disconnect into account (sender and control both call it
        first, so a "replay from" never races with the new link's defaults)."""
        if not self._link_changed:
            return
        self._link_changed = False
        if self.conn is not None:
            self.cursor = self.log.last_seq + 1   # live from now; the host replays the rest
            # a resuming host asks for a replay at once: wait a moment so the
            # records between its watermark and now are not sent twice
            self._grace_until = time.ticks_add(self.ticks_ms(), CONNECT_GRACE_MS)
            self._marker_session = -1
            self._replay = None
            self._out = []
            if self._status is None:
                self._status = self.ble.gatts_read(self.h_status)
        else:
            self.cursor = None
            self._replay = None
            self._grace_until = None

    def _send_one(self):
        """One notification. (ok, more): ok False = back off and retry."""
        if self._out:
            if not self._notify(self.h_control, self._out[0]):
                return False, True
            self._out.pop(0)
            return True, True
        if self._status is not None:
            if not self._notify(self.h_status, self._status):
                return False, True
            self._status = None
            return True, True
        if self._battery_dirty:
            if not self._notify(self.h_battery, bytes((self._battery,))):
                return False, True
            self._battery_dirty = False
            return True, True
        if self._replay is not None:
            return self._send_replay()
        if self._grace_until is not None:
            if time.ticks_diff(self._grace_until, self.ticks_ms()) > 0:
                return True, False
            self._grace_until = None
        return self._send_live()

    def _fill(self, recs, with_session):
        """Pack records into self._pkt. Returns (length, last_seq, session, fragments)."""
        pay = self.payload()
        pkt = self._pkt
        rec = self._rec
        n = 0
        last = None
        sess = self._marker_session
        for r in recs:
            if with_session:
                seq, sid, ev = r
            else:
                seq, ev = r
                sid = sess
            size = 0
            if sid != sess:
                m = P.encode_event(rec, 0, seq, self._marker(sid))
                if n + m > pay:
                    break
                pkt[n:n + m] = rec[:m]
                size = m
            k = P.encode_event(rec, 0, seq, ev)
            if n + size + k > pay:
                if n == 0 and size == 0:
                    return 0, seq, sid, P.fragment(bytes(rec[:k]), pay)
                if n == 0:
                    n = size          # the marker alone; the record goes next time
                    sess = sid
                break
            pkt[n + size:n + size + k] = rec[:k]
            n += size + k
            sess = sid
            last = seq
        return n, last, sess, None

    def _marker(self, sid):
        wall = self._walls.get(sid)
        if wall is None:
            wall = 0
            for s in self.log.sessions():
                if s[0] == sid:
                    wall = s[4]
            if len(self._walls) > 8:
                self._walls = {}
            self._walls[sid] = wall
        return (P.REC_SESSION, 0, sid, wall, 0, 0, 0, 0)

    def _send_frags(self, frags):
        """A record longer than the payload: all fragments, or none counted."""
        for f in frags:
            if not self._notify(self.h_event, f):
                # the host drops the partial record; it comes again whole
                return False
        return True

    def _send_live(self):
        recs = self.log.read_from(self.cursor, BATCH_MAX)
        if not recs:
            return True, False
        n, last, sess, frags = self._fill(recs, True)
        if frags is not None:
            if not self._send_frags(frags):
                return False, True
            self.cursor = last + 1
            self._marker_session = sess
            self.sent_records += 1
            return True, True
        if not self._notify(self.h_event, self._pkt[:n]):
            return False, True
        self._marker_session = sess
        if last is not None:
            self.sent_records += _count_upto(recs, last)
            self.cursor = last + 1
        return True, True

    def _send_replay(self):
        sid, from_seq, token = self._replay
        recs = self.log.read_session(sid, from_seq, BATCH_MAX)
        if not recs:
            self._replay = None
            self._out.append(P.encode_response(P.OP_REPLAY_SESSION, token, P.ERR_OK,
                                               P.encode_u32(from_seq)))
            # the live stream restarts its marker after a replay
            self._marker_session = -1
            return True, True
        if self._marker_session != sid:
            m = P.encode_event(self._rec, 0, recs[0][0], self._marker(sid))
            if not self._notify(self.h_event, self._rec[:m]):
                return False, True
            self._marker_session = sid
            return True, True
        n, last, sess, frags = self._fill(recs, False)
        if frags is not None:
            if not self._send_frags(frags):
                return False, True
        elif not self._notify(self.h_event, self._pkt[:n]):
            return False, True
        if last is not None:
            self._replay[1] = last + 1
            self.sent_records += _count_upto(recs, last)
        return True, True

    async def _control(self):
        while True:
            if not self._cmds:
                await self._wait(IDLE_WAIT_MS, self._cmd_flag)
                continue
            self._sync_link()
            data = self._cmds.pop(0)
            try:
                self._command(data)
            except Exception as e:     # a bad command never takes the board down
                import sys
                sys.print_exception(e)
                self.respond(P.encode_response(data[0] if data else 0,
                                               data[1] if len(data) > 1 else 0,
                                               P.ERR_BAD_STATE))
            await asyncio.sleep_ms(0)

    def _refuse(self, op, token, err):
        self.refused += 1
        self.respond(P.encode_response(op, token, err))
        now = self.ticks_ms()
        if self._refused_at is None or time.ticks_diff(now, self._refused_at) >= REFUSED_LOG_MIN_MS:
            self._refused_at = now
            self.on_fault(E.F_CONTROL_REFUSED, (err << 8) | (op & 0xFF))

    def _command(self, data):
        try:
            op, token, args = P.decode_command(data)
        except P.ProtocolError as e:
            self._refuse(getattr(e, "op", 0), getattr(e, "token", 0),
                         getattr(e, "code", P.ERR_MALFORMED))
            return
        if op in P.SECURE_OPS and not self.authorized:
            self._refuse(op, token, P.ERR_NOT_AUTHORIZED)
            return
        if op == P.OP_REPLAY:
            seq = args[0]
            if seq < 1:
                seq = 1
            self.cursor = seq
            self._marker_session = -1
            self._grace_until = None
            self.respond(P.encode_response(op, token, P.ERR_OK, P.encode_u32(self.log.last_seq)))
        elif op == P.OP_REPLAY_SESSION:
            if self._replay is not None:
                self.respond(P.encode_response(op, token, P.ERR_BUSY))
            elif not self._has_session(args[0]):
                self.respond(P.encode_response(op, token, P.ERR_NOT_FOUND))
            else:
                self._replay = [args[0], args[1], token]
        elif op == P.OP_LIST_SESSIONS:
            ss = self.log.sessions()
            for s in ss:
                self._out.append(P.encode_session_info(token, s))
            self.respond(P.encode_response(op, token, P.ERR_OK, bytes((len(ss) & 0xFF, len(ss) >> 8))))
        elif op == P.OP_DELETE_SESSION:
            if not self._has_session(args[0]):
                self.respond(P.encode_response(op, token, P.ERR_NOT_FOUND))
            elif self.log.delete_session(args[0]):
                self.respond(P.encode_response(op, token, P.ERR_OK))
            else:
                self.respond(P.encode_response(op, token, P.ERR_BAD_STATE))
        else:
            err, result = self.handler(op, token, args)
            self.respond(P.encode_response(op, token, err, result))

    def _has_session(self, sid):
        for s in self.log.sessions():
            if s[0] == sid:
                return True
        return False

    async def _housekeeping(self):
        advertising = True
        while True:
            await asyncio.sleep_ms(BOND_SAVE_DELAY_MS)
            if self._bonds_dirty:
                self._save_bonds()
            if self.conn is None and not advertising:
                try:
                    self.advertise()
                    advertising = True
                except OSError:
                    pass        # stack busy; next round
            elif self.conn is not None:
                advertising = False



def _count_upto(recs, last):
    n = 0
    for r in recs:
        if r[0] <= last:
            n += 1
    return n
