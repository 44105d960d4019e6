"""The countries a deployment serves, and what each sets for itself.

A deployment can serve several countries. Each is a `[countries.XX]` table in the config
(XX its ISO 3166 code) that may set its time zone, currency, quiet hours and language; what
a table leaves out comes from the deployment-wide settings (app.timezone, orders.currency,
bulletins.quiet_hours, app.default_language). With no `[countries]` table at all, the
deployment serves one country, app.default_region, on those settings: the shape every
deployment had before countries existed, so old configs keep working unchanged.

Every market belongs to one country (markets.country). A contact's country is their
registered market's, else their phone number's if the deployment serves it, else the
deployment's first country.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers

# What a [countries.XX] table may set, by its field name -> the deployment-wide setting it
# overrides (declared with their types in smsgw.config).
OVERRIDES = {
    "timezone": "app.timezone",
    "currency": "orders.currency",
    "quiet_hours": "bulletins.quiet_hours",
    "language": "app.default_language",
}


@dataclass(frozen=True, slots=True)
class Country:
    code: str           # ISO 3166-1 alpha-2, upper case: KE
    timezone: str       # IANA: Africa/Nairobi
    currency: str       # ISO 4217: KES
    quiet_hours: str    # HH:MM-HH:MM in `timezone`, or empty
    language: str       # en | sw | fr: new contacts' language


def served(settings: Mapping[str, Any]) -> dict[str, Country]:
    """The countries served, by code, in the order the config names them. Read on every
    message (its sender's language, a PRICE's scope, the worker's quiet hours): worked out
    once per settings object, which is never changed once loaded."""
    kept = _SERVED.get(id(settings))
    if kept is not None and kept[0] is settings:   # the object itself: an id can be reused
        return kept[1]
    found = _served(settings)
    if len(_SERVED) >= 8:
        _SERVED.clear()
    _SERVED[id(settings)] = (settings, found)
    return found


_SERVED: dict[int, tuple[Mapping[str, Any], dict[str, Country]]] = {}


def _served(settings: Mapping[str, Any]) -> dict[str, Country]:
    tables = settings["countries"] if "countries" in settings else {}
    if not tables:
        tables = {str(settings["app.default_region"]): {}}
    return {code.upper(): Country(code.upper(), *(str(table.get(field, settings[key]))
                                                  for field, key in OVERRIDES.items()))
            for code, table in tables.items()}


def first(settings: Mapping[str, Any]) -> Country:
    """The deployment's first country: where a contact we know nothing about belongs."""
    return next(iter(served(settings).values()))


def only(settings: Mapping[str, Any]) -> str | None:
    """The one country served, or None when there are several (an import must then say)."""
    codes = list(served(settings))
    return codes[0] if len(codes) == 1 else None


def of_number(settings: Mapping[str, Any], e164: str) -> str | None:
    """The served country a phone number belongs to, or None."""
    region = _region(e164)
    return region if region in served(settings) else None


@lru_cache(maxsize=32768)
def _region(e164: str) -> str | None:
    """A number's country. Parsing it is a tenth of a PRICE reply's own time, and the same
    people write again and again: the answers are kept (as smsgw.phone keeps its checks)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def get(settings: Mapping[str, Any], code: str | None) -> Country:
    """A served country's settings (the first country's for an unknown or missing code)."""
    countries = served(settings)
    return countries.get((code or "").upper()) or next(iter(countries.values()))


def language_of(settings: Mapping[str, Any], e164: str) -> str:
    """The language for someone who has not chosen one: their number's country's (the
    first country's for a number of a country not served)."""
    return get(settings, of_number(settings, e164)).language
