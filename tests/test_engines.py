"""Every engine reaches the Pyomo extensive form's optimum on every instance kind.

The Pyomo model (:mod:`models.two_stage`) is the source of truth; the sparse-matrix
builder and the item decomposition are fast paths that must agree with it (1e-6
relative), for the recourse problem, the wait-and-see relaxation and fixed plans.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.errors import EngineDeclinedError
from optimizer.instance import load_instance, write_instance
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance

KINDS = {
    "lost_sales": dict(),
    "backorder": dict(shortage="backorder"),
    "emergency": dict(emergency=True, disruption=0.3),
    "emergency_backorder": dict(emergency=True, shortage="backorder", disruption=0.3),
    "reservation": dict(emergency=True, reserve=True, n_items=5, disruption=0.3),
    "fill_rate": dict(fill_rate=0.99, emergency=True, disruption=0.3),
    "budget": dict(budget_share=0.3),
    "storage": dict(storage_share=0.3, shortage="backorder"),
    "cvar": dict(cvar_weight=0.5, emergency=True, reserve=True, n_items=4),
    "black_swan": dict(black_swan=True, emergency=True),
    "long_warmup_and_lead": dict(warmup=4, periods=3),
}


def _data(kw):
    inst = make_instance(**kw)
    return inst, program_data(inst, generate_scenarios(inst))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_engines_agree_on_the_recourse_problem(kind):
    _, data = _data(KINDS[kind])
    ref = solve_program(data, SolveConfig("ef"))
    assert ref.status.value == "optimal"
    engines = ["matrix", "auto"] + (["decomposed"] if data.is_separable else [])
    if (data.budget is None) != (data.storage is None) and not data.uses_cvar:
        engines.append("price")
    for engine in engines:
        sol = solve_program(data, SolveConfig(engine))
        assert sol.objective == pytest.approx(ref.objective, rel=1e-6), engine
        # the plan of each engine is optimal for the reference model too
        priced = solve_program(
            data, SolveConfig("ef"), SolveRequest(base_stock=sol.base_stock, reserved=sol.reserved)
        )
        assert priced.objective == pytest.approx(ref.objective, rel=1e-6), engine


@pytest.mark.parametrize("kind", ["lost_sales", "emergency_backorder", "budget", "cvar"])
def test_engines_agree_on_wait_and_see(kind):
    _, data = _data(KINDS[kind])
    ref = solve_program(data, SolveConfig("ef"), SolveRequest.wait_and_see())
    fast = solve_program(data, SolveConfig("matrix"), SolveRequest.wait_and_see())
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6)


@pytest.mark.parametrize("kind", ["lost_sales", "reservation", "fill_rate", "cvar"])
def test_engines_agree_on_a_fixed_plan(kind):
    _, data = _data(KINDS[kind])
    S = (data.lead + 1.5) * data.mean
    K = np.where(data.reserves, np.minimum(data.capacity, 3.0), 0.0)
    for keep in (True, False):
        ref = solve_program(
            data, SolveConfig("ef"), SolveRequest(base_stock=S, reserved=K, keep_fill_rate=keep)
        )
        fast = solve_program(
            data, SolveConfig("matrix"), SolveRequest(base_stock=S, reserved=K, keep_fill_rate=keep)
        )
        assert ref.status == fast.status
        if ref.has_plan:
            assert fast.objective == pytest.approx(ref.objective, rel=1e-6)


def test_explicit_scenarios_path_equals_the_plain_extensive_form(tmp_path):
    """Sampled scenarios written as explicit files and read back give the same optimum."""
    from dataclasses import replace

    from optimizer.instance import ExplicitScenarios

    inst = make_instance(emergency=True, n_items=3, scenarios=8)
    scen = generate_scenarios(inst)
    explicit = ExplicitScenarios(
        scen.demand,
        scen.supplier_up,
        scen.probability,
        np.array([f"w{k}" for k in range(scen.n_scenarios)]),
    )
    inst_x = replace(inst, explicit=explicit, plan=replace(inst.plan, warmup=inst.warmup))
    write_instance(inst_x, tmp_path / "x")
    loaded = load_instance(tmp_path / "x")
    assert loaded.explicit is not None
    via_files = solve_program(program_data(loaded, generate_scenarios(loaded)), SolveConfig("auto"))
    plain = solve_program(program_data(inst, scen), SolveConfig("ef"))
    assert via_files.objective == pytest.approx(plain.objective, rel=1e-9)
    np.testing.assert_allclose(
        solve_program(
            program_data(inst, scen),
            SolveConfig("ef"),
            SolveRequest(base_stock=via_files.base_stock, reserved=via_files.reserved),
        ).objective,
        plain.objective,
        rtol=1e-9,
    )


def test_decomposed_uses_worker_processes_and_matches_serial(monkeypatch):
    import optimizer.engines.decomposed as engine_module

    monkeypatch.setattr(engine_module, "POOL_MIN_CELLS", 0)
    inst = make_instance(n_items=6, scenarios=60, periods=13, emergency=True)
    data = program_data(inst, generate_scenarios(inst))
    serial = solve_program(data, SolveConfig(engine="decomposed", workers=1))
    parallel = solve_program(data, SolveConfig(engine="decomposed", workers=2))
    assert parallel.subproblems == data.n_items
    np.testing.assert_allclose(parallel.base_stock, serial.base_stock, rtol=1e-9)
    assert parallel.objective == pytest.approx(serial.objective, rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [
        dict(budget_share=0.05, emergency=True, reserve=True, n_items=6),
        dict(budget_share=0.3, fill_rate=0.95, emergency=True),
        dict(storage_share=0.2, shortage="backorder", n_items=5),
        dict(budget_share=3.0),
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_price_decomposition_is_exact_and_feasible(kw, workers):
    _, data = _data(kw)
    ref = solve_program(data, SolveConfig("ef"))
    price = solve_program(data, SolveConfig(engine="price", workers=workers))
    assert price.objective == pytest.approx(ref.objective, rel=1e-6)
    weight, limit = (
        (data.unit_cost, data.budget) if data.budget is not None else (data.volume, data.storage)
    )
    assert weight @ price.base_stock <= limit * (1 + 1e-9)
    assert price.evaluation.residual.get("inventory_budget", 0.0) <= 1e-9


def test_decomposed_refuses_coupled_instances():
    _, data = _data(KINDS["budget"])
    with pytest.raises(EngineDeclinedError, match="coupling") as info:
        solve_program(data, SolveConfig("decomposed"))
    assert info.value.exit_code == 2 and info.value.engine == "decomposed"
