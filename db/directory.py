"""Contacts as the console's contacts page finds and shows them: by name, by the last digits
of their number, or the newest first; and one contact whole (roles, groups, messages).

A contact has no name of its own: names live where a role gave one (a buyer's or an
admin's in `roles`, a supplier's in `suppliers`, a console user tied to the number, the
name a member gave with a pool answer). Every list is a page of at most `limit` rows, by
contact id, newest first; `before` is the last id of the previous page (keyset paging).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

MIN_DIGITS = 3   # fewer last digits match too many numbers to be a search
TAIL = 4         # the indexed tail: substr(phone, -4) (db/schema/0019)


@dataclass(frozen=True, slots=True)
class Listed:
    """A contact in a list."""

    id: int
    phone: str
    language: str | None
    opted_out: bool
    simulated: bool
    forgotten: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class Profile:
    """One contact, with what the contact page shows about them."""

    id: int
    phone: str
    language: str | None
    opted_out: bool
    opted_out_at: str | None
    opt_out_source: str | None
    simulated: bool
    forgotten_at: str | None
    forget_requested_at: str | None
    created_at: str
    home_market: str | None


@dataclass(frozen=True, slots=True)
class Membership:
    group_id: int
    code: str
    name: str
    role: str
    status: str
    share_leader_numbers: bool


@dataclass(frozen=True, slots=True)
class Message:
    """A message in a contact's history: one they sent (in) or one made for them (out)."""

    direction: str      # in | out
    id: int
    at: str
    text: str
    status: str         # inbound: its outcome; outbox: its status
    provider: str
    kind: str           # outbox kind ('' for inbound)
    segments: int


_COLUMNS = ("c.id, c.phone, c.language, c.opted_out, c.simulated, c.forgotten_at IS NOT NULL,"
            " c.created_at")


def _listed(rows: Sequence[sqlite3.Row]) -> list[Listed]:
    return [Listed(r[0], r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5]), r[6]) for r in rows]


def _before(before: int | None) -> int:
    return before if before is not None and before > 0 else 2 ** 62


def recent(conn: sqlite3.Connection, *, before: int | None = None,
           limit: int = 25) -> list[Listed]:
    """The newest contacts."""
    return _listed(conn.execute(f"SELECT {_COLUMNS} FROM contacts c WHERE c.id < ?"
                                f" ORDER BY c.id DESC LIMIT ?", (_before(before), limit)))


def by_last_digits(conn: sqlite3.Connection, digits: str, *, before: int | None = None,
                   limit: int = 25) -> list[Listed]:
    """Contacts whose number ends with these digits (at least MIN_DIGITS), through the
    index of the numbers' last four characters."""
    if not digits.isdigit() or not digits.isascii() or len(digits) < MIN_DIGITS:
        raise ValueError(f"give at least {MIN_DIGITS} digits")
    if len(digits) >= TAIL:
        tails = [digits[-TAIL:]]
    else:
        tails = [f"{head}{digits}" for head in range(10 ** (TAIL - len(digits)))]
    marks = ",".join("?" * len(tails))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM contacts c WHERE substr(c.phone, -{TAIL}) IN ({marks})"
        f" AND substr(c.phone, -?) = ? AND c.forgotten_at IS NULL AND c.id < ?"
        f" ORDER BY c.id DESC LIMIT ?", (*tails, len(digits), digits, _before(before), limit))
    return _listed(rows.fetchall())


def by_phone(conn: sqlite3.Connection, phone: str) -> list[Listed]:
    """The contact with this E.164 number (a list of one, or empty)."""
    return _listed(conn.execute(f"SELECT {_COLUMNS} FROM contacts c WHERE c.phone = ?",
                                (phone,)).fetchall())


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Where names live, each a (contact_id, name, what) query; `?` is a LIKE pattern.
_NAMED = (
    "SELECT contact_id, name, role FROM roles WHERE name != '' AND name LIKE ? ESCAPE '\\'",
    "SELECT contact_id, name, 'supplier' FROM suppliers WHERE name LIKE ? ESCAPE '\\'",
    "SELECT contact_id, username, 'console user' FROM console_users"
    " WHERE contact_id IS NOT NULL AND username LIKE ? ESCAPE '\\'",
    "SELECT DISTINCT contact_id, name, 'pool answer' FROM pool_pledges"
    " WHERE name != '' AND name LIKE ? ESCAPE '\\'",
)


def by_name(conn: sqlite3.Connection, text: str, *, before: int | None = None,
            limit: int = 25) -> list[Listed]:
    """Contacts with a name (of any role) containing the text, in any case."""
    pattern = _like(text)
    union = " UNION ALL ".join(f"SELECT contact_id FROM ({query})" for query in _NAMED)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM contacts c WHERE c.id IN ({union}) AND c.id < ?"
        f" ORDER BY c.id DESC LIMIT ?", (*[pattern] * len(_NAMED), _before(before), limit))
    return _listed(rows.fetchall())


def names_of(conn: sqlite3.Connection, ids: Sequence[int], *,
             pools: bool = False) -> dict[int, list[tuple[str, str]]]:
    """(name, what) each of these contacts is known by: buyer, admin, supplier, console
    user; with `pools`, also names given with pool answers (a scan of pool_pledges)."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not ids:
        return found
    queries = _NAMED if pools else _NAMED[:3]
    marks = ",".join("?" * len(ids))
    union = " UNION ALL ".join(f"SELECT * FROM ({query}) WHERE contact_id IN ({marks})"
                               for query in queries)
    for contact_id, name, what in conn.execute(union, [arg for _ in queries
                                                         for arg in ("%", *ids)]):
        if (name, what) not in found.setdefault(contact_id, []):
            found[contact_id].append((name, what))
    return found


def sharing(conn: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    """Which of these contacts agreed to share their number: leaders of a group that shares
    its leaders' numbers (docs/security.md, "Whose number is shown to whom")."""
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {row[0] for row in conn.execute(
        f"SELECT DISTINCT m.contact_id FROM memberships m JOIN groups g ON g.id = m.group_id"
        f" WHERE m.contact_id IN ({marks}) AND m.role = 'leader' AND m.status = 'active'"
        f" AND g.share_leader_numbers = 1", tuple(ids))}


def profile(conn: sqlite3.Connection, contact_id: int) -> Profile | None:
    """One contact, or None."""
    row = conn.execute(
        "SELECT c.id, c.phone, c.language, c.opted_out, c.opted_out_at, c.opt_out_source,"
        " c.simulated, c.forgotten_at, c.forget_requested_at, c.created_at, m.name"
        " FROM contacts c LEFT JOIN markets m ON m.id = c.home_market_id WHERE c.id = ?",
        (contact_id,)).fetchone()
    if row is None:
        return None
    return Profile(row[0], row[1], row[2], bool(row[3]), row[4], row[5], bool(row[6]), row[7],
                   row[8], row[9], row[10])


def roles_of(conn: sqlite3.Connection, contact_id: int) -> list[str]:
    """What a contact is besides a farmer, in words: buyer, admin, market agent (with its
    markets), supplier, console user."""
    found = [f"{role} ({name})" if name else role for role, name in conn.execute(
        "SELECT role, name FROM roles WHERE contact_id = ? ORDER BY role", (contact_id,))]
    markets = [row[0] for row in conn.execute(
        "SELECT m.name FROM agents a LEFT JOIN agent_markets am ON am.contact_id = a.contact_id"
        " LEFT JOIN markets m ON m.id = am.market_id WHERE a.contact_id = ? ORDER BY m.name",
        (contact_id,))]
    if markets:
        named = ", ".join(name for name in markets if name)
        found.append(f"market agent ({named})" if named else "market agent")
    found += [f"supplier ({row[0]})" for row in conn.execute(
        "SELECT name FROM suppliers WHERE contact_id = ?", (contact_id,))]
    found += [f"console user {name} ({role})" for name, role in conn.execute(
        "SELECT username, role FROM console_users WHERE contact_id = ? ORDER BY username",
        (contact_id,))]
    return found


def memberships_of(conn: sqlite3.Connection, contact_id: int) -> list[Membership]:
    """The groups a contact is in or asked to join."""
    return [Membership(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in conn.execute(
        "SELECT g.id, g.code, g.name, m.role, m.status, g.share_leader_numbers FROM memberships m"
        " JOIN groups g ON g.id = m.group_id WHERE m.contact_id = ? ORDER BY g.code",
        (contact_id,))]


def history(conn: sqlite3.Connection, contact_id: int, *, offset: int = 0,
            limit: int = 50) -> list[Message]:
    """A contact's messages, both ways, newest first: what they sent and what was made for
    them (replies, broadcasts, bulletins), merged from two index reads; at the same moment
    a reply comes before (above) the message it answers."""
    rows = conn.execute(
        "SELECT 'in' AS way, id, received_at AS at, text, outcome, provider, '', 1 FROM inbound"
        " WHERE contact_id = ?"
        " UNION ALL SELECT 'out', id, created_at AS at, text, status, provider, kind, segments"
        " FROM outbox WHERE contact_id = ?"
        " ORDER BY at DESC, way DESC, id DESC LIMIT ? OFFSET ?",
        (contact_id, contact_id, limit, offset))
    return [Message(*row) for row in rows]


def groups_named(conn: sqlite3.Connection, text: str, *, limit: int = 10) -> list[tuple[str, str]]:
    """(code, name) of groups whose name or code contains the text."""
    if not text:
        return []
    pattern = _like(text)
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT code, name FROM groups WHERE name LIKE ? ESCAPE '\\' OR code LIKE ? ESCAPE '\\'"
        " ORDER BY code LIMIT ?", (pattern, pattern, limit))]
