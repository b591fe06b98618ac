"""Retry policy, planning and settings, with a fake dbt that writes real-shaped artifacts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sluice.build import BuildError, build, decide_exit_code
from sluice.classify import Failure, FailureClass
from sluice.retry import (
    ConfigError,
    NextStep,
    RetryPolicy,
    backoff_ceiling,
    full_jitter_delay,
    plan_next,
    resolve_settings,
)
from sluice.retry.dbt_args import flag_value, retry_args, without_selection
from sluice.retry.plan import selectors

MANIFEST_V12 = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RESULTS_V6 = "https://schemas.getdbt.com/dbt/run-results/v6.json"
LOCK = 'could not obtain lock on relation "orders"'


def failure(uid, cls, roots=(), status="error"):
    own = FailureClass(cls)
    return Failure(
        uid, uid.split(".")[-1], uid.split(".")[0], status, own, "", "", tuple(roots), own
    )


# --- planning ---------------------------------------------------------------------------------


def test_plan_all_transient_uses_dbt_retry():
    plan = plan_next(
        [
            failure("model.p.a", "transient"),
            failure("model.p.b", "dependency_failed", ["model.p.a"], "skipped"),
        ]
    )
    assert plan.step is NextStep.RETRY


def test_plan_mixed_reruns_transient_nodes_and_what_they_alone_blocked():
    plan = plan_next(
        [
            failure("model.p.a", "transient"),
            failure("model.p.s", "schema_change"),
            failure("model.p.b", "dependency_failed", ["model.p.a"], "skipped"),
            failure("model.p.c", "dependency_failed", ["model.p.a", "model.p.s"], "skipped"),
            failure("model.p.d", "dependency_failed", ["model.p.s"], "skipped"),
        ]
    )
    assert plan.step is NextStep.RERUN_SELECTED
    assert plan.nodes == ("model.p.a", "model.p.b")


@pytest.mark.parametrize(
    "cls",
    [
        "schema_change",
        "authorization",
        "data_quality",
        "source_unavailable",
        "partial_load",
        "unknown",
    ],
)
def test_plan_structural_failures_are_never_retried(cls):
    assert plan_next([failure("model.p.a", cls)]).step is NextStep.STOP


def test_plan_nothing_failed():
    assert plan_next([]).step is NextStep.DONE


def test_selectors_use_fqn_and_exposure_names():
    known = {"model.p.a": "fqn:p.staging.a", "test.p.t": "fqn:p.t", "exposure.p.e": "exposure:e"}
    assert selectors(["model.p.a", "test.p.t", "exposure.p.e", "unit_test.p.u"], known) == [
        "exposure:e",
        "fqn:p.staging.a",
        "fqn:p.t",
    ]


@pytest.mark.parametrize(
    ("failures", "rc", "expected"),
    [
        ([], 0, 0),
        ([], 1, 1),
        ([failure("model.p.a", "transient")], 1, 3),
        ([failure("model.p.a", "transient"), failure("model.p.s", "schema_change")], 1, 1),
        ([failure("model.p.a", "data_quality")], 1, 1),
    ],
)
def test_exit_codes(failures, rc, expected):
    assert decide_exit_code(failures, rc)[0] == expected


# --- backoff ----------------------------------------------------------------------------------


def test_full_jitter_is_capped_exponential():
    policy = RetryPolicy(base_delay=2, max_delay=10)
    assert [backoff_ceiling(policy, n) for n in (1, 2, 3, 4, 5, 200)] == [2, 4, 8, 10, 10, 10]
    assert full_jitter_delay(policy, 3, lambda: 0.0) == 0.0
    assert full_jitter_delay(policy, 3, lambda: 0.25) == 2.0
    delays = [full_jitter_delay(policy, 4) for _ in range(200)]
    assert all(0 <= d <= 10 for d in delays) and len(set(delays)) > 100
    with pytest.raises(ValueError):
        backoff_ceiling(policy, 0)


# --- settings ---------------------------------------------------------------------------------


def write_pyproject(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(text)
    return path


def test_precedence_flags_env_file_defaults(tmp_path):
    project = write_pyproject(
        tmp_path, "[tool.sluice]\nmax_attempts = 5\nbase_delay = 7\nmax_delay = 70\n"
    )
    env = {"SLUICE_MAX_ATTEMPTS": "4", "SLUICE_BASE_DELAY": "3"}
    settings = resolve_settings(project, {"max_attempts": 2}, env)
    assert settings.retry == RetryPolicy(max_attempts=2, base_delay=3, max_delay=70, budget=1800)
    assert resolve_settings(tmp_path / "none", {}, {}).retry == RetryPolicy()


def test_file_settings_for_alerts_and_patterns(tmp_path):
    project = write_pyproject(
        tmp_path,
        """
[tool.sluice.escalate]
webhook_url = "https://hooks.example.com/T0/B0/x"
alert_min_priority = "P2"
default_owner = "data-platform@example.com"
source_owners = { erp = "erp-team@example.com" }

[[tool.sluice.classify.patterns]]
adapter = "*"
class = "transient"
regex = "ERP API returned 503"
description = "The ERP's extraction API is briefly down."
""",
    )
    settings = resolve_settings(project, {}, {"SLUICE_WEBHOOK_URL": "http://127.0.0.1:9/h"})
    assert settings.escalation.webhook_url == "http://127.0.0.1:9/h"  # env over file
    assert "127.0.0.1" not in repr(settings)  # the URL is a secret
    assert settings.escalation.alert_min_priority == "P2"
    assert settings.escalation.source_owners == {"erp": "erp-team@example.com"}
    assert settings.patterns[0].failure_class is FailureClass.TRANSIENT


@pytest.mark.parametrize(
    ("flags", "env", "text", "error"),
    [
        ({}, {"SLUICE_MAX_ATTEMPTS": "many"}, "", "SLUICE_MAX_ATTEMPTS"),
        ({"max_attempts": 0}, {}, "", "at least 1"),
        ({}, {"SLUICE_BUDGET": "-1"}, "", "negative"),
        ({}, {}, "[tool.sluice]\nmax_attempts = 2.5\n", "whole number"),
        ({}, {}, "[tool.sluice.escalate]\nwebhok_url = 'x'\n", "unknown key"),
        ({}, {"SLUICE_WEBHOOK_URL": "ftp://x"}, "", "http"),
        ({}, {}, "[[tool.sluice.classify.patterns]]\nclass = 'x'\nregex = 'y'\n", "class must"),
        ({}, {}, "[tool.sluice\n", "TOML"),
    ],
)
def test_bad_settings_are_refused(tmp_path, flags, env, text, error):
    project = write_pyproject(tmp_path, text)
    with pytest.raises(ConfigError, match=error):
        resolve_settings(project, flags, env)


def test_target_path(tmp_path):
    from sluice.build import target_dir_of

    (tmp_path / "dbt_project.yml").write_text("name: x\ntarget-path: 'build/out'  # here\n")
    assert target_dir_of(tmp_path, [], {}) == tmp_path / "build" / "out"
    assert target_dir_of(tmp_path, [], {"DBT_TARGET_PATH": "/abs"}) == Path("/abs")
    assert target_dir_of(tmp_path, ["--target-path", "t2"], {"DBT_TARGET_PATH": "x"}) == (
        tmp_path / "t2"
    )
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    assert target_dir_of(tmp_path, [], {}) == tmp_path / "target"


# --- dbt arguments ----------------------------------------------------------------------------


def test_dbt_argument_rewrites():
    args = [
        "--target",
        "prod",
        "-s",
        "a",
        "b+",
        "--exclude",
        "c",
        "--vars",
        "{x: 1}",
        "--select=d",
        "--full-refresh",
        "--profiles-dir",
        "p",
        "--threads",
        "4",
    ]
    assert without_selection(args) == [
        "--target",
        "prod",
        "--exclude",
        "c",
        "--vars",
        "{x: 1}",
        "--full-refresh",
        "--profiles-dir",
        "p",
        "--threads",
        "4",
    ]
    # every option dbt retry accepts, in the user's order (the selection it takes from the run)
    assert retry_args(args) == [
        "--target",
        "prod",
        "--vars",
        "{x: 1}",
        "--full-refresh",
        "--profiles-dir",
        "p",
        "--threads",
        "4",
    ]
    assert flag_value(args, "--target", "-t") == "prod"
    assert flag_value(["-tdev"], "--target", "-t") == "dev"
    assert flag_value(["-t=dev"], "--target", "-t") == "=dev"  # as dbt's parser reads it


# --- the loop, with a fake dbt ----------------------------------------------------------------


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: proj\n")
    return project


class FakeDbt:
    """Writes manifest.json and run_results.json like dbt; fails `a` transiently N times."""

    def __init__(self, project: Path, transient_failures: int, structural: bool = False):
        self.target = project / "target"
        self.left = transient_failures
        self.structural = structural
        self.calls: list[list[str]] = []

    def __call__(self, args, log_path):
        self.calls.append(list(args))
        self.target.mkdir(exist_ok=True)
        nodes = {
            f"model.proj.{n}": {
                "unique_id": f"model.proj.{n}",
                "resource_type": "model",
                "name": n,
                "fqn": ["proj", n],
                "depends_on": {"nodes": deps},
            }
            for n, deps in (("a", []), ("b", ["model.proj.a"]), ("s", []))
        }
        (self.target / "manifest.json").write_text(
            json.dumps(
                {
                    "metadata": {
                        "dbt_schema_version": MANIFEST_V12,
                        "adapter_type": "postgres",
                        "project_name": "proj",
                    },
                    "nodes": nodes,
                    "sources": {},
                    "exposures": {},
                }
            )
        )
        failing = self.left > 0
        self.left -= 1
        results = [
            ("model.proj.a", "error" if failing else "success", LOCK if failing else "OK"),
            ("model.proj.b", "skipped" if failing else "success", None),
        ]
        if args[0] == "build" and "--select" not in args:
            results.append(
                (
                    "model.proj.s",
                    "error" if self.structural else "success",
                    'column "x" does not exist',
                )
            )
        (self.target / "run_results.json").write_text(
            json.dumps(
                {
                    "metadata": {
                        "dbt_schema_version": RESULTS_V6,
                        "invocation_id": str(len(self.calls)),
                    },
                    "results": [{"unique_id": u, "status": s, "message": m} for u, s, m in results],
                    "elapsed_time": 1.0,
                    "args": {"which": "build"},
                }
            )
        )
        return 1 if failing or self.structural else 0


def fake_build(project, dbt, sleeps, **kwargs):
    kwargs.setdefault("uniform", lambda: 0.5)
    kwargs.setdefault("repeat_limit", 0)  # the fake fails with the same message every time
    return build(
        project,
        ["--target", "ci"],
        runner=dbt,
        sleeper=sleeps.append,
        report=False,
        environ={},
        **kwargs,
    )


def test_transient_failure_clears(tmp_path):
    project = make_project(tmp_path)
    dbt, sleeps = FakeDbt(project, 2), []
    result = fake_build(project, dbt, sleeps, max_attempts=5, base_delay=4, max_delay=6)
    assert result.exit_code == 0 and result.outcome == "published"
    assert [c[0] for c in dbt.calls] == ["build", "retry", "retry"]
    assert dbt.calls[1] == ["retry", "--project-dir", str(project.resolve()), "--target", "ci"]
    assert sleeps == [2.0, 3.0]
    assert result.retries == 2


def test_max_attempts_then_exit_3(tmp_path):
    project = make_project(tmp_path)
    dbt, sleeps = FakeDbt(project, 99), []
    result = fake_build(project, dbt, sleeps, max_attempts=3)
    assert len(dbt.calls) == 3 and len(sleeps) == 2
    assert result.exit_code == 3 and result.stopped_because == "max_attempts"


def test_zero_budget_means_no_retry(tmp_path):
    project = make_project(tmp_path)
    dbt, sleeps = FakeDbt(project, 99), []
    result = fake_build(project, dbt, sleeps, budget=0, uniform=lambda: 0.1)
    assert len(dbt.calls) == 1 and sleeps == [] and result.stopped_because == "budget"
    assert result.exit_code == 3


def test_mixed_rerun_keeps_other_arguments(tmp_path):
    project = make_project(tmp_path)
    dbt, sleeps = FakeDbt(project, 1, structural=True), []
    result = fake_build(project, dbt, sleeps)
    assert dbt.calls[1] == [
        "build",
        "--project-dir",
        str(project.resolve()),
        "--target",
        "ci",
        "--select",
        "fqn:proj.a",
        "fqn:proj.b",
    ]
    assert result.exit_code == 1
    assert [f.unique_id for f in result.failures] == ["model.proj.s"]


def test_dbt_writing_nothing_is_a_usage_error(tmp_path):
    project = make_project(tmp_path)
    with pytest.raises(BuildError, match="wrote no run results"):
        build(project, runner=lambda args, log: 2, sleeper=lambda s: None, environ={})
    with pytest.raises(BuildError, match="not a dbt project"):
        build(tmp_path / "missing", runner=lambda args, log: 0, environ={})


def test_report_step_is_skipped_with_a_note_when_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sluice.report", None)  # import fails
    project = make_project(tmp_path)
    result = build(project, runner=FakeDbt(project, 0), sleeper=lambda s: None, environ={})
    assert result.exit_code == 0
    assert not result.report.generated and "not available" in result.report.note
    assert any("report skipped" in n for n in result.notes)
    assert result.exposure_statuses_from == "build"


def test_sluice_build_is_the_api(tmp_path):
    import sluice

    project = make_project(tmp_path)
    result = sluice.build(
        project, runner=FakeDbt(project, 0), sleeper=lambda s: None, environ={}, report=False
    )
    assert isinstance(result, sluice.BuildResult) and result.exit_code == 0


def test_a_malformed_webhook_url_stops_the_build_before_dbt_runs(tmp_path, monkeypatch, capsys):
    from sluice.cli import main

    project = make_project(tmp_path)
    dbt = FakeDbt(project, 0)
    secret = "https://hooks.example.com/services/T0 SECRET-TOKEN"
    with pytest.raises(BuildError) as raised:
        build(project, runner=dbt, environ={"SLUICE_WEBHOOK_URL": secret}, report=False)
    assert dbt.calls == [], "dbt never ran"
    assert "SLUICE_WEBHOOK_URL" in str(raised.value) and "SECRET" not in str(raised.value)
    monkeypatch.setenv("SLUICE_WEBHOOK_URL", secret)
    assert main(["build", "--project-dir", str(project)]) == 2
    captured = capsys.readouterr()
    assert "SECRET" not in captured.out + captured.err and "Traceback" not in captured.err
    assert not (project / "target" / "run_results.json").exists()
    # this run's record says why it stopped, without the URL either
    record = json.loads((project / "target" / "sluice" / "build.json").read_text())
    assert record["status"] == "usage_error" and record["exit_code"] == 2
    assert "SECRET" not in json.dumps(record)


def test_the_state_file_survives_the_start_of_run_cleanup(tmp_path):
    """Each run clears the previous run's outputs, but the state file (each node's latest
    result across invocations) is what the next report builds on: it stays."""
    project = make_project(tmp_path)
    dbt = FakeDbt(project, 0)
    sluice_dir = project / "target" / "sluice"
    for _ in range(2):
        result = build(project, runner=dbt, sleeper=lambda s: None, environ={}, warehouse=False)
        assert result.exit_code == 0 and result.report.generated, result.notes
    state = json.loads((sluice_dir / "state.json").read_text())
    seen = {i["invocation_id"] for i in state["invocations"]}
    assert {"1", "2"} <= seen, state["invocations"]
    # the previous run's own outputs are gone, this run's are there
    assert [p.name for p in (sluice_dir / "attempts").iterdir()] == ["1"]
    assert json.loads((sluice_dir / "build.json").read_text())["invocation_id"] == (
        result.invocation_id
    )
