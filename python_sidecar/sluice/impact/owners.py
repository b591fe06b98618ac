"""Who owns a problem: one rule, shared by the impact report and the alerts of ``sluice build``.

Part of the domain: reads only the manifest (no warehouse, no alerting).

The owner of a node is, first found:

1. ``source_owners`` from configuration, for the source system the node is or reads directly;
2. for a row-level breach (rows held back by a sluice model, or a failing sluice rule), the
   ``owner`` of the breaching rule;
3. when a source is unavailable, the owner of the sources the node reads directly;
4. the node's own ``owner``: a rule's ``owner`` argument, ``config.meta.sluice.owner``,
   ``meta.owner`` (for a test: then the tested node's);
5. the owner of the node's group;
6. the owners of the exposures the node reaches;
7. ``default_owner``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sluice.artifacts.models import Exposure, Manifest, Node, Source
from sluice.impact.model import Owner

DEFAULT_OWNER = "unowned"


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


def rule_owner(node: Node) -> str | None:
    """A sluice rule's ``owner`` argument (any generic test's ``owner`` argument)."""
    if node.test_metadata is None:
        return None
    return _text(node.test_metadata.kwargs.get("owner"))


def _meta_owner(node: Node | Source) -> str | None:
    if isinstance(node, Node):
        owner = rule_owner(node)
        if owner:
            return owner
    metas = (node.config.meta, node.meta)
    for meta in metas:
        owner = _text(_sluice_meta(meta).get("owner"))
        if owner:
            return owner
    for meta in metas:
        owner = _text(meta.get("owner"))
        if owner:
            return owner
    return None


def source_systems(source: Source) -> list[str]:
    """The names a source is known by for owner overrides: its source name and source_system."""
    names = [source.source_name]
    for meta in (source.config.meta, source.meta, source.source_meta):
        for value in (meta.get("source_system"), _sluice_meta(meta).get("source_system")):
            if isinstance(value, str) and value:
                names.append(value)
    return names


def tested_node(node: Node) -> str | None:
    if node.attached_node:
        return node.attached_node
    for parent in node.depends_on.nodes:
        if parent.startswith(("model.", "seed.", "snapshot.", "source.")):
            return parent
    return None


def rules_of(manifest: Manifest, model_id: str) -> dict[str, Node]:
    """The tests attached to a model, by name (a sluice rule's name is its test's name)."""
    return {
        node.name: node
        for node in manifest.nodes.values()
        if node.resource_type == "test" and node.attached_node == model_id
    }


def breach_owner(manifest: Manifest, model_id: str, rule_names: Sequence[str]) -> Ownership | None:
    """The owner of the first breaching rule (in the order given) that names one."""
    rules = rules_of(manifest, model_id)
    for name in rule_names:
        rule = rules.get(name)
        owner = rule_owner(rule) if rule is not None else None
        if owner and rule is not None:
            return Ownership(owner, f"owner of rule '{name}' ({rule.unique_id})")
    return None


def exposure_owner_labels(manifest: Manifest, exposures: Iterable[str]) -> list[str]:
    owners: list[str] = []
    for uid in exposures:
        exposure = manifest.exposures.get(uid)
        label = exposure.owner.label if exposure is not None else None
        if label and label not in owners:
            owners.append(label)
    return owners


def resolve_owner(
    unique_id: str,
    manifest: Manifest,
    *,
    parents: Sequence[str] = (),
    reached_exposures: Sequence[str] = (),
    source_owners: Mapping[str, str] | None = None,
    default_owner: str = DEFAULT_OWNER,
    source_first: bool = False,
    breached_rules: Sequence[str] = (),
) -> Ownership:
    """The owner of a problem at ``unique_id`` (see the module's docstring for the order).

    ``parents`` are the node's direct parents, ``reached_exposures`` the exposures downstream
    of it, ``breached_rules`` the sluice rules whose rows it held back (most severe first).
    """
    overrides = source_owners or {}
    direct = [unique_id, *parents]
    for uid in direct:
        source = manifest.sources.get(uid)
        if source is None:
            continue
        for system in source_systems(source):
            if system in overrides:
                return Ownership(overrides[system], f"source system '{system}' (configuration)")

    if breached_rules:
        found = breach_owner(manifest, unique_id, breached_rules)
        if found is not None:
            return found

    node: Node | Source | None = manifest.nodes.get(unique_id) or manifest.sources.get(unique_id)
    candidates: list[Node | Source] = []
    if source_first:
        candidates.extend(manifest.sources[uid] for uid in direct if uid in manifest.sources)
    if node is not None:
        candidates.append(node)
        if isinstance(node, Node) and node.resource_type in ("test", "unit_test"):
            tested = tested_node(node) or ""
            tested_item = manifest.nodes.get(tested) or manifest.sources.get(tested)
            if tested_item is not None:
                candidates.append(tested_item)
    for candidate in candidates:
        owner = _meta_owner(candidate)
        if owner:
            return Ownership(owner, f"meta.owner of {candidate.unique_id}")
    for candidate in candidates:
        if isinstance(candidate, Node):
            group_name = candidate.group or candidate.config.group
            if not group_name:
                continue
            for group in manifest.groups.values():
                if group.name == group_name and group.owner.label:
                    return Ownership(group.owner.label, f"owner of group '{group_name}'")
    owners = exposure_owner_labels(manifest, reached_exposures)
    if owners:
        return Ownership(", ".join(owners), "owners of the exposures it reaches")
    return Ownership(default_owner, "default owner")


def _owner_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def exposure_owners(exposure: Exposure) -> tuple[Owner, ...]:
    """The exposure's ``owner`` plus any ``meta.owner`` (a name, a mapping, or a list of them)."""
    owners: list[Owner] = []
    emails = exposure.owner.email
    email_list: list[str | None] = list(emails) if isinstance(emails, list) else [emails]
    if exposure.owner.name or any(email_list):
        for email in email_list or [None]:
            owners.append(Owner(name=_owner_text(exposure.owner.name), email=_owner_text(email)))
    for meta in (exposure.config.meta, exposure.meta):
        raw = meta.get("owner")
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, dict):
                owner = Owner(
                    name=_owner_text(item.get("name")), email=_owner_text(item.get("email"))
                )
            else:
                text = _owner_text(item)
                is_email = text is not None and "@" in text
                owner = Owner(name=None if is_email else text, email=text if is_email else None)
            if owner.name or owner.email:
                owners.append(owner)
    return tuple(dict.fromkeys(owners))
