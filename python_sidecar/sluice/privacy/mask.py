"""The masking key of masked columns (``meta.sluice.mask``), as dbt is given it.

The package reads the key from :data:`MASK_KEY_ENV` while a model that masks columns builds,
and puts it in the statements that hash those columns. dbt writes every statement to
``logs/dbt.log`` at debug level, except that it replaces the value of every environment variable
whose name starts with ``DBT_ENV_SECRET_`` by ``*****`` in all it logs. The package cannot read
such a variable itself (dbt allows them only in ``profiles.yml`` and ``packages.yml``), so
``sluice build`` gives dbt the key under both names: read by the package under one, scrubbed by
dbt under the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

MASK_KEY_ENV: Final = "SLUICE_MASK_KEY"
"""The environment variable that holds the masking key."""

SECRET_COPY_ENV: Final = "DBT_ENV_SECRET_" + MASK_KEY_ENV
"""The copy of the key dbt scrubs from its logs."""


def dbt_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment dbt runs in: ``environ``, with the masking key (when set) also under
    :data:`SECRET_COPY_ENV`, so that dbt scrubs it from what it logs."""
    env = dict(environ)
    key = env.get(MASK_KEY_ENV, "")
    if key.strip():
        env[SECRET_COPY_ENV] = key
    return env
