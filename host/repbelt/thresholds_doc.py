"""Write calibration_data/thresholds.json from firmware/rb_tunables.py (values and their comments).

`python -m repbelt.thresholds_doc` after changing a default; a test checks
that the two agree, so the file the board loads is never stale.
"""
import json
import re

from . import paths

import rb_tunables  # noqa: E402

ABOUT = ("Every tunable of the detection core (firmware/rb_engine.py, rb_steps.py). Ints; the unit is in "
         "the name (_MS milliseconds, _MG milli-g, _MILLI sine of an angle x1000, _MM millimetres, _PCT "
         "percent, _COS cosine x1000, _SHIFT: filter time constant 2**N frames of FRAME_MS). The host's "
         "analyze and the board (as /thresholds.json, copied by `repbelt deploy`) load this file; "
         "`repbelt calibrate fit` writes personal overrides.")


def build():
    src = (paths.FIRMWARE / "rb_tunables.py").read_text()
    vals = {}
    for line in src.splitlines():
        m = re.match(r'    ([A-Z][A-Z_0-9]*) = (-?\d+)\s*(?:#\s*(.*))?$', line)
        if m:
            vals[m.group(1)] = {"value": int(m.group(2)), "doc": (m.group(3) or "").strip()}
    want = rb_tunables.defaults()
    if set(vals) != set(want):
        raise SystemExit("rb_tunables.py: could not read every default: %s" % (set(vals) ^ set(want)))
    return {"format": "repbelt-thresholds/1", "about": ABOUT, "values": vals}


def main():
    paths.THRESHOLDS.write_text(json.dumps(build(), indent=1) + "\n")
    print("wrote", paths.THRESHOLDS)


if __name__ == "__main__":
    main()
