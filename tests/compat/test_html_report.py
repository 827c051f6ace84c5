"""`lowbit eval --report` in a real browser: Debian's Chromium, headless, opens the report written for
SmolLM2-135M-Instruct BF16 against a W4A16 RTN checkpoint (--text on a few WikiText-2 chunks and
ARC-Easy --limit 20). The page must load with no console message (the page runs no script, and its
Content-Security-Policy turns any attempt to fetch something into one: a control page proves the log
would show it), the rendered DOM must hold the plots, and a screenshot must show them (decoded here
with zlib: the pixels are not all alike, and the bar colours are there).

Python's own XML parser (independent of the C++ writer) reads the file and the plots' numbers are
checked against the --json written by the same run.
"""
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import pytest

from conftest import ROOT

SHARED = ROOT.parent / "shared" / "data"
WIKITEXT = SHARED / "wikitext-2-raw-test.txt"
BENCHMARKS = SHARED / "benchmarks"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary: scripts/install-deps.sh installs Debian's chromium package")

SVG = "{http://www.w3.org/2000/svg}"
BASE_RGB = (0x87, 0x96, 0xA8)   # kBaseColor in src/eval/html_report.cc
MODEL_RGB = (0xE0, 0x7B, 0x39)  # kModelColor


@pytest.fixture(scope="module")
def report(smollm2, lowbit, tmp_path_factory):
    if not WIKITEXT.exists() or not (BENCHMARKS / "arc").exists():
        pytest.skip("shared evaluation data absent")
    tmp = tmp_path_factory.mktemp("html-report")
    q = tmp / "w4a16"
    lowbit("quantize", smollm2, "-o", q, "--scheme", "W4A16", "--group-size", "64", "--ignore", "lm_head")
    lowbit("eval", q, "--base", smollm2, "--text", WIKITEXT, "--chunks", "4", "--task", "arc-easy", "--limit", "20",
           "--data", BENCHMARKS, "--threads", "2", "--json", tmp / "report.json", "--report", tmp / "report.html")
    return tmp, json.loads((tmp / "report.json").read_text()), json.loads((q / "quantization_report.json").read_text())


def chromium(tmp, *args):
    """Headless Chromium as root needs --no-sandbox; its own profile folder keeps $HOME clean."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr",
           "--v=0", f"--user-data-dir={tmp / 'chromium-profile'}", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def page_messages(log, page):
    """The log lines about the page: console messages (errors, CSP violations, failed loads) and
    anything naming its file; Chromium's own start-up noise (D-Bus, GPU) is not about the page."""
    return [line for line in log.splitlines() if "CONSOLE" in line or page.name in line]


def test_the_file_is_well_formed_and_plots_the_json_numbers(report):
    tmp, rep, qr = report
    root = ET.parse(tmp / "report.html").getroot()  # raises on malformed XML
    svgs = {s.get("id"): s for s in root.iter(SVG + "svg")}
    assert set(svgs) == {"benchmark-bars", "kld-histogram", "kld-chunks", "weight-error-plot"}
    # Bars: a base and a quantized bar per ARC protocol, heights from the JSON accuracies.
    metrics = rep["benchmarks"]["arc-easy"]["metrics"]
    bars = [r for r in svgs["benchmark-bars"].iter(SVG + "rect") if (r.get("class") or "").startswith("bar ")]
    assert len(bars) == 2 * len(metrics) == 4
    for r in bars:
        m = metrics[r.get("data-protocol")]
        want = m["acc"] if r.get("class") == "bar model" else m["base"]["acc"]
        assert float(r.get("data-value")) == want
    # Histogram: every bin, holding every scored token.
    bins = [r for r in svgs["kld-histogram"].iter(SVG + "rect") if r.get("class") == "hist-bin"]
    assert [int(b.get("data-count")) for b in bins] == rep["kld_histogram"]["counts"]
    assert sum(rep["kld_histogram"]["counts"]) == rep["tokens_scored"]
    # KLD along the text: one point per chunk, and their token-weighted mean is the mean KLD
    # (chunks score the same number of tokens).
    line = next(svgs["kld-chunks"].iter(SVG + "polyline"))
    assert len(line.get("points").split()) == rep["chunks"] == len(rep["kld_per_chunk"]) == 4
    assert sum(rep["kld_per_chunk"]) / 4 == pytest.approx(rep["mean_kld"], rel=1e-9)
    # Weight error: one series per projection kind over SmolLM2's 30 layers, from the report.
    series = {p.get("data-kind"): p for p in svgs["weight-error-plot"].iter(SVG + "polyline")}
    assert sorted(series) == sorted(["q", "k", "v", "o", "gate", "up", "down"])
    assert all(len(p.get("points").split()) == 30 for p in series.values())
    assert sum(1 for m in qr["modules"] if ".layers." in m["module"]) == 7 * 30
    # The verdict table's numbers are the JSON's.
    rows = {tr.get("data-metric"): tr for tr in root.iter("tr") if tr.get("data-metric")}
    vals = [float(td.get("data-value")) for td in rows["ppl"].iter("td") if td.get("data-value")]
    assert vals == [rep["base_ppl"], rep["ppl"], rep["against_base"]["dppl"]["value"]]
    verdict = [td for td in rows["kld"].iter("td") if "verdict" in (td.get("class") or "")][0]
    assert verdict.text == rep["against_base"]["kld"]["verdict"] == "worse"


def test_chromium_loads_the_page_without_errors_and_renders_the_plots(report):
    tmp, rep, _ = report
    page = tmp / "report.html"
    proc = chromium(tmp, "--dump-dom", page.as_uri())
    assert page_messages(proc.stderr, page) == []
    dom = proc.stdout
    assert dom.count("<svg") == 4
    assert dom.count('class="bar base"') == dom.count('class="bar model"') == 2
    assert dom.count('class="hist-bin"') == len(rep["kld_histogram"]["counts"])
    assert "<script" not in dom
    # The control: one image from elsewhere in the same page is refused, and the log says so.
    bad = tmp / "control.html"
    bad.write_text(page.read_text().replace("<body>", '<body><img src="https://example.invalid/x.png" alt=""/>', 1))
    proc = chromium(tmp, "--dump-dom", bad.as_uri())
    messages = page_messages(proc.stderr, bad)
    assert any("Content Security Policy" in m for m in messages), proc.stderr[-3000:]


def decode_png(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG, undoing the five row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, color = ihdr[:4]
    assert depth == 8 and color in (2, 6), ihdr
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else:
            assert f == 0, f"unknown PNG filter {f}"
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def test_screenshot_shows_the_page(report):
    tmp, _, _ = report
    shot = tmp / "report.png"
    chromium(tmp, f"--screenshot={shot}", "--window-size=1280,2400", (tmp / "report.html").as_uri())
    data = shot.read_bytes()
    assert len(data) > 50_000, len(data)  # a blank 1280x2400 page compresses to a few KB
    width, height, bpp, rows = decode_png(data)
    assert (width, height) == (1280, 2400)
    colours = {}
    for row in rows[::4]:
        for x in range(0, width * bpp, 4 * bpp):
            px = tuple(row[x:x + 3])
            colours[px] = colours.get(px, 0) + 1
    assert len(colours) > 20  # text, tables and plots, not one flat colour
    # The bars of both models (and the histogram) are on screen in their colours.
    assert colours.get(MODEL_RGB, 0) > 100, sorted(colours.items(), key=lambda kv: -kv[1])[:10]
    assert colours.get(BASE_RGB, 0) > 20
