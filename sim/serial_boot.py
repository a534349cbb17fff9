# MicroPython (unix port) boot shim of the virtual board's USB serial side.
#
# `sim/serial_board.py` (CPython) starts `micropython serial_boot.py` behind a
# pseudo-terminal.  This script plays the part of the board's ROM + pyexec:
#
# - the board's flash is a host directory mounted at "/" (so absolute paths like
#   "/config.json" and relative ones both land in it), with a size quota that
#   raises OSError(ENOSPC) like a full littlefs and an honest os.statvfs;
# - the host file system stays reachable, hidden, under HOST_PREFIX (the
#   emulated hardware modules and the replayed trace live there);
# - on a (hard or soft) reset in friendly mode it runs boot.py then main.py,
#   then the friendly REPL (">>> ");
# - the raw REPL (Ctrl-A), raw-paste mode (Ctrl-E A Ctrl-A), Ctrl-B, Ctrl-C
#   (delivered as SIGINT by the supervisor, so it interrupts running code) and
#   Ctrl-D (soft reset) behave like MicroPython's pyexec, so mpremote works.
#
# A reset ends this process with an exit code the supervisor reads, and the
# supervisor starts a fresh interpreter: state is lost exactly as on a board.
import os
import sys
import errno
import gc

_real_os = os
_real_open = open
_flash = None

EXIT_SOFT_RAW = 10      # soft reset, come back in the raw REPL
EXIT_SOFT_FRIENDLY = 11  # soft reset, run boot.py/main.py, friendly REPL
EXIT_HARD = 12          # machine.reset(): like a power cycle
EXIT_EOF = 13           # the supervisor closed our stdin
RESET_EXIT_CODE = 3     # sim/upy/machine.py: machine.reset() raises SystemExit(3)

HOST_PREFIX = "/.host"
QUOTA_DEFAULT_BYTES = 2 * 1024 * 1024   # ESP32 4 MB flash: ~2 MB vfs partition
BLOCK_BYTES = 4096

CTRL_A = 1
CTRL_B = 2
CTRL_C = 3
CTRL_D = 4
CTRL_E = 5
RAW_PASTE_WINDOW_BYTES = 256

_env = os.getenv
_flash_dir = _env("REPBELT_BOARD_FLASH") or "."
_quota = int(_env("REPBELT_BOARD_QUOTA") or QUOTA_DEFAULT_BYTES)
_mode = _env("REPBELT_BOARD_MODE") or "friendly"
_sim_upy = _env("REPBELT_BOARD_SIM_UPY") or ""
_fake_version = _env("REPBELT_BOARD_FAKE_VERSION") or ""
# env vars holding host paths for the emulated hardware (sim/upy/machine.py)
_HOST_PATH_VARS = ("REPBELT_SIM_TRACE", "REPBELT_SIM_CONFIG", "REPBELT_SIM_TRACE_CACHE", "TMPDIR")
_banner_machine = "repbelt virtual board (MicroPython unix port)"


def _blocks(n):
    return (n + BLOCK_BYTES - 1) // BLOCK_BYTES


class _QuotaFile:
    # A file opened for writing on the flash: counts blocks against the quota.
    def __init__(self, vfs, f, path, size):
        self._vfs = vfs
        self._f = f
        self._path = path
        self._size = size

    def write(self, b):
        n = len(b)
        new_size = self._size + n
        grow = _blocks(new_size) - _blocks(self._size)
        if grow > 0 and self._vfs.used_blocks() + grow > self._vfs.total_blocks:
            raise OSError(errno.ENOSPC)
        w = self._f.write(b)
        self._size = new_size
        return w

    def read(self, *a):
        return self._f.read(*a)

    def readinto(self, *a):
        return self._f.readinto(*a)

    def readline(self, *a):
        return self._f.readline(*a)

    def seek(self, *a):
        return self._f.seek(*a)

    def tell(self):
        return self._f.tell()

    def flush(self):
        return self._f.flush()

    def close(self):
        return self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()


class Flash:
    # Size accounting of the board's flash (a host directory mounted at "/").
    #
    # The directory is mounted natively (os.VfsPosix): a Python-level VFS
    # object at "/" made the firmware run out of heap on MicroPython 1.29
    # preview.  The quota is enforced where code reaches the flash instead:
    # builtins.open (writes), os.mkdir and os.statvfs of the `os` code sees.
    def __init__(self, quota_bytes):
        self.total_blocks = quota_bytes // BLOCK_BYTES

    def used_blocks(self):
        return self._du("/") + 2   # littlefs keeps two blocks for its superblock

    def _du(self, d):
        n = 1
        for ent in _real_os.ilistdir(d):
            if d == "/" and ent[0] == HOST_PREFIX[1:]:
                continue
            p = d.rstrip("/") + "/" + ent[0]
            if ent[1] == 0x4000:
                n += self._du(p)
            else:
                n += _blocks(_real_os.stat(p)[6])
        return n

    def statvfs(self):
        total = self.total_blocks
        free = max(0, total - self.used_blocks())
        return (BLOCK_BYTES, BLOCK_BYTES, total, free, free, 0, 0, 0, 0, 255)


def _on_flash(path):
    if not path.startswith("/"):
        path = _real_os.getcwd().rstrip("/") + "/" + path
    return not (path == HOST_PREFIX or path.startswith(HOST_PREFIX + "/"))


def _open(path, mode="r", *args, **kw):
    if isinstance(path, int) or not _on_flash(path) or not ("w" in mode or "a" in mode or "+" in mode):
        return _real_open(path, mode, *args, **kw)
    size = 0
    if "a" in mode or "+" in mode:
        try:
            size = _real_os.stat(path)[6]
        except OSError:
            size = 0
    if "w" in mode and _flash.used_blocks() + 1 > _flash.total_blocks:
        raise OSError(errno.ENOSPC)
    return _QuotaFile(_flash, _real_open(path, mode, *args, **kw), path, size)


class _OsView:
    # `import os` for code on the board: the real os with the flash's size and
    # without the hidden host mount in listings of "/".
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def statvfs(self, path):
        if _on_flash(path):
            return _flash.statvfs()
        return self._real.statvfs(path)

    def mkdir(self, path):
        if _on_flash(path) and _flash.used_blocks() + 1 > _flash.total_blocks:
            raise OSError(errno.ENOSPC)
        return self._real.mkdir(path)

    def rename(self, a, b):
        # VfsPosix with a root (1.29 preview) fails renames of absolute paths
        # with ENOENT; relative ones work, so rename from the mount's root
        if not (a.startswith("/") and b.startswith("/")):
            return self._real.rename(a, b)
        fa, fb = _on_flash(a), _on_flash(b)
        if fa != fb:
            raise OSError(errno.EXDEV)
        root = "/" if fa else HOST_PREFIX
        cwd = self._real.getcwd()
        self._real.chdir(root)
        try:
            self._real.rename(a[len(root):].lstrip("/") if not fa else a.lstrip("/"),
                              b[len(root):].lstrip("/") if not fb else b.lstrip("/"))
        finally:
            self._real.chdir(cwd)

    def _is_root(self, path):
        return path == "/" or (path in ("", ".") and self._real.getcwd() == "/")

    def ilistdir(self, path=""):
        hide = self._is_root(path)
        for e in (self._real.ilistdir(path) if path else self._real.ilistdir()):
            if hide and e[0] == HOST_PREFIX[1:]:
                continue
            yield e

    def listdir(self, path=""):
        return [e[0] for e in self.ilistdir(path)]


class _Impl:
    # sys.implementation look-alike, for a board reporting another version.
    def __init__(self, real, version):
        self.name = real.name
        self.version = version
        self._machine = _banner_machine
        self._mpy = getattr(real, "_mpy", 0)
        self._build = getattr(real, "_build", "")

    def __repr__(self):
        return "(name=%r, version=%r, _machine=%r, _mpy=%d)" % (
            self.name, self.version, self._machine, self._mpy)


class _SysView:
    # `import sys` for code on the board: the real sys, other version if faked.
    def __init__(self, real, impl):
        self._real = real
        self.implementation = impl
        self.version = "3.4.0; MicroPython v%d.%d.%d" % impl.version[:3]

    def __getattr__(self, name):
        return getattr(self._real, name)


def _setup_world():
    global _host_upy
    global _flash, _real_open
    os.umount("/")
    os.mount(os.VfsPosix(_flash_dir), "/")
    os.mount(os.VfsPosix("/"), HOST_PREFIX)
    os.chdir("/")
    _flash = Flash(_quota)
    import builtins
    _real_open = builtins.open
    builtins.open = _open
    sys.modules["os"] = _OsView(os)
    # like ESP32: '' then /lib; the emulated hardware modules shadow files,
    # as built-in modules do on a real board
    path = ["", ".frozen", "/lib"]
    if _sim_upy:
        path.insert(0, HOST_PREFIX + _sim_upy)
    sys.path[:] = path
    # host paths handed to the emulated hardware (trace, config) must keep
    # pointing at the host now that "/" is the flash
    for k in _HOST_PATH_VARS:
        v = _env(k)
        if k == "TMPDIR" and not v:
            v = "/tmp"
        if v and v.startswith("/") and not v.startswith(HOST_PREFIX):
            os.putenv(k, HOST_PREFIX + v)
    os.putenv("REPBELT_SIM_FLASH", "/")
    # RTC memory and a pending deep-sleep wake live beside the flash, not on it
    if not _env("REPBELT_SIM_STATE") and _flash_dir.startswith("/"):
        os.putenv("REPBELT_SIM_STATE", HOST_PREFIX + _flash_dir.rstrip("/") + ".rtc.json")
    # sys.implementation says which board this is (and a faked version for tests)
    version = tuple(sys.implementation.version[:3])
    if _fake_version:
        parts = [int(x) for x in _fake_version.split(".")]
        while len(parts) < 3:
            parts.append(0)
        version = tuple(parts[:3])
    sys.modules["sys"] = _SysView(sys, _Impl(sys.implementation, version))


_out = sys.stdout
_inb = sys.stdin.buffer


def _w(s):
    _out.write(s)


def _getc():
    # One byte from the host; a Ctrl-C arrives as SIGINT (KeyboardInterrupt).
    try:
        b = _inb.read(1)
    except KeyboardInterrupt:
        return CTRL_C
    if not b:
        sys.exit(EXIT_EOF)
    return b[0]


class _Reset(Exception):
    def __init__(self, code):
        self.code = code


_globals = {"__name__": "__main__"}


def _run(src, filename, mode):
    # Run code like pyexec: tracebacks printed, SystemExit becomes a reset.
    try:
        code = compile(src, filename, mode)
        exec(code, _globals)
    except SystemExit as e:
        arg = e.args[0] if e.args else 0
        if arg == RESET_EXIT_CODE:
            raise _Reset(EXIT_HARD)
        raise _Reset(EXIT_SOFT_RAW if _mode == "raw" else EXIT_SOFT_FRIENDLY)
    except BaseException as e:   # noqa: B036 - the board prints everything
        sys.print_exception(e)


def _run_file(name):
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return False
    _run(src, name, "exec")
    return True


def _banner():
    v = sys.modules.get("sys", sys).implementation.version
    _w("MicroPython v%d.%d.%d on 2026-01-01; %s\r\nType \"help()\" for more information.\r\n"
       % (v[0], v[1], v[2], _banner_machine))


def raw_repl():
    # pyexec_raw_repl; returns when Ctrl-B asks for the friendly REPL
    global _mode
    _mode = "raw"
    while True:
        _w("raw REPL; CTRL-B to exit\r\n")
        while True:
            _w(">")
            line = bytearray()
            reset_banner = False
            while True:
                c = _getc()
                if c == CTRL_A:
                    if len(line) == 2 and line[0] == CTRL_E:
                        if line[1] == ord("A"):
                            _raw_paste()
                            line = None
                            break
                        _w("R\x00")
                        line = bytearray()
                        continue
                    reset_banner = True
                    break
                elif c == CTRL_B:
                    _w("\r\n")
                    _mode = "friendly"
                    return
                elif c == CTRL_C:
                    line = bytearray()
                elif c == CTRL_D:
                    break
                else:
                    line.append(c)
            if reset_banner:
                break
            if line is None:
                continue   # raw paste ran the code and printed its output
            _w("OK")
            if len(line) == 0:
                _w("\r\n")
                raise _Reset(EXIT_SOFT_RAW)
            _exec_raw(bytes(line))


def _exec_raw(src):
    # stdout, \x04, stderr (the traceback), \x04: like EXEC_FLAG_PRINT_EOF
    try:
        code = compile(src, "<stdin>", "exec")
    except BaseException as e:   # noqa: B036
        _w("\x04")
        sys.print_exception(e)
        _w("\x04")
        return
    err = None
    try:
        try:
            exec(code, _globals)
        except SystemExit as e:
            arg = e.args[0] if e.args else 0
            _w("\x04\x04")
            raise _Reset(EXIT_HARD if arg == RESET_EXIT_CODE else EXIT_SOFT_RAW)
        except BaseException as e:   # noqa: B036
            err = e
    except KeyboardInterrupt as e:
        err = e
    _w("\x04")
    if err is not None:
        sys.print_exception(err)
    _w("\x04")


def _raw_paste():
    # raw-paste mode: window flow control, \x04 ends the data
    _w("R\x01")
    _w(chr(RAW_PASTE_WINDOW_BYTES & 0xFF) + chr(RAW_PASTE_WINDOW_BYTES >> 8))
    _w("\x01")
    buf = bytearray()
    remain = RAW_PASTE_WINDOW_BYTES
    while True:
        c = _getc()
        if c == CTRL_C:
            _w("\x04")
            _getc()   # the host acknowledges with \x04
            return
        if c == CTRL_D:
            break
        buf.append(c)
        remain -= 1
        if remain == 0:
            remain = RAW_PASTE_WINDOW_BYTES
            _w("\x01")
    _w("\x04")   # end of data received
    _exec_raw(bytes(buf))


def friendly_repl():
    # a small friendly REPL: line input with echo and backspace
    global _mode
    _mode = "friendly"
    _banner()
    while True:
        _w(">>> ")
        line = bytearray()
        while True:
            c = _getc()
            if c == CTRL_A:
                _w("\r\n")
                _mode = "raw"
                return
            if c == CTRL_B:
                _w("\r\n")
                _banner()
                line = None
                break
            if c == CTRL_C:
                _w("\r\n")
                line = None
                break
            if c == CTRL_D:
                if not line:
                    _w("\r\n")
                    raise _Reset(EXIT_SOFT_FRIENDLY)
                continue
            if c in (13, 10):
                _w("\r\n")
                break
            if c in (8, 127):
                if line:
                    line.pop()
                    _w("\b \b")
                continue
            if c >= 32:
                line.append(c)
                _w(chr(c))
        if line:
            src = bytes(line).decode()
            try:
                try:
                    _run(src, "<stdin>", "single")
                except SyntaxError:
                    _run(src, "<stdin>", "exec")
            except KeyboardInterrupt as e:
                sys.print_exception(e)


def main():
    _setup_world()
    try:
        try:
            sys.stderr.write("\x00ready\n")   # the supervisor may now deliver Ctrl-C as SIGINT
            # boot.py runs after every reset; main.py only in friendly mode
            _run_file("boot.py")
            gc.collect()
            if _mode != "raw":
                _run_file("main.py")
        except KeyboardInterrupt as e:
            sys.print_exception(e)
        while True:
            try:
                if _mode == "raw":
                    raw_repl()
                else:
                    friendly_repl()
            except KeyboardInterrupt:
                # a Ctrl-C that landed between two reads: like a clear-line
                pass
    except _Reset as r:
        if r.code != EXIT_HARD:
            _w("MPY: soft reboot\r\n")
        sys.exit(r.code)


main()
