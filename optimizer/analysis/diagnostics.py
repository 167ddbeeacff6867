r"""Stochastic-programming diagnostics of a plan: RP, EV, EEV, VSS, WS, EVPI, bounds.

All on the optimisation scenarios (in sample), per costed horizon:

* RP  — the program's optimum (the stochastic plan), under the plan's recourse.
* EV  — the mean-value problem (mean demand, suppliers always up); its plan is JIT.
* EEV — the EV plan priced under the same recourse; VSS = EEV − RP: what hedging is worth.
* WS  — the hindsight wait-and-see relaxation (one plan per scenario, a recourse that sees
  the future); EVPI = RP − WS >= 0 bounds what perfect information could save.
* The plan run causally (``in_sample_causal``) and its hindsight recourse cost
  (``hindsight_bound``), a lower bound on the causal one for the same plan.

The plan's honest cost — causal, out of sample, with a tight interval — is
:mod:`optimizer.analysis.headline`'s.

How they are computed (README "Scale and performance"): fixed plans under the causal
recourse (EEV, the plan on a subsample) are played by the compiled causal kernel, tested
equal to the numpy simulation; where the exact lost-sales flow solver takes both the
wait-and-see program and the plan's hindsight recourse, one trace of each item's
scenario cost curves :math:`Q_{i,w}(S)` gives both, :math:`WS = \sum_i \sum_w p_w \min_S
Q_{i,w}(S)` and the bound :math:`\sum_i \sum_w p_w Q_{i,w}(S_i)` (tested equal to the
engine's solves).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numba
import numpy as np

from optimizer.engines.base import CAUSAL, HINDSIGHT, SolveConfig, SolveRequest
from optimizer.engines.dispatch import Solution, solve_program
from optimizer.engines.flow import flow_refusal
from optimizer.engines.flow_curves import FlowFailure, ScenarioCurves, scenario_curves
from optimizer.engines.registry import auto_choice
from optimizer.instance import Instance
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import evaluate_causal
from optimizer.program.verifier import Evaluation, cvar
from optimizer.scenarios import mean_value_scenario

log = logging.getLogger(__name__)


@dataclass
class Interval:
    """Mean with a two-sided 95% confidence interval."""

    mean: float
    low: float
    high: float
    scenarios: int


def diagnostics_budget(deadline: float, left: float | None, plan_seconds: float) -> str:
    """Say what a ``--time-limit`` left of the diagnostics (summary.json's ``time_limit``).

    ``left`` is the time the limit left when they were due (None: they ran, and the
    note says whether the limit ran out during them); ``plan_seconds`` what the plan
    stage took.
    """
    if left is None:
        return (
            "complete"
            if time.monotonic() < deadline
            else "cut short: the time limit ran out during them (a figure an LP did not "
            "reach is null)"
        )
    return (
        f"skipped: {max(0.0, left):.2f} s of the time limit left, less than the plan stage "
        f"took ({plan_seconds:.2f} s; the diagnostics solve programs of its size)"
    )


def t_quantile(q: float, df: int) -> float:
    """Quantile ``q`` of Student's t with ``df`` degrees of freedom.

    ``scipy.special.stdtrit``, the function behind ``scipy.stats.t.ppf`` (same values),
    without importing ``scipy.stats`` (0.6 s of the command's start-up). Imported here:
    when scipy is loaded before Pyomo, Pyomo imports ``scipy.stats`` itself (1 s).
    """
    from scipy import special

    return float(special.stdtrit(df, q))


def mean_ci(values: np.ndarray, prob: np.ndarray | None = None, level: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval of i.i.d. scenario costs (equal weights)."""
    v = np.asarray(values, dtype=float)
    if prob is not None and not np.allclose(prob, prob[0]):
        mean = float(prob @ v)
        var = float(prob @ (v - mean) ** 2) / max(1, v.size - 1) * v.size
    else:
        mean, var = float(v.mean()), float(v.var(ddof=1)) if v.size > 1 else 0.0
    half = t_quantile(0.5 + level / 2, max(1, v.size - 1)) * np.sqrt(var / v.size)
    return Interval(mean, mean - half, mean + half, int(v.size))


@dataclass
class Diagnostics:
    """Figures a planner and an OR engineer expect next to the plan (per quarter).

    Attributes
    ----------
    recourse : str
        The second stage the plan was fitted to (``"causal"`` or ``"hindsight"``).
    rp : float
        The program's optimum on the optimisation scenarios (in sample).
    ev, eev, vss : float
        The mean-value (JIT) program's optimum, its plan's cost under the same recourse
        on the optimisation scenarios, and ``VSS = EEV - RP``.
    ws, evpi : float
        The hindsight wait-and-see bound (a plan per scenario and a recourse that sees
        the future) and ``EVPI = RP - WS``: what perfect information could save at most.
    in_sample_causal : float
        The plan run causally on the optimisation scenarios.
    hindsight_bound : float
        The plan's hindsight recourse cost on the same scenarios: a lower bound on
        ``in_sample_causal`` for this plan.
    hindsight_scenarios : int
        Scenarios of ``ws``, ``evpi`` and ``hindsight_bound``: all of them, or the first
        :data:`HINDSIGHT_SCENARIOS` of a program above :data:`HINDSIGHT_CELLS` cells.
    """

    recourse: str
    rp: float
    ev: float
    eev: float | None
    vss: float | None
    ws: float
    evpi: float
    in_sample_causal: float
    hindsight_bound: float
    hindsight_scenarios: int = 0
    note: str = ""

    def as_dict(self) -> dict:
        """Return the figures as a plain dict (for ``summary.json``)."""
        return asdict(self)


def price_plan(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    config: SolveConfig | None = None,
    keep_fill_rate: bool = False,
) -> Solution:
    """Optimal hindsight recourse of a fixed plan (its cost on ``data``'s scenarios)."""
    return solve_program(
        data, config, SolveRequest.fixed(base_stock, reserved, keep_fill_rate=keep_fill_rate)
    )


def causal_evaluation(
    data: ProgramData, base_stock: np.ndarray, reserved: np.ndarray
) -> Evaluation:
    """Costs of the plan run causally (:func:`optimizer.program.simulate.evaluate_causal`)."""
    return evaluate_causal(data, base_stock, reserved, check_fill_rate=False, check_plan_rows=False)


#: Above this many item-scenario-period cells the hindsight figures (WS, EVPI, the plan's
#: hindsight bound) are taken on the first :data:`HINDSIGHT_SCENARIOS` scenarios: they are
#: bounds and context, and at planner scale they took as long as the plan itself.
HINDSIGHT_CELLS = 5_000_000
HINDSIGHT_SCENARIOS = 200
#: Engines fast enough for a diagnostic at any size (exact closed forms and kernels).
FAST_ENGINES = ("quantile", "flow", "causal")
#: Above this many item-scenario-period cells a diagnostic that only an LP engine can
#: solve is relaxed or skipped (the LPs take minutes at planner scale), with a note.
LP_DIAGNOSTIC_CELLS = 1_000_000


def _quick(data: ProgramData, request: SolveRequest) -> bool:
    """Whether ``auto`` solves ``request`` fast: a fast engine, or a small program."""
    return auto_choice(data, request) in FAST_ENGINES or data.demand.size <= LP_DIAGNOSTIC_CELLS


def causal_cost(data: ProgramData, base_stock: np.ndarray, reserved: np.ndarray) -> float:
    r"""Objective of the plan run causally on ``data``'s scenarios, by the compiled kernel.

    The objective of :func:`causal_evaluation` (:math:`E[C]`, blended with
    :math:`CVaR_\alpha[C]` under a CVaR weight), from the scenario costs of
    :func:`optimizer.program.causal_kernel.play_plan`, which equal the numpy simulation's
    to round-off (``tests/test_causal_kernel.py``) without its (items, scenarios, periods)
    arrays.
    """
    S = np.asarray(base_stock, dtype=float)
    K = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
    scen = play_plan(data, S, K, directions=VALUES_ONLY).lines.sum(axis=2).sum(axis=0)
    p = data.probability
    expected = float(p @ scen)
    lam = data.cvar_weight
    if lam > 0:
        return (1.0 - lam) * expected + lam * cvar(scen, p, data.cvar_alpha)
    return expected


def _relaxed(data: ProgramData) -> ProgramData:
    """Drop the plan rows and reservation fees of ``data`` (WS relaxed at planner scale)."""
    return dataclasses.replace(data, budget=None, storage=None, fee=np.full(data.n_items, np.nan))


def _wait_and_see_program(data: ProgramData) -> tuple[ProgramData | None, str]:
    """Choose the wait-and-see program of ``data``: exact, relaxed (with a note) or none."""
    request = SolveRequest.wait_and_see()
    if _quick(data, request):
        return data, ""
    relaxed = _relaxed(data)
    if not _quick(relaxed, request):
        return None, (
            f"WS_hindsight skipped: only an LP engine solves it, too slow above "
            f"{LP_DIAGNOSTIC_CELLS:,} item-scenario-period cells"
        )
    return relaxed, (
        "WS_hindsight is a lower bound (plan rows and reservation fees relaxed: the exact "
        "wait-and-see LP is too slow at this size), so EVPI is an upper bound"
    )


#: Scenarios per wait-and-see solve: without a CVaR blend the wait-and-see program
#: separates by scenario as well (each scenario has its own plan, and the plan rows hold
#: per scenario), and HiGHS solves blocks of this size faster than one LP of them all
#: (demo's reserving items: 1.5 s in blocks of 25 against 3.3 s whole).
WS_BLOCK = 25


def solve_wait_and_see(data: ProgramData, config: SolveConfig) -> float:
    r"""WS of ``data`` by ``auto``: :math:`\sum_b P_b\, WS_b` over blocks of scenarios.

    :math:`P_b` is the probability mass of block :math:`b` and :math:`WS_b` the
    wait-and-see optimum on its scenarios with renormalised probabilities (one block when
    a CVaR blend couples the scenarios). ``nan`` when a block ends without a plan.
    """
    N = data.n_scenarios
    request = SolveRequest.wait_and_see()
    if data.uses_cvar or N <= WS_BLOCK:
        ws = solve_program(data, config, request)
        return ws.objective if ws.has_plan else float("nan")
    total = 0.0
    for a in range(0, N, WS_BLOCK):
        mass, block = data.scenario_subset(np.arange(a, min(N, a + WS_BLOCK)))
        ws = solve_program(block, config, request)
        if not ws.has_plan:
            return float("nan")
        total += mass * ws.objective
    return total


def _wait_and_see(data: ProgramData, config: SolveConfig) -> tuple[float, str]:
    """Solve the hindsight wait-and-see relaxation, exactly or (large, LP-only) as a bound.

    When only an LP engine solves the exact relaxation at this size, the plan rows and the
    reservation fees are dropped as well (every item may use its whole emergency
    capacity for free): a relaxation of the wait-and-see program, so its value is a lower
    bound on WS and ``RP - value`` an upper bound on EVPI. Returns the value and a note.
    """
    ws_data, note = _wait_and_see_program(data)
    if ws_data is None:
        return float("nan"), note
    return solve_wait_and_see(ws_data, config), note


@dataclass
class _CurveTable:
    r"""Scenario curves of one item cut to their longest one, with each segment's start value.

    Segment ``k`` of scenario ``w`` starts at ``x[w, k]`` (:math:`x = S - L\mu`, ascending
    from 0) with value ``start[w, k]`` and slope ``slope[w, k]``; ``valid`` marks the
    scenario's own segments.
    """

    x: np.ndarray
    slope: np.ndarray
    start: np.ndarray
    valid: np.ndarray

    @classmethod
    def of(cls, curves: ScenarioCurves) -> _CurveTable:
        """Tabulate ``curves``."""
        m = int(curves.n_seg.max())
        x, g, n_seg = curves.x[:, :m], curves.slope[:, :m], curves.n_seg[:, None]
        k = np.arange(m)[None, :]
        length = np.where(k + 1 < n_seg, np.diff(x, axis=1, append=0.0), 0.0)
        start = np.empty_like(x)
        start[:, 0] = curves.value0
        np.cumsum(length[:, :-1] * g[:, :-1], axis=1, out=start[:, 1:])
        start[:, 1:] += curves.value0[:, None]
        return cls(x, g, start, k < n_seg)

    def minima(self) -> np.ndarray:
        r""":math:`\min_x Q_w(L\mu + x)` per scenario: the least value at a segment start.

        A scenario's curve is convex and piecewise linear, so its minimum is at a segment
        start.
        """
        return np.where(self.valid, self.start, np.inf).min(axis=1)

    def values(self, x0: float) -> np.ndarray:
        r""":math:`Q_w(L\mu + x_0)` per scenario (:math:`x_0 \ge 0`), on its segment."""
        k = (self.valid & (self.x <= x0)).sum(axis=1) - 1
        w = np.arange(k.size)
        return self.start[w, k] + (x0 - self.x[w, k]) * self.slope[w, k]


def flow_hindsight(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    ws_items: np.ndarray | None = None,
) -> tuple[np.ndarray, float] | None:
    r"""Items' wait-and-see values and the plan's hindsight cost from one trace of curves.

    For lost sales without CVaR, the exact flow solver
    (:func:`optimizer.engines.flow_curves.scenario_curves`) traces each scenario's optimal
    recourse cost :math:`Q_{i,w}(S)` as a piecewise-linear function of :math:`S`. The
    plan's hindsight recourse cost is :math:`\sum_i (\sum_w p_w Q_{i,w}(S_i) + T f_i
    K_i)`, an item that reserves traced at its emergency cap :math:`\min(\bar e_i, K_i)`;
    an item's wait-and-see value without a reservation fee is :math:`\sum_w p_w \min_S
    Q_{i,w}(S)` (a plan per scenario, the whole emergency capacity available), its term
    of WS when nothing couples the items. The ``flow`` engine answers both from the same
    curves (``tests/test_diagnostics.py`` checks these figures against its solves); here
    each item is traced once (twice if it reserves) instead of once per program, and no
    scenario's flow is solved again at its plan.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i` of the plan.
    ws_items : ndarray of bool (n,), optional
        Items whose wait-and-see value to take (default none).

    Returns
    -------
    tuple or None
        Per-item wait-and-see values (``nan`` outside ``ws_items``) and the plan's
        hindsight cost; None when the flow solver declines the plan's recourse or gives
        up on a curve (the caller then solves them by the engines).
    """
    if flow_refusal(data, SolveRequest.fixed(base_stock, reserved, keep_fill_rate=False)):
        return None
    S = np.asarray(base_stock, dtype=float)
    K = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
    want = np.zeros(data.n_items, bool) if ws_items is None else np.asarray(ws_items, bool)
    p = data.probability
    x = np.maximum(S - data.min_base_stock, 0.0)
    ws = np.full(data.n_items, np.nan)
    bound = 0.0
    try:
        for i in range(data.n_items):
            table = _CurveTable.of(scenario_curves(data, i))
            if want[i]:
                ws[i] = float(p @ table.minima())
            if data.reserves[i]:
                cap = min(float(data.capacity[i]), float(K[i]))
                table = _CurveTable.of(scenario_curves(data, i, cap))
                bound += data.periods * float(data.fee[i]) * float(K[i])
            bound += float(p @ table.values(float(x[i])))
    except FlowFailure as exc:
        log.info("hindsight figures by the engines instead: %s", exc)
        return None
    return ws, bound


def _hindsight_figures(
    ws_data: ProgramData | None,
    hs: ProgramData,
    S: np.ndarray,
    K: np.ndarray,
    config: SolveConfig,
) -> tuple[float, float] | None:
    """WS of ``ws_data`` and the plan's hindsight cost on ``hs`` by :func:`flow_hindsight`.

    ``ws_data`` is ``hs`` or ``hs`` relaxed (same scenarios and capacities). WS separates
    by item when no plan row couples them: items without a reservation fee in ``ws_data``
    take their value from the curves, the others (exact WS with reserved capacity) are
    solved by ``auto`` on their own. Returns None where the curves do not apply.
    """
    if ws_data is None or not ws_data.is_separable:
        return None
    if flow_refusal(_relaxed(ws_data), SolveRequest.wait_and_see()):
        return None
    free = ~ws_data.reserves
    shared = flow_hindsight(hs, S, K, ws_items=free)
    if shared is None:
        return None
    per_item, bound = shared
    ws = float(per_item[free].sum())
    if not free.all():
        ws += solve_wait_and_see(ws_data.item(np.flatnonzero(~free)), config)
    return ws, bound


@contextmanager
def _serial_kernels() -> Iterator[None]:
    """Run the compiled kernels on one thread (the same results, in any thread count).

    The mean-value program has a single scenario: each of its many small plays is over
    before a second thread has started (1,000 items: 0.6 s on one thread, 1.2-3.2 s on
    two on a busy machine).
    """
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def compute_diagnostics(
    instance: Instance,
    data: ProgramData,
    rp: Solution,
    *,
    config: SolveConfig | None = None,
    request: SolveRequest | None = None,
) -> Diagnostics:
    """Compute the stochastic-programming diagnostics of the RP plan ``rp``.

    EV and EEV are solved and priced under the recourse of ``request`` (the plan's);
    WS is the hindsight wait-and-see relaxation, which bounds both recourses from below.
    The programs are solved by ``auto`` with the settings of ``config`` (the engine that
    made the plan need not accept them); fixed plans under the causal recourse are played
    by the compiled kernel, and WS with the plan's hindsight bound come from one trace of
    the flow solver's curves where it takes both (:func:`flow_hindsight`).
    """
    config = (config or SolveConfig()).with_engine("auto")
    request = request or SolveRequest()
    recourse = request.recourse
    S, K = rp.base_stock, rp.reserved
    notes = []

    ev_data = program_data(instance, mean_value_scenario(instance))
    with _serial_kernels():  # one scenario: the compiled plays are too small to share
        ev = solve_program(
            ev_data, config, SolveRequest(recourse=recourse, integer=request.integer)
        )
    eev = vss = None
    if ev.has_plan:
        if recourse == CAUSAL and not data.uses_cvar:
            # the causal run of a fixed plan: what the causal engine plays, by the kernel
            eev = causal_cost(data, ev.base_stock, ev.reserved)
            vss = eev - rp.objective
        else:
            keep = recourse == HINDSIGHT  # the causal run has no choice to meet a target with
            eev_sol = solve_program(
                data,
                config,
                SolveRequest.fixed(
                    ev.base_stock, ev.reserved, keep_fill_rate=keep, recourse=recourse
                ),
            )
            if eev_sol.has_plan:
                eev = eev_sol.objective
                vss = eev - rp.objective
            else:
                notes.append(
                    f"EEV: the EV (JIT) plan is {eev_sol.outcome.value} in the stochastic "
                    "program (it cannot meet the fill-rate targets)"
                )
    # the hindsight figures: on the first HINDSIGHT_SCENARIOS scenarios of a large program
    hs = data
    if data.demand.size > HINDSIGHT_CELLS and data.n_scenarios > HINDSIGHT_SCENARIOS:
        _, hs = data.scenario_subset(np.arange(HINDSIGHT_SCENARIOS))
        notes.append(
            f"WS_hindsight, EVPI and hindsight_bound on the first {HINDSIGHT_SCENARIOS} of "
            f"the {data.n_scenarios} optimisation scenarios (the program is large); EVPI "
            "is the plan's cost on those scenarios minus WS_hindsight"
        )
    ws_data, ws_note = _wait_and_see_program(hs)
    if ws_note:
        notes.append(ws_note)
    # WS and the bound from one trace of the flow curves where they apply
    shared = _hindsight_figures(ws_data, hs, S, K, config)
    ws_value = bound = float("nan")
    if shared is not None:
        ws_value, bound = shared
    elif ws_data is not None:
        ws_value = solve_wait_and_see(ws_data, config)
    if recourse == CAUSAL and rp.evaluation is not None:
        in_sample = rp.evaluation.objective  # the dispatcher's numpy run of the plan
    else:
        in_sample = causal_cost(data, S, K)
    fixed = SolveRequest.fixed(S, K, keep_fill_rate=False)
    if recourse == HINDSIGHT and rp.evaluation is not None and hs is data:
        bound = rp.evaluation.objective
    elif shared is not None:
        pass  # from the curves above
    elif _quick(hs, fixed):
        priced = price_plan(hs, S, K, config=config)
        bound = priced.objective if priced.has_plan else float("nan")
    else:
        notes.append(
            "hindsight_bound skipped: only an LP engine prices this plan's hindsight "
            f"recourse, too slow above {LP_DIAGNOSTIC_CELLS:,} item-scenario-period cells"
        )
    if hs is data:
        rp_hs = rp.objective
    elif recourse == CAUSAL:
        rp_hs = causal_cost(hs, S, K)
    else:
        rp_hs = bound
    return Diagnostics(
        recourse=recourse,
        rp=rp.objective,
        ev=ev.objective if ev.has_plan else float("nan"),
        eev=eev,
        vss=vss,
        ws=ws_value,
        evpi=rp_hs - ws_value,
        in_sample_causal=in_sample,
        hindsight_bound=bound,
        hindsight_scenarios=hs.n_scenarios,
        note="; ".join(notes),
    )
