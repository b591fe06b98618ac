"""This run's escalations and their alerts: the webhook, and ``alerts.json``.

Owns escalating the run's failures (:func:`sluice.escalate.escalate`, with the gates' rule
counts), sending the alerts to the webhook, and recording what was sent in
``target/sluice/alerts.json``. Runs no dbt and writes no other file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from sluice.artifacts import Manifest
from sluice.build.layout import sluice_dir, write_json
from sluice.classify.graph import Graph
from sluice.classify.model import Failure
from sluice.escalate.core import Escalation, escalate
from sluice.escalate.webhook import Delivery, build_payload, deliver
from sluice.impact import ModelQuarantine
from sluice.retry.config import BuildSettings

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
