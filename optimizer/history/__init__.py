"""Demand and supply laws estimated from a planner's records (README "From history to a plan").

Pure statistics on numpy arrays, no files: the readers of ``history/`` live in
:mod:`optimizer.instance.history_files` and call these.  Modules:

* :mod:`~optimizer.history.families` — the supported demand families as likelihoods;
* :mod:`~optimizer.history.demand_fit` — maximum-likelihood fits, AIC/BIC choice, PIT test;
* :mod:`~optimizer.history.intermittent` — ADI/CV² classes and the compound Bernoulli law;
* :mod:`~optimizer.history.bootstrap` — the circular block bootstrap and its block length;
* :mod:`~optimizer.history.forecast` — a forecast's path and its error from past forecasts;
* :mod:`~optimizer.history.reliability` — a supplier's two-state chain from delivery records;
* :mod:`~optimizer.history.laws` — the fitted laws that scenario generation samples.
"""
