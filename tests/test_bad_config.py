"""Bad configuration fails at compile time with a message naming the model, the rule and the key."""

from __future__ import annotations

import re

import pytest

from tests import scenario


def _edit(project, pattern, replacement):
    path = project.root / "models" / "schema.yml"
    text = path.read_text()
    new = re.sub(pattern, replacement, text, count=1)
    assert new != text, pattern
    path.write_text(new)


CASES = [
    (
        "unknown severity",
        r"sluice_severity: high",
        "sluice_severity: urgent",
        [
            "'orders'",
            "'orders_customer_required'",
            "'sluice_severity'",
            "unknown severity 'urgent'",
        ],
    ),
    (
        "unknown route",
        r"route: flag",
        "route: shred",
        ["'orders'", "'orders_amount_positive'", "'route'", "unknown route 'shred'"],
    ),
    (
        "dead letter is not chosen",
        r"route: flag",
        "route: dead_letter",
        ["'orders'", "'orders_amount_positive'", "'route'", "'dead_letter'"],
    ),
    (
        "unknown class",
        r"( +)route: flag",
        r"\1route: flag\n\1error_class: oops",
        ["'orders'", "'orders_amount_positive'", "'error_class'", "unknown error class 'oops'"],
    ),
    (
        "missing column",
        r"- name: status\n",
        "- name: statuz\n",
        ["'orders'", "'orders_status_known'", "'column_name'", "'statuz' is not a column"],
    ),
    (
        "no key",
        r"key: order_id",
        "description: no key",
        ["'orders'", "'meta.sluice.key'", "record key"],
    ),
    (
        "threshold that is not a number",
        r"gate: \{critical: 0, high: 5, medium: 5\}",
        "gate: {critical: 0, high: lots}",
        ["'orders'", "'gate.high'", "'lots'", "neither a row count nor a share"],
    ),
    (
        "threshold that is a fraction",
        r"gate: \{critical: 0, high: 5, medium: 5\}",
        "gate: {critical: 0, high: 2.5}",
        ["'orders'", "'gate.high'", "'2.5'"],
    ),
    (
        "unknown gate severity",
        r"gate: \{critical: 0, high: 5, medium: 5\}",
        "gate: {critical: 0, urgent: 5}",
        ["'orders'", "'gate.urgent'", "unknown severity"],
    ),
    (
        "unknown model setting",
        r"( +)key: order_id",
        r"\1key: order_id\n\1gates: {}",
        ["'orders'", "'meta.sluice.gates'", "unknown setting"],
    ),
]


@pytest.mark.parametrize(
    ("case", "pattern", "replacement", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_config_is_a_clear_compile_error(make_project, case, pattern, replacement, expected):
    project = make_project("duckdb")
    scenario.setup(project)
    _edit(project, pattern, replacement)
    result = project.dbt("build", expect=None)
    assert result.returncode in (1, 2), result.output
    assert "Compilation Error" in result.output, result.output[-3000:]
    for part in expected:
        assert part in result.output, (part, result.output[-3000:])
    assert not project.relation_exists("orders") if result.returncode == 1 else True
