"""USB board commands: `repbelt deploy`, `repbelt doctor`, `repbelt calibrate`, `repbelt capture`."""
import click
from rich.console import Console
from rich.table import Table

from . import board_deploy, board_doctor
from .board_usb import find_port
from .errors import UserError

PORT_HELP = "serial port of the board (default: auto-detect a USB ESP32, or $REPBELT_PORT)"


def _console():
    return Console(highlight=False, soft_wrap=True)


@click.command()
@click.option("--port", help=PORT_HELP)
@click.option("--name", help="BLE name of the board (1..24 characters), stored in its config")
@click.option("--quiet", "-q", is_flag=True, help="print only the final line")
def deploy(port, name, quiet):
    """Compile the firmware for the board and copy what changed over USB."""
    con = _console()
    port = find_port(port)
    if name is not None and not (1 <= len(name) <= 24 and name.isprintable()):
        raise UserError("--name must be 1 to 24 printable characters")
    say = (lambda m: None) if quiet else (lambda m: con.print("  " + m))
    if not quiet:
        con.print("deploying to %s" % port)
    r = board_deploy.deploy(port, config_updates={"name": name} if name else None, progress=say)
    chk = r["check"]
    n = len(r["copied"])
    msg = ("deployed build %s to %s: %d file%s copied%s"
           % (r["build"], port, n, "" if n == 1 else "s",
              (", %d removed" % len(r["deleted"])) if r["deleted"] else ""))
    if n == 0 and not r["deleted"]:
        msg = "board on %s is up to date (build %s): nothing copied" % (port, r["build"])
    con.print(msg)
    if "sensor" in chk:
        con.print("sensor %s at 0x%02x, %d Hz" % (chk["sensor"], chk["addr"], chk["rate_hz"]))
    else:
        con.print("[yellow]warning: sensor not found (%s): check the wiring in docs/hardware.md, "
                  "then run `repbelt doctor`[/yellow]" % chk.get("sensor_error", "?"))


@click.command()
@click.option("--port", help=PORT_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the checks as JSON")
def doctor(port, as_json):
    """Check the board: MicroPython, memory, flash, sensor, BLE, firmware, calibration."""
    port = find_port(port)
    rows = board_doctor.run(port)
    if as_json:
        import json
        click.echo(json.dumps([{"check": c, "status": st, "value": v, "fix": f}
                               for c, st, v, f in rows], indent=1))
    else:
        t = Table(title="repbelt doctor: %s" % port)
        t.add_column("check")
        t.add_column("status")
        t.add_column("value")
        t.add_column("what to do")
        style = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fix": "[red]FIX[/red]"}
        for c, st, v, f in rows:
            t.add_row(c, style[st], str(v), f or "")
        Console(width=160).print(t)
    bad = [r for r in rows if r[1] == "fix"]
    if bad:
        raise UserError("%d check%s failed: see the table" % (len(bad), "" if len(bad) == 1 else "s"),
                        code=1)


@click.group(invoke_without_command=True)
@click.option("--port", help=PORT_HELP)
@click.option("--prep-s", default=3, show_default=True, help="countdown before standing still is measured")
@click.option("--move-s", default=8, show_default=True, help="time to lie down between the two positions")
@click.pass_context
def calibrate(ctx, port, prep_s, move_s):
    """Guided mount calibration over USB: stand still, then lie on your back (knees bent).

    Stores the sensor-to-body rotation in the board's config.  `calibrate fit
    DIR` fits personal thresholds from labelled recordings instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    from . import board_calibrate
    con = _console()
    port = find_port(port)
    con.print("Mount calibration on %s: wear the belt as you will for workouts." % port)
    res = board_calibrate.run(port, lambda m: con.print(m), prep_ms=prep_s * 1000,
                              move_ms=move_s * 1000)
    bx = res["stand_body_mg"]
    con.print("calibrated: rotation %s stored (standing reads %d, %d, %d mg in the body frame; "
              "stillness %d / %d mg)" % (res["rotation"], bx[0], bx[1], bx[2],
                                         res["stand"]["dev_mg"], res["lie"]["dev_mg"]))


@calibrate.command("fit")
@click.argument("dir_path", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--port", help=PORT_HELP)
@click.option("--no-upload", is_flag=True, help="only print the fitted thresholds")
def calibrate_fit(dir_path, port, no_upload):
    """Fit personal thresholds from labelled recordings in DIR and upload them to the board."""
    import json
    from pathlib import Path
    from . import board_fit
    con = _console()
    r = board_fit.fit(dir_path, progress=None)
    con.print("%d recordings: error %.1f with the shared thresholds, %.1f fitted"
              % (r["n"], r["default_score"], r["score"]))
    out = Path(dir_path) / "fitted-thresholds.json"
    out.write_text(json.dumps({"values": r["overrides"]}, indent=1, sort_keys=True) + "\n")
    con.print("overrides %s written to %s" % (json.dumps(r["overrides"], sort_keys=True), out))
    if no_upload:
        return
    from .board_deploy import CONFIG, merge_config
    from .board_usb import Board
    port = find_port(port)
    with Board(port) as b:
        cfg = b.read_json(CONFIG) or {}
        new = merge_config(cfg, {"thresholds": r["overrides"]})
        b.write_file(CONFIG, (json.dumps(new, sort_keys=True) + "\n").encode())
        b.reset()
    con.print("uploaded to the board on %s" % port)


@click.command()
@click.option("--port", help=PORT_HELP)
@click.option("--kind", required=True, help="exercise kind (trace-format name, e.g. bridge, plank, walk)")
@click.option("--reps", default=10, show_default=True, help="repetitions to record (rep kinds)")
@click.option("--rep-s", default=4.0, show_default=True, help="seconds per rep with --timed")
@click.option("--timed", is_flag=True, help="rep ends from the prompts' timing instead of Enter")
@click.option("--hold-s", default=20.0, show_default=True, help="hold length (plank, side_plank, cobra)")
@click.option("--walk-s", default=30.0, show_default=True, help="walk length")
@click.option("--steps", type=int, help="steps you counted (walk)")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="trace CSV to write")
def capture(port, kind, reps, rep_s, timed, hold_s, walk_s, steps, out):
    """Record raw samples over USB into a labelled trace (NAME.csv + NAME.labels.json)."""
    from . import board_capture
    con = _console()
    board_capture.kind_class(kind)
    port = find_port(port)
    lab = board_capture.run(port, kind, out, lambda m: con.print(m), reps=reps, rep_s=rep_s,
                            hold_s=hold_s, walk_s=walk_s, timed=timed, steps=steps)
    seg = lab["segments"][0]
    con.print("wrote %s and %s (%s %.1f-%.1f s)" % (out, board_capture.labels_path(out), seg["kind"],
                                                 seg["start"], seg["end"]))


COMMANDS = [deploy, doctor, calibrate, capture]
