"""BLE commands: `repbelt scan`, `repbelt record [--board] [--plan [PLAN]]`, `repbelt sync`.

The terminal side of ble.BoardClient and recorder.Recorder: a live view
(rich.Live) while recording, Ctrl-C ends the session cleanly (stop command,
last events, final flush, summary), a second Ctrl-C quits at once (what was
committed stays; the board still holds the rest for `repbelt sync`).
"""
import asyncio
import signal
import sys
import time

import click

from . import paths  # noqa: F401
from .errors import UserError
from .recorder import battery_text
from .store import Store, db_option

import rb_events as E

import rb_names as N

VIEW_HZ = 4
PLAIN_EVERY_S = 2.0


def _console(stderr=False):
    from rich.console import Console
    return Console(highlight=False, stderr=stderr)


def _run(coro):
    """asyncio.run with bleak/D-Bus failures turned into one-line UserErrors."""
    from .ble import user_error
    try:
        return asyncio.run(coro)
    except UserError:
        raise
    except Exception as e:
        ue = user_error(e)
        if ue is not None:
            raise ue from None
        raise


def _known(store):
    """Boards this host paired with before (the store's devices table remembers them)."""
    return [d["address"] for d in store.devices() if d.get("bonded")]


def _client(adapter):
    from .ble import BoardClient
    return BoardClient(adapter=adapter)


adapter_option = click.option("--adapter", default=None, metavar="HCI",
                              help="Bluetooth adapter (Linux, e.g. hci0; default: $REPBELT_ADAPTER or the system's)")
board_option = click.option("--board", "target", default=None, metavar="NAME|ADDR",
                            help="which board (default: the only one in range)")


# ---------------------------------------------------------------- scan

@click.command("scan")
@click.option("--timeout", "timeout_s", type=float, default=5.0, show_default=True, help="seconds to listen")
@adapter_option
def scan_cmd(timeout_s, adapter):
    """List repbelt boards in range."""
    boards = _run(_client(adapter).scan(timeout_s))
    con = _console()
    if not boards:
        raise UserError("no repbelt board found in %.0f s: switch the board on (it advertises as "
                        "repbelt-XXXX), bring it closer, and retry" % timeout_s)
    from rich.table import Table
    t = Table(title="repbelt boards in range", title_justify="left")
    t.add_column("name")
    t.add_column("address")
    t.add_column("rssi", justify="right")
    for b in boards:
        t.add_row(b.name, b.address, "-" if b.rssi is None else "%d dBm" % b.rssi)
    con.print(t)


# ---------------------------------------------------------------- record

@click.command("record")
@board_option
@click.option("--plan", "plan_file", is_flag=False, flag_value="", default=None, metavar="[PLAN]",
              help="guided mode: walk a workout plan (default plan if no file given)")
@db_option
@adapter_option
@click.option("--duration", "duration_s", type=float, default=None, metavar="SECONDS",
              help="end the session by itself after this long")
@click.option("--new/--resume", "new_session", default=False,
              help="start a new board session even if the board is already recording (default: resume it)")
def record_cmd(target, plan_file, db, adapter, duration_s, new_session):
    """Record a session live: connect, sync time, start, show reps/holds/steps; Ctrl-C ends it."""
    guide = None
    if plan_file is not None:
        from . import plan as planmod
        from .recorder import Guide
        guide = Guide(planmod.load_plan(plan_file or None))
    store = Store.open(db)
    try:
        summary = _run(_record(store, target, adapter, guide, duration_s, not new_session))
    finally:
        store.close()
    _print_summary(summary, store.path)


async def _record(store, target, adapter, guide, duration_s, resume):
    from .recorder import Recorder
    con = _console()
    client = _client(adapter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    interrupts = [0]

    def on_sigint():
        interrupts[0] += 1
        if interrupts[0] > 1:
            raise KeyboardInterrupt
        stop.set()
    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        loop.add_signal_handler(signal.SIGTERM, on_sigint)
    except (NotImplementedError, RuntimeError):
        pass   # Windows: KeyboardInterrupt ends the loop below instead

    con.print("looking for %s ..." % (target or "a repbelt board"))
    board = await client.connect(target, known=_known(store))
    st = client.status
    dev = store.add_device(board.address, name=board.name, bonded=True, firmware=st.get("firmware"),
                           protocol=st.get("protocol"))
    if stop.is_set():      # Ctrl-C while looking for the board: nothing was started
        await client.close()
        raise click.Abort()
    con.print("connected to %s (%s), firmware %s, MTU %d" % (board.name, board.address, st["firmware"], client.mtu))
    rec = Recorder(client, store, dev, guide=guide)
    await rec.start(resume=resume)
    t0 = time.monotonic()
    try:
        if con.is_terminal:
            from rich.live import Live
            with Live(_view(rec, board, t0), console=con, refresh_per_second=VIEW_HZ, transient=False) as live:
                await _wait(rec, stop, duration_s, t0, lambda: live.update(_view(rec, board, t0)))
        else:
            last = [0.0]

            def plain():
                if time.monotonic() - last[0] >= PLAIN_EVERY_S:
                    last[0] = time.monotonic()
                    con.print(_plain_line(rec, t0))
            await _wait(rec, stop, duration_s, t0, plain)
        con.print("ending the session ...")
    finally:
        try:
            summary = await rec.stop()
        finally:
            await client.close()
    if client.failure is not None and not summary["complete"]:
        con.print("[yellow]%s[/]" % client.failure)
    return summary


async def _wait(rec, stop, duration_s, t0, refresh):
    while not stop.is_set():
        if duration_s is not None and time.monotonic() - t0 >= duration_s:
            return
        if rec.client.failure is not None:
            return
        refresh()
        try:
            await asyncio.wait_for(stop.wait(), 1.0 / VIEW_HZ)
        except asyncio.TimeoutError:
            pass


def _fmt_s(ms):
    s = int(ms // 1000)
    return "%d:%02d" % (s // 60, s % 60)


def _kind(k):
    return N.KIND_NAMES[k].replace("_", " ") if 0 < k < len(N.KIND_NAMES) else "-"


def _view(rec, board, t0):
    from rich.panel import Panel
    from rich.table import Table
    s = rec.state
    c = rec.client
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    link_style = {"connected": "green", "reconnecting": "yellow"}.get(s.link, "red")
    t.add_row("board", "%s  [%s]%s[/]" % (board.name, link_style, s.link))
    t.add_row("session", "#%s (board %s)  %s elapsed" % (rec.session_id, rec.board_session,
                                                         _fmt_s((time.monotonic() - t0) * 1000)))
    g = rec.guide
    if g is not None:
        cur = g.current
        if g.phase == "done":
            t.add_row("plan", "[green]plan complete[/] - Ctrl-C to end the session")
        elif g.phase == "rest":
            nxt = g.current.step if g.idx + 1 >= len(g.items) else g.items[g.idx + 1].step
            t.add_row("plan", "[cyan]rest %s[/]  next: %s (%s)" % (_fmt_s(g.rest_left_s() * 1000),
                                                                  _kind(nxt.kind_code), nxt.target_text()))
        else:
            t.add_row("plan", "[cyan]now: %s set %d/%d[/]  target %s  %s" % (
                _kind(cur.step.kind_code), cur.set_no, cur.step.sets, cur.step.target_text(), cur.step.note))
    t.add_row("exercise", _kind(s.kind))
    t.add_row("set / rep", "set %d  rep %d   (sets done %d, reps %d)" % (s.set_no, s.reps, s.sets_done, s.reps_total))
    if s.hold_kind is not None:
        stab = "-" if s.hold_stability is None else "%d/100" % s.hold_stability
        t.add_row("hold", "[magenta]%s %s[/]  stability %s" % (_kind(s.hold_kind), _fmt_s(s.hold_elapsed_ms), stab))
    elif s.last_hold is not None:
        t.add_row("last hold", "%s %.1f s  stability %d/100" % (_kind(s.last_hold[0]), s.last_hold[1] / 1000.0,
                                                              s.last_hold[2]))
    t.add_row("steps", "%d%s" % (s.steps_total, ("  (walking, %d spm)" % s.cadence) if s.walking else ""))
    t.add_row("posture", N.POSTURE_NAMES[s.posture] if s.posture < len(N.POSTURE_NAMES) else "?")
    bstyle = {E.BAT_LOW: "yellow", E.BAT_CRITICAL: "bold red"}.get(s.battery_level, "")
    btext = battery_text(s.battery_pct, s.battery_level, s.battery_mv)
    t.add_row("battery", ("[%s]%s[/]" % (bstyle, btext)) if bstyle else btext)
    if s.power is not None:
        t.add_row("power", s.power)
    t.add_row("events", "%d stored, %d received, %d replays, %d reconnects" % (
        s.stored, s.received, c.stats["replays"], c.stats["reconnects"]))
    if getattr(rec, "store_error", None) is not None:
        t.add_row("[red]database[/]", "[red]%s[/]" % rec.store_error)
    return Panel(t, title="repbelt record", subtitle="Ctrl-C ends the session", expand=False)


def _plain_line(rec, t0):
    s = rec.state
    return ("%s  link=%s  exercise=%s set=%d rep=%d  steps=%d  stored=%d received=%d  battery=%s%s" % (
        _fmt_s((time.monotonic() - t0) * 1000), s.link, _kind(s.kind), s.set_no, s.reps, s.steps_total,
        s.stored, s.received, "?" if s.battery_pct is None else "%d%%" % s.battery_pct,
        {E.BAT_LOW: "(low)", E.BAT_CRITICAL: "(critical)"}.get(s.battery_level, "")))


def _print_summary(summary, db_path):
    con = _console()
    s = summary["session"]
    st = summary["stats"]
    dur = s.get("duration_s")
    con.print("session %d stored in %s: %d events, %d sets, %d reps, %d holds, %d steps%s" % (
        summary["session_id"], db_path, summary["events"], s.get("n_sets", 0), s.get("n_reps", 0),
        s.get("n_holds", 0), s.get("steps", 0), ("" if dur is None else ", %.0f s" % dur)))
    con.print("link: %d drops, %d reconnects, %d replays, %d duplicates ignored, %d gaps" % (
        st["drops"], st["reconnects"], st["replays"], st["duplicates"], st["gaps"]))
    if not summary["complete"]:
        if summary["board_last_seq"] is None:
            con.print("[yellow]the board did not confirm the end of the session (link lost?): what arrived is "
                      "stored; run `repbelt sync` near the board to fetch the rest[/]")
        else:
            con.print("[yellow]not every event reached this laptop (board has up to seq %s): run `repbelt sync` "
                      "near the board to fetch the rest[/]" % summary["board_last_seq"])
    con.print("review it with `repbelt show %d`" % summary["session_id"])


# ---------------------------------------------------------------- sync

@click.command("sync")
@board_option
@db_option
@adapter_option
@click.option("--delete", is_flag=True, help="delete each session on the board after a verified complete copy")
def sync_cmd(target, db, adapter, delete):
    """Fetch the sessions the board logged while no laptop was near."""
    store = Store.open(db)
    try:
        rows = _run(_sync(store, target, adapter, delete))
    finally:
        store.close()
    con = _console()
    if not rows:
        con.print("the board holds no finished sessions")
        return
    from rich.table import Table
    t = Table(title="synced into %s" % store.path, title_justify="left")
    for col in ("board session", "stored as", "records", "new", "complete"):
        t.add_column(col, justify="right")
    for board_session, sid, new, complete, n in rows:
        t.add_row(str(board_session), "#%d" % sid, str(n), str(new),
                  ("yes" + (", deleted on board" if delete else "")) if complete else "[yellow]no[/]")
    con.print(t)
    if any(not r[3] for r in rows):
        raise UserError("some sessions are incomplete (the link dropped?): run `repbelt sync` again", code=1)


async def _sync(store, target, adapter, delete):
    from .recorder import sync_board
    con = _console()
    client = _client(adapter)
    client.auto_reconnect = True
    con.print("looking for %s ..." % (target or "a repbelt board"))
    board = await client.connect(target, known=_known(store))
    st = client.status
    dev = store.add_device(board.address, name=board.name, bonded=True, firmware=st.get("firmware"),
                           protocol=st.get("protocol"))
    try:
        return await sync_board(client, store, dev, delete=delete,
                                progress=lambda s, n, ok: con.print("session %d: %d new events%s"
                                                                    % (s, n, "" if ok else " (incomplete)")))
    finally:
        await client.close()


COMMANDS = [scan_cmd, record_cmd, sync_cmd]
