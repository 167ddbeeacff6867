"""The causal-second-stage MILP (:mod:`models.causal`) against the causal simulation.

(a) With the plan fixed, the MILP's objective and recourse are those of
:func:`~optimizer.program.simulate.simulate_plan` priced by
:func:`~optimizer.program.verifier.evaluate_solution`; (b) with the plan free, the MILP
optimum over whole-unit plans is a brute-force minimum over a grid of plans priced the
same way (plan rows, fill-rate rows and CVaR respected); (c) the hindsight program of
:mod:`models.two_stage` is a relaxation of it. Every instance kind is tiny (1-2 items,
4-8 scenarios, horizons up to ~20).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pyomo.environ as pyo
import pytest

from models.causal import (
    build_causal_model,
    causal_bounds,
    exact_lp_items,
    no_shortage_level,
    plan_values,
    recourse_values,
    round_plan,
)
from models.two_stage import build_extensive_form, fix_plan
from optimizer.engines.causal_milp import solve_milp
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import simulate_plan
from optimizer.program.verifier import cvar, evaluate_solution
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance

TOL = 1e-6


def make_data(
    n_items: int = 2,
    *,
    mean: tuple[float, ...] = (4.0, 6.0),
    lead: tuple[int, ...] | None = None,
    supplier: tuple[int, ...] | None = None,
    unlimited: bool = False,
    budget_share: float | None = None,
    storage_share: float | None = None,
    penalty_scale: float = 1.0,
    scenarios: int = 6,
    periods: int = 6,
    seed: int = 3,
    **kw,
) -> ProgramData:
    """Factory instance with small demands (short brute-force grids) and costly holding.

    ``lead`` / ``supplier`` override the factory's lead times and supplier choice
    (supplier 1 is the unreliable one), ``penalty_scale`` multiplies the stockout
    penalties, ``unlimited`` gives emergency sources unlimited capacity, and
    ``budget_share`` / ``storage_share`` put the limit that share of the way from the
    pipeline minimum to twice the (L+1)-period mean.
    """
    inst = make_instance(
        n_items, scenarios=scenarios, periods=periods, seed=seed, periods_per_year=4.0, **kw
    )
    it = inst.items
    mu = np.asarray(mean[:n_items], dtype=float)
    cap = np.where(np.isfinite(it.emergency_capacity), np.ceil(0.5 * mu), np.inf)
    changes: dict = {
        "demand_mean": mu,
        "demand_std": (0.5 * mu).round(2),
        "emergency_capacity": np.full(n_items, np.inf) if unlimited else cap,
    }
    if lead is not None:
        changes["lead_time"] = np.asarray(lead[:n_items], dtype=np.int64)
    if supplier is not None:
        changes["supplier"] = np.asarray(supplier[:n_items], dtype=np.int64)
    inst = dataclasses.replace(inst, items=dataclasses.replace(it, **changes))
    data = program_data(inst, generate_scenarios(inst))
    pipe = data.lead * data.mean
    full = 2 * (data.lead + 1) * data.mean

    def limit(share, weight):
        return None if share is None else float(weight @ pipe + share * (weight @ (full - pipe)))

    return dataclasses.replace(
        data,
        budget=limit(budget_share, data.unit_cost),
        storage=limit(storage_share, data.volume),
        penalty=data.penalty * penalty_scale,
    )


#: Every instance kind; each entry is ``make_data`` keyword arguments.
KINDS = {
    "lost_sales": dict(),
    "backorder": dict(shortage="backorder"),
    "lead_0": dict(lead=(0, 0)),
    "lead_3_4": dict(lead=(3, 4), periods=5),
    "lead_3_4_backorder": dict(lead=(3, 4), periods=5, shortage="backorder"),
    "outage_queue": dict(supplier=(1, 1), disruption=0.4),
    "outage_queue_backorder": dict(supplier=(1, 1), disruption=0.4, shortage="backorder"),
    "black_swan": dict(black_swan=True, disruption=0.2),
    "emergency": dict(emergency=True),
    # premium above the penalty: the run still buys before it loses (the min is not
    # forced by costs)
    "emergency_dear": dict(emergency=True, penalty_scale=0.2),
    "emergency_unlimited": dict(emergency=True, unlimited=True, shortage="backorder"),
    "emergency_backorder": dict(emergency=True, shortage="backorder", supplier=(1, 0)),
    "reserved": dict(emergency=True, reserve=True, supplier=(1, 0), penalty_scale=2.0),
    "reserved_backorder": dict(emergency=True, reserve=True, shortage="backorder"),
    "budget": dict(budget_share=0.25),
    "storage_backorder": dict(storage_share=0.25, shortage="backorder"),
    "fill_rate": dict(fill_rate=0.97, supplier=(1, 1)),
    "fill_rate_backorder": dict(fill_rate=0.97, shortage="backorder"),
    "cvar": dict(cvar_weight=0.5),
    "cvar_backorder_budget": dict(cvar_weight=0.7, shortage="backorder", budget_share=0.4),
}


#: Kinds whose free MILPs take seconds (branching on emergency binaries).
HEAVY = {"emergency_backorder", "reserved", "reserved_backorder"}


def _kinds(kinds, heavy=HEAVY):
    return [pytest.param(k, marks=pytest.mark.slow) if k in heavy else k for k in kinds]


def causal_cost(data: ProgramData, S: np.ndarray, K: np.ndarray):
    """The simulated plan priced by the verifier (fill rate and plan rows not checked)."""
    return evaluate_solution(
        data, S, K, simulate_plan(data, S, K), check_fill_rate=False, check_plan_rows=False
    )


def solved(model: pyo.ConcreteModel):
    res = solve_milp(model)
    assert res.optimal, str(res)
    return res


def plans(data: ProgramData, rng: np.random.Generator, count: int = 3):
    """Lean, middling and ample plans (reserved capacity drawn in [0, capacity])."""
    low = data.min_base_stock
    high = no_shortage_level(data).max(axis=1)
    for share in np.linspace(0.15, 1.1, count):
        S = np.round(low + share * (high - low) + rng.uniform(-0.5, 0.5, data.n_items), 2)
        S = np.maximum(S, low)
        K = np.where(data.reserves, rng.uniform(0.0, 1.0, data.n_items) * data.capacity, 0.0)
        yield S, np.where(np.isfinite(K), K, 0.0)


# --- (a) fixed plans ------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_fixed_plan_is_the_causal_run(kind):
    data = make_data(**KINDS[kind])
    rng = np.random.default_rng(11)
    for j, (S, K) in enumerate(plans(data, rng)):
        ref = causal_cost(data, S, K)
        for exact_lp in (False, True) if j == 0 else (False,):
            m = build_causal_model(
                data, base_stock=S, reserved=K, keep_fill_rate=False, lp_where_exact=exact_lp
            )
            res = solved(m)
            assert res.objective == pytest.approx(ref.objective, rel=TOL, abs=TOL)
            if not exact_lp:  # every item's mins are binaries: the arrays are the run's
                rec, sim = recourse_values(m, data), simulate_plan(data, S, K)
                for name in ("I", "s", "n", "e", "B", "r"):
                    np.testing.assert_allclose(
                        getattr(rec, name), getattr(sim, name), atol=1e-6, err_msg=name
                    )


def test_fixed_plan_keeps_fill_rate_rows():
    """With the rows kept, a plan that misses a target is infeasible, one that meets
    it is priced as before; no objective is reported without an optimal status."""
    data = make_data(fill_rate=0.97, supplier=(1, 1))
    lean = data.min_base_stock + 1.0
    assert (causal_cost(data, lean, np.zeros(2)).fill_rate < 0.97).any()
    res = solve_milp(build_causal_model(data, base_stock=lean, reserved=np.zeros(2)))
    assert not res.optimal and not res.has_plan
    assert res.termination.name == "provenInfeasible"
    assert np.isnan(res.objective)
    ample = no_shortage_level(data).max(axis=1)
    res = solved(build_causal_model(data, base_stock=ample))
    assert res.objective == pytest.approx(causal_cost(data, ample, np.zeros(2)).objective)


def test_fixed_plan_below_pipeline_is_refused():
    data = make_data(lead=(2, 2))
    with pytest.raises(ValueError, match="pipeline"):
        build_causal_model(data, base_stock=data.min_base_stock - 1.0)
    with pytest.raises(ValueError, match="one plan"):
        build_causal_model(data, nonanticipative=False, base_stock=data.min_base_stock)


# --- the big-M constants --------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["lost_sales", "outage_queue_backorder", "lead_3_4_backorder", "black_swan"]
)
def test_no_shortage_level_is_the_threshold(kind):
    """From S-bar on the run never runs short; half a unit below it, it does."""
    data = make_data(**KINDS[kind])
    level = no_shortage_level(data).max(axis=1)
    run = simulate_plan(data, level, np.zeros(data.n_items))
    assert np.abs(run.n).max() < 1e-9 and np.abs(run.e).max() < 1e-9
    for i in range(data.n_items):
        S = level.copy()
        S[i] -= 0.5
        if S[i] < data.min_base_stock[i]:
            continue
        short = simulate_plan(data, S, np.zeros(data.n_items))
        assert short.n[i].max() > 1e-9 or short.e[i].max() > 1e-9


@pytest.mark.parametrize("kind", ["backorder", "outage_queue_backorder", "reserved", "emergency"])
def test_big_m_constants_hold_on_causal_runs(kind):
    """Every plan within the bounds runs within the big-M constants of the free model."""
    data = make_data(**KINDS[kind])
    b = causal_bounds(data)
    rng = np.random.default_rng(5)
    for _ in range(20):
        S = b.s_lower + rng.uniform(0, 1, data.n_items) * (b.s_upper[:, 0] - b.s_lower)
        K = rng.uniform(0, 1, data.n_items) * b.k_upper
        run = simulate_plan(data, S, K)
        assert (run.I <= b.stock + 1e-9).all()
        assert (run.s + run.I <= b.after_backlog + 1e-9).all()
        assert (run.B <= b.backlog + 1e-9).all()


# --- (b) free plans against brute force -----------------------------------------------


def _item_grid(data: ProgramData, i: int, margin: int = 3):
    """Integer (S, K) candidates of item ``i``: S from ceil(L mu) to a few units past the
    model's bound (so a wrong bound would show), K over the whole capacity."""
    lo = int(np.ceil(data.min_base_stock[i] - 1e-9))
    hi = int(np.ceil(no_shortage_level(data)[i].max() - 1e-9)) + margin
    ks = np.arange(0, int(data.capacity[i]) + 1) if data.reserves[i] else np.zeros(1)
    return [(float(s), float(k)) for s in range(lo, hi + 1) for k in ks]


def _priced_grid(data: ProgramData, i: int):
    """Each candidate of item ``i`` simulated and priced (one copy of the item per
    candidate, so one vectorised run)."""
    cand = _item_grid(data, i)
    copies = data.item(np.full(len(cand), i))
    S = np.array([c[0] for c in cand])
    K = np.array([c[1] for c in cand])
    ev = causal_cost(copies, S, K)
    return S, K, ev.item_scenario_cost, ev.fill_rate


def brute_force(data: ProgramData) -> tuple[float, np.ndarray, np.ndarray]:
    """Best objective over the grid of whole-unit plans (plan and fill-rate rows kept)."""
    n, p = data.n_items, data.probability
    grids = [_priced_grid(data, i) for i in range(n)]
    best, arg = np.inf, None
    for combo in itertools.product(*(range(len(g[0])) for g in grids)):
        S = np.array([grids[i][0][g] for i, g in enumerate(combo)])
        if data.budget is not None and data.unit_cost @ S > data.budget + 1e-9:
            continue
        if data.storage is not None and data.volume @ S > data.storage + 1e-9:
            continue
        fill = np.array([grids[i][3][g] for i, g in enumerate(combo)])
        target = np.nan_to_num(data.fill_rate, nan=0.0)
        if (fill < target - 1e-9).any():
            continue
        C = sum(grids[i][2][g] for i, g in enumerate(combo))
        lam = data.cvar_weight
        value = float(p @ C)
        if lam > 0:
            value = (1 - lam) * value + lam * cvar(C, p, data.cvar_alpha)
        if value < best - 1e-12:
            K = np.array([grids[i][1][g] for i, g in enumerate(combo)])
            best, arg = value, (S, K)
    assert arg is not None, "no feasible plan on the grid"
    return best, arg[0], arg[1]


#: Kinds of the brute-force comparison, with their own (smaller) sizes where the grid or
#: the MILP would otherwise grow.
FREE = {
    "lost_sales": dict(n_items=1, mean=(5.0,)),
    "backorder": dict(n_items=1, mean=(5.0,), shortage="backorder"),
    "lead_3_4": dict(n_items=2, mean=(2.0, 1.5), lead=(3, 4), periods=5),
    "outage_queue": dict(n_items=1, mean=(4.0,), supplier=(1,), disruption=0.4),
    "outage_queue_backorder": dict(
        n_items=1, mean=(4.0,), supplier=(1,), disruption=0.4, shortage="backorder"
    ),
    "black_swan": dict(n_items=1, mean=(4.0,), black_swan=True, scenarios=8),
    "emergency": dict(n_items=1, mean=(6.0,), emergency=True, supplier=(1,)),
    "emergency_backorder": dict(
        n_items=1, mean=(6.0,), emergency=True, supplier=(1,), shortage="backorder"
    ),
    "reserved": dict(
        n_items=1, mean=(6.0,), emergency=True, reserve=True, supplier=(1,), penalty_scale=2.0
    ),
    "budget": dict(mean=(3.0, 4.0), budget_share=0.25),
    "storage_backorder": dict(mean=(3.0, 4.0), storage_share=0.2, shortage="backorder"),
    "fill_rate": dict(n_items=1, mean=(4.0,), fill_rate=0.97, supplier=(1,)),
    "fill_rate_backorder": dict(
        n_items=1, mean=(4.0,), fill_rate=0.98, supplier=(1,), shortage="backorder"
    ),
    "cvar": dict(n_items=1, mean=(5.0,), cvar_weight=0.6, supplier=(1,)),
    "cvar_budget_backorder": dict(
        mean=(3.0, 2.0), cvar_weight=0.5, shortage="backorder", budget_share=0.35
    ),
}


@pytest.mark.parametrize("kind", _kinds(FREE, {"emergency_backorder"}))
def test_free_plan_is_the_brute_force_optimum(kind):
    data = make_data(**FREE[kind])
    best, S_bf, K_bf = brute_force(data)
    m = build_causal_model(data, integer=True)
    res = solved(m)
    assert res.objective == pytest.approx(best, rel=TOL, abs=TOL)
    S, K = plan_values(m, data)
    S, K = round_plan(S), round_plan(K)
    ev = evaluate_solution(data, S, K, simulate_plan(data, S, K))
    assert ev.objective == pytest.approx(best, rel=TOL, abs=TOL)
    assert ev.max_residual < 1e-9  # fill-rate and plan rows met by the MILP's plan
    # the grid's plan is as good as the MILP's (both optimal, possibly different)
    assert causal_cost(data, S_bf, K_bf).objective == pytest.approx(best, rel=TOL, abs=TOL)


def test_wait_and_see_is_the_per_scenario_brute_force():
    """WS: each scenario's own best whole-unit plan, in expectation; below RP."""
    data = make_data(n_items=1, mean=(5.0,), supplier=(1,), disruption=0.4)
    S, K, C, _ = _priced_grid(data, 0)
    expected = float(data.probability @ C.min(axis=0))
    ws = solved(build_causal_model(data, nonanticipative=False, integer=True))
    assert ws.objective == pytest.approx(expected, rel=TOL, abs=TOL)
    rp = solved(build_causal_model(data, integer=True))
    assert ws.objective <= rp.objective + TOL
    assert rp.objective > expected + 1e-3  # this instance has a real EVPI


@pytest.mark.parametrize("kind", ["backorder", "storage_backorder", "cvar_budget_backorder"])
def test_exact_lp_items_need_no_binaries(kind):
    """Backorder items without emergency or fill-rate rows: the hindsight rows give the
    same optimum as the binaries."""
    data = make_data(**FREE[kind])
    assert exact_lp_items(data, fill_rows=True).all()
    lp = build_causal_model(data, integer=True)
    full = build_causal_model(data, integer=True, lp_where_exact=False)
    r_lp, r_full = solved(lp), solved(full)
    assert r_lp.objective == pytest.approx(r_full.objective, rel=TOL, abs=TOL)
    assert r_lp.n_integer == data.n_items and r_full.n_integer > 10 * data.n_items


# --- (c) the hindsight program is a relaxation ----------------------------------------


@pytest.mark.parametrize("kind", _kinds(KINDS))
def test_hindsight_is_a_relaxation(kind):
    """Hindsight RP <= causal RP, hindsight WS <= causal WS <= causal RP, and for a fixed
    plan the hindsight recourse costs no more than the causal run."""
    data = make_data(**KINDS[kind])
    hindsight = solved(build_extensive_form(data)).objective
    causal = solved(build_causal_model(data)).objective
    assert hindsight <= causal + TOL
    ws_h = solved(build_extensive_form(data, nonanticipative=False)).objective
    ws_c = solved(build_causal_model(data, nonanticipative=False)).objective
    assert ws_h <= ws_c + TOL and ws_c <= causal + TOL
    for S, K in plans(data, np.random.default_rng(2), count=2):
        m = build_extensive_form(data)
        fix_plan(m, S, K, keep_fill_rate=False)
        assert solved(m).objective <= causal_cost(data, S, K).objective + TOL


def test_hindsight_is_strictly_optimistic_with_lost_sales():
    """The gap the causal model exists for: with lost sales the hindsight in-sample cost
    is below the causal optimum, which no plan (the hindsight one included) beats."""
    data = make_data(**KINDS["outage_queue"])
    h_model, c_model = build_extensive_form(data), build_causal_model(data)
    hindsight, causal = solved(h_model).objective, solved(c_model).objective
    assert hindsight < causal - 1.0
    S_h = np.array([pyo.value(h_model.S[i]) for i in range(data.n_items)])
    # the hindsight plan run causally costs at least the causal optimum
    assert causal_cost(data, S_h, np.zeros(2)).objective >= causal - TOL
