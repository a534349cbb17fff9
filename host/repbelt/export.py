"""CSV and JSON exports of stored sessions (FIT lives in fit_export.py).

JSON (`repbelt-export/1`): {"format", "step_length_m", "sessions": [{"session": summary,
"sets": [... "rep_list": [...]], "holds": [...], "walks": [...]}]}, times as ISO 8601.

CSV: one row per rep, set, hold and walk, columns CSV_COLUMNS; `record` says which.
"""
import csv
import datetime as dt
import io
import json

CSV_COLUMNS = ("session", "session_start", "record", "kind", "set", "rep", "time", "offset_s", "duration_s",
               "reps", "tempo_s", "range_deg", "side", "sway_mg", "stability", "drift_deg", "steps",
               "cadence_spm", "distance_m", "complete")
JSON_FORMAT = "repbelt-export/1"


def _iso(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def to_json(details, step_length_m):
    out = []
    for d in details:
        s = dict(d["session"])
        s["started"] = _iso(s["started"])
        s["ended"] = _iso(s["ended"]) if s["ended"] is not None else None
        s.pop("last_ms", None)
        item = {"session": s, "sets": [], "holds": [], "walks": []}
        for st in d["sets"]:
            st = {k: v for k, v in st.items() if k not in ("sides", "kind_code")}
            st["time"] = _iso(st["time"])
            item["sets"].append(st)
        for h in d["holds"]:
            h = {k: v for k, v in h.items() if k != "kind_code"}
            h["time"] = _iso(h["time"])
            item["holds"].append(h)
        for w in d["walks"]:
            w = dict(w)
            w["time"] = _iso(w["time"])
            item["walks"].append(w)
        out.append(item)
    return json.dumps({"format": JSON_FORMAT, "step_length_m": step_length_m, "sessions": out},
                      indent=1, sort_keys=False) + "\n"


def to_csv(details):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for d in details:
        sid = d["session"]["id"]
        start = _iso(d["session"]["started"])
        base = {"session": sid, "session_start": start}
        for st in d["sets"]:
            w.writerow(dict(base, record="set", kind=st["kind"], set=st["set"], time=_iso(st["time"]),
                            offset_s=st["start_s"], duration_s=st["duration_s"], reps=st["reps"],
                            tempo_s=_blank(st["tempo_s"]), range_deg=_blank(st["range_deg"]),
                            complete=int(st["complete"])))
            for r in st["rep_list"]:
                w.writerow(dict(base, record="rep", kind=st["kind"], set=st["set"], rep=r["rep"],
                                time=_iso(d["session"]["started"] + r["t_s"]), offset_s=r["t_s"],
                                duration_s=r["tempo_s"], tempo_s=r["tempo_s"], range_deg=r["range_deg"],
                                side=r["side"]))
        for h in d["holds"]:
            w.writerow(dict(base, record="hold", kind=h["kind"], time=_iso(h["time"]), offset_s=h["start_s"],
                            duration_s=h["duration_s"], sway_mg=h["sway_mg"], stability=h["stability"],
                            drift_deg=h["drift_deg"], complete=int(h["complete"])))
        for wk in d["walks"]:
            w.writerow(dict(base, record="walk", kind="walk", time=_iso(wk["time"]), offset_s=wk["start_s"],
                            duration_s=wk["duration_s"], steps=wk["steps"], cadence_spm=wk["cadence_spm"],
                            distance_m=wk["distance_m"], complete=int(wk["complete"])))
    return buf.getvalue()


def _blank(v):
    return "" if v is None else v
