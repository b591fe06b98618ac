"""Capped exponential backoff with full jitter.

The delay before retry ``n`` (1 for the first retry) is drawn uniformly from
``[0, min(max_delay, base_delay * 2 ** (n - 1))]``: spreading retries over the whole window
keeps parallel jobs that failed together from retrying together.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sluice.retry.config import RetryPolicy

_RANDOM = random.Random()  # noqa: S311 - jitter, not cryptography; own generator, global untouched


def backoff_ceiling(policy: RetryPolicy, retry_number: int) -> float:
    """The largest delay allowed before retry ``retry_number`` (1-based)."""
    if retry_number < 1:
        raise ValueError("retry_number starts at 1")
    # 2 ** 1024 overflows a float: the cap is reached long before, so clamp the exponent.
    exponent = min(retry_number - 1, 64)
    return float(min(policy.max_delay, policy.base_delay * (2**exponent)))


def full_jitter_delay(
    policy: RetryPolicy,
    retry_number: int,
    uniform: Callable[[], float] = _RANDOM.random,
) -> float:
    """The delay before retry ``retry_number``; ``uniform`` returns a number in [0, 1)."""
    return backoff_ceiling(policy, retry_number) * uniform()
