"""The numpy re-evaluation recomputes solver answers and catches every kind of error."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from optimizer.engines.base import SolutionStatus, SolveConfig, SolveStatus, Termination
from optimizer.engines.dispatch import require_plan, solve_program
from optimizer.errors import NoPlanError, VerificationError
from optimizer.program.data import program_data
from optimizer.program.verifier import check_solution, cvar, evaluate_solution
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance


@pytest.fixture(scope="module")
def solved():
    inst = make_instance(
        n_items=3,
        emergency=True,
        reserve=True,
        shortage="backorder",
        disruption=0.3,
        cvar_weight=0.3,
    )
    data = program_data(inst, generate_scenarios(inst))
    return data, solve_program(data, SolveConfig("matrix"))


def test_solver_answer_passes(solved):
    data, sol = solved
    ev = evaluate_solution(data, sol.base_stock, sol.reserved, sol.recourse)
    assert ev.objective == pytest.approx(sol.objective, rel=1e-9)
    assert ev.max_residual < 1e-8
    check_solution(ev, sol.objective, what="test")


@pytest.mark.parametrize(
    "field, where", [("I", (0, 1, 3)), ("s", (1, 0, 2)), ("n", (2, 2, 2)), ("B", (0, 0, 4))]
)
def test_corrupted_recourse_is_caught(solved, field, where):
    data, sol = solved
    rec = copy.deepcopy(sol.recourse)
    getattr(rec, field)[where] += 1.0
    ev = evaluate_solution(data, sol.base_stock, sol.reserved, rec)
    with pytest.raises(VerificationError):
        check_solution(ev, sol.objective, what="corrupted")


def test_wrong_objective_is_caught(solved):
    data, sol = solved
    ev = evaluate_solution(data, sol.base_stock, sol.reserved, sol.recourse)
    with pytest.raises(VerificationError, match="objective"):
        check_solution(ev, sol.objective * 1.001 + 1.0, what="wrong objective")


def test_plan_below_pipeline_and_over_capacity_are_caught(solved):
    data, sol = solved
    S = sol.base_stock.copy()
    S[:] = -1.0
    ev = evaluate_solution(data, S, sol.reserved, sol.recourse)
    assert ev.residual["pipeline_start"] > 0 and ev.residual["stock_balance"] > 0
    K = np.full_like(sol.reserved, 1e9)
    assert (
        evaluate_solution(data, sol.base_stock, K, sol.recourse).residual["reservation_bounds"] > 0
        or not data.reserves.any()
    )


def test_cvar_of_a_discrete_law_by_hand():
    v = np.array([10.0, 0.0, 30.0, 20.0])
    p = np.full(4, 0.25)
    assert cvar(v, p, 0.75) == pytest.approx(30.0)
    assert cvar(v, p, 0.5) == pytest.approx(25.0)
    assert cvar(v, p, 0.6) == pytest.approx((0.25 * 30 + 0.15 * 20) / 0.4)
    assert cvar(v, p, 0.0) == pytest.approx(15.0)


def test_time_limit_without_a_plan_is_no_plan():
    inst = make_instance(n_items=2, scenarios=50, periods=13, emergency=True)
    data = program_data(inst, generate_scenarios(inst))
    config = SolveConfig(engine="matrix", time_limit=0.0)
    sol = solve_program(data, config)
    assert sol.outcome is SolveStatus.LIMIT_NO_SOLUTION
    assert sol.status is SolutionStatus.NO_SOLUTION
    assert sol.termination is Termination.TIME_LIMIT
    assert sol.message == "Time limit reached"
    assert np.isnan(sol.objective) or not sol.has_plan
    with pytest.raises(NoPlanError) as info:
        require_plan(sol, data, config)
    assert info.value.exit_code == 5


@pytest.mark.parametrize(
    "name, feasible, termination, expected",
    [
        ("kOptimal", False, "CONVERGED", SolveStatus.OPTIMAL),
        ("kInfeasible", False, "INFEASIBLE", SolveStatus.INFEASIBLE),
        ("kUnbounded", False, "UNBOUNDED", SolveStatus.UNBOUNDED),
        ("kUnboundedOrInfeasible", False, "INFEASIBLE_OR_UNBOUNDED", SolveStatus.UNBOUNDED),
        ("kTimeLimit", True, "TIME_LIMIT", SolveStatus.LIMIT_FEASIBLE),
        ("kTimeLimit", False, "TIME_LIMIT", SolveStatus.LIMIT_NO_SOLUTION),
        ("kIterationLimit", True, "ITERATION_LIMIT", SolveStatus.LIMIT_FEASIBLE),
        ("kMemoryLimit", False, "OTHER_LIMIT", SolveStatus.LIMIT_NO_SOLUTION),
        ("kSolveError", True, "ERROR", SolveStatus.NUMERICAL),
        ("kUnknown", True, "ERROR", SolveStatus.NUMERICAL),
        ("kNotset", False, "ERROR", SolveStatus.NUMERICAL),
    ],
)
def test_every_highs_status_is_mapped(name, feasible, termination, expected):
    import highspy

    from optimizer.engines.highs import _status_of

    why, found = _status_of(getattr(highspy.HighsModelStatus, name), feasible)
    assert why is Termination[termination]
    assert SolveStatus.of(why, found) is expected
    assert expected.has_plan == (expected in (SolveStatus.OPTIMAL, SolveStatus.LIMIT_FEASIBLE))
    # a plan comes back exactly when the label says so; a limit with one is only feasible
    assert (found is not SolutionStatus.NO_SOLUTION) == expected.has_plan
    assert (found is SolutionStatus.OPTIMAL) == (expected is SolveStatus.OPTIMAL)


def test_plan_at_a_limit_is_labelled_not_proven_optimal():
    from optimizer.planning import build_summary
    from optimizer.report import plan_table

    inst = make_instance(n_items=2)
    data = program_data(inst, generate_scenarios(inst))
    sol = solve_program(data, SolveConfig("matrix"))
    sol.status, sol.gap = SolutionStatus.FEASIBLE, 0.012
    sol.termination, sol.message = Termination.TIME_LIMIT, "Time limit reached"
    assert sol.outcome is SolveStatus.LIMIT_FEASIBLE and sol.has_plan
    table = plan_table(inst, sol.base_stock, sol.reserved, sol.evaluation)
    summary = build_summary(inst, data, sol, None, None, table, {})
    assert summary["proven_optimal"] is False
    assert "not proven optimal" in summary["warning"] and "0.012" in summary["warning"]
