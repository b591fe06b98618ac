"""Alerts to a generic webhook, as a Slack-compatible JSON payload (``text`` and ``blocks``).

The URL is a secret: it is never logged, returned or written anywhere; delivery errors are
reported without it or any part of it (:func:`redact`). A ``user:password@`` in the URL is sent
as Basic authentication, with or without a port, never as part of the host. :func:`validate_url`
checks it before a build starts, so a malformed URL is a configuration error (exit 2) rather
than a crash after the build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sluice.errors import InputError
from sluice.escalate.core import Escalation

MAX_FAILURE_BLOCKS = 40
MAX_MESSAGE_CHARS = 600


@dataclass(frozen=True, slots=True)
class Delivery:
    attempted: bool
    delivered: bool
    status: int | None = None
    error: str | None = None


class WebhookURLError(InputError):
    """The webhook URL is unusable; the message never contains the URL."""


def validate_url(url: str | None, origin: str = "the webhook URL") -> str | None:
    """The URL, checked: http(s), a host, a valid port, no spaces or control characters.

    ``origin`` names where the URL came from (``SLUICE_WEBHOOK_URL``, a pyproject key) for the
    message; the URL itself is never repeated.
    """
    import urllib.parse

    if url is None:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise WebhookURLError(f"{origin}: contains spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookURLError(f"{origin}: not a valid URL (bad host or port)") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookURLError(f"{origin}: must start with http:// or https://")
    if not parts.hostname:
        raise WebhookURLError(f"{origin}: has no host")
    if port == 0:
        raise WebhookURLError(f"{origin}: port 0 is not valid")
    if "@" in parts.netloc and not parts.username:
        raise WebhookURLError(f"{origin}: has a password but no user name")
    return url


def _escape(text: str) -> str:
    """Slack mrkdwn escaping: the three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_payload(
    alerts: Sequence[Escalation], *, project: str, exit_code: int, attempts: int
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.priority] = counts.get(alert.priority, 0) + 1
    summary = ", ".join(f"{p}: {n}" for p, n in sorted(counts.items()))
    times = max((alert.repeated for alert in alerts), default=0)
    again = f" (the same failure on {times} consecutive attempts)" if times else ""
    text = (
        f"sluice build of {project}: {len(alerts)} failure(s) need an owner ({summary}); "
        f"exit code {exit_code} after {attempts} attempt(s){again}."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(text, 150)}},
    ]
    for alert in alerts[:MAX_FAILURE_BLOCKS]:
        exposures = ", ".join(e.split(".")[-1] for e in alert.exposures) or "none"
        repeated = (
            f"*Repeated:* failed the same way on {alert.repeated} consecutive attempts\n"
            if alert.repeated
            else ""
        )
        body = (
            f"*{alert.priority}* `{_escape(alert.name)}` - *{alert.failure_class}* "
            f"({alert.severity})\n"
            f"*Owner:* {_escape(alert.owner)}  *Exposures:* {_escape(exposures)}  "
            f"*Blocked nodes:* {len(alert.blocked)}\n"
            f"*Next:* {alert.action}\n"
            f"{repeated}"
            f"> {_escape(_short(alert.message or alert.reason))}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    if len(alerts) > MAX_FAILURE_BLOCKS:
        more = len(alerts) - MAX_FAILURE_BLOCKS
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {more} more"}]}
        )
    return {"text": text, "blocks": blocks}


_SECRET_PARAM = re.compile(
    r"(?i)\b((?:access_|api_|auth_|client_)?(?:token|key|sig|signature|secret|password|passwd|"
    r"pass|pwd|auth|apikey|code|credential|credentials))=[^&\s'\"<>#]+"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
_USER_PASSWORD = re.compile(r"[^\s/@'\"<>():]+:[^\s/@'\"<>()]+@")


def redact(text: str, url: str | None = None) -> str:
    """The text without the webhook URL nor any part of it that can hold a secret (its user
    and password, path, query values, fragment), and without any URL credential whatever
    the URL: ``user:password@`` and secret-looking query values (``token=``, ``key=``,
    ``sig=`` ...) become ``<redacted>``."""
    import urllib.parse

    pieces: list[str] = []
    if url:
        pieces.append(url)
        try:
            parts = urllib.parse.urlsplit(url)
            userinfo = parts.netloc.rpartition("@")[0]
            pieces += [parts.netloc, userinfo, parts.path, parts.query, parts.fragment]
            pieces += [parts.username or "", parts.password or ""]
            pieces += [urllib.parse.unquote(p) for p in (parts.username, parts.password) if p]
            pieces += [v for _, v in urllib.parse.parse_qsl(parts.query)]
            pieces += [seg for seg in parts.path.split("/") if len(seg) >= 8]
        except ValueError:
            pass
    for piece in sorted({p for p in pieces if p and len(p) > 1}, key=len, reverse=True):
        if piece not in ("/", "//"):
            text = text.replace(piece, "<redacted>")
    text = _USERINFO.sub(r"\1<redacted>@", text)
    text = _USER_PASSWORD.sub("<redacted>@", text)
    return _SECRET_PARAM.sub(r"\1=<redacted>", text)


def _without_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without ``user:password@``, and the Basic ``Authorization`` header it stood
    for (None when the URL has no user)."""
    import base64
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), f"Basic {token}"


def deliver(url: str, payload: dict[str, Any], timeout: float) -> Delivery:
    """POST the payload; any failure is returned, never raised."""
    import urllib.error  # here, not at the top: most builds send nothing (saves start-up time)
    import urllib.request

    data = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "sluice"}
    try:
        target, authorization = _without_userinfo(url)
        if authorization is not None:  # user:password@ is sent as Basic authentication
            headers["Authorization"] = authorization
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked when configured
            target, data=data, method="POST", headers=headers
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return Delivery(True, False, exc.code, redact(f"HTTP {exc.code} {exc.reason}", url))
    except Exception as exc:  # any failure is reported, never raised (http.client's too)
        reason = getattr(exc, "reason", exc)
        return Delivery(True, False, None, redact(f"{type(exc).__name__}: {reason}", url))
    if 200 <= status < 300:
        return Delivery(True, True, status)
    return Delivery(True, False, status, f"HTTP {status}")
