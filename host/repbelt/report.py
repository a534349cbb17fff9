"""`repbelt report`: one self-contained HTML page (inline SVG, no scripts, no external URLs).

Plots for one session (reps per set against the plan's target, rep tempo,
range per rep, hold stability over time from HOLD_TICK events) and for the
whole history (weekly volume, steps per day against the walking target).
"""
import html
import math

from . import review

PLOT_W = 1100
PLOT_H = 260
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 60, 20, 30, 44
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#2f4b7c", "#1b9e77")
TARGET_COLOR = "#59a14f"


def kind_color(code):
    return PALETTE[code % len(PALETTE)]


def _esc(s):
    return html.escape(str(s), quote=True)


def _nice_max(v):
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _fmt(v):
    return ("%d" % v) if float(v).is_integer() else ("%.1f" % v)


class _Plot:
    """An SVG canvas with a y axis from 0 to ymax and an x axis of n slots or a numeric range."""

    def __init__(self, title, ylabel, ymax, xlabel=""):
        self.title, self.ylabel, self.xlabel = title, ylabel, xlabel
        self.ymax = _nice_max(ymax)
        self.parts = []
        self.x0, self.x1 = MARGIN_L, PLOT_W - MARGIN_R
        self.y0, self.y1 = PLOT_H - MARGIN_B, MARGIN_T

    def y(self, v):
        return self.y0 - (self.y0 - self.y1) * max(0.0, min(v, self.ymax)) / self.ymax

    def add(self, s):
        self.parts.append(s)

    def svg(self):
        out = ['<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
               'role="img" aria-label="%s">' % (PLOT_W, PLOT_H, PLOT_W, PLOT_H, _esc(self.title)),
               '<text x="%d" y="18" class="t">%s</text>' % (self.x0, _esc(self.title))]
        for i in range(5):
            v = self.ymax * i / 4
            yy = self.y(v)
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/>' % (self.x0, self.x1, yy, yy))
            out.append('<text x="%d" y="%.1f" class="yl">%s</text>' % (self.x0 - 6, yy + 4, _fmt(v)))
        out.append('<text x="14" y="%d" class="al" transform="rotate(-90 14 %d)">%s</text>'
                   % ((self.y0 + self.y1) // 2, (self.y0 + self.y1) // 2, _esc(self.ylabel)))
        if self.xlabel:
            out.append('<text x="%d" y="%d" class="al" text-anchor="middle">%s</text>'
                       % ((self.x0 + self.x1) // 2, PLOT_H - 6, _esc(self.xlabel)))
        out.extend(self.parts)
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" class="ax"/>' % (self.x0, self.x1, self.y0, self.y0))
        out.append("</svg>")
        return "\n".join(out)


def _empty(title, message):
    p = _Plot(title, "", 1)
    p.add('<text x="%d" y="%d" class="empty" text-anchor="middle">%s</text>'
          % (PLOT_W // 2, PLOT_H // 2, _esc(message)))
    return p.svg()


def bar_plot(title, ylabel, bars, xlabel="", band=None, max_labels=40):
    """bars: [(label, value, color, tooltip, (target_lo, target_hi) or None)]; band: horizontal target (lo, hi)."""
    if not bars:
        return _empty(title, "no data yet")
    top = max([b[1] for b in bars] + [(b[4][1] or b[4][0]) for b in bars if b[4]] + ([band[1]] if band else []))
    p = _Plot(title, ylabel, top * 1.08, xlabel)
    if band:
        p.add('<rect x="%d" y="%.1f" width="%d" height="%.1f" class="band"><title>target %s-%s</title></rect>'
              % (p.x0, p.y(band[1]), p.x1 - p.x0, max(1.0, p.y(band[0]) - p.y(band[1])),
                 _fmt(band[0]), _fmt(band[1])))
    n = len(bars)
    slot = (p.x1 - p.x0) / n
    w = max(1.0, slot * 0.75)
    every = max(1, int(math.ceil(n / max_labels)))
    for i, (label, value, color, tip, target) in enumerate(bars):
        x = p.x0 + i * slot + (slot - w) / 2
        yy = p.y(value)
        p.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>'
              % (x, yy, w, max(0.0, p.y0 - yy), color, _esc(tip)))
        if target:
            lo, hi = target
            hi = lo if hi is None else hi
            p.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="tgt"/>'
                  % (x - 2, p.y(hi) - 1, w + 4, max(2.0, p.y(lo) - p.y(hi) + 2)))
        if i % every == 0:
            p.add('<text x="%.1f" y="%d" class="xl">%s</text>' % (x + w / 2, p.y0 + 14, _esc(label)))
    return p.svg()


def point_plot(title, ylabel, points, xlabel="", lines=False):
    """points: [(series_key, x, y, color, tooltip)]; lines joins each series in order."""
    if not points:
        return _empty(title, "no data yet")
    xmax = max(pt[1] for pt in points) or 1
    p = _Plot(title, ylabel, max(pt[2] for pt in points) * 1.08, xlabel)

    def x(v):
        return p.x0 + (p.x1 - p.x0) * v / xmax

    for i in range(5):
        v = xmax * i / 4
        p.add('<text x="%.1f" y="%d" class="xl">%s</text>' % (x(v), p.y0 + 14, _fmt(round(v) if xmax >= 20 else round(v, 1))))
    if lines:
        series = {}
        for key, px, py, color, _ in points:
            series.setdefault(key, (color, []))[1].append("%.1f,%.1f" % (x(px), p.y(py)))
        for key, (color, pts) in series.items():
            p.add('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>'
                  % (color, " ".join(pts), _esc(key)))
    for key, px, py, color, tip in points:
        p.add('<circle cx="%.1f" cy="%.1f" r="%s" fill="%s"><title>%s</title></circle>'
              % (x(px), p.y(py), "2.5" if lines else "4", color, _esc(tip)))
    return p.svg()


def _legend(kinds):
    return " ".join('<span class="key"><i style="background:%s"></i>%s</span>'
                    % (kind_color(k), _esc(review.kind_name(k))) for k in kinds)


def build_report(store, plan, session_id=None, step_length_m=None):
    """The report page as a string. session_id None: the latest session."""
    step_length_m = step_length_m or plan.step_length_m
    store.derive_dirty()
    summaries = store.sessions()
    if session_id is None and summaries:
        session_id = summaries[0]["id"]
    detail = review.session_detail(store, session_id, step_length_m) if session_id is not None else None
    prog = review.progress(store, plan, step_length_m)

    sections = []
    if detail:
        s = detail["session"]
        when = review.local_time(s["started"]).strftime("%Y-%m-%d %H:%M")
        dur = s["duration_s"] or 0
        sections.append('<h2>Session %d: %s, %d min, %s</h2>' % (s["id"], _esc(when), round(dur / 60),
                                                                 _esc(", ".join(s["kinds"]) or "nothing detected")))
        sections.append('<p class="sum">%d sets, %d reps, %d holds (%d s), %d steps (%.2f km)</p>'
                        % (s["n_sets"], s["n_reps"], s["n_holds"], round(s["hold_ms"] / 1000), s["steps"],
                           s["steps"] * step_length_m / 1000.0))
        kinds = sorted({x["kind_code"] for x in detail["sets"]})
        bars = []
        for st in detail["sets"]:
            step = plan.step_for(st["kind_code"])
            target = None
            if step and not step.is_hold:
                mult = 2 if step.per_side else 1
                target = (step.reps[0] * mult, step.reps[1] * mult)
            bars.append(("%s %d" % (st["kind"], st["set"]), st["reps"], kind_color(st["kind_code"]),
                         "%s set %d: %d reps" % (st["kind"], st["set"], st["reps"]), target))
        sections.append(_card(bar_plot("Reps per set (green: plan target)", "reps", bars), _legend(kinds)))
        reps = []
        n = 0
        for st in detail["sets"]:
            for r in st["rep_list"]:
                n += 1
                reps.append((st, r, n))
        sections.append(_card(point_plot("Rep tempo", "seconds per rep",
                                         [(st["kind"], i, r["tempo_s"], kind_color(st["kind_code"]),
                                           "%s set %d rep %d: %.2f s" % (st["kind"], st["set"], r["rep"], r["tempo_s"]))
                                          for st, r, i in reps], xlabel="rep number in session"), _legend(kinds)))
        sections.append(_card(point_plot("Range per rep", "degrees",
                                         [(st["kind"], i, r["range_deg"], kind_color(st["kind_code"]),
                                           "%s set %d rep %d: %.1f deg" % (st["kind"], st["set"], r["rep"], r["range_deg"]))
                                          for st, r, i in reps], xlabel="rep number in session"), _legend(kinds)))
        ticks = store.hold_ticks(session_id)
        holds = store.holds(session_id)
        pts = []
        hold_kinds = set()
        for t_ms, kind, elapsed_ms, sway, stab, drift in ticks:
            start = t_ms - elapsed_ms
            idx = next((i for i, h in enumerate(holds) if abs(h["start_ms"] - start) <= 1500), None)
            key = "%s %d" % (review.kind_name(kind), (idx if idx is not None else len(holds)) + 1)
            hold_kinds.add(kind)
            pts.append((key, elapsed_ms / 1000.0, stab, kind_color(kind),
                        "%s at %.0f s: stability %d, sway %.1f mg" % (key, elapsed_ms / 1000.0, stab, sway / 10.0)))
        sections.append(_card(point_plot("Hold stability over time", "stability (0-100)", pts,
                                         xlabel="seconds into the hold", lines=True), _legend(sorted(hold_kinds))))
    else:
        sections.append("<h2>No sessions stored yet</h2>")

    weeks = {}
    for w in prog["weeks"]:
        weeks.setdefault(w["week"], [0, 0.0])
        weeks[w["week"]][0] += w["reps"]
    hold_s = {}
    starts = store.session_starts()
    for h in store.holds():
        wk = review.iso_week(review.local_day(starts[h["session_id"]] + h["start_ms"] / 1000.0))
        hold_s[wk] = hold_s.get(wk, 0.0) + h["dur_ms"] / 1000.0
        weeks.setdefault(wk, [0, 0.0])
    wbars = [(wk, v[0], PALETTE[0], "%s: %d reps, %d s of holds" % (wk, v[0], round(hold_s.get(wk, 0))), None)
             for wk, v in sorted(weeks.items())]
    sections.append('<h2>History</h2>')
    sections.append(_card(bar_plot("Weekly volume (reps)", "reps per week", wbars, max_labels=26), ""))
    lo, hi = prog["steps_target"]
    sbars = [(r["date"].strftime("%m-%d"), r["steps"], TARGET_COLOR if r["status"] != "below" else PALETTE[1],
              "%s: %d steps, %.2f km" % (r["date"].isoformat(), r["steps"], r["km"]), None) for r in prog["steps"]]
    km_lo, km_hi = prog["km_target"]
    sections.append(_card(bar_plot("Steps per day (band: %s-%s km at %.2f m a step)"
                                   % (_fmt(km_lo), _fmt(km_hi), step_length_m),
                                   "steps", sbars, band=(lo, hi), max_labels=30), ""))
    if detail:
        sections.append("<h2>Session %d details</h2>" % detail["session"]["id"])
        sections.append(_tables(detail))
    return PAGE % {"title": "repbelt report", "body": "\n".join(sections)}


def _card(svg, legend):
    return '<div class="card">%s<div class="legend">%s</div></div>' % (svg, legend)


def _tables(detail):
    rows = []
    for st in detail["sets"]:
        rows.append("<tr><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                    % (_esc(st["kind"]), st["set"], st["reps"],
                       "" if st["tempo_s"] is None else "%.2f s" % st["tempo_s"],
                       "" if st["range_deg"] is None else "%.1f&deg;" % st["range_deg"],
                       "" if st["complete"] else "cut short"))
    for h in detail["holds"]:
        rows.append("<tr><td>%s</td><td>hold</td><td>%.0f s</td><td>sway %.1f mg</td><td>stability %d</td>"
                    "<td>drift %.1f&deg;</td></tr>" % (_esc(h["kind"]), h["duration_s"], h["sway_mg"],
                                                       h["stability"], h["drift_deg"]))
    for w in detail["walks"]:
        rows.append("<tr><td>walk</td><td></td><td>%d steps</td><td>%d spm</td><td>%.0f m</td><td></td></tr>"
                    % (w["steps"], w["cadence_spm"], w["distance_m"]))
    if not rows:
        return ""
    return ('<table><tr><th>exercise</th><th>set</th><th>reps / time</th><th>tempo</th><th>range</th>'
            '<th></th></tr>%s</table>' % "\n".join(rows))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%(title)s</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 8px} h2{font-size:18px;margin:18px 0 6px}
.card{margin:8px 0 14px} .sum{margin:0 0 8px;color:#444}
svg.plot{display:block;background:#fafafa;border:1px solid #ddd}
svg .t{font-size:14px;font-weight:600;fill:#222} svg .yl{font-size:11px;text-anchor:end;fill:#555}
svg .xl{font-size:10px;text-anchor:middle;fill:#555} svg .al{font-size:11px;fill:#555}
svg .g{stroke:#e4e4e4} svg .ax{stroke:#888} svg .empty{font-size:16px;fill:#999}
svg .band{fill:#59a14f;opacity:.18} svg .tgt{fill:none;stroke:#59a14f;stroke-width:2}
.legend{font-size:12px;margin-top:3px} .key{margin-right:12px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse;font-size:13px;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
</style></head><body>
<h1>repbelt report</h1>
%(body)s
</body></html>
"""
