"""Groups and orders as the console shows them: groups with their counts, a group's members
page by page, open orders with their progress overall and by group, who pledged what, and
a group's recent broadcasts.

Read-only; every list is a page (`limit`), so a group of 50,000 members or an order with
thousands of pledges costs the same to show as a small one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A group in the list of groups."""

    id: int
    code: str
    name: str
    market: str | None
    region: str | None
    products: str          # comma-separated folded phrases
    members: int           # active, not leaders
    leaders: int           # active
    pending: int           # join requests waiting for a leader
    open_orders: int
    share_leader_numbers: bool


@dataclass(frozen=True, slots=True)
class Counts:
    members: int
    leaders: int
    pending: int


@dataclass(frozen=True, slots=True)
class Person:
    """A member, leader or pending member of a group."""

    contact_id: int
    phone: str
    role: str
    status: str
    opted_out: bool
    language: str | None
    joined_at: str
    forgotten: bool


@dataclass(frozen=True, slots=True)
class OrderLine:
    """An order with its progress (and, when read for one group, that group's part)."""

    id: int
    code: str
    product: str
    quantity: float
    unit: str
    grade: str | None
    price: float | None
    currency: str | None
    deliver_by: str
    place: str | None
    status: str
    pledged: float
    buyer: str             # the buyer's name ('' when none was given)
    created_at: str
    closed_at: str | None
    groups: int            # groups it was relayed to
    group_pledged: float | None = None


@dataclass(frozen=True, slots=True)
class RelayLine:
    """An order's progress in one group it was relayed to."""

    group_id: int
    code: str
    name: str
    pledged: float
    relayed_at: str
    forwarded_at: str | None
    pledgers: int


@dataclass(frozen=True, slots=True)
class PledgeLine:
    contact_id: int
    phone: str
    quantity: float
    updated_at: str
    forgotten: bool


def count_groups(conn: sqlite3.Connection) -> int:
    """How many groups there are."""
    return int(conn.execute("SELECT COUNT(*) FROM groups").fetchone()[0])


def group_lines(conn: sqlite3.Connection, *, offset: int = 0, limit: int = 50) -> list[GroupLine]:
    """Groups by code, with their counts (only the groups of this page are counted)."""
    rows = conn.execute(
        "SELECT g.id, g.code, g.name, mk.name, g.region, g.share_leader_numbers,"
        " (SELECT group_concat(product, ', ') FROM group_products p WHERE p.group_id = g.id),"
        " (SELECT COUNT(*) FROM orders o CROSS JOIN order_relays r ON r.order_id = o.id"
        "  AND r.group_id = g.id WHERE o.status = 'open')"
        " FROM groups g LEFT JOIN markets mk ON mk.id = g.market_id"
        " ORDER BY g.code LIMIT ? OFFSET ?", (limit, offset)).fetchall()
    counts = counts_of(conn, [row[0] for row in rows])
    return [GroupLine(r[0], r[1], r[2], r[3], r[4], r[6] or "", counts[r[0]].members,
                      counts[r[0]].leaders, counts[r[0]].pending, r[7], bool(r[5]))
            for r in rows]


def counts_of(conn: sqlite3.Connection, group_ids: list[int]) -> dict[int, Counts]:
    """Active members, active leaders and pending requests of each group."""
    found = {group_id: Counts(0, 0, 0) for group_id in group_ids}
    if not group_ids:
        return found
    marks = ",".join("?" * len(group_ids))
    tally: dict[int, dict[tuple[str, str], int]] = {group_id: {} for group_id in group_ids}
    for group_id, status, role, n in conn.execute(
            f"SELECT group_id, status, role, COUNT(*) FROM memberships"
            f" WHERE group_id IN ({marks}) GROUP BY group_id, status, role", tuple(group_ids)):
        tally[group_id][(status, role)] = n
    for group_id, seen in tally.items():
        found[group_id] = Counts(seen.get(("active", "member"), 0),
                                 seen.get(("active", "leader"), 0),
                                 sum(n for (status, _), n in seen.items() if status == "pending"))
    return found


def market_of(conn: sqlite3.Connection, market_id: int | None) -> tuple[str, str] | None:
    """(name, country) of a market, or None."""
    if market_id is None:
        return None
    row = conn.execute("SELECT name, country FROM markets WHERE id = ?", (market_id,)).fetchone()
    return (row[0], row[1]) if row else None


def people(conn: sqlite3.Connection, group_id: int, *, role: str | None = None,
           status: str = "active", after: int = 0, limit: int = 50) -> list[Person]:
    """A page of a group's members of one role by contact id after `after`, or (role None)
    of every role, leaders first (`after` then counts within each role)."""
    extra, args = (" AND role = ?", (role,)) if role else ("", ())
    # The page's ids first, from the index of (group, status, role) alone; then their rows.
    rows = conn.execute(
        f"SELECT c.id, c.phone, m.role, m.status, c.opted_out, c.language, m.joined_at,"
        f" c.forgotten_at IS NOT NULL FROM (SELECT role, contact_id FROM memberships"
        f" WHERE group_id = ? AND status = ?{extra} AND contact_id > ?"
        f" ORDER BY role, contact_id LIMIT ?) page"
        f" JOIN memberships m ON m.group_id = ? AND m.contact_id = page.contact_id"
        f" JOIN contacts c ON c.id = page.contact_id ORDER BY page.role, page.contact_id",
        (group_id, status, *args, after, limit, group_id))
    return [Person(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], bool(r[7])) for r in rows]


def reach(conn: sqlite3.Connection, group_id: int, *, excluding: int | None = None
          ) -> tuple[int, int]:
    """(active members, those of them who have not opted out) of a group, but one contact:
    db.groups.count_members' two counts in one pass."""
    row = conn.execute(
        "SELECT COUNT(*), IFNULL(SUM(c.opted_out = 0), 0) FROM memberships m"
        " JOIN contacts c ON c.id = m.contact_id WHERE m.group_id = ? AND m.status = 'active'"
        " AND c.id != ?", (group_id, excluding or 0)).fetchone()
    return int(row[0]), int(row[1])


_ORDER = ("SELECT o.id, o.code, o.product, o.quantity, o.unit, o.grade, o.price, o.currency,"
          " o.deliver_by, o.place, o.status, o.pledged, IFNULL(b.name, ''), o.created_at,"
          " o.closed_at, (SELECT COUNT(*) FROM order_relays x WHERE x.order_id = o.id)")
_BUYER = " LEFT JOIN roles b ON b.contact_id = o.buyer_id AND b.role = 'buyer'"


def _order_line(row: sqlite3.Row | tuple[Any, ...]) -> OrderLine:
    return OrderLine(*row)


def open_orders_of(conn: sqlite3.Connection, group_id: int, *, limit: int = 20) -> list[OrderLine]:
    """Open orders relayed to a group, newest first, with the group's part."""
    rows = conn.execute(
        f"{_ORDER}, r.pledged FROM orders o JOIN order_relays r ON r.order_id = o.id"
        f" AND r.group_id = ?{_BUYER} WHERE o.status = 'open' ORDER BY o.id DESC LIMIT ?",
        (group_id, limit))
    return [_order_line(row) for row in rows]


def order_in_group(conn: sqlite3.Connection, code: str, group_id: int) -> OrderLine | None:
    """An order (any status) with the part of a group it was relayed to; None if it was not."""
    row = conn.execute(
        f"{_ORDER}, r.pledged FROM orders o JOIN order_relays r ON r.order_id = o.id"
        f" AND r.group_id = ?{_BUYER} WHERE o.code = ?", (group_id, code)).fetchone()
    return _order_line(row) if row else None


def count_orders(conn: sqlite3.Connection, status: str) -> int:
    """How many orders have this status."""
    return int(conn.execute("SELECT COUNT(*) FROM orders WHERE status = ?",
                            (status,)).fetchone()[0])


def orders(conn: sqlite3.Connection, *, status: str = "open", offset: int = 0,
           limit: int = 25) -> list[OrderLine]:
    """Orders of a status, newest first."""
    rows = conn.execute(f"{_ORDER} FROM orders o{_BUYER} WHERE o.status = ?"
                        f" ORDER BY o.id DESC LIMIT ? OFFSET ?", (status, limit, offset))
    return [_order_line(row) for row in rows]


def order(conn: sqlite3.Connection, code: str) -> OrderLine | None:
    """One order by its code."""
    row = conn.execute(f"{_ORDER} FROM orders o{_BUYER} WHERE o.code = ?", (code,)).fetchone()
    return _order_line(row) if row else None


def relays_of(conn: sqlite3.Connection, order_id: int) -> list[RelayLine]:
    """The groups an order went to, the largest part first."""
    rows = conn.execute(
        "SELECT g.id, g.code, g.name, r.pledged, r.relayed_at, r.forwarded_at,"
        " (SELECT COUNT(*) FROM pledges p WHERE p.order_id = r.order_id"
        "  AND p.group_id = r.group_id AND p.quantity > 0)"
        " FROM order_relays r JOIN groups g ON g.id = r.group_id WHERE r.order_id = ?"
        " ORDER BY r.pledged DESC, g.code", (order_id,))
    return [RelayLine(*row) for row in rows]


def pledge_lines(conn: sqlite3.Connection, order_id: int, group_id: int, *, offset: int = 0,
                 limit: int = 50) -> list[PledgeLine]:
    """A page of who in a group pledged what to an order, the largest first."""
    rows = conn.execute(   # sorted first, so that only the page's contacts are read
        "SELECT p.contact_id, c.phone, p.quantity, p.updated_at, c.forgotten_at IS NOT NULL"
        " FROM (SELECT contact_id, quantity, updated_at FROM pledges WHERE order_id = ?"
        " AND group_id = ? AND quantity > 0 ORDER BY quantity DESC, contact_id LIMIT ? OFFSET ?)"
        " p JOIN contacts c ON c.id = p.contact_id ORDER BY p.quantity DESC, p.contact_id",
        (order_id, group_id, limit, offset))
    return [PledgeLine(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def count_pledges(conn: sqlite3.Connection, order_id: int, group_id: int) -> int:
    """How many in a group pledged to an order."""
    return int(conn.execute("SELECT COUNT(*) FROM pledges WHERE order_id = ? AND group_id = ?"
                            " AND quantity > 0", (order_id, group_id)).fetchone()[0])


def pledgers(conn: sqlite3.Connection, order_id: int) -> int:
    """How many people pledged to an order (each gets a summary when it closes)."""
    return int(conn.execute("SELECT COUNT(*) FROM pledges WHERE order_id = ? AND quantity > 0",
                            (order_id,)).fetchone()[0])


def broadcasts(conn: sqlite3.Connection, group_id: int, *, limit: int = 10) -> list[dict[str, Any]]:
    """A group's latest broadcasts from the audit trail: when, by whom (a console user's
    name, or the leader's contact id), to how many, and the text."""
    rows = conn.execute(
        "SELECT at, actor_id, console_user, detail FROM audit WHERE group_id = ?"
        " AND action = 'broadcast' ORDER BY at DESC LIMIT ?", (group_id, limit))
    return [{"at": r[0], "actor_id": r[1], "console_user": r[2], **json.loads(r[3])}
            for r in rows]


def broadcasts_since(conn: sqlite3.Connection, *, actor_id: int | None, console_user: str | None,
                     since: datetime) -> int:
    """Broadcasts sent since a moment by a contact (by SMS or through the console) or by a
    console user (limits.broadcasts_per_hour)."""
    return int(conn.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'broadcast' AND at >= ?"
        " AND (actor_id = ? OR console_user = ?)",
        (iso(since), actor_id, console_user)).fetchone()[0])


def confirmed_before(conn: sqlite3.Connection, group_id: int, confirmation: str) -> bool:
    """Whether a console broadcast with this confirmation id was already sent (so a second
    click on Send sends nothing)."""
    return conn.execute(
        "SELECT 1 FROM audit WHERE group_id = ? AND action = 'broadcast'"
        " AND json_extract(detail, '$.confirmation') = ?", (group_id, confirmation)
    ).fetchone() is not None
