"""Virtual board runner (MicroPython unix port): the unmodified firmware on emulated hardware.

    .venv/bin/micropython [-X heapsize=96K] sim/board.py [--flash DIR] [--script TEST.py]
                          [--ticks-offset MS] [--stats]

- the emulated `machine` (sim/upy/machine.py, configured by REPBELT_SIM_*)
  and `bluetooth` (sim/upy/bluetooth.py: REPBELT_AIR=host:port for a radio
  process, else the in-process `bluetooth.AIR`) shadow the real modules;
- the firmware is imported from firmware/ (as if flashed), DIR is the
  board's flash (cwd: the firmware uses relative paths: log/, config.json,
  bonds.json); running the runner again on the same DIR is a reset;
- `--script` runs a MicroPython test script next to the firmware: it must
  define `async def main()`, started as a task before firmware's main.py;
  it ends the board with `sys.exit(code)`;
- `--ticks-offset MS` (or REPBELT_SIM_TICKS_OFFSET_MS) makes the
  firmware's `time.ticks_ms()` start MS before the ESP32 wrap (2**30) and
  wrap like the board's (asyncio itself keeps the real clock);
- `--firmware DIR` imports the firmware from DIR instead (e.g. .mpy files
  made by mpy-cross, as flashed on a board); `--sim-upy DIR` likewise for
  the emulated modules;
- `--stats` prints `STATS {...}` (heap, loop counts) at exit.
Exit code: 0 normal end, 3 machine.reset() (restart to emulate the reset).
"""
import os
import sys

TICKS_PERIOD = 1 << 30


def _arg(name, default=None):
    a = sys.argv
    for i in range(len(a) - 1):
        if a[i] == name:
            return a[i + 1]
    return default


def _abs(p):
    if p.startswith("/"):
        return p
    return os.getcwd().rstrip("/") + "/" + p


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else "/"


def _mkdirs(p):
    cur = ""
    for part in p.split("/"):
        if not part:
            cur = cur or "/"
            continue
        cur = cur.rstrip("/") + "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass


_stats = {"heap_peak_live": 0, "heap_samples": 0}


async def _heap_monitor():
    # live heap after a collection, once a second: the figure to compare with ESP32's ~100 KB
    import asyncio
    import gc
    while True:
        await asyncio.sleep_ms(1000)
        gc.collect()
        a = gc.mem_alloc()
        _stats["heap_samples"] += 1
        if a > _stats["heap_peak_live"]:
            _stats["heap_peak_live"] = a
        if _stats["heap_samples"] == 5:
            _stats["heap_live_at_5s"] = a


async def _script(main):
    # a failing test script ends the board (exit 2) instead of leaving it running
    try:
        await main()
    except Exception as e:
        sys.print_exception(e)
        print("SCRIPT FAILED")
        raise SystemExit(2)


def _print_stats():
    import gc
    import json
    import micropython
    gc.collect()
    _stats["heap_end_live"] = gc.mem_alloc()
    _stats["heap_total"] = gc.mem_alloc() + gc.mem_free()
    try:
        _stats["mem_peak"] = micropython.mem_peak()
    except AttributeError:
        pass
    try:
        import rb_app
        app = rb_app.APP
        if app is not None:
            _stats["samples"] = app.samples
            _stats["loops"] = app.loops
            _stats["events"] = app.events
            _stats["last_seq"] = app.log.last_seq
            _stats["sent_records"] = app.p.sent_records
            _stats["notify_errors"] = app.p.notify_errors
    except ImportError:
        pass
    print("STATS " + json.dumps(_stats))


def main():
    here = _dirname(_abs(sys.argv[0]))
    repo = _dirname(here)
    sim_upy = here + "/upy"
    firmware = _abs(_arg("--firmware") or os.getenv("REPBELT_SIM_FIRMWARE") or repo + "/firmware")
    sim_upy = _abs(_arg("--sim-upy") or sim_upy)
    flash = _abs(_arg("--flash") or os.getenv("REPBELT_SIM_FLASH") or "out/board")
    _mkdirs(flash)
    for k in ("REPBELT_SIM_TRACE", "REPBELT_SIM_CONFIG", "REPBELT_SIM_TRACE_CACHE"):
        v = os.getenv(k)
        if v:
            os.putenv(k, _abs(v))
    os.putenv("REPBELT_SIM_FLASH", flash)
    script = _arg("--script")
    if script:
        script = _abs(script)
    sys.path[:] = [sim_upy, "", ".frozen", firmware]
    os.chdir(flash)
    import asyncio   # binds the real ticks before the firmware's clock is replaced
    off = _arg("--ticks-offset") or os.getenv("REPBELT_SIM_TICKS_OFFSET_MS")
    if off:
        import simtime
        simtime.install(int(off))
    import machine  # noqa: F401  (the emulated world: sensor, pins, clock)
    import bluetooth  # noqa: F401
    want_stats = "--stats" in sys.argv
    import gc
    gc.collect()
    _stats["heap_sim_base"] = gc.mem_alloc()   # runner + emulated modules, not on a board
    if want_stats:
        asyncio.create_task(_heap_monitor())
    if script:
        ns = {"__name__": "sim_script"}
        with open(script) as f:
            exec(f.read(), ns)
        asyncio.create_task(_script(ns["main"]))
    main_path = "main.py" if _exists("main.py") else firmware + "/main.py"
    code = 0
    try:
        with open(main_path) as f:
            src = f.read()
        exec(src, {"__name__": "__main__"})
    except SystemExit as e:
        code = e.args[0] if e.args else 0
    if want_stats:
        _print_stats()
    sys.exit(code)


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


main()
