"""Micro-benchmark of the sensor path on the MicroPython unix port (not a test).

Runs rb_mpu against the emulated MPU6050 (manual clock, precompiled .mpy like
the board) and prints: time per read_fifo() call and per sample for batches
of 10 and 85 samples (the emulated chip's own cost included, so this is an
upper bound for the driver), RAM of the driver module and one MPU object,
and heap allocated per read.  Usage: .venv/bin/python tests/bench_driver.py
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boardio_helpers import compile_mpy, run_upy  # noqa: E402

SCRIPT = r"""
import gc, time, json
gc.collect(); m0 = gc.mem_alloc()
import machine
gc.collect(); m1 = gc.mem_alloc()
import rb_events, rb_mpu
gc.collect(); m2 = gc.mem_alloc()
S = machine.SIM
mpu = rb_mpu.MPU(machine.I2C(0), ticks_ms=S.ticks_ms, ticks_diff=S.ticks_diff)
gc.collect(); m3 = gc.mem_alloc()
mpu.start()
def bench(step_ms, calls):
    S.advance_ms(step_ms); mpu.read_fifo()
    # the emulated chip makes its samples inside advance_ms: time that apart
    t_sim = 0
    t_read = 0
    n = 0
    gc.collect()
    a0 = gc.mem_alloc()
    for i in range(calls):
        t0 = time.ticks_us()
        S.advance_ms(step_ms)
        t1 = time.ticks_us()
        n += mpu.read_fifo()
        t2 = time.ticks_us()
        t_sim += time.ticks_diff(t1, t0)
        t_read += time.ticks_diff(t2, t1)
    a1 = gc.mem_alloc()
    return {"samples_per_read": n // calls, "us_per_read": t_read // calls,
            "us_per_sample": t_read / n, "alloc_per_read": (a1 - a0) // calls}
r10 = bench(100, 500)
r85 = bench(850, 100)
print(json.dumps({"sim_bytes": m1 - m0, "driver_module_bytes": m2 - m1,
                  "mpu_object_bytes": m3 - m2, "batch10": r10, "batch85": r85}))
"""


def main():
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        path = compile_mpy(d / "mpy")
        out = run_upy(SCRIPT, d, env={"REPBELT_SIM_CLOCK": "manual"}, heap="128K", path=path,
                      timeout=300)[0]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
