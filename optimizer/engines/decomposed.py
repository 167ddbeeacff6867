"""The ``decomposed`` engine: item by item when nothing couples items.

Without a budget, storage row or CVaR the program separates by item; each item's LP is
assembled by :mod:`optimizer.program.matrices` and solved on its own
(:func:`optimizer.engines.matrix.solve_part`), spread over forked worker processes
(HiGHS's dual simplex is serial, so processes use the cores).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

from optimizer.engines.base import EngineResult, SolveConfig, SolveRequest, combine, hindsight_only
from optimizer.engines.children import die_with_parent
from optimizer.engines.highs import SolverOptions
from optimizer.engines.matrix import solve_part
from optimizer.program.data import ProgramData

#: Below this many item x scenario x period cells the items are solved in-process
#: (starting workers costs more than it saves).
POOL_MIN_CELLS = 20_000

_POOL_JOB: dict = {}


def _item_request(request: SolveRequest, i: int) -> SolveRequest:
    S, K = request.base_stock, request.reserved
    return SolveRequest(
        anticipative=request.anticipative,
        base_stock=None if S is None else S[[i]],
        reserved=None if K is None else K[[i]],
        keep_fill_rate=request.keep_fill_rate,
    )


def _solve_items(indices: list[int]) -> list[EngineResult]:
    job = _POOL_JOB
    return [
        solve_part(job["data"].item(i), _item_request(job["request"], i), job["options"])
        for i in indices
    ]


class DecomposedEngine:
    """Independent item LPs over worker processes (separable programs)."""

    name = "decomposed"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Decline a program whose items are coupled (budget, storage row or CVaR)."""
        if reason := hindsight_only(request):
            return reason
        if not data.is_separable:
            return (
                "it needs an instance without budget, storage or CVaR coupling; "
                "use 'matrix' or 'ef'"
            )
        return None

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Solve each item's LP on its own, over ``config.workers`` forked processes."""
        n, workers = data.n_items, config.workers
        _POOL_JOB.update(data=data, request=request, options=SolverOptions.of(config))
        try:
            cells = n * data.n_scenarios * data.horizon
            forkable = "fork" in mp.get_all_start_methods()
            if workers <= 1 or n < 2 or cells < POOL_MIN_CELLS or not forkable:
                return combine(_solve_items(list(range(n))), request)
            chunks = [list(range(k, n, workers * 4)) for k in range(min(n, workers * 4))]
            with ProcessPoolExecutor(
                workers,
                mp_context=mp.get_context("fork"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            ) as pool:
                parts = list(pool.map(_solve_items, chunks))
            results: list[EngineResult] = [parts[0][0]] * n
            for chunk, part in zip(chunks, parts, strict=True):
                for i, r in zip(chunk, part, strict=True):
                    results[i] = r
            return combine(results, request)
        finally:
            _POOL_JOB.clear()
