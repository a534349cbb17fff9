"""USB board commands: `repbelt deploy`, `repbelt doctor`, `repbelt calibrate`, `repbelt capture`."""
import click
from rich.console import Console
from rich.table import Table

from . import board_deploy, board_doctor
from .board_usb import find_port
from .errors import UserError

PORT_HELP = "serial port of the board (default: auto-detect a USB ESP32, or $REPBELT_PORT)"


def _console():
    return Console(highlight=False)


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


COMMANDS = [deploy, doctor]
