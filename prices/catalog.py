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
    markets: Index
    # Answers worked out from this catalog alone (how a question splits into names), kept
    # while the catalog is: a new catalog is built whenever names or aliases change.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

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
        markets = Index([Named(r[0], r[1]) for r in conn.execute("SELECT id, name FROM markets")])
        by_market = {phrase(m.name): {m.id} for m in markets.items.values()}
        localities: dict[str, set[int]] = {}
        for item in markets.items.values():
            markets.add(item.name, {item.id})
            markets.add(base_name(item.name), {item.id})
            if "(" in item.name:  # "Lodwar (Turkana)": the place in brackets names it too
                localities.setdefault(phrase(item.name.split("(", 1)[1]), set()).add(item.id)
        for locality, ids in localities.items():
            if locality not in markets.phrases:
                markets.add(locality, ids)
        # A target that is both a base name and one commodity's full name (MAIZE) means the
        # whole group, as the aliases table documents: MAHINDI is every maize.
        targets = {Kind.COMMODITY: {**by_full, **by_base}, Kind.MARKET: by_market}
        indexes = {Kind.COMMODITY: commodities, Kind.MARKET: markets}
        for kind, alias, target in conn.execute("SELECT kind, alias, target FROM aliases"):
            ids = targets[Kind(kind)].get(phrase(target))
            if not ids:
                continue
            if kind == Kind.MARKET:  # an admin's market alias outranks a derived place name
                indexes[Kind.MARKET].phrases.pop(phrase(alias), None)
            indexes[Kind(kind)].add(alias, ids)
        return cls(commodities, markets)


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
