"""Trend alerts: thresholds on a sluice model's error rate, its rise and its queue's age.

Pure evaluation over figures the caller reads from the warehouse (:class:`ModelFigures`), with
the rules (:class:`TrendRules`) read from ``meta.sluice.alerts`` (per model) over the var
``sluice_alerts`` (keys: a severity, or ``default`` for the project)::

    alerts:
      error_rate: {above: '2%', for_builds: 3}   # held / read, on each of the last 3 builds
      rising: {factor: 3, over: '7 days'}         # the last 7 days' rate over 3x the 7 before
      queue_age: {above: '2 days'}                # the oldest open exception's age

An alert is sent once when its condition starts to hold, and not again while it holds: the
state (:func:`to_send`) is the set of conditions holding at the last build; a condition that
clears is dropped from it, so it is sent again when it comes back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sluice.errors import InputError
from sluice.escalate.priority import SEVERITIES

KINDS: Final = ("error_rate", "rising", "queue_age")
_KEYS: Final = {
    "error_rate": ("above", "for_builds"),
    "rising": ("factor", "over"),
    "queue_age": ("above",),
}
_UNITS: Final = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_DURATION: Final = re.compile(r"^\s*([0-9]+)\s*(second|minute|hour|day|week)s?\s*$")


class AlertSettingError(InputError):
    """A malformed ``alerts`` setting; the message names the model (or var) and the key."""


@dataclass(frozen=True, slots=True)
class TrendRules:
    error_rate_above: float | None = None
    """A fraction (``'2%'`` is 0.02)."""
    error_rate_builds: int = 1
    rising_factor: float | None = None
    rising_over_seconds: float = 7 * 86400.0
    queue_age_above_seconds: float | None = None

    @property
    def empty(self) -> bool:
        return (
            self.error_rate_above is None
            and self.rising_factor is None
            and self.queue_age_above_seconds is None
        )


@dataclass(frozen=True, slots=True)
class BuildRate:
    """One recorded build of the model: rows read and rows held."""

    rows_in: int
    rows_held: int
    age_seconds: float
    """How long before now the build finished."""

    @property
    def rate(self) -> float:
        return self.rows_held / self.rows_in if self.rows_in else 0.0


@dataclass(frozen=True, slots=True)
class ModelFigures:
    """What the warehouse says of one sluice model, for its rules."""

    unique_id: str
    model: str
    severity: str
    owner: str
    builds: tuple[BuildRate, ...]
    """Newest first."""
    oldest_open_seconds: float | None


@dataclass(frozen=True, slots=True)
class TrendAlert:
    """A condition holding now."""

    unique_id: str
    model: str
    kind: str
    severity: str
    owner: str
    figures: dict[str, float | int | None]
    message: str

    @property
    def key(self) -> str:
        return f"{self.unique_id}:{self.kind}"


def _fail(where: str, key: str, problem: str) -> AlertSettingError:
    return AlertSettingError(f"{where}: alerts.{key}: {problem}")


def _positive(value: Any, where: str, key: str, *, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(where, key, f"expected a positive number, got {value!r}")
    if whole and not float(value).is_integer():
        raise _fail(where, key, f"expected a whole number, got {value!r}")
    return float(value)


def _percent(value: Any, where: str, key: str) -> float:
    """``'2%'`` or a fraction (0.02)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1])
        except ValueError:
            raise _fail(where, key, f"expected a percentage like '2%', got {value!r}") from None
        if not 0 <= number <= 100:
            raise _fail(where, key, f"expected a percentage from 0% to 100%, got {value!r}")
        return number / 100
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _fail(where, key, f"expected a percentage like '2%' or a fraction, got {value!r}")
    return float(value)


def _duration(value: Any, where: str, key: str) -> float:
    """``'2 days'``, ``'36 hours'``, ``'1 week'`` or a whole number of seconds, as the package
    reads its durations; seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value > 0 and float(value).is_integer():
            return float(value)
        raise _fail(where, key, f"expected a whole number of seconds above 0, got {value!r}")
    found = _DURATION.match(value.lower()) if isinstance(value, str) else None
    if found is None or int(found.group(1)) <= 0:
        raise _fail(where, key, f"expected a duration like '2 days' or '36 hours', got {value!r}")
    return float(int(found.group(1)) * _UNITS[found.group(2)])


def _checked(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        raise AlertSettingError(f"{where}: alerts: expected a mapping of {', '.join(KINDS)}")
    checked: dict[str, dict[str, Any]] = {}
    for kind, body in raw.items():
        if kind not in _KEYS:
            raise _fail(where, str(kind), f"unknown alert (expected one of {', '.join(KINDS)})")
        if not isinstance(body, Mapping):
            raise _fail(where, kind, f"expected a mapping of {', '.join(_KEYS[kind])}")
        for key in body:
            if key not in _KEYS[kind]:
                raise _fail(
                    where, f"{kind}.{key}", f"unknown key (expected {', '.join(_KEYS[kind])})"
                )
        threshold = _KEYS[kind][0]
        if threshold not in body:
            raise _fail(where, f"{kind}.{threshold}", "missing")
        checked[kind] = dict(body)
    return checked


def _rules(merged: Mapping[str, Mapping[str, Any]], where: str) -> TrendRules:
    rate = merged.get("error_rate")
    rising = merged.get("rising")
    age = merged.get("queue_age")
    return TrendRules(
        error_rate_above=_percent(rate["above"], where, "error_rate.above") if rate else None,
        error_rate_builds=int(
            _positive(rate.get("for_builds", 1), where, "error_rate.for_builds", whole=True)
        )
        if rate
        else 1,
        rising_factor=_positive(rising["factor"], where, "rising.factor") if rising else None,
        rising_over_seconds=_duration(rising.get("over", "7 days"), where, "rising.over")
        if rising
        else 7 * 86400.0,
        queue_age_above_seconds=_duration(age["above"], where, "queue_age.above") if age else None,
    )


def project_rules(var: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """The var ``sluice_alerts``, checked: ``default`` and severities -> their alerts. Raised
    before dbt runs, naming the var and the key."""
    if var is None:
        return {}
    if not isinstance(var, Mapping):
        raise AlertSettingError("var sluice_alerts: expected a mapping of default or a severity")
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for scope, raw in var.items():
        where = f"var sluice_alerts.{scope}"
        if scope != "default" and scope not in SEVERITIES:
            raise AlertSettingError(
                f"{where}: expected default or a severity ({', '.join(SEVERITIES)})"
            )
        found[str(scope)] = _checked(raw, where)
        _rules(found[str(scope)], where)
    return found


def model_rules(
    model: str, meta_alerts: Any, severity: str, project: Mapping[str, Mapping[str, Any]]
) -> TrendRules:
    """The model's rules: its ``meta.sluice.alerts`` over its severity's over the default,
    one alert kind at a time."""
    merged: dict[str, Mapping[str, Any]] = {}
    for scope in ("default", severity):
        merged.update(project.get(scope, {}))
    where = f"model {model}: meta.sluice"
    if meta_alerts is not None:
        merged.update(_checked(meta_alerts, where))
    return _rules(merged, where)


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _window_rate(builds: Sequence[BuildRate], start: float, end: float) -> float | None:
    """Rows held over rows read by the builds finished from ``start`` to ``end`` seconds ago;
    None when none read a row."""
    chosen = [b for b in builds if start <= b.age_seconds < end]
    read = sum(b.rows_in for b in chosen)
    return sum(b.rows_held for b in chosen) / read if read else None


def evaluate(rules: TrendRules, figures: ModelFigures) -> list[TrendAlert]:
    """The conditions holding now for one model."""
    found: list[TrendAlert] = []

    def add(kind: str, values: dict[str, float | int | None], message: str) -> None:
        found.append(
            TrendAlert(
                figures.unique_id,
                figures.model,
                kind,
                figures.severity,
                figures.owner,
                values,
                message,
            )
        )

    n = rules.error_rate_builds
    last = figures.builds[:n]
    above = rules.error_rate_above
    if above is not None and len(last) == n and all(b.rate > above for b in last):
        rates = [round(b.rate, 6) for b in last]
        add(
            "error_rate",
            {"above": above, "for_builds": n, "error_rate": rates[0], "lowest": min(rates)},
            f"error rate above {_pct(above)} on each of the last {n} build(s): "
            + ", ".join(_pct(r) for r in rates),
        )
    if rules.rising_factor is not None:
        over = rules.rising_over_seconds
        now_rate = _window_rate(figures.builds, 0, over)
        before = _window_rate(figures.builds, over, 2 * over)
        if now_rate and before is not None and now_rate > rules.rising_factor * before:
            add(
                "rising",
                {
                    "factor": rules.rising_factor,
                    "over_seconds": over,
                    "error_rate": round(now_rate, 6),
                    "previous_error_rate": round(before, 6),
                },
                f"error rate {_pct(now_rate)} over the last {over / 86400:g} day(s), more than "
                f"{rules.rising_factor:g}x the {_pct(before)} of the {over / 86400:g} before",
            )
    age, limit = figures.oldest_open_seconds, rules.queue_age_above_seconds
    if limit is not None and age is not None and age > limit:
        add(
            "queue_age",
            {"above_seconds": limit, "oldest_open_seconds": round(age, 3)},
            f"oldest open exception {age / 86400:.2f} day(s) old, over {limit / 86400:g}",
        )
    return found


def to_send(holding: Sequence[TrendAlert], armed_off: Sequence[str]) -> list[TrendAlert]:
    """The conditions to send: those holding now that were not already sent while they held
    (``armed_off``: the keys sent and holding at the last build)."""
    sent = set(armed_off)
    return [a for a in holding if a.key not in sent]


def payload(
    alerts: Sequence[TrendAlert], priorities: Sequence[str], *, project: str
) -> dict[str, Any]:
    """The webhook's JSON (Slack-compatible ``text`` and ``blocks``) with the figures in
    ``sluice_trend_alerts``."""
    text = f"sluice build of {project}: {len(alerts)} trend alert(s)."
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text}}
    ]
    for a, p in zip(alerts, priorities, strict=True):
        body = f"*{p}* `{a.model}` - *{a.kind}* ({a.severity})\n*Owner:* {a.owner}\n> {a.message}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    return {
        "text": text,
        "blocks": blocks,
        "sluice_trend_alerts": [
            {
                "model": a.model,
                "unique_id": a.unique_id,
                "alert": a.kind,
                "priority": p,
                "severity": a.severity,
                "owner": a.owner,
                "figures": a.figures,
            }
            for a, p in zip(alerts, priorities, strict=True)
        ],
    }
