"""Names of the rb_events codes: the trace-format vocabulary and display names.

Kept out of rb_events so the detection core on the board does not carry
them; imported by the analysis writer and the host.
"""
import rb_events as E

EVENT_NAMES = ("", "rep", "set_start", "set_end", "hold_start", "hold_tick",
               "hold_end", "walk_start", "steps", "walk_end", "posture",
               "calibrated", "fault", "battery", "power")
KIND_NAMES = ("", "bridge", "leg_raise", "pelvic_tilt", "bird_dog", "lunge",
              "cat_cow", "knee_twist", "plank", "side_plank", "cobra", "walk")
POSTURE_NAMES = ("unknown", "upright", "supine", "prone", "side_left",
                 "side_right", "moving")
SIDE_NAMES = ("", "left", "right")
FAULT_NAMES = ("", "sensor_missing", "i2c_error", "fifo_overflow",
               "log_write", "config_invalid", "sample_gap", "control_refused")
BAT_LEVEL_NAMES = ("ok", "low", "critical")
PW_NAMES = ("", "sleep", "wake")
PR_NAMES = ("", "idle", "battery", "motion", "timer", "power_on")


def kind_code(name):
    """Kind code for a trace-format kind name, or E.K_NONE."""
    for i in range(len(KIND_NAMES)):
        if KIND_NAMES[i] == name:
            return i
    return E.K_NONE
