"""Workout plans: the built-in seed routine, the user's editable copy, and targets to review against.

A plan is a TOML (or JSON) file: a list of steps, each one exercise with its
sets, target reps range or hold seconds, and rest. The guided recorder walks
`plan.sequence()`; review compares stored sets with `step.meets(...)`.

    from repbelt import plan
    p = plan.load_plan()              # user copy if there is one, else the built-in seed
    for item in p.sequence():         # one item per set, in order
        item.step.kind, item.step.kind_code, item.set_no, item.step.reps, item.step.hold_s, item.rest_s
"""
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import paths  # noqa: F401  (puts firmware/ on sys.path)
from .errors import UserError

import rb_events as E

import rb_names as N

BUILTIN_DIR = Path(__file__).resolve().parent / "plans"
BUILTIN_PLAN = BUILTIN_DIR / "seed.toml"
PLAN_ENV = "REPBELT_PLAN"
USER_PLAN_NAME = "plan.toml"
STEP_LENGTH_M_DEFAULT = 0.7


@dataclass(frozen=True)
class Step:
    """One exercise of a plan."""
    kind: str                 # trace-format kind name ("bridge", "plank", ...)
    kind_code: int            # rb_events K_* code (the hint sent to the board)
    sets: int
    reps: tuple = None        # (min, max) reps per set, rep exercises
    hold_s: tuple = None      # (min, max or None) seconds per hold, hold exercises
    per_side: bool = False    # reps target counts each side separately
    rest_s: tuple = (60, 60)  # (min, max) rest after each set, seconds
    note: str = ""

    @property
    def is_hold(self):
        return self.hold_s is not None

    @property
    def rest_s_min(self):
        return self.rest_s[0]

    def target_text(self):
        """Human target, e.g. '3 x 10-12 reps', '2 x 15-20 a side', '3 x >=30 s hold'."""
        if self.is_hold:
            lo, hi = self.hold_s
            t = (">=%d s" % lo) if hi is None else ("%d-%d s" % (lo, hi))
            return "%d x %s hold" % (self.sets, t)
        lo, hi = self.reps
        t = str(lo) if lo == hi else "%d-%d" % (lo, hi)
        return "%d x %s %s" % (self.sets, t, "a side" if self.per_side else "reps")

    def rest_text(self):
        lo, hi = self.rest_s
        return ("%d s" % lo) if lo == hi else ("%d-%d s" % (lo, hi))

    def set_count(self, reps, sides=()):
        """The number compared with the reps target: per side, the weaker side's count."""
        if not self.per_side:
            return reps
        left = sum(1 for s in sides if s == E.SIDE_LEFT)
        right = sum(1 for s in sides if s == E.SIDE_RIGHT)
        if left or right:
            return min(left, right)
        return reps // 2  # sides unknown: assume they alternated

    def meets(self, reps=None, sides=(), hold_ms=None):
        """Did one set reach the target's minimum?"""
        if self.is_hold:
            return hold_ms is not None and hold_ms >= self.hold_s[0] * 1000
        return reps is not None and self.set_count(reps, sides) >= self.reps[0]


@dataclass(frozen=True)
class PlanItem:
    """One set of the guided sequence."""
    step: Step
    set_no: int               # 1-based within the step
    rest_s: int               # rest after this set (0 after the very last set)


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    steps: tuple
    walk_km_per_day: tuple = (6.0, 8.0)
    step_length_m: float = STEP_LENGTH_M_DEFAULT
    path: str = ""

    def step_for(self, kind):
        """The first step for a kind name or code, or None."""
        for s in self.steps:
            if s.kind == kind or s.kind_code == kind:
                return s
        return None

    def walk_steps_per_day(self, step_length_m=None):
        """The daily walking target in steps, (min, max)."""
        sl = step_length_m or self.step_length_m
        return tuple(int(round(km * 1000 / sl)) for km in self.walk_km_per_day)

    def sequence(self):
        """Every set in order, with the rest that follows it."""
        items = []
        for s in self.steps:
            for n in range(1, s.sets + 1):
                items.append(PlanItem(s, n, s.rest_s_min))
        if items:
            last = items[-1]
            items[-1] = PlanItem(last.step, last.set_no, 0)
        return items


def user_plan_path():
    """Where the user's editable plan lives (it may not exist yet)."""
    from platformdirs import user_config_dir
    return Path(user_config_dir("repbelt")) / USER_PLAN_NAME


def plan_path(explicit=None):
    """The plan file in effect: explicit path, $REPBELT_PLAN, the user's copy, or the built-in seed."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(PLAN_ENV):
        return Path(os.environ[PLAN_ENV]).expanduser()
    up = user_plan_path()
    return up if up.exists() else BUILTIN_PLAN


def load_plan(path=None):
    """Read and validate a plan file; UserError 'FILE: what is wrong' on any problem."""
    p = plan_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("plan file %s not found: `repbelt plan path` shows the plan in use" % p) from None
    except OSError as exc:
        raise UserError("cannot read plan file %s: %s" % (p, exc.strerror or exc)) from None
    return parse_plan(text, p)


def parse_plan(text, source="<plan>"):
    source = Path(str(source))
    try:
        if source.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UserError("%s: not a valid plan file (%s): fix it or delete it to use the built-in plan"
                        % (source, exc)) from None

    def bad(msg):
        return UserError("%s: %s" % (source, msg))

    if not isinstance(data, dict):
        raise bad("a plan is a table with `name` and `[[step]]` entries")
    raw_steps = data.get("step", data.get("steps"))
    if not isinstance(raw_steps, list) or not raw_steps:
        raise bad("no [[step]] entries")
    steps = []
    for i, st in enumerate(raw_steps, 1):
        where = "step %d" % i
        if not isinstance(st, dict):
            raise bad(where + ": must be a table")
        kind = st.get("kind")
        code = N.kind_code(kind) if isinstance(kind, str) else E.K_NONE
        if code in (E.K_NONE, E.K_WALK):
            raise bad("%s: kind %r is not an exercise (use one of %s)"
                      % (where, kind, ", ".join(N.KIND_NAMES[k] for k in E.REP_KINDS + E.HOLD_KINDS)))
        where = "step %d (%s)" % (i, kind)
        sets = st.get("sets", 1)
        if not isinstance(sets, int) or not 1 <= sets <= 50:
            raise bad(where + ": sets must be a whole number 1..50")
        rest = _range(st.get("rest_s", [60]), where + ": rest_s", bad, lo_min=0)
        reps = hold = None
        if code in E.HOLD_KINDS:
            if "reps" in st:
                raise bad(where + ": a hold has hold_s, not reps")
            hold = _range(st.get("hold_s"), where + ": hold_s", bad, lo_min=1, open_max=True)
        else:
            if "hold_s" in st:
                raise bad(where + ": a rep exercise has reps, not hold_s")
            reps = _range(st.get("reps"), where + ": reps", bad, lo_min=1)
        steps.append(Step(kind=kind, kind_code=code, sets=sets, reps=reps, hold_s=hold,
                          per_side=bool(st.get("per_side", False)), rest_s=rest,
                          note=str(st.get("note", ""))))
    walk = data.get("walk_km_per_day", [6, 8])
    walk = _range(walk, "walk_km_per_day", bad, lo_min=0, number=float)
    step_len = data.get("step_length_m", STEP_LENGTH_M_DEFAULT)
    if not isinstance(step_len, (int, float)) or not 0.2 <= step_len <= 2.0:
        raise bad("step_length_m must be a length in metres, 0.2..2.0")
    return Plan(name=str(data.get("name", source.stem)), title=str(data.get("title", "")),
                steps=tuple(steps), walk_km_per_day=walk, step_length_m=float(step_len), path=str(source))


def _range(v, what, bad, lo_min, open_max=False, number=int):
    """[min, max] (or [min] / a single number) as a tuple; max None if open_max and absent."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [v]
    ok_types = (int, float) if number is float else (int,)
    if (not isinstance(v, list) or not 1 <= len(v) <= 2
            or not all(isinstance(x, ok_types) and not isinstance(x, bool) for x in v)):
        raise bad("%s must be [min, max] (whole numbers)" % what)
    lo = number(v[0])
    hi = number(v[1]) if len(v) == 2 else (None if open_max else lo)
    if lo < lo_min or (hi is not None and hi < lo):
        raise bad("%s: need %s <= min <= max, got %r" % (what, lo_min, v))
    return (lo, hi)
