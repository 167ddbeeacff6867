"""The CVaR blend of the causal program: ``causal-cvar`` against the Pyomo MILP and numpy.

* the master LP written for HiGHS is the Pyomo master of :mod:`models.cvar_master`, entry
  by entry, and its incremental solve gives the same value, mix and weights as a fresh
  solve; its weights satisfy the dual form of CVaR and price every column at or above
  the master's value (LP duality);
* the vectorised blend equals :func:`optimizer.program.verifier.cvar`, and :math:`CVaR` is
  the maximum over the admissible weights (a brute force over the dual polytope's
  vertices);
* on tiny instances of every kind the engine accepts, its plan's blend equals the optimum
  of ``causal-milp`` (HiGHS branch and bound on :mod:`models.causal`) to 1e-6, the plan
  re-played by the numpy simulation costs what the engine says, and its bound lies
  below that optimum;
* the whole-unit local search ends at a plan no single-unit move improves;
* the causal engine prices a fixed plan with the blend, as the numpy run does.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.cvar_master import build_cvar_master
from optimizer.engines.base import CAUSAL, SolveConfig, SolveRequest
from optimizer.engines.causal_cvar import blend, blend_rows, polish, solve_cvar
from optimizer.engines.causal_cvar_master import MasterLP, admissible, master_lp
from optimizer.engines.dispatch import solve_program
from optimizer.engines.highs import compile_pyomo, solve_lp
from optimizer.program.simulate import evaluate_causal, simulate_plan
from optimizer.program.verifier import cvar, evaluate_solution
from tests.test_causal_model import FREE, KINDS, make_data

TOL = 1e-6
REQUEST = SolveRequest(recourse=CAUSAL, integer=True)


def _columns(seed: int, k: int = 4, N: int = 7):
    rng = np.random.default_rng(seed)
    C = rng.gamma(2.0, 50.0, size=(k, N))
    p = rng.dirichlet(np.ones(N))
    return C, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_master_lp_is_the_pyomo_master(seed):
    C, p = _columns(seed)
    compiled = compile_pyomo(build_cvar_master(C, p, 0.8, 0.4)).lp
    mine = master_lp(C, p, 0.8, 0.4)
    np.testing.assert_allclose(mine.A.toarray(), compiled.A.toarray(), rtol=1e-14)
    for a, b in [
        (mine.c, compiled.c),
        (mine.row_lb, compiled.row_lb),
        (mine.row_ub, compiled.row_ub),
        (mine.col_lb, compiled.col_lb),
        (mine.col_ub, compiled.col_ub),
    ]:
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("alpha, weight", [(0.8, 0.4), (0.5, 1.0), (0.95, 0.3)])
def test_incremental_master_equals_a_fresh_solve_and_prices_by_duality(alpha, weight):
    C, p = _columns(7, k=5, N=9)
    master = MasterLP(p, alpha, weight)
    for j in range(C.shape[0]):
        master.add(C[j])
        value, mu, q = master.solve()
        fresh = solve_lp(master_lp(C[: j + 1], p, alpha, weight))
        assert value == pytest.approx(fresh.objective, rel=1e-9)
        # the value is the blend of the mixed scenario costs, no more than any column's
        assert value == pytest.approx(blend(mu @ C[: j + 1], p, alpha, weight), rel=1e-9)
        assert all(value <= blend(C[i], p, alpha, weight) + 1e-9 for i in range(j + 1))
        # q = (1 - lambda) p + pi with 0 <= pi <= lambda p / (1 - alpha), sum pi = lambda
        pi = q - (1.0 - weight) * p
        assert pi.sum() == pytest.approx(weight, rel=1e-12)
        assert np.all(pi >= -1e-12) and np.all(pi <= weight * p / (1 - alpha) + 1e-12)
        # LP duality: every column prices at or above the value, the mixed ones at it
        prices = C[: j + 1] @ q
        assert prices.min() == pytest.approx(value, rel=1e-7)
        assert np.all(prices[mu > 1e-9] == pytest.approx(value, rel=1e-7))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 6),
    st.sampled_from([0.0, 0.5, 0.75, 0.9]),
    st.floats(0.05, 1.0),
)
def test_blend_is_the_maximum_over_the_dual_weights(seed, N, alpha, weight):
    rng = np.random.default_rng(seed)
    C = rng.integers(0, 5, size=(3, N)).astype(float)  # ties on purpose
    p = rng.dirichlet(np.ones(N))
    rows = blend_rows(C, p, alpha, weight)
    for r in range(3):
        direct = (1 - weight) * (p @ C[r]) + weight * cvar(C[r], p, alpha)
        assert rows[r] == pytest.approx(direct, rel=1e-12, abs=1e-12)
        # CVaR = max over {0 <= pi <= p/(1-alpha), sum pi = 1} of pi . C: a vertex fills
        # the caps in some order of the scenarios
        best = -np.inf
        for order in itertools.permutations(range(N)):
            pi, left = np.zeros(N), 1.0
            for w in order:
                pi[w] = min(p[w] / (1 - alpha), left)
                left -= pi[w]
            best = max(best, float(pi @ C[r]))
        assert cvar(C[r], p, alpha) == pytest.approx(best, rel=1e-12, abs=1e-12)


#: Tiny kinds with the blend: the single-item and two-item sets of the causal model tests.
CVAR_KINDS = {
    **{f"1:{k}": dict(v, cvar_weight=0.5) for k, v in FREE.items() if "budget" not in k},
    **{
        f"2:{k}": dict(v, cvar_weight=v.get("cvar_weight", 0.6))
        for k, v in KINDS.items()
        if "budget" not in k and "storage" not in k
    },
}
CVAR_KINDS = {k: v for k, v in CVAR_KINDS.items() if "storage" not in k}
#: Kinds whose MILP takes seconds (branching on emergency binaries): in the slow set.
HEAVY = {"2:emergency", "2:reserved", "2:reserved_backorder", "2:lost_sales", "2:cvar"}


@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, marks=pytest.mark.slow) if k in HEAVY else k for k in CVAR_KINDS],
)
def test_cvar_engine_reaches_the_milp_optimum(kind):
    data = make_data(**CVAR_KINDS[kind])
    milp = solve_program(data, SolveConfig(engine="causal-milp"), REQUEST)
    fast = solve_program(data, SolveConfig(engine="causal-cvar"), REQUEST)
    assert milp.outcome.value == "optimal"
    assert fast.objective == pytest.approx(milp.objective, rel=TOL, abs=TOL)
    # the bound is a bound, and the reported gap is the distance to it
    bound = fast.details["lower_bound"]
    assert bound <= milp.objective * (1 + TOL) + TOL
    assert fast.gap == pytest.approx(
        0.0 if fast.outcome.value == "optimal" else (fast.objective - bound) / fast.objective,
        abs=1e-9,
    )
    # the plan, played by the independent numpy simulation, costs what it says
    ev = evaluate_solution(
        data, fast.base_stock, fast.reserved, simulate_plan(data, fast.base_stock, fast.reserved)
    )
    assert ev.objective == pytest.approx(fast.objective, rel=1e-9, abs=1e-9)
    assert ev.expected_cost == pytest.approx(fast.details["expected_cost"], rel=1e-9)
    assert ev.max_residual < 1e-9  # fill-rate targets hold
    assert np.all(fast.base_stock == np.round(fast.base_stock))


def test_local_search_ends_where_no_unit_move_helps():
    data = make_data(n_items=3, mean=(3.0, 4.0, 2.0), cvar_weight=0.8, scenarios=8, seed=11)
    lower = np.ceil(data.min_base_stock - 1e-9)
    start = lower + 6.0  # far from the optimum
    S, K, phi = polish(data, start, np.zeros(3), lower)
    ev = evaluate_causal(data, S, K)
    assert phi == pytest.approx(ev.objective, rel=1e-12)
    assert phi < evaluate_causal(data, start, np.zeros(3)).objective
    for i, step in itertools.product(range(3), (-1.0, 1.0)):
        moved = S.copy()
        moved[i] += step
        if moved[i] >= lower[i]:
            assert evaluate_causal(data, moved, K).objective >= phi - 1e-9


def test_solve_cvar_refuses_continuous_levels():
    with pytest.raises(ValueError, match="whole units"):
        solve_cvar(make_data(**FREE["cvar"]), integer=False)


def test_fixed_plan_under_the_blend_is_priced_by_the_blend():
    data = make_data(**CVAR_KINDS["2:cvar"])
    S = np.ceil(data.min_base_stock) + 3.0
    request = SolveRequest(recourse=CAUSAL, base_stock=S, reserved=np.zeros(data.n_items))
    sol = solve_program(data, SolveConfig(engine="causal"), request)  # verified inside
    ev = evaluate_causal(data, S, np.zeros(data.n_items))
    assert sol.objective == pytest.approx(ev.objective, rel=1e-12)
    assert ev.objective > ev.expected_cost  # the blend, not the mean


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 30), st.floats(0.5, 0.99), st.floats(0.05, 1.0))
def test_tail_duals_are_projected_onto_the_admissible_weights(seed, N, alpha, weight):
    """Weights a little off (as a solver's tolerances leave them) come back admissible."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(N))
    cap = weight * p / (1 - alpha)
    pi = np.clip(rng.uniform(-0.01, 1.01, N) * cap * rng.uniform(0.5, 2.0), -1e-3, None)
    out = admissible(pi, p, alpha, weight)
    assert out.sum() == pytest.approx(weight, rel=1e-12)
    assert np.all(out >= 0) and np.all(out <= cap * (1 + 1e-12))
