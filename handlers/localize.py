"""Names, units and numbers in the reader's language.

**Words.** What the price data names (commodities, varieties, units) and the packages an
order counts in come from one table per language, `handlers/locale/words_<code>.toml`,
data a translator edits without touching code:

- `same`: the words of the data that are words of this language too (names such as
  rosecoco, acronyms such as UHT, SI symbols such as kg). Every other word of the data's
  names is English, and tests check that none reaches a reply in another language.
- `[names]`: WFP commodity names, whole ("Maize (white)" = "Mahindi (meupe)", where the
  adjective agrees with its noun) or base ("Maize" = "Mahindi").
- `[words]`: single words: units ("l" = "lita"), order packages ("bags" = "magunia"), and
  varieties ("dry" = "kavu") for names the table does not list whole yet.

A commodity's name: its whole name from `[names]`; else its base name (from `[names]`,
else the aliases table's local name, else word by word) and its varieties word by word,
in brackets as WFP writes them. English keeps the data's own names.

**Numbers.** `number` writes every figure a reader sees: rounded half up (2.675 -> 2.68,
16,088.5 -> 16,089, where Python's round and format would round half to even, on the
binary value), with the language's thousands and decimal separators (3 200,50 in French).
"""

from __future__ import annotations

import re
import sqlite3
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

from handlers.texts import LANGUAGES, text
from prices.catalog import local_name
from prices.folding import phrase

SOURCE_LANGUAGE = "en"     # the language of the data's names
_UNIT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)?\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Words:
    """One language's translation table (keys folded with `phrase`, words lower-cased)."""

    language: str
    same: frozenset[str]
    names: dict[str, str]
    words: dict[str, str]


@cache
def table(language: str) -> Words:
    """The word table of a language (English's for a language without one)."""
    if language not in LANGUAGES:
        language = SOURCE_LANGUAGE
    raw: dict[str, Any] = tomllib.loads(resources.files("handlers.locale").joinpath(
        f"words_{language}.toml").read_text(encoding="utf-8"))
    return Words(language, frozenset(w.lower() for w in raw.get("same", ())),
                 {phrase(k): v for k, v in raw.get("names", {}).items()},
                 {k.lower(): v for k, v in raw.get("words", {}).items()})


# ---------------------------------------------------------------------------- numbers


def number(language: str, value: float | int | Decimal, decimals: int = 0) -> str:
    """A figure with `decimals` places, rounded half up, in the language's own format."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value)) \
        if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        rounded = rounded.copy_abs()   # never "-0.00"
    marks = {ord(","): text(language, "thousands_sep"), ord("."): text(language, "decimal_sep")}
    return f"{rounded:,f}".translate(marks)


# ---------------------------------------------------------------------------- words


def word(language: str, english: str) -> str:
    """One word or phrase of the data in `language` ('bags' -> 'magunia'), else as it is."""
    words = table(language).words
    folded = english.strip().lower()
    if folded in words:
        return words[folded]
    return " ".join(words.get(w.lower(), w) for w in folded.split())


def unit(language: str, name: str) -> str:
    """A price unit: '90 KG' -> '90kg', 'L' -> 'litre' ('lita'), 'Bunch' -> 'fungu'."""
    found = _UNIT.match(name)
    amount, what = (found.group(1), found.group(2)) if found else (None, name)
    written = word(language, what) if what else ""
    if amount is None:
        return written
    amount = amount.replace(",", ".").replace(".", text(language, "decimal_sep"))
    return f"{amount}{'' if len(written) <= 2 else ' '}{written}"


def commodity(conn: sqlite3.Connection | None, language: str, name: str) -> str:
    """A commodity's name ('Maize (white)') as readers of `language` write it."""
    words = table(language)
    whole = words.names.get(phrase(name))
    if whole or words.language == SOURCE_LANGUAGE:
        return whole or name
    varieties = _varieties(name)
    base_text = base(conn, language, name)
    if not varieties:
        return base_text
    return f"{base_text} ({', '.join(word(language, v) for v in varieties)})"


def base(conn: sqlite3.Connection | None, language: str, name: str) -> str:
    """The name of a commodity's kind ('Maize' for every maize) in `language`."""
    plain = name.split("(")[0].strip()
    words = table(language)
    found = words.names.get(phrase(plain))
    if found or words.language == SOURCE_LANGUAGE:
        return found or plain
    local = local_name(conn, plain, words.language) if conn is not None else None
    if local:
        return local
    translated = word(language, plain)
    return translated[:1].upper() + translated[1:]


def variety(conn: sqlite3.Connection | None, language: str, name: str) -> str:
    """What tells one kind apart in a list of several ('white' maize; 'meupe'); '' if none."""
    if "(" not in name:
        return ""
    full = commodity(conn, language, name)
    if full == name:    # the data's own word, as English replies have always shown it
        return _varieties(name)[0].lower()
    if "(" in full:
        return _varieties(full)[0]
    kind = base(conn, language, name)
    return "" if full == kind else full[:1].lower() + full[1:]


def _varieties(name: str) -> list[str]:
    """'Milk (cow, fresh)' -> ['cow', 'fresh']."""
    if "(" not in name:
        return []
    inside = name.split("(", 1)[1].rsplit(")", 1)[0]
    return [part.strip() for part in inside.split(",") if part.strip()]
