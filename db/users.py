"""The console's users (admins and group leaders), failed logins, and the session key.

Passwords arrive here already hashed (smsgw.console.passwords): this layer stores strings.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db.timeutil import iso

ROLES = ("admin", "leader")


class UserExists(Exception):
    """A user of that name already exists."""


class NoSuchUser(Exception):
    """No user of that name."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str
    role: str                  # admin | leader
    group_id: int | None
    group_code: str | None
    contact_id: int | None
    created_at: str
    password_changed_at: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


_SELECT = ("SELECT u.*, g.code AS group_code FROM console_users u"
           " LEFT JOIN groups g ON g.id = u.group_id")


def _user(row: sqlite3.Row) -> User:
    return User(row["id"], row["username"], row["password_hash"], row["role"], row["group_id"],
                row["group_code"], row["contact_id"], row["created_at"],
                row["password_changed_at"])


def add(conn: sqlite3.Connection, *, username: str, password_hash: str, role: str,
        group_id: int | None, contact_id: int | None, now: datetime) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    try:
        cursor = conn.execute(
            "INSERT INTO console_users (username, password_hash, role, group_id, contact_id,"
            " created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (username, password_hash, role, group_id, contact_id, iso(now), iso(now)))
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise UserExists(username) from None
        raise
    found = by_id(conn, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def by_id(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = conn.execute(f"{_SELECT} WHERE u.id = ?", (user_id,)).fetchone()
    return _user(row) if row else None


def by_username(conn: sqlite3.Connection, username: str) -> User | None:
    row = conn.execute(f"{_SELECT} WHERE u.username = ?", (username,)).fetchone()
    return _user(row) if row else None


def all_users(conn: sqlite3.Connection) -> list[User]:
    return [_user(row) for row in conn.execute(f"{_SELECT} ORDER BY u.username")]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM console_users").fetchone()[0])


def remove(conn: sqlite3.Connection, username: str) -> None:
    if conn.execute("DELETE FROM console_users WHERE username = ?", (username,)).rowcount == 0:
        raise NoSuchUser(username)


def set_password(conn: sqlite3.Connection, username: str, password_hash: str,
                 now: datetime) -> None:
    """Store a new hash; sessions signed before `now` stop working (smsgw.console.auth)."""
    if conn.execute("UPDATE console_users SET password_hash = ?, password_changed_at = ?"
                    " WHERE username = ?", (password_hash, iso(now), username)).rowcount == 0:
        raise NoSuchUser(username)


def rehash(conn: sqlite3.Connection, user_id: int, password_hash: str) -> None:
    """The same password under current hashing parameters (sessions stay valid)."""
    conn.execute("UPDATE console_users SET password_hash = ? WHERE id = ?",
                 (password_hash, user_id))


def record_failure(conn: sqlite3.Connection, username: str, address: str,
                   now: datetime) -> None:
    conn.execute("INSERT INTO login_failures (username, address, at) VALUES (?, ?, ?)",
                 (username[:200], address[:64], iso(now)))


def failures_since(conn: sqlite3.Connection, *, since: datetime, username: str | None = None,
                   address: str | None = None) -> tuple[int, str | None]:
    """How many failed logins since a moment for a name or an address, and the oldest's time."""
    column, value = ("username", username) if username is not None else ("address", address)
    row = conn.execute(f"SELECT COUNT(*), MIN(at) FROM login_failures WHERE {column} = ?"
                       f" AND at >= ?", (value, iso(since))).fetchone()
    return int(row[0]), row[1]


def clear_failures(conn: sqlite3.Connection, username: str, *, before: datetime) -> None:
    """After a good login: that name's failures no longer count (old rows go too)."""
    conn.execute("DELETE FROM login_failures WHERE username = ? OR at < ?",
                 (username, iso(before)))


def secret_key(conn: sqlite3.Connection) -> str:
    """The session-signing key kept in the database, made on first use (in the caller's
    transaction)."""
    row = conn.execute("SELECT key FROM console_secret WHERE id = 1").fetchone()
    if row:
        return str(row[0])
    key = secrets.token_hex(32)
    conn.execute("INSERT INTO console_secret (id, key) VALUES (1, ?)", (key,))
    return key
