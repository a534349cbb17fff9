# Virtual-board script: offline session sync. PHASE=record: a session recorded with no
# central; PHASE=sync: list sessions, replay the old one, delete it.
import asyncio
import os

import machine
import rb_protocol as P
import simtest as T

PHASE = os.getenv("T_PHASE")
MTU = int(os.getenv("T_MTU") or "23")


async def main():
    app = await T.wait_app()
    if PHASE == "record":
        while not machine.SIM.done:
            await asyncio.sleep_ms(10)
        app.stop_session()
        T.result({"sessions": app.log.sessions(), "last_seq": app.log.last_seq})
        T.done(0)
    c = T.Central()
    await c.connect(mtu=MTU, bond=True)
    res = {}
    tok = c.send(P.OP_LIST_SESSIONS)
    r = await c.response(P.OP_LIST_SESSIONS, tok)
    infos = []
    for x in c.responses:
        if x[0] == P.OP_SESSION_INFO and x[1] == tok:
            infos.append(list(P.decode_session_info(x[3])))
    c.responses = [x for x in c.responses if x[0] != P.OP_SESSION_INFO]
    res["list"] = [r[2], r[3][0] | (r[3][1] << 8), infos]
    old = infos[0][0]
    c.events = {}
    r = await c.command(P.OP_REPLAY_SESSION, old, 0, timeout_ms=20000)
    c.pump()
    res["replay_resp"] = [r[2], P.decode_u32(r[3]) if r[3] else None]
    res["replayed"] = [[s, c.sessions[s]] + list(c.events[s]) for s in sorted(c.events) if c.sessions[s] == old]
    res["expected"] = [[x[0], old] + list(x[1]) for x in app.log.read_session(old, 0, 100000)]
    res["replay_missing"] = (await c.command(P.OP_REPLAY_SESSION, 999, 0))[2]
    res["delete"] = (await c.command(P.OP_DELETE_SESSION, old))[2]
    res["after"] = [s[0] for s in app.log.sessions()]
    res["max_notify"] = c.max_notify
    res["truncated"] = T.AIR.truncated
    T.result(res)
    T.done(0)
