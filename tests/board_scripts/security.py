# Virtual-board script: the Control security gate, bonding window and malformed writes.
import asyncio

import rb_events as E
import rb_protocol as P
import simtest as T

A = b"\xaa\x00\x00\x00\x00\x01"   # first laptop (bonds while the window is open)
B = b"\xbb\x00\x00\x00\x00\x02"   # a stranger
C = b"\xcc\x00\x00\x00\x00\x03"   # a second laptop, paired after a button long-press


async def main():
    app = await T.wait_app()
    res = {}
    c = T.Central(B)
    # 1. plain link, no encryption: open commands work, secure ones are refused
    await c.connect(mtu=247)
    res["open_start_while_running"] = (await c.command(P.OP_START_SESSION))[2]
    res["open_hint"] = (await c.command(P.OP_HINT, E.K_BRIDGE))[2]
    res["open_list"] = (await c.command(P.OP_LIST_SESSIONS))[2]
    res["status_authorized_plain"] = P.decode_status((await c.command(P.OP_GET_STATUS))[3])["authorized"]
    refused = {}
    for op, args in ((P.OP_SET_TIME, (1764686400,)), (P.OP_REPLAY, (1,)), (P.OP_DELETE_SESSION, (1,)),
                     (P.OP_REPLAY_SESSION, (1, 0)), (P.OP_CALIBRATE, ()),
                     (P.OP_SET_CONFIG, ("REP_HI_MILLI", 90))):
        refused[P.OP_NAMES[op]] = (await c.command(op, *args))[2]
    res["refused_plain"] = refused
    # 2. encrypted but not bonded
    T.AIR.encrypt(c.conn, bonded=False)
    await T.AIR.settle(5)
    res["refused_unbonded"] = (await c.command(P.OP_SET_TIME, 1764686400))[2]
    await c.disconnect()
    res["time_set_after_refusals"] = app.time_offset_s is not None
    # 3. the first laptop bonds (no bond stored yet: window open) and is accepted
    a = T.Central(A)
    await a.connect(mtu=247, bond=True)
    res["bonded_set_time"] = (await a.command(P.OP_SET_TIME, 1764686400))[2]
    res["bonded_threshold"] = (await a.command(P.OP_SET_CONFIG, "REP_HI_MILLI", 90))[2]
    res["bonded_bad_value"] = (await a.command(P.OP_SET_CONFIG, "name", "x" * 40))[2]
    res["bonded_unknown_key"] = (await a.command(P.OP_SET_CONFIG, "no_such_key", 1))[2]
    res["bonded_replay"] = (await a.command(P.OP_REPLAY, 1))[2]
    res["status_flags"] = P.decode_status((await a.command(P.OP_GET_STATUS))[3])
    res["delete_current"] = (await a.command(P.OP_DELETE_SESSION, app.log.session_id))[2]
    res["delete_missing"] = (await a.command(P.OP_DELETE_SESSION, 999))[2]
    await asyncio.sleep_ms(300)            # bond save is deferred out of the IRQ
    await a.disconnect()
    # 4. a stranger tries to bond now that a bond exists: not stored, still refused
    c2 = T.Central(B)
    await c2.connect(mtu=247, bond=True)
    res["stranger_bonded_flag"] = app.p.bonded
    res["stranger_set_time"] = (await c2.command(P.OP_SET_TIME, 1))[2]
    await c2.disconnect()
    # 5. pairing window opened (button long-press): a second laptop may bond
    app.p.open_pairing(5000)
    d = T.Central(C)
    await d.connect(mtu=247, bond=True)
    res["window_set_time"] = (await d.command(P.OP_SET_TIME, 1764686400))[2]
    # 6. malformed and hostile writes never crash; each gets an error code
    bad = [b"", b"\x07", b"\x07\x01", b"\x07\x01\x00\x00\x00\x00\x00", b"\x77\x01", b"\x05\x01",
           b"\x05\x01\x04name\x09", b"\x05\x01\x02\xff\xfe\x00\x01\x00\x00\x00",
           b"\x05\x01\x04name\x01\x50ab", b"\x03\x01\x63", b"\x03\x01", bytes(range(128))]
    codes = []
    for b_ in bad:
        T.AIR.write(d.conn, d.h_control, b_)
        await T.AIR.settle(5)
        d.pump()
    await asyncio.sleep_ms(50)
    d.pump()
    codes = [r[2] for r in d.responses]
    d.responses = []
    seed = 99
    for i in range(300):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        n = seed % 30
        buf = bytearray(n)
        for j in range(n):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            buf[j] = (seed >> 8) & 0xFF
        if n and buf[0] in (P.OP_START_SESSION, P.OP_STOP_SESSION, P.OP_CALIBRATE, P.OP_DELETE_SESSION):
            buf[0] = 0x55     # keep the session running for the checks below
        T.AIR.write(d.conn, d.h_control, buf)
        if i % 4 == 0:
            await T.AIR.settle(1)
    await T.AIR.settle(50)
    d.pump()
    res["malformed_codes"] = codes
    res["fuzz_responses"] = len(d.responses)
    res["still_alive"] = (await d.command(P.OP_GET_STATUS))[2]
    res["irq_errors"] = T.AIR.irq_errors
    res["cmds_dropped"] = app.p.cmds_dropped
    # refused writes were logged as faults
    faults = [x for x in app.log.read_from(1, 1000) if x[2][0] == E.EV_FAULT and x[2][2] == E.F_CONTROL_REFUSED]
    res["refused_faults"] = [x[2][3] for x in faults]
    res["refused_count"] = app.p.refused
    with open("bonds.json") as f:
        res["bonds_file"] = f.read()
    with open("config.json") as f:
        res["config_file"] = f.read()
    T.result(res)
    T.done(0)
