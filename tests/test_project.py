"""sluice.project reads dbt_project.yml and profiles.yml with dbt's semantics and precedence."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sluice.errors import InputError
from sluice.project import ProjectFlags, load_project

PROJECT = """
name: shop
profile: "{{ env_var('SHOP_PROFILE', 'shop') }}"
config-version: 2
target-path: "target/{{ target.name }}"
on-run-start:
  - "create schema if not exists {{ target.schema }}_audit"
on-run-end: "{{ log('finished ' ~ target.name, info=true) }}"
query-comment: "{{ node.unique_id }}"
models:
  shop:
    +post-hook: "grant select on {{ this }} to role reporter"
    marts:
      +pre-hook: ["analyze {{ this }}"]
      +materialized: "{{ 'table' if target.name == 'prod' else 'view' }}"
seeds:
  shop:
    +post_hook: "{{ this }}"
vars:
  sluice_schema: "{{ env_var('AUDIT_SCHEMA', 'audit') }}"
  sluice_runs_table: runs_global
  region: "{{ var('region_override', 'eu') }}"
  shop:
    sluice_runs_table: runs_scoped
  other_package:
    sluice_runs_table: not_for_shop
"""

PROFILES = """
shop:
  target: "{{ env_var('SHOP_TARGET', 'dev') }}"
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      schema: analytics
      threads: "{{ env_var('SHOP_THREADS', '4') | as_number }}"
    prod:
      type: postgres
      host: "{{ env_var('PG_HOST') }}"
      port: "{{ env_var('PG_PORT') | as_number }}"
      user: "{{ var('pg_user', 'loader') }}"
      password: "{{ env_var('DBT_ENV_SECRET_PG_PASSWORD') }}"
      dbname: warehouse
      schema: "{{ env_var('PG_SCHEMA', 'analytics') }}"
      keepalives_idle: "{{ env_var('PG_KEEPALIVE', '0') | as_text }}"
      sslmode: "{{ env_var('PG_SSL', 'True') | as_bool }}"
      search_path: "{{ env_var('PG_SEARCH', '[\\"a\\", \\"b\\"]') | as_native }}"
      threads: 2
other:
  outputs:
    dev: {type: duckdb, path: "{{ env_var('NEVER_SET') }}"}
"""


def _write(root: Path, project: str = PROJECT, profiles: str | None = PROFILES) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(textwrap.dedent(project).lstrip())
    if profiles is not None:
        (root / "profiles.yml").write_text(textwrap.dedent(profiles).lstrip())
    return root


def _load(root: Path, env: dict[str, str] | None = None, cwd: Path | None = None, **flags):
    flags.setdefault("project_dir", root)
    flags.setdefault("profiles_dir", root)
    return load_project(ProjectFlags(**flags), environ=env or {}, cwd=cwd or root)


def test_hooks_query_comment_and_model_hooks_are_not_rendered(tmp_path: Path) -> None:
    project = _load(_write(tmp_path / "p"))
    assert project.data["on-run-end"] == "{{ log('finished ' ~ target.name, info=true) }}"
    assert project.data["on-run-start"] == ["create schema if not exists {{ target.schema }}_audit"]
    assert project.data["query-comment"] == "{{ node.unique_id }}"
    models = project.data["models"]["shop"]
    assert models["+post-hook"] == "grant select on {{ this }} to role reporter"
    assert models["marts"]["+pre-hook"] == ["analyze {{ this }}"]
    assert project.data["seeds"]["shop"]["+post_hook"] == "{{ this }}"
    # other model configs are rendered, with the target
    assert models["marts"]["+materialized"] == "view"


def test_target_in_the_project_file_reads_the_profile(tmp_path: Path) -> None:
    root = _write(tmp_path / "p")
    assert _load(root).target_path == root / "target" / "dev"
    assert _load(root, target="prod", env={"PG_HOST": "h", "PG_PORT": "5"}).target_path == (
        root / "target" / "prod"
    )
    env = {"SHOP_TARGET": "prod", "PG_HOST": "h", "PG_PORT": "5"}
    assert _load(root, env=env).target.target_name == "prod"
    # --target wins over DBT_TARGET, which wins over the profile's target
    assert _load(root, env={"DBT_TARGET": "dev", **env}).target.target_name == "dev"
    assert _load(root, env={"DBT_TARGET": "dev", **env}, target="prod").target.target_name == (
        "prod"
    )


def test_profile_filters_keep_dbt_types(tmp_path: Path) -> None:
    env = {"PG_HOST": "db.internal", "PG_PORT": "6543", "DBT_ENV_SECRET_PG_PASSWORD": "s3cret"}
    target = _load(_write(tmp_path / "p"), env=env, target="prod").target
    creds = target.credentials
    assert creds["port"] == 6543 and isinstance(creds["port"], int)
    assert creds["keepalives_idle"] == "0"
    assert creds["sslmode"] is True
    assert creds["search_path"] == ["a", "b"]
    assert creds["password"] == "s3cret"  # secrets are allowed in profiles.yml
    assert creds["user"] == "loader"
    assert target.adapter_type == "postgres" and target.database == "warehouse"
    assert "password" not in target.context() and target.context()["name"] == "prod"
    dev = _load(_write(tmp_path / "q"), env={"SHOP_THREADS": "8"}).target
    assert dev.credentials["threads"] == 8


def test_only_the_chosen_target_is_rendered(tmp_path: Path) -> None:
    # prod needs PG_HOST/PG_PORT, unset here: choosing dev must not render prod
    target = _load(_write(tmp_path / "p")).target
    assert target.target_name == "dev" and target.schema == "analytics"
    with pytest.raises(
        InputError, match=r"shop\.prod.*env var required but not provided: 'PG_HOST'"
    ):
        _ = _load(_write(tmp_path / "q"), target="prod").target
    with pytest.raises(InputError, match=r"no target 'qa' \(targets: dev, prod\)"):
        _ = _load(_write(tmp_path / "r"), target="qa").target


def test_as_number_refuses_text(tmp_path: Path) -> None:
    env = {"PG_HOST": "h", "PG_PORT": "fifty"}
    with pytest.raises(InputError, match="into type 'number'"):
        _ = _load(_write(tmp_path / "p"), env=env, target="prod").target


def test_vars_scoped_global_and_cli(tmp_path: Path) -> None:
    root = _write(tmp_path / "p")
    project = _load(root)
    assert project.settings.runs_table == "runs_scoped"  # vars.shop wins over the global
    assert project.settings.schema == "audit"
    assert _load(root, env={"AUDIT_SCHEMA": "qa_audit"}).settings.schema == "qa_audit"
    cli = _load(root, vars="{sluice_runs_table: from_cli, region_override: us}")
    assert cli.settings.runs_table == "from_cli"
    assert cli.var("region") == "us"  # a var's value is rendered, with var() and env_var()
    assert project.var("region") == "eu"
    assert project.var("missing", 3) == 3
    with pytest.raises(InputError, match="required var 'missing'"):
        project.var("missing")
    assert project.settings.report_horizon == timedelta(days=7)
    assert _load(root, vars={"sluice_report_horizon": "36h"}).settings.report_horizon == (
        timedelta(hours=36)
    )
    with pytest.raises(InputError, match="sluice_report_horizon"):
        _ = _load(root, vars={"sluice_report_horizon": "soon"}).settings


def test_var_in_the_project_file_sees_only_cli_vars(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "p",
        project="""
        name: shop
        profile: shop
        target-path: "{{ var('artifacts', 'target') }}"
        vars: {artifacts: never_used}
        """,
    )
    assert _load(root).target_path == root / "target"
    assert _load(root, vars="{artifacts: out}").target_path == root / "out"
    assert _load(root, vars='{"artifacts": "/abs/out"}').target_path == Path("/abs/out")
    with pytest.raises(InputError, match="--vars"):
        _load(root, vars="[1, 2]")


def test_target_path_precedence(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", project="name: shop\nprofile: shop\ntarget-path: built\n")
    assert _load(root).target_path == root / "built"
    assert _load(root, env={"DBT_TARGET_PATH": "env_t"}).target_path == root / "env_t"
    env = {"DBT_TARGET_PATH": "env_t", "DBT_ENGINE_TARGET_PATH": "engine_t"}
    assert _load(root, env=env).target_path == root / "engine_t"
    assert _load(root, env=env, target_path=Path("flag_t")).target_path == root / "flag_t"
    bare = _write(tmp_path / "q", project="name: shop\nprofile: shop\n")
    assert _load(bare).target_path == bare / "target"


def test_project_and_profiles_dirs_follow_dbt(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", project="name: shop\nprofile: shop\n", profiles=None)
    (root / "models").mkdir()
    # no --project-dir: the working directory or its nearest parent with dbt_project.yml
    found = load_project(ProjectFlags(), environ={}, cwd=root / "models")
    assert found.root == root
    env_dir = load_project(ProjectFlags(), environ={"DBT_PROJECT_DIR": str(root)}, cwd=tmp_path)
    assert env_dir.root == root
    # profiles.yml: --profiles-dir > DBT_PROFILES_DIR > working directory > ~/.dbt
    home = tmp_path / "home"
    (home / ".dbt").mkdir(parents=True)
    (home / ".dbt" / "profiles.yml").write_text(textwrap.dedent(PROFILES))
    project = load_project(ProjectFlags(project_dir=root), environ={"HOME": str(home)}, cwd=root)
    assert project.target.profiles_path == home / ".dbt" / "profiles.yml"
    elsewhere = _write(tmp_path / "cwd_profiles", project="name: x\n")
    project = load_project(
        ProjectFlags(project_dir=root), environ={"HOME": str(home)}, cwd=elsewhere
    )
    assert project.profiles_dir == elsewhere
    env = {"HOME": str(home), "DBT_PROFILES_DIR": str(home / ".dbt")}
    assert load_project(
        ProjectFlags(project_dir=root), environ=env, cwd=elsewhere
    ).profiles_dir == (home / ".dbt")
    missing = load_project(
        ProjectFlags(project_dir=root), environ={"HOME": str(tmp_path)}, cwd=root
    )
    with pytest.raises(InputError, match=r"profiles\.yml: file not found"):
        _ = missing.target


def test_profile_override_and_missing_profile(tmp_path: Path) -> None:
    root = _write(tmp_path / "p")
    # the project file names `target`, so the profile is read while loading, as dbt does
    with pytest.raises(InputError, match="no profile named 'nope'"):
        _load(root, env={"SHOP_PROFILE": "nope"})
    plain = _write(
        tmp_path / "q", project="name: shop\nprofile: \"{{ env_var('SHOP_PROFILE', 'shop') }}\"\n"
    )
    assert _load(plain, env={"SHOP_PROFILE": "nope"}).profile_name == "nope"
    assert _load(plain, env={"DBT_PROFILE": "other"}).profile_name == "other"
    assert _load(plain, profile="shop", env={"DBT_PROFILE": "other"}).profile_name == "shop"


def test_secret_env_vars_are_refused_in_the_project_file(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "p", project="name: x\ntarget-path: \"{{ env_var('DBT_ENV_SECRET_X') }}\"\n"
    )
    with pytest.raises(InputError, match=r"dbt_project\.yml: cannot render `target-path`.*secret"):
        _load(root, env={"DBT_ENV_SECRET_X": "t"})


def test_a_password_that_is_not_jinja_is_kept(tmp_path: Path) -> None:
    profiles = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      password: 'a{{b'\n      schema: s\n"
    root = _write(tmp_path / "p", project="name: shop\nprofile: shop\n", profiles=profiles)
    assert _load(root).target.credentials["password"] == "a{{b"


def test_missing_or_bad_project_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"dbt_project\.yml: file not found"):
        load_project(ProjectFlags(project_dir=tmp_path), environ={}, cwd=tmp_path)
    bare = load_project(ProjectFlags(project_dir=tmp_path), environ={}, cwd=tmp_path, require=False)
    assert not bare.exists and bare.target_path == tmp_path / "target"
    (tmp_path / "dbt_project.yml").write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_project(ProjectFlags(project_dir=tmp_path), environ={}, cwd=tmp_path)
    (tmp_path / "dbt_project.yml").write_text('name: x\ntarget-path: "{{ nope.attr }}"\n')
    with pytest.raises(InputError, match="cannot render `target-path`"):
        load_project(ProjectFlags(project_dir=tmp_path), environ={}, cwd=tmp_path)


def test_flags_from_a_dbt_command_line() -> None:
    flags = ProjectFlags.from_dbt_args(
        ["--select", "a", "--target=prod", "--vars", "{x: 1}", "--target-path", "out", "-t", "qa"]
    )
    assert flags.target == "qa" and flags.vars == "{x: 1}" and flags.target_path == Path("out")
    assert ProjectFlags.from_dbt_args(["--target", "a"], target="b").target == "b"
