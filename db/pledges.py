"""Members' pledges of a quantity to something their group takes part in: a buyer's order,
a group's own produce listing (and a pool's purchase). One mechanism for all of them.

A pledge is a value, not an increment: one row per (thing, member), which a new pledge
replaces and 0 withdraws, so the same SMS twice never counts twice. The running totals
(the thing's own and, where there is one, its group's) move by the difference in the
caller's transaction, so they always equal the sum of the pledges without summing them.

Each kind of thing keeps its pledges in its own table, described by a `Book`; the table
and column names are constants of the code, never anything a user typed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class Book:
    """Where one kind of pledge is kept."""

    table: str                     # (<key>, contact_id, group_id, quantity, created_at, updated_at)
    key: str                       # the column naming what is pledged to
    parent: str                    # the table whose `pledged` is the total (its id = key)
    per_group: str | None = None   # a table of (<key>, group_id, pledged), if totals per group


ORDERS = Book("pledges", "order_id", "orders", "order_relays")
LISTINGS = Book("listing_pledges", "listing_id", "listings")


@dataclass(frozen=True, slots=True)
class Pledge:
    contact_id: int
    phone: str
    group_id: int
    quantity: float


def pledge(conn: sqlite3.Connection, book: Book, target_id: int, contact_id: int,
           group_id: int, quantity: float, now: datetime) -> float | None:
    """Set a member's pledge (0 withdraws); return the previous quantity, None if new."""
    before = conn.execute(f"SELECT quantity, group_id FROM {book.table} WHERE {book.key} = ?"
                          f" AND contact_id = ?", (target_id, contact_id)).fetchone()
    if before is not None:
        group_id = before[1]     # a pledge stays with the group it was first made through
    conn.execute(
        f"INSERT INTO {book.table} ({book.key}, contact_id, group_id, quantity, created_at,"
        f" updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT ({book.key}, contact_id) DO"
        f" UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
        (target_id, contact_id, group_id, quantity, iso(now), iso(now)))
    delta = quantity - (before[0] if before else 0.0)
    if delta:
        conn.execute(f"UPDATE {book.parent} SET pledged = pledged + ? WHERE id = ?",
                     (delta, target_id))
        if book.per_group:
            conn.execute(f"UPDATE {book.per_group} SET pledged = pledged + ? WHERE"
                         f" {book.key} = ? AND group_id = ?", (delta, target_id, group_id))
    return None if before is None else float(before[0])


def total(conn: sqlite3.Connection, book: Book, target_id: int) -> float:
    """Everything pledged to one thing."""
    row = conn.execute(f"SELECT pledged FROM {book.parent} WHERE id = ?",
                       (target_id,)).fetchone()
    return float(row[0]) if row else 0.0


def pledge_of(conn: sqlite3.Connection, book: Book, target_id: int, contact_id: int) -> float:
    """A member's current pledge (0 when none)."""
    row = conn.execute(f"SELECT quantity FROM {book.table} WHERE {book.key} = ? AND"
                       f" contact_id = ?", (target_id, contact_id)).fetchone()
    return float(row[0]) if row else 0.0


def listed(conn: sqlite3.Connection, book: Book, target_id: int,
           group_id: int | None = None) -> list[Pledge]:
    """Current non-zero pledges, largest first (of one group, or all)."""
    extra, args = (" AND p.group_id = ?", (group_id,)) if group_id is not None else ("", ())
    rows = conn.execute(
        f"SELECT p.contact_id, c.phone, p.group_id, p.quantity FROM {book.table} p JOIN"
        f" contacts c ON c.id = p.contact_id WHERE p.{book.key} = ? AND p.quantity > 0{extra}"
        f" ORDER BY p.quantity DESC, c.phone", (target_id, *args))
    return [Pledge(*row) for row in rows]


def recount(conn: sqlite3.Connection, book: Book,
            target_id: int) -> tuple[float, dict[int, float]]:
    """The totals summed from the pledges themselves (to check the kept ones)."""
    total_sum = conn.execute(f"SELECT COALESCE(SUM(quantity), 0) FROM {book.table} WHERE"
                             f" {book.key} = ?", (target_id,)).fetchone()[0]
    per_group = {row[0]: float(row[1]) for row in conn.execute(
        f"SELECT group_id, SUM(quantity) FROM {book.table} WHERE {book.key} = ?"
        f" GROUP BY group_id", (target_id,))}
    return float(total_sum), per_group
