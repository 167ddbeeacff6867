"""The ``ef`` engine: the Pyomo extensive form of :mod:`models.two_stage`, the reference.

The model is compiled with Pyomo's standard-form compiler and handed to HiGHS as sparse
matrices (:func:`optimizer.engines.highs.solve_pyomo`); the values are read back from the
Pyomo variables. Every program kind; never chosen by ``auto`` (the fast paths are proven
equal to it and faster).
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.engines.base import EngineResult, SolveConfig, SolveRequest, hindsight_only
from optimizer.engines.highs import SolverOptions, engine_result, solve_pyomo
from optimizer.program.data import ProgramData
from optimizer.program.matrices import KINDS
from optimizer.program.verifier import RecourseArrays


class PyomoEFEngine:
    """The Pyomo extensive form: every program kind."""

    name = "ef"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Accept every hindsight program (the reference engine)."""
        if reason := hindsight_only(request):
            return reason
        return None

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Build the Pyomo extensive form, compile it to standard form and solve it by HiGHS."""
        from models.two_stage import build_extensive_form, fix_plan  # Pyomo: start-up

        t0 = time.perf_counter()
        m = build_extensive_form(data, nonanticipative=not request.anticipative)
        if request.base_stock is not None:
            fix_plan(
                m,
                request.base_stock,
                request.reserved if request.reserved is not None else np.zeros(data.n_items),
                keep_fill_rate=request.keep_fill_rate,
            )
        elif not request.keep_fill_rate and hasattr(m, "fill_rate"):
            m.fill_rate.deactivate()
        pyomo_build = time.perf_counter() - t0
        res, compiled = solve_pyomo(m, SolverOptions.of(config))
        out = engine_result(
            res,
            build_seconds=pyomo_build + compiled.compile_seconds,
            size=(*compiled.lp.shape, compiled.lp.A.nnz),
        )
        if res.x is None:
            return out
        n, N, H = data.demand.shape
        owners = [m] if not request.anticipative else [m.scenario[w] for w in range(N)]
        S = np.array([[o.S[i].value for o in owners] for i in range(n)], dtype=float)
        K = np.zeros_like(S)
        for j, o in enumerate(owners):
            for i in o.K:
                K[i, j] = o.K[i].value
        rec = {k: np.zeros((n, N, H)) for k in KINDS}
        for w in range(N):
            b = m.scenario[w]
            for k in KINDS:
                if hasattr(b, k):
                    for (i, t), v in getattr(b, k).extract_values().items():
                        rec[k][i, w, t] = 0.0 if v is None else v
        single = not request.anticipative
        out.base_stock = S[:, 0] if single else S
        out.reserved = K[:, 0] if single else K
        out.recourse = RecourseArrays(**rec)
        return out
