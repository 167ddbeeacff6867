"""The price of a fill-rate target: the implied stockout penalty means what it says.

:func:`optimizer.analysis.service_price.implied_penalty` gives, per item whose target
binds, the penalty per shortage unit at which the plan's level pays for its last unit.
Tested by its definition: re-solving the item *without* the target, a penalty a little
above the implied one buys at least the target's level, a little below buys less.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.analysis.service_price import implied_penalty
from optimizer.engines.causal_floor import fill_rate_floor
from optimizer.engines.causal_search import search_items
from tests.test_causal_kernel import random_data


def _plain(data):
    return replace(data, fee=np.full(data.n_items, np.nan))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("backorder", [False, True])
def test_the_implied_penalty_buys_the_target_level_without_the_target(seed, backorder):
    data = _plain(random_data(seed, backorder=backorder, poisson=True, N=60))
    data = replace(data, penalty=0.05 * data.penalty)  # cheap shortages: targets bind
    target = np.full(data.n_items, 0.97)
    with_target = replace(data, fill_rate=target)
    plans = search_items(with_target)
    floor = fill_rate_floor(with_target)
    penalty, binds = implied_penalty(with_target, plans.base_stock, plans.reserved)
    assert np.array_equal(binds, plans.base_stock == floor)  # a binding target = at floor
    checked = 0
    for i in np.flatnonzero(binds & np.isfinite(penalty)):
        if not plans.convex[i]:
            continue  # a non-convex cost may jump past the level either way
        for factor, above in ((1.02, True), (0.98, False)):
            free = replace(data, penalty=data.penalty.copy())
            free.penalty[i] = penalty[i] * factor
            S = search_items(free, np.array([i]), fill_rates=False).base_stock[0]
            assert (S >= floor[i]) if above else (S < floor[i]), (i, factor, S, floor[i])
        checked += 1
    if seed == 1:
        assert checked > 0  # this case has binding targets on convex items


def test_no_target_no_price():
    data = _plain(random_data(1, poisson=True))
    plans = search_items(data)
    penalty, binds = implied_penalty(data, plans.base_stock, plans.reserved)
    assert np.isnan(penalty).all() and not binds.any()


def test_solve_fill_rate_sets_targets_and_reports_their_price(tmp_path):
    folder = tmp_path / "inst"
    run = [str(Path(sys.executable).with_name("stockplan"))]
    subprocess.run(
        [*run, "generate", "--items", "6", "--suppliers", "2", "--seed", "3", "--out", str(folder)],
        check=True,
        capture_output=True,
    )
    items = pd.read_csv(folder / "items.csv")
    items["stockout_penalty"] = 0.0  # no stockout cost: the target is the service rule
    items.to_csv(folder / "items.csv", index=False)
    out = tmp_path / "out"
    done = subprocess.run(
        [*run, "solve", str(folder), "--out", str(out), "--fill-rate", "0.99",
         "--scenarios", "60", "--no-diagnostics"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = pd.read_csv(out / "plan.csv")
    assert (plan["target_fill_rate"] == 0.99).all()
    assert plan["target_binds"].sum() >= 3  # without a penalty, targets above the pipeline bind
    binding = plan[plan["target_binds"]]
    assert binding["implied_stockout_penalty"].notna().all()
    assert (binding["implied_stockout_penalty"] > 0).all()  # the last unit costs carrying
