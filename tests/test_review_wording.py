"""The words `sluice review` prints about decisions: a refusal names the decision's past tense
as English spells it ("rejected", not the verb with a "d" added)."""

from __future__ import annotations

import json

import pytest
from sluice.cli import main
from sluice.errors import InputError
from sluice.review.core import ExceptionRow, plan_decisions
from sluice.warehouse.identity import Identity

from tests import scenario


def _row(status: str) -> ExceptionRow:
    return ExceptionRow(
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
        status=status,
        attempt_count=1,
        first_seen_at=None,
        last_seen_at=None,
        status_changed_at=None,
        message=None,
        failed_column=None,
        failed_value=None,
        source_system=None,
        target_system=None,
    )


@pytest.mark.parametrize(
    ("decision", "status", "rule"),
    [
        ("release", "dead_letter", "only open exceptions can be released"),
        ("reject", "dead_letter", "only open exceptions can be rejected"),
        ("retry", "open", "only dead_letter, rejected or released exceptions can be retried"),
    ],
)
def test_a_refusal_names_the_decision_in_the_past_tense(decision, status, rule):
    with pytest.raises(InputError) as refused:
        plan_decisions(
            decision,
            [_row(status)],
            "ana",
            "checked",
            asked="the ids given",
            identity=Identity("ana", None, "warehouse"),
        )
    assert f"({rule}):" in str(refused.value)


def test_reject_refused_on_the_command_line_says_rejected(make_project, capsys):
    project = make_project()
    # one attempt: the quarantine routes go to dead_letter at the first build
    scenario.setup(project, extra_meta="max_attempts: 1")
    project.dbt("build")
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    assert main(["review", "list", "--status", "dead_letter", "--format", "json", *flags]) == 0
    dead = json.loads(capsys.readouterr().out)
    assert dead, "the scenario sends rows to dead_letter"

    code = main(["review", "reject", dead[0]["exception_id"], "--by", "a", "--reason", "r", *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert "(only open exceptions can be rejected):" in err
    assert "rejectd" not in err
