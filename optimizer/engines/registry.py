"""The engines by name, in the order ``auto`` tries them, and the loop that runs them.

``auto`` takes the first engine that accepts the program (:meth:`Engine.accepts` with
``auto=True``) and logs at INFO why each earlier one declined. The order is the speed
order: ``quantile`` (closed form), ``flow`` (exact min-cost-flow curves), ``decomposed``
(item LPs), ``price`` (one priced plan row, above
:data:`~optimizer.engines.price.PRICE_MIN_CELLS` cells), ``matrix`` (every program).
``ef`` (the Pyomo reference) and ``mpi-sppy`` (progressive hedging under MPI) run only
when asked for by name.

An engine asked for by name must accept the program, else
:class:`~optimizer.errors.EngineDeclinedError` carries its reason. An engine that gives up
(:class:`~optimizer.engines.base.EngineGaveUp`, e.g. the flow solver's ``FlowFailure``)
hands over to the next engine in ``auto``'s order that accepts the program.

Adding an engine: a module with a class following :class:`~optimizer.engines.base.Engine`
and one :func:`register` line below.
"""

from __future__ import annotations

import logging

from optimizer.engines.base import Engine, EngineGaveUp, EngineResult, SolveConfig, SolveRequest
from optimizer.engines.causal import CausalEngine, CausalMILPEngine
from optimizer.engines.causal_cvar import CausalCVaREngine
from optimizer.engines.decomposed import DecomposedEngine
from optimizer.engines.ef import PyomoEFEngine
from optimizer.engines.flow import FlowEngine
from optimizer.engines.matrix import MatrixEngine
from optimizer.engines.mpisppy import MpiSppyEngine
from optimizer.engines.price import PriceEngine
from optimizer.engines.quantile import QuantileEngine
from optimizer.errors import EngineDeclinedError, UnknownEngineError
from optimizer.program.data import ProgramData

log = logging.getLogger(__name__)
AUTO = "auto"

_ENGINES: dict[str, Engine] = {}
_AUTO_ORDER: list[str] = []


def register(engine: Engine, *, auto: bool = True, before: str | None = None) -> Engine:
    """Add ``engine`` under ``engine.name``; with ``auto`` also to ``auto``'s order.

    It goes at the end of that order, or just before the engine named ``before``.
    """
    if not isinstance(engine, Engine):
        raise TypeError(f"{engine!r} does not follow the Engine protocol")
    if engine.name in _ENGINES or engine.name == AUTO:
        raise ValueError(f"an engine named {engine.name!r} is already registered")
    _ENGINES[engine.name] = engine
    if auto:
        at = _AUTO_ORDER.index(before) if before is not None else len(_AUTO_ORDER)
        _AUTO_ORDER.insert(at, engine.name)
    return engine


def unregister(name: str) -> None:
    """Remove the engine ``name`` (tests that register one clean up with this)."""
    _ENGINES.pop(name)
    if name in _AUTO_ORDER:
        _AUTO_ORDER.remove(name)


def engine_names() -> tuple[str, ...]:
    """``"auto"`` and every registered engine, in registration order."""
    return (AUTO, *_ENGINES)


def auto_order() -> tuple[str, ...]:
    """Return the engines ``auto`` tries, first to last."""
    return tuple(_AUTO_ORDER)


def get_engine(name: str) -> Engine:
    """Return the engine registered as ``name``."""
    try:
        return _ENGINES[name]
    except KeyError:
        raise UnknownEngineError(
            f"unknown engine {name!r}; choose one of {', '.join(engine_names())}"
        ) from None


def auto_choice(data: ProgramData, request: SolveRequest) -> str | None:
    """Name of the engine ``auto`` would run on ``request`` (None: no engine accepts)."""
    for name in _AUTO_ORDER:
        if _ENGINES[name].accepts(data, request, auto=True) is None:
            return name
    return None


def run_engines(
    data: ProgramData, request: SolveRequest, config: SolveConfig
) -> tuple[str, EngineResult, dict[str, str]]:
    """Solve with ``config.engine`` (or ``auto``'s choice); see the module docstring.

    Returns
    -------
    name : str
        The engine whose result this is.
    result : EngineResult
    declined : dict of str to str
        Engines passed over, with their reasons (and those that gave up).

    Raises
    ------
    EngineDeclinedError
        An engine asked for by name does not accept the program.
    UnknownEngineError
    """
    declined: dict[str, str] = {}
    queue = [get_engine(n) for n in _AUTO_ORDER]
    if config.engine != AUTO:
        chosen = get_engine(config.engine)
        reason = chosen.accepts(data, request)
        if reason is not None:
            raise EngineDeclinedError(chosen.name, reason)
        log.info("engine %s (asked for by name)", chosen.name)
        try:
            return chosen.name, chosen.solve(data, request, config), declined
        except EngineGaveUp as err:
            log.warning("%s engine gave up (%s); trying the next engine", chosen.name, err)
            declined[chosen.name] = f"gave up: {err}"
    for engine in queue:
        if engine.name in declined:
            continue
        reason = engine.accepts(data, request, auto=True)
        if reason is not None:
            log.info("auto: %s declines: %s", engine.name, reason)
            declined[engine.name] = reason
            continue
        log.info("auto: engine %s", engine.name)
        try:
            return engine.name, engine.solve(data, request, config), declined
        except EngineGaveUp as err:
            log.warning("%s engine gave up (%s); trying the next engine", engine.name, err)
            declined[engine.name] = f"gave up: {err}"
    raise EngineDeclinedError(AUTO, "no registered engine accepts this program")


# auto's order: first that accepts wins (the causal engines decline hindsight requests
# and the others causal ones, so each recourse has its own order)
register(CausalEngine())
register(CausalCVaREngine())
register(CausalMILPEngine())
register(QuantileEngine())
register(FlowEngine())
register(DecomposedEngine())
register(PriceEngine())
register(MatrixEngine())
# by name only
register(PyomoEFEngine(), auto=False)
register(MpiSppyEngine(), auto=False)
