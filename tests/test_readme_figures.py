"""The README's figure blocks agree with the benchmark and study results they quote.

``scripts/readme_figures.py`` regenerates the blocks between ``<!-- figures:NAME -->``
markers from ``benchmarks/results/`` and ``studies/results/``; its ``--check`` is run here
on the repository (so CI fails when a result is re-measured and the README is not
updated, or the README is edited by hand), and on copies with one figure changed, to show
that the check can fail.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "readme_figures.py"


def _load():
    spec = importlib.util.spec_from_file_location("readme_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


figures = _load()


def _block(text: str, name: str) -> str:
    start = text.index(f"<!-- figures:{name} -->")
    end = text.index(f"<!-- /figures:{name} -->")
    return text[start:end]


def _results_copy(tmp_path: Path) -> Path:
    """A folder with copies of the results the script reads (the README stays untouched)."""
    for sub in ("benchmarks/results", "studies/results"):
        shutil.copytree(ROOT / sub, tmp_path / sub, ignore=shutil.ignore_patterns("*.png"))
    return tmp_path


def test_readme_figures_agree_with_the_results():
    assert figures.main(["--check"]) == 0


def test_every_block_is_present_and_filled():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in figures.BLOCKS:
        body = _block(readme, name).split("\n", 1)[1].strip()
        assert body, name
        assert body == figures.BLOCKS[name](ROOT).strip(), name


def test_check_fails_when_a_readme_figure_is_edited(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = _block(readme, "policy-table")
    bold = re.search(r"\*\*([\d,]+)\*\*", table.split("\n", 3)[3]).group(1)  # first row
    changed = f"{int(bold.replace(',', '')) + 1:,}"
    edited = readme.replace(table, table.replace(f"**{bold}**", f"**{changed}**", 1))
    copy = tmp_path / "README.md"
    copy.write_text(edited, encoding="utf-8")
    assert figures.main(["--check", "--readme", str(copy)]) == 1
    assert copy.read_text(encoding="utf-8") == edited  # --check never writes
    # regenerating restores the figure from the results
    assert figures.main(["--readme", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == readme


def test_check_fails_when_a_result_is_remeasured(tmp_path):
    root = _results_copy(tmp_path / "root")
    targets = root / "benchmarks" / "results" / "scaling_targets.jsonl"
    lines = targets.read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    assert last["items"] == 10000  # the 10,000 x 200 run the README quotes
    last["total_s"] = 123.4
    targets.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n", encoding="utf-8")
    copy = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", copy)
    assert figures.main(["--check", "--readme", str(copy), "--root", str(root)]) == 1
    assert figures.main(["--readme", str(copy), "--root", str(root)]) == 0
    assert "**123 s**" in _block(copy.read_text(encoding="utf-8"), "scale-targets")


def test_check_fails_when_a_study_cost_changes(tmp_path):
    root = _results_copy(tmp_path / "root")
    csv = root / "studies" / "results" / "mixed_comparison.csv"
    text = csv.read_text(encoding="utf-8")
    row = next(ln for ln in text.splitlines() if ln.split(",")[1] == "jic_4")
    cells = row.split(",")
    column = text.splitlines()[0].split(",").index("causal_expected_cost")
    cells[column] = "6000.2"  # the causal expected cost of jic_4 in the mixed portfolio
    csv.write_text(text.replace(row, ",".join(cells)), encoding="utf-8")
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    assert figures.main(["--check", "--readme", str(readme), "--root", str(root)]) == 1
    figures.main(["--readme", str(readme), "--root", str(root)])
    mixed = next(
        ln for ln in readme.read_text("utf-8").splitlines() if ln.startswith("| mixed portfolio")
    )
    assert mixed.split(" | ")[4] == "6,000"  # the JIC 4 column


def test_missing_marker_is_an_error(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    copy = tmp_path / "README.md"
    copy.write_text(readme.replace("<!-- /figures:scale-targets -->", ""), encoding="utf-8")
    assert figures.main(["--check", "--readme", str(copy)]) == 2
    with pytest.raises(figures.FiguresError):
        figures.render(copy.read_text(encoding="utf-8"), ROOT)
