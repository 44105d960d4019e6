"""Every setting at its declared default, for tests that call handlers without the app.

Product code reads settings as `settings["key"]` and never repeats a default, so a handler
needs the whole table; this gives it, with only what a test changes written out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smsgw.config import SETTINGS


def full_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The declared defaults of every setting (core and providers), then `overrides`."""
    unknown = set(overrides or {}) - {setting.key for setting in SETTINGS}
    if unknown:
        raise KeyError(f"not a setting: {', '.join(sorted(unknown))}")
    return {setting.key: setting.default for setting in SETTINGS} | dict(overrides or {})
