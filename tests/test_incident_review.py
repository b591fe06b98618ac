"""`sluice incidents review`: a post-incident review of one incident from the sealed records.

One history per engine: a build holds rows of `orders` and degrades the finance exposure (the
report opens incident A); a reviewer releases one held record; the exposure leaves the project
and the next build applies the release (the report closes A); the exposure comes back and the
next build's report opens incident B on the same culprit. The review of A lists exactly the
exception events of A's builds (compared with a query of its own), the release and who asked
for it, what is still open; the review of B names A as the earlier incident of the same rule.
"""

from __future__ import annotations

import json

import pytest
from sluice.cli import main

from tests import scenario
from tests.test_audit_incidents import EXPOSURES, ONLY_OPS

ORDERS = "model.sluice_test.orders"


def _cli(project, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _report(project, capsys) -> None:
    code, out, err = _cli(
        project, capsys, "report", "--format", "json",
        "--output-dir", str(project.root / "reports"),
        "--state-path", str(project.root / "state.json"),
    )  # fmt: skip
    assert code in (0, 1), out + err


def _invocation(result) -> str:
    assert result.run_results is not None, result.output
    return str(result.run_results["metadata"]["invocation_id"])


def _incidents(project) -> dict[str, str]:
    """opened change's invocation -> incident id."""
    return dict(
        project.query(
            "select invocation_id, incident_id from {schema}.sluice_incidents "
            "where change_type = 'opened'"
        )
    )


def _review(project, capsys, incident_id: str, fmt: str = "json"):
    return _cli(project, capsys, "incidents", "review", incident_id, "--format", fmt)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_review_lists_exactly_the_events_of_its_incident(make_project, capsys, engine) -> None:
    project = make_project(engine)
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    first = _invocation(project.dbt("build"))
    _report(project, capsys)
    (incident_a,) = _incidents(project).values()
    (held,) = project.query(
        "select exception_id from {schema}.orders__quarantine "
        "where status = 'open' and rule_name = 'orders_status_known'"
    )
    code, out, err = _cli(
        project, capsys, "review", "release", held[0], "--by", "ana", "--reason", "FIN-12 fixed"
    )
    assert code == 0, out + err
    project.write("models/exposures.yml", ONLY_OPS)
    second = _invocation(project.dbt("run", "-s", "orders"))
    _report(project, capsys)  # closes A: the exposure left the project
    project.write("models/exposures.yml", EXPOSURES)
    third = _invocation(project.dbt("run", "-s", "orders"))
    _report(project, capsys)  # opens B
    incident_b = _incidents(project)[third]

    code, out, err = _review(project, capsys, incident_a)
    assert code == 0, err
    review = json.loads(out)
    # the events of A: those of the builds from its opening to its closing, of its models
    models = [
        m for (m,) in project.query(
            "select distinct node_unique_id from {schema}.sluice_incident_causes "
            f"where incident_id = '{incident_a}' and resource_type = 'model'"
        )
    ]  # fmt: skip
    assert models == [ORDERS]
    expected = project.query(
        "select event_id from {schema}.sluice_exception_events "
        f"where model_unique_id = '{ORDERS}' and invocation_id in ('{first}', '{second}')"
    )
    assert sorted(e["event_id"] for e in review["events"]) == sorted(e for (e,) in expected)
    assert len(expected) > 0 and {e["invocation_id"] for e in review["events"]} == {first, second}
    assert review["incident_id"] == incident_a and review["open"] is False
    assert review["close_reason"] == "exposure_removed"
    assert review["exposure"]["name"] == "finance" and review["exposure"]["owners"] == "Finance"
    assert review["detection"]["build"] == first
    assert "orders_status_known" in review["detection"]["rules"]
    assert review["detection"]["delay_seconds"] >= 0
    assert [b["model"] for b in review["detection"]["builds"]] == ["orders"]
    # the release, by whom, and applied by the second build
    (action,) = review["recovery_actions"]
    assert action["exception_id"] == held[0] and action["to_status"] == "released"
    assert action["requested_by"] and action["reason"] == "FIN-12 fixed"
    assert action["decision_id"]
    # still open: the exceptions of A not decided, as the quarantine has them now
    open_now = project.query(
        "select exception_id from {schema}.orders__quarantine "
        "where status in ('open', 'dead_letter') and exception_id in (select exception_id "
        "from {schema}.sluice_exception_events "
        f"where invocation_id in ('{first}', '{second}'))"
    )
    assert sorted(s["exception_id"] for s in review["still_open"]) == sorted(e for (e,) in open_now)
    assert held[0] not in {s["exception_id"] for s in review["still_open"]}
    assert len(review["still_open"]) > 0
    # record keys in clear, from the quarantine: the history keeps only their markers
    keys = dict(project.query("select exception_id, record_key from {schema}.orders__quarantine"))
    for entry in review["events"] + review["still_open"]:
        assert entry["record_key"] == keys[entry["exception_id"]], entry
    assert review["recurring"] == []

    code, out, err = _review(project, capsys, incident_b)
    assert code == 0, err
    review_b = json.loads(out)
    assert review_b["open"] is True
    assert {e["invocation_id"] for e in review_b["events"]} <= {third}
    # the same exceptions still hold B's exposure back
    assert sorted(s["exception_id"] for s in review_b["still_open"]) == sorted(
        s["exception_id"] for s in review["still_open"]
    )
    recurring = {r["culprit"]: r for r in review_b["recurring"]}
    assert recurring and all(r["earlier_incidents"] == [incident_a] for r in recurring.values())

    code, md, err = _review(project, capsys, incident_a, "md")
    assert code == 0, err
    assert md.startswith(f"# Incident {incident_a}: ") and "## Recovery actions" in md
    assert "FIN-12 fixed" in md and "None" not in md


def test_an_unknown_incident_is_a_clear_error(make_project, capsys) -> None:
    project = make_project("duckdb")
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    project.dbt("build")
    _report(project, capsys)
    code, out, err = _review(project, capsys, "inc_nope")
    assert code == 2 and out == ""
    assert "no incident 'inc_nope' is recorded" in err


def _event(event_id: str, exception_id: str, at, invocation: str, **kw):
    from sluice.incident_review.core import ExceptionEvent

    base = dict(
        event_id=event_id, exception_id=exception_id, model_unique_id="model.shop.orders",
        model_name="orders", record_key="[1]", record_copy=1,
        rule_name="orders_customer_required", error_class="missing_required_field",
        severity="high", route="quarantine", from_status=None, to_status="open",
        event_type="status", event_at=at, invocation_id=invocation, actor="sluice", reason=None,
    )  # fmt: skip
    base.update(kw)
    return ExceptionEvent(**base)


def test_the_review_of_a_known_history() -> None:
    """Pure: the span, the events in it, the decision matched with its approvals, what is still
    open, the earlier incident of the same rule; an unknown id is refused."""
    from datetime import timedelta

    from sluice.incident_review.core import StillOpen, UnknownIncident, find_incident, review
    from sluice.incidents import assemble
    from sluice.review.core import Approval, Requested
    from sluice.warehouse.identity import Identity

    from tests.incident_cases import ORDERS as ORDERS_ROOT
    from tests.incident_cases import T0, exposure, run

    history: list = []
    run(history, "i1", 0, exposure("finance", ORDERS_ROOT))
    run(history, "i2", 2, exposure("finance"))  # closed: recovered
    run(history, "i3", 5, exposure("finance", ORDERS_ROOT))  # opened again
    first, second = sorted(assemble(history), key=lambda i: i.opened_at)
    hour = timedelta(hours=1)
    decided_at = T0 + hour
    events = [
        _event("before", "x0", T0 - hour, "i0"),
        _event("e1", "x1", T0 - timedelta(minutes=5), "i1"),
        _event("e2", "x2", T0 - timedelta(minutes=4), "i1", rule_name="orders_status_known"),
        _event(
            "d1",
            "x1",
            decided_at,
            "i2",
            event_type="decided",
            from_status="open",
            to_status="released",
            actor="ana",
            reason="FIN-12",
        ),
        _event("s1", "x1", T0 + 2 * hour, "i2", from_status="open", to_status="released"),
        _event("after", "x3", T0 + 5 * hour, "i3"),
    ]
    request = Requested(
        "dec1", "x1", "model.shop.orders", "release", "ana", decided_at, "FIN-12", "ana_login",
        (Approval("a1", "dec1", "model.shop.orders", "approve", "bo", decided_at, "ok",
                  Identity("bo_login", None, "session")),),
    )  # fmt: skip

    def still(exception_id: str, first_seen):
        return StillOpen(exception_id, "model.shop.orders", "orders", "orders_customer_required",
                         "[1]", "open", first_seen, first_seen)  # fmt: skip

    # x2 opened before the first incident closed; x3 only after it
    open_now = [still("x2", T0 - timedelta(minutes=4)), still("x3", T0 + 5 * hour)]
    found = review(
        first, others=[first, second], opening_runs=[], events=events, alerts=[],
        requests=[request], open_now=open_now, now=T0 + 10 * hour,
    )  # fmt: skip
    # the span starts at the opening (no build recorded): e1 and e2 came before it
    assert [e.event_id for e in found.events] == ["d1", "s1"]
    (action,) = found.actions
    assert action.decision_id == "dec1" and action.requested_by == "ana_login"
    assert action.approved_by == ("bo_login",)
    assert [x.exception_id for x in found.still_open] == ["x2"] and found.recurring == ()
    assert found.affected_seconds == 2 * 3600
    later = review(
        second, others=[first, second], opening_runs=[], events=events, alerts=[],
        requests=[], open_now=open_now, now=T0 + 10 * hour,
    )  # fmt: skip
    assert [e.event_id for e in later.events] == ["after"]
    assert [x.exception_id for x in later.still_open] == ["x2", "x3"]
    (again,) = later.recurring
    assert again.cause.culprit_name == "orders_customer_required"
    assert again.earlier == (first.incident_id,) and again.cause.incidents == 2
    with pytest.raises(UnknownIncident, match="no incident 'inc_nope'"):
        find_incident(history, "inc_nope")
