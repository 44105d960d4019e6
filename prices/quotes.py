"""Price look-ups: the latest quote of each series, the best markets, the nearest with data."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest observation of one price series, with the one before it for the trend."""

    commodity: str
    market: str
    unit: str
    price_type: str
    currency: str
    date: date
    price: float
    previous_price: float | None
    source: str
    previous_date: date | None = None   # when previous_price was observed


    @property
    def change(self) -> float | None:
        """Price minus the previous observation's price (None when there is none)."""
        return None if self.previous_price is None else self.price - self.previous_price


@dataclass(frozen=True, slots=True)
class Place:
    id: int
    name: str
    latitude: float | None
    longitude: float | None


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


# Look-ups are kept per database and data version: they change only when prices change,
# and people ask the same few questions (and a USSD menu asks some on almost every screen).
# The version is the newest price row and the newest import (every import, even one that
# only updates prices or moves a market, is logged in `imports` in its own transaction),
# and which markets are hidden from lists.
_MEMO: dict[tuple[Any, ...], Any] = {}
_MEMO_MAX = 1024
_MISSING = object()


def data_version(conn: sqlite3.Connection) -> tuple[Any, ...]:
    """What identifies the price data a connection sees now: one statement."""
    where = getattr(conn, "lock_path", None) or conn.execute("PRAGMA database_list").fetchone()[2]
    row = conn.execute("SELECT (SELECT MAX(id) FROM prices), (SELECT MAX(id) FROM imports),"
                       " (SELECT group_concat(id) FROM markets WHERE public = 0)").fetchone()
    return (where, row[0], row[1], row[2])


def _memoized(conn: sqlite3.Connection, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """`compute()`, or its earlier result for this database while its prices are unchanged."""
    full = (*data_version(conn), *key)
    found = _MEMO.get(full, _MISSING)
    if found is _MISSING:
        # Threads may answer PRICE at the same time (outside the write lock): keep the
        # value in hand, since another thread may clear the memo before we read it back.
        found = compute()
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[full] = found
    return found  # type: ignore[no-any-return]


_SERIES = "p.commodity_id, p.unit, p.price_type, p.currency"


def latest_at_market(conn: sqlite3.Connection, commodity_ids: Sequence[int],
                     market_id: int) -> list[Quote]:
    """Each series of these commodities at one market: its latest quote, newest first.

    The latest date of each series is read from the unique index over (commodity, market,
    unit, type, currency, date), one commodity at a time (given the whole list at once,
    SQLite picked the other index and sorted), and the price before it with one index
    seek per series: the window over every observation this replaced (hundreds per
    series) took ten times as long. Ties on date and type come in series order, as the
    window query gave them.
    """
    if not commodity_ids:
        return []
    ids = tuple(commodity_ids)
    return list(_memoized(conn, ("latest", ids, market_id),
                          lambda: _latest_at_market(conn, ids, market_id)))


def _latest_at_market(conn: sqlite3.Connection, commodity_ids: Sequence[int],
                      market_id: int) -> tuple[Quote, ...]:
    latest = " UNION ALL ".join(
        "SELECT * FROM (SELECT commodity_id, market_id, unit, price_type, currency,"
        " MAX(date) AS date FROM prices WHERE commodity_id = ? AND market_id = ?"
        " GROUP BY unit, price_type, currency)" for _ in commodity_ids)
    rows = conn.execute(
        f"SELECT c.name AS commodity, m.name AS market, s.unit, s.price_type, s.currency,"
        f" s.date, p.price, p.source,"
        f" (SELECT q.price FROM prices q WHERE q.commodity_id = s.commodity_id"
        f"  AND q.market_id = s.market_id AND q.unit = s.unit AND q.price_type = s.price_type"
        f"  AND q.currency = s.currency AND q.date < s.date ORDER BY q.date DESC LIMIT 1)"
        f" AS previous,"
        f" (SELECT MAX(q.date) FROM prices q WHERE q.commodity_id = s.commodity_id"
        f"  AND q.market_id = s.market_id AND q.unit = s.unit AND q.price_type = s.price_type"
        f"  AND q.currency = s.currency AND q.date < s.date) AS previous_date"
        f" FROM ({latest}) s"
        f" JOIN prices p ON p.commodity_id = s.commodity_id AND p.market_id = s.market_id"
        f"  AND p.unit = s.unit AND p.price_type = s.price_type AND p.currency = s.currency"
        f"  AND p.date = s.date"
        f" JOIN commodities c ON c.id = s.commodity_id JOIN markets m ON m.id = s.market_id"
        f" ORDER BY s.date DESC, s.price_type DESC, s.commodity_id, s.unit, s.currency",
        [value for commodity_id in commodity_ids for value in (commodity_id, market_id)],
    ).fetchall()
    return tuple(_quote(row) for row in rows)


def _quote(row: sqlite3.Row) -> Quote:
    before = row["previous_date"] if "previous_date" in row.keys() else None
    return Quote(row["commodity"], row["market"], row["unit"], row["price_type"], row["currency"],
                 date.fromisoformat(row["date"]), float(row["price"]),
                 None if row["previous"] is None else float(row["previous"]), row["source"],
                 date.fromisoformat(before) if before else None)


def best_markets(conn: sqlite3.Connection, commodity_ids: Sequence[int], *, since: date,
                 country: str | None = None, limit: int = 3) -> list[Quote]:
    """Where one of these commodities sold highest since a date, public markets only.

    Prices of different varieties, units or types cannot be ranked together, so the
    ranking uses one series kind (commodity, unit, price type, currency): the one reported
    most often since then, the plain commodity first when it is among the most reported.
    Markets the deployment marks as not public (camps) are never listed.
    """
    marks = _marks(commodity_ids)
    scope = " AND m.public = 1" + (" AND m.country = ?" if country else "")
    where = [*commodity_ids, since.isoformat(), *([country] if country else [])]
    common = conn.execute(
        f"SELECT p.commodity_id, p.unit, p.price_type, p.currency FROM prices p"
        f" JOIN markets m ON m.id = p.market_id JOIN commodities c ON c.id = p.commodity_id"
        f" WHERE p.commodity_id IN ({marks}) AND p.date >= ?{scope}"
        f" GROUP BY p.commodity_id, p.unit, p.price_type, p.currency"
        f" ORDER BY COUNT(*) DESC, instr(c.name, '(') = 0 DESC LIMIT 1", where).fetchone()
    if common is None:
        return []
    rows = conn.execute(
        f"SELECT * FROM (SELECT c.name AS commodity, m.name AS market, p.unit, p.price_type,"
        f" p.currency, p.date, p.price, p.source,"
        f" ROW_NUMBER() OVER (PARTITION BY p.market_id ORDER BY p.date DESC) AS rn,"
        f" LEAD(p.price) OVER (PARTITION BY p.market_id ORDER BY p.date DESC) AS previous,"
        f" LEAD(p.date) OVER (PARTITION BY p.market_id ORDER BY p.date DESC) AS previous_date"
        f" FROM prices p JOIN commodities c ON c.id = p.commodity_id"
        f" JOIN markets m ON m.id = p.market_id WHERE p.commodity_id = ?"
        f" AND p.unit = ? AND p.price_type = ? AND p.currency = ? AND p.date >= ?{scope})"
        f" WHERE rn = 1 ORDER BY price DESC LIMIT ?",
        [common["commodity_id"], common["unit"], common["price_type"], common["currency"],
         since.isoformat(), *([country] if country else []), limit],
    ).fetchall()
    return [_quote(row) for row in rows]


def has_prices(conn: sqlite3.Connection, commodity_ids: Sequence[int],
               country: str | None = None) -> bool:
    """Whether any market (of a country) has a price for these commodities, however old."""
    scope = " AND market_id IN (SELECT id FROM markets WHERE country = ?)" if country else ""
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM prices WHERE commodity_id IN"
                        f" ({_marks(commodity_ids)}){scope})",
                        [*commodity_ids, *([country] if country else [])]).fetchone()[0] == 1


def place(conn: sqlite3.Connection, market_id: int) -> Place | None:
    """A market's name and coordinates."""
    row = conn.execute("SELECT id, name, latitude, longitude FROM markets WHERE id = ?",
                       (market_id,)).fetchone()
    return Place(*row) if row else None


def nearest_with_data(conn: sqlite3.Connection, commodity_ids: Sequence[int], origin: Place, *,
                      limit: int = 2) -> list[tuple[Place, float | None]]:
    """Markets that have prices for these commodities, nearest first (km when known)."""

    def compute() -> tuple[tuple[Place, float | None], ...]:
        rows = conn.execute(
            f"SELECT DISTINCT m.id, m.name, m.latitude, m.longitude FROM markets m JOIN prices p"
            f" ON p.market_id = m.id WHERE p.commodity_id IN ({_marks(commodity_ids)})"
            f" AND m.id != ? AND m.public = 1"
            f" AND m.country = (SELECT country FROM markets WHERE id = ?)",
            [*commodity_ids, origin.id, origin.id]).fetchall()
        places = [Place(*row) for row in rows]
        return tuple(sorted(((p, distance_km(origin, p)) for p in places),
                            key=lambda pair: (pair[1] is None, pair[1] or 0.0, pair[0].name)))

    ranked = _memoized(conn, ("nearest", tuple(commodity_ids), origin), compute)
    return list(ranked[:limit])


def distance_km(a: Place, b: Place) -> float | None:
    """Great-circle distance between two markets, or None without coordinates."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def popular_commodities(conn: sqlite3.Connection, limit: int = 5,
                        country: str | None = None) -> list[str]:
    """The commodities with the most observations (to suggest when a name is unknown), in
    one country's markets when one is given."""

    def compute() -> tuple[str, ...]:
        scope = " JOIN markets m ON m.id = p.market_id AND m.country = ?" if country else ""
        rows = conn.execute(f"SELECT c.name FROM commodities c JOIN prices p"
                            f" ON p.commodity_id = c.id{scope} GROUP BY c.id"
                            f" ORDER BY COUNT(*) DESC, c.id LIMIT ?",
                            (*([country] if country else []), limit))
        return tuple(row[0] for row in rows)

    return list(_memoized(conn, ("popular", limit, country), compute))


def markets_with_data(conn: sqlite3.Connection, commodity_ids: Sequence[int], *,
                      limit: int = 100, country: str | None = None) -> list[Place]:
    """Markets that have prices for these commodities, the most often reported first (in
    one country when one is given)."""

    def compute() -> tuple[Place, ...]:
        scope = " AND m.country = ?" if country else ""
        rows = conn.execute(
            f"SELECT m.id, m.name, m.latitude, m.longitude FROM prices p JOIN markets m"
            f" ON m.id = p.market_id WHERE p.commodity_id IN ({_marks(commodity_ids)}){scope}"
            f" GROUP BY m.id ORDER BY COUNT(*) DESC, MAX(p.date) DESC, m.name LIMIT ?",
            [*commodity_ids, *([country] if country else []), limit]).fetchall()
        return tuple(Place(*row) for row in rows)

    return list(_memoized(conn, ("markets", tuple(commodity_ids), limit, country), compute))
