"""Guided mount calibration over USB: stand still, lie on the back, rotation into the board's config.

The routine follows the sensor's own clock (FIFO sample time), so prompts
and measuring windows line up with the samples whatever the link latency.
The rotation comes from the core's `rb_mount.rotation_from` (the same code
the board runs for MOUNT_CALIBRATE); this module only checks that the wearer
was still in each window, on the same 40 ms frames the core uses.
"""
import json

from . import paths  # noqa: F401 - puts firmware/ on sys.path
import rb_events as E
import rb_mount

from .board_deploy import CONFIG, merge_config
from .board_stream import Collector, stream
from .board_usb import Board
from .errors import UserError

PREP_MS = 3000      # countdown before "stand still" is measured
STAND_MS = 3000
MOVE_MS = 8000      # time to lie down on the back, knees bent
LIE_MS = 3000
FRAME_MS = 40       # the core's frame: samples are averaged per 40 ms before judging stillness
EDGE_MS = 300       # the first/last moments of a window are not judged (reaction time)


def phases(prep_ms=PREP_MS, stand_ms=STAND_MS, move_ms=MOVE_MS, lie_ms=LIE_MS):
    """(stand window, lie window, total) in sample-time ms."""
    s0 = prep_ms
    s1 = s0 + stand_ms
    l0 = s1 + move_ms
    l1 = l0 + lie_ms
    return (s0, s1), (l0, l1), l1


def frames(rows, t0, t1):
    """40 ms means [(ax, ay, az, gyro_l1)] of the samples with t0+EDGE <= t < t1-EDGE."""
    out = []
    acc = None
    cur = None
    for t, ax, ay, az, gx, gy, gz in rows:
        if t < t0 + EDGE_MS or t >= t1 - EDGE_MS:
            continue
        k = t // FRAME_MS
        if k != cur:
            if acc and acc[4]:
                n = acc[4]
                out.append((acc[0] // n, acc[1] // n, acc[2] // n, acc[3] // n))
            acc = [0, 0, 0, 0, 0]
            cur = k
        acc[0] += ax
        acc[1] += ay
        acc[2] += az
        acc[3] += abs(gx) + abs(gy) + abs(gz)
        acc[4] += 1
    if acc and acc[4]:
        n = acc[4]
        out.append((acc[0] // n, acc[1] // n, acc[2] // n, acc[3] // n))
    return out


def stillness(fr):
    """(mean (ax, ay, az), worst frame deviation mg, worst gyro L1 ddps)."""
    n = len(fr)
    mean = tuple(sum(f[i] for f in fr) // n for i in range(3))
    dev = max(max(abs(f[i] - mean[i]) for i in range(3)) for f in fr)
    gyro = max(f[3] for f in fr)
    return mean, dev, gyro


def compute(rows, stand_win, lie_win):
    """Rotation from a recorded routine; UserError (the wearer's fix) when it cannot be trusted."""
    res = {}
    for name, win, what in (("stand", stand_win, "standing still"),
                            ("lie", lie_win, "lying still on your back")):
        fr = frames(rows, win[0], win[1])
        need = (win[1] - win[0] - 2 * EDGE_MS) // FRAME_MS // 2
        if len(fr) < max(5, need):
            raise UserError("too few samples while %s (%d frames): check the board with "
                            "`repbelt doctor` and run `repbelt calibrate` again" % (what, len(fr)))
        mean, dev, gyro = stillness(fr)
        if dev > rb_mount.CAL_STILL_MG or gyro > rb_mount.CAL_STILL_DPS10:
            raise UserError("you moved while %s (%d mg / %d.%d deg/s; allowed %d mg / %d deg/s): "
                            "nothing was stored; run `repbelt calibrate` again and keep still"
                            % (what, dev, gyro // 10, gyro % 10, rb_mount.CAL_STILL_MG,
                               rb_mount.CAL_STILL_DPS10 // 10))
        res[name] = {"mean_mg": mean, "dev_mg": dev, "gyro_ddps": gyro}
    R, status = rb_mount.rotation_from(res["stand"]["mean_mg"], res["lie"]["mean_mg"])
    if status != E.CAL_OK or R is None:
        raise UserError("standing and lying were not about 90 degrees apart: stand upright, then "
                        "lie flat on your back with knees bent, and run `repbelt calibrate` again")
    res["rotation"] = list(R)
    res["stand_body_mg"] = rb_mount.rotate(R, *res["stand"]["mean_mg"])
    return res


def run(port, say, prep_ms=PREP_MS, stand_ms=STAND_MS, move_ms=MOVE_MS, lie_ms=LIE_MS):
    """The guided routine on the board at `port`; stores the rotation; returns compute()'s dict."""
    stand_win, lie_win, total = phases(prep_ms, stand_ms, move_ms, lie_ms)
    cues = [(0, "Stand upright and still, belt on. Measuring in %d s..." % (prep_ms // 1000))]
    for s in range(prep_ms // 1000 - 1, 0, -1):
        cues.append((prep_ms - s * 1000, "  %d" % s))
    cues += [(stand_win[0], "STAND STILL (%d s)" % (stand_ms // 1000)),
             (stand_win[1], "Now lie on your back, knees bent, and stay still (%d s)"
              % (move_ms // 1000)),
             (lie_win[0] - 2000, "  2"), (lie_win[0] - 1000, "  1"),
             (lie_win[0], "LIE STILL (%d s)" % (lie_ms // 1000)),
             (lie_win[1], "Done: you can get up.")]
    col = Collector()

    def on_sample(t, *v):
        col(t, *v)
        while cues and t >= cues[0][0]:
            say(cues.pop(0)[1])

    with Board(port) as b:
        b.soft_reset()    # the app lets go of the sensor
        cfg = b.read_json(CONFIG) or {}
        stream(b, on_sample, duration_ms=total, rate_hz=cfg.get("rate_hz", 100))
        while cues:
            say(cues.pop(0)[1])
        try:
            res = compute(col.rows, stand_win, lie_win)
        except UserError:
            b.reset()
            raise
        new = merge_config(cfg, {"rotation": res["rotation"], "mount": "fixed"})
        b.write_file(CONFIG, (json.dumps(new, sort_keys=True) + "\n").encode())
        b.reset()
    return res
