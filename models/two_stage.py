r"""The two-stage stocking program as a Pyomo ``ConcreteModel``.

The program is the one of the README section "The model".

Notation (0-based periods :math:`t = 0..H-1`, the last :math:`T` costed):

First stage, per item :math:`i`: base stock :math:`S_i \ge L_i\mu_i`, safety stock
:math:`ss_i = S_i - (L_i+1)\mu_i`, reserved emergency capacity :math:`0 \le K_i \le
\bar e_i` (items with a reservation fee only).

Second stage, per scenario :math:`w` (a block), item and period:

* on hand :math:`I`, sales of the period's demand from stock :math:`s`, emergency buys
  :math:`e \le \bar e` (and :math:`\le K`), unmet demand :math:`n` (lost, or newly
  backordered); with backorders also backlog :math:`B` and backlog served :math:`r`;
* demand split: :math:`s_t + e_t + n_t = d_t`;
* stock balance: :math:`I_t = I_{t-1} + \text{pipe}_t + \sum_{\tau: a(\tau)=t} o_\tau -
  s_t - r_t` with :math:`I_{-1} = S - L\mu`, the start-up pipeline :math:`\text{pipe}_t =
  \mu` in the :math:`L` periods from the item's first live period (``ProgramData.start``),
  the arrival period :math:`a(\tau)` of the order placed at the end
  of :math:`\tau` (first up period after :math:`\tau` plus :math:`L`), and the base-stock
  order :math:`o_\tau = s_\tau` (lost sales) or :math:`d_\tau - e_\tau` (backorder);
* backlog: :math:`B_t = B_{t-1} + n_t - r_t`, :math:`B_{-1} = 0`, and only backlog carried
  in is served, :math:`r_t \le B_{t-1}`.

Scenario cost :math:`C_w = \sum_i [T f_i K_i + \sum_{t \ge W} (h_i I_t + p_i (n_t
\text{ or } B_t) + e^{prem}_i e_t)]`; objective :math:`(1-\lambda) \sum_w p_w C_w +
\lambda (\eta + \frac{1}{1-\alpha} \sum_w p_w z_w)`, :math:`z_w \ge C_w - \eta`,
:math:`z \ge 0`. Plan rows: :math:`\sum c_i S_i \le B`, :math:`\sum v_i S_i \le V`, and
:math:`\sum_w p_w \sum_{t\ge W} n_{i,w,t} \le (1-\beta_i) \sum_w p_w \sum_{t \ge W}
d_{i,w,t}`.

The builders are pure: :class:`~optimizer.program.data.ProgramData` in, model out.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from optimizer.program.data import ProgramData


def _incoming(arrival: np.ndarray) -> list[list[list[int]]]:
    r"""For one item and scenario set, the order periods arriving in each period.

    Returns ``inc[w][t]`` = list of :math:`\tau` with :math:`a_w(\tau) = t`.
    """
    n_scen, horizon = arrival.shape
    inc: list[list[list[int]]] = [[[] for _ in range(horizon)] for _ in range(n_scen)]
    ws, taus = np.nonzero(arrival < horizon)
    for w, tau in zip(ws.tolist(), taus.tolist(), strict=True):
        inc[w][int(arrival[w, tau])].append(tau)
    return inc


def _add_first_stage(owner: pyo.Block, data: ProgramData) -> None:
    """Add base stock ``S``, safety stock ``ss`` and reserved capacity ``K`` to ``owner``."""
    items = range(data.n_items)
    lower = data.min_base_stock.tolist()
    cover = ((data.lead + 1) * data.mean).tolist()
    owner.S = pyo.Var(items, bounds=lambda _, i: (lower[i], None), doc="base-stock level S_i")
    owner.ss = pyo.Var(items, doc="safety stock ss_i = S_i - (L_i+1) mu_i")
    owner.safety_stock_def = pyo.Constraint(items, rule=lambda b, i: b.ss[i] == b.S[i] - cover[i])
    reserving = np.flatnonzero(data.reserves).tolist()
    cap = data.capacity.tolist()
    owner.K = pyo.Var(
        reserving,
        bounds=lambda _, i: (0.0, cap[i] if np.isfinite(cap[i]) else None),
        doc="reserved emergency capacity K_i",
    )


def _scenario_block(b: pyo.Block, w: int, data: ProgramData, first: pyo.Block) -> None:
    """Recourse of scenario ``w`` on block ``b``; ``first`` holds ``S`` and ``K``."""
    n, horizon, warm = data.n_items, data.horizon, data.warmup
    items, periods = range(n), range(horizon)
    emergency = np.flatnonzero(data.has_emergency).tolist()
    reserving = np.flatnonzero(data.reserves).tolist()
    d = data.demand[:, w, :].tolist()
    mean, lead = data.mean.tolist(), data.lead.tolist()
    pipeline = data.pipeline.tolist()
    cap = data.capacity.tolist()
    inc = [_incoming(data.arrival[i, w : w + 1, :])[0] for i in items]

    b.I = pyo.Var(items, periods, within=pyo.NonNegativeReals, doc="on hand, end of period")
    b.s = pyo.Var(items, periods, within=pyo.NonNegativeReals, doc="demand served from stock")
    b.n = pyo.Var(items, periods, within=pyo.NonNegativeReals, doc="demand unmet now")
    b.e = pyo.Var(
        [(i, t) for i in emergency for t in periods],
        bounds=lambda _, i, t: (0.0, cap[i] if np.isfinite(cap[i]) else None),
        doc="emergency buys",
    )
    if data.backorder:
        b.B = pyo.Var(items, periods, within=pyo.NonNegativeReals, doc="backlog, end of period")
        b.r = pyo.Var(items, periods, within=pyo.NonNegativeReals, doc="backlog served")
    has_e = set(emergency)

    def demand_split(b, i, t):
        served = b.s[i, t] + b.n[i, t]
        if i in has_e:
            served = served + b.e[i, t]
        return served == d[i][t]

    b.demand_split = pyo.Constraint(items, periods, rule=demand_split)

    def stock_balance(b, i, t):
        prev = b.I[i, t - 1] if t > 0 else first.S[i] - lead[i] * mean[i]
        pipe = pipeline[i][t]
        out = b.s[i, t] + (b.r[i, t] if data.backorder else 0.0)
        if data.backorder:
            arrivals = sum(d[i][tau] for tau in inc[i][t])
            if i in has_e:
                arrivals = arrivals - sum(b.e[i, tau] for tau in inc[i][t])
        else:
            arrivals = sum(b.s[i, tau] for tau in inc[i][t])
        return b.I[i, t] == prev + pipe + arrivals - out

    b.stock_balance = pyo.Constraint(items, periods, rule=stock_balance)

    if data.backorder:
        b.backlog_balance = pyo.Constraint(
            items,
            periods,
            rule=lambda b, i, t: (
                b.B[i, t] == (b.B[i, t - 1] if t > 0 else 0.0) + b.n[i, t] - b.r[i, t]
            ),
        )
    if data.backorder:
        # only backlog carried in can be served: no backordering and serving the same unit
        # in one period (which would make unmet demand, and fill rates, arbitrary)
        b.backlog_served = pyo.Constraint(
            items,
            periods,
            rule=lambda b, i, t: b.r[i, t] <= (b.B[i, t - 1] if t > 0 else 0.0),
        )
    b.reservation = pyo.Constraint(
        [(i, t) for i in reserving for t in periods], rule=lambda b, i, t: b.e[i, t] <= first.K[i]
    )

    hold, pen, prem = data.holding.tolist(), data.penalty.tolist(), data.premium.tolist()
    fee = data.fee.tolist()
    costed = range(warm, horizon)
    short = b.B if data.backorder else b.n
    b.cost = pyo.Expression(
        expr=sum(data.periods * fee[i] * first.K[i] for i in reserving)
        + sum(hold[i] * b.I[i, t] + pen[i] * short[i, t] for i in items for t in costed)
        + sum(prem[i] * b.e[i, t] for i in emergency for t in costed),
        doc="scenario cost C_w over the costed periods",
    )


def _add_plan_rows(owner: pyo.Block, data: ProgramData) -> None:
    """Inventory-budget and storage rows on ``owner.S``."""
    items = range(data.n_items)
    if data.budget is not None:
        cost = data.unit_cost.tolist()
        owner.inventory_budget = pyo.Constraint(
            expr=sum(cost[i] * owner.S[i] for i in items) <= data.budget
        )
    if data.storage is not None:
        vol = data.volume.tolist()
        owner.storage_capacity = pyo.Constraint(
            expr=sum(vol[i] * owner.S[i] for i in items) <= data.storage
        )


def build_extensive_form(data: ProgramData, *, nonanticipative: bool = True) -> pyo.ConcreteModel:
    """Extensive form of the two-stage program: one block per scenario.

    Parameters
    ----------
    data : ProgramData
        Coefficients for the items and scenarios to include.
    nonanticipative : bool
        ``True`` (the recourse problem RP): one plan shared by every scenario. ``False``
        (wait-and-see, WS): each scenario block gets its own plan and its own copy of the
        budget/storage rows; the fill-rate rows, an expectation over scenarios with no
        per-scenario meaning, are dropped. WS is then a relaxation of RP.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components ``S``, ``ss``, ``K`` (top level when nonanticipative, else per block),
        ``scenario[w]`` blocks with ``I, s, n, e, B, r`` and ``cost``, ``eta``/``z`` for
        CVaR, and the objective ``total_cost``.
    """
    m = pyo.ConcreteModel(name="stockplan_extensive_form")
    scen = range(data.n_scenarios)
    prob = data.probability.tolist()
    if nonanticipative:
        _add_first_stage(m, data)
        _add_plan_rows(m, data)

    def block_rule(b, w):
        first = m if nonanticipative else b
        if not nonanticipative:
            _add_first_stage(b, data)
            _add_plan_rows(b, data)
        _scenario_block(b, w, data, first)

    m.scenario = pyo.Block(scen, rule=block_rule)

    if nonanticipative:
        costed = range(data.warmup, data.horizon)
        targets = [i for i in range(data.n_items) if not np.isnan(data.fill_rate[i])]
        demand_total = (data.probability[None, :, None] * data.demand[:, :, data.warmup :]).sum(
            axis=(1, 2)
        )

        def fill_rate(m, i):
            unmet = sum(prob[w] * m.scenario[w].n[i, t] for w in scen for t in costed)
            return unmet <= (1.0 - float(data.fill_rate[i])) * float(demand_total[i])

        m.fill_rate = pyo.Constraint(targets, rule=fill_rate)

    expected = sum(prob[w] * m.scenario[w].cost for w in scen)
    lam = data.cvar_weight
    if lam > 0:
        m.eta = pyo.Var(doc="value-at-risk level eta")
        m.z = pyo.Var(scen, within=pyo.NonNegativeReals, doc="excess of C_w over eta")
        m.cvar_excess = pyo.Constraint(scen, rule=lambda m, w: m.z[w] >= m.scenario[w].cost - m.eta)
        cvar = m.eta + sum(prob[w] * m.z[w] for w in scen) / (1.0 - data.cvar_alpha)
        m.total_cost = pyo.Objective(expr=(1.0 - lam) * expected + lam * cvar)
    else:
        m.total_cost = pyo.Objective(expr=expected)
    return m


def fix_plan(
    model: pyo.ConcreteModel,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    keep_fill_rate: bool = True,
) -> None:
    """Fix the first stage of a nonanticipative model to a given plan.

    The budget and storage rows become constants and are deactivated (a given plan is
    checked against them separately, not "infeasible" in its evaluation).

    Parameters
    ----------
    base_stock : ndarray (n,)
        :math:`S_i`.
    reserved : ndarray (n,)
        :math:`K_i` (read only for items that reserve capacity).
    keep_fill_rate : bool
        Keep the fill-rate rows (``True`` for EEV, where the plan must be feasible for
        the stochastic program; ``False`` to price a plan's recourse alone).
    """
    for name in ("inventory_budget", "storage_capacity"):
        if hasattr(model, name):
            getattr(model, name).deactivate()
    if not keep_fill_rate and hasattr(model, "fill_rate"):
        model.fill_rate.deactivate()
    for i in model.S:
        model.S[i].fix(float(base_stock[i]))
    for i in model.K:
        model.K[i].fix(float(reserved[i]))


def build_scenario_model(data: ProgramData, w: int) -> pyo.ConcreteModel:
    """One scenario with its own copy of the first stage (an mpi-sppy scenario creator body).

    The objective is the scenario cost :math:`C_w` (risk-neutral); the budget and storage
    rows are attached, so every scenario model respects the plan-level limits.
    """
    m = pyo.ConcreteModel(name=f"stockplan_scenario_{w}")
    _add_first_stage(m, data)
    _add_plan_rows(m, data)
    m.scenario = pyo.Block([w], rule=lambda b, _w: _scenario_block(b, _w, data, m))
    m.total_cost = pyo.Objective(expr=m.scenario[w].cost)
    return m
