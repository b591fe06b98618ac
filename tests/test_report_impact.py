"""Impact on exposures: statuses, reasons with paths, root causes reported once, as-of times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sluice.artifacts.models import Manifest, RunResults, SourcesResults
from sluice.impact import (
    ExposureStatus,
    Impact,
    ModelQuarantine,
    ProblemKind,
    RuleCount,
    analyze,
)

from tests.fixtures import synth
from tests.fixtures.synth import dbt_test, exposure, model, result, source, uid

NOW = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
GATE_MESSAGE = (
    "sluice gate held publication of model 'orders': critical 3 > 0. The last published data "
    "stays in place; the failing rows are in the quarantine."
)


def _analyze(
    man: dict[str, Any],
    runs: dict[str, Any],
    fresh: dict[str, Any] | None = None,
    quarantine: dict[str, ModelQuarantine] | None = None,
) -> Impact:
    return analyze(
        msgspec.json.decode(msgspec.json.encode(man), type=Manifest),
        msgspec.json.decode(msgspec.json.encode(runs), type=RunResults),
        sources=None
        if fresh is None
        else msgspec.json.decode(msgspec.json.encode(fresh), type=SourcesResults),
        quarantine=quarantine,
        generated_at=NOW,
    )


def _chain() -> dict[str, Any]:
    """src -> a -> b -> c -> [dash]; a -> side -> [side_dash]."""
    src = source("raw", "events")
    return synth.manifest(
        [
            model("a", (src["unique_id"],)),
            model("b", (uid("a"),)),
            model("c", (uid("b"),)),
            model("side", (uid("a"),)),
            dbt_test("not_null_b_id", uid("b")),
        ],
        sources=[src],
        exposures=[exposure("dash", (uid("c"),)), exposure("side_dash", (uid("side"),))],
    )


def _runs(**statuses: str | tuple[str, str]) -> dict[str, Any]:
    """Every node of _chain succeeds/passes unless given: name=status or (status, message)."""
    defaults = {"a": "success", "b": "success", "c": "success", "side": "success"}
    results = []
    for name, default in defaults.items():
        given = statuses.get(name, default)
        status, message = given if isinstance(given, tuple) else (given, None)
        if status != "absent":
            results.append(result(uid(name), status, message))
    test_status = statuses.get("test", "pass")
    assert isinstance(test_status, str)
    results.append(result("test.shop.not_null_b_id.abc123", test_status, failures=3))
    return synth.run_results(results)


def _status(impact: Impact, name: str) -> ExposureStatus:
    return next(e for e in impact.exposures if e.name == name).status


CASES = [
    # (id, run statuses, freshness status of the source, dash, side_dash, root kinds)
    ("all good", {}, "pass", "healthy", "healthy", []),
    ("model error", {"b": "error", "c": "skipped"}, "pass", "blocked", "healthy", ["error"]),
    (
        "gate held",
        {"a": ("error", GATE_MESSAGE), "b": "skipped", "c": "skipped", "side": "skipped"},
        "pass",
        "stale",
        "stale",
        ["gate_held"],
    ),
    ("test fail", {"test": "fail", "c": "skipped"}, "pass", "blocked", "healthy", ["test_fail"]),
    ("test warn", {"test": "warn"}, "pass", "degraded", "healthy", ["test_warn"]),
    ("skip without cause", {"c": "skipped"}, "pass", "blocked", "healthy", ["skipped"]),
    ("source late", {}, "error", "stale", "stale", ["source_late"]),
    ("source warn", {}, "warn", "stale", "stale", ["source_late"]),
    ("source unreadable", {}, "runtime error", "unknown", "unknown", ["source_error"]),
    ("no run result", {"b": "absent"}, "pass", "unknown", "healthy", ["no_result"]),
    (
        "partial success",
        {"side": "partial success"},
        "pass",
        "healthy",
        "degraded",
        ["partial_success"],
    ),
    (
        "worst wins",
        {"b": "error", "c": "skipped", "test": "warn"},
        "warn",
        "blocked",
        "stale",
        ["error", "source_late", "test_warn"],
    ),
]


@pytest.mark.parametrize(
    ("statuses", "fresh", "dash", "side_dash", "kinds"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_exposure_status(
    statuses: dict[str, Any], fresh: str, dash: str, side_dash: str, kinds: list[str]
) -> None:
    src = "source.shop.raw.events"
    impact = _analyze(
        _chain(), _runs(**statuses), synth.sources_results([synth.freshness(src, fresh)])
    )
    assert _status(impact, "dash") == dash
    assert _status(impact, "side_dash") == side_dash
    assert sorted(rc.kind.value for rc in impact.root_causes) == sorted(kinds)
    assert impact.has_problems == (kinds not in ([], ["no_result"]) or dash != "healthy")


def test_skipped_downstream_is_not_its_own_root_cause() -> None:
    impact = _analyze(_chain(), _runs(b="error", c="skipped"))
    (root,) = impact.root_causes
    assert root.node_id == uid("b")
    assert root.affected_nodes == (uid("c"),)
    assert root.affected_exposures == ("exposure.shop.dash",)
    skipped = next(n for n in impact.nodes if n.unique_id == uid("c"))
    assert skipped.problem is None
    assert skipped.caused_by == (root.id,)
    (reason,) = next(e for e in impact.exposures if e.name == "dash").reasons
    assert reason.path == (uid("b"), uid("c"), "exposure.shop.dash")


def test_failing_test_path_starts_at_the_test() -> None:
    impact = _analyze(_chain(), _runs(test="fail", c="skipped"))
    (root,) = impact.root_causes
    assert root.kind is ProblemKind.TEST_FAIL
    assert root.failures == 3
    assert root.entry_nodes == (uid("b"),)
    (reason,) = next(e for e in impact.exposures if e.name == "dash").reasons
    assert reason.path == (
        "test.shop.not_null_b_id.abc123",
        uid("b"),
        uid("c"),
        "exposure.shop.dash",
    )


def test_one_root_cause_reaching_many_exposures_is_reported_once() -> None:
    src = source("raw", "events")
    nodes = [model("hub", (src["unique_id"],))]
    exposures = []
    for i in range(20):
        nodes.append(model(f"mart_{i}", (uid("hub"),)))
        exposures.append(exposure(f"dash_{i}", (uid(f"mart_{i}"),)))
    man = synth.manifest(nodes, sources=[src], exposures=exposures)
    runs = synth.run_results(
        [result(uid("hub"), "error", "boom")]
        + [result(uid(f"mart_{i}"), "skipped") for i in range(20)]
    )
    impact = _analyze(man, runs)
    (root,) = impact.root_causes
    assert len(root.affected_nodes) == 20
    assert len(root.affected_exposures) == 20
    assert {e.status for e in impact.exposures} == {ExposureStatus.BLOCKED}
    assert all(len(e.reasons) == 1 for e in impact.exposures)


def test_diamond_reaches_exposure_once_per_root() -> None:
    man = synth.manifest(
        [
            model("base"),
            model("left", (uid("base"),)),
            model("right", (uid("base"),)),
            model("top", (uid("left"), uid("right"))),
        ],
        exposures=[exposure("dash", (uid("top"),))],
    )
    runs = synth.run_results(
        [
            result(uid("base"), "error"),
            *(result(uid(n), "skipped") for n in ("left", "right", "top")),
        ]
    )
    impact = _analyze(man, runs)
    (reason,) = impact.exposures[0].reasons
    assert reason.path[0] == uid("base") and reason.path[-1] == "exposure.shop.dash"
    assert len(reason.path) == 4


def test_rows_held_from_the_sluice_message_and_from_the_warehouse() -> None:
    man, runs, fresh = synth.shop()
    impact = _analyze(man, runs, fresh)
    finance = next(e for e in impact.exposures if e.name == "finance")
    assert finance.status is ExposureStatus.DEGRADED
    assert finance.rows_held_upstream == 5
    held = ModelQuarantine(
        model_unique_id=uid("orders"),
        rows_in=100,
        rows_published=60,
        rows_held=40,
        rows_flagged=0,
        gate_status="passed",
        gate_message=None,
        rule_counts=(RuleCount("r1", "invalid_value", "high", "quarantine", 40),),
        last_passed_at=None,
    )
    impact = _analyze(man, runs, fresh, quarantine={uid("orders"): held})
    finance = next(e for e in impact.exposures if e.name == "finance")
    assert finance.rows_held_upstream == 40


def _sluice_result(counts: str) -> dict[str, Any]:
    return result(
        uid("orders"),
        "success",
        f"sluice: gate passed; published 95 of 100 rows sluice-counts: {{{counts}}}",
        code="SLUICE",
    )


def test_only_rows_held_undecided_degrade_the_exposures() -> None:
    """A model whose held rows are all decided (a rejected record, a duplicate copy set aside)
    is no problem; a figure from a sluice version that did not record rows_held_open (run
    result or sluice_runs) counts every held row, as before."""
    man, runs, fresh = synth.shop()
    base = '"rows_in": 100, "rows_published": 95, "rows_held": 3, "rows_set_aside": 2'
    cases = {  # payload, exposure status, rows decided
        "all decided": (f'{base}, "rows_held_open": 0', ExposureStatus.HEALTHY, 5),
        "one undecided": (f'{base}, "rows_held_open": 1', ExposureStatus.DEGRADED, 4),
        "not recorded": (base, ExposureStatus.DEGRADED, 0),
    }
    for name, (counts, expected, decided) in cases.items():
        runs["results"][2] = _sluice_result(counts)
        impact = _analyze(man, runs, fresh)
        finance = next(e for e in impact.exposures if e.name == "finance")
        assert finance.status is expected, name
        (orders,) = impact.quarantine
        assert (orders.rows_held, orders.rows_decided) == (5, decided), name
        kinds = {rc.kind for rc in impact.root_causes if rc.node_id == uid("orders")}
        assert kinds == ({ProblemKind.ROWS_HELD} if expected is ExposureStatus.DEGRADED else set())

    def warehouse(rows_held_open: int | None) -> ModelQuarantine:
        return ModelQuarantine(
            model_unique_id=uid("orders"),
            rows_in=100,
            rows_published=96,
            rows_held=4,
            rows_flagged=0,
            gate_status="passed",
            gate_message=None,
            rule_counts=(),
            last_passed_at=None,
            rows_held_open=rows_held_open,
        )

    for open_rows, expected in ((0, ExposureStatus.HEALTHY), (None, ExposureStatus.DEGRADED)):
        impact = _analyze(man, runs, fresh, quarantine={uid("orders"): warehouse(open_rows)})
        finance = next(e for e in impact.exposures if e.name == "finance")
        assert finance.status is expected, open_rows


def test_gate_held_uses_last_passed_time_for_data_as_of() -> None:
    last_good = datetime(2025, 12, 31, 8, 0, tzinfo=UTC)
    man = _chain()
    runs = _runs(a=("error", GATE_MESSAGE), b="skipped", c="skipped", side="skipped")
    held = ModelQuarantine(
        uid("a"), 10, 0, 7, 0, "held", GATE_MESSAGE, (), last_passed_at=last_good
    )
    impact = _analyze(man, runs, quarantine={uid("a"): held})
    dash = next(e for e in impact.exposures if e.name == "dash")
    assert dash.status is ExposureStatus.STALE
    assert dash.rows_held_upstream == 7
    # b and c were skipped and have no known good build: as-of is incomplete
    assert dash.models_built_at == last_good
    assert dash.as_of_complete is False


def test_data_as_of_is_the_oldest_upstream_data() -> None:
    man, runs, fresh = synth.shop()
    impact = _analyze(man, runs, fresh)
    by_name = {e.name: e for e in impact.exposures}
    finance = by_name["finance"]
    assert finance.oldest_source_id == "source.shop.raw.orders"
    assert finance.oldest_source_loaded_at == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    assert finance.models_built_at == datetime(2026, 1, 2, 9, 0, 5, tzinfo=UTC)
    assert finance.data_as_of == finance.oldest_source_loaded_at
    assert finance.as_of_complete
    exec_ = by_name["exec"]
    assert exec_.oldest_source_id == "source.shop.raw.customers"
    assert not exec_.as_of_complete  # customers failed: its last good build is unknown


@pytest.mark.parametrize(
    ("maturity", "meta", "expected"),
    [
        ("high", {}, "critical"),
        ("medium", {}, "high"),
        ("low", {}, "medium"),
        (None, {}, "low"),
        ("low", {"criticality": "Critical"}, "critical"),
        ("high", {"sluice": {"criticality": "low"}}, "low"),
        ("high", {"criticality": "not-a-level"}, "critical"),
    ],
)
def test_criticality(maturity: str | None, meta: dict[str, Any], expected: str) -> None:
    man = synth.manifest(
        [model("a")], exposures=[exposure("dash", (uid("a"),), maturity=maturity, meta=meta)]
    )
    impact = _analyze(man, synth.run_results([result(uid("a"), "success")]))
    assert impact.exposures[0].criticality == expected


def test_owners_from_owner_and_meta() -> None:
    man = synth.manifest(
        [model("a")],
        exposures=[
            exposure(
                "dash",
                (uid("a"),),
                owner={"name": "BI", "email": ["bi@example.com", "lead@example.com"]},
                meta={"owner": [{"name": "Ana", "email": "ana@example.com"}, "oncall@example.com"]},
            )
        ],
    )
    impact = _analyze(man, synth.run_results([result(uid("a"), "success")]))
    owners = [(o.name, o.email) for o in impact.exposures[0].owners]
    assert owners == [
        ("BI", "bi@example.com"),
        ("BI", "lead@example.com"),
        ("Ana", "ana@example.com"),
        (None, "oncall@example.com"),
    ]


def test_ephemeral_models_without_results_are_not_unknown() -> None:
    man = synth.manifest(
        [model("eph", materialized="ephemeral"), model("a", (uid("eph"),))],
        exposures=[exposure("dash", (uid("a"),))],
    )
    impact = _analyze(man, synth.run_results([result(uid("a"), "success")]))
    assert impact.exposures[0].status is ExposureStatus.HEALTHY
    assert not impact.root_causes


def test_seed_left_out_of_the_run_is_not_unknown() -> None:
    man = synth.manifest(
        [model("seed_x", rtype="seed", materialized="seed"), model("a", (uid("seed_x", "seed"),))],
        exposures=[exposure("dash", (uid("a"),))],
    )
    impact = _analyze(man, synth.run_results([result(uid("a"), "success")]))
    assert impact.exposures[0].status is ExposureStatus.HEALTHY
    assert impact.exposures[0].as_of_complete


def test_exposures_sorted_worst_first() -> None:
    man, runs, fresh = synth.shop()
    impact = _analyze(man, runs, fresh)
    ranks = [e.status.rank for e in impact.exposures]
    assert ranks == sorted(ranks, reverse=True)
