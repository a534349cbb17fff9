"""`repbelt doctor`'s battery row against the virtual board: its emulated ADC (REPBELT_SIM_BATTERY_MV) read
through rb_board.battery_mv with the config's pin and divider, percent from rb_power.battery_pct."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sim"))

from serial_board import SerialBoard  # noqa: E402
from repbelt import board_deploy  # noqa: E402
from repbelt.board_doctor import battery_row  # noqa: E402

REPBELT = str(Path(sys.executable).parent / "repbelt")

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def deployed_flash(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pwr")
    with SerialBoard(tmp / "tmpl", link=tmp / "tmpl.port") as b:
        r = board_deploy.deploy(b.port)
    assert not r["interrupted"]
    return tmp / "tmpl"


def doctor_rows(tmp_path, flash_tmpl, env=None, config=None, name="b"):
    flash = tmp_path / name
    shutil.copytree(flash_tmpl, flash)
    if config is not None:
        cfg = json.loads((flash / "config.json").read_text())
        cfg.update(config)
        (flash / "config.json").write_text(json.dumps(cfg))
    with SerialBoard(flash, link=tmp_path / (name + ".port"), env=env or {}) as b:
        r = subprocess.run([REPBELT, "doctor", "--port", b.port, "--json"], capture_output=True, text=True,
                           timeout=120, env={k: v for k, v in os.environ.items() if k != "REPBELT_PORT"})
    assert r.returncode == 0, r.stderr              # a battery row never fails the doctor
    return {x["check"]: x for x in json.loads(r.stdout)}


def test_battery_row_reads_the_emulated_adc(tmp_path, deployed_flash):
    rows = doctor_rows(tmp_path, deployed_flash, env={"REPBELT_SIM_BATTERY_MV": "3900"})
    assert rows["battery"] == {"check": "battery", "status": "ok", "value": "3.90 V on GPIO35, 65 %", "fix": ""}
    rows = doctor_rows(tmp_path, deployed_flash, env={"REPBELT_SIM_BATTERY_MV": "3550"}, name="low")
    assert rows["battery"]["status"] == "warn"
    assert rows["battery"]["value"] == "3.55 V on GPIO35, 8 % (low)"
    assert "charge" in rows["battery"]["fix"]


def test_battery_row_without_a_battery_pin(tmp_path, deployed_flash):
    rows = doctor_rows(tmp_path, deployed_flash, config={"battery_pin": None})
    b = rows["battery"]
    assert b["status"] == "warn" and b["value"].startswith("unknown: no battery pin")
    assert "1M/1M divider" in b["fix"] and "GPIO35" in b["fix"]


def test_battery_row_levels_and_bad_readings():
    base = {"battery_pin": 35, "battery_low_pct": 15, "battery_critical_pct": 5}
    assert battery_row(dict(base, battery_mv=4100, battery_pct=95))[1:3] == ("ok", "4.10 V on GPIO35, 95 %")
    r = battery_row(dict(base, battery_mv=3400, battery_pct=3))
    assert r[1] == "warn" and r[2].endswith("(critical)") and "charge now" in r[3]
    r = battery_row(dict(base, battery_mv=120, battery_pct=0))
    assert r[1] == "warn" and "no battery seen" in r[2] and "battery_pin null" in r[3]
    r = battery_row(dict(base, battery_mv=8200, battery_pct=100))
    assert r[1] == "warn" and "battery_divider_x1000" in r[3]
    r = battery_row(dict(base, battery_mv=None))
    assert r[1] == "warn" and "no reading" in r[2]
    r = battery_row({"battery_error": "TypeError: bad pin"})
    assert r[1] == "warn" and "TypeError" in r[2] and "ADC1" in r[3]
