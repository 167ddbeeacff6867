"""Diagnostics of a plan at any size: the relaxed wait-and-see bound and skipped figures.

Above ``LP_DIAGNOSTIC_CELLS`` a diagnostic that only an LP engine can solve is relaxed
(WS: plan rows and reservation fees dropped, still a lower bound) or skipped with a note;
here the threshold is lowered to 0 so a tiny instance takes that path and can be compared
with the exact figures.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.analysis import diagnostics
from optimizer.engines.base import CAUSAL, SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.program.data import program_data
from optimizer.program.simulate import evaluate_causal
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance


@pytest.fixture
def reserving():
    inst = make_instance(4, scenarios=8, periods=4, seed=2, emergency=True, reserve=True)
    data = program_data(inst, generate_scenarios(inst))
    assert data.reserves.any()
    return inst, data


def test_relaxed_wait_and_see_is_a_lower_bound(reserving, monkeypatch):
    _, data = reserving
    exact, note = diagnostics._wait_and_see(data, SolveConfig())
    assert note == ""
    monkeypatch.setattr(diagnostics, "LP_DIAGNOSTIC_CELLS", 0)
    relaxed, note = diagnostics._wait_and_see(data, SolveConfig())
    assert "lower bound" in note
    assert relaxed <= exact + 1e-9


def test_large_programs_skip_what_only_an_lp_solves(reserving, monkeypatch):
    inst, data = reserving
    request = SolveRequest(recourse=CAUSAL, integer=True)
    rp = solve_program(data, SolveConfig(), request)
    full = diagnostics.compute_diagnostics(inst, data, rp, request=request)
    assert full.note == "" and full.hindsight_bound <= full.in_sample_causal + 1e-9
    monkeypatch.setattr(diagnostics, "LP_DIAGNOSTIC_CELLS", 0)
    quick = diagnostics.compute_diagnostics(inst, data, rp, request=request)
    # lost sales: the flow engine prices the plan's hindsight recourse at any size
    assert quick.hindsight_bound == pytest.approx(full.hindsight_bound, rel=1e-9)
    assert quick.ws <= full.ws + 1e-9 and "WS_hindsight is a lower bound" in quick.note
    assert quick.evpi >= full.evpi - 1e-9


@pytest.mark.parametrize(
    "kw",
    [
        dict(emergency=True, reserve=True),
        dict(shortage="backorder", emergency=True),
        dict(black_swan=True, disruption=0.3),
    ],
)
def test_headline_batches_played_by_the_kernel_equal_the_numpy_run(kw):
    import numpy as np

    from optimizer.analysis.headline import _play_batch, fixed_plan_data
    from optimizer.program.simulate import evaluate_causal

    inst = make_instance(4, scenarios=9, periods=5, seed=7, **kw)
    data = fixed_plan_data(program_data(inst, generate_scenarios(inst, stream="evaluate")))
    S = data.min_base_stock + 1.5 * data.mean + 1
    K = np.where(data.reserves, 2.0, 0.0)
    fast, demand = _play_batch(data, S, K)
    ref = evaluate_causal(data, S, K, check_fill_rate=False, check_plan_rows=False)
    costed = (data.probability[None, :] * data.demand[:, :, data.warmup :].sum(axis=2)).sum(1)
    np.testing.assert_allclose(demand, costed, rtol=1e-12)
    for name in ("scenario_cost", "lines", "fill_rate", "avg_on_hand", "stockout_units"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.emergency_units, ref.emergency_units, rtol=1e-9, atol=1e-9)


def test_headline_samples_until_tight_or_the_cap():
    from optimizer.analysis.headline import honest_cost
    from optimizer.analysis.policies import newsvendor_policy

    inst = make_instance(3, scenarios=10, periods=4, seed=5, disruption=0.3)
    plan = newsvendor_policy(inst)
    capped = honest_cost(
        inst, plan.base_stock, plan.reserved, batch=20, max_scenarios=60, rel_half_width=1e-6
    )
    # one batch of 20, then a round sized from its variance: far more than the cap of 60
    assert not capped.tight and capped.interval.scenarios == 60 and capped.batches == 2
    assert capped.rounds == 2 and "cap of 60" in capped.stop
    loose = honest_cost(
        inst, plan.base_stock, plan.reserved, batch=20, max_scenarios=60, rel_half_width=0.5
    )
    assert loose.tight and loose.batches == 1 and "<= 50%" in loose.stop
    # the first batch is the "evaluate" stream, and the pooled lines add up to the mean
    assert capped.evaluation.scenario_cost[:20] == pytest.approx(loose.evaluation.scenario_cost)
    assert capped.evaluation.lines.sum() == pytest.approx(capped.interval.mean, rel=1e-9)


def test_large_programs_take_the_hindsight_figures_on_a_subsample(reserving, monkeypatch):
    inst, data = reserving
    request = SolveRequest(recourse=CAUSAL, integer=True)
    rp = solve_program(data, SolveConfig(), request)
    full = diagnostics.compute_diagnostics(inst, data, rp, request=request)
    assert full.hindsight_scenarios == data.n_scenarios
    monkeypatch.setattr(diagnostics, "HINDSIGHT_CELLS", 0)
    monkeypatch.setattr(diagnostics, "HINDSIGHT_SCENARIOS", 3)
    sub = diagnostics.compute_diagnostics(inst, data, rp, request=request)
    assert sub.hindsight_scenarios == 3 and "first 3 of the 8" in sub.note
    _, first = data.scenario_subset(np.arange(3))
    ws = solve_program(first, SolveConfig(), SolveRequest.wait_and_see())
    assert sub.ws == pytest.approx(ws.objective, rel=1e-9)
    cost = evaluate_causal(
        first, rp.base_stock, rp.reserved, check_fill_rate=False, check_plan_rows=False
    )
    assert sub.evpi == pytest.approx(cost.objective - ws.objective, rel=1e-9)
    assert sub.evpi >= -1e-9
    # what does not depend on the subsample is unchanged
    assert sub.in_sample_causal == full.in_sample_causal and sub.eev == full.eev


@pytest.mark.parametrize("emergency,reserve", [(False, False), (True, False), (True, True)])
def test_wait_and_see_and_bound_from_one_trace_equal_the_engines(emergency, reserve):
    inst = make_instance(5, scenarios=30, periods=5, seed=11, emergency=emergency, reserve=reserve)
    data = program_data(inst, generate_scenarios(inst))
    rp = solve_program(data, SolveConfig(), SolveRequest(recourse=CAUSAL, integer=True))
    free = ~data.reserves
    ws_items, bound = diagnostics.flow_hindsight(data, rp.base_stock, rp.reserved, ws_items=free)
    priced = diagnostics.price_plan(data, rp.base_stock, rp.reserved)
    assert priced.engine == "flow"
    assert bound == pytest.approx(priced.objective, rel=1e-9)
    assert np.isnan(ws_items[~free]).all()
    for i in np.flatnonzero(free):  # each item's wait-and-see value, solved by the engine
        ws = solve_program(data.item([i]), SolveConfig(), SolveRequest.wait_and_see())
        assert ws_items[i] == pytest.approx(ws.objective, rel=1e-9, abs=1e-9)
    # the diagnostics' WS (reserving items by LP) is the wait-and-see program's optimum
    whole = solve_program(data, SolveConfig(), SolveRequest.wait_and_see())
    full = diagnostics.compute_diagnostics(inst, data, rp, request=SolveRequest(recourse=CAUSAL))
    assert full.ws == pytest.approx(whole.objective, rel=1e-7)
    assert full.hindsight_bound == pytest.approx(priced.objective, rel=1e-9)


def test_wait_and_see_in_scenario_blocks_equals_one_solve(reserving, monkeypatch):
    _, data = reserving
    whole = solve_program(data, SolveConfig(), SolveRequest.wait_and_see()).objective
    monkeypatch.setattr(diagnostics, "WS_BLOCK", 3)  # 8 scenarios: blocks of 3, 3 and 2
    blocks = diagnostics.solve_wait_and_see(data, SolveConfig())
    assert blocks == pytest.approx(whole, rel=1e-7)
    assert data.n_scenarios % 3  # the last block is shorter: its mass weighs it


@pytest.mark.parametrize("cvar_weight", [0.0, 0.4])
def test_causal_cost_by_the_kernel_equals_the_numpy_run(cvar_weight):
    inst = make_instance(
        4,
        scenarios=15,
        periods=5,
        seed=4,
        emergency=True,
        reserve=True,
        cvar_weight=cvar_weight,
        black_swan=True,
    )
    data = program_data(inst, generate_scenarios(inst))
    S = data.min_base_stock + 1.3 * data.mean + 0.5
    K = np.where(data.reserves, 1.5, 0.0)
    ref = evaluate_causal(data, S, K, check_fill_rate=False, check_plan_rows=False)
    assert diagnostics.causal_cost(data, S, K) == pytest.approx(ref.objective, rel=1e-10)
    assert (ref.objective != ref.expected_cost) == (cvar_weight > 0)


def test_headline_sizes_the_next_round_from_the_variance(monkeypatch):
    from optimizer.analysis import headline
    from optimizer.analysis.policies import newsvendor_policy

    inst = make_instance(3, scenarios=10, periods=4, seed=5, disruption=0.3)
    plan = newsvendor_policy(inst)
    args = (inst, plan.base_stock, plan.reserved)
    first = headline.honest_cost(*args, batch=50, max_scenarios=50)
    costs = first.evaluation.scenario_cost
    assert first.totals == (50,) and costs.size == 50
    t = diagnostics.t_quantile(0.975, 49)
    need = (t * costs.std(ddof=1) / (0.04 * costs.mean())) ** 2
    assert headline.scenarios_needed(costs, 0.04) == pytest.approx(need, rel=1e-12)
    assert need > 55  # the first batch is not enough
    tight = headline.honest_cost(*args, batch=50, max_scenarios=100_000, rel_half_width=0.04)
    assert tight.tight and tight.rounds >= 2 and tight.totals[0] == 50
    # every round: the scenarios the spread so far asks for, at least a tenth more
    pooled = tight.evaluation.scenario_cost
    np.testing.assert_array_equal(pooled[:50], costs)
    for before, after in zip(tight.totals, tight.totals[1:], strict=False):
        asked = headline.scenarios_needed(pooled[:before], 0.04)
        assert after == max(int(np.ceil(asked)), int(np.ceil(0.1 * before)) + before)
        iv = diagnostics.mean_ci(pooled[:before])
        assert (iv.high - iv.low) / 2 > 0.04 * iv.mean  # it was not tight yet
    assert tight.interval.scenarios == tight.totals[-1] == pooled.size
    # a round of many scenarios comes in batches no larger than the first one
    monkeypatch.setattr(headline, "BATCH_CELLS", 1)
    cut = headline.honest_cost(*args, batch=50, max_scenarios=100_000, rel_half_width=0.04)
    sizes = np.diff((0, *cut.totals))
    assert cut.batches == sum(int(np.ceil(z / 50)) for z in sizes) > cut.rounds
    np.testing.assert_array_equal(cut.evaluation.scenario_cost[:50], costs)
