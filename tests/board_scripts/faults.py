# Virtual-board script: sensor faults (FIFO overflow, I2C error) reach the stream as
# FAULT events with no seq lost; status shows health and battery; optional button test.
import asyncio
import os

import machine
import rb_app
import rb_protocol as P
import simtest as T

MISSING = os.getenv("REPBELT_SIM_ADDR") == "none"
WAIT_MS = int(os.getenv("T_WAIT_MS") or "0")


async def main():
    if MISSING:
        while rb_app.APP is None:
            await asyncio.sleep_ms(10)
        app = rb_app.APP
    else:
        app = await T.wait_app()
    c = T.Central()
    await c.connect(mtu=247, bond=True)
    await c.command(P.OP_REPLAY, 1)
    if WAIT_MS:
        await asyncio.sleep_ms(WAIT_MS)
    else:
        while not machine.SIM.done:
            c.pump()
            await asyncio.sleep_ms(10)
    st = P.decode_status((await c.command(P.OP_GET_STATUS))[3])
    await c.wait_seq(app.log.last_seq, 5000)
    c.pump()
    T.result({"events": [[s, c.sessions[s]] + list(c.events[s]) for s in sorted(c.events)],
              "last_seq": app.log.last_seq, "status": st, "led": app.led.pattern,
              "sessions": app.log.sessions(), "overflows": app.mpu.overflows if app.mpu else -1,
              "i2c_errors": app.mpu.i2c_errors if app.mpu else -1})
    T.done(0)
