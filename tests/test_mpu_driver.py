"""rb_mpu driver against the register-level MPU model of sim/upy/machine.py, on the real
MicroPython unix port: chip discovery, trace fidelity, stalls, overflow, bus faults."""

import pytest

from boardio_helpers import (ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS, compile_mpy, make_trace,
                             run_upy)

F_I2C_ERROR = 2
F_FIFO_OVERFLOW = 3
F_SENSOR_MISSING = 1
F_SAMPLE_GAP = 6

PRE = r"""
import machine, rb_mpu, json, gc
S = machine.SIM
i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21), freq=400000)
def mk(**kw):
    return rb_mpu.MPU(i2c, ticks_ms=S.ticks_ms, ticks_diff=S.ticks_diff, **kw)
OUT = []
def take(m, n):
    for i in range(n):
        OUT.append([m.t_ms[i], m.ax[i], m.ay[i], m.az[i], m.gx[i], m.gy[i], m.gz[i]])
FAULTS = []
def faults(m):
    while True:
        f = m.pop_fault()
        if f is None:
            return
        FAULTS.append(list(f))
def report(m, **extra):
    d = {"samples": OUT, "faults": FAULTS, "overflows": m.overflows, "lost": m.lost_samples,
         "i2c_errors": m.i2c_errors, "reinits": m.reinits, "sample_no": m.sample_no,
         "healthy": m.healthy, "pushed": S.mpu.samples_pushed,
         "injected": S.i2c_errors_injected}
    d.update(extra)
    print(json.dumps(d))
"""


def manual_env(trace=None, **kw):
    e = {"REPBELT_SIM_CLOCK": "manual"}
    if trace:
        e["REPBELT_SIM_TRACE"] = trace
    for k, v in kw.items():
        e["REPBELT_SIM_" + k.upper()] = v
    return e


def expected(row, raw, accel_range=4, gyro_range=500):
    """Sensor value of a trace row in the driver's output units (floats)."""
    if raw:
        a = ACCEL_LSB_PER_G[accel_range]
        g = GYRO_LSB_PER_DPS[gyro_range]
    else:
        a, g = 1000.0, 10.0
    vals = [row[1] * a, row[2] * a, row[3] * a]
    vals += [x * g for x in row[4:7]] if len(row) > 4 else [0.0, 0.0, 0.0]
    return vals


def assert_in_sync(samples, rows, raw, rate_hz=100, tol=1.0, slack_rows=0, **ranges):
    """Every sample equals the trace row its time stamp names (within tol LSB/units).

    slack_rows: after a chip re-initialisation the chip's sampling phase changes, so a
    segment may be shifted by up to this many rows (consistently within the segment).
    """
    assert samples, "no samples"
    period = 1000 // rate_hz
    prev_t = None
    shift = 0
    for s in samples:
        t = s[0]
        assert t % period == 0
        if prev_t is not None:
            assert t > prev_t, "time went back or repeated: %d after %d" % (t, prev_t)
            if t != prev_t + period:
                shift = None           # a gap: the next segment may have a new phase
        n = t // period
        cands = [shift] if shift is not None else list(range(-slack_rows, slack_rows + 1))
        ok = None
        for d in cands:
            if 0 <= n + d < len(rows):
                exp = expected(rows[n + d], raw, **ranges)
                if all(abs(a - b) <= tol for a, b in zip(s[1:], exp)):
                    ok = d
                    break
        assert ok is not None, "sample t=%d %r does not match trace row %d %r" % (
            t, s[1:], n, expected(rows[min(n, len(rows) - 1)], raw, **ranges))
        shift = ok
        prev_t = t


@pytest.mark.parametrize("addr,chip,name", [
    ("0x68", "0x68", "mpu6050"), ("0x69", "0x68", "mpu6050"), ("0x68", "0x70", "mpu6500"),
    ("0x69", "0x71", "mpu9250"), ("0x68", "0x73", "mpu9250")])
def test_finds_chip_at_either_address(tmp_path, addr, chip, name):
    out = run_upy(PRE + r"""
m = mk()
print(json.dumps({"chip": m.start(), "addr": m.addr, "who": m.who_am_i, "rate": m.rate_hz,
                  "i2c_errors": m.i2c_errors}))
""", tmp_path, env=manual_env(addr=addr, chip=chip))
    assert out[0] == {"chip": name, "addr": int(addr, 16), "who": int(chip, 16), "rate": 100,
                      "i2c_errors": 0}


CATCH = r"""
try:
    m.start()
    print(json.dumps({"ok": True}))
except rb_mpu.SensorError as e:
    print(json.dumps({"cls": type(e).__name__, "msg": str(e), "oserror": isinstance(e, OSError),
                      "healthy": m.healthy}))
"""


def test_wrong_chip_id_raises_sensor_wrong_id(tmp_path):
    out = run_upy(PRE + "m = mk()\n" + CATCH, tmp_path, env=manual_env(chip="0x12"))
    assert out[0]["cls"] == "SensorWrongId"
    assert "0x12" in out[0]["msg"] and out[0]["oserror"] and not out[0]["healthy"]


def test_missing_sensor_raises_sensor_missing(tmp_path):
    out = run_upy(PRE + "m = mk()\n" + CATCH, tmp_path, env=manual_env(addr="none"))
    assert out[0]["cls"] == "SensorMissing"
    assert "SDA/SCL" in out[0]["msg"] and "0x68 or 0x69" in out[0]["msg"]


def test_fixed_address_missing_names_what_the_bus_has(tmp_path):
    out = run_upy(PRE + "m = mk(addr=0x68)\n" + CATCH, tmp_path, env=manual_env(addr="0x69"))
    assert out[0]["cls"] == "SensorMissing"
    assert "0x69" in out[0]["msg"] and "AD0" in out[0]["msg"]


def test_missing_sensor_read_fifo_never_raises_and_recovers_later(tmp_path):
    """A sensor that is absent at boot: start() raises, read_fifo() returns 0 and reports
    once, and when the sensor answers the driver starts by itself."""
    out = run_upy(PRE + r"""
m = mk()
try:
    m.start()
except rb_mpu.SensorError:
    pass
ns = []
for i in range(30):
    S.advance_ms(100)
    if i == 15:
        S.addr = 0x68          # plugged in
    n = m.read_fifo()
    ns.append(n)
    faults(m)
    take(m, n)
report(m, ns=ns)
""", tmp_path, env=manual_env(addr="none"))[0]
    assert out["faults"] == [[F_SENSOR_MISSING, 1]]
    assert sum(out["ns"][:15]) == 0 and sum(out["ns"][16:]) > 100
    assert out["healthy"] and out["samples"][0][0] == 0


@pytest.mark.parametrize("raw", [True, False])
def test_samples_equal_trace_within_one_lsb(tmp_path, raw):
    rows = make_trace(tmp_path / "t.csv", rows=1200)
    out = run_upy(PRE + r"""
m = mk(raw=%s)
m.start()
for i in range(40):
    S.advance_ms(250)
    n = m.read_fifo()
    take(m, n)
    faults(m)
report(m)
""" % raw, tmp_path, env=manual_env(str(tmp_path / "t.csv")))[0]
    assert out["faults"] == [] and out["overflows"] == 0 and out["lost"] == 0
    assert len(out["samples"]) == 1001          # 0..10000 ms inclusive
    assert [s[0] for s in out["samples"]] == list(range(0, 10010, 10))
    assert_in_sync(out["samples"], rows, raw)


def test_ranges_and_accel_only(tmp_path):
    rows = make_trace(tmp_path / "t.csv", rows=600, gyro=False)
    out = run_upy(PRE + r"""
m = mk(raw=True, accel_range_g=8, gyro_range_dps=2000, use_gyro=False)
m.start()
for i in range(20):
    S.advance_ms(250)
    take(m, m.read_fifo())
report(m, sb=m.sample_bytes, mb=m.max_batch)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv")))[0]
    assert out["sb"] == 6 and out["mb"] == 170
    assert len(out["samples"]) == 501
    assert_in_sync(out["samples"], rows, True, accel_range=8, gyro_range=2000)
    assert all(s[4:] == [0, 0, 0] for s in out["samples"])


@pytest.mark.parametrize("gyro,max_stall_ms", [(True, 840), (False, 1690)])
def test_reader_stalls_up_to_just_below_overflow_lose_nothing(tmp_path, gyro, max_stall_ms):
    """Stalls of random length up to 84 (accel+gyro) / 169 (accel only) samples: every
    trace row arrives exactly once, in order."""
    rows = make_trace(tmp_path / "t.csv", rows=9000, gyro=gyro)
    out = run_upy(PRE + r"""
import random
random.seed(7)
m = mk(use_gyro=%s)
m.start()
t = 0
stalls = []
while t < 80000:
    d = random.randint(1, %d // 10) * 10
    if len(stalls) %% 5 == 0:
        d = %d
    S.advance_ms(d)
    t += d
    stalls.append(d)
    take(m, m.read_fifo())
    faults(m)
report(m, stalls=len(stalls))
""" % (gyro, max_stall_ms, max_stall_ms), tmp_path, env=manual_env(str(tmp_path / "t.csv")))[0]
    assert out["overflows"] == 0 and out["faults"] == [] and out["lost"] == 0
    ts = [s[0] for s in out["samples"]]
    assert ts == list(range(0, ts[-1] + 10, 10))
    assert ts[-1] >= 79000 and len(ts) == out["pushed"]
    assert_in_sync(out["samples"], rows, False)


def test_overflow_detected_reported_and_time_kept(tmp_path):
    rows = make_trace(tmp_path / "t.csv", rows=2500)
    out = run_upy(PRE + r"""
m = mk()
m.start()
for i in range(25):
    S.advance_ms(200)
    take(m, m.read_fifo()); faults(m)
S.advance_ms(1500)                  # the loop stalled past FIFO-full (850 ms)
n_at_overflow = m.read_fifo(); faults(m)
for i in range(30):
    S.advance_ms(200)
    take(m, m.read_fifo()); faults(m)
report(m, n_at_overflow=n_at_overflow, chip_overflows=S.mpu.overflows)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv")))[0]
    assert out["n_at_overflow"] == 0          # a misaligned FIFO is never decoded
    assert out["overflows"] == 1 and out["chip_overflows"] == 1
    assert out["faults"] == [[F_FIFO_OVERFLOW, 150]]
    assert out["lost"] == 150
    ts = [s[0] for s in out["samples"]]
    # before: 0..5000; lost 5010..6500; after: 6510..12500
    assert ts == list(range(0, 5010, 10)) + list(range(6510, 12510, 10))
    assert_in_sync(out["samples"], rows, False)


def test_forced_overflow_from_env_and_accounting(tmp_path):
    """REPBELT_SIM_OVERFLOW_AT_MS makes the emulated world stall the reader; the driver's
    sample counter still names every later sample correctly."""
    rows = make_trace(tmp_path / "t.csv", rows=2000)
    out = run_upy(PRE + r"""
m = mk()
m.start()
for i in range(150):
    S.advance_ms(100)
    take(m, m.read_fifo()); faults(m)
report(m, stalls=S.stalls_done)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv"), overflow_at_ms="3000:1200,9000:2000"))[0]
    assert out["stalls"] == 2 and out["overflows"] == 2
    assert [f[0] for f in out["faults"]] == [F_FIFO_OVERFLOW, F_FIFO_OVERFLOW]
    assert out["lost"] == sum(f[1] for f in out["faults"])
    # every sample ever produced is either decoded or counted lost
    assert len(out["samples"]) + out["lost"] == out["sample_no"]
    assert abs(out["sample_no"] - out["pushed"]) <= 1
    assert_in_sync(out["samples"], rows, False)


def test_i2c_errors_random_retry_no_crash_no_bad_sample(tmp_path):
    rows = make_trace(tmp_path / "t.csv", rows=6500)
    out = run_upy(PRE + r"""
m = mk()
while True:
    try:
        m.start()
        break
    except rb_mpu.SensorError:
        pass
for i in range(600):
    S.advance_ms(100)
    take(m, m.read_fifo()); faults(m)
report(m)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv"), i2c_error_rate="0.05", seed="11"))[0]
    assert out["injected"] > 50 and out["i2c_errors"] >= out["injected"] - 5
    assert any(f[0] == F_I2C_ERROR for f in out["faults"])
    assert len(out["samples"]) + out["lost"] == out["sample_no"]
    assert len(out["samples"]) > 5000
    assert_in_sync(out["samples"], rows, False, slack_rows=1)


def test_i2c_error_burst_reinitialises(tmp_path):
    """More consecutive failures than retries: the chip is configured again, the FIFO
    reset, the gap accounted, a fault reported."""
    rows = make_trace(tmp_path / "t.csv", rows=2000)
    out = run_upy(PRE + r"""
m = mk()
m.start()
for i in range(100):
    S.advance_ms(100)
    take(m, m.read_fifo()); faults(m)
report(m)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv"), i2c_error_at_ms="2000,6000",
                              i2c_error_burst="4"))[0]
    assert out["reinits"] == 2 and out["healthy"]
    assert [f[0] for f in out["faults"]].count(F_I2C_ERROR) == 2
    assert all(f[1] >= 3 for f in out["faults"] if f[0] == F_I2C_ERROR)
    assert len(out["samples"]) + out["lost"] == out["sample_no"]
    assert out["samples"][-1][0] >= 9800
    assert_in_sync(out["samples"], rows, False, slack_rows=1)


def test_sensor_gone_for_seconds_then_back(tmp_path):
    rows = make_trace(tmp_path / "t.csv", rows=2000)
    out = run_upy(PRE + r"""
m = mk()
m.start()
health = []
for i in range(120):
    S.advance_ms(100)
    take(m, m.read_fifo()); faults(m)
    health.append(m.healthy)
report(m, health=health)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv"), dead_at_ms="3000:3000"))[0]
    codes = [f[0] for f in out["faults"]]
    assert F_SENSOR_MISSING in codes and F_SAMPLE_GAP in codes
    gap = [f[1] for f in out["faults"] if f[0] == F_SAMPLE_GAP][0]
    assert 290 <= gap <= 420                  # ~3 s outage + re-init retry interval
    assert not all(out["health"]) and out["health"][-1]
    assert len(out["samples"]) + out["lost"] == out["sample_no"]
    assert abs(out["sample_no"] - 1200) <= 2
    assert_in_sync(out["samples"], rows, False, slack_rows=1)


def test_lost_estimate_across_esp32_ticks_wrap(tmp_path):
    """ticks_ms wraps every 2**30 ms on the ESP32; an overflow across the wrap still
    counts the right number of lost samples (injected tick values)."""
    rows = make_trace(tmp_path / "t.csv", rows=1500)
    out = run_upy(PRE + r"""
PERIOD = 1 << 30
def tms():
    return (S.now() // 1000 + PERIOD - 2600) & (PERIOD - 1)
def tdiff(a, b):
    d = (a - b) & (PERIOD - 1)
    return d - PERIOD if d >= PERIOD // 2 else d
m = rb_mpu.MPU(i2c, ticks_ms=tms, ticks_diff=tdiff)
m.start()
for i in range(12):
    S.advance_ms(200)
    take(m, m.read_fifo()); faults(m)
before = tms()
S.advance_ms(1700)
after = tms()
m.read_fifo(); faults(m)
for i in range(10):
    S.advance_ms(200)
    take(m, m.read_fifo()); faults(m)
report(m, before=before, after=after)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv")))[0]
    assert out["before"] > out["after"]            # the tick counter wrapped in the stall
    assert out["faults"] == [[F_FIFO_OVERFLOW, 170]]
    assert_in_sync(out["samples"], rows, False)


def test_read_fifo_allocates_nothing(tmp_path):
    make_trace(tmp_path / "t.csv", rows=3000)
    out = run_upy(PRE + r"""
m = mk()
m.start()
S.advance_ms(100); m.read_fifo()
def run():
    # a function: new module globals would grow the module dict (an allocation of its own)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    total = 0
    for i in range(200):
        S.advance_ms(100)
        total += m.read_fifo()
    a1 = gc.mem_alloc()
    gc.enable()
    return a1 - a0, total
alloc, total = run()
print(json.dumps({"alloc": alloc, "total": total}))
""", tmp_path, env=manual_env(str(tmp_path / "t.csv")))[0]
    assert out["total"] == 2000
    # the driver and the emulated chip together allocate nothing per read
    assert out["alloc"] == 0


def test_long_session_in_small_heap_no_growth(tmp_path):
    """30 emulated minutes through driver + emulated chip (precompiled, as on the board)
    in a 96 KB heap (~30 KB of it is the emulation): memory in use after a collection
    does not grow, and the driver's share is reported."""
    path = compile_mpy(tmp_path / "mpy")
    out = run_upy(PRE.replace("import machine, rb_mpu, json, gc", r"""import gc
gc.collect()
base = gc.mem_alloc()
import machine, json
gc.collect()
sim = gc.mem_alloc()
import rb_mpu""") + r"""
m = mk()
m.start()
gc.collect()
used = [0] * 30          # preallocated: a growing list would show as heap growth
total = 0
for minute in range(30):
    for i in range(600):
        S.advance_ms(100)
        total += m.read_fifo()
    gc.collect()
    used[minute] = gc.mem_alloc()
print(json.dumps({"used": used, "total": total, "lost": m.lost_samples, "driver": used[0] - sim,
                  "sim": sim - base}))
""", tmp_path, env=manual_env(), heap="96K", timeout=300, path=path)[0]
    assert out["total"] == 180001 and out["lost"] == 0     # samples at 0 ms .. 1800 s
    print(out["used"])
    assert max(out["used"]) - min(out["used"]) <= 64
    # driver code + its buffers (+ rb_events), measured on the unix port
    print("driver heap bytes:", out["driver"], "sim:", out["sim"])
    assert out["driver"] < 26 * 1024, out


def test_speed_zero_drains_as_fast_as_read(tmp_path):
    rows = make_trace(tmp_path / "t.csv", rows=1500)
    out = run_upy(PRE + r"""
m = mk()
m.start()
ns = []
for i in range(15):
    n = m.read_fifo()
    ns.append(n)
    take(m, n)
report(m, ns=ns, done=S.done)
""", tmp_path, env={"REPBELT_SIM_TRACE": str(tmp_path / "t.csv"), "REPBELT_SIM_SPEED": "0"})[0]
    assert out["ns"][1:] == [85] * 14 and out["overflows"] == 0
    assert_in_sync(out["samples"], rows, False)


def test_real_clock_accelerated(tmp_path):
    """speed 4 on the real clock, with the sensor clock from rb_board: ~4x the samples
    of the wall time, no loss, in sync (a stall over ~200 ms of a loaded machine would
    overflow the FIFO, which is the margin this test leaves)."""
    rows = make_trace(tmp_path / "t.csv", rows=4000)
    out = run_upy(PRE + r"""
import time, rb_board
m = rb_board.make_mpu(rb_board.make_i2c())
m.start()
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < 1000:
    time.sleep_ms(10)
    take(m, m.read_fifo()); faults(m)
el = time.ticks_diff(time.ticks_ms(), t0)
report(m, el=el)
""", tmp_path, env={"REPBELT_SIM_TRACE": str(tmp_path / "t.csv"), "REPBELT_SIM_SPEED": "4"})[0]
    assert out["overflows"] == 0 and out["faults"] == []
    # world time = 4 x wall time at 100 Hz: 0.4 samples per wall ms
    assert abs(len(out["samples"]) - out["el"] * 4 // 10) <= 8
    assert_in_sync(out["samples"], rows, False)


def test_board_sensor_clock_wraps_like_esp32_and_driver_copes(tmp_path):
    """REPBELT_SIM_TICKS_OFFSET_MS: the emulated sensor clock (rb_board.ticks_ms) starts
    just before the 2**30 wrap; an overflow across it is still counted right."""
    rows = make_trace(tmp_path / "t.csv", rows=1500)
    out = run_upy(PRE + r"""
import rb_board
m = rb_board.make_mpu(i2c)
m.start()
t_start = rb_board.ticks_ms()
for i in range(10):
    S.advance_ms(200)
    take(m, m.read_fifo()); faults(m)
S.advance_ms(1300)
m.read_fifo(); faults(m)
t_end = rb_board.ticks_ms()
for i in range(5):
    S.advance_ms(200)
    take(m, m.read_fifo()); faults(m)
report(m, t_start=t_start, t_end=t_end)
""", tmp_path, env=manual_env(str(tmp_path / "t.csv"), ticks_offset_ms="2500"))[0]
    assert out["t_start"] == (1 << 30) - 2500 and out["t_end"] == 800
    assert out["faults"] == [[F_FIFO_OVERFLOW, 130]]
    assert_in_sync(out["samples"], rows, False)
