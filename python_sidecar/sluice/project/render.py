"""Render dbt YAML values the way dbt does when it loads a project.

dbt parses ``dbt_project.yml`` and ``profiles.yml`` as YAML first, then renders each string value
on its own with a small Jinja context: ``env_var``, ``var`` (the ``--vars`` only), ``target`` (in
the project file), a few helpers, and the ``as_text``/``as_bool``/``as_number``/``as_native``
filters. A value made of one expression keeps its Python type (``{{ 5 }}`` is a number, an
``env_var`` is text unless a filter says otherwise); anything longer is text. Some keys are never
rendered while the project loads (hooks, ``vars``, ``query-comment``, model-level hooks): dbt
renders them later, with the full node context, so they may use ``this``, ``target`` or macros.

Beyond those, a value may use what dbt's base context offers while it loads a project:
``flags`` (the flags given, dbt's defaults for the common ones, anything else undefined as in
dbt), ``run_started_at`` (the start of the command, UTC) and ``modules`` (``datetime``, ``re``,
``itertools``, ``pytz``).

This module is a pure function of its inputs: the environment mapping is passed in, nothing is
read from the process (the clock apart, for ``run_started_at`` when none is given).
"""

from __future__ import annotations

import datetime as _datetime
import functools
import hashlib
import itertools
import json
import re
from ast import literal_eval
from collections.abc import Callable, Iterator, Mapping
from itertools import chain, islice
from types import MappingProxyType
from typing import Any, Final

import jinja2
import jinja2.sandbox
import yaml  # type: ignore[import-untyped]
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate

from sluice.errors import InputError

Keypath = tuple[str | int, ...]

SECRET_PREFIX: Final = "DBT_ENV_SECRET"  # noqa: S105 - a name prefix, not a secret
_NO_RENDER_TOP: Final = frozenset({"on-run-start", "on-run-end", "query-comment", "vars"})
_NODE_CONFIG_TOP: Final = frozenset({"seeds", "models", "snapshots", "tests", "data_tests"})
_LATE_HOOKS: Final = frozenset({"pre-hook", "post-hook", "pre_hook", "post_hook"})
_HAS_JINJA: Final = re.compile(r"{[{%#]")


class _Text(str):
    """``| as_text``: the value stays text."""


class _Native(str):
    """``| as_native``: the value is read as a Python literal."""


class _Bool(_Native):
    """``| as_bool``."""


class _Number(_Native):
    """``| as_number``."""


class RenderError(Exception):
    """A value could not be rendered; the message says why (never the value of a secret)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _concat(nodes: Iterator[Any]) -> Any:
    """dbt's native concatenation: one node keeps its type, several become text."""
    head = list(islice(nodes, 2))
    if not head:
        return ""
    if len(head) > 1:
        return "".join(str(v) for v in chain(head, nodes))
    raw = head[0]
    if isinstance(raw, _Text):
        return str(raw)
    if not isinstance(raw, _Native):
        return raw
    try:
        result = literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError):
        result = raw
    if isinstance(raw, _Bool) and not isinstance(result, bool):
        raise RenderError(f"could not convert value '{raw!s}' into type 'bool'")
    if isinstance(raw, _Number) and not _is_number(result):
        raise RenderError(f"could not convert value '{raw!s}' into type 'number'")
    return result


class _Environment(jinja2.sandbox.SandboxedEnvironment):
    code_generator_class = NativeCodeGenerator
    concat = staticmethod(_concat)  # type: ignore[assignment]


class _Template(NativeTemplate):
    environment_class = _Environment  # type: ignore[assignment]


_Environment.template_class = _Template


def _environment() -> _Environment:
    env = _Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
    env.filters.update(
        {
            "as_text": _Text,
            "as_bool": _Bool,
            "as_native": _Native,
            "as_number": _Number,
            "is_list": lambda value: isinstance(value, list),
        }
    )
    return env


_ENV: Final = _environment()
_VAR_NOT_SET: Final = object()


@functools.lru_cache(maxsize=1024)
def _template(source: str) -> jinja2.Template:
    """A value's template, compiled once per process: a project is read several times by one
    command (``sluice build`` reads it before, while and after dbt runs), and compiling is most
    of what rendering costs."""
    return _ENV.from_string(source)


class Context:
    """What a dbt YAML value may use while the project loads.

    ``cli_vars`` are the ``--vars``; ``target`` is a callable returning the target's mapping
    (called only when a value uses it, so a project whose file never names ``target`` needs no
    profile); ``secrets`` allows ``DBT_ENV_SECRET_*`` variables (profiles.yml only).
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        cli_vars: Mapping[str, Any],
        *,
        target: Callable[[], Mapping[str, Any]] | None = None,
        secrets: bool = False,
        flags: Mapping[str, Any] | None = None,
        run_started_at: _datetime.datetime | None = None,
    ) -> None:
        self.environ = environ
        self.cli_vars = cli_vars
        self._target = target
        self.secrets = secrets
        self.flags = _Flags({**DEFAULT_FLAGS, **(flags or {})})
        # dbt's run_started_at is the start of the invocation, in UTC, whenever dbt runs
        self.run_started_at = run_started_at or _datetime.datetime.now(_datetime.UTC)

    def env_var(self, name: str, default: Any = None) -> str:
        if name.startswith(SECRET_PREFIX) and not self.secrets:
            raise RenderError(
                f"env_var('{name}'): secret environment variables ({SECRET_PREFIX}_*) are "
                "allowed only in profiles.yml and packages.yml"
            )
        if name in self.environ:
            return self.environ[name]
        if default is not None:
            return str(default) if not isinstance(default, str) else default
        raise RenderError(f"env var required but not provided: '{name}'")

    def var(self, name: str, default: Any = _VAR_NOT_SET) -> Any:
        if name in self.cli_vars:
            value = self.cli_vars[name]
            return render_text(value, self) if isinstance(value, str) else value
        if default is not _VAR_NOT_SET:
            return default
        raise RenderError(f"required var '{name}' not found in config (vars given: --vars)")

    def as_dict(self) -> dict[str, Any]:
        context: dict[str, Any] = {
            "env_var": self.env_var,
            "var": self.var,
            "log": lambda msg, info=False: "",
            "print": lambda msg: "",
            "fromjson": _fromjson,
            "tojson": _tojson,
            "fromyaml": _fromyaml,
            "toyaml": _toyaml,
            "set": lambda value, default=None: _or_default(set, value, default),
            "zip": lambda *args, default=None: _or_default(
                lambda a: list(zip(*a, strict=False)), args, default
            ),
            "local_md5": lambda value: hashlib.md5(str(value).encode()).hexdigest(),  # noqa: S324
            "modules": _modules(),
            "flags": self.flags,
            "run_started_at": self.run_started_at,
            "invocation_id": None,
        }
        if self._target is not None:
            context["target"] = _LazyTarget(self._target)
        return context


DEFAULT_FLAGS: Final[Mapping[str, Any]] = {
    "FULL_REFRESH": False,
    "FAIL_FAST": False,
    "EMPTY": False,
    "STORE_FAILURES": False,
    "WARN_ERROR": False,
    "DEBUG": False,
    "USE_COLORS": True,
    "SEND_ANONYMOUS_USAGE_STATS": True,
    "WHICH": None,
}
"""dbt's defaults of the flags a project file tends to test (``flags.FULL_REFRESH``); a flag
not known here is undefined, as an unknown one is in dbt (it renders as nothing)."""


class _Flags:
    """``flags`` as dbt gives it to templates: attributes named as dbt's flags."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


@functools.lru_cache(maxsize=1)
def _modules() -> Mapping[str, Any]:
    """dbt's ``modules``: datetime, re, itertools and pytz (a dependency of dbt-core)."""
    found: dict[str, Any] = {"datetime": _datetime, "re": re, "itertools": itertools}
    try:
        import pytz  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - dbt-core installs it
        pass
    else:
        found["pytz"] = pytz
    return MappingProxyType(found)


def _or_default(fn: Callable[[Any], Any], value: Any, default: Any) -> Any:
    try:
        return fn(value)
    except TypeError:
        return default


def _fromjson(text: str, default: Any = None) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return default


def _tojson(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except (ValueError, TypeError):
        return default


def _fromyaml(text: str, default: Any = None) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, TypeError):
        return default


def _toyaml(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return yaml.safe_dump(value, sort_keys=sort_keys)
    except (yaml.YAMLError, TypeError):
        return default


class _LazyTarget(Mapping[str, Any]):
    """``target``, loaded from the profile on first use."""

    def __init__(self, load: Callable[[], Mapping[str, Any]]) -> None:
        self._load = load
        self._value: Mapping[str, Any] | None = None

    def _get(self) -> Mapping[str, Any]:
        if self._value is None:
            self._value = self._load()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._get()[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def render_text(value: str, context: Context) -> Any:
    """Render one string value with dbt's native semantics."""
    if not _HAS_JINJA.search(value):
        return value
    try:
        return _template(value).render(context.as_dict())
    except RenderError:
        raise
    except InputError:
        raise
    except jinja2.TemplateError as exc:
        raise RenderError(str(exc)) from None
    except Exception as exc:  # an error inside a helper, a filter or a method call
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


def should_render_project_key(keypath: Keypath) -> bool:
    """dbt_project.yml keys dbt renders at load time (not hooks, vars, query-comment)."""
    if not keypath:
        return True
    first = keypath[0]
    if first in _NO_RENDER_TOP:
        return False
    if first in _NODE_CONFIG_TOP:
        parts = {k.lstrip("+ ") if isinstance(k, str) else k for k in keypath}
        if parts & _LATE_HOOKS:
            return False
    return True


def _render_tree(
    value: Any,
    keypath: Keypath,
    context: Context,
    should_render: Callable[[Keypath], bool],
    on_error: Callable[[Keypath, RenderError, Any], Any],
) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _render_tree(item, (*keypath, key), context, should_render, on_error)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _render_tree(item, (*keypath, index), context, should_render, on_error)
            for index, item in enumerate(value)
        ]
    if isinstance(value, _datetime.date):
        return value.isoformat()
    if not isinstance(value, str) or not should_render(keypath):
        return value
    try:
        return render_text(value, context)
    except RenderError as exc:
        return on_error(keypath, exc, value)


def describe(keypath: Keypath) -> str:
    return ".".join(str(part) for part in keypath) or "(top level)"


def render_project(data: Mapping[str, Any], context: Context, where: str) -> dict[str, Any]:
    """dbt_project.yml, rendered as dbt renders it while loading the project."""

    def fail(keypath: Keypath, exc: RenderError, _value: Any) -> Any:
        raise InputError(f"{where}: cannot render `{describe(keypath)}`: {exc}")

    rendered = _render_tree(data, (), context, should_render_project_key, fail)
    return dict(rendered)


def render_profile(data: Mapping[str, Any], context: Context, where: str) -> dict[str, Any]:
    """One profile of profiles.yml (a password that is not valid Jinja is kept as written)."""

    def fail(keypath: Keypath, exc: RenderError, value: Any) -> Any:
        if "password" in keypath:
            return value
        raise InputError(f"{where}: cannot render `{describe(keypath)}`: {exc}")

    rendered = _render_tree(data, (), context, lambda _keypath: True, fail)
    return dict(rendered)
