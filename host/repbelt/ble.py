"""Talking to a repbelt board over BLE: scan, connect, pair, subscribe, commands, reconnect with replay.

A small public client over interchangeable backends (the way bleak itself is
built): `BleakBackend` is the real radio (BlueZ, CoreBluetooth, WinRT via
bleak); `DirectBackend` drives `sim.air.DirectRadio` in process, for fast
tests of this logic (the bleak path is covered end to end over mock BlueZ).

    client = BoardClient(on_events=cb)            # cb([(seq, ev), ...]) gets every new event once
    boards = await client.scan(5.0)               # [Board(name, address, rssi)]
    await client.connect("repbelt-1a2b")          # name, address, or None = the only board in range
    sid = await client.start_session()
    ...
    await client.close()

Link loss: the client reconnects by itself (backoff BACKOFF_S), subscribes
again and asks the board to replay from the last sequence number it
delivered, so the callback sees every seq exactly once. A gap in the live
stream (a lost notification) triggers the same replay. `client.watermark`
is that last contiguous seq; set it (from the store) before connecting to
resume.

Every failure a user can cause or fix surfaces as `repbelt.errors.UserError`
with one line saying what to do (`user_error(exc)` translates bleak/D-Bus
errors).
"""
import asyncio
import collections
import logging
import os
import sys
import time
from dataclasses import dataclass, field

from . import paths  # noqa: F401  (puts firmware/ on sys.path)
from .errors import UserError

import rb_protocol as P

log = logging.getLogger("repbelt.ble")

ADAPTER_ENV = "REPBELT_ADAPTER"
SCAN_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 20.0
COMMAND_TIMEOUT_S = 8.0
COMMAND_ATTEMPTS = 4              # an unanswered command is sent again (answers can be lost too)
RELINK_WAIT_S = 30.0              # a command cut off by a link drop waits this long for the reconnect
SESSION_REPLAY_TIMEOUT_S = 300.0   # the board answers a session replay after its last record
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0)
RECONNECT_GIVE_UP_S = 300.0     # after this long without a link, the recording ends with an error
REPLAY_SETTLE_S = 1.5           # a gap still open this long after its replay ended is given up
ONLY_ONE_LISTEN_S = 1.5         # extra listening to be sure a board is the only one in range
TAIL_CHECK_S = 0.5              # status says the board has newer events than arrived: wait this long, then replay
RECENT_MAX = 8192                # delivered seqs remembered for rewind()
GAP_ATTEMPTS = 4                # replays without progress before missing seqs count as never logged
GAP_GRACE_S = 0.05              # out-of-order arrival window before a gap counts as loss

DIS_FIRMWARE_UUID = "00002a26-0000-1000-8000-00805f9b34fb"


@dataclass
class Board:
    """A board seen in a scan."""
    name: str
    address: str
    rssi: int = None
    handle: object = field(default=None, repr=False, compare=False)   # backend's device object


# ---------------------------------------------------------------- errors

def user_error(exc):
    """The one-line UserError for a bleak / D-Bus / OS error, or None if it is not one people can fix."""
    if isinstance(exc, UserError):
        return exc
    name = type(exc).__name__
    text = str(exc)
    low = text.lower()
    plat = sys.platform
    if name == "BleakBluetoothNotAvailableError":
        reason = getattr(getattr(exc, "reason", None), "name", "")
        if reason == "POWERED_OFF":
            return UserError("Bluetooth is switched off: turn it on (Linux: `bluetoothctl power on`; "
                             "macOS/Windows: the Bluetooth switch in the system settings), then retry")
        if reason.startswith("DENIED"):
            return UserError(_permission_hint())
        if reason == "NO_BLE_CENTRAL_ROLE":
            return UserError("this Bluetooth adapter cannot act as a BLE central: use a Bluetooth 4.0+ "
                             "adapter (set $%s to pick one)" % ADAPTER_ENV)
        return UserError("no Bluetooth adapter found: plug one in or enable it (Linux: `bluetoothctl list` "
                         "shows adapters, `rfkill unblock bluetooth` if it is blocked)")
    if name == "BleakDBusError" or "org.freedesktop.dbus.error" in low or "org.bluez.error" in low:
        dbus_name = getattr(exc, "dbus_error", "") or text
        if "ServiceUnknown" in dbus_name or "NameHasNoOwner" in dbus_name or "org.bluez was not provided" in low:
            return UserError("the Bluetooth service (BlueZ) is not running: start it with "
                             "`sudo systemctl start bluetooth` (install the `bluez` package if missing)")
        if "AccessDenied" in dbus_name or "NotAuthorized" in dbus_name or "NotPermitted" in dbus_name:
            return UserError(_permission_hint())
        if "Authentication" in dbus_name:
            return UserError("the board refused to pair: it takes a new laptop only while it has no bond yet "
                             "or for 120 s after its button is held 3 s; hold the button and retry (if this "
                             "laptop paired before: `bluetoothctl remove ADDRESS` first)")
        if "InProgress" in dbus_name:
            return UserError("Bluetooth is busy with another connection attempt: wait a few seconds and retry")
        if "NotReady" in dbus_name:
            return UserError("Bluetooth is switched off: turn it on (`bluetoothctl power on`), then retry")
        if "UnknownObject" in dbus_name and "hci" in low:
            return UserError("Bluetooth adapter not found (%s): `bluetoothctl list` shows the adapters; "
                             "set $%s to one of them" % (os.environ.get(ADAPTER_ENV) or "default", ADAPTER_ENV))
        return None
    if isinstance(exc, PermissionError):
        return UserError(_permission_hint())
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)) and plat.startswith("linux"):
        return UserError("cannot reach the D-Bus system bus (%s): Bluetooth on Linux needs BlueZ and a running "
                         "dbus (`systemctl status dbus bluetooth`)" % text)
    if name == "BleakError" and "adapter" in low and ("not found" in low or "no " in low):
        return UserError("Bluetooth adapter not found (%s): `bluetoothctl list` shows the adapters; set $%s "
                         "to one of them" % (text, ADAPTER_ENV))
    return None


def _permission_hint():
    if sys.platform == "darwin":
        return ("Bluetooth permission denied: allow your terminal app in System Settings > Privacy & "
                "Security > Bluetooth, then restart the terminal")
    if sys.platform.startswith("win"):
        return ("Bluetooth permission denied: allow apps to use Bluetooth in Settings > Privacy & "
                "security > Radios, then retry")
    return ("Bluetooth permission denied by the system: add yourself to the `bluetooth` group "
            "(`sudo usermod -aG bluetooth $USER`, then log in again) or allow org.bluez in polkit")


class BoardError(UserError):
    """The board refused or failed a command."""


# ---------------------------------------------------------------- backends

class BleakBackend:
    """The real radio through bleak; adapter from the argument, $REPBELT_ADAPTER, or bleak's default."""

    def __init__(self, adapter=None):
        self.adapter = adapter if adapter is not None else (os.environ.get(ADAPTER_ENV) or None)
        self.client = None

    def _bluez(self):
        return {"adapter": self.adapter} if self.adapter else {}

    async def scan(self, timeout_s, enough=None, linger_s=0.0):
        """Boards seen within timeout_s; stops linger_s after enough(found dict) became true."""
        from bleak import BleakScanner
        await self._check_adapter()
        found = {}
        done = asyncio.Event()

        def seen(dev, adv):
            name = adv.local_name or dev.name or ""
            if not (name.startswith(P.NAME_PREFIX) or P.SERVICE_UUID in (adv.service_uuids or [])):
                return
            # bluezoo and some adapters report 0 / -127 for "unknown"
            rssi = adv.rssi if adv.rssi not in (None, 0, -127) else None
            found[dev.address] = Board(name, dev.address, rssi, dev)
            if enough is not None and enough(found):
                done.set()

        async with BleakScanner(seen, bluez=self._bluez()):
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
                if linger_s:
                    await asyncio.sleep(linger_s)
            except asyncio.TimeoutError:
                pass
        return list(found.values())

    async def _check_adapter(self):
        """A chosen BlueZ adapter that is off fails later with odd errors (or scans nothing): say so first."""
        if not (self.adapter and sys.platform.startswith("linux")):
            return
        from bleak.backends.bluezdbus.manager import get_global_bluez_manager
        m = await get_global_bluez_manager()
        props = getattr(m, "_properties", {}).get("/org/bluez/" + self.adapter)
        if props is None:
            raise UserError("Bluetooth adapter %s not found: `bluetoothctl list` shows the adapters; set $%s "
                            "(or --adapter) to one of them" % (self.adapter, ADAPTER_ENV))
        if not props.get("org.bluez.Adapter1", {}).get("Powered", True):
            raise UserError("Bluetooth adapter %s is switched off: turn it on (`bluetoothctl power on`), "
                            "then retry" % self.adapter)

    async def connect(self, board, on_disconnect, timeout_s):
        from bleak import BleakClient
        target = board.handle if board.handle is not None else board.address
        self.client = BleakClient(target, disconnected_callback=lambda _c: on_disconnect(),
                                  timeout=timeout_s, bluez=self._bluez())
        await self.client.connect()

    async def pair(self):
        try:
            await self.client.pair()
        except NotImplementedError:
            pass    # CoreBluetooth pairs by itself when an encrypted characteristic is used

    async def mtu(self):
        be = getattr(self.client, "_backend", None)
        if be is not None and hasattr(be, "_acquire_mtu") and getattr(be, "_mtu_size", None) is None:
            try:
                await be._acquire_mtu()      # BlueZ reports the real MTU only through AcquireWrite/Notify
            except Exception as e:           # an older BlueZ without AcquireWrite: stay at the minimum
                log.debug("MTU query failed: %r", e)
        try:
            return self.client.mtu_size
        except Exception:
            return P.DEFAULT_MTU

    def has_char(self, uuid):
        return self.client.services.get_characteristic(uuid) is not None

    async def start_notify(self, uuid, cb):
        await self.client.start_notify(uuid, lambda _c, data: cb(bytes(data)))

    async def write(self, uuid, data):
        await self.client.write_gatt_char(uuid, bytes(data), response=True)

    async def read(self, uuid):
        return bytes(await self.client.read_gatt_char(uuid))

    async def disconnect(self):
        if self.client is not None:
            try:
                await self.client.disconnect()
            finally:
                self.client = None


class DirectBackend:
    """In-process radio (`sim.air.DirectRadio`): same logic, no D-Bus. For tests."""

    def __init__(self, radio):
        self.radio = radio
        self._cbs = {}

    async def scan(self, timeout_s, enough=None, linger_s=0.0):
        try:
            name = await self.radio.wait_advertising(timeout_s)
        except asyncio.TimeoutError:
            return []
        return [Board(name, "DIRECT", None, None)]

    async def connect(self, board, on_disconnect, timeout_s):
        await self.radio.wait_advertising(timeout_s)
        self.radio.on_disconnect = on_disconnect
        await self.radio.connect()
        self._pump = asyncio.ensure_future(self._pump_loop())

    async def _pump_loop(self):
        q = self.radio.notifications
        while True:
            uuid, data = await q.get()
            cb = self._cbs.get(uuid)
            if cb is not None:
                cb(data)

    async def pair(self):
        await self.radio.pair()

    async def mtu(self):
        return self.radio.mtu

    def has_char(self, uuid):
        from sim.air import norm_uuid
        return norm_uuid(uuid) in self.radio.by_uuid

    async def start_notify(self, uuid, cb):
        from sim.air import norm_uuid
        self._cbs[norm_uuid(uuid)] = cb
        self.radio.subscribe(uuid)

    async def write(self, uuid, data):
        await self.radio.write(uuid, data)

    async def read(self, uuid):
        return await self.radio.read(uuid)

    async def disconnect(self):
        self.radio.on_disconnect = None
        p = getattr(self, "_pump", None)
        if p is not None:
            p.cancel()
        await self.radio.disconnect()


# ---------------------------------------------------------------- the client

class BoardClient:
    """One board: link management, commands, and an exactly-once event stream."""

    def __init__(self, backend=None, adapter=None, on_events=None, on_link=None, on_status=None,
                 auto_reconnect=True):
        self.backend = backend if backend is not None else BleakBackend(adapter)
        self.on_events = on_events        # ([(seq, ev)]) -> None, each seq once
        self.on_link = on_link            # (state str) -> None: connecting/connected/reconnecting/closed
        self.on_status = on_status        # (status dict) -> None
        self.auto_reconnect = auto_reconnect
        self.board = None
        self.mtu = P.DEFAULT_MTU
        self.status = None
        self.firmware = None
        self.link = "idle"
        self.watermark = None             # last seq delivered with nothing missing before it
        self._above = set()               # seqs delivered above the watermark (out of order)
        self._recent = collections.deque(maxlen=RECENT_MAX)   # seqs delivered lately (for rewind)
        self._decoder = P.EventDecoder()
        self._token = 0
        self._pending = {}                # token -> future
        self._session_infos = None
        self._closing = False
        self._connected = asyncio.Event()
        self._reconnect_task = None
        self._link_gen = 0                # bumped by every disconnect: a setup that saw one is void
        self._gap_task = None
        self._tail_task = None
        self._gap_since = None
        self._replay_until = 0.0
        self._disconnected_at = None
        self.failure = None               # UserError that ended the link for good
        self.stream_session = None        # board session of the records being delivered (session marker)
        self.stream_wall_s = None
        self.follow_tail = True           # live recording: status.last_seq ahead of us means loss
        self.session_filter = None        # sync: replays go to this board session only
        self.stats = {"events": 0, "duplicates": 0, "gaps": 0, "replays": 0, "reconnects": 0,
                      "bad_packets": 0, "given_up": 0, "drops": 0}

    # ---- scan and connect

    async def scan(self, timeout_s=SCAN_TIMEOUT_S, enough=None, linger_s=0.0):
        """Boards in range, strongest first (`enough(found)` ends the scan linger_s later)."""
        try:
            boards = await self.backend.scan(timeout_s, enough, linger_s)
        except Exception as e:
            raise (user_error(e) or e) from None
        seen = {}
        for b in boards:
            seen[b.address] = b
        return sorted(seen.values(), key=lambda b: (-(b.rssi if b.rssi is not None else -999), b.name))

    async def connect(self, target=None, scan_timeout_s=SCAN_TIMEOUT_S, pair=True, known=()):
        """Find and connect the board `target` (name, address, or None for the only one in range).

        `known`: addresses of boards this host bonded with before; with no
        target and several boards in range, the one known board among them wins.
        """
        self._closing = False
        self._set_link("connecting")
        board = await self._find(target, scan_timeout_s, known)
        self.board = board
        await self._open_link(pair=pair)
        return board

    async def _find(self, target, scan_timeout_s, known=()):
        t = (target or "").lower()

        def is_target(b):
            return b.name.lower() == t or b.address.lower() == t

        if target:
            boards = await self.scan(scan_timeout_s, lambda found: any(is_target(b) for b in found.values()))
        else:
            # "the only board in range": after the first one, listen a little longer for others
            boards = await self.scan(scan_timeout_s, lambda found: bool(found), ONLY_ONE_LISTEN_S)
        if target:
            match = [b for b in boards if is_target(b)]
            if not match:
                raise UserError("board %s not found in %.0f s of scanning: switch it on, bring it closer, "
                                "and check `repbelt scan`%s" % (target, scan_timeout_s,
                                                                 _seen_text(boards)))
            return match[0]
        if not boards:
            raise UserError("no repbelt board found in %.0f s of scanning: switch the board on (it advertises "
                            "as repbelt-XXXX), bring it closer, and retry; `repbelt scan` lists boards"
                            % scan_timeout_s)
        if len(boards) > 1:
            mine = [b for b in boards if b.address.lower() in {k.lower() for k in known}]
            if len(mine) == 1:
                return mine[0]
            raise UserError("%d boards in range (%s): pick one with --board NAME"
                            % (len(boards), ", ".join(b.name for b in boards)))
        return boards[0]

    async def _open_link(self, pair=True):
        gen = self._link_gen
        try:
            await asyncio.wait_for(self.backend.connect(self.board, self._on_disconnect, CONNECT_TIMEOUT_S),
                                   CONNECT_TIMEOUT_S + 5)
            self._decoder.reset()
            if not self.backend.has_char(P.EVENT_UUID) or not self.backend.has_char(P.CONTROL_UUID):
                raise UserError("%s has no repbelt service (an old or foreign firmware?): flash the "
                                "current firmware with `repbelt deploy`" % self.board.name)
            if pair:
                await self.backend.pair()
            self.mtu = await self.backend.mtu()
            await self.backend.start_notify(P.CONTROL_UUID, self._on_control)
            await self.backend.start_notify(P.EVENT_UUID, self._on_event_packet)
            if self.backend.has_char(P.STATUS_UUID):
                await self.backend.start_notify(P.STATUS_UUID, self._on_status_packet)
            if self.firmware is None and self.backend.has_char(DIS_FIRMWARE_UUID):
                try:
                    self.firmware = (await self.backend.read(DIS_FIRMWARE_UUID)).decode(errors="replace")
                except Exception:
                    self.firmware = None
            raw = await self.backend.read(P.STATUS_UUID) if self.backend.has_char(P.STATUS_UUID) else b""
            if raw:
                self._set_status(_decode_status(raw, self.board, self.firmware))
            else:
                await self.get_status()
        except asyncio.TimeoutError:
            await self._safe_disconnect()
            raise UserError("connecting to %s timed out: bring the board closer (or switch it off and on) "
                            "and retry" % self.board.name) from None
        except UserError:
            await self._safe_disconnect()
            raise
        except Exception as e:
            await self._safe_disconnect()
            ue = user_error(e)
            if ue is not None:
                raise ue from None
            raise UserError("cannot connect to %s (%s): retry; if it persists, switch the board off and "
                            "on" % (self.board.name, e)) from None
        if gen != self._link_gen:
            # the link dropped while it was being set up: not connected, whatever the last call said
            await self._safe_disconnect()
            raise UserError("the link to %s dropped while connecting: retry" % self.board.name)
        self._connected.set()
        self._set_link("connected")

    async def _safe_disconnect(self):
        try:
            await self.backend.disconnect()
        except Exception:
            pass

    # ---- commands

    async def command(self, op, *args, timeout_s=COMMAND_TIMEOUT_S, attempts=COMMAND_ATTEMPTS,
                      ok_on_retry=(), replay=False):
        """Send one Control command and return its result bytes; BoardError if the board refuses.

        An unanswered command is sent again (a response notification can be
        lost like any other); `ok_on_retry` lists the errors that, on a
        repeat, mean the first attempt already did it (e.g. stop -> bad_state).
        A command the link drop cut off is sent again once the automatic
        reconnect is back; a replay (`replay=True`) is not: the reconnect
        asks for everything past the watermark itself, and returns None.
        """
        per_try_s = timeout_s / attempts
        for attempt in range(attempts):
            self._token = (self._token + 1) & 0xFF
            tok = self._token
            fut = asyncio.get_running_loop().create_future()
            self._pending[tok] = (op, fut)
            try:
                await self.backend.write(P.CONTROL_UUID, P.encode_command(op, tok, *args))
                err, result = await asyncio.wait_for(fut, per_try_s)
                break
            except asyncio.TimeoutError:
                if attempt + 1 < attempts and (self.connected or await self._relinked()):
                    log.info("no answer to %s, asking again", P.OP_NAMES.get(op, op))
                    continue
                raise UserError("the board did not answer %s within %.0f s: the link is weak or the firmware "
                                "hung; retry (switch the board off and on if it persists)"
                                % (P.OP_NAMES.get(op, op), timeout_s)) from None
            except (UserError, asyncio.CancelledError):
                raise
            except Exception as e:
                ue = user_error(e)
                if ue is not None:
                    raise ue from None
                if (replay or attempt + 1 < attempts) and await self._relinked():
                    if replay:
                        return None
                    # the link dropped under the command: the reconnect is back, send it again
                    # (ok_on_retry covers a first attempt that did reach the board)
                    log.info("link dropped during %s, sending it again", P.OP_NAMES.get(op, op))
                    continue
                raise UserError("sending %s to the board failed (%s): retry" % (P.OP_NAMES.get(op, op), e)) from None
            finally:
                self._pending.pop(tok, None)
        if err != P.ERR_OK and attempt > 0 and err in ok_on_retry:
            return None
        if err != P.ERR_OK:
            name = P.ERR_NAMES[err] if err < len(P.ERR_NAMES) else str(err)
            hint = {P.ERR_NOT_AUTHORIZED: ": the link is not paired; remove the board from the system's "
                                          "Bluetooth devices and run again to pair anew",
                    P.ERR_BUSY: ": the board is busy with a replay; wait a moment and retry",
                    P.ERR_STORAGE: ": the board's flash is full or failing; `repbelt sync --delete` frees it"}
            e = BoardError("board refused %s: %s%s" % (P.OP_NAMES.get(op, op), name, hint.get(err, "")))
            e.err = err
            raise e
        return result

    async def _relinked(self):
        """After a command failed: True once the automatic reconnect restored a lost link.

        False if the link never went down (the failure was something else),
        auto_reconnect is off, or it stayed down RELINK_WAIT_S. A drop the
        backend reports (bleak: "Not connected") before its disconnect
        callback ran gets a moment to show.
        """
        if not self.auto_reconnect or self._closing:
            return False
        if asyncio.current_task() is self._reconnect_task:
            return False            # the reconnect's own replay: it is the one that would have to relink
        if self.connected:
            await asyncio.sleep(0.2)
            if self.connected:
                return False        # the link is up: the failure was something else
        try:
            await asyncio.wait_for(self._connected.wait(), RELINK_WAIT_S)
        except asyncio.TimeoutError:
            return False
        return not self._closing

    async def get_status(self):
        st = _decode_status(await self.command(P.OP_GET_STATUS), self.board, self.firmware)
        self._set_status(st)
        return st

    async def set_time(self, unix_s=None):
        await self.command(P.OP_SET_TIME, int(time.time() if unix_s is None else unix_s))

    async def start_session(self):
        """Start a session on the board; returns the board's session id."""
        r = await self.command(P.OP_START_SESSION, ok_on_retry=(P.ERR_BAD_STATE,))
        if r is None:       # the lost first answer had started it
            return (await self.get_status())["session_id"]
        return P.decode_u32(r)

    async def stop_session(self):
        r = await self.command(P.OP_STOP_SESSION, ok_on_retry=(P.ERR_BAD_STATE,))
        if r is None:
            return (await self.get_status())["session_id"]
        return P.decode_u32(r)

    async def hint(self, kind_code):
        await self.command(P.OP_HINT, kind_code)

    async def replay(self, from_seq):
        self.stats["replays"] += 1
        self._replay_until = time.monotonic() + REPLAY_SETTLE_S
        await self.command(P.OP_REPLAY, from_seq & 0xFFFFFFFF, replay=True)

    async def _replay_from(self, seq):
        if self.session_filter is not None:
            await self.replay_session(self.session_filter, seq)
        else:
            await self.replay(seq)

    async def list_sessions(self):
        """[(session, first_seq, last_seq, n_records, wall_s)] the board keeps."""
        for _attempt in range(COMMAND_ATTEMPTS):
            self._session_infos = []
            res = await self.command(P.OP_LIST_SESSIONS)
            count = int.from_bytes(res[:2], "little") if len(res) >= 2 else 0
            deadline = time.monotonic() + 0.5    # the infos precede the answer; allow for reordering
            while len(self._session_infos) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            infos, self._session_infos = self._session_infos, None
            by_id = {i[0]: i for i in infos}
            if len(by_id) >= count:
                return sorted(by_id.values())
        raise UserError("the board listed %d sessions but only %d arrived: the link is weak; retry"
                        % (count, len(by_id)))

    async def replay_session(self, session, from_seq, timeout_s=SESSION_REPLAY_TIMEOUT_S):
        """Replay one stored session; returns once the board says it sent every record."""
        self.stats["replays"] += 1
        self._replay_until = time.monotonic() + timeout_s
        try:
            for _attempt in range(COMMAND_ATTEMPTS):
                r = await self.command(P.OP_REPLAY_SESSION, session, from_seq & 0xFFFFFFFF, timeout_s=timeout_s,
                                       attempts=1, replay=True)
                if r is not None or self.watermark is not None:
                    break       # (cut off by a drop: the reconnect replays past the watermark)
        finally:
            self._replay_until = time.monotonic() + REPLAY_SETTLE_S

    async def delete_session(self, session):
        await self.command(P.OP_DELETE_SESSION, session, ok_on_retry=(P.ERR_NOT_FOUND,))

    # ---- notifications

    def _on_control(self, data):
        try:
            op, tok, err, result = P.decode_response(data)
        except P.ProtocolError:
            self.stats["bad_packets"] += 1
            return
        if op == P.OP_SESSION_INFO:
            if self._session_infos is not None:
                try:
                    self._session_infos.append(P.decode_session_info(result))
                except P.ProtocolError:
                    self.stats["bad_packets"] += 1
            return
        ent = self._pending.get(tok)
        if ent is not None and ent[0] == op and not ent[1].done():
            ent[1].set_result((err, result))

    def _on_status_packet(self, data):
        try:
            self._set_status(_decode_status(data, self.board, self.firmware))
        except UserError as e:
            # a board that changed protocol under us (re-flashed mid-session): end the link cleanly
            self.failure = e
        except P.ProtocolError:
            self.stats["bad_packets"] += 1

    def _set_status(self, st):
        self.status = st
        if self.on_status is not None:
            self.on_status(st)
        if self.follow_tail and self.watermark is not None and st["last_seq"] > self.watermark \
                and not self._above:
            # the board logged more than arrived: a lost notification at the tail shows up here
            if self._tail_task is None or self._tail_task.done():
                self._tail_task = asyncio.ensure_future(self._tail_check(st["last_seq"]))

    async def _tail_check(self, board_last):
        await asyncio.sleep(TAIL_CHECK_S)
        if self.watermark is not None and self.watermark < board_last and not self._closing:
            self._note_gap()

    def _on_event_packet(self, data):
        try:
            recs = self._decoder.feed(data)
        except P.ProtocolError as e:
            # broken fragment chain or garbage: what it held is fetched again by a replay
            log.debug("bad event packet: %s", e)
            self.stats["bad_packets"] += 1
            self._note_gap()
            return
        if recs:
            self.accept(recs)

    def accept(self, recs):
        """Deliver records not seen before, track the contiguous watermark, react to gaps.

        Session markers (REC_SESSION) are not events: they say which board
        session the records after them belong to (`self.stream_session` while
        `on_events` runs).
        """
        new = []
        for seq, ev in recs:
            if ev[0] == P.REC_SESSION:
                if new:
                    self._deliver(new)
                    new = []
                self.stream_session = ev[2]
                self.stream_wall_s = ev[3] or None
                continue
            wm = self.watermark
            if wm is None:
                self.watermark = wm = seq - 1
            if seq <= wm or seq in self._above:
                self.stats["duplicates"] += 1
                continue
            new.append((seq, ev))
            if seq == wm + 1:
                wm = seq
                while wm + 1 in self._above:
                    wm += 1
                    self._above.discard(wm)
                self.watermark = wm
            else:
                self._above.add(seq)
        if new:
            self._deliver(new)
        if self._above:
            self._note_gap()
        else:
            self._gap_since = None

    def rewind(self, watermark):
        """Set the watermark (e.g. from the store) without delivering twice what already went out.

        Records delivered since connecting (the live stream starts at once)
        and above the new watermark count as held, so a replay from
        watermark + 1 delivers only what is really new.
        """
        self.watermark = watermark
        if watermark is None:
            self._above = set()
            return
        self._above = {s for s in self._recent if s > watermark}
        wm = watermark
        while wm + 1 in self._above:
            wm += 1
            self._above.discard(wm)
        self.watermark = wm

    def _deliver(self, new):
        self._recent.extend(s for s, _ in new)
        self.stats["events"] += len(new)
        if self.on_events is not None:
            self.on_events(new)

    def _note_gap(self):
        if self._gap_since is None:
            self._gap_since = time.monotonic()
            self.stats["gaps"] += 1
        if self._gap_task is None or self._gap_task.done():
            self._gap_task = asyncio.ensure_future(self._fill_gap())

    async def _fill_gap(self):
        """Ask for a replay from the watermark until the gap closes; give up only on seqs the board lacks.

        A replay can lose notifications too, so a gap that stays open after a
        replay settled is asked for again; only after GAP_ATTEMPTS replays in a
        row brought the watermark no further are the missing seqs taken as
        never logged by the board (e.g. lost in a reset) and skipped.
        """
        await asyncio.sleep(GAP_GRACE_S)
        asked_at = None
        attempts = 0
        wm_at_ask = None
        while (self._above or self._tail_missing()) and not self._closing:
            if not self._connected.is_set():
                await self._connected.wait()
                asked_at = None
                continue      # the reconnect itself replays
            if asked_at is None:
                wm_at_ask = self.watermark
                try:
                    await self._replay_from(self.watermark + 1 if self.watermark is not None else 0)
                except UserError as e:
                    log.debug("gap replay failed: %s", e)
                    await asyncio.sleep(0.2)
                    continue
                asked_at = time.monotonic()
                attempts += 1
            await asyncio.sleep(0.05)
            if self.watermark != wm_at_ask:
                attempts = 0          # progress: this is a new gap (or none)
                asked_at = None
                continue
            if time.monotonic() <= max(asked_at, self._replay_until) + REPLAY_SETTLE_S:
                continue
            asked_at = None
            if attempts < GAP_ATTEMPTS:
                continue
            attempts = 0
            if not self._above:
                return        # the board's newer seqs never came: they belong to no stream we follow
            lo = min(self._above)
            log.warning("seq %d..%d not on the board; continuing without them", self.watermark + 1, lo - 1)
            self.stats["given_up"] += lo - self.watermark - 1
            wm = lo - 1
            while wm + 1 in self._above:
                wm += 1
                self._above.discard(wm)
            self.watermark = wm
        self._gap_since = None

    def _tail_missing(self):
        st = self.status
        return self.follow_tail and st is not None and self.watermark is not None and st["last_seq"] > self.watermark

    # ---- link loss

    def _on_disconnect(self):
        self._link_gen += 1
        self._connected.clear()
        for _op, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("link lost"))
        if self._closing:
            self._set_link("closed")
            return
        self.stats["drops"] += 1
        self._disconnected_at = time.monotonic()
        self._set_link("reconnecting")
        if self.auto_reconnect and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self):
        i = 0
        started = time.monotonic()
        while not self._closing:
            await asyncio.sleep(BACKOFF_S[min(i, len(BACKOFF_S) - 1)])
            i += 1
            if self._closing:
                return
            try:
                await self.backend.disconnect()
            except Exception:
                pass
            try:
                if i > 2:
                    # the OS may have forgotten the device object: find it again
                    try:
                        self.board = await self._find(self.board.address, SCAN_TIMEOUT_S)
                    except UserError:
                        pass
                await self._open_link(pair=True)
            except UserError as e:
                log.info("reconnect attempt %d failed: %s", i, e)
                if time.monotonic() - started > RECONNECT_GIVE_UP_S:
                    self.failure = UserError("lost the board %s and could not reconnect for %.0f s: "
                                             "what was received is stored; run `repbelt sync` later "
                                             "for the rest" % (self.board.name, RECONNECT_GIVE_UP_S))
                    self._set_link("closed")
                    return
                continue
            self.stats["reconnects"] += 1
            try:
                if self.watermark is not None:
                    await self._replay_from(self.watermark + 1)
            except UserError as e:
                log.info("replay after reconnect failed: %s", e)
            if self._connected.is_set():
                return
            # dropped again right after connecting: keep trying (this task is the one reconnecting)
            i = 0

    async def wait_connected(self, timeout_s=None):
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    @property
    def connected(self):
        return self._connected.is_set()

    def _set_link(self, state):
        self.link = state
        if self.on_link is not None:
            self.on_link(state)

    async def close(self):
        """Disconnect for good (no reconnect)."""
        self._closing = True
        for t in (self._reconnect_task, self._gap_task, self._tail_task):
            if t is not None and not t.done():
                t.cancel()
        await self._safe_disconnect()
        self._connected.clear()
        self._set_link("closed")


def _seen_text(boards):
    if not boards:
        return ""
    return " (seen: %s)" % ", ".join("%s %s" % (b.name, b.address) for b in boards)


def _decode_status(data, board, firmware):
    try:
        return P.decode_status(data)
    except P.ProtocolError as e:
        ver = data[0] if data else None
        if ver is not None and ver != P.PROTOCOL_VERSION:
            who = board.name if board else "the board"
            fw = ("firmware %s, " % firmware) if firmware else ""
            if ver < P.PROTOCOL_VERSION:
                raise UserError("%s runs an old firmware (%sprotocol version %d; this repbelt needs %d): "
                                "update it with `repbelt deploy`" % (who, fw, ver, P.PROTOCOL_VERSION)) from None
            raise UserError("%s runs a newer firmware (%sprotocol version %d; this repbelt speaks %d): "
                            "update repbelt" % (who, fw, ver, P.PROTOCOL_VERSION)) from None
        raise UserError("%s sent a status block this repbelt cannot read (%s): update the firmware with "
                        "`repbelt deploy`" % (board.name if board else "the board", e)) from None
