"""Narrow, typed views of dbt's artifacts: only the fields sluice reads.

Every struct ignores unknown fields (msgspec's default), so a new dbt release that adds fields
still loads; a field that changes type is reported as a schema mismatch. The fields read here
have the same shape in every schema from dbt 1.5 on (manifest v9-v12, run_results v4-v6,
sources v1-v3); :mod:`sluice.artifacts.loader` still picks the struct per schema version so a
future divergence has one place to go.

A large project decodes into hundreds of thousands of these objects, so none of them is left for
Python's cyclic garbage collector to walk, again on every collection, while the report runs: the
structs are not tracked by it (``gc=False``; decoded JSON cannot form a reference cycle) and
sequences are tuples (a tuple of strings or of untracked structs is untracked too; a list never
is). Dicts of plain values are untracked by Python itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class _Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=False, gc=False):
    """Base: immutable, unknown fields ignored, not tracked by the garbage collector."""


class Metadata(_Frozen, frozen=True):
    dbt_schema_version: str
    dbt_version: str | None = None
    generated_at: datetime | None = None
    invocation_id: str | None = None
    adapter_type: str | None = None
    project_name: str | None = None


class DependsOn(_Frozen, frozen=True):
    nodes: tuple[str, ...] = ()


class NodeConfig(_Frozen, frozen=True):
    materialized: str | None = None
    severity: str | None = None
    group: str | None = None
    meta: dict[str, Any] = {}


class TestMetadata(_Frozen, frozen=True):
    """The generic test a test node instantiates, with its arguments (a sluice rule's
    ``owner``, ``sluice_severity``, ``route`` ...)."""

    name: str = ""
    namespace: str | None = None
    kwargs: dict[str, Any] = {}


class Node(_Frozen, frozen=True):
    """A manifest node: model, seed, snapshot, test, unit test, analysis, operation."""

    unique_id: str
    resource_type: str
    name: str
    package_name: str = ""
    alias: str | None = None
    schema_: str | None = msgspec.field(default=None, name="schema")
    database: str | None = None
    relation_name: str | None = None
    config: NodeConfig = NodeConfig()
    depends_on: DependsOn = DependsOn()
    attached_node: str | None = None
    fqn: tuple[str, ...] = ()
    group: str | None = None
    meta: dict[str, Any] = {}
    test_metadata: TestMetadata | None = None
    version: str | int | float | None = None
    """A versioned model's version (``2``), else None."""

    @property
    def versioned_name(self) -> str:
        """``orders.v2`` for version 2 of model ``orders`` (its unique id's tail), else the
        name: every version of a model shares its ``name``."""
        return self.name if self.version is None else f"{self.name}.v{self.version}"


class SourceConfig(_Frozen, frozen=True):
    meta: dict[str, Any] = {}


class Source(_Frozen, frozen=True):
    unique_id: str
    name: str
    source_name: str = ""
    identifier: str | None = None
    schema_: str | None = msgspec.field(default=None, name="schema")
    database: str | None = None
    relation_name: str | None = None
    loaded_at_field: str | None = None
    meta: dict[str, Any] = {}
    source_meta: dict[str, Any] = {}
    config: SourceConfig = SourceConfig()


class Owner(_Frozen, frozen=True):
    name: str | None = None
    email: str | list[str] | None = None

    @property
    def label(self) -> str | None:
        """The e-mail address(es), else the name."""
        email = ", ".join(self.email) if isinstance(self.email, list) else self.email
        return email or self.name


class Group(_Frozen, frozen=True):
    name: str
    owner: Owner = Owner()


class ExposureConfig(_Frozen, frozen=True):
    meta: dict[str, Any] = {}


class Exposure(_Frozen, frozen=True):
    unique_id: str
    name: str
    type: str | None = None
    label: str | None = None
    maturity: str | None = None
    url: str | None = None
    description: str = ""
    owner: Owner = Owner()
    meta: dict[str, Any] = {}
    config: ExposureConfig = ExposureConfig()
    depends_on: DependsOn = DependsOn()


class GraphOnly(_Frozen, frozen=True):
    """Metrics, semantic models, saved queries: kept only as links in the graph."""

    unique_id: str
    name: str
    depends_on: DependsOn = DependsOn()


class Manifest(_Frozen, frozen=True):
    """manifest.json, schemas v9 to v12 (dbt 1.5 to 1.11+)."""

    metadata: Metadata
    nodes: dict[str, Node] = {}
    sources: dict[str, Source] = {}
    exposures: dict[str, Exposure] = {}
    metrics: dict[str, GraphOnly] = {}
    semantic_models: dict[str, GraphOnly] = {}
    saved_queries: dict[str, GraphOnly] = {}
    unit_tests: dict[str, Node] = {}
    groups: dict[str, Group] = {}


class Timing(_Frozen, frozen=True):
    name: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


class AdapterResponse(_Frozen, frozen=True):
    code: str | None = None
    rows_affected: int | None = None


class RunResult(_Frozen, frozen=True):
    unique_id: str
    status: str
    message: str | None = None
    failures: int | None = None
    execution_time: float = 0.0
    timing: tuple[Timing, ...] = ()
    adapter_response: AdapterResponse = AdapterResponse()


class RunResults(_Frozen, frozen=True):
    """run_results.json, schemas v4 to v6 (dbt 1.0 to 1.11+)."""

    metadata: Metadata
    results: list[RunResult] = []
    elapsed_time: float | None = None
    args: dict[str, Any] = {}
    """The command's arguments; ``args["which"]`` names the command (``build``, ``compile``)."""


class Period(_Frozen, frozen=True):
    count: int | None = None
    period: str | None = None


class Criteria(_Frozen, frozen=True):
    warn_after: Period | None = None
    error_after: Period | None = None
    filter: str | None = None


class FreshnessResult(_Frozen, frozen=True):
    """One entry of sources.json: a measured source, or a runtime error (``error`` set)."""

    unique_id: str
    status: str
    max_loaded_at: datetime | None = None
    snapshotted_at: datetime | None = None
    max_loaded_at_time_ago_in_s: float | None = None
    criteria: Criteria | None = None
    error: str | int | None = None


class SourcesResults(_Frozen, frozen=True):
    """sources.json, schemas v1 to v3."""

    metadata: Metadata
    results: list[FreshnessResult] = []
    elapsed_time: float | None = None
