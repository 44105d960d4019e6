"""Every user-visible string, one module per language under handlers/locale/.

A test checks that each language has every key and that each text, filled with the
longest realistic values, fits its channel (one GSM-7 SMS, or a USSD screen).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from handlers.locale import en, fr, sw

LANGUAGES = {"en": en.TEXTS, "sw": sw.TEXTS, "fr": fr.TEXTS}
LANGUAGE_NAMES = MappingProxyType({"en": "English", "sw": "Kiswahili", "fr": "Francais"})


class UnknownText(KeyError):
    """A text key that no language defines (a bug in a handler)."""


def text(language: str, key: str, **values: Any) -> str:
    """The text `key` in `language` (English if that language lacks it), filled with values."""
    table = LANGUAGES.get(language, en.TEXTS)
    template = table.get(key) or en.TEXTS.get(key)
    if template is None:
        raise UnknownText(key)
    return template.format(**values)
