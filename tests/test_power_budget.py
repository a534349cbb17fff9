"""`repbelt power budget`: the days of use follow the config, every figure has a source, bad input is one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from repbelt import power_budget as pb
from repbelt.errors import UserError

REPBELT = str(Path(sys.executable).parent / "repbelt")


def cli(*args):
    return subprocess.run([REPBELT, "power", "budget", *args], capture_output=True, text=True, timeout=60)


def days(**over):
    cfg = pb.load_config()
    minutes = over.pop("minutes", 30)
    cfg.update(over)
    return pb.budget(cfg, minutes_per_day=minutes)["days"]


def test_defaults_meet_two_weeks_on_500_mah():
    b = pb.budget(pb.load_config(), minutes_per_day=30, capacity_mah=500)
    st = {s["state"]: s for s in b["states"]}
    # the model's own figures: sleep ~24 uA, idle ~21 mA, session ~29 mA at 80 MHz with the gyro
    assert 0.015 < st["sleep"]["current_ma"] < 0.040
    assert 18 < st["idle"]["current_ma"] < 25
    assert 25 < st["session"]["current_ma"] < 35
    assert abs(sum(s["hours_per_day"] for s in b["states"]) - 24.0) < 1e-9
    assert b["usable_mah"] == 400
    assert b["days"] >= 14 and b["target_met"] and b["warnings"] == []
    assert abs(b["days"] - b["usable_mah"] / b["mah_per_day"]) < 1e-9
    for s in b["states"]:
        for p in s["parts"]:
            for key in p["source"].split():
                assert key in pb.SOURCES, (p, key)


def test_more_idle_or_more_minutes_means_fewer_days():
    by_idle = [days(sleep_idle_s=s) for s in (60, 180, 600, 1800, 3600)]
    assert all(a > b for a, b in zip(by_idle, by_idle[1:])), by_idle
    by_min = [days(minutes=m) for m in (10, 30, 60, 120)]
    assert all(a > b for a, b in zip(by_min, by_min[1:])), by_min
    assert by_idle[3] < 14                        # half an hour awake after every wake breaks the target


def test_gyro_off_and_clock_change_the_figure():
    base = days()
    assert days(use_gyro=False) > base + 1        # 0.5 mA instead of 3.8 mA for the MPU in a session
    assert days(cpu_mhz=240) < base - 2           # modem-sleep 30-68 mA instead of 20-31 mA
    assert days(cpu_mhz=160) < base
    assert days(battery_pin=None) > base          # no divider leak


def test_low_days_warn_with_the_cause():
    cfg = pb.load_config()
    cfg["sleep_idle_s"] = 1800
    b = pb.budget(cfg)
    assert not b["target_met"]
    assert any("sleep_idle_s" in w for w in b["warnings"])
    cfg = pb.load_config()
    cfg["cpu_mhz"] = 240
    assert any("cpu_mhz 240" in w for w in pb.budget(cfg)["warnings"])


def test_a_day_that_does_not_fit_is_refused():
    cfg = pb.load_config()
    cfg["sleep_idle_s"] = 86400
    with pytest.raises(UserError, match="awake"):
        pb.budget(cfg)


def test_cli_table_and_config_file(tmp_path):
    r = cli()
    assert r.returncode == 0, r.stderr
    assert "deep sleep" in r.stdout and "session, BLE" in r.stdout and "target of 14 days met" in r.stdout
    assert "PS-MPU-6000A-00" in r.stdout and "ESP32 Series Datasheet" in r.stdout
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"sleep_idle_s": 3600, "name": "belt"}))
    r = cli("--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "NOT met" in r.stdout and "lower sleep_idle_s" in r.stdout


def test_cli_json_keys():
    r = cli("--json", "--minutes-per-day", "45", "--capacity-mah", "1000")
    assert r.returncode == 0, r.stderr
    b = json.loads(r.stdout)
    assert {"states", "days", "mah_per_day", "usable_mah", "target_days", "target_met", "warnings",
            "sources", "config", "minutes_per_day", "capacity_mah", "false_wakes_per_day"} <= set(b)
    assert [s["state"] for s in b["states"]] == ["sleep", "idle", "session"]
    assert {"current_ma", "hours_per_day", "mah_per_day", "sources", "parts"} <= set(b["states"][0])
    assert b["minutes_per_day"] == 45 and b["capacity_mah"] == 1000 and b["usable_mah"] == 800
    assert abs(b["days"] - pb.budget(pb.load_config(), 45, 1000)["days"]) < 1e-9


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"cpu_mhz": 100}', "cpu_mhz must be 80, 160 or 240"),
    ('{"sleep_idle_s": "long"}', "sleep_idle_s must be an int"),
    ('{"bogus": 1}', "bogus unknown field"),
])
def test_bad_config_is_one_line_exit_2(tmp_path, content, words):
    p = tmp_path / "config.json"
    p.write_text(content)
    r = cli("--config", str(p))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repbelt: ") and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_missing_config_and_bad_numbers(tmp_path):
    r = cli("--config", str(tmp_path / "nope.json"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot read" in r.stderr
    r = cli("--capacity-mah", "0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "capacity" in r.stderr


def test_docs_table_is_the_current_budget():
    """docs/power.md shows a run with the defaults: it must still be what the command computes."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "power.md").read_text()
    b = pb.budget(pb.load_config())
    assert "**%.1f days**" % b["days"] in text
    assert "| **%.2f** |" % b["mah_per_day"] in text
    for s in b["states"]:
        assert "| %s | " % s["label"] in text and "| %.2f | %.2f |" % (s["hours_per_day"], s["mah_per_day"]) in text
