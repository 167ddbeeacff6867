"""Pyomo models of the two-stage stocking program (the source of truth the engines match).

* :mod:`~models.two_stage` — the extensive form with hindsight recourse (README, "The model");
* :mod:`~models.causal` — the same program with a causal second stage, as a MILP;
* :mod:`~models.mpisppy_scenarios` — one scenario model per scenario, for mpi-sppy.
"""
