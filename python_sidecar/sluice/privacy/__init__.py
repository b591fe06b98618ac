"""Evidence privacy: the masking key's handling (:mod:`sluice.privacy.mask`)."""
