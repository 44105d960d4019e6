"""Buyer orders, the groups they were relayed to, and members' pledges with their totals."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from db import codes
from db import pledges as pledges_db
from db.pledges import Pledge
from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    code: str
    buyer_id: int
    product: str
    quantity: float
    unit: str
    grade: str | None
    price: float | None
    currency: str | None
    deliver_by: date
    place: str | None
    market_id: int | None
    status: str
    filled_at: str | None
    notified_total: float


@dataclass(frozen=True, slots=True)
class Relay:
    order_id: int
    group_id: int
    forwarded_at: str | None
    notified_total: float


def _order(row: sqlite3.Row) -> Order:
    return Order(row["id"], row["code"], row["buyer_id"], row["product"], row["quantity"],
                 row["unit"], row["grade"], row["price"], row["currency"],
                 date.fromisoformat(row["deliver_by"]), row["place"], row["market_id"],
                 row["status"], row["filled_at"], row["notified_total"])


def new_code(conn: sqlite3.Connection) -> str:
    """A fresh short order id, from the id space listings and pools share (db.codes)."""
    return codes.new_code(conn, "order")


def create(conn: sqlite3.Connection, *, buyer_id: int, product: str, quantity: float, unit: str,
           grade: str | None, price: float | None, currency: str | None, deliver_by: date,
           place: str | None, market_id: int | None, now: datetime) -> Order:
    """Store a new open order with a fresh code."""
    cursor = conn.execute(
        "INSERT INTO orders (code, buyer_id, product, quantity, unit, grade, price, currency,"
        " deliver_by, place, market_id, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (new_code(conn), buyer_id, product, quantity, unit, grade, price, currency,
         deliver_by.isoformat(), place, market_id, iso(now)))
    found = by_id(conn, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def by_code(conn: sqlite3.Connection, code: str) -> Order | None:
    """An order by its short id."""
    row = conn.execute("SELECT * FROM orders WHERE code = ?", (code,)).fetchone()
    return _order(row) if row else None


def by_id(conn: sqlite3.Connection, order_id: int) -> Order | None:
    """An order by its row id."""
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    return _order(row) if row else None


def listed(conn: sqlite3.Connection, *, status: str | None = None, limit: int = 50) -> list[Order]:
    """Orders, newest first."""
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = conn.execute(f"SELECT * FROM orders {where} ORDER BY id DESC LIMIT ?", (*args, limit))
    return [_order(row) for row in rows]


def open_for_groups(conn: sqlite3.Connection, group_ids: Sequence[int], *,
                    simulated: bool) -> list[Order]:
    """Open orders relayed to any of these groups, newest first: only simulated buyers'
    orders, or only real ones' (simulated and real never mix: handlers.sides)."""
    if not group_ids:
        return []
    marks = ",".join("?" * len(group_ids))
    rows = conn.execute(
        f"SELECT o.* FROM orders o JOIN contacts c ON c.id = o.buyer_id AND c.simulated = ?"
        f" WHERE o.status = 'open' AND o.id IN (SELECT order_id FROM order_relays WHERE"
        f" group_id IN ({marks})) ORDER BY o.id DESC", (int(simulated), *group_ids))
    return [_order(row) for row in rows]


def due_to_expire(conn: sqlite3.Connection, today: date) -> list[Order]:
    """Open orders whose delivery date has passed."""
    rows = conn.execute("SELECT * FROM orders WHERE status = 'open' AND deliver_by < ?",
                        (today.isoformat(),))
    return [_order(row) for row in rows]


def finish(conn: sqlite3.Connection, order_id: int, status: str, now: datetime) -> bool:
    """Close or expire an open order; False if it was no longer open."""
    return conn.execute("UPDATE orders SET status = ?, closed_at = ? WHERE id = ? AND"
                        " status = 'open'", (status, iso(now), order_id)).rowcount > 0


def mark_filled(conn: sqlite3.Connection, order_id: int, now: datetime) -> bool:
    """Note the first time pledges reach the quantity; True only that first time."""
    return conn.execute("UPDATE orders SET filled_at = ? WHERE id = ? AND filled_at IS NULL",
                        (iso(now), order_id)).rowcount > 0


def mark_unfilled(conn: sqlite3.Connection, order_id: int) -> bool:
    """Pledges fell below the quantity again (a correction); True if it had been filled."""
    return conn.execute("UPDATE orders SET filled_at = NULL WHERE id = ? AND filled_at IS NOT"
                        " NULL", (order_id,)).rowcount > 0


def set_notified(conn: sqlite3.Connection, order_id: int, total: float,
                 group_totals: dict[int, float]) -> None:
    """Remember the totals the buyer and each group's leaders were last told."""
    conn.execute("UPDATE orders SET notified_total = ? WHERE id = ?", (total, order_id))
    conn.executemany("UPDATE order_relays SET notified_total = ? WHERE order_id = ? AND"
                     " group_id = ?", [(t, order_id, g) for g, t in group_totals.items()])


# ------------------------------------------------------------------------------ relays


def relay(conn: sqlite3.Connection, order_id: int, group_id: int, now: datetime) -> bool:
    """Record that an order went to a group; False if it already had."""
    return conn.execute("INSERT INTO order_relays (order_id, group_id, relayed_at) VALUES"
                        " (?, ?, ?) ON CONFLICT DO NOTHING",
                        (order_id, group_id, iso(now))).rowcount > 0


def relays(conn: sqlite3.Connection, order_id: int) -> list[Relay]:
    """The groups an order went to."""
    rows = conn.execute("SELECT order_id, group_id, forwarded_at, notified_total FROM"
                        " order_relays WHERE order_id = ? ORDER BY group_id", (order_id,))
    return [Relay(*row) for row in rows]


def relayed_to(conn: sqlite3.Connection, order_id: int, group_id: int) -> Relay | None:
    """The relay of an order to one group, if there was one."""
    row = conn.execute("SELECT order_id, group_id, forwarded_at, notified_total FROM"
                       " order_relays WHERE order_id = ? AND group_id = ?",
                       (order_id, group_id)).fetchone()
    return Relay(*row) if row else None


def mark_forwarded(conn: sqlite3.Connection, order_id: int, group_id: int, by: int | None,
                   now: datetime) -> bool:
    """The group's members were sent the order; False if they already had been."""
    return conn.execute("UPDATE order_relays SET forwarded_at = ?, forwarded_by = ? WHERE"
                        " order_id = ? AND group_id = ? AND forwarded_at IS NULL",
                        (iso(now), by, order_id, group_id)).rowcount > 0


# ------------------------------------------------------------------------------ pledges


def pledge(conn: sqlite3.Connection, order_id: int, contact_id: int, group_id: int,
           quantity: float, now: datetime) -> float | None:
    """Set a member's offer (0 withdraws); return the previous quantity, None if new.

    The order's and the group's totals move by the difference, in the caller's
    transaction, so they always equal the sum of the pledges without summing them
    (db.pledges, the mechanism group listings and pools share).
    """
    return pledges_db.pledge(conn, pledges_db.ORDERS, order_id, contact_id, group_id,
                             quantity, now)


def total(conn: sqlite3.Connection, order_id: int) -> float:
    """Everything pledged to an order."""
    return pledges_db.total(conn, pledges_db.ORDERS, order_id)


def group_totals(conn: sqlite3.Connection, order_id: int) -> dict[int, float]:
    """Pledged per group (every relayed group, 0 when none)."""
    return {row[0]: float(row[1]) for row in conn.execute(
        "SELECT group_id, pledged FROM order_relays WHERE order_id = ? ORDER BY group_id",
        (order_id,))}


def group_total(conn: sqlite3.Connection, order_id: int, group_id: int) -> float:
    """Pledged through one group."""
    row = conn.execute("SELECT pledged FROM order_relays WHERE order_id = ? AND group_id = ?",
                       (order_id, group_id)).fetchone()
    return float(row[0]) if row else 0.0


def offer_of(conn: sqlite3.Connection, order_id: int, contact_id: int) -> float:
    """A member's current offer to an order (0 when none)."""
    return pledges_db.pledge_of(conn, pledges_db.ORDERS, order_id, contact_id)


def pledges(conn: sqlite3.Connection, order_id: int, group_id: int | None = None) -> list[Pledge]:
    """Current non-zero pledges, largest first (of one group, or all)."""
    return pledges_db.listed(conn, pledges_db.ORDERS, order_id, group_id)


def changed_since_notice(conn: sqlite3.Connection) -> list[Order]:
    """Open orders whose totals moved since the buyer or a group's leaders were last told."""
    rows = conn.execute(
        "SELECT * FROM orders o WHERE o.status = 'open' AND (o.notified_total != o.pledged"
        " OR EXISTS (SELECT 1 FROM order_relays r WHERE r.order_id = o.id AND"
        " r.notified_total != r.pledged)) ORDER BY o.id")
    return [_order(row) for row in rows]


def recount(conn: sqlite3.Connection, order_id: int) -> tuple[float, dict[int, float]]:
    """The totals summed from the pledges themselves (to check the kept ones)."""
    return pledges_db.recount(conn, pledges_db.ORDERS, order_id)
