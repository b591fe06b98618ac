"""What `sluice build` costs on top of a plain `dbt build` of the same project and data.

Both run as subprocesses, as a user or an orchestrator would run them, alternating which goes
first, each on a fresh DuckDB file; the medians are compared. `sluice build` includes
everything it does after dbt: classification, the merged view, escalation, metrics and the
impact report. Target: a wall-time ratio of at most 1.05.

    .venv/bin/python bench/build_overhead.py [--runs 5] [--project dbt_project] [--target demo]

The project is copied to bench/.work/build_overhead/ first, so nothing in the original changes.
The last line printed is one JSON object: name, ratio and the raw timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start, done.returncode


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
    # one warm-up of each (parse caches, OS file cache), not counted
    for command in commands.values():
        fresh(project)
        timed(command, project, env)

    seconds: dict[str, list[float]] = {"dbt": [], "sluice": []}
    codes: dict[str, list[int]] = {"dbt": [], "sluice": []}
    sidecar: list[float] = []  # sluice build's wall time minus the dbt runs inside it
    for run in range(args.runs):
        order = ["dbt", "sluice"] if run % 2 == 0 else ["sluice", "dbt"]
        for name in order:
            fresh(project)
            elapsed, code = timed(commands[name], project, env)
            seconds[name].append(round(elapsed, 3))
            codes[name].append(code)
            if name == "sluice":
                sidecar.append(round(elapsed - dbt_time_inside(project), 3))
        print(
            f"run {run + 1}: dbt build {seconds['dbt'][-1]:7.2f} s (exit {codes['dbt'][-1]})"
            f"   sluice build {seconds['sluice'][-1]:7.2f} s (exit {codes['sluice'][-1]})",
            file=sys.stderr,
        )

    dbt_median = statistics.median(seconds["dbt"])
    sluice_median = statistics.median(seconds["sluice"])
    ratio = sluice_median / dbt_median
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
                "exit_codes": codes,
                "project": source.name,
                "target": args.target,
                "runs": args.runs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
