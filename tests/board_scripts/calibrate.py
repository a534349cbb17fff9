# Virtual-board script: PHASE=set -> bonded set_config mount=calibrate, check the calibrate
# command; PHASE=run -> after the reset the session calibrates from the routine at the start.
import asyncio
import os

import machine
import rb_protocol as P
import simtest as T

PHASE = os.getenv("T_PHASE")


async def main():
    app = await T.wait_app()
    c = T.Central()
    await c.connect(mtu=247, bond=True)
    res = {}
    if PHASE == "set":
        res["calibrate_cmd"] = (await c.command(P.OP_CALIBRATE))[2]
        res["state_after_cmd"] = P.decode_status((await c.command(P.OP_GET_STATUS))[3])["state_name"]
        res["set_mount"] = (await c.command(P.OP_SET_CONFIG, "mount", "calibrate"))[2]
        T.result(res)
        T.done(0)
    await c.command(P.OP_REPLAY, 1)
    while not machine.SIM.done:
        c.pump()
        await asyncio.sleep_ms(10)
    await c.command(P.OP_STOP_SESSION)
    await c.wait_seq(app.log.last_seq, 10000)
    st = P.decode_status((await c.command(P.OP_GET_STATUS))[3])
    with open("config.json") as f:
        res["config"] = f.read()
    res["status"] = st
    res["events"] = [[s, c.sessions[s]] + list(c.events[s]) for s in sorted(c.events)]
    res["last_seq"] = app.log.last_seq
    T.result(res)
    T.done(0)
