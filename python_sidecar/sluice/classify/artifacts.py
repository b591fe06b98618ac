"""Narrow, typed views of the two dbt artifacts classification needs.

Only the fields used are declared; unknown fields are ignored, so new dbt releases do not break
decoding. The schema version is checked from ``metadata.dbt_schema_version``: manifest v9-v12 and
run_results v4-v6 (dbt 1.5 on) are read, anything else is refused with a clear message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

MANIFEST_VERSIONS = range(9, 13)
RUN_RESULTS_VERSIONS = range(4, 7)

_VERSION = re.compile(r"/(manifest|run-results)/v(\d+)\.json$")


class ArtifactError(Exception):
    """An artifact is missing, truncated, of an unsupported schema, or from another run."""


class DependsOn(msgspec.Struct, frozen=True):
    nodes: tuple[str, ...] = ()


class Owner(msgspec.Struct, frozen=True):
    name: str | None = None
    email: str | None = None

    @property
    def label(self) -> str | None:
        return self.email or self.name


class NodeConfig(msgspec.Struct, frozen=True):
    meta: dict[str, Any] = {}
    severity: str | None = None
    group: str | None = None
    materialized: str | None = None


class TestMetadata(msgspec.Struct, frozen=True):
    """The generic test a test node instantiates, with its arguments."""

    name: str = ""
    namespace: str | None = None
    kwargs: dict[str, Any] = {}


class ManifestNode(msgspec.Struct, frozen=True):
    unique_id: str
    resource_type: str
    name: str
    package_name: str = ""
    fqn: tuple[str, ...] = ()
    depends_on: DependsOn = DependsOn()
    meta: dict[str, Any] = {}
    config: NodeConfig = NodeConfig()
    group: str | None = None
    relation_name: str | None = None
    attached_node: str | None = None
    test_metadata: TestMetadata | None = None


class ManifestSource(msgspec.Struct, frozen=True):
    unique_id: str
    name: str
    source_name: str
    identifier: str | None = None
    relation_name: str | None = None
    meta: dict[str, Any] = {}
    source_meta: dict[str, Any] = {}
    config: NodeConfig = NodeConfig()


class ManifestExposure(msgspec.Struct, frozen=True):
    unique_id: str
    name: str
    depends_on: DependsOn = DependsOn()
    owner: Owner = Owner()
    meta: dict[str, Any] = {}
    config: NodeConfig = NodeConfig()
    label: str | None = None


class ManifestGroup(msgspec.Struct, frozen=True):
    name: str
    owner: Owner = Owner()


class ManifestMetadata(msgspec.Struct, frozen=True):
    dbt_schema_version: str = ""
    adapter_type: str | None = None
    invocation_id: str | None = None
    project_name: str | None = None


class Manifest(msgspec.Struct, frozen=True):
    metadata: ManifestMetadata
    nodes: dict[str, ManifestNode] = {}
    sources: dict[str, ManifestSource] = {}
    exposures: dict[str, ManifestExposure] = {}
    groups: dict[str, ManifestGroup] = {}


class RunResultsMetadata(msgspec.Struct, frozen=True):
    dbt_schema_version: str = ""
    invocation_id: str | None = None
    generated_at: str = ""


class RunResult(msgspec.Struct, frozen=True):
    unique_id: str
    status: str
    message: str | None = None
    failures: int | None = None
    execution_time: float = 0.0
    adapter_response: dict[str, Any] = {}


class RunResults(msgspec.Struct, frozen=True):
    metadata: RunResultsMetadata
    results: tuple[RunResult, ...] = ()
    elapsed_time: float = 0.0
    args: dict[str, Any] = {}


def schema_version(url: str) -> int | None:
    """The version number in a ``dbt_schema_version`` URL, or None."""
    match = _VERSION.search(url)
    return int(match.group(2)) if match else None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path} does not exist: run dbt first") from None
    except OSError as exc:
        raise ArtifactError(f"{path} cannot be read: {exc}") from None


def _check(kind: str, path: Path, version_url: str, allowed: range) -> None:
    version = schema_version(version_url)
    if version is None:
        raise ArtifactError(f"{path}: not a dbt {kind} (no schema version in its metadata)")
    if version not in allowed:
        raise ArtifactError(
            f"{path}: {kind} schema v{version} is not supported "
            f"(v{allowed.start}-v{allowed.stop - 1}, written by dbt 1.5 and later)"
        )


def decode_manifest(data: bytes, path: Path = Path("manifest.json")) -> Manifest:
    try:
        manifest = msgspec.json.decode(data, type=Manifest)
    except msgspec.DecodeError as exc:
        raise ArtifactError(f"{path}: truncated or not a dbt manifest ({exc})") from None
    _check("manifest", path, manifest.metadata.dbt_schema_version, MANIFEST_VERSIONS)
    return manifest


def decode_run_results(data: bytes, path: Path = Path("run_results.json")) -> RunResults:
    try:
        results = msgspec.json.decode(data, type=RunResults)
    except msgspec.DecodeError as exc:
        raise ArtifactError(f"{path}: truncated or not dbt run results ({exc})") from None
    _check("run_results", path, results.metadata.dbt_schema_version, RUN_RESULTS_VERSIONS)
    return results


def load_manifest(path: Path) -> Manifest:
    return decode_manifest(_read(path), path)


def load_run_results(path: Path) -> RunResults:
    return decode_run_results(_read(path), path)


class _Keyed(msgspec.Struct, frozen=True):
    unique_id: str


class RawRunResults(msgspec.Struct, frozen=True):
    """run_results.json with each result kept verbatim, for merging attempts losslessly."""

    metadata: msgspec.Raw
    results: tuple[msgspec.Raw, ...] = ()
    elapsed_time: float = 0.0
    args: msgspec.Raw = msgspec.Raw(b"{}")


def merge_run_results(documents: list[bytes]) -> bytes:
    """Merge the run_results.json of successive attempts: a node's latest result wins.

    Results keep dbt's own layout and every field dbt wrote; nodes appear in the order they were
    first seen. The metadata and args are the last attempt's; ``elapsed_time`` is the sum.
    """
    if not documents:
        raise ArtifactError("no run results to merge")
    latest: dict[str, msgspec.Raw] = {}
    elapsed = 0.0
    last: RawRunResults | None = None
    for data in documents:
        try:
            doc = msgspec.json.decode(data, type=RawRunResults)
            for raw in doc.results:
                key = msgspec.json.decode(raw, type=_Keyed).unique_id
                latest[key] = raw
        except msgspec.DecodeError as exc:
            raise ArtifactError(f"truncated or not dbt run results ({exc})") from None
        elapsed += doc.elapsed_time
        last = doc
    assert last is not None
    merged = RawRunResults(
        metadata=last.metadata,
        results=tuple(latest.values()),
        elapsed_time=round(elapsed, 6),
        args=last.args,
    )
    return msgspec.json.encode(merged)
