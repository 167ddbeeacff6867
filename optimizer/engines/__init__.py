"""Engines that solve the two-stage program, and the registry that picks one.

The README section "Engines" describes each.

Each engine module says for itself whether it accepts a program and returns an
:class:`~optimizer.engines.base.EngineResult`; :mod:`~optimizer.engines.registry` holds them by
name in the order ``auto`` tries them and :mod:`~optimizer.engines.dispatch` verifies the answer.
"""
