"""Load states: what each build of a relation gave its consumers, read from the package's
``sluice_load_states`` table with reviewers' acceptances (``sluice_decisions``)."""

from sluice.loadstate.core import STATES, LoadState, load_state
from sluice.loadstate.store import current_states, describe_missing, load_history

__all__ = [
    "STATES",
    "LoadState",
    "current_states",
    "describe_missing",
    "load_history",
    "load_state",
]
