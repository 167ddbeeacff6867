"""The ``matrix`` engine: the whole extensive form as sparse matrices, solved by HiGHS.

:func:`optimizer.program.matrices.build_lp` assembles the program of
:mod:`models.two_stage` directly as a :class:`~optimizer.program.matrices.StandardLP`
(proven equal to the Pyomo model); it handles every program kind, coupled ones included,
and is what ``auto`` falls back on. :func:`solve_part` is also the item solve of the
``decomposed`` engine.
"""

from __future__ import annotations

import time

from optimizer.engines.base import (
    EngineResult,
    SolveConfig,
    SolveRequest,
    first_stage,
    hindsight_only,
)
from optimizer.engines.highs import SolverOptions, engine_result, solve_lp
from optimizer.program.data import ProgramData
from optimizer.program.matrices import KINDS, build_lp
from optimizer.program.verifier import RecourseArrays


def solve_part(data: ProgramData, request: SolveRequest, options: SolverOptions) -> EngineResult:
    """Build and solve the LP of ``data``; plans keep their layout shape (n, plans)."""
    t0 = time.perf_counter()
    lp, layout = build_lp(
        data,
        anticipative=request.anticipative,
        base_stock=request.base_stock,
        reserved=request.reserved,
        keep_fill_rate=request.keep_fill_rate,
    )
    built = time.perf_counter() - t0
    res = solve_lp(lp, options)
    out = engine_result(res, build_seconds=built, size=(*lp.shape, lp.A.nnz))
    if res.x is not None:
        out.base_stock, out.reserved = layout.first_stage(res.x)
        out.recourse = RecourseArrays(**{k: layout.recourse(res.x, k) for k in KINDS})
    return out


class MatrixEngine:
    """The extensive form as sparse matrices: every program kind."""

    name = "matrix"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Accept every hindsight program."""
        if reason := hindsight_only(request):
            return reason
        return None

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Assemble the whole extensive form as sparse matrices and solve it by HiGHS."""
        out = solve_part(data, request, SolverOptions.of(config))
        if out.has_plan:
            out.base_stock = first_stage(out.base_stock, request)
            out.reserved = first_stage(out.reserved, request)
        return out
