"""The ``instance.toml`` schema: the one place for the defaults and bounds of every key.

The three tables are declared once, as frozen pydantic dataclasses that are also the
typed settings the rest of the code base uses (:class:`PlanSettings`,
:class:`BlackSwan`, :class:`RiskSettings`).  Built in Python they validate leniently
(``numpy`` integers become ``int``); read from a file, :class:`InstanceFile` checks them
with strict types — a whole number where an integer is due, no ``true`` for a number,
finite numbers only — and rejects unknown keys.  pydantic collects every broken rule of
the file at once; :mod:`optimizer.instance.settings` words them for the planner.

The keys are described in the README's "Instance files" section.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo

Shortage = Literal["lost_sales", "backorder"]
Recourse = Literal["causal", "hindsight"]

_LENIENT = ConfigDict(extra="forbid", allow_inf_nan=False)
_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


@dataclass(frozen=True, config=_LENIENT)
class PlanSettings:
    r"""The ``[plan]`` table of ``instance.toml``.

    Attributes
    ----------
    periods : int
        Costed periods :math:`T` (13 weeks = a quarter).
    periods_per_year : float
        Converts annual carrying rates to per-period rates.
    scenarios : int
        Number of sampled scenarios :math:`N` (ignored with explicit scenarios).
    seed : int
        Root seed of every random stream.
    shortage : {"lost_sales", "backorder"}
        What happens to demand that neither stock nor emergency supply serves.
    capital_rate, storage_rate, obsolescence_rate : float
        Default annual carrying rates (fractions of unit cost).
    warmup : int or None
        Uncosted warm-up periods :math:`W`; ``None`` means the default of
        :attr:`Instance.warmup <optimizer.instance.types.Instance.warmup>`.
    inventory_budget : float or None
        :math:`B` in :math:`\sum_i c_i S_i \le B`.
    storage_capacity : float or None
        :math:`V` in :math:`\sum_i v_i S_i \le V`.
    recourse : {"causal", "hindsight"}
        The second stage the plan is fitted to (README "The model"): the plan run period
        by period with no knowledge of the future (the default), or the classical
        recourse LP that sees each scenario's future (a bound).
    integer : bool
        Whole-unit base-stock levels and reservations (causal recourse).
    """

    periods: int = Field(13, gt=0)
    periods_per_year: float = Field(52.0, gt=0)
    scenarios: int = Field(200, gt=0)
    seed: int = Field(42, ge=0)
    shortage: Shortage = "lost_sales"
    capital_rate: float = Field(0.10, ge=0)
    storage_rate: float = Field(0.12, ge=0)
    obsolescence_rate: float = Field(0.05, ge=0)
    warmup: int | None = Field(None, ge=0)
    inventory_budget: float | None = Field(None, gt=0)
    storage_capacity: float | None = Field(None, gt=0)
    recourse: Recourse = "causal"
    integer: bool = True


@dataclass(frozen=True, config=_LENIENT)
class BlackSwan:
    """The ``[black_swan]`` table: a rare event that stops every supplier and lifts demand.

    Attributes
    ----------
    probability : float
        Share of scenarios that contain the event.
    duration : int
        Periods every supplier is down.
    demand_multiplier : float
        Factor applied to every item's demand during the event.
    """

    probability: float = Field(ge=0, le=1)
    duration: int = Field(ge=1)
    demand_multiplier: float = Field(1.0, gt=0)


@dataclass(frozen=True, config=_LENIENT)
class RiskSettings:
    r"""The ``[risk]`` table: CVaR blend :math:`(1-\lambda) E[C] + \lambda\, CVaR_\alpha[C]`.

    Attributes
    ----------
    cvar_alpha : float
        Confidence level :math:`\alpha` in [0, 1).
    cvar_weight : float
        Weight :math:`\lambda` in [0, 1]; 0 is risk neutral.
    """

    cvar_alpha: float = Field(0.95, ge=0, lt=1)
    cvar_weight: float = Field(0.0, ge=0, le=1)


def _strict_table(settings: type) -> type[BaseModel]:
    """Make the file form of a settings dataclass: its fields, defaults, bounds, strict types."""
    fields = {
        name: (info.annotation, copy.copy(info))
        for name, info in settings.__pydantic_fields__.items()  # type: ignore[attr-defined]
    }
    return create_model(f"{settings.__name__}Table", __config__=_STRICT, **fields)


PlanTable = _strict_table(PlanSettings)
BlackSwanTable = _strict_table(BlackSwan)
RiskTable = _strict_table(RiskSettings)


class InstanceFile(BaseModel):
    """The whole ``instance.toml``: two top-level keys and the three tables.

    Attributes
    ----------
    name : str or None
        Instance name; ``None`` (left out) means the folder's name.
    description : str
        What the instance represents.
    plan, black_swan, risk
        The tables; ``[black_swan]`` is optional, the others default to their defaults.
    """

    model_config = _STRICT

    name: str | None = Field(
        None, min_length=1, json_schema_extra={"hint": "leave it out to use the folder name"}
    )
    description: str = ""
    plan: PlanTable = Field(default_factory=PlanTable)  # type: ignore[valid-type]
    black_swan: BlackSwanTable | None = None  # type: ignore[valid-type]
    risk: RiskTable = Field(default_factory=RiskTable)  # type: ignore[valid-type]

    def plan_settings(self) -> PlanSettings:
        """Return the ``[plan]`` table as :class:`PlanSettings`."""
        return PlanSettings(**self.plan.model_dump())

    def black_swan_settings(self) -> BlackSwan | None:
        """Return the ``[black_swan]`` table as :class:`BlackSwan` (None when absent)."""
        return None if self.black_swan is None else BlackSwan(**self.black_swan.model_dump())

    def risk_settings(self) -> RiskSettings:
        """Return the ``[risk]`` table as :class:`RiskSettings`."""
        return RiskSettings(**self.risk.model_dump())


TABLES: dict[str, type[BaseModel]] = {
    "plan": PlanTable,
    "black_swan": BlackSwanTable,
    "risk": RiskTable,
}
"""The tables of ``instance.toml`` by name."""


def table_fields(table: str | None) -> dict[str, FieldInfo]:
    """Fields of a table (``None``: the top level, whose keys include the tables)."""
    model = InstanceFile if table is None else TABLES[table]
    return dict(model.model_fields)


def bounds_rule(info: FieldInfo) -> str:
    """State a number field's bounds in words (``"must be between 0 and 1"``; ``""``: none)."""
    bound: dict[str, Any] = {}
    for meta in info.metadata:
        for kind, cls in (("gt", Gt), ("ge", Ge), ("lt", Lt), ("le", Le)):
            if isinstance(meta, cls):
                bound[kind] = getattr(meta, kind)
    lower = bound.get("ge", bound.get("gt"))
    upper = bound.get("le", bound.get("lt"))
    if lower is not None and upper is not None:
        if "ge" in bound and "le" in bound:
            return f"must be between {lower:g} and {upper:g}"
        low = f"at least {lower:g}" if "ge" in bound else f"above {lower:g}"
        high = f"at most {upper:g}" if "le" in bound else f"below {upper:g}"
        return f"must be {low} and {high}"
    if "gt" in bound:
        return f"must be greater than {lower:g}"
    if "ge" in bound:
        return "must be 0 or more" if lower == 0 else f"must be at least {lower:g}"
    if upper is not None:
        return f"must be at most {upper:g}" if "le" in bound else f"must be below {upper:g}"
    return ""
