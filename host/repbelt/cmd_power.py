"""`repbelt power budget`: the belt's power budget and days of use, recomputed from the firmware config."""
import json

import click

from . import power_budget as pb


def _console():
    import sys
    from rich.console import Console
    # piped into a file or a log: wide enough that the table's labels do not wrap
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)


def _ma(x):
    return "%.1f uA" % (x * 1000) if x < 1.0 else "%.2f mA" % x


@click.group("power")
def power_cmd():
    """Power: the budget behind two weeks on one charge."""


@power_cmd.command("budget")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="the board's config.json (default: the firmware defaults)")
@click.option("--minutes-per-day", type=float, default=30.0, show_default=True, help="minutes of sessions a day")
@click.option("--capacity-mah", type=float, default=500.0, show_default=True, help="the cell's rated capacity")
@click.option("--false-wakes", "false_wakes", type=float, default=pb.FALSE_WAKES_PER_DAY, show_default=True,
              help="wakes a day without a workout (belt moved while not worn)")
@click.option("--json", "as_json", is_flag=True, help="print the budget as JSON")
@click.option("--parts", is_flag=True, help="also list every part of each state's current with its source")
def budget_cmd(config_path, minutes_per_day, capacity_mah, false_wakes, as_json, parts):
    """Average current in deep sleep, awake idle and a session, and the days a cell lasts."""
    cfg = pb.load_config(config_path)
    b = pb.budget(cfg, minutes_per_day=minutes_per_day, capacity_mah=capacity_mah,
                  false_wakes_per_day=false_wakes)
    if as_json:
        click.echo(json.dumps(b, indent=1, sort_keys=True))
        return
    print_budget(_console(), b, parts=parts)


def print_budget(con, b, parts=False):
    from rich.table import Table
    c = b["config"]
    t = Table(title="repbelt power budget (cpu %d MHz, %d Hz, gyro %s, sleep after %d s idle)"
              % (c["cpu_mhz"], c["rate_hz"], "on" if c["use_gyro"] else "off", c["sleep_idle_s"]),
              title_justify="left")
    t.add_column("state")
    t.add_column("current", justify="right")
    t.add_column("hours/day", justify="right")
    t.add_column("mAh/day", justify="right")
    t.add_column("sources")
    for s in b["states"]:
        t.add_row(s["label"], _ma(s["current_ma"]), "%.2f" % s["hours_per_day"], "%.2f" % s["mah_per_day"],
                  " ".join(s["sources"]))
    t.add_row("[bold]total[/]", "", "24.00", "[bold]%.2f[/]" % b["mah_per_day"], "")
    con.print(t)
    if parts:
        pt = Table(title="parts", title_justify="left")
        for col in ("state", "part", "current", "source"):
            pt.add_column(col, justify="right" if col == "current" else "left")
        for s in b["states"]:
            for p in s["parts"]:
                pt.add_row(s["state"], p["part"], _ma(p["ma"]), p["source"])
        con.print(pt)
    con.print("day: %.0f min of sessions, %g false wake%s (each %d s session + %d s idle), %d s idle after "
              "each session, the rest deep sleep"
              % (b["minutes_per_day"], b["false_wakes_per_day"], "" if b["false_wakes_per_day"] == 1 else "s",
                 c["session_idle_s"], c["sleep_idle_s"], c["sleep_idle_s"]))
    con.print("cell: %.0f mAh, %.0f %% usable = %.0f mAh -> [bold]%.1f days[/] of use"
              % (b["capacity_mah"], 100 * b["usable_fraction"], b["usable_mah"], b["days"]))
    if b["target_met"]:
        con.print("[green]target of %d days met[/]" % b["target_days"])
    else:
        con.print("[yellow]target of %d days NOT met[/]" % b["target_days"])
        for w in b["warnings"][1:]:
            con.print("[yellow]warning: %s[/]" % w)
    used = []
    for s in b["states"]:
        for k in s["sources"]:
            if k not in used:
                used.append(k)
    used += [k for k in ("E6", "E7", "E8") if k not in used]     # the daily model's own assumptions
    con.print("sources (E = estimate):")
    for k in used:
        con.print("  %s  %s" % (k, b["sources"][k]))


COMMANDS = [power_cmd]
