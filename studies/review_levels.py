"""Does one base-stock level per month beat one per quarter? (README "Review levels").

On the seasonal items of ``instances/retail_history`` (demand ramping up through the
quarter, scenarios following the forecast) and, as a control, on its flat fast movers:
the causal plan with one level for the quarter (the ``causal`` engine's item search)
against ``review_levels`` 3 and 13 (:mod:`optimizer.engines.causal_review`, fitted on the
same 200 optimisation scenarios), all priced on the same fresh scenarios
(``stream="evaluate"``): the paired difference of the scenario costs with its 95%
interval, and, to show where the difference comes from, each block's mean demand beside
its level and the stock left at the quarter's end (which no plan is charged for).

Usage::

    python studies/review_levels.py [--fresh 4000] [--out studies/results/review_levels.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from optimizer.engines.causal_review import search_levels
from optimizer.engines.causal_search import search_items
from optimizer.instance import load_instance
from optimizer.program.data import program_data
from optimizer.program.review import evaluate_levels, review_blocks
from optimizer.scenarios import generate_scenarios

ROOT = Path(__file__).resolve().parent.parent


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean of ``b - a`` per scenario with its 95% interval (normal, n large)."""
    d = b - a
    half = 1.96 * float(d.std(ddof=1)) / math.sqrt(len(d))
    return {"mean": float(d.mean()), "ci95": [float(d.mean()) - half, float(d.mean()) + half]}


def study(prefix: str, fresh: int) -> dict:
    """The comparison on the example's items whose names start with ``prefix``."""
    inst = load_instance(ROOT / "instances" / "retail_history")
    inst = inst.subset_items([i for i, n in enumerate(inst.items.name) if n.startswith(prefix)])
    data = program_data(inst, generate_scenarios(inst))
    test = program_data(inst, generate_scenarios(inst, n_scenarios=fresh, stream="evaluate"))
    single = search_items(data, integer=True, fill_rates=False).base_stock
    zero = np.zeros(data.n_items)
    base = evaluate_levels(test, single[:, None], zero)
    out = {"items": int(data.n_items), "fresh_scenarios": fresh}
    out["levels_1"] = {"out_of_sample": base.expected_cost}
    blocks = review_blocks(data.periods, 3)
    demand = test.demand[:, :, test.warmup :].mean(axis=1)
    for k in (3, 13):
        levels, in_sample = search_levels(data, k, start=single)
        ev = evaluate_levels(test, levels, zero)
        entry = {
            "in_sample": float(in_sample.sum()),
            "out_of_sample": ev.expected_cost,
            "difference_vs_1": paired(base.scenario_cost, ev.scenario_cost),
        }
        if k == 3:
            entry["block_mean_demand"] = [
                [round(float(demand[i, blocks == b].mean()), 1) for b in range(3)]
                for i in range(data.n_items)
            ]
            entry["levels"] = levels.tolist()
        out[f"levels_{k}"] = entry
    return out


def main() -> None:
    """Run the study on the seasonal items and on the flat control."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=ROOT / "studies/results/review_levels.json")
    args = parser.parse_args()
    result = {"seasonal": study("SEASON-", args.fresh), "flat": study("FAST-", args.fresh)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, r in result.items():
        for k in (3, 13):
            d = r[f"levels_{k}"]["difference_vs_1"]
            print(
                f"{name}: levels {k} vs 1 out of sample {r[f'levels_{k}']['out_of_sample']:,.0f} "
                f"vs {r['levels_1']['out_of_sample']:,.0f}, paired difference {d['mean']:,.0f} "
                f"[{d['ci95'][0]:,.0f}, {d['ci95'][1]:,.0f}]"
            )


if __name__ == "__main__":
    main()
