"""What every engine shares: the request, the settings, the result and the protocol.

An engine (:class:`Engine`) says for itself whether it can solve a program
(:meth:`Engine.accepts`: ``None``, or the reason it declines) and solves it
(:meth:`Engine.solve`) into an :class:`EngineResult`. The registry
(:mod:`optimizer.engines.registry`) holds the engines in the order ``auto`` tries them;
:func:`optimizer.engines.dispatch.solve_program` runs the chosen one and verifies its answer.

The outcome of a solve is told in two words, as Pyomo's ``contrib.solver`` results do:
:class:`Termination`, why the engine stopped, and :class:`SolutionStatus`, what came back.
A plan at a time or iteration limit is a feasible plan with a gap; :class:`SolveStatus`
is the one-word label of the pair that ``summary.json`` reports.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import os
import time
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np

from optimizer.program.data import ProgramData
from optimizer.program.verifier import RecourseArrays

log = logging.getLogger(__name__)


class Termination(enum.Enum):
    """Why the engine stopped (Pyomo's ``TerminationCondition``, the cases we meet)."""

    CONVERGED = "convergence_criteria_satisfied"
    TIME_LIMIT = "max_time_limit"
    ITERATION_LIMIT = "iteration_limit"
    OTHER_LIMIT = "other_limit"  # objective bound or target, solution or memory limit
    INTERRUPTED = "interrupted"
    INFEASIBLE = "proven_infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    ERROR = "error"  # numerical trouble, a load or model error, unknown

    @property
    def is_limit(self) -> bool:
        """True when the engine stopped at a limit (time, iterations, other, interrupted)."""
        return self in (
            Termination.TIME_LIMIT,
            Termination.ITERATION_LIMIT,
            Termination.OTHER_LIMIT,
            Termination.INTERRUPTED,
        )


class SolutionStatus(enum.Enum):
    """What came back (Pyomo's ``SolutionStatus``)."""

    NO_SOLUTION = "no_solution"
    FEASIBLE = "feasible"
    OPTIMAL = "optimal"


class SolveStatus(enum.Enum):
    """One-word label of a (termination, solution status) pair, as reported."""

    OPTIMAL = "optimal"
    LIMIT_FEASIBLE = "feasible_at_limit"  # a plan, not proven optimal: it has a gap
    FEASIBLE = "feasible_with_gap"  # converged to a plan whose optimality gap is not closed
    LIMIT_NO_SOLUTION = "no_solution_at_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NUMERICAL = "numerical_trouble"

    @property
    def has_plan(self) -> bool:
        """True when a plan came back (optimal, or feasible at a limit)."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.LIMIT_FEASIBLE)

    @classmethod
    def of(cls, termination: Termination, status: SolutionStatus) -> SolveStatus:
        """Label what came back and why the engine stopped, as one status."""
        if status is SolutionStatus.OPTIMAL:
            return cls.OPTIMAL
        if status is SolutionStatus.FEASIBLE:
            return cls.FEASIBLE if termination is Termination.CONVERGED else cls.LIMIT_FEASIBLE
        if termination is Termination.INFEASIBLE:
            return cls.INFEASIBLE
        if termination in (Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED):
            return cls.UNBOUNDED
        if termination.is_limit:
            return cls.LIMIT_NO_SOLUTION
        return cls.NUMERICAL


#: Labels from best to worst (the worst sub-problem speaks for a decomposed solve).
SEVERITY = (
    SolveStatus.OPTIMAL,
    SolveStatus.FEASIBLE,
    SolveStatus.LIMIT_FEASIBLE,
    SolveStatus.NUMERICAL,
    SolveStatus.LIMIT_NO_SOLUTION,
    SolveStatus.UNBOUNDED,
    SolveStatus.INFEASIBLE,
)


#: The two second stages (README "The model").
HINDSIGHT = "hindsight"
CAUSAL = "causal"
RECOURSES = (CAUSAL, HINDSIGHT)


@dataclass(frozen=True, eq=False)
class SolveRequest:
    """Which program to solve on the data.

    Attributes
    ----------
    recourse : {"hindsight", "causal"}
        The second stage (README "The model"): the classical recourse LP that chooses
        sales, emergency buys and shortages knowing the scenario, or the plan run period
        by period with no knowledge of the future.
    integer : bool
        Whole-unit levels :math:`S` and :math:`K` (the causal engines honour it; the
        hindsight LPs are continuous).
    anticipative : bool
        Wait-and-see relaxation: one plan per scenario (no non-anticipativity).
    base_stock, reserved : ndarray (n,), optional
        A fixed plan :math:`(S, K)` to price (its recourse is still optimised; plan rows
        are dropped). ``reserved`` defaults to zeros.
    keep_fill_rate : bool
        Whether fill-rate rows constrain the recourse.
    review_levels : int
        Block levels :math:`k` per item (README "Review levels"): with :math:`k > 1` the
        ``causal`` engine fits one level per block of the first ``review_span`` costed
        periods, the periods outside them at the item's single level.
    review_span : int, optional
        Costed periods the blocks cover (the quarter; the rest of the costed horizon is
        the next quarter, run at the single level).
    review_items : ndarray of bool (n,), optional
        The items given block levels (default all); the others keep the single level in
        every block.
    """

    anticipative: bool = False
    base_stock: np.ndarray | None = None
    reserved: np.ndarray | None = None
    keep_fill_rate: bool = True
    recourse: str = HINDSIGHT
    integer: bool = False
    review_levels: int = 1
    review_span: int | None = None
    review_items: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Refuse a recourse that is not one of :data:`RECOURSES`."""
        if self.recourse not in RECOURSES:
            raise ValueError(f"recourse must be one of {RECOURSES}, not {self.recourse!r}")

    @property
    def fixed_plan(self) -> bool:
        """True when the request prices a given plan :math:`(S, K)` instead of optimising."""
        return self.base_stock is not None

    @classmethod
    def fixed(
        cls,
        base_stock: np.ndarray,
        reserved: np.ndarray | None = None,
        *,
        keep_fill_rate: bool = True,
        recourse: str = HINDSIGHT,
    ) -> SolveRequest:
        """Price the plan :math:`(S, K)`."""
        return cls(
            base_stock=base_stock,
            reserved=reserved,
            keep_fill_rate=keep_fill_rate,
            recourse=recourse,
        )

    @classmethod
    def wait_and_see(cls, recourse: str = HINDSIGHT) -> SolveRequest:
        """Request the wait-and-see relaxation (one plan per scenario)."""
        return cls(anticipative=True, recourse=recourse)


def hindsight_only(request: SolveRequest) -> str | None:
    """Why an engine of the hindsight recourse declines ``request`` (None: it serves it)."""
    if request.recourse != HINDSIGHT:
        return (
            f"it solves the hindsight recourse (this request is {request.recourse!r}; "
            'use --recourse hindsight or [plan] recourse = "hindsight")'
        )
    return None


@dataclass(frozen=True)
class MpiSppyOptions:
    r"""Settings of the ``mpi-sppy`` engine (L-shaped method, or progressive hedging).

    Attributes
    ----------
    rel_gap : float
        Stop when :math:`(\bar z - \underline z)/|\bar z|` is at most this (PH); the
        gap under which an L-shaped answer counts as optimal.
    max_iterations : int
        Iteration limit (L-shaped or PH).
    method : {"lshaped", "ph"}
        mpi-sppy's L-shaped method (default: the first stage is small, and it converges
        where PH stalls) or progressive hedging with bound cylinders.
    rho_scale : float
        Multiplier on the cost-proportional :math:`\rho`.
    solver : str
        Pyomo solver of the scenario problems (``appsi_highs``: proximal term
        linearised; ``highs``: exact quadratic term).
    xhat_every : int
        Price :math:`\bar x` every this many iterations (two-cylinder layout).
    adaptive_rho : bool
        Let mpi-sppy's ``PrimalDualRho`` rescale :math:`\rho`.
    prox_tolerance : float
        Cut spacing of the linearised proximal term.
    solver_options : tuple of (str, str)
        Options of the scenario solver.
    """

    rel_gap: float = 1e-4
    max_iterations: int = 500
    method: str = "lshaped"
    rho_scale: float = 0.3
    solver: str = "appsi_highs"
    xhat_every: int = 5
    adaptive_rho: bool = True
    prox_tolerance: float = 1e-1
    solver_options: tuple[tuple[str, str], ...] = ()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SolveConfig:
    """How to solve: the engine and its settings, one bundle for every caller.

    Attributes
    ----------
    engine : str
        A registered engine's name, or ``"auto"``.
    time_limit : float or None
        Wall-clock seconds per LP (per engine run for the flow and causal engines, hub
        seconds for mpi-sppy).
    deadline : float or None
        A :func:`time.monotonic` time no LP may run past (the whole command's budget of
        ``stockplan --time-limit``): every HiGHS solve is limited to the smaller of
        ``time_limit`` and the time left (:meth:`seconds_left`).
    threads : int or None
        HiGHS threads.
    gap : float
        Relative optimality tolerance of HiGHS's interior-point method.
    method : {"choose", "simplex", "ipm"}
        HiGHS LP algorithm.
    presolve : bool
    workers : int
        Processes (or numba threads) of the engines that spread items.
    verify : bool
        Re-evaluate every answer in numpy and raise on disagreement.
    mpisppy : MpiSppyOptions
    """

    engine: str = "auto"
    time_limit: float | None = None
    threads: int | None = None
    gap: float = 1e-8
    method: str = "choose"
    presolve: bool = True
    workers: int = 2
    deadline: float | None = None
    verify: bool = True
    mpisppy: MpiSppyOptions = field(default_factory=MpiSppyOptions)

    def __post_init__(self) -> None:
        """Cap ``threads`` and ``workers`` at the cores of this machine (with a warning).

        More threads than cores only contend: ``--threads 1000`` on two cores took 113 s
        instead of 2 s.
        """
        cores = available_cores()
        for name in ("threads", "workers"):
            value = getattr(self, name)
            if value is not None and value > cores:
                log.warning("%s %d capped at the %d cores of this machine", name, value, cores)
                object.__setattr__(self, name, cores)

    def seconds_left(self) -> float | None:
        """Seconds of ``time_limit`` and the ``deadline`` left now (None: no limit)."""
        limits = [] if self.time_limit is None else [self.time_limit]
        if self.deadline is not None:
            limits.append(max(0.0, self.deadline - time.monotonic()))
        return min(limits) if limits else None

    def within(self, deadline: float | None) -> SolveConfig:
        """Return the same settings held to ``deadline`` (``time_limit``: the time left)."""
        if deadline is None:
            return self
        held = dataclasses.replace(self, deadline=deadline)
        return dataclasses.replace(held, time_limit=held.seconds_left())

    def with_engine(self, engine: str) -> SolveConfig:
        """Return the same settings with another engine."""
        return dataclasses.replace(self, engine=engine)


@dataclass
class EngineResult:
    """What an engine hands back.

    Attributes
    ----------
    status : SolutionStatus
        What came back.
    termination : Termination
        Why the engine stopped.
    message : str
        The engine's (or HiGHS's) own words for it.
    objective : float
        Objective of the plan returned (``nan`` without one); summed over sub-problems.
    base_stock, reserved : ndarray (n,), or (n, N) in wait-and-see mode
        :math:`S`, :math:`K` (empty without a plan).
    recourse : RecourseArrays or None
    build_seconds, solve_seconds : float
        Model building (and hand-over) and solver time, summed over sub-problems.
    size : tuple of int
        Rows, columns, non-zeros (the largest sub-problem).
    gap : float
        Relative gap of the plan (0 when proven optimal, ``nan`` without a plan).
    subproblems : int
    objective_bound : float
        A lower bound on the optimum when the engine has one (else ``nan``).
    iterations : int
    details : dict
        Engine-specific figures reported next to the plan (e.g. mpi-sppy's bounds).
    primary : bool
        Whether this process reports the answer (False on the non-root ranks of a
        distributed engine, which hold the same answer).
    block_levels : ndarray (n, k), optional
        One level per review block (``review_levels`` :math:`k > 1`); ``base_stock`` is
        then the single level the periods outside the blocks run at.
    """

    status: SolutionStatus
    termination: Termination
    message: str
    objective: float = math.nan
    base_stock: np.ndarray = field(default_factory=lambda: np.empty(0))
    reserved: np.ndarray = field(default_factory=lambda: np.empty(0))
    recourse: RecourseArrays | None = None
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    size: tuple[int, int, int] = (0, 0, 0)
    gap: float = math.nan
    subproblems: int = 1
    objective_bound: float = math.nan
    iterations: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    primary: bool = True
    block_levels: np.ndarray | None = None

    @property
    def outcome(self) -> SolveStatus:
        """The one-word label of (termination, status)."""
        return SolveStatus.of(self.termination, self.status)

    @property
    def has_plan(self) -> bool:
        """True when a solution came back (any status but ``NO_SOLUTION``)."""
        return self.status is not SolutionStatus.NO_SOLUTION

    def as_fields(self) -> dict[str, Any]:
        """Fields by name (no copies), to build a subclass from this result."""
        return {f.name: getattr(self, f.name) for f in fields(EngineResult)}


def first_stage(values: np.ndarray, request: SolveRequest) -> np.ndarray:
    """Shape plan columns (n, plans) as the result carries them: (n,) unless wait-and-see."""
    return values if request.anticipative else values[:, 0]


def combine(parts: list[EngineResult], request: SolveRequest) -> EngineResult:
    """One result from item sub-problems whose plans have shape (n_part, plans).

    The worst sub-problem gives the status; objectives, times and plans add up.
    """
    worst = max(parts, key=lambda p: SEVERITY.index(p.outcome))
    out = EngineResult(
        status=worst.status,
        termination=worst.termination,
        message=worst.message,
        objective=float(sum(p.objective for p in parts)),
        build_seconds=float(sum(p.build_seconds for p in parts)),
        solve_seconds=float(sum(p.solve_seconds for p in parts)),
        size=max((p.size for p in parts), key=lambda s: s[1]),
        gap=float(max(p.gap for p in parts)) if worst.has_plan else math.nan,
        subproblems=len(parts),
        iterations=int(sum(p.iterations for p in parts)),
    )
    if not worst.has_plan:
        return out

    def joined(arrays: list[np.ndarray]) -> np.ndarray:  # no copy of a single part
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)

    out.base_stock = first_stage(joined([p.base_stock for p in parts]), request)
    out.reserved = first_stage(joined([p.reserved for p in parts]), request)
    out.recourse = RecourseArrays(
        **{
            k: joined([getattr(p.recourse, k) for p in parts])
            for k in RecourseArrays.__dataclass_fields__
        }
    )
    return out


class EngineGaveUp(RuntimeError):
    """An engine that accepted a program could not finish it.

    The next engine that accepts the program is tried.
    """


@runtime_checkable
class Engine(Protocol):
    """A way to solve the stochastic program (or price a fixed plan)."""

    name: str

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """``None`` when the engine solves this program exactly, else why it declines.

        With ``auto`` the engine may also decline a program it could solve when another
        engine is known to do it better (``auto``'s choice).
        """
        ...

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Solve an accepted program. May raise :class:`EngineGaveUp`."""
        ...
