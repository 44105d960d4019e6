"""Price look-ups: the latest quote of each series, the best markets, the nearest with data."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta


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


_SERIES = "p.commodity_id, p.unit, p.price_type, p.currency"


def latest_at_market(conn: sqlite3.Connection, commodity_ids: Sequence[int],
                     market_id: int) -> list[Quote]:
    """Each series of these commodities at one market: its latest quote, newest first."""
    rows = conn.execute(
        f"SELECT * FROM (SELECT c.name AS commodity, m.name AS market, p.unit, p.price_type,"
        f" p.currency, p.date, p.price, p.source,"
        f" ROW_NUMBER() OVER (PARTITION BY {_SERIES} ORDER BY p.date DESC) AS rn,"
        f" LEAD(p.price) OVER (PARTITION BY {_SERIES} ORDER BY p.date DESC) AS previous"
        f" FROM prices p JOIN commodities c ON c.id = p.commodity_id"
        f" JOIN markets m ON m.id = p.market_id"
        f" WHERE p.market_id = ? AND p.commodity_id IN ({_marks(commodity_ids)}))"
        f" WHERE rn = 1 ORDER BY date DESC, price_type DESC",
        [market_id, *commodity_ids],
    ).fetchall()
    return [_quote(row) for row in rows]


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
    rows = conn.execute(
        f"SELECT DISTINCT m.id, m.name, m.latitude, m.longitude FROM markets m"
        f" JOIN prices p ON p.market_id = m.id WHERE p.commodity_id IN ({_marks(commodity_ids)})"
        f" AND m.id != ?", [*commodity_ids, origin.id]).fetchall()
    places = [Place(*row) for row in rows]
    ranked = sorted(((p, distance_km(origin, p)) for p in places),
                    key=lambda pair: (pair[1] is None, pair[1] or 0.0, pair[0].name))
    return ranked[:limit]


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
    rows = conn.execute("SELECT c.name FROM commodities c JOIN prices p ON p.commodity_id = c.id"
                        " GROUP BY c.id ORDER BY COUNT(*) DESC LIMIT ?", (limit,))
    return [row[0] for row in rows]
