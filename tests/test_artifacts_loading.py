"""Loading dbt artifacts: every supported schema loads, anything else is refused clearly."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from sluice.artifacts import (
    load_artifacts,
    load_manifest,
    load_run_results,
    load_sources,
    parse_schema_version,
)
from sluice.errors import InputError

from tests.fixtures import synth

# real artifacts of dbt 0.19-1.12 (see the README beside them), and of the example project
PARSER_ARTIFACTS = Path(__file__).resolve().parent / "fixtures" / "dbt-artifacts-parser"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "artifacts"


def _real(kind: str, versions: range) -> list[Path]:
    found = [
        path
        for version in versions
        for path in sorted((PARSER_ARTIFACTS / kind / f"v{version}").glob("*/*.json"))
    ]
    assert len({p.parent.parent.name for p in found}) == len(versions), (
        f"a {kind} version of {versions} has no artifact under {PARSER_ARTIFACTS}"
    )
    return found


SUPPORTED_MANIFESTS = range(9, 13)
OLD_MANIFESTS = range(1, 9)
SUPPORTED_RUN_RESULTS = range(4, 7)
OLD_RUN_RESULTS = range(1, 4)


@pytest.mark.parametrize("path", _real("manifest", SUPPORTED_MANIFESTS), ids=str)
def test_supported_manifests_load(path: Path) -> None:
    raw = json.loads(path.read_text())
    manifest = load_manifest(path)
    assert manifest.metadata.invocation_id == raw["metadata"]["invocation_id"]
    assert set(manifest.nodes) == set(raw["nodes"])
    assert set(manifest.sources) == set(raw["sources"])
    models = [n for n in manifest.nodes.values() if n.resource_type == "model"]
    assert models, "a jaffle shop manifest has models"
    # depends_on survives the narrow decode
    some = next(n for n in models if raw["nodes"][n.unique_id]["depends_on"]["nodes"])
    assert some.depends_on.nodes == tuple(raw["nodes"][some.unique_id]["depends_on"]["nodes"])


def test_decoded_artifacts_are_not_walked_by_the_garbage_collector() -> None:
    # a large project decodes into hundreds of thousands of structs: none of them, and none of
    # their sequences, may be left for every collection to walk again
    manifest = load_manifest(FIXTURES / "dbt_1_11" / "manifest.json")
    run_results = load_run_results(FIXTURES / "dbt_1_11" / "run_results.json")
    gc.collect()  # untracks tuples that hold only untracked objects
    assert manifest.nodes and run_results.results
    for node in manifest.nodes.values():
        assert not gc.is_tracked(node)
        assert not gc.is_tracked(node.config)
        assert not gc.is_tracked(node.depends_on)
        assert not gc.is_tracked(node.depends_on.nodes)
        assert not gc.is_tracked(node.fqn)
    for result in run_results.results:
        assert not gc.is_tracked(result)
        assert not gc.is_tracked(result.timing)


@pytest.mark.parametrize("path", _real("manifest", OLD_MANIFESTS), ids=str)
def test_old_manifests_are_refused(path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert str(path) in message
    assert "too old" in message and "v9-v12" in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("path", _real("run_results", SUPPORTED_RUN_RESULTS), ids=str)
def test_supported_run_results_load(path: Path) -> None:
    raw = json.loads(path.read_text())
    run_results = load_run_results(path)
    assert [r.unique_id for r in run_results.results] == [r["unique_id"] for r in raw["results"]]
    assert [r.status for r in run_results.results] == [r["status"] for r in raw["results"]]


@pytest.mark.parametrize("path", _real("run_results", OLD_RUN_RESULTS), ids=str)
def test_old_run_results_are_refused(path: Path) -> None:
    with pytest.raises(InputError, match="too old") as caught:
        load_run_results(path)
    assert str(path) in str(caught.value)


def test_real_pair_with_matching_invocation_loads_together(tmp_path: Path) -> None:
    # dbt 1.12's manifest and run results come from the same invocation
    target = tmp_path / "target"
    target.mkdir()
    pair = PARSER_ARTIFACTS / "manifest/v12/jaffle_shop/manifest_1.12.json"
    runs = PARSER_ARTIFACTS / "run_results/v6/jaffle_shop/run_results_1.12.json"
    (target / "manifest.json").write_bytes(pair.read_bytes())
    (target / "run_results.json").write_bytes(runs.read_bytes())
    artifacts = load_artifacts(target)
    assert artifacts.invocation_id == "24ad943b-c71e-497c-be0b-d037a3c525ad"
    assert artifacts.sources is None


def test_real_pair_from_different_runs_is_refused_unless_relaxed(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_bytes(
        (PARSER_ARTIFACTS / "manifest/v12/jaffle_shop/manifest_1.11.json").read_bytes()
    )
    (target / "run_results.json").write_bytes(
        (PARSER_ARTIFACTS / "run_results/v6/jaffle_shop/run_results_1.11.json").read_bytes()
    )
    with pytest.raises(InputError, match="does not match"):
        load_artifacts(target)
    assert load_artifacts(target, check_invocation=False).run_results.results


@pytest.mark.parametrize("version", ["dbt_1_10", "dbt_1_11"])
def test_generated_fixtures_load(version: str) -> None:
    target = FIXTURES / version
    assert (target / "manifest.json").exists(), f"run `make fixtures` to create {target}"
    artifacts = load_artifacts(target)
    assert artifacts.sources is not None and artifacts.sources.results
    assert artifacts.manifest.exposures, "the example project declares exposures"
    dbt_version = artifacts.manifest.metadata.dbt_version or ""
    assert dbt_version.startswith("1." + version.rsplit("_", 1)[1] + ".")


# -- refusals, on synthetic files ---------------------------------------------------------------


def _target(tmp_path: Path) -> Path:
    man, runs, fresh = synth.shop()
    return synth.write_target(tmp_path / "target", man, runs, fresh)


def test_synthetic_target_loads_and_ignores_unknown_fields(tmp_path: Path) -> None:
    artifacts = load_artifacts(_target(tmp_path))
    assert artifacts.invocation_id == synth.INVOCATION
    assert artifacts.sources is not None
    assert {r.status for r in artifacts.sources.results} == {"pass", "warn"}


def test_truncated_json_is_refused(tmp_path: Path) -> None:
    target = _target(tmp_path)
    data = (target / "run_results.json").read_bytes()
    (target / "run_results.json").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"run_results\.json: truncated JSON"):
        load_artifacts(target)


def test_invalid_json_is_refused(tmp_path: Path) -> None:
    target = _target(tmp_path)
    (target / "manifest.json").write_text('{"metadata": {"dbt_schema_version": "x"}, nodes}')
    with pytest.raises(InputError, match=r"manifest\.json"):
        load_artifacts(target)


def test_not_json_at_all_is_refused(tmp_path: Path) -> None:
    target = _target(tmp_path)
    (target / "sources.json").write_text("<html>not json</html>")
    with pytest.raises(InputError, match=r"sources\.json: not a dbt artifact"):
        load_artifacts(target)


@pytest.mark.parametrize("name", ["manifest.json", "run_results.json"])
def test_missing_required_file_is_refused(tmp_path: Path, name: str) -> None:
    target = _target(tmp_path)
    (target / name).unlink()
    with pytest.raises(InputError, match=rf"{name}: file not found"):
        load_artifacts(target)


def test_missing_sources_json_is_fine(tmp_path: Path) -> None:
    target = _target(tmp_path)
    (target / "sources.json").unlink()
    assert load_artifacts(target).sources is None


def test_unknown_newer_version_is_refused(tmp_path: Path) -> None:
    man, runs, _ = synth.shop()
    man["metadata"] = synth.metadata("manifest", 13)
    target = synth.write_target(tmp_path / "target", man, runs)
    with pytest.raises(InputError, match="v13 is unknown to this sluice version"):
        load_artifacts(target)


def test_wrong_kind_is_refused(tmp_path: Path) -> None:
    _, runs, _ = synth.shop()
    target = synth.write_target(tmp_path / "target", runs, runs)
    with pytest.raises(InputError, match="is a dbt run-results artifact, expected manifest"):
        load_artifacts(target)


def test_field_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    man, runs, _ = synth.shop()
    runs["results"][0]["status"] = 42
    target = synth.write_target(tmp_path / "target", man, runs)
    with pytest.raises(InputError, match=r"does not match the run-results v6 schema.*status"):
        load_artifacts(target)


def test_mismatched_invocation_is_refused(tmp_path: Path) -> None:
    man, _, _ = synth.shop()
    _, runs, _ = synth.shop()
    runs["metadata"]["invocation_id"] = "another-run"
    target = synth.write_target(tmp_path / "target", man, runs)
    with pytest.raises(InputError, match="invocation another-run does not match"):
        load_artifacts(target)


def test_metadata_not_first_still_detected(tmp_path: Path) -> None:
    man, _, _ = synth.shop()
    reordered = {"nodes": man["nodes"], **{k: v for k, v in man.items() if k != "nodes"}}
    # push metadata past the head the loader peeks at
    reordered = {"padding": "x" * 10_000, **reordered}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(reordered))
    assert load_manifest(path).metadata.invocation_id == synth.INVOCATION
    reordered["metadata"] = synth.metadata("manifest", 8)
    path.write_text(json.dumps(reordered))
    with pytest.raises(InputError, match="too old"):
        load_manifest(path)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_sources_versions_load(tmp_path: Path, version: int) -> None:
    path = tmp_path / "sources.json"
    doc = synth.sources_results(
        [synth.freshness("source.shop.raw.orders", "error")], version=version
    )
    path.write_text(json.dumps(doc))
    assert load_sources(path).results[0].status == "error"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://schemas.getdbt.com/dbt/manifest/v12.json", ("manifest", 12)),
        ("https://schemas.getdbt.com/dbt/run-results/v6.json", ("run-results", 6)),
        ("https://schemas.getdbt.com/dbt/sources/v3.json", ("sources", 3)),
        ("not a url", None),
    ],
)
def test_parse_schema_version(url: str, expected: tuple[str, int] | None) -> None:
    found = parse_schema_version(url)
    assert (None if found is None else (found.kind, found.version)) == expected
