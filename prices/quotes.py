"""Price look-ups: the latest quote of each series, the best markets, the nearest with data."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
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
# The version is the newest price row and the newest import: every import, even one that
# only updates prices or moves a market, is logged in `imports` in its own transaction.
_MEMO: dict[tuple[Any, ...], Any] = {}
_MEMO_MAX = 1024
_MISSING = object()


def data_version(conn: sqlite3.Connection) -> tuple[Any, ...]:
    """What identifies the price data a connection sees now: one statement."""
    where = getattr(conn, "lock_path", None) or conn.execute("PRAGMA database_list").fetchone()[2]
    row = conn.execute("SELECT (SELECT MAX(id) FROM prices), (SELECT MAX(id) FROM imports)"
                       ).fetchone()
    return (where, row[0], row[1])


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
        f" AS previous"
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
    return Quote(row["commodity"], row["market"], row["unit"], row["price_type"], row["currency"],
                 date.fromisoformat(row["date"]), float(row["price"]),
                 None if row["previous"] is None else float(row["previous"]), row["source"])


def best_markets(conn: sqlite3.Connection, commodity_ids: Sequence[int], *, window_days: int = 92,
                 limit: int = 3) -> list[Quote]:
    """Where these commodities sold highest recently, in their most reported unit and type.

    Prices in different units or types cannot be ranked together, so the ranking uses the
    series kind (unit, price type, currency) reported most often in the recent window.
    """
    marks = _marks(commodity_ids)
    newest = conn.execute(f"SELECT MAX(date) FROM prices WHERE commodity_id IN ({marks})",
                          list(commodity_ids)).fetchone()[0]
    if newest is None:
        return []
    since = (date.fromisoformat(newest) - timedelta(days=window_days)).isoformat()
    common = conn.execute(
        f"SELECT unit, price_type, currency FROM prices WHERE commodity_id IN ({marks})"
        f" AND date >= ? GROUP BY unit, price_type, currency ORDER BY COUNT(*) DESC LIMIT 1",
        [*commodity_ids, since]).fetchone()
    rows = conn.execute(
        f"SELECT * FROM (SELECT c.name AS commodity, m.name AS market, p.unit, p.price_type,"
        f" p.currency, p.date, p.price, p.source,"
        f" ROW_NUMBER() OVER (PARTITION BY p.market_id ORDER BY p.date DESC, p.price DESC) AS rn,"
        f" LEAD(p.price) OVER (PARTITION BY p.market_id, p.commodity_id ORDER BY p.date DESC)"
        f" AS previous FROM prices p JOIN commodities c ON c.id = p.commodity_id"
        f" JOIN markets m ON m.id = p.market_id WHERE p.commodity_id IN ({marks})"
        f" AND p.unit = ? AND p.price_type = ? AND p.currency = ? AND p.date >= ?)"
        f" WHERE rn = 1 ORDER BY price DESC LIMIT ?",
        [*commodity_ids, common["unit"], common["price_type"], common["currency"], since, limit],
    ).fetchall()
    return [_quote(row) for row in rows]


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
            f" AND m.id != ?", [*commodity_ids, origin.id]).fetchall()
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


def popular_commodities(conn: sqlite3.Connection, limit: int = 5) -> list[str]:
    """The commodities with the most observations (to suggest when a name is unknown)."""

    def compute() -> tuple[str, ...]:
        rows = conn.execute("SELECT c.name FROM commodities c JOIN prices p"
                            " ON p.commodity_id = c.id GROUP BY c.id ORDER BY COUNT(*) DESC,"
                            " c.id LIMIT ?", (limit,))
        return tuple(row[0] for row in rows)

    return list(_memoized(conn, ("popular", limit), compute))


def markets_with_data(conn: sqlite3.Connection, commodity_ids: Sequence[int], *,
                      limit: int = 100) -> list[Place]:
    """Markets that have prices for these commodities, the most often reported first."""

    def compute() -> tuple[Place, ...]:
        rows = conn.execute(
            f"SELECT m.id, m.name, m.latitude, m.longitude FROM prices p JOIN markets m"
            f" ON m.id = p.market_id WHERE p.commodity_id IN ({_marks(commodity_ids)})"
            f" GROUP BY m.id ORDER BY COUNT(*) DESC, MAX(p.date) DESC, m.name LIMIT ?",
            [*commodity_ids, limit]).fetchall()
        return tuple(Place(*row) for row in rows)

    return list(_memoized(conn, ("markets", tuple(commodity_ids), limit), compute))
