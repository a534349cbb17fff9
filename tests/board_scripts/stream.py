# Virtual-board script: stream a whole trace to a bonded central, with optional
# faults (ENOMEM bursts, disconnects), then stop the session and report every record.
import asyncio
import os

import machine
import rb_protocol as P
import simtest as T

MTU = int(os.getenv("T_MTU") or "247")
ENOMEM = float(os.getenv("T_ENOMEM") or "0")
BURST_EVERY = int(os.getenv("T_BURST_EVERY") or "0")
DISC_MS = int(os.getenv("T_DISCONNECT_EVERY_MS") or "0")
FROM = int(os.getenv("T_FROM") or "1")
DISC_EVENTS = int(os.getenv("T_DISCONNECT_EVERY_EVENTS") or "0")
BIG = os.getenv("T_BIG_EVENTS") == "1"   # records longer than MTU-3 at MTU 23: fragments
BIG_EV = (40, 7, 2 ** 31 - 1, -(2 ** 31) + 1, 100000, 5, 6, 7)
STOP_AT_SEQ = int(os.getenv("T_EXIT_AT_SEQ") or "0")


async def main():
    app = await T.wait_app()
    T.AIR.faults(enomem_rate=ENOMEM, seed=7, burst_every=BURST_EVERY, burst_len=BURST_EVERY // 3)
    c = T.Central()
    await c.connect(mtu=MTU, bond=True)
    first = FROM
    r = await c.command(P.OP_REPLAY, first)
    assert r[2] == P.ERR_OK, r
    if BIG:
        for _ in range(3):
            app._emit(BIG_EV)
    t = 0
    reconnects = 0
    next_disc = DISC_EVENTS
    while not machine.SIM.done or (DISC_EVENTS and reconnects < 8 and len(c.events) < app.log.last_seq):
        c.pump()
        if STOP_AT_SEQ and app.log.last_seq >= STOP_AT_SEQ and c.last_contiguous(first) >= STOP_AT_SEQ - 3:
            # a power cut in the middle of the session: no stop, no flush
            T.result({"received": sorted(c.events), "last_seq": app.log.last_seq,
                      "session": app.log.session_id})
            T.done(3)
        await asyncio.sleep_ms(10)
        t += 10
        if (DISC_MS and t % DISC_MS == 0) or (DISC_EVENTS and len(c.events) >= next_disc):
            next_disc = len(c.events) + DISC_EVENTS
            await c.disconnect()
            await asyncio.sleep_ms(20)
            await c.connect(mtu=MTU, bond=True)
            r = await c.command(P.OP_REPLAY, c.last_contiguous(first) + 1)
            assert r[2] == P.ERR_OK, r
            reconnects += 1
            if BIG:
                app._emit(BIG_EV)
    r = await c.command(P.OP_STOP_SESSION)
    assert r[2] == P.ERR_OK, r
    ok = await c.wait_seq(app.log.last_seq, first=first)
    c.pump()
    T.result({
        "ok": ok, "last_seq": app.log.last_seq, "dups": c.dups, "dup_seqs": c.dup_seqs, "reconnects": reconnects,
        "events": [[s, c.sessions[s]] + list(c.events[s]) for s in sorted(c.events)],
        "logged": [[x[0], x[1]] + list(x[2]) for x in app.log.read_from(1, 100000)],
        "irq_errors": T.AIR.irq_errors, "truncated": T.AIR.truncated, "max_notify": c.max_notify,
        "enomem": T.AIR.enomem_raised, "notify_errors": app.p.notify_errors,
        "frag_errors": c.frag_errors, "samples": app.samples, "t_last": app.t_last,
        "lost_samples": app.mpu.lost_samples, "overflows": app.mpu.overflows,
        "session": app.log.session_id, "sessions": app.log.sessions()})
    T.done(0)
