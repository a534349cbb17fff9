"""`repbelt capture`: raw samples over USB into a labelled trace (trace-format v1 CSV + labels JSON).

The wearer is prompted through the exercise.  Rep ends come either from the
wearer pressing Enter when back in the starting position, or (`timed`) from
the prompts' own schedule: "rep 3... back" every `rep_s` seconds.  All times
are the sensor's FIFO clock, so labels and samples share one time axis.
"""
import json
import queue
import threading
from pathlib import Path

from . import paths  # noqa: F401 - puts firmware/ on sys.path
import rb_events as E
import rb_names as N

from .board_deploy import CONFIG
from .board_stream import Collector, stream
from .board_usb import Board
from .errors import UserError

PREP_MS = 5000          # get into position
SETTLE_MS = 2000        # rest in position before the first rep / after the last
REP_S_DEFAULT = 4.0
HOLD_S_DEFAULT = 20.0
WALK_S_DEFAULT = 30.0
LABELS_FORMAT = "repbelt-labels/1"


def kind_class(kind):
    code = N.kind_code(kind)
    if code == E.K_NONE:
        raise UserError("unknown kind %r: use one of %s" % (kind, ", ".join(N.KIND_NAMES[1:])))
    if code in E.HOLD_KINDS:
        return "hold"
    if code == E.K_WALK:
        return "walk"
    return "rep"


def write_trace(path, rows, info, meta_source, mount):
    """Trace CSV in the shared format: t in s, accel in g, gyro in deg/s, on the sensor axes."""
    path = Path(path)
    lines = ["# rate_hz=%d" % info.rate_hz, "# sensor=%s" % info.chip,
             "# accel_range_g=%d" % info.accel_range_g,
             "# gyro_range_dps=%d" % info.gyro_range_dps,
             "# source=%s" % meta_source, "# mount=%s" % mount]
    if info.has_gyro:
        lines.append("t,ax,ay,az,gx,gy,gz")
    else:
        lines.append("t,ax,ay,az")
    for t, ax, ay, az, gx, gy, gz in rows:
        s = "%s,%s,%s,%s" % (_dec(t, 1000, 3), _dec(ax, 1000, 3), _dec(ay, 1000, 3), _dec(az, 1000, 3))
        if info.has_gyro:
            s += ",%s,%s,%s" % (_dec(gx, 10, 1), _dec(gy, 10, 1), _dec(gz, 10, 1))
        lines.append(s)
    path.write_text("\n".join(lines) + "\n")


def _dec(v, scale, places):
    # exact decimal text of an int in 1/scale units (no float rounding)
    sign = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%0*d" % (sign, v // scale, places, v % scale)


def labels_path(trace_path):
    p = Path(trace_path)
    name = p.name[:-4] if p.name.endswith(".csv") else p.name
    return p.with_name(name + ".labels.json")


def run(port, kind, out, say, reps=10, rep_s=REP_S_DEFAULT, hold_s=HOLD_S_DEFAULT,
        walk_s=WALK_S_DEFAULT, timed=False, steps=None, enter_events=None):
    """Record one labelled segment of `kind`; returns the labels dict.

    enter_events: a queue.Queue the Enter key feeds (None: read stdin in a thread).
    """
    cls = kind_class(kind)
    seg = {"kind": kind}
    marks = []
    cues = [(0, "Get into position for %s (%d s)..." % (kind, PREP_MS // 1000))]
    start_ms = PREP_MS
    if cls == "rep":
        if timed:
            for i in range(reps):
                cues.append((start_ms + int(i * rep_s * 1000), "rep %d: go" % (i + 1)))
                marks.append(start_ms + int((i + 1) * rep_s * 1000))
            end_ms = start_ms + int(reps * rep_s * 1000)
            duration = end_ms + SETTLE_MS
        else:
            cues.append((start_ms, "GO: do %d reps; press Enter each time you are back in the "
                         "start position" % reps))
            duration = 0
    elif cls == "hold":
        end_ms = start_ms + int(hold_s * 1000)
        cues.append((start_ms, "HOLD %s for %d s" % (kind, hold_s)))
        duration = end_ms + SETTLE_MS
    else:
        end_ms = start_ms + int(walk_s * 1000)
        cues.append((start_ms, "WALK for %d s, counting your steps" % walk_s))
        duration = end_ms + SETTLE_MS
    cues.append((duration or 1 << 30, "done"))
    col = Collector()
    q = enter_events
    if cls == "rep" and not timed and q is None:
        q = queue.Queue()

        def reader():
            while True:
                try:
                    input()
                except EOFError:
                    return
                q.put(True)
        threading.Thread(target=reader, daemon=True).start()

    def on_sample(t, *v):
        col(t, *v)
        while cues and t >= cues[0][0]:
            say(cues.pop(0)[1])
        if q is not None:
            while not q.empty():
                q.get()
                marks.append(t)
                say("rep %d" % len(marks))

    def stop():
        return cls == "rep" and not timed and len(marks) >= reps

    with Board(port) as b:
        b.soft_reset()
        cfg = b.read_json(CONFIG) or {}
        info = stream(b, on_sample, duration_ms=duration, rate_hz=cfg.get("rate_hz", 100),
                      should_stop=stop)
        mount = cfg.get("mount", "default") if cfg.get("rotation") is None else "unknown"
        b.reset()
    if not col.rows:
        raise UserError("no samples arrived from the board: run `repbelt doctor`")
    if cls == "rep":
        if not timed:
            end_ms = (marks[-1] if marks else col.last_t) + 500
        seg.update(start=start_ms / 1000, end=end_ms / 1000, reps=len(marks),
                   rep_ends=[m / 1000 for m in marks])
    elif cls == "hold":
        seg.update(start=start_ms / 1000, end=end_ms / 1000, hold_s=(end_ms - start_ms) / 1000)
    else:
        seg.update(start=start_ms / 1000, end=end_ms / 1000)
        if steps is None:
            raise UserError("walk captures need the step count: give --steps N")
        seg["steps"] = int(steps)
    write_trace(out, col.rows, info, "repbelt capture (%s, %s)" % (info.chip, port), mount)
    labels = {"format": LABELS_FORMAT, "segments": [seg]}
    if info.lost:
        labels["lost_samples"] = info.lost
    labels_path(out).write_text(json.dumps(labels, indent=1) + "\n")
    return labels
