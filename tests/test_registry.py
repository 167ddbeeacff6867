"""The engine registry: auto's order and choices, refusals by name, adding an engine."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import optimizer.engines.price as price_module
from optimizer.cli import app
from optimizer.engines.base import Engine, SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.engines.matrix import MatrixEngine
from optimizer.engines.registry import auto_order, engine_names, get_engine, register, unregister
from optimizer.errors import EngineDeclinedError, UnknownEngineError
from optimizer.instance import write_instance
from optimizer.program.data import ProgramData, program_data
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance

KINDS = {
    "lost_sales": dict(),
    "backorder": dict(shortage="backorder"),
    "emergency_backorder": dict(emergency=True, shortage="backorder"),
    "reservation": dict(emergency=True, reserve=True),
    "fill_rate": dict(fill_rate=0.99, emergency=True),
    "budget": dict(budget_share=0.3),
    "storage_backorder": dict(storage_share=0.3, shortage="backorder"),
    "budget_and_storage": dict(budget_share=0.3, storage_share=0.3, shortage="backorder"),
    "cvar": dict(cvar_weight=0.5, emergency=True),
}
MODES = {
    "plan": SolveRequest(),
    "wait_and_see": SolveRequest.wait_and_see(),
    "fixed": "fixed",
    "fixed_no_fill_rows": "fixed_no_fill_rows",
}


def _data(kw) -> ProgramData:
    inst = make_instance(n_items=3, scenarios=8, periods=4, **kw)
    return program_data(inst, generate_scenarios(inst))


def _request(mode: str, data: ProgramData) -> SolveRequest:
    if not isinstance(MODES[mode], str):
        return MODES[mode]
    S = data.min_base_stock + data.mean
    return SolveRequest.fixed(S, np.zeros(data.n_items), keep_fill_rate=mode == "fixed")


def _old_auto_choice(data: ProgramData, request: SolveRequest, price_min_cells: int) -> str:
    """The nested choice ``auto`` made before the registry (kept as the reference)."""
    ws, fixed = request.anticipative, request.base_stock is not None
    quantile = (
        data.backorder
        and not ws
        and not data.has_emergency.any()
        and np.isnan(data.fill_rate).all()
        and data.is_separable
    )
    fill_rows = request.keep_fill_rate and not ws and not np.isnan(data.fill_rate).all()
    flow = not (data.backorder or data.uses_cvar or fill_rows) and (
        fixed
        or (data.is_separable and not data.reserves.any() if ws else True)
        and (ws or data.budget is None or data.storage is None)
    )
    one_row = (
        not ws
        and not fixed
        and not data.uses_cvar
        and (data.budget is None) != (data.storage is None)
    )
    if quantile:
        return "quantile"
    if flow:
        return "flow"
    if data.is_separable:
        return "decomposed"
    if one_row and data.demand.size >= price_min_cells:
        return "price"
    return "matrix"


def _auto_choice(data: ProgramData, request: SolveRequest) -> str:
    return next(n for n in auto_order() if get_engine(n).accepts(data, request, auto=True) is None)


def test_auto_order_is_the_speed_order():
    # the causal engines first: they decline hindsight requests, the others causal ones
    assert auto_order() == (
        "causal",
        "causal-cvar",
        "causal-milp",
        "quantile",
        "flow",
        "decomposed",
        "price",
        "matrix",
    )
    assert set(engine_names()) == {"auto", *auto_order(), "ef", "mpi-sppy"}
    for name in engine_names()[1:]:
        assert isinstance(get_engine(name), Engine) and get_engine(name).name == name


@pytest.mark.parametrize("price_min_cells", [price_module.PRICE_MIN_CELLS, 0])
def test_auto_keeps_its_choices(monkeypatch, price_min_cells):
    """On every kind and mode the first acceptor is the engine the old if/elif chose
    (with the price threshold as is, and lowered so that ``price`` is chosen)."""
    monkeypatch.setattr(price_module, "PRICE_MIN_CELLS", price_min_cells)
    chosen = set()
    for kind, kw in KINDS.items():
        data = _data(kw)
        for mode in MODES:
            request = _request(mode, data)
            expected = _old_auto_choice(data, request, price_min_cells)
            assert _auto_choice(data, request) == expected, (kind, mode)
            chosen.add(expected)
    # the table is not vacuous: every auto engine of the hindsight recourse is somebody's
    # choice (the causal engines are tested in test_causal_engine.py)
    hindsight = set(auto_order()) - {"causal", "causal-cvar", "causal-milp"}
    assert chosen == hindsight - ({"price"} if price_min_cells else set())


def test_auto_takes_the_first_acceptor_and_logs_the_decliners(caplog):
    data = _data(KINDS["emergency_backorder"])  # neither quantile nor flow; separable
    with caplog.at_level(logging.INFO, logger="optimizer.engines.registry"):
        sol = solve_program(data)
    assert sol.engine == "decomposed" and sol.has_plan
    assert set(sol.declined) == {"causal", "causal-cvar", "causal-milp", "quantile", "flow"}
    assert "causal recourse" in sol.declined["causal"]
    assert "emergency supply" in sol.declined["quantile"]
    assert "lost sales" in sol.declined["flow"]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert f"auto: quantile declines: {sol.declined['quantile']}" in infos
    assert f"auto: flow declines: {sol.declined['flow']}" in infos
    assert not any("matrix" in m or "price" in m for m in infos)  # never asked


def test_an_engine_asked_for_by_name_must_accept():
    data = _data(KINDS["budget"])
    with pytest.raises(EngineDeclinedError) as info:
        solve_program(data, SolveConfig("quantile"))
    assert info.value.exit_code == 2
    assert info.value.reason == "it needs backorders (this program has lost sales)"
    assert str(info.value) == f"engine 'quantile' cannot solve this program: {info.value.reason}"
    with pytest.raises(EngineDeclinedError, match="wait-and-see"):
        solve_program(data, SolveConfig("mpi-sppy"), SolveRequest.wait_and_see())
    with pytest.raises(UnknownEngineError, match="unknown engine 'simplex'") as unknown:
        solve_program(data, SolveConfig("simplex"))
    assert unknown.value.exit_code == 2


def test_cli_explicit_engine_mismatch_is_a_usage_error(tmp_path):
    folder = tmp_path / "inst"
    write_instance(make_instance(n_items=2, scenarios=6, periods=4, shortage="backorder"), folder)
    runner = CliRunner()
    hindsight = ["--recourse", "hindsight"]
    res = runner.invoke(
        app, ["solve", str(folder), "--engine", "flow", "--out", str(tmp_path), *hindsight]
    )
    assert res.exit_code == 2
    assert "engine 'flow' cannot solve this program: it needs lost sales" in res.output
    # under the default causal recourse it declines for that reason, and says what to do
    res = runner.invoke(app, ["solve", str(folder), "--engine", "flow", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--recourse hindsight" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "plan.csv").exists()
    res = runner.invoke(app, ["solve", str(folder), "--engine", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "mpi-sppy" in res.output


class _Fake:
    """An engine that solves everything through the matrix LP and says so."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def accepts(self, data, request, *, auto=False):
        return None if data.backorder else "it takes backorders only"

    def solve(self, data, request, config):
        self.calls += 1
        out = MatrixEngine().solve(data, request, config)
        out.message = f"fake: {out.message}"
        return out


@pytest.fixture
def fake():
    engine = register(_Fake(), before="quantile")
    try:
        yield engine
    finally:
        unregister("fake")
    assert "fake" not in engine_names()


def test_a_registered_engine_is_chosen_by_auto_and_by_name(fake):
    order = auto_order()
    assert order[order.index("fake") + 1] == "quantile" and "fake" in engine_names()
    backorder = _data(KINDS["backorder"])
    ref = solve_program(backorder, SolveConfig("quantile"))
    for engine in ("auto", "fake"):
        sol = solve_program(backorder, SolveConfig(engine))
        assert sol.engine == "fake" and sol.message.startswith("fake: ")
        assert sol.objective == pytest.approx(ref.objective, rel=1e-6)
        assert sol.evaluation is not None  # verified like any other engine's answer
    assert fake.calls == 2
    # it declines lost sales: auto goes on, by name it is a usage error with its reason
    lost = _data(KINDS["lost_sales"])
    sol = solve_program(lost)
    assert sol.engine == "flow" and sol.declined["fake"] == "it takes backorders only"
    with pytest.raises(EngineDeclinedError, match="it takes backorders only"):
        solve_program(lost, SolveConfig("fake"))
    assert fake.calls == 2
    with pytest.raises(ValueError, match="already registered"):
        register(_Fake())


def test_a_wrong_engine_answer_is_caught_by_the_verifier(fake, monkeypatch):
    """The driver verifies what a new engine returns (here a corrupted objective)."""
    from optimizer.errors import VerificationError

    def corrupt(self, data, request, config):
        out = MatrixEngine().solve(data, request, config)
        return replace(out, objective=out.objective * 1.01 + 1.0)

    monkeypatch.setattr(_Fake, "solve", corrupt)
    with pytest.raises(VerificationError, match="fake solve"):
        solve_program(_data(KINDS["backorder"]))


def test_mpisppy_is_an_engine_like_the_others(tmp_path):
    """Asked for by name through the CLI it declines what it cannot decompose, with its
    own reason and the usage exit code, before any MPI is started."""
    folder = tmp_path / "inst"
    write_instance(make_instance(n_items=2, scenarios=6, periods=4, fill_rate=0.9), folder)
    res = CliRunner().invoke(
        app,
        [
            "solve",
            str(folder),
            "--engine",
            "mpi-sppy",
            "--recourse",
            "hindsight",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2
    assert "engine 'mpi-sppy' cannot solve this program" in res.output
    assert "fill rate" in res.output
    config = SolveConfig("mpi-sppy")
    assert config.mpisppy.rel_gap == 1e-4 and config.mpisppy.max_iterations == 500
