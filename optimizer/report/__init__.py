"""Plan table, summary and their files (README "How to read the results").

:mod:`.tables` builds the plan table; :mod:`.files` writes the output folder all-or-nothing
and records versions. Every name importable from the former single module is re-exported
here.
"""

from optimizer.instance.tables import spreadsheet_safe
from optimizer.report.files import (
    RENAME_EXCHANGE,
    check_out,
    versions,
    write_outputs,
)
from optimizer.report.tables import JIC_MIN_COVER, JIT_MAX_COVER, plan_table, posture

__all__ = [
    "JIC_MIN_COVER",
    "JIT_MAX_COVER",
    "RENAME_EXCHANGE",
    "check_out",
    "plan_table",
    "posture",
    "spreadsheet_safe",
    "versions",
    "write_outputs",
]
