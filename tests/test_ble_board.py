"""The unmodified firmware (main.py -> rb_app -> rb_ble, rb_mpu, rb_engine, rb_log) on the
virtual board: emulated MPU6050 behind fake I2C replaying a trace, emulated `bluetooth`
with an in-process central. Every test runs the real MicroPython unix port."""
import json
from pathlib import Path

import pytest

import board_sim as B
import rb_events as E
import rb_protocol as P

SCRIPTS = Path(__file__).parent / "board_scripts"
STREAM = (SCRIPTS / "stream.py").read_text()
SECURITY = (SCRIPTS / "security.py").read_text()


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    """Bridge set, walking about, a plank, then standing still (170 s at 100 Hz)."""
    d = tmp_path_factory.mktemp("trace")
    txt, n = B.quantized_trace(B.DEV / "dev-100004.csv", [(0, 95), (250, 305)])
    p = d / "q.csv"
    p.write_text(txt)
    events, reader = B.direct_events(p)
    t_end_ms = (n - 1) * 10
    return p, events, reader, t_end_ms


def _check_stream(run, trace):
    path, direct, reader, t_end = trace
    assert run.rc == 0, run
    r = run.result
    assert r["ok"], run
    last = r["last_seq"]
    seqs = [e[0] for e in r["events"]]
    assert seqs == list(range(1, last + 1)), "every seq exactly once"
    logged = [[x[0], x[1]] + x[2:] for x in r["logged"]]
    assert [e[:2] + e[2:] for e in r["events"]] == logged, "the central got what the log holds"
    assert r["truncated"] == 0 and r["irq_errors"] == 0 and r["frag_errors"] == 0
    assert r["lost_samples"] == 0 and r["overflows"] == 0
    board = [tuple(e[2:]) for e in r["events"] if e[3] <= t_end and e[2] != 40]
    ref = [tuple(e) for e in direct if e[1] <= t_end]
    assert board == ref, "board pipeline == engine over the trace"
    from repbelt.analyze import analyze_cpython
    assert B.analysis_json(board, reader) == analyze_cpython(str(path))[0], "== `repbelt analyze`"
    return r


def test_trace_through_sensor_driver_engine_log_ble_equals_engine(tmp_path, trace):
    run = B.run_board(tmp_path, STREAM, env={"REPBELT_SIM_TRACE": trace[0], "T_MTU": 247})
    r = _check_stream(run, trace)
    kinds = [e[2] for e in r["events"]]
    assert kinds.count(E.EV_REP) >= 10 and E.EV_HOLD_END in kinds
    assert r["max_notify"] <= 244 and r["dups"] == 0, r["dup_seqs"]
    # several records share a notification at MTU 247
    assert run.stats["sent_records"] == r["last_seq"]


def test_mtu23_enomem_bursts_and_disconnects_lose_nothing(tmp_path, trace):
    run = B.run_board(tmp_path, STREAM, env={
        "REPBELT_SIM_TRACE": trace[0], "T_MTU": 23, "T_ENOMEM": 0.25, "T_BURST_EVERY": 12,
        "T_DISCONNECT_EVERY_EVENTS": 6, "T_BIG_EVENTS": 1},
        config={"session_idle_s": 86400})      # the reconnect loop outlasts the trace by minutes
    r = _check_stream(run, trace)
    assert r["max_notify"] <= 20
    big = [e for e in r["events"] if e[2] == 40]     # 22-byte records, sent as 2 fragments each
    assert len(big) >= 3 + r["reconnects"] - 1
    assert all(tuple(e[2:]) == (40, 7, 2 ** 31 - 1, -(2 ** 31) + 1, 100000, 5, 6, 7) for e in big)
    assert r["enomem"] > 20 and r["notify_errors"] >= r["enomem"]
    assert r["reconnects"] >= 5


def test_mtu247_heavy_enomem(tmp_path, trace):
    run = B.run_board(tmp_path, STREAM, env={
        "REPBELT_SIM_TRACE": trace[0], "T_MTU": 247, "T_ENOMEM": 0.5, "T_BURST_EVERY": 9})
    r = _check_stream(run, trace)
    assert r["enomem"] > 20


def test_reset_mid_session_every_seq_once_after_replay(tmp_path, trace):
    flash = tmp_path / "flash"
    env = {"REPBELT_SIM_TRACE": trace[0], "T_MTU": 185, "T_EXIT_AT_SEQ": 20}
    first = B.run_board(tmp_path, STREAM, flash=flash, env=env)
    assert first.rc == 3, first        # the script pulled the plug mid-session
    got1 = first.result["received"]
    assert got1 and got1 == list(range(1, len(got1) + 1))
    wm = got1[-1]
    env2 = {"REPBELT_SIM_TRACE": trace[0], "T_MTU": 185, "T_FROM": wm + 1}
    second = B.run_board(tmp_path, STREAM, flash=flash, env=env2)
    assert second.rc == 0, second
    r = second.result
    assert r["ok"], second
    seqs2 = [e[0] for e in r["events"]]
    assert seqs2 == list(range(wm + 1, r["last_seq"] + 1))
    union = got1 + seqs2
    assert union == list(range(1, r["last_seq"] + 1)), "every seq exactly once across the reset"
    assert r["last_seq"] > first.result["last_seq"]
    sessions = {e[1] for e in r["events"]}
    s1 = first.result["session"]
    assert r["session"] == s1 + 1
    # the records logged after the central's watermark come again, tagged with their session
    assert sessions == ({s1, s1 + 1} if first.result["last_seq"] > wm else {s1 + 1})
    # the replayed part of the first session is what the log kept of it
    logged = [x for x in r["logged"] if x[0] > wm]
    assert [[e[0], e[1]] + e[2:] for e in r["events"]] == [[x[0], x[1]] + x[2:] for x in logged]


def test_control_security_and_malformed_writes(tmp_path, trace):
    run = B.run_board(tmp_path, SECURITY, env={"REPBELT_SIM_TRACE": trace[0]})
    assert run.rc == 0, run
    r = run.result
    assert r["open_start_while_running"] == P.ERR_BAD_STATE    # autostarted: already in a session
    assert r["open_hint"] == P.ERR_OK and r["open_list"] == P.ERR_OK
    assert r["status_authorized_plain"] is False
    assert set(r["refused_plain"].values()) == {P.ERR_NOT_AUTHORIZED}, r["refused_plain"]
    assert r["refused_unbonded"] == P.ERR_NOT_AUTHORIZED
    assert r["time_set_after_refusals"] is False
    assert r["bonded_set_time"] == P.ERR_OK and r["bonded_threshold"] == P.ERR_OK
    assert r["bonded_bad_value"] == P.ERR_BAD_VALUE and r["bonded_unknown_key"] == P.ERR_BAD_VALUE
    assert r["bonded_replay"] == P.ERR_OK
    assert r["status_flags"]["time_set"] and r["status_flags"]["authorized"]
    assert r["delete_current"] == P.ERR_BAD_STATE and r["delete_missing"] == P.ERR_NOT_FOUND
    assert r["stranger_bonded_flag"] is False and r["stranger_set_time"] == P.ERR_NOT_AUTHORIZED
    assert r["window_set_time"] == P.ERR_OK
    codes = r["malformed_codes"]
    assert len(codes) == 12 and P.ERR_OK not in codes
    assert set(codes) <= {P.ERR_MALFORMED, P.ERR_UNKNOWN_OP, P.ERR_BAD_VALUE}
    assert r["still_alive"] == P.ERR_OK and r["irq_errors"] == 0
    assert r["fuzz_responses"] + r["cmds_dropped"] >= 250
    # refusals are logged as F_CONTROL_REFUSED with detail = err << 8 | op (rate limited)
    assert r["refused_faults"], r
    assert (P.ERR_NOT_AUTHORIZED << 8 | P.OP_SET_TIME) in r["refused_faults"]
    assert r["refused_count"] >= 9
    bonds = json.loads(r["bonds_file"])
    assert any("aa0000000001" in k for k in bonds) and not any("bb0000000002" in k for k in bonds)
    assert any("cc0000000003" in k for k in bonds)
    assert json.loads(r["config_file"])["thresholds"]["REP_HI_MILLI"] == 90


def test_ticks_wrap_during_streaming(tmp_path, tmp_path_factory):
    """Real-time run whose ticks_ms wraps (ESP32 period 2**30) 2 s after boot."""
    txt, n = B.quantized_trace(B.DEV / "dev-100004.csv", [(14, 22)], still_s=1)
    p = tmp_path / "w.csv"
    p.write_text(txt)
    direct, reader = B.direct_events(p)
    script = STREAM.replace("async def main():\n    app = await T.wait_app()",
                            "async def main():\n    import time\n    app = await T.wait_app()\n"
                            "    T0 = time.ticks_ms()", 1)
    script = script.replace('"session": app.log.session_id, "sessions"',
                            '"t0": T0, "t1": time.ticks_ms(), "session": app.log.session_id, "sessions"')
    run = B.run_board(tmp_path, script, env={"REPBELT_SIM_TRACE": p, "REPBELT_SIM_SPEED": 1,
                                             "T_MTU": 23, "T_ENOMEM": 0.3},
                      args=["--ticks-offset", "2000"], timeout=120)
    assert run.rc == 0, run
    r = run.result
    assert r["t0"] > (1 << 30) - 2500 and r["t1"] < 60000, "the tick counter wrapped during the run"
    assert r["lost_samples"] == 0 and r["overflows"] == 0
    assert r["samples"] >= n - 10
    assert [e[0] for e in r["events"]] == list(range(1, r["last_seq"] + 1))
    t_end = (n - 1) * 10
    board = [tuple(e[2:]) for e in r["events"] if e[3] <= t_end]
    ref = [tuple(e) for e in direct if e[1] <= t_end]
    assert board == ref
    assert not [e for e in board if e[0] == E.EV_FAULT]


FAULTS = (SCRIPTS / "faults.py").read_text()
CALIBRATE = (SCRIPTS / "calibrate.py").read_text()


def test_sensor_faults_reach_the_stream_and_status(tmp_path, trace):
    run = B.run_board(tmp_path, FAULTS, env={
        "REPBELT_SIM_TRACE": trace[0], "REPBELT_SIM_OVERFLOW_AT_MS": 20000,
        "REPBELT_SIM_I2C_ERROR_AT_MS": 40000, "REPBELT_SIM_BATTERY_MV": 3800})
    assert run.rc == 0, run
    r = run.result
    seqs = [e[0] for e in r["events"]]
    assert seqs == list(range(1, r["last_seq"] + 1))
    faults = [(e[4], e[5]) for e in r["events"] if e[2] == E.EV_FAULT]
    codes = [f[0] for f in faults]
    assert E.F_FIFO_OVERFLOW in codes and E.F_I2C_ERROR in codes, faults
    lost = [f[1] for f in faults if f[0] == E.F_FIFO_OVERFLOW][0]
    assert 80 <= lost <= 160          # the 1.2 s stall at 100 Hz, minus the FIFO's worth
    assert r["overflows"] == 1 and r["i2c_errors"] >= 1
    st = r["status"]
    assert st["battery_pct"] == 50 and st["state_name"] == "session"
    assert st["sensor_health"] in (E.F_FIFO_OVERFLOW, E.F_I2C_ERROR)
    # the engine kept counting around the faults
    assert [e for e in r["events"] if e[2] == E.EV_REP]


def test_missing_sensor_is_one_fault_not_a_crash_loop(tmp_path):
    run = B.run_board(tmp_path, FAULTS, env={"REPBELT_SIM_ADDR": "none", "T_WAIT_MS": 6000,
                                             "REPBELT_SIM_SPEED": 1}, timeout=60)
    assert run.rc == 0, run
    r = run.result
    st = r["status"]
    assert st["state_name"] == "fault" and st["sensor_health"] == E.F_SENSOR_MISSING
    faults = [e for e in r["events"] if e[2] == E.EV_FAULT]
    assert [f[4] for f in faults] == [E.F_SENSOR_MISSING], faults   # once, though retried every 5 s
    assert "Traceback" not in run.err
    assert r["led"] == [[80, 120], [80, 120], [80, 1520]]            # rb_led.PAT_FAULT_SENSOR


def test_button_stops_and_starts_sessions(tmp_path, trace):
    run = B.run_board(tmp_path, FAULTS, env={
        "REPBELT_SIM_TRACE": trace[0], "REPBELT_SIM_SPEED": 2, "REPBELT_SIM_BUTTON_AT_MS": "3000,6000",
        "T_WAIT_MS": 4500}, timeout=60)
    assert run.rc == 0, run
    r = run.result
    ids = [s[0] for s in r["sessions"]]
    assert len(ids) == 2 and ids[1] == ids[0] + 1, r["sessions"]   # stopped at 3 s, new one at 6 s
    assert r["status"]["state_name"] == "session"


def test_mount_calibration_from_config_after_reset(tmp_path):
    txt, n = B.quantized_trace(B.DEV / "dev-100009.csv", [(0, 40)], still_s=15)
    txt = txt.replace("# mount=default", "# mount=calibrate")
    p = tmp_path / "cal.csv"
    p.write_text(txt)
    direct, reader = B.direct_events(p)
    cal = [e for e in direct if e[0] == E.EV_CALIBRATED]
    assert cal and cal[0][2] == E.CAL_OK
    flash = tmp_path / "flash"
    # real-time replay: the few commands take well under the routine's length, so the
    # calibrating session they start cannot finish on a slice of mid-trace data and
    # save its own rotation over mount=calibrate (it did, at full speed on a loaded CI box)
    one = B.run_board(tmp_path, CALIBRATE, flash=flash,
                      env={"REPBELT_SIM_TRACE": p, "T_PHASE": "set", "REPBELT_SIM_SPEED": 1})
    assert one.rc == 0, one
    assert one.result["calibrate_cmd"] == P.ERR_OK and one.result["state_after_cmd"] == "calibrating"
    assert one.result["set_mount"] == P.ERR_OK
    two = B.run_board(tmp_path, CALIBRATE, flash=flash, env={"REPBELT_SIM_TRACE": p, "T_PHASE": "run"})
    assert two.rc == 0, two
    r = two.result
    sid = r["events"][-1][1]
    board = [tuple(e[2:]) for e in r["events"] if e[1] == sid and e[3] <= (n - 1) * 10]
    ref = [tuple(e) for e in direct if e[1] <= (n - 1) * 10]
    assert board == ref, "calibrating session == engine over the trace with mount=calibrate"
    cfg = json.loads(r["config"])
    assert cfg["mount"] == "fixed" and len(cfg["rotation"]) == 9
    assert r["status"]["mount_calibrated"]


SOAK = (SCRIPTS / "soak.py").read_text()
HEAP_CAP = "288K"      # -X heapsize that runs the board with .mpy firmware (280K is the smallest seen with the power policy, 264K fails)


def test_heap_capped_run_has_no_growth(tmp_path, trace):
    fw, su = B.compile_firmware(tmp_path)
    run = B.run_board(tmp_path, SOAK, heap=HEAP_CAP, env={"REPBELT_SIM_TRACE": trace[0], "T_RUN_MS": 160000},
                      args=["--firmware", str(fw), "--sim-upy", str(su)])
    assert run.rc == 0, run
    r = run.result
    assert r["gaps"] == 0 and r["want"] >= r["last_seq"] + 1, r
    heap = r["heap"]
    assert len(heap) >= 14
    # live heap after GC, sampled every 10 s of sensor time: flat once running
    assert max(heap[2:]) - heap[2] < 4096, heap
    print("heap live after GC (unix 64-bit, incl. %d B of runner + emulated modules): %s"
          % (run.stats["heap_sim_base"], heap))


SYNC = (SCRIPTS / "sync.py").read_text()


@pytest.mark.parametrize("mtu", [23, 247])
def test_offline_session_list_replay_delete(tmp_path, trace, mtu):
    flash = tmp_path / "flash"
    one = B.run_board(tmp_path, SYNC, flash=flash, env={"REPBELT_SIM_TRACE": trace[0], "T_PHASE": "record"})
    assert one.rc == 0, one
    (sid, first, last, n, wall), = one.result["sessions"]
    assert n == last - first + 1 and n > 40
    two = B.run_board(tmp_path, SYNC, flash=flash, env={"REPBELT_SIM_TRACE": trace[0], "T_PHASE": "sync",
                                                         "T_MTU": mtu})
    assert two.rc == 0, two
    r = two.result
    err, count, infos = r["list"]
    assert err == P.ERR_OK and count == len(infos) == 2
    assert infos[0] == [sid, first, last, n, wall]
    assert r["replay_resp"] == [P.ERR_OK, last + 1]
    assert r["replayed"] == r["expected"] and len(r["replayed"]) == n
    assert r["replay_missing"] == P.ERR_NOT_FOUND
    assert r["delete"] == P.ERR_OK and sid not in r["after"] and len(r["after"]) == 1
    assert r["max_notify"] <= mtu - 3 and r["truncated"] == 0


RAW = (SCRIPTS / "raw.py").read_text()


@pytest.mark.parametrize("mtu", [23, 247])
def test_raw_capture_carries_the_sensor_samples(tmp_path, trace, mtu):
    import rb_trace
    run = B.run_board(tmp_path, RAW, env={"REPBELT_SIM_TRACE": trace[0], "T_MTU": mtu})
    assert run.rc == 0, run
    r = run.result
    assert r["start"] == P.ERR_OK and r["stop"] == P.ERR_OK and r["raw_flag"] is True
    assert r["max_notify"] <= mtu - 3 and r["truncated"] == 0
    with open(trace[0]) as f:
        ref = {s[0]: list(s[1:7]) for s in (list(x) for x in rb_trace.TraceReader(f))}
    rows = r["rows"]
    assert len(rows) >= 40
    for row in rows:        # raw samples are exactly what the engine is fed (trace units)
        assert ref[row[0]] == row[1:], row
