"""Evidence privacy: the masking key's handling (:mod:`sluice.privacy.mask`), retention
(:mod:`sluice.privacy.retention`)."""

from typing import Final

RETENTION_ACTOR: Final = "sluice retention"
"""The actor of the ``retained`` events, unless ``sluice retention apply --by`` says otherwise."""

__all__ = ["RETENTION_ACTOR"]
