"""The exact lost-sales flow solver reaches the Pyomo/HiGHS optimum.

:mod:`optimizer.engines.flow_curves` replaces the item LP by successive shortest paths on a
time-ordered graph. It may serve as a fast path only because these tests prove it equal
to the Pyomo extensive form (``ef``) on every eligible instance kind, and to the sparse
LP on randomly drawn single-item programs with degenerate data (ties, zero demands,
long outages, warm-up starts, unlimited and zero emergency capacity).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.engines.flow import PriceSweep, _priced_plan, flow_eligible
from optimizer.engines.flow_curves import ItemCurve, expected_curve, item_recourse, scenario_curves
from optimizer.errors import EngineDeclinedError
from optimizer.program.data import ProgramData, program_data
from optimizer.scenarios import arrival_periods, generate_scenarios
from tests.factories import make_instance

ELIGIBLE = {
    "lost_sales": dict(),
    "emergency": dict(emergency=True, disruption=0.3),
    "reservation": dict(emergency=True, reserve=True, n_items=5, disruption=0.3),
    "budget": dict(budget_share=0.3, emergency=True),
    "storage": dict(storage_share=0.2, disruption=0.4),
    "budget_with_reservation": dict(
        budget_share=0.3, emergency=True, reserve=True, n_items=5, disruption=0.3
    ),
    "storage_with_reservation": dict(
        storage_share=0.15, emergency=True, reserve=True, n_items=6, disruption=0.3, seed=5
    ),
    "black_swan": dict(black_swan=True, emergency=True),
    "long_warmup_and_lead": dict(warmup=4, periods=3),
    "many_scenarios": dict(scenarios=60, emergency=True, disruption=0.3, n_items=2),
}


def _data(kw) -> ProgramData:
    inst = make_instance(**kw)
    return program_data(inst, generate_scenarios(inst))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ELIGIBLE)
def test_flow_engine_equals_the_pyomo_extensive_form(kind):
    data = _data(ELIGIBLE[kind])
    assert flow_eligible(data)
    ref = solve_program(data, SolveConfig("ef"))
    flow = solve_program(data, SolveConfig("flow"))
    assert ref.status.value == flow.status.value == "optimal"
    assert flow.objective == pytest.approx(ref.objective, rel=1e-6)
    # the flow plan priced by the reference model costs the optimum too
    priced = solve_program(
        data, SolveConfig("ef"), SolveRequest(base_stock=flow.base_stock, reserved=flow.reserved)
    )
    assert priced.objective == pytest.approx(ref.objective, rel=1e-6)
    # plan rows hold exactly (verification already checked every residual)
    if data.budget is not None:
        assert data.unit_cost @ flow.base_stock <= data.budget * (1 + 1e-9)
    if data.storage is not None:
        assert data.volume @ flow.base_stock <= data.storage * (1 + 1e-9)


@pytest.mark.parametrize(
    "seed,share,row",
    [
        (1, 0.05, "budget"),
        (2, 0.2, "budget"),
        (3, 0.45, "budget"),
        (4, 0.8, "budget"),
        (6, 0.1, "storage"),
        (7, 0.35, "storage"),
    ],
)
def test_priced_plan_with_reserved_capacity_equals_the_lp(seed, share, row):
    """The model-guided price search with reserving items, on rows from nearly all
    pipeline to barely binding, against the whole extensive form as one LP."""
    kw = dict(
        n_items=8,
        scenarios=20,
        emergency=True,
        reserve=True,
        disruption=0.35,
        seed=seed,
        **{f"{row}_share": share},
    )
    data = _data(kw)
    assert data.reserves.any() and flow_eligible(data)
    ref = solve_program(data, SolveConfig("matrix"))
    flow = solve_program(data, SolveConfig("flow"))
    assert ref.status.value == flow.status.value == "optimal"
    assert flow.objective == pytest.approx(ref.objective, rel=1e-6)
    weight, limit = (
        (data.unit_cost, data.budget) if row == "budget" else (data.volume, data.storage)
    )
    assert weight @ flow.base_stock <= limit * (1 + 1e-9)


def test_price_search_safeguards_reach_the_optimum_with_a_useless_model(monkeypatch):
    """With the price model always answering 0, the search must still bracket the price
    (geometric climb) and close the bracket (steps off the ends, bisection)."""
    kw = dict(
        n_items=8,
        scenarios=20,
        emergency=True,
        reserve=True,
        disruption=0.35,
        seed=2,
        budget_share=0.2,
    )
    data = _data(kw)
    ref = solve_program(data, SolveConfig("matrix"))
    monkeypatch.setattr(PriceSweep, "price", lambda self, room: 0.0)
    flow = solve_program(data, SolveConfig("flow"))
    assert flow.engine == "flow"
    assert flow.objective == pytest.approx(ref.objective, rel=1e-6)
    assert data.unit_cost @ flow.base_stock <= data.budget * (1 + 1e-9)


@pytest.mark.parametrize("kind", ["lost_sales", "emergency", "black_swan"])
def test_flow_wait_and_see_equals_the_extensive_form(kind):
    data = _data(ELIGIBLE[kind])
    ref = solve_program(data, SolveConfig("ef"), SolveRequest.wait_and_see())
    flow = solve_program(data, SolveConfig("flow"), SolveRequest.wait_and_see())
    assert flow.objective == pytest.approx(ref.objective, rel=1e-6)
    assert flow.base_stock.shape == (data.n_items, data.n_scenarios)


@pytest.mark.parametrize("kind", ["emergency", "reservation", "fill_rate"])
def test_flow_prices_a_fixed_plan_like_the_extensive_form(kind):
    kw = (
        dict(fill_rate=0.99, emergency=True, disruption=0.3)
        if kind == "fill_rate"
        else ELIGIBLE[kind]
    )
    data = _data(kw)
    S = (data.lead + 1.3) * data.mean
    K = np.where(data.reserves, np.minimum(data.capacity, 3.0), 0.0)
    ref = solve_program(
        data, SolveConfig("ef"), SolveRequest(base_stock=S, reserved=K, keep_fill_rate=False)
    )
    flow = solve_program(
        data, SolveConfig("flow"), SolveRequest(base_stock=S, reserved=K, keep_fill_rate=False)
    )
    assert flow.objective == pytest.approx(ref.objective, rel=1e-6)


def test_flow_engine_refuses_what_it_cannot_solve():
    for kw in (
        dict(shortage="backorder"),
        dict(cvar_weight=0.5),
        dict(fill_rate=0.99, emergency=True),
    ):
        data = _data(kw)
        assert not flow_eligible(data)
        with pytest.raises(EngineDeclinedError, match="engine 'flow' cannot solve"):
            solve_program(data, SolveConfig("flow"))
    coupled = _data(ELIGIBLE["budget"])
    assert not flow_eligible(coupled, anticipative=True)
    both = _data(dict(budget_share=0.3, storage_share=0.3))
    assert not flow_eligible(both)


def test_auto_uses_the_flow_engine_for_lost_sales():
    data = _data(ELIGIBLE["emergency"])
    assert solve_program(data).engine == "flow"
    assert solve_program(_data(dict(shortage="backorder", emergency=True))).engine != "flow"


# --------------------------------------------------------------- random programs ----
@st.composite
def single_items(draw) -> ProgramData:
    """A one-item lost-sales program with arbitrary (often degenerate) data."""
    N = draw(st.integers(1, 5))
    T = draw(st.integers(1, 5))
    W = draw(st.integers(1, 5))
    H = W + T
    L = draw(st.integers(0, min(3, W)))
    start = draw(st.integers(0, max(0, W - max(L, 1))))
    mean = draw(st.sampled_from([1.0, 2.5, 4.0]))
    demand = np.array(
        draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.5, 6.0]), min_size=N * H, max_size=N * H))
    ).reshape(N, H)
    demand[:, :start] = 0.0
    up = np.array(draw(st.lists(st.booleans(), min_size=N * H, max_size=N * H))).reshape(N, H)
    arrival = arrival_periods(up, L)
    h = draw(st.sampled_from([0.0, 0.1, 1.0, 6.337886538461539]))
    p = draw(st.sampled_from([0.5, 2.0, 9.0, 1718.02]))
    premium = draw(st.sampled_from([0.0, 0.3, 2.0, 12.0]))
    capacity = draw(st.sampled_from([0.0, 1.0, 2.5, np.inf]))
    fee = draw(st.sampled_from([np.nan, 0.05, 0.4])) if 0 < capacity < np.inf else np.nan
    prob = np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=N, max_size=N)))
    one = np.ones(1)
    return ProgramData(
        backorder=False,
        warmup=W,
        periods=T,
        probability=prob / prob.sum(),
        demand=demand[None],
        arrival=arrival[None],
        mean=mean * one,
        lead=np.array([L]),
        carrying=np.array([[h], [0.0], [0.0]]),
        holding=h * one,
        penalty=p * one,
        premium=premium * one if capacity > 0 else 0 * one,
        capacity=capacity * one,
        fee=fee * one,
        fill_rate=np.full(1, np.nan),
        unit_cost=one,
        volume=one,
        budget=None,
        storage=None,
        cvar_alpha=0.9,
        cvar_weight=0.0,
        start=np.array([start]),
    )


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(single_items(), st.floats(0.0, 12.0))
def test_random_items_optimum_and_curve_match_the_lp(data, extra):
    """Optimum, and the cost at an arbitrary plan, equal the LP's."""
    lp = solve_program(data, SolveConfig("matrix"))
    flow = solve_program(data, SolveConfig("flow"))
    assert flow.objective == pytest.approx(lp.objective, rel=1e-7, abs=1e-7)
    S = data.min_base_stock + extra
    K = np.where(data.reserves, data.capacity * 0.5, 0.0)
    lp_fixed = solve_program(data, SolveConfig("matrix"), SolveRequest(base_stock=S, reserved=K))
    flow_fixed = solve_program(data, SolveConfig("flow"), SolveRequest(base_stock=S, reserved=K))
    assert flow_fixed.objective == pytest.approx(lp_fixed.objective, rel=1e-7, abs=1e-7)
    if not data.reserves[0]:
        curve = expected_curve(data, 0)
        fee_free = lp_fixed.objective
        assert curve.value(extra) == pytest.approx(fee_free, rel=1e-7, abs=1e-7)
        assert np.all(np.diff(curve.slope) > 0)  # convex, segments merged
        ws_lp = solve_program(data, SolveConfig("matrix"), SolveRequest.wait_and_see())
        ws_flow = solve_program(data, SolveConfig("flow"), SolveRequest.wait_and_see())
        assert ws_flow.objective == pytest.approx(ws_lp.objective, rel=1e-7, abs=1e-7)


def test_scenario_curves_are_convex_and_end_on_the_hold_slope():
    data = _data(ELIGIBLE["emergency"])
    for i in range(data.n_items):
        c = scenario_curves(data, i)
        seg_x, seg_g, n_seg = c.x, c.slope, c.n_seg
        for w in range(data.n_scenarios):
            g = seg_g[w, : n_seg[w]]
            assert np.all(np.diff(g) >= -1e-9)
            assert np.all(np.diff(seg_x[w, : n_seg[w]]) > 0)
            # beyond the last breakpoint an extra unit just sits on hand all quarter
            assert g[-1] == pytest.approx(data.periods * data.holding[i])


def test_recourse_arrays_reproduce_the_curve():
    data = _data(ELIGIBLE["emergency"])
    for i in range(data.n_items):
        curve = expected_curve(data, i)
        traced = scenario_curves(data, i, with_stock=True)
        for x in (0.0, 0.5 * curve.x[-1], curve.argmin(), curve.x[-1] + 3.0):
            out = item_recourse(data, i, data.min_base_stock[i] + x)
            assert float(data.probability @ out["cost"]) == pytest.approx(
                curve.value(x), rel=1e-9, abs=1e-9
            )
            np.testing.assert_allclose(out["s"] + out["n"] + out["e"], data.demand[i], atol=1e-9)
            # stock interpolated from the traced segment starts is the same optimum
            fast = item_recourse(data, i, data.min_base_stock[i] + x, curves=traced)
            np.testing.assert_allclose(fast["cost"], out["cost"], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(
                traced.values(np.full(data.n_scenarios, x)), out["cost"], rtol=1e-9, atol=1e-9
            )
            S = np.full(data.n_items, data.min_base_stock[i] + x)
            one = data.item(i)
            from optimizer.program.verifier import RecourseArrays, evaluate_solution

            arrays = RecourseArrays(
                **{k: fast[k][None] for k in ("I", "s", "n", "e")},
                B=np.zeros((1, *fast["I"].shape)),
                r=np.zeros((1, *fast["I"].shape)),
            )
            ev = evaluate_solution(one, S[:1], np.zeros(1), arrays)
            assert ev.max_residual <= 1e-9
            assert ev.objective == pytest.approx(
                float(data.probability @ out["cost"]), rel=1e-9, abs=1e-9
            )


def test_price_sweep_splits_a_tied_segment_to_fill_the_row_exactly():
    """Two identical items tie at the optimal price: they share the remaining room."""
    c = ItemCurve(x=np.array([0.0, 2.0, 5.0]), slope=np.array([-3.0, -1.0, 0.5]), value0=10.0)
    x, price = _priced_plan([c, c], np.array([1.0, 1.0]), room=6.0)
    assert price == pytest.approx(1.0)
    np.testing.assert_allclose(x, [3.0, 3.0])
    x, price = _priced_plan([c, c], np.array([1.0, 1.0]), room=20.0)
    assert price == 0.0 and list(x) == [5.0, 5.0]
    x, _ = _priced_plan([c, c], np.array([1.0, 1.0]), room=-1.0)
    assert x is None


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), fill=st.floats(0.0, 1.2))
def test_price_sweep_price_and_row_use_agree_with_item_argmins(seed, fill):
    """The sweep's price for a room and its row use at any price match each curve's own
    smallest minimiser under that price (the model the reserving-item search relies on)."""
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(rng.integers(1, 6)):
        m = int(rng.integers(1, 6))
        x = np.concatenate([[0.0], np.cumsum(rng.uniform(0.1, 3.0, m - 1))])
        slope = np.sort(rng.choice([-4.0, -2.5, -1.0, -0.5, 0.25, 1.0], m))
        slope[-1] = max(slope[-1], 0.1)
        curves.append(ItemCurve(x=x, slope=slope, value0=0.0))
    weight = rng.choice([0.5, 1.0, 2.0], len(curves))
    sweep = PriceSweep(curves, weight)

    def use(price):
        return float(sum(w * c.argmin(price * w) for c, w in zip(curves, weight, strict=True)))

    for price in (0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 9.0):
        assert sweep.use_at(price) == pytest.approx(use(price), abs=1e-9)
    room = fill * sweep.free_use
    price = sweep.price(room)
    assert price == _priced_plan(curves, weight, room)[1]
    if price > 0:  # just below the price the row overflows, at it the smallest plan fits
        assert use(price * (1 - 1e-9)) > room - 1e-9
        assert use(price) <= room + 1e-9
    else:
        assert use(0.0) <= room + 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("kink", [0.0, 0.37, 1.6363636, 2.9, 3.0])
def test_subgradient_line_search_finds_kinks_and_ends(kink):
    from optimizer.engines.flow import minimise_with_subgradients

    centres = np.linspace(0.0, 3.0, 41)

    def f(k):  # a dominant kink plus many short pieces (like F(K) over many scenarios)
        value = (
            3.2 * max(kink - k, 0)
            + 1.1 * max(k - kink, 0)
            + 0.001 * float(np.abs(k - centres).sum())
        )
        slope = (-3.2 if k < kink else 1.1) + 0.001 * float(np.sign(k - centres).sum())
        return value, slope

    k = minimise_with_subgradients(f, 0.0, 3.0)
    grid = np.linspace(0.0, 3.0, 30001)
    assert f(k)[0] <= min(f(g)[0] for g in grid) + 1e-7
    assert k == pytest.approx(kink, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 3, 7])
@pytest.mark.parametrize("price", [0.0, 0.7, 3.0])
def test_cap_subgradient_from_the_flow_duals_is_a_subgradient(seed, price):
    """The subgradient of :math:`F(K) = TfK + \\min_x [Q(x; K) + \\text{price}\\,x]` read
    off the optimal flows' potentials supports :math:`F` everywhere on a grid (and the
    reserved capacity found with it is optimal: it is in the engine tests)."""
    data = _data(
        dict(n_items=5, scenarios=30, emergency=True, reserve=True, disruption=0.35, seed=seed)
    )
    for i in np.nonzero(data.reserves)[0]:
        fee = data.periods * float(data.fee[i])
        cap = (
            float(data.capacity[i])
            if np.isfinite(data.capacity[i])
            else float(data.demand[i].max())
        )
        grid = np.linspace(0.0, cap, 25)
        values, slopes = [], []
        for k in grid:
            c = expected_curve(data, int(i), float(k), with_cap_gradient=True)
            x = c.argmin(price)
            values.append(fee * k + c.value(x) + price * x)
            slopes.append(fee + c.cap_subgradient(price))
        values, slopes = np.array(values), np.array(slopes)
        support = values[:, None] + slopes[:, None] * (grid[None, :] - grid[:, None])
        assert (values[None, :] >= support - 1e-8 * max(1.0, values.max())).all()
        # and it is not vacuous: the slopes grow from negative to positive or pin an end
        assert np.all(np.diff(slopes) >= -1e-9 * max(1.0, np.abs(slopes).max()))


def test_a_flow_failure_falls_back_to_the_lp(monkeypatch):
    import optimizer.engines.flow as flow_module
    from optimizer.engines.flow_curves import FlowFailure

    def give_up(*args, **kwargs):
        raise FlowFailure("item 0: test")

    data = _data(ELIGIBLE["emergency"])
    ref = solve_program(data, SolveConfig("decomposed"))
    monkeypatch.setattr(flow_module, "solve_flow", give_up)
    for engine in ("flow", "auto"):  # asked for by name, or auto's choice
        sol = solve_program(data, SolveConfig(engine))
        assert sol.engine == "decomposed"
        assert sol.declined["flow"] == "gave up: item 0: test"
        assert sol.objective == pytest.approx(ref.objective, rel=1e-9)


def test_large_costs_do_not_trap_the_path_search():
    """Regression: with penalties in the thousands, round-off on a zero-cost cycle once
    looked like a negative cycle and the path search looped for ever."""
    W, T = 26, 13
    d = np.array([0.0] * 18 + [3, 0, 2, 1, 1, 0, 4, 3, 2, 1, 1, 0, 0, 2, 2, 0, 1, 1, 3, 0, 1])
    up = np.ones((1, W + T), dtype=bool)
    one = np.ones(1)
    data = ProgramData(
        backorder=False,
        warmup=W,
        periods=T,
        probability=one,
        demand=d[None, None, :],
        arrival=arrival_periods(up, 2)[None],
        mean=1.7 * one,
        lead=np.array([2]),
        carrying=np.array([[6.337886538461539], [0.0], [0.0]]),
        holding=6.337886538461539 * one,
        penalty=1718.02 * one,
        premium=0 * one,
        capacity=0 * one,
        fee=np.nan * one,
        fill_rate=np.full(1, np.nan),
        unit_cost=one,
        volume=one,
        budget=None,
        storage=None,
        cvar_alpha=0.9,
        cvar_weight=0.0,
        start=np.array([18]),
    )
    lp = solve_program(data, SolveConfig("matrix"))
    flow = solve_program(data, SolveConfig("flow"))
    assert flow.engine == "flow"
    assert flow.objective == pytest.approx(lp.objective, rel=1e-9)
