r"""The two-stage program as mpi-sppy scenario models (scenario decomposition).

mpi-sppy (progressive hedging, Lagrangian and x-hat bounds) works on one Pyomo model per
scenario :math:`w`, each with its own copy of the first stage and a list of the
nonanticipative variables it must agree on. This module provides the four callables
mpi-sppy expects (``scenario_creator``, ``scenario_names_creator``, ``kw_creator``,
``scenario_denouement``) on top of :func:`models.two_stage.build_scenario_model`.

Scenario model of scenario :math:`w` (probability :math:`p_w`):

* first stage :math:`S_i \ge L_i\mu_i`, :math:`0 \le K_i \le \bar e_i`, and with CVaR the
  value-at-risk level :math:`\eta` — all nonanticipative, with the upper bounds of
  :func:`optimality_bounds` (they cut off no optimal plan and keep PH's Lagrangian
  subproblems bounded);
* the plan rows :math:`\sum_i c_i S_i \le B` and :math:`\sum_i v_i S_i \le V` (first-stage
  constraints, repeated in every scenario model, which is harmless);
* the recourse of scenario :math:`w` (README "The model") and its cost :math:`C_w`;
* objective :math:`f_w = C_w` (risk neutral, :math:`\lambda = 0`) or, with the CVaR blend
  of Rockafellar–Uryasev,

  .. math:: f_w = (1-\lambda) C_w + \lambda \left(\eta + \frac{z_w}{1-\alpha}\right),
            \qquad z_w \ge C_w - \eta,\; z_w \ge 0,

  so :math:`\sum_w p_w f_w` is exactly the extensive-form objective
  :math:`(1-\lambda) E[C] + \lambda (\eta + E[z]/(1-\alpha))`.

Not expressible per scenario: the minimum expected fill-rate rows
:math:`\sum_w p_w \sum_t n_{i,w,t} \le (1-\beta_i) E[\sum_t d_{i,w,t}]` couple
scenarios (an expectation, not a first-stage row); :func:`check_decomposable` rejects
instances that set ``min_fill_rate``.

Like every module in :mod:`models`, this one does no I/O and no solving.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyomo.environ as pyo

from models.two_stage import build_scenario_model
from optimizer.program.data import ProgramData

log = logging.getLogger(__name__)

SCENARIO_PREFIX = "scen"


def check_decomposable(data: ProgramData) -> None:
    r"""Raise ``ValueError`` when ``data`` has a constraint that couples scenarios.

    Parameters
    ----------
    data : ProgramData
        Program coefficients; the minimum fill rates :math:`\beta_i` must all be ``nan``.
    """
    targets = np.flatnonzero(~np.isnan(data.fill_rate))
    if targets.size:
        raise ValueError(
            "scenario decomposition (mpi-sppy) cannot express the minimum expected fill "
            f"rate (min_fill_rate is set on {targets.size} item(s)): it is an expectation "
            "over scenarios, not a per-scenario or first-stage row; use engine 'ef' or "
            "'matrix'"
        )


def scenario_index(scenario_name: str) -> int:
    """Index :math:`w` of a scenario name made by :func:`scenario_names_creator`."""
    if not scenario_name.startswith(SCENARIO_PREFIX):
        raise ValueError(f"not a stockplan scenario name: {scenario_name!r}")
    return int(scenario_name[len(SCENARIO_PREFIX) :])


def scenario_names_creator(num_scens: int, start: int | None = None) -> list[str]:
    """Names ``scen<w>`` of scenarios ``start .. start + num_scens - 1``.

    Parameters
    ----------
    num_scens : int
        Number :math:`N` of names.
    start : int, optional
        First index (default 0).
    """
    first = 0 if start is None else int(start)
    return [f"{SCENARIO_PREFIX}{w}" for w in range(first, first + int(num_scens))]


def optimality_bounds(data: ProgramData) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Upper bounds on the first stage that some optimal plan satisfies.

    Progressive hedging's Lagrangian subproblems :math:`\min_x f_w(x) + W_w^T x` are
    unbounded when a weight :math:`W_w` outruns the cost slope of an unbounded variable
    (mpi-sppy then reports a meaningless "bound"), so every scenario model gets these
    bounds, which cut off no optimal plan:

    * :math:`S_i \le L_i\mu_i + \max_w \sum_t d_{i,w,t}`: from there the start-up stock
      alone covers every demand of every scenario, so more stock only adds holding cost;
    * :math:`K_i \le \max_{w,t} d_{i,w,t}`: more reserved capacity than the largest
      period demand is never used;
    * :math:`0 \le \eta \le \max_w \bar C_w / \lambda`: costs are non-negative, so
      :math:`VaR_\alpha \ge 0`; and :math:`\eta^* = VaR_\alpha[C(x^*)] \le CVaR_\alpha \le
      \text{obj}(x^*)/\lambda \le \text{obj}(x^0)/\lambda \le \max_w \bar C_w/\lambda`
      for the pipeline-only plan :math:`x^0` (:math:`S = L\mu`, :math:`K = 0`) priced with
      the feasible recourse "serve nothing", :math:`\bar C_w = \sum_i [h_i H (S^0_i +
      D_{i,w}) + p_i H D_{i,w}]` with :math:`D_{i,w} = \sum_t d_{i,w,t}` over the horizon
      :math:`H` (loose, which is all a bound needs).

    Returns
    -------
    s_hi, k_hi : ndarray (n,)
    eta_hi : float
        ``inf`` when :math:`\lambda = 0`.
    """
    total = data.demand.sum(axis=2)  # (n, N)
    s_hi = data.min_base_stock + total.max(axis=1)
    k_hi = data.demand.max(axis=(1, 2))
    H = data.horizon
    s0 = data.min_base_stock[:, None]
    loose = data.holding[:, None] * H * (s0 + total) + data.penalty[:, None] * H * total
    lam = float(data.cvar_weight)
    eta_hi = float(loose.sum(axis=0).max()) / lam if lam > 0 else float("inf")
    return s_hi, k_hi, eta_hi


Bounds = tuple[np.ndarray, np.ndarray, float]


def build_decomposed_scenario(
    data: ProgramData, w: int, bounds: Bounds | None = None
) -> pyo.ConcreteModel:
    r"""Scenario model of scenario ``w`` with its own first stage and objective :math:`f_w`.

    Parameters
    ----------
    data : ProgramData
        Coefficients of every item and scenario (only scenario ``w`` is read).
    w : int
        Scenario index.
    bounds : tuple, optional
        :func:`optimality_bounds` of ``data`` (computed when not given; pass it when
        building many scenarios, it reads every scenario's demand).

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components of :func:`models.two_stage.build_scenario_model` (``S``, ``ss``, ``K``
        with the upper bounds of :func:`optimality_bounds`,
        plan rows, ``scenario[w]`` with its ``cost`` :math:`C_w`), plus ``eta``, ``z`` and
        ``cvar_excess`` when :math:`\lambda > 0`; ``first_stage_cost`` (the reservation
        fees :math:`T\sum_i f_i K_i`, plus :math:`\lambda\eta` with CVaR); and the
        objective ``total_cost`` :math:`f_w`.
    """
    check_decomposable(data)
    m = build_scenario_model(data, w)
    s_hi, k_hi, eta_hi = optimality_bounds(data) if bounds is None else bounds
    for i in m.S:
        m.S[i].setub(float(s_hi[i]))
    for i in m.K:
        ub = m.K[i].ub
        m.K[i].setub(float(k_hi[i]) if ub is None else min(float(ub), float(k_hi[i])))
    cost = m.scenario[w].cost
    fee = data.fee.tolist()
    fees = sum(data.periods * fee[i] * m.K[i] for i in m.K)
    lam = float(data.cvar_weight)
    if lam > 0:
        m.del_component(m.total_cost)
        m.eta = pyo.Var(bounds=(0.0, float(eta_hi)), doc="value-at-risk level eta (first stage)")
        m.z = pyo.Var(within=pyo.NonNegativeReals, doc="excess of C_w over eta")
        m.cvar_excess = pyo.Constraint(expr=m.z >= cost - m.eta)
        m.total_cost = pyo.Objective(
            expr=(1.0 - lam) * cost + lam * (m.eta + m.z / (1.0 - float(data.cvar_alpha)))
        )
        m.first_stage_cost = pyo.Expression(expr=fees + lam * m.eta)
    else:
        m.first_stage_cost = pyo.Expression(expr=fees)
    return m


def nonant_components(model: pyo.ConcreteModel) -> list[pyo.Var]:
    """List the nonanticipative variables of a scenario model: ``S``, ``K``, ``eta`` if any."""
    out = [model.S]
    if len(model.K) > 0:
        out.append(model.K)
    if hasattr(model, "eta"):
        out.append(model.eta)
    return out


def scenario_creator(
    scenario_name: str, data: ProgramData | None = None, bounds: Bounds | None = None, **_: Any
) -> pyo.ConcreteModel:
    r"""mpi-sppy scenario creator: the model of ``scenario_name`` with its root node.

    Parameters
    ----------
    scenario_name : str
        ``scen<w>``.
    data : ProgramData
        Program coefficients (passed through ``scenario_creator_kwargs``).
    bounds : tuple, optional
        Precomputed :func:`optimality_bounds` (``kw_creator`` supplies them).

    Returns
    -------
    pyomo.environ.ConcreteModel
        :func:`build_decomposed_scenario` with ``_mpisppy_node_list`` (root node holding
        :math:`S, K[, \eta]`) and ``_mpisppy_probability`` :math:`= p_w`.
    """
    from mpisppy.utils import sputils

    if data is None:
        raise ValueError("scenario_creator needs data=ProgramData (scenario_creator_kwargs)")
    w = scenario_index(scenario_name)
    if not 0 <= w < data.n_scenarios:
        raise ValueError(f"{scenario_name!r} is outside 0..{data.n_scenarios - 1}")
    model = build_decomposed_scenario(data, w, bounds)
    sputils.attach_root_node(model, model.first_stage_cost, nonant_components(model))
    model._mpisppy_probability = float(data.probability[w])
    return model


def kw_creator(cfg: Any = None, *, data: ProgramData | None = None) -> dict[str, Any]:
    """Keyword arguments for :func:`scenario_creator`: the data and its optimality bounds.

    Parameters
    ----------
    cfg : mpisppy.utils.config.Config, optional
        Accepted for mpi-sppy's calling convention; its typed options cannot carry a
        :class:`ProgramData`, so ``data`` is required.
    data : ProgramData
        Coefficients handed to every scenario model.
    """
    if data is None:
        raise ValueError("kw_creator needs the ProgramData: kw_creator(cfg, data=data)")
    return {"data": data, "bounds": optimality_bounds(data)}


def scenario_denouement(rank: int, scenario_name: str, scenario: pyo.ConcreteModel) -> None:
    """Log the cost :math:`C_w` of a local scenario (mpi-sppy calls this after the run)."""
    w = scenario_index(scenario_name)
    cost = pyo.value(scenario.scenario[w].cost, exception=False)
    log.debug("rank %d, %s: scenario cost C_w = %s", rank, scenario_name, cost)
