"""The causal engines against each other and the numpy causal run.

``causal`` (per-item exact-derivative searches) must reach the optimum of ``causal-milp``
(the Pyomo model of :mod:`models.causal` solved by HiGHS's branch and bound) on tiny
instances of every kind it accepts; both answers are re-evaluated by the numpy causal
simulation; ``auto`` picks a causal engine for a causal request and a hindsight engine
otherwise; the engines of the other recourse decline with their reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engines.base import CAUSAL, SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.errors import EngineDeclinedError
from optimizer.program.simulate import evaluate_causal, simulate_plan
from optimizer.program.verifier import evaluate_solution
from tests.test_causal_model import FREE, KINDS, make_data

TOL = 1e-6
CAUSAL_REQUEST = SolveRequest(recourse=CAUSAL, integer=True)
#: The fast engine leaves the CVaR blend to ``causal-cvar`` (tests/test_causal_cvar.py).
FAST_KINDS = [k for k in FREE if "cvar" not in k]


def _solve(data, engine, request=CAUSAL_REQUEST):
    return solve_program(data, SolveConfig(engine=engine), request)


def _assert_reaches(fast, milp):
    """The fast answer equals the MILP optimum, or (an open gap is reported) lies between
    the MILP optimum and the bound its gap certifies."""
    assert milp.outcome.value == "optimal"
    if fast.outcome.value == "optimal":
        assert fast.objective == pytest.approx(milp.objective, rel=TOL, abs=TOL)
    else:  # whole units under a binding row: Lagrangian duality gap, reported
        assert fast.outcome.value == "feasible_with_gap" and fast.gap > TOL
        assert milp.objective <= fast.objective * (1 + TOL) + TOL
        assert fast.objective - milp.objective <= fast.gap * max(1.0, fast.objective) + TOL


@pytest.mark.parametrize("kind", FAST_KINDS)
def test_fast_causal_engine_reaches_the_milp_optimum(kind):
    data = make_data(**FREE[kind])
    milp = _solve(data, "causal-milp")
    fast = _solve(data, "causal")
    _assert_reaches(fast, milp)
    if data.budget is None and data.storage is None:
        assert fast.outcome.value == "optimal"
    # the fast plan, played by the independent numpy simulation, costs what it says
    ev = evaluate_solution(
        data, fast.base_stock, fast.reserved, simulate_plan(data, fast.base_stock, fast.reserved)
    )
    assert ev.objective == pytest.approx(fast.objective, rel=1e-9, abs=1e-9)
    assert ev.max_residual < 1e-9  # plan rows and fill-rate targets hold
    assert np.all(fast.base_stock == np.round(fast.base_stock))  # whole units


@pytest.mark.slow
@pytest.mark.parametrize("seed", [30, 31, 34])
@pytest.mark.parametrize("kind", ["budget", "storage_backorder"])
def test_priced_rows_with_three_items(kind, seed):
    """Whole units under a binding row on three items: optimal, or within its gap."""
    kw = dict(KINDS[kind])
    kw.update(n_items=3, mean=(3.0, 4.0, 2.0), scenarios=6, seed=seed)
    data = make_data(**kw)
    _assert_reaches(_solve(data, "causal"), _solve(data, "causal-milp"))


#: Kinds of the wider sweep; single-item ones where branch and bound is slow.
SWEEP = {
    "lost_sales": {},
    "backorder": {},
    "outage_queue": {},
    "outage_queue_backorder": {},
    "black_swan": {},
    "emergency": {},
    "budget": {},
    "storage_backorder": {},
    "fill_rate": {},
    "reserved": dict(n_items=1, mean=(5.0,), supplier=(1,)),
    "emergency_backorder": dict(n_items=1, mean=(5.0,), supplier=(1,)),
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5, 11, 20])
@pytest.mark.parametrize("kind", list(SWEEP))
def test_fast_engine_on_more_items_and_scenarios(kind, seed):
    kw = dict(KINDS[kind])
    kw.update(n_items=2, mean=(3.0, 4.0), scenarios=8, seed=seed)
    kw.update(SWEEP[kind])
    data = make_data(**kw)
    milp = _solve(data, "causal-milp")
    fast = _solve(data, "causal")
    _assert_reaches(fast, milp)
    if data.budget is None and data.storage is None:
        assert fast.outcome.value == "optimal"


@pytest.mark.parametrize("kind", ["lost_sales", "backorder", "reserved", "fill_rate"])
def test_fixed_plan_is_priced_by_the_causal_run(kind):
    data = make_data(**KINDS[kind])
    rng = np.random.default_rng(0)
    S = data.min_base_stock + rng.integers(0, 8, data.n_items)
    K = np.where(data.reserves, 2.0, 0.0)
    request = SolveRequest(recourse=CAUSAL, base_stock=S, reserved=K, keep_fill_rate=False)
    expected = evaluate_causal(data, S, K, check_fill_rate=False, check_plan_rows=False)
    for engine in ("causal", "causal-milp"):
        sol = _solve(data, engine, request)
        assert sol.objective == pytest.approx(expected.objective, rel=TOL, abs=TOL), engine


def test_chunked_causal_evaluation_equals_the_whole_one():
    data = make_data(n_items=2, **KINDS["outage_queue"])
    S = data.min_base_stock + 5
    K = np.zeros(data.n_items)
    whole = evaluate_solution(data, S, K, simulate_plan(data, S, K))
    chunked = evaluate_causal(data, S, K, chunk=1)
    assert chunked.objective == pytest.approx(whole.objective, rel=1e-12)
    np.testing.assert_allclose(chunked.scenario_cost, whole.scenario_cost, rtol=1e-12)
    np.testing.assert_allclose(chunked.lines, whole.lines, rtol=1e-12)
    np.testing.assert_allclose(chunked.fill_rate, whole.fill_rate, rtol=1e-12)


def test_auto_takes_a_causal_engine_only_for_a_causal_request():
    data = make_data(**FREE["lost_sales"])
    assert _solve(data, "auto").engine == "causal"
    assert _solve(data, "auto", SolveRequest()).engine == "flow"
    cvar = make_data(**FREE["cvar"])
    sol = _solve(cvar, "auto")
    assert sol.engine == "causal-cvar"
    assert "CVaR" in sol.declined["causal"]  # and it says why the fast engine passed
    # continuous levels and a plan row under the blend: the MILP
    sol = _solve(cvar, "auto", SolveRequest(recourse=CAUSAL, integer=False))
    assert sol.engine == "causal-milp" and "whole units" in sol.declined["causal-cvar"]
    rows = make_data(**FREE["cvar_budget_backorder"])
    sol = _solve(rows, "auto")
    assert sol.engine == "causal-milp" and "budget" in sol.declined["causal-cvar"]


def test_engines_of_the_other_recourse_decline_with_their_reason():
    data = make_data(**FREE["lost_sales"])
    with pytest.raises(EngineDeclinedError, match="hindsight"):
        _solve(data, "flow")
    with pytest.raises(EngineDeclinedError, match="causal recourse"):
        _solve(data, "causal", SolveRequest())


def test_causal_optimum_is_never_below_the_hindsight_one():
    for kind in ("lost_sales", "outage_queue", "emergency"):
        data = make_data(**FREE[kind])
        causal = _solve(data, "causal")
        hindsight = solve_program(data, SolveConfig(), SolveRequest())
        assert hindsight.objective <= causal.objective + TOL


def test_time_limited_search_in_chunks_gives_the_same_plan(monkeypatch):
    """Items are independent: searched one chunk at a time they get the same levels."""
    import optimizer.engines.causal as causal_module

    monkeypatch.setattr(causal_module, "TIME_CHUNK", 1)
    data = make_data(
        n_items=3, mean=(3.0, 4.0, 2.0), fill_rate=0.97, supplier=(1, 1, 0), scenarios=8
    )
    whole = _solve(data, "causal")
    chunked = solve_program(data, SolveConfig(engine="causal", time_limit=3600.0), CAUSAL_REQUEST)
    np.testing.assert_array_equal(chunked.base_stock, whole.base_stock)
    assert chunked.outcome.value == whole.outcome.value == "optimal"


def test_time_limit_returns_a_plan_with_the_rest_at_cover(monkeypatch):
    """Out of time after the first chunk: a feasible plan, said to be one, rows held."""
    import optimizer.engines.causal as causal_module

    monkeypatch.setattr(causal_module, "TIME_CHUNK", 1)
    data = make_data(
        n_items=3, mean=(3.0, 4.0, 2.0), fill_rate=0.97, supplier=(1, 1, 0), scenarios=8
    )
    whole = _solve(data, "causal")
    sol = solve_program(data, SolveConfig(engine="causal", time_limit=1e-9), CAUSAL_REQUEST)
    assert sol.outcome.value == "feasible_at_limit"
    assert sol.details["items_searched"] == 1 and "time limit" in sol.details["certificate"]
    assert sol.base_stock[0] == whole.base_stock[0]  # the searched item
    cover = np.ceil((data.lead + 1) * data.mean - 1e-9)
    assert np.all(sol.base_stock[1:] >= cover[1:])  # cover, raised to the fill-rate floor
    assert sol.evaluation.max_residual < 1e-9  # the targets hold (verified by dispatch)
    assert sol.objective >= whole.objective - 1e-9


def test_a_budget_below_the_floor_by_round_off_is_held_not_looped_on():
    """A limit a hair below the pipeline value (accepted as rounding) ends at the floor."""
    import dataclasses

    data = make_data(**FREE["budget"])
    floor = float(data.unit_cost @ np.ceil(data.min_base_stock - 1e-9))
    tight = dataclasses.replace(data, budget=floor * (1 - 1e-13))
    sol = _solve(tight, "causal")
    assert sol.has_plan
    np.testing.assert_allclose(sol.base_stock, np.ceil(data.min_base_stock - 1e-9))
