"""Device budget benchmark: the detection core inside the MicroPython unix port.

A 5 s slice of a labelled workout (bridge reps) is written as int16s by
the host and streamed, CHUNK samples at a time, into one preallocated
array('h') (read between measured blocks), looped inside MicroPython with
advancing time stamps, so the run measures the core, not CSV parsing, and the
harness holds only a 1.2 KB buffer of the heap it measures.  Printed:
heap bytes allocated per sample in steady state (gc disabled around
1000-sample blocks, gc.mem_alloc() before/after), peak heap, whether the
run completes under -X heapsize=64K, and microseconds per sample with the
ESP32 estimate.

ESP32 estimate: ESP32_SLOWDOWN = 30 is an assumption, not a measurement:
a 240 MHz Xtensa LX6 runs MicroPython bytecode roughly 30x slower than one
~3 GHz x86-64 core runs the unix port (clock ratio ~12x, plus no
out-of-order execution and flash-cached code ~2.5x).  Check it on a real
board with `repbelt doctor` once one is attached.
"""
import os
import subprocess
import tempfile
from pathlib import Path

from . import paths

ESP32_SLOWDOWN = 30
RATE_HZ = 100
SOURCE = "synthetic-dev/dev-100004.csv"
SLICE_S = (20.0, 25.0)

SCRIPT = r"""
import gc, sys, time, micropython
from array import array
import rb_engine, rb_events
N = %(n)d
CHUNK = 100
minutes = %(minutes)d
total = minutes * 60 * %(rate)d
events = [0]
def emit(ev):
    events[0] += 1
gc.collect()
eng = rb_engine.Engine(rate_hz=%(rate)d, has_gyro=True, mount=rb_engine.MOUNT_DEFAULT, emit=emit)
feed = eng.feed
tab = array('h', range(CHUNK * 6))
f = open(%(path)r, 'rb')
gc.collect()
base = gc.mem_alloc()
peak = base
alloc = 0
measured = 0
t_us = 0
i = 0
dt = 1000 // %(rate)d
BLOCK = CHUNK
while i < total:
    if i %% N == 0:
        f.seek(0)
    f.readinto(tab)
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    end = i + BLOCK
    if end > total:
        end = total
    b0 = i
    while i < end:
        j = (i - b0) * 6
        feed(i * dt, tab[j], tab[j + 1], tab[j + 2], tab[j + 3], tab[j + 4], tab[j + 5])
        i += 1
    t_us += time.ticks_diff(time.ticks_us(), t0)
    a1 = gc.mem_alloc()
    if a1 > peak:
        peak = a1
    if i > 30 * %(rate)d:          # steady state: after the first 30 s
        alloc += a1 - a0
        measured += end - b0
    gc.enable()
    gc.collect()
eng.finish(i * dt)
print("RESULT", total, alloc, measured, peak - base, peak, t_us, events[0])
"""


def _mpy_cross():
    return paths.mpy_cross_bin()


def _table():
    src = paths.SHARED / "datasets" / SOURCE
    vals = []
    with open(src) as f:
        import rb_trace
        r = rb_trace.TraceReader(f)
        for s in r:
            if SLICE_S[0] * 1000 <= s[0] < SLICE_S[1] * 1000:
                vals.extend(s[1:7])
    return vals


def run(minutes=10, heap="64K"):
    import array
    table = _table()
    table = table[:len(table) - len(table) % (6 * 100)]    # whole CHUNKs (the script's)
    with tempfile.TemporaryDirectory() as d:
        tp = Path(d) / "table.bin"
        tp.write_bytes(array.array("h", table).tobytes())
        # (opened by a relative name: the heap measured is the same whatever the temp dir's path)
        code = SCRIPT % {"n": len(table) // 6, "path": tp.name, "minutes": minutes, "rate": RATE_HZ}
        p = Path(d) / "bench.py"
        p.write_text(code)
        # the board imports precompiled .mpy (no compiler RAM): do the same
        lib = Path(d) / "lib"
        lib.mkdir()
        for m in paths.CORE_MODULES:
            subprocess.run([_mpy_cross()] + paths.mpy_cross_args(m)
                           + ["-o", str(lib / (m + ".mpy")), str(paths.FIRMWARE / (m + ".py"))],
                           check=True, capture_output=True)
        # (the harness too: what is measured is the core, not the compiler)
        subprocess.run([_mpy_cross(), "-o", str(lib / "rb_bench.mpy"), str(p)], check=True, capture_output=True)
        env = dict(os.environ, MICROPYPATH=str(lib))
        r = subprocess.run([paths.micropython_bin(), "-X", "heapsize=" + heap, "-c", "import rb_bench"],
                           capture_output=True, text=True, env=env, cwd=d)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT"):
            n, alloc, measured, grow, peak, t_us, events = map(int, line.split()[1:])
            return {"ok": True, "samples": n, "alloc_per_sample": alloc / max(1, measured),
                    "peak_heap": peak, "heap_growth": grow, "us_per_sample": t_us / n, "events": events,
                    "heap": heap}
    return {"ok": False, "heap": heap, "error": (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["?"])[-1]}


def main(minutes=10):
    r = run(minutes, "64K")
    if not r["ok"]:
        print("heapsize=64K: FAILED (%s)" % r["error"])
        r = run(minutes, "256K")
        if not r["ok"]:
            print("heapsize=256K: FAILED (%s)" % r["error"])
            return r
    us = r["us_per_sample"]
    share = us * ESP32_SLOWDOWN * RATE_HZ / 1e6 * 100
    print("core under the MicroPython unix port, %d min at %d Hz (%d samples, %d events)" % (
        minutes, RATE_HZ, r["samples"], r["events"]))
    print("completes under -X heapsize=%s: %s" % (r["heap"], "yes" if r["ok"] else "no"))
    print("heap allocated per sample (steady state): %.2f bytes" % r["alloc_per_sample"])
    print("peak heap in use: %d bytes (growth over the run after start: %d)" % (r["peak_heap"], r["heap_growth"]))
    print("time per sample: %.1f us on the unix port here" % us)
    print("ESP32 estimate: x%d -> %.0f us per sample, %.1f%% of one core at %d Hz" % (
        ESP32_SLOWDOWN, us * ESP32_SLOWDOWN, share, RATE_HZ))
    return r
