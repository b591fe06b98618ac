"""Incidents as a pure function of the recorded history and one report's impact: opened,
updated, closed, left alone, and never recorded twice for one invocation; and the patterns
computed over a known history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sluice.incidents import (
    Change,
    CloseReason,
    HeldRun,
    IncidentChange,
    assemble,
    held_rows,
    patterns,
    recovery,
    recurring_causes,
    track,
)

from tests.incident_cases import ERP, INVOICES, ORDERS, T0, exposure, impact, root, run, with_roots


def test_open_update_close_and_reopen() -> None:
    history: list[IncidentChange] = []
    opened = run(history, "i1", 0, exposure("finance", ORDERS), exposure("ops"))
    assert [(c.change_type, c.exposure_name, c.status) for c in opened] == [
        (Change.OPENED, "finance", "degraded")
    ]
    first = opened[0]
    assert first.previous_status is None and first.opened_at == T0 and first.closed_at is None
    assert first.root_cause_ids == ("rows_held:model.shop.orders",)
    assert first.fix_owners == "crm" and first.owners == "Finance"
    assert first.rows_held_upstream == 3
    assert [(c.rule_name, c.owner, c.culprit_type) for c in first.causes] == [
        ("orders_customer_required", "crm", "rule")
    ]

    # same status, same root causes: nothing
    assert run(history, "i2", 1, exposure("finance", ORDERS), exposure("ops")) == ()

    # worse status and a new root cause: one update, same incident
    updated = run(history, "i3", 2, exposure("finance", ORDERS, INVOICES), exposure("ops"))
    assert [(c.change_type, c.status, c.previous_status) for c in updated] == [
        (Change.UPDATED, "stale", "degraded")
    ]
    assert updated[0].incident_id == first.incident_id and updated[0].opened_at == T0

    # same status, other root causes: an update too
    swapped = run(history, "i4", 3, exposure("finance", INVOICES), exposure("ops"))
    assert [(c.change_type, c.root_cause_ids) for c in swapped] == [
        (Change.UPDATED, ("gate_held:model.shop.invoices",))
    ]

    closed = run(history, "i5", 5.5, exposure("finance"), exposure("ops"))
    assert [(c.change_type, c.status, c.close_reason) for c in closed] == [
        (Change.CLOSED, "healthy", CloseReason.RECOVERED)
    ]
    assert closed[0].duration_seconds == 5.5 * 3600
    assert closed[0].closed_at == T0 + timedelta(hours=5.5) and closed[0].root_cause_ids == ()

    reopened = run(history, "i6", 7, exposure("finance", ERP), exposure("ops"))
    assert [c.change_type for c in reopened] == [Change.OPENED]
    assert reopened[0].incident_id != first.incident_id
    assert [c.culprit_type for c in reopened[0].causes] == ["source"]

    incidents = assemble(history)
    assert [(i.is_open, len(i.changes)) for i in incidents] == [(True, 1), (False, 4)]
    assert incidents[1].worst_status == "stale"


def test_reporting_an_invocation_again_records_nothing() -> None:
    history: list[IncidentChange] = []
    run(history, "i1", 0, exposure("finance", ORDERS))
    assert run(history, "i1", 0, exposure("finance", ORDERS)) == ()
    # even if the same invocation is reported with another picture (a later state file)
    assert run(history, "i1", 0, exposure("finance")) == ()
    closed = run(history, "i2", 1, exposure("finance"))
    assert [c.change_type for c in closed] == [Change.CLOSED]
    assert run(history, "i2", 1, exposure("finance")) == ()
    assert len(history) == 2


def test_an_older_invocation_than_the_history_records_nothing() -> None:
    history: list[IncidentChange] = []
    run(history, "late", 5, exposure("finance", ORDERS))
    assert run(history, "early", 1, exposure("finance")) == ()
    assert run(history, "early", 1, exposure("finance", INVOICES)) == ()


def test_an_exposure_that_leaves_the_project_closes_its_incident() -> None:
    history: list[IncidentChange] = []
    run(history, "i1", 0, exposure("finance", ORDERS), exposure("ops", ERP))
    closed = run(history, "i2", 2, exposure("finance", ORDERS))
    assert [(c.exposure_name, c.change_type, c.close_reason, c.status) for c in closed] == [
        ("ops", Change.CLOSED, CloseReason.EXPOSURE_REMOVED, None)
    ]
    assert closed[0].duration_seconds == 7200


def test_every_non_healthy_status_opens_an_incident() -> None:
    for problem in (ORDERS, INVOICES, ERP, root("error", "model.shop.base")):
        history: list[IncidentChange] = []
        found = with_roots(impact("i1", T0, exposure("finance", problem)), problem)
        changes = track(history, found)
        assert [(c.change_type, c.status) for c in changes] == [
            (Change.OPENED, problem.effect.value)
        ]


@pytest.fixture
def known_history() -> list[IncidentChange]:
    """Three exposures over ten days (hours from T0):
    finance: opened 0 (orders), closed 2; opened 48 (orders + invoices), closed 54
    ops:     opened 10 (orders), still open
    crm:     opened -1000 (erp source), closed -990: outside a 30-day window
    """
    history: list[IncidentChange] = []
    run(history, "a", -1000, exposure("crm", ERP, owner="Sales"))
    run(history, "b", -990, exposure("crm", owner="Sales"))
    run(history, "c", 0, exposure("finance", ORDERS))
    run(history, "d", 2, exposure("finance"))
    run(history, "e", 10, exposure("finance"), exposure("ops", ORDERS, owner="Ops"))
    run(
        history,
        "f",
        48,
        exposure("finance", ORDERS, INVOICES),
        exposure("ops", ORDERS, owner="Ops"),
    )
    run(history, "g", 54, exposure("finance"), exposure("ops", ORDERS, owner="Ops"))
    return history


def test_recurring_causes_recovery_and_held_rows(known_history: list[IncidentChange]) -> None:
    until = T0 + timedelta(hours=60)
    since = until - timedelta(days=30)
    incidents = assemble(known_history)
    causes = recurring_causes(incidents, since)
    assert [(c.culprit_type, c.culprit_name, c.incidents, c.open_incidents) for c in causes] == [
        ("rule", "orders_customer_required", 3, 1),
        ("rule", "amount_required", 1, 0),
    ]
    assert causes[0].exposures == ("exposure.shop.finance", "exposure.shop.ops")
    assert causes[0].owner == "crm"
    every = recurring_causes(incidents, T0 - timedelta(days=365))
    assert ("source", "orders", 1) in [(c.culprit_type, c.culprit_name, c.incidents) for c in every]

    by_exposure, by_owner = recovery(incidents, since, until)
    finance = next(r for r in by_exposure if r.key == "exposure.shop.finance")
    assert (finance.recovered, finance.mean_seconds, finance.max_seconds) == (2, 4 * 3600, 6 * 3600)
    assert finance.open_incidents == 0 and finance.open_longest_seconds is None
    ops = next(r for r in by_exposure if r.key == "exposure.shop.ops")
    assert (ops.recovered, ops.open_incidents, ops.open_longest_seconds) == (0, 1, 50 * 3600)
    assert "exposure.shop.crm" not in {r.key for r in by_exposure}  # recovered before the window
    assert [(r.key, r.recovered, r.open_incidents) for r in by_owner] == [
        ("Ops", 0, 1),
        ("Finance", 2, 0),
    ]

    runs = [
        HeldRun("model.shop.orders", "orders", T0 + timedelta(hours=h), held, gate)
        for h, held, gate in ((0, 5, False), (3, 2, False), (24, 7, True), (25, 0, False))
    ] + [HeldRun("model.shop.clean", "clean", T0, 0, False)]
    series = held_rows(runs, since)
    assert [s.model_name for s in series] == ["orders"]
    assert [
        (d.day, d.rows_held, d.max_rows_held, d.builds, d.gates_held) for d in series[0].days
    ] == [
        (date(2026, 3, 2), 2, 5, 2, 0),
        (date(2026, 3, 3), 0, 7, 2, 1),
    ]
    assert held_rows(runs, T0 + timedelta(hours=30)) == ()

    found = patterns(incidents, runs, until=until, window=timedelta(days=30))
    assert found.causes == causes and found.held_rows == series
    assert found.window_days == 30
