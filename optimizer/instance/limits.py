"""Limits on the size of the program: the simulated horizon and its item-scenario-period cells.

The ranges of single numbers live in :mod:`optimizer.instance.schema`; the checks here
combine them: the horizon :math:`H = W + T` (warm-up plus costed periods, where the default
warm-up follows from every item's lead time and its supplier's recovery probability, see
:attr:`Instance.warmup <optimizer.instance.types.Instance.warmup>`) must stay within
:data:`~optimizer.instance.schema.MAX_HORIZON`, and the :math:`n N H` cells the scenarios
and the recourse are built on within :data:`~optimizer.instance.schema.MAX_CELLS`.  Above
the warning thresholds an instance is accepted with a logged warning that says what it
costs.  The same checks run in :func:`~optimizer.instance.loader.load_instance` (so
``validate`` and ``solve`` agree) and, through :func:`check_instance_size`, on an instance
whose scenario count a command-line option changed.  The limits are the README's
"Instance files" section.

The work of a command is bounded here too, before anything is built: the fresh scenarios
an evaluation plays at once (:func:`check_evaluation`: ``solve``'s first batch,
``evaluate`` and ``compare``), the time of a solve against its ``--time-limit``
(:func:`check_solve_work`, with :mod:`~optimizer.instance.work_estimate`), and on a
cluster each worker's and the client's share instead of the whole program against this
machine (:func:`check_cluster_share`).
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np

from optimizer.errors import InputProblem, InvalidInstanceError, quoted
from optimizer.instance.catalogue import ItemDraft, SupplierDraft
from optimizer.instance.layout import ITEMS_FILE, SUPPLIERS_FILE
from optimizer.instance.problems import Problems, fmt
from optimizer.instance.scenario_files import Horizon
from optimizer.instance.schema import (
    BYTES_PER_CELL,
    MAX_CELLS,
    MAX_HORIZON,
    MAX_SCENARIOS,
    WARN_CELLS,
    WARN_HORIZON,
)
from optimizer.instance.settings import UNKNOWN, Settings
from optimizer.instance.types import Instance, outage_allowance
from optimizer.instance.work_estimate import (
    WorkEstimate,
    estimate,
    features,
    instance_features,
    machine_cores,
    run_cores,
    seconds_words,
)

logger = logging.getLogger(__name__)

SCENARIOS_KEY = "plan.scenarios"


def item_warmups(
    items: ItemDraft | None, suppliers: SupplierDraft | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Default warm-up of every item, as floats, split into its two parts.

    Returns
    -------
    (2 L_i + 3, k_s(i)) : two arrays, or None when lead times or suppliers are unknown.
        ``k`` is the supplier's outage allowance (``inf`` for a supplier that never
        recovers); the sum is :meth:`Instance.item_warmup
        <optimizer.instance.types.Instance.item_warmup>` before it is made an integer.
    """
    if items is None or suppliers is None or len(items.ids) == 0:
        return None
    lead, codes = items["lead_time"], items.supplier
    chains = np.concatenate([suppliers.disruption_prob, suppliers.recovery_prob])
    if not (np.isfinite(lead).all() and (codes >= 0).all() and np.isfinite(chains).all()):
        return None
    alpha, beta = suppliers.disruption_prob[codes], suppliers.recovery_prob[codes]
    return 2.0 * lead + 3.0, np.asarray(outage_allowance(alpha, beta), dtype=float)


def check_horizon(
    settings: Settings,
    items: ItemDraft | None,
    suppliers: SupplierDraft | None,
    problems: Problems,
) -> tuple[Horizon | None, str]:
    """Find the horizon and check it against :data:`MAX_HORIZON`.

    Returns
    -------
    horizon : Horizon or None
        None when the settings, lead times or suppliers are unknown, or the horizon is
        refused (a problem is then recorded).
    why : str
        Where the horizon's length comes from, for the warning of :func:`check_cells`.
    """
    periods, warmup = settings.value("periods"), settings.value("warmup")
    if periods is UNKNOWN or warmup is UNKNOWN:
        return None, ""
    if warmup is not None:
        total = int(warmup) + int(periods)
        if total > MAX_HORIZON:
            problems.add(
                settings.file,
                f"warmup + periods = {warmup} + {periods} = {total} simulated periods, more "
                f"than the {MAX_HORIZON} the model can carry: shorten the warm-up or the "
                "costed horizon",
                column="plan.warmup",
            )
            return None, ""
        return Horizon(warmup=int(warmup), periods=int(periods)), f"[plan] warmup = {warmup}"
    parts = item_warmups(items, suppliers)
    if parts is None:
        return None, ""
    assert items is not None and suppliers is not None
    base, allowance = parts
    own = base + allowance
    if not np.isfinite(own).all():
        return None, ""  # a supplier that never recovers: refused in suppliers.csv
    worst = int(np.argmax(own))
    total = own[worst] + periods
    if total > MAX_HORIZON:
        _refuse_default_warmup(settings, items, suppliers, problems, worst, base, allowance)
        return None, ""
    horizon = Horizon(warmup=int(own[worst]), periods=int(periods))
    why = f"the default warm-up of item {quoted(items.ids[worst])}"
    if allowance[worst] >= base[worst]:
        code = int(items.supplier[worst])
        why += (
            f", long because supplier {quoted(suppliers.ids[code])} recovers with probability "
            f"{fmt(suppliers.recovery_prob[code])} a period; set [plan] warmup to shorten it"
        )
    return horizon, why


def _refuse_default_warmup(
    settings: Settings,
    items: ItemDraft,
    suppliers: SupplierDraft,
    problems: Problems,
    worst: int,
    base: np.ndarray,
    allowance: np.ndarray,
) -> None:
    """Name the lead time or the supplier's recovery that makes the default warm-up too long."""
    periods = int(settings.value("periods"))
    room = MAX_HORIZON - periods
    name = str(items.ids[worst])
    if allowance[worst] > base[worst]:
        code = int(items.supplier[worst])
        beta = float(suppliers.recovery_prob[code])
        # smallest recovery probability whose allowance fits beside 2L + 3 and the periods
        spare = room - base[worst]
        need = -np.expm1(np.log(0.01) / spare) if spare >= 1 else 1.0
        digits = 2 - int(np.floor(np.log10(need)))  # three significant digits, rounded up
        need = min(1.0, float(np.ceil(need * 10**digits) / 10**digits))
        problems.add(
            SUPPLIERS_FILE,
            f"recovery_prob = {fmt(beta)} makes the default warm-up of item {quoted(name)} "
            f"{base[worst] + allowance[worst]:.4g} periods (2 × lead_time + 3 plus "
            f"{allowance[worst]:.4g} periods for a down spell to end with 99% probability): "
            f"with {periods} costed periods that is more than the {MAX_HORIZON} simulated "
            f"periods the model can carry; raise recovery_prob to at least {need:.3g} or set "
            "[plan] warmup",
            row=int(suppliers.lines[code]) if suppliers.lines is not None else code + 2,
            item=str(suppliers.ids[code]),
            column="recovery_prob",
        )
        return
    problems.add(
        ITEMS_FILE,
        f"lead_time = {int((base[worst] - 3) / 2)} makes the default warm-up "
        f"{base[worst] + allowance[worst]:.4g} periods (2 × lead_time + 3 plus the supplier's "
        f"outage allowance): with {periods} costed periods that is more than the "
        f"{MAX_HORIZON} simulated periods the model can carry; shorten the lead time or set "
        "[plan] warmup",
        row=int(items.lines[worst]) if items.lines is not None else worst + 2,
        item=name,
        column="lead_time",
    )


def machine_memory() -> float:
    """Physical memory of this machine in bytes (0 where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 0.0


def cost_estimate(
    n_items: int,
    scenarios: int,
    horizon: int,
    found: tuple[str, ...] = (),
    cores: int | None = None,
) -> str:
    """Memory and time of ``solve`` for :math:`n N H` cells, in words.

    :func:`~optimizer.instance.work_estimate.estimate` for the program's features
    ``found`` on ``cores`` cores (default: every core of this machine).
    """
    cores = machine_cores() if cores is None else cores
    return estimate(n_items, scenarios, horizon, found=found, cores=cores).words()


def size_problem(
    n_items: int,
    scenarios: int,
    horizon: Horizon,
    *,
    file: str,
    what: str,
    why: str = "",
    found: tuple[str, ...] = (),
    one_machine: bool = True,
) -> InputProblem | None:
    """Refuse :math:`n N H` above :data:`MAX_CELLS` or this machine's memory; else maybe warn.

    A warning is logged above :data:`WARN_CELLS` cells or for long horizons.

    Parameters
    ----------
    what : str
        Where the scenario count comes from (``"[plan] scenarios"``, ``"--scenarios"``).
    why : str
        Where the warm-up comes from (said when the horizon is above :data:`WARN_HORIZON`).
    found : tuple of str
        The program's features (:func:`~optimizer.instance.work_estimate.features`): the
        warning's time is that of the program's kind.
    one_machine : bool
        False for a cluster run (``solve --cluster``): the scenarios live on the workers,
        and :func:`cluster_problem` checks each worker's share once the workers are known;
        nothing is checked or said here then.
    """
    if not one_machine:
        return None
    cells = float(n_items) * float(scenarios) * float(horizon.total)
    product = (
        f"{n_items} items × {scenarios} scenarios ({what}) × {horizon.total} simulated "
        f"periods (warm-up {horizon.warmup} + {horizon.periods} costed) = {cells:.3g} "
        "item-scenario-period cells"
    )
    words = cost_estimate(n_items, scenarios, horizon.total, found)
    if cells > MAX_CELLS:
        return InputProblem(
            file=file,
            rule=f"{product}, more than the {MAX_CELLS:.3g} the model can carry on one "
            f"machine ({words}): use fewer scenarios or items, or a shorter horizon, or "
            "spread the items over a cluster ('stockplan solve --cluster')",
            column=SCENARIOS_KEY,
        )
    memory = machine_memory()
    if memory and cells * BYTES_PER_CELL > memory:
        fits = int(memory / BYTES_PER_CELL / max(1.0, float(n_items) * float(horizon.total)))
        return InputProblem(
            file=file,
            rule=f"{product}: {words}, more than the {memory / 1e9:.3g} GB "
            f"of memory this machine has: use at most {fits:,} scenarios, fewer items or a "
            "shorter horizon, or spread the items over a cluster ('stockplan solve --cluster')",
            column=SCENARIOS_KEY,
        )
    if cells > WARN_CELLS or horizon.total > WARN_HORIZON:
        long = (
            f"; the horizon is longer than {WARN_HORIZON} periods ({why or 'the warm-up'})"
            if horizon.total > WARN_HORIZON
            else ""
        )
        logger.warning("%s: expect %s%s", product, words, long)
    return None


def settings_features(settings: Settings, items: ItemDraft | None) -> tuple[str, ...]:
    """Give the features of the program being loaded (what its time estimate depends on)."""
    plan = settings.plan
    targets = None if items is None else items.values.get("min_fill_rate")
    return features(
        shortage=plan.shortage,
        plan_row=plan.inventory_budget is not None or plan.storage_capacity is not None,
        fill_rate=targets is not None and bool((np.nan_to_num(targets) > 0).any()),
        cvar_weight=float(settings.risk.cvar_weight),
    )


def check_cells(
    settings: Settings,
    n_items: int | None,
    horizon: Horizon | None,
    n_explicit: int | None,
    problems: Problems,
    why: str = "",
    items: ItemDraft | None = None,
    one_machine: bool = True,
) -> None:
    """:func:`size_problem` on the instance being loaded (explicit scenarios count if given).

    ``items`` (its ``min_fill_rate`` column) and the settings give the program's kind;
    ``one_machine`` is False on a cluster run (see :func:`size_problem`).
    """
    if n_items is None or horizon is None:
        return
    if n_explicit is not None:
        scenarios, what = n_explicit, "explicit"
    else:
        scenarios, what = settings.value("scenarios"), "[plan] scenarios"
        if scenarios is UNKNOWN:
            return
    found = size_problem(
        n_items,
        int(scenarios),
        horizon,
        file=settings.file,
        what=what,
        why=why,
        found=settings_features(settings, items),
        one_machine=one_machine,
    )
    if found is not None:
        problems.found.append(found)


def instance_file(instance: Instance) -> str:
    """Name the file an instance's messages name (its ``instance.toml`` or workbook)."""
    return instance.source.replace("\\", "/").rsplit("/", 1)[-1] or "instance.toml"


def check_instance_size(
    instance: Instance, scenarios: int | None, *, what: str, one_machine: bool = True
) -> None:
    """Check an instance whose scenario count is changed to ``scenarios`` (None: unchanged).

    Raises
    ------
    InvalidInstanceError
        When the changed program has more than :data:`MAX_SCENARIOS` scenarios, or (on one
        machine) more than :data:`MAX_CELLS` cells or this machine's memory.
    """
    if scenarios is None or instance.explicit is not None:
        return
    file = instance_file(instance)
    if scenarios > MAX_SCENARIOS:
        rule = f"{what} {scenarios} is more than the {MAX_SCENARIOS} scenarios the model can carry"
        raise InvalidInstanceError([InputProblem(file=file, rule=rule, column=SCENARIOS_KEY)])
    horizon = Horizon(warmup=instance.warmup, periods=instance.plan.periods)
    found = size_problem(
        len(instance.items),
        scenarios,
        horizon,
        file=file,
        what=what,
        found=instance_features(instance),
        one_machine=one_machine,
    )
    if found is not None:
        raise InvalidInstanceError([found])


# ---------------------------------------------------------------- evaluation ---------
def evaluation_problem(
    n_items: int, horizon: int, scenarios: int, *, option: str, file: str, at_once: str
) -> InputProblem | None:
    r"""Refuse ``scenarios`` fresh scenarios played at once that the model cannot carry.

    Above :data:`MAX_SCENARIOS`, or :math:`n\, M\, H` cells above :data:`MAX_CELLS` or
    this machine's memory (:data:`BYTES_PER_CELL` a cell, as a solve of that many
    scenarios).

    Parameters
    ----------
    option : str
        The option that asked for them (``"--eval-scenarios"``), named in the message.
    at_once : str
        How the evaluation takes them (``"in its first batch"``), for the message.
    """
    if scenarios > MAX_SCENARIOS:
        return InputProblem(
            file=file,
            rule=f"{option} {scenarios:,} is more than the {MAX_SCENARIOS:,} fresh scenarios "
            f"the model can carry: use {option} {MAX_SCENARIOS:,} or fewer",
        )
    cells = float(n_items) * float(scenarios) * float(horizon)
    per_scenario = max(1.0, float(n_items) * float(horizon))
    memory = machine_memory()
    limit = MAX_CELLS if not memory else min(MAX_CELLS, memory / BYTES_PER_CELL)
    if cells <= limit:
        return None
    what = (
        f"more than the {MAX_CELLS:.3g} the model can carry"
        if cells > MAX_CELLS
        else f"about {cells * BYTES_PER_CELL / 1e9:.3g} GB of memory, more than the "
        f"{memory / 1e9:.3g} GB this machine has"
    )
    return InputProblem(
        file=file,
        rule=f"{option} {scenarios:,}: the evaluation plays {n_items} items × {scenarios:,} "
        f"fresh scenarios × {horizon} simulated periods = {cells:.3g} item-scenario-period "
        f"cells {at_once}, {what}: use {option} {int(limit / per_scenario):,} or fewer",
    )


def check_evaluation(
    instance: Instance, scenarios: int | None, *, option: str, at_once: str = "at once"
) -> None:
    """:func:`evaluation_problem` for ``scenarios`` fresh scenarios of ``instance`` (None: none).

    Explicit scenarios do not exempt an instance: fresh scenarios are always sampled.

    Raises
    ------
    InvalidInstanceError
    """
    if scenarios is None:
        return
    found = evaluation_problem(
        len(instance.items),
        instance.horizon,
        int(scenarios),
        option=option,
        file=instance_file(instance),
        at_once=at_once,
    )
    if found is not None:
        raise InvalidInstanceError([found])


# ---------------------------------------------------------------- solve --------------
#: A ``--time-limit`` this many times below the estimated time gets a warning that the
#: run will end at the limit (``feasible_at_limit``).
TIME_LIMIT_FACTOR = 20.0


def check_solve_work(
    instance: Instance,
    *,
    scenarios: int | None = None,
    threads: int | None = None,
    fill_rate: float | None = None,
    eval_scenarios: int | None = None,
    max_eval_scenarios: int | None = None,
    time_limit: float | None = None,
    one_machine: bool = True,
) -> WorkEstimate:
    """Bound the work of ``stockplan solve`` before anything is built; log what it costs.

    Refuses (``InvalidInstanceError``, exit 3): ``--scenarios`` above the limits
    (:func:`check_instance_size`), a first batch of fresh scenarios
    (``--eval-scenarios``, taken whole) that does not fit, and a cap
    (``--max-eval-scenarios``) above :data:`MAX_SCENARIOS` (later rounds come in batches
    of at most 10 M cells, :data:`optimizer.analysis.headline.BATCH_CELLS`). The time of
    the program's kind on the cores the run uses
    (:func:`~optimizer.instance.work_estimate.estimate`) is logged, as a warning
    above :data:`WARN_CELLS` cells when the options change the figure the loading said;
    a ``--time-limit`` more than :data:`TIME_LIMIT_FACTOR` times below it gets a warning
    that the run will end at the limit: the causal engines then return the plan as far as
    it got (items not searched keep their cover level), ``feasible_at_limit``.

    Returns
    -------
    WorkEstimate
        On a cluster run (``one_machine`` False) the estimate of this machine's cores;
        :func:`cluster_problem` says the workers'.
    """
    check_instance_size(instance, scenarios, what="--scenarios", one_machine=one_machine)
    file = instance_file(instance)
    if max_eval_scenarios is not None and max_eval_scenarios > MAX_SCENARIOS:
        rule = (
            f"--max-eval-scenarios {max_eval_scenarios:,} is more than the {MAX_SCENARIOS:,} "
            f"fresh scenarios the model can carry: use --max-eval-scenarios {MAX_SCENARIOS:,} "
            "or fewer"
        )
        raise InvalidInstanceError([InputProblem(file=file, rule=rule)])
    given = (
        instance.explicit.probability.size
        if instance.explicit is not None
        else int(instance.plan.scenarios)
    )
    n_scen = given if instance.explicit is not None else int(scenarios or given)
    first = int(eval_scenarios or max(100, n_scen))
    if one_machine:
        check_evaluation(instance, eval_scenarios, option="--eval-scenarios",
                         at_once="in its first batch")  # fmt: skip
    elif eval_scenarios is not None and eval_scenarios > MAX_SCENARIOS:
        check_evaluation(instance, eval_scenarios, option="--eval-scenarios")
    found = instance_features(instance)
    if fill_rate is not None and fill_rate > 0 and "fill_rate" not in found:
        found = instance_features(instance.with_fill_rate(fill_rate))
    n, horizon = len(instance.items), instance.horizon
    est = estimate(n, n_scen, horizon, found=found, cores=run_cores(threads), first_batch=first)
    loaded = estimate(n, given, horizon, found=instance_features(instance), cores=machine_cores())
    said = abs(est.seconds - loaded.seconds) <= 0.01 * loaded.seconds and n_scen == given
    level = logging.WARNING if est.cells > WARN_CELLS and one_machine and not said else logging.INFO
    logger.log(level, "%s items × %s scenarios × %s periods: expect %s", n, n_scen, horizon,
               est.words())  # fmt: skip
    if time_limit is not None and est.seconds > TIME_LIMIT_FACTOR * time_limit:
        logger.warning(
            "the --time-limit of %g s is far below the %s this solve is expected to take "
            "(%s): it will end at the limit with status feasible_at_limit (the causal "
            "engines leave the items they did not reach at their cover level, (lead time + "
            "1) × mean demand; an LP engine may find no plan, exit 5); raise --time-limit "
            "to about %s for a searched plan, or use fewer scenarios (--scenarios) or items",
            time_limit,
            seconds_words(est.seconds),
            est.words(),
            seconds_words(est.seconds),
        )
    return est


# ---------------------------------------------------------------- cluster ------------
#: What the client of a cluster run holds at most besides its items: Python, the
#: libraries, the scheduler's connection (the clients of benchmarks/results/cluster.jsonl
#: peaked at 0.18-0.19 GB with 1,000 and 5,000 items; rounded up).
CLIENT_BASE_BYTES = 5e8
#: What the client holds per item: its settings, the skeleton's coefficients, the plan
#: vectors, every search's answer and the plan table (loading 100,000 items peaked at
#: 0.19 GB, 1.9 kB an item with the interpreter; rounded up).
CLIENT_BYTES_PER_ITEM = 4_000.0
#: What a worker process holds besides its chunks: Python, numba's compiled kernels, Dask.
WORKER_BASE_BYTES = 7e8
#: What a worker holds per cell of its chunks: the demand and arrival arrays (16 bytes)
#: and the searches' working memory. Measured (benchmarks/results/cluster.jsonl, 1,000 x
#: 1,000 x 51): one worker holding 51 M cells peaked at 1.41 GB, each of two holding
#: 25.5 M at 1.01 GB: 15.6 bytes a cell over 0.61 GB; both rounded up.
WORKER_BYTES_PER_CELL = 20.0


def worker_share(chunk_cells: list[float], workers: int) -> tuple[int, float, float]:
    r"""Give a worker's share of the chunks: how many, their cells, the bytes it holds.

    :math:`\lceil k / w \rceil` of the largest chunks, :data:`WORKER_BYTES_PER_CELL` a
    cell over :data:`WORKER_BASE_BYTES`.
    """
    per_worker = math.ceil(len(chunk_cells) / max(1, workers))
    share = float(sum(sorted(chunk_cells, reverse=True)[:per_worker]))
    return per_worker, share, WORKER_BASE_BYTES + share * WORKER_BYTES_PER_CELL


def cluster_problem(
    chunk_cells: list[float],
    workers: dict[str, dict],
    *,
    n_items: int,
    file: str,
    product: str,
) -> InputProblem | None:
    r"""Refuse a cluster run whose share of a worker or of the client does not fit.

    The scheduler spreads the chunks evenly: a worker holds at most :math:`\lceil k / w
    \rceil` of the :math:`k` chunks (the largest, say), :data:`WORKER_BYTES_PER_CELL` a
    cell over :data:`WORKER_BASE_BYTES`, checked against every worker's ``memory_limit``
    as the scheduler reports it (0: no limit, not checked) and against :data:`MAX_CELLS`
    cells. (A worker that takes more than its share, say after another died, can still
    run short.) The client holds no scenarios:
    :data:`CLIENT_BASE_BYTES` plus :data:`CLIENT_BYTES_PER_ITEM` an item, checked
    against this machine's memory.

    Parameters
    ----------
    chunk_cells : list of float
        Item-scenario-period cells of each chunk.
    workers : dict
        ``client.scheduler_info()["workers"]``: address -> its ``memory_limit`` (bytes)
        and ``nthreads``.
    product : str
        The program's size in words, for the message.
    """
    w = max(1, len(workers))
    per_worker, share, need = worker_share(chunk_cells, w)
    limits = {a: float(info.get("memory_limit") or 0) for a, info in workers.items()}
    known = {a: m for a, m in limits.items() if m > 0}
    smallest = min(known.values()) if known else 0.0
    where = (
        f"{product}, in {len(chunk_cells)} chunks over {w} worker{'s' if w > 1 else ''}: "
        "a worker holds up to "
        f"{per_worker} chunks, {share:.3g} cells, about {need / 1e9:.3g} GB"
    )
    if share > MAX_CELLS:
        return InputProblem(
            file=file,
            rule=f"{where}, more than the {MAX_CELLS:.3g} cells one worker can carry: add "
            "workers, or use fewer scenarios or a shorter horizon",
            column=SCENARIOS_KEY,
        )
    if smallest and need > smallest:
        name = min(known, key=known.__getitem__)
        return InputProblem(
            file=file,
            rule=f"{where}, more than the {smallest / 1e9:.3g} GB memory_limit of worker "
            f"{quoted(name, 80)} (as the scheduler reports it): add workers, give them more "
            "memory ('dask worker --memory-limit'), or use fewer scenarios",
            column=SCENARIOS_KEY,
        )
    client = CLIENT_BASE_BYTES + CLIENT_BYTES_PER_ITEM * float(n_items)
    memory = machine_memory()
    if memory and client > memory:
        return InputProblem(
            file=file,
            rule=f"{n_items:,} items: the client of the cluster run holds about "
            f"{client / 1e9:.3g} GB (their settings, plans and results; the scenarios stay "
            f"on the workers), more than the {memory / 1e9:.3g} GB of memory this machine "
            "has: run the client on a larger machine, or plan fewer items at a time",
        )
    if not known:
        logger.info("cluster: the workers report no memory limit; their share is not checked")
    return None


def check_cluster_share(
    instance: Instance, chunks: list[np.ndarray], workers: dict[str, dict]
) -> WorkEstimate:
    """:func:`cluster_problem` for ``instance`` in ``chunks``; log the run's estimate.

    Called before any chunk is built (:class:`optimizer.engines.executors.DaskItems`).
    The estimate counts the workers' threads as the cores.

    Raises
    ------
    InvalidInstanceError
    """
    n_scen = (
        instance.explicit.probability.size
        if instance.explicit is not None
        else int(instance.plan.scenarios)
    )
    horizon = instance.horizon
    n = len(instance.items)
    cells = [float(c.size) * n_scen * horizon for c in chunks]
    product = (
        f"{n} items × {n_scen} scenarios × {horizon} simulated periods = "
        f"{float(n) * n_scen * horizon:.3g} item-scenario-period cells"
    )
    found = cluster_problem(
        cells, workers, n_items=n, file=instance_file(instance), product=product
    )
    if found is not None:
        raise InvalidInstanceError([found])
    threads = sum(int(info.get("nthreads") or 1) for info in workers.values()) or 1
    est = estimate(n, n_scen, horizon, found=instance_features(instance), cores=threads)
    _n, _share, held = worker_share(cells, len(workers))
    level = logging.WARNING if est.cells > WARN_CELLS else logging.INFO
    logger.log(
        level,
        "%s on the cluster's %d workers (%d threads): expect %s for the solve, about %.3g GB "
        "on each worker (%g bytes a cell over %.2g GB) and %.3g GB on the client",
        product,
        len(workers),
        threads,
        seconds_words(est.seconds),
        held / 1e9,
        WORKER_BYTES_PER_CELL,
        WORKER_BASE_BYTES / 1e9,
        (CLIENT_BASE_BYTES + CLIENT_BYTES_PER_ITEM * n) / 1e9,
    )
    return est
