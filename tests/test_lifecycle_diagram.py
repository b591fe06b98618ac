"""docs/lifecycle.md draws the exception statuses and their transitions; real builds of the
scenario project (DuckDB) are driven through every transition drawn, and the history they
record must hold exactly the diagram's transitions, and every reviewer's decision applied."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests import scenario

DOC = Path(__file__).resolve().parents[1] / "docs" / "lifecycle.md"
STATUSES = {"open", "recovered", "released", "rejected", "dead_letter", "withdrawn"}
GATE = "{critical: 0, high: 50, medium: 50}"
ROW = "{id},C1,{status},10,2024-01-01,2024-01-01 10:00:00"
RULE = "orders_status_known"  # fails on status 'weird', route quarantine

# Each record's path, one status event per build that changes it (None: a new exception):
# B1 build (max_attempts 9), B2 (max 2), B3 (max 9), B4 (max 1); attempts count per build.
PATHS = {
    101: [(None, "open"), ("open", "released"), ("released", "open"), ("open", "dead_letter")],
    102: [(None, "open"), ("open", "rejected"), ("rejected", "open"), ("open", "dead_letter")],
    103: [(None, "open"), ("open", "recovered"), ("recovered", "open"), ("open", "dead_letter")],
    104: [(None, "open"), ("open", "withdrawn"), ("withdrawn", "open"), ("open", "dead_letter")],
    105: [
        (None, "open"),
        ("open", "dead_letter"),
        ("dead_letter", "open"),
        ("open", "dead_letter"),
    ],
    106: [(None, "open"), ("open", "dead_letter"), ("dead_letter", "recovered")],
    107: [(None, "open"), ("open", "dead_letter"), ("dead_letter", "withdrawn")],
    108: [(None, "open"), ("open", "recovered")],
    109: [(None, "open"), ("open", "recovered"), ("recovered", "dead_letter")],
    110: [(None, "open"), ("open", "withdrawn"), ("withdrawn", "dead_letter")],
    111: [(None, "open"), ("open", "released"), ("released", "dead_letter")],
    112: [(None, "open"), ("open", "rejected"), ("rejected", "dead_letter")],
    113: [(None, "dead_letter")],
    114: [(None, "open"), ("open", "released"), ("released", "recovered")],
    115: [(None, "open"), ("open", "rejected"), ("rejected", "recovered")],
    116: [(None, "open"), ("open", "released"), ("released", "withdrawn")],
    117: [(None, "open"), ("open", "rejected"), ("rejected", "withdrawn")],
}
# Each record's decisions, one `decided` event each, from the status the decision found to the
# one it set, whatever the same build then made of the exception (B4's retries end recovered,
# withdrawn or dead_letter).
RELEASED_THEN_RETRIED = [("open", "released"), ("released", "open")]
REJECTED_THEN_RETRIED = [("open", "rejected"), ("rejected", "open")]
DECIDED = {
    101: RELEASED_THEN_RETRIED,
    102: REJECTED_THEN_RETRIED,
    105: [("dead_letter", "open")],
    111: RELEASED_THEN_RETRIED,
    112: REJECTED_THEN_RETRIED,
    114: RELEASED_THEN_RETRIED,
    115: REJECTED_THEN_RETRIED,
    116: RELEASED_THEN_RETRIED,
    117: REJECTED_THEN_RETRIED,
}


def diagram_transitions(text: str) -> set[tuple[str | None, str]]:
    """The arrows of the mermaid stateDiagram-v2 block (``[*]`` as the source: None, new)."""
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)
    diagrams = [b for b in blocks if b.lstrip().startswith("stateDiagram-v2")]
    assert len(diagrams) == 1, "docs/lifecycle.md has one mermaid stateDiagram-v2"
    found: set[tuple[str | None, str]] = set()
    for line in diagrams[0].splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("%%"):
            continue
        arrow = re.fullmatch(r"(\[\*\]|\w+)\s*-->\s*(\w+)\s*(?::.*)?", line)
        assert arrow, f"not a transition: {line!r}"
        source = None if arrow[1] == "[*]" else arrow[1]
        found.add((source, arrow[2]))
    return found


def test_the_diagram_draws_statuses_only():
    drawn = diagram_transitions(DOC.read_text(encoding="utf-8"))
    assert {s for pair in drawn for s in pair if s is not None} == STATUSES
    assert {pair for path in PATHS.values() for pair in path} == drawn  # the plan covers it


def _meta(max_attempts: int) -> str:
    return f"max_attempts: {max_attempts}\n                  attempt_interval: 0"


def _settings(project, max_attempts: int) -> None:
    project.write(
        "models/schema.yml", scenario.schema_yml(gate=GATE, extra_meta=_meta(max_attempts))
    )


def _set_status(project, status: str, *ids: int) -> None:
    project.execute(
        f"update {{schema}}.raw_orders set status = '{status}' "
        f"where order_id in ({', '.join(map(str, ids))})"
    )


def _delete(project, *ids: int) -> None:
    project.execute(
        f"delete from {{schema}}.raw_orders where order_id in ({', '.join(map(str, ids))})"
    )


def _insert_failing(project, *ids: int) -> None:
    values = ", ".join(
        f"({i}, 'C1', 'weird', 10, '2024-01-01', cast('2024-01-01 10:00:00' as timestamp))"
        for i in ids
    )
    project.execute(
        "insert into {schema}.raw_orders (order_id, customer_id, status, amount, order_date, "
        f"loaded_at) values {values}"
    )


def _decide(project, decision: str, *ids: int) -> None:
    """Reviewers' decisions as rows of sluice_decisions, decided now (UTC)."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    for i in ids:
        exception_id = project.query(
            "select exception_id from {schema}.orders__quarantine "
            f"where record_key = '[{i}]' and rule_name = '{RULE}'"
        )[0][0]
        project.execute(
            "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
            "decision, decided_by, decided_at, reason) values "
            f"('{uuid.uuid4().hex}', '{exception_id}', 'model.sluice_test.orders', "
            f"'{decision}', 'ana', cast('{now}' as timestamp), 'lifecycle walk')"
        )


def test_builds_go_through_every_transition_drawn_and_no_other(make_project):
    drawn = diagram_transitions(DOC.read_text(encoding="utf-8"))
    project = make_project("duckdb")
    first = [i for i in PATHS if i not in (108, 113)]
    scenario.setup(
        project,
        orders=scenario.GOOD_ORDERS + [ROW.format(id=i, status="weird") for i in first],
        gate=GATE,
        extra_meta=_meta(9),
    )
    project.dbt("build")  # B1: every record fails once: new -> open

    # B2, max_attempts 2: the second attempt dead-letters 105-107; 108 is new
    _decide(project, "release", 101, 111, 114, 116)
    _decide(project, "reject", 102, 112, 115, 117)
    _set_status(project, "paid", 103, 109)
    _delete(project, 104, 110)
    _insert_failing(project, 108)
    _settings(project, 2)
    project.dbt("run", "-s", "orders")

    # B3, max_attempts 9: retries and re-failures re-open; fixed or gone dead letters close
    _decide(project, "retry", 101, 102, 105)
    _set_status(project, "weird", 103)
    _insert_failing(project, 104)
    _set_status(project, "paid", 106, 108)
    _delete(project, 107)
    _settings(project, 9)
    project.dbt("run", "-s", "orders")

    # B4, max_attempts 1: everything still failing is at the limit at once
    _decide(project, "retry", 111, 112, 114, 115, 116, 117)
    _set_status(project, "weird", 109)
    _insert_failing(project, 110, 113)
    _set_status(project, "paid", 114, 115)
    _delete(project, 116, 117)
    _settings(project, 1)
    project.dbt("run", "-s", "orders")

    clear = scenario.clear_keys(project)  # the history holds record keys as markers
    events = project.query(
        "select record_key, from_status, to_status from {schema}.sluice_exception_events "
        f"where event_type = 'status' and rule_name = '{RULE}' order by event_at"
    )
    walked = {i: [(f, t) for key, f, t in events if clear[key] == f"[{i}]"] for i in PATHS}
    assert walked == PATHS
    recorded = set(
        project.query(
            "select distinct from_status, to_status from {schema}.sluice_exception_events "
            "where event_type = 'status'"
        )
    )
    missing, undrawn = drawn - recorded, recorded - drawn
    assert not missing and not undrawn, (
        f"drawn, not recorded: {missing}; recorded, not drawn: {undrawn}"
    )

    # every decision applied is a `decided` event of its own, by the reviewer, with the reason,
    # beside the `status` event of the build that applied it (from the same status)
    decided = project.query(
        "select record_key, from_status, to_status, actor, reason, invocation_id "
        "from {schema}.sluice_exception_events "
        f"where event_type = 'decided' and rule_name = '{RULE}' order by event_at"
    )
    assert {i: [(f, t) for key, f, t, *_ in decided if clear[key] == f"[{i}]"] for i in PATHS} == {
        i: DECIDED.get(i, []) for i in PATHS
    }
    assert {(actor, reason) for *_, actor, reason, _ in decided} == {("ana", "lifecycle walk")}
    assert {(f, t) for _, f, t, *_ in decided} <= drawn
    applied = set(
        project.query(
            "select record_key, from_status, invocation_id from {schema}.sluice_exception_events "
            "where event_type = 'status'"
        )
    )
    assert all((key, f, inv) in applied for key, f, _, _, _, inv in decided), decided
