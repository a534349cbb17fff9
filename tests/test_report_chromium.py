"""`repbelt report` in headless Chromium: it renders, logs no console errors, and the plots are drawn."""
import html
import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib

import pytest

from repbelt import cli, plan as planmod, report
from repbelt.bench_store import fill
from repbelt.store import Store

from storefixtures import crafted_stream, noon

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = (1200, 2400)
PLOT_TITLES = ["Reps per set", "Rep tempo", "Range per rep", "Hold stability over time", "Weekly volume",
               "Steps per day"]
RECTS_JS = ("<script>document.body.setAttribute('data-rects', JSON.stringify("
            "Array.from(document.querySelectorAll('svg.plot')).map(function (e) {"
            "var r = e.getBoundingClientRect(); return [e.getAttribute('aria-label'), r.left, r.top, r.width, r.height];"
            "})));</script>")

def chromium(*args):
    assert shutil.which(CHROMIUM), "chromium is missing: install it with `make sysdeps` (Debian package chromium)"
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run([CHROMIUM, *FLAGS, "--user-data-dir=" + profile, *args],
                           capture_output=True, text=True, timeout=120)
    return p


def console_messages(page):
    p = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert p.returncode == 0, p.stderr[-2000:]
    return [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln], p.stdout


def read_png(path):
    """An 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) as an (h, w, 3) array."""
    import numpy as np
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    stride = w * bpp
    raw = zlib.decompress(idat)
    assert len(raw) == h * (stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = bytes(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            cur = line
        elif f == 1:   # Sub: a running sum per channel
            arr = np.frombuffer(line, dtype=np.uint8).reshape(w, bpp).astype(np.uint32)
            cur = (np.cumsum(arr, axis=0) & 255).astype(np.uint8).tobytes()
        elif f == 2:   # Up
            cur = ((np.frombuffer(line, np.uint8).astype(np.uint16) + np.frombuffer(prev, np.uint8)) & 255
                   ).astype(np.uint8).tobytes()
        else:          # Average / Paeth depend on the byte to the left: plain loop
            c = bytearray(line)
            for x in range(stride):
                a = c[x - bpp] if x >= bpp else 0
                b = prev[x]
                if f == 3:
                    pred = (a + b) >> 1
                else:
                    cc = prev[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - cc), abs(a - cc), abs(a + b - 2 * cc)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
                c[x] = (c[x] + pred) & 255
            cur = bytes(c)
        out[y] = np.frombuffer(cur, dtype=np.uint8)
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3].astype(np.int32)


def colored_share(img, rect):
    """Share of pixels in a rect that carry colour (the plot marks; grid, text and background are grey)."""
    _, x, y, w, h = rect
    region = img[int(y):int(y + h), int(x):int(x + w)]
    chroma = region.max(axis=2) - region.min(axis=2)
    return float((chroma > 40).mean())


def render(tmp_path, page_html, name):
    page = tmp_path / (name + ".html")
    page.write_text(page_html, encoding="utf-8")
    probe = tmp_path / (name + ".probe.html")
    probe.write_text(page_html.replace("</body>", RECTS_JS + "</body>"), encoding="utf-8")
    # one run gives both: the probe only adds a script that reads the plots' positions
    console, dom = console_messages(probe)
    m = re.search(r'data-rects="([^"]*)"', dom)
    assert m, dom[:500]
    rects = json.loads(html.unescape(m.group(1)))
    png = tmp_path / (name + ".png")
    p = chromium("--screenshot=" + str(png), "--window-size=%d,%d" % WINDOW, page.as_uri())
    assert p.returncode == 0 and png.exists(), p.stderr[-2000:]
    return console, rects, read_png(png)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    path = tmp_path_factory.mktemp("rep") / "year.db"
    with Store.open(path) as st:
        fill(st, 60, 50)
    return path


def test_report_renders_plots_without_console_errors(filled, tmp_path):
    out = tmp_path / "report.html"
    try:
        cli.main(["report", "-o", str(out), "--db", str(filled)])
    except SystemExit as exc:
        assert exc.code == 0
    page = out.read_text()
    # self-contained: no scripts, no stylesheets or images fetched, the only URL is the SVG namespace
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert set(re.findall(r"https?://[^\"' )]+", page)) == {"http://www.w3.org/2000/svg"}
    console, rects, img = render(tmp_path, page, "report")
    assert console == []
    assert [r[0].split(" (")[0] for r in rects] == [t for t in PLOT_TITLES]
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])
    for r in rects:
        assert r[2] + r[4] <= WINDOW[1], "plot %r below the screenshot" % r[0]
        share = colored_share(img, r)
        assert share > 0.01, "plot %r looks empty (%.4f coloured)" % (r[0], share)


def test_empty_report_is_detected_as_empty(tmp_path):
    """The pixel check can fail: plots with no data have no coloured marks."""
    with Store.open(tmp_path / "empty.db") as st:
        st.import_events(crafted_stream()[:1], source="demo", started=noon(2026, 3, 2))
        page = report.build_report(st, planmod.load_plan(planmod.BUILTIN_PLAN))
    console, rects, img = render(tmp_path, page, "empty")
    assert console == []
    assert len(rects) == 6
    assert max(colored_share(img, r) for r in rects) < 0.002


def test_console_errors_are_caught(tmp_path):
    """The console check can fail: a page that throws shows up."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); nope();</script></body></html>")
    console, _ = console_messages(page)
    assert any("boom" in ln for ln in console) and any("nope is not defined" in ln for ln in console)
