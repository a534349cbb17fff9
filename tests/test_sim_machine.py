"""The emulated machine module (sim/upy/machine.py): register-level MPU6050 behaviour that
the driver relies on, checked directly over the fake I2C on the MicroPython unix port."""

import pytest

from boardio_helpers import ACCEL_LSB_PER_G, make_trace, run_upy

PRE = r"""
import machine, json, errno
S = machine.SIM
i2c = machine.SoftI2C(scl=machine.Pin(22), sda=machine.Pin(21), freq=400000)
A = 0x68
def rd(reg, n=1):
    return list(i2c.readfrom_mem(A, reg, n))
def wr(reg, v):
    i2c.writeto_mem(A, reg, bytes([v]))
def count():
    b = rd(0x72, 2)
    return (b[0] << 8) | b[1]
def setup(div=9, fifo_en=0x78, accel_cfg=0x08):
    wr(0x6B, 0x80)          # reset
    wr(0x6B, 0x01)          # wake
    wr(0x19, div)
    wr(0x1A, 3)             # DLPF on: 1 kHz base
    wr(0x1C, accel_cfg)
    wr(0x1B, 0x08)
    wr(0x23, fifo_en)
    wr(0x6A, 0x04)
    wr(0x6A, 0x40)
def dump(x):
    print(json.dumps(x))
"""


def menv(trace=None, **kw):
    e = {"REPBELT_SIM_CLOCK": "manual"}
    if trace:
        e["REPBELT_SIM_TRACE"] = str(trace)
    e.update({"REPBELT_SIM_" + k.upper(): str(v) for k, v in kw.items()})
    return e


def s16(hi, lo):
    v = (hi << 8) | lo
    return v - 65536 if v >= 32768 else v


def test_power_on_state_and_sleep(tmp_path):
    out = run_upy(PRE + r"""
a = {"who": rd(0x75), "pwr": rd(0x6B)}
wr(0x6B, 0x80)
a["pwr_after_reset"] = rd(0x6B)
wr(0x23, 0x78); wr(0x6A, 0x40)     # FIFO on but chip asleep
S.advance_ms(500)
a["count_asleep"] = count()
wr(0x6B, 0x01)
S.advance_ms(500)
a["count_awake"] = count()
a["int_status"] = rd(0x3A)
dump(a)
""", tmp_path, env=menv())[0]
    assert out["who"] == [0x68] and out["pwr"] == [0x40] and out["pwr_after_reset"] == [0x40]
    assert out["count_asleep"] == 0
    # default SMPLRT_DIV 0 and DLPF off: 8 kHz, so the FIFO is long full
    assert out["count_awake"] == 1024 and out["int_status"][0] & 0x10


def test_fifo_holds_big_endian_samples_in_register_order(tmp_path):
    rows = make_trace(tmp_path / "t.csv", rows=50)
    out = run_upy(PRE + r"""
setup()
S.advance_ms(20)                         # samples at 0, 10, 20 ms
n = count()
data = list(i2c.readfrom_mem(A, 0x74, n))
dump({"n": n, "data": data, "after": count(), "empty_read": rd(0x74)})
""", tmp_path, env=menv(tmp_path / "t.csv"))[0]
    assert out["n"] == 36 and out["after"] == 0 and out["empty_read"] == [0xFF]
    d = out["data"]
    for k in range(3):
        s = [s16(d[12 * k + 2 * j], d[12 * k + 2 * j + 1]) for j in range(6)]
        row = rows[k]
        assert all(abs(s[j] - row[1 + j] * 8192) <= 1 for j in range(3))
        assert all(abs(s[3 + j] - row[4 + j] * 65.5) <= 1 for j in range(3))


def test_overflow_drops_oldest_bytes_like_the_mpu6050(tmp_path):
    out = run_upy(PRE + r"""
setup()
S.advance_ms(990)           # 100 samples = 1200 bytes into a 1024-byte FIFO
a = {"count": count(), "int": rd(0x3A), "int_again": rd(0x3A)}
data = list(i2c.readfrom_mem(A, 0x74, 1024))
a["head"] = data[:14]
a["pushed"] = S.mpu.samples_pushed
a["dropped"] = S.mpu.bytes_dropped
# the same samples, read from a chip that was drained in time
dump(a)
""", tmp_path, env=menv())[0]
    assert out["count"] == 1024 and out["int"][0] & 0x10 and not out["int_again"][0] & 0x10
    assert out["pushed"] == 100 and out["dropped"] == 1200 - 1024
    # 176 bytes dropped = 14 samples + 8 bytes: the FIFO now starts mid-sample (at gyro y)
    # still source: accel (8192, 0, 0) gyro 0 at +-4 g
    assert out["head"][:4] == [0, 0, 0, 0]           # gyro y, z of sample 14
    assert out["head"][4:6] == [0x20, 0x00]          # accel x of sample 15 = 8192
    assert out["head"][6:10] == [0, 0, 0, 0]         # accel y, z of sample 15


@pytest.mark.parametrize("trace_hz,chip_div", [(50, 9), (200, 9), (100, 4)])
def test_resamples_trace_to_the_chip_rate_nearest_sample(tmp_path, trace_hz, chip_div):
    rows = make_trace(tmp_path / "t.csv", rows=400, rate_hz=trace_hz)
    chip_hz = 1000 // (chip_div + 1)
    out = run_upy(PRE + r"""
setup(div=%d)
got = []
for i in range(10):
    S.advance_ms(100)
    n = count()
    d = list(i2c.readfrom_mem(A, 0x74, n))
    for k in range(n // 12):
        hi = d[12 * k]; lo = d[12 * k + 1]
        v = (hi << 8) | lo
        got.append(v - 65536 if v >= 32768 else v)
dump(got)
""" % chip_div, tmp_path, env=menv(tmp_path / "t.csv"))[0]
    assert len(out) == chip_hz + 1
    for k, ax in enumerate(out):
        t_us = k * 1000000 // chip_hz
        # nearest row in integer microseconds; a tie keeps the earlier row
        near = min(rows, key=lambda r: (abs(round(r[0] * 1e6) - t_us), r[0]))
        assert abs(ax - near[1] * ACCEL_LSB_PER_G[4]) <= 1, (k, ax, near)


def test_missing_device_and_other_address(tmp_path):
    out = run_upy(PRE + r"""
a = {"scan": i2c.scan()}
try:
    i2c.readfrom_mem(0x68, 0x75, 1)
    a["err"] = None
except OSError as e:
    a["err"] = e.args[0] == errno.ENODEV
a["who69"] = list(i2c.readfrom_mem(0x69, 0x75, 1))
dump(a)
""", tmp_path, env=menv(addr="0x69", chip="0x71"))[0]
    assert out == {"scan": [0x69], "err": True, "who69": [0x71]}


def test_trace_end_hold_and_exit(tmp_path):
    make_trace(tmp_path / "t.csv", rows=20)
    out = run_upy(PRE + r"""
setup()
S.advance_ms(150)
a = {"done_early": S.done}
S.advance_ms(300)
count()
a["done"] = S.done
dump(a)
""", tmp_path, env=menv(tmp_path / "t.csv"))[0]
    assert out == {"done_early": False, "done": True}
    out = run_upy(PRE + r"""
setup()
S.advance_ms(500)
print("still here")
count()
print("not reached")
""", tmp_path, env=menv(tmp_path / "t.csv", end="exit"))
    # SystemExit(0) at the first bus transfer after the trace ended: the run ends cleanly
    assert out == []


def test_reset_exits_with_the_runner_code(tmp_path):
    run_upy("import machine\nmachine.reset()\n", tmp_path, expect_rc=3)


def test_world_from_json_file_env_wins(tmp_path):
    cfg = tmp_path / "world.json"
    cfg.write_text('{"addr": "0x69", "chip": "0x70", "clock": "manual", "battery_mv": 3600}')
    out = run_upy(r"""
import machine, json
S = machine.SIM
print(json.dumps({"addr": S.addr, "who": list(machine.I2C(0).readfrom_mem(0x69, 0x75, 1)),
                  "manual": S.manual, "mv": machine.ADC(machine.Pin(35)).read_uv() * 2 // 1000}))
""", tmp_path, env={"REPBELT_SIM_CONFIG": str(cfg), "REPBELT_SIM_CHIP": "0x71"})[0]
    assert out == {"addr": 0x69, "who": [0x71], "manual": True, "mv": 3600}
