"""Every user-visible string, one module per language under handlers/locale/.

A test checks that each language has every key and that each text, filled with the
longest realistic values, fits its channel (one GSM-7 SMS, or a USSD screen).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from handlers.locale import en, fr, sw

LANGUAGES = {"en": en.TEXTS, "sw": sw.TEXTS, "fr": fr.TEXTS}
# A value ending in an abbreviation's full stop ("7 déc.") before the template's own full
# stop would print "7 déc.."; one stop is enough (an ellipsis "..." is left alone).
_DOUBLE_STOP = re.compile(r"(?<=\w)\.\.(?!\.)")
LANGUAGE_NAMES = MappingProxyType({"en": "English", "sw": "Kiswahili", "fr": "Francais"})


class UnknownText(KeyError):
    """A text key that no language defines (a bug in a handler)."""


def text(language: str, key: str, **values: Any) -> str:
    """The text `key` in `language` (English if that language lacks it), filled with values."""
    table = LANGUAGES.get(language, en.TEXTS)
    template = table.get(key) or en.TEXTS.get(key)
    if template is None:
        raise UnknownText(key)
    filled = template.format(**values)
    return _DOUBLE_STOP.sub(".", filled) if ".." in filled else filled
