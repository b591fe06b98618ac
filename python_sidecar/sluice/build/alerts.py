"""This run's escalations and their alerts: the webhook, ``alerts.json`` and the trend alerts.

Owns escalating the run's failures (:func:`sluice.escalate.escalate`, with the gates' rule
counts), sending the alerts to the webhook, and recording what was sent in
``target/sluice/alerts.json``; the trend alerts (:mod:`sluice.escalate.trends`) evaluated from
the warehouse after dbt, and what was sent of them in ``target/sluice/trend_alerts.json``.
Runs no dbt and writes no other file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sluice.artifacts import Manifest
from sluice.build.layout import sluice_dir, write_json
from sluice.build.report_step import WarehouseAfterDbt
from sluice.classify.graph import Graph
from sluice.classify.model import Failure
from sluice.errors import InputError
from sluice.escalate.core import Escalation, escalate
from sluice.escalate.metrics import OperationalMetrics, RuleMetrics
from sluice.escalate.priority import RANK, is_alert, priority
from sluice.escalate.trends import (
    BuildRate,
    ModelFigures,
    evaluate,
    model_rules,
    project_rules,
    to_send,
)
from sluice.escalate.trends import payload as trend_payload
from sluice.escalate.webhook import Delivery, build_payload, deliver
from sluice.impact import ModelQuarantine
from sluice.retry.config import BuildSettings
from sluice.warehouse.connection import describe_error

NOT_SENT_INTERRUPTED = "not sent: the build was interrupted"


def escalations_of(
    failures: Sequence[Failure],
    manifest: Manifest,
    graph: Graph,
    settings: BuildSettings,
    quarantine: Mapping[str, ModelQuarantine],
) -> tuple[Escalation, ...]:
    """The run's escalations; a held gate's owner and severity come from its rule counts."""
    return escalate(
        failures,
        manifest,
        graph,
        settings.escalation,
        rule_counts={uid: q.rule_counts for uid, q in quarantine.items()},
    )


def alert(
    escalations: Sequence[Escalation],
    settings: BuildSettings,
    target_dir: Path,
    *,
    project: str,
    exit_code: int,
    attempts: int,
    invocation_id: str,
    send: bool = True,
) -> Delivery:
    """Send the alerts to the webhook, if any; record everything in ``alerts.json``."""
    alerts = [e for e in escalations if e.alert]
    payload = (
        build_payload(alerts, project=project, exit_code=exit_code, attempts=attempts)
        if alerts
        else None
    )
    url = settings.escalation.webhook_url
    if payload is not None and not send:
        delivery = Delivery(False, False, None, NOT_SENT_INTERRUPTED)
    elif payload is not None and url:
        delivery = deliver(url, payload, settings.escalation.webhook_timeout)
    elif payload is not None:
        delivery = Delivery(False, False, None, "no webhook configured")
    else:
        delivery = Delivery(False, False, None, None)
    write_json(
        sluice_dir(target_dir) / "alerts.json",
        {
            "invocation_id": invocation_id,
            "delivery": asdict(delivery),
            "payload": payload,
            "escalations": [asdict(e) for e in escalations],
        },
    )
    return delivery


TREND_STATE_FILE = "trend_alerts.json"


def _model_figures(
    manifest: Manifest,
    metrics: OperationalMetrics,
    builds: Mapping[str, tuple[BuildRate, ...]],
    default_owner: str,
) -> list[tuple[ModelFigures, Any]]:
    """Each sluice model's figures and its ``meta.sluice.alerts``; severity and owner those of
    its most severe rule with exceptions."""
    by_model: dict[str, list[RuleMetrics]] = {}
    for r in metrics.rules:
        by_model.setdefault(r.model, []).append(r)
    found: list[tuple[ModelFigures, Any]] = []
    for unique_id, node in sorted(manifest.nodes.items()):
        if node.resource_type != "model" or node.config.materialized != "sluice":
            continue
        sluice_meta = node.config.meta.get("sluice")
        meta_alerts = sluice_meta.get("alerts") if isinstance(sluice_meta, dict) else None
        rules = sorted(by_model.get(node.name, []), key=lambda r: -RANK.get(r.severity, -1))
        ages = [r.oldest_open_seconds for r in rules if r.oldest_open_seconds is not None]
        figures = ModelFigures(
            unique_id=unique_id,
            model=node.name,
            severity=rules[0].severity if rules and rules[0].severity else "medium",
            owner=rules[0].owner if rules and rules[0].owner else default_owner,
            builds=builds.get(unique_id, ()),
            oldest_open_seconds=max(ages) if ages else None,
        )
        found.append((figures, meta_alerts))
    return found


def trend_alerts(
    shared: WarehouseAfterDbt,
    manifest: Manifest,
    metrics: OperationalMetrics,
    settings: BuildSettings,
    target_dir: Path,
    *,
    project: str,
) -> str | None:
    """Evaluate the models' trend alerts from the warehouse's ``sluice_runs`` and exception
    events, send the conditions that started to hold since the last build to the webhook, and
    keep the ones sent in ``target/sluice/trend_alerts.json`` so they are not sent again while
    they hold. Returns a note when the alerts could not be read or sent (the build's outcome
    stands); a state file that cannot be written fails as ``alerts.json`` does."""
    from sluice.warehouse.metrics import read_recent_builds

    state_file = sluice_dir(target_dir) / TREND_STATE_FILE
    try:
        scopes = project_rules(shared.project().var("sluice_alerts", None))
        models = _model_figures(
            manifest,
            metrics,
            read_recent_builds(shared.connection()),
            settings.escalation.default_owner,
        )
        holding = [
            a
            for figures, meta_alerts in models
            for a in evaluate(
                model_rules(figures.model, meta_alerts, figures.severity, scopes), figures
            )
        ]
    except InputError as exc:
        shared.recover()
        return f"trend alerts not evaluated: {exc}"
    except Exception as exc:  # the build's outcome stands whatever happens here
        shared.recover()
        return f"trend alerts not evaluated: {describe_error(exc)}"
    sent_before = _sent_before(state_file)
    minimum = settings.escalation.alert_min_priority
    fresh = [
        (a, p)
        for a in to_send(holding, sent_before)
        if is_alert(p := priority(a.severity, None), minimum)
    ]
    url = settings.escalation.webhook_url
    body = trend_payload([a for a, _ in fresh], [p for _, p in fresh], project=project)
    if not fresh:
        delivery = Delivery(False, False, None, None)
    elif url:
        delivery = deliver(url, body, settings.escalation.webhook_timeout)
    else:
        delivery = Delivery(False, False, None, "no webhook configured")
    now = {a.key for a in holding}
    # still holding and sent before, or sent now; a delivery that failed is tried again
    sent = sorted(
        (now & set(sent_before)) | ({a.key for a, _ in fresh} if delivery.delivered else set())
    )
    write_json(
        state_file,
        {
            "sent_and_holding": sent,
            "holding": [asdict(a) for a in holding],
            "delivery": asdict(delivery),
            "payload": body if fresh else None,
        },
    )
    if delivery.attempted and not delivery.delivered:
        return f"trend alert delivery failed: {delivery.error}"
    return None


def _sent_before(state_file: Path) -> list[str]:
    """The keys sent and holding at the last build; none when the file is missing or
    unreadable (then every condition holding is sent again)."""
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
        keys = data.get("sent_and_holding", []) if isinstance(data, dict) else []
    except (OSError, ValueError):
        return []
    return [k for k in keys if isinstance(k, str)]
