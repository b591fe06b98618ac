"""Read dbt's artifacts from a target directory, refusing anything sluice cannot trust.

Each file is read once as bytes and checked to be UTF-8 (dbt reads its artifacts as UTF-8 text,
so every artifact is refused alike, whatever field holds the bad bytes); its schema version is
taken from ``metadata.dbt_schema_version`` (dbt writes ``metadata`` first, so the head of the
file is enough), the struct for that version is chosen, and the whole file is decoded into it.
Every failure is an :class:`InputError` naming the file: missing (a symbolic link to nothing
included), truncated or invalid JSON, JSON nested deeper than a decoder can follow, an unknown
or too old schema, a key dbt requires missing (a manifest's ``nodes``, ``sources`` or
``exposures``, the ``results`` of run results or of sources.json) or a field of the wrong type,
or run results from another invocation than the manifest.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import msgspec

from sluice.artifacts.models import (
    Exposure,
    FreshnessResult,
    Manifest,
    Metadata,
    Node,
    RunResult,
    RunResults,
    Source,
    SourcesResults,
)
from sluice.errors import InputError


# The files as dbt writes them: the keys every supported schema requires are required here too
# (the structs they extend keep defaults so code can build one by hand). A manifest without
# `nodes` is not a project without models, and reading it as empty would call every exposure
# healthy; dbt itself refuses such a file.
class _ManifestFile(Manifest, frozen=True):
    nodes: dict[str, Node]
    sources: dict[str, Source]
    exposures: dict[str, Exposure]


class _RunResultsFile(RunResults, frozen=True):
    results: list[RunResult]


class _SourcesFile(SourcesResults, frozen=True):
    results: list[FreshnessResult]


MANIFEST: Final = "manifest"
RUN_RESULTS: Final = "run-results"
SOURCES: Final = "sources"

MANIFEST_FILE: Final = "manifest.json"
RUN_RESULTS_FILE: Final = "run_results.json"
SOURCES_FILE: Final = "sources.json"

# Supported schema versions per artifact kind, each with the struct that reads it. The fields
# sluice reads have one shape across these versions, so one struct serves each kind today.
_VARIANTS: Final[dict[str, dict[int, type[msgspec.Struct]]]] = {
    MANIFEST: {9: _ManifestFile, 10: _ManifestFile, 11: _ManifestFile, 12: _ManifestFile},
    RUN_RESULTS: {4: _RunResultsFile, 5: _RunResultsFile, 6: _RunResultsFile},
    SOURCES: {1: _SourcesFile, 2: _SourcesFile, 3: _SourcesFile},
}
# The first dbt release writing each kind's oldest supported version, for messages.
_OLDEST_DBT: Final = {MANIFEST: "1.5", RUN_RESULTS: "1.0", SOURCES: "0.19"}

_VERSION_URL = re.compile(r"/dbt/([a-z_-]+)/v(\d+)\.json$")
_VERSION_IN_HEAD = re.compile(rb'"dbt_schema_version"\s*:\s*"([^"]*)"')
_HEAD_BYTES: Final = 4096
_UTF8_CHUNK: Final = 1 << 20

S = TypeVar("S", bound=msgspec.Struct)


class _Envelope(msgspec.Struct, forbid_unknown_fields=False):
    metadata: Metadata


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    kind: str
    version: int


@dataclass(frozen=True, slots=True)
class Artifacts:
    """The artifacts of one dbt invocation, validated and decoded."""

    manifest: Manifest
    run_results: RunResults
    sources: SourcesResults | None
    target_path: Path

    @property
    def invocation_id(self) -> str:
        return self.run_results.metadata.invocation_id or ""


def parse_schema_version(url: str) -> SchemaVersion | None:
    """``https://schemas.getdbt.com/dbt/manifest/v12.json`` -> ``SchemaVersion("manifest", 12)``."""
    match = _VERSION_URL.search(url.strip())
    if match is None:
        return None
    return SchemaVersion(match.group(1), int(match.group(2)))


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(
                f"{path}: a symbolic link to {path.readlink()}, which does not exist"
            ) from None
        raise InputError(f"{path}: file not found; run dbt first or pass --target-path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return data


def _check_utf8(data: bytes, path: Path) -> None:
    """Refuse bytes that are not UTF-8, wherever they are (msgspec checks only the strings it
    keeps, so bad bytes in a field sluice skips would pass in one file and fail in another).
    Checked in chunks: decoding a large manifest whole would hold a second copy of it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), _UTF8_CHUNK):
        try:
            decoder.decode(view[start : start + _UTF8_CHUNK])
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: not UTF-8 text (invalid byte at offset {start + exc.start}); dbt "
                "writes its artifacts as UTF-8"
            ) from None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (truncated character at the end)") from None


def _schema_url(data: bytes, path: Path) -> str:
    match = _VERSION_IN_HEAD.search(data, 0, _HEAD_BYTES)
    if match is not None:
        return match.group(1).decode("utf-8", "replace")
    # metadata not at the head (hand-written or re-serialized file): decode just the envelope
    try:
        envelope = msgspec.json.decode(data, type=_Envelope)
    except msgspec.DecodeError as exc:
        raise InputError(f"{path}: not a dbt artifact: {_describe(exc)}") from None
    except RecursionError:
        raise InputError(f"{path}: not a dbt artifact: {_TOO_DEEP}") from None
    return envelope.metadata.dbt_schema_version


_TOO_DEEP: Final = "JSON nested too deeply to read (no dbt artifact nests this deep)"


def _describe(exc: msgspec.DecodeError) -> str:
    text = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        return text
    if "truncated" in text.lower():
        return f"truncated JSON ({text})"
    return f"invalid JSON ({text})"


def detect_version(data: bytes, path: Path, kind: str) -> SchemaVersion:
    """The schema version of an artifact, checked against what sluice supports for ``kind``."""
    url = _schema_url(data, path)
    found = parse_schema_version(url)
    supported = _VARIANTS[kind]
    low, high = min(supported), max(supported)
    wanted = f"{kind} schema v{low}-v{high} (dbt {_OLDEST_DBT[kind]} or later)"
    if found is None:
        raise InputError(f"{path}: unrecognised dbt_schema_version {url!r}; expected {wanted}")
    if found.kind != kind:
        raise InputError(f"{path}: is a dbt {found.kind} artifact, expected {kind}")
    if found.version < low:
        raise InputError(
            f"{path}: {kind} schema v{found.version} is too old; sluice reads {wanted}. "
            "Re-run the project with a newer dbt."
        )
    if found.version not in supported:
        raise InputError(
            f"{path}: {kind} schema v{found.version} is unknown to this sluice version, "
            f"which reads {wanted}. Upgrade dbt-sluice."
        )
    return found


def _decode(data: bytes, path: Path, kind: str, expected: type[S]) -> S:
    _check_utf8(data, path)
    version = detect_version(data, path, kind)
    struct = _VARIANTS[kind][version.version]
    try:
        decoded = msgspec.json.decode(data, type=struct)
    except msgspec.ValidationError as exc:
        raise InputError(
            f"{path}: does not match the {kind} v{version.version} schema: {exc}"
        ) from None
    except msgspec.DecodeError as exc:
        raise InputError(f"{path}: {_describe(exc)}") from None
    except RecursionError:
        raise InputError(f"{path}: {_TOO_DEEP}") from None
    if not isinstance(decoded, expected):  # pragma: no cover - guarded by _VARIANTS
        raise InputError(f"{path}: decoded as {type(decoded).__name__}")
    return decoded


def decode_manifest(data: bytes, path: Path = Path(MANIFEST_FILE)) -> Manifest:
    return _decode(data, path, MANIFEST, Manifest)


def decode_run_results(data: bytes, path: Path = Path(RUN_RESULTS_FILE)) -> RunResults:
    return _decode(data, path, RUN_RESULTS, RunResults)


def load_manifest(path: Path) -> Manifest:
    return decode_manifest(_read(path), path)


def load_run_results(path: Path) -> RunResults:
    return decode_run_results(_read(path), path)


def load_sources(path: Path) -> SourcesResults:
    return _decode(_read(path), path, SOURCES, SourcesResults)


def load_sources_if_present(path: Path) -> SourcesResults | None:
    """sources.json when there is one (it is optional); a symbolic link to nothing is an error,
    not an absent file."""
    if not path.exists() and not path.is_symlink():
        return None
    return load_sources(path)


def check_same_invocation(manifest: Manifest, run_results: RunResults, target_path: Path) -> None:
    """Run results must come from the invocation that wrote the manifest."""
    expected = manifest.metadata.invocation_id
    found = run_results.metadata.invocation_id
    if not expected or not found:
        raise InputError(
            f"{target_path / RUN_RESULTS_FILE}: no metadata.invocation_id to match against "
            f"{target_path / MANIFEST_FILE}"
        )
    if expected != found:
        raise InputError(
            f"{target_path / RUN_RESULTS_FILE}: invocation {found} does not match "
            f"{target_path / MANIFEST_FILE} (invocation {expected}). Another dbt command "
            "rewrote one of them (`dbt source freshness` rewrites manifest.json: run it before "
            "`dbt build`, or with its own --target-path)."
        )


def load_artifacts(target_path: Path, *, check_invocation: bool = True) -> Artifacts:
    """Load manifest.json, run_results.json and, when present, sources.json from a target dir."""
    manifest = load_manifest(target_path / MANIFEST_FILE)
    run_results = load_run_results(target_path / RUN_RESULTS_FILE)
    if check_invocation:
        check_same_invocation(manifest, run_results, target_path)
    sources = load_sources_if_present(target_path / SOURCES_FILE)
    return Artifacts(
        manifest=manifest, run_results=run_results, sources=sources, target_path=target_path
    )
