"""Generate a large synthetic dbt target directory for the report benchmark.

Shapes follow dbt 1.11 (manifest v12, run_results v6, sources v3), with node bodies of a
realistic size (code, columns, config), so file sizes match real projects of this scale:

    python bench/gen_artifacts.py OUT_DIR [--models 10000 --tests 30000 --sources 2000
                                            --exposures 500 --seed 7]

The graph is layered: sources -> staging (one source each) -> intermediate (staging and earlier
intermediate models nearby) -> marts (intermediate models nearby) -> exposures (marts). About 5%
of results are problems: 1% of models error (their descendants are skipped, as in
``dbt build``), 4% of tests fail or warn, and a few sources are late.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from pathlib import Path
from typing import Any

PKG = "bench"
SCHEMA = "https://schemas.getdbt.com/dbt/{}/v{}.json"
T0 = "2026-01-02T09:00:00.000000Z"
T1 = "2026-01-02T09:00:01.000000Z"


# fields a generic test node does not have (dbt-artifacts-parser forbids extra fields)
_MODEL_ONLY = (
    "access",
    "constraints",
    "version",
    "latest_version",
    "deprecation_date",
    "primary_key",
    "time_spine",
)


def _meta(kind: str, version: int, invocation_id: str) -> dict[str, Any]:
    return {
        "dbt_schema_version": SCHEMA.format(kind, version),
        "dbt_version": "1.11.2",
        "generated_at": "2026-01-02T09:30:00.000000Z",
        "invocation_id": invocation_id,
        "invocation_started_at": T0,
        "env": {},
        **({"project_name": PKG, "adapter_type": "duckdb"} if kind == "manifest" else {}),
    }


def _columns(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        f"col_{i}": {
            "name": f"col_{i}",
            "description": f"Column {i}: " + "lorem ipsum dolor sit amet " * rng.randint(1, 3),
            "meta": {},
            "data_type": rng.choice(["varchar", "integer", "timestamp", "double"]),
            "constraints": [],
            "quote": None,
            "config": {"meta": {}, "tags": []},
            "tags": [],
            "granularity": None,
            "doc_blocks": [],
        }
        for i in range(n)
    }


def _node(
    rng: random.Random, name: str, depends: list[str], rtype: str = "model", **extra: Any
) -> dict[str, Any]:
    uid = f"{rtype}.{PKG}.{name}"
    code = (
        "select\n"
        + ",\n".join(f"    col_{i}" for i in range(12))
        + f"\nfrom {{{{ ref('{name}') }}}}\n"
    )
    return {
        "database": "bench",
        "schema": "main",
        "name": name,
        "resource_type": rtype,
        "package_name": PKG,
        "path": f"{name}.sql",
        "original_file_path": f"models/{name}.sql",
        "unique_id": uid,
        "fqn": [PKG, name],
        "alias": name,
        "checksum": {"name": "sha256", "checksum": uuid.UUID(int=rng.getrandbits(128)).hex * 2},
        "config": {
            "enabled": True,
            "alias": None,
            "schema": None,
            "database": None,
            "tags": [],
            "meta": {},
            "group": None,
            "materialized": extra.pop("materialized", "table"),
            "incremental_strategy": None,
            "batch_size": None,
            "lookback": 1,
            "persist_docs": {},
            "post-hook": [],
            "pre-hook": [],
            "quoting": {},
            "column_types": {},
            "full_refresh": None,
            "unique_key": None,
            "on_schema_change": "ignore",
            "on_configuration_change": "apply",
            "grants": {},
            "packages": [],
            "docs": {"show": True, "node_color": None},
            "contract": {"enforced": False, "alias_types": True},
            "access": "protected",
            **extra.pop("config", {}),
        },
        "tags": [],
        "description": "A model of the benchmark project. " * 3,
        "columns": _columns(rng, 8) if rtype == "model" else {},
        "meta": {},
        "group": None,
        "docs": {"show": True, "node_color": None},
        "patch_path": f"{PKG}://models/schema.yml",
        "build_path": None,
        "unrendered_config": {"materialized": "table"},
        "created_at": 1767340800.0,
        "relation_name": f'"bench"."main"."{name}"',
        "raw_code": code,
        "doc_blocks": [],
        "language": "sql",
        "refs": [{"name": d.rsplit(".", 1)[-1], "package": None, "version": None} for d in depends],
        "sources": [],
        "metrics": [],
        "functions": [],
        "depends_on": {"macros": ["macro.dbt.run_query"], "nodes": depends},
        "compiled_path": f"target/compiled/{PKG}/models/{name}.sql",
        "compiled": True,
        "compiled_code": code.replace("{{", "").replace("}}", ""),
        "extra_ctes_injected": True,
        "extra_ctes": [],
        "contract": {"enforced": False, "alias_types": True, "checksum": None},
        "access": "protected",
        "constraints": [],
        "version": None,
        "latest_version": None,
        "deprecation_date": None,
        "primary_key": [],
        "time_spine": None,
        **extra,
    }


def generate(
    out: Path, *, models: int, tests: int, sources: int, exposures: int, seed: int
) -> dict[str, int]:
    rng = random.Random(seed)
    invocation_id = str(uuid.UUID(int=rng.getrandbits(128)))
    out.mkdir(parents=True, exist_ok=True)

    source_ids = [f"source.{PKG}.raw.table_{i}" for i in range(sources)]
    src_nodes = {
        sid: {
            "database": "bench",
            "schema": "raw",
            "name": f"table_{i}",
            "resource_type": "source",
            "package_name": PKG,
            "path": "models/sources.yml",
            "original_file_path": "models/sources.yml",
            "unique_id": sid,
            "fqn": [PKG, "raw", f"table_{i}"],
            "source_name": "raw",
            "source_description": "",
            "loader": "",
            "identifier": f"table_{i}",
            "quoting": {},
            "loaded_at_field": "loaded_at",
            "freshness": {
                "warn_after": {"count": 12, "period": "hour"},
                "error_after": {"count": 24, "period": "hour"},
                "filter": None,
            },
            "external": None,
            "description": "A raw table.",
            "columns": _columns(rng, 4),
            "meta": {},
            "source_meta": {},
            "tags": [],
            "config": {"enabled": True, "meta": {}},
            "relation_name": f'"bench"."raw"."table_{i}"',
            "created_at": 1767340800.0,
        }
        for i, sid in enumerate(source_ids)
    }

    n_stg = min(sources, models // 5)
    n_int = (models - n_stg) // 2
    n_mart = models - n_stg - n_int
    nodes: dict[str, dict[str, Any]] = {}
    stg = [f"model.{PKG}.stg_{i}" for i in range(n_stg)]
    for i in range(n_stg):
        nodes[stg[i]] = _node(rng, f"stg_{i}", [source_ids[i % sources]], materialized="view")
    ints = [f"model.{PKG}.int_{i}" for i in range(n_int)]
    for i in range(n_int):
        centre = i * n_stg // max(n_int, 1)
        deps = {
            stg[min(n_stg - 1, max(0, centre + rng.randint(-10, 10)))]
            for _ in range(rng.randint(1, 3))
        }
        if i > 0 and rng.random() < 0.5:
            deps.add(ints[max(0, i - rng.randint(1, 30))])
        nodes[ints[i]] = _node(rng, f"int_{i}", sorted(deps))
    marts = [f"model.{PKG}.mart_{i}" for i in range(n_mart)]
    for i in range(n_mart):
        centre = i * n_int // max(n_mart, 1)
        deps = {
            ints[min(n_int - 1, max(0, centre + rng.randint(-15, 15)))]
            for _ in range(rng.randint(2, 4))
        }
        nodes[marts[i]] = _node(rng, f"mart_{i}", sorted(deps))
    model_ids = stg + ints + marts
    test_ids = []
    for t in range(tests):
        target = model_ids[t % len(model_ids)]
        name = f"not_null_{target.rsplit('.', 1)[-1]}_col_{t // len(model_ids)}"
        test = _node(rng, name, [target], rtype="test", materialized="test")
        test.update(
            attached_node=target,
            column_name=f"col_{t // len(model_ids)}",
            file_key_name=f"models.{target.rsplit('.', 1)[-1]}",
            test_metadata={"name": "not_null", "kwargs": {"column_name": "col"}, "namespace": None},
        )
        for key in _MODEL_ONLY:
            test.pop(key, None)
        test["config"] = {
            "enabled": True,
            "alias": None,
            "schema": "dbt_test__audit",
            "database": None,
            "tags": [],
            "meta": {},
            "group": None,
            "materialized": "test",
            "severity": "ERROR",
            "store_failures": None,
            "store_failures_as": None,
            "where": None,
            "limit": None,
            "fail_calc": "count(*)",
            "warn_if": "!= 0",
            "error_if": "!= 0",
        }
        test["columns"] = {}
        nodes[test["unique_id"]] = test
        test_ids.append(test["unique_id"])

    exposure_nodes = {}
    for e in range(exposures):
        centre = e * n_mart // max(exposures, 1)
        deps = sorted(
            {
                marts[min(n_mart - 1, max(0, centre + rng.randint(-10, 10)))]
                for _ in range(rng.randint(1, 5))
            }
        )
        eid = f"exposure.{PKG}.dashboard_{e}"
        exposure_nodes[eid] = {
            "name": f"dashboard_{e}",
            "resource_type": "exposure",
            "package_name": PKG,
            "path": "exposures.yml",
            "original_file_path": "models/exposures.yml",
            "unique_id": eid,
            "fqn": [PKG, f"dashboard_{e}"],
            "type": "dashboard",
            "owner": {"email": f"team{e % 20}@example.com", "name": f"Team {e % 20}"},
            "description": "A dashboard.",
            "label": f"Dashboard {e}",
            "maturity": rng.choice(["high", "medium", "low"]),
            "meta": {},
            "tags": [],
            "config": {"enabled": True, "tags": [], "meta": {}},
            "unrendered_config": {},
            "url": f"https://bi.example.com/d/{e}",
            "depends_on": {"macros": [], "nodes": deps},
            "refs": [],
            "sources": [],
            "metrics": [],
            "created_at": 1767340800.0,
        }

    parent_map: dict[str, list[str]] = {sid: [] for sid in source_ids}
    child_map: dict[str, list[str]] = {sid: [] for sid in source_ids}
    for uid, item in [*nodes.items(), *exposure_nodes.items()]:
        parent_map[uid] = item["depends_on"]["nodes"]
        child_map.setdefault(uid, [])
        for parent in item["depends_on"]["nodes"]:
            child_map.setdefault(parent, []).append(uid)

    manifest = {
        "metadata": _meta("manifest", 12, invocation_id),
        "nodes": nodes,
        "sources": src_nodes,
        "macros": {},
        "docs": {},
        "exposures": exposure_nodes,
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": parent_map,
        "child_map": child_map,
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
        "functions": {},
    }

    # outcomes: 1% of models error, their descendants skip; 4% of tests fail or warn
    failed = set(rng.sample(model_ids, max(1, models // 100)))
    skipped: set[str] = set()
    for uid in model_ids:  # creation order is topological
        if uid not in failed and any(
            p in failed or p in skipped for p in nodes[uid]["depends_on"]["nodes"]
        ):
            skipped.add(uid)
    bad_tests = set(rng.sample(test_ids, tests // 25))
    results = []
    for uid in [*model_ids, *test_ids]:
        is_test = uid.startswith("test.")
        if uid in failed:
            status, message = "error", "Runtime Error in model: division by zero"
        elif uid in skipped or (is_test and nodes[uid]["attached_node"] in failed | skipped):
            status, message = "skipped", None
        elif uid in bad_tests:
            status = rng.choice(["fail", "warn"])
            message = f"Got {rng.randint(1, 50)} results, configured to fail if != 0"
        else:
            status, message = ("pass", None) if is_test else ("success", "OK")
        results.append(
            {
                "status": status,
                "timing": [
                    {"name": "compile", "started_at": T0, "completed_at": T0},
                    {"name": "execute", "started_at": T0, "completed_at": T1},
                ],
                "thread_id": "Thread-1 (worker)",
                "execution_time": 0.05,
                "adapter_response": {"_message": "OK", "code": "OK", "rows_affected": 10},
                "message": message,
                "failures": 3 if status in ("fail", "warn") else None,
                "unique_id": uid,
                "compiled": True,
                "compiled_code": nodes[uid]["compiled_code"],
                "relation_name": nodes[uid]["relation_name"],
                "batch_results": None,
            }
        )
    run_results = {
        "metadata": _meta("run-results", 6, invocation_id),
        "results": results,
        "elapsed_time": 600.0,
        "args": {"which": "build"},
    }
    late = set(rng.sample(source_ids, max(1, sources // 100)))
    freshness = {
        "metadata": _meta("sources", 3, str(uuid.UUID(int=rng.getrandbits(128)))),
        "results": [
            {
                "unique_id": sid,
                "max_loaded_at": "2026-01-01T01:00:00+00:00"
                if sid in late
                else "2026-01-02T08:00:00+00:00",
                "snapshotted_at": "2026-01-02T09:00:00+00:00",
                "max_loaded_at_time_ago_in_s": 115200.0 if sid in late else 3600.0,
                "status": "error" if sid in late else "pass",
                "criteria": src_nodes[sid]["freshness"],
                "adapter_response": {},
                "timing": [],
                "thread_id": "Thread-1",
                "execution_time": 0.01,
            }
            for sid in source_ids
        ],
        "elapsed_time": 30.0,
    }
    for name, doc in (
        ("manifest.json", manifest),
        ("run_results.json", run_results),
        ("sources.json", freshness),
    ):
        with (out / name).open("w") as handle:
            json.dump(doc, handle)
    return {
        "models": len(model_ids),
        "tests": len(test_ids),
        "sources": len(source_ids),
        "exposures": len(exposure_nodes),
        "errors": len(failed),
        "skipped": len(skipped),
        "bad_tests": len(bad_tests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--tests", type=int, default=30_000)
    parser.add_argument("--sources", type=int, default=2_000)
    parser.add_argument("--exposures", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    counts = generate(
        args.out,
        models=args.models,
        tests=args.tests,
        sources=args.sources,
        exposures=args.exposures,
        seed=args.seed,
    )
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
