"""Price series for people who look at them whole (the web console's Prices page): the
choices of commodity, market and area a country offers, and the observations of a few
markets for one commodity, in one unit.

A commodity is chosen by its exact name ("Maize (white)") or as a group: its base name with
a star ("Maize*": every kind of maize, each row naming its kind), as catalog.base_name
groups them. Every query reads `prices` through its indexes (prices_market_commodity_date
for a series, prices_commodity_date for what a country offers): never the whole table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from prices.catalog import base_name

GROUP = "*"            # "Maize*": every commodity whose base name is MAIZE
MAX_MARKETS = 6        # markets on one chart
LEVELS = {"admin1": "Regions", "admin2": "Counties and districts"}   # markets.admin1, admin2


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of the commodity list: its key (name, or base name and GROUP) and label."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class ChoiceGroup:
    """Commodities that share a base name (several kinds of maize), or one on its own."""

    label: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True, slots=True)
class Market:
    id: int
    name: str
    admin1: str | None
    admin2: str | None
    public: bool = True


@dataclass(frozen=True, slots=True)
class Kind:
    """A unit and price type found for a selection, with how many prices and the newest."""

    unit: str
    price_type: str
    count: int
    newest: str


@dataclass(frozen=True, slots=True)
class Point:
    """One price observation as the page's table shows it."""

    date: str          # YYYY-MM-DD
    market: str
    commodity: str
    unit: str
    price_type: str
    price: float
    currency: str
    source: str
    market_id: int
    commodity_id: int


def is_stale(day: str, today: date, stale_days: int) -> bool:
    """The project's rule for an old price (handlers.price, docs/prices.md): older than
    `prices.stale_days` days, when a PRICE reply adds 'Old price: ... ago'."""
    return (today - date.fromisoformat(day)).days > stale_days


def commodities(conn: sqlite3.Connection, country: str) -> list[ChoiceGroup]:
    """The commodities with prices at the country's markets, grouped by base name; a group
    of several kinds starts with the choice of all of them ("Maize, every kind")."""
    rows = conn.execute(
        "SELECT c.id, c.name FROM commodities c WHERE EXISTS (SELECT 1 FROM prices p"
        " JOIN markets m ON m.id = p.market_id WHERE p.commodity_id = c.id"
        " AND m.country = ?) ORDER BY c.name", (country,)).fetchall()
    grouped: dict[str, list[str]] = {}
    for _, name in rows:
        grouped.setdefault(base_name(name), []).append(str(name))
    groups = []
    for names in grouped.values():
        label = group_label(names)
        choices = [Choice(name, name) for name in names]
        if len(names) > 1:
            choices.insert(0, Choice(label + GROUP, f"{label}, every kind"))
        groups.append(ChoiceGroup(label, tuple(choices)))
    return groups


def group_label(names: Sequence[str]) -> str:
    """What a group of kinds is called: the plain commodity's name when there is one
    ("Maize"), else the first kind's name before its parenthesis ("Beans")."""
    plain = [name for name in names if "(" not in name]
    return plain[0] if plain else names[0].split("(")[0].strip()


def commodity_ids(conn: sqlite3.Connection, key: str, offered: Sequence[ChoiceGroup]) -> list[int]:
    """The commodities a choice's key means among those `commodities` offered (none when it
    is not one of them)."""
    for group in offered:
        for choice in group.choices:
            if choice.key == key:
                names = ([c.key for c in group.choices if not c.key.endswith(GROUP)]
                         if key.endswith(GROUP) else [key])
                marks = ", ".join("?" * len(names))
                return [int(row[0]) for row in conn.execute(
                    f"SELECT id FROM commodities WHERE name IN ({marks}) ORDER BY id", names)]
    return []


def markets(conn: sqlite3.Connection, country: str) -> list[Market]:
    """The country's markets by name (hidden ones too: admins see every price)."""
    return [Market(row[0], row[1], row[2], row[3], bool(row[4])) for row in conn.execute(
        "SELECT id, name, admin1, admin2, public FROM markets WHERE country = ?"
        " ORDER BY name", (country,))]


def areas(conn: sqlite3.Connection, country: str) -> dict[str, list[str]]:
    """The country's regions (admin1) and counties or districts (admin2) with markets."""
    found: dict[str, list[str]] = {}
    for level in LEVELS:
        found[level] = [str(row[0]) for row in conn.execute(
            f"SELECT DISTINCT {level} FROM markets WHERE country = ? AND {level} IS NOT NULL"
            f" AND {level} != '' ORDER BY {level}", (country,))]
    return found


def area_markets(conn: sqlite3.Connection, country: str, level: str, name: str,
                 commodity: Sequence[int]) -> list[Market]:
    """The markets of an area that have prices of the commodity, the newest prices first."""
    if level not in LEVELS:
        raise ValueError(f"no area level {level!r}")
    marks = ", ".join("?" * len(commodity))
    rows = conn.execute(
        f"SELECT m.id, m.name, m.admin1, m.admin2, m.public, (SELECT MAX(p.date) FROM prices p"
        f" WHERE p.market_id = m.id AND p.commodity_id IN ({marks})) AS newest"
        f" FROM markets m WHERE m.country = ? AND m.{level} = ?"
        f" ORDER BY newest DESC, m.name", (*commodity, country, name)).fetchall()
    return [Market(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows if r[5] is not None]


def kinds(conn: sqlite3.Connection, commodity: Sequence[int],
          market_ids: Sequence[int]) -> list[Kind]:
    """The units and price types the selection has prices in, the most prices first."""
    where, args = _where(commodity, market_ids)
    return [Kind(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in conn.execute(
        f"SELECT unit, price_type, COUNT(*), MAX(date) FROM prices p WHERE {where}"
        f" GROUP BY unit, price_type ORDER BY COUNT(*) DESC, MAX(date) DESC, unit", args)]


def points(conn: sqlite3.Connection, commodity: Sequence[int], market_ids: Sequence[int], *,
           unit: str, price_type: str | None = None, since: str | None = None,
           limit: int = 3000) -> list[Point]:
    """The selection's prices in one unit (and type), newest first, at most `limit`."""
    where, args = _where(commodity, market_ids)
    where += " AND p.unit = ?"
    args.append(unit)
    if price_type:
        where += " AND p.price_type = ?"
        args.append(price_type)
    if since:
        where += " AND p.date >= ?"
        args.append(since)
    rows = conn.execute(
        f"SELECT p.date, m.name, c.name, p.unit, p.price_type, p.price, p.currency, p.source,"
        f" p.market_id, p.commodity_id FROM prices p JOIN markets m ON m.id = p.market_id"
        f" JOIN commodities c ON c.id = p.commodity_id WHERE {where}"
        f" ORDER BY p.date DESC, m.name, c.name, p.price_type, p.currency LIMIT ?",
        (*args, limit))
    return [Point(*row) for row in rows]


def _where(commodity: Sequence[int], market_ids: Sequence[int]) -> tuple[str, list[object]]:
    """The markets and commodities of a selection, as the series index reads them."""
    markets_in = ", ".join("?" * len(market_ids))
    commodities_in = ", ".join("?" * len(commodity))
    return (f"p.market_id IN ({markets_in}) AND p.commodity_id IN ({commodities_in})",
            [*market_ids, *commodity])


@dataclass(frozen=True, slots=True)
class Series:
    """One line of the chart: a market's prices of one kind and type, oldest first, each
    (date, price, old, after_gap): `old` by is_stale, `after_gap` when the series had no
    price for more than stale_days before it (the line is not drawn across the gap)."""

    label: str
    market: str
    commodity: str
    price_type: str
    currency: str
    points: tuple[tuple[str, float, bool, bool], ...]


def chart(found: Sequence[Point], *, today: date, stale_days: int) -> list[Series]:
    """The table's prices as chart lines, one per market, kind, type and currency; a label
    names the market and the price type, and the kind and currency where lines differ."""
    lines: dict[tuple[str, str, str, str], list[Point]] = {}
    for point in sorted(found, key=lambda p: p.date):
        key = (point.market, point.commodity, point.price_type, point.currency)
        lines.setdefault(key, []).append(point)
    differs = [i == 0 or len({key[i] for key in lines}) > 1 for i in range(4)]
    result = []
    for key, taken in lines.items():
        parts = [part for i, part in enumerate(key) if differs[i] and i != 2]
        parts.insert(sum(differs[:2]), key[2])
        result.append(Series(" · ".join(parts), key[0], key[1], key[2], key[3], tuple(
            (p.date, p.price, is_stale(p.date, today, stale_days),
             i > 0 and (date.fromisoformat(p.date)
                        - date.fromisoformat(taken[i - 1].date)).days > stale_days)
            for i, p in enumerate(taken))))
    return sorted(result, key=lambda s: (s.market, s.commodity, s.price_type, s.currency))
