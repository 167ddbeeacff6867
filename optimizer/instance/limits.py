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
"""

from __future__ import annotations

import logging
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
    SECONDS_PER_CELL,
    WARN_CELLS,
    WARN_HORIZON,
)
from optimizer.instance.settings import UNKNOWN, Settings
from optimizer.instance.types import Instance, outage_allowance

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


def cost_estimate(cells: float) -> str:
    """Memory and time of ``solve`` for ``cells`` item-scenario-period cells, in words."""
    gigabytes = cells * BYTES_PER_CELL / 1e9
    minutes = cells * SECONDS_PER_CELL / 60
    return (
        f"about {gigabytes:.3g} GB of memory and {minutes:.3g} minutes for 'stockplan solve' "
        f"(measured: about {BYTES_PER_CELL:g} bytes and {SECONDS_PER_CELL * 1e6:g} µs a cell)"
    )


def size_problem(
    n_items: int, scenarios: int, horizon: Horizon, *, file: str, what: str, why: str = ""
) -> InputProblem | None:
    """Refuse :math:`n N H` above :data:`MAX_CELLS` or this machine's memory; else maybe warn.

    A warning is logged above :data:`WARN_CELLS` cells or for long horizons.

    Parameters
    ----------
    what : str
        Where the scenario count comes from (``"[plan] scenarios"``, ``"--scenarios"``).
    why : str
        Where the warm-up comes from (said when the horizon is above :data:`WARN_HORIZON`).
    """
    cells = float(n_items) * float(scenarios) * float(horizon.total)
    product = (
        f"{n_items} items × {scenarios} scenarios ({what}) × {horizon.total} simulated "
        f"periods (warm-up {horizon.warmup} + {horizon.periods} costed) = {cells:.3g} "
        "item-scenario-period cells"
    )
    if cells > MAX_CELLS:
        return InputProblem(
            file=file,
            rule=f"{product}, more than the {MAX_CELLS:.3g} the model can carry "
            f"({cost_estimate(cells)}): use fewer scenarios or items, or a shorter horizon",
            column=SCENARIOS_KEY,
        )
    memory = machine_memory()
    if memory and cells * BYTES_PER_CELL > memory:
        fits = int(memory / BYTES_PER_CELL / max(1.0, float(n_items) * float(horizon.total)))
        return InputProblem(
            file=file,
            rule=f"{product}: {cost_estimate(cells)}, more than the {memory / 1e9:.3g} GB "
            f"of memory this machine has: use at most {fits:,} scenarios, fewer items or a "
            "shorter horizon",
            column=SCENARIOS_KEY,
        )
    if cells > WARN_CELLS or horizon.total > WARN_HORIZON:
        long = (
            f"; the horizon is longer than {WARN_HORIZON} periods ({why or 'the warm-up'})"
            if horizon.total > WARN_HORIZON
            else ""
        )
        logger.warning("%s: expect %s%s", product, cost_estimate(cells), long)
    return None


def check_cells(
    settings: Settings,
    n_items: int | None,
    horizon: Horizon | None,
    n_explicit: int | None,
    problems: Problems,
    why: str = "",
) -> None:
    """:func:`size_problem` on the instance being loaded (explicit scenarios count if given)."""
    if n_items is None or horizon is None:
        return
    if n_explicit is not None:
        scenarios, what = n_explicit, "explicit"
    else:
        scenarios, what = settings.value("scenarios"), "[plan] scenarios"
        if scenarios is UNKNOWN:
            return
    found = size_problem(n_items, int(scenarios), horizon, file=settings.file, what=what, why=why)
    if found is not None:
        problems.found.append(found)


def check_instance_size(instance: Instance, scenarios: int | None, *, what: str) -> None:
    """Check an instance whose scenario count is changed to ``scenarios`` (None: unchanged).

    Raises
    ------
    InvalidInstanceError
        When the changed program has more than :data:`MAX_CELLS` cells.
    """
    if scenarios is None or instance.explicit is not None:
        return
    file = instance.source.replace("\\", "/").rsplit("/", 1)[-1] or "instance.toml"
    if scenarios > MAX_SCENARIOS:
        rule = f"{what} {scenarios} is more than the {MAX_SCENARIOS} scenarios the model can carry"
        raise InvalidInstanceError([InputProblem(file=file, rule=rule, column=SCENARIOS_KEY)])
    horizon = Horizon(warmup=instance.warmup, periods=instance.plan.periods)
    found = size_problem(len(instance.items), scenarios, horizon, file=file, what=what)
    if found is not None:
        raise InvalidInstanceError([found])
