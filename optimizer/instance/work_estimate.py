r"""The memory and time of ``stockplan solve``, estimated from the program's size alone.

Nothing is built: the figures follow from the items :math:`n`, scenarios :math:`N`,
simulated periods :math:`H`, the model's kind and the cores :math:`p` the run uses. Time
(README "Ranges: numbers the model can carry"), for the default causal engines:

.. math:: T(p) = T_0 + A(p) \bigl[ c\, n N H + e\, n H \max(1, m / M) \bigr]

* :math:`T_0` start-up and writing the files (:data:`START_SECONDS`);
* :math:`c` seconds per item-scenario-period cell of the plan stage (its searches run
  over all :math:`N` scenarios) and :math:`e` seconds per item-period of the
  out-of-sample pricing and the diagnostics (their scenario counts do not grow with
  :math:`N`): plain lost sales (:data:`PLAIN`), plus the measured extra of every feature
  the program has (:data:`EXTRA`: backorders, a budget or storage row, fill-rate targets,
  a CVaR weight; measured one at a time, added when several are present);
* :math:`M` the fresh scenarios the calibration runs' pricing took and :math:`m` the
  first batch of fresh scenarios (taken whole): a larger first batch costs in proportion;
* :math:`A(p) = (\sigma + (1 - \sigma)/p) / (\sigma + (1 - \sigma)/p_0)`, Amdahl's law
  relative to the :math:`p_0` = :data:`CALIBRATION_CORES` cores the runs were measured
  on, with a serial share :math:`\sigma` = :data:`SERIAL_SHARE` (measured: 1,000 x 1,000
  with ``--threads 1`` took 72.0-75.4 s against 47.7-52.6 s on both cores; the
  searches' numpy steps between the compiled kernels, the pricing's and the start-up).

The figures are fitted by ``benchmarks/time_calibration.py`` to named runs of
``benchmarks/results/whole_command.jsonl`` (2 cores, quiet machine); the tests refit
them and check the constants here. They describe this code on that machine: another
machine's cores differ in speed, and the LP engines (``--engine ef``, hindsight recourse)
are not calibrated. Memory is :data:`~optimizer.instance.schema.BYTES_PER_CELL` a cell
(the runs peaked at 44-84 bytes a cell).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optimizer.instance.schema import BYTES_PER_CELL

if TYPE_CHECKING:
    from optimizer.instance.types import Instance


@dataclass(frozen=True)
class Rates:
    """Seconds a unit of work takes (on :data:`CALIBRATION_CORES` cores).

    Attributes
    ----------
    per_cell : float
        :math:`c`, seconds per item-scenario-period cell (plan stage).
    per_item_period : float
        :math:`e`, seconds per item-period (pricing on fresh scenarios, diagnostics).
    eval_scenarios : int
        :math:`M`, fresh scenarios the calibration run's pricing took.
    """

    per_cell: float
    per_item_period: float
    eval_scenarios: int


#: :math:`T_0`, seconds of start-up and writing the files.
START_SECONDS = 2.51
#: Cores of the machine the calibration runs were measured on.
CALIBRATION_CORES = 2
#: :math:`\sigma`, the serial share of the work (Amdahl's law; ``time_calibration.py``).
SERIAL_SHARE = 0.338
#: Plain lost sales (1,000 x 1,000 and 10,000 x 200 runs).
PLAIN = Rates(per_cell=5.78e-7, per_item_period=4.08e-4, eval_scenarios=2205)
#: What each feature adds to :data:`PLAIN` (each measured at 1,000 x 1,000; a negative
#: pricing rate: that kind's pricing and diagnostics took a little less than plain's).
EXTRA = {
    "backorder": Rates(per_cell=4.49e-8, per_item_period=5.86e-4, eval_scenarios=12610),
    "plan_row": Rates(per_cell=6.45e-7, per_item_period=-5.65e-5, eval_scenarios=1000),
    "fill_rate": Rates(per_cell=3.81e-8, per_item_period=-5.26e-6, eval_scenarios=1415),
    "cvar": Rates(per_cell=8.76e-7, per_item_period=-3.17e-6, eval_scenarios=1000),
}
#: How the words name each feature.
FEATURE_WORDS = {
    "backorder": "backorders",
    "plan_row": "a budget or storage row",
    "fill_rate": "fill-rate targets",
    "cvar": "a CVaR weight",
}


def features(
    *, shortage: str, plan_row: bool, fill_rate: bool, cvar_weight: float
) -> tuple[str, ...]:
    """Give the features that cost time beyond plain lost sales (keys of :data:`EXTRA`)."""
    found = []
    if shortage == "backorder":
        found.append("backorder")
    if plan_row:
        found.append("plan_row")
    if fill_rate:
        found.append("fill_rate")
    if cvar_weight > 0:
        found.append("cvar")
    return tuple(found)


def instance_features(instance: Instance) -> tuple[str, ...]:
    """:func:`features` of an instance."""
    plan = instance.plan
    targets = instance.items.min_fill_rate
    return features(
        shortage=plan.shortage,
        plan_row=plan.inventory_budget is not None or plan.storage_capacity is not None,
        fill_rate=bool(((targets > 0) & (targets == targets)).any()),
        cvar_weight=float(instance.risk.cvar_weight),
    )


def machine_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_cores(threads: int | None) -> int:
    """Give the cores a run uses: ``--threads``, capped at :func:`machine_cores`, else all.

    ``--threads`` sets HiGHS's threads and the causal engines' compiled kernels' (numba's,
    :func:`optimizer.cli.common.use_threads`).
    """
    cores = machine_cores()
    return cores if threads is None else max(1, min(int(threads), cores))


def speedup(cores: int) -> float:
    r""":math:`A(p)`: time on ``cores`` cores over time on :data:`CALIBRATION_CORES`."""
    s = SERIAL_SHARE
    return (s + (1.0 - s) / max(1, cores)) / (s + (1.0 - s) / CALIBRATION_CORES)


def rates(found: tuple[str, ...]) -> Rates:
    """:data:`PLAIN` plus the :data:`EXTRA` of every feature in ``found``."""
    parts = [PLAIN, *(EXTRA[f] for f in found)]
    return Rates(
        per_cell=sum(r.per_cell for r in parts),
        per_item_period=sum(r.per_item_period for r in parts),
        eval_scenarios=max(r.eval_scenarios for r in parts),
    )


@dataclass(frozen=True)
class WorkEstimate:
    """What a solve of this size is expected to take.

    Attributes
    ----------
    cells : float
        :math:`n N H`.
    features : tuple of str
    cores : int
        :math:`p`.
    seconds : float
        :math:`T(p)`.
    bytes : float
        Memory, :data:`BYTES_PER_CELL` a cell.
    """

    cells: float
    features: tuple[str, ...]
    cores: int
    seconds: float
    bytes: float

    @property
    def kind(self) -> str:
        """The model kind in words (``"lost sales with a CVaR weight"``)."""
        if not self.features:
            return "plain lost sales"
        base = "backorders" if "backorder" in self.features else "lost sales"
        rest = [FEATURE_WORDS[f] for f in self.features if f != "backorder"]
        return base + (f" with {' and '.join(rest)}" if rest else "")

    def words(self) -> str:
        """Say the estimate in words: memory, time, kind and cores."""
        return (
            f"about {self.bytes / 1e9:.3g} GB of memory and {self.seconds / 60:.3g} minutes "
            "for 'stockplan solve' "
            f"({self.kind}, {self.cores} core{'s' if self.cores != 1 else ''}; calibrated "
            f"on measured runs: {BYTES_PER_CELL:g} bytes and, on {CALIBRATION_CORES} cores, "
            f"{rates(self.features).per_cell * 1e6:.2g} µs a cell for the plan)"
        )


def estimate(
    n_items: int,
    scenarios: int,
    horizon: int,
    *,
    found: tuple[str, ...] = (),
    cores: int = CALIBRATION_CORES,
    first_batch: int | None = None,
) -> WorkEstimate:
    """Estimate the memory and time of a solve of ``n_items`` x ``scenarios`` x ``horizon``.

    Parameters
    ----------
    found : tuple of str
        The program's features (:func:`features`).
    cores : int
        :math:`p`, the cores the run uses.
    first_batch : int, optional
        :math:`m`, fresh scenarios of the pricing's first batch (default, as ``solve``
        takes it: ``max(100, scenarios)``).
    """
    r = rates(found)
    cells = float(n_items) * float(scenarios) * float(horizon)
    periods = float(n_items) * float(horizon)
    m = max(100, scenarios) if first_batch is None else first_batch
    batch = max(1.0, m / r.eval_scenarios)
    work = r.per_cell * cells + r.per_item_period * periods * batch
    seconds = START_SECONDS + speedup(cores) * work
    return WorkEstimate(cells, found, max(1, cores), seconds, cells * BYTES_PER_CELL)


def seconds_words(seconds: float) -> str:
    """``seconds`` as a planner reads them (``"45 s"``, ``"3.2 minutes"``, ``"2.5 hours"``)."""
    if not math.isfinite(seconds) or seconds < 90:
        return f"{seconds:.3g} s"
    if seconds < 5400:
        return f"{seconds / 60:.3g} minutes"
    return f"{seconds / 3600:.3g} hours"
