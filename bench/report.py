"""Benchmark `sluice report --no-warehouse` against Python's json.load of the same artifacts.

    python bench/report.py [--models 10000 --tests 30000 --sources 2000 --exposures 500]

Generates (once, cached under bench/.work/report/) a synthetic target directory with
bench/gen_artifacts.py, then measures, each in a fresh interpreter and side by side:

* json_load: ``json.load`` of manifest.json, run_results.json and sources.json;
* report: ``sluice report --no-warehouse`` (in that interpreter, through ``sluice.cli.main``);
* dbt_artifacts_parser (reference only, when importable): parse_manifest + parse_run_results.

Each is run ``--repeat`` times (alternating) and the fastest kept. Memory is the child's peak
RSS (``resource.getrusage``) minus its RSS before the measured work. Targets: report time at
most 1.5x json_load, report memory at most 4x the artifacts' size on disk. The last line printed
is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "report"
FILES = ("manifest.json", "run_results.json", "sources.json")

CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def rss_mb():
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20

mode, project, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
target = project / "target"
if mode == "json_load":
    def work():
        docs = []
        for name in ("manifest.json", "run_results.json", "sources.json"):
            with open(target / name) as handle:
                docs.append(json.load(handle))
        return 0
elif mode == "report":
    from sluice.cli import main
    def work():
        return main(["report", "--project-dir", str(project), "--no-warehouse",
                     "--output-dir", out])
else:
    from dbt_artifacts_parser.parser import parse_manifest, parse_run_results
    def work():
        with open(target / "manifest.json") as handle:
            manifest = parse_manifest(json.load(handle))
        with open(target / "run_results.json") as handle:
            run_results = parse_run_results(json.load(handle))
        return 0
before = rss_mb()
start = time.perf_counter()
code = work()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_mb": peak, "code": code}))
"""


def _measure(mode: str, project: Path) -> dict[str, float]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(project), str(WORK / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    process_seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{completed.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = process_seconds
    figures["work_mb"] = figures["peak_mb"] - figures["rss_before_mb"]
    return figures


def _dap_available() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import dbt_artifacts_parser.parser"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description="sluice report benchmark")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--tests", type=int, default=30_000)
    parser.add_argument("--sources", type=int, default=2_000)
    parser.add_argument("--exposures", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    shape = f"m{args.models}-t{args.tests}-s{args.sources}-e{args.exposures}"
    project = WORK / shape
    target = project / "target"
    if args.regenerate or not all((target / f).exists() for f in FILES):
        # in a child process: Linux keeps a process's peak RSS across fork and exec, so a
        # parent that generated the files itself would inflate every measurement after it
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_artifacts.py"),
                str(target),
                f"--models={args.models}",
                f"--tests={args.tests}",
                f"--sources={args.sources}",
                f"--exposures={args.exposures}",
                "--seed=7",
            ],
            check=True,
        )
    size_mb = sum((target / f).stat().st_size for f in FILES) / 2**20
    print(f"artifacts: {size_mb:.1f} MB ({', '.join(FILES)})")

    modes = ["json_load", "report"]
    if _dap_available():
        modes.append("dbt_artifacts_parser")
    else:
        print("dbt-artifacts-parser not importable: reference skipped")
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for mode in modes:
            figures = _measure(mode, project)
            if mode not in best or figures["seconds"] < best[mode]["seconds"]:
                best[mode] = figures
            print(
                f"{mode:>22}: {figures['seconds']:.2f} s (process {figures['process_seconds']:.2f}"
                f" s), peak {figures['peak_mb']:.0f} MB, +{figures['work_mb']:.0f} MB"
            )

    report, baseline = best["report"], best["json_load"]
    result = {
        "name": "report",
        "ratio": round(report["seconds"] / baseline["seconds"], 3),
        "mem_ratio": round(report["work_mb"] / size_mb, 3),
        "report_s": round(report["seconds"], 3),
        "report_process_s": round(report["process_seconds"], 3),
        "json_load_s": round(baseline["seconds"], 3),
        "report_peak_mb": round(report["peak_mb"], 1),
        "report_work_mb": round(report["work_mb"], 1),
        "json_load_work_mb": round(baseline["work_mb"], 1),
        "json_load_mem_ratio": round(baseline["work_mb"] / size_mb, 3),
        "artifacts_mb": round(size_mb, 1),
        "report_exit_code": report["code"],
        "targets": {"ratio_max": 1.5, "mem_ratio_max": 4.0},
        "shape": {
            "models": args.models,
            "tests": args.tests,
            "sources": args.sources,
            "exposures": args.exposures,
        },
    }
    if "dbt_artifacts_parser" in best:
        dap = best["dbt_artifacts_parser"]
        result["dbt_artifacts_parser_s"] = round(dap["seconds"], 3)
        result["dbt_artifacts_parser_ratio"] = round(dap["seconds"] / baseline["seconds"], 3)
        result["dbt_artifacts_parser_mem_ratio"] = round(dap["work_mb"] / size_mb, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
