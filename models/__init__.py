"""Pyomo models of the two-stage stocking program: hindsight, causal and per-scenario.

The extensive form is the source of truth the fast engines are tested against.

* :mod:`~models.two_stage` — the extensive form with hindsight recourse (README, "The model");
* :mod:`~models.causal` — the same program with a causal second stage, as a MILP;
* :mod:`~models.mpisppy_scenarios` — one scenario model per scenario, for mpi-sppy.
"""
