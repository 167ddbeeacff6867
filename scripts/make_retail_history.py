"""Write the bundled example ``instances/retail_history/`` (README "From history to a plan").

A year (52 weeks) of weekly demand for 40 items of mixed behaviour, a 13-week forecast and
a year of delivery records, drawn from known laws with a fixed seed, so the folder is
reproducible and the laws the fits should find are stated here:

* 12 fast movers: Poisson or negative binomial, 20 to 80 units a week;
* 10 slow movers: Poisson, 1 to 4 units a week;
* 10 intermittent items: demand in 12% to 40% of the weeks, sizes 1 + Poisson or
  1 + negative binomial;
* 8 seasonal items: a yearly cycle peaking in week 65, the last of the coming quarter
  (its demand ramps up through the quarter; amplitude 40% to 70% of
  the level) with negative-binomial noise; each has a forecast for weeks 53-65 (the
  cycle's mean, 5% optimistic) and its past forecasts for weeks 27-52, so the forecast's
  error is measured against the actuals.

Three suppliers: ``local`` (reliable, α = 0.02, β = 0.6), ``import`` (α = 0.08,
β = 0.25) and ``new`` (α = 0.1, β = 0.5, only 20 weeks on record: too short to trust).
``items.csv`` has no demand columns (the history supplies them) except one item whose
``demand_dist`` is fixed by the planner; ``suppliers.csv`` has no probabilities (the
records supply them).

Usage::

    python scripts/make_retail_history.py [--out instances/retail_history]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261201
WEEKS = 52
QUARTER = 13
PEAK = 65
"""Week of the seasonal peak: the last of the coming quarter, so its demand ramps up."""
SUPPLIERS = {"local": (0.02, 0.6, 52), "import": (0.08, 0.25, 52), "new": (0.10, 0.5, 20)}

TOML = """name = "retail_history"
description = "A retailer's year of weekly demand, a 13-week forecast and delivery records: \
the laws are fitted from history/ (scripts/make_retail_history.py)"

[plan]
periods = 13
periods_per_year = 52
scenarios = 200
seed = 7
shortage = "lost_sales"

[demand]
model = "fit"          # or "bootstrap"
criterion = "aic"

[suppliers]
reliability = "mle"    # or "pessimistic": plan on the intervals' worst ends
"""


def _chain(rng: np.random.Generator, alpha: float, beta: float, n: int) -> np.ndarray:
    up = np.ones(n, dtype=int)
    up[0] = rng.random() < beta / (alpha + beta)
    for t in range(1, n):
        u = rng.random()
        up[t] = (u >= alpha) if up[t - 1] else (u < beta)
    return up


def _negbin(rng: np.random.Generator, mean: np.ndarray, cv2: float) -> np.ndarray:
    var = mean + cv2 * mean**2
    return rng.negative_binomial(mean**2 / (var - mean), mean / var).astype(int)


def build(seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Return the instance's tables by file name (see the module for the laws)."""
    rng = np.random.default_rng(seed)
    items, demand, forecast = [], [], []
    weeks = np.arange(1, WEEKS + 1)
    suppliers = list(SUPPLIERS)

    def add(name: str, series: np.ndarray, cost: float, **extra: object) -> None:
        items.append(
            {
                "item": name,
                "supplier": suppliers[len(items) % 3],
                "unit_cost": round(cost, 2),
                "lead_time": int(rng.integers(1, 4)),
                "stockout_penalty": round(cost * float(rng.uniform(0.6, 1.5)), 2),
                **extra,
            }
        )
        for w, d in zip(weeks, series, strict=True):
            if d > 0:  # weeks without a row are weeks of zero demand
                demand.append({"item": name, "period": int(w), "demand": int(d)})

    for k in range(12):
        mean = float(rng.uniform(20, 80))
        series = rng.poisson(mean, WEEKS) if k % 2 else _negbin(rng, np.full(WEEKS, mean), 0.08)
        add(f"FAST-{k + 1:02d}", series, float(rng.uniform(3, 30)))
    for k in range(10):
        add(f"SLOW-{k + 1:02d}", rng.poisson(rng.uniform(1, 4), WEEKS), float(rng.uniform(20, 200)))
    for k in range(10):
        p = float(rng.uniform(0.12, 0.4))
        size = 1 + (rng.poisson(rng.uniform(0.5, 4), WEEKS) if k % 2 else _negbin(
            rng, np.full(WEEKS, float(rng.uniform(1, 6))), 0.5
        ))  # fmt: skip
        extra = {"demand_dist": "negbin"} if k == 0 else {}
        add(f"SPARE-{k + 1:02d}", np.where(rng.random(WEEKS) < p, size, 0), 50.0, **extra)
    for k in range(8):
        level = float(rng.uniform(15, 60))
        amp = float(rng.uniform(0.4, 0.7))

        def cycle(w: np.ndarray | int, level: float = level, amp: float = amp) -> np.ndarray:
            return level * (1 + amp * np.cos(2 * np.pi * (np.asarray(w) - PEAK) / WEEKS))

        add(f"SEASON-{k + 1:02d}", _negbin(rng, cycle(weeks), 0.02), float(rng.uniform(5, 40)))
        name = items[-1]["item"]
        for w in range(27, WEEKS + QUARTER + 1):
            truth = cycle(w) * 1.05
            noisy = truth * (1 + 0.08 * rng.standard_normal()) if w <= WEEKS else truth
            forecast.append({"item": name, "period": w, "mean": round(float(noisy), 1)})
    deliveries = []
    for name, (alpha, beta, n) in SUPPLIERS.items():
        up = _chain(rng, alpha, beta, n)
        for w, u in zip(range(WEEKS - n + 1, WEEKS + 1), up, strict=True):
            deliveries.append({"supplier": name, "period": w, "up": int(u)})
    items_frame = pd.DataFrame(items)
    columns = ["item", "supplier", "unit_cost", "lead_time", "stockout_penalty", "demand_dist"]
    return {
        "items.csv": items_frame.reindex(columns=columns).fillna(""),
        "suppliers.csv": pd.DataFrame({"supplier": suppliers}),
        "history/demand.csv": pd.DataFrame(demand),
        "history/forecast.csv": pd.DataFrame(forecast),
        "history/deliveries.csv": pd.DataFrame(deliveries),
    }


def main() -> None:
    """Write the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="instances/retail_history", type=Path)
    parser.add_argument("--seed", default=SEED, type=int)
    args = parser.parse_args()
    (args.out / "history").mkdir(parents=True, exist_ok=True)
    (args.out / "instance.toml").write_text(TOML)
    for file, frame in build(args.seed).items():
        frame.to_csv(args.out / file, index=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
