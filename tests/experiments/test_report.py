"""The demo report: summary first, configuration collapsed, CBR as fractions, images that fit the page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from semcom.experiments.report import conclusion, summary_table_html, write_demo_report

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SNRS = [1.0, 4.0, 7.0, 10.0, 13.0, 16.0, 19.0, 22.0]  # more than the demo's five: the grid must still fit
SCHEMES = ["jscc", "digital-jpeg", "bound-jpeg"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def entry(scheme, snr, psnr, success=1.0, uses=12288.0, channel="awgn", cbr=1 / 16):
    return {"scheme": scheme, "channel": channel, "cbr_target": cbr, "snr_db": snr, "images": 2, "psnr_db": psnr,
            "ssim": 0.8, "ms_ssim": 0.9, "success_rate": success, "channel_uses": uses, "seconds": 0.1}


def demo_summary() -> list[dict]:
    """jscc wins at 1 dB (where digital fails half the time), digital from 4 dB on; the bound 2 dB above."""
    out = []
    for snr in SNRS:
        out.append(entry("jscc", snr, 25 + 0.1 * snr))
        out.append(entry("digital-jpeg", snr, 15.0 if snr == 1 else 26 + 0.3 * snr, 0.5 if snr == 1 else 1.0,
                         2880.0 if snr == 1 else 12092.75))
    best = {snr: max(s["psnr_db"] for s in out if s["snr_db"] == snr) for snr in SNRS}
    return out + [entry("bound-jpeg", snr, best[snr] + 2.0, uses=11378.0) for snr in SNRS]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    g = torch.Generator().manual_seed(0)
    images = [(name, torch.rand(3, 64, 64, generator=g)) for name in ("astronaut", "chelsea")]
    summary = demo_summary()
    rows = [{"image": name, "scheme": s["scheme"], "channel": "awgn", "snr_db": s["snr_db"], "cbr_target": 1 / 16,
             "ok": s["success_rate"] == 1.0, "psnr_db": s["psnr_db"], "x_hat": x.flip(-1)}
            for s in summary for name, x in images]
    config = {"command": "semcom demo", "images": [n for n, _ in images], "size": 64, "snr_db": SNRS,
              "cbr": [1 / 16], "channel": "awgn", "schemes": SCHEMES, "seed": 0}
    # a scheme section as wide as the split-inference one: ten 96-pixel images with captions in a table row
    cells = "".join(f"<td><img src='images/astronaut.png' style='width:96px'><br><b>class {i}</b><br>"
                    "<small>uncompressed: automobile</small></td>" for i in range(10))
    write_demo_report(folder, config, summary, rows, images,
                      [("Split inference", f"<p>wide grid</p><table class='grid'><tr>{cells}</tr></table>")])
    return folder


@pytest.fixture(scope="module")
def page(report) -> str:
    return (report / "index.html").read_text(encoding="utf-8")


def test_summary_comes_first_then_collapsed_config_then_sections(page):
    summary = page.index("id='summary'")
    details = page.index("<details>")
    assert summary < page.index("<b>Sent:</b>") < page.index("psnr_vs_snr.png") < page.index("Conclusion:") < details
    assert details < page.index("<h2>Photos over the channel") < page.index("<h2>Split inference")
    body = page[page.index("<body>"):]
    assert body.index("<h1>") < summary
    assert page.count("<details>") == 1 and "<details open" not in page  # collapsed by default


def test_config_json_only_inside_the_collapsed_block(page):
    details = page[page.index("<details>"):page.index("</details>")]
    dumped = re.search(r"<pre>(.*)</pre>", details, re.DOTALL).group(1)
    config = json.loads(dumped.replace("&quot;", '"'))
    assert config["command"] == "semcom demo" and config["snr_db"] == SNRS
    outside = page.replace(details, "")
    assert "&quot;command&quot;" not in outside and '"command"' not in outside and "<pre>" not in outside


def test_what_was_sent_names_schemes_channel_snrs_and_cbr(page):
    sent = page[page.index("<b>Sent:</b>"):page.index("</p>", page.index("<b>Sent:</b>"))]
    for text in ("2 photos", "astronaut", "awgn", "SNR 1, 4, 7, 10, 13, 16, 19, 22 dB", "CBR 1/16",
                 f"{64 * 64 * 3 // 16} channel uses per image", "jscc, digital-jpeg, bound-jpeg"):
        assert text in sent, text


def test_table_shows_cbr_as_fraction_and_channel_uses_as_integers(page):
    table = summary_table_html(demo_summary())
    assert table.count("<td>1/16</td>") == len(demo_summary())
    visible = re.sub(r"src='[^']*'", "", page[:page.index("<details>")] + page[page.index("</details>"):])
    assert "0.0625" not in visible  # only in the collapsed JSON configuration and in file names
    assert "<td>12093</td>" in table and "<td>2880</td>" in table and "12092.75" not in table
    assert "<th>channel uses / image</th>" in table


def test_conclusion_is_computed_from_the_results(page):
    line = conclusion(demo_summary())
    assert line == ("Over awgn at CBR 1/16, the best mean PSNR comes from jscc at 1 dB and digital-jpeg at 4–22 dB "
                    "(up to 32.6 dB); digital-jpeg decodes only 50% of the images at 1 dB; the error-free bound lies "
                    "2.0 dB above the best real scheme.")
    assert line in page
    # other numbers, another conclusion: jscc best everywhere, no failures, no bound
    other = [entry("jscc", snr, 30.0 + snr) for snr in (0.0, 5.0)] + [entry("digital-jpeg", snr, 20.0 + snr)
                                                                      for snr in (0.0, 5.0)]
    assert conclusion(other) == "Over awgn at CBR 1/16, the best mean PSNR comes from jscc at every SNR (up to 35.0 dB)."
    # a winner on non-adjacent SNRs is listed run by run; one sentence per (channel, CBR)
    zigzag = [entry("a", s, 10.0 + (s % 2)) for s in (1.0, 2.0, 3.0)] + [entry("b", s, 10.5) for s in (1.0, 2.0, 3.0)]
    zigzag += [entry("a", 1.0, 5.0, channel="rayleigh", cbr=1 / 8)]
    assert conclusion(zigzag) == ("Over awgn at CBR 1/16, the best mean PSNR comes from a at 1, 3 dB and b at 2 dB "
                                  "(up to 11.0 dB). Over rayleigh at CBR 1/8, the best mean PSNR comes from a at every "
                                  "SNR (up to 5.0 dB).")


def test_images_scale_to_the_page_and_grids_wrap(page):
    style = page[page.index("<style>"):page.index("</style>")]
    assert "img{max-width:100%;height:auto}" in style
    assert re.search(r"\.tiles\{[^}]*display:flex;flex-wrap:wrap", style)
    assert re.search(r"table\{[^}]*max-width:100%;overflow-x:auto", style)
    assert "width:160px" not in style  # the old fixed-size grid (16 columns x 160 px)
    grid = page[page.index("<h3>Reconstructions</h3>"):page.index("<h2>Split inference")]
    assert "<table" not in grid and grid.count("class='recon'") == 2 and grid.count("class='scheme'") == 2 * 3


class _Checker(HTMLParser):
    """Balanced tags, and every resource a relative path."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.resources = [], [], []

    def handle_starttag(self, tag, attrs):
        self.resources += [v for k, v in attrs if k in ("src", "href") and v]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} at {self.getpos()}")
        else:
            self.stack.pop()


def test_page_is_well_formed_and_self_contained(report, page):
    assert page.startswith("<!doctype html>")
    checker = _Checker()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []
    assert "<script" not in page and "@import" not in page and "url(" not in page
    for resource in checker.resources:
        if resource.startswith("#"):
            assert f"id='{resource[1:]}'" in page, resource
            continue
        assert "://" not in resource and not resource.startswith("/"), resource
        assert (report / resource).is_file(), resource


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs headless Chromium at /usr/bin/chromium "
                    "(apt-get install -y chromium); CI images may not have it")
@pytest.mark.parametrize("width", [1280, 800])
def test_chromium_renders_the_report_without_horizontal_overflow(report, tmp_path, width):
    shot = tmp_path / "report.png"
    done = subprocess.run(check=False, args=[sys.executable, str(REPO / "scripts" / "screenshot_report.py"), str(report), str(shot),
                           "--width", str(width), "--height", "1600"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert measured["scroll_width"] <= measured["client_width"] <= width
    assert measured["overflow"] == []
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (width, 1600)
        # not a blank page: the summary box, plot and text put many distinct colours on screen
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50


def test_screenshot_script_reports_an_overflowing_page(tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("needs headless Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    (tmp_path / "wide").mkdir()
    (tmp_path / "wide" / "index.html").write_text("<!doctype html><html><body><div style='width:3000px'>x</div>"
                                                  "</body></html>")
    done = subprocess.run(check=False, args=[sys.executable, str(REPO / "scripts" / "screenshot_report.py"), str(tmp_path / "wide"),
                           str(tmp_path / "wide.png")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 1 and "px wide" in done.stderr
    measured = json.loads(done.stdout)
    assert measured["scroll_width"] > measured["client_width"] and measured["overflow"]
