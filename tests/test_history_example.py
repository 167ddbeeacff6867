"""The README's walk from history/ to a plan runs as written on the bundled example."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- history-walk -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "the README has no history walk"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


def test_readme_history_walk_runs_as_written(tmp_path, monkeypatch):
    commands = readme_commands()
    assert [c[:2] for c in commands] == [["stockplan", "validate"], ["stockplan", "solve"]]
    assert "--no-diagnostics" in commands[-1]
    shutil.copytree(
        ROOT / "instances" / "retail_history", tmp_path / "instances" / "retail_history"
    )
    monkeypatch.chdir(tmp_path)
    for command in commands:
        result = CliRunner().invoke(app, command[1:])
        assert result.exit_code == 0, result.output
    out = tmp_path / commands[-1][commands[-1].index("--out") + 1]
    plan = pd.read_csv(out / "plan.csv")
    items = pd.read_csv(tmp_path / "instances" / "retail_history" / "items.csv")
    assert list(plan["item"]) == list(items["item"])
    assert (plan["base_stock"] > 0).all() and plan["expected_fill_rate"].between(0, 1).all()
    spares = plan[plan["item"].str.startswith("SPARE-")]
    assert spares["demand_model"].str.startswith(("intermittent", "items.csv")).all()
    seasonal = plan[plan["item"].str.startswith("SEASON-")]
    assert seasonal["forecast_mean"].notna().all()
    assert plan.loc[~plan["item"].str.startswith("SEASON-"), "forecast_mean"].isna().all()
    assert plan["fit_pvalue"].between(0, 1).all()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["history"]["suppliers"]) == {"local", "import", "new"}
    assert summary["history"]["suppliers"]["new"]["too_short"]
