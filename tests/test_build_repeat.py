"""A transient failure that repeats identically stops the retries early, and says so.

The rule is a pure function over the attempts' classified failures (tested as a table); then a
real statement timeout on the PostgreSQL test server, hit by the same node on every attempt.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sluice.build import build
from sluice.classify import Failure, FailureClass
from sluice.retry.plan import repeated_failures, stop_repeating

from tests.dbt_harness import PG_DBNAME, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER


def failure(uid: str, message: str, cls: str = "transient", resource_type: str = "model"):
    own = FailureClass(cls)
    return Failure(uid, uid.split(".")[-1], resource_type, "error", own, message, "", (), own)


A1, A2 = failure("model.p.a", "timeout"), failure("model.p.a", "timeout")
A_OTHER = failure("model.p.a", "lock held by 42")
B = failure("model.p.b", "timeout")
START = failure("invocation.p", "Connection refused", resource_type="invocation")
SCHEMA = failure("model.p.s", "column x does not exist", "schema_change")


@pytest.mark.parametrize(
    ("history", "limit", "repeated", "stop"),
    [
        ([[A1], [A2]], 2, {"model.p.a": 2}, True),
        ([[A1], [A2]], 3, {}, False),
        ([[A1], [A2], [A1]], 3, {"model.p.a": 3}, True),
        ([[A1], [A2]], 0, {}, False),  # 0: never stop early
        ([[A1], [A_OTHER]], 2, {}, False),  # a different message is news
        ([[A_OTHER], [A1], [A2]], 2, {"model.p.a": 2}, True),
        ([[A1], [START], [A2]], 2, {"model.p.a": 2}, True),  # a failed start ran no node
        ([[A1], [A2], [START]], 2, {}, False),  # the last attempt ran nothing to compare
        ([[A1, B], [A2]], 2, {"model.p.a": 2}, True),
        ([[A1], [A2, B]], 2, {"model.p.a": 2}, False),  # b is new: retry both again
        ([[A1, SCHEMA], [A2, SCHEMA]], 2, {"model.p.a": 2}, True),
        ([[START], [START]], 2, {}, False),  # an unreachable warehouse: only the budget stops
    ],
)
def test_the_repeat_rule(history, limit, repeated, stop):
    found = repeated_failures(history, limit)
    assert found == repeated
    assert stop_repeating(history[-1], found) is stop


# --- a real statement timeout ------------------------------------------------------------------

PROJECT = """
name: repeat
version: "1.0"
config-version: 2
profile: repeat
model-paths: ["models"]
test-paths: ["data_tests"]
"""

# A real statement timeout, every time the model runs.
TIMES_OUT = """
{{ config(materialized='table') }}
{% if execute %}{% do run_query("set statement_timeout = 200") %}{% endif %}
select length(pg_sleep(3)::text) as slept
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the tests using it are marked `postgres`: skipped without the server, failed under CI=true
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    for name in ("SLUICE_REPEAT_LIMIT", "SLUICE_WEBHOOK_URL", "SLUICE_ALERT_MIN_PRIORITY"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "repeat"
    (root / "models").mkdir(parents=True)
    schema = "rep_" + uuid.uuid4().hex[:10]
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(
        "repeat:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        f"      host: {PG_HOST}\n      port: {PG_PORT}\n      user: {PG_USER}\n"
        f"      password: {PG_PASSWORD}\n      dbname: {PG_DBNAME}\n      schema: {schema}\n"
        "      threads: 1\n"
    )
    (root / "models" / "slow_report.sql").write_text(TIMES_OUT)
    yield root
    import psycopg2

    conn = psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"drop schema if exists {schema} cascade")
    conn.close()


def run(root: Path, sleeps: list[float], **kwargs):
    kwargs.setdefault("max_attempts", 5)
    return build(
        root,
        ["--profiles-dir", str(root)],
        sleeper=sleeps.append,
        uniform=lambda: 0.5,
        base_delay=1,
        report=False,
        log_dbt_output=True,
        **kwargs,
    )


@pytest.mark.postgres
def test_a_timeout_that_repeats_stops_early_with_a_next_step_that_says_so(project):
    sleeps: list[float] = []
    result = run(project, sleeps)

    assert len(result.attempts) == 2 and sleeps == [0.5]  # of the 5 attempts allowed
    assert result.stopped_because == "repeated_failure"
    assert result.exit_code == 3  # still transient: run again later
    [timeout] = result.root_failures
    assert timeout.failure_class is FailureClass.TRANSIENT and timeout.repeated == 2
    assert "statement timeout" in timeout.message
    [escalation] = result.escalations
    assert escalation.failure_class == "transient"
    assert escalation.action == "escalate_repeated" and "same way" in escalation.rule
    alerts = json.loads((project / "target" / "sluice" / "alerts.json").read_text())
    assert "*Next:* escalate_repeated" in json.dumps(alerts["payload"])
    assert "retry" not in escalation.action
    assert any("failed the same way on 2 consecutive attempts" in n for n in result.notes)


@pytest.mark.postgres
def test_the_repeat_limit_is_configurable(project):
    sleeps: list[float] = []
    result = run(project, sleeps, max_attempts=3, repeat_limit=0)

    assert len(result.attempts) == 3 and result.stopped_because == "max_attempts"
    [escalation] = result.escalations
    assert escalation.action == "retry"
