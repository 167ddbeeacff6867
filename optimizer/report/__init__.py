"""Plan table, summary and their files (README "How to read the results").

:mod:`.tables` builds the plan table and its ERP fields; :mod:`.files` writes the output
folder all-or-nothing and records versions; :mod:`.html` and :mod:`.plots` render
report.html, :mod:`.workbook` builds plan.xlsx (matplotlib and openpyxl are imported only
when those are asked for). Every name importable from the former single module is re-exported
here.
"""

from optimizer.instance.tables import spreadsheet_safe
from optimizer.report.files import (
    RENAME_EXCHANGE,
    check_out,
    versions,
    write_outputs,
)
from optimizer.report.tables import (
    ERP_COLUMNS,
    JIC_MIN_COVER,
    JIT_MAX_COVER,
    plan_table,
    posture,
    reorder_point,
    with_erp_fields,
)

__all__ = [
    "ERP_COLUMNS",
    "JIC_MIN_COVER",
    "JIT_MAX_COVER",
    "RENAME_EXCHANGE",
    "check_out",
    "plan_table",
    "posture",
    "reorder_point",
    "spreadsheet_safe",
    "versions",
    "with_erp_fields",
    "write_outputs",
]
