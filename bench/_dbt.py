"""Shared by the benchmarks: a throwaway dbt project on DuckDB that installs sluice, and the one
way every benchmark times two (or more) sides against each other.

`compare` runs each side once untimed (warm-up: parse caches, OS file cache), then `repeat`
rounds, a different side first in every round (rotating, so with two sides they swap), and
keeps the medians. Every run, warm-up included, must exit with the side's expected code and
leave the expected row counts (those given, else the warm-up's), or the benchmark stops with
`BenchError`: a build that failed, or did less work, never counts as a fast one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))
# the PostgreSQL server of tests/pg.sh, or the one the SLUICE_PG_* variables name
PG = {
    "host": os.environ.get("SLUICE_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("SLUICE_PG_PORT", "54329")),
    "user": os.environ.get("SLUICE_PG_USER", "postgres"),
    "password": os.environ.get("SLUICE_PG_PASSWORD", "postgres"),
    "dbname": os.environ.get("SLUICE_PG_DBNAME", "postgres"),
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def make_duckdb_project(root: Path, name: str, database: Path, threads: int) -> None:
    """dbt_project.yml (every *-paths key set), packages.yml and profiles.yml under root."""
    write(
        root / "dbt_project.yml",
        f"""
        name: {name}
        version: "1.0"
        config-version: 2
        profile: bench
        model-paths: ["models"]
        test-paths: ["tests"]
        seed-paths: ["seeds"]
        macro-paths: ["macros"]
        snapshot-paths: ["snapshots"]
        analysis-paths: ["analyses"]
        """,
    )
    write(root / "packages.yml", f"packages:\n  - local: {REPO}\n")
    write(
        root / "profiles.yml",
        f"""
        bench:
          target: dev
          outputs:
            dev: {{type: duckdb, path: "{database}", threads: {threads}}}
        """,
    )


def dbt_command(root: Path, *args: str) -> list[str]:
    """`dbt <args>` on the throwaway project at root, quietly."""
    return [DBT, *args, "--profiles-dir", str(root), "--project-dir", str(root), "--quiet"]


class BenchError(Exception):
    """A run exited with an unexpected code or left unexpected row counts."""


@dataclass(frozen=True)
class Run:
    """One run of a side: the seconds measured, its exit code, and what else it reported."""

    seconds: float
    exit_code: int
    output: str = ""
    figures: Mapping[str, float] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)  # rows the run itself reported


def run_command(
    command: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Run:
    """Run a command to completion; its wall-clock seconds, exit code and output."""
    start = time.perf_counter()
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    return Run(seconds, done.returncode, done.stdout + done.stderr)


def run_dbt(root: Path, *args: str) -> Run:
    """`dbt <args>` on the project at root, timed; its run_results.json is removed first, so
    that `dbt_results` can only read what this run wrote."""
    (root / "target" / "run_results.json").unlink(missing_ok=True)
    return run_command(dbt_command(root, *args))


@dataclass(frozen=True)
class Statement:
    """One SQL call dbt made for a node, from its debug log: the node, the seconds dbt
    reported for it (SQLQueryStatus), and its SQL with dbt's leading comment left out."""

    node: str
    seconds: float
    sql: str


def statement_timings(root: Path, *args: str) -> tuple[Run, list[Statement]]:
    """`dbt <args>` on the project at root with a JSON debug log file, and every SQL call it
    made with the seconds dbt reported for it, in order: each SQLQuery event paired with the
    next SQLQueryStatus event of its thread (the status names no connection)."""
    log = root / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    run = run_dbt(root, *args, "--log-format-file", "json", "--log-level-file", "debug")
    pending: dict[str, tuple[str, str]] = {}
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        info, data = event.get("info", {}), event.get("data", {})
        thread = str(info.get("thread", ""))
        if info.get("name") == "SQLQuery":
            node = str((data.get("node_info") or {}).get("unique_id") or data.get("conn_name"))
            sql = str(data.get("sql", ""))
            if sql.startswith("/*") and "*/" in sql:
                sql = sql[sql.index("*/") + 2 :]
            pending[thread] = (node, " ".join(sql.split()))
        elif info.get("name") == "SQLQueryStatus" and thread in pending:
            node, sql = pending.pop(thread)
            found.append(Statement(node, float(data.get("elapsed", 0.0)), sql))
    return run, found


@dataclass(frozen=True)
class Compiled:
    """The Jinja templates one dbt run compiled (dbt compiles each macro the first time a
    process calls it): how many, their characters, and the seconds compiling them took."""

    templates: int
    characters: int
    seconds: float


# `dbt <args>` in a child process with `jinja2.Environment.compile` counted; prints one JSON line
_COUNT_COMPILES = """
import json, sys, time
import jinja2.environment
from dbt.cli.main import dbtRunner
seen = []
compile = jinja2.environment.Environment.compile
def counted(self, source, *args, **kwargs):
    start = time.perf_counter()
    try:
        return compile(self, source, *args, **kwargs)
    finally:
        seen.append((len(source) if isinstance(source, str) else 0, time.perf_counter() - start))
jinja2.environment.Environment.compile = counted
ok = dbtRunner().invoke(sys.argv[1:]).success
print(json.dumps([ok, len(seen), sum(c for c, _ in seen), sum(t for _, t in seen)]))
"""


def template_compilations(root: Path, *args: str) -> Compiled:
    """`dbt <args>` on the project at root (it must succeed), and the templates it compiled."""
    command = [sys.executable, "-c", _COUNT_COMPILES, *dbt_command(root, *args)[1:]]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    try:
        ok, templates, characters, seconds = json.loads(last)
    except ValueError:
        ok = False
    if done.returncode != 0 or not ok:
        raise BenchError(
            f"dbt {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return Compiled(templates, characters, seconds)


def dbt_results(root: Path) -> dict[str, int]:
    """How many nodes the last dbt run executed, and how many ended in each status."""
    path = root / "target" / "run_results.json"
    if not path.exists():
        raise BenchError(f"{path} is missing: dbt did not finish the run")
    results = json.loads(path.read_text())["results"]
    counts = {"nodes": len(results)}
    for result in results:
        key = f"status_{result['status']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def duckdb_counts(database: Path, queries: Mapping[str, str]) -> dict[str, int]:
    """{name: the integer the query returns}, read-only; a query returning no row gives -1."""
    import duckdb

    counts = {}
    with duckdb.connect(str(database), read_only=True) as conn:
        for name, sql in queries.items():
            row = conn.execute(sql).fetchone()
            counts[name] = -1 if row is None or row[0] is None else int(row[0])
    return counts


@dataclass(frozen=True)
class Side:
    """One side of a comparison.

    run: the measured work. exit_code: what every run must exit with. rows: the row counts a run
    left behind, read after it (untimed). expect_rows: counts known in advance (a subset is
    fine); every count must also equal the warm-up's. prepare: untimed, before every run.
    """

    run: Callable[[], Run]
    exit_code: int
    rows: Callable[[Run], Mapping[str, int]]
    expect_rows: Mapping[str, int] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None


@dataclass(frozen=True)
class Comparison:
    runs: dict[str, list[Run]]
    rows: dict[str, dict[str, int]]
    orders: list[list[str]]

    @property
    def seconds(self) -> dict[str, list[float]]:
        return {name: [round(r.seconds, 3) for r in runs] for name, runs in self.runs.items()}

    def median(self, name: str, figure: str | None = None) -> float:
        """Median seconds of a side, or the median of one of its figures."""
        values = [r.seconds if figure is None else r.figures[figure] for r in self.runs[name]]
        return statistics.median(values)

    def ratio(self, name: str, baseline: str) -> float:
        return self.median(name) / self.median(baseline)

    def summary(self) -> dict[str, object]:
        """For the benchmark's JSON line: medians, every timing, exit codes, row counts, order."""
        return {
            "median_seconds": {name: round(self.median(name), 3) for name in self.runs},
            "seconds": self.seconds,
            "exit_codes": {name: runs[0].exit_code for name, runs in self.runs.items()},
            "row_counts": self.rows,
            "first_each_round": [order[0] for order in self.orders],
        }


def compare(
    sides: Mapping[str, Side],
    repeat: int,
    *,
    same_rows: bool = False,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> Comparison:
    """Warm up each side, then `repeat` rounds with a different side first in each; see above.

    same_rows: every side must leave the same row counts (they build the same thing).
    """
    if repeat < 1:
        raise BenchError("repeat must be at least 1")
    names = list(sides)
    expected: dict[str, dict[str, int]] = {}

    def once(name: str, label: str) -> Run:
        side = sides[name]
        if side.prepare is not None:
            side.prepare()
        run = side.run()
        if run.exit_code != side.exit_code:
            raise BenchError(
                f"{name} ({label}) exited {run.exit_code}, expected {side.exit_code}: "
                f"a failed run is not timed\n{run.output[-4000:]}"
            )
        rows = dict(side.rows(run))
        wanted = expected.get(name)
        if wanted is None:  # the warm-up: the given counts, then its own become the reference
            wanted = {**rows, **side.expect_rows}
            if same_rows and expected:
                wanted = {**next(iter(expected.values())), **side.expect_rows}
            expected[name] = wanted
        if rows != wanted:
            diff = {
                key: (rows.get(key), wanted.get(key))
                for key in sorted(set(rows) | set(wanted))
                if rows.get(key) != wanted.get(key)
            }
            raise BenchError(
                f"{name} ({label}) left other row counts than expected, as (got, expected): {diff}"
            )
        shown = f"rows {rows}" if label == "warm-up" else "rows as in the warm-up"
        log(f"{label}: {name} {run.seconds:.2f}s, exit {run.exit_code}, {shown}")
        return run

    for name in names:
        once(name, "warm-up")
    runs: dict[str, list[Run]] = {name: [] for name in names}
    orders = []
    for round_ in range(repeat):
        shift = round_ % len(names)
        order = names[shift:] + names[:shift]
        orders.append(order)
        for name in order:
            runs[name].append(once(name, f"round {round_ + 1}"))
    return Comparison(runs, expected, orders)
