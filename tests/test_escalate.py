"""Owners, priorities, the webhook payload and delivery, and the Prometheus textfile."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import msgspec
import pytest
from sluice.artifacts import decode_manifest
from sluice.classify import Failure, FailureClass
from sluice.classify.graph import build_graph
from sluice.errors import InputError
from sluice.escalate import escalate
from sluice.escalate.priority import is_alert, priority
from sluice.escalate.prometheus import BuildMetrics, render
from sluice.escalate.webhook import build_payload, deliver, validate_url
from sluice.impact.owners import resolve_owner
from sluice.lineage import exposures_reached
from sluice.retry.config import EscalationSettings
from sluice.warehouse import RuleCount

MANIFEST_V12 = "https://schemas.getdbt.com/dbt/manifest/v12.json"


def _manifest(raw: bytes):
    """A manifest as dbt writes it: every top-level key present (sources and exposures, empty
    when the test has none)."""
    return decode_manifest(
        msgspec.json.encode({"sources": {}, "exposures": {}, **msgspec.json.decode(raw)})
    )


def node(name, *parents, resource_type="model", **extra):
    return {
        "unique_id": f"{resource_type}.shop.{name}",
        "resource_type": resource_type,
        "name": name,
        "depends_on": {"nodes": list(parents)},
        **extra,
    }


MANIFEST = _manifest(
    msgspec.json.encode(
        {
            "metadata": {"dbt_schema_version": MANIFEST_V12, "adapter_type": "snowflake"},
            "nodes": {
                n["unique_id"]: n
                for n in [
                    node("stg_orders", "source.shop.erp.orders"),
                    node("stg_crm", config={"meta": {"sluice": {"owner": "crm@example.com"}}}),
                    node(
                        "customers", "model.shop.stg_crm", meta={"owner": ["ana@example.com", "bo"]}
                    ),
                    node("orders", "model.shop.stg_orders", config={"group": "finance"}),
                    node("revenue", "model.shop.orders"),
                    node("orphan"),
                    node(
                        "assert_positive",
                        "model.shop.stg_crm",
                        resource_type="test",
                        attached_node="model.shop.stg_crm",
                        config={"meta": {"sluice": {"severity": "critical"}}},
                    ),
                ]
            },
            "sources": {
                "source.shop.erp.orders": {
                    "unique_id": "source.shop.erp.orders",
                    "name": "orders",
                    "source_name": "erp",
                    "meta": {"source_system": "SAP"},
                }
            },
            "exposures": {
                "exposure.shop.board": {
                    "unique_id": "exposure.shop.board",
                    "name": "board",
                    "depends_on": {"nodes": ["model.shop.revenue"]},
                    "owner": {"name": "CFO office", "email": "cfo@example.com"},
                    "config": {"meta": {"criticality": "critical"}},
                },
                "exposure.shop.crm_app": {
                    "unique_id": "exposure.shop.crm_app",
                    "name": "crm_app",
                    "depends_on": {"nodes": ["model.shop.customers"]},
                    "owner": {"name": "CRM app"},
                    "meta": {"criticality": "medium"},
                },
            },
            "groups": {
                "group.shop.finance": {"name": "finance", "owner": {"email": "fin@example.com"}}
            },
        }
    )
)
GRAPH = build_graph(MANIFEST)


@pytest.mark.parametrize(
    ("uid", "overrides", "owner", "basis"),
    [
        ("model.shop.stg_orders", {"SAP": "sap-team@example.com"}, "sap-team@example.com", "SAP"),
        ("model.shop.stg_orders", {"erp": "erp@example.com"}, "erp@example.com", "erp"),
        ("source.shop.erp.orders", {"erp": "erp@example.com"}, "erp@example.com", "erp"),
        ("model.shop.stg_crm", {}, "crm@example.com", "meta.owner"),
        ("model.shop.customers", {}, "ana@example.com, bo", "meta.owner"),
        ("test.shop.assert_positive", {}, "crm@example.com", "stg_crm"),
        ("model.shop.orders", {}, "fin@example.com", "group 'finance'"),
        ("model.shop.revenue", {}, "cfo@example.com", "exposures"),
        ("model.shop.stg_orders", {}, "cfo@example.com", "exposures"),
        ("model.shop.orphan", {}, "nobody@example.com", "default"),
    ],
)
def test_owner_resolution(uid, overrides, owner, basis):
    found = resolve_owner(
        uid,
        MANIFEST,
        parents=GRAPH.parents_of(uid),
        reached_exposures=exposures_reached(GRAPH, [uid]),
        source_owners=overrides,
        default_owner="nobody@example.com",
    )
    assert found.owner == owner
    assert basis in found.basis


@pytest.mark.parametrize(
    ("severity", "criticality", "expected"),
    [
        ("critical", "critical", "P1"),
        ("high", "critical", "P1"),
        ("high", "high", "P2"),
        ("high", None, "P3"),
        ("medium", "high", "P2"),
        ("medium", None, "P3"),
        ("low", "low", "P4"),
        ("low", "medium", "P3"),
        ("critical", None, "P2"),
    ],
)
def test_priority_matrix(severity, criticality, expected):
    assert priority(severity, criticality) == expected


def test_an_unavailable_source_goes_to_the_source_owner_first():
    parents = ("source.shop.erp.orders",)
    found = resolve_owner("model.shop.stg_orders", SOURCED, parents=parents, source_first=True)
    assert found.owner == "erp-owner@example.com"
    plain = resolve_owner("model.shop.stg_orders", SOURCED, parents=parents)
    assert plain.owner == "stg-owner@example.com"


SOURCED = _manifest(
    msgspec.json.encode(
        {
            "metadata": {"dbt_schema_version": MANIFEST_V12},
            "nodes": {
                "model.shop.stg_orders": node(
                    "stg_orders", "source.shop.erp.orders", meta={"owner": "stg-owner@example.com"}
                )
            },
            "sources": {
                "source.shop.erp.orders": {
                    "unique_id": "source.shop.erp.orders",
                    "name": "orders",
                    "source_name": "erp",
                    "config": {"meta": {"owner": "erp-owner@example.com"}},
                }
            },
        }
    )
)


def test_a_sluice_rule_test_carries_its_owner_and_severity():
    rule = node(
        "sluice_not_null_orders_id",
        "model.shop.orders",
        resource_type="test",
        test_metadata={
            "name": "sluice_not_null",
            "namespace": "sluice",
            "kwargs": {
                "column_name": "id",
                "sluice_severity": "critical",
                "owner": "order-desk@example.com",
            },
        },
    )
    manifest = _manifest(
        msgspec.json.encode(
            {
                "metadata": {"dbt_schema_version": MANIFEST_V12},
                "nodes": {rule["unique_id"]: rule, "model.shop.orders": node("orders")},
            }
        )
    )
    [e] = escalate(
        [fail(rule["unique_id"], "data_quality", status="fail")],
        manifest,
        build_graph(manifest),
        EscalationSettings(),
    )
    assert e.owner == "order-desk@example.com" and e.severity == "critical"


def test_alert_threshold():
    assert is_alert("P1", "P3") and is_alert("P3", "P3") and not is_alert("P4", "P3")
    assert not is_alert("P2", "P1")


def fail(uid, cls, message="", roots=(), status="error", gate=False):
    c = FailureClass(cls)
    return Failure(
        uid, uid.split(".")[-1], uid.split(".")[0], status, c, message, "why", tuple(roots), c, gate
    )


def test_escalations_follow_root_causes_to_exposures():
    failures = [
        fail("model.shop.stg_orders", "schema_change"),
        fail(
            "model.shop.orders",
            "dependency_failed",
            roots=["model.shop.stg_orders"],
            status="skipped",
        ),
        fail(
            "model.shop.revenue",
            "dependency_failed",
            roots=["model.shop.stg_orders"],
            status="skipped",
        ),
        fail("test.shop.assert_positive", "data_quality", status="fail"),
        fail("model.shop.orphan", "unknown"),
    ]
    settings = EscalationSettings(alert_min_priority="P2", source_owners={"SAP": "sap@x.com"})
    found = {e.unique_id: e for e in escalate(failures, MANIFEST, GRAPH, settings)}
    assert set(found) == {"model.shop.stg_orders", "test.shop.assert_positive", "model.shop.orphan"}
    stg = found["model.shop.stg_orders"]
    assert stg.exposures == ("exposure.shop.board",) and stg.criticality == "critical"
    assert stg.priority == "P1" and stg.alert and stg.owner == "sap@x.com"
    assert stg.blocked == ("model.shop.orders", "model.shop.revenue")
    assert stg.action == "escalate"
    test = found["test.shop.assert_positive"]
    assert test.severity == "critical" and test.exposures == ("exposure.shop.crm_app",)
    assert test.priority == "P2" and test.action == "hold_and_escalate"
    orphan = found["model.shop.orphan"]
    assert orphan.priority == "P3" and not orphan.alert


def test_gate_hold_severity_and_owner_come_from_sluice_runs():
    # the message is for people: severity and owner come from the structured rule counts
    message = "sluice gate held publication of model 'revenue': low: 9 rows [...]"
    counts = (
        RuleCount("revenue_amount_known", "invalid_value", "low", "quarantine", 9),
        RuleCount("revenue_id_required", "missing_required_field", "critical", "quarantine", 2),
        RuleCount("revenue_id_unique", "duplicate_event", "critical", "deduplicate", 0),
    )
    [e] = escalate(
        [fail("model.shop.revenue", "data_quality", message, gate=True)],
        RULED,
        build_graph(RULED),
        EscalationSettings(),
        rule_counts={"model.shop.revenue": counts},
    )
    assert e.severity == "critical" and e.priority == "P1"
    assert e.owner == "ids-team@example.com" and "revenue_id_required" in e.owner_basis
    # without counts: the class's severity, and the model's own owner
    [plain] = escalate(
        [fail("model.shop.revenue", "data_quality", message, gate=True)],
        RULED,
        build_graph(RULED),
        EscalationSettings(),
    )
    assert plain.severity == "medium" and plain.owner == "finance-models@example.com"


def _rule(name, owner):
    return node(
        name,
        "model.shop.revenue",
        resource_type="test",
        attached_node="model.shop.revenue",
        test_metadata={
            "name": "sluice_not_null",
            "namespace": "sluice",
            "kwargs": {"owner": owner},
        },
    )


RULED = _manifest(
    msgspec.json.encode(
        {
            "metadata": {"dbt_schema_version": MANIFEST_V12},
            "nodes": {
                n["unique_id"]: n
                for n in [
                    node("revenue", meta={"owner": "finance-models@example.com"}),
                    _rule("revenue_amount_known", "amounts-team@example.com"),
                    _rule("revenue_id_required", "ids-team@example.com"),
                ]
            },
            "exposures": {
                "exposure.shop.board": {
                    "unique_id": "exposure.shop.board",
                    "name": "board",
                    "maturity": "high",
                    "depends_on": {"nodes": ["model.shop.revenue"]},
                }
            },
        }
    )
)


def test_maturity_high_is_critical_for_alerts_as_in_the_report():
    [e] = escalate(
        [fail("model.shop.revenue", "schema_change")],
        RULED,
        build_graph(RULED),
        EscalationSettings(),
    )
    # maturity high -> critical (the report's rule); high severity + critical -> P1
    assert e.criticality == "critical" and e.priority == "P1"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/services/T0 SECRETPATH",
        "ftp://hooks.example.com/SECRETPATH",
        "https:///SECRETPATH",
        "https://hooks.example.com:99999/SECRETPATH",
        "https://hooks.example.com/SECRET\nPATH\n",
    ],
)
def test_bad_webhook_urls_are_refused_without_echoing_them(url):
    url = url.replace("\\n", "\n")
    with pytest.raises(InputError) as raised:
        validate_url(url, "SLUICE_WEBHOOK_URL")
    assert "SLUICE_WEBHOOK_URL" in str(raised.value)
    assert "SECRET" not in str(raised.value) and "hooks.example.com" not in str(raised.value)
    assert validate_url("https://hooks.example.com/x?y=1", "x") == "https://hooks.example.com/x?y=1"
    assert validate_url(None) is None


def test_delivery_to_an_invalid_url_is_reported_without_the_secret():
    delivery = deliver("http://127.0.0.1:1/SECRET PATH", {"text": "x", "blocks": []}, 2)
    assert delivery.attempted and not delivery.delivered
    assert "SECRET" not in (delivery.error or "")


def test_payload_is_slack_compatible_and_escaped():
    failures = [fail("model.shop.customers", "schema_change", "column <x> & 'y' missing")]
    escalations = escalate(failures, MANIFEST, GRAPH, EscalationSettings())
    payload = build_payload(escalations, project="shop", exit_code=1, attempts=1)
    assert set(payload) == {"text", "blocks"}
    assert payload["blocks"][0]["type"] == "header"
    body = payload["blocks"][1]["text"]["text"]
    assert "&lt;x&gt; &amp;" in body and "ana@example.com" in body
    many = build_payload(escalations * 45, project="shop", exit_code=1, attempts=1)
    assert len(many["blocks"]) <= 50
    json.dumps(payload)


class Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []
    status = 200

    def do_POST(self):
        Recorder.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(Recorder.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Recorder.received = []
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_webhook_delivery(server):
    url = f"http://127.0.0.1:{server.server_port}/hook/secret"
    Recorder.status = 200
    delivery = deliver(url, {"text": "hi", "blocks": []}, timeout=5)
    assert delivery.delivered and delivery.status == 200
    assert json.loads(Recorder.received[0]) == {"text": "hi", "blocks": []}
    Recorder.status = 500
    failed = deliver(url, {"text": "hi", "blocks": []}, timeout=5)
    assert not failed.delivered and failed.status == 500 and "secret" not in failed.error


def test_webhook_connection_refused_is_returned_not_raised():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delivery = deliver(f"http://127.0.0.1:{port}/secret", {"text": "x", "blocks": []}, 5)
    assert delivery.attempted and not delivery.delivered
    assert "refused" in delivery.error.lower() and "secret" not in delivery.error


def test_prometheus_textfile():
    text = render(
        BuildMetrics(
            failures_by_class={"schema_change": 1},
            failures_seen_by_class={"transient": 2},
            attempts=3,
            retries=2,
            exit_code=1,
            duration_seconds=12.5,
            finished_at=1700000000.0,
            gates_held=1,
            rows_quarantined={("invalid_value", "high"): 4},
            rows_held_by_model={'we"ird': 3},
            exposures_by_status={"blocked": 2},
            alerts_by_priority={"P1": 1},
            alert_delivery_failures=0,
        )
    )
    lines = text.splitlines()
    assert 'sluice_build_failures{class="schema_change"} 1' in lines
    assert 'sluice_build_failures{class="transient"} 0' in lines
    assert "sluice_build_retries 2" in lines
    assert 'sluice_rows_quarantined{class="invalid_value",severity="high"} 4' in lines
    assert 'sluice_rows_held{model="we\\"ird"} 3' in lines
    assert 'sluice_exposures{status="blocked"} 2' in lines
    # every metric is per build: gauges, none named *_total (a counter must only grow)
    assert "# TYPE sluice_build_retries gauge" in lines
    assert not [line for line in lines if "_total" in line or line.endswith(" counter")]
    assert text.endswith("\n")
    for line in lines:
        assert line.startswith("#") or line.startswith("sluice_")
