r"""The honest cost of a block plan (``review_levels`` > 1) and its gain over one level.

A plan with one level per review block is priced as it is fitted (README "Review
levels"): on fresh scenarios of the two-quarter instance
(:func:`optimizer.program.review.fair_instance`), the blocks :math:`S_{i,b}` over the
quarter, the warm-up and the next quarter at the single level :math:`S^*_i`, played by
the numpy simulation :func:`optimizer.program.review.simulate_levels` and costed by the
verifier's lines. :class:`BlockBatches` is the ``play_batch`` of
:func:`optimizer.analysis.headline.honest_cost`; on every batch it also plays
:math:`S^*` alone, so the gain of the blocks comes with a paired 95% interval
(:func:`paired_difference`). A batch is played a few items at a time, so that at most
:data:`~optimizer.analysis.headline.BATCH_CELLS` item-scenario-period cells are held.
"""

from __future__ import annotations

import numpy as np

from optimizer.analysis.diagnostics import mean_ci
from optimizer.analysis.headline import BATCH_CELLS, fixed_plan_data
from optimizer.instance import Instance
from optimizer.program.data import program_data
from optimizer.program.review import evaluate_levels, fair_instance
from optimizer.program.verifier import Evaluation
from optimizer.scenarios import generate_scenarios


class BlockBatches:
    r"""Play a block plan on fresh batches of the two-quarter instance (and :math:`S^*`).

    Parameters
    ----------
    instance : Instance
        The one-quarter instance the plan is for (``plan.periods`` :math:`T`).
    base_stock : ndarray (n,)
        The single level :math:`S^*_i` of the warm-up and the next quarter.
    reserved : ndarray (n,)
        :math:`K_i`.
    levels : ndarray (n, k)
        The block levels :math:`S_{i,b}` of the quarter.
    seed : int, optional
        Root seed (default ``plan.seed``).

    Attributes
    ----------
    two : Instance
        The two-quarter instance the batches are drawn from.
    single : list of ndarray
        :math:`S^*`'s scenario costs of each batch played, in order.
    """

    #: No strata on a black swan: the paired difference with S* weighs scenarios equally.
    stratify = False

    def __init__(
        self,
        instance: Instance,
        base_stock: np.ndarray,
        reserved: np.ndarray,
        levels: np.ndarray,
        seed: int | None = None,
    ) -> None:
        self.two = fair_instance(instance)
        self.span = int(instance.plan.periods)
        self.base_stock = np.asarray(base_stock, dtype=float)
        self.reserved = np.asarray(reserved, dtype=float)
        self.levels = np.asarray(levels, dtype=float)
        self.seed = seed
        self.single: list[np.ndarray] = []

    def __call__(self, size: int, stream: str) -> tuple[Evaluation, np.ndarray]:
        """Sample ``size`` scenarios of ``stream``, play both plans; the blocks' costs.

        Returns
        -------
        Evaluation, ndarray (n,)
            The block plan's costs (``item_scenario_cost`` left empty) and each item's
            expected costed demand over the two quarters.
        """
        fresh = generate_scenarios(self.two, size, seed=self.seed, stream=stream)
        data = fixed_plan_data(program_data(self.two, fresh, consume=True))
        del fresh
        n, N, H = data.demand.shape
        per = max(1, BATCH_CELLS // max(1, N * H))  # items played at once: bounded memory
        parts, single = [], np.zeros(N)
        for lo in range(0, n, per):
            idx = np.arange(lo, min(n, lo + per))
            sub = data.item(idx)
            S, K = self.base_stock[idx], self.reserved[idx]
            ev = evaluate_levels(sub, self.levels[idx], K, span=self.span, tail=S)
            single += evaluate_levels(sub, S[:, None], K).scenario_cost
            demand = sub.demand[:, :, sub.warmup :].sum(axis=2) @ sub.probability
            parts.append((ev, demand))
        self.single.append(single)
        evs = [e for e, _ in parts]
        cost = np.sum([e.scenario_cost for e in evs], axis=0)
        expected = float(data.probability @ cost)
        joined = Evaluation(
            objective=expected,
            expected_cost=expected,
            cvar=float("nan"),
            scenario_cost=cost,
            item_scenario_cost=np.empty((0, 0)),
            lines=np.concatenate([e.lines for e in evs]),
            fill_rate=np.concatenate([e.fill_rate for e in evs]),
            avg_on_hand=np.concatenate([e.avg_on_hand for e in evs]),
            stockout_units=np.concatenate([e.stockout_units for e in evs]),
            emergency_units=np.concatenate([e.emergency_units for e in evs]),
            residual={k: max(e.residual[k] for e in evs) for k in evs[0].residual},
        )
        return joined, np.concatenate([d for _, d in parts])

    def single_costs(self) -> np.ndarray:
        """:math:`S^*`'s scenario costs over every batch played so far."""
        return np.concatenate(self.single) if self.single else np.empty(0)


def paired_difference(blocks: np.ndarray, single: np.ndarray) -> dict:
    r"""Mean of :math:`C^{blocks}_\omega - C^{S^*}_\omega` with its 95% Student-t interval.

    Both arrays hold the costs of the same fresh scenarios :math:`\omega`, in order.
    """
    iv = mean_ci(np.asarray(blocks, dtype=float) - np.asarray(single, dtype=float))
    base = mean_ci(np.asarray(single, dtype=float))
    return {
        "single_level_expected_cost": base.mean,
        "single_level_ci95": [base.low, base.high],
        "difference": iv.mean,
        "difference_ci95": [iv.low, iv.high],
        "scenarios": iv.scenarios,
    }
