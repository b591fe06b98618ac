"""Who owns a failure: source-system override, the node's owner, its group, its exposures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sluice.classify.artifacts import Manifest, ManifestNode, ManifestSource
from sluice.classify.graph import Graph


@dataclass(frozen=True, slots=True)
class Ownership:
    owner: str
    basis: str
    """Where the owner came from, e.g. ``meta.owner of model.shop.orders``."""


def _sluice_meta(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    value = meta.get("sluice")
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, list | tuple):
        items = [str(v).strip() for v in value if str(v).strip()]
        return ", ".join(items) or None
    if isinstance(value, Mapping):
        return _text(value.get("email") or value.get("name"))
    return None


def _meta_owner(node: ManifestNode | ManifestSource) -> str | None:
    if isinstance(node, ManifestNode) and node.test_metadata is not None:
        owner = _text(node.test_metadata.kwargs.get("owner"))  # a sluice rule's `owner`
        if owner:
            return owner
    for meta in (node.config.meta, node.meta):
        owner = _text(_sluice_meta(meta).get("owner"))
        if owner:
            return owner
    for meta in (node.config.meta, node.meta):
        owner = _text(meta.get("owner"))
        if owner:
            return owner
    return None


def source_systems(source: ManifestSource) -> list[str]:
    """The names a source is known by for owner overrides: its source name and source_system."""
    names = [source.source_name]
    for meta in (source.config.meta, source.meta, source.source_meta):
        for value in (meta.get("source_system"), _sluice_meta(meta).get("source_system")):
            if isinstance(value, str) and value:
                names.append(value)
    return names


def _tested_node(manifest: Manifest, node: ManifestNode) -> str | None:
    if node.attached_node:
        return node.attached_node
    for parent in node.depends_on.nodes:
        if parent.startswith(("model.", "seed.", "snapshot.", "source.")):
            return parent
    return None


def _exposure_owners(manifest: Manifest, exposures: Iterable[str]) -> list[str]:
    owners: list[str] = []
    for uid in exposures:
        exposure = manifest.exposures.get(uid)
        if exposure is not None and exposure.owner.label and exposure.owner.label not in owners:
            owners.append(exposure.owner.label)
    return owners


def resolve_owner(
    unique_id: str,
    manifest: Manifest,
    graph: Graph,
    source_owners: Mapping[str, str],
    default_owner: str,
    *,
    source_first: bool = False,
) -> Ownership:
    """The owner of a failed node, first found in this order:

    1. ``source_owners`` from configuration, for the source system the node is or reads directly;
    2. with ``source_first`` (a source is unavailable), the owner of the sources the node reads
       directly; then, for a sluice rule, its ``owner`` argument; the node's
       ``config.meta.sluice.owner``, then ``meta.owner`` (for a test: then the tested node's);
    3. the owner of the node's group;
    4. the owners of the exposures the node reaches;
    5. ``default_owner``.
    """
    direct = [unique_id, *graph.parents.get(unique_id, ())]
    for uid in direct:
        source = manifest.sources.get(uid)
        if source is None:
            continue
        for system in source_systems(source):
            if system in source_owners:
                return Ownership(source_owners[system], f"source system '{system}' (configuration)")

    node = manifest.nodes.get(unique_id) or manifest.sources.get(unique_id)
    candidates: list[ManifestNode | ManifestSource] = []
    if source_first:
        candidates.extend(manifest.sources[uid] for uid in direct if uid in manifest.sources)
    if node is not None:
        candidates.append(node)
        if isinstance(node, ManifestNode) and node.resource_type in ("test", "unit_test"):
            tested = _tested_node(manifest, node)
            tested_node = manifest.nodes.get(tested or "") or manifest.sources.get(tested or "")
            if tested_node is not None:
                candidates.append(tested_node)
    for candidate in candidates:
        owner = _meta_owner(candidate)
        if owner:
            return Ownership(owner, f"meta.owner of {candidate.unique_id}")
    for candidate in candidates:
        if isinstance(candidate, ManifestNode):
            group_name = candidate.group or candidate.config.group
            if not group_name:
                continue
            for group in manifest.groups.values():
                if group.name == group_name and group.owner.label:
                    return Ownership(group.owner.label, f"owner of group '{group_name}'")
    reached = graph.exposures_reached.get(unique_id, ())
    owners = _exposure_owners(manifest, reached)
    if owners:
        return Ownership(", ".join(owners), "owners of the exposures it reaches")
    return Ownership(default_owner, "default owner")
