"""Where one build stands: what its attempts share, the attempt dbt is running, what is done.

Owns the build's working state (:class:`Context`, :class:`Running`, :class:`Progress`), read
to write the run's record whenever and however the build ends. Plain state with small
accessors: it runs nothing and writes nothing but the removal of the previous run's outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.artifacts import Manifest
from sluice.artifacts.models import Metadata
from sluice.build.layout import clear_previous_run
from sluice.build.result import Attempt
from sluice.classify.graph import Graph, build_graph
from sluice.classify.patterns import Pattern, builtin_patterns
from sluice.retry.config import BuildSettings

if TYPE_CHECKING:
    from sluice.build.artifacts import Stamp
    from sluice.build.dbt_process import DbtRunner
    from sluice.build.lock import BuildLock

Sleeper = Callable[[float], None]
Clock = Callable[[], float]

EMPTY_MANIFEST = Manifest(metadata=Metadata(dbt_schema_version=""))


@dataclass(frozen=True, slots=True)
class Context:
    """What every attempt of one build shares."""

    project: Path
    passthrough: tuple[str, ...]
    settings: BuildSettings
    target_dir: Path
    run_dbt: DbtRunner
    sleeper: Sleeper
    clock: Clock
    uniform: Callable[[], float] | None
    started: float
    """The clock's reading when the build started (the budget counts from there)."""

    def patterns(self) -> tuple[Pattern, ...]:
        """The users' rows first, then the built-in table (compiled while dbt first runs)."""
        return (*self.settings.patterns, *builtin_patterns())


@dataclass(frozen=True, slots=True)
class Running:
    """The attempt dbt is running now."""

    number: int
    kind: str
    args: tuple[str, ...]
    delay_before: float
    rerun: tuple[str, ...]
    began: float
    before: Mapping[str, Stamp]


@dataclass(slots=True)
class Progress:
    """Where a build stands: read to write its record whenever and however it ends."""

    invocation_id: str
    project: Path
    target_dir: Path
    started_at: float
    clock: Clock
    started: float
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loaded: tuple[Manifest, Graph] | None = None
    running: Running | None = None
    phase: str = "starting"
    repeated: dict[str, int] = field(default_factory=dict)
    settings: BuildSettings | None = None
    report_files: tuple[Path, ...] = ()
    cleared: bool = False
    dbt_pid: int | None = None
    """The dbt process running now (in the running record: a killed build's orphan is known)."""
    lock: BuildLock | None = None
    """The target folder's lock, held from before the previous run's outputs are removed until
    this run's record is written."""
    record_in_warehouse: Callable[[Any], str | None] | None = None
    """Appends this run's rows to the warehouse's build record (a note when it fails); None
    with ``--no-warehouse``. Used when a file cannot be written: the warehouse may still be."""

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def clear_previous_run(self) -> None:
        """Remove the previous run's outputs (once), before this run writes its own."""
        if not self.cleared:
            self.cleared = True
            clear_previous_run(self.target_dir, self.report_files)

    def patterns(self) -> tuple[Pattern, ...]:
        """The users' rows first, then the built-in table."""
        users = self.settings.patterns if self.settings is not None else ()
        return (*users, *builtin_patterns())

    def manifest_and_graph(self) -> tuple[Manifest, Graph]:
        if self.loaded is None:
            return EMPTY_MANIFEST, build_graph(EMPTY_MANIFEST)
        return self.loaded
