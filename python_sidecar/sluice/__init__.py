"""sluice: integration error handling for dbt (the Python sidecar)."""

__all__ = [
    "__version__",
    "load_state",
    "read_exception_history",
    "read_exceptions",
    "read_exposure_status",
    "read_node_status",
]

_API = (
    "load_state",
    "read_exceptions",
    "read_exception_history",
    "read_exposure_status",
    "read_node_status",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbt-sluice")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> object:
    # `sluice.__version__`, read from the installed metadata on first use (importlib.metadata
    # costs every command's start otherwise)
    if name == "__version__":
        value = _version()
        globals()[name] = value
        return value
    # `sluice.read_exceptions(...)` and the rest of the pandas API, imported on first use
    # (pandas is not loaded by the command line).
    if name in _API:
        import importlib

        value = getattr(importlib.import_module("sluice.api"), name)
        globals()[name] = value
        return value
    # `sluice.build(...)` and `sluice.BuildResult`, imported on first use.
    if name in ("build", "BuildResult", "BuildError"):
        import importlib

        value = getattr(importlib.import_module("sluice.build"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sluice' has no attribute {name!r}")
