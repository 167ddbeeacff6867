"""Known answers for the demand fits: synthetic histories of known laws are recovered.

Every tolerance is the fit's own sampling error: the standard errors of the maximum-
likelihood estimates from the observed information (the inverse Hessian of the negative
log-likelihood at the estimate, by central differences), times 4 (a false alarm about
once in 15,000 checks per parameter).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizer.history.demand_fit import choose_family, fit_family, whole_units
from optimizer.history.families import Law
from optimizer.history.intermittent import classify, fit_compound
from optimizer.history.item_fit import fit_item

Z = 4.0


def standard_errors(family: str, y: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Standard errors of (mean, std) from the observed information at the estimate."""
    whole = whole_units(y)

    def nll(x: np.ndarray) -> float:
        return -Law(family, float(x[0]), float(x[1])).log_likelihood(y, whole_units=whole)

    x0 = np.array([mean, std])
    h = 1e-4 * np.maximum(np.abs(x0), 1.0)
    hess = np.empty((2, 2))
    for a in range(2):
        for b in range(2):
            ea, eb = np.eye(2)[a] * h[a], np.eye(2)[b] * h[b]
            hess[a, b] = (
                nll(x0 + ea + eb) - nll(x0 + ea - eb) - nll(x0 - ea + eb) + nll(x0 - ea - eb)
            ) / (4 * h[a] * h[b])
    return np.sqrt(np.diag(np.linalg.inv(hess)))


def draw(family: str, mean: float, std: float, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if family == "negbin":
        var = std**2
        return rng.negative_binomial(mean**2 / (var - mean), mean / var, m).astype(float)
    if family == "gamma":
        return rng.gamma((mean / std) ** 2, std**2 / mean, m)
    if family == "lognormal":
        s2 = math.log1p((std / mean) ** 2)
        return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), m)
    return np.maximum(rng.normal(mean, std, m), 0.0)


@pytest.mark.parametrize(
    ("family", "mean", "std", "rounded"),
    [
        ("normal", 40.0, 12.0, True),
        ("normal", 5.0, 6.0, False),  # heavily censored: a third of the periods are zero
        ("gamma", 20.0, 9.0, False),
        ("gamma", 20.0, 9.0, True),  # whole units: interval probabilities
        ("lognormal", 30.0, 15.0, False),
        ("negbin", 12.0, 6.0, True),
    ],
)
def test_fit_recovers_the_parameters_within_their_sampling_error(family, mean, std, rounded):
    y = draw(family, mean, std, 3000, seed=11)
    if rounded:
        y = np.round(y)
    fit = fit_family(family, y)
    se = standard_errors(family, y, fit.law.mean, fit.law.std)
    assert abs(fit.law.mean - mean) <= Z * se[0], (fit.law, se)
    assert abs(fit.law.std - std) <= Z * se[1], (fit.law, se)
    assert se[0] < 0.1 * mean  # the check is not vacuous: the errors are small


def test_poisson_mean_within_its_sampling_error():
    lam, m = 7.5, 3000
    y = np.random.default_rng(3).poisson(lam, m).astype(float)
    fit = fit_family("poisson", y)
    assert abs(fit.law.mean - lam) <= Z * math.sqrt(lam / m)


@pytest.mark.parametrize(
    ("family", "mean", "std", "rounded"),
    [("negbin", 10.0, 6.0, True), ("gamma", 20.0, 10.0, False), ("lognormal", 20.0, 14.0, False)],
)
def test_information_criterion_picks_the_true_family_on_a_long_history(family, mean, std, rounded):
    y = draw(family, mean, std, 4000, seed=5)
    y = np.round(y) if rounded else y
    for criterion in ("aic", "bic"):
        best, fits = choose_family(y, criterion=criterion)
        assert best.law.family == family, {f: round(x.aic, 1) for f, x in fits.items()}


def test_poisson_is_not_overfitted_by_a_two_parameter_family():
    y = np.random.default_rng(8).poisson(30.0, 2000).astype(float)
    best, _ = choose_family(y, criterion="bic")
    assert best.law.family == "poisson"


def test_compound_law_recovers_occurrence_and_sizes():
    rng = np.random.default_rng(21)
    m, p, size_mean = 4000, 0.25, 3.0  # sizes 1 + Poisson(2)
    y = np.where(rng.random(m) < p, 1 + rng.poisson(size_mean - 1, m), 0).astype(float)
    adi, cv2, demand_class = classify(y)
    assert demand_class == "intermittent"
    assert abs(adi - 1 / p) <= Z * math.sqrt((1 - p) / (m * p**3))  # delta method on m/k
    fit = fit_compound(y)
    assert abs(fit.law.occurrence - p) <= Z * math.sqrt(p * (1 - p) / m)
    k = int((y > 0).sum())
    assert fit.law.shift == 1.0 and fit.law.size.family == "poisson"
    assert abs(fit.law.size.mean - (size_mean - 1)) <= Z * math.sqrt((size_mean - 1) / k)
    mean, _ = fit.law.moments()
    assert abs(mean - p * size_mean) <= Z * float(np.std(y)) / math.sqrt(m)


def test_syntetos_boylan_classes():
    assert classify(np.array([5.0, 6, 5, 4, 6, 5, 5, 6]))[2] == "smooth"
    assert classify(np.array([1.0, 30, 2, 40, 1, 25, 3, 50]))[2] == "erratic"
    assert classify(np.array([0.0, 5, 0, 0, 6, 0, 5, 0]))[2] == "intermittent"
    assert classify(np.array([0.0, 1, 0, 0, 40, 0, 2, 0]))[2] == "lumpy"


def test_fit_item_gives_intermittent_items_their_law_and_a_gof_figure():
    rng = np.random.default_rng(4)
    y = np.where(rng.random(52) < 0.2, 1 + rng.poisson(2, 52), 0).astype(float)
    fitted = fit_item(y)
    assert fitted.report.model.startswith("intermittent")
    assert 0.0 < fitted.report.pit_pvalue <= 1.0
    draws = fitted.law.sample(np.random.default_rng(0), (20000,))
    mean, std = fitted.law.moments()
    assert abs(draws.mean() - mean) <= Z * std / math.sqrt(draws.size)


def test_pit_figure_flags_a_wrong_law():
    y = np.random.default_rng(2).negative_binomial(2, 0.1, 400).astype(float)  # var >> mean
    whole = True
    from optimizer.history.demand_fit import pit_pvalue

    poisson = Law("poisson", float(y.mean()), float(math.sqrt(y.mean())))
    assert pit_pvalue(lambda x: poisson.cdf(x, whole_units=whole), y, whole=whole) < 1e-6
    fit = fit_family("negbin", y)
    assert pit_pvalue(lambda x: fit.law.cdf(x, whole_units=whole), y, whole=whole) > 0.01
