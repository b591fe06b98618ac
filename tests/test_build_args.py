"""dbt arguments through `sluice build`: every form dbt's command line accepts reaches dbt
intact, on the first run and on retries.

The table is judged by dbt's own parser (the `dbt.cli` click commands, through `make_context`),
not by a copy of it: what sluice passes must mean to dbt what the user's arguments meant. Then
real dbt runs on DuckDB, with a real transient fault (another process holding a DuckDB lock),
show the arguments reaching dbt on the first attempt and on `dbt retry` and on a
`dbt build --select` rerun.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.core import ParameterSource
from sluice.build import build
from sluice.cli import _parser
from sluice.cli.build import _dbt_project_flags
from sluice.retry.dbt_args import (
    NOT_FOR_RETRY,
    option_groups,
    retry_args,
    without_selection,
    without_separators,
)

HOLD_LOCK = Path(__file__).parent / "projects" / "build_faults" / "hold_lock.py"


@pytest.fixture(scope="module")
def dbt_cli():
    from dbt.cli.main import cli

    return cli


def parse(dbt_cli, command: str, args: list[str], base: Path):
    """dbt's reading of ``dbt <command> <args>`` (paths given so nothing is looked up)."""
    return dbt_cli.commands[command].make_context(
        command, [*args, "--profiles-dir", str(base), "--project-dir", str(base)]
    )


# (the dbt arguments as given to `sluice build`, what dbt must read from them)
FORMS = [
    (["--select", "a", "b"], {"select": ("a", "b")}),
    (["--select=a"], {"select": ("a",)}),
    (["--select=a", "b"], {"select": ("a", "b")}),
    (["-s", "a", "-s", "b"], {"select": ("a", "b")}),
    (["-sa", "-s", "b+"], {"select": ("a", "b+")}),
    (["-m", "a", "--models", "b", "--model", "c"], {"select": ("a", "b", "c")}),
    (["--select", "a b"], {"select": ("a", "b")}),
    (["--selector", "nightly"], {"selector": "nightly"}),
    (
        ["--vars", "{x: 1, y: 'two words'}", "-s", "a"],
        {"vars": {"x": 1, "y": "two words"}, "select": ("a",)},
    ),
    (["--vars={x: 1}"], {"vars": {"x": 1}}),
    (["--exclude", "c", "--select", "a"], {"exclude": ("c",), "select": ("a",)}),
    (["--exclude", "c", "d", "-s", "a"], {"exclude": ("c", "d"), "select": ("a",)}),
    (["--target", "dev", "--", "--select", "a"], {"target": "dev", "select": ("a",)}),
    (["--select", "a", "--", "--exclude", "b"], {"select": ("a",), "exclude": ("b",)}),
    (["--", "--select", "a", "b", "-t", "dev"], {"select": ("a", "b"), "target": "dev"}),
    (["-t", "dev", "--full-refresh", "--threads", "4"], {"target": "dev", "threads": 4}),
    (["-xq", "--select", "a"], {"fail_fast": True, "quiet": True, "select": ("a",)}),
    (["--resource-type", "model", "-s", "a"], {"resource_types": ("model",), "select": ("a",)}),
    (["--no-partial-parse", "--warn-error"], {"partial_parse": False, "warn_error": True}),
    (["--state", "prod", "--defer", "-s", "state:modified+"], {"state": Path("prod")}),
]


@pytest.mark.parametrize(("given", "meant"), FORMS, ids=[" ".join(f[0]) for f in FORMS])
def test_each_form_means_the_same_to_dbt_on_every_attempt(dbt_cli, tmp_path, given, meant):
    (tmp_path / "prod").mkdir()
    first = parse(dbt_cli, "build", without_separators(given), tmp_path)
    for key, value in meant.items():
        assert first.params[key] == value, key
    set_by_user = {
        name
        for name in first.params
        if first.get_parameter_source(name) is ParameterSource.COMMANDLINE
        and name not in ("profiles_dir", "project_dir")
    }

    # a rerun of some nodes: the user's selection is replaced, everything else is the same
    rerun = parse(dbt_cli, "build", [*without_selection(given), "--select", "fqn:p.x"], tmp_path)
    assert rerun.params["select"] == ("fqn:p.x",)
    assert rerun.params["selector"] is None
    for name in set_by_user - {"select", "selector"}:
        assert rerun.params[name] == first.params[name], name

    # dbt retry: every option it accepts is passed as the user gave it (but --state)
    retry = parse(dbt_cli, "retry", retry_args(given), tmp_path)
    retry_params = {p.name for p in dbt_cli.commands["retry"].params}
    for name in (set_by_user & retry_params) - NOT_FOR_RETRY:
        assert retry.get_parameter_source(name) is ParameterSource.COMMANDLINE, name
        assert retry.params[name] == first.params[name], name
    for name in NOT_FOR_RETRY:
        assert retry.get_parameter_source(name) is not ParameterSource.COMMANDLINE


def test_option_groups_follow_dbts_multi_value_options():
    groups = option_groups(["--select=a", "b", "--exclude", "c", "-xq", "--vars", "{}"])
    assert [(g.tokens, g.params) for g in groups] == [
        (("--select=a", "b"), ("select",)),
        (("--exclude", "c"), ("exclude",)),
        (("-xq",), ("fail_fast", "quiet")),
        (("--vars", "{}"), ("vars",)),
    ]


@pytest.mark.parametrize(
    ("argv", "dbt_args", "sluice_options"),
    [
        (["--max-attempts", "2", "--", "--select", "a"], ["--select", "a"], {"max_attempts": "2"}),
        (
            ["--target", "prod", "--", "--select", "a"],
            ["--target", "prod", "--select", "a"],
            {"target": "prod"},
        ),
        (["--select=a", "b", "--max-attempts", "2"], ["--select=a", "b"], {"max_attempts": "2"}),
        (
            ["--", "--json", "--max-attempts", "2"],
            ["--json", "--max-attempts", "2"],
            {"json": False},
        ),
        (["--vars", "{x: 1}", "--json"], ["--vars", "{x: 1}"], {"json": True, "vars": "{x: 1}"}),
    ],
)
def test_the_command_line_hands_dbt_arguments_on(argv, dbt_args, sluice_options):
    parsed = _parser().parse_args(["build", *argv])
    # everything after `--` is dbt's; the `--` itself is dropped by the build wherever it is;
    # the project flags sluice reads itself (as every command does) go on to dbt first
    assert without_separators([*_dbt_project_flags(parsed), *parsed.dbt_args]) == dbt_args
    for name, value in sluice_options.items():
        assert getattr(parsed, name) == value


def test_the_command_line_loads_only_itself_before_a_command_runs():
    """Every command builds the whole parser first: it must not load the report's modules (nor
    the installed metadata) on the way to `sluice build` starting dbt."""
    code = (
        "import sys\n"
        "from sluice.cli import _parser\n"
        "_parser().parse_args(['build', '--select', 'a'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sluice.', 'importlib.metadata',"
        " 'jinja2')) and not m.startswith(('sluice.cli', 'sluice.errors'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    version = subprocess.run(
        [sys.executable, "-m", "sluice", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("sluice ") and version.stdout.strip() != "sluice"


# --- real dbt ----------------------------------------------------------------------------------

PROJECT = """
name: args
version: "1.0"
config-version: 2
profile: args
model-paths: ["models"]
test-paths: ["data_tests"]
"""

LOCKED = """
{{ config(
    materialized='table',
    pre_hook=before_begin("attach if not exists '" ~ env_var('ARGS_LOCK_FILE') ~ "' as held_lock"),
    post_hook=after_commit("detach held_lock"),
) }}
select '{{ var("tag", "none") }}' as tag
"""


class LockHolder:
    def __init__(self, database: Path) -> None:
        self.marker = database.with_suffix(".release")
        self.process = subprocess.Popen(
            [sys.executable, str(HOLD_LOCK), str(database), str(self.marker)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.marker.touch()
        self.process.wait(timeout=60)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "args"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(
        "args:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'warehouse.duckdb'}\n      threads: 1\n"
    )
    (root / "models" / "tagged.sql").write_text('select \'{{ var("tag", "none") }}\' as tag\n')
    (root / "models" / "locked.sql").write_text(LOCKED)
    (root / "models" / "other.sql").write_text("select 1 as x\n")
    (root / "models" / "broken.sql").write_text("select missing_column from {{ ref('tagged') }}\n")
    lock_file = tmp_path / "lock.duckdb"
    monkeypatch.setenv("ARGS_LOCK_FILE", str(lock_file))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    holder = LockHolder(lock_file)
    yield root, holder
    holder.release()


def attempt_args(root: Path, number: int) -> tuple[dict, dict[str, str]]:
    data = json.loads(
        (root / "target" / "sluice" / "attempts" / str(number) / "run_results.json").read_text()
    )
    return data["args"], {r["unique_id"].split(".")[-1]: r["status"] for r in data["results"]}


def table(root: Path, name: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(f"select * from {name}").fetchall()


def run(root: Path, holder: LockHolder, args: list[str]):
    def sleep(seconds: float) -> None:
        holder.release()

    return build(
        root,
        ["--profiles-dir", str(root), *args],
        sleeper=sleep,
        uniform=lambda: 0.5,
        base_delay=1,
        report=False,
        log_dbt_output=True,
    )


def test_arguments_reach_dbt_on_the_first_run_and_on_dbt_retry(project):
    root, holder = project
    result = run(
        root, holder, ["--select=tagged", "locked", "--vars", "{tag: t1}", "--", "-t", "dev"]
    )

    assert result.exit_code == 0, result.notes
    assert [a.kind for a in result.attempts] == ["build", "retry"]
    args, statuses = attempt_args(root, 1)
    assert args["select"] == ["tagged", "locked"]
    assert args["vars"] == {"tag": "t1"} and args["target"] == "dev"
    assert statuses == {"tagged": "success", "locked": "error"}  # `other` was not selected
    retry = result.attempts[1].dbt_args
    assert retry[retry.index("--vars") + 1] == "{tag: t1}" and "--" not in retry
    args, statuses = attempt_args(root, 2)
    assert statuses == {"locked": "success"}
    assert args["vars"] == {"tag": "t1"}
    assert table(root, "locked") == [("t1",)]


def test_arguments_reach_dbt_on_a_rerun_of_the_transient_part(project):
    root, holder = project
    result = run(
        root,
        holder,
        ["-s", "tagged", "-s", "locked", "broken", "--vars={tag: t2}", "--exclude", "other"],
    )

    assert [a.kind for a in result.attempts] == ["build", "rerun_selected"]
    args, statuses = attempt_args(root, 1)
    assert args["select"] == ["tagged", "locked", "broken"] and args["exclude"] == ["other"]
    assert statuses == {"tagged": "success", "locked": "error", "broken": "error"}
    args, statuses = attempt_args(root, 2)
    assert args["select"] == ["fqn:args.locked"]
    assert args["vars"] == {"tag": "t2"} and args["exclude"] == ["other"]
    assert statuses == {"locked": "success"}
    assert table(root, "locked") == [("t2",)]
    assert result.exit_code == 1  # `broken` is structural: held


def test_the_documented_defaults_are_the_defaults(tmp_path):
    """docs/build.md's settings table states each number's default as the code resolves it
    with no flag, variable or pyproject.toml."""
    from sluice.retry.config import resolve_settings

    settings = resolve_settings(tmp_path, {}, {})
    resolved = {
        "max_attempts": settings.retry.max_attempts,
        "base_delay": settings.retry.base_delay,
        "max_delay": settings.retry.max_delay,
        "budget": settings.retry.budget,
        "repeat_limit": settings.retry.repeat_limit,
        "stop_timeout": settings.stop_timeout,
    }
    docs = (Path(__file__).resolve().parents[1] / "docs" / "build.md").read_text()
    for key, value in resolved.items():
        row = next(line for line in docs.splitlines() if f"`[tool.sluice] {key}`" in line)
        documented = row.rsplit("|", 2)[1].strip().split()[0]
        assert float(documented) == value, (key, row)


def test_the_default_stop_timeout_leaves_room_in_a_default_kubernetes_grace_period():
    """Kubernetes SIGKILLs a pod 30 s after its SIGTERM by default (terminationGracePeriodSeconds).
    sluice build must have stopped dbt and written its record by then, so its own wait for dbt
    has to end well before."""
    from sluice.retry.config import BuildSettings

    assert BuildSettings().stop_timeout <= 20
