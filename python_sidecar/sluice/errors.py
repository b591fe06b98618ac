"""Errors the sidecar raises; the command line maps ``exit_code`` to the process exit code."""

from __future__ import annotations


class SluiceError(Exception):
    """Base class of every error sluice raises on purpose.

    ``exit_code`` follows the documented exit codes of the ``sluice`` command.
    """

    exit_code: int = 1


class InputError(SluiceError):
    """Unusable input: a missing, truncated, unknown or mismatched file, or a bad setting.

    Raised before anything is written.
    """

    exit_code = 2


class FileNotWritten(InputError):
    """A file could not be written (a full disk, a quota, a read-only folder). ``error`` is the
    operating system's, naming the file: ``sluice build`` ends such a run with its own exit code
    for a file it cannot write (5)."""

    def __init__(self, message: str, error: OSError) -> None:
        super().__init__(message)
        self.error = error
