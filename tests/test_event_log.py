"""rb_log on the MicroPython unix port: append/read, persistence across resets, torn tails,
checksum damage, the size policy and flash write failures (emulated flash faults)."""

import os
import struct
import sys
import zlib

from boardio_helpers import ROOT, run_upy

sys.path.insert(0, str(ROOT / "firmware"))
import rb_log  # noqa: E402  (CPython import of the same module: record layout checks)

F_LOG_WRITE = 4

PRE = r"""
import rb_log, json, os
def ev(i):
    return (1 + i % 12, i * 10, i, -i, 3, 4, 5, 1000000 + i)
def dump(x):
    print(json.dumps(x))
def listdir(d):
    return sorted(os.listdir(d))
"""


def ev(i):
    return [1 + i % 12, i * 10, i, -i, 3, 4, 5, 1000000 + i]


def test_record_layout_is_the_documented_one():
    rec = rb_log.encode_record(0x01020304, (1, 2, -3, 4, 5, 6, 7, 8))
    assert len(rec) == rb_log.RECORD_BYTES == 39
    assert rec[0] == 0xE5 and rec[1] == 29
    assert struct.unpack_from("<I", rec, 2)[0] == 0x01020304
    assert struct.unpack_from("<Bi6i", rec, 6) == (1, 2, -3, 4, 5, 6, 7, 8)
    assert struct.unpack_from("<I", rec, 35)[0] == zlib.crc32(rec[1:35])
    assert rb_log.decode_record(rec) == (0x01020304, (1, 2, -3, 4, 5, 6, 7, 8), 39)
    bad = bytearray(rec)
    bad[10] ^= 1
    assert rb_log.decode_record(bad) is None


def test_pure_python_crc_equals_binascii(tmp_path):
    out = run_upy(r"""
import rb_log, json, binascii
data = bytes(range(256)) * 3
a = rb_log.crc32(data)
rb_log._crc32 = None
b = rb_log.crc32(data)
c = rb_log.crc32(b"123456789")
print(json.dumps([a, b, c, binascii.crc32(data)]))
""", tmp_path)[0]
    data = bytes(range(256)) * 3
    assert out == [zlib.crc32(data)] * 2 + [0xCBF43926, zlib.crc32(data)]


def test_append_and_read_from_ram_and_flash(tmp_path):
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log", 64 * 1024, ram_records=8)
sid = L.start_session(1700000000)
seqs = [L.append(ev(i)) for i in range(30)]
dump({"sid": sid, "seqs": seqs, "last": L.last_seq, "sessions": L.sessions(),
      "ram": L.read_from(25, 10), "flash": L.read_from(3, 5), "cross": L.read_from(20, 8),
      "sess": L.read_session(sid, 28, 10), "none": L.read_from(31, 5),
      "files": listdir("log"), "pending": L.pending})
""", tmp_path)[0]
    assert out["sid"] == 1 and out["seqs"] == list(range(1, 31)) and out["last"] == 30
    assert out["sessions"] == [[1, 1, 30, 30, 1700000000]]
    assert out["ram"] == [[s, 1, ev(s - 1)] for s in range(25, 31)]
    assert out["flash"] == [[s, 1, ev(s - 1)] for s in range(3, 8)]
    assert out["cross"] == [[s, 1, ev(s - 1)] for s in range(20, 28)]   # flash then ring
    assert out["sess"] == [[s, ev(s - 1)] for s in range(28, 31)]
    assert out["none"] == [] and out["pending"] == 0
    assert out["files"] == ["meta.bin", "s000001.rbl"]
    assert os.path.getsize(tmp_path / "log" / "s000001.rbl") == 16 + 30 * 39


def test_seq_and_session_persist_across_reset(tmp_path):
    """A new EventLog on the same directory (what a reset does) continues the numbering,
    even after every session was synced and deleted."""
    run_upy(PRE + r"""
L = rb_log.EventLog("log")
L.start_session()
for i in range(5):
    L.append(ev(i))
""", tmp_path)                                    # no end_session: like a power cut
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log")
a = {"last": L.last_seq, "sessions": L.sessions(), "read": L.read_from(1, 10)}
sid = L.start_session()
a["sid"] = sid
a["seq"] = L.append(ev(5))
L.end_session()
L = rb_log.EventLog("log")
a["del1"] = L.delete_session(1)
a["del2"] = L.delete_session(2)
a["files"] = listdir("log")
L = rb_log.EventLog("log")
a["after_delete_last"] = L.last_seq
a["sid3"] = L.start_session()
a["seq3"] = L.append(ev(6))
dump(a)
""", tmp_path)[0]
    assert out["last"] == 5 and out["sessions"] == [[1, 1, 5, 5, 0]]
    assert out["read"] == [[s, 1, ev(s - 1)] for s in range(1, 6)]
    assert out["sid"] == 2 and out["seq"] == 6
    assert out["del1"] and out["del2"] and out["files"] == ["meta.bin"]
    assert out["after_delete_last"] == 6 and out["sid3"] == 3 and out["seq3"] == 7


def test_current_session_is_never_deleted(tmp_path):
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log")
sid = L.start_session()
L.append(ev(0))
dump({"del": L.delete_session(sid), "sessions": L.sessions(), "missing": L.delete_session(99)})
""", tmp_path)[0]
    assert out == {"del": False, "sessions": [[1, 1, 1, 1, 0]], "missing": False}


def test_torn_tail_is_truncated_on_boot(tmp_path):
    run_upy(PRE + r"""
L = rb_log.EventLog("log")
L.start_session()
for i in range(10):
    L.append(ev(i))
""", tmp_path)
    f = tmp_path / "log" / "s000001.rbl"
    good = f.read_bytes()
    # power cut in the middle of writing record 11: only its first 17 bytes reached flash
    f.write_bytes(good + rb_log.encode_record(11, tuple(ev(10)))[:17])
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log")
a = {"torn": L.torn_bytes, "bad": L.bad_records, "last": L.last_seq, "size": os.stat("log/s000001.rbl")[6],
     "read": L.read_from(8, 10)}
L.start_session()
a["seq"] = L.append(ev(99))
L.end_session()
L = rb_log.EventLog("log")
a["after"] = L.read_from(9, 10)
a["torn2"] = L.torn_bytes
dump(a)
""", tmp_path)[0]
    assert out["torn"] == 17 and out["bad"] == 0
    assert out["size"] == len(good)
    assert out["last"] == 10 and out["read"] == [[s, 1, ev(s - 1)] for s in (8, 9, 10)]
    assert out["seq"] == 11
    assert out["after"] == [[9, 1, ev(8)], [10, 1, ev(9)], [11, 2, ev(99)]]
    assert out["torn2"] == 0
    assert f.read_bytes() == good


def test_torn_header_file_is_removed(tmp_path):
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "s000004.rbl").write_bytes(b"RBL1\x04\x00")
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log")
a = {"torn": L.torn_bytes, "sessions": L.sessions(), "left": listdir("log")}
a["sid"] = L.start_session()
a["files"] = listdir("log")
dump(a)
""", tmp_path)[0]
    assert out["torn"] == 6 and out["sessions"] == [] and out["sid"] == 1 and out["left"] == []
    assert out["files"] == ["meta.bin", "s000001.rbl"]


def test_checksum_corruption_is_detected_and_skipped(tmp_path):
    run_upy(PRE + r"""
L = rb_log.EventLog("log")
L.start_session()
for i in range(10):
    L.append(ev(i))
""", tmp_path)
    f = tmp_path / "log" / "s000001.rbl"
    b = bytearray(f.read_bytes())
    b[16 + 4 * 39 + 12] ^= 0x40          # flip a bit in the body of record seq 5
    f.write_bytes(bytes(b))
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log", ram_records=4)
dump({"bad": L.bad_records, "torn": L.torn_bytes, "sessions": L.sessions(),
      "read": L.read_from(1, 20), "sess": L.read_session(1, 4, 3)})
""", tmp_path)[0]
    assert out["bad"] == 1 and out["torn"] == 0
    expect = [[s, 1, ev(s - 1)] for s in range(1, 11) if s != 5]
    assert out["read"] == expect
    assert out["sess"] == [[4, ev(3)], [6, ev(5)], [7, ev(6)]]
    assert out["sessions"] == [[1, 1, 10, 9, 0]]


def test_size_bound_deletes_oldest_sessions_first(tmp_path):
    out = run_upy(PRE + r"""
MAX = 4096
L = rb_log.EventLog("log", MAX, ram_records=16)
sizes = []
for s in range(6):
    L.start_session()
    for i in range(25):
        L.append(ev(s * 100 + i))
    tot = 0
    for n in os.listdir("log"):
        if n.endswith(".rbl"):
            tot += os.stat("log/" + n)[6]
    sizes.append(tot)
dump({"sessions": [x[0] for x in L.sessions()], "deleted": L.deleted_sessions, "sizes": sizes,
      "total": L.total_bytes, "faults": L.pop_fault(), "last": L.last_seq})
""", tmp_path)[0]
    assert max(out["sizes"]) <= 4096
    assert out["sessions"][-1] == 6 and out["sessions"] == sorted(out["sessions"])
    assert out["sessions"][0] > 1 and out["deleted"] == out["sessions"][0] - 1
    assert out["faults"] is None and out["last"] == 150
    assert out["total"] == out["sizes"][-1]


def test_current_session_alone_full_keeps_events_in_ram_and_reports(tmp_path):
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log", 16 + 39 * 10, ram_records=32)
L.start_session()
for i in range(20):
    L.append(ev(i))
f = []
while True:
    x = L.pop_fault()
    if x is None:
        break
    f.append(x)
dump({"faults": f, "full": L.full, "ram_only": L.ram_only, "size": os.stat("log/s000001.rbl")[6],
      "read": L.read_from(1, 30), "sessions": L.sessions()})
""", tmp_path)[0]
    assert out["faults"] == [[F_LOG_WRITE, 28]]      # ENOSPC, once
    assert out["full"] and out["ram_only"] == 10
    assert out["size"] == 16 + 39 * 10
    assert out["read"] == [[s, 1, ev(s - 1)] for s in range(1, 21)]
    assert out["sessions"] == [[1, 1, 20, 20, 0]]


def test_flash_write_failure_keeps_events_in_ram_and_writes_them_later(tmp_path):
    """Emulated flash (sim machine module) refuses writes for a while: appends go on,
    the fault is reported, events are readable from RAM and reach flash in order once
    writes work again; after a reset they are all there."""
    out = run_upy(PRE + r"""
import machine
L = rb_log.EventLog("log", ram_records=32)
L.start_session()
for i in range(5):
    L.append(ev(i))
machine.SIM.flash_fail = True
seqs = [L.append(ev(i)) for i in range(5, 12)]
a = {"seqs": seqs, "pending": L.pending, "errors": L.write_errors, "fault": L.pop_fault(),
     "ram": L.read_from(4, 20), "size_during": os.stat("log/s000001.rbl")[6]}
machine.SIM.flash_fail = False
L.append(ev(12))
a["pending_after"] = L.pending
L2 = rb_log.EventLog("log")
a["after_reset"] = L2.read_from(1, 20)
a["sim_errors"] = machine.SIM.flash_write_errors
dump(a)
""", tmp_path)[0]
    assert out["seqs"] == list(range(6, 13))
    assert out["pending"] == 7 and out["errors"] == 7
    assert out["fault"] == [F_LOG_WRITE, 5]               # EIO
    assert out["ram"] == [[s, 1, ev(s - 1)] for s in range(4, 13)]
    assert out["size_during"] == 16 + 5 * 39
    assert out["pending_after"] == 0
    assert out["after_reset"] == [[s, 1, ev(s - 1)] for s in range(1, 14)]
    assert out["sim_errors"] == 7


def test_write_failure_at_emulated_time_then_reset_loses_only_ram(tmp_path):
    """REPBELT_SIM_FLASH_FAIL_AT_MS: writes fail in a window; a reset during it loses the
    RAM-only records and nothing else; the log file stays readable."""
    out = run_upy(PRE + r"""
import machine
S = machine.SIM
L = rb_log.EventLog("log")
L.start_session()
for i in range(30):
    S.advance_ms(100)
    L.append(ev(i))
dump({"pending": L.pending, "errors": L.write_errors})
""", tmp_path, env={"REPBELT_SIM_CLOCK": "manual", "REPBELT_SIM_FLASH_FAIL_AT_MS": "2000:5000"})
    assert out[0]["pending"] == 11 and out[0]["errors"] == 11     # 2.0 s .. 3.0 s
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log")
dump({"last": L.last_seq, "n": L.sessions()[0][3], "torn": L.torn_bytes, "bad": L.bad_records,
      "read": [r[0] for r in L.read_from(1, 40)]})
""", tmp_path)[0]
    assert out == {"last": 19, "n": 19, "torn": 0, "bad": 0, "read": list(range(1, 20))}


def test_append_without_session_starts_one(tmp_path):
    out = run_upy(PRE + r"""
L = rb_log.EventLog("log")
s = L.append(ev(0))
dump({"seq": s, "sid": L.session_id, "sessions": L.sessions()})
""", tmp_path)[0]
    assert out == {"seq": 1, "sid": 1, "sessions": [[1, 1, 1, 1, 0]]}


def test_append_allocation_is_small_and_bounded(tmp_path):
    out = run_upy(PRE + r"""
import gc
L = rb_log.EventLog("log", ram_records=16)
L.start_session()
L.append(ev(0))
def run():
    e = (1, 2, 3, 4, 5, 6, 7, 8)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for i in range(100):
        L.append(e)
    a1 = gc.mem_alloc()
    gc.enable()
    return (a1 - a0) // 100
dump({"per_append": run()})
""", tmp_path)[0]
    # events are rare (a few per second at most); what an append allocates is small
    print("bytes per append:", out["per_append"])
    assert out["per_append"] <= 256


def test_records_pushed_out_of_ram_during_a_long_failure_leave_a_counted_gap(tmp_path):
    """The RAM ring is the last resort: when flash fails for longer than the ring holds,
    the oldest unwritten records are lost, counted, and readers skip the gap cleanly
    (from flash, with the seek hint missing)."""
    out = run_upy(PRE + r"""
import machine
L = rb_log.EventLog("log", ram_records=4)
L.start_session()
for i in range(10):
    L.append(ev(i))
machine.SIM.flash_fail = True
for i in range(10, 16):
    L.append(ev(i))
machine.SIM.flash_fail = False
for i in range(16, 30):
    L.append(ev(i))
L.end_session()
L2 = rb_log.EventLog("log", ram_records=4)
dump({"lost": L.lost_records, "read": [r[0] for r in L2.read_from(9, 8)],
      "deep": [r[0] for r in L2.read_from(20, 3)], "in_gap": [r[0] for r in L2.read_from(11, 2)],
      "sessions": L2.sessions()})
""", tmp_path)[0]
    assert out["lost"] == 2                      # seq 11, 12 never reached flash
    assert out["read"] == [9, 10, 13, 14, 15, 16, 17, 18]
    assert out["deep"] == [20, 21, 22] and out["in_gap"] == [13, 14]
    assert out["sessions"] == [[1, 1, 30, 28, 0]]
