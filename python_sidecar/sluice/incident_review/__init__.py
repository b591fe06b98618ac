"""``sluice incidents review``: a post-incident review of one incident from the sealed records
(:mod:`~sluice.incident_review.core` the review, :mod:`~sluice.incident_review.store` what it
reads, :mod:`~sluice.incident_review.render` Markdown and JSON)."""
