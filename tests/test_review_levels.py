"""Base-stock levels per review block: the causal run, the search, and a ramping item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.engines.causal_review import search_levels
from optimizer.engines.causal_search import search_items
from optimizer.instance import load_instance
from optimizer.program.data import program_data
from optimizer.program.review import evaluate_levels, level_path, review_blocks
from optimizer.program.simulate import evaluate_causal
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance

ROOT = Path(__file__).resolve().parent.parent


def test_review_blocks_split_the_quarter():
    assert list(np.bincount(review_blocks(13, 3))) == [5, 4, 4]
    assert list(review_blocks(13, 13)) == list(range(13))
    assert set(review_blocks(13, 1)) == {0}


@pytest.mark.parametrize("shortage", ["lost_sales", "backorder"])
@pytest.mark.parametrize("emergency", [False, True])
def test_one_level_equals_the_causal_simulation(shortage, emergency):
    inst = make_instance(4, scenarios=30, periods=6, shortage=shortage, emergency=emergency)
    data = program_data(inst, generate_scenarios(inst))
    S = np.ceil((data.lead + 2) * data.mean)
    K = np.zeros(data.n_items)
    ours = evaluate_levels(data, S[:, None], K)
    ref = evaluate_causal(data, S, K)
    assert np.allclose(ours.lines, ref.lines) and np.allclose(ours.scenario_cost, ref.scenario_cost)


def test_changing_levels_move_the_orders():
    inst = make_instance(2, scenarios=20, periods=6, disruption=0.0)
    data = program_data(inst, generate_scenarios(inst))
    low = np.ceil((data.lead + 1) * data.mean)
    flat = evaluate_levels(data, np.c_[low, low, low], np.zeros(2))
    raised = evaluate_levels(data, np.c_[low, low, low + 50], np.zeros(2))
    assert (raised.avg_on_hand > flat.avg_on_hand).all()  # the last block's orders landed
    path = level_path(data, np.c_[low, low, low + 50])
    assert (path[:, : data.warmup] == low[:, None]).all()


def test_search_never_costs_more_in_sample_and_hands_the_quarter_over():
    inst = make_instance(4, scenarios=40, periods=9, disruption=0.1)
    data = program_data(inst, generate_scenarios(inst))
    single = search_items(data, integer=True, fill_rates=False).base_stock
    one = evaluate_levels(data, single[:, None], np.zeros(4)).item_scenario_cost @ data.probability
    levels, cost = search_levels(data, 3, start=single)
    assert (cost <= one + 1e-9 * (1 + np.abs(one))).all()
    assert (levels[:, -1] >= single).all()
    assert np.allclose(levels, np.round(levels))


def test_a_ramping_item_of_a_reliable_supplier_raises_its_levels():
    inst = load_instance(ROOT / "instances" / "retail_history")
    reliable = [
        i
        for i, n in enumerate(inst.items.name)
        if n.startswith("SEASON-") and inst.suppliers.disruption_prob[inst.items.supplier[i]] < 0.05
    ]
    assert reliable
    inst = inst.subset_items(reliable)
    data = program_data(inst, generate_scenarios(inst))
    levels, _ = search_levels(data, 3)
    ramp = inst.history.forecast_mean
    rising = ramp[:, -1] > 1.2 * ramp[:, 0]
    assert rising.all()
    assert (levels[:, 2] > levels[:, 0]).mean() >= 0.5, levels
