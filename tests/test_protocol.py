"""BLE codec (firmware/rb_protocol.py): round trips, MTU limits, identical bytes on
CPython and MicroPython, and decoders that only ever raise ProtocolError."""
import json
import random
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from board_sim import FIRMWARE, MPY

import rb_events as E
import rb_protocol as P

I32 = st.integers(min_value=-(2 ** 31) + 1, max_value=2 ** 31 - 1)
U32 = st.integers(min_value=0, max_value=2 ** 32 - 1)

REALISTIC = [
    (E.EV_REP, 183250, E.K_BRIDGE, 3, 2, 2380, 312, 0),
    (E.EV_SET_START, 150100, E.K_BRIDGE, 2, 150100, 0, 0, 0),
    (E.EV_SET_END, 195000, E.K_LUNGE, 2, 12, 150100, 195000, 0),
    (E.EV_HOLD_START, 112230, E.K_PLANK, 108190, 0, 0, 0, 0),
    (E.EV_HOLD_TICK, 113270, E.K_PLANK, 5080, 222, 47, -14, 0),
    (E.EV_HOLD_END, 144830, E.K_PLANK, 108190, 36640, 219, 47, -42),
    (E.EV_WALK_START, 4000, 1000, 0, 0, 0, 0, 0),
    (E.EV_STEPS, 9000, 12, 104, 1000, 0, 0, 0),
    (E.EV_WALK_END, 60000, 1000, 59000, 98, 101, 0, 0),
    (E.EV_POSTURE, 1030, E.P_UPRIGHT, E.P_UNKNOWN, 0, 0, 0, 0),
    (E.EV_CALIBRATED, 8000, E.CAL_OK, 35, 0, 0, 0, 0),
    (E.EV_FAULT, 5000, E.F_FIFO_OVERFLOW, 85, 0, 0, 0, 0),
]


def _t_end_of_day(ev):
    # same event late in a 12-hour session: relative times keep it small
    d = 12 * 3600 * 1000
    out = list(ev)
    out[1] += d
    lay = P.LAYOUTS[ev[0]]
    for i, f in enumerate(lay):
        if f != P.F_VAL:
            out[2 + i] += d
    return tuple(out)


def test_realistic_records_fit_default_mtu_and_round_trip():
    for ev in REALISTIC + [_t_end_of_day(e) for e in REALISTIC]:
        rec = P.event_record(123456, ev)
        assert len(rec) <= P.payload_size(P.DEFAULT_MTU), (ev, len(rec))
        assert not rec[0] & P.GENERIC_FLAG, ev       # compact layout used
        assert P.decode_records(rec) == [(123456, ev)]


def test_documented_examples():
    assert P.event_record(41, (1, 183250, 1, 3, 2, 2380, 312, 0)).hex() == "0129000000d2970b0206049825f00400"
    assert P.encode_command(P.OP_REPLAY, 5, 1000).hex() == "0705e8030000"
    st_ = P.encode_status(P.ST_SESSION, P.SF_TIME_SET | P.SF_AUTHORIZED, 7, 1234, 87, 0, (0, 1, 0))
    assert st_.hex() == "01011107000000d2040000570000010" + "0"
    assert P.uuid_bytes(P.SERVICE_UUID) == bytes(reversed(bytes.fromhex(P.SERVICE_UUID.replace("-", ""))))


@given(st.lists(st.tuples(st.integers(1, 127), I32, I32, I32, I32, I32, I32, I32), max_size=30),
       st.sampled_from([23, 27, 64, 185, 247, 517]))
@settings(max_examples=300, deadline=None)
def test_any_tuples_round_trip_within_payload(evs, mtu):
    pay = P.payload_size(mtu)
    recs = [(i * 7 + 1, ev) for i, ev in enumerate(evs)]
    nots = P.pack_events(recs, pay)
    dec = P.EventDecoder()
    out = []
    for n in nots:
        assert 0 < len(n) <= pay
        out += dec.feed(n)
    assert out == recs


@given(st.binary(max_size=64))
@settings(max_examples=2000, deadline=None)
def test_event_decoder_only_protocol_errors(data):
    dec = P.EventDecoder()
    try:
        recs = dec.feed(data)
    except P.ProtocolError:
        return
    for seq, ev in recs:
        assert 0 <= seq < 2 ** 32 and len(ev) == 8


@given(st.lists(st.binary(min_size=0, max_size=30), max_size=8))
@settings(max_examples=500, deadline=None)
def test_fragment_stream_garbage_only_protocol_errors(chunks):
    dec = P.EventDecoder()
    for c in chunks:
        try:
            dec.feed(bytes([0]) + c if c and c[0] & 1 else c)
        except P.ProtocolError:
            pass


@given(st.binary(max_size=80))
@settings(max_examples=2000, deadline=None)
def test_other_decoders_only_protocol_errors(data):
    for fn in (P.decode_command, P.decode_status, P.decode_raw, P.decode_response,
               P.decode_session_info, P.decode_u32):
        try:
            fn(data)
        except P.ProtocolError:
            pass


@given(st.sampled_from(sorted(P.OP_NAMES)), st.integers(0, 255), st.binary(max_size=12))
@settings(max_examples=1000, deadline=None)
def test_truncated_and_padded_commands(op, token, tail):
    for a in ((), (3,), (1000,), (7, 9)):
        try:
            good = P.encode_command(op, token, *a)
        except P.ProtocolError:
            continue
        assert P.decode_command(good)[:2] == (op, token)
        for cut in range(len(good)):
            try:
                P.decode_command(good[:cut])
                assert op in (P.OP_SET_CONFIG,) or len(good[:cut]) >= 2
            except P.ProtocolError as e:
                assert e.code in (P.ERR_MALFORMED, P.ERR_UNKNOWN_OP)
        try:
            P.decode_command(good + tail)
            assert not tail
        except P.ProtocolError as e:
            assert tail and e.code == P.ERR_MALFORMED


@pytest.mark.parametrize("key,value", [("REP_HI_MILLI", 90), ("name", "belt-a"), ("use_gyro", False),
                                       ("rotation", [16384, 0, 0, 0, 16384, 0, 0, 0, 16384]),
                                       ("mount", None), ("x", -5)])
def test_set_config_round_trip(key, value):
    b = P.encode_command(P.OP_SET_CONFIG, 9, key, value)
    assert P.decode_command(b) == (P.OP_SET_CONFIG, 9, (key, value))
    for cut in range(len(b)):
        with pytest.raises(P.ProtocolError):
            P.decode_command(b[:cut])
    with pytest.raises(P.ProtocolError):
        P.decode_command(b + b"\x00")


def test_status_version_mismatch_message():
    b = bytearray(P.encode_status(0, 0, 1, 2, None, 0, (0, 1, 0)))
    b[0] = 2
    with pytest.raises(P.ProtocolError, match="update the host tool"):
        P.decode_status(bytes(b))


def _cases(n=400, seed=5):
    rnd = random.Random(seed)
    cases = []
    for _ in range(n):
        typ = rnd.choice([rnd.randint(1, 12)] * 3 + [rnd.randint(1, 127)])
        big = rnd.random() < 0.2
        lim = 2 ** 31 - 1 if big else 100000
        ev = [typ, rnd.randint(-5 if big else 0, lim)] + [rnd.randint(-lim if big else 0, lim) for _ in range(6)]
        if typ <= 12 and not big:
            for i in range(len(P.LAYOUTS[typ]), 6):
                ev[2 + i] = 0
        cases.append([rnd.randint(0, 2 ** 32 - 1), ev])
    return cases


MPY_SCRIPT = r"""
import sys, json, binascii
sys.path.insert(0, %r)
import rb_protocol as P
cases = json.loads(open(%r).read())
out = []
for seq, ev in cases:
    rec = P.event_record(seq, tuple(ev))
    back = P.decode_records(rec)
    assert back == [(seq, tuple(ev))], (seq, ev, back)
    out.append(binascii.hexlify(rec).decode())
st = P.encode_status(1, 0x13, 7, 123456, 87, 2, (0, 1, 0))
out.append(binascii.hexlify(st).decode())
out.append(binascii.hexlify(P.encode_command(P.OP_SET_CONFIG, 3, "rotation", [1, -2, 3])).decode())
out.append(binascii.hexlify(P.encode_session_info(4, (7, 41, 99, 59, 1764686400))).decode())
buf = bytearray(60)
n = P.encode_raw(buf, 12340, 10, [(998, -12, 31, 5, -3, 0), (40000, -40000, 0, 1, 2, 3)], True)
out.append(binascii.hexlify(buf[:n]).decode())
# the board-side decoder on garbage: ProtocolError and nothing else
seed = 12345
bad = 0
for i in range(3000):
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    n = seed %% 24
    b = bytearray(n)
    for j in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        b[j] = (seed >> 8) & 0xFF
    for fn in (P.decode_command, P.decode_records, P.decode_status, P.decode_raw):
        try:
            fn(bytes(b))
        except P.ProtocolError:
            bad += 1
print(json.dumps({"hex": out, "bad": bad}))
"""


def test_micropython_gives_identical_bytes(tmp_path):
    cases = _cases()
    cp = tmp_path / "cases.json"
    cp.write_text(json.dumps(cases))
    sp = tmp_path / "codec.py"
    sp.write_text(MPY_SCRIPT % (str(FIRMWARE), str(cp)))
    p = subprocess.run([MPY, str(sp)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout
    res = json.loads(p.stdout.strip().splitlines()[-1])
    mine = [P.event_record(seq, tuple(ev)).hex() for seq, ev in cases]
    mine.append(P.encode_status(1, 0x13, 7, 123456, 87, 2, (0, 1, 0)).hex())
    mine.append(P.encode_command(P.OP_SET_CONFIG, 3, "rotation", [1, -2, 3]).hex())
    mine.append(P.encode_session_info(4, (7, 41, 99, 59, 1764686400)).hex())
    buf = bytearray(60)
    n = P.encode_raw(buf, 12340, 10, [(998, -12, 31, 5, -3, 0), (40000, -40000, 0, 1, 2, 3)], True)
    mine.append(bytes(buf[:n]).hex())
    assert res["hex"] == mine
    assert res["bad"] > 3000        # most garbage is rejected, none of it crashed
    t, per, gyro, rows = P.decode_raw(bytes(buf[:n]))
    assert rows[1] == (32767, -32768, 0, 1, 2, 3)   # clamped to i16, not wrapped
