"""Crash-safe event log: RAM ring of recent records + append-only session files.

A workout done with no laptop nearby is kept on flash and synced later.
Every event gets a sequence number (u32) that keeps increasing across resets;
each record carries its own CRC32, so a power cut loses at most the record
being written: the torn tail is found and cut off on the next boot.

Files in `dir`: `sNNNNNN.rbl` (one per session, append-only) and `meta.bin`
(last session id and a seq floor, so numbering survives deleting every
session).  Layouts are in docs/architecture.md ("Board I/O APIs").

Size policy: when the files would exceed `max_bytes`, the oldest whole
session files are deleted first; the current session is never deleted.  If
the current session alone fills the budget, further records stay in the RAM
ring only and F_LOG_WRITE (ENOSPC) is reported.  A flash write failure is
counted and reported (F_LOG_WRITE, errno); the record stays in RAM and is
written, in order, by a later append()/flush().
"""

import os
import struct
from array import array

import rb_events

try:
    from binascii import crc32 as _crc32
except ImportError:        # a port built without binascii.crc32: same CRC in Python
    _crc32 = None  # type: ignore

MAGIC = 0xE5
EVENT_FMT = "<Bi6i"          # type u8, t_ms i32, a..f i32
BODY_BYTES = 29
RECORD_BYTES = 39     # magic, len, seq u32, body, crc32
HEADER_BYTES = 16     # b"RBL1", session u32, wall_s u32, crc32
FILE_MAGIC = b"RBL1"
META_MAGIC = b"RBLM"
MAX_BODY_BYTES = 64
ENOSPC = 28
EIO = 5
SCAN_CHUNK_BYTES = 640
MAX_PENDING_FAULTS = 4

_CRC_TABLE = None


def crc32(data, crc=0):
    """CRC-32 (zlib polynomial) of a bytes-like object."""
    if _crc32 is not None:
        return _crc32(data, crc)
    global _CRC_TABLE
    if _CRC_TABLE is None:
        t = array("I", bytes(1024))
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            t[i] = c
        _CRC_TABLE = t
    t = _CRC_TABLE
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def pack_event(buf, off, ev):
    """Event tuple -> 29-byte body at buf[off:]."""
    struct.pack_into(EVENT_FMT, buf, off, ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], ev[6], ev[7])


def unpack_event(buf, off):
    """29-byte body -> event tuple."""
    return struct.unpack_from(EVENT_FMT, buf, off)


def _put_u32(buf, off, v):
    buf[off] = v & 0xFF
    buf[off + 1] = (v >> 8) & 0xFF
    buf[off + 2] = (v >> 16) & 0xFF
    buf[off + 3] = (v >> 24) & 0xFF


def _get_u32(buf, off):
    return buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)


def encode_into(buf, off, seq, ev):
    """Record for (seq, ev) at buf[off:off+RECORD_BYTES]."""
    buf[off] = MAGIC
    buf[off + 1] = BODY_BYTES
    _put_u32(buf, off + 2, seq)
    pack_event(buf, off + 6, ev)
    mv = memoryview(buf)
    _put_u32(buf, off + 6 + BODY_BYTES, crc32(mv[off + 1:off + 6 + BODY_BYTES]) & 0xFFFFFFFF)


def encode_record(seq, ev):
    b = bytearray(RECORD_BYTES)
    encode_into(b, 0, seq, ev)
    return bytes(b)


def check_record(buf, off, end):
    """Length of a valid record at buf[off:end]; 0 if it may be valid but is cut short; -1 if invalid."""
    if end - off < 2:
        return 0 if end > off and buf[off] == MAGIC or end == off else -1
    if buf[off] != MAGIC:
        return -1
    ln = buf[off + 1]
    if ln == 0 or ln > MAX_BODY_BYTES:
        return -1
    total = 10 + ln
    if end - off < total:
        return 0
    mv = memoryview(buf)
    if crc32(mv[off + 1:off + 6 + ln]) & 0xFFFFFFFF != _get_u32(buf, off + 6 + ln):
        return -1
    return total


def decode_record(buf, off=0, end=None):
    """(seq, ev, next_off) of the valid record at buf[off:], or None."""
    if end is None:
        end = len(buf)
    n = check_record(buf, off, end)
    if n <= 0:
        return None
    if buf[off + 1] != BODY_BYTES:
        return None          # a future record type: skipped by readers of this version
    return _get_u32(buf, off + 2), unpack_event(buf, off + 6), off + n


def _header(sid, wall_s):
    h = bytearray(HEADER_BYTES)
    h[0:4] = FILE_MAGIC
    _put_u32(h, 4, sid)
    _put_u32(h, 8, wall_s & 0xFFFFFFFF)
    _put_u32(h, 12, crc32(memoryview(h)[0:12]) & 0xFFFFFFFF)
    return h


def _join(d, name):
    if not d or d == ".":
        return name
    return d + name if d.endswith("/") else d + "/" + name


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _size(p):
    try:
        return os.stat(p)[6]
    except OSError:
        return 0


class _Scan:
    """Walks the valid records of one session file (chunked reads, resync on damage)."""

    def __init__(self, log):
        self.buf = log._scan_buf

    def run(self, path, start, visit):
        """visit(file_off, seq, buf, i) for every valid record at or after start (buf[i] is
        its magic byte); visit returning True stops the walk.
        Returns (good_end, bad_runs, size): end offset of the last valid record."""
        buf = self.buf
        good_end = start
        bad = 0
        in_bad = False
        with open(path, "rb") as f:
            f.seek(start)
            base = start
            n = 0
            eof = False
            stop = False
            while not stop:
                if not eof:
                    got = f.readinto(memoryview(buf)[n:])
                    if not got:
                        eof = True
                    else:
                        n += got
                i = 0
                while i < n:
                    r = check_record(buf, i, n)
                    if r > 0:
                        in_bad = False
                        if visit(base + i, _get_u32(buf, i + 2), buf, i):
                            stop = True
                            break
                        i += r
                        good_end = base + i
                    elif r == 0 and not eof:
                        break          # need more bytes
                    else:
                        if not in_bad:
                            bad += 1
                            in_bad = True
                        i += 1
                if i:
                    buf[0:n - i] = buf[i:n]
                    base += i
                    n -= i
                if eof and n == 0:
                    break
                if eof and i == 0 and n:
                    # cut short at end of file: torn tail
                    break
            size = base + n
        if in_bad and good_end < size:
            bad -= 1           # the damage runs to the end: that is the torn tail, not a bad record
        return good_end, bad, size


class EventLog:
    def __init__(self, dir="log", max_bytes=256 * 1024, ram_records=64):
        self.dir = dir
        self.max_bytes = max_bytes
        self.ram_records = ram_records
        self.last_seq = 0
        self.session_id = 0
        self.write_errors = 0
        self.torn_bytes = 0
        self.bad_records = 0
        self.deleted_sessions = 0      # deleted by the size policy
        self.ram_only = 0              # records kept only in RAM because the budget was full
        self.lost_records = 0          # pending records pushed out of the RAM ring before a write succeeded
        self.full = False
        self.pending = 0
        self.total_bytes = 0
        self._faults = []
        self._failing = False
        self._f = None
        self._cur_path = ""
        self._meta_sid = 0
        self._meta_seq = 0
        self._ring = bytearray(ram_records * RECORD_BYTES)
        self._ring_sid = array("I", bytes(4 * ram_records))
        self._head = 0                 # slot of the oldest record
        self._count = 0
        self._scan_buf = bytearray(SCAN_CHUNK_BYTES)
        self._rec = bytearray(RECORD_BYTES)
        self._sess = []                # [sid, first_seq, last_seq, n_records, wall_s, bytes] oldest first
        self._boot()

    # ----------------------------------------------------------------- boot
    def _mkdir(self):
        if not self.dir or self.dir in (".", "/"):
            return
        p = ""
        for part in self.dir.split("/"):
            if not part:
                p = "/"
                continue
            p = p + part if p.endswith("/") or p == "" else p + "/" + part
            try:
                os.mkdir(p)
            except OSError:
                pass

    def _boot(self):
        self._mkdir()
        self._read_meta()
        names = []
        for name in os.listdir(self.dir or "."):
            if len(name) == 11 and name[0] == "s" and name.endswith(".rbl"):
                try:
                    names.append(int(name[1:7]))
                except ValueError:
                    pass
            elif name.endswith(".tmp"):
                try:
                    os.remove(_join(self.dir, name))     # an interrupted truncation or meta save
                except OSError:
                    pass
        names.sort()
        for sid in names:
            self._load_session(sid)
        last = self._meta_seq
        top_sid = self._meta_sid
        for s in self._sess:
            if s[2] > last:
                last = s[2]
            if s[0] > top_sid:
                top_sid = s[0]
        self.last_seq = last
        self._top_sid = top_sid
        self.total_bytes = 0
        for s in self._sess:
            self.total_bytes += s[5]

    def _read_meta(self):
        p = _join(self.dir, "meta.bin")
        try:
            with open(p, "rb") as f:
                m = f.read(16)
        except OSError:
            return
        if len(m) == 16 and m[0:4] == META_MAGIC and \
                crc32(memoryview(m)[0:12]) & 0xFFFFFFFF == _get_u32(m, 12):
            self._meta_sid = _get_u32(m, 4)
            self._meta_seq = _get_u32(m, 8)
        else:
            self.bad_records += 1

    def _write_meta(self):
        m = bytearray(16)
        m[0:4] = META_MAGIC
        _put_u32(m, 4, self._top_sid)
        _put_u32(m, 8, self.last_seq)
        _put_u32(m, 12, crc32(memoryview(m)[0:12]) & 0xFFFFFFFF)
        p = _join(self.dir, "meta.bin")
        try:
            with open(p + ".tmp", "wb") as f:
                f.write(m)
            os.rename(p + ".tmp", p)
        except OSError as e:
            self._write_failed(e)

    def _path(self, sid):
        return _join(self.dir, "s%06d.rbl" % sid)

    def _load_session(self, sid):
        p = self._path(sid)
        info = [sid, 0, 0, 0, 0, 0]
        wall = 0
        hdr_ok = False
        try:
            with open(p, "rb") as f:
                h = f.read(HEADER_BYTES)
            if len(h) == HEADER_BYTES and h[0:4] == FILE_MAGIC and \
                    crc32(memoryview(h)[0:12]) & 0xFFFFFFFF == _get_u32(h, 12):
                hdr_ok = True
                wall = _get_u32(h, 8)
        except OSError:
            return
        st = [0, 0, 0]     # first, last, n

        def visit(off, seq, buf, i):
            if seq <= st[1]:
                return        # a record written twice (flush failed after the write): keep the first
            if st[2] == 0:
                st[0] = seq
            st[1] = seq
            st[2] += 1

        good_end, bad, size = _Scan(self).run(p, HEADER_BYTES, visit)
        self.bad_records += bad
        if not hdr_ok and st[2] == 0:
            # a file cut short while it was created: nothing in it
            self.torn_bytes += _size(p)
            try:
                os.remove(p)
            except OSError:
                pass
            return
        if good_end < size:
            self.torn_bytes += size - good_end
            self._truncate(p, good_end)
            size = good_end
        info[1] = st[0]
        info[2] = st[1]
        info[3] = st[2]
        info[4] = wall
        info[5] = size
        self._sess.append(info)

    def _truncate(self, p, keep):
        """Cut a file to `keep` bytes (MicroPython files have no truncate): copy, then rename."""
        buf = self._scan_buf
        tmp = p + ".tmp"
        try:
            with open(p, "rb") as src, open(tmp, "wb") as dst:
                left = keep
                while left > 0:
                    k = len(buf) if left > len(buf) else left
                    got = src.readinto(memoryview(buf)[:k])
                    if not got:
                        break
                    dst.write(memoryview(buf)[:got])
                    left -= got
            os.rename(tmp, p)
        except OSError as e:
            self._write_failed(e)

    # ------------------------------------------------------------- faults
    def _write_failed(self, e):
        # one fault per episode of failures (the counter has them all)
        self.write_errors += 1
        code = e.args[0] if e.args else EIO
        if not self._failing and len(self._faults) < MAX_PENDING_FAULTS:
            self._faults.append((rb_events.F_LOG_WRITE, code))
        self._failing = True

    def pop_fault(self):
        """Oldest pending (F_LOG_WRITE, errno) or None."""
        if self._faults:
            return self._faults.pop(0)
        return None

    # ------------------------------------------------------------ session
    def start_session(self, wall_s=0):
        """Open a new session file; returns its id (previous highest + 1)."""
        self.end_session()
        self._top_sid += 1
        sid = self._top_sid
        self.session_id = sid
        self.full = False
        self._sess.append([sid, 0, 0, 0, wall_s, 0])
        self._write_meta()
        p = self._path(sid)
        self._cur_path = p
        try:
            self._make_room(HEADER_BYTES)
            with open(p, "wb") as f:
                f.write(_header(sid, wall_s))
            self._sess[-1][5] = HEADER_BYTES
            self.total_bytes += HEADER_BYTES
        except OSError as e:
            self._write_failed(e)
        return sid

    def end_session(self):
        """Write what is pending and close the current session file."""
        if self.session_id:
            self.flush()
        self._close_file()

    def _close_file(self):
        if self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass
            self._f = None

    def close(self):
        self.end_session()

    def _cur_info(self):
        for s in self._sess:
            if s[0] == self.session_id:
                return s
        return None

    # ------------------------------------------------------------- append
    def append(self, ev):
        """Log an event tuple; returns its seq.  Never raises on flash trouble."""
        if not self.session_id:
            self.start_session()
        if self.pending and self.pending == self._count == self.ram_records and not self.full:
            self.flush()            # last chance for the oldest unwritten record before it is pushed out
        self.last_seq = (self.last_seq + 1) & 0xFFFFFFFF
        seq = self.last_seq
        if self._count == self.ram_records:
            if self.pending == self._count:
                self.lost_records += 1      # the oldest unwritten record is pushed out
                self.pending -= 1
            self._head = (self._head + 1) % self.ram_records
            self._count -= 1
        slot = (self._head + self._count) % self.ram_records
        encode_into(self._ring, slot * RECORD_BYTES, seq, ev)
        self._ring_sid[slot] = self.session_id
        self._count += 1
        info = self._cur_info()
        if info is not None:
            if info[3] == 0:
                info[1] = seq
            info[2] = seq
            info[3] += 1
        if self.full:
            self.ram_only += 1
        else:
            self.pending += 1
            self.flush()
        return seq

    def flush(self):
        """Write pending RAM records to flash, oldest first; False if some remain."""
        while self.pending:
            slot = (self._head + self._count - self.pending) % self.ram_records
            if self._ring_sid[slot] != self.session_id:
                # a pending record of an earlier session (its file is closed): append there
                if not self._write_other(slot):
                    return False
                self.pending -= 1
                continue
            if not self._make_room(RECORD_BYTES):
                self.full = True
                self.ram_only += self.pending
                self.pending = 0
                if len(self._faults) < MAX_PENDING_FAULTS:
                    self._faults.append((rb_events.F_LOG_WRITE, ENOSPC))
                return False
            try:
                if self._f is None:
                    self._f = open(self._cur_path, "ab")
                off = slot * RECORD_BYTES
                self._f.write(memoryview(self._ring)[off:off + RECORD_BYTES])
                self._f.flush()
            except OSError as e:
                self._write_failed(e)
                self._close_file()
                return False
            self.pending -= 1
            self._failing = False
            info = self._cur_info()
            if info is not None:
                info[5] += RECORD_BYTES
            self.total_bytes += RECORD_BYTES
        return True

    def _write_other(self, slot):
        sid = self._ring_sid[slot]
        off = slot * RECORD_BYTES
        try:
            with open(self._path(sid), "ab") as f:
                f.write(memoryview(self._ring)[off:off + RECORD_BYTES])
        except OSError as e:
            self._write_failed(e)
            return False
        for s in self._sess:
            if s[0] == sid:
                s[5] += RECORD_BYTES
        self.total_bytes += RECORD_BYTES
        return True

    def _make_room(self, need):
        """Delete the oldest whole sessions until `need` more bytes fit; False if impossible."""
        while self.total_bytes + need > self.max_bytes:
            victim = None
            for s in self._sess:
                if s[0] != self.session_id:
                    victim = s
                    break
            if victim is None:
                return False
            self._delete(victim)
            self.deleted_sessions += 1
        return True

    # -------------------------------------------------------------- delete
    def _delete(self, info):
        # raise the seq floor first, so numbering survives deleting the newest data
        self._write_meta()
        try:
            os.remove(self._path(info[0]))
        except OSError as e:
            if _exists(self._path(info[0])):
                self._write_failed(e)
                return False
        self._sess.remove(info)
        self.total_bytes -= info[5]
        return True

    def delete_session(self, sid):
        """Delete a (synced) session; the current one is refused (False)."""
        if sid == self.session_id:
            return False
        for s in self._sess:
            if s[0] == sid:
                return self._delete(s)
        return False

    # ---------------------------------------------------------------- read
    def sessions(self):
        """[(session_id, first_seq, last_seq, n_records, wall_s), ...] oldest first."""
        return [(s[0], s[1], s[2], s[3], s[4]) for s in self._sess]

    def _ring_first(self):
        if not self._count:
            return None
        return _get_u32(self._ring, self._head * RECORD_BYTES + 2)

    def _from_ring(self, out, seq, max_n, sid, with_sid):
        first = self._ring_first()
        if first is None:
            return
        for k in range(self._count):
            if len(out) >= max_n:
                return
            slot = (self._head + k) % self.ram_records
            s = _get_u32(self._ring, slot * RECORD_BYTES + 2)
            if s < seq:
                continue
            if out:
                last = out[-1][0]
                if s <= last:
                    continue
            rsid = self._ring_sid[slot]
            if sid is not None and rsid != sid:
                continue
            ev = unpack_event(self._ring, slot * RECORD_BYTES + 6)
            out.append((s, rsid, ev) if with_sid else (s, ev))

    def _from_file(self, out, info, seq, max_n, with_sid):
        """Records of one session with seq >= seq, appended to out."""
        sid = info[0]
        p = self._path(sid)
        start = HEADER_BYTES
        if info[3] and seq > info[1]:
            # records of a session are consecutive and fixed-size: seek straight there,
            # the scan checks every record anyway
            guess = HEADER_BYTES + (seq - info[1]) * RECORD_BYTES
            if guess < info[5]:
                start = guess
        n0 = len(out)

        def visit(off, s, buf, i):
            if len(out) >= max_n:
                return True
            if s < seq:
                return False
            if len(out) > n0 and s <= out[-1][0]:
                return
            if buf[i + 1] != BODY_BYTES:
                return
            ev = unpack_event(buf, i + 6)
            out.append((s, sid, ev) if with_sid else (s, ev))

        try:
            _Scan(self).run(p, start, visit)
        except OSError:
            return
        if start != HEADER_BYTES and (len(out) == n0 or out[n0][0] != seq) and info[1] <= seq <= info[2]:
            # the guess missed (a gap in the numbering): scan from the start
            del out[n0:]
            try:
                _Scan(self).run(p, HEADER_BYTES, visit)
            except OSError:
                pass

    def read_from(self, seq, max_n=16):
        """[(seq, session_id, ev), ...] with seq >= `seq`, ascending, at most max_n."""
        out = []  # type: list
        first = self._ring_first()
        if first is None or seq < first:
            for info in self._sess:
                if len(out) >= max_n:
                    break
                if info[3] == 0 or info[2] < seq:
                    continue
                self._from_file(out, info, seq if not out else out[-1][0] + 1, max_n, True)
        if len(out) < max_n:
            self._from_ring(out, seq, max_n, None, True)
        return out

    def read_session(self, sid, from_seq=0, max_n=16):
        """[(seq, ev), ...] of session sid with seq >= from_seq, at most max_n."""
        out = []  # type: list
        info = None
        for s in self._sess:
            if s[0] == sid:
                info = s
        if info is None:
            return out
        first = self._ring_first()
        if first is None or from_seq < first:
            self._from_file(out, info, from_seq, max_n, False)
        if len(out) < max_n:
            self._from_ring(out, from_seq, max_n, sid, False)
        return out
