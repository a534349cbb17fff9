"""A whole virtual board for `repbelt sim` and `repbelt demo`: USB pty, emulated sensor, BLE via mock BlueZ.

    with VirtualBoard(workdir, speed=10) as vb:
        board_deploy.deploy(vb.port)          # like a USB board (mpremote transport)
        vb.play(trace)                        # the wearer starts moving: trace replay from t=0
        env = vb.host_env                     # DBUS_SYSTEM_BUS_ADDRESS + REPBELT_ADAPTER for bleak

Pieces (all started and stopped here): `sim.bluez_bridge.MockBluez` (private
D-Bus + bluezoo), `sim.air.RadioThread` with `BluezRadio` (the board's air
socket becomes a BlueZ peripheral), `sim.serial_board.SerialBoard` (the
firmware from the board's flash on the MicroPython unix port behind a pty).

Fault injection, in trace seconds (wall seconds = trace seconds / speed):
`drop_link_s` (drop the link at random about that often), `reset_at_s`
(hard-reset the board once at that trace time), `loss` (probability to lose
each notification).
"""
import os
import sys
import threading
import time
from pathlib import Path

from .errors import UserError
from .paths import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LEAD_IN_MS = 30000   # the wearer stands still this long before the trace starts (connect time)
CACHE_TIMEOUT_S = 120


class VirtualBoard:
    def __init__(self, workdir, speed=1.0, loss=0.0, drop_link_s=None, reset_at_s=None,
                 port_link=None, quota_bytes=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.speed = float(speed)
        if self.speed <= 0:
            raise UserError("--speed must be above 0 (1 = real time)")
        if not 0.0 <= loss < 1.0:
            raise UserError("--loss is a probability: 0 <= P < 1")
        self.loss = loss
        self.drop_link_s = drop_link_s
        self.reset_at_s = reset_at_s
        self.port_link = Path(port_link) if port_link else self.workdir / "board.port"
        self.quota_bytes = quota_bytes
        self.mock = self.radio = self.board = None
        self._timers = []
        self.resets_done = 0

    @property
    def port(self):
        return self.board.port

    @property
    def host_env(self):
        return dict(self.mock.env)

    @property
    def flash_dir(self):
        return self.workdir / "flash"

    def start(self):
        from sim.air import RadioThread
        from sim.bluez_bridge import BluezRadio, MockBluez
        from sim.serial_board import SerialBoard
        try:
            # its own short temp dir: unix socket paths are limited to 108 bytes
            self.mock = MockBluez().start()
        except (OSError, RuntimeError) as e:
            raise UserError("cannot start the mock Bluetooth stack (%s): run `make setup` "
                            "(needs dbus-daemon)" % e) from None
        bus = self.mock.bus_address
        self.radio = RadioThread(lambda: BluezRadio(bus, loss_p=self.loss)).start()
        env = {"REPBELT_AIR": self.radio.air_address, "REPBELT_SIM_SPEED": _num(self.speed)}
        self.board = SerialBoard(self.flash_dir, link=self.port_link, env=env,
                                 quota_bytes=self.quota_bytes, continue_world=True,
                                 log_path=self.workdir / "board.log").start()
        return self

    def play(self, trace, lead_in_ms=LEAD_IN_MS):
        """Boot the board into a world replaying `trace` (after lead_in_ms of standing still)."""
        trace = Path(trace).resolve()
        st = trace.stat()
        cache_was_there = None
        # the emulated sensor converts the CSV to a binary cache once (seconds for a
        # long trace): name it, so we can wait for it before anyone scans
        cache = self.workdir / ("trace-%s-%d-%d.bin" % (trace.stem, st.st_size, int(st.st_mtime)))
        cache_was_there = cache.exists()
        self.board.restart_world({"REPBELT_SIM_TRACE": str(trace),
                                  "REPBELT_SIM_TRACE_CACHE": str(cache)}, start_ms=-lead_in_ms)
        deadline = time.monotonic() + CACHE_TIMEOUT_S
        while not cache.exists():
            if time.monotonic() > deadline:
                raise UserError("the virtual board did not load %s in %d s: see %s"
                                % (trace.name, CACHE_TIMEOUT_S, self.workdir / "board.log"))
            time.sleep(0.1)
        if not cache_was_there:
            # the world started while the cache was being made: start it again now
            self.board.restart_world(start_ms=-lead_in_ms)
        if self.drop_link_s:
            self.radio.loop.call_soon_threadsafe(self.radio.radio.start_drop_every,
                                                 self.drop_link_s / self.speed)
        if self.reset_at_s is not None:
            delay = (lead_in_ms / 1000.0 + self.reset_at_s) / self.speed
            t = threading.Timer(delay, self._reset)
            t.daemon = True
            t.start()
            self._timers.append(t)

    def _reset(self):
        if self.board is not None:
            self.board.hard_reset()
            self.resets_done += 1

    def world_s(self):
        return self.board.world_ms() / 1000.0

    def stats(self):
        st = dict(getattr(self.radio.radio, "stats", {}) or {})
        st["board_boots"] = self.board.boots
        st["resets_injected"] = self.resets_done
        return st

    def stop(self):
        for t in self._timers:
            t.cancel()
        for part in (self.board, self.radio, self.mock):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - tearing down, keep stopping the rest
                    pass
        self.board = self.radio = self.mock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _num(x):
    return ("%d" % x) if float(x).is_integer() else ("%g" % x)


def trace_duration_s(path):
    """Last t of a trace CSV (seconds), read from its tail."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read().decode(errors="replace").strip().splitlines()
    for line in reversed(tail):
        first = line.split(",")[0]
        try:
            return float(first)
        except ValueError:
            continue
    raise UserError("%s has no samples" % path)
