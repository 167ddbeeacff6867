r"""Pricing fixed plans on one scenario set: hindsight recourse and causal run.

Every plan — heuristic or optimised — is priced on the *same* fresh scenarios
(``generate_scenarios(instance, M, seed, stream="evaluate")``, independent of the
optimisation scenarios) in two ways:

* **hindsight recourse**: the optimal second stage with the plan fixed
  (as :func:`optimizer.analysis.diagnostics.price_plan`, ``keep_fill_rate=False``, through
  :func:`optimizer.engines.dispatch.solve_program` with the caller's config), solved item by item
  and block of scenarios by the ``decomposed`` engine in worker processes (in closed
  form by the ``quantile`` engine where eligible) — the figure the stochastic program
  optimises;
* **causal run**: :func:`optimizer.program.simulate.simulate_plan` (stock first, then emergency,
  then shortage, no look-ahead) costed by :func:`optimizer.program.verifier.evaluate_solution` — the
  figure a planner running the plan would see.

Both use common random numbers: scenario costs :math:`C_w` of different plans come from
identical demand and supply arrays, so their differences are paired and the confidence
interval of a difference is much narrower than the two separate intervals suggest.

Reported per plan (per costed horizon, the quarter): :math:`E[C]` with a 95% Student-t
interval (:func:`optimizer.analysis.diagnostics.mean_ci`), the six cost lines, the fill rate
:math:`1 - \sum_i E[\text{unmet}_i] / \sum_i E[d_i]`, the average capital tied up in
stock :math:`\sum_i c_i \bar I_i`, and :math:`CVaR_{0.95}[C]`
(:func:`optimizer.program.verifier.cvar`).

Pricing drops the plan-level rows (budget, storage: the plan is fixed) and the CVaR blend:
given the plan, the recourse separates by scenario, and minimising every :math:`C_w`
minimises :math:`E[C]` and :math:`CVaR_\alpha[C]` together, so the expected cost and the
CVaR are both read from one separable solve.

:func:`evaluate_plan` is the one implementation of pricing a plan: ``stockplan evaluate``
and :mod:`optimizer.analysis.comparison` both use it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.analysis.diagnostics import Interval, causal_evaluation, mean_ci
from optimizer.analysis.headline import fixed_plan_data
from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.errors import NoPlanError
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.program.matrices import KINDS
from optimizer.program.verifier import (
    Evaluation,
    RecourseArrays,
    check_solution,
    cost_scale,
    cvar,
    evaluate_solution,
)
from optimizer.report import plan_table
from optimizer.scenarios import ScenarioSet, generate_scenarios

log = logging.getLogger(__name__)

#: Confidence level of the tail measure reported for every plan.
CVAR_ALPHA = 0.95
#: Scenarios per recourse LP when pricing a fixed plan (``None``: all in one LP per item).
DEFAULT_CHUNK = 50


# ----------------------------------------------------------------------- scenarios ----
def evaluation_scenarios(
    instance: Instance, n_scenarios: int | None = None, seed: int | None = None
) -> ScenarioSet:
    """Fresh out-of-sample scenarios: ``generate_scenarios(..., stream="evaluate")``.

    Parameters
    ----------
    n_scenarios : int, optional
        :math:`M`; default ``plan.scenarios``.
    seed : int, optional
        Root seed; default ``plan.seed``. The ``"evaluate"`` stream is independent of the
        ``"optimise"`` stream for the same seed.
    """
    return generate_scenarios(instance, n_scenarios, seed=seed, stream="evaluate")


def pricing_data(instance: Instance, scenarios: ScenarioSet) -> ProgramData:
    r""":class:`ProgramData` for pricing fixed plans: no plan rows, no CVaR blend, no targets.

    The result is always separable item by item (see the module docstring for why this
    changes neither :math:`E[C]` nor :math:`CVaR_\alpha[C]` of a fixed plan). Fill-rate
    targets are dropped too (a fixed plan's recourse is priced without them, as
    ``keep_fill_rate=False`` does; misses are reported in the comparison table).
    """
    return fixed_plan_data(program_data(instance, scenarios))


def scenario_digest(scenarios: ScenarioSet | ProgramData) -> str:
    """SHA-1 of the demand, supply/arrival and probability arrays (proves common numbers)."""
    h = hashlib.sha1()
    supply = scenarios.arrival if isinstance(scenarios, ProgramData) else scenarios.supplier_up
    for a in (scenarios.demand, supply, scenarios.probability):
        arr = np.ascontiguousarray(a)
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def unmet_in_period(data: ProgramData, rec: RecourseArrays) -> np.ndarray:
    r"""Compute the expected units of costed demand not served in their period, per item.

    Lost sales: :math:`\sum_t n_t`. Backorders: :math:`\sum_t \min(B_t, d_t - e_t)`, the
    part of the period's demand still in the backlog at period end when the backlog is
    served first in, first out (as the causal simulator does). The recourse LP may record
    a unit as backordered and serve it from stock in the same period (:math:`n_t = r_t`,
    no cost), so :math:`\sum_t n_t` does not measure service with backorders.
    """
    W = data.warmup
    if data.backorder:
        late = np.minimum(rec.B, np.maximum(data.demand - rec.e, 0.0))[:, :, W:]
    else:
        late = rec.n[:, :, W:]
    return (data.probability[None, :] * late.sum(axis=2)).sum(axis=1)


def stack_scenario_blocks(data: ProgramData, blocks: int) -> ProgramData:
    """Recast ``blocks`` equal blocks of scenarios as pseudo-items, for pricing a fixed plan.

    Item :math:`i` and block :math:`b` become pseudo-item :math:`iB + b` with the block's
    :math:`N/B` scenarios, each of probability :math:`B/N`; every per-item coefficient is
    repeated. With the plan fixed (:math:`S_i, K_i` repeated per block) the recourse of
    each pseudo-item is exactly the item's recourse on those scenarios, the objective is
    :math:`B` times the expected cost, and recourse arrays of shape
    :math:`(nB, N/B, H)` reshape to :math:`(n, N, H)`. Needs equal probabilities,
    :math:`N` divisible by :math:`B`, and separable data (no budget, storage or CVaR).
    """
    n, N, H = data.demand.shape
    if N % blocks or not data.is_separable:
        raise ValueError("blocks must divide the scenario count and the data be separable")
    if not np.allclose(data.probability, data.probability[0], rtol=1e-12, atol=0.0):
        raise ValueError("stacking scenario blocks needs equal scenario probabilities")
    m = N // blocks
    changes: dict[str, object] = {"probability": np.full(m, 1.0 / m)}
    for f in dataclasses.fields(data):
        value = getattr(data, f.name)
        if f.name in ("demand", "arrival"):
            changes[f.name] = value.reshape(n * blocks, m, H)
        elif f.name == "carrying":
            changes[f.name] = np.repeat(value, blocks, axis=1)
        elif (
            f.name != "probability"
            and isinstance(value, np.ndarray)
            and value.ndim >= 1
            and value.shape[0] == n
        ):
            changes[f.name] = np.repeat(value, blocks, axis=0)
    return dataclasses.replace(data, **changes)


# ------------------------------------------------------------------ one plan's costs --
@dataclass
class PlanEvaluation:
    r"""One plan priced on one scenario set, hindsight LP and causal run.

    Attributes
    ----------
    name : str
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i`.
    hindsight, causal : Evaluation
        Costs from the recourse LP and from the causal simulation.
    probability : ndarray (M,)
        :math:`p_w`.
    demand : ndarray (n,)
        :math:`E[\sum_{t>W} d_{i,t}]`, expected demand of the costed horizon per item.
    unit_cost : ndarray (n,)
        :math:`c_i`.
    lp_seconds, sim_seconds : float
        Wall time of the recourse LPs and of the simulation (with its costing).
    digest : str
        :func:`scenario_digest` of the scenarios the plan was priced on.
    unmet : ndarray (n,)
        Expected units of costed-period demand not served in their period by the hindsight
        recourse (:func:`unmet_in_period`); the causal figure is
        ``causal.stockout_units``.
    """

    name: str
    base_stock: np.ndarray
    reserved: np.ndarray
    hindsight: Evaluation
    causal: Evaluation
    probability: np.ndarray
    demand: np.ndarray
    unit_cost: np.ndarray
    lp_seconds: float
    sim_seconds: float
    digest: str
    unmet: np.ndarray

    @property
    def demand_total(self) -> float:
        r""":math:`\sum_i E[\sum_{t>W} d_{i,t}]`."""
        return float(self.demand.sum())

    def item_fill_rate(self, causal: bool = False) -> np.ndarray:
        """Per-item share of costed demand served in its period (1 without demand)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.demand > 0, 1.0 - self.stockout_units(causal) / self.demand, 1.0)

    @property
    def seconds(self) -> float:
        """Wall time of the whole evaluation."""
        return self.lp_seconds + self.sim_seconds

    def expected(self, causal: bool = False) -> Interval:
        """:math:`E[C]` with its 95% confidence interval."""
        ev = self.causal if causal else self.hindsight
        return mean_ci(ev.scenario_cost, self.probability)

    def stockout_units(self, causal: bool = False) -> np.ndarray:
        """Return the expected unmet units per item over the costed periods."""
        return self.causal.stockout_units if causal else self.unmet

    def fill_rate(self, causal: bool = False) -> float:
        """Share of costed demand served in its period from stock or emergency supply."""
        if self.demand_total <= 0:
            return 1.0
        return float(1.0 - self.stockout_units(causal).sum() / self.demand_total)

    def capital_tied_up(self, causal: bool = False) -> float:
        r"""Average value of stock on hand, :math:`\sum_i c_i \bar I_i`."""
        ev = self.causal if causal else self.hindsight
        return float(self.unit_cost @ ev.avg_on_hand)

    def cvar95(self, causal: bool = False) -> float:
        """:math:`CVaR_{0.95}` of the horizon cost :math:`C_w`."""
        ev = self.causal if causal else self.hindsight
        return cvar(ev.scenario_cost, self.probability, CVAR_ALPHA)

    def difference(self, other: PlanEvaluation, causal: bool = False) -> Interval:
        """Paired :math:`E[C^{self} - C^{other}]` with its 95% interval (same scenarios)."""
        if other.digest != self.digest:
            raise ValueError(
                f"{self.name} and {other.name} were priced on different "
                "scenarios; a paired difference needs common random numbers"
            )
        a = self.causal if causal else self.hindsight
        b = other.causal if causal else other.hindsight
        return mean_ci(a.scenario_cost - b.scenario_cost, self.probability)


class PlanEvaluator:
    """Prices plans on one fixed scenario set (common random numbers).

    Parameters
    ----------
    instance : Instance
    scenarios : ScenarioSet
        The scenarios every plan is priced on.
    config : SolveConfig, optional
        How the recourse is solved; ``auto`` picks ``flow`` (lost sales), the closed-form
        ``quantile`` engine where the recourse has no choice left (backorders without
        emergency supply: the causal run is then optimal), else ``decomposed`` (items
        solved independently in ``config.workers`` processes; pricing data is always
        separable).
    chunk : int or None
        Scenarios per recourse LP. With the plan fixed the recourse separates by scenario
        as well as by item, so each item's LP is split into blocks of about ``chunk``
        scenarios (HiGHS's simplex time grows faster than linearly with the LP, so blocks
        of ~50 are faster than one LP of 500); ``None`` keeps one LP per item. With equal
        scenario probabilities the blocks are handed to the ``decomposed`` engine as
        pseudo-items (item x block, :func:`stack_scenario_blocks`), so one call spreads
        all of them over the worker processes; otherwise blocks are solved one call
        each. The recourse of all blocks is re-costed together on the full scenario set by
        :func:`~optimizer.program.verifier.evaluate_solution` and checked against the solver.

    Notes
    -----
    Evaluations are cached by plan: asking twice for the same :math:`(S, K)` returns the
    first result (``use_cache=False`` forces a new solve).
    """

    def __init__(
        self,
        instance: Instance,
        scenarios: ScenarioSet,
        *,
        config: SolveConfig | None = None,
        chunk: int | None = DEFAULT_CHUNK,
    ) -> None:
        self.instance = instance
        self.scenarios = scenarios
        self.data = pricing_data(instance, scenarios)
        self.config = config or SolveConfig()
        self.digest = scenario_digest(self.data)
        d = self.data
        self.demand = (d.probability[None, :] * d.demand[:, :, d.warmup :].sum(axis=2)).sum(axis=1)
        N = d.n_scenarios
        size = N if not chunk else max(1, min(int(chunk), N))
        self.blocks = 1
        self._stacked: ProgramData | None = None
        self._chunks: list[tuple[float, ProgramData]] = []
        if np.allclose(d.probability, d.probability[0], rtol=1e-12, atol=0.0):
            divisors = [c for c in range(1, N + 1) if N % c == 0]
            self.blocks = min(divisors, key=lambda c: (abs(N / c - size), c))
            self._stacked = stack_scenario_blocks(d, self.blocks) if self.blocks > 1 else d
        else:
            self._chunks = [
                d.scenario_subset(np.arange(a, min(a + size, N))) for a in range(0, N, size)
            ]
        self._cache: dict[bytes, PlanEvaluation] = {}

    def _hindsight(
        self, S: np.ndarray, K: np.ndarray, name: str
    ) -> tuple[Evaluation, RecourseArrays]:
        """Optimal recourse of the fixed plan, block by block, costed on all scenarios."""
        n, N, H = self.data.demand.shape
        if self._stacked is not None:
            C = self.blocks
            sol = solve_program(
                self._stacked,
                self.config,
                SolveRequest.fixed(np.repeat(S, C), np.repeat(K, C), keep_fill_rate=False),
            )
            if not sol.has_plan or sol.recourse is None:
                raise NoPlanError(
                    f"pricing plan {name!r}: the recourse LP ended "
                    f"{sol.outcome.value} ({sol.message})"
                )
            rec = RecourseArrays(**{k: getattr(sol.recourse, k).reshape(n, N, H) for k in KINDS})
            ev = evaluate_solution(
                self.data, S, K, rec, check_fill_rate=False, check_plan_rows=False
            )
            check_solution(
                ev, sol.objective / C, what=f"pricing {name!r}", scale=cost_scale(self.data)
            )
            return ev, rec
        parts = []
        reported = 0.0
        for weight, sub in self._chunks:
            # as diagnostics.price_plan: plan fixed, fill-rate rows off
            sol = solve_program(sub, self.config, SolveRequest.fixed(S, K, keep_fill_rate=False))
            if not sol.has_plan or sol.recourse is None:
                raise NoPlanError(
                    f"pricing plan {name!r}: the recourse LP ended "
                    f"{sol.outcome.value} ({sol.message})"
                )
            parts.append(sol.recourse)
            reported += weight * sol.objective
        if len(parts) == 1:
            rec = parts[0]
        else:
            rec = RecourseArrays(
                **{k: np.concatenate([getattr(r, k) for r in parts], axis=1) for k in KINDS}
            )
        ev = evaluate_solution(self.data, S, K, rec, check_fill_rate=False, check_plan_rows=False)
        check_solution(ev, reported, what=f"pricing {name!r}", scale=cost_scale(self.data))
        return ev, rec

    def evaluate(
        self,
        base_stock: np.ndarray,
        reserved: np.ndarray | None = None,
        *,
        name: str = "plan",
        use_cache: bool = True,
    ) -> PlanEvaluation:
        """Price the plan :math:`(S, K)` by hindsight LP and causal simulation.

        Raises
        ------
        NoPlanError
            When a recourse LP ends without a solution (a time limit, numerical trouble).
        VerificationError
            When the numpy re-evaluation disagrees with HiGHS.
        """
        n = self.data.n_items
        S = np.asarray(base_stock, dtype=float).reshape(n)
        K = np.zeros(n) if reserved is None else np.asarray(reserved, dtype=float).reshape(n)
        key = S.tobytes() + K.tobytes()
        if use_cache and key in self._cache:
            hit = self._cache[key]
            log.info("%s: same plan as %s, evaluation reused", name, hit.name)
            return dataclasses.replace(hit, name=name)
        t0 = time.perf_counter()
        hindsight, rec = self._hindsight(S, K, name)
        unmet = unmet_in_period(self.data, rec)
        lp_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        causal = causal_evaluation(self.data, S, K)
        sim_seconds = time.perf_counter() - t1
        if causal.max_residual > 1e-6:
            log.warning(
                "%s: causal simulation residuals %s",
                name,
                {k: v for k, v in causal.residual.items() if v > 1e-6},
            )
        result = PlanEvaluation(
            name=name,
            base_stock=S,
            reserved=K,
            hindsight=hindsight,
            causal=causal,
            probability=self.data.probability,
            demand=self.demand,
            unit_cost=self.data.unit_cost,
            lp_seconds=lp_seconds,
            sim_seconds=sim_seconds,
            digest=self.digest,
            unmet=unmet,
        )
        log.info(
            "%s: E[cost] %.2f (hindsight LP %.2fs), causal %.2f (%.3fs)",
            name,
            result.hindsight.expected_cost,
            lp_seconds,
            causal.expected_cost,
            sim_seconds,
        )
        if use_cache:
            self._cache[key] = result
        return result


def evaluate_plan(
    instance: Instance,
    scenarios: ScenarioSet,
    base_stock: np.ndarray,
    reserved: np.ndarray | None = None,
    *,
    name: str = "plan",
    config: SolveConfig | None = None,
    chunk: int | None = DEFAULT_CHUNK,
) -> PlanEvaluation:
    """Price one plan on ``scenarios`` (hindsight LP and causal run).

    Given the optimisation scenarios and the stochastic plan, the hindsight expected cost
    equals the RP objective (without CVaR blend); on ``evaluation_scenarios`` it is the
    out-of-sample estimate.
    """
    return PlanEvaluator(instance, scenarios, config=config, chunk=chunk).evaluate(
        base_stock, reserved, name=name
    )


def policy_plan_table(instance: Instance, ev: PlanEvaluation) -> pd.DataFrame:
    """Build the plan table of one evaluated plan, with its causal cost, fill rate and capital.

    The table is :func:`optimizer.report.plan_table` on the out-of-sample hindsight costs.
    """
    served = dataclasses.replace(
        ev.hindsight, fill_rate=ev.item_fill_rate(), stockout_units=ev.unmet
    )  # see unmet_in_period
    table = plan_table(instance, ev.base_stock, ev.reserved, served)
    table.insert(0, "policy", ev.name)
    table["causal_expected_cost"] = ev.causal.lines.sum(axis=1)
    table["causal_fill_rate"] = ev.causal.fill_rate
    table["causal_capital_tied_up"] = ev.causal.avg_on_hand * instance.items.unit_cost
    return table
