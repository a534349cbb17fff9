"""Review commands: sessions, show, progress, export, report, and the workout plan (plan show|edit|path)."""
import shutil
import sys
from pathlib import Path

import click

from . import plan as planmod
from . import review
from .errors import UserError
from .store import Store, db_option

STEP_LENGTH_HELP = "metres per step for distances (default: the plan's step_length_m, 0.7)"


def _console():
    from rich.console import Console
    return Console(highlight=False)


def _open(db):
    st = Store.open(db)
    st.derive_dirty()   # sessions cut off by a crash or extended by a sync get their review rows now
    return st


def _session_id(st, value):
    if value in (None, "last", "latest"):
        rows = st.sessions()
        if not rows:
            raise UserError("no sessions stored in %s yet: record one with `repbelt record`" % st.path)
        return rows[0]["id"]
    try:
        sid = int(value)
    except ValueError:
        raise UserError("session id must be a number or `last`, not %r: `repbelt sessions` lists them"
                        % value) from None
    st.session(sid)   # UserError if missing
    return sid


def _duration(s):
    if s is None:
        return ""
    s = int(round(s))
    return "%d:%02d:%02d" % (s // 3600, s % 3600 // 60, s % 60) if s >= 3600 else "%d:%02d" % (s // 60, s % 60)


def _step_length(plan, value):
    if value is None:
        return plan.step_length_m
    if not 0.2 <= value <= 2.0:
        raise UserError("--step-length %.2f m is not a step: give metres, 0.2..2.0" % value)
    return value


plan_option = click.option("--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
                           help="plan file (default: $REPBELT_PLAN, your copy, or the built-in seed)")
step_option = click.option("--step-length", type=float, default=None, help=STEP_LENGTH_HELP)


@click.command("sessions")
@db_option
@click.option("--limit", type=int, default=50, show_default=True, help="newest N sessions (0: all)")
def sessions_cmd(db, limit):
    """List stored sessions, newest first."""
    from rich.table import Table
    with _open(db) as st:
        rows = st.sessions()
    if not rows:
        click.echo("no sessions stored yet (database: %s)" % st.path)
        return
    con = _console()
    t = Table(title="sessions in %s" % st.path, title_justify="left")
    for col in ("id", "date", "duration", "exercises", "reps", "holds", "steps"):
        numeric = col in ("id", "reps", "holds", "steps", "duration")
        t.add_column(col, justify="right" if numeric else "left", no_wrap=True,
                     overflow="ellipsis", max_width=max(18, con.width - 62) if col == "exercises" else None)
    for r in rows[:limit] if limit else rows:
        t.add_row(str(r["id"]), review.local_time(r["started"]).strftime("%Y-%m-%d %H:%M"),
                  _duration(r["duration_s"]) + ("" if r["ended"] else " open"),
                  _kinds_text(r["kinds"]), str(r["n_reps"]),
                  str(r["n_holds"]),
                  str(r["steps"]))
    con.print(t)
    if limit and len(rows) > limit:
        click.echo("(%d older sessions not shown: --limit 0 shows all)" % (len(rows) - limit))


def _kinds_text(kinds):
    ex = [k for k in kinds if k != "walk"]
    if not ex:
        return "-"
    return "%d: %s" % (len(ex), ", ".join(ex)) if len(ex) > 2 else ", ".join(ex)


@click.command("show")
@click.argument("session", default="last")
@db_option
@plan_option
@step_option
@click.option("--reps", is_flag=True, help="also list every rep")
def show_cmd(session, db, plan_file, step_length, reps):
    """Sets, reps, holds and walks of one session (default: the latest)."""
    from rich.table import Table
    plan = planmod.load_plan(plan_file)
    step_length = _step_length(plan, step_length)
    with _open(db) as st:
        sid = _session_id(st, session)
        d = review.session_detail(st, sid, step_length)
    con = _console()
    s = d["session"]
    dev = s["device_name"] or s["device_address"] or s["note"] or s["source"]
    con.print("[bold]session %d[/bold]  %s  %s  %s  (%s)" % (
        sid, review.local_time(s["started"]).strftime("%Y-%m-%d %H:%M"), _duration(s["duration_s"]),
        s["source"], dev))
    if d["sets"]:
        t = Table(title="sets", title_justify="left")
        for col in ("exercise", "set", "reps", "target", "tempo s/rep", "range deg", "sides"):
            t.add_column(col, no_wrap=True)
        for x in d["sets"]:
            step = plan.step_for(x["kind_code"])
            ok = step.meets(reps=x["reps"], sides=x["sides"]) if step and not step.is_hold else None
            target = "" if step is None or step.is_hold else step.target_text().split(" x ", 1)[1]
            sides = {}
            for r in x["rep_list"]:
                if r["side"]:
                    sides[r["side"]] = sides.get(r["side"], 0) + 1
            t.add_row(x["kind"], str(x["set"]),
                      ("[green]%d[/green]" if ok else "[yellow]%d[/yellow]" if ok is False else "%d") % x["reps"]
                      + ("" if x["complete"] else " (cut)"), target,
                      "" if x["tempo_s"] is None else "%.2f" % x["tempo_s"],
                      "" if x["range_deg"] is None else "%.1f" % x["range_deg"],
                      " ".join("%s %d" % (k, v) for k, v in sorted(sides.items())))
        con.print(t)
        if reps:
            t = Table(title="reps", title_justify="left")
            for col in ("exercise", "set", "rep", "at", "tempo s", "range deg", "side"):
                t.add_column(col, no_wrap=True)
            for x in d["sets"]:
                for r in x["rep_list"]:
                    t.add_row(x["kind"], str(x["set"]), str(r["rep"]), _duration(r["t_s"]), "%.2f" % r["tempo_s"],
                              "%.1f" % r["range_deg"], r["side"])
            con.print(t)
    if d["holds"]:
        t = Table(title="holds", title_justify="left")
        for col in ("exercise", "duration s", "target", "sway mg", "stability", "drift deg"):
            t.add_column(col)
        for h in d["holds"]:
            step = plan.step_for(h["kind_code"])
            ok = step.meets(hold_ms=h["duration_s"] * 1000) if step and step.is_hold else None
            t.add_row(h["kind"], ("[green]%.0f[/green]" if ok else "[yellow]%.0f[/yellow]" if ok is False else "%.0f")
                      % h["duration_s"] + ("" if h["complete"] else " (cut)"),
                      "" if step is None or not step.is_hold else step.target_text().split(" x ", 1)[1],
                      "%.1f" % h["sway_mg"], str(h["stability"]), "%.1f" % h["drift_deg"])
        con.print(t)
    if d["walks"]:
        t = Table(title="walks (%.2f m a step)" % step_length, title_justify="left")
        for col in ("start", "duration", "steps", "cadence spm", "distance m"):
            t.add_column(col)
        for w in d["walks"]:
            t.add_row(review.local_time(w["time"]).strftime("%H:%M"), _duration(w["duration_s"]), str(w["steps"]),
                      str(w["cadence_spm"]), "%.0f" % w["distance_m"])
        con.print(t)
    if not (d["sets"] or d["holds"] or d["walks"]):
        con.print("nothing detected in this session")
    if d.get("board_events"):
        t = Table(title="board: battery, power, faults", title_justify="left")
        for col in ("at", "what", ""):
            t.add_column(col)
        for b in d["board_events"]:
            t.add_row(_duration(b["t_s"]), b["what"], b["text"])
        con.print(t)


@click.command("progress")
@db_option
@plan_option
@step_option
@click.option("--days", type=int, default=28, show_default=True, help="how many recent days (0: all)")
def progress_cmd(db, plan_file, step_length, days):
    """Per exercise over days and weeks against the plan; steps per day against the walking target."""
    from rich.table import Table
    plan = planmod.load_plan(plan_file)
    step_length = _step_length(plan, step_length)
    with _open(db) as st:
        prog = review.progress(st, plan, step_length, days=days or None)
    con = _console()
    if not (prog["weeks"] or prog["steps"]):
        con.print("no exercise or walking stored%s yet" % (" in the last %d days" % days if days else ""))
        return
    t = Table(title="by week, against plan %r" % plan.name, title_justify="left")
    for col in ("week", "exercise", "days", "sets", "on tgt", "reps", "plan"):
        t.add_column(col, no_wrap=col != "plan")
    for w in prog["weeks"]:
        step = plan.step_for(w["kind_code"])
        frac = "%d/%d" % (w["on_target"], w["planned_sets"]) if step else "%d" % w["on_target"]
        good = step and w["on_target"] >= w["planned_sets"]
        t.add_row(w["week"], w["kind"], str(w["days"]), str(w["sets"]),
                  ("[green]%s[/green]" if good else "[yellow]%s[/yellow]") % frac if step else "-",
                  ("best %.0f s" % w["best_hold_s"]) if w["best_hold_s"] is not None else str(w["reps"]),
                  step.target_text() if step else "(not in plan)")
    con.print(t)
    kinds = []
    for r in prog["days"]:
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    con = _console()
    fit = max(3, (con.width - 16) // 8)
    dates = sorted({r["date"] for r in prog["days"]})[-min(10, fit):]
    if dates:
        t = Table(title="sets on target per day (last %d training days)" % len(dates), title_justify="left")
        t.add_column("exercise", no_wrap=True)
        for day in dates:
            t.add_column(day.strftime("%m-%d"), justify="right")
        cell = {(r["date"], r["kind"]): r for r in prog["days"]}
        for k in kinds:
            vals = []
            for day in dates:
                r = cell.get((day, k))
                if r is None:
                    vals.append("")
                elif r["target_sets"]:
                    v = "%d/%d" % (r["on_target"], r["target_sets"])
                    vals.append(("[green]%s[/green]" if r["on_target"] >= r["target_sets"] else "%s") % v)
                else:
                    vals.append(str(r["sets"]))
            t.add_row(k, *vals)
        con.print(t)
    if prog["steps"]:
        lo, hi = prog["km_target"]
        t = Table(title="steps per day (target %s-%s km = %d-%d steps at %.2f m)"
                  % (lo, hi, prog["steps_target"][0], prog["steps_target"][1], step_length), title_justify="left")
        for col in ("date", "steps", "km", "vs target"):
            t.add_column(col, justify="right" if col != "vs target" else "left")
        for r in prog["steps"]:
            color = {"below": "yellow", "ok": "green", "above": "green"}[r["status"]]
            t.add_row(r["date"].isoformat(), str(r["steps"]), "%.2f" % r["km"],
                      "[%s]%s[/%s]" % (color, r["status"], color))
        con.print(t)
        mean_km = sum(r["km"] for r in prog["steps"]) / len(prog["steps"])
        con.print("mean %.2f km a day over %d days with walking" % (mean_km, len(prog["steps"])))


@click.command("export")
@click.argument("session", required=False)
@click.option("--all", "all_", is_flag=True, help="every session")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "fit"]), required=True)
@click.option("-o", "--output", type=click.Path(), required=True,
              help="file to write ('-': stdout for csv/json); a directory for --all --format fit")
@db_option
@plan_option
@step_option
def export_cmd(session, all_, fmt, output, db, plan_file, step_length):
    """Export one session (ID or `last`) or --all as CSV, JSON or FIT."""
    from . import export, fit_export
    if bool(session) == all_:
        raise UserError("give one session id or --all (not both, not neither)")
    plan = planmod.load_plan(plan_file)
    step_length = _step_length(plan, step_length)
    with _open(db) as st:
        ids = [r["id"] for r in reversed(st.sessions())] if all_ else [_session_id(st, session)]
        if fmt == "fit":
            details = [(st.session(sid), st.sets(sid), st.holds(sid), st.walks(sid)) for sid in ids]
        else:
            details = [review.session_detail(st, sid, step_length) for sid in ids]
    if fmt == "fit":
        out = Path(output)
        if len(details) > 1 or out.is_dir():
            _mkdir(out)
            files = [(out / ("repbelt-%d.fit" % d[0]["id"]), d) for d in details]
        else:
            files = [(out, d) for d in details]
        for path, d in files:
            _check_writable(path)
            try:
                fit_export.write_fit(path, *d, step_length_m=step_length)
            except OSError as exc:
                raise UserError("cannot write %s: %s" % (path, exc.strerror or exc)) from None
        click.echo("wrote %d FIT file%s: %s" % (len(files), "" if len(files) == 1 else "s",
                                                 files[0][0] if len(files) == 1 else out), err=True)
        return
    text = export.to_json(details, step_length) if fmt == "json" else export.to_csv(details)
    if output == "-":
        sys.stdout.write(text)
        return
    _write_text(Path(output), text)
    click.echo("wrote %s (%d session%s)" % (output, len(details), "" if len(details) == 1 else "s"), err=True)


def _mkdir(path):
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError("cannot create directory %s: %s" % (path, exc.strerror or exc)) from None


def _check_writable(path):
    if path.is_dir():
        raise UserError("%s is a directory: give a file name with -o" % path)
    if not path.parent.exists():
        raise UserError("directory %s does not exist: create it or pick another -o" % path.parent)


def _write_text(path, text):
    _check_writable(path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError("cannot write %s: %s" % (path, exc.strerror or exc)) from None


@click.command("report")
@click.argument("session", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="repbelt-report.html", show_default=True)
@db_option
@plan_option
@step_option
def report_cmd(session, output, db, plan_file, step_length):
    """One self-contained HTML page with plots of a session (default: latest) and of the history."""
    from . import report
    plan = planmod.load_plan(plan_file)
    step_length = _step_length(plan, step_length)
    with _open(db) as st:
        sid = _session_id(st, session) if session else None
        page = report.build_report(st, plan, sid, step_length)
    _write_text(Path(output), page)
    click.echo("wrote %s" % output, err=True)


@click.group("plan")
def plan_group():
    """The workout plan: show it, edit your copy, print where it is."""


@plan_group.command("show")
@plan_option
def plan_show(plan_file):
    """The plan's steps, targets and rests."""
    from rich.table import Table
    p = planmod.load_plan(plan_file)
    t = Table(title="plan %r: %s (%s)" % (p.name, p.title, p.path), title_justify="left")
    for col in ("#", "exercise", "target", "rest", "note"):
        t.add_column(col)
    for i, s in enumerate(p.steps, 1):
        t.add_row(str(i), s.kind, s.target_text(), s.rest_text(), s.note)
    con = _console()
    con.print(t)
    lo, hi = p.walk_km_per_day
    slo, shi = p.walk_steps_per_day()
    con.print("walking: %s-%s km a day (%d-%d steps at %.2f m a step)" % (lo, hi, slo, shi, p.step_length_m))


@plan_group.command("path")
def plan_path_cmd():
    """Print the plan file in use (and where your editable copy goes)."""
    click.echo(str(planmod.plan_path()))
    up = planmod.user_plan_path()
    if not up.exists():
        click.echo("(your copy would be %s: `repbelt plan edit` creates it)" % up, err=True)


@plan_group.command("edit")
def plan_edit():
    """Open your copy of the plan in $EDITOR (made from the built-in seed the first time)."""
    up = planmod.user_plan_path()
    if not up.exists():
        _mkdir(up.parent)
        shutil.copyfile(planmod.BUILTIN_PLAN, up)
        click.echo("copied the built-in plan to %s" % up, err=True)
    try:
        click.edit(filename=str(up))
    except click.ClickException as exc:
        raise UserError("cannot start an editor (%s): set $EDITOR or edit %s by hand" % (exc.message, up)) from None
    p = planmod.load_plan(up)   # a broken edit is reported now, not at the next workout
    click.echo("plan %r OK: %d exercises (%s)" % (p.name, len(p.steps), up), err=True)


COMMANDS = [sessions_cmd, show_cmd, progress_cmd, export_cmd, report_cmd, plan_group]
