"""The audit trail's pure rules, as tables of cases: hashing, links, sealed records, copies,
the head. (The same rules against real warehouses: tests/test_audit_trail.py.)"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from sluice.audit import (
    CHAINS,
    GENESIS,
    BatchDigest,
    FindingKind,
    RecordDiff,
    Seal,
    UnsealedRecord,
    chain_hash,
    check_links,
    check_records,
    compare_with_copy,
    trail_head,
)
from sluice.audit.chain import audit_text, md5_hex, parse_hashed_columns, sort_findings
from sluice.audit.core import read_copy

EVENTS = next(c for c in CHAINS if c.name == "exception_events")
DECISIONS = next(c for c in CHAINS if c.name == "decisions")
MODEL = "model.p.orders"
AT = datetime(2024, 5, 1, 10, 0, 0, 500)


def _content(n: int) -> str:
    return md5_hex("".join(sorted(md5_hex(f"row{n}.{i}") for i in range(2))))


def _chain(length: int, model: str = MODEL) -> list[Seal]:
    seals: list[Seal] = []
    previous = GENESIS
    for seq in range(1, length + 1):
        seal = Seal(
            "exception_events",
            model,
            seq,
            f"inv{seq}",
            2,
            "event_id,event_at:timestamp",
            _content(seq),
            previous,
            None,
            AT,
        )
        seal = dataclasses.replace(seal, chain_hash=chain_hash(seal))
        seals.append(seal)
        previous = seal.chain_hash or ""
    return seals


def _digests(seals: list[Seal]) -> dict[int, BatchDigest]:
    return {
        s.sequence_number: BatchDigest(s.model_unique_id, s.sequence_number, 2, s.content_hash)
        for s in seals
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "~"), ("", "0:"), ("a", "1:a"), ("~", "1:~"), ("1:a", "3:1:a"), ("é", "1:é")],
)
def test_audit_text_is_unambiguous(value, text):
    assert audit_text(value) == text


def test_no_two_value_lists_share_a_text():
    lists = [("a", "bc"), ("ab", "c"), (None, "a"), ("~", "a"), ("", None), (None, "")]
    texts = {"".join(audit_text(v) for v in values) for values in lists}
    assert len(texts) == len(lists)


def test_chain_hash_covers_every_field():
    seal = _chain(1)[0]
    base = chain_hash(seal)
    for field, value in [
        ("chain_name", "runs"),
        ("model_unique_id", "model.p.other"),
        ("sequence_number", 2),
        ("invocation_id", "inv9"),
        ("record_count", 3),
        ("hashed_columns", "event_id"),
        ("content_hash", _content(9)),
        ("previous_hash", "1" * 32),
        ("sealed_at", datetime(2024, 5, 1, 10, 0, 0, 501)),
    ]:
        assert chain_hash(dataclasses.replace(seal, **{field: value})) != base, field
    assert chain_hash(dataclasses.replace(seal, content_hash=None)) is None


def _edit(seals: list[Seal], seq: int, **changes) -> list[Seal]:
    return [dataclasses.replace(s, **changes) if s.sequence_number == seq else s for s in seals]


def _without(seals: list[Seal], seq: int) -> list[Seal]:
    return [s for s in seals if s.sequence_number != seq]


def _relinked(seals: list[Seal], seq: int, **changes) -> list[Seal]:
    """An edit whose author recomputed that seal's own hash, but not the ones after it."""
    out = []
    for s in seals:
        if s.sequence_number == seq:
            s = dataclasses.replace(s, **changes)
            s = dataclasses.replace(s, chain_hash=chain_hash(s))
        out.append(s)
    return out


SEALS = _chain(3)
DIGESTS = _digests(SEALS)

LINK_CASES = {
    # name: (seals, digests, [(kind, sequence)] expected in order)
    "intact": (SEALS, DIGESTS, []),
    "a field edited": (_edit(SEALS, 2, invocation_id="x"), DIGESTS, [(FindingKind.SEAL_EDITED, 2)]),
    "content hash edited": (
        _edit(SEALS, 2, content_hash=_content(9)),
        DIGESTS,
        [(FindingKind.EDITED, 2), (FindingKind.SEAL_EDITED, 2)],
    ),
    "seal rehashed, next link broken": (
        _relinked(SEALS, 2, invocation_id="x"),
        DIGESTS,
        [(FindingKind.SEAL_EDITED, 3)],
    ),
    "middle seal removed": (
        _without(SEALS, 2),
        DIGESTS,
        [(FindingKind.SEAL_REMOVED, 2), (FindingKind.SEAL_REMOVED, 2)],
    ),
    "first seal removed": (
        _without(SEALS, 1),
        DIGESTS,
        [(FindingKind.SEAL_REMOVED, 1), (FindingKind.SEAL_REMOVED, 1)],
    ),
    "last seal removed, its records kept": (
        _without(SEALS, 3),
        DIGESTS,
        [(FindingKind.SEAL_REMOVED, 3)],
    ),
    "last seal and its records removed": (_without(SEALS, 3), _digests(SEALS[:2]), []),
    "a second seal 2": (
        [*SEALS, dataclasses.replace(SEALS[1], chain_hash="f" * 32)],
        DIGESTS,
        [(FindingKind.SEAL_INSERTED, 2)],
    ),
    "records of a seal removed": (SEALS, _digests(SEALS[::2]), [(FindingKind.REMOVED, 2)]),
    "a sealed record's hash edited": (
        SEALS,
        {**DIGESTS, 2: BatchDigest(MODEL, 2, 2, _content(9))},
        [(FindingKind.EDITED, 2)],
    ),
    "a sealed record removed from the list": (
        SEALS,
        {**DIGESTS, 1: BatchDigest(MODEL, 1, 1, _content(1))},
        [(FindingKind.EDITED, 1)],
    ),
}


@pytest.mark.parametrize("case", list(LINK_CASES))
def test_check_links(case):
    seals, digests, expected = LINK_CASES[case]
    found = sort_findings(check_links(EVENTS, "events", MODEL, seals, digests))
    assert [(f.kind, f.sequence_number) for f in found] == expected


def _diff(key, seq, sealed, present, h="h1"):
    return RecordDiff(MODEL, key, h, seq, sealed, present)


RECORD_CASES = {
    # name: (spec, diffs, unsealed, [(kind, key, seq)], pending keys)
    "nothing": (EVENTS, [], [], [], []),
    "edited": (
        EVENTS,
        [_diff("e1", 1, 1, 0), _diff("e1", None, 0, 1, "h2")],
        [],
        [(FindingKind.EDITED, "e1", 1)],
        [],
    ),
    "removed": (EVENTS, [_diff("e1", 2, 1, 0)], [], [(FindingKind.REMOVED, "e1", 2)], []),
    "copied": (EVENTS, [_diff("e1", 2, 1, 2)], [], [(FindingKind.INSERTED, "e1", 2)], []),
    "inserted": (
        EVENTS,
        [],
        [UnsealedRecord(MODEL, "forged")],
        [(FindingKind.INSERTED, "forged", None)],
        [],
    ),
    "inserted without a model": (
        EVENTS,
        [],
        [UnsealedRecord(None, "x")],
        [(FindingKind.INSERTED, "x", None)],
        [],
    ),
    "decision waiting for its build": (DECISIONS, [], [UnsealedRecord(MODEL, "d9")], [], ["d9"]),
    "decision edited after its seal": (
        DECISIONS,
        [_diff("d1", 1, 1, 0), _diff("d1", None, 0, 1, "h2")],
        [],
        [(FindingKind.EDITED, "d1", 1)],
        [],
    ),
}


@pytest.mark.parametrize("case", list(RECORD_CASES))
def test_check_records(case):
    spec, diffs, unsealed, expected, pending = RECORD_CASES[case]
    found, waiting = check_records(spec, "t", diffs, unsealed, frozenset({MODEL}))
    assert [(f.kind, f.record_key, f.sequence_number) for f in sort_findings(found)] == expected
    assert [w.record_key for w in waiting] == pending


def test_an_unsealed_row_of_a_model_without_a_chain_says_why():
    found, _ = check_records(EVENTS, "t", [], [UnsealedRecord("model.p.new", "e1")], frozenset())
    assert "history from before the trail" in found[0].describe()


def test_findings_come_in_trail_order():
    found, _ = check_records(
        EVENTS,
        "events",
        [_diff("b", 2, 1, 0), _diff("a", 2, 1, 0), _diff("z", 1, 1, 0)],
        [UnsealedRecord(MODEL, "0")],
        frozenset({MODEL}),
    )
    links = check_links(EVENTS, "events", MODEL, _without(SEALS, 3), DIGESTS)
    ordered = sort_findings([*found, *links])
    assert [(f.sequence_number, f.record_key) for f in ordered] == [
        (1, "z"),
        (2, "a"),
        (2, "b"),
        (3, None),
        (None, "0"),
    ]
    assert ordered[0].describe() == (
        "events event_id z (model.p.orders, seal 1): removed: a sealed record is gone from the table"
    )


COPY_CASES = {
    "same": (SEALS, SEALS[:2], []),
    "grown since": (_chain(5), SEALS, []),
    "rewritten": (_relinked(SEALS, 1, invocation_id="x"), SEALS, [1]),
    "truncated": (SEALS[:1], SEALS, [2, 3]),
    "other model kept": (SEALS, _chain(1, "model.p.gone"), [1]),
}


@pytest.mark.parametrize("case", list(COPY_CASES))
def test_compare_with_copy(case):
    now, kept, expected = COPY_CASES[case]
    found = compare_with_copy(now, kept, {})
    assert [f.sequence_number for f in found] == expected
    assert all(f.kind is FindingKind.REWRITTEN for f in found)


def test_trail_head_is_the_digest_of_every_chain_tip():
    assert trail_head([]) is None
    other = _chain(2, "model.p.other")
    head = trail_head([*SEALS, *other])
    assert head is not None
    assert (head.chains, head.seals, head.records) == (2, 5, 10)
    assert [t.sequence_number for t in head.tips] == [3, 2]
    # any new seal moves it, and so does a rewritten tip
    assert trail_head([*SEALS, *_chain(3, "model.p.other")]).digest != head.digest
    assert trail_head([*_relinked(SEALS, 3, invocation_id="x"), *other]).digest != head.digest
    assert trail_head([*other, *SEALS]).digest == head.digest


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a,b:timestamp", [("a", False), ("b", True)]),
        ("event_id", [("event_id", False)]),
        ("", None),
        (None, None),
        ("a;drop table x", None),
        ("a,b:date", None),
        ("a,,b", None),
    ],
)
def test_parse_hashed_columns(text, names):
    parsed = parse_hashed_columns(text)
    assert (None if parsed is None else [(c.name, c.timestamp) for c in parsed]) == names


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not a line"),
        ('{"kind": "seal", "chain_name": "runs"}\n', "line 1: not a line"),
        ('{"kind": "record"}\n', "no seals in it"),
        ("", "no seals in it"),
    ],
)
def test_read_copy_refuses_what_is_not_an_export(tmp_path, content, message):
    path = tmp_path / "copy.jsonl"
    path.write_text(content)
    from sluice.errors import InputError

    with pytest.raises(InputError, match=message):
        read_copy(path)


def test_a_seal_is_checked_against_the_time_text_the_warehouse_hashed():
    """The chain hash covers sealed_at as the warehouse wrote it for the hash; when the verifier
    reads that text back it uses it, not its own formatting of the decoded time (an engine may
    write 10:00:00.00050 where Python writes 10:00:00.000500)."""
    seal = _chain(1)[0]
    warehouse_text = "2024-05-01 10:00:00.00050"
    hashed = dataclasses.replace(seal, sealed_at_text=warehouse_text)
    hashed = dataclasses.replace(hashed, chain_hash=chain_hash(hashed))
    assert chain_hash(hashed) == hashed.chain_hash
    # the same seal read without the warehouse's text no longer gives its hash
    assert chain_hash(dataclasses.replace(hashed, sealed_at_text=None)) != hashed.chain_hash
