"""The firmware type-checks against the pinned ESP32 MicroPython stubs (issue 3)."""
from repbelt import typecheck


def test_firmware_typechecks_against_esp32_stubs():
    r = typecheck.run()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "Success: no issues found" in r.stdout


def test_typecheck_catches_a_missing_micropython_api(tmp_path):
    # the check must be able to fail: CPython's time has no sleep_ms, MicroPython's has;
    # a made-up name must be reported
    bad = tmp_path / "rb_bad.py"
    bad.write_text("import time\ntime.sleep_ms(1)\ntime.sleep_fortnight(1)\n")
    r = typecheck.run([bad])
    assert r.returncode != 0 and "sleep_fortnight" in r.stdout and "sleep_ms" not in r.stdout
