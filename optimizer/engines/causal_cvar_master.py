r"""The CVaR master LP of :mod:`models.cvar_master` held in HiGHS across column additions.

:func:`models.cvar_master.build_cvar_master` states the restricted master in Pyomo; a
column-generation loop solves it once per new column, and rebuilding and compiling the
Pyomo model each time cost more than the pricing (300 items x 400 scenarios: 30 s of 78 s).
:class:`MasterLP` writes the same LP (same columns, rows, bounds and costs, in the
compiled model's order: ``tests/test_causal_cvar.py`` compares them entry by entry)
straight into one ``highspy.Highs`` and adds each new plan as one column, so HiGHS
restarts from its last basis.
"""

from __future__ import annotations

import highspy
import numpy as np

from optimizer.program.matrices import StandardLP

INF = highspy.kHighsInf


def master_lp(
    columns: np.ndarray, probability: np.ndarray, alpha: float, weight: float
) -> StandardLP:
    r"""Write the restricted master as a :class:`~optimizer.program.matrices.StandardLP`.

    Columns ``mu[0..k-1]``, ``u[0..N-1]``, ``eta``; rows ``convexity`` then ``tail[w]``
    (:math:`u_w - \sum_j \mu_j C^j_w + \eta \ge 0`), as :func:`build_cvar_master` compiles.
    """
    import scipy.sparse as sp

    C = np.asarray(columns, dtype=float)
    p = np.asarray(probability, dtype=float)
    k, N = C.shape
    lam, tail = float(weight), 1.0 - float(alpha)
    c = np.concatenate([(1.0 - lam) * (C @ p), lam * p / tail, [lam]])
    top = np.hstack([np.ones((1, k)), np.zeros((1, N)), np.zeros((1, 1))])
    body = np.hstack([-C.T, np.eye(N), np.ones((N, 1))])
    A = sp.csc_array(np.vstack([top, body]))
    row_lb = np.concatenate([[1.0], np.zeros(N)])
    row_ub = np.concatenate([[1.0], np.full(N, np.inf)])
    col_lb = np.concatenate([np.zeros(k + N), [-np.inf]])
    col_ub = np.full(k + N + 1, np.inf)
    return StandardLP(c, A, row_lb, row_ub, col_lb, col_ub, 0.0)


def admissible(pi: np.ndarray, p: np.ndarray, alpha: float, weight: float) -> np.ndarray:
    r"""Project tail duals onto :math:`\{0 \le \pi \le \lambda p/(1-\alpha),\ \sum \pi = \lambda\}`.

    HiGHS's duals meet these to its tolerances; a pricing bound needs them exactly (a
    weight above its cap can lift :math:`g(q)` above :math:`\min \Phi`). Clip to the caps,
    then move the deficit or surplus of the sum onto the entries with room, in
    proportion to their room, until the sum is :math:`\lambda`.
    """
    cap = weight * p / (1.0 - alpha)
    pi = np.clip(np.asarray(pi, dtype=float), 0.0, cap)
    for _ in range(50):
        miss = weight - pi.sum()
        if abs(miss) <= 1e-15 * max(1.0, weight):
            break
        room = (cap - pi) if miss > 0 else pi
        if room.sum() <= 0:
            break
        pi = np.clip(pi + miss * room / room.sum(), 0.0, cap)
    return pi


class MasterLP:
    r"""The restricted master in one HiGHS instance; :meth:`add` appends a column.

    Parameters
    ----------
    probability : ndarray (N,)
        :math:`p_w`.
    alpha, weight : float
        :math:`\alpha`, :math:`\lambda`.
    """

    def __init__(self, probability: np.ndarray, alpha: float, weight: float) -> None:
        self.p = np.asarray(probability, dtype=float)
        self.alpha, self.lam = float(alpha), float(weight)
        N = self.p.size
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("primal_feasibility_tolerance", 1e-9)
        h.setOptionValue("dual_feasibility_tolerance", 1e-9)
        # rows: convexity (= 1), tail[w] (>= 0)
        h.addRows(
            N + 1,
            np.concatenate([[1.0], np.zeros(N)]),
            np.concatenate([[1.0], np.full(N, INF)]),
            0,
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
            np.zeros(0),
        )
        # u[w]: cost lambda p_w / (1 - alpha), in tail row w; eta: cost lambda, in every tail row
        tail = 1.0 - self.alpha
        rows = np.arange(1, N + 1, dtype=np.int32)
        h.addCols(
            N,
            self.lam * self.p / tail,
            np.zeros(N),
            np.full(N, INF),
            N,
            np.arange(N, dtype=np.int32),
            rows,
            np.ones(N),
        )
        h.addCol(self.lam, -INF, INF, N, rows, np.ones(N))
        self.h = h
        self.n_scenarios = N
        self.k = 0

    def add(self, totals: np.ndarray) -> None:
        r"""Append a plan with scenario costs :math:`C_w` (``totals``) as column ``mu[k]``."""
        C = np.asarray(totals, dtype=float)
        N = self.n_scenarios
        rows = np.arange(N + 1, dtype=np.int32)
        vals = np.concatenate([[1.0], -C])
        self.h.addCol((1.0 - self.lam) * float(C @ self.p), 0.0, INF, N + 1, rows, vals)
        self.k += 1

    def solve(self) -> tuple[float, np.ndarray, np.ndarray]:
        r"""Solve; return the value, :math:`\mu` and the pricing weights :math:`q`.

        Raises
        ------
        RuntimeError
            When HiGHS does not end optimal (its status is told, never trusted).
        """
        h = self.h
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"the CVaR master LP ended {h.modelStatusToString(status)}")
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        N = self.n_scenarios
        mu = np.clip(x[N + 1 :], 0.0, None)
        mu /= mu.sum()
        pi = np.asarray(sol.row_dual)[1:]
        q = (1.0 - self.lam) * self.p + admissible(pi, self.p, self.alpha, self.lam)
        return float(h.getInfo().objective_function_value), mu, q
