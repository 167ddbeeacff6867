"""Analysis of plans: pricing fixed plans, diagnostics, policy comparison and sampling quality.

* :mod:`~optimizer.analysis.evaluation` — fixed plans priced on one scenario set (hindsight and
  causal);
* :mod:`~optimizer.analysis.diagnostics` — RP, EV, EEV, VSS, WS, EVPI and out-of-sample cost;
* :mod:`~optimizer.analysis.policies` — heuristic baselines and the two optimised plans;
* :mod:`~optimizer.analysis.comparison` — their fair out-of-sample comparison;
* :mod:`~optimizer.analysis.sampling_quality` — optimality-gap estimates (Mak, Morton & Wood
  1999).
"""
