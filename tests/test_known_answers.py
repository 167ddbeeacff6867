"""Textbook known answers (Snyder & Shen, Fundamentals of Supply Chain Theory).

The closed forms are computed here, from the formulas, not taken from a library that
implements them; the solver's level is then priced with the closed form and must cost
within 1% of the closed-form optimum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from optimizer.engines.base import SolveConfig
from optimizer.engines.dispatch import solve_program
from optimizer.instance import load_instance
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios

INSTANCES = Path(__file__).resolve().parent.parent / "instances"


def normal_base_stock_cost(S: float, mu: float, sigma: float, h: float, p: float) -> float:
    """Expected per-period cost h E[(S-D)+] + p E[(D-S)+] for D ~ N(mu, sigma^2)."""
    z = (S - mu) / sigma
    shortfall = sigma * (norm.pdf(z) - z * (1.0 - norm.cdf(z)))  # E[(D-S)+]
    return h * (S - mu + shortfall) + p * shortfall


def disruption_cost(
    S: float, d: float, h: float, p: float, alpha: float, beta: float, terms: int = 4000
) -> float:
    """Sum_n pi_n [h (S-(n+1)d)+ + p ((n+1)d-S)+] with the stationary disruption ages pi_n."""
    n = np.arange(terms)
    pi = np.where(
        n == 0,
        beta / (alpha + beta),
        alpha * beta / (alpha + beta) * (1 - beta) ** np.maximum(n - 1, 0),
    )
    need = (n + 1) * d
    return float(np.sum(pi * (h * np.maximum(S - need, 0) + p * np.maximum(need - S, 0))))


def assert_within_sampling_error(sol, periods: int, true_cost: float) -> None:
    """The in-sample optimum per period lies within 3 standard errors of the true cost
    (in-sample optima are biased low, so the band is one-sided generous)."""
    per_period = sol.evaluation.scenario_cost / periods
    se = per_period.std(ddof=1) / np.sqrt(per_period.size)
    assert abs(sol.objective / periods - true_cost) <= 3 * se + 1e-9 * true_cost


def _solve(name: str, engine: str = "auto"):
    inst = load_instance(INSTANCES / name)
    data = program_data(inst, generate_scenarios(inst))
    sol = solve_program(data, SolveConfig(engine))
    assert sol.status.value == "optimal"
    return inst, sol


def test_closed_forms_reproduce_the_book():
    z = norm.ppf(0.70 / (0.70 + 0.18))
    assert 50 + z * 8 == pytest.approx(56.604, abs=1e-3)
    assert normal_base_stock_cost(50 + z * 8, 50, 8, 0.18, 0.70) == pytest.approx(1.9976, abs=1e-3)
    assert disruption_cost(8000, 2000, 0.25, 3, 0.04, 0.25) == pytest.approx(2737.07, abs=0.01)
    # 8000 is the best multiple of d (the cost is piecewise linear with kinks at (n+1)d)
    grid = [disruption_cost(k * 2000, 2000, 0.25, 3, 0.04, 0.25) for k in range(1, 9)]
    assert int(np.argmin(grid)) + 1 == 4


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["auto", "ef"])
def test_example_4_3_normal_base_stock(engine):
    inst, sol = _solve("textbook_4_3", engine)
    mu, sigma = 50.0, 8.0
    h, p = 0.18, 0.70
    assert inst.holding_cost[0] == pytest.approx(h)
    s_star = mu + norm.ppf(p / (p + h)) * sigma
    best = normal_base_stock_cost(s_star, mu, sigma, h, p)
    got = normal_base_stock_cost(float(sol.base_stock[0]), mu, sigma, h, p)
    assert got <= 1.01 * best
    assert abs(sol.base_stock[0] - s_star) < 0.25 * sigma
    assert_within_sampling_error(sol, inst.plan.periods, best)


def test_example_9_3_disruptions():
    inst, sol = _solve("textbook_9_3")
    args = dict(d=2000.0, h=0.25, p=3.0, alpha=0.04, beta=0.25)
    best = disruption_cost(8000.0, **args)
    got = disruption_cost(float(sol.base_stock[0]), **args)
    assert got <= 1.01 * best
    assert_within_sampling_error(sol, inst.plan.periods, best)
