r"""The restricted master of the CVaR blend over causal plans, as a Pyomo LP.

The causal program with the CVaR blend is

.. math::

    \min_x \Phi(x) = (1-\lambda) \sum_w p_w C_w(x)
        + \lambda \Bigl(\eta + \tfrac{1}{1-\alpha} \sum_w p_w (C_w(x) - \eta)^+\Bigr),

with :math:`C_w(x) = \sum_i C_{i,w}(x_i)` the causal cost of scenario :math:`w` summed
over the items. Given plans :math:`x^1, \dots, x^k` (columns) with scenario costs
:math:`C^j_w = C_w(x^j)`, the master chooses weights :math:`\mu_j \ge 0`,
:math:`\sum_j \mu_j = 1`, and prices the blend of the mixed costs
:math:`\sum_j \mu_j C^j_w`:

.. math::

    \min_{\mu, \eta, u}\; (1-\lambda) \sum_w p_w \sum_j \mu_j C^j_w
        + \lambda \Bigl(\eta + \tfrac{1}{1-\alpha} \sum_w p_w u_w\Bigr)
    \quad\text{s.t.}\quad u_w \ge \sum_j \mu_j C^j_w - \eta,\; u_w \ge 0.

Each :math:`C_{i,w}` convex in :math:`x_i` and the blend non-decreasing and convex in
:math:`C` make :math:`\Phi(\sum_j \mu_j x^j)` at most the master's value, so the master is
an upper bound attained by the mixed plan. The duals :math:`\pi_w \ge 0` of the ``tail``
rows satisfy :math:`\sum_w \pi_w = \lambda` and :math:`\pi_w \le \lambda p_w/(1-\alpha)`;
:math:`q_w = (1-\lambda)p_w + \pi_w` are then scenario weights under which the next plan is
priced item by item (:mod:`optimizer.engines.causal_cvar`).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo


def build_cvar_master(
    columns: np.ndarray, probability: np.ndarray, alpha: float, weight: float
) -> pyo.ConcreteModel:
    r"""Build the restricted master LP for the scenario costs of ``columns``.

    Parameters
    ----------
    columns : ndarray (k, N)
        :math:`C^j_w`, the scenario costs of each column plan.
    probability : ndarray (N,)
        :math:`p_w`.
    alpha, weight : float
        :math:`\alpha` and :math:`\lambda` of the blend (:math:`0 < \lambda \le 1`,
        :math:`0 \le \alpha < 1`).

    Returns
    -------
    pyomo.environ.ConcreteModel
        Variables ``mu[j]``, ``eta``, ``u[w]``; rows ``convexity`` and ``tail[w]``
        (:math:`u_w - \sum_j \mu_j C^j_w + \eta \ge 0`); objective ``cost``.
    """
    C = np.asarray(columns, dtype=float)
    p = np.asarray(probability, dtype=float)
    k, N = C.shape
    lam, tail = float(weight), 1.0 - float(alpha)
    m = pyo.ConcreteModel(name="cvar_master")
    m.J = pyo.RangeSet(0, k - 1)
    m.W = pyo.RangeSet(0, N - 1)
    m.mu = pyo.Var(m.J, domain=pyo.NonNegativeReals)
    m.eta = pyo.Var(domain=pyo.Reals)
    m.u = pyo.Var(m.W, domain=pyo.NonNegativeReals)
    expected = C @ p  # (k,)
    m.convexity = pyo.Constraint(expr=sum(m.mu[j] for j in m.J) == 1.0)
    m.tail = pyo.Constraint(
        m.W,
        rule=lambda m, w: m.u[w] - sum(float(C[j, w]) * m.mu[j] for j in m.J) + m.eta >= 0.0,
    )
    m.cost = pyo.Objective(
        expr=(1.0 - lam) * sum(float(expected[j]) * m.mu[j] for j in m.J)
        + lam * (m.eta + sum(float(p[w] / tail) * m.u[w] for w in m.W)),
        sense=pyo.minimize,
    )
    return m
