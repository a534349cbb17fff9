# Virtual-board script with a light footprint for heap measurements: a central that
# keeps only a seq watermark, run until T_RUN_MS of sensor time, heap sampled each second.
import asyncio
import gc
import os

import rb_protocol as P
import simtest as T

RUN_MS = int(os.getenv("T_RUN_MS") or "120000")
MTU = int(os.getenv("T_MTU") or "247")


async def main():
    app = await T.wait_app()
    c = T.Central()
    await c.connect(mtu=MTU, bond=True)
    await c.command(P.OP_REPLAY, 1)
    dec = P.EventDecoder()
    # records that arrived while waiting for the replay response went to c.events
    want = c.last_contiguous() + 1
    pre_gaps = len(c.events) - (want - 1)
    gaps = 0
    gap_at = []
    if pre_gaps:
        gaps += 1
    heap = []
    t_next = 10000
    last = None
    t_wait = 0
    while True:
        for conn, h, data in T.AIR.notifications:
            if h == c.h_event:
                for seq, ev in dec.feed(data):
                    if ev[0] == P.REC_SESSION:
                        continue
                    if seq != want:
                        gaps += 1
                        gap_at.append((want, seq))
                    want = seq + 1
        T.AIR.notifications = []
        if last is None and app.t_last >= RUN_MS:
            last = app.log.last_seq     # stop measuring; drain what is in flight
        if last is not None and (want > last or t_wait > 3000):
            break
        if last is None and app.t_last >= t_next:
            t_next += 10000
            gc.collect()
            heap.append(gc.mem_alloc())
        await asyncio.sleep_ms(20)
        if last is not None:
            t_wait += 20
    T.result({"last_seq": last, "want": want, "gaps": gaps, "gap_at": gap_at[:5], "heap": heap,
              "samples": app.samples, "loops": app.loops})
    T.done(0)
