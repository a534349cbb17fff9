"""Power budget of the belt: average current in each state and days of use, from the firmware config.

    cfg = load_config("config.json")          # rb_config.DEFAULTS overlaid, validated (UserError)
    b = budget(cfg, minutes_per_day=30, capacity_mah=500)
    b["days"], b["target_met"], b["states"], b["warnings"]

Three states (rb_power): deep sleep between sessions, awake idle
(advertising, no session), session (BLE connected, streaming). Each state's
current is the sum of parts (ESP32, radio, MPU, LED, divider, regulator);
every part carries a source key into SOURCES: a datasheet table, a
published measurement, the firmware itself, or an estimate (keys "E..."),
said so.  The ESP32 here is the bare module on a board with a low-Iq LDO
and no USB-UART chip on the battery rail: a DevKit draws milliamps in deep
sleep (docs/power.md).

Daily model: minutes_per_day in sessions, then sleep_idle_s awake idle
after each session (the board advertises, then sleeps); false wakes (the
belt bumped in a bag) each cost session_idle_s in a session (it starts by
itself at boot) plus sleep_idle_s idle; every wake also boots for
BOOT_S; the rest of the day is deep sleep.
"""
import json
from pathlib import Path

from . import paths  # noqa: F401  (puts firmware/ on sys.path)
from .errors import UserError

import rb_config
import rb_led

TARGET_DAYS = 14
USABLE_FRACTION = 0.8          # E6: share of the rated capacity used between 4.15 V and the 3.3 V (0 %) cut
FALSE_WAKES_PER_DAY = 2        # E7
SESSIONS_PER_DAY = 1
BATTERY_NOMINAL_MV = 3700      # mean LiPo voltage over a discharge, for the divider leak
DIVIDER_TOTAL_OHM = 2000000    # 1 M + 1 M (docs/power.md)
BOOT_S = 2.0                   # E8: MicroPython boot + imports after each wake, at idle current
DAY_H = 24.0

# ESP32 modem-sleep (CPU on, radio off between events) by clock: (low, high) mA [D1]
ESP32_MODEM_SLEEP_MA = {80: (20.0, 31.0), 160: (27.0, 44.0), 240: (30.0, 68.0)}
ESP32_DEEP_SLEEP_UA = 10.0     # [D1] RTC timer + RTC memory
EXT0_RTC_PERIPH_UA = 1.0       # [P1] ext0 keeps the RTC peripherals (RTC IO) powered
BLE_TX_MA = 130.0              # [D2] BT/BLE Tx at 0 dBm
BLE_RX_MA = 97.5               # [D2] BT/BLE Rx 95..100 mA
ADV_EVENT_RADIO_MS = 4.0       # E2: 3 channels x (ADV_IND Tx + listen for a scan request) + radio wake-up
ADV_TX_SHARE = 0.5             # E2: of the radio time, transmitting
CONN_INTERVAL_MS = 30.0        # E3: BlueZ's default connection interval range is 30..50 ms: the short end
CONN_EVENT_RADIO_MS = 1.2      # E3: receive window + empty/notification PDU exchange + wake-up
MPU_ACCEL_GYRO_MA = 3.8        # [M1] gyroscope + accelerometer, DMP off
MPU_ACCEL_ONLY_MA = 0.5        # [M1] accelerometer only
MPU_LP_1HZ25_UA = 10.0         # [M1] accelerometer low-power mode at 1.25 Hz
LDO_IQ_UA = 1.6                # [R1] MCP1700 quiescent current, typical
LED_ON_MA = 2.0                # E1: blue LED on GPIO2 through its resistor from 3.3 V
CORE_US_PER_SAMPLE_240MHZ = 181.0   # [F2] detection core per sample at 240 MHz (bench_firmware estimate)
CPU_BASE_LOAD_IDLE = 0.02      # E4: asyncio loop, LED and status tasks
CPU_BASE_LOAD_SESSION = 0.03   # E4: FIFO bursts, log appends, BLE notifications

SOURCES = {
    "D1": "ESP32 Series Datasheet v3.5, Table 6 'Power Consumption by Power Modes' (the v4.x datasheet "
          "keeps these figures in its power-mode table): modem-sleep 80 MHz 20-31 mA, 160 MHz 27-44 mA, "
          "240 MHz 30-68 mA (dual core); deep-sleep RTC timer + RTC memory 10 uA",
    "D2": "ESP32 Series Datasheet v3.5, Table 15 RF power consumption: BT/BLE Tx at 0 dBm 130 mA, "
          "Rx 95-100 mA (3.3 V, 25 C)",
    "P1": "published measurement (ESP32 module at 3.3 V): deep sleep with timer wake 3 uA, with ext0 wake "
          "4 uA: the RTC peripherals ext0 needs add ~1 uA",
    "P2": "Espressif ESP-AT sleep examples: an ESP32 module at 80 MHz in modem-sleep averages ~21 mA "
          "(matches the low end of D1)",
    "M1": "MPU-6000/MPU-6050 Product Specification PS-MPU-6000A-00 rev 3.4, section 6.3: gyro + accel "
          "3.8 mA, accel only 500 uA, accel low-power mode 10 uA at 1.25 Hz (20 uA at 5 Hz)",
    "R1": "Microchip MCP1700 datasheet DS21826B, DC characteristics: quiescent current 1.6 uA typical, "
          "4 uA max (no load), 250 mA output; a DevKit's AMS1117 draws ~5 mA instead",
    "C1": "Ohm's law: the battery divider (1 M + 1 M) leaks V_bat / 2 MOhm at 3.7 V nominal",
    "F1": "firmware: rb_led pattern duty (advertising 100 ms of 1 s, recording 160 ms of 2 s) and "
          "the config's adv_fast_ms / adv_slow_ms / adv_fast_s",
    "F2": "bench_firmware: detection core 181 us per sample at 240 MHz (unix-port time x30, an estimate), "
          "scaled by clock and rate_hz",
    "E1": "estimate: LED current 2 mA (DevKit blue LED and series resistor from 3.3 V)",
    "E2": "estimate: 4 ms of radio time per advertising event (3 channels, Tx + listen, wake-up), "
          "half of it transmitting",
    "E3": "estimate: connection interval 30 ms (BlueZ default 30-50 ms), 1.2 ms of radio per event",
    "E4": "estimate: modem-sleep current taken as low + load x (high - low) of D1; base load "
          "2 % idle, 3 % in a session plus the core",
    "E6": "estimate: 80 % of the rated capacity is usable (0 % is 3.3 V; ageing, cold)",
    "E7": "estimate: 2 false wakes a day (belt moved while not worn), each a session_idle_s session "
          "plus sleep_idle_s idle",
    "E8": "estimate: 2 s of boot after each wake at the idle current",
}


def load_config(path=None):
    """rb_config.DEFAULTS overlaid by the JSON file at path (None: defaults). UserError on a bad file."""
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in rb_config.DEFAULTS.items()}
    if path is None:
        return cfg
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise UserError("cannot read %s (%s): give the board's config.json or leave --config out"
                        % (p, e.strerror or e)) from None
    try:
        d = json.loads(text)
    except ValueError as e:
        raise UserError("%s is not valid JSON (%s): fix the file or leave --config out" % (p, e)) from None
    if not isinstance(d, dict):
        raise UserError("%s is not a JSON object of config fields: fix the file or leave --config out" % p)
    for k in d:
        err = rb_config.check(k, d[k])
        if err is not None:
            raise UserError("%s: %s %s: fix the field (docs/architecture.md, rb_config)" % (p, k, err))
        cfg[k] = d[k]
    return cfg


def _duty(pattern):
    on = sum(a for a, _ in pattern)
    return on / float(sum(a + b for a, b in pattern))


def _cpu_ma(mhz, load):
    lo, hi = ESP32_MODEM_SLEEP_MA[mhz]
    return lo + min(1.0, load) * (hi - lo)


def _adv_ma(interval_ms):
    per_event_mas = ADV_EVENT_RADIO_MS * (ADV_TX_SHARE * BLE_TX_MA + (1 - ADV_TX_SHARE) * BLE_RX_MA)
    return per_event_mas / interval_ms


def _part(name, ma, source):
    return {"part": name, "ma": ma, "source": source}


def state_parts(cfg):
    """{"sleep"|"idle"|"session": [part dicts]} for this config."""
    mhz = cfg["cpu_mhz"]
    divider_ma = 0.0 if cfg["battery_pin"] is None else BATTERY_NOMINAL_MV / float(DIVIDER_TOTAL_OHM)
    ldo = _part("regulator quiescent (low-Iq LDO)", LDO_IQ_UA / 1000.0, "R1")
    sleep = [
        _part("ESP32 deep sleep, RTC timer + memory", ESP32_DEEP_SLEEP_UA / 1000.0, "D1"),
        _part("ESP32 ext0 wake: RTC peripherals on", EXT0_RTC_PERIPH_UA / 1000.0, "P1"),
        _part("MPU6050 accel low-power cycle 1.25 Hz", MPU_LP_1HZ25_UA / 1000.0, "M1"),
        _part("battery divider leak" + (" (no battery pin)" if cfg["battery_pin"] is None else ""),
              divider_ma, "C1"),
        ldo,
    ]
    # advertising: adv_fast_ms for the first adv_fast_s of the idle time, adv_slow_ms after
    idle_s = float(cfg["sleep_idle_s"])
    fast_s = min(float(cfg["adv_fast_s"]), idle_s)
    adv = (fast_s * _adv_ma(cfg["adv_fast_ms"]) + (idle_s - fast_s) * _adv_ma(cfg["adv_slow_ms"])) / idle_s
    idle = [
        _part("ESP32 modem-sleep at %d MHz" % mhz, _cpu_ma(mhz, CPU_BASE_LOAD_IDLE), "D1 P2 E4"),
        _part("BLE advertising %d ms for %d s, then %d ms" % (cfg["adv_fast_ms"], cfg["adv_fast_s"],
                                                              cfg["adv_slow_ms"]), adv, "D2 E2 F1"),
        _part("MPU6050 low-power motion mode", MPU_LP_1HZ25_UA / 1000.0, "M1"),
        _part("LED advertising blink (%d %%)" % round(100 * _duty(rb_led.PAT_ADVERTISING)),
              LED_ON_MA * _duty(rb_led.PAT_ADVERTISING), "E1 F1"),
        _part("battery divider leak", divider_ma, "C1"),
        ldo,
    ]
    core_load = CORE_US_PER_SAMPLE_240MHZ * 1e-6 * cfg["rate_hz"] * (240.0 / mhz)
    conn_ma = CONN_EVENT_RADIO_MS * (0.5 * BLE_TX_MA + 0.5 * BLE_RX_MA) / CONN_INTERVAL_MS
    session = [
        _part("ESP32 modem-sleep at %d MHz, core at %d Hz (%.0f %% load)"
              % (mhz, cfg["rate_hz"], 100 * (CPU_BASE_LOAD_SESSION + core_load)),
              _cpu_ma(mhz, CPU_BASE_LOAD_SESSION + core_load), "D1 E4 F2"),
        _part("BLE connection events every %.0f ms" % CONN_INTERVAL_MS, conn_ma, "D2 E3"),
        _part("MPU6050 " + ("accel + gyro" if cfg["use_gyro"] else "accel only"),
              MPU_ACCEL_GYRO_MA if cfg["use_gyro"] else MPU_ACCEL_ONLY_MA, "M1"),
        _part("LED recording blink (%d %%)" % round(100 * _duty(rb_led.PAT_RECORDING)),
              LED_ON_MA * _duty(rb_led.PAT_RECORDING), "E1 F1"),
        _part("battery divider leak", divider_ma, "C1"),
        ldo,
    ]
    return {"sleep": sleep, "idle": idle, "session": session}


STATE_LABELS = {"sleep": "deep sleep", "idle": "awake idle, advertising", "session": "session, BLE streaming"}


def budget(cfg, minutes_per_day=30.0, capacity_mah=500.0, false_wakes_per_day=FALSE_WAKES_PER_DAY,
           sessions_per_day=SESSIONS_PER_DAY, usable_fraction=USABLE_FRACTION):
    """The daily budget for a config dict (load_config). UserError if the day does not add up."""
    if not 0 < capacity_mah <= 100000:
        raise UserError("--capacity-mah must be above 0 (the cell's rated mAh, e.g. 500)")
    if not 0 <= minutes_per_day <= 24 * 60:
        raise UserError("--minutes-per-day must be 0..1440")
    if false_wakes_per_day < 0:
        raise UserError("--false-wakes must be 0 or more")
    parts = state_parts(cfg)
    cur = {k: sum(p["ma"] for p in v) for k, v in parts.items()}
    wakes = (sessions_per_day if minutes_per_day > 0 else 0) + false_wakes_per_day
    session_h = minutes_per_day / 60.0 + false_wakes_per_day * cfg["session_idle_s"] / 3600.0
    idle_h = wakes * (cfg["sleep_idle_s"] + BOOT_S) / 3600.0
    sleep_h = DAY_H - session_h - idle_h
    if sleep_h < 0:
        raise UserError("the belt would be awake %.1f h a day with these settings (sessions %.0f min, "
                        "sleep_idle_s %d, session_idle_s %d): lower them"
                        % (session_h + idle_h, minutes_per_day, cfg["sleep_idle_s"], cfg["session_idle_s"]))
    hours = {"sleep": sleep_h, "idle": idle_h, "session": session_h}
    states = []
    for k in ("sleep", "idle", "session"):
        srcs = []
        for p in parts[k]:
            for s in p["source"].split():
                if s not in srcs:
                    srcs.append(s)
        states.append({"state": k, "label": STATE_LABELS[k], "current_ma": cur[k], "hours_per_day": hours[k],
                       "mah_per_day": cur[k] * hours[k], "sources": srcs, "parts": parts[k]})
    per_day = sum(s["mah_per_day"] for s in states)
    usable = capacity_mah * usable_fraction
    days = usable / per_day
    out = {"config": {k: cfg[k] for k in ("cpu_mhz", "rate_hz", "use_gyro", "sleep_idle_s", "session_idle_s",
                                          "adv_fast_ms", "adv_slow_ms", "adv_fast_s", "battery_pin")},
           "minutes_per_day": minutes_per_day, "sessions_per_day": sessions_per_day,
           "false_wakes_per_day": false_wakes_per_day, "capacity_mah": capacity_mah,
           "usable_fraction": usable_fraction, "usable_mah": usable, "states": states,
           "mah_per_day": per_day, "days": days, "target_days": TARGET_DAYS,
           "target_met": days >= TARGET_DAYS, "warnings": [], "sources": dict(SOURCES)}
    if days < TARGET_DAYS:
        out["warnings"] = _advice(cfg, states, days, minutes_per_day)
    return out


def _advice(cfg, states, days, minutes_per_day):
    by = {s["state"]: s for s in states}
    total = sum(s["mah_per_day"] for s in states)
    w = ["%.1f days is below the %d-day target" % (days, TARGET_DAYS)]
    if by["idle"]["mah_per_day"] > 0.2 * total:
        w.append("awake idle costs %.0f %% of the day's charge (%.1f h): lower sleep_idle_s (now %d s)"
                 % (100 * by["idle"]["mah_per_day"] / total, by["idle"]["hours_per_day"], cfg["sleep_idle_s"]))
    if cfg["cpu_mhz"] > 80:
        w.append("cpu_mhz %d draws more than 80 MHz, which BLE and the core need: set cpu_mhz 80" % cfg["cpu_mhz"])
    if cfg["session_idle_s"] > 600:
        w.append("session_idle_s %d keeps every false wake in a session that long: lower it"
                 % cfg["session_idle_s"])
    if minutes_per_day > 30 and len(w) == 1:
        w.append("%.0f minutes a day of sessions is the main cost: a larger cell lasts longer" % minutes_per_day)
    return w
