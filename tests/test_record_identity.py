"""A record's identity comes from its values: a row with a NULL key part keeps its record when a
column changes type or a column is added, identical copies keep their copy numbers whatever the
order the rows arrive in, a quarantine written with the earlier identity of such rows keeps its
exceptions, and key text does not depend on the session's formats or time zone."""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from sluice.cli import main

from tests.dbt_harness import PACKAGES_YML, REPO, SNOWFLAKE_TOO, DbtProject

SCHEMA = """
seeds:
  - name: raw_events
    config: {column_types: {id: integer, name: varchar(20), v: integer}}
models:
  - name: events
    config:
      materialized: sluice
      meta: {sluice: {key: [id], attempt_interval: 0, gate: {high: none, medium: none, low: none}}}
"""
RULE_ON_V = """
    columns:
      - name: v
        data_tests:
          - sluice.sluice_expression:
              name: events_v_small
              arguments: {expression: "v < 100"}
"""


def _events_project(project: DbtProject, v_type: str, extra: str = "") -> None:
    """Model `events`, key `id`, one rule on v; `v_type` is v's type in the model, `extra` more
    columns of its select list."""
    project.write(
        "models/events.sql",
        f"select id, name, cast(v as {v_type}) as v{extra} from {{{{ ref('raw_events') }}}}\n",
    )
    project.write("models/schema.yml", SCHEMA + RULE_ON_V)


def _quarantine(project: DbtProject, model: str = "events") -> list[tuple]:
    return project.query(
        "select exception_id, record_key, record_copy, rule_name, status, attempt_count "
        f"from {{schema}}.{model}__quarantine order by rule_name, record_key, record_copy"
    )


@SNOWFLAKE_TOO
def test_a_null_key_record_keeps_its_identity_when_types_and_columns_change(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,name,v\n,ann,5\n,bob,500\n1,ok,5\n")
    _events_project(project, "integer")
    project.dbt("build")
    first = _quarantine(project)
    # two NULL-key rows, each its own record; bob's also fails the rule
    assert [(r[3], r[4], r[5]) for r in first] == [
        ("events_v_small", "open", 1),
        ("sluice_record_key", "open", 1),
        ("sluice_record_key", "open", 1),
    ]
    assert all(r[1].startswith("[null]#v") for r in first)

    # v becomes a double, then a decimal, and a column is added (NULL on the rows): same records,
    # one more attempt each, nothing withdrawn, nothing opened
    for attempt, (v_type, extra) in enumerate(
        [
            ("double precision" if engine == "postgres" else "double", ""),
            ("decimal(12, 2)", ", cast(null as varchar(10)) as note"),
        ],
        start=2,
    ):
        _events_project(project, v_type, extra)
        project.dbt("build")
        assert _quarantine(project) == [
            (eid, key, copy, rule, status, attempt) for eid, key, copy, rule, status, _ in first
        ], v_type
    assert project.query("select id from {schema}.events") == [(1,)]


@pytest.mark.parametrize(
    "engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_identical_copies_keep_their_copy_numbers_in_any_input_order(make_project, engine):
    project = make_project(engine)
    rows = ["1,same,5"] * 3 + ["2,same,5"] * 2 + [f"{i},row{i},5" for i in range(3, 40)]
    project.write(
        "models/events.sql",
        # the model's own order differs from build to build
        "select id, name, v from {{ ref('raw_events') }} order by random()\n",
    )
    project.write(
        "models/schema.yml",
        SCHEMA
        + """
    data_tests:
      - sluice.sluice_unique:
          name: events_id_unique
          arguments: {columns: [id]}
""",
    )
    shuffle = random.Random(7)
    seen = None
    for _ in range(5):
        shuffle.shuffle(rows)
        project.write("seeds/raw_events.csv", "id,name,v\n" + "\n".join(rows) + "\n")
        project.dbt("build")
        held = [(r[1], r[2], r[4]) for r in _quarantine(project)]
        # the repeats held are always the later copies, and no exception opened a second time
        assert held == [("[1]", 2, "open"), ("[1]", 3, "open"), ("[2]", 2, "open")]
        ids = [r[0] for r in _quarantine(project)]
        assert seen is None or ids == seen
        seen = ids
    assert project.query("select count(*) from {schema}.events") == [(39,)]


# The last release that identified a row with a NULL key part by `#` and the md5 of its row's JSON.
ROW_JSON_RELEASE = "4acc6353416c1c25b6be798d140380976c602d43"


def _package_at(commit: str, root: Path) -> Path:
    """The package as it was at `commit`, unpacked under root (from this repository's history)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "dbt_project.yml", "macros", "models"],
        check=True,
        capture_output=True,
    ).stdout
    target = root / f"sluice-{commit}"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _sluice(project: DbtProject, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


@SNOWFLAKE_TOO
def test_a_quarantine_keyed_by_the_row_json_keeps_its_exceptions(
    make_project, engine, tmp_path, capsys
):
    """Built first by the release that keyed NULL-key rows by their row's JSON, then by this
    one: the same exceptions, each moved to its identity by values with its attempts, no
    withdrawn and new pair in the quarantine, and the audit trail intact."""
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,name,v\n,ann,5\n,bob,500\n1,ok,5\n2,big,700\n")
    _events_project(project, "integer")
    project.write(
        "packages.yml", f"packages:\n  - local: {_package_at(ROW_JSON_RELEASE, tmp_path)}\n"
    )
    project.dbt("build")
    old = _quarantine(project)
    nulls = [r for r in old if r[1] != "[2]"]
    assert len(nulls) == 3 and all(r[1].startswith("[null]#") and "#v" not in r[1] for r in nulls)

    # this version
    shutil.rmtree(project.root / "dbt_packages")
    project.write("packages.yml", PACKAGES_YML)
    project._deps_done = False
    project.dbt("build")
    now = _quarantine(project)
    assert [(r[2], r[3], r[4], r[5]) for r in now] == [(r[2], r[3], r[4], 2) for r in old]
    assert len([r for r in now if r[1].startswith("[null]#v")]) == 3
    assert [r for r in now if r[1] == "[2]"] == [
        (eid, key, copy, rule, status, 2) for eid, key, copy, rule, status, _ in old if key == "[2]"
    ]
    # each move is in the history: the old exception's ends with it, the new one's starts with it
    moved = project.query(
        "select exception_id, from_status, to_status from {schema}.sluice_exception_events "
        "where event_type = 'rekeyed' order by to_status, exception_id"
    )
    assert sorted(m[0] for m in moved if m[2] == "withdrawn") == sorted(r[0] for r in nulls)
    assert sorted(m[0] for m in moved if m[2] == "open") == sorted(
        r[0] for r in now if r[1] != "[2]"
    )
    code, verified = _sluice(project, capsys, "audit", "verify")
    assert code == 0 and "intact" in verified, verified

    # the next build changes nothing more
    project.dbt("build")
    assert [r[:5] for r in _quarantine(project)] == [r[:5] for r in now]


def _row(payload: str) -> list[str]:
    return [name.lower() for name in json.loads(payload)]


@SNOWFLAKE_TOO
def test_evidence_lists_the_columns_in_the_model_s_order(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,name,v\n1,zed,500\n")
    _events_project(project, "integer", ", 'x' as a_first, 'y' as b_second")
    project.dbt("build")
    [(payload,)] = project.query("select row_json from {schema}.events__quarantine")
    assert _row(payload) == ["id", "name", "v", "a_first", "b_second"]


@SNOWFLAKE_TOO
def test_castable_dates_and_timestamps_hold_the_same_rows_on_every_engine(make_project, engine):
    project = make_project(engine)
    # d as a date, t as a timestamp: ISO 8601 only, the day existing in its month
    project.write(
        "seeds/raw_texts.csv",
        "id,d,t\n"
        "1,2024-01-03,2024-01-03\n"
        "2,2024-02-30,2024-02-30 10:00:00\n"
        "3,2024-01-03 10:00:00,2024-01-03T10:00:00Z\n"
        "4,03/01/2024,2024-01-03 10:00:00.123456+02:00\n"
        "5,2024-1-3,2024-01-03 24:00:00\n"
        "6,,Jan 3 2024\n"
        "7, 2024-01-03 ,2024-01-03 10:00\n",
    )
    project.write("models/texts.sql", "select id, d, t from {{ ref('raw_texts') }}\n")
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_texts
            config: {column_types: {id: integer, d: varchar(30), t: varchar(40)}}
        models:
          - name: texts
            config:
              materialized: sluice
              meta: {sluice: {key: [id], gate: {high: none, medium: none, low: none}}}
            columns:
              - name: d
                data_tests:
                  - sluice.sluice_castable: {name: texts_d_date, arguments: {data_type: date}}
              - name: t
                data_tests:
                  - sluice.sluice_castable: {name: texts_t_timestamp, arguments: {data_type: timestamp}}
        """,
    )
    project.dbt("build")
    held = project.query(
        "select rule_name, record_key from {schema}.texts__quarantine order by 1, 2"
    )
    assert held == [
        ("texts_d_date", "[2]"),
        ("texts_d_date", "[3]"),
        ("texts_d_date", "[4]"),
        ("texts_d_date", "[5]"),
        ("texts_t_timestamp", "[2]"),
        ("texts_t_timestamp", "[5]"),
        ("texts_t_timestamp", "[6]"),
    ]


@SNOWFLAKE_TOO
def test_a_held_build_counts_each_row_once_in_the_gate_the_run_and_the_payload(
    make_project, engine
):
    project = make_project(engine)
    # two rows with a NULL key break both not_null(id) and sluice_record_key (both high), one
    # more breaks the rule on v: three rows over a gate of one
    project.write("seeds/raw_events.csv", "id,name,v\n,ann,5\n,bob,500\n1,ok,5\n2,big,700\n")
    _events_project(project, "integer")
    project.write(
        "models/schema.yml",
        SCHEMA.replace("gate: {high: none, medium: none, low: none}", "gate: {high: 1}")
        + RULE_ON_V.replace(
            '{expression: "v < 100"}', '{expression: "v < 100", sluice_severity: high}'
        )
        + """
      - name: id
        data_tests:
          - sluice.sluice_not_null: {name: events_id_required}
""",
    )
    result = project.dbt("build", expect=1)
    message = result.result("events")["message"]
    assert "high: 3 rows" in message, message
    payload = json.loads(message.split("sluice-counts: ", 1)[1])
    assert (payload["rows_in"], payload["rows_held"], payload["gate_status"]) == (4, 3, "held")
    assert project.query(
        "select rows_in, rows_published, rows_held, gate_status from {schema}.sluice_runs"
    ) == [(4, 0, 3, "held")]


# The last release that wrote a date or timestamp key with the engine's cast to text.
SESSION_FORMAT_RELEASE = ROW_JSON_RELEASE
# What Snowflake's cast of a timestamp to text writes under its default output format
# (TIMESTAMP_NTZ_OUTPUT_FORMAT `YYYY-MM-DD HH24:MI:SS.FF3`); fakesnow writes DuckDB's text
# instead, so the earlier release is given Snowflake's text explicitly there.
SNOWFLAKE_CAST = (
    'else cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ") end"',
    'else to_char(cast(" ~ expr ~ " as timestamp_ntz), \'YYYY-MM-DD HH24:MI:SS.FF3\') end"',
)


@SNOWFLAKE_TOO
def test_keys_written_in_the_session_s_time_formats_keep_their_exceptions(
    make_project, engine, tmp_path, capsys
):
    """A key of a date and a timestamp, stored by the release that wrote them with the
    engine's cast (on Snowflake `2024-01-03 10:00:00.000`), then built by this one: each
    exception keeps its record, status and attempts under the explicit format, nothing is
    withdrawn or opened again, and the audit trail stays intact."""
    project = make_project(engine)
    project.write(
        "seeds/raw_stamps.csv",
        "d,t,v\n"
        "2024-01-03,2024-01-03 10:00:00,500\n"
        "2024-01-04,2024-01-04 00:00:00,700\n"
        "2024-01-05,2024-01-05 10:30:00.5,900\n"
        "2024-01-06,2024-01-06 11:00:00,5\n",
    )
    project.write("models/stamps.sql", "select d, t, v from {{ ref('raw_stamps') }}\n")
    project.write(
        "models/schema.yml",
        """
seeds:
  - name: raw_stamps
    config: {column_types: {d: date, t: timestamp, v: integer}}
models:
  - name: stamps
    config:
      materialized: sluice
      meta: {sluice: {key: [d, t], attempt_interval: 0, gate: {high: none, medium: none, low: none}}}
    columns:
      - name: v
        data_tests:
          - sluice.sluice_expression:
              name: stamps_v_small
              arguments: {expression: "v < 100"}
""",
    )
    package = _package_at(SESSION_FORMAT_RELEASE, tmp_path)
    if engine == "snowflake":
        identity = package / "macros" / "identity" / "_sluice_identity.sql"
        text = identity.read_text()
        assert text.count(SNOWFLAKE_CAST[0]) == 1
        identity.write_text(text.replace(*SNOWFLAKE_CAST))
    project.write("packages.yml", f"packages:\n  - local: {package}\n")
    project.dbt("build")
    old = _quarantine(project, "stamps")
    assert len(old) == 3
    if engine == "snowflake":
        assert '"2024-01-03 10:00:00.000"' in old[0][1], old

    # this version
    shutil.rmtree(project.root / "dbt_packages")
    project.write("packages.yml", PACKAGES_YML)
    project._deps_done = False
    project.dbt("build")
    now = _quarantine(project, "stamps")
    assert [r[1] for r in now] == [
        '["2024-01-03","2024-01-03 10:00:00"]',
        '["2024-01-04","2024-01-04"]',
        '["2024-01-05","2024-01-05 10:30:00.5"]',
    ]
    # the same exceptions, one more attempt each
    assert [(r[2], r[3], r[4], r[5]) for r in now] == [(r[2], r[3], r[4], 2) for r in old]
    if engine != "snowflake":
        # the engine's cast wrote the explicit format already: nothing moved
        assert [r[0] for r in now] == [r[0] for r in old]
    # nothing withdrawn, nothing opened again: the first build's three openings only
    assert project.query(
        "select from_status, to_status, count(*) from {schema}.sluice_exception_events "
        "where event_type = 'status' group by from_status, to_status"
    ) == [(None, "open", 3)]
    moved = project.query(
        "select count(*) from {schema}.sluice_exception_events where event_type = 'rekeyed'"
    )
    assert moved == [(4 if engine == "snowflake" else 0,)]
    code, verified = _sluice(project, capsys, "audit", "verify")
    assert code == 0 and "intact" in verified, verified

    # the next build changes nothing more
    project.dbt("build")
    assert [r[:5] for r in _quarantine(project, "stamps")] == [r[:5] for r in now]
