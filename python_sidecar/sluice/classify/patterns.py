"""The pattern table: which message means which run-level failure class, per adapter.

The built-in table is ``patterns.toml`` beside this module. Users add rows through
``[tool.sluice.classify]`` in the dbt project's ``pyproject.toml``; their rows are tried first.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sluice.classify.model import FailureClass

# Adapters that share another adapter's rows.
ADAPTER_FAMILIES: dict[str, tuple[str, ...]] = {"spark": ("spark", "databricks")}

_CLASSES_FROM_PATTERNS = frozenset(FailureClass) - {FailureClass.DEPENDENCY_FAILED}


class PatternError(ValueError):
    """A pattern row is invalid: unknown class, missing field or a bad regular expression."""


@dataclass(frozen=True, slots=True)
class Pattern:
    adapter: str
    failure_class: FailureClass
    regex: re.Pattern[str]
    description: str
    missing_relation: bool = False
    origin: str = "builtin"

    def applies_to(self, adapter: str | None) -> bool:
        if self.adapter == "*":
            return True
        if adapter is None:
            return False
        return self.adapter in ADAPTER_FAMILIES.get(adapter, (adapter,))


def parse_patterns(rows: Iterable[Mapping[str, Any]], origin: str) -> tuple[Pattern, ...]:
    """Validate pattern rows (as read from TOML) into patterns; ``origin`` names the file."""
    parsed: list[Pattern] = []
    for index, row in enumerate(rows, start=1):
        where = f"{origin}: pattern {index}"
        if not isinstance(row, Mapping):
            raise PatternError(f"{where}: expected a table with adapter, class, regex")
        unknown = set(row) - {"adapter", "class", "regex", "description", "missing_relation"}
        if unknown:
            raise PatternError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        adapter = row.get("adapter", "*")
        regex = row.get("regex")
        description = row.get("description", "")
        missing = row.get("missing_relation", False)
        if not isinstance(adapter, str) or not adapter:
            raise PatternError(f"{where}: adapter must be an adapter type or '*'")
        if not isinstance(regex, str) or not regex:
            raise PatternError(f"{where}: regex is required")
        if not isinstance(description, str) or not isinstance(missing, bool):
            raise PatternError(f"{where}: description must be text, missing_relation true/false")
        try:
            failure_class = FailureClass(str(row.get("class")))
        except ValueError:
            allowed = ", ".join(sorted(_CLASSES_FROM_PATTERNS))
            raise PatternError(f"{where}: class must be one of {allowed}") from None
        if failure_class not in _CLASSES_FROM_PATTERNS:
            raise PatternError(f"{where}: dependency_failed is found from the graph, not a message")
        try:
            compiled = re.compile(regex, re.IGNORECASE)
        except re.error as exc:
            raise PatternError(f"{where}: invalid regex {regex!r}: {exc}") from None
        parsed.append(
            Pattern(adapter.lower(), failure_class, compiled, description, missing, origin)
        )
    return tuple(parsed)


@cache
def builtin_patterns() -> tuple[Pattern, ...]:
    """The built-in table, read once per process."""
    text = resources.files("sluice.classify").joinpath("patterns.toml").read_text("utf-8")
    rows = tomllib.loads(text).get("pattern", [])
    return parse_patterns(rows, "sluice/classify/patterns.toml")


def match_message(message: str, adapter: str | None, patterns: Sequence[Pattern]) -> Pattern | None:
    """The first pattern that applies to the adapter and is found in the message."""
    for pattern in patterns:
        if pattern.applies_to(adapter) and pattern.regex.search(message):
            return pattern
    return None
