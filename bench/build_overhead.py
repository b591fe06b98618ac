"""What `sluice build` costs on top of a plain `dbt build` of the same project and data.

Both run as subprocesses, as a user or an orchestrator would run them, a different one first in
every round, each on a fresh DuckDB file; the medians are compared (bench/_dbt.py `compare`).
`sluice build` includes everything it does after dbt: classification, the merged view,
escalation, metrics and the impact report. Target: a wall-time ratio of at most 1.05. The
sluice that runs is compiled first (`compile_sluice`), as an installed one is.

Every run must exit with the expected code (the example project: 1 for both, its invoices gate
holds by design; `--dbt-exit` / `--sluice-exit` for another project) and leave the same nodes
run, statuses and rows in every table as the other side and as the warm-up (the tables only
sluice writes, `sluice_*`, aside); otherwise the benchmark stops.

    .venv/bin/python bench/build_overhead.py [--runs 5] [--project dbt_project] [--target demo]

The project is copied to bench/.work/build_overhead/ first, so nothing in the original changes.
The last line printed is one JSON object: name, ratio and the raw timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from _dbt import Run, Side, compare, dbt_results, run_command

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORK = ROOT / "bench" / ".work" / "build_overhead"


def copy_project(source: Path) -> Path:
    dest = WORK / source.name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*"),
    )
    packages = dest / "packages.yml"
    if packages.exists():
        # `local:` paths are relative to the original project: make them absolute.
        text = packages.read_text()
        text = re.sub(
            r"(local:\s*)([^\s#]+)",
            lambda m: m.group(1) + str((source / m.group(2)).resolve()),
            text,
        )
        packages.write_text(text)
    return dest


def fresh(project: Path) -> None:
    for path in list(project.glob("*.duckdb*")) + list(WORK.glob("data/*.duckdb*")):
        path.unlink()
    shutil.rmtree(project / "target", ignore_errors=True)


def table_counts(project: Path) -> dict[str, int]:
    """Rows in every table of the project's DuckDB files, except the sluice_* bookkeeping."""
    import duckdb

    counts: dict[str, int] = {}
    for path in sorted(list(project.glob("*.duckdb")) + list(WORK.glob("data/*.duckdb"))):
        with duckdb.connect(str(path), read_only=True) as conn:
            tables = conn.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' and table_name not like 'sluice\\_%' escape '\\' "
                "order by 1, 2"
            ).fetchall()
            for schema, table in tables:
                query = f'select count(*) from "{schema}"."{table}"'
                counts[f"{path.name}:{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


def compile_sluice(env: dict[str, str]) -> Path:
    """Compile the sluice that `sluice build` imports, as installing it does. From a source
    checkout under PYTHONDONTWRITEBYTECODE (set by some CI and container images) every run
    would compile every module again, a cost no installed sluice pays (dbt's own modules were
    compiled when pip installed them)."""
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pathlib, sluice; print(pathlib.Path(sluice.__file__).parent)",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", where], env=env, check=True)
    return Path(where)


def dbt_time_inside(project: Path) -> float:
    """The seconds `sluice build` spent waiting for dbt, from its target/sluice/build.json."""
    try:
        data = json.loads((project / "target" / "sluice" / "build.json").read_text())
    except (OSError, ValueError):
        return 0.0
    return float(sum(a["duration_seconds"] for a in data["attempts"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--project", default=str(ROOT / "dbt_project"))
    parser.add_argument("--target", default="demo")
    parser.add_argument("--dbt-exit", type=int, default=1, help="what every dbt build exits with")
    parser.add_argument(
        "--sluice-exit", type=int, default=1, help="what every sluice build exits with"
    )
    args = parser.parse_args()

    source = Path(args.project).resolve()
    if not (source / "dbt_project.yml").exists():
        print(f"{source} is not a dbt project yet", file=sys.stderr)
        return 2
    project = copy_project(source)
    env = dict(os.environ)
    (WORK / "data").mkdir(parents=True, exist_ok=True)
    env.setdefault("BUILD_FAULTS_DIR", str(WORK / "data"))  # for tests/projects/build_faults
    for name in [k for k in env if k.startswith("SLUICE_")]:
        del env[name]  # no webhook, default settings
    print(f"sluice compiled: {compile_sluice(env)}", file=sys.stderr)
    dbt = str(BIN / "dbt")
    common = ["--profiles-dir", str(project)]
    if args.target:
        common += ["--target", args.target]
    if (project / "packages.yml").exists():
        subprocess.run(
            [dbt, "deps", *common[:2]], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL
        )
    commands = {
        "dbt": [dbt, "build", *common],
        "sluice": [str(BIN / "sluice"), "build", "--project-dir", str(project), *common],
    }

    def run(name: str) -> Run:
        done = run_command(commands[name], cwd=project, env=env)
        if name == "sluice":  # sluice build's wall time minus the dbt runs inside it
            sidecar = done.seconds - dbt_time_inside(project)
            return dataclasses.replace(done, figures={"sidecar_seconds": sidecar})
        return done

    expected_exit = {"dbt": args.dbt_exit, "sluice": args.sluice_exit}
    sides = {
        name: Side(
            run=functools.partial(run, name),
            exit_code=expected_exit[name],
            rows=lambda _run: {**dbt_results(project), **table_counts(project)},
            prepare=functools.partial(fresh, project),
        )
        for name in ("dbt", "sluice")
    }
    found = compare(sides, args.runs, same_rows=True)
    seconds = found.seconds
    sidecar = [round(r.figures["sidecar_seconds"], 3) for r in found.runs["sluice"]]
    dbt_median = round(found.median("dbt"), 3)
    sluice_median = round(found.median("sluice"), 3)
    ratio = found.ratio("sluice", "dbt")
    print(
        f"median: dbt build {dbt_median:.2f} s, sluice build {sluice_median:.2f} s, "
        f"ratio {ratio:.3f} (target <= 1.05)",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "name": "build_overhead",
                "ratio": round(ratio, 4),
                "dbt_median_seconds": dbt_median,
                "sluice_median_seconds": sluice_median,
                "dbt_seconds": seconds["dbt"],
                "sluice_seconds": seconds["sluice"],
                "sidecar_seconds": sidecar,
                "sidecar_median_seconds": round(statistics.median(sidecar), 3),
                "exit_codes": expected_exit,
                "nodes_and_rows": found.rows["dbt"],
                "first_each_round": [order[0] for order in found.orders],
                "project": source.name,
                "target": args.target,
                "runs": args.runs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
