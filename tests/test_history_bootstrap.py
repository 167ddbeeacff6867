"""The block bootstrap keeps a history's lag-1 autocorrelation (within its sampling error)."""

from __future__ import annotations

import math

import numpy as np

from optimizer.history.bootstrap import autocorrelation, block_length, bootstrap_law
from optimizer.history.laws import BootstrapLaw


def ar1_history(m: int, rho: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty(m)
    x[0] = rng.standard_normal()
    for t in range(1, m):
        x[t] = rho * x[t - 1] + math.sqrt(1 - rho**2) * rng.standard_normal()
    return np.maximum(np.round(50 + 10 * x), 0.0)


def bootstrap_lag1(law: BootstrapLaw, m: int, paths: int = 2000) -> float:
    sample = law.sample(np.random.default_rng(1), (paths, m))
    return float(np.mean([autocorrelation(path, 1)[1] for path in sample]))


def test_bootstrap_keeps_lag1_autocorrelation_within_its_sampling_error():
    m = 400
    y = ar1_history(m, 0.6, seed=3)
    rho = float(autocorrelation(y, 1)[1])
    error = math.sqrt((1 - rho**2) / m)  # Bartlett's standard error of rho_1
    law = bootstrap_law(y)
    assert abs(bootstrap_lag1(law, m) - rho) <= 2 * error, (law.block, rho)


def test_single_period_resampling_would_fail_the_same_check():
    m = 400
    y = ar1_history(m, 0.6, seed=3)
    rho = float(autocorrelation(y, 1)[1])
    error = math.sqrt((1 - rho**2) / m)
    iid = BootstrapLaw(history=y, block=1)
    assert abs(bootstrap_lag1(iid, m) - rho) > 2 * error


def test_block_length_grows_with_autocorrelation_and_stays_within_a_quarter():
    white = np.random.default_rng(0).poisson(20, 52).astype(float)
    sticky = ar1_history(52, 0.8, seed=1)
    assert block_length(white) <= block_length(sticky) <= 52 // 4


def test_bootstrap_paths_hold_only_history_values_and_its_mean():
    y = ar1_history(104, 0.5, seed=9)
    paths = bootstrap_law(y).sample(np.random.default_rng(2), (3000, 30))
    assert set(np.unique(paths)) <= set(np.unique(y))
    per_path = paths.mean(axis=1)  # independent paths: their spread is the sampling error
    assert abs(per_path.mean() - y.mean()) <= 4 * per_path.std() / math.sqrt(len(per_path))
