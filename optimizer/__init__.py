"""stockplan: two-stage stochastic stocking plans that weigh Just-in-Time against Just-in-Case.

The subpackages follow the data flow (README, "The model", code map): :mod:`~optimizer.instance`
(files → validated instance), :mod:`~optimizer.scenarios`, :mod:`~optimizer.program`
(coefficients, matrices, verification, causal simulation), :mod:`~optimizer.engines` (solving),
:mod:`~optimizer.report`, :mod:`~optimizer.analysis`, :mod:`~optimizer.planning` and
:mod:`~optimizer.cli`.
"""
