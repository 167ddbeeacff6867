"""Does one base-stock level per month beat one per quarter? (README "Review levels").

On the seasonal items of ``instances/retail_history`` (demand ramping up through the
quarter, scenarios following the forecast) and, as a control, on its flat fast movers:
the causal plan with one level for the quarter (the ``causal`` engine's item search)
against ``review_levels`` 3 and 13 (:mod:`optimizer.engines.causal_review`, fitted on the
same 200 optimisation scenarios), all priced on the same fresh scenarios
(``stream="evaluate"``): the paired difference of the scenario costs with its 95%
interval, and, to show where the difference comes from, each block's mean demand beside
its level; and, against end effects, the flat items' block levels repeated over four
quarters, all four costed (a gain that only comes from ending the quarter on emptier
shelves disappears there).

``[plan] review_levels`` in ``stockplan solve`` is the fair form (the next quarter paid
at the single level, :func:`next_quarter_paid`), with block levels only for items whose
forecast has a shape; :func:`option` measures it as ``solve`` runs it (README "Review
levels", the table "What it buys").

Usage::

    python studies/review_levels.py [--fresh 4000] [--out studies/results/review_levels.json]
    python studies/review_levels.py --option [--fresh 8000]   # the solve option's figures
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
from optimizer.program.review import evaluate_levels, review_blocks, simulate_levels
from optimizer.program.verifier import evaluate_solution
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


def periodic(prefix: str, fresh: int, quarters: int = 4) -> dict:
    """The quarter's block levels repeated over ``quarters`` quarters, costed over all.

    The control for end effects: a plan that only gains by ending the quarter on emptier
    shelves, or by a pulse the next quarter pays for, loses that gain when the next
    quarters are costed too.  Items without a forecast only (the forecast covers one
    quarter).
    """
    inst = load_instance(ROOT / "instances" / "retail_history")
    inst = inst.subset_items([i for i, n in enumerate(inst.items.name) if n.startswith(prefix)])
    data = program_data(inst, generate_scenarios(inst))
    single = search_items(data, integer=True, fill_rates=False).base_stock
    out = {"items": int(data.n_items), "quarters": quarters, "fresh_scenarios": fresh}
    long = inst.with_plan(periods=quarters * inst.plan.periods, warmup=inst.warmup)
    test = program_data(long, generate_scenarios(long, n_scenarios=fresh, stream="evaluate"))
    zero = np.zeros(data.n_items)
    costs = {}
    for k in (1, 3, 13):
        levels = single[:, None] if k == 1 else search_levels(data, k, start=single)[0]
        within = review_blocks(inst.plan.periods, k)
        blocks = np.tile(within, quarters)
        path = np.empty((data.n_items, test.horizon))
        path[:, : test.warmup] = levels[:, :1]
        path[:, test.warmup :] = levels[:, blocks]
        rec = simulate_levels(test, path, zero)
        ev = evaluate_solution(test, path[:, 0], zero, rec, check_fill_rate=False,
                               check_plan_rows=False)  # fmt: skip
        costs[k] = ev.scenario_cost / quarters
        entry = {"per_quarter": float(test.probability @ costs[k])}
        if k > 1:
            entry["difference_vs_1"] = paired(costs[1], costs[k])
        out[f"levels_{k}"] = entry
    return out


def next_quarter_paid(prefix: str, fresh: int) -> dict:
    """Block levels fitted and priced with the next quarter costed at the single level.

    Two quarters are simulated: the blocks cover the first (following the forecast where
    there is one), the second runs at the single level :math:`S^*` on the item's own
    law, and both are costed, so a plan pays in the second quarter for the state its
    blocks hand over.  :math:`S^*` is the single level fitted to the same two quarters.
    The fair form of the comparison (no ``hand_over`` floor needed).
    """
    inst = load_instance(ROOT / "instances" / "retail_history")
    inst = inst.subset_items([i for i, n in enumerate(inst.items.name) if n.startswith(prefix)])
    T = inst.plan.periods
    two = inst.with_plan(periods=2 * T, warmup=inst.warmup)
    fit = program_data(two, generate_scenarios(two))
    # the single level fitted to the same two quarters, so neither plan has the edge
    single = search_items(fit, integer=True, fill_rates=False).base_stock
    test = program_data(two, generate_scenarios(two, n_scenarios=fresh, stream="evaluate"))
    zero = np.zeros(fit.n_items)
    base = evaluate_levels(test, single[:, None], zero)
    out = {"items": int(fit.n_items), "fresh_scenarios": fresh, "quarters_costed": 2}
    out["levels_1"] = {"two_quarters": base.expected_cost}
    for k in (3, 13):
        levels, _ = search_levels(fit, k, start=single, span=T)
        ev = evaluate_levels(test, levels, zero, span=T, tail=single)
        out[f"levels_{k}"] = {
            "two_quarters": ev.expected_cost,
            "difference_vs_1": paired(base.scenario_cost, ev.scenario_cost),
            "levels": levels.tolist(),
        }
    return out


def option(prefix: str, k: int, fresh: int) -> dict:
    """``stockplan solve --review-levels k --eval-scenarios fresh`` on the items of ``prefix``.

    The paired difference of the block plan against the single level on the headline's
    fresh scenarios (``summary.json``'s ``review.vs_single_level``).
    """
    from optimizer.planning import make_plan

    inst = load_instance(ROOT / "instances" / "retail_history")
    if prefix:
        keep = [i for i, n in enumerate(inst.items.name) if n.startswith(prefix)]
        inst = inst.subset_items(keep)
    result = make_plan(inst.with_plan(review_levels=k), eval_scenarios=fresh,
                       max_eval_scenarios=fresh, with_diagnostics=False)  # fmt: skip
    review = result.summary["review"]
    return {"items": len(inst.items), "items_with_blocks": review["items_with_blocks"],
            **review["vs_single_level"]}  # fmt: skip


def main() -> None:
    """Run the study on the seasonal items and on the flat control."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=ROOT / "studies/results/review_levels.json")
    parser.add_argument("--option", action="store_true", help="the solve option's figures")
    args = parser.parse_args()
    if args.option:
        for prefix in ("SEASON-", ""):
            for k in (3, 13):
                r = option(prefix, k, args.fresh)
                lo, hi = r["difference_ci95"]
                print(
                    f"{prefix or 'all items'} review_levels {k}: single level "
                    f"{r['single_level_expected_cost']:,.0f}, paired difference "
                    f"{r['difference']:,.1f} [{lo:,.1f}, {hi:,.1f}] on {r['scenarios']:,} "
                    f"fresh scenarios ({r['items_with_blocks']} of {r['items']} items with blocks)"
                )
        return
    result = {"seasonal": study("SEASON-", args.fresh), "flat": study("FAST-", args.fresh)}
    result["flat_over_four_quarters"] = periodic("FAST-", args.fresh // 2)
    for name, prefix in (("seasonal", "SEASON-"), ("flat", "FAST-")):
        result[f"{name}_next_quarter_paid"] = next_quarter_paid(prefix, args.fresh // 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, r in result.items():
        if "quarters_costed" in r:
            for k in (3, 13):
                d = r[f"levels_{k}"]["difference_vs_1"]
                print(
                    f"{name}: levels {k} vs 1 over two quarters "
                    f"{r[f'levels_{k}']['two_quarters']:,.0f} vs "
                    f"{r['levels_1']['two_quarters']:,.0f}, paired difference "
                    f"{d['mean']:,.0f} [{d['ci95'][0]:,.0f}, {d['ci95'][1]:,.0f}]"
                )
            continue
        if "quarters" in r:
            for k in (3, 13):
                d = r[f"levels_{k}"]["difference_vs_1"]
                print(
                    f"{name}: levels {k} vs 1 per quarter {r[f'levels_{k}']['per_quarter']:,.0f} "
                    f"vs {r['levels_1']['per_quarter']:,.0f}, paired difference "
                    f"{d['mean']:,.0f} [{d['ci95'][0]:,.0f}, {d['ci95'][1]:,.0f}]"
                )
            continue
        for k in (3, 13):
            d = r[f"levels_{k}"]["difference_vs_1"]
            print(
                f"{name}: levels {k} vs 1 out of sample {r[f'levels_{k}']['out_of_sample']:,.0f} "
                f"vs {r['levels_1']['out_of_sample']:,.0f}, paired difference {d['mean']:,.0f} "
                f"[{d['ci95'][0]:,.0f}, {d['ci95'][1]:,.0f}]"
            )


if __name__ == "__main__":
    main()
