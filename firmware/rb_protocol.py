"""BLE protocol codec shared by the board and the host (PROTOCOL_VERSION 1).

One module, MicroPython and CPython alike (only `struct`), so both ends
pack and unpack the very same bytes. Layouts, byte order and hex examples
are in docs/protocol.md; this file is the executable form of that document.

Every decoder raises `ProtocolError` (a ValueError) on malformed or
truncated input and nothing else.
"""
import struct

PROTOCOL_VERSION = 1

# 128-bit UUIDs: one base, the 16-bit field after the first 4 hex digits varies
_BASE = "5242{}-0b1e-4c5a-9e7d-72657062656c"   # tail spells "repbel"
SERVICE_UUID = _BASE.replace("{}", "0001")
EVENT_UUID = _BASE.replace("{}", "0002")      # notify: event records
CONTROL_UUID = _BASE.replace("{}", "0003")    # write: commands; notify: responses
STATUS_UUID = _BASE.replace("{}", "0004")     # read + notify: status block
RAW_UUID = _BASE.replace("{}", "0005")        # notify: raw samples (capture)

DIS_UUID16 = 0x180A
DIS_MANUFACTURER_UUID16 = 0x2A29
DIS_MODEL_UUID16 = 0x2A24
DIS_SERIAL_UUID16 = 0x2A25
DIS_FIRMWARE_UUID16 = 0x2A26
BATTERY_UUID16 = 0x180F
BATTERY_LEVEL_UUID16 = 0x2A19

NAME_PREFIX = "repbelt-"
DEFAULT_MTU = 23
ATT_OVERHEAD = 3          # notification payload = MTU - 3
MAX_RECORD_BYTES = 1 + 4 + 5 + 6 * 5   # type + seq + t varint + 6 field varints


class ProtocolError(ValueError):
    """Malformed, truncated or unsupported bytes (the message says which)."""
    op = 0      # set when known, so the board can answer the right request
    token = 0
    code = 0


def payload_size(mtu):
    """Bytes one notification may carry at this ATT MTU."""
    if mtu < DEFAULT_MTU:
        mtu = DEFAULT_MTU
    return mtu - ATT_OVERHEAD


def uuid_bytes(uuid_str):
    """16 bytes of a 128-bit UUID string in BLE (little-endian) order."""
    h = uuid_str.replace("-", "")
    b = bytearray(16)
    for i in range(16):
        b[15 - i] = int(h[2 * i:2 * i + 2], 16)
    return bytes(b)


# ---------------------------------------------------------------- events
# Record: type u8 | seq u32 LE | t_ms uvarint | the type's fields.
# The type byte comes first so that 0 can mark a fragment notification.
# Fields are zigzag varints. Start/end times are sent relative (F_AGE:
# t_ms - value; F_BEFORE_DUR: (t_ms - dur) - value, dur being field c) so
# they stay one or two bytes whatever the session length.
# Type byte bit 7 (GENERIC_FLAG): t_ms zigzag and all six fields a..f as
# plain zigzag varints; used for any tuple the compact layout cannot carry
# (unknown type, a nonzero "unused" field, negative t_ms), so encoding is
# lossless for every tuple of ints.
F_VAL = 0
F_AGE = 1
F_BEFORE_DUR = 2
GENERIC_FLAG = 0x80
FRAGMENT_MARK = 0x00     # a notification starting with 0 is a fragment

# per event type (index = EV_*): field encodings for a, b, c, ...
LAYOUTS = (
    None,
    (F_VAL, F_VAL, F_VAL, F_VAL, F_VAL, F_VAL),     # 1 REP kind rep set dur range side
    (F_VAL, F_VAL, F_AGE),                          # 2 SET_START kind set start
    (F_VAL, F_VAL, F_VAL, F_AGE, F_AGE),            # 3 SET_END kind set reps start end
    (F_VAL, F_AGE),                                 # 4 HOLD_START kind start
    (F_VAL, F_VAL, F_VAL, F_VAL, F_VAL),            # 5 HOLD_TICK kind el sway stab drift
    (F_VAL, F_BEFORE_DUR, F_VAL, F_VAL, F_VAL, F_VAL),  # 6 HOLD_END kind start dur sway stab drift
    (F_AGE,),                                       # 7 WALK_START start
    (F_VAL, F_VAL, F_AGE),                          # 8 STEPS steps cadence start
    (F_AGE, F_AGE, F_VAL, F_VAL),                   # 9 WALK_END start end steps cadence
    (F_VAL, F_VAL),                                 # 10 POSTURE posture prev
    (F_VAL, F_VAL),                                 # 11 CALIBRATED status quality
    (F_VAL, F_VAL),                                 # 12 FAULT code detail
    (F_VAL, F_VAL, F_VAL),                          # 13 BATTERY pct mv level
    (F_VAL, F_VAL, F_VAL),                          # 14 POWER what reason slept_s
)
# Stream-level record (not an engine event): the records after it belong to
# session `a` (sent at the start of a stream and whenever the session changes;
# its seq is the seq of the record that follows it).
REC_SESSION = 0x7F
_SESSION_LAYOUT = (F_VAL, F_VAL)     # session id, wall_s at session start (0 unknown)


def _layout(typ):
    if 0 < typ < len(LAYOUTS):
        return LAYOUTS[typ]
    if typ == REC_SESSION:
        return _SESSION_LAYOUT
    return None


_VARINT_MAX_BYTES = 5
_VALUE_LIMIT = 1 << 32


def _put_uvarint(buf, off, v):
    while v >= 0x80:
        buf[off] = (v & 0x7F) | 0x80
        v >>= 7
        off += 1
    buf[off] = v
    return off + 1


def _put_svarint(buf, off, v):
    return _put_uvarint(buf, off, (v << 1) if v >= 0 else ((-v) << 1) - 1)


def _get_uvarint(buf, off, end):
    v = 0
    shift = 0
    while True:
        if off >= end:
            raise ProtocolError("truncated varint at byte %d" % off)
        b = buf[off]
        off += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, off
        shift += 7
        if shift >= 7 * _VARINT_MAX_BYTES:
            raise ProtocolError("varint longer than 5 bytes at byte %d" % off)


def _get_svarint(buf, off, end):
    u, off = _get_uvarint(buf, off, end)
    if u & 1:
        return -((u + 1) >> 1), off
    return u >> 1, off


def _compact_ok(ev):
    lay = _layout(ev[0])
    if lay is None or ev[1] < 0:
        return False
    n = len(lay)
    for i in range(2 + n, 8):
        if ev[i] != 0:
            return False
    return True


def encode_event(buf, off, seq, ev):
    """Write one record for (seq, ev) into bytearray `buf` at `off`.

    `buf` needs MAX_RECORD_BYTES free from `off`. Returns the new offset.
    Raises ProtocolError for a seq outside u32 or a field outside 32 bits.
    """
    if seq < 0 or seq >= _VALUE_LIMIT:
        raise ProtocolError("seq %d outside u32" % seq)
    for i in range(1, 8):
        v = ev[i]
        if v >= _VALUE_LIMIT or v <= -_VALUE_LIMIT:
            raise ProtocolError("event field %d outside 32 bits" % i)
    typ = ev[0]
    if typ < 0 or typ > 0x7F:
        raise ProtocolError("event type %d outside 0..127" % typ)
    t = ev[1]
    if not _compact_ok(ev):
        if typ == 0:
            raise ProtocolError("event type 0 is reserved")
        buf[off] = typ | GENERIC_FLAG
        struct.pack_into("<I", buf, off + 1, seq)
        off = _put_svarint(buf, off + 5, t)
        for i in range(2, 8):
            off = _put_svarint(buf, off, ev[i])
        return off
    buf[off] = typ
    struct.pack_into("<I", buf, off + 1, seq)
    off = _put_uvarint(buf, off + 5, t)
    lay = _layout(typ)
    for i in range(len(lay)):
        v = ev[2 + i]
        f = lay[i]
        if f == F_AGE:
            v = t - v
        elif f == F_BEFORE_DUR:
            v = (t - ev[4]) - v
        off = _put_svarint(buf, off, v)
    return off


def decode_event(buf, off, end):
    """Decode one record from buf[off:end]: ((seq, ev), next_off)."""
    if end - off < 6:
        raise ProtocolError("event record truncated at byte %d (%d bytes left)"
                            % (off, end - off))
    typ = buf[off]
    seq = buf[off + 1] | (buf[off + 2] << 8) | (buf[off + 3] << 16) | (buf[off + 4] << 24)
    off += 5
    if typ & GENERIC_FLAG:
        typ &= 0x7F
        if typ == 0:
            raise ProtocolError("event type 0 is reserved")
        t, off = _get_svarint(buf, off, end)
        vals = [typ, t, 0, 0, 0, 0, 0, 0]
        for i in range(2, 8):
            vals[i], off = _get_svarint(buf, off, end)
        return (seq, tuple(vals)), off
    lay = _layout(typ)
    if lay is None:
        raise ProtocolError("unknown event type %d (protocol version %d)"
                            % (typ, PROTOCOL_VERSION))
    t, off = _get_uvarint(buf, off, end)
    vals = [typ, t, 0, 0, 0, 0, 0, 0]
    for i in range(len(lay)):
        v, off = _get_svarint(buf, off, end)
        vals[2 + i] = v
    for i in range(len(lay)):
        f = lay[i]
        if f == F_AGE:
            vals[2 + i] = t - vals[2 + i]
        elif f == F_BEFORE_DUR:
            vals[2 + i] = (t - vals[4]) - vals[2 + i]
    return (seq, tuple(vals)), off


def event_record(seq, ev):
    """bytes of one record (convenience; the board uses encode_event)."""
    buf = bytearray(MAX_RECORD_BYTES)
    n = encode_event(buf, 0, seq, ev)
    return bytes(buf[:n])


def decode_records(data):
    """All records of one complete (non-fragment) notification: [(seq, ev)]."""
    out = []
    off = 0
    end = len(data)
    if end == 0:
        raise ProtocolError("empty event notification")
    if data[0] == FRAGMENT_MARK:
        raise ProtocolError("fragment given to decode_records; use EventDecoder")
    while off < end:
        rec, off = decode_event(data, off, end)
        out.append(rec)
    return out


def pack_events(records, payload):
    """Host/test helper: split [(seq, ev)] into notifications of <= payload bytes.

    The board's sender does the same incrementally (rb_ble); this is the
    reference for it.
    """
    out = []
    cur = bytearray()
    for seq, ev in records:
        rec = event_record(seq, ev)
        if len(rec) > payload:
            if cur:
                out.append(bytes(cur))
                cur = bytearray()
            out.extend(fragment(rec, payload))
            continue
        if len(cur) + len(rec) > payload:
            out.append(bytes(cur))
            cur = bytearray()
        cur.extend(rec)
    if cur:
        out.append(bytes(cur))
    return out


def fragment(rec, payload):
    """Split one record larger than `payload` into fragment notifications.

    Fragment: 0x00 | u8 (bit 7 = last, bits 0..6 = index) | bytes.
    """
    step = payload - 2
    if step < 1:
        raise ProtocolError("payload %d too small to fragment" % payload)
    out = []
    i = 0
    off = 0
    n = len(rec)
    while off < n:
        chunk = rec[off:off + step]
        off += step
        flags = i | (0x80 if off >= n else 0)
        out.append(bytes((FRAGMENT_MARK, flags)) + bytes(chunk))
        i += 1
    return out


class EventDecoder:
    """Host side of the Event characteristic: notification bytes -> records.

    Reassembles fragments; a broken fragment chain (lost piece, reconnect)
    drops the partial record and raises ProtocolError, and the host asks
    for a replay from its last seq.
    """

    def __init__(self):
        self._frag = None
        self._next_index = 0

    def reset(self):
        self._frag = None
        self._next_index = 0

    def feed(self, data):
        data = bytes(data)
        if not data:
            raise ProtocolError("empty event notification")
        if data[0] != FRAGMENT_MARK:
            if self._frag is not None:
                self.reset()
                raise ProtocolError("fragmented record interrupted by a new record")
            return decode_records(data)
        if len(data) < 3:
            self.reset()
            raise ProtocolError("fragment shorter than 3 bytes")
        flags = data[1]
        idx = flags & 0x7F
        if idx == 0:
            self._frag = bytearray()
            self._next_index = 0
        if self._frag is None or idx != self._next_index:
            self.reset()
            raise ProtocolError("fragment %d out of order" % idx)
        self._frag.extend(data[2:])
        self._next_index += 1
        if len(self._frag) > MAX_RECORD_BYTES:
            self.reset()
            raise ProtocolError("fragmented record longer than %d bytes" % MAX_RECORD_BYTES)
        if not flags & 0x80:
            return []
        rec = bytes(self._frag)
        self.reset()
        recs = decode_records(rec)
        if len(recs) != 1:
            raise ProtocolError("fragment chain held %d records, expected 1" % len(recs))
        return recs


# ---------------------------------------------------------------- control
# Write: opcode u8 | token u8 | args. Response (notify on Control):
# opcode u8 | token u8 | error u8 | result bytes.
OP_START_SESSION = 0x01   # args: none        result: session u32
OP_STOP_SESSION = 0x02    # args: none        result: session u32
OP_HINT = 0x03            # args: kind u8
OP_CALIBRATE = 0x04       # args: none        (EV_CALIBRATED event follows)
OP_SET_CONFIG = 0x05      # args: klen u8 key vtype u8 value
OP_SET_TIME = 0x06        # args: unix_s u32
OP_REPLAY = 0x07          # args: from_seq u32  (live log, all sessions)
OP_LIST_SESSIONS = 0x08   # args: none        result: count u16; then OP_SESSION_INFO notifications
OP_REPLAY_SESSION = 0x09  # args: session u32, from_seq u32
OP_DELETE_SESSION = 0x0A  # args: session u32
OP_RAW_START = 0x0B       # args: none
OP_RAW_STOP = 0x0C        # args: none
OP_GET_STATUS = 0x0D      # args: none        result: status block
OP_SESSION_INFO = 0x80    # board -> host only: one per session after LIST_SESSIONS

OP_NAMES = {OP_START_SESSION: "start_session", OP_STOP_SESSION: "stop_session",
            OP_HINT: "hint", OP_CALIBRATE: "calibrate", OP_SET_CONFIG: "set_config",
            OP_SET_TIME: "set_time", OP_REPLAY: "replay", OP_LIST_SESSIONS: "list_sessions",
            OP_REPLAY_SESSION: "replay_session", OP_DELETE_SESSION: "delete_session",
            OP_RAW_START: "raw_start", OP_RAW_STOP: "raw_stop", OP_GET_STATUS: "get_status",
            OP_SESSION_INFO: "session_info"}

# Commands that need an encrypted link with a bonded peer
SECURE_OPS = (OP_CALIBRATE, OP_SET_CONFIG, OP_SET_TIME, OP_REPLAY,
              OP_REPLAY_SESSION, OP_DELETE_SESSION)

ERR_OK = 0
ERR_MALFORMED = 1        # wrong length / bad encoding
ERR_UNKNOWN_OP = 2
ERR_NOT_AUTHORIZED = 3   # needs an encrypted link with a bonded peer
ERR_BAD_VALUE = 4        # well-formed but rejected (range, unknown key)
ERR_BAD_STATE = 5        # e.g. stop with no session, calibrate during a session
ERR_NOT_FOUND = 6        # no such session
ERR_STORAGE = 7          # flash write failed
ERR_BUSY = 8             # a replay is already running

ERR_NAMES = ("ok", "malformed", "unknown_op", "not_authorized", "bad_value",
             "bad_state", "not_found", "storage", "busy")

VT_INT = 0     # i32 LE
VT_STR = 1     # len u8 + UTF-8
VT_BOOL = 2    # u8 0/1
VT_INTS = 3    # n u8 + n * i32 LE (e.g. rotation)
VT_NONE = 4    # no bytes (reset to default)

# args layout per opcode for the fixed-size commands: struct format after token
_ARGS = {OP_START_SESSION: "", OP_STOP_SESSION: "", OP_HINT: "<B",
         OP_CALIBRATE: "", OP_SET_TIME: "<I", OP_REPLAY: "<I",
         OP_LIST_SESSIONS: "", OP_REPLAY_SESSION: "<II", OP_DELETE_SESSION: "<I",
         OP_RAW_START: "", OP_RAW_STOP: "", OP_GET_STATUS: ""}


def encode_command(op, token=0, *args):
    """bytes of one Control write. SET_CONFIG: args = (key, value)."""
    if op == OP_SET_CONFIG:
        if len(args) != 2:
            raise ProtocolError("set_config takes (key, value)")
        return bytes((op, token & 0xFF)) + _encode_kv(args[0], args[1])
    if op not in _ARGS:
        raise ProtocolError("unknown opcode 0x%02x" % op)
    fmt = _ARGS[op]
    try:
        body = struct.pack(fmt, *args) if fmt else b""
        if not fmt and args:
            raise ProtocolError("%s takes no arguments" % OP_NAMES[op])
    except (struct.error, OverflowError, TypeError, ValueError) as e:
        if isinstance(e, ProtocolError):
            raise
        raise ProtocolError("bad arguments for %s: %s" % (OP_NAMES[op], e))
    return bytes((op, token & 0xFF)) + body


def _encode_kv(key, value):
    if not isinstance(key, str):
        raise ProtocolError("config key must be a string")
    kb = key.encode()
    if not 1 <= len(kb) <= 32:
        raise ProtocolError("config key must be 1..32 bytes")
    out = bytearray((len(kb),))
    out.extend(kb)
    if value is None:
        out.append(VT_NONE)
    elif value is True or value is False:
        out.append(VT_BOOL)
        out.append(1 if value else 0)
    elif isinstance(value, int):
        out.append(VT_INT)
        out.extend(struct.pack("<i", value))
    elif isinstance(value, str):
        vb = value.encode()
        if len(vb) > 64:
            raise ProtocolError("config string longer than 64 bytes")
        out.append(VT_STR)
        out.append(len(vb))
        out.extend(vb)
    elif isinstance(value, (list, tuple)):
        if len(value) > 16:
            raise ProtocolError("config int list longer than 16")
        out.append(VT_INTS)
        out.append(len(value))
        for v in value:
            out.extend(struct.pack("<i", v))
    else:
        raise ProtocolError("config value must be int, bool, str, int list or None")
    return bytes(out)


def decode_command(data):
    """Board side: Control write bytes -> (op, token, args tuple).

    SET_CONFIG args = (key, value). Raises ProtocolError (with .op and
    .token set when known, so the board can answer the right request).
    """
    n = len(data)
    if n < 2:
        e = ProtocolError("control write shorter than 2 bytes")
        e.op = data[0] if n else 0
        e.token = 0
        e.code = ERR_MALFORMED
        raise e
    op = data[0]
    token = data[1]
    try:
        if op == OP_SET_CONFIG:
            return op, token, _decode_kv(data, 2)
        if op not in _ARGS:
            raise _perr("unknown opcode 0x%02x" % op, ERR_UNKNOWN_OP)
        fmt = _ARGS[op]
        size = struct.calcsize(fmt) if fmt else 0
        if n - 2 != size:
            raise _perr("%s needs %d argument bytes, got %d" % (OP_NAMES[op], size, n - 2),
                        ERR_MALFORMED)
        args = struct.unpack_from(fmt, data, 2) if fmt else ()
        return op, token, tuple(args)
    except ProtocolError as e:
        e.op = op
        e.token = token
        if not hasattr(e, "code"):
            e.code = ERR_MALFORMED
        raise e


def _perr(msg, code):
    e = ProtocolError(msg)
    e.code = code
    return e


def _decode_kv(data, off):
    n = len(data)
    if off >= n:
        raise _perr("set_config: missing key", ERR_MALFORMED)
    klen = data[off]
    off += 1
    if klen < 1 or off + klen + 1 > n:
        raise _perr("set_config: key truncated", ERR_MALFORMED)
    try:
        key = bytes(data[off:off + klen]).decode()
    except Exception:
        raise _perr("set_config: key is not UTF-8", ERR_MALFORMED)
    off += klen
    vt = data[off]
    off += 1
    if vt == VT_NONE:
        value = None
    elif vt == VT_BOOL:
        if off + 1 > n:
            raise _perr("set_config: bool truncated", ERR_MALFORMED)
        value = data[off] != 0
        off += 1
    elif vt == VT_INT:
        if off + 4 > n:
            raise _perr("set_config: int truncated", ERR_MALFORMED)
        value = struct.unpack_from("<i", data, off)[0]
        off += 4
    elif vt == VT_STR:
        if off >= n or off + 1 + data[off] > n:
            raise _perr("set_config: string truncated", ERR_MALFORMED)
        ln = data[off]
        try:
            value = bytes(data[off + 1:off + 1 + ln]).decode()
        except Exception:
            raise _perr("set_config: value is not UTF-8", ERR_MALFORMED)
        off += 1 + ln
    elif vt == VT_INTS:
        if off >= n or off + 1 + 4 * data[off] > n:
            raise _perr("set_config: int list truncated", ERR_MALFORMED)
        cnt = data[off]
        value = list(struct.unpack_from("<%di" % cnt, data, off + 1)) if cnt else []
        off += 1 + 4 * cnt
    else:
        raise _perr("set_config: unknown value type %d" % vt, ERR_MALFORMED)
    if off != n:
        raise _perr("set_config: %d trailing bytes" % (n - off), ERR_MALFORMED)
    return (key, value)


def encode_response(op, token, err, result=b""):
    """bytes of one Control response notification."""
    return bytes((op & 0xFF, token & 0xFF, err & 0xFF)) + bytes(result)


def decode_response(data):
    """Host side: (op, token, err, result bytes)."""
    if len(data) < 3:
        raise ProtocolError("control response shorter than 3 bytes")
    return data[0], data[1], data[2], bytes(data[3:])


def encode_u32(v):
    return struct.pack("<I", v)


def decode_u32(data):
    if len(data) != 4:
        raise ProtocolError("expected 4 bytes, got %d" % len(data))
    return struct.unpack("<I", data)[0]


def encode_session_info(token, info):
    """OP_SESSION_INFO response for one log.sessions() tuple (sid, first, last, n, wall_s).

    Five uvarints, so that it fits one default-MTU notification (16 bytes at
    most for any realistic values).
    """
    buf = bytearray(25)
    off = 0
    for i in range(5):
        off = _put_uvarint(buf, off, info[i] & 0xFFFFFFFF)
    return encode_response(OP_SESSION_INFO, token, ERR_OK, buf[:off])


def decode_session_info(result):
    """(session, first_seq, last_seq, n_records, wall_s)."""
    out = []
    off = 0
    n = len(result)
    for _ in range(5):
        v, off = _get_uvarint(result, off, n)
        out.append(v)
    if off != n:
        raise ProtocolError("session info: %d trailing bytes" % (n - off))
    return tuple(out)


# ---------------------------------------------------------------- status
# 16 bytes: fits one notification at the default MTU.
STATUS_FMT = "<BBBIIBBBBB"
STATUS_SIZE = struct.calcsize(STATUS_FMT)

ST_IDLE = 0
ST_SESSION = 1
ST_CALIBRATING = 2
ST_FAULT = 3
STATE_NAMES = ("idle", "session", "calibrating", "fault")

SF_TIME_SET = 0x01
SF_MOUNT_CALIBRATED = 0x02
SF_RAW_ON = 0x04
SF_LOG_FULL = 0x08
SF_AUTHORIZED = 0x10      # this link is encrypted + bonded
SF_CONFIG_INVALID = 0x20
SF_BATTERY_LOW = 0x40      # battery at or below battery_low_pct

BATTERY_UNKNOWN = 0xFF
HEALTH_OK = 0             # else the last sensor fault code (F_*)


def encode_status(state, flags, session_id, last_seq, battery_pct, health, fw):
    """Status block. fw = (major, minor, patch)."""
    return struct.pack(STATUS_FMT, PROTOCOL_VERSION, state, flags,
                       session_id & 0xFFFFFFFF, last_seq & 0xFFFFFFFF,
                       BATTERY_UNKNOWN if battery_pct is None else battery_pct,
                       health, fw[0], fw[1], fw[2])


def decode_status(data):
    """dict of the status block (host side)."""
    if len(data) < STATUS_SIZE:
        raise ProtocolError("status block needs %d bytes, got %d" % (STATUS_SIZE, len(data)))
    v = struct.unpack_from(STATUS_FMT, data, 0)
    if v[0] != PROTOCOL_VERSION:
        raise ProtocolError("board speaks protocol version %d, this side %d: update the %s"
                            % (v[0], PROTOCOL_VERSION,
                               "host tool" if v[0] > PROTOCOL_VERSION else "board firmware"))
    flags = v[2]
    return {"protocol": v[0], "state": v[1],
            "state_name": STATE_NAMES[v[1]] if v[1] < len(STATE_NAMES) else "?",
            "flags": flags, "time_set": bool(flags & SF_TIME_SET),
            "mount_calibrated": bool(flags & SF_MOUNT_CALIBRATED),
            "raw_on": bool(flags & SF_RAW_ON), "log_full": bool(flags & SF_LOG_FULL),
            "authorized": bool(flags & SF_AUTHORIZED),
            "config_invalid": bool(flags & SF_CONFIG_INVALID),
            "battery_low": bool(flags & SF_BATTERY_LOW),
            "session_id": v[3], "last_seq": v[4],
            "battery_pct": None if v[5] == BATTERY_UNKNOWN else v[5],
            "sensor_health": v[6], "firmware": "%d.%d.%d" % (v[7], v[8], v[9])}


# ---------------------------------------------------------------- raw
# t_ms u32 of the first sample | period_ms u8 | n u8 | flags u8 (bit0 gyro)
# then n samples of 3 (or 6 with gyro) i16: mg, then ddps.
RAW_HDR_FMT = "<IBBB"
RAW_HDR_SIZE = 7
RAW_GYRO = 0x01


def raw_capacity(payload, has_gyro):
    return (payload - RAW_HDR_SIZE) // (12 if has_gyro else 6)


def _i16(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def encode_raw(buf, t_ms, period_ms, samples, has_gyro):
    """Pack samples (list of 6-int rows) into bytearray buf; returns length."""
    n = len(samples)
    struct.pack_into(RAW_HDR_FMT, buf, 0, t_ms & 0xFFFFFFFF, period_ms, n,
                     RAW_GYRO if has_gyro else 0)
    off = RAW_HDR_SIZE
    w = 6 if has_gyro else 3
    for s in samples:
        for j in range(w):
            struct.pack_into("<h", buf, off, _i16(s[j]))
            off += 2
    return off


def decode_raw(data):
    """(t_ms, period_ms, has_gyro, [(ax, ay, az, gx, gy, gz), ...])."""
    if len(data) < RAW_HDR_SIZE:
        raise ProtocolError("raw notification shorter than %d bytes" % RAW_HDR_SIZE)
    t, period, n, flags = struct.unpack_from(RAW_HDR_FMT, data, 0)
    gyro = bool(flags & RAW_GYRO)
    w = 6 if gyro else 3
    if len(data) != RAW_HDR_SIZE + 2 * w * n:
        raise ProtocolError("raw notification of %d bytes does not hold %d samples"
                            % (len(data), n))
    out = []
    off = RAW_HDR_SIZE
    for _ in range(n):
        v = struct.unpack_from("<%dh" % w, data, off)
        off += 2 * w
        out.append(tuple(v) if gyro else (v[0], v[1], v[2], 0, 0, 0))
    return t, period, gyro, out
