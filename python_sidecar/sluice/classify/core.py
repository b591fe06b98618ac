"""Classification: a pure function from run results and a manifest to classified failures."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sluice.artifacts.models import Manifest, RunResult, RunResults
from sluice.classify.graph import Graph, build_graph
from sluice.classify.model import FAILED_STATUSES, SKIPPED_STATUS, Failure, FailureClass
from sluice.classify.patterns import Pattern, match_message

GATE_MARKER = "sluice gate held publication"

# When the root causes of a skip differ, the class that decides is the first in this order.
_PRECEDENCE = (
    FailureClass.AUTHORIZATION,
    FailureClass.SCHEMA_CHANGE,
    FailureClass.SOURCE_UNAVAILABLE,
    FailureClass.DATA_QUALITY,
    FailureClass.PARTIAL_LOAD,
    FailureClass.UNKNOWN,
    FailureClass.TRANSIENT,
)


def classify_message(
    message: str,
    adapter: str | None,
    patterns: Sequence[Pattern],
    source_names: Sequence[str] = (),
    rule_reads: Mapping[str, str] | None = None,
) -> tuple[FailureClass, str]:
    """The class of an error message and the reason, from the first matching pattern.

    ``source_names`` are the identifiers of the sources the node reads: a "relation does not
    exist" message naming one of them is ``source_unavailable``. ``rule_reads`` maps the names of
    the models, seeds and snapshots that the node's rules (its tests) read, and the node does not
    depend on, to the rule: a missing relation naming one of them was not built yet when the
    rule ran, which is no schema change (``unknown``, with the line that orders the build). Any
    other missing relation is a ``schema_change``.
    """
    pattern = match_message(message, adapter, patterns)
    if pattern is None:
        return FailureClass.UNKNOWN, "no pattern matched the message"
    if pattern.missing_relation:
        if any(_names(name, message) for name in source_names if name):
            return FailureClass.SOURCE_UNAVAILABLE, pattern.description
        for name, rule in (rule_reads or {}).items():
            if _names(name, message):
                return (
                    FailureClass.UNKNOWN,
                    f"{pattern.description} The rule {rule} reads {name}, which the model does "
                    f"not depend on, so dbt did not build it first: add "
                    f"`-- depends_on: {{{{ ref('{name}') }}}}` to the model's SQL.",
                )
        return (
            FailureClass.SCHEMA_CHANGE,
            f"{pattern.description} It is not one of the node's sources: a model or relation "
            "was dropped or renamed.",
        )
    return pattern.failure_class, pattern.description


def _names(name: str, message: str) -> bool:
    """Whether the message names the relation as a whole word (``orders``, not ``stg_orders``)."""
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", message, re.IGNORECASE) is not None


def _source_names(manifest: Manifest, parents: Sequence[str]) -> list[str]:
    names: list[str] = []
    for parent in parents:
        source = manifest.sources.get(parent)
        if source is not None:
            names.append(source.identifier or source.name)
            if source.relation_name:
                names.append(source.relation_name.replace('"', "").replace("`", ""))
    return names


def _classify_failed(
    result: RunResult, manifest: Manifest, graph: Graph, patterns: Sequence[Pattern]
) -> tuple[FailureClass, str]:
    message = result.message or ""
    if result.status == "fail":
        failing = f"{result.failures} failing rows" if result.failures is not None else "failed"
        return FailureClass.DATA_QUALITY, f"a data test failed ({failing})"
    if result.status == "partial success":
        return FailureClass.PARTIAL_LOAD, "only part of the batches were written"
    if result.unique_id.startswith("source."):
        return FailureClass.SOURCE_UNAVAILABLE, "the source's freshness check errored"
    adapter = manifest.metadata.adapter_type
    parents = graph.parents_of(result.unique_id)
    sources = _source_names(manifest, parents)
    rule_reads: dict[str, str] = {}
    for test in graph.tests_on.get(result.unique_id, ()):
        if result.unique_id not in graph.tested.get(test, ()):
            continue  # another node's test that reads this one
        read = [p for p in graph.parents_of(test) if p != result.unique_id and p not in parents]
        sources.extend(_source_names(manifest, read))
        for unique_id in read:
            node = manifest.nodes.get(unique_id)
            if node is not None and node.resource_type in ("model", "seed", "snapshot"):
                rule = manifest.nodes[test].name if test in manifest.nodes else test
                rule_reads.setdefault(node.alias or node.name, rule)
    return classify_message(message, adapter, patterns, sources, rule_reads)


def _root_causes(unique_id: str, statuses: Mapping[str, str], graph: Graph) -> tuple[str, ...]:
    """The failed nodes upstream of a skipped node, through any chain of skipped nodes.

    ``dbt build`` also skips the children of a node whose test failed, so a parent's tests are
    looked at as well as the parent itself.
    """
    roots: set[str] = set()
    seen: set[str] = {unique_id}
    stack = [unique_id]
    while stack:
        current = stack.pop()
        parents = graph.parents_of(current)
        candidates = list(parents)
        for parent in parents:
            candidates.extend(t for t in graph.tests_on.get(parent, ()) if t != current)
        for candidate in candidates:
            if candidate in seen:
                continue
            seen.add(candidate)
            status = statuses.get(candidate)
            if status in FAILED_STATUSES:
                roots.add(candidate)
            elif status == SKIPPED_STATUS:
                stack.append(candidate)
    return tuple(sorted(roots))


def effective_class(classes: Sequence[FailureClass]) -> FailureClass:
    """The class that decides for a set of root causes: transient only if all are."""
    present = set(classes)
    if not present:
        return FailureClass.UNKNOWN
    return next(c for c in _PRECEDENCE if c in present)


def classify(
    run_results: RunResults,
    manifest: Manifest,
    patterns: Sequence[Pattern],
    graph: Graph | None = None,
) -> tuple[Failure, ...]:
    """Every failed or skipped node of a run, classified, in the run's order."""
    graph = graph if graph is not None else build_graph(manifest)
    statuses = {r.unique_id: r.status for r in run_results.results}
    own: dict[str, tuple[FailureClass, str]] = {}
    for result in run_results.results:
        if result.status in FAILED_STATUSES:
            own[result.unique_id] = _classify_failed(result, manifest, graph, patterns)
    failures: list[Failure] = []
    for result in run_results.results:
        node = manifest.nodes.get(result.unique_id)
        source = manifest.sources.get(result.unique_id)
        name = node.name if node else (source.name if source else result.unique_id)
        resource_type = node.resource_type if node else result.unique_id.split(".", 1)[0]
        message = result.message or ""
        if result.unique_id in own:
            cls, reason = own[result.unique_id]
            failures.append(
                Failure(
                    unique_id=result.unique_id,
                    name=name,
                    resource_type=resource_type,
                    status=result.status,
                    failure_class=cls,
                    message=message,
                    reason=reason,
                    effective_class=cls,
                    gate_held=GATE_MARKER in message.lower(),
                )
            )
        elif result.status == SKIPPED_STATUS:
            roots = _root_causes(result.unique_id, statuses, graph)
            decided = effective_class([own[r][0] for r in roots if r in own])
            reason = (
                f"skipped: upstream {', '.join(roots)} failed"
                if roots
                else "skipped, but no failed upstream node was found in this run"
            )
            failures.append(
                Failure(
                    unique_id=result.unique_id,
                    name=name,
                    resource_type=resource_type,
                    status=result.status,
                    failure_class=FailureClass.DEPENDENCY_FAILED,
                    message=message,
                    reason=reason,
                    root_causes=roots,
                    effective_class=decided,
                )
            )
    return tuple(failures)
