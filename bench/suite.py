"""The test suite's fixed costs: what every Snowflake statement and every dbt command of a test pays.

    python bench/suite.py [--rounds 5]

Measures, through the suite's own machinery (tests/dbt_harness.py, tests/dbt_launcher.py):

* roundtrip: one ``select 1`` sent by the Snowflake connector to the suite's fakesnow server and
  its rows fetched (dbt-snowflake, the sidecar and the tests send every statement that way);
* first_parse / second_parse, per engine: ``dbt parse`` of a fresh one-model test project, then
  again (reading its partial parse), each a dbt process forked by the launcher as the tests' are.
  PostgreSQL is left out when its test server does not answer (``bash tests/pg.sh start``).

Each figure is the median of ``--rounds`` (the round trip: ten times as many), after the launcher
and the server have started. Wall-clock seconds: on a shared machine, compare figures taken
side by side under the same load. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.dbt_harness import DbtProject, Fakesnow, postgres_available
from tests.dbt_launcher import run_dbt


def _seconds(run) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sluice-bench-suite-"))
    run_dbt(
        ["--version"], cwd=work, env=dict(os.environ), timeout=600
    )  # the launcher started and warmed up
    server = Fakesnow.start(work / "fakesnow")
    figures: dict[str, float] = {}
    try:
        conn = server.connect("bench", "bench")
        cursor = conn.cursor()
        times = [
            _seconds(lambda: cursor.execute("select 1").fetchall()) for _ in range(10 * args.rounds)
        ]
        conn.close()
        figures["roundtrip"] = statistics.median(times)
        engines = ["duckdb", "snowflake"] + ([] if postgres_available() else ["postgres"])
        for engine in engines:
            first, second = [], []
            for n in range(args.rounds):
                project = DbtProject(work / f"{engine}{n}", engine=engine, fakesnow=server)
                project.write("models/m.sql", "select 1 as id\n")
                project.install_package()
                first.append(_seconds(lambda p=project: p.dbt("parse")))
                second.append(_seconds(lambda p=project: p.dbt("parse")))
                project.drop_schema()
            figures[f"{engine}_first_parse"] = statistics.median(first)
            figures[f"{engine}_second_parse"] = statistics.median(second)
    finally:
        server.stop()
    for name, value in figures.items():
        print(f"{name:24s} {value:8.3f} s")
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
