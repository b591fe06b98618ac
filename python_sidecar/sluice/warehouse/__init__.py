"""The one door to the warehouse: the project's dbt adapter, and the package's tables.

Importing this package is cheap; dbt's adapter machinery is imported when :func:`connect` is
called.
"""

from sluice.impact.model import RuleCount  # the domain's type, read from sluice_runs
from sluice.warehouse.connection import Warehouse, connect, preload, split_relation
from sluice.warehouse.records import RUN_COLUMNS, RunRecord, parse_rule_counts
from sluice.warehouse.sluice_tables import (
    RunsTable,
    last_passed,
    quarantine_relations,
    query_relation,
    read_runs,
    relation_exists,
    runs_table,
)

__all__ = [
    "RUN_COLUMNS",
    "RuleCount",
    "RunRecord",
    "RunsTable",
    "Warehouse",
    "connect",
    "last_passed",
    "parse_rule_counts",
    "preload",
    "quarantine_relations",
    "query_relation",
    "read_runs",
    "relation_exists",
    "runs_table",
    "split_relation",
]
