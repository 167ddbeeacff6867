r"""The headline and the diagnostics of a plan solved on a cluster, item by item.

:func:`fresh_batch` is one batch of the headline's fresh scenarios
(:func:`optimizer.analysis.headline.honest_cost`), each chunk's generated and played on a
worker; the per-item figures are side by side and the scenario costs summed.

:func:`optimizer.analysis.diagnostics.compute_diagnostics` on one machine reads the whole
program; on a cluster (:mod:`optimizer.engines.executors`) the scenarios live in chunks
on the workers, so the figures that are sums over items are taken chunk by chunk there
and added up here:

* EV, the mean-value program (one scenario), solved per chunk when no plan row couples
  the items (on the client otherwise: it is small);
* EEV, the JIT (EV) plan played causally: :math:`\sum_i F_i(S^{EV}_i)`;
* the plan's hindsight bound (a fixed plan's recourse separates by item: its plan rows
  are dropped) and WS, the wait-and-see value, which separates by item without a plan row
  (with one, WS is skipped with a note);
* ``in_sample_causal`` is the cluster's re-evaluation of the plan.

The size thresholds (hindsight figures on the first 200 scenarios of a large program,
LP-only figures relaxed or skipped) are decided on the whole program's size, as on one
machine, so each chunk computes its share of the same figure.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from optimizer.analysis.diagnostics import (
    HINDSIGHT_CELLS,
    HINDSIGHT_SCENARIOS,
    Diagnostics,
    _hindsight_figures,
    _quick,
    _relaxed,
    _wait_and_see_program,
    causal_cost,
    price_plan,
    solve_wait_and_see,
)
from optimizer.analysis.headline import _play_batch, fixed_plan_data
from optimizer.engines.base import CAUSAL, SolveConfig, SolveRequest
from optimizer.engines.dispatch import Solution, solve_program
from optimizer.engines.executors import DaskItems, join_evaluations, play, worker_task
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.program.verifier import Evaluation
from optimizer.scenarios import generate_scenarios, mean_value_scenario

log = logging.getLogger(__name__)


def _fresh_chunk(instance: Instance, items: np.ndarray, S, K, *, size: int, seed, stream: str):
    """Play a chunk's share of one headline batch on fresh scenarios generated here."""
    worker_task()
    fresh = generate_scenarios(instance, size, seed=seed, stream=stream, items=items)
    data = fixed_plan_data(program_data(instance, fresh, consume=True, items=items))
    del fresh
    return _play_batch(data, S, K)


def fresh_batch(
    work: DaskItems,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    size: int,
    seed: int | None,
    stream: str,
) -> tuple[Evaluation, np.ndarray]:
    """One headline batch on the workers: what :func:`_play_batch` returns for all items."""
    S, K = np.asarray(base_stock, dtype=float), np.asarray(reserved, dtype=float)
    args = [(S[i], K[i]) for i in work.chunks]
    parts = work.run_instance(_fresh_chunk, args, size=size, seed=seed, stream=stream)
    ev = join_evaluations([e for e, _d in parts], np.full(size, 1.0 / size), 0.0, 0.0)
    return ev, np.concatenate([d for _e, d in parts])


def _shape_like(skeleton: ProgramData, n_scenarios: int) -> ProgramData:
    """Return the skeleton on its first ``n_scenarios`` scenarios (broadcast, no copy)."""
    shape = (skeleton.n_items, n_scenarios, skeleton.horizon)
    p = skeleton.probability[:n_scenarios]
    return dataclasses.replace(
        skeleton,
        probability=p / p.sum(),
        demand=np.broadcast_to(np.float64(np.nan), shape),
        arrival=np.broadcast_to(np.int64(-1), shape),
    )


def _wall_deadline(config: SolveConfig) -> tuple[SolveConfig, float | None]:
    """Split ``config`` into the settings sent to the workers and a wall-clock deadline.

    A :func:`time.monotonic` deadline is this machine's clock; a worker on another machine
    re-anchors the wall-clock time on its own (:func:`_held`).
    """
    if config.deadline is None:
        return config, None
    until = time.time() + (config.deadline - time.monotonic())
    return dataclasses.replace(config, deadline=None), until


def _held(config: SolveConfig, until: float | None) -> SolveConfig:
    """``config`` held, on this worker, to the wall-clock deadline ``until``."""
    if until is None:
        return config
    return config.within(time.monotonic() + (until - time.time()))


def _ev_chunk(
    instance: Instance,
    items: np.ndarray,
    config: SolveConfig,
    request: SolveRequest,
    until: float | None = None,
):
    """Solve a chunk's mean-value program (items separate: no plan row)."""
    worker_task()
    config = _held(config, until)
    mv = mean_value_scenario(instance).subset_items(items)
    ev = solve_program(program_data(instance, mv, items=items), config, request)
    if not ev.has_plan:
        return None
    return ev.base_stock, ev.reserved, ev.objective


def _hindsight_chunk(
    data: ProgramData,
    S: np.ndarray,
    K: np.ndarray,
    *,
    hs_scenarios: int | None,
    ws_mode: str,
    bound_quick: bool,
    config: SolveConfig,
    until: float | None = None,
) -> tuple[float, float, float]:
    """Compute a chunk's WS, hindsight bound and causal cost on the hindsight scenarios."""
    worker_task()
    config = _held(config, until)
    hs = data if hs_scenarios is None else data.scenario_subset(np.arange(hs_scenarios))[1]
    ws_data = {"exact": hs, "relaxed": _relaxed(hs), "none": None}[ws_mode]
    if ws_data is not None and not ws_data.is_separable:
        ws_data = None
    ws = bound = float("nan")
    shared = _hindsight_figures(ws_data, hs, S, K, config)
    if shared is not None:
        ws, bound = shared
    else:
        if ws_data is not None:
            ws = solve_wait_and_see(ws_data, config)
        if bound_quick:
            priced = price_plan(hs, S, K, config=config)
            bound = priced.objective if priced.has_plan else float("nan")
    rp_hs = causal_cost(hs, S, K) if hs_scenarios is not None else float("nan")
    return ws, bound, rp_hs


def cluster_diagnostics(
    work: DaskItems,
    instance: Instance,
    skeleton: ProgramData,
    rp: Solution,
    *,
    config: SolveConfig | None = None,
    request: SolveRequest | None = None,
) -> Diagnostics:
    """Compute the diagnostics of the causal plan ``rp`` on ``work``'s cluster (module doc).

    A ``config`` held to a deadline (:meth:`~optimizer.engines.base.SolveConfig.within`)
    holds the workers' LPs to it too (sent as a wall-clock time, each worker's own clock
    counting down to it); a figure an LP did not reach is ``nan``.
    """
    # auto, and no process pool inside a worker (its processes are daemonic: no children)
    config = dataclasses.replace((config or SolveConfig()).with_engine("auto"), workers=1)
    request = request or SolveRequest(recourse=CAUSAL)
    S, K = rp.base_stock, rp.reserved
    notes: list[str] = []
    ev_request = SolveRequest(recourse=request.recourse, integer=request.integer)
    ev_S = ev_K = None
    ev_value = float("nan")
    sent, until = _wall_deadline(config)  # a time limit, on the workers' clocks
    if skeleton.is_separable:
        parts = work.run_instance(_ev_chunk, config=sent, request=ev_request, until=until)
        if all(p is not None for p in parts):
            ev_S = np.concatenate([p[0] for p in parts])
            ev_K = np.concatenate([p[1] for p in parts])
            ev_value = float(sum(p[2] for p in parts))
    else:  # a plan row couples the mean-value program too: one scenario, solved here
        ev = solve_program(
            program_data(instance, mean_value_scenario(instance)), config, ev_request
        )
        if ev.has_plan:
            ev_S, ev_K, ev_value = ev.base_stock, ev.reserved, ev.objective
    eev = vss = None
    if ev_S is not None:
        eev = float(play(work, ev_S, np.where(skeleton.reserves, ev_K, 0.0)).expected_cost.sum())
        vss = eev - rp.objective
    hs_n = None
    hs = skeleton
    if skeleton.demand.size > HINDSIGHT_CELLS and skeleton.n_scenarios > HINDSIGHT_SCENARIOS:
        hs_n = HINDSIGHT_SCENARIOS
        hs = _shape_like(skeleton, hs_n)
        notes.append(
            f"WS_hindsight, EVPI and hindsight_bound on the first {HINDSIGHT_SCENARIOS} of "
            f"the {skeleton.n_scenarios} optimisation scenarios (the program is large); EVPI "
            "is the plan's cost on those scenarios minus WS_hindsight"
        )
    ws_data, ws_note = _wait_and_see_program(hs)
    ws_mode = "none" if ws_data is None else "exact" if ws_data is hs else "relaxed"
    if ws_note:
        notes.append(ws_note)
    if ws_data is not None and not ws_data.is_separable:
        ws_mode = "none"
        notes.append("WS_hindsight skipped on a cluster: the plan row couples the items")
    fixed = SolveRequest.fixed(S, K, keep_fill_rate=False)
    bound_quick = _quick(hs, fixed)
    args = [(S[i], K[i]) for i in work.chunks]
    parts = work.run(
        _hindsight_chunk, list(range(len(work.chunks))), args,
        hs_scenarios=hs_n, ws_mode=ws_mode, bound_quick=bound_quick, config=sent,
        until=until,
    )  # fmt: skip
    ws_value = float(sum(p[0] for p in parts))
    bound = float(sum(p[1] for p in parts))
    if not bound_quick and np.isnan(bound):
        notes.append("hindsight_bound skipped: only an LP engine prices it at this size")
    rp_hs = rp.objective if hs_n is None else float(sum(p[2] for p in parts))
    in_sample = rp.evaluation.objective if rp.evaluation is not None else float("nan")
    return Diagnostics(
        recourse=request.recourse,
        rp=rp.objective,
        ev=ev_value,
        eev=eev,
        vss=vss,
        ws=ws_value,
        evpi=rp_hs - ws_value,
        in_sample_causal=in_sample,
        hindsight_bound=bound,
        hindsight_scenarios=hs.n_scenarios,
        note="; ".join(notes),
    )
