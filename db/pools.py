"""Group purchases (pools) and members' answers with their total.

An answer is a value, not an increment: one row per member and pool, and the pool's total
moves by the difference in the caller's transaction (as db.orders does for pledges), so the
same SMS twice never counts twice and the total is never summed on the hot path.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from db import codes
from db.suppliers import Tiers, tiers_json, tiers_of
from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class Pool:
    id: int
    code: str
    group_id: int
    leader_id: int
    supply_id: int | None
    supplier_id: int | None
    product: str
    unit: str
    currency: str
    tiers: Tiers
    close_on: date
    status: str                      # open | closed
    pledged: float
    notified_total: float
    price: float | None              # at the close: the unit price for the total


@dataclass(frozen=True, slots=True)
class Answer:
    contact_id: int
    phone: str
    quantity: float
    name: str


def _pool(row: sqlite3.Row) -> Pool:
    return Pool(row["id"], row["code"], row["group_id"], row["leader_id"], row["supply_id"],
                row["supplier_id"], row["product"], row["unit"], row["currency"],
                tiers_of(row["tiers"]), date.fromisoformat(row["close_on"]), row["status"],
                float(row["pledged"]), float(row["notified_total"]), row["price"])


def create(conn: sqlite3.Connection, *, group_id: int, leader_id: int, supply_id: int | None,
           supplier_id: int | None, product: str, unit: str, currency: str, tiers: Tiers,
           close_on: date, now: datetime) -> Pool:
    """Store a new open pool with a fresh id from the shared space."""
    cursor = conn.execute(
        "INSERT INTO pools (code, group_id, leader_id, supply_id, supplier_id, product, unit,"
        " currency, tiers, close_on, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (codes.new_code(conn, "pool", now), group_id, leader_id, supply_id, supplier_id,
         product, unit, currency, tiers_json(tiers), close_on.isoformat(), iso(now)))
    made = by_id(conn, int(cursor.lastrowid or 0))
    assert made is not None  # inserted just now
    return made


def by_code(conn: sqlite3.Connection, code: str) -> Pool | None:
    """A pool by its short id."""
    row = conn.execute("SELECT * FROM pools WHERE code = ?", (code,)).fetchone()
    return _pool(row) if row else None


def by_id(conn: sqlite3.Connection, pool_id: int) -> Pool | None:
    """A pool by its row id."""
    row = conn.execute("SELECT * FROM pools WHERE id = ?", (pool_id,)).fetchone()
    return _pool(row) if row else None


def listed(conn: sqlite3.Connection, *, status: str | None = None, limit: int = 50) -> list[Pool]:
    """Pools, newest first."""
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = conn.execute(f"SELECT * FROM pools {where} ORDER BY id DESC LIMIT ?", (*args, limit))
    return [_pool(row) for row in rows]


def pledge(conn: sqlite3.Connection, pool_id: int, contact_id: int, quantity: float,
           name: str | None, now: datetime) -> float | None:
    """Set a member's answer (0 withdraws; a name of None keeps the one given before);
    return the previous quantity, None if new."""
    before = conn.execute("SELECT quantity FROM pool_pledges WHERE pool_id = ? AND"
                          " contact_id = ?", (pool_id, contact_id)).fetchone()
    conn.execute(
        "INSERT INTO pool_pledges (pool_id, contact_id, quantity, name, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pool_id, contact_id) DO UPDATE SET"
        " quantity = excluded.quantity, updated_at = excluded.updated_at,"
        " name = CASE WHEN ? THEN excluded.name ELSE name END",
        (pool_id, contact_id, quantity, name or "", iso(now), iso(now), name is not None))
    delta = quantity - (before[0] if before else 0.0)
    if delta:
        conn.execute("UPDATE pools SET pledged = pledged + ? WHERE id = ?", (delta, pool_id))
    return None if before is None else float(before[0])


def total(conn: sqlite3.Connection, pool_id: int) -> float:
    """Everything members want in a pool."""
    row = conn.execute("SELECT pledged FROM pools WHERE id = ?", (pool_id,)).fetchone()
    return float(row[0]) if row else 0.0


def answer_of(conn: sqlite3.Connection, pool_id: int, contact_id: int) -> float:
    """A member's current answer (0 when none)."""
    row = conn.execute("SELECT quantity FROM pool_pledges WHERE pool_id = ? AND contact_id = ?",
                       (pool_id, contact_id)).fetchone()
    return float(row[0]) if row else 0.0


def answers(conn: sqlite3.Connection, pool_id: int) -> list[Answer]:
    """Current non-zero answers, largest first."""
    rows = conn.execute(
        "SELECT p.contact_id, c.phone, p.quantity, p.name FROM pool_pledges p JOIN contacts c"
        " ON c.id = p.contact_id WHERE p.pool_id = ? AND p.quantity > 0"
        " ORDER BY p.quantity DESC, c.phone", (pool_id,))
    return [Answer(*row) for row in rows]


def count_answers(conn: sqlite3.Connection, pool_id: int) -> int:
    """How many members want something in a pool."""
    return int(conn.execute("SELECT COUNT(*) FROM pool_pledges WHERE pool_id = ? AND"
                            " quantity > 0", (pool_id,)).fetchone()[0])


def recount(conn: sqlite3.Connection, pool_id: int) -> float:
    """The total summed from the answers themselves (to check the kept one)."""
    return float(conn.execute("SELECT COALESCE(SUM(quantity), 0) FROM pool_pledges WHERE"
                              " pool_id = ?", (pool_id,)).fetchone()[0])


def due_to_close(conn: sqlite3.Connection, today: date) -> list[Pool]:
    """Open pools whose last day has passed."""
    rows = conn.execute("SELECT * FROM pools WHERE status = 'open' AND close_on < ?"
                        " ORDER BY id", (today.isoformat(),))
    return [_pool(row) for row in rows]


def finish(conn: sqlite3.Connection, pool_id: int, price: float, now: datetime) -> bool:
    """Close an open pool at the unit price its total reached; False if not open."""
    return conn.execute("UPDATE pools SET status = 'closed', price = ?, closed_at = ?"
                        " WHERE id = ? AND status = 'open'", (price, iso(now), pool_id)
                        ).rowcount > 0


def changed_since_notice(conn: sqlite3.Connection) -> list[Pool]:
    """Open pools whose total moved since their leader was last told."""
    rows = conn.execute("SELECT * FROM pools WHERE status = 'open' AND notified_total != pledged"
                        " ORDER BY id")
    return [_pool(row) for row in rows]


def set_notified(conn: sqlite3.Connection, pool_id: int, total_told: float) -> None:
    """Remember the total the leader was last told."""
    conn.execute("UPDATE pools SET notified_total = ? WHERE id = ?", (total_told, pool_id))
