# Virtual-board script: the power policy end to end (run once per boot on the same flash).
# Boot 1 (power on): session autostarts, the belt lies still, the session ends by itself,
# the MPU idles in motion mode, advertising goes fast -> slow, the board deep-sleeps.
# Boot 2 (the wake): reset cause, wake reason, a new session, seq continuity.
# T_LINK=1: a central connects after the session ends and stays idle (it must be dropped).
import asyncio
import os

import machine
import rb_events as E
import rb_protocol as P
import rb_power
import simtest as T

LINK = os.getenv("T_LINK") == "1"
LIMIT_MS = int(os.getenv("T_LIMIT_MS") or 60000)


def _snapshot(app, extra):
    if STATES[-1:] != [app.power.state]:
        STATES.append(app.power.state)
    recs = app.log.read_from(1, 100000)
    d = {"boot_reset_cause": machine.reset_cause(), "wake_reason": machine.wake_reason(),
         "app_wake": app.wake, "world_ms": machine.SIM.now() // 1000,
         "session": app.session, "session_id": app.log.session_id, "last_seq": app.log.last_seq,
         "seqs": [r[0] for r in recs], "events": [[r[0], r[1]] + list(r[2]) for r in recs],
         "adv_us": [a["interval_us"] for a in T.AIR.adv_log],
         "mpu_cycling": bool(machine.SIM.mpu.cycling()), "lp": app.lp,
         "ext0": machine.SIM.ext0, "int_pin": machine.SIM.s.int_pin,
         "rtc": rb_power.unpack_rtc(machine.RTC().memory()), "battery": app.battery,
         "battery_level": app.bat.level, "sessions": app.log.sessions(),
         "states": list(STATES)}
    d.update(extra)
    return d


STATES = []


async def main():
    T.AIR.keep_log = True
    app = await T.wait_app()
    extra = {}
    machine.SIM.sleep_hook = lambda: (T.result(_snapshot(app, extra)), None)
    c = None
    t = 0
    while t < LIMIT_MS:
        if not STATES or STATES[-1] != app.power.state:
            STATES.append(app.power.state)
        if LINK and c is None and not app.session and STATES.count(rb_power.S_SESSION):
            c = T.Central()
            await c.connect(mtu=247)
            extra["linked_at_ms"] = machine.SIM.now() // 1000
        if c is not None:
            c.pump()
            if app.p.conn is None and "dropped_at_ms" not in extra:
                extra["dropped_at_ms"] = machine.SIM.now() // 1000
                # like `repbelt record`: reconnect at once and resume (status, replay)
                c = T.Central()
                await c.connect(mtu=247)
                extra["relinked"] = True
            if t % 1000 == 0 and app.p.conn is not None:
                await c.command(P.OP_GET_STATUS)
                await c.command(P.OP_REPLAY, app.log.last_seq + 1)
        await asyncio.sleep_ms(20)
        t += 20
    # no sleep within the limit (a session must never sleep): report what we have
    T.result(_snapshot(app, {"no_sleep": True}))
    T.done(0)
