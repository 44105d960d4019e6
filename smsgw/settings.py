"""A setting, declared once as data (name, type, default, help), by whoever owns it.

The core settings are declared in smsgw.config and each provider's in its own module under
smsgw.providers; smsgw.config collects them all into one validated table at start-up.
This module holds only the shape, so that declaring a setting imports nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key at fault."""


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    type: type
    default: Any
    help: str
    secret: bool = False
    minimum: float | None = None   # checked at start-up for numbers (1: a rate, a size)
    # For a table of named tables (`[providers.android.phones.NAME]`, `[countries.KE]`):
    # the fields each named table may hold, checked like settings (type, minimum, secret).
    # The value is a dict of name -> dict of the fields set there.
    fields: tuple[Setting, ...] = ()

    @property
    def is_table(self) -> bool:
        """Whether this setting is a table of named tables (it declares fields)."""
        return bool(self.fields)

    @property
    def env(self) -> str:
        """The environment variable that overrides this setting."""
        return "SMSGW_" + self.key.replace(".", "_").upper()
