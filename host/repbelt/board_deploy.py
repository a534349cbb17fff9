"""Deploying the firmware to a board: pick the files, compile them for the board, copy what changed.

The board keeps a manifest (`/rb_manifest.json`: file name -> sha256 of what
was copied).  A file enters the manifest only after it was written in full
and renamed into place, and the manifest is rewritten after every file, so a
copy that was interrupted (cable pulled, Ctrl-C) is finished by the next
deploy, which copies only what is missing or different.
"""
import ast
import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

from . import __version__
from .board_usb import Board, check_version, mpy_arch, watch_output
from .errors import UserError
from . import paths
from .paths import FIRMWARE, THRESHOLDS

MANIFEST = "rb_manifest.json"
MANIFEST_FORMAT = "repbelt-manifest/1"
CONFIG = "config.json"
ENTRY_FILES = ("main.py", "boot.py")      # stay source: MicroPython runs them by name
# modules the host's own board-side snippets import (doctor, calibrate, capture)
DIAG_MODULES = ("rb_board", "rb_mpu", "rb_config", "rb_events")
BOOT_WATCH_S = 2.0                         # a firmware that crashes at boot does so within this
MPY_CROSS_SUBVERSION = 3                   # mpy-cross 1.29 writes .mpy v6.3


def firmware_files(fw_dir=FIRMWARE):
    """Source files the board needs: main.py and boot.py and every rb_* module they import."""
    fw_dir = Path(fw_dir)
    roots = [fw_dir / n for n in ENTRY_FILES if (fw_dir / n).exists()]
    if not roots:
        return sorted(fw_dir.glob("rb_*.py"))
    seen = {}
    todo = list(roots) + [fw_dir / (m + ".py") for m in DIAG_MODULES if (fw_dir / (m + ".py")).exists()]
    while todo:
        p = todo.pop()
        if p.name in seen:
            continue
        seen[p.name] = p
        for mod in _imports(p):
            q = fw_dir / (mod + ".py")
            if q.exists() and q.name not in seen:
                todo.append(q)
    return sorted(seen.values())


def _imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def mpy_cross_bin():
    try:
        return paths.mpy_cross_bin()
    except FileNotFoundError as e:
        raise UserError(str(e))


def build(files, board_mpy, out_dir):
    """Compile to .mpy for the board's format; returns {board name: bytes}."""
    out = {}
    arch = mpy_arch(board_mpy)
    sub = (board_mpy >> 8) & 3
    args = [mpy_cross_bin()]
    # -march pins the sub-version too; bytecode alone loads on every v6.x
    if arch and sub == MPY_CROSS_SUBVERSION:
        args.append("-march=" + arch)
    for src in files:
        if src.name in ENTRY_FILES:
            out[src.name] = src.read_bytes()
            continue
        dst = Path(out_dir) / (src.stem + ".mpy")
        r = subprocess.run(args + paths.mpy_cross_args(src.stem) + ["-s", src.name, "-o", str(dst), str(src)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise UserError("mpy-cross could not compile %s: %s"
                            % (src.name, (r.stderr or r.stdout).strip().splitlines()[-1]))
        out[dst.name] = dst.read_bytes()
    if THRESHOLDS.exists():
        out["thresholds.json"] = THRESHOLDS.read_bytes()
    return out


def sha(data):
    return hashlib.sha256(data).hexdigest()


def build_id(image):
    h = hashlib.sha256()
    for name in sorted(image):
        h.update(name.encode() + b"\0" + image[name])
    return h.hexdigest()[:12]


def plan(image, manifest, on_board):
    """Names to copy and to delete, given the image, the board's manifest and its file sizes."""
    have = (manifest or {}).get("files", {})
    copy = [n for n in sorted(image)
            if have.get(n) != sha(image[n]) or on_board.get(n) != len(image[n])]
    stems = {n.rsplit(".", 1)[0] for n in image if n not in ENTRY_FILES and n.endswith(".mpy")}
    delete = []
    for n in sorted(on_board):
        if n in image:
            continue
        stem, _, ext = n.rpartition(".")
        # an old rb_x.py would shadow the new rb_x.mpy (MicroPython tries .py first)
        if (ext in ("py", "mpy") and stem in stems) or n in have or n.endswith(".tmp"):
            delete.append(n)
    return copy, delete


def config_defaults():
    """rb_config.DEFAULTS of the firmware (the board validates; missing fields are a fault)."""
    try:
        import rb_config
        return dict(rb_config.DEFAULTS)
    except (ImportError, AttributeError):
        return {}


def merge_config(old, updates):
    cfg = config_defaults()
    cfg.update(old or {})
    for k, v in (updates or {}).items():
        if v is not None:
            cfg[k] = v
    return cfg


def deploy(port, config_updates=None, progress=None, fw_dir=FIRMWARE, stop_after=None):
    """Deploy to the board on `port`; returns a summary dict.

    progress(msg) is called with one line per step.  stop_after=N stops
    after N copied files without resetting (tests use it to interrupt a copy).
    """
    say = progress or (lambda msg: None)
    files = firmware_files(fw_dir)
    with Board(port) as b:
        info = b.info()
        check_version(info)
        say("board: MicroPython %s, .mpy v%d.%d %s, %d KB flash free"
            % (".".join(map(str, info["version"])), info["mpy"] & 0xFF, (info["mpy"] >> 8) & 3,
               mpy_arch(info["mpy"]) or "bytecode", info["flash_free"] // 1024))
        with tempfile.TemporaryDirectory(prefix="repbelt-mpy-") as tmp:
            image = build(files, info["mpy"], tmp)
        bid = build_id(image)
        manifest = b.read_json(MANIFEST) or {}
        if manifest.get("format") != MANIFEST_FORMAT:
            manifest = {}
        on_board = b.listdir("/")
        copy, delete = plan(image, manifest, on_board)
        need = sum(len(image[n]) for n in copy) - sum(on_board.get(n, 0) for n in copy)
        if need > info["flash_free"]:
            raise UserError("the board's flash is full (%d KB free, the firmware needs %d KB "
                            "more): delete old sessions with `repbelt sync --delete` or files "
                            "with `mpremote fs rm`, then deploy again"
                            % (info["flash_free"] // 1024, need // 1024 + 1))
        files_sha = dict(manifest.get("files", {}))
        for n in delete:
            b.remove(n)
            files_sha.pop(n, None)
        new_manifest = {"format": MANIFEST_FORMAT, "version": __version__, "build": bid,
                        "mpy": info["mpy"], "files": files_sha}
        copied = []
        for i, n in enumerate(copy):
            if stop_after is not None and i >= stop_after:
                return {"copied": copied, "deleted": delete, "interrupted": True, "build": bid}
            say("copy %s (%d bytes)" % (n, len(image[n])))
            files_sha.pop(n, None)
            b.write_file(n, image[n])
            files_sha[n] = sha(image[n])
            copied.append(n)
            # the manifest is the resume point of an interrupted copy
            b.write_file(MANIFEST, json.dumps(new_manifest, sort_keys=True).encode())
        if not copy and (delete or manifest.get("build") != bid):
            b.write_file(MANIFEST, json.dumps(new_manifest, sort_keys=True).encode())
        old_cfg = b.read_json(CONFIG)
        cfg = merge_config(old_cfg, config_updates)
        config_written = False
        if cfg != old_cfg:
            b.write_file(CONFIG, (json.dumps(cfg, sort_keys=True) + "\n").encode())
            config_written = True
            say("config written: %s" % ", ".join(sorted(cfg)) if cfg else "config written")
        # a fresh interpreter imports the new files: prove they load and find the sensor
        b.soft_reset()
        check = probe_firmware(b)
        b.reset()
    say("reset: the firmware is starting")
    boot = watch_output(port, BOOT_WATCH_S, until="Traceback")
    if "Traceback" in boot:
        last = [ln for ln in boot.splitlines() if ln.strip()][-1]
        raise UserError("the firmware crashed at boot (%s): run `repbelt doctor`, and report it "
                        "with the output of `mpremote connect %s repl`" % (last.strip(), port))
    return {"copied": copied, "deleted": delete, "interrupted": False, "build": bid,
            "config_written": config_written, "info": info, "check": check}


PROBE_FIRMWARE = r"""
_r = {}
try:
    import rb_board, rb_mpu
    _i2c = rb_board.make_i2c()
    try:
        import rb_config
        _c = rb_config.Config(rb_board.CONFIG_PATH)
        _rate = _c.get('rate_hz')
    except Exception:
        _rate = 100
    _m = rb_mpu.MPU(_i2c, addr=rb_board.MPU_ADDR, rate_hz=_rate)
    _m.start()
    _r['sensor'] = _m.chip
    _r['addr'] = _m.addr
    _r['rate_hz'] = _m.rate_hz
except ImportError as e:
    _r['import_error'] = str(e)
except Exception as e:
    _r['sensor_error'] = '%s: %s' % (type(e).__name__, e)
for _n in ('rb_app', 'rb_engine', 'rb_ble'):
    try:
        __import__(_n)
    except ImportError as e:
        if 'no module named' in str(e) and _n not in str(e):
            _r['import_error'] = '%s: %s' % (_n, e)
    except Exception as e:
        _r['import_error'] = '%s: %s: %s' % (_n, type(e).__name__, e)
print(repr(_r))
"""


def probe_firmware(board):
    """Import the firmware on the board and start the sensor; UserError when it fails."""
    try:
        r = board.eval_repr(PROBE_FIRMWARE, timeout=15)
    except Exception as e:  # noqa: BLE001 - any failure here is a broken image
        raise UserError("the firmware does not start on the board (%s): run `repbelt deploy` "
                        "again; if it keeps failing run `repbelt doctor`" % str(e).strip()[-200:])
    if "import_error" in r:
        raise UserError("the firmware on the board fails to import (%s): run `repbelt deploy` "
                        "again" % r["import_error"])
    return r
