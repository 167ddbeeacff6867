"""The two-stage program assembled directly as sparse matrices (the fast path).

The program is the one of the README section "The model".

Same variables, rows and objective as :func:`models.two_stage.build_extensive_form`, but
built with numpy index arithmetic instead of one Python object per variable, so a
single item with a thousand scenarios is milliseconds of work. The Pyomo model stays the
source of truth: ``tests/test_engines.py`` proves both reach the same optimum on every
instance kind (lost sales, backorders, lead times, disruptions, emergency supply,
reservation, fill rate, budget, storage, CVaR, wait-and-see, fixed plans).

Column layout, item by item: first stage ``S`` (one per scenario in wait-and-see mode),
``K`` (items that reserve capacity), then blocks of ``N*H`` columns for ``I, s, n`` and
``e`` (emergency items), ``B, r`` (backorders); CVaR ``eta`` and ``z_w`` last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.program.data import ProgramData


@dataclass
class StandardLP:
    r""":math:`\min c^T x + c_0` s.t. :math:`l_r \le Ax \le u_r`, :math:`l_c \le x \le u_c`."""

    c: np.ndarray
    A: sp.csc_array
    row_lb: np.ndarray
    row_ub: np.ndarray
    col_lb: np.ndarray
    col_ub: np.ndarray
    offset: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of :math:`A`."""
        return self.A.shape


KINDS = ("I", "s", "n", "e", "B", "r")


@dataclass
class Layout:
    """Where each variable lives in the column vector.

    Attributes
    ----------
    S_col, K_col : ndarray of int, shape (n_items, n_plans)
        Columns of :math:`S_i` and :math:`K_i` (``-1``: no such variable); ``n_plans`` is 1,
        or the number of scenarios in wait-and-see mode.
    base : dict of str to ndarray of int (n_items,)
        First column of each recourse block, ``-1`` when the item has none.
    eta_col : int
        ``-1`` without CVaR; ``z_w`` follow it.
    """

    n_items: int
    n_scenarios: int
    horizon: int
    S_col: np.ndarray
    K_col: np.ndarray
    base: dict[str, np.ndarray] = field(default_factory=dict)
    eta_col: int = -1
    n_cols: int = 0

    def recourse(self, x: np.ndarray, kind: str) -> np.ndarray:
        """Values of one recourse variable, shape (n_items, N, H) (zeros where absent)."""
        out = np.zeros((self.n_items, self.n_scenarios, self.horizon))
        nh = self.n_scenarios * self.horizon
        for i, b in enumerate(self.base[kind]):
            if b >= 0:
                out[i] = x[b : b + nh].reshape(self.n_scenarios, self.horizon)
        return out

    def first_stage(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:math:`S` and :math:`K`, shape (n_items, n_plans) (K zero where not reserved)."""
        S = x[self.S_col]
        K = np.where(self.K_col >= 0, x[np.maximum(self.K_col, 0)], 0.0)
        return S, K


class _Triplets:
    """Growing COO matrix plus row bounds."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.n_rows = 0

    def new_rows(self, lb: np.ndarray, ub: np.ndarray) -> int:
        first = self.n_rows
        self.lb.append(np.asarray(lb, dtype=float).ravel())
        self.ub.append(np.asarray(ub, dtype=float).ravel())
        self.n_rows += self.lb[-1].size
        return first

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray | float) -> None:
        rows, cols = np.asarray(rows).ravel(), np.asarray(cols).ravel()
        self.rows.append(rows)
        self.cols.append(cols)
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=float), rows.shape).ravel())

    def matrix(self, n_cols: int) -> sp.csc_array:
        if not self.rows:
            return sp.csc_array((self.n_rows, n_cols))
        return sp.csc_array(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n_rows, n_cols),
        )


def build_lp(
    data: ProgramData,
    *,
    anticipative: bool = False,
    base_stock: np.ndarray | None = None,
    reserved: np.ndarray | None = None,
    keep_fill_rate: bool = True,
) -> tuple[StandardLP, Layout]:
    """Assemble the extensive form of ``data`` as a :class:`StandardLP`.

    Parameters
    ----------
    anticipative : bool
        ``False``: the recourse problem (one plan). ``True``: wait-and-see (one plan per
        scenario, plan rows per scenario, no fill-rate rows), as
        ``build_extensive_form(..., nonanticipative=False)``.
    base_stock, reserved : ndarray (n_items,), optional
        Fix the plan (evaluation of a given plan, EEV); bounds pin ``S`` and ``K`` and
        the budget/storage rows are left out, as in :func:`models.two_stage.fix_plan`.
    keep_fill_rate : bool
        Keep the fill-rate rows (default); ``False`` prices the plan's recourse alone.
    """
    n, N, H = data.n_items, data.n_scenarios, data.horizon
    W, T = data.warmup, data.periods
    nh = N * H
    plans = N if anticipative else 1
    lam, alpha = data.cvar_weight, data.cvar_alpha
    p = data.probability
    costed = np.zeros(H, dtype=bool)
    costed[W:] = True

    # ---- columns ------------------------------------------------------------------
    S_col = np.full((n, plans), -1, dtype=np.int64)
    K_col = np.full((n, plans), -1, dtype=np.int64)
    base = {k: np.full(n, -1, dtype=np.int64) for k in KINDS}
    col = 0
    for i in range(n):
        S_col[i] = col + np.arange(plans)
        col += plans
        if data.reserves[i]:
            K_col[i] = col + np.arange(plans)
            col += plans
        for k in KINDS:
            present = (
                k in ("I", "s", "n")
                or (k == "e" and data.has_emergency[i])
                or (k in ("B", "r") and data.backorder)
            )
            if present:
                base[k][i] = col
                col += nh
    eta_col = -1
    if lam > 0:
        eta_col = col
        col += 1 + N
    n_cols = col

    c = np.zeros(n_cols)
    col_lb = np.zeros(n_cols)
    col_ub = np.full(n_cols, np.inf)
    A = _Triplets()
    wt = np.arange(nh).reshape(N, H)  # offset of (w, t) inside a recourse block
    pw_t = np.repeat(p, H).reshape(N, H)
    # cost coefficients of C_w (no probability) for the CVaR rows
    cvar_terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    for i in range(n):
        d = data.demand[i]
        bI, bs, bn = base["I"][i], base["s"][i], base["n"][i]
        be, bB, br = base["e"][i], base["B"][i], base["r"][i]
        L, mu = int(data.lead[i]), float(data.mean[i])
        S_cols = S_col[i]
        # bounds of first stage and recourse
        lo = float(data.min_base_stock[i])
        if base_stock is not None:
            col_lb[S_cols] = col_ub[S_cols] = float(base_stock[i])
        else:
            col_lb[S_cols] = lo
        if data.reserves[i]:
            cap = data.capacity[i]
            col_ub[K_col[i]] = cap
            if reserved is not None:
                col_lb[K_col[i]] = col_ub[K_col[i]] = float(reserved[i])
        if be >= 0:
            col_ub[be : be + nh] = data.capacity[i]

        # demand split: s + n + e = d
        r0 = A.new_rows(d, d)
        rows = r0 + wt
        A.add(rows, bs + wt, 1.0)
        A.add(rows, bn + wt, 1.0)
        if be >= 0:
            A.add(rows, be + wt, 1.0)

        # stock balance: I_t - I_{t-1} + s_t + r_t - arrivals = pipe_t - [t=0] L mu
        rhs = np.repeat(data.pipeline_of(i)[None, :], N, axis=0)
        rhs[:, 0] -= L * mu
        arr = data.arrival[i]
        ws, taus = np.nonzero(arr < H)
        dest = arr[ws, taus]
        if data.backorder:
            np.add.at(rhs, (ws, dest), d[ws, taus])
        r0 = A.new_rows(np.zeros(nh), np.zeros(nh))  # bounds set below
        A.lb[-1] = A.ub[-1] = rhs.ravel()
        rows = r0 + wt
        A.add(rows, bI + wt, 1.0)
        A.add(rows[:, 1:], bI + wt[:, :-1], -1.0)
        A.add(rows[:, 0], S_cols if anticipative else np.full(N, S_cols[0]), -1.0)
        A.add(rows, bs + wt, 1.0)
        if data.backorder:
            A.add(rows, br + wt, 1.0)
            if be >= 0:
                A.add(r0 + ws * H + dest, be + ws * H + taus, 1.0)
        else:
            A.add(r0 + ws * H + dest, bs + ws * H + taus, -1.0)

        # backlog: B_t - B_{t-1} - n_t + r_t = 0
        if data.backorder:
            r0 = A.new_rows(np.zeros(nh), np.zeros(nh))
            rows = r0 + wt
            A.add(rows, bB + wt, 1.0)
            A.add(rows[:, 1:], bB + wt[:, :-1], -1.0)
            A.add(rows, bn + wt, -1.0)
            A.add(rows, br + wt, 1.0)

        # backlog served comes from backlog carried in: r_t - B_{t-1} <= 0
        if data.backorder:
            r0 = A.new_rows(np.full(nh, -np.inf), np.zeros(nh))
            rows = r0 + wt
            A.add(rows, br + wt, 1.0)
            A.add(rows[:, 1:], bB + wt[:, :-1], -1.0)

        # reservation: e_t - K <= 0
        if data.reserves[i]:
            r0 = A.new_rows(np.full(nh, -np.inf), np.zeros(nh))
            rows = r0 + wt
            A.add(rows, be + wt, 1.0)
            kc = K_col[i] if anticipative else np.full(N, K_col[i, 0])
            A.add(rows, np.repeat(kc, H).reshape(N, H), -1.0)

        # fill rate: sum_w p_w sum_{t costed} n <= (1 - beta) sum_w p_w sum_t d
        if not anticipative and keep_fill_rate and not np.isnan(data.fill_rate[i]):
            target = (1.0 - data.fill_rate[i]) * float((pw_t * d)[:, costed].sum())
            r0 = A.new_rows([-np.inf], [target])
            A.add(
                np.full(int(costed.sum()) * N, r0),
                (bn + wt[:, costed]).ravel(),
                pw_t[:, costed].ravel(),
            )

        # objective pieces of C_w (per unit, before probability)
        short_base = bB if data.backorder else bn
        pieces = [(bI, data.holding[i]), (short_base, data.penalty[i])]
        if be >= 0:
            pieces.append((be, data.premium[i]))
        for b, unit in pieces:
            cols = (b + wt[:, costed]).ravel()
            c[cols] += (1.0 - lam) * unit * pw_t[:, costed].ravel()
            if lam > 0:
                w_idx = np.repeat(np.arange(N), int(costed.sum()))
                cvar_terms.append((w_idx, cols, np.full(cols.size, unit)))
        if data.reserves[i]:
            fee = T * data.fee[i]
            kc = K_col[i]
            c[kc] += (1.0 - lam) * fee * (p if anticipative else 1.0)
            if lam > 0:
                cvar_terms.append(
                    (np.arange(N), kc if anticipative else np.full(N, kc[0]), np.full(N, fee))
                )

    # plan rows: budget and storage (per scenario in wait-and-see mode)
    for limit, weight in ((data.budget, data.unit_cost), (data.storage, data.volume)):
        if limit is None or base_stock is not None:
            continue
        r0 = A.new_rows(np.full(plans, -np.inf), np.full(plans, float(limit)))
        A.add(r0 + np.tile(np.arange(plans), n), S_col.ravel(), np.repeat(weight, plans))

    # CVaR: z_w + eta - C_w >= 0
    if lam > 0:
        col_lb[eta_col] = -np.inf
        c[eta_col] = lam
        z = eta_col + 1 + np.arange(N)
        c[z] = lam * p / (1.0 - alpha)
        r0 = A.new_rows(np.zeros(N), np.full(N, np.inf))
        A.add(r0 + np.arange(N), z, 1.0)
        A.add(r0 + np.arange(N), np.full(N, eta_col), 1.0)
        for w_idx, cols, vals in cvar_terms:
            A.add(r0 + w_idx, cols, -vals)

    lp = StandardLP(c, A.matrix(n_cols), np.concatenate(A.lb), np.concatenate(A.ub), col_lb, col_ub)
    layout = Layout(n, N, H, S_col, K_col, base, eta_col, n_cols)
    return lp, layout
