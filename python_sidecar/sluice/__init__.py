"""sluice: integration error handling for dbt (the Python sidecar)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dbt-sluice")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]


def __getattr__(name: str) -> object:
    # `sluice.build(...)` and `sluice.BuildResult`, imported on first use.
    if name in ("build", "BuildResult", "BuildError"):
        import importlib

        value = getattr(importlib.import_module("sluice.build"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sluice' has no attribute {name!r}")
