"""Event vocabulary of the detection core: kinds, postures, event types.

Shared by the board (streams and logs events), the host (decodes, stores,
reviews) and the analysis writer.  The names of these codes are in rb_names,
which the detection core does not import (they would cost the board's heap). An event is a tuple of 8 small ints:

    (type, t_ms, a, b, c, d, e, f)

`t_ms` is the trace/sensor time at which the core emitted the event (sample
time, not wall clock).  The meaning of a..f per type is below; unused fields
are 0.  Every value fits a MicroPython small int (31-bit signed).

    REP         a=kind b=rep_no_in_set c=set_no d=dur_ms e=range_ddeg (lunge: drop_mm) f=side
    SET_START   a=kind b=set_no c=start_ms
    SET_END     a=kind b=set_no c=reps d=start_ms e=end_ms
    HOLD_START  a=kind b=start_ms
    HOLD_TICK   a=kind b=elapsed_ms c=sway_dmg d=stability e=drift_ddeg
    HOLD_END    a=kind b=start_ms c=dur_ms d=sway_dmg e=stability f=drift_ddeg
                (dur_ms 0: withdrawn, it was not a hold after all)
    WALK_START  a=start_ms
    STEPS       a=steps_in_walk b=cadence_spm c=start_ms
    WALK_END    a=start_ms b=end_ms c=steps d=cadence_spm
    POSTURE     a=posture b=previous_posture
    CALIBRATED  a=status (0 ok, else CAL_* error) b=quality_ddeg
    FAULT       a=fault code b=detail
    BATTERY     a=percent b=mv c=level (BAT_OK back above low, BAT_LOW, BAT_CRITICAL)
    POWER       a=PW_SLEEP or PW_WAKE b=reason (PR_*) c=seconds asleep (wake; 0 unknown)

Units: `_ms` milliseconds, `_ddeg` tenths of a degree, `_dmg` tenths of a
milli-g, `_spm` steps per minute, stability 0..100, side SIDE_*.
"""

# event types
EV_REP = 1
EV_SET_START = 2
EV_SET_END = 3
EV_HOLD_START = 4
EV_HOLD_TICK = 5
EV_HOLD_END = 6
EV_WALK_START = 7
EV_STEPS = 8
EV_WALK_END = 9
EV_POSTURE = 10
EV_CALIBRATED = 11
EV_FAULT = 12
EV_BATTERY = 13
EV_POWER = 14


# exercise kinds; names are the trace-format vocabulary
K_NONE = 0
K_BRIDGE = 1
K_LEG_RAISE = 2
K_PELVIC_TILT = 3
K_BIRD_DOG = 4
K_LUNGE = 5
K_CAT_COW = 6
K_KNEE_TWIST = 7
K_PLANK = 8
K_SIDE_PLANK = 9
K_COBRA = 10
K_WALK = 11
K_COUNT = 12       # kind codes are 0 .. K_COUNT - 1

REP_KINDS = (K_BRIDGE, K_LEG_RAISE, K_PELVIC_TILT, K_BIRD_DOG, K_LUNGE,
             K_CAT_COW, K_KNEE_TWIST)
HOLD_KINDS = (K_PLANK, K_SIDE_PLANK, K_COBRA)

# postures, from the direction of gravity in the body frame
P_UNKNOWN = 0
P_UPRIGHT = 1    # standing or walking
P_SUPINE = 2     # lying on the back
P_PRONE = 3      # face down: prone, all fours, plank, cobra
P_SIDE_L = 4     # left side up (lying on the right side)
P_SIDE_R = 5     # right side up
P_MOVING = 6     # between postures / not settled


SIDE_NONE = 0
SIDE_LEFT = 1
SIDE_RIGHT = 2

# calibration results (EV_CALIBRATED a)
CAL_OK = 0
CAL_MOVED = 1        # the wearer was not still enough
CAL_NO_STAND = 2     # no still standing phase found
CAL_NO_LIE = 3       # no still lying phase found
CAL_BAD_GEOMETRY = 4  # standing and lying directions not ~90 degrees apart

# fault codes (EV_FAULT a)
F_SENSOR_MISSING = 1
F_I2C_ERROR = 2
F_FIFO_OVERFLOW = 3
F_LOG_WRITE = 4
F_CONFIG_INVALID = 5
F_SAMPLE_GAP = 6
F_CONTROL_REFUSED = 7


# battery levels (EV_BATTERY c)
BAT_OK = 0
BAT_LOW = 1
BAT_CRITICAL = 2

# power events (EV_POWER a, b)
PW_SLEEP = 1
PW_WAKE = 2
PR_IDLE = 1          # sleep: idle timeout with no session and no (busy) link
PR_BATTERY = 2       # sleep: battery critical
PR_MOTION = 3        # wake: the motion interrupt
PR_TIMER = 4         # wake: the sleep timer
PR_POWER_ON = 5      # boot: power on or reset, not from sleep

