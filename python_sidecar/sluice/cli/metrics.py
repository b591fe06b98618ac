"""`sluice metrics --prom PATH`: the operational metrics as a Prometheus textfile.

Exit codes: 0 the file was written (also before any sluice build: then it holds the metric
families without samples); 2 a usage, connection or input error (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import InputError, SluiceError

EXIT_OK = 0


def register(subparsers: Any) -> None:
    text = "the operational metrics (queue, oldest open exception, recoveries ...) for Prometheus"
    parser = subparsers.add_parser(
        "metrics",
        help=text,
        description="Per sluice model and rule: open and dead-lettered exceptions, the age of "
        "the oldest open one, and counters of new, recovered, released, rejected, "
        "dead-lettered, retried and withdrawn exceptions; per model, builds and rows read, "
        "published, held, set aside and flagged, the latest build's duration, and the "
        "freshness lag of the data each model's relation holds. Read from the package's "
        "history in the warehouse; the system label is the model's meta.sluice.source_system "
        "from dbt's manifest, and each source's freshness lag comes from dbt's sources.json "
        "(dbt source freshness), when there are. Written atomically, for node_exporter's "
        "textfile collector.",
    )
    add_project_flags(parser, target_path=True)
    parser.add_argument(
        "--prom",
        type=Path,
        required=True,
        metavar="PATH",
        help="the textfile to write ('-' for stdout)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sluice.artifacts import MANIFEST_FILE, SOURCES_FILE, load_manifest, load_sources_if_present
    from sluice.escalate.metrics import render_operational, source_lags, source_systems
    from sluice.escalate.prometheus import write_text_atomic
    from sluice.project import load_project
    from sluice.warehouse import connect
    from sluice.warehouse.metrics import read_operational_metrics

    try:
        project = load_project(project_flags(args))
        manifest_path = project.target_path / MANIFEST_FILE
        manifest = load_manifest(manifest_path) if manifest_path.exists() else None
        systems = source_systems(manifest) if manifest is not None else {}
        sources = (
            source_lags(manifest, load_sources_if_present(project.target_path / SOURCES_FILE))
            if manifest is not None
            else ()
        )
        with connect(project, read_only=True) as wh:
            text = render_operational(read_operational_metrics(wh, systems), sources)
        if str(args.prom) == "-":
            sys.stdout.write(text)
        else:
            try:
                write_text_atomic(args.prom, text)
            except OSError as exc:
                raise InputError(f"cannot write {args.prom}: {exc.strerror or exc}") from None
    except SluiceError as exc:
        print(f"sluice metrics: {exc}", file=sys.stderr)
        return exc.exit_code
    return EXIT_OK
