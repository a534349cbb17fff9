"""USB board path against the virtual board's pseudo-terminal: deploy, doctor, calibrate, capture.

Every test talks to `sim/serial_board.py` (the unmodified firmware on the
MicroPython unix port, flash directory at "/", emulated MPU6050) through a
real pty with mpremote's transport, exactly as to /dev/ttyUSB0.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sim"))
sys.path.insert(0, str(REPO / "host"))

from serial_board import SerialBoard  # noqa: E402
from repbelt import board_calibrate, board_deploy, board_usb  # noqa: E402
from repbelt.errors import UserError  # noqa: E402

REPBELT = str(Path(sys.executable).parent / "repbelt")
SPEED = 4     # emulated sensor runs 4x real time in the calibration/capture tests

pytestmark = pytest.mark.timeout(180)


def board(tmp_path, name="b", **kw):
    return SerialBoard(tmp_path / name, link=tmp_path / (name + ".port"), **kw)


@pytest.fixture(scope="module")
def deployed_flash(tmp_path_factory):
    """A flash directory with the firmware deployed once (copied for tests that need it)."""
    tmp = tmp_path_factory.mktemp("tmpl")
    with board(tmp, "tmpl") as b:
        r = board_deploy.deploy(b.port)
    assert not r["interrupted"]
    return tmp / "tmpl"


def with_firmware(tmp_path, deployed_flash, name="b", **kw):
    shutil.copytree(deployed_flash, tmp_path / name)
    return board(tmp_path, name, **kw)


def run_cli(*args, timeout=120):
    return subprocess.run([REPBELT, *args], capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k != "REPBELT_PORT"})


# --- deploy ---------------------------------------------------------------------------

def test_deploy_to_empty_board_then_nothing_to_copy(tmp_path):
    with board(tmp_path) as b:
        r = run_cli("deploy", "--port", b.port, "--name", "belt-test")
        assert r.returncode == 0, r.stderr
        flash = tmp_path / "b"
        man = json.loads((flash / "rb_manifest.json").read_text())
        expected = {p.name for p in board_deploy.firmware_files()}
        mpys = {n for n in man["files"] if n.endswith(".mpy")}
        assert {n[:-4] + ".py" for n in mpys} | {"main.py"} == expected
        assert "main.py" in man["files"] and "thresholds.json" in man["files"]
        for n, h in man["files"].items():   # what the manifest says is really on the flash
            assert board_deploy.sha((flash / n).read_bytes()) == h, n
        assert (flash / "rb_engine.mpy").read_bytes()[:2] == b"M\x06"   # .mpy v6
        cfg = json.loads((flash / "config.json").read_text())
        assert cfg["name"] == "belt-test"
        assert "sensor mpu6050 at 0x68" in r.stdout
        assert "%d files copied" % len(man["files"]) in r.stdout
        r2 = run_cli("deploy", "--port", b.port)
        assert r2.returncode == 0, r2.stderr
        assert "up to date" in r2.stdout and "nothing copied" in r2.stdout
        assert json.loads((flash / "config.json").read_text())["name"] == "belt-test"
        # the firmware runs after the reset: the board boots main.py again
        assert b.exit_codes.count(board_deploy_exit_hard()) >= 2


def board_deploy_exit_hard():
    import serial_board
    return serial_board.EXIT_HARD


def test_interrupted_copy_is_finished_by_next_deploy(tmp_path):
    with board(tmp_path) as b:
        r = board_deploy.deploy(b.port, stop_after=3)
        assert r["interrupted"] and len(r["copied"]) == 3
        flash = tmp_path / "b"
        # and a file torn in the middle of its copy (cable pulled)
        torn = sorted(p for p in flash.glob("*.mpy") if p.name not in r["copied"])
        victim = r["copied"][1]
        (flash / victim).write_bytes((flash / victim).read_bytes()[:100])
        (flash / "rb_x.mpy.tmp").write_bytes(b"partial")
        assert not torn   # only 3 files made it
        r2 = board_deploy.deploy(b.port)
        total = len(board_deploy.firmware_files()) + 1   # + thresholds.json
        assert not r2["interrupted"]
        assert set(r2["copied"]) == (set(json.loads((flash / "rb_manifest.json").read_text())["files"])
                                     - set(r["copied"])) | {victim}
        assert len(r2["copied"]) == total - 2
        assert "rb_x.mpy.tmp" in r2["deleted"] and not (flash / "rb_x.mpy.tmp").exists()
        assert r2["check"]["sensor"] == "mpu6050"
        assert board_deploy.deploy(b.port)["copied"] == []


def test_stale_source_module_is_removed(tmp_path, deployed_flash):
    with with_firmware(tmp_path, deployed_flash) as b:
        (tmp_path / "b" / "rb_engine.py").write_text("raise ImportError('stale')\n")
        r = board_deploy.deploy(b.port)
        assert "rb_engine.py" in r["deleted"]
        assert not (tmp_path / "b" / "rb_engine.py").exists()


def test_wrong_micropython_version_is_refused(tmp_path):
    with board(tmp_path, fake_version="1.19.1") as b:
        r = run_cli("deploy", "--port", b.port)
        assert r.returncode == 2
        err = r.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert "MicroPython 1.19.1" in err and "1.22.0 or newer" in err and "mpflash" in err
        assert not (tmp_path / "b" / "rb_manifest.json").exists()


def test_no_board_found(tmp_path, monkeypatch):
    monkeypatch.delenv("REPBELT_PORT", raising=False)
    import serial.tools.list_ports
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [])
    with pytest.raises(UserError, match="no board found.*--port"):
        board_usb.find_port(None)
    with pytest.raises(UserError, match="does not exist"):
        board_usb.find_port(str(tmp_path / "ttyUSB9"))
    r = run_cli("deploy", "--port", str(tmp_path / "ttyUSB9"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_port_without_micropython(tmp_path):
    # a serial device that never answers: a board with no MicroPython on it
    import pty
    master, slave = pty.openpty()
    try:
        with pytest.raises(UserError, match="no MicroPython REPL answers.*mpflash.*esptool"):
            board_usb.Board(os.ttyname(slave), timeout_s=2)
    finally:
        os.close(master)
        os.close(slave)


def test_full_flash_is_a_clear_error(tmp_path):
    with board(tmp_path, quota_bytes=48 * 1024) as b:
        r = run_cli("deploy", "--port", b.port)
        assert r.returncode == 2
        assert "flash is full" in r.stderr and "KB free" in r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # the write path itself: ENOSPC from the flash while copying
    with board(tmp_path, "c", quota_bytes=24 * 1024) as b:
        with board_usb.Board(b.port) as bb:
            with pytest.raises(UserError, match="flash is full"):
                bb.write_file("big.bin", b"x" * 40000)
            assert "big.bin.tmp" not in bb.listdir("/")


# --- doctor -------------------------------------------------------------------------------

def test_doctor_table(tmp_path, deployed_flash):
    with with_firmware(tmp_path, deployed_flash) as b:
        r = run_cli("doctor", "--port", b.port, "--json")
        rows = {x["check"]: x for x in json.loads(r.stdout)}
        assert r.returncode == 0, r.stderr
        assert rows["MicroPython"]["status"] == "ok" and rows["MicroPython"]["value"].startswith("1.29")
        assert rows["sensor"]["value"] == "mpu6050 at 0x68"
        assert "100 Hz configured" in rows["sample rate"]["value"]
        measured = int(rows["sample rate"]["value"].split(", ")[1].split()[0])
        assert 70 <= measured <= 130
        assert rows["BLE"]["status"] == "ok" and rows["BLE"]["value"].startswith("up as repbelt-")
        assert rows["firmware"]["status"] == "ok" and "build" in rows["firmware"]["value"]
        assert rows["mount calibration"]["status"] == "warn"
        assert int(rows["free heap"]["value"].split()[0]) > 40
        t = run_cli("doctor", "--port", b.port)
        assert "repbelt doctor" in t.stdout and "mount calibration" in t.stdout


def test_doctor_flags_missing_sensor(tmp_path, deployed_flash):
    with with_firmware(tmp_path, deployed_flash, env={"REPBELT_SIM_ADDR": "none"}) as b:
        r = run_cli("doctor", "--port", b.port, "--json")
        assert r.returncode == 1
        rows = {x["check"]: x for x in json.loads(r.stdout)}
        assert rows["sensor"]["status"] == "fix" and "SCL-GPIO22" in rows["sensor"]["fix"]
        assert "1 check failed" in r.stderr


# --- calibration -------------------------------------------------------------------------

def routine_trace(path, moved=False):
    """Stand still 0-6 s, lie down 6-9 s, lie still 9-20 s, sensor y toward the head."""
    lines = ["# rate_hz=100", "# sensor=mpu6050", "t,ax,ay,az,gx,gy,gz"]
    for i in range(2000):
        t = i / 100
        n = ((i * 37) % 11 - 5) / 1000.0   # +-5 mg deterministic noise
        if t < 6:
            a = (n, 1.0 + n, n)
            if moved and 3.0 < t < 5.0:
                a = (0.3 * ((i // 25) % 2) + n, 0.9, 0.25)
        elif t < 9:
            f = (t - 6) / 3
            a = (0.0, 1.0 - f, -f)
        else:
            a = (n, n, -1.0 + n)
        g = (0.2, -0.1, 0.1) if not moved or t >= 6 or t < 3 else (40.0, 10.0, 5.0)
        lines.append("%.2f,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f" % ((t,) + a + g))
    path.write_text("\n".join(lines) + "\n")
    return path


def sim_env(trace):
    return {"REPBELT_SIM_TRACE": str(trace), "REPBELT_SIM_SPEED": str(SPEED),
            "REPBELT_SIM_START": "fifo"}


def test_calibrate_still_stores_rotation(tmp_path, deployed_flash):
    trace = routine_trace(tmp_path / "still.csv")
    with with_firmware(tmp_path, deployed_flash, env=sim_env(trace)) as b:
        r = run_cli("calibrate", "--port", b.port, "--move-s", "4")
        assert r.returncode == 0, r.stderr
        assert "STAND STILL" in r.stdout and "LIE STILL" in r.stdout and "calibrated" in r.stdout
        cfg = json.loads((tmp_path / "b" / "config.json").read_text())
        R = cfg["rotation"]
        assert cfg["mount"] == "fixed" and len(R) == 9
        import rb_mount
        bx = rb_mount.rotate(R, 0, 1000, 0)      # standing reading -> body +x
        assert abs(bx[0] - 1000) < 15 and abs(bx[1]) < 15 and abs(bx[2]) < 15
        bz = rb_mount.rotate(R, 0, 0, -1000)     # lying reading -> body -z
        assert abs(bz[2] + 1000) < 15


def test_calibrate_with_movement_is_refused(tmp_path, deployed_flash):
    trace = routine_trace(tmp_path / "moved.csv", moved=True)
    with with_firmware(tmp_path, deployed_flash, env=sim_env(trace)) as b:
        before = (tmp_path / "b" / "config.json").read_text()
        r = run_cli("calibrate", "--port", b.port, "--move-s", "4")
        assert r.returncode == 2
        assert "you moved while standing still" in r.stderr and "nothing was stored" in r.stderr
        assert (tmp_path / "b" / "config.json").read_text() == before


def test_calibration_compute_refuses_bad_geometry():
    rows = [(t, 1000, 0, 0, 0, 0, 0) for t in range(0, 20000, 10)]
    with pytest.raises(UserError, match="not about 90 degrees"):
        board_calibrate.compute(rows, (3000, 6000), (14000, 17000))


# --- capture -----------------------------------------------------------------------------

def test_capture_writes_valid_labelled_trace(tmp_path, deployed_flash):
    trace = routine_trace(tmp_path / "src.csv")
    out = tmp_path / "bridge-1.csv"
    with with_firmware(tmp_path, deployed_flash, env=sim_env(trace)) as b:
        r = run_cli("capture", "--port", b.port, "--kind", "bridge", "--reps", "3", "--timed",
                    "--rep-s", "2", "-o", str(out))
        assert r.returncode == 0, r.stderr
        assert "rep 3: go" in r.stdout
    import rb_trace
    with open(out) as f:
        rd = rb_trace.TraceReader(f)
        rows = [list(s) for s in rd]
        assert rd.rate_hz == 100 and rd.has_gyro
    assert len(rows) > 1000
    ts = [r[0] for r in rows]
    assert ts == sorted(ts) and ts[-1] >= 12000
    assert rows[0][1:4] == [0, 1000, 0] or abs(rows[0][2] - 1000) < 10   # replayed standing sample
    lab = json.loads((tmp_path / "bridge-1.labels.json").read_text())
    assert lab["format"] == "repbelt-labels/1"
    seg = lab["segments"][0]
    assert seg["kind"] == "bridge" and seg["reps"] == 3
    assert seg["rep_ends"] == [7.0, 9.0, 11.0] and seg["start"] == 5.0 and seg["end"] == 11.0


def test_capture_rejects_unknown_kind(tmp_path):
    r = run_cli("capture", "--port", str(tmp_path), "--kind", "situp", "-o", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "unknown kind 'situp'" in r.stderr


# --- personal thresholds -----------------------------------------------------------------

def test_calibrate_fit_uploads_thresholds(tmp_path, deployed_flash, monkeypatch):
    from repbelt import board_fit, paths
    src = paths.CALIBRATION / "generated" / "fours_default.csv"
    if not src.exists():
        subprocess.run([sys.executable, str(paths.CALIBRATION / "generator.py"), "--out",
                        str(src.parent), "--only", "fours_default", "--quiet"], check=True)
    rec = tmp_path / "recs"
    rec.mkdir()
    shutil.copy(src, rec / "a.csv")
    shutil.copy(src.with_name("fours_default.labels.json"), rec / "a.labels.json")
    # a small grid keeps the test quick; the default values are always tried first
    monkeypatch.setattr(board_fit, "GRID", {"REP_HI_MILLI": (80, 200), "HOLD_TREMOR_PCT": (150,),
                                            "STEP_MIN_MG": (30,)})
    r = board_fit.fit(rec)
    assert r["n"] == 1 and r["score"] <= r["default_score"]
    assert set(r["overrides"]) <= {"REP_HI_MILLI", "REP_LO_MILLI"}
    from click.testing import CliRunner
    from repbelt import cli as cli_mod
    cli_mod._load_commands()
    with with_firmware(tmp_path, deployed_flash) as b:
        res = CliRunner().invoke(cli_mod.cli, ["calibrate", "fit", str(rec), "--port", b.port])
        assert res.exit_code == 0, res.output
        assert "uploaded to the board" in res.output
        cfg = json.loads((tmp_path / "b" / "config.json").read_text())
        assert cfg["thresholds"] == r["overrides"]
        saved = json.loads((rec / "fitted-thresholds.json").read_text())
        assert saved == {"values": r["overrides"]}


def test_fit_without_recordings_is_a_clear_error(tmp_path):
    from repbelt import board_fit
    with pytest.raises(UserError, match="no labelled recordings"):
        board_fit.recordings(tmp_path)


def test_deploy_compiles_the_core_without_line_numbers_and_the_rest_with(tmp_path):
    """The detection core goes to the board as -O3 .mpy (2.4 KB of heap: the device bench
    measures it so), the hardware-facing modules with line numbers for their tracebacks."""
    from repbelt import paths
    fw = REPO / "firmware"
    image = board_deploy.build([fw / "rb_engine.py", fw / "rb_mpu.py"], 6, tmp_path)
    for stem, opt in (("rb_engine", ["-O3"]), ("rb_mpu", [])):
        assert paths.mpy_cross_args(stem) == opt
        plain = tmp_path / (stem + "_plain.mpy")
        subprocess.run([paths.mpy_cross_bin(), "-s", stem + ".py", "-o", str(plain), str(fw / (stem + ".py"))],
                       check=True)
        if opt:
            assert len(image[stem + ".mpy"]) < len(plain.read_bytes()) - 500
        else:
            assert image[stem + ".mpy"] == plain.read_bytes()
