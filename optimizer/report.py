"""Plan table, summary and their files.

The columns are those of the README section "How to read the results".

Costs are per costed horizon (the quarter). Files are written to temporary names and
renamed only when every file is complete, so a failed run leaves nothing half-written.

Every CSV file written here is safe to open in a spreadsheet: a text cell that starts
like a formula (``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading
apostrophe, as OWASP recommends against CSV injection (:func:`neutralise`); numbers stay
numbers, and ``-0`` is written as ``0``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.instance import Instance
from optimizer.instance.tables import spreadsheet_safe
from optimizer.program.verifier import COST_LINES, Evaluation

#: Posture rule on periods of cover :math:`ss_i/\mu_i`: below ``JIT_MAX_COVER`` is lean
#: (JIT), at or above ``JIC_MIN_COVER`` is a buffer (JIC), in between a hybrid.
JIT_MAX_COVER = 0.5
JIC_MIN_COVER = 2.0


def posture(cover: np.ndarray) -> np.ndarray:
    """Label each item JIT / hybrid / JIC from its periods of safety cover."""
    return np.where(cover < JIT_MAX_COVER, "JIT", np.where(cover >= JIC_MIN_COVER, "JIC", "hybrid"))


def plan_table(
    instance: Instance, base_stock: np.ndarray, reserved: np.ndarray, evaluation: Evaluation
) -> pd.DataFrame:
    """One row per item: the plan, its service and its expected cost lines.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i`.
    evaluation : Evaluation
        Costs of the plan (hindsight recourse on the optimisation scenarios).
    """
    it = instance.items
    mean = it.demand_mean.astype(float)
    ss = base_stock - (it.lead_time + 1) * mean
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(mean > 0, ss / mean, 0.0)
    table = pd.DataFrame(
        {
            "item": it.name,
            "supplier": instance.suppliers.name[it.supplier],
            "posture": posture(cover),
            "base_stock": base_stock,
            "safety_stock": ss,
            "cover_periods": cover,
            "reserved_capacity": np.where(it.reserves_capacity, reserved, 0.0),
            "expected_fill_rate": evaluation.fill_rate,
            "avg_on_hand": evaluation.avg_on_hand,
            "capital_tied_up": evaluation.avg_on_hand * it.unit_cost,
            "expected_stockout_units": evaluation.stockout_units,
            "expected_emergency_units": evaluation.emergency_units,
            "expected_cost": evaluation.lines.sum(axis=1),
        }
    )
    for k, name in enumerate(COST_LINES):
        table[f"{name}_cost"] = evaluation.lines[:, k]
    numbers = table.select_dtypes("float").columns
    table[numbers] = table[numbers] + 0.0  # no -0 (a zero-demand item's S, ss) on screen either
    return table


def _clean(value):
    """JSON-safe value: numpy scalars to Python, non-finite floats to ``None``, no ``-0.0``."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value + 0.0 if math.isfinite(value) else None
    return value


def versions() -> dict[str, str]:
    """Versions of the pieces that determine a result."""
    from importlib.metadata import PackageNotFoundError, version

    import highspy
    import pyomo
    import scipy

    try:
        highs = version("highspy")
    except PackageNotFoundError:  # pragma: no cover
        highs = getattr(highspy, "__version__", "unknown")
    try:
        own = version("stockplan")
    except PackageNotFoundError:  # pragma: no cover
        own = "unknown"
    return {
        "stockplan": own,
        "python": platform.python_version(),
        "pyomo": pyomo.__version__,
        "highspy": highs,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }


def write_outputs(out_dir: Path, files: dict[str, pd.DataFrame | dict]) -> list[Path]:
    """Write CSV tables and JSON documents all-or-nothing.

    Every file is first written to a temporary name in ``out_dir``; only when all are
    complete are they renamed into place.  CSV cells go through :func:`spreadsheet_safe`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, content in files.items():
            target = out_dir / name  # may sit in a subfolder, e.g. plans/jit.csv
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                if isinstance(content, pd.DataFrame):
                    spreadsheet_safe(content).to_csv(fh, index=False, float_format="%.10g")
                else:
                    json.dump(_clean(content), fh, indent=2)
                    fh.write("\n")
            staged.append((Path(tmp), target))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    return [final for _, final in staged]
