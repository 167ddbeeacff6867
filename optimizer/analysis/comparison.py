"""Fair out-of-sample comparison of stocking policies (README "JIT or JIC?").

Every plan, heuristic or optimised (:mod:`optimizer.analysis.policies`), is priced on the
*same* fresh scenarios by :class:`optimizer.analysis.evaluation.PlanEvaluator` (hindsight
recourse and causal run, common random numbers), then tabulated and ranked: expected cost
with its 95% interval, the paired difference to the stochastic plan, cost lines, fill
rate, capital tied up and :math:`CVaR_{0.95}`, hindsight and causal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from optimizer.analysis.evaluation import (
    DEFAULT_CHUNK,
    PlanEvaluation,
    PlanEvaluator,
    evaluation_scenarios,
    policy_plan_table,
)
from optimizer.analysis.policies import (
    DEFAULT_JIC_COVER,
    DEFAULT_SERVICE_LEVELS,
    PolicyPlan,
    cover_policy,
    make_policies,
)
from optimizer.engines.base import SolveConfig
from optimizer.instance import Instance
from optimizer.program.verifier import COST_LINES
from optimizer.scenarios import ScenarioSet

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: Plan the paired differences are taken against (when present).
REFERENCE = "stochastic"
#: Columns of every comparison table, in this order.
TABLE_COLUMNS = (
    "rank",
    "policy",
    "family",
    "expected_cost",
    "ci_low",
    "ci_high",
    "fill_rate",
    "capital_tied_up",
    "cvar95",
    *(f"{c}_cost" for c in COST_LINES),
    "vs_stochastic",
    "vs_stochastic_ci_low",
    "vs_stochastic_ci_high",
    "causal_rank",
    "causal_expected_cost",
    "causal_ci_low",
    "causal_ci_high",
    "causal_fill_rate",
    "causal_capital_tied_up",
    "causal_cvar95",
    "causal_gap",
    "causal_vs_stochastic",
    "causal_vs_stochastic_ci_low",
    "causal_vs_stochastic_ci_high",
    "base_stock_value",
    "safety_stock_value",
    "budget_use",
    "storage_use",
    "fill_targets_missed",
    "reserved_capacity",
    "stockout_units",
    "emergency_units",
    "fit_seconds",
    "lp_seconds",
    "sim_seconds",
    "scenarios",
)


# ------------------------------------------------------------------- the comparison ---
def _row(policy: PolicyPlan | None, ev: PlanEvaluation, instance: Instance) -> dict:
    e, c = ev.expected(), ev.expected(causal=True)
    plan = instance.plan
    mean = instance.items.demand_mean.astype(float)
    ss = ev.base_stock - (instance.items.lead_time + 1) * mean
    row = {
        "policy": ev.name,
        "family": policy.family if policy is not None else "plan",
        "expected_cost": e.mean,
        "ci_low": e.low,
        "ci_high": e.high,
        "fill_rate": ev.fill_rate(),
        "capital_tied_up": ev.capital_tied_up(),
        "cvar95": ev.cvar95(),
    }
    lines = ev.hindsight.lines.sum(axis=0)
    row.update({f"{name}_cost": float(lines[k]) for k, name in enumerate(COST_LINES)})
    row.update(
        {
            "causal_expected_cost": c.mean,
            "causal_ci_low": c.low,
            "causal_ci_high": c.high,
            "causal_fill_rate": ev.fill_rate(causal=True),
            "causal_capital_tied_up": ev.capital_tied_up(causal=True),
            "causal_cvar95": ev.cvar95(causal=True),
            "causal_gap": c.mean - e.mean,
            "base_stock_value": float(ev.unit_cost @ ev.base_stock),
            "safety_stock_value": float(ev.unit_cost @ ss),
            "budget_use": (
                float(ev.unit_cost @ ev.base_stock) / plan.inventory_budget
                if plan.inventory_budget
                else float("nan")
            ),
            "storage_use": (
                float(instance.items.volume @ ev.base_stock) / plan.storage_capacity
                if plan.storage_capacity
                else float("nan")
            ),
            "fill_targets_missed": int(
                (ev.item_fill_rate() < instance.items.min_fill_rate - 1e-9).sum()
            ),
            "reserved_capacity": float(ev.reserved.sum()),
            "stockout_units": float(ev.unmet.sum()),
            "emergency_units": float(ev.hindsight.emergency_units.sum()),
            "fit_seconds": policy.fit_seconds if policy is not None else 0.0,
            "lp_seconds": ev.lp_seconds,
            "sim_seconds": ev.sim_seconds,
            "scenarios": int(ev.probability.size),
        }
    )
    return row


def comparison_table(
    instance: Instance,
    evaluations: Sequence[PlanEvaluation],
    policies: Sequence[PolicyPlan] = (),
    reference: str = REFERENCE,
) -> pd.DataFrame:
    r"""One row per plan, ranked by hindsight expected cost (``rank`` 1 is cheapest).

    Columns: :data:`TABLE_COLUMNS`. The ``vs_stochastic`` columns are the paired
    difference :math:`E[C^{plan} - C^{ref}]` and its 95% interval (``nan`` without a
    ``reference`` plan); ``causal_rank`` ranks by the causal expected cost.
    ``budget_use`` / ``storage_use`` are :math:`\sum_i c_i S_i / B` and
    :math:`\sum_i v_i S_i / V` (``nan`` without the limit; above 1 a heuristic breaks
    it), ``fill_targets_missed`` counts items below their ``min_fill_rate`` (hindsight).
    """
    by_name = {p.name: p for p in policies}
    ref = next((e for e in evaluations if e.name == reference), None)
    rows = []
    for ev in evaluations:
        row = _row(by_name.get(ev.name), ev, instance)
        for causal, prefix in ((False, ""), (True, "causal_")):
            diff = ev.difference(ref, causal) if ref is not None else None
            row[f"{prefix}vs_stochastic"] = diff.mean if diff else float("nan")
            row[f"{prefix}vs_stochastic_ci_low"] = diff.low if diff else float("nan")
            row[f"{prefix}vs_stochastic_ci_high"] = diff.high if diff else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    table["rank"] = table["expected_cost"].rank(method="min").astype(int)
    table["causal_rank"] = table["causal_expected_cost"].rank(method="min").astype(int)
    table = table.sort_values(["rank", "causal_rank"], kind="stable").reset_index(drop=True)
    return table[list(TABLE_COLUMNS)]


@dataclass
class Comparison:
    """Result of :func:`compare_policies`.

    Attributes
    ----------
    instance : Instance
        The instance as compared (scenario count and seed applied).
    policies : list of PolicyPlan
    evaluations : dict of str to PlanEvaluation
    table : DataFrame
        :func:`comparison_table`, ranked.
    plans : dict of str to DataFrame
        :func:`policy_plan_table` per policy.
    evaluator : PlanEvaluator
        Holds the evaluation scenarios and the cache (for further plans: sweeps).
    seed : int
    seconds : dict of str to float
        ``policies`` (fitting every plan), ``evaluation`` (pricing every plan), ``total``.
    """

    instance: Instance
    policies: list[PolicyPlan]
    evaluations: dict[str, PlanEvaluation]
    table: pd.DataFrame
    plans: dict[str, pd.DataFrame]
    evaluator: PlanEvaluator
    seed: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def eval_scenarios(self) -> int:
        """Number of out-of-sample scenarios every plan is priced on."""
        return self.evaluator.data.n_scenarios

    @property
    def opt_scenarios(self) -> int | None:
        """Number of scenarios the stochastic plan was optimised on (None without it)."""
        rp = self.policy("stochastic")
        return rp.data.n_scenarios if rp is not None and rp.data is not None else None

    def policy(self, name: str) -> PolicyPlan | None:
        """Return the compared policy called ``name``, or None when there is none."""
        return next((p for p in self.policies if p.name == name), None)

    def winner(self, causal: bool = False) -> str:
        """Name of the cheapest plan (hindsight, or causal)."""
        col = "causal_expected_cost" if causal else "expected_cost"
        return str(self.table.loc[self.table[col].idxmin(), "policy"])


def compare_policies(
    instance: Instance,
    policies: Sequence[PolicyPlan],
    *,
    eval_scenarios: int | None = None,
    seed: int | None = None,
    scenarios: ScenarioSet | None = None,
    config: SolveConfig | None = None,
    chunk: int | None = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> Comparison:
    """Price every plan on the same fresh scenarios.

    Parameters
    ----------
    policies : sequence of PolicyPlan
        Plans to compare (names must be unique).
    eval_scenarios : int, optional
        :math:`M` fresh scenarios (default ``plan.scenarios``).
    seed : int, optional
        Root seed of the evaluation stream (default ``plan.seed``).
    scenarios : ScenarioSet, optional
        Use these scenarios instead of sampling (e.g. the optimisation scenarios, for an
        in-sample check).
    config, chunk
        How the recourse is solved (see
        :class:`~optimizer.analysis.evaluation.PlanEvaluator`).
    """
    say = progress or (lambda _msg: None)
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must be unique, got {names}")
    seed = instance.plan.seed if seed is None else int(seed)
    t0 = time.perf_counter()
    scen = (
        scenarios if scenarios is not None else evaluation_scenarios(instance, eval_scenarios, seed)
    )
    evaluator = PlanEvaluator(instance, scen, config=config, chunk=chunk)
    evaluations: dict[str, PlanEvaluation] = {}
    for p in policies:
        say(f"pricing {p.name} on {scen.n_scenarios} scenarios")
        evaluations[p.name] = evaluator.evaluate(p.base_stock, p.reserved, name=p.name)
    table = comparison_table(instance, list(evaluations.values()), policies)
    plans = {name: policy_plan_table(instance, ev) for name, ev in evaluations.items()}
    seconds = {"evaluation": time.perf_counter() - t0}
    return Comparison(instance, list(policies), evaluations, table, plans, evaluator, seed, seconds)


def run_comparison(
    instance: Instance,
    *,
    scenarios: int | None = None,
    eval_scenarios: int | None = None,
    seed: int | None = None,
    jic_cover: Sequence[float] = DEFAULT_JIC_COVER,
    service_levels: Sequence[float] = DEFAULT_SERVICE_LEVELS,
    config: SolveConfig | None = None,
    chunk: int | None = DEFAULT_CHUNK,
    progress: Progress | None = None,
    extra: Sequence[PolicyPlan] = (),
    deadline: float | None = None,
) -> Comparison:
    """Fit every policy on ``instance`` and compare them out of sample.

    Parameters
    ----------
    scenarios : int, optional
        :math:`N` optimisation scenarios of the stochastic plan (default ``plan.scenarios``).
    eval_scenarios : int, optional
        :math:`M` fresh evaluation scenarios (default ``plan.scenarios``).
    seed : int, optional
        Root seed of both streams (default ``plan.seed``).
    jic_cover, service_levels : sequence of float
        Parameters of the ``jic_<k>`` and ``classic_<pct>`` policies.
    config : SolveConfig, optional
        Engine and settings of the ``ev`` and ``stochastic`` solves; the plans are priced
        by ``auto`` with the same settings.
    extra : sequence of PolicyPlan
        Plans of the planner's own (``compare --plan``), ranked with the policies.
    deadline : float, optional
        A :func:`time.monotonic` time: the solves that fit the plans get the time left
        when they start (:meth:`~optimizer.engines.base.SolveConfig.within`); every plan
        is still priced on the same fresh scenarios, which a ranking needs.

    Raises
    ------
    InfeasiblePlanError, NoPlanError
        When the stochastic or EV program has no usable plan.
    """
    say = progress or (lambda _msg: None)
    if instance.plan.review_levels > 1:  # the policies are single-level plans
        log.warning(
            "compare: [plan] review_levels = %d is not used: every policy, the stochastic "
            "plan included, is fitted and ranked with one level per item; `stockplan solve` "
            "fits the block levels and prices them against one level "
            "(summary.json review.vs_single_level)",
            instance.plan.review_levels,
        )
    if scenarios is not None or seed is not None:
        instance = instance.with_plan(
            **{k: v for k, v in (("scenarios", scenarios), ("seed", seed)) if v is not None}
        )
    t0 = time.perf_counter()
    say("fitting the policies (solving the stochastic program)")
    config = config or SolveConfig()
    policies = make_policies(
        instance,
        jic_cover=jic_cover,
        service_levels=service_levels,
        config=config.within(deadline),  # the pricing below is not held to it
    )
    policies += list(extra)
    fitted = time.perf_counter() - t0
    comp = compare_policies(
        instance,
        policies,
        eval_scenarios=eval_scenarios,
        seed=instance.plan.seed,
        config=config.with_engine("auto"),
        chunk=chunk,
        progress=progress,
    )
    comp.seconds.update(policies=fitted, total=time.perf_counter() - t0)
    return comp


def cover_sweep(comparison: Comparison, covers: Sequence[float]) -> pd.DataFrame:
    r"""JIT → JIC sweep: uniform cover :math:`k` on every item, priced like the policies.

    Plan :math:`S_i = (L_i+1)\mu_i + k\mu_i`, :math:`K_i = 0`, on the comparison's
    evaluation scenarios (plans already priced, e.g. ``jit`` and ``jic_<k>``, are reused).

    Returns
    -------
    DataFrame
        ``cover, expected_cost, ci_low, ci_high, fill_rate, capital_tied_up, cvar95,
        causal_expected_cost, causal_fill_rate, causal_capital_tied_up``.
    """
    rows = []
    for k in covers:
        plan = cover_policy(comparison.instance, float(k))
        ev = comparison.evaluator.evaluate(plan.base_stock, plan.reserved, name=plan.name)
        e = ev.expected()
        rows.append(
            {
                "cover": float(k),
                "expected_cost": e.mean,
                "ci_low": e.low,
                "ci_high": e.high,
                "fill_rate": ev.fill_rate(),
                "capital_tied_up": ev.capital_tied_up(),
                "cvar95": ev.cvar95(),
                "causal_expected_cost": ev.expected(causal=True).mean,
                "causal_fill_rate": ev.fill_rate(causal=True),
                "causal_capital_tied_up": ev.capital_tied_up(causal=True),
            }
        )
    return pd.DataFrame(rows)
