"""Benchmark `sluice report --no-warehouse` against Python's json.load of the same artifacts.

    python bench/report.py [--models 10000 --tests 30000 --sources 2000 --exposures 500]

Generates (once, cached under bench/.work/report/) a synthetic target directory with
bench/gen_artifacts.py, then measures, each in a fresh interpreter and side by side:

* json_load: ``json.load`` of manifest.json, run_results.json and sources.json;
* report: ``sluice report --no-warehouse`` (in that interpreter, through ``sluice.cli.main``);
* dbt_artifacts_parser (reference only, when importable): parse_manifest + parse_run_results.

Each is warmed up once, then run ``--repeat`` times, a different one first in every round, and
the medians kept (bench/_dbt.py ``compare``). Every run must end with its expected exit code
(report: 1, the synthetic run has failures; the others 0) and count every exposure and source of
the generated shape, or the benchmark stops. Memory is the child's peak RSS
(``resource.getrusage``) minus its RSS before the measured work. Targets: report time at most
1.5x json_load, report memory at most 4x the artifacts' size on disk. The last line printed is
one JSON object with the figures.

``--profile N`` measures nothing: after one report run (the warm-up), it runs the report once
more under cProfile in a fresh interpreter, as the benchmark times it, and prints its N most
expensive functions by cumulative time and the time Python's garbage collector took during the
run (which cProfile charges to whatever function was running). cProfile's own overhead makes
every figure larger than in an unprofiled run.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time
from pathlib import Path

from _dbt import BenchError, Run, Side, compare

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "report"
FILES = ("manifest.json", "run_results.json", "sources.json")
# `sluice report` exits 1 when an exposure is not healthy: the synthetic run has failed models,
# failing tests and late sources, by design
REPORT_EXIT = 1

CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def rss_mb():
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20

mode, project, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
target = project / "target"
kept = []
if mode == "json_load":
    def work():
        docs = []
        for name in ("manifest.json", "run_results.json", "sources.json"):
            with open(target / name) as handle:
                docs.append(json.load(handle))
        kept.append(docs)
        return 0
    def counts():
        manifest, run_results, _ = kept[0]
        return {"exposures": len(manifest["exposures"]), "sources": len(manifest["sources"]),
                "results": len(run_results["results"])}
elif mode == "report":
    from sluice.cli import main
    def work():
        return main(["report", "--project-dir", str(project), "--no-warehouse",
                     "--output-dir", out])
    def counts():
        with open(Path(out) / "impact.json") as handle:
            document = json.load(handle)
        return {"exposures": len(document["exposures"]), "sources": len(document["sources"])}
elif mode == "profile":
    import contextlib, cProfile, gc, io, pstats
    from sluice.cli import main
    args = ["report", "--project-dir", str(project), "--no-warehouse", "--output-dir", out]
    collecting = [0.0, 0.0, 0]  # seconds, start, full collections
    def clock(phase, info):
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]
            collecting[2] += info["generation"] == 2
    gc.callbacks.append(clock)
    profile = cProfile.Profile()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = profile.runcall(main, args)
    seconds = time.perf_counter() - start
    gc.callbacks.remove(clock)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(int(sys.argv[4]))
    print(text.getvalue())
    print(f"profiled run: {seconds:.2f} s, exit {code}; garbage collector "
          f"{collecting[0]:.2f} s in {collecting[2]} full collections")
    sys.exit(0)
else:
    from dbt_artifacts_parser.parser import parse_manifest, parse_run_results
    def work():
        with open(target / "manifest.json") as handle:
            manifest = parse_manifest(json.load(handle))
        with open(target / "run_results.json") as handle:
            run_results = parse_run_results(json.load(handle))
        kept.append((manifest, run_results))
        return 0
    def counts():
        manifest, run_results = kept[0]
        return {"exposures": len(manifest.exposures), "sources": len(manifest.sources),
                "results": len(run_results.results)}
before = rss_mb()
start = time.perf_counter()
code = work()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_mb": peak, "code": code,
                  "counts": counts()}))
"""


def _run(mode: str, project: Path) -> Run:
    """One measurement in a fresh interpreter: the work's seconds and memory, its exit code."""
    (WORK / "out" / "impact.json").unlink(missing_ok=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(project), str(WORK / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    process_seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchError(f"{mode} crashed:\n{completed.stderr[-3000:]}")
    child = json.loads(completed.stdout.strip().splitlines()[-1])
    figures = {
        "process_seconds": process_seconds,
        "peak_mb": child["peak_mb"],
        "work_mb": child["peak_mb"] - child["rss_before_mb"],
    }
    return Run(child["seconds"], child["code"], completed.stderr, figures, child["counts"])


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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="run the report once under cProfile and print its N costliest functions",
    )
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
    if args.profile:
        _run("report", project)
        subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                "profile",
                str(project),
                str(WORK / "out"),
                str(args.profile),
            ],
            check=True,
        )
        return

    modes = {"json_load": 0, "report": REPORT_EXIT}
    if _dap_available():
        modes["dbt_artifacts_parser"] = 0
    else:
        print("dbt-artifacts-parser not importable: reference skipped")
    shape_counts = {"exposures": args.exposures, "sources": args.sources}
    sides = {
        mode: Side(
            run=functools.partial(_run, mode, project),
            exit_code=code,
            rows=lambda run: run.counts,
            expect_rows=shape_counts,
        )
        for mode, code in modes.items()
    }
    found = compare(sides, args.repeat, log=print)

    def median(mode: str, figure: str | None = None) -> float:
        return found.median(mode, figure)

    result = {
        "name": "report",
        "ratio": round(found.ratio("report", "json_load"), 3),
        "mem_ratio": round(median("report", "work_mb") / size_mb, 3),
        "report_s": round(median("report"), 3),
        "report_process_s": round(median("report", "process_seconds"), 3),
        "json_load_s": round(median("json_load"), 3),
        "report_peak_mb": round(median("report", "peak_mb"), 1),
        "report_work_mb": round(median("report", "work_mb"), 1),
        "json_load_work_mb": round(median("json_load", "work_mb"), 1),
        "json_load_mem_ratio": round(median("json_load", "work_mb") / size_mb, 3),
        "artifacts_mb": round(size_mb, 1),
        "report_exit_code": REPORT_EXIT,
        "targets": {"ratio_max": 1.5, "mem_ratio_max": 4.0},
        "shape": {
            "models": args.models,
            "tests": args.tests,
            "sources": args.sources,
            "exposures": args.exposures,
        },
        **found.summary(),
    }
    if "dbt_artifacts_parser" in modes:
        dap = "dbt_artifacts_parser"
        result["dbt_artifacts_parser_s"] = round(median(dap), 3)
        result["dbt_artifacts_parser_ratio"] = round(found.ratio(dap, "json_load"), 3)
        result["dbt_artifacts_parser_mem_ratio"] = round(median(dap, "work_mb") / size_mb, 3)
    print(
        f"medians: report {result['report_s']:.2f} s, json_load {result['json_load_s']:.2f} s, "
        f"ratio {result['ratio']:.3f}; report +{result['report_work_mb']:.0f} MB, "
        f"mem_ratio {result['mem_ratio']:.3f}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
