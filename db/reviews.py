"""The review queue: price observations held for an admin, and every agent report.

Rows here are never served (price queries read `prices`); prices.review decides what is
held and publishes what an admin accepts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from db.timeutil import iso


class Status(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Observation:
    """One price observation of a series, as `prices` holds it."""

    commodity_id: int
    market_id: int
    unit: str
    price_type: str
    currency: str
    date: str               # YYYY-MM-DD
    price: float
    source: str
    usd_price: float | None = None
    price_flag: str | None = None

    @property
    def series(self) -> tuple[int, int, str, str, str]:
        """(commodity, market, unit, type, currency): what one price series is."""
        return (self.commodity_id, self.market_id, self.unit, self.price_type, self.currency)


@dataclass(frozen=True, slots=True)
class Review:
    """A row of price_reviews, with the names of its commodity and market."""

    id: int
    origin: str             # import | agent
    status: str
    reason: str | None
    observation: Observation
    commodity: str
    market: str
    country: str
    median: float | None
    reported: str | None
    file_name: str | None
    line: int | None
    agent_id: int | None
    agent_phone: str | None
    inbound_id: int | None
    item: int | None
    created_at: str
    decided_at: str | None
    decided_by: str | None


_SELECT = ("SELECT r.*, c.name AS commodity, m.name AS market, m.country AS country,"
           " k.phone AS agent_phone FROM price_reviews r"
           " JOIN commodities c ON c.id = r.commodity_id JOIN markets m ON m.id = r.market_id"
           " LEFT JOIN contacts k ON k.id = r.agent_id")
_OBSERVATION = [f.name for f in fields(Observation)]


def _review(row: sqlite3.Row) -> Review:
    observation = Observation(**{name: row[name] for name in _OBSERVATION})
    return Review(row["id"], row["origin"], row["status"], row["reason"], observation,
                  row["commodity"], row["market"], row["country"], row["median"],
                  row["reported"], row["file_name"], row["line"], row["agent_id"],
                  row["agent_phone"], row["inbound_id"], row["item"], row["created_at"],
                  row["decided_at"], row["decided_by"])


def add(conn: sqlite3.Connection, observation: Observation, *, origin: str, status: Status,
        reason: str | None, now: datetime, **where: Any) -> int:
    """Store an observation with its state; `where` says where it came from (file_name,
    line, agent_id, inbound_id, item, reported, median, decided_at, decided_by)."""
    columns = {**{name: getattr(observation, name) for name in _OBSERVATION}, **where,
               "origin": origin, "status": str(status), "reason": reason,
               "created_at": iso(now)}
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    row = conn.execute(f"INSERT INTO price_reviews ({names}) VALUES ({marks}) RETURNING id",
                       tuple(columns.values())).fetchone()
    return int(row[0])


def get(conn: sqlite3.Connection, review_id: int) -> Review | None:
    """One review row, or None."""
    row = conn.execute(f"{_SELECT} WHERE r.id = ?", (review_id,)).fetchone()
    return _review(row) if row else None


def listed(conn: sqlite3.Connection, *, status: str | None = Status.PENDING,
           limit: int = 200) -> list[Review]:
    """Review rows of one status (None: all), oldest first."""
    where, args = ("WHERE r.status = ?", (str(status),)) if status else ("", ())
    rows = conn.execute(f"{_SELECT} {where} ORDER BY r.id LIMIT ?", (*args, limit))
    return [_review(row) for row in rows]


def of_message(conn: sqlite3.Connection, inbound_id: int) -> list[Review]:
    """The reports one inbound SMS made, in the order of its items."""
    rows = conn.execute(f"{_SELECT} WHERE r.inbound_id = ? ORDER BY r.item", (inbound_id,))
    return [_review(row) for row in rows]


def same(conn: sqlite3.Connection, observation: Observation, *, origin: str) -> Review | None:
    """The latest row of this origin for the same series, date and price (a re-import)."""
    row = conn.execute(
        f"{_SELECT} WHERE r.origin = ? AND r.commodity_id = ? AND r.market_id = ?"
        f" AND r.unit = ? AND r.price_type = ? AND r.currency = ? AND r.date = ?"
        f" AND r.price = ? ORDER BY r.id DESC LIMIT 1",
        (origin, *observation.series, observation.date, observation.price)).fetchone()
    return _review(row) if row else None


def decide(conn: sqlite3.Connection, review_id: int, status: Status, *, by: str,
           now: datetime, expected: Status) -> bool:
    """Move a row from `expected` to `status`; False if it was not in `expected`."""
    return conn.execute(
        "UPDATE price_reviews SET status = ?, decided_at = ?, decided_by = ?"
        " WHERE id = ? AND status = ?",
        (str(status), iso(now), by, review_id, str(expected))).rowcount > 0


def link_import(conn: sqlite3.Connection, review_ids: list[int], import_id: int) -> None:
    """Note the import run that held these rows (its log row is written last)."""
    conn.executemany("UPDATE price_reviews SET import_id = ? WHERE id = ?",
                     [(import_id, review_id) for review_id in review_ids])
