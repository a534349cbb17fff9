# Virtual-board script: raw sample capture over the Raw characteristic.
import asyncio
import os

import rb_protocol as P
import simtest as T

MTU = int(os.getenv("T_MTU") or "247")


async def main():
    app = await T.wait_app()
    c = T.Central()
    await c.connect(mtu=MTU)
    r1 = await c.command(P.OP_RAW_START)
    st = P.decode_status((await c.command(P.OP_GET_STATUS))[3])
    while len(c.raw) < 40:
        c.pump()
        await asyncio.sleep_ms(5)
    r2 = await c.command(P.OP_RAW_STOP)
    rows = []
    for n in c.raw:
        t, per, gyro, samples = P.decode_raw(n)
        for i in range(len(samples)):
            rows.append([t + i * per] + list(samples[i]))
    T.result({"start": r1[2], "stop": r2[2], "raw_flag": st["raw_on"], "rows": rows,
              "max_notify": c.max_notify, "truncated": T.AIR.truncated})
    T.done(0)
