"""Talking to a repbelt board over USB serial (mpremote's transport): find it, probe it, copy files.

Used by `repbelt deploy`, `doctor`, `calibrate` and `capture`. Every failure a
user can hit becomes a `UserError` with the fix in one line.  The virtual
board (`sim/serial_board.py`) answers on a pseudo-terminal exactly like a
board on /dev/ttyUSB0, so all of this is tested against it.
"""
import ast
import json
import os
import time

from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from .errors import UserError

# USB-serial bridges found on ESP32 boards: CP210x, CH340/CH9102, FTDI, Espressif native USB
KNOWN_USB_VIDS = (0x10C4, 0x1A86, 0x0403, 0x303A)
REPL_TIMEOUT_S = 6           # a booting ESP32 answers within ~2 s
MIN_MICROPYTHON = (1, 22, 0)  # asyncio + bluetooth as the firmware uses them
MPY_MAJOR = 6                 # .mpy format written by mpy-cross 1.19+
FLASH_HELP = "docs/hardware.md#flashing-micropython"
FLASH_HINT = ("flash MicroPython first: `pip install mpflash && mpflash flash --version stable` "
              "or `esptool.py --chip esp32 erase_flash && esptool.py --chip esp32 write_flash -z "
              "0x1000 ESP32_GENERIC-v1.24.1.bin` (see %s)" % FLASH_HELP)

# mpy-cross -march names by the arch field of sys.implementation._mpy (bits 10+)
MPY_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
             "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")

PROBE_INFO = r"""
import sys, gc, os
gc.collect()
_i = sys.implementation
try:
    _v = os.statvfs('/')
    _fs = (_v[0] * _v[2], _v[0] * _v[3])
except Exception:
    _fs = (0, 0)
print(repr({'name': _i.name, 'version': tuple(_i.version[:3]), 'mpy': getattr(_i, '_mpy', 0),
            'machine': getattr(_i, '_machine', ''), 'platform': sys.platform,
            'mem_free': gc.mem_free(), 'mem_alloc': gc.mem_alloc(),
            'flash_total': _fs[0], 'flash_free': _fs[1]}))
"""


def find_port(port=None):
    """The serial port to use: the one given, $REPBELT_PORT, or the one USB ESP32 board found."""
    if port:
        if not os.path.exists(port) and "://" not in port:
            raise UserError("port %s does not exist: check the cable, or list ports with "
                            "`python -m serial.tools.list_ports`" % port)
        return port
    env = os.environ.get("REPBELT_PORT")
    if env:
        return find_port(env)
    import serial.tools.list_ports
    ports = [p for p in serial.tools.list_ports.comports() if p.vid is not None]
    known = [p for p in ports if p.vid in KNOWN_USB_VIDS]
    cands = known or ports
    if not cands:
        raise UserError("no board found: plug the ESP32 in with a data USB cable (charge-only "
                        "cables show nothing), or give --port PORT (the virtual board: "
                        "`repbelt sim` prints its port)")
    if len(cands) > 1:
        raise UserError("several serial ports found (%s): choose one with --port"
                        % ", ".join(p.device for p in cands))
    return cands[0].device


def mpy_arch(mpy):
    """The mpy-cross -march name for a board's sys.implementation._mpy (None: bytecode only)."""
    idx = (mpy >> 10) & 0x3F
    return MPY_ARCHS[idx] if idx < len(MPY_ARCHS) else None


def check_version(info):
    """UserError unless the board runs a MicroPython this firmware supports."""
    if info.get("name") != "micropython":
        raise UserError("the board runs %s, not MicroPython: %s" % (info.get("name"), FLASH_HINT))
    v = tuple(info["version"])
    if v < MIN_MICROPYTHON:
        raise UserError("the board runs MicroPython %s, repbelt needs %s or newer: update it "
                        "with `mpflash flash --version stable` (see %s)"
                        % (".".join(map(str, v)), ".".join(map(str, MIN_MICROPYTHON)), FLASH_HELP))
    if info["mpy"] & 0xFF != MPY_MAJOR:
        raise UserError("the board reads .mpy format v%d, this mpy-cross writes v%d: update "
                        "MicroPython with `mpflash flash --version stable`"
                        % (info["mpy"] & 0xFF, MPY_MAJOR))


class Board:
    """An open USB connection to a board in its raw REPL (the firmware interrupted).

    Use as a context manager; `exec`/`eval` run code on the board.  Leaving
    it does not reset the board: call `reset()` to start the firmware again.
    """

    def __init__(self, port, timeout_s=REPL_TIMEOUT_S):
        self.port = port
        try:
            # a read timeout: on /dev/pts/N mpremote reads blocking and would hang on a mute port
            self.t = SerialTransport(port, baudrate=115200, timeout=2)
        except TransportError:
            if not os.access(port, os.R_OK | os.W_OK):
                raise UserError("cannot open %s: permission denied: add yourself to the "
                                "dialout group (`sudo usermod -aG dialout $USER`, then log in "
                                "again)" % port) from None
            raise UserError("cannot open %s: it is in use by another program (close other "
                            "terminals, mpremote or Thonny) or unplugged" % port) from None
        self.raw = False
        self._enter(timeout_s)

    def _enter(self, timeout_s):
        for attempt in range(2):
            try:
                self.t.enter_raw_repl(soft_reset=False, timeout_overall=timeout_s / 2)
                self.raw = True
                self._resync()
                return
            except TransportError:
                time.sleep(0.3)   # a board that just reset ignores the first Ctrl-C
            except OSError as e:
                raise UserError("lost the connection to %s (%s): check the cable" % (self.port, e))
        self.close()
        raise UserError("no MicroPython REPL answers on %s: the board has no MicroPython or "
                        "another program holds the port; %s" % (self.port, FLASH_HINT))

    def _resync(self):
        # what a crashing or just-interrupted firmware printed may still be on
        # its way: wait for quiet, drop it, and ask for a fresh raw prompt
        ser = self.t.serial
        quiet_since = time.monotonic()
        end = quiet_since + 2.0
        while time.monotonic() < end:
            n = ser.inWaiting()
            if n:
                ser.read(n)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.15:
                break
            time.sleep(0.02)
        ser.write(b"\x01")
        data = self.t.read_until(1, b"raw REPL; CTRL-B to exit\r\n", timeout_overall=3)
        if not data.endswith(b"raw REPL; CTRL-B to exit\r\n"):
            raise TransportError("no raw REPL prompt")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.t is None:
            return
        try:
            if self.raw:
                self.t.exit_raw_repl()
            self.t.close()
        except (OSError, TransportError):
            pass
        self.t = None

    # --- running code -----------------------------------------------------
    def exec(self, code, timeout=10, consumer=None):
        """Run code on the board; returns its stdout (bytes). Raises TransportExecError."""
        out, err = self.t.exec_raw(code, timeout=timeout, data_consumer=consumer)
        if err:
            raise TransportExecError(out, err.decode(errors="replace"))
        return out

    def eval_repr(self, code, timeout=10):
        """Run code that prints one repr(); returns the Python value."""
        out = self.exec(code, timeout=timeout).decode(errors="replace").strip()
        line = out.splitlines()[-1] if out else ""
        return ast.literal_eval(line)

    def info(self):
        return self.eval_repr(PROBE_INFO)

    def soft_reset(self):
        """Fresh interpreter, still in the raw REPL (main.py does not run)."""
        self.t.serial.write(b"\x04")
        data = self.t.read_until(1, b"raw REPL; CTRL-B to exit\r\n", timeout_overall=10)
        if not data.endswith(b"raw REPL; CTRL-B to exit\r\n"):
            raise UserError("the board did not come back after a soft reset on %s: "
                            "press its EN/RST button and try again" % self.port)

    def reset(self):
        """Hard reset (machine.reset()): the firmware starts again. Closes the connection."""
        try:
            self.t.exec_raw_no_follow("import machine\nmachine.reset()")
        except (TransportError, OSError):
            pass
        self.raw = False
        try:
            self.t.close()
        except (OSError, TransportError):
            pass
        self.t = None

    # --- files --------------------------------------------------------------
    def read_file(self, path):
        """File contents (bytes) or None when missing."""
        try:
            return bytes(self.t.fs_readfile(path))
        except OSError:
            return None
        except TransportExecError as e:
            if "ENOENT" in e.error_output:
                return None
            raise

    def write_file(self, path, data):
        """Write atomically (path.tmp, then rename); a full flash becomes a UserError."""
        tmp = path + ".tmp"
        try:
            self.t.fs_writefile(tmp, data)
            self.exec("import os\nos.rename(%r, %r)" % (tmp, path))
        except (OSError, TransportExecError) as e:
            text = str(e) if isinstance(e, OSError) else e.error_output
            no_space = (isinstance(e, OSError) and e.errno == 28) or "ENOSPC" in text
            try:
                self.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass" % tmp)
            except TransportError:
                pass
            if no_space:
                info = self.info()
                raise UserError("the board's flash is full (%d KB free, %s needs %d KB): delete "
                                "old sessions with `repbelt sync --delete` or files with "
                                "`mpremote fs rm`, then deploy again"
                                % (info["flash_free"] // 1024, path, len(data) // 1024 + 1)) from None
            raise UserError("writing %s on the board failed: %s" % (path, text.strip().splitlines()[-1]))

    def remove(self, path):
        self.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass" % path)

    def mkdir(self, path):
        self.exec("import os\ntry:\n os.mkdir(%r)\nexcept OSError:\n pass" % path)

    def listdir(self, path="/"):
        """{name: size} of the plain files in a directory (sizes in bytes)."""
        return self.eval_repr(
            "import os\n_d=%r\nprint(repr({e[0]: os.stat(_d.rstrip('/') + '/' + e[0])[6] "
            "for e in os.ilistdir(_d) if e[1] & 0x4000 == 0}))" % path)

    def read_json(self, path):
        raw = self.read_file(path)
        if raw is None:
            return None
        try:
            return json.loads(raw.decode())
        except ValueError:
            return None


def watch_output(port, seconds, until=None):
    """Read what the board prints for up to `seconds` (after a reset); returns text.

    Stops early when the text contains `until`.
    """
    import serial
    end = time.monotonic() + seconds
    buf = bytearray()
    try:
        s = serial.Serial(port, 115200, timeout=0.1)
    except (OSError, serial.SerialException) as e:
        raise UserError("cannot open %s after the reset (%s): press the board's EN button"
                        % (port, e)) from None
    try:
        while time.monotonic() < end:
            b = s.read(512)
            if b:
                buf += b
                if until and until.encode() in buf:
                    break
    finally:
        s.close()
    return buf.decode(errors="replace")
