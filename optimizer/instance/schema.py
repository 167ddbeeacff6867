"""The ``instance.toml`` schema: the one place for the defaults and bounds of every key.

The three tables are declared once, as frozen pydantic dataclasses that are also the
typed settings the rest of the code base uses (:class:`PlanSettings`,
:class:`BlackSwan`, :class:`RiskSettings`).  Built in Python they validate leniently
(``numpy`` integers become ``int``); read from a file, :class:`InstanceFile` checks them
with strict types — a whole number where an integer is due, no ``true`` for a number,
finite numbers only — and rejects unknown keys.  pydantic collects every broken rule of
the file at once; :mod:`optimizer.instance.settings` words them for the planner.

The ranges of the CSV columns (:data:`COLUMN_RANGES`) and the limits on the size of the
program (:data:`MAX_HORIZON`, :data:`MAX_CELLS` and the warning thresholds) live here too,
so every number an instance may hold is bounded in one place.  The ranges keep the
model well-conditioned: money and quantities within nine orders of magnitude of one
(HiGHS drops matrix entries below 1e-9 and refuses ones above 1e15, and treats bounds of
1e20 as infinite), whole periods short enough that the simulated horizon stays a few
thousand periods.

The keys, columns and ranges are described in the README's "Instance files" section.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Annotated, Any, Literal

import numpy as np
from annotated_types import Ge, Gt, Le, Lt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from optimizer.errors import control_name, has_control

Shortage = Literal["lost_sales", "backorder"]
Recourse = Literal["causal", "hindsight"]
ReviewLevels = Literal[1, 3, 13]

# --------------------------------------------------------------------------------------
# ranges: what the model can carry
# --------------------------------------------------------------------------------------

SMALLEST = 1e-6
"""Smallest positive money amount, quantity or rate (0 itself is allowed where it means "none")."""
MONEY_MAX = 1e9
"""Largest money amount per unit (unit cost, stockout penalty, emergency premium, fee)."""
QUANTITY_MAX = 1e9
"""Largest quantity per period or per unit (demand, its spread, emergency capacity, volume)."""
RATE_MAX = 100.0
"""Largest annual carrying rate (a fraction of the unit cost: 100 = 10,000% a year)."""
LIMIT_MAX = 1e15
"""Largest ``inventory_budget`` / ``storage_capacity`` (HiGHS treats 1e20 as no bound)."""
PERIODS_PER_YEAR_MIN = 0.01
PERIODS_PER_YEAR_MAX = 10_000.0
"""``periods_per_year`` runs from one period per century to hours (8,760 a year)."""
LEAD_TIME_MAX = 2000
"""Longest lead time in periods (the default warm-up is twice the lead time plus 3, so the
horizon limit holds the rest: a year and a half of hourly periods at most)."""
MAX_HORIZON = 5000
"""Longest simulated horizon :math:`H = W + T` in periods (warm-up plus costed periods)."""
WARN_HORIZON = 1000
"""A horizon longer than this is accepted with a warning that says what it costs."""
MAX_SCENARIOS = 1_000_000
"""Most sampled scenarios :math:`N`."""
MIN_SCENARIO_PROBABILITY = 1e-9
"""Smallest positive probability of an explicit scenario (0 drops the scenario's weight)."""
MULTIPLIER_MIN = 0.01
MULTIPLIER_MAX = 100.0
"""Range of the black swan's ``demand_multiplier``."""
MAX_CELLS = 1_000_000_000
"""Most item-scenario-period cells :math:`n N H` (about 100 GB at :data:`BYTES_PER_CELL`)."""
WARN_CELLS = 50_000_000
"""More cells than this are accepted with a warning of the memory and time they cost."""
BYTES_PER_CELL = 100.0
"""Memory of one cell for the whole ``solve``, rounded up (the whole-command runs peaked at
84 bytes a cell at 10,000 items × 200 scenarios, 44 at 1,000 × 1,000; their time is
:mod:`optimizer.instance.work_estimate`'s)."""


@dataclasses.dataclass(frozen=True)
class NumberRange:
    """The magnitudes one numeric input may take: ``[low, high]``, or 0 and ``[tiny, high]``.

    The sign rules of a column (``must be 0 or more``) are checked first and worded on
    their own; a range adds what the model can carry.

    Attributes
    ----------
    low, high : float
        Smallest and largest allowed value.
    tiny : float or None
        When set, ``low`` is 0 and positive values below ``tiny`` are refused: 0 means
        "none", a value like 1e-300 only degrades the model.
    """

    low: float
    high: float
    tiny: float | None = None

    def too_small(self, value: np.ndarray) -> np.ndarray:
        """Mask of values below the range (positive values below ``tiny`` included)."""
        small = value < self.low
        if self.tiny is not None:
            small |= (value > 0) & (value < self.tiny)
        return small

    def too_large(self, value: np.ndarray) -> np.ndarray:
        """Mask of values above ``high``."""
        return value > self.high

    @property
    def small_rule(self) -> str:
        """The lower end in words (``"must be 0 or at least 1e-06"``)."""
        if self.tiny is not None:
            return f"must be 0 or at least {self.tiny:g}"
        return f"must be at least {self.low:g}"

    @property
    def large_rule(self) -> str:
        """The upper end in words (``"must be at most 1e+09"``)."""
        return f"must be at most {self.high:g}"

    @property
    def rule(self) -> str:
        """The whole range in words (``"0, or 1e-06 to 1e+09"``), for the README table."""
        if self.tiny is not None:
            return f"0, or {self.tiny:g} to {self.high:g}"
        return f"{self.low:g} to {self.high:g}"


MONEY = NumberRange(0.0, MONEY_MAX, tiny=SMALLEST)
QUANTITY = NumberRange(0.0, QUANTITY_MAX, tiny=SMALLEST)
RATE = NumberRange(0.0, RATE_MAX, tiny=SMALLEST)
UNIT_INTERVAL = NumberRange(0.0, 1.0)

COLUMN_RANGES: dict[str, NumberRange] = {
    "unit_cost": NumberRange(SMALLEST, MONEY_MAX),
    "demand_mean": QUANTITY,
    "demand_std": QUANTITY,
    "lead_time": NumberRange(0, LEAD_TIME_MAX),
    "stockout_penalty": MONEY,
    "emergency_premium": MONEY,
    "emergency_capacity": QUANTITY,
    "reservation_fee": MONEY,
    "min_fill_rate": UNIT_INTERVAL,
    "volume": QUANTITY,
    "capital_rate": RATE,
    "storage_rate": RATE,
    "obsolescence_rate": RATE,
    "disruption_prob": UNIT_INTERVAL,
    "recovery_prob": UNIT_INTERVAL,
    "demand": QUANTITY,
    "probability": NumberRange(0.0, 1.0, tiny=MIN_SCENARIO_PROBABILITY),
    "mean": QUANTITY,
    "std": QUANTITY,
}
"""Range of every numeric CSV column (``items.csv``, ``suppliers.csv``, ``scenarios/``)."""


@dataclasses.dataclass(frozen=True)
class Tiny:
    """Field metadata: positive values below ``tiny`` are refused (0 is allowed)."""

    tiny: float


def _not_tiny(value: float) -> float:
    if 0 < value < SMALLEST:
        raise PydanticCustomError("tiny_number", "positive but below {tiny}", {"tiny": SMALLEST})
    return value


def _printable(value: str | None, allowed: str = "") -> str | None:
    if value is not None and has_control(value.translate({ord(c): None for c in allowed})):
        where = control_name(value.translate({ord(c): " " for c in allowed}))
        raise PydanticCustomError("control_character", "holds {where}", {"where": where})
    return value


def _printable_text(value: str) -> str:
    return _printable(value, allowed="\n\r\t") or ""


AnnualRate = Annotated[float, Field(ge=0, le=RATE_MAX), Tiny(SMALLEST), AfterValidator(_not_tiny)]
"""An annual carrying rate in ``instance.toml``: 0, or between :data:`SMALLEST` and 100."""

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
    review_levels : {1, 3, 13}
        Base-stock levels per item within the costed periods: one for the quarter (the
        default), one per month, one per week (README "Review levels"; causal recourse
        only).
    unit, currency : str or None
        What a quantity is counted in (``"pcs"``) and what money is counted in
        (``"EUR"``): labels only, carried into the plan's ``unit`` and ``currency``
        columns (README "Reading the plan and the report").
    """

    periods: int = Field(13, gt=0, le=MAX_HORIZON)
    periods_per_year: float = Field(52.0, ge=PERIODS_PER_YEAR_MIN, le=PERIODS_PER_YEAR_MAX)
    scenarios: int = Field(200, gt=0, le=MAX_SCENARIOS)
    seed: int = Field(42, ge=0)
    shortage: Shortage = "lost_sales"
    capital_rate: AnnualRate = 0.10
    storage_rate: AnnualRate = 0.12
    obsolescence_rate: AnnualRate = 0.05
    warmup: int | None = Field(None, ge=0, le=MAX_HORIZON)
    inventory_budget: float | None = Field(None, gt=0, le=LIMIT_MAX)
    storage_capacity: float | None = Field(None, gt=0, le=LIMIT_MAX)
    recourse: Recourse = "causal"
    integer: bool = True
    review_levels: ReviewLevels = 1
    unit: Annotated[str | None, AfterValidator(_printable)] = Field(
        None, min_length=1, max_length=20
    )
    currency: Annotated[str | None, AfterValidator(_printable)] = Field(
        None, min_length=1, max_length=20
    )


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
    duration: int = Field(ge=1, le=MAX_HORIZON)
    demand_multiplier: float = Field(1.0, ge=MULTIPLIER_MIN, le=MULTIPLIER_MAX)


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


DemandModel = Literal["fit", "bootstrap"]
Criterion = Literal["aic", "bic"]
Reliability = Literal["mle", "pessimistic"]


@dataclass(frozen=True, config=_LENIENT)
class DemandSettings:
    """The ``[demand]`` table: how ``history/demand.csv`` becomes each item's demand law.

    Attributes
    ----------
    model : {"fit", "bootstrap"}
        Fit a law per item (a supported family by maximum likelihood, or the compound
        law for intermittent items), or block-bootstrap the history
        (README "From history to a plan").
    criterion : {"aic", "bic"}
        The information criterion that picks the family.
    block : int or None
        Block length of the bootstrap; ``None`` chooses it per item.
    """

    model: DemandModel = "fit"
    criterion: Criterion = "aic"
    block: int | None = Field(None, ge=1, le=MAX_HORIZON)


@dataclass(frozen=True, config=_LENIENT)
class SupplierSettings:
    """The ``[suppliers]`` table: how ``history/deliveries.csv`` becomes each chain.

    Attributes
    ----------
    reliability : {"mle", "pessimistic"}
        Plan on the maximum-likelihood rates, or on their interval's worst ends.
    confidence : float
        Level of the Wilson intervals.
    min_events : int
        Disruptions and recoveries a record needs before it is trusted (else a warning).
    """

    reliability: Reliability = "mle"
    confidence: float = Field(0.95, gt=0, lt=1)
    min_events: int = Field(5, ge=1, le=100_000)


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
DemandTable = _strict_table(DemandSettings)
SupplierTable = _strict_table(SupplierSettings)


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

    name: Annotated[str | None, AfterValidator(_printable)] = Field(
        None, min_length=1, json_schema_extra={"hint": "leave it out to use the folder name"}
    )
    description: Annotated[str, AfterValidator(_printable_text)] = ""
    plan: PlanTable = Field(default_factory=PlanTable)  # type: ignore[valid-type]
    black_swan: BlackSwanTable | None = None  # type: ignore[valid-type]
    risk: RiskTable = Field(default_factory=RiskTable)  # type: ignore[valid-type]
    demand: DemandTable = Field(default_factory=DemandTable)  # type: ignore[valid-type]
    suppliers: SupplierTable = Field(default_factory=SupplierTable)  # type: ignore[valid-type]

    def plan_settings(self) -> PlanSettings:
        """Return the ``[plan]`` table as :class:`PlanSettings`."""
        return PlanSettings(**self.plan.model_dump())

    def black_swan_settings(self) -> BlackSwan | None:
        """Return the ``[black_swan]`` table as :class:`BlackSwan` (None when absent)."""
        return None if self.black_swan is None else BlackSwan(**self.black_swan.model_dump())

    def risk_settings(self) -> RiskSettings:
        """Return the ``[risk]`` table as :class:`RiskSettings`."""
        return RiskSettings(**self.risk.model_dump())

    def demand_settings(self) -> DemandSettings:
        """Return the ``[demand]`` table as :class:`DemandSettings`."""
        return DemandSettings(**self.demand.model_dump())

    def supplier_settings(self) -> SupplierSettings:
        """Return the ``[suppliers]`` table as :class:`SupplierSettings`."""
        return SupplierSettings(**self.suppliers.model_dump())


TABLES: dict[str, type[BaseModel]] = {
    "plan": PlanTable,
    "black_swan": BlackSwanTable,
    "risk": RiskTable,
    "demand": DemandTable,
    "suppliers": SupplierTable,
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
        for kind, cls in (("gt", Gt), ("ge", Ge), ("lt", Lt), ("le", Le), ("tiny", Tiny)):
            if isinstance(meta, cls):
                bound[kind] = getattr(meta, kind)
    lower = bound.get("ge", bound.get("gt"))
    upper = bound.get("le", bound.get("lt"))
    if "tiny" in bound and upper is not None:
        return f"must be 0 or between {bound['tiny']:g} and {upper:g}"
    if lower is not None and upper is not None:
        if "ge" in bound and "le" in bound:
            return f"must be between {lower:g} and {upper:g}"
        low = f"at least {lower:g}" if "ge" in bound else f"greater than {lower:g}"
        high = f"at most {upper:g}" if "le" in bound else f"below {upper:g}"
        return f"must be {low} and {high}"
    if "gt" in bound:
        return f"must be greater than {lower:g}"
    if "ge" in bound:
        return "must be 0 or more" if lower == 0 else f"must be at least {lower:g}"
    if upper is not None:
        return f"must be at most {upper:g}" if "le" in bound else f"must be below {upper:g}"
    return ""
