"""Synthetic instance generator and ``stockplan generate``."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from optimizer.cli.generate import register
from optimizer.engines.base import SolveConfig
from optimizer.engines.dispatch import solve_program
from optimizer.instance import Items, Suppliers, load_instance, write_instance
from optimizer.instance.generator import budget_for_share, generate_instance
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios


def _same_table(a: Items | Suppliers, b: Items | Suppliers) -> None:
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x.tolist() == y.tolist(), name


def test_round_trip_through_files(tmp_path):
    inst = generate_instance(
        300, 12, seed=5, budget_share=0.4, shortage="backorder", scenarios=50, periods=8
    )
    write_instance(inst, tmp_path / "inst")
    back = load_instance(tmp_path / "inst")
    _same_table(inst.items, back.items)
    _same_table(inst.suppliers, back.suppliers)
    assert back.plan == inst.plan
    assert back.warmup == inst.warmup


def test_deterministic_in_seed_and_prefix_stable():
    a = generate_instance(120, 7, seed=11)
    b = generate_instance(120, 7, seed=11)
    _same_table(a.items, b.items)
    _same_table(a.suppliers, b.suppliers)
    c = generate_instance(120, 7, seed=12)
    assert not np.array_equal(a.items.unit_cost, c.items.unit_cost)
    # item i does not depend on how many items follow it
    small = generate_instance(30, 7, seed=11)
    _same_table(small.items, a.items.subset(np.arange(30)))


def test_sizes_names_and_ranges():
    n, k = 2000, 30
    inst = generate_instance(n, k, seed=2, scenarios=77, periods=9)
    it, sup = inst.items, inst.suppliers
    assert len(it) == n and len(sup) == k
    assert len(set(it.name.tolist())) == n and len(set(sup.name.tolist())) == k
    assert it.name[0] == "SKU000000" and it.name[-1] == "SKU001999"
    assert inst.plan.scenarios == 77 and inst.plan.periods == 9 and inst.plan.seed == 2
    assert inst.plan.inventory_budget is None
    assert it.demand_mean.min() >= 1 and it.demand_mean.max() <= 500
    assert it.unit_cost.min() >= 1 and it.unit_cost.max() <= 2000
    # dear items sell slowly
    assert np.corrcoef(np.log(it.demand_mean), np.log(it.unit_cost))[0, 1] < -0.5
    assert it.lead_time.min() >= 0 and it.lead_time.max() <= 8
    assert len(np.unique(it.lead_time)) >= 6
    ratio = it.stockout_penalty / it.unit_cost
    assert ratio.min() >= 0.29 and ratio.max() <= 1.51
    families = Counter(it.demand_dist.tolist())
    assert set(families) == {"normal", "poisson", "gamma", "lognormal", "negbin"}
    fast = it.demand_mean >= 30
    slow = it.demand_mean < 4
    assert (it.demand_dist[fast] == "normal").mean() > 0.5
    assert set(it.demand_dist[slow].tolist()) <= {"poisson", "negbin"}
    nb = it.demand_dist == "negbin"
    assert np.all(it.demand_std[nb] ** 2 > it.demand_mean[nb])
    assert 0.25 <= it.has_emergency.mean() <= 0.35
    em = it.has_emergency
    share = it.emergency_premium[em] / it.unit_cost[em]
    assert share.min() >= 0.14 and share.max() <= 0.51
    assert np.isfinite(it.emergency_capacity[em]).all()
    assert 0 < it.reserves_capacity.sum() < em.sum()
    assert sup.disruption_prob.max() <= 0.08
    unreliable = sup.disruption_prob > 0.01
    assert unreliable.any() and (~unreliable).any()
    assert np.all((sup.recovery_prob[unreliable] >= 0.2) & (sup.recovery_prob[unreliable] <= 0.6))
    # lead time follows the supplier's archetype
    overseas = np.char.startswith(sup.name.astype(str), "overseas")[it.supplier]
    domestic = np.char.startswith(sup.name.astype(str), "domestic")[it.supplier]
    assert it.lead_time[overseas].min() >= 4 and it.lead_time[domestic].max() <= 1


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        generate_instance(0, 3)
    with pytest.raises(ValueError):
        generate_instance(3, 2, shortage="maybe")


@pytest.mark.parametrize("shortage", ["lost_sales", "backorder"])
def test_budget_binds(shortage):
    inst = generate_instance(
        6, 3, seed=4, shortage=shortage, scenarios=20, periods=4, budget_share=0.3
    )
    budget = inst.plan.inventory_budget
    assert budget == pytest.approx(budget_for_share(inst.items, 0.3))
    data = program_data(inst, generate_scenarios(inst))
    sol = solve_program(data, SolveConfig("auto"))
    assert sol.has_plan
    value = float(data.unit_cost @ sol.base_stock)
    assert abs(value - budget) <= 1e-6 * budget
    free = solve_program(dataclasses.replace(data, budget=None), SolveConfig("auto"))
    assert float(data.unit_cost @ free.base_stock) > budget * (1 + 1e-3)


def test_cli_generate_writes_a_valid_instance(tmp_path):
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test application."""

    register(app)
    out = tmp_path / "gen"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--items",
            "25",
            "--suppliers",
            "4",
            "--out",
            str(out),
            "--seed",
            "9",
            "--shortage",
            "backorder",
            "--budget-share",
            "0.35",
        ],
    )
    assert result.exit_code == 0, result.output
    back = load_instance(out)
    assert len(back.items) == 25 and len(back.suppliers) == 4
    assert back.plan.shortage == "backorder"
    assert back.plan.inventory_budget == pytest.approx(budget_for_share(back.items, 0.35))
    _same_table(back.items, generate_instance(25, 4, seed=9).items)
    bad = CliRunner().invoke(
        app,
        [
            "generate",
            "--items",
            "3",
            "--suppliers",
            "1",
            "--out",
            str(tmp_path / "x"),
            "--shortage",
            "sometimes",
        ],
    )
    assert bad.exit_code == 2
