"""Merging the run results of successive attempts of one build, losslessly.

Decoding artifacts is :mod:`sluice.artifacts`' job; this keeps each result verbatim (every field
dbt wrote), so the merged file is still dbt's own layout.
"""

from __future__ import annotations

import msgspec

from sluice.errors import InputError


class _Keyed(msgspec.Struct, frozen=True):
    unique_id: str


class RawRunResults(msgspec.Struct, frozen=True):
    """run_results.json with each result kept verbatim, for merging attempts losslessly."""

    metadata: msgspec.Raw
    results: tuple[msgspec.Raw, ...] = ()
    elapsed_time: float = 0.0
    args: msgspec.Raw = msgspec.Raw(b"{}")


def merge_run_results(documents: list[bytes]) -> bytes:
    """Merge the run_results.json of successive attempts: a node's latest result wins.

    Results keep dbt's own layout and every field dbt wrote; nodes appear in the order they were
    first seen. The metadata and args are the last attempt's; ``elapsed_time`` is the sum.
    """
    if not documents:
        raise InputError("no run results to merge")
    latest: dict[str, msgspec.Raw] = {}
    elapsed = 0.0
    last: RawRunResults | None = None
    for data in documents:
        try:
            doc = msgspec.json.decode(data, type=RawRunResults)
            for raw in doc.results:
                key = msgspec.json.decode(raw, type=_Keyed).unique_id
                latest[key] = raw
        except msgspec.DecodeError as exc:
            raise InputError(f"truncated or not dbt run results ({exc})") from None
        elapsed += doc.elapsed_time
        last = doc
    assert last is not None
    merged = RawRunResults(
        metadata=last.metadata,
        results=tuple(latest.values()),
        elapsed_time=round(elapsed, 6),
        args=last.args,
    )
    return msgspec.json.encode(merged)
