"""Retention at the end of a build: with ``apply_at_build_end: true`` in the var
``sluice_retention``, ``sluice build`` applies what ``sluice retention apply`` does after dbt
(docs/privacy.md, "Retention"), over the connection the steps after dbt share.

Owns checking the var before dbt runs (a malformed one stops the build, exit 2) and the step
itself, whose failure is returned, never raised: the build's own result stands, and the exit
code says retention failed only when the build itself succeeded
(:data:`~sluice.build.result.EXIT_RETENTION_FAILED`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice.artifacts import Manifest
from sluice.build.report_step import WarehouseAfterDbt
from sluice.build.result import RetentionStep
from sluice.errors import SluiceError
from sluice.privacy import RETENTION_ACTOR
from sluice.project import Project


def retention_at_build_end(project: Project) -> bool:
    """Whether the project asks the build to apply retention; raises
    :class:`~sluice.errors.InputError` naming the key of a malformed var ``sluice_retention``."""
    from sluice.privacy.retention import load_policies

    return load_policies(project, None).at_build_end


def apply_retention(shared: WarehouseAfterDbt, manifest: Manifest) -> RetentionStep | None:
    """Retention over the shared connection, when the project asks for it; None when it does
    not. A bad model setting or a failing warehouse is the step's error, nothing changed."""
    from sluice.privacy.retention import apply, load_policies
    from sluice.review.store import ReviewStore

    try:
        policies = load_policies(shared.project(), manifest)
        if not policies.at_build_end:
            return None
        done = apply(ReviewStore(shared.connection()), policies, datetime.now(UTC), RETENTION_ACTOR)
    except SluiceError as exc:
        shared.recover()
        return RetentionStep(False, error=f"retention failed, nothing changed: {exc}")
    except Exception as exc:  # the build's result must stand whatever happens here
        shared.recover()
        return RetentionStep(
            False, error=f"retention failed, nothing changed: {type(exc).__name__}: {exc}"
        )
    return RetentionStep(True, dict(done.redacted), dict(done.deleted))
