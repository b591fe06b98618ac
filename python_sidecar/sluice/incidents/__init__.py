"""Incidents per exposure: opened when an exposure leaves ``healthy``, updated as its status or
root causes change, closed (with its duration) when it is healthy again; and the patterns the
recorded history shows. Pure functions over frozen data; :mod:`sluice.warehouse.incidents`
reads and appends the rows."""

from sluice.incidents.model import (
    Change,
    CloseReason,
    Incident,
    IncidentCause,
    IncidentChange,
)
from sluice.incidents.patterns import (
    CauseCount,
    ConflictGroup,
    ConflictPattern,
    HeldDay,
    HeldRun,
    HeldSeries,
    Patterns,
    Recovery,
    conflict_patterns,
    held_rows,
    patterns,
    recovery,
    recurring_causes,
)
from sluice.incidents.track import assemble, change_id_of, incident_id_of, track

__all__ = [
    "CauseCount",
    "Change",
    "CloseReason",
    "ConflictGroup",
    "ConflictPattern",
    "HeldDay",
    "HeldRun",
    "HeldSeries",
    "Incident",
    "IncidentCause",
    "IncidentChange",
    "Patterns",
    "Recovery",
    "assemble",
    "change_id_of",
    "conflict_patterns",
    "held_rows",
    "incident_id_of",
    "patterns",
    "recovery",
    "recurring_causes",
    "track",
]
