"""From core events to the analysis format (trace-format section 3), and trace analysis.

The JSON is written by hand from integers so that CPython and MicroPython
print byte-identical text.  `analyze_lines()` is the one function both the
host (`repbelt analyze`) and the MicroPython runtime (`rb_cli.py`) call.
"""
import rb_events as E
import rb_names as N
import rb_trace
import rb_engine

FORMAT = "repbelt-analysis/1"


def _s(ms):
    """Milliseconds as seconds with 3 decimals."""
    neg = ms < 0
    if neg:
        ms = -ms
    return ("-" if neg else "") + "%d.%03d" % (ms // 1000, ms % 1000)


def _d1(tenths):
    neg = tenths < 0
    if neg:
        tenths = -tenths
    return ("-" if neg else "") + "%d.%d" % (tenths // 10, tenths % 10)


class Analysis:
    """Collects events; `segments()` gives the analysis segments, `json()` the text."""

    def __init__(self):
        self.segs = []            # (start_ms, text)
        self.rep_ends = {}        # set_no -> [t_ms]
        self.rep_sides = {}
        self.events = []
        self.keep_events = False
        self.calibration = None
        self.n_events = 0

    def __call__(self, ev):
        self.n_events += 1
        if self.keep_events:
            self.events.append(ev)
        typ = ev[0]
        if typ == E.EV_REP:
            lst = self.rep_ends.get(ev[4])
            if lst is None:
                lst = self.rep_ends[ev[4]] = []
                self.rep_sides[ev[4]] = []
            lst.append(ev[1])
            self.rep_sides[ev[4]].append(ev[7])
        elif typ == E.EV_SET_END:
            ends = self.rep_ends.pop(ev[3], [])
            sides = self.rep_sides.pop(ev[3], [])
            txt = '{"kind": "%s", "start": %s, "end": %s, "reps": %d, "rep_ends": [%s]' % (
                N.KIND_NAMES[ev[2]], _s(ev[5]), _s(ev[6]), ev[4], ", ".join([_s(x) for x in ends]))
            if sides and sides[0]:
                txt += ', "sides": [%s]' % ", ".join(['"%s"' % N.SIDE_NAMES[x] for x in sides])
            self.segs.append((ev[5], txt + "}"))
        elif typ == E.EV_HOLD_END and ev[4] == 0:
            pass    # withdrawn: what looked like a hold was a set of reps
        elif typ == E.EV_HOLD_END:
            txt = '{"kind": "%s", "start": %s, "end": %s, "hold_s": %s, "sway_mg": %s, "stability": %d, "drift_deg": %s}' % (
                N.KIND_NAMES[ev[2]], _s(ev[3]), _s(ev[3] + ev[4]), _s(ev[4]), _d1(ev[5]), ev[6], _d1(ev[7]))
            self.segs.append((ev[3], txt))
        elif typ == E.EV_WALK_END:
            txt = '{"kind": "walk", "start": %s, "end": %s, "steps": %d, "cadence_spm": %d}' % (
                _s(ev[2]), _s(ev[3]), ev[4], ev[5])
            self.segs.append((ev[2], txt))
        elif typ == E.EV_CALIBRATED:
            self.calibration = (ev[2], ev[3])

    def json(self, meta=None):
        segs = sorted(self.segs, key=lambda s: s[0])
        out = ['{\n  "format": "%s",\n' % FORMAT]
        if meta:
            for kv in meta:
                out.append('  "%s": %s,\n' % kv)
        if self.calibration is not None:
            out.append('  "calibration": {"status": %d, "error_deg": %s},\n' % (
                self.calibration[0], _d1(self.calibration[1])))
        if not segs:
            out.append('  "segments": []\n}\n')
            return "".join(out)
        out.append('  "segments": [\n')
        for i in range(len(segs)):
            out.append("    " + segs[i][1] + (",\n" if i < len(segs) - 1 else "\n"))
        out.append("  ]\n}\n")
        return "".join(out)


def analyze_lines(lines, tun=None, keep_events=False):
    """Run the core over a trace. Returns (Analysis, TraceReader, Engine)."""
    reader = rb_trace.TraceReader(lines)
    an = Analysis()
    an.keep_events = keep_events
    eng = rb_engine.Engine(rate_hz=reader.rate_hz, has_gyro=reader.has_gyro,
                           mount=rb_engine.mount_code(reader.mount), tun=tun, emit=an)
    feed = eng.feed
    t = 0
    for s in reader:
        t = s[0]
        feed(t, s[1], s[2], s[3], s[4], s[5], s[6])
    eng.finish(t)
    return an, reader, eng


def meta_of(reader):
    # a list of pairs: MicroPython dicts do not keep insertion order
    return [("mount", '"%s"' % (reader.mount if reader.mount in ("default", "calibrate") else "unknown")),
            ("rate_hz", "%d" % reader.rate_hz)]
