r"""A supplier's two-state chain estimated from its delivery record.

Each recorded period says whether the supplier delivered (up) or not (down).  Between two
consecutive recorded periods the chain makes one transition; with :math:`n_{ud}` up→down
and :math:`n_{uu}` up→up transitions (and :math:`n_{du}`, :math:`n_{dd}` out of down) the
likelihood is :math:`\alpha^{n_{ud}}(1-\alpha)^{n_{uu}}\beta^{n_{du}}(1-\beta)^{n_{dd}}`,
maximised by :math:`\hat\alpha = n_{ud}/(n_{ud}+n_{uu})`,
:math:`\hat\beta = n_{du}/(n_{du}+n_{dd})` (Anderson & Goodman 1957).  A gap in the record
breaks the chain there: the periods around it are not a transition.

Each estimate is a binomial proportion given the number of periods spent in its state,
so its interval is Wilson's score interval (Wilson 1927; Brown, Cai & DasGupta 2001 show
it keeps its coverage for small counts, where the Wald interval does not).  The record is
too short to trust when fewer than :data:`MIN_EVENTS` disruptions or recoveries were
seen: the estimate then rests on a handful of events.

``[suppliers] reliability = "pessimistic"`` plans on the interval's worst ends — the
highest :math:`\alpha`, the lowest :math:`\beta` — to hedge against the estimate's
uncertainty.  A supplier never seen down has no recovery to estimate; it then takes the
recovery rate pooled over every supplier of the record that was (its worst end when
pessimistic), or 1 (one-period outages) when none was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

MIN_EVENTS = 5
"""Disruptions and recoveries a record needs before its estimate is trusted."""
RELIABILITY = ("mle", "pessimistic")


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval of a binomial proportion (``(0, 1)`` with no trial).

    :math:`\frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}`.
    """
    if trials <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def transition_counts(periods: np.ndarray, up: np.ndarray) -> tuple[int, int, int, int]:
    """``(n_uu, n_ud, n_du, n_dd)`` between consecutive recorded periods (sorted by period)."""
    order = np.argsort(periods, kind="stable")
    p, u = np.asarray(periods)[order], np.asarray(up, dtype=bool)[order]
    step = np.diff(p) == 1
    a, b = u[:-1][step], u[1:][step]
    return (
        int(np.sum(a & b)),
        int(np.sum(a & ~b)),
        int(np.sum(~a & b)),
        int(np.sum(~a & ~b)),
    )


@dataclass(frozen=True)
class ChainEstimate:
    r"""A supplier's estimated chain.

    Attributes
    ----------
    counts : tuple of int
        :math:`(n_{uu}, n_{ud}, n_{du}, n_{dd})`.
    alpha, beta : float
        :math:`\hat\alpha`, :math:`\hat\beta` (``nan``: no data on that state).
    alpha_ci, beta_ci : tuple of float
        Wilson intervals.
    confidence : float
    """

    counts: tuple[int, int, int, int]
    alpha: float
    beta: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    confidence: float

    @property
    def disruptions(self) -> int:
        """:math:`n_{ud}`."""
        return self.counts[1]

    @property
    def recoveries(self) -> int:
        """:math:`n_{du}`."""
        return self.counts[2]

    @property
    def seen_down(self) -> bool:
        """Tell whether the record has a transition out of the down state."""
        return self.counts[2] + self.counts[3] > 0

    def too_short(self, min_events: int = MIN_EVENTS) -> bool:
        """Fewer than ``min_events`` disruptions or (once down) recoveries were seen."""
        return self.disruptions < min_events or (self.seen_down and self.recoveries < min_events)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        nan = lambda x: None if not math.isfinite(x) else x  # noqa: E731
        n_uu, n_ud, n_du, n_dd = self.counts
        return {
            "transitions": {"up_up": n_uu, "up_down": n_ud, "down_up": n_du, "down_down": n_dd},
            "disruption_prob": nan(self.alpha),
            "disruption_ci": list(self.alpha_ci),
            "recovery_prob": nan(self.beta),
            "recovery_ci": list(self.beta_ci),
            "confidence": self.confidence,
        }


def estimate_chain(periods: np.ndarray, up: np.ndarray, confidence: float = 0.95) -> ChainEstimate:
    """Maximum-likelihood chain of one supplier's record (see the module)."""
    n_uu, n_ud, n_du, n_dd = transition_counts(periods, up)
    n_up, n_down = n_uu + n_ud, n_du + n_dd
    alpha = n_ud / n_up if n_up else math.nan
    beta = n_du / n_down if n_down else math.nan
    return ChainEstimate(
        counts=(n_uu, n_ud, n_du, n_dd),
        alpha=alpha,
        beta=beta,
        alpha_ci=wilson(n_ud, n_up, confidence),
        beta_ci=wilson(n_du, n_down, confidence),
        confidence=confidence,
    )


def pooled_recovery(estimates: list[ChainEstimate], confidence: float = 0.95) -> ChainEstimate:
    """One chain of every record's down periods pooled (the fallback for never-down ones)."""
    n_du = sum(e.counts[2] for e in estimates)
    n_dd = sum(e.counts[3] for e in estimates)
    n = n_du + n_dd
    return ChainEstimate(
        counts=(0, 0, n_du, n_dd),
        alpha=math.nan,
        beta=n_du / n if n else math.nan,
        alpha_ci=(0.0, 1.0),
        beta_ci=wilson(n_du, n, confidence),
        confidence=confidence,
    )


def planned_rates(
    estimate: ChainEstimate, pooled: ChainEstimate, *, reliability: str = "mle"
) -> tuple[float, float]:
    r"""Return the :math:`(\alpha, \beta)` to plan on: the estimate or its interval's worst ends."""
    pessimistic = reliability == "pessimistic"
    alpha = estimate.alpha_ci[1] if pessimistic else estimate.alpha
    if not math.isfinite(alpha):
        alpha = 0.0
    source = estimate if estimate.seen_down else pooled
    if not source.seen_down:
        return float(alpha), 1.0
    beta = source.beta_ci[0] if pessimistic else source.beta
    return float(alpha), float(beta)
