"""Emulated MicroPython `bluetooth` module for the unix port (the "air").

Implements the API surface repbelt's firmware uses, with the real IRQ
event codes and argument tuples: BLE (active, config, irq,
gatts_register_services, gatts_read/write/notify/indicate/set_buffer,
gap_advertise, gap_disconnect), UUID and the FLAG_* constants.

The peer side ("air") is either
- a radio process over TCP (env REPBELT_AIR=host:port; JSON lines, see
  docs/architecture.md "Emulated BLE air"), or
- without REPBELT_AIR, the in-process `AIR` object, a Python API for tests:
  `AIR.connect()`, `AIR.write(conn, handle, data)`, `AIR.mtu(conn, m)`,
  `AIR.encrypt(conn, bonded=True)`, `AIR.disconnect(conn)`,
  `AIR.notifications`, `await AIR.settle()`.

IRQs are delivered by an asyncio task this module starts (like real BLE
IRQs they arrive between the firmware's steps; never re-entrantly).
Realism checks that catch firmware bugs: calls before active(True) raise
OSError(EPERM); advertising payloads over 31 bytes raise OSError(EINVAL);
notifications longer than MTU-3 are truncated silently (and counted);
writes longer than the attribute buffer are truncated (gatts_set_buffer);
the addr in connect IRQs is a memoryview into a reused buffer.
Fault injection: `AIR.faults(enomem_rate=, seed=, burst_every=, burst_len=)`
or env REPBELT_BLE_ENOMEM_RATE / REPBELT_BLE_SEED: gatts_notify raises
OSError(ENOMEM) as the real stack does when its buffers are full.
"""
import errno
import os
import sys

FLAG_BROADCAST = 0x0001
FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_GATTS_INDICATE_DONE = 20
_IRQ_MTU_EXCHANGED = 21
_IRQ_CONNECTION_UPDATE = 27
_IRQ_ENCRYPTION_UPDATE = 28
_IRQ_GET_SECRET = 29
_IRQ_SET_SECRET = 30

_SEC_TYPE_PEER = 2          # NimBLE store object type used for peer keys
_DEFAULT_BUF = 20           # attribute value buffer, as on the real port
_ADV_MAX_BYTES = 31
_FIRST_HANDLE = 12          # GAP and GATT services take the first handles
ATT_DEFAULT_MTU = 23
LOCAL_MTU_DEFAULT = 256


def _hex(b):
    import binascii
    return binascii.hexlify(bytes(b)).decode()


def _unhex(s):
    import binascii
    return binascii.unhexlify(s)


class UUID:
    """16-bit (int) or 128-bit (str / 16 LE bytes) UUID; bytes(u) gives LE bytes."""

    def __init__(self, v):
        if isinstance(v, UUID):
            self._b = v._b
        elif isinstance(v, int):
            if not 0 <= v <= 0xFFFF:
                raise ValueError("invalid UUID")
            self._b = bytes((v & 0xFF, v >> 8))
        elif isinstance(v, str):
            h = v.replace("-", "")
            if len(h) != 32:
                raise ValueError("invalid UUID")
            b = bytearray(16)
            for i in range(16):
                b[15 - i] = int(h[2 * i:2 * i + 2], 16)
            self._b = bytes(b)
        else:
            b = bytes(v)
            if len(b) not in (2, 4, 16):
                raise ValueError("invalid UUID")
            self._b = b

    def __iter__(self):
        return iter(self._b)

    def __len__(self):
        return len(self._b)

    def __eq__(self, other):
        return isinstance(other, UUID) and other._b == self._b

    def __hash__(self):
        return hash(self._b)

    def __str__(self):
        b = self._b
        if len(b) == 2:
            return "0x%02x%02x" % (b[1], b[0])
        h = _hex(bytes(reversed(b)))
        return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])

    def __repr__(self):
        if len(self._b) == 2:
            return "UUID(%s)" % str(self)
        return "UUID('%s')" % str(self)


class _Attr:
    def __init__(self, uuid, flags, kind):
        self.uuid = uuid
        self.flags = flags
        self.kind = kind            # "char" / "desc" / "cccd"
        self.value = b""
        self.size = _DEFAULT_BUF
        self.append = False


class Air:
    """The peer side of the emulated radio: transport-independent core.

    Messages from the peer become IRQs delivered by `_pump`; what the board
    sends is recorded (`notifications`, `adv`, `values`) and, with a socket
    transport, forwarded.
    """

    keep_log = True    # record what the board sends, for tests of the in-process air

    def __init__(self):
        self.ble = None
        self.pending = []           # (event, data) tuples waiting for delivery
        self.notifications = []     # (conn, handle, bytes) as the peer received them
        self.indications = []
        self.truncated = 0          # notifications cut to MTU-3
        self.adv = None             # dict: data, resp, interval_us, connectable
        self.adv_log = []
        self.services = []          # [{"uuid":, "chars":[{"uuid","flags","handle"}]}]
        self.conns = {}             # conn -> {"addr":, "mtu":, "encrypted":, ...}
        self.irq_errors = 0
        self.delivered = 0
        self.notify_calls = 0
        self.enomem_raised = 0
        self._next_conn = 64
        self._rate = 0.0
        self._burst_every = 0
        self._burst_len = 0
        self._rng = 1
        self._event = None
        self._addr_buf = bytearray(6)
        r = os.getenv("REPBELT_BLE_ENOMEM_RATE")
        if r:
            self.faults(enomem_rate=float(r), seed=int(os.getenv("REPBELT_BLE_SEED") or "1"))

    # ---------------------------------------------------------- test API
    def faults(self, enomem_rate=0.0, seed=1, burst_every=0, burst_len=0):
        """gatts_notify raises ENOMEM with probability `enomem_rate`, and
        also for `burst_len` calls out of every `burst_every` calls."""
        self._rate = enomem_rate
        self._rng = (seed * 2654435761 + 1) & 0x7FFFFFFF or 1
        self._burst_every = burst_every
        self._burst_len = burst_len

    def connect(self, addr=b"\x11\x22\x33\x44\x55\x66", addr_type=0, conn=None):
        if conn is None:
            conn = self._next_conn
            self._next_conn += 1
        self._queue(("connect", conn, addr_type, bytes(addr)))
        return conn

    def disconnect(self, conn):
        self._queue(("disconnect", conn))

    def write(self, conn, handle, data):
        self._queue(("write", conn, handle, bytes(data)))

    def mtu(self, conn, mtu):
        self._queue(("mtu", conn, mtu))

    def encrypt(self, conn, bonded=True, authenticated=False, key_size=16):
        self._queue(("encrypted", conn, 1, 1 if authenticated else 0, 1 if bonded else 0, key_size))

    def read(self, conn, handle):
        """A peer read: asks the firmware (READ_REQUEST IRQ) then the value."""
        self._queue(("read", conn, handle))

    def value(self, handle):
        return self.ble._attrs[handle].value

    def take(self, handle=None):
        """Remove and return the notification payloads (for one handle)."""
        keep = []
        out = []
        for n in self.notifications:
            if handle is None or n[1] == handle:
                out.append(n[2])
            else:
                keep.append(n)
        self.notifications = keep
        return out

    def handle_for(self, uuid_str):
        u = UUID(uuid_str) if isinstance(uuid_str, str) else UUID(uuid_str)
        for h, a in self.ble._attrs.items():
            if a.kind == "char" and a.uuid == u:
                return h
        raise KeyError(uuid_str)

    async def settle(self, ms=0):
        """Wait until every queued peer action has been delivered (plus ms)."""
        import asyncio
        while self.pending:
            await asyncio.sleep_ms(1)
        await asyncio.sleep_ms(ms)

    # ---------------------------------------------------------- internals
    def _queue(self, msg):
        self.pending.append(msg)
        if self._event is not None:
            self._event.set()

    def _enomem_now(self):
        self.notify_calls += 1
        if self._burst_every and (self.notify_calls % self._burst_every) < self._burst_len:
            return True
        if self._rate > 0:
            self._rng = (self._rng * 1103515245 + 12345) & 0x7FFFFFFF
            return (self._rng % 10000) < int(self._rate * 10000)
        return False

    def _send(self, msg):
        """Board -> radio (overridden by the socket transport)."""

    def _start(self, ble):
        self.ble = ble
        if self._event is not None:
            return
        import asyncio
        self._event = asyncio.Event()
        asyncio.create_task(self._pump())

    async def _pump(self):
        import asyncio
        while True:
            if not self.pending:
                self._event.clear()
                await self._event.wait()
            while self.pending:
                msg = self.pending.pop(0)
                self._deliver(msg)
                # one IRQ per scheduling step, like IRQs between bytecodes
                await asyncio.sleep_ms(0)

    def _irq(self, event, data):
        h = self.ble._handler if self.ble else None
        self.delivered += 1
        if h is None:
            return None
        try:
            return h(event, data)
        except Exception as e:
            self.irq_errors += 1
            sys.print_exception(e)
            return None

    def _deliver(self, msg):
        op = msg[0]
        ble = self.ble
        if ble is None or not ble._active:
            return
        if op == "connect":
            _, conn, addr_type, addr = msg
            self.conns[conn] = {"addr": addr, "addr_type": addr_type, "mtu": ATT_DEFAULT_MTU,
                                "encrypted": 0, "bonded": 0}
            if self.adv is not None:
                self.adv = None             # the stack stops advertising on connect
                self._send({"op": "adv_stop"})
            self._addr_buf[:] = addr
            self._irq(_IRQ_CENTRAL_CONNECT, (conn, addr_type, memoryview(self._addr_buf)))
        elif op == "disconnect":
            conn = msg[1]
            c = self.conns.pop(conn, None)
            if c is None:
                return
            self._addr_buf[:] = c["addr"]
            self._irq(_IRQ_CENTRAL_DISCONNECT, (conn, c["addr_type"], memoryview(self._addr_buf)))
        elif op == "write":
            _, conn, handle, data = msg
            a = ble._attrs.get(handle)
            if conn not in self.conns or a is None:
                return
            if a.kind == "cccd":
                a.value = data[:2]
                return
            if not a.flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
                return                      # ATT error on the peer side
            if a.append:
                a.value = (a.value + data)[-a.size:]
            else:
                a.value = data[:a.size]
            self._irq(_IRQ_GATTS_WRITE, (conn, handle))
        elif op == "mtu":
            _, conn, mtu = msg
            if conn not in self.conns:
                return
            m = min(mtu, ble._mtu)
            if m < ATT_DEFAULT_MTU:
                m = ATT_DEFAULT_MTU
            self.conns[conn]["mtu"] = m
            self._irq(_IRQ_MTU_EXCHANGED, (conn, m))
        elif op == "encrypted":
            _, conn, enc, auth, bonded, key_size = msg
            c = self.conns.get(conn)
            if c is None:
                return
            if bonded and ble._bond:
                key = bytes((c["addr_type"],)) + c["addr"]
                known = self._irq(_IRQ_GET_SECRET, (_SEC_TYPE_PEER, 0, key))
                if known is None:
                    # fresh pairing: the stack asks the app to persist the keys
                    ok = self._irq(_IRQ_SET_SECRET, (_SEC_TYPE_PEER, key, bytes(os.urandom(16))))
                    if not ok:
                        bonded = 0
            elif not ble._bond:
                bonded = 0
            c["encrypted"] = enc
            c["bonded"] = bonded
            self._irq(_IRQ_ENCRYPTION_UPDATE, (conn, enc, auth, bonded, key_size))
        elif op == "read":
            _, conn, handle = msg
            if conn in self.conns and handle in ble._attrs:
                self._irq(_IRQ_GATTS_READ_REQUEST, (conn, handle))
                self._send({"op": "value", "handle": handle, "data": _hex(ble._attrs[handle].value)})
        elif op == "notify_status":
            _, conn, handle, status = msg
            self._irq(_IRQ_GATTS_INDICATE_DONE, (conn, handle, status))
        elif op == "lost":
            # the radio went away: every link drops
            for conn in list(self.conns):
                self._deliver(("disconnect", conn))


class SocketAir(Air):
    """Air over the TCP JSON-lines link to a CPython radio process."""
    keep_log = False   # the radio process has them; a log here grows until MemoryError

    def __init__(self, addr):
        Air.__init__(self)
        import socket
        host, port = addr.rsplit(":", 1)
        ai = socket.getaddrinfo(host, int(port))[0][-1]
        self.sock = socket.socket()
        self.sock.connect(ai)
        self.sock.setblocking(False)
        self._rx = b""

    def _send(self, msg):
        import json
        import select
        data = (json.dumps(msg) + "\n").encode()
        mv = memoryview(data)
        off = 0
        p = None
        while off < len(data):
            try:
                n = self.sock.write(mv[off:])
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    self._queue(("lost",))
                    return
                n = None
            if n:
                off += n
                continue
            if p is None:
                p = select.poll()
                p.register(self.sock, select.POLLOUT)
            p.poll(100)

    def _start(self, ble):
        started = self._event is not None
        Air._start(self, ble)
        if not started:
            import asyncio
            asyncio.create_task(self._rx_task())

    async def _rx_task(self):
        import asyncio
        import json
        reader = asyncio.StreamReader(self.sock)
        while True:
            data = await reader.read(1024)
            if not data:
                self._queue(("lost",))
                return
            self._rx += data
            while b"\n" in self._rx:
                line, self._rx = self._rx.split(b"\n", 1)
                if line.strip():
                    try:
                        self._queue(self._parse(json.loads(line)))
                    except (ValueError, KeyError, TypeError) as e:
                        print("bluetooth sim: bad radio message:", line, e)

    @staticmethod
    def _parse(m):
        op = m["op"]
        if op == "connect":
            return ("connect", m["conn"], m.get("addr_type", 0), _unhex(m["addr"]))
        if op == "disconnect":
            return ("disconnect", m["conn"])
        if op == "write":
            return ("write", m["conn"], m["handle"], _unhex(m["data"]))
        if op == "mtu":
            return ("mtu", m["conn"], m["mtu"])
        if op == "encrypted":
            return ("encrypted", m["conn"], m.get("encrypted", 1), m.get("authenticated", 0),
                    m.get("bonded", 0), m.get("key_size", 16))
        if op == "read":
            return ("read", m["conn"], m["handle"])
        if op == "notify_status":
            return ("notify_status", m["conn"], m["handle"], m.get("status", 0))
        raise ValueError("unknown op " + str(op))


_air_addr = os.getenv("REPBELT_AIR")
AIR = SocketAir(_air_addr) if _air_addr else Air()
_instance = None


def _adv_name(data):
    i = 0
    while i + 1 < len(data):
        ln = data[i]
        if ln == 0:
            break
        if data[i + 1] in (0x08, 0x09):
            return bytes(data[i + 2:i + 1 + ln]).decode()
        i += 1 + ln
    return None


class BLE:
    """The one radio (singleton, like the real `bluetooth.BLE()`)."""

    def __new__(cls, *args):
        global _instance
        if _instance is None:
            _instance = object.__new__(cls)
            _instance._init()
        return _instance

    def __init__(self, *args):
        pass

    def _init(self):
        self._active = False
        self._handler = None
        self._attrs = {}
        self._gap_name = "MPY BTSTACK"
        self._mtu = LOCAL_MTU_DEFAULT
        self._bond = False
        self._le_secure = False
        self._mitm = False
        self._io = 3
        self._adv_data = b""
        self._resp_data = b""
        m = os.getenv("REPBELT_BLE_MAC") or "a4cf12e1b0c7"
        self._mac = _unhex(m)

    def _need_active(self):
        if not self._active:
            raise OSError(errno.EPERM)

    def active(self, *args):
        if args:
            self._active = bool(args[0])
            if self._active:
                AIR._start(self)
            else:
                AIR.conns.clear()
                AIR.adv = None
        return self._active

    def config(self, *args, **kw):
        if args:
            if len(args) != 1 or kw:
                raise TypeError("must query one param")
            k = args[0]
            if k == "mac":
                self._need_active()
                return (0, self._mac)
            if k == "gap_name":
                return self._gap_name.encode()
            if k == "mtu":
                return self._mtu
            if k in ("bond", "le_secure", "mitm", "io"):
                return getattr(self, "_" + k)
            raise ValueError("unknown config param")
        for k, v in kw.items():
            if k == "gap_name":
                self._gap_name = v.decode() if isinstance(v, (bytes, bytearray)) else str(v)
            elif k == "mtu":
                if not 23 <= v <= 517:
                    raise ValueError("invalid mtu")
                self._mtu = v
            elif k in ("bond", "le_secure", "mitm"):
                setattr(self, "_" + k, bool(v))
            elif k == "io":
                self._io = v
            elif k in ("addr_mode", "rxbuf"):
                pass
            else:
                raise ValueError("unknown config param")
        return None

    def irq(self, handler):
        self._handler = handler

    def gatts_register_services(self, services):
        self._need_active()
        if AIR.conns:
            raise OSError(errno.EBUSY)
        self._attrs = {}
        h = _FIRST_HANDLE
        out = []
        desc = []
        for svc in services:
            suuid, chars = svc[0], svc[1]
            h += 1                          # service declaration
            handles = []
            cd = []
            for ch in chars:
                cuuid, flags = ch[0], ch[1]
                h += 2                      # declaration, then the value handle
                a = _Attr(cuuid, flags, "char")
                self._attrs[h] = a
                handles.append(h)
                cd.append({"uuid": str(cuuid), "flags": flags, "handle": h})
                if flags & (FLAG_NOTIFY | FLAG_INDICATE):
                    h += 1
                    self._attrs[h] = _Attr(UUID(0x2902), FLAG_READ | FLAG_WRITE, "cccd")
                for d in (ch[2] if len(ch) > 2 else ()):
                    h += 1
                    self._attrs[h] = _Attr(d[0], d[1], "desc")
                    handles.append(h)
            out.append(tuple(handles))
            desc.append({"uuid": str(suuid), "chars": cd})
        AIR.services = desc
        AIR._send({"op": "services", "services": desc})
        return tuple(out)

    def _attr(self, handle):
        a = self._attrs.get(handle)
        if a is None:
            raise OSError(errno.EINVAL)
        return a

    def gatts_read(self, handle):
        return self._attr(handle).value

    def gatts_write(self, handle, data, send_update=False):
        a = self._attr(handle)
        a.value = bytes(data)
        AIR._send({"op": "value", "handle": handle, "data": _hex(a.value)})
        if send_update:
            for conn in AIR.conns:
                self.gatts_notify(conn, handle)

    def gatts_set_buffer(self, handle, size, append=False):
        a = self._attr(handle)
        a.size = size
        a.append = append

    def _send_value(self, conn, handle, data, kind):
        self._need_active()
        a = self._attr(handle)
        c = AIR.conns.get(conn)
        if c is None:
            raise OSError(errno.ENOTCONN)
        if AIR._enomem_now():
            AIR.enomem_raised += 1
            raise OSError(errno.ENOMEM)
        data = a.value if data is None else bytes(data)
        lim = c["mtu"] - 3
        if len(data) > lim:
            AIR.truncated += 1          # the real stack truncates without a word
            data = data[:lim]
        if kind == "notify":
            if AIR.keep_log:
                AIR.notifications.append((conn, handle, data))
        else:
            if AIR.keep_log:
                AIR.indications.append((conn, handle, data))
            AIR._queue(("notify_status", conn, handle, 0))
        AIR._send({"op": "notify", "conn": conn, "handle": handle, "data": _hex(data)})

    def gatts_notify(self, conn, handle, data=None):
        self._send_value(conn, handle, data, "notify")

    def gatts_indicate(self, conn, handle, data=None):
        self._send_value(conn, handle, data, "indicate")

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        self._need_active()
        if interval_us is None:
            if AIR.adv is not None:
                AIR.adv = None
                AIR._send({"op": "adv_stop"})
            return
        if adv_data is not None:
            self._adv_data = bytes(adv_data)
        if resp_data is not None:
            self._resp_data = bytes(resp_data)
        if len(self._adv_data) > _ADV_MAX_BYTES or len(self._resp_data) > _ADV_MAX_BYTES:
            raise OSError(errno.EINVAL)
        name = _adv_name(self._adv_data) or _adv_name(self._resp_data) or self._gap_name
        AIR.adv = {"data": self._adv_data, "resp": self._resp_data, "interval_us": interval_us,
                   "connectable": connectable, "name": name}
        if AIR.keep_log:
            AIR.adv_log.append(AIR.adv)
        AIR._send({"op": "adv", "name": name, "data": _hex(self._adv_data),
                   "resp": _hex(self._resp_data), "interval_us": interval_us})

    def gap_disconnect(self, conn):
        self._need_active()
        if conn not in AIR.conns:
            return False
        AIR._send({"op": "disconnect", "conn": conn})
        AIR._queue(("disconnect", conn))
        return True

    def gap_pair(self, conn):
        self._need_active()
        if conn not in AIR.conns:
            raise OSError(errno.ENOTCONN)
