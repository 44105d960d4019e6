"""Finding the commodity and market a person means, from what they typed.

Names come from the imported data (commodity "Maize (white)" answers to MAIZE WHITE,
WHITE MAIZE and, with its siblings, to MAIZE) and from the aliases table (MAHINDI, MAIS),
which admins extend with `smsgw import aliases`. Exact names win; otherwise rapidfuzz
scores the candidates, and when the best two point to different things with nearly the
same score the caller is told to ask back instead of guessing.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from db import transaction
from prices.folding import phrase

MIN_SCORE = 72      # below this a fuzzy candidate is not a match at all
AMBIGUOUS_GAP = 4   # best two within this many points, different targets: ask back


class Kind(StrEnum):
    COMMODITY = "commodity"
    MARKET = "market"


class MatchKind(StrEnum):
    EXACT = "exact"
    FUZZY = "fuzzy"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Named:
    """A commodity or market as matching knows it."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Match:
    """The result of matching: the items meant (several for a group such as MAIZE)."""

    kind: MatchKind
    items: tuple[Named, ...] = ()
    score: float = 0.0
    label: str = ""                          # the phrase that matched, for replies
    options: tuple[str, ...] = ()            # for AMBIGUOUS: the names to choose from

    @property
    def found(self) -> bool:
        """An exact or fuzzy match (not ambiguous, not none)."""
        return self.kind in (MatchKind.EXACT, MatchKind.FUZZY)


def similarity(a: str, b: str, **_: object) -> float:
    """Whole-phrase similarity, word order ignored; no partial matching, so MAIZ is closer
    to MAIZE than to MAIZE FLOUR."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


def base_name(name: str) -> str:
    """'Maize (white, dry)' -> 'MAIZE'; 'Wheat flour' -> 'WHEAT FLOUR'."""
    return phrase(name.split("(")[0])


def _singular(word_phrase: str) -> str:
    if word_phrase.endswith("OES"):
        return word_phrase[:-2]
    if word_phrase.endswith("S") and not word_phrase.endswith("SS") and len(word_phrase) > 3:
        return word_phrase[:-1]
    return word_phrase


class Index:
    """Phrases that name things of one kind, each pointing at the items it means."""

    def __init__(self, items: list[Named]) -> None:
        self.items = {item.id: item for item in items}
        self.phrases: dict[str, set[int]] = {}
        self._word_sets: set[tuple[str, ...]] = set()   # each phrase's words, sorted

    def add(self, text: str, ids: set[int]) -> None:
        """Let a phrase (and its singular) name these items."""
        key = phrase(text)
        if not key or not ids:
            return
        for form in {key, _singular(key)}:
            self.phrases.setdefault(form, set()).update(ids)
            self._word_sets.add(tuple(sorted(form.split())))

    def match(self, text: str) -> Match:
        """The items a typed phrase means, or why it means none or several."""
        query = phrase(text)
        if not query:
            return Match(MatchKind.NONE)
        for form in (query, _singular(query)):
            if form in self.phrases:
                return self._found(MatchKind.EXACT, form, 100.0)
        ranked = _ranked(query, list(self.phrases))
        if not ranked:
            return Match(MatchKind.NONE)
        best_phrase, best_score = ranked[0]
        rivals = [p for p, score in ranked[1:]
                  if best_score - score < AMBIGUOUS_GAP
                  and not self.phrases[p] <= self.phrases[best_phrase]
                  and not self.phrases[best_phrase] <= self.phrases[p]]
        if rivals:
            options = tuple(dict.fromkeys([best_phrase, *rivals]))[:3]
            return Match(MatchKind.AMBIGUOUS, score=best_score, options=options)
        return self._found(MatchKind.FUZZY, best_phrase, best_score)

    def may_be_exact(self, text: str) -> bool:
        """Whether `match(text)` could score 100: a phrase is the text (or its singular), or
        has the same words in another order (token_sort_ratio 100; phrases are single-spaced).
        Far quicker than ranking every phrase: one look-up in the phrases' sorted words."""
        query = phrase(text)
        if not query:
            return False
        if query in self.phrases or _singular(query) in self.phrases:
            return True
        return tuple(sorted(query.split())) in self._word_sets

    def _found(self, kind: MatchKind, key: str, score: float) -> Match:
        items = tuple(sorted((self.items[i] for i in self.phrases[key]), key=lambda n: n.id))
        return Match(kind, items, score, key)


def _ranked(query: str, choices: list[str], limit: int = 6) -> list[tuple[str, float]]:
    """The best `limit` choices by `similarity` that reach MIN_SCORE, best first, ties in
    choice order: what `process.extract(query, choices, scorer=similarity, ...)` returns.

    Done as two passes of rapidfuzz's own scorers in C instead of one that calls the
    Python `similarity` for every phrase, which made matching most of a PRICE reply's
    time; a test checks both give the same ranking.
    """
    best: dict[int, float] = {}
    for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
        for _, score, index in process.extract(query, choices, scorer=scorer, limit=None,
                                               score_cutoff=MIN_SCORE):
            if score > best.get(index, -1.0):
                best[index] = score
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(choices[index], score) for index, score in ranked]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Commodity and market indexes built from the database."""

    commodities: Index
    markets: Index                      # every country's
    market_country: dict[int, str] = field(default_factory=dict, compare=False)
    by_country: dict[str, Index] = field(default_factory=dict, compare=False)
    # Answers worked out from this catalog alone (how a question splits into names), kept
    # while the catalog is: a new catalog is built whenever names or aliases change.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def markets_for(self, country: str | None) -> Index:
        """The markets of one country (every market for None): a farmer's PRICE, SUB and
        lists stay within their country, and names elsewhere do not make theirs ambiguous."""
        if country is None:
            return self.markets
        return self.by_country.get(country) or Index([])

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> Catalog:
        """Build the indexes from the imported names and the aliases table."""
        commodities = Index([Named(r[0], r[1]) for r in
                             conn.execute("SELECT id, name FROM commodities")])
        by_base: dict[str, set[int]] = {}
        by_full: dict[str, set[int]] = {}
        for item in commodities.items.values():
            by_base.setdefault(base_name(item.name), set()).add(item.id)
            by_full.setdefault(phrase(item.name), set()).add(item.id)
        for base, ids in by_base.items():
            commodities.add(base, ids)
        for item in commodities.items.values():
            _add_variants(commodities, item)
        rows = conn.execute("SELECT id, name, country, admin1, admin2 FROM markets").fetchall()
        aliases = conn.execute("SELECT kind, alias, target FROM aliases").fetchall()
        # A target that is both a base name and one commodity's full name (MAIZE) means the
        # whole group, as the aliases table documents: MAHINDI is every maize.
        targets = {**by_full, **by_base}
        for kind, alias, target in aliases:
            ids = targets.get(phrase(target))
            if kind == Kind.COMMODITY and ids:
                commodities.add(alias, ids)
        market_aliases = [(alias, target) for kind, alias, target in aliases
                          if kind == Kind.MARKET]
        country_of = {row[0]: str(row[2]) for row in rows}
        by_country = {country: _market_index([r for r in rows if r[2] == country],
                                             market_aliases)
                      for country in sorted(set(country_of.values()))}
        return cls(commodities, _market_index(rows, market_aliases), country_of, by_country)


def _market_index(rows: list[Any], aliases: list[tuple[str, str]]) -> Index:
    """Markets by their names, and by each place they name: "Lodwar (Turkana)" answers to
    LODWAR and TURKANA, "Sekondi/Takoradi" to SEKONDI and TAKORADI, and a county, region
    or city (admin1, admin2) to its markets. A place that several markets share, or that a
    market is also named after (NAIROBI: the market Nairobi, "Kangemi (Nairobi)" and the
    county's), means all of them: PRICE then answers from the one with the newest price."""
    markets = Index([Named(row[0], row[1]) for row in rows])
    by_market = {phrase(m.name): {m.id} for m in markets.items.values()}
    places: dict[str, set[int]] = {}
    for row in rows:
        item = markets.items[row[0]]
        markets.add(item.name, {item.id})
        markets.add(base_name(item.name), {item.id})
        named = [*item.name.split("(")[0].split("/"), row[3] or "", row[4] or ""]
        if "(" in item.name:
            named.append(item.name.split("(", 1)[1].rstrip(")"))
        for place in named:
            if phrase(place) and phrase(place) != phrase(item.name):
                places.setdefault(phrase(place), set()).add(item.id)
    for place, ids in places.items():
        markets.add(place, ids)
    for alias, target in aliases:
        ids = by_market.get(phrase(target))
        if ids:   # an admin's market alias outranks a derived place name
            markets.phrases.pop(phrase(alias), None)
            markets.add(alias, ids)
    return markets


def _add_variants(index: Index, item: Named) -> None:
    """'Maize (white)' also answers to MAIZE WHITE and WHITE MAIZE; 'Meat (goat)' to GOAT MEAT."""
    index.add(item.name, {item.id})
    if "(" not in item.name:
        return
    base = base_name(item.name)
    qualifiers = [phrase(q) for q in item.name.split("(", 1)[1].rstrip(")").split(",")]
    first = qualifiers[0]
    index.add(f"{first} {base}", {item.id})
    index.add(f"{base} {first}", {item.id})


def load_aliases(conn: sqlite3.Connection, path: Path | str | None = None, *,
                 source: str = "seed") -> int:
    """Add aliases from a CSV (kind,alias,language,target); return how many were new."""
    if path is None:
        text = resources.files("prices.data").joinpath("aliases.csv").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    before = conn.total_changes
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        kind, alias = (row.get("kind") or "").strip(), phrase(row.get("alias") or "")
        target, language = phrase(row.get("target") or ""), (row.get("language") or "*").strip()
        if kind not in (Kind.COMMODITY, Kind.MARKET) or not alias or not target:
            raise ValueError(f"line {line}: need kind (commodity|market), alias and target")
        conn.execute("INSERT OR IGNORE INTO aliases (kind, alias, language, target, source)"
                     " VALUES (?, ?, ?, ?, ?)", (kind, alias, language or "*", target, source))
    return conn.total_changes - before


_CACHE: dict[tuple[object, ...], Catalog] = {}


def catalog_for(conn: sqlite3.Connection) -> Catalog:
    """The catalog for this database, rebuilt only when names or aliases change."""
    # One statement: every PRICE asks this inside the gateway's write transaction.
    key = tuple(conn.execute(
        "SELECT (SELECT file FROM pragma_database_list WHERE name = 'main'),"
        " (SELECT COUNT(*) FROM commodities), (SELECT MAX(id) FROM commodities),"
        " (SELECT COUNT(*) FROM markets), (SELECT MAX(id) FROM markets),"
        " (SELECT COUNT(*) FROM aliases)").fetchone())
    catalog = _CACHE.get(key)
    if catalog is None:
        _CACHE.clear()  # one database per process in practice; keep memory flat
        catalog = _CACHE[key] = Catalog.load(conn)
    return catalog


def canonical(catalog: Catalog, match: Match) -> str:
    """The phrase to store for a commodity match: MAIZE for every maize, MAIZE WHITE for
    one kind, whatever name or language was typed (MAHINDI, MAIS, MAIZ)."""
    names = {base_name(item.name) for item in match.items}
    if len(match.items) == 1:
        candidate = phrase(match.items[0].name)
    elif len(names) == 1:
        candidate = names.pop()
    else:
        return match.label
    again = catalog.commodities.match(candidate)
    return candidate if set(again.items) == set(match.items) else match.label


def local_name(conn: sqlite3.Connection, base: str, language: str) -> str | None:
    """What readers of a language call a commodity ('Mahindi' for maize in Swahili)."""
    row = conn.execute(
        "SELECT alias FROM aliases WHERE kind = 'commodity' AND language = ? AND target = ?"
        " ORDER BY length(alias), alias LIMIT 1", (language, phrase(base))).fetchone()
    return str(row[0]).capitalize() if row else None


def market_rows(conn: sqlite3.Connection, *, country: str | None = None) -> list[sqlite3.Row]:
    """Every market (of a country), with whether it is listed and its newest price's date."""
    scope = " WHERE m.country = ?" if country else ""
    return conn.execute(
        f"SELECT m.id, m.country, m.name, m.admin1, m.admin2, m.public,"
        f" (SELECT MAX(date) FROM prices p WHERE p.market_id = m.id) AS newest"
        f" FROM markets m{scope} ORDER BY m.country, m.name",
        (country,) if country else ()).fetchall()


def set_public(conn: sqlite3.Connection, name: str, public: bool) -> str:
    """List or hide one market, named exactly (case and accents aside); return its name."""
    wanted = phrase(name)
    found = [row for row in conn.execute("SELECT id, name, country FROM markets")
             if phrase(row[1]) == wanted]
    if len(found) != 1:
        raise LookupError(f"no market named {name!r}" if not found else
                          f"{name!r} names markets in {', '.join(r[2] for r in found)}")
    with transaction(conn):
        conn.execute("UPDATE markets SET public = ? WHERE id = ?", (int(public), found[0][0]))
    return str(found[0][1])
