"""report.html: escaped data, inline plots, and a real headless browser that opens it.

The browser is Debian's chromium (``.ci/run`` installs it); without it these tests fail,
they are not skipped. Console errors are read through the page itself: report.html
records any JavaScript error or blocked fetch in its root element's ``data-errors``
attribute and the number of plots in ``data-plots``, which ``--dump-dom`` shows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.instance import write_instance
from optimizer.report.html import render_report
from tests.factories import make_instance

NASTY = "<b>cup</b> & \"lid\" 'x' $y$ -->"


def _browser() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed: apt-get install -y --no-install-recommends chromium")


def _chrome(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [_browser(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", "--hide-scrollbars", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _png_pixels(path: Path) -> tuple[int, int, np.ndarray]:
    """Width, height and RGB pixels of a PNG (Pillow comes with matplotlib)."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    with Image.open(path) as img:
        return img.width, img.height, np.asarray(img.convert("RGB"), dtype=np.int32)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    """``stockplan solve --report`` on a small instance whose first item has a nasty name."""
    base = tmp_path_factory.mktemp("report")
    inst = make_instance(5, scenarios=30, disruption=0.2, emergency=True)
    names = inst.items.name.copy().astype(object)
    names[0] = NASTY
    from dataclasses import replace

    inst = replace(inst, items=replace(inst.items, name=names.astype(str)),
                   plan=replace(inst.plan, unit="pcs", currency="EUR"))  # fmt: skip
    write_instance(inst, base / "inst")
    out = base / "out"
    res = CliRunner().invoke(
        app,
        [
            "solve",
            str(base / "inst"),
            "--out",
            str(out),
            "--report",
            "--no-diagnostics",
            "--max-eval-scenarios",
            "200",
        ],  # fmt: skip
    )
    assert res.exit_code == 0, res.output
    return out


def test_report_is_written_with_the_other_files_and_escapes_data(report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert (report_dir / "plan.csv").exists() and (report_dir / "summary.json").exists()
    assert NASTY not in page and "<b>cup</b>" not in page
    assert "&lt;b&gt;cup&lt;/b&gt; &amp; &quot;lid&quot; &#x27;x&#x27;" in page
    # nothing to fetch: no external source, link or stylesheet (xmlns names are not fetched)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)|url\(\s*['"]?https?:""", page)
    assert "<link" not in page and "@import" not in page
    assert page.count("<svg") >= 4
    for section in ("Portfolio", "over scenarios", "Cost lines", "most of the risk",
                    "Just-in-Time to Just-in-Case", "Why this level", "item by item"):  # fmt: skip
        assert section in page, section
    assert "EUR" in page


def test_render_report_escapes_every_field():
    import pandas as pd

    plan = pd.DataFrame({"item": [NASTY], "expected_cost": [1.0], "stockout_cost": [0.5]})
    page = render_report(title="<i>t</i>", description="a & b", summary={"status": "<ok>"},
                         plan=plan, unit="<u>", currency="&")  # fmt: skip
    for raw in ("<i>t</i>", "<ok>", NASTY, "<u>"):
        assert raw not in page
    assert "&lt;i&gt;t&lt;/i&gt;" in page and "&lt;ok&gt;" in page


def test_report_opens_in_headless_chromium(report_dir, tmp_path):
    url = (report_dir / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    res = _chrome(f"--screenshot={shot}", "--window-size=1200,1600",
                  "--enable-logging=stderr", "--v=0", url)  # fmt: skip
    assert shot.exists(), res.stderr[-2000:]
    width, height, pixels = _png_pixels(shot)
    assert (width, height) == (1200, 1600)
    rgb = pixels[..., :3]
    assert rgb.std() > 10, "blank screenshot"
    assert (rgb.reshape(-1, 3) != 255).any(axis=1).mean() > 0.02, "almost nothing drawn"
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if re.search(r"error|Uncaught|Refused", line, re.I)]

    dom = _chrome("--dump-dom", "--virtual-time-budget=3000", url).stdout
    root = re.search(r"<html[^>]*>", dom)
    assert root, dom[:500]
    assert "data-errors" not in root.group(0), root.group(0)
    plots = re.search(r'data-plots="(\d+)"', root.group(0))
    assert plots and int(plots.group(1)) >= 4
    assert dom.count("<svg") == int(plots.group(1))


def test_the_page_reports_its_own_errors(tmp_path):
    """The error hook the browser test relies on does catch a failing script."""
    page = render_report(title="t", summary={"status": "ok"}, plan=_tiny_plan())
    broken = page.replace("</body>", "<script>undefinedFunction();</script></body>")
    path = tmp_path / "broken.html"
    path.write_text(broken, encoding="utf-8")
    dom = _chrome("--dump-dom", path.resolve().as_uri()).stdout
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert "data-errors" in root and "undefinedFunction" in root


def _tiny_plan():
    import pandas as pd

    return pd.DataFrame({"item": ["a"], "expected_cost": [1.0], "stockout_cost": [0.0]})


def test_compare_report_ranks_the_policies_with_intervals(tmp_path):
    inst = make_instance(3, scenarios=10)
    write_instance(inst, tmp_path / "inst")
    out = tmp_path / "cmp"
    res = CliRunner().invoke(
        app,
        [
            "compare",
            str(tmp_path / "inst"),
            "--out",
            str(out),
            "--report",
            "--eval-scenarios",
            "20",
        ],  # fmt: skip
    )
    assert res.exit_code == 0, res.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (out / "comparison.csv").exists()
    assert "Ranking of the policies" in page and "95% intervals" in page
    table = __import__("pandas").read_csv(out / "comparison.csv")
    for policy in table.policy:
        assert f">{policy}<" in page  # every policy in the ranking table
    assert page.count("<svg") >= 5  # two rankings, distribution, lines, sweep, curves
