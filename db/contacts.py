"""Contacts: one row per phone number, with language and opt-out state."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from db.timeutil import iso, utcnow


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    phone: str
    language: str | None
    opted_out: bool
    simulated: bool = False   # the simulator's contact: what it causes goes to `local` only


def from_row(row: sqlite3.Row) -> Contact:
    """A Contact from a row with (at least) the columns COLUMNS."""
    return Contact(row["id"], row["phone"], row["language"], bool(row["opted_out"]),
                   bool(row["simulated"]))


COLUMNS = "id, phone, language, opted_out, simulated"  # what Contact holds, in its order


class RealContact(Exception):
    """The simulator was asked to act as a number that belongs to a real contact."""


def simulated(conn: sqlite3.Connection, phone: str) -> Contact:
    """The simulated contact for a number, created and flagged on first use; RealContact if
    the number already belongs to a real person (the simulator never acts as one)."""
    now = iso(utcnow())
    conn.execute(
        "INSERT INTO contacts (phone, simulated, created_at, updated_at) VALUES (?, 1, ?, ?)"
        " ON CONFLICT (phone) DO NOTHING", (phone, now, now))
    contact = find(conn, phone)
    assert contact is not None  # inserted or already there, in this transaction
    if not contact.simulated:
        raise RealContact(phone)
    return contact


def is_simulated(conn: sqlite3.Connection, contact_id: int | None) -> bool:
    """Whether a contact is a simulated one (False for None or a contact not found)."""
    row = conn.execute("SELECT simulated FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    return bool(row and row[0])


def get_or_create(conn: sqlite3.Connection, phone: str) -> Contact:
    """Return the contact for an E.164 number, creating it on first sight.

    One statement for a number seen before (the usual case), two for a new one.
    """
    row = conn.execute(f"SELECT {COLUMNS} FROM contacts WHERE phone = ?", (phone,)).fetchone()
    if row is not None:
        return from_row(row)
    return create(conn, phone) or from_row(
        # outside a write transaction another connection may have been quicker
        conn.execute(f"SELECT {COLUMNS} FROM contacts WHERE phone = ?", (phone,)).fetchone())


def create(conn: sqlite3.Connection, phone: str) -> Contact | None:
    """Add a contact for a number not seen before; None if the number already has one."""
    now = iso(utcnow())
    row = conn.execute(
        "INSERT INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)"
        f" ON CONFLICT (phone) DO NOTHING RETURNING {COLUMNS}",
        (phone, now, now),
    ).fetchone()
    return from_row(row) if row is not None else None


def find(conn: sqlite3.Connection, phone: str) -> Contact | None:
    """The contact for an E.164 number, or None."""
    row = conn.execute(f"SELECT {COLUMNS} FROM contacts WHERE phone = ?", (phone,)).fetchone()
    return from_row(row) if row else None


def set_opted_out(conn: sqlite3.Connection, contact_id: int, *, source: str) -> None:
    """Block every further message to this contact except the opt-out confirmation."""
    now = iso(utcnow())
    conn.execute(
        "UPDATE contacts SET opted_out = 1, opted_out_at = ?, opt_out_source = ?, updated_at = ?"
        " WHERE id = ? AND opted_out = 0",
        (now, source, now, contact_id),
    )


def set_opted_in(conn: sqlite3.Connection, contact_id: int) -> None:
    """Allow messages to this contact again (a request to be forgotten is withdrawn)."""
    conn.execute(
        "UPDATE contacts SET opted_out = 0, opted_out_at = NULL, opt_out_source = NULL,"
        " forget_requested_at = NULL, updated_at = ? WHERE id = ?",
        (iso(utcnow()), contact_id),
    )


def opt_out_number(conn: sqlite3.Connection, phone: str, *, source: str) -> None:
    """Opt out a number a provider reported as blocked (creating the contact if needed)."""
    contact = get_or_create(conn, phone)
    set_opted_out(conn, contact.id, source=source)


def set_language(conn: sqlite3.Connection, contact_id: int, language: str) -> None:
    """Remember the language a contact reads."""
    conn.execute(
        "UPDATE contacts SET language = ?, updated_at = ? WHERE id = ?",
        (language, iso(utcnow()), contact_id),
    )


def home_market(conn: sqlite3.Connection, contact_id: int) -> int | None:
    """The id of the market a contact registered with REG, if any."""
    row = conn.execute("SELECT home_market_id FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    return None if row is None else row[0]


def set_home_market(conn: sqlite3.Connection, contact_id: int, market_id: int) -> None:
    """Remember a contact's home market."""
    conn.execute("UPDATE contacts SET home_market_id = ?, updated_at = ? WHERE id = ?",
                 (market_id, iso(utcnow()), contact_id))


def opted_out_among(conn: sqlite3.Connection, phones: list[str]) -> set[str]:
    """Which of these E.164 numbers belong to contacts who have opted out."""
    if not phones:
        return set()
    marks = ",".join("?" * len(phones))
    return {row[0] for row in conn.execute(
        f"SELECT phone FROM contacts WHERE opted_out = 1 AND phone IN ({marks})", phones)}


def by_id(conn: sqlite3.Connection, contact_id: int) -> Contact | None:
    """The contact with this id, or None."""
    row = conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    return from_row(row) if row else None
