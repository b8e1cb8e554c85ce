"""The static site: escaped user strings, every submission shown, and a headless-Chromium run
checking that the page loads without console errors, all images load and the tables sort."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from leaderboard_fixtures import CHAT_SUBMISSIONS, MATH_SUBMISSIONS

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
)

#: appended to a COPY of the page: after load, click the headers of the first table and
#: record the row order, count broken images, and write everything into data-probe.
PROBE_JS = """
<script>
window.addEventListener("load", function () {
  var report = {broken: [], sortable: document.body.getAttribute("data-sortable-tables"),
                orders: {}};
  Array.prototype.forEach.call(document.images, function (img) {
    if (!img.complete || img.naturalWidth === 0) { report.broken.push(img.getAttribute("src")); }
  });
  var table = document.querySelector("table.sortable");
  function order() {
    return Array.prototype.map.call(table.tBodies[0].rows,
      function (r) { return r.getAttribute("data-submission"); });
  }
  report.orders.initial = order();
  var buttons = table.tHead.querySelectorAll("th button");
  buttons[2].click(); report.orders.col2_first = order();
  buttons[2].click(); report.orders.col2_second = order();
  buttons[1].click(); report.orders.col1_first = order();
  buttons[1].click(); report.orders.col1_second = order();
  report.refs = Array.prototype.map.call(table.tBodies[1].rows,
    function (r) { return r.getAttribute("data-reference"); });
  // layout: no horizontal page overflow; every table inside the viewport or in a scroll box
  report.viewport = window.innerWidth;
  report.pageWidth = document.documentElement.scrollWidth;
  report.tables = Array.prototype.map.call(document.querySelectorAll("table.lb"), function (t) {
    var box = t.parentElement, rect = box.getBoundingClientRect();
    return {overflowX: getComputedStyle(box).overflowX, boxLeft: rect.left, boxRight: rect.right,
            tableWidth: t.scrollWidth, boxWidth: box.clientWidth};
  });
  document.body.setAttribute("data-probe", JSON.stringify(report));
});
</script>
"""


class _Collector(HTMLParser):
    """Collects data-submission / data-reference attributes, texts of <td>, and body attrs."""

    def __init__(self) -> None:
        super().__init__()
        self.submissions: list[str] = []
        self.references: list[str] = []
        self.body: dict[str, str | None] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-submission" in a:
            self.submissions.append(a["data-submission"] or "")
        if tag == "tr" and "data-reference" in a:
            self.references.append(a["data-reference"] or "")
        if tag == "body":
            self.body = a
        if tag == "script":
            self.scripts += 1


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def test_every_submission_is_in_the_page(built_leaderboard: tuple[Path, list[Path]]) -> None:
    page = _parse((built_leaderboard[0] / "site" / "index.html").read_text(encoding="utf-8"))
    expected = sorted(MATH_SUBMISSIONS) + sorted(CHAT_SUBMISSIONS)
    # each submission appears in its group's allocation and predictor tables
    assert sorted(page.submissions) == sorted(expected * 2)
    assert sorted(set(page.references)) == ["oracle", "random", "uniform"]
    assert page.scripts == 1


def test_user_strings_are_escaped(built_leaderboard: tuple[Path, list[Path]]) -> None:
    text = (built_leaderboard[0] / "site" / "index.html").read_text(encoding="utf-8")
    hostile = "x<b>\"&'"
    assert hostile not in text
    assert html.escape(hostile, quote=True) in text
    assert "<b>" not in text


def test_images_are_relative_and_exist(built_leaderboard: tuple[Path, list[Path]]) -> None:
    site = built_leaderboard[0] / "site"
    sources = re.findall(r'<img src="([^"]+)"', (site / "index.html").read_text(encoding="utf-8"))
    assert len(sources) == 2 + 6 + 3
    for src in sources:
        assert src.startswith("plots/") and (site / html.unescape(src)).is_file()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("chromium is not installed but CI is set: .ci/run must `apt-get install chromium`")
    pytest.skip("chromium is not installed (apt-get install chromium); required in CI")


def _run_chromium(page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *mode, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


def _console_lines(stderr: str) -> list[str]:
    """Lines Chromium logs for the page's console (console.* calls and uncaught errors)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_page_in_headless_chromium(built_leaderboard: tuple[Path, list[Path]],
                                   tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(built_leaderboard[0] / "site", site)
    original = site / "index.html"

    # 1. the page as shipped: no console output at all (no errors, no uncaught exceptions)
    plain = _run_chromium(original, tmp_path / "profile1", "--dump-dom")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert _console_lines(plain.stderr) == []
    dom = _parse(plain.stdout)
    assert dom.body.get("data-sortable-tables") == "4"  # the sort script ran on all 4 tables
    assert sorted(set(dom.submissions)) == sorted(set(MATH_SUBMISSIONS) | set(CHAT_SUBMISSIONS))

    # 2. a copy with a probe: images load, clicking headers sorts, reference rows stay put
    probed = site / "probe.html"
    probed.write_text(original.read_text(encoding="utf-8").replace("</body>", PROBE_JS + "</body>"),
                      encoding="utf-8")
    run = _run_chromium(probed, tmp_path / "profile2", "--window-size=1280,2000", "--dump-dom")
    assert run.returncode == 0 and _console_lines(run.stderr) == [], run.stderr[-2000:]
    report = json.loads(_parse(run.stdout).body["data-probe"] or "{}")
    assert report["broken"] == []
    assert report["sortable"] == "4"
    # first table: routing group (fixture_chat), ranked by APGR online (column 2): best first;
    # clicking column 2 sorts ascending then descending, column 1 (names) by text
    apgr_ascending = ["constant", "x<b>\"&'", "embed_probe"]
    assert report["orders"]["initial"] == apgr_ascending[::-1]
    assert report["orders"]["col2_first"] == apgr_ascending
    assert report["orders"]["col2_second"] == apgr_ascending[::-1]
    assert report["orders"]["col1_first"] == sorted(CHAT_SUBMISSIONS)
    assert report["orders"]["col1_second"] == sorted(CHAT_SUBMISSIONS)[::-1]
    assert report["refs"] == ["oracle", "random"]
    # at 1280 px nothing is cut off: the page does not overflow sideways, and each table sits
    # in a horizontal scroll box that fits the viewport (wide tables scroll inside it)
    assert report["viewport"] == 1280
    assert report["pageWidth"] <= 1280
    assert len(report["tables"]) == 4
    for box in report["tables"]:
        assert box["overflowX"] in ("auto", "scroll") and box["boxLeft"] >= 0
        assert box["boxRight"] <= 1280, box
    assert any(box["tableWidth"] > box["boxWidth"] for box in report["tables"])  # scroll used

    # 3. a screenshot renders (kept under tmp_path; look at it when changing the page)
    shot = tmp_path / "screenshot.png"
    run = _run_chromium(original, tmp_path / "profile3", f"--screenshot={shot}",
                        "--window-size=1280,2600", "--hide-scrollbars")
    assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr[-2000:]
