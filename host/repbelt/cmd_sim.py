"""`repbelt sim` (a virtual board to talk to) and `repbelt demo` (the whole product in one command)."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click
from rich.console import Console

from . import board_deploy
from .errors import UserError
from .paths import CALIBRATION
from .virtual_board import LEAD_IN_MS, VirtualBoard, trace_duration_s

DEMO_TRACE = CALIBRATION / "generated" / "demo_workout.csv"
DEMO_SPEED = 4           # the firmware reads its FIFO every 150 ms (real time); it holds 850 ms of samples / speed
TAIL_S = 4.0             # after the trace ends: the last events (walk end) reach the laptop


def _console():
    return Console(highlight=False, soft_wrap=True)


def _demo_trace():
    if DEMO_TRACE.exists():
        return DEMO_TRACE
    gen = CALIBRATION / "generator.py"
    if not gen.exists():
        raise UserError("the demo workout is missing and so is its generator: run `make data`")
    r = subprocess.run([sys.executable, str(gen), "--out", str(DEMO_TRACE.parent), "--only",
                        "demo_workout", "--quiet"], capture_output=True, text=True)
    if r.returncode != 0 or not DEMO_TRACE.exists():
        raise UserError("making the demo workout failed (%s): run `make data`"
                        % (r.stderr.strip().splitlines() or ["?"])[-1])
    return DEMO_TRACE


def _repbelt():
    exe = Path(sys.executable).parent / "repbelt"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from repbelt.cli import main; main()"]


def _fault_options(f):
    f = click.option("--loss", type=float, default=0.0, show_default=True, metavar="P",
                     help="lose each BLE notification with probability P")(f)
    f = click.option("--reset-at", "reset_at", type=float, default=None, metavar="SECONDS",
                     help="hard-reset the board once at this trace time")(f)
    f = click.option("--drop-link", "drop_link", type=float, default=None, metavar="SECONDS",
                     help="drop the BLE link at random about this often (trace seconds)")(f)
    return f


@click.command("sim")
@click.argument("trace", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--speed", type=float, default=1.0, show_default=True, help="trace seconds per second")
@click.option("--dir", "workdir", type=click.Path(file_okay=False), default=None,
              help="board directory (flash/, board.port, logs); default: a new temp dir")
@click.option("--no-deploy", is_flag=True, help="do not deploy the firmware first (keep the flash as it is)")
@_fault_options
def sim_cmd(trace, speed, workdir, no_deploy, loss, reset_at, drop_link):
    """Run a virtual board: the firmware on the MicroPython unix port replaying TRACE.

    Its USB port (a pty) works with `repbelt deploy/doctor --port` and
    `mpremote connect PORT`; its BLE radio is a mock BlueZ: run `repbelt scan`
    or `repbelt record` with the environment it prints.  Ctrl-C stops it.
    """
    con = _console()
    wd = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="repbelt-sim-"))
    vb = VirtualBoard(wd, speed=speed, loss=loss, drop_link_s=drop_link, reset_at_s=reset_at)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    with vb:
        if not no_deploy:
            con.print("deploying the firmware to the virtual board ...")
            board_deploy.deploy(vb.port)
        if trace:
            vb.play(trace, lead_in_ms=0)
        env = vb.host_env
        con.print("virtual board running (%s, speed %gx)" % (trace or "standing still", speed))
        con.print("  USB port:  %s   (repbelt doctor --port %s / mpremote connect %s repl)"
                  % (vb.port, vb.port, vb.port))
        con.print("  BLE:       in another terminal run")
        con.print("             export %s" % " ".join("%s=%s" % kv for kv in sorted(env.items())))
        con.print("             repbelt scan; repbelt record")
        con.print("  board log: %s" % (wd / "board.log"))
        con.print("Ctrl-C stops the board.")
        try:
            while not stop.is_set():
                stop.wait(0.5)
        except KeyboardInterrupt:
            pass
    con.print("virtual board stopped")


@click.command("demo")
@click.option("--speed", type=float, default=DEMO_SPEED, show_default=True,
              help="how much faster than real time the workout replays")
@click.option("--trace", type=click.Path(dir_okay=False, exists=True), default=None,
              help="another labelled trace instead of the bundled demo workout")
@click.option("--dir", "workdir", type=click.Path(file_okay=False), default=None,
              help="where the demo's board, database and report go (default: a new temp dir)")
@_fault_options
def demo_cmd(speed, trace, workdir, loss, reset_at, drop_link):
    """The whole product without hardware: virtual board, deploy, live recording, summary, report."""
    con = _console()
    t_start = time.monotonic()
    wd = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="repbelt-demo-"))
    wd.mkdir(parents=True, exist_ok=True)
    db = wd / "demo.sqlite"
    report = wd / "report.html"

    def step(n, text):
        con.print("[bold cyan][%d/5][/] %s  [dim](%.0f s)[/]" % (n, text, time.monotonic() - t_start))

    step(1, "demo workout trace")
    tr = Path(trace) if trace else _demo_trace()
    dur_s = trace_duration_s(tr)
    con.print("      %s: %.0f s of workout, replayed at %gx (about %.0f s)"
              % (tr.name, dur_s, speed, dur_s / speed))
    step(2, "starting the virtual board (MicroPython unix port, emulated MPU6050, mock BlueZ)")
    with VirtualBoard(wd / "board", speed=speed, loss=loss, drop_link_s=drop_link,
                      reset_at_s=reset_at) as vb:
        step(3, "deploying the firmware over its USB port %s" % vb.port)
        r = board_deploy.deploy(vb.port, progress=None)
        chk = r["check"]
        con.print("      %d files copied (build %s); sensor %s at %d Hz"
                  % (len(r["copied"]), r["build"], chk.get("sensor", "missing"), chk.get("rate_hz", 0)))
        step(4, "recording the session live over BLE (bleak -> mock BlueZ -> virtual board)")
        vb.play(tr)
        remaining_s = (LEAD_IN_MS / 1000.0 + dur_s - vb.world_s()) / speed
        env = dict(os.environ)
        env.update(vb.host_env)
        cmd = _repbelt() + ["record", "--db", str(db), "--duration", "%.1f" % (remaining_s + TAIL_S)]
        rc = subprocess.call(cmd, env=env)
        if rc != 0:
            raise UserError("recording failed (exit %d): see %s" % (rc, wd / "board" / "board.log"))
        faults = vb.stats()
    step(5, "session summary and report")
    subprocess.call(_repbelt() + ["show", "last", "--db", str(db)])
    rr = subprocess.run(_repbelt() + ["report", "last", "--db", str(db), "-o", str(report)],
                        capture_output=True, text=True)
    if rr.returncode != 0 or not report.exists():
        raise UserError("writing the report failed: %s" % (rr.stderr.strip() or "?"))
    if drop_link or reset_at or loss:
        con.print("faults injected: %s" % ", ".join("%s=%s" % kv for kv in sorted(faults.items())))
    con.print("[bold green]demo done in %.0f s.[/] HTML report: %s" % (time.monotonic() - t_start, report))
    con.print("database: %s  (try `repbelt sessions --db %s`)" % (db, db))


COMMANDS = [sim_cmd, demo_cmd]
