"""Subscriptions: which commodities (and markets) a contact receives bulletins for."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from db.timeutil import iso, utcnow


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    contact_id: int
    commodity: str           # folded phrase as matched: MAIZE, MAIZE WHITE
    market_id: int | None    # None: the contact's home market, else the best markets
    market: str | None       # the market's name, when market_id is set


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One contact with everything a bulletin needs to know about them."""

    contact_id: int
    phone: str
    language: str | None
    opted_out: bool
    home_market_id: int | None
    subscriptions: tuple[Subscription, ...]


def _from_row(row: sqlite3.Row) -> Subscription:
    return Subscription(row["id"], row["contact_id"], row["commodity"], row["market_id"],
                        row["market"])


_SELECT = ("SELECT s.id, s.contact_id, s.commodity, s.market_id, m.name AS market"
           " FROM subscriptions s LEFT JOIN markets m ON m.id = s.market_id")


def add(conn: sqlite3.Connection, contact_id: int, commodity: str,
        market_id: int | None) -> bool:
    """Follow a commodity (at a market); False if the contact already did."""
    cursor = conn.execute(
        "INSERT INTO subscriptions (contact_id, commodity, market_id, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (contact_id, commodity, market_id, iso(utcnow())))
    return cursor.rowcount > 0


def remove_all(conn: sqlite3.Connection, contact_id: int) -> int:
    """Stop following everything; return how many subscriptions there were."""
    return conn.execute("DELETE FROM subscriptions WHERE contact_id = ?", (contact_id,)).rowcount


def remove_ids(conn: sqlite3.Connection, contact_id: int, ids: Sequence[int]) -> int:
    """Remove some of a contact's subscriptions by id."""
    marks = ",".join("?" * len(ids))
    return conn.execute(f"DELETE FROM subscriptions WHERE contact_id = ? AND id IN ({marks})",
                        (contact_id, *ids)).rowcount


def for_contact(conn: sqlite3.Connection, contact_id: int) -> list[Subscription]:
    """A contact's subscriptions, oldest first."""
    rows = conn.execute(f"{_SELECT} WHERE s.contact_id = ? ORDER BY s.id", (contact_id,))
    return [_from_row(row) for row in rows]


def count_for(conn: sqlite3.Connection, contact_id: int) -> int:
    """How many subscriptions a contact has."""
    return int(conn.execute("SELECT COUNT(*) FROM subscriptions WHERE contact_id = ?",
                            (contact_id,)).fetchone()[0])


def commodities(conn: sqlite3.Connection) -> list[str]:
    """Every commodity phrase someone follows."""
    return [row[0] for row in conn.execute(
        "SELECT DISTINCT commodity FROM subscriptions ORDER BY commodity")]


def subscribers(conn: sqlite3.Connection, *, batch_size: int = 1000,
                commodities: Sequence[str] | None = None) -> Iterator[list[Subscriber]]:
    """Every contact with a subscription, in batches by contact id, never all at once.

    Keyset paging (contact id > the last one seen) keeps each query cheap however far
    the run has got, and a contact's subscriptions always arrive in the same batch.
    With `commodities`, only subscriptions to those phrases count.
    """
    last = 0
    only = ""
    extra: tuple[str, ...] = ()
    if commodities is not None:
        if not commodities:
            return
        only = f" AND s.commodity IN ({','.join('?' * len(commodities))})"
        extra = tuple(commodities)
    while True:
        ids = [row[0] for row in conn.execute(
            f"SELECT DISTINCT s.contact_id FROM subscriptions s WHERE s.contact_id > ?{only}"
            f" ORDER BY s.contact_id LIMIT ?", (last, *extra, batch_size))]
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        subs: dict[int, list[Subscription]] = {}
        for row in conn.execute(
                f"{_SELECT} WHERE s.contact_id IN ({marks}){only} ORDER BY s.contact_id, s.id",
                (*ids, *extra)):
            subs.setdefault(row["contact_id"], []).append(_from_row(row))
        people = conn.execute(
            f"SELECT id, phone, language, opted_out, home_market_id FROM contacts"
            f" WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
        yield [Subscriber(row["id"], row["phone"], row["language"], bool(row["opted_out"]),
                          row["home_market_id"], tuple(subs.get(row["id"], ())))
               for row in people]
        last = ids[-1]


def count_subscribers(conn: sqlite3.Connection, commodities: Sequence[str] | None = None) -> int:
    """How many contacts follow anything (or any of these commodity phrases)."""
    if commodities is None:
        return int(conn.execute(
            "SELECT COUNT(DISTINCT contact_id) FROM subscriptions").fetchone()[0])
    marks = ",".join("?" * len(commodities))
    return int(conn.execute(
        f"SELECT COUNT(DISTINCT contact_id) FROM subscriptions WHERE commodity IN ({marks})",
        tuple(commodities)).fetchone()[0])
