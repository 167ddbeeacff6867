"""The two-state chain estimated from delivery records recovers alpha and beta."""

from __future__ import annotations

import math

import numpy as np

from optimizer.history.reliability import (
    estimate_chain,
    planned_rates,
    pooled_recovery,
    transition_counts,
    wilson,
)
from optimizer.scenarios import sample_supplier_path

Z = 4.0


def record(alpha: float, beta: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return sample_supplier_path(rng, alpha, beta, 1, n)[0]


def test_mle_recovers_alpha_and_beta_within_their_sampling_error():
    alpha, beta, n = 0.08, 0.3, 20000
    up = record(alpha, beta, n, seed=1)
    est = estimate_chain(np.arange(1, n + 1), up)
    n_up = est.counts[0] + est.counts[1]
    n_down = est.counts[2] + est.counts[3]
    assert abs(est.alpha - alpha) <= Z * math.sqrt(alpha * (1 - alpha) / n_up)
    assert abs(est.beta - beta) <= Z * math.sqrt(beta * (1 - beta) / n_down)


def test_wilson_interval_covers_the_truth_as_often_as_it_says():
    alpha, beta, n, reps = 0.1, 0.4, 300, 400
    hits = 0
    for seed in range(reps):
        est = estimate_chain(np.arange(n), record(alpha, beta, n, seed))
        hits += est.alpha_ci[0] <= alpha <= est.alpha_ci[1]
    sd = math.sqrt(0.95 * 0.05 / reps)
    assert hits / reps >= 0.95 - Z * sd


def test_gaps_in_the_record_are_not_transitions():
    periods = np.array([1, 2, 3, 10, 11])
    up = np.array([1, 1, 0, 1, 1], dtype=bool)
    assert transition_counts(periods, up) == (2, 1, 0, 0)  # 3 -> 10 is not a transition


def test_short_record_is_flagged_and_pessimistic_takes_the_worst_ends():
    up = np.array([1] * 20 + [0] + [1] * 10, dtype=bool)
    est = estimate_chain(np.arange(len(up)), up)
    assert est.too_short(5) and not est.too_short(1)
    pooled = pooled_recovery([est])
    a_mle, b_mle = planned_rates(est, pooled, reliability="mle")
    a_bad, b_bad = planned_rates(est, pooled, reliability="pessimistic")
    assert (a_mle, b_mle) == (est.alpha, est.beta)
    assert a_bad == est.alpha_ci[1] > a_mle and b_bad == est.beta_ci[0] < b_mle


def test_never_down_supplier_takes_the_pooled_recovery():
    seen = estimate_chain(np.arange(8), np.array([1, 0, 0, 1, 1, 0, 1, 1], dtype=bool))
    never = estimate_chain(np.arange(30), np.ones(30, dtype=bool))
    pooled = pooled_recovery([seen, never])
    alpha, beta = planned_rates(never, pooled, reliability="mle")
    assert alpha == 0.0 and beta == seen.beta
    lo, hi = wilson(0, 29)
    assert planned_rates(never, pooled, reliability="pessimistic")[0] == hi > lo == 0.0
