"""The virtual board as a BLE peripheral on a mock BlueZ, so the host's bleak code runs unmodified.

Two parts:

`MockBluez` (sync context manager): a private D-Bus daemon plus bluezoo (mock
BlueZ, started through `sim/bluezoo_launcher.py`, which fixes bluezoo 1.0.2
bugs) with two adapters: hci0 for the host (bleak), hci1 for the board.
`mock.env` is what a process needs to talk to it (`DBUS_SYSTEM_BUS_ADDRESS`,
`REPBELT_ADAPTER=hci0`).

`BluezRadio` (an `sim.air.AirServer` radio): turns the board's air messages
into a BlueZ GATT application and LE advertisement on hci1 (dbus-fast), and
BlueZ events back into air messages:

    board services      -> GattManager1.RegisterApplication on hci1
    board adv/adv_stop  -> LEAdvertisement1 (Discoverable; ServiceData rolls
                           every ADV_REFRESH_S so a late scanner still sees it)
    host connect/drop   -> air connect (+ mtu) / disconnect
    host pairing        -> air encrypted (bonded)
    host write          -> air write
    board notify        -> Value PropertiesChanged, then a Ping round trip to
                           bluezoo (paces bursts: dbus-fast drops a flooded
                           connection otherwise)
    board disconnect / board gone -> Device1.Disconnect of the host's device
                           object (bluezoo never notices a vanished peer itself)

Fault injection: `await radio.drop_link()`, `radio.loss_p = P`,
`radio.start_drop_every(mean_s)`.

Everything runs on one asyncio loop; `python -m sim.bluez_bridge` starts a
mock BlueZ plus an air server and prints their addresses (for processes that
want the radio out of process).
"""
import asyncio
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

try:
    from sim.air import AirServer, norm_uuid, parse_adv
except ImportError:            # run as a script: sim/ itself is on sys.path
    from air import AirServer, norm_uuid, parse_adv

log = logging.getLogger("repbelt.bluez_bridge")

BLUEZ = "org.bluez"
HOST_ADAPTER = "hci0"
BOARD_ADAPTER = "hci1"
HOST_ADDRESS = "00:00:00:00:00:01"
BOARD_ADDRESS = "00:00:00:00:00:02"
APP_PATH = "/org/repbelt/app"
ADV_PATH = "/org/repbelt/adv0"
AGENT_PATH = "/org/repbelt/agent"
ADV_REFRESH_S = 0.5
START_TIMEOUT_S = 15.0
SIM_DIR = Path(__file__).resolve().parent
LAUNCHER = SIM_DIR / "bluezoo_launcher.py"
ROLL_UUID = "5eb00000-0000-4000-8000-00000000aa00"   # bridge-only ServiceData key (rolling counter)

# MicroPython bluetooth FLAG_* -> BlueZ GattCharacteristic1 Flags
_FLAG_MAP = (
    (0x0001, "broadcast"), (0x0002, "read"), (0x0004, "write-without-response"),
    (0x0008, "write"), (0x0010, "notify"), (0x0020, "indicate"),
    (0x0040, "authenticated-signed-writes"), (0x0200, "encrypt-read"),
    (0x0400, "encrypt-authenticated-read"), (0x0800, "authorize"),
    (0x1000, "encrypt-write"), (0x2000, "encrypt-authenticated-write"),
)


def bluez_flags(mp_flags):
    return [name for bit, name in _FLAG_MAP if mp_flags & bit]


def device_path(adapter, address):
    return "/org/bluez/%s/dev_%s" % (adapter, address.upper().replace(":", "_"))


# ---------------------------------------------------------------- MockBluez

class MockBluez:
    """Private system bus + bluezoo with adapters hci0 (host) and hci1 (board).

    with MockBluez() as mb:
        os.environ.update(mb.env)     # before the host's bleak code first touches D-Bus
        ...

    `bluezoo=False` gives a bus with no BlueZ at all (the "Bluetooth service
    missing" case); `adapters=()` gives BlueZ without adapters.
    """

    def __init__(self, adapters=(HOST_ADDRESS, BOARD_ADDRESS), bluezoo=True, workdir=None,
                 log_level="warning"):
        self.adapters = tuple(adapters)
        self.with_bluezoo = bluezoo
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="repbelt-bluez-"))
        self.log_level = log_level
        self.bus_address = None
        self._dbus = None
        self._zoo = None
        self.bluezoo_log = self.workdir / "bluezoo.log"

    host_adapter = HOST_ADAPTER
    board_adapter = BOARD_ADAPTER
    host_address = HOST_ADDRESS
    board_address = BOARD_ADDRESS

    @property
    def env(self):
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.bus_address, "REPBELT_ADAPTER": HOST_ADAPTER}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        daemon = shutil.which("dbus-daemon")
        if not daemon:
            raise RuntimeError("dbus-daemon not found: sudo apt-get install dbus-daemon")
        sock = self.workdir / "bus"
        self._dbus = subprocess.Popen(
            [daemon, "--session", "--nofork", "--nopidfile", "--address=unix:path=%s" % sock,
             "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        line = self._dbus.stdout.readline().strip()
        if not line:
            self.stop()
            raise RuntimeError("dbus-daemon did not start")
        self.bus_address = line
        if not self.with_bluezoo:
            return self
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus_address)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        cmd = [sys.executable, str(LAUNCHER), "--auto-enable", "--scan-interval", "1"]
        if self.log_level == "debug":
            cmd.append("-vv")
        elif self.log_level == "info":
            cmd.append("-v")
        else:
            cmd.append("-q")
        for a in self.adapters:
            cmd += ["-a", a]
        self._zoo_log_f = open(self.bluezoo_log, "w")
        self._zoo = subprocess.Popen(cmd, env=env, stdout=self._zoo_log_f, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        try:
            _run_sync(self._wait_ready())
        except BaseException:
            self.stop()
            raise
        return self

    async def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        want = {"/org/bluez/hci%d" % i for i in range(len(self.adapters))}
        last = None
        while time.monotonic() < deadline:
            if self._zoo.poll() is not None:
                raise RuntimeError("bluezoo exited (%s): %s" % (self._zoo.returncode,
                                                               self.bluezoo_log.read_text()[-2000:]))
            try:
                bus = await MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM).connect()
                try:
                    reply = await asyncio.wait_for(bus.call(Message(
                        destination=BLUEZ, path="/", interface="org.freedesktop.DBus.ObjectManager",
                        member="GetManagedObjects")), 2.0)
                finally:
                    bus.disconnect()
                if reply.message_type == MessageType.METHOD_RETURN:
                    objs = reply.body[0]
                    powered = {p for p, ifs in objs.items()
                               if "org.bluez.Adapter1" in ifs and ifs["org.bluez.Adapter1"]["Powered"].value}
                    if want <= powered:
                        return
                    last = powered
            except (OSError, asyncio.TimeoutError) as e:
                last = e
            await asyncio.sleep(0.03)
        raise RuntimeError("bluezoo adapters not powered in time (%r)" % (last,))

    def stop(self):
        for p in (self._zoo, self._dbus):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self._zoo = self._dbus = None
        if getattr(self, "_zoo_log_f", None):
            self._zoo_log_f.close()
            self._zoo_log_f = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _die_with_parent():
    """preexec_fn: the bus and bluezoo go when the process that started them dies, even by SIGKILL (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:
        pass


def _run_sync(coro):
    """Run a coroutine to completion from sync code, also when the caller's thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box = {}

    def run():
        try:
            box["r"] = asyncio.run(coro)
        except BaseException as e:   # handed to the caller's thread
            box["e"] = e
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box.get("r")


# ---------------------------------------------------------------- GATT objects (board side)

class _Service(ServiceInterface):
    def __init__(self, uuid):
        super().__init__("org.bluez.GattService1")
        self.uuid = uuid

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True


class _Char(ServiceInterface):
    """One board characteristic. Write/Read go to the radio; notifications are Value PropertiesChanged."""

    def __init__(self, radio, service_path, uuid, handle, flags):
        super().__init__("org.bluez.GattCharacteristic1")
        self.radio = radio
        self.service_path = service_path
        self.uuid = uuid
        self.handle = handle
        self.flags = flags
        self.value = b""
        self.notifying = False
        self._fds = []

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":
        return self.radio.mtu

    # Methods are plain (not async) so they run in the order the bus delivers them,
    # interleaved correctly with the Connected/Paired signals.
    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        self.radio._from_host("read", options, self)
        return self.value

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}"):
        self.radio._from_host("write", options, self, bytes(value))

    @method()
    def StartNotify(self):
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @method()
    def StopNotify(self):
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    @method()
    def Confirm(self):
        pass

    def _pair(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Only the MTU of the reply matters to bleak (its mtu_size hack); keep
        # our end open until the link goes down so the peer does not see EOF.
        self._fds.append(a)
        return b.detach()

    @method()
    def AcquireWrite(self, options: "a{sv}") -> "hq":
        return [self._pair(), self.radio.mtu]

    @method()
    def AcquireNotify(self, options: "a{sv}") -> "hq":
        return [self._pair(), self.radio.mtu]

    def link_down(self):
        self.notifying = False
        for s in self._fds:
            s.close()
        self._fds.clear()


class _Advertisement(ServiceInterface):
    def __init__(self, name, uuids, service_data):
        super().__init__("org.bluez.LEAdvertisement1")
        self.local_name = name
        self.uuids = uuids
        self.service_data = dict(service_data)
        self.roll = 0

    def _sd(self):
        sd = {u: Variant("ay", v) for u, v in self.service_data.items()}
        sd[ROLL_UUID] = Variant("ay", bytes([self.roll & 0xFF]))
        return sd

    def roll_once(self):
        self.roll += 1
        self.emit_properties_changed({"ServiceData": self._sd()})

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":
        return self.local_name

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":
        return self.uuids

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        return self._sd()

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":
        return True

    @method()
    def Release(self):
        pass


class _Agent(ServiceInterface):
    """The desktop's default pairing agent, Just Works (what a GNOME/KDE session provides)."""

    def __init__(self):
        super().__init__("org.bluez.Agent1")

    @method()
    def Release(self):
        pass

    @method()
    def RequestConfirmation(self, device: "o", passkey: "u"):
        pass

    @method()
    def RequestAuthorization(self, device: "o"):
        pass

    @method()
    def AuthorizeService(self, device: "o", uuid: "s"):
        pass

    @method()
    def Cancel(self):
        pass


# ---------------------------------------------------------------- the radio

class BluezRadio:
    """Radio for `AirServer`: the board as a GATT server + advertiser on hci1 of a mock BlueZ."""

    def __init__(self, bus_address, adapter=BOARD_ADAPTER, host_adapter=HOST_ADAPTER,
                 mtu=247, loss_p=0.0, seed=None, register_agent=True, pace_notify=True):
        self.bus_address = bus_address
        self.adapter = adapter
        self.adapter_path = "/org/bluez/" + adapter
        self.host_adapter = host_adapter
        self.mtu = mtu
        self.loss_p = loss_p
        self._rng = random.Random(seed)
        self.register_agent = register_agent
        self.pace_notify = pace_notify
        self.air = None
        self.bus = None
        self.address = None
        self._chars = {}          # handle -> _Char
        self._exported = []       # paths
        self._app_registered = False
        self._adv = None
        self._adv_task = None
        self._drop_task = None
        self._conns = {}          # hci1 device path -> conn handle
        self._paired = set()      # hci1 device paths whose current link was reported encrypted
        self._bonded = set()      # hci1 device paths that paired once (keys kept, like BlueZ)
        self._next_conn = 0
        self._out = asyncio.Queue()
        self._sender = None
        self.advertising = asyncio.Event()   # set while the board's advertisement is registered
        self.stats = {"notified": 0, "lost": 0, "not_subscribed": 0, "truncated": 0,
                      "written": 0, "connects": 0, "disconnects": 0, "drops": 0}
        self.link_events = []     # (monotonic time, "connect"/"disconnect"/"drop", conn)

    def attach(self, air):
        self.air = air

    async def start(self):
        self.bus = await MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM,
                                    negotiate_unix_fd=True).connect()
        reply = await self.bus.call(Message(destination=BLUEZ, path=self.adapter_path,
                                            interface="org.freedesktop.DBus.Properties", member="Get",
                                            signature="ss", body=["org.bluez.Adapter1", "Address"]))
        _check(reply, "adapter %s" % self.adapter)
        self.address = reply.body[0].value
        await self.bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                    interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                                    body=["type='signal',sender='%s',interface='org.freedesktop.DBus.Properties',"
                                          "member='PropertiesChanged',path_namespace='%s'" % (BLUEZ, self.adapter_path)]))
        self.bus.add_message_handler(self._on_signal)
        if self.register_agent:
            self.bus.export(AGENT_PATH, _Agent())
            r = await self.bus.call(Message(destination=BLUEZ, path="/org/bluez", interface="org.bluez.AgentManager1",
                                            member="RegisterAgent", signature="os",
                                            body=[AGENT_PATH, "NoInputNoOutput"]))
            _check(r, "RegisterAgent")
        self._sender = asyncio.ensure_future(self._send_loop())
        return self

    async def close(self):
        for t in (self._adv_task, self._drop_task, self._sender):
            if t is not None:
                t.cancel()
        if self.bus is not None:
            self.bus.disconnect()
            self.bus = None

    # ---- board -> radio

    async def on_board(self, msg):
        op = msg.get("op")
        if op == "notify":
            await self._notify(msg)
        elif op == "value":
            ch = self._chars.get(msg.get("handle"))
            if ch is not None:
                ch.value = bytes.fromhex(msg.get("data", ""))
        elif op == "services":
            await self._register_services(msg.get("services", []))
        elif op == "adv":
            await self._advertise(msg)
        elif op == "adv_stop":
            await self._adv_stop()
        elif op == "disconnect":
            conn = msg.get("conn")
            if conn in self._conns.values():
                await self._disconnect_host_side()
        else:
            log.debug("bridge: ignoring board op %r", op)

    async def on_board_lost(self):
        # A board that resets or dies: the host's link times out, its services vanish.
        if self.bus is None or not self.bus.connected:
            return
        await self._adv_stop()
        if self._conns:
            await self._disconnect_host_side()
        await self._unregister_app()

    async def _notify(self, msg):
        conn = msg.get("conn")
        ch = self._chars.get(msg.get("handle"))
        if ch is None or conn not in self._conns.values():
            return
        data = bytes.fromhex(msg["data"]) if msg.get("data") else ch.value
        if not ch.notifying:
            self.stats["not_subscribed"] += 1
            return
        if self.loss_p and self._rng.random() < self.loss_p:
            self.stats["lost"] += 1
            return
        limit = self.mtu - 3
        if len(data) > limit:
            self.stats["truncated"] += 1
            data = data[:limit]
        ch.emit_properties_changed({"Value": data})
        self.stats["notified"] += 1
        if self.pace_notify:
            await self.bus.call(Message(destination=BLUEZ, path="/", interface="org.freedesktop.DBus.Peer",
                                        member="Ping"))

    async def _register_services(self, services):
        await self._unregister_app()
        for s_i, svc in enumerate(services):
            spath = "%s/service%d" % (APP_PATH, s_i)
            self.bus.export(spath, _Service(norm_uuid(svc["uuid"])))
            self._exported.append(spath)
            for c_i, ch in enumerate(svc.get("chars", [])):
                cpath = "%s/char%d" % (spath, c_i)
                obj = _Char(self, spath, norm_uuid(ch["uuid"]), ch["handle"], bluez_flags(ch.get("flags", 0)))
                self.bus.export(cpath, obj)
                self._exported.append(cpath)
                self._chars[ch["handle"]] = obj
        r = await self.bus.call(Message(destination=BLUEZ, path=self.adapter_path, interface="org.bluez.GattManager1",
                                        member="RegisterApplication", signature="oa{sv}", body=[APP_PATH, {}]))
        _check(r, "RegisterApplication")
        self._app_registered = True

    async def _unregister_app(self):
        if self._app_registered and self.bus is not None:
            r = await self.bus.call(Message(destination=BLUEZ, path=self.adapter_path,
                                            interface="org.bluez.GattManager1", member="UnregisterApplication",
                                            signature="o", body=[APP_PATH]))
            if r.message_type == MessageType.ERROR:
                log.debug("UnregisterApplication: %s", r.body)
        self._app_registered = False
        if self.bus is not None:
            for p in reversed(self._exported):
                self.bus.unexport(p)
        self._exported.clear()
        self._chars.clear()

    async def _advertise(self, msg):
        await self._adv_stop()
        info = parse_adv(bytes.fromhex(msg.get("data", "")) + bytes.fromhex(msg.get("resp", "") or ""))
        name = msg.get("name") or info["name"] or "board"
        self._adv = _Advertisement(name, info["uuids"], info["service_data"])
        self.bus.export(ADV_PATH, self._adv)
        r = await self.bus.call(Message(destination=BLUEZ, path=self.adapter_path,
                                        interface="org.bluez.LEAdvertisingManager1", member="RegisterAdvertisement",
                                        signature="oa{sv}", body=[ADV_PATH, {}]))
        _check(r, "RegisterAdvertisement")
        self._adv_task = asyncio.ensure_future(self._roll_adv(self._adv))
        self.advertising.set()

    async def _roll_adv(self, adv):
        # bluezoo announces a device once; changing ServiceData makes it announce again.
        while True:
            await asyncio.sleep(ADV_REFRESH_S)
            adv.roll_once()

    async def _adv_stop(self):
        if self._adv is None:
            return
        self.advertising.clear()
        if self._adv_task is not None:
            self._adv_task.cancel()
            self._adv_task = None
        if self.bus is not None:
            r = await self.bus.call(Message(destination=BLUEZ, path=self.adapter_path,
                                            interface="org.bluez.LEAdvertisingManager1",
                                            member="UnregisterAdvertisement", signature="o", body=[ADV_PATH]))
            if r.message_type == MessageType.ERROR:
                log.debug("UnregisterAdvertisement: %s", r.body)
            self.bus.unexport(ADV_PATH)
        self._adv = None

    # ---- host (BlueZ) -> radio

    def _on_signal(self, msg):
        if msg.message_type != MessageType.SIGNAL or msg.member != "PropertiesChanged":
            return
        iface, changed = msg.body[0], msg.body[1]
        if iface != "org.bluez.Device1" or not msg.path.startswith(self.adapter_path + "/dev_"):
            return
        path = msg.path
        if "Connected" in changed:
            if changed["Connected"].value and path not in self._conns:
                conn = self._next_conn
                self._next_conn += 1
                self._conns[path] = conn
                self.stats["connects"] += 1
                self.link_events.append((time.monotonic(), "connect", conn))
                addr = path.rsplit("dev_", 1)[1].replace("_", "").lower()
                # (the board's bluetooth module stops its own advertising on connect)
                self._out.put_nowait({"op": "connect", "conn": conn, "addr": addr, "addr_type": 0})
                self._out.put_nowait({"op": "mtu", "conn": conn, "mtu": self.mtu})
                if path in self._bonded:
                    # A bonded central re-encrypts with the stored key as soon as it connects.
                    self._paired.add(path)
                    self._out.put_nowait(self._encrypted_msg(conn))
            elif not changed["Connected"].value and path in self._conns:
                conn = self._conns.pop(path)
                self._paired.discard(path)
                self.stats["disconnects"] += 1
                self.link_events.append((time.monotonic(), "disconnect", conn))
                for ch in self._chars.values():
                    ch.link_down()
                self._out.put_nowait({"op": "disconnect", "conn": conn})
        if changed.get("Paired") is not None and changed["Paired"].value:
            conn = self._conns.get(path)
            self._bonded.add(path)
            if conn is not None and path not in self._paired:
                self._paired.add(path)
                self._out.put_nowait(self._encrypted_msg(conn))

    @staticmethod
    def _encrypted_msg(conn):
        return {"op": "encrypted", "conn": conn, "encrypted": 1, "authenticated": 0, "bonded": 1, "key_size": 16}

    def _from_host(self, op, options, ch, data=None):
        dev = options.get("device")
        conn = self._conns.get(dev.value if dev is not None else None)
        if conn is None and len(self._conns) == 1:
            conn = next(iter(self._conns.values()))
        if conn is None:
            return
        if op == "write":
            self.stats["written"] += 1
            self._out.put_nowait({"op": "write", "conn": conn, "handle": ch.handle, "data": data.hex()})
        else:
            self._out.put_nowait({"op": "read", "conn": conn, "handle": ch.handle})

    async def _send_loop(self):
        while True:
            msg = await self._out.get()
            if self.air is not None:
                await self.air.send(msg)

    # ---- fault injection

    async def _host_side_devices(self):
        """Paths of the host adapters' device objects that point at this board."""
        r = await self.bus.call(Message(destination=BLUEZ, path="/", interface="org.freedesktop.DBus.ObjectManager",
                                        member="GetManagedObjects"))
        _check(r, "GetManagedObjects")
        out = []
        for path, ifs in r.body[0].items():
            dev = ifs.get("org.bluez.Device1")
            if dev and dev["Address"].value.upper() == (self.address or "").upper() \
                    and not path.startswith(self.adapter_path + "/") and dev["Connected"].value:
                out.append(path)
        return out

    async def _disconnect_host_side(self):
        for path in await self._host_side_devices():
            r = await self.bus.call(Message(destination=BLUEZ, path=path, interface="org.bluez.Device1",
                                            member="Disconnect"))
            if r.message_type == MessageType.ERROR:
                log.warning("Disconnect %s: %s", path, r.body)

    async def drop_link(self):
        """Lose the radio link: both the host (bleak disconnect callback) and the board see a disconnect."""
        if not self._conns:
            return False
        self.stats["drops"] += 1
        self.link_events.append((time.monotonic(), "drop", None))
        await self._disconnect_host_side()
        return True

    def start_drop_every(self, mean_s, seed=None):
        """Drop the link at random, on average every mean_s seconds (exponential gaps)."""
        rng = random.Random(seed)

        async def loop():
            while True:
                await asyncio.sleep(rng.expovariate(1.0 / mean_s))
                await self.drop_link()
        self._drop_task = asyncio.ensure_future(loop())


def _check(reply, what):
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError("%s failed: %s %s" % (what, reply.error_name, reply.body))


# ---------------------------------------------------------------- out-of-process use

async def serve(air_port=0, loss_p=0.0, drop_every_s=None, mtu=247, ready=None):
    """Mock BlueZ + air server + bridge until cancelled; `ready(info)` gets the addresses."""
    with MockBluez() as mb:
        radio = BluezRadio(mb.bus_address, mtu=mtu, loss_p=loss_p)
        await radio.start()
        air = AirServer(radio, port=air_port)
        await air.start()
        if drop_every_s:
            radio.start_drop_every(drop_every_s)
        info = {"air": air.address, "env": mb.env}
        if ready is not None:
            ready(info)
        try:
            await asyncio.Event().wait()
        finally:
            await air.close()
            await radio.close()


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="mock BlueZ + air server for a virtual repbelt board")
    ap.add_argument("--air-port", type=int, default=0)
    ap.add_argument("--loss", type=float, default=0.0, help="probability to lose a notification")
    ap.add_argument("--drop-link", type=float, default=None, metavar="SECONDS",
                    help="drop the link at random about this often")
    ap.add_argument("--mtu", type=int, default=247)
    a = ap.parse_args(argv)

    def ready(info):
        print(json.dumps(info), flush=True)

    loop = asyncio.new_event_loop()
    task = loop.create_task(serve(a.air_port, a.loss, a.drop_link, a.mtu, ready))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()


if __name__ == "__main__":
    main()
