"""FIT export: one stored session as a Garmin strength-training activity file (fit-tool encoder).

Messages, in order: file_id, device_info, event (timer start), one `set`
message per set or hold with `rest` sets for the gaps between them, event
(timer stop), lap, session (sport=training, sub_sport=strength_training),
activity. Walks are not sets: their distance (steps x step length) goes into
the lap and session totals.

Exercise categories (FIT profile `exercise_category`, with the closest
`*_exercise_name` subtype):

| repbelt kind | FIT category | FIT exercise name |
|---|---|---|
| bridge | HIP_RAISE (10) | HIP_RAISE (11) |
| leg_raise (prone superman) | HYPEREXTENSION (13) | SUPERMAN_FROM_FLOOR (29) |
| pelvic_tilt | CORE (5) | PELVIC_CLOCKS (59), no pelvic tilt in the profile |
| bird_dog | CORE (5) | ARM_AND_LEG_EXTENSION_ON_KNEES (48) |
| lunge | LUNGE (17) | LUNGE (32) |
| cat_cow | CORE (5) | CAT_COW (51) |
| knee_twist | WARM_UP (31) | STRETCH_LYING_SPINAL_TWIST (54) |
| plank | PLANK (19) | PLANK (43) |
| side_plank | PLANK (19) | SIDE_PLANK (66) |
| cobra | HYPEREXTENSION (13) | COBRA (38) |
"""
from . import paths  # noqa: F401  (puts firmware/ on sys.path)

import rb_events as E

# kind code -> (exercise_category, exercise_name subtype) from the FIT profile
FIT_EXERCISE = {
    E.K_BRIDGE: (10, 11),
    E.K_LEG_RAISE: (13, 29),
    E.K_PELVIC_TILT: (5, 59),
    E.K_BIRD_DOG: (5, 48),
    E.K_LUNGE: (17, 32),
    E.K_CAT_COW: (5, 51),
    E.K_KNEE_TWIST: (31, 54),
    E.K_PLANK: (19, 43),
    E.K_SIDE_PLANK: (19, 66),
    E.K_COBRA: (13, 38),
}
FIT_CATEGORY_UNKNOWN = 65534
FIT_MANUFACTURER_DEVELOPMENT = 255
PRODUCT_NAME = "repbelt"
MIN_REST_MS = 1000  # shorter gaps between sets are not worth a rest set


def session_blocks(sets, holds):
    """Sets and holds as time-ordered active blocks: (start_ms, end_ms, kind, reps or None)."""
    blocks = [(s["start_ms"], max(s["end_ms"], s["start_ms"]), s["kind"], s["reps"]) for s in sets]
    blocks += [(h["start_ms"], h["start_ms"] + h["dur_ms"], h["kind"], None) for h in holds]
    blocks.sort()
    return blocks


def write_fit(path, summary, sets, holds, walks, step_length_m=0.7, serial=0):
    """Write one session (a `Store.sessions()` row and its sets/holds/walks) to `path`."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.device_info_message import DeviceInfoMessage
    from fit_tool.profile.messages.event_message import EventMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.lap_message import LapMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.messages.set_message import SetMessage
    from fit_tool.profile.profile_type import (Activity, Event, EventType, FileType, SetType, Sport,
                                               SubSport)

    t0_ms = int(round(summary["started"] * 1000))   # fit-tool takes unix ms and converts to FIT time
    blocks = session_blocks(sets, holds)
    last_ms = max([b[1] for b in blocks] + [w["end_ms"] for w in walks] + [0])
    dur_s = summary.get("duration_s")
    total_ms = max(last_ms, int(round((dur_s or 0) * 1000)))
    end_ms = t0_ms + total_ms
    distance_m = sum(w["steps"] for w in walks) * step_length_m

    b = FitFileBuilder(auto_define=True, min_string_size=50)
    m = FileIdMessage()
    m.type = FileType.ACTIVITY
    m.manufacturer = FIT_MANUFACTURER_DEVELOPMENT
    m.product = 0
    m.serial_number = serial or 1
    m.time_created = t0_ms
    b.add(m)

    m = DeviceInfoMessage()
    m.timestamp = t0_ms
    m.device_index = 0
    m.manufacturer = FIT_MANUFACTURER_DEVELOPMENT
    m.product = 0
    m.product_name = PRODUCT_NAME
    m.serial_number = serial or 1
    b.add(m)

    m = EventMessage()
    m.event = Event.TIMER
    m.event_type = EventType.START
    m.timestamp = t0_ms
    b.add(m)

    index = 0
    prev_end = None
    for start, end, kind, reps in blocks:
        if prev_end is not None and start - prev_end >= MIN_REST_MS:
            m = SetMessage()
            m.message_index = index
            m.set_type = SetType.REST.value
            m.start_time = t0_ms + prev_end
            m.timestamp = t0_ms + start
            m.duration = (start - prev_end) / 1000.0
            b.add(m)
            index += 1
        cat, name = FIT_EXERCISE.get(kind, (FIT_CATEGORY_UNKNOWN, 0))
        m = SetMessage()
        m.message_index = index
        m.set_type = SetType.ACTIVE.value
        m.start_time = t0_ms + start
        m.timestamp = t0_ms + end
        m.duration = (end - start) / 1000.0
        if reps is not None:
            m.repetitions = reps
        m.category = [cat]
        m.category_subtype = [name]
        b.add(m)
        index += 1
        prev_end = end if prev_end is None else max(prev_end, end)

    m = EventMessage()
    m.event = Event.TIMER
    m.event_type = EventType.STOP
    m.timestamp = end_ms
    b.add(m)

    def totals(m, event):
        # lap and session carry the same whole-activity totals
        m.message_index = 0
        m.timestamp = end_ms
        m.start_time = t0_ms
        m.total_elapsed_time = total_ms / 1000.0
        m.total_timer_time = total_ms / 1000.0
        m.total_distance = distance_m
        m.sport = Sport.TRAINING
        m.sub_sport = SubSport.STRENGTH_TRAINING
        m.event = event
        m.event_type = EventType.STOP
        return m

    b.add(totals(LapMessage(), Event.LAP))
    m = totals(SessionMessage(), Event.SESSION)
    m.first_lap_index = 0
    m.num_laps = 1
    b.add(m)

    m = ActivityMessage()
    m.timestamp = end_ms
    m.total_timer_time = total_ms / 1000.0
    m.num_sessions = 1
    m.type = Activity.MANUAL
    m.event = Event.ACTIVITY
    m.event_type = EventType.STOP
    b.add(m)

    b.build().to_file(str(path))
    return index
