"""calibration_data/voisard_to_trace.py: public gait trials to labelled traces (units, lost rows, labels)."""
import importlib.util
import json

from repbelt import paths

import rb_trace  # noqa: E402

spec = importlib.util.spec_from_file_location("voisard_to_trace", paths.CALIBRATION / "voisard_to_trace.py")
V = importlib.util.module_from_spec(spec)
spec.loader.exec_module(V)


def test_trial_becomes_a_trace_with_lost_rows_filled(tmp_path):
    src = tmp_path / "GaitData"
    src.mkdir()
    (src / "3-3_lb.txt").write_text(
        "Acquisition frequency: 100 Hz\n"
        "PacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\tGyr_Z\tMag_X\tMag_Y\tMag_Z\n"
        "1.0\t9.80665\t0.0\t-0.980665\t0.0\t0.1\t-0.2\t0.1\t0.1\t0.1\n"
        "2.0\t9.80665\t0.0\t-0.980665\t0.0\t0.1\t-0.2\t0.1\t0.1\t0.1\n"
        "5.0\t9.80665\t1.961330\t-0.980665\t0.0\t0.4\t-0.2\t0.1\t0.1\t0.1\n")
    (src / "3-3.json").write_text(json.dumps({
        "TrialBoundaries": [1, 5], "LeftFootEvents": [[1, 2], [40, 41]], "RightFootEvents": [[3, 4]]}))
    n, filled, steps = V.convert(src, "3-3", tmp_path / "out")
    assert (n, filled, steps) == (3, 2, 3)
    lines = (tmp_path / "out" / "voisard-3-3.csv").read_text().splitlines()
    assert lines[4] == "t,ax,ay,az,gx,gy,gz" and "# mount=unknown" in lines
    body = lines[5:]
    assert body[0] == "0.01,1.0000,0.0000,-0.1000,0.00,5.73,-11.46"
    # counters 3 and 4 were lost: filled on the straight line from 2 to 5
    assert body[2] == "0.03,1.0000,0.0667,-0.1000,0.00,11.46,-11.46"
    assert body[4] == "0.05,1.0000,0.2000,-0.1000,0.00,22.92,-11.46"
    r = rb_trace.TraceReader(lines)
    assert r.rate_hz == 100 and r.has_gyro and len(list(r)) == 5
    lab = json.loads((tmp_path / "out" / "voisard-3-3.labels.json").read_text())
    assert lab["segments"] == [{"kind": "walk", "start": 0.01, "end": 0.05, "steps": 3}]


def test_usage_without_trials():
    assert V.main([]) == 2
