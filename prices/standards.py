"""Product standards: the file format, its validation, versioned import, and look-ups.

A standards file is TOML (see docs/standards-format.md). Importing never overwrites: a
(product, version) already stored is left alone when the file says the same thing, and is
an error when it says something else; a new version is a new row, in force from its
effective date. A file with any error changes nothing.

The SQL lives here rather than in db/ because this module is the only reader and writer of
the two standards tables (see db/schema/0003_standards.sql).
"""

from __future__ import annotations

import re
import sqlite3
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from db import transaction
from db.timeutil import iso, utcnow
from prices.folding import phrase

FORMAT_VERSION = 1
LANGUAGES = ("en", "sw", "fr")
# Bulletin limits, so that text + "\n" + a source line of at most 10 + SOURCE_MAX characters
# stays within 3 concatenated GSM-7 segments (3 x 153 = 459 septets): 400 + 1 + 50 = 451.
TEXT_MAX = 400
SOURCE_MAX = 40
TITLE_MAX = 24
VERSION_MAX = 40

# Fuzzy matching (rapidfuzz ratio, 0-100): at MATCH_SCORE or above a name is taken as meant
# ("MAIZ" scores 89 against MAIZE); between SUGGEST_SCORE and MATCH_SCORE we ask back
# ("BEANS" scores 67 against PEANUTS: below SUGGEST_SCORE, so it is not offered).
MATCH_SCORE = 80
SUGGEST_SCORE = 70
AMBIGUITY_MARGIN = 5
MAX_CANDIDATES = 4

_REQUIRED = ("product", "title", "version", "effective_date", "text_en", "source", "source_urls")
_OPTIONAL = ("title_sw", "title_fr", "text_sw", "text_fr", "aliases")
_TOP_LEVEL = ("format", "standard")
_PRODUCT_KEY = re.compile(r"^[A-Z][A-Z0-9 ]{0,29}$")
_URL = re.compile(r"^https?://\S+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Characters a bulletin may use: the GSM 03.38 basic table minus its control characters
# (CR, FF, ESC). Extension characters (^ { } [ ] ~ | \ and the euro sign) are refused too:
# each costs two septets and would break the length budget above. The test suite checks
# this set against handlers.segments.
GSM_TEXT_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    " \n!\"#%&'()*+,-./:;<=>?@$_"
    "£¥¤§¿¡èéùìòàÇØøÅåÆæßÉÄÖÑÜäöñüΔΦΓΛΩΠΨΣΘΞ"
)


class InvalidStandardsFile(Exception):
    """A standards file that cannot be imported; `errors` names each entry and field at fault."""

    def __init__(self, path: str, errors: list[str]) -> None:
        super().__init__(f"{path}: {len(errors)} error(s): " + "; ".join(errors))
        self.path = path
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Standard:
    """One version of a product's standard, as stored or as read from a file."""

    product: str
    version: str
    effective_date: date
    titles: Mapping[str, str]          # language -> name; "en" always present
    texts: Mapping[str, str]           # language -> bulletin body; "en" always present
    source: str                        # short label sent by SMS
    source_urls: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()   # (folded alias, language), file entries only

    @property
    def title(self) -> str:
        """The English product name."""
        return self.titles["en"]

    def text(self, language: str) -> str:
        """The bulletin body in `language`, or in English when that language has none."""
        return self.texts.get(language) or self.texts["en"]

    def title_in(self, language: str) -> str:
        """The product name in `language`, or in English when that language has none."""
        return self.titles.get(language) or self.titles["en"]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    path: str
    entries: int
    added: tuple[str, ...] = ()        # "PRODUCT version" for each new row
    unchanged: int = 0
    aliases_added: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        """One line for the CLI and logs."""
        verb = "would add" if self.dry_run else "added"
        line = (f"{self.path}: {self.entries} entr{'y' if self.entries == 1 else 'ies'}, "
                f"{verb} {len(self.added)}, {self.unchanged} unchanged, "
                f"{verb} {self.aliases_added} alias(es)")
        return line + (" (dry run: nothing written)" if self.dry_run else "")


class MatchKind(StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"   # ask back: candidates holds the products to choose from
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ProductMatch:
    """The product a text names, or the products it might name."""

    kind: MatchKind
    product: str | None = None
    candidates: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- the file


def fold(text: str) -> str:
    """The comparable form of a product name: 'Maïs, blanc' -> 'MAIS BLANC'."""
    return phrase(text)


def load_file(path: str | Path) -> list[Standard]:
    """Read and validate a standards file; raise InvalidStandardsFile listing every error."""
    name = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidStandardsFile(name, [f"cannot read the file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidStandardsFile(name, [f"not valid TOML: {exc}"]) from None
    return parse(data, name=name)


def parse(data: Mapping[str, Any], *, name: str = "<data>") -> list[Standard]:
    """Validate the parsed TOML of a standards file and return its entries."""
    errors = [f"unknown top-level field {key!r}" for key in data if key not in _TOP_LEVEL]
    if data.get("format") != FORMAT_VERSION:
        errors.append(f"format: must be {FORMAT_VERSION} (got {data.get('format')!r})")
    raw = data.get("standard")
    if not isinstance(raw, list) or not raw:
        errors.append("standard: the file needs at least one [[standard]] entry")
        raw = []
    entries = []
    for number, item in enumerate(raw, start=1):
        entry, problems = _entry(number, item)
        errors += problems
        if entry is not None:
            entries.append(entry)
    errors += _duplicates(entries)
    if errors:
        raise InvalidStandardsFile(name, errors)
    return entries


def _entry(number: int, item: Any) -> tuple[Standard | None, list[str]]:
    """Validate one [[standard]] table; errors are prefixed with its number and product."""
    if not isinstance(item, dict):
        return None, [f"standard {number}: must be a table"]
    product = fold(item["product"]) if isinstance(item.get("product"), str) else ""
    where = f"standard {number} ({product or 'no product'})"
    errors = [f"{where}: unknown field {key!r}" for key in item
              if key not in _REQUIRED and key not in _OPTIONAL]
    errors += [f"{where}: missing field {key!r}" for key in _REQUIRED if key not in item]
    if "product" in item and not _PRODUCT_KEY.match(product):
        errors.append(f"{where}: product: must be a name of letters, digits and spaces")
    checks = {
        "title": lambda v: _text(v, TITLE_MAX), "title_sw": lambda v: _text(v, TITLE_MAX),
        "title_fr": lambda v: _text(v, TITLE_MAX), "version": lambda v: _text(v, VERSION_MAX),
        "effective_date": _date_problem, "text_en": lambda v: _text(v, TEXT_MAX),
        "text_sw": lambda v: _text(v, TEXT_MAX), "text_fr": lambda v: _text(v, TEXT_MAX),
        "source": lambda v: _text(v, SOURCE_MAX), "source_urls": _urls_problem,
        "aliases": _aliases_problem,
    }
    for key, check in checks.items():
        problem = check(item[key]) if key in item else None
        if problem:
            errors.append(f"{where}: {key}: {problem}")
    if errors:
        return None, errors
    return _standard(product, item), []


def _standard(product: str, item: Mapping[str, Any]) -> Standard:
    titles = {lang: item[key] for lang, key in _by_language("title") if item.get(key)}
    texts = {lang: item[key] for lang, key in _by_language("text") if item.get(key)}
    aliases = {product: "en"}          # an alias belongs to the first language naming it
    for lang, title in titles.items():
        aliases.setdefault(fold(title), lang)
    for lang, names in item.get("aliases", {}).items():
        for name in names:
            aliases.setdefault(fold(name), lang)
    return Standard(product, item["version"], _as_date(item["effective_date"]), titles, texts,
                    item["source"], tuple(item["source_urls"]), tuple(aliases.items()))


def _by_language(prefix: str) -> list[tuple[str, str]]:
    """(language, field name) pairs: ("en", "title"), ("sw", "title_sw"), ..."""
    return [(lang, prefix if lang == "en" and prefix == "title" else f"{prefix}_{lang}")
            for lang in LANGUAGES]


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be non-empty text"
    bad = sorted({ch for ch in value if ch not in GSM_TEXT_CHARACTERS})
    if bad:
        return f"characters outside GSM-7 (write ug/kg, max, plain quotes): {''.join(bad)!r}"
    if len(value) > limit:
        return f"{len(value)} characters, at most {limit}"
    return None


def _date_problem(value: Any) -> str | None:
    try:
        _as_date(value)
    except ValueError as exc:
        return str(exc)
    return None


def _as_date(value: Any) -> date:
    """A TOML date, or text YYYY-MM-DD, as a date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date written YYYY-MM-DD (got {value!r})")


def _urls_problem(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "must be a list of at least one URL"
    bad = [url for url in value if not isinstance(url, str) or not _URL.match(url)]
    return f"not an http(s) URL: {bad[0]!r}" if bad else None


def _aliases_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a table of language = [names]"
    for lang, names in value.items():
        if lang not in LANGUAGES:
            return f"unknown language {lang!r} (use {', '.join(LANGUAGES)})"
        if not isinstance(names, list) or not all(isinstance(n, str) and fold(n) for n in names):
            return f"{lang}: must be a list of names"
    return None


def _duplicates(entries: Iterable[Standard]) -> list[str]:
    seen: set[tuple[str, str]] = set()
    errors = []
    for entry in entries:
        key = (entry.product, entry.version)
        if key in seen:
            errors.append(f"{entry.product} version {entry.version!r}: listed twice in the file")
        seen.add(key)
    return errors


# ---------------------------------------------------------------------------- import


def import_standards(conn: sqlite3.Connection, path: str | Path, *,
                     dry_run: bool = False) -> ImportReport:
    """Validate a file and add its new versions and aliases; raise InvalidStandardsFile if bad."""
    entries = load_file(path)
    with transaction(conn):
        errors = [problem for entry in entries if (problem := _conflict(conn, entry))]
        if errors:
            raise InvalidStandardsFile(str(path), errors)
        new = [entry for entry in entries if _stored(conn, entry) is None]
        aliases: dict[tuple[str, str], str] = {}
        for entry in entries:
            for alias, lang in entry.aliases:
                aliases.setdefault((alias, entry.product), lang)
        new_aliases = [(alias, lang, product) for (alias, product), lang in aliases.items()
                       if not _alias_stored(conn, alias, product)]
        if not dry_run:
            _write(conn, new, new_aliases)
    return ImportReport(str(path), len(entries),
                        tuple(f"{e.product} {e.version}" for e in new), len(entries) - len(new),
                        len(new_aliases), dry_run)


def _stored(conn: sqlite3.Connection, entry: Standard) -> Standard | None:
    row = conn.execute("SELECT * FROM standards WHERE product = ? AND version = ?",
                       (entry.product, entry.version)).fetchone()
    return _from_row(row) if row else None


def _conflict(conn: sqlite3.Connection, entry: Standard) -> str | None:
    """An error if this version is stored with different content (versions are immutable)."""
    stored = _stored(conn, entry)
    if stored is None:
        return None
    fields = [name for name in ("effective_date", "titles", "texts", "source", "source_urls")
              if getattr(stored, name) != getattr(entry, name)]
    if not fields:
        return None
    return (f"{entry.product} version {entry.version!r}: already imported with a different "
            f"{', '.join(fields)}; give the change a new version")


def _alias_stored(conn: sqlite3.Connection, alias: str, product: str) -> bool:
    row = conn.execute("SELECT 1 FROM standard_aliases WHERE alias = ? AND product = ?",
                       (alias, product)).fetchone()
    return row is not None


def _write(conn: sqlite3.Connection, entries: list[Standard],
           aliases: list[tuple[str, str, str]]) -> None:
    now = iso(utcnow())
    for e in entries:
        conn.execute(
            "INSERT INTO standards (product, title, title_sw, title_fr, version, effective_date,"
            " text_en, text_sw, text_fr, source, source_urls, imported_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.product, e.titles["en"], e.titles.get("sw"), e.titles.get("fr"), e.version,
             e.effective_date.isoformat(), e.texts["en"], e.texts.get("sw"), e.texts.get("fr"),
             e.source, "\n".join(e.source_urls), now),
        )
    conn.executemany("INSERT INTO standard_aliases (alias, language, product) VALUES (?, ?, ?)",
                     aliases)


def _from_row(row: sqlite3.Row) -> Standard:
    titles = {"en": row["title"], "sw": row["title_sw"], "fr": row["title_fr"]}
    texts = {"en": row["text_en"], "sw": row["text_sw"], "fr": row["text_fr"]}
    return Standard(
        row["product"], row["version"], date.fromisoformat(row["effective_date"]),
        {k: v for k, v in titles.items() if v}, {k: v for k, v in texts.items() if v},
        row["source"], tuple(row["source_urls"].split("\n")),
    )


# ---------------------------------------------------------------------------- look-ups


def current(conn: sqlite3.Connection, product: str, today: date) -> Standard | None:
    """The version of a product's standard in force on `today` (latest effective date wins)."""
    row = conn.execute(
        "SELECT * FROM standards WHERE product = ? AND effective_date <= ?"
        " ORDER BY effective_date DESC, id DESC LIMIT 1",
        (fold(product), today.isoformat()),
    ).fetchone()
    return _from_row(row) if row else None


def products(conn: sqlite3.Connection, today: date) -> list[Standard]:
    """The standard in force on `today` for every product that has one, in import order."""
    rows = conn.execute(
        "SELECT product FROM standards WHERE effective_date <= ?"
        " GROUP BY product ORDER BY MIN(id)", (today.isoformat(),),
    ).fetchall()
    found = (current(conn, row["product"], today) for row in rows)
    return [standard for standard in found if standard is not None]


def find_product(conn: sqlite3.Connection, text: str, *,
                 today: date | None = None) -> ProductMatch:
    """The product `text` names, by alias or close spelling; several if it is unclear.

    With `today`, only products with a standard in force that day are considered.
    """
    words = fold(text).split()
    if not words:
        return ProductMatch(MatchKind.UNKNOWN)
    scores = _scores(words, _aliases(conn, today))
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    if not ranked or ranked[0][1] < SUGGEST_SCORE:
        return ProductMatch(MatchKind.UNKNOWN)
    best = ranked[0][1]
    if best == 100:
        close = [product for product, score in ranked if score == 100]
    elif best >= MATCH_SCORE:
        close = [product for product, score in ranked
                 if score >= MATCH_SCORE and score >= best - AMBIGUITY_MARGIN]
    else:
        close = [product for product, score in ranked if score >= SUGGEST_SCORE]
    if len(close) == 1 and best >= MATCH_SCORE:
        return ProductMatch(MatchKind.FOUND, close[0])
    return ProductMatch(MatchKind.AMBIGUOUS, candidates=tuple(close[:MAX_CANDIDATES]))


def _aliases(conn: sqlite3.Connection, today: date | None) -> list[tuple[str, str]]:
    if today is None:
        rows = conn.execute("SELECT alias, product FROM standard_aliases")
    else:
        rows = conn.execute(
            "SELECT alias, product FROM standard_aliases WHERE product IN"
            " (SELECT product FROM standards WHERE effective_date <= ?)", (today.isoformat(),))
    return [(row["alias"], row["product"]) for row in rows]


def _scores(words: list[str], aliases: list[tuple[str, str]]) -> dict[str, float]:
    """Best score per product: each alias against the run of words of its own length."""
    scores: dict[str, float] = {}
    whole = " ".join(words)
    for alias, product in aliases:
        size = len(alias.split())
        runs = {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)} | {whole}
        score = max(fuzz.ratio(run, alias) for run in runs)
        scores[product] = max(score, scores.get(product, 0.0))
    return scores


def version_count(conn: sqlite3.Connection, product: str, today: date) -> int:
    """How many versions of a product's standard have taken effect by `today`."""
    return int(conn.execute(
        "SELECT COUNT(*) FROM standards WHERE product = ? AND effective_date <= ?",
        (fold(product), today.isoformat())).fetchone()[0])
