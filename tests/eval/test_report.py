"""Reports are self-contained: every image embedded, nothing fetched; a real browser shows the plots."""

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from rewardkit.eval.report import Report, fmt


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.refs, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        for k in ("src", "href", "data", "poster", "srcset"):
            if k in a and tag != "img":
                self.refs.append((tag, k, a[k]))


def _check_self_contained(html: str) -> int:
    p = _Refs()
    p.feed(html)
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    assert not p.refs, f"external references: {p.refs}"
    assert "url(" not in html.split("<style>")[1].split("</style>")[0]  # no fonts/images from CSS
    for src in p.imgs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    return len(p.imgs)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One report of each kind, from small scripted data."""
    from rewardkit.eval import runs

    d = tmp_path_factory.mktemp("reports")
    cfg = {"rewards": [{"type": "tests.eval._sources:Scripted"}]}
    pb = d / "pb.jsonl"
    pb.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": 1, "problem": "p", "steps": ["s=0.9", "s=0.1"], "label": 1, "subset": "x"},
        {"id": 2, "problem": "p", "steps": ["s=0.2 <b>not bold</b>", "s=0.9"], "label": -1, "subset": "y"},
        {"id": 3, "problem": "p", "steps": ["status=error"], "label": 0, "subset": "y"}]))
    pairs = d / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": "q", "chosen": f"score={a} " + "x" * n, "rejected": f"score={b}"}) + "\n"
                             for a, b, n in [(1, 0, 5), (0.2, 0.4, 30), (0.5, 0.5, 2), (0.9, 0.1, 40)]))
    bon = d / "bon.jsonl"
    bon.write_text("".join(json.dumps({"candidates": [{"completion": f"score={s}", "correct": c, "answer": a}
                                                      for s, c, a in q]}) + "\n" for q in [
        [(0.9, True, "1"), (0.2, False, "2"), (0.5, False, "2")],
        [(0.1, True, "3"), (0.8, False, "4"), (0.7, True, "3")]]))
    audit = d / "audit.jsonl"
    audit.write_text("".join(json.dumps({"pred": p, "gold": "g", "expected": e}) + "\n"
                             for p, e in [("score=1", False), ("score=0", True), ("nothing", True), ("score=1", True)]))
    cal = d / "cal.jsonl"
    cal.write_text("".join(json.dumps({"completion": f"score={p}", "label": y}) + "\n"
                           for p, y in [(0.1, False), (0.3, True), (0.6, True), (0.8, False), (0.95, True)]))
    return {
        "processbench": runs.run_processbench(cfg, pb, progress=False),
        "pairwise": runs.run_pairwise(cfg, pairs, progress=False),
        "bon": runs.run_bon(cfg, bon, progress=False),
        "audit": runs.run_audit(cfg, audit, progress=False),
        "calibration": runs.run_calibration(cfg, cal, progress=False),
    }


@pytest.mark.parametrize("kind,min_images", [("processbench", 3), ("pairwise", 3), ("bon", 1), ("audit", 1),
                                             ("calibration", 2)])
def test_every_image_is_embedded(reports, kind, min_images, tmp_path):
    run = reports[kind]
    out = run.write(tmp_path / kind)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert _check_self_contained(html) >= min_images
    assert (out / "metrics.json").exists() and (out / "samples.jsonl").exists()
    for label, value in run.headline:  # the headline numbers are in the report
        assert fmt(value) in html, label


def test_data_text_is_escaped(reports):
    html = reports["processbench"].report.render()
    assert "<b>not bold</b>" not in html and "&lt;b&gt;not bold&lt;/b&gt;" in html


def test_report_builder_escapes_and_formats():
    r = Report("t <x>", "s")
    r.headline([("none", None), ("f", 0.123456)])
    r.table(["a"], [["<i>"], [None]])
    html = r.render()
    assert "t &lt;x&gt;" in html and "&lt;i&gt;" in html and "\u2014" in html and "0.1235" in html
    assert _check_self_contained(html) == 0


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(browser, html_path, png_path, user_dir):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={user_dir}", "--window-size=1200,2000", f"--screenshot={png_path}",
           html_path.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png_path.exists(), "chromium wrote no screenshot"


def _colored_pixels(png_path) -> int:
    import numpy as np
    from PIL import Image

    hsv = np.asarray(Image.open(png_path).convert("HSV"))
    return int(((hsv[..., 1] > 80) & (hsv[..., 2] > 60)).sum())


def test_browser_shows_the_plots(reports, tmp_path):
    """Render the report in headless Chromium (Debian's ``chromium``) as a person would open it: the
    plots must appear (many saturated pixels), which they do not when the images are removed."""
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the parser-level test still "
                    "checks that every image is embedded")
    pytest.importorskip("PIL")
    run = reports["processbench"]
    out = run.write(tmp_path / "pb")
    html_path = out / "report.html"
    stripped = tmp_path / "stripped.html"
    text = html_path.read_text(encoding="utf-8")
    stripped.write_text(re.sub(r"<img [^>]*>", "", text), encoding="utf-8")
    shot, bare = tmp_path / "shot.png", tmp_path / "bare.png"
    _screenshot(browser, html_path, shot, tmp_path / "ud1")
    _screenshot(browser, stripped, bare, tmp_path / "ud2")
    with_plots, without = _colored_pixels(shot), _colored_pixels(bare)
    assert with_plots > 20_000 and with_plots > 20 * max(without, 1), (with_plots, without)


def test_degenerate_data_still_renders(tmp_path):
    """One class only, every reward non-ok, no candidates ever ok: reports render, numbers are '—'."""
    import warnings

    from rewardkit.eval import runs

    cfg = {"rewards": [{"type": "tests.eval._sources:Scripted"}]}
    pb = tmp_path / "pb.jsonl"
    pb.write_text(json.dumps({"id": 1, "steps": ["s=0.9", "s=0.1"], "label": 1}) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps({"completion": "status=error", "label": True, "pred": "status=error",
                                       "gold": "1", "expected": True}) + "\n" for _ in range(3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no matplotlib/sklearn warnings on degenerate input
        one_class = runs.run_processbench(cfg, pb, progress=False)
        cal = runs.run_calibration(cfg, bad, progress=False)
        aud = runs.run_audit(cfg, bad, progress=False)
    assert one_class.metrics["f1"] is None and one_class.metrics["correct_acc"] is None
    assert cal.metrics["n"] == 0 and cal.metrics["ece"] is None and cal.metrics["n_excluded"] == 3
    assert aud.metrics["non_ok"] == 3 and aud.metrics["fn"] == 3
    for run in (one_class, cal, aud):
        html = run.report.render()
        _check_self_contained(html)
        assert "\u2014" in html
