"""`repbelt analyze` and `repbelt bench`: the detection core on recordings."""
import os
import sys
import time

import click
from rich.console import Console
from rich.table import Table

from . import analyze as A
from . import paths
from .store import Store, db_option


@click.command()
@click.argument("trace", type=click.Path(dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the analysis JSON (trace-format section 3).")
@click.option("--runtime", type=click.Choice(["cpython", "micropython"]), default="cpython",
              show_default=True, help="Run the core here or inside the MicroPython unix port.")
@click.option("--thresholds", type=click.Path(), default=None,
              help="Thresholds file (default calibration_data/thresholds.json).")
@click.option("--save", is_flag=True, help="Also store the result as a session (review it with `repbelt show`).")
@db_option
def analyze(trace, as_json, runtime, thresholds, save, db):
    """Count reps, holds and steps in a recorded TRACE.csv."""
    tun = A.load_tunables(thresholds)
    if runtime == "micropython":
        text = A.analyze_micropython(trace, thresholds)
    else:
        text, an = A.analyze_cpython(trace, tun, keep_events=save)
    if save:
        if runtime == "micropython":
            _, an = A.analyze_cpython(trace, tun, keep_events=True)
        st = Store.open(db)
        sid = st.import_events(an.events, source="analyze", started=os.path.getmtime(trace), note=str(trace))
        click.echo("saved as session %d (repbelt show %d)" % (sid, sid), err=True)
    if as_json:
        sys.stdout.write(text)
        return
    doc, rows = A.summary_rows(text)
    con = Console()
    t = Table(title="%s (%s mount, %s Hz)" % (trace, doc.get("mount"), doc.get("rate_hz")))
    for c in ("exercise", "start s", "end s", "result"):
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    con.print(t)
    if not rows:
        con.print("No exercise, hold or walk found.")
    cal = doc.get("calibration")
    if cal and cal["status"] != 0:
        con.print("[yellow]Mount calibration routine not found or failed (status %d): only steps were counted.[/]"
                  % cal["status"])


@click.group()
def bench():
    """Benchmarks that print figures (accuracy, firmware budget)."""


@bench.command("accuracy")
@click.option("--source", "sources", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of labelled traces (default: ../shared/datasets/* and calibration_data/generated).")
@click.option("--variants", is_flag=True,
              help="Also score synthetic-dev as 25, 50, 200 and 400 Hz and accelerometer-only "
                   "recordings, played 20% slower and 15% quicker, noisier, worn another way, "
                   "with sensor offsets and with dropped samples.")
@click.option("-v", "--verbose", is_flag=True)
def bench_accuracy(sources, variants, verbose):
    """Score the core against every labelled trace, per source and kind."""
    from . import bench_accuracy as B
    srcs = [paths.Path(s) for s in sources] or B.default_sources()
    by_source, dt = B.run(srcs, A.load_tunables(None), verbose=verbose, variants=variants)
    click.echo(B.fmt_table(by_source))
    click.echo("\n%d traces in %.1f s" % (sum(len(v) for v in by_source.values()), dt))


@bench.command("firmware")
@click.option("--minutes", default=10, show_default=True, help="Length of the synthetic session.")
def bench_firmware(minutes):
    """The core under the MicroPython unix port: heap per sample, peak heap, 64K run, time per sample."""
    from . import bench_firmware as F
    t0 = time.time()
    F.main(minutes)
    click.echo("(%.1f s)" % (time.time() - t0))


@bench.command("store", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_store_cmd(args):
    """Store throughput and report time for a year of daily sessions (see --help of the module)."""
    from . import bench_store
    bench_store.main(list(args))


COMMANDS = [analyze, bench]
