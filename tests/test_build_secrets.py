"""A webhook URL's credentials reach no output of `sluice build`: not stderr, not build.json,
alerts.json or the metrics, not the warehouse's `sluice_build_alerts.delivery_error`. A
`user:password@` URL is sent as Basic authentication, with or without a port."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest
from sluice.cli import main
from sluice.escalate.webhook import deliver, redact, validate_url

PROJECT = Path(__file__).parent / "projects" / "build_faults"
SECRET = "S3CRETpw"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "build_faults"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("BUILD_FAULTS_DIR", str(data))
    monkeypatch.setenv("BUILD_FAULTS_DROP_EMAIL", "1")  # a structural failure: one alert
    monkeypatch.delenv("BUILD_FAULTS_NULL_ID", raising=False)
    for name in ("SLUICE_MAX_ATTEMPTS", "SLUICE_ALERT_MIN_PRIORITY", "SLUICE_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    return project


def test_userinfo_webhook_url_appears_in_no_output(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("SLUICE_WEBHOOK_URL", f"http://bot:{SECRET}@127.0.0.1:9/hook?token=tok123")
    code = main(
        [
            "build",
            "--project-dir",
            str(project),
            "--no-report",
            "--dbt-log",
            "--profiles-dir",
            str(project),
            "--max-attempts",
            "1",
        ]
    )
    out, err = capfd.readouterr()
    assert code == 1
    sluice_dir = project / "target" / "sluice"
    alerts = json.loads((sluice_dir / "alerts.json").read_text())
    assert alerts["delivery"]["attempted"] and not alerts["delivery"]["delivered"]
    assert "alert delivery failed" in err
    texts = [out, err]
    texts += [p.read_text(errors="replace") for p in sluice_dir.rglob("*") if p.is_file()]
    for text in texts:
        assert SECRET not in text
        assert "tok123" not in text
    con = duckdb.connect(str(project.parent / "data" / "build_faults.duckdb"), read_only=True)
    try:
        [schema] = con.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'sluice_build_alerts'"
        ).fetchone()
        errors = con.execute(f"select delivery_error from {schema}.sluice_build_alerts").fetchall()
    finally:
        con.close()
    assert errors and all(e[0] and SECRET not in e[0] and "tok123" not in e[0] for e in errors)


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        (f"http://bot:{SECRET}@127.0.0.1/hook", [SECRET]),
        (f"https://bot:{SECRET}@hooks.example.com:8443/x", [SECRET]),
        (
            "https://example.com/hook?token=abc123&key=def456&sig=ghi789",
            ["abc123", "def456", "ghi789"],
        ),
    ],
)
def test_redact_removes_credentials_without_knowing_the_url(url: str, secrets: list[str]):
    message = f"URLError: cannot reach {url} ({url.split('//')[1]})"
    for secret in secrets:
        assert secret not in redact(message)
        assert secret not in redact(message, url)


def test_redact_removes_the_configured_urls_path():
    url = "https://hooks.example.com/services/T000/B000/XXXXsecretXXXXpath"
    assert "XXXXsecretXXXXpath" not in redact(
        "HTTP 404 for /services/T000/B000/XXXXsecretXXXXpath", url
    )


def test_userinfo_url_with_a_port_is_accepted_and_sent_as_basic_authentication():
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://bot:{SECRET}@127.0.0.1:{server.server_port}/hook"
        assert validate_url(url, "SLUICE_WEBHOOK_URL") == url
        delivery = deliver(url, {"text": "x"}, 10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert delivery.delivered, delivery
    assert seen == ["Basic " + base64.b64encode(f"bot:{SECRET}".encode()).decode()]


def test_password_without_user_is_refused_at_startup_without_the_secret():
    from sluice.escalate.webhook import WebhookURLError

    with pytest.raises(WebhookURLError) as caught:
        validate_url(f"http://:{SECRET}@127.0.0.1/hook", "SLUICE_WEBHOOK_URL")
    assert SECRET not in str(caught.value)
