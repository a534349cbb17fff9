"""Review numbers computed from the store: one session in user units, and progress against a plan.

Pure functions over a `Store` returning plain dicts and lists, so the
terminal view, the exports and the HTML report all show the same numbers.
Days are local calendar days of the wall-clock time an item happened.
"""
import datetime as dt

from . import paths  # noqa: F401  (puts firmware/ on sys.path)

import rb_events as E

import rb_names as N


def kind_name(code):
    return N.KIND_NAMES[code] if 0 <= code < len(N.KIND_NAMES) else "kind%d" % code


def local_time(ts):
    return dt.datetime.fromtimestamp(ts).astimezone()


def local_day(ts):
    return local_time(ts).date()


def iso_week(day):
    y, w, _ = day.isocalendar()
    return "%04d-W%02d" % (y, w)


def session_detail(store, session_id, step_length_m):
    """Everything `show` and the exports need about one session, in user units."""
    summ = store.session(session_id)
    t0 = summ["started"]
    sets = []
    for s in store.sets(session_id):
        reps = [{"rep": r["rep_no"], "t_s": r["t_ms"] / 1000.0, "tempo_s": r["dur_ms"] / 1000.0,
                 "range_deg": r["range_ddeg"] / 10.0, "side": N.SIDE_NAMES[r["side"]] if 0 <= r["side"] < 3 else ""}
                for r in s["rep_list"]]
        sets.append({"set": s["set_no"], "kind": kind_name(s["kind"]), "kind_code": s["kind"],
                     "start_s": s["start_ms"] / 1000.0, "duration_s": (s["end_ms"] - s["start_ms"]) / 1000.0,
                     "time": t0 + s["start_ms"] / 1000.0,
                     "reps": s["reps"], "complete": bool(s["complete"]),
                     "sides": [r["side"] for r in s["rep_list"]],
                     "tempo_s": _mean([r["tempo_s"] for r in reps]),
                     "range_deg": _mean([r["range_deg"] for r in reps]),
                     "rep_list": reps})
    holds = [{"kind": kind_name(h["kind"]), "kind_code": h["kind"], "start_s": h["start_ms"] / 1000.0,
              "time": t0 + h["start_ms"] / 1000.0, "duration_s": h["dur_ms"] / 1000.0,
              "sway_mg": h["sway_dmg"] / 10.0, "stability": h["stability"], "drift_deg": h["drift_ddeg"] / 10.0,
              "complete": bool(h["complete"])} for h in store.holds(session_id)]
    walks = [{"start_s": w["start_ms"] / 1000.0, "time": t0 + w["start_ms"] / 1000.0,
              "duration_s": (w["end_ms"] - w["start_ms"]) / 1000.0, "steps": w["steps"],
              "cadence_spm": w["cadence_spm"], "distance_m": round(w["steps"] * step_length_m, 1),
              "complete": bool(w["complete"])} for w in store.walks(session_id)]
    return {"session": summ, "sets": sets, "holds": holds, "walks": walks,
            "board_events": board_events(store, session_id, t0)}


BOARD_EVENT_TYPES = (E.EV_BATTERY, E.EV_POWER, E.EV_FAULT)


def board_events(store, session_id, t0):
    """Battery, power and fault events of a session in words: [{"t_s", "time", "what", "text"}]."""
    from .recorder import battery_text, power_text
    out = []
    for _seq, ev in store.events(session_id):
        typ = ev[0]
        if typ not in BOARD_EVENT_TYPES:
            continue
        if typ == E.EV_BATTERY:
            what, text = "battery", battery_text(ev[2], ev[4], ev[3])
            if ev[4] == E.BAT_OK:
                text += " (back above the low level)"
        elif typ == E.EV_POWER:
            what, text = "power", power_text(ev)
        else:
            name = (N.FAULT_NAMES[ev[2]] if 0 < ev[2] < len(N.FAULT_NAMES) else "fault %d" % ev[2]).replace("_", " ")
            last = out[-1] if out else None
            if last is not None and last.get("fault") == ev[2]:
                # a run of the same fault (FIFO overflows while idle) is one row, not a screenful
                last["count"] += 1
                last["text"] = "%s x %d (from %s)" % (name, last["count"], last["first_text"])
                continue
            what, text = "fault", "%s (detail %d)" % (name, ev[3])
            out.append({"t_s": ev[1] / 1000.0, "time": t0 + ev[1] / 1000.0, "what": what, "text": text,
                        "fault": ev[2], "count": 1, "first_text": "detail %d" % ev[3]})
            continue
        out.append({"t_s": ev[1] / 1000.0, "time": t0 + ev[1] / 1000.0, "what": what, "text": text})
    for b in out:
        for k in ("fault", "count", "first_text"):
            b.pop(k, None)
    return out


def _mean(xs):
    return round(sum(xs) / len(xs), 2) if xs else None


def progress(store, plan, step_length_m=None, days=None, today=None):
    """Per exercise per day and per ISO week against the plan, and steps per day against the walk target.

    Returns {"days": [...], "weeks": [...], "steps": [...], "steps_target": (min, max)} where
    day rows are {"date", "kind", "sets", "reps", "on_target", "target_sets", "best_hold_s"}, week
    rows add "days" (days trained) and "planned_sets" (target sets x days trained), step rows are
    {"date", "steps", "km", "status"} with status "below", "ok" or "above". `days` limits to the
    last N calendar days up to `today`.
    """
    step_length_m = step_length_m or plan.step_length_m
    starts = store.session_starts()
    since = None
    if days is not None:
        today = today or dt.date.today()
        since = today - dt.timedelta(days=days - 1)

    per_day = {}   # (date, kind code) -> row

    def row(day, kind):
        key = (day, kind)
        if key not in per_day:
            step = plan.step_for(kind)
            per_day[key] = {"date": day, "kind": kind_name(kind), "kind_code": kind, "sets": 0, "reps": 0,
                            "on_target": 0, "target_sets": step.sets if step else None,
                            "best_hold_s": None, "in_plan": step is not None}
        return per_day[key]

    for s in store.sets():
        day = local_day(starts[s["session_id"]] + s["start_ms"] / 1000.0)
        if since and day < since:
            continue
        r = row(day, s["kind"])
        r["sets"] += 1
        r["reps"] += s["reps"]
        step = plan.step_for(s["kind"])
        if step and not step.is_hold and step.meets(reps=s["reps"], sides=[x["side"] for x in s["rep_list"]]):
            r["on_target"] += 1
    for h in store.holds():
        day = local_day(starts[h["session_id"]] + h["start_ms"] / 1000.0)
        if since and day < since:
            continue
        r = row(day, h["kind"])
        r["sets"] += 1
        dur_s = h["dur_ms"] / 1000.0
        r["best_hold_s"] = dur_s if r["best_hold_s"] is None else max(r["best_hold_s"], dur_s)
        step = plan.step_for(h["kind"])
        if step and step.is_hold and step.meets(hold_ms=h["dur_ms"]):
            r["on_target"] += 1
    day_rows = sorted(per_day.values(), key=lambda r: (r["date"], _plan_order(plan, r["kind_code"])))

    weeks = {}
    for r in day_rows:
        key = (iso_week(r["date"]), r["kind_code"])
        w = weeks.get(key)
        if w is None:
            w = weeks[key] = {"week": key[0], "kind": r["kind"], "kind_code": r["kind_code"], "days": 0,
                              "sets": 0, "reps": 0, "on_target": 0, "planned_sets": 0, "best_hold_s": None}
        w["days"] += 1
        w["sets"] += r["sets"]
        w["reps"] += r["reps"]
        w["on_target"] += r["on_target"]
        w["planned_sets"] += r["target_sets"] or 0
        if r["best_hold_s"] is not None:
            w["best_hold_s"] = max(w["best_hold_s"] or 0, r["best_hold_s"])
    week_rows = sorted(weeks.values(), key=lambda w: (w["week"], _plan_order(plan, w["kind_code"])))

    lo, hi = plan.walk_km_per_day
    steps = {}
    for w in store.walks():
        day = local_day(starts[w["session_id"]] + w["start_ms"] / 1000.0)
        if since and day < since:
            continue
        steps[day] = steps.get(day, 0) + w["steps"]
    step_rows = []
    for day in sorted(steps):
        km = steps[day] * step_length_m / 1000.0
        status = "below" if km < lo else ("above" if km > hi else "ok")
        step_rows.append({"date": day, "steps": steps[day], "km": round(km, 2), "status": status})
    return {"days": day_rows, "weeks": week_rows, "steps": step_rows,
            "steps_target": plan.walk_steps_per_day(step_length_m), "km_target": (lo, hi),
            "step_length_m": step_length_m}


def _plan_order(plan, kind):
    for i, s in enumerate(plan.steps):
        if s.kind_code == kind:
            return i
    return len(plan.steps) + kind
