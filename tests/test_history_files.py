"""history/ files: what they fill in, what items.csv still overrides, and the refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import InvalidInstanceError
from optimizer.instance import load_instance
from optimizer.scenarios import generate_scenarios

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "instances" / "retail_history"


KEEP = ("FAST-01", "FAST-02", "SLOW-03", "SPARE-01", "SPARE-02", "SEASON-01")
"""The example's items these tests need (fitting all 40 at every load would be slow)."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "retail"
    shutil.copytree(EXAMPLE, target)
    for file in ("items.csv", "history/demand.csv", "history/forecast.csv"):
        edit(target, file, lambda f: f[f["item"].isin(KEEP)])
    return target


def edit(folder: Path, file: str, change) -> None:
    path = folder / file
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def problems(folder: Path) -> list[str]:
    with pytest.raises(InvalidInstanceError) as info:
        load_instance(folder)
    return [str(p) for p in info.value.problems]


def test_history_fills_demand_and_reliability(folder):
    inst = load_instance(folder)
    it = inst.items
    assert np.isfinite(it.demand_mean).all() and (it.demand_mean > 0).all()
    spare = list(it.name).index("SPARE-02")
    assert inst.history.fits[spare].demand_class in ("intermittent", "lumpy")
    assert inst.history.laws[spare] is not None
    sup = inst.suppliers
    assert (sup.recovery_prob > 0).all() and (sup.disruption_prob >= 0).all()
    local = inst.history.suppliers["local"]  # never down in 52 weeks: 0, but not for sure
    assert local["disruption_prob"] == 0.0 and local["disruption_ci"][1] > 0.0
    assert inst.history.suppliers["new"]["too_short"]


def test_items_csv_cells_override_the_fit(folder):
    edit(
        folder,
        "items.csv",
        lambda f: f.assign(demand_mean=["" if i else "99" for i in range(len(f))]),
    )
    inst = load_instance(folder)
    assert inst.items.demand_mean[0] == 99.0
    assert inst.history.laws[0] is None  # the planner's columns fix the law
    assert inst.history.fits[0].model.startswith("items.csv (fit:")
    spare = list(inst.items.name).index("SPARE-01")  # demand_dist given: negbin
    assert inst.items.demand_dist[spare] == "negbin" and inst.history.laws[spare] is None


def test_suppliers_csv_probabilities_override_the_record(folder):
    edit(folder, "suppliers.csv", lambda f: f.assign(disruption_prob=["0.5", "", ""]))
    inst = load_instance(folder)
    assert inst.suppliers.disruption_prob[0] == 0.5
    assert inst.suppliers.disruption_prob[1] == inst.history.suppliers["import"]["disruption_prob"]


def test_pessimistic_reliability_plans_on_the_worst_ends(folder):
    mle = load_instance(folder)
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text().replace('reliability = "mle"', 'reliability = "pessimistic"'))
    bad = load_instance(folder)
    for s, name in enumerate(bad.suppliers.name):
        est = bad.history.suppliers[str(name)]
        assert bad.suppliers.disruption_prob[s] == est["disruption_ci"][1]
        assert bad.suppliers.disruption_prob[s] > mle.suppliers.disruption_prob[s]


def test_forecast_path_is_followed_over_the_costed_periods(folder):
    inst = load_instance(folder)
    i = list(inst.items.name).index("SEASON-01")
    scen = generate_scenarios(inst, n_scenarios=4000)
    costed = scen.demand[i, :, inst.warmup :].mean(axis=0)
    path = inst.history.forecast_mean[i]
    sd = inst.history.forecast_std[i]
    assert np.all(np.abs(costed - path) <= 4 * sd / np.sqrt(4000) + 0.5)  # censoring, rounding
    pairs_error = inst.history.forecast_std[i, 0]
    assert 0 < pairs_error < path.mean()  # measured from past forecasts, not demand_std


def test_no_history_folder_keeps_the_scenarios(folder, tmp_path):
    shutil.rmtree(folder / "history")
    edit(folder, "items.csv", lambda f: f.assign(demand_mean="5", demand_std="3", demand_dist=""))
    edit(folder, "suppliers.csv", lambda f: f.assign(disruption_prob="0.05", recovery_prob="0.5"))
    inst = load_instance(folder)
    assert inst.history is None


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (
            "history/demand.csv",
            lambda f: f.assign(item=f["item"].where(f.index != 3, "NOPE")),
            "item 'NOPE', column 'item': unknown item 'NOPE'",
        ),
        (
            "history/demand.csv",
            lambda f: f.assign(demand=f["demand"].where(f.index != 0, "-2")),
            "item 'FAST-01', column 'demand': demand must be 0 or more",
        ),
        (
            "history/demand.csv",
            lambda f: f.assign(period=f["period"].where(f.index != 1, "1.5")),
            "column 'period': period must be a whole number",
        ),
        (
            "history/demand.csv",
            lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True),
            "item 'FAST-01' has a second row for period 1",
        ),
        (
            "history/demand.csv",
            lambda f: f.iloc[::-1],
            "rows of an item must be in period order",
        ),
        (
            "history/demand.csv",
            lambda f: f[f["period"].astype(int) <= 5],
            "at least 8 are needed to fit a demand law",
        ),
        (
            "history/forecast.csv",
            lambda f: f[f["period"].astype(int) != 60],
            "has no row for 1 costed period(s): 60",
        ),
        (
            "history/forecast.csv",
            lambda f: f.assign(period=f["period"].where(f.index != len(f) - 1, "70")),
            "period 70 is past the costed periods: the forecast covers 53..65",
        ),
        (
            "history/deliveries.csv",
            lambda f: f.assign(up=f["up"].where(f.index != 0, "2")),
            "item 'local', column 'up': up must be 0 (down) or 1",
        ),
        (
            "history/deliveries.csv",
            lambda f: f[f["supplier"] != "import"],
            "column 'disruption_prob': disruption_prob is required but the cell is empty "
            "(supplier 'import' has no rows in history/deliveries.csv",
        ),
        (
            "history/demand.csv",
            lambda f: f[f["item"] != "SLOW-03"],
            "column 'demand_mean': demand_mean is required but the cell is empty (item 'SLOW-03'",
        ),
    ],
)
def test_bad_history_files_are_refused_with_the_right_message(folder, file, change, expected):
    edit(folder, file, change)
    found = problems(folder)
    assert any(expected in p for p in found), "\n".join(found)
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert expected.split(": ")[-1][:40] in " ".join(result.output.split())


def test_never_recovering_supplier_is_refused(folder):
    def change(f: pd.DataFrame) -> pd.DataFrame:
        local = f["supplier"] == "local"
        late = local & (f["period"].astype(int) >= 40)
        up = f["up"].where(~local, "1")  # up all year, then down from week 40 for good
        return f.assign(up=up.where(~late, "0"))

    edit(folder, "history/deliveries.csv", change)
    assert any("never recovers in its record" in p for p in problems(folder))


def test_unknown_history_file_and_table_key_are_refused(folder):
    (folder / "history" / "demnd.csv").write_text("item,period,demand\n")
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text().replace('model = "fit"', 'model = "magic"'))
    found = problems(folder)
    assert any("unknown file in history/ (did you mean 'demand.csv'?)" in p for p in found)
    assert any("model must be 'fit' or 'bootstrap'" in p for p in found), found


def test_bootstrap_model_draws_history_values(folder):
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text().replace('model = "fit"', 'model = "bootstrap"'))
    inst = load_instance(folder)
    i = list(inst.items.name).index("FAST-02")
    law = inst.history.laws[i]
    assert inst.history.fits[i].model == f"bootstrap: blocks of {law.block}"
    scen = generate_scenarios(inst, n_scenarios=50)
    assert set(np.unique(scen.demand[i, :, : inst.warmup])) <= set(np.unique(law.history))
