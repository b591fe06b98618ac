"""The report's operational figures: per sluice model, what its last builds held, recovered and
left in the queue (from the package's ``sluice_metrics`` relation), and per owner the open
exceptions and how long recovery took (the queue from the same rows, the recoveries from
``sluice_exception_events``). Frozen types and the pure step that shapes the rows read into
them; :mod:`sluice.report.history` reads the rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

BUILDS_SHOWN: Final = 30
"""How many of each model's latest builds the charts show."""


@dataclass(frozen=True, slots=True)
class BuildFigures:
    """One build of one sluice model, its rules' figures added up."""

    invocation_id: str
    built_at: datetime
    rows_held: int
    """Rows the build held back (the model's figure)."""
    recovered: int
    """Exceptions the build recovered (the row passed again)."""
    open_exceptions: int
    """Exceptions open after the build: the queue depth."""
    oldest_open_seconds: int | None
    """Age of the oldest open exception at the build; None when none was open."""
    dead_lettered: int
    """Exceptions the build moved to ``dead_letter``."""
    dead_letters: int
    """Exceptions in ``dead_letter`` after the build."""


@dataclass(frozen=True, slots=True)
class ModelTrend:
    model_unique_id: str
    model_name: str
    builds: tuple[BuildFigures, ...]
    """The latest :data:`BUILDS_SHOWN` builds, oldest first."""


@dataclass(frozen=True, slots=True)
class Recovery:
    """An owner's exceptions recovered in the window: how many, and how long each took from its
    latest move to ``open`` to its recovery (total and longest)."""

    recovered: int
    total_seconds: float
    longest_seconds: float


@dataclass(frozen=True, slots=True)
class OwnerFigures:
    owner: str
    open_exceptions: int
    """Open exceptions of the owner's rules after each model's latest build."""
    oldest_open_seconds: int | None
    recovered: int
    """Exceptions of the owner recovered in the window."""
    mean_recovery_seconds: float | None
    longest_recovery_seconds: float | None


@dataclass(frozen=True, slots=True)
class Operations:
    relation: str | None
    """The ``sluice_metrics`` relation read; None when it was not built."""
    models: tuple[ModelTrend, ...]
    owners: tuple[OwnerFigures, ...]
    since: datetime
    """Start of the window the recoveries are counted over."""
    builds_shown: int = BUILDS_SHOWN

    @property
    def built(self) -> bool:
        return self.relation is not None


MetricsRow = tuple[str, str, str, datetime, str, int, int, int, int | None, int, int]
"""(model unique id, model name, invocation, built at, owner, rows held, recovered, open,
oldest open seconds, dead-lettered, dead letters): one build's rules of one owner."""

UNOWNED: Final = "unowned"


def assemble(
    rows: Iterable[MetricsRow],
    recoveries: Mapping[str, Recovery],
    *,
    relation: str | None,
    since: datetime,
) -> Operations:
    """Each model's builds (its rules' figures added up, the model's rows held once) and each
    owner's queue after every model's latest build and recoveries. Models with the most open
    exceptions after their latest build come first, then the most rows held; owners with the
    most open exceptions first."""
    per_build: dict[tuple[str, str], list[MetricsRow]] = {}
    names: dict[str, str] = {}
    for row in rows:
        per_build.setdefault((row[0], row[2]), []).append(row)
        names[row[0]] = row[1]
    builds: dict[str, list[tuple[BuildFigures, list[MetricsRow]]]] = {}
    for (model, invocation), parts in per_build.items():
        ages = [p[8] for p in parts if p[8] is not None]
        figures = BuildFigures(
            invocation_id=invocation,
            built_at=parts[0][3],
            rows_held=max(p[5] for p in parts),
            recovered=sum(p[6] for p in parts),
            open_exceptions=sum(p[7] for p in parts),
            oldest_open_seconds=max(ages) if ages else None,
            dead_lettered=sum(p[9] for p in parts),
            dead_letters=sum(p[10] for p in parts),
        )
        builds.setdefault(model, []).append((figures, parts))
    models: list[ModelTrend] = []
    queues: dict[str, list[int]] = {}
    oldest: dict[str, int] = {}
    for model, found in builds.items():
        found.sort(key=lambda item: (item[0].built_at, item[0].invocation_id))
        for part in found[-1][1]:
            owner = part[4] or UNOWNED
            queues.setdefault(owner, []).append(part[7])
            if part[7] > 0 and part[8] is not None:
                oldest[owner] = max(oldest.get(owner, 0), part[8])
        models.append(
            ModelTrend(
                model_unique_id=model,
                model_name=names[model],
                builds=tuple(figures for figures, _ in found),
            )
        )
    models.sort(
        key=lambda m: (-m.builds[-1].open_exceptions, -m.builds[-1].rows_held, m.model_name)
    )
    owners = []
    for owner in sorted(set(queues) | set(recoveries)):
        recovery = recoveries.get(owner)
        open_now = sum(queues.get(owner, ()))
        if not open_now and recovery is None:
            continue
        owners.append(
            OwnerFigures(
                owner=owner,
                open_exceptions=open_now,
                oldest_open_seconds=oldest.get(owner),
                recovered=recovery.recovered if recovery else 0,
                mean_recovery_seconds=(
                    recovery.total_seconds / recovery.recovered
                    if recovery and recovery.recovered
                    else None
                ),
                longest_recovery_seconds=recovery.longest_seconds if recovery else None,
            )
        )
    owners.sort(key=lambda o: (-o.open_exceptions, -o.recovered, o.owner))
    return Operations(relation=relation, models=tuple(models), owners=tuple(owners), since=since)
