r"""One item's history to the law its scenarios are drawn from, and the report of the fit.

:func:`fit_item` classifies the history (:mod:`~optimizer.history.intermittent`); with
``[demand] model = "fit"`` an intermittent or lumpy item gets the compound Bernoulli law
and every other item the supported family of smallest AIC (or BIC)
(:mod:`~optimizer.history.demand_fit`); with ``model = "bootstrap"`` the item's paths
are block-bootstrapped from the history (:mod:`~optimizer.history.bootstrap`), and the
family fit still runs, for the report and as the stand-in :math:`(\text{family}, \mu,
\sigma)` that the item table and the heuristic policies read.  A family named in
``items.csv`` (``demand_dist``) restricts the fit to that family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.history.bootstrap import bootstrap_law
from optimizer.history.demand_fit import choose_family, pit_pvalue, whole_units
from optimizer.history.families import Law
from optimizer.history.intermittent import classify, fit_compound, is_intermittent
from optimizer.history.laws import BootstrapLaw, IntermittentLaw, ItemFit

MODELS = ("fit", "bootstrap")


@dataclass(frozen=True)
class FittedItem:
    r"""What one item's history gives.

    Attributes
    ----------
    law : IntermittentLaw, BootstrapLaw or None
        The law to sample; ``None`` when the stand-in family is itself the law.
    stand_in : Law
        A supported family with the law's mean and standard deviation (for the item table).
    report : ItemFit
    """

    law: IntermittentLaw | BootstrapLaw | None
    stand_in: Law
    report: ItemFit


def _stand_in(mean: float, std: float, *, whole: bool) -> Law:
    """Return a supported family of the given moments: negbin, poisson (whole units) or gamma."""
    if mean <= 0:
        return Law("normal", 0.0, 0.0)
    if whole:
        return Law("negbin", mean, std) if std**2 > mean else Law("poisson", mean, mean**0.5)
    return Law("gamma", mean, std) if std > 0 else Law("normal", mean, 0.0)


def fit_item(
    y: np.ndarray,
    *,
    model: str = "fit",
    criterion: str = "aic",
    family: str | None = None,
    block: int | None = None,
) -> FittedItem:
    """Fit one item's history ``y`` (see the module)."""
    y = np.asarray(y, dtype=float)
    whole = whole_units(y)
    adi, cv2, demand_class = classify(y)
    m = len(y)
    if not (y > 0).any() or float(np.std(y)) == 0.0:
        level = float(np.mean(y))
        law = (
            Law(family or "normal", level, 0.0)
            if family != "poisson"
            else Law("poisson", level, level**0.5)
        )
        if family in ("gamma", "lognormal", "negbin"):
            law = Law("normal", level, 0.0)
        report = ItemFit(
            model=f"{law.family} (constant)", demand_class=demand_class, adi=adi, cv2=cv2,
            periods=m, mean=level, std=0.0, pit_pvalue=math.nan, aic=math.nan, bic=math.nan,
        )  # fmt: skip
        return FittedItem(None, law, report)
    families = (family,) if family else None
    compound = None
    if family is None and is_intermittent(demand_class):
        compound = fit_compound(y, criterion=criterion)
    best, fits = choose_family(
        y, criterion=criterion, **({"families": families} if families else {})
    )
    candidates = {f: {"aic": fit.aic, "bic": fit.bic} for f, fit in fits.items()}
    if compound is not None:
        candidates[compound.law.describe()] = {"aic": compound.aic, "bic": compound.bic}
    if model == "bootstrap":
        law = bootstrap_law(y, block)
        mean, std = law.moments()
        stand_in = Law(best.law.family, best.law.mean, best.law.std)
        # the empirical law fits its own history by construction: the figure is the
        # family stand-in's (the law the item table and the heuristic policies read)
        pvalue = pit_pvalue(lambda x: stand_in.cdf(x, whole_units=whole), y, whole=whole)
        report = ItemFit(
            model=law.describe(), demand_class=demand_class, adi=adi, cv2=cv2, periods=m,
            mean=mean, std=std, pit_pvalue=pvalue, aic=math.nan, bic=math.nan,
            candidates=candidates,
        )  # fmt: skip
        return FittedItem(law, stand_in, report)
    if compound is not None:
        mean, std = compound.law.moments()
        report = ItemFit(
            model=compound.law.describe(), demand_class=demand_class, adi=adi, cv2=cv2,
            periods=m, mean=mean, std=std, pit_pvalue=compound.pit_pvalue(y),
            aic=compound.aic, bic=compound.bic, candidates=candidates,
        )  # fmt: skip
        return FittedItem(compound.law, _stand_in(mean, std, whole=whole), report)
    law = best.law
    mean, std = law.moments()
    pvalue = pit_pvalue(lambda x: law.cdf(x, whole_units=whole), y, whole=whole)
    report = ItemFit(
        model=law.family, demand_class=demand_class, adi=adi, cv2=cv2, periods=m, mean=mean,
        std=std, pit_pvalue=pvalue, aic=best.aic, bic=best.bic, candidates=candidates,
    )  # fmt: skip
    return FittedItem(None, law, report)
