"""Producer groups, memberships, buyer roles, and the audit trail."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.timeutil import iso, utcnow


class GroupExists(ValueError):
    """A group with that code is already there."""


class NoSuchGroup(LookupError):
    """No group has that code."""


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    code: str
    name: str
    market_id: int | None
    region: str | None
    approval: bool
    auto_forward: bool
    products: tuple[str, ...]
    share_leader_numbers: bool = False   # buyers get the leaders' numbers at an order's close


@dataclass(frozen=True, slots=True)
class Member:
    contact_id: int
    phone: str
    role: str            # member | leader
    status: str          # active | pending
    opted_out: bool
    language: str | None


def _group(conn: sqlite3.Connection, row: sqlite3.Row) -> Group:
    products = tuple(r[0] for r in conn.execute(
        "SELECT product FROM group_products WHERE group_id = ? ORDER BY product", (row["id"],)))
    return Group(row["id"], row["code"], row["name"], row["market_id"], row["region"],
                 bool(row["approval"]), bool(row["auto_forward"]), products,
                 bool(row["share_leader_numbers"]))


def audit(conn: sqlite3.Connection, action: str, *, actor_id: int | None = None,
          order_id: int | None = None, group_id: int | None = None, now: datetime | None = None,
          console_user: str | None = None, **detail: Any) -> None:
    """Record who did what (in the caller's transaction, so it is kept only if done): a
    contact (actor_id), a console user (console_user), or neither (the command line)."""
    conn.execute("INSERT INTO audit (at, actor_id, action, order_id, group_id, detail,"
                 " console_user) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (iso(now or utcnow()), actor_id, action, order_id, group_id,
                  json.dumps(detail, sort_keys=True, ensure_ascii=False), console_user))


def audit_rows(conn: sqlite3.Connection, *, order_id: int | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    """The audit trail, newest first (of one order, or of everything)."""
    where, args = ("WHERE order_id = ?", (order_id,)) if order_id is not None else ("", ())
    rows = conn.execute(f"SELECT a.*, c.phone FROM audit a LEFT JOIN contacts c"
                        f" ON c.id = a.actor_id {where} ORDER BY a.id DESC LIMIT ?",
                        (*args, limit))
    return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]


def count_actions(conn: sqlite3.Connection, action: str, *, actor_id: int,
                  since: datetime) -> int:
    """How many times a contact did something (audit action) since a moment (quotas)."""
    return int(conn.execute("SELECT COUNT(*) FROM audit WHERE actor_id = ? AND action = ?"
                            " AND at >= ?", (actor_id, action, iso(since))).fetchone()[0])


# ------------------------------------------------------------------------------ groups


def create(conn: sqlite3.Connection, *, code: str, name: str, market_id: int | None,
           region: str | None, products: Iterable[str], approval: bool = False,
           auto_forward: bool = False, share_leader_numbers: bool = False) -> Group:
    """Add a group; GroupExists if the code is taken."""
    try:
        cursor = conn.execute(
            "INSERT INTO groups (code, name, market_id, region, approval, auto_forward,"
            " share_leader_numbers, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (code, name, market_id, region, int(approval), int(auto_forward),
             int(share_leader_numbers), iso(utcnow())))
    except sqlite3.IntegrityError:
        raise GroupExists(code) from None
    set_products(conn, int(cursor.lastrowid or 0), products)
    audit(conn, "group_created", group_id=cursor.lastrowid, code=code)
    return by_id(conn, int(cursor.lastrowid or 0))


def update(conn: sqlite3.Connection, group_id: int, **fields: Any) -> None:
    """Change a group's name, market, region, approval, auto_forward or number sharing."""
    allowed = {"name", "market_id", "region", "approval", "auto_forward", "share_leader_numbers"}
    changes = {key: value for key, value in fields.items() if key in allowed}
    if changes:
        sets = ", ".join(f"{key} = ?" for key in changes)
        conn.execute(f"UPDATE groups SET {sets} WHERE id = ?", (*changes.values(), group_id))


def set_products(conn: sqlite3.Connection, group_id: int, products: Iterable[str]) -> None:
    """Replace what a group offers."""
    conn.execute("DELETE FROM group_products WHERE group_id = ?", (group_id,))
    conn.executemany("INSERT OR IGNORE INTO group_products (group_id, product) VALUES (?, ?)",
                     [(group_id, product) for product in products if product])


def by_code(conn: sqlite3.Connection, code: str) -> Group | None:
    """The group with this code (codes are stored folded)."""
    row = conn.execute("SELECT * FROM groups WHERE code = ?", (code,)).fetchone()
    return _group(conn, row) if row else None


def by_id(conn: sqlite3.Connection, group_id: int) -> Group:
    """The group with this id."""
    row = conn.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
    if row is None:
        raise NoSuchGroup(str(group_id))
    return _group(conn, row)


def all_groups(conn: sqlite3.Connection) -> list[Group]:
    """Every group, by code."""
    return [_group(conn, row) for row in conn.execute("SELECT * FROM groups ORDER BY code")]


def offering(conn: sqlite3.Connection, products: Sequence[str]) -> list[Group]:
    """Groups that offer any of these product phrases."""
    if not products:
        return []
    marks = ",".join("?" * len(products))
    rows = conn.execute(f"SELECT * FROM groups WHERE id IN (SELECT group_id FROM group_products"
                        f" WHERE product IN ({marks})) ORDER BY id", tuple(products))
    return [_group(conn, row) for row in rows]


def products(conn: sqlite3.Connection) -> list[str]:
    """Every product some group offers."""
    return [row[0] for row in conn.execute(
        "SELECT DISTINCT product FROM group_products ORDER BY product")]


# ------------------------------------------------------------------------------ members


def set_member(conn: sqlite3.Connection, group_id: int, contact_id: int, *, role: str = "member",
               status: str = "active", actor_id: int | None = None) -> None:
    """Add a member or leader, or change their role or status."""
    conn.execute(
        "INSERT INTO memberships (group_id, contact_id, role, status, joined_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, contact_id)"
        " DO UPDATE SET role = excluded.role, status = excluded.status",
        (group_id, contact_id, role, status, iso(utcnow())))
    audit(conn, "membership", actor_id=actor_id, group_id=group_id, contact_id=contact_id,
          role=role, status=status)


def remove_member(conn: sqlite3.Connection, group_id: int, contact_id: int, *,
                  actor_id: int | None = None) -> bool:
    """Take a contact out of a group; False if they were not in it."""
    gone = conn.execute("DELETE FROM memberships WHERE group_id = ? AND contact_id = ?",
                        (group_id, contact_id)).rowcount > 0
    if gone:
        audit(conn, "left", actor_id=actor_id, group_id=group_id, contact_id=contact_id)
    return gone


def membership(conn: sqlite3.Connection, group_id: int, contact_id: int) -> tuple[str, str] | None:
    """(role, status) of a contact in a group, or None."""
    row = conn.execute("SELECT role, status FROM memberships WHERE group_id = ? AND"
                       " contact_id = ?", (group_id, contact_id)).fetchone()
    return (row[0], row[1]) if row else None


def groups_of(conn: sqlite3.Connection, contact_id: int, *, role: str | None = None) -> list[Group]:
    """The groups a contact is an active member (or, with role, leader) of."""
    extra, args = (" AND m.role = ?", (role,)) if role else ("", ())
    rows = conn.execute(
        f"SELECT g.* FROM groups g JOIN memberships m ON m.group_id = g.id WHERE"
        f" m.contact_id = ? AND m.status = 'active'{extra} ORDER BY g.id", (contact_id, *args))
    return [_group(conn, row) for row in rows]


def members(conn: sqlite3.Connection, group_id: int, *, role: str | None = None,
            status: str = "active") -> list[Member]:
    """A group's members (or leaders), by contact id."""
    return [m for batch in member_batches(conn, group_id, role=role, status=status)
            for m in batch]


def member_batches(conn: sqlite3.Connection, group_id: int, *, role: str | None = None,
                   status: str = "active", batch_size: int = 1000) -> Iterator[list[Member]]:
    """A group's members in batches by contact id (a group may have tens of thousands)."""
    extra, args = (" AND m.role = ?", (role,)) if role else ("", ())
    last = 0
    while True:
        rows = conn.execute(
            f"SELECT c.id, c.phone, m.role, m.status, c.opted_out, c.language FROM memberships m"
            f" JOIN contacts c ON c.id = m.contact_id WHERE m.group_id = ? AND m.status = ?"
            f"{extra} AND c.id > ? ORDER BY c.id LIMIT ?",
            (group_id, status, *args, last, batch_size)).fetchall()
        if not rows:
            return
        yield [Member(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]
        last = rows[-1][0]


def count_members(conn: sqlite3.Connection, group_id: int, *, reachable: bool = False,
                  excluding: int | None = None) -> int:
    """Active members of a group (reachable: who have not opted out), but one contact."""
    extra = " AND c.opted_out = 0" if reachable else ""
    return int(conn.execute(
        f"SELECT COUNT(*) FROM memberships m JOIN contacts c ON c.id = m.contact_id"
        f" WHERE m.group_id = ? AND m.status = 'active' AND c.id != ?{extra}",
        (group_id, excluding or 0)).fetchone()[0])


# ------------------------------------------------------------------------------ roles


def set_role(conn: sqlite3.Connection, contact_id: int, role: str, name: str = "") -> None:
    """Make a contact a buyer (with a business name) or an admin."""
    conn.execute("INSERT INTO roles (contact_id, role, name, created_at) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (contact_id, role) DO UPDATE SET name = excluded.name",
                 (contact_id, role, name, iso(utcnow())))
    audit(conn, "role", contact_id=contact_id, role=role, name=name)


def remove_role(conn: sqlite3.Connection, contact_id: int, role: str) -> bool:
    """Take a role away; False if the contact did not have it."""
    gone = conn.execute("DELETE FROM roles WHERE contact_id = ? AND role = ?",
                        (contact_id, role)).rowcount > 0
    if gone:
        audit(conn, "role_removed", contact_id=contact_id, role=role)
    return gone


def role_name(conn: sqlite3.Connection, contact_id: int, role: str) -> str | None:
    """The name a contact holds a role under, or None without the role."""
    row = conn.execute("SELECT name FROM roles WHERE contact_id = ? AND role = ?",
                       (contact_id, role)).fetchone()
    return None if row is None else str(row[0])


def with_role(conn: sqlite3.Connection, role: str) -> list[tuple[str, str]]:
    """(phone, name) of everyone with a role."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT c.phone, r.name FROM roles r JOIN contacts c ON c.id = r.contact_id"
        " WHERE r.role = ? ORDER BY c.phone", (role,))]
