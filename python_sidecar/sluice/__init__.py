"""sluice: integration error handling for dbt (the Python sidecar)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dbt-sluice")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
