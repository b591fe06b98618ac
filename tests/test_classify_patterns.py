"""The pattern table, case by case: real-looking messages from each adapter and their class."""

from __future__ import annotations

import pytest
from sluice.classify import FailureClass, PatternError, builtin_patterns, classify_message
from sluice.classify.patterns import parse_patterns

T = FailureClass.TRANSIENT
SRC = FailureClass.SOURCE_UNAVAILABLE
SCH = FailureClass.SCHEMA_CHANGE
AUTH = FailureClass.AUTHORIZATION
DQ = FailureClass.DATA_QUALITY
PART = FailureClass.PARTIAL_LOAD
UNK = FailureClass.UNKNOWN

# (adapter, message, sources the node reads, expected class)
CASES = [
    # --- DuckDB
    (
        "duckdb",
        "Runtime Error in model orders (models/orders.sql)\n  IO Error: Could not set lock on "
        'file "/data/warehouse.duckdb": Conflicting lock is held in /usr/bin/python3.11 '
        "(PID 4242). "
        "See also https://duckdb.org/docs/current/connect/concurrency",
        (),
        T,
    ),
    (
        "duckdb",
        'TransactionContext Error: Catalog write-write conflict on create with "orders"',
        (),
        T,
    ),
    (
        "duckdb",
        'Binder Error: Referenced column "email" not found in FROM clause!\nCandidate '
        'bindings: "name"',
        (),
        SCH,
    ),
    ("duckdb", "Conversion Error: Could not convert string 'abc' to INT32", (), SCH),
    (
        "duckdb",
        "Binder Error: No function matches the given name and argument types "
        "'+(VARCHAR, INTEGER_LITERAL)'.",
        (),
        SCH,
    ),
    (
        "duckdb",
        "Catalog Error: Table with name raw_orders does not exist!\nDid you mean "
        '"raw_order_lines"?',
        ("raw_orders",),
        SRC,
    ),
    ("duckdb", "Catalog Error: Table with name stg_orders does not exist!", ("raw_orders",), SCH),
    ("duckdb", 'IO Error: Cannot open file "/data/x.parquet": Permission denied', (), AUTH),
    # --- PostgreSQL
    (
        "postgres",
        "Database Error in model orders (models/orders.sql)\n  could not obtain lock on "
        'relation "orders"',
        (),
        T,
    ),
    ("postgres", "canceling statement due to lock timeout", (), T),
    ("postgres", "could not serialize access due to concurrent update", (), T),
    (
        "postgres",
        "deadlock detected\nDETAIL:  Process 123 waits for ShareLock on transaction "
        "456; blocked by process 789.",
        (),
        T,
    ),
    ("postgres", "canceling statement due to statement timeout", (), T),
    (
        "postgres",
        "server closed the connection unexpectedly\n\tThis probably means the server "
        "terminated abnormally",
        (),
        T,
    ),
    ("postgres", "FATAL:  the database system is in recovery mode", (), T),
    ("postgres", 'column "email" does not exist\nLINE 3:     email,', (), SCH),
    ("postgres", 'column "email" of relation "customers" does not exist', (), SCH),
    ("postgres", "operator does not exist: text = integer\nHINT:  No operator matches", (), SCH),
    ("postgres", 'invalid input syntax for type integer: "N/A"', (), SCH),
    (
        "postgres",
        'relation "raw.orders" does not exist\nLINE 5: from "raw"."orders"',
        ("orders", "raw.orders"),
        SRC,
    ),
    ("postgres", 'relation "analytics.stg_orders" does not exist', ("orders",), SCH),
    ("postgres", "permission denied for table orders", (), AUTH),
    ("postgres", "permission denied for schema raw", (), AUTH),
    ("postgres", 'role "transformer" does not exist', (), AUTH),
    ("postgres", 'FATAL:  password authentication failed for user "dbt"', (), AUTH),
    ("postgres", 'duplicate key value violates unique constraint "orders_pkey"', (), DQ),
    # --- Snowflake
    (
        "snowflake",
        "000625 (57014): Statement '01b2c3d4-0000-1111-0000-0001a2b3c4d5' has locked "
        "table 'ORDERS' in transaction 1700000000000 and this lock has not yet been released.",
        (),
        T,
    ),
    (
        "snowflake",
        "000630 (57014): Statement reached its statement or warehouse timeout of "
        "3,600 second(s) and was canceled.",
        (),
        T,
    ),
    ("snowflake", "Your statement '01b2' was canceled due to a timeout in queue", (), T),
    ("snowflake", "000606 (57P03): Warehouse 'TRANSFORMING' is suspended.", (), T),
    (
        "snowflake",
        "390114 (08001): Authentication token has expired.  The user must authenticate again.",
        (),
        AUTH,
    ),
    (
        "snowflake",
        "003001 (42501): SQL access control error: Insufficient privileges to operate "
        "on table 'ORDERS'",
        (),
        AUTH,
    ),
    (
        "snowflake",
        "250001: Role 'TRANSFORMER' specified in the connect string does not exist or "
        "not authorized.",
        (),
        AUTH,
    ),
    (
        "snowflake",
        "000904 (42000): SQL compilation error: error line 3 at position 4\ninvalid "
        "identifier 'EMAIL'",
        (),
        SCH,
    ),
    ("snowflake", "100038 (22018): Numeric value 'abc' is not recognized", (), SCH),
    (
        "snowflake",
        "002003 (42S02): SQL compilation error:\nObject 'RAW.ERP.ORDERS' does not "
        "exist or not authorized.",
        ("ORDERS", "RAW.ERP.ORDERS"),
        SRC,
    ),
    # --- BigQuery
    (
        "bigquery",
        "403 Exceeded rate limits: too many table update operations for this table.",
        (),
        T,
    ),
    (
        "bigquery",
        "400 Could not serialize access to table proj:ds.orders due to concurrent update",
        (),
        T,
    ),
    (
        "bigquery",
        "500 An internal error occurred and the request could not be completed. "
        "Error: 3144498; reason: backendError",
        (),
        T,
    ),
    (
        "bigquery",
        "Access Denied: Table proj:raw.orders: User does not have permission to query "
        "table proj:raw.orders",
        (),
        AUTH,
    ),
    ("bigquery", "('invalid_grant: Token has been expired or revoked.')", (), AUTH),
    ("bigquery", "400 Unrecognized name: email at [3:5]", (), SCH),
    ("bigquery", "No matching signature for operator = for argument types: STRING, INT64", (), SCH),
    (
        "bigquery",
        "404 Not found: Table proj:raw.orders was not found in location US",
        ("orders",),
        SRC,
    ),
    # --- Databricks / Spark
    (
        "databricks",
        "io.delta.exceptions.ConcurrentAppendException: Files were added to the root "
        "of the table by a concurrent update.",
        (),
        T,
    ),
    (
        "databricks",
        "TEMPORARILY_UNAVAILABLE: The service at /api/2.0/sql/statements is "
        "temporarily unavailable.",
        (),
        T,
    ),
    (
        "databricks",
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function "
        "parameter with name `email` cannot be resolved.",
        (),
        SCH,
    ),
    (
        "databricks",
        '[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] Cannot resolve "(id = name)"',
        (),
        SCH,
    ),
    (
        "databricks",
        "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have "
        "SELECT on Table 'main.raw.orders'.",
        (),
        AUTH,
    ),
    (
        "databricks",
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `raw`.`orders` cannot be found.",
        ("orders",),
        SRC,
    ),
    (
        "spark",
        "org.apache.spark.sql.AnalysisException: cannot resolve '`email`' given input "
        "columns: [id, name]",
        (),
        SCH,
    ),
    (
        "spark",
        "io.delta.exceptions.ConcurrentDeleteReadException: This transaction attempted "
        "to read one or more files that were deleted",
        (),
        T,
    ),
    # --- any adapter, and sluice itself
    ("redshift", "could not obtain lock on relation with OID 123", (), T),
    ("redshift", "Connection reset by peer", (), T),
    ("trino", "Query exceeded rate limit; try again later", (), T),
    (
        "duckdb",
        "Compilation Error in model orders\n  sluice gate held publication of model "
        "'orders': critical: 12 rows (1.20% of 1000) over the threshold of 0 rows [rule "
        "'order_id_present' (missing_required_field) 12 rows, 1.20%]. The last published data "
        "stays in place; the failing rows are in the quarantine.",
        (),
        DQ,
    ),
    (
        "snowflake",
        "Compilation Error in model orders\n  This model has an enforced contract "
        "that failed.\n  Please ensure the name, data_type, and number of columns in your "
        "contract match the columns in your model's definition.",
        (),
        SCH,
    ),
    ("databricks", "Some batches failed: partial load of model events", (), PART),
    ("duckdb", "Compilation Error in model x: 'dict object' has no attribute 'foo'", (), UNK),
]


@pytest.mark.parametrize(("adapter", "message", "sources", "expected"), CASES)
def test_builtin_table(adapter, message, sources, expected):
    cls, reason = classify_message(message, adapter, builtin_patterns(), sources)
    assert cls is expected, reason
    assert reason


def test_every_row_is_documented_and_every_adapter_is_covered():
    patterns = builtin_patterns()
    assert all(p.description for p in patterns)
    adapters = {p.adapter for p in patterns}
    assert {"*", "duckdb", "postgres", "snowflake", "bigquery", "databricks"} <= adapters
    assert {c for adapter, _, _, c in CASES} >= {T, SRC, SCH, AUTH, DQ, PART, UNK}


def test_adapter_rows_do_not_apply_to_other_adapters():
    message = "ConcurrentAppendException: Files were added"
    assert classify_message(message, "databricks", builtin_patterns())[0] is T
    assert classify_message(message, "postgres", builtin_patterns())[0] is UNK


def test_user_rows_are_tried_first():
    user = parse_patterns(
        [
            {
                "adapter": "*",
                "class": "transient",
                "regex": "ERP API returned 503",
                "description": "The ERP's extraction API is briefly down.",
            },
            {"adapter": "postgres", "class": "authorization", "regex": "deadlock detected"},
        ],
        "pyproject.toml",
    )
    patterns = (*user, *builtin_patterns())
    assert classify_message("ERP API returned 503", "duckdb", patterns)[0] is T
    assert classify_message("deadlock detected", "postgres", patterns)[0] is AUTH


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"class": "transient"}, "regex is required"),
        ({"class": "flaky", "regex": "x"}, "class must be one of"),
        ({"class": "dependency_failed", "regex": "x"}, "found from the graph"),
        ({"class": "transient", "regex": "("}, "invalid regex"),
        ({"class": "transient", "regex": "x", "adapterr": "duckdb"}, "unknown key"),
    ],
)
def test_invalid_rows_are_refused(row, error):
    with pytest.raises(PatternError, match=error):
        parse_patterns([row], "pyproject.toml")
