r"""Exact shortcuts for single-item programs whose LP has a closed-form optimum.

Backorders without emergency supply: every order equals the period's demand, so the net
inventory in every period is :math:`NI_{w,t} = S - X_{w,t}` with :math:`X` exogenous
(demand not yet replenished, disruptions and lead time included). The optimal hindsight
recourse serves the backlog as soon as stock allows, so on hand is :math:`(S-X)^+` and
backlog :math:`(X-S)^+`, and the expected cost

.. math:: \sum_w p_w \sum_{t \ge W} h (S - X_{w,t})^+ + p (X_{w,t} - S)^+

is minimised by the :math:`p/(p+h)` quantile of :math:`X` weighted by :math:`p_w` (the
newsvendor), raised to :math:`L\mu` if below it. ``tests/test_fast_paths.py`` proves it
equal to the Pyomo and matrix models on every eligible kind.

The ``quantile`` engine (:class:`QuantileEngine`) returns that plan (or prices a given
one) with the causal simulation as its recourse, which is optimal there.
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
    hindsight_only,
)
from optimizer.program.data import ProgramData
from optimizer.program.simulate import simulate_plan
from optimizer.program.verifier import arrivals, evaluate_solution


def quantile_refusal(data: ProgramData, anticipative: bool = False) -> str | None:
    """Why :func:`backorder_quantile_plan` does not solve ``data`` (None: it does)."""
    if not data.backorder:
        return "it needs backorders (this program has lost sales)"
    if anticipative:
        return "it does not solve the wait-and-see relaxation"
    if data.has_emergency.any():
        return "it needs items without emergency supply"
    if not np.isnan(data.fill_rate).all():
        return "it needs items without fill-rate targets"
    if not data.is_separable:
        return "it needs an instance without budget, storage or CVaR coupling"
    return None


def quantile_eligible(data: ProgramData, anticipative: bool = False) -> bool:
    """Tell whether every item of ``data`` can use :func:`backorder_quantile_plan`."""
    return quantile_refusal(data, anticipative) is None


def unreplenished_demand(data: ProgramData) -> np.ndarray:
    """:math:`X_{i,w,t}` such that net inventory is :math:`S_i - X_{i,w,t}`, shape (n, N, H)."""
    inflow = np.cumsum(arrivals(data, data.demand) + data.pipeline[:, None, :], axis=2)
    return (data.lead * data.mean)[:, None, None] - inflow + np.cumsum(data.demand, axis=2)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value whose cumulative weight reaches share ``q`` of the total."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12)))
    return float(values[order][min(k, values.size - 1)])


def backorder_quantile_plan(data: ProgramData) -> np.ndarray:
    """Optimal base-stock levels :math:`S_i` for a :func:`quantile_eligible` program."""
    X = unreplenished_demand(data)[:, :, data.warmup :]
    weights = np.repeat(data.probability, data.periods)
    S = np.empty(data.n_items)
    for i in range(data.n_items):
        q = data.penalty[i] / (data.penalty[i] + data.holding[i])
        S[i] = weighted_quantile(X[i].ravel(), weights, q)
    return np.maximum(S, data.min_base_stock)


class QuantileEngine:
    """Backorders without emergency supply or fill-rate targets: the exact quantile."""

    name = "quantile"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Accept uncoupled backorder programs without emergency supply or fill-rate targets."""
        if reason := hindsight_only(request):
            return reason
        return quantile_refusal(data, request.anticipative)

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        r"""Take :math:`S_i` as the :math:`p/(p+h)` quantile (or the fixed plan) and simulate it."""
        t0 = time.perf_counter()
        fixed = request.base_stock
        S = backorder_quantile_plan(data) if fixed is None else np.asarray(fixed, float)
        K = np.zeros(data.n_items)
        rec = simulate_plan(data, S, K)
        seconds = time.perf_counter() - t0
        ev = evaluate_solution(data, S, K, rec, check_plan_rows=False)
        return EngineResult(
            status=SolutionStatus.OPTIMAL,
            termination=Termination.CONVERGED,
            message="Optimal (closed form: weighted quantile)",
            objective=ev.objective,
            base_stock=S,
            reserved=K,
            recourse=rec,
            solve_seconds=seconds,
            size=(0, data.n_items, 0),
            gap=0.0,
        )
