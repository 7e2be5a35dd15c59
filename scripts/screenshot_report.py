#!/usr/bin/env python3
"""Render a semcom HTML report in headless Chromium: a screenshot, and a check that nothing is wider than the page.

    python scripts/screenshot_report.py REPORT_DIR OUT.png [--width 1280] [--height 2000] [--full] [--chromium PATH]

The report folder is copied to a temporary folder (the report itself is never written to). A copy of its
``index.html`` with a small script appended is loaded once with ``--dump-dom``: after every image has loaded the
script writes the document's scrollWidth, its clientWidth, the page height and the elements whose right edge
passes the viewport into the DOM, which this script reads back. Then the untouched page is screenshotted at
``--width`` x ``--height`` (``--full``: the whole page height, up to 16000 px).

Prints one JSON line ({"scroll_width", "client_width", "page_height", "overflow": [...], "screenshot"}) and
exits 1 when the page overflows horizontally, 2 when Chromium is missing or fails.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=10000"]
MAX_HEIGHT = 16000

PROBE = """<script>
window.addEventListener("load", function () {
  var doc = document.documentElement, width = doc.clientWidth, wide = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (doc.scrollWidth > width && r.right > width + 0.5 && wide.length < 20) {
      wide.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " right=" + Math.round(r.right));
    }
  });
  var out = document.createElement("pre");
  out.id = "semcom-probe";
  out.textContent = JSON.stringify({scroll_width: doc.scrollWidth, client_width: width,
                                    page_height: doc.scrollHeight, overflow: wide});
  document.body.appendChild(out);
});
</script>"""


def chromium(binary: str, args: list[str], profile: Path, width: int, height: int, timeout: float) -> str:
    """Run headless Chromium with a fresh profile folder; returns stdout."""
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", *args]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout


def inspect(report: Path, out_png: Path, width: int = 1280, height: int = 2000, full: bool = False,
            binary: str = CHROMIUM, timeout: float = 120) -> dict:
    """Measure the rendered page and write the screenshot; returns the measurements (see the module docstring)."""
    index = report / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found")
    with tempfile.TemporaryDirectory(prefix="semcom-shot-") as tmp:
        tmp = Path(tmp)
        page = tmp / "report"
        shutil.copytree(report, page)
        text = index.read_text(encoding="utf-8")
        probed = text.replace("</body>", PROBE + "</body>") if "</body>" in text else text + PROBE
        (page / "probe.html").write_text(probed, encoding="utf-8")
        dom = chromium(binary, ["--dump-dom", (page / "probe.html").as_uri()], tmp / "profile-probe", width, height,
                       timeout)
        found = re.search(r'<pre id="semcom-probe">(.*?)</pre>', dom, re.DOTALL)
        if not found:
            raise RuntimeError("the page did not finish loading (no probe output in the dumped DOM)")
        result = json.loads(html.unescape(found.group(1)))
        shot_height = min(result["page_height"], MAX_HEIGHT) if full else height
        out_png.parent.mkdir(parents=True, exist_ok=True)
        chromium(binary, [f"--screenshot={out_png.resolve()}", (page / "index.html").as_uri()],
                 tmp / "profile-shot", width, shot_height, timeout)
    if not out_png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {out_png}")
    result["screenshot"] = str(out_png)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="report folder holding index.html")
    parser.add_argument("out", type=Path, help="screenshot to write (.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--full", action="store_true", help="screenshot the whole page height")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"Chromium binary (default {CHROMIUM})")
    args = parser.parse_args(argv)
    if not Path(args.chromium).is_file():
        print(f"error: {args.chromium} not found (install it with: apt-get install -y chromium)", file=sys.stderr)
        return 2
    try:
        result = inspect(args.report, args.out, args.width, args.height, args.full, args.chromium)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    if result["scroll_width"] > result["client_width"]:
        print(f"error: the page is {result['scroll_width']} px wide in a {result['client_width']} px window",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
