r"""The two-stage stocking program with a *causal* second stage, as a Pyomo MILP.

The hindsight program of :mod:`models.two_stage` lets the recourse LP choose sales,
emergency buys and shortages knowing the whole scenario. Here a scenario's cost for a plan
is what running the plan period by period costs, exactly as
:func:`optimizer.program.simulate.simulate_plan` plays it (README, "The model"). Per item,
scenario and period :math:`t`, with on hand :math:`A_t = I_{t-1} + \text{pipe}_t +
\text{arrivals}_t` once the period's deliveries are in:

* backlog first (backorders): :math:`r_t = \min(B_{t-1}, A_t)`;
* then new demand from stock: :math:`s_t = \min(d_t, A_t - r_t)`, :math:`I_t = A_t - r_t -
  s_t`;
* then emergency supply: :math:`e_t = \min(d_t - s_t, \kappa)` with :math:`\kappa` the
  capacity :math:`\bar e`, or the reserved :math:`K` for items with a reservation fee;
* the rest, :math:`n_t = d_t - s_t - e_t`, is lost or backordered; orders restore the
  inventory position to :math:`S` (:math:`o_t = s_t` lost sales, :math:`d_t - e_t`
  backorders) and arrive in the exogenous period ``data.arrival``.

The model is the hindsight extensive form (:func:`models.two_stage.build_extensive_form`:
same variables, balance rows, first stage, plan rows, fill-rate rows, CVaR blend,
wait-and-see) plus, per min, one binary :math:`z` and two big-M rows that make the two
arguments complementary, which together with the balance rows and :math:`I, n, e \ge 0`,
:math:`r \le B_{t-1}`, :math:`e \le \kappa` forces the min:

* :math:`z^B` (backlog left over): :math:`B_{t-1} - r_t \le M^B_{t-1} z^B`,
  :math:`s_t + I_t \le M^A_t (1 - z^B)`;
* :math:`z^S` (stock ran out): :math:`d_t - s_t \le d_t z^S`, :math:`I_t \le M^I_t (1 -
  z^S)`;
* :math:`z^E` (emergency at its limit): :math:`n_t \le (d_t - \underline\kappa) z^E`,
  :math:`\kappa - e_t \le \bar\kappa (1 - z^E)`.

By induction over :math:`t` the recourse is then unique for a given plan, so the MILP's
second stage is the causal one, not a choice.

Big-M constants (all from the data, see :func:`causal_bounds`). The inventory position
is :math:`S` at every period end in both modes, so with :math:`O_t` the units on order at
the end of :math:`t` (start-up pipeline included), :math:`I_t + O_t - B_t = S`. Orders
never exceed demand, so :math:`O_t \le \bar O_t = \sum_{u > t}\text{pipe}_u + \sum_{u \le
t,\, a(u) > t} d_u` (the demand over the replenishment time, queueing behind outages
included) and :math:`O_t \ge \sum_{u>t}\text{pipe}_u =: P_t`.

* :math:`\bar S = \max(L\mu, \max_{w,t} \bar O_{w,t})` bounds :math:`S` without loss:
  from :math:`\bar S` on no scenario ever runs short (by induction orders equal demand, so
  :math:`I_t = S - \bar O_t \ge 0`), so a larger :math:`S` only shifts every on-hand path
  up (more holding, looser nothing). Wait-and-see uses each scenario's own maximum.
  Integer plans use :math:`\lceil \bar S \rceil`.
* :math:`\bar K = \min(\bar e, \max_{w,t} d_{w,t})` bounds :math:`K`: a reservation above
  the largest demand never binds, and the fee is non-negative.
* :math:`M^I_t = \bar S - P_t - d_t`: when :math:`I_t > 0` the period's demand was met from
  stock, so its order :math:`d_t` is outstanding too.
* :math:`M^A_t = \bar S - P_t`: on hand after serving the backlog is :math:`S` minus the
  orders outstanding once the period's deliveries are in.
* :math:`M^B_t = \bar O_t - \underline S` bounds the backlog :math:`B_t` (also imposed
  as its upper bound): backlog at a period end means no stock, so :math:`B_t = O_t - S`.
  Where it is 0 no binary is needed.
* :math:`\underline\kappa, \bar\kappa` are the capacity (unreserved), :math:`0` and
  :math:`\bar K` (reserved, free), or the given :math:`\min(\bar e, K)` (fixed plan). Where
  :math:`\underline\kappa \ge d_t` (unlimited capacity in particular), :math:`n_t = 0`
  without a binary; where :math:`d_t = 0` the demand split forces :math:`s = e = n = 0`.

An exact LP where it exists: for a backorder item without emergency supply whose
fill-rate row is absent, orders equal demand, so net inventory :math:`I_t - B_t` is
exogenous in the hindsight LP too and every costed period's :math:`h I_t + p B_t` is at
least :math:`h (I_t - B_t)^+ + p (I_t - B_t)^-`, which the causal run attains. Scenario
costs, hence the expectation and the CVaR, are then those of the causal run for every
plan, so such items keep the hindsight rows with no binary (``lp_where_exact``). Their
recourse arrays may differ from the causal run where that costs nothing (uncosted
warm-up, ties at zero cost); the objective does not. With a fill-rate row they are not
exact (the LP may serve new demand before the backlog and so count fewer unmet units),
nor with lost sales (the LP may decline a sale so that the replenishment arrives later).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from models.two_stage import build_extensive_form, fix_plan
from optimizer.program.data import ProgramData
from optimizer.program.verifier import RecourseArrays, arrivals


@dataclass(frozen=True)
class CausalBounds:
    r"""Bounds and big-M constants of the causal rows (see the module docstring).

    Attributes
    ----------
    s_lower : ndarray (n,)
        :math:`\underline S_i` (:math:`L_i\mu_i`, rounded up for integer plans, or the
        given plan).
    s_upper : ndarray (n, N)
        :math:`\bar S_i` as used by scenario ``w`` (the same in every column unless
        wait-and-see).
    k_upper : ndarray (n,)
        :math:`\bar K_i` (0 for items that do not reserve).
    cap_lower, cap_upper : ndarray (n,)
        :math:`\underline\kappa_i, \bar\kappa_i`, the limit of the emergency min
        (0 without a source, ``inf`` when unlimited).
    outstanding : ndarray (n, N, H)
        :math:`\bar O_t`, the most that can be on order at the end of :math:`t`.
    pipeline_left : ndarray (n, H)
        :math:`P_t`, start-up pipeline still to arrive after :math:`t`.
    stock : ndarray (n, N, H)
        :math:`M^I_t`.
    after_backlog : ndarray (n, N, H)
        :math:`M^A_t`.
    backlog : ndarray (n, N, H)
        :math:`M^B_t` (zeros with lost sales).
    """

    s_lower: np.ndarray
    s_upper: np.ndarray
    k_upper: np.ndarray
    cap_lower: np.ndarray
    cap_upper: np.ndarray
    outstanding: np.ndarray
    pipeline_left: np.ndarray
    stock: np.ndarray
    after_backlog: np.ndarray
    backlog: np.ndarray


def no_shortage_level(data: ProgramData) -> np.ndarray:
    r"""Per item and scenario, the base stock from which the plan never runs short.

    Returns
    -------
    ndarray (n, N)
        :math:`\max(L\mu, \max_t \bar O_{w,t})`.
    """
    outstanding = _outstanding(data)
    return np.maximum(data.min_base_stock[:, None], outstanding.max(axis=2, initial=0.0))


def _pipeline_left(data: ProgramData) -> np.ndarray:
    r""":math:`P_t = L\mu - \sum_{u \le t} \text{pipe}_u`, shape (n, H)."""
    return data.min_base_stock[:, None] - np.cumsum(data.pipeline, axis=1)


def _outstanding(data: ProgramData) -> np.ndarray:
    r""":math:`\bar O_t` with every order equal to the period's demand, shape (n, N, H)."""
    d = data.demand
    on_order = np.cumsum(d, axis=2) - np.cumsum(arrivals(data, d), axis=2)
    return _pipeline_left(data)[:, None, :] + np.maximum(on_order, 0.0)


def causal_bounds(
    data: ProgramData,
    base_stock: np.ndarray | None = None,
    reserved: np.ndarray | None = None,
    *,
    integer: bool = False,
    per_scenario: bool = False,
) -> CausalBounds:
    r"""Bounds on the plan and big-M constants of the causal rows.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,), optional
        A fixed plan :math:`S, K`; the constants are then those of that plan.
    integer : bool
        Whole-unit plans: the plan bounds are rounded outwards to integers.
    per_scenario : bool
        Wait-and-see: each scenario's own :math:`\bar S`.
    """
    n, N, H = data.demand.shape
    d = data.demand
    outstanding = _outstanding(data)
    pipe_left = _pipeline_left(data)
    cap = data.capacity.astype(float)
    reserves = data.reserves
    if base_stock is not None:
        S = np.asarray(base_stock, dtype=float)
        s_lower = S.copy()
        s_upper = np.repeat(S[:, None], N, axis=1)
        K = np.zeros(n) if reserved is None else np.asarray(reserved, dtype=float)
        k_upper = np.where(reserves, np.minimum(cap, K), 0.0)
        cap_lower = np.where(reserves, k_upper, cap)
        cap_upper = cap_lower.copy()
    else:
        level = no_shortage_level(data)
        if not per_scenario:
            level = np.repeat(level.max(axis=1, initial=0.0)[:, None], N, axis=1)
        s_lower = data.min_base_stock.astype(float)
        s_upper = level
        peak = d.max(axis=(1, 2), initial=0.0)
        k_upper = np.where(reserves, np.minimum(cap, peak), 0.0)
        if integer:
            s_lower = np.ceil(s_lower - 1e-9)
            s_upper = np.maximum(np.ceil(s_upper - 1e-9), s_lower[:, None])
            k_upper = np.where(
                reserves, np.minimum(np.floor(cap + 1e-9), np.ceil(k_upper - 1e-9)), 0.0
            )
        cap_lower = np.where(reserves, 0.0, cap)
        cap_upper = np.where(reserves, k_upper, cap)
    s_hi = s_upper[:, :, None]
    stock = np.maximum(s_hi - pipe_left[:, None, :] - d, 0.0)
    after_backlog = np.maximum(s_hi - pipe_left[:, None, :], 0.0)
    if data.backorder:
        backlog = np.maximum(outstanding - s_lower[:, None, None], 0.0)
    else:
        backlog = np.zeros((n, N, H))
    return CausalBounds(
        s_lower=s_lower,
        s_upper=s_upper,
        k_upper=k_upper,
        cap_lower=cap_lower,
        cap_upper=cap_upper,
        outstanding=outstanding,
        pipeline_left=pipe_left,
        stock=stock,
        after_backlog=after_backlog,
        backlog=backlog,
    )


def exact_lp_items(data: ProgramData, *, fill_rows: bool) -> np.ndarray:
    """Items whose hindsight rows already price the causal run exactly (module docstring).

    Parameters
    ----------
    fill_rows : bool
        Whether the model carries the fill-rate rows.

    Returns
    -------
    ndarray of bool (n,)
    """
    targeted = ~np.isnan(data.fill_rate) if fill_rows else np.zeros(data.n_items, dtype=bool)
    return np.asarray(data.backorder & ~data.has_emergency & ~targeted, dtype=bool)


#: Below this a big-M constant is taken as 0 (the quantity is forced to 0 instead).
_EPS = 1e-9


def _add_causal_rows(
    b: pyo.Block,
    w: int,
    data: ProgramData,
    first: pyo.Block,
    bounds: CausalBounds,
    binary_items: list[int],
    fixed_plan: bool,
) -> None:
    """Binaries and big-M rows forcing the causal recourse on scenario block ``b``."""
    H = data.horizon
    d = data.demand[:, w, :]
    reserving = set(np.flatnonzero(data.reserves).tolist())
    emergency = set(np.flatnonzero(data.has_emergency).tolist())
    M_I, M_A, M_B = bounds.stock[:, w, :], bounds.after_backlog[:, w, :], bounds.backlog[:, w, :]

    backlog_cells, stock_cells, emergency_cells = [], [], []
    for i in binary_items:
        if data.backorder:
            for t in range(H):
                b.B[i, t].setub(float(M_B[i, t]) if M_B[i, t] > _EPS else 0.0)
            backlog_cells += [(i, t) for t in range(1, H) if M_B[i, t - 1] > _EPS]
        for t in range(H):
            if d[i, t] <= 0:
                continue  # the demand split forces s = e = n = 0
            if M_I[i, t] <= _EPS:
                b.I[i, t].setub(0.0)  # no stock can be left: all of it is sold
            else:
                stock_cells.append((i, t))
            if i in emergency:
                if bounds.cap_lower[i] >= d[i, t]:
                    b.n[i, t].setub(0.0)  # emergency supply covers whatever stock misses
                else:
                    emergency_cells.append((i, t))

    b.z_backlog = pyo.Var(backlog_cells, within=pyo.Binary, doc="backlog left over (no stock)")
    b.z_stock = pyo.Var(stock_cells, within=pyo.Binary, doc="stock ran out")
    b.z_emergency = pyo.Var(emergency_cells, within=pyo.Binary, doc="emergency at its limit")

    b.backlog_first = pyo.Constraint(
        backlog_cells,
        rule=lambda b, i, t: b.B[i, t - 1] - b.r[i, t] <= float(M_B[i, t - 1]) * b.z_backlog[i, t],
        doc="r = B_{t-1} unless the backlog is left over",
    )
    b.backlog_exhausts = pyo.Constraint(
        backlog_cells,
        rule=lambda b, i, t: b.s[i, t] + b.I[i, t] <= float(M_A[i, t]) * (1 - b.z_backlog[i, t]),
        doc="backlog left over only when no stock remains after it",
    )
    b.sold_all = pyo.Constraint(
        stock_cells,
        rule=lambda b, i, t: d[i, t] - b.s[i, t] <= float(d[i, t]) * b.z_stock[i, t],
        doc="s = d unless stock ran out",
    )
    b.stock_exhausts = pyo.Constraint(
        stock_cells,
        rule=lambda b, i, t: b.I[i, t] <= float(M_I[i, t]) * (1 - b.z_stock[i, t]),
        doc="unmet from stock only when no stock is left",
    )

    cap_lo, cap_hi = bounds.cap_lower, bounds.cap_upper

    def limit(i: int):
        if i in reserving and not fixed_plan:
            return first.K[i]
        return float(cap_lo[i])

    b.emergency_all = pyo.Constraint(
        emergency_cells,
        rule=lambda b, i, t: b.n[i, t] <= float(d[i, t] - cap_lo[i]) * b.z_emergency[i, t],
        doc="n = 0 unless emergency supply is at its limit",
    )
    b.emergency_limit = pyo.Constraint(
        emergency_cells,
        rule=lambda b, i, t: limit(i) - b.e[i, t] <= float(cap_hi[i]) * (1 - b.z_emergency[i, t]),
        doc="shortage only when emergency supply is at its limit",
    )


def build_causal_model(
    data: ProgramData,
    *,
    nonanticipative: bool = True,
    integer: bool = False,
    base_stock: np.ndarray | None = None,
    reserved: np.ndarray | None = None,
    keep_fill_rate: bool = True,
    lp_where_exact: bool = True,
) -> pyo.ConcreteModel:
    """Extensive form of the program with the causal second stage (a MILP).

    Parameters
    ----------
    data : ProgramData
    nonanticipative : bool
        ``True``: one plan for every scenario (RP). ``False``: wait-and-see, one plan per
        scenario, fill-rate rows dropped (as :func:`models.two_stage.build_extensive_form`).
    integer : bool
        Whole-unit plans: :math:`S_i` and :math:`K_i` integer.
    base_stock, reserved : ndarray (n,), optional
        A fixed plan :math:`S, K` (nonanticipative only): the model is then its
        evaluation, with the budget and storage rows dropped as in
        :func:`models.two_stage.fix_plan`. ``reserved`` defaults to zeros.
    keep_fill_rate : bool
        With a fixed plan, keep the fill-rate rows (then the model is infeasible when the
        plan misses a target).
    lp_where_exact : bool
        Give no binaries to the items whose hindsight rows are already exact
        (:func:`exact_lp_items`).

    Returns
    -------
    pyomo.environ.ConcreteModel
        The components of the hindsight model plus, per scenario block, binaries
        ``z_backlog``, ``z_stock``, ``z_emergency`` with their big-M rows.
    """
    n, N = data.n_items, data.n_scenarios
    fixed = base_stock is not None
    if fixed:
        if not nonanticipative:
            raise ValueError("a fixed plan is evaluated with one plan for all scenarios")
        base_stock = np.asarray(base_stock, dtype=float)
        reserved = np.zeros(n) if reserved is None else np.asarray(reserved, dtype=float)
        if np.any(base_stock < data.min_base_stock - 1e-9):
            raise ValueError("base stock below the start-up pipeline L*mu")
    bounds = causal_bounds(
        data, base_stock, reserved, integer=integer, per_scenario=not nonanticipative
    )
    m = build_extensive_form(data, nonanticipative=nonanticipative)
    reserving = np.flatnonzero(data.reserves).tolist()

    def bound_plan(first: pyo.Block, w: int) -> None:
        for i in range(n):
            var = first.S[i]
            if integer:
                var.domain = pyo.Integers
            var.setlb(float(bounds.s_lower[i]))
            var.setub(float(bounds.s_upper[i, w]))
        for i in reserving:
            var = first.K[i]
            if integer:
                var.domain = pyo.Integers
            var.setub(float(bounds.k_upper[i]))

    if fixed:
        fix_plan(m, base_stock, reserved, keep_fill_rate=keep_fill_rate)
    else:
        for w in range(N):
            bound_plan(m if nonanticipative else m.scenario[w], w)
    fill_rows = nonanticipative and (keep_fill_rate or not fixed)
    skip = exact_lp_items(data, fill_rows=fill_rows) if lp_where_exact else np.zeros(n, bool)
    binary_items = np.flatnonzero(~skip).tolist()
    for w in range(N):
        first = m if nonanticipative else m.scenario[w]
        _add_causal_rows(m.scenario[w], w, data, first, bounds, binary_items, fixed)
    return m


def plan_values(model: pyo.ConcreteModel, data: ProgramData) -> tuple[np.ndarray, np.ndarray]:
    """:math:`S` and :math:`K` (zeros for items that do not reserve) of a solved RP model."""
    S = np.array([pyo.value(model.S[i]) for i in range(data.n_items)], dtype=float)
    K = np.zeros(data.n_items)
    for i in model.K:
        K[i] = pyo.value(model.K[i])
    return S, K


def recourse_values(model: pyo.ConcreteModel, data: ProgramData) -> RecourseArrays:
    """Read the second-stage arrays off a solved model, shape (n, N, H) each."""
    n, N, H = data.demand.shape
    out = {k: np.zeros((n, N, H)) for k in ("I", "s", "n", "e", "B", "r")}
    for w in range(N):
        b = model.scenario[w]
        for name in ("I", "s", "n", "e", "B", "r"):
            if hasattr(b, name):
                for (i, t), var in getattr(b, name).items():
                    out[name][i, w, t] = var.value if var.value is not None else 0.0
    return RecourseArrays(**out)


def round_plan(values: np.ndarray) -> np.ndarray:
    """Whole units of an integer plan read back from the solver (within 1e-6)."""
    rounded = np.round(values)
    if np.any(np.abs(rounded - values) > 1e-6):
        raise ValueError("plan is not integral")
    return rounded


__all__ = [
    "CausalBounds",
    "build_causal_model",
    "causal_bounds",
    "exact_lp_items",
    "no_shortage_level",
    "plan_values",
    "recourse_values",
    "round_plan",
]
