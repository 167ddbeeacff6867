"""The two-stage program as numbers: coefficients, sparse matrices, verification, causal runs.

* :mod:`~optimizer.program.data` — :class:`~optimizer.program.data.ProgramData`, the coefficients;
* :mod:`~optimizer.program.matrices` — the program assembled as sparse matrices;
* :mod:`~optimizer.program.verifier` — independent numpy re-evaluation of a plan and its recourse;
* :mod:`~optimizer.program.simulate` — causal simulation of a base-stock plan;
* :mod:`~optimizer.program.causal_kernel` — its exact cost and one-sided derivatives (numba).
"""
