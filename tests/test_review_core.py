"""The pure rules of review, as tables of cases: filters, requests, all-or-nothing decisions and
how values are shown."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sluice.errors import InputError
from sluice.review import core, render
from sluice.warehouse.identity import Identity

ANA = Identity("ana", None, "warehouse")

ROW = core.ExceptionRow(
    exception_id="e1",
    model_name="orders",
    model_unique_id="model.shop.orders",
    record_key="[4]",
    record_copy=1,
    rule_name="orders_customer_exists",
    error_class="reference_mismatch",
    severity="medium",
    route="manual_review",
    owner=None,
    status="open",
    attempt_count=1,
    first_seen_at=datetime(2024, 5, 1, 9, tzinfo=UTC),
    last_seen_at=None,
    status_changed_at=datetime(2024, 5, 1, 9, tzinfo=UTC),
    message=None,
    failed_column="customer_id",
    failed_value=None,
    source_system=None,
    target_system=None,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T09:30", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01 09:30:00Z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01T11:30:00+02:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        (None, None),
    ],
)
def test_since_is_utc(text, expected):
    assert core.parse_since(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "01/05/2024", ""])
def test_since_refuses_what_is_not_a_time(text):
    with pytest.raises(InputError, match="is not a date"):
        core.parse_since(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ("open",)),
        ("all", None),
        ("dead_letter", ("dead_letter",)),
        ("rejected, released,rejected", ("rejected", "released")),
    ],
)
def test_statuses(text, expected):
    assert core.parse_statuses(text, ("open",)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("opened", "unknown status 'opened'"), ("all,open", "cannot be combined"), (",", "empty")],
)
def test_statuses_refused(text, message):
    with pytest.raises(InputError, match=message):
        core.parse_statuses(text, ("open",))


NO_FILTERS = {"status": None, "model": None, "rule": None, "route": None, "since": None}


@pytest.mark.parametrize(
    ("action", "ids", "filters", "message"),
    [
        ("release", [], {}, "nothing to decide on"),
        ("release", [], {"model": "orders"}, "needs --status too .*--status open"),
        ("retry", [], {"rule": "r"}, "--status dead_letter,rejected,released"),
        ("release", ["e1"], {"status": "open"}, "ids or filters, not both"),
        ("release", [], {"status": "dead_letter"}, "not dead_letter; nothing recorded"),
        ("retry", [], {"status": "open,rejected"}, "not open"),
        ("reject", [], {"status": "open", "route": "dead_letter"}, "unknown route"),
        ("approve", ["e1"], {}, "unknown decision 'approve'"),
    ],
)
def test_requests_refused(action, ids, filters, message):
    with pytest.raises(InputError, match=message):
        core.check_request(action, ids, **{**NO_FILTERS, **filters})


def test_requests_accepted():
    assert core.check_request("release", ["e1"], **NO_FILTERS) is None
    selection = core.check_request(
        "retry", [], **{**NO_FILTERS, "status": "dead_letter,rejected", "model": "orders"}
    )
    assert selection == core.Selection(statuses=("dead_letter", "rejected"), model="orders")
    everything = core.check_request("retry", [], **{**NO_FILTERS, "status": "all"})
    assert everything is not None and everything.statuses is None


def test_decisions_are_all_or_nothing():
    released = replace(ROW, exception_id="e2", record_copy=2, status="released")
    with pytest.raises(InputError) as refused:
        core.plan_decisions(
            "release", [ROW, released], "ana", "r", asked="the ids given", identity=ANA
        )
    assert str(refused.value) == (
        "release refused, nothing recorded: 1 of the 2 exception(s) matching the ids given do not "
        "fit (only open exceptions can be released): e2 (orders, record [4] copy 2, "
        "orders_customer_exists) is released, not open"
    )
    with pytest.raises(InputError, match="no exception matches status open"):
        core.plan_decisions("reject", [], "ana", "r", asked="status open", identity=ANA)
    with pytest.raises(InputError, match="needs its author"):
        core.plan_decisions("reject", [ROW], " ", "r", asked="x", identity=ANA)
    many = [replace(ROW, exception_id=f"e{i}", status="open") for i in range(12)]
    with pytest.raises(InputError, match=r"12 of the 12 .* and 2 more"):
        core.plan_decisions("retry", many, "ana", "r", asked="x", identity=ANA)

    at = datetime(2024, 5, 2, tzinfo=UTC)
    decisions = core.plan_decisions(
        "retry", [released, released], " bo ", " why ", asked="x", identity=ANA, now=at
    )
    assert [
        (d.exception_id, d.decision, d.decided_by, d.reason, d.decided_at) for d in decisions
    ] == [("e2", "retry", "bo", "why", at)]


def test_nulls_are_shown_as_null_and_data_is_quoted():
    selection = core.Selection()
    text = render.list_text([ROW, replace(ROW, failed_value="NULL", failed_column=None)], selection)
    assert "owner NULL" in text and "customer_id = NULL" in text
    assert "failed_column NULL, failed_value 'NULL'" in text
    assert "record [4] copy 1" in text and "None" not in text
    assert render.quoted("it's") == "'it''s'"
    listed = json.loads(render.list_json([ROW]))
    assert listed[0]["owner"] is None and listed[0]["first_seen_at"] == "2024-05-01T09:00:00+00:00"
    detail = core.ExceptionDetail(exception=ROW, row_json=None, events=(), pending=())
    shown = render.show_text(detail)
    assert "row\n  NULL" in shown and "history (0 events)" in shown and "None" not in shown


@pytest.mark.parametrize(
    ("identity", "by", "check", "shown"),
    [
        (Identity("ana", "reviewer", "warehouse"), "ana", "matches", "ana, role reviewer"),
        # Snowflake upper-cases unquoted user names
        (Identity("ANA", "ANA", "warehouse"), " ana ", "matches", "ANA"),
        (Identity("ana", "ana", "warehouse"), "bo", "differs", "ana (differs from --by)"),
        (Identity("root", None, "os"), "root", "matches", "root (operating-system user)"),
        (Identity(None, None, "unknown"), "ana", "unverified", "not authenticated"),
    ],
)
def test_a_decision_records_who_the_warehouse_authenticated(identity, by, check, shown):
    (decision,) = core.plan_decisions(
        "release", [ROW], by, "r", asked="the ids given", identity=identity
    )
    assert decision.identity == identity and decision.identity_check == check
    assert shown in render.identity_text(decision.identity, decision.identity_check)
    assert render.identity_text(None, None) == "authenticated: not recorded"
