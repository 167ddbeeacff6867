r"""Scenario decomposition with mpi-sppy: progressive hedging with outer and inner bounds.

The engine's default method is the L-shaped one of
:mod:`optimizer.engines.mpisppy_lshaped` (``MpiSppyOptions.method``); this module holds
the progressive-hedging wheel (``method = "ph"``) and the engine class.

The two-stage program (README "The model") is split into one Pyomo model per scenario
(:mod:`models.mpisppy_scenarios`); mpi-sppy runs progressive hedging (PH) on them with
bound "cylinders" on separate MPI ranks:

* **outer (lower) bound** :math:`\underline z`: a Lagrangian spoke solves every
  scenario with the current PH weights :math:`W_w` and no proximal term,
  :math:`\underline z = \sum_w p_w \min_x [f_w(x) + W_w^T x]` (valid because
  :math:`\sum_w p_w W_w = 0`);
* **inner (upper) bound** :math:`\bar z`: the expected cost of a nonanticipative plan
  :math:`\hat x`, from an x-hat spoke (``XhatShuffleInnerBound`` tries the scenario
  solutions as candidates) or, with two cylinders, from the hub itself, which prices
  :math:`\bar x = \sum_w p_w x_w` every ``xhat_every`` iterations (:math:`\bar x` satisfies
  the first-stage rows, which are convex, and the recourse is complete, so it is
  always feasible).

The run stops when :math:`(\bar z - \underline z)/|\bar z| \le` ``rel_gap`` or at the
iteration/time limit.

Rank layouts (``mpiexec -n P``):

* :math:`P` a multiple of 3: hub (PH) + Lagrangian spoke + x-hat shuffle spoke — the
  standard mpi-sppy wheel; each cylinder gets :math:`P/3` ranks.
* :math:`P` even and not a multiple of 3 (e.g. 2 on a 2-core machine): hub (PH, pricing
  :math:`\bar x` for the inner bound) + Lagrangian spoke, :math:`P/2` ranks each. mpi-sppy's
  ``PHHub`` tests the gap only when an inner-bound *spoke* exists, so a small subclass
  (``GapPHHub``) tests it against the hub's own incumbent.
* :math:`P = 1`: PH alone with the :math:`\bar x` inner bound; the only outer bound is
  PH's iteration-0 wait-and-see bound, so the gap does not close (for debugging).
* other odd :math:`P` is refused.

Solver and convergence. PH's proximal term makes every scenario problem a QP. HiGHS's QP
solver (active set) was seen cycling for minutes on these degenerate problems, so the
default is ``appsi_highs`` with mpi-sppy's linearised proximal term (LP cuts); ``highs``
keeps the exact quadratic term. :math:`\rho` is cost-proportional (:func:`default_rho`)
and rescaled during the run by mpi-sppy's ``PrimalDualRho``. PH converges slowly on
these LPs: on a 3-item, 8-scenario budget instance the gap reaches 1e-3 in ~50
iterations (~25 s on 2 ranks) and 1e-4 in ~290 (~100 s); the extensive form takes well
under a second. Scenario decomposition pays only with many cores and scenarios too large
for one machine's memory.

What decomposes: risk-neutral and CVaR objectives (CVaR through a first-stage
:math:`\eta`, see :mod:`models.mpisppy_scenarios`), budget and storage rows. Minimum
fill rates do not (they are expectations over scenarios) and are refused.

The ``mpi-sppy`` engine (:class:`MpiSppyEngine`) runs the wheel on every rank, prices the
incumbent with the exact recourse LP and returns the same result everywhere; only rank 0's
is ``primary`` (the one that writes ``plan.csv`` and ``summary.json``)::

    mpiexec -n 2 stockplan solve INSTANCE --engine mpi-sppy --out DIR [--rel-gap 1e-4]

Requires the optional ``distributed`` dependencies: ``mpi-sppy``, ``mpi4py`` and an MPI
library (the ``mpich`` wheel puts ``mpiexec`` next to the interpreter).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
    hindsight_only,
)
from optimizer.engines.matrix import MatrixEngine
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.scenarios import generate_scenarios

log = logging.getLogger(__name__)

DEFAULT_MAX_ITERATIONS = 500
DEFAULT_RHO_SCALE = 0.3
DEFAULT_SOLVER = "appsi_highs"
DEFAULT_XHAT_EVERY = 5


@dataclass
class DistributedResult:
    r"""Outcome of :func:`solve_with_mpisppy` (identical on every rank).

    Attributes
    ----------
    base_stock, reserved : ndarray (n,)
        The incumbent plan :math:`\hat S`, :math:`\hat K` (zeros where not reserved);
        empty when no incumbent was found.
    eta : float or None
        The incumbent's value-at-risk level :math:`\eta` (CVaR instances only).
    inner_bound, outer_bound : float
        :math:`\bar z` (expected cost of the incumbent) and :math:`\underline z`.
    rel_gap : float
        :math:`(\bar z - \underline z)/\max(1, |\bar z|)`.
    converged : bool
        ``rel_gap`` reached the requested tolerance.
    iterations : int
        PH iterations done by the hub.
    seconds : float
        Wall time of the wheel (model building included).
    layout : str
        Cylinders used, e.g. ``"PH hub + lagrangian + xhatshuffle"``.
    ranks : int
        MPI ranks.
    """

    base_stock: np.ndarray
    reserved: np.ndarray
    eta: float | None
    inner_bound: float
    outer_bound: float
    rel_gap: float
    converged: bool
    iterations: int
    seconds: float
    layout: str
    ranks: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def has_plan(self) -> bool:
        """True when an incumbent plan came back with a finite inner bound."""
        return self.base_stock.size > 0 and math.isfinite(self.inner_bound)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (plan arrays left out)."""
        out = asdict(self)
        out.pop("base_stock")
        out.pop("reserved")
        return out


def _require_mpisppy() -> None:
    """Import mpi-sppy's cylinder modules, or explain how to install them.

    Some of those modules open log files (``hub.log``, ``xhatclp.log``, ``xhateval.log``)
    in the working directory when imported, on every rank; they are imported here from a
    scratch directory so that runs leave nothing behind but their outputs.
    """
    try:
        import mpi4py  # noqa: F401
        import mpisppy  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the distributed engine needs mpi-sppy and mpi4py with an MPI library: "
            "pip install 'stockplan[distributed]' (mpi-sppy, mpi4py, mpich)"
        ) from exc
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="stockplan-mpisppy-") as scratch:
        os.chdir(scratch)
        try:
            import mpisppy.cylinders.hub  # noqa: F401
            import mpisppy.cylinders.lagrangian_bounder  # noqa: F401
            import mpisppy.cylinders.xhatshufflelooper_bounder  # noqa: F401
            import mpisppy.utils.xhat_eval  # noqa: F401
        finally:
            os.chdir(here)


def as_program_data(
    instance_or_data: Instance | ProgramData,
    *,
    scenarios: int | None = None,
    seed: int | None = None,
) -> ProgramData:
    """Build the :class:`ProgramData` of an instance (scenarios sampled as ``solve`` does)."""
    if isinstance(instance_or_data, ProgramData):
        return instance_or_data
    scen = generate_scenarios(instance_or_data, scenarios, seed=seed)
    return program_data(instance_or_data, scen)


def default_rho(data: ProgramData, scale: float = DEFAULT_RHO_SCALE) -> dict[str, np.ndarray]:
    r"""Cost-proportional PH penalties :math:`\rho` per nonanticipative variable.

    Watson & Woodruff's rule :math:`\rho_j = c_j / \max(1, \text{spread}_j)` with the
    marginal cost of a unit of base stock over the horizon, :math:`c_i = T (h_i + p_i)/2`,
    and the natural spread of :math:`S_i`, :math:`\sigma_i^{(L+1)} \approx` the standard
    deviation of lead-time demand estimated from the scenarios. For :math:`K_i` the fee
    over the horizon :math:`T f_i` (at least 1% of :math:`T p_i`) over the spread of
    demand; for :math:`\eta` the CVaR weight :math:`\lambda/(1-\alpha)` over the spread
    of a scenario's cost scale.

    Returns
    -------
    dict
        ``"S"`` (n,), ``"K"`` (n,), ``"eta"`` (1,) — each multiplied by ``scale``.
    """
    T = data.periods
    d = data.demand[:, :, data.warmup :]
    period_std = d.std(axis=(1, 2))
    spread = np.maximum(1.0, period_std * np.sqrt(data.lead + 1.0))
    marginal = T * (data.holding + data.penalty) / 2.0
    rho_S = np.maximum(marginal / spread, 1e-6)
    fee = np.nan_to_num(data.fee, nan=0.0)
    rho_K = np.maximum(T * np.maximum(fee, 0.01 * data.penalty) / spread, 1e-6)
    lam = data.cvar_weight
    cost_scale = max(1.0, float(T * (data.holding * data.mean).sum()))
    rho_eta = np.array([max(1e-6, lam / (1.0 - data.cvar_alpha) / cost_scale)])
    return {"S": scale * rho_S, "K": scale * rho_K, "eta": scale * rho_eta}


def _rho_setter_for(rho: dict[str, np.ndarray]):
    r"""mpi-sppy ``rho_setter``: list of (``id`` of var data, :math:`\rho`) for one model."""

    def rho_setter(model, **_: Any) -> list[tuple[int, float]]:
        pairs = [(id(model.S[i]), float(rho["S"][i])) for i in model.S]
        pairs += [(id(model.K[i]), float(rho["K"][i])) for i in model.K]
        if hasattr(model, "eta"):
            pairs.append((id(model.eta), float(rho["eta"][0])))
        return pairs

    return rho_setter


def _xbar_incumbent_class(every: int):
    r"""Make a PH extension that prices :math:`\bar x` as an incumbent every ``every`` iterations.

    It fixes every local scenario's nonanticipative variables at :math:`\bar x`, turns the
    PH terms off, solves, and offers :math:`\sum_w p_w f_w(\bar x)` to the hub's best
    solution (``update_best_solution_if_improving``), then restores PH's state.
    """
    from mpisppy.extensions.extension import Extension

    class XbarIncumbent(Extension):
        def _price_xbar(self) -> None:
            opt = self.opt
            w_off, prox_off = opt.W_disabled, opt.prox_disabled
            # solve_loop overwrites each scenario's recorded bounds, which PH reads for
            # its iteration-0 (wait-and-see) bound: keep them
            kept = {
                k: (s._mpisppy_data.outer_bound, s._mpisppy_data.inner_bound)
                for k, s in opt.local_scenarios.items()
                if hasattr(s._mpisppy_data, "outer_bound")
            }
            opt._save_nonants()
            opt.Compute_Xbar()
            for s in opt.local_scenarios.values():
                for node in s._mpisppy_node_list:
                    for k, var in enumerate(node.nonant_vardata_list):
                        var._value = s._mpisppy_model.xbars[(node.name, k)]._value
                        var.fix()
            opt.disable_W_and_prox()
            try:
                opt.solve_loop(solver_options=opt.current_solver_options, need_solution=False)
                if opt.no_incumbent_prob() == 0.0:
                    obj = opt.Eobjective()
                    opt.update_best_solution_if_improving(obj)
            finally:
                if not w_off:
                    opt._reenable_W()
                if not prox_off:
                    opt._reenable_prox()
                opt._restore_nonants()
                for k, (outer, inner) in kept.items():
                    data = opt.local_scenarios[k]._mpisppy_data
                    data.outer_bound, data.inner_bound = outer, inner

        def post_iter0(self) -> None:
            self._price_xbar()

        def enditer(self) -> None:
            if opt_iter(self.opt) % every == 0:
                self._price_xbar()

    return XbarIncumbent


def opt_iter(opt: Any) -> int:
    """Return the current PH iteration of an mpi-sppy PH object (0 before the loop)."""
    return int(getattr(opt, "_PHIter", 0) or 0)


def _gap_hub_class():
    """``PHHub`` that also stops on the gap when the inner bound comes from the hub itself.

    mpi-sppy's ``PHHub.is_converged`` only tests the gap when an inner-bound *spoke*
    exists; with two cylinders the hub's own incumbent (``opt.best_solution_obj_val``) is
    the inner bound, so the gap test is done here.
    """
    from mpisppy.cylinders.hub import PHHub
    from mpisppy.cylinders.spwindow import Field

    class GapPHHub(PHHub):
        def is_converged(self, screen_trace: bool = True) -> bool:
            if self.receive_field_spcomms[Field.OBJECTIVE_INNER_BOUND]:
                return super().is_converged(screen_trace)
            if self.opt.best_bound_obj_val is not None:
                self.BestOuterBound = self.OuterBoundUpdate(self.opt.best_bound_obj_val)
            if self.opt.best_solution_obj_val is not None:
                self.BestInnerBound = self.InnerBoundUpdate(self.opt.best_solution_obj_val)
            if self.global_rank == 0 and screen_trace:
                self.screen_trace()
            return self.determine_termination(screen_trace)

    return GapPHHub


def _config(
    data: ProgramData,
    *,
    rel_gap: float,
    max_iterations: int,
    solver_name: str,
    time_limit: float | None,
    linearize_prox: bool,
    solver_options: dict[str, Any] | None = None,
    prox_tolerance: float = 1e-1,
):
    from mpisppy.utils import config

    cfg = config.Config()
    cfg.num_scens_required()
    cfg.popular_args()
    cfg.two_sided_args()
    cfg.ph_args()
    cfg.lagrangian_args()
    cfg.xhatshuffle_args()
    cfg.num_scens = data.n_scenarios
    cfg.solver_name = solver_name
    cfg.default_rho = 1.0
    cfg.max_iterations = int(max_iterations)
    cfg.rel_gap = float(rel_gap)
    cfg.abs_gap = 0.0
    cfg.linearize_proximal_terms = bool(linearize_prox)
    cfg.proximal_linearization_tolerance = float(prox_tolerance)
    if solver_options:
        if "solver_options" not in cfg:
            cfg.add_to_config("solver_options", "scenario solver options (k=v ...)", str, None)
        cfg.solver_options = " ".join(f"{k}={v}" for k, v in solver_options.items())
    if time_limit is not None:
        cfg.time_limit = int(math.ceil(time_limit))
    return cfg


def _layout(size: int) -> tuple[int, str]:
    """Choose the number of cylinders and their description for ``size`` ranks."""
    if size % 3 == 0:
        return 3, "PH hub + lagrangian spoke + xhatshuffle spoke"
    if size % 2 == 0:
        return 2, "PH hub (xbar incumbent) + lagrangian spoke"
    if size == 1:
        return 1, "PH hub alone (xbar incumbent, wait-and-see outer bound)"
    raise ValueError(f"{size} MPI ranks: use 1, an even number, or a multiple of 3")


def solve_with_mpisppy(
    instance_or_data: Instance | ProgramData,
    *,
    rel_gap: float = 1e-4,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    rho: dict[str, np.ndarray] | float | None = None,
    solver_name: str = DEFAULT_SOLVER,
    time_limit: float | None = None,
    xhat_every: int = DEFAULT_XHAT_EVERY,
    adaptive_rho: bool = True,
    solver_options: dict[str, Any] | None = None,
    prox_tolerance: float = 1e-1,
    scenarios: int | None = None,
    seed: int | None = None,
    comm: Any = None,
) -> DistributedResult:
    r"""Solve the stochastic program by progressive hedging with bound cylinders.

    Must be called on every rank of ``comm`` (collective); every rank gets the same
    result.

    Parameters
    ----------
    instance_or_data : Instance or ProgramData
        An instance (scenarios sampled from it on every rank, reproducibly) or its data.
    rel_gap : float
        Stop when :math:`(\bar z - \underline z)/|\bar z|` is at most this.
    max_iterations : int
        PH iteration limit.
    rho : dict, float or None
        PH penalties: ``None`` for :func:`default_rho`, a float to scale it, or a dict
        like :func:`default_rho`'s.
    solver_name : str
        Pyomo solver for the scenario problems; ``"highs"`` (Pyomo's HiGHS interface)
        accepts PH's quadratic proximal term; ``"appsi_highs"`` accepts only linear
        objectives, so the proximal term is then linearised.
    time_limit : float, optional
        Hub wall-clock limit in seconds.
    xhat_every : int
        With two cylinders (or one), price :math:`\bar x` every this many iterations.
    scenarios, seed : int, optional
        Override the instance's scenario count and seed.
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.

    Returns
    -------
    DistributedResult

    Raises
    ------
    ValueError
        When the instance has a minimum fill rate (not decomposable by scenario), or the
        rank count cannot be laid out.
    """
    _require_mpisppy()
    import mpisppy.utils.cfg_vanilla as vanilla
    from mpi4py import MPI
    from mpisppy.spin_the_wheel import WheelSpinner

    from models.mpisppy_scenarios import (
        check_decomposable,
        kw_creator,
        scenario_creator,
        scenario_denouement,
        scenario_names_creator,
    )

    comm = MPI.COMM_WORLD if comm is None else comm
    data = as_program_data(instance_or_data, scenarios=scenarios, seed=seed)
    check_decomposable(data)
    n_cyl, layout = _layout(comm.Get_size())
    if rho is None or isinstance(rho, int | float):
        rho = default_rho(data, DEFAULT_RHO_SCALE if rho is None else float(rho))
    linearize = solver_name.startswith("appsi")
    cfg = _config(
        data,
        rel_gap=rel_gap,
        max_iterations=max_iterations,
        solver_name=solver_name,
        time_limit=time_limit,
        linearize_prox=linearize,
        solver_options=solver_options,
        prox_tolerance=prox_tolerance,
    )
    names = scenario_names_creator(data.n_scenarios)
    kwargs = kw_creator(data=data)
    beans = (cfg, scenario_creator, scenario_denouement, names)
    rho_setter = _rho_setter_for(rho)

    ext_classes = [] if n_cyl == 3 else [_xbar_incumbent_class(max(1, int(xhat_every)))]
    if adaptive_rho:
        from mpisppy.extensions.primal_dual_rho import PrimalDualRho

        ext_classes.append(PrimalDualRho)
    extensions, ext_kwargs = None, None
    if len(ext_classes) == 1:
        extensions = ext_classes[0]
    elif ext_classes:
        from mpisppy.extensions.extension import MultiExtension

        extensions, ext_kwargs = MultiExtension, {"ext_classes": ext_classes}
    hub = vanilla.ph_hub(
        *beans,
        scenario_creator_kwargs=kwargs,
        rho_setter=rho_setter,
        ph_extensions=extensions,
        extension_kwargs=ext_kwargs,
    )
    if n_cyl != 3:
        hub["hub_class"] = _gap_hub_class()
    spokes = []
    if n_cyl >= 2:
        spokes.append(
            vanilla.lagrangian_spoke(*beans, scenario_creator_kwargs=kwargs, rho_setter=rho_setter)
        )
    if n_cyl == 3:
        spokes.append(vanilla.xhatshuffle_spoke(*beans, scenario_creator_kwargs=kwargs))

    start = time.perf_counter()
    wheel = WheelSpinner(hub, spokes)
    wheel.spin(comm_world=comm)
    seconds = time.perf_counter() - start

    spcomm = wheel.spcomm
    if wheel.global_rank == 0:
        winner = spcomm.last_ib_idx
        if winner is None and spcomm.opt.best_solution_obj_val is not None:
            winner = 0
        head = (
            winner,
            float(wheel.BestInnerBound),
            float(wheel.BestOuterBound),
            opt_iter(spcomm.opt),
        )
    else:
        head = None
    winner, inner, outer, iterations = comm.bcast(head, root=0)

    plan = None
    if winner is not None and wheel.strata_rank == winner and spcomm.opt.cylinder_rank == 0:
        plan = _incumbent_nonants(spcomm.opt, data)
    plans = comm.allgather(plan)
    plan = next((p for p in plans if p is not None), None)
    if plan is None:
        S, K, eta = np.empty(0), np.empty(0), None
    else:
        S, K, eta = plan
    gap = (inner - outer) / max(1.0, abs(inner)) if math.isfinite(inner) else math.inf
    result = DistributedResult(
        base_stock=S,
        reserved=K,
        eta=eta,
        inner_bound=inner,
        outer_bound=outer,
        rel_gap=float(gap),
        converged=bool(gap <= rel_gap),
        iterations=int(iterations),
        seconds=seconds,
        layout=layout,
        ranks=comm.Get_size(),
        settings={
            "rel_gap": rel_gap,
            "max_iterations": max_iterations,
            "solver_name": solver_name,
            "linearized_prox": linearize,
            "xhat_every": xhat_every,
            "time_limit": time_limit,
        },
    )
    if comm.Get_rank() == 0:
        log.info(
            "mpi-sppy (%s, %d ranks): inner %.8g, outer %.8g, gap %.3g after %d iterations, %.1fs",
            layout,
            result.ranks,
            inner,
            outer,
            gap,
            iterations,
            seconds,
        )
    return result


def _incumbent_nonants(
    opt: Any, data: ProgramData
) -> tuple[np.ndarray, np.ndarray, float | None] | None:
    """Best cached nonanticipative values of an mpi-sppy object, as (S, K, eta)."""
    if not opt.load_best_solution():
        return None
    model = opt.local_scenarios[opt.local_scenario_names[0]]
    S = np.array([float(model.S[i].value) for i in range(data.n_items)])
    K = np.zeros(data.n_items)
    for i in model.K:
        K[i] = float(model.K[i].value)
    eta = float(model.eta.value) if hasattr(model, "eta") else None
    return S, K, eta


class MpiSppyEngine:
    """Progressive hedging with bound cylinders under MPI (see the module docstring)."""

    name = "mpi-sppy"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Decline wait-and-see, fixed plans, undecomposable programs, or no mpi-sppy."""
        if reason := hindsight_only(request):
            return reason
        if request.anticipative:
            return "it solves the here-and-now program, not the wait-and-see relaxation"
        if request.fixed_plan:
            return "it does not price a fixed plan (its recourse separates; use 'auto')"
        from models.mpisppy_scenarios import check_decomposable  # Pyomo: start-up

        try:
            check_decomposable(data)
        except ValueError as exc:
            return str(exc)
        if any(importlib.util.find_spec(m) is None for m in ("mpisppy", "mpi4py")):
            return (
                "it needs the distributed extra: pip install -e '.[distributed]' "
                "(mpi-sppy, mpi4py, mpich)"
            )
        return None

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Run the wheel on every rank (collective), then price the incumbent."""
        from mpi4py import MPI

        o = config.mpisppy
        comm = MPI.COMM_WORLD
        if o.method == "lshaped":
            from optimizer.engines.mpisppy_lshaped import lshaped_result

            return lshaped_result(data, config, comm)
        ph = solve_with_mpisppy(
            data,
            rel_gap=o.rel_gap,
            max_iterations=o.max_iterations,
            rho=o.rho_scale,
            solver_name=o.solver,
            time_limit=config.time_limit,
            xhat_every=o.xhat_every,
            adaptive_rho=o.adaptive_rho,
            solver_options=dict(o.solver_options) or None,
            prox_tolerance=o.prox_tolerance,
            comm=comm,
        )
        details = {
            "inner_bound": ph.inner_bound,
            "outer_bound": ph.outer_bound,
            "rel_gap": ph.rel_gap,
            "converged": ph.converged,
            "iterations": ph.iterations,
            "layout": ph.layout,
            "ranks": ph.ranks,
            "settings": ph.settings,
        }
        primary = comm.Get_rank() == 0
        if ph.converged:
            termination = Termination.CONVERGED
        elif ph.iterations >= o.max_iterations:
            termination = Termination.ITERATION_LIMIT
        else:
            termination = Termination.TIME_LIMIT if config.time_limit else Termination.OTHER_LIMIT
        if not ph.has_plan:
            return EngineResult(
                SolutionStatus.NO_SOLUTION,
                termination,
                "no incumbent plan from progressive hedging",
                solve_seconds=ph.seconds,
                iterations=ph.iterations,
                objective_bound=ph.outer_bound,
                details=details,
                primary=primary,
            )
        # the incumbent's exact cost: its recourse LP (plan fixed)
        priced = MatrixEngine().solve(
            data,
            SolveRequest.fixed(ph.base_stock, ph.reserved),
            config.with_engine(MatrixEngine.name),
        )
        if not priced.has_plan:
            priced.message = f"pricing the incumbent: {priced.message}"
            priced.details, priced.primary = details, primary
            return priced
        details["pricing_vs_inner_bound"] = priced.objective - ph.inner_bound
        return EngineResult(
            status=SolutionStatus.OPTIMAL if ph.converged else SolutionStatus.FEASIBLE,
            termination=termination,
            message=(
                f"{'Converged' if ph.converged else 'Stopped'} (progressive hedging, "
                f"relative gap {ph.rel_gap:.3g} after {ph.iterations} iterations)"
            ),
            objective=priced.objective,
            base_stock=ph.base_stock,
            reserved=ph.reserved,
            recourse=priced.recourse,
            build_seconds=priced.build_seconds,
            solve_seconds=ph.seconds + priced.solve_seconds,
            size=priced.size,
            gap=ph.rel_gap,
            subproblems=data.n_scenarios,
            objective_bound=ph.outer_bound,
            iterations=ph.iterations,
            details=details,
            primary=primary,
        )
