"""The radio side of the emulated BLE "air": a TCP server the virtual board's `bluetooth` module dials.

The board (sim/upy/bluetooth.py in MicroPython) connects to 127.0.0.1:PORT
(`REPBELT_AIR=host:port`) and exchanges one JSON object per line, bytes as
hex (docs/architecture.md, "Emulated BLE air"). `AirServer` owns that socket
and hands each board message to a *radio*: an object with

    attach(air)                  called once, before start
    async on_board(msg)          one decoded board -> radio message
    async on_board_lost()        the board's socket closed (reset, crash, exit)

Two radios exist: `sim.bluez_bridge.BluezRadio` (the board becomes a BLE
peripheral on a mock BlueZ, reached by bleak unmodified) and `DirectRadio`
below (an in-process central with a small Python API, for fast tests of the
host logic; the bleak path is covered separately end to end).

Messages to the board are sent in order; a board that is not connected
simply misses them (like radio packets nobody hears).
"""
import asyncio
import json
import logging
import random

log = logging.getLogger("repbelt.air")

LINE_LIMIT_BYTES = 1 << 20   # one services message with many chars stays far below this


def encode(msg):
    """One air line for a message dict (bytes values must already be hex)."""
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()


class AirServer:
    """TCP server for one virtual board at a time (a new board connection replaces the old one)."""

    def __init__(self, radio, host="127.0.0.1", port=0):
        self.radio = radio
        self.host = host
        self.port = port
        self._server = None
        self._writer = None
        self._reader_task = None
        self.board_seen = asyncio.Event()
        self.messages_in = 0
        self.messages_out = 0
        radio.attach(self)

    @property
    def address(self):
        """`host:port` for REPBELT_AIR."""
        return "%s:%d" % (self.host, self.port)

    @property
    def board_present(self):
        return self._writer is not None

    async def start(self):
        self._server = await asyncio.start_server(self._on_client, self.host, self.port,
                                                  limit=LINE_LIMIT_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader_task is not None:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass
            self._reader_task = None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.close()

    async def wait_board(self, timeout_s=10.0):
        await asyncio.wait_for(self.board_seen.wait(), timeout_s)

    async def send(self, msg):
        """Send one radio -> board message; False if no board is listening."""
        w = self._writer
        if w is None:
            return False
        try:
            w.write(encode(msg))
            await w.drain()
        except (ConnectionError, OSError):
            return False
        self.messages_out += 1
        return True

    async def _on_client(self, reader, writer):
        if self._writer is not None:
            # A reset board dials again before the old socket is noticed closed.
            old = self._writer
            self._writer = None
            old.close()
            if self._reader_task is not None:
                self._reader_task.cancel()
            await self.radio.on_board_lost()
        self._writer = writer
        self._reader_task = asyncio.current_task()
        self.board_seen.set()
        cancelled = False
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    log.warning("air: bad line from board: %r", line[:200])
                    continue
                self.messages_in += 1
                try:
                    await self.radio.on_board(msg)
                except Exception:
                    log.exception("air: radio failed on %s", msg.get("op"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            cancelled = True
        finally:
            if self._writer is writer:
                self._writer = None
                self._reader_task = None
                writer.close()
                if not cancelled:      # shutting down: nobody is left to tell
                    try:
                        await self.radio.on_board_lost()
                    except asyncio.CancelledError:
                        pass           # the loop is shutting down under us


def parse_adv(data):
    """AD structures of an advertising payload -> dict(name, uuids16, uuids128, service_data, flags)."""
    out = {"name": None, "uuids": [], "service_data": {}, "flags": None}
    i = 0
    while i + 1 < len(data):
        n = data[i]
        if n == 0 or i + 1 + n > len(data):
            break
        t = data[i + 1]
        v = bytes(data[i + 2:i + 1 + n])
        if t in (0x08, 0x09):
            out["name"] = v.decode("utf-8", "replace")
        elif t in (0x02, 0x03):
            for k in range(0, len(v) - 1, 2):
                out["uuids"].append(uuid16_full(int.from_bytes(v[k:k + 2], "little")))
        elif t in (0x06, 0x07):
            for k in range(0, len(v) - 15, 16):
                out["uuids"].append(uuid128_str(v[k:k + 16]))
        elif t == 0x16 and len(v) >= 2:
            out["service_data"][uuid16_full(int.from_bytes(v[:2], "little"))] = v[2:]
        elif t == 0x21 and len(v) >= 16:
            out["service_data"][uuid128_str(v[:16])] = v[16:]
        elif t == 0x01 and v:
            out["flags"] = v[0]
        i += 1 + n
    return out


def uuid16_full(u):
    return "%08x-0000-1000-8000-00805f9b34fb" % u


def uuid128_str(le_bytes):
    """128-bit UUID as it appears little-endian on air -> canonical string."""
    h = bytes(reversed(le_bytes)).hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def norm_uuid(u):
    """Canonical lower-case 128-bit string for a uuid given as str/int (16-bit short forms expanded)."""
    if isinstance(u, int):
        return uuid16_full(u)
    s = str(u).lower()
    if s.startswith("0x"):
        s = s[2:]
    if len(s) <= 8 and all(c in "0123456789abcdef" for c in s):
        return "%08x-0000-1000-8000-00805f9b34fb" % int(s, 16)
    return s


class DirectRadio:
    """An in-process BLE central on the air: fast host-logic tests without D-Bus.

    After the board registered services (`await radio.wait_services()`):

        await radio.connect()                   # board gets _IRQ_CENTRAL_CONNECT
        await radio.pair()                      # board gets _IRQ_ENCRYPTION_UPDATE (bonded)
        radio.subscribe(uuid)                   # notifications of that char go to radio.notifications
        await radio.write(uuid, data)           # board gets _IRQ_GATTS_WRITE
        uuid, data = await radio.notifications.get()
        await radio.drop_link()                 # link loss: both sides see a disconnect
        radio.loss_p = 0.1                      # lose notifications with this probability
    """

    ADDR_HEX = "0000000000aa"

    def __init__(self, mtu=247, loss_p=0.0, seed=None):
        self.air = None
        self.mtu = mtu
        self.loss_p = loss_p
        self._rng = random.Random(seed)
        self.services = []           # board's services message content
        self.adv = None              # last adv message (None when not advertising)
        self.values = {}             # handle -> bytes (board's local values)
        self.by_uuid = {}            # char uuid -> handle
        self.by_handle = {}          # handle -> char uuid
        self.notifications = asyncio.Queue()
        self.subscribed = set()      # handles
        self.conn = None
        self._next_conn = 0
        self.on_disconnect = None    # callback() when the link goes down
        self._services_evt = asyncio.Event()
        self._adv_evt = asyncio.Event()
        self.stats = {"notified": 0, "lost": 0, "written": 0}

    def attach(self, air):
        self.air = air

    @property
    def connected(self):
        return self.conn is not None

    async def on_board(self, msg):
        op = msg.get("op")
        if op == "services":
            self.services = msg.get("services", [])
            self.by_uuid.clear()
            self.by_handle.clear()
            for svc in self.services:
                for ch in svc.get("chars", []):
                    u = norm_uuid(ch["uuid"])
                    self.by_uuid[u] = ch["handle"]
                    self.by_handle[ch["handle"]] = u
            self._services_evt.set()
        elif op == "adv":
            self.adv = msg
            self._adv_evt.set()
        elif op == "adv_stop":
            self.adv = None
            self._adv_evt.clear()
        elif op == "value":
            self.values[msg["handle"]] = bytes.fromhex(msg.get("data", ""))
        elif op == "notify":
            if msg.get("conn") != self.conn:
                return
            h = msg["handle"]
            data = bytes.fromhex(msg.get("data", ""))
            if not data and h in self.values:
                data = self.values[h]
            if h not in self.subscribed:
                return
            if self.loss_p and self._rng.random() < self.loss_p:
                self.stats["lost"] += 1
                return
            self.stats["notified"] += 1
            await self.notifications.put((self.by_handle.get(h), data[:self.mtu - 3]))
        elif op == "disconnect":
            if msg.get("conn") == self.conn:
                await self._link_down(tell_board=False)

    async def on_board_lost(self):
        self.adv = None
        self._adv_evt.clear()
        self._services_evt.clear()
        if self.conn is not None:
            await self._link_down(tell_board=False)

    async def wait_services(self, timeout_s=10.0):
        await asyncio.wait_for(self._services_evt.wait(), timeout_s)

    async def wait_advertising(self, timeout_s=10.0):
        await asyncio.wait_for(self._adv_evt.wait(), timeout_s)
        return parse_adv(bytes.fromhex(self.adv.get("data", ""))).get("name") or self.adv.get("name")

    async def connect(self):
        if self.conn is not None:
            raise RuntimeError("already connected")
        if not self.air.board_present:
            raise ConnectionError("no board on the air")
        self.conn = self._next_conn
        self._next_conn += 1
        self.subscribed.clear()
        await self.air.send({"op": "connect", "conn": self.conn, "addr": self.ADDR_HEX, "addr_type": 0})
        await self.air.send({"op": "mtu", "conn": self.conn, "mtu": self.mtu})
        return self.conn

    async def pair(self):
        self._need_conn()
        await self.air.send({"op": "encrypted", "conn": self.conn, "encrypted": 1,
                             "authenticated": 0, "bonded": 1, "key_size": 16})

    def subscribe(self, uuid):
        self.subscribed.add(self.by_uuid[norm_uuid(uuid)])

    def unsubscribe(self, uuid):
        self.subscribed.discard(self.by_uuid[norm_uuid(uuid)])

    async def write(self, uuid, data):
        self._need_conn()
        self.stats["written"] += 1
        await self.air.send({"op": "write", "conn": self.conn, "handle": self.by_uuid[norm_uuid(uuid)],
                             "data": bytes(data).hex()})

    async def read(self, uuid):
        self._need_conn()
        h = self.by_uuid[norm_uuid(uuid)]
        await self.air.send({"op": "read", "conn": self.conn, "handle": h})
        return self.values.get(h, b"")

    async def disconnect(self):
        if self.conn is not None:
            await self._link_down(tell_board=True)

    async def drop_link(self):
        """Link loss (supervision timeout): both ends see a disconnect."""
        await self.disconnect()

    def _need_conn(self):
        if self.conn is None:
            raise ConnectionError("not connected")

    async def _link_down(self, tell_board):
        conn, self.conn = self.conn, None
        self.subscribed.clear()
        if tell_board:
            await self.air.send({"op": "disconnect", "conn": conn})
        cb = self.on_disconnect
        if cb is not None:
            cb()


class RadioThread:
    """A radio + AirServer on their own asyncio loop in a background thread (for sync callers, tests).

        with RadioThread(lambda: BluezRadio(mock.bus_address)) as rt:
            env["REPBELT_AIR"] = rt.air_address      # start the board with this
            rt.call(rt.radio.drop_link())            # run a coroutine on the radio's loop, wait for it
    """

    def __init__(self, make_radio, port=0, start_timeout_s=15.0):
        import threading
        self._make = make_radio
        self._port = port
        self._timeout = start_timeout_s
        self._ready = threading.Event()
        self._thread = None
        self.loop = None
        self.radio = None
        self.air = None
        self.error = None

    @property
    def air_address(self):
        return self.air.address

    def start(self):
        import threading
        self._thread = threading.Thread(target=self._main, name="repbelt-radio", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout):
            raise RuntimeError("radio thread did not start")
        if self.error is not None:
            raise self.error
        return self

    def _main(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def setup():
            self.radio = self._make()
            if hasattr(self.radio, "start"):
                await self.radio.start()
            self.air = AirServer(self.radio, port=self._port)
            await self.air.start()
        try:
            self.loop.run_until_complete(setup())
        except BaseException as e:   # handed to start()
            self.error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

        async def teardown():
            await self.air.close()
            if hasattr(self.radio, "close"):
                await self.radio.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.loop.run_until_complete(teardown())
        finally:
            self.loop.close()

    def submit(self, coro):
        """Schedule a coroutine on the radio loop; returns a concurrent.futures.Future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro, timeout_s=30.0):
        return self.submit(coro).result(timeout_s)

    def stop(self):
        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
