"""Helpers for MicroPython test scripts run by sim/board.py --script.

`Central` is a laptop on the in-process air (bluetooth.AIR): connect,
exchange MTU, bond, send Control commands, and collect what the board
notified, decoded with the same rb_protocol the host uses. Scripts print
one `RESULT <json>` line that pytest reads.
"""
import asyncio
import json
import sys

import bluetooth
import rb_protocol as P

AIR = bluetooth.AIR


async def wait_app(timeout_ms=20000):
    import rb_app
    t = 0
    while rb_app.APP is None or not rb_app.APP.sensor_ok:
        await asyncio.sleep_ms(10)
        t += 10
        if t > timeout_ms:
            raise RuntimeError("app did not start")
    return rb_app.APP


class Central:
    def __init__(self, addr=b"\x11\x22\x33\x44\x55\x66"):
        self.addr = addr
        self.conn = None
        self.dec = P.EventDecoder()
        self.events = {}          # seq -> ev (first copy)
        self.dups = 0
        self.dup_seqs = []
        self.order_errors = 0
        self.sessions = {}        # seq -> session of the record
        self.session = None
        self.responses = []
        self.status = None
        self.raw = []
        self.frag_errors = 0
        self.max_notify = 0
        self._token = 0
        self.h_event = AIR.handle_for(P.EVENT_UUID)
        self.h_control = AIR.handle_for(P.CONTROL_UUID)
        self.h_status = AIR.handle_for(P.STATUS_UUID)
        self.h_raw = AIR.handle_for(P.RAW_UUID)

    async def connect(self, mtu=None, bond=False, bonded_flag=True):
        self.conn = AIR.connect(self.addr)
        self.dec.reset()
        self.session = None
        if mtu:
            AIR.mtu(self.conn, mtu)
        if bond:
            AIR.encrypt(self.conn, bonded=bonded_flag)
        await AIR.settle(5)

    async def disconnect(self):
        if self.conn is not None:
            AIR.disconnect(self.conn)
            await AIR.settle(1)
            self.pump()
            self.conn = None

    def pump(self):
        """Take the notifications the air received for us and decode them."""
        keep = []
        for n in AIR.notifications:
            conn, h, data = n
            if conn != self.conn:
                continue
            if len(data) > self.max_notify:
                self.max_notify = len(data)
            if h == self.h_event:
                try:
                    recs = self.dec.feed(data)
                except P.ProtocolError:
                    self.frag_errors += 1
                    continue
                for seq, ev in recs:
                    if ev[0] == P.REC_SESSION:
                        self.session = ev[2]
                        continue
                    if seq in self.events:
                        self.dups += 1
                        self.dup_seqs.append(seq)
                    else:
                        self.events[seq] = ev
                        self.sessions[seq] = self.session
            elif h == self.h_control:
                self.responses.append(P.decode_response(data))
            elif h == self.h_status:
                self.status = P.decode_status(data)
            elif h == self.h_raw:
                self.raw.append(data)
            else:
                keep.append(n)
        AIR.notifications = keep

    def send(self, op, *args):
        self._token = (self._token + 1) & 0xFF
        AIR.write(self.conn, self.h_control, P.encode_command(op, self._token, *args))
        return self._token

    async def command(self, op, *args, timeout_ms=5000):
        tok = self.send(op, *args)
        return await self.response(op, tok, timeout_ms)

    async def response(self, op, tok, timeout_ms=5000):
        t = 0
        while True:
            self.pump()
            for r in self.responses:
                if r[0] == op and r[1] == tok:
                    self.responses.remove(r)
                    return r
            await asyncio.sleep_ms(5)
            t += 5
            if t > timeout_ms:
                raise RuntimeError("no response to op 0x%02x" % op)

    def last_contiguous(self, first=1):
        s = first
        while s in self.events:
            s += 1
        return s - 1

    async def wait_seq(self, last, timeout_ms=30000, first=1):
        t = 0
        while self.last_contiguous(first) < last:
            self.pump()
            await asyncio.sleep_ms(10)
            t += 10
            if t > timeout_ms:
                return False
        return True


def result(d):
    print("RESULT " + json.dumps(d))


def done(code=0):
    sys.exit(code)
