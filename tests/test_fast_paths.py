"""The weighted-quantile shortcut equals the LP (Pyomo and matrix) wherever it applies."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.engines.quantile import quantile_eligible, weighted_quantile
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(disruption=0.3),
        dict(black_swan=True, n_items=4),
        dict(scenarios=30, periods=6, seed=11),
    ],
)
def test_quantile_equals_lp(kw):
    inst = make_instance(shortage="backorder", **kw)
    data = program_data(inst, generate_scenarios(inst))
    assert quantile_eligible(data)
    fast = solve_program(data, SolveConfig("quantile"))
    ef = solve_program(data, SolveConfig("ef"))
    lp = solve_program(data, SolveConfig("matrix"))
    assert fast.objective == pytest.approx(ef.objective, rel=1e-7)
    assert fast.objective == pytest.approx(lp.objective, rel=1e-7)
    # the quantile is an optimal level: pricing it with the LP gives the optimum too
    priced = solve_program(
        data,
        SolveConfig("matrix"),
        SolveRequest(base_stock=fast.base_stock, reserved=fast.reserved),
    )
    assert priced.objective == pytest.approx(ef.objective, rel=1e-7)


def test_not_eligible_with_lost_sales_or_emergency():
    for kw in (
        dict(),
        dict(shortage="backorder", emergency=True),
        dict(shortage="backorder", fill_rate=0.9),
        dict(shortage="backorder", budget_share=0.5),
    ):
        inst = make_instance(**kw)
        assert not quantile_eligible(program_data(inst, generate_scenarios(inst)))


def test_weighted_quantile_by_hand():
    v = np.array([3.0, 1.0, 2.0, 4.0])
    w = np.array([0.1, 0.4, 0.3, 0.2])
    # sorted 1 (0.4), 2 (0.7), 3 (0.8), 4 (1.0)
    assert weighted_quantile(v, w, 0.4) == 1.0
    assert weighted_quantile(v, w, 0.41) == 2.0
    assert weighted_quantile(v, w, 0.75) == 3.0
    assert weighted_quantile(v, w, 0.95) == 4.0
